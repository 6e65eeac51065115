/* Type-generic body of gf_kernels.c, included once per precision with
 *   REAL: the element type of X, y and w;  SFX(name): name with the precision suffix.
 * Accumulation across blocks and threads is in double; within one block (at most
 * GF_ROW_BLOCK_ROWS rows, or GF_BLOCK_BYTES of a column-major X) it is in REAL, which keeps
 * float32 sums accurate to about block-length * eps instead of m * eps. */

/* Software prefetch of rows [i, i+4) of a row-major X that has `avail` rows from X onwards.
 * The hardware prefetcher loses track of four interleaved short rows (n ~ 100) and the pass
 * then runs at a third of the memory bandwidth; asking for the rows GF_PREFETCH_ROWS ahead
 * restores it. */
static inline void SFX(prefetch_rows)(const REAL *X, gf_int rs, gf_int n, gf_int i,
                                      gf_int avail)
{
    if (i + 4 > avail) return;
    if (rs == n) {
        const char *p = (const char *)(X + i * rs);
        for (size_t k = 0; k < 4 * (size_t)n * sizeof(REAL); k += 64) __builtin_prefetch(p + k);
    } else {
        for (gf_int r = i; r < i + 4; r++) {
            const char *p = (const char *)(X + r * rs);
            for (size_t k = 0; k < (size_t)n * sizeof(REAL); k += 64) __builtin_prefetch(p + k);
        }
    }
}

/* a[k] = x_k . w for four rows (the omp simd reduction vectorises over j). */
static inline void SFX(dot4)(gf_int n, const REAL *x0, const REAL *x1, const REAL *x2,
                             const REAL *x3, const REAL *w, REAL *a)
{
    REAL a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+:a0, a1, a2, a3)
    for (gf_int j = 0; j < n; j++) {
        a0 += x0[j] * w[j];
        a1 += x1[j] * w[j];
        a2 += x2[j] * w[j];
        a3 += x3[j] * w[j];
    }
    a[0] = a0; a[1] = a1; a[2] = a2; a[3] = a3;
}

/* Row-major block: residuals and X_blk^T (sw r) in one sweep, four rows at a time (their
 * dot products with w, then their contribution to the gradient while they are still in L1).
 * gblk (REAL, n) and s (REAL, 2: sum sw r, sum sw r^2) are accumulated into; sw (row weights)
 * may be NULL, meaning all ones. */
GF_BODY void SFX(blk_grad_rows_body)(gf_int b, gf_int avail, gf_int n, const REAL *X,
                                     gf_int rs, const REAL *y, const REAL *sw,
                                     const REAL *w, REAL offset, REAL *gblk, REAL *s)
{
    REAL s0 = 0, s1 = 0;
    gf_int i = 0;
    for (; i + 4 <= b; i += 4) {
        const REAL *x0 = X + i * rs, *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
        SFX(prefetch_rows)(X, rs, n, i + GF_PREFETCH_ROWS, avail);
        REAL a[4];
        SFX(dot4)(n, x0, x1, x2, x3, w, a);
        REAL a0 = a[0] + offset, a1 = a[1] + offset, a2 = a[2] + offset, a3 = a[3] + offset;
        if (y) { a0 -= y[i]; a1 -= y[i + 1]; a2 -= y[i + 2]; a3 -= y[i + 3]; }
        REAL v0 = a0, v1 = a1, v2 = a2, v3 = a3;
        if (sw) { v0 *= sw[i]; v1 *= sw[i + 1]; v2 *= sw[i + 2]; v3 *= sw[i + 3]; }
        /* a tree, not a chain of FMAs into gblk: the loop-carried dependency through gblk[j]
         * is then one addition per four rows */
#pragma omp simd
        for (gf_int j = 0; j < n; j++)
            gblk[j] += (x0[j] * v0 + x1[j] * v1) + (x2[j] * v2 + x3[j] * v3);
        s0 += (v0 + v1) + (v2 + v3);
        s1 += (v0 * a0 + v1 * a1) + (v2 * a2 + v3 * a3);
    }
    for (; i < b; i++) {
        const REAL *x0 = X + i * rs;
        REAL a0 = 0;
#pragma omp simd reduction(+:a0)
        for (gf_int j = 0; j < n; j++) a0 += x0[j] * w[j];
        a0 += offset;
        if (y) a0 -= y[i];
        const REAL v0 = sw ? sw[i] * a0 : a0;
#pragma omp simd
        for (gf_int j = 0; j < n; j++) gblk[j] += x0[j] * v0;
        s0 += v0;
        s1 += v0 * a0;
    }
    s[0] += s0;
    s[1] += s1;
}
GF_DISPATCH(static, SFX(blk_grad_rows), SFX(blk_grad_rows_body),
            (gf_int b, gf_int avail, gf_int n, const REAL *X, gf_int rs, const REAL *y,
            const REAL *sw, const REAL *w, REAL offset, REAL *gblk, REAL *s),
            (b, avail, n, X, rs, y, sw, w, offset, gblk, s))

