"""gradfit.dask and LinearRegression on Dask arrays, on a real two-process cluster.

What is checked, and why:

* ``solve_normal`` on equal, unequal, empty and unknown-size (boolean-filtered) chunks, with
  and without intercept, with l2, weights, float32 and a 2-D y, equals the local
  ``gradfit.solve_normal`` to 1e-12 relative and NumPy's lstsq (independent) to a
  condition-number bound; float32 against lstsq of the same data at float32's bound.
* The answer is bit-identical on repeat, and equal bit for bit to
  ``NormalAccumulator.merge_all`` of the chunks' accumulators with the same fan-in: the tree
  is fixed, wherever the tasks ran. A worker killed mid-fit (the nanny restarts it, Dask
  recomputes what it held) still gives that same answer.
* The graph reads each chunk of X in exactly one task; X is never turned into a NumPy array
  on the client (``Array.__array__``/``compute`` patched to fail during the fit).
* A NaN, an infinity or a negative weight is reported with its row in the whole X, also
  after filtering (unknown chunk sizes).
* ``gradient_descent``: BB reaches the exact solution to 1e-6 on both routes; FISTA with l1
  gives the local lasso's coefficients and the same exact zeros.
* ``LinearRegression.fit/predict/score/partial_fit`` with Dask arrays: the same model as
  with NumPy arrays, ``predict`` lazy.
"""
from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from dask.array.core import PerformanceWarning  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import gradfit  # noqa: E402
import gradfit.dask as gdask  # noqa: E402

EPS32 = np.finfo(np.float32).eps
# the objective at w = 0 of the problems below (variance of y / 2: 12 to 38): a
# bound on the size of yc.yc / (2m), the scale of the objective's rounding error
OBJ_SCALE = 50.0


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
    with cluster, distributed.Client(cluster) as c:
        yield c


