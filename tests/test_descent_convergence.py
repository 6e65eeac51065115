"""gradient_descent reaches solve_normal's solution, for every step strategy.

Checked on one well-conditioned problem (m=500, n=8, columns of scales 1..3 with nonzero means,
condition number of the Hessian about 10-20), with and without intercept, l2 in {0, 0.1}, in
float64 and float32, from the default start:

* every converging strategy stops with ``converged=True`` and coef / intercept within 1e-6
  (float64) or 1e-3 (float32) relative error of solve_normal's. Learning rates are derived
  from the problem here, never tuned: 1/L for Fixed and 0.5/L for Momentum / Nesterov (L the
  largest Hessian eigenvalue, computed with NumPy), the RMS coordinate of the distance to the
  solution for AdaGrad / Adam;
* RMSprop, which with a constant rate only hovers around the optimum, ends at a distance
  that shrinks about tenfold when its rate shrinks tenfold;
* C- and F-ordered X give the same answer to 1e-12.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradfit
from descent_problems import hessian, make_problem, objective, rel_err
from gradfit import steps

N = 8   # columns of make_problem()
# tol bounds the relative error of the standardised coefficients (and tol**2 the relative
# objective gap), measured before converged=True is reported.
TOL = {np.float64: 1e-8, np.float32: 1e-4}
ACCURACY = {np.float64: 1e-6, np.float32: 1e-3}
CONVERGING = ["fixed", "lipschitz", "exact", "backtracking", "bb", "momentum", "nesterov",
              "adagrad", "adam"]


def strategy(name, X, y, l2, fit_intercept):
    """The strategy called ``name``, its learning rate derived from this problem."""
    L = np.linalg.eigvalsh(hessian(X, l2, fit_intercept)).max()
    exact = gradfit.solve_normal(np.asarray(X, np.float64), np.asarray(y, np.float64), l2=l2,
                                 fit_intercept=fit_intercept)
    # AdaGrad's first step moves every coordinate by ~lr (g / |g|), and Adam moves each by at
    # most ~lr per step: the natural rate is the size of the way each coordinate has to go,
    # the RMS coordinate of w* - w0 (w0 = 0 by default; with an intercept c starts optimal).
    travel = float(np.linalg.norm(exact.coef) / np.sqrt(X.shape[1]))
    return {
        "fixed": steps.Fixed(1.0 / L),            # the textbook safe step, < 2/L
        "lipschitz": steps.Lipschitz(),
        "exact": steps.ExactLineSearch(),
        "backtracking": steps.Backtracking(),
        "bb": steps.BarzilaiBorwein(),
        "momentum": steps.Momentum(0.5 / L),      # lr·λ < 2(1+β) for stability; 0.5/L is
        "nesterov": steps.Nesterov(0.5 / L),      # well inside it for both forms
        "adagrad": steps.AdaGrad(travel),
        "adam": steps.Adam(travel),
        "rmsprop": steps.RMSprop(travel),
    }[name]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_problem_is_well_conditioned(l2, fit_intercept):
    X, y = make_problem()
    n = X.shape[1]
    eig = np.linalg.eigvalsh(hessian(X, l2, fit_intercept)[:n, :n])  # without the fixed c
    assert 5 <= eig.max() / eig.min() <= 60
    if fit_intercept:  # intercepts are compared relatively: keep them away from 0
        assert abs(gradfit.solve_normal(X, y, l2=l2).intercept) > 0.5


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("l2", [0.0, 0.1], ids=["l2=0", "l2=0.1"])
@pytest.mark.parametrize("name", CONVERGING)
def test_reaches_normal_equations_solution(name, l2, fit_intercept, dtype):
    X, y = make_problem(dtype=dtype)
    step = strategy(name, X, y, l2, fit_intercept)
    ref = gradfit.solve_normal(X, y, l2=l2, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("error", gradfit.ConvergenceWarning)
        # standardize=False: the learning rates above are derived from the raw Hessian
        res = gradfit.gradient_descent(X, y, step=step, l2=l2, fit_intercept=fit_intercept,
                                       tol=TOL[dtype], max_iter=5000, standardize=False)
    assert res.converged, res.message
    assert res.coef.dtype == dtype
    assert res.coef.shape == (N,)
    assert rel_err(res.coef, ref.coef) <= ACCURACY[dtype]
    if fit_intercept:
        assert abs(res.intercept - ref.intercept) <= ACCURACY[dtype] * abs(ref.intercept)
    else:
        assert res.intercept == 0.0
    # The reported objective is f at the returned point (evaluated here in float64; not
    # compared with ref.objective, which solve_normal derives from its float32 statistics),
    # and the history ends with it.
    assert res.loss_history[-1] == res.objective
    f_res = objective(X, y, l2, res.coef, res.intercept)
    f_ref = objective(X, y, l2, ref.coef, ref.intercept)
    assert res.objective == pytest.approx(f_res, rel=1e-12 if dtype == np.float64 else 1e-5)
    assert f_res == pytest.approx(f_ref, rel=ACCURACY[dtype])


def _rmsprop_distance(X, y, fit_intercept, rate, ref):
    """Mean distance of (coef, intercept) to the optimum over the last 200 of a run long
    enough for RMSprop to arrive (each step moves a coordinate by ~rate at most)."""
    n_iter = int(20 * np.linalg.norm(ref.coef) / np.sqrt(N) / rate) + 400
    dist = []

    def record(k, coef, intercept, objective):
        if k > n_iter - 200:
            dist.append(np.sqrt(np.sum((coef - ref.coef) ** 2)
                                + (intercept - ref.intercept) ** 2))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        gradfit.gradient_descent(X, y, step=steps.RMSprop(rate), fit_intercept=fit_intercept,
                                 tol=0.0, max_iter=n_iter, callback=record)
    assert len(dist) == 200
    return float(np.mean(dist))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rmsprop_hovers_in_a_neighbourhood_proportional_to_the_rate(fit_intercept):
    X, y = make_problem()
    ref = gradfit.solve_normal(X, y, fit_intercept=fit_intercept)
    travel = float(np.linalg.norm(ref.coef) / np.sqrt(N))
    near = _rmsprop_distance(X, y, fit_intercept, 1e-2 * travel, ref)
    nearer = _rmsprop_distance(X, y, fit_intercept, 1e-3 * travel, ref)
    # It does get close (within a few rates of the optimum, relative to ||w*|| ~ 3)...
    assert near < 10 * 1e-2 * travel * np.sqrt(N + 1)
    # ... and the neighbourhood scales with the rate.
    assert 4.0 <= near / nearer <= 25.0


@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
@pytest.mark.parametrize("name", CONVERGING)
def test_c_and_f_order_give_the_same_answer(name, fit_intercept):
    # RMSprop is left out: it never settles, and where it hovers is decided by rounding.
    # tol=1e-10 puts both answers within ~1e-10 (standardised coefficients, measured) of the
    # optimum: at a looser tol the adaptive strategies can stop at different (equally valid)
    # points, because the intercept's gradient starts at rounding level (c starts optimal)
    # and they normalise it. standardize=False: the rates are derived from the raw Hessian.
    X, y = make_problem()
    XF = np.asfortranarray(X)
    assert XF.flags.f_contiguous and not XF.flags.c_contiguous
    step = strategy(name, X, y, 0.1, fit_intercept)
    kwargs = dict(step=step, l2=0.1, fit_intercept=fit_intercept, tol=1e-10, max_iter=5000,
                  standardize=False)
    res_c = gradfit.gradient_descent(X, y, **kwargs)
    res_f = gradfit.gradient_descent(XF, y, **kwargs)
    assert res_c.converged and res_f.converged
    assert rel_err(res_f.coef, res_c.coef) <= 1e-12
    assert res_f.intercept == pytest.approx(res_c.intercept, rel=1e-12, abs=0)
