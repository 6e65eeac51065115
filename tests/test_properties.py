"""Property-based tests (hypothesis) over the public entry points.

Every outcome must be one of: a correct answer (checked against numpy.linalg.lstsq on the same
data, in float64), an honest warning (``converged=False`` with a ConvergenceWarning; an
IllConditionedWarning with the SVD answer) or a clear error (``property_cases.ALLOWED_ERRORS``,
with a message). Never a crash or a hang (every case runs in a worker process, restarted after
a crash), never a modified input, never ``converged=True`` with a wrong answer, never a
reported objective that is not the objective of the returned coefficients.

Profiles: ``ci`` (the default; derandomized, so a CI run is reproducible, and sized to keep
the file within about two minutes on a busy machine) and ``dev`` (many more examples, random):
``GRADFIT_HYPOTHESIS_PROFILE=dev python -m pytest tests/test_properties.py``. A failure prints
the case dict; ``property_cases.run_case(case)`` reproduces it in-process.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings, strategies as st

from property_cases import ALLOWED_ERRORS, Crash, Worker  # noqa: F401 (Crash: see Worker)

settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=1000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("GRADFIT_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

EPS = {"float64": np.finfo(np.float64).eps, "float32": np.finfo(np.float32).eps}
FULL_BATCH = ["fixed", "lipschitz", "exact", "backtracking", "bb", "momentum", "nesterov",
              "adagrad", "rmsprop", "adam", "invscaling", "fista"]
MINI_BATCH = ["fixed", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "invscaling"]


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def working_dtype(case) -> str:
    d = np.dtype(case.get("dtype", "float64"))
    return "float32" if d in (np.float32, np.float16) else "float64"


# ---------------------------------------------------------------------- strategies
def _exponents(lo, hi):
    """Decimal exponents of a scale: mostly moderate, sometimes anywhere in [lo, hi]."""
    return st.one_of(st.just(0), st.integers(max(lo, -15), min(hi, 15)), st.integers(lo, hi))


@st.composite
def problems(draw, max_n=5, kx=(-300, 300), ky=(-300, 300), exotic=True):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(n + 2, 40))
    dtypes = ["float64", "float32"] + (["int64", "float16", "bool"] if exotic else [])
    dtype = draw(st.sampled_from(dtypes))
    return {
        "seed": draw(st.integers(0, 2**32 - 1)), "m": m, "n": n, "dtype": dtype,
        "ydtype": draw(st.sampled_from([dtype, "float64"])),
        "layout": draw(st.sampled_from(["C", "F", "strided", "reversed", "readonly", "list"])),
        "ylayout": draw(st.sampled_from([None, "strided", "readonly", "list"])),
        # integer and bool data: scaled within their range (the cast would wrap otherwise)
        "kx": draw(_exponents(*kx) if dtype[0] == "f" else st.integers(0, 3)),
        "ky": draw(_exponents(*ky) if dtype[0] == "f" else st.integers(0, 3)),
        "col_log_scale": draw(st.lists(st.integers(-1, 1), min_size=n, max_size=n)),
        "offset": draw(st.sampled_from([0.0, 1.0, 100.0])),
        "b": draw(st.sampled_from([0.0, 1.0, -50.0])),
        "fit_intercept": draw(st.booleans()),
        "lam": draw(st.sampled_from([0.0, 0.0, 1e-3, 0.1])),
        "weights": draw(st.sampled_from([None, None, "random", "some-zero"])),
        "noise": draw(st.sampled_from([0.0, 0.01, 1.0])),
    }


def in_range(case) -> bool:
    """Scales at which every solver is expected to give the answer (no refusal): far from
    overflow and underflow of the working precision's squares."""
    limit = 100 if working_dtype(case) == "float64" else 8
    return case["dtype"] not in ("int64", "bool", "float16") \
        and abs(case["kx"]) <= limit and abs(case["ky"]) <= limit


