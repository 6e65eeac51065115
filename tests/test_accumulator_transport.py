"""NormalAccumulator features for distributed fitting: empty and zero-weight chunks, errors
naming the global row (``row_offset``), the fixed merge tree (``merge_all``, ``merge_tree``)
and the pickle-free serialisation (``to_dict``/``from_dict``).

What is checked, and why:

* Empty chunks (a boolean filter can empty a partition) add nothing: the statistics stay
  bit-identical, and the fit equals NumPy's lstsq on the rows. Their column count and dtype
  are still checked.
* ``row_offset`` makes a NaN's and a negative weight's index the row in the whole data.
* ``merge_all`` follows ``merge_tree``'s shape exactly (its result equals merges done by hand
  in that order, bit for bit), for every count up to 20 and fan-ins 2 to 5; the merged fit
  equals lstsq on all rows.
* ``to_dict`` holds only plain values and float64 arrays (``np.savez`` with
  ``allow_pickle=False`` round-trips it), the Gram matrix as n(n+1)/2 numbers, and
  ``from_dict`` gives back statistics that solve bit-identically; malformed, future-version
  and non-finite inputs are ValueErrors.
"""
from __future__ import annotations

import io

import numpy as np
import pytest

import gradfit
from gradfit.accumulator import merge_tree


def problem(m=300, n=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * [1.0, 2.0, 0.5, 3.0][:n] + rng.uniform(-3, 3, n)
    y = X @ rng.uniform(-2, 2, n) + 1.0 + 0.1 * rng.standard_normal(m)
    return X, y


def lstsq_fit(X, y, w=None):
    """Weighted least squares with intercept by NumPy's lstsq (independent reference)."""
    w = np.ones(len(y)) if w is None else w
    A = np.column_stack([X, np.ones(len(y))]) * np.sqrt(w)[:, None]
    sol = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)[0]
    return sol[:-1], sol[-1]


def same_stats(a, b):
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        np.testing.assert_array_equal(da[key], db[key], err_msg=key)


def test_empty_chunks_add_nothing():
    X, y = problem()
    acc = gradfit.NormalAccumulator()
    acc.update(X[:0], y[:0])                      # before any rows: columns become known
    assert acc.n_features == 4 and acc.n_samples == 0
    acc.update(X[:100], y[:100])
    ref = gradfit.NormalAccumulator().update(X[:100], y[:100])
    acc.update(X[100:100], y[100:100], sample_weight=np.ones(0))
    same_stats(acc, gradfit.NormalAccumulator().update(X[:0], y[:0]).merge(ref))
    acc.update(X[100:], y[100:])
    coef, b = lstsq_fit(X, y)
    res = acc.solve()
    np.testing.assert_allclose(res.coef, coef, rtol=1e-10)
    assert res.intercept == pytest.approx(b, rel=1e-10)
    with pytest.raises(ValueError, match="columns"):
        acc.update(X[:0, :3], y[:0])
    with pytest.raises(ValueError, match="non-numeric"):
        acc.update(X[:0].astype(str), y[:0])
    with pytest.raises(ValueError, match="no data yet"):
        gradfit.NormalAccumulator().update(X[:0], y[:0]).solve()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_errors_name_the_global_row(dtype):
    X, y = problem()
    X, y = X.astype(dtype), y.astype(dtype)
    acc = gradfit.NormalAccumulator().update(X[:100], y[:100])
    Xn = X[100:200].copy()
    Xn[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at index "
                                         r"\(140005, 0\)\)"):
        acc.update(Xn, y[100:200], row_offset=140000)
    yn = y[100:200].copy()
    yn[7] = np.inf
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(first at index "
                                         r"\(207,\)\)"):
        acc.update(X[100:200], yn, row_offset=200)
    w = np.ones(100)
    w[9] = -1.0
    with pytest.raises(ValueError, match="negative values \\(first at index 1009\\)"):
        acc.update(X[100:200], y[100:200], sample_weight=w, row_offset=1000)
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="row_offset"):
            acc.update(X[100:200], y[100:200], row_offset=bad)
    assert acc.n_samples == 100                       # every failed update left it alone


