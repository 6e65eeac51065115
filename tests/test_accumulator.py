"""NormalAccumulator: exact least squares over data that arrive in chunks.

What is checked, and why:

* Fed in chunks (single rows, uneven sizes, one chunk in Fortran order), the accumulator
  solves the same problem as solve_normal on all rows, with and without intercept, with l2:
  coefficients to a tolerance derived from the condition number (the normal equations'
  forward error is about cond(Xc)^2 * eps), intercept and objective likewise; the reference
  is also NumPy's lstsq on the centred float64 data.
* Columns with means of 1e6 and spread 1: raw sums of products would lose ~12 digits to
  cancellation; the Chan et al. merge of centred statistics must not. Compared with
  solve_normal (accurate there) and with lstsq on data centred in the test.
* merge is associative to rounding and leaves its inputs alone; float32 chunks work.
* Errors: a chunk with another column count, solve() before any data, bad chunks (NaN,
  inf, wrong shapes) raise ValueError and leave the statistics as they were (solving
  afterwards gives exactly the answer without the bad chunk); n_samples counts rows.
"""
from __future__ import annotations

import numpy as np
import pytest

import gradfit

EPS64 = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps


def problem(m=600, n=6, seed=0, mean=None):
    """Columns of scales 1..3 with means in [-2, 2] (or all equal to ``mean`` plus that), y
    linear with intercept 3 and noise 0.1."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-2.0, 2.0, n) + (mean or 0.0)
    Z = rng.standard_normal((m, n)) * np.linspace(1.0, 3.0, n)
    X = Z + means
    w = rng.uniform(-2.0, 2.0, n)
    y = Z @ w + 3.0 + 0.1 * rng.standard_normal(m)    # from Z: exact, whatever the means
    return X, y


def lstsq(X, y, l2=0.0, fit_intercept=True):
    """Reference in float64 NumPy: ridge as an augmented least-squares problem on centred
    (or raw) data. Returns (coef, intercept, objective)."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    m, n = X.shape
    xm = X.mean(axis=0) if fit_intercept else np.zeros(n)
    ym = y.mean() if fit_intercept else 0.0
    A = np.vstack([X - xm, np.sqrt(m * l2) * np.eye(n)])
    rhs = np.concatenate([y - ym, np.zeros(n)])
    w = np.linalg.lstsq(A, rhs, rcond=None)[0]
    b = ym - xm @ w
    r = y - X @ w - b
    return w, b, float(r @ r / (2 * m) + 0.5 * l2 * (w @ w))


def normal_rtol(X, l2, fit_intercept, eps=EPS64):
    """Relative forward error bound for the normal equations: cond(A)^2 * eps for
    A = [X(c); sqrt(m l2) I], times 10 n for the accumulated rounding of the Gram matrix
    (a dimension-dependent constant; the observed errors are far smaller)."""
    X = np.asarray(X, np.float64)
    m, n = X.shape
    Xe = X - X.mean(axis=0) if fit_intercept else X
    A = np.vstack([Xe, np.sqrt(m * l2) * np.eye(n)])
    return 10 * n * np.linalg.cond(A) ** 2 * eps


def feed(X, y, sizes, acc=None):
    """Update an accumulator (a new one by default) with the first sum(sizes) rows."""
    acc = gradfit.NormalAccumulator() if acc is None else acc
    start = 0
    for size in sizes:
        out = acc.update(X[start:start + size], y[start:start + size])
        assert out is acc
        start += size
    return acc


SPLITS = {
    "single-rows-first": [1, 1, 1, 1, 1, 595],
    "uneven": [7, 300, 1, 2, 150, 140],
    "all-single-rows-tail": [590] + [1] * 10,
    "one-chunk": [600],
}


def objective_rtol(y, f, fit_intercept=True, eps=EPS64):
    """The objective comes from the statistics, |yc|^2 - 2 w.Xc^T yc + w.G w, whose terms
    are each about |yc|^2 while their sum is 2m f: cancellation costs a factor |yc|^2/(2m f).
    100 eps times that (a few roundings per term, and the w-dependent terms)."""
    y = np.asarray(y, np.float64)
    yc = y - y.mean() if fit_intercept else y
    return 100 * eps * (yc @ yc) / (2 * len(y) * f)


def assert_same(res, coef, intercept, objective, rtol, X, obj_rtol):
    scale = np.abs(coef).max()
    np.testing.assert_allclose(res.coef, coef, rtol=0, atol=rtol * scale)
    # b = mean(y) - mean(X).w: its error is |mean(X)|_1 times the coefficients' error
    xm = np.abs(np.asarray(X, np.float64).mean(axis=0)).sum()
    assert res.intercept == pytest.approx(intercept, abs=rtol * scale * max(xm, 1.0) + 1e-12)
    assert res.objective == pytest.approx(objective, rel=obj_rtol)


