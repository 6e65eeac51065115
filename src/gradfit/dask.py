"""gradfit on Dask arrays: exact least squares in one pass over data spread over a cluster.

Requires the ``dask`` extra (``pip install "gradfit[dask]"``: ``dask[array]`` and
``distributed``). Every function takes a :class:`dask.array.Array` X chunked by rows and
runs on the active Dask scheduler (a ``distributed.Client`` when one exists). X is never
gathered on the client: each worker reduces its chunks to their sufficient statistics with
the same compiled Gram pass as :func:`gradfit.solve_normal`, the statistics are merged up a
tree of fixed shape (:meth:`gradfit.NormalAccumulator.merge_all`), and only the merged
statistics, O(n²) numbers, reach the client, which solves.

Communication: each chunk's statistics are n(n+1)/2 + 2n + 4 float64 numbers; a tree node
receives ``fan_in`` of them, and there are log(chunks)/log(fan_in) levels, so the critical
path moves O(n² · fan_in · log(chunks)) bytes, whatever the number of rows. The statistics
route is the right one while the statistics stay small next to the data and the client's
O(n³) solve stays short: up to about ``STATS_MAX_FEATURES`` = 4096 columns (Spark ML's
normal-equation solver stops at the same 4096): 67 MB of statistics per chunk and a 2·10¹⁰
flop Cholesky (about a second). Beyond it, :func:`gradient_descent` switches to a
per-iteration map-reduce of the gradient (the coefficients broadcast, O(n) numbers per
chunk and iteration), and :func:`solve_normal` still works but moves n² numbers per chunk.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable

import dask
import dask.array as da
import numpy as np
import scipy.linalg
from dask.array.core import PerformanceWarning
from dask.base import tokenize
from dask.delayed import Delayed, delayed

from gradfit import steps as _steps
from gradfit._result import FitResult
from gradfit._state import DescentState
from gradfit._stats import Stats, chunk_rows
from gradfit._validation import check_penalty, float_dtype_of, nonfinite_message
from gradfit.accumulator import NormalAccumulator, from_stats, merge_tree, stats_of, weight_scale_of
from gradfit.descent import gradient_descent as _local_gradient_descent
from gradfit.errors import ConvergenceWarning, DivergenceError

__all__ = ["solve_normal", "gradient_descent", "statistics", "predict", "fan_in_for",
           "STATS_MAX_FEATURES"]

#: gradient_descent(route="auto") uses the statistics up to this many columns.
STATS_MAX_FEATURES = 4096
# fan_in_for: a merge task receives at most this many bytes of statistics (unless the fan-in
# is 2 already), and never more than _MAX_FAN_IN of them.
_MERGE_BYTES = 1 << 26
_MAX_FAN_IN = 16
# Rows per block when a worker centres a chunk for the gradient (stays in cache).
_BLOCK_ROWS = 4096


def fan_in_for(n_features: int, n_targets: int = 1) -> int:
    """The merge tree's fan-in for statistics of ``n_features`` columns: as many children
    per merge as fit in 64 MiB, between 2 and 16. Small statistics (n = 100: 40 kB) merge
    16 at a time, so 20 chunks take two levels; n = 4096 (67 MB each) merges pairs."""
    size = 8 * n_targets * (n_features * (n_features + 1) // 2 + 2 * n_features + 4)
    return int(min(_MAX_FAN_IN, max(2, _MERGE_BYTES // max(size, 1))))


# --------------------------------------------------------------------------- inputs

def _check_dask(X, name="X"):
    if not isinstance(X, da.Array):
        raise TypeError(f"gradfit.dask functions take a dask.array.Array {name}, got "
                        f"{type(X).__name__}; use gradfit.{{solve_normal, gradient_descent}} "
                        f"for in-memory data, or da.from_array({name}, chunks=...).")


def _prepare(X, y, sample_weight):
    """X chunked by rows only, in float32 or float64; y and the weights as Dask arrays
    chunked like X's rows. Nothing is computed."""
    _check_dask(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.ndim} dimensions.")
    n = X.shape[1]
    if isinstance(n, float) and math.isnan(n):
        raise ValueError("X has an unknown number of columns; call X.compute_chunk_sizes() "
                         "or build X with known column chunks.")
    if n == 0:
        raise ValueError(f"X is empty (shape {X.shape}); it needs at least one column.")
    if not any(math.isnan(c) for c in X.chunks[0]) and X.shape[0] == 0:
        raise ValueError(f"X is empty (shape {X.shape}); it needs at least one row.")
    dtype = float_dtype_of(X.dtype, "X")
    if X.dtype != dtype:
        X = X.astype(dtype)
    if X.numblocks[1] > 1:
        if _unknown(X.chunks[0]):
            raise ValueError("X is chunked along its columns and has unknown row chunk sizes: "
                             "call X.compute_chunk_sizes() first, or chunk it by rows only.")
        warnings.warn(f"X is chunked along its columns ({X.numblocks[1]} column chunks); "
                      f"gradfit.dask reads whole rows, so it is rechunked to one column chunk "
                      f"(X.rechunk({{1: -1}})). Chunk X by rows only to avoid the copy.",
                      PerformanceWarning, stacklevel=3)
        X = X.rechunk({1: -1})
    y = _align(y, X, "y")
    w = None if sample_weight is None else _align(sample_weight, X, "sample_weight")
    if w is not None and w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D with one weight per row, got "
                         f"{w.ndim} dimensions.")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (or 2-D for several targets), got {y.ndim} "
                         f"dimensions.")
    return X, y, w


