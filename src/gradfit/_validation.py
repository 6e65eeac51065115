"""Input checks shared by every entry point: array-likes become float32/float64 arrays that the
compiled code can read in place, and bad input becomes a ValueError that says what to do."""
from __future__ import annotations

import math
import numbers

import numpy as np


def _float_dtype(arr: np.ndarray, name: str) -> np.dtype:
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype == np.float32 or arr.dtype == np.float64:
            return arr.dtype
        return np.dtype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    if kind in "biu":
        return np.dtype(np.float64)
    if kind == "c":
        raise ValueError(f"{name} has complex dtype {arr.dtype}; gradfit fits real data only: "
                         f"pass the real part (or split real and imaginary parts into columns).")
    raise ValueError(f"{name} has non-numeric dtype {arr.dtype}; convert it to a float array "
                     f"first (e.g. np.asarray({name}, dtype=float)).")


def float_dtype_of(dtype, name: str) -> np.dtype:
    """The dtype gradfit computes in for data of ``dtype`` (float32 or float64); a ValueError
    for complex or non-numeric data. For arrays whose values are not at hand (a chunk's
    dtype, a Dask array)."""
    return _float_dtype(np.empty(0, dtype), name)


def as_float_matrix(X, name: str = "X") -> np.ndarray:
    """Return X as a 2-D float32 or float64 array with unit stride along one axis.

    float32 and float64 arrays in C or F order (or sliced views of them) are used as they are;
    other numeric dtypes (bool, int, float16, longdouble) are converted, and arrays with no
    unit stride are copied to C order: those are the only copies.
    """
    arr = np.asarray(X)
    dtype = _float_dtype(arr, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}; "
                         f"use {name}.reshape(-1, 1) for a single feature.")
    m, n = arr.shape
    if m == 0 or n == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one row and "
                         f"one column.")
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    s0, s1 = arr.strides
    item = arr.itemsize
    # The kernels read X through whole-element strides with a unit stride on one axis and a
    # leading dimension BLAS accepts; anything else (odd record layouts, unaligned data, a
    # single row with a leading dimension below n) is copied to C order.
    whole = arr.flags.aligned and s0 % item == 0 and s1 % item == 0
    row_major = s1 == item and s0 >= n * item
    col_major = s0 == item and s1 >= m * item and not (s1 == item and m == 1)
    if not (whole and (row_major or col_major)):
        arr = np.ascontiguousarray(arr)
    return arr


def as_target(y, m: int, dtype: np.dtype, name: str = "y") -> np.ndarray:
    """Return y as a contiguous 1-D array of ``dtype`` and length m (copied only if needed)."""
    arr = np.asarray(y)
    _float_dtype(arr, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of length {m}, got shape {arr.shape}; "
                         f"use {name}.ravel() for a single target column.")
    if arr.shape[0] != m:
        raise ValueError(f"{name} has {arr.shape[0]} values but X has {m} rows; they must "
                         f"match.")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_sample_weight(sample_weight, m: int, row_offset: int = 0,
                     allow_all_zero: bool = False) -> np.ndarray | None:
    """None, or a float64 array of m finite weights >= 0 that do not all vanish (they may
    with ``allow_all_zero``: a chunk of a larger data set). Errors name row
    ``row_offset + i`` for the chunk's row i."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    _float_dtype(w, "sample_weight")
    if w.ndim == 0:
        w = np.full(m, float(w))
    if w.ndim != 1 or w.shape[0] != m:
        raise ValueError(f"sample_weight must be 1-D with one weight per row ({m}), got shape "
                         f"{w.shape}.")
    w = w.astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError("sample_weight contains NaN or infinity; weights must be finite.")
    if (w < 0).any():
        raise ValueError(f"sample_weight has negative values (first at index "
                         f"{row_offset + int(np.argmax(w < 0))}); weights must be >= 0.")
    if not w.any() and not allow_all_zero:
        raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
    return w


def normalised(weights: np.ndarray | None) -> np.ndarray | None:
    """Weights divided by their largest: the objective is unchanged (it is scale-free in the
    weights), and neither huge nor tiny weights can overflow or underflow the sums."""
    return None if weights is None else weights / weights.max()


def nonfinite_message(name: str, index: tuple) -> str:
    """The error for a NaN or infinity in ``name`` at ``index`` (row first)."""
    return (f"{name} contains NaN or infinity (first at index {index}); remove or impute "
            f"those values before fitting.")


def check_penalty(value, name: str) -> float:
    """A finite, non-negative real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}.")
    return value


def raise_nonfinite(X: np.ndarray, y: np.ndarray, row_offset: int = 0) -> None:
    """Called when a pass over the data produced a non-finite value: say exactly why. For a
    chunk of a larger data set starting at row ``row_offset``, the index named is the row
    in the whole data."""
    for arr, name in ((X, "X"), (y, "y")):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0]
            raise ValueError(nonfinite_message(name, (row_offset + int(where[0]),)
                                               + tuple(int(i) for i in where[1:])))
    raise ValueError("X or y has values so large that their squares overflow "
                     f"{X.dtype}; rescale the data (e.g. divide each column by its standard "
                     "deviation).")