# ---------------------------------------------------------------------- checks
def check_common(case, out):
    """No mutation; an error is an allowed type with a message; a result is finite."""
    event(f"outcome: {out['error'] or ('converged' if out.get('converged') else 'unconverged')}")
    assert not out["mutated"], f"input modified: {case}"
    if out["error"] is not None:
        assert out["error"] in ALLOWED_ERRORS, (
            f"{out['error']}: {out.get('message')}\n{out.get('traceback')}\ncase={case}")
        assert len(out["message"]) > 20, (out["message"], case)
        return False
    assert not out.get("nonfinite_result"), f"non-finite result without an error: {out} {case}"
    for w in out["warnings"]:
        assert not w.startswith("RuntimeWarning"), f"NumPy warning leaked: {w} case={case}"
    return True


def check_reported_objective(case, out, rel):
    """The reported objective is the objective of the returned coefficients."""
    if "reported_unit" not in out or not math.isfinite(out["reported_unit"]):
        return
    # f itself is computed from residuals y - X w - b: near an exact fit its rounding is
    # about eps * |y|^2, whatever f is (f of 1e-34 for a constant y)
    scale = max(out["f_start"], out["f"], EPS["float64"] * out.get("y_square", 0.0), 1e-300)
    assert abs(out["reported_unit"] - out["f"]) <= rel * scale, (
        f"reported objective {out['reported_unit']} but f(coef) = {out['f']} "
        f"(f_start {out['f_start']}) case={case}")


def assert_near_optimum(case, out, tol, claim="result"):
    """f(result) - f* <= tol * (f(start) - f*), up to the rounding of f itself (unit-scale
    float64 evaluations): the fraction of the achievable decrease left undone."""
    if out.get("subnormal"):
        event("coefficients in the subnormal range: precision not checked")
        return
    f, f_opt, f_start = out["f"], out["f_opt"], out["f_start"]
    slack = 100 * EPS["float64"] * max(f_start, f, f_opt)
    assert f - f_opt <= tol * max(f_start - f_opt, 0.0) + slack, (
        f"{claim} {f!r} against the optimum {f_opt!r} (start {f_start!r}; tolerance {tol:g} "
        f"of the decrease): case={case}\noutcome={out}")


def exact_tolerance(case, out):
    eps = EPS[working_dtype(case)]
    kappa = min(out["cond"], 1e12)
    # Cholesky on the normal equations: relative error ~ eps * kappa^2; the objective gap
    # is quadratic in it
    return max(1e-9 if eps < 1e-10 else 1e-4, (100 * eps * kappa * kappa) ** 2)


# ---------------------------------------------------------------------- properties
@given(case=problems())
def test_solve_normal(worker, case):
    case = {**case, "entry": "solve_normal"}
    out = worker.call("run_case", case)
    if not check_common(case, out):
        assert not in_range(case), (out["message"], case)
        return
    if "gap" in out:
        assert_near_optimum(case, out, exact_tolerance(case, out))
        check_reported_objective(case, out, 1e-6 if working_dtype(case) == "float64"
                                 else 1e-3)


@given(case=problems(), cuts=st.lists(st.integers(0, 40), max_size=4))
def test_normal_accumulator(worker, case, cuts):
    case = {**case, "entry": "accumulator",
            "kwargs": {"chunks": [c for c in cuts if c <= case["m"]]}}
    out = worker.call("run_case", case)
    if not check_common(case, out):
        assert not in_range(case), (out["message"], case)
        return
    if "gap" in out:
        assert_near_optimum(case, out, exact_tolerance(case, out))


@given(case=problems(max_n=4), step=st.sampled_from(FULL_BATCH),
       tol=st.sampled_from([None, 1e-8, 1e-3]), max_iter=st.sampled_from([1, 50, 2000]),
       precompute=st.sampled_from([False, True, "auto"]))
