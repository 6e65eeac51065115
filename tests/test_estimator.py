"""gradfit.LinearRegression (the scikit-learn compatible estimator) against independent
references.

References are computed here by NumPy (lstsq, SVD) or scikit-learn (LinearRegression, Ridge,
Lasso, ElasticNet, r2_score), never copied from gradfit's output. The objective is
f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2 + l1 ||w||_1, i.e. Ridge(alpha=l2 * m),
Lasso(alpha=l1), ElasticNet(alpha=l2 + l1, l1_ratio=l1 / (l2 + l1)).

Tolerances:
* Exact solver (Cholesky on well-conditioned data, cond(X) ~ 3): backward stable, error
  ~ eps * cond^2 ~ 1e-15, so 1e-10 (vs lstsq / scikit-learn) leaves a wide margin.
* Multi-target fits versus per-target fits: the same normal equations solved by the same
  factorisation, only the right-hand side formed differently: ~1e-12.
* Lasso / elastic net: both sides are iterative. gradfit runs FISTA to tol=1e-12 (relative
  norm of the proximal gradient mapping), scikit-learn's coordinate descent to a duality gap
  of 1e-14; each is then within ~1e-10 of the optimum, so 1e-6 relative is safe.
* Full-batch gradient descent: f is a quadratic with Hessian H, so ||w - w*|| <=
  ||grad f(w)|| / lambda_min(H), and the stopping rule guarantees ||grad f|| <= tol *
  max(1, ||grad f(w0)||). The test checks that bound (computed here with NumPy) and 1e-6
  relative with tol=1e-9.
* SGD with a constant rate (Fixed(0.01), batches of 32) never converges exactly: it hovers
  around the optimum at a distance set by the rate and the gradient noise, and stops when
  the epoch objective stops improving by tol=1e-4 for 5 epochs. So it is checked on the
  objective, within 1e-2 relative of the optimum (noise sigma = 0.5, f* ~ 0.125).
* Collinear designs (one column the float sum of two others): the documented answer is the
  minimum-norm solution, computed here by truncated SVD; 1e-9 is far above its rounding and
  far below the O(0.1) error of keeping a spurious null direction.

Also: fitted attributes, feature names from pandas, parameter validation at fit time, the
solver="auto" rule (AUTO_MAX_FEATURES monkeypatched small, plus its real default),
warm_start, partial_fit (SGD streaming and exact accumulation), clone / pickle, Pipeline and
GridSearchCV with threads.
"""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_backend
from numpy.testing import assert_allclose
from sklearn import linear_model as sk
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gradfit
import gradfit.estimators as estimators
from gradfit import (
    IllConditionedError,
    IllConditionedWarning,
    LinearRegression,
    gradient_descent,
    solve_normal,
    steps,
)


