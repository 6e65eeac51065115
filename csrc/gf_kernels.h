/* gradfit compiled kernels: the passes over X that the Cython engines call.
 *
 * Every kernel reads X (m rows, n columns) through a row stride `rs` and a column stride `cs`
 * given in elements; one of them must be 1 (row-major when cs == 1, column-major when rs == 1).
 * X is processed in row blocks small enough to stay in L2 cache, so a kernel that needs both
 * X w and X^T r reads X from memory once. Results are accumulated in double whatever the input
 * precision, and are deterministic for a given OpenMP thread count (each thread owns a fixed
 * contiguous range of blocks; partial sums are reduced in thread order).
 *
 * The inner block routines are compiled twice, for AVX2 + FMA and for the generic baseline,
 * and one is picked at run time (gf_cpu.h: the CPU's features, or GRADFIT_PORTABLE=1 for the
 * baseline on any CPU).
 */
#ifndef GF_KERNELS_H
#define GF_KERNELS_H

#include <stddef.h>

typedef ptrdiff_t gf_int;

/* Residual and gradient in one pass, with optional row weights sw (NULL: all ones).
 *   r_i = x_i . w + offset - y_i          (y may be NULL, meaning zero)
 *   g   = X^T (sw r)                       (n doubles, overwritten)
 *   sums[0] = sum_i sw_i r_i, sums[1] = sum_i sw_i r_i^2
 * nthreads <= 0 means: OpenMP's current limit, reduced for small problems. */
void gf_residual_gradient_d(gf_int m, gf_int n, const double *X, gf_int rs, gf_int cs,
                            const double *y, const double *sw, const double *w, double offset,
                            double *g, double *sums, int nthreads);
void gf_residual_gradient_s(gf_int m, gf_int n, const float *X, gf_int rs, gf_int cs,
                            const float *y, const float *sw, const float *w, double offset,
                            double *g, double *sums, int nthreads);

/* sum_i sw_i (x_i . d + offset - y_i)^2  (y may be NULL: then the curvature d^T X^T W X d).
 * d may be NULL, meaning zero: X is then not read, and the result is bit-for-bit that of a zero
 * d (for finite X). */
double gf_residual_sqnorm_d(gf_int m, gf_int n, const double *X, gf_int rs, gf_int cs,
                            const double *y, const double *sw, const double *d, double offset,
                            int nthreads);
double gf_residual_sqnorm_s(gf_int m, gf_int n, const float *X, gf_int rs, gf_int cs,
                            const float *y, const float *sw, const float *d, double offset,
                            int nthreads);

/* Mini-batch version of gf_residual_gradient over k rows: rows idx[0..k) of X, or, with
 * idx NULL, rows start..start+k. Rows are gathered, GF_ROW_BLOCK_ROWS (1024) at a time,
 * into a row-major block in `scratch` (gf_batch_scratch_size(n) elements of the data's
 * type) unless they are already contiguous row-major; then the same fused kernel runs.
 * idx has avail >= k entries: the rows of idx[k..avail), which the next batches read, are
 * prefetched while this one is gathered (avail = k: no look-ahead). Single-threaded. */
gf_int gf_batch_scratch_size(gf_int n);
void gf_batch_gradient_d(gf_int k, const gf_int *idx, gf_int avail, gf_int start, gf_int n,
                         const double *X, gf_int rs, gf_int cs, const double *y,
                         const double *sw, const double *w, double offset, double *g,
                         double *sums, double *scratch);
void gf_batch_gradient_s(gf_int k, const gf_int *idx, gf_int avail, gf_int start, gf_int n,
                         const float *X, gf_int rs, gf_int cs, const float *y,
                         const float *sw, const float *w, double offset, double *g,
                         double *sums, float *scratch);

/* The exact solver's block copy: A = diag(sw) (X_blk - 1 shift^T) for b rows, row-major
 * (A[i*lda+j]) or column-major (A[j*lda+i]) as row_major_out says; sw (sqrt of the row
 * weights) may be NULL; colsum (may be NULL) += the weighted column sums of X_blk - shift. */
void gf_shift_block_d(gf_int b, gf_int n, const double *X, gf_int rs, gf_int cs,
                      const double *shift, const double *sw, double *A, gf_int lda,
                      int row_major_out, double *colsum);
void gf_shift_block_s(gf_int b, gf_int n, const float *X, gf_int rs, gf_int cs,
                      const float *shift, const float *sw, float *A, gf_int lda,
                      int row_major_out, double *colsum);

/* The exact solver's target copy: ya = sw (y - shift) for b rows (sw may be NULL: all ones);
 * sums[0] += sum_i sw_i ya_i, sums[1] += sum_i ya_i^2 (summed in double, vectorised). */
void gf_shift_target_d(gf_int b, const double *y, const double *sw, double shift, double *ya,
                       double *sums);
void gf_shift_target_s(gf_int b, const float *y, const float *sw, float shift, float *ya,
                       double *sums);

/* Threads a pass of m*n elements will use when nthreads <= 0. */
int gf_default_threads(gf_int m, gf_int n);

#endif
