"""What batch normalisation does to training: the smoothness probes and the covariate-shift measures.

Ioffe & Szegedy (2015) introduced batch normalisation to reduce *internal
covariate shift*, the change of each layer's input distribution as the layers
before it are updated. Santurkar, Tsipras, Ilyas, Madry (2018, "How does batch
normalization help optimization?") test that story and propose another: batch
normalisation makes the loss, and its gradient, change more slowly along the
directions training takes. This module measures both sides.

**Along the gradient** (Santurkar et al., Sec. 3.1 and Fig. 4). At parameters
:math:`\\theta` with batch gradient :math:`g = \\nabla L(\\theta)`, and for step
sizes :math:`\\eta` on a grid, :func:`landscape_probe` evaluates

.. math::

    L(\\theta - \\eta g), \\qquad
    \\lVert \\nabla L(\\theta - \\eta g) - \\nabla L(\\theta) \\rVert, \\qquad
    \\beta_{\\mathrm{eff}} = \\max_\\eta
        \\frac{\\lVert \\nabla L(\\theta - \\eta g) - \\nabla L(\\theta)\\rVert}{\\eta \\lVert g\\rVert} ,

the *loss range* (largest minus smallest loss over the grid: how far the loss
can move within one step), the *gradient predictiveness* (how much the gradient
changes) and the *effective* :math:`\\beta`-smoothness (the largest ratio of
gradient change to distance moved, a Lipschitz constant of the gradient
measured along the step).

**Why the gradient is tamer** (Santurkar et al., Theorem 4.1). The gradient
that reaches a batch norm's input is the gradient it receives, projected off
two directions and scaled by :math:`\\gamma/\\sigma`: :func:`bn_input_gradient`.

**Internal covariate shift, as the distribution of each layer's input.**
:func:`preactivations` collects what every element-wise activation receives on
a fixed probe set, :func:`unit_moments` its per-unit mean and standard
deviation, and :func:`distribution_shift` how far those move between two
moments of training, in units of the spread; :class:`ShiftMonitor` records it
after every step of :func:`dltheory.train.fit`.

**Internal covariate shift, as Santurkar et al. define it** (their Definition
2.1). With :math:`G_i = \\nabla_{W_i} L(W_1, \\dots, W_k)` and
:math:`G_i' = \\nabla_{W_i} L(W_1^+, \\dots, W_{i-1}^+, W_i, \\dots, W_k)`, where
:math:`W^+` are the weights after the step, the shift of layer :math:`i` is
:math:`\\lVert G_i - G_i'\\rVert`: how much the gradient a layer receives changes
because the layers before it moved. :func:`gradient_ics`.

Every probe evaluates the model through ``torch.func.functional_call`` on its
own parameters (and copies of its buffers), in the mode it is in, without
changing it; noisy batch norms keep their last draw throughout
(:func:`dltheory.models.normalization.frozen_noise`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from . import losses
from ._checks import check_int, check_module, check_real, check_tensor, check_Xy, named_parameters
from .models.dense import ELEMENTWISE
from .models.normalization import frozen_noise
from .train import Callback, StepInfo

__all__ = ["bn_input_gradient", "LandscapeProbe", "landscape_probe", "GradientICS", "gradient_ics", "weight_layers",
           "preactivations", "unit_moments", "distribution_shift", "ShiftMonitor"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- evaluation


class _Evaluator:
    """The loss on ``(X, y)`` as a function of the trainable parameters; the model itself never changes."""

    def __init__(self, model: nn.Module, loss, X, y) -> None:
        check_module(model)
        named_parameters(model)
        self.model = model
        self.loss_name = losses.name_of(loss)
        self.loss_fn = losses.resolve(loss)
        self.X, self.y = check_Xy(X, y, like=model)
        self.trainable = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
        if not self.trainable:
            raise ValueError(f"{type(model).__name__} has no trainable parameters (requires_grad=True)")
        self.frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
        self.buffers = {n: b.detach() for n, b in model.named_buffers()}
        self.checked = False

    def value(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        state = {**params, **self.frozen, **{n: b.clone() for n, b in self.buffers.items()}}
        out = functional_call(self.model, state, (self.X,))
        if not self.checked:
            losses.check_targets(self.loss_name or self.loss_fn, out.detach(), self.y)
            self.checked = True
        value = self.loss_fn(out, self.y)
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            raise ValueError("the loss must return a scalar (0-dim tensor): reduce over examples, e.g. with .mean()")
        return value

    def value_and_grad(self, params: dict[str, torch.Tensor]) -> tuple[float, dict[str, torch.Tensor]]:
        leaves = {n: t.detach().clone().requires_grad_(True) for n, t in params.items()}
        value = self.value(leaves)
        grads = torch.autograd.grad(value, list(leaves.values()), allow_unused=True)
        return value.item(), {n: (g if g is not None else torch.zeros_like(leaves[n])).detach()
                              for (n, g) in zip(leaves, grads)}


def _norm(parts: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in parts.values()))


def _finite_or_inf(x: float) -> float:
    return x if math.isfinite(x) else math.inf


# --------------------------------------------------------------------------- the batch-norm backward pass


def bn_input_gradient(y: Any, grad_out: Any, gamma: Any, eps: float = 0.0) -> torch.Tensor:
    """The gradient with respect to a batch norm's input, from the gradient with respect to its output.

    For one unit with batch values :math:`y \\in \\mathbb{R}^m`, mean :math:`\\mu`,
    :math:`\\sigma = \\sqrt{\\operatorname{var}(y) + \\epsilon}` (biased variance),
    :math:`\\hat y = (y - \\mu)/\\sigma` and output :math:`z = \\gamma \\hat y + \\beta`,
    the chain rule through :math:`\\mu` and :math:`\\sigma` gives, with
    :math:`g = \\partial L/\\partial z`,

    .. math::

        \\frac{\\partial L}{\\partial y}
        = \\frac{\\gamma}{\\sigma}\\Big(g - \\frac{\\langle \\mathbf 1, g\\rangle}{m}\\mathbf 1
                                        - \\frac{\\langle \\hat y, g\\rangle}{m}\\hat y\\Big).

    For :math:`\\epsilon = 0`, :math:`\\mathbf 1` and :math:`\\hat y` are orthogonal with
    squared norm :math:`m`, so the bracket is the projection of :math:`g` off both
    and :math:`\\lVert\\partial L/\\partial y\\rVert^2 = \\frac{\\gamma^2}{\\sigma^2}\\big(\\lVert g\\rVert^2
    - \\langle\\mathbf 1, g\\rangle^2/m - \\langle\\hat y, g\\rangle^2/m\\big)`: Santurkar et
    al. (2018), Theorem 4.1, where :math:`g` is also the gradient the network
    without the batch norm would pass to :math:`y`.

    Parameters
    ----------
    y, grad_out
        ``(m, units)``: the batch norm's input and the gradient with respect to its output.
    gamma
        ``(units,)``: the scales :math:`\\gamma`.
    eps
        The :math:`\\epsilon` added to the variance (``torch.nn.BatchNorm1d``'s ``eps``).

    Returns
    -------
    Tensor of shape ``(m, units)``, float64.
    """
    y = check_tensor(y, "y", ndim=2).double()
    g = check_tensor(grad_out, "grad_out", ndim=2).double()
    gamma = check_tensor(gamma, "gamma", ndim=1).double()
    eps = check_real(eps, "eps", min=0.0)
    if g.shape != y.shape or gamma.shape != y.shape[1:]:
        raise ValueError(f"y and grad_out must have the same shape (m, units) and gamma (units,), got "
                         f"{tuple(y.shape)}, {tuple(g.shape)} and {tuple(gamma.shape)}")
    if y.shape[0] < 2:
        raise ValueError("a batch norm needs a batch of at least 2 examples")
    sigma = torch.sqrt(y.var(dim=0, correction=0) + eps)
    if (sigma == 0).any():
        raise ValueError("a unit is constant over the batch (variance 0 and eps=0): its normalisation is undefined")
    y_hat = (y - y.mean(dim=0)) / sigma
    return gamma / sigma * (g - g.mean(dim=0) - y_hat * (g * y_hat).mean(dim=0))


# --------------------------------------------------------------------------- along the gradient


@dataclass(frozen=True)
class LandscapeProbe:
    """The loss and the gradient along :math:`-g` from one point (see :func:`landscape_probe`).

    Attributes
    ----------
    step_sizes
        The grid :math:`\\eta_1, \\dots, \\eta_m` (shape ``(m,)``).
    losses
        :math:`L(\\theta - \\eta_k g)`; ``inf`` where the loss is not finite.
    gradient_changes
        :math:`\\lVert\\nabla L(\\theta - \\eta_k g) - g\\rVert`; ``inf`` where not finite
        (all NaN when the probe was asked for losses only).
    loss
        :math:`L(\\theta)`.
    gradient_norm
        :math:`\\lVert g\\rVert`.
    """

    step_sizes: np.ndarray
    losses: np.ndarray
    gradient_changes: np.ndarray
    loss: float
    gradient_norm: float

    @property
    def loss_range(self) -> float:
        """:math:`\\max_k L(\\theta - \\eta_k g) - \\min_k L(\\theta - \\eta_k g)` (``inf`` if a loss is not finite)."""
        return float(self.losses.max() - self.losses.min()) if np.isfinite(self.losses).all() else math.inf

    @property
    def beta(self) -> float:
        """Effective smoothness: the largest ratio over the grid of gradient change to distance moved.

        :math:`\\max_k \\lVert\\nabla L(\\theta - \\eta_k g) - g\\rVert / (\\eta_k \\lVert g\\rVert)`;
        ``0`` for a zero gradient that does not change, ``inf`` for one that does.
        """
        if self.gradient_norm == 0:
            return 0.0 if np.all(self.gradient_changes == 0) else math.inf
        return float(np.max(self.gradient_changes / (self.step_sizes * self.gradient_norm)))


def _check_step_sizes(step_sizes) -> np.ndarray:
    eta = check_tensor(torch.as_tensor(np.asarray(step_sizes, dtype=np.float64)), "step_sizes", ndim=1).numpy()
    if eta.size == 0 or not np.all(eta > 0):
        raise ValueError(f"step_sizes must be a non-empty 1-d array of positive numbers, got {eta.tolist()}")
    return eta


def landscape_probe(model: nn.Module, loss: str | Loss, X: Any, y: Any, step_sizes: Sequence[float], *,
                    gradients: bool = True) -> LandscapeProbe:
    """Probe the loss and its gradient along the negative gradient (Santurkar et al. 2018, Fig. 4).

    With :math:`g = \\nabla_\\theta L(\\theta)` the gradient of the loss on
    ``(X, y)`` with respect to the trainable parameters, evaluates
    :math:`L(\\theta - \\eta g)` and, with ``gradients=True``,
    :math:`\\lVert \\nabla L(\\theta - \\eta g) - g\\rVert` for every :math:`\\eta` in
    ``step_sizes``; see :class:`LandscapeProbe` for the loss range and the
    effective :math:`\\beta`. The model is evaluated in its current mode, with its
    noisy batch norms frozen, on its own parameters moved functionally: it is
    left exactly as it was.

    Parameters
    ----------
    model
        Any module; a batch norm in it normalises by the statistics of ``X``.
    loss
        A name of :mod:`dltheory.losses` or a callable ``loss(outputs, targets)`` (a mean).
    X, y
        The batch (tensors or array-likes), moved to the model's device and dtype.
    step_sizes
        Positive step sizes :math:`\\eta`, shape ``(m,)``.
    gradients
        Also measure the gradient at every point (one backward pass each).

    Returns
    -------
    LandscapeProbe
    """
    evaluator = _Evaluator(model, loss, X, y)
    eta = _check_step_sizes(step_sizes)
    with frozen_noise(model):
        loss0, g = evaluator.value_and_grad(evaluator.trainable)
        values, changes = [], []
        for step in eta:
            moved = {n: p - float(step) * g[n] for n, p in evaluator.trainable.items()}
            if gradients:
                value, g_step = evaluator.value_and_grad(moved)
                change = _norm({n: g_step[n] - g[n] for n in g})
            else:
                with torch.no_grad():
                    value, change = evaluator.value(moved).item(), math.nan
            finite = math.isfinite(value)
            values.append(value if finite else math.inf)
            changes.append(math.nan if not gradients else _finite_or_inf(change) if finite else math.inf)
    return LandscapeProbe(eta, np.array(values), np.array(changes), loss0, _norm(g))


# --------------------------------------------------------------------------- Santurkar's gradient ICS


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own a trainable weight with two or more dimensions (linear, convolution).

    These are the "layers" :math:`W_1, \\dots, W_k` of :func:`gradient_ics`, in
    registration order (which is forward order for an ``nn.Sequential``).
    """
    names = [name for name, module in check_module(model).named_modules()
             if isinstance(getattr(module, "weight", None), nn.Parameter) and module.weight.ndim >= 2
             and module.weight.requires_grad]
    if not names:
        raise ValueError(f"{type(model).__name__} has no layer with a trainable weight matrix or filter bank")
    return names


@dataclass(frozen=True)
class GradientICS:
    """Santurkar et al.'s internal covariate shift of every layer at one step (see :func:`gradient_ics`).

    Attributes
    ----------
    layers
        The layer names (:func:`weight_layers`), first to last.
    difference
        :math:`\\lVert G_i - G_i'\\rVert` per layer.
    relative
        :math:`\\lVert G_i - G_i'\\rVert / \\lVert G_i\\rVert` per layer.
    cosine
        :math:`\\cos(G_i, G_i')` per layer.
    """

    layers: tuple[str, ...]
    difference: np.ndarray
    relative: np.ndarray
    cosine: np.ndarray


def gradient_ics(model: nn.Module, loss: str | Loss, X: Any, y: Any, lr: float) -> GradientICS:
    """Internal covariate shift as the change of each layer's gradient when the earlier layers move.

    Santurkar et al. (2018), Definition 2.1: for the layers :math:`W_1, \\dots, W_k`
    (:func:`weight_layers`) and the batch ``(X, y)``,

    .. math::

        G_i = \\nabla_{W_i} L(W_1, \\dots, W_k), \\qquad
        G_i' = \\nabla_{W_i} L(W_1^+, \\dots, W_{i-1}^+, W_i, \\dots, W_k),

    where :math:`W^+ = W - \\eta \\nabla_W L` is the plain gradient step of size
    ``lr`` on the same batch (the update of ``torch.optim.SGD`` without momentum
    or weight decay). "Earlier" means every trainable parameter registered
    before :math:`W_i` (the biases and batch-norm scales of earlier layers
    included); :math:`G_i` is the gradient of :math:`W_i`'s weight. The first
    layer has no earlier layers and a shift of 0. The model is not changed.

    Returns
    -------
    GradientICS
        :math:`\\lVert G_i - G_i'\\rVert`, its ratio to :math:`\\lVert G_i\\rVert` and
        the cosine between them, per layer.
    """
    evaluator = _Evaluator(model, loss, X, y)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    names = weight_layers(model)
    order = list(evaluator.trainable)
    diffs, rels, coss = [], [], []
    with frozen_noise(model):
        _, g = evaluator.value_and_grad(evaluator.trainable)
        for layer in names:
            weight = f"{layer}.weight" if layer else "weight"
            cut = order.index(weight)
            moved = {n: (p - lr * g[n] if k < cut else p) for k, (n, p) in enumerate(evaluator.trainable.items())}
            G = g[weight].double().reshape(-1)
            G2 = evaluator.value_and_grad(moved)[1][weight].double().reshape(-1) if cut else G
            diff = torch.linalg.vector_norm(G - G2).item()
            size = torch.linalg.vector_norm(G).item()
            diffs.append(diff)
            rels.append(diff / size if size > 0 else math.nan)
            denom = size * torch.linalg.vector_norm(G2).item()
            coss.append(torch.dot(G, G2).item() / denom if denom > 0 else math.nan)
    return GradientICS(tuple(names), np.array(diffs), np.array(rels), np.array(coss))


# --------------------------------------------------------------------------- distributions of layer inputs


def preactivations(model: nn.Module, X: Any) -> list[torch.Tensor]:
    """What every element-wise activation of the model receives on ``X`` (its pre-activations).

    One forward pass, in the model's current mode (a batch norm normalises by
    the statistics of ``X``; noisy batch norms keep their last draw), without
    gradients and without changing the model; the inputs of each activation
    module (:data:`dltheory.models.dense.ELEMENTWISE`) are captured by forward
    pre-hooks, in the order the forward pass calls them.

    Returns
    -------
    list of Tensor
        One ``(n, units, ...)`` tensor per activation call.
    """
    check_module(model)
    p = named_parameters(model)[0][1]
    X = check_tensor(X, "X").to(device=p.device, dtype=p.dtype)
    captured: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
             for m in model.modules() if isinstance(m, ELEMENTWISE)]
    if not hooks:
        raise ValueError(f"{type(model).__name__} has no element-wise activation module to read inputs from")
    state = {n: t for n, t in model.named_parameters()}
    state.update({n: b.clone() for n, b in model.named_buffers()})
    try:
        with torch.no_grad(), frozen_noise(model):
            functional_call(model, state, (X,))
    finally:
        for h in hooks:
            h.remove()
    return captured


