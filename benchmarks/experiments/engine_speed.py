"""Per-iteration speed of the descent engine against another build of gradfit.

Times a few fixed-length fits (full batch over X in float64 and float32, C and F order, on
the Gram statistics, FISTA with l1, mini-batch SGD) in child processes of each interpreter,
alternating the two builds for several rounds, and prints the ratio of the best times
(after / before: 1.00 is the same speed), in CPU time of the process (less sensitive to other
load than wall time). On a loaded machine read only ratios taken in the
same run.

    python benchmarks/experiments/engine_speed.py --before /work/ref/.venv/bin/python \
        [--after .venv/bin/python] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASES = {
    "bb f64 C 20000x50": dict(dtype="float64", order="C", step="bb"),
    "fixed f64 F 20000x50": dict(dtype="float64", order="F", step="fixed"),
    "backtracking f32 C 20000x50": dict(dtype="float32", order="C", step="backtracking"),
    "exact f64 C weighted": dict(dtype="float64", order="C", step="exact", weighted=True),
    "fista l1 f64 C": dict(dtype="float64", order="C", step="fista", l1=0.01),
    "fista l1 gram 20000x50": dict(dtype="float64", order="C", step="fista", l1=0.01,
                                   precompute=True, max_iter=2000),
    "sgd adam f64 C batch 32": dict(dtype="float64", order="C", step="adam", batch_size=32,
                                    max_iter=5),
}


def child(repeats: int) -> None:
    import time
    import warnings

    import numpy as np

    import gradfit

    rng = np.random.default_rng(0)
    X0 = rng.standard_normal((20000, 50)) + rng.uniform(-1, 1, 50)
    y0 = X0 @ rng.standard_normal(50) + 0.1 * rng.standard_normal(20000)
    w0 = rng.uniform(0.5, 1.5, 20000)
    out = {}
    for name, case in CASES.items():
        case = dict(case)
        X = np.asarray(X0, dtype=case.pop("dtype"), order=case.pop("order"))
        y = y0.astype(X.dtype)
        weights = w0 if case.pop("weighted", False) else None
        case.setdefault("max_iter", 100)
        best = float("inf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(repeats):
                t0 = time.process_time()
                res = gradfit.gradient_descent(X, y, tol=0.0, sample_weight=weights, **case)
                best = min(best, (time.process_time() - t0) / max(res.n_iter, 1))
        out[name] = best
    print(json.dumps(out))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    best: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for _ in range(args.rounds):
        for label, python in (("before", args.before), ("after", args.after)):
            out = subprocess.run([python, __file__, "--before", "-", "--child", "3"],
                                 capture_output=True, text=True, check=True).stdout
            for name, t in json.loads(out.splitlines()[-1]).items():
                best[label][name] = min(best[label].get(name, float("inf")), t)
    print(f"{'case':32s} {'before us/it':>12s} {'after us/it':>12s} {'ratio':>6s}")
    for name in CASES:
        b, a = best["before"][name], best["after"][name]
        print(f"{name:32s} {b * 1e6:12.1f} {a * 1e6:12.1f} {a / b:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
