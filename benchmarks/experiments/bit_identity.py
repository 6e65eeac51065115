"""Bit-identity check of the iterative solvers against another build of gradfit.

Runs a few thousand small fits (gradient_descent and LinearRegression: every step strategy ×
float32/float64 × C/F order × weights × intercept × penalties × full batch/mini-batch ×
precompute × resume) in a subprocess under each of two Python interpreters, and compares
coef, intercept, n_iter, loss_history, objective, grad_norm, converged, message and the
scalar state bit for bit (errors by type and message).

    python benchmarks/experiments/bit_identity.py --before /work/ref/.venv/bin/python \
        [--after .venv/bin/python]

Exit status 0 when every configuration agrees, 1 otherwise (the first differences listed).
"""
from __future__ import annotations

import argparse
import itertools
import pickle
import subprocess
import sys
import tempfile
import warnings


def _problem(dtype, order, m=120, n=6, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * rng.uniform(0.5, 3.0, n) + rng.uniform(-2, 2, n)
    y = X @ rng.standard_normal(n) + 1.5 + 0.3 * rng.standard_normal(m)
    X = np.asarray(X, dtype=dtype, order=order)
    return X, y.astype(dtype), rng.uniform(0.2, 2.0, m)


def _fingerprint(res):
    import numpy as np

    state = res.state
    scalars = None
    if state is not None:  # the slots every build has, by name
        names = ("t", "step_size", "lipschitz", "objective_start", "grad_norm_start",
                 "have_previous", "fista_t", "averaged", "best_objective",
                 "epochs_no_improvement", "rows_seen")
        scalars = tuple(float(state[k]) for k in names)
    return (np.asarray(res.coef).tobytes(), str(np.asarray(res.coef).dtype),
            float(res.intercept).hex(), int(res.n_iter),
            np.asarray(res.loss_history).tobytes(), float(res.objective).hex(),
            float(res.grad_norm).hex(), bool(res.converged), res.message, scalars)


def _run_one(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except Exception as exc:  # noqa: BLE001 (errors are results to compare)
        return ("error", type(exc).__name__, str(exc))


def _descent_configs():
    from gradfit import steps

    for name, cls in sorted(steps.NAMES.items()):
        strat = cls()
        if name == "fixed":
            strat = steps.Fixed(0.05)
        modes = ["full"] + (["mini"] if cls.mini_batch else [])
        for mode, dtype, order, weighted, intercept, pen, precompute, resume in \
                itertools.product(modes, ["float64", "float32"], "CF", [False, True],
                                  [True, False], ["none", "l2", "l1"], [False, True],
                                  [False, True]):
            if pen == "l1" and not cls.proximal:
                continue
            if precompute and mode == "mini":
                continue
            yield (name, strat, mode, dtype, order, weighted, intercept, pen, precompute,
                   resume)


def worker(out_path):
    import numpy as np

    import gradfit

    results = {}
    problems = {(dt, o): _problem(dt, o) for dt in ("float64", "float32") for o in "CF"}
    for cfg in _descent_configs():
        name, strat, mode, dtype, order, weighted, intercept, pen, precompute, resume = cfg
        X, y, w = problems[dtype, order]
        kw = dict(step=strat, fit_intercept=intercept, max_iter=15, tol=1e-9,
                  sample_weight=w if weighted else None, precompute=precompute,
                  l2={"none": 0.0, "l2": 0.05, "l1": 0.02}[pen], l1=0.03 if pen == "l1" else 0.0)
        if mode == "mini":
            kw.update(batch_size=16, random_state=3, max_iter=4,
                      average=40 if weighted else False, shuffle=order == "C")

        def fit(kw=kw, X=X, y=y, resume=resume):
            res = gradfit.gradient_descent(X, y, **kw)
            if resume:
                kw2 = dict(kw, random_state=None) if "batch_size" in kw else kw
                res = gradfit.gradient_descent(X[::-1].copy(order="K"), y[::-1].copy(),
                                               **dict(kw2, sample_weight=None
                                                      if kw["sample_weight"] is None
                                                      else kw["sample_weight"][::-1].copy()),
                                               init=res)
            return _fingerprint(res)

        results[("gd",) + tuple(str(c) for c in cfg)] = _run_one(fit)

    # callbacks see the same points
    X, y, w = problems["float64", "C"]
    for name in ("bb", "fista", "adam"):
        seen: list = []
        kw = dict(batch_size=10, random_state=1) if name == "adam" else {}

        def record(k, c, b, f, seen=seen):
            seen.append((k, c.tobytes(), float(b).hex(), float(f).hex()))

        _run_one(lambda name=name, kw=kw, record=record: gradfit.gradient_descent(
            X, y, step=name, max_iter=5, callback=record, **kw))
        results[("callback", name)] = seen

    # the estimator: solvers, warm start and partial_fit
    for solver, dtype, order, l1, warm in itertools.product(
            ["gd", "sgd", "auto"], ["float64", "float32"], "CF", [0.0, 0.02], [False, True]):
        X, y, w = problems[dtype, order]

        def est(solver=solver, X=X, y=y, l1=l1, warm=warm):
            model = gradfit.LinearRegression(solver=solver, l1=l1, max_iter=20, tol=1e-9,
                                             warm_start=warm, random_state=0)
            model.fit(X, y)
            if warm:
                model.fit(X, y)
            out = [_fingerprint(model.result_)]
            if solver != "gd":
                model.partial_fit(X[:50], y[:50])
                out.append(_fingerprint(model.result_))
            return out

        results[("estimator", solver, dtype, order, l1, warm)] = _run_one(est)
    with open(out_path, "wb") as f:
        pickle.dump(results, f)
    print(len(results), "configurations", np.__version__)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="Python of the reference build")
    parser.add_argument("--after", default=sys.executable, help="Python of the build to check")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, python in (("before", args.before), ("after", args.after)):
            path = f"{tmp}/{label}.pkl"
            subprocess.run([python, __file__, "--before", "-", "--worker", path], check=True)
            with open(path, "rb") as f:
                runs[label] = pickle.load(f)
    before, after = runs["before"], runs["after"]
    if before.keys() != after.keys():
        print("configuration sets differ:", set(before) ^ set(after))
        return 1
    differ = [k for k in before if before[k] != after[k]]
    errors = sum(1 for v in before.values() if isinstance(v, tuple) and v[:1] == ("error",))
    print(f"{len(before)} configurations ({errors} ending in the same error both times): "
          f"{len(differ)} differ")
    for k in differ[:10]:
        print("  DIFFERS:", k)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
