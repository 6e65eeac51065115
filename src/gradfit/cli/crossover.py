"""Where does the normal equation stop being the right tool? Measured on this machine.

For a growing number of features n (rows m = 4n, condition number 100), times the exact
solver (solve_normal) and gradient descent (Barzilai–Borwein steps) run until its
coefficients are as accurate as the requested relative error (default 1e-6) against the
exact solution, and reports where the two lines cross: the common rule of thumb,
"normal equation for n < 10,000, gradient descent beyond", tested. One BLAS/OpenMP thread
when threadpoolctl is installed.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import errors
from ..descent import gradient_descent
from ..normal import solve_normal
from ._common import Progress, positive_float, synthetic_problem

NAME = "crossover"
HELP = "measure where gradient descent overtakes the exact solver"
EXAMPLE = """examples:
  gradfit crossover                      (n up to 2000, a few minutes)
  gradfit crossover --large              (n up to 4000)
  gradfit crossover --sizes 100,200 --plot crossover.png
"""
DEFAULT_SIZES = [125, 250, 500, 1000, 2000]
LARGE_SIZES = DEFAULT_SIZES + [4000]


def add_arguments(p) -> None:
    p.add_argument("--sizes", metavar="N,N,...", help="numbers of features to try")
    p.add_argument("--large", action="store_true", help="also n = 4000 (about 1 GB of data)")
    p.add_argument("--rows-per-feature", type=positive_float, default=4.0,
                   help="m = this many rows per feature (default 4)")
    p.add_argument("--accuracy", type=positive_float, default=1e-6,
                   help="relative coefficient error gradient descent must reach (1e-6)")
    p.add_argument("--plot", metavar="FILE.png", help="write the two timing curves")


def _time_to_accuracy(X, y, w_star, accuracy: float):
    """Seconds and iterations of BB gradient descent until ||w - w*|| <= accuracy ||w*||:
    tol is tightened by factors of 10 until the answer is accurate enough (each attempt
    timed on its own; the reported time is the successful attempt's)."""
    tol = 1e-3
    norm = np.linalg.norm(w_star)
    while True:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", errors.ConvergenceWarning)
            res = gradient_descent(X, y, step="bb", tol=tol, max_iter=20000)
        seconds = time.perf_counter() - t0
        if np.linalg.norm(res.coef - w_star) <= accuracy * norm or tol < 1e-14:
            return seconds, res.n_iter
        tol /= 10


def run(args) -> int:
    from ._common import UserError
    if args.sizes is not None:
        try:
            sizes = [int(v) for v in args.sizes.split(",")]
        except ValueError:
            raise UserError(f"--sizes: expected integers separated by commas, got "
                            f"{args.sizes!r}") from None
        if any(n < 1 for n in sizes):
            raise UserError("--sizes: every size must be >= 1")
    else:
        sizes = LARGE_SIZES if args.large else DEFAULT_SIZES
    try:
        from threadpoolctl import threadpool_limits
        limit, pinned = threadpool_limits(1), "1 thread"
    except ImportError:
        import contextlib
        limit, pinned = contextlib.nullcontext(), "threads not pinned"
    progress = Progress(len(sizes), "crossover", args.quiet)
    t_exact, t_gd, iters = [], [], []
    with limit:
        for n in sizes:
            m = max(int(args.rows_per_feature * n), n + 2)
            X, y, _ = synthetic_problem(m, n, 100.0, seed=n)
            solve_normal(X, y)  # warm-up: first-touch of the memory
            t0 = time.perf_counter()
            exact = solve_normal(X, y)
            t_exact.append(time.perf_counter() - t0)
            seconds, k = _time_to_accuracy(X, y, np.asarray(exact.coef), args.accuracy)
            t_gd.append(seconds)
            iters.append(k)
            progress.step(f"n={n}")
    progress.close()
    print(f"gradfit crossover ({pinned}): m = {args.rows_per_feature:g}·n rows, condition "
          f"number 100, gradient descent (BB) to relative error {args.accuracy:g}")
    print(f"{'n':>7}{'m':>9}{'exact s':>11}{'GD s':>11}{'GD iter':>9}  faster")
    for n, te, tg, k in zip(sizes, t_exact, t_gd, iters, strict=True):
        m = max(int(args.rows_per_feature * n), n + 2)
        print(f"{n:>7}{m:>9}{te:>11.4f}{tg:>11.4f}{k:>9}  {'exact' if te <= tg else 'GD'}")
    cross = _crossing(sizes, t_exact, t_gd)
    if cross is None:
        winner = "the exact solver" if t_exact[-1] <= t_gd[-1] else "gradient descent"
        print(f"no crossing in this range: {winner} is faster throughout.")
    else:
        print(f"the lines cross near n = {cross:.0f}: below it the exact solver is faster, "
              f"above it gradient descent (a common rule of thumb says 10,000).")
    if args.plot:
        from ._plot import crossover_plot
        crossover_plot(sizes, t_exact, t_gd, args.plot,
                       f"exact vs gradient descent to {args.accuracy:g}")
    return 0


def _crossing(ns, a, b):
    """n where log(a) - log(b) changes sign (log-log interpolation), or None."""
    d = np.log(np.asarray(a)) - np.log(np.asarray(b))
    for i in range(len(ns) - 1):
        if d[i] <= 0 < d[i + 1] or d[i] >= 0 > d[i + 1]:
            t = d[i] / (d[i] - d[i + 1])
            return float(np.exp(np.log(ns[i]) + t * (np.log(ns[i + 1]) - np.log(ns[i]))))
    return None
