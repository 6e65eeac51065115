"""Fits that between them run every dispatched C kernel (gf_cpu.h) in both layouts and both
precisions: the exact solver's block copy, target copy and Gram pass, the full-batch residual
and gradient sweeps (row-major: the hand-written AVX2 sweep; column-major: matvec and
rmatvec), the line search's residual norm, and the mini-batch gather.

``python tests/kernel_problems.py OUT.npz`` writes the results with the kernels the running
process chose (``GRADFIT_PORTABLE=1``: the portable ones), so that two processes, or two CPUs,
can be compared with :func:`compare`.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

import gradfit
from gradfit import steps

# float64 results of the two kernel sets must agree to this (relative to the largest entry);
# float32 data is summed in float32 within a block, so its results differ by float32 rounding.
RTOL = {"float64": 1e-9, "float32": 1e-4}


def _data(m, n, dtype, order, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * np.linspace(1.0, 3.0, n) + rng.uniform(-2.0, 2.0, n)
    y = X @ rng.uniform(-2.0, 2.0, n) + 1.5 + 0.1 * rng.standard_normal(m)
    sw = rng.uniform(0.5, 2.0, m)
    return np.asarray(X, dtype=dtype, order=order), y.astype(dtype), sw.astype(dtype)


def _params(res):
    return np.append(np.asarray(res.coef, dtype=np.float64).ravel(), res.intercept)


def problems():
    """name -> (dtype name, X, y, sample_weight or None, function(X, y, sw) -> FitResult)."""
    out = {}
    for dtype in ("float64", "float32"):
        for order in ("C", "F"):
            # n = 7, 10, 13: every remainder of the 4-wide and 2-wide tails; 64: whole vectors
            for n in (7, 10, 13, 64):
                X, y, sw = _data(1500, n, dtype, order, seed=n)
                for weighted in (False, True):
                    w = sw if weighted else None
                    tag = f"{dtype}-{order}-n{n}{'-sw' if weighted else ''}"
                    out[f"normal-{tag}"] = (dtype, X, y, w, lambda X, y, w: gradfit.solve_normal(
                        X, y, l2=1e-3, sample_weight=w))
                    out[f"normal-noint-{tag}"] = (dtype, X, y, w, lambda X, y, w: (
                        gradfit.solve_normal(X, y, fit_intercept=False, sample_weight=w)))
                    out[f"gd-exact-{tag}"] = (dtype, X, y, w, lambda X, y, w: (
                        gradfit.gradient_descent(X, y, step="exact", l2=1e-3, max_iter=60,
                                                 tol=0.0, sample_weight=w)))
                    out[f"sgd-{tag}"] = (dtype, X, y, w, lambda X, y, w: (
                        gradfit.gradient_descent(X, y, batch_size=32, step=steps.Fixed(0.01),
                                                 max_iter=2, tol=None, random_state=0,
                                                 sample_weight=w)))
                    if n == 10:
                        out[f"fista-{tag}"] = (dtype, X, y, w, lambda X, y, w: (
                            gradfit.gradient_descent(X, y, step="fista", l1=0.05,
                                                     max_iter=60, tol=0.0, sample_weight=w)))
    return out


def run():
    """name -> parameters (coefficients, then the intercept) as float64. The descents run a
    fixed number of iterations (tol=0): their ConvergenceWarnings are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gradfit.ConvergenceWarning)
        return {name: _params(fit(X, y, w)) for name, (_, X, y, w, fit) in problems().items()}


def compare(got, ref):
    """Names whose results differ by more than RTOL of their precision, with the difference."""
    bad = {}
    dtypes = {name: spec[0] for name, spec in problems().items()}
    assert set(got) == set(ref) == set(dtypes)
    for name, r in ref.items():
        rel = np.max(np.abs(got[name] - r)) / np.max(np.abs(r))
        if not rel <= RTOL[dtypes[name]]:
            bad[name] = rel
    return bad


def kernel_isa():
    """The kernels both compiled modules run ("avx2-fma" or "portable")."""
    from gradfit import _descent, _normal
    isa = {getattr(mod, "_kernel_isa", lambda: "unknown")() for mod in (_normal, _descent)}
    assert len(isa) == 1, isa
    return isa.pop()


if __name__ == "__main__":
    results = run()
    np.savez(sys.argv[1], __isa__=np.array(kernel_isa()), **results)
    print(kernel_isa(), len(results), "fits")
