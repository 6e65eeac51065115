"""The public surface of gradient_descent and gradfit.steps: errors and warnings, strategy
names, validation of hyper-parameters and of the input, immutability, the callback protocol
and pickling of the result."""
from __future__ import annotations

import dataclasses
import pickle
import warnings

import numpy as np
import pytest

import gradfit
from descent_problems import hessian, make_problem, objective
from gradfit import steps

NAMES = {
    "fixed": steps.Fixed, "lipschitz": steps.Lipschitz, "exact": steps.ExactLineSearch,
    "backtracking": steps.Backtracking, "bb": steps.BarzilaiBorwein,
    "momentum": steps.Momentum, "nesterov": steps.Nesterov, "adagrad": steps.AdaGrad,
    "rmsprop": steps.RMSprop, "adam": steps.Adam,
}


@pytest.fixture(scope="module")
def problem():
    return make_problem(m=100, n=4, seed=11)


def quiet_fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        return gradfit.gradient_descent(*args, **kwargs)


# ----------------------------------------------------------------------------- outcomes

def test_too_large_fixed_rate_raises_divergence_error(problem):
    X, y = problem
    L = np.linalg.eigvalsh(hessian(X, 0.0, True)).max()
    with pytest.raises(gradfit.DivergenceError) as info:
        gradfit.gradient_descent(X, y, step=steps.Fixed(10 * 2 / L), max_iter=1000)
    message = str(info.value)
    assert "Fixed" in message
    assert "backtracking" in message
    assert isinstance(info.value, RuntimeError)


def test_max_iter_reached_warns_and_reports_not_converged(problem):
    X, y = problem
    with pytest.warns(gradfit.ConvergenceWarning, match="3 iterations"):
        res = gradfit.gradient_descent(X, y, step="fixed", max_iter=3)
    assert res.converged is False
    assert res.n_iter == 3
    assert len(res.loss_history) == 4
    assert res.solver == "gradient_descent"
    assert "max_iter" in res.message


def test_converged_fit_does_not_warn(problem):
    X, y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gradfit.gradient_descent(X, y, step="lipschitz", tol=1e-8, max_iter=5000)
    assert res.converged is True
    assert len(res.loss_history) == res.n_iter + 1
    assert res.grad_norm <= 1e-8 * max(1.0, res.state["grad_norm_start"])


# ------------------------------------------------------------------------- step names

@pytest.mark.parametrize("name", sorted(NAMES))
def test_step_names_give_the_class_with_defaults(problem, name):
    X, y = problem
    assert steps.get(name) == NAMES[name]()
    assert type(steps.get(name)) is NAMES[name]
    res = quiet_fit(X, y, step=name, max_iter=2)
    assert type(res.step) is NAMES[name]
    assert res.step == NAMES[name]()


def test_fixed_name_default_rate_is_0_01(problem):
    X, y = problem
    assert steps.get("fixed").learning_rate == 0.01
    assert quiet_fit(X, y, step="fixed", max_iter=1).step.learning_rate == 0.01


def test_default_step_is_conjugate_gradient(problem):
    X, y = problem
    assert quiet_fit(X, y, max_iter=1).step == steps.ConjugateGradient()
    assert quiet_fit(X, y, max_iter=1, l1=0.1).step == steps.FISTA()


@pytest.mark.parametrize("bad", ["sgd", "", "fixed ", 3, 0.01, steps.Fixed])
def test_unknown_step_raises_value_error_listing_names(problem, bad):
    X, y = problem
    with pytest.raises(ValueError) as info:
        gradfit.gradient_descent(X, y, step=bad)
    for name in NAMES:
        assert name in str(info.value)


# ---------------------------------------------------------------- hyper-parameters

