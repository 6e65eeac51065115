"""Input checks shared by every entry point: array-likes become float32/float64 arrays that the
compiled code can read in place, and bad input becomes a ValueError that says what to do."""
from __future__ import annotations

import math
import numbers

import numpy as np

#: Largest count (max_iter, n_iter_no_change, max_power_iter) the compiled loops take: their
#: counters are C ints.
MAX_COUNT = 2**31 - 1


def reject_masked(arr, name: str) -> None:
    """Masked arrays with masked values are refused: NumPy's conversions drop the mask, so
    the values under it would be fitted as if they were data. Dropping the rows silently is
    not an option either (predictions must keep one value per row). A masked array with
    nothing masked is used as its data."""
    if isinstance(arr, np.ma.MaskedArray):
        masked = int(np.count_nonzero(np.ma.getmaskarray(arr)))
        if masked:
            raise ValueError(
                f"{name} is a masked array with {masked} masked value(s); gradfit does not "
                f"apply masks (the values under them would be used as data). Drop the rows "
                f"with masked values (e.g. keep = ~np.ma.getmaskarray({name})"
                f"{'.any(axis=1)' if np.ndim(arr) == 2 else ''}) or fill them "
                f"({name}.filled(value)) before passing {name}.")


def check_finite(arr: np.ndarray, name: str) -> None:
    """ValueError naming the first NaN or infinity of ``arr``, if any."""
    if not np.isfinite(arr).all():
        where = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(nonfinite_message(name, tuple(int(i) for i in where)))


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
    reject_masked(X, name)
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
        arr = _converted(arr, dtype, name)
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


def _converted(arr: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """arr in ``dtype``; a ValueError naming the first finite value that a wider float
    (longdouble) cannot keep in it, which would otherwise surface as "NaN or infinity"."""
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)
    if arr.dtype.kind == "f" and out.dtype.itemsize < arr.dtype.itemsize:
        lost = np.isinf(out) & np.isfinite(arr)
        if lost.any():
            where = tuple(int(i) for i in np.unravel_index(int(np.argmax(lost)), arr.shape))
            raise ValueError(f"{name}[{', '.join(map(str, where))}] = {arr[where]!s} is "
                             f"beyond the range of {dtype} ({float(np.finfo(dtype).max):.3g}), "
                             f"the precision gradfit computes in; rescale {name}.")
    return out


def as_target(y, m: int, dtype: np.dtype, name: str = "y") -> np.ndarray:
    """Return y as a contiguous 1-D array of ``dtype`` and length m (copied only if needed)."""
    reject_masked(y, name)
    arr = np.asarray(y)
    _float_dtype(arr, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of length {m}, got shape {arr.shape}; "
                         f"use {name}.ravel() for a single target column.")
    if arr.shape[0] != m:
        raise ValueError(f"{name} has {arr.shape[0]} values but X has {m} rows; they must "
                         f"match.")
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr  # the common case, without the cost of an errstate context (~1 µs)
    with np.errstate(over="ignore", under="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f" and out.dtype.itemsize < arr.dtype.itemsize:
        _check_narrowed(arr, out, name)
    return out


def _check_narrowed(wide: np.ndarray, narrow: np.ndarray, name: str) -> None:
    """y converted to float32 (X's precision) must keep its values: none overflowing to
    infinity, none of its nonzero values reaching float32's subnormals."""
    fin = np.finfo(narrow.dtype)
    with np.errstate(invalid="ignore"):
        lost = (np.isinf(narrow) & np.isfinite(wide)) | \
            ((np.abs(narrow) < fin.tiny) & (wide != 0) & np.isfinite(wide))
    if lost.any():
        i = int(np.argmax(lost))
        raise ValueError(f"{name}[{i}] = {float(wide[i]):.6g} is outside the range of "
                         f"{narrow.dtype} (X's precision, which {name} is converted to: "
                         f"{float(fin.tiny):.3g} to {float(fin.max):.3g} in magnitude); pass X "
                         f"as float64 (X.astype(np.float64)) or rescale {name}.")


def as_sample_weight(sample_weight, m: int, row_offset: int = 0,
                     allow_all_zero: bool = False) -> np.ndarray | None:
    """None, or a float64 array of m finite weights >= 0 that do not all vanish (they may
    with ``allow_all_zero``: a chunk of a larger data set). Errors name row
    ``row_offset + i`` for the chunk's row i."""
    if sample_weight is None:
        return None
    reject_masked(sample_weight, "sample_weight")
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


def check_count(value, name: str, minimum: int = 1, maximum: float = MAX_COUNT) -> int:
    """An integer in [minimum, maximum] (bools and floats refused), as a Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not minimum <= int(value) <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got "
                         f"{value!r}.")
    return int(value)


def nonfinite_message(name: str, index: tuple) -> str:
    """The error for a NaN or infinity in ``name`` at ``index`` (row first)."""
    return (f"{name} contains NaN or infinity (first at index {index}); remove or impute "
            f"those values before fitting.")


def check_penalty(value, name: str) -> float:
    """A finite, non-negative real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}.")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float64 (10**400): not finite either
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}.")
    return value