def test_gradient_descent(worker, case, step, tol, max_iter, precompute):
    case = {**case, "entry": "gradient_descent",
            "kwargs": {"step": step, "tol": tol, "max_iter": max_iter,
                       "precompute": precompute}}
    out = worker.call("run_case", case)
    if not check_common(case, out):
        return
    if "gap" not in out:
        return
    check_reported_objective(case, out, 1e-6 if working_dtype(case) == "float64" else 1e-3)
    if not out["converged"]:  # an honest warning
        assert any(w.startswith("ConvergenceWarning") for w in out["warnings"]), (out, case)


@settings(phases=(Phase.explicit, Phase.generate))  # stop at the first counterexample
@given(case=problems(max_n=4, exotic=False), step=st.sampled_from(FULL_BATCH),
       tol=st.sampled_from([None, 1e-8, 1e-3]), precompute=st.sampled_from([False, True]))
def test_gradient_descent_converged_is_correct(worker, case, step, tol, precompute):
    """converged=True: the objective within 1e-4 (float32: 1e-2) of the achievable decrease
    of the optimum (numpy.linalg.lstsq)."""
    case = {**case, "entry": "gradient_descent",
            "kwargs": {"step": step, "tol": tol, "max_iter": 2000, "precompute": precompute}}
    out = worker.call("run_case", case)
    if check_common(case, out) and "gap" in out and out["converged"]:
        tolerance = 1e-4 if working_dtype(case) == "float64" else 1e-2
        assert_near_optimum(case, out, max(tolerance, exact_tolerance(case, out)),
                            "converged=True")


@given(case=problems(max_n=4), step=st.sampled_from(MINI_BATCH),
       batch=st.integers(1, 50), max_iter=st.sampled_from([1, 5, 30]),
       average=st.sampled_from([False, True, 10]), seed=st.integers(0, 2**31))
def test_sgd(worker, case, step, batch, max_iter, average, seed):
    case = {**case, "entry": "gradient_descent",
            "kwargs": {"step": step, "batch_size": min(batch, case["m"]),
                       "max_iter": max_iter, "average": average, "random_state": seed}}
    out = worker.call("run_case", case)
    if not check_common(case, out):
        return
    if "gap" in out:
        check_reported_objective(case, out, 1e-6 if working_dtype(case) == "float64"
                                 else 1e-3)
        if out["converged"]:  # SGD's promise: the objective stopped improving near f*
            event(f"sgd converged, gap {'<= 1e-2' if out['gap'] <= 1e-2 else '> 1e-2'}")


@settings(phases=(Phase.explicit, Phase.generate))
@given(case=problems(max_n=4, exotic=False), step=st.sampled_from(MINI_BATCH),
       batch=st.integers(1, 50), average=st.sampled_from([False, True]))
def test_sgd_converged_is_correct(worker, case, step, batch, average):
    """SGD's converged=True keeps its documented promise (gradfit._certify): the objective
    within tol = 1e-3 (the default) of the optimum, relative to max(f*, 1e-6 f0)."""
    case = {**case, "entry": "gradient_descent",
            "kwargs": {"step": step, "batch_size": min(batch, case["m"]), "max_iter": 200,
                       "average": average, "random_state": 0}}
    out = worker.call("run_case", case)
    if check_common(case, out) and "gap" in out and out["converged"] \
            and not out.get("subnormal"):
        f, f_opt, f_start = out["f"], out["f_opt"], out["f_start"]
        # 2 tol: the promise is measured at the float64 iterate, coef is returned in X's dtype
        slack = 100 * EPS["float64"] * max(f_start, f, f_opt)
        assert f - f_opt <= 2e-3 * max(f_opt, 1e-6 * f_start) + slack, (
            f"SGD converged=True {f!r} against the optimum {f_opt!r} (start {f_start!r}): "
            f"case={case}\noutcome={out}")


@given(case=problems(max_n=4, exotic=False),
       solver=st.sampled_from(["auto", "cholesky", "gd", "sgd"]))
def test_estimator(worker, case, solver):
    kwargs = {"solver": solver}
    if solver == "sgd":
        kwargs["random_state"] = 0
    case = {**case, "entry": "estimator", "kwargs": kwargs}
    out = worker.call("run_case", case)
    if not check_common(case, out):
        return
    if "gap" in out and solver in ("auto", "cholesky"):
        assert_near_optimum(case, out, exact_tolerance(case, out))


