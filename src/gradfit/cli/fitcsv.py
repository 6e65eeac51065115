"""Fit a linear model to a CSV file with a header row, and report it.

Prints the coefficients by feature name, the intercept, R² on the data, the solver that
actually ran, whether it converged, the iterations and the time. ``--json OUT.json`` (``-``:
standard output, instead of the table) writes the same as an object with the keys "coef"
(feature name → value), "intercept", "r2", "solver", "converged", "n_iter", "n_rows",
"n_dropped" and "seconds"; ``--save MODEL.json`` writes the model for ``gradfit predict``.

Reading: RFC 4180 fields (quotes, delimiters and line breaks inside quotes, doubled quotes),
a UTF-8 byte-order mark skipped, no comment character; numbers, True/False (any case) as
1/0, missing cells (empty, NA, NaN, NULL, ...). Text in a feature column is an error that
names the file, the line and the column: leave the column out (--drop, --columns) or encode
it (--categorical: one 0/1 column per level, named COL=level, the first level in sorted
order dropped as the baseline). Missing cells are errors unless --dropna leaves their rows
out. pandas reads the file when installed (pip install 'gradfit[csv]': fast), else NumPy's
reader (a file of numbers only) or the standard csv module (slower).

Files larger than 1 GiB, or any file with --chunk-rows N, are streamed: N rows at a time
(default 100000) go through NormalAccumulator, so memory stays bounded and the result is
the exact least-squares fit of all rows (the exact solver only; with --categorical a first
pass collects the levels).

Iterative fits: --step alone means gradient descent, --batch-size means SGD; --learning-rate
applies to the strategies with a rate (fixed, momentum, nesterov, adagrad, rmsprop, adam,
invscaling; alone it means --step fixed). A fit that stops at --max-iter before meeting
--tol prints one warning line on stderr and reports "converged": false (exit status 0); a
fit that diverges exits with status 1.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import time
import warnings

import numpy as np

from .. import __version__
from ..accumulator import NormalAccumulator, stats_of
from ..errors import ConvergenceWarning, DivergenceError
from ..normal import solve_normal
from ..steps import NAMES
from ._common import FitFailed, UserError, positive_int
from ._table import (
    DEFAULT_CHUNK_ROWS,
    Chunk,
    CsvFile,
    Spec,
    checked_chunks,
    design,
    feature_names,
    sort_levels,
)

NAME = "fit"
HELP = "fit a CSV file (header row; one column is the target)"
EXAMPLE = """examples:
  gradfit fit houses.csv --target price
  gradfit fit grunfeld.csv --target invest --categorical firm --drop year --save model.json
  gradfit fit data.csv --target y --columns x1,x2 --dropna --json - | jq .r2
  gradfit fit houses.csv --target price --step bb --l2 0.01 --max-iter 5000 --tol 1e-10
  gradfit fit houses.csv --target price --batch-size 64 --learning-rate 0.01 --random-state 0
  gradfit fit big.csv --target y --chunk-rows 200000
