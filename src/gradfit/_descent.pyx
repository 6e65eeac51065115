# cython: language_level=3
"""Compiled gradient-descent engine: whole loops (gradient, step rule, proximal step, update,
stopping and divergence tests) run here with the GIL released. ``descent.py`` validates the
input and packs the strategy into (code, params); errors are signalled through the returned
status and raised there, after the nogil section.

The parameters p are the coefficients w followed, with an intercept, by c = b + mu.w, where mu
is a shift (the column means in full-batch mode): the model is y ~ (X - 1 mu^T) w + c, whose
Hessian is block-diagonal when mu is the exact mean, without ever forming the centred X. Then
the optimal c is mean(y) whatever w is, so full-batch runs keep c there (its gradient is zero
in exact arithmetic; dropping the rounding noise keeps adaptive rules from amplifying it).
Mini-batch runs shift by the mean of the first batch and learn c like any coordinate.
"""
import numpy as np

from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport sqrt, fabs, pow, isfinite, INFINITY
from libc.stdlib cimport malloc, free, realloc
from libc.string cimport memcpy

from ._blas cimport floating, gemv

from ._kernels cimport (gf_int, gf_residual_gradient_d, gf_residual_gradient_s,
                        gf_residual_sqnorm_d, gf_residual_sqnorm_s, gf_batch_gradient_d,
                        gf_batch_gradient_s, gf_batch_scratch_size)
from ._kernels cimport gf_cpu_avx2
from ._random cimport shuffle as shuffle_rows

# ---------------------------------------------------------------------------------------------
# The contract with descent.py and steps.py, declared here once. Python sees the named enums as
# IntEnum classes (``Rule.ADAM``, ``Status.CONVERGED``) and the scalar state's slots by name
# in STATE_SLOTS; see _descent.pyi.
# ---------------------------------------------------------------------------------------------

cpdef enum Rule:
    """The step rule, ``StepStrategy.code``."""
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
    INVSCALING = 10
    FISTA = 11
    CONJUGATE = 12


cdef struct Scalars:
    # The rule's scalar state, a float64 array on the Python side (it pickles as one array)
    # viewed as this struct: STATE_SLOTS lists the field names in order.
    double t                       # steps taken (Adam's and InverseScaling's t)
    double step_size               # current step size / backtracking's next trial
    double lipschitz               # Lipschitz estimate (0: not yet estimated)
    double objective_start         # largest starting objective seen (divergence reference)
    double grad_norm_start         # gradient(-mapping) norm at the very first start
    double have_previous           # BB / FISTA: the previous point is valid
    double fista_t                 # FISTA's momentum sequence t_k
    double averaged                # iterates averaged so far (mini-batch averaging)
    double best_objective          # best end-of-epoch objective (mini-batch stopping rule)
    double epochs_no_improvement   # epochs without improvement by tol
    double rows_seen               # rows seen by mini-batch steps (when averaging starts)


cdef Scalars _no_scalars

#: The scalar state's names, in the order of its array (Cython converts a struct to a dict in
#: field order).
STATE_SLOTS = tuple(<dict> _no_scalars)
assert sizeof(Scalars) == len(STATE_SLOTS) * sizeof(double)


cpdef enum Status:
    """Why a loop stopped: ``run``'s second return value."""
    CONVERGED = 0
    MAX_ITER = 1
    DIVERGED = 2
    STOPPED_BY_CALLBACK = 3
    NONFINITE_START = 4

# f more than this many times its starting value means the step size is too large.
cdef double DIVERGENCE_FACTOR = 1e6
# Work (elements of X read) between two checks for Ctrl-C: a few milliseconds here.
cdef double SIGNAL_CHECK_ELEMENTS = 1e7


# ---------------------------------------------------------------------------------------------
# The problem and its data source. Every pass reads the data through the function pointers in
# Problem, chosen once in run: passes over X (x_evaluate, x_objective, x_curvature, over the
# kernels of X's precision, x64_* or x32_*) or over the Gram statistics (gram_*). A new source
# (sparse X, say) is a new set of these functions and one more choice in run.
# ---------------------------------------------------------------------------------------------

cdef struct Problem

# f(p) (penalties included) and the gradient g of its smooth part in one pass; with_y false:
# the Hessian-vector product H p in g instead (the value is then unused).
ctypedef double (*evaluate_fn)(Problem *P, const double *p, double *g,
                               bint with_y) noexcept nogil
# f(p), or d^T H d: one pass without the gradient.
ctypedef double (*value_fn)(Problem *P, const double *p) noexcept nogil
# The kernels over X in its precision: X^T W r into P.xtr and sums[0] = sum w_i r_i,
# sums[1] = sum w_i r_i^2, with r = X w + offset - y (without y: X w + offset) ...
ctypedef void (*residual_gradient_fn)(Problem *P, const double *w, bint with_y, double offset,
                                      double *sums) noexcept nogil
# ... sum w_i r_i^2 alone (w may be NULL: r = offset - y) ...
ctypedef double (*residual_sqnorm_fn)(Problem *P, const double *w, bint with_y,
                                      double offset) noexcept nogil
# ... and the gradient sums of k rows (idx[0..k), or start.. when idx is NULL).
ctypedef void (*batch_gradient_fn)(Problem *P, const gf_int *idx, gf_int start, gf_int k,
                                   const double *w, double offset,
                                   double *sums) noexcept nogil


cdef struct Problem:
    const void *X
    const void *y
    const void *weights        # row weights (NULL: unweighted)
    double total_weight        # sum of the weights (m when unweighted): f's 1/(2 total_weight)
    gf_int m
    gf_int n
    gf_int row_stride          # X[i, j] = X[i * row_stride + j * col_stride], in elements
    gf_int col_stride
    const double *shift        # mu: the model is (X - 1 mu^T) w + c
    bint float32_data          # X is float32 (its passes round at float32's level)
    bint intercept
    bint intercept_fixed       # full batch: c stays at its optimum mean(y)
    double l2
    double l1
    float *direction_f32       # float32 copy of a direction, for float32 data
    double *xtr                # X^T r from the kernel
    void *batch_scratch        # mini-batch gather buffer
    double elements            # elements of X (or G) read since the last signal check
    # Precomputed statistics (G NULL: passes over X). G = Xc^T W Xc (n x n, symmetric), xty =
    # Xc^T W yc, yty = yc^T W yc, centred when there is an intercept: full batch keeps c at
    # mean(y), so the residual is yc - Xc w and every pass becomes O(n^2).
    const double *G
    const double *xty
    double yty
    double *gw                 # G w
    # The data source (see above).
    evaluate_fn evaluate
    value_fn objective
    value_fn curvature
    residual_gradient_fn residual_gradient
    residual_sqnorm_fn residual_sqnorm
    batch_gradient_fn batch_gradient_sums
    # Internal standardisation: the iterate holds v = w / scale (and c); the data are read
    # with w = scale * v (NULL: no scaling, p holds w itself). X is never scaled or copied:
    # the scale is applied to the n coefficients before a pass and to the gradient after it,
    # by wrappers around the source's functions (scaled_*), chosen once like the source.
    const double *scale
    double *point_in_units     # (scale * v, c)
    evaluate_fn evaluate_in_units
    value_fn objective_in_units
    value_fn curvature_in_units