def _unknown(chunks) -> bool:
    return any(isinstance(c, float) and math.isnan(c) for c in chunks)


def _align(v, X, name):
    """v (a Dask or NumPy array of X's rows) as a Dask array with X's row chunks."""
    if not isinstance(v, da.Array):
        v = np.asarray(v)
        float_dtype_of(v.dtype, name)
        if v.ndim == 0 and name == "sample_weight":
            v = np.full(X.shape[0], float(v)) if not _unknown(X.chunks[0]) else v
        if _unknown(X.chunks[0]):
            raise ValueError(f"X has unknown row chunk sizes (after filtering?), so a NumPy "
                             f"{name} cannot be matched to its chunks: filter {name} with the "
                             f"same mask as X (as a Dask array).")
        if v.ndim == 0 or v.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {v.shape[0] if v.ndim else 'no'} rows but X has "
                             f"{X.shape[0]}; they must match.")
        return da.from_array(v, chunks=(X.chunks[0],) + v.shape[1:])
    float_dtype_of(v.dtype, name)
    if v.ndim == 0 or v.ndim > 2:
        raise ValueError(f"{name} must be 1-D (one value per row of X), got {v.ndim} "
                         f"dimensions.")
    if v.ndim == 2 and v.numblocks[1] > 1:
        v = v.rechunk({1: -1})
    if v.chunks[0] == X.chunks[0]:
        return v
    if _unknown(v.chunks[0]) or _unknown(X.chunks[0]):
        if v.numblocks[0] != X.numblocks[0]:
            raise ValueError(f"{name} has {v.numblocks[0]} row chunks but X has "
                             f"{X.numblocks[0]}, and their sizes are unknown: filter X and "
                             f"{name} with the same mask, or call compute_chunk_sizes() on "
                             f"both.")
        return v  # same block count: the chunks are checked pairwise in the workers
    if v.shape[0] != X.shape[0]:
        raise ValueError(f"{name} has {v.shape[0]} rows but X has {X.shape[0]}; they must "
                         f"match.")
    return v.rechunk({0: X.chunks[0]})


def _blocks(v):
    """One Delayed per row chunk of a Dask array (or None)."""
    if v is None:
        return None
    d = v.to_delayed(optimize_graph=False)
    return list(d[:, 0] if v.ndim == 2 else d)


# --------------------------------------------------------------------------- statistics

def _first_bad(X, y, w):
    """(order, name, kind, index) of the first invalid value of a chunk, or None."""
    found = []
    for order, (arr, name) in enumerate(((X, "X"), (y, "y"), (w, "sample_weight"))):
        if arr is None:
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            found.append((order, name, "nonfinite", tuple(int(i) for i in np.argwhere(bad)[0])))
        elif name == "sample_weight" and (arr < 0).any():
            found.append((order, name, "negative", (int(np.argmax(arr < 0)),)))
    return min(found) if found else None


def _chunk_payload(X, y, w):
    """A worker's task: a chunk's statistics (one NormalAccumulator per target, as
    ``to_dict``) and its row count, or the first invalid value found in it."""
    rows = X.shape[0]
    for v, name in ((y, "y"), (w, "sample_weight")):
        if v is not None and v.shape[0] != rows:
            raise ValueError(f"a chunk of {name} has {v.shape[0]} rows where X's has {rows}: "
                             f"X and {name} must be chunked alike (filter both with the same "
                             f"mask).")
    Y = y[:, None] if y.ndim == 1 else y
    if w is not None and rows and not np.any(w):
        # rows that count for nothing (a NormalAccumulator refuses a chunk of them alone),
        # but a NaN there is still an error, as in solve_normal
        bad = _first_bad(np.asarray(X), np.asarray(y), np.asarray(w))
        if bad is not None:
            return {"rows": rows, "error": bad}
        X, Y, w = X[:0], Y[:0], None
    try:
        accs = [NormalAccumulator().update(X, np.ascontiguousarray(Y[:, 0]), w)]
        accs += [_other_target(accs[0], X, Y[:, t], w) for t in range(1, Y.shape[1])]
    except ValueError:
        bad = _first_bad(np.asarray(X), np.asarray(y), None if w is None else np.asarray(w))
        if bad is None:
            raise
        return {"rows": rows, "error": bad}
    return {"rows": rows, "stats": [acc.to_dict() for acc in accs]}


