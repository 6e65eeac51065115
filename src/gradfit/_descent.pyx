# cython: language_level=3
"""Compiled gradient-descent engine: the whole loop (gradient, step rule, update, stopping and
divergence tests) runs here with the GIL released. ``descent.py`` validates the input and packs
the strategy into (code, params); errors are signalled through the returned status and raised
there, after the nogil section.

The parameters p are the coefficients w followed, with an intercept, by c = b + mu.w, where mu
is the vector of column means: the model is then y ~ (X - 1 mu^T) w + c, whose Hessian is
block-diagonal (the intercept decouples from w) without ever forming the centred X.
"""
import numpy as np

from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport sqrt, fabs, pow, isfinite
from libc.stdlib cimport malloc, free

from ._blas cimport floating
from ._kernels cimport (gf_int, gf_residual_gradient_d, gf_residual_gradient_s,
                        gf_matvec_sqnorm_d, gf_matvec_sqnorm_s)

# Strategy codes: must match gradfit.steps.
cdef enum:
    FIXED = 0
    LIPSCHITZ = 1
    EXACT = 2
    BACKTRACKING = 3
    BB = 4
    MOMENTUM = 5
    NESTEROV = 6
    ADAGRAD = 7
    RMSPROP = 8
    ADAM = 9

# Slots of the scalar state (all float64 so the state pickles as one array).
cdef enum:
    S_T = 0          # steps taken (Adam's t)
    S_STEP = 1       # current step size / backtracking's next trial
    S_LIPSCHITZ = 2  # Lipschitz estimate (0: not yet estimated)
    S_F0 = 3         # largest starting objective seen (divergence reference)
    S_G0 = 4         # gradient norm at the very first start (tolerance reference)
    S_HAVE_PREV = 5  # BB: previous point and gradient are valid
N_SCALARS = 6

# Statuses returned to descent.py (mirrored there by name).
cdef enum:
    CONVERGED = 0
    MAX_ITER = 1
    DIVERGED = 2
    STOPPED_BY_CALLBACK = 3
    NONFINITE_START = 4

# f more than this many times its starting value means the step size is too large.
cdef double DIVERGENCE_FACTOR = 1e6
# Work (elements of X read) between two checks for Ctrl-C: a few milliseconds here.
cdef double SIGNAL_CHECK_ELEMENTS = 1e7


cdef struct Problem:
    const void *X
    const void *y
    bint f32
    gf_int m
    gf_int n
    gf_int rs
    gf_int cs
    const double *mu
    bint intercept
    double l2
    float *wf          # float32 copy of a direction, for float32 data
    double *graw       # X^T r from the kernel
    double elements    # elements of X read since the last signal check


cdef double _offset(Problem *P, const double *p) noexcept nogil:
    # x_i.w + offset = (x_i - mu).w + c
    cdef double s = 0.0
    cdef gf_int j
    if not P.intercept:
        return 0.0
    for j in range(P.n):
        s += P.mu[j] * p[j]
    return p[P.n] - s


cdef double evaluate(Problem *P, const double *p, double *g, bint with_y) noexcept nogil:
    """f(p) and its gradient g (with_y false: Hessian-vector product H p, returned f unused)."""
    cdef gf_int j, n = P.n
    cdef double sums[2]
    cdef double off = _offset(P, p), inv_m = 1.0 / P.m, ww = 0.0
    if P.f32:
        for j in range(n):
            P.wf[j] = <float> p[j]
        gf_residual_gradient_s(P.m, n, <const float *> P.X, P.rs, P.cs,
                               <const float *> P.y if with_y else NULL, P.wf, off,
                               P.graw, sums, 0)
    else:
        gf_residual_gradient_d(P.m, n, <const double *> P.X, P.rs, P.cs,
                               <const double *> P.y if with_y else NULL, p, off,
                               P.graw, sums, 0)
    P.elements += P.m * n
    for j in range(n):
        g[j] = P.graw[j] * inv_m + P.l2 * p[j]
        if P.intercept:
            g[j] -= P.mu[j] * sums[0] * inv_m
        ww += p[j] * p[j]
    if P.intercept:
        g[n] = sums[0] * inv_m
    return 0.5 * sums[1] * inv_m + 0.5 * P.l2 * ww


