"""pytest-benchmark group ``sgd defaults 100000x100 mixed scales``: SGD with every setting at
its default, on raw data whose columns have different scales and means, as a new user would
run it: ``gradfit.LinearRegression(solver="sgd")`` (standardised internally, its own
stopping rule) against ``make_pipeline(StandardScaler(), SGDRegressor())``. Each test records
the relative objective gap (f - f*)/f* it reached in ``extra_info``; gradfit's must be
<= 1e-3 (its ``converged`` promise). No speed is asserted (figures: benchmarks/README.md)."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gradfit

SIZE = (100000, 100)


def make_mixed_scale_problem(m=SIZE[0], n=SIZE[1], seed=0):
    """Standard normal columns times scales from 1e-2 to 1e3 plus means in +-1e3; y linear
    in the standardised columns (coefficients N(0,1)) + 0.5 + N(0,1) noise, so f* ~ 0.5."""
    rng = np.random.default_rng([seed, m, n])
    Z = rng.standard_normal((m, n))
    scales = np.geomspace(1e-2, 1e3, n)
    rng.shuffle(scales)
    X = Z * scales + rng.uniform(-1e3, 1e3, n)
    y = Z @ rng.standard_normal(n) + 0.5 + rng.standard_normal(m)
    return X, y


_CACHE = {}


def _problem():
    if not _CACHE:
        X, y = make_mixed_scale_problem()
        mu, sd = X.mean(0), X.std(0)
        v, *_ = np.linalg.lstsq((X - mu) / sd, y - y.mean(), rcond=None)
        coef = v / sd
        r = y - X @ coef - (y.mean() - mu @ coef)
        _CACHE["p"] = X, y, 0.5 * float(r @ r) / len(y)
    return _CACHE["p"]


def gap(X, y, f_star, coef, intercept):
    r = y - X @ np.asarray(coef, float) - intercept
    return (0.5 * float(r @ r) / len(y) - f_star) / f_star


def fit(impl, X, y):
    if impl == "gradfit":
        model = gradfit.LinearRegression(solver="sgd", random_state=0).fit(X, y)
        return model.coef_, model.intercept_, model.result_.converged
    model = make_pipeline(StandardScaler(), SGDRegressor(random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkConvergenceWarning)
        model.fit(X, y)
    scaler, sgd = model[0], model[1]
    coef = sgd.coef_ / scaler.scale_
    return coef, float(sgd.intercept_[0] - scaler.mean_ @ coef), None


@pytest.mark.parametrize("impl", ["gradfit", "sklearn_pipeline"])
def test_sgd_defaults(benchmark, impl):
    X, y, f_star = _problem()
    benchmark.group = f"sgd defaults {SIZE[0]}x{SIZE[1]} mixed scales"
    coef, intercept, converged = benchmark(fit, impl, X, y)
    g = gap(X, y, f_star, coef, intercept)
    benchmark.extra_info["gap"] = g
    if impl == "gradfit":
        assert converged and g <= 1e-3, g
