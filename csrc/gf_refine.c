/* The refinement pass of gf_refine.h: an AVX2 + FMA path (four rows per vector), an AVX-512F
 * path (eight rows per vector, where the CPU has it) and a portable path (the same operations,
 * lane by lane, with fma() from math.h). All perform the same floating-point operations in
 * the same order, so they return the same bits.
 *
 * Why it is organised in row blocks and two phases: a row's double-double dot product is a
 * chain of dependent additions (one TwoSum per column), and X^T r needs that row's residual.
 * Done row by row, every product of X^T r waits on the end of its row's chain: the processor's
 * scheduler fills up with waiting operations and the pass runs at the latency of the chain.
 * So each block of up to GF_MAX_BLOCK rows is swept twice while it sits in L1: first the
 * residuals of all its rows (two four-row vectors at a time, independent chains), then, column
 * by column, X^T r from residuals that are all ready, into two independent double-double
 * accumulators per column (even and odd vectors), merged with the others at the end of the
 * pass. Row-major X is transposed block by block into scratch (four rows by four columns at a
 * time), column-major X is read in place; the last rows (fewer than four) are copied and
 * padded with rows of weight zero, which add exact zeros.
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
/* Two sets of lanes per accumulator: even and odd four-row vectors. */
#define GF_SETS 2
#define GF_ACC (GF_LANES * GF_SETS)
/* Rows per block: a multiple of 8 (vectors in pairs), at most GF_MAX_BLOCK, and the block's
 * columns at most about GF_BLOCK_DOUBLES doubles (16 KiB: the block stays in L1 for its second
 * sweep). */
#define GF_MAX_BLOCK 64
#define GF_BLOCK_DOUBLES 2048

static gf_int block_rows(gf_int n)
{
    gf_int r = (GF_BLOCK_DOUBLES / (n > 0 ? n : 1)) / 8 * 8;
    return r < 8 ? 8 : (r > GF_MAX_BLOCK ? GF_MAX_BLOCK : r);
}

/* The scratch layout (all doubles): the column accumulators gh, gl (GF_ACC lanes per column),
 * the block's columns T (block_rows(n) per column), the weighted residuals uh, ul of a block,
 * the padded target and weights of the last rows, and the sums' accumulators (sum of wt r as
 * a pair and sum of wt r^2, GF_ACC lanes each). */
gf_int gf_refine_scratch_size(gf_int n)
{
    return 2 * GF_ACC * n + block_rows(n) * n + 2 * GF_MAX_BLOCK + 2 * GF_LANES + 3 * GF_ACC;
}

/* s + e = a + b exactly (Knuth's TwoSum: no assumption on the magnitudes). */
static inline void two_sum(double a, double b, double *s, double *e)
{
    double x = a + b, bb = x - a;
    *e = (a - (x - bb)) + (b - bb);
    *s = x;
}

/* s + e = a - b exactly: TwoSum(a, -b) without the negation (the same bits). */
static inline void two_diff(double a, double b, double *s, double *e)
{
    double x = a - b, bb = x - a;
    *e = (a - (x - bb)) - (b + bb);
    *s = x;
}

/* One block, the portable path. nv four-row vectors; column j of vector v is at
 * P + j * ld + 4 * v (four consecutive rows); yv, wv (NULL: unit weights) the block's targets
 * and weights. */
