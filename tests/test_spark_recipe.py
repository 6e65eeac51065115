"""docs/spark.md's recipe, run as written on a local Spark session (skipped without PySpark,
pandas, pyarrow or Java): its fit of a DataFrame equals gradfit.solve_normal on the same
rows (to rounding: 1e-10 relative here), with weights, l2 and no intercept, and with an
empty partition."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyspark")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java", allow_module_level=True)

import gradfit  # noqa: E402

DOC = (Path(__file__).resolve().parents[1] / "docs" / "spark.md").read_text()
(RECIPE,) = re.findall(r"```python\n(.*?)```", DOC, re.S)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    import os

    from pyspark.sql import SparkSession
    # the executors' Python must be this one (gradfit, pandas, pyarrow installed)
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("gradfit-recipe")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
               .getOrCreate())
    yield session
    session.stop()


def test_recipe_equals_solve_normal(spark):
    namespace: dict = {}
    exec(compile(RECIPE, "docs/spark.md", "exec"), namespace)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 4)) * [1.0, 2.0, 0.5, 3.0] + [5.0, -2.0, 1e3, 0.0]
    y = X @ [1.0, -2.0, 0.5, 0.25] + 3.0 + 0.1 * rng.standard_normal(3000)
    w = rng.uniform(0.0, 2.0, 3000)
    pdf = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(y=y, w=w)
    # 5 partitions, one of them empty after the filter
    df = spark.createDataFrame(pdf).repartitionByRange(5, "a")
    df = df.filter("a < 6.5 or a > 7.5")
    keep = (pdf.a < 6.5) | (pdf.a > 7.5)
    Xk, yk, wk = X[keep], y[keep], w[keep]
    cols = ["a", "b", "c", "d"]
    for kwargs in ({}, {"l2": 0.01, "fit_intercept": False}):
        res = namespace["spark_solve_normal"](df, cols, "y", "w", **kwargs)
        ref = gradfit.solve_normal(Xk, yk, sample_weight=wk, **kwargs)
        # other chunks, other rounding: column c's mean of 1e3 against its spread of 0.5
        # makes the normal equations' error bound (cond^2 eps, raw columns) about 1e-10
        np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-10)
        assert res.intercept == pytest.approx(ref.intercept, rel=1e-10, abs=1e-10)
    acc = namespace["spark_statistics"](df, cols, "y")
    assert acc.n_samples == keep.sum()
