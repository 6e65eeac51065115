# cython: language_level=3
"""Compiled core of the exact solver: one pass over X for the sufficient statistics, then a
Cholesky factorisation through LAPACK. Validation happens in ``normal.py``; here every routine
trusts its inputs and releases the GIL for all per-element work."""
import numpy as np

from libc.math cimport sqrt, isfinite, fabs, NAN, INFINITY
from libc.stdlib cimport malloc, calloc, free
from cython.parallel cimport prange

from ._blas cimport floating, syrk, gemv, potrf, potrs, pocon, lansy_one_norm, sqnorm
from ._kernels cimport (gf_residual_sqnorm_d, gf_residual_sqnorm_s, gf_shift_block_d,
                        gf_shift_block_s, gf_gram_available, gf_gram_rows_d, gf_gram_rows_s,
                        gf_gram_rows_wide_d,
                        gf_default_threads, gf_shift_target_d, gf_shift_target_s,
                        gf_refine_scratch_size, gf_refine_pass_d)
from ._kernels cimport gf_cpu_avx2, gf_cpu_avx512
from cpython.exc cimport PyErr_CheckSignals

# Rows per block: narrow rows in L2-sized blocks, so that X^T y and the column sums read each
# block from cache after the Gram kernel; wide rows (BLAS syrk) in few large blocks, because
# syrk's read-modify-write of the n x n result costs per call (benchmarks/README.md).
cdef Py_ssize_t _L2_BLOCK_BYTES = 256 * 1024
cdef Py_ssize_t _MIN_L2_BLOCK_ROWS = 256
cdef Py_ssize_t _MIN_OWN_KERNEL_BLOCK_ROWS = 16
cdef Py_ssize_t _WIDE_BLOCK_BYTES = 16 * 1024 * 1024
cdef Py_ssize_t _MIN_WIDE_BLOCK_ROWS = 1024
# ... but no block of more than ~2^30 flops (b n^2), 256 rows at least: Ctrl-C is polled
# between blocks, and one syrk call must stay well under the 0.5 s promised on a busy machine.
cdef double _MAX_WIDE_BLOCK_FLOPS = 1073741824.0
cdef Py_ssize_t _MIN_CAPPED_BLOCK_ROWS = 256

# Rows up to this many bytes go to gradfit's own Gram kernel (csrc/gf_gram.h), faster than BLAS
# syrk up to there; wider rows leave too few rows per L1 chunk and syrk's packing pays off.
cdef Py_ssize_t _GRAM_KERNEL_MAX_ROW_BYTES = 1600
# Passes of at least this many multiply-adds (m n^2) use the kernel's AVX-512 version where
# the CPU has it: 1.4-1.5x the flop rate of AVX2 at n = 32-200, but short calls (1000 x 10)
# ran slower, paying for the wide units' warm-up.
cdef double _WIDE_GRAM_WORK = 16777216.0


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
        if b > _MAX_WIDE_BLOCK_FLOPS / (<double> n * n):
            b = <Py_ssize_t> (_MAX_WIDE_BLOCK_FLOPS / (<double> n * n))
            if b < _MIN_CAPPED_BLOCK_ROWS:
                b = _MIN_CAPPED_BLOCK_ROWS
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
    # the last line against a caller that skipped as_float_matrix: other layouts (negative
    # strides, for one) would be read out of place
    if not ((X.strides[1] == itemsize and X.strides[0] >= n * itemsize)
            or (X.strides[0] == itemsize and X.strides[1] >= m * itemsize)):
        raise ValueError(f"gram_pass: X must have a unit stride along one axis and a leading "
                         f"dimension of at least its length, got strides "
                         f"({X.strides[0]}, {X.strides[1]}) "
                         f"(validate it with as_float_matrix).")
    G_arr = np.zeros((n, n), dtype=np.float64)
    xty_arr = np.zeros(n, dtype=np.float64)
    shift_arr = np.zeros(n, dtype=np.float64)
    colsum_arr = np.zeros(n, dtype=np.float64)  # column sums of the shifted rows
    cdef double[:, ::1] G = G_arr
    cdef double[::1] xty = xty_arr
    cdef double[::1] shift = shift_arr
    cdef double[::1] colsum = colsum_arr
    cdef const floating *sw = &sqrt_weight[0] if sqrt_weight is not None else NULL
    cdef double scalars[3]
    cdef bint finite = _gram_into(X, &y[0], sw, center, &G[0, 0], &xty[0], &shift[0],
                                  &colsum[0], scalars)
    return finite, scalars[0], shift_arr, scalars[1], G_arr, xty_arr, scalars[2]


