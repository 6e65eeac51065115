# Declarations of the C kernels in csrc/gf_kernels.h and csrc/gf_gram.h (weights: row weights,
# sqrt_weights: their square roots; NULL for none).
cdef extern from "gf_kernels.h" nogil:
    ctypedef Py_ssize_t gf_int
    void gf_residual_gradient_d(gf_int m, gf_int n, const double *X, gf_int rs, gf_int cs,
                                const double *y, const double *weights, const double *w,
                                double offset, double *g, double *sums, int nthreads)
    void gf_residual_gradient_s(gf_int m, gf_int n, const float *X, gf_int rs, gf_int cs,
                                const float *y, const float *weights, const float *w,
                                double offset, double *g, double *sums, int nthreads)
    double gf_residual_sqnorm_d(gf_int m, gf_int n, const double *X, gf_int rs, gf_int cs,
                                const double *y, const double *weights, const double *d,
                                double offset, int nthreads)
    double gf_residual_sqnorm_s(gf_int m, gf_int n, const float *X, gf_int rs, gf_int cs,
                                const float *y, const float *weights, const float *d,
                                double offset, int nthreads)
    void gf_batch_gradient_d(gf_int k, const gf_int *idx, gf_int avail, gf_int start,
                             gf_int n, const double *X, gf_int rs, gf_int cs,
                             const double *y, const double *weights, const double *w,
                             double offset, double *g, double *sums, double *scratch)
    void gf_batch_gradient_s(gf_int k, const gf_int *idx, gf_int avail, gf_int start,
                             gf_int n, const float *X, gf_int rs, gf_int cs,
                             const float *y, const float *weights, const float *w,
                             double offset, double *g, double *sums, float *scratch)
    void gf_shift_target_d(gf_int b, const double *y, const double *sqrt_weights, double shift,
                           double *ya, double *sums)
    void gf_shift_target_s(gf_int b, const float *y, const float *sqrt_weights, float shift,
                           float *ya, double *sums)
    gf_int gf_batch_scratch_size(gf_int n)
    int gf_default_threads(gf_int m, gf_int n)
    void gf_shift_block_d(gf_int b, gf_int n, const double *X, gf_int rs, gf_int cs,
                          const double *shift, const double *sqrt_weights, double *A, gf_int lda,
                          int row_major_out, double *colsum)
    void gf_shift_block_s(gf_int b, gf_int n, const float *X, gf_int rs, gf_int cs,
                          const float *shift, const float *sqrt_weights, float *A, gf_int lda,
                          int row_major_out, double *colsum)


cdef extern from "gf_gram.h" nogil:
    int gf_gram_available()
    int gf_gram_rows_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                       double *C, gf_int ldc, double *xty)
    int gf_gram_rows_s(gf_int b, gf_int n, const float *A, gf_int lda, const float *y,
                       float *C, gf_int ldc, float *xty)
    int gf_gram_rows_wide_d(gf_int b, gf_int n, const double *A, gf_int lda, const double *y,
                            double *C, gf_int ldc, double *xty)

cdef extern from "gf_cpu.h" nogil:
    # nonzero when the AVX2 + FMA kernels run (the CPU has them, GRADFIT_PORTABLE unset)
    int gf_cpu_avx2()
    # nonzero when, in addition, AVX-512F kernels run (the refinement pass has one)
    int gf_cpu_avx512()

cdef extern from "gf_refine.h" nogil:
    gf_int gf_refine_scratch_size(gf_int n)
    void gf_refine_pass_d(gf_int b, gf_int n, const double *X, gf_int rs, gf_int cs,
                          const double *y, const double *wt, const double *w, double offset,
                          double *g_hi, double *g_lo, double *sums, double *scratch,
                          int isa_max)