@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("split", SPLITS, ids=str)
def test_chunks_equal_solve_normal_on_all_rows(split, fit_intercept, l2):
    X, y = problem()
    acc = feed(X, y, SPLITS[split])
    assert acc.n_samples == len(y) and acc.n_features == X.shape[1]
    res = acc.solve(l2=l2, fit_intercept=fit_intercept)
    rtol = normal_rtol(X, l2, fit_intercept)
    ref = gradfit.solve_normal(X, y, l2=l2, fit_intercept=fit_intercept)
    w, b, f = lstsq(X, y, l2, fit_intercept)
    otol = objective_rtol(y, f, fit_intercept)
    assert_same(res, ref.coef, ref.intercept, ref.objective, rtol, X, otol)
    assert_same(res, w, b, f, rtol, X, otol)
    if not fit_intercept:
        assert res.intercept == 0.0


def test_fortran_ordered_and_strided_chunks():
    X, y = problem()
    acc = gradfit.NormalAccumulator()
    acc.update(np.asfortranarray(X[:200]), y[:200])
    acc.update(X[200:400][::-1], y[200:400][::-1])    # negative strides: a copy is made
    acc.update(X[400:], y[400:])
    rtol = normal_rtol(X, 0.0, True)
    w, b, f = lstsq(X, y)
    assert_same(acc.solve(), w, b, f, rtol, X, objective_rtol(y, f))


@pytest.mark.parametrize("split", ["single-rows-first", "uneven"])
def test_large_column_means(split):
    # Columns 1e6 + O(1): the data themselves are rounded by eps * 1e6 ~ 2e-10 absolute, i.e.
    # ~2e-10 relative to their spread of 1, and the centred problem (well conditioned) turns
    # that into about the same relative error in w: 10 n eps * 1e6 allows for accumulation.
    # Raw (uncentred) sums of products would lose everything: cond([X, 1])^2 ~ 1e24.
    X, y = problem(mean=1e6)
    acc = feed(X, y, SPLITS[split])
    res = acc.solve()
    rtol = max(normal_rtol(X, 0.0, True), 10 * X.shape[1] * EPS64 * 1e6)
    ref = gradfit.solve_normal(X, y)
    w, b, f = lstsq(X, y)          # centred in float64 here, then an SVD
    otol = objective_rtol(y, f)
    assert_same(ref, w, b, f, rtol, X, otol)     # the reference is itself accurate
    assert_same(res, w, b, f, rtol, X, otol)
    assert_same(res, ref.coef, ref.intercept, ref.objective, rtol, X, otol)
    # The intercept bound above is loose (|mean(X)|_1 ~ 6e6 times w's error): check the
    # returned (w, b) on the data instead. Evaluating X w at this scale rounds each residual
    # by ~n eps 1e6 |w| ~ 1e-9 against residuals of 0.1, so f is reproduced to ~1e-7;
    # an intercept off by 1e-4 would already change it by 1e-6 relative.
    r = y - X @ res.coef - res.intercept
    assert r @ r / (2 * len(y)) == pytest.approx(f, rel=1e-6)


def test_merge_is_associative_and_leaves_inputs_alone():
    X, y = problem()
    a = feed(X[:250], y[:250], [250])
    b = feed(X[250:251], y[250:251], [1])
    c = feed(X[251:], y[251:], [349])
    sol_a, sol_c = a.solve(), c.solve()
    left = (a + b) + c
    right = a.merge(b.merge(c))
    assert left.n_samples == right.n_samples == 600
    rl, rr = left.solve(), right.solve()
    # Chan's update is exact in exact arithmetic; the two groupings round differently, by
    # ~eps per merge relative to the statistics: the normal-equations bound applies.
    rtol = normal_rtol(X, 0.0, True)
    assert rtol < 1e-12
    np.testing.assert_allclose(rl.coef, rr.coef, rtol=0, atol=rtol * np.abs(rr.coef).max())
    w_ref, b_ref, f_ref = lstsq(X, y)
    assert_same(rl, w_ref, b_ref, f_ref, rtol, X, objective_rtol(y, f_ref))
    # the inputs are unchanged: same rows, same answers (bit for bit)
    assert (a.n_samples, b.n_samples, c.n_samples) == (250, 1, 349)
    np.testing.assert_array_equal(a.solve().coef, sol_a.coef)
    np.testing.assert_array_equal(c.solve().coef, sol_c.coef)
    assert a.solve().intercept == sol_a.intercept
    # and they keep working independently: updating the merged one does not touch them
    left.update(X[:10], y[:10])
    assert a.n_samples == 250
    np.testing.assert_array_equal(a.solve().coef, sol_a.coef)


