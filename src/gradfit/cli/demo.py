"""The lecture's question, "which step size?", answered on a seeded synthetic problem.

Solves the problem exactly with solve_normal, then by gradient descent with every step-size
strategy (and mini-batch SGD), and prints one table: iterations, seconds, final objective,
relative error of the coefficients against the exact solution, and the outcome. The
cautionary cases of the lecture are included: the lecture's fixed rate 0.01 (too small here:
slow) and a fixed rate of 2.5/L (too large: diverges, shown as such).

The problem (defaults): 20000 rows, 50 columns, condition number 100 of the centred
covariance XcᵀXc/m (largest eigenvalue about 1), y = Xw + 2 + 0.1·noise, seed 0.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .. import errors, steps
from ..descent import gradient_descent
from ..normal import solve_normal
from ._common import Progress, UserError, positive_float, positive_int, synthetic_problem

NAME = "demo"
HELP = "compare every step-size strategy with the exact solution"
EXAMPLE = """examples:
  gradfit demo
  gradfit demo --rows 5000 --cols 20 --cond 1e4 --seed 1
  gradfit demo --plot docs/convergence.png
"""


def add_arguments(p) -> None:
    p.add_argument("--rows", type=positive_int, default=20000, help="rows m (default 20000)")
    p.add_argument("--cols", type=positive_int, default=50, help="columns n (default 50)")
    p.add_argument("--cond", type=positive_float, default=100.0,
                   help="condition number of the centred covariance (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-iter", type=positive_int, default=3000,
                   help="iteration cap per strategy (default 3000; SGD: 10 epochs)")
    p.add_argument("--tol", type=positive_float, default=1e-8,
                   help="tolerance: relative error of the standardised coefficients, "
                        "measured before a fit counts as converged (default 1e-8)")
    p.add_argument("--plot", metavar="FILE.png", help="write the convergence picture")


def strategies(L: float, m: int):
    """(label, keyword arguments of gradient_descent) for every row of the table. Rates that
    the user must choose are derived from L, the largest eigenvalue of the Hessian; the
    adaptive rates suit coefficients of order 1 (this problem's scale)."""
    return [
        ("fixed 0.01 (lecture)", dict(step=steps.Fixed(0.01))),
        ("fixed 1/L", dict(step=steps.Fixed(1.0 / L))),
        ("fixed 2.5/L (too large)", dict(step=steps.Fixed(2.5 / L))),
        ("lipschitz", dict(step="lipschitz")),
        ("exact line search", dict(step="exact")),
        ("backtracking", dict(step="backtracking")),
        ("barzilai-borwein", dict(step="bb")),
        ("conjugate gradient", dict(step="cg")),
        ("momentum 0.5/L", dict(step=steps.Momentum(0.5 / L, beta=0.9))),
        ("nesterov 0.5/L", dict(step=steps.Nesterov(0.5 / L, beta=0.9))),
        ("adagrad 0.5", dict(step=steps.AdaGrad(0.5))),
        ("rmsprop 0.01", dict(step=steps.RMSprop(0.01))),
        ("adam 0.05", dict(step=steps.Adam(0.05))),
        ("fista", dict(step="fista")),
        ("sgd 0.5/L, batch 32", dict(step=steps.Fixed(0.5 / L), batch_size=min(32, m),
                                     random_state=0, max_iter=10)),
        ("sgd 0.5/L, batch 32, avg", dict(step=steps.Fixed(0.5 / L), batch_size=min(32, m),
                                          average=m, random_state=0, max_iter=10)),
        ("sgd default, batch 32", dict(batch_size=min(32, m), random_state=0, max_iter=10)),
    ]


def run(args) -> int:
    if args.rows < 2:
        raise UserError("--rows must be at least 2 (one row has no spread to fit)")
    X, y, _ = synthetic_problem(args.rows, args.cols, args.cond, args.seed)
    m, n = X.shape
    t0 = time.perf_counter()
    exact = solve_normal(X, y)
    t_exact = time.perf_counter() - t0
    r = y - X @ exact.coef - exact.intercept
    f_star = float(r @ r) / (2 * m)  # from the residual: exact to rounding
    w_star = np.asarray(exact.coef, dtype=np.float64)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.ConvergenceWarning)
        state = gradient_descent(X, y, step="lipschitz", max_iter=1).state
    assert state is not None  # gradient descent always returns its state
    L = state["lipschitz"]
    if not L > 0:
        raise UserError("the problem has no curvature (its columns do not vary): use more "
                        "--rows")
    print(f"gradfit demo: {m} rows x {n} columns, condition number {args.cond:g}, seed "
          f"{args.seed}; L = {L:.4g}; tolerance {args.tol:g} (coefficients, relative), at "
          f"most {args.max_iter} iterations")
    header = (f"{'strategy':<26}{'iter':>7}{'seconds':>10}{'objective':>16}{'rel. error':>12}"
              f"  outcome")
    print(header)
    print("-" * len(header))
    print(f"{'exact (solve_normal)':<26}{0:>7}{t_exact:>10.4f}{exact.objective:>16.10g}"
          f"{0.0:>12.1e}  {exact.solver}, rcond {exact.rcond:.2g}")

    rows = strategies(L, m)
    progress = Progress(len(rows), "demo", args.quiet)
    curves = []
    for label, kwargs in rows:
        kwargs = {"max_iter": args.max_iter, **kwargs}
        if "batch_size" not in kwargs:
            kwargs["tol"] = args.tol
        history: list[float] = []
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", errors.ConvergenceWarning)
                if label.endswith("(too large)"):  # record the objective until it blows up
                    kwargs["callback"] = lambda k, w, b, f, history=history: history.append(f)
                res = gradient_descent(X, y, **kwargs)
            seconds = time.perf_counter() - t0
            err = np.linalg.norm(res.coef - w_star) / np.linalg.norm(w_star)
            outcome = "converged" if res.converged else "not converged (max_iter)"
            print(f"{label:<26}{res.n_iter:>7}{seconds:>10.4f}{res.objective:>16.10g}"
                  f"{err:>12.1e}  {outcome}")
            # one history point per step (per epoch for SGD: -(-m // batch) steps)
            steps_per_point = -(-m // kwargs["batch_size"]) if "batch_size" in kwargs else 1
            curves.append((label, res.loss_history, seconds / max(res.n_iter, 1),
                           steps_per_point))
        except errors.DivergenceError:
            seconds = time.perf_counter() - t0
            print(f"{label:<26}{len(history) - 1:>7}{seconds:>10.4f}{'inf':>16}{'-':>12}  "
                  f"DIVERGED (DivergenceError: the rate exceeds 2/L)")
            curves.append((label, np.array(history), seconds / max(len(history), 1), 1))
        progress.step(label)
    progress.close()
    print(f"\nf* = {f_star:.12g} (exact solution). The rate must stay below 2/L = {2 / L:.3g};"
          f" the lecture's 0.01 is safe but slow here, 2.5/L diverges.\nWith a constant rate "
          f"SGD hovers above the optimum; averaging its iterates (Polyak-Ruppert) is what "
          f"brings it close.")
    if args.plot:
        from ._plot import convergence_plot
        convergence_plot(curves, f_star, args.plot,
                         title=f"gradient descent on {m} x {n}, condition number {args.cond:g}")
    return 0
