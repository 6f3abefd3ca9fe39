"""The optimizers of the book: ``torch.optim`` where it has them, two of our own where it does not.

Write :math:`w` for the trainable parameters, :math:`L_B` for the training loss
(a mean over examples, :mod:`dltheory.losses`) on a batch :math:`B`,
:math:`\\eta` for the step size and :math:`\\lambda_{wd}` for the weight decay.

=================  ==========================================================================
preset             optimizer
=================  ==========================================================================
``"gd"``           ``torch.optim.SGD`` on the full batch:
                   :math:`w \\leftarrow w - \\eta(\\nabla L(w) + \\lambda_{wd} w)`
``"sgd"``          ``torch.optim.SGD`` on mini-batches (Robbins & Monro 1951)
``"adam"``         ``torch.optim.Adam`` (Kingma & Ba 2015; weight decay as L2, not AdamW)
``"sgld"``         :class:`SGLD`, a ``torch.optim.SGD`` that adds Gaussian noise
``"ggn"``          :class:`GramGaussNewton`, which needs the batch, not a gradient
``"normalized_gd"``  ``torch.optim.SGD`` on :math:`\\log L` (:func:`dltheory.losses.log_loss`):
                   :math:`w \\leftarrow w - \\eta\\,\\nabla L/L` (Nacson et al. 2019)
=================  ==========================================================================

:func:`make_optimizer` builds a preset; :func:`dltheory.train.fit` also takes
any ``torch.optim.Optimizer``, or a :class:`BatchOptimizer`.
:class:`PerturbedGD` (Jin et al. 2017) is no preset, because its radius and
thresholds depend on the problem: pass it as a factory,
``functools.partial(PerturbedGD, lr=..., radius=..., grad_threshold=...)``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .._checks import check_choice, check_int, check_real, check_seed
from ..ntk import empirical_ntk

__all__ = ["PRESETS", "make_optimizer", "SGLD", "PerturbedGD", "BatchOptimizer", "GramGaussNewton",
           "DEFAULT_TEMPERATURE", "GGN_RELATIVE_DAMPING"]

#: The optimizers :func:`make_optimizer` builds by name.
PRESETS = ("gd", "sgd", "adam", "sgld", "ggn", "normalized_gd")
#: SGLD's default temperature :math:`T = 1/\beta`.
DEFAULT_TEMPERATURE = 1e-4
#: GGN's default damping, relative to the mean eigenvalue of :math:`\lambda J J^\top`.
GGN_RELATIVE_DAMPING = 1e-6
# The SGLD noise of a preset is seeded with fit's seed shifted by this odd constant (mod 2**63),
# so that shuffling and noise are different streams for every seed.
_NOISE_SEED_SHIFT = 0x1E3779B97F4A7C15


class _SeededNoiseSGD(torch.optim.SGD):
    """``torch.optim.SGD`` with seeded noise: one ``torch.Generator`` per device, seeded with ``seed``.

    The generators' states are saved under ``"noise"`` in :meth:`state_dict`, so a
    checkpointed run draws the same noise after it resumes.
    """

    def __init__(self, params: Iterable, *, seed: int, **sgd_defaults: Any) -> None:
        super().__init__(params, **sgd_defaults)
        self.seed = check_seed(seed)
        self._generators: dict[torch.device, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def state_dict(self) -> dict:
        """``torch.optim.SGD``'s state, and the noise generators' states under ``"noise"``."""
        state = super().state_dict()
        state["noise"] = {str(device): gen.get_state() for device, gen in self._generators.items()}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        noise = state_dict.pop("noise", {})
        super().load_state_dict(state_dict)
        self._generators = {}
        for name, gen_state in noise.items():
            device = torch.device(name)
            self._generators[device] = torch.Generator(device=device)
            self._generators[device].set_state(gen_state)


class SGLD(_SeededNoiseSGD):
    """Stochastic gradient Langevin dynamics (Welling & Teh 2011).

    .. math::  w \\leftarrow w - \\eta\\,(\\nabla L_B(w) + \\lambda_{wd} w)
               + \\sqrt{2\\eta T}\\,\\xi, \\qquad \\xi \\sim N(0, I_P),

    with :math:`T = 1/\\beta` the ``temperature``: plain SGD
    (``torch.optim.SGD``, whose step this calls first) plus Gaussian noise. For
    small :math:`\\eta` the iterates sample the Gibbs density
    :math:`\\propto e^{-(L(w) + \\frac{\\lambda_{wd}}2\\lVert w\\rVert^2)/T}`; :math:`T = 1/n`
    is the Bayesian posterior when :math:`n L` is a negative log-likelihood. For a
    quadratic :math:`L` with curvature :math:`a` the chain is Gaussian with
    variance :math:`T / (a(1 - \\eta a/2))` in that direction, the Gibbs variance
    :math:`T/a` up to the discretisation factor.

    The noise is drawn on each parameter's device, in its dtype, from a
    ``torch.Generator`` per device seeded with ``seed``; the generators' states
    are part of :meth:`state_dict`, so a checkpointed run resumes bit for bit.
    The noise uses each group's *current* ``lr``, so a
    ``torch.optim.lr_scheduler`` gives the decreasing step sizes of Welling and
    Teh. With ``temperature=0`` no noise is drawn and the step is SGD's.

    Parameters
    ----------
    params
        Parameters or parameter groups, as for any ``torch.optim`` optimizer.
    lr
        :math:`\\eta > 0`.
    temperature
        :math:`T \\ge 0` (default :data:`DEFAULT_TEMPERATURE`); a group may set its own.
    weight_decay
        :math:`\\lambda_{wd} \\ge 0`.
    seed
        Seed of the noise generators.
    """

    def __init__(self, params: Iterable, lr: float, temperature: float = DEFAULT_TEMPERATURE,
                 weight_decay: float = 0.0, *, seed: int = 0) -> None:
        lr = check_real(lr, "lr", min=0.0, min_open=True)
        self._temperature = check_real(temperature, "temperature", min=0.0)
        weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
        super().__init__(params, lr=lr, weight_decay=weight_decay, seed=seed)
        self.defaults["temperature"] = self._temperature

    def add_param_group(self, param_group: dict) -> None:
        """As ``torch.optim.SGD``'s, with the group's ``lr`` and ``temperature`` checked."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group.setdefault("temperature", self._temperature)
        check_real(group["lr"], "lr", min=0.0, min_open=True)
        check_real(group["temperature"], "temperature", min=0.0)

    @torch.no_grad()
    def step(self, closure=None):
        """One SGD step (with ``closure``, as ``torch.optim.SGD``), then the noise."""
        loss = super().step(closure)
        for group in self.param_groups:
            if group["temperature"] == 0:
                continue
            scale = math.sqrt(2.0 * group["lr"] * group["temperature"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                noise = torch.randn(p.shape, generator=self._generator(p.device), device=p.device, dtype=p.dtype)
                p.add_(noise, alpha=scale)
        return loss



class PerturbedGD(_SeededNoiseSGD):
    """Perturbed gradient descent (Jin, Ge, Netrapalli, Kakade, Jordan 2017, Algorithm 2 without its stopping rule).

    Gradient descent, :math:`w \\leftarrow w - \\eta(\\nabla L(w) + \\lambda_{wd} w)`,
    except that when the gradient is small, :math:`\\lVert\\nabla L(w_t) + \\lambda_{wd}
    w_t\\rVert \\le g_{\\text{thres}}`, and no perturbation was made in the last
    :math:`t_{\\text{thres}}` steps, the point is first moved by
    :math:`\\xi \\sim \\operatorname{Uniform}(B(0, r))`, a point drawn uniformly from the
    ball of radius :math:`r` in the space of all trainable parameters together, and
    the step is then taken from there with the gradient at the perturbed point,
    as in the paper. Near a strict saddle (:math:`\\lambda_{\\min}(\\nabla^2 L) < 0`)
    the perturbation has a component along the escape directions with
    probability one, which gradient descent then amplifies; near a local
    minimum it is contracted away. Jin et al. show that with
    :math:`r, g_{\\text{thres}}, t_{\\text{thres}}` set from the smoothness constants
    the method reaches an :math:`\\varepsilon`-second-order stationary point in
    :math:`\\tilde O(1/\\varepsilon^2)` steps, almost dimension-free. Plain gradient
    descent started *on* a saddle (or on its stable manifold) never leaves it.

    Jin et al.'s stopping rule is kept as an option: with ``value_threshold``
    :math:`f_{\\text{thres}}`, if the objective has decreased by less than
    :math:`f_{\\text{thres}}` in the ``interval`` steps after a perturbation, the
    point before it was (approximately) a local minimum. The paper then returns
    that point; here the perturbations stop (:attr:`stopped_at` records the step)
    and gradient descent carries on, which near a minimum brings it back.

    The step numbers of the perturbations (counted from 1, as :func:`dltheory.train.fit`
    counts updates) are kept in :attr:`perturbations`. The noise comes from a
    ``torch.Generator`` per device seeded with ``seed``; its state, the step
    count and the perturbation record are part of :meth:`state_dict`, so a
    checkpointed run resumes bit for bit. The step needs the closure that
    :func:`dltheory.train.fit` passes (to evaluate the gradient again after a
    perturbation).

    Parameters
    ----------
    params
        Parameters or parameter groups, as for any ``torch.optim`` optimizer.
    lr
        :math:`\\eta > 0`.
    radius
        :math:`r > 0`, the radius of the ball the perturbation is drawn from.
    grad_threshold
        :math:`g_{\\text{thres}} \\ge 0`: perturb when the gradient norm is at most this.
    interval
        :math:`t_{\\text{thres}} \\ge 0`: the fewest steps between two perturbations
        (default 100).
    value_threshold
        :math:`f_{\\text{thres}} \\ge 0` of the stopping rule, or ``None`` (default:
        never stop perturbing).
    weight_decay
        :math:`\\lambda_{wd} \\ge 0`.
    seed
        Seed of the noise generators.
    """

    def __init__(self, params: Iterable, lr: float, *, radius: float, grad_threshold: float, interval: int = 100,
                 value_threshold: float | None = None, weight_decay: float = 0.0, seed: int = 0) -> None:
        lr = check_real(lr, "lr", min=0.0, min_open=True)
        weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
        super().__init__(params, lr=lr, weight_decay=weight_decay, seed=seed)
        self.defaults["radius"] = check_real(radius, "radius", min=0.0, min_open=True)
        self.defaults["grad_threshold"] = check_real(grad_threshold, "grad_threshold", min=0.0)
        self.defaults["interval"] = check_int(interval, "interval", min=0)
        self.defaults["value_threshold"] = check_real(value_threshold, "value_threshold", min=0.0, allow_none=True)
        self.steps_taken = 0
        self.perturbations: list[int] = []
        self.stopped_at: int | None = None
        self._value_before: float | None = None  # the objective just before the last perturbation

    def _trainable(self) -> list[tuple[torch.Tensor, float]]:
        return [(p, group["weight_decay"]) for group in self.param_groups for p in group["params"]
                if p.grad is not None]

    def _gradient_norm(self) -> float:
        total = 0.0
        for p, wd in self._trainable():
            g = p.grad if wd == 0 else p.grad + wd * p
            total += float(g.detach().pow(2).sum())
        return math.sqrt(total)

    @torch.no_grad()
    def _perturb(self) -> None:
        """Add a point drawn uniformly from the ball of radius ``radius`` (all parameters together)."""
        params = [p for p, _ in self._trainable()]
        noise = [torch.randn(p.shape, generator=self._generator(p.device), device=p.device, dtype=p.dtype)
                 for p in params]
        norm = math.sqrt(sum(float(z.pow(2).sum()) for z in noise))
        P = sum(p.numel() for p in params)
        u = torch.rand((), generator=self._generator(params[0].device), device=params[0].device,
                       dtype=params[0].dtype).item()
        scale = self.defaults["radius"] * u ** (1.0 / P) / norm  # uniform in the ball: radius r U^(1/P)
        for p, z in zip(params, noise):
            p.add_(z, alpha=scale)

    def step(self, closure=None):
        """Evaluate the gradient with ``closure``; perturb if it is small (and allowed); take the step."""
        if closure is None:
            raise ValueError("PerturbedGD.step needs the closure that evaluates the objective and its gradient "
                             "(dltheory.train.fit passes it)")
        with torch.enable_grad():
            loss = closure()
        self.steps_taken += 1
        last = self.perturbations[-1] if self.perturbations else None
        f_thres = self.defaults["value_threshold"]
        if (f_thres is not None and last is not None and self.stopped_at is None
                and self.steps_taken - last == self.defaults["interval"]
                and float(loss.detach()) - self._value_before > -f_thres):
            self.stopped_at = self.steps_taken
        if (self.stopped_at is None and self._gradient_norm() <= self.defaults["grad_threshold"]
                and (last is None or self.steps_taken - last > self.defaults["interval"])):
            self._value_before = float(loss.detach())
            self._perturb()
            self.perturbations.append(self.steps_taken)
            with torch.enable_grad():
                loss = closure()
        super().step()
        return loss

    def state_dict(self) -> dict:
        """``torch.optim.SGD``'s state, the noise generators, the step count and the perturbations."""
        state = super().state_dict()
        state["perturbed"] = {"steps_taken": self.steps_taken, "perturbations": list(self.perturbations),
                              "stopped_at": self.stopped_at, "value_before": self._value_before}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        perturbed = state_dict.pop("perturbed", {"steps_taken": 0, "perturbations": [], "stopped_at": None,
                                                 "value_before": None})
        super().load_state_dict(state_dict)
        self.steps_taken = int(perturbed["steps_taken"])
        self.perturbations = [int(t) for t in perturbed["perturbations"]]
        self.stopped_at = perturbed["stopped_at"]
        self._value_before = perturbed["value_before"]


class BatchOptimizer(abc.ABC):
    """An optimizer whose step needs the batch itself, not a gradient: ``step(X, y) -> loss``.

    :func:`dltheory.train.fit` calls :meth:`step` with each batch instead of
    handing a closure to ``torch.optim``. A subclass keeps its hyperparameters
    in :attr:`defaults` (they enter checkpoint fingerprints) and any state
    between steps in :meth:`state_dict`.
    """

    defaults: dict

    @property
    @abc.abstractmethod
    def params(self) -> list[torch.Tensor]:
        """The parameters it changes."""

    @abc.abstractmethod
    def step(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Update the parameters on the batch ``(X, y)``; return the batch loss before the update."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:  # noqa: B027 - stateless by default
        pass


class GramGaussNewton(BatchOptimizer):
    """Gram-Gauss-Newton for the square loss (Cai, Gao, Hou, Chen, Wang, He, Zhang, Wang 2019).

    .. math::  w \\leftarrow w - \\eta\\, J_B^\\top \\bigl(\\lambda K_B + \\alpha I\\bigr)^{-1}
               \\bigl(f_B(w) - y_B\\bigr), \\qquad K_B = J_B J_B^\\top ,

    with :math:`J_B` the ``(b k) x P`` Jacobian of the batch outputs with respect
    to the trainable parameters, :math:`K_B` their empirical neural tangent
    kernel, :math:`\\lambda` = ``lam`` and :math:`\\alpha` = ``damping``. The
    step is computed the way the paper's cost estimate assumes,
    :math:`O(b^2 P + b^3)`: the Gram matrix by
    :func:`dltheory.ntk.empirical_ntk` (the structured method for MLPs, which
    never forms :math:`J`), one linear solve, and :math:`J_B^\\top c` as one
    vector-Jacobian product (a backward pass of :math:`\\langle c, f_B\\rangle`).

    ``damping=None`` (default) is :data:`GGN_RELATIVE_DAMPING` times the mean
    eigenvalue of :math:`\\lambda K_B` (:math:`10^{-6}` if that is zero): small
    enough that a step is the Gauss-Newton step to about six digits, large
    enough that the solve never meets a singular matrix; ``damping=0`` is the
    undamped method. ``lr = 1`` is the method of the paper. For a linear model
    with :math:`\\lambda = 1, \\alpha = 0` one full-batch step lands on the
    interpolating solution nearest to :math:`w` (from zero, the minimum-norm
    least-squares solution): the step solves
    :math:`\\min \\lVert \\Delta w\\rVert` subject to :math:`J\\Delta w = y - f`.

    Parameters
    ----------
    model
        The network; its parameters with ``requires_grad`` are trained. It must
        treat examples independently (no batch statistics).
    lr, lam, damping
        :math:`\\eta > 0`, :math:`\\lambda > 0`, :math:`\\alpha \\ge 0` or ``None``.
    """

    def __init__(self, model: nn.Module, *, lr: float = 1.0, lam: float = 1.0, damping: float | None = None) -> None:
        self.model = model
        self._params = [p for p in model.parameters() if p.requires_grad]
        if not self._params:
            raise ValueError(f"{type(model).__name__} has no trainable parameters")
        self.defaults = {
            "lr": check_real(lr, "lr", min=0.0, min_open=True),
            "lam": check_real(lam, "lam", min=0.0, min_open=True),
            "damping": check_real(damping, "damping", min=0.0, allow_none=True),
        }

    @property
    def params(self) -> list[torch.Tensor]:
        return self._params

    def step(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        lr, lam, damping = self.defaults["lr"], self.defaults["lam"], self.defaults["damping"]
        with torch.enable_grad():
            outputs = self.model(X)
        b = outputs.shape[0]
        k = outputs.reshape(b, -1).shape[1]
        K = empirical_ntk(self.model, X, trainable_only=True)
        gram = K.reshape(b, b) if k == 1 else K.permute(0, 2, 1, 3).reshape(b * k, b * k)  # example-major rows
        gram = lam * gram
        residual = outputs.detach().reshape(-1) - y.reshape(-1).to(outputs.dtype)
        if damping is None:
            mean_eig = (torch.trace(gram) / gram.shape[0]).item()
            damping = GGN_RELATIVE_DAMPING * mean_eig if mean_eig > 0 else GGN_RELATIVE_DAMPING
        gram.diagonal().add_(damping)
        try:
            coef = torch.linalg.solve(gram, residual)
        except RuntimeError as err:  # torch.linalg.LinAlgError: a singular system
            raise FloatingPointError(f"ggn: the Gram matrix is singular (damping={damping:g}); "
                                     "use damping > 0 (or the default relative damping)") from err
        direction = torch.autograd.grad(outputs, self._params, grad_outputs=coef.reshape(outputs.shape))
        with torch.no_grad():
            for p, d in zip(self._params, direction):
                p.sub_(d, alpha=lr)
        return 0.5 * residual.pow(2).sum() / b


def make_optimizer(name: str, model: nn.Module, *, lr: float, weight_decay: float = 0.0,
                   seed: int = 0) -> torch.optim.Optimizer | BatchOptimizer:
    """The preset ``name`` (one of :data:`PRESETS`) on the model's trainable parameters.

    ``weight_decay`` enters ``torch.optim``'s ``weight_decay`` (it adds
    :math:`\\lambda_{wd} w` to the gradient, the gradient of
    :math:`\\frac{\\lambda_{wd}}2\\lVert w\\rVert^2`). ``"normalized_gd"`` is SGD
    without decay: :func:`dltheory.train.fit` puts the decay into the log
    objective, :math:`\\log(L + \\frac{\\lambda_{wd}}2\\lVert w\\rVert^2)`. ``"ggn"``
    follows no gradient and takes no weight decay. ``seed`` seeds SGLD's noise
    (shifted, so that it differs from the shuffling stream of the same seed).
    """
    check_choice(name, "optimizer", PRESETS)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
    if name == "ggn":
        if weight_decay > 0:
            raise ValueError("ggn follows no gradient and does not take weight_decay; damp it with "
                             "GramGaussNewton(model, damping=...) instead")
        return GramGaussNewton(model, lr=lr)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters (all have requires_grad=False)")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "sgld":
        return SGLD(params, lr=lr, weight_decay=weight_decay, seed=(check_seed(seed) + _NOISE_SEED_SHIFT) % 2**63)
    return torch.optim.SGD(params, lr=lr, weight_decay=0.0 if name == "normalized_gd" else weight_decay)
