"""Speed of gradfit's iterative solvers against NumPy and scikit-learn: every comparison in one
process, under one header.

    python benchmarks/compare_descent.py [--threads N] [--budget SECONDS]
                                         [--parts gd,sgd,lasso,acc,tts]

Parts (all by default), each also a script of its own:

* ``gd`` (compare_gd.py): per-iteration time of fixed-rate full-batch gradient descent
  against the NumPy loop, and the fraction of the memory read bandwidth it achieves;
* ``sgd`` (compare_sgd.py): mini-batch SGD against SGDRegressor and a NumPy loop, time to a
  relative objective gap of 1e-3;
* ``lasso`` (compare_lasso.py): FISTA (with and without ``precompute``) against Lasso, time
  to a relative objective gap of 1e-8; the Gram statistics' break-even;
* ``acc`` (compare_accumulator.py): NormalAccumulator over 100 chunks against solve_normal;
* ``tts`` (compare_tts.py): iterations and seconds every step strategy needs to reach a
  relative coefficient error of 1e-6.

Timed as _timing.py describes. The memory read bandwidth is a NumPy ``sum`` over a 1 GB
float64 array, measured before and after the parts. The diagnosis experiments are in
experiments/diag_descent.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_accumulator  # noqa: E402
import compare_gd  # noqa: E402
import compare_lasso  # noqa: E402
import compare_sgd  # noqa: E402
import compare_tts  # noqa: E402
from _fits import BW_BYTES, SOURCES, header_lines, parser, report_bandwidth  # noqa: E402
from _timing import bandwidth_samples, run  # noqa: E402

PARTS = {"gd": compare_gd.part_gd, "sgd": compare_sgd.part_sgd,
         "lasso": compare_lasso.part_lasso, "acc": compare_accumulator.part_acc,
         "tts": compare_tts.part_tts}


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    args = p.parse_args(argv)
    parts = [s for s in args.parts.split(",") if s]
    for s in parts:
        if s not in PARTS:
            p.error(f"unknown part {s!r}")
    with run("compare_descent", SOURCES, args.threads, [*header_lines(),
                                                        f"parts: {', '.join(parts)}"]):
        big = np.ones(BW_BYTES // 8)
        bw = bandwidth_samples(big)
        for s in parts:
            if s == "gd":
                PARTS[s](args, bw)
            else:
                PARTS[s](args)
        bw += bandwidth_samples(big)
        del big
        report_bandwidth(bw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
