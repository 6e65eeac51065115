"""The exact solver: the normal equations, factored by Cholesky."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from . import _normal
from ._result import FitResult
from ._stats import RCOND_MIN_FLOAT32, Stats, gram_stats, solve_with_float64_retry, to_raw
from ._validation import (
    as_float_matrix,
    as_sample_weight,
    as_target,
    check_penalty,
    normalised,
)
from .errors import IllConditionedError, IllConditionedWarning

__all__ = ["solve_normal"]

# Cholesky's relative forward error is bounded by about eps / rcond (rcond of the column-scaled
# matrix). float64: trusted while that bound is below ~2e-6, else the SVD fallback runs. (The
# float32 threshold, RCOND_MIN_FLOAT32, belongs to the float64 retry in _stats.py.)
RCOND_MIN_FLOAT64 = 1e-10


def solve_normal(X, y, *, l2: float = 0.0, fit_intercept: bool = True,
                 fallback: bool = True, sample_weight=None) -> FitResult:
    r"""Least squares (ridge when ``l2 > 0``) in one step, by Cholesky on the normal equations.

    Minimises the objective shared by every gradfit solver::

        f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2

    (b only with ``fit_intercept``, never penalised), i.e. solves
    ``(Xc^T Xc + m*l2*I) w = Xc^T yc`` with Xc, yc the centred data (raw data without
    intercept), and sets ``b = mean(y) - mean(X) @ w``. In scikit-learn terms, ``l2`` is
    ``Ridge(alpha).alpha / m``.

    One pass over X in row blocks computes X^T X (gradfit's own AVX2 kernel for rows of up to
    1600 bytes, BLAS ``syrk`` beyond), X^T y, the column sums and y^T y together; centring
    shifts each block by the mean of the first block, so columns with large means lose no
    accuracy. The matrix is scaled to unit diagonal, factored (LAPACK
    ``potrf``), its condition estimated (``pocon``) and the system solved (``potrs``).
    When it is not positive definite or ``rcond`` is below ``RCOND_MIN_FLOAT64`` (1e-10),
    the answer is not trusted: with ``fallback=True`` the problem is solved by SVD
    (LAPACK ``gelsd``, as ``numpy.linalg.lstsq``: minimum-norm if X is rank deficient) on a
    centred float64 copy of X, ``solver`` is ``"lstsq"`` and an
    :class:`~gradfit.IllConditionedWarning` says why; with ``fallback=False``
    :class:`~gradfit.IllConditionedError` is raised.

    Parameters
    ----------
    X : array_like of shape (m, n)
        float32 or float64, C or F order, read-only allowed: used in place, never copied or
        modified. Other numeric dtypes (bool, int) are converted to float64 (a copy); arrays
        with no unit stride along either axis are copied to C order.
    y : array_like of shape (m,)
        Targets; converted to X's precision (an O(m) copy when the dtype differs).
    l2 : float, default 0.0
        Ridge penalty, >= 0.
    fit_intercept : bool, default True
        Fit an unpenalised intercept b.
    fallback : bool, default True
        Allow the SVD fallback for singular or ill-conditioned problems.
    sample_weight : array_like of shape (m,), optional
        Row weights >= 0 (zero: the row counts for nothing). The objective becomes
        sum_i w_i (y_i - x_i.w - b)^2 / (2 sum_i w_i) + penalties, so integer weights give
        exactly the fit on the data with rows repeated. Rows are scaled by sqrt(w_i) in the
        cache-sized block buffer of the single pass, never in a copy of X.

    Returns
    -------
    FitResult
        ``coef`` in X's precision. float32 data is solved in float32 unless the float32
        factorisation's ``rcond`` is below ``RCOND_MIN_FLOAT32`` (1e-3); then the solve is
        repeated in float64 on a float64 copy of X and ``message`` says so.

    Raises
    ------
    ValueError
        Bad shapes or dtypes, NaN or inf in X or y, empty input, invalid ``l2``.
    IllConditionedError
        With ``fallback=False``, when the normal equations cannot be trusted.

    Examples
    --------
    >>> import numpy as np, gradfit
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = X @ np.array([2.0, -1.0]) + 0.5
    >>> res = gradfit.solve_normal(X, y)
    >>> np.round(res.coef, 12), round(res.intercept, 12)
    (array([ 2., -1.]), 0.5)
    """
    X = as_float_matrix(X, "X")
    y = as_target(y, X.shape[0], X.dtype, "y")
    l2 = check_penalty(l2, "l2")
    sw = normalised(as_sample_weight(sample_weight, X.shape[0]))
    fit_intercept = bool(fit_intercept)
    return solve_data(X, y, sw, l2, fit_intercept, fallback)[0]


def solve_data(X, y, sw, l2: float, fit_intercept: bool,
               fallback: bool) -> tuple[FitResult, Stats]:
    """solve_normal's work on validated input, float64 retry included; also returns the
    statistics of the solve that answered, for callers that keep them (the estimator's
    partial_fit)."""
    solved: list[Stats] = []

    def attempt(work, note):
        Xw, yw = X.astype(work, copy=False), y.astype(work, copy=False)
        res, st = solve_with_stats(Xw, yw, sw, l2, fit_intercept, fallback, note)
        solved.append(st)
        return res

    res = solve_with_float64_retry(attempt, X.dtype)
    return res, solved[-1]


def solve_with_stats(X, y, sw, l2, fit_intercept, fallback, note="",
                     st=None) -> tuple[FitResult | None, Stats]:
    """(FitResult, or None when float32 is not accurate enough; the Stats it was solved
    from): one attempt in X's precision on validated input. ``st`` brings statistics gathered
    elsewhere (one target of a shared Gram matrix)."""
    if st is None:
        st = gram_stats(X, y, fit_intercept, sw)

    def svd_solve():
        return _lstsq(X, y, sw, st.mean_x, st.mean_y, l2, fit_intercept)

    def exact_objective(coef):
        if X.dtype != np.float32:
            return None
        # float32 statistics lose ~1e-3 of the objective to cancellation: one more pass.
        b = float(st.mean_y - st.mean_x @ coef) if fit_intercept else 0.0
        if sw is None:
            rss = _normal.residual_sqnorm(X, y, coef.astype(X.dtype), b)
        else:
            r = X @ coef.astype(X.dtype) + np.float32(b) - y
            rss = float(sw @ (r.astype(np.float64) ** 2))
        return rss / (2 * st.m) + 0.5 * l2 * float(coef @ coef)

    return solve_stats(st, l2, fit_intercept, fallback, X.dtype, note, svd_solve,
                       exact_objective), st


def solve_stats(st: Stats, l2: float, fit_intercept: bool, fallback: bool, work, note="",
                svd_solve=None, exact_objective=None) -> FitResult | None:
    """Cholesky on the statistics; None when float32 is not accurate enough (the caller
    retries in float64). ``svd_solve()`` -> (coef, rank, objective) is the fallback when
    the data are at hand; without it the fallback is an eigendecomposition of the normal
    matrix (minimum-norm, accurate to about eps * cond(X)^2)."""
    if fit_intercept and not st.centred:
        raise ValueError("these statistics were gathered without centring; they cannot give "
                         "an intercept.")
    n = st.G.shape[0]
    m = st.m
    mean_x, mean_y = st.mean_x, st.mean_y
    products = st if fit_intercept else to_raw(st)  # no intercept: raw products
    G, xty, yty = products.G, products.xty, products.yty
    info, rcond, coef = _normal.solve_spd(np.ascontiguousarray(G), np.ascontiguousarray(xty),
                                          float(m), l2, work == np.float32)
    rcond_min = RCOND_MIN_FLOAT32 if work == np.float32 else RCOND_MIN_FLOAT64
    if info == 0 and rcond >= rcond_min:
        objective = exact_objective(coef) if exact_objective else None
        return _result(coef.astype(work, copy=False), G, xty, yty, mean_x, mean_y, m, l2,
                       fit_intercept, "cholesky", rcond, note, objective)
    if work == np.float32:
        return None

    why = ("X^T X + m*l2*I is not positive definite in floating point (exactly or nearly "
           "collinear columns, a constant column, or more columns than rows)" if info else
           f"X^T X + m*l2*I is too ill-conditioned for Cholesky (rcond {rcond:.2e} < "
           f"{RCOND_MIN_FLOAT64:g})")
    if not fallback:
        raise IllConditionedError(f"{why}. Add a ridge penalty (l2 > 0), drop collinear "
                                  "columns, or pass fallback=True to solve by SVD instead.")
    if svd_solve is not None:
        coef, rank, objective = svd_solve()
        how, solver = "solved by SVD (LAPACK gelsd)", "lstsq"
    else:
        big = not np.isfinite(m * l2)
        A = G / m / l2 if big else G.copy()
        A.flat[:: n + 1] += 1.0 if big else m * l2
        coef, rank = _eigh_solve(A, xty / m / l2 if big else xty, m)
        objective = None
        how, solver = ("solved by an eigendecomposition of the normal matrix (the rows are "
                       "not at hand for an SVD of X)"), "eigh"
    msg = f"{note}{why}; {how}"
    if rank < n:
        msg += f"; X has numerical rank {rank} < {n} columns: minimum-norm solution"
    warnings.warn(msg + ".", IllConditionedWarning, stacklevel=4)
    return _result(coef, G, xty, yty, mean_x, mean_y, m, l2, fit_intercept, solver,
                   0.0 if info else rcond, msg, objective)


def _eigh_solve(A, rhs, rows):
    evals, evecs = scipy.linalg.eigh(A, check_finite=False)
    # Each entry of A sums `rows` products, so its rounding error, and that of an eigenvalue
    # that is zero in exact arithmetic, is up to about rows * eps * lambda_max: below that an
    # eigenvalue is noise, and keeping it adds a spurious null-space component.
    cutoff = 10 * np.finfo(np.float64).eps * max(rows, A.shape[0]) * max(evals.max(), 0.0)
    keep = evals > cutoff
    coef = evecs[:, keep] @ ((evecs[:, keep].T @ rhs) / evals[keep])
    return coef, int(keep.sum())


def _lstsq(X, y, sw, mean_x, mean_y, l2, fit_intercept):
    n = X.shape[1]
    A = np.array(X, dtype=np.float64)
    b = np.array(y, dtype=np.float64)
    m = X.shape[0] if sw is None else float(sw.sum())
    if fit_intercept:
        A -= mean_x
        b -= mean_y
    if sw is not None:
        root = np.sqrt(sw)
        A *= root[:, None]
        b *= root
    if l2 > 0:
        A = np.vstack([A, np.sqrt(m * l2) * np.eye(n)])
        b = np.concatenate([b, np.zeros(n)])
    cond = np.finfo(np.float64).eps * max(A.shape)
    coef, _, rank, _ = scipy.linalg.lstsq(A, b, cond=cond, lapack_driver="gelsd",
                                          check_finite=False)
    # From the residual itself: on an ill-conditioned problem the statistics-based formula
    # loses about eps * ||X||^2 ||w||^2, which can exceed the objective.
    resid = b - A @ coef
    return coef, int(rank), float(resid @ resid) / (2 * m)


def _result(coef, G, xty, yty, mean_x, mean_y, m, l2, fit_intercept, solver, rcond, msg,
            objective=None):
    c = coef.astype(np.float64, copy=False)
    intercept = float(mean_y - mean_x @ c) if fit_intercept else 0.0
    if objective is None:
        # ||yc - Xc w||^2 from the statistics, without another pass over X: at the solution
        # of (G + m l2 I) w = Xc^T yc it is yc.yc - w.Xc^T yc - m l2 |w|^2, accurate to about
        # eps * ||yc||^2 (and no n x n product on a second BLAS library's thread pool).
        cc = float(c @ c)
        rss = max(float(yty - c @ xty) - (m * cc) * l2, 0.0)
        objective = rss / (2 * m) + 0.5 * l2 * cc
    return FitResult(coef=coef, intercept=intercept, solver=solver, rcond=float(rcond),
                     objective=float(objective), message=msg)