cdef double curvature(Problem *P, const double *d) noexcept nogil:
    """d^T H d, one pass over X."""
    cdef gf_int j, n = P.n
    cdef double off = _offset(P, d), s, dd = 0.0
    if P.f32:
        for j in range(n):
            P.wf[j] = <float> d[j]
        s = gf_matvec_sqnorm_s(P.m, n, <const float *> P.X, P.rs, P.cs, P.wf, off, 0)
    else:
        s = gf_matvec_sqnorm_d(P.m, n, <const double *> P.X, P.rs, P.cs, d, off, 0)
    P.elements += P.m * n
    for j in range(n):
        dd += d[j] * d[j]
    return s / P.m + P.l2 * dd


cdef double _dot(const double *a, const double *b, gf_int d) noexcept nogil:
    cdef double s = 0.0
    cdef gf_int j
    for j in range(d):
        s += a[j] * b[j]
    return s


cdef double lipschitz_estimate(Problem *P, gf_int d, int max_iter, double rtol,
                               double *v, double *hv) noexcept nogil:
    """Largest eigenvalue of H by power iteration; the Rayleigh quotient is returned."""
    cdef gf_int j
    cdef int k
    cdef unsigned long long state = 0x9E3779B97F4A7C15ULL
    cdef double nrm, rq = 0.0, rq_old
    # A fixed pseudo-random start (xorshift): reproducible, and not orthogonal to the top
    # eigenvector except by accident.
    for j in range(d):
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        v[j] = <double> (state >> 11) / 9007199254740992.0 + 0.5
    nrm = sqrt(_dot(v, v, d))
    for j in range(d):
        v[j] /= nrm
    for k in range(max_iter):
        evaluate(P, v, hv, False)
        rq_old = rq
        rq = _dot(v, hv, d)
        nrm = sqrt(_dot(hv, hv, d))
        if nrm == 0.0:
            return 0.0
        for j in range(d):
            v[j] = hv[j] / nrm
        if k > 0 and fabs(rq - rq_old) <= rtol * rq:
            break
    return rq