BAD_HYPERPARAMETERS = [
    (steps.Fixed, dict(learning_rate=0.0)),
    (steps.Fixed, dict(learning_rate=-0.1)),
    (steps.Fixed, dict(learning_rate=float("nan"))),
    (steps.Fixed, dict(learning_rate=float("inf"))),
    (steps.Fixed, dict(learning_rate="0.1")),
    (steps.Fixed, dict(learning_rate=True)),
    (steps.Lipschitz, dict(max_power_iter=0)),
    (steps.Lipschitz, dict(max_power_iter=2.5)),
    (steps.Lipschitz, dict(rtol=0.0)),
    (steps.Lipschitz, dict(rtol=float("nan"))),
    (steps.Backtracking, dict(initial=0.0)),
    (steps.Backtracking, dict(initial=float("nan"))),
    (steps.Backtracking, dict(shrink=0.0)),
    (steps.Backtracking, dict(shrink=1.0)),
    (steps.Backtracking, dict(shrink=1.5)),
    (steps.Backtracking, dict(shrink=float("nan"))),
    (steps.Backtracking, dict(c=0.0)),
    (steps.Backtracking, dict(c=1.0)),
    (steps.Backtracking, dict(grow=0.5)),
    (steps.Backtracking, dict(grow=0.0)),
    (steps.Backtracking, dict(grow=float("nan"))),
    (steps.Momentum, dict(learning_rate=0.0)),
    (steps.Momentum, dict(learning_rate=float("nan"))),
    (steps.Momentum, dict(beta=1.0)),
    (steps.Momentum, dict(beta=-0.1)),
    (steps.Momentum, dict(beta=float("nan"))),
    (steps.Nesterov, dict(learning_rate=-1.0)),
    (steps.Nesterov, dict(beta=1.0)),
    (steps.Nesterov, dict(beta=-0.5)),
    (steps.AdaGrad, dict(learning_rate=0.0)),
    (steps.AdaGrad, dict(learning_rate=float("nan"))),
    (steps.AdaGrad, dict(eps=0.0)),
    (steps.AdaGrad, dict(eps=-1e-10)),
    (steps.RMSprop, dict(learning_rate=-0.01)),
    (steps.RMSprop, dict(rho=1.0)),
    (steps.RMSprop, dict(rho=-0.1)),
    (steps.RMSprop, dict(rho=float("nan"))),
    (steps.RMSprop, dict(eps=0.0)),
    (steps.Adam, dict(learning_rate=0.0)),
    (steps.Adam, dict(learning_rate=float("nan"))),
    (steps.Adam, dict(beta1=1.0)),
    (steps.Adam, dict(beta1=-0.1)),
    (steps.Adam, dict(beta2=1.0)),
    (steps.Adam, dict(beta2=1.5)),
    (steps.Adam, dict(beta2=float("nan"))),
    (steps.Adam, dict(eps=0.0)),
]


