"""Per-iteration (per-epoch) cost of gradient descent: another build, this build with
``standardize=False`` and this build with the default, timed in persistent worker processes
in random order, round after round, so that a machine's changing load affects the three
alike. An iteration's time is the difference of two run lengths divided by the difference of
their iteration counts (one-time costs cancel); the table gives medians and quartiles of the
paired ratios.

    python benchmarks/experiments/per_iteration.py --ref /path/to/other/python --rounds 9

Without ``--ref`` only this build's two modes are compared. One thread everywhere.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

SIZES = [(100000, 100), (10000, 10), (2000, 500)]
RULES = ["fixed", "bb", "sgd"]


def worker(mode: str) -> None:
    import warnings

    import numpy as np
    from threadpoolctl import threadpool_limits

    import gradfit
    from gradfit import steps

    warnings.simplefilter("ignore")
    threadpool_limits(1)
    rng = np.random.default_rng(0)
    data = {}
    for m, n in SIZES:
        X = rng.standard_normal((m, n)) * rng.uniform(0.5, 2, n) + rng.uniform(-1, 1, n)
        data[f"{m}x{n}"] = (X, X @ rng.standard_normal(n) + rng.standard_normal(m))
    kw = {} if mode == "ref" else {"standardize": mode == "on"}
    rules = {"fixed": (steps.Fixed(1e-3), None), "bb": ("bb", None),
             "sgd": (steps.Fixed(1e-4), 256)}
    print("ready", flush=True)
    for line in sys.stdin:
        size, name, k = line.split()
        X, y = data[size]
        step, batch = rules[name]
        t = time.perf_counter()
        gradfit.gradient_descent(X, y, step=step, max_iter=int(k), tol=0.0, batch_size=batch,
                                 random_state=0, **kw)
        print(time.perf_counter() - t, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", help="python of another build (its gradfit has no standardize)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    pythons = {"off": sys.executable, "on": sys.executable}
    if args.ref:
        pythons = {"ref": args.ref, **pythons}
    procs = {mode: subprocess.Popen([py, os.path.abspath(__file__), "--worker", mode],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                    cwd="/", env=env) for mode, py in pythons.items()}
    for p in procs.values():
        assert p.stdout.readline().strip() == "ready"

    def timed(mode, size, name, k):
        p = procs[mode]
        p.stdin.write(f"{size} {name} {k}\n")
        p.stdin.flush()
        return float(p.stdout.readline())

    cases = [(f"{m}x{n}", r) for m, n in SIZES for r in RULES]
    per = {c: {mode: [] for mode in procs} for c in cases}
    for _ in range(args.rounds):
        for c in cases:
            k1, k2 = (5, 9) if c[1] == "sgd" else (5, 25)
            if c[0] != "100000x100":  # smaller problems: more iterations per sample
                k1, k2 = (k1, k2 * 4) if c[1] == "sgd" else (k1 * 4, k2 * 4)
            modes = list(procs)
            random.shuffle(modes)
            for mode in modes:
                per[c][mode].append((timed(mode, *c, k2) - timed(mode, *c, k1)) / (k2 - k1))
    for p in procs.values():
        p.stdin.close()

    def quartiles(a):
        a = sorted(a)
        return a[len(a) // 4], statistics.median(a), a[(3 * len(a)) // 4]

    pairs = ([("off", "ref")] if args.ref else []) + [("on", "off")]
    print("case".ljust(22) + "".join(f"{m + ' us':>10s}" for m in procs)
          + "".join(f"   {a}/{b} median (quartiles)" for a, b in pairs))
    for c in cases:
        line = f"{c[0] + ' ' + c[1]:22s}" + "".join(
            f"{statistics.median(per[c][m]) * 1e6:10.1f}" for m in procs)
        for a, b in pairs:
            lo, med, hi = quartiles([x / y for x, y in zip(per[c][a], per[c][b],
                                                              strict=True)])
            line += f"   {med:.3f} ({lo:.3f}-{hi:.3f})        "
        print(line)


if __name__ == "__main__":
    main()
