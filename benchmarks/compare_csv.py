"""Reading speed of ``gradfit fit``'s CSV reader against ``pandas.read_csv``, in one process.

    python benchmarks/compare_csv.py [--rows 1000000] [--cols 10] [--rounds 3] [--path F.csv]

Writes a seeded file of ``rows`` x ``cols`` float64 values (17 significant digits, a header
row; kept when ``--path`` names it), then times, in interleaved rounds (one sample of each
candidate per round, in a rotating order, so that the drift of a shared machine hits them
alike):

* ``gradfit (pandas)``: the command line's reader, as ``gradfit fit`` runs it on the file
  (chunks of 100000 rows from pandas' C parser, every cell checked, the feature matrix
  built), pandas installed;
* ``gradfit (csv module)``: the same without pandas (Python's ``csv`` module);
* ``gradfit fit``: the whole command in this process (read, check, solve, report);
* ``pandas.read_csv``: ``pd.read_csv(path).to_numpy()``, the reference;
* ``np.loadtxt``: the reader ``gradfit fit`` used before (NumPy's C reader, no quoting).

Reported: the median seconds, rows per second, and the ratio to ``pandas.read_csv`` (> 1:
slower than it). Every reader's matrix is checked against pandas' first (bit for bit).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gradfit.cli import _table, main
from gradfit.cli._table import CsvFile, Spec, checked_chunks, design


def write_file(path: Path, rows: int, cols: int) -> None:
    rng = np.random.default_rng(0)
    names = [f"x{j}" for j in range(cols - 1)] + ["y"]
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for i in range(0, rows, 100_000):
            block = rng.standard_normal((min(100_000, rows - i), cols))
            np.savetxt(f, block, delimiter=",", fmt="%.17g")


def gradfit_reader(path: Path) -> np.ndarray:
    """What ``gradfit fit`` does before solving: chunks, checks, the feature matrix and the
    target (returned side by side, to compare with the other readers)."""
    table = CsvFile(str(path))
    spec = Spec(table.names[-1], table.names[:-1], set(), False)
    chunks = list(checked_chunks(table, spec))
    merged = _table.Chunk(np.concatenate([c.rows for c in chunks]), 0,
                          {n: np.concatenate([c.numbers[n] for c in chunks])
                           for n in chunks[0].numbers})
    X = design(table, spec, merged, {}, True)
    return np.column_stack([X, merged.numbers[spec.target]])


def gradfit_reader_csv_module(path: Path) -> np.ndarray:
    saved = _table._use_pandas
    _table._use_pandas = lambda: False
    try:
        return gradfit_reader(path)
    finally:
        _table._use_pandas = saved


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
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    ref = statistics.median(times["pandas.read_csv"])
    print(f"{rows} rows x {reference.shape[1]} columns, {os.path.getsize(path) / 1e6:.0f} MB, "
          f"{rounds} rounds, medians")
    print(f"{'reader':<22}{'seconds':>9}{'rows/s':>12}{'vs pandas':>11}")
    for name, samples in times.items():
        t = statistics.median(samples)
        print(f"{name:<22}{t:>9.2f}{rows / t:>12,.0f}{t / ref:>10.2f}x")


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
        run(path, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main_())
