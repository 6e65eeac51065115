"""Reading speed of ``gradfit fit``'s CSV reader against ``pandas.read_csv``, in one process.

    python benchmarks/compare_csv.py [--rows 1000000] [--cols 10] [--rounds 3] [--path F.csv]

Writes a seeded file of ``rows`` x ``cols`` float64 values (17 significant digits, a header
row; kept when ``--path`` names it), then times, in interleaved rounds (one sample of each
candidate per round, in a rotating order, so that the drift of a shared machine hits them
alike):

* ``gradfit (pandas)``: the command line's reader, as ``gradfit fit`` runs it on the file
  (chunks of 100000 rows from pandas' C parser, every cell checked, the feature matrix
  built), pandas installed;
* ``gradfit (no pandas)``: the same without pandas: the whole file by NumPy's C reader
  (a file of numbers only, not streamed);
* ``gradfit (csv module)``: without pandas, streamed (``--chunk-rows``): Python's ``csv``
  module;
* ``gradfit fit``: the whole command in this process (read, check, solve, report);
* ``pandas.read_csv``: ``pd.read_csv(path).to_numpy()``, the reference;
* ``np.loadtxt``: the reader ``gradfit fit`` used before (NumPy's C reader, no quoting).

Reported: the median seconds, rows per second, and the ratio of medians
``pandas.read_csv`` time / candidate time (> 1: faster than pandas), with the quartiles of
the per-round paired ratios (a noise gauge). Every reader's matrix is checked against
pandas' first (bit for bit). The header and footer are _timing.py's (commit, machine, the
load other processes put on it). A sample is one call (each takes seconds).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gradfit.cli import _table, main
from gradfit.cli._table import CsvFile, Spec, checked_chunks, design

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median, ratio_cell, run as timing_run, table  # noqa: E402

SOURCES = ["src/gradfit/cli/_table.py", "src/gradfit/cli/fitcsv.py"]


def write_file(path: Path, rows: int, cols: int) -> None:
    rng = np.random.default_rng(0)
    names = [f"x{j}" for j in range(cols - 1)] + ["y"]
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(0, rows, 100_000):
            block = rng.standard_normal((min(100_000, rows - i), cols))
            np.savetxt(f, block, delimiter=",", fmt="%.17g")


def gradfit_reader(path: Path, whole: bool = True) -> np.ndarray:
    """What ``gradfit fit`` does before solving: chunks, checks, the feature matrix and the
    target (returned side by side, to compare with the other readers)."""
    table = CsvFile(str(path))
    spec = Spec(table.names[-1], table.names[:-1], set(), False)
    chunks = list(checked_chunks(table, spec, whole=whole))
    merged = _table.Chunk(np.concatenate([c.rows for c in chunks]), 0,
                          {n: np.concatenate([c.numbers[n] for c in chunks])
                           for n in chunks[0].numbers})
    X = design(table, spec, merged, {}, True)
    return np.column_stack([X, merged.numbers[spec.target]])


def _without_pandas(path: Path, whole: bool) -> np.ndarray:
    saved = _table._use_pandas
    _table._use_pandas = lambda: False
    try:
        return gradfit_reader(path, whole)
    finally:
        _table._use_pandas = saved


def gradfit_reader_numpy(path: Path) -> np.ndarray:
    return _without_pandas(path, whole=True)


def gradfit_reader_csv_module(path: Path) -> np.ndarray:
    return _without_pandas(path, whole=False)


def gradfit_fit(path: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["fit", str(path), "--target", "y"])
    assert status == 0


def pandas_read(path: Path) -> np.ndarray:
    return pd.read_csv(path).to_numpy()


def numpy_loadtxt(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


CANDIDATES = {
    "gradfit (pandas)": gradfit_reader,
    "gradfit (no pandas)": gradfit_reader_numpy,
    "gradfit (csv module)": gradfit_reader_csv_module,
    "gradfit fit": gradfit_fit,
    "pandas.read_csv": pandas_read,
    "np.loadtxt": numpy_loadtxt,
}


def run(path: Path, rounds: int) -> None:
    reference = pandas_read(path)
    rows = reference.shape[0]
    for name, fn in CANDIDATES.items():
        if name in ("gradfit fit", "pandas.read_csv"):
            continue
        assert np.array_equal(fn(path), reference), name  # correctly rounded, all of them
    times: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    order = list(CANDIDATES)
    for r in range(rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            t0 = time.perf_counter()
            CANDIDATES[name](path)
            times[name].append(time.perf_counter() - t0)
        print(f"# round {r + 1}/{rounds} done", file=sys.stderr)
    print(f"## {rows} rows x {reference.shape[1]} columns, {os.path.getsize(path) / 1e6:.0f} "
          f"MB, {rounds} interleaved rounds\n")
    out = []
    for name, samples in times.items():
        t = median(samples)
        cell = "1" if name == "pandas.read_csv" else \
            ratio_cell(times, "pandas.read_csv", name)[2]
        out.append([name, f"{t:.2f}", f"{rows / t:,.0f}", cell])
    table(["reader", "seconds (median)", "rows/s", "pandas.read_csv / reader"], out)


def main_() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--cols", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--path", type=Path, help="keep the file here (reused if it exists)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or Path(tmp) / "data.csv"
        if not path.exists():
            write_file(path, args.rows, args.cols)
        with timing_run("compare_csv", SOURCES, threads=1):
            run(path, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main_())
