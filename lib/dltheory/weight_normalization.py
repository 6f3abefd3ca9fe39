"""Weight normalisation of bias-free ReLU networks under the exponential loss: the projected
dynamics of the directions and the Lagrange-multiplier algorithm of Theory III.

Write a bias-free network with positively homogeneous activations as
:math:`f(x) = \\rho\\,\\tilde f(x; V_1, \\dots, V_L)`, where :math:`\\rho` is a scalar
and :math:`\\tilde f` is the same network with layers :math:`V_k`
(:func:`dltheory.homogeneity.normalized_network` gives :math:`V_k = W_k/\\lVert W_k\\rVert_F`
and :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`). Losses are the book's means,
:math:`L = \\frac1n\\sum_i e^{-y_i f(x_i)}`; the lecture writes sums, which only
rescales time.

* :func:`sphere_projector`: :math:`S = \\partial \\tilde w/\\partial w =
  (I - \\tilde w \\tilde w^\\top)/\\lVert w\\rVert` for :math:`\\tilde w = w/\\lVert w\\rVert`.
* :func:`direction_velocity`: under the gradient flow :math:`\\dot W_k = -\\nabla_{W_k} L`
  of the plain network, the directions :math:`V_k = W_k/\\rho_k` move as

  .. math::  \\dot V_k = S_k \\dot W_k = \\frac{\\rho}{\\rho_k^2}\\,\\frac1n\\sum_i e^{-y_i f(x_i)}\\, y_i
             \\bigl(I - V_k V_k^\\top\\bigr) \\nabla_{V_k} \\tilde f(x_i),

  (Euler's identity :math:`\\langle V_k, \\nabla_{V_k}\\tilde f\\rangle = \\tilde f` removes the
  radial part); with one layer this is the lecture's formula
  :math:`\\dot{\\tilde w} = \\frac1\\rho\\sum_n e^{-\\rho \\tilde f_n}(I - \\tilde w\\tilde w^\\top)
  \\partial \\tilde f_n/\\partial \\tilde w` (Poggio et al. 2018, Banburski et al. 2019).
* :class:`ScaledNetwork` and :class:`MultiplierGD`: gradient descent on
  :math:`(\\rho, V_1, \\dots, V_L)` for :math:`L(\\rho, V) + \\lambda\\sum_k(\\lVert V_k\\rVert_F^2 - 1)`,

  .. math::  \\dot\\rho = \\frac1n\\sum_i e^{-\\rho y_i \\tilde f_i} y_i \\tilde f_i, \\qquad
             \\dot V_k = \\rho\\,\\frac1n\\sum_i e^{-\\rho y_i\\tilde f_i} y_i \\nabla_{V_k}\\tilde f_i
             - 2\\lambda V_k ,

  so that, by Euler's identity, :math:`\\frac{d}{dt}\\lVert V_k\\rVert^2 = 2\\rho\\dot\\rho
  - 4\\lambda\\lVert V_k\\rVert^2`. With the multiplier :math:`\\lambda = \\rho\\dot\\rho/2`
  (``lam="multiplier"``) the unit sphere is invariant and attracting,
  :math:`\\lVert V_k\\rVert^2 - 1 \\propto e^{-(\\rho^2 - \\rho_0^2)}`; the lecture's
  :math:`\\lambda = \\rho\\dot\\rho` (``lam="lecture"``) drives
  :math:`\\lVert V_k\\rVert^2` to :math:`1/2` instead.
"""

from __future__ import annotations

import torch
from torch import nn

from torch.func import functional_call

from ._checks import check_X, check_real
from .models import DenseLayers, dense_layers

__all__ = ["sphere_projector", "direction_velocity", "ScaledNetwork", "MultiplierGD"]


def _plain_layers(model: nn.Module) -> DenseLayers:
    """The dense layers of a bias-free homogeneous chain whose weights are plain parameters."""
    layers = dense_layers(model, homogeneous=True, bias_free=True)
    for layer in layers:
        layer.parameter_name("weight")  # refuses a parametrised weight
        if layer.weight_scale != 1.0:
            raise ValueError(f"layer {layer.index} scales its weight (NTK parametrisation); use nn.Linear layers")
    return layers


def sphere_projector(w: torch.Tensor) -> torch.Tensor:
    """The Jacobian :math:`S = (I - \\tilde w\\tilde w^\\top)/\\lVert w\\rVert` of :math:`w \\mapsto w/\\lVert w\\rVert`.

    ``w`` is flattened; returns a ``(P, P)`` matrix. :math:`S w = 0`: the
    direction does not change when :math:`w` moves along itself.
    """
    w = w.detach().reshape(-1)
    norm = torch.linalg.vector_norm(w)
    if norm == 0:
        raise ValueError("w = 0 has no direction")
    u = w / norm
    return (torch.eye(w.numel(), dtype=w.dtype, device=w.device) - torch.outer(u, u)) / norm


