"""Time to solution of every step strategy, in one process.

    python benchmarks/compare_tts.py [--threads N] [--budget SECONDS]

Iterations and seconds each strategy needs to reach a relative coefficient error of 1e-6
(against solve_normal) on 5000 x 50 problems of condition number 1e2 and 1e4, and whether it
stays there over the next 20% of iterations. The runs that reach are timed in three
interleaved rounds, each after a short warm call of the same strategy.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

import gradfit
from gradfit import steps

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference as ref  # noqa: E402
from _fits import gd, main_for  # noqa: E402
from _timing import fmt_s, fmt_t, median, table  # noqa: E402

TTS_ERROR = 1e-6           # relative coefficient error of the time-to-solution table


def tts_strategies(L, mu, D):
    """(name, how the rate is derived, strategy) for every strategy."""
    kappa = L / mu
    sk = math.sqrt(kappa)
    bt, lp, fs = steps.Backtracking(), steps.Lipschitz(), steps.FISTA()
    return [
        ("fixed", "ε = 1/L", steps.Fixed(1 / L)),
        ("fixed", "ε = 2/(L+μ), the best constant rate", steps.Fixed(2 / (L + mu))),
        ("lipschitz", f"ε = 1/L̂, L̂ by power iteration (≤ {lp.max_power_iter} passes, rtol "
                      f"{lp.rtol:g})", lp),
        ("exact", "exact line search", steps.ExactLineSearch()),
        ("backtracking", f"Armijo, defaults (ε₀ = {bt.initial:g}, shrink {bt.shrink:g}, "
                         f"c = {bt.c:g}, grow {bt.grow:g})", bt),
        ("bb", "Barzilai-Borwein BB1", steps.BarzilaiBorwein()),
        ("momentum", "ε = 0.5/L, β = 0.9", steps.Momentum(0.5 / L, 0.9)),
        ("momentum", "Polyak: ε = 4/(√L+√μ)², β = ((√κ-1)/(√κ+1))²",
         steps.Momentum(4 / (math.sqrt(L) + math.sqrt(mu)) ** 2, ((sk - 1) / (sk + 1)) ** 2)),
        ("nesterov", "ε = 0.5/L, β = 0.9", steps.Nesterov(0.5 / L, 0.9)),
        ("nesterov", "ε = 1/L, β = (√κ-1)/(√κ+1)", steps.Nesterov(1 / L, (sk - 1) / (sk + 1))),
        ("adagrad", "lr = D", steps.AdaGrad(D)),
        ("rmsprop", "lr = D/1000", steps.RMSprop(D / 1000)),
        ("adam", "lr = D/100", steps.Adam(D / 100)),
        ("fista", f"1/L̂, L̂ by power iteration (≤ {fs.max_power_iter} passes, rtol "
                  f"{fs.rtol:g})", fs),
    ]


def part_tts(args):
    for cond in (1e2, 1e4):
        tts_design(cond)


def tts_design(cond):
    """The table for one problem of Hessian condition number ``cond``."""
    m, n = ref.CONDITIONED_SIZE
    X, y, _ = ref.make_conditioned_problem(cond)
    ws = gradfit.solve_normal(X, y, fit_intercept=False).coef
    nw = np.linalg.norm(ws)
    ev = np.linalg.eigvalsh(X.T @ X / m)
    L, mu = float(ev[-1]), float(ev[0])
    D = float(np.abs(ws).max())
    cap = max(20000, int(20 * cond))
    print(f"## Time to solution, {m}x{n}, Hessian condition number κ = {L / mu:.0f} "
          f"(L = {L:g}, μ = {mu:.3g}), no intercept: iterations and time to "
          f"‖w - w*‖/‖w*‖ <= {TTS_ERROR:g} (w* = solve_normal), from w = 0, at most "
          f"{cap} iterations\n")
    print(f"# D = ‖w*‖∞ = {D:.3f} (the per-coordinate distance to travel from 0), "
          f"‖w*‖ = {nw:.3f}", flush=True)
    found = []
    for name, how, st in tts_strategies(L, mu, D):
        # best error, first iteration at the target, largest error over the next 20%
        state = {"best": math.inf, "at": None, "stop": None, "after": 0.0}

        def cb(it, coef, intercept, f, state=state):
            e = float(np.linalg.norm(coef - ws)) / nw
            state["best"] = min(state["best"], e)
            if state["at"] is None:
                if e <= TTS_ERROR and it <= cap:
                    state["at"], state["stop"] = it, it + max(10, it // 5)
                return it >= cap
            state["after"] = max(state["after"], e)
            return it >= state["stop"]
        try:
            gd(X, y, st, cap + max(10, cap // 5), callback=cb)
            found.append([name, how, st, state["at"], state["best"], None,
                          state["after"]])
        except gradfit.DivergenceError:
            found.append([name, how, st, None, math.nan, "diverged", None])
    # time the runs that reached: interleaved rounds, a short warm call before each sample
    live = [f for f in found if f[3]]
    times = {id(f): [] for f in live}
    long_run = set()
    for rnd in range(3):
        k0 = rnd % max(1, len(live))
        for f in live[k0:] + live[:k0]:
            if rnd and id(f) in long_run:
                continue
            st, k = f[2], f[3]
            gd(X, y, st, min(k, 50))  # warm: same code and allocations, bounded cost
            t0 = time.perf_counter()
            res = gd(X, y, st, k)
            t = time.perf_counter() - t0
            times[id(f)].append(t)
            if t > 2.0:
                long_run.add(id(f))
            f[5] = float(np.linalg.norm(res.coef - ws)) / nw
    rows = []
    for f in found:
        name, how, st, k, best, err, after = f
        if k:
            t = median(times[id(f)])
            rows.append([name, how, k, fmt_s(t), fmt_t(t / k), f"{err:.1e}",
                         f"{after:.1e}" + ("" if after <= TTS_ERROR else
                                           " (not settled)")])
        else:
            why = err if err == "diverged" else \
                f"did not reach within {cap} iterations (best {best:.1e})"
            rows.append([name, how, why, "–", "–", "–", "–"])
    table(["strategy", "rate (from L, μ, κ = L/μ, D = ‖w*‖∞)", "iterations",
           "time (median)", "time / iteration", "error of the timed run",
           "largest error over the next 20% of iterations"], rows)


def main(argv=None):
    return main_for(part_tts, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