/* Column-major: ask for the next block's segment of column c while this block works. */
static inline void SFX(prefetch_segment)(const REAL *c, gf_int b, gf_int avail)
{
    gf_int len = avail - b < b ? avail - b : b;
    const char *p = (const char *)(c + b);
    for (size_t k = 0; (gf_int)k < len * (gf_int)sizeof(REAL); k += 64) __builtin_prefetch(p + k);
}

/* u[0..b) = X_blk d + offset - y_blk  (y may be NULL) */
GF_BODY void SFX(blk_matvec_body)(gf_int b, gf_int avail, gf_int n, const REAL *X,
                                  gf_int rs, gf_int cs, const REAL *y, const REAL *d,
                                  REAL offset, REAL *u)
{
    if (cs == 1) {
        gf_int i = 0;
        for (; i + 4 <= b; i += 4) {
            const REAL *x0 = X + i * rs, *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
            SFX(prefetch_rows)(X, rs, n, i + GF_PREFETCH_ROWS, avail);
            SFX(dot4)(n, x0, x1, x2, x3, d, u + i);
            u[i] += offset; u[i + 1] += offset; u[i + 2] += offset; u[i + 3] += offset;
        }
        for (; i < b; i++) {
            const REAL *x0 = X + i * rs;
            REAL a0 = 0;
#pragma omp simd reduction(+:a0)
            for (gf_int j = 0; j < n; j++) a0 += x0[j] * d[j];
            u[i] = a0 + offset;
        }
    } else {
        for (gf_int i = 0; i < b; i++) u[i] = offset;
        gf_int j = 0;
        for (; j + 4 <= n; j += 4) {
            const REAL *c0 = X + j * cs, *c1 = c0 + cs, *c2 = c1 + cs, *c3 = c2 + cs;
            const REAL d0 = d[j], d1 = d[j + 1], d2 = d[j + 2], d3 = d[j + 3];
            SFX(prefetch_segment)(c0, b, avail);
            SFX(prefetch_segment)(c1, b, avail);
            SFX(prefetch_segment)(c2, b, avail);
            SFX(prefetch_segment)(c3, b, avail);
#pragma omp simd
            for (gf_int i = 0; i < b; i++)
                u[i] += (c0[i] * d0 + c1[i] * d1) + (c2[i] * d2 + c3[i] * d3);
        }
        for (; j < n; j++) {
            const REAL *c0 = X + j * cs;
            const REAL d0 = d[j];
            SFX(prefetch_segment)(c0, b, avail);
#pragma omp simd
            for (gf_int i = 0; i < b; i++) u[i] += c0[i] * d0;
        }
    }
    if (y)
        for (gf_int i = 0; i < b; i++) u[i] -= y[i];
}
GF_DISPATCH(static, SFX(blk_matvec), SFX(blk_matvec_body),
            (gf_int b, gf_int avail, gf_int n, const REAL *X, gf_int rs, gf_int cs,
            const REAL *y, const REAL *d, REAL offset, REAL *u),
            (b, avail, n, X, rs, cs, y, d, offset, u))

