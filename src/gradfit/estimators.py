"""A scikit-learn compatible estimator over gradfit's solvers.

scikit-learn is optional: with it installed, :class:`LinearRegression` is a genuine
scikit-learn regressor (``RegressorMixin``, ``BaseEstimator``, its input validation and
tags) and passes ``sklearn.utils.estimator_checks.check_estimator``; without it, the same
class works on its own (``get_params``/``set_params``/``score`` implemented here).
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from . import steps as _steps
from ._result import FitResult
from ._state import DescentState
from ._stats import Stats, chunk_rows, gram_stats
from ._validation import (
    as_float_matrix,
    as_sample_weight,
    as_target,
    check_finite,
    check_penalty,
    linear_prediction,
    normalised,
    raise_nonfinite,
    reject_masked,
)
from .accumulator import NormalAccumulator, from_stats
from .descent import gradient_descent
from .normal import solve_data, solve_with_stats

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.utils.metaestimators import available_if as _available_if
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _HAVE_SKLEARN = False
    try:
        import warnings as _warnings

        import sklearn  # noqa: F401  (installed, but older than the API used here)
        _warnings.warn("gradfit.LinearRegression needs scikit-learn >= 1.6 to be a "
                       "scikit-learn estimator; with the installed version it works on its "
                       "own only. Upgrade scikit-learn to use it in pipelines.", stacklevel=2)
    except ImportError:
        pass

    def _available_if(check):
        return lambda method: method

__all__ = ["LinearRegression", "AUTO_MAX_FEATURES", "SGD_DEFAULT_BATCH_SIZE"]

#: solver="auto" uses the exact solver up to this many features (see LinearRegression).
AUTO_MAX_FEATURES = 4000
#: batch_size of solver="sgd" (and of partial_fit) when none is given.
SGD_DEFAULT_BATCH_SIZE = 32
_SOLVERS = ("auto", "cholesky", "gd", "sgd")


class _NoSklearnBase:
    """get_params / set_params / score for when scikit-learn is not installed."""

    @classmethod
    def _get_param_names(cls):
        return sorted(p.name for p in inspect.signature(cls.__init__).parameters.values()
                      if p.name != "self" and p.kind == p.KEYWORD_ONLY)

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; "
                                 f"valid parameters are {valid}.")
            setattr(self, key, value)
        return self

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (as scikit-learn's ``r2_score``)."""
        y = np.asarray(y, dtype=np.float64)
        check_finite(y, "y")
        pred = np.asarray(self.predict(X), dtype=np.float64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        w = w.reshape((-1,) + (1,) * (y.ndim - 1))
        ss_res = (w * (y - pred) ** 2).sum(axis=0)
        ss_tot = (w * (y - np.average(y, axis=0, weights=w.ravel())) ** 2).sum(axis=0)
        return float(np.mean(1.0 - ss_res / ss_tot))

    def __repr__(self):
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if defaults[k].default is not v and defaults[k].default != v]
        return f"{type(self).__name__}({', '.join(changed)})"


_Bases = (RegressorMixin, BaseEstimator) if _HAVE_SKLEARN else (_NoSklearnBase,)


