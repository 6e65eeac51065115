"""The iterative solver: gradient descent (full batch or mini-batch) with a pluggable step-size
strategy, L2 and L1 penalties."""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import _certify, _descent, steps as _steps
from ._descent import STATE_SLOTS, Status
from ._result import FitResult
from ._state import DescentState
from ._stats import Stats, chunk_rows, constant_columns, float64_stats, without_columns
from ._validation import (
    MAX_COUNT,
    as_float_matrix,
    as_sample_weight,
    as_target,
    check_coef_range,
    check_count,
    check_penalty,
    normalised,
    raise_nonfinite,
    reject_masked,
    scale_problem,
)
from .errors import ConvergenceWarning, DivergenceError

__all__ = ["gradient_descent"]

# descent.py's own outcomes, beyond the engine's Status: SGD stopped improving short of the
# optimum (_STALLED), or stopped improving where nothing measured the distance (_UNCERTIFIED);
# a full-batch strategy met its own test but its steps no longer move the point (_STUCK).
_STALLED, _UNCERTIFIED, _STUCK = 5, 6, 7
# ... or stopped where float64 cannot measure the distance to the minimiser to tol (nearly
# collinear columns: _certify's floor above tol).
_UNMEASURABLE = 8
# The automatic SGD rate is divided by 4 at most this many times when it stalls.
_MAX_RATE_REDUCTIONS = 8

# precompute="auto": the Gram matrix when X has at least this many rows per column and at most
# this many columns. Measured (benchmarks/RESULTS.md, lasso): the statistics cost as much as
# 5 to 45 passes over X for n = 20 to 1000 (10-15 at n = 200), fewer than a FISTA run's power
# iteration and first iterations, and FISTA to the default tol ran 1.4x (n = 1000) to 4-7x
# (n = 50, 100) faster with them at 10 to 5000 rows per column.
AUTO_GRAM_MIN_ROWS_PER_COLUMN = 10
AUTO_GRAM_MAX_COLUMNS = 1000


