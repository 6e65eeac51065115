"""L1 (lasso) and elastic net: ``gradient_descent(..., l1=...)``.

What is checked, and why:

* Agreement with scikit-learn's coordinate descent (Lasso / ElasticNet, run to tol=1e-12;
  its own accuracy is checked here through the optimality conditions) for FISTA,
  Backtracking, Lipschitz and Fixed(1/L), with and without intercept: coefficients to 1e-6
  relative to max|coef| and the same set of exact zeros, on a problem where about half the
  coefficients are removed and the optimality conditions have a margin (so the zero set is
  well determined). Removed coefficients are exactly 0.0, not tiny numbers.
* The reported objective includes l1 |w|_1 (compared with NumPy).
* FISTA (monotone restart) and proximal Backtracking never increase the objective (beyond
  rounding), although plain FISTA does rise on this very problem.
* Stopping: with l1 > 0 the test is on the proximal gradient mapping, which vanishes at the
  solution while the raw gradient does not (|g_j| = l1 on the support).
* Proximal SGD (Fixed, InverseScaling with batch_size) lands near the lasso solution.
* Strategies without a proximal form are refused with l1 > 0; bad l1 values are refused;
  solve_normal has no l1.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso

import gradfit
from gradfit import steps

L1 = 0.2


def problem(m=400, n=12, seed=0):
    """Columns of scales 1..2 with means in [-1, 1]; half the true coefficients are 0, the
    others of size 1..2, noise 0.5. With l1 = 0.2 the lasso removes about half of them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * np.linspace(1.0, 2.0, n) + rng.uniform(-1.0, 1.0, n)
    w = np.zeros(n)
    w[: n // 2] = rng.choice([-1.0, 1.0], n // 2) * rng.uniform(1.0, 2.0, n // 2)
    w = rng.permutation(w)
    y = X @ w + 0.5 + 0.5 * rng.standard_normal(m)
    return X, y


def centred(X, y, fit_intercept):
    if not fit_intercept:
        return X, y
    return X - X.mean(axis=0), y - y.mean()


def smooth_gradient(X, y, w, b, l2):
    """Gradient of 1/(2m)|y - Xw - b|^2 + l2/2 |w|^2 with respect to w, in NumPy."""
    return -X.T @ (y - X @ w - b) / len(y) + l2 * w


def full_objective(X, y, w, b, l2, l1):
    r = y - X @ np.asarray(w, np.float64) - b
    return float(r @ r / (2 * len(y)) + 0.5 * l2 * (w @ w) + l1 * np.abs(w).sum())


def lipschitz(X, y, l2, fit_intercept):
    """L = largest eigenvalue of the Hessian of the smooth part (centred X with intercept)."""
    Xe, _ = centred(X, y, fit_intercept)
    return np.linalg.eigvalsh(Xe.T @ Xe / len(y)).max() + l2


def prox_mapping_norm(X, y, w, b, l2, l1, step):
    """|(w - prox(w - step g)) / step|, zero exactly at the solution (b at its optimum)."""
    v = w - step * smooth_gradient(X, y, w, b, l2)
    p = np.sign(v) * np.maximum(np.abs(v) - step * l1, 0.0)
    return float(np.linalg.norm(w - p) / step)


def sklearn_fit(X, y, l2, l1, fit_intercept):
    """scikit-learn's answer for f = 1/(2m)|r|^2 + l2/2 |w|^2 + l1 |w|_1."""
    if l2 == 0.0:
        est = Lasso(alpha=l1, fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000)
    else:
        est = ElasticNet(alpha=l2 + l1, l1_ratio=l1 / (l2 + l1), fit_intercept=fit_intercept,
                         tol=1e-12, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a ConvergenceWarning would fail the test
        est.fit(X, y)
    return est.coef_.copy(), float(est.intercept_)


def all_strategies(X, y, l2, fit_intercept):
    return [steps.FISTA(), steps.Backtracking(), steps.Lipschitz(),
            steps.Fixed(1.0 / lipschitz(X, y, l2, fit_intercept))]   # 1/L: the safe rate


CASES = [pytest.param(0.0, id="lasso"), pytest.param(0.1, id="elastic-net")]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", CASES)
def test_reference_is_accurate_and_the_zero_set_is_well_determined(l2, fit_intercept):
    """Guards the comparisons below: scikit-learn's solution satisfies the optimality
    conditions to 1e-8, about half the coefficients are zero, and the zero set is well
    determined: an error delta = 1e-6 max|w| in the coefficients (the tolerance below) moves
    the gradient by at most L delta, and every zero coefficient has |g_j| below l1 by 100
    times that, every other coefficient is larger than 100 delta."""
    X, y = problem()
    w, _ = sklearn_fit(X, y, l2, L1, fit_intercept)
    Xe, ye = centred(X, y, fit_intercept)     # the intercept is then at its optimum, 0
    L = lipschitz(X, y, l2, fit_intercept)
    assert prox_mapping_norm(Xe, ye, w, 0.0, l2, L1, 1.0 / L) <= 1e-8
    zero = w == 0.0
    assert 4 <= zero.sum() <= 8
    delta = 1e-6 * np.abs(w).max()
    g = smooth_gradient(Xe, ye, w, 0.0, l2)
    assert np.all(L1 - np.abs(g[zero]) >= 100 * L * delta)
    assert np.all(np.abs(w[~zero]) >= 100 * delta)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", CASES)
@pytest.mark.parametrize("which", range(4), ids=["FISTA", "Backtracking", "Lipschitz",
                                                  "Fixed(1/L)"])
def test_agrees_with_scikit_learn(which, l2, fit_intercept):
    X, y = problem()
    w_ref, b_ref = sklearn_fit(X, y, l2, L1, fit_intercept)
    step = all_strategies(X, y, l2, fit_intercept)[which]
    res = gradfit.gradient_descent(X, y, step=step, l1=L1, l2=l2,
                                   fit_intercept=fit_intercept, tol=1e-10, max_iter=100_000)
    assert res.converged
    # tol=1e-10 on the proximal mapping: the coefficients are within ~1e-10 / lambda_min
    # (lambda_min ~ 1 here) of the solution, scikit-learn within ~1e-9 (checked above);
    # 1e-6 relative leaves a wide margin.
    scale = np.abs(w_ref).max()
    np.testing.assert_allclose(res.coef, w_ref, rtol=0, atol=1e-6 * scale)
    assert res.intercept == pytest.approx(b_ref, abs=1e-6 * max(scale, abs(b_ref)))
    # same exact zeros, and they are exactly 0.0
    np.testing.assert_array_equal(res.coef == 0.0, w_ref == 0.0)
    assert np.all(res.coef[w_ref == 0.0] == 0.0)
    # the objective includes l1 |w|_1: from NumPy, in float64 (~1e-15 relative)
    assert res.objective == pytest.approx(
        full_objective(X, y, res.coef, res.intercept, l2, L1), rel=1e-12)
    assert res.loss_history[-1] == res.objective


@pytest.mark.parametrize("step", [steps.FISTA(), steps.Backtracking(),
                                  steps.Backtracking(grow=None)], ids=repr)
def test_objective_never_increases(step):
    X, y = problem()
    # standardize=False: the raw problem, which takes these strategies more than 20 steps
    res = gradfit.gradient_descent(X, y, step=step, l1=L1, tol=1e-12, max_iter=100_000,
                                   standardize=False)
    h = res.loss_history
    assert len(h) > 20
    # Each value is a float64 sum of m = 400 squared residuals, evaluated to about
    # (m + n) eps ~ 1e-13 relative in the worst case; a proximal step of size <= 1/L cannot
    # increase f in exact arithmetic, so only such rounding may show. Plain FISTA (no restart)
    # rises by ~1e-4 relative on this problem (see the next test).
    assert np.all(np.diff(h) <= 1e-12 * h[:-1])


def test_plain_fista_is_not_monotone_on_this_problem():
    """Shows the previous test is not vacuous: FISTA without restart, in NumPy, goes uphill."""
    X, y = problem()
    Xc, yc = centred(X, y, True)
    m, n = X.shape
    L = lipschitz(X, y, 0.0, True)

    def F(w):
        r = yc - Xc @ w
        return r @ r / (2 * m) + L1 * np.abs(w).sum()

    x = np.zeros(n)
    yk, t, hist = x.copy(), 1.0, [F(x)]
    for _ in range(100):
        v = yk + Xc.T @ (yc - Xc @ yk) / m / L
        xn = np.sign(v) * np.maximum(np.abs(v) - L1 / L, 0.0)
        tn = (1 + np.sqrt(1 + 4 * t * t)) / 2
        yk, x, t = xn + (t - 1) / tn * (xn - x), xn, tn
        hist.append(F(x))
    h = np.array(hist)
    assert np.max(np.diff(h) / h[:-1]) > 1e-6


@pytest.mark.parametrize("step", [steps.FISTA(), steps.Backtracking(), "fixed-1/L"], ids=str)
def test_converges_on_the_proximal_mapping_not_the_raw_gradient(step):
    X, y = problem()
    if step == "fixed-1/L":
        step = steps.Fixed(1.0 / lipschitz(X, y, 0.0, True))
    tol = 1e-8
    res = gradfit.gradient_descent(X, y, step=step, l1=L1, tol=tol, max_iter=100_000)
    assert res.converged
    target = tol * max(1.0, res.state["grad_norm_start"])
    Xc, yc = centred(X, y, True)
    w = np.asarray(res.coef, np.float64)
    # the raw gradient of the smooth part at the returned point: |g_j| = l1 on the support,
    # so |g| >= l1 sqrt(#nonzero); a raw-gradient test could never have stopped
    g = smooth_gradient(Xc, yc, w, 0.0, 0.0)
    assert np.linalg.norm(g) >= 0.9 * L1 * np.sqrt(np.count_nonzero(w))
    assert np.linalg.norm(g) > 1e4 * target
    # while the proximal mapping (NumPy, step 1/L) is small there
    L = lipschitz(X, y, 0.0, True)
    assert prox_mapping_norm(Xc, yc, w, 0.0, 0.0, L1, 1.0 / L) <= 1e-6


@pytest.mark.parametrize("kind", ["fixed", "invscaling"])
def test_proximal_sgd_lands_near_the_lasso_solution(kind):
    m, k, sigma = 4000, 50, 0.5
    X, y = problem(m=m)
    w_ref, b_ref = sklearn_fit(X, y, 0.0, L1, True)
    f_ref = full_objective(X, y, w_ref, b_ref, 0.0, L1)
    L = lipschitz(X, y, 0.0, True)
    if kind == "fixed":
        step = steps.Fixed(0.05 / L)
        rate = step.learning_rate
    else:
        step = steps.InverseScaling(0.5 / L, power=0.5)
        rate = step.learning_rate            # the largest rate used
    res = gradfit.gradient_descent(X, y, step=step, l1=L1, batch_size=k, max_iter=10, tol=0.0,
                                   n_iter_no_change=11, random_state=0)
    # SGD with rate eta and batches of k rows hovers around the solution with a spread of
    # about sqrt(eta sigma^2 / (2k)) per coordinate (<= 0.017 here) and an excess objective
    # of about eta sigma^2 tr(H) / (4k) (<= 3e-3 of f* ~ 1.7). Bounds: 10 spreads, 1e-2.
    f = full_objective(X, y, res.coef, res.intercept, 0.0, L1)
    assert (f - f_ref) / f_ref <= 1e-2
    assert np.abs(res.coef - w_ref).max() <= 10 * np.sqrt(rate * sigma**2 / (2 * k))
    # the proximal step makes exact zeros, only where the lasso has zeros
    zeros = res.coef == 0.0
    assert zeros.any()
    assert np.all(w_ref[zeros] == 0.0)
    assert res.objective == pytest.approx(f, rel=1e-12)


NOT_PROXIMAL = [steps.Momentum(), steps.Nesterov(), steps.AdaGrad(), steps.RMSprop(),
                steps.Adam(), steps.ExactLineSearch(), steps.BarzilaiBorwein()]


@pytest.mark.parametrize("step", NOT_PROXIMAL, ids=repr)
def test_strategies_without_proximal_form_are_refused(step):
    X, y = problem(m=50, n=3)
    with pytest.raises(ValueError, match="proximal") as info:
        gradfit.gradient_descent(X, y, step=step, l1=0.1)
    for name in ("Fixed", "Lipschitz", "Backtracking", "FISTA", "InverseScaling"):
        assert name in str(info.value)


@pytest.mark.parametrize("step", NOT_PROXIMAL[:5], ids=repr)
def test_mini_batch_l1_only_with_fixed_or_inverse_scaling(step):
    X, y = problem(m=50, n=3)
    with pytest.raises(ValueError, match="Fixed or InverseScaling"):
        gradfit.gradient_descent(X, y, step=step, l1=0.1, batch_size=10)


@pytest.mark.parametrize("step", [steps.Fixed(0.01), steps.InverseScaling(0.05)], ids=repr)
def test_mini_batch_l1_runs_with_fixed_and_inverse_scaling(step):
    X, y = problem(m=200, n=3)
    res = gradfit.gradient_descent(X, y, step=step, l1=0.1, batch_size=10, max_iter=2,
                                   random_state=0)
    assert res.solver == "sgd" and np.isfinite(res.objective)


@pytest.mark.parametrize("l1", [-0.1, float("nan"), float("inf"), "0.1", None])
def test_bad_l1(l1):
    X, y = problem(m=50, n=3)
    with pytest.raises(ValueError, match="l1"):
        gradfit.gradient_descent(X, y, l1=l1)


def test_solve_normal_has_no_l1():
    assert "l1" not in inspect.signature(gradfit.solve_normal).parameters