static void refine_block_portable(gf_int nv, gf_int n, const double *P, gf_int ld,
                                  const double *yv, const double *wv, const double *w,
                                  double offset, double *gh, double *gl, double *acc,
                                  double *uh, double *ul)
{
    for (gf_int v = 0; v < nv; v++) {
        const gf_int set = (v & 1) * GF_LANES;
        for (int k = 0; k < GF_LANES; k++) {
            const gf_int i = 4 * v + k;
            double s, c, e, p, pe;
            two_sum(yv[i], -offset, &s, &c);
            for (gf_int j = 0; j < n; j++) {
                const double xj = P[j * ld + i];
                p = xj * w[j];
                pe = fma(xj, w[j], -p);
                two_diff(s, p, &s, &e);
                c = c + (e - pe);
            }
            const double rh = s + c;
            const double rl = c - (rh - s);
            double h = rh, l = rl;
            if (wv) {
                h = rh * wv[i];
                l = fma(rh, wv[i], -h) + rl * wv[i];
            }
            uh[i] = h;
            ul[i] = l;
            double *a = acc + set + k;
            two_sum(a[0], h, &a[0], &e);
            a[GF_ACC] = a[GF_ACC] + (e + l);
            a[2 * GF_ACC] = a[2 * GF_ACC] + h * rh;
        }
    }
    for (gf_int j = 0; j < n; j++) {
        const double *x = P + j * ld;
        for (gf_int v = 0; v < nv; v++) {
            const gf_int set = (v & 1) * GF_LANES;
            for (int k = 0; k < GF_LANES; k++) {
                const gf_int i = 4 * v + k;
                const double p = x[i] * uh[i];
                const double pe = fma(x[i], ul[i], fma(x[i], uh[i], -p));
                double *h = gh + j * GF_ACC + set + k, *l = gl + j * GF_ACC + set + k, e;
                two_sum(*h, p, h, &e);
                *l = *l + (e + pe);
            }
        }
    }
}

#if GF_X86_DISPATCH
#include <immintrin.h>
#define GF_REFINE_AVX2 1
#define GF_AVX2_FN __attribute__((target("avx2,fma")))
#define GF_AVX2_INL __attribute__((target("avx2,fma"), always_inline)) static inline

/* The double-double steps on a vector of W rows: TwoSum, TwoDiff (the same operations as
 * two_sum and two_diff above, lane by lane) and the end of a residual: r = s + c as a pair,
 * weighted, stored in (uh, ul) and added to the lane sums. Written once for both widths
 * (VT the vector type, P the intrinsics' prefix, ATTR the target attribute). */
#define GF_DD_HELPERS(W, VT, P, ATTR)                                                         \
    ATTR void two_sum##W(VT a, VT b, VT *s, VT *e)                                            \
    {                                                                                         \
        const VT x = P##_add_pd(a, b), bb = P##_sub_pd(x, a);                                 \
        *e = P##_add_pd(P##_sub_pd(a, P##_sub_pd(x, bb)), P##_sub_pd(b, bb));                 \
        *s = x;                                                                               \
    }                                                                                         \
    ATTR void two_diff##W(VT a, VT b, VT *s, VT *e)                                           \
    {                                                                                         \
        const VT x = P##_sub_pd(a, b), bb = P##_sub_pd(x, a);                                 \
        *e = P##_sub_pd(P##_sub_pd(a, P##_sub_pd(x, bb)), P##_add_pd(b, bb));                 \
        *s = x;                                                                               \
    }                                                                                         \
    ATTR void residual##W##_finish(VT s, VT c, const double *wv, double *uh, double *ul,      \
                                   VT *ah, VT *al, VT *aq)                                    \
    {                                                                                         \
        const VT rh = P##_add_pd(s, c);                                                       \
        const VT rl = P##_sub_pd(c, P##_sub_pd(rh, s));                                       \
        VT h = rh, l = rl, e;                                                                 \
        if (wv) {                                                                             \
            const VT wt = P##_loadu_pd(wv);                                                   \
            h = P##_mul_pd(rh, wt);                                                           \
            l = P##_add_pd(P##_fmsub_pd(rh, wt, h), P##_mul_pd(rl, wt));                      \
        }                                                                                     \
        P##_storeu_pd(uh, h);                                                                 \
        P##_storeu_pd(ul, l);                                                                 \
        two_sum##W(*ah, h, ah, &e);                                                           \
        *al = P##_add_pd(*al, P##_add_pd(e, l));                                              \
        *aq = P##_add_pd(*aq, P##_mul_pd(h, rh));                                             \
    }