def gradient_descent(X, y, *, step: str | _steps.StepStrategy | None = None,
                     l2: float = 0.0, l1: float = 0.0, fit_intercept: bool = True,
                     max_iter: int = 1000, tol: float | None = None, init=None,
                     callback: Callable[[int, np.ndarray, float, float], bool | None]
                     | None = None, batch_size: int | None = None, shuffle: bool = True,
                     random_state=None, average: bool | int | str = "auto",
                     n_iter_no_change: int = 5, sample_weight=None,
                     precompute: bool | str = False, standardize: bool = True) -> FitResult:
    r"""Minimise the least-squares objective by gradient descent, entirely in compiled code.

    The objective is the one every gradfit solver shares::

        f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2 + l1 ||w||_1

    (b only with ``fit_intercept``, never penalised). In scikit-learn terms ``l2`` is
    ``Ridge(alpha).alpha / m`` and (l2, l1) is
    ``ElasticNet(alpha=l2 + l1, l1_ratio=l1 / (l2 + l1))``. With l1 = 0 it converges to
    :func:`solve_normal`'s answer.

    **Standardisation** (``standardize=True``, the default): the iteration runs on
    v = σ·w, σ the columns' standard deviations (root mean squares without an intercept),
    so that every column has unit scale, as glmnet does; X is never copied (σ is applied
    to the n coefficients before each pass and to the gradient after it) and coefficients
    are reported in X's units. Learning rates and tolerances then mean the same on any data
    set, whatever its units; ``standardize=False`` runs the textbook iteration on w itself.

    **What converged=True promises**: the returned point was *measured* against the exact
    minimiser w* before success was reported. With l1 = 0 and at most
    ``_certify.MAX_COLUMNS`` = 2000 columns, from the data's sufficient statistics — full
    batch: ``||σ·(w − w*)|| <= tol·||σ·w*||`` (standardised coefficients) and
    ``f − f* <= tol²·max(f*, 1e-10·f0)`` (for tol below about 1e-9: as close as float64
    coefficients get, ``_certify.Certificate.gap_resolution``); mini-batch:
    ``f − f* <= tol·max(f*, 1e-6·f0)``
    (f0: the objective at w = 0). With l1 > 0, full batch: an upper bound on f − f*
    ``<= tol·max(f − bound, 1e-10·f0)``, the bound being the elastic net's duality gap (one
    pass over X) or, where f is μ-strongly convex (at most 2000 columns), ||s||²/(2μ) with s
    the least-norm subgradient; the coefficients themselves are not measured. When a
    strategy's own test is met but the measurement is not, the same iteration goes on with
    a tighter test; when ``max_iter`` runs out first, ``converged``
    is False and a ConvergenceWarning says how far the point is. With more columns (l1 = 0)
    or mini-batches with l1 > 0 the promise rests on the relative gradient (mapping) norm
    alone.

    **Full batch** (``batch_size=None``): each iteration is one fused pass over X (residual
    and gradient together), plus one for the line searches (``"exact"``, ``"backtracking"``),
    for BB's first step, and for FISTA's objective. The intercept is eliminated: it is always
    at its optimum for the current w, b = mean(y) - mean(X)·w (see ARCHITECTURE.md).
    With ``precompute``, one pass over X first gathers the (centred) Gram statistics
    G = Xcᵀ W Xc, Xcᵀ W yc and ycᵀ W yc, as :func:`solve_normal` does; every later pass, the
    power iteration's included, is then O(n²) instead of O(mn): gradient (G w - Xcᵀ yc)/m +
    l2·w, objective (ycᵀyc - 2 wᵀXcᵀyc + wᵀG w)/(2m) + penalties, curvature dᵀG d/m. The
    iterates are those of the pass over X up to rounding; the objective loses about
    eps·ycᵀyc/(2m) absolute to cancellation (1e-16 times the variance of y in float64).

    **Mini-batch SGD** (``batch_size=k``): ``max_iter`` counts epochs; each epoch visits every
    row once, in an order drawn from ``random_state`` when ``shuffle``; one step per batch of
    k rows (the last batch of an epoch may be smaller). ``loss_history`` holds the exact
    objective of the returned coefficients after each epoch (one extra pass over X per
    epoch); the fit stops, converged, once the measured gap is within ``tol`` (above), and
    gives up, not converged, when the epoch objective has not improved for
    ``n_iter_no_change`` epochs (the noise floor of its steps). ``step=None``: a constant
    rate k / (R² + (k − 1) L) from the data (R² the mean squared row norm, L the largest
    Hessian eigenvalue, in standardised units), iterates averaged from the second epoch on,
    and the rate divided by 4 whenever it stalls above ``tol``.

    **L1** (``l1 > 0``): proximal gradient steps, soft-thresholding the coefficients (never
    the intercept) after each gradient step, so removed coefficients are exactly 0.0.
    Allowed with Fixed, Lipschitz, Backtracking (proximal sufficient decrease), FISTA and
    InverseScaling, and with mini-batches with Fixed and InverseScaling. The stopping test
    then uses the norm of the proximal gradient mapping (p - prox(p - ε∇f)) / ε.

    Parameters
    ----------
    X : array_like of shape (m, n)
        float32 or float64, C or F order, used in place (never copied or modified); other
        numeric dtypes are converted to float64 and arrays with no unit stride copied.
        float32 data are read in float32; the iterate and the optimiser's state are float64.
    y : array_like of shape (m,)
    step : str, gradfit.steps.StepStrategy or None
        The step-size strategy; None means ``"cg"`` (conjugate gradient: the exact solution of
        ill-conditioned problems in about n steps), ``"fista"`` with ``l1 > 0``, the automatic
        rate with mini-batches (see above), or the strategy of ``init`` when resuming. An
        object from :mod:`gradfit.steps` or one of the names ``"fixed"`` (ε = 0.01),
        ``"lipschitz"``, ``"exact"``, ``"backtracking"``, ``"bb"``, ``"cg"``, ``"momentum"``,
        ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``, ``"invscaling"``,
        ``"fista"`` (each the class with its defaults).
    l2, l1 : float, default 0.0
        Penalties, >= 0.
    fit_intercept : bool, default True
    max_iter : int, default 1000
        Maximum number of gradient steps (full batch) or epochs (mini-batch).
    tol : float, optional
        The promise of ``converged`` (above). Full batch: the relative error of the
        standardised coefficients, default 1e-6 (1e-4 for float32 data, whose rounding
        allows no better); the strategy's own test is ||∇f|| <= tol·||∇f|| at w = 0 (at the
        start with l1 > 0). Mini-batch: the relative objective gap, default 1e-3.
    init : None, array_like of shape (n,), or FitResult
        Starting coefficients (zeros by default; the intercept starts at its best value for
        them in full batch, and at that value estimated on the first batch with
        mini-batches, so that a stream of chunks starts as one pass over all of them would).
        A FitResult of an earlier call resumes it: the point and the strategy's state
        (step counter, moments, velocity, accumulators, trial step, averaging, random
        generator) carry on exactly, on the same or on new data; the strategy must be of the
        same type (its hyper-parameters may change). On new data the state still describes
        the first problem: Lipschitz and FISTA keep their L, BB its last step, the tolerance
        its reference gradient norm; start afresh (``init=result.coef``) when the new data
        differ in scale.
    callback : callable, optional
        ``callback(iteration, coef, intercept, objective)`` at every point whose objective
        enters ``loss_history`` (iteration 0 is the start); returning True stops the fit.
        This is the only case where Python runs per iteration: it costs a few microseconds
        plus a copy of coef each time.
    batch_size : int, optional
        Rows per step for mini-batch SGD, 1 <= batch_size <= m; None for full batch.
    shuffle : bool, default True
        Mini-batch: visit the rows in a new random order each epoch (else in storage order).
    random_state : None, int or numpy.random.Generator
        Seeds the shuffling (xoshiro256**, run without the GIL). Same seed, same data, same
        thread count: bit-identical results. When resuming, None continues the generator.
    average : bool, int or "auto", default "auto"
        Mini-batch: return the running average of the iterates (Polyak & Juditsky 1992)
        instead of the last one; an int k starts averaging once k rows have been seen
        (scikit-learn's ``average`` has the same meaning). With a constant rate SGD hovers
        around the optimum; the average converges to it. Starting after the first epoch
        (``average=m``) keeps the far-off first iterates out of the average. ``"auto"``:
        after the first epoch with ``step=None`` (when a batch is smaller than X), else off.
    n_iter_no_change : int, default 5
        Mini-batch: epochs without improvement after which the fit gives up (see above).
    sample_weight : array_like of shape (m,), optional
        Row weights >= 0: the least-squares term becomes
        sum_i w_i (y_i - x_i.w - b)^2 / (2 sum_i w_i), as in :func:`solve_normal`.
        Mini-batch gradients are scaled to be unbiased estimates of the weighted gradient.
    precompute : bool or "auto", default False
        Full batch only: run on the Gram statistics (see above) instead of passing over X at
        each step. They cost about m·n² flops (measured: as much as 5 to 45 passes over X
        for n = 20 to 1000) and n² floats of memory, and pay off when the fit takes more
        passes than that, as FISTA and Lipschitz do (their power iteration alone takes up
        to 30). float32 data get float64 statistics (converted 4 MiB at a time).
        ``"auto"``: the statistics when X has at least 10 rows per column and at most 1000
        columns (measured break-even: benchmarks/RESULTS.md), else passes over X, and always
        passes with ``batch_size``. Statistics are recomputed at every call, so short calls
        that resume one another (``init=result``) are better off without.
    standardize : bool, default True
        Iterate on standardised coefficients (above). Mini-batch fits take σ from the first
        batch, like the shift, so that a stream of chunks is standardised as one pass over
        them would be; a resumed fit keeps the coordinates of the fit it continues. A
        constant column (a spread within 16 ulps of its mean) gets scale 0: its coefficient
        stays 0, the minimum-norm answer, as the intercept carries its mean.

    Returns
    -------
    FitResult
        ``solver="gradient_descent"`` (``"sgd"`` with mini-batches), ``loss_history``
        (f at the start and after every step or epoch), ``grad_norm`` (full batch: the
        gradient, or proximal mapping, norm at the final point; for FISTA at the last
        extrapolated point; NaN for mini-batches), ``step`` and ``state`` (for resuming;
        ``state["lipschitz"]`` is the estimate of L for Lipschitz and FISTA).

    Raises
    ------
    ValueError
        Bad data or parameters (as :func:`solve_normal`), non-positive rates, ``tol < 0``,
        ``max_iter < 1``, an ``init`` of the wrong length or strategy, a strategy that cannot
        run with mini-batches or with ``l1 > 0``, a ``precompute`` other than True, False or
        ``"auto"``, ``precompute=True`` with ``batch_size``.
    DivergenceError
        The objective became non-finite or grew a million-fold: the step is too large.

    Warns
    -----
    ConvergenceWarning
        ``max_iter`` was reached, or SGD stopped improving, before the promise above held (in
        mini-batch mode only when ``max_iter >= n_iter_no_change``, so one-epoch streaming
        calls stay quiet); ``converged`` is then False.

    Examples
    --------
    >>> import numpy as np, gradfit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3)); y = X @ [1.0, -2.0, 0.5] + 4.0
    >>> res = gradfit.gradient_descent(X, y, step="lipschitz", tol=1e-10)
    >>> np.round(res.coef, 6), round(res.intercept, 6), res.converged
    (array([ 1. , -2. ,  0.5]), 4.0, True)

    Lasso on the Gram statistics, here with as many exact zeros as the noise-free problem:

    >>> y2 = X @ [1.0, 0.0, 0.5] + 4.0
    >>> res = gradfit.gradient_descent(X, y2, step="fista", l1=0.1, precompute=True)
    >>> res.coef == 0.0, res.converged
    (array([False,  True, False]), True)

    Streaming: one epoch per chunk, the optimiser's state carried from chunk to chunk.

    >>> res = None
    >>> for X_chunk, y_chunk in zip(np.split(X, 4), np.split(y, 4)):
    ...     res = gradfit.gradient_descent(X_chunk, y_chunk, step="adam", batch_size=10,
    ...                                    max_iter=1, init=res, random_state=0)
    >>> res.n_iter, res.solver
    (1, 'sgd')
    """
    X = as_float_matrix(X, "X")
    m, n = X.shape
    y = as_target(y, m, X.dtype, "y")
    weights = normalised(as_sample_weight(sample_weight, m))
    opts = _check_options(m, n, float32=X.dtype == np.float32, step=step, l2=l2, l1=l1,
                          fit_intercept=fit_intercept, max_iter=max_iter, tol=tol, init=init,
                          callback=callback, batch_size=batch_size, shuffle=shuffle,
                          average=average, n_iter_no_change=n_iter_no_change,
                          precompute=precompute, standardize=standardize)
    start = _starting_point(X, y, weights, opts, init, random_state)
    if opts.auto_rate:
        assert opts.batch_size is not None  # the automatic rate is SGD's
        opts = replace(opts, strategy=_steps.Fixed(_sgd_rate(
            start.stats, X, weights, start.shift, start.scale, opts.fit_intercept,
            opts.batch_size)))
    run = _run_engine(X, y, weights, opts, start)
    return _to_result(X, y, opts, start, run)