def run(const floating[:, :] X, const floating[::1] y, const double[::1] mu, bint intercept,
        double l2, int code, const double[::1] params, double[::1] p, double[:, ::1] vecs,
        double[::1] scal, int max_iter, double tol, object callback, double[::1] history):
    """Run up to ``max_iter`` steps from p (updated in place, with vecs and scal, the strategy's
    state). Returns ``(n_iter, status, objective, grad_norm)``; history[0..n_iter] holds the
    objective at every visited point."""
    cdef Problem P
    cdef gf_int n = X.shape[1], d = n + (1 if intercept else 0), j
    cdef int k = 0, status = MAX_ITER, halvings
    cdef double f = 0.0, gnorm = 0.0, gg, q, eps_step, lr, beta, b1, b2, e, ss, sy, tmp
    cdef double *g = <double *> malloc(d * sizeof(double))
    cdef double *work = <double *> malloc(d * sizeof(double))
    cdef double *v0 = &vecs[0, 0]
    cdef double *v1 = &vecs[1, 0]
    cdef double *pp = &p[0]
    cdef bint have_callback = callback is not None
    P.wf = <float *> malloc(n * sizeof(float))
    P.graw = <double *> malloc(n * sizeof(double))
    if g == NULL or work == NULL or P.wf == NULL or P.graw == NULL:
        free(g); free(work); free(P.wf); free(P.graw)
        raise MemoryError()
    P.X = <const void *> &X[0, 0]
    P.y = <const void *> &y[0]
    P.f32 = floating is float
    P.m = X.shape[0]
    P.n = n
    P.rs = X.strides[0] // sizeof(floating)
    P.cs = X.strides[1] // sizeof(floating)
    P.mu = &mu[0]
    P.intercept = intercept
    P.l2 = l2
    P.elements = 0.0
    try:
        with nogil:
            if code == LIPSCHITZ and scal[S_LIPSCHITZ] == 0.0:
                scal[S_LIPSCHITZ] = lipschitz_estimate(&P, d, <int> params[0], params[1],
                                                       work, g)
                scal[S_STEP] = 1.0 / scal[S_LIPSCHITZ] if scal[S_LIPSCHITZ] > 0 else 0.0
            if code == BACKTRACKING and scal[S_STEP] == 0.0:
                scal[S_STEP] = params[0]
            while True:
                f = evaluate(&P, pp, g, True)
                gg = _dot(g, g, d)
                gnorm = sqrt(gg)
                history[k] = f
                if not (isfinite(f) and isfinite(gnorm)):
                    status = NONFINITE_START if k == 0 else DIVERGED
                    break
                if k == 0:
                    if scal[S_T] == 0:
                        scal[S_G0] = gnorm
                    # On new data a resumed fit may start higher than the first fit did.
                    if f > scal[S_F0]:
                        scal[S_F0] = f
                if f > DIVERGENCE_FACTOR * scal[S_F0] and f > 1e-300:
                    status = DIVERGED
                    break
                if have_callback or P.elements > SIGNAL_CHECK_ELEMENTS:
                    with gil:
                        P.elements = 0.0
                        if PyErr_CheckSignals() != 0:
                            raise KeyboardInterrupt
                        if have_callback and _call(callback, k, p, n, intercept, mu, f):
                            status = STOPPED_BY_CALLBACK
                    if status == STOPPED_BY_CALLBACK:
                        break
                if gnorm <= tol * (scal[S_G0] if scal[S_G0] > 1.0 else 1.0):
                    status = CONVERGED
                    break
                if k == max_iter:
                    status = MAX_ITER
                    break

                # ---- the step rule: p <- p - (something) ----
                if code == FIXED:
                    lr = params[0]
                    for j in range(d):
                        pp[j] -= lr * g[j]
                elif code == LIPSCHITZ:
                    lr = scal[S_STEP]
                    for j in range(d):
                        pp[j] -= lr * g[j]
                elif code == EXACT:
                    q = curvature(&P, g)
                    eps_step = gg / q if q > 0 else 0.0
                    scal[S_STEP] = eps_step
                    for j in range(d):
                        pp[j] -= eps_step * g[j]
                elif code == BACKTRACKING:
                    q = curvature(&P, g)
                    eps_step = scal[S_STEP]
                    halvings = 0
                    # f(p - e g) - f(p) = e (e/2 q - gg) must be <= -c e gg
                    while eps_step * (0.5 * eps_step * q - gg) > -params[2] * eps_step * gg \
                            and halvings < 200:
                        eps_step *= params[1]
                        halvings += 1
                    for j in range(d):
                        pp[j] -= eps_step * g[j]
                    scal[S_STEP] = eps_step * params[3] if params[3] > 0 else params[0]
                elif code == BB:
                    eps_step = 0.0
                    if scal[S_HAVE_PREV] != 0:
                        ss = 0.0
                        sy = 0.0
                        for j in range(d):
                            tmp = pp[j] - v0[j]
                            ss += tmp * tmp
                            sy += tmp * (g[j] - v1[j])
                        if sy > 0:
                            eps_step = ss / sy
                    if eps_step == 0.0:
                        q = curvature(&P, g)
                        eps_step = gg / q if q > 0 else 0.0
                    for j in range(d):
                        v0[j] = pp[j]
                        v1[j] = g[j]
                        pp[j] -= eps_step * g[j]
                    scal[S_HAVE_PREV] = 1.0
                    scal[S_STEP] = eps_step
                elif code == MOMENTUM or code == NESTEROV:
                    lr = params[0]
                    beta = params[1]
                    for j in range(d):
                        v0[j] = beta * v0[j] + g[j]
                        if code == MOMENTUM:
                            pp[j] -= lr * v0[j]
                        else:
                            pp[j] -= lr * (g[j] + beta * v0[j])
                elif code == ADAGRAD:
                    lr = params[0]
                    e = params[1]
                    for j in range(d):
                        v0[j] += g[j] * g[j]
                        pp[j] -= lr * g[j] / (sqrt(v0[j]) + e)
                elif code == RMSPROP:
                    lr = params[0]
                    beta = params[1]
                    e = params[2]
                    for j in range(d):
                        v0[j] = beta * v0[j] + (1.0 - beta) * g[j] * g[j]
                        pp[j] -= lr * g[j] / (sqrt(v0[j]) + e)
                elif code == ADAM:
                    lr = params[0]
                    b1 = params[1]
                    b2 = params[2]
                    e = params[3]
                    tmp = scal[S_T] + 1.0
                    ss = 1.0 - pow(b1, tmp)          # bias corrections
                    sy = sqrt(1.0 - pow(b2, tmp))
                    for j in range(d):
                        v0[j] = b1 * v0[j] + (1.0 - b1) * g[j]
                        v1[j] = b2 * v1[j] + (1.0 - b2) * g[j] * g[j]
                        pp[j] -= (lr / ss) * v0[j] / (sqrt(v1[j]) / sy + e)
                scal[S_T] += 1.0
                k += 1
    finally:
        free(g); free(work); free(P.wf); free(P.graw)
    return k, status, f, gnorm


cdef bint _call(object callback, int k, double[::1] p, gf_int n, bint intercept,
                const double[::1] mu, double f) except -1:
    coef = np.array(p[:n])
    intercept_value = float(p[n] - np.dot(mu, coef)) if intercept else 0.0
    return bool(callback(k, coef, intercept_value, f))
