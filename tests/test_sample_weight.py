"""Row weights (``sample_weight``) in solve_normal, NormalAccumulator, gradient_descent and
LinearRegression.

The weighted objective is sum_i w_i (y_i - x_i.w - b)^2 / (2 sum_i w_i) + l2/2 ||w||^2
+ l1 ||w||_1, so with integer weights it is *exactly* the unweighted objective of the data
with row i repeated w_i times (a weight of 0 drops the row). That identity is the reference
here: it needs no other software and no value produced by a weighted gradfit code path.

* Exact solver and accumulator: weighted == row-repeated to 1e-9 (both are one Cholesky solve
  of the same normal equations, formed in different orders: rounding ~1e-15 times a modest
  condition number, so 1e-9 is a wide margin that still catches any weighting error, which
  would show up at the 1e-2 level).
* Full-batch gradient descent (lipschitz, backtracking, bb, fista; with l1 > 0 for the
  proximal ones), tol=1e-12: weighted == row-repeated to 1e-9. Both runs stop when the
  gradient is ~1e-12 relative, so each is within ~1e-11 of the common optimum.
* Mini-batch SGD visits different rows in each batch (m weighted rows vs sum(w) repeated
  rows), so the two trajectories differ; both only hover near the optimum with a constant
  rate. They are compared by the weighted objective, each within 1e-2 relative of the optimum
  computed by numpy.linalg.lstsq after enough epochs (with Polyak averaging). With
  batch_size = all rows and shuffle=False each epoch is one full-batch step and the gradients
  are the same sums, so there it is exact to rounding (1e-12).
* Zero weights drop rows; all-ones weights equal no weights (1e-12: the same arithmetic up to
  multiplying by 1.0 and dividing by the weight sum instead of m).
* NIST Longley with weights of 1 keeps LRE >= 7 (the bar of test_nist.py without weights).
* Weighted ridge equals scikit-learn's Ridge(alpha=l2 * sum(w)) with the same weights (1e-9).
* Bad weights raise ValueError naming sample_weight; user arrays are never modified.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import linear_model as sklearn_linear

import gradfit
import nist
from gradfit import LinearRegression, NormalAccumulator, gradient_descent, solve_normal


def problem(m=40, n=4, seed=0, sigma=0.3):
    """Columns with different scales and nonzero means; y linear plus noise; integer weights
    in 0..3 with at least one zero and one nonzero."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * np.linspace(1.0, 2.0, n) + rng.uniform(-1, 1, n)
    y = X @ rng.uniform(-2, 2, n) + 0.5 + sigma * rng.standard_normal(m)
    w = rng.integers(0, 4, size=m).astype(np.float64)
    w[0], w[1] = 0.0, 3.0
    return X, y, w


def repeated(X, y, w):
    """The rows of (X, y) repeated w_i times."""
    k = w.astype(int)
    return np.repeat(X, k, axis=0), np.repeat(y, k)


def weighted_objective(X, y, w, coef, intercept, l2=0.0, l1=0.0):
    r = y - X @ np.asarray(coef, float) - intercept
    c = np.asarray(coef, float)
    return float(w @ r ** 2 / (2 * w.sum()) + 0.5 * l2 * c @ c + l1 * np.abs(c).sum())


def weighted_optimum(X, y, w):
    """Weighted least squares with intercept by numpy.linalg.lstsq on sqrt(w)-scaled rows."""
    A = np.column_stack([X, np.ones(len(y))]) * np.sqrt(w)[:, None]
    sol = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)[0]
    return sol[:-1], sol[-1]


