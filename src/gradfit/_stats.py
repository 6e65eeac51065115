"""Sufficient statistics of (X, y): the layer shared by every solver that works from X^T X.

The exact solver (normal.py), the chunk accumulator (accumulator.py), gradient descent on the
Gram matrix (``precompute`` in descent.py) and the multi-target estimator (estimators.py) all
gather, merge and solve from the same :class:`Stats`. This module holds what they share:
gathering (:func:`gram_stats`, :func:`float64_stats`), merging (:func:`chan_merge`), centred
to raw products (:func:`to_raw`), the size of a block of rows converted or centred at a time
(:data:`CHUNK_BYTES`), and the float32 -> float64 retry of an exact solve
(:func:`solve_with_float64_retry`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _normal
from ._result import FitResult
from ._validation import check_coef_range, raise_nonfinite

# Cholesky's relative forward error is bounded by about eps / rcond (rcond of the column-scaled
# matrix). float32 data are solved in float32 while that bound is below ~1e-4, else everything
# is redone in float64 (the Gram matrix of the float32 pass itself carries float32 rounding, so
# a float64 factorisation of it would not help). The float64 threshold is in normal.py.
RCOND_MIN_FLOAT32 = 1e-3

#: The start of ``FitResult.message`` when float32 data were solved in float64.
FLOAT32_NOTE = (f"float32 normal equations were not accurate enough (rcond < "
                f"{RCOND_MIN_FLOAT32:g}, or squares near float32's underflow); solved in "
                f"float64. ")

#: Bytes of float64 rows converted or centred at a time, where a whole-array temporary would
#: cost as much memory as X: 4 MiB keeps each block's copy in the last-level cache and the
#: number of Python-level iterations small.
CHUNK_BYTES = 1 << 22


def chunk_rows(n_columns: int) -> int:
    """Rows per block of :data:`CHUNK_BYTES` of float64 data with ``n_columns`` columns."""
    return max(1, CHUNK_BYTES // (8 * max(1, n_columns)))


class Stats(NamedTuple):
    """Sufficient statistics of (X, y): with ``centred``, G = Xc^T W Xc, xty = Xc^T W yc and
    yty = yc^T W yc about the (weighted) means; otherwise the raw products (and zero means).
    m is the sum of the row weights: the number of rows when unweighted."""

    m: float
    mean_x: np.ndarray
    mean_y: float
    G: np.ndarray
    xty: np.ndarray
    yty: float
    centred: bool


def gram_stats(X: np.ndarray, y: np.ndarray, centre: bool, weights=None) -> Stats:
    """One pass over validated X, y (see _normal.gram_pass), in X's precision; non-finite data
    is an error."""
    sqrt_w = None if weights is None else np.sqrt(weights).astype(X.dtype)
    finite, m, mean_x, mean_y, G, xty, yty = _normal.gram_pass(X, y, centre, sqrt_w)
    if not finite:
        raise_nonfinite(X, y)
    return Stats(m, mean_x, float(mean_y), G, xty, float(yty), centre)


def float64_stats(X: np.ndarray, y: np.ndarray, centre: bool, weights=None) -> Stats:
    """gram_stats of validated X, y with float64 sums whatever their dtype: float32 data are
    converted one block of :data:`CHUNK_BYTES` at a time and the blocks merged by
    :func:`chan_merge`, because statistics summed in float32 lose about eps32 * y^T y of
    every objective computed from them."""
    if X.dtype == np.float64:
        return gram_stats(X, y, centre, weights)
    rows = chunk_rows(X.shape[1])
    st = None
    for i in range(0, X.shape[0], rows):
        w = None if weights is None else weights[i:i + rows]
        if w is not None and not w.any():
            continue  # rows that count for nothing (their weighted means would be 0 / 0)
        finite, m, mean_x, mean_y, G, xty, yty = _normal.gram_pass(
            X[i:i + rows].astype(np.float64), y[i:i + rows].astype(np.float64), centre,
            None if w is None else np.sqrt(w))
        if not finite:
            raise_nonfinite(X, y)  # names the first bad value of the whole X or y
        st = chan_merge(st, Stats(m, mean_x, float(mean_y), G, xty, float(yty), centre))
    # Validated input has a row of positive weight (as_sample_weight), so a block was merged.
    assert st is not None
    return st


def to_raw(st: Stats) -> Stats:
    """Uncentred products from centred statistics (sums of positive terms: no cancellation);
    raw statistics are returned as they are."""
    if not st.centred:
        return st
    m = st.m
    with np.errstate(over="ignore", invalid="ignore"):  # means beyond 1e154: the solvers
        return Stats(m, np.zeros_like(st.mean_x), 0.0,  # refuse the infinite products
                     st.G + m * np.multiply.outer(st.mean_x, st.mean_x),
                     st.xty + m * st.mean_y * st.mean_x, st.yty + m * st.mean_y * st.mean_y,
                     False)


def chan_merge(a: Stats | None, b: Stats | None) -> Stats | None:
    """The statistics of the rows of both, by the pairwise update of Chan, Golub & LeVeque
    (1979) when both are centred (no cancellation for columns with large means); raw
    products simply add up. None stands for no rows."""
    if a is None or b is None:
        return b if a is None else a
    if not (a.centred and b.centred):
        a, b = to_raw(a), to_raw(b)
        return Stats(a.m + b.m, a.mean_x, 0.0, a.G + b.G, a.xty + b.xty, a.yty + b.yty, False)
    m = a.m + b.m
    w = a.m * b.m / m
    dx = b.mean_x - a.mean_x
    dy = b.mean_y - a.mean_y
    return Stats(
        m=m,
        mean_x=a.mean_x + dx * (b.m / m),
        mean_y=a.mean_y + dy * (b.m / m),
        G=a.G + b.G + w * np.multiply.outer(dx, dx),
        xty=a.xty + b.xty + w * dy * dx,
        yty=a.yty + b.yty + w * dy * dy,
        centred=True,
    )


def solve_with_float64_retry(attempt: Callable[[np.dtype, str], FitResult | None],
                             dtype: np.dtype) -> FitResult:
    """The precision rule of every exact solve: ``attempt(dtype, "")``; when float32 is not
    accurate enough (``attempt`` returns None: rcond below :data:`RCOND_MIN_FLOAT32`), the
    whole solve again with ``attempt(float64, FLOAT32_NOTE)`` and its coefficients cast
    back to float32. ``attempt`` starts its message with the note it is given."""
    res = attempt(np.dtype(dtype), "")
    if res is None:
        res = attempt(np.dtype(np.float64), FLOAT32_NOTE)
        if res is None:  # pragma: no cover - a float64 solve always answers or raises
            raise RuntimeError("the float64 solve returned no result")
        res = dataclasses.replace(res, coef=check_coef_range(res.coef, np.dtype(np.float32),
                                                             narrowed=True))
    return res


_EPS64 = float(np.finfo(np.float64).eps)


def constant_columns(sum_squares, mean_x, m) -> np.ndarray:
    """Columns whose centred sum of squares (the diagonal of a centred G, total weight m) is
    no more than the centring's rounding: deviations of
    a few eps * |mean| in every row (a constant column with weights: its weighted mean is
    not exactly its value), a spread of less than 16 ulps of the mean: constant, not a
    spread to fit. (A spread of a few hundred ulps is data: a column of mean 1e10 varying by
    590 ulps can carry a coefficient of 1.6e6.)"""
    with np.errstate(over="ignore", under="ignore"):
        level = m * (16 * _EPS64 * mean_x) ** 2
    # a level in the subnormals says nothing (columns of 1e-161: their squares underflow,
    # which the solvers detect on their own)
    return (sum_squares <= level) & (level >= np.finfo(np.float64).tiny)


def without_columns(G: np.ndarray, xty: np.ndarray,
                    drop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of G and xty with the rows, columns and entries of ``drop`` zeroed: those
    columns leave the normal equations (their minimum-norm coefficient is 0)."""
    G, xty = G.copy(), xty.copy()
    G[drop, :] = 0.0
    G[:, drop] = 0.0
    xty[drop] = 0.0
    return G, xty
