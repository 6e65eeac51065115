"""Type stub for the compiled exact-solver module (src/gradfit/_normal.pyx).

The routines trust their inputs (validated in normal.py) and release the GIL. ``floating``
arguments are float32 or float64 arrays, all of one precision per call; C types in comments.
"""
import numpy as np
import numpy.typing as npt

def gram_pass(
    X: npt.NDArray[np.floating],  # const floating[:, :], unit stride along one axis
    y: npt.NDArray[np.floating],  # const floating[::1]
    center: bool,
    sqrt_weight: npt.NDArray[np.floating] | None = None,  # const floating[::1]
) -> tuple[
    bool,  # finite: no NaN or inf in the statistics
    float,  # weight_sum (the number of rows when unweighted)
    npt.NDArray[np.float64],  # mean_x (zeros without center)
    float,  # mean_y
    npt.NDArray[np.float64],  # G, n x n
    npt.NDArray[np.float64],  # X^T y
    float,  # y^T y
]: ...
def solve_spd(
    G: npt.NDArray[np.float64],  # const double[:, ::1]
    xty: npt.NDArray[np.float64],  # const double[::1]
    m: float,
    l2: float,
    single: bool,  # factor in float32
) -> tuple[
    int,  # info: > 0 when not positive definite (w is then NaN)
    float,  # rcond of the matrix scaled to unit diagonal
    npt.NDArray[np.float64],  # w
    npt.NDArray[np.float64] | None,  # the Cholesky factor for refine_loop (None: single)
    npt.NDArray[np.float64] | None,  # the column scaling d (None: single)
]: ...
def refine_pass(
    X: npt.NDArray[np.float64],  # const double[:, :]
    y: npt.NDArray[np.float64],  # const double[::1]
    weights: npt.NDArray[np.float64] | None,  # const double[::1]
    w: npt.NDArray[np.float64],  # const double[::1]
    offset: float,
    isa: str = "best",  # "portable", "avx2" or "best" (AVX-512F where available)
) -> tuple[
    npt.NDArray[np.float64],  # X^T W r as double-double pairs, shape (2, n): hi, lo
    tuple[float, float],  # 1^T W r as a pair
    float,  # r^T W r
]: ...
def residual_sqnorm(
    X: npt.NDArray[np.floating],  # const floating[:, :]
    y: npt.NDArray[np.floating],  # const floating[::1]
    w: npt.NDArray[np.floating],  # const floating[::1]
    b: float,
) -> float: ...  # ||X w + b - y||^2
def solve_plain(
    X: object,  # used only if a float64 ndarray the kernels read in place
    y: object,  # used only if a float64 ndarray of X's rows, unit stride
    fit_intercept: object,  # used only if a bool
    l2: object,  # used only if a finite float or int >= 0
    amplification_max: float,
    explained_min: float,
    rcond_min: float,
    rcond_min_refined: float,
    max_steps: int,
    stop: float,
) -> tuple[tuple[npt.NDArray[np.float64], float, float, float, int, float] | None,
           tuple | None]: ...
    # ((coef, intercept, rcond, objective, refinement steps, forward error), None);
    # (None, None): validate the arguments first; (None, gram_pass's statistics): take the
    # general path from them
def refine_loop(
    X: npt.NDArray[np.float64],  # const double[:, :]
    y: npt.NDArray[np.float64],  # const double[::1]
    weights: npt.NDArray[np.float64] | None,  # const double[::1]
    coef: npt.NDArray[np.float64],
    intercept: float,
    mean_x: npt.NDArray[np.float64] | None,  # None: no intercept
    m: float,
    l2: float,
    contraction: float,
    max_steps: int,
    stop: float,
    U: npt.NDArray[np.float64] | None = None,  # solve_spd's factor
    d: npt.NDArray[np.float64] | None = None,  # solve_spd's scaling
    scale: float = 1.0,
    solve: object = None,  # or a callable rhs -> correction
) -> tuple[npt.NDArray[np.float64], float, int, float, float] | None: ...
    # (w, b, steps, forward-error estimate, rss), or None: the corrections do not contract
def _kernel_isa() -> str: ...  # "avx2-fma" or "portable"
def _refine_isa() -> str: ...  # "avx512f", "avx2-fma" or "portable"
