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