def test_merge_with_an_empty_accumulator():
    X, y = problem()
    a = feed(X, y, [600])
    empty = gradfit.NormalAccumulator()
    for merged in (a + empty, empty + a):
        assert merged.n_samples == 600
        np.testing.assert_array_equal(merged.solve().coef, a.solve().coef)
        merged.update(X[:5], y[:5])
        assert a.n_samples == 600 and empty.n_samples == 0


def test_float32_chunks():
    X, y = problem(n=4)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    acc = feed(X32, y32, [100, 1, 299, 200])
    res = acc.solve()
    assert res.coef.dtype == np.float32
    # float32 statistics and solve: the same bound with float32's eps, against the float64
    # solution of the float32 data
    rtol = normal_rtol(X32, 0.0, True, eps=EPS32)
    assert rtol < 1e-3
    w, b, f = lstsq(X32, y32)
    np.testing.assert_allclose(res.coef, w, rtol=0, atol=rtol * np.abs(w).max())
    ref = gradfit.solve_normal(X32, y32)
    np.testing.assert_allclose(res.coef, ref.coef, rtol=0, atol=rtol * np.abs(w).max())


def test_mixed_float32_and_float64_chunks_give_float64():
    X, y = problem(n=4)
    acc = gradfit.NormalAccumulator()
    acc.update(X[:300].astype(np.float32), y[:300].astype(np.float32))
    acc.update(X[300:], y[300:])
    res = acc.solve()
    assert res.coef.dtype == np.float64
    Xm = np.vstack([X[:300].astype(np.float32).astype(np.float64), X[300:]])
    ym = np.concatenate([y[:300].astype(np.float32).astype(np.float64), y[300:]])
    # the float32 chunk's statistics are summed in float32 (as solve_normal does): they carry
    # float32 rounding that a float64 solve cannot remove, so float32's eps sets the bound
    rtol = normal_rtol(Xm, 0.0, True, eps=EPS32)
    w, b, f = lstsq(Xm, ym)
    assert_same(res, w, b, f, rtol, Xm, objective_rtol(ym, f, eps=EPS32))


def test_column_count_must_not_change():
    X, y = problem()
    acc = feed(X[:100], y[:100], [100])
    with pytest.raises(ValueError, match="columns"):
        acc.update(X[100:200, :5], y[100:200])
    other = feed(X[:100, :5], y[:100], [100])
    with pytest.raises(ValueError, match="columns"):
        acc.merge(other)


def test_solve_before_any_data():
    with pytest.raises(ValueError):
        gradfit.NormalAccumulator().solve()
    assert gradfit.NormalAccumulator().n_samples == 0


def bad_chunks(X, y):
    Xn = X[:50].copy()
    Xn[7, 2] = np.nan
    Xi = X[:50].copy()
    Xi[0, 0] = np.inf
    yn = y[:50].copy()
    yn[3] = np.nan
    return {
        "nan-in-X": (Xn, y[:50]),
        "inf-in-X": (Xi, y[:50]),
        "nan-in-y": (X[:50], yn),
        "y-too-short": (X[:50], y[:49]),
        "X-1d": (X[0], y[:1]),
        "y-2d": (X[:50], y[:50, None]),
        "too-few-columns": (X[:50, :4], y[:50]),
        "no-columns": (X[:5, :0], y[:5]),
        "empty-y-too-long": (X[:0], y[:1]),
        "strings": (X[:50].astype(str), y[:50]),
    }


@pytest.mark.parametrize("which", list(bad_chunks(*problem(m=60))), ids=str)
def test_bad_chunk_leaves_the_accumulator_unchanged(which):
    X, y = problem()
    good = feed(X, y, [200, 400])
    expected = good.solve(l2=0.01)
    acc = feed(X, y, [200])
    Xb, yb = bad_chunks(X, y)[which]
    X_before, y_before = np.array(Xb, copy=True), np.array(yb, copy=True)
    with pytest.raises(ValueError):
        acc.update(Xb, yb)
    assert acc.n_samples == 200
    acc.update(X[200:], y[200:])     # still usable
    res = acc.solve(l2=0.01)
    np.testing.assert_array_equal(res.coef, expected.coef)
    assert res.intercept == expected.intercept
    assert acc.n_samples == 600
    np.testing.assert_array_equal(Xb, X_before)     # the bad chunk was not modified either
    np.testing.assert_array_equal(yb, y_before)


def test_chunks_are_not_modified():
    X, y = problem()
    X.flags.writeable = False
    y.flags.writeable = False
    X0, y0 = X.copy(), y.copy()
    feed(X, y, [10, 590]).solve(l2=0.1)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_n_samples_counts_rows():
    X, y = problem()
    acc = gradfit.NormalAccumulator()
    assert acc.n_samples == 0 and acc.n_features is None
    total = 0
    for size in (1, 5, 1, 93):
        acc.update(X[total:total + size], y[total:total + size])
        total += size
        assert acc.n_samples == total
    assert (acc + acc).n_samples == 2 * total