def assert_same_fit(a, b, rtol):
    scale = max(1.0, np.abs(np.asarray(b.coef, float)).max())
    np.testing.assert_allclose(a.coef, b.coef, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(a.intercept, b.intercept, rtol=0,
                               atol=rtol * max(1.0, abs(b.intercept)))


# --------------------------------------------------------------------------- exact solver
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_solve_normal_weights_equal_repeated_rows(fit_intercept, l2):
    X, y, w = problem()
    Xr, yr = repeated(X, y, w)
    got = solve_normal(X, y, sample_weight=w, l2=l2, fit_intercept=fit_intercept)
    ref = solve_normal(Xr, yr, l2=l2, fit_intercept=fit_intercept)
    assert got.solver == ref.solver == "cholesky"
    assert_same_fit(got, ref, 1e-9)


def test_solve_normal_weights_match_weighted_lstsq():
    # An independent reference: numpy.linalg.lstsq on sqrt(w)-scaled rows and ones column.
    X, y, w = problem(seed=1)
    coef, b = weighted_optimum(X, y, w)
    got = solve_normal(X, y, sample_weight=w)
    np.testing.assert_allclose(got.coef, coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.intercept, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_accumulator_weights_equal_repeated_rows(fit_intercept):
    X, y, w = problem(m=60, seed=2)
    acc = NormalAccumulator()
    for idx in np.array_split(np.arange(len(y)), 4):
        acc.update(X[idx], y[idx], sample_weight=w[idx])
    assert acc.n_samples == pytest.approx(w.sum())
    Xr, yr = repeated(X, y, w)
    for l2 in (0.0, 0.05):
        got = acc.solve(l2=l2, fit_intercept=fit_intercept)
        ref = solve_normal(Xr, yr, l2=l2, fit_intercept=fit_intercept)
        assert_same_fit(got, ref, 1e-9)


def test_solve_normal_zero_weight_rows_are_dropped():
    X, y, w = problem(seed=3)
    keep = w > 0
    for l2 in (0.0, 0.2):
        got = solve_normal(X, y, sample_weight=(w > 0).astype(float), l2=l2)
        ref = solve_normal(X[keep], y[keep], l2=l2)
        assert_same_fit(got, ref, 1e-12)


def test_zero_weight_rows_may_hold_huge_values():
    # A dropped row contributes nothing, whatever its (finite) values.
    X, y, w = problem(seed=4)
    Xz, yz = X.copy(), y.copy()
    Xz[0] = 1e6  # w[0] == 0
    yz[0] = -1e6
    keep = w > 0
    ref = solve_normal(X[keep], y[keep], sample_weight=w[keep])
    got = solve_normal(Xz, yz, sample_weight=w)
    assert_same_fit(got, ref, 1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_unit_weights_equal_no_weights(fit_intercept):
    X, y, _ = problem(seed=5)
    ones = np.ones(len(y))
    assert_same_fit(solve_normal(X, y, sample_weight=ones, fit_intercept=fit_intercept),
                    solve_normal(X, y, fit_intercept=fit_intercept), 1e-12)
    kw = dict(step="lipschitz", tol=1e-12, max_iter=5000, fit_intercept=fit_intercept)
    assert_same_fit(gradient_descent(X, y, sample_weight=ones, **kw),
                    gradient_descent(X, y, **kw), 1e-12)
    acc_w = NormalAccumulator().update(X, y, sample_weight=ones)
    acc = NormalAccumulator().update(X, y)
    assert_same_fit(acc_w.solve(fit_intercept=fit_intercept),
                    acc.solve(fit_intercept=fit_intercept), 1e-12)


def test_longley_with_unit_weights_keeps_certified_accuracy():
    X, y, fit_intercept, certified = nist.load("Longley")
    res = solve_normal(X, y, fit_intercept=fit_intercept, sample_weight=np.ones(len(y)))
    params = np.concatenate([[res.intercept], res.coef]) if fit_intercept else res.coef
    scores = nist.lre(params, certified)
    assert np.all(scores >= 7.0), f"LRE {np.round(scores, 2)} (solver {res.solver!r})"


# ---------------------------------------------------------------------- gradient descent
GD_CASES = [("lipschitz", 0.0), ("backtracking", 0.0), ("bb", 0.0), ("fista", 0.0),
            ("lipschitz", 0.2), ("backtracking", 0.2), ("fista", 0.2)]  # l1=0.2 zeroes a coef


@pytest.mark.parametrize("step,l1", GD_CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_full_batch_gd_weights_equal_repeated_rows(step, l1, fit_intercept):
    X, y, w = problem(seed=6)
    Xr, yr = repeated(X, y, w)
    kw = dict(step=step, l1=l1, l2=0.01, tol=1e-12, max_iter=20000,
              fit_intercept=fit_intercept)
    got = gradient_descent(X, y, sample_weight=w, **kw)
    ref = gradient_descent(Xr, yr, **kw)
    assert got.converged and ref.converged
    assert_same_fit(got, ref, 1e-9)
    if l1 > 0:  # lasso zeros are exact zeros in both
        np.testing.assert_array_equal(got.coef == 0, ref.coef == 0)
        if fit_intercept:  # the problem is built so that coef 1 is removed
            assert (got.coef == 0).any()


@pytest.mark.parametrize("step,l1", [("backtracking", 0.0), ("fista", 0.2)])
def test_full_batch_gd_zero_weight_rows_are_dropped(step, l1):
    X, y, w = problem(seed=7)
    keep = w > 0
    kw = dict(step=step, l1=l1, tol=1e-12, max_iter=20000)
    got = gradient_descent(X, y, sample_weight=w, **kw)
    ref = gradient_descent(X[keep], y[keep], sample_weight=w[keep], **kw)
    assert_same_fit(got, ref, 1e-9)


def test_full_batch_gd_weighted_reaches_weighted_lstsq():
    X, y, w = problem(seed=8)
    coef, b = weighted_optimum(X, y, w)
    res = gradient_descent(X, y, sample_weight=w, step="bb", tol=1e-12, max_iter=20000)
    np.testing.assert_allclose(res.coef, coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.intercept, b, rtol=1e-9, atol=1e-12)


def _sgd(X, y, **kw):
    """Exactly max_iter epochs: tol=0 and n_iter_no_change > max_iter disable stopping."""
    kw.setdefault("tol", 0.0)
    kw.setdefault("n_iter_no_change", kw["max_iter"] + 1)
    return gradient_descent(X, y, **kw)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sgd_batch_of_all_rows_weighted_equals_repeated_exactly(fit_intercept):
    # batch_size = every row and no shuffling: each epoch is one full-batch Fixed step, the
    # weighted gradient sum_i w_i g_i / sum w equals the repeated-row mean: equal to rounding.
    X, y, w = problem(seed=9)
    Xr, yr = repeated(X, y, w)
    kw = dict(step=gradfit.steps.Fixed(0.1), max_iter=50, shuffle=False,
              fit_intercept=fit_intercept)
    got = _sgd(X, y, sample_weight=w, batch_size=len(y), **kw)
    ref = _sgd(Xr, yr, batch_size=len(yr), **kw)
    assert_same_fit(got, ref, 1e-12)


def test_sgd_weighted_and_repeated_reach_the_same_objective():
    # Mini-batches of a weighted and of a row-repeated data set contain different rows, so the
    # two runs follow different paths; with a constant rate each ends where the noise of its
    # gradient estimates lets it. Polyak averaging (after the first epoch) and 30 epochs bring
    # both within 1e-2 of the weighted optimum's objective (noise sigma = 0.3, f* ~ 0.045).
    X, y, w = problem(m=400, seed=10)
    Xr, yr = repeated(X, y, w)
    coef, b = weighted_optimum(X, y, w)
    f_star = weighted_objective(X, y, w, coef, b)
    # standardize=False: the rate is chosen for the data's own units
    kw = dict(step=gradfit.steps.Fixed(0.02), batch_size=8, max_iter=30, random_state=0,
              standardize=False)
    got = _sgd(X, y, sample_weight=w, average=len(y), **kw)
    ref = _sgd(Xr, yr, average=len(yr), **kw)
    for res in (got, ref):
        f = weighted_objective(X, y, w, res.coef, res.intercept)
        assert f >= f_star * (1 - 1e-12)
        assert (f - f_star) / f_star < 1e-2, (res.coef, coef)


# ----------------------------------------------------------------- against scikit-learn
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_ridge_matches_sklearn(fit_intercept):
    X, y, w = problem(seed=11)
    w = w + np.random.default_rng(11).uniform(0, 1, len(w))  # non-integer weights too
    l2 = 0.3
    ref = sklearn_linear.Ridge(alpha=l2 * w.sum(), fit_intercept=fit_intercept,
                               solver="svd").fit(X, y, sample_weight=w)
    ref_b = ref.intercept_ if fit_intercept else 0.0
    for res in (solve_normal(X, y, l2=l2, sample_weight=w, fit_intercept=fit_intercept),
                NormalAccumulator().update(X, y, sample_weight=w).solve(
                    l2=l2, fit_intercept=fit_intercept)):
        np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.intercept, ref_b, rtol=1e-9, atol=1e-12)
    est = LinearRegression(solver="cholesky", l2=l2, fit_intercept=fit_intercept)
    est.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.intercept_, ref_b, rtol=1e-9, atol=1e-12)
    gd = LinearRegression(solver="gd", l2=l2, tol=1e-12, max_iter=20000,
                          fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(gd.coef_, ref.coef_, rtol=1e-9, atol=1e-12)


def test_weighted_lasso_matches_sklearn():
    # scikit-learn's Lasso with sample_weight minimises the same weighted objective
    # (sum w_i r_i^2 / (2 sum w) + alpha ||w||_1); coordinate descent run to tol 1e-14.
    X, y, w = problem(m=60, seed=12)
    l1 = 0.05
    ref = sklearn_linear.Lasso(alpha=l1, tol=1e-14, max_iter=100000).fit(X, y, sample_weight=w)
    est = LinearRegression(solver="gd", l1=l1, tol=1e-12, max_iter=20000)
    est.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)


def test_estimator_weights_equal_repeated_rows():
    X, y, w = problem(seed=13)
    Xr, yr = repeated(X, y, w)
    for solver in ("auto", "cholesky", "gd"):
        kw = dict(solver=solver, l2=0.01)
        if solver == "gd":
            kw.update(tol=1e-12, max_iter=20000)
        got = LinearRegression(**kw).fit(X, y, sample_weight=w)
        ref = LinearRegression(**kw).fit(Xr, yr)
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=0, atol=1e-9)
        np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=0, atol=1e-9)
        # score with weights is R^2 of the repeated data
        assert got.score(X, y, sample_weight=w) == pytest.approx(ref.score(Xr, yr), abs=1e-12)


