"""The SVD fallback of ``solve_normal`` for singular and ill-conditioned problems.

What is checked, and why
------------------------
Cholesky on the normal equations squares the condition number, so for exactly collinear
designs it fails and for nearly collinear ones (kappa ~ 1e12, kappa^2 ~ 1e24 >> 1/eps) its answer
is noise. ``solve_normal`` must detect this and, with the default ``fallback=True``, warn
(``IllConditionedWarning``), report ``solver == "lstsq"`` and a message saying why, and return an
answer as accurate as ``numpy.linalg.lstsq``:

* rank deficient (a duplicated column, a column that is the sum of two others, more columns than
  rows): lstsq's minimum-norm solution, to 1e-8 relative;
* near collinear: the residual norm of lstsq (and the exactly known minimal residual) to 1e-8,
  and the coefficients to the forward-error bound of a backward-stable least-squares solver,
  C * kappa * eps;
* ``objective`` is still f at the returned coefficients.

With ``fallback=False`` it must raise ``IllConditionedError`` (a ``numpy.linalg.LinAlgError``)
whose message points to ``l2``. With ``l2 > 0`` a wide problem is positive definite and is solved
by Cholesky, with no warning.
"""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import gradfit

EPS = np.finfo(np.float64).eps


def lstsq_with_ones(X, y, fit_intercept):
    """numpy.linalg.lstsq on [X, 1] (or X), returning (w, b, residual vector)."""
    A = np.asarray(X, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if fit_intercept:
        A = np.column_stack([A, np.ones(A.shape[0])])
    sol = np.linalg.lstsq(A, t, rcond=None)[0]
    w, b = (sol[:-1], float(sol[-1])) if fit_intercept else (sol, 0.0)
    return w, b, t - A @ sol


def residual(X, y, coef, intercept):
    return (np.asarray(y, dtype=np.float64) - np.asarray(X, dtype=np.float64)
            @ np.asarray(coef, dtype=np.float64) - intercept)


def fit_expecting_fallback(X, y, **kw):
    with pytest.warns(gradfit.IllConditionedWarning) as record:
        res = gradfit.solve_normal(X, y, **kw)
    assert res.solver == "qr"
    assert isinstance(res.message, str) and res.message
    assert any(str(w.message) for w in record)
    # says why: the normal equations were singular / too ill-conditioned, so QR ran
    assert "QR" in res.message
    assert ("not positive definite" in res.message) or ("ill-conditioned" in res.message)
    assert res.rcond < 1e-10  # the documented trust threshold (0.0 when not positive definite)
    assert np.all(np.isfinite(res.coef)) and np.isfinite(res.intercept)
    return res


def assert_no_fallback_error(X, y, **kw):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(gradfit.IllConditionedError, match=r"\bl2\b") as info:
            gradfit.solve_normal(X, y, fallback=False, **kw)
    assert isinstance(info.value, np.linalg.LinAlgError)
    assert not [w for w in record if issubclass(w.category, gradfit.IllConditionedWarning)]


def test_error_is_a_linalg_error():
    assert issubclass(gradfit.IllConditionedError, np.linalg.LinAlgError)
    assert issubclass(gradfit.IllConditionedWarning, UserWarning)


# ----------------------------------------------------------------------------------------------
# Exactly collinear designs
# ----------------------------------------------------------------------------------------------

def collinear_problem(kind, seed=0, m=200):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((m, 4)) + rng.uniform(-1.0, 1.0, 4)
    if kind == "duplicate":
        X = np.column_stack([Z[:, :2], Z[:, 1], Z[:, 2:]])  # column 1 appears twice
    else:
        X = np.column_stack([Z, Z[:, 0] + Z[:, 2]])  # last column = col 0 + col 2
    y = Z @ rng.standard_normal(4) + 0.5 + 0.1 * rng.standard_normal(m)
    return X, y


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("kind", ["duplicate", "sum"])
def test_exactly_collinear_gives_minimum_norm(kind, fit_intercept, order):
    X, y = collinear_problem(kind)
    X = np.asarray(X, order=order)
    res = fit_expecting_fallback(X, y, fit_intercept=fit_intercept)
    assert "minimum-norm" in res.message
    assert res.coef.dtype == np.float64
    # The null vectors v (e.g. e1 - e2) satisfy X v = 0 exactly (not just X v = const), so the
    # minimum-norm (w, b) of [X, 1] has the same w as the minimum-norm w with a free
    # intercept: lstsq on [X, 1] is the reference. Both solvers truncate at the same relative
    # threshold; on the retained, well-conditioned part (kappa_r below) each is accurate to
    # ~kappa_r * eps << 1e-8.
    w_ref, b_ref, r_ref = lstsq_with_ones(X, y, fit_intercept)
    s = np.linalg.svd(np.column_stack([X, np.ones(len(y))]) if fit_intercept else X,
                      compute_uv=False)
    kappa_r = s[0] / s[s > s[0] * 1e-10][-1]
    assert kappa_r * EPS * 1e3 < 1e-8
    np.testing.assert_allclose(res.coef, w_ref, rtol=0, atol=1e-8 * np.linalg.norm(w_ref))
    assert abs(res.intercept - b_ref) <= 1e-8 * (abs(b_ref) + np.linalg.norm(w_ref))
    r = residual(X, y, res.coef, res.intercept)
    np.testing.assert_allclose(np.linalg.norm(r), np.linalg.norm(r_ref), rtol=1e-8)
    # the objective is still f at the returned point
    np.testing.assert_allclose(res.objective, r @ r / (2 * len(y)), rtol=1e-8)
    # and predict agrees with the coefficients
    np.testing.assert_allclose(res.predict(X), y - r, rtol=0, atol=1e-12 * np.abs(y).max())


@pytest.mark.parametrize("kind", ["duplicate", "sum"])
def test_exactly_collinear_without_fallback_raises(kind):
    X, y = collinear_problem(kind)
    assert_no_fallback_error(X, y)
    assert_no_fallback_error(X, y, fit_intercept=False)


def test_exactly_collinear_float32():
    X, y = collinear_problem("duplicate", seed=3)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    res = fit_expecting_fallback(X32, y32)
    assert res.coef.dtype == np.float32
    w_ref, b_ref, _ = lstsq_with_ones(X32, y32, True)
    # solved in float64 on the float32 values (same reference problem), then rounded to float32
    rtol = 1e-8 + np.finfo(np.float32).eps
    assert np.linalg.norm(res.coef - w_ref) <= rtol * np.linalg.norm(w_ref)
    assert abs(res.intercept - b_ref) <= rtol * (abs(b_ref) + np.linalg.norm(w_ref))
    assert_no_fallback_error(X32, y32)


# ----------------------------------------------------------------------------------------------
# Nearly collinear design, kappa = 1e12
# ----------------------------------------------------------------------------------------------

def near_collinear_design(fit_intercept, seed=1, m=120, n=6, kappa=1e12):
    """X = U diag(s) V^T (+ 1 c^T with an intercept), s from 1 to 1/kappa (times sqrt(m) so the
    entries are O(1), like the column of ones), every row repeated twice.

    With an intercept U is orthogonal to the ones vector, so the centred design is exactly
    U diag(s) V^T. The repeated rows make r = (+1, -1, +1, -1, ...) exactly orthogonal to every
    column of the computed X and to the ones vector, whatever the rounding: y = X w + b + rho r
    then has least-squares solution exactly (w, b) and minimal residual norm exactly
    rho * sqrt(m), which a random residual could not give for so ill-conditioned an X.
    """
    rng = np.random.default_rng(seed)
    h = m // 2
    G = rng.standard_normal((h, n))
    U = np.linalg.qr(G - G.mean(axis=0) if fit_intercept else G)[0]
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    s = np.sqrt(h) * np.geomspace(1.0, 1.0 / kappa, n)
    half = (U * s) @ V.T
    if fit_intercept:
        half = half + rng.uniform(-1.0, 1.0, n)
    X = np.repeat(half, 2, axis=0)
    r = np.tile([1.0, -1.0], h)
    w = rng.standard_normal(n)
    b = 0.8 if fit_intercept else 0.0
    return X, w, b, r


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_near_collinear_design_is_what_we_think(fit_intercept):
    X, w, b, r = near_collinear_design(fit_intercept)
    Xc = X - X.mean(axis=0) if fit_intercept else X
    assert 0.5e12 < np.linalg.cond(Xc) < 2e12
    assert np.all(X.T @ r == 0) and np.sum(r) == 0


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_near_collinear_consistent_coefficients(fit_intercept, order):
    X, w, b, _ = near_collinear_design(fit_intercept)
    X = np.asarray(X, order=order)
    y = X @ w + b
    m, n = X.shape
    res = fit_expecting_fallback(X, y, fit_intercept=fit_intercept)
    w_ref, b_ref, _ = lstsq_with_ones(X, y, fit_intercept)
    # Backward-stable least squares with (rounding-level) zero residual: relative forward error
    # <= C * kappa * eps * (1 + ||y|| / (||A|| ||x||)), kappa of the matrix the solver sees:
    # [X, 1] for lstsq, the centred X for gradfit (the larger is used). C = 10 * (n + sqrt(m)) as
    # in test_normal.py. With kappa = 1e12 that is a loose ~1e-2, but Cholesky on the normal
    # equations (kappa^2 = 1e24) would be off by far more than 100 %.
    A = np.column_stack([X, np.ones(m)]) if fit_intercept else X
    Xc = X - X.mean(axis=0) if fit_intercept else X
    kappa = max(np.linalg.cond(A), np.linalg.cond(Xc))
    x_ref = np.append(w_ref, b_ref)
    rtol = 10 * (n + np.sqrt(m)) * kappa * EPS * (
        1 + np.linalg.norm(y) / (np.linalg.norm(A, 2) * np.linalg.norm(x_ref)))
    assert rtol < 0.1
    x = np.append(res.coef, res.intercept)
    assert np.linalg.norm(x - x_ref) <= rtol * np.linalg.norm(x_ref)
    # the true (w, b) obeys the same bound
    assert np.linalg.norm(x - np.append(w, b)) <= rtol * np.linalg.norm(np.append(w, b))
    assert_no_fallback_error(X, y, fit_intercept=fit_intercept)


def near_collinear_fit(fit_intercept, rho=0.05):
    """(X, y, m, rho, result): the near-collinear design with a residual of norm
    rho * sqrt(m) orthogonal to its columns, fitted through the fallback."""
    X, w, b, r = near_collinear_design(fit_intercept)
    y = X @ w + b + rho * r
    return X, y, len(y), rho, fit_expecting_fallback(X, y, fit_intercept=fit_intercept)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_near_collinear_residual_norm(fit_intercept):
    X, y, m, rho, res = near_collinear_fit(fit_intercept)
    w_ref, b_ref, r_ref = lstsq_with_ones(X, y, fit_intercept)
    norm = np.linalg.norm(residual(X, y, res.coef, res.intercept))
    # The coefficients are not compared here: with a non-zero residual their sensitivity is
    # kappa^2 * eps * ||r|| / (||X|| ||w||), meaningless at kappa = 1e12 for any solver (lstsq's
    # own w_ref is far from the exact w). The residual norm, however, is well conditioned: a
    # backward-stable solution x_hat (exact for X + dX, ||dX|| ~ eps ||X||) has residual norm
    # within ||dX|| ||x_hat|| of the minimum, i.e. within ~`est` relative (~kappa^2 eps^2, about
    # 1e-9 at kappa = 1e12), which leaves the 1e-8 asked for a margin of at least 3.
    A = np.column_stack([X, np.ones(m)]) if fit_intercept else X
    est = EPS * np.linalg.norm(A, 2) * np.linalg.norm(np.append(w_ref, b_ref)) \
        / np.linalg.norm(r_ref)
    assert est < 1e-8 / 3
    np.testing.assert_allclose(norm, np.linalg.norm(r_ref), rtol=1e-8)
    np.testing.assert_allclose(norm, rho * np.sqrt(m), rtol=1e-8)
    assert_no_fallback_error(X, y, fit_intercept=fit_intercept)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_near_collinear_objective(fit_intercept):
    """``objective`` is documented as f at the returned coefficients, on the fallback path too."""
    X, y, m, _, res = near_collinear_fit(fit_intercept)
    res_vec = residual(X, y, res.coef, res.intercept)
    f = res_vec @ res_vec / (2 * m)
    # f from the residual computed here is accurate to ~2 * eps ||X|| ||x_hat|| / ||r|| (about
    # 2e-9 relative, see test_near_collinear_residual_norm); 1e-6 relative is generous. An
    # objective evaluated from the normal-equation statistics (yty - 2 w.Xty + w.G w) is not
    # good enough here: its error is ~eps ||X||^2 ||w||^2 and ||w|| is large.
    np.testing.assert_allclose(res.objective, f, rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# More columns than rows
# ----------------------------------------------------------------------------------------------

def wide_problem(seed=5, m=10, n=30):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) + rng.uniform(-1.0, 1.0, n)
    y = rng.standard_normal(m) + 2.0
    return X, y


def test_wide_no_intercept_minimum_norm():
    X, y = wide_problem()
    res = fit_expecting_fallback(X, y, fit_intercept=False)
    assert "minimum-norm" in res.message
    # X has full row rank and kappa ~ 10: lstsq's minimum-norm solution is accurate to
    # ~kappa * eps; 1e-8 relative is generous.
    w_ref = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.linalg.cond(X) < 1e3
    assert np.linalg.norm(res.coef - w_ref) <= 1e-8 * np.linalg.norm(w_ref)
    assert res.intercept == 0.0
    np.testing.assert_allclose(residual(X, y, res.coef, 0.0), 0.0, atol=1e-10 * np.abs(y).max())
    assert_no_fallback_error(X, y, fit_intercept=False)


def test_wide_with_intercept_minimum_norm():
    X, y = wide_problem()
    res = fit_expecting_fallback(X, y, fit_intercept=True)
    assert "minimum-norm" in res.message
    # The intercept is unpenalised: among all minimisers (they interpolate), the minimum ||w||,
    # with b free. That is lstsq on the centred data (rank m - 1), b = mean(y) - mean(X) w.
    # (lstsq on [X, 1] would be a different answer: it also minimises b^2.)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w_ref = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    b_ref = y.mean() - X.mean(axis=0) @ w_ref
    assert np.linalg.norm(res.coef - w_ref) <= 1e-8 * np.linalg.norm(w_ref)
    assert abs(res.intercept - b_ref) <= 1e-8 * (abs(b_ref) + np.linalg.norm(X.mean(axis=0))
                                                 * np.linalg.norm(w_ref))
    np.testing.assert_allclose(residual(X, y, res.coef, res.intercept), 0.0,
                               atol=1e-10 * np.abs(y).max())
    assert_no_fallback_error(X, y, fit_intercept=True)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.01, 1.0])