def _other_target(first: NormalAccumulator, X, y, w) -> NormalAccumulator:
    """The statistics of (X, y) from those of (X, first target): G and the means of X are
    shared, so only Xcᵀ W yc and ycᵀ W yc are computed (centred block by block, in
    float64), not another Gram pass."""
    st = stats_of(first)
    if st is None:  # rows that count for nothing
        return NormalAccumulator().update(X, np.ascontiguousarray(y), w)
    y64 = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y64).all():
        raise ValueError("y contains NaN or infinity")  # located by the caller
    scale = weight_scale_of(first)  # the statistics' weights are w / scale
    if w is not None:
        w = np.asarray(w, dtype=np.float64) / scale
    ybar = float((y64 if w is None else w * y64).sum() / st.m)
    xty = np.zeros(X.shape[1])
    yty = 0.0
    rows = chunk_rows(X.shape[1])
    for i in range(0, X.shape[0], rows):
        Xb = X[i:i + rows].astype(np.float64) - st.mean_x
        yc = y64[i:i + rows] - ybar
        wy = yc if w is None else w[i:i + rows] * yc
        xty += Xb.T @ wy
        yty += float(yc @ wy)
    stats = Stats(st.m, st.mean_x, ybar, st.G, xty, yty, True)
    return from_stats(stats, X.dtype == np.float32, scale)


def _merge_payloads(*payloads):
    """A tree node's task: the children's statistics merged left to right (as
    ``NormalAccumulator.merge_all``), or the first error with its row counted from the
    node's first row."""
    rows, error = 0, None
    for p in payloads:
        if "error" in p:
            order, name, kind, index = p["error"]
            shifted = (order, name, kind, (index[0] + rows,) + tuple(index[1:]))
            if error is None or (shifted[0], shifted[3]) < (error[0], error[3]):
                error = shifted
        rows += p["rows"]
    if error is not None:
        return {"rows": rows, "error": error}
    merged = []
    for t in range(len(payloads[0]["stats"])):
        acc = NormalAccumulator.from_dict(payloads[0]["stats"][t])
        for p in payloads[1:]:
            acc = acc.merge(NormalAccumulator.from_dict(p["stats"][t]))
        merged.append(acc.to_dict())
    return {"rows": rows, "stats": merged}


def _raise_error(error):
    _, name, kind, index = error
    if kind == "negative":
        raise ValueError(f"sample_weight has negative values (first at index {index[0]}); "
                         f"weights must be >= 0.")
    if name == "sample_weight":
        raise ValueError(f"sample_weight contains NaN or infinity (first at index "
                         f"{index[0]}); weights must be finite.")
    raise ValueError(nonfinite_message(name, index))


def _accumulators(payload, weighted):
    """The root payload as NormalAccumulators (one per target); errors raised here, on the
    client, name the global row."""
    if "error" in payload:
        _raise_error(payload["error"])
    accs = [NormalAccumulator.from_dict(d) for d in payload["stats"]]
    if accs[0].n_samples == 0:
        if weighted and payload["rows"] > 0:
            raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
        raise ValueError("X has no rows (every chunk is empty); it needs at least one.")
    return accs


def _graph(X, y, w, fan_in):
    """The Delayed root payload: one task per row chunk of X, then the merge tree."""
    if fan_in is None:
        fan_in = fan_in_for(X.shape[1], 1 if y.ndim == 1 else y.shape[1])
    merge_tree(2, fan_in)  # validates fan_in
    token = tokenize(X.name, y.name, None if w is None else w.name, fan_in)
    xs, ys = _blocks(X), _blocks(y)
    ws = _blocks(w) or [None] * len(xs)
    level = [delayed(_chunk_payload, pure=True)(xs[i], ys[i], ws[i],
                                                dask_key_name=(f"gradfit-stats-{token}", i))
             for i in range(len(xs))]
    for depth, groups in enumerate(merge_tree(len(level), fan_in)):
        level = [delayed(_merge_payloads, pure=True)(
                     *level[a:b], dask_key_name=(f"gradfit-merge-{depth}-{token}", j))
                 for j, (a, b) in enumerate(groups)]
    return level[0]


def _to_accumulators(payload, weighted, multi):
    accs = _accumulators(payload, weighted)
    return accs if multi else accs[0]


def statistics(X, y, *, sample_weight=None, fan_in: int | None = None) -> Delayed:
    """The exact sufficient statistics of (X, y), lazily: a :class:`dask.delayed.Delayed`
    that computes to a :class:`gradfit.NormalAccumulator` (a list of them, one per column,
    for a 2-D y).

    One task per row chunk of X reads it (once) and reduces it with the compiled Gram pass;
    the chunks' statistics are merged up a tree of fixed shape (``fan_in`` children per
    node, :func:`fan_in_for` by default), so the result is bit-identical from run to run
    and equal to ``NormalAccumulator.merge_all`` of the chunks' accumulators. Errors (NaN,
    negative weights) name the row in the whole of X, also when the chunk sizes are unknown
    (after boolean filtering).

    Examples
    --------
    >>> import dask.array as da, numpy as np, gradfit.dask
    >>> X = da.from_array(np.arange(20.0).reshape(10, 2) ** 0.5, chunks=(3, 2))
    >>> acc = gradfit.dask.statistics(X, X[:, 0] - 2 * X[:, 1] + 1).compute()
    >>> acc.n_samples, np.round(acc.solve().coef, 10)
    (10.0, array([ 1., -2.]))
    """
    X, y, w = _prepare(X, y, sample_weight)
    root = _graph(X, y, w, fan_in)
    return delayed(_to_accumulators, pure=True)(
        root, w is not None, y.ndim == 2, dask_key_name=f"gradfit-statistics-{root.key[0]}")


