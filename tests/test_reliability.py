"""Inputs that used to crash, hang or mislead: each gets a correct answer or a clear error.

- Masked arrays: refused with a ValueError that says what to do whenever a value is masked
  (NumPy's conversions drop the mask, so the value under it would be fitted as data), by
  every public entry point; a masked array with nothing masked is its data.
- ``FitResult.predict`` refuses NaN and infinity as ``LinearRegression.predict`` does.
- A callback's return value must be None or bool-like: anything else is a TypeError.
- ``LinearRegression.score`` checks its weights as ``fit`` does.
- Counts (max_iter, n_iter_no_change, batch_size, average, max_power_iter) outside the
  range the engine can count raise a ValueError naming the parameter and the range (never
  OverflowError, MemoryError or a silently wrong result).
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import gradfit
from gradfit import steps

M, N = 60, 3


def data(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((M, N))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0 + 0.01 * rng.standard_normal(M)
    return X.astype(dtype), y.astype(dtype)


def masked(arr, index):
    out = np.ma.masked_array(arr.copy(), mask=np.zeros(arr.shape, bool))
    out[index] = np.ma.masked
    out.data[index] = 1e6  # a value that ruins the fit if it is used
    return out


# ---------------------------------------------------------------------- masked arrays
def _entry_points():
    X, y = data()
    fitted = gradfit.LinearRegression().fit(X, y)
    result = gradfit.solve_normal(X, y)

    def acc_update(X, y, sw=None):
        return gradfit.NormalAccumulator().update(X, y, sample_weight=sw)

    return {
        "solve_normal": lambda X, y, sw=None: gradfit.solve_normal(X, y, sample_weight=sw),
        "gradient_descent": lambda X, y, sw=None: gradfit.gradient_descent(
            X, y, sample_weight=sw),
        "sgd": lambda X, y, sw=None: gradfit.gradient_descent(
            X, y, batch_size=8, max_iter=2, sample_weight=sw, random_state=0),
        "NormalAccumulator.update": acc_update,
        "LinearRegression.fit": lambda X, y, sw=None: gradfit.LinearRegression().fit(
            X, y, sample_weight=sw),
        "LinearRegression.fit-gd": lambda X, y, sw=None: gradfit.LinearRegression(
            solver="gd").fit(X, y, sample_weight=sw),
        "LinearRegression.partial_fit": lambda X, y, sw=None: gradfit.LinearRegression(
            solver="sgd").partial_fit(X, y, sample_weight=sw),
        "LinearRegression.partial_fit-cholesky": lambda X, y, sw=None: gradfit.LinearRegression(
            solver="cholesky").partial_fit(X, y, sample_weight=sw),
        "LinearRegression.score": lambda X, y, sw=None: fitted.score(X, y, sample_weight=sw),
    }, fitted, result


ENTRY_POINTS, FITTED, RESULT = _entry_points()
MASK_MESSAGE = r"masked array with \d+ masked value.*(Drop|fill)"


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("which", ["X", "y", "sample_weight"])
def test_masked_values_are_refused(entry, which):
    X, y = data()
    sw = np.ones(M)
    args = {"X": X, "y": y, "sw": sw}
    target = {"X": "X", "y": "y", "sample_weight": "sw"}[which]
    args[target] = masked(args[target], (4, 1) if which == "X" else 4)
    before = np.ma.copy(args[target])
    with pytest.raises(ValueError, match=rf"^{which} is a {MASK_MESSAGE}"):
        ENTRY_POINTS[entry](args["X"], args["y"], args["sw"])
    # the caller's masked array is untouched, mask included
    np.testing.assert_array_equal(np.ma.getdata(args[target]), np.ma.getdata(before))
    np.testing.assert_array_equal(np.ma.getmaskarray(args[target]),
                                  np.ma.getmaskarray(before))


@pytest.mark.parametrize("predict", ["LinearRegression.predict", "FitResult.predict"])
def test_masked_values_are_refused_by_predict(predict):
    X, _ = data(1)
    f = FITTED.predict if predict == "LinearRegression.predict" else RESULT.predict
    with pytest.raises(ValueError, match=rf"^X is a {MASK_MESSAGE}"):
        f(masked(X, (2, 0)))


def test_masked_init_is_refused():
    X, y = data()
    with pytest.raises(ValueError, match=rf"^init is a {MASK_MESSAGE}"):
        gradfit.gradient_descent(X, y, init=masked(np.zeros(N), 1))


@pytest.mark.parametrize("entry", ["solve_normal", "gradient_descent",
                                   "LinearRegression.fit"])
def test_masked_array_with_nothing_masked_is_its_data(entry):
    X, y = data()
    sw = np.linspace(0.5, 2.0, M)
    plain = ENTRY_POINTS[entry](X, y, sw)
    as_masked = ENTRY_POINTS[entry](np.ma.masked_array(X), np.ma.masked_array(y),
                                    np.ma.masked_array(sw, mask=np.zeros(M, bool)))
    coef = getattr(plain, "coef", getattr(plain, "coef_", None))
    np.testing.assert_array_equal(coef, getattr(as_masked, "coef",
                                                getattr(as_masked, "coef_", None)))
    # and the answer is the weighted least-squares fit (numpy.linalg.lstsq reference)
    r = np.sqrt(sw)
    A = np.column_stack([X, np.ones(M)]) * r[:, None]
    ref = np.linalg.lstsq(A, y * r, rcond=None)[0]
    np.testing.assert_allclose(coef, ref[:N], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- predict
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_result_predict_refuses_nonfinite_like_the_estimator(value, dtype):
    X, _ = data(2, dtype)
    X[3, 2] = value
    before = X.copy()
    for f in (RESULT.predict, FITTED.predict,
              gradfit.gradient_descent(*data()).predict):
        with pytest.raises(ValueError, match=r"NaN|inf"):
            f(X)
    np.testing.assert_array_equal(X, before)


def test_fit_result_predict_matches_numpy():
    X, _ = data(3)
    np.testing.assert_allclose(RESULT.predict(X), X @ RESULT.coef + RESULT.intercept,
                               rtol=1e-14)


# ---------------------------------------------------------------------- callbacks
@pytest.mark.parametrize("returned", [np.array([True, False]), np.array([1.0]), "stop",
                                      [True], 2, 0.5, object()],
                         ids=["bool-array", "float-array", "str", "list", "int-2", "float",
                              "object"])
@pytest.mark.parametrize("batch_size", [None, 10])
def test_callback_returning_non_bool_is_a_type_error(returned, batch_size):
    X, y = data()
    with pytest.raises(TypeError, match=r"callback must return None, True .* or False"):
        gradfit.gradient_descent(X, y, batch_size=batch_size, callback=lambda *a: returned,
                                 random_state=0)


@pytest.mark.parametrize("returned,stops", [(None, False), (False, False), (True, True),
                                            (np.bool_(True), True), (np.bool_(False), False),
                                            (1, True), (0, False), (np.int64(1), True)])
def test_callback_bool_like_returns_are_honoured(returned, stops):
    X, y = data()
    calls = []

    def cb(k, coef, b, f):
        calls.append(k)
        return returned

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        res = gradfit.gradient_descent(X, y, step="fixed", max_iter=5, callback=cb)
    if stops:
        assert calls == [0] and res.n_iter == 0 and not res.converged
        assert res.message == "stopped by callback"
    else:
        assert calls == list(range(6)) and res.n_iter == 5


def test_exception_in_callback_propagates():
    X, y = data()

    def cb(*args):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        gradfit.gradient_descent(X, y, callback=cb)


# ---------------------------------------------------------------------- score
@pytest.mark.parametrize("weights,match", [
    (-np.ones(M), "negative"),
    (np.r_[np.ones(M - 1), -1e-9], "negative"),
    (np.r_[np.ones(M - 1), np.nan], "NaN"),
    (np.zeros(M), "zero"),
    (np.ones(M + 1), "one weight per row|sample_weight"),
])
def test_score_checks_sample_weight(weights, match):
    X, y = data()
    with pytest.raises(ValueError, match=match):
        FITTED.score(X, y, sample_weight=weights)


def test_score_with_valid_weights_is_weighted_r2():
    X, y = data(4)
    w = np.linspace(0.0, 2.0, M)
    pred = FITTED.predict(X)
    ybar = np.average(y, weights=w)
    r2 = 1 - (w @ (y - pred) ** 2) / (w @ (y - ybar) ** 2)
    assert FITTED.score(X, y, sample_weight=w) == pytest.approx(r2, rel=1e-12)


# ---------------------------------------------------------------------- counts
BIG = [2**31, 10**12, 2**40, 2**64, 10**400]


@pytest.mark.parametrize("value", BIG + [0, -1, 1.5, True, "10", None, float(2**31)])
@pytest.mark.parametrize("name", ["max_iter", "n_iter_no_change"])
def test_counts_out_of_range_are_value_errors(name, value):
    X, y = data()
    kwargs = {name: value}
    if name == "n_iter_no_change":
        kwargs["batch_size"] = 10
    with pytest.raises(ValueError, match=rf"^{name} must be an integer in \[1, 2147483647\]"):
        gradfit.gradient_descent(X, y, **kwargs)


@pytest.mark.parametrize("value", BIG)
def test_batch_size_beyond_the_rows_is_a_value_error(value):
    X, y = data()
    with pytest.raises(ValueError, match=r"batch_size=\d+ exceeds the 60 rows"):
        gradfit.gradient_descent(X, y, batch_size=value)


@pytest.mark.parametrize("value", [2**53 + 1, 10**400])
def test_average_beyond_range_is_a_value_error(value):
    X, y = data()
    with pytest.raises(ValueError, match=r"^average must be an integer in \[1, "):
        gradfit.gradient_descent(X, y, batch_size=10, average=value)


@pytest.mark.parametrize("cls", [steps.Lipschitz, steps.FISTA])
@pytest.mark.parametrize("value", BIG + [0, -3, 2.0])
def test_max_power_iter_out_of_range(cls, value):
    with pytest.raises(ValueError, match=re.escape(
            f"{cls.__name__}: max_power_iter must be an integer in [1, 2147483647]")):
        cls(max_power_iter=value)


@pytest.mark.parametrize("cls", [steps.Lipschitz, steps.FISTA])
def test_largest_max_power_iter_runs(cls):
    # the largest allowed count must reach the engine intact (a wrapped C int ran zero
    # power iterations, L = 0, and returned coef 0 with converged=True)
    X, y = data()
    res = gradfit.gradient_descent(X, y, step=cls(max_power_iter=2**31 - 1), tol=1e-10)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(M)]), y, rcond=None)[0]
    assert res.converged
    np.testing.assert_allclose(res.coef, ref[:N], rtol=1e-7)


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_estimator_counts_out_of_range(solver):
    X, y = data()
    with pytest.raises(ValueError, match=r"max_iter must be an integer in"):
        gradfit.LinearRegression(solver=solver, max_iter=2**31).fit(X, y)
    if solver == "sgd":
        with pytest.raises(ValueError, match=r"n_iter_no_change must be an integer in"):
            gradfit.LinearRegression(solver=solver, n_iter_no_change=2**40).fit(X, y)


# ---------------------------------------------------------------------- overflow, underflow
ALL_RUNS = [(name, None) for name in steps.NAMES] + \
    [(name, 10) for name, cls in steps.NAMES.items() if cls.mini_batch]
RUN_IDS = [f"{name}-{'full' if b is None else 'sgd'}" for name, b in ALL_RUNS]


def _gd(X, y, name, batch_size, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        return gradfit.gradient_descent(X, y, step=name, batch_size=batch_size,
                                        random_state=0, **kwargs)


@pytest.mark.parametrize("name,batch_size", ALL_RUNS, ids=RUN_IDS)
@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e150), (np.float32, 1e20)])
def test_data_too_large_for_descent_is_named_on_every_path(name, batch_size, dtype, scale):
    # FISTA returned 0 with converged=True, Lipschitz/exact/BB stalled with a
    # ConvergenceWarning, the others blamed the step size: all are the data's scale.
    X, y = data(5)
    X = (X * scale).astype(dtype)
    y = y.astype(dtype)
    with pytest.raises(ValueError, match=rf"^X is too large for gradient descent in "
                                         rf"{np.dtype(dtype).name}.*Rescale"):
        _gd(X, y, name, batch_size, standardize=False)


@pytest.mark.parametrize("name,batch_size", ALL_RUNS, ids=RUN_IDS)
@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e150), (np.float32, 1e20)])
def test_standardisation_fits_data_too_large_for_the_textbook_iteration(name, batch_size,
                                                                          dtype, scale):
    # The same data with standardisation (the default): the iteration runs on unit-scale
    # columns, so X w never overflows; the answer is lstsq's, or the fit says it is not.
    X, y = data(5)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0][:-1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = gradfit.gradient_descent((X * scale).astype(dtype), y.astype(dtype), step=name,
                                       batch_size=batch_size, random_state=0)
    flagged = any(issubclass(w.category, gradfit.ConvergenceWarning) for w in caught)
    assert flagged == (not res.converged)
    if res.converged:
        # full batch: tol 1e-6 (1e-4 in float32) on the coefficients; SGD: a 1e-3 gap
        rtol = 1e-3 if batch_size else (1e-4 if dtype == np.float32 else 1e-6)
        err = np.linalg.norm(res.coef.astype(np.float64) * scale - ref) / np.linalg.norm(ref)
        assert err <= 10 * rtol


@pytest.mark.parametrize("name,batch_size", ALL_RUNS, ids=RUN_IDS)
@pytest.mark.parametrize("dtype,scale", [(np.float64, 1e200), (np.float32, 1e20)])
def test_y_too_large_is_named(name, batch_size, dtype, scale):
    X, y = data(6)
    with pytest.raises(ValueError, match=r"^y (is too large|has values so large)"):
        _gd(X.astype(dtype), (y * scale).astype(dtype), name, batch_size)


@pytest.mark.parametrize("name,batch_size", ALL_RUNS, ids=RUN_IDS)
@pytest.mark.parametrize("dtype,scale,which", [
    (np.float64, 1e-300, "both"), (np.float64, 1e-200, "X"), (np.float64, 1e-170, "y"),
    (np.float32, 1e-30, "both"), (np.float32, 1e-25, "X")])
def test_data_whose_squares_underflow_is_refused(name, batch_size, dtype, scale, which):
    # converged=True at coef 0 before, or "diverged from 0 to 1.2e-314" (SGD + Adam)
    X, y = data(7)
    if which in ("X", "both"):
        X = X * scale
    if which in ("y", "both"):
        y = y * scale
    culprit = "y" if which == "y" else "X"
    with pytest.raises(ValueError, match=rf"^{culprit}'s values are so small .* underflow "
                                         rf"{np.dtype(dtype).name}"):
        _gd(X.astype(dtype), y.astype(dtype), name, batch_size)


def test_solve_normal_on_tiny_data_is_exact():
    # the exact solver scales the problem itself: no refusal there, and the right answer
    X, y = data(7)
    res = gradfit.solve_normal(X * 1e-300, y * 1e-300)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(M)]), y, rcond=None)[0]
    np.testing.assert_allclose(res.coef, ref[:N], rtol=1e-6)


@pytest.mark.parametrize("name,batch_size", ALL_RUNS, ids=RUN_IDS)
@pytest.mark.parametrize("big", [1e300, 1e160])
def test_huge_init_is_named(name, batch_size, big):
    X, y = data(8)
    with pytest.raises(ValueError, match=r"^init is too far from the data's scale"):
        _gd(X, y, name, batch_size, init=[big, 0.0, 0.0])


def test_huge_resumed_point_is_named():
    import dataclasses
    X, y = data(8)
    first = _gd(X, y, "adam", None, max_iter=3)
    edited = dataclasses.replace(first, coef=np.array([1e300, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"^the resumed state \(init=<FitResult>\) is too far"):
        _gd(X, y, None, None, init=edited)


@pytest.mark.parametrize("batch_size", [None, 10])
def test_a_step_too_large_is_still_divergence(batch_size):
    X, y = data(9)
    with pytest.raises(gradfit.DivergenceError, match="took steps too large"):
        _gd(X, y, steps.Fixed(50.0), batch_size)


@pytest.mark.parametrize("culprit", ["X", "y"])
def test_exact_solver_overflow_names_the_culprit(culprit):
    X, y = data(10)
    if culprit == "X":
        X = X * 1e200
    else:
        y = y * 1e200
    with pytest.raises(ValueError, match=rf"^{culprit} has values so large"):
        gradfit.solve_normal(X, y)


def test_large_but_workable_data_still_fit():
    # the diagnosis runs after a failed run only: data near the limit that do fit, fit
    for dtype, scale in ((np.float64, 1e60), (np.float32, 1e8)):
        X, y = data(11)
        Xs, ys = (X * scale).astype(dtype), (y * scale).astype(dtype)
        res = gradfit.gradient_descent(Xs, ys, step="lipschitz",
                                       tol=1e-4 if dtype == np.float32 else 1e-8)
        ref = np.linalg.lstsq(np.column_stack([X, np.ones(M)]), y, rcond=None)[0]
        assert res.converged
        np.testing.assert_allclose(res.coef, ref[:N], rtol=1e-2 if dtype == np.float32
                                   else 1e-6)


@pytest.mark.parametrize("step", ["bb", "cg", "exact", "lipschitz", "fista", None])
def test_large_column_means_without_intercept_are_honest(step):
    # Column means of 1e10 without an intercept: the Hessian's condition number is ~1e20,
    # far beyond what any iteration reaches in float64, and a certificate built from the raw
    # products X^T X would have lost the columns' spread (it passed BB's point 0.53 against
    # the optimum 0.18). The fit may stop unconverged (a warning) or diverge (an error), but
    # converged=True must come with the optimal objective (numpy.linalg.lstsq).
    rng = np.random.default_rng(0)
    m = 200
    X = rng.standard_normal((m, 3)) + 1e10
    y = X[:, 0] - 1e10 + 0.3 * rng.standard_normal(m)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    f_ref = float(np.sum((y - X @ ref) ** 2)) / (2 * m)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = gradfit.gradient_descent(X, y, step=step, fit_intercept=False)
        except gradfit.DivergenceError:
            return
    warned = any(issubclass(w.category, gradfit.ConvergenceWarning) for w in caught)
    assert warned == (not res.converged)
    if res.converged:
        assert res.objective <= f_ref * (1 + 1e-6) + 1e-12, (res.objective, f_ref)


# ---------------------------------------------------------------------- loss history
@pytest.mark.parametrize("batch_size", [None, 10])
def test_loss_history_grows_with_the_run_not_with_max_iter(batch_size):
    # max_iter = 2**31 - 1 used to allocate its 16 GiB history up front (10**12: a 7.3 TiB
    # MemoryError); the engine now grows the history as it goes. Run in a subprocess whose
    # address space is capped at 2 GiB, so an up-front allocation cannot pass unnoticed.
    code = f"""
