"""``gradfit fit`` and ``gradfit predict`` on CSV files written by pandas from real data sets
bundled with statsmodels and scikit-learn (raw units, text columns, dates, missing cells),
against statsmodels' OLS: ``--categorical`` against a formula with ``C(col)``, ``--dropna``
against ``missing="drop"``. Both readers run: pandas' and the csv module's (pandas absent).
Also: RFC 4180 quoting, the byte-order mark, comment-like cells, save -> predict, the
iterative options and their messages, exit statuses, JSON on standard output, pipes."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from sklearn.datasets import load_diabetes

from cli_util import assert_one_line_error, run_cli, run_subprocess
from gradfit.cli import _table, fitcsv

RTOL = 1e-8


@pytest.fixture(params=["pandas", "csv-module"])
def engine(request, monkeypatch):
    """Every test using it runs with pandas' reader and with the csv module's."""
    if request.param == "csv-module":
        monkeypatch.setattr(_table, "_use_pandas", lambda: False)
    return request.param


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The real data sets as pandas writes them (index=False)."""
    d = tmp_path_factory.mktemp("real")
    out = {}
    grunfeld = sm.datasets.grunfeld.load_pandas().data
    grunfeld.to_csv(d / "grunfeld.csv", index=False)
    out["grunfeld"] = (d / "grunfeld.csv", grunfeld)
    # get_dummies writes True/False (pandas >= 2)
    dummies = pd.get_dummies(grunfeld, columns=["firm"], drop_first=True)
    dummies.to_csv(d / "dummies.csv", index=False)
    out["dummies"] = (d / "dummies.csv", dummies)
    # fertility: text columns (quoted names with commas: "Korea, Rep.") and missing cells
    fertility = sm.datasets.fertility.load_pandas().data
    fertility.to_csv(d / "fertility.csv", index=False)
    out["fertility"] = (d / "fertility.csv", fertility)
    # macrodata with a date column in front
    macro = sm.datasets.macrodata.load_pandas().data
    month = ((macro["quarter"] - 1) * 3 + 1).astype(int)
    macro.insert(0, "date", pd.to_datetime(dict(year=macro["year"].astype(int), month=month,
                                                day=1)))
    macro.to_csv(d / "macro.csv", index=False)
    out["macro"] = (d / "macro.csv", macro)
    # vega's cars: a text column, a date, a category and missing cells (the README's example)
    from vega_datasets import data as vega
    cars = pd.read_json(vega.cars.filepath)
    cars.to_csv(d / "cars.csv", index=False)
    out["cars"] = (d / "cars.csv", cars)
    diabetes = load_diabetes(as_frame=True).frame
    diabetes.to_csv(d / "diabetes.csv", index=False)
    out["diabetes"] = (d / "diabetes.csv", diabetes)
    return out


def fit(*argv):
    """``gradfit fit ... --json -``: (parsed JSON, stderr)."""
    status, out, err = run_cli("fit", *argv, "--json", "-")
    assert status == 0, err
    return json.loads(out), err


def assert_close(actual: dict, expected: dict, rtol=RTOL):
    """Coefficients by name (any order); the relative error of the vector."""
    assert set(actual) == set(expected)
    a = np.array(list(actual.values()))
    e = np.array([expected[k] for k in actual])
    err = np.linalg.norm(a - e) / np.linalg.norm(e)
    assert err <= rtol, (err, actual, expected)


def sm_coef(res, rename=lambda name: name):
    params = res.params.drop("Intercept" if "Intercept" in res.params else "const")
    return {rename(k): float(v) for k, v in params.items()}, \
        float(res.params.get("Intercept", res.params.get("const")))


def c_name(name: str) -> str:
    """statsmodels' 'C(firm)[T.IBM]' as the command line names it: 'firm=IBM'."""
    if name.startswith("C("):
        col, level = name[2:].split(")[T.", 1)
        return f"{col}={level[:-1]}"
    return name


# --------------------------------------------------------------- against statsmodels