cdef double _offset(Problem *P, const double *p) noexcept nogil:
    # x_i.w + offset = (x_i - mu).w + c
    cdef double s = 0.0
    cdef gf_int j
    if not P.intercept:
        return 0.0
    for j in range(P.n):
        s += P.shift[j] * p[j]
    return p[P.n] - s


cdef const double *_in_units(Problem *P, const double *p) noexcept nogil:
    """The point (w, c) in the data's units: p itself without standardisation."""
    cdef gf_int j
    if P.scale == NULL:
        return p
    for j in range(P.n):
        P.point_in_units[j] = P.scale[j] * p[j]
    if P.intercept:
        P.point_in_units[P.n] = p[P.n]
    return P.point_in_units


cdef void _gradient_to_standardised(Problem *P, double *g) noexcept nogil:
    """d f / d v = scale * d f / d w (the intercept's entry is unchanged)."""
    cdef gf_int j
    if P.scale != NULL:
        for j in range(P.n):
            g[j] *= P.scale[j]


cdef const float *_as_float(Problem *P, const double *p) noexcept nogil:
    cdef gf_int j
    for j in range(P.n):
        P.direction_f32[j] = <float> p[j]
    return P.direction_f32


cdef double _penalty(Problem *P, const double *p) noexcept nogil:
    cdef double ww = 0.0, a = 0.0
    cdef gf_int j
    for j in range(P.n):
        ww += p[j] * p[j]
        a += fabs(p[j])
    return 0.5 * P.l2 * ww + P.l1 * a


cdef void _finish_gradient(Problem *P, const double *p, double *g, double sum_r,
                           double inv_k) noexcept nogil:
    """g_w = (X^T r - mu sum r)/k + l2 w, g_c = sum r / k, from P.xtr = X^T r."""
    cdef gf_int j, n = P.n
    for j in range(n):
        g[j] = P.xtr[j] * inv_k + P.l2 * p[j]
        if P.intercept:
            g[j] -= P.shift[j] * sum_r * inv_k
    if P.intercept:
        g[n] = 0.0 if P.intercept_fixed else sum_r * inv_k


# -- the kernels over float64 and float32 X ----------------------------------------------------

cdef void x64_residual_gradient(Problem *P, const double *w, bint with_y, double offset,
                                double *sums) noexcept nogil:
    gf_residual_gradient_d(P.m, P.n, <const double *> P.X, P.row_stride, P.col_stride,
                           <const double *> P.y if with_y else NULL,
                           <const double *> P.weights, w, offset, P.xtr, sums, 0)


cdef void x32_residual_gradient(Problem *P, const double *w, bint with_y, double offset,
                                double *sums) noexcept nogil:
    gf_residual_gradient_s(P.m, P.n, <const float *> P.X, P.row_stride, P.col_stride,
                           <const float *> P.y if with_y else NULL, <const float *> P.weights,
                           _as_float(P, w), offset, P.xtr, sums, 0)


cdef double x64_residual_sqnorm(Problem *P, const double *w, bint with_y,
                                double offset) noexcept nogil:
    return gf_residual_sqnorm_d(P.m, P.n, <const double *> P.X, P.row_stride, P.col_stride,
                                <const double *> P.y if with_y else NULL,
                                <const double *> P.weights, w, offset, 0)


cdef double x32_residual_sqnorm(Problem *P, const double *w, bint with_y,
                                double offset) noexcept nogil:
    return gf_residual_sqnorm_s(P.m, P.n, <const float *> P.X, P.row_stride, P.col_stride,
                                <const float *> P.y if with_y else NULL,
                                <const float *> P.weights,
                                _as_float(P, w) if w != NULL else NULL, offset, 0)


cdef void x64_batch_gradient(Problem *P, const gf_int *idx, gf_int start, gf_int k,
                             const double *w, double offset, double *sums) noexcept nogil:
    gf_batch_gradient_d(k, idx, P.m - start, start, P.n, <const double *> P.X, P.row_stride,
                        P.col_stride, <const double *> P.y, <const double *> P.weights, w,
                        offset, P.xtr, sums, <double *> P.batch_scratch)


cdef void x32_batch_gradient(Problem *P, const gf_int *idx, gf_int start, gf_int k,
                             const double *w, double offset, double *sums) noexcept nogil:
    gf_batch_gradient_s(k, idx, P.m - start, start, P.n, <const float *> P.X, P.row_stride,
                        P.col_stride, <const float *> P.y, <const float *> P.weights,
                        _as_float(P, w), offset, P.xtr, sums, <float *> P.batch_scratch)


# -- passes over X -------------------------------------------------------------------------------

cdef double x_evaluate(Problem *P, const double *p, double *g, bint with_y) noexcept nogil:
    cdef double sums[2]
    P.residual_gradient(P, p, with_y, _offset(P, p), sums)
    P.elements += P.m * P.n
    _finish_gradient(P, p, g, sums[0], 1.0 / P.total_weight)
    return 0.5 * sums[1] / P.total_weight + _penalty(P, p)


cdef double x_objective(Problem *P, const double *p) noexcept nogil:
    cdef double s = P.residual_sqnorm(P, p, True, _offset(P, p))
    P.elements += P.m * P.n
    return 0.5 * s / P.total_weight + _penalty(P, p)


cdef double x_curvature(Problem *P, const double *d) noexcept nogil:
    """d^T H d."""
    cdef double s = P.residual_sqnorm(P, d, False, _offset(P, d))
    P.elements += P.m * P.n
    return s / P.total_weight + P.l2 * _dot(d, d, P.n)


cdef double objective_at_zero(Problem *P, const double *p) noexcept nogil:
    """f(p) for p whose coefficients w are all zero: the residuals are then c - y, so X is not
    read; the value is bit-for-bit that of ``objective`` when X is finite (X's NaN and
    infinities are not seen). Passes over X only."""
    cdef double s = P.residual_sqnorm(P, NULL, True, _offset(P, p))
    return 0.5 * s / P.total_weight + _penalty(P, p)


cdef double batch_gradient(Problem *P, const gf_int *idx, gf_int start, gf_int k,
                           const double *p, double *g) noexcept nogil:
    """Gradient of the smooth part of f on k rows (rows idx[0..k), or start.. when idx is
    NULL, idx pointing at entry start of the epoch's order); returns the batch's estimate of
    f's least-squares term. With weights, sums over the batch are scaled by m / (k wsum): an
    unbiased estimate of the weighted full sums. Passes over X only."""
    cdef double sums[2]
    cdef double offset, weight = P.total_weight * k / P.m
    p = _in_units(P, p)
    offset = _offset(P, p)
    P.batch_gradient_sums(P, idx, start, k, p, offset, sums)
    P.elements += k * P.n
    _finish_gradient(P, p, g, sums[0], 1.0 / weight)
    _gradient_to_standardised(P, g)
    return 0.5 * sums[1] / weight