def unit_moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit mean and standard deviation (biased) of ``z`` of shape ``(n, units, ...)``.

    A unit is a column of an ``(n, units)`` matrix or a channel of an image
    batch; its statistics run over the examples (and the positions), as a batch
    norm's do. Returns two float64 tensors of shape ``(units,)``.
    """
    z = check_tensor(z, "z")
    if z.ndim < 2:
        raise ValueError(f"z must have shape (n, units, ...), got {tuple(z.shape)}")
    flat = z.double().transpose(0, 1).reshape(z.shape[1], -1)
    return flat.mean(dim=1), flat.std(dim=1, correction=0)


def distribution_shift(before: tuple[torch.Tensor, torch.Tensor], after: tuple[torch.Tensor, torch.Tensor]) -> float:
    """How far a layer's unit distributions moved, relative to their spread:

    .. math::  \\sqrt{\\frac{\\sum_j W_2\\big(N(m_j, s_j^2), N(m_j', s_j'^2)\\big)^2}{\\sum_j s_j^2}}
               = \\sqrt{\\frac{\\sum_j (m_j' - m_j)^2 + (s_j' - s_j)^2}{\\sum_j s_j^2}},

    where :math:`W_2(N(m, s^2), N(m', s'^2))^2 = (m' - m)^2 + (s' - s)^2` is the
    squared 2-Wasserstein distance between Gaussians with the units' moments
    before (:math:`m_j, s_j`) and after (:math:`m_j', s_j'`): the root-mean-square
    movement of the units' distributions in units of their root-mean-square
    spread before. Scale-free (a layer of centred units whose values all double scores 1; one
    whose units' means all move by one standard deviation scores 1), and not
    dominated by nearly dead units, as a mean of per-unit ratios would be.
    ``nan`` if every unit has zero spread before.

    Parameters
    ----------
    before, after
        ``(means, stds)`` pairs of shape ``(units,)``, as :func:`unit_moments` returns.
    """
    (m0, s0), (m1, s1) = before, after
    m0, s0, m1, s1 = (check_tensor(t, name, ndim=1).double()
                      for t, name in ((m0, "before means"), (s0, "before stds"), (m1, "after means"),
                                      (s1, "after stds")))
    if not (m0.shape == s0.shape == m1.shape == s1.shape):
        raise ValueError(f"moments must all have the same shape (units,), got {tuple(m0.shape)}, "
                         f"{tuple(s0.shape)}, {tuple(m1.shape)}, {tuple(s1.shape)}")
    if (s0 < 0).any() or (s1 < 0).any():
        raise ValueError("standard deviations must be non-negative")
    spread = s0.pow(2).sum()
    if spread == 0:
        return math.nan
    return torch.sqrt(((m1 - m0).pow(2) + (s1 - s0).pow(2)).sum() / spread).item()


class ShiftMonitor(Callback):
    """A :func:`dltheory.train.fit` callback: the step-to-step distribution shift of every layer's input.

    At every step :math:`t` that is a multiple of ``every`` it computes the
    :func:`distribution_shift` of each activation's input between the network
    after step :math:`t - 1` and after step :math:`t`, on a fixed probe set
    ``X`` (:func:`preactivations`; noisy batch norms under the draw of the step
    each network was trained with). ``steps`` lists those :math:`t` and
    ``shifts`` one row per step, one shift per activation; :meth:`mean`
    averages them. (With ``every > 1`` the moments are also taken at the step
    before each multiple.)

    The probe set is the same at every step, so the shift measures how the
    layers' input *distributions* change, not the batch-to-batch sampling noise
    of their statistics. Steps at which an input is not finite (a diverging
    run, which :func:`~dltheory.train.fit` stops at its next check) are skipped.
    """

    def __init__(self, X: Any, every: int = 1) -> None:
        self.X = check_tensor(X, "X")
        self.every = check_int(every, "every", min=1)
        self.previous: tuple[int, list[tuple[torch.Tensor, torch.Tensor]]] | None = None
        self.steps: list[int] = []
        self.shifts: list[list[float]] = []

    def on_step(self, info: StepInfo) -> None:
        t = info.step
        if t % self.every and (t + 1) % self.every:
            return
        inputs = preactivations(info.model, self.X)
        if not all(bool(torch.isfinite(z).all()) for z in inputs):  # diverging: fit stops at its next check
            self.previous = None
            return
        moments = [unit_moments(z) for z in inputs]
        if t % self.every == 0 and self.previous is not None and self.previous[0] == t - 1:
            self.steps.append(t)
            self.shifts.append([distribution_shift(a, b) for a, b in zip(self.previous[1], moments)])
        self.previous = (t, moments)

    def mean(self) -> float:
        """The shift averaged over steps and activations (``nan`` before any)."""
        values = np.array(self.shifts, dtype=np.float64)
        return float(np.nanmean(values)) if values.size else math.nan

    def state_dict(self) -> dict:
        return {"previous": self.previous, "steps": self.steps, "shifts": self.shifts}

    def load_state_dict(self, state: dict) -> None:
        self.previous, self.steps = state["previous"], list(state["steps"])
        self.shifts = [list(row) for row in state["shifts"]]