def test_grunfeld_categorical_against_formula(files, engine):
    path, data = files["grunfeld"]
    result, err = fit(path, "--target", "invest", "--categorical", "firm")
    ref = smf.ols("invest ~ value + capital + C(firm) + year", data).fit()
    coef, b = sm_coef(ref, c_name)
    order = ["value", "capital"] + [k for k in coef if k.startswith("firm=")] + ["year"]
    assert_close(result["coef"], {k: coef[k] for k in order})
    assert result["intercept"] == pytest.approx(b, rel=RTOL)
    assert result["r2"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert "firm=American Steel" not in result["coef"]  # first level: the baseline
    assert result["solver"] == "cholesky" and result["converged"] is True
    assert err == ""


def test_grunfeld_categorical_streamed_against_formula(files, engine):
    """--chunk-rows: NormalAccumulator over chunks, levels from a first pass."""
    path, data = files["grunfeld"]
    result, _ = fit(path, "--target", "invest", "--categorical", "firm", "--drop", "year",
                    "--chunk-rows", 17)
    coef, b = sm_coef(smf.ols("invest ~ value + capital + C(firm)", data).fit(), c_name)
    assert_close(result["coef"], coef)
    assert result["intercept"] == pytest.approx(b, rel=RTOL)


def test_grunfeld_categorical_without_intercept_keeps_every_level(files):
    path, data = files["grunfeld"]
    result, _ = fit(path, "--target", "invest", "--categorical", "firm", "--drop", "year",
                    "--no-intercept")
    ref = smf.ols("invest ~ value + capital + C(firm) - 1", data).fit()
    expected = {("firm=" + k[8:-1] if k.startswith("C(firm)[") else k): float(v)
                for k, v in ref.params.items()}
    order = ["value", "capital"] + sorted(k for k in expected if k.startswith("firm="))
    assert_close(result["coef"], {k: expected[k] for k in order})


def test_get_dummies_true_false_read_as_1_0(files, engine):
    path, data = files["dummies"]
    assert "True" in path.read_text()
    result, _ = fit(path, "--target", "invest")
    ref = smf.ols("invest ~ value + capital + C(firm) + year",
                  sm.datasets.grunfeld.load_pandas().data).fit()
    coef, b = sm_coef(ref, lambda k: "firm_" + k[10:-1] if k.startswith("C(") else k)
    assert_close(result["coef"], {k: coef[k] for k in result["coef"]})
    assert set(result["coef"]) == set(coef)
    assert result["intercept"] == pytest.approx(b, rel=RTOL)


def test_true_false_in_any_case(tmp_path, engine):
    rng = np.random.default_rng(3)
    flag = rng.random(40) < 0.5
    x = rng.standard_normal(40)
    y = 2 * x + 3 * flag + 1 + 0.1 * rng.standard_normal(40)
    words = [("TRUE", "false"), ("tRuE", "False"), ("true", "FALSE")]
    cells = [words[i % 3][0 if f else 1] for i, f in enumerate(flag)]
    path = tmp_path / "bools.csv"
    pd.DataFrame({"x": x, "flag": cells, "y": y}).to_csv(path, index=False)
    result, _ = fit(path, "--target", "y")
    ref = sm.OLS(y, sm.add_constant(np.column_stack([x, flag.astype(float)]))).fit()
    assert_close(result["coef"], {"x": ref.params[1], "flag": ref.params[2]})


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
def test_fertility_dropna_against_missing_drop(files, engine, stream):
    path, data = files["fertility"]
    features, target = ["1970", "1990", "2010"], "2011"
    extra = ("--chunk-rows", 40) if stream else ()
    result, _ = fit(path, "--target", target, "--columns", ",".join(features), "--dropna",
                    *extra)
    ref = sm.OLS(data[target], sm.add_constant(data[features]), missing="drop").fit()
    coef, b = sm_coef(ref)
    assert_close(result["coef"], coef)
    assert result["intercept"] == pytest.approx(b, rel=RTOL)
    assert result["r2"] == pytest.approx(ref.rsquared, rel=1e-9)
    used = data[features + [target]]
    assert result["n_rows"] == int(ref.nobs) == int(used.notna().all(axis=1).sum())
    assert result["n_dropped"] == len(data) - result["n_rows"] > 0


def test_fertility_missing_cell_names_line_and_suggests_dropna(files, engine):
    path, data = files["fertility"]
    status, _, err = run_cli("fit", path, "--target", "2011", "--columns", "1970,1990,2010")
    first = int(np.flatnonzero(data[["1970", "1990", "2010", "2011"]].isna().any(axis=1))[0])
    column = next(c for c in ["1970", "1990", "2010", "2011"] if pd.isna(data[c][first]))
    assert_one_line_error(status, err, "fit", f"{path}:{first + 2}:", f"column {column!r}",
                          "missing", "--dropna")


def test_fertility_text_column_names_line_and_suggests_drop_or_categorical(files, engine):
    path, _ = files["fertility"]
    status, _, err = run_cli("fit", path, "--target", "2011", "--dropna")
    assert_one_line_error(status, err, "fit", f"{path}:2:", "column 'Country Name'", "'Aruba'",
                          "--drop Country Name", "--categorical Country Name")


def test_macro_date_column_dropped_and_numeric_levels(files, engine):
    """A date column (text) left out with --drop; --categorical on a numeric column
    (quarter 1.0 ... 4.0) against C(quarter): levels in numeric order."""
    path, data = files["macro"]
    status, _, err = run_cli("fit", path, "--target", "realinv")
    assert_one_line_error(status, err, "fit", f"{path}:2:", "column 'date'", "--drop date")
    result, _ = fit(path, "--target", "realinv", "--columns", "realgdp,realcons,quarter,cpi",
                    "--categorical", "quarter")
    ref = smf.ols("realinv ~ realgdp + realcons + C(quarter) + cpi", data).fit()
    coef, b = sm_coef(ref, c_name)
    assert list(result["coef"]) == ["realgdp", "realcons", "quarter=2.0", "quarter=3.0",
                                    "quarter=4.0", "cpi"]
    assert_close(result["coef"], {k: coef[k] for k in result["coef"]})
    assert result["intercept"] == pytest.approx(b, rel=RTOL)


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
def test_cars_categorical_and_dropna_against_formula(files, engine, stream):
    """The README's example: --categorical against C(Origin), --dropna against
    missing="drop", together."""
    path, data = files["cars"]
    extra = ("--chunk-rows", 50) if stream else ()
    result, _ = fit(path, "--target", "Miles_per_Gallon", "--drop", "Name,Year",
                    "--categorical", "Origin", "--dropna", *extra)
    ref = smf.ols("Miles_per_Gallon ~ Cylinders + Displacement + Horsepower + Weight_in_lbs"
                  " + Acceleration + C(Origin)", data, missing="drop").fit()
    coef, b = sm_coef(ref, c_name)
    assert_close(result["coef"], coef)
    assert list(result["coef"])[-2:] == ["Origin=Japan", "Origin=USA"]
    assert result["intercept"] == pytest.approx(b, rel=RTOL)
    assert result["r2"] == pytest.approx(ref.rsquared, rel=1e-10)
    assert result["n_rows"] == int(ref.nobs) and result["n_dropped"] == len(data) - ref.nobs


def test_diabetes_against_ols_and_columns_order(files, engine):
    path, data = files["diabetes"]
    result, _ = fit(path, "--target", "target")
    features = [c for c in data.columns if c != "target"]
    coef, b = sm_coef(sm.OLS(data["target"], sm.add_constant(data[features])).fit())
    assert_close(result["coef"], coef)
    assert result["intercept"] == pytest.approx(b, rel=RTOL)
    # --columns: only those, in the order given; --drop leaves one out
    result, _ = fit(path, "--target", "target", "--columns", "s5,bmi", "--columns", "bp")
    coef, _ = sm_coef(sm.OLS(data["target"], sm.add_constant(data[["s5", "bmi", "bp"]])).fit())
    assert_close(result["coef"], coef)
    result, _ = fit(path, "--target", "target", "--drop", "sex,s1")
    kept = [c for c in features if c not in ("sex", "s1")]
    coef, _ = sm_coef(sm.OLS(data["target"], sm.add_constant(data[kept])).fit())
    assert_close(result["coef"], coef)


def test_readers_agree_bit_for_bit(files, monkeypatch):
    """pandas' reader and the csv module's give the same numbers (both correctly rounded)."""
    path, _ = files["fertility"]
    args = ("--target", "2011", "--columns", "1960,1975,1990,2005,2010", "--dropna")
    with_pandas, _ = fit(path, *args)
    monkeypatch.setattr(_table, "_use_pandas", lambda: False)
    without, _ = fit(path, *args)
    assert with_pandas["coef"] == without["coef"]
    assert with_pandas["intercept"] == without["intercept"]


# ------------------------------------------------------------------------- save, predict

def test_save_then_predict_round_trip(files, tmp_path, engine):
    path, data = files["grunfeld"]
    model_path = tmp_path / "model.json"
    status, out, err = run_cli("fit", path, "--target", "invest", "--categorical", "firm",
                               "--drop", "year", "--save", model_path)
    assert status == 0, err
    model = json.loads(model_path.read_text())
    assert model["features"][:2] == ["value", "capital"]
    assert model["categorical"]["firm"][0] == "American Steel"
    assert len(model["categorical"]["firm"]) == 11
    assert model["dropped_columns"] == ["year"] and model["target"] == "invest"
    assert model["solver"] == "cholesky" and model["settings"]["fit_intercept"] is True
    import gradfit
    assert model["gradfit_version"] == gradfit.__version__
    ref = smf.ols("invest ~ value + capital + C(firm)", data).fit()

    # to stdout: every input field as it was, then the prediction
    status, out, err = run_cli("predict", model_path, path)
    assert status == 0 and err == ""
    lines = out.splitlines()
    original = path.read_text().splitlines()
    assert lines[0] == original[0] + ",prediction"
    assert all(line.startswith(orig + ",")
               for line, orig in zip(lines[1:], original[1:], strict=True))
    pred = pd.read_csv(io.StringIO(out))["prediction"].to_numpy()
    fitted = ref.fittedvalues.to_numpy()
    assert np.linalg.norm(pred - fitted) <= RTOL * np.linalg.norm(fitted)

    # to a file, from rows in another column order, without the target
    new = data[["firm", "capital", "value"]].iloc[::7]
    new.to_csv(tmp_path / "new.csv", index=False)
    status, _, err = run_cli("predict", model_path, tmp_path / "new.csv", "--out",
                             tmp_path / "pred.csv")
    assert status == 0, err
    got = pd.read_csv(tmp_path / "pred.csv")
    assert list(got.columns) == ["firm", "capital", "value", "prediction"]
    expected = ref.predict(new).to_numpy()
    assert np.linalg.norm(got["prediction"].to_numpy() - expected) \
        <= RTOL * np.linalg.norm(expected)


def test_predict_unseen_level_and_missing_cells(files, tmp_path, engine):
    path, data = files["grunfeld"]
    model_path = tmp_path / "model.json"
    assert run_cli("fit", path, "--target", "invest", "--categorical", "firm", "--save",
                   model_path)[0] == 0
    new = data.iloc[:4].copy()
    new.loc[2, "firm"] = "Tesla"
    new.to_csv(tmp_path / "unseen.csv", index=False)
    status, out, err = run_cli("predict", model_path, tmp_path / "unseen.csv")
    assert_one_line_error(status, err, "predict", "unseen.csv:4:", "column 'firm'", "'Tesla'",
                          "American Steel")
    new = data.iloc[:4].copy()
    new.loc[1, "value"] = np.nan
    new.to_csv(tmp_path / "missing.csv", index=False)
    status, out, err = run_cli("predict", model_path, tmp_path / "missing.csv")
    assert_one_line_error(status, err, "predict", "missing.csv:3:", "column 'value'",
                          "--dropna")
    status, out, err = run_cli("predict", model_path, tmp_path / "missing.csv", "--dropna")
    assert status == 0, err
    got = pd.read_csv(io.StringIO(out))
    assert got["year"].tolist() == [1935.0, 1937.0, 1938.0]  # the row with a gap left out


def test_predict_bad_model_files(tmp_path, files):
    path, _ = files["grunfeld"]
    (tmp_path / "not.json").write_text("{")
    (tmp_path / "other.json").write_text('{"coef": [1]}')
    for name, fragment in (("not.json", "not a JSON file"), ("other.json", "not a model"),
                           ("absent.json", "cannot read")):
        status, _, err = run_cli("predict", tmp_path / name, path)
        assert_one_line_error(status, err, "predict", fragment)
    model_path = tmp_path / "m.json"
    assert run_cli("fit", path, "--target", "invest", "--drop", "firm", "--save",
                   model_path)[0] == 0
    pd.DataFrame({"value": [1.0]}).to_csv(tmp_path / "few.csv", index=False)
    status, _, err = run_cli("predict", model_path, tmp_path / "few.csv")
    assert_one_line_error(status, err, "predict", "few.csv:1:", "'capital'")


# --------------------------------------------------------------------- the CSV format

def _fit_text(tmp_path, text: str, *args, encoding="utf-8", bom=False):
    path = tmp_path / "t.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path, run_cli("fit", path, *args, "--json", "-")


def _ref(x1, x2, y):
    return sm.OLS(np.asarray(y, float), sm.add_constant(np.column_stack([x1, x2]))).fit()


def test_hash_is_not_a_comment(tmp_path, engine):
    """The cell 6#7 is text, not 6; a row starting with # is a row."""
    path, (status, out, err) = _fit_text(tmp_path, "a,b,y\n1,2,3\n2,6#7,5\n3,1,4\n", "--target",
                                         "y")
    assert_one_line_error(status, err, "fit", f"{path}:3:", "column 'b'", "'6#7'")
    path, (status, out, err) = _fit_text(tmp_path, "a,b,y\n1,2,3\n#2,6,5\n3,1,4\n", "--target",
                                         "y")
    assert_one_line_error(status, err, "fit", f"{path}:3:", "column 'a'", "'#2'")
    text = "a,g,y\n1,#x,3\n2,#y,5\n3,#x,4.5\n4,#y,9\n5,#x,7\n"
    path, (status, out, err) = _fit_text(tmp_path, text, "--target", "y", "--categorical", "g")
    assert status == 0, err
    assert list(json.loads(out)["coef"]) == ["a", "g=#y"]


def test_quoted_fields_commas_doubled_quotes_and_line_breaks(tmp_path, engine):
    rng = np.random.default_rng(5)
    x1, x2 = rng.standard_normal(30), rng.uniform(0, 10, 30)
    group = np.array(['Smith, "Jr."', "O'Neil", 'plain'] * 10)
    y = 2 * x1 - x2 + (group == "plain") * 3 + 0.1 * rng.standard_normal(30)
    note = ["line one\nline two, with a comma"] + ["-"] * 29
    df = pd.DataFrame({"body mass, index": x1, "x2": x2, "group": group, "note": note, "y": y})
    path = tmp_path / "quoted.csv"
    df.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    text = path.read_text()
    assert '"body mass, index"' in text and '"Smith, ""Jr."""' in text
    result, _ = fit(path, "--target", "y", "--categorical", "group", "--drop", "note")
    assert list(result["coef"]) == ["body mass, index", "x2", 'group=Smith, "Jr."',
                                    "group=plain"]
    X = np.column_stack([x1, x2, group == 'Smith, "Jr."', group == "plain"]).astype(float)
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    assert_close(result["coef"], dict(zip(result["coef"], ref.params[1:], strict=True)))
    # a column name holding a comma works in the column options, taken whole
    result, _ = fit(path, "--target", "y", "--columns", "body mass, index", "--columns", "x2")
    assert list(result["coef"]) == ["body mass, index", "x2"]
    # line numbers count physical lines: the quoted line break makes row 2 end on line 3
    df["x2"] = df["x2"].astype(object)
    df.loc[1, "x2"] = "oops"
    df.to_csv(path, index=False)
    status, _, err = run_cli("fit", path, "--target", "y", "--categorical", "group", "--drop",
                             "note")
    assert_one_line_error(status, err, "fit", f"{path}:4:", "column 'x2'", "'oops'")


def test_bom_crlf_and_semicolons(tmp_path, engine):
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal(20), rng.standard_normal(20)
    y = x1 + 2 * x2 + 0.5 + 0.1 * rng.standard_normal(20)
    table = np.column_stack([x1, x2, y]).tolist()
    rows = "".join(f"{a!r};{b!r};{c!r}\r\n" for a, b, c in table)
    path, (status, out, err) = _fit_text(tmp_path, '"first";"second";"y"\r\n' + rows,
                                         "--target", "y", "--delimiter", ";", bom=True)
    assert status == 0, err
    result = json.loads(out)
    assert list(result["coef"]) == ["first", "second"]
    ref = _ref(x1, x2, y)
    assert_close(result["coef"], dict(zip(["first", "second"], ref.params[1:], strict=True)))


# ---------------------------------------------------------------- iterative options

def test_step_alone_means_gradient_descent(files):
    path, data = files["diabetes"]
    result, err = fit(path, "--target", "target", "--step", "bb", "--tol", "1e-12",
                      "--max-iter", "20000")
    assert result["solver"] == "gradient_descent" and result["converged"] is True
    features = [c for c in data.columns if c != "target"]
    coef, b = sm_coef(sm.OLS(data["target"], sm.add_constant(data[features])).fit())
    assert_close(result["coef"], coef, rtol=1e-6)
    assert err == ""


def test_batch_size_means_sgd_and_random_state_repeats(files):
    path, _ = files["diabetes"]
    args = ("--target", "target", "--batch-size", "16", "--learning-rate", "0.05",
            "--max-iter", "3")
    first, err = fit(path, *args, "--random-state", "1")
    assert first["solver"] == "sgd" and first["n_iter"] == 3 and first["converged"] is False
    assert len(err.splitlines()) == 1 and "--max-iter" in err
    again, _ = fit(path, *args, "--random-state", "1")
    other, _ = fit(path, *args, "--random-state", "2")
    assert first["coef"] == again["coef"] and first["coef"] != other["coef"]


def test_not_converged_warns_once_in_cli_terms(files):
    path, _ = files["diabetes"]
    for step in ("bb", "lipschitz", "backtracking"):
        result, err = fit(path, "--target", "target", "--step", step, "--max-iter", "3")
        assert result["converged"] is False and result["n_iter"] == 3
        lines = err.splitlines()
        assert len(lines) == 1, err
        line = lines[0]
        assert line.startswith("gradfit fit: warning:") and "--max-iter" in line
        assert f"--step {step}" not in line  # no advice to use the strategy in use
        for python in ("max_iter", "step=", "init=", "tol="):
            assert python not in line, line


def test_diverged_exits_1_in_cli_terms(files):
    path, _ = files["grunfeld"]
    status, out, err = run_cli("fit", path, "--target", "invest", "--drop", "firm",
                               "--learning-rate", "10")
    assert status == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradfit fit: error: gradient descent "
                                                   "diverged"), err
    assert "--learning-rate" in lines[0] and "--step fixed" in lines[0]
    assert "step=" not in lines[0] and "learning_rate" not in lines[0]


