"""What ``converged=True`` promises, and the check that keeps the promise.

An iterative fit is declared converged only when its point is *measured* to be close to the
exact minimiser, in a sense that does not depend on the units of the data:

- full batch: the relative error of the standardised coefficients,
  ``||sigma * (w - w*)|| <= tol * ||sigma * w*||`` (sigma: the column scales), and the
  objective gap ``f - f* <= tol**2 * max(f*, FLOOR * f0)``;
- mini-batch (SGD): the relative objective gap ``f - f* <= tol * max(f*, FLOOR_SGD * f0)``;
- full batch with an L1 penalty (lasso, elastic net): an upper bound on ``f - f*``,
  ``bound <= tol * max(f - bound, FLOOR * f0)``, the bound being the duality gap or, where f
  is mu-strongly convex, ``||s||^2 / (2 mu)`` (s the least-norm subgradient: second order in
  the distance, where the gap is of first order),

with f0 the objective of w = 0 (at the best intercept). The floors keep the promise
meaningful on data a linear model fits (almost) exactly (f* = 0): there SGD's promise is
the objective within tol * 1e-6 of f0, i.e. R² within 1e-9 of its best for tol = 1e-3.

The first two are computed exactly from the sufficient statistics of the data (one pass over
X, the exact solver's ``gram_stats``) and a Cholesky factor of the standardised normal matrix:
for the quadratic f, ``w - w* = H^-1 g`` and ``f - f* = g^T H^-1 g / 2`` at any point, so a
check costs O(n^2) once the factor exists. No algorithm is switched: the fit's own point is
judged, never replaced by the exact solution. The duality gap (no closed form for w*) takes
one pass over X instead, in double-double (the exact solver's refinement kernel), so that the
residual of a close fit is not lost to cancellation.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from . import _normal
from ._stats import Stats, chunk_rows

__all__ = ["Certificate", "FLOOR", "FLOOR_SGD", "MAX_COLUMNS", "elastic_net_bound",
           "elastic_net_gap", "strong_convexity"]

#: f* below FLOOR * f0 counts as FLOOR * f0 in the relative gap (an exact fit, f* = 0, cannot
#: be approached to a relative gap in floating point).
FLOOR = 1e-10
FLOOR_SGD = 1e-6
#: Beyond this many columns the statistics (m n^2 flops, n^2 memory) and the factor (n^3/3)
#: cost more than the fits they would judge; convergence is then judged by the gradient test.
MAX_COLUMNS = 2000


class Certificate:
    """Distances to the exact minimiser of f(w, b) = 1/(2m)||y - Xw - b||^2 + l2/2 ||w||^2
    (l1 = 0), from centred statistics ``st`` (with or without an intercept in the model).

    Without an intercept the Hessian is (Gc/m + mu mu^T) + l2 I: formed as one matrix, the
    centred part is lost to rounding when the columns' means dwarf their spread (means of
    1e10 and unit spread: a condition number of 1e20, and a certificate that would pass any
    point). It is factored instead by a QR of the stacked square roots [B; sqrt(m) mu^T]
    (B^T B = Gc), which loses digits in proportion to the condition number, not its square.
    """

    def __init__(self, st: Stats, l2: float, fit_intercept: bool, scale: np.ndarray):
        if not st.centred:
            raise ValueError("Certificate needs centred statistics")
        m = float(st.m)
        n = st.G.shape[0]
        # X and y rescaled by powers of two (exact) to unit root mean squares: the measures
        # are relative, and data of 1e-148 would otherwise put f* (1e-301) below the
        # denominators' floor. Coefficients scale by ay / ax, objectives by ay**2.
        with np.errstate(over="ignore", under="ignore"):
            ax = _unit_power_of_two(float(np.max(np.diagonal(st.G) / m + st.mean_x ** 2,
                                                 initial=0.0)))
            ay = _unit_power_of_two(float(np.float64(st.yty) / m
                                          + np.float64(st.mean_y) ** 2))
        self._ax, self._ay = ax, ay
        self.m, self.Gc, self.xtyc = m, st.G * (ax * ax), st.xty * (ax * ay)
        self.l2, self.intercept = float(l2) * (ax * ax), bool(fit_intercept)
        self.mean_x, self.mean_y = st.mean_x * ax, float(st.mean_y) * ay
        # w' = s v' in the rescaled units: w' = w ay / ax and v' = ay v (so that H stays
        # the standardised Hessian, of order 1, and gradients and distances scale by ay)
        self.s = np.asarray(scale, dtype=np.float64) / ax
        s = self.s
        A = (s[:, None] * self.Gc * s[None, :]) / m  # the centred part of the Hessian in v
        if self.l2 > 0:  # the ridge in v; columns of ~1e-160 give s**2 beyond float64
            with np.errstate(over="ignore"):
                A.flat[:: n + 1] += self.l2 * s * s
        self._factor: tuple[np.ndarray, bool] | None = None
        self._pinv: tuple[np.ndarray, np.ndarray] | None = None
        #: the relative error of a measured distance, about eps * cond(H): no promise of tol
        #: below it can be checked (inf: H is numerically singular, nearly collinear columns)
        self.floor = math.inf
        # Columns that do not enter f at all (constant columns with an intercept, zero columns
        # without; a zero scale): their coefficient of the minimum-norm minimiser is 0, and
        # the measurement runs on the others (a constant column would make H singular).
        u = s * self.mean_x
        self._active = np.diagonal(A) > 0 if fit_intercept else \
            (np.diagonal(A) > 0) | (u != 0)
        act = self._active
        A_act = A[np.ix_(act, act)]
        if fit_intercept:
            self.b = s * self.xtyc / m
            self.f0 = 0.5 * st.yty * (ay * ay) / m  # f at w = 0 and the best intercept
        else:
            self.b = s * self.xtyc / m + u * self.mean_y
            self.f0 = 0.5 * (st.yty * (ay * ay) / m + self.mean_y ** 2)
        if not act.any():  # nothing to fit but the intercept: exactly measurable
            self._pinv = (np.zeros((0, 0)), np.zeros(0))
            self.floor = float(np.finfo(np.float64).eps)
        elif fit_intercept:
            self._factor_spd(A_act)
        else:
            self._factor_rank_one(A_act, u[act])
        v_star = self._solve(self.b[act])
        self.f_star = max(self.f0 - 0.5 * float(self.b[act] @ v_star), 0.0)

    def _factor_spd(self, H: np.ndarray) -> None:
        try:
            c, lower = scipy.linalg.cho_factor(H, lower=True, check_finite=False)
            if not np.all(np.isfinite(c)) or np.min(np.abs(np.diag(c))) <= 0.0:
                raise np.linalg.LinAlgError
            self._factor = (c, lower)
            self._set_floor(c, "L", float(np.linalg.norm(H, 1)))
        except (np.linalg.LinAlgError, ValueError):
            self._use_pinv(H)

    def _set_floor(self, factor: np.ndarray, uplo: str, anorm: float) -> None:
        """floor = eps / rcond(H), rcond estimated by LAPACK's pocon from the factor."""
        rcond, info = scipy.linalg.lapack.dpocon(factor, anorm, uplo=uplo)
        if info == 0 and rcond > 0 and math.isfinite(anorm):
            self.floor = float(np.finfo(np.float64).eps) / rcond

    def _factor_rank_one(self, A: np.ndarray, u: np.ndarray) -> None:
        """H = A + u u^T through R of the QR of [B; u^T], B^T B = A."""
        try:
            B = scipy.linalg.cholesky(A, lower=False, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            lam, V = scipy.linalg.eigh(A, check_finite=False)
            B = np.sqrt(np.maximum(lam, 0.0))[:, None] * V.T
        R = scipy.linalg.qr(np.vstack([B, u[None, :]]), mode="r", check_finite=False)[0]
        R = R[:A.shape[0]]
        R *= np.where(np.diag(R) < 0, -1.0, 1.0)[:, None]  # a Cholesky factor: diag > 0
        d = np.abs(np.diag(R))
        if np.all(np.isfinite(R)) and d.min() > 1e-13 * d.max() * max(A.shape[0], 1):
            self._factor = (R, False)  # upper: H = R^T R
            with np.errstate(over="ignore", invalid="ignore"):
                anorm = float(np.linalg.norm(A + np.multiply.outer(u, u), 1))
            self._set_floor(R, "U", anorm)
        else:  # singular: the minimum-norm distances, on the range of H = R^T R
            self._use_pinv(R.T @ R)

    def _use_pinv(self, H: np.ndarray) -> None:
        # Singular (collinear columns): distances to the nearest minimiser, on the range.
        evals, evecs = scipy.linalg.eigh(H, check_finite=False)
        keep = evals > 1e-13 * max(evals.max(), 0.0) * max(H.shape[0], 1)
        self._factor = None
        self._pinv = (evecs[:, keep], evals[keep])

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        if self._factor is not None:
            return scipy.linalg.cho_solve(self._factor, rhs, check_finite=False)
        assert self._pinv is not None  # set whenever the factor is not
        U, lam = self._pinv
        return U @ ((U.T @ rhs) / lam)

    def measure(self, coef: np.ndarray, intercept: float,
                floor: float = FLOOR) -> tuple[float, float]:
        """(relative error of the standardised coefficients, relative objective gap) of the
        point (coef, intercept); the gap is relative to max(f*, floor f0)."""
        with np.errstate(over="ignore", under="ignore"):
            w = np.asarray(coef, dtype=np.float64) * (self._ay / self._ax)
            intercept = intercept * self._ay
        if not (np.isfinite(w).all() and math.isfinite(intercept)):
            return math.inf, math.inf
        grad = (self.Gc @ w - self.xtyc) / self.m + self.l2 * w
        if not self.intercept:  # the mean part, (mu mu^T w - mu ybar), without cancellation
            grad += self.mean_x * (float(self.mean_x @ w) - self.mean_y)
        g = self.s * grad
        act = self._active
        v = np.divide(w, self.s, out=w.copy(), where=self.s != 0)
        e = v.copy()  # the inactive coefficients' distance to the minimum-norm 0
        e[act] = self._solve(g[act])
        gap = 0.5 * float(g[act] @ e[act])
        if self.intercept:
            e_c = intercept + float(self.mean_x @ w) - self.mean_y
            gap += 0.5 * e_c * e_c
        ref = float(np.linalg.norm(v - e))
        err = float(np.linalg.norm(e))
        cerr = 0.0 if err == 0.0 else (err / ref if ref > 0 else math.inf)
        return cerr, max(gap, 0.0) / max(self.f_star, floor * self.f0, 1e-300)

    def sgd_gap_from_objective(self, f: float, rounding: float) -> float:
        """A lower bound of SGD's relative gap from the objective f computed at the point (the
        engine's pass, rounding up to ``rounding`` x f0): O(1) instead of the O(n^2) of
        ``measure``, to skip it while the point is clearly short of the promise."""
        f = f * self._ay * self._ay  # the engine's objective, in the rescaled units
        gap = f - self.f_star - rounding * max(self.f0, f)
        return max(gap, 0.0) / max(self.f_star, FLOOR_SGD * self.f0, 1e-300)

    def sgd_objective_threshold(self, tol: float, rounding: float) -> float:
        """The objective above which ``sgd_gap_from_objective`` exceeds tol."""
        target = self.f_star + tol * max(self.f_star, FLOOR_SGD * self.f0, 1e-300)
        return max(target + rounding * self.f0, target / (1.0 - rounding)) \
            / (self._ay * self._ay)

    def holds(self, coef, intercept, tol: float, mini: bool) -> tuple[bool, float, float]:
        """Whether the promise of ``converged`` holds at the point, with the two measures."""
        cerr, gap = self.measure(coef, intercept, FLOOR_SGD if mini else FLOOR)
        ok = gap <= tol if mini else (cerr <= tol and gap <= max(tol * tol,
                                                                 self.gap_resolution()))
        return ok, cerr, gap

    def gap_resolution(self) -> float:
        """The smallest relative gap (full batch) that a float64 point can be asked for. The
        coefficients themselves are rounded: a point within a few dozen ulps of w* (64 eps
        relative, as close as the iterations get) is f - f* ~ (64 eps)^2 (f0 - f*) above the
        minimum; and g = Hv - b, formed from statistics rounded at about eps |H||v|, leaves
        g^T H^-1 g / 2 uncertain by about (eps / rcond) eps (f0 - f*). Relative to max(f*,
        FLOOR f0), this binds only for tol below about 1e-9 (at tol = 1e-12, BB's point 25
        ulps from w* had a gap of 7e-23 against tol**2 = 1e-24)."""
        eps = float(np.finfo(np.float64).eps)
        spread = max(self.f0 - self.f_star, 0.0)
        return max(4.0 * self.floor * eps, (64.0 * eps) ** 2) * spread \
            / max(self.f_star, FLOOR * self.f0, 1e-300)


def _unit_power_of_two(mean_square: float) -> float:
    """2**k with 2**k * sqrt(mean_square) in [1, 2): an exact rescaling to unit size (1 for
    zero or non-finite input)."""
    if not (mean_square > 0 and math.isfinite(mean_square)):
        return 1.0
    # at most 2**1000 either way: the rescaled statistics must stay finite and normal
    k = min(max(-math.floor(math.log2(math.sqrt(mean_square))), -1000), 1000)
    return math.ldexp(1.0, k)


def elastic_net_gap(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
                    coef: np.ndarray, intercept: float, l1: float, l2: float,
                    mean_x: np.ndarray | None,
                    f0: float) -> tuple[float, float, float, float]:
    """``(gap, f, rounding, s2)`` at (coef, intercept) for f(w, b) = 1/(2m)||y - Xw - b||^2 +
    l2/2 ||w||^2 + l1 ||w||_1 (m: the sum of the row weights): the duality gap, an upper
    bound on f - f* (the dual point is the residual scaled into the dual's feasible set, as
    in scikit-learn's coordinate descent: Friedman, Hastie & Tibshirani 2010; Fercoq,
    Gramfort & Salmon 2015), f itself, the size of the rounding of the gap's own sums, and
    s2 = ||s||^2 for the subgradient s of f of least norm (zero exactly at the minimiser):
    with f mu-strongly convex, f - f* <= s2 / (2 mu), a bound of second order in the
    distance where the gap is of first order.

    With an intercept (``mean_x``: the columns' weighted means), ``intercept`` must be its
    best value for coef (b = mean(y) - mean_x.coef), so that the residual is that of the
    centred problem; ``f0`` is f at w = 0 (with the best intercept). One pass over X: the
    residual r and X^T W r in double-double (``_normal.refine_pass``; float32 data a block
    at a time in float64)."""
    n = X.shape[1]
    w = np.asarray(coef, dtype=np.float64)
    g = np.zeros(n)
    s = rss = 0.0
    rows = X.shape[0] if X.dtype == np.float64 else chunk_rows(n)
    for i in range(0, X.shape[0], rows):
        Xi, yi = X[i:i + rows], y[i:i + rows]
        if X.dtype != np.float64:
            Xi, yi = Xi.astype(np.float64), yi.astype(np.float64)
        wi = None if weights is None else \
            np.ascontiguousarray(weights[i:i + rows], dtype=np.float64)
        gp, sp, r2 = _normal.refine_pass(Xi, yi, wi, w, float(intercept))
        g += gp[0] + gp[1]
        s += sp[0] + sp[1]
        rss += r2
    m = float(X.shape[0] if weights is None else np.sum(weights, dtype=np.float64))
    xtr = g - mean_x * s if mean_x is not None else g  # Xc^T W r
    # scikit-learn's form, whose objective is m times this one: alpha = m l1, beta = m l2
    alpha, beta = m * l1, m * l2
    ww, l1w, wxr = float(w @ w), float(np.abs(w).sum()), float(w @ xtr)
    dual_norm = float(np.max(np.abs(xtr - beta * w), initial=0.0))
    c = alpha / dual_norm if dual_norm > alpha else 1.0
    # r.yc = r.(r + Xc w) = rss + w.Xc^T W r
    gap = 0.5 * rss * (1.0 + c * c) + alpha * l1w - c * (rss + wxr) \
        + 0.5 * beta * (1.0 + c * c) * ww
    f = 0.5 * rss + alpha * l1w + 0.5 * beta * ww
    # least-norm subgradient: the smooth part's gradient plus l1 sign(w); at w_j = 0 the
    # gradient soft-thresholded by l1
    grad = -xtr / m + l2 * w
    sub = np.where(w != 0, grad + l1 * np.sign(w),
                   np.sign(grad) * np.maximum(np.abs(grad) - l1, 0.0))
    s2 = float(sub @ sub)
    eps = float(np.finfo(np.float64).eps)
    # The gap's own sums round at eps times their terms; and w itself, rounded to float64,
    # moves the gap by up to about eps ||Xc w||^2 (measured on real data: at most 25 times
    # that at the best float64 point), ||Xc w||^2 = ||yc||^2 - rss - 2 w.Xc^T W r.
    explained = max(2.0 * m * f0 - rss - 2.0 * wxr, 0.0)
    rounding = 16 * eps * (rss + alpha * l1w + beta * ww + abs(wxr)) + 64 * eps * explained
    return max(gap, 0.0) / m, f / m, rounding / m, s2


def elastic_net_bound(gap: float, s2: float, rounding: float, coef: np.ndarray, l1: float,
                      convexity: tuple[float, float] | None) -> tuple[float, float]:
    """``(bound, floor)``: an upper bound on f - f* from elastic_net_gap's measures, and the
    level below which it cannot be resolved. With ``convexity`` = (mu, L), mu > 0 (see
    strong_convexity), also s2 / (2 mu), of second order in the distance, whose floor is that
    of a point rounded to float64 (s moves by about L eps ||w||); not the gap's rounding
    floor, which is of first order and would let through points 1e-5 (relative) above the
    minimum of a near-exact fit. Otherwise the gap, down to its rounding."""
    if convexity is None or convexity[0] <= 0:
        return gap, rounding
    mu, lam = convexity
    w = np.asarray(coef, dtype=np.float64)
    eps = float(np.finfo(np.float64).eps)
    floor = (4.0 * eps * (lam * float(np.linalg.norm(w)) + l1 * math.sqrt(w.size))) ** 2 \
        / (2.0 * mu)
    return min(gap, s2 / (2.0 * mu)), floor


def strong_convexity(st: Stats, l2: float) -> tuple[float, float]:
    """``(mu, L)``: a lower bound of the smallest eigenvalue of f's Hessian in w, Gc/m + l2 I
    (without an intercept the Hessian adds mean mean^T, which can only raise it), over the
    columns that are not constant, 0 when it is not resolved above the rounding of Gc (about
    n eps ||Gc||); and its largest eigenvalue."""
    m = float(st.m)
    keep = np.diagonal(st.G) > 0
    if not keep.any():
        return 0.0, float(l2)
    A = st.G[np.ix_(keep, keep)] / m
    k = A.shape[0]
    lo, hi = scipy.linalg.eigvalsh(A, subset_by_index=[0, k - 1], check_finite=False)[[0, -1]] \
        if k > 1 else (A[0, 0], A[0, 0])
    noise = 8 * k * float(np.finfo(np.float64).eps) * float(max(hi, 0.0))
    return max(float(lo) - noise, 0.0) + float(l2), max(float(hi), 0.0) + float(l2)
