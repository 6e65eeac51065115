"""Bad input to ``solve_normal`` is rejected with a ValueError naming the offending argument, and
the caller's arrays are never modified (neither on error nor on a successful fit).

What is checked, and why
------------------------
A least-squares solver that silently returns NaN (or garbage) for NaN/inf data, wrong shapes,
non-numeric dtypes or a meaningless penalty is worse than one that fails: each case must raise
``ValueError`` whose message contains the argument's name (``X``, ``y`` or ``l2``) so the user
knows what to fix. Values whose squares overflow the working precision would make X^T X infinite;
that too must be a clear ValueError rather than an IllConditionedError or a NaN result.
Because ``solve_normal`` reads X in place, every case also checks that the inputs are bit-for-bit
unchanged afterwards.
"""
import re

import numpy as np
import pytest

import gradfit

M, N = 20, 3


def base(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((M, N))
    y = X @ np.array([1.0, -1.0, 2.0]) + 0.1 * rng.standard_normal(M)
    return X, y


def with_value(arr, index, value):
    arr = arr.copy()
    arr[index] = value
    return arr


def _cases():
    X, y = base()
    cases = {
        # name: (X, y, kwargs, argument name that the message must contain)
        "nan-in-X": (with_value(X, (4, 1), np.nan), y, {}, "X"),
        "inf-in-X": (with_value(X, (7, 2), np.inf), y, {}, "X"),
        "neg-inf-in-X": (with_value(X, (0, 0), -np.inf), y, {}, "X"),
        "nan-in-X-last-row": (with_value(X, (M - 1, 2), np.nan), y, {}, "X"),
        "nan-in-y": (X, with_value(y, 5, np.nan), {}, "y"),
        "inf-in-y": (X, with_value(y, 11, np.inf), {}, "y"),
        "neg-inf-in-y": (X, with_value(y, 0, -np.inf), {}, "y"),
        "X-1d": (X[:, 0].copy(), y, {}, "X"),
        "X-3d": (X.reshape(M, N, 1).copy(), y, {}, "X"),
        "y-2d": (X, y.reshape(-1, 1).copy(), {}, "y"),
        "y-2d-row": (X, y.reshape(1, -1).copy(), {}, "y"),
        "y-too-short": (X, y[:-1].copy(), {}, "y"),
        "y-too-long": (X, np.concatenate([y, [1.0]]), {}, "y"),
        "zero-rows": (np.empty((0, N)), np.empty(0), {}, "X"),
        "zero-columns": (np.empty((M, 0)), y, {}, "X"),
        "string-X": (X.astype(str), y, {}, "X"),
        "object-X": (X.astype(object), y, {}, "X"),
        "complex-X": (X + 1j, y, {}, "X"),
        "string-y": (X, y.astype(str), {}, "y"),
        "complex-y": (X, y + 1j, {}, "y"),
        "negative-l2": (X, y, {"l2": -1e-3}, "l2"),
        "nan-l2": (X, y, {"l2": float("nan")}, "l2"),
        "inf-l2": (X, y, {"l2": float("inf")}, "l2"),
        "string-l2": (X, y, {"l2": "0.1"}, "l2"),
        "array-l2": (X, y, {"l2": np.array([0.1, 0.2])}, "l2"),
        # squares overflow float64: X^T X (or y^T y) would be infinite
        "huge-X": (X * 1e200, y, {}, "X"),
        "huge-y": (X, y * 1e200, {}, "y"),
        # float32 data is accumulated in float32: 1e30 squared overflows it
        "huge-X-float32": ((X * 1e30).astype(np.float32), y.astype(np.float32), {}, "X"),
    }
    return cases


CASES = _cases()


def snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def assert_unchanged(before, after):
    for a, b in zip(before, after, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        equal_nan = a.dtype.kind in "fc"
        assert np.array_equal(a, b, equal_nan=equal_nan)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_raises_value_error_naming_argument(case, fit_intercept):
    X, y, kwargs, argname = CASES[case]
    before = snapshot(X, y)
    with pytest.raises(ValueError, match=rf"(?<![A-Za-z0-9_]){argname}(?![A-Za-z0-9_])") as info:
        gradfit.solve_normal(X, y, fit_intercept=fit_intercept, **kwargs)
    # a plain ValueError, not the IllConditionedError of a singular problem nor any other
    # LinAlgError (np.linalg.LinAlgError subclasses ValueError, so pytest.raises would accept it)
    assert not isinstance(info.value, np.linalg.LinAlgError)
    assert_unchanged(before, (X, y))


@pytest.mark.parametrize("case", ["nan-in-X", "inf-in-X", "nan-in-y", "inf-in-y", "huge-X"])
def test_bad_values_rejected_with_fallback_disabled_and_ridge(case):
    """NaN/inf/overflow checks do not depend on the solver path taken afterwards."""
    X, y, _, argname = CASES[case]
    before = snapshot(X, y)
    for kwargs in ({"fallback": False}, {"l2": 0.1}, {"l2": 0.1, "fallback": False}):
        with pytest.raises(ValueError, match=rf"\b{argname}\b") as info:
            gradfit.solve_normal(X, y, **kwargs)
        assert not isinstance(info.value, np.linalg.LinAlgError)
    assert_unchanged(before, (X, y))


@pytest.mark.parametrize("case", ["nan-in-X", "inf-in-y", "nan-in-X-last-row"])
def test_nonfinite_in_float32(case):
    X, y, _, argname = CASES[case]
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    with pytest.raises(ValueError, match=rf"\b{argname}\b") as info:
        gradfit.solve_normal(X32, y32)
    assert not isinstance(info.value, np.linalg.LinAlgError)


def _fits():
    X, y = base(1)
    Xdup = np.column_stack([X, X[:, 0]])  # exercises the SVD fallback's copies too
    return {
        "float64-C": (X, y, {}),
        "float64-F": (np.asfortranarray(X), y, {}),
        "float32-C": (X.astype(np.float32), y.astype(np.float32), {}),
        "float32-F": (np.asfortranarray(X, dtype=np.float32), y.astype(np.float32), {}),
        "float32-X-float64-y": (X.astype(np.float32), y, {}),
        "int-X": (np.round(10 * X).astype(np.int64), y, {}),
        "strided": (np.repeat(X, 2, axis=0)[::2], y, {}),
        "ridge": (X, y, {"l2": 0.3}),
        "fallback": (Xdup, y, {}),
        "fallback-no-intercept": (Xdup, y, {"fit_intercept": False}),
        "fallback-float32": (Xdup.astype(np.float32), y.astype(np.float32), {}),
    }


FITS = _fits()


@pytest.mark.filterwarnings("ignore::UserWarning")  # the fallback cases warn (by design)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("case", list(FITS))
def test_successful_fit_does_not_mutate_inputs(case, fit_intercept):
    X, y, kwargs = FITS[case]
    kwargs = {"fit_intercept": fit_intercept, **kwargs}
    before = snapshot(X, y)
    res = gradfit.solve_normal(X, y, **kwargs)
    assert np.all(np.isfinite(res.coef))
    assert_unchanged(before, (X, y))
    # the result does not alias the inputs
    assert not np.shares_memory(res.coef, X) and not np.shares_memory(res.coef, y)


def test_huge_finite_l2():
    """l2 = 1e308 is finite and >= 0, so valid, but m * l2 overflows float64. The exact answer
    is w ~ 0 (||w|| <= ||Xc^T yc|| / (m l2) ~ 1e-307) and b = mean(y); a ValueError naming l2
    would also be acceptable. An overflow turned into a LAPACK failure is neither."""
    X, y = base()
    before = snapshot(X, y)
    try:
        res = gradfit.solve_normal(X, y, l2=1e308)
    except ValueError as exc:  # np.linalg.LinAlgError is a ValueError too: exclude it
        assert not isinstance(exc, np.linalg.LinAlgError), f"{type(exc).__name__}: {exc}"
        assert re.search(r"\bl2\b", str(exc))
    else:
        Xc, yc = X - X.mean(axis=0), y - y.mean()
        bound = np.linalg.norm(Xc.T @ yc) / M / 1e308
        assert np.linalg.norm(res.coef) <= 1e3 * bound
        assert res.intercept == pytest.approx(np.mean(y), rel=1e-12)
    assert_unchanged(before, (X, y))


def test_float32_coefficients_below_the_normal_range_are_refused():
    # y of float32 subnormals (1e-43) against X of order 10: the coefficient, 1.2e-44, would
    # come back in float32 with one significant digit (solved in float64, then cast)
    rng = np.random.default_rng(3)
    X = (10 * rng.standard_normal((12, 1))).astype(np.float32)
    y = (X[:, 0].astype(np.float64) * 1.16e-44).astype(np.float32)
    with pytest.raises(ValueError, match="too small for float32"):
        gradfit.solve_normal(X, y, fit_intercept=False)
    # a small coefficient next to a large one keeps what matters: no error
    X2 = np.column_stack([X[:, 0], rng.standard_normal(12).astype(np.float32)])
    y2 = (X2[:, 0] + 1e-40 * X2[:, 1]).astype(np.float32)
    res = gradfit.solve_normal(X2, y2, fit_intercept=False)
    assert res.coef.dtype == np.float32 and abs(res.coef[0] - 1) < 1e-5


@pytest.mark.parametrize("entry", ["solve_normal", "estimator"])
def test_longdouble_beyond_float64_is_named(entry):
    # a finite longdouble value that float64 cannot hold: named as such, not as "NaN or
    # infinity" (the cast would make it one)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.longdouble)
    X[2, 1] = np.longdouble("1e400")
    if not np.isfinite(X[2, 1]):
        pytest.skip("longdouble is float64 on this platform")
    y = rng.standard_normal(50)
    fit = gradfit.solve_normal if entry == "solve_normal" else \
        (lambda X, y: gradfit.LinearRegression().fit(X, y))
    with pytest.raises(ValueError, match=r"X\[2, 1\] = 1e\+400 is beyond the range of float64"):
        fit(X, y)
