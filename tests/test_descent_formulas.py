"""Each step strategy applies exactly the update rule it documents.

* The lecture's worked examples, run through gradient_descent: one Fixed step on
  x^2 - 4x + 5 from 0 with ε = 0.1 gives 0.4; W = [1, 2] with gradient [2.5, -1.2] gives
  [0.75, 2.12].
* The first three iterates of Fixed, Momentum, Nesterov, AdaGrad, RMSprop, Adam (torch.optim
  semantics), Barzilai-Borwein and Armijo backtracking equal a NumPy transcription of the
  published formulas, written here with a NumPy gradient; without an intercept, and with one
  (in the engine's (w, c = b + mean(X)·w) parametrization, from a start whose c is not
  optimal).
* Backtracking never increases the objective (grow=2 and grow=None); the exact line search's
  step is gᵀg / gᵀHg, the minimiser along the ray; Lipschitz's estimate is λmax(H) to 1%.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np
import pytest

import gradfit
from descent_problems import (
    engine_gradient,
    engine_objective,
    from_engine,
    hessian,
    make_problem,
    to_engine,
)
from gradfit import steps

# These tests check the textbook iteration, in the data's own coordinates.
gradient_descent = functools.partial(gradfit.gradient_descent, standardize=False)


def run(X, y, step, *, max_iter, init=None, fit_intercept=False, l2=0.0):
    """gradient_descent with tol=0, recording (coef, intercept) at every visited point."""
    points = []

    def record(k, coef, intercept, objective):
        assert k == len(points)
        points.append((coef.copy(), intercept))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        res = gradient_descent(X, y, step=step, l2=l2, fit_intercept=fit_intercept,
                                       tol=0.0, max_iter=max_iter, init=init, callback=record)
    assert res.n_iter == max_iter
    np.testing.assert_array_equal(points[-1][0], res.coef)
    return res, points


# ---------------------------------------------------------------------------------------
# (a) The lecture's worked examples.

def test_lecture_one_dimensional_example():
    # f(x) = x^2 - 4x + 5 has gradient 2x - 4. As least squares with m = 1 and no intercept:
    # f = 1/2 (2√2 - √2 x)^2 = x^2 - 4x + 4, the same function up to a constant.
    X = np.array([[math.sqrt(2.0)]])
    y = np.array([2.0 * math.sqrt(2.0)])
    assert engine_gradient(X, y, 0.0, np.array([0.0]), False)[0] == pytest.approx(-4.0)
    with pytest.warns(gradfit.ConvergenceWarning):
        res = gradient_descent(X, y, step=steps.Fixed(0.1), fit_intercept=False,
                                       max_iter=1, tol=0, init=[0.0])
    assert res.n_iter == 1
    assert res.coef[0] == pytest.approx(0.4, rel=1e-12)
    # f(0) = 4 and f(0.4) = 0.16 - 1.6 + 4 in the least-squares form.
    np.testing.assert_allclose(res.loss_history, [4.0, 2.56], rtol=1e-12)


def test_lecture_two_dimensional_example():
    # X = √m·I with m = 2 makes X^T X / m = I, so the gradient is W - X^T y / m; choose y so
    # that it is [2.5, -1.2] at W = [1, 2].
    m = 2
    X = math.sqrt(m) * np.eye(2)
    W = np.array([1.0, 2.0])
    grad = np.array([2.5, -1.2])
    y = np.linalg.solve(X.T / m, W - grad)
    np.testing.assert_allclose(engine_gradient(X, y, 0.0, W, False), grad, rtol=1e-12)
    with pytest.warns(gradfit.ConvergenceWarning):
        res = gradient_descent(X, y, step=steps.Fixed(0.1), fit_intercept=False,
                                       max_iter=1, tol=0, init=W)
    np.testing.assert_allclose(res.coef, [0.75, 2.12], rtol=1e-12)


# ---------------------------------------------------------------------------------------
# (b) The first three updates against a NumPy transcription of the published formulas.

def reference_iterates(step, grad, f, hess, p0, n_steps):
    """p_0 .. p_n_steps under ``step``: torch.optim's SGD (momentum, nesterov=True), Adagrad,
    RMSprop and Adam (bias-corrected) update rules, Barzilai-Borwein's BB1 (first step exact)
    and Armijo backtracking (Nocedal & Wright, Algorithm 3.1), written out in NumPy."""
    p = p0.astype(np.float64).copy()
    out = [p.copy()]
    buf = None                      # SGD momentum buffer (torch: clone of g on the 1st step)
    acc = np.zeros_like(p)          # Adagrad state_sum / RMSprop square_avg
    exp_avg = np.zeros_like(p)      # Adam
    exp_avg_sq = np.zeros_like(p)
    prev = None                     # BB: previous (p, g)
    trial = getattr(step, "initial", None)
    for t in range(1, n_steps + 1):
        g = grad(p)
        if isinstance(step, steps.Fixed):
            p = p - step.learning_rate * g
        elif isinstance(step, (steps.Momentum, steps.Nesterov)):
            buf = g.copy() if buf is None else step.beta * buf + g
            d = g + step.beta * buf if isinstance(step, steps.Nesterov) else buf
            p = p - step.learning_rate * d
        elif isinstance(step, steps.AdaGrad):
            acc = acc + g * g
            p = p - step.learning_rate * g / (np.sqrt(acc) + step.eps)
        elif isinstance(step, steps.RMSprop):
            acc = step.rho * acc + (1 - step.rho) * g * g
            p = p - step.learning_rate * g / (np.sqrt(acc) + step.eps)
        elif isinstance(step, steps.Adam):
            exp_avg = step.beta1 * exp_avg + (1 - step.beta1) * g
            exp_avg_sq = step.beta2 * exp_avg_sq + (1 - step.beta2) * g * g
            bias_correction1 = 1 - step.beta1 ** t
            bias_correction2 = 1 - step.beta2 ** t
            step_size = step.learning_rate / bias_correction1
            denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + step.eps
            p = p - step_size * exp_avg / denom
        elif isinstance(step, steps.BarzilaiBorwein):
            if prev is None:
                eps = (g @ g) / (g @ hess @ g)
            else:
                s, yv = p - prev[0], g - prev[1]
                eps = (s @ s) / (s @ yv)
            prev = (p, g)
            p = p - eps * g
        elif isinstance(step, steps.Backtracking):
            eps = trial
            while f(p - eps * g) > f(p) - step.c * eps * (g @ g):
                eps *= step.shrink
            p = p - eps * g
            trial = step.initial if step.grow is None else eps * step.grow
        else:  # pragma: no cover
            raise AssertionError(step)
        out.append(p.copy())
    return out


FORMULA_STEPS = [
    steps.Fixed(0.05),
    steps.Momentum(learning_rate=0.05, beta=0.8),
    steps.Nesterov(learning_rate=0.05, beta=0.8),
    # eps of the order of sqrt(accumulator): whether it sits inside or outside the root shows.
    steps.AdaGrad(learning_rate=0.1, eps=0.1),
    steps.RMSprop(learning_rate=0.01, rho=0.9, eps=0.1),
    steps.Adam(learning_rate=0.1, beta1=0.8, beta2=0.95, eps=0.1),
    steps.BarzilaiBorwein(),
    steps.Backtracking(initial=1.0, shrink=0.5, c=0.3, grow=2.0),
    steps.Backtracking(initial=1.0, shrink=0.7, c=1e-4, grow=None),
]


def small_problem():
    X, y = make_problem(m=40, n=3, seed=7)
    return X, y, 0.1, np.array([0.3, -0.2, 0.5])   # X, y, l2, starting coefficients


@pytest.mark.parametrize("step", FORMULA_STEPS, ids=repr)
def test_first_three_updates_without_intercept(step):
    X, y, l2, w0 = small_problem()
    # The problem is one where backtracking from 1.0 has to backtrack (L > 2).
    assert np.linalg.eigvalsh(hessian(X, l2, False)).max() > 2.0
    res, points = run(X, y, step, max_iter=3, init=w0, l2=l2)
    expected = reference_iterates(
        step, lambda p: engine_gradient(X, y, l2, p, False),
        lambda p: engine_objective(X, y, l2, p, False), hessian(X, l2, False), w0, 3)
    for k, ((coef, intercept), p) in enumerate(zip(points, expected, strict=True)):
        np.testing.assert_allclose(coef, p, rtol=1e-12, atol=1e-14, err_msg=f"iterate {k}")
        assert intercept == 0.0


@pytest.mark.parametrize("step", FORMULA_STEPS, ids=repr)
def test_first_three_updates_with_intercept(step):
    # Full batch eliminates the intercept: c stays at mean(y), so w follows the centred
    # problem's gradient and b = mean(y) - mean(X)·w at every iterate, whatever intercept the
    # start (here a result whose intercept was replaced) carried.
    X, y, l2, w0 = small_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        fresh = gradient_descent(X, y, step=step, l2=l2, init=w0,
                                         callback=lambda *args: True)
    assert fresh.n_iter == 0 and fresh.state["t"] == 0
    b_opt = float(y.mean() - X.mean(axis=0) @ w0)
    assert fresh.intercept == pytest.approx(b_opt, rel=1e-14)
    start = dataclasses.replace(fresh, intercept=b_opt + 0.7)
    res, points = run(X, y, step, max_iter=3, init=start, fit_intercept=True, l2=l2)
    p0 = to_engine(X, w0, b_opt, True)
    expected = reference_iterates(
        step, lambda p: engine_gradient(X, y, l2, p, True),
        lambda p: engine_objective(X, y, l2, p, True), hessian(X, l2, True), p0, 3)
    for k, ((coef, intercept), p) in enumerate(zip(points, expected, strict=True)):
        w, b = from_engine(X, p, True)
        np.testing.assert_allclose(coef, w, rtol=1e-12, atol=1e-14, err_msg=f"iterate {k}")
        assert intercept == pytest.approx(b, rel=1e-12, abs=1e-14), f"iterate {k}"
        assert intercept == pytest.approx(float(y.mean() - X.mean(axis=0) @ coef), rel=1e-12)
    assert res.intercept == points[-1][1]


@pytest.mark.parametrize("n_steps", [1, 2, 3])
def test_max_iter_gives_the_same_iterates_as_the_callback(n_steps):
    X, y, l2, w0 = small_problem()
    step = steps.Adam(learning_rate=0.1, beta1=0.8, beta2=0.95, eps=0.1)
    _, points = run(X, y, step, max_iter=3, init=w0, l2=l2)
    with pytest.warns(gradfit.ConvergenceWarning):
        res = gradient_descent(X, y, step=step, l2=l2, fit_intercept=False, tol=0,
                                       max_iter=n_steps, init=w0)
    np.testing.assert_array_equal(res.coef, points[n_steps][0])


# ---------------------------------------------------------------------------------------
# (c) Line searches and the Lipschitz estimate.

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("grow", [2.0, None])
def test_backtracking_never_increases_the_objective(grow, fit_intercept):
    X, y = make_problem(seed=3)
    step = steps.Backtracking(grow=grow)
    # The first trial step 1.0 is beyond 2/L, where a fixed step would increase f.
    assert step.initial > 2.0 / np.linalg.eigvalsh(hessian(X, 0.1, fit_intercept)).max()
    res = gradient_descent(X, y, step=step, l2=0.1, fit_intercept=fit_intercept,
                                   tol=1e-10, max_iter=5000)
    assert res.converged
    h = res.loss_history
    assert len(h) > 20
    # Non-increasing up to the rounding of f itself (near the end, Armijo's decrease
    # c ε gᵀg drops below one ulp of f and evaluated values can tie or tick by an ulp).
    rise = np.diff(h) - 4 * np.finfo(np.float64).eps * h[1:]
    assert np.all(rise <= 0.0), (rise.argmax(), np.diff(h).max())
    # Every step that changes f above rounding level decreases it.
    assert np.sum(np.diff(h) < -1e-12 * h[1:]) >= 10


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_line_search_takes_the_minimising_step(fit_intercept):
    X, y = make_problem(seed=4)
    l2 = 0.1
    w0 = np.linspace(-1.0, 1.0, X.shape[1])
    with pytest.warns(gradfit.ConvergenceWarning):
        res = gradient_descent(X, y, step=steps.ExactLineSearch(), l2=l2,
                                       fit_intercept=fit_intercept, tol=0, max_iter=1,
                                       init=w0)
    p0 = to_engine(X, w0, float(y.mean() - X.mean(axis=0) @ w0), fit_intercept)
    g = engine_gradient(X, y, l2, p0, fit_intercept)
    H = hessian(X, l2, fit_intercept)
    eps = (g @ g) / (g @ H @ g)
    assert res.state["step_size"] == pytest.approx(eps, rel=1e-12)
    w1, b1 = from_engine(X, p0 - eps * g, fit_intercept)
    np.testing.assert_allclose(res.coef, w1, rtol=1e-12)
    assert res.intercept == pytest.approx(b1, rel=1e-12, abs=1e-14)
    # Minimiser along the ray: a slightly shorter or longer step would do worse.
    f_after = res.loss_history[1]
    assert f_after == pytest.approx(engine_objective(X, y, l2, p0 - eps * g, fit_intercept),
                                    rel=1e-12)
    for factor in (1 - 1e-3, 1 + 1e-3):
        assert f_after < engine_objective(X, y, l2, p0 - factor * eps * g, fit_intercept)


@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("case", ["intercept", "no_intercept", "intercept_curvature_on_top"])
def test_lipschitz_estimates_the_largest_eigenvalue(case, l2):
    fit_intercept = case != "no_intercept"
    # scale 0.2: columns of scale 0.2..0.6, so Xc^T Xc / m + l2 I has λmax < 1; the eliminated
    # intercept must not contribute a curvature of 1 (as an explicit intercept would).
    X, y = make_problem(seed=5, scale=0.2 if case == "intercept_curvature_on_top" else 1.0)
    eig = np.linalg.eigvalsh(hessian(X, l2, fit_intercept))
    L = eig.max()
    if case == "intercept_curvature_on_top":
        assert L < 0.6
    if case == "intercept":
        # The estimate must be the centred one, not that of the raw [X, 1] Gram matrix.
        A = np.column_stack([X, np.ones(len(X))])
        raw = np.linalg.eigvalsh(A.T @ A / len(X)).max()
        assert raw > 1.5 * L
    with pytest.warns(gradfit.ConvergenceWarning):
        res = gradient_descent(X, y, step=steps.Lipschitz(), l2=l2,
                                       fit_intercept=fit_intercept, tol=0, max_iter=1)
    assert res.state["lipschitz"] == pytest.approx(L, rel=1e-2)
    # ... and the step it takes is 1 / (that estimate).
    assert res.state["step_size"] == pytest.approx(1.0 / res.state["lipschitz"], rel=1e-15)
    p0 = to_engine(X, np.zeros(X.shape[1]), float(y.mean()), fit_intercept)
    w1, _ = from_engine(X, p0 - res.state["step_size"] * engine_gradient(X, y, l2, p0,
                                                                         fit_intercept),
                        fit_intercept)
    np.testing.assert_allclose(res.coef, w1, rtol=1e-12)
