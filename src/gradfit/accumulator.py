"""Exact least squares over data that arrive in chunks: additive sufficient statistics."""
from __future__ import annotations

import numpy as np

from ._result import FitResult
from ._stats import Stats, chan_merge, float64_stats, solve_with_float64_retry
from ._validation import as_float_matrix, as_sample_weight, as_target, check_penalty
from .normal import solve_stats

__all__ = ["NormalAccumulator"]


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
    singular or ill-conditioned problems cannot use the rows (they are gone): it is an
    eigendecomposition of the normal matrix, accurate to about eps * cond(X)^2, and
    ``solver`` is ``"eigh"``.

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
    """

    def __init__(self) -> None:
        self._stats: Stats | None = None
        self._all_float32 = True

    @property
    def n_samples(self) -> float:
        """Rows seen so far (the sum of their weights, when weighted)."""
        return 0.0 if self._stats is None else float(self._stats.m)

    @property
    def n_features(self) -> int | None:
        """Columns of the data (None before the first chunk)."""
        return None if self._stats is None else self._stats.G.shape[0]

    def update(self, X, y, sample_weight=None) -> NormalAccumulator:
        """Add the rows of a chunk (X of shape (k, n), y of shape (k,), optional row weights
        as in :func:`solve_normal`); returns self.

        Same input rules as :func:`solve_normal`: X is read in place, never modified."""
        X = as_float_matrix(X, "X")
        y = as_target(y, X.shape[0], X.dtype, "y")
        sw = as_sample_weight(sample_weight, X.shape[0])
        if self._stats is not None and X.shape[1] != self.n_features:
            raise ValueError(f"this chunk has {X.shape[1]} columns but earlier chunks had "
                             f"{self.n_features}; every chunk must have the same columns.")
        self._all_float32 &= X.dtype == np.float32
        # float64 sums whatever the data: float32 sums would cap every later solve at
        # float32's accuracy
        self._stats = chan_merge(self._stats, float64_stats(X, y, True, sw))
        return self

    def merge(self, other: NormalAccumulator) -> NormalAccumulator:
        """A new accumulator holding the rows of both (neither is modified)."""
        if not isinstance(other, NormalAccumulator):
            raise TypeError(f"can only merge a NormalAccumulator, not {type(other).__name__}.")
        if self.n_features is not None and other.n_features is not None \
                and self.n_features != other.n_features:
            raise ValueError(f"cannot merge statistics of {self.n_features} and "
                             f"{other.n_features} columns.")
        out = NormalAccumulator()
        out._stats = chan_merge(self._stats, other._stats)
        out._all_float32 = self._all_float32 and other._all_float32
        return out

    __add__ = merge

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


def from_stats(stats: Stats, float32: bool) -> NormalAccumulator:
    """An accumulator holding centred statistics gathered elsewhere (the estimator's exact
    fit), so that partial_fit can add rows to them; ``float32``: every row was float32."""
    acc = NormalAccumulator()
    acc._stats = stats
    acc._all_float32 = float32
    return acc


def stats_of(acc: NormalAccumulator) -> Stats | None:
    """The centred statistics of the rows seen so far (None before the first chunk)."""
    return acc._stats
