"""Speed of ``gradfit.solve_normal`` against the NumPy / SciPy references, in one process.

    python benchmarks/compare_normal.py [--threads N] [--budget SECONDS] [--sizes 1000x10,...]

For each size, every candidate (gradfit with and without intercept, the references, gradfit's
Gram pass alone, without and with centring, and NumPy's ``X.T @ X``) is timed in interleaved
rounds: one sample of each per round, in a rotating order, so that drift of a shared machine
hits all of them alike. A sample is the mean of enough back-to-back calls to last >= 20 ms.
Reported: medians, the ratio of medians (reference time / gradfit time: > 1 means gradfit is
faster) and the quartiles of the per-round paired ratios (a noise gauge). The dgemm rate
(2000 x 2000 float64 ``np.dot``, 2 N^3 flops) is measured before and after the sizes; the Gram
step's rate counts m n^2 flops. Every candidate's answer is checked against the NumPy
reference before timing.

Each sample is preceded by one untimed ("warm") call of the same candidate. On a VM whose
balloon driver reports free pages to the host, memory freed more than about a second earlier
costs ~10x more to touch again (re-touching 160 MB: ~20 ms within a second of freeing it,
200-340 ms a few seconds later). Without the warm call, a reference that allocates a centred
copy of X would pay that or not depending only on what ran before it.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradfit  # noqa: E402
import reference as ref  # noqa: E402
from gradfit import _normal  # noqa: E402

SAMPLE_SECONDS = 0.02
DGEMM_N = 2000

# Targets of the issue, at one thread: (m, n) -> minimum NumPy-reference / gradfit ratio.
RATIO_TARGETS = {(1000, 10): 4.0, (100000, 100): 1.25, (20000, 1000): 1.0}
GRAM_TARGET = {(20000, 1000): 0.70}  # Gram step rate / dgemm rate


def candidates(X, y):
    """name -> zero-argument callable returning (coef, intercept) (or the Gram matrix)."""
    return {
        "gradfit": lambda: _coef(gradfit.solve_normal(X, y, fit_intercept=False)),
        "numpy_solve": lambda: (ref.numpy_solve(X, y), 0.0),
        "scipy_cho": lambda: (ref.scipy_cho(X, y), 0.0),
        "gradfit+icpt": lambda: _coef(gradfit.solve_normal(X, y, fit_intercept=True)),
        "numpy_centered": lambda: ref.numpy_solve_centered(X, y),
        "scipy_cho_centered": lambda: ref.scipy_cho_centered(X, y),
        # (private: G, X^T y and y^T y are the last three items it returns)
        "gram_pass": lambda: _normal.gram_pass(X, y, False)[-3],
        "gram_pass+icpt": lambda: _normal.gram_pass(X, y, True)[-3],
        "numpy_XtX": lambda: X.T @ X,
    }


def _coef(res):
    return res.coef, res.intercept


def check(cands, X, y):
    """Largest relative coef difference of each solver against the NumPy reference."""
    want = {False: ref.numpy_solve(X, y), True: ref.numpy_solve_centered(X, y)[0]}
    worst = 0.0
    for name, f in cands.items():
        if name in ("gram_pass", "gram_pass+icpt", "numpy_XtX"):
            out = f()
            Xc = X - X.mean(axis=0) if name == "gram_pass+icpt" else X
            XtX = Xc.T @ Xc
            err = np.abs(out - XtX).max() / np.abs(XtX).max()
            del Xc
        else:
            coef, _ = f()
            w = want[name in ("gradfit+icpt", "numpy_centered", "scipy_cho_centered")]
            err = np.abs(coef - w).max() / np.abs(w).max()
        if not err < 1e-9:
            raise SystemExit(f"{name}: wrong answer (relative error {err:.2e})")
        worst = max(worst, err)
    return worst


def calibrate(f):
    """Calls per sample so that a sample lasts >= SAMPLE_SECONDS; also returns one call's time."""
    f()  # warm up (first-touch, thread start-up, lazy imports)
    t0 = time.perf_counter()
    f()
    t = time.perf_counter() - t0
    if t < 1e-3:  # small: time a batch for a better estimate
        k = 100
        t0 = time.perf_counter()
        for _ in range(k):
            f()
        t = (time.perf_counter() - t0) / k
    return max(1, math.ceil(SAMPLE_SECONDS / t)), t


