/* Instantiates the kernels of gf_kernels_impl.h for double and float. */
#include "gf_kernels.h"
#include "gf_cpu.h"

#include <stdlib.h>
#include <omp.h>

/* Rows per block. Column-major blocks are swept twice (X d, then X^T r), so a block must sit in
 * L2 (512 KiB on the reference machine) between the sweeps: 192 KiB leaves room for w, g, r.
 * Row-major blocks are swept once (four rows at a time); their size only bounds the length of
 * the float32 partial sums (and sets the grain of the thread partition). */
#define GF_BLOCK_BYTES (192 * 1024)
#define GF_ROW_BLOCK_ROWS 1024
/* How far ahead (in rows) the row-major sweep prefetches: best at 8 on the reference machine
 * (three times the bandwidth of no prefetch at n = 100; no effect for wide rows). */
#ifndef GF_PREFETCH_ROWS
#define GF_PREFETCH_ROWS 8
#endif
/* How far ahead (in rows) the mini-batch gather prefetches the rows it will copy: 8 to 32
 * measured alike at n = 100 (16 is in the middle). */
#define GF_GATHER_PREFETCH_ROWS 16
/* Rows of at most this many elements, contiguous, are shifted four at a time (gf_shift_block). */
#define GF_SHORT_ROW 16
/* Below this many elements per thread a pass stays on one thread: OpenMP's fork/join costs
 * microseconds when the other core is idle, but when it is busy a parallel region waits for a
 * descheduled thread (reference machine: 6 ms instead of 0.1 ms per iteration at 20000 x 50). */
#define GF_MIN_ELEMS_PER_THREAD ((gf_int)1 << 22)

static gf_int gf_block_rows(gf_int n, size_t itemsize, int row_major)
{
    if (row_major) return GF_ROW_BLOCK_ROWS;
    gf_int b = (gf_int)(GF_BLOCK_BYTES / ((size_t)n * itemsize));
    if (b < 16) b = 16;
    return b - b % 4;
}

gf_int gf_batch_scratch_size(gf_int n)
{
    return n + 2 + GF_ROW_BLOCK_ROWS * (n + 2);
}

int gf_default_threads(gf_int m, gf_int n)
{
    gf_int by_size = (m * n) / GF_MIN_ELEMS_PER_THREAD;
    int nt = omp_get_max_threads();
    if (by_size < nt) nt = (int)by_size;
    return nt < 1 ? 1 : nt;
}

#if GF_X86_DISPATCH
#include <immintrin.h>
#define GF_HAVE_AVX2_ROWS 1

/* The row-major fused sweep for float64, written out for AVX2 + FMA: the generic version's
 * four separate horizontal sums per four rows dominate when rows are short (n ~ 10: 40% of
 * the time); here one transpose-and-add gives the four residuals at once. */
GF_TARGET_AVX2
static inline __m256d gf_hsum4(__m256d a0, __m256d a1, __m256d a2, __m256d a3)
{
    __m256d t0 = _mm256_hadd_pd(a0, a1), t1 = _mm256_hadd_pd(a2, a3);
    return _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),
                         _mm256_permute2f128_pd(t0, t1, 0x31));
}

static inline void gf_prefetch_rows_d(const double *X, gf_int rs, gf_int n, gf_int i,
                                      gf_int avail);

