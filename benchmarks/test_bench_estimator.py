"""pytest-benchmark: ``gradfit.LinearRegression(solver="cholesky").fit`` against
scikit-learn's ``LinearRegression`` and ``Ridge(solver="cholesky")`` (with intercept). Each
test checks the fitted coefficients against scikit-learn's; none asserts a speed (the ratios
are in benchmarks/README.md, from compare_estimator.py)."""
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression as SkLinearRegression, Ridge

import gradfit
from reference import make_problem

SIZES = [(1000, 10), (100000, 100), (20000, 1000)]


def _fit(impl, X, y):
    if impl == "gradfit":
        return gradfit.LinearRegression(solver="cholesky").fit(X, y)
    if impl == "sklearn_LinearRegression":
        return SkLinearRegression().fit(X, y)
    return Ridge(alpha=1e-8 * len(y), solver="cholesky").fit(X, y)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["gradfit", "sklearn_LinearRegression",
                                  "sklearn_Ridge_cholesky"])
def test_estimator_fit(benchmark, impl, size):
    X, y, _ = make_problem(*size)
    benchmark.group = f"{size[0]}x{size[1]} estimator fit"
    model = benchmark(_fit, impl, X, y)
    expected = np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, expected[:-1], rtol=1e-6, atol=1e-9)
