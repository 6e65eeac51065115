"""Smoke test of an installed gradfit wheel (run by tools/build-wheels.sh from a fresh venv,
outside the source tree).

Checks that gradfit is imported from the installation, not a source tree; that its compiled
modules run on the libgomp the wheel bundles (gradfit.libs/) and not on a system copy; that
the exact solver and gradient descent (float64 and float32, one and two OpenMP threads) agree
with numpy.linalg.lstsq (threadpoolctl, installed next to the wheel, sets the threads); that
the wheel carries its licence files and no Cython sources.
Prints which kernels ran (GRADFIT_PORTABLE=1 forces the portable ones). Exits nonzero on any
failure.
"""
from __future__ import annotations

import importlib.metadata as md
import sys
import warnings
from pathlib import Path

import numpy as np

import gradfit
from gradfit import _descent, _normal


def _mapped_libraries():
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    return {line.split()[-1] for line in maps.splitlines() if ".so" in line.split()[-1]}


def main() -> int:
    pkg = Path(gradfit.__file__).resolve().parent
    assert "site-packages" in pkg.parts, f"gradfit imported from {pkg}, not an installed wheel"
    print("gradfit", gradfit.__version__, "from", pkg)

    libs = _mapped_libraries()
    if libs is not None:
        gomp = sorted(p for p in libs if "libgomp" in Path(p).name)
        print("libgomp loaded:", gomp)
        assert gomp, "no libgomp mapped: the compiled modules did not load OpenMP"
        assert all("gradfit.libs" in p for p in gomp), f"a libgomp outside the wheel: {gomp}"

    isa = {_normal._kernel_isa(), _descent._kernel_isa()}
    assert len(isa) == 1, isa
    print("kernels:", isa.pop())

    rng = np.random.default_rng(0)
    m, n = 40000, 24          # large enough for the two-thread split of the passes
    X = rng.standard_normal((m, n)) * np.linspace(1, 3, n) + rng.uniform(-2, 2, n)
    w = rng.uniform(-2, 2, n)
    y = X @ w + 1.5 + 0.01 * rng.standard_normal(m)
    A = np.column_stack([X, np.ones(m)])
    ref = np.linalg.lstsq(A, y, rcond=None)[0]

    def check(res, rtol, what):
        got = np.append(res.coef, res.intercept)
        err = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
        print(f"{what:<32} max rel. error vs numpy.linalg.lstsq {err:.1e}")
        assert err <= rtol, what

    from threadpoolctl import threadpool_limits
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            check(gradfit.solve_normal(X, y), 1e-10, f"solve_normal, {threads} thread(s)")
            check(gradfit.solve_normal(np.asfortranarray(X), y), 1e-10,
                  f"solve_normal F-order, {threads}")
            check(gradfit.gradient_descent(X, y, step="bb", tol=1e-12, max_iter=5000), 1e-8,
                  f"gradient_descent bb, {threads}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(gradfit.solve_normal(X.astype(np.float32), y.astype(np.float32)), 1e-4,
              "solve_normal float32")

    dist = md.distribution("gradfit")
    files = {str(f) for f in dist.files or ()}
    licences = sorted(f for f in files if "/licenses/" in f)
    print("licence files:", licences)
    assert any(f.endswith("licenses/LICENSE") for f in licences), licences
    assert any(f.endswith("licenses/LICENSES/libgomp.txt") for f in licences), licences
    cython = sorted(f for f in files if f.endswith((".pyx", ".pxd")))
    assert not cython, f"Cython sources in the wheel: {cython}"
    licence = dist.metadata["License-Expression"]
    assert licence == "BSD-3-Clause", licence
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