"""
STREAM_BYTES = 1 << 30
#: Strategies whose step is a --learning-rate.
RATED = sorted(name for name, cls in NAMES.items()
               if "learning_rate" in {f.name for f in dataclasses.fields(cls)})
#: Options passed to LinearRegression unchanged when given (argparse dest, which is the
#: parameter's name -> the flag): a new estimator parameter is one entry here and one
#: add_argument with ``default=None``.
PASS_THROUGH = {"max_iter": "--max-iter", "tol": "--tol", "batch_size": "--batch-size",
                "random_state": "--random-state"}
#: LinearRegression's AUTO_MAX_FEATURES (a test keeps them equal): importing the estimator
#: imports scikit-learn, seconds that an exact fit does not need.
AUTO_MAX_FEATURES = 4000


def non_negative_float(text: str) -> float:
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    import argparse
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_column_arguments(p, delimiter: str | None = ",") -> None:
    p.add_argument("--delimiter", default=delimiter,
                   help=f"field separator (default {delimiter!r})" if delimiter else
                   "field separator (default: the fitted file's)")
    p.add_argument("--dropna", action="store_true",
                   help="leave out rows with a missing cell (empty, NA, NaN, NULL, ...) in "
                        "the columns used")
    p.add_argument("--chunk-rows", type=positive_int, metavar="N",
                   help="read the file N rows at a time (fit: stream it through the exact "
                        "solver; automatic above 1 GiB)")


def add_arguments(p) -> None:
    p.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    cols = p.add_argument_group("columns")
    cols.add_argument("--drop", action="append", metavar="COL[,COL...]",
                      help="leave these columns out")
    cols.add_argument("--columns", action="append", metavar="COL[,COL...]",
                      help="use only these columns as features")
    cols.add_argument("--categorical", action="append", metavar="COL[,COL...]",
                      help="one-hot encode these columns (COL=level; first level dropped)")
    add_column_arguments(cols)
    model = p.add_argument_group("model")
    model.add_argument("--solver", choices=("auto", "cholesky", "gd", "sgd"), default="auto",
                       help="auto (default): exact, unless an option below asks for descent")
    model.add_argument("--l2", type=non_negative_float, default=0.0,
                       help="ridge penalty (default 0)")
    model.add_argument("--l1", type=non_negative_float, default=0.0,
                       help="lasso penalty (default 0; gradient descent)")
    model.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    it = p.add_argument_group("iterative fits")
    it.add_argument("--step", choices=sorted(NAMES),
                    help="step-size strategy (implies --solver gd unless --batch-size)")
    it.add_argument("--learning-rate", type=positive_float, metavar="R",
                    help=f"the rate of --step {', '.join(RATED)} (alone: --step fixed)")
    it.add_argument("--max-iter", type=positive_int, metavar="N",
                    help="iteration cap (SGD: epochs)")
    it.add_argument("--tol", type=non_negative_float, metavar="T",
                    help="tolerance, measured before a fit is reported converged: relative "
                         "error of the standardised coefficients (default 1e-6; SGD: "
                         "relative objective gap, default 1e-3)")
    it.add_argument("--no-standardize", action="store_true",
                    help="iterate on the raw columns (default: standardised internally; "
                         "coefficients are always reported in the data's units)")
    it.add_argument("--batch-size", type=positive_int, metavar="K",
                    help="rows per step: mini-batch SGD")
    it.add_argument("--random-state", type=int, metavar="S", help="seed of SGD's shuffling")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="OUT.json",
                     help="write the result as JSON ('-': standard output, no table)")
    out.add_argument("--save", metavar="MODEL.json",
                     help="write the fitted model, for gradfit predict")


# ---------------------------------------------------------------------------- columns
def name_list(values: list[str] | None, names: list[str], flag: str) -> list[str]:
    """Column names from repeated COL[,COL...] options; a value that is itself a column
    name (it may hold a comma) is taken whole."""
    out: list[str] = []
    for value in values or []:
        items = [value] if value in names else [v.strip() for v in value.split(",")]
        for item in items:
            if item not in names:
                raise UserError(f"{flag}: no column named {item!r}; the columns are "
                                f"{', '.join(names)}")
            if item not in out:
                out.append(item)
    return out


def column_spec(args, table: CsvFile) -> tuple[Spec, list[str]]:
    names, path = table.names, table.path
    if args.target not in names:
        raise UserError(f"{path}:1: no column named {args.target!r}; the columns are "
                        f"{', '.join(names)}")
    drop = name_list(args.drop, names, "--drop")
    columns = name_list(args.columns, names, "--columns")
    categorical = name_list(args.categorical, names, "--categorical")
    for flag, chosen in (("--drop", drop), ("--columns", columns),
                         ("--categorical", categorical)):
        if args.target in chosen:
            raise UserError(f"{flag}: {args.target!r} is the target")
    features = columns or [c for c in names if c != args.target]
    features = [c for c in features if c not in drop]
    for c in categorical:
        if c not in features:
            raise UserError(f"--categorical: {c!r} is not among the features (it is "
                            f"{'dropped' if c in drop else 'not in --columns'})")
    if not features:
        raise UserError(f"{path}: no feature columns are left (the target is "
                        f"{args.target!r}{'; see --drop' if drop else ''})")
    return Spec(args.target, features, set(categorical), args.dropna), drop


# ---------------------------------------------------------------------------- solver
def _step_name(step) -> str:
    return next(name for name, cls in NAMES.items() if type(step) is cls)


def estimator_params(args, n_features: int) -> dict:
    """LinearRegression's parameters from the options, each combination that cannot work
    refused in command-line terms."""
    given = [flag for dest, flag in (("step", "--step"), ("learning_rate", "--learning-rate"),
                                     *PASS_THROUGH.items())
             if getattr(args, dest) is not None]
    solver = args.solver
    if solver == "auto":
        if args.batch_size is not None:
            solver = "sgd"
        elif args.step is not None or args.learning_rate is not None:
            solver = "gd"
        elif args.l1 > 0 or n_features > AUTO_MAX_FEATURES or given:
            solver = "auto"  # the library picks its strategy for lasso or wide data
    exact = solver == "cholesky" or (solver == "auto" and not (args.l1 > 0 or
                                                               n_features > AUTO_MAX_FEATURES))
    if exact and given:
        how = "--solver cholesky" if args.solver == "cholesky" else "the exact solver"
        raise UserError(f"{given[0]} applies to gradient descent, but this fit uses {how}: "
                        f"add --step NAME (or --solver gd, or --batch-size K for SGD)")
    if solver == "cholesky" and args.l1 > 0:
        raise UserError("--l1 has no exact solution: use --solver gd (or auto)")
    if solver == "gd" and args.batch_size is not None:
        raise UserError("--batch-size means mini-batch SGD; --solver gd uses every row at "
                        "each step: use --solver sgd (or auto)")
    if solver != "sgd" and args.random_state is not None:
        raise UserError("--random-state seeds SGD's shuffling (with --batch-size); full-batch "
                        "gradient descent draws no random numbers")
    step_name = args.step or ("fixed" if args.learning_rate is not None else None)
    step: str | object | None = step_name
    if step_name is not None:
        cls = NAMES[step_name]
        if args.learning_rate is not None:
            if step_name not in RATED:
                raise UserError(f"--learning-rate: --step {step_name} chooses its own step "
                                f"size; the strategies with a rate are {', '.join(RATED)}")
            step = cls(learning_rate=args.learning_rate)  # type: ignore[call-arg]
        if solver == "sgd" and not cls.mini_batch:
            mini = ", ".join(n for n, c in NAMES.items() if c.mini_batch)
            raise UserError(f"--step {step_name} needs the gradient of every row at each "
                            f"step; with --batch-size (SGD) use --step {mini}")
        if args.l1 > 0 and not cls.proximal:
            ok = [n for n, c in NAMES.items() if c.proximal and (c.mini_batch or
                                                                 solver != "sgd")]
            raise UserError(f"--step {step_name} cannot handle --l1 (it has no proximal "
                            f"form); use --step {', '.join(ok)}")
    params = dict(solver=solver, step=step, l2=args.l2, l1=args.l1,
                  fit_intercept=not args.no_intercept)
    if args.no_standardize:
        params["standardize"] = False
    params.update({dest: getattr(args, dest) for dest in PASS_THROUGH
                   if getattr(args, dest) is not None})
    return params


def cli_terms(message: str) -> str:
    """A library message in command-line words: parameters as flags, no Python syntax."""
    message = re.sub(r"\bstep=['\"]?(\w+)['\"]?", r"--step \1", message)
    message = re.sub(r"\bsolver=['\"]?(\w+)['\"]?", r"--solver \1", message)
    message = re.sub(r",? ?(or )?resume with init=<this result>,?", "", message)
    message = re.sub(r",? ?or pass fallback=True[^.]*", "", message)
    for word, flag in (("max_iter", "--max-iter"), ("batch_size", "--batch-size"),
                       ("learning_rate", "--learning-rate"), ("random_state", "--random-state"),
                       ("tol", "--tol"), ("l2", "--l2"), ("l1", "--l1")):
        message = re.sub(rf"(?<![\w*-]){word}\b(?!\*)", flag, message)  # not in m*l2*I
    return message


# ---------------------------------------------------------------------------- fitting
@dataclasses.dataclass
class Fit:
    features: list[str]
    coef: np.ndarray
    intercept: float
    r2: float
    solver: str
    converged: bool
    n_iter: int
    n_rows: int
    n_dropped: int
    levels: dict[str, list[str]]
    step: str | None = None


def run(args) -> int:
    table = CsvFile(args.data, args.delimiter)
    spec, drop = column_spec(args, table)
    estimator_params(args, len(spec.features))  # option errors before reading the data
    size = os.path.getsize(args.data)
    stream = args.chunk_rows is not None or size > STREAM_BYTES
    t0 = time.perf_counter()
    fit = _fit_streaming(args, table, spec) if stream else _fit_in_memory(args, table, spec)
    seconds = time.perf_counter() - t0
    _report(args, fit, seconds)
    if args.save:
        _save(args, spec, drop, fit)
    return 0


def _fit_in_memory(args, table: CsvFile, spec: Spec) -> Fit:
    chunks = list(checked_chunks(table, spec, DEFAULT_CHUNK_ROWS, whole=True))
    n_seen = sum(c.n_read for c in chunks)
    if not chunks or sum(c.rows.size for c in chunks) == 0:
        raise UserError(f"{table.path}: no data rows" +
                        (" left after --dropna" if n_seen else " (a header only)"))
    merged = Chunk(np.concatenate([c.rows for c in chunks]), n_seen,
                   {n: np.concatenate([c.numbers[n] for c in chunks]) for n in chunks[0].numbers},
                   {n: np.concatenate([c.text[n] for c in chunks]) for n in chunks[0].text})
    del chunks
    levels = {n: sort_levels(set(merged.text[n])) for n in spec.categorical}
    fit_intercept = not args.no_intercept
    X = design(table, spec, merged, levels, fit_intercept)
    assert spec.target is not None
    y = merged.numbers[spec.target]
    names = feature_names(spec, levels, fit_intercept)
    params = estimator_params(args, X.shape[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if _exact(params, X.shape[1]):  # LinearRegression's exact solver, without it
                result = solve_normal(X, y, l2=params["l2"],
                                      fit_intercept=params["fit_intercept"])
            else:
                from ..estimators import LinearRegression
                model = LinearRegression(**params)
                try:
                    result = model.fit(X, y).result_
                except DivergenceError as exc:
                    raise FitFailed(_divergence(str(exc), model)) from None
        except ValueError as exc:
            raise UserError(f"{table.path}: {cli_terms(str(exc))}") from None
    step = None if result.step is None else _step_name(result.step)
    _warn(caught, result, step, params)
    coef, intercept = np.asarray(result.coef, dtype=np.float64), float(result.intercept)
    resid = y - X @ coef - intercept
    r2 = _r2(float(resid @ resid), float(((y - y.mean()) ** 2).sum()))
    return Fit(names, coef, intercept, r2, result.solver, bool(result.converged),
               int(result.n_iter), int(y.size), n_seen - int(y.size), levels, step)


def _exact(params: dict, n_features: int) -> bool:
    """Whether LinearRegression(**params) would run its exact solver."""
    return params["solver"] == "cholesky" or (
        params["solver"] == "auto" and params["l1"] == 0 and n_features <= AUTO_MAX_FEATURES
        and params.get("batch_size") is None)


def _divergence(message: str, model) -> str:
    """The library's DivergenceError in command-line terms, with advice that does not name
    the strategy in use."""
    where = re.search(r"diverged at (\w+ \d+)", message)
    went = re.search(r"went from (\S+) to (\S+?)\.(?:\s|$)", message)
    step = model.step if isinstance(model.step, str) else \
        (None if model.step is None else _step_name(model.step))
    text = "gradient descent diverged"
    if where:
        text += f" at {where.group(1)}"
    if step:
        text += f" with --step {step}"
    if went:
        text += f": the objective went from {went.group(1)} to {went.group(2)}"
    advice = []
    if step in RATED or step is None:
        advice.append("a smaller --learning-rate")
    safe = [s for s in ("backtracking", "lipschitz") if s != step]
    if model.solver != "sgd" and model.batch_size is None:
        advice.append(" or ".join(f"--step {s}" for s in safe) +
                      " (they choose a safe step themselves)")
    return f"{text}. The step is too large for this problem: use {', or '.join(advice)}"


def _warn(caught, result, step: str | None, params: dict) -> None:
    """One line on stderr per warning, in command-line terms; one for a fit that stopped
    before converging (the library stays silent about short SGD runs)."""
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            print(f"gradfit fit: warning: {cli_terms(str(w.message))}", file=sys.stderr)
    if result.converged:
        return
    if result.solver == "sgd":
        print(f"gradfit fit: warning: SGD did not converge in {result.n_iter} epochs "
              f"(--max-iter): raise --max-iter, or lower --learning-rate (with a constant "
              f"rate SGD hovers around the optimum)", file=sys.stderr)
        return
    others = [s for s in (("fista", "backtracking") if params["l1"] > 0
                          else ("cg", "bb")) if s != step]
    norms = re.search(r"= (\S+) > (\S+)", result.message or "")
    detail = (f": gradient norm {norms.group(1)}, above the --tol target {norms.group(2)}"
              if norms else "")
    print(f"gradfit fit: warning: gradient descent did not converge in {result.n_iter} "
          f"iterations (--max-iter){detail}; raise --max-iter, loosen --tol, or try "
          f"{' or '.join('--step ' + s for s in others)}", file=sys.stderr)


def _fit_streaming(args, table: CsvFile, spec: Spec) -> Fit:
    if args.solver not in ("auto", "cholesky") or args.l1 != 0 or any(
            getattr(args, d) is not None for d in ("step", "learning_rate", *PASS_THROUGH)):
        raise UserError("streaming (--chunk-rows, or files over 1 GiB) uses the exact solver: "
                        "leave out --solver gd/sgd, --l1 and the iterative options")
    chunk_rows = args.chunk_rows or DEFAULT_CHUNK_ROWS
    levels: dict[str, list[str]] = {}
    if spec.categorical:  # a first pass for the levels
        seen: dict[str, set] = {n: set() for n in spec.categorical}
        for chunk in checked_chunks(table, spec, chunk_rows):
            for n in spec.categorical:
                seen[n].update(chunk.text[n])
        levels = {n: sort_levels(v) for n, v in seen.items()}
    fit_intercept = not args.no_intercept
    acc = NormalAccumulator()
    n_rows = n_seen = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for chunk in checked_chunks(table, spec, chunk_rows):
            n_seen += chunk.n_read
            if chunk.rows.size == 0:
                continue
            acc.update(design(table, spec, chunk, levels, fit_intercept),
                       chunk.numbers[spec.target])
            n_rows += chunk.rows.size
        if acc.n_samples == 0:
            raise UserError(f"{table.path}: no data rows" +
                            (" left after --dropna" if spec.dropna else " (a header only)"))
        res = acc.solve(l2=args.l2, fit_intercept=fit_intercept)
    _warn(caught, res, None, {"l1": 0.0})
    # R² from the statistics: 1 - rss / tss, with rss = 2m (f - l2/2 |w|^2)
    st = stats_of(acc)
    assert st is not None  # n_samples > 0
    c = np.asarray(res.coef, dtype=np.float64)
    rss = 2 * st.m * (res.objective - 0.5 * args.l2 * float(c @ c))
    names = feature_names(spec, levels, fit_intercept)
    return Fit(names, c, float(res.intercept), _r2(rss, st.yty), res.solver, True,
               res.n_iter, n_rows, n_seen - n_rows, levels)


def _r2(rss: float, tss: float) -> float:
    """1 - rss/tss; for a constant target, scikit-learn's r2_score convention (1.0 for a
    perfect fit, else 0.0)."""
    if tss > 0:
        return 1.0 - rss / tss
    return 1.0 if rss <= 1e-12 * max(1.0, abs(tss)) else 0.0


# ---------------------------------------------------------------------------- output
def write_text(path: str, text: str) -> None:
    """``text`` to a file, or to standard output when ``path`` is '-'."""
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def _report(args, fit: Fit, seconds: float) -> None:
    if args.json != "-":
        width = max(12, max(len(f) for f in fit.features) + 2)
        dropped = f" ({fit.n_dropped} dropped: missing cells)" if fit.n_dropped else ""
        print(f"gradfit fit {args.data}: target {args.target!r}, {len(fit.features)} features, "
              f"{fit.n_rows} rows{dropped}")
        for name, value in zip(fit.features, fit.coef, strict=True):
            print(f"  {name:<{width}} {value: .10g}")
        print(f"  {'(intercept)':<{width}} {fit.intercept: .10g}")
        print(f"R² {fit.r2:.6f}   solver {fit.solver}   "
              f"{'converged' if fit.converged else 'NOT converged'}   iterations {fit.n_iter}"
              f"   {seconds:.3f} s")
    if args.json:
        out = {"coef": {name: float(v) for name, v in zip(fit.features, fit.coef, strict=True)},
               "intercept": float(fit.intercept), "r2": float(fit.r2), "solver": fit.solver,
               "converged": fit.converged, "n_iter": fit.n_iter, "n_rows": fit.n_rows,
               "n_dropped": fit.n_dropped, "seconds": float(seconds)}
        write_text(args.json, json.dumps(out, indent=2, allow_nan=False) + "\n")


MODEL_FORMAT = "gradfit-linear-model"


def _save(args, spec: Spec, drop: list[str], fit: Fit) -> None:
    settings = {"solver": args.solver, "step": fit.step, "learning_rate": args.learning_rate,
                "l2": args.l2, "l1": args.l1, "fit_intercept": not args.no_intercept,
                **{dest: getattr(args, dest) for dest in PASS_THROUGH},
                "dropna": args.dropna}
    model = {
        "format": MODEL_FORMAT, "format_version": 1, "gradfit_version": __version__,
        "target": spec.target,
        "columns": spec.features,
        "categorical": {n: fit.levels[n] for n in spec.features if n in spec.categorical},
        "dropped_columns": drop,
        "delimiter": args.delimiter,
        "features": fit.features,
        "coef": [float(v) for v in fit.coef],
        "intercept": float(fit.intercept),
        "solver": fit.solver, "converged": fit.converged, "n_iter": fit.n_iter,
        "n_rows": fit.n_rows, "r2": float(fit.r2),
        "settings": settings,
    }
    write_text(args.save, json.dumps(model, indent=2, allow_nan=False) + "\n")
