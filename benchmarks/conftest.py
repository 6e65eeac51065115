"""Fixtures of the benchmark suite: seeded problems cached per size, and a BLAS thread limit
applied to the whole session (``--gradfit-threads``, default 1). The iterative solvers' suite
adds the NumPy gradient-descent answers, the SGD and lasso problems with their optima (all
computed once, outside any timing)."""
from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import reference as ref
from reference import make_problem, numpy_solve, numpy_solve_centered


def pytest_addoption(parser):
    group = parser.getgroup("gradfit")
    group.addoption("--gradfit-threads", action="store", type=int, default=1,
                    help="BLAS/OpenMP thread limit (threadpoolctl) for every benchmark: "
                         "gradfit and the references alike (default 1)")


def pytest_report_header(config):
    libs = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['prefix']})"
                     for i in threadpool_info())
    return (f"gradfit benchmarks: thread limit {config.getoption('--gradfit-threads')}; "
            f"thread pools: {libs}")


@pytest.fixture(scope="session")
def gradfit_threads(pytestconfig):
    return pytestconfig.getoption("--gradfit-threads")


@pytest.fixture(scope="session", autouse=True)
def _thread_limit(gradfit_threads):
    # Limits numpy's and scipy's separate OpenBLAS copies (gradfit calls scipy's) and OpenMP.
    with threadpool_limits(limits=gradfit_threads):
        yield


@pytest.fixture(autouse=True)
def _record_threads(request, gradfit_threads):
    if "benchmark" in request.fixturenames:
        request.getfixturevalue("benchmark").extra_info["threads"] = gradfit_threads


_PROBLEMS: dict = {}
_EXPECTED: dict = {}


@pytest.fixture(scope="session")
def problem():
    """``problem(m, n)`` -> ``(X, y, w_true)``, generated once per size for the session."""
    def get(m, n):
        if (m, n) not in _PROBLEMS:
            _PROBLEMS[(m, n)] = make_problem(m, n)
        return _PROBLEMS[(m, n)]
    return get


@pytest.fixture(scope="session")
def expected(problem):
    """``expected(m, n, fit_intercept)`` -> ``(coef, intercept)`` from the NumPy reference,
    computed once (outside any timing) and used to check every timed result."""
    def get(m, n, fit_intercept):
        key = (m, n, fit_intercept)
        if key not in _EXPECTED:
            X, y, _ = problem(m, n)
            _EXPECTED[key] = (numpy_solve_centered(X, y) if fit_intercept
                              else (numpy_solve(X, y), 0.0))
        return _EXPECTED[key]
    return get


# --- iterative solvers ------------------------------------------------------------------------

_DESCENT: dict = {}


@pytest.fixture(scope="session")
def gd_reference(problem):
    """``gd_reference(m, n)`` -> ``(lr, k, w)``: the rate 1/L, the iteration count of the
    per-iteration benchmark and the NumPy loop's coefficients after k steps from zero."""
    def get(m, n):
        key = ("gd", m, n)
        if key not in _DESCENT:
            X, y, _ = problem(m, n)
            lr = 1.0 / ref.lipschitz(X)
            k = ref.GD_ITERS[(m, n)]
            _DESCENT[key] = (lr, k, ref.numpy_gd(X, y, lr, k))
        return _DESCENT[key]
    return get


@pytest.fixture(scope="session")
def sgd_problem():
    """``(X, y, fstar)``: the SGD problem and its optimal objective (solve_normal, intercept)."""
    if "sgd" not in _DESCENT:
        import gradfit
        X, y, _ = ref.make_sgd_problem()
        res = gradfit.solve_normal(X, y, fit_intercept=True)
        _DESCENT["sgd"] = (X, y, ref.objective(X, y, res.coef, res.intercept))
    return _DESCENT["sgd"]


@pytest.fixture(scope="session")
def lasso_problem():
    """``(X, y, l1, fstar)``: the lasso problem (rho = 0) and its optimal objective, the lower
    of a scikit-learn Lasso run at tol=1e-14 and a FISTA run at tol=1e-13."""
    if "lasso" not in _DESCENT:
        import warnings

        from sklearn.linear_model import Lasso

        import gradfit
        X, y, _ = ref.make_lasso_problem(rho=0.0)
        l1 = ref.LASSO_L1[0.0]
        s = Lasso(alpha=l1, tol=1e-14, max_iter=100000).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = gradfit.gradient_descent(X, y, step="fista", l1=l1, tol=1e-13,
                                         max_iter=100000)
        fstar = min(ref.objective(X, y, s.coef_, s.intercept_, l1=l1),
                    ref.objective(X, y, r.coef, r.intercept, l1=l1))
        _DESCENT["lasso"] = (X, y, l1, fstar)
    return _DESCENT["lasso"]