cdef bint _gram_into(const floating[:, :] X, const floating *y, const floating *sw,
                     bint center, double *G, double *xty, double *shift, double *colsum,
                     double *scalars) except -1:
    """gram_pass's work on a checked layout, into the caller's zeroed n x n G and n-vectors
    xty, shift (the mean of X, or zeros) and colsum (scratch); scalars receives the weight
    sum, mean_y and y^T y. Returns whether the statistics are finite; raises MemoryError, or
    the exception of a signal handler (Ctrl-C) that ran during the pass."""
    cdef Py_ssize_t m = X.shape[0], n = X.shape[1]
    cdef Py_ssize_t itemsize = sizeof(floating)
    # 0: BLAS syrk; 1: gradfit's kernel; 2: the same with AVX-512 where the CPU has it, for
    # passes long enough to pay for the vector units' warm-up (shorter ones ran slower)
    cdef int own_kernel = (gf_gram_available() and n * itemsize <= _GRAM_KERNEL_MAX_ROW_BYTES)
    if own_kernel and <double> m * n * n >= _WIDE_GRAM_WORK:
        own_kernel = 2
    cdef Py_ssize_t B = _block_rows(m, n, itemsize, own_kernel)
    cdef Py_ssize_t nblocks = (m + B - 1) // B
    cdef int nthreads = gf_default_threads(m, n) if own_kernel else 1
    if nthreads > nblocks:
        nthreads = <int> nblocks
    # The partial sums of threads 1.. (thread 0 adds into the outputs): G, xty, colsum; and
    # (ysum, yy) and a status per thread. Only threaded (large) passes need them; the small
    # scratch every pass needs (the shift in X's precision) is a calloc, because a NumPy
    # array and its memoryview cost about a microsecond, which small problems notice.
    cdef double[::1] parts
    cdef double[::1] tsums
    cdef int[::1] tstatus
    cdef double *parts_p = NULL
    cdef double *tsums_p = NULL
    cdef int *tstatus_p = NULL
    if nthreads > 1:
        parts = np.zeros((nthreads - 1) * (n * n + 2 * n), dtype=np.float64)
        tsums = np.zeros(2 * nthreads, dtype=np.float64)
        tstatus = np.zeros(nthreads, dtype=np.intc)
        parts_p = &parts[0]
        tsums_p = &tsums[0]
        tstatus_p = &tstatus[0]
    cdef double sums[2]  # sums of the shifted y and of its squares
    cdef double wsum = m, yshift = 0.0, yy = 0.0
    cdef floating cy = 0
    cdef int failed = 0
    cdef int stop = 0  # set on Ctrl-C by the thread that polls for it
    cdef bint finite
    cdef floating *cshift = <floating *> calloc(n, sizeof(floating))
    if cshift == NULL:
        raise MemoryError()
    sums[0] = 0.0
    sums[1] = 0.0
    try:
        with nogil:
            if sw != NULL:
                wsum = _weight_sum(sw, m)
            if center:
                failed = _first_block_shift(X, y, sw, B, cshift, shift, &cy)
                yshift = cy
            if not failed:
                failed = _threaded_pass(X, y, sw, B, nblocks, nthreads, center, own_kernel,
                                        cshift, cy, G, xty, colsum, sums,
                                        parts_p, tsums_p, tstatus_p, &stop)
    finally:
        free(cshift)
    if stop:
        _raise_pending()
    if failed:
        raise MemoryError()
    with nogil:
        finite = _centre(center, wsum, n, G, xty, colsum, shift, sums, &yshift, &yy)
    scalars[0] = wsum
    scalars[1] = yshift
    scalars[2] = yy
    return finite


cdef double _weight_sum(const floating *sw, Py_ssize_t k) noexcept nogil:
    """The sum of the first k weights (sw: their square roots)."""
    cdef double s = 0.0
    cdef Py_ssize_t i
    for i in range(k):
        s += <double> sw[i] * sw[i]
    return s


