"""The iterative solver: gradient descent with a pluggable step-size strategy."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Callable

import numpy as np

from . import _descent, steps as _steps
from ._result import FitResult
from ._validation import as_float_matrix, as_target, check_penalty, raise_nonfinite
from .errors import ConvergenceWarning, DivergenceError

__all__ = ["gradient_descent"]

# Statuses of _descent.run.
_CONVERGED, _MAX_ITER, _DIVERGED, _CALLBACK, _NONFINITE = range(5)
_SCALARS = ("t", "step_size", "lipschitz", "objective_start", "grad_norm_start",
            "have_previous")


def gradient_descent(X, y, *, step: str | _steps.StepStrategy | None = None,
                     l2: float = 0.0, fit_intercept: bool = True, max_iter: int = 1000,
                     tol: float = 1e-6, init=None,
                     callback: Callable[[int, np.ndarray, float, float], bool | None]
                     | None = None) -> FitResult:
    r"""Minimise the least-squares objective by gradient descent, entirely in compiled code.

    The objective is the one every gradfit solver shares::

        f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2

    (b only with ``fit_intercept``, never penalised; ``l2`` is ``Ridge(alpha).alpha / m`` in
    scikit-learn terms), so with the same ``l2`` it converges to :func:`solve_normal`'s answer.
    Each iteration is one fused pass over X (residual and gradient together), plus one more
    for the line searches (``"exact"``, ``"backtracking"``) and occasionally for ``"bb"``.
    The intercept is handled without copying X: the engine works with c = b + mean(X)·w,
    which makes the intercept decouple from w (see ARCHITECTURE.md).

    Parameters
    ----------
    X : array_like of shape (m, n)
        float32 or float64, C or F order, used in place (never copied or modified); other
        numeric dtypes are converted to float64 and arrays with no unit stride copied.
        float32 data are read in float32; the iterate and the optimiser's state are float64.
    y : array_like of shape (m,)
    step : str, gradfit.steps.StepStrategy or None
        The step-size strategy; None means ``"backtracking"``, or the strategy of ``init``
        when resuming. An object from :mod:`gradfit.steps` or one of the names
        ``"fixed"`` (ε = 0.01), ``"lipschitz"``, ``"exact"``, ``"backtracking"``, ``"bb"``,
        ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"`` (each the
        class with its defaults).
    l2 : float, default 0.0
    fit_intercept : bool, default True
    max_iter : int, default 1000
        Maximum number of gradient steps.
    tol : float, default 1e-6
        Stop when ||∇f|| <= tol * max(1, ||∇f at the start||).
    init : None, array_like of shape (n,), or FitResult
        Starting coefficients (zeros by default; the intercept starts at its best value for
        them). A FitResult of an earlier call resumes it: the point and the strategy's state
        (step counter, moments, velocity, accumulators, trial step) carry on exactly, on the
        same or on new data; the strategy must be of the same type.
    callback : callable, optional
        ``callback(iteration, coef, intercept, objective)`` at every point whose objective
        enters ``loss_history`` (iteration 0 is the start); returning True stops the fit.
        This is the only case where Python runs per iteration: it costs a few microseconds
        plus a copy of coef each time.

    Returns
    -------
    FitResult
        ``solver="gradient_descent"``, ``loss_history`` (f at the start and after every step),
        ``grad_norm`` (of the final point, in the engine's parametrization), ``step`` and
        ``state`` (for resuming; ``state["lipschitz"]`` is Lipschitz's estimate of L).

    Raises
    ------
    ValueError
        Bad data or parameters (as :func:`solve_normal`), non-positive rates, ``tol < 0``,
        ``max_iter < 1``, an ``init`` of the wrong length or strategy.
    DivergenceError
        The objective became non-finite or grew a million-fold: the step is too large.

    Warns
    -----
    ConvergenceWarning
        ``max_iter`` was reached before ``tol``; ``converged`` is then False.

    Examples
    --------
    >>> import numpy as np, gradfit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3)); y = X @ [1.0, -2.0, 0.5] + 4.0
    >>> res = gradfit.gradient_descent(X, y, step="lipschitz", tol=1e-10)
    >>> np.round(res.coef, 6), round(res.intercept, 6), res.converged
    (array([ 1. , -2. ,  0.5]), 4.0, True)
    """
    X = as_float_matrix(X, "X")
    m, n = X.shape
    y = as_target(y, m, X.dtype, "y")
    l2 = check_penalty(l2, "l2")
    if step is None:
        step = init.step if isinstance(init, FitResult) and init.step is not None \
            else "backtracking"
    strategy = _steps.get(step)
    max_iter = _check_int(max_iter, "max_iter", minimum=1)
    tol = check_penalty(tol, "tol")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None, got {type(callback).__name__}.")
    fit_intercept = bool(fit_intercept)
    d = n + fit_intercept

    mu = X.mean(axis=0, dtype=np.float64) if fit_intercept else np.zeros(n)
    ybar = float(y.mean(dtype=np.float64)) if fit_intercept else 0.0
    if not (np.isfinite(mu).all() and math.isfinite(ybar)):
        raise_nonfinite(X, y)

    p = np.zeros(d)
    vecs = np.zeros((2, d))
    scal = np.zeros(len(_SCALARS))
    if isinstance(init, FitResult):
        _resume(init, strategy, p, vecs, scal, n, mu, fit_intercept)
    elif init is not None:
        w0 = np.asarray(init)
        if w0.ndim != 1 or w0.shape[0] != n or w0.dtype.kind not in "biuf":
            raise ValueError(f"init must be None, a FitResult or an array of {n} coefficients, "
                             f"got shape {w0.shape} and dtype {w0.dtype}.")
        if not np.isfinite(w0).all():
            raise ValueError("init contains NaN or infinity.")
        p[:n] = w0
        if fit_intercept:
            p[n] = ybar
    elif fit_intercept:
        p[n] = ybar

    history = np.empty(max_iter + 1)
    params = np.asarray(strategy.params(), dtype=np.float64)
    n_iter, status, objective, grad_norm = _descent.run(
        X, y, mu, fit_intercept, l2, strategy.code, params, p, vecs, scal, max_iter, tol,
        callback, history)

    if status == _NONFINITE:
        raise_nonfinite(X, y)
    if status == _DIVERGED:
        raise DivergenceError(
            f"gradient descent diverged at iteration {n_iter} with {strategy!r}: the objective "
            f"went from {scal[3]:.6g} to {history[n_iter]:.6g}. The step size is too large for "
            f"this problem: use a smaller learning rate, or step='backtracking' or "
            f"step='lipschitz', which choose a safe step themselves.")
    converged = status == _CONVERGED
    target = tol * max(1.0, scal[4])
    if status == _CONVERGED:
        message = f"converged: ||grad|| = {grad_norm:.3e} <= {target:.3e}"
    elif status == _CALLBACK:
        message = "stopped by callback"
    else:
        message = (f"stopped at max_iter={max_iter}: ||grad|| = {grad_norm:.3e} > "
                   f"{target:.3e}")
        warnings.warn(
            f"gradient descent did not converge in {max_iter} iterations with {strategy!r}: "
            f"||grad|| = {grad_norm:.3e}, target {target:.3e}, objective {objective:.8g}. "
            f"Increase max_iter, loosen tol, resume with init=<this result>, or try "
            f"step='lipschitz', 'bb' or 'backtracking'.", ConvergenceWarning, stacklevel=2)

    coef = p[:n].astype(X.dtype)
    coef.flags.writeable = False
    intercept = float(p[n] - mu @ p[:n]) if fit_intercept else 0.0
    state = dict(zip(_SCALARS, (float(s) for s in scal)))
    for i, name in enumerate(strategy.state_vectors):
        state[name] = vecs[i].copy()
    state["_vectors"] = vecs
    state["_point"] = p
    state["_shift"] = mu
    return FitResult(coef=coef, intercept=intercept, n_iter=int(n_iter), converged=converged,
                     loss_history=history[:n_iter + 1].copy(), solver="gradient_descent",
                     objective=float(objective), message=message, step=strategy,
                     grad_norm=float(grad_norm), state=state)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _resume(init: FitResult, strategy, p, vecs, scal, n, mu, fit_intercept) -> None:
    if init.solver != "gradient_descent" or init.state is None:
        raise ValueError(f"init is a FitResult of solver {init.solver!r}; only a "
                         f"gradient_descent result carries a state to resume. Pass "
                         f"init=result.coef to start from its coefficients instead.")
    if type(init.step) is not type(strategy):
        raise ValueError(f"init was fitted with {init.step!r} but step={strategy!r}: a fit can "
                         f"only be continued with the same kind of strategy (its "
                         f"hyper-parameters may change). Pass init=result.coef to restart "
                         f"with another strategy.")
    if init.coef.shape[0] != n:
        raise ValueError(f"init has {init.coef.shape[0]} coefficients but X has {n} columns.")
    if (init.state["_vectors"].shape[1] == n + 1) != fit_intercept:
        raise ValueError("init was fitted with a different fit_intercept setting; pass "
                         "init=result.coef to restart.")
    # Resume from the float64 point, not the (possibly float32) coef, so that resuming is
    # exact, unless coef or intercept were replaced (dataclasses.replace) since.
    point, old_mu = init.state["_point"], init.state["_shift"]
    w, b = point[:n], (float(point[n] - old_mu @ point[:n]) if fit_intercept else 0.0)
    if np.array_equal(w.astype(init.coef.dtype), init.coef) and b == init.intercept:
        p[:] = point
        if fit_intercept and not np.array_equal(old_mu, mu):  # new data: new column means
            p[n] = b + mu @ w
    else:
        p[:n] = init.coef
        if fit_intercept:
            p[n] = init.intercept + mu @ p[:n]
    vecs[:] = init.state["_vectors"]
    scal[:] = [init.state[k] for k in _SCALARS]
