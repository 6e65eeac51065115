"""gradfit against plain NumPy code (and scikit-learn when installed) on this machine.

Measures, at one thread (threadpoolctl limits NumPy's and SciPy's BLAS and OpenMP when it is
installed): the machine's memory read bandwidth (a NumPy sum over a large array) and dgemm
rate; the exact solver against ``np.linalg.solve(X.T @ X, X.T @ y)``; one fixed-rate
gradient-descent iteration against ``r = X @ w - y; g = X.T @ r / m; w -= lr * g``. It prints
the ratios (NumPy time / gradfit time, medians of repeated runs) and how close each gradfit
solver runs to the hardware: the Gram step's fraction of dgemm, the iteration's fraction of
the bandwidth. The NumPy baselines here exist only to be compared with: no solver uses them.
"""
from __future__ import annotations

import contextlib
import statistics
import time
import warnings

import numpy as np

from .. import errors, steps
from ..descent import gradient_descent
from ..normal import solve_normal
from ._common import Progress, UserError, positive_int

NAME = "bench"
HELP = "time gradfit against NumPy code on this machine"
EXAMPLE = """examples:
  gradfit bench --quick      (under a minute)
  gradfit bench              (larger sizes, a few minutes)
"""
QUICK_SIZES = [(1000, 10), (20000, 100), (5000, 500)]
FULL_SIZES = [(1000, 10), (100000, 100), (20000, 1000)]


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument("--sizes", metavar="MxN,...",
                   help="explicit sizes, e.g. 1000x10,5000x50 (overrides --quick)")
    p.add_argument("--repeat", type=positive_int, default=None,
                   help="timed repetitions per measurement (default 5, 3 with --quick)")


def _timer(fn, repeat: int, min_seconds: float = 0.02) -> float:
    """Median over ``repeat`` samples of the time per call; a sample repeats the call until
    it lasts ``min_seconds``, so microsecond calls are timed accurately."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(min_seconds / once))
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples)


def _one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "threads not pinned (pip install threadpoolctl)"
    return threadpool_limits(1), "BLAS and OpenMP pinned to 1 thread"


def _sizes(args):
    if args.sizes is None:
        return QUICK_SIZES if args.quick else FULL_SIZES
    out = []
    for item in args.sizes.split(","):
        try:
            m, n = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise UserError(f"--sizes: {item!r} is not of the form MxN (e.g. 1000x10)") from None
        if not m >= n >= 1:
            raise UserError(f"--sizes: {item!r} needs at least one column and at least as "
                            f"many rows as columns")
        out.append((m, n))
    return out


def _exact_row(X, y, sk, repeat: int, dgemm: float) -> tuple:
    """The exact solver against NumPy's solve of the normal equations (and scikit-learn's)."""
    m, n = X.shape
    t_np = _timer(lambda: np.linalg.solve(X.T @ X, X.T @ y), repeat)
    t_gf = _timer(lambda: solve_normal(X, y, fit_intercept=False), repeat)
    t_sk = _timer(lambda: sk.LinearRegression(fit_intercept=False).fit(X, y),
                  repeat) if sk else float("nan")
    return ("exact solve", m, n, t_np, t_gf, t_sk,
            f"Gram at {m * n * n / t_gf / dgemm:.0%} of dgemm")


def _gd_row(X, y, repeat: int, bandwidth: float) -> tuple:
    """One fixed-rate gradient-descent iteration against the same three lines of NumPy."""
    m, n = X.shape
    iters = max(3, min(200, int(2e7 / (m * n))))
    lr = 1e-3

    def numpy_gd():
        w = np.zeros(n)
        for _ in range(iters):
            r = X @ w - y
            g = X.T @ r / m
            w -= lr * g
        return w

    def gradfit_gd():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", errors.ConvergenceWarning)
            return gradient_descent(X, y, step=steps.Fixed(lr), fit_intercept=False,
                                    max_iter=iters, tol=0.0)

    t_np = _timer(numpy_gd, repeat) / iters
    t_gf = _timer(gradfit_gd, repeat) / iters
    return ("GD iteration", m, n, t_np, t_gf, float("nan"),
            f"{X.nbytes / t_gf / bandwidth:.0%} of bandwidth")


def run(args) -> int:
    sizes = _sizes(args)
    repeat = args.repeat or (3 if args.quick else 5)
    limit, pinned = _one_thread()
    try:
        import sklearn.linear_model as sk
    except ImportError:
        sk = None
    progress = Progress(2 + 2 * len(sizes), "bench", args.quiet)
    rows = []
    with limit:
        big = np.ones((32 if args.quick else 128) * 1024 * 1024 // 8)
        bandwidth = big.nbytes / _timer(big.sum, repeat)
        del big
        progress.step("bandwidth")
        A = np.random.default_rng(0).standard_normal((1000, 1000))
        B = np.random.default_rng(1).standard_normal((1000, 1000))
        dgemm = 2 * 1000 ** 3 / _timer(lambda: A @ B, repeat)
        progress.step("dgemm")
        for m, n in sizes:
            rng = np.random.default_rng(m + n)
            X = rng.standard_normal((m, n))
            y = X @ rng.standard_normal(n) + 0.1 * rng.standard_normal(m)
            rows.append(_exact_row(X, y, sk, repeat, dgemm))
            progress.step(f"exact {m}x{n}")
            rows.append(_gd_row(X, y, repeat, bandwidth))
            progress.step(f"gd {m}x{n}")
    progress.close()
    print(f"gradfit bench ({pinned}); memory read bandwidth {bandwidth / 1e9:.1f} GB/s, "
          f"dgemm {dgemm / 1e9:.1f} GFLOP/s")
    print(f"{'what':<14}{'size':>13}{'numpy':>12}{'gradfit':>12}{'speed-up':>10}"
          f"{'sklearn':>12}  hardware use")
    for what, m, n, t_np, t_gf, t_sk, note in rows:
        sk_col = f"{t_sk * 1e3:>10.3f}ms" if np.isfinite(t_sk) else f"{'-':>12}"
        print(f"{what:<14}{f'{m}x{n}':>13}{t_np * 1e3:>10.3f}ms{t_gf * 1e3:>10.3f}ms"
              f"{t_np / t_gf:>9.2f}x{sk_col}  {note}")
    print("times: median per call (per iteration for GD); speed-up = numpy / gradfit")
    return 0
