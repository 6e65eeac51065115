"""converged=True is a promise: on real data in raw units, on badly scaled and on
ill-conditioned problems, every iterative fit either is exact (to the documented tolerance)
or says it is not. References: numpy.linalg.lstsq on standardised data, statsmodels' OLS."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import gradfit
from cli_util import run_cli
from gradfit import ConvergenceWarning, DivergenceError, LinearRegression, gradient_descent, steps
from real_data import NAMES, Exact, load

FULL = [None, "fixed", "lipschitz", "exact", "backtracking", "bb", "cg", "momentum",
        "nesterov", "adagrad", "rmsprop", "adam", "invscaling", "fista"]
MINI = [None, "fixed", "invscaling", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]


@pytest.fixture(scope="module", params=NAMES)
def real(request):
    X, y = load(request.param)
    return request.param, X, y, Exact(X, y)


def _fit(fn, *args, **kwargs):
    """(fn(*args, **kwargs) or None, flagged): flagged by a ConvergenceWarning or an error
    (an error is an honest "did not")."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fn(*args, **kwargs)
        except (DivergenceError, ValueError):
            return None, True
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return res, warned


def _outcomes(X, y, ref, mini):
    """{(entry, step): "correct" | "flagged" | "SILENT"} for every strategy."""
    out = {}
    for step in (MINI if mini else FULL):
        kw = dict(batch_size=32, random_state=0) if mini else {}
        res, flagged = _fit(gradient_descent, X, y, step=step, **kw)
        if res is not None:
            flagged = flagged or not res.converged
            coef, b = res.coef, res.intercept
        model = LinearRegression(solver="sgd" if mini else "gd", step=step, random_state=0)
        fitted, flagged_e = _fit(model.fit, X, y)
        if fitted is not None:
            flagged_e = flagged_e or not model.result_.converged
        for entry, ok_fit, flag, c, i in (
                ("function", res is not None, flagged, *((coef, b) if res is not None
                                                         else (None, None))),
                ("estimator", fitted is not None, flagged_e,
                 *((model.coef_, model.intercept_) if fitted is not None else (None, None)))):
            if flag:
                out[entry, step] = "flagged"
            else:
                out[entry, step] = "correct" if ok_fit and ref.exact(c, i, mini) else "SILENT"
    return out


def test_full_batch_real_data_never_silently_wrong(real):
    name, X, y, ref = real
    out = _outcomes(X, y, ref, mini=False)
    assert [k for k, v in out.items() if v == "SILENT"] == []
    # the default strategy is simply right, through both entry points
    assert out["function", None] == out["estimator", None] == "correct", name
    assert out["function", "cg"] == "correct", name


def test_sgd_real_data_never_silently_wrong(real):
    name, X, y, ref = real
    out = _outcomes(X, y, ref, mini=True)
    assert [k for k, v in out.items() if v == "SILENT"] == []


def test_bb_and_default_sgd_on_most_real_data():
    bb = sgd = 0
    for name in NAMES:
        X, y = load(name)
        ref = Exact(X, y, check_statsmodels=False)
        res, flagged = _fit(gradient_descent, X, y, step="bb")
        bb += res is not None and not flagged and res.converged \
            and ref.exact(res.coef, res.intercept)
        model = LinearRegression(solver="sgd", random_state=0)
        fitted, flagged = _fit(model.fit, X, y)
        sgd += fitted is not None and not flagged and model.result_.converged \
            and ref.exact(model.coef_, model.intercept_, mini=True)
    assert bb >= len(NAMES) - 2
    assert sgd >= 0.75 * len(NAMES) or sgd >= 7, sgd  # default SGD: 75% of real data sets