@pytest.mark.parametrize("args, fragments", [
    (("--max-iter", "10"), ["--max-iter", "exact"]),
    (("--solver", "cholesky", "--tol", "1e-3"), ["--tol", "--solver cholesky"]),
    (("--step", "bb", "--learning-rate", "0.1"), ["--step bb chooses its own step",
                                                  "fixed"]),
    (("--batch-size", "8", "--step", "bb"), ["--step bb", "--batch-size"]),
    (("--solver", "gd", "--batch-size", "8"), ["--batch-size", "--solver sgd"]),
    (("--step", "bb", "--random-state", "0"), ["--random-state"]),
    (("--l1", "0.1", "--step", "bb"), ["--l1", "fista"]),
    (("--solver", "cholesky", "--l1", "0.1"), ["--l1", "--solver gd"]),
    (("--drop", "nope"), ["--drop", "'nope'"]),
    (("--categorical", "invest"), ["--categorical", "target"]),
    (("--categorical", "firm", "--drop", "firm"), ["--categorical", "dropped"]),
])
def test_option_combinations_are_usage_errors(files, args, fragments):
    path, _ = files["grunfeld"]
    status, out, err = run_cli("fit", path, "--target", "invest", *args)
    line = assert_one_line_error(status, err, "fit", *fragments)
    assert "=" not in line.replace("firm=", ""), line  # no Python keyword syntax