@dataclass(frozen=True)
class _Options:
    """gradient_descent's settings, checked."""

    strategy: _steps.StepStrategy
    l2: float
    l1: float
    fit_intercept: bool
    max_iter: int
    tol: float
    callback: Callable | None
    batch_size: int | None          # None: full batch
    shuffle: bool                   # mini-batch rows in a new random order each epoch
    average_start: int | None       # rows seen before averaging starts; None: no averaging
    n_iter_no_change: int
    use_gram: bool                  # full batch on the Gram statistics (precompute)
    standardize: bool               # iterate on v = w / scale (see _starting_point)
    auto_rate: bool                 # SGD's constant rate chosen from the data (step=None)
    auto_average: bool              # tail averaging that comes with the automatic rate
    certifiable: bool               # converged is measured against the minimiser (_certify)

    @property
    def mini(self) -> bool:
        return self.batch_size is not None


@dataclass
class _Start:
    """Where the engine starts: its arrays (updated in place by the run), the shift mu of the
    parametrisation c = b + mu.w, the scale of standardisation (w = scale * v), the Gram
    statistics when it runs on them and the statistics that judge convergence."""

    point: np.ndarray
    vectors: np.ndarray
    scalars: np.ndarray
    average: np.ndarray | None
    rng: np.ndarray | None
    shift: np.ndarray
    gram: Stats | None
    resumed: bool = False           # continues init's state (init=<FitResult>)
    scale: np.ndarray | None = None
    stats: Stats | None = None
    # f's strong convexity and largest curvature, for the l1 > 0 bound (_gap_verdict), and
    # how many times that bound was asked for
    strong_convexity: tuple[float, float] | None = None
    gap_checks: int = 0

    def in_units(self, point: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, float]:
        """(w, b) of an engine point (v, c): w = scale * v, b = c - mu.w."""
        n = self.shift.shape[0]
        w = point[:n] if self.scale is None else point[:n] * self.scale
        return w, (float(point[n] - self.shift @ w) if fit_intercept else 0.0)


@dataclass(frozen=True)
class _Run:
    """What the engine returned (over one call, or several when a fit is continued)."""

    n_iter: int
    status: int                     # a Status, _STALLED, _UNCERTIFIED or _STUCK
    objective: float
    grad_norm: float
    history: np.ndarray
    start_coef: np.ndarray          # the coefficients the run started from, in X's units
    resumed: bool
    strategy: _steps.StepStrategy   # the last one run (the automatic SGD rate may drop)
    verdict: tuple[bool, float, float] | None  # the last measurement (_certify.holds)
    unmeasurable_floor: float | None = None  # _certify's floor when it exceeded tol


def _check_options(m: int, n: int, *, float32, step, l2, l1, fit_intercept, max_iter, tol,
                   init, callback, batch_size, shuffle, average, n_iter_no_change,
                   precompute, standardize) -> _Options:
    """The settings checked and normalised, with a ValueError that says what to change."""
    l2 = check_penalty(l2, "l2")
    l1 = check_penalty(l1, "l1")
    max_iter = _check_int(max_iter, "max_iter", minimum=1)
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}.")
    if callback is not None:
        callback = _checked_callback(callback)
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(f"standardize must be True or False, got {standardize!r}.")
    mini = batch_size is not None
    if tol is None:  # what float32 data can support: its rounding floor is ~1e-7 relative
        tol = 1e-3 if mini else (1e-4 if float32 else 1e-6)
    tol = check_penalty(tol, "tol")
    if mini:
        batch_size = _check_int(batch_size, "batch_size", minimum=1, maximum=math.inf)
        if batch_size > m:
            raise ValueError(f"batch_size={batch_size} exceeds the {m} rows of X; use at most "
                             f"{m} (or None for full-batch gradient descent).")
        n_iter_no_change = _check_int(n_iter_no_change, "n_iter_no_change", minimum=1)
    elif average is not False and average != 0 and not _is_auto(average):
        raise ValueError("average averages mini-batch SGD iterates; pass batch_size too "
                         "(full-batch gradient descent converges without averaging).")
    resuming = isinstance(init, FitResult)
    # An automatic SGD rate (step=None with batch_size, or resuming such a fit) comes with
    # tail averaging unless average says otherwise.
    auto_rate = step is None and mini and not resuming
    auto_average = step is None and mini and \
        (not resuming or bool(getattr(init.state, "auto_average", False)))
    if _is_auto(average):
        average_start = m if auto_average and batch_size is not None and batch_size < m \
            else None
    elif isinstance(average, (bool, np.bool_)) or average is None or average == 0:
        average_start = 0 if average else None  # average=0 is off, as in scikit-learn
    else:
        average_start = _check_int(average, "average", minimum=1, maximum=2**53)
    if step is None:
        step = init.step if resuming and init.step is not None else \
            (_steps.Fixed() if mini else "fista" if l1 > 0 else "cg")
    strategy = _steps.get(step)
    _check_combination(strategy, mini, l1)
    # measured: full batch with l1 > 0 by the duality gap (one pass over X, any n); else by
    # the statistics (n^2 memory, m n^2 flops: at most MAX_COLUMNS columns)
    certifiable = (not mini) if l1 > 0 else n <= _certify.MAX_COLUMNS and \
        (not mini or max_iter >= n_iter_no_change)
    return _Options(strategy=strategy, l2=l2, l1=l1, fit_intercept=bool(fit_intercept),
                    max_iter=max_iter, tol=tol, callback=callback, batch_size=batch_size,
                    shuffle=bool(shuffle) and mini, average_start=average_start,
                    n_iter_no_change=n_iter_no_change,
                    use_gram=_use_gram(precompute, mini, m, n), standardize=bool(standardize),
                    auto_rate=auto_rate, auto_average=auto_average, certifiable=certifiable)


