/* gradfit's Gram-matrix kernel for narrow row-major blocks.
 *
 * OpenBLAS's syrk reaches only about half the dgemm rate when the Gram matrix is small
 * (n ~ 10-300) and the blocks are tall (reference machine: 52% at n = 100), because it packs and
 * blocks for large matrices. A row-major block already holds, in each row, everything an
 * outer-product update needs: this kernel broadcasts four entries of a row against three
 * vectors of the same row (twelve AVX2 accumulators, the shape of a dgemm micro-kernel)
 * without packing, over chunks of rows that stay in L1.
 */
#ifndef GF_GRAM_H
#define GF_GRAM_H

#include "gf_kernels.h"

/* Whether gf_gram_rows_* can run: the AVX2 + FMA kernels are enabled (gf_cpu.h: the CPU has
 * them and GRADFIT_PORTABLE is not set). When it returns 0 the callers use BLAS syrk instead. */
int gf_gram_available(void);

/* For b rows of the row-major block A (leading dimension lda >= n):
 *   C[j*ldc + i] += sum_k A[k*lda + i] * A[k*lda + j]   for 0 <= i <= j < n
 * (the lower triangle of A^T A in row-major order, i.e. LAPACK's upper triangle) and, when y
 * is not NULL,
 *   xty[j] += sum_k A[k*lda + j] * y[k].
 * Entries above the diagonal (i > j) near it receive the same sums for their pair (tiles
 * straddle the diagonal); callers read only i <= j. Sums are formed in the data's precision.
 * Reads nothing outside the b rows (the last rows are done one by one); allocates nothing.
 * Returns 0. */
int gf_gram_rows_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                   double *C, gf_int ldc, double *xty);
int gf_gram_rows_s(gf_int b, gf_int n, const float *A, gf_int lda, const float *y,
                   float *C, gf_int ldc, float *xty);
/* gf_gram_rows_d on AVX-512F where gf_cpu_avx512() says so (about 1.4x the flop rate of the
 * AVX2 version over a long pass, slower for short ones: the wide units' warm-up), else the
 * same. The two versions tile differently, so their sums may differ in the last bits. */
int gf_gram_rows_wide_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                        double *C, gf_int ldc, double *xty);

#endif