def _compute_accumulators(X, y, w, fan_in):
    (payload,) = dask.compute(_graph(X, y, w, fan_in))
    return _accumulators(payload, w is not None)


# --------------------------------------------------------------------------- exact solver

def solve_normal(X, y, *, l2: float = 0.0, fit_intercept: bool = True,
                 fallback: bool = True, sample_weight=None, fan_in: int | None = None):
    """:func:`gradfit.solve_normal` for a Dask array X: one pass over the chunks in the
    workers, one solve on the client.

    Each row chunk is reduced to its centred statistics by the compiled Gram pass (float64
    sums, also for float32 chunks), the statistics are merged up a fixed tree (see
    :func:`statistics`) and the client solves by Cholesky as
    :meth:`gradfit.NormalAccumulator.solve` does. X is read once and never gathered; a
    column-chunked X is rechunked to whole rows first (with a ``PerformanceWarning``).
    Empty chunks and chunks of unknown size (after boolean filtering) are fine.

    Parameters
    ----------
    X : dask.array.Array of shape (m, n)
        float32 or float64 (other numeric dtypes are converted, chunk by chunk).
    y : dask.array.Array or ndarray of shape (m,) or (m, k)
        Chunked like X's rows (a Dask y with other row chunks is rechunked). For a 2-D y
        each column is fitted, from statistics gathered in the same pass.
    l2, fit_intercept, fallback, sample_weight
        As in :func:`gradfit.solve_normal`. The fallback for ill-conditioned problems is
        the eigendecomposition of the normal matrix (``solver="eigh"``): the rows are not
        at hand for an SVD.
    fan_in : int, optional
        Children per merge (default :func:`fan_in_for`: by the statistics' size).

    Returns
    -------
    FitResult, or a list of them (one per column of a 2-D y)
        As :func:`gradfit.solve_normal`'s, equal to it to rounding.

    Examples
    --------
    >>> import dask.array as da, numpy as np, gradfit.dask
    >>> rng = np.random.default_rng(0)
    >>> X = da.from_array(rng.standard_normal((1000, 3)), chunks=(250, 3))
    >>> y = X @ np.array([1.0, 2.0, 3.0]) + 4.0
    >>> res = gradfit.dask.solve_normal(X, y)
    >>> np.round(res.coef, 10), round(res.intercept, 10)
    (array([1., 2., 3.]), 4.0)
    """
    return _solve_normal(X, y, l2, fit_intercept, fallback, sample_weight, fan_in)[0]


def _solve_normal(X, y, l2, fit_intercept, fallback, sample_weight, fan_in):
    """(result or list of results, the accumulators)."""
    l2 = check_penalty(l2, "l2")
    X, y, w = _prepare(X, y, sample_weight)
    accs = _compute_accumulators(X, y, w, fan_in)
    results = [acc.solve(l2=l2, fit_intercept=bool(fit_intercept), fallback=fallback)
               for acc in accs]
    return (results if y.ndim == 2 else results[0]), accs


# --------------------------------------------------------------------------- descent