def _starting_point(X, y, weights, opts: _Options, init, random_state) -> _Start:
    """The engine's starting point and state: from scratch, from init's coefficients, or
    resumed from init's state; the shift mu, the scale, and the statistics the run needs."""
    m, n = X.shape
    d = n + opts.fit_intercept
    mini, batch = opts.mini, opts.batch_size
    resuming = isinstance(init, FitResult)
    start = _Start(point=np.zeros(d), vectors=np.zeros((2, d)),
                   scalars=np.zeros(len(STATE_SLOTS)),
                   average=np.zeros(d) if opts.average_start is not None else None, rng=None,
                   shift=np.zeros(n), gram=None, resumed=resuming)
    state = _resumable_state(init, opts.strategy, n, opts.fit_intercept) if resuming else None
    if opts.use_gram:  # the engine's shift and c must be the statistics' own means
        start.gram = _without_rounding_columns(float64_stats(X, y, opts.fit_intercept,
                                                             weights))
        start.shift = start.gram.mean_x
    elif not opts.fit_intercept:
        pass
    elif not mini:
        start.shift = _mean(X, weights)
    elif state is not None and not state.exact_shift:
        start.shift = state.shift  # streaming: keep the parametrization of the first chunk
    else:  # the mean of the first batch: a cheap, usually good, shift
        start.shift = _mean(X[:batch], None if weights is None else weights[:batch])
    if start.gram is not None:
        ybar = start.gram.mean_y
    else:
        ybar = float(_mean(y, weights)) if opts.fit_intercept and not mini else 0.0
    if not (np.isfinite(start.shift).all() and math.isfinite(ybar)):
        raise_nonfinite(X, y)
    # The statistics that judge convergence (_certify): SGD needs them from the start (its
    # rate and its per-epoch test), full batch only once its gradient test is met.
    start.stats = start.gram if start.gram is not None and start.gram.centred else None
    if start.stats is None and opts.certifiable and mini:
        start.stats = _certify_stats(X, y, weights)
    start.scale = _choose_scale(X, weights, opts, start, state)
    if state is not None:
        _resume(init, state, start, n, opts.fit_intercept)
        if mini and random_state is None and state.rng is not None:
            start.rng = np.array(state.rng, dtype=np.uint64)
    elif init is not None:
        w0 = _check_init_coefficients(init, n)
        start.point[:n] = w0 if start.scale is None else \
            np.divide(w0, start.scale, out=np.zeros(n), where=start.scale != 0)
        if not mini and opts.l1 == 0:  # the tolerance's reference: the gradient at w = 0
            start.scalars[STATE_SLOTS.index("grad_norm_start")] = _gradient_norm_at_zero(
                X, y, weights, ybar if opts.fit_intercept else 0.0, start.scale)
    if opts.fit_intercept and not mini:
        start.point[n] = ybar  # c = b + mu.w: its optimum mean(y), exactly, as mu is X's mean
    elif opts.fit_intercept and not resuming:  # the first batch's mean, like the shift mu
        start.point[n] = float(_mean(y[:batch], None if weights is None else weights[:batch]))
    if mini and start.rng is None:
        start.rng = _seed(random_state)
    # Divergence is judged against the objective at w = 0 as well as at the first start, so
    # that a fit resumed over many short calls (streaming) is judged as one fit.
    slot = STATE_SLOTS.index("objective_start")
    start.scalars[slot] = max(start.scalars[slot],
                              _objective_at_zero(y, weights, opts.fit_intercept))
    return start


def _choose_scale(X, weights, opts: _Options, start: _Start,
                  state: DescentState | None) -> np.ndarray | None:
    """The engine iterates on v = w / scale, scale = 1 / sigma (the columns' standard
    deviations about the shift). A resumed fit keeps the coordinates of the fit it continues
    (its state lives in them)."""
    mu = start.shift if opts.fit_intercept else None
    if state is not None:
        return None if state.scale is None else np.array(state.scale)
    if not opts.standardize:
        return None
    if opts.mini:
        # From the first batch, like the shift: a stream of chunks is then standardised as
        # one pass over their concatenation would be. Columns constant in that batch take
        # their scale from all rows of this call.
        batch = opts.batch_size
        first = None if weights is None else weights[:batch]
        sd = _scales(X[:batch], first, mu, None, default=0.0)
        if not sd.all():
            constant = sd == 0
            sd[constant] = _scales(X[:, constant], weights,
                                   None if mu is None else mu[constant], None,
                                   default=np.inf)
        return 1.0 / sd
    # A constant column gets scale 0: its coefficient stays exactly 0 (the minimum-norm
    # answer) instead of following the rounding noise of its centring, along which the
    # curvature is ~0 and a line search's step enormous.
    return 1.0 / _scales(X, weights, mu, start.stats, default=np.inf)


def _check_init_coefficients(init, n: int) -> np.ndarray:
    reject_masked(init, "init")
    w0 = np.asarray(init)
    if w0.ndim != 1 or w0.shape[0] != n or w0.dtype.kind not in "iuf":
        raise ValueError(f"init must be None, a FitResult or an array of {n} coefficients, "
                         f"got shape {w0.shape} and dtype {w0.dtype}.")
    if not np.isfinite(w0).all():
        raise ValueError("init contains NaN or infinity.")
    return w0


def _run_engine(X, y, weights, opts: _Options, start: _Start) -> _Run:
    """The compiled engine (see _descent.pyi), called again while a fit must go on: full
    batch until the measured distance to the minimiser keeps the promise of ``tol`` (a
    tighter gradient test each time), the automatic SGD rate divided by 4 when it stalls.
    start's arrays are updated."""
    n = X.shape[1]
    gram, mini, tol = start.gram, opts.mini, opts.tol
    # Squares that underflow leave a zero gradient and a "converged" wrong answer: refused
    # before the run (y in full; X's first batch with mini-batches, all of it otherwise).
    reason = scale_problem(X[:opts.batch_size] if mini else X, y, large=False)
    if reason is not None:
        raise ValueError(reason)
    start_coef = start.in_units(start.point, opts.fit_intercept)[0].copy()
    kernel_weights = None if weights is None or gram is not None else weights.astype(X.dtype)
    strategy = opts.strategy
    average_start = float(opts.average_start or 0)
    cert = None
    unmeasurable_floor: float | None = None
    if mini and opts.certifiable:
        assert start.stats is not None  # gathered for certifiable mini-batch fits
        cert = _certify.Certificate(start.stats, opts.l2, opts.fit_intercept,
                                    _ones(start.scale, n))
        if cert.floor > tol:  # cannot be measured to tol: SGD stops on "no progress" only
            unmeasurable_floor = cert.floor
            cert = None
    # SGD: the per-epoch test is the measured gap; "no improvement by engine_tol for
    # n_iter_no_change epochs" only gives up, when the iterates no longer move the objective.
    measured_epochs = cert is not None
    # how far the engine's objective may be off by rounding, relative to f0 (float32 data are
    # read and multiplied in float32)
    objective_rounding = 1e-5 if X.dtype == np.float32 else 1e-12
    # Without a user callback the engine calls back (into Python) only at epochs whose
    # objective may keep the promise: an epoch of a small problem costs little more.
    callback_below = math.inf
    if cert is not None and opts.callback is None:
        callback_below = cert.sgd_objective_threshold(tol, objective_rounding)
    engine_tol = tol * 1e-4 if measured_epochs else tol
    used = 0
    reductions = 0
    verdict: tuple[bool, float, float] | None = None
    user_stop = False

    def engine_callback(k, coef, intercept, f):
        nonlocal verdict, user_stop
        if k == 0 and used > 0:
            return False  # a continuation's start: the caller has seen this point
        if opts.callback is not None and opts.callback(k + used, coef, intercept, f):
            user_stop = True
            return True
        if measured_epochs:  # every epoch: SGD's stopping test
            assert cert is not None
            # The epoch's objective bounds the gap for free; the O(n^2) measurement runs only
            # once that bound no longer rules the promise out (an epoch can cost less).
            bound = cert.sgd_gap_from_objective(f, objective_rounding)
            if bound > tol:
                verdict = (False, math.nan, bound)
                return False
            verdict = cert.holds(coef, intercept, tol, True)
            return verdict[0]
        return False

    histories: list[np.ndarray] = []
    while True:
        n_run, status, objective, grad_norm, history = _descent.run(
            X=X, y=y, sample_weight=kernel_weights, shift=start.shift,
            fit_intercept=opts.fit_intercept, intercept_fixed=not mini, l2=opts.l2,
            l1=opts.l1, rule=strategy.code,
            params=np.asarray(strategy.params(), dtype=np.float64), point=start.point,
            vectors=start.vectors, scalars=start.scalars, max_iter=opts.max_iter - used,
            tol=engine_tol,
            callback=engine_callback if opts.callback is not None or measured_epochs
            else None,
            batch_size=opts.batch_size or 0, shuffle=opts.shuffle, rng=start.rng,
            average=start.average, average_start=average_start,
            n_iter_no_change=opts.n_iter_no_change, callback_below=callback_below,
            G=None if gram is None else gram.G, xty=None if gram is None else gram.xty,
            yty=0.0 if gram is None else gram.yty, gram_weight=0.0 if gram is None else gram.m,
            scale=start.scale)
        histories.append(history if not histories else history[1:])
        used += n_run
        if mini and opts.auto_rate and cert is not None and status == Status.CONVERGED \
                and used < opts.max_iter and reductions < _MAX_RATE_REDUCTIONS:
            # The automatic rate has reached its noise floor short of tol: a quarter of the
            # rate lowers the floor (scikit-learn's "adaptive" schedule divides by 5); the
            # new phase starts from the average and averages again after one more epoch.
            reductions += 1
            assert isinstance(strategy, _steps.Fixed)  # the automatic rate
            strategy = _steps.Fixed(strategy.learning_rate / 4.0)
            scalars = start.scalars
            if start.average is not None:
                if scalars[STATE_SLOTS.index("averaged")] > 0:
                    start.point[:] = start.average
                scalars[STATE_SLOTS.index("averaged")] = 0.0
                average_start = scalars[STATE_SLOTS.index("rows_seen")] + X.shape[0]
            scalars[STATE_SLOTS.index("epochs_no_improvement")] = 0.0
            scalars[STATE_SLOTS.index("best_objective")] = math.inf
            continue
        if mini or status != Status.CONVERGED or not opts.certifiable:
            break
        # The gradient test is met: measure the point itself before promising anything.
        if opts.l1 > 0:
            verdict, shortfall = _gap_verdict(X, y, weights, opts, start, tol)
            if verdict[0]:
                break
        elif cert is None:
            if start.stats is None:
                start.stats = _certify_stats(X, y, weights)
            cert = _certify.Certificate(start.stats, opts.l2, opts.fit_intercept,
                                        _ones(start.scale, n))
        if opts.l1 == 0:
            assert cert is not None
            if cert.floor > tol:
                unmeasurable_floor = cert.floor
                status = _UNMEASURABLE
                break
            verdict = cert.holds(*start.in_units(start.point, opts.fit_intercept), tol,
                                 False)
            if verdict[0]:
                break
            shortfall = max(verdict[1] / tol, math.sqrt(verdict[2]) / tol, 10.0)
        if used >= opts.max_iter:
            status = Status.MAX_ITER
            break
        # Not there yet: the same iteration goes on with a tighter gradient test ...
        engine_tol = engine_tol / min(shortfall, 1e3)
        if n_run == 0:  # ... one that the point where it stopped does not meet
            reference = start.scalars[STATE_SLOTS.index("grad_norm_start")]
            if not (grad_norm > 0 and reference > 0):
                status = _STUCK  # a zero gradient (mapping) far from the minimiser
                break
            engine_tol = min(engine_tol, 0.5 * grad_norm / reference)

    if mini and status == Status.STOPPED_BY_CALLBACK and not user_stop:
        status = Status.CONVERGED  # the measured gap is within tol
    elif mini and status == Status.CONVERGED and cert is not None:
        status = _STALLED  # no progress, and not within tol of the optimum
    elif mini and status == Status.CONVERGED:
        status = _UNCERTIFIED

    if mini and cert is not None and status != Status.CONVERGED:
        # the measurement at the point returned, for the message (epochs may have skipped it)
        reported = start.point
        if start.average is not None and start.scalars[STATE_SLOTS.index("averaged")] > 0:
            reported = start.average
        verdict = cert.holds(*start.in_units(reported, opts.fit_intercept), tol, True)
    return _Run(n_iter=used, status=status, objective=float(objective),
                grad_norm=float(grad_norm), history=np.concatenate(histories),
                start_coef=start_coef, resumed=start.resumed, strategy=strategy,
                verdict=verdict, unmeasurable_floor=unmeasurable_floor)


