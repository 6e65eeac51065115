"""``gradfit fit DATA.csv --target COLUMN``: answers against NumPy / scikit-learn on CSV files
written here, the streaming path against the in-memory one, and one-line errors (file, line,
column) for malformed files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_util import assert_one_line_error, run_cli, run_subprocess

JSON_KEYS = {"coef", "intercept", "r2", "solver", "converged", "n_iter", "n_rows", "n_dropped",
             "seconds"}


def make_data(m=100, n=3, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * rng.uniform(0.5, 3, n) + rng.uniform(-5, 5, n)
    y = X @ rng.standard_normal(n) + 4.0 + noise * rng.standard_normal(m)
    return X, y


def write_csv(path, names, columns, delimiter=","):
    """Columns of floats under a header, with repr so the file holds the exact doubles."""
    rows = np.column_stack(columns).tolist()
    with open(path, "w") as f:
        f.write(delimiter.join(names) + "\n")
        f.write("".join(delimiter.join(map(repr, row)) + "\n" for row in rows))
    return path


def fit_json(tmp_path, data, *args, name="out.json"):
    """Run ``fit`` with --json, check success and the JSON's shape; returns (json, stdout)."""
    out_json = tmp_path / name
    status, out, err = run_cli("fit", data, *args, "--json", out_json)
    assert status == 0, err
    assert "Traceback" not in err
    with open(out_json) as f:
        result = json.load(f, parse_constant=_reject_constant)
    assert set(result) == JSON_KEYS
    assert isinstance(result["coef"], dict)
    assert isinstance(result["solver"], str) and result["solver"]
    assert isinstance(result["n_iter"], int) and result["n_iter"] >= 0
    assert isinstance(result["converged"], bool)
    assert isinstance(result["n_rows"], int) and result["n_rows"] > 0
    assert isinstance(result["seconds"], float) and result["seconds"] >= 0
    assert all(isinstance(v, float) for v in result["coef"].values())
    assert isinstance(result["intercept"], float) and isinstance(result["r2"], float)
    return result, out


def _reject_constant(name):
    raise ValueError(f"not valid JSON: {name}")


def coef_vector(result, features):
    assert list(result["coef"]) == list(features)  # column order kept
    return np.array([result["coef"][f] for f in features])


def lstsq(X, y, intercept=True):
    A = np.column_stack([X, np.ones(len(y))]) if intercept else X
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    return (sol[:-1], sol[-1]) if intercept else (sol, 0.0)


def assert_rel(actual, expected, rtol):
    actual, expected = np.atleast_1d(actual), np.atleast_1d(expected)
    err = np.linalg.norm(actual - expected) / np.linalg.norm(expected)
    assert err <= rtol, (err, actual, expected)


def r2_numpy(y, pred):
    return 1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)


# ------------------------------------------------------------------------- correct answers

@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_fit_matches_lstsq_with_target_anywhere(tmp_path, position):
    X, y = make_data(n=4)
    features = ["x1", "x2", "x3", "x4"]
    at = {"first": 0, "middle": 2, "last": 4}[position]
    names = features[:at] + ["price"] + features[at:]
    columns = [X[:, j] for j in range(at)] + [y] + [X[:, j] for j in range(at, 4)]
    path = write_csv(tmp_path / "d.csv", names, columns)

    result, out = fit_json(tmp_path, path, "--target", "price")
    coef = coef_vector(result, features)
    ref_coef, ref_b = lstsq(X, y)
    assert_rel(coef, ref_coef, 1e-8)
    assert_rel(result["intercept"], ref_b, 1e-8)

    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    pred = X @ ref_coef + ref_b
    assert result["r2"] == pytest.approx(sklearn_metrics.r2_score(y, pred), rel=1e-10)
    assert result["r2"] == pytest.approx(r2_numpy(y, pred), rel=1e-10)
    assert result["solver"] == "cholesky" and result["n_iter"] == 0

    # the printed report: the same numbers, by column name
    assert "target 'price', 4 features" in out
    for name in features:
        line = next(line for line in out.splitlines() if line.split()[:1] == [name])
        assert float(line.split()[1]) == pytest.approx(result["coef"][name], rel=1e-9)
    line = next(line for line in out.splitlines() if line.strip().startswith("(intercept)"))
    assert float(line.split()[1]) == pytest.approx(result["intercept"], rel=1e-9)
    assert f"R² {result['r2']:.6f}" in out


