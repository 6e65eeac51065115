"""scikit-learn's own API conformance suite (``check_estimator``) on ``LinearRegression``.

Every check scikit-learn 1.9 generates is run for each solver: "auto", "cholesky", "gd" and
"sgd". Exactly one check is expected to fail, and only where the exact solver runs:
``check_non_transformer_estimators_n_iter`` demands ``n_iter_ >= 1`` from any estimator with
a ``max_iter`` parameter, but a Cholesky solve takes no iterations, so ``n_iter_`` is 0 by
design. That concerns solver="cholesky" and solver="auto" (which picks Cholesky on the
checks' small, dense, l1 = 0 data). The expected failures run in strict xfail mode: should
the check start passing (say the exact path reported 1), the test fails and this list must
be updated. Any other failing check is a library bug, not something to mark here.
"""
from sklearn.utils.estimator_checks import parametrize_with_checks

from gradfit import LinearRegression

SOLVERS = ("auto", "cholesky", "gd", "sgd")
EXACT_SOLVERS = ("auto", "cholesky")  # fit runs solve_normal on the checks' data

N_ITER_REASON = "the exact solver runs no iterations: n_iter_ is 0 by design"


def expected_failed_checks(estimator):
    """The checks expected to fail for this estimator, with the reason."""
    if estimator.solver in EXACT_SOLVERS:
        return {"check_non_transformer_estimators_n_iter": N_ITER_REASON}
    return {}


@parametrize_with_checks([LinearRegression(solver=s) for s in SOLVERS],
                         expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_cover_only_exact_solvers():
    # The list above is per solver; the iterative solvers must have no exemption at all.
    assert expected_failed_checks(LinearRegression(solver="gd")) == {}
    assert expected_failed_checks(LinearRegression(solver="sgd")) == {}
    for s in EXACT_SOLVERS:
        assert list(expected_failed_checks(LinearRegression(solver=s))) == [
            "check_non_transformer_estimators_n_iter"]
