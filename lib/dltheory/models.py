"""Small models of the book: multilayer perceptrons in standard or NTK parametrisation.

The NTK parametrisation (Jacot, Gabriel, Hongler 2018) draws every weight and
bias from :math:`N(0, 1)` and scales in the forward pass,

.. math::  z^{l} = \\frac{\\sigma_w}{\\sqrt{n_{l-1}}} W^{l} a^{l-1} + \\sigma_b b^{l},

so that the network's tangent kernel converges, as the widths grow, to the
deterministic kernel :func:`dltheory.ntk.relu_ntk` (neural-tangents'
``stax.Dense(W_std=σ_w, b_std=σ_b, parameterization='ntk')`` convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["NTKLinear", "mlp", "ACTIVATIONS"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


class NTKLinear(nn.Linear):
    """A linear layer in NTK parametrisation: ``weight_scale * W x + bias_scale * b``.

    ``weight_scale = weight_std / sqrt(in_features)`` and ``bias_scale = bias_std``;
    the parameters themselves are standard normal. The gradient with respect to
    ``weight`` is ``weight_scale`` times the usual outer product, which
    :func:`dltheory.ntk.empirical_ntk` uses.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 weight_std: float = math.sqrt(2.0), bias_std: float = 0.0,
                 device=None, dtype=None) -> None:
        self.weight_scale = weight_std / math.sqrt(in_features)
        self.bias_scale = bias_std
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight)
        if self.bias is not None:
            nn.init.normal_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias_scale * self.bias
        return F.linear(x, self.weight_scale * self.weight, bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", weight_scale={self.weight_scale:.4g}, bias_scale={self.bias_scale:.4g}"


def mlp(
    widths: Sequence[int],
    activation: str = "relu",
    bias: bool = True,
    parametrization: str = "standard",
    *,
    weight_var: float | None = None,
    bias_var: float | None = None,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A multilayer perceptron ``widths[0] -> widths[1] -> ... -> widths[-1]``.

    Every hidden layer is followed by ``activation``; the last layer is linear.

    Parameters
    ----------
    widths
        Input dimension, hidden widths, output dimension (at least two entries).
    parametrization
        ``"standard"``: ``torch.nn.Linear`` with PyTorch's default initialisation.
        ``"ntk"``: :class:`NTKLinear` layers with ``weight_std = sqrt(weight_var)``
        (default 2.0) and ``bias_std = sqrt(bias_var)`` (default 0.0), the
        convention of :func:`dltheory.ntk.relu_ntk`.
    seed
        Initialise under this seed without touching the global generator.
    """
    if any(isinstance(w, bool) or int(w) != w for w in widths):
        raise ValueError(f"widths must be integers, got {list(widths)}")
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must list at least an input and an output size, all positive; got {widths}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    if parametrization not in ("standard", "ntk"):
        raise ValueError(f"parametrization must be 'standard' or 'ntk', got {parametrization!r}")
    if parametrization == "standard" and (weight_var is not None or bias_var is not None):
        raise ValueError("weight_var and bias_var set the NTK parametrisation; use parametrization='ntk'")
    weight_var = 2.0 if weight_var is None else float(weight_var)
    bias_var = 0.0 if bias_var is None else float(bias_var)
    if weight_var <= 0 or bias_var < 0:
        raise ValueError(f"need weight_var > 0 and bias_var >= 0, got {weight_var}, {bias_var}")

    def build() -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            if parametrization == "ntk":
                layers.append(NTKLinear(fan_in, fan_out, bias, weight_std=math.sqrt(weight_var),
                                        bias_std=math.sqrt(bias_var), dtype=dtype, device=device))
            else:
                layers.append(nn.Linear(fan_in, fan_out, bias, dtype=dtype, device=device))
            if i < len(widths) - 2:
                layers.append(ACTIVATIONS[activation]())
        return nn.Sequential(*layers)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