def test_fit_no_intercept(tmp_path):
    X, y = make_data()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], [X[:, 0], X[:, 1], X[:, 2], y])
    result, _ = fit_json(tmp_path, path, "--target", "y", "--no-intercept")
    coef = coef_vector(result, ["a", "b", "c"])
    ref_coef, _ = lstsq(X, y, intercept=False)
    assert_rel(coef, ref_coef, 1e-8)
    assert result["intercept"] == 0.0
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    assert result["r2"] == pytest.approx(sklearn_metrics.r2_score(y, X @ ref_coef), rel=1e-10)


def ridge_closed_form(X, y, l2):
    m, n = X.shape
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc + m * l2 * np.eye(n), Xc.T @ yc)
    return w, y.mean() - X.mean(axis=0) @ w


@pytest.mark.parametrize("l2", [0.1, 2.0])
def test_fit_l2_matches_closed_form(tmp_path, l2):
    X, y = make_data()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], [X[:, 0], X[:, 1], X[:, 2], y])
    result, _ = fit_json(tmp_path, path, "--target", "y", "--l2", l2)
    w, b = ridge_closed_form(X, y, l2)
    assert_rel(coef_vector(result, ["a", "b", "c"]), w, 1e-8)
    assert_rel(result["intercept"], b, 1e-8)
    assert result["r2"] == pytest.approx(r2_numpy(y, X @ w + b), rel=1e-9)


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_fit_gradient_descent_bb_close_to_exact(tmp_path, l2):
    X, y = make_data()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], [X[:, 0], X[:, 1], X[:, 2], y])
    result, _ = fit_json(tmp_path, path, "--target", "y", "--solver", "gd", "--step", "bb",
                         "--l2", l2)
    w, b = ridge_closed_form(X, y, l2)
    assert_rel(coef_vector(result, ["a", "b", "c"]), w, 1e-4)
    assert_rel(result["intercept"], b, 1e-4)
    assert result["solver"] == "gradient_descent"
    assert result["n_iter"] > 0
    assert result["r2"] == pytest.approx(r2_numpy(y, X @ w + b), rel=1e-6)


def test_fit_step_with_cholesky_is_a_user_error(tmp_path):
    X, y = make_data()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], [X[:, 0], X[:, 1], X[:, 2], y])
    status, _, err = run_cli("fit", path, "--target", "y", "--solver", "cholesky",
                             "--step", "bb")
    assert_one_line_error(status, err, "fit", "--step")


@pytest.mark.parametrize("args", [(), ("--l2", "0.1"), ("--no-intercept",),
                                  ("--solver", "cholesky")])
@pytest.mark.parametrize("chunk", [7, 25, 100, 1000])
def test_streaming_equals_in_memory(tmp_path, args, chunk):
    X, y = make_data(m=103)
    path = write_csv(tmp_path / "d.csv", ["a", "y", "b", "c"], [X[:, 0], y, X[:, 1], X[:, 2]])
    memory, _ = fit_json(tmp_path, path, "--target", "y", *args, name="memory.json")
    stream, _ = fit_json(tmp_path, path, "--target", "y", "--chunk-rows", chunk, *args,
                         name="stream.json")
    features = ["a", "b", "c"]
    assert_rel(coef_vector(stream, features), coef_vector(memory, features), 1e-10)
    assert stream["intercept"] == pytest.approx(memory["intercept"], rel=1e-10, abs=1e-12)
    assert stream["r2"] == pytest.approx(memory["r2"], rel=1e-10)


@pytest.mark.parametrize("args", [("--solver", "gd"), ("--l1", "0.1"), ("--step", "bb"),
                                  ("--max-iter", "5"), ("--learning-rate", "0.1")])
def test_streaming_rejects_what_it_cannot_do(tmp_path, args):
    X, y = make_data()
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], [X[:, 0], X[:, 1], X[:, 2], y])
    status, _, err = run_cli("fit", path, "--target", "y", "--chunk-rows", 10, *args)
    assert_one_line_error(status, err, "fit")


def test_other_delimiter_crlf_and_bom(tmp_path):
    X, y = make_data(m=30)
    path = tmp_path / "excel.csv"
    lines = ['"a";"b";"c";"y"'] + [";".join(map(repr, row))
                                   for row in np.column_stack([X, y]).tolist()]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    ref_coef, ref_b = lstsq(X, y)
    for extra in ((), ("--chunk-rows", 4)):
        result, _ = fit_json(tmp_path, path, "--target", "y", "--delimiter", ";", *extra)
        assert_rel(coef_vector(result, ["a", "b", "c"]), ref_coef, 1e-8)
        assert_rel(result["intercept"], ref_b, 1e-8)


