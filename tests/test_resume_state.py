"""The resume state (FitResult.state) is a typed, frozen DescentState, checked before the
compiled engine sees it.

A generator state of two words once made the engine write four (a crash), and the all-zero
state made xoshiro256** return zeros forever (a hang that ignored Ctrl-C). Those two cases
run in a child process with a timeout, so that a regression fails the test instead of killing
or stalling the test run. The other corruptions must give a ValueError that names the entry.
"""
from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradfit
from descent_problems import make_problem
from gradfit import _descent, steps
from gradfit._state import DescentState


def sgd_result(**kwargs):
    X, y = make_problem()
    return X, y, gradfit.gradient_descent(X, y, step="adam", batch_size=50, max_iter=2,
                                          random_state=0, **kwargs)


def legacy_dict(state: DescentState) -> dict:
    """The plain dict FitResult.state was in version 0.1.0."""
    out = dict(state.items())
    out.update(_vectors=np.array(state.vectors), _point=np.array(state.point),
               _shift=np.array(state.shift), _exact_shift=state.exact_shift,
               _average=None if state.average is None else np.array(state.average),
               _rng=None if state.rng is None else list(state.rng))
    return out


CHILD = textwrap.dedent("""
    import dataclasses, sys
    import numpy as np
    import gradfit
    sys.path.insert(0, {tests!r})
    from descent_problems import make_problem
    X, y = make_problem()
    res = gradfit.gradient_descent(X, y, step="adam", batch_size=50, max_iter=2,
                                   random_state=0)
    rng = {rng!r}
    how = {how!r}
    try:
        if how == "replace":          # a new state built with this generator
            state = dataclasses.replace(res.state, rng=rng)
            res = dataclasses.replace(res, state=state)
        elif how == "legacy":         # the 0.1.0 dict, edited by hand
            st = res.state
            d = dict(st)
            if not isinstance(st, dict):
                d.update(_vectors=st.vectors, _point=st.point, _shift=st.shift,
                         _exact_shift=False, _average=None)
            d["_rng"] = rng
            res = dataclasses.replace(res, state=d)
        else:                         # the frozen state forced open
            object.__setattr__(res.state, "rng", rng)
        gradfit.gradient_descent(X, y, batch_size=50, max_iter=2, init=res)
    except ValueError as exc:
        print("ValueError:", exc)
        sys.exit(0)
    print("no error")
    sys.exit(1)
""")


@pytest.mark.parametrize("how", ["replace", "legacy", "forced"])
@pytest.mark.parametrize("rng", [[1, 2], [0, 0, 0, 0]], ids=["two-words", "all-zero"])
def test_bad_generator_state_is_a_value_error_not_a_crash_or_hang(rng, how):
    code = CHILD.format(tests=str(__import__("pathlib").Path(__file__).parent), rng=rng,
                        how=how)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"resuming with rng={rng} ({how}) hangs")
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr[-2000:])
    assert "ValueError: invalid resume state: rng" in out.stdout


@pytest.mark.parametrize("change, entry", [
    (dict(point=np.zeros(3)), "point"),
    (dict(vectors=np.zeros((2, 3))), "vectors"),
    (dict(vectors=np.full((2, 9), np.nan)), "vectors"),
    (dict(shift=np.zeros(7)), "point"),
    (dict(average=np.zeros(2)), "average"),
    (dict(point=np.array(["a"] * 9)), "point"),
    (dict(scalars={"t": 1.0}), "scalars"),
    (dict(rng=(1, 2, 3, 2**64)), "rng"),
    (dict(rng=(1.0, 2.0, 3.0, 4.0)), "rng"),
    (dict(rng="abcd"), "rng"),
    (dict(rule=-1), "rule"),
    (dict(exact_shift="no"), "exact_shift"),
    (dict(vector_names=("t",)), "vector_names"),
])
def test_corrupted_state_is_refused_with_a_clear_error(change, entry):
    _, _, res = sgd_result()
    with pytest.raises(ValueError, match=f"invalid resume state: {entry}"):
        dataclasses.replace(res.state, **change)


@pytest.mark.parametrize("slot, value", [("t", -1.0), ("t", 1.5), ("averaged", -2.0),
                                         ("have_previous", 0.5), ("step_size", -0.1),
                                         ("lipschitz", float("nan")), ("fista_t", 0.5),
                                         ("rows_seen", float("inf"))])
def test_scalar_slots_out_of_range_are_refused(slot, value):
    X, y, res = sgd_result()
    scalars = dict(res.state.scalars, **{slot: value})
    with pytest.raises(ValueError, match=f"invalid resume state: {slot} must be"):
        dataclasses.replace(res.state, scalars=scalars)
    # the same value put into the state's own dict after it was built: checked on resume
    res.state.scalars[slot] = value
    with pytest.raises(ValueError, match=f"invalid resume state: {slot} must be"):
        gradfit.gradient_descent(X, y, batch_size=50, max_iter=1, init=res)