GF_DD_HELPERS(4, __m256d, _mm256, GF_AVX2_INL)

/* One four-row vector at x (column stride ld): its residual (first sweep), and its part of
 * column x's X^T r (second sweep); the AVX2 block's last odd vector and the AVX-512 block's
 * (on the low half of its accumulators). */
GF_AVX2_INL void residual4_one(gf_int n, const double *x, gf_int ld, const double *yv,
                               const double *wv, const double *w, double offset, double *uh,
                               double *ul, __m256d *ah, __m256d *al, __m256d *aq)
{
    __m256d s0, c0, e0;
    two_sum4(_mm256_loadu_pd(yv), _mm256_set1_pd(-offset), &s0, &c0);
    for (gf_int j = 0; j < n; j++) {
        const __m256d wj = _mm256_broadcast_sd(w + j);
        const __m256d x0 = _mm256_loadu_pd(x + j * ld);
        const __m256d p0 = _mm256_mul_pd(x0, wj);
        const __m256d q0 = _mm256_fmsub_pd(x0, wj, p0);
        two_diff4(s0, p0, &s0, &e0);
        c0 = _mm256_add_pd(c0, _mm256_sub_pd(e0, q0));
    }
    residual4_finish(s0, c0, wv, uh, ul, ah, al, aq);
}

GF_AVX2_INL void xtr4_one(const double *x, const double *uh, const double *ul, __m256d *h,
                          __m256d *l)
{
    __m256d e0;
    const __m256d x0 = _mm256_loadu_pd(x), u0 = _mm256_loadu_pd(uh);
    const __m256d p0 = _mm256_mul_pd(x0, u0);
    const __m256d q0 = _mm256_fmadd_pd(x0, _mm256_loadu_pd(ul), _mm256_fmsub_pd(x0, u0, p0));
    two_sum4(*h, p0, h, &e0);
    *l = _mm256_add_pd(*l, _mm256_add_pd(e0, q0));
}