def test_wide_with_ridge_is_a_cholesky_solve(l2, fit_intercept):
    X, y = wide_problem()
    m, n = X.shape
    with warnings.catch_warnings():
        warnings.simplefilter("error", gradfit.IllConditionedWarning)
        res = gradfit.solve_normal(X, y, l2=l2, fit_intercept=fit_intercept, fallback=False)
    assert res.solver == "cholesky"
    Xc, yc = (X - X.mean(axis=0), y - y.mean()) if fit_intercept else (X, y)
    M = Xc.T @ Xc + m * l2 * np.eye(n)
    w_cf = np.linalg.solve(M, Xc.T @ yc)
    # both are backward-stable solves of the SPD system M: relative error <= C kappa(M) eps
    rtol = 10 * (n + np.sqrt(m)) * np.linalg.cond(M) * EPS
    assert rtol < 1e-8
    assert np.linalg.norm(res.coef - w_cf) <= rtol * np.linalg.norm(w_cf)
    sk = Ridge(alpha=l2 * m, fit_intercept=fit_intercept, solver="svd").fit(X, y)
    np.testing.assert_allclose(res.coef, sk.coef_, rtol=0, atol=1e-10 * np.abs(sk.coef_).max())
    np.testing.assert_allclose(res.intercept, sk.intercept_, rtol=1e-10, atol=1e-10)