# -- passes over the Gram statistics ---------------------------------------------------------

cdef double _gram_rss(Problem *P, const double *w, bint with_y) noexcept nogil:
    """P.gw = G w and, from the statistics, ||yc - Xc w||^2 = yty - 2 w.xty + w.G w (with_y)
    or ||Xc w||^2. Cancellation costs about eps * yty absolute: negligible next to the
    residual unless the fit is nearly exact."""
    cdef double s
    gemv(c'N', <int> P.n, <int> P.n, 1.0, P.G, <int> P.n, w, 1, 0.0, P.gw, 1)
    P.elements += P.n * P.n
    s = _dot(w, P.gw, P.n)
    if with_y:
        s += P.yty - 2.0 * _dot(w, P.xty, P.n)
    return s if s > 0.0 else 0.0


cdef double gram_evaluate(Problem *P, const double *p, double *g, bint with_y) noexcept nogil:
    cdef gf_int j
    cdef double rss = _gram_rss(P, p, with_y)
    for j in range(P.n):
        P.xtr[j] = P.gw[j] - P.xty[j] if with_y else P.gw[j]
    # the residual sums to zero: the data are centred and c sits at mean(y)
    _finish_gradient(P, p, g, 0.0, 1.0 / P.total_weight)
    return 0.5 * rss / P.total_weight + _penalty(P, p)


cdef double gram_objective(Problem *P, const double *p) noexcept nogil:
    return 0.5 * _gram_rss(P, p, True) / P.total_weight + _penalty(P, p)


cdef double gram_curvature(Problem *P, const double *d) noexcept nogil:
    """d^T H d: Xc's columns sum to zero, so ||Xc d_w + d_c||^2 = d_w^T G d_w + wsum d_c^2."""
    cdef gf_int n = P.n
    cdef double s = _gram_rss(P, d, False) + (P.total_weight * d[n] * d[n] if P.intercept
                                              else 0.0)
    return s / P.total_weight + P.l2 * _dot(d, d, n)


# -- the standardised view of any source ------------------------------------------------------

cdef double scaled_evaluate(Problem *P, const double *p, double *g,
                            bint with_y) noexcept nogil:
    cdef double f = P.evaluate_in_units(P, _in_units(P, p), g, with_y)
    _gradient_to_standardised(P, g)
    return f


cdef double scaled_objective(Problem *P, const double *p) noexcept nogil:
    return P.objective_in_units(P, _in_units(P, p))


cdef double scaled_curvature(Problem *P, const double *d) noexcept nogil:
    return P.curvature_in_units(P, _in_units(P, d))


cdef void use_scale(Problem *P, const double *scale) noexcept nogil:
    """Read the source through the standardised coordinates v = w / scale."""
    P.scale = scale
    P.evaluate_in_units = P.evaluate
    P.objective_in_units = P.objective
    P.curvature_in_units = P.curvature
    P.evaluate = scaled_evaluate
    P.objective = scaled_objective
    P.curvature = scaled_curvature


cdef double _rounding(Problem *P, double f) noexcept nogil:
    """How much a computed objective near f can rise by rounding alone: residuals lose about
    eps * |y| / |r| to cancellation (more on statistics, and in float32 data)."""
    return (1e-5 if P.float32_data else 1e-10) * fabs(f)


cdef bint _zero_coefficients(const double *p, gf_int n) noexcept nogil:
    cdef gf_int j
    for j in range(n):
        if p[j] != 0.0:
            return False
    return True


cdef double _dot(const double *a, const double *b, gf_int d) noexcept nogil:
    cdef double s = 0.0
    cdef gf_int j
    for j in range(d):
        s += a[j] * b[j]
    return s


cdef void prox_l1(double *p, gf_int n, double t0, const double *scale) noexcept nogil:
    """Soft-thresholding of the coefficients (never the intercept): exact zeros. With
    standardisation the penalty l1 |w_j| is l1 scale_j |v_j|: threshold t0 scale_j."""
    cdef gf_int j
    cdef double t = t0
    for j in range(n):
        if scale != NULL:
            t = t0 * scale[j]
        if p[j] > t:
            p[j] -= t
        elif p[j] < -t:
            p[j] += t
        else:
            p[j] = 0.0


cdef double mapping_norm(Problem *P, const double *p, const double *g, double eps,
                         gf_int d, double *scratch) noexcept nogil:
    """Norm of the proximal gradient mapping (p - prox(p - eps g)) / eps: the gradient itself
    when l1 = 0, and zero exactly at a lasso solution (where the gradient is not)."""
    cdef gf_int j
    if P.l1 == 0.0 or eps <= 0.0:
        return sqrt(_dot(g, g, d))
    for j in range(d):
        scratch[j] = p[j] - eps * g[j]
    prox_l1(scratch, P.n, eps * P.l1, P.scale)
    cdef double s = 0.0, t
    for j in range(d):
        t = (p[j] - scratch[j]) / eps
        s += t * t
    return sqrt(s)


cdef double lipschitz_estimate(Problem *P, gf_int d, int max_iter, double rtol,
                               double *v, double *hv) noexcept nogil:
    """Largest eigenvalue L of H by power iteration: ||H v|| for the last unit vector v, a
    lower bound of L (the loops that use it double it when a step shows it too small)."""
    cdef gf_int j
    cdef int k
    cdef unsigned long long state = 0x9E3779B97F4A7C15ULL
    cdef double nrm, rq = 0.0, rq_old
    # A seeded pseudo-random start (xorshift), symmetric about 0: reproducible, and orthogonal
    # to the top eigenvector only with probability zero. (A start of one sign can be nearly
    # orthogonal to it, and the quotient then settles on a smaller eigenvalue.)
    for j in range(d):
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        v[j] = <double> (state >> 11) / 9007199254740992.0 - 0.5
    if P.intercept_fixed:
        v[P.n] = 0.0
    nrm = sqrt(_dot(v, v, d))
    for j in range(d):
        v[j] /= nrm
    for k in range(max_iter):
        P.evaluate(P, v, hv, False)
        rq_old = rq
        rq = _dot(v, hv, d)
        nrm = sqrt(_dot(hv, hv, d))
        if nrm == 0.0:
            return 0.0
        for j in range(d):
            v[j] = hv[j] / nrm
        if k > 0 and fabs(rq - rq_old) <= rtol * rq:
            break
    # ||H v|| of the unit vector v lies between its Rayleigh quotient and L: the closer one.
    return nrm


# ---------------------------------------------------------------------------------------------
# A loop's state and result.
# ---------------------------------------------------------------------------------------------

