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
]: ...
def residual_sqnorm(
    X: npt.NDArray[np.floating],  # const floating[:, :]
    y: npt.NDArray[np.floating],  # const floating[::1]
    w: npt.NDArray[np.floating],  # const floating[::1]
    b: float,
) -> float: ...  # ||X w + b - y||^2
def _kernel_isa() -> str: ...  # "avx2-fma" or "portable": the C kernels this module runs
