"""Step-size strategies for :func:`gradfit.gradient_descent`.

Each strategy is a small frozen dataclass holding its hyper-parameters, validated when it is
built. The engine that applies it lives in compiled code (``_descent.pyx``): a strategy only
tells the engine which rule to run (``code``) and with which numbers (``params()``), as in
scikit-learn's SGD, and names the pieces of its internal state so that a fit can be resumed.

Below, g is the gradient of the objective f at the current point p (coefficients and, with an
intercept, the intercept), ε the learning rate, and all vector operations are elementwise.

Examples
--------
>>> from gradfit import steps
>>> steps.Adam(learning_rate=0.01)
Adam(learning_rate=0.01, beta1=0.9, beta2=0.999, eps=1e-08)
>>> steps.get("bb")
BarzilaiBorwein()
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import ClassVar

from ._descent import Rule

__all__ = ["StepStrategy", "Fixed", "Lipschitz", "ExactLineSearch", "Backtracking",
           "BarzilaiBorwein", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
           "InverseScaling", "FISTA", "ConjugateGradient", "get", "NAMES"]


def _finite_real(value) -> bool:
    """A real number (not a bool) that is finite as a float (10**400 is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _positive(obj, name: str) -> None:
    value = getattr(obj, name)
    if not _finite_real(value) or value <= 0:
        raise ValueError(f"{type(obj).__name__}: {name} must be a finite number > 0, "
                         f"got {value!r}.")
    object.__setattr__(obj, name, float(value))


def _in_unit_interval(obj, name: str, closed_left: bool = True) -> None:
    value = getattr(obj, name)
    ok = _finite_real(value) and (0 <= value < 1 if closed_left else 0 < value < 1)
    if not ok:
        interval = "[0, 1)" if closed_left else "(0, 1)"
        raise ValueError(f"{type(obj).__name__}: {name} must be in {interval}, got {value!r}.")
    object.__setattr__(obj, name, float(value))


@dataclass(frozen=True)
class StepStrategy:
    """Base class: ``code`` selects the rule in the compiled engine (a ``Rule`` of
    ``_descent.pyx``; a new rule is a new member there); ``state_vectors`` names
    the per-coordinate state it keeps (at most two vectors) for resuming."""

    code: ClassVar[Rule]
    state_vectors: ClassVar[tuple[str, ...]] = ()
    #: usable with mini-batches (needs nothing but a gradient estimate)
    mini_batch: ClassVar[bool] = False
    #: usable with an L1 penalty (a proximal step follows the gradient step); the mini-batch
    #: proximal rules are those with both flags
    proximal: ClassVar[bool] = False

    def params(self) -> tuple[float, ...]:
        """The hyper-parameters, in the order the engine reads them."""
        return tuple(float(getattr(self, f.name)) for f in fields(self))


@dataclass(frozen=True)
class Fixed(StepStrategy):
    """Constant learning rate, plain gradient descent: ``p ← p − ε g``.

    Converges on this problem when ε < 2/L (L: the largest eigenvalue of the Hessian;
    Nocedal & Wright, *Numerical Optimization*, 2nd ed., §3.3): too small is slow, too large
    diverges. The name ``"fixed"`` gives ε = 0.01.
    """

    learning_rate: float = 0.01
    code: ClassVar[Rule] = Rule.FIXED
    mini_batch: ClassVar[bool] = True
    proximal: ClassVar[bool] = True

    def __post_init__(self):
        _positive(self, "learning_rate")


@dataclass(frozen=True)
class Lipschitz(StepStrategy):
    """ε = 1/L, with L the largest eigenvalue of the Hessian of f (the Lipschitz constant of
    its gradient), estimated before the first step by power iteration (Rayleigh quotient, at
    most ``max_power_iter`` passes over X, stopping when it changes by less than ``rtol``;
    the Rayleigh quotient never exceeds L, and any estimate above L/2 keeps every step a
    descent step, so a rough estimate is enough: more passes cost more than they save).

    ``p ← p − g / L``: for a convex quadratic every such step decreases f (Nesterov,
    *Introductory Lectures on Convex Optimization*, 2004, §2.1.5). The estimate is reported
    in the result's ``state["lipschitz"]``.
    """

    max_power_iter: int = 30
    rtol: float = 1e-3
    code: ClassVar[Rule] = Rule.LIPSCHITZ
    proximal: ClassVar[bool] = True

    def __post_init__(self):
        k = self.max_power_iter
        # at most INT_MAX: the engine counts power iterations in a C int
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k < 2**31:
            raise ValueError(f"{type(self).__name__}: max_power_iter must be an integer in "
                             f"[1, {2**31 - 1}], got {self.max_power_iter!r}.")
        object.__setattr__(self, "max_power_iter", int(self.max_power_iter))
        _positive(self, "rtol")


@dataclass(frozen=True)
class ExactLineSearch(StepStrategy):
    """ε = argmin over ε of f(p − ε g), in closed form for this quadratic:
    ``ε = gᵀg / gᵀHg`` (Cauchy's steepest descent, 1847; Nocedal & Wright, *Numerical
    Optimization*, 2nd ed., eq. 3.25). gᵀHg costs one extra pass over X per iteration.
    """

    code: ClassVar[Rule] = Rule.EXACT


@dataclass(frozen=True)
class Backtracking(StepStrategy):
    """Armijo backtracking: start from a trial ε, multiply it by ``shrink`` until
    ``f(p − ε g) ≤ f(p) − c ε gᵀg`` (Nocedal & Wright, *Numerical Optimization*, 2nd ed.,
    Algorithm 3.1).

    f(p − ε g) = f(p) − ε gᵀg + ε²/2 gᵀHg is a quadratic in ε, so one pass over X for
    gᵀHg prices every trial. After an accepted step the next trial starts from ε·``grow``; with
    ``grow=None`` it restarts from ``initial`` every iteration, the textbook form.

    Notes
    -----
    The default ``grow=1.5`` keeps the step near the best the test accepts: with c = 1e-4 the
    test accepts steps up to almost 2/λ along the gradient, the edge of stability, and
    doubling (grow=2) drifts there and stalls. Measured on a 2000 × 10 problem of condition
    number 100: 540 iterations with 1.5, 10308 with 2, 1142 restarting from 1.0 every time.
    """

    initial: float = 1.0
    shrink: float = 0.5
    c: float = 1e-4
    grow: float | None = 1.5
    code: ClassVar[Rule] = Rule.BACKTRACKING
    proximal: ClassVar[bool] = True

    def __post_init__(self):
        _positive(self, "initial")
        _in_unit_interval(self, "shrink", closed_left=False)
        _in_unit_interval(self, "c", closed_left=False)
        if self.grow is not None:
            _positive(self, "grow")
            if self.grow < 1:
                raise ValueError(f"Backtracking: grow must be >= 1 (or None to restart from "
                                 f"initial), got {self.grow!r}.")

    def params(self) -> tuple[float, ...]:
        return (float(self.initial), float(self.shrink), float(self.c),
                0.0 if self.grow is None else float(self.grow))


@dataclass(frozen=True)
class BarzilaiBorwein(StepStrategy):
    """Barzilai–Borwein step, the "long" formula BB1: ``ε_k = sᵀs / sᵀy`` with
    s = p_k − p_{k−1} and y = g_k − g_{k−1} (Barzilai & Borwein, IMA J. Numer. Anal. 8,
    1988, eq. 5). The first step, and any step where sᵀy ≤ 0 (no positive curvature
    measured, which on this convex problem only rounding can cause), is an exact line-search
    step. On a
    strictly convex quadratic the iteration converges (Raydan, IMA J. Numer. Anal. 13, 1993),
    though not monotonically: f may rise on some iterations.
    """

    code: ClassVar[Rule] = Rule.BB
    state_vectors: ClassVar[tuple[str, ...]] = ("previous_point", "previous_gradient")


@dataclass(frozen=True)
class _Velocity(StepStrategy):
    """Shared fields and checks of the two velocity rules (not a strategy itself)."""

    learning_rate: float = 0.01
    beta: float = 0.9
    state_vectors: ClassVar[tuple[str, ...]] = ("velocity",)
    mini_batch: ClassVar[bool] = True

    def __post_init__(self):
        _positive(self, "learning_rate")
        _in_unit_interval(self, "beta")


@dataclass(frozen=True)
class Momentum(_Velocity):
    """Heavy-ball momentum in the torch.optim.SGD form (dampening 0):
    ``v ← β v + g;  p ← p − ε v`` (the learning rate outside the velocity; Polyak 1964;
    https://pytorch.org/docs/stable/generated/torch.optim.SGD.html).
    """

    code: ClassVar[Rule] = Rule.MOMENTUM


@dataclass(frozen=True)
class Nesterov(_Velocity):
    """Nesterov's accelerated gradient in the torch.optim.SGD form (``nesterov=True``):
    ``v ← β v + g;  p ← p − ε (g + β v)`` (Sutskever et al., ICML 2013;
    https://pytorch.org/docs/stable/generated/torch.optim.SGD.html).
    """

    code: ClassVar[Rule] = Rule.NESTEROV


@dataclass(frozen=True)
class AdaGrad(StepStrategy):
    """AdaGrad as torch.optim.Adagrad (no decay, accumulator starting at 0, ε outside the root):
    ``s ← s + g²;  p ← p − lr · g / (√s + eps)`` (Duchi, Hazan & Singer, JMLR 2011;
    https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html).
    """

    learning_rate: float = 0.01
    eps: float = 1e-10
    code: ClassVar[Rule] = Rule.ADAGRAD
    mini_batch: ClassVar[bool] = True
    state_vectors: ClassVar[tuple[str, ...]] = ("sum_of_squares",)

    def __post_init__(self):
        _positive(self, "learning_rate")
        _positive(self, "eps")


@dataclass(frozen=True)
class RMSprop(StepStrategy):
    """RMSprop as torch.optim.RMSprop (not centred, no momentum, ε outside the root):
    ``s ← ρ s + (1 − ρ) g²;  p ← p − lr · g / (√s + eps)`` (Tieleman & Hinton, 2012;
    https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html).

    With a constant rate it does not converge to the minimiser: near it, g/√s stays of size
    about 1, so p hovers in a neighbourhood whose size is proportional to the rate.
    """

    learning_rate: float = 0.01
    rho: float = 0.99
    eps: float = 1e-8
    code: ClassVar[Rule] = Rule.RMSPROP
    mini_batch: ClassVar[bool] = True
    state_vectors: ClassVar[tuple[str, ...]] = ("square_average",)

    def __post_init__(self):
        _positive(self, "learning_rate")
        _in_unit_interval(self, "rho")
        _positive(self, "eps")


@dataclass(frozen=True)
class Adam(StepStrategy):
    """Adam as torch.optim.Adam (bias-corrected, ε outside the root after correction):
    ``m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
    p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + eps)``
    (Kingma & Ba, ICLR 2015, Algorithm 1;
    https://pytorch.org/docs/stable/generated/torch.optim.Adam.html).
    """

    learning_rate: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    code: ClassVar[Rule] = Rule.ADAM
    mini_batch: ClassVar[bool] = True
    state_vectors: ClassVar[tuple[str, ...]] = ("first_moment", "second_moment")

    def __post_init__(self):
        _positive(self, "learning_rate")
        _in_unit_interval(self, "beta1")
        _in_unit_interval(self, "beta2")
        _positive(self, "eps")


@dataclass(frozen=True)
class InverseScaling(StepStrategy):
    """A decaying rate, scikit-learn's ``learning_rate="invscaling"``:
    ``ε_t = learning_rate / t^power`` at step t = 1, 2, ...;  ``p ← p − ε_t g``.
    With ``power`` in (0.5, 1] the steps satisfy the Robbins–Monro conditions (Σε = ∞,
    Σε² < ∞) under which stochastic gradient descent converges (Robbins & Monro, 1951);
    scikit-learn's default 0.25 decays more slowly and relies on averaging or early stopping.
    """

    learning_rate: float = 0.01
    power: float = 0.25
    code: ClassVar[Rule] = Rule.INVSCALING
    mini_batch: ClassVar[bool] = True
    proximal: ClassVar[bool] = True

    def __post_init__(self):
        _positive(self, "learning_rate")
        _positive(self, "power")


@dataclass(frozen=True)
class FISTA(StepStrategy):
    """Accelerated proximal gradient (Beck & Teboulle, SIAM J. Imaging Sciences 2, 2009):
    ``x_{k+1} = prox_{l1/L}(y_k − ∇f(y_k)/L)``,
    ``t_{k+1} = (1 + √(1 + 4 t_k²)) / 2``,
    ``y_{k+1} = x_{k+1} + (t_k − 1)/t_{k+1} · (x_{k+1} − x_k)``, with L estimated as in
    :class:`Lipschitz` and a monotone restart: a step that would increase f is discarded and
    the momentum reset (O'Donoghue & Candès, Found. Comput. Math. 15, 2015). Two passes over X
    per iteration (the gradient at y, the objective at x). Full batch only.
    """

    max_power_iter: int = 30
    rtol: float = 1e-3
    code: ClassVar[Rule] = Rule.FISTA
    state_vectors: ClassVar[tuple[str, ...]] = ("extrapolated_point",)
    proximal: ClassVar[bool] = True

    def __post_init__(self):
        Lipschitz.__post_init__(self)


@dataclass(frozen=True)
class ConjugateGradient(StepStrategy):
    """Nonlinear conjugate gradient, Polak–Ribière+ (Nocedal & Wright, *Numerical
    Optimization*, 2nd ed., eqs. 5.44–5.45), with the exact step along each direction:
    ``d ← −g + β d``, ``β = max(0, gᵀ(g − g_prev) / g_prevᵀg_prev)``,
    ``p ← p + ε d``, ``ε = −gᵀd / dᵀHd`` (one extra pass over X for dᵀHd).

    On this quadratic it is the linear conjugate-gradient method of Hestenes & Stiefel (1952):
    at most n steps in exact arithmetic, and about √κ times fewer than steepest descent in
    floating point, so it reaches the exact solution of ill-conditioned problems where the
    other strategies stop short. The default full-batch strategy. Full batch, l1 = 0 only.
    """

    code: ClassVar[Rule] = Rule.CONJUGATE
    state_vectors: ClassVar[tuple[str, ...]] = ("direction", "previous_gradient")


NAMES: dict[str, type[StepStrategy]] = {
    "fixed": Fixed,
    "lipschitz": Lipschitz,
    "exact": ExactLineSearch,
    "backtracking": Backtracking,
    "bb": BarzilaiBorwein,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "invscaling": InverseScaling,
    "fista": FISTA,
    "cg": ConjugateGradient,
}


def get(step: str | StepStrategy) -> StepStrategy:
    """A strategy object from its name (with default hyper-parameters) or the object itself."""
    if isinstance(step, StepStrategy):
        return step
    if isinstance(step, str) and step.lower() in NAMES:
        return NAMES[step.lower()]()
    raise ValueError(f"unknown step strategy {step!r}; use one of {', '.join(NAMES)} or an "
                     f"object from gradfit.steps.")
