"""The result type shared by every solver."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._state import DescentState
from ._validation import as_float_matrix, check_finite, linear_prediction


@dataclass(frozen=True, eq=False)
class FitResult:
    """Outcome of a least-squares fit.

    Every solver minimises the same objective (see :func:`gradfit.solve_normal`)::

        f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2 + l1 ||w||_1

    Attributes
    ----------
    coef : ndarray of shape (n_features,)
        The coefficients w (read-only), in the working precision (float32 or float64).
    intercept : float
        b; 0.0 when the fit had no intercept.
    n_iter : int
        Iterations (gradient steps) taken; epochs for mini-batch SGD; 0 for the exact solver.
    converged : bool
        Whether the stopping criterion was met (always True for the exact solver).
    loss_history : ndarray of float64
        f after each iteration, starting with f at the initial point; empty for the exact solver.
    solver : str
        What actually ran: ``"cholesky"``, ``"qr"`` (the exact solver's fallback), ``"eigh"`` (the
        fallback of accumulated statistics, whose rows are gone), ``"gradient_descent"`` or
        ``"sgd"``.
    rcond : float
        LAPACK's estimate of the reciprocal condition number of the column-scaled matrix
        X^T X + m*l2*I that was factored (0.0 if it was not positive definite; NaN for
        gradient descent).
    refinement_steps : int
        Steps of iterative refinement the exact solver applied (0: none ran). It runs when
        ``rcond`` says Cholesky may have lost digits (see :func:`gradfit.solve_normal`).
    forward_error : float
        The exact solver's estimate of the relative error of ``coef`` (max-norm), at least
        eps: after refinement, the relative size of the last correction applied times the
        ratio of successive corrections (observed, or predicted as n * eps / rcond after a
        single step); without refinement, the first-order bound eps / rcond of a Cholesky
        solve (eps * cond(R) for the QR fallback). NaN where no estimate exists (gradient
        descent, rank-deficient fallbacks).
    objective : float
        f at the returned coefficients.
    message : str
        Why the solver did what it did (fallbacks, precision changes, stopping reason).
    step : object or None
        The step-size strategy used by gradient descent.
    grad_norm : float
        Norm of the gradient (with l1: of the proximal gradient mapping) that the stopping
        test used (NaN for the exact solver and for mini-batch SGD).
    state : DescentState or None
        Gradient descent's state, used to resume (``init=result``): a frozen, validated
        record (``gradfit._state.DescentState``) that reads like a mapping of the scalar
        slots (``state["t"]``, ``state["lipschitz"]``, ...) and the strategy's vectors by
        name (``state["first_moment"]``). None for the exact solvers.

    Examples
    --------
    >>> import numpy as np, gradfit
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
    >>> res = gradfit.solve_normal(X, y)
    >>> res.predict(np.array([[3.0]]))
    array([7.])
    """

    coef: np.ndarray
    intercept: float
    n_iter: int = 0
    converged: bool = True
    loss_history: np.ndarray = field(default_factory=lambda: np.empty(0))
    solver: str = "cholesky"
    rcond: float = float("nan")
    objective: float = float("nan")
    message: str = ""
    step: Any = None
    grad_norm: float = float("nan")
    state: DescentState | None = None
    refinement_steps: int = 0
    forward_error: float = float("nan")

    def __post_init__(self):
        coef = np.asarray(self.coef).view()  # a read-only view: the caller's array is untouched
        coef.flags.writeable = False
        object.__setattr__(self, "coef", coef)
        if isinstance(self.state, dict):  # the plain dict of version 0.1.0
            object.__setattr__(self, "state", DescentState.from_dict(self.state, self.step))

    @classmethod
    def _exact(cls, coef: np.ndarray, intercept: float, rcond: float, objective: float,
               forward_error: float, refinement_steps: int = 0) -> FitResult:
        """A Cholesky result of the exact solver, built without the dataclass machinery (its
        per-field checks cost as much as a 1000 x 10 solve). ``coef`` must be a read-only
        array that belongs to the result alone."""
        self = object.__new__(cls)
        fields = self.__dict__
        fields.update(_EXACT_DEFAULTS)
        fields.update(coef=coef, intercept=intercept, rcond=rcond, objective=objective,
                      forward_error=forward_error, loss_history=np.empty(0),
                      refinement_steps=refinement_steps)
        return self

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.coef.flags.writeable = False  # pickling does not keep the flag
        if isinstance(self.state, dict):  # pickled by version 0.1.0
            self.__dict__["state"] = DescentState.from_dict(self.state, self.step)

    def predict(self, X) -> np.ndarray:
        """Return ``X @ coef + intercept`` (float64) for X of shape (n_samples, n_features).

        Raises ValueError for X with NaN or infinity, a masked X with masked values, or the
        wrong number of columns."""
        X = as_float_matrix(X, "X")
        check_finite(X, "X")  # as LinearRegression.predict: NaN in, error out
        if X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X has {X.shape[1]} columns but the model was fitted with "
                             f"{self.coef.shape[0]}; pass data with the same columns.")
        # in float64, as LinearRegression.predict: float32 X times coefficients can exceed
        # float32's range where the same prediction from the estimator does not
        return linear_prediction(X.astype(np.float64, copy=False),
                                 self.coef.astype(np.float64, copy=False), self.intercept)


# The fields of an unrefined Cholesky result that do not depend on the data.
_EXACT_DEFAULTS = dict(n_iter=0, converged=True, solver="cholesky", message="", step=None,
                       grad_norm=float("nan"), state=None)
