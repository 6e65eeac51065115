"""Plain NumPy / SciPy reference solvers that gradfit's exact solver is measured against, and the
seeded synthetic problems both the pytest-benchmark suite and ``compare_normal.py`` use.

Nothing here is imported by the library. Each reference is the code a careful user would write
by hand; the SciPy ones pass ``check_finite=False`` (the fastest form: gradfit does its own,
cheaper, finiteness check on the Gram diagonal, so this keeps the comparison fair to SciPy).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

# (rows, columns) of the benchmarked problems, as in the issue.
SIZES = [(1000, 10), (100000, 100), (20000, 1000)]

INTERCEPT = 0.5  # the true intercept of the synthetic problems
NOISE = 0.01


def make_problem(m: int, n: int, seed: int = 0):
    """A well-conditioned float64 problem: ``(X, y, w_true)``, X C-ordered (m, n).

    Columns are standard normal plus a mean drawn from U(-1, 1), so centring does real work
    when ``fit_intercept=True``; y = X w_true + 0.5 + 0.01 * noise. Generation is ~0.3 s for the
    largest size (20000 x 1000, 160 MB) and the data are the same for a given seed.
    """
    rng = np.random.default_rng([seed, m, n])
    X = rng.standard_normal((m, n))
    X += rng.uniform(-1.0, 1.0, n)
    w_true = rng.standard_normal(n)
    y = X @ w_true
    y += INTERCEPT
    y += NOISE * rng.standard_normal(m)
    return X, y, w_true


# --- fit_intercept=False -------------------------------------------------------------------

def numpy_solve(X, y):
    """The issue's NumPy reference: ``np.linalg.solve(X.T @ X, X.T @ y)`` (LU via gesv)."""
    return np.linalg.solve(X.T @ X, X.T @ y)


def scipy_cho(X, y):
    """Cholesky on the Gram matrix with SciPy: ``cho_solve(cho_factor(X.T @ X), X.T @ y)``."""
    c = scipy.linalg.cho_factor(X.T @ X, check_finite=False)
    return scipy.linalg.cho_solve(c, X.T @ y, check_finite=False)


# --- fit_intercept=True: centre first, solve, recover the intercept --------------------------

def _centre(X, y):
    xmean = X.mean(axis=0)
    ymean = y.mean()
    return X - xmean, y - ymean, xmean, ymean


def numpy_solve_centered(X, y):
    """``Xc = X - X.mean(0); yc = y - y.mean(); w = solve(Xc.T Xc, Xc.T yc)``;
    returns ``(w, ymean - xmean @ w)``."""
    Xc, yc, xmean, ymean = _centre(X, y)
    w = np.linalg.solve(Xc.T @ Xc, Xc.T @ yc)
    return w, float(ymean - xmean @ w)


def scipy_cho_centered(X, y):
    """As :func:`numpy_solve_centered`, with SciPy's Cholesky instead of LU."""
    Xc, yc, xmean, ymean = _centre(X, y)
    c = scipy.linalg.cho_factor(Xc.T @ Xc, check_finite=False)
    w = scipy.linalg.cho_solve(c, Xc.T @ yc, check_finite=False)
    return w, float(ymean - xmean @ w)


# --- machine rate -----------------------------------------------------------------------------

def dgemm_operands(N: int = 2000, seed: int = 0):
    """Two square float64 matrices for measuring the dgemm rate (2 N^3 flops per product)."""
    rng = np.random.default_rng([seed, N])
    return rng.standard_normal((N, N)), rng.standard_normal((N, N))


def dgemm(A, B):
    """``np.dot`` of two distinct square matrices (a true gemm, not numpy's syrk shortcut)."""
    return np.dot(A, B)