def _to_result(X, y, opts: _Options, start: _Start, run: _Run) -> FitResult:
    """The FitResult of a run, or the error its status means; warns when it stopped short of
    the promise of ``tol``."""
    mini, strategy, scalars = opts.mini, run.strategy, start.scalars
    _diagnose(X, y, run.status, run.objective, scalars, strategy, run.start_coef,
              run.resumed, opts.fit_intercept, opts.l2)
    if run.status == Status.DIVERGED:
        raise DivergenceError(_divergence_message(
            strategy, mini, run.n_iter, scalars[STATE_SLOTS.index("objective_start")],
            run.objective, start.scale is not None))
    message, converged = _report(run.status, strategy, mini, opts.max_iter,
                                 opts.n_iter_no_change, opts.tol, run.grad_norm,
                                 run.objective, run.verdict, start.scale is not None,
                                 _unmeasured_reason(opts, X.shape[1], run.unmeasurable_floor),
                                 opts.auto_rate)
    point = start.point
    if start.average is not None and scalars[STATE_SLOTS.index("averaged")] > 0:
        point = start.average
    w, intercept = start.in_units(point, opts.fit_intercept)
    state = DescentState(rule=strategy.code, point=start.point, shift=start.shift,
                         exact_shift=not mini, vectors=start.vectors,
                         scalars=dict(zip(STATE_SLOTS, scalars.tolist(), strict=True)),
                         vector_names=strategy.state_vectors, average=start.average,
                         rng=None if start.rng is None else start.rng.tolist(),
                         scale=start.scale, auto_average=opts.auto_average)
    return FitResult(coef=check_coef_range(w, X.dtype), intercept=intercept,
                     n_iter=run.n_iter, converged=converged, loss_history=run.history,
                     solver="sgd" if mini else "gradient_descent", objective=run.objective,
                     message=message, step=strategy,
                     grad_norm=float("nan") if mini else run.grad_norm, state=state)


def _diagnose(X, y, status, objective, scal, strategy, start, resuming, fit_intercept,
              l2) -> None:
    """Raise ValueError naming the real culprit when a run failed because of the data or the
    starting point rather than the step size: NaN or infinity in X or y, a start too large
    for the data, or data whose products overflow the working precision (the engine then
    sees infinities, a zero step or a zero Lipschitz estimate)."""
    if status == Status.NONFINITE_START:
        raise_nonfinite(X, y, start=start, start_name="the resumed state (init=<FitResult>)"
                        if resuming else "init", descent=True)
    if status == Status.DIVERGED:
        if not math.isfinite(objective) and not np.isfinite(X).all():
            raise_nonfinite(X, y)  # from w = 0, SGD's first objective does not read X
        reason = scale_problem(X, y)
        if reason is not None:
            raise ValueError(reason)
    lipschitz = scal[STATE_SLOTS.index("lipschitz")]
    if strategy.code in (_steps.Lipschitz.code, _steps.FISTA.code) \
            and not (math.isfinite(lipschitz) and lipschitz > 0):
        # L = 0 is right only when the Hessian vanishes: constant columns, no ridge
        moves = l2 > 0 or (np.ptp(X, axis=0).any() if fit_intercept else X.any())
        if moves or not math.isfinite(lipschitz):
            raise ValueError(scale_problem(X, y) or
                             f"the power iteration estimating L gave {lipschitz:g}, which "
                             f"cannot give a step size; rescale the data or use another "
                             f"step strategy.")
    if status == Status.MAX_ITER and scal[STATE_SLOTS.index("step_size")] == 0.0 \
            and strategy.code in (_steps.ExactLineSearch.code, _steps.BarzilaiBorwein.code,
                                  _steps.Backtracking.code, _steps.ConjugateGradient.code):
        reason = scale_problem(X, y)  # an infinite curvature made the step zero
        if reason is not None:
            raise ValueError(reason)