import resource, numpy as np, gradfit
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
rng = np.random.default_rng(0)
X = rng.standard_normal((60, 3)); y = X @ [1.0, -2.0, 0.5] + 3.0
res = gradfit.gradient_descent(X, y, step="bb" if {batch_size!r} is None else "adam",
                               batch_size={batch_size!r}, max_iter=2**31 - 1, tol=1e-6,
                               random_state=0)
assert res.converged and len(res.loss_history) == res.n_iter + 1, res
print("ok", res.n_iter)
"""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]


def test_loss_history_beyond_the_first_buffer_is_complete():
    # more iterations than the engine's first history buffer (1024 points): every point is
    # kept, in order, and the first and last are the start and the returned objective
    X, y = data(12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        res = gradfit.gradient_descent(X, y, step=steps.Fixed(1e-4), max_iter=5000, tol=0.0)
        ref = gradfit.gradient_descent(X, y, step=steps.Fixed(1e-4), max_iter=3000, tol=0.0)
    h = res.loss_history
    assert h.shape == (5001,) and res.n_iter == 5000
    assert h[-1] == res.objective and np.all(np.diff(h) <= 0)  # a small fixed step descends
    np.testing.assert_array_equal(h[:3001], ref.loss_history)


# ---------------------------------------------------------------------- resume states
@pytest.fixture(scope="module")
def worker():
    from property_cases import Worker
    w = Worker()
    yield w
    w.close()


def _sgd_fit():
    X, y = data(13)
    return X, y, gradfit.gradient_descent(X, y, step="adam", batch_size=10, max_iter=2,
                                          random_state=0)


@pytest.mark.parametrize("edit", ["missing-point", "missing-scalars", "unknown-field",
                                  "not-a-dict"])
def test_unpickling_an_edited_state_is_a_clear_value_error(edit):
    # A pickle written by another version, or edited: the state's fields do not match.
    # Unpickling called DescentState(**fields) and raised TypeError.
    import pickle

    from property_cases import _edited_pickle
    _, _, res = _sgd_fit()
    if edit == "not-a-dict":
        from gradfit._state import DescentState
        obj = DescentState.__new__(DescentState)
        with pytest.raises(ValueError, match="invalid resume state"):
            obj.__setstate__([1, 2])
        return
    changes, drop = {}, ()
    if edit.startswith("missing"):
        drop = (edit.split("-")[1],)
    else:
        changes = {"bogus": 1}
    data_ = _edited_pickle(res.state, changes, drop)
    with pytest.raises(ValueError, match="invalid resume state"):
        pickle.loads(data_)


@pytest.mark.parametrize("field,value", [("point", np.zeros(2)), ("vectors", np.zeros((2, 2))),
                                         ("shift", np.zeros(1)), ("average", np.zeros(9)),
                                         ("rng", (1, 2)), ("rng", (0, 0, 0, 0))])
def test_state_forced_open_is_checked_before_the_engine(worker, field, value):
    # object.__setattr__ past the frozen dataclass: resuming re-validates, so the engine never
    # sees arrays of the wrong size. Run in a worker process: a regression would crash it.
    out = worker.call("run_state_case", {"seed": 0, "step": "adam", "batch_size": 10,
                                         "field": field, "value": value, "how": "forced"},
                      timeout=120)
    assert out["error"] == "ValueError" and "invalid resume state" in out["message"], out


@pytest.mark.parametrize("seed", [-1, -(2**70)])
def test_negative_seed_names_random_state(seed):
    X, y = data()
    with pytest.raises(ValueError, match=r"^random_state must be an int >= 0"):
        gradfit.gradient_descent(X, y, batch_size=10, random_state=seed)


@pytest.mark.parametrize("level", [1.0, 3.0, 1e6])
def test_accumulator_constant_columns_with_weights_give_the_minimum_norm_answer(level):
    # Constant columns, row weights, an intercept: the centred diagonal is rounding noise,
    # which the eigh fallback's column scaling turned into coefficients of 5e12. The exact
    # answer (numpy.linalg.lstsq, minimum norm): w = 0, b = the weighted mean of y.
    rng = np.random.default_rng(1)
    X = np.full((28, 3), level)
    y = rng.standard_normal(28)
    sw = rng.uniform(0.0, 3.0, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.IllConditionedWarning)
        res = gradfit.NormalAccumulator().update(X, y, sample_weight=sw).solve()
    r = np.sqrt(sw)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(28)]) * r[:, None], y * r,
                          rcond=None)[0]
    np.testing.assert_allclose(res.coef, 0.0, atol=1e-12)
    assert res.intercept == pytest.approx(np.average(y, weights=sw), rel=1e-12)
    assert ref[:3] @ X[0] + ref[3] == pytest.approx(res.intercept, rel=1e-10)


@pytest.mark.parametrize("sx,sy", [(1e-160, 1.0), (1.0, 1e-160), (1e-160, 1e-160),
                                   (1e-300, 1e-300)])
def test_exact_solver_on_data_whose_squares_underflow(sx, sy):
    # X^T X (or X^T y, y^T y) in the subnormals: Cholesky's answer lost four digits (and the
    # objective was NaN); the general path's QR on the column-scaled data keeps them
    X, y = data(14)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(M)]), y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.IllConditionedWarning)
        res = gradfit.solve_normal(X * sx, y * sy)
    np.testing.assert_allclose(res.coef * sx / sy, ref[:N], rtol=1e-9)
    assert np.isfinite(res.objective)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["cholesky", "gd", "sgd"])
def test_estimator_reads_reversed_and_strided_x_as_its_values(dtype, solver, n):
    # scikit-learn's validation keeps negative strides; a Gram pass reading such an X through
    # its first row's address would read memory out of place (a coefficient 3% off, or
    # 1e-10, varying from call to call). The estimator must see X's values, whatever their
    # layout.
    rng = np.random.default_rng(12)
    X = (rng.standard_normal((40, n)) * [1.0, 10.0, 0.1][:n] + 1.0).astype(dtype)
    y = X.astype(np.float64) @ [1.0, -0.5, 3.0][:n] + 0.01 * rng.standard_normal(40)
    kwargs = {"random_state": 0} if solver == "sgd" else {}
    expected = gradfit.LinearRegression(solver=solver, **kwargs).fit(
        np.ascontiguousarray(X), y)
    for layout in (X[::-1][::-1], np.ascontiguousarray(X[::-1])[::-1],
                   np.asfortranarray(X[::-1])[::-1], np.repeat(X, 2, axis=0)[::2]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
            model = gradfit.LinearRegression(solver=solver, **kwargs).fit(layout, y)
        np.testing.assert_array_equal(layout, X)
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-5 if dtype ==
                                   np.float32 else 1e-12, atol=1e-6)
        np.testing.assert_allclose(model.predict(layout), expected.predict(X),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sx,sy", [(1e-25, 1e-301), (1e-161, 1.0), (1e-161, 1e-150)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_solver_when_squares_underflow_to_zero(sx, sy, fit_intercept):
    # y of 1e-301: y^T y and X^T y are exactly 0, which Cholesky would answer with w = 0 and
    # no warning; X of 1e-161: unscaled column norms in the QR fallback would be 0 and its
    # rank wrong.
    X, y = data(15)
    A = np.column_stack([X, np.ones(M)]) if fit_intercept else X
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.IllConditionedWarning)
        res = gradfit.solve_normal(X * sx, y * sy, fit_intercept=fit_intercept)
        est = gradfit.LinearRegression(fit_intercept=fit_intercept).fit(X * sx, y * sy)
    for coef in (res.coef, est.coef_):
        np.testing.assert_allclose(coef * sx / sy, ref[:N], rtol=1e-9)
    if fit_intercept:
        assert res.intercept / sy == pytest.approx(ref[N], rel=1e-9)


def test_sgd_measured_gap_is_scale_free():
    # Data of 1e-148: f* of 1e-301 lies below a floor of 1e-300, which would make the
    # measured relative gap 2.3x too small (converged=True 1.4e-3 from the optimum, tol
    # 1e-3); the measurement rescales the statistics exactly (powers of 2) instead.
    rng = np.random.default_rng(11319)
    x = rng.standard_normal(33)
    X = (x * 1e-148)[:, None]
    y = (1.05 * x + 0.01 * rng.standard_normal(33)) * 1e-148
    sw = rng.uniform(0.5, 2.0, 33)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        res = gradfit.gradient_descent(X, y, batch_size=1, random_state=0, sample_weight=sw,
                                       fit_intercept=False)
    Xs, ys = X[:, 0] * 1e148, y * 1e148  # exact enough: the check is relative
    w_star = np.sum(sw * Xs * ys) / np.sum(sw * Xs * Xs)

    def f(w):
        return 0.5 * np.sum(sw * (ys - Xs * w) ** 2) / sw.sum()

    true_gap = (f(res.coef[0]) - f(w_star)) / f(w_star)
    if res.converged:
        assert true_gap <= 1e-3
    # the gap the fit reports is the true one, not one measured against a floor
    reported = float(re.search(r"objective (?:is within )?([0-9.e+-]+) \(relative\)",
                               res.message).group(1))
    assert reported == pytest.approx(true_gap, rel=0.05), (res.message, true_gap)


def test_constant_column_with_weights_is_not_fitted_as_a_direction():
    # 90 in every row, with weights: the weighted mean is 90 up to rounding, and Cholesky
    # fitted that rounding (coefficient -9.9e27, intercept 8.9e29, "cholesky", no warning).
    X = np.array([[95, 64, 90], [94, 64, 90], [94, 63, 90], [95, 63, 90], [94, 63, 90]])
    y = np.array([730, 732, 731, 731, 731])
    sw = np.array([1.62368057, 0.83067361, 0.48195603, 2.90977624, 1.54820576])
    r = np.sqrt(sw)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(5)]) * r[:, None], y * r,
                          rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.IllConditionedWarning)
        for res in (gradfit.solve_normal(X, y, sample_weight=sw),
                    gradfit.NormalAccumulator().update(X, y, sample_weight=sw).solve()):
            assert abs(res.coef[2]) < 1e-6
            np.testing.assert_allclose(X @ res.coef + res.intercept,
                                       X @ ref[:3] + ref[3], rtol=1e-9)
        gd = gradfit.gradient_descent(X, y, sample_weight=sw, precompute=True)
    assert abs(gd.coef[2]) < 1e-6


@pytest.mark.parametrize("how", ["merge", "no intercept"])
def test_accumulated_statistics_that_overflow_are_an_error(how):
    X = np.array([[1e308], [0.5], [-0.3]])
    y = np.array([1.0, 2.0, 3.0])
    acc = gradfit.NormalAccumulator().update(X[:1], y[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warning either
        with pytest.raises(ValueError, match="so large"):
            if how == "merge":
                acc.update(X[1:], y[1:])
            else:
                acc.solve(fit_intercept=False)


def test_prediction_that_overflows_is_an_error_on_both_paths():
    X = np.array([[1.0, 2.0], [3.0, 1.0], [0.5, 0.1], [2.0, 2.0]])
    y = X @ [2.0, 3.0] + 1.0
    huge = np.array([[1e308, 1e308]])
    for predict in (gradfit.solve_normal(X, y).predict,
                    gradfit.LinearRegression().fit(X, y).predict):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match="overflows"):
                predict(huge)


def test_a_mean_that_cancels_to_tiny_is_not_underflow():
    # +-1 values whose mean cancels to 1e-292: no square underflows; the accumulator once
    # refused this well-posed problem as "values so small that their squares underflow".
    x = np.concatenate([np.tile([1.0, -1.0], 25), [1e-290, 0.0]])
    rng = np.random.default_rng(0)
    X = np.column_stack([x, rng.standard_normal(52)])
    y = X @ [1.0, 2.0] + 0.01 * rng.standard_normal(52)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(52)]), y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gradfit.NormalAccumulator().update(X, y).solve()
        weighted = gradfit.solve_normal(X, y, sample_weight=np.ones(52))
    for r in (res, weighted):
        np.testing.assert_allclose(r.coef, ref[:2], rtol=1e-10)