cdef struct Loop:
    int rule                 # a Rule
    const double *params     # StepStrategy.params()
    double *point            # the iterate p = (w, c), updated in place
    double *vectors          # the rule's two state vectors, d entries each
    Scalars *scalars         # the rule's scalar state
    double *history          # the objective at every visited point (epoch): record()
    Py_ssize_t history_size  # entries allocated (grown by record())
    double *gradient         # d entries
    double *scratch          # d entries: trial moves, the power iteration's vector
    double *candidate        # d entries: FISTA's next iterate
    gf_int d                 # n, or n + 1 with an intercept
    int max_iter
    double tol


cdef struct LoopResult:
    int status               # a Status
    int n_iter               # steps (epochs) taken
    double objective         # f at the last visited point
    double grad_norm         # gradient (mapping) norm there; 0 for mini-batches


cdef inline LoopResult loop_result(int status, int n_iter, double objective,
                                   double grad_norm) noexcept nogil:
    cdef LoopResult result
    result.status = status
    result.n_iter = n_iter
    result.objective = objective
    result.grad_norm = grad_norm
    return result


# ---------------------------------------------------------------------------------------------
# Step rules. Each takes one step from loop.point along loop.gradient, updating the rule's state
# (loop.vectors, loop.scalars). A new full-batch rule is a function of this shape plus a line
# in full_batch_rule(); a rule that needs only a gradient (mini-batch too) is a branch of
# first_order_step().
# ---------------------------------------------------------------------------------------------

ctypedef void (*full_batch_step)(Problem *P, Loop *loop) noexcept nogil


cdef void descend(double *point, const double *gradient, double step_size,
                  gf_int d) noexcept nogil:
    """point -= step_size * gradient."""
    cdef gf_int j
    for j in range(d):
        point[j] -= step_size * gradient[j]


cdef double first_order_step(int rule, const double *params, double *point,
                             const double *gradient, double *vectors, Scalars *scalars,
                             gf_int d) noexcept nogil:
    """The rules that need nothing but the gradient (full batch or mini-batch); vectors holds
    the rule's two state vectors of d entries (StepStrategy.state_vectors). Returns the step
    size to use for a following proximal step (0 for the adaptive rules)."""
    cdef gf_int j
    cdef double lr = params[0], beta, b1, b2, e, t, bc1, bc2
    cdef double *first = vectors          # velocity, sum of squares, first moment ...
    cdef double *second = vectors + d     # Adam's second moment
    cdef const double *g = gradient
    if rule == FIXED or rule == INVSCALING:
        if rule == INVSCALING:
            lr = params[0] / pow(scalars.t + 1.0, params[1])
        descend(point, g, lr, d)
        return lr
    if rule == MOMENTUM or rule == NESTEROV:
        beta = params[1]
        for j in range(d):
            first[j] = beta * first[j] + g[j]
            if rule == MOMENTUM:
                point[j] -= lr * first[j]
            else:
                point[j] -= lr * (g[j] + beta * first[j])
        return 0.0
    if rule == ADAGRAD:
        e = params[1]
        for j in range(d):
            first[j] += g[j] * g[j]
            point[j] -= lr * g[j] / (sqrt(first[j]) + e)
        return 0.0
    if rule == RMSPROP:
        beta = params[1]
        e = params[2]
        for j in range(d):
            first[j] = beta * first[j] + (1.0 - beta) * g[j] * g[j]
            point[j] -= lr * g[j] / (sqrt(first[j]) + e)
        return 0.0
    if rule == ADAM:
        b1 = params[1]
        b2 = params[2]
        e = params[3]
        t = scalars.t + 1.0
        bc1 = 1.0 - pow(b1, t)
        bc2 = sqrt(1.0 - pow(b2, t))
        for j in range(d):
            first[j] = b1 * first[j] + (1.0 - b1) * g[j]
            second[j] = b2 * second[j] + (1.0 - b2) * g[j] * g[j]
            point[j] -= (lr / bc1) * first[j] / (sqrt(second[j]) / bc2 + e)
        return 0.0
    return 0.0


cdef void first_order_full_step(Problem *P, Loop *loop) noexcept nogil:
    """Fixed, InverseScaling and the adaptive rules on the full gradient; a proximal step
    after those that have one (l1 > 0 is refused for the others)."""
    cdef double step_size = first_order_step(loop.rule, loop.params, loop.point,
                                             loop.gradient, loop.vectors, loop.scalars,
                                             loop.d)
    if P.l1 > 0.0:
        prox_l1(loop.point, P.n, step_size * P.l1, P.scale)


cdef void lipschitz_step(Problem *P, Loop *loop) noexcept nogil:
    """p -= g / L (step_size = 1/L was set before the loop), then the proximal step."""
    descend(loop.point, loop.gradient, loop.scalars.step_size, loop.d)
    if P.l1 > 0.0:
        prox_l1(loop.point, P.n, loop.scalars.step_size * P.l1, P.scale)


cdef void exact_step(Problem *P, Loop *loop) noexcept nogil:
    """The exact line search along -g: step g.g / g.H.g (one pass for the curvature)."""
    cdef double gg = _dot(loop.gradient, loop.gradient, loop.d)
    cdef double q = P.curvature(P, loop.gradient)
    cdef double step_size = gg / q if q > 0 else 0.0
    loop.scalars.step_size = step_size
    descend(loop.point, loop.gradient, step_size, loop.d)


cdef void bb_step(Problem *P, Loop *loop) noexcept nogil:
    """Barzilai-Borwein BB1, s.s / s.y; the first step, and any without positive curvature
    measured (rounding), is an exact step instead."""
    cdef gf_int j, d = loop.d
    cdef double *point = loop.point
    cdef double *gradient = loop.gradient
    cdef double *previous_point = loop.vectors
    cdef double *previous_gradient = loop.vectors + d
    cdef double ss = 0.0, sy = 0.0, s, q, step_size
    if loop.scalars.have_previous == 0:
        memcpy(previous_point, point, d * sizeof(double))
        memcpy(previous_gradient, gradient, d * sizeof(double))
        loop.scalars.have_previous = 1.0
        exact_step(P, loop)
        return
    for j in range(d):
        s = point[j] - previous_point[j]
        ss += s * s
        sy += s * (gradient[j] - previous_gradient[j])
    if sy > 0:
        step_size = ss / sy
    else:
        q = P.curvature(P, gradient)
        step_size = _dot(gradient, gradient, d) / q if q > 0 else 0.0
    loop.scalars.step_size = step_size
    memcpy(previous_point, point, d * sizeof(double))
    memcpy(previous_gradient, gradient, d * sizeof(double))
    descend(point, gradient, step_size, d)