def gradient_descent(X, y, *, step: str | _steps.StepStrategy | None = None,
                     l2: float = 0.0, l1: float = 0.0, fit_intercept: bool = True,
                     max_iter: int = 1000, tol: float | None = None, init=None,
                     callback: Callable | None = None, sample_weight=None,
                     batch_size: int | None = None, route: str = "auto",
                     fan_in: int | None = None) -> FitResult:
    """:func:`gradfit.gradient_descent` (full batch) for a Dask array X.

    Two routes, by ``route``:

    * ``"statistics"`` (``"auto"`` while X has at most ``STATS_MAX_FEATURES`` = 4096
      columns): one pass gathers the exact statistics (as :func:`solve_normal`); the client
      then runs gradfit's own gradient descent on an (n+1) × n triangular factor R of them
      (RᵀR is the centred, weighted [X y]ᵀ[X y] scaled to the same objective), so every
      iteration costs O(n²) on the client and none touches the cluster. Every step
      strategy, FISTA and the L1/L2 penalties work exactly as locally, and the iterates are
      those of the local function up to rounding. The result's ``state`` resumes with
      ``init=result`` on the same route.
    * ``"gradient"`` (``"auto"`` beyond 4096 columns): each iteration is a map-reduce: the
      coefficients go to every chunk, each worker computes its chunk's part of
      Xcᵀ W (Xc w − yc) and of the squared residual, and the parts are summed up the same
      fixed tree. One pass for the means first, one per gradient (FISTA: two per
      iteration; a power iteration of up to 30 passes for ``"lipschitz"``/``"fista"``;
      an exact line-search pass for BB's first step). Step strategies ``"fixed"``,
      ``"lipschitz"``, ``"bb"`` (default) and ``"fista"`` (default with ``l1``); persist X
      first (``X = X.persist()``), or every pass recomputes it.

    Mini-batch SGD is not offered on Dask arrays (``batch_size`` raises): a full-batch
    gradient costs one pass, as an SGD epoch would.

    Parameters are those of :func:`gradfit.gradient_descent`, plus ``route`` and ``fan_in``
    (see :func:`solve_normal`). The default ``step`` is the local one on the statistics route
    (conjugate gradient; FISTA with ``l1``), where ``converged`` keeps the local promise
    (measured against the exact minimiser), and ``"bb"`` (``"fista"`` with ``l1``) on the
    gradient route, where no statistics exist to measure with: there ``converged`` means the
    gradient (mapping) norm fell to ``tol`` times its value at the start, and the iteration
    runs on the raw columns (standardise X first if their scales differ widely).

    Examples
    --------
    >>> import dask.array as da, numpy as np, gradfit.dask
    >>> rng = np.random.default_rng(0)
    >>> X = da.from_array(rng.standard_normal((400, 3)), chunks=(100, 3))
    >>> y = X @ np.array([1.0, 0.0, 0.5]) + 4.0
    >>> res = gradfit.dask.gradient_descent(X, y, step="fista", l1=0.1)
    >>> res.coef == 0.0, res.converged
    (array([False,  True, False]), True)
    """
    if batch_size is not None:
        raise ValueError("mini-batch SGD is not available for Dask arrays: use full-batch "
                         "gradient descent (batch_size=None) or gradfit.dask.solve_normal; "
                         "for SGD, stream the chunks through gradfit.gradient_descent with "
                         "init=<previous result>.")
    if route not in ("auto", "statistics", "gradient"):
        raise ValueError(f"route must be 'auto', 'statistics' or 'gradient', got {route!r}.")
    X, y, w = _prepare(X, y, sample_weight)
    if y.ndim != 1:
        raise ValueError("gradient_descent fits one target: y must be 1-D (use "
                         "solve_normal for several targets at once).")
    if route == "auto":
        route = "statistics" if X.shape[1] <= STATS_MAX_FEATURES else "gradient"
    if route == "statistics":
        (acc,) = _compute_accumulators(X, y, w, fan_in)
        return _descend_on_statistics(acc, X.dtype, step, l2, l1, fit_intercept, max_iter,
                                      tol, init, callback)
    return _descend_by_map_reduce(X, y, w, step, l2, l1, fit_intercept, max_iter, tol, init,
                                  callback, fan_in)


def _square_root(acc: NormalAccumulator, fit_intercept: bool):
    """(A, b) of n+1 rows with (A b)ᵀ(A b) / (n+1) = [G xty; xtyᵀ yty] / m: least squares
    on (A, b) without intercept has the objective of the accumulated data (centred when
    fitting an intercept), so gradfit's local solvers run on it unchanged."""
    st = stats_of(acc)
    if st is None:
        raise ValueError("no data: the statistics are empty.")
    m, n = st.m, st.G.shape[0]
    G, xty, yty = st.G, st.xty, st.yty
    if not fit_intercept:  # raw products from the centred statistics
        G = G + m * np.multiply.outer(st.mean_x, st.mean_x)
        xty = xty + m * st.mean_y * st.mean_x
        yty = yty + m * st.mean_y ** 2
    M = np.empty((n + 1, n + 1))
    M[:n, :n] = G
    M[:n, n] = M[n, :n] = xty
    M[n, n] = yty
    scale = np.sqrt(M.diagonal().copy())
    scale[scale == 0] = 1.0
    Ms = M / np.multiply.outer(scale, scale)
    try:
        R = scipy.linalg.cholesky(Ms, lower=False, check_finite=False)
    except np.linalg.LinAlgError:  # semi-definite (exact fit, constant column): eigh
        evals, evecs = scipy.linalg.eigh(Ms, check_finite=False)
        R = np.sqrt(np.clip(evals, 0.0, None))[:, None] * evecs.T
    R = R * scale * math.sqrt((n + 1) / m)
    return np.ascontiguousarray(R[:, :n]), np.ascontiguousarray(R[:, n]), st


def _descend_on_statistics(acc, dtype, step, l2, l1, fit_intercept, max_iter, tol, init,
                           callback):
    fit_intercept = bool(fit_intercept)
    A, b, st = _square_root(acc, fit_intercept)

    def intercept_of(coef):
        return float(st.mean_y - st.mean_x @ coef) if fit_intercept else 0.0

    user_callback = callback
    if callback is not None and callable(callback):
        def callback(k, coef, _b, f):
            return user_callback(k, coef, intercept_of(coef), f)
    if isinstance(init, FitResult):
        state = init.state
        if isinstance(state, DescentState) and not state.fit_intercept \
                and state.n_features == A.shape[1]:
            # a result of this route: its state is that of the factor's problem, which has
            # no intercept (the intercept was added to the result afterwards)
            init = dataclasses.replace(init, intercept=0.0)
        else:
            init = init.coef  # another route or solver: start from its coefficients
    res = _local_gradient_descent(A, b, step=step, l2=l2, l1=l1, fit_intercept=False,
                                  max_iter=max_iter, tol=tol, init=init, callback=callback,
                                  precompute=False)
    coef64 = np.asarray(res.coef, dtype=np.float64)
    return dataclasses.replace(res, coef=coef64.astype(dtype), intercept=intercept_of(coef64))


# The gradient route: per-chunk parts of the gradient, summed up the tree.