/* Column-major block: gblk[0..n) += X_blk^T r, one dot product per column (from L2). */
GF_BODY void SFX(blk_rmatvec_cols_body)(gf_int b, gf_int n, const REAL *X, gf_int cs,
                                        const REAL *r, REAL *gblk)
{
    gf_int j = 0;
    for (; j + 4 <= n; j += 4) {
        const REAL *c0 = X + j * cs, *c1 = c0 + cs, *c2 = c1 + cs, *c3 = c2 + cs;
        REAL a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+:a0, a1, a2, a3)
        for (gf_int i = 0; i < b; i++) {
            a0 += c0[i] * r[i];
            a1 += c1[i] * r[i];
            a2 += c2[i] * r[i];
            a3 += c3[i] * r[i];
        }
        gblk[j] += a0; gblk[j + 1] += a1; gblk[j + 2] += a2; gblk[j + 3] += a3;
    }
    for (; j < n; j++) {
        const REAL *c0 = X + j * cs;
        REAL a0 = 0;
#pragma omp simd reduction(+:a0)
        for (gf_int i = 0; i < b; i++) a0 += c0[i] * r[i];
        gblk[j] += a0;
    }
}
GF_DISPATCH(static, SFX(blk_rmatvec_cols), SFX(blk_rmatvec_cols_body),
            (gf_int b, gf_int n, const REAL *X, gf_int cs, const REAL *r, REAL *gblk),
            (b, n, X, cs, r, gblk))

/* s += (sum sw r, sum sw r^2); with scale, r becomes sw r (for the gradient sweep). */
static void SFX(vec_sums)(gf_int b, REAL *r, const REAL *sw, int scale, REAL *s)
{
    REAL s0 = 0, s1 = 0;
    if (sw) {
        for (gf_int i = 0; i < b; i++) {
            const REAL v = sw[i] * r[i];
            s0 += v;
            s1 += v * r[i];
            if (scale) r[i] = v;
        }
    } else {
        for (gf_int i = 0; i < b; i++) { s0 += r[i]; s1 += r[i] * r[i]; }
    }
    s[0] += s0;
    s[1] += s1;
}

/* Blocks [lo, hi) of a pass: per-block sums in REAL, added into the double partials acc
 * (n gradient entries, then sum r and sum r^2). scratch holds B + n + 2 REALs. */
static void SFX(pass_blocks)(gf_int lo, gf_int hi, gf_int B, gf_int m, gf_int n, const REAL *X,
                             gf_int rs, gf_int cs, const REAL *y, const REAL *sw,
                             const REAL *w, REAL offset, int want_grad, double *acc,
                             REAL *scratch)
{
    REAL *u = scratch, *gblk = u + B, *s = gblk + n;
    /* w NULL (objective only) means w = 0: the same sweeps over no columns give the residuals
     * offset - y with the same summation order, hence the same sums as w = 0 for finite X,
     * without reading X. */
    const gf_int nx = w ? n : 0;
    for (gf_int k = lo; k < hi; k++) {
        const gf_int i0 = k * B, b = (i0 + B <= m) ? B : m - i0;
        const REAL *Xb = X + i0 * rs, *yb = y ? y + i0 : NULL, *swb = sw ? sw + i0 : NULL;
        s[0] = s[1] = 0;
        if (want_grad) {
            for (gf_int j = 0; j < n; j++) gblk[j] = 0;
            if (cs == 1) {
                GF_GRAD_ROWS(b, m - i0, n, Xb, rs, yb, swb, w, offset, gblk, s);
            } else {
                SFX(blk_matvec)(b, m - i0, n, Xb, rs, cs, yb, w, offset, u);
                SFX(vec_sums)(b, u, swb, 1, s);
                SFX(blk_rmatvec_cols)(b, n, Xb, cs, u, gblk);
            }
            for (gf_int j = 0; j < n; j++) acc[j] += (double)gblk[j];
        } else if (cs == 1) {
            /* Row-major objective pass: the fused sweep with its gradient thrown away runs at
             * memory speed (its prefetch is tuned); a separate matvec sweep measured 2.4x
             * slower at 100000 x 100. */
            for (gf_int j = 0; j < n; j++) gblk[j] = 0;
            GF_GRAD_ROWS(b, m - i0, nx, Xb, rs, yb, swb, w, offset, gblk, s);
        } else {
            SFX(blk_matvec)(b, m - i0, nx, Xb, rs, cs, yb, w, offset, u);
            SFX(vec_sums)(b, u, swb, 0, s);
        }
        acc[n] += (double)s[0];
        acc[n + 1] += (double)s[1];
    }
}

