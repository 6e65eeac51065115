"""NormalAccumulator over 100 chunks against solve_normal in one call, in one process.

    python benchmarks/compare_accumulator.py [--threads N] [--budget SECONDS]

Timed as _timing.py describes; the accumulator's answer is checked against solve_normal's.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import gradfit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402
from _fits import main_for  # noqa: E402
from _timing import at, fmt_t, median, ratio_cell, table, time_interleaved, verdict  # noqa: E402

ACC_TARGET = 1.3           # accumulator time / solve_normal time, at most


def part_acc(args):
    m, n, chunks = 100000, 100, 100
    print(f"## NormalAccumulator over {chunks} chunks vs solve_normal, {m}x{n}, "
          f"fit_intercept=True\n")
    X, y, _ = ref.make_problem(m, n)
    Xs, ys = np.split(X, chunks), np.split(y, chunks)  # views: no copies

    def accumulate():
        acc = gradfit.NormalAccumulator()
        for Xc, yc in zip(Xs, ys, strict=True):
            acc.update(Xc, yc)
        return acc.solve(fit_intercept=True)

    want = gradfit.solve_normal(X, y, fit_intercept=True)
    got = accumulate()
    err = np.abs(got.coef - want.coef).max() / np.abs(want.coef).max()
    if not err <= 1e-9 or abs(got.intercept - want.intercept) > 1e-9:
        raise SystemExit(f"accumulator differs from solve_normal by {err:.2e}")
    cands = {"accumulator": accumulate,
             "solve_normal": lambda: gradfit.solve_normal(X, y, fit_intercept=True),
             "solve_normal_noicpt": lambda: gradfit.solve_normal(X, y, fit_intercept=False)}
    times = time_interleaved(cands, args.budget)
    print(f"# {len(times['accumulator'])} interleaved rounds, max rel. coef difference "
          f"{err:.1e}\n")
    r, q, cell = ratio_cell(times, "accumulator", "solve_normal")
    q_inv = (1 / q[1], 1 / q[0])
    table(["accumulator (100 updates + solve)", "solve_normal(fit_intercept=True)",
           "solve_normal(fit_intercept=False)", "accumulator / solve_normal",
           f"target <= {ACC_TARGET:g} ({at(args.threads)})"],
          [[fmt_t(median(times["accumulator"])), fmt_t(median(times["solve_normal"])),
            fmt_t(median(times["solve_normal_noicpt"])), f"**{cell}**",
            verdict(1 / r, 1 / ACC_TARGET, q_inv)]])


def main(argv=None):
    return main_for(part_acc, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
