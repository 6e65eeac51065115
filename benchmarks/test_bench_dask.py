"""pytest-benchmark: ``gradfit.dask.solve_normal`` against dask-ml's ``LinearRegression()``
(defaults: ADMM) on a small Dask array, on Dask's synchronous scheduler so that it stays fast
under ``--benchmark-disable`` in CI. Each test checks its answer against NumPy's lstsq; none
asserts a speed. The cluster-scale comparison (2,000,000 x 100 on a LocalCluster) is
compare_dask.py; its figures are in benchmarks/README.md."""
import numpy as np
import pytest

from reference import make_problem

da = pytest.importorskip("dask.array")

import dask  # noqa: E402

import gradfit.dask  # noqa: E402

M, N, ROWS = 10000, 20, 1000


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_problem(M, N)
    expected = np.linalg.lstsq(np.column_stack([X, np.ones(M)]), y, rcond=None)[0]
    return da.from_array(X, chunks=(ROWS, N)), da.from_array(y, chunks=ROWS), expected


def test_dask_solve_normal(benchmark, data):
    X, y, expected = data
    benchmark.group = f"{M}x{N} in {M // ROWS} Dask chunks"
    with dask.config.set(scheduler="sync"):
        res = benchmark(gradfit.dask.solve_normal, X, y)
    np.testing.assert_allclose(res.coef, expected[:-1], rtol=1e-10)


def test_dask_ml_linear_regression(benchmark, data):
    linear_model = pytest.importorskip("dask_ml.linear_model")
    X, y, expected = data
    benchmark.group = f"{M}x{N} in {M // ROWS} Dask chunks"
    with dask.config.set(scheduler="sync"):
        model = benchmark.pedantic(lambda: linear_model.LinearRegression().fit(X, y),
                                   rounds=1, iterations=1)
    # ADMM to its default tolerance: about 1e-4 relative (the measurement)
    np.testing.assert_allclose(model.coef_, expected[:-1], rtol=1e-2, atol=1e-3)