def test_merge_tree_shape():
    assert merge_tree(1, 2) == []
    assert merge_tree(5, 2) == [[(0, 2), (2, 4), (4, 5)], [(0, 2), (2, 3)], [(0, 2)]]
    assert merge_tree(20, 16) == [[(0, 16), (16, 20)], [(0, 2)]]
    for bad in (1, 0, 2.0, True):
        with pytest.raises(ValueError, match="fan_in"):
            merge_tree(4, bad)


@pytest.mark.parametrize("fan_in", [2, 3, 5])
def test_merge_all_follows_the_tree(fan_in):
    X, y = problem(m=400)
    for k in range(1, 21):
        bounds = np.linspace(0, 400, k + 1).astype(int)
        leaves = [gradfit.NormalAccumulator().update(X[a:b], y[a:b])
                  for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        before = [leaf.to_dict() for leaf in leaves]
        merged = gradfit.NormalAccumulator.merge_all(leaves, fan_in=fan_in)
        level = list(leaves)                       # the same tree, by hand
        for groups in merge_tree(k, fan_in):
            nxt = []
            for a, b in groups:
                acc = level[a]
                for other in level[a + 1:b]:
                    acc = acc.merge(other)
                nxt.append(acc)
            level = nxt
        same_stats(merged, level[0])
        assert merged is not leaves[0]
        for leaf, d in zip(leaves, before, strict=True):        # inputs untouched
            same_stats(leaf, gradfit.NormalAccumulator.from_dict(d))
        coef, b = lstsq_fit(X, y)
        np.testing.assert_allclose(merged.solve().coef, coef, rtol=1e-10)
    assert gradfit.NormalAccumulator.merge_all([]).n_samples == 0
    with pytest.raises(TypeError):
        gradfit.NormalAccumulator.merge_all([gradfit.NormalAccumulator(), 3])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_to_dict_round_trips_without_pickle(dtype):
    X, y = problem(n=4)
    acc = gradfit.NormalAccumulator().update(X[:120].astype(dtype), y[:120].astype(dtype))
    acc.update(X[120:].astype(dtype), y[120:].astype(dtype))
    d = acc.to_dict()
    assert d["gram_upper"].shape == (10,)        # n(n+1)/2
    for value in d.values():
        assert isinstance(value, (str, int, float, bool, np.ndarray))
        assert not isinstance(value, np.ndarray) or value.dtype == np.float64
    buf = io.BytesIO()
    np.savez(buf, **d)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as archive:
        back = gradfit.NormalAccumulator.from_dict(archive)
    same_stats(back, acc)
    r0, r1 = acc.solve(l2=0.01), back.solve(l2=0.01)
    assert r1.coef.dtype == dtype
    np.testing.assert_array_equal(r0.coef, r1.coef)
    assert r0.intercept == r1.intercept and r0.objective == r1.objective
    # an empty one, and one that saw only an empty chunk
    e = gradfit.NormalAccumulator.from_dict(gradfit.NormalAccumulator().to_dict())
    assert e.n_features is None and e.n_samples == 0
    e = gradfit.NormalAccumulator.from_dict(
        gradfit.NormalAccumulator().update(X[:0], y[:0]).to_dict())
    assert e.n_features == 4


def test_from_dict_rejects_bad_input():
    X, y = problem()
    good = gradfit.NormalAccumulator().update(X, y).to_dict()
    cases = {
        "format": ({**good, "format": "other"}, "format"),
        "version": ({**good, "version": 2}, "version 2"),
        "missing": ({k: v for k, v in good.items() if k != "xty"}, "lack 'xty'"),
        "shape": ({**good, "mean_x": np.zeros(3)}, "shape"),
        "nan": ({**good, "gram_upper": np.full(10, np.nan)}, "NaN"),
        "zero rows": ({**good, "n_samples": 0.0}, "n_samples"),
        "not a dict": ({"a": 1}, "not a NormalAccumulator"),
    }
    for data, match in cases.values():
        with pytest.raises(ValueError, match=match):
            gradfit.NormalAccumulator.from_dict(data)
