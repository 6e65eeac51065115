"""gradfit: linear least squares, exact (Cholesky on the normal equations) or iterative
(gradient descent with a step-size strategy of your choice), in compiled code.

Every solver minimises the same objective of coefficients w and intercept b::

    f(w, b) = 1/(2m) ||y - X w - b||^2 + l2/2 ||w||^2 + l1 ||w||_1

(b is absent with ``fit_intercept=False`` and never penalised). In scikit-learn terms:
``l2 = Ridge(alpha).alpha / m``, and (l2, l1) is
``ElasticNet(alpha=l2 + l1, l1_ratio=l1 / (l2 + l1))``.
"""
from . import steps
from ._result import FitResult
from .accumulator import NormalAccumulator
from .descent import gradient_descent
from .errors import ConvergenceWarning, DivergenceError, IllConditionedError, IllConditionedWarning
from .normal import solve_normal

__all__ = ["FitResult", "solve_normal", "gradient_descent", "steps", "NormalAccumulator",
           "LinearRegression", "ConvergenceWarning", "DivergenceError",
           "IllConditionedError", "IllConditionedWarning"]
__version__ = "0.1.0"


def __getattr__(name):
    # LinearRegression imports scikit-learn when it is installed (most of a second):
    # only when it is first used.
    if name == "LinearRegression":
        from .estimators import LinearRegression
        return LinearRegression
    raise AttributeError(f"module 'gradfit' has no attribute {name!r}")