# ------------------------------------------------------------------------ bad weights
def _bad_weights(m):
    return {
        "negative": np.r_[1.0, -1.0, np.ones(m - 2)],
        "nan": np.r_[1.0, np.nan, np.ones(m - 2)],
        "inf": np.r_[1.0, np.inf, np.ones(m - 2)],
        "all-zero": np.zeros(m),
        "too-short": np.ones(m - 1),
        "too-long": np.ones(m + 1),
        "2-D column": np.ones((m, 1)),
        "2-D": np.ones((m, 2)),
    }


BAD = list(_bad_weights(8))


def _fitters():
    return {
        "solve_normal": lambda X, y, w: solve_normal(X, y, sample_weight=w),
        "accumulator": lambda X, y, w: NormalAccumulator().update(X, y, sample_weight=w),
        "gd": lambda X, y, w: gradient_descent(X, y, sample_weight=w),
        "sgd": lambda X, y, w: gradient_descent(X, y, sample_weight=w, batch_size=2),
    }


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("fitter", list(_fitters()))
def test_bad_weights_raise_naming_sample_weight(fitter, kind):
    X, y, _ = problem(m=8, n=2)
    w = _bad_weights(8)[kind]
    with pytest.raises(ValueError, match="sample_weight"):
        _fitters()[fitter](X, y, w)


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("solver", ["auto", "cholesky", "gd", "sgd"])
def test_estimator_bad_weights_raise(solver, kind):
    # The estimator validates weights with scikit-learn's _check_sample_weight first, whose
    # messages say "sample_weight" or "Sample weights", as for scikit-learn's own estimators.
    X, y, _ = problem(m=8, n=2)
    w = _bad_weights(8)[kind]
    with pytest.raises(ValueError, match=r"(?i)sample[_ ]weight"):
        LinearRegression(solver=solver).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("solver", ["cholesky", "sgd"])
