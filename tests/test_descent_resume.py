"""Resuming a fit with init=<FitResult> carries on exactly where it stopped.

For every strategy, 100 iterations and then 100 more from the first result give the same
coef, intercept and loss history (to 1e-10) as 200 iterations in one call, with an intercept
and with tol=0 so that nothing stops early; also when the intermediate result went through
pickle, and when it is reused twice (resuming does not modify it). With the default step the
earlier strategy continues; new data are accepted; a resumed fit on bad data still reports
bad data; hyper-parameters passed with the resume are used.
"""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import gradfit
from descent_problems import engine_gradient, hessian, make_problem, to_engine
from gradfit import steps

N_FIRST = N_SECOND = 100


def problem(dtype=np.float64):
    return make_problem(dtype=dtype)   # m=500, n=8, the suite's well-conditioned problem


def all_strategies():
    """Every strategy, with rates derived from the problem (1/L, 0.5/L) or small enough to
    be still moving after 200 iterations."""
    X, _ = problem()
    L = np.linalg.eigvalsh(hessian(X, 0.1, True)).max()
    return [steps.Fixed(1.0 / L), steps.Lipschitz(), steps.ExactLineSearch(),
            steps.Backtracking(), steps.Backtracking(grow=None), steps.BarzilaiBorwein(),
            steps.Momentum(0.5 / L), steps.Nesterov(0.5 / L), steps.AdaGrad(0.5),
            steps.RMSprop(0.01), steps.Adam(0.05)]


STRATEGIES = all_strategies()


