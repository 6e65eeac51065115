"""Mini-batch SGD (``gradient_descent(..., batch_size=k)``).

What is checked, and why:

* Convergence: InverseScaling (rate 1/(mu t), mu the smallest curvature) and Adam with
  Polyak averaging reach the least-squares optimum's objective to 1e-3 relative in 10 epochs on
  a well-conditioned problem whose optimum is not tiny (noise sigma = 0.5), float64 and float32.
  The optimum is computed here with numpy.linalg.lstsq, not by gradfit.
* Reproducibility: the same seed (int or numpy.random.Generator) gives bit-identical results;
  other seeds give other coefficients, all in the neighbourhood that a 1e-3 objective gap
  allows.
* batch_size = m is full-batch gradient descent: with Fixed it equals the full-batch Fixed run
  to rounding.
* Exact semantics: a NumPy transcription of plain mini-batch SGD with shuffle=False (batches
  of k rows in storage order, the last one smaller; gradient of the mean over the batch in
  the engine's shifted parametrization, documented in _descent.pyx / descent.py) matches
  gradfit to 1e-12, with and without intercept. ``loss_history`` holds the exact objective of
  the returned point after each epoch (checked against NumPy, also when averaging).
* Averaging: with a constant rate the last iterate hovers at a distance set by the rate, the
  average (started after the first epoch) converges; average=True also runs.
* The epoch stopping rule, divergence (and NaN/inf in X, which is bad input, not
  divergence), the strategies that cannot run on mini-batches, bad arguments, inputs left
  untouched.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import gradfit
from gradfit import steps


def problem(m=5000, n=10, sigma=0.5, seed=0, dtype=np.float64):
    """Unit-variance columns with means in [-1, 1] (the centred Hessian is close to I: well
    conditioned), y linear plus Gaussian noise of scale sigma, so f* ~ sigma^2 / 2."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) + rng.uniform(-1.0, 1.0, n)
    w = rng.uniform(-2.0, 2.0, n)
    y = X @ w + 0.7 + sigma * rng.standard_normal(m)
    return X.astype(dtype), y.astype(dtype)


def objective(X, y, coef, intercept, l2=0.0):
    """f(w, b) in float64 NumPy."""
    X = np.asarray(X, np.float64)
    w = np.asarray(coef, np.float64)
    r = np.asarray(y, np.float64) - X @ w - intercept
    return float(r @ r / (2 * len(r)) + 0.5 * l2 * (w @ w))