cdef void armijo_step(Problem *P, Loop *loop) noexcept nogil:
    """Armijo backtracking along -g, priced exactly by one curvature pass:
    f(p - e g) - f(p) = e (e/2 q - g.g) must be <= -c e g.g."""
    cdef const double *params = loop.params
    cdef double gg = _dot(loop.gradient, loop.gradient, loop.d)
    cdef double q = P.curvature(P, loop.gradient)
    cdef double step_size = loop.scalars.step_size
    cdef int halvings = 0
    while step_size * (0.5 * step_size * q - gg) > -params[2] * step_size * gg \
            and halvings < 200:
        step_size *= params[1]
        halvings += 1
    descend(loop.point, loop.gradient, step_size, loop.d)
    loop.scalars.step_size = step_size * params[3] if params[3] > 0 else params[0]


cdef void proximal_armijo_step(Problem *P, Loop *loop) noexcept nogil:
    """Proximal backtracking (Beck & Teboulle 2009, sec. 3): accept e when
    f_s(p+) <= f_s(p) + g.D + |D|^2/(2e), D = p+ - p; for this quadratic that is
    D^T H D <= |D|^2 / e, one pass over X per trial."""
    cdef gf_int j, d = loop.d
    cdef const double *params = loop.params
    cdef double *point = loop.point
    cdef double *move = loop.scratch
    cdef double step_size = loop.scalars.step_size, dd
    cdef int halvings = 0
    while True:
        for j in range(d):
            move[j] = point[j] - step_size * loop.gradient[j]
        prox_l1(move, P.n, step_size * P.l1, P.scale)
        dd = 0.0
        for j in range(d):
            move[j] -= point[j]
            dd += move[j] * move[j]
        if dd == 0.0 or halvings >= 200 or P.curvature(P, move) * step_size <= dd:
            break
        step_size *= params[1]
        halvings += 1
    for j in range(d):
        point[j] += move[j]
    loop.scalars.step_size = step_size * params[3] if params[3] > 0 else params[0]


cdef void conjugate_step(Problem *P, Loop *loop) noexcept nogil:
    """Polak-Ribiere+ conjugate gradient (Nocedal & Wright, eqs. 5.44-5.45) with the exact step
    along the direction (one curvature pass): on a quadratic the linear CG method, at most n
    steps in exact arithmetic. State vectors: the direction, the last gradient."""
    cdef gf_int j, d = loop.d
    cdef double *g = loop.gradient
    cdef double *direction = loop.vectors
    cdef double *previous = loop.vectors + d
    cdef double beta = 0.0, gg = _dot(g, g, d), pp, slope, q, step_size
    if loop.scalars.have_previous != 0:
        pp = _dot(previous, previous, d)
        if pp > 0:
            beta = (gg - _dot(g, previous, d)) / pp
        if beta < 0:
            beta = 0.0
    for j in range(d):
        direction[j] = beta * direction[j] - g[j]
        previous[j] = g[j]
    slope = _dot(g, direction, d)
    if slope >= 0:  # not a descent direction (rounding): steepest descent
        for j in range(d):
            direction[j] = -g[j]
        slope = -gg
    q = P.curvature(P, direction)
    step_size = -slope / q if q > 0 else 0.0
    loop.scalars.step_size = step_size
    loop.scalars.have_previous = 1.0
    for j in range(d):
        loop.point[j] += step_size * direction[j]


cdef full_batch_step full_batch_rule(int rule, double l1) noexcept nogil:
    if rule == CONJUGATE:
        return conjugate_step
    if rule == EXACT:
        return exact_step
    if rule == BB:
        return bb_step
    if rule == BACKTRACKING:
        return armijo_step if l1 == 0.0 else proximal_armijo_step
    if rule == LIPSCHITZ:
        return lipschitz_step
    return first_order_full_step


cdef double planned_step_size(Loop *loop) noexcept nogil:
    """The step the rule will take next, for the proximal mapping's norm."""
    if loop.rule == FIXED:
        return loop.params[0]
    if loop.rule == INVSCALING:
        return loop.params[0] / pow(loop.scalars.t + 1.0, loop.params[1])
    return loop.scalars.step_size


# ---------------------------------------------------------------------------------------------
# The loops: full batch (every rule but FISTA), FISTA, mini-batch.
# ---------------------------------------------------------------------------------------------

cdef int check_signals(Problem *P) except -1 with gil:
    P.elements = 0.0
    if PyErr_CheckSignals() != 0:
        return -1
    return 0


cdef int record(Loop *loop, Py_ssize_t k, double f) except -1 nogil:
    """history[k] = f, doubling the buffer when k is past its end: a run takes memory for
    the iterations it makes, not for max_iter (which may be 2**31 - 1)."""
    cdef Py_ssize_t size
    cdef double *grown
    if k >= loop.history_size:
        size = 2 * loop.history_size if 2 * loop.history_size > k else k + 1
        grown = <double *> realloc(loop.history, size * sizeof(double))
        if grown == NULL:
            with gil:
                raise MemoryError()
        loop.history = grown
        loop.history_size = size
    loop.history[k] = f
    return 0


cdef int record_and_test(Problem *P, Loop *loop, int k, double *point, double f, double gnorm,
                         object callback) except -2 nogil:
    """Bookkeeping at every point a full-batch loop visits: history, the references of the
    first start, divergence, Ctrl-C, the callback, the stopping tests. Returns the status to
    stop with, or -1 to go on."""
    cdef Scalars *scalars = loop.scalars
    cdef bint stop
    record(loop, k, f)
    if not (isfinite(f) and isfinite(gnorm)):
        return NONFINITE_START if k == 0 else DIVERGED
    if k == 0 and scalars.t == 0:
        # The references of the very first start: a resumed fit (init=result) keeps them,
        # so that a divergence spread over many short calls is still seen. descent.py may
        # have set the gradient's from w = 0 (a start near the solution has none to offer).
        if scalars.grad_norm_start <= 0:
            scalars.grad_norm_start = gnorm
        if f > scalars.objective_start:
            scalars.objective_start = f
    if f > DIVERGENCE_FACTOR * scalars.objective_start and f > 1e-300:
        return DIVERGED
    if callback is not None or P.elements > SIGNAL_CHECK_ELEMENTS:
        check_signals(P)
        if callback is not None:
            with gil:
                stop = call_user_callback(callback, k, point, P.n, P.intercept, P.shift,
                                          P.scale, f)
            if stop:
                return STOPPED_BY_CALLBACK
    # Relative to the first start's gradient: no absolute floor, so that the test means the
    # same at any scale of the data (descent.py then checks the point itself).
    if gnorm <= loop.tol * scalars.grad_norm_start:
        return CONVERGED
    if k == loop.max_iter:
        return MAX_ITER
    return -1