@pytest.mark.parametrize("cls, kwargs", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{k}" for c, k in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_raise_value_error(cls, kwargs):
    with pytest.raises(ValueError, match=cls.__name__):
        cls(**kwargs)


GOOD_HYPERPARAMETERS = [
    (steps.Momentum, dict(beta=0.0)), (steps.Nesterov, dict(beta=0.0)),
    (steps.RMSprop, dict(rho=0.0)), (steps.Adam, dict(beta1=0.0, beta2=0.0)),
    (steps.Backtracking, dict(grow=1.0)), (steps.Backtracking, dict(grow=None)),
    (steps.Fixed, dict(learning_rate=1)), (steps.Lipschitz, dict(max_power_iter=1)),
]


@pytest.mark.parametrize("cls, kwargs", GOOD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{k}" for c, k in GOOD_HYPERPARAMETERS])
def test_boundary_hyperparameters_are_accepted(cls, kwargs):
    obj = cls(**kwargs)
    for name, value in kwargs.items():
        assert getattr(obj, name) == value
    if cls is steps.Fixed:  # numbers are stored as floats
        assert type(obj.learning_rate) is float


@pytest.mark.parametrize("cls", list(NAMES.values()), ids=lambda c: c.__name__)
def test_repr_shows_every_parameter(cls):
    obj = cls()
    text = repr(obj)
    assert text.startswith(cls.__name__ + "(")
    for f in dataclasses.fields(obj):
        assert f"{f.name}={getattr(obj, f.name)!r}" in text


def test_repr_shows_non_default_values():
    assert repr(steps.Fixed(0.25)) == "Fixed(learning_rate=0.25)"
    assert "grow=None" in repr(steps.Backtracking(grow=None))
    assert "beta2=0.5" in repr(steps.Adam(beta2=0.5))
    assert repr(steps.ExactLineSearch()) == "ExactLineSearch()"


@pytest.mark.parametrize("cls", list(NAMES.values()), ids=lambda c: c.__name__)
def test_strategies_are_frozen(cls):
    obj = cls()
    names = [f.name for f in dataclasses.fields(obj)] or ["anything"]
    for name in names:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, 0.5)
    assert obj == cls()
    assert hash(obj) == hash(cls())


# --------------------------------------------------------------------------- bad input

def _bad_inputs(X, y):
    Xnan = X.copy()
    Xnan[3, 1] = np.nan
    Xinf = X.copy()
    Xinf[0, 0] = np.inf
    ynan = y.copy()
    ynan[5] = np.nan
    yinf = y.copy()
    yinf[2] = -np.inf
    return {
        "X_nan": (Xnan, y, {}),
        "X_inf": (Xinf, y, {}),
        "y_nan": (X, ynan, {}),
        "y_inf": (X, yinf, {}),
        "X_nan_no_intercept": (Xnan, y, dict(fit_intercept=False)),
        "y_inf_no_intercept": (X, yinf, dict(fit_intercept=False)),
        "X_1d": (X[:, 0], y, {}),
        "X_3d": (X[None], y, {}),
        "y_2d": (X, y[:, None], {}),
        "y_short": (X, y[:-1], {}),
        "X_empty_rows": (np.empty((0, 4)), np.empty(0), {}),
        "X_empty_cols": (np.empty((len(y), 0)), y, {}),
        "X_strings": (X.astype(str), y, {}),
        "y_strings": (X, y.astype(str), {}),
        "X_complex": (X + 1j, y, {}),
        "l2_negative": (X, y, dict(l2=-0.1)),
        "l2_nan": (X, y, dict(l2=float("nan"))),
        "tol_negative": (X, y, dict(tol=-1e-6)),
        "tol_nan": (X, y, dict(tol=float("nan"))),
        "max_iter_0": (X, y, dict(max_iter=0)),
        "max_iter_negative": (X, y, dict(max_iter=-5)),
        "max_iter_2.5": (X, y, dict(max_iter=2.5)),
        "max_iter_str": (X, y, dict(max_iter="10")),
        "init_too_short": (X, y, dict(init=np.zeros(3))),
        "init_too_long": (X, y, dict(init=np.zeros(5))),
        "init_2d": (X, y, dict(init=np.zeros((1, 4)))),
        "init_nan": (X, y, dict(init=np.array([0.0, np.nan, 0.0, 0.0]))),
        "init_inf": (X, y, dict(init=np.array([0.0, 0.0, np.inf, 0.0]))),
        "init_strings": (X, y, dict(init=np.array(["0"] * 4))),
        "callback_not_callable": (X, y, dict(callback=3)),
    }


@pytest.mark.parametrize("case", list(_bad_inputs(np.zeros((10, 4)), np.zeros(10))))
def test_bad_input_raises_value_error(problem, case):
    X, y = problem
    X_, y_, kwargs = _bad_inputs(X, y)[case]
    with pytest.raises(ValueError):
        gradfit.gradient_descent(X_, y_, **{"step": "fixed", "max_iter": 5, **kwargs})


def test_init_from_solve_normal_is_rejected(problem):
    X, y = problem
    exact = gradfit.solve_normal(X, y)
    with pytest.raises(ValueError, match="init=result.coef"):
        gradfit.gradient_descent(X, y, init=exact)
    # ... while its coefficients are a valid start.
    res = gradfit.gradient_descent(X, y, init=exact.coef, tol=1e-6)
    assert res.converged


@pytest.mark.parametrize("first, second", [("adam", "fixed"), ("fixed", "momentum"),
                                           ("momentum", "nesterov"), ("bb", "exact"),
                                           ("lipschitz", "fixed"), ("backtracking", "adam"),
                                           ("rmsprop", "adagrad")])
def test_init_from_another_strategy_type_is_rejected(problem, first, second):
    X, y = problem
    earlier = quiet_fit(X, y, step=first, max_iter=2)
    with pytest.raises(ValueError, match="same kind of strategy"):
        gradfit.gradient_descent(X, y, step=second, init=earlier, max_iter=2)
    with pytest.raises(ValueError, match="same kind of strategy"):
        gradfit.gradient_descent(X, y, step=steps.get(second), init=earlier, max_iter=2)


def test_init_from_another_strategy_is_rejected_even_for_explicit_backtracking(problem):
    # The documented rule is "the strategy must be of the same type"; the code lets any
    # strategy through when step equals Backtracking() (the default), so an explicit request
    # for backtracking silently continues with the earlier strategy instead.
    X, y = problem
    earlier = quiet_fit(X, y, step="adam", max_iter=2)
    with pytest.raises(ValueError, match="same kind of strategy"):
        res = quiet_fit(X, y, step=steps.Backtracking(), init=earlier, max_iter=2)
        assert type(res.step) is steps.Backtracking, f"ran {res.step!r}"


def test_init_with_other_shape_or_intercept_setting_is_rejected(problem):
    X, y = problem
    earlier = quiet_fit(X, y, step="adam", max_iter=2)
    with pytest.raises(ValueError):
        gradfit.gradient_descent(X[:, :3], y, step="adam", init=earlier)
    with pytest.raises(ValueError):
        gradfit.gradient_descent(X, y, step="adam", init=earlier, fit_intercept=False)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(NAMES))
