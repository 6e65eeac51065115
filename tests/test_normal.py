"""Accuracy and contract of ``gradfit.solve_normal`` on well-conditioned problems.

What is checked, and why
------------------------
* Agreement with ``numpy.linalg.lstsq`` (an SVD solver, i.e. an independent algorithm) on random
  problems of several shapes (m >> n, m close to n, a single column, m = n + 1), with and without
  an intercept, in float32 and float64, C and F order, and on sliced (non-contiguous) views.
  The tolerance is not tuned: it is the first-order forward-error bound of the normal-equations
  method, derived from the condition number of the (centred) design; see ``ne_rtol``.
* Ridge (``l2 > 0``) agrees with the closed form solved in the test and with scikit-learn's
  ``Ridge(alpha=l2 * m)``.
* ``objective`` equals f computed here from the residuals; ``predict`` is ``X @ coef + b``.
* The result's metadata for the exact solver, the dtype of ``coef``, integer / boolean / read-only
  inputs.
"""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import gradfit

SHAPES = [(2000, 20), (60, 50), (500, 1), (21, 20)]  # m >> n, m ~ n, n = 1, m = n + 1
SHAPE_IDS = ["tall", "near-square", "one-column", "m=n+1"]


def make_problem(seed, m, n, dtype=np.float64, order="C", noise=0.1):
    """Random well-conditioned problem, y = X w + b + noise.

    X = U diag(s) V^T + 1 c^T with U (orthonormal columns, orthogonal to the ones vector) and V
    random, singular values s spanning a factor 4, and random column means c (so centring
    matters): the centred design has condition number 4 whatever the shape, even m = n + 1.
    """
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((m, n))
    U = np.linalg.qr(G - G.mean(axis=0))[0]
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    s = np.sqrt(m) * np.geomspace(4.0, 1.0, n)
    X = (U * s) @ V.T + rng.uniform(-2.0, 2.0, n)
    w = rng.standard_normal(n)
    y = X @ w + 0.7 + noise * rng.standard_normal(m)
    return np.asarray(X, dtype=dtype, order=order), np.asarray(y, dtype=dtype)


