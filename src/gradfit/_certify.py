"""What ``converged=True`` promises, and the check that keeps the promise.

An iterative fit is declared converged only when its point is *measured* to be close to the
exact minimiser, in a sense that does not depend on the units of the data:

- full batch: the relative error of the standardised coefficients,
  ``||sigma * (w - w*)|| <= tol * ||sigma * w*||`` (sigma: the column scales), and the
  objective gap ``f - f* <= tol**2 * max(f*, FLOOR * f0)``;
- mini-batch (SGD): the relative objective gap ``f - f* <= tol * max(f*, FLOOR_SGD * f0)``,

with f0 the objective of w = 0 (at the best intercept). The floors keep the promise
meaningful on data a linear model fits (almost) exactly (f* = 0): there SGD's promise is
the objective within tol * 1e-6 of f0, i.e. R² within 1e-9 of its best for tol = 1e-3.

Both quantities are computed exactly from the sufficient statistics of the data (one pass over
X, the exact solver's ``gram_stats``) and a Cholesky factor of the standardised normal matrix:
for the quadratic f, ``w - w* = H^-1 g`` and ``f - f* = g^T H^-1 g / 2`` at any point, so a
check costs O(n^2) once the factor exists. No algorithm is switched: the fit's own point is
judged, never replaced by the exact solution.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from ._stats import Stats

__all__ = ["Certificate", "FLOOR", "FLOOR_SGD", "MAX_COLUMNS"]

#: f* below FLOOR * f0 counts as FLOOR * f0 in the relative gap (an exact fit, f* = 0, cannot
#: be approached to a relative gap in floating point).
FLOOR = 1e-10
FLOOR_SGD = 1e-6
#: Beyond this many columns the statistics (m n^2 flops, n^2 memory) and the factor (n^3/3)
#: cost more than the fits they would judge; convergence is then judged by the gradient test.
MAX_COLUMNS = 2000


class Certificate:
    """Distances to the exact minimiser of f(w, b) = 1/(2m)||y - Xw - b||^2 + l2/2 ||w||^2
    (l1 = 0), from the statistics ``st`` (centred when there is an intercept)."""

    def __init__(self, st: Stats, l2: float, fit_intercept: bool, scale: np.ndarray):
        m = float(st.m)
        G, xty, yty = st.G, st.xty, st.yty
        if st.centred and not fit_intercept:  # raw products, as solve_stats
            G = G + m * np.multiply.outer(st.mean_x, st.mean_x)
            xty = xty + m * st.mean_y * st.mean_x
            yty = yty + m * st.mean_y ** 2
        self.m, self.G, self.xty = m, G, xty
        self.l2, self.intercept = float(l2), bool(fit_intercept)
        self.mean_x = st.mean_x if fit_intercept else np.zeros_like(st.mean_x)
        self.mean_y = float(st.mean_y) if fit_intercept else 0.0
        self.s = np.asarray(scale, dtype=np.float64)  # w = s * v, v standardised
        H = (self.s[:, None] * G * self.s[None, :]) / m
        H.flat[:: H.shape[0] + 1] += self.l2 * self.s ** 2
        self.b = self.s * xty / m
        self.f0 = 0.5 * yty / m  # f at w = 0 and the best intercept
        try:
            self._factor = scipy.linalg.cho_factor(H, lower=True, check_finite=False)
            self._pinv: tuple[np.ndarray, np.ndarray] | None = None
            if not np.all(np.isfinite(self._factor[0])) or \
                    np.min(np.abs(np.diag(self._factor[0]))) <= 0.0:
                raise np.linalg.LinAlgError
        except (np.linalg.LinAlgError, ValueError):
            # Singular (collinear columns): distances to the nearest minimiser, on the range.
            evals, evecs = scipy.linalg.eigh(H, check_finite=False)
            keep = evals > 1e-13 * max(evals.max(), 0.0) * max(H.shape[0], 1)
            self._factor = None
            self._pinv = (evecs[:, keep], evals[keep])
        v_star = self._solve(self.b)
        self.f_star = max(self.f0 - 0.5 * float(self.b @ v_star), 0.0)

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
        w = np.asarray(coef, dtype=np.float64)
        if not (np.isfinite(w).all() and math.isfinite(intercept)):
            return math.inf, math.inf
        g = self.s * ((self.G @ w - self.xty) / self.m + self.l2 * w)
        e = self._solve(g)
        v = w / self.s
        gap = 0.5 * float(g @ e)
        if self.intercept:
            e_c = intercept + float(self.mean_x @ w) - self.mean_y
            gap += 0.5 * e_c * e_c
        ref = float(np.linalg.norm(v - e))
        err = float(np.linalg.norm(e))
        cerr = 0.0 if err == 0.0 else (err / ref if ref > 0 else math.inf)
        return cerr, max(gap, 0.0) / max(self.f_star, floor * self.f0, 1e-300)

    def holds(self, coef, intercept, tol: float, mini: bool) -> tuple[bool, float, float]:
        """Whether the promise of ``converged`` holds at the point, with the two measures."""
        cerr, gap = self.measure(coef, intercept, FLOOR_SGD if mini else FLOOR)
        ok = gap <= tol if mini else (cerr <= tol and gap <= tol * tol)
        return ok, cerr, gap