def _chunk_moments(X, y, w):
    """(row weight, weighted column sums of X, weighted sum of y) of a chunk, float64."""
    if w is None:
        return (float(X.shape[0]), X.sum(axis=0, dtype=np.float64),
                float(y.sum(dtype=np.float64)))
    sx = np.zeros(X.shape[1])
    for i in range(0, X.shape[0], _BLOCK_ROWS):
        sx += w[i:i + _BLOCK_ROWS] @ X[i:i + _BLOCK_ROWS].astype(np.float64, copy=False)
    return float(w.sum()), sx, float(w @ y.astype(np.float64, copy=False))


def _chunk_gradient(X, y, w, mu, ybar, coef, direction):
    """Xcᵀ W r and rᵀ W r for r = Xc coef − yc (centred about mu, ybar); with a
    ``direction`` d instead, Xcᵀ W Xc d (for the power iteration and line search)."""
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"a chunk of y has {y.shape[0]} rows where X's has {X.shape[0]}.")
    g = np.zeros(X.shape[1])
    q = 0.0
    for i in range(0, X.shape[0], _BLOCK_ROWS):
        Xb = X[i:i + _BLOCK_ROWS].astype(np.float64) - mu  # centred in cache
        if direction is not None:
            r = Xb @ direction
        else:
            r = Xb @ coef - (y[i:i + _BLOCK_ROWS].astype(np.float64) - ybar)
        wr = r if w is None else w[i:i + _BLOCK_ROWS] * r
        g += Xb.T @ wr
        q += float(r @ wr)
    return g, q


def _tree_sum(parts, fan_in, token):
    level = parts
    for depth, groups in enumerate(merge_tree(len(level), fan_in)):
        level = [delayed(_sum_parts, pure=True)(*level[a:b],
                                                dask_key_name=(f"{token}-{depth}", j))
                 for j, (a, b) in enumerate(groups)]
    return level[0]


def _sum_parts(*parts):
    total = list(parts[0])
    for p in parts[1:]:
        total = [a + b for a, b in zip(total, p, strict=True)]
    return tuple(total)


class _MapReduce:
    """Full passes over the chunks of X on the cluster, one Dask computation each."""

    def __init__(self, X, y, w, fit_intercept, fan_in):
        self.xs, self.ys = _blocks(X), _blocks(y)
        self.ws = _blocks(w) or [None] * len(self.xs)
        self.fan_in = fan_in or fan_in_for(1)
        merge_tree(2, self.fan_in)
        self.token = tokenize(X.name, y.name, None if w is None else w.name)
        self.passes = 0
        parts = [delayed(_chunk_moments, pure=True)(self.xs[i], self.ys[i], self.ws[i])
                 for i in range(len(self.xs))]
        m, sx, sy = self._compute(_tree_sum(parts, self.fan_in, f"gradfit-moments-"
                                                                 f"{self.token}"))
        if not (m > 0):
            raise ValueError("X has no rows, or sample_weight is zero for every row.")
        self.m = m
        self.mu = sx / m if fit_intercept else np.zeros(X.shape[1])
        self.ybar = sy / m if fit_intercept else 0.0
        if not (np.isfinite(self.mu).all() and math.isfinite(self.ybar)):
            raise ValueError("X or y contains NaN or infinity; remove or impute those values "
                             "before fitting (gradfit.dask.solve_normal names the first).")

    def _compute(self, root):
        self.passes += 1
        (out,) = dask.compute(root)
        return out

    def pass_(self, coef=None, direction=None):
        key = tokenize(self.token, coef, direction)
        c = delayed(coef, name=f"gradfit-coef-{key}") if coef is not None else None
        d = delayed(direction, name=f"gradfit-dir-{key}") if direction is not None else None
        parts = [delayed(_chunk_gradient, pure=True)(self.xs[i], self.ys[i], self.ws[i],
                                                     self.mu, self.ybar, c, d)
                 for i in range(len(self.xs))]
        g, q = self._compute(_tree_sum(parts, self.fan_in, f"gradfit-grad-{key}"))
        if not (np.isfinite(g).all() and math.isfinite(q)):
            raise ValueError("X or y contains NaN or infinity (or values whose squares "
                             "overflow); gradfit.dask.solve_normal names the first bad row.")
        return g, q