def lstsq_reference(X, y, fit_intercept):
    """Reference (w, b) from numpy.linalg.lstsq on the float64 values of the given data, with a
    column of ones appended for the intercept."""
    A = np.asarray(X, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if fit_intercept:
        A = np.column_stack([A, np.ones(A.shape[0])])
    sol = np.linalg.lstsq(A, t, rcond=None)[0]
    return (sol[:-1], float(sol[-1])) if fit_intercept else (sol, 0.0)


def centred(X, y, fit_intercept):
    A = np.asarray(X, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if fit_intercept:
        return A - A.mean(axis=0), t - t.mean()
    return A, t


def ne_rtol(X, y, w_ref, fit_intercept, dtype):
    """Relative (2-norm) forward-error bound for w computed by Cholesky on the normal equations.

    Forming X^T X and X^T y (inner products of length m) and factoring the n x n matrix perturb
    the normal equations by E with ||E|| <= c * eps * ||X||^2, f with ||f|| <= c * eps ||X|| ||y||
    (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., sec. 20.4), so

        ||w_hat - w|| / ||w|| <= C * kappa(X)^2 * eps * (1 + ||y|| / (||X|| ||w||))

    with kappa the 2-norm condition number of the design the solver sees (centred when there is
    an intercept) and eps the unit roundoff of the working precision. We take
    C = 10 * (n + sqrt(m)): n from the Cholesky backward error (gamma_{n+1}), sqrt(m) from the
    probabilistic bound on m-term inner products (Higham & Mary, SIAM J. Sci. Comput. 41, 2019),
    and a safety factor of 10. The reference (lstsq, backward stable, error ~ kappa * eps) is
    far more accurate than this bound, so its own error is negligible here.
    """
    Xc, yc = centred(X, y, fit_intercept)
    m, n = Xc.shape
    kappa = np.linalg.cond(Xc)
    norm_x = np.linalg.norm(Xc, 2)
    eps = np.finfo(dtype).eps
    C = 10.0 * (n + np.sqrt(m))
    return C * kappa**2 * eps * (1.0 + np.linalg.norm(yc) / (norm_x * np.linalg.norm(w_ref)))


def assert_matches_reference(res, X, y, fit_intercept, dtype, reference=None):
    w_ref, b_ref = lstsq_reference(X, y, fit_intercept) if reference is None else reference
    rtol = ne_rtol(X, y, w_ref, fit_intercept, dtype)
    assert rtol < 1e-2, "test problem too ill-conditioned for a meaningful check"
    coef = np.asarray(res.coef, dtype=np.float64)
    err = np.linalg.norm(coef - w_ref) / np.linalg.norm(w_ref)
    assert err <= rtol, f"relative coef error {err:.3g} > bound {rtol:.3g}"
    if fit_intercept:
        # b = mean(y) - mean(X) @ w: an error dw moves b by at most ||mean(X)|| ||dw||, and the
        # two means carry summation errors relative to mean(|y|) and mean(|X|) @ |w|.
        A = np.asarray(X, dtype=np.float64)
        t = np.asarray(y, dtype=np.float64)
        scale = (np.mean(np.abs(t)) + np.mean(np.abs(A), axis=0) @ np.abs(w_ref)
                 + np.linalg.norm(A.mean(axis=0)) * np.linalg.norm(w_ref))
        assert abs(res.intercept - b_ref) <= rtol * scale
    else:
        assert res.intercept == 0.0


def fit_quietly(X, y, **kw):
    """solve_normal, failing the test if the SVD fallback (and its warning) kicks in."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", gradfit.IllConditionedWarning)
        return gradfit.solve_normal(X, y, **kw)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_agrees_with_lstsq(shape, fit_intercept, dtype, order):
    m, n = shape
    X, y = make_problem(m * 100 + n, m, n, dtype, order)
    res = fit_quietly(X, y, fit_intercept=fit_intercept)
    assert res.coef.dtype == dtype
    assert res.coef.shape == (n,)
    assert res.solver == "cholesky"
    assert_matches_reference(res, X, y, fit_intercept, dtype)


def _views(seed, m, n, dtype):
    rng = np.random.default_rng(seed)
    big = (rng.standard_normal((2 * m + 3, n + 5)) + rng.uniform(-2.0, 2.0, n + 5)).astype(dtype)
    y_big = rng.standard_normal(3 * m).astype(dtype)
    return {
        # unit stride along columns, leading dimension larger than n
        "C-rows-strided": (big[1:2 * m + 1:2, 2:n + 2], y_big[::3]),
        # unit stride along rows, leading dimension larger than m
        "F-submatrix": (np.asfortranarray(big)[3:m + 3, 1:n + 1], y_big[m:2 * m]),
        # no unit stride at all (the library copies it)
        "both-strided": (big[::2, ::2][:m, :n], y_big[::3][::-1]),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("view", ["C-rows-strided", "F-submatrix", "both-strided"])
def test_non_contiguous_views(view, fit_intercept, dtype):
    m, n = 300, 3
    X, y = _views(7, m, n, dtype)[view]
    assert X.shape == (m, n) and y.shape == (m,)
    assert not (X.flags.c_contiguous or X.flags.f_contiguous)
    target = np.asarray(X, dtype=np.float64) @ np.array([1.0, -2.0, 0.5]) + 0.1 * y
    y_buf = np.zeros(2 * m, dtype=dtype)
    y_buf[::2] = target
    y = y_buf[::2]  # a strided y as well
    res = fit_quietly(X, y, fit_intercept=fit_intercept)
    assert res.coef.dtype == dtype
    assert_matches_reference(res, X, y, fit_intercept, dtype)
    # ...and the same answer as for a contiguous copy, to the same bound
    res_c = fit_quietly(np.ascontiguousarray(X), y, fit_intercept=fit_intercept)
    w_ref, _ = lstsq_reference(X, y, fit_intercept)
    rtol = ne_rtol(X, y, w_ref, fit_intercept, dtype)
    np.testing.assert_allclose(np.linalg.norm(res.coef.astype(float) - res_c.coef.astype(float)),
                               0.0, atol=2 * rtol * np.linalg.norm(w_ref))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype,offset", [(np.float64, 1e6), (np.float32, 1e3)])
def test_large_column_means_many_blocks(dtype, offset, order):
    """Columns with large means (raw design badly conditioned, centred design not), and enough
    rows that the data pass runs over several row blocks in either precision."""
    m, n = 30000, 4
    rng = np.random.default_rng(99)
    Z = rng.standard_normal((m, n))
    X = np.asarray(Z + offset * np.arange(1, n + 1), dtype=dtype, order=order)
    y = (Z @ rng.standard_normal(n) + 0.3 * rng.standard_normal(m) + 5.0).astype(dtype)
    # Reference: subtract the first row, exactly (Sterbenz: every entry is within a factor 2 of
    # the one subtracted), then lstsq with a column of ones. Shifting columns changes only the
    # intercept, so w is the least-squares solution of the data as given, computed on a
    # well-conditioned matrix; b follows by undoing the shift.
    A = X.astype(np.float64)
    S = A - A[0]
    assert np.array_equal(S + A[0], A)
    w_s, b_s = lstsq_reference(S, y, True)
    reference = (w_s, b_s - A[0] @ w_s)
    res = fit_quietly(X, y)
    assert res.coef.dtype == dtype
    assert_matches_reference(res, X, y, True, dtype, reference=reference)


def ridge_closed_form(X, y, l2, fit_intercept):
    """(Xc^T Xc + m l2 I)^{-1} Xc^T yc in float64 by np.linalg.solve; b = mean(y) - mean(X) w."""
    Xc, yc = centred(X, y, fit_intercept)
    m, n = Xc.shape
    M = Xc.T @ Xc + m * l2 * np.eye(n)
    w = np.linalg.solve(M, Xc.T @ yc)
    b = float(np.mean(y) - np.mean(X, axis=0) @ w) if fit_intercept else 0.0
    return w, b, np.linalg.cond(M)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [1e-3, 0.1, 10.0])
@pytest.mark.parametrize("shape", [(2000, 20), (60, 50), (21, 20)], ids=["tall", "near-square",
                                                                         "m=n+1"])
def test_ridge_closed_form_and_sklearn(shape, l2, fit_intercept):
    m, n = shape
    X, y = make_problem(31 * m + n, m, n)
    res = fit_quietly(X, y, l2=l2, fit_intercept=fit_intercept)
    assert res.solver == "cholesky"

    # Both solve the same SPD system M w = Xc^T yc by a backward-stable factorisation; each is
    # within ~C * kappa(M) * eps of the exact solution (C = 10 (n + sqrt(m)) as in ne_rtol).
    w_cf, b_cf, kappa_m = ridge_closed_form(X, y, l2, fit_intercept)
    eps = np.finfo(np.float64).eps
    rtol = 10.0 * (n + np.sqrt(m)) * kappa_m * eps
    np.testing.assert_allclose(np.linalg.norm(res.coef - w_cf) / np.linalg.norm(w_cf), 0.0,
                               atol=rtol)
    scale = abs(np.mean(y)) + np.linalg.norm(X.mean(axis=0)) * np.linalg.norm(w_cf)
    assert abs(res.intercept - b_cf) <= rtol * scale

    # scikit-learn: Ridge minimises ||y - Xw - b||^2 + alpha ||w||^2 = 2m f(w, b) with
    # alpha = m * l2. SVD solver: a third, independent algorithm. Well-conditioned float64.
    sk = Ridge(alpha=l2 * m, fit_intercept=fit_intercept, solver="svd").fit(X, y)
    np.testing.assert_allclose(res.coef, sk.coef_, rtol=1e-10, atol=1e-10 * np.abs(sk.coef_).max())
    np.testing.assert_allclose(res.intercept, sk.intercept_, rtol=1e-10, atol=1e-10)


def direct_objective(X, y, coef, intercept, l2):
    """f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2, from the residuals, in float64."""
    A = np.asarray(X, dtype=np.float64)
    w = np.asarray(coef, dtype=np.float64)
    r = np.asarray(y, dtype=np.float64) - A @ w - intercept
    return r @ r / (2 * A.shape[0]) + 0.5 * l2 * (w @ w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_objective_matches_residuals(l2, fit_intercept, dtype):
    m, n = 1500, 12
    X, y = make_problem(5, m, n, dtype, noise=2.0)
    res = fit_quietly(X, y, l2=l2, fit_intercept=fit_intercept)
    f = direct_objective(X, y, res.coef, res.intercept, l2)
    # The library evaluates ||yc - Xc w||^2 as yc.yc - 2 w.(Xc^T yc) + w.(Xc^T Xc) w from the
    # statistics of its (working precision) data pass; each term is accurate to
    # C * eps * (||yc|| + || |Xc| |w| ||)^2 (same C as ne_rtol), which bounds the difference.
    Xc, yc = centred(X, y, fit_intercept)
    w = np.abs(res.coef.astype(np.float64))
    C = 10.0 * (n + np.sqrt(m))
    atol = C * np.finfo(dtype).eps * (np.linalg.norm(yc) + np.linalg.norm(np.abs(Xc) @ w))**2 \
        / (2 * m)
    assert atol < 0.1 * f  # small enough to catch a wrong formula (factor, l2 term, intercept)
    assert abs(res.objective - f) <= atol
    # f is minimal at the returned point: any perturbation of (w, b) increases it.
    rng = np.random.default_rng(1)
    for _ in range(5):
        dw = 1e-3 * rng.standard_normal(n)
        db = 1e-3 * rng.standard_normal() if fit_intercept else 0.0
        assert direct_objective(X, y, res.coef.astype(float) + dw, res.intercept + db, l2) > f


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict(fit_intercept, dtype):
    X, y = make_problem(11, 200, 4, dtype)
    res = fit_quietly(X, y, fit_intercept=fit_intercept)
    X_new = np.random.default_rng(12).standard_normal((17, 4)).astype(dtype)
    expected = X_new.astype(np.float64) @ res.coef.astype(np.float64) + res.intercept
    # a dot product of length n = 4 plus one addition, in the working precision
    atol = 10 * 5 * np.finfo(dtype).eps * (np.abs(X_new) @ np.abs(res.coef.astype(np.float64))
                                           + abs(res.intercept))
    assert np.all(np.abs(res.predict(X_new) - expected) <= atol)
    assert res.predict(X_new).shape == (17,)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_solver_metadata(dtype):
    X, y = make_problem(3, 300, 5, dtype)
    res = fit_quietly(X, y)
    assert isinstance(res, gradfit.FitResult)
    assert res.solver == "cholesky"
    assert res.n_iter == 0
    assert res.converged is True
    assert isinstance(res.loss_history, np.ndarray) and res.loss_history.size == 0
    assert res.coef.dtype == dtype
    assert not res.coef.flags.writeable  # documented read-only
    assert isinstance(res.intercept, float)
    assert isinstance(res.objective, float) and np.isfinite(res.objective)
    assert 0.0 < res.rcond <= 1.0


@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_int_and_bool_X_same_as_float64(int_dtype, fit_intercept):
    rng = np.random.default_rng(21)
    m, n = 400, 6
    if int_dtype is np.bool_:
        Xi = rng.random((m, n)) < 0.4
    else:
        Xi = rng.integers(0, 100, size=(m, n)).astype(int_dtype)
    y = Xi.astype(np.float64) @ rng.standard_normal(n) + rng.standard_normal(m)
    res_i = fit_quietly(Xi, y, fit_intercept=fit_intercept)
    res_f = fit_quietly(Xi.astype(np.float64), y, fit_intercept=fit_intercept)
    assert res_i.coef.dtype == np.float64
    # Same float64 values in, so the same computation: equal up to the reduction order of BLAS.
    np.testing.assert_allclose(res_i.coef, res_f.coef, rtol=1e-12)
    np.testing.assert_allclose(res_i.intercept, res_f.intercept, rtol=1e-12, atol=1e-12)
    assert_matches_reference(res_i, Xi, y, fit_intercept, np.float64)


def test_int_y_accepted():
    X, y = make_problem(4, 100, 3)
    yi = np.round(10 * y).astype(np.int64)
    res = fit_quietly(X, yi)
    assert_matches_reference(res, X, yi.astype(np.float64), True, np.float64)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_only_inputs(dtype, order):
    X, y = make_problem(8, 250, 5, dtype, order)
    X.flags.writeable = False
    y.flags.writeable = False
    for fit_intercept in (True, False):
        res = fit_quietly(X, y, fit_intercept=fit_intercept)
        assert_matches_reference(res, X, y, fit_intercept, dtype)
        res = fit_quietly(X, y, fit_intercept=fit_intercept, l2=0.01)
        w_cf, _, _ = ridge_closed_form(X, y, 0.01, fit_intercept)
        assert np.linalg.norm(res.coef - w_cf) <= ne_rtol(X, y, w_cf, fit_intercept, dtype) \
            * np.linalg.norm(w_cf)
