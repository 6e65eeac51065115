# cython: language_level=3
"""Compiled core of the exact solver: one pass over X for the sufficient statistics, then a
Cholesky factorisation through LAPACK. Validation happens in ``normal.py``; here every routine
trusts its inputs and releases the GIL for all per-element work."""
import numpy as np

from libc.math cimport sqrt, isfinite, NAN
from libc.stdlib cimport malloc, calloc, free
from cython.parallel cimport prange

from ._blas cimport floating, syrk, gemv, potrf, potrs, pocon, lansy_one_norm, sqnorm
from ._kernels cimport (gf_residual_sqnorm_d, gf_residual_sqnorm_s, gf_shift_block_d,
                        gf_shift_block_s, gf_gram_available, gf_gram_rows_d, gf_gram_rows_s,
                        gf_default_threads, gf_shift_target_d, gf_shift_target_s)
from ._kernels cimport gf_cpu_avx2

# Rows per block. Narrow rows: the block fits L2 (512 KiB here) so that X^T y and the column
# sums read it from cache right after the Gram kernel (a block that spills to L3 cost 2 ms of
# 36 at 100000 x 100). Wide rows for BLAS syrk (under 256 rows would fit): syrk's
# read-modify-write of the n x n result per call dominates instead, so few large blocks (20
# calls at 20000 x 1000 cost 10-15 ms more than one). gradfit's own kernel has no per-call
# cost of that kind, so its blocks always fit L2 (a 16 MiB copied block cost 22 ms of 57 at
# 40000 x 200 with an intercept).
cdef Py_ssize_t _L2_BLOCK_BYTES = 256 * 1024
cdef Py_ssize_t _MIN_L2_BLOCK_ROWS = 256
cdef Py_ssize_t _MIN_OWN_KERNEL_BLOCK_ROWS = 16
cdef Py_ssize_t _WIDE_BLOCK_BYTES = 16 * 1024 * 1024
cdef Py_ssize_t _MIN_WIDE_BLOCK_ROWS = 1024

# Rows up to this many bytes go to gradfit's own Gram kernel (csrc/gf_gram.h) instead of BLAS
# syrk. Measured here, one thread, GFLOP/s counting m n^2 (own kernel / OpenBLAS syrk):
# float64 n = 100: 46 / 28, n = 200: 44 / 37, n = 256: 36 / 41; float32 n = 200: 94 / 73,
# n = 400: 59 / 59. Wider rows leave too few rows per L1 chunk, and syrk's packing pays off.
cdef Py_ssize_t _GRAM_KERNEL_MAX_ROW_BYTES = 1600


cdef Py_ssize_t _block_rows(Py_ssize_t m, Py_ssize_t n, Py_ssize_t itemsize,
                            bint own_kernel) noexcept nogil:
    cdef Py_ssize_t b = _L2_BLOCK_BYTES // (n * itemsize)
    if own_kernel:
        if b < _MIN_OWN_KERNEL_BLOCK_ROWS:
            b = _MIN_OWN_KERNEL_BLOCK_ROWS
    elif b < _MIN_L2_BLOCK_ROWS:
        b = _WIDE_BLOCK_BYTES // (n * itemsize)
        if b < _MIN_WIDE_BLOCK_ROWS:
            b = _MIN_WIDE_BLOCK_ROWS
    return b if b < m else m


