# Fused float32/float64 wrappers over scipy.linalg.cython_blas / cython_lapack (the BLAS and
# LAPACK that SciPy ships), in the manner of sklearn/utils/_cython_blas.pyx. All matrices are
# column-major (Fortran) as LAPACK sees them; callers pass C-ordered arrays as the transpose.
from scipy.linalg.cython_blas cimport ssyrk, dsyrk, sgemv, dgemv, ddot, dsdot
from scipy.linalg.cython_lapack cimport (spotrf, dpotrf, spotrs, dpotrs, spocon, dpocon,
                                         slansy, dlansy)

ctypedef fused floating:
    float
    double


cdef inline void syrk(char uplo, char trans, int n, int k, floating alpha, const floating *a,
                      int lda, floating beta, floating *c, int ldc) noexcept nogil:
    if floating is float:
        ssyrk(&uplo, &trans, &n, &k, &alpha, <float *> a, &lda, &beta, c, &ldc)
    else:
        dsyrk(&uplo, &trans, &n, &k, &alpha, <double *> a, &lda, &beta, c, &ldc)


cdef inline double sqnorm(int n, const floating *x) noexcept nogil:
    """x.x summed in double (dsdot for float32: no float32 accumulation)."""
    cdef int one = 1
    if floating is float:
        return dsdot(&n, <float *> x, &one, <float *> x, &one)
    else:
        return ddot(&n, <double *> x, &one, <double *> x, &one)


cdef inline void gemv(char trans, int m, int n, floating alpha, const floating *a, int lda,
                      const floating *x, int incx, floating beta, floating *y,
                      int incy) noexcept nogil:
    if floating is float:
        sgemv(&trans, &m, &n, &alpha, <float *> a, &lda, <float *> x, &incx, &beta, y, &incy)
    else:
        dgemv(&trans, &m, &n, &alpha, <double *> a, &lda, <double *> x, &incx, &beta, y, &incy)


cdef inline int potrf(char uplo, int n, floating *a, int lda) noexcept nogil:
    cdef int info = 0
    if floating is float:
        spotrf(&uplo, &n, a, &lda, &info)
    else:
        dpotrf(&uplo, &n, a, &lda, &info)
    return info


cdef inline int potrs(char uplo, int n, int nrhs, floating *a, int lda, floating *b,
                      int ldb) noexcept nogil:
    cdef int info = 0
    if floating is float:
        spotrs(&uplo, &n, &nrhs, a, &lda, b, &ldb, &info)
    else:
        dpotrs(&uplo, &n, &nrhs, a, &lda, b, &ldb, &info)
    return info


cdef inline floating lansy_one_norm(char uplo, int n, floating *a, int lda,
                                    floating *work) noexcept nogil:
    cdef char norm = c'1'
    if floating is float:
        return slansy(&norm, &uplo, &n, a, &lda, work)
    else:
        return dlansy(&norm, &uplo, &n, a, &lda, work)


cdef inline int pocon(char uplo, int n, floating *a, int lda, floating anorm,
                      floating *rcond, floating *work, int *iwork) noexcept nogil:
    cdef int info = 0
    if floating is float:
        spocon(&uplo, &n, a, &lda, &anorm, rcond, work, iwork, &info)
    else:
        dpocon(&uplo, &n, a, &lda, &anorm, rcond, work, iwork, &info)
    return info
