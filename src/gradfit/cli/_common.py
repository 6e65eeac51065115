"""Shared by the commands: user errors, progress on stderr, synthetic problems, timing."""
from __future__ import annotations

import sys
import time

import numpy as np


class UserError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


class FitFailed(Exception):
    """The fit itself failed (gradient descent diverged): one line, exit status 1."""


class Progress:
    """A one-line progress bar on stderr when it is a terminal (and not --quiet)."""

    def __init__(self, total: int, label: str, quiet: bool = False):
        self.total, self.label, self.done = max(total, 1), label, 0
        self.enabled = not quiet and sys.stderr.isatty()
        self.start = time.perf_counter()

    def step(self, what: str = "") -> None:
        self.done += 1
        if self.enabled:
            width = 30
            filled = int(width * self.done / self.total)
            elapsed = time.perf_counter() - self.start
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done}/{self.total} {elapsed:5.1f}s {what[:30]:<30}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


def synthetic_problem(rows: int, cols: int, cond: float, seed: int, noise: float = 0.1):
    """X (rows x cols) whose centred covariance X_c^T X_c / m has condition number ``cond``
    (singular values of the mixing matrix spaced geometrically), columns with nonzero means,
    y = X w + 2 + noise. Returns X, y, w_true."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((cols, cols)))
    s = np.geomspace(1.0, 1.0 / np.sqrt(cond), cols)
    X = (rng.standard_normal((rows, cols)) @ (q * s)) @ q.T + rng.uniform(-1, 1, cols)
    w = rng.standard_normal(cols)
    y = X @ w + 2.0 + noise * rng.standard_normal(rows)
    return X, y, w


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        import argparse
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value
