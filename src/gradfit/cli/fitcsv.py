"""Fit a linear model to a CSV file with a header row, and report it.

Prints the coefficients by column name, the intercept, R² on the data, the solver that
actually ran, the iterations and the time; ``--json OUT.json`` writes the same as an object
with the keys "coef" (column name → value), "intercept", "r2", "solver", "n_iter",
"converged" (false, with a warning on stderr, when an iterative solver stopped short of its
tolerance) and "seconds". Gradient descent and SGD standardise the columns internally
(``--no-standardize`` turns it off).

The file is parsed by NumPy's C reader (about a million rows of ten columns in a few
seconds). Files larger than 1 GiB, or any file with ``--chunk-rows N``, are streamed: N rows
at a time (default 100000) go through ``NormalAccumulator``, so memory stays bounded and the
result is the exact least-squares fit of all rows (solver "auto" or "cholesky", l1 = 0).
Errors name the file, line and column.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import time
import warnings

import numpy as np

from ..accumulator import NormalAccumulator
from ..estimators import LinearRegression
from ..steps import NAMES
from ._common import UserError, positive_int

NAME = "fit"
HELP = "fit a CSV file (header row; one column is the target)"
EXAMPLE = """examples:
  gradfit fit houses.csv --target price
  gradfit fit houses.csv --target price --solver gd --step bb --l2 0.01 --json fit.json
  gradfit fit big.csv --target y --chunk-rows 200000
"""
STREAM_BYTES = 1 << 30
DEFAULT_CHUNK_ROWS = 100_000


def add_arguments(p) -> None:
    p.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    p.add_argument("--solver", choices=("auto", "cholesky", "gd", "sgd"), default="auto")
    p.add_argument("--step", choices=sorted(NAMES), help="step-size strategy (gd, sgd)")
    p.add_argument("--l2", type=float, default=0.0, help="ridge penalty (default 0)")
    p.add_argument("--l1", type=float, default=0.0, help="lasso penalty (default 0)")
    p.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    p.add_argument("--no-standardize", action="store_true",
                   help="gd, sgd: iterate on the raw columns instead of standardised ones")
    p.add_argument("--delimiter", default=",", help="field separator (default ',')")
    p.add_argument("--chunk-rows", type=positive_int, metavar="N",
                   help="stream the file N rows at a time (automatic above 1 GiB)")
    p.add_argument("--json", metavar="OUT.json", help="also write the result as JSON")


def _header(path: str, delimiter: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (UTF-8) file") from None
    if not first.strip():
        raise UserError(f"{path}: the file is empty (expected a header row, then data)")
    names = [c.strip().strip('"').strip("'") for c in first.rstrip("\r\n").split(delimiter)]
    seen = set()
    for j, name in enumerate(names):
        if not name:
            raise UserError(f"{path}:1: column {j + 1} of the header has no name")
        if name in seen:
            raise UserError(f"{path}:1: the column name {name!r} appears twice; names must be "
                            f"unique")
        seen.add(name)
    return names


def _explain_bad_row(path: str, delimiter: str, names: list[str], first_line: int = 2):
    """The slow, precise scan run after the fast reader failed: the first bad line."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno < first_line:
                continue
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{path}:{lineno}: not UTF-8 text") from None
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split(delimiter)
            if len(fields) != len(names):
                raise UserError(f"{path}:{lineno}: {len(fields)} fields, but the header has "
                                f"{len(names)} (a ragged row)")
            for name, field in zip(names, fields):
                try:
                    if "_" in field:  # float() reads 1_000; NumPy's reader does not
                        raise ValueError
                    value = float(field)
                except ValueError:
                    raise UserError(f"{path}:{lineno}: column {name!r}: {field.strip()!r} is "
                                    f"not a number") from None
                if not math.isfinite(value):
                    raise UserError(f"{path}:{lineno}: column {name!r}: {field.strip()!r} is "
                                    f"not a finite number")
    raise UserError(f"{path}: could not be parsed as numbers")


def _parse(lines_or_path, path, delimiter, names, skip, first_line):
    try:
        with warnings.catch_warnings():  # "empty input": reported below, in our words
            warnings.simplefilter("ignore", UserWarning)
            data = np.loadtxt(lines_or_path, delimiter=delimiter, skiprows=skip, ndmin=2,
                              dtype=np.float64, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError):
        _explain_bad_row(path, delimiter, names, first_line)
    if (data.size and data.shape[1] != len(names)) or not np.isfinite(data).all():
        _explain_bad_row(path, delimiter, names, first_line)
    return data


