"""Speed of ``gradfit.solve_normal`` against the NumPy / SciPy references, in one process.

    python benchmarks/compare_normal.py [--threads N] [--budget SECONDS] [--sizes 1000x10,...]

For each size, every candidate (gradfit with and without intercept, the references, gradfit's
Gram pass alone, without and with centring, and NumPy's ``X.T @ X``) is timed as _timing.py
describes (interleaved rounds, a warm call before each sample, ratio of medians with the
quartiles of the per-round paired ratios). The dgemm rate (2000 x 2000 float64 ``np.dot``,
2 N^3 flops) is measured before and after the sizes; the Gram step's rate counts m n^2 flops.
Every candidate's answer is checked against the NumPy reference before timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

import gradfit
from gradfit import _normal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402
from _timing import (  # noqa: E402
    fmt_t,
    ratio_cell,
    run,
    sample,
    time_interleaved,
    verdict,
)

DGEMM_N = 2000

# Targets, at one thread: (m, n) -> minimum NumPy-reference / gradfit ratio.
RATIO_TARGETS = {(1000, 10): 1.5, (100000, 100): 1.25, (20000, 1000): 1.0}
# A polynomial design (refinement running) against a well-conditioned one of the same shape,
# both with an intercept: time ratio at most this.
REFINEMENT_ROWS, REFINEMENT_DEGREE, REFINEMENT_MAX_RATIO = 100000, 7, 4.0
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


def dgemm_rate(rounds=7):
    A, B = ref.dgemm_operands(DGEMM_N)
    f = lambda: ref.dgemm(A, B)  # noqa: E731
    ts = [sample(f, 1) for _ in range(rounds)]
    return ts


# The files that make up the exact solver: the run says if any differs from HEAD.
SOLVER_SOURCES = ["src/gradfit/normal.py", "src/gradfit/_stats.py", "src/gradfit/_normal.pyx",
                  "src/gradfit/_blas.pxd", "src/gradfit/_validation.py", "src/gradfit/_result.py"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP thread limit for gradfit and the references (default 1)")
    p.add_argument("--budget", type=float, default=25.0,
                   help="approximate seconds of timing per size (default 25)")
    p.add_argument("--sizes", default=",".join(f"{m}x{n}" for m, n in ref.SIZES),
                   help="comma-separated MxN list (default: the three reference sizes)")
    p.add_argument("--no-refinement", action="store_true",
                   help="skip the refinement-cost comparison (polynomial vs well-conditioned)")
    args = p.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]

    with run("compare_normal", SOLVER_SOURCES, args.threads):
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
        refinement = None if args.no_refinement else time_refinement(args.budget / 2)
        dg += dgemm_rate()
        rate = 2 * DGEMM_N ** 3 / statistics.median(dg)
        print(f"# dgemm {DGEMM_N}x{DGEMM_N}: {rate / 1e9:.1f} GFLOP/s (median of {len(dg)}, "
              f"range {2 * DGEMM_N ** 3 / max(dg) / 1e9:.1f}–"
              f"{2 * DGEMM_N ** 3 / min(dg) / 1e9:.1f})\n")
        report(results, rate, args.threads)
        if refinement is not None:
            report_refinement(*refinement)
    return 0


def time_refinement(budget):
    """solve_normal with an intercept on a well-conditioned and on a polynomial design of the
    same shape (the second refined): their times, rconds and the refinement steps."""
    Xw, yw, _ = ref.make_problem(REFINEMENT_ROWS, REFINEMENT_DEGREE)
    Xp, yp = ref.make_polynomial_problem(REFINEMENT_ROWS, REFINEMENT_DEGREE)
    rw, rp = gradfit.solve_normal(Xw, yw), gradfit.solve_normal(Xp, yp)
    if rw.refinement_steps != 0 or rp.refinement_steps < 1:
        raise SystemExit(f"refinement did not run as expected: {rw} / {rp}")
    times = time_interleaved({"well": lambda: gradfit.solve_normal(Xw, yw),
                              "poly": lambda: gradfit.solve_normal(Xp, yp)}, budget)
    return times, rw.rcond, rp.rcond, rp.refinement_steps


def report_refinement(times, rcond_well, rcond_poly, steps):
    r, _, cell = ratio_cell(times, "poly", "well")
    print(f"Refinement cost, {REFINEMENT_ROWS}x{REFINEMENT_DEGREE} with intercept: "
          f"well-conditioned (rcond {rcond_well:.2g}, not refined) "
          f"{fmt_t(statistics.median(times['well']))}; polynomial of degree "
          f"{REFINEMENT_DEGREE} on [0, 1] (rcond {rcond_poly:.1e}, {steps} refinement "
          f"step(s)) {fmt_t(statistics.median(times['poly']))}; ratio polynomial / "
          f"well-conditioned {cell}; target <= {REFINEMENT_MAX_RATIO:g}: "
          + ("met" if r <= REFINEMENT_MAX_RATIO else "MISSED") + "\n")


def report(results, rate, threads):
    print("Median time per call:\n")
    cols = ["gradfit", "numpy_solve", "scipy_cho", "gradfit+icpt", "numpy_centered",
            "scipy_cho_centered", "gram_pass", "gram_pass+icpt", "numpy_XtX"]
    print("| m x n | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for (m, n), (times, _) in results.items():
        print(f"| {m}x{n} | " + " | ".join(fmt_t(statistics.median(times[c])) for c in cols)
              + " |")
    print()

    print(f"Ratios, reference time / gradfit time (> 1: gradfit faster), {threads} "
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


if __name__ == "__main__":
    sys.exit(main())
