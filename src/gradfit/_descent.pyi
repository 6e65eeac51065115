"""Type stub of the compiled gradient-descent engine (``_descent.pyx``).

The engine is called once per fit by :func:`gradfit.gradient_descent`; every argument is
validated there first (shapes, dtypes, ranges): ``run`` trusts them. The comments give the C
types the compiled signature declares (``floating``: float32 or float64, the same for X, y and
sample_weight).
"""
from collections.abc import Callable
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

class Rule(IntEnum):
    """The step rule (``StepStrategy.code``)."""

    FIXED = 0
    LIPSCHITZ = 1
    EXACT = 2
    BACKTRACKING = 3
    BB = 4
    MOMENTUM = 5
    NESTEROV = 6
    ADAGRAD = 7
    RMSPROP = 8
    ADAM = 9
    INVSCALING = 10
    FISTA = 11
    CONJUGATE = 12

class Status(IntEnum):
    """Why ``run`` stopped."""

    CONVERGED = 0
    MAX_ITER = 1
    DIVERGED = 2
    STOPPED_BY_CALLBACK = 3
    NONFINITE_START = 4

#: The names of the scalar state's slots, in the order of ``run``'s ``scalars`` array:
#: ("t", "step_size", "lipschitz", "objective_start", "grad_norm_start", "have_previous",
#: "fista_t", "averaged", "best_objective", "epochs_no_improvement", "rows_seen")
STATE_SLOTS: tuple[str, ...]

def run(
    *,
    X: NDArray[np.floating],  # const floating[:, :]  (m, n); any strides, one of them 1
    y: NDArray[np.floating],  # const floating[::1]  (m,)
    sample_weight: NDArray[np.floating] | None,  # const floating[::1]  (m,) or None
    shift: NDArray[np.float64],  # const double[::1]  (n,): mu, the model is (X - 1 mu^T) w + c
    fit_intercept: bool,  # bint
    intercept_fixed: bool,  # bint: full batch keeps c at its optimum mean(y)
    l2: float,  # double
    l1: float,  # double
    rule: int,  # int: a Rule
    params: NDArray[np.float64],  # const double[::1]: StepStrategy.params()
    point: NDArray[np.float64],  # double[::1]  (d,) = (w, c); updated in place
    vectors: NDArray[np.float64],  # double[:, ::1]  (2, d): the rule's vectors; in place
    scalars: NDArray[np.float64],  # double[::1]  (len(STATE_SLOTS),); updated in place
    max_iter: int,  # int: steps (full batch) or epochs (batch_size > 0)
    tol: float,  # double
    callback: Callable[[int, np.ndarray, float, float], object] | None,  # object
    batch_size: int = 0,  # Py_ssize_t: 0 for full batch
    shuffle: bool = False,  # bint
    rng: NDArray[np.uint64] | None = None,  # unsigned long long[::1]  (4,), not all zero
    average: NDArray[np.float64] | None = None,  # double[::1]  (d,) or None
    average_start: float = 0.0,  # double: rows seen before averaging starts
    n_iter_no_change: int = 5,  # int
    callback_below: float = ...,  # double, default inf: mini-batch epochs whose objective
    # exceeds this do not call the callback
    G: NDArray[np.float64] | None = None,  # const double[:, ::1]  (n, n) or None
    xty: NDArray[np.float64] | None = None,  # const double[::1]  (n,)
    yty: float = 0.0,  # double
    gram_weight: float = 0.0,  # double: total row weight of the statistics
    scale: NDArray[np.float64] | None = None,  # const double[::1]  (n,) or None: w = scale * v
) -> tuple[int, int, float, float, NDArray[np.float64]]:
    """Run up to ``max_iter`` steps or epochs; returns ``(n_iter, status, objective,
    grad_norm, history)``, history holding the objective at the n_iter + 1 visited points
    (the engine grows it as the run goes: nothing is allocated for max_iter)."""
def _kernel_isa() -> str: ...  # "avx2-fma" or "portable": the C kernels this module runs
