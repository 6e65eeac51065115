"""Apply a model saved by ``gradfit fit --save MODEL.json`` to the rows of a CSV file.

Writes the input rows, every field as it was, with the prediction as a last column named
"prediction", to standard output or to ``--out PRED.csv``. The columns are handled as at
the fit: the model's feature columns are read (by name; other columns are ignored and
copied), categorical columns encoded with the fit's levels (a level the fit did not see
is an error naming the line), True/False as 1/0. A missing cell in a feature column is an
error unless ``--dropna``, which leaves its row out of the output.
"""
from __future__ import annotations

import csv
import json
import sys

import numpy as np

from ._common import UserError
from ._table import DEFAULT_CHUNK_ROWS, CsvFile, Spec, checked_chunks, design
from .fitcsv import MODEL_FORMAT, add_column_arguments

NAME = "predict"
HELP = "apply a model saved by 'gradfit fit --save' to a CSV file"
EXAMPLE = """examples:
  gradfit fit train.csv --target price --categorical town --save model.json
  gradfit predict model.json new.csv                    (CSV on standard output)
  gradfit predict model.json new.csv --out predictions.csv --dropna
"""


def add_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL.json", help="written by gradfit fit --save")
    p.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    p.add_argument("--out", metavar="PRED.csv", default="-",
                   help="where to write the rows with their prediction (default: standard "
                        "output)")
    add_column_arguments(p, delimiter=None)


def load_model(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            model = json.load(f)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(model, dict) or model.get("format") != MODEL_FORMAT:
        raise UserError(f"{path}: not a model written by gradfit fit --save")
    try:
        coef = np.array(model["coef"], dtype=np.float64)
        columns = [str(c) for c in model["columns"]]
        categorical = {str(k): [str(v) for v in lv] for k, lv in model["categorical"].items()}
        intercept = float(model["intercept"])
        fit_intercept = bool(model["settings"]["fit_intercept"])
        features = [str(f) for f in model["features"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path}: a damaged model file ({exc!r} is missing or "
                        f"invalid)") from None
    width = sum((len(categorical[c]) - fit_intercept) if c in categorical else 1
                for c in columns)
    if coef.shape != (len(features),) or width != len(features) \
            or not np.isfinite(coef).all():
        raise UserError(f"{path}: a damaged model file (its coefficients do not match its "
                        f"features)")
    model.update(coef=coef, columns=columns, categorical=categorical, intercept=intercept,
                 fit_intercept=fit_intercept)
    return model


def run(args) -> int:
    model = load_model(args.model)
    table = CsvFile(args.data, args.delimiter or str(model.get("delimiter", ",")))
    missing = [c for c in model["columns"] if c not in table.names]
    if missing:
        raise UserError(f"{args.data}:1: no column named {missing[0]!r}, which the model "
                        f"uses; the columns are {', '.join(table.names)}")
    spec = Spec(None, model["columns"], set(model["categorical"]), args.dropna)
    rows, predictions = [], []
    for chunk in checked_chunks(table, spec, args.chunk_rows or DEFAULT_CHUNK_ROWS,
                                whole=args.chunk_rows is None):
        if chunk.rows.size == 0:
            continue
        X = design(table, spec, chunk, model["categorical"], model["fit_intercept"])
        predictions.append(X @ model["coef"] + model["intercept"])
        rows.append(chunk.rows)
    keep = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    pred = np.concatenate(predictions) if predictions else np.empty(0)
    _write(args, table, keep, pred)
    return 0


def _write(args, table: CsvFile, keep: np.ndarray, pred: np.ndarray) -> None:
    """The kept rows, fields as read, and their prediction; one more pass over the file."""
    if args.out == "-":
        _write_rows(sys.stdout, table, keep, pred)
        return
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            _write_rows(f, table, keep, pred)
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None


def _write_rows(f, table: CsvFile, keep: np.ndarray, pred: np.ndarray) -> None:
    writer = csv.writer(f, delimiter=table.delimiter, lineterminator="\n")
    writer.writerow([*table.names, "prediction"])
    i = 0
    for row, (_, fields) in enumerate(table._records()):
        if i < keep.size and keep[i] == row:
            writer.writerow([*fields, repr(float(pred[i]))])
            i += 1