__attribute__((target("avx2,fma"), always_inline))
static inline void gf_grad_rows_avx2_body(gf_int b, gf_int avail, gf_int n, const double *X,
                                          gf_int rs, const double *y, const double *sw,
                                          const double *w, double offset, double *gblk,
                                          double *s, const int tail2)
{
    const gf_int nv = n & ~(gf_int)3;
    __m256d S0 = _mm256_setzero_pd(), S1 = _mm256_setzero_pd();
    const __m256d off = _mm256_set1_pd(offset);
    double tail_s0 = 0, tail_s1 = 0;
    gf_int i = 0;
    for (; i + 4 <= b; i += 4) {
        const double *x0 = X + i * rs, *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
        /* Contiguous rows: spread the prefetch of the four rows GF_PREFETCH_ROWS ahead over
         * the dot-product loop (two lines per step), which measured twice the bandwidth of
         * issuing them in one burst. */
        const int spread = rs == n && i + GF_PREFETCH_ROWS + 4 <= avail;
        const char *pf = (const char *)(X + (i + GF_PREFETCH_ROWS) * rs);
        if (!spread) gf_prefetch_rows_d(X, rs, n, i + GF_PREFETCH_ROWS, avail);
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        gf_int j = 0;
        for (; j < nv; j += 4) {
            if (spread) {
                _mm_prefetch(pf + 4 * j * sizeof(double), _MM_HINT_T0);
                _mm_prefetch(pf + 4 * j * sizeof(double) + 64, _MM_HINT_T0);
            }
            const __m256d wv = _mm256_loadu_pd(w + j);
            a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x0 + j), wv, a0);
            a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x1 + j), wv, a1);
            a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x2 + j), wv, a2);
            a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x3 + j), wv, a3);
        }
        if (tail2 && j + 2 <= n) {  /* two-wide tail in the low lanes (n = 10: 2 of 10) */
            const __m256d wv = _mm256_castpd128_pd256(_mm_loadu_pd(w + j));
            const __m256d z = _mm256_setzero_pd();
            a0 = _mm256_fmadd_pd(_mm256_insertf128_pd(z, _mm_loadu_pd(x0 + j), 0), wv, a0);
            a1 = _mm256_fmadd_pd(_mm256_insertf128_pd(z, _mm_loadu_pd(x1 + j), 0), wv, a1);
            a2 = _mm256_fmadd_pd(_mm256_insertf128_pd(z, _mm_loadu_pd(x2 + j), 0), wv, a2);
            a3 = _mm256_fmadd_pd(_mm256_insertf128_pd(z, _mm_loadu_pd(x3 + j), 0), wv, a3);
        }
        const gf_int j2 = tail2 && j + 2 <= n ? j + 2 : j;
        double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        for (gf_int jj = j2; jj < n; jj++) {
            t0 += x0[jj] * w[jj]; t1 += x1[jj] * w[jj]; t2 += x2[jj] * w[jj]; t3 += x3[jj] * w[jj];
        }
        __m256d r = _mm256_add_pd(_mm256_add_pd(gf_hsum4(a0, a1, a2, a3),
                                                _mm256_setr_pd(t0, t1, t2, t3)), off);
        if (y) r = _mm256_sub_pd(r, _mm256_loadu_pd(y + i));
        const __m256d rw = sw ? _mm256_mul_pd(r, _mm256_loadu_pd(sw + i)) : r;
        S0 = _mm256_add_pd(S0, rw);
        S1 = _mm256_fmadd_pd(rw, r, S1);
        const __m256d r0 = _mm256_permute4x64_pd(rw, 0x00),
                      r1 = _mm256_permute4x64_pd(rw, 0x55),
                      r2 = _mm256_permute4x64_pd(rw, 0xAA),
                      r3 = _mm256_permute4x64_pd(rw, 0xFF);
        for (j = 0; j < nv; j += 4) {
            const __m256d u = _mm256_fmadd_pd(_mm256_loadu_pd(x1 + j), r1,
                                              _mm256_mul_pd(_mm256_loadu_pd(x0 + j), r0));
            const __m256d v = _mm256_fmadd_pd(_mm256_loadu_pd(x3 + j), r3,
                                              _mm256_mul_pd(_mm256_loadu_pd(x2 + j), r2));
            _mm256_storeu_pd(gblk + j, _mm256_add_pd(_mm256_loadu_pd(gblk + j),
                                                     _mm256_add_pd(u, v)));
        }
        if (tail2 && j + 2 <= n) {
            const __m128d u = _mm_fmadd_pd(_mm_loadu_pd(x1 + j), _mm256_castpd256_pd128(r1),
                                           _mm_mul_pd(_mm_loadu_pd(x0 + j),
                                                      _mm256_castpd256_pd128(r0)));
            const __m128d v = _mm_fmadd_pd(_mm_loadu_pd(x3 + j), _mm256_castpd256_pd128(r3),
                                           _mm_mul_pd(_mm_loadu_pd(x2 + j),
                                                      _mm256_castpd256_pd128(r2)));
            _mm_storeu_pd(gblk + j, _mm_add_pd(_mm_loadu_pd(gblk + j), _mm_add_pd(u, v)));
            j += 2;
        }
        if (j < n) {
            double rr[4];
            _mm256_storeu_pd(rr, rw);
            for (; j < n; j++)
                gblk[j] += (x0[j] * rr[0] + x1[j] * rr[1]) + (x2[j] * rr[2] + x3[j] * rr[3]);
        }
    }
    for (; i < b; i++) {
        const double *x0 = X + i * rs;
        double a = offset;
        for (gf_int j = 0; j < n; j++) a += x0[j] * w[j];
        if (y) a -= y[i];
        const double v = sw ? sw[i] * a : a;
        for (gf_int j = 0; j < n; j++) gblk[j] += x0[j] * v;
        tail_s0 += v;
        tail_s1 += v * a;
    }
    double v0[4], v1[4];
    _mm256_storeu_pd(v0, S0);
    _mm256_storeu_pd(v1, S1);
    s[0] += ((v0[0] + v0[1]) + (v0[2] + v0[3])) + tail_s0;
    s[1] += ((v1[0] + v1[1]) + (v1[2] + v1[3])) + tail_s1;
}

