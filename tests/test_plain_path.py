"""solve_normal's one-call path for plain float64 arrays (``_normal.solve_plain``): it must
give what the general path gives, decline every argument it cannot use as it is (which the
general path then validates or converts), and leave the caller's arrays alone."""
import numpy as np
import pytest

import gradfit
from gradfit import normal


def _problem(order="C", seed=0, m=200, n=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) + rng.uniform(-2, 2, n)
    y = X @ rng.standard_normal(n) + 1.5 + 0.1 * rng.standard_normal(m)
    return np.asarray(X, order=order), y


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_one_call_matches_the_general_path(order, fit_intercept, l2):
    X, y = _problem(order)
    fast = gradfit.solve_normal(X, y, l2=l2, fit_intercept=fit_intercept)
    general = normal.solve_data(X, y, None, l2, fit_intercept, True)[0]
    assert fast.solver == general.solver == "cholesky"
    assert fast.refinement_steps == general.refinement_steps == 0
    # the same statistics and the same factorisation: the same bits
    np.testing.assert_array_equal(fast.coef, general.coef)
    assert fast.rcond == general.rcond
    assert fast.forward_error == general.forward_error
    # intercept and objective are summed in another order
    assert fast.intercept == pytest.approx(general.intercept, rel=1e-14, abs=1e-14)
    assert fast.objective == pytest.approx(general.objective, rel=1e-12)
    # and both are the least-squares solution
    A = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    if l2 == 0:
        ref = np.linalg.lstsq(A, y, rcond=None)[0]
        np.testing.assert_allclose(fast.coef, ref[:X.shape[1]], rtol=1e-12, atol=1e-13)


def test_result_is_read_only_and_inputs_untouched():
    X, y = _problem()
    X0, y0 = X.copy(), y.copy()
    X.flags.writeable = False  # read-only input is used in place too
    res = gradfit.solve_normal(X, y)
    assert not res.coef.flags.writeable
    with pytest.raises(ValueError):
        res.coef[0] = 1.0
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert res.converged and res.n_iter == 0 and res.loss_history.size == 0
    assert res.state is None and res.message == ""


def _declined_variants(X, y):
    """(description, X, y, kwargs) the one-call path must decline, each with the same
    least-squares problem as (X, y, l2=0.3, fit_intercept=True) (y rounded to float32: the
    float32 case)."""
    Xr, yr = X[::-1], y[::-1]  # negative strides: the general path copies them
    y_strided = np.repeat(y, 2)[::2]
    return [
        ("l2 as numpy float", X, y, dict(l2=np.float64(0.3))),
        ("fit_intercept as numpy bool", X, y, dict(l2=0.3, fit_intercept=np.bool_(True))),
        ("X reversed", Xr, yr, dict(l2=0.3)),
        ("y strided", X, y_strided, dict(l2=0.3)),
        ("X as a list", X.tolist(), y, dict(l2=0.3)),
        ("y as float32", X, y.astype(np.float32), dict(l2=0.3)),
        ("y big-endian", X, y.astype(">f8"), dict(l2=0.3)),
        ("X a matrix", np.asmatrix(X), y, dict(l2=0.3)),
    ]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("case", range(8))
def test_declined_arguments_give_the_same_fit(case):
    X, y = _problem()
    what, Xv, yv, kw = _declined_variants(X, y)[case]
    if yv.dtype == np.float32:
        y = yv.astype(np.float64)
    expect = gradfit.solve_normal(X, y, l2=0.3)
    got = gradfit.solve_normal(Xv, yv, **kw)
    np.testing.assert_allclose(got.coef, expect.coef, rtol=1e-13, atol=1e-14, err_msg=what)
    assert got.intercept == pytest.approx(expect.intercept, rel=1e-13, abs=1e-13), what


def test_l2_as_int_is_taken_in_place():
    X, y = _problem()
    np.testing.assert_array_equal(gradfit.solve_normal(X, y, l2=2).coef,
                                  gradfit.solve_normal(X, y, l2=2.0).coef)


@pytest.mark.parametrize("l2", [True, -1.0, float("nan"), float("inf"), -3, 10**400, "0.1"])
def test_bad_l2_is_refused_by_validation(l2):
    X, y = _problem()
    with pytest.raises(ValueError, match="l2"):
        gradfit.solve_normal(X, y, l2=l2)


@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_named(where, bad):
    X, y = _problem()
    if where == "X":
        X[7, 2] = bad
    else:
        y[7] = bad
    with pytest.raises(ValueError, match=rf"\b{where}\b"):
        gradfit.solve_normal(X, y)


def test_shapes_and_masks_refused():
    X, y = _problem()
    with pytest.raises(ValueError, match="rows"):
        gradfit.solve_normal(X, y[:-1])
    with pytest.raises(ValueError, match="empty"):
        gradfit.solve_normal(X[:0], y[:0])
    with pytest.raises(ValueError, match="2-D"):
        gradfit.solve_normal(X[:, 0], y)
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked.mask[3, 1] = True
    with pytest.raises(ValueError, match="mask"):
        gradfit.solve_normal(masked, y)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_refinement_in_the_one_call_path_matches_the_general_path(fit_intercept):
    """Digits at risk (rcond 1e-10): the one call refines with its own Cholesky factor, by
    the same compiled loop the general path runs from its statistics: the same bits, and the
    exact least-squares solution (numpy.linalg.lstsq agrees to its own accuracy)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 500)
    X = np.column_stack([x ** p for p in range(1, 8)])
    y = np.sin(3 * x) + (0.0 if fit_intercept else 0.3 * x)
    fast = gradfit.solve_normal(X, y, fit_intercept=fit_intercept)
    general = normal.solve_data(X, y, None, 0.0, fit_intercept, True)[0]
    assert fast.solver == general.solver == "cholesky"
    assert fast.refinement_steps == general.refinement_steps > 0
    np.testing.assert_array_equal(fast.coef, general.coef)
    assert fast.intercept == general.intercept
    assert fast.forward_error == general.forward_error
    assert fast.objective == pytest.approx(general.objective, rel=1e-12)
    A = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(fast.coef, ref[:7], rtol=1e-6)


def test_constant_column_leaves_the_one_call_path():
    """A column constant up to its centring's rounding is dropped by the general path (QR
    fallback, minimum norm): the one call must not fit it as a direction."""
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.standard_normal(200), np.full(200, 3.7)])
    y = 2 * X[:, 0] + 1 + 0.1 * rng.standard_normal(200)
    with pytest.warns(gradfit.IllConditionedWarning):
        res = gradfit.solve_normal(X, y)
    assert res.coef[1] == 0.0
    ref = np.linalg.lstsq(np.column_stack([X[:, 0], np.ones(200)]), y, rcond=None)[0]
    assert res.coef[0] == pytest.approx(ref[0], rel=1e-12)
