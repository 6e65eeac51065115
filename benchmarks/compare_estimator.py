"""Speed of ``gradfit.LinearRegression(solver="cholesky").fit`` against scikit-learn's
``LinearRegression`` (SVD-based lstsq) and ``Ridge(solver="cholesky")``, in one process.

    python benchmarks/compare_estimator.py [--threads N] [--budget SECONDS] [--sizes ...]

Timed as _timing.py describes (interleaved rounds, ratio of medians, paired quartiles, warm
call before each sample). Every model is fitted with an intercept, float64, C order; answers
are checked against each other before timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LinearRegression as SkLinearRegression, Ridge

import gradfit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402
from _timing import fmt_t, ratio_cell, run, time_interleaved, verdict  # noqa: E402

SIZES = [(1000, 10), (100000, 100), (20000, 1000)]
SOURCES = ["src/gradfit/estimators.py", "src/gradfit/normal.py", "src/gradfit/_stats.py",
           "src/gradfit/accumulator.py", "src/gradfit/_normal.pyx"]
# Targets, one thread: (reference, size) -> minimum reference / gradfit ratio.
TARGETS = {"sklearn_LinearRegression": {(1000, 10): 3.0, (100000, 100): 10.0,
                                        (20000, 1000): 3.0},
           "sklearn_Ridge_cholesky": {(1000, 10): 1.0, (100000, 100): 1.0,
                                      (20000, 1000): 1.0}}


def candidates(X, y):
    alpha = 1e-8 * X.shape[0]  # a ridge too small to matter, on both sides (l2 = alpha / m)
    return {
        "gradfit_cholesky": lambda: gradfit.LinearRegression(solver="cholesky").fit(X, y),
        "gradfit_ridge": lambda: gradfit.LinearRegression(solver="cholesky",
                                                          l2=alpha / X.shape[0]).fit(X, y),
        "sklearn_LinearRegression": lambda: SkLinearRegression().fit(X, y),
        "sklearn_Ridge_cholesky": lambda: Ridge(alpha=alpha, solver="cholesky").fit(X, y),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per size")
    ap.add_argument("--sizes", help="e.g. 1000x10,20000x100")
    args = ap.parse_args(argv)
    sizes = SIZES if not args.sizes else [tuple(int(v) for v in s.split("x"))
                                           for s in args.sizes.split(",")]
    with run("compare_estimator", SOURCES, args.threads):
        for m, n in sizes:
            X, y, _ = ref.make_problem(m, n)
            cands = candidates(X, y)
            fits = {k: f() for k, f in cands.items()}
            base = fits["sklearn_LinearRegression"].coef_
            for k, model in fits.items():
                err = np.abs(model.coef_ - base).max() / np.abs(base).max()
                assert err < 1e-6, f"{k} disagrees with scikit-learn at {m}x{n}: {err:.1e}"
            times = time_interleaved(cands, args.budget)
            print(f"\n{m}x{n}: " + ", ".join(f"{k} {fmt_t(statistics.median(v))}"
                                            for k, v in times.items()))
            for refname, gfname in (("sklearn_LinearRegression", "gradfit_cholesky"),
                                    ("sklearn_Ridge_cholesky", "gradfit_ridge")):
                r, q, cell = ratio_cell(times, refname, gfname)
                target = TARGETS[refname].get((m, n))
                v = verdict(r, target, q) if target and args.threads == 1 else "-"
                print(f"  {refname} / {gfname}: {cell}  target {target}x: {v}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