def problem(m=3000, n=6, seed=0, k=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * np.linspace(1.0, 3.0, n) + rng.uniform(-5, 5, n)
    W = rng.uniform(-2.0, 2.0, (n,) if k is None else (n, k))
    y = X @ W + 3.0 + 0.1 * rng.standard_normal((m,) if k is None else (m, k))
    return X, y


def lstsq(X, y, w=None, l2=0.0, fit_intercept=True):
    """coef, intercept of weighted ridge by NumPy's lstsq on an augmented system."""
    m, n = X.shape
    w = np.ones(m) if w is None else w
    sw = np.sqrt(w)
    A = np.column_stack([X, np.ones(m)]) if fit_intercept else X
    A = A * sw[:, None]
    pen = np.sqrt(w.sum() * l2) * np.eye(n, A.shape[1])
    sol = np.linalg.lstsq(np.vstack([A, pen]), np.concatenate([y * sw, np.zeros(n)]),
                          rcond=None)[0]
    return sol[:n], (sol[n] if fit_intercept else 0.0)


def assert_close(res, ref, rtol=1e-12):
    """coef, intercept and objective of two FitResults, relative to their size. Both
    objectives come from the statistics, yc.yc - w.Xc^T yc (+ ridge terms), which is
    accurate to about eps * yc.yc / (2m) (see solve_normal), so that scale bounds it:
    the objective of the initial point w = 0, loss_history[0] of gradient descent."""
    scale = np.abs(ref.coef).max()
    np.testing.assert_allclose(res.coef, ref.coef, rtol=0, atol=rtol * scale)
    assert abs(res.intercept - ref.intercept) <= rtol * max(abs(ref.intercept), scale)
    assert abs(res.objective - ref.objective) <= rtol * max(abs(ref.objective), OBJ_SCALE)


CHUNKINGS = {
    "equal": (500,) * 6,
    "unequal": (1, 499, 1000, 7, 1493),
    "empty": (0, 1000, 0, 2000, 0),
    "single": (3000,),
}


@pytest.mark.parametrize("chunks", list(CHUNKINGS), ids=str)
@pytest.mark.parametrize("fit_intercept, l2", [(True, 0.0), (False, 0.0), (True, 0.05)])
def test_solve_normal_equals_local(client, chunks, fit_intercept, l2):
    Xn, yn = problem()
    X = da.from_array(Xn, chunks=(CHUNKINGS[chunks], 6))
    y = da.from_array(yn, chunks=(CHUNKINGS[chunks],))
    res = gdask.solve_normal(X, y, l2=l2, fit_intercept=fit_intercept)
    ref = gradfit.solve_normal(Xn, yn, l2=l2, fit_intercept=fit_intercept)
    assert res.solver == "cholesky" and res.coef.dtype == np.float64
    assert_close(res, ref)
    coef, b = lstsq(Xn, yn, l2=l2, fit_intercept=fit_intercept)
    np.testing.assert_allclose(res.coef, coef, rtol=1e-10)
    assert res.intercept == pytest.approx(b, rel=1e-10, abs=1e-10)


def test_unknown_chunk_sizes_after_filtering(client):
    Xn, yn = problem()
    keep = (np.arange(3000) % 7 != 3) & ((np.arange(3000) < 1000) | (np.arange(3000) >= 1500))
    X = da.from_array(Xn, chunks=(500, 6))
    y = da.from_array(yn, chunks=500)
    mask = da.from_array(keep, chunks=500)
    Xf, yf = X[mask], y[mask]
    assert np.isnan(Xf.shape[0])                     # sizes unknown; chunk 2 is empty
    res = gdask.solve_normal(Xf, yf, l2=0.01)
    assert_close(res, gradfit.solve_normal(Xn[keep], yn[keep], l2=0.01))
    # y as a NumPy array cannot be matched to unknown chunks: a clear error
    with pytest.raises(ValueError, match="unknown row chunk sizes"):
        gdask.solve_normal(Xf, yn[keep])


def test_weights(client):
    Xn, yn = problem()
    rng = np.random.default_rng(1)
    w = rng.uniform(0.0, 3.0, 3000)
    w[500:1000] = 0.0                                # a chunk that counts for nothing
    X = da.from_array(Xn, chunks=(500, 6))
    res = gdask.solve_normal(X, da.from_array(yn, chunks=500),
                             sample_weight=da.from_array(w, chunks=700))    # rechunked
    assert_close(res, gradfit.solve_normal(Xn, yn, sample_weight=w))
    coef, b = lstsq(Xn, yn, w)
    np.testing.assert_allclose(res.coef, coef, rtol=1e-10)
    res2 = gdask.solve_normal(X, yn, sample_weight=w)        # NumPy y and weights
    np.testing.assert_array_equal(res.coef, res2.coef)
    with pytest.raises(ValueError, match="zero for every row"):
        gdask.solve_normal(X, yn, sample_weight=np.zeros(3000))
    Xb = Xn.copy()
    Xb[777, 1] = np.nan                              # in the chunk of zero weights
    with pytest.raises(ValueError, match=r"\(777, 1\)"):
        gdask.solve_normal(da.from_array(Xb, chunks=(500, 6)), yn, sample_weight=w)


def test_float32(client):
    Xn, yn = problem()
    X32, y32 = Xn.astype(np.float32), yn.astype(np.float32)
    chunks = CHUNKINGS["unequal"]
    res = gdask.solve_normal(da.from_array(X32, chunks=(chunks, 6)),
                             da.from_array(y32, chunks=(chunks,)))
    assert res.coef.dtype == np.float32
    coef, b = lstsq(X32.astype(np.float64), y32.astype(np.float64))
    cond = np.linalg.cond(X32 - X32.mean(axis=0, dtype=np.float64))
    np.testing.assert_allclose(res.coef, coef, rtol=0,
                               atol=10 * 6 * cond ** 2 * EPS32 * np.abs(coef).max())
    # the same as the accumulator fed those chunks (float64 statistics, float32 solve)
    acc = gradfit.NormalAccumulator()
    start = 0
    for size in chunks:
        acc.update(X32[start:start + size], y32[start:start + size])
        start += size
    assert_close(res, acc.solve(), rtol=1e-6)


def test_2d_y(client):
    Xn, Yn = problem(k=3)
    X = da.from_array(Xn, chunks=(700, 6))
    results = gdask.solve_normal(X, da.from_array(Yn, chunks=(700, 1)), l2=0.01)
    assert len(results) == 3
    for t, res in enumerate(results):
        assert_close(res, gradfit.solve_normal(Xn, Yn[:, t], l2=0.01))
    w = np.random.default_rng(5).uniform(0.0, 2.0, 3000)
    results = gdask.solve_normal(X, Yn, sample_weight=w, fit_intercept=False)
    for t, res in enumerate(results):
        assert_close(res, gradfit.solve_normal(Xn, Yn[:, t], sample_weight=w,
                                               fit_intercept=False))
    Yb = Yn.copy()
    Yb[1234, 2] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN .* \(1234, 2\)"):
        gdask.solve_normal(X, Yb)


def test_bit_identical_on_repeat_and_equal_to_the_merge_tree(client):
    Xn, yn = problem(m=6000)
    X = da.from_array(Xn, chunks=(250, 6)).persist()      # 24 chunks: a two-level tree
    y = da.from_array(yn, chunks=250).persist()
    first = gdask.solve_normal(X, y)
    for _ in range(2):
        again = gdask.solve_normal(X, y)
        np.testing.assert_array_equal(again.coef, first.coef)
        assert again.intercept == first.intercept and again.objective == first.objective
    fan_in = gdask.fan_in_for(6)
    with threadpool_limits(1):  # the workers' Gram pass runs on one thread too
        leaves = [gradfit.NormalAccumulator().update(Xn[i:i + 250], yn[i:i + 250])
                  for i in range(0, 6000, 250)]
    local = gradfit.NormalAccumulator.merge_all(leaves, fan_in=fan_in).solve()
    np.testing.assert_array_equal(local.coef, first.coef)
    assert local.intercept == first.intercept
    # another fan-in is another tree: equal to rounding, and again equal to merge_all
    other = gdask.solve_normal(X, y, fan_in=2)
    assert_close(other, first)
    local2 = gradfit.NormalAccumulator.merge_all(leaves, fan_in=2).solve()
    np.testing.assert_array_equal(local2.coef, other.coef)


def test_each_chunk_of_x_is_read_once():
    Xn, yn = problem()
    X = da.random.default_rng(0).standard_normal((3000, 6), chunks=(300, 6)) + 1.0
    lazy = gdask.statistics(X, yn)
    graph = dict(lazy.__dask_graph__())
    x_keys = {(X.name, i, 0) for i in range(10)}
    assert x_keys <= graph.keys()
    dependents = {k: [] for k in x_keys}
    for key in graph:
        deps = dask.core.get_dependencies(graph, key)
        for d in deps & x_keys:
            dependents[d].append(key)
    assert all(len(v) == 1 for v in dependents.values()), dependents
    readers = {v[0] for v in dependents.values()}
    assert len(readers) == 10 and all("gradfit-stats" in str(k) for k in readers)
    gradfit_tasks = [k for k in graph if "gradfit" in str(k)]
    assert len(gradfit_tasks) == 10 + 1 + 1          # leaves, one merge (fan-in 16), root
    acc = lazy.compute(scheduler="sync")
    assert acc.n_samples == 3000


def test_x_never_materialised_on_the_client(client, monkeypatch):
    Xn, yn = problem()
    X = da.from_array(Xn, chunks=(500, 6)).persist()
    y = da.from_array(yn, chunks=500).persist()
    ref = gradfit.solve_normal(Xn, yn)

    def forbidden(*args, **kwargs):
        raise AssertionError("a Dask array was materialised on the client")

    for name in ("__array__", "compute", "__array_function__", "__getitem__"):
        monkeypatch.setattr(da.Array, name, forbidden)
    assert_close(gdask.solve_normal(X, y), ref)
    res = gdask.gradient_descent(X, y, step="bb", tol=1e-10)
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-6)
    model = gradfit.LinearRegression().fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef, rtol=1e-12)