/* The pass driver: blocks of rows, a fixed contiguous range of blocks per thread, per-thread
 * double partials reduced in thread order (deterministic for a given thread count). With
 * want_grad false only sums of u = X d + offset - y are formed (sums[1] = ||u||^2). */
static void SFX(pass)(gf_int m, gf_int n, const REAL *X, gf_int rs, gf_int cs, const REAL *y,
                      const REAL *sw, const REAL *w, double offset, int want_grad, double *g,
                      double *sums, int nthreads)
{
    const gf_int B = gf_block_rows(n, sizeof(REAL), cs == 1);
    const gf_int nblk = (m + B - 1) / B;
    int nt = nthreads > 0 ? nthreads : gf_default_threads(m, n);
    if (nt > nblk) nt = (int)nblk;
    if (nt < 1) nt = 1;
    const size_t stride = (size_t)n + 2, sstride = (size_t)(B + n + 2);
    double *part = (double *)calloc((size_t)nt * stride, sizeof(double));
    REAL *scratch = (REAL *)malloc((size_t)nt * sstride * sizeof(REAL));

    if (nt == 1) {  /* no OpenMP region at all: it costs microseconds on small problems */
        SFX(pass_blocks)(0, nblk, B, m, n, X, rs, cs, y, sw, w, (REAL)offset, want_grad,
                         part, scratch);
    } else {
#pragma omp parallel num_threads(nt)
        {
            const int t = omp_get_thread_num();
            SFX(pass_blocks)(nblk * t / nt, nblk * (t + 1) / nt, B, m, n, X, rs, cs, y, sw,
                             w, (REAL)offset, want_grad, part + (size_t)t * stride,
                             scratch + (size_t)t * sstride);
        }
    }
    for (gf_int j = 0; j < n + 2; j++) {
        double v = 0;
        for (int t = 0; t < nt; t++) v += part[(size_t)t * stride + j];
        if (j < n) {
            if (want_grad) g[j] = v;
        } else {
            sums[j - n] = v;
        }
    }
    free(part);
    free(scratch);
}

void SFX(gf_residual_gradient)(gf_int m, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                               const REAL *y, const REAL *sw, const REAL *w, double offset,
                               double *g, double *sums, int nthreads)
{
    SFX(pass)(m, n, X, rs, cs, y, sw, w, offset, 1, g, sums, nthreads);
}

double SFX(gf_residual_sqnorm)(gf_int m, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                               const REAL *y, const REAL *sw, const REAL *d, double offset,
                               int nthreads)
{
    double sums[2];
    SFX(pass)(m, n, X, rs, cs, y, sw, d, offset, 0, NULL, sums, nthreads);
    return sums[1];
}

/* Software prefetch of one row of a row-major X into L2 (prefetcht1): the gather reads rows in
 * random order, which the hardware prefetcher cannot follow. Into L2 rather than L1 because
 * L1's few miss buffers then cap the misses in flight (random 800-byte rows on the reference
 * machine: 5.7 ms per 80 MB into L2, 8 ms into L1, 9 ms without prefetch). */
static inline void SFX(prefetch_row_l2)(const REAL *x, gf_int n)
{
    const char *p = (const char *)x;
    for (size_t k = 0; k < (size_t)n * sizeof(REAL); k += 64) __builtin_prefetch(p + k, 0, 2);
    __builtin_prefetch(p + (size_t)n * sizeof(REAL) - 1, 0, 2);  /* a row's start is unaligned */
}

