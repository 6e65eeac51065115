"""The exact solver's sufficient statistics (``_normal.gram_pass``) against NumPy.

Narrow rows go through gradfit's own AVX2 Gram kernel (csrc/gf_gram.h) and wide ones through
BLAS syrk; the kernel tiles the columns in vectors of 4 (float64) or 8 (float32) lanes times 4
broadcast columns, sweeps chunks of rows that fit L1 and treats a block's last row apart. The
shapes below hit every remainder of n modulo the vector width, n smaller than one vector, a
single row, several row chunks and blocks, rows with a leading dimension larger than n, and
the row-major copy made for column-major X when centring or weighting.

Tolerance: the first-order rounding bound of a sum of m products,
|G_ij - fl(G_ij)| <= m * eps * (|A|^T |A|)_ij with A the data the pass multiplies (X, or X
minus the shift, for which |X| + |mean| is an upper bound), doubled for the centring
correction. It is not tuned: the measured errors are orders of magnitude below it.
"""
import numpy as np
import pytest

from gradfit import _normal

# 200|201 and 400|401: the kernel's limits (1600-byte rows) in float64 and float32.
N_VALUES = [1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 16, 17, 24, 25, 33, 100, 200, 201, 400, 401]


def reference(X, y, centre, weights=None):
    A = X.astype(np.float64)
    b = y.astype(np.float64)
    w = np.ones(len(b)) if weights is None else weights.astype(np.float64)
    if centre:
        mu = w @ A / w.sum()
        A = A - mu
        b = b - w @ b / w.sum()
    else:
        mu = np.zeros(A.shape[1])
    scale = np.abs(X.astype(np.float64)) + np.abs(mu)
    Ws = w[:, None]
    return A.T @ (Ws * A), A.T @ (w * b), scale.T @ (Ws * scale), scale.T @ (w * np.abs(b))


def check(X, y, centre, weights=None):
    sqrt_w = None if weights is None else np.sqrt(weights).astype(X.dtype)
    finite, m, _, _, G, xty, _ = _normal.gram_pass(X, y, centre, sqrt_w)
    assert finite
    G_ref, xty_ref, G_scale, xty_scale = reference(X, y, centre, weights)
    bound = 2 * X.shape[0] * np.finfo(X.dtype).eps
    assert np.all(np.abs(G - G_ref) <= bound * G_scale + 1e-300)
    assert np.all(np.abs(xty - xty_ref) <= bound * xty_scale + 1e-300)
    np.testing.assert_array_equal(G, G.T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", N_VALUES)
@pytest.mark.parametrize("m", [1, 2, 9, 1000])
def test_gram_pass_matches_numpy(m, n, dtype):
    rng = np.random.default_rng(m * 1000 + n)
    X = (rng.standard_normal((m, n)) + 3.0).astype(dtype)
    y = rng.standard_normal(m).astype(dtype)
    for centre in (False, True):
        check(X, y, centre)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [3, 10, 33, 100])
def test_gram_pass_many_blocks_and_layouts(n, dtype):
    """Several row blocks, C and F order, rows with a leading dimension > n, weights."""
    rng = np.random.default_rng(n)
    m = 9001
    wide = (rng.standard_normal((m, n + 5)) * rng.uniform(0.5, 4.0, n + 5)).astype(dtype)
    y = rng.standard_normal(m).astype(dtype)
    weights = rng.uniform(0.0, 2.0, m)
    layouts = {"C": np.ascontiguousarray(wide[:, :n]), "F": np.asfortranarray(wide[:, :n]),
               "strided-rows": wide[:, 2:n + 2]}
    for name, X in layouts.items():
        assert X.shape == (m, n), name
        for centre in (False, True):
            check(X, y, centre)
            check(X, y, centre, weights)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_pass_threads(dtype):
    """A pass big enough to be split across OpenMP threads (>= 2^22 elements per thread) gives
    the single-thread statistics to rounding, and both match NumPy."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(5)
    m, n = 90_001, 100
    X = (rng.standard_normal((m, n)) + 2.0).astype(dtype)
    y = rng.standard_normal(m).astype(dtype)
    for centre in (False, True):
        check(X, y, centre)
        with threadpoolctl.threadpool_limits(1):
            one = _normal.gram_pass(X, y, centre)
        many = _normal.gram_pass(X, y, centre)
        G_scale = reference(X, y, centre)[2]
        tol = 2 * m * np.finfo(dtype).eps
        assert np.all(np.abs(one[4] - many[4]) <= tol * G_scale)
        assert one[1] == many[1]  # the row count
        for k in (2, 3, 5, 6):  # mean_x, mean_y, X^T y, y^T y
            np.testing.assert_allclose(many[k], one[k], rtol=tol, atol=tol * np.abs(one[k]).max())
