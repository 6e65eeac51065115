"""Shared by the test_descent_*.py files: test problems and NumPy references for the objective,
its gradient and its Hessian, in the parametrization the descent engine works in.

f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2. With an intercept the engine's parameters
are p = (w, c), c = b + mean(X)·w, so that the residual is y - Xc w - c (Xc: centred X). In
full-batch mode c is held at its optimum mean(y) (the intercept is eliminated): its gradient
is taken as 0 and it adds no curvature, H = [Xc^T Xc / m + l2 I, 0; 0, 0].
Without intercept: p = w, H = X^T X/m + l2 I.
"""
from __future__ import annotations

import numpy as np


def make_problem(m=500, n=8, dtype=np.float64, seed=0, scale=1.0):
    """Columns of scales 1..3 (times ``scale``) with nonzero means; y linear plus noise."""
    rng = np.random.default_rng(seed)
    scales = scale * np.linspace(1.0, 3.0, n)
    means = rng.uniform(-2.0, 2.0, n)
    X = rng.standard_normal((m, n)) * scales + means
    w = rng.uniform(-2.0, 2.0, n)
    y = X @ w + 1.5 + 0.1 * rng.standard_normal(m)
    return X.astype(dtype), y.astype(dtype)


def hessian(X, l2, fit_intercept):
    """Hessian of f in the engine's parametrization."""
    X = np.asarray(X, dtype=np.float64)
    m, n = X.shape
    if not fit_intercept:
        return X.T @ X / m + l2 * np.eye(n)
    Xc = X - X.mean(axis=0)
    H = np.zeros((n + 1, n + 1))
    H[:n, :n] = Xc.T @ Xc / m + l2 * np.eye(n)
    return H


def objective(X, y, l2, coef, intercept=0.0):
    """f(w, b) in float64."""
    w = np.asarray(coef, dtype=np.float64)
    r = np.asarray(y, np.float64) - np.asarray(X, np.float64) @ w - intercept
    return float(r @ r / (2 * len(r)) + 0.5 * l2 * (w @ w))


def to_engine(X, coef, intercept, fit_intercept):
    """p = (w, c) from (w, b)."""
    w = np.asarray(coef, dtype=np.float64)
    if not fit_intercept:
        return w.copy()
    return np.append(w, intercept + np.asarray(X, np.float64).mean(axis=0) @ w)


def from_engine(X, p, fit_intercept):
    """(w, b) from p."""
    if not fit_intercept:
        return p.copy(), 0.0
    n = len(p) - 1
    return p[:n].copy(), float(p[n] - np.asarray(X, np.float64).mean(axis=0) @ p[:n])


def engine_objective(X, y, l2, p, fit_intercept):
    w, b = from_engine(X, p, fit_intercept)
    return objective(X, y, l2, w, b)


def engine_gradient(X, y, l2, p, fit_intercept):
    """Gradient of f with respect to p, in float64."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m = len(y)
    if not fit_intercept:
        r = y - X @ p
        return -X.T @ r / m + l2 * p
    n = len(p) - 1
    Xc = X - X.mean(axis=0)
    r = y - Xc @ p[:n] - p[n]
    return np.append(-Xc.T @ r / m + l2 * p[:n], 0.0)


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
