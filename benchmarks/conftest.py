"""Fixtures of the benchmark suite: seeded problems cached per size, and a BLAS thread limit
applied to the whole session (``--gradfit-threads``, default 1)."""
from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

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
