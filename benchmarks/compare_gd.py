"""Per-iteration time of full-batch gradient descent against the NumPy loop, in one process.

    python benchmarks/compare_gd.py [--threads N] [--budget SECONDS]

``gradient_descent(X, y, step=steps.Fixed(1/L), fit_intercept=False, max_iter=k, tol=0)``
against ``r = X @ w - y; g = X.T @ r / m; w -= lr * g`` at the exact solver's three sizes, and
the fraction of the memory read bandwidth (a NumPy ``sum`` over a 1 GB float64 array, before
and after) gradfit's iteration achieves. Timed as _timing.py describes; gradfit's iterates are
checked against the NumPy loop's first.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gradfit import steps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402
from _fits import gd, main_for  # noqa: E402
from _timing import at, fmt_t, median, ratio_cell, table, time_interleaved, verdict  # noqa: E402

# Targets at one thread.
GD_TARGETS = {(1000, 10): 3.0, (100000, 100): 2.5, (20000, 1000): 1.2}  # numpy / gradfit
BANDWIDTH_TARGET = {(100000, 100): 0.70}  # of the measured memory read bandwidth


def measure(m, n, args):
    """(times, k, error against the NumPy loop, times in separate rounds or None) at m x n."""
    X, y, _ = ref.make_problem(m, n)
    L = ref.lipschitz(X)
    lr = 1.0 / L
    k = ref.GD_ITERS[(m, n)]
    st = steps.Fixed(lr)
    w_np = ref.numpy_gd(X, y, lr, k)
    w_gf = gd(X, y, st, k).coef
    err = np.abs(w_gf - w_np).max() / np.abs(w_np).max()
    if not err <= 1e-10:
        raise SystemExit(f"{m}x{n}: gradfit's coef after {k} Fixed steps differs from the "
                         f"NumPy loop's by {err:.2e} (relative)")
    cands = {
        "gradfit": lambda: gd(X, y, st, k),
        "numpy": lambda: ref.numpy_gd(X, y, lr, k),
        "gradfit_1": lambda: gd(X, y, st, 1),
    }
    times = time_interleaved(cands, args.budget)
    apart = None
    if args.threads > 1:
        # With more than one thread, NumPy's OpenBLAS workers keep spinning for ~0.1 s
        # after each call (OPENBLAS_THREAD_TIMEOUT) and take a core from gradfit's OpenMP
        # threads when the two alternate. Time each side again in rounds of its own.
        apart = time_interleaved({"gradfit": cands["gradfit"],
                                  "gradfit_1": cands["gradfit_1"]}, args.budget / 2)
        apart.update(time_interleaved({"numpy": cands["numpy"]}, args.budget / 2))
    print(f"# {m}x{n}: k = {k} iterations, lr = 1/L = {lr:.4g}, {len(times['gradfit'])} "
          f"rounds, max rel. coef difference gradfit vs NumPy {err:.1e}", flush=True)
    return times, k, err, apart


def part_gd(args, bw):
    print("## Full-batch gradient descent, Fixed(1/L), no intercept: time per iteration\n")
    results = {(m, n): measure(m, n, args) for m, n in ref.GD_SIZES}
    print()
    bw1 = median(bw)
    rows, rows_apart = [], []
    for (m, n), (times, k, _, apart) in results.items():
        t_gf, t_np, t_1 = (median(times[c]) for c in ("gradfit", "numpy", "gradfit_1"))
        r, q, cell = ratio_cell(times, "numpy", "gradfit")
        per = t_gf / k
        marginal = (t_gf - t_1) / (k - 1)
        frac = m * n * 8 / per / bw1
        target = [f"ratio >= {GD_TARGETS[(m, n)]:g}: {verdict(r, GD_TARGETS[(m, n)], q)}"]
        if (m, n) in BANDWIDTH_TARGET:
            target.append(f"bandwidth >= {BANDWIDTH_TARGET[(m, n)]:.0%}: "
                          f"{verdict(frac, BANDWIDTH_TARGET[(m, n)])}")
        rows.append([f"{m}x{n}", k, fmt_t(per), fmt_t(t_np / k), f"**{cell}**",
                     fmt_t(t_1), fmt_t(marginal), f"{m * n * 8 / per / 1e9:.1f}",
                     f"{frac:.0%}", "; ".join(target)])
        if apart:
            a_gf, a_np, a_1 = (median(apart[c]) for c in ("gradfit", "numpy", "gradfit_1"))
            rows_apart.append([f"{m}x{n}", fmt_t(a_gf / k), fmt_t(a_np / k),
                               f"{a_np / a_gf:.2f}", fmt_t((a_gf - a_1) / (k - 1)),
                               f"{m * n * 8 / (a_gf / k) / 1e9:.1f}"])
    table(["m x n", "k", "gradfit / iter", "numpy / iter", "numpy / gradfit",
           "gradfit max_iter=1 (whole call)", "gradfit marginal / iter", "X read GB/s",
           "of bandwidth", f"target ({at(args.threads)})"], rows)
    if rows_apart:
        print(f"The same, gradfit and NumPy each timed in rounds of their own (no NumPy BLAS "
              f"call just before a gradfit call), {args.threads} threads:\n")
        table(["m x n", "gradfit / iter", "numpy / iter", "numpy / gradfit (ratio of medians, "
               "separate rounds)", "gradfit marginal / iter", "X read GB/s"], rows_apart)
    print(f"gradfit / iter = call time / k (k steps take k + 1 fused passes over X: the "
          f"objective and gradient of the final point are evaluated too); marginal = (t(k) - "
          f"t(1)) / (k - 1); bandwidth = {bw1 / 1e9:.1f} GB/s (1 GB NumPy sum, one thread).\n")


def main(argv=None):
    return main_for(part_gd, __doc__, argv, bandwidth=True)


if __name__ == "__main__":
    sys.exit(main())
