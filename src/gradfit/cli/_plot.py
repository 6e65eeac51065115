"""The convergence picture (matplotlib is optional: ``pip install gradfit[plot]``)."""
from __future__ import annotations

import numpy as np

from ._common import UserError


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("--plot needs matplotlib: pip install 'gradfit[plot]' (or pip install "
                        "matplotlib); the table above is complete without it.") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def convergence_plot(curves, f_star: float, path: str, title: str) -> None:
    """Objective minus optimum (log scale) against iteration and against seconds, one line per
    strategy. ``curves``: (label, objective history, seconds per point, steps per point);
    seconds are spread evenly over a run's points (each step of a strategy costs the same)."""
    plt = _pyplot()
    fig, (ax_it, ax_s) = plt.subplots(1, 2, figsize=(13, 5.5), constrained_layout=True)
    floor = max(abs(f_star), 1e-300) * 1e-13  # below this the gap is rounding noise
    cmap = plt.get_cmap("tab20")
    for i, (label, history, sec_per_point, steps_per_point) in enumerate(curves):
        h = np.asarray(history, dtype=float)
        if h.size == 0:
            continue
        gap = np.maximum(h - f_star, floor)
        finite = np.isfinite(gap)
        x = np.arange(h.size) * steps_per_point
        style = dict(color=cmap(i % 20), lw=1.6, ls="--" if "too large" in label else "-")
        ax_it.semilogy(x[finite], gap[finite], label=label, **style)
        ax_s.semilogy(np.arange(h.size)[finite] * sec_per_point, gap[finite], **style)
    for ax, xlabel in ((ax_it, "iteration (SGD: mini-batch steps)"), (ax_s, "seconds")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("f(w) − f*")
        ax.grid(True, which="major", alpha=0.3)
    ax_it.set_xscale("symlog", linthresh=10)
    ax_s.set_xscale("log")
    ax_it.set_ylim(bottom=floor)
    ax_s.set_ylim(bottom=floor)
    fig.suptitle(title)
    fig.legend(loc="outside right center", fontsize=9)
    _save(plt, fig, path)


def _save(plt, fig, path: str) -> None:
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    print(f"wrote {path}")


def crossover_plot(ns, t_exact, t_gd, path: str, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    ax.loglog(ns, t_exact, "o-", label="exact (solve_normal)")
    ax.loglog(ns, t_gd, "s-", label="gradient descent to the same accuracy")
    ax.set_xlabel("features n")
    ax.set_ylabel("seconds")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    _save(plt, fig, path)