GF_AVX2_FN static void refine_block_avx2(gf_int nv, gf_int n, const double *P, gf_int ld,
                                         const double *yv, const double *wv, const double *w,
                                         double offset, double *gh, double *gl, double *acc,
                                         double *uh, double *ul)
{
    const __m256d noff = _mm256_set1_pd(-offset);
    __m256d ah0 = _mm256_loadu_pd(acc), ah1 = _mm256_loadu_pd(acc + GF_LANES);
    __m256d al0 = _mm256_loadu_pd(acc + GF_ACC), al1 = _mm256_loadu_pd(acc + GF_ACC + GF_LANES);
    __m256d aq0 = _mm256_loadu_pd(acc + 2 * GF_ACC);
    __m256d aq1 = _mm256_loadu_pd(acc + 2 * GF_ACC + GF_LANES);
    gf_int v = 0;
    /* first sweep: residuals, two vectors (independent chains) at a time */
    for (; v + 2 <= nv; v += 2) {
        const double *x = P + 4 * v;
        __m256d s0, c0, s1, c1, e0, e1;
        two_sum4(_mm256_loadu_pd(yv + 4 * v), noff, &s0, &c0);
        two_sum4(_mm256_loadu_pd(yv + 4 * v + 4), noff, &s1, &c1);
        for (gf_int j = 0; j < n; j++) {
            const __m256d wj = _mm256_broadcast_sd(w + j);
            const __m256d x0 = _mm256_loadu_pd(x + j * ld), x1 = _mm256_loadu_pd(x + j * ld + 4);
            const __m256d p0 = _mm256_mul_pd(x0, wj), p1 = _mm256_mul_pd(x1, wj);
            const __m256d q0 = _mm256_fmsub_pd(x0, wj, p0), q1 = _mm256_fmsub_pd(x1, wj, p1);
            two_diff4(s0, p0, &s0, &e0);
            two_diff4(s1, p1, &s1, &e1);
            c0 = _mm256_add_pd(c0, _mm256_sub_pd(e0, q0));
            c1 = _mm256_add_pd(c1, _mm256_sub_pd(e1, q1));
        }
        residual4_finish(s0, c0, wv ? wv + 4 * v : NULL, uh + 4 * v, ul + 4 * v, &ah0, &al0,
                         &aq0);
        residual4_finish(s1, c1, wv ? wv + 4 * v + 4 : NULL, uh + 4 * v + 4, ul + 4 * v + 4,
                         &ah1, &al1, &aq1);
    }
    if (v < nv)
        residual4_one(n, P + 4 * v, ld, yv + 4 * v, wv ? wv + 4 * v : NULL, w, offset,
                      uh + 4 * v, ul + 4 * v, &ah0, &al0, &aq0);
    _mm256_storeu_pd(acc, ah0);
    _mm256_storeu_pd(acc + GF_LANES, ah1);
    _mm256_storeu_pd(acc + GF_ACC, al0);
    _mm256_storeu_pd(acc + GF_ACC + GF_LANES, al1);
    _mm256_storeu_pd(acc + 2 * GF_ACC, aq0);
    _mm256_storeu_pd(acc + 2 * GF_ACC + GF_LANES, aq1);
    /* second sweep: X^T (wt r), column by column, from residuals that are all ready */
    for (gf_int j = 0; j < n; j++) {
        const double *x = P + j * ld;
        double *hj = gh + j * GF_ACC, *lj = gl + j * GF_ACC;
        __m256d h0 = _mm256_loadu_pd(hj), h1 = _mm256_loadu_pd(hj + GF_LANES);
        __m256d l0 = _mm256_loadu_pd(lj), l1 = _mm256_loadu_pd(lj + GF_LANES);
        __m256d e0, e1;
        for (v = 0; v + 2 <= nv; v += 2) {
            const __m256d x0 = _mm256_loadu_pd(x + 4 * v), x1 = _mm256_loadu_pd(x + 4 * v + 4);
            const __m256d u0 = _mm256_loadu_pd(uh + 4 * v), u1 = _mm256_loadu_pd(uh + 4 * v + 4);
            const __m256d p0 = _mm256_mul_pd(x0, u0), p1 = _mm256_mul_pd(x1, u1);
            const __m256d q0 = _mm256_fmadd_pd(x0, _mm256_loadu_pd(ul + 4 * v),
                                               _mm256_fmsub_pd(x0, u0, p0));
            const __m256d q1 = _mm256_fmadd_pd(x1, _mm256_loadu_pd(ul + 4 * v + 4),
                                               _mm256_fmsub_pd(x1, u1, p1));
            two_sum4(h0, p0, &h0, &e0);
            two_sum4(h1, p1, &h1, &e1);
            l0 = _mm256_add_pd(l0, _mm256_add_pd(e0, q0));
            l1 = _mm256_add_pd(l1, _mm256_add_pd(e1, q1));
        }
        if (v < nv) xtr4_one(x + 4 * v, uh + 4 * v, ul + 4 * v, &h0, &l0);
        _mm256_storeu_pd(hj, h0);
        _mm256_storeu_pd(hj + GF_LANES, h1);
        _mm256_storeu_pd(lj, l0);
        _mm256_storeu_pd(lj + GF_LANES, l1);
    }
}

/* The same block on AVX-512F, eight rows per vector: a vector of rows 8u..8u+7 holds the
 * four-row vectors 2u (lanes 0-3) and 2u+1 (lanes 4-7), exactly the even and odd lane sets of
 * the accumulators, which are contiguous (acc, gh, gl). Every lane sees the same operations in
 * the same order as on AVX2 (an odd last four-row vector runs the AVX2 code on the low half),
 * so the two paths return the same bits, at half the instructions. */
#define GF_AVX512_FN __attribute__((target("avx512f,avx2,fma")))
#define GF_AVX512_INL __attribute__((target("avx512f,avx2,fma"), always_inline)) static inline