def test_errors_name_the_global_row(client):
    Xn, yn = problem()
    Xb = Xn.copy()
    Xb[1405, 2] = np.nan
    Xb[2900, 0] = np.inf
    X = da.from_array(Xb, chunks=(500, 6))
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index "
                                         r"\(1405, 2\)\)"):
        gdask.solve_normal(X, yn)
    keep = np.arange(3000) % 2 == 0                  # row 1405 is dropped, 2900 -> 1450
    mask = da.from_array(keep, chunks=500)
    with pytest.raises(ValueError, match=r"\(first at index \(1450, 0\)\)"):
        gdask.solve_normal(X[mask], da.from_array(yn, chunks=500)[mask])
    yb = yn.copy()
    yb[2222] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(first at index "
                                         r"\(2222,\)\)"):
        gdask.solve_normal(da.from_array(Xn, chunks=(700, 6)), yb)
    w = np.ones(3000)
    w[1999] = -1.0
    with pytest.raises(ValueError, match="negative values \\(first at index 1999\\)"):
        gdask.solve_normal(da.from_array(Xn, chunks=(700, 6)), yn, sample_weight=w)


def test_column_chunked_x_is_rechunked_with_a_warning(client):
    Xn, yn = problem()
    X = da.from_array(Xn, chunks=(500, 4))
    with pytest.warns(PerformanceWarning, match="rechunked"):
        res = gdask.solve_normal(X, yn)
    assert_close(res, gradfit.solve_normal(Xn, yn))