def check_coef_range(coef: np.ndarray, dtype, narrowed: bool = False) -> np.ndarray:
    """coef (float64) in ``dtype``, or a ValueError when it does not fit: tiny X against
    large y asks for coefficients beyond float32's range, which would come back infinite.
    ``narrowed`` (float32 data solved in float64): also when the coefficients all lie below
    tiny / eps of ``dtype``, where the cast keeps fewer than its digits of them (float32:
    below about 1e-31; 1e-44 keeps one digit): huge X against tiny y. A small coefficient
    next to a larger one loses nothing that matters."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.asarray(coef).astype(dtype, copy=False)
    if not np.isfinite(out).all():
        big = float(np.max(np.abs(np.asarray(coef, dtype=np.float64))))
        raise ValueError(f"the coefficients (up to {big:.3g} in magnitude) overflow {dtype}, "
                         f"the precision of X: X's values are too small for y's. Pass X as "
                         f"float64 (X.astype(np.float64)) or rescale X or y.")
    fin = np.finfo(dtype)
    top = float(np.max(np.abs(np.asarray(coef, dtype=np.float64)), initial=0.0))
    if narrowed and 0 < top < float(fin.tiny) / float(fin.eps):
        raise ValueError(f"the coefficients (at most {top:.3g} in magnitude) are too small "
                         f"for {dtype}, the precision of X: below {float(fin.tiny):.3g} it "
                         f"keeps fewer digits (X's values are too large for y's). Pass X as "
                         f"float64 (X.astype(np.float64)) or rescale X or y.")
    return out


def _largest(arr: np.ndarray) -> float:
    """max |arr| of a finite array, without a temporary the size of arr."""
    return float(max(np.max(arr), -np.min(arr))) if arr.size else 0.0


def scale_problem(X: np.ndarray, y: np.ndarray, large: bool = True) -> str | None:
    """Why finite X, y are out of the range gradient descent can compute with in X's
    precision, or None. Its passes form squares (residuals, X^T X d, d^T X^T X d): values
    whose squares underflow leave a zero gradient, values whose fourth power overflows make
    the line searches' and the power iteration's products infinite. ``large=False`` checks
    the underflow only (the overflow test is a diagnosis after a failed run: data close to
    the limit may still be fitted)."""
    fin = np.finfo(X.dtype)
    xmax, ymax = _largest(X), _largest(y)
    small = math.sqrt(float(fin.tiny))
    fix = ("Rescale the data (e.g. divide each column of X, and y, by its standard "
           "deviation, then scale the coefficients back), or use solve_normal, which scales "
           "the problem itself.")
    for name, top in (("X", xmax), ("y", ymax)):
        if 0 < top < small:
            return (f"{name}'s values are so small (largest |value| {top:.3g}) that their "
                    f"squares underflow {X.dtype} (below {float(fin.tiny):.3g}): gradient "
                    f"descent would see a zero gradient and stop at a wrong answer. {fix}")
    if not large:
        return None
    log_max = math.log(float(fin.max))

    def log(v: float) -> float:
        return math.log(v) if v > 0 else -math.inf

    if 4 * log(xmax) > log_max or 2 * log(ymax) + math.log(X.shape[0]) > log_max \
            or 2 * (2 * log(xmax) + log(ymax)) > log_max:
        name = "X" if 4 * log(xmax) > log_max or ymax <= xmax else "y"
        return (f"{name} is too large for gradient descent in {X.dtype}: with |X| up to "
                f"{xmax:.3g} and |y| up to {ymax:.3g}, the products it forms (squared "
                f"residuals, curvatures d^T X^T X d, the power iteration's X^T X v) overflow "
                f"{X.dtype} (largest {float(fin.max):.3g}). {fix}")
    return None


def raise_nonfinite(X: np.ndarray, y: np.ndarray, row_offset: int = 0, *,
                    start: np.ndarray | None = None, start_name: str = "init",
                    descent: bool = False) -> None:
    """Called when a pass over the data produced a non-finite value: say exactly why (NaN or
    infinity in X or y, a starting point ``start`` (coefficients) so large that X @ start
    overflows, or data too large for the working precision; with ``descent``, data out of
    gradient descent's range, see scale_problem). For a chunk of a larger data set starting
    at row ``row_offset``, the index named is the row in the whole data."""
    for arr, name in ((X, "X"), (y, "y")):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0]
            raise ValueError(nonfinite_message(name, (row_offset + int(where[0]),)
                                               + tuple(int(i) for i in where[1:])))
    fin = np.finfo(X.dtype)
    if start is not None and np.any(start):
        with np.errstate(all="ignore"):
            r = X.astype(np.float64, copy=False) @ np.asarray(start, dtype=np.float64)
            top = float(np.abs(r).max())
        if not math.isfinite(top) or top * top * X.shape[0] > float(fin.max):
            raise ValueError(f"{start_name} is too far from the data's scale: the "
                             f"coefficients (up to {float(np.abs(start).max()):.3g} in "
                             f"magnitude) make X @ coef (up to {top:.3g}) overflow the squared "
                             f"residuals in {X.dtype}. Start from smaller coefficients "
                             f"(init=None starts from zero).")
    reason = scale_problem(X, y) if descent else None
    if reason is not None:
        raise ValueError(reason)
    xmax, ymax = _largest(X), _largest(y)
    y_sq = ymax * ymax * X.shape[0] > float(fin.max)
    x_sq = xmax * xmax * X.shape[0] > float(fin.max)
    name = "X and y have" if x_sq == y_sq else ("y has" if y_sq else "X has")
    raise ValueError(f"{name} values so large (|X| up to {xmax:.3g}, |y| up to {ymax:.3g}) "
                     f"that their squares or products overflow {X.dtype}; rescale the data "
                     f"(e.g. divide each column by its standard deviation).")


def linear_prediction(X: np.ndarray, coef: np.ndarray, intercept) -> np.ndarray:
    """X @ coef (+ intercept) for finite X, or a ValueError when the products overflow (a
    prediction of infinity is no prediction)."""
    with np.errstate(over="ignore", invalid="ignore"):
        pred = X @ coef + intercept
    if not np.isfinite(pred).all():
        raise ValueError(f"X has values so large (up to {_largest(X):.3g}) that X @ coef "
                         f"overflows {pred.dtype}: the prediction would be infinite. Rescale "
                         f"X as the training data were scaled.")
    return pred
