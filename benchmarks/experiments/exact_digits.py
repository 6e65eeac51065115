"""Correct digits of ``solve_normal`` and ``numpy.linalg.lstsq`` against the exact rational
least-squares solution of the data as given (tests/exact_lstsq.py), on the NIST StRD sets
(against their certified values), real data in raw units, polynomial designs of degree 5-10
on [0, 1], and Wampler-like and Filip-like designs; writes a Markdown table.

    python benchmarks/experiments/exact_digits.py [--json OUT.json]

Run it with another build's interpreter (e.g. the one before a change) and ``--json`` to
compare: the designs are the ones tests/test_refinement.py uses.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[2] / "tests"
sys.path.insert(0, str(TESTS))
import gradfit  # noqa: E402
import nist  # noqa: E402
from exact_lstsq import exact_lstsq, min_digits  # noqa: E402
from test_refinement import _diabetes, _poly01, _statsmodels, filip_like, wampler_like  # noqa: E402,I001


def lstsq(X, y, fit_intercept):
    A = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    s = np.linalg.lstsq(A, y, rcond=None)[0]
    return (s[:-1], s[-1]) if fit_intercept else (s, 0.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    out = {}
    for name in nist.MODELS:
        X, y, fi, cert = nist.load(name)
        r = gradfit.solve_normal(X, y, fit_intercept=fi)
        w, b = lstsq(X, y, fi)
        est = np.concatenate([[r.intercept], r.coef]) if fi else r.coef
        ref = np.concatenate([[b], w]) if fi else w
        out[f"NIST {name} (certified values)"] = (
            float(nist.lre(est, cert).min()), float(nist.lre(ref, cert).min()), r.solver,
            getattr(r, "refinement_steps", None))
    designs = {f"statsmodels {k}": _statsmodels(k) for k in
               ["longley", "star98", "macrodata", "copper", "scotland", "randhie", "fair",
                "cancer", "engel"]}
    designs["scikit-learn diabetes (raw)"] = _diabetes()
    designs.update({f"x..x^{d} on [0, 1], 50 points": _poly01(d) for d in range(5, 11)})
    designs.update({f"Wampler{k}-like": wampler_like(k) for k in range(1, 6)})
    designs.update({f"Filip-like, seed {s}": filip_like(s) for s in (0, 1)})
    for name, (X, y) in designs.items():
        exact = exact_lstsq(X, y)
        r = gradfit.solve_normal(X, y)
        w, b = lstsq(X, y, True)
        out[name] = (min_digits(r.coef, r.intercept, exact), min_digits(w, b, exact), r.solver,
                     getattr(r, "refinement_steps", None))
    print("| design | gradfit | solver, refinement steps | numpy.linalg.lstsq |")
    print("|---|---|---|---|")
    for k, (g, ls, s, st) in out.items():
        print(f"| {k} | {g:.1f} | {s}, {st} | {ls:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