# ---------------------------------------------------------------------- resume states
RESUMABLE = [("adam", 10), ("momentum", 10), ("invscaling", 10), ("fixed", 10),
             ("adam", None), ("bb", None), ("backtracking", None), ("lipschitz", None),
             ("fista", None), ("nesterov", None), ("adagrad", None), ("exact", None)]
NAN, INF = float("nan"), float("inf")
INVALID = {
    "rng": [[1, 2], [0, 0, 0, 0], (1, 2, 3, 2**64), (-1, 2, 3, 4), "abcd", (1.5, 2, 3, 4),
            [1, 2, 3, 4, 5], 7],
    "point": [np.zeros(1), np.full(4, NAN), np.array(["a"] * 4), np.zeros((2, 2)),
              np.array([]), np.full(4, INF), None, np.zeros(4, complex)],
    "vectors": [np.zeros((2, 1)), np.full((2, 4), INF), np.zeros(4), np.zeros((3, 4)), None],
    "shift": [np.zeros(7), np.full(3, NAN), np.zeros((3, 1)), "abc"],
    "average": [np.zeros(2), np.full(4, NAN)],
    "rule": [-1, 1.5, "fixed", None, True],
    "exact_shift": ["no", 2, None],
    "vector_names": [("t",), 5, ("a", "b", "c")],
    "scalars": [{"t": 1.0}, None, [1, 2], {}],
    "t": [-1.0, 1.5, NAN, INF, "3", None],
    "step_size": [-1e-3, NAN, INF],
    "lipschitz": [-1.0, NAN],
    "have_previous": [0.5, 2.0, -1.0],
    "fista_t": [0.5, -2.0],
    "averaged": [-1.0, 2.5],
    "epochs_no_improvement": [-1.0, 0.25],
    "rows_seen": [INF, -5.0],
    "objective_start": [NAN, -INF],
    "grad_norm_start": [-1.0],
    "best_objective": [NAN],
}
# Valid but extreme values (a long run, or an edit that stays in range): a result or a clear
# error, never a crash, a hang or a non-finite answer
EXTREME = {
    "t": [0.0, 2.0**60, 1e300], "step_size": [0.0, 1e-300, 1e300],
    "lipschitz": [0.0, 1e-300, 1e300], "objective_start": [0.0, 1e300],
    "grad_norm_start": [0.0, 1e300], "fista_t": [0.0, 1.0, 1e300],
    "averaged": [0.0, 2.0**60], "epochs_no_improvement": [0.0, 2.0**60],
    "rows_seen": [0.0, 1e300], "best_objective": [0.0, 1e300], "have_previous": [0.0, 1.0],
    "point": [np.full(4, 1e300), np.full(4, 1e-300)],
    "vectors": [np.full((2, 4), 1e300), np.full((2, 4), 1e-300)],
    "rng": [[1, 0, 0, 0], [2**64 - 1] * 4, None],
}


@st.composite
def corrupted(draw, table):
    step, batch = draw(st.sampled_from(RESUMABLE))
    field = draw(st.sampled_from(sorted(table)))
    index = draw(st.integers(0, len(table[field]) - 1))
    return {"seed": draw(st.integers(0, 2**16)), "step": step, "batch_size": batch,
            "fit_intercept": True, "field": field, "value": table[field][index],
            "how": draw(st.sampled_from(["replace", "forced", "pickle"]))}


def _missing_field(draw_field):
    return {"field": draw_field, "value": "<missing>", "how": "pickle"}


@given(case=corrupted(INVALID))
def test_corrupted_resume_state_is_a_clear_value_error(worker, case):
    out = worker.call("run_state_case", case)
    assert out["error"] == "ValueError", (
        f"{out['error']} at {out['stage']}: {out.get('message')}\n{out.get('traceback')}"
        f"\ncase={case}")
    assert "resume state" in out["message"] or "init" in out["message"], (out, case)


