"""Audit: does every iterative strategy, with its defaults, either return the least-squares
solution of real data in raw units or say that it did not?

Each (data set, strategy, entry point) fit is classified as
  correct  -- no warning, converged, and the solution is exact to the thresholds below;
  flagged  -- a ConvergenceWarning, converged=False, an error, or (CLI) a warning line,
              a nonzero exit or "converged": false in the JSON;
  SILENT   -- claims success but is wrong (the one outcome that must never happen).
Exact means: relative error of the standardised coefficients sigma*(w - w*) <= 1e-4 and
relative objective gap (f - f*)/f* <= 1e-8 (full batch), or the gap <= 1e-3 (SGD). The
reference w* is numpy.linalg.lstsq on the centred, standardised data, cross-checked with
statsmodels' OLS.

Run:  python benchmarks/experiments/trust_audit.py [--quick] [--json OUT.json] [--detail]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict

import numpy as np

import gradfit
from gradfit import ConvergenceWarning, LinearRegression, gradient_descent

FULL = ["default", "fixed", "lipschitz", "exact", "backtracking", "bb", "cg", "momentum",
        "nesterov", "adagrad", "rmsprop", "adam", "invscaling", "fista"]
MINI = ["default", "fixed", "invscaling", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
ENTRIES = ["estimator", "function", "cli"]
COEF_RTOL, GAP_FULL, GAP_SGD = 1e-4, 1e-8, 1e-3


# ----------------------------------------------------------------------------- data
def _sm(name, target, drop=()):
    import statsmodels.api as sm
    df = getattr(sm.datasets, name).load_pandas().data
    df = df.select_dtypes("number").drop(columns=list(drop)).dropna()
    y = df[target].to_numpy(float)
    X = df.drop(columns=[target])
    return list(X.columns), X.to_numpy(float), y


def datasets():
    """name -> (feature names, X, y), raw units, all bundled (no network)."""
    from sklearn.datasets import load_diabetes, load_linnerud
    out = {}
    d = load_diabetes(scaled=False)
    out["diabetes"] = (list(d.feature_names), d.data.astype(float), d.target.astype(float))
    ln = load_linnerud()
    out["linnerud"] = (list(ln.feature_names), ln.data.astype(float),
                       ln.target[:, 0].astype(float))
    specs = {
        "longley": ("longley", "TOTEMP", ()),
        "macrodata": ("macrodata", "realgdp", ()),
        "star98": ("star98", "NABOVE", ()),
        "engel": ("engel", "foodexp", ()),
        "stackloss": ("stackloss", "STACKLOSS", ()),
        "grunfeld": ("grunfeld", "invest", ()),
        "cpunish": ("cpunish", "EXECUTIONS", ()),
        "copper": ("copper", "WORLDCONSUMPTION", ()),
        "ccard": ("ccard", "AVGEXP", ()),
        "statecrime": ("statecrime", "murder", ()),
        "fair": ("fair", "affairs", ()),
        "scotland": ("scotland", "YES", ()),
        "randhie": ("randhie", "mdvis", ()),
        "committee": ("committee", "BILLS104", ()),
    }
    for key, (name, target, drop) in specs.items():
        try:
            out[key] = _sm(name, target, drop)
        except Exception as exc:  # pragma: no cover - statsmodels missing or changed
            print(f"skip {key}: {exc}", file=sys.stderr)
    return out


class Reference:
    """The exact least-squares fit (with intercept) and what the classification needs."""

    def __init__(self, X, y):
        self.X, self.y = X, y
        mu, sd = X.mean(0), X.std(0)
        sd = np.where(sd > 0, sd, 1.0)
        Z = (X - mu) / sd
        v, *_ = np.linalg.lstsq(Z, y - y.mean(), rcond=None)
        self.sd = sd
        self.coef = v / sd
        self.intercept = y.mean() - mu @ self.coef
        self.f = self.objective(self.coef, self.intercept)
        try:  # independent cross-check
            import statsmodels.api as sm
            params = sm.OLS(y, sm.add_constant(X, has_constant="add")).fit().params
            agree = np.linalg.norm(sd * (params[1:] - self.coef)) \
                / np.linalg.norm(sd * self.coef)
            assert agree < 1e-7, agree
        except ImportError:  # pragma: no cover
            pass

    def objective(self, coef, intercept):
        r = self.y - self.X @ np.asarray(coef, float) - intercept
        return 0.5 * float(r @ r) / len(self.y)

    def errors(self, coef, intercept):
        coef = np.asarray(coef, float)
        if not (np.isfinite(coef).all() and np.isfinite(intercept)):
            return np.inf, np.inf
        cerr = np.linalg.norm(self.sd * (coef - self.coef)) / np.linalg.norm(self.sd * self.coef)
        gap = (self.objective(coef, intercept) - self.f) / self.f
        return float(cerr), float(gap)


# ----------------------------------------------------------------------------- fits
def _quiet_call(fn):
    """(result, flagged, note): flagged if a ConvergenceWarning or an error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = fn()
        except Exception as exc:  # any error is an honest "did not"
            return None, True, f"{type(exc).__name__}: {str(exc)[:80]}"
    conv = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    return res, bool(conv), (str(conv[0].message)[:80] if conv else "")


def fit_estimator(X, y, strategy, mini):
    step = None if strategy == "default" else strategy
    model = LinearRegression(solver="sgd" if mini else "gd", step=step, random_state=0)
    res, flagged, note = _quiet_call(lambda: model.fit(X, y))
    if res is None:
        return None, None, True, note
    flagged = flagged or not model.result_.converged
    return model.coef_, model.intercept_, flagged, note or model.result_.message[:80]


