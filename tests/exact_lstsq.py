"""The exact least-squares solution of float data, in rational arithmetic.

Every float is a dyadic rational, so the normal equations of the data *as given* have an exact
rational solution: the reference against which a solver's correct digits are counted, free of
any rounding (unlike another floating-point solver). Each column is brought to integers by its
common power-of-two denominator, the Gram matrix is summed in Python integers, and the
(n + 1) x (n + 1) system is solved by Gaussian elimination in ``fractions.Fraction``.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def _integer_column(col):
    """(integers M, denominator q) with col == M / q exactly (q a power of two)."""
    ratios = [float(v).as_integer_ratio() for v in col]
    q = max(d for _, d in ratios)
    return np.array([p * (q // d) for p, d in ratios], dtype=object), q


def exact_lstsq(X, y, fit_intercept=True, sample_weight=None, l2=0.0):
    """Exact minimiser (w, b) of sum_i s_i (y_i - x_i.w - b)^2 / (2 sum s) + l2/2 |w|^2 for
    the float values of X, y, s (b = 0 without intercept), as lists of Fractions.

    Raises ZeroDivisionError when the problem is exactly singular."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m, n = X.shape
    cols = [_integer_column(X[:, j]) for j in range(n)]
    if fit_intercept:
        cols.append((np.ones(m, dtype=object), 1))
    ym, yq = _integer_column(y)
    if sample_weight is None:
        wm, wq = np.ones(m, dtype=object), 1
    else:
        wm, wq = _integer_column(np.asarray(sample_weight, dtype=np.float64))
    k = len(cols)
    M = np.empty((m, k), dtype=object)
    for j, (c, _) in enumerate(cols):
        M[:, j] = c
    q = [c[1] for c in cols]
    MW = M * wm[:, None]
    G = MW.T @ M  # integers
    r = MW.T @ ym
    msum = Fraction(int(wm.sum()), wq)
    A = [[Fraction(int(G[i, j]), q[i] * q[j] * wq) for j in range(k)] for i in range(k)]
    rhs = [Fraction(int(r[i]), q[i] * yq * wq) for i in range(k)]
    if l2:
        pen = Fraction(l2) * msum
        for i in range(n):
            A[i][i] += pen
    return _gauss(A, rhs, n, fit_intercept)


def _gauss(A, rhs, n, fit_intercept):
    k = len(rhs)
    for c in range(k):
        p = next(i for i in range(c, k) if A[i][c] != 0)  # StopIteration: singular
        A[c], A[p] = A[p], A[c]
        rhs[c], rhs[p] = rhs[p], rhs[c]
        for i in range(c + 1, k):
            if A[i][c]:
                f = A[i][c] / A[c][c]
                row_c = A[c]
                A[i] = [a - f * b for a, b in zip(A[i], row_c, strict=True)]
                rhs[i] -= f * rhs[c]
    x = [Fraction(0)] * k
    for c in range(k - 1, -1, -1):
        s = rhs[c] - sum(A[c][j] * x[j] for j in range(c + 1, k))
        x[c] = s / A[c][c]
    return x[:n], (x[n] if fit_intercept else Fraction(0))


def digits(estimate, exact, cap=16.0):
    """Correct significant digits of each estimate: -log10(|est - exact| / |exact|), exact
    in rational arithmetic (the estimate's float value is itself exact), capped at ``cap``."""
    out = []
    for e, x in zip(np.atleast_1d(np.asarray(estimate, dtype=np.float64)), exact,
                    strict=True):
        x = Fraction(x)
        err = abs(Fraction(float(e)) - x)
        if err == 0:
            out.append(cap)
        elif x == 0:
            out.append(-math.log10(float(err)))
        else:
            out.append(min(cap, -math.log10(float(err / abs(x)))))
    return np.array(out)


def min_digits(coef, intercept, exact, fit_intercept=True):
    """The worst coefficient's digits (the intercept included when fitted), as NIST counts."""
    w, b = exact
    d = digits(coef, w)
    if fit_intercept:
        d = np.append(d, digits([intercept], [b]))
    return float(d.min())