def test_partial_fit_bad_weights_raise(solver):
    X, y, _ = problem(m=8, n=2)
    with pytest.raises(ValueError, match=r"(?i)sample[_ ]weight"):
        LinearRegression(solver=solver).partial_fit(X, y, sample_weight=-np.ones(8))


# -------------------------------------------------------------------- inputs untouched
def _readonly_copies(*arrays):
    out = []
    for a in arrays:
        c = a.copy()
        c.flags.writeable = False
        out.append(c)
    return out


def test_user_arrays_are_never_modified():
    X, y, w = problem(seed=14)
    w = w + 0.5  # non-integer, no zeros
    Xf = np.asfortranarray(X)
    Xs, ys, ws = X.copy(), y.copy(), w.copy()
    calls = [
        lambda X, y, w: solve_normal(X, y, sample_weight=w, l2=0.1),
        lambda X, y, w: NormalAccumulator().update(X, y, sample_weight=w).solve(),
        lambda X, y, w: gradient_descent(X, y, sample_weight=w, step="bb"),
        lambda X, y, w: gradient_descent(X, y, sample_weight=w, step="fista", l1=0.1),
        lambda X, y, w: _sgd(X, y, sample_weight=w, batch_size=5, max_iter=3,
                             random_state=0),
        lambda X, y, w: LinearRegression().fit(X, y, sample_weight=w),
        lambda X, y, w: LinearRegression(solver="gd").fit(X, y, sample_weight=w),
        lambda X, y, w: LinearRegression(solver="sgd", max_iter=3, random_state=0).fit(
            X, y, sample_weight=w),
        lambda X, y, w: LinearRegression(solver="cholesky").partial_fit(X, y, sample_weight=w),
        lambda X, y, w: LinearRegression(solver="sgd").partial_fit(X, y, sample_weight=w),
        lambda X, y, w: LinearRegression().fit(X, np.column_stack([y, 2 * y]),
                                               sample_weight=w),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short runs may warn about convergence
        for call in calls:
            for data in ((X, y, w), (Xf, y, w)):
                call(*data)
                np.testing.assert_array_equal(data[0], Xs)
                np.testing.assert_array_equal(y, ys)
                np.testing.assert_array_equal(w, ws)
            # read-only inputs: an in-place write would raise
            call(*_readonly_copies(X, y, w))