def _unmeasured_reason(opts: _Options, n: int, floor: float | None = None) -> str:
    """Why convergence is judged by the strategy's own test, unmeasured (_certify)."""
    if floor is not None:
        return _collinear(floor)
    if opts.l1 > 0:
        return "l1 > 0 with mini-batches"
    if n > _certify.MAX_COLUMNS:
        return f"more than {_certify.MAX_COLUMNS} columns"
    return f"max_iter < n_iter_no_change={opts.n_iter_no_change}"


def _without_rounding_columns(st: Stats) -> Stats:
    """Centred statistics with the columns constant up to the centring's rounding (weighted
    means) made exactly constant: their noise would otherwise be a direction of curvature
    1e-32, which a 1/L step or a line search turns into coefficients of 1e13."""
    if not st.centred:
        return st
    const = constant_columns(np.diagonal(st.G), st.mean_x, st.m)
    if not const.any():
        return st
    G, xty = without_columns(st.G, st.xty, const)
    return st._replace(G=G, xty=xty)


def _collinear(floor: float) -> str:
    cond = floor / np.finfo(np.float64).eps
    return (f"nearly collinear columns: the standardised normal matrix has condition number "
            f"{cond:.1e}, so float64 resolves the distance to the minimiser only to about "
            f"{floor:.1e}" if math.isfinite(floor) else
            "nearly collinear columns: the standardised normal matrix is singular in float64")


def _gap_verdict(X, y, weights, opts: _Options, start: _Start,
                 tol: float) -> tuple[tuple[bool, float, float], float]:
    """The promise of a full-batch fit with l1 > 0, measured at the engine's point: ``((holds,
    nan, relative bound), shortfall)``. The bound on f - f* is the smaller of the elastic
    net's duality gap and, when f is strongly convex (at most MAX_COLUMNS columns: the
    statistics give the constant), s2 / (2 mu) from the least-norm subgradient; relative to
    max(f - bound, FLOOR f0). The shortfall says how many times too large it is (at least
    10: the next gradient test's tightening).

    The promise is tol on that relative bound, not tol**2 as for l1 = 0: the duality gap falls
    only in proportion to the distance to w* (the objective's gap with its square), so tol**2
    asked for points far closer than the coefficients' tol, and the default FISTA stopped at
    max_iter on 7 of 48 real-data fits whose objective was exact to 1e-15. The second-order
    bound matters where the point meets the optimality conditions only to its data's
    precision (float32: a gap of 1e-3 of f at a point 3e-8 from the minimum)."""
    w, b = start.in_units(start.point, opts.fit_intercept)
    f0 = _objective_at_zero(y, weights, opts.fit_intercept)
    gap, f, rounding, s2 = _certify.elastic_net_gap(
        X, y, weights, w, b, opts.l1, opts.l2, start.shift if opts.fit_intercept else None,
        f0)
    bound, floor = gap, 0.0
    if gap > tol * max(f - gap, _certify.FLOOR * f0):
        start.gap_checks += 1
        # The statistics for the second-order bound cost 4 to 25 passes over X (n = 20 to
        # 1000): gathered when at hand, for float32 data (whose gap stays at their
        # precision), or once the gap has failed twice, since more iterations usually bring
        # it down for less. Until then the gap gets no rounding floor either.
        if start.stats is not None or X.dtype == np.float32 or start.gap_checks > 2:
            bound, floor = _certify.elastic_net_bound(gap, s2, rounding, w, opts.l1,
                                                      _convexity(X, y, weights, opts, start, w))
    reference = max(f - bound, _certify.FLOOR * f0)
    threshold = max(tol * reference, floor)
    relative = bound / reference if reference > 0 else (0.0 if bound == 0 else math.inf)
    holds = bound <= threshold
    return (holds, math.nan, relative), max(bound / threshold if threshold > 0 else math.inf,
                                            10.0)


def _convexity(X, y, weights, opts: _Options, start: _Start,
               w: np.ndarray) -> tuple[float, float] | None:
    """f's strong convexity and largest curvature (_certify.strong_convexity, computed once
    from the statistics), or None: more than MAX_COLUMNS columns, or a nonzero coefficient
    on a constant column, which the bound over the columns that vary does not cover."""
    if X.shape[1] > _certify.MAX_COLUMNS:
        return None
    if start.stats is None:
        start.stats = _certify_stats(X, y, weights)
    if start.strong_convexity is None:
        start.strong_convexity = _certify.strong_convexity(start.stats, opts.l2)
    if np.any(w[np.diagonal(start.stats.G) <= 0]):
        return None
    return start.strong_convexity


def _certify_stats(X, y, weights) -> Stats:
    """The statistics _certify measures with: centred even without an intercept, where raw
    products would lose the columns' spread to their means."""
    return _without_rounding_columns(float64_stats(X, y, True, weights))


def _is_auto(value) -> bool:
    return isinstance(value, str) and value == "auto"


def _ones(scale, n):
    return np.ones(n) if scale is None else scale


def _scales(X: np.ndarray, weights, mu, stats, default: float = 1.0) -> np.ndarray:
    """The per-column scale of standardisation: the (weighted) standard deviation about mu
    (the root mean square without an intercept); ``default`` for a constant column
    (_stats.constant_columns). From the statistics' diagonal when they exist, else one pass
    over X in float64 blocks."""
    if stats is not None:
        m = float(stats.m)
        if mu is None and stats.centred:
            var = np.diag(stats.G) / m + stats.mean_x ** 2
        elif mu is not None and stats.centred:
            var = np.diag(stats.G) / m + (stats.mean_x - mu) ** 2
        else:
            var = np.diag(stats.G) / m
    else:
        n = X.shape[1]
        total = np.zeros(n)
        rows = min(chunk_rows(n), X.shape[0])
        buf = np.empty((rows, n))  # one block, centred in cache (no cancellation)
        for i in range(0, X.shape[0], rows):
            block = X[i:i + rows]
            b = buf[:block.shape[0]]
            np.subtract(block, 0.0 if mu is None else mu, out=b)
            if weights is None:
                total += np.einsum("ij,ij->j", b, b)
            else:
                total += np.einsum("i,ij,ij->j", weights[i:i + rows], b, b)
        wsum = X.shape[0] if weights is None or not weights.any() else float(weights.sum())
        var = total / wsum
    sd = np.sqrt(np.maximum(var, 0.0))
    # A column constant up to the rounding of its mean (51 in every row, weighted mean
    # 51 + 1e-14) is constant: 1/sd would turn that rounding into a coefficient of 1e11.
    constant = constant_columns(var, np.zeros_like(var) if mu is None else mu, 1.0)
    good = np.isfinite(sd) & (sd > 0) & ~constant
    return np.where(good, sd, default)


def _gradient_norm_at_zero(X, y, weights, ybar: float, scale) -> float:
    """||grad f(0)|| in the engine's coordinates: X^T W (y - ybar) / sum(W) (centring X adds
    nothing, as the residuals sum to zero), in float64 blocks."""
    g = np.zeros(X.shape[1])
    rows = chunk_rows(X.shape[1])
    for i in range(0, X.shape[0], rows):
        r = y[i:i + rows].astype(np.float64) - ybar
        if weights is not None:
            r = r * weights[i:i + rows]
        g += r @ X[i:i + rows].astype(np.float64, copy=False)
    total = X.shape[0] if weights is None or not weights.any() else float(weights.sum())
    g /= total
    if scale is not None:
        g *= scale
    return float(np.linalg.norm(g))


def _objective_at_zero(y, weights, fit_intercept) -> float:
    """f at w = 0 with the best intercept: the scale of the problem's objective."""
    yy = y.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):  # y near float64's max: inf, judged
        return _objective_at_zero_of(yy, weights, fit_intercept)  # after the run


