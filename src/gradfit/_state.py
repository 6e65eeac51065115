"""The resume state of gradient descent: a typed, frozen, validated record.

A :class:`DescentState` is what :func:`gradfit.gradient_descent` leaves in
``FitResult.state`` and takes back through ``init=result``. It is checked completely when it
is built (and again before a resume, in case it was altered since), so that the compiled
engine only ever sees arrays of the right shape, dtype and range: a generator state of the
wrong length or all zero would make the engine write out of bounds or loop forever.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._descent import STATE_SLOTS

__all__ = ["DescentState"]

# Slots that count something: whole numbers >= 0.
_COUNTS = ("t", "averaged", "epochs_no_improvement", "rows_seen")
# Flags: 0 or 1.
_FLAGS = ("have_previous",)
# Step sizes, norms, objectives and the Lipschitz estimate: >= 0 (0: not known yet).
_NON_NEGATIVE = ("step_size", "lipschitz", "objective_start", "grad_norm_start",
                 "best_objective")
_UINT64_MAX = 2**64 - 1


@dataclass(frozen=True, eq=False)
class DescentState(Mapping):
    """Where a gradient-descent fit stopped, enough to continue it exactly.

    The engine's iterate is p = (w, c) with c = b + shift·w (see ARCHITECTURE.md). The
    state reads like a mapping of its public entries: the scalar slots by name
    (``state["t"]``, ``state["lipschitz"]``, ...: ``STATE_SLOTS``) and the strategy's
    vectors by the names in its ``state_vectors`` (``state["first_moment"]``). Its arrays
    are read-only copies.

    Parameters
    ----------
    rule : int
        The step rule that produced it (``StepStrategy.code``).
    point : ndarray of shape (d,)
        The float64 iterate p, d = n_features (+ 1 with an intercept).
    shift : ndarray of shape (n_features,)
        The parametrisation's shift mu.
    exact_shift : bool
        Whether mu is the data's exact (weighted) column mean (full batch), so that a
        resumed mini-batch stream does not keep it.
    vectors : ndarray of shape (2, d)
        The rule's per-coordinate state (moments, velocity, previous point ...).
    scalars : mapping of str to float
        One value per name in ``STATE_SLOTS``.
    vector_names : tuple of str
        The names of the used rows of ``vectors`` (``StepStrategy.state_vectors``).
    average : ndarray of shape (d,) or None
        The running average of the iterates (mini-batch ``average``), else None.
    rng : tuple of 4 int or None
        The xoshiro256** generator's state (mini-batch), each in [0, 2**64), not all zero.
    scale : ndarray of shape (n_features,) or None
        Internal standardisation: the point holds v = w / scale (None: w itself). Finite,
        >= 0 (0 for a constant column, whose coefficient stays 0).
    auto_average : bool
        The fit runs the automatic SGD rate with tail averaging (``step=None``), which a
        resumed fit continues.

    Raises
    ------
    ValueError
        Any entry of the wrong type, shape, or range, or not finite.
    """

    rule: int
    point: np.ndarray
    shift: np.ndarray
    exact_shift: bool
    vectors: np.ndarray
    scalars: Mapping[str, float]
    vector_names: tuple[str, ...] = ()
    average: np.ndarray | None = None
    rng: tuple[int, int, int, int] | None = None
    scale: np.ndarray | None = None
    auto_average: bool = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "rule", _whole(self.rule, "rule"))
        set_(self, "exact_shift", _boolean(self.exact_shift, "exact_shift"))
        set_(self, "point", _float_array(self.point, "point", ndim=1))
        d = self.point.shape[0]
        set_(self, "shift", _float_array(self.shift, "shift", ndim=1))
        if d not in (self.shift.shape[0], self.shift.shape[0] + 1) or d == 0:
            raise ValueError(f"invalid resume state: point has {d} entries but shift "
                             f"{self.shift.shape[0]}; point holds the coefficients and, with "
                             f"an intercept, one more.")
        set_(self, "vectors", _float_array(self.vectors, "vectors", shape=(2, d)))
        set_(self, "average", None if self.average is None else
             _float_array(self.average, "average", shape=(d,)))
        set_(self, "scalars", _scalars(self.scalars))
        names = self.vector_names
        if not isinstance(names, tuple) or len(names) > 2 \
                or not all(isinstance(v, str) for v in names) \
                or set(names) & set(STATE_SLOTS):
            raise ValueError(f"invalid resume state: vector_names must be a tuple of at most "
                             f"two names other than the scalar slots', got {names!r}.")
        set_(self, "rng", None if self.rng is None else _rng(self.rng))
        set_(self, "auto_average", _boolean(self.auto_average, "auto_average"))
        if self.scale is not None:
            scale = _float_array(self.scale, "scale", shape=(self.shift.shape[0],))
            if not np.all(scale >= 0):  # 0: a constant column, whose coefficient stays 0
                raise ValueError("invalid resume state: scale must be >= 0.")
            set_(self, "scale", scale)

    # ------------------------------------------------------------------ the public mapping
    def __getitem__(self, key: str) -> Any:
        if key in self.scalars:
            return self.scalars[key]
        if key in self.vector_names:
            return self.vectors[self.vector_names.index(key)]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(STATE_SLOTS + self.vector_names)

    def __len__(self) -> int:
        return len(STATE_SLOTS) + len(self.vector_names)

    __eq__ = object.__eq__  # arrays inside: identity, not an elementwise comparison
    __hash__ = object.__hash__

    # ------------------------------------------------------------------ resuming
    @property
    def n_features(self) -> int:
        return int(self.shift.shape[0])

    @property
    def fit_intercept(self) -> bool:
        return self.point.shape[0] == self.shift.shape[0] + 1

    def resume_problem(self, step, n_features: int, fit_intercept: bool) -> str | None:
        """Why this state cannot continue a fit with ``step`` (a StepStrategy) on data of
        ``n_features`` columns and that ``fit_intercept`` setting; None when it can."""
        if int(step.code) != self.rule:
            return "step"
        if n_features != self.n_features:
            return "n_features"
        if bool(fit_intercept) != self.fit_intercept:
            return "fit_intercept"
        return None

    def can_resume(self, step, n_features: int, fit_intercept: bool) -> bool:
        """Whether this state can continue a fit with ``step`` on data of ``n_features``
        columns with that ``fit_intercept`` setting."""
        return self.resume_problem(step, n_features, fit_intercept) is None

    def validated(self) -> DescentState:
        """The state checked again (it may have been altered since it was built, for
        example its ``scalars`` dict): a fresh, valid copy, or ValueError."""
        return DescentState(rule=self.rule, point=self.point, shift=self.shift,
                            exact_shift=self.exact_shift, vectors=self.vectors,
                            scalars=self.scalars, vector_names=self.vector_names,
                            average=self.average, rng=self.rng, scale=self.scale,
                            auto_average=self.auto_average)

    @classmethod
    def from_dict(cls, state: Mapping, step) -> DescentState:
        """The state from the plain dict that ``FitResult.state`` was before (version
        0.1.0: scalar slots and strategy vectors by name, plus ``_vectors``, ``_point``,
        ``_shift``, ``_exact_shift``, ``_average``, ``_rng``)."""
        try:
            return cls(rule=int(step.code), point=state["_point"], shift=state["_shift"],
                       exact_shift=state.get("_exact_shift", False),
                       vectors=state["_vectors"],
                       scalars={k: state[k] for k in STATE_SLOTS},
                       vector_names=tuple(step.state_vectors),
                       average=state.get("_average"), rng=state.get("_rng"))
        except (KeyError, AttributeError, TypeError) as exc:
            raise ValueError(f"invalid resume state: not a gradient-descent state ({exc!r} "
                             f"missing or of the wrong type).") from None

    def __setstate__(self, state: dict) -> None:
        # Unpickling bypasses __init__: check everything again and make the arrays read-only
        # (pickle does not keep the flag).
        if not isinstance(state, dict):
            raise ValueError(f"invalid resume state: a pickled DescentState holds a dict, got "
                             f"{type(state).__name__}.")
        try:
            fresh = DescentState(**state)
        except TypeError as exc:  # a field missing or unknown: edited, or another version
            raise ValueError(f"invalid resume state: {exc}; pass init=result.coef to "
                             f"restart from the coefficients.") from None
        self.__dict__.update(fresh.__dict__)


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"invalid resume state: {name} must be an integer >= 0, "
                         f"got {value!r}.")
    return int(value)


def _boolean(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"invalid resume state: {name} must be True or False, got {value!r}.")
    return bool(value)


def _float_array(value, name: str, ndim: int | None = None,
                 shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A read-only float64 copy of ``value``, which must be a real, finite array of that
    number of dimensions or that shape."""
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"invalid resume state: {name} must be an array of real numbers, got "
                         f"dtype {arr.dtype}.")
    if (ndim is not None and arr.ndim != ndim) or (shape is not None and arr.shape != shape):
        want = f"shape {shape}" if shape is not None else f"{ndim} dimension(s)"
        raise ValueError(f"invalid resume state: {name} must have {want}, got shape "
                         f"{arr.shape}.")
    out = np.array(arr, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(out).all():
        raise ValueError(f"invalid resume state: {name} contains NaN or infinity.")
    out.flags.writeable = False
    return out


def _scalars(value) -> dict[str, float]:
    if not isinstance(value, Mapping) or set(value) != set(STATE_SLOTS):
        got = sorted(value) if isinstance(value, Mapping) else type(value).__name__
        raise ValueError(f"invalid resume state: scalars must map exactly the names "
                         f"{', '.join(STATE_SLOTS)} to numbers, got {got}.")
    out = {}
    for name in STATE_SLOTS:
        v = value[name]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"invalid resume state: {name} must be a finite number, "
                             f"got {v!r}.")
        v = float(v)
        if v < 0 or (name in _COUNTS and v != math.floor(v)) or (name in _FLAGS
                                                                  and v not in (0.0, 1.0)):
            kind = "0 or 1" if name in _FLAGS else \
                "a whole number >= 0" if name in _COUNTS else "a number >= 0"
            raise ValueError(f"invalid resume state: {name} must be {kind}, got {v!r}.")
        out[name] = v
    if out["fista_t"] != 0.0 and out["fista_t"] < 1.0:  # FISTA's t_k starts at 1 and grows
        raise ValueError(f"invalid resume state: fista_t must be 0 (not started) or >= 1, "
                         f"got {out['fista_t']!r}.")
    return out


def _rng(value) -> tuple[int, int, int, int]:
    """The xoshiro256** state: exactly four integers in [0, 2**64), not all zero (the
    generator's one fixed point: it would return zeros forever)."""
    try:
        words = list(value)
    except TypeError:
        words = None
    if words is None or len(words) != 4 or not all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            and 0 <= int(v) <= _UINT64_MAX for v in words):
        raise ValueError(f"invalid resume state: rng must be four integers in [0, 2**64) (the "
                         f"xoshiro256** state), got {value!r}. Pass random_state to start a "
                         f"new generator.")
    if not any(int(v) for v in words):
        raise ValueError("invalid resume state: rng is all zero, xoshiro256**'s forbidden "
                         "state. Pass random_state to start a new generator.")
    return (int(words[0]), int(words[1]), int(words[2]), int(words[3]))