def test_large_file_parses_and_fits(tmp_path):
    rng = np.random.default_rng(7)
    m = 200_000
    X = rng.standard_normal((m, 4)) + [10.0, -3.0, 0.0, 100.0]
    y = X @ [1.5, -2.0, 0.25, 0.01] + 3.0 + 0.5 * rng.standard_normal(m)
    path = write_csv(tmp_path / "big.csv", ["a", "b", "c", "d", "y"],
                     [X[:, 0], X[:, 1], X[:, 2], X[:, 3], y])
    result, _ = fit_json(tmp_path, path, "--target", "y")
    ref_coef, ref_b = lstsq(X, y)
    assert_rel(coef_vector(result, ["a", "b", "c", "d"]), ref_coef, 1e-8)
    assert_rel(result["intercept"], ref_b, 1e-8)
    assert result["r2"] == pytest.approx(r2_numpy(y, X @ ref_coef + ref_b), rel=1e-10)


def test_constant_target_json_is_valid(tmp_path):
    """R² is undefined for a constant target; --json must still write valid JSON (no bare
    NaN, which strict parsers such as jq or JavaScript's JSON.parse reject)."""
    path = tmp_path / "const.csv"
    path.write_text("x,y\n1,3\n2,3\n4,3\n")
    fit_json(tmp_path, path, "--target", "y")


def test_duplicate_column_names_do_not_lose_coefficients(tmp_path):
    """Two columns named 'a': the JSON's coef object (name -> value) cannot hold both, so
    the command must either refuse the file (status 2, one line) or keep every coefficient;
    it silently dropped one."""
    path = tmp_path / "dup.csv"
    path.write_text("a,a,y\n1,2,3\n2,3,5\n3,1,4\n4,4,9\n")
    out_json = tmp_path / "dup.json"
    status, out, err = run_cli("fit", path, "--target", "y", "--json", out_json)
    if status == 2:
        assert_one_line_error(status, err, "fit", "a")
    else:
        assert status == 0, err
        assert len(json.loads(out_json.read_text())["coef"]) == 2


# ----------------------------------------------------------------------- malformed files

HEADER = "x1,x2,y\n"
GOOD = ["1,2,3.5\n", "2,3,5.25\n", "3,1,4\n", "4,4,9\n", "5,2,7.5\n"]


def _lines(*rows):
    return HEADER + "".join(rows)


# (id, file contents, --target, fragments the message must contain: line, column, ...)
MALFORMED = [
    ("non-numeric", _lines(*GOOD[:3], "4,abc,9\n", *GOOD[4:]), "y", [":5:", "'x2'", "abc"]),
    ("non-numeric-first-column", _lines(*GOOD[:1], "x,2,3\n"), "y", [":3:", "'x1'"]),
    ("empty-field", _lines(*GOOD[:2], "3,,4\n"), "y", [":4:", "'x2'", "missing", "--dropna"]),
    ("too-few-fields", _lines(*GOOD[:2], "3,1\n", *GOOD[3:]), "y", [":4:", "ragged"]),
    ("too-many-fields", _lines(*GOOD[:2], "3,1,4,5\n", *GOOD[3:]), "y", [":4:", "ragged"]),
    ("nan", _lines(GOOD[0], "2,nan,5\n", *GOOD[2:]), "y", [":3:", "'x2'", "--dropna"]),
    ("inf", _lines(*GOOD[:4], "5,2,inf\n"), "y", [":6:", "'y'", "finite"]),
    ("minus-inf", _lines("-inf,2,3\n", *GOOD[1:]), "y", [":2:", "'x1'", "finite"]),
    ("overflow", _lines(*GOOD[:3], "1e999,1,1\n"), "y", [":5:", "'x1'", "finite"]),
    ("missing-target", _lines(*GOOD), "price", [":1:", "'price'", "x1, x2, y"]),
    ("empty-file", "", "y", ["empty"]),
    ("blank-first-line", "\n" + _lines(*GOOD), "y", []),
    ("header-only", HEADER, "y", ["no data"]),
    ("header-and-blank-lines", HEADER + "\n\n", "y", ["no data"]),
    ("target-only-column", "y\n1\n2\n3\n", "y", ["no feature columns"]),
    ("unnamed-column", "x1,,y\n1,2,3\n", "y", [":1:", "column 2"]),
    # a blank line before the bad value: line numbers count every line of the file
    ("blank-line-then-text", _lines(*GOOD[:2], "\n", "3,abc,4\n"), "y", [":5:", "'x2'"]),
    ("blank-line-then-nan", _lines(*GOOD[:2], "\n", "3,nan,4\n"), "y", [":5:", "'x2'",
                                                                          "--dropna"]),
    # Python's float() accepts '1_000', NumPy's reader does not: still a line and a column
    ("underscore-number", _lines(*GOOD[:2], "3,1_000,4\n"), "y", [":4:", "'x2'"]),
]