def fit(X, y, step, max_iter, init=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        return gradfit.gradient_descent(X, y, step=step, l2=0.1, tol=0.0, max_iter=max_iter,
                                        init=init, **kwargs)


def assert_same_run(first, second, whole):
    assert first.n_iter == N_FIRST and second.n_iter == N_SECOND
    assert whole.n_iter == N_FIRST + N_SECOND
    np.testing.assert_allclose(second.coef, whole.coef, rtol=1e-10)
    assert second.intercept == pytest.approx(whole.intercept, rel=1e-10)
    # The second run starts where the first ended: same point, same objective.
    assert second.loss_history[0] == pytest.approx(first.loss_history[-1], rel=1e-12)
    history = np.concatenate([first.loss_history, second.loss_history[1:]])
    np.testing.assert_allclose(history, whole.loss_history, rtol=1e-10)
    assert second.state["t"] == whole.state["t"] == N_FIRST + N_SECOND
    for name in whole.step.state_vectors:
        # Relative to the vector's size where the fit was resumed (near convergence a
        # velocity or gradient is itself at rounding level, and the intercept's entry can be).
        scale = max(np.abs(whole.state[name]).max(), np.abs(first.state[name]).max())
        np.testing.assert_allclose(second.state[name], whole.state[name], rtol=0,
                                   atol=1e-10 * scale, err_msg=name)


@pytest.mark.parametrize("step", STRATEGIES, ids=repr)
def test_resume_equals_one_long_run(step):
    X, y = problem()
    whole = fit(X, y, step, N_FIRST + N_SECOND)
    first = fit(X, y, step, N_FIRST)
    second = fit(X, y, step, N_SECOND, init=first)
    assert_same_run(first, second, whole)
    assert second.step == step


@pytest.mark.parametrize("step", STRATEGIES, ids=repr)
def test_resume_after_pickle_round_trip(step):
    X, y = problem()
    whole = fit(X, y, step, N_FIRST + N_SECOND)
    first = pickle.loads(pickle.dumps(fit(X, y, step, N_FIRST)))
    second = fit(X, y, step, N_SECOND, init=first)
    assert_same_run(first, second, whole)


@pytest.mark.parametrize("step", [steps.Adam(0.05), steps.BarzilaiBorwein(),
                                  steps.Momentum(0.02)], ids=repr)
def test_resuming_does_not_modify_the_result_it_starts_from(step):
    X, y = problem()
    first = fit(X, y, step, N_FIRST)
    saved = {k: np.array(v, copy=True) for k, v in first.state.items()}
    a = fit(X, y, step, N_SECOND, init=first)
    b = fit(X, y, step, N_SECOND, init=first)
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    for k, v in saved.items():
        np.testing.assert_array_equal(first.state[k], v)


def test_resume_float32_carries_on_exactly():
    # The engine's iterate is float64 also for float32 data ("the iterate and the
    # optimiser's state are float64"), and resuming is documented to carry the point on
    # exactly; so 100 + 100 iterations must equal 200 in float32 too.
    X, y = problem(np.float32)
    step = steps.Fixed(0.05)
    whole = fit(X, y, step, N_FIRST + N_SECOND)
    first = fit(X, y, step, N_FIRST)
    second = fit(X, y, step, N_SECOND, init=first)
    assert_same_run(first, second, whole)


def test_default_step_continues_the_earlier_strategy():
    X, y = problem()
    step = steps.Adam(0.05)
    whole = fit(X, y, step, N_FIRST + N_SECOND)
    first = fit(X, y, step, N_FIRST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        second = gradfit.gradient_descent(X, y, l2=0.1, tol=0.0, max_iter=N_SECOND,
                                          init=first)
    assert second.step == step
    assert_same_run(first, second, whole)


def test_resume_on_new_data_takes_the_same_step_as_from_the_same_point():
    # Fixed has no state beyond the point, so resuming on new data is one Fixed step from
    # the earlier result's coef on the new data, the intercept at its optimum for that data.
    X, y = problem()
    first = fit(X, y, steps.Fixed(0.05), 10, standardize=False)  # the textbook step
    X2, y2 = make_problem(seed=99)
    second = fit(X2, y2, steps.Fixed(0.05), 1, init=first)
    p0 = np.append(first.coef, y2.mean())
    p1 = p0 - 0.05 * engine_gradient(X2, y2, 0.1, p0, True)
    np.testing.assert_allclose(second.coef, p1[:-1], rtol=1e-12)
    assert second.intercept == pytest.approx(p1[-1] - X2.mean(axis=0) @ p1[:-1], rel=1e-12)


def test_resume_on_new_data_with_a_larger_objective_is_not_divergence():
    # Resuming "on the same or on new data" is documented. The divergence test compares f
    # with the objective at the *first* fit's start, so new data whose objective is large
    # from the outset is reported as divergence at iteration 0, before any step.
    X, y = problem()
    first = fit(X, y, steps.Fixed(0.05), 10)
    second = fit(X, 1e4 * y, steps.Fixed(0.05), 10, init=first)
    assert second.n_iter == 10
    assert second.loss_history[-1] < second.loss_history[0]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("bad", ["X", "y"])
def test_resume_on_data_with_nan_raises_value_error(bad, fit_intercept):
    # A fresh fit on such data raises ValueError; a resumed one must too (not a
    # DivergenceError blaming the step size).
    X, y = problem()
    first = fit(X, y, steps.Fixed(0.05), 5, fit_intercept=fit_intercept)
    X, y = X.copy(), y.copy()
    if bad == "X":
        X[7, 2] = np.nan
    else:
        y[7] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit(X, y, steps.Fixed(0.05), 5, init=first, fit_intercept=fit_intercept)


def test_resume_with_new_hyperparameters_uses_them():
    # init=<result> with a strategy of the same type but another learning rate (e.g. to
    # continue RMSprop or Fixed with a smaller rate) continues with the new rate.
    X, y = problem()
    first = fit(X, y, steps.Fixed(0.05), 10, standardize=False)  # the textbook step
    second = fit(X, y, steps.Fixed(0.01), 1, init=first)
    assert second.step == steps.Fixed(0.01), f"ran {second.step!r}"
    p0 = to_engine(X, first.coef, first.intercept, True)
    p1 = p0 - 0.01 * engine_gradient(X, y, 0.1, p0, True)
    np.testing.assert_allclose(second.coef, p1[:-1], rtol=1e-12)
    assert second.intercept == pytest.approx(p1[-1] - X.mean(axis=0) @ p1[:-1], rel=1e-12)