/* Two instantiations of the body: with the two-wide tail (n % 4 >= 2, where it saves a
 * quarter of the time at n = 10) and without it (the extra code measured 25% slower at
 * n = 100 when present in the same loop). */
GF_TARGET_AVX2
static void gf_grad_rows_avx2_tail2_d(gf_int b, gf_int avail, gf_int n, const double *X,
                                      gf_int rs, const double *y, const double *sw,
                                      const double *w, double offset, double *gblk, double *s)
{
    gf_grad_rows_avx2_body(b, avail, n, X, rs, y, sw, w, offset, gblk, s, 1);
}

GF_TARGET_AVX2
static void gf_grad_rows_avx2_plain_d(gf_int b, gf_int avail, gf_int n, const double *X,
                                      gf_int rs, const double *y, const double *sw,
                                      const double *w, double offset, double *gblk, double *s)
{
    gf_grad_rows_avx2_body(b, avail, n, X, rs, y, sw, w, offset, gblk, s, 0);
}

static void gf_grad_rows_avx2_d(gf_int b, gf_int avail, gf_int n, const double *X, gf_int rs,
                                const double *y, const double *sw, const double *w,
                                double offset, double *gblk, double *s)
{
    if ((n & 3) >= 2)
        gf_grad_rows_avx2_tail2_d(b, avail, n, X, rs, y, sw, w, offset, gblk, s);
    else
        gf_grad_rows_avx2_plain_d(b, avail, n, X, rs, y, sw, w, offset, gblk, s);
}
#endif

#define REAL double
#define SFX(name) name##_d
#ifdef GF_HAVE_AVX2_ROWS
#define GF_GRAD_ROWS(...) \
    (gf_cpu_avx2() ? gf_grad_rows_avx2_d(__VA_ARGS__) : blk_grad_rows_d(__VA_ARGS__))
#else
#define GF_GRAD_ROWS(...) blk_grad_rows_d(__VA_ARGS__)
#endif
#include "gf_kernels_impl.h"
#undef GF_GRAD_ROWS
#undef REAL
#undef SFX

#ifdef GF_HAVE_AVX2_ROWS
static inline void gf_prefetch_rows_d(const double *X, gf_int rs, gf_int n, gf_int i,
                                      gf_int avail)
{
    prefetch_rows_d(X, rs, n, i, avail);
}
#endif

#define REAL float
#define SFX(name) name##_s
#define GF_GRAD_ROWS(...) blk_grad_rows_s(__VA_ARGS__)
#include "gf_kernels_impl.h"
#undef GF_GRAD_ROWS
#undef REAL
#undef SFX