cdef void prepare_full_batch(Problem *P, Loop *loop) noexcept nogil:
    """The rules' first-step settings: Lipschitz's L (power iteration) and step 1/L,
    backtracking's first trial."""
    cdef Scalars *scalars = loop.scalars
    if loop.rule == LIPSCHITZ and scalars.lipschitz == 0.0:
        scalars.lipschitz = lipschitz_estimate(P, loop.d, <int> loop.params[0],
                                               loop.params[1], loop.scratch, loop.gradient)
        scalars.step_size = 1.0 / scalars.lipschitz if scalars.lipschitz > 0 else 0.0
    if loop.rule == BACKTRACKING and scalars.step_size == 0.0:
        scalars.step_size = loop.params[0]


cdef LoopResult full_batch(Problem *P, Loop *loop, object callback) except *:
    """Full-batch gradient descent (every rule but FISTA): evaluate, record and test, step."""
    cdef int k = 0, status = MAX_ITER
    cdef double f = 0.0, gnorm = 0.0, f_before = 0.0, decrease = 0.0
    cdef bint undo = False
    cdef full_batch_step take_step = full_batch_rule(loop.rule, P.l1)
    with nogil:
        prepare_full_batch(P, loop)
        while True:
            f = P.evaluate(P, loop.point, loop.gradient, True)
            if undo and f - f_before > _rounding(P, f_before) and f - f_before > decrease:
                # A 1/L step increased f, by more than rounding: the estimate of L was too
                # small (a power iteration can stall below L). Go back, double it, step again.
                memcpy(loop.point, loop.candidate, loop.d * sizeof(double))
                loop.scalars.lipschitz *= 2.0
                loop.scalars.step_size = 1.0 / loop.scalars.lipschitz
                undo = False
                continue
            undo = False
            gnorm = mapping_norm(P, loop.point, loop.gradient, planned_step_size(loop),
                                 loop.d, loop.scratch)
            status = record_and_test(P, loop, k, loop.point, f, gnorm, callback)
            if status >= 0:
                break
            if loop.rule == LIPSCHITZ:  # keep the point, to go back if the step goes up
                memcpy(loop.candidate, loop.point, loop.d * sizeof(double))
                f_before = f
                decrease = 0.1 * loop.scalars.step_size * \
                    _dot(loop.gradient, loop.gradient, loop.d)
                undo = True
            take_step(P, loop)
            loop.scalars.t += 1.0
            k += 1
    return loop_result(status, k, f, gnorm)


cdef double prox_gradient_from(Problem *P, Loop *loop, const double *yk,
                               double inv_l) noexcept nogil:
    """FISTA's proximal gradient step from y_k into loop.candidate (the gradient at y_k is in
    loop.gradient); returns the norm of the gradient mapping there."""
    cdef gf_int j, d = loop.d
    cdef double *candidate = loop.candidate
    cdef double gnorm = 0.0
    for j in range(d):
        candidate[j] = yk[j] - inv_l * loop.gradient[j]
    prox_l1(candidate, P.n, inv_l * P.l1, P.scale)
    for j in range(d):
        gnorm += (yk[j] - candidate[j]) * (yk[j] - candidate[j])
    return sqrt(gnorm) / inv_l if inv_l > 0 else 0.0


cdef LoopResult fista(Problem *P, Loop *loop, object callback) except *:
    """FISTA (Beck & Teboulle, SIAM J. Imaging Sci. 2, 2009) with step 1/L and a monotone
    restart: when F(x_k+1) > F(x_k) the step is discarded and the momentum reset (t = 1), so
    the objective never increases (O'Donoghue & Candes, Found. Comput. Math. 15, 2015).
    loop.point holds x_k (the iterate), the first state vector the extrapolated point y_k
    where the gradient is taken."""
    cdef gf_int j, d = loop.d
    cdef int k = 0, status = MAX_ITER
    cdef double f = 0.0, f_new, gnorm = 0.0, inv_l, t, t_new, beta
    cdef double *x = loop.point
    cdef double *yk = loop.vectors
    cdef double *xn = loop.candidate
    cdef Scalars *scalars = loop.scalars
    with nogil:
        if scalars.lipschitz == 0.0:
            scalars.lipschitz = lipschitz_estimate(P, d, <int> loop.params[0], loop.params[1],
                                                   loop.scratch, loop.gradient)
        inv_l = 1.0 / scalars.lipschitz if scalars.lipschitz > 0 else 0.0
        scalars.step_size = inv_l
        if scalars.have_previous == 0:
            memcpy(yk, x, d * sizeof(double))
            scalars.fista_t = 1.0
            scalars.have_previous = 1.0
        f = P.objective(P, x)
        while True:
            P.evaluate(P, yk, loop.gradient, True)
            gnorm = prox_gradient_from(P, loop, yk, inv_l)
            status = record_and_test(P, loop, k, x, f, gnorm, callback)
            if status >= 0:
                break
            f_new = P.objective(P, xn)
            t = scalars.fista_t
            # Restart: keep x_k, drop the momentum. A step from y_k = x_k (t = 1) is a plain
            # proximal gradient step, which cannot increase f with a step <= 1/L: when it
            # does, beyond rounding, the estimate of L was too small: double it.
            if f_new > f and t > 1.0:
                scalars.fista_t = 1.0
                memcpy(yk, x, d * sizeof(double))
            elif f_new - f > _rounding(P, f):
                scalars.lipschitz *= 2.0
                inv_l = 1.0 / scalars.lipschitz
                scalars.step_size = inv_l
            else:
                t_new = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t))
                beta = (t - 1.0) / t_new
                for j in range(d):
                    yk[j] = xn[j] + beta * (xn[j] - x[j])
                    x[j] = xn[j]
                scalars.fista_t = t_new
                f = f_new
            scalars.t += 1.0
            k += 1
    return loop_result(status, k, f, gnorm)


cdef struct MiniBatch:
    gf_int batch_size
    bint shuffle             # a new random order each epoch (else storage order)
    unsigned long long *rng  # xoshiro256** state, 4 words
    gf_int *order            # the epoch's row order (shuffle only)
    double *average          # running average of the iterates (NULL: none)
    double average_start     # rows seen before averaging starts
    int n_iter_no_change
    double callback_below    # the callback sees epochs whose objective is at most this


cdef double *reported_point(Loop *loop, MiniBatch *mb) noexcept nogil:
    """The point a mini-batch fit reports: the average once averaging has begun."""
    return mb.average if mb.average != NULL and loop.scalars.averaged > 0 else loop.point