def test_state_is_frozen_and_its_arrays_read_only():
    _, _, res = sgd_result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.state.rng = (1, 2, 3, 4)
    for arr in (res.state.point, res.state.shift, res.state.vectors,
                res.state["first_moment"]):
        assert not arr.flags.writeable
    back = pickle.loads(pickle.dumps(res))
    assert not back.state.point.flags.writeable and not back.state.vectors.flags.writeable
    assert back.state.rng == res.state.rng


def test_state_reads_as_a_mapping_of_slots_and_vectors():
    _, _, res = sgd_result()
    assert list(res.state) == list(_descent.STATE_SLOTS) + ["first_moment", "second_moment"]
    assert res.state["t"] == res.state.scalars["t"] == 2 * 500 / 50  # two epochs of 10 steps
    np.testing.assert_array_equal(res.state["second_moment"], res.state.vectors[1])
    with pytest.raises(KeyError):
        res.state["_rng"]


def test_state_of_version_0_1_0_resumes_as_the_new_one():
    # 0.1.0 iterated on the raw coefficients (no standardize yet)
    X, y, res = sgd_result(average=100, standardize=False)
    new = gradfit.gradient_descent(X, y, batch_size=50, max_iter=2, init=res)
    old = dataclasses.replace(res, state=legacy_dict(res.state))
    assert isinstance(old.state, DescentState)
    again = gradfit.gradient_descent(X, y, batch_size=50, max_iter=2, init=old)
    np.testing.assert_array_equal(again.coef, new.coef)
    np.testing.assert_array_equal(again.loss_history, new.loss_history)
    # and through pickle, as an old file would hold it
    blob = pickle.dumps(res)
    restored = pickle.loads(blob)
    object.__setattr__(restored, "state", None)
    restored.__setstate__(dict(res.__dict__, state=legacy_dict(res.state)))
    assert isinstance(restored.state, DescentState)
    assert restored.state.rng == res.state.rng


def test_legacy_dict_that_is_not_a_state_is_refused():
    X, y, res = sgd_result()
    with pytest.raises(ValueError, match="invalid resume state"):
        dataclasses.replace(res, state={"_point": np.zeros(9), "t": 1.0})
    with pytest.raises(ValueError, match="invalid resume state"):
        dataclasses.replace(res, state={"lipschitz": 1.0})
    # a state forced in that is no DescentState cannot be resumed either
    other = dataclasses.replace(res)
    object.__setattr__(other, "state", {"lipschitz": 1.0})
    with pytest.raises(ValueError, match="init.state must be a gradfit DescentState"):
        gradfit.gradient_descent(X, y, batch_size=50, max_iter=1, init=other)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_can_resume_tells_step_columns_and_intercept(fit_intercept):
    X, y = make_problem()
    res = gradfit.gradient_descent(X, y, step="bb", max_iter=30, tol=1e-3,
                                   fit_intercept=fit_intercept)
    n = X.shape[1]
    assert res.state.can_resume(steps.BarzilaiBorwein(), n, fit_intercept)
    assert not res.state.can_resume(steps.Adam(), n, fit_intercept)
    assert not res.state.can_resume(steps.BarzilaiBorwein(), n + 1, fit_intercept)
    assert not res.state.can_resume(steps.BarzilaiBorwein(), n, not fit_intercept)


def test_engine_refuses_arrays_that_do_not_fit():
    # The last line of defence for a direct call: a short generator state is an error, not
    # four uint64 written into two.
    X, y = make_problem()
    m, n = X.shape
    kwargs = dict(X=X, y=y, sample_weight=None, shift=np.zeros(n), fit_intercept=True,
                  intercept_fixed=False, l2=0.0, l1=0.0, rule=steps.Fixed.code,
                  params=np.array([0.01]), point=np.zeros(n + 1), vectors=np.zeros((2, n + 1)),
                  scalars=np.zeros(len(_descent.STATE_SLOTS)), max_iter=2, tol=0.0,
                  callback=None, batch_size=10, shuffle=True)
    for rng in (np.ones(2, np.uint64), np.zeros(4, np.uint64), None):
        with pytest.raises(ValueError, match="rng must be 4 uint64"):
            _descent.run(**kwargs, rng=rng)
    with pytest.raises(ValueError, match="point, vectors"):
        _descent.run(**dict(kwargs, point=np.zeros(n)), rng=np.ones(4, np.uint64))
    with pytest.raises(ValueError, match="max_iter"):
        _descent.run(**dict(kwargs, max_iter=0), rng=np.ones(4, np.uint64))