@given(case=st.builds(
    lambda s, field: {"seed": 0, "step": s[0], "batch_size": s[1], "field": field,
                      "value": "<missing>", "how": "pickle"},
    st.sampled_from(RESUMABLE),
    st.sampled_from(["point", "shift", "vectors", "scalars", "rule", "exact_shift"])))
def test_resume_state_with_a_missing_field_is_a_clear_value_error(worker, case):
    out = worker.call("run_state_case", case)
    assert out["error"] == "ValueError" and "invalid resume state" in out["message"], (
        out, case)


@given(case=corrupted(EXTREME))
def test_extreme_but_valid_resume_state_never_crashes(worker, case):
    out = worker.call("run_state_case", {**case, "how": "replace"})
    if out["error"] is not None:
        assert out["error"] in ALLOWED_ERRORS, (
            f"{out['error']}: {out.get('message')}\n{out.get('traceback')}\ncase={case}")
        return
    assert out["finite"], (out, case)
    event(f"outcome: {'converged' if out['converged'] else 'unconverged'}")


# ---------------------------------------------------------------------- special values
SPECIAL = {"nan": NAN, "inf": INF, "-inf": -INF, "-0.0": -0.0, "subnormal": 5e-324,
           "subnormal32": 1e-45, "huge": 1e308}
ENTRIES = ["solve_normal", "gradient_descent", "accumulator", "estimator"]


@given(case=problems(max_n=3, kx=(-3, 3), ky=(-3, 3), exotic=False),
       entry=st.sampled_from(ENTRIES), where=st.sampled_from(["X", "y", "sw"]),
       value=st.sampled_from(sorted(SPECIAL)), data=st.data())