void SFX(gf_batch_gradient)(gf_int k, const gf_int *idx, gf_int avail, gf_int start, gf_int n,
                            const REAL *X, gf_int rs, gf_int cs, const REAL *y,
                            const REAL *sw, const REAL *w, double offset, double *g,
                            double *sums, REAL *scratch)
{
    const gf_int B = GF_ROW_BLOCK_ROWS;
    REAL *gblk = scratch, *s = gblk + n, *yb = s + 2, *swg = yb + B, *Xb = swg + B;
    const int gather = idx != NULL || cs != 1;
    for (gf_int j = 0; j < n; j++) g[j] = 0;
    sums[0] = sums[1] = 0;
    for (gf_int i0 = 0; i0 < k; i0 += B) {
        const gf_int b = (i0 + B <= k) ? B : k - i0;
        const REAL *rows = X + (start + i0) * rs, *yrows = y + start + i0;
        const REAL *swrows = sw ? sw + start + i0 : NULL;
        gf_int ld = rs;
        if (gather) {  /* into a row-major block in cache */
            for (gf_int i = 0; i < b; i++) {
                /* rows beyond this batch too (up to avail): the next call reads them. y[r]
                 * as well: X's stream evicts y, and its misses were a third of the gather. */
                if (idx && i0 + i + GF_GATHER_PREFETCH_ROWS < avail) {
                    const gf_int ra = idx[i0 + i + GF_GATHER_PREFETCH_ROWS];
                    if (cs == 1) SFX(prefetch_row_l2)(X + ra * rs, n);
                    __builtin_prefetch(y + ra);
                    if (sw) __builtin_prefetch(sw + ra);
                }
                const gf_int r = idx ? idx[i0 + i] : start + i0 + i;
                const REAL *src = X + r * rs;
                REAL *dst = Xb + i * n;
                if (cs == 1)
                    for (gf_int j = 0; j < n; j++) dst[j] = src[j];
                else
                    for (gf_int j = 0; j < n; j++) dst[j] = src[j * cs];
                yb[i] = y[r];
                if (sw) swg[i] = sw[r];
            }
            rows = Xb;
            yrows = yb;
            swrows = sw ? swg : NULL;
            ld = n;
        }
        for (gf_int j = 0; j < n; j++) gblk[j] = 0;
        s[0] = s[1] = 0;
        GF_GRAD_ROWS(b, b, n, rows, ld, yrows, swrows, w, (REAL)offset, gblk, s);
        for (gf_int j = 0; j < n; j++) g[j] += (double)gblk[j];
        sums[0] += (double)s[0];
        sums[1] += (double)s[1];
    }
}

