"""Plain NumPy / SciPy reference solvers that gradfit's exact solver is measured against, and the
seeded synthetic problems both the pytest-benchmark suite and ``compare_normal.py`` use; below
them, the same for the iterative solvers (``compare_gd/sgd/lasso/tts.py``): the NumPy
gradient-descent and mini-batch SGD loops, the objective, the SGD / lasso / conditioned problems
and the settings the iterative benchmarks use.

Nothing here is imported by the library. Each reference is the code a careful user would write
by hand; the SciPy ones pass ``check_finite=False`` (the fastest form: gradfit does its own,
cheaper, finiteness check on the Gram diagonal, so this keeps the comparison fair to SciPy).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg

# (rows, columns) of the benchmarked problems: small, tall, and wide.
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


def make_polynomial_problem(m: int, degree: int = 7, seed: int = 0):
    """An ill-conditioned float64 problem: ``(X, y)`` with X = [x, x^2, ..., x^degree], x
    uniform on [0, 1], y = sin(3x) + 0.01 * noise. At degree 7 the centred, column-scaled Gram
    matrix has rcond ~ 2e-10, so ``solve_normal`` refines its Cholesky solution."""
    rng = np.random.default_rng([seed, m, degree])
    x = rng.uniform(0.0, 1.0, m)
    X = np.column_stack([x ** p for p in range(1, degree + 1)])
    y = np.sin(3.0 * x) + NOISE * rng.standard_normal(m)
    return X, y


# --- fit_intercept=False -------------------------------------------------------------------

def numpy_solve(X, y):
    """The NumPy reference: ``np.linalg.solve(X.T @ X, X.T @ y)`` (LU via gesv)."""
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


# =============================================================================================
# Iterative solvers (gradient descent, SGD, lasso): problems and NumPy references.
# Objective shared by every solver:
#     f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2 + l1 ||w||_1
# =============================================================================================

# (rows, columns) of the per-iteration benchmark, and the fixed iteration counts used there.
GD_SIZES = [(1000, 10), (100000, 100), (20000, 1000)]
GD_ITERS = {(1000, 10): 2000, (100000, 100): 20, (20000, 1000): 10}


def objective(X, y, coef, intercept=0.0, l2=0.0, l1=0.0):
    """f(w, b) above, in float64, computed directly from the data (one ``X @ w``)."""
    r = y - X @ coef - intercept
    coef = np.asarray(coef, dtype=np.float64)
    return 0.5 * float(r @ r) / X.shape[0] + 0.5 * l2 * float(coef @ coef) \
        + l1 * float(np.abs(coef).sum())


def lipschitz(X, fit_intercept=False):
    """L = largest eigenvalue of the Hessian X^T X / m (of the centred X with an intercept),
    exactly (eigvalsh of the n x n Gram matrix; outside any timing)."""
    Xc = X - X.mean(axis=0) if fit_intercept else X
    return float(np.linalg.eigvalsh(Xc.T @ Xc / X.shape[0])[-1])


def numpy_gd(X, y, lr, n_iter, w0=None):
    """The NumPy reference loop of full-batch gradient descent, no intercept, fixed rate::

        r = X @ w - y; g = X.T @ r / m; w -= lr * g

    ``n_iter`` times (two passes over X per iteration: a gemv and a transposed gemv)."""
    m = X.shape[0]
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=np.float64)
    for _ in range(n_iter):
        r = X @ w - y
        g = X.T @ r / m
        w -= lr * g
    return w


def numpy_sgd(X, y, lr, epochs, batch_size, seed=0, average_start=None,
              fit_intercept=True):
    """The NumPy reference of mini-batch SGD with a constant rate, as a careful user writes it:
    every epoch a fresh permutation of the rows, one step per batch of ``batch_size`` rows
    (the last one may be smaller)::

        Xb = X[idx]; r = Xb @ w + b - y[idx]
        w -= lr * Xb.T @ r / k;  b -= lr * r.mean()

    ``average_start`` (rows seen, like scikit-learn's and gradfit's ``average=int``): return
    the running mean of the iterates after that many rows have been seen (Polyak-Ruppert
    averaging), or the last iterate when None. Returns ``(coef, intercept)``."""
    m, n = X.shape
    rng = np.random.default_rng(seed)
    w = np.zeros(n)
    b = 0.0
    wa = np.zeros(n)
    ba = 0.0
    count = 0
    seen = 0
    for _ in range(epochs):
        perm = rng.permutation(m)
        for start in range(0, m, batch_size):
            idx = perm[start:start + batch_size]
            k = idx.shape[0]
            Xb = X[idx]
            r = Xb @ w
            r += b
            r -= y[idx]
            w -= (lr / k) * (Xb.T @ r)
            if fit_intercept:
                b -= lr * r.mean()
            seen += k
            if average_start is not None and seen > average_start:
                count += 1
                wa += (w - wa) / count
                ba += (b - ba) / count
    if average_start is not None and count:
        return wa, ba
    return w, b


# --- problems of the iterative benchmarks ----------------------------------------------------

SGD_SIZE = (100000, 100)
SGD_NOISE = 1.0  # so that f* ~ 0.5 is far from 0 and a relative gap of 1e-3 means something


def make_sgd_problem(m=SGD_SIZE[0], n=SGD_SIZE[1], seed=0, noise=SGD_NOISE):
    """``(X, y, w_true)`` for the SGD benchmark: X standard normal with zero-mean columns (the
    standardised data stochastic gradient methods are meant to be given; scikit-learn's
    SGDRegressor does not centre), y = X w_true + 0.5 + noise * N(0, 1). 80 MB at 100000x100.
    """
    rng = np.random.default_rng([seed, m, n, 1])
    X = rng.standard_normal((m, n))
    w_true = rng.standard_normal(n)
    y = X @ w_true
    y += INTERCEPT
    y += noise * rng.standard_normal(m)
    return X, y, w_true


LASSO_SIZE = (20000, 200)
# l1 for the lasso problems below, found by bisection on scikit-learn's Lasso (tol 1e-8) so
# that 100 +- 1 of the 200 coefficients are exactly zero (101 for both).
LASSO_L1 = {0.0: 0.679, 0.5: 0.548}


def make_lasso_problem(m=LASSO_SIZE[0], n=LASSO_SIZE[1], rho=0.0, seed=0):
    """``(X, y, w_true)`` for the lasso benchmark (fit with an intercept). X: AR(1) columns
    (x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j, so corr(x_i, x_j) = rho^|i-j|; rho = 0 is
    independent standard normal columns) plus a column mean from U(-1, 1), as in
    :func:`make_problem`; y = X w_true + 0.5 + N(0, 1), w_true standard normal. The Hessian's
    condition number is ~1.5 for rho = 0 and ~10 for rho = 0.5; ``LASSO_L1[rho]`` zeroes half
    the coefficients."""
    rng = np.random.default_rng([seed, m, n, 2])
    X = rng.standard_normal((m, n))
    if rho:
        c = np.sqrt(1.0 - rho * rho)
        for j in range(1, n):
            X[:, j] *= c
            X[:, j] += rho * X[:, j - 1]
    X += rng.uniform(-1.0, 1.0, n)
    w_true = rng.standard_normal(n)
    y = X @ w_true
    y += INTERCEPT
    y += rng.standard_normal(m)
    return X, y, w_true


CONDITIONED_SIZE = (5000, 50)
CONDITIONED_L = 2.0  # largest eigenvalue of the Hessian of the time-to-solution problems


def make_conditioned_problem(cond, m=CONDITIONED_SIZE[0], n=CONDITIONED_SIZE[1], seed=0):
    """``(X, y, w_true)`` with a designed spectrum, fit without intercept: X = U diag(s) V^T
    (U: m x n orthonormal columns, V: orthogonal), s chosen so that the Hessian X^T X / m has
    eigenvalues spaced geometrically from L = CONDITIONED_L down to L / cond (its condition
    number is ``cond``, that of X is sqrt(cond)); y = X w_true + 0.01 N(0, 1)."""
    rng = np.random.default_rng([seed, m, n, int(cond)])
    U, _ = np.linalg.qr(rng.standard_normal((m, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = CONDITIONED_L * float(cond) ** (-np.arange(n) / (n - 1))
    X = np.ascontiguousarray((U * np.sqrt(m * lam)) @ V.T)
    w_true = rng.standard_normal(n)
    y = X @ w_true + NOISE * rng.standard_normal(m)
    return X, y, w_true


# --- settings of the SGD and lasso benchmarks --------------------------------------------------
# compare_sgd.py and compare_lasso.py search them again at every run and say if their choice
# differs.

SGD_TARGET = 1e-3  # relative objective gap (f - f*) / f* to reach


def sgd_rate(X, batch_size, fit_intercept=True):
    """Half the largest stable constant rate of mini-batch SGD on least squares,
    ``batch_size / (2 (R^2 + (batch_size - 1) L))``, with R^2 = mean ||x_i||^2 (+1 for the
    intercept's constant feature) and L the Hessian's largest eigenvalue (Jain, Kakade,
    Kidambi, Netrapalli & Sidford, JMLR 18(223), 2018: the rate grows linearly with the batch
    size up to R^2 / L, then saturates at ~1/L)."""
    r2 = float(np.einsum("ij,ij->", X, X)) / X.shape[0] + (1.0 if fit_intercept else 0.0)
    L = lipschitz(X, fit_intercept)
    return batch_size / (2.0 * (r2 + (batch_size - 1) * L))


# gradfit: Fixed(sgd_rate(X, SGD_BATCH)), averaging from a tenth of the first epoch on.
SGD_BATCH = 256
SGD_AVERAGE_FRACTION = 0.1   # average=int(SGD_AVERAGE_FRACTION * m)
SGD_EPOCHS = 1
# scikit-learn's SGDRegressor: its best setting found for this target, and its defaults with
# average=True (penalty=None: the objective has no L2 term; tol=None: exactly max_iter epochs).
SGD_SKLEARN_BEST = dict(learning_rate="invscaling", eta0=0.03, average=True, max_iter=1)
SGD_SKLEARN_DEFAULT_AVG = dict(average=True, max_iter=2)

LASSO_TARGET = 1e-8  # relative objective gap
# The loosest tolerances (on a half-decade grid) that reach LASSO_TARGET on
# make_lasso_problem(rho=0): gradfit FISTA's tol (with precompute=True and False),
# scikit-learn Lasso's tol (precompute=False and True).
LASSO_TOL = {"fista_gram": 1e-4, "fista": 1e-4, "sklearn": 1e-2, "sklearn_gram": 1e-2}