def optimum(X, y):
    """Least-squares solution with intercept by numpy.linalg.lstsq on centred float64 data:
    (w*, b*, f*)."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    xm, ym = X.mean(axis=0), y.mean()
    w = np.linalg.lstsq(X - xm, y - ym, rcond=None)[0]
    b = ym - xm @ w
    return w, b, objective(X, y, w, b)


def curvatures(X):
    """Eigenvalues of the Hessian in the mini-batch parametrization (w, c): the centred
    X^T X / m for w, and 1 for the intercept parameter c (learned like any coordinate)."""
    X = np.asarray(X, np.float64)
    Xc = X - X.mean(axis=0)
    return np.append(np.linalg.eigvalsh(Xc.T @ Xc / len(X)), 1.0)


def sgd(X, y, **kw):
    """gradient_descent with mini-batches, running exactly max_iter epochs: tol=0 and
    n_iter_no_change > max_iter disable the stopping rule (and so the ConvergenceWarning)."""
    kw.setdefault("tol", 0.0)
    kw.setdefault("n_iter_no_change", kw.get("max_iter", 1000) + 1)
    return gradfit.gradient_descent(X, y, **kw)


# ---------------------------------------------------------------------------------------
# Convergence to the optimum

K = 50            # rows per batch: 100 steps per epoch on m = 5000
EPOCHS = 10


def inverse_scaling_rate(X):
    # eta_t = 1/(mu t) (power 1, the Robbins-Monro boundary case) with mu the smallest
    # curvature: for a Hessian close to mu*I, SGD with this rate is the running mean of the
    # per-batch least-squares solutions, whose excess objective after N rows is about
    # sigma^2 (n+1) / (2N) = 0.25 * 11 / (2 * 50000) = 2.8e-5, i.e. 2.2e-4 of f* ~ 0.125
    # after 10 epochs: the 1e-3 target is met with a margin of ~4 for the constants that
    # H != mu*I changes. The first rate 1/mu ~ 1.06 is below 2/lambda_max ~ 1.8.
    return steps.InverseScaling(learning_rate=1.0 / curvatures(X).min(), power=1.0)


def adam_rate(X, y):
    # Adam moves every coordinate by about lr per step while the gradient keeps its sign:
    # lr = max|w*| / (steps per epoch) covers the distance from 0 to w* in about an epoch.
    # With a constant rate Adam then jitters at a distance ~lr, so the iterates are
    # averaged, from the end of the second epoch (average=2m) on.
    w, _, _ = optimum(X, y)
    return steps.Adam(learning_rate=np.abs(w).max() / (len(y) // K))


def test_inverse_scaling_reaches_the_optimum():
    X, y = problem()
    _, _, fstar = optimum(X, y)
    res = sgd(X, y, step=inverse_scaling_rate(X), batch_size=K, max_iter=EPOCHS,
              random_state=0)
    assert res.solver == "sgd" and res.n_iter == EPOCHS
    assert (res.objective - fstar) / fstar <= 1e-3
    assert (objective(X, y, res.coef, res.intercept) - fstar) / fstar <= 1e-3


def test_adam_with_averaging_reaches_the_optimum():
    X, y = problem()
    _, _, fstar = optimum(X, y)
    res = sgd(X, y, step=adam_rate(X, y), batch_size=K, max_iter=EPOCHS, random_state=0,
              average=2 * len(y))
    assert (objective(X, y, res.coef, res.intercept) - fstar) / fstar <= 1e-3


def test_float32_reaches_the_optimum_of_the_float32_data():
    X, y = problem(dtype=np.float32)
    _, _, fstar = optimum(X, y)     # of the float32 data, in float64
    res = sgd(X, y, step=inverse_scaling_rate(X), batch_size=K, max_iter=EPOCHS,
              random_state=0)
    assert res.coef.dtype == np.float32
    # float32 rounding perturbs each gradient by ~1e-7 relative, far below SGD's own noise:
    # the float64 target holds.
    assert (objective(X, y, res.coef, res.intercept) - fstar) / fstar <= 1e-3
    # the reported objective is the float32 engine's: accurate to ~ n * eps32 relative
    assert res.objective == pytest.approx(objective(X, y, res.coef, res.intercept), rel=1e-5)


# ---------------------------------------------------------------------------------------
# Seeds

def test_same_seed_gives_bit_identical_results():
    X, y = problem()
    runs = [sgd(X, y, step=inverse_scaling_rate(X), batch_size=K, max_iter=3,
                random_state=42) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].coef, runs[1].coef)
    assert runs[0].intercept == runs[1].intercept
    np.testing.assert_array_equal(runs[0].loss_history, runs[1].loss_history)


def test_different_seeds_differ_but_land_in_the_same_neighbourhood():
    X, y = problem()
    wstar, _, fstar = optimum(X, y)
    mu = curvatures(X).min()
    fits = [sgd(X, y, step=inverse_scaling_rate(X), batch_size=K, max_iter=EPOCHS,
                random_state=seed) for seed in (1, 2)]
    assert not np.array_equal(fits[0].coef, fits[1].coef)
    # f - f* >= mu/2 |w - w*|^2 (strong convexity), so a gap of 1e-3 f* confines w to a ball
    # of radius sqrt(2e-3 f*/mu) around w*.
    radius = np.sqrt(2e-3 * fstar / mu)
    for res in fits:
        assert (objective(X, y, res.coef, res.intercept) - fstar) / fstar <= 1e-3
        assert np.linalg.norm(res.coef - wstar) <= radius


def test_int_seed_and_generator_are_accepted():
    X, y = problem(m=1000)
    step = steps.Fixed(0.05)
    a = sgd(X, y, step=step, batch_size=20, max_iter=2, random_state=7)
    b = sgd(X, y, step=step, batch_size=20, max_iter=2, random_state=np.int64(7))
    np.testing.assert_array_equal(a.coef, b.coef)
    g1 = sgd(X, y, step=step, batch_size=20, max_iter=2,
             random_state=np.random.default_rng(123))
    g2 = sgd(X, y, step=step, batch_size=20, max_iter=2,
             random_state=np.random.default_rng(123))
    np.testing.assert_array_equal(g1.coef, g2.coef)
    assert np.isfinite(g1.objective)
    # a generator is drawn from: passing the same (advanced) object again gives another order
    gen = np.random.default_rng(5)
    c1 = sgd(X, y, step=step, batch_size=20, max_iter=2, random_state=gen)
    c2 = sgd(X, y, step=step, batch_size=20, max_iter=2, random_state=gen)
    assert not np.array_equal(c1.coef, c2.coef)


# ---------------------------------------------------------------------------------------
# batch_size = m is full-batch descent

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_one_batch_of_all_rows_is_full_batch_fixed(fit_intercept):
    X, y = problem(m=300, n=6, seed=3)
    Xe = X - X.mean(axis=0) if fit_intercept else X    # the Hessian full batch works with
    step = steps.Fixed(1.0 / np.linalg.eigvalsh(Xe.T @ Xe / len(y)).max())
    iters = 50
    with pytest.warns(gradfit.ConvergenceWarning):
        full = gradfit.gradient_descent(X, y, step=step, max_iter=iters, tol=0.0,
                                        fit_intercept=fit_intercept)
    mini = sgd(X, y, step=step, max_iter=iters, batch_size=len(y), random_state=0,
               fit_intercept=fit_intercept)
    assert full.n_iter == mini.n_iter == iters
    # Same iteration in exact arithmetic (with exact column means as the shift, the intercept
    # parameter's gradient is zero, which full batch uses and mini-batch computes up to
    # rounding; the rows are summed in another order when shuffled). Each step adds errors of
    # ~m*eps relative and the iteration contracts (rate 1/L), so 1e-12 is far from tight.
    np.testing.assert_allclose(mini.coef, full.coef, rtol=1e-12)
    assert mini.intercept == pytest.approx(full.intercept, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(mini.loss_history, full.loss_history, rtol=1e-12)


# ---------------------------------------------------------------------------------------
# NumPy transcription of plain mini-batch SGD

def reference_sgd(X, y, k, lr, epochs, fit_intercept, l2):
    """Mini-batch SGD with Fixed(lr), shuffle=False, as _descent.mini_batch runs it.

    Parameters p = (w, c) with c = b + shift.w and shift = the mean of the first k rows (in
    storage order); c starts at the mean of the first k targets and w at 0. Each batch of k rows
    (the last one of an epoch may be smaller, k') takes one step along the gradient of
    1/(2k') sum (y_i - (x_i - shift).w - c)^2 + l2/2 |w|^2. Returns (w, b) after each epoch.
    """
    m, n = X.shape
    shift = X[:k].mean(axis=0) if fit_intercept else np.zeros(n)
    w = np.zeros(n)
    c = float(y[:k].mean()) if fit_intercept else 0.0
    points = [(w.copy(), c - shift @ w)]
    for _ in range(epochs):
        for s in range(0, m, k):
            Xb, yb = X[s:s + k] - shift, y[s:s + k]
            r = Xb @ w + c - yb                 # prediction minus target
            gw = Xb.T @ r / len(yb) + l2 * w
            gc = r.mean()
            w = w - lr * gw
            if fit_intercept:
                c = c - lr * gc
        points.append((w.copy(), c - shift @ w if fit_intercept else 0.0))
    return points


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_mini_batch_sgd_matches_numpy_transcription(fit_intercept):
    X, y = problem(m=203, n=5, seed=4)     # 203 = 12 * 16 + 11: a short last batch
    k, lr, l2, epochs = 16, 0.05, 0.05, 3
    ref = reference_sgd(X, y, k, lr, epochs, fit_intercept, l2)
    seen = []
    # standardize=False: the textbook iteration, in the data's own coordinates
    res = sgd(X, y, step=steps.Fixed(lr), batch_size=k, shuffle=False, max_iter=epochs,
              fit_intercept=fit_intercept, l2=l2, standardize=False,
              callback=lambda e, coef, b, f: seen.append((coef.copy(), b, f)))
    assert res.n_iter == epochs and len(seen) == epochs + 1
    # Same operations, in another order inside each dot product and sum: errors of a few eps
    # per step, with ~40 contracting steps. 1e-12 leaves orders of magnitude.
    for (w_ref, b_ref), (coef, b, _f) in zip(ref, seen, strict=True):
        np.testing.assert_allclose(coef, w_ref, rtol=1e-12, atol=1e-14)
        assert b == pytest.approx(b_ref, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(res.coef, ref[-1][0], rtol=1e-12)
    assert res.intercept == pytest.approx(ref[-1][1], rel=1e-12, abs=1e-14)
    # loss_history[e] is the exact objective after epoch e
    expected = [objective(X, y, w_ref, b_ref, l2) for w_ref, b_ref in ref]
    np.testing.assert_allclose(res.loss_history, expected, rtol=1e-12)


@pytest.mark.parametrize("average", [False, 1000])
def test_loss_history_is_the_exact_objective_after_each_epoch(average):
    X, y = problem(m=1000, n=6, seed=5)
    epochs, l2 = 4, 0.01
    points = []
    res = sgd(X, y, step=steps.Fixed(0.02), batch_size=32, max_iter=epochs, l2=l2,
              random_state=3, average=average,
              callback=lambda e, coef, b, f: points.append((coef.copy(), b)))
    assert len(res.loss_history) == epochs + 1 == len(points)
    for (coef, b), f in zip(points, res.loss_history, strict=True):
        # f is a float64 sum of 1000 squared residuals: ~1e-15 relative
        assert f == pytest.approx(objective(X, y, coef, b, l2), rel=1e-12)
    assert res.loss_history[-1] == res.objective
    assert res.objective == pytest.approx(objective(X, y, res.coef, res.intercept, l2),
                                          rel=1e-12)


# ---------------------------------------------------------------------------------------
# Averaging

def test_averaging_after_the_first_epoch_beats_the_last_iterate():
    m = 20000
    X, y = problem(m=m, n=20, sigma=1.0, seed=6)
    _, _, fstar = optimum(X, y)
    lam = curvatures(X)
    k = 20
    # A constant rate 1/20 of the mini-batch stability limit 2/(lambda_max + tr(H)/k). With
    # it the last iterate hovers around the optimum with an excess objective of about
    # lr * sigma^2 * tr(H) / (4k) ~ 1e-2 (2% of f* ~ 0.5); the average of the iterates of
    # epochs 2..5 converges (Polyak & Juditsky 1992): its excess is about
    # sigma^2 (n+1) / (2 * rows averaged) ~ 1.3e-4, i.e. 3e-4 relative.
    lr = 0.1 / (lam.max() + lam.sum() / k)
    kw = dict(step=steps.Fixed(lr), batch_size=k, max_iter=5, random_state=11)
    last = sgd(X, y, **kw)
    avg = sgd(X, y, average=m, **kw)
    gap_last = (objective(X, y, last.coef, last.intercept) - fstar) / fstar
    gap_avg = (objective(X, y, avg.coef, avg.intercept) - fstar) / fstar
    assert gap_last > 1e-3          # the problem is noisy enough to need averaging
    assert gap_avg <= 1e-3
    assert gap_avg < gap_last / 10
    # the same run up to the moment averaging starts: the first epoch's history agrees
    assert avg.loss_history[1] == last.loss_history[1]


def test_average_true_runs_and_returns_the_average():
    X, y = problem(m=2000, n=5, seed=7)
    kw = dict(step=steps.Fixed(0.05), batch_size=20, max_iter=3, random_state=1)
    last = sgd(X, y, **kw)
    avg = sgd(X, y, average=True, **kw)
    assert np.isfinite(avg.objective) and np.all(np.isfinite(avg.coef))
    assert not np.array_equal(avg.coef, last.coef)
    assert avg.objective == pytest.approx(objective(X, y, avg.coef, avg.intercept),
                                          rel=1e-12)


# ---------------------------------------------------------------------------------------
# Stopping, divergence

def _exact_gap(X, y, coef, intercept):
    A = np.column_stack([X, np.ones(len(y))])
    sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    f_star = objective(X, y, sol[:-1], sol[-1], 0.0)
    return (objective(X, y, coef, intercept, 0.0) - f_star) / f_star


def test_stopping_rule_stops_at_the_measured_gap_and_reports_convergence():
    # SGD's stopping test is the relative objective gap of the returned point, measured
    # (not the epochs' progress, which stalls at the steps' noise floor): converged=True
    # says the gap is within tol.
    X, y = problem(m=1000, n=5, seed=8)
    for tol in (0.5, 0.05, 1e-2):
        res = gradfit.gradient_descent(X, y, step=steps.Fixed(0.01), batch_size=10,
                                       max_iter=100, tol=tol, average=1000, random_state=0)
        assert res.converged and res.n_iter < 100, res.message
        assert 0 <= _exact_gap(X, y, res.coef, res.intercept) <= tol


def test_noise_floor_is_not_convergence():
    # A constant rate without averaging hovers above the optimum: the rule "no improvement
    # for n_iter_no_change epochs" then stops the fit, but says it did not converge.
    X, y = problem(m=1000, n=5, seed=8)
    with pytest.warns(gradfit.ConvergenceWarning, match="no progress"):
        res = gradfit.gradient_descent(X, y, step=steps.Fixed(0.3), batch_size=1,
                                       max_iter=200, tol=1e-6, n_iter_no_change=3,
                                       random_state=0)
    assert not res.converged and res.n_iter < 200
    assert _exact_gap(X, y, res.coef, res.intercept) > 1e-6


def test_huge_fixed_rate_diverges():
    X, y = problem(m=500, n=5, seed=9)
    lam = curvatures(X)
    with pytest.raises(gradfit.DivergenceError):
        gradfit.gradient_descent(X, y, step=steps.Fixed(100.0 / lam.max()), batch_size=10,
                                 random_state=0)


def test_divergence_message_reports_the_objective_that_grew():
    # The message says "the objective went from A to B": B should be the value that made the
    # fit stop, larger than A. (Library bug: when a batch trips the check in the middle of an
    # epoch, B is the objective at the start of that epoch, e.g. "from 14.7 to 14.7".)
    X, y = problem(m=500, n=5, seed=9)
    lam = curvatures(X)
    with pytest.raises(gradfit.DivergenceError) as info:
        gradfit.gradient_descent(X, y, step=steps.Fixed(100.0 / lam.max()), batch_size=10,
                                 random_state=0)
    found = re.search(r"went from (\S+) to (\S+?)\.\s", str(info.value))
    assert found, str(info.value)
    assert float(found.group(2)) > float(found.group(1)), str(info.value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nonfinite_x_is_bad_input_not_divergence(dtype, order, value):
    # From w = 0 the starting objective is computed from y alone, so a NaN or infinity in X
    # is first met by a batch in the middle of the epoch: still a ValueError naming X and the
    # entry, not a DivergenceError.
    X, y = problem(m=500, n=4, seed=13, dtype=dtype)
    X = np.array(X, order=order)
    X[417, 2] = value
    with pytest.raises(ValueError, match=r"\bX\b.*\(417, 2\)"):
        gradfit.gradient_descent(X, y, batch_size=16, max_iter=1, random_state=0)


# ---------------------------------------------------------------------------------------
# Strategies and arguments

@pytest.mark.parametrize("step", [steps.Lipschitz(), steps.ExactLineSearch(),
                                  steps.Backtracking(), steps.BarzilaiBorwein(), steps.FISTA(),
                                  "lipschitz", "exact", "backtracking", "bb", "fista"])
def test_full_batch_only_strategies_are_refused(step):
    X, y = problem(m=100, n=3)
    with pytest.raises(ValueError) as info:
        gradfit.gradient_descent(X, y, step=step, batch_size=10)
    msg = str(info.value)
    assert "full-batch" in msg                       # why
    for name in ("Fixed", "InverseScaling", "Momentum", "Nesterov", "AdaGrad", "RMSprop",
                 "Adam"):                            # what is allowed
        assert name in msg


@pytest.mark.parametrize("step", [steps.Fixed(0.01), steps.InverseScaling(0.05),
                                  steps.Momentum(0.01), steps.Nesterov(0.01),
                                  steps.AdaGrad(0.1), steps.RMSprop(0.01), steps.Adam(0.01)])
def test_mini_batch_strategies_run(step):
    X, y = problem(m=400, n=4)
    # mini-batch: the intercept starts at mean(y) over the first batch (as the shift does)
    start = objective(X, y, np.zeros(4), y[:16].mean())
    res = sgd(X, y, step=step, batch_size=16, max_iter=3, random_state=0)
    assert res.solver == "sgd" and res.n_iter == 3
    assert res.loss_history[0] == pytest.approx(start, rel=1e-12)
    assert res.objective < start


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, 101, True, "10"])
def test_bad_batch_size(batch_size):
    X, y = problem(m=100, n=3)
    with pytest.raises(ValueError, match="batch_size"):
        gradfit.gradient_descent(X, y, batch_size=batch_size)


@pytest.mark.parametrize("average", [True, 10])
def test_average_needs_mini_batches(average):
    X, y = problem(m=100, n=3)
    with pytest.raises(ValueError, match="batch_size"):
        gradfit.gradient_descent(X, y, average=average)


@pytest.mark.parametrize("average", [-1, 2.5, "yes"])
def test_bad_average(average):
    X, y = problem(m=100, n=3)
    with pytest.raises(ValueError, match="average"):
        gradfit.gradient_descent(X, y, batch_size=10, average=average)


@pytest.mark.parametrize("random_state", ["0", 1.5, np.random.RandomState(0), [1, 2]])
def test_bad_random_state(random_state):
    X, y = problem(m=100, n=3)
    with pytest.raises(ValueError, match="random_state"):
        gradfit.gradient_descent(X, y, batch_size=10, random_state=random_state)


@pytest.mark.parametrize("n_iter_no_change", [0, -1, 1.5])
def test_bad_n_iter_no_change(n_iter_no_change):
    X, y = problem(m=100, n=3)
    with pytest.raises(ValueError, match="n_iter_no_change"):
        gradfit.gradient_descent(X, y, batch_size=10, n_iter_no_change=n_iter_no_change)


@pytest.mark.parametrize("order", ["C", "F"])
def test_inputs_are_not_modified(order):
    X, y = problem(m=500, n=4, seed=12)
    X = np.asarray(X, order=order)
    X0, y0 = X.copy(order="A"), y.copy()
    X.flags.writeable = False       # a write would raise
    y.flags.writeable = False
    for kw in (dict(step=steps.Adam(0.01)), dict(step=steps.Fixed(0.01), average=True),
               dict(step=steps.InverseScaling(0.1), l1=0.01, l2=0.01, fit_intercept=False)):
        sgd(X, y, batch_size=16, max_iter=2, random_state=0, **kw)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