cdef int _first_block_shift(const floating[:, :] X, const floating *y, const floating *sw,
                            Py_ssize_t B, floating *cshift, double *shift,
                            floating *cy) noexcept nogil:
    """The centring shift: the (weighted) mean of the first B rows, a cheap, usually excellent
    estimate of the mean (unweighted if those rows weigh nothing), into cshift (X's precision,
    zero on entry), shift (the same values in float64) and *cy (y's). Returns 1 if scratch
    memory could not be allocated."""
    cdef Py_ssize_t n = X.shape[1], itemsize = sizeof(floating), i, j
    cdef Py_ssize_t rs = X.strides[0] // itemsize, cs = X.strides[1] // itemsize
    cdef double wfirst = _weight_sum(sw, B) if sw != NULL else 0.0
    cdef bint weighted_first = sw != NULL and wfirst > 0
    cdef double ysum = 0.0, wi
    cdef floating *block = <floating *> malloc(B * n * sizeof(floating))
    if block == NULL:
        return 1
    if not weighted_first:
        wfirst = B
    # the block-copy kernel with a zero shift gives the column sums (the copy is not used)
    if floating is float:
        gf_shift_block_s(B, n, &X[0, 0], rs, cs, cshift, sw if weighted_first else NULL,
                         block, n, True, shift)
    else:
        gf_shift_block_d(B, n, &X[0, 0], rs, cs, cshift, sw if weighted_first else NULL,
                         block, n, True, shift)
    free(block)
    for i in range(B):
        wi = <double> sw[i] * sw[i] if weighted_first else 1.0
        ysum += wi * y[i]
    for j in range(n):
        cshift[j] = <floating> (shift[j] / wfirst)
        shift[j] = cshift[j]
    cy[0] = <floating> (ysum / wfirst)
    return 0


