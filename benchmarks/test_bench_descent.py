"""pytest-benchmark suite of the iterative solvers (float64): gradient descent, mini-batch SGD,
FISTA for the lasso, and the streaming NormalAccumulator.

Groups, each comparing like with like:

* ``gd {m}x{n} Fixed k={k}``: k full-batch steps with the fixed rate 1/L, no intercept:
  ``gradient_descent(X, y, step=steps.Fixed(1/L), fit_intercept=False, max_iter=k, tol=0)``
  vs the NumPy loop ``r = X @ w - y; g = X.T @ r / m; w -= lr * g`` (per-iteration time =
  time / k). Both must give the same coefficients to 1e-10 (relative).
* ``sgd 100000x100 to 1e-3``: one run to a relative objective gap (f - f*)/f* <= 1e-3 on a
  noisy problem: gradfit's fastest configuration (``reference.SGD_BATCH``, Fixed rate
  ``reference.sgd_rate``, averaging from a tenth of the first epoch: one epoch), scikit-learn's
  SGDRegressor at its best setting found (invscaling, eta0=0.03, average=True: one epoch) and
  at its defaults with average=True (two epochs), and the NumPy mini-batch loop with gradfit's
  setting. Each checks that the gap it reached is <= 1e-3.
* ``lasso 20000x200 to 1e-8``: gradfit's FISTA (precompute=True: on the Gram statistics, and
  False: passes over X) vs scikit-learn's Lasso (coordinate descent, precompute=False and
  True), each at the loosest tolerance that reaches a relative objective gap of 1e-8
  (``reference.LASSO_TOL``), checked.
* ``accumulator 100000x100``: NormalAccumulator fed 100 chunks of 1000 rows, then solved, vs
  solve_normal on all rows in one call (both fit_intercept=True), checked against NumPy.

None asserts a speed: read ratios within one run, or use ``compare_descent.py`` (interleaved
rounds, searches the settings again, bandwidth, time-to-solution table). CI runs the suite
once with ``--benchmark-disable``. The BLAS/OpenMP thread limit is ``--gradfit-threads``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.linear_model import Lasso, SGDRegressor

import gradfit
import reference as ref
from gradfit import steps
from gradfit.errors import ConvergenceWarning

GD_RTOL = 1e-10


def _quiet(f, *args, **kwargs):
    """Calls f with the ConvergenceWarnings that tol=0 / fixed-epoch runs give by design
    silenced (max_iter is the point of these runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SkConvergenceWarning)
        return f(*args, **kwargs)


# --- full-batch gradient descent, per iteration ----------------------------------------------

def _gd_sizes():
    return [pytest.param(m, n, id=f"{m}x{n}",
                         marks=pytest.mark.benchmark(
                             group=f"gd {m}x{n} Fixed k={ref.GD_ITERS[(m, n)]}"))
            for m, n in ref.GD_SIZES]


def _gradfit_gd(X, y, lr, k):
    # standardize=False: the textbook iteration the NumPy loop runs
    return _quiet(gradfit.gradient_descent, X, y, step=steps.Fixed(lr), fit_intercept=False,
                  max_iter=k, tol=0, standardize=False).coef


@pytest.mark.parametrize("impl", ["gradfit", "numpy"])
@pytest.mark.parametrize("m, n", _gd_sizes())
def test_gd_fixed(benchmark, problem, gd_reference, m, n, impl):
    X, y, _ = problem(m, n)
    lr, k, w_numpy = gd_reference(m, n)
    benchmark.extra_info.update(iterations=k, bytes_of_X=X.nbytes)
    if impl == "gradfit":
        coef = benchmark(_gradfit_gd, X, y, lr, k)
        want = w_numpy
    else:
        coef = benchmark(ref.numpy_gd, X, y, lr, k)
        want = _gradfit_gd(X, y, lr, k)  # the independent implementation
    assert coef.dtype == np.float64 and coef.shape == (n,)
    np.testing.assert_allclose(coef, want, rtol=GD_RTOL, atol=GD_RTOL * np.abs(want).max())
    # k steps of 1/L from zero moved towards the solution: the objective went down.
    assert ref.objective(X, y, coef) < ref.objective(X, y, np.zeros(n))


# --- mini-batch SGD to a relative objective gap of 1e-3 ---------------------------------------

def _sgd_gradfit(X, y, lr):
    m = X.shape[0]
    return _quiet(gradfit.gradient_descent, X, y, step=steps.Fixed(lr),
                  batch_size=ref.SGD_BATCH, max_iter=ref.SGD_EPOCHS, tol=0,
                  average=int(ref.SGD_AVERAGE_FRACTION * m), random_state=0,
                  standardize=False)  # the rate is the raw problem's (ref.sgd_rate)