def test_collinear_columns_warn_once_in_cli_terms(tmp_path, engine):
    """A feature that copies another: the exact solver falls back to SVD (minimum-norm
    solution) and says so in one warning line; the fit still succeeds."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal(50)
    y = 3 * a + 1 + 0.1 * rng.standard_normal(50)
    path = tmp_path / "copy.csv"
    pd.DataFrame({"a": a, "a_again": a, "y": y}).to_csv(path, index=False)
    result, err = fit(path, "--target", "y")
    assert len(err.splitlines()) == 1 and err.startswith("gradfit fit: warning:"), err
    assert "fallback=" not in err and "--l2" not in err  # the formula m*l2*I stays as is
    assert result["coef"]["a"] == pytest.approx(result["coef"]["a_again"], rel=1e-8)
    ref = sm.OLS(y, sm.add_constant(a)).fit()
    assert result["coef"]["a"] + result["coef"]["a_again"] == pytest.approx(ref.params[1],
                                                                           rel=1e-8)


def test_predict_uses_the_fitted_delimiter(tmp_path, files, engine):
    path, data = files["diabetes"]
    semi = tmp_path / "semi.csv"
    data.to_csv(semi, index=False, sep=";")
    model = tmp_path / "m.json"
    assert run_cli("fit", semi, "--target", "target", "--delimiter", ";", "--columns",
                   "bmi,bp", "--save", model)[0] == 0
    status, out, err = run_cli("predict", model, semi)
    assert status == 0, err
    assert out.splitlines()[0].endswith(";target;prediction")
    got = pd.read_csv(io.StringIO(out), sep=";")["prediction"].to_numpy()
    ref = sm.OLS(data["target"], sm.add_constant(data[["bmi", "bp"]])).fit()
    fitted = ref.fittedvalues.to_numpy()
    assert np.linalg.norm(got - fitted) <= RTOL * np.linalg.norm(fitted)


def test_auto_max_features_matches_the_estimator():
    from gradfit.estimators import AUTO_MAX_FEATURES
    assert fitcsv.AUTO_MAX_FEATURES == AUTO_MAX_FEATURES


def test_cli_terms_translates_library_wording():
    text = ("step=Fixed(learning_rate=0.5) diverged. Increase max_iter, loosen tol, resume "
            "with init=<this result>, or try step='lipschitz'; batch_size=8; solver='gd'")
    out = fitcsv.cli_terms(text)
    for python in ("max_iter", "batch_size", "init=", "step='", "solver='"):
        assert python not in out, out
    assert "--max-iter" in out and "--step lipschitz" in out and "--solver gd" in out


# ---------------------------------------------------------------- Unix manners

def test_json_to_stdout_is_only_json(files):
    path, _ = files["grunfeld"]
    status, out, err = run_cli("fit", path, "--target", "invest", "--drop", "firm", "--json",
                               "-")
    assert status == 0 and err == ""
    assert set(json.loads(out)) == {"coef", "intercept", "r2", "solver", "converged",
                                    "n_iter", "n_rows", "n_dropped", "seconds"}
    assert not (tmp := path.parent / "-").exists(), tmp


def _closed_pipe(argv) -> subprocess.CompletedProcess:
    """Run ``python -m gradfit argv`` reading three lines of its output, then closing the
    pipe, as ``| head -3`` does."""
    proc = subprocess.Popen([sys.executable, "-m", "gradfit", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    return proc.returncode, head, err


def test_closed_pipe_ends_quietly(files, tmp_path):
    path, data = files["grunfeld"]
    big = pd.concat([data] * 200)  # 44000 rows: far more than a pipe buffer of output
    big.to_csv(tmp_path / "big.csv", index=False)
    model = tmp_path / "m.json"
    assert run_cli("fit", path, "--target", "invest", "--categorical", "firm", "--save",
                   model)[0] == 0
    for argv in (("predict", model, tmp_path / "big.csv"), ("demo", "--rows", 500, "--cols", 5)):
        status, head, err = _closed_pipe(argv)
        assert err == "", err
        assert len(head) == 3 and all(head)
        assert status in (0, 141), status  # the demo may finish before the pipe closes
    status, _, _ = _closed_pipe(("predict", model, tmp_path / "big.csv"))
    assert status == 141


def test_help_imports_no_heavy_module():
    code = ("import sys\nfrom gradfit.cli import main\n"
            "for argv in (['--help'], ['fit', '--help'], ['predict', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('sklearn', 'pandas', 'matplotlib', 'statsmodels') "
            "if m in sys.modules), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_help_documents_exit_statuses():
    status, out, _ = run_cli("--help")
    assert status == 0
    for line in ("0  success", "1  the fit failed", "2  usage or data error"):
        assert line in out


def test_subprocess_exit_statuses(files, tmp_path):
    path, _ = files["grunfeld"]
    ok = run_subprocess("fit", path, "--target", "invest", "--drop", "firm")
    assert ok.returncode == 0 and ok.stderr == ""
    warned = run_subprocess("fit", path, "--target", "invest", "--drop", "firm", "--step",
                            "bb", "--max-iter", "2")
    assert warned.returncode == 0 and len(warned.stderr.splitlines()) == 1
    diverged = run_subprocess("fit", path, "--target", "invest", "--drop", "firm",
                              "--learning-rate", "10")
    assert diverged.returncode == 1 and "Traceback" not in diverged.stderr
    data_error = run_subprocess("fit", path, "--target", "invest")
    assert data_error.returncode == 2 and "--categorical firm" in data_error.stderr
    usage = run_subprocess("fit", path, "--target", "invest", "--max-iter", "0")
    assert usage.returncode == 2