def test_bad_input():
    Xn, yn = problem()
    X = da.from_array(Xn, chunks=(500, 6))
    with pytest.raises(TypeError, match="dask.array.Array"):
        gdask.solve_normal(Xn, yn)
    with pytest.raises(ValueError, match="rows"):
        gdask.solve_normal(X, yn[:-1])
    with pytest.raises(ValueError, match="empty"):
        gdask.solve_normal(X[:0], yn[:0])
    with pytest.raises(ValueError, match="mini-batch"):
        gdask.gradient_descent(X, yn, batch_size=10)
    with pytest.raises(ValueError, match="fan_in"):
        gdask.solve_normal(X, yn, fan_in=1)
    with pytest.raises(ValueError, match="route"):
        gdask.gradient_descent(X, yn, route="other")
    with pytest.raises(ValueError, match="gradient route"):
        gdask.gradient_descent(X, yn, route="gradient", step="adam")
    with pytest.raises(ValueError, match="chunked alike"):
        gdask.solve_normal(X[da.from_array(np.ones(3000, bool), chunks=500)],
                           da.from_array(yn, chunks=500)[da.from_array(
                               np.arange(3000) > 10, chunks=500)].rechunk({0: None}))


@pytest.mark.parametrize("route", ["statistics", "gradient"])
def test_gradient_descent_bb_reaches_the_exact_solution(client, route):
    Xn, yn = problem()
    X = da.from_array(Xn, chunks=(500, 6)).persist()
    y = da.from_array(yn, chunks=500).persist()
    ref = gradfit.solve_normal(Xn, yn)
    res = gdask.gradient_descent(X, y, step="bb", tol=1e-9, route=route)
    assert res.converged and res.solver == "gradient_descent"
    np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-6)
    assert res.intercept == pytest.approx(ref.intercept, rel=1e-6)
    assert res.objective == pytest.approx(ref.objective, rel=1e-9)
    assert res.loss_history[0] == pytest.approx(0.5 * np.mean((yn - yn.mean()) ** 2))