cdef int end_of_epoch(Problem *P, Loop *loop, MiniBatch *mb, int epoch, double f,
                      object callback) except -2 nogil:
    """Bookkeeping after each epoch (and at the start): history, divergence, the stopping
    rule with patience on the full objective (penalties included), Ctrl-C, the callback.
    Returns the status to stop with, or -1 to go on."""
    cdef Scalars *scalars = loop.scalars
    cdef bint stop
    record(loop, epoch, f)
    if not isfinite(f):
        return NONFINITE_START if epoch == 0 else DIVERGED
    if epoch == 0 and scalars.t == 0 and f > scalars.objective_start:
        scalars.objective_start = f
    if f > DIVERGENCE_FACTOR * scalars.objective_start and f > 1e-300:
        return DIVERGED
    if epoch > 0:
        if f > scalars.best_objective - loop.tol * fabs(scalars.best_objective):
            scalars.epochs_no_improvement += 1.0
        else:
            scalars.epochs_no_improvement = 0.0
        if f < scalars.best_objective:
            scalars.best_objective = f
    elif scalars.t == 0 or f < scalars.best_objective:
        scalars.best_objective = f
    check_signals(P)
    if callback is not None and f <= mb.callback_below:
        with gil:
            stop = call_user_callback(callback, epoch, reported_point(loop, mb), P.n,
                                      P.intercept, P.shift, P.scale, f)
        if stop:
            return STOPPED_BY_CALLBACK
    if epoch > 0 and scalars.epochs_no_improvement >= mb.n_iter_no_change:
        return CONVERGED
    if epoch == loop.max_iter:
        return MAX_ITER
    return -1


cdef int one_epoch(Problem *P, Loop *loop, MiniBatch *mb, double *blown_up) except -2 nogil:
    """Every row once, one step per batch, averaging the iterates when asked. Returns -1 after
    a full epoch, else DIVERGED with the batch objective that blew up (not finite, or a
    million times the start's) in blown_up."""
    cdef gf_int j, start = 0, k, m = P.m, d = loop.d
    cdef double fb, step_size, count
    cdef Scalars *scalars = loop.scalars
    if mb.shuffle:  # from the identity, so an epoch depends only on the generator
        for j in range(m):
            mb.order[j] = j
        shuffle_rows(mb.order, m, mb.rng)
    while start < m:
        k = mb.batch_size if start + mb.batch_size <= m else m - start
        fb = batch_gradient(P, &mb.order[start] if mb.shuffle else NULL, start, k,
                            loop.point, loop.gradient)
        if not isfinite(fb) or fb > DIVERGENCE_FACTOR * scalars.objective_start * m / k:
            blown_up[0] = fb
            return DIVERGED
        step_size = first_order_step(loop.rule, loop.params, loop.point, loop.gradient,
                                     loop.vectors, scalars, d)
        if P.l1 > 0.0:
            prox_l1(loop.point, P.n, step_size * P.l1, P.scale)
        scalars.t += 1.0
        scalars.rows_seen += k
        if mb.average != NULL and scalars.rows_seen > mb.average_start:
            scalars.averaged += 1.0
            count = scalars.averaged
            for j in range(d):
                mb.average[j] += (loop.point[j] - mb.average[j]) / count
        if P.elements > SIGNAL_CHECK_ELEMENTS:
            check_signals(P)
        start += k
    return -1


cdef LoopResult mini_batch(Problem *P, Loop *loop, MiniBatch *mb, object callback) except *:
    """Mini-batch SGD: max_iter epochs, each visiting every row once. history[e] is the exact
    objective of the reported point after e epochs: the average of the iterates since
    ``average_start`` rows were seen when averaging (and it has begun), else the last
    iterate."""
    cdef int epoch = 0, status = MAX_ITER
    cdef double f
    cdef double *start_point = reported_point(loop, mb)
    if mb.shuffle:
        mb.order = <gf_int *> malloc(P.m * sizeof(gf_int))
        if mb.order == NULL:
            raise MemoryError()
    try:
        with nogil:
            # A fit from scratch starts at w = 0, where f needs y alone: a pass over X saved
            # (a tenth of an epoch). X's non-finite values then surface in the first batch
            # that holds one, as a non-finite batch objective (descent.py says which).
            if _zero_coefficients(start_point, P.n):
                f = objective_at_zero(P, start_point)
            else:
                f = P.objective(P, start_point)
            while True:
                status = end_of_epoch(P, loop, mb, epoch, f, callback)
                if status >= 0:
                    break
                status = one_epoch(P, loop, mb, &f)  # f: the batch objective that blew up
                if status >= 0:
                    break
                epoch += 1
                f = P.objective(P, reported_point(loop, mb))
    finally:
        free(mb.order)
        mb.order = NULL
    return loop_result(status, epoch, f, 0.0)


# ---------------------------------------------------------------------------------------------
# The entry point.
# ---------------------------------------------------------------------------------------------

cdef void describe_data(Problem *P, const floating[:, :] X, const floating[::1] y,
                        const floating[::1] sample_weight) noexcept:
    """The data's pointers, layout and total weight; passes over X in its precision."""
    cdef gf_int i
    P.X = <const void *> &X[0, 0]
    P.y = <const void *> &y[0]
    P.weights = <const void *> &sample_weight[0] if sample_weight is not None else NULL
    P.m = X.shape[0]
    P.n = X.shape[1]
    P.row_stride = X.strides[0] // sizeof(floating)
    P.col_stride = X.strides[1] // sizeof(floating)
    P.total_weight = X.shape[0]
    if sample_weight is not None:
        P.total_weight = 0.0
        for i in range(X.shape[0]):
            P.total_weight += sample_weight[i]
    P.float32_data = floating is float
    if floating is float:
        P.residual_gradient = x32_residual_gradient
        P.residual_sqnorm = x32_residual_sqnorm
        P.batch_gradient_sums = x32_batch_gradient
    else:
        P.residual_gradient = x64_residual_gradient
        P.residual_sqnorm = x64_residual_sqnorm
        P.batch_gradient_sums = x64_batch_gradient
    P.evaluate = x_evaluate
    P.objective = x_objective
    P.curvature = x_curvature
    P.G = NULL
    P.xty = NULL


cdef void use_gram(Problem *P, const double[:, ::1] G, const double[::1] xty, double yty,
                   double total_weight) noexcept:
    """Full-batch passes over the Gram statistics instead of X (see Problem)."""
    P.G = &G[0, 0]
    P.xty = &xty[0]
    P.yty = yty
    P.total_weight = total_weight
    P.evaluate = gram_evaluate
    P.objective = gram_objective
    P.curvature = gram_curvature


cdef int allocate_buffers(Problem *P, Loop *loop, size_t batch_scratch_bytes) except -1:
    """The engine's scratch buffers (all NULL first, so that free_buffers may always run)."""
    cdef gf_int n = P.n, d = loop.d
    P.direction_f32 = <float *> malloc(n * sizeof(float))
    P.xtr = <double *> malloc(n * sizeof(double))
    P.gw = <double *> malloc(n * sizeof(double))
    P.point_in_units = <double *> malloc(d * sizeof(double))
    P.batch_scratch = malloc(batch_scratch_bytes) if batch_scratch_bytes > 0 else NULL
    loop.gradient = <double *> malloc(d * sizeof(double))
    loop.scratch = <double *> malloc(d * sizeof(double))
    loop.candidate = <double *> malloc(d * sizeof(double))
    # a first history buffer for up to 1024 points; record() grows it
    loop.history_size = loop.max_iter + 1 if loop.max_iter < 1024 else 1024
    loop.history = <double *> malloc(loop.history_size * sizeof(double))
    if P.direction_f32 == NULL or P.xtr == NULL or P.gw == NULL or P.point_in_units == NULL \
            or loop.gradient == NULL \
            or loop.scratch == NULL or loop.candidate == NULL or loop.history == NULL \
            or (batch_scratch_bytes > 0 and P.batch_scratch == NULL):
        raise MemoryError()
    return 0


