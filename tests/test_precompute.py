"""Full-batch gradient descent on the Gram statistics: ``gradient_descent(..., precompute=True)``.

What is checked, and why:

* Lasso and elastic net agree with scikit-learn's coordinate descent (tol=1e-12, checked in
  test_lasso.py to satisfy the optimality conditions to 1e-8, with a zero set that a 1e-6
  error cannot change) for FISTA, Backtracking, Lipschitz and Fixed(1/L), with and without
  intercept: coefficients to 1e-6 relative to max|coef|, the same exact zeros. float32 data
  are compared with scikit-learn on the same float32 values in float64 (the rounding of the
  data is then no error of ours); their statistics are summed in float64, so the only
  float32 error left is the rounding of the returned coefficients (~3e-8 here).
* Every strategy follows the same path as with precompute=False: 30 steps from the same start
  give the same loss history to 1e-10 and the same coefficients to 1e-10 (two formulas for
  the same numbers: the observed difference is ~1e-13, from the objective's cancellation
  yty - 2 w.xty + w.G w, about eps * yty / rss ~ 1e-14 here, and from summation order).
* The reported objective is the true one (NumPy, from the residuals) to 1e-10 relative: the
  statistics lose about eps * yty absolute (see above), far below that.
* Sample weights: integer weights equal the unweighted fit of the data with rows repeated
  (to 1e-9; both runs stop at a proximal-mapping norm of 1e-12), and scikit-learn's weighted
  Lasso (1e-6).
* Resuming with init=<FitResult> continues exactly (statistics recomputed from the same data
  are the same bits); the callback sees the same objectives as loss_history.
* precompute="auto" is the Gram path exactly when X has at least
  AUTO_GRAM_MIN_ROWS_PER_COLUMN rows per column and at most AUTO_GRAM_MAX_COLUMNS columns
  (full batch), the pass over X otherwise.
* Bad values and precompute=True with batch_size raise ValueErrors naming the argument;
  non-finite data are still reported as such.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import Lasso

import gradfit
from descent_problems import make_problem
from gradfit import descent, steps
from gradfit.descent import AUTO_GRAM_MIN_ROWS_PER_COLUMN
from test_lasso import CASES, L1, all_strategies, full_objective, problem, sklearn_fit


def fit(X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        return gradfit.gradient_descent(X, y, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", CASES)
@pytest.mark.parametrize("which", range(4), ids=["FISTA", "Backtracking", "Lipschitz",
                                                  "Fixed(1/L)"])
def test_agrees_with_scikit_learn(which, l2, fit_intercept, dtype):
    X, y = problem()
    X, y = X.astype(dtype), y.astype(dtype)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    w_ref, b_ref = sklearn_fit(X64, y64, l2, L1, fit_intercept)
    step = all_strategies(X64, y64, l2, fit_intercept)[which]
    res = gradfit.gradient_descent(X, y, step=step, l1=L1, l2=l2, fit_intercept=fit_intercept,
                                   tol=1e-10, max_iter=100_000, precompute=True)
    assert res.converged
    assert res.coef.dtype == dtype
    scale = np.abs(w_ref).max()
    np.testing.assert_allclose(res.coef, w_ref, rtol=0, atol=1e-6 * scale)
    assert res.intercept == pytest.approx(b_ref, abs=1e-6 * max(scale, abs(b_ref)))
    np.testing.assert_array_equal(res.coef == 0.0, w_ref == 0.0)
    # the objective from the statistics is the objective of the returned (w, b)
    assert res.objective == pytest.approx(
        full_objective(X64, y64, res.coef, res.intercept, l2, L1), rel=1e-10 if
        dtype == np.float64 else 1e-6)  # float32: coef is rounded on return (~3e-8 here)


def every_strategy():
    """Each strategy once, with rates that are stable on make_problem (L < 20 there)."""
    return [steps.Fixed(0.01), steps.Lipschitz(), steps.ExactLineSearch(),
            steps.Backtracking(), steps.Backtracking(grow=None), steps.BarzilaiBorwein(),
            steps.Momentum(0.01), steps.Nesterov(0.01), steps.AdaGrad(0.5),
            steps.RMSprop(0.01), steps.Adam(0.05), steps.InverseScaling(0.02),
            steps.FISTA()]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("step", every_strategy(), ids=repr)
def test_every_strategy_takes_the_same_path(step, fit_intercept):
    X, y = make_problem()
    l1 = 0.05 if step.proximal else 0.0
    # standardize=False: the rates above are for the raw problem (the standardised one is
    # compared in test_trust.py)
    kw = dict(step=step, l2=0.01, l1=l1, fit_intercept=fit_intercept, tol=0.0, max_iter=30,
              standardize=False)
    a = fit(X, y, **kw)
    b = fit(X, y, precompute=True, **kw)
    assert a.n_iter == b.n_iter == 30
    np.testing.assert_allclose(b.loss_history, a.loss_history, rtol=1e-10)
    np.testing.assert_allclose(b.coef, a.coef, rtol=0, atol=1e-10 * np.abs(a.coef).max())
    assert b.intercept == pytest.approx(a.intercept, rel=1e-10)
    assert b.grad_norm == pytest.approx(a.grad_norm, rel=1e-8)
    # and the objective of the returned point is the true one
    assert b.objective == pytest.approx(full_objective(X, y, b.coef, b.intercept, 0.01, l1),
                                        rel=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("step", ["fista", "backtracking"])
def test_weights_equal_repeated_rows(step, fit_intercept):
    X, y = problem(m=120)
    counts = np.random.default_rng(3).integers(0, 4, len(y))
    kw = dict(step=step, l1=L1, fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000,
              precompute=True)
    weighted = gradfit.gradient_descent(X, y, sample_weight=counts, **kw)
    repeated = gradfit.gradient_descent(np.repeat(X, counts, axis=0), np.repeat(y, counts),
                                        **kw)
    assert weighted.converged and repeated.converged
    scale = np.abs(repeated.coef).max()
    np.testing.assert_allclose(weighted.coef, repeated.coef, rtol=0, atol=1e-9 * scale)
    assert weighted.intercept == pytest.approx(repeated.intercept, abs=1e-9 * scale)
    np.testing.assert_array_equal(weighted.coef == 0.0, repeated.coef == 0.0)


def test_weighted_lasso_matches_scikit_learn():
    X, y = problem()
    w = np.random.default_rng(4).uniform(0.1, 3.0, len(y))
    est = Lasso(alpha=L1, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=w)
    res = gradfit.gradient_descent(X, y, step="fista", l1=L1, sample_weight=w, tol=1e-10,
                                   max_iter=100_000, precompute=True)
    scale = np.abs(est.coef_).max()
    np.testing.assert_allclose(res.coef, est.coef_, rtol=0, atol=1e-6 * scale)
    assert res.intercept == pytest.approx(est.intercept_, abs=1e-6 * scale)
    np.testing.assert_array_equal(res.coef == 0.0, est.coef_ == 0.0)


@pytest.mark.parametrize("step", [steps.FISTA(), steps.Backtracking(), steps.Adam(0.05)],
                         ids=repr)
def test_resume_continues_exactly(step):
    X, y = make_problem()
    kw = dict(step=step, l2=0.01, l1=0.05 if step.proximal else 0.0, tol=0.0,
              precompute=True)
    first = fit(X, y, max_iter=20, **kw)
    second = fit(X, y, max_iter=20, init=first, **kw)
    whole = fit(X, y, max_iter=40, **kw)
    np.testing.assert_array_equal(second.coef, whole.coef)
    assert second.intercept == whole.intercept
    np.testing.assert_array_equal(
        np.concatenate([first.loss_history, second.loss_history[1:]]), whole.loss_history)


def test_callback_sees_the_loss_history():
    X, y = make_problem()
    seen = []
    res = gradfit.gradient_descent(X, y, step="fista", l1=0.05, precompute=True,
                                   callback=lambda k, w, b, f: seen.append(f))
    assert res.converged
    assert seen == list(res.loss_history)


@pytest.mark.parametrize("rows_per_column", [AUTO_GRAM_MIN_ROWS_PER_COLUMN - 1,
                                             AUTO_GRAM_MIN_ROWS_PER_COLUMN])
def test_auto_is_the_gram_path_for_tall_data(rows_per_column):
    n = 8
    X, y = make_problem(m=rows_per_column * n, n=n)
    kw = dict(step="fista", l1=0.05, tol=0.0, max_iter=25)
    auto = fit(X, y, precompute="auto", **kw)
    expected = fit(X, y, precompute=rows_per_column >= AUTO_GRAM_MIN_ROWS_PER_COLUMN, **kw)
    other = fit(X, y, precompute=rows_per_column < AUTO_GRAM_MIN_ROWS_PER_COLUMN, **kw)
    np.testing.assert_array_equal(auto.loss_history, expected.loss_history)
    # the test can tell the two paths apart: they differ in the last bits
    assert not np.array_equal(auto.loss_history, other.loss_history)


def test_auto_reads_x_when_there_are_too_many_columns(monkeypatch):
    n = 8
    X, y = make_problem(m=AUTO_GRAM_MIN_ROWS_PER_COLUMN * n, n=n)
    kw = dict(step="fista", l1=0.05, tol=0.0, max_iter=25)
    monkeypatch.setattr(descent, "AUTO_GRAM_MAX_COLUMNS", n - 1)
    np.testing.assert_array_equal(fit(X, y, precompute="auto", **kw).loss_history,
                                  fit(X, y, **kw).loss_history)


def test_auto_with_mini_batches_reads_x():
    X, y = make_problem()
    kw = dict(step="fixed", batch_size=50, max_iter=2, random_state=0)
    np.testing.assert_array_equal(fit(X, y, precompute="auto", **kw).coef, fit(X, y, **kw).coef)


def test_precompute_with_batch_size_is_refused():
    X, y = make_problem()
    with pytest.raises(ValueError, match="precompute=True .* batch_size"):
        gradfit.gradient_descent(X, y, step="fixed", batch_size=50, precompute=True)


@pytest.mark.parametrize("value", ["yes", "Auto", None, 1, 0.0])
def test_bad_precompute(value):
    X, y = make_problem()
    with pytest.raises(ValueError, match="precompute must be True, False or 'auto'"):
        gradfit.gradient_descent(X, y, precompute=value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_are_reported(bad):
    X, y = make_problem()
    X[3, 2] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or infinity .*\(3, 2\)"):
        gradfit.gradient_descent(X, y, step="fista", l1=0.05, precompute=True)