GF_BODY void SFX(gf_shift_block_body)(gf_int b, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                                      const REAL *shift, const REAL *sw, REAL *A, gf_int lda,
                                      int row_major_out, double *colsum)
{
    /* A = diag(sw) (X_blk - 1 shift^T), laid out row-major (A[i*lda + j]) or column-major
     * (A[j*lda + i]); colsum += sum_i sw_i^2 (x_i - shift) = sum_i sw_i A_i. */
    if (row_major_out && !sw && cs == 1 && rs == n && lda == n && n <= GF_SHORT_ROW) {
        /* Short rows, contiguous in and out: four rows at a time are one run of 4n elements
         * (whole vectors), with the shift repeated four times and four column sums per
         * column; a loop per row of n ~ 10 is mostly its vector remainder and set-up, and
         * one colsum update per row would wait on the previous row's store. */
        REAL srep[4 * GF_SHORT_ROW];
        double crep[4 * GF_SHORT_ROW];
        const gf_int w = 4 * n;
        for (gf_int k = 0; k < w; k++) {
            srep[k] = shift[k % n];
            crep[k] = 0;
        }
        gf_int i = 0;
        for (; i + 4 <= b; i += 4) {
            const REAL *restrict x = X + i * n;
            REAL *restrict a = A + i * n;
#pragma omp simd
            for (gf_int k = 0; k < w; k++) {
                const REAL v = x[k] - srep[k];
                a[k] = v;
                crep[k] += (double)v;
            }
        }
        for (gf_int k = 0; k < (b - i) * n; k++) {
            const REAL v = X[i * n + k] - srep[k];
            A[i * n + k] = v;
            crep[k] += (double)v;
        }
        if (colsum)
            for (gf_int j = 0; j < n; j++)
                colsum[j] += (crep[j] + crep[n + j]) + (crep[2 * n + j] + crep[3 * n + j]);
    } else if (row_major_out) {
        for (gf_int i = 0; i < b; i++) {
            const REAL *restrict x = X + i * rs;
            REAL *restrict a = A + i * lda;
            const REAL s = sw ? sw[i] : (REAL)1;
            if (cs == 1) {
#pragma omp simd
                for (gf_int j = 0; j < n; j++) a[j] = s * (x[j] - shift[j]);
            } else {
                for (gf_int j = 0; j < n; j++) a[j] = s * (x[j * cs] - shift[j]);
            }
        }
        /* The column sums from the copy (in cache), four rows per update of colsum: one
         * update per row waited on the previous row's store (~30 cycles a row at n = 10). */
        if (colsum) {
            double *restrict c = colsum;
            gf_int i = 0;
            for (; i + 4 <= b; i += 4) {
                const REAL *a0 = A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
                const REAL s0 = sw ? sw[i] : 1, s1 = sw ? sw[i + 1] : 1,
                           s2 = sw ? sw[i + 2] : 1, s3 = sw ? sw[i + 3] : 1;
#pragma omp simd
                for (gf_int j = 0; j < n; j++)
                    c[j] += ((double)(s0 * a0[j]) + (double)(s1 * a1[j]))
                            + ((double)(s2 * a2[j]) + (double)(s3 * a3[j]));
            }
            for (; i < b; i++) {
                const REAL *a = A + i * lda;
                const REAL s = sw ? sw[i] : 1;
#pragma omp simd
                for (gf_int j = 0; j < n; j++) c[j] += (double)(s * a[j]);
            }
        }
    } else {
        for (gf_int j = 0; j < n; j++) {
            const REAL *restrict x = X + j * cs;
            REAL *restrict a = A + j * lda;
            const REAL c = shift[j];
            REAL t = 0;
            if (sw) {
#pragma omp simd reduction(+:t)
                for (gf_int i = 0; i < b; i++) {
                    a[i] = sw[i] * (x[i * rs] - c);
                    t += sw[i] * a[i];
                }
            } else if (rs == 1) {
#pragma omp simd reduction(+:t)
                for (gf_int i = 0; i < b; i++) {
                    a[i] = x[i] - c;
                    t += a[i];
                }
            } else {
                for (gf_int i = 0; i < b; i++) {
                    a[i] = x[i * rs] - c;
                    t += a[i];
                }
            }
            if (colsum) colsum[j] += (double)t;
        }
    }
}
GF_DISPATCH(, SFX(gf_shift_block), SFX(gf_shift_block_body),
            (gf_int b, gf_int n, const REAL *X, gf_int rs, gf_int cs, const REAL *shift,
            const REAL *sw, REAL *A, gf_int lda, int row_major_out, double *colsum),
            (b, n, X, rs, cs, shift, sw, A, lda, row_major_out, colsum))

GF_BODY void SFX(gf_shift_target_body)(gf_int b, const REAL *y, const REAL *sw, REAL shift,
                                       REAL *ya, double *sums)
{
    double s0 = 0, s1 = 0;
    if (sw) {
#pragma omp simd reduction(+:s0, s1)
        for (gf_int i = 0; i < b; i++) {
            const REAL v = sw[i] * (y[i] - shift);
            ya[i] = v;
            s0 += (double)(sw[i] * v);
            s1 += (double)v * v;
        }
    } else {
#pragma omp simd reduction(+:s0, s1)
        for (gf_int i = 0; i < b; i++) {
            const REAL v = y[i] - shift;
            ya[i] = v;
            s0 += (double)v;
            s1 += (double)v * v;
        }
    }
    sums[0] += s0;
    sums[1] += s1;
}
GF_DISPATCH(, SFX(gf_shift_target), SFX(gf_shift_target_body),
            (gf_int b, const REAL *y, const REAL *sw, REAL shift, REAL *ya, double *sums),
            (b, y, sw, shift, ya, sums))