def _objective_at_zero_of(yy, weights, fit_intercept) -> float:
    if weights is None or not weights.any():
        c = yy.mean() if fit_intercept else 0.0
        r = yy - c
        return 0.5 * float(r @ r) / len(yy)
    c = float(weights @ yy) / weights.sum() if fit_intercept else 0.0
    r = yy - c
    return 0.5 * float(weights @ (r * r)) / float(weights.sum())


def _sgd_rate(stats, X, weights, mu, scale, fit_intercept, batch: int) -> float:
    """The automatic SGD rate, k / (R^2 + (k - 1) L), for batches of k rows: R^2 the mean
    squared norm of a row in the engine's coordinates (bounding the curvature one row sees),
    L the largest eigenvalue of the Hessian (the curvature of the full sum), both estimated
    from the statistics when they exist (L <= R^2 otherwise): the constant rate under which
    averaged SGD converges on least squares (Bach & Moulines, NeurIPS 2013, with a mini-batch
    of k rows; measured: twice it diverges on real data)."""
    n = X.shape[1]
    s = _ones(scale, n)
    if stats is not None:
        m = float(stats.m)
        G = stats.G if stats.centred else stats.G - m * np.multiply.outer(stats.mean_x,
                                                                          stats.mean_x)
        H = s[:, None] * G * s[None, :] / m
        off = s * (stats.mean_x - mu) if mu is not None else s * stats.mean_x
        R2 = float(np.trace(H) + off @ off + (1.0 if fit_intercept else 0.0))
        v = np.ones(n) / math.sqrt(n)
        lam = 0.0
        for _ in range(100):
            hv = H @ v
            lam_new = float(np.linalg.norm(hv))
            if lam_new == 0.0:
                break
            v = hv / lam_new
            if abs(lam_new - lam) <= 1e-4 * lam_new:
                lam = lam_new
                break
            lam = lam_new
        # the offset of the columns' means from the shift adds a rank-one term off off^T
        L = max(lam, 1.0 if fit_intercept else 0.0) + float(off @ off)
        L = min(L, R2)
    else:  # from the first batch, as the scale: a stream gets the rate of one long pass
        first = None if weights is None else weights[:batch]
        R2 = float(np.sum((_scales(X[:batch], first, mu, None) * s) ** 2)) \
            + float(fit_intercept)
        L = R2
    if not (R2 > 0 and math.isfinite(R2)):
        return 1.0
    if batch >= X.shape[0]:  # every step sees every row: plain gradient descent, rate 1/L
        return 1.0 / L if L > 0 else 1.0 / R2
    return batch / (R2 + (batch - 1) * L)


def _divergence_message(strategy, mini, n_iter, start, objective, standardized) -> str:
    name = type(strategy).__name__
    where = f"{'epoch' if mini else 'iteration'} {n_iter}"
    lr = getattr(strategy, "learning_rate", None)
    advice = []
    if lr is not None:
        advice.append(f"a smaller learning rate (learning_rate={lr:g} is too large for this "
                      f"problem; try {lr / 10:g})")
    if mini:
        if not (isinstance(strategy, _steps.Fixed) and lr is not None):
            advice.append("step=None (an automatic rate with averaging)")
    else:
        advice.append("step=None (conjugate gradient, which chooses every step itself)")
        if not isinstance(strategy, _steps.Backtracking):
            advice.append("step='backtracking'")
    if not standardized:
        advice.append("standardize=True (columns of very different scales make every rule "
                      "harder)")
    return (f"gradient descent diverged at {where} with {strategy!r}: the objective"
            f"{' (on a mini-batch)' if mini else ''} went from {start:.6g} to {objective:.6g}. "
            f"{name} took steps too large for this problem; use " + ", or ".join(advice) + ".")


def _mean(a: np.ndarray, weights: np.ndarray | None):
    """Column means in float64, weighted when weights are given (unweighted if they vanish);
    float32 data are converted block by block, never as a whole. The sums run over a - a[0]:
    a constant column's mean is then exactly its value (a plain sum of 1000 copies of 3.7
    is off by 144 ulps, a spread the standardisation would take for data), and a column
    with a large mean loses no digits to it."""
    first = a[0].astype(np.float64)
    w = weights if weights is not None and weights.any() else None
    total = np.zeros(a.shape[1:])
    rows = chunk_rows(a.shape[1] if a.ndim == 2 else 1)
    for i in range(0, a.shape[0], rows):
        block = a[i:i + rows].astype(np.float64) - first
        total += w[i:i + rows] @ block if w is not None else block.sum(axis=0)
    return first + total / (w.sum() if w is not None else a.shape[0])


def _checked_callback(callback: Callable) -> Callable:
    """The callback, its return value checked: None or a bool (or 0/1), never something whose
    truth the engine would have to guess (an array's raises NumPy's "ambiguous" error)."""
    def call(k, coef, intercept, objective):
        out = callback(k, coef, intercept, objective)
        if out is None or isinstance(out, (bool, np.bool_)):
            return bool(out)
        if isinstance(out, numbers.Integral) and out in (0, 1):
            return bool(out)
        shape = f" of shape {out.shape}" if isinstance(out, np.ndarray) else ""
        raise TypeError(f"callback must return None, True (stop the fit) or False, got "
                        f"{type(out).__name__}{shape}: {out!r:.80}.")
    return call


def _use_gram(precompute, mini: bool, m: int, n: int) -> bool:
    """Whether to run on the Gram matrix (see ``precompute`` in gradient_descent)."""
    if isinstance(precompute, str) and precompute == "auto":
        return not mini and n <= AUTO_GRAM_MAX_COLUMNS \
            and m >= AUTO_GRAM_MIN_ROWS_PER_COLUMN * n
    if not isinstance(precompute, (bool, np.bool_)):
        raise ValueError(f"precompute must be True, False or 'auto', got {precompute!r}.")
    if precompute and mini:
        raise ValueError("precompute=True replaces full passes over X by the Gram matrix; "
                         "mini-batch steps read rows of X, so it cannot be combined with "
                         "batch_size. Drop one of them.")
    return bool(precompute)


def _check_int(value, name: str, minimum: int, maximum: float = MAX_COUNT) -> int:
    # the engine's loop counters are C ints: larger counts would overflow them
    return check_count(value, name, minimum, maximum)


def _check_combination(strategy: _steps.StepStrategy, mini: bool, l1: float) -> None:
    name = type(strategy).__name__
    if mini and not strategy.mini_batch:
        raise ValueError(
            f"{name} is a full-batch method: it needs the exact gradient and objective of all "
            f"rows, which a mini-batch does not give. With batch_size use Fixed, "
            f"InverseScaling, Momentum, Nesterov, AdaGrad, RMSprop or Adam, or drop "
            f"batch_size for full-batch descent.")
    if l1 > 0 and not strategy.proximal:
        allowed = "Fixed or InverseScaling" if mini else \
            "Fixed, Lipschitz, Backtracking, FISTA or InverseScaling"
        raise ValueError(
            f"{name} has no proximal form, so it cannot handle l1 > 0 here; use {allowed} "
            f"(FISTA is the fastest for lasso and elastic net).")


def _seed(random_state) -> np.ndarray:
    if random_state is not None and not isinstance(random_state, (numbers.Integral,
                                                                   np.random.Generator)):
        raise ValueError(f"random_state must be None, an int or a numpy.random.Generator, got "
                         f"{type(random_state).__name__}.")
    if isinstance(random_state, numbers.Integral) and random_state < 0:
        raise ValueError(f"random_state must be an int >= 0 (a seed), got {random_state!r}.")
    gen = random_state if isinstance(random_state, np.random.Generator) else \
        np.random.default_rng(None if random_state is None else int(random_state))
    state = gen.integers(0, 2**64, size=4, dtype=np.uint64)
    if not state.any():  # xoshiro's one forbidden state
        state[0] = 1
    return state


