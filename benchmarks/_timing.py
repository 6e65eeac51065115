"""How the compare_*.py scripts time and report: shared by all of them.

Candidates of one comparison are timed in interleaved rounds: one sample of each per round, in
a rotating order, so that drift of a shared machine hits all of them alike. A sample is the
mean of enough back-to-back calls to last >= 20 ms. Reported: medians, the ratio of medians
(reference time / gradfit time: > 1 means gradfit is faster) and the quartiles of the
per-round paired ratios (a noise gauge).

Each sample is preceded by one untimed ("warm") call of the same candidate. On a VM whose
balloon driver reports free pages to the host, memory freed more than about a second earlier
costs ~10x more to touch again (re-touching 160 MB: ~20 ms within a second of freeing it,
200-340 ms a few seconds later). Without the warm call, a reference that allocates a centred
copy of X would pay that or not depending only on what ran before it.

Every run prints a header (date, commit, which solver sources differ from it, CPU, library
versions, the BLAS/OpenMP pools and their thread limit) and a footer saying how much CPU other
processes used meanwhile: above ~0.1 CPU the numbers are noisier than usual.
"""
from __future__ import annotations

import contextlib
import datetime
import gc
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

SAMPLE_SECONDS = 0.02
ROOT = Path(__file__).resolve().parents[1]


# --- timing ----------------------------------------------------------------------------------

def calibrate(f: Callable[[], object]) -> tuple[int, float]:
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


def sample(f: Callable[[], object], number: int) -> float:
    """Seconds per call of ``number`` back-to-back calls, after one untimed call."""
    f()  # untimed: see "warm" in the module docstring
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            f()
        return (time.perf_counter() - t0) / number
    finally:
        gc.enable()


def time_interleaved(cands: dict[str, Callable[[], object]], budget: float, min_rounds: int = 5,
                     max_rounds: int = 41) -> dict[str, list[float]]:
    """Interleaved rounds within ~budget seconds: name -> list of per-call times (one per round)."""
    cal = {name: calibrate(f) for name, f in cands.items()}
    round_time = sum((number + 1) * t for number, t in cal.values())
    rounds = int(min(max_rounds, max(min_rounds, budget // round_time)))
    names = list(cands)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            times[name].append(sample(cands[name], cal[name][0]))
    return times


def bandwidth_samples(a: np.ndarray, rounds: int = 7) -> list[float]:
    """Read bandwidth (bytes/s) of ``a.sum()`` (NumPy reductions run on one thread)."""
    return [a.nbytes / sample(a.sum, 1) for _ in range(rounds)]


# --- reporting -------------------------------------------------------------------------------

def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def fmt_t(t: float) -> str:
    return f"{t * 1e6:.1f} µs" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def fmt_s(t: float | None) -> str:
    """fmt_t, in seconds from one second on; a dash for no time."""
    if t is None or not math.isfinite(t):
        return "–"
    return fmt_t(t) if t < 1.0 else f"{t:.2f} s"


def ratio_cell(times: dict[str, list[float]], ref_name: str,
               gf_name: str) -> tuple[float, tuple[float, float], str]:
    """Ratio of medians, and the quartiles of the per-round paired ratios (a noise gauge)."""
    r = statistics.median(times[ref_name]) / statistics.median(times[gf_name])
    paired = [a / b for a, b in zip(times[ref_name], times[gf_name], strict=True)]
    q1, _, q3 = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
    return r, (q1, q3), f"{r:.2f} ({q1:.2f}–{q3:.2f})"


def verdict(value: float, target: float, quartiles: tuple[float, float] | None = None) -> str:
    """'met', 'MISSED', or 'borderline' when the target lies within the paired quartiles."""
    if value >= target:
        return "met"
    if quartiles is not None and quartiles[1] >= target:
        return "borderline (within noise), not met"
    return "MISSED"


def at(threads: int) -> str:
    """Which thread count a verdict was measured at (the targets are defined at one)."""
    return "1 thread" if threads == 1 else \
        f"measured at {threads} threads; the target is defined at 1"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table on stdout."""
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


# --- the run's header and footer -------------------------------------------------------------

def git_describe(sources: Sequence[str]) -> str:
    """HEAD, and which of ``sources`` differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", *sources], cwd=ROOT,
                               capture_output=True, text=True).stdout.split()[1::2]
        return head + (f" (modified: {', '.join(dirty)})" if dirty
                       else " (solver sources as committed)")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def busy_seconds() -> tuple[float, float]:
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


@contextlib.contextmanager
def run(script: str, sources: Sequence[str], threads: int,
        extra: Sequence[str] = ()) -> Iterator[None]:
    """The body of a compare script: the header, a thread limit on every BLAS/OpenMP pool for
    the body, then the footer (other processes' CPU use, and a note if HEAD moved)."""
    import gradfit

    load0 = os.getloadavg()
    busy0, own0, wall0 = *busy_seconds(), time.perf_counter()
    head0 = git_describe(sources)
    with threadpool_limits(limits=threads):
        pools = "; ".join(f"{i['prefix']} {i.get('version')} {i['num_threads']} thr"
                          for i in threadpool_info())
        print(f"# {script}: {datetime.datetime.now():%Y-%m-%d %H:%M}, "
              f"gradfit {gradfit.__version__} @ {head0}")
        print(f"# {cpu_name()}, {os.cpu_count()} CPUs; python {platform.python_version()}, "
              f"numpy {np.__version__}, scipy {scipy.__version__}")
        print(f"# thread limit {threads}: {pools}")
        for line in extra:
            print(f"# {line}")
        print(f"# load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}\n",
              flush=True)
        yield
    load1 = os.getloadavg()
    busy1, own1, wall1 = *busy_seconds(), time.perf_counter()
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
    print(f"# {wall1 - wall0:.0f} s; load average at end {load1[0]:.2f} {load1[1]:.2f} "
          f"{load1[2]:.2f}; other processes kept {others:.2f} of {os.cpu_count()} CPUs busy "
          f"during the run ({'quiet' if others < 0.1 else 'NOT quiet: expect noise'})")
    if git_describe(sources) != head0:
        print(f"# NOTE: the repository moved during the run (now {git_describe(sources)}); "
              f"this process kept the code it imported at the start")
    if threads != 1:
        print("(The targets are defined at 1 thread; shown here for information.)")
