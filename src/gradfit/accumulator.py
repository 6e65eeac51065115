"""Exact least squares over data that arrive in chunks: additive sufficient statistics."""
from __future__ import annotations

import math

import numpy as np

from ._result import FitResult
from ._stats import Stats, chan_merge, float64_stats, solve_with_float64_retry
from ._validation import (
    as_float_matrix,
    as_sample_weight,
    as_target,
    check_penalty,
    float_dtype_of,
    raise_nonfinite,
    reject_masked,
)
from .normal import solve_stats

__all__ = ["NormalAccumulator"]

# to_dict's format: the name and version it writes, and the versions from_dict reads.
_FORMAT = "gradfit.NormalAccumulator"
_VERSION = 1


class NormalAccumulator:
    """Sufficient statistics of the rows seen so far, for an exact fit without holding them.

    Each chunk goes through the same one-pass Gram kernel as :func:`solve_normal` (centred
    about its own means); chunks are combined with the pairwise update of Chan, Golub &
    LeVeque (1979)::

        n = na + nb,  delta = mean_b - mean_a,
        G = G_a + G_b + (na nb / n) delta delta^T   (and likewise X^T y, y^T y)

    which, unlike a running sum of raw products, loses nothing to cancellation when the
    columns have large means. ``solve`` then gives :func:`solve_normal`'s answer on the
    concatenated rows, to rounding; the statistics are float64 whatever the data.

    The statistics take O(n^2) memory; a chunk costs what ``solve_normal`` on it costs
    (float32 chunks are converted to float64 first, 4 MiB at a time, so that the sums stay
    accurate over any number of chunks). ``solve`` works in float32 when every chunk
    was float32 (float64 otherwise), with ``solve_normal``'s rules. Its fallback for
    singular or ill-conditioned problems cannot use the rows (they are gone), nor can the
    refinement of :func:`solve_normal`: it is an eigendecomposition of the column-scaled
    normal matrix (rank decided on the scaled columns, minimum norm in the user's units),
    accurate to about eps * cond(X)^2, and ``solver`` is ``"eigh"``. Weights may span any
    range (1e-320 to 1e300): the sums are kept over weights divided by the largest seen.

    Examples
    --------
    >>> import numpy as np, gradfit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((1000, 3)); y = X @ [1.0, 2.0, 3.0] + 4.0
    >>> acc = gradfit.NormalAccumulator()
    >>> for X_chunk, y_chunk in zip(np.array_split(X, 7), np.array_split(y, 7)):
    ...     acc = acc.update(X_chunk, y_chunk)
    >>> res = acc.solve()
    >>> np.round(res.coef, 10), round(res.intercept, 10), acc.n_samples
    (array([1., 2., 3.]), 4.0, 1000.0)

    Distributed: statistics of chunks gathered on other machines travel as plain arrays
    (``to_dict``) and are combined in a fixed tree (``merge_all``):

    >>> parts = [gradfit.NormalAccumulator().update(Xc, yc, row_offset=start)
    ...          for start, Xc, yc in zip(range(0, 1000, 250), np.split(X, 4), np.split(y, 4))]
    >>> sent = [p.to_dict() for p in parts]
    >>> total = gradfit.NormalAccumulator.merge_all(
    ...     [gradfit.NormalAccumulator.from_dict(d) for d in sent], fan_in=2)
    >>> np.round(total.solve().coef, 10)
    array([1., 2., 3.])
    """

    def __init__(self) -> None:
        self._stats: Stats | None = None
        self._all_float32 = True
        # The statistics are sums over weights divided by this (the largest weight seen), so
        # that weights of 1e300 or 1e-320 neither overflow nor lose digits to underflow.
        self._weight_scale = 1.0
        self._n_features: int | None = None

    @property
    def n_samples(self) -> float:
        """Rows seen so far (the sum of their weights, when weighted)."""
        return 0.0 if self._stats is None else float(self._stats.m) * self._weight_scale

    @property
    def n_features(self) -> int | None:
        """Columns of the data (None before the first chunk)."""
        if self._n_features is None and self._stats is not None:
            return self._stats.G.shape[0]
        return self._n_features

    def update(self, X, y, sample_weight=None, *, row_offset: int = 0) -> NormalAccumulator:
        """Add the rows of a chunk (X of shape (k, n), y of shape (k,), optional row weights
        as in :func:`solve_normal`); returns self.

        Same input rules as :func:`solve_normal`: X is read in place, never modified. A chunk
        may be empty (k = 0, as a filter can leave it): it adds nothing (weights that are all
        zero are an error, as in :func:`solve_normal`). ``row_offset`` is the index of the
        chunk's first row in the whole data: errors (a NaN, a negative weight) name the row
        there. A bad chunk raises ValueError and leaves the statistics as they were."""
        row_offset = _check_offset(row_offset)
        reject_masked(X, "X")  # np.asarray would drop the mask
        arr = np.asarray(X)
        if arr.ndim == 2 and arr.shape[0] == 0 and arr.shape[1] > 0:
            dtype = float_dtype_of(arr.dtype, "X")
            as_target(y, 0, dtype, "y")
            as_sample_weight(sample_weight, 0, allow_all_zero=True)
            self._check_columns(arr.shape[1])
            self._n_features = arr.shape[1]
            self._all_float32 &= dtype == np.float32
            return self
        X = as_float_matrix(arr, "X")
        y = as_target(y, X.shape[0], X.dtype, "y")
        sw = as_sample_weight(sample_weight, X.shape[0], row_offset)
        self._check_columns(X.shape[1])
        try:
            # float64 sums whatever the data: float32 sums would cap every later solve at
            # float32's accuracy
            scale = 1.0 if sw is None else float(sw.max())
            stats = float64_stats(X, y, True, None if sw is None else sw / scale)
        except ValueError:
            if not row_offset:
                raise
            raise_nonfinite(X, y, row_offset)  # the same error, naming the global row
            raise
        self._n_features = X.shape[1]
        self._all_float32 &= X.dtype == np.float32
        self._stats, self._weight_scale = _merge_scaled(self._stats, self._weight_scale,
                                                        stats, scale)
        return self

    def _check_columns(self, n: int) -> None:
        if self.n_features is not None and n != self.n_features:
            raise ValueError(f"this chunk has {n} columns but earlier chunks had "
                             f"{self.n_features}; every chunk must have the same columns.")

    def merge(self, other: NormalAccumulator) -> NormalAccumulator:
        """A new accumulator holding the rows of both (neither is modified)."""
        if not isinstance(other, NormalAccumulator):
            raise TypeError(f"can only merge a NormalAccumulator, not {type(other).__name__}.")
        if self.n_features is not None and other.n_features is not None \
                and self.n_features != other.n_features:
            raise ValueError(f"cannot merge statistics of {self.n_features} and "
                             f"{other.n_features} columns.")
        out = NormalAccumulator()
        out._stats, out._weight_scale = _merge_scaled(self._stats, self._weight_scale,
                                                      other._stats, other._weight_scale)
        out._all_float32 = self._all_float32 and other._all_float32
        out._n_features = self.n_features if other.n_features is None else other.n_features
        return out

    __add__ = merge

    @classmethod
    def merge_all(cls, accumulators, *, fan_in: int = 2) -> NormalAccumulator:
        """One accumulator holding the rows of all of them (none is modified).

        They are merged up a tree of fixed shape: consecutive groups of ``fan_in`` are
        merged left to right, then the groups' results likewise, until one is left (see
        ``merge_tree``). The shape depends only on how many there are and ``fan_in``, so
        the result is the same to the last bit wherever and in whatever order the leaves
        were computed, and its rounding grows with the tree's depth, log(k) / log(fan_in),
        not with k as in a running sum. :func:`gradfit.dask.solve_normal` merges its
        chunks' statistics with this same tree."""
        level = list(accumulators)
        for acc in level:
            if not isinstance(acc, NormalAccumulator):
                raise TypeError(f"can only merge NormalAccumulators, not "
                                f"{type(acc).__name__}.")
        for groups in merge_tree(len(level), fan_in):
            level = [_merge_left_to_right(level[a:b]) for a, b in groups]
        if not level:
            return cls()
        if len(level) == 1:  # a new object, as for several
            return _merge_left_to_right([cls(), level[0]])
        return level[0]  # pragma: no cover - merge_tree always ends with one group

    def to_dict(self) -> dict:
        """The statistics as a flat dict of plain values and float64 arrays, for transport
        and storage without pickle: ``numpy.savez(f, **acc.to_dict())`` and
        ``NormalAccumulator.from_dict(numpy.load(f, allow_pickle=False))`` round-trip it,
        bit for bit. The Gram matrix (symmetric) is stored as its packed upper triangle:
        n(n+1)/2 + 2n + 4 numbers in all. Keys: ``format``, ``version`` (1), ``n_features``
        (-1 before any chunk), ``n_samples`` (the sum of the weights), ``float32``, and,
        once rows were added, ``mean_x``, ``mean_y``, ``gram_upper``, ``xty``, ``yty``,
        ``centred``."""
        out: dict = {"format": _FORMAT, "version": _VERSION,
                     "n_features": -1 if self.n_features is None else int(self.n_features),
                     "n_samples": self.n_samples, "float32": bool(self._all_float32)}
        st = self._stats
        if st is not None:
            n = st.G.shape[0]
            out.update(mean_x=np.array(st.mean_x, dtype=np.float64),
                       mean_y=float(st.mean_y),
                       gram_upper=st.G[np.triu_indices(n)].astype(np.float64),
                       xty=np.array(st.xty, dtype=np.float64), yty=float(st.yty),
                       centred=bool(st.centred))
            if self._weight_scale != 1.0:
                # the statistics are sums over weights divided by weight_scale (no overflow
                # for weights up to 1e308); n_samples stays the sum of the weights themselves
                out.update(weight_scale=float(self._weight_scale),
                           scaled_weight_sum=float(st.m))
        return out

    @classmethod
    def from_dict(cls, data) -> NormalAccumulator:
        """The accumulator that ``to_dict`` described (any mapping: a dict, an ``np.load``
        archive); its values are checked (format, version, shapes, finiteness)."""
        try:
            fmt = str(_scalar(data, "format"))
            version = int(_scalar(data, "version"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a NormalAccumulator.to_dict() result: {exc}") from None
        if fmt != _FORMAT:
            raise ValueError(f"not a NormalAccumulator.to_dict() result (format {fmt!r}).")
        if version != _VERSION:
            raise ValueError(f"NormalAccumulator statistics of format version {version}; this "
                             f"gradfit reads version {_VERSION}: use the gradfit version "
                             f"that wrote them.")
        acc = cls()
        n = int(_scalar(data, "n_features"))
        acc._n_features = None if n < 0 else n
        acc._all_float32 = bool(_scalar(data, "float32"))
        m = float(_scalar(data, "n_samples"))
        if "gram_upper" not in data:
            if m != 0.0:
                raise ValueError("NormalAccumulator statistics without arrays must have "
                                 "n_samples 0.")
            return acc
        if n < 1 or not (math.isfinite(m) and m > 0):
            raise ValueError(f"invalid NormalAccumulator statistics: n_features {n}, "
                             f"n_samples {m}.")
        mean_x = _vector(data, "mean_x", n)
        xty = _vector(data, "xty", n)
        upper = _vector(data, "gram_upper", n * (n + 1) // 2)
        G = np.empty((n, n))
        rows, cols = np.triu_indices(n)
        G[rows, cols] = upper
        G[cols, rows] = upper
        mean_y, yty = float(_scalar(data, "mean_y")), float(_scalar(data, "yty"))
        if not (math.isfinite(mean_y) and math.isfinite(yty)):
            raise ValueError("NormalAccumulator statistics contain NaN or infinity.")
        if "weight_scale" in data:
            acc._weight_scale = float(_scalar(data, "weight_scale"))
            m = float(_scalar(data, "scaled_weight_sum"))
            if not (math.isfinite(acc._weight_scale) and acc._weight_scale > 0
                    and math.isfinite(m) and m > 0):
                raise ValueError("invalid NormalAccumulator statistics: weight_scale "
                                 f"{acc._weight_scale}, scaled_weight_sum {m}.")
        acc._stats = Stats(m, mean_x, mean_y, G, xty, yty, bool(_scalar(data, "centred")))
        return acc


    def solve(self, l2: float = 0.0, fit_intercept: bool = True,
              fallback: bool = True) -> FitResult:
        """The exact fit of everything seen so far: :func:`solve_normal`'s objective,
        parameters and result."""
        st = self._stats
        if st is None:
            raise ValueError("no data yet: call update(X_chunk, y_chunk) first.")
        l2 = check_penalty(l2, "l2")
        fit_intercept = bool(fit_intercept)
        return solve_with_float64_retry(
            lambda work, note: solve_stats(st, l2, fit_intercept, fallback, work, note),
            np.dtype(np.float32 if self._all_float32 else np.float64))

    def __repr__(self) -> str:
        return f"NormalAccumulator(n_samples={self.n_samples}, n_features={self.n_features})"


def from_stats(stats: Stats, float32: bool, weight_scale: float = 1.0) -> NormalAccumulator:
    """An accumulator holding centred statistics gathered elsewhere (the estimator's exact
    fit), so that partial_fit can add rows to them; ``float32``: every row was float32;
    ``weight_scale``: the statistics' weights were divided by it."""
    acc = NormalAccumulator()
    acc._stats = stats
    acc._all_float32 = float32
    acc._weight_scale = float(weight_scale)
    return acc


def _scaled(st: Stats, f: float) -> Stats:
    """The statistics with every weight multiplied by f (the means do not change)."""
    return st._replace(m=st.m * f, G=st.G * f, xty=st.xty * f, yty=st.yty * f)


def _merge_scaled(a: Stats | None, sa: float, b: Stats | None,
                  sb: float) -> tuple[Stats | None, float]:
    """Chan's merge of statistics whose weights are divided by sa and sb: the result's are
    divided by the larger, so its weights stay at most 1."""
    if a is None or b is None:
        return (b, sb) if a is None else (a, sa)
    s = max(sa, sb)
    if sa != s:
        a = _scaled(a, sa / s)
    if sb != s:
        b = _scaled(b, sb / s)
    with np.errstate(over="ignore", invalid="ignore"):
        merged = chan_merge(a, b)
    assert merged is not None  # both sides hold rows
    if not (np.isfinite(merged.G).all() and np.isfinite(merged.xty).all()
            and np.isfinite(merged.yty)):
        # each chunk's sums were finite, their merge is not (the chunks' means differ by
        # more than sqrt(float64's max)): an error, as the same rows in one chunk would be
        raise ValueError("X or y has values so large that the accumulated statistics "
                         "(X^T X, X^T y, y^T y about the means) overflow float64; rescale "
                         "the data (e.g. divide each column by its standard deviation) "
                         "before accumulating them.")
    return merged, s


def weight_scale_of(acc: NormalAccumulator) -> float:
    """What the weights behind ``stats_of(acc)`` were divided by (1.0 when unweighted)."""
    return acc._weight_scale


def stats_of(acc: NormalAccumulator) -> Stats | None:
    """The centred statistics of the rows seen so far (None before the first chunk), with the
    weights divided by the largest seen (the fit is unchanged: it is scale-free in the
    weights)."""
    return acc._stats


def merge_tree(count: int, fan_in: int) -> list[list[tuple[int, int]]]:
    """The levels of ``merge_all``'s tree over ``count`` leaves: each level lists the
    (start, stop) ranges of the previous level's items merged into one item."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, (int, np.integer)) or fan_in < 2:
        raise ValueError(f"fan_in must be an integer >= 2, got {fan_in!r}.")
    levels = []
    while count > 1:
        groups = [(a, min(a + int(fan_in), count)) for a in range(0, count, int(fan_in))]
        levels.append(groups)
        count = len(groups)
    return levels


def _merge_left_to_right(accs: list[NormalAccumulator]) -> NormalAccumulator:
    out = accs[0]
    for acc in accs[1:]:
        out = out.merge(acc)
    return out


def _check_offset(row_offset) -> int:
    if isinstance(row_offset, bool) or not isinstance(row_offset, (int, np.integer)) \
            or row_offset < 0:
        raise ValueError(f"row_offset must be an integer >= 0, got {row_offset!r}.")
    return int(row_offset)


def _scalar(data, key: str):
    value = np.asarray(data[key])
    if value.ndim != 0:
        raise ValueError(f"NormalAccumulator statistics: {key!r} must be a single value, got "
                         f"shape {value.shape}.")
    return value.item()


def _vector(data, key: str, size: int) -> np.ndarray:
    try:
        value = np.array(data[key], dtype=np.float64)
    except KeyError:
        raise ValueError(f"NormalAccumulator statistics lack {key!r}.") from None
    if value.shape != (size,):
        raise ValueError(f"NormalAccumulator statistics: {key!r} must have shape ({size},), "
                         f"got {value.shape}.")
    if not np.isfinite(value).all():
        raise ValueError(f"NormalAccumulator statistics: {key!r} contains NaN or infinity.")
    return value
