/* The refinement pass of gf_refine.h: an AVX2 + FMA path (four rows per vector) and a portable
 * path (one row at a time, fma() from math.h). Both keep per-column pairs (hi, lo) in four
 * lanes and reduce them at the end, so they give the same double-double sums up to the order
 * of the additions.
 *
 * This file must be compiled without floating-point contraction (-ffp-contract=off, set in
 * CMakeLists.txt): an error-free transformation is exact only when each operation is rounded
 * on its own, and a compiler fusing `s = a - x*y` into one FMA would silently break it. */
#include "gf_refine.h"
#include "gf_cpu.h"

#include <math.h>
#include <stdlib.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define GF_LANES 4

gf_int gf_refine_scratch_size(gf_int n)
{
    /* per-column pairs (hi, lo) in four lanes, the panel's transposed columns, and the lane
     * sums of wt r (a pair) and of wt r^2 */
    return 2 * GF_LANES * n + GF_LANES * n + 3 * GF_LANES;
}

/* s + e = a + b exactly (Knuth's TwoSum: no assumption on the magnitudes). */
static inline void two_sum(double a, double b, double *s, double *e)
{
    double x = a + b, bb = x - a;
    *e = (a - (x - bb)) + (b - bb);
    *s = x;
}

/* One row: the portable path, and the tail rows of the vector path (into lane 0). */
static void refine_row(gf_int n, const double *x, gf_int cs, double yi, double wti,
                       const double *w, double offset, double *gh, double *gl, double *acc)
{
    double s, c, e, p, pe, rh, rl;
    two_sum(yi, -offset, &s, &c);
    for (gf_int j = 0; j < n; j++) {
        const double xj = x[j * cs];
        p = xj * w[j];
        pe = fma(xj, w[j], -p);
        two_sum(s, -p, &s, &e);
        c += e - pe;
    }
    rh = s + c;
    rl = c - (rh - s);
    /* the weighted residual, a pair again */
    const double uh = rh * wti;
    const double ul = fma(rh, wti, -uh) + rl * wti;
    two_sum(acc[0], uh, &acc[0], &e);
    acc[GF_LANES] += e + ul;
    acc[2 * GF_LANES] += uh * rh;
    for (gf_int j = 0; j < n; j++) {
        const double xj = x[j * cs];
        p = xj * uh;
        pe = fma(xj, uh, -p) + xj * ul;
        two_sum(gh[j * GF_LANES], p, &gh[j * GF_LANES], &e);
        gl[j * GF_LANES] += e + pe;
    }
}

#if GF_X86_DISPATCH
#include <immintrin.h>
#define GF_REFINE_AVX2 1
#define GF_AVX2_FN __attribute__((target("avx2,fma")))
#define GF_AVX2_INL __attribute__((target("avx2,fma"), always_inline)) static inline

GF_AVX2_INL void two_sum4(__m256d a, __m256d b, __m256d *s, __m256d *e)
{
    const __m256d x = _mm256_add_pd(a, b), bb = _mm256_sub_pd(x, a);
    *e = _mm256_add_pd(_mm256_sub_pd(a, _mm256_sub_pd(x, bb)), _mm256_sub_pd(b, bb));
    *s = x;
}

/* Four rows as lanes: T holds column j of the four rows at T + j * ldt (ldt = 4 for the
 * transposed copy of row-major rows, the column stride for column-major X). */
GF_AVX2_INL void refine_panel4(gf_int n, const double *T, gf_int ldt, const double *y,
                               const double *wt, const double *w, double offset, double *gh,
                               double *gl, double *acc)
{
    __m256d s, c, e, p, pe;
    two_sum4(_mm256_loadu_pd(y), _mm256_set1_pd(-offset), &s, &c);
    for (gf_int j = 0; j < n; j++) {
        const __m256d xj = _mm256_loadu_pd(T + j * ldt), wj = _mm256_broadcast_sd(w + j);
        p = _mm256_mul_pd(xj, wj);
        pe = _mm256_fmsub_pd(xj, wj, p);
        two_sum4(s, _mm256_sub_pd(_mm256_setzero_pd(), p), &s, &e);
        c = _mm256_add_pd(c, _mm256_sub_pd(e, pe));
    }
    const __m256d rh = _mm256_add_pd(s, c);
    const __m256d rl = _mm256_sub_pd(c, _mm256_sub_pd(rh, s));
    __m256d uh = rh, ul = rl;
    if (wt) {
        const __m256d wv = _mm256_loadu_pd(wt);
        uh = _mm256_mul_pd(rh, wv);
        ul = _mm256_add_pd(_mm256_fmsub_pd(rh, wv, uh), _mm256_mul_pd(rl, wv));
    }
    __m256d ah = _mm256_loadu_pd(acc);
    two_sum4(ah, uh, &ah, &e);
    _mm256_storeu_pd(acc, ah);
    _mm256_storeu_pd(acc + GF_LANES, _mm256_add_pd(_mm256_loadu_pd(acc + GF_LANES),
                                                   _mm256_add_pd(e, ul)));
    _mm256_storeu_pd(acc + 2 * GF_LANES, _mm256_add_pd(_mm256_loadu_pd(acc + 2 * GF_LANES),
                                                       _mm256_mul_pd(uh, rh)));
    for (gf_int j = 0; j < n; j++) {
        const __m256d xj = _mm256_loadu_pd(T + j * ldt);
        p = _mm256_mul_pd(xj, uh);
        pe = _mm256_add_pd(_mm256_fmsub_pd(xj, uh, p), _mm256_mul_pd(xj, ul));
        __m256d h = _mm256_loadu_pd(gh + j * GF_LANES);
        two_sum4(h, p, &h, &e);
        _mm256_storeu_pd(gh + j * GF_LANES, h);
        _mm256_storeu_pd(gl + j * GF_LANES, _mm256_add_pd(_mm256_loadu_pd(gl + j * GF_LANES),
                                                          _mm256_add_pd(e, pe)));
    }
}