@pytest.mark.parametrize("route", ["statistics", "gradient"])
def test_tiny_data_are_not_declared_converged_at_zero(client, route):
    # X * 1e-8: gradients of ~1e-8. A stopping test with an absolute floor,
    # ||g|| <= tol * max(1, ||g0||), declared w = 0 converged at once; the test is relative.
    Xn, yn = problem()
    Xn = Xn * 1e-8
    ref = gradfit.solve_normal(Xn, yn)
    X = da.from_array(Xn, chunks=(500, 6)).persist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        res = gdask.gradient_descent(X, yn, step="bb", route=route, max_iter=500)
    assert res.n_iter > 0
    if res.converged:
        np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-4)


def test_gradient_route_power_iteration_counterexample(client):
    # A start of one sign, (1, ..., 1)/sqrt(n), is orthogonal to the top eigenvector here:
    # the power iteration settled on the small eigenvalue (L = 0.25 against 1) and the
    # 1/L steps diverged. Seeded symmetric start, and L doubled when a step goes up.
    rng = np.random.default_rng(27)
    u, _ = np.linalg.qr(rng.standard_normal((29, 2)))
    v = np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2.0)  # top direction (1, -1)/sqrt(2)
    Xn = (u * [1.0, 0.5] * 29 ** 0.5) @ v.T
    yn = Xn @ np.array([1.0, -2.0]) + 0.1 * rng.standard_normal(29)
    ref = gradfit.solve_normal(Xn, yn, fit_intercept=False)
    X = da.from_array(Xn, chunks=(10, 2))
    for step in ("lipschitz", "fista"):
        res = gdask.gradient_descent(X, yn, step=step, fit_intercept=False, tol=1e-10,
                                     route="gradient")
        assert res.converged, step
        np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-8)


@pytest.mark.parametrize("route", ["statistics", "gradient"])
def test_fista_lasso_equals_the_local_lasso(client, route):
    rng = np.random.default_rng(3)
    Xn = rng.standard_normal((2000, 10)) + rng.uniform(-2, 2, 10)
    w_true = np.array([2.0, 0, 0, -1.5, 0, 0, 0, 0.5, 0, 0])
    yn = Xn @ w_true + 1.0 + 0.3 * rng.standard_normal(2000)
    weights = rng.uniform(0.5, 2.0, 2000)
    # a short power iteration: each of its passes is a round trip to the cluster
    fista = gradfit.steps.FISTA(max_power_iter=8)
    local = gradfit.gradient_descent(Xn, yn, step=fista, l1=0.05, l2=0.01, tol=1e-10,
                                     sample_weight=weights)
    X = da.from_array(Xn, chunks=(500, 10)).persist()
    res = gdask.gradient_descent(X, yn, step=fista, l1=0.05, l2=0.01, tol=1e-10,
                                 sample_weight=weights, route=route)
    assert res.converged
    np.testing.assert_array_equal(res.coef == 0.0, local.coef == 0.0)
    assert (res.coef == 0.0).sum() >= 5
    np.testing.assert_allclose(res.coef, local.coef, rtol=0, atol=1e-8)
    assert res.intercept == pytest.approx(local.intercept, abs=1e-8)
    assert res.objective == pytest.approx(local.objective, rel=1e-12)


def test_gradient_descent_statistics_route_runs_every_strategy(client):
    Xn, yn = problem()
    X = da.from_array(Xn.astype(np.float32), chunks=(500, 6))
    ref = gradfit.solve_normal(Xn.astype(np.float32).astype(np.float64), yn)
    seen = []
    for step in ("lipschitz", "exact", "backtracking", "momentum", "adam"):
        res = gdask.gradient_descent(X, yn, step=step, fit_intercept=True, max_iter=20000,
                                     tol=1e-8, callback=lambda k, c, b, f: seen.append(b))
        assert res.converged, step
        assert res.coef.dtype == np.float32
        np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-5)
        assert seen[-1] == pytest.approx(ref.intercept, rel=1e-5)   # callbacks see b
    # resuming a result continues it (same point and state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        short = gdask.gradient_descent(X, yn, step="bb", max_iter=3, tol=1e-12,
                                       fit_intercept=False)
        full = gdask.gradient_descent(X, yn, step="bb", max_iter=6, tol=1e-12,
                                      fit_intercept=False)
        resumed = gdask.gradient_descent(X, yn, step="bb", max_iter=3, tol=1e-12, init=short,
                                         fit_intercept=False)
    np.testing.assert_allclose(resumed.coef, full.coef, rtol=1e-12)


