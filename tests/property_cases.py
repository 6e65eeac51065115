"""The worker side of test_properties.py: builds a case from its description, runs one public
entry point on it and classifies the outcome, in a child process (see ``Worker``) so that a
crash or a hang fails the property with its reproducer instead of taking pytest down.

A case is a plain dict (picklable, printable): the data come from a seed, then a dtype, a
layout (C, F, strided, reversed, read-only, list), scales 10**kx and 10**ky, per-column
scales and offsets and special values written at given places, so that a failure prints a
description from which ``run_case(case)`` reproduces it exactly.

The reference is numpy.linalg.lstsq on the same (cast) data, in float64, solved in unit
coordinates (X / 10**kx, y / 10**ky) and scaled back: the minimiser of gradfit's objective
f(w, b) = sum_i s_i (y_i - x_i.w - b)^2 / (2 sum_i s_i) + l2/2 |w|^2 + l1 |w|_1 (l1 = 0 here).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import traceback
import warnings

import numpy as np

#: What a public entry point may raise on bad or out-of-range input: a clear error.
ALLOWED_ERRORS = ("ValueError", "DivergenceError", "TypeError")


# ---------------------------------------------------------------------- building a case
def _layout(arr: np.ndarray, layout: str):
    """arr (C-contiguous) in the requested memory layout, with the same values."""
    if layout == "C":
        return np.ascontiguousarray(arr)
    if layout == "F":
        return np.asfortranarray(arr)
    if layout == "strided":  # every other row (and column) of a larger array
        big = np.zeros((arr.shape[0] * 2,) + arr.shape[1:], dtype=arr.dtype)
        big[::2] = arr
        return big[::2]
    if layout == "reversed":  # negative strides
        rev = np.ascontiguousarray(arr[::-1])
        return rev[::-1]
    if layout == "readonly":
        out = np.array(arr)
        out.flags.writeable = False
        return out
    if layout == "list":
        return arr.tolist()
    raise AssertionError(layout)


def build(case: dict):
    """(X, y, sample_weight) as passed to gradfit, and the float64 unit-scale data
    (X_unit, y_unit, weights) the reference is computed from."""
    rng = np.random.default_rng(case["seed"])
    m, n = case["m"], case["n"]
    col = 10.0 ** np.asarray(case.get("col_log_scale", [0] * n), dtype=float)
    offset = case.get("offset", 0.0)
    Xu = rng.standard_normal((m, n)) * col + offset * rng.uniform(0.5, 1.5, n)
    coef = rng.uniform(-2.0, 2.0, n) / col
    yu = Xu @ coef + case.get("b", 1.0) + case.get("noise", 0.1) * rng.standard_normal(m)
    sx, sy = 10.0 ** case.get("kx", 0), 10.0 ** case.get("ky", 0)
    dtype = np.dtype(case.get("dtype", "float64"))
    ydtype = np.dtype(case.get("ydtype", case.get("dtype", "float64")))
    with np.errstate(all="ignore"):
        X = (Xu * sx).astype(dtype)
        y = (yu * sy).astype(ydtype)
    sw = None
    if case.get("weights") == "random":
        sw = rng.uniform(0.0, 3.0, m)
    elif case.get("weights") == "some-zero":
        sw = rng.uniform(0.5, 2.0, m)
        sw[rng.random(m) < 0.3] = 0.0
        sw[0] = 1.0
    for where, index, value in case.get("specials", []):
        target = {"X": X, "y": y, "sw": sw}[where]
        if target is not None:
            target[tuple(index) if isinstance(index, (list, tuple)) else index] = value
    X_pass = _layout(X, case.get("layout", "C"))
    y_pass = _layout(y, case.get("ylayout", "C")) if case.get("ylayout") else y
    # the reference reads exactly what gradfit reads (after the casts: y is read in the
    # working precision of X as passed), in unit coordinates
    with np.errstate(all="ignore"):
        X_unit = X.astype(np.float64) / sx
        y_read = y.astype(out_dtype(X_pass)) if y.dtype.kind == "f" else y
        y_unit = y_read.astype(np.float64) / sy
    return X_pass, y_pass, sw, X_unit, y_unit


def reference(X_unit, y_unit, sw, fit_intercept: bool, lam: float):
    """Minimiser (w, b) of the unit-scale objective, its value, the value at the start
    (w = 0, b optimal) and the condition number of the least-squares matrix."""
    m, n = X_unit.shape
    s = np.ones(m) if sw is None else np.asarray(sw, dtype=np.float64)
    s = s / s.max()  # the objective is scale-free in the weights: keep their sum finite
    W = s.sum()
    if fit_intercept:
        mx = s @ X_unit / W
        my = s @ y_unit / W
    else:
        mx, my = np.zeros(n), 0.0
    r = np.sqrt(s)
    A = (X_unit - mx) * r[:, None]
    c = (y_unit - my) * r
    if lam > 0:
        A = np.vstack([A, math.sqrt(W * lam) * np.eye(n)])
        c = np.concatenate([c, np.zeros(n)])
    w = np.linalg.lstsq(A, c, rcond=None)[0]
    sv = np.linalg.svd(A, compute_uv=False)
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else math.inf
    b = float(my - mx @ w) if fit_intercept else 0.0
    f_opt = objective(X_unit, y_unit, sw, lam, w, b)
    f_start = objective(X_unit, y_unit, sw, lam, np.zeros(n), float(my))
    return w, b, f_opt, f_start, cond


def objective(X, y, sw, lam, w, b):
    r = y - X @ np.asarray(w, dtype=np.float64) - b
    s = np.ones(len(y)) if sw is None else np.asarray(sw, dtype=np.float64)
    s = s / s.max()
    return float(s @ (r * r)) / (2 * s.sum()) + 0.5 * lam * float(w @ w)


# ---------------------------------------------------------------------- running a case
def _snapshot(*arrays):
    return [None if a is None else (np.array(a, copy=True) if isinstance(a, np.ndarray)
                                    else repr(a)) for a in arrays]


def _same(before, arrays) -> bool:
    for b, a in zip(before, arrays, strict=True):
        if b is None:
            continue
        if isinstance(b, str):
            if repr(a) != b:
                return False
        elif not (a.dtype == b.dtype and a.shape == b.shape
                  and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")):
            return False
    return True


def run_case(case: dict) -> dict:
    """Run ``case["entry"]`` on the case; the outcome as a plain dict."""
    import gradfit

    X, y, sw, X_unit, y_unit = build(case)
    sx, sy = 10.0 ** case.get("kx", 0), 10.0 ** case.get("ky", 0)
    fit_intercept = case.get("fit_intercept", True)
    lam = case.get("lam", 0.0)
    if type(lam) is float and math.isfinite(lam) and lam >= 0:
        l2 = lam * sx * sx
        # the penalty the solver sees, back in unit coordinates (l2 itself may be subnormal)
        lam = l2 / sx / sx
    else:  # any value, as given (hyper-parameter tests): no reference
        l2, lam = lam, None
    entry = case["entry"]
    kwargs = dict(case.get("kwargs", {}))
    out = {"entry": entry, "error": None, "warnings": []}
    before = _snapshot(X if isinstance(X, np.ndarray) else None, y, sw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = _call(gradfit, entry, X, y, sw, l2, fit_intercept, kwargs)
        except Exception as exc:  # classified by the test
            out["error"] = type(exc).__name__
            out["message"] = str(exc)
            out["traceback"] = traceback.format_exc()
            res = None
        out["warnings"] = [f"{type(w.message).__name__}: {w.message}" for w in caught]
    out["mutated"] = not _same(before, (X if isinstance(X, np.ndarray) else None, y, sw))
    if res is None:
        return out
    coef, intercept, converged, reported = res
    out.update(coef=np.asarray(coef, dtype=np.float64).tolist(), intercept=float(intercept),
               converged=converged, reported_objective=reported)
    coef = np.asarray(coef, dtype=np.float64)
    if not (np.isfinite(coef).all() and math.isfinite(intercept)):
        out["nonfinite_result"] = True
        return out
    finite = np.isfinite(X_unit).all() and np.isfinite(y_unit).all() and lam is not None
    if finite:
        w_ref, b_ref, f_opt, f_start, cond = reference(X_unit, y_unit, sw, fit_intercept, lam)
        # coefficients in the subnormal range cannot carry relative precision: the check
        # of the answer is then meaningless (it is the nearest representable value)
        work = np.float32 if out_dtype(X) == np.float32 else np.float64
        fin = np.finfo(work)
        with np.errstate(divide="ignore"):
            log_w = np.log10(np.abs(w_ref)) + case.get("ky", 0) - case.get("kx", 0)
            log_b = math.log10(abs(b_ref)) + case.get("ky", 0) if b_ref else -np.inf
        floor = math.log10(fin.tiny / fin.eps)
        out["subnormal"] = bool((np.isfinite(log_w) & (log_w < floor)).any()
                                or -np.inf < log_b < floor)
        w_u = coef * sx / sy
        b_u = intercept / sy
        f = objective(X_unit, y_unit, sw, lam, w_u, b_u)
        out.update(w_unit=w_u.tolist(), w_ref=w_ref.tolist(), b_unit=b_u, b_ref=b_ref,
                   f=f, f_opt=f_opt, f_start=f_start, cond=cond,
                   y_square=0.5 * float(np.mean(y_unit * y_unit)),
                   gap=(f - f_opt) / max(f_start - f_opt, 1e-300),
                   coef_err=float(np.linalg.norm(w_u - w_ref))
                   / max(float(np.linalg.norm(w_ref)), 1e-300))
        # the user-unit objective is only meaningful to compare above the subnormals
        if reported is not None and f_start * sy * sy > 1e-280:
            out["reported_unit"] = reported / sy / sy
    return out


def out_dtype(X):
    """The working precision gradfit uses for X."""
    d = np.asarray(X).dtype
    return np.dtype(np.float32) if d in (np.float32, np.float16) else np.dtype(np.float64)


def _call(gradfit, entry, X, y, sw, l2, fit_intercept, kwargs):
    """(coef, intercept, converged, reported objective) of one entry point."""
    if entry == "solve_normal":
        r = gradfit.solve_normal(X, y, l2=l2, fit_intercept=fit_intercept, sample_weight=sw,
                                 **kwargs)
        return r.coef, r.intercept, r.converged, r.objective
    if entry == "gradient_descent":
        if "step_spec" in kwargs:  # a strategy built with one given hyper-parameter
            param, name, value = kwargs.pop("step_spec")
            kwargs["step"] = type(gradfit.steps.get(name))(**{param: value})
        r = gradfit.gradient_descent(X, y, l2=l2, fit_intercept=fit_intercept,
                                     sample_weight=sw, **kwargs)
        return r.coef, r.intercept, r.converged, r.objective
    if entry == "accumulator":
        chunks = kwargs.pop("chunks")
        acc = gradfit.NormalAccumulator()
        Xa, ya = np.asarray(X), np.asarray(y)
        edges = [0] + sorted(chunks) + [Xa.shape[0]]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if sw is not None and not sw[lo:hi].any() and np.isfinite(Xa[lo:hi]).all() \
                    and np.isfinite(ya[lo:hi]).all():
                continue  # a chunk of zero weights is refused by update: the caller skips it
            if hi > lo:
                acc.update(Xa[lo:hi], ya[lo:hi],
                           sample_weight=None if sw is None else sw[lo:hi])
        r = acc.solve(l2=l2, fit_intercept=fit_intercept)
        return r.coef, r.intercept, r.converged, r.objective
    if entry == "estimator":
        model = gradfit.LinearRegression(l2=l2, fit_intercept=fit_intercept, **kwargs)
        model.fit(X, y, sample_weight=sw)
        pred = model.predict(X)
        direct = np.asarray(X, dtype=np.float64) @ model.coef_ + model.intercept_
        if not np.allclose(pred, direct, rtol=1e-5, atol=1e-5 * np.abs(direct).max()):
            raise AssertionError("LinearRegression.predict differs from X @ coef_ + b")
        r = model.result_
        converged = r.converged
        return model.coef_, model.intercept_, converged, r.objective
    raise AssertionError(entry)


# ---------------------------------------------------------------------- the worker
def _serve(conn) -> None:
    while True:
        try:
            fn_name, arg = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", globals()[fn_name](arg)))
        except BaseException as exc:  # an error of the harness itself
            conn.send(("harness-error", f"{type(exc).__name__}: {exc}\n"
                                        f"{traceback.format_exc()}"))


class Crash(Exception):
    """The child process died (signal or abort) or hung."""


class Worker:
    """A long-lived child process that runs cases; restarted after a crash or a hang."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self.proc = None
        self._start()

    def _start(self) -> None:
        self.conn, child = self._ctx.Pipe()
        self.proc = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def call(self, fn_name: str, arg, timeout: float = 120.0):
        self.conn.send((fn_name, arg))
        if not self.conn.poll(timeout):
            self._restart()
            raise Crash(f"no answer within {timeout} s (hang) for {arg!r}")
        try:
            status, value = self.conn.recv()
        except (EOFError, ConnectionError):
            self.proc.join(5)
            code = self.proc.exitcode
            self._restart()
            raise Crash(f"the process died (exit code {code}) on {arg!r}") from None
        if status != "ok":
            raise AssertionError(value)
        return value

    def _restart(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        self._start()

    def close(self) -> None:
        self.conn.close()
        self.proc.kill()
        self.proc.join(5)


# ---------------------------------------------------------------------- resume states
def _edited_pickle(state, changes: dict, drop: tuple = ()):
    """Pickle bytes of ``state`` whose field dict was edited (as a file written by another
    version, or by hand, would be)."""
    import copyreg
    import pickle

    fields = dict(state.__dict__)
    fields.update(changes)
    for name in drop:
        fields.pop(name, None)

    class Edited:
        def __reduce__(self):
            # what pickle writes for the state: a new object, then __setstate__(fields)
            return copyreg._reconstructor, (type(state), object, None), fields

    return pickle.dumps(Edited())


def run_state_case(case: dict) -> dict:
    """Fit, corrupt the result's resume state as ``case`` says, resume; the outcome."""
    import dataclasses
    import pickle

    import gradfit

    rng = np.random.default_rng(case["seed"])
    X = rng.standard_normal((60, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0 + 0.1 * rng.standard_normal(60)
    kwargs = dict(step=case["step"], batch_size=case.get("batch_size"), random_state=0,
                  fit_intercept=case.get("fit_intercept", True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = gradfit.gradient_descent(X, y, max_iter=3, **kwargs)
    out = {"error": None, "stage": "corrupt"}
    field, value, how = case["field"], case["value"], case["how"]
    try:
        state = first.state
        if how == "replace":
            if field in state.scalars:
                state = dataclasses.replace(state, scalars=dict(state.scalars,
                                                                **{field: value}))
            else:
                state = dataclasses.replace(state, **{field: value})
        elif how == "forced":  # past the frozen dataclass
            if field in state.scalars:
                state.scalars[field] = value
            else:
                object.__setattr__(state, field, value)
        elif how == "pickle":
            drop = (field,) if isinstance(value, str) and value == "<missing>" else ()
            changes = {} if drop else (
                {"scalars": dict(state.scalars, **{field: value})}
                if field in state.scalars else {field: value})
            state = pickle.loads(_edited_pickle(state, changes, drop))
        else:
            raise AssertionError(how)
        res = dataclasses.replace(first, state=state)
        out["stage"] = "resume"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = gradfit.gradient_descent(X, y, max_iter=case.get("max_iter", 20),
                                             init=res, **{k: v for k, v in kwargs.items()
                                                          if k != "random_state"})
        out["warnings"] = [f"{type(w.message).__name__}: {w.message}" for w in caught]
    except Exception as exc:
        out.update(error=type(exc).__name__, message=str(exc),
                   traceback=traceback.format_exc())
        return out
    out.update(converged=again.converged, finite=bool(np.isfinite(again.coef).all()
                                                      and math.isfinite(again.intercept)),
               objective=again.objective)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(60)]) if kwargs["fit_intercept"]
                          else X, y, rcond=None)[0]
    f_opt = float(np.sum((y - (np.column_stack([X, np.ones(60)]) if kwargs["fit_intercept"]
                               else X) @ ref) ** 2)) / 120
    f_start = float(np.sum((y - (y.mean() if kwargs["fit_intercept"] else 0.0)) ** 2)) / 120
    out.update(f_opt=f_opt, f_start=f_start)
    return out


def run_predict_case(case: dict) -> dict:
    """Fit on well-scaled data, then predict on X built from ``case`` (any dtype, layout,
    scale, special values): X @ coef + b computed by NumPy in float64, or a ValueError."""
    import gradfit

    rng = np.random.default_rng(0)
    Xf = rng.standard_normal((40, case["n"]))
    yf = Xf @ rng.uniform(-2, 2, case["n"]) + 1.0
    res = gradfit.solve_normal(Xf, yf)
    model = gradfit.LinearRegression().fit(Xf, yf)
    X, _, _, _, _ = build({**case, "ky": 0})
    before = _snapshot(X if isinstance(X, np.ndarray) else None)
    out = {}
    for name, f in (("result", res.predict), ("estimator", model.predict)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # NumPy overflow: reported
                pred = np.asarray(f(X), dtype=np.float64)
            with np.errstate(all="ignore"):
                ref = np.asarray(X, dtype=np.float64) @ res.coef.astype(np.float64) \
                    + res.intercept
            out[name] = {"error": None, "pred": pred.tolist(), "ref": ref.tolist()}
        except Exception as exc:
            out[name] = {"error": type(exc).__name__, "message": str(exc)}
    out["mutated"] = not _same(before, (X if isinstance(X, np.ndarray) else None,))
    return out
