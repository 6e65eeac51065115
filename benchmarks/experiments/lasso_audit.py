"""Audit: does gradient descent with an L1 penalty (lasso) either return the minimiser of real
data in raw units or say that it did not?

16 data sets (trust_audit.datasets) x l1 at 0.1, 0.01, 0.001 of the smallest l1 that zeroes
every coefficient x steps FISTA, Lipschitz and the default. Reference f*: the smaller
objective of scikit-learn's Lasso (tol 1e-15) and a long FISTA run (tol 1e-13). A fit is
*correct* when unflagged and (f - f*)/f* <= 1e-8, *flagged* on a ConvergenceWarning or
converged=False, *SILENT* otherwise.

Run:  python benchmarks/experiments/lasso_audit.py      (about a minute)
"""
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import Lasso

import gradfit
from gradfit import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trust_audit import datasets  # noqa: E402

FRACTIONS = (0.1, 0.01, 0.001)
STEPS = ("fista", "lipschitz", "default")


def objective(X, y, w, b, l1):
    r = y - X @ w - b
    return r @ r / (2 * len(y)) + l1 * np.abs(w).sum()


def reference(X, y, l1):
    """The smallest objective of two independent long runs."""
    candidates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            long = gradfit.gradient_descent(X, y, l1=l1, step="fista", tol=1e-13,
                                            max_iter=300_000)
            candidates.append((np.asarray(long.coef), long.intercept))
        except Exception:  # noqa: BLE001 - the other reference still stands
            pass
        sk = Lasso(alpha=l1, tol=1e-15, max_iter=1_000_000, precompute=True).fit(X, y)
        candidates.append((sk.coef_, sk.intercept_))
    return min(objective(X, y, w, b, l1) for w, b in candidates)


def main():
    rows = []
    for name, (_, X, y) in datasets().items():
        X = X[:, X.std(0) > 0]
        l1_max = np.abs((X - X.mean(0)).T @ (y - y.mean())).max() / len(y)
        for fraction in FRACTIONS:
            l1 = fraction * l1_max
            f_star = reference(X, y, l1)
            for step in STEPS:
                kwargs = {} if step == "default" else {"step": step}
                t0 = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    res = gradfit.gradient_descent(X, y, l1=l1, **kwargs)
                seconds = time.perf_counter() - t0
                flagged = not res.converged or any(
                    issubclass(w.category, ConvergenceWarning) for w in caught)
                gap = (objective(X, y, np.asarray(res.coef), res.intercept, l1) - f_star) \
                    / f_star
                verdict = ("flagged" if flagged else "correct" if gap <= 1e-8 else "SILENT")
                rows.append((name, fraction, step, verdict,
                             f"gap {gap:.1e}, {res.n_iter} it, {seconds * 1e3:.0f} ms",
                             res.message[:90]))
    for row in rows:
        if row[3] != "correct":
            print(*row)
    print(Counter((row[2], row[3]) for row in rows))


if __name__ == "__main__":
    main()