GF_DD_HELPERS(8, __m512d, _mm512, GF_AVX512_INL)

/* The residuals of rows 4v..4v+7 (nvec = 1) or 4v..4v+15 (nvec = 2, two chains). */
#define GF_RESIDUAL8_BODY(K) \
    __m512d s##K, c##K, e##K; \
    two_sum8(_mm512_loadu_pd(yv + 4 * v + 8 * K), noff, &s##K, &c##K);
#define GF_RESIDUAL8_STEP(K) { \
        const __m512d xk = _mm512_loadu_pd(x + j * ld + 8 * K); \
        const __m512d pk = _mm512_mul_pd(xk, wj), qk = _mm512_fmsub_pd(xk, wj, pk); \
        two_diff8(s##K, pk, &s##K, &e##K); \
        c##K = _mm512_add_pd(c##K, _mm512_sub_pd(e##K, qk)); }
#define GF_RESIDUAL8_FINISH(K) \
    residual8_finish(s##K, c##K, wv ? wv + 4 * v + 8 * K : NULL, uh + 4 * v + 8 * K, \
                     ul + 4 * v + 8 * K, &ah, &al, &aq);

GF_AVX512_FN static void refine_block_avx512(gf_int nv, gf_int n, const double *P, gf_int ld,
                                             const double *yv, const double *wv,
                                             const double *w, double offset, double *gh,
                                             double *gl, double *acc, double *uh, double *ul)
{
    const __m512d noff = _mm512_set1_pd(-offset);
    __m512d ah = _mm512_loadu_pd(acc), al = _mm512_loadu_pd(acc + GF_ACC);
    __m512d aq = _mm512_loadu_pd(acc + 2 * GF_ACC);
    gf_int v = 0;
    /* first sweep: residuals, two eight-row vectors (independent chains) at a time */
    for (; v + 4 <= nv; v += 4) {
        const double *x = P + 4 * v;
        GF_RESIDUAL8_BODY(0)
        GF_RESIDUAL8_BODY(1)
        for (gf_int j = 0; j < n; j++) {
            const __m512d wj = _mm512_set1_pd(w[j]);
            GF_RESIDUAL8_STEP(0)
            GF_RESIDUAL8_STEP(1)
        }
        GF_RESIDUAL8_FINISH(0)
        GF_RESIDUAL8_FINISH(1)
    }
    if (v + 2 <= nv) {
        const double *x = P + 4 * v;
        GF_RESIDUAL8_BODY(0)
        for (gf_int j = 0; j < n; j++) {
            const __m512d wj = _mm512_set1_pd(w[j]);
            GF_RESIDUAL8_STEP(0)
        }
        GF_RESIDUAL8_FINISH(0)
        v += 2;
    }
    if (v < nv) {  /* an even four-row vector: lane set 0, the low half */
        __m256d ah0 = _mm512_castpd512_pd256(ah), al0 = _mm512_castpd512_pd256(al);
        __m256d aq0 = _mm512_castpd512_pd256(aq);
        residual4_one(n, P + 4 * v, ld, yv + 4 * v, wv ? wv + 4 * v : NULL, w, offset,
                      uh + 4 * v, ul + 4 * v, &ah0, &al0, &aq0);
        ah = _mm512_insertf64x4(ah, ah0, 0);
        al = _mm512_insertf64x4(al, al0, 0);
        aq = _mm512_insertf64x4(aq, aq0, 0);
    }
    _mm512_storeu_pd(acc, ah);
    _mm512_storeu_pd(acc + GF_ACC, al);
    _mm512_storeu_pd(acc + 2 * GF_ACC, aq);
    /* second sweep: X^T (wt r), column by column, from residuals that are all ready */
    for (gf_int j = 0; j < n; j++) {
        const double *x = P + j * ld;
        double *hj = gh + j * GF_ACC, *lj = gl + j * GF_ACC;
        __m512d h = _mm512_loadu_pd(hj), l = _mm512_loadu_pd(lj), e;
        for (v = 0; v + 2 <= nv; v += 2) {
            const __m512d x0 = _mm512_loadu_pd(x + 4 * v), u0 = _mm512_loadu_pd(uh + 4 * v);
            const __m512d p0 = _mm512_mul_pd(x0, u0);
            const __m512d q0 = _mm512_fmadd_pd(x0, _mm512_loadu_pd(ul + 4 * v),
                                               _mm512_fmsub_pd(x0, u0, p0));
            two_sum8(h, p0, &h, &e);
            l = _mm512_add_pd(l, _mm512_add_pd(e, q0));
        }
        if (v < nv) {
            __m256d h0 = _mm512_castpd512_pd256(h), l0 = _mm512_castpd512_pd256(l);
            xtr4_one(x + 4 * v, uh + 4 * v, ul + 4 * v, &h0, &l0);
            h = _mm512_insertf64x4(h, h0, 0);
            l = _mm512_insertf64x4(l, l0, 0);
        }
        _mm512_storeu_pd(hj, h);
        _mm512_storeu_pd(lj, l);
    }
}
#undef GF_RESIDUAL8_BODY
#undef GF_RESIDUAL8_STEP
#undef GF_RESIDUAL8_FINISH

/* Rows 0..3 (row stride rs, unit column stride), columns j..j+3, into T (column stride ldt):
 * a 4 x 4 transpose from 128-bit loads (two of its four shuffles become inserts, which need
 * not share the shuffle port with the additions). */
GF_AVX2_INL void transpose4(const double *x, gf_int rs, gf_int j, double *T, gf_int ldt)
{
    const double *x0 = x + j, *x1 = x + rs + j, *x2 = x + 2 * rs + j, *x3 = x + 3 * rs + j;
    const __m256d a = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x0)),
                                           _mm_loadu_pd(x2), 1);
    const __m256d b = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x1)),
                                           _mm_loadu_pd(x3), 1);
    const __m256d c = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x0 + 2)),
                                           _mm_loadu_pd(x2 + 2), 1);
    const __m256d d = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(x1 + 2)),
                                           _mm_loadu_pd(x3 + 2), 1);
    _mm256_storeu_pd(T + j * ldt, _mm256_unpacklo_pd(a, b));
    _mm256_storeu_pd(T + (j + 1) * ldt, _mm256_unpackhi_pd(a, b));
    _mm256_storeu_pd(T + (j + 2) * ldt, _mm256_unpacklo_pd(c, d));
    _mm256_storeu_pd(T + (j + 3) * ldt, _mm256_unpackhi_pd(c, d));
}