def gram_pass(const floating[:, :] X, const floating[::1] y, bint center,
              const floating[::1] sqrt_weight=None):
    """Sufficient statistics of (X, y) in one pass over X.

    X must have unit stride along one axis (row- or column-major, any leading dimension).
    Returns ``(finite, weight_sum, mean_x, mean_y, G, Xty, yty)`` (finite: no NaN or inf in
    the statistics, i.e. none in X, y or their squares) as float64, where, with ``center``
    true, G is the centred Gram matrix Xc^T W Xc, Xty = Xc^T W yc and yty = yc^T W yc (Xc, yc
    centred by their weighted means, W the row weights, all ones without ``sqrt_weight``);
    with ``center`` false they are the raw products and the means are zero.
    Centring uses the mean of the first block as a shift, so the final correction
    ``- S * delta delta^T`` involves only the small difference between the shift and the true
    mean: no catastrophic cancellation when the columns have large means. Weighted rows are
    scaled by sqrt(weight) in the block buffer, never in a copy of X.
    When gradfit's own Gram kernel runs (narrow rows) and the pass is large, OpenMP threads
    take contiguous ranges of blocks and their partial sums are added in thread order:
    deterministic for a given thread count. (Wider rows go to BLAS syrk, threaded by BLAS.)
    """
    cdef Py_ssize_t m = X.shape[0], n = X.shape[1]
    cdef Py_ssize_t itemsize = sizeof(floating)
    cdef Py_ssize_t rs = X.strides[0] // itemsize, cs = X.strides[1] // itemsize
    cdef bint weighted = sqrt_weight is not None
    cdef bint own_kernel = (gf_gram_available() and n * itemsize <= _GRAM_KERNEL_MAX_ROW_BYTES)
    cdef Py_ssize_t B = _block_rows(m, n, itemsize, own_kernel)
    cdef Py_ssize_t nblocks = (m + B - 1) // B
    cdef int nthreads = gf_default_threads(m, n) if own_kernel else 1
    if nthreads > nblocks:
        nthreads = <int> nblocks
    cdef Py_ssize_t i, j, t, lo, hi
    cdef int failed = 0

    G_arr = np.zeros((n, n), dtype=np.float64)
    xty_arr = np.zeros(n, dtype=np.float64)
    shift_arr = np.zeros(n, dtype=np.float64)
    colsum_arr = np.zeros(n, dtype=np.float64)
    cdef double[:, ::1] G = G_arr
    cdef double[::1] xty = xty_arr
    cdef double[::1] shift = shift_arr
    cdef double[::1] colsum = colsum_arr
    cdef double yshift = 0.0, wsum = 0.0, wfirst = 0.0, wi
    cdef bint weighted_first

    cdef const floating *sw = &sqrt_weight[0] if weighted else NULL
    cdef floating *A = NULL
    cdef floating *cshift = NULL
    cdef floating cy = 0
    # Partial sums of threads 1.. (thread 0 adds into the outputs): G, xty, colsum, and
    # (ysum, yy) per thread.
    cdef Py_ssize_t part = n * n + 2 * n
    cdef double *parts = NULL
    cdef double sums[2]
    cdef double *tsums = NULL
    cdef int *tstatus = NULL
    cdef double *gp
    cdef double *xp
    cdef double *cp
    sums[0] = 0.0
    sums[1] = 0.0

    try:
        cshift = <floating *> calloc(n, sizeof(floating))
        if cshift == NULL:
            raise MemoryError()
        if nthreads > 1:
            parts = <double *> calloc((nthreads - 1) * part, sizeof(double))
            tsums = <double *> calloc(2 * nthreads, sizeof(double))
            tstatus = <int *> calloc(nthreads, sizeof(int))
            if parts == NULL or tsums == NULL or tstatus == NULL:
                raise MemoryError()
        with nogil:
            if weighted:
                for i in range(m):
                    wsum += <double> sw[i] * sw[i]
                for i in range(B):
                    wfirst += <double> sw[i] * sw[i]
            else:
                wsum = m
            if center:
                # The shift: (weighted) mean of the first block, a cheap, usually excellent
                # estimate; unweighted if that block weighs nothing. The block-copy kernel
                # with a zero shift gives its (weighted) column sums.
                if not (weighted and wfirst > 0):
                    wfirst = B
                    weighted_first = False
                else:
                    weighted_first = True
                A = <floating *> malloc(B * n * sizeof(floating))
                if A == NULL:
                    failed = 1
                else:
                    if floating is float:
                        gf_shift_block_s(B, n, &X[0, 0], rs, cs, cshift,
                                         sw if weighted_first else NULL, A, n, True, &shift[0])
                    else:
                        gf_shift_block_d(B, n, &X[0, 0], rs, cs, cshift,
                                         sw if weighted_first else NULL, A, n, True, &shift[0])
                    for i in range(B):
                        wi = <double> sw[i] * sw[i] if weighted_first else 1.0
                        yshift += wi * y[i]
                    for j in range(n):
                        cshift[j] = <floating> (shift[j] / wfirst)
                        shift[j] = cshift[j]
                    cy = <floating> (yshift / wfirst)
                    yshift = cy
                    free(A)
                    A = NULL

            if failed:
                pass  # the MemoryError is raised once the GIL is back
            elif nthreads == 1:
                failed = _gram_range(X, y, sw, 0, m, B, center, own_kernel, cshift, cy,
                                     &G[0, 0], &xty[0], &colsum[0], sums)
            else:
                # One iteration per range, whatever size of team OpenMP grants (a smaller
                # one, under OMP_THREAD_LIMIT say, must still cover every range).
                for t in prange(nthreads, schedule='static', chunksize=1,
                                num_threads=nthreads):
                    lo = (nblocks * t // nthreads) * B
                    hi = (nblocks * (t + 1) // nthreads) * B
                    if hi > m:
                        hi = m
                    if t == 0:
                        gp = &G[0, 0]
                        xp = &xty[0]
                        cp = &colsum[0]
                    else:
                        gp = parts + (t - 1) * part
                        xp = gp + n * n
                        cp = xp + n
                    tstatus[t] = _gram_range(X, y, sw, lo, hi, B, center, own_kernel,
                                             cshift, cy, gp, xp, cp, tsums + 2 * t)
                for t in range(nthreads):
                    if tstatus[t]:
                        failed = 1
                for t in range(nthreads):
                    sums[0] += tsums[2 * t]
                    sums[1] += tsums[2 * t + 1]
                    if t == 0:
                        continue
                    for j in range(n):
                        xty[j] += parts[(t - 1) * part + n * n + j]
                        colsum[j] += parts[(t - 1) * part + n * n + n + j]
                        for i in range(j + 1):
                            G[j, i] += parts[(t - 1) * part + j * n + i]

            # G holds the Fortran upper triangle, i.e. the C lower triangle: mirror it.
            for j in range(n):
                for i in range(j):
                    G[i, j] = G[j, i]
    finally:
        free(A)
        free(cshift)
        free(parts)
        free(tsums)
        free(tstatus)
    if failed:
        raise MemoryError()

    cdef double ysum = sums[0], yy = sums[1]
    cdef bint finite = isfinite(yy)
    with nogil:
        if center and wsum > 0.0:
            # Shifted sums -> centred sums about the true mean (delta = colsum / S is small).
            for i in range(n):
                for j in range(n):
                    G[i, j] -= colsum[i] * colsum[j] / wsum
                xty[i] -= colsum[i] * (ysum / wsum)
                shift[i] += colsum[i] / wsum
            yy -= ysum * ysum / wsum
            yshift += ysum / wsum
        finite = isfinite(yy) and finite
        for i in range(n):
            finite = finite and isfinite(G[i, i]) and isfinite(shift[i])
    return finite, wsum, shift_arr, yshift, G_arr, xty_arr, yy


cdef int _gram_range(const floating[:, :] X, const floating[::1] y, const floating *sw,
                     Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t B, bint center,
                     bint own_kernel, const floating *cshift, floating cy, double *G,
                     double *xty, double *colsum, double *sums) noexcept nogil:
    """Add rows [lo, hi) of the pass, in blocks of B rows, to G (n x n, lower triangle of the
    row-major array), xty and colsum, and their sum of (shifted, weighted) y and of its squares
    to sums[0], sums[1]. Returns -1 if scratch memory could not be allocated."""
    cdef Py_ssize_t n = X.shape[1], itemsize = sizeof(floating)
    cdef Py_ssize_t rs = X.strides[0] // itemsize, cs = X.strides[1] // itemsize
    cdef bint row_major = (cs == 1)
    cdef bint weighted = sw != NULL
    # The own kernel reads rows: column-major X is copied, block by block, into row-major
    # buffers for it even without centring or weights. Measured against BLAS syrk on X in
    # place (NumPy's X.T @ X): 100000 x 100, 32 / 32 ms at one thread, 17 / 36 ms at two
    # (syrk does not split these shapes across threads; the pass does); 100000 x 200,
    # 103 / 96 ms and 55 / 74 ms.
    cdef bint copy_block = center or weighted or (own_kernel and not row_major)
    # Copied blocks are laid out row-major whenever the own kernel will read them, else in
    # X's own order (the cheaper copy).
    cdef bint blk_row_major = row_major or (copy_block and own_kernel)
    cdef bint acc_local = floating is float
    cdef floating *A = NULL
    cdef floating *ya = NULL
    cdef floating *Gblk = NULL
    cdef floating *xblk = NULL
    cdef const floating *Ap
    cdef const floating *yp
    cdef Py_ssize_t i0 = lo, b, i, j, ld
    cdef int status = 0
    if copy_block:
        A = <floating *> malloc(B * n * sizeof(floating))
        ya = <floating *> malloc(B * sizeof(floating))
    if acc_local:
        Gblk = <floating *> malloc(n * n * sizeof(floating))
        xblk = <floating *> malloc(n * sizeof(floating))
    if (copy_block and (A == NULL or ya == NULL)) or (acc_local and (Gblk == NULL
                                                                     or xblk == NULL)):
        status = -1
        i0 = hi
    while i0 < hi:
        b = B if i0 + B <= hi else hi - i0
        if copy_block:
            ld = n if blk_row_major else B
            if floating is float:
                gf_shift_block_s(b, n, &X[i0, 0], rs, cs, cshift, sw + i0 if weighted else NULL,
                                 A, ld, blk_row_major, colsum if center else NULL)
            else:
                gf_shift_block_d(b, n, &X[i0, 0], rs, cs, cshift, sw + i0 if weighted else NULL,
                                 A, ld, blk_row_major, colsum if center else NULL)
            if floating is float:
                gf_shift_target_s(b, &y[i0], sw + i0 if weighted else NULL, cy, ya, sums)
            else:
                gf_shift_target_d(b, &y[i0], sw + i0 if weighted else NULL, cy, ya, sums)
            Ap = A
            yp = ya
        else:
            Ap = &X[i0, 0]
            ld = rs if row_major else cs
            yp = &y[i0]
            # BLAS, not a loop: a serial sum waits on add latency (1.2 us of 1000 rows)
            sums[1] += sqnorm(<int> b, yp)

        if acc_local:
            _syrk_gemv(Ap, yp, b, n, ld, blk_row_major, own_kernel, Gblk, n, xblk, 0)
            for j in range(n):
                xty[j] += xblk[j]
                for i in range(j + 1):
                    G[j * n + i] += Gblk[j * n + i]
        else:
            _syrk_gemv(Ap, yp, b, n, ld, blk_row_major, own_kernel, <floating *> G, n,
                       <floating *> xty, 1)
        i0 += b
    free(A)
    free(ya)
    free(Gblk)
    free(xblk)
    return status


cdef void _syrk_gemv(const floating *A, const floating *yv, Py_ssize_t b, Py_ssize_t n,
                     Py_ssize_t ld, bint row_major, bint own_kernel, floating *C,
                     Py_ssize_t ldc, floating *xty, floating beta) noexcept nogil:
    # C (Fortran upper) = beta*C + A_blk^T A_blk ;  xty = beta*xty + A_blk^T y_blk.
    # A row-major block is, to Fortran, the n x b matrix A_blk^T.
    cdef Py_ssize_t i, j
    if row_major and own_kernel:
        if beta == 0:
            for j in range(n):
                xty[j] = 0
                for i in range(j + 1):
                    C[j * ldc + i] = 0
        if floating is float:
            gf_gram_rows_s(b, n, A, ld, yv, C, ldc, xty)
        else:
            gf_gram_rows_d(b, n, A, ld, yv, C, ldc, xty)
    elif row_major:
        syrk(c'U', c'N', <int> n, <int> b, <floating> 1, A, <int> ld, beta, C, <int> ldc)
        gemv(c'N', <int> n, <int> b, <floating> 1, A, <int> ld, yv, 1, beta, xty, 1)
    else:
        syrk(c'U', c'T', <int> n, <int> b, <floating> 1, A, <int> ld, beta, C, <int> ldc)
        gemv(c'T', <int> b, <int> n, <floating> 1, A, <int> ld, yv, 1, beta, xty, 1)


def solve_spd(const double[:, ::1] G, const double[::1] xty, double m, double l2,
              bint single):
    """Solve (G + m*l2*I) w = xty by Cholesky on the matrix scaled to unit diagonal (the
    same as scaling the columns of X), in float32 when ``single``, without NumPy temporaries.
    When m*l2 overflows, the system divided by m*l2 is solved instead. Returns
    ``(info, rcond, w)``: info > 0 when the matrix is not positive definite (w is then NaN),
    rcond LAPACK's estimate of the scaled matrix's reciprocal 1-norm condition number."""
    cdef Py_ssize_t n = G.shape[0], i
    cdef bint big = not isfinite(m * l2)
    cdef double shift = 1.0 if big else m * l2, scale = 1.0 / m / l2 if big else 1.0
    w_arr = np.empty(n)
    cdef double[::1] w = w_arr
    cdef double *d = <double *> malloc(n * sizeof(double))
    cdef float *Af = NULL
    cdef double *Ad = NULL
    cdef int info = 0
    cdef double rcond = 0.0
    if single:
        Af = <float *> malloc((n * n + 4 * n) * sizeof(float))
    else:
        Ad = <double *> malloc((n * n + 4 * n) * sizeof(double))
    if d == NULL or (Af == NULL and Ad == NULL):
        free(d)
        free(Af)
        free(Ad)
        raise MemoryError()
    with nogil:
        for i in range(n):
            d[i] = sqrt(G[i, i] * scale + shift)
            if d[i] == 0.0:
                d[i] = 1.0  # a zero column: the matrix stays singular and potrf says so
        if single:
            info = _factor_solve(Af, G, xty, d, scale, shift, &rcond)
        else:
            info = _factor_solve(Ad, G, xty, d, scale, shift, &rcond)
        for i in range(n):
            if info == 0:
                w[i] = (Af[n * n + i] if single else Ad[n * n + i]) / d[i]
            else:
                w[i] = NAN
    free(d)
    free(Af)
    free(Ad)
    return info, rcond, w_arr


cdef int _factor_solve(floating *buf, const double[:, ::1] G, const double[::1] xty,
                       const double *d, double scale, double shift,
                       double *rcond_out) noexcept nogil:
    # buf: n*n matrix, then rhs (n), then 3n of work (lansy/pocon); iwork separate.
    cdef Py_ssize_t n = G.shape[0], i, j
    cdef floating *A = buf
    cdef floating *rhs = buf + n * n
    cdef floating *work = rhs + n
    cdef floating anorm, rcond = 0
    cdef int info
    cdef int *iwork = <int *> malloc(n * sizeof(int))
    if iwork == NULL:
        return -1
    for i in range(n):
        for j in range(n):
            A[i * n + j] = <floating> ((G[i, j] * scale + (shift if i == j else 0.0))
                                       / (d[i] * d[j]))
        rhs[i] = <floating> (xty[i] * scale / d[i])
    anorm = lansy_one_norm(c'U', <int> n, A, <int> n, work)
    info = potrf(c'U', <int> n, A, <int> n)
    if info == 0:
        pocon(c'U', <int> n, A, <int> n, anorm, &rcond, work, iwork)
        potrs(c'U', <int> n, 1, A, <int> n, rhs, <int> n)
    free(iwork)
    rcond_out[0] = rcond
    return info


def residual_sqnorm(const floating[:, :] X, const floating[::1] y, const floating[::1] w,
                    double b):
    """||X w + b - y||^2, one pass over X (X with unit stride along one axis)."""
    cdef Py_ssize_t m = X.shape[0], n = X.shape[1]
    cdef Py_ssize_t rs = X.strides[0] // sizeof(floating), cs = X.strides[1] // sizeof(floating)
    cdef double s
    with nogil:
        if floating is float:
            s = gf_residual_sqnorm_s(m, n, &X[0, 0], rs, cs, &y[0], NULL, &w[0], b, 0)
        else:
            s = gf_residual_sqnorm_d(m, n, &X[0, 0], rs, cs, &y[0], NULL, &w[0], b, 0)
    return s


def _kernel_isa():
    """The C kernels this module runs: ``"avx2-fma"``, or ``"portable"`` (a CPU without AVX2 and
    FMA, a build for another architecture, or ``GRADFIT_PORTABLE=1`` when it was imported)."""
    return "avx2-fma" if gf_cpu_avx2() else "portable"