@pytest.mark.parametrize("step", [None, "bb", "fixed"])
def test_cli_real_data_exact_or_says_so(tmp_path, step):
    X, y = load("longley")
    ref = Exact(X, y)
    path = tmp_path / "longley.csv"
    cols = [f"x{j}" for j in range(X.shape[1])]
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", comments="",
               header=",".join(cols + ["TOTEMP"]), fmt="%.17g")
    out = tmp_path / "fit.json"
    argv = ["fit", path, "--target", "TOTEMP", "--solver", "gd", "--json", out]
    if step:
        argv += ["--step", step]
    status, stdout, stderr = run_cli(*argv)
    assert status == 0, stderr
    rep = json.loads(out.read_text())
    coef = [rep["coef"][c] for c in cols]
    if rep["converged"]:
        assert "Warning" not in stderr
        assert ref.exact(coef, rep["intercept"])
    else:
        assert "warning" in stderr and "did not converge" in stderr
    if step is None:
        assert rep["converged"]


def test_tiny_scale_is_not_mistaken_for_convergence():
    X, y = load("diabetes")
    ref = Exact(X * 1e-8, y, check_statsmodels=False)
    for standardize in (True, False):
        res, flagged = _fit(gradient_descent, X * 1e-8, y, standardize=standardize)
        assert res is None or flagged or not res.converged \
            or ref.exact(res.coef, res.intercept), standardize
    res = gradient_descent(X * 1e-8, y)  # standardised: scale-free
    assert res.converged and ref.exact(res.coef, res.intercept)


@pytest.mark.parametrize("transform", [lambda X: X + 1e6, lambda X: X - 1e6,
                                       lambda X: X * 1e6, lambda X: X * 1e-6,
                                       lambda X: X * 1e6 + 1e6])
def test_offsets_and_scales(transform):
    X, y = load("diabetes")
    X = transform(X)
    ref = Exact(X, y, check_statsmodels=False)
    for step in (None, "bb", "lipschitz", "fista"):
        res, flagged = _fit(gradient_descent, X, y, step=step)
        assert res is None or flagged or not res.converged \
            or ref.exact(res.coef, res.intercept), step
    res = gradient_descent(X, y)
    assert res.converged and ref.exact(res.coef, res.intercept)


def _power_counterexample():
    rng = np.random.default_rng(27)
    u, _ = np.linalg.qr(rng.standard_normal((29, 2)))
    v, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    X = (u * [1.0, 0.5] * 29 ** 0.5) @ v.T
    y = X @ [1.0, -1.0] + 0.1 * rng.standard_normal(29)
    return X, y


@pytest.mark.parametrize("step", ["lipschitz", "fista"])
@pytest.mark.parametrize("standardize", [True, False])
def test_power_iteration_counterexample(step, standardize):
    X, y = _power_counterexample()
    for fit_intercept in (True, False):
        res = gradient_descent(X, y, step=step, standardize=standardize,
                               fit_intercept=fit_intercept)
        exact = gradfit.solve_normal(X, y, fit_intercept=fit_intercept)
        assert res.converged
        np.testing.assert_allclose(res.coef, exact.coef, rtol=1e-5, atol=1e-8)
        # the estimate of L is an upper bound's neighbour, never the smaller eigenvalue
        L = np.linalg.eigvalsh((X - X.mean(0) * fit_intercept).T
                               @ (X - X.mean(0) * fit_intercept) / 29)[-1]
        if not standardize:
            assert res.state["lipschitz"] > 0.5 * L


def test_divergence_message_gives_applicable_advice():
    X, y = load("diabetes")
    with pytest.raises(DivergenceError) as info:
        gradient_descent(X, y, step=steps.Fixed(100.0), standardize=False)
    assert "learning rate" in str(info.value)
    with pytest.raises(DivergenceError) as info:
        gradient_descent(X, y, step=steps.Momentum(learning_rate=50.0))
    assert "Momentum" in str(info.value)
    assert "step='lipschitz'" not in str(info.value) or "Lipschitz(" not in str(info.value)