/* Columns j..j+3 of four rows (row stride rs) into T (four per column): a 4 x 4 transpose. */
GF_AVX2_INL void transpose4(const double *x, gf_int rs, gf_int j, double *T)
{
    const __m256d r0 = _mm256_loadu_pd(x + j), r1 = _mm256_loadu_pd(x + rs + j),
                  r2 = _mm256_loadu_pd(x + 2 * rs + j), r3 = _mm256_loadu_pd(x + 3 * rs + j);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
                  t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(T + 4 * j, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(T + 4 * j + 4, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(T + 4 * j + 8, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(T + 4 * j + 12, _mm256_permute2f128_pd(t1, t3, 0x31));
}

GF_AVX2_FN static gf_int refine_rows_avx2(gf_int b, gf_int n, const double *X, gf_int rs,
                                          gf_int cs, const double *y, const double *wt,
                                          const double *w, double offset, double *gh,
                                          double *gl, double *acc, double *T)
{
    gf_int i = 0;
    for (; i + 4 <= b; i += 4) {
        const double *wti = wt ? wt + i : NULL;
        if (cs == 1) {
            const double *x = X + i * rs;
            gf_int j = 0;
            for (; j + 4 <= n; j += 4) transpose4(x, rs, j, T);
            for (; j < n; j++) {
                T[4 * j] = x[j];
                T[4 * j + 1] = x[rs + j];
                T[4 * j + 2] = x[2 * rs + j];
                T[4 * j + 3] = x[3 * rs + j];
            }
            refine_panel4(n, T, 4, y + i, wti, w, offset, gh, gl, acc);
        } else {
            refine_panel4(n, X + i * rs, cs, y + i, wti, w, offset, gh, gl, acc);
        }
    }
    return i;
}

#endif

void gf_refine_pass_d(gf_int b, gf_int n, const double *X, gf_int rs, gf_int cs,
                      const double *y, const double *wt, const double *w, double offset,
                      double *g_hi, double *g_lo, double *sums, double *scratch, int portable)
{
    double *gh = scratch, *gl = gh + GF_LANES * n, *T = gl + GF_LANES * n;
    double *acc = T + GF_LANES * n;
    for (gf_int k = 0; k < gf_refine_scratch_size(n); k++) scratch[k] = 0.0;
    gf_int i = 0;
#ifdef GF_REFINE_AVX2
    if (!portable && gf_cpu_avx2())
        i = refine_rows_avx2(b, n, X, rs, cs, y, wt, w, offset, gh, gl, acc, T);
#else
    (void)portable;
#endif
    for (; i < b; i++)
        refine_row(n, X + i * rs, cs, y[i], wt ? wt[i] : 1.0, w, offset, gh, gl, acc);
    /* lanes, then the caller's pairs */
    double e, h, l;
    for (gf_int j = 0; j < n; j++) {
        h = g_hi[j];
        l = g_lo[j];
        for (int k = 0; k < GF_LANES; k++) {
            two_sum(h, gh[j * GF_LANES + k], &h, &e);
            l += e + gl[j * GF_LANES + k];
        }
        two_sum(h, l, &g_hi[j], &g_lo[j]);
    }
    h = sums[0];
    l = sums[1];
    for (int k = 0; k < GF_LANES; k++) {
        two_sum(h, acc[k], &h, &e);
        l += e + acc[GF_LANES + k];
        sums[2] += acc[2 * GF_LANES + k];
    }
    two_sum(h, l, &sums[0], &sums[1]);
}
