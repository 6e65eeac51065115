"""What the iterative-solver comparisons (compare_gd/sgd/lasso/accumulator/tts.py, and
compare_descent.py that runs them all) share: the gradfit call they time, the command line,
and the run header."""
from __future__ import annotations

import argparse
import datetime
import os
import warnings
from collections.abc import Callable

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

import gradfit
from _timing import bandwidth_samples, median, run
from gradfit.errors import ConvergenceWarning

# tol=0 / max_iter runs warn by design; scikit-learn warns when tol=None stops at max_iter.
warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", SkConvergenceWarning)

# The files the iterative solvers are made of: the header says if any differs from HEAD.
SOURCES = ["src/gradfit/descent.py", "src/gradfit/steps.py", "src/gradfit/_descent.pyx",
           "src/gradfit/_stats.py", "src/gradfit/accumulator.py", "src/gradfit/normal.py",
           "src/gradfit/_normal.pyx", "src/gradfit/_validation.py", "src/gradfit/_result.py",
           "csrc/gf_kernels.c", "csrc/gf_kernels_impl.h", "csrc/gf_kernels.h"]
BW_BYTES = 1 << 30  # the array whose NumPy sum gauges the memory read bandwidth


def gd(X, y, step, max_iter, **kw):
    """gradient_descent without intercept, tol=0 (so exactly max_iter steps) and the
    textbook iteration (standardize=False: rates derived from the raw problem) unless
    given."""
    kw.setdefault("fit_intercept", False)
    kw.setdefault("tol", 0.0)
    kw.setdefault("standardize", False)
    return gradfit.gradient_descent(X, y, step=step, max_iter=max_iter, **kw)


def rel_gap(f, fstar):
    return (f - fstar) / abs(fstar)


def build_time() -> str:
    """When the compiled engine this process loaded was built (an editable install may lag
    behind the sources)."""
    from gradfit import _descent
    return datetime.datetime.fromtimestamp(os.path.getmtime(_descent.__file__),
                                           datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP thread limit for gradfit and the references (default 1)")
    p.add_argument("--budget", type=float, default=20.0,
                   help="approximate seconds of interleaved timing per comparison (default 20)")
    return p


def header_lines() -> list[str]:
    return [f"compiled engine built {build_time()}", f"scikit-learn {sklearn.__version__}"]


def report_bandwidth(bw: list[float]) -> None:
    print(f"# memory read bandwidth (NumPy sum over 1 GB, one thread): {median(bw) / 1e9:.1f} "
          f"GB/s (median of {len(bw)}, range {min(bw) / 1e9:.1f}–{max(bw) / 1e9:.1f})")


def main_for(part: Callable, doc: str, argv=None, bandwidth: bool = False) -> int:
    """A script that runs one comparison: ``part(args)``, or ``part(args, bw)`` with samples
    of the memory read bandwidth taken before it."""
    args = parser(doc).parse_args(argv)
    name = os.path.splitext(os.path.basename(doc.split("python ", 1)[1].split()[0]))[0]
    with run(name, SOURCES, args.threads, header_lines()):
        if bandwidth:
            big = np.ones(BW_BYTES // 8)
            bw = bandwidth_samples(big)
            del big
            part(args, bw)
            report_bandwidth(bw)
        else:
            part(args)
    return 0