cdef int _threaded_pass(const floating[:, :] X, const floating *y, const floating *sw,
                        Py_ssize_t B, Py_ssize_t nblocks, int nthreads, bint center,
                        int own_kernel, const floating *cshift, floating cy, double *G,
                        double *xty, double *colsum, double *sums, double *parts,
                        double *tsums, int *tstatus, int *stop) noexcept nogil:
    """The pass over every row, added to G (its lower triangle, mirrored at the end), xty,
    colsum and sums (see _gram_range): on nthreads contiguous ranges of the nblocks blocks,
    threads 1.. into their own partial sums (parts, tsums: zeros), added in thread order.
    Returns 1 if a thread could not allocate its scratch memory."""
    cdef Py_ssize_t m = X.shape[0], n = X.shape[1], part = n * n + 2 * n
    cdef Py_ssize_t i, j, t, lo, hi
    cdef double *gp
    cdef double *xp
    cdef double *cp
    cdef int failed = 0
    if nthreads == 1:
        failed = _gram_range(X, y, sw, 0, m, B, center, own_kernel, cshift, cy, G, xty,
                             colsum, sums, True, stop) != 0
    else:
        # One iteration per range, whatever size of team OpenMP grants (a smaller one, under
        # OMP_THREAD_LIMIT say, must still cover every range).
        for t in prange(nthreads, schedule='static', chunksize=1, num_threads=nthreads):
            lo = (nblocks * t // nthreads) * B
            hi = (nblocks * (t + 1) // nthreads) * B
            if hi > m:
                hi = m
            if t == 0:
                gp = G
                xp = xty
                cp = colsum
            else:
                gp = parts + (t - 1) * part
                xp = gp + n * n
                cp = xp + n
            tstatus[t] = _gram_range(X, y, sw, lo, hi, B, center, own_kernel, cshift, cy,
                                     gp, xp, cp, tsums + 2 * t, t == 0, stop)
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
                    G[j * n + i] += parts[(t - 1) * part + j * n + i]
    # G holds the Fortran upper triangle, i.e. the C lower triangle: mirror it.
    for j in range(n):
        for i in range(j):
            G[i * n + j] = G[j * n + i]
    return failed


cdef bint _centre(bint center, double wsum, Py_ssize_t n, double *G, double *xty,
                  const double *colsum, double *shift, const double *sums, double *yshift,
                  double *yy) noexcept nogil:
    """Shifted sums -> centred sums about the true mean (delta = colsum / wsum is small), when
    centring; yy from sums. Returns whether the statistics are finite."""
    cdef double ysum = sums[0]
    cdef Py_ssize_t i, j
    cdef bint finite
    yy[0] = sums[1]
    finite = isfinite(yy[0])
    if center and wsum > 0.0:
        for i in range(n):
            for j in range(n):
                G[i * n + j] -= colsum[i] * colsum[j] / wsum
            xty[i] -= colsum[i] * (ysum / wsum)
            shift[i] += colsum[i] / wsum
        yy[0] -= ysum * ysum / wsum
        yshift[0] += ysum / wsum
    finite = isfinite(yy[0]) and finite
    for i in range(n):
        finite = finite and isfinite(G[i * n + i]) and isfinite(shift[i])
    return finite


# Work (b n (n + 8) for b rows: the Gram flops, plus a per-element cost that matters for
# narrow rows) between two polls for Ctrl-C: ~2^28, about 10 ms unloaded.
cdef double _POLL_WORK = 268435456.0
_pending = []


cdef int _poll_signals() noexcept with gil:
    """1 if a signal handler raised (its exception is kept for _raise_pending), else 0."""
    try:
        PyErr_CheckSignals()
    except BaseException as exc:
        _pending.append(exc)
        return 1
    return 0


def _raise_pending():
    exc = _pending.pop() if _pending else KeyboardInterrupt()
    _pending.clear()
    raise exc


cdef int _gram_range(const floating[:, :] X, const floating *y, const floating *sw,
                     Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t B, bint center,
                     int own_kernel, const floating *cshift, floating cy, double *G,
                     double *xty, double *colsum, double *sums, bint poll,
                     int *stop) noexcept nogil:
    """Add rows [lo, hi) of the pass, in blocks of B rows, to G (n x n, lower triangle of the
    row-major array), xty and colsum, and their sum of (shifted, weighted) y and of its squares
    to sums[0], sums[1]. Between blocks, the polling thread (``poll``) checks for Ctrl-C and
    sets ``*stop``, which every thread obeys. Returns -1 if scratch memory could not be
    allocated."""
    cdef Py_ssize_t n = X.shape[1], itemsize = sizeof(floating)
    cdef Py_ssize_t rs = X.strides[0] // itemsize, cs = X.strides[1] // itemsize
    cdef bint row_major = (cs == 1)
    cdef bint weighted = sw != NULL
    # The own kernel reads rows: column-major X is copied, block by block, into row-major
    # buffers for it even without centring or weights (as fast as syrk in place at one
    # thread, and the pass splits across threads where syrk does not).
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
    cdef double since_poll = 0.0
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
    while i0 < hi and not stop[0]:
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
            # BLAS, not a loop: a serial sum waits on the latency of each addition
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
        since_poll += <double> b * n * (n + 8)
        if poll and since_poll >= _POLL_WORK and i0 < hi:
            since_poll = 0
            if _poll_signals():
                stop[0] = 1
    free(A)
    free(ya)
    free(Gblk)
    free(xblk)
    return status


cdef void _syrk_gemv(const floating *A, const floating *yv, Py_ssize_t b, Py_ssize_t n,
                     Py_ssize_t ld, bint row_major, int own_kernel, floating *C,
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
        elif own_kernel == 2:
            gf_gram_rows_wide_d(b, n, A, ld, yv, C, ldc, xty)
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
    ``(info, rcond, w, factor, d)``: info > 0 when the matrix is not positive definite (w is
    then NaN), rcond LAPACK's estimate of the scaled matrix's reciprocal 1-norm condition
    number; in float64, ``factor`` (n x n, its C lower triangle LAPACK's upper Cholesky
    factor U of D^-1 (G + m*l2*I) D^-1 / s, s = m*l2 when it overflows and 1 otherwise) and
    the scaling ``d`` serve :func:`refine_loop`; both are None in float32."""
    cdef Py_ssize_t n = G.shape[0], i
    cdef bint big = not isfinite(m * l2)
    cdef double shift = 1.0 if big else m * l2, scale = 1.0 / m / l2 if big else 1.0
    w_arr = np.empty(n)
    d_arr = np.empty(n)
    buf_arr = None if single else np.empty(n * n + 4 * n)
    cdef double[::1] w = w_arr
    cdef double[::1] d = d_arr
    cdef double[::1] bufd
    cdef float *Af = NULL
    cdef double *Ad = NULL
    cdef int info = 0
    cdef double rcond = 0.0
    if single:
        Af = <float *> malloc((n * n + 4 * n) * sizeof(float))
        if Af == NULL:
            raise MemoryError()
    else:
        bufd = buf_arr
        Ad = &bufd[0]
    with nogil:
        for i in range(n):
            d[i] = sqrt(G[i, i] * scale + shift)
            if d[i] == 0.0:
                d[i] = 1.0  # a zero column: the matrix stays singular and potrf says so
        if single:
            info = _factor_solve(Af, n, &G[0, 0], &xty[0], &d[0], scale, shift, &rcond)
        else:
            info = _factor_solve(Ad, n, &G[0, 0], &xty[0], &d[0], scale, shift, &rcond)
        for i in range(n):
            if info == 0:
                w[i] = (Af[n * n + i] if single else Ad[n * n + i]) / d[i]
            else:
                w[i] = NAN
    free(Af)
    if info < 0:
        raise MemoryError()
    if single:
        return info, rcond, w_arr, None, None
    return info, rcond, w_arr, buf_arr[:n * n].reshape(n, n), d_arr


# Rows of the refinement pass between two checks for Ctrl-C: about 2^20 elements (a few
# milliseconds), so that an interrupt is seen within a small fraction of a second.
cdef Py_ssize_t _SIGNAL_CHECK_ELEMENTS = 1 << 20


_REFINE_ISA = {"portable": 0, "avx2": 1, "best": 2}


def refine_pass(const double[:, :] X, const double[::1] y, const double[::1] weights,
                const double[::1] w, double offset, str isa="best"):
    """The residual r = y - X w - offset and its products, in double-double (gf_refine.h):
    returns ``(g, s, rss)`` with g = X^T W r (n pairs as an (2, n) array: hi, lo), s = 1^T W r
    (a pair) and rss = r^T W r; W the row weights (all ones when ``weights`` is None). One pass
    over X, checking for Ctrl-C between row blocks. ``isa`` caps the kernel's instruction set
    (``"portable"``, ``"avx2"``, ``"best"``: AVX-512F where the CPU has it); every choice
    gives the same bits."""
    cdef int isa_max = _REFINE_ISA[isa]
    cdef Py_ssize_t m = X.shape[0], n = X.shape[1], i0, b
    cdef Py_ssize_t rs = X.strides[0] // sizeof(double), cs = X.strides[1] // sizeof(double)
    cdef Py_ssize_t rows = _SIGNAL_CHECK_ELEMENTS // n
    if rows < 64:
        rows = 64
    g_arr = np.zeros((2, n))
    sums_arr = np.zeros(3)
    scratch_arr = np.empty(gf_refine_scratch_size(n))
    cdef double[:, ::1] g = g_arr
    cdef double[::1] sums = sums_arr
    cdef double[::1] scratch = scratch_arr
    cdef const double *wt = &weights[0] if weights is not None else NULL
    i0 = 0
    while i0 < m:
        b = rows if i0 + rows <= m else m - i0
        with nogil:
            gf_refine_pass_d(b, n, &X[i0, 0], rs, cs, &y[i0], wt + i0 if wt != NULL else NULL,
                             &w[0], offset, &g[0, 0], &g[1, 0], &sums[0], &scratch[0],
                             isa_max)
        i0 += b
        if i0 < m:
            PyErr_CheckSignals()  # raises KeyboardInterrupt after Ctrl-C
    return g_arr, (sums_arr[0], sums_arr[1]), sums_arr[2]


cdef int _factor_solve(floating *buf, Py_ssize_t n, const double *G, const double *xty,
                       const double *d, double scale, double shift,
                       double *rcond_out) noexcept nogil:
    # buf: n*n matrix, then rhs (n), then 3n of work (lansy/pocon); iwork separate.
    # G: n x n, row-major.
    cdef Py_ssize_t i, j
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
            A[i * n + j] = <floating> ((G[i * n + j] * scale + (shift if i == j else 0.0))
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


def _refine_isa():
    """The refinement pass's instruction set: ``"avx512f"`` (AVX2 kernels plus a CPU with
    AVX-512F), else what :func:`_kernel_isa` says."""
    return "avx512f" if gf_cpu_avx512() else _kernel_isa()


cdef double _EPS = 2.220446049250313e-16
cdef double _TINY = 2.2250738585072014e-308


cdef int _refine_core(const double[:, :] X, const double *y, const double *wt, double *w,
                      double *b, const double *mean_x, double m, double l2,
                      const double *U, const double *d, double scale, object solve,
                      double contraction, int max_steps, double stop, double *work,
                      double *err_out, double *rss_out, int *steps_out) except -1:
    """The refinement loop of normal.py's _Rows.refine (documented there), on C arrays: w
    (n) and *b are updated in place. The correction is solved with the Cholesky factor U and
    scaling d (solve_spd's, ``solve`` None) or by the Python callable ``solve`` (the QR
    fallback's). ``mean_x`` NULL: no intercept. work: 3n + 3 + gf_refine_scratch_size(n)
    doubles. Returns 1 when it converged or stopped contracting at a tiny correction, 0
    when the corrections do not contract (the factorisation is too inaccurate)."""
    cdef Py_ssize_t n = X.shape[1], m_rows = X.shape[0], j, i0, bsz
    cdef Py_ssize_t rs = X.strides[0] // sizeof(double), cs = X.strides[1] // sizeof(double)
    cdef Py_ssize_t rows = _SIGNAL_CHECK_ELEMENTS // n
    cdef double *gh = work
    cdef double *gl = gh + n
    cdef double *x = gl + n
    cdef double *sums = x + n  # 3
    cdef double *scratch = sums + 3
    cdef double prev = INFINITY, err = NAN, rss = NAN, s, db, size, rel, top
    cdef int steps = 0, _step
    cdef double[::1] xv
    if rows < 64:
        rows = 64
    for _step in range(max_steps):
        for j in range(n):
            gh[j] = 0.0
            gl[j] = 0.0
        sums[0] = sums[1] = sums[2] = 0.0
        i0 = 0
        while i0 < m_rows:
            bsz = rows if i0 + rows <= m_rows else m_rows - i0
            with nogil:
                gf_refine_pass_d(bsz, n, &X[i0, 0], rs, cs, y + i0,
                                 wt + i0 if wt != NULL else NULL, w, b[0], gh, gl, sums,
                                 scratch, 2)
            i0 += bsz
            if i0 < m_rows:
                PyErr_CheckSignals()  # raises KeyboardInterrupt after Ctrl-C
        s = sums[0] + sums[1]
        rss = sums[2]
        # rhs (into x) = X^T W r - m l2 w (- mean_x s with an intercept), the same operations
        # in the same order as NumPy's elementwise ones
        for j in range(n):
            x[j] = (gh[j] + gl[j]) - (m * l2) * w[j]
            if mean_x != NULL:
                x[j] = x[j] - mean_x[j] * s
        if solve is None:
            for j in range(n):
                x[j] = x[j] * scale / d[j]
            potrs(c'U', <int> n, 1, <double *> U, <int> n, x, <int> n)
            for j in range(n):
                x[j] = x[j] / d[j]
        else:
            rhs_arr = np.empty(n)
            xv = rhs_arr
            for j in range(n):
                xv[j] = x[j]
            xv = np.ascontiguousarray(solve(rhs_arr), dtype=np.float64)
            for j in range(n):
                x[j] = xv[j]
        db = 0.0
        if mean_x != NULL:
            for j in range(n):
                db += mean_x[j] * x[j]
            db = s / m - db
        size = 0.0
        top = 0.0
        for j in range(n):
            if fabs(w[j]) > size:
                size = fabs(w[j])
            if fabs(x[j]) > top or x[j] != x[j]:
                top = fabs(x[j]) if x[j] == x[j] else NAN
        if size < _TINY:
            size = _TINY
        rel = top / size
        if not isfinite(rel):
            return 0
        if rel > 0.5 * prev and rel > 16 * _EPS:
            # not contracting: the first correction was noise too, unless already tiny
            if prev > 1e-8:
                return 0
            break
        for j in range(n):
            w[j] += x[j]
        b[0] += db
        steps += 1
        if steps > 1 and rel / prev > contraction:
            contraction = rel / prev
        err = rel * contraction if rel * contraction > _EPS else _EPS
        if rel <= 4 * _EPS or rel * contraction <= stop * _EPS:
            break
        prev = rel
    err_out[0] = err
    rss_out[0] = rss
    steps_out[0] = steps
    return 1


def refine_loop(const double[:, :] X, const double[::1] y, const double[::1] weights,
                coef, double intercept, mean_x, double m, double l2, double contraction,
                int max_steps, double stop, const double[:, ::1] U=None,
                const double[::1] d=None, double scale=1.0, solve=None):
    """normal.py's _Rows.refine: corrected semi-normal equations from ``coef`` and
    ``intercept`` (``mean_x`` None: no intercept), the correction solved with solve_spd's
    factor ``U`` and scaling ``d`` or by the callable ``solve``. Returns ``(w, b, steps,
    forward-error estimate, rss)`` or None when the corrections do not contract."""
    cdef Py_ssize_t n = X.shape[1]
    w_arr = np.array(coef, dtype=np.float64)
    cdef double[::1] w = w_arr
    cdef double[::1] mx
    cdef const double *mxp = NULL
    if mean_x is not None:
        mx = np.ascontiguousarray(mean_x, dtype=np.float64)
        mxp = &mx[0]
    work_arr = np.empty(3 * n + 3 + gf_refine_scratch_size(n))
    cdef double[::1] work = work_arr
    cdef double b = intercept, err = NAN, rss = NAN
    cdef int steps = 0
    if solve is None and (U is None or d is None):
        raise ValueError("refine_loop: give the factor U and d, or solve")
    if not _refine_core(X, &y[0], &weights[0] if weights is not None else NULL, &w[0], &b,
                        mxp, m, l2, &U[0, 0] if U is not None else NULL,
                        &d[0] if d is not None else NULL, scale, solve, contraction,
                        max_steps, stop, &work[0], &err, &rss, &steps):
        return None
    return w_arr, b, steps, err, rss


# solve_plain takes arguments as they come, and only those it can use without conversion
_ndarray = np.ndarray
_float64 = np.dtype(np.float64)


def solve_plain(X, y, fit_intercept, l2, double amplification_max, double explained_min,
                double rcond_min, double rcond_min_refined, int max_steps, double stop):
    """The whole exact solve of plain float64 data in one call when nothing needs a closer
    look: the Gram pass, the scaled Cholesky solve and the tests of normal.py's
    _digits_at_risk (same constants, passed in).

    When digits are at risk but the factor is good enough to refine (rcond >=
    ``rcond_min_refined``), the solution is refined here with it (``_refine_core``, at most
    ``max_steps`` steps, ``stop`` as normal.py's REFINEMENT_STOP): the same loop the general
    path runs, without its Python around it.

    Returns ``((coef, intercept, rcond, objective, refinement steps, forward-error
    estimate), None)`` on success. ``(None, None)`` when
    the arguments are not all plain (X and y float64 ndarrays, not subclasses, in a layout
    the kernels read in place, of matching nonzero sizes; ``fit_intercept`` a bool; ``l2`` a
    finite float or int >= 0): the caller validates and converts them. ``(None,
    statistics)`` when the data are not finite, the matrix is not positive definite or digits
    are at risk, the statistics being gram_pass's ``(finite, m, mean_x, mean_y, G, xty,
    yty)``, from which the caller takes the general path. ``coef`` is read-only."""
    cdef double lam
    if not (type(X) is _ndarray and type(y) is _ndarray
            and (fit_intercept is True or fit_intercept is False)):
        return None, None
    if type(l2) is float:
        lam = l2
    elif type(l2) is int and 0 <= l2 <= 9007199254740992:
        lam = l2
    else:
        return None, None
    if not (lam >= 0.0 and isfinite(lam)) or X.dtype is not _float64 or \
            y.dtype is not _float64 or X.ndim != 2 or y.ndim != 1:
        return None, None
    cdef const double[:, :] Xv = X
    cdef const double[:] ys = y
    cdef Py_ssize_t m = Xv.shape[0], n = Xv.shape[1], i
    cdef Py_ssize_t rs = Xv.strides[0], cs = Xv.strides[1], item = sizeof(double)
    if m == 0 or n == 0 or ys.shape[0] != m or (m > 1 and ys.strides[0] != item):
        return None, None
    # the layouts as_float_matrix passes through unchanged
    if not ((<size_t> &Xv[0, 0]) % item == 0 and rs % item == 0 and cs % item == 0 and
            ((cs == item and rs >= n * item)
             or (rs == item and cs >= m * item and not (cs == item and m == 1)))):
        return None, None
    cdef bint center = fit_intercept
    # one buffer: G, xty, mean_x, colsum, then the factorisation's matrix, rhs and work, d
    cdef double *buf = <double *> calloc(2 * n * n + 9 * n, sizeof(double))
    if buf == NULL:
        raise MemoryError()
    cdef double *G = buf
    cdef double *xty = G + n * n
    cdef double *mean_x = xty + n
    cdef double *work = mean_x + 2 * n
    cdef double *d = work + n * n + 4 * n
    cdef double scalars[3]
    cdef bint finite
    cdef int info = 0
    cdef double mm, my, yy, rcond = 0.0, cxty = 0.0, cc = 0.0, b, terms, rss
    cdef double tiny_limit
    cdef bint plain, at_risk
    cdef double[::1] coefv
    cdef double *coef
    cdef double level, err = 0.0, ww = 0.0
    cdef int steps = 0
    cdef double[::1] rwork
    try:
        finite = _gram_into(Xv, &ys[0], <const double *> NULL, center, G, xty, mean_x,
                            mean_x + n, scalars)
        mm, my, yy = scalars[0], scalars[1], scalars[2]
        b, terms = my, fabs(my)
        # squares near the subnormals (values below about 1e-146) lost their relative
        # precision, and zero sums of squares (squares that underflowed to zero, or a
        # constant column): the general path decides (normal.py's _underflows)
        tiny_limit = 2.2250738585072014e-308 / 2.220446049250313e-16 * mm
        plain = finite and yy >= tiny_limit and isfinite(mm * lam)
        for i in range(n):
            if G[i * n + i] < tiny_limit or (xty[i] != 0.0 and fabs(xty[i]) < tiny_limit):
                plain = False
            # a column constant up to the centring's rounding (_stats.constant_columns): the
            # general path drops it
            level = mm * (16 * _EPS * mean_x[i]) * (16 * _EPS * mean_x[i])
            if center and G[i * n + i] <= level and level >= _TINY:
                plain = False
        if plain:
            coef_arr = np.empty(n)
            coefv = coef_arr
            coef = &coefv[0]
            with nogil:
                for i in range(n):
                    d[i] = sqrt(G[i * n + i] + mm * lam)
                info = _factor_solve(work, n, G, xty, d, 1.0, mm * lam, &rcond)
                if info == 0:
                    for i in range(n):
                        coef[i] = work[n * n + i] / d[i]
                        cxty += coef[i] * xty[i]
                        cc += coef[i] * coef[i]
                        if center:
                            terms += fabs(mean_x[i] * coef[i])
                            b -= mean_x[i] * coef[i]
            rss = yy - cxty - mm * lam * cc
            at_risk = rcond < rcond_min or (yy > 0 and rss > (1.0 - explained_min) * yy) \
                or (center and terms > amplification_max * fabs(b))
            err = _EPS / rcond if rcond > 0 else INFINITY
            if info == 0 and at_risk and rcond >= rcond_min_refined:
                if not center:
                    b = 0.0
                rwork = np.empty(3 * n + 3 + gf_refine_scratch_size(n))
                plain = _refine_core(Xv, &ys[0], NULL, coef, &b, mean_x if center else NULL,
                                     mm, lam, work, d, 1.0, None,
                                     min(0.5, n * _EPS / rcond), max_steps, stop, &rwork[0],
                                     &err, &rss, &steps) == 1
                for i in range(n):
                    ww += coef[i] * coef[i]
                cc = ww
            else:
                plain = info == 0 and not at_risk
        if plain:
            if rss < 0.0:
                rss = 0.0
            coef_arr.flags.writeable = False
            return (coef_arr, (b if center else 0.0), rcond,
                    rss / (2 * mm) + (0.5 * lam * cc if lam != 0 else 0.0), steps, err), None
        G_arr = np.empty((n, n))
        xty_arr = np.empty(n)
        mean_arr = np.empty(n)
        _copy_out(G, n * n, G_arr)
        _copy_out(xty, n, xty_arr)
        _copy_out(mean_x, n, mean_arr)
        return None, (finite, mm, mean_arr, my, G_arr, xty_arr, yy)
    finally:
        free(buf)


cdef void _copy_out(const double *src, Py_ssize_t k, object dst):
    cdef double[::1] out = dst.reshape(-1)
    cdef Py_ssize_t i
    for i in range(k):
        out[i] = src[i]
