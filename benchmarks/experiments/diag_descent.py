"""Exploratory timing experiments on the iterative solvers: where the time goes.

    python benchmarks/experiments/diag_descent.py [--threads N] [--budget SECONDS]

Not a maintained benchmark (no targets, nothing in CI runs it): small experiments whose
results are quoted in benchmarks/RESULTS.md. Fixed GD at m = 1000 (call cost against the
marginal iteration, by n mod 4), the fused pass's bandwidth by row width, one SGD epoch taken
apart, and FISTA's power iteration against its iterations.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import Lasso, SGDRegressor

import gradfit
from gradfit import steps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference as ref  # noqa: E402
from _fits import gd, main_for  # noqa: E402
from _timing import fmt_t, median, table, time_interleaved  # noqa: E402


def call_cost_row(args, n):
    """Fixed GD on 1000 x n: a whole call with max_iter=1, and one more iteration."""
    rng = np.random.default_rng([7, n])
    X = rng.standard_normal((1000, n))
    y = rng.standard_normal(1000)
    st = steps.Fixed(0.1)
    k = 2001
    cands = {"k": lambda: gd(X, y, st, k), "1": lambda: gd(X, y, st, 1)}
    times = time_interleaved(cands, args.budget / 6, max_rounds=15)
    t_k, t_1 = median(times["k"]), median(times["1"])
    per = (t_k - t_1) / (k - 1)
    return [f"1000x{n}", fmt_t(t_1), fmt_t(per), f"{per / (1000 * n) * 1e9:.3f}",
            f"{4 * 1000 * n / per / 1e9:.1f}"]


def pass_bandwidth_row(args, n, bw1):
    """The fused pass's read rate on 80 MB of X with rows of n, against NumPy's."""
    m = 10_000_000 // n
    rng = np.random.default_rng([8, n])
    X = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    w = np.zeros(n)
    st = steps.Fixed(1e-3)
    # gradfit and NumPy in separate rounds (see compare_gd.py: NumPy's BLAS workers spin)
    times = time_interleaved({"k": lambda: gd(X, y, st, 11),
                              "1": lambda: gd(X, y, st, 1)}, args.budget / 6, max_rounds=15)
    times.update(time_interleaved({"sum": lambda: X.sum(), "Xw": lambda: X @ w},
                                  args.budget / 12, max_rounds=15))
    per = (median(times["k"]) - median(times["1"])) / 10
    nb = X.nbytes
    return [f"{m}x{n}", fmt_t(per), f"{nb / per / 1e9:.1f} ({nb / per / bw1:.0%})",
            f"{nb / median(times['sum']) / 1e9:.1f}", f"{nb / median(times['Xw']) / 1e9:.1f}"]


def part_diag(args, bw):
    print("## Diagnosis experiments (medians of interleaved rounds)\n")
    bw1 = median(bw)
    # 1. (1000, 10): fixed cost per call vs per iteration, and the tail of n mod 4 columns.
    rows = [call_cost_row(args, n) for n in (8, 10, 12, 16)]
    print("Fixed GD at m = 1000: cost of a whole call with max_iter=1 (validation, two fused "
          "passes, result) and the marginal cost of one more iteration:\n")
    table(["m x n", "call, max_iter=1", "marginal / iteration", "ns per element",
           "GFLOP/s (4 flops per element)"], rows)

    # 2. bandwidth of the fused pass by row width (80 MB of X each)
    rows = [pass_bandwidth_row(args, n, bw1) for n in (10, 100, 200, 1000)]
    print(f"Fused residual+gradient pass (marginal per iteration) by row width, 80 MB of X; "
          f"bandwidth reference {bw1 / 1e9:.1f} GB/s:\n")
    table(["m x n", "gradfit pass", "GB/s (of bandwidth)", "X.sum() GB/s", "NumPy X @ w GB/s"],
          rows)

    # 3. one SGD epoch, taken apart
    X, y, _ = ref.make_sgd_problem()
    m, n = X.shape
    B = ref.SGD_BATCH
    st = steps.Fixed(ref.sgd_rate(X, B))
    avg = int(ref.SGD_AVERAGE_FRACTION * m)
    perm = np.random.default_rng(0).permutation(m)
    small = steps.Fixed(1e-3)
    cands = {
        "epoch": lambda: gradfit.gradient_descent(X, y, step=st, batch_size=B, max_iter=1,
                                                  tol=0, average=avg, random_state=0),
        "epoch_noshuffle": lambda: gradfit.gradient_descent(
            X, y, step=st, batch_size=B, max_iter=1, tol=0, average=avg, shuffle=False),
        "fixed_1": lambda: gd(X, y, small, 1),
        "fixed_11": lambda: gd(X, y, small, 11),
        "exact_1": lambda: gd(X, y, "exact", 1),
        "numpy_gather": lambda: X[perm],
        "sklearn_epoch": lambda: SGDRegressor(penalty=None, max_iter=1, tol=None,
                                              random_state=0, eta0=0.03,
                                              average=True).fit(X, y),
        "sklearn_epoch_noshuffle": lambda: SGDRegressor(penalty=None, max_iter=1, tol=None,
                                                        shuffle=False, eta0=0.03,
                                                        average=True).fit(X, y),
    }
    times = time_interleaved(cands, args.budget)
    t = {k: median(v) for k, v in times.items()}
    grad_pass = (t["fixed_11"] - t["fixed_1"]) / 10
    obj_pass = t["exact_1"] - t["fixed_1"]  # exact line search adds one objective-type pass
    print(f"One SGD epoch on {m}x{n} (gradfit: batch {B}, Fixed, average=m/10; "
          f"{len(times['epoch'])} rounds), taken apart:\n")
    table(["piece", "time", "how"],
          [["gradfit, 1 epoch, shuffled (what the SGD comparison times)",
            fmt_t(t["epoch"]), "measured"],
           ["gradfit, 1 epoch, shuffle=False", fmt_t(t["epoch_noshuffle"]), "measured"],
           ["  one fused residual+gradient pass over X (full batch)", fmt_t(grad_pass),
            "(t(Fixed, k=11) - t(Fixed, k=1)) / 10"],
           ["  one objective-only pass over X (gf_residual_sqnorm)", fmt_t(obj_pass),
            "t(exact, k=1) - t(Fixed, k=1): the line search's extra pass"],
           ["  → the epoch's exact-objective pass (after it; the start at w = 0 needs y only)",
            fmt_t(obj_pass), "the line above"],
           ["  → the SGD sweep itself, rows in storage order",
            fmt_t(t["epoch_noshuffle"] - obj_pass), "unshuffled epoch - 1 pass"],
           ["  → shuffling and gathering the rows in random order",
            fmt_t(t["epoch"] - t["epoch_noshuffle"]), "shuffled - unshuffled"],
           ["NumPy X[perm] (all rows gathered in a random order, 80 MB written)",
            fmt_t(t["numpy_gather"]), "measured"],
           ["scikit-learn, 1 epoch (eta0=0.03, average=True)", fmt_t(t["sklearn_epoch"]),
            "measured"],
           ["scikit-learn, 1 epoch, shuffle=False", fmt_t(t["sklearn_epoch_noshuffle"]),
            "measured"]])
    print(f"(memory-speed pass of 80 MB at {bw1 / 1e9:.1f} GB/s: "
          f"{fmt_t(X.nbytes / bw1)})\n")
    del X, y, cands

    # 4. FISTA: the power iteration's share, and what one iteration costs
    X, y, _ = ref.make_lasso_problem(rho=0.0)
    l1 = ref.LASSO_L1[0.0]
    tol = ref.LASSO_TOL["fista"]
    cands = {
        "fista": lambda: gradfit.gradient_descent(X, y, step="fista", l1=l1, tol=tol,
                                                  max_iter=100000),
        "fista_1": lambda: gradfit.gradient_descent(X, y, step="fista", l1=l1, tol=0,
                                                    max_iter=1),
        "fista_1_p1": lambda: gradfit.gradient_descent(
            X, y, step=steps.FISTA(max_power_iter=1), l1=l1, tol=0, max_iter=1),
        "fista_p5": lambda: gradfit.gradient_descent(X, y, step=steps.FISTA(max_power_iter=5),
                                                     l1=l1, tol=tol, max_iter=100000),
        "fixed_1": lambda: gd(X, y, small, 1),
        "fixed_11": lambda: gd(X, y, small, 11),
        "exact_1": lambda: gd(X, y, "exact", 1),
        "sklearn": lambda: Lasso(alpha=l1, tol=ref.LASSO_TOL["sklearn"]).fit(X, y),
        "fortran_copy": lambda: np.asfortranarray(X),
    }
    r_full = cands["fista"]()
    r_p5 = cands["fista_p5"]()
    # does the default power iteration run all its passes? (L̂ after p - 1 and p differ)
    dflt = steps.FISTA()
    p_max = dflt.max_power_iter
    lhat = [gradfit.gradient_descent(X, y, step=steps.FISTA(max_power_iter=p, rtol=dflt.rtol),
                                     l1=l1, tol=0, max_iter=1).state["lipschitz"]
            for p in (p_max - 1, p_max)]
    n_power = p_max if lhat[0] != lhat[1] else None
    times = time_interleaved(cands, args.budget)
    t = {k: median(v) for k, v in times.items()}
    grad_pass = (t["fixed_11"] - t["fixed_1"]) / 10
    obj_pass = t["exact_1"] - t["fixed_1"]
    print(f"FISTA on the lasso problem (20000x200, rho = 0, tol={tol:g}: {r_full.n_iter} "
          f"iterations; L̂ from the power iteration, at most {p_max} passes, rtol "
          f"{dflt.rtol:g}; {len(times['fista'])} rounds):\n")
    table(["piece", "time"],
          [["FISTA to the target (defaults)", fmt_t(t["fista"])],
           ["FISTA max_iter=1 (power iteration + objective + 1 iteration)",
            fmt_t(t["fista_1"])],
           ["  one fused residual+gradient pass (the power iteration's pass is one too)",
            fmt_t(grad_pass)],
           ["  one objective-only pass", fmt_t(obj_pass)],
           ["  → one FISTA iteration (gradient at y + objective at x), estimated",
            fmt_t(grad_pass + obj_pass)],
           ["FISTA(max_power_iter=1) max_iter=1", fmt_t(t["fista_1_p1"])],
           [(f"  → the other {p_max - 1} passes of the power iteration (it runs all "
             f"{p_max}: L̂ still moves by more than rtol at the last), default - the line "
             f"above" if n_power else "  → the rest of the power iteration (default - the "
             "line above)"), fmt_t(t["fista_1"] - t["fista_1_p1"])
            + (f" = {fmt_t((t['fista_1'] - t['fista_1_p1']) / (p_max - 1))} per pass"
               if n_power else "")],
           [f"FISTA(max_power_iter=5) to the target ({r_p5.n_iter} iterations, L̂ = "
            f"{r_p5.state['lipschitz']:.3f} instead of {r_full.state['lipschitz']:.3f})",
            fmt_t(t["fista_p5"])],
           ["scikit-learn Lasso to the target", fmt_t(t["sklearn"])],
           ["  of which np.asfortranarray(X) (the copy it makes first)",
            fmt_t(t["fortran_copy"])]])
    print(f"(memory-speed pass of 32 MB at {bw1 / 1e9:.1f} GB/s: "
          f"{fmt_t(X.nbytes / bw1)})\n")


def main(argv=None):
    return main_for(part_diag, __doc__, argv, bandwidth=True)


if __name__ == "__main__":
    sys.exit(main())
