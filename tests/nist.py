"""Reader for the NIST StRD linear-regression files in tests/data/nist_strd/ (copies of NIST's
files, source and checksums in that folder's README.md), returning the design matrix, the
response and the certified values."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

NIST_DIR = Path(__file__).resolve().parent / "data" / "nist_strd"

# name -> (fit_intercept, polynomial degree of the single predictor, or None for raw columns)
MODELS = {
    "Norris": (True, None),
    "Pontius": (True, 2),
    "NoInt1": (False, None),
    "NoInt2": (False, None),
    "Longley": (True, None),
}


def load(name: str):
    """Return ``(X, y, fit_intercept, certified)``; certified is B0..Bk (B0 first when the
    model has an intercept)."""
    lines = (NIST_DIR / f"{name}.dat").read_text().splitlines()
    head = "\n".join(lines[:20])
    c0, c1 = map(int, re.search(r"Certified Values\s*\(lines (\d+) to (\d+)\)", head).groups())
    d0, d1 = map(int, re.search(r"Data\s*\(lines (\d+) to (\d+)\)", head).groups())
    cert = {}
    for line in lines[c0 - 1:c1]:
        mt = re.match(r"\s*B(\d+)\s+(\S+)", line)
        if mt:
            cert[int(mt.group(1))] = float(mt.group(2))
    data = np.array([[float(v) for v in line.split()] for line in lines[d0 - 1:d1]])
    y, X = data[:, 0], data[:, 1:]
    fit_intercept, degree = MODELS[name]
    if degree is not None:
        X = np.column_stack([X[:, 0] ** p for p in range(1, degree + 1)])
    certified = np.array([cert[k] for k in sorted(cert)])
    return X, y, fit_intercept, certified


def lre(estimate, certified):
    """NIST's log relative error, -log10(|est - cert| / |cert|), capped at 15 digits."""
    estimate, certified = np.asarray(estimate, float), np.asarray(certified, float)
    rel = np.abs(estimate - certified) / np.abs(certified)
    with np.errstate(divide="ignore"):
        return np.minimum(-np.log10(rel), 15.0)