def direction_velocity(model: nn.Module, X, y) -> list[torch.Tensor]:
    """:math:`\\dot V_k` of the directions :math:`V_k = W_k/\\lVert W_k\\rVert_F` under the gradient flow of the mean exponential loss.

    Evaluated with the formula of the module docstring: the gradient of the
    normalised network :math:`\\tilde f`, weighted by :math:`e^{-y_i f(x_i)} y_i`,
    projected on the tangent space of the unit sphere and scaled by
    :math:`\\rho/\\rho_k^2`. The tests compare it with a finite difference of
    :math:`W_k/\\lVert W_k\\rVert_F` along :math:`-\\nabla L`.

    Returns
    -------
    One tensor per dense layer, shaped like its weight matrix.
    """
    layers = _plain_layers(model)
    X = check_X(X, like=model)
    y = torch.as_tensor(y).to(device=X.device, dtype=X.dtype).reshape(-1)
    with torch.no_grad():
        rhos = [torch.linalg.matrix_norm(layer.weight) for layer in layers]
        weights_of_examples = torch.exp(-y * model(X).reshape(-1)) * y / X.shape[0]
    rho = torch.stack(rhos).prod()
    V = [(layer.weight / r).detach().requires_grad_(True) for layer, r in zip(layers, rhos)]
    params = {name: p.detach() for name, p in model.named_parameters()}
    params.update({layer.parameter_name("weight"): Vk for layer, Vk in zip(layers, V)})
    h = functional_call(model, params, (X,))  # the normalised network f~
    grads = torch.autograd.grad((weights_of_examples * h.reshape(-1)).sum(), V)
    out = []
    for Vk, g, rk in zip(V, grads, rhos):
        Vk = Vk.detach()
        tangent = g - (Vk * g).sum() * Vk
        out.append(rho / rk**2 * tangent)
    return out


class ScaledNetwork(nn.Module):
    """:math:`f(x) = \\rho\\,\\tilde f(x; V)`: a scalar parameter ``rho`` times a bias-free homogeneous network ``body``.

    ``body``'s dense layers are the matrices :math:`V_k`, free parameters
    whose norms an algorithm such as :class:`MultiplierGD` keeps near 1.
    """

    def __init__(self, body: nn.Module, rho: float = 1.0) -> None:
        super().__init__()
        self.layers = _plain_layers(body)
        self.body = body
        first = self.layers[0].weight
        self.rho = nn.Parameter(torch.tensor(check_real(rho, "rho"), dtype=first.dtype, device=first.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rho * self.body(x)

    def norms(self) -> list[float]:
        """:math:`\\lVert V_k\\rVert_F`, first layer first."""
        with torch.no_grad():
            return [torch.linalg.matrix_norm(W).item() for W in self.layers.weights]

    def normalized_margin(self, X, y) -> float:
        """:math:`\\min_i y_i \\tilde f(x_i) / \\prod_k \\lVert V_k\\rVert_F` (the sign of ``rho`` counts)."""
        with torch.no_grad():
            X = check_X(X, like=self)
            y = torch.as_tensor(y).to(device=X.device, dtype=X.dtype).reshape(-1)
            m = (y * torch.sign(self.rho) * self.body(X).reshape(-1)).min()
            return (m / torch.tensor(self.norms(), dtype=X.dtype).prod()).item()


class MultiplierGD(torch.optim.Optimizer):
    """Gradient descent on :math:`(\\rho, V)` for :math:`L + \\lambda\\sum_k(\\lVert V_k\\rVert_F^2 - 1)`.

    One step: :math:`\\rho \\leftarrow \\rho - \\eta\\,\\partial_\\rho L`,
    :math:`V_k \\leftarrow V_k - \\eta(\\nabla_{V_k} L + 2\\lambda V_k)`, with

    * ``lam`` a number: a fixed penalty;
    * ``lam="multiplier"``: :math:`\\lambda = \\rho\\dot\\rho/2 = -\\rho\\,\\partial_\\rho L/2`,
      which makes :math:`\\lVert V_k\\rVert = 1` invariant and attracting in
      continuous time (module docstring);
    * ``lam="lecture"``: :math:`\\lambda = \\rho\\dot\\rho`, the value on the lecture's
      slide, twice the one that keeps the constraint.

    The last :math:`\\lambda` is kept in ``self.last_lam``.
    """

    def __init__(self, model: ScaledNetwork, lr: float, lam: float | str = "multiplier") -> None:
        if not isinstance(model, ScaledNetwork):
            raise TypeError(f"MultiplierGD trains a ScaledNetwork, got {type(model).__name__}")
        lr = check_real(lr, "lr", min=0.0, min_open=True)
        if isinstance(lam, str):
            if lam not in ("multiplier", "lecture"):
                raise ValueError(f"lam must be a number, 'multiplier' or 'lecture', got {lam!r}")
        else:
            lam = check_real(lam, "lam", min=0.0)
        self.model, self.lam, self.last_lam = model, lam, float("nan")
        super().__init__(list(model.parameters()), {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        rho = self.model.rho
        lr = self.param_groups[0]["lr"]
        d_rho = -rho.grad if rho.grad is not None else torch.zeros_like(rho)
        if self.lam == "multiplier":
            lam = 0.5 * rho * d_rho
        elif self.lam == "lecture":
            lam = rho * d_rho
        else:
            lam = torch.as_tensor(self.lam, dtype=rho.dtype, device=rho.device)
        self.last_lam = float(lam)
        for layer in self.model.layers:
            param = layer.module.weight
            if param.grad is None:
                raise ValueError(f"layer {layer.index} has no gradient: call backward before step")
            param.add_(param.grad + 2 * lam * param, alpha=-lr)
        rho.add_(d_rho, alpha=lr)
        return loss