# mypy cannot follow a base chosen at import time (scikit-learn's, or the stand-in above).
class LinearRegression(*_Bases):  # type: ignore[misc]
    """Least-squares linear regression (ridge, lasso, elastic net) on gradfit's solvers.

    Minimises gradfit's objective (see :func:`gradfit.solve_normal`)::

        f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2 + l1 ||w||_1

    so ``l2 = Ridge(alpha).alpha / m`` and ``(l2, l1)`` is
    ``ElasticNet(alpha=l2 + l1, l1_ratio=l1 / (l2 + l1))`` in scikit-learn's terms. With
    ``sample_weight`` the squared errors are weighted and divided by the sum of the weights.

    Parameters
    ----------
    solver : {"auto", "cholesky", "gd", "sgd"}, default "auto"
        ``"cholesky"``: :func:`gradfit.solve_normal` (falls back to a Householder QR on
        ill-conditioned data; ``solver_`` then says ``"qr"``). ``"gd"``: full-batch
        :func:`gradfit.gradient_descent`. ``"sgd"``: mini-batch gradient descent
        (``batch_size`` default ``SGD_DEFAULT_BATCH_SIZE`` = 32). ``"auto"``: ``"sgd"`` when
        ``batch_size`` is set; else ``"gd"`` with FISTA when ``l1 > 0``; otherwise
        ``"cholesky"`` while ``n_features <= AUTO_MAX_FEATURES`` (4000) and ``"gd"``
        (conjugate gradient) beyond: the measured crossover (see Notes).
    step : str or gradfit.steps.StepStrategy, optional
        The step-size strategy for "gd"/"sgd". Default: conjugate gradient for "gd" (FISTA
        with l1 > 0); for "sgd" a constant rate computed from the data with tail averaging
        (see :func:`gradfit.gradient_descent`). Giving one with solver="cholesky" is an
        error.
    l2, l1 : float, default 0.0
    fit_intercept : bool, default True
    max_iter : int, default 1000
        Iterations ("gd") or epochs ("sgd").
    tol : float, optional
        As in :func:`gradfit.gradient_descent`.
    batch_size : int, optional
    shuffle : bool, default True
    average : bool, int or "auto", default "auto"
        Polyak averaging of SGD iterates (as scikit-learn's SGDRegressor); "auto": from the
        second epoch on when the rate is automatic (step=None), else off.
    n_iter_no_change : int, default 5
    random_state : None, int or numpy.random.Generator
    warm_start : bool, default False
        Continue a previous gradient-descent fit (its point and optimiser state) on ``fit``.
    fallback : bool, default True
        Allow the exact solver's QR fallback (else IllConditionedError).
    precompute : bool or "auto", default "auto"
        solver="gd" only: run gradient descent on the Gram statistics (one pass over X, then
        O(n²) per step) as :func:`gradfit.gradient_descent`'s ``precompute``. ``"auto"``
        uses them for tall data (at least 10 rows per column, at most 1000 columns), where a
        fit to convergence measured 1.4-7x faster with them (benchmarks/RESULTS.md).
        ``precompute=True`` with solver="sgd" is an error.
    standardize : bool, default True
        Gradient descent and SGD iterate on standardised columns internally (no copy of X)
        and report coefficients in X's units; see :func:`gradfit.gradient_descent`. No
        effect on the exact solver, which scales its normal matrix itself.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when X has column names)
    solver_ : str
        What actually ran: "cholesky", "qr" (the QR fallback), "eigh" (the fallback of
        partial_fit's accumulated statistics, whose rows are gone), "gradient_descent" or
        "sgd".
    loss_history_ : ndarray
    rcond_ : float
        Reciprocal condition estimate when the exact solver ran (NaN otherwise).
    result_ : gradfit.FitResult (or a list of them, one per target)

    Notes
    -----
    ``AUTO_MAX_FEATURES`` is where ``gradfit crossover`` (README) measured the two solvers
    meeting: an exact solve costs about m·n² flops at ~43 GFLOP/s, a gradient step one pass
    over X at ~16 GB/s, and Barzilai–Borwein needs ~140–190 steps to a relative error of 1e-6
    at condition number 100, so the two meet near n = 3900 (m = 4n, one thread: 6.4 s each at
    n = 4000). Worse conditioning needs more steps and moves the crossover up, so the rule
    errs toward the exact solver.

    Examples
    --------
    >>> import numpy as np
    >>> from gradfit import LinearRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = X @ [1.5, -2.0] + 1.0
    >>> model = LinearRegression().fit(X, y)
    >>> np.round(model.coef_, 10), round(model.intercept_, 10), model.solver_
    (array([ 1.5, -2. ]), 1.0, 'cholesky')
    """

    def __init__(self, *, solver="auto", step=None, l2=0.0, l1=0.0, fit_intercept=True,
                 max_iter=1000, tol=None, batch_size=None, shuffle=True, average="auto",
                 n_iter_no_change=5, random_state=None, warm_start=False, fallback=True,
                 precompute="auto", standardize=True):
        self.solver = solver
        self.step = step
        self.l2 = l2
        self.l1 = l1
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.average = average
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.fallback = fallback
        self.precompute = precompute
        self.standardize = standardize

    # ------------------------------------------------------------------ fitting
    def _resolve_solver(self, n_features: int, multi_target: bool) -> str:
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}.")
        l1 = check_penalty(self.l1, "l1")
        solver = self.solver
        if solver == "auto":
            if self.batch_size is not None and not multi_target:
                solver = "sgd"
            elif l1 > 0 or (n_features > AUTO_MAX_FEATURES and not multi_target):
                solver = "gd"
            else:
                solver = "cholesky"
        if solver == "cholesky":
            if l1 > 0:
                raise ValueError("l1 > 0 has no closed form: use solver='gd' (FISTA) or "
                                 "solver='auto'.")
            if self.step is not None:
                raise ValueError(f"step={self.step!r} does not apply to solver='cholesky' "
                                 f"(an exact solve takes no steps); leave step=None or use "
                                 f"solver='gd'.")
            if self.batch_size is not None:
                raise ValueError("batch_size does not apply to solver='cholesky'; use "
                                 "solver='sgd' for mini-batches.")
        elif multi_target:
            raise ValueError(f"solver={solver!r} fits one target at a time; for a 2-D y use "
                             f"solver='cholesky' (one factorisation serves every target).")
        if solver == "gd" and self.batch_size is not None:
            raise ValueError("batch_size is for solver='sgd'; solver='gd' is full-batch.")
        return solver

    def _step_for(self, solver: str):
        """The strategy to pass on: None lets gradient_descent choose (conjugate gradient,
        FISTA with l1 > 0, the automatic SGD rate)."""
        if self.step is not None:
            return self.step
        if solver != "sgd" and check_penalty(self.l1, "l1") > 0:
            return "fista"
        return None

    def _validate(self, X, y=None, reset=True, multi_output=True, predicting=False):
        reject_masked(X, "X")  # scikit-learn's validation would drop the mask silently
        reject_masked(y, "y")
        if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.dtype.itemsize > 8:
            # a longdouble value beyond float64's range: said here, where scikit-learn's cast
            # would make it an infinity
            X = as_float_matrix(X, "X")
        if _HAVE_SKLEARN:
            # scikit-learn keeps any strided layout (negative strides, for one); the kernels
            # read X through a unit stride on one axis: as_float_matrix copies what they
            # cannot read (a reversed X would be read out of place)
            if predicting:  # finiteness checked by gradfit (scikit-learn's float32 sum
                # of values near float32's max warns of overflow instead of answering)
                X = as_float_matrix(validate_data(self, X, dtype=[np.float64, np.float32],
                                                  reset=reset, ensure_all_finite=False), "X")
                check_finite(X, "X")
                return X, None
            # X's finiteness is checked by the solvers' own pass over X (the Gram pass or the
            # first gradient), at no extra cost; scikit-learn's check is one more pass. Its
            # check of y sums y first (in float32 for float32 y: values near float32's max
            # overflow, with a warning, before its value-by-value check answers correctly).
            with np.errstate(over="ignore", invalid="ignore"):
                X, y = validate_data(self, X, y, dtype=[np.float64, np.float32],
                                     y_numeric=True, multi_output=multi_output, reset=reset,
                                     ensure_all_finite=False)
            return as_float_matrix(X, "X"), y
        if y is None and not predicting:
            raise ValueError(f"This {type(self).__name__} estimator requires y to be passed, "
                             f"but the target y is None.")
        X = as_float_matrix(X, "X")
        if predicting:
            check_finite(X, "X")
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1 and not multi_output:
            y = y.ravel()
        return X, y

    def _validated(self, X, y, reset, multi_output):
        """X as the solvers read it; y contiguous in X's precision when it is 1-D."""
        X, y = self._validate(X, y, reset=reset, multi_output=multi_output)
        if y.ndim == 1:
            y = as_target(y, X.shape[0], X.dtype, "y")
        return X, y

    def _weights(self, sample_weight, X):
        if sample_weight is None:
            return None
        reject_masked(sample_weight, "sample_weight")
        if _HAVE_SKLEARN:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                                 ensure_non_negative=True)
        return as_sample_weight(sample_weight, X.shape[0])

    def fit(self, X, y, sample_weight=None):
        """Fit the model; returns self.

        X may be a Dask array (chunked by rows): the fit then runs on the cluster through
        :mod:`gradfit.dask` (exact: one pass; "gd": on the gathered statistics, or a
        map-reduce per iteration beyond 4096 columns) and X never reaches this process."""
        if _is_dask(X):  # before any validation, which would pull X here
            from .dask import _estimator_fit
            return _estimator_fit(self, X, y, sample_weight)
        multi_ok = self.solver in ("auto", "cholesky")
        X, y = self._validated(X, y, reset=True, multi_output=multi_ok)
        self._accumulator = None  # set again by an exact fit, for partial_fit to add to
        sw = self._weights(sample_weight, X)
        multi = y.ndim == 2
        solver = self._resolve_solver(X.shape[1], multi)
        if multi:
            self._fit_multi(X, y, sw)
        elif solver == "cholesky":
            self._store(self._fit_exact(X, y, sw))
        else:
            init = self._warm_init(solver, X.shape[1]) if self.warm_start else None
            self._store(self._descend(X, y, sw, solver, max_iter=self.max_iter, init=init))
        return self

    def _fit_exact(self, X, y, sw) -> FitResult:
        """solve_normal, keeping its statistics so that partial_fit can add to them."""
        l2 = check_penalty(self.l2, "l2")
        fit_intercept = bool(self.fit_intercept)
        # the weights divided by their largest, as solve_normal does: the fit is unchanged
        # and weights of 1e300 or 1e-320 neither overflow nor underflow
        scale = 1.0 if sw is None else float(sw.max())
        res, st = solve_data(X, y, normalised(sw), l2, fit_intercept, self.fallback)
        self._accumulator = from_stats(st, X.dtype == np.float32, scale)
        return res

    def _warm_init(self, solver: str, n_features: int):
        """The previous result to resume when it is compatible, else its coefficients."""
        prev = getattr(self, "result_", None)
        if not isinstance(prev, FitResult) or prev.coef.shape != (n_features,):
            return None
        chosen = self._step_for(solver)
        step = _steps.get(chosen if chosen is not None else
                          "fixed" if solver == "sgd" else "cg")
        resumable = (prev.solver == ("sgd" if solver == "sgd" else "gradient_descent")
                     and type(prev.step) is type(step)
                     and isinstance(prev.state, DescentState)
                     and prev.state.can_resume(step, n_features, bool(self.fit_intercept)))
        return prev if resumable else prev.coef

    def _has_partial_fit(self):
        return self.solver != "gd"

    @_available_if(_has_partial_fit)
    def partial_fit(self, X, y, sample_weight=None):
        """Learn from one more chunk of rows; returns self.

        With solver "sgd" or "auto": one epoch of mini-batch SGD over the chunk, carrying the
        optimiser's state (Adam's moments, an InverseScaling counter, ...) from the previous
        call. With solver "cholesky": the chunk's exact statistics are added to a
        :class:`gradfit.NormalAccumulator` (holding those of an earlier ``fit`` too) and the
        model re-solved, so it is always the exact fit of every row seen. A Dask array chunk
        (solver "cholesky" only) adds its statistics, gathered on the cluster."""
        if _is_dask(X):
            from .dask import _estimator_partial_fit
            return _estimator_partial_fit(self, X, y, sample_weight)
        X, y = self._validated(X, y, reset=not hasattr(self, "coef_"), multi_output=False)
        sw = self._weights(sample_weight, X)
        if self.solver == "cholesky":
            self._resolve_solver(X.shape[1], False)  # l1, step, batch_size make no sense here
            if getattr(self, "_accumulator", None) is None \
                    or self._accumulator.n_features != X.shape[1]:
                self._accumulator = NormalAccumulator()
            self._accumulator.update(X, y, sample_weight=sw)
            self._store(self._accumulator.solve(l2=self.l2, fit_intercept=self.fit_intercept,
                                                fallback=self.fallback))
            return self
        self._resolve_solver(X.shape[1], False)
        init = getattr(self, "result_", None)
        if isinstance(init, FitResult) and init.solver not in ("gradient_descent", "sgd"):
            init = init.coef  # after an exact fit: continue from its coefficients
        elif not isinstance(init, FitResult):
            init = None
        self._store(self._descend(X, y, sw, "sgd", max_iter=1, init=init))
        return self

    def _descend(self, X, y, sw, solver, max_iter, init):
        batch = None
        if solver == "sgd":
            batch = SGD_DEFAULT_BATCH_SIZE if self.batch_size is None else self.batch_size
            if isinstance(batch, numbers.Integral) and batch > X.shape[0]:
                batch = X.shape[0]  # a chunk smaller than a batch is one batch
        kwargs = {"precompute": self.precompute}
        if solver == "sgd":
            kwargs.update(batch_size=batch, shuffle=self.shuffle, average=self.average,
                          n_iter_no_change=self.n_iter_no_change,
                          random_state=_seed_for(self.random_state))
        step = self._step_for(solver)
        return gradient_descent(X, y, step=None if step is None else _steps.get(step),
                                l2=self.l2, l1=self.l1, fit_intercept=self.fit_intercept,
                                max_iter=max_iter, tol=self.tol, init=init, sample_weight=sw,
                                standardize=self.standardize, **kwargs)

    def _store(self, res: FitResult):
        self.result_ = res
        self.coef_ = np.array(res.coef, dtype=np.float64)
        self.intercept_ = float(res.intercept)
        self.n_iter_ = res.n_iter
        self.solver_ = res.solver
        self.loss_history_ = res.loss_history
        self.rcond_ = res.rcond

    def _fit_multi(self, X, Y, sw):
        """Every target from one Gram matrix (one pass for X^T X, one for X^T Y), in float64:
        float32 X is converted first (a copy), as the targets share one factorisation."""
        X = X.astype(np.float64, copy=False)
        Y = np.asarray(Y, dtype=np.float64)
        k = Y.shape[1]
        if k == 0:
            raise ValueError("y has no target columns.")
        fit_intercept = bool(self.fit_intercept)
        l2 = check_penalty(self.l2, "l2")
        sw = normalised(sw)
        st = gram_stats(X, np.ascontiguousarray(Y[:, 0]), fit_intercept, sw)
        w = np.ones(X.shape[0]) if sw is None else sw
        ybar = (w @ Y) / w.sum() if fit_intercept else np.zeros(k)
        XtY = np.zeros((X.shape[1], k))
        YtY = np.zeros(k)
        rows = chunk_rows(X.shape[1])
        for i in range(0, X.shape[0], rows):  # centred block by block (in cache): no copy of
            Xb = X[i:i + rows] - st.mean_x    # X, and no cancellation for large means
            Yb = (Y[i:i + rows] - ybar) * w[i:i + rows, None]
            XtY += Xb.T @ Yb
            YtY += np.einsum("ij,ij->j", Y[i:i + rows] - ybar, Yb)
        if not (np.isfinite(XtY).all() and np.isfinite(YtY).all()):
            raise_nonfinite(X, Y)
        results = []
        for t in range(k):
            st_t = Stats(st.m, st.mean_x, float(ybar[t]), st.G, XtY[:, t], float(YtY[t]),
                         st.centred)
            yt = np.ascontiguousarray(Y[:, t])
            res, _ = solve_with_stats(X, yt, sw, l2, fit_intercept, self.fallback, st=st_t)
            results.append(res)
        self._store_multi(results)

    def _store_multi(self, results):
        self.result_ = results
        self.coef_ = np.array([r.coef for r in results], dtype=np.float64)
        self.intercept_ = np.array([r.intercept for r in results])
        self.n_iter_ = 0
        self.solver_ = results[0].solver
        self.loss_history_ = np.empty(0)
        self.rcond_ = results[0].rcond

    # ------------------------------------------------------------------ predicting
    def predict(self, X):
        """X @ coef_.T + intercept_ (for a Dask array X: a lazy Dask array)."""
        if _HAVE_SKLEARN:
            check_is_fitted(self)
        elif not hasattr(self, "coef_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit first.")
        if _is_dask(X):
            from .dask import predict
            return predict(X, self.coef_, self.intercept_)
        X, _ = self._validate(X, reset=False, predicting=True)
        return linear_prediction(X.astype(np.float64, copy=False), self.coef_.T,
                                 self.intercept_)

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (scikit-learn's ``r2_score``; averaged over targets),
        weighted by ``sample_weight`` (finite, >= 0, not all zero, one per row). With a Dask
        array X, computed on the cluster (two scalars per target come back)."""
        if _is_dask(X):
            from .dask import _estimator_score
            return _estimator_score(self, X, y, sample_weight)
        reject_masked(y, "y")
        if sample_weight is not None:
            sample_weight = as_sample_weight(sample_weight, np.shape(y)[0] if np.ndim(y)
                                             else -1)
        return super().score(X, y, sample_weight=sample_weight)

    if _HAVE_SKLEARN:
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.target_tags.multi_output = self.solver in ("auto", "cholesky")
            tags.target_tags.single_output = True
            return tags


def _is_dask(X) -> bool:
    """Whether X is a Dask collection (without importing Dask)."""
    return type(X).__module__.partition(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def _seed_for(random_state):
    if random_state is None or isinstance(random_state, (numbers.Integral,
                                                         np.random.Generator)):
        return random_state
    if isinstance(random_state, np.random.RandomState):  # scikit-learn's convention
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, an int, a numpy Generator or RandomState, "
                     f"got {type(random_state).__name__}.")