def test_special_values(worker, case, entry, where, value, data):
    """NaN and infinities anywhere (X, y, weights) are a ValueError naming the array; -0.0,
    subnormals and large finite values are data like any other."""
    m, n = case["m"], case["n"]
    if where == "sw":
        case = {**case, "weights": "random"}
    row = data.draw(st.integers(0, m - 1))
    index = [row, data.draw(st.integers(0, n - 1))] if where == "X" else row
    kwargs = {"chunks": [m // 2]} if entry == "accumulator" else {}
    case = {**case, "entry": entry, "kwargs": kwargs,
            "specials": [(where, index, SPECIAL[value])]}
    out = worker.call("run_case", case)
    check_common(case, out)
    name = {"X": "X", "y": "y", "sw": "sample_weight"}[where]
    if value in ("nan", "inf", "-inf"):
        assert out["error"] == "ValueError", (out, case)
        # (the accumulator may first refuse a chunk whose weights are all zero)
        assert name in out["message"] or "Input" in out["message"] or (
            entry == "accumulator" and "sample_weight is zero" in out["message"]), (out, case)
        return
    if out["error"] is None and entry in ("solve_normal", "accumulator") and "gap" in out \
            and value in ("-0.0", "subnormal", "subnormal32"):
        assert_near_optimum(case, out, exact_tolerance(case, out))


# ---------------------------------------------------------------------- hyper-parameters
JUNK = [0, -1, 1, 2, 2**31 - 1, 2**31, 10**12, 2**64, 10**400, 0.5, -0.0, 1e-300, 1e300,
        NAN, INF, -INF, True, False, None, "3", "auto", [1], np.int64(3), np.float32(0.1),
        np.array(2), np.array([1, 2])]
PARAMS = {"gradient_descent": ["l2", "l1", "max_iter", "tol", "batch_size", "average",
                               "n_iter_no_change", "random_state", "precompute", "shuffle",
                               "fit_intercept", "step", "init"],
          "solve_normal": ["l2", "fit_intercept", "fallback"],
          "estimator": ["l2", "l1", "max_iter", "tol", "batch_size", "average",
                        "n_iter_no_change", "random_state", "precompute", "solver", "step",
                        "fit_intercept", "warm_start", "fallback", "shuffle"]}
STEP_PARAMS = {"learning_rate": ["fixed", "momentum", "adam", "rmsprop", "adagrad",
                                 "invscaling"],
               "beta": ["momentum", "nesterov"], "eps": ["adam", "rmsprop", "adagrad"],
               "max_power_iter": ["lipschitz", "fista"], "rtol": ["lipschitz", "fista"],
               "shrink": ["backtracking"], "c": ["backtracking"], "grow": ["backtracking"],
               "initial": ["backtracking"], "power": ["invscaling"], "rho": ["rmsprop"],
               "beta1": ["adam"], "beta2": ["adam"]}


@given(entry=st.sampled_from(sorted(PARAMS)), data=st.data(),
       value=st.sampled_from(range(len(JUNK))))
def test_hyper_parameters_any_value(worker, entry, data, value):
    """Any value of any parameter: the fit runs, or a clear error (never OverflowError,
    MemoryError, a crash or a hang); a result is finite."""
    param = data.draw(st.sampled_from(PARAMS[entry]))
    kwargs = {param: JUNK[value]}
    if entry == "gradient_descent" and param in ("average", "n_iter_no_change", "shuffle"):
        kwargs["batch_size"] = 8
    if entry == "gradient_descent" and "max_iter" not in kwargs:
        kwargs["max_iter"] = 200
    case = {"seed": 3, "m": 30, "n": 3, "entry": entry, "kwargs": kwargs,
            "lam": 0.0, "fit_intercept": True}
    if param in ("l2", "fit_intercept"):  # passed by the harness itself
        case["kwargs"] = {}
        if param == "l2":
            case["lam"] = JUNK[value]
        else:
            case["fit_intercept"] = JUNK[value]
    out = worker.call("run_case", case)
    check_common(case, out)


@given(param=st.sampled_from(sorted(STEP_PARAMS)), value=st.sampled_from(range(len(JUNK))),
       data=st.data())
def test_step_hyper_parameters_any_value(worker, param, value, data):
    """Any value of a strategy's hyper-parameter: a ValueError when the strategy is built, or
    a fit (maybe diverging: a DivergenceError), never another error."""
    strategy = data.draw(st.sampled_from(STEP_PARAMS[param]))
    mini = strategy not in ("lipschitz", "fista", "backtracking") and data.draw(st.booleans())
    case = {"seed": 4, "m": 30, "n": 3, "entry": "gradient_descent",
            "kwargs": {"step_spec": (param, strategy, JUNK[value]), "max_iter": 200,
                       "batch_size": 8 if mini else None}}
    out = worker.call("run_case", case)
    check_common(case, out)


# ---------------------------------------------------------------------- predict
@given(case=problems(max_n=4, kx=(-40, 40), exotic=False),
       special=st.sampled_from([None] + sorted(SPECIAL)),
       data=st.data())
def test_predict(worker, case, special, data):
    """FitResult.predict and LinearRegression.predict agree with X @ coef + b, refuse NaN and
    infinity alike, and never modify X."""
    if special is not None:
        index = [data.draw(st.integers(0, case["m"] - 1)),
                 data.draw(st.integers(0, case["n"] - 1))]
        case = {**case, "specials": [("X", index, SPECIAL[special])]}
    out = worker.call("run_predict_case", case)
    assert not out["mutated"], case
    res, est = out["result"], out["estimator"]
    # the same verdict from both (an error for a non-finite X, or for a cast that overflowed)
    assert (res["error"] is None) == (est["error"] is None), (out, case)
    for o in (res, est):
        if o["error"] is not None:
            assert o["error"] == "ValueError", (o, case)
            continue
        pred, ref = np.array(o["pred"]), np.array(o["ref"])
        assert np.isfinite(pred).all() or not np.isfinite(ref).all(), (o, case)
        scale = np.abs(ref).max() if np.isfinite(ref).all() else 1.0
        np.testing.assert_allclose(pred, ref, rtol=1e-5, atol=1e-5 * scale)