def run(args) -> int:
    path, delim = args.data, args.delimiter
    if len(delim) != 1:
        raise UserError(f"--delimiter must be one character, got {delim!r}")
    names = _header(path, delim)
    if args.target not in names:
        raise UserError(f"{path}:1: no column named {args.target!r}; the columns are "
                        f"{', '.join(names)}")
    t = names.index(args.target)
    features = [c for j, c in enumerate(names) if j != t]
    if not features:
        raise UserError(f"{path}: the target is the only column; nothing to fit with")
    size = os.path.getsize(path)
    stream = args.chunk_rows is not None or size > STREAM_BYTES
    t0 = time.perf_counter()
    if stream:
        coef, intercept, r2, solver, n_iter = _fit_streaming(args, names, t, features)
        converged = True
    else:
        data = _parse(path, path, delim, names, 1, 2)
        if data.shape[0] == 0:
            raise UserError(f"{path}: a header but no data rows")
        y = data[:, t]
        X = np.delete(data, t, axis=1)
        model = _model(args)
        try:
            model.fit(X, y)
        except ValueError as exc:
            raise UserError(f"{path}: {exc}") from None
        coef, intercept = model.coef_, float(model.intercept_)
        resid = y - X @ coef - intercept
        tss = float(((y - y.mean()) ** 2).sum())
        r2 = _r2(float(resid @ resid), tss)
        solver, n_iter = model.solver_, int(model.n_iter_)
        converged = bool(getattr(model.result_, "converged", True))
    seconds = time.perf_counter() - t0
    _report(args, features, coef, intercept, r2, solver, n_iter, seconds, converged)
    return 0


def _model(args) -> LinearRegression:
    if args.step is not None and args.solver == "cholesky":
        raise UserError("--step applies to --solver gd or sgd, not cholesky")
    return LinearRegression(solver=args.solver, step=args.step, l2=args.l2, l1=args.l1,
                            fit_intercept=not args.no_intercept,
                            standardize=not args.no_standardize)


def _fit_streaming(args, names, t, features):
    if args.solver not in ("auto", "cholesky") or args.l1 != 0 or args.step is not None:
        raise UserError("streaming (--chunk-rows, or files over 1 GiB) uses the exact solver: "
                        "use --solver auto or cholesky, without --l1 or --step")
    if not (args.l2 >= 0 and math.isfinite(args.l2)):
        raise UserError(f"--l2 must be finite and >= 0, got {args.l2}")
    acc = NormalAccumulator()
    chunk = args.chunk_rows or DEFAULT_CHUNK_ROWS
    first_line = 2
    with open(args.data, "rb") as f:
        f.readline()
        while True:
            raw = list(itertools.islice(f, chunk))
            if not raw:
                break
            try:
                lines = [line.decode("utf-8") for line in raw]
            except UnicodeDecodeError:
                _explain_bad_row(args.data, args.delimiter, names, first_line)
            data = _parse(lines, args.data, args.delimiter, names, 0, first_line)
            if data.shape[0]:
                acc.update(np.delete(data, t, axis=1), data[:, t])
            first_line += len(lines)
    if acc.n_samples == 0:
        raise UserError(f"{args.data}: a header but no data rows")
    res = acc.solve(l2=args.l2, fit_intercept=not args.no_intercept)
    # R² from the statistics: 1 - rss / tss, with rss = 2m (f - l2/2 |w|^2)
    st = acc._stats
    c = np.asarray(res.coef, dtype=np.float64)
    rss = 2 * st.m * (res.objective - 0.5 * args.l2 * float(c @ c))
    r2 = _r2(rss, st.yty)
    return c, float(res.intercept), r2, res.solver, res.n_iter


def _r2(rss: float, tss: float) -> float:
    """1 - rss/tss; for a constant target, scikit-learn's r2_score convention (1.0 for a
    perfect fit, else 0.0)."""
    if tss > 0:
        return 1.0 - rss / tss
    return 1.0 if rss <= 1e-12 * max(1.0, abs(tss)) else 0.0


def _report(args, features, coef, intercept, r2, solver, n_iter, seconds,
            converged=True) -> None:
    width = max(12, max(len(f) for f in features) + 2)
    print(f"gradfit fit {args.data}: target {args.target!r}, {len(features)} features")
    for name, value in zip(features, coef):
        print(f"  {name:<{width}} {value: .10g}")
    print(f"  {'(intercept)':<{width}} {intercept: .10g}")
    print(f"R² {r2:.6f}   solver {solver}   iterations {n_iter}   {seconds:.3f} s"
          + ("" if converged else "   NOT CONVERGED"))
    if args.json:
        out = {"coef": {name: float(v) for name, v in zip(features, coef)},
               "intercept": float(intercept), "r2": float(r2),
               "solver": solver, "n_iter": int(n_iter), "converged": bool(converged),
               "seconds": float(seconds)}
        try:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2, allow_nan=False)
        except OSError as exc:
            raise UserError(f"cannot write {args.json}: {exc.strerror or exc}") from None