/* rows rows of row-major X (row stride rs, a multiple of 4 of them) into T, column stride ldt;
 * with n >= 4 the last columns by one more transpose overlapping the previous one */
GF_AVX2_FN static void transpose_block_avx2(gf_int rows, gf_int n, const double *X, gf_int rs,
                                            double *T, gf_int ldt)
{
    for (gf_int i = 0; i < rows; i += 4) {
        const double *x = X + i * rs;
        double *t = T + i;
        gf_int j = 0;
        for (; j + 4 <= n; j += 4) transpose4(x, rs, j, t, ldt);
        if (j < n && n >= 4) {
            transpose4(x, rs, n - 4, t, ldt);
        } else {
            for (; j < n; j++) {
                t[j * ldt] = x[j];
                t[j * ldt + 1] = x[rs + j];
                t[j * ldt + 2] = x[2 * rs + j];
                t[j * ldt + 3] = x[3 * rs + j];
            }
        }
    }
}

#endif

/* rows rows of X (any strides) into T, column stride ldt; rows up to `padded` are zero. */
static void copy_block(gf_int rows, gf_int padded, gf_int n, const double *X, gf_int rs,
                       gf_int cs, double *T, gf_int ldt)
{
    for (gf_int j = 0; j < n; j++) {
        for (gf_int i = 0; i < rows; i++) T[j * ldt + i] = X[i * rs + j * cs];
        for (gf_int i = rows; i < padded; i++) T[j * ldt + i] = 0.0;
    }
}