def test_inputs_are_never_modified(problem, name, dtype, order):
    X0, y0 = problem
    X = np.array(X0, dtype=dtype, order=order)
    y = np.array(y0, dtype=dtype)
    init = np.linspace(-1.0, 1.0, X.shape[1])
    copies = X.copy(order="K"), y.copy(), init.copy()
    res = quiet_fit(X, y, step=name, init=init, max_iter=20)
    for arr, copy in zip((X, y, init), copies, strict=True):
        np.testing.assert_array_equal(arr, copy)
    assert not np.shares_memory(res.coef, init)
    # Read-only inputs are accepted (nothing tries to write to them).
    for arr in (X, y, init):
        arr.flags.writeable = False
    res2 = quiet_fit(X, y, step=name, init=init, max_iter=20)
    np.testing.assert_array_equal(res2.coef, res.coef)


# ---------------------------------------------------------------------------- callback

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_callback_sees_every_point_and_its_objective(problem, fit_intercept):
    X, y = problem
    calls = []

    def callback(iteration, coef, intercept, objective_value):
        calls.append((iteration, coef.copy(), intercept, objective_value))
        coef[:] = 1e6   # a copy: scribbling on it must not affect the fit

    res = quiet_fit(X, y, step="nesterov", fit_intercept=fit_intercept, max_iter=30,
                    callback=callback)
    assert [c[0] for c in calls] == list(range(res.n_iter + 1))
    assert calls[0][0] == 0
    np.testing.assert_array_equal([c[3] for c in calls], res.loss_history)
    for _, coef, intercept, f in calls:
        assert isinstance(coef, np.ndarray) and coef.shape == (X.shape[1],)
        assert isinstance(intercept, float)
        if not fit_intercept:
            assert intercept == 0.0
        assert f == pytest.approx(objective(X, y, 0.0, coef, intercept), rel=1e-12)
    np.testing.assert_array_equal(calls[-1][1], res.coef)
    assert calls[-1][2] == res.intercept
    # The first point is the start: w = 0, b = mean(y).
    assert np.all(calls[0][1] == 0.0)
    if fit_intercept:
        assert calls[0][2] == pytest.approx(y.mean(), rel=1e-14)
    # Same trajectory as without a callback.
    plain = quiet_fit(X, y, step="nesterov", fit_intercept=fit_intercept, max_iter=30)
    np.testing.assert_array_equal(plain.coef, res.coef)


def test_callback_returning_true_stops_early(problem):
    X, y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gradfit.gradient_descent(X, y, step="fixed", max_iter=100,
                                       callback=lambda k, *rest: k == 5)
    assert res.n_iter == 5
    assert len(res.loss_history) == 6
    assert res.converged is False
    assert "callback" in res.message


def test_callback_exception_propagates(problem):
    X, y = problem

    class Stop(Exception):
        pass

    def callback(k, *rest):
        if k == 3:
            raise Stop

    with pytest.raises(Stop):
        gradfit.gradient_descent(X, y, step="adam", max_iter=100, callback=callback)


# ----------------------------------------------------------------------------- pickle

@pytest.mark.parametrize("name", sorted(NAMES))
def test_result_pickles(problem, name):
    X, y = problem
    res = quiet_fit(X, y, step=name, max_iter=10)
    back = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(back.coef, res.coef)
    assert back.coef.dtype == res.coef.dtype
    assert back.intercept == res.intercept
    assert back.n_iter == res.n_iter and back.converged == res.converged
    np.testing.assert_array_equal(back.loss_history, res.loss_history)
    assert back.step == res.step and type(back.step) is type(res.step)
    assert back.message == res.message
    assert back.state.keys() == res.state.keys()
    for key, value in res.state.items():
        np.testing.assert_array_equal(back.state[key], value)
    np.testing.assert_array_equal(back.predict(X), res.predict(X))
