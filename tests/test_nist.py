"""NIST StRD linear-regression reference problems, solved by ``solve_normal`` with defaults.

What is checked, and why
------------------------
The certified values are exact to 15 significant digits, so they measure the solver's accuracy
independently of any other software. The score is NIST's log relative error (LRE, number of
correct significant digits) of every parameter, intercept first when the model has one.
Norris, Pontius, NoInt1 and NoInt2 are easy-to-moderate problems; Longley is the classic
ill-conditioned one (condition number ~ 5e9 for the raw design with its column of ones: large,
strongly correlated columns). The bar is 11 digits on all five: what a backward-stable solver
gets (numpy.linalg.lstsq: 11.8 on Longley), and what the refined normal equations must keep
(the certified values are themselves rounded to 15 digits, so more cannot be asked). Longley
is also solved with its columns permuted (the answer must not depend on column order) and with
X in Fortran order (the other memory layout the compiled pass reads in place).
The solver that actually ran (``cholesky`` or the ``qr`` fallback) is not asserted; it is
attached to the test report as a user property.
"""
import numpy as np
import pytest

import gradfit
import nist

MIN_LRE = {"Norris": 11.0, "Pontius": 11.0, "NoInt1": 11.0, "NoInt2": 11.0, "Longley": 11.0}


def fitted_parameters(res, fit_intercept):
    coef = np.asarray(res.coef, dtype=np.float64)
    return np.concatenate([[res.intercept], coef]) if fit_intercept else coef


def check(name, X, y, fit_intercept, certified, record_property):
    res = gradfit.solve_normal(X, y, fit_intercept=fit_intercept)
    record_property("solver", res.solver)
    scores = nist.lre(fitted_parameters(res, fit_intercept), certified)
    assert scores.shape == certified.shape
    assert np.all(scores >= MIN_LRE[name]), (
        f"{name}: LRE per parameter {np.round(scores, 2)} (solver {res.solver!r}), "
        f"need >= {MIN_LRE[name]}")


@pytest.mark.parametrize("name", list(nist.MODELS))
def test_certified_values(name, record_property):
    X, y, fit_intercept, certified = nist.load(name)
    check(name, X, y, fit_intercept, certified, record_property)


@pytest.mark.parametrize("perm", [[5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3], [1, 3, 5, 0, 2, 4]])
def test_longley_permuted_columns(perm, record_property):
    X, y, fit_intercept, certified = nist.load("Longley")
    assert fit_intercept
    perm = np.array(perm)
    cert_perm = np.concatenate([certified[:1], certified[1:][perm]])
    check("Longley", X[:, perm], y, fit_intercept, cert_perm, record_property)


def test_longley_fortran_order(record_property):
    X, y, fit_intercept, certified = nist.load("Longley")
    XF = np.asfortranarray(X)
    assert XF.flags.f_contiguous and not XF.flags.c_contiguous
    check("Longley", XF, y, fit_intercept, certified, record_property)