void gf_refine_pass_d(gf_int b, gf_int n, const double *X, gf_int rs, gf_int cs,
                      const double *y, const double *wt, const double *w, double offset,
                      double *g_hi, double *g_lo, double *sums, double *scratch, int isa_max)
{
    const gf_int R = block_rows(n);
    double *gh = scratch, *gl = gh + GF_ACC * n, *T = gl + GF_ACC * n;
    double *uh = T + R * n, *ul = uh + GF_MAX_BLOCK, *ytail = ul + GF_MAX_BLOCK;
    double *wtail = ytail + GF_LANES, *acc = wtail + GF_LANES;
    for (gf_int k = 0; k < gf_refine_scratch_size(n); k++) scratch[k] = 0.0;
    int avx2 = 0, avx512 = 0;
#ifdef GF_REFINE_AVX2
    avx2 = isa_max >= 1 && gf_cpu_avx2();
    avx512 = avx2 && isa_max >= 2 && gf_cpu_avx512();
#else
    (void)isa_max;
#endif
    /* whole four-row vectors, in blocks of R rows: column-major X in place, else copied */
    const gf_int whole = b / 4 * 4;
    for (gf_int i = 0; i < whole; i += R) {
        const gf_int rows = whole - i < R ? whole - i : R;
        const double *P = X + i * rs;
        gf_int ld = cs;
        if (rs != 1) {
#ifdef GF_REFINE_AVX2
            if (avx2 && cs == 1)
                transpose_block_avx2(rows, n, P, rs, T, R);
            else
#endif
                copy_block(rows, rows, n, P, rs, cs, T, R);
            P = T;
            ld = R;
        }
        const double *wv = wt ? wt + i : NULL;
#ifdef GF_REFINE_AVX2
        if (avx512)
            refine_block_avx512(rows / 4, n, P, ld, y + i, wv, w, offset, gh, gl, acc, uh,
                                ul);
        else if (avx2)
            refine_block_avx2(rows / 4, n, P, ld, y + i, wv, w, offset, gh, gl, acc, uh, ul);
        else
#endif
            refine_block_portable(rows / 4, n, P, ld, y + i, wv, w, offset, gh, gl, acc, uh,
                                  ul);
    }
    /* the last rows, padded to four with rows of weight zero (they add exact zeros) */
    if (whole < b) {
        const gf_int t = b - whole;
        copy_block(t, GF_LANES, n, X + whole * rs, rs, cs, T, GF_LANES);
        for (gf_int k = 0; k < GF_LANES; k++) {
            ytail[k] = k < t ? y[whole + k] : 0.0;
            wtail[k] = k < t ? (wt ? wt[whole + k] : 1.0) : 0.0;
        }
#ifdef GF_REFINE_AVX2
        if (avx2)
            refine_block_avx2(1, n, T, GF_LANES, ytail, wtail, w, offset, gh, gl, acc, uh, ul);
        else
#endif
            refine_block_portable(1, n, T, GF_LANES, ytail, wtail, w, offset, gh, gl, acc, uh,
                                  ul);
    }
    /* lanes, then the caller's pairs */
    double e, h, l;
    for (gf_int j = 0; j < n; j++) {
        h = g_hi[j];
        l = g_lo[j];
        for (int k = 0; k < GF_ACC; k++) {
            two_sum(h, gh[j * GF_ACC + k], &h, &e);
            l += e + gl[j * GF_ACC + k];
        }
        two_sum(h, l, &g_hi[j], &g_lo[j]);
    }
    h = sums[0];
    l = sums[1];
    for (int k = 0; k < GF_ACC; k++) {
        two_sum(h, acc[k], &h, &e);
        l += e + acc[GF_ACC + k];
        sums[2] += acc[2 * GF_ACC + k];
    }
    two_sum(h, l, &sums[0], &sums[1]);
}