def fit_function(X, y, strategy, mini):
    kw = {"batch_size": min(32, len(y)), "random_state": 0} if mini else {}
    step = None if strategy == "default" else strategy
    res, flagged, note = _quiet_call(lambda: gradient_descent(X, y, step=step, **kw))
    if res is None:
        return None, None, True, note
    return res.coef, res.intercept, flagged or not res.converged, note or res.message[:80]


def fit_cli(X, y, strategy, mini, names, tmpdir):
    from gradfit.cli import main
    path = os.path.join(tmpdir, "data.csv")
    out = os.path.join(tmpdir, "out.json")
    if os.path.exists(out):
        os.remove(out)
    cols = [f"x{j}" for j in range(X.shape[1])]
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=",".join(cols + ["target"]),
               comments="", fmt="%.17g")
    argv = ["fit", path, "--target", "target", "--solver", "sgd" if mini else "gd",
            "--json", out]
    if strategy != "default":
        argv += ["--step", strategy]
    err, stdout = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(stdout):
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    text = err.getvalue()
    if code != 0 or not os.path.exists(out):
        return None, None, True, f"exit {code}: {text.strip()[:80]}"
    with open(out) as f:
        rep = json.load(f)
    coef = np.array([rep["coef"][c] for c in cols])
    flagged = "warning" in text.lower() or rep.get("converged", True) is False
    return coef, rep["intercept"], flagged, text.strip()[:80]


def classify(ref, coef, intercept, flagged, mini):
    if coef is None:
        return "flagged", np.inf, np.inf
    cerr, gap = ref.errors(coef, intercept)
    exact = gap <= GAP_SGD if mini else (cerr <= COEF_RTOL and gap <= GAP_FULL)
    if flagged:
        return "flagged", cerr, gap
    return ("correct" if exact else "SILENT"), cerr, gap


def audit(data, entries=ENTRIES, full=FULL, mini=MINI, detail=False):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dname, (names, X, y) in data.items():
            ref = Reference(X, y)
            for is_mini, strategies in ((False, full), (True, mini)):
                for strategy in strategies:
                    for entry in entries:
                        t0 = time.perf_counter()
                        if entry == "estimator":
                            out = fit_estimator(X, y, strategy, is_mini)
                        elif entry == "function":
                            out = fit_function(X, y, strategy, is_mini)
                        else:
                            out = fit_cli(X, y, strategy, is_mini, names, tmp)
                        coef, b, flagged, note = out
                        kind, cerr, gap = classify(ref, coef, b, flagged, is_mini)
                        row = dict(data=dname, mode="sgd" if is_mini else "gd",
                                   strategy=strategy, entry=entry, outcome=kind,
                                   coef_err=cerr, gap=gap, note=note,
                                   seconds=time.perf_counter() - t0)
                        rows.append(row)
                        if detail or kind == "SILENT":
                            print(f"{dname:11s} {row['mode']:3s} {strategy:12s} {entry:9s} "
                                  f"{kind:8s} cerr {cerr:9.2e} gap {gap:9.2e}  {note}",
                                  flush=True)
    return rows


def summary(rows):
    lines = []
    table = defaultdict(Counter)
    for r in rows:
        table[(r["mode"], r["strategy"], r["entry"])][r["outcome"]] += 1
    lines.append(f"{'mode':4s} {'strategy':12s} " + "  ".join(f"{e:>17s}" for e in ENTRIES))
    lines.append(f"{'':4s} {'':12s} " + "  ".join(f"{'ok/flag/SILENT':>17s}" for _ in ENTRIES))
    for mode, strategies in (("gd", FULL), ("sgd", MINI)):
        for s in strategies:
            cells = []
            for e in ENTRIES:
                c = table.get((mode, s, e))
                cells.append("-" if c is None else
                             f"{c['correct']:>5d}/{c['flagged']:>4d}/{c['SILENT']:>4d}")
            lines.append(f"{mode:4s} {s:12s} " + "  ".join(f"{x:>17s}" for x in cells))
    tot = Counter(r["outcome"] for r in rows)
    lines.append(f"total {len(rows)} fits: correct {tot['correct']}, flagged {tot['flagged']}, "
                 f"SILENT WRONG {tot['SILENT']}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write every fit's row here")
    ap.add_argument("--detail", action="store_true", help="print every fit")
    ap.add_argument("--data", help="comma-separated data-set names (default: all)")
    ap.add_argument("--entries", default=",".join(ENTRIES))
    ap.add_argument("--strategies", help="comma-separated (default: all)")
    ap.add_argument("--mode", choices=("gd", "sgd", "both"), default="both")
    args = ap.parse_args(argv)
    data = datasets()
    if args.data:
        data = {k: data[k] for k in args.data.split(",")}
    full = FULL if args.mode != "sgd" else []
    mini = MINI if args.mode != "gd" else []
    if args.strategies:
        keep = set(args.strategies.split(","))
        full = [s for s in full if s in keep]
        mini = [s for s in mini if s in keep]
    print(f"gradfit {gradfit.__file__}", flush=True)
    t0 = time.perf_counter()
    rows = audit(data, args.entries.split(","), full, mini, args.detail)
    print(summary(rows))
    print(f"{time.perf_counter() - t0:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=float)


if __name__ == "__main__":
    main()
