# Declarations of the C kernels in csrc/gf_kernels.h.
cdef extern from "gf_kernels.h" nogil:
    ctypedef Py_ssize_t gf_int
    void gf_residual_gradient_d(gf_int m, gf_int n, const double *X, gf_int rs, gf_int cs,
                                const double *y, const double *w, double offset,
                                double *g, double *sums, int nthreads)
    void gf_residual_gradient_s(gf_int m, gf_int n, const float *X, gf_int rs, gf_int cs,
                                const float *y, const float *w, double offset,
                                double *g, double *sums, int nthreads)
    double gf_matvec_sqnorm_d(gf_int m, gf_int n, const double *X, gf_int rs, gf_int cs,
                              const double *d, double offset, int nthreads)
    double gf_matvec_sqnorm_s(gf_int m, gf_int n, const float *X, gf_int rs, gf_int cs,
                              const float *d, double offset, int nthreads)
