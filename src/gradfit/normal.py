"""The exact solver: the normal equations, factored by Cholesky."""
from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np
import scipy.linalg

from . import _normal
from ._result import FitResult
from ._stats import (
    RCOND_MIN_FLOAT32,
    Stats,
    constant_columns,
    gram_stats,
    solve_with_float64_retry,
    to_raw,
    without_columns,
)
from ._validation import (
    as_float_matrix,
    as_sample_weight,
    as_target,
    check_coef_range,
    check_penalty,
    normalised,
    raise_nonfinite,
)
from .errors import IllConditionedError, IllConditionedWarning

__all__ = ["solve_normal"]

# Cholesky's relative forward error is bounded by about eps / rcond (rcond of the column-scaled
# matrix), a backward-stable solver's (QR, SVD) by about eps / sqrt(rcond) plus a residual term.
# float64 with the rows at hand: below RCOND_REFINE Cholesky may lose more than half a digit
# to QR, so its answer is refined (corrected semi-normal equations, residuals in
# double-double); refinement contracts by about n eps / rcond per step, so below
# RCOND_MIN_REFINED, or when it does not contract, the QR fallback runs instead.
# Statistics alone (NormalAccumulator): trusted while eps / rcond is below ~2e-6, else the
# eigh fallback. (The float32 threshold, RCOND_MIN_FLOAT32, belongs to the float64 retry in
# _stats.py.)
RCOND_MIN_FLOAT64 = 1e-10
RCOND_REFINE = 5e-3
# Refinement also runs when the fit explains less than half of y's variation (X^T y is then
# formed with cancellation: its rounding, ~eps ||X|| ||y||, dominates the error) and when the
# intercept b = mean(y) - mean(X) w cancels more than INTERCEPT_AMPLIFICATION_MAX-fold (its
# rounding is then that many times eps relative to b); each loses digits that a QR of
# [X, 1] keeps, whatever rcond says.
MIN_EXPLAINED_FRACTION = 0.5
INTERCEPT_AMPLIFICATION_MAX = 20.0
RCOND_MIN_REFINED = 1e-12
MAX_REFINEMENT_STEPS = 3
# Refinement stops once the next correction, predicted from the last one and the contraction,
# would be at most REFINEMENT_STOP eps relative (max-norm).
REFINEMENT_STOP = 1.0
_EPS = float(np.finfo(np.float64).eps)


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
    accuracy. The matrix is scaled to unit diagonal, factored (LAPACK ``potrf``), its
    condition estimated (``pocon``) and the system solved (``potrs``).

    **Refinement.** Cholesky's error grows like eps / rcond, a backward-stable solver's (QR,
    SVD) only like eps / sqrt(rcond). When digits are at risk (``rcond < RCOND_REFINE``,
    5e-3; less than ``MIN_EXPLAINED_FRACTION`` of y's variation explained; or an intercept
    that cancels more than ``INTERCEPT_AMPLIFICATION_MAX``-fold), float64 solutions are
    refined by the corrected semi-normal equations: r = y - X w - b and X^T r are computed
    from X itself in double-double arithmetic (one fused pass, ``csrc/gf_refine.c``), the
    correction solved with the same Cholesky factor, at most 3 steps while the correction
    shrinks. The answer is then, as a rule, the exact least-squares solution of the data as
    given, to the last digit or two. ``refinement_steps`` and ``forward_error`` of the result
    say whether it ran and how accurate the coefficients are estimated to be. It costs one
    pass over X per step (the Gram pass costs about as much for n ~ 50, several times less for
    n < 10); well-conditioned problems skip it.

    **Fallback.** When the matrix is not positive definite, ``rcond`` is below
    ``RCOND_MIN_REFINED`` (1e-12) or refinement does not converge, the answer is not trusted:
    with ``fallback=True`` the problem is solved by a Householder QR with column pivoting
    (LAPACK ``geqp3``) of a centred, column-scaled float64 copy of X, rank decided on the
    scaled columns (relative cutoff eps * max(m, n)), refined as above when of full rank and
    the minimum-norm solution (in the user's units) when rank deficient; ``solver`` is
    ``"qr"`` and an :class:`~gradfit.IllConditionedWarning` says why. With
    ``fallback=False`` :class:`~gradfit.IllConditionedError` is raised.

    A long call can be interrupted with Ctrl-C (KeyboardInterrupt within a fraction of a
    second: the passes check for it between row blocks).

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
        Allow the QR fallback for singular or ill-conditioned problems.
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
        Bad shapes or dtypes, NaN or inf in X or y, empty input, invalid ``l2``, a masked
        array with masked values (masks are not applied: drop or fill those rows first).
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
    if sample_weight is None:
        # plain float64 arrays: the whole solve in one compiled call, which declines anything
        # else (None, None) before touching it
        res = _solve_plain(X, y, l2, fit_intercept, fallback)
        if res is not None:
            return res
    X = as_float_matrix(X, "X")
    y = as_target(y, X.shape[0], X.dtype, "y")
    l2 = check_penalty(l2, "l2")
    fit_intercept = bool(fit_intercept)
    if sample_weight is None and X.dtype == np.float64:
        res = _solve_plain(X, y, l2, fit_intercept, fallback)
        if res is not None:
            return res
    sw = normalised(as_sample_weight(sample_weight, X.shape[0]))
    return solve_data(X, y, sw, l2, fit_intercept, fallback)[0]


def _solve_plain(X, y, l2, fit_intercept, fallback) -> FitResult | None:
    """solve_normal of unweighted float64 data; None when X, y, l2 or fit_intercept need
    validation first."""
    plain, stats = _normal.solve_plain(X, y, fit_intercept, l2, INTERCEPT_AMPLIFICATION_MAX,
                                       MIN_EXPLAINED_FRACTION, RCOND_REFINE,
                                       RCOND_MIN_REFINED, MAX_REFINEMENT_STEPS,
                                       REFINEMENT_STOP)
    if plain is not None:
        coef, intercept, rcond, objective, steps, err = plain
        return FitResult._exact(coef, intercept, rcond, objective, err, steps)
    if stats is None:
        return None
    if not stats[0]:
        raise_nonfinite(X, y)
    # declined: refinement or the fallback, from the same statistics (X, y, l2 and
    # fit_intercept were accepted as they are)
    _, m, mean_x, mean_y, G, xty, yty = stats
    st = Stats(m, mean_x, float(mean_y), G, xty, float(yty), fit_intercept)
    res = solve_with_stats(X, y, None, float(l2), fit_intercept, fallback, st=st)[0]
    assert res is not None  # float64: always answers or raises
    return res


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
    from): one attempt in X's precision on validated input (``sw`` normalised weights or
    None). ``st`` brings statistics gathered elsewhere (one target of a shared Gram matrix)."""
    if st is None:
        st = gram_stats(X, y, fit_intercept, sw)
    rows = _Rows(X, y, sw, st, l2, fit_intercept)

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

    return solve_stats(st, l2, fit_intercept, fallback, X.dtype, note, rows,
                       exact_objective), st


def solve_stats(st: Stats, l2: float, fit_intercept: bool, fallback: bool, work, note="",
                rows=None, exact_objective=None) -> FitResult | None:
    """Cholesky on the statistics; None when float32 is not accurate enough (the caller
    retries in float64). ``rows`` (a _Rows, float64 data at hand) enables refinement and the
    QR fallback; without it the fallback is an eigendecomposition of the normal matrix
    (minimum-norm, accurate to about eps * cond(X)^2)."""
    if fit_intercept and not st.centred:
        raise ValueError("these statistics were gathered without centring; they cannot give "
                         "an intercept.")
    n = st.G.shape[0]
    m = st.m
    mean_x, mean_y = st.mean_x, st.mean_y
    products = st if fit_intercept else to_raw(st)  # no intercept: raw products
    G, xty, yty = products.G, products.xty, products.yty
    if not (np.isfinite(G).all() and np.isfinite(xty).all() and math.isfinite(yty)):
        raise ValueError("X or y has values so large that the normal equations (X^T X, "
                         "X^T y, y^T y) overflow float64; rescale the data (e.g. divide each "
                         "column by its standard deviation).")
    single = work == np.float32
    underflow = _underflows(G, xty, yty, m, work, mean_x, mean_y)
    if not underflow and rows is not None:
        underflow = _vanished(rows.X, rows.y, G, yty, fit_intercept)
    elif not underflow and not fit_intercept:
        # raw sums of squares of zero under a nonzero mean can only have underflowed
        underflow = (yty == 0 and mean_y != 0) or \
            bool(((np.diagonal(G) == 0) & (mean_x != 0)).any())
    if underflow and single:
        return None  # squares in float32's subnormal range lost their precision: float64
    info, rcond, coef, factor, d = _normal.solve_spd(
        np.ascontiguousarray(G), np.ascontiguousarray(xty), float(m), l2, single)
    if underflow:  # whatever Cholesky said, its answer lost its precision: the fallback
        info, rcond = 1, 0.0
    if fit_intercept and constant_columns(np.diagonal(G), mean_x, m).any():
        # a column constant up to the centring's rounding (weighted means): Cholesky would
        # fit that rounding as a direction (coefficients of 1e28 and an intercept of 1e30
        # that cancel them); the fallback drops it (minimum norm)
        info, rcond = 1, 0.0
    stats = (G, xty, yty, mean_x, mean_y, m, l2, fit_intercept)
    refinable = rows is not None and rows.X.dtype == np.float64
    if refinable and info == 0 and rcond >= RCOND_MIN_REFINED:
        if not _digits_at_risk(coef, rcond, G, xty, yty, mean_x, mean_y, m, l2,
                               fit_intercept):
            return _result(coef, *stats, "cholesky", rcond, note,
                           forward_error=_EPS / rcond)
        scale = 1.0 / m / l2 if not np.isfinite(m * l2) else 1.0
        assert factor is not None and d is not None  # float64 data: solved in float64
        ref = rows.refine(coef, factor=(factor, d, scale),
                          contraction=min(0.5, n * _EPS / rcond))
        if ref is not None:
            coef, intercept, steps, err, objective = ref
            return _result(coef, *stats, "cholesky", rcond, note, objective,
                           intercept=intercept, steps=steps, forward_error=err)
        why = (f"refinement of the Cholesky solution did not converge (rcond {rcond:.2e})")
    elif not refinable and info == 0 and rcond >= (RCOND_MIN_FLOAT32 if single
                                                   else RCOND_MIN_FLOAT64):
        objective = exact_objective(coef) if exact_objective else None
        assert coef is not None  # solve_spd answered (info == 0)
        return _result(check_coef_range(coef, work), *stats, "cholesky", rcond, note,
                       objective, forward_error=(np.finfo(work).eps / rcond))
    elif single:
        return None
    else:
        floor = RCOND_MIN_REFINED if refinable else RCOND_MIN_FLOAT64
        why = ("X or y has values so small that their squares underflow float64: the normal "
               "equations lost their precision" if underflow else
               "X^T X + m*l2*I is not positive definite in floating point (exactly or nearly "
               "collinear columns, a constant column, or more columns than rows)" if info else
               f"X^T X + m*l2*I is too ill-conditioned for Cholesky (rcond {rcond:.2e} < "
               f"{floor:g})")
    if not fallback:
        raise IllConditionedError(f"{why}. Add a ridge penalty (l2 > 0), drop collinear "
                                  "columns, or pass fallback=True to solve by QR instead.")
    intercept, steps, objective, err = None, 0, None, float("nan")
    if rows is not None:
        coef, intercept, rank, steps, err, objective = rows.qr_solve()
        how, solver = ("solved by Householder QR of the centred, column-scaled X (LAPACK "
                       "geqp3)"), "qr"
        if steps:
            how += f" and {steps} step{'s' if steps > 1 else ''} of refinement"
    elif underflow:
        raise ValueError(f"{why}, and the rows are not at hand to solve otherwise: rescale "
                         f"the data (e.g. multiply X and y by a power of ten) before "
                         f"accumulating them.")
    else:
        big = not np.isfinite(m * l2)
        A = G / m / l2 if big else G.copy()
        rhs = xty / m / l2 if big else xty.copy()
        if fit_intercept:
            # A constant column's centred diagonal is the centring's rounding (about
            # eps * m * mean^2), not a spread: dropped, or the column scaling of _eigh_solve
            # would blow that noise up into a full-size direction (coefficients of 1e12).
            A, rhs = without_columns(A, rhs, constant_columns(np.diagonal(G), mean_x, m))
        A.flat[:: n + 1] += 1.0 if big else m * l2
        coef, rank = _eigh_solve(A, rhs, m)
        how, solver = ("solved by an eigendecomposition of the column-scaled normal matrix "
                       "(the rows are not at hand for a QR of X)"), "eigh"
    msg = f"{note}{why}; {how}"
    if rank < n:
        msg += f"; X has numerical rank {rank} < {n} columns: minimum-norm solution"
    warnings.warn(msg + ".", IllConditionedWarning, stacklevel=_caller_stacklevel())
    return _result(coef, *stats, solver, 0.0 if info else rcond, msg, objective,
                   intercept=intercept, steps=steps, forward_error=err)


def _digits_at_risk(coef, rcond, G, xty, yty, mean_x, mean_y, m, l2, fit_intercept) -> bool:
    """Whether the Cholesky solution may have lost digits that refinement would recover:
    O(n) tests on the statistics (see RCOND_REFINE and the constants below it)."""
    if rcond < RCOND_REFINE:
        return True
    c = np.asarray(coef, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # coefficients beyond 1e154
        rss = float(yty - c @ xty) - (m * l2 * float(c @ c) if l2 > 0 else 0.0)
    if yty > 0 and rss > (1.0 - MIN_EXPLAINED_FRACTION) * yty:
        return True
    if fit_intercept:
        terms = abs(mean_y) + float(np.abs(mean_x) @ np.abs(c))
        b = abs(mean_y - float(mean_x @ c))
        if terms > INTERCEPT_AMPLIFICATION_MAX * b:
            return True
    return False


class _Rows:
    """The float64 rows behind a set of statistics: refinement of a candidate solution and
    the QR fallback, both against the data themselves."""

    def __init__(self, X, y, sw, st, l2, fit_intercept):
        self.X, self.y, self.sw, self.st = X, y, sw, st
        self.l2, self.fit_intercept = l2, fit_intercept

    def refine(self, coef, *, solve=None, factor=None, contraction=0.5,
               max_steps=MAX_REFINEMENT_STEPS):
        """Corrected semi-normal equations: r = y - X w - b in double-double from X itself,
        then (G + m l2 I) dw = Xc^T W r - m l2 w by the given factorisation (``factor``:
        solve_spd's (U, d, scale); or the callable ``solve``), and db from 1^T W r;
        repeated while the correction shrinks, at most ``max_steps`` times (the loop is
        ``_normal.refine_loop``, compiled). Returns (w, b, steps, forward-error estimate,
        objective), or None when the corrections do not contract (the factorisation is too
        inaccurate for this problem). The estimate is the relative size (max-norm) of the
        last correction applied (the error of the point it corrected) times the
        contraction: the error left after it, at least eps."""
        st, l2, m = self.st, self.l2, self.st.m
        b = float(st.mean_y - st.mean_x @ np.asarray(coef, dtype=np.float64)) \
            if self.fit_intercept else 0.0
        U, d, scale = factor if factor is not None else (None, None, 1.0)
        ref = _normal.refine_loop(self.X, self.y, self.sw, coef, b,
                                  st.mean_x if self.fit_intercept else None, float(m),
                                  float(l2), float(contraction), int(max_steps),
                                  REFINEMENT_STOP, U, d, float(scale), solve)
        if ref is None:
            return None
        w, b, steps, err, rss = ref
        # rss was measured before the last correction; a correction that small changes it by
        # its square (the gradient vanishes at the solution).
        objective = rss / (2 * m) + _ridge_term(l2, w)
        return w, b, steps, err, objective

    def qr_solve(self):
        """Householder QR with column pivoting (geqp3) of the centred, weighted, column-scaled
        X (ridge rows appended), rank decided on that scaled problem, then refinement when of
        full rank. Returns (w, b, rank, steps, forward-error estimate, objective)."""
        X, y, sw, st, l2 = self.X, self.y, self.sw, self.st, self.l2
        m_rows, n = X.shape
        msum = st.m
        A = np.array(X, dtype=np.float64, order="F")
        t = np.array(y, dtype=np.float64)
        if self.fit_intercept:
            A -= st.mean_x
            t -= st.mean_y
            A[:, constant_columns(np.diagonal(st.G), st.mean_x, msum)] = 0.0  # rounding
        if sw is not None:
            root = np.sqrt(sw)
            A *= root[:, None]
            t *= root
        # column norms scaled by a power of two near their largest entry (exact, so no digit
        # is lost): squares of 1e-161 underflow to zero
        peak = np.max(np.abs(A), axis=0) if m_rows else np.zeros(n)
        peak[peak == 0] = 1.0
        peak = np.exp2(np.floor(np.log2(peak)))
        A /= peak
        d = np.sqrt(np.einsum("ij,ij->j", A, A))
        d[d == 0] = 1.0
        A /= d
        d *= peak
        if l2 > 0:
            A = np.vstack([A, np.diag(np.sqrt(msum * l2) / d)])
            t = np.concatenate([t, np.zeros(n)])
        Q, R, P = scipy.linalg.qr(A, mode="economic", pivoting=True, overwrite_a=True,
                                  check_finite=False)
        diag = np.abs(np.diag(R))
        # The same relative cutoff as LAPACK's gelsd default in numpy.linalg.lstsq, but on the
        # scaled columns: a column's units cannot make it look negligible.
        k = int(np.sum(diag > _EPS * max(A.shape) * diag[0])) if diag[0] > 0 else 0
        qtb = Q[:, :k].T @ t
        v = np.zeros(n)
        v[P[:k]] = scipy.linalg.solve_triangular(R[:k, :k], qtb, check_finite=False)
        w = v / d
        steps, err = 0, _EPS * diag[0] / diag[k - 1] if k else np.nan
        if k < n:
            # minimum norm in the user's units: remove w's component in the null space
            N = np.zeros((n, n - k))
            N[P] = np.vstack([-scipy.linalg.solve_triangular(R[:k, :k], R[:k, k:],
                                                             check_finite=False),
                              np.eye(n - k)])
            N /= d[:, None]
            w = w - N @ np.linalg.lstsq(N, w, rcond=None)[0]
            b = float(st.mean_y - st.mean_x @ w) if self.fit_intercept else 0.0
            objective = self._objective(w, b)
            return w, b, k, steps, np.nan, objective
        Rk = R[:k, :k]

        def solve(rhs):
            z = (rhs / d)[P]
            u = scipy.linalg.solve_triangular(Rk, z, trans="T", check_finite=False)
            u = scipy.linalg.solve_triangular(Rk, u, check_finite=False)
            out = np.empty(n)
            out[P] = u
            return out / d

        ref = self.refine(w, solve=solve)
        if ref is not None:
            w, b, steps, err, objective = ref
        else:
            b = float(st.mean_y - st.mean_x @ w) if self.fit_intercept else 0.0
            objective = self._objective(w, b)
        return w, b, k, steps, err, objective

    def _objective(self, w, b):
        _, _, rss = _normal.refine_pass(self.X, self.y, self.sw, w, b)
        return rss / (2 * self.st.m) + _ridge_term(self.l2, w)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first caller outside gradfit: the
    exact solve is reached through different depths of gradfit frames (solve_normal, the
    accumulator, the estimator), and a fixed level would name one of them instead."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame = sys._getframe(1)  # the function that calls warnings.warn
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
        level += 1
    return level


def _ridge_term(l2: float, w: np.ndarray) -> float:
    """l2/2 |w|^2, and 0 without a ridge even when |w|^2 overflows (coefficients near 1e154
    and beyond: 0 * inf would make the objective NaN)."""
    if l2 == 0:
        return 0.0
    with np.errstate(over="ignore"):
        return 0.5 * l2 * float(w @ w)


def _underflows(G, xty, yty, m, work, mean_x, mean_y) -> bool:
    """Whether the data are so small that their squares came near the subnormals of the
    working precision (float32 data are squared in float32 by the Gram pass), where they lose
    their relative precision: a mean square below tiny / eps (float32: about 1e-31, values
    below about 3e-16; float64: about 1e-292, values below about 1e-146)."""
    fin = np.finfo(work)
    limit = float(fin.tiny) / float(fin.eps) * m
    diag = np.diagonal(G)
    tiny_xty = (xty != 0) & (np.abs(xty) < limit)
    # means whose squares are that small: the centred sums of squares may have underflowed
    # to zero, which looks like a constant column (or y)
    # (and no spread above that level either: a mean that cancels to 1e-292 among values of
    # +-1 is no underflow)
    with np.errstate(under="ignore"):
        tiny_mean = bool(((mean_x != 0) & (mean_x * mean_x * m < limit)
                          & (diag < limit)).any()) or \
            (mean_y != 0 and mean_y * mean_y * m < limit and yty < limit)
    return 0 < yty < limit or tiny_mean or \
        bool(((diag > 0) & (diag < limit)).any() or tiny_xty.any())


def _vanished(X, y, G, yty, centred: bool) -> bool:
    """Whether squares underflowed all the way to zero: y^T y = 0 (or a zero diagonal entry
    of G) while y (that column of X) is not zero (centred: not constant). y of 1e-301 gives
    y^T y = 0 and X^T y = 0, and Cholesky then answers w = 0 without a sign of trouble. The
    statistics alone cannot tell this from a constant y or column: the rows are needed."""
    def spread(a, axis=None):
        return np.ptp(a, axis=axis) > 0 if centred else np.any(a != 0, axis=axis)
    if yty == 0 and bool(spread(y)):
        return True
    zero = np.flatnonzero(np.diagonal(G) == 0)
    return zero.size > 0 and bool(np.any(spread(X[:, zero], axis=0)))


def _eigh_solve(A, rhs, rows):
    """Minimum-norm solution of the symmetric semi-definite A x = rhs, the rank decided on A
    scaled to unit diagonal (a column's units cannot make it look negligible)."""
    n = A.shape[0]
    d = np.sqrt(np.abs(np.diag(A)))
    d[d == 0] = 1.0
    evals, evecs = scipy.linalg.eigh(A / np.multiply.outer(d, d), check_finite=False)
    # Each entry of A sums `rows` products, so its rounding error, and that of an eigenvalue
    # that is zero in exact arithmetic, is up to about rows * eps * lambda_max: below that an
    # eigenvalue is noise, and keeping it adds a spurious null-space component.
    cutoff = 10 * np.finfo(np.float64).eps * max(rows, n) * max(evals.max(), 0.0)
    keep = evals > cutoff
    coef = (evecs[:, keep] @ ((evecs[:, keep].T @ (rhs / d)) / evals[keep])) / d
    k = int(keep.sum())
    if k < n:  # minimum norm in the user's units: remove the null-space component
        N = evecs[:, ~keep] / d[:, None]
        coef = coef - N @ np.linalg.lstsq(N, coef, rcond=None)[0]
    return coef, k


def _result(coef, G, xty, yty, mean_x, mean_y, m, l2, fit_intercept, solver, rcond, msg,
            objective=None, *, intercept=None, steps=0, forward_error=float("nan")):
    check_coef_range(coef, coef.dtype)
    c = coef.astype(np.float64, copy=False)
    if intercept is None:
        intercept = float(mean_y - mean_x @ c) if fit_intercept else 0.0
    if objective is None:
        # ||yc - Xc w||^2 from the statistics, without another pass over X: at the solution
        # of (G + m l2 I) w = Xc^T yc it is yc.yc - w.Xc^T yc - m l2 |w|^2, accurate to about
        # eps * ||yc||^2 (and no n x n product on a second BLAS library's thread pool).
        with np.errstate(over="ignore", invalid="ignore"):
            cc = float(c @ c)
            rss = max(float(yty - c @ xty) - (m * cc) * l2, 0.0)
            objective = rss / (2 * m) + 0.5 * l2 * cc
            if not math.isfinite(objective) and yty > 0:
                # w.w and w.Xty overflow before the objective does (coefficients near 1e154):
                # the same in units of t = sqrt(yty)
                t = math.sqrt(yty)
                u = c / t
                uu = float(u @ u)
                rss = max(float(yty / t - u @ xty) / t - (m * uu) * l2, 0.0)
                objective = (rss / (2 * m) + 0.5 * l2 * uu) * t * t
    return FitResult(coef=coef, intercept=float(intercept), solver=solver, rcond=float(rcond),
                     objective=float(objective), message=msg, refinement_steps=int(steps),
                     forward_error=float(forward_error))