@pytest.mark.parametrize("pandas", [True, False], ids=["pandas", "csv-module"])
@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_file_one_line_error(tmp_path, case, stream, pandas, monkeypatch):
    if not pandas:
        from gradfit.cli import _table
        monkeypatch.setattr(_table, "_use_pandas", lambda: False)
    name, text, target, fragments = case
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    extra = ("--chunk-rows", 2) if stream else ()
    status, out, err = run_cli("fit", path, "--target", target, *extra)
    assert_one_line_error(status, err, "fit", str(path), *fragments)


def test_nonexistent_file(tmp_path):
    path = tmp_path / "nope.csv"
    status, _, err = run_cli("fit", path, "--target", "y")
    assert_one_line_error(status, err, "fit", str(path), "cannot read")


def test_directory_instead_of_file(tmp_path):
    status, _, err = run_cli("fit", tmp_path, "--target", "y")
    assert_one_line_error(status, err, "fit", str(tmp_path))


def test_json_to_unwritable_path(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["x", "y"], [np.arange(5.0), np.arange(5.0) ** 2])
    status, out, err = run_cli("fit", path, "--target", "y", "--json",
                               tmp_path / "no" / "dir" / "o.json")
    assert_one_line_error(status, err, "fit", "cannot write")


@pytest.mark.parametrize("stream", [False, True], ids=["memory", "stream"])
def test_non_utf8_byte_deep_in_the_file(tmp_path, stream):
    """A Latin-1 byte after the reader's first buffer (8 KiB): one line, no traceback."""
    path = tmp_path / "latin1.csv"
    body = "".join(f"{i},{i % 7},{2 * i + 1}\n" for i in range(2000))
    path.write_bytes(HEADER.encode() + body.encode() + b"4,\xe9,2\n")
    extra = ("--chunk-rows", 500) if stream else ()
    status, _, err = run_cli("fit", path, "--target", "y", *extra)
    assert_one_line_error(status, err, "fit", str(path))


def test_empty_delimiter_is_a_user_error(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["x", "y"], [np.arange(5.0), np.arange(5.0) ** 2])
    status, _, err = run_cli("fit", path, "--target", "y", "--delimiter", "")
    assert "Traceback" not in err, err
    assert status == 2


def test_missing_target_option_exits_2(tmp_path):
    status, _, err = run_cli("fit", tmp_path / "d.csv")
    assert status == 2
    assert "--target" in err and "Traceback" not in err


# ------------------------------------------- the same errors, as a user sees them (child)

@pytest.mark.parametrize("text, fragments", [
    (_lines(*GOOD[:3], "4,abc,9\n"), [":5:", "'x2'", "abc"]),
    (HEADER, ["no data"]),
], ids=["non-numeric", "header-only"])
def test_subprocess_error_is_one_line_without_traceback(tmp_path, text, fragments):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    proc = run_subprocess("fit", path, "--target", "y")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert_one_line_error(proc.returncode, proc.stderr, "fit", str(path), *fragments)
    assert proc.stdout == ""


def test_subprocess_nonexistent_file(tmp_path):
    path = tmp_path / "nope.csv"
    proc = run_subprocess("fit", path, "--target", "y")
    assert_one_line_error(proc.returncode, proc.stderr, "fit", str(path))


def test_subprocess_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.csv"
    body = "".join(f"{i},{i % 7},{2 * i + 1}\n" for i in range(2000))
    path.write_bytes(HEADER.encode() + body.encode() + b"4,\xe9,2\n")
    proc = run_subprocess("fit", path, "--target", "y")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert_one_line_error(proc.returncode, proc.stderr, "fit", str(path))
