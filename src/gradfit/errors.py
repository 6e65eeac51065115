"""Warnings and errors raised by gradfit."""
import numpy as np

__all__ = ["IllConditionedWarning", "IllConditionedError", "ConvergenceWarning",
           "DivergenceError"]


class IllConditionedWarning(UserWarning):
    """The normal equations were too ill-conditioned for Cholesky; an orthogonal-factorisation
    solver ran instead (``FitResult.solver`` and ``FitResult.message`` say which and why)."""


class IllConditionedError(np.linalg.LinAlgError):
    """The normal equations are singular or too ill-conditioned to trust, and the fallback to an
    orthogonal-factorisation solver was disabled (``fallback=False``)."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before meeting its tolerance."""


class DivergenceError(RuntimeError):
    """An iterative solver's objective became non-finite or grew far above its starting value:
    the step size is too large for the problem."""