def _report(status, strategy, mini, max_iter, n_iter_no_change, tol, grad_norm, objective,
            verdict, standardized, unmeasured, auto_rate):
    """(message, converged), warning when the fit stopped short of its promise."""
    name = repr(strategy)
    if status == Status.CONVERGED:
        if verdict is None:  # not measured (too many columns): the gradient test
            return (f"converged: ||grad|| = {grad_norm:.3e} <= tol x its starting value "
                    f"(tol={tol:g})"), True
        if mini:
            return (f"converged: the objective is within {verdict[2]:.1e} (relative) of "
                    f"its minimum (tol={tol:g})"), True
        if math.isnan(verdict[1]):  # l1 > 0: the duality gap or strong convexity
            return (f"converged: the objective is measured within {verdict[2]:.1e} "
                    f"(relative) of its minimum (by the duality gap or the subgradient; "
                    f"tol={tol:g})"), True
        return (f"converged: the standardised coefficients are within {verdict[1]:.1e} "
                f"(relative) of the exact solution, the objective within {verdict[2]:.1e} "
                f"(tol={tol:g})"), True
    if status == Status.STOPPED_BY_CALLBACK:
        return "stopped by callback", False
    hint = "" if standardized else " or standardize=True,"
    if mini:
        if status == _STALLED:
            message = (f"stopped: no progress by {n_iter_no_change} epochs, with the "
                       f"objective still {verdict[2]:.1e} (relative) above its minimum "
                       f"(tol={tol:g}): the steps' noise")
            advice = ("increase n_iter_no_change or batch_size" if auto_rate else
                      "use step=None (an automatic rate with averaging), a smaller learning "
                      "rate, average=<rows>, or a larger batch_size")
        elif status == _UNCERTIFIED:
            message = (f"stopped: no progress by {n_iter_no_change} epochs; how close this "
                       f"is to the minimum was not measured ({unmeasured})")
            advice = "check the fit against solver='cholesky' on a sample"
        else:
            message = f"stopped at max_iter={max_iter} epochs"
            if verdict is not None:
                message += f", the objective {verdict[2]:.1e} (relative) above its minimum"
            advice = "increase max_iter, or resume with init=<this result>"
        if max_iter >= n_iter_no_change:
            warnings.warn(f"SGD did not converge with {name}: {message}. To get there, "
                          f"{advice}{hint}.", ConvergenceWarning, stacklevel=4)
        return message, False
    if status == _UNMEASURABLE:
        warnings.warn(
            f"gradient descent with {name} met its own test (||grad|| = {grad_norm:.3e}), but "
            f"whether the point is within tol={tol:g} of the minimiser cannot be measured: "
            f"{unmeasured}. The coefficients along the nearly collinear directions are not "
            f"determined by this fit: use solve_normal (QR) for them, or a ridge penalty "
            f"(l2 > 0), or drop redundant columns.", ConvergenceWarning, stacklevel=4)
        return f"stopped, not measured: {unmeasured}", False
    if verdict is None:
        where = f"||grad|| = {grad_norm:.3e}"
    elif math.isnan(verdict[1]):  # l1 > 0
        where = (f"the objective up to {verdict[2]:.1e} (relative, by the duality gap or "
                 f"the subgradient) above its minimum")
    else:
        where = (f"the standardised coefficients {verdict[1]:.1e} and the objective "
                 f"{verdict[2]:.1e} (relative) from the exact solution")
    advice = [] if status == _STUCK else ["increase max_iter", "resume with init=<this result>"]
    if hint:
        advice.append("standardize=True")
    if not isinstance(strategy, _steps.ConjugateGradient):
        advice.append("use step=None (conjugate gradient: at most a few times n_features "
                      "iterations)")
    elif status == _STUCK or not advice:
        advice.append("use solver='cholesky' (the exact solver)")
    stopped = f"stopped: {name} makes no progress" if status == _STUCK else \
        f"stopped at max_iter={max_iter} iterations"
    warnings.warn(
        f"gradient descent did not converge with {name}: {stopped}, {where} (tol={tol:g}), "
        f"objective {objective:.8g}. To get there, {', or '.join(advice)}.",
        ConvergenceWarning, stacklevel=4)
    return f"{stopped}: {where}", False



def _resumable_state(init: FitResult, strategy, n, fit_intercept) -> DescentState:
    """init's state, checked again, if it can continue a fit with ``strategy`` on n columns
    with that ``fit_intercept`` setting; else a ValueError that says why."""
    if init.solver not in ("gradient_descent", "sgd") or init.state is None:
        raise ValueError(f"init is a FitResult of solver {init.solver!r}; only a "
                         f"gradient_descent result carries a state to resume. Pass "
                         f"init=result.coef to start from its coefficients instead.")
    if not isinstance(init.state, DescentState):
        raise ValueError(f"init.state must be a gradfit DescentState, got "
                         f"{type(init.state).__name__}; pass init=result.coef to restart.")
    state = init.state.validated()
    problem = state.resume_problem(strategy, n, fit_intercept)
    if problem == "step" or type(init.step) is not type(strategy):
        raise ValueError(f"init was fitted with {init.step!r} but step={strategy!r}: a fit can "
                         f"only be continued with the same kind of strategy (its "
                         f"hyper-parameters may change). Pass init=result.coef to restart "
                         f"with another strategy.")
    if init.coef.shape[0] != n or problem == "n_features":
        raise ValueError(f"init has {init.coef.shape[0]} coefficients but X has {n} columns.")
    if problem == "fit_intercept":
        raise ValueError("init was fitted with a different fit_intercept setting; pass "
                         "init=result.coef to restart.")
    return state


def _resume(init: FitResult, state: DescentState, start: _Start, n: int,
            fit_intercept: bool) -> None:
    """start's point, vectors, scalars and average from init's state, re-expressed with
    start's shift."""
    p, avg, mu, scale = start.point, start.average, start.shift, start.scale
    # Resume from the float64 point, not the (possibly float32) coef, so that resuming is
    # exact, unless coef or intercept were replaced (dataclasses.replace) since. The point
    # holds standardised coefficients v = w / scale when the fit was standardised.
    point, old_mu, old_avg = state.point, state.shift, state.average
    s = np.ones(n) if scale is None else scale
    shown = old_avg if old_avg is not None and state.scalars["averaged"] > 0 else point
    w = shown[:n] * s if scale is not None else shown[:n]
    b = float(shown[n] - old_mu @ w) if fit_intercept else 0.0
    if np.array_equal(w.astype(init.coef.dtype), init.coef) and b == init.intercept:
        p[:] = point
        if fit_intercept and not np.array_equal(old_mu, mu):  # another shift: same b
            p[n] = point[n] + (mu - old_mu) @ (point[:n] * s)
        if avg is not None and old_avg is not None:
            avg[:] = old_avg
            if fit_intercept:
                avg[n] += (mu - old_mu) @ (avg[:n] * s)
    else:
        p[:n] = np.divide(init.coef, s, out=np.zeros(n), where=s != 0)
        if fit_intercept:
            p[n] = init.intercept + mu @ init.coef
    start.vectors[:] = state.vectors
    start.scalars[:] = [state.scalars[k] for k in STATE_SLOTS]
    if avg is None or old_avg is None or not np.array_equal(p, point):
        start.scalars[STATE_SLOTS.index("averaged")] = 0.0  # an edited start: a new average
