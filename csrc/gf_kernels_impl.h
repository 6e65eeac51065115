/* Type-generic body of gf_kernels.c, included once per precision with
 *   REAL: the element type of X, y and w;  SFX(name): name with the precision suffix.
 * Accumulation across blocks and threads is in double; within one block (at most
 * GF_BLOCK_BYTES of X) it is in REAL, which keeps float32 sums accurate to about
 * block-length * eps instead of m * eps. */

/* r[0..b) = X_blk w + offset - y_blk */
GF_CLONES static void SFX(blk_matvec)(gf_int b, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                                       const REAL *y, const REAL *w, REAL offset, REAL *r)
{
    if (cs == 1) {
        gf_int i = 0;
        for (; i + 4 <= b; i += 4) {
            const REAL *x0 = X + i * rs, *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
            REAL a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+:a0, a1, a2, a3)
            for (gf_int j = 0; j < n; j++) {
                a0 += x0[j] * w[j];
                a1 += x1[j] * w[j];
                a2 += x2[j] * w[j];
                a3 += x3[j] * w[j];
            }
            r[i] = a0 + offset; r[i + 1] = a1 + offset;
            r[i + 2] = a2 + offset; r[i + 3] = a3 + offset;
        }
        for (; i < b; i++) {
            const REAL *x0 = X + i * rs;
            REAL a0 = 0;
#pragma omp simd reduction(+:a0)
            for (gf_int j = 0; j < n; j++) a0 += x0[j] * w[j];
            r[i] = a0 + offset;
        }
    } else {
        for (gf_int i = 0; i < b; i++) r[i] = offset;
        gf_int j = 0;
        for (; j + 4 <= n; j += 4) {
            const REAL *c0 = X + j * cs, *c1 = c0 + cs, *c2 = c1 + cs, *c3 = c2 + cs;
            const REAL w0 = w[j], w1 = w[j + 1], w2 = w[j + 2], w3 = w[j + 3];
#pragma omp simd
            for (gf_int i = 0; i < b; i++)
                r[i] += (c0[i] * w0 + c1[i] * w1) + (c2[i] * w2 + c3[i] * w3);
        }
        for (; j < n; j++) {
            const REAL *c0 = X + j * cs;
            const REAL w0 = w[j];
#pragma omp simd
            for (gf_int i = 0; i < b; i++) r[i] += c0[i] * w0;
        }
    }
    if (y)
        for (gf_int i = 0; i < b; i++) r[i] -= y[i];
}

/* gacc[0..n) += X_blk^T r  (accumulated in REAL within the block, added to double) */
GF_CLONES static void SFX(blk_rmatvec)(gf_int b, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                                        const REAL *r, REAL *gblk, double *gacc)
{
    if (cs == 1) {
        for (gf_int j = 0; j < n; j++) gblk[j] = 0;
        gf_int i = 0;
        for (; i + 4 <= b; i += 4) {
            const REAL *x0 = X + i * rs, *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
            const REAL r0 = r[i], r1 = r[i + 1], r2 = r[i + 2], r3 = r[i + 3];
#pragma omp simd
            for (gf_int j = 0; j < n; j++)
                gblk[j] += (x0[j] * r0 + x1[j] * r1) + (x2[j] * r2 + x3[j] * r3);
        }
        for (; i < b; i++) {
            const REAL *x0 = X + i * rs;
            const REAL r0 = r[i];
#pragma omp simd
            for (gf_int j = 0; j < n; j++) gblk[j] += x0[j] * r0;
        }
    } else {
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
            gblk[j] = a0; gblk[j + 1] = a1; gblk[j + 2] = a2; gblk[j + 3] = a3;
        }
        for (; j < n; j++) {
            const REAL *c0 = X + j * cs;
            REAL a0 = 0;
#pragma omp simd reduction(+:a0)
            for (gf_int i = 0; i < b; i++) a0 += c0[i] * r[i];
            gblk[j] = a0;
        }
    }
    for (gf_int j = 0; j < n; j++) gacc[j] += (double)gblk[j];
}

static void SFX(blk_sums)(gf_int b, const REAL *r, double *s)
{
    REAL s0 = 0, s1 = 0;
    for (gf_int i = 0; i < b; i++) { s0 += r[i]; s1 += r[i] * r[i]; }
    s[0] += (double)s0;
    s[1] += (double)s1;
}

void SFX(gf_residual_gradient)(gf_int m, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                               const REAL *y, const REAL *w, double offset,
                               double *g, double *sums, int nthreads)
{
    const gf_int B = gf_block_rows(n, sizeof(REAL));
    const gf_int nblk = (m + B - 1) / B;
    int nt = nthreads > 0 ? nthreads : gf_default_threads(m, n);
    if (nt > nblk) nt = (int)nblk;
    if (nt < 1) nt = 1;
    double *part = (double *)calloc((size_t)nt * (size_t)(n + 2), sizeof(double));
    REAL *scratch = (REAL *)malloc((size_t)nt * (size_t)(B + n) * sizeof(REAL));

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num();
        const gf_int lo = nblk * t / nt, hi = nblk * (t + 1) / nt;
        double *gacc = part + (size_t)t * (size_t)(n + 2);
        REAL *r = scratch + (size_t)t * (size_t)(B + n), *gblk = r + B;
        for (gf_int k = lo; k < hi; k++) {
            const gf_int i0 = k * B, b = (i0 + B <= m) ? B : m - i0;
            const REAL *Xb = X + i0 * rs;
            SFX(blk_matvec)(b, n, Xb, rs, cs, y ? y + i0 : NULL, w, (REAL)offset, r);
            SFX(blk_rmatvec)(b, n, Xb, rs, cs, r, gblk, gacc);
            SFX(blk_sums)(b, r, gacc + n);
        }
    }
    for (gf_int j = 0; j < n + 2; j++) {
        double s = 0;
        for (int t = 0; t < nt; t++) s += part[(size_t)t * (size_t)(n + 2) + j];
        if (j < n) g[j] = s; else sums[j - n] = s;
    }
    free(part);
    free(scratch);
}

double SFX(gf_matvec_sqnorm)(gf_int m, gf_int n, const REAL *X, gf_int rs, gf_int cs,
                             const REAL *d, double offset, int nthreads)
{
    const gf_int B = gf_block_rows(n, sizeof(REAL));
    const gf_int nblk = (m + B - 1) / B;
    int nt = nthreads > 0 ? nthreads : gf_default_threads(m, n);
    if (nt > nblk) nt = (int)nblk;
    if (nt < 1) nt = 1;
    double *part = (double *)calloc((size_t)nt * 2, sizeof(double));
    REAL *scratch = (REAL *)malloc((size_t)nt * (size_t)B * sizeof(REAL));

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num();
        const gf_int lo = nblk * t / nt, hi = nblk * (t + 1) / nt;
        REAL *u = scratch + (size_t)t * (size_t)B;
        for (gf_int k = lo; k < hi; k++) {
            const gf_int i0 = k * B, b = (i0 + B <= m) ? B : m - i0;
            SFX(blk_matvec)(b, n, X + i0 * rs, rs, cs, NULL, d, (REAL)offset, u);
            SFX(blk_sums)(b, u, part + 2 * t);
        }
    }
    double s = 0;
    for (int t = 0; t < nt; t++) s += part[2 * t + 1];
    free(part);
    free(scratch);
    return s;
}