def problem(m=200, n=5, seed=0, sigma=0.5, zeros=()):
    """Columns of scales 1..2 with means in [-1, 1] (cond(X_centred) ~ 3), y linear plus noise;
    coefficients listed in ``zeros`` are 0 (for lasso)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * np.linspace(1.0, 2.0, n) + rng.uniform(-1, 1, n)
    w = rng.uniform(-2, 2, n)
    w[list(zeros)] = 0.0
    y = X @ w + 0.7 + sigma * rng.standard_normal(m)
    return X, y


def lstsq_fit(X, y, fit_intercept=True):
    """numpy.linalg.lstsq with a column of ones for the intercept."""
    A = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    return (sol[:-1], sol[-1]) if fit_intercept else (sol, 0.0)


def min_norm_fit(X, y, fit_intercept=True):
    """Minimum-norm least squares on the centred data by truncated SVD (rank by a 1e-10
    relative cutoff): the documented answer of the SVD fallback on a rank-deficient X."""
    xm = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    ym = y.mean() if fit_intercept else 0.0
    U, s, Vt = np.linalg.svd(X - xm, full_matrices=False)
    k = int((s > 1e-10 * s[0]).sum())
    w = Vt[:k].T @ ((U[:, :k].T @ (y - ym)) / s[:k])
    return w, ym - xm @ w


def objective(X, y, coef, intercept, l2=0.0, l1=0.0):
    r = y - X @ coef - intercept
    return float(r @ r / (2 * len(y)) + 0.5 * l2 * coef @ coef + l1 * np.abs(coef).sum())


def close(a, b, tol):
    """|a - b| <= tol * max(1, max|b|), elementwise (relative to the reference's scale)."""
    b = np.asarray(b, float)
    assert_allclose(a, b, rtol=0, atol=tol * max(1.0, float(np.abs(b).max())))


# ---------------------------------------------------------------------- exact solver
@pytest.mark.parametrize("solver", ["auto", "cholesky"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_solver_matches_lstsq_and_sklearn(solver, fit_intercept):
    X, y = problem()
    est = LinearRegression(solver=solver, fit_intercept=fit_intercept).fit(X, y)
    coef, b = lstsq_fit(X, y, fit_intercept)
    close(est.coef_, coef, 1e-10)
    close(est.intercept_, b, 1e-10)
    ref = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    close(est.coef_, ref.coef_, 1e-10)
    close(est.intercept_, ref.intercept_, 1e-10)
    close(est.predict(X), ref.predict(X), 1e-10)
    assert est.solver_ == "cholesky"


@pytest.mark.parametrize("solver", ["auto", "cholesky", "gd"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_sklearn(solver, fit_intercept):
    X, y = problem(seed=1)
    l2 = 0.3
    kw = dict(tol=1e-12, max_iter=20000) if solver == "gd" else {}
    est = LinearRegression(solver=solver, l2=l2, fit_intercept=fit_intercept, **kw).fit(X, y)
    ref = sk.Ridge(alpha=l2 * len(y), fit_intercept=fit_intercept, solver="svd").fit(X, y)
    tol = 1e-9 if solver == "gd" else 1e-10  # gd: ||grad|| <= 1e-12, lambda_min >= l2
    close(est.coef_, ref.coef_, tol)
    close(est.intercept_, ref.intercept_, tol)


@pytest.mark.parametrize("precompute", ["auto", True, False])
@pytest.mark.parametrize("solver", ["auto", "gd"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lasso_matches_sklearn(solver, fit_intercept, precompute):
    X, y = problem(seed=2, zeros=(1, 3))
    l1 = 0.1
    est = LinearRegression(solver=solver, l1=l1, fit_intercept=fit_intercept, tol=1e-12,
                           max_iter=50000, precompute=precompute).fit(X, y)
    ref = sk.Lasso(alpha=l1, fit_intercept=fit_intercept, tol=1e-14,
                   max_iter=1_000_000).fit(X, y)
    close(est.coef_, ref.coef_, 1e-6)
    close(est.intercept_, ref.intercept_, 1e-6)
    # the soft-threshold gives exact zeros, where coordinate descent has them
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)
    if fit_intercept:
        assert (ref.coef_ == 0).any()  # the problem does exercise the sparsity
    assert est.solver_ == "gradient_descent"
    assert isinstance(est.result_.step, steps.FISTA)


def test_elastic_net_matches_sklearn():
    X, y = problem(seed=3, zeros=(0,))
    l2, l1 = 0.05, 0.1
    est = LinearRegression(l2=l2, l1=l1, tol=1e-12, max_iter=50000).fit(X, y)
    ref = sk.ElasticNet(alpha=l2 + l1, l1_ratio=l1 / (l2 + l1), tol=1e-14,
                        max_iter=1_000_000).fit(X, y)
    close(est.coef_, ref.coef_, 1e-6)
    close(est.intercept_, ref.intercept_, 1e-6)


@pytest.mark.parametrize("tol", [None, 1e-9])
@pytest.mark.parametrize("step", [None, "bb", "lipschitz"])
def test_gd_reaches_the_exact_answer(tol, step):
    X, y = problem(seed=4)
    coef, b = lstsq_fit(X, y)
    est = LinearRegression(solver="gd", step=step, tol=tol, max_iter=20000).fit(X, y)
    assert est.result_.converged
    # The bound ||w - w*|| <= ||grad f(w)|| / lambda_min with ||grad f(w)|| <= tol *
    # max(1, ||grad f(w0)||), all computed here (w0 = 0, b at its optimum for w0).
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    lam_min = np.linalg.eigvalsh(Xc.T @ Xc / len(y))[0]
    g0 = np.linalg.norm(Xc.T @ yc / len(y))
    bound = (1e-6 if tol is None else tol) * max(1.0, g0) / lam_min
    assert np.linalg.norm(est.coef_ - coef) <= bound * (1 + 1e-6)
    if tol is not None:
        close(est.coef_, coef, 1e-6)
        close(est.intercept_, b, 1e-6)


def test_sgd_reaches_the_optimum_objective_approximately():
    X, y = problem(m=2000, seed=5)
    coef, b = lstsq_fit(X, y)
    f_star = objective(X, y, coef, b)
    est = LinearRegression(solver="sgd", random_state=0).fit(X, y)
    f = objective(X, y, est.coef_, est.intercept_)
    assert f_star * (1 - 1e-12) <= f <= f_star * (1 + 1e-2)
    assert est.solver_ == "sgd"
    assert est.result_.converged  # stopped by its epoch rule, not max_iter


@pytest.mark.parametrize("solver", ["auto", "cholesky", "gd", "sgd"])
def test_score_is_r2_score(solver):
    X, y = problem(seed=6)
    Xt, yt = problem(m=50, seed=7)
    est = LinearRegression(solver=solver, random_state=0).fit(X, y)
    w = np.random.default_rng(0).uniform(0.1, 2.0, len(yt))
    assert est.score(Xt, yt) == pytest.approx(r2_score(yt, est.predict(Xt)), abs=1e-12)
    assert est.score(Xt, yt, sample_weight=w) == pytest.approx(
        r2_score(yt, est.predict(Xt), sample_weight=w), abs=1e-12)


def test_score_multi_target_is_uniform_average_r2():
    X, y = problem(seed=8)
    Y = np.column_stack([y, -2 * y + np.random.default_rng(1).standard_normal(len(y))])
    est = LinearRegression().fit(X, Y)
    assert est.score(X, Y) == pytest.approx(r2_score(Y, est.predict(X)), abs=1e-12)


# -------------------------------------------------------------------- fitted attributes
def test_fitted_attributes_exact():
    X, y = problem(seed=9)
    est = LinearRegression(solver="cholesky").fit(X, y)
    assert est.coef_.shape == (5,) and est.coef_.dtype == np.float64
    assert isinstance(est.intercept_, float)
    assert est.n_iter_ == 0
    assert est.n_features_in_ == 5
    assert est.solver_ == "cholesky"
    assert est.loss_history_.size == 0
    assert np.isfinite(est.rcond_) and 0 < est.rcond_ <= 1
    assert not hasattr(est, "feature_names_in_")
    # rcond_ is LAPACK's estimate of the reciprocal 1-norm condition number of the
    # column-scaled matrix Xc^T Xc (documented). The estimate is a lower bound on the
    # condition number, usually within a factor of ~3: check against the exact value.
    Xc = X - X.mean(axis=0)
    A = Xc.T @ Xc
    d = np.sqrt(np.diag(A))
    exact = 1.0 / np.linalg.cond(A / np.outer(d, d), 1)
    assert exact * (1 - 1e-9) <= est.rcond_ <= 10 * exact


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_fitted_attributes_iterative(solver):
    X, y = problem(seed=10)
    est = LinearRegression(solver=solver, random_state=0).fit(X, y)
    assert est.coef_.shape == (5,)
    assert isinstance(est.intercept_, float)
    assert est.n_iter_ >= 1
    assert est.n_features_in_ == 5
    assert est.solver_ == {"gd": "gradient_descent", "sgd": "sgd"}[solver]
    assert est.loss_history_.shape == (est.n_iter_ + 1,)
    # the last entry is the objective of the returned point (computed here)
    assert est.loss_history_[-1] == pytest.approx(
        objective(X, y, est.coef_, est.intercept_), rel=1e-10)
    assert np.isnan(est.rcond_)


@pytest.mark.parametrize("solver", ["auto", "cholesky"])
def test_collinear_design_falls_back_to_qr(solver):
    # col 2 = col 0 + col 1: the normal matrix is singular, the fallback is the minimum-norm
    # solution (pivoted QR, null space removed); fitted values are unique, so they equal
    # lstsq-with-ones predictions.
    rng = np.random.default_rng(11)
    B = rng.standard_normal((100, 2))
    X = np.column_stack([B, B[:, 0] + B[:, 1]])
    y = B @ [1.0, -1.0] + 0.5 + 0.1 * rng.standard_normal(100)
    with pytest.warns(IllConditionedWarning):
        est = LinearRegression(solver=solver).fit(X, y)
    assert est.solver_ == "qr"
    assert 0 <= est.rcond_ < 1e-10
    w, b = min_norm_fit(X, y)
    close(est.coef_, w, 1e-9)
    close(est.intercept_, b, 1e-9)
    A = np.column_stack([X, np.ones(100)])
    close(est.predict(X), A @ np.linalg.lstsq(A, y, rcond=None)[0], 1e-9)
    with pytest.raises(IllConditionedError):
        LinearRegression(solver=solver, fallback=False).fit(X, y)


# ------------------------------------------------------------------- feature names
def test_feature_names_with_dataframe():
    X, y = problem(seed=12)
    cols = ["alpha", "beta", "gamma", "delta", "eps"]
    df = pd.DataFrame(X, columns=cols)
    est = LinearRegression().fit(df, pd.Series(y, name="target"))
    np.testing.assert_array_equal(est.feature_names_in_, cols)
    assert est.feature_names_in_.dtype == object
    ref = sk.LinearRegression().fit(X, y)
    close(est.predict(df), ref.predict(X), 1e-10)
    # as scikit-learn: ndarray after DataFrame warns, other column names are an error
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(df.rename(columns={"beta": "b"}))
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(df[cols[::-1]])
    # refitting on an ndarray forgets the names
    est.fit(X, y)
    assert not hasattr(est, "feature_names_in_")


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_feature_names_iterative_solvers(solver):
    X, y = problem(seed=13)
    df = pd.DataFrame(X, columns=list("abcde"))
    est = LinearRegression(solver=solver, random_state=0).fit(df, y)
    np.testing.assert_array_equal(est.feature_names_in_, list("abcde"))
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(df.rename(columns={"a": "z"}))


# --------------------------------------------------------------- parameter validation
Y2 = "2-D y"
BAD_PARAMS = [
    (dict(solver="cholesky", step="bb"), None, "step"),
    (dict(solver="cholesky", step=steps.Fixed(0.1)), None, "step"),
    (dict(solver="cholesky", l1=0.1), None, "l1"),
    (dict(solver="cholesky", batch_size=8), None, "batch_size"),
    (dict(solver="gd", batch_size=8), None, "batch_size"),
    (dict(solver="newton"), None, "solver"),
    (dict(solver="Cholesky"), None, "solver"),
    (dict(solver="gd"), Y2, r"1d|one target"),
    (dict(solver="sgd"), Y2, r"1d|one target"),
    (dict(solver="auto", l1=0.1), Y2, r"1d|one target"),
    (dict(l2=-1.0), None, "l2"),
    (dict(l1=float("nan"), solver="gd"), None, "l1"),
    (dict(solver="gd", max_iter=0), None, "max_iter"),
    (dict(solver="sgd", random_state="seed"), None, "random_state"),
    (dict(solver="sgd", step="bb"), None, "full-batch"),
    (dict(solver="sgd", precompute=True), None, "precompute"),
    (dict(solver="gd", precompute="yes"), None, "precompute"),
]


@pytest.mark.parametrize("params,target,match", BAD_PARAMS,
                         ids=[f"{p}{'-' + t if t else ''}" for p, t, _ in BAD_PARAMS])
def test_bad_parameters_raise_at_fit_time(params, target, match):
    X, y = problem(m=40, seed=14)
    if target == Y2:
        y = np.column_stack([y, 2 * y])
    est = LinearRegression(**params)  # construction never validates (scikit-learn rule)
    assert est.get_params()["solver"] == params.get("solver", "auto")
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


# --------------------------------------------------------------------- multi-target
@pytest.mark.parametrize("solver", ["auto", "cholesky"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_target_equals_per_target_fits(solver, fit_intercept, l2, weighted):
    X, y = problem(seed=15)
    rng = np.random.default_rng(15)
    Y = np.column_stack([y, -3 * y + 10, rng.standard_normal(len(y)), X @ [1, 0, 0, 2, 0]])
    sw = rng.uniform(0.0, 3.0, len(y)) if weighted else None
    est = LinearRegression(solver=solver, fit_intercept=fit_intercept, l2=l2)
    est.fit(X, Y, sample_weight=sw)
    assert est.coef_.shape == (4, 5) and est.intercept_.shape == (4,)
    assert est.n_iter_ == 0
    for t in range(Y.shape[1]):
        one = LinearRegression(solver="cholesky", fit_intercept=fit_intercept, l2=l2)
        one.fit(X, Y[:, t], sample_weight=sw)
        close(est.coef_[t], one.coef_, 1e-12)
        close(est.intercept_[t], one.intercept_, 1e-12)
    assert est.predict(X).shape == Y.shape
    # and the per-target fits themselves are right (independent reference)
    if l2 > 0 and weighted:
        ref = sk.Ridge(alpha=l2 * sw.sum(), fit_intercept=fit_intercept,
                       solver="svd").fit(X, Y, sample_weight=sw)
        close(est.coef_, ref.coef_, 1e-10)
        close(est.intercept_, ref.intercept_, 1e-10)


def test_multi_target_with_large_column_means():
    # Columns with large means (as calendar years or population counts in the NIST Longley
    # data). The single-target exact path centres the data (shift by the first block) and is
    # accurate to ~1e-15 here, as lstsq on centred data confirms; the multi-target path must
    # be too (the same normal equations: only X^T y for several columns at once).
    rng = np.random.default_rng(16)
    m, n = 500, 3
    X = rng.standard_normal((m, n)) + np.array([1e4, -2e4, 5e3])
    Y = np.column_stack([X @ rng.uniform(-2, 2, n) + 0.5 * rng.standard_normal(m)
                         for _ in range(2)])
    est = LinearRegression().fit(X, Y)
    for t in range(2):
        Xc = X - X.mean(axis=0)
        w = np.linalg.lstsq(Xc, Y[:, t] - Y[:, t].mean(), rcond=None)[0]
        one = LinearRegression().fit(X, Y[:, t])
        close(one.coef_, w, 1e-10)  # the reference is sound
        close(est.coef_[t], w, 1e-10)
        close(est.intercept_[t], one.intercept_, 1e-10)


def collinear_problem(seed, m=500):
    """col 2 = col 0 + col 1 (rounded: an exact float sum), y on the first two columns."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((m, 2))
    X = np.column_stack([B, B.sum(axis=1)])
    Y = np.column_stack([B[:, 0] + rng.standard_normal(m), rng.standard_normal(m)])
    return X, Y


def coef_errors(est_coef, est_intercept, X, y):
    w, b = min_norm_fit(X, y)
    return float(np.abs(est_coef - w).max()), abs(est_intercept - b)


def test_multi_target_collinear_design_equals_per_target_fits():
    # Per target the exact path falls back to the SVD (minimum-norm); a 2-D y must give each
    # column that same answer. Whether the rounding in the normal matrix hides its null
    # direction depends on the data, hence several seeds; 1e-9 is far above that rounding.
    errors = {}
    for seed in range(5):
        X, Y = collinear_problem(seed)
        with pytest.warns(IllConditionedWarning):
            est = LinearRegression().fit(X, Y)
        for t in range(2):
            with pytest.warns(IllConditionedWarning):
                one = LinearRegression().fit(X, Y[:, t])
            assert max(coef_errors(one.coef_, one.intercept_, X, Y[:, t])) < 1e-9  # sound ref
            err = coef_errors(est.coef_[t], est.intercept_[t], X, Y[:, t])
            if max(err) > 1e-9:
                errors[(seed, t)] = err
    assert not errors, f"(seed, target): (coef error, intercept error) = {errors}"


def test_multi_target_collinear_design_reports_qr():
    # solver_ is documented as "cholesky", "qr" (the exact solver's fallback),
    # "gradient_descent" or "sgd"; the exact path's fallback on a collinear design must say
    # "qr" for a 2-D y too.
    X, Y = collinear_problem(0)
    with pytest.warns(IllConditionedWarning):
        est = LinearRegression().fit(X, Y)
    assert est.solver_ == "qr"


# ------------------------------------------------------------------- solver="auto"
@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(estimators, "AUTO_MAX_FEATURES", 3)
    return 3


@pytest.mark.parametrize("n,params,expected", [
    (3, {}, "cholesky"),                           # n <= AUTO_MAX_FEATURES
    (2, {}, "cholesky"),
    (4, {}, "gradient_descent"),                   # n > AUTO_MAX_FEATURES
    (3, dict(l1=0.01), "gradient_descent"),        # l1 > 0
    (2, dict(l1=0.01, l2=0.1), "gradient_descent"),
    (3, dict(batch_size=8), "sgd"),                # batch_size set
    (4, dict(batch_size=8), "sgd"),                # batch_size set, wide
])
def test_auto_follows_the_documented_rule(small_threshold, n, params, expected):
    X, y = problem(m=60, n=n, seed=18)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        est = LinearRegression(solver="auto", random_state=0, **params).fit(X, y)
    assert est.solver_ == expected
    if expected == "gradient_descent":  # documented steps: FISTA for l1, else CG
        want = steps.FISTA if params.get("l1", 0) > 0 else steps.ConjugateGradient
        assert isinstance(est.result_.step, want)


def test_auto_wide_problem_reaches_the_exact_answer(small_threshold):
    X, y = problem(m=100, n=6, seed=19)
    est = LinearRegression(tol=1e-10).fit(X, y)
    assert est.solver_ == "gradient_descent"
    coef, b = lstsq_fit(X, y)
    close(est.coef_, coef, 1e-6)


def test_auto_threshold_default_is_the_module_constant():
    assert estimators.AUTO_MAX_FEATURES == 4000  # the documented, measured value
    n = estimators.AUTO_MAX_FEATURES
    # The rule itself, without fitting a 4000-column problem (the rule's effect on real fits
    # is tested above with the constant monkeypatched small).
    est = LinearRegression()
    assert est._resolve_solver(n, False) == "cholesky"
    assert est._resolve_solver(n + 1, False) == "gd"
    assert est._resolve_solver(n + 1, True) == "cholesky"  # several targets: exact


# ---------------------------------------------------------------------- warm start
def test_warm_start_gd_continues():
    X, y = problem(seed=21)
    # backtracking: a strategy that takes more than a few steps (the default, conjugate
    # gradient, needs about n_features)
    est = LinearRegression(solver="gd", step="backtracking", tol=1e-10,
                           warm_start=True).fit(X, y)
    first, coef = est.n_iter_, est.coef_.copy()
    assert first > 5
    est.fit(X, y)
    assert est.n_iter_ <= 1  # already converged: at most one step
    close(est.coef_, coef, 1e-9)
    cold = LinearRegression(solver="gd", step="backtracking", tol=1e-10).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == first  # without warm_start a refit starts over


def test_warm_start_gd_resumes_exactly():
    # 5 + 5 warm-started iterations are the same run as 10 iterations in one go: the point
    # and the step strategy's state (backtracking's trial step) carry over.
    X, y = problem(seed=22)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        est = LinearRegression(solver="gd", step="backtracking", max_iter=5, warm_start=True)
        est.fit(X, y).fit(X, y)
        ref = gradient_descent(X, y, step="backtracking", max_iter=10)
    close(est.coef_, ref.coef, 1e-12)
    close(est.intercept_, ref.intercept, 1e-12)


def test_warm_start_along_a_regularisation_path():
    # the usual use of warm_start: change l2 between fits; each fit still reaches Ridge's
    # answer for its own l2 (bound as in test_gd_reaches_the_exact_answer, tol=1e-10).
    X, y = problem(seed=23)
    est = LinearRegression(solver="gd", tol=1e-10, max_iter=20000, warm_start=True)
    for l2 in (1.0, 0.1, 0.01):
        est.set_params(l2=l2).fit(X, y)
        ref = sk.Ridge(alpha=l2 * len(y), solver="svd").fit(X, y)
        close(est.coef_, ref.coef_, 1e-7)
        close(est.intercept_, ref.intercept_, 1e-7)


# --------------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("solver", ["sgd", "auto"])
@pytest.mark.parametrize("batch_size", [None, 10])
def test_partial_fit_sgd_equals_streaming_gradient_descent(solver, batch_size):
    assert estimators.SGD_DEFAULT_BATCH_SIZE == 32  # the documented default
    X, y = problem(m=400, seed=23)
    est = LinearRegression(solver=solver, batch_size=batch_size, shuffle=False)
    res = None
    k = batch_size or estimators.SGD_DEFAULT_BATCH_SIZE
    for idx in np.array_split(np.arange(len(y)), 5):
        est.partial_fit(X[idx], y[idx])
        res = gradient_descent(X[idx], y[idx], batch_size=k, shuffle=False,  # default step
                               max_iter=1, init=res)
        close(est.coef_, res.coef, 1e-12)
        close(est.intercept_, res.intercept, 1e-12)
        assert est.solver_ == "sgd"
        assert est.n_features_in_ == 5


def test_partial_fit_sgd_with_weights_equals_streaming_gradient_descent():
    X, y = problem(m=300, seed=24)
    w = np.random.default_rng(24).uniform(0.0, 2.0, len(y))
    est = LinearRegression(solver="sgd", batch_size=16, shuffle=False, l2=0.01)
    res = None
    for idx in np.array_split(np.arange(len(y)), 3):
        est.partial_fit(X[idx], y[idx], sample_weight=w[idx])
        res = gradient_descent(X[idx], y[idx], batch_size=16, shuffle=False,  # default step
                               max_iter=1, init=res, l2=0.01, sample_weight=w[idx])
    close(est.coef_, res.coef, 1e-12)
    close(est.intercept_, res.intercept, 1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_cholesky_equals_solve_normal_on_all_rows(weighted):
    X, y = problem(m=300, seed=25)
    sw = np.random.default_rng(25).uniform(0.0, 2.0, len(y)) if weighted else None
    est = LinearRegression(solver="cholesky", l2=0.01)
    for idx in np.array_split(np.arange(len(y)), 6):
        est.partial_fit(X[idx], y[idx], sample_weight=None if sw is None else sw[idx])
    ref = solve_normal(X, y, l2=0.01, sample_weight=sw)
    close(est.coef_, ref.coef, 1e-12)
    close(est.intercept_, ref.intercept, 1e-12)
    assert est.solver_ == "cholesky" and est.n_iter_ == 0
    skref = sk.Ridge(alpha=0.01 * (len(y) if sw is None else sw.sum()), solver="svd")
    skref.fit(X, y, sample_weight=sw)
    close(est.coef_, skref.coef_, 1e-10)


def test_partial_fit_cholesky_collinear_equals_solve_normal_on_all_rows():
    # partial_fit is documented to give "the exact fit of all" the chunks; on a collinear
    # design (col 2 = col 0 + col 1) that is solve_normal's minimum-norm SVD answer.
    errors = {}
    for seed in range(5):
        X, Y = collinear_problem(seed)
        y = Y[:, 0]
        est = LinearRegression(solver="cholesky")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IllConditionedWarning)
            for idx in np.array_split(np.arange(len(y)), 4):
                est.partial_fit(X[idx], y[idx])
            ref = solve_normal(X, y)
        assert max(coef_errors(ref.coef, ref.intercept, X, y)) < 1e-9  # sound reference
        err = coef_errors(est.coef_, est.intercept_, X, y)
        if max(err) > 1e-9:
            errors[seed] = err
    assert not errors, f"seed: (coef error, intercept error) = {errors}"


def test_partial_fit_unavailable_for_full_batch_gd():
    assert not hasattr(LinearRegression(solver="gd"), "partial_fit")
    assert hasattr(LinearRegression(solver="sgd"), "partial_fit")
    assert hasattr(LinearRegression(solver="cholesky"), "partial_fit")


# ----------------------------------------------------- clone, pickle, meta-estimators
@pytest.mark.parametrize("solver", ["auto", "cholesky", "gd", "sgd"])
def test_clone_and_pickle_round_trips(solver):
    X, y = problem(seed=27)
    est = LinearRegression(solver=solver, l2=0.01, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.solver_ == est.solver_ and back.n_iter_ == est.n_iter_
    fresh = clone(est)
    assert not hasattr(fresh, "coef_")
    assert fresh.get_params() == est.get_params()
    np.testing.assert_array_equal(fresh.fit(X, y).predict(X), est.predict(X))


def test_pickle_then_continue_streaming():
    # the optimiser state survives pickling: a pickled stream continues identically
    X, y = problem(m=300, seed=28)
    chunks = np.array_split(np.arange(300), 3)
    a = LinearRegression(solver="sgd", batch_size=10, shuffle=False)
    b = LinearRegression(solver="sgd", batch_size=10, shuffle=False)
    for est in (a, b):
        est.partial_fit(X[chunks[0]], y[chunks[0]])
    b = pickle.loads(pickle.dumps(b))
    for idx in chunks[1:]:
        a.partial_fit(X[idx], y[idx])
        b.partial_fit(X[idx], y[idx])
    np.testing.assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("solver", ["auto", "gd"])
def test_pipeline_with_standard_scaler(solver):
    X, y = problem(seed=29)
    X = X * [1.0, 100.0, 0.01, 1.0, 1e3]  # scaling matters for gradient descent
    pipe = make_pipeline(StandardScaler(), LinearRegression(solver=solver, tol=1e-10))
    ref = make_pipeline(StandardScaler(), sk.LinearRegression())
    pipe.fit(X, y)
    ref.fit(X, y)
    close(pipe.predict(X), ref.predict(X), 1e-8)
    assert pipe.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-10)


def test_grid_search_threads_match_serial():
    X, y = problem(m=300, n=8, seed=30)
    grid = {"l2": [0.0, 0.01, 0.1, 1.0], "solver": ["cholesky", "gd"]}
    cv = KFold(5, shuffle=True, random_state=0)
    # tol=1e-8: tighter than that, the backtracking line search (an Armijo test on f ~ 0.2)
    # can no longer see decreases of ~||grad||^2 above f's rounding and runs to max_iter.
    base = LinearRegression(tol=1e-8)
    serial = GridSearchCV(base, grid, cv=cv, n_jobs=1).fit(X, y)
    with parallel_backend("threading", n_jobs=2):
        threaded = GridSearchCV(base, grid, cv=cv, n_jobs=2)
        threaded.fit(X, y)
    assert threaded.best_params_ == serial.best_params_
    assert_allclose(threaded.cv_results_["mean_test_score"],
                    serial.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    # cholesky and converged gd score the same for each l2 (same optimum; coefficients
    # within ~1e-8 by the gradient bound, R^2 within ~1e-7)
    scores = serial.cv_results_["mean_test_score"].reshape(4, 2)
    assert_allclose(scores[:, 0], scores[:, 1], rtol=0, atol=1e-7)
    # and the scores are those of scikit-learn's Ridge(alpha = l2 * training rows)
    for i, l2 in enumerate(grid["l2"]):
        fold = [r2_score(y[te], sk.Ridge(alpha=l2 * len(tr), solver="svd").fit(
            X[tr], y[tr]).predict(X[te])) for tr, te in cv.split(X)]
        assert scores[i, 0] == pytest.approx(np.mean(fold), abs=1e-10)


def test_float32_targets_near_the_top_of_their_range_leak_no_numpy_warning():
    # scikit-learn's finiteness check of y sums it in float32 first: 18 values of 1.5e38 to
    # 3e38 overflow that sum (a RuntimeWarning) though every value is finite
    import warnings

    rng = np.random.default_rng(127)
    X = rng.standard_normal((18, 1)).tolist()  # float64: y is solved in float64
    y = (np.asarray(X)[:, 0] * 1.5e38).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(model.coef_, [1.5e38], rtol=1e-5)