cdef void free_buffers(Problem *P, Loop *loop) noexcept:
    free(P.direction_f32)
    free(P.xtr)
    free(P.gw)
    free(P.point_in_units)
    free(P.batch_scratch)
    free(loop.gradient)
    free(loop.scratch)
    free(loop.candidate)
    free(loop.history)


def run(*, const floating[:, :] X, const floating[::1] y, const floating[::1] sample_weight,
        const double[::1] shift, bint fit_intercept, bint intercept_fixed, double l2,
        double l1, int rule, const double[::1] params, double[::1] point,
        double[:, ::1] vectors, double[::1] scalars, int max_iter, double tol,
        object callback, Py_ssize_t batch_size=0, bint shuffle=False,
        unsigned long long[::1] rng=None, double[::1] average=None,
        double average_start=0.0, int n_iter_no_change=5, double callback_below=INFINITY,
        const double[:, ::1] G=None,
        const double[::1] xty=None, double yty=0.0, double gram_weight=0.0,
        const double[::1] scale=None):
    """Run up to ``max_iter`` steps (epochs when ``batch_size`` > 0) of ``rule`` from
    ``point``, updating ``point``, ``vectors`` and ``scalars`` (the rule's state, slots in
    STATE_SLOTS) in place. Returns ``(n_iter, status, objective, grad_norm, history)``,
    history (n_iter + 1 values) holding the objective at every visited point (epoch). Full
    batch with ``G`` (see ``Problem``): every pass uses the statistics G, xty, yty of total
    row weight ``gram_weight`` instead of X (which is then not read). With ``scale`` the
    coefficients of ``point`` (and the rule's state) are standardised, v = w / scale.
    Arguments by keyword only; their types are in _descent.pyi."""
    cdef Problem P
    cdef Loop loop
    cdef MiniBatch mb
    cdef LoopResult result
    cdef gf_int n = X.shape[1], d = n + (1 if fit_intercept else 0)
    cdef double[::1] history
    _check_run_arguments(X.shape[0], n, d, y.shape[0], sample_weight is None or
                         sample_weight.shape[0] == X.shape[0], shift, point, vectors, scalars,
                         max_iter, batch_size, rng, average, G, xty, scale)
    describe_data(&P, X, y, sample_weight)
    P.shift = &shift[0]
    P.intercept = fit_intercept
    P.intercept_fixed = fit_intercept and intercept_fixed
    P.l2 = l2
    P.l1 = l1
    P.elements = 0.0
    if G is not None:
        use_gram(&P, G, xty, yty, gram_weight)
    P.scale = NULL
    if scale is not None:
        use_scale(&P, &scale[0])
    loop.rule = rule
    loop.params = &params[0]
    loop.point = &point[0]
    loop.vectors = &vectors[0, 0]
    loop.scalars = <Scalars *> &scalars[0]
    loop.history = NULL
    loop.d = d
    loop.max_iter = max_iter
    loop.tol = tol
    loop.gradient = loop.scratch = loop.candidate = NULL
    P.direction_f32 = NULL
    P.xtr = NULL
    P.gw = NULL
    P.point_in_units = NULL
    P.batch_scratch = NULL
    try:
        allocate_buffers(&P, &loop, gf_batch_scratch_size(n) * sizeof(floating)
                         if batch_size > 0 else 0)
        if batch_size > 0:
            mb.batch_size = batch_size
            mb.shuffle = shuffle
            mb.rng = &rng[0]
            mb.order = NULL
            mb.average = &average[0] if average is not None else NULL
            mb.average_start = average_start
            mb.n_iter_no_change = n_iter_no_change
            mb.callback_below = callback_below
            result = mini_batch(&P, &loop, &mb, callback)
        elif rule == FISTA:
            result = fista(&P, &loop, callback)
        else:
            result = full_batch(&P, &loop, callback)
        out = np.empty(result.n_iter + 1)
        history = out
        memcpy(&history[0], loop.history, (result.n_iter + 1) * sizeof(double))
    finally:
        free_buffers(&P, &loop)
    return result.n_iter, result.status, result.objective, result.grad_norm, out


def _check_run_arguments(m, n, d, m_y, weights_ok, shift, point, vectors, scalars,
                         max_iter, batch_size, rng, average, G, xty, scale=None):
    """run's arrays must fit one another: the engine reads and writes them without bounds
    checks. descent.py validates everything first; this is the last line against a call
    that did not."""
    problems = []
    if m_y != m or not weights_ok or shift.shape[0] != n or m < 1 or n < 1:
        problems.append("X, y, sample_weight and shift disagree in length")
    if point.shape[0] != d or vectors.shape[0] != 2 or vectors.shape[1] != d \
            or (average is not None and average.shape[0] != d):
        problems.append(f"point, vectors[0], vectors[1] and average must have {d} entries")
    if scalars.shape[0] != len(STATE_SLOTS):
        problems.append(f"scalars must have {len(STATE_SLOTS)} slots")
    if max_iter < 1:
        problems.append("max_iter must be >= 1")
    if batch_size < 0 or batch_size > m:
        problems.append("batch_size must be in [0, m]")
    if batch_size > 0 and (rng is None or rng.shape[0] != 4 or not any(rng)):
        problems.append("rng must be 4 uint64, not all zero (xoshiro256**)")
    if G is not None and (G.shape[0] != n or G.shape[1] != n or xty is None
                          or xty.shape[0] != n):
        problems.append("G must be n x n and xty of length n")
    if scale is not None and scale.shape[0] != n:
        problems.append("scale must have n entries")
    if problems:
        raise ValueError("_descent.run: " + "; ".join(problems) + " (see _descent.pyi).")


cdef bint call_user_callback(object callback, int k, double *p, gf_int n, bint intercept,
                             const double *mu, const double *scale, double f) except -1:
    coef = np.array(<double[:n]> p)
    if scale != NULL:
        coef *= np.asarray(<double[:n]> <double *> scale)
    intercept_value = float(p[n] - np.dot(np.asarray(<double[:n]> <double *> mu), coef)) \
        if intercept else 0.0
    return bool(callback(k, coef, intercept_value, f))


def _kernel_isa():
    """The C kernels this module runs: ``"avx2-fma"``, or ``"portable"`` (a CPU without AVX2 and
    FMA, a build for another architecture, or ``GRADFIT_PORTABLE=1`` when it was imported)."""
    return "avx2-fma" if gf_cpu_avx2() else "portable"
