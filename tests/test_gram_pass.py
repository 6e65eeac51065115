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
import os
import subprocess
import sys
import textwrap

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


def _openmp_threads(threadpoolctl):
    return max((p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p["user_api"] == "openmp"), default=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_pass_threads(dtype):
    """A pass big enough to be split across OpenMP threads (>= 2^22 elements per thread) gives
    the single-thread statistics to rounding, and both match NumPy."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if _openmp_threads(threadpoolctl) < 2:
        pytest.skip("one OpenMP thread here: the pass cannot be split")
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


def _run(script, **env):
    """Run a script in a fresh interpreter: a crash there fails the test, not the session."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def test_gram_pass_reads_nothing_past_the_array():
    """X ends right before an inaccessible page: the kernel's whole-vector reads of narrow rows
    (narrower than half a vector read past the next row's end) must stop inside the array."""
    _run("""
        import ctypes, mmap
        import numpy as np
        from gradfit import _normal

        libc = ctypes.CDLL(None)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        page, m = mmap.PAGESIZE, 1000
        rng = np.random.default_rng(0)
        for dtype in (np.float64, np.float32):
            for n in (1, 2, 3, 5, 7):
                nbytes = m * n * np.dtype(dtype).itemsize
                pages = nbytes // page + 2
                buf = mmap.mmap(-1, pages * page)
                start = (pages - 1) * page - nbytes
                X = np.frombuffer(buf, dtype, m * n, start).reshape(m, n)
                X[...] = rng.standard_normal((m, n))
                guard = ctypes.addressof(ctypes.c_char.from_buffer(buf)) + (pages - 1) * page
                assert libc.mprotect(guard, page, 0) == 0  # PROT_NONE
                y = rng.standard_normal(m).astype(dtype)
                for centre in (False, True):
                    G = _normal.gram_pass(X, y, centre)[4]
                    A = X.astype(np.float64) - (X.mean(0) if centre else 0.0)
                    ref = A.T @ A
                    assert np.abs(G - ref).max() <= 1e-4 * np.abs(ref).max(), (dtype, n, centre)
        """)


def test_gram_pass_with_fewer_threads_than_requested():
    """OpenMP may grant a smaller team than asked for (OMP_THREAD_LIMIT): every row range must
    still be summed."""
    _run("""
        import numpy as np
        from gradfit import _normal

        rng = np.random.default_rng(1)
        X = rng.standard_normal((90_001, 100))
        y = rng.standard_normal(90_001)
        _, m, _, _, G, xty, yty = _normal.gram_pass(X, y, False)
        assert m == 90_001
        assert abs(yty - y @ y) <= 1e-10 * (y @ y)
        np.testing.assert_allclose(G, X.T @ X, rtol=0, atol=1e-10 * np.abs(X.T @ X).max())
        np.testing.assert_allclose(xty, X.T @ y, rtol=0, atol=1e-10 * np.abs(X.T @ y).max())
        """, OMP_THREAD_LIMIT="1")