def test_estimator_on_dask_arrays(client):
    Xn, yn = problem()
    X = da.from_array(Xn, chunks=(700, 6))
    y = da.from_array(yn, chunks=700)
    for params in ({}, {"l2": 0.01}, {"solver": "gd", "step": "bb", "tol": 1e-10},
                   {"l1": 0.05, "tol": 1e-10}):
        model = gradfit.LinearRegression(**params).fit(X, y)
        local = gradfit.LinearRegression(**params).fit(Xn, yn)
        np.testing.assert_allclose(model.coef_, local.coef_, rtol=1e-6, atol=1e-9)
        pred = model.predict(X)
        assert isinstance(pred, da.Array)                    # lazy
        np.testing.assert_allclose(pred.compute(), local.predict(Xn), rtol=1e-6)
        assert model.score(X, y) == pytest.approx(local.score(Xn, yn), rel=1e-9)
        assert model.n_features_in_ == 6
    Y = np.column_stack([yn, -yn])
    model = gradfit.LinearRegression().fit(X, da.from_array(Y, chunks=(700, 2)))
    np.testing.assert_allclose(model.coef_, gradfit.LinearRegression().fit(Xn, Y).coef_,
                               rtol=1e-12)
    assert model.predict(X).shape == (3000, 2)
    inc = gradfit.LinearRegression(solver="cholesky")
    for a, b in ((0, 1000), (1000, 3000)):
        inc.partial_fit(X[a:b], y[a:b])
    assert_close(inc.result_, gradfit.solve_normal(Xn, yn))
    with pytest.raises(ValueError, match="solver='cholesky'"):
        gradfit.LinearRegression().partial_fit(X, y)
    with pytest.raises(ValueError, match="sgd"):
        gradfit.LinearRegression(solver="sgd").fit(X, y)


def _slow_copy(block):
    time.sleep(0.15)
    return block.copy()


@pytest.mark.slow
def test_a_worker_killed_mid_fit_gives_the_same_answer(client):
    Xn, yn = problem(m=6000)
    X0 = da.from_array(Xn, chunks=(250, 6))
    y = da.from_array(yn, chunks=250)
    expected = gdask.solve_normal(X0, y)
    # every chunk takes 0.15 s to produce: 24 chunks on two workers take ~2 s
    X = X0.map_blocks(_slow_copy, dtype=X0.dtype)
    pids = list(client.run(os.getpid).values())
    out = {}
    fit = threading.Thread(target=lambda: out.setdefault("res", gdask.solve_normal(X, y)))
    fit.start()
    time.sleep(0.8)
    assert fit.is_alive(), "the fit ended before a worker could be killed"
    os.kill(pids[0], signal.SIGKILL)
    fit.join(timeout=120)
    assert not fit.is_alive()
    client.wait_for_workers(2, timeout=60)
    assert os.getpid() not in pids and pids[0] not in client.run(os.getpid).values()
    res = out["res"]
    np.testing.assert_array_equal(res.coef, expected.coef)
    assert res.intercept == expected.intercept and res.objective == expected.objective


def test_docstring_examples():
    """gradfit.dask's examples run as shown (on the synchronous scheduler: no cluster)."""
    import doctest
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(gdask) if t.examples]
    assert len(tests) >= 3
    with dask.config.set(scheduler="sync"):
        for test in tests:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