def test_streamed_divergence_is_caught():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 5)) * [1, 2, 3, 4, 5]
    y = X @ np.arange(1.0, 6.0) + rng.standard_normal(500)
    # partial_fit, chunk by chunk, with a rate (in standardised units) that diverges slowly:
    # no single call grows the objective a million-fold, the calls together do
    model = LinearRegression(solver="sgd", step=steps.Fixed(1.5), batch_size=50,
                             random_state=0)
    calls = 0
    with pytest.raises(DivergenceError):
        for _ in range(40):
            for Xc, yc in zip(np.array_split(X, 5), np.array_split(y, 5), strict=True):
                model.partial_fit(Xc, yc)
                calls += 1
    assert calls > 3
    # the same with chained init= calls, full batch, one step each (2.05 > 2/L, L ~ 1)
    res, calls = None, 0
    with pytest.raises(DivergenceError):
        for _ in range(300):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                res = gradient_descent(X, y, step=steps.Fixed(2.05), init=res, max_iter=1)
                calls += 1
    assert calls > 10


def _ill_conditioned(kappa, seed, m=400, n=12):
    """Columns of very different scales and means, mixed so that the *standardised*
    problem still has condition number kappa; y with noise."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.geomspace(1.0, kappa ** -0.5, n)
    Z = rng.standard_normal((m, n))
    Z = (Z - Z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(Z.T, bias=True)).T)
    X = Z @ (q * s) @ q.T
    X = X * np.geomspace(1e-3, 1e4, n) + rng.uniform(-1e3, 1e3, n)
    y = X @ rng.standard_normal(n) + 5.0 + rng.standard_normal(m)
    return X, y


@pytest.mark.parametrize("kappa", [1e2, 1e4, 1e6, 1e8, 1e10])
def test_converged_never_lies_when_ill_conditioned(kappa):
    X, y = _ill_conditioned(kappa, seed=int(np.log10(kappa)))
    ref = Exact(X, y, check_statsmodels=False)
    lies = []
    for step in FULL:
        for standardize in (True, False):
            res, flagged = _fit(gradient_descent, X, y, step=step, standardize=standardize)
            if res is not None and not flagged and res.converged \
                    and not ref.exact(res.coef, res.intercept):
                lies.append((step, standardize, ref.coef_error(res.coef),
                             ref.gap(res.coef, res.intercept)))
    assert lies == []
    res = gradient_descent(X, y)
    if kappa <= 1e6:  # the default gets there (beyond, rounding slows conjugate gradient)
        assert res.converged, res.message


@pytest.mark.parametrize("step", [None, "bb", "lipschitz", steps.Fixed(0.1), "fista"],
                         ids=repr)
def test_standardised_precompute_takes_the_same_path(step):
    # The Gram statistics and the passes over X run the same standardised iteration.
    X, y = load("diabetes")
    l1 = 0.05 if step == "fista" else 0.0
    kw = dict(step=step, l1=l1, tol=0.0, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = gradient_descent(X, y, **kw)
        b = gradient_descent(X, y, precompute=True, **kw)
    np.testing.assert_allclose(b.coef, a.coef, rtol=1e-8, atol=1e-8 * np.abs(a.coef).max())
    assert b.intercept == pytest.approx(a.intercept, rel=1e-8)


def test_standardize_off_is_the_textbook_step():
    # One Fixed step with standardize=False is w - lr * grad f(w), in the data's units.
    X, y = load("stackloss")
    with pytest.warns(ConvergenceWarning):  # one step: not converged, and it says so
        res = gradient_descent(X, y, step=steps.Fixed(1e-4), fit_intercept=False, tol=0.0,
                               max_iter=1, standardize=False)
    grad = -X.T @ y / len(y)
    np.testing.assert_allclose(res.coef, -1e-4 * grad, rtol=1e-12)


def _nearly_collinear(seed=0, m=60, delta=1e-8):
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal(m)
    X = np.column_stack([x1, x1 + delta * rng.standard_normal(m), rng.standard_normal(m)])
    return X, x1 + 2 * X[:, 1] + X[:, 2] + 0.1 * rng.standard_normal(m)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("delta", [1e-7, 1e-8, 1e-9])
@pytest.mark.parametrize("how", ["function", "precompute", "estimator", "sgd"])
def test_nearly_collinear_columns_are_never_claimed_converged_wrongly(seed, delta, how):
    # cond(X) of 1e7-1e9 puts the standardised normal matrix beyond float64: the
    # certificate once measured against the nearest minimiser of a "singular" problem and
    # said converged at [1.51, 1.51, 1.01] against the exact [783527, -783524, 1.01].
    X, y = _nearly_collinear(seed, delta=delta)
    exact = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if how == "estimator":
            res = LinearRegression(solver="gd").fit(X, y).result_
        else:
            res = gradient_descent(X, y, precompute=how == "precompute",
                                   batch_size=8 if how == "sgd" else None, random_state=0)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned == (not res.converged)
    if res.converged:
        np.testing.assert_allclose(res.coef, exact[:3], rtol=1e-3)
    else:  # the warning names the cause
        assert "collinear" in res.message or any("collinear" in str(w.message)
                                                 for w in caught), res.message


def test_a_spread_of_hundreds_of_ulps_is_data():
    # A column of mean 1e10 varying by ~590 ulps carries a coefficient of 1.6e6; a
    # constant-column threshold of 1024 eps once dropped it (coef 0 with converged=True).
    rng = np.random.default_rng(0)
    k = rng.integers(-1000, 1000, 200)
    X = np.column_stack([1e10 + k * np.spacing(1e10), rng.standard_normal(200)])
    y = 3.0 * k + 2 * X[:, 1] + 0.01 * rng.standard_normal(200)
    ref = gradfit.solve_normal(X, y)
    weighted = gradfit.solve_normal(X, y, sample_weight=np.ones(200))
    np.testing.assert_allclose(weighted.coef, ref.coef, rtol=1e-6)
    assert abs(ref.coef[0]) > 1e6
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for res in (gradient_descent(X, y), gradient_descent(X, y, precompute=True)):
            if res.converged:
                np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-4)
    assert all(issubclass(w.category, (ConvergenceWarning, gradfit.IllConditionedWarning))
               for w in caught)


@pytest.mark.parametrize("step", [None, "bb", "exact", "lipschitz", "fista"])
@pytest.mark.parametrize("m", [30, 1000])
def test_constant_columns_stay_out_of_the_fit(step, m):
    # A column of 3.7 in every row (or of ones) next to the intercept: a plain sum puts its
    # mean 144 ulps off at m = 1000, a standardisation taking that rounding for spread sends
    # the line searches after it (coefficients of 2e9 against an intercept of -7.5e9), and a
    # certificate on a singular H would call every such fit "unmeasurable". The constant
    # columns' coefficients must be exactly 0, converged.
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(m), rng.standard_normal(m), np.full(m, 3.7)])
    y = 2 * X[:, 1] + 1 + 0.1 * rng.standard_normal(m)
    exact = gradfit.solve_normal(X[:, 1:2], y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = gradient_descent(X, y, step=step)
    assert res.converged
    assert res.coef[0] == 0.0 and res.coef[2] == 0.0
    np.testing.assert_allclose(res.coef[1], exact.coef[0], rtol=1e-6)
    assert res.intercept == pytest.approx(exact.intercept, rel=1e-6)


def test_tiny_tol_is_met_at_float64_resolution():
    """tol = 1e-12: a point 25 ulps from w* has f - f* ~ 7e-23 (relative), above tol**2 but
    as close as float64 coefficients get; it is converged (not run to max_iter with a
    warning), and it is right (against numpy.linalg.lstsq)."""
    rng = np.random.default_rng(0)
    m, n = 40000, 24
    X = rng.standard_normal((m, n)) * np.linspace(1, 3, n) + rng.uniform(-2, 2, n)
    y = X @ rng.uniform(-2, 2, n) + 1.5 + 0.01 * rng.standard_normal(m)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(m)]), y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gradfit.gradient_descent(X, y, step="bb", tol=1e-12, max_iter=5000)
    assert res.converged and res.n_iter < 100
    got = np.append(res.coef, res.intercept)
    assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < 1e-11
