"""pytest-benchmark suite of the exact solver, ``gradfit.solve_normal`` (float64).

Groups, one per size and variant, so that each table compares like with like:

* ``{m}x{n} fit_intercept=False``: gradfit vs ``np.linalg.solve(X.T @ X, X.T @ y)`` vs SciPy's
  ``cho_factor/cho_solve`` on X.T @ X;
* ``{m}x{n} fit_intercept=True``: the same, the references centring X and y first;
* ``{m}x{n} gram``: gradfit's one-pass Gram step (``_normal.gram_pass``) vs NumPy's ``X.T @ X``;
* ``dgemm 2000``: the machine's dgemm rate, to judge the Gram step by (extra_info has flops).

Every test checks the result of the call it timed; none asserts speed (timings are noisy on a
shared machine: read ratios within one run, or use ``compare_normal.py``). CI runs the suite
once with ``--benchmark-disable``. The BLAS thread limit is ``--gradfit-threads`` (default 1).
"""
from __future__ import annotations

import numpy as np
import pytest

import gradfit
import reference as ref
from gradfit import _normal


def _sizes(variant):
    """The sizes as parameters, each marked with its benchmark group ``"{m}x{n} {variant}"``."""
    return [pytest.param(m, n, id=f"{m}x{n}",
                         marks=pytest.mark.benchmark(group=f"{m}x{n} {variant}"))
            for m, n in ref.SIZES]

RTOL = 1e-9  # gradfit vs reference: both solve a well-conditioned (cond < 1e4) system


def _gradfit(X, y, fit_intercept):
    res = gradfit.solve_normal(X, y, fit_intercept=fit_intercept)
    return res.coef, res.intercept


NO_INTERCEPT = {
    "gradfit": lambda X, y: _gradfit(X, y, False),
    "numpy_solve": lambda X, y: (ref.numpy_solve(X, y), 0.0),
    "scipy_cho": lambda X, y: (ref.scipy_cho(X, y), 0.0),
}
WITH_INTERCEPT = {
    "gradfit": lambda X, y: _gradfit(X, y, True),
    "numpy_solve_centered": ref.numpy_solve_centered,
    "scipy_cho_centered": ref.scipy_cho_centered,
}


def _check(coef, intercept, want_coef, want_intercept):
    coef = np.asarray(coef)
    assert coef.dtype == np.float64 and coef.shape == want_coef.shape
    scale = np.abs(want_coef).max()
    np.testing.assert_allclose(coef, want_coef, rtol=RTOL, atol=RTOL * scale)
    assert abs(intercept - want_intercept) <= RTOL * max(scale, abs(want_intercept))


def _cross_check(name, X, y, fit_intercept, expected, m, n):
    """What the timed result must match: the NumPy reference's answer for gradfit and SciPy,
    gradfit's for the NumPy reference (always an independent implementation)."""
    if name.startswith("numpy"):
        return _gradfit(X, y, fit_intercept)
    return expected(m, n, fit_intercept)


@pytest.mark.parametrize("name", list(NO_INTERCEPT))
@pytest.mark.parametrize("m, n", _sizes("fit_intercept=False"))
def test_fit_no_intercept(benchmark, problem, expected, m, n, name):
    X, y, _ = problem(m, n)
    coef, intercept = benchmark(NO_INTERCEPT[name], X, y)
    _check(coef, intercept, *_cross_check(name, X, y, False, expected, m, n))
    assert intercept == 0.0


@pytest.mark.parametrize("name", list(WITH_INTERCEPT))
@pytest.mark.parametrize("m, n", _sizes("fit_intercept=True"))
def test_fit_intercept(benchmark, problem, expected, m, n, name):
    X, y, w_true = problem(m, n)
    coef, intercept = benchmark(WITH_INTERCEPT[name], X, y)
    _check(coef, intercept, *_cross_check(name, X, y, True, expected, m, n))
    # The model is right with an intercept: the truth is recovered up to the noise.
    np.testing.assert_allclose(coef, w_true, atol=1e-2)
    assert abs(intercept - ref.INTERCEPT) < 5e-2


@pytest.mark.parametrize("impl", ["gradfit_gram_pass", "numpy_XtX"])
@pytest.mark.parametrize("m, n", _sizes("gram"))
def test_gram(benchmark, problem, m, n, impl):
    """The Gram step alone (m*n^2 flops for the syrk): gradfit's pass, which also forms X^T y
    and y^T y, vs NumPy's ``X.T @ X`` (a syrk too)."""
    benchmark.extra_info["flops"] = m * n * n
    X, y, _ = problem(m, n)
    if impl == "gradfit_gram_pass":
        # A private function whose leading items change (weights were added); G, X^T y and
        # y^T y are always the last three.
        G, xty, yty = benchmark(_normal.gram_pass, X, y, False)[-3:]
        np.testing.assert_allclose(xty, X.T @ y, rtol=1e-12, atol=1e-12 * np.abs(xty).max())
        np.testing.assert_allclose(yty, y @ y, rtol=1e-12)
    else:
        G = benchmark(lambda A: A.T @ A, X)
    # A few columns against a gemm, and exact symmetry.
    cols = np.unique(np.linspace(0, n - 1, 4).astype(int))
    want = X.T @ np.ascontiguousarray(X[:, cols])
    np.testing.assert_allclose(G[:, cols], want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    np.testing.assert_array_equal(G, G.T)


@pytest.mark.benchmark(group="dgemm 2000")
def test_dgemm_rate(benchmark):
    """The machine's dgemm rate (2 N^3 flops) at the session's thread limit."""
    A, B = ref.dgemm_operands(2000)
    benchmark.extra_info["flops"] = 2 * 2000 ** 3
    C = benchmark(ref.dgemm, A, B)
    for i, j in [(0, 0), (1234, 567), (1999, 1999)]:
        assert C[i, j] == pytest.approx(A[i] @ B[:, j], rel=1e-12, abs=1e-10)


REFINEMENT_ROWS = 100000


@pytest.mark.benchmark(group=f"{REFINEMENT_ROWS}x7 refinement")
@pytest.mark.parametrize("design", ["well_conditioned", "polynomial"])
def test_refinement_cost(benchmark, design):
    """``solve_normal`` with an intercept on a well-conditioned 100000x7 problem (no
    refinement) and on a degree-7 polynomial design on [0, 1] (rcond ~ 2e-10: refinement runs);
    compare_normal.py reports their ratio (target <= 4)."""
    if design == "polynomial":
        X, y = ref.make_polynomial_problem(REFINEMENT_ROWS, 7)
    else:
        X, y, _ = ref.make_problem(REFINEMENT_ROWS, 7)
    res = benchmark(gradfit.solve_normal, X, y)
    assert (res.refinement_steps >= 1) == (design == "polynomial"), res
    # checked against an independent backward-stable solver: lstsq on [X, 1]; the refined
    # answer is at least as accurate as lstsq's (kappa(X) eps ~ 1e-11 here)
    A = np.column_stack([X, np.ones(len(y))])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(res.coef, sol[:-1], rtol=1e-7, atol=1e-7 * np.abs(sol).max())
