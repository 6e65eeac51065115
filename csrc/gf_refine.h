/* The exact solver's refinement pass: the residual of a candidate solution and X^T of it,
 * accumulated in double-double (error-free transformations with FMA).
 *
 * Refining a least-squares solution needs r = y - X w - b and X^T r far more accurately than
 * double gives them: near the solution r is small against y (cancellation), and X^T r is a sum
 * of terms that cancel. Each row's dot product is summed as an unevaluated pair hi + lo
 * (Dot2 of Ogita, Rump & Oishi, 2005), and every product x_ij * r_i is split exactly with an
 * FMA before it is added to per-column pairs, so the results are as if computed in twice the
 * working precision and then rounded.
 */
#ifndef GF_REFINE_H
#define GF_REFINE_H

#include "gf_kernels.h"

/* For the b rows of X (strides rs, cs in elements, one of them 1), optional row weights wt
 * (the weights themselves, not their square roots; NULL: all ones):
 *   r_i = y_i - x_i . w - offset                         (double-double)
 *   g[j] += sum_i x_ij wt_i r_i     as g_hi[j] + g_lo[j]  (n pairs, added to)
 *   sums[0] + sums[1] += sum_i wt_i r_i                   (a pair, added to)
 *   sums[2] += sum_i wt_i r_i^2                           (double)
 * scratch holds gf_refine_scratch_size(n) doubles. isa_max caps the instruction set: 0 the
 * portable C path (fma() from math.h), 1 AVX2 + FMA, 2 AVX-512F; each runs where the CPU has
 * it and GRADFIT_PORTABLE is unset (gf_cpu_avx2(), gf_cpu_avx512()). Every path returns the
 * same bits.
 * Single-threaded; reads X from memory once (in row blocks that stay in L1 for their two
 * sweeps: residuals, then X^T r). */
gf_int gf_refine_scratch_size(gf_int n);
void gf_refine_pass_d(gf_int b, gf_int n, const double *X, gf_int rs, gf_int cs,
                      const double *y, const double *wt, const double *w, double offset,
                      double *g_hi, double *g_lo, double *sums, double *scratch,
                      int isa_max);


#endif
