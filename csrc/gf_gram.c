/* Instantiates the Gram kernel of gf_gram_impl.h for double and float (AVX2 + FMA). */
#include "gf_gram.h"
#include "gf_cpu.h"

#if GF_X86_DISPATCH
#include <immintrin.h>

#define GF_AVX2 GF_TARGET_AVX2
#define GF_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline
/* Tile shape: GF_NV vectors of columns times GF_JW broadcast columns, 12 accumulators plus
 * three loaded vectors and a broadcast: the 16 ymm registers of AVX2. */
#define GF_NV 3
#define GF_JW 4
/* A chunk of rows that every tile sweeps in turn: 24 KiB stays in the 32 KiB L1 with room
 * for the tiles' C rows. */
#define GF_GRAM_CHUNK_BYTES (24 * 1024)

int gf_gram_available(void)
{
    return gf_cpu_avx2();
}

GF_AVX2_INLINE static __m256i gf_lane_mask64(int rem)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(rem), _mm256_setr_epi64x(0, 1, 2, 3));
}

GF_AVX2_INLINE static __m256i gf_lane_mask32(int rem)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define MASK_T __m256i
#define REAL double
#define SFX(name) name##_d256
#define VEC __m256d
#define VLEN 4
#define VZERO() _mm256_setzero_pd()
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VMLOAD(p, m) _mm256_maskload_pd(p, m)
#define VMSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#define VBCAST(p) _mm256_broadcast_sd(p)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define MASK_FOR(rem) gf_lane_mask64(rem)
#include "gf_gram_impl.h"

#define MASK_T __m256i
#define REAL float
#define SFX(name) name##_s
#define VEC __m256
#define VLEN 8
#define VZERO() _mm256_setzero_ps()
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VMLOAD(p, m) _mm256_maskload_ps(p, m)
#define VMSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define MASK_FOR(rem) gf_lane_mask32(rem)
#include "gf_gram_impl.h"

/* float64 on AVX-512F: the same tiles, eight lanes per vector (rows of up to 24 columns per
 * tile), masks in mask registers. Where the CPU has it (gf_cpu_avx512), about twice the
 * flops per instruction of the AVX2 version. */
#undef GF_AVX2
#undef GF_AVX2_INLINE
#define GF_AVX2 __attribute__((target("avx512f,avx2,fma")))
#define GF_AVX2_INLINE __attribute__((target("avx512f,avx2,fma"), always_inline)) inline
#define MASK_T __mmask8
#define REAL double
#define SFX(name) name##_d512
#define VEC __m512d
#define VLEN 8
#define VZERO() _mm512_setzero_pd()
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VMLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define VMSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#define MASK_FOR(rem) ((__mmask8)((1u << (rem)) - 1u))
#include "gf_gram_impl.h"

int gf_gram_rows_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                   double *C, gf_int ldc, double *xty)
{
    return gf_gram_rows_d256(b, n, A, lda, y, C, ldc, xty);
}

int gf_gram_rows_wide_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                        double *C, gf_int ldc, double *xty)
{
    if (gf_cpu_avx512())
        return gf_gram_rows_d512(b, n, A, lda, y, C, ldc, xty);
    return gf_gram_rows_d256(b, n, A, lda, y, C, ldc, xty);
}

#else  /* no x86-64 dispatch: no kernel; callers use BLAS syrk */

int gf_gram_available(void) { return 0; }

int gf_gram_rows_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                   double *C, gf_int ldc, double *xty)
{
    (void)b; (void)n; (void)A; (void)lda; (void)y; (void)C; (void)ldc; (void)xty;
    return -1;
}

int gf_gram_rows_s(gf_int b, gf_int n, const float *A, gf_int lda, const float *y,
                   float *C, gf_int ldc, float *xty)
{
    (void)b; (void)n; (void)A; (void)lda; (void)y; (void)C; (void)ldc; (void)xty;
    return -1;
}

int gf_gram_rows_wide_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                        double *C, gf_int ldc, double *xty)
{
    return gf_gram_rows_d(b, n, A, lda, y, C, ldc, xty);
}
#endif
