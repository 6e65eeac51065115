"""gradfit.dask against dask-ml's LinearRegression and Dask's TSQR least squares, on a
dask.distributed LocalCluster (2 worker processes x 1 thread), in one run.

    python benchmarks/compare_dask.py [--rows 2000000] [--cols 100] [--chunks 20]
                                      [--repeat 3] [--skip-dask-ml]

X (float64, standard normal plus column means from U(-1, 1)) and y = X w + 0.5 + 0.01 noise
are generated on the workers and persisted before any timing, so every method reads the
same in-memory chunks. Timed (wall clock, client side):

* ``gradfit.dask.solve_normal(X, y)``: median of ``--repeat`` runs;
* ``dask_ml.linear_model.LinearRegression()`` with its defaults (ADMM), one run;
* ``dask.array.linalg.lstsq`` (TSQR) on [X, 1], one run: the accuracy reference (a QR
  factorisation, independent of the normal equations; relative error about eps*cond(X)).

"passes" is measured, not assumed: a scheduler plugin adds up the bytes of the inputs of
every task that completes, counting inputs of at least a tenth of a chunk of X (so y,
coefficients and statistics are left out but derived copies of X, such as dask-ml's X with
an intercept column, are counted), divided by the size of X. Accuracy: relative error of
(coef, intercept) against TSQR. The machine may be shared: the load average is printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-dask-ml", action="store_true")
    args = parser.parse_args(argv)

    import dask.array as da
    import distributed
    from distributed.diagnostics.plugin import SchedulerPlugin

    import gradfit.dask as gdask

    m, n, k = args.rows, args.cols, args.chunks
    rows = -(-m // k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
    with cluster, distributed.Client(cluster):
        rng = da.random.default_rng(0)
        means = np.random.default_rng(1).uniform(-1, 1, n)
        w_true = np.random.default_rng(2).standard_normal(n)
        X = (rng.standard_normal((m, n), chunks=(rows, n)) + means).persist()
        y = (X @ w_true + 0.5 + 0.01 * rng.standard_normal(m, chunks=rows)).persist()
        distributed.wait([X, y])
        print(f"X: {m} x {n} float64 ({X.nbytes / 1e9:.1f} GB) in {X.numblocks[0]} chunks, "
              f"persisted on 2 worker processes x 1 thread; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        class Reads(SchedulerPlugin):
            """Bytes of X-sized task inputs read, for every completed task."""

            def __init__(self, scheduler, min_bytes):
                self.scheduler, self.min_bytes, self.bytes = scheduler, min_bytes, 0

            def transition(self, key, start, finish, *args, **kwargs):
                if start == "processing" and finish == "memory":
                    ts = self.scheduler.tasks.get(key)
                    if ts is not None:
                        self.bytes += sum(d.nbytes for d in ts.dependencies
                                          if d.nbytes >= self.min_bytes)

        reads = Reads(cluster.scheduler, X.nbytes // X.numblocks[0] // 10)
        cluster.scheduler.add_plugin(reads, name="gradfit-reads")

        def run(fn):
            reads.bytes = 0
            t = time.perf_counter()
            out = fn()
            return out, time.perf_counter() - t, reads.bytes / X.nbytes

        rows_out = {}
        times, passes = [], []
        for _ in range(max(1, args.repeat)):
            res, t, p = run(lambda: gdask.solve_normal(X, y))
            times.append(t)
            passes.append(p)
        rows_out["gradfit.dask.solve_normal"] = (res.coef, res.intercept,
                                                 statistics.median(times), max(passes))
        if not args.skip_dask_ml:
            from dask_ml.linear_model import LinearRegression as DaskMLLinearRegression
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model, t, p = run(lambda: DaskMLLinearRegression().fit(X, y))
            rows_out["dask-ml LinearRegression() (ADMM)"] = (np.asarray(model.coef_),
                                                             float(model.intercept_), t, p)

        def tsqr():
            A = da.concatenate([X, da.ones((m, 1), chunks=(X.chunks[0], 1))],
                               axis=1).rechunk({1: -1})
            sol, *_ = da.linalg.lstsq(A, y)
            return sol.compute()

        sol, t, p = run(tsqr)
        ref_coef, ref_b = sol[:n], float(sol[n])
        rows_out["dask.array.linalg.lstsq (TSQR)"] = (ref_coef, ref_b, t, p)

    ref_all = np.append(ref_coef, ref_b)
    print("\n| method | wall time | passes over X | rel. error vs TSQR |\n|---|---|---|---|")
    for name, (coef, b, t, p) in rows_out.items():
        err = np.linalg.norm(np.append(coef, b) - ref_all) / np.linalg.norm(ref_all)
        print(f"| {name} | {t:.2f} s | {p:.2f} | {err:.1e} |")
    g = rows_out["gradfit.dask.solve_normal"][2]
    print(f"\ngradfit.dask.solve_normal: median of {len(times)} runs "
          f"({', '.join(f'{t:.2f}' for t in times)} s)")
    key = "dask-ml LinearRegression() (ADMM)"
    if key in rows_out:
        ratio = rows_out[key][2] / g
        print(f"dask-ml LinearRegression() / gradfit.dask: {ratio:.1f}x "
              f"(target >= 10x: {'met' if ratio >= 10 else 'MISSED'})")
    print(f"TSQR / gradfit.dask: {rows_out['dask.array.linalg.lstsq (TSQR)'][2] / g:.1f}x")


if __name__ == "__main__":
    main()