def _sgd_sklearn(X, y, params):
    return _quiet(SGDRegressor(penalty=None, tol=None, random_state=0, **params).fit, X, y)


@pytest.mark.benchmark(group=f"sgd {ref.SGD_SIZE[0]}x{ref.SGD_SIZE[1]} to {ref.SGD_TARGET:g}")
@pytest.mark.parametrize("impl", ["gradfit", "sklearn_best", "sklearn_default_avg", "numpy"])
def test_sgd_time_to_target(benchmark, sgd_problem, impl):
    X, y, fstar = sgd_problem
    m = X.shape[0]
    lr = ref.sgd_rate(X, ref.SGD_BATCH)  # derived from the data once, outside the timing
    if impl == "gradfit":
        res = benchmark(_sgd_gradfit, X, y, lr)
        coef, intercept = res.coef, res.intercept
        assert res.n_iter == ref.SGD_EPOCHS and res.solver == "sgd"
        # gradfit's own record of the objective agrees with the direct computation
        assert res.objective == pytest.approx(ref.objective(X, y, coef, intercept), rel=1e-9)
    elif impl.startswith("sklearn"):
        params = ref.SGD_SKLEARN_BEST if impl == "sklearn_best" else ref.SGD_SKLEARN_DEFAULT_AVG
        est = benchmark(_sgd_sklearn, X, y, params)
        coef, intercept = est.coef_, float(est.intercept_[0])
        assert est.n_iter_ == params["max_iter"]
    else:
        coef, intercept = benchmark(ref.numpy_sgd, X, y, lr, ref.SGD_EPOCHS, ref.SGD_BATCH,
                                    seed=0,
                                    average_start=int(ref.SGD_AVERAGE_FRACTION * m))
    gap = (ref.objective(X, y, coef, intercept) - fstar) / fstar
    benchmark.extra_info["relative_gap"] = gap
    assert 0 <= gap <= ref.SGD_TARGET, f"{impl}: relative objective gap {gap:.2e}"


# --- lasso to a relative objective gap of 1e-8 --------------------------------------------------

@pytest.mark.benchmark(group=f"lasso {ref.LASSO_SIZE[0]}x{ref.LASSO_SIZE[1]} to "
                             f"{ref.LASSO_TARGET:g}")
@pytest.mark.parametrize("impl", ["fista_gram", "fista", "sklearn", "sklearn_gram"])
def test_lasso_time_to_target(benchmark, lasso_problem, impl):
    X, y, l1, fstar = lasso_problem
    gram = impl.endswith("_gram")
    if impl.startswith("fista"):
        res = benchmark(_quiet, gradfit.gradient_descent, X, y, step="fista", l1=l1,
                        tol=ref.LASSO_TOL[impl], max_iter=100000, precompute=gram)
        assert res.converged
        coef, intercept = res.coef, res.intercept
    else:
        est = benchmark(_quiet, Lasso(alpha=l1, tol=ref.LASSO_TOL[impl], max_iter=100000,
                                      precompute=gram).fit, X, y)
        coef, intercept = est.coef_, est.intercept_
    gap = (ref.objective(X, y, coef, intercept, l1=l1) - fstar) / fstar
    benchmark.extra_info["relative_gap"] = gap
    assert gap <= ref.LASSO_TARGET, f"{impl}: relative objective gap {gap:.2e}"
    # l1 was chosen so that about half the coefficients are exactly zero
    assert 90 <= int((coef == 0).sum()) <= 110


# --- streaming accumulator vs one call -------------------------------------------------------

def _accumulate(X_chunks, y_chunks):
    acc = gradfit.NormalAccumulator()
    for Xc, yc in zip(X_chunks, y_chunks, strict=True):
        acc.update(Xc, yc)
    return acc.solve(fit_intercept=True)


@pytest.mark.benchmark(group="accumulator 100000x100")
@pytest.mark.parametrize("impl", ["accumulator_100_chunks", "solve_normal"])
def test_accumulator(benchmark, problem, expected, impl):
    m, n = 100000, 100
    X, y, _ = problem(m, n)
    if impl == "solve_normal":
        res = benchmark(gradfit.solve_normal, X, y, fit_intercept=True)
    else:
        res = benchmark(_accumulate, np.split(X, 100), np.split(y, 100))  # views, no copies
    want_coef, want_intercept = expected(m, n, True)
    scale = np.abs(want_coef).max()
    np.testing.assert_allclose(res.coef, want_coef, rtol=1e-9, atol=1e-9 * scale)
    assert abs(res.intercept - want_intercept) <= 1e-9 * max(scale, abs(want_intercept))