def _soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def _descend_by_map_reduce(X, y, w, step, l2, l1, fit_intercept, max_iter, tol, init,
                           callback, fan_in):
    l2, l1 = check_penalty(l2, "l2"), check_penalty(l1, "l1")
    tol = check_penalty(1e-6 if tol is None else tol, "tol")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) \
            or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}.")
    strategy = _steps.get(step if step is not None else ("fista" if l1 > 0 else "bb"))
    kind = type(strategy)
    allowed = (_steps.Fixed, _steps.Lipschitz, _steps.BarzilaiBorwein, _steps.FISTA)
    if kind not in allowed:
        raise ValueError(f"{kind.__name__} is not available on the gradient route of "
                         f"gradfit.dask.gradient_descent; use 'fixed', 'lipschitz', 'bb' or "
                         f"'fista' (or route='statistics', where every strategy runs).")
    if l1 > 0 and not strategy.proximal:
        raise ValueError(f"{kind.__name__} has no proximal form, so it cannot handle l1 > 0; "
                         f"use 'fista', 'lipschitz' or 'fixed'.")
    n = X.shape[1]
    coef = np.zeros(n)
    if isinstance(init, FitResult):
        init = init.coef
    if init is not None:
        coef = np.array(init, dtype=np.float64).reshape(-1)
        if coef.shape != (n,) or not np.isfinite(coef).all():
            raise ValueError(f"init must be None, a FitResult or {n} finite coefficients.")
    mr = _MapReduce(X, y, w, bool(fit_intercept), fan_in)
    m = mr.m

    def value_and_grad(c):
        g, q = mr.pass_(coef=c)
        return (q / (2 * m) + 0.5 * l2 * float(c @ c) + l1 * float(np.abs(c).sum()),
                g / m + l2 * c)

    def hess(d):
        return mr.pass_(direction=d)[0] / m + l2 * d

    def lipschitz():
        # As the local engine: a seeded start symmetric about 0 (a start of one sign can be
        # nearly orthogonal to the top eigenvector), ||H v|| of the last unit vector (between
        # its Rayleigh quotient and L); the loop doubles L when a step shows it too small.
        v = np.random.default_rng(0x9E3779B9).uniform(-0.5, 0.5, n)
        v /= np.linalg.norm(v)
        est = norm = 0.0
        for _ in range(strategy.max_power_iter):
            hv = hess(v)
            new = float(v @ hv)
            norm = float(np.linalg.norm(hv))
            if norm == 0.0:
                return max(new, l2, np.finfo(float).tiny)
            v = hv / norm
            if abs(new - est) <= strategy.rtol * new:
                break
            est = new
        return norm

    def mapping(c, g, lr):  # the proximal gradient mapping (the gradient when l1 = 0)
        return (c - _soft(c - lr * g, lr * l1)) / lr if l1 > 0 else g

    history = [0.0] * (max_iter + 1)
    f, g = value_and_grad(coef)
    history[0] = f
    if callback is not None:
        callback(0, coef.astype(X.dtype), _b(mr, coef, fit_intercept), f)
    f_start = f
    L = lipschitz() if kind in (_steps.Lipschitz, _steps.FISTA) else None
    lr = 1.0 / L if L else (strategy.learning_rate if kind is _steps.Fixed else None)
    gnorm = float(np.linalg.norm(mapping(coef, g, lr or 1.0)))
    # relative to the start's gradient (mapping) norm, without an absolute floor: the same
    # test at any scale of the data (with a floor of 1, X * 1e-8 would stop at w = 0)
    target = tol * gnorm
    status, k = "max_iter", 0
    prev = None
    x, t = coef, 1.0  # FISTA's point and momentum
    for k in range(1, max_iter + 1):
        if gnorm <= target:
            status, k = "converged", k - 1
            break
        if kind is _steps.BarzilaiBorwein:
            if prev is not None and float((coef - prev[0]) @ (g - prev[1])) > 0:
                s, dg = coef - prev[0], g - prev[1]
                lr = float(s @ s) / float(s @ dg)
            else:  # exact line search
                lr = float(g @ g) / float(g @ hess(g))
            prev = (coef, g)
            coef = coef - lr * g
            f, g = value_and_grad(coef)
        elif kind is _steps.FISTA:
            x_new = _soft(coef - lr * g, lr * l1)   # coef is the extrapolated point here
            f_new, _ = value_and_grad(x_new)
            # monotone restart: discard the step, reset the momentum; a step from x itself
            # (t = 1) cannot increase f with a step <= 1/L: when it does beyond rounding, the
            # estimate of L was too small: double it
            if f_new > f and t > 1.0:
                t = 1.0
                coef = x
            elif f_new - f > 1e-10 * abs(f):
                L = 2.0 * L
                lr = 1.0 / L
                coef = x
            else:
                t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
                coef = x_new + (t - 1) / t_new * (x_new - x)
                x, f, t = x_new, f_new, t_new
            _, g = value_and_grad(coef)
        else:  # Fixed or Lipschitz: a (proximal) gradient step
            new = _soft(coef - lr * g, lr * l1)
            f_new, g_new = value_and_grad(new)
            if kind is _steps.Lipschitz and f_new - f > 1e-10 * abs(f):
                L = 2.0 * L  # a 1/L step went up: L was underestimated; step again from here
                lr = 1.0 / L
            else:
                coef, f, g = new, f_new, g_new
        gnorm = float(np.linalg.norm(mapping(coef, g, lr)))
        point = x if kind is _steps.FISTA else coef
        history[k] = f
        if not math.isfinite(f) or f > 1e6 * max(f_start, np.finfo(float).tiny):
            raise DivergenceError(f"gradient descent diverged at iteration {k} with "
                                  f"{strategy!r}: the objective went from {f_start:.6g} to "
                                  f"{f:.6g}; use a smaller learning rate or step='bb'.")
        if callback is not None and callback(k, point.astype(X.dtype),
                                             _b(mr, point, fit_intercept), f):
            status = "callback"
            break
    else:
        if gnorm <= target:
            status = "converged"
    point = x if kind is _steps.FISTA else coef
    if status == "converged":
        message, converged = f"converged: ||grad|| = {gnorm:.3e} <= {target:.3e}", True
    elif status == "callback":
        message, converged = "stopped by callback", False
    else:
        warnings.warn(f"gradient descent did not converge in {max_iter} iterations with "
                      f"{strategy!r}: ||grad|| = {gnorm:.3e}, target {target:.3e}. Increase "
                      f"max_iter or loosen tol.", ConvergenceWarning, stacklevel=3)
        message = f"stopped at max_iter={max_iter}: ||grad|| = {gnorm:.3e} > {target:.3e}"
        converged = False
    message += f" ({mr.passes} passes over X on the cluster)"
    return FitResult(coef=point.astype(X.dtype), intercept=_b(mr, point, fit_intercept),
                     n_iter=k, converged=converged,
                     loss_history=np.array(history[:k + 1]), solver="gradient_descent",
                     objective=float(history[k]), message=message, step=strategy,
                     grad_norm=gnorm)