def sample(f, number):
    f()  # untimed: see "warm" in the module docstring
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            f()
        return (time.perf_counter() - t0) / number
    finally:
        gc.enable()


def time_interleaved(cands, budget, min_rounds=5, max_rounds=41):
    """Interleaved rounds within ~budget seconds: name -> list of per-call times (one per round)."""
    cal = {name: calibrate(f) for name, f in cands.items()}
    round_time = sum((number + 1) * t for number, t in cal.values())
    rounds = int(min(max_rounds, max(min_rounds, budget // round_time)))
    names = list(cands)
    times = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(sample(cands[name], cal[name][0]))
    return times


def dgemm_rate(rounds=7):
    A, B = ref.dgemm_operands(DGEMM_N)
    f = lambda: ref.dgemm(A, B)  # noqa: E731
    ts = [sample(f, 1) for _ in range(rounds)]
    return ts


def busy_seconds():
    """(CPU-seconds all processes spent busy, CPU-seconds this process used): the difference
    over a run is the work of other processes competing for the cores (Linux /proc/stat)."""
    own = sum(os.times()[:4])
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]  # idle + iowait
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK"), own
    except (OSError, ValueError, IndexError):
        return math.nan, own


def fmt_t(t):
    return f"{t * 1e6:.1f} µs" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def ratio_cell(times, ref_name, gf_name):
    """Ratio of medians, and the quartiles of the per-round paired ratios (a noise gauge)."""
    r = statistics.median(times[ref_name]) / statistics.median(times[gf_name])
    paired = [a / b for a, b in zip(times[ref_name], times[gf_name], strict=True)]
    q1, _, q3 = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    return r, (q1, q3), f"{r:.2f} ({q1:.2f}–{q3:.2f})"


def verdict(value, target, quartiles=None):
    """'met', 'MISSED', or 'borderline' when the target lies within the paired quartiles."""
    if value >= target:
        return "met"
    if quartiles is not None and quartiles[1] >= target:
        return "borderline (within noise), not met"
    return "MISSED"


# The files that make up the exact solver: the run says if any differs from HEAD.
SOLVER_SOURCES = ["src/gradfit/normal.py", "src/gradfit/_normal.pyx", "src/gradfit/_blas.pxd",
                  "src/gradfit/_validation.py", "src/gradfit/_result.py"]


def git_describe(sources=SOLVER_SOURCES):
    """HEAD, and which of ``sources`` differ from it (shared by the compare_* scripts)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", *sources], cwd=root,
                               capture_output=True, text=True).stdout.split()[1::2]
        return head + (f" (modified: {', '.join(dirty)})" if dirty
                       else " (solver sources as committed)")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP thread limit for gradfit and the references (default 1)")
    p.add_argument("--budget", type=float, default=25.0,
                   help="approximate seconds of timing per size (default 25)")
    p.add_argument("--sizes", default=",".join(f"{m}x{n}" for m, n in ref.SIZES),
                   help="comma-separated MxN list (default: the issue's three sizes)")
    args = p.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]

    load0 = os.getloadavg()
    busy0, own0, wall0 = *busy_seconds(), time.perf_counter()
    with threadpool_limits(limits=args.threads):
        pools = "; ".join(f"{i['prefix']} {i.get('version')} {i['num_threads']} thr"
                          for i in threadpool_info())
        print(f"# compare_normal: {datetime.datetime.now():%Y-%m-%d %H:%M}, "
              f"gradfit {gradfit.__version__} @ {git_describe()}")
        print(f"# {cpu_name()}, {os.cpu_count()} CPUs; python {platform.python_version()}, "
              f"numpy {np.__version__}, scipy {scipy.__version__}")
        print(f"# thread limit {args.threads}: {pools}")
        print(f"# load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
        sys.stdout.flush()

        dg = dgemm_rate()
        results = {}
        for m, n in sizes:
            X, y, _ = ref.make_problem(m, n)
            cands = candidates(X, y)
            err = check(cands, X, y)
            times = time_interleaved(cands, args.budget)
            results[(m, n)] = (times, err)
            print(f"# {m}x{n}: {len(times['gradfit'])} rounds, max rel. coef difference "
                  f"vs NumPy {err:.1e}", flush=True)
            del X, y, cands
        dg += dgemm_rate()
    load1 = os.getloadavg()
    busy1, own1, wall1 = *busy_seconds(), time.perf_counter()
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)

    t_dgemm = statistics.median(dg)
    rate = 2 * DGEMM_N ** 3 / t_dgemm
    print(f"# dgemm {DGEMM_N}x{DGEMM_N}: {rate / 1e9:.1f} GFLOP/s (median of {len(dg)}, "
          f"range {2 * DGEMM_N ** 3 / max(dg) / 1e9:.1f}–{2 * DGEMM_N ** 3 / min(dg) / 1e9:.1f})")
    print(f"# load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; other "
          f"processes kept {others:.2f} of {os.cpu_count()} CPUs busy during the run "
          f"({'quiet' if others < 0.1 else 'NOT quiet: expect noise'})")
    print()

    print("Median time per call:\n")
    cols = ["gradfit", "numpy_solve", "scipy_cho", "gradfit+icpt", "numpy_centered",
            "scipy_cho_centered", "gram_pass", "gram_pass+icpt", "numpy_XtX"]
    print("| m x n | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for (m, n), (times, _) in results.items():
        print(f"| {m}x{n} | " + " | ".join(fmt_t(statistics.median(times[c])) for c in cols)
              + " |")
    print()

    print(f"Ratios, reference time / gradfit time (> 1: gradfit faster), {args.threads} "
          "thread(s); in brackets the quartiles of the per-round paired ratios:\n")
    print("| m x n | numpy / gradfit | scipy_cho / gradfit | numpy_centered / gradfit+icpt "
          "| scipy_cho_centered / gradfit+icpt | Gram pass GFLOP/s | Gram / dgemm "
          "| Gram pass share of solve | target (1 thread) |")
    print("|---" * 9 + "|")
    for (m, n), (times, _) in results.items():
        r_np, q_np, c_np = ratio_cell(times, "numpy_solve", "gradfit")
        c_sp = ratio_cell(times, "scipy_cho", "gradfit")[2]
        c_npc = ratio_cell(times, "numpy_centered", "gradfit+icpt")[2]
        c_spc = ratio_cell(times, "scipy_cho_centered", "gradfit+icpt")[2]
        t_gram = statistics.median(times["gram_pass"])
        gram_rate = m * n * n / t_gram
        frac = gram_rate / rate
        share = t_gram / statistics.median(times["gradfit"])
        target = []
        if (m, n) in RATIO_TARGETS:
            target.append(f"numpy/gradfit >= {RATIO_TARGETS[(m, n)]:g}: "
                          + verdict(r_np, RATIO_TARGETS[(m, n)], q_np))
        if (m, n) in GRAM_TARGET:
            target.append(f"Gram >= {GRAM_TARGET[(m, n)]:.0%} of dgemm: "
                          + verdict(frac, GRAM_TARGET[(m, n)]))
        print(f"| {m}x{n} | {c_np} | {c_sp} | {c_npc} | {c_spc} | {gram_rate / 1e9:.1f} "
              f"| {frac:.0%} | {share:.0%} | {'; '.join(target) or '-'} |")
    print()
    if args.threads != 1:
        print("(The issue's targets are defined at 1 thread; shown here for information.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