def _b(mr, coef, fit_intercept):
    return float(mr.ybar - mr.mu @ coef) if fit_intercept else 0.0


# --------------------------------------------------------------------------- predicting

def predict(X, coef, intercept=0.0):
    """``X @ coef.T + intercept`` as a lazy Dask array (float64), chunked like X's rows.

    ``coef`` of shape (n,) gives shape (m,); of shape (k, n), shape (m, k)."""
    _check_dask(X)
    coef = np.asarray(coef, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != coef.shape[-1]:
        raise ValueError(f"X has {X.shape[1] if X.ndim == 2 else X.shape} columns but the "
                         f"model was fitted with {coef.shape[-1]}; pass data with the same "
                         f"columns.")
    float_dtype_of(X.dtype, "X")
    return X.astype(np.float64) @ coef.T + intercept


# --------------------------------------------------------------------------- the estimator

def _estimator_fit(est, X, y, sample_weight):
    """LinearRegression.fit on a Dask array X (called before any validation)."""
    X, y, w = _prepare(X, y, sample_weight)
    multi = y.ndim == 2
    solver = est._resolve_solver(X.shape[1], multi)
    if solver == "sgd":
        raise ValueError("solver='sgd' (mini-batches) is not available for Dask arrays: use "
                         "solver='cholesky' or 'gd' (full batch), or stream NumPy chunks "
                         "through partial_fit.")
    est._accumulator = None
    if solver == "cholesky":
        res, accs = _solve_normal(X, y, est.l2, est.fit_intercept, est.fallback, w, None)
        if multi:
            est._store_multi(res)
        else:
            est._store(res)
            est._accumulator = accs[0]
    else:
        init = est._warm_init(solver, X.shape[1]) if est.warm_start else None
        est._store(gradient_descent(X, y, step=_steps.get(est._step_for(solver)), l2=est.l2,
                                    l1=est.l1, fit_intercept=est.fit_intercept,
                                    max_iter=est.max_iter, tol=est.tol, init=init,
                                    sample_weight=w))
    est.n_features_in_ = int(X.shape[1])
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    return est


def _estimator_partial_fit(est, X, y, sample_weight):
    """LinearRegression.partial_fit on a Dask array chunk: exact statistics only."""
    if est.solver != "cholesky":
        raise ValueError(f"partial_fit on a Dask array needs solver='cholesky' (the chunk's "
                         f"exact statistics are added); solver={est.solver!r} would run "
                         f"mini-batch SGD, which gradfit.dask does not offer.")
    X, y, w = _prepare(X, y, sample_weight)
    if y.ndim != 1:
        raise ValueError("partial_fit fits one target: y must be 1-D.")
    n = int(X.shape[1])
    if hasattr(est, "coef_") and getattr(est, "n_features_in_", n) != n:
        raise ValueError(f"X has {n} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input.")
    est._resolve_solver(n, False)
    (acc,) = _compute_accumulators(X, y, w, None)
    prev = getattr(est, "_accumulator", None)
    if prev is not None and prev.n_features == n:
        acc = prev.merge(acc)
    est._accumulator = acc
    est._store(acc.solve(l2=est.l2, fit_intercept=est.fit_intercept, fallback=est.fallback))
    est.n_features_in_ = n
    return est


def _estimator_score(est, X, y, sample_weight):
    """R² (averaged over targets) with the sums computed on the cluster."""
    pred = est.predict(X)
    X, y, w = _prepare(X, y, sample_weight)
    y = y.astype(np.float64)
    pred = pred.rechunk({0: y.chunks[0]}) if not _unknown(y.chunks[0]) else pred
    wcol = (da.ones_like(y[:, 0] if y.ndim == 2 else y) if w is None else w.astype(np.float64))
    if y.ndim == 2:
        wcol = wcol[:, None]
    total = wcol.sum(axis=0)
    ybar = (wcol * y).sum(axis=0) / total
    ss_res = (wcol * (y - pred) ** 2).sum(axis=0)
    ss_tot = (wcol * (y - ybar) ** 2).sum(axis=0)
    ss_res, ss_tot = dask.compute(ss_res, ss_tot)
    return float(np.mean(1.0 - np.asarray(ss_res) / np.asarray(ss_tot)))
