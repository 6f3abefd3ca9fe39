"""Multilayer perceptrons in standard or NTK parametrisation, and parameter counts.

The NTK parametrisation (Jacot, Gabriel, Hongler 2018) draws every weight and
bias from :math:`N(0, 1)` and scales in the forward pass,

.. math::  z^{l} = \\frac{\\sigma_w}{\\sqrt{n_{l-1}}} W^{l} a^{l-1} + \\sigma_b b^{l},

so that the network's tangent kernel converges, as the widths grow, to the
deterministic kernel :func:`dltheory.ntk.relu_ntk` (neural-tangents'
``stax.Dense(W_std=σ_w, b_std=σ_b, parameterization='ntk')`` convention).

In standard parametrisation :func:`mlp` can also draw He-normal weights (He,
Zhang, Ren, Sun 2015), :math:`W_{ij} \\sim N(0, 2/n_{l-1})` with zero biases,
which keeps the second moment of ReLU pre-activations constant from layer to
layer, and put a batch normalisation (plain or "noisy", see
:mod:`dltheory.models.normalization`) between each hidden linear layer and its
activation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import (check_bool, check_choice, check_device, check_dtype, check_int, check_module, check_real,
                       check_seed)
from .normalization import NoisyBatchNorm, batch_norm, layer_seed

__all__ = ["NTKLinear", "Square", "mlp", "ACTIVATIONS", "NORMS", "INITS", "count_parameters", "mlp_parameter_count",
           "width_for_budget"]

M = TypeVar("M", bound=nn.Module)



class Square(nn.Module):
    """The quadratic activation :math:`\\sigma(z) = z^2`, element-wise.

    A two-layer network :math:`f(x) = \\sum_j a_j (w_j^\\top x)^2 =
    x^\\top W^\\top \\operatorname{diag}(a) W x` is a quadratic form in
    :math:`x`, which is what makes its landscape analysable (Livni,
    Shalev-Shwartz, Shamir 2014; Du & Lee 2018, "On the power of
    over-parametrization in neural networks with quadratic activation").
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.square()


#: The activations :func:`mlp` and :func:`dltheory.models.two_layer` accept, by name.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
    "square": Square,
}

#: The normalisations :func:`mlp` can put before each hidden activation.
NORMS = (None, "batch", "noisy_batch")
#: The initialisations of :func:`mlp` in standard parametrisation.
INITS = ("torch", "he")


def seeded(build: Callable[[], M], seed: int | None, device: torch.device | str | None) -> M:
    """``build()`` on ``device``; with a ``seed``, drawn on the CPU under that seed and then moved.

    Only the CPU generator is seeded (``torch.manual_seed`` would reseed every
    CUDA device too), inside ``fork_rng``, which restores its state: the global
    generators are left as they were, and the initial weights do not depend on
    the device they end up on.
    """
    if seed is None:
        module = build()
        return module if device is None else module.to(device)
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        module = build()
    return module if device is None else module.to(device)


def check_widths(widths: Sequence[int]) -> list[int]:
    """Layer widths ``[d, N_1, ..., d']``: at least two positive integers."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a sequence of positive integers, got {type(widths).__name__}")
    if len(widths) < 2:
        raise ValueError(f"widths must list at least an input and an output size, got {list(widths)}")
    return [check_int(w, f"widths[{i}]", min=1) for i, w in enumerate(widths)]


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
        self.weight_scale = check_real(weight_std, "weight_std", min=0.0, min_open=True) / math.sqrt(in_features)
        self.bias_scale = check_real(bias_std, "bias_std", min=0.0)
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
    norm: str | None = None,
    init: str = "torch",
    noise_seed: int | None = None,
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
    norm
        ``None`` (default): nothing between a hidden layer and its activation.
        ``"batch"``: ``BatchNorm1d(width, track_running_stats=False)``, which
        normalises by the statistics of the batch it is given in training and
        in evaluation mode (:func:`dltheory.models.normalization.batch_norm`).
        ``"noisy_batch"``: a :class:`~dltheory.models.normalization.NoisyBatchNorm`
        with its default noise. Either way the network is
        ``Linear -> norm -> activation`` for each hidden layer, and the linear
        layers are drawn exactly as without ``norm`` (the same seed gives the
        same linear weights), so networks with and without normalisation start
        from matched points.
    init
        ``"torch"`` (default): ``torch.nn.Linear``'s own initialisation,
        uniform with variance :math:`1/(3 n_{l-1})`, under which a deep ReLU
        network's signal shrinks by a factor of about 6 in variance per layer.
        ``"he"``: He-normal weights :math:`N(0, 2/n_{l-1})` and zero biases
        (He et al. 2015), standard parametrisation only.
    noise_seed
        Seeds the noisy layers (layer ``k`` from ``layer_seed(noise_seed, k)``);
        default ``seed``.
    seed
        Initialise under this seed, on the CPU and without touching the global
        generators, then move to ``device`` (see :func:`seeded`).
    """
    widths = check_widths(widths)
    bias = check_bool(bias, "bias")
    dtype = None if dtype is None else check_dtype(dtype)
    device = None if device is None else check_device(device)
    check_choice(activation, "activation", ACTIVATIONS)
    check_choice(parametrization, "parametrization", ("standard", "ntk"))
    if parametrization == "standard" and (weight_var is not None or bias_var is not None):
        raise ValueError("weight_var and bias_var set the NTK parametrisation; use parametrization='ntk'")
    weight_var = check_real(2.0 if weight_var is None else weight_var, "weight_var", min=0.0, min_open=True)
    bias_var = check_real(0.0 if bias_var is None else bias_var, "bias_var", min=0.0)
    check_choice(norm, "norm", NORMS)
    check_choice(init, "init", INITS)
    if init == "he" and parametrization == "ntk":
        raise ValueError("init='he' is for the standard parametrisation; the NTK parametrisation draws N(0, 1) "
                         "weights and scales them by weight_std / sqrt(fan_in) (weight_var=2.0 is He's variance)")
    if noise_seed is not None and norm != "noisy_batch":
        raise ValueError("noise_seed seeds the noisy batch norms; it needs norm='noisy_batch'")
    noise_seed = check_seed(noise_seed, "noise_seed") if noise_seed is not None else seed

    def build() -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            if parametrization == "ntk":
                layers.append(NTKLinear(fan_in, fan_out, bias, weight_std=math.sqrt(weight_var),
                                        bias_std=math.sqrt(bias_var), dtype=dtype))
            else:
                layers.append(nn.Linear(fan_in, fan_out, bias, dtype=dtype))
                if init == "he":
                    nn.init.kaiming_normal_(layers[-1].weight, mode="fan_in", nonlinearity="relu")
                    if bias:
                        nn.init.zeros_(layers[-1].bias)
            if i < len(widths) - 2:
                if norm == "batch":
                    layers.append(batch_norm(fan_out, dtype=dtype))
                elif norm == "noisy_batch":  # draws nothing from the global generator: the weights stay matched
                    seed_k = None if noise_seed is None else layer_seed(noise_seed, i)
                    layers.append(NoisyBatchNorm(fan_out, seed=seed_k, dtype=dtype))
                layers.append(ACTIVATIONS[activation]())
        return nn.Sequential(*layers)

    return seeded(build, seed, device)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in ``model`` (parameters with ``requires_grad``)."""
    return sum(p.numel() for p in check_module(model).parameters() if p.requires_grad)


def mlp_parameter_count(widths: Sequence[int], bias: bool = True) -> int:
    """Parameters of :func:`mlp` with these widths: :math:`\\sum_k (N_{k-1} + [\\text{bias}])\\, N_k`."""
    widths = check_widths(widths)
    return sum((a + int(bias)) * b for a, b in zip(widths[:-1], widths[1:]))


def width_for_budget(count: Callable[[int], int], budget: int, *, max_width: int = 1 << 24) -> int:
    """The width :math:`w \\ge 1` whose parameter count ``count(w)`` is closest to ``budget``.

    ``count`` must be non-decreasing in :math:`w` (e.g.
    ``lambda w: mlp_parameter_count([8, w, 1])``); ties go to the smaller width.
    Used to compare architectures at (nearly) equal parameter counts.
    """
    budget = check_int(budget, "budget", min=1)
    max_width = check_int(max_width, "max_width", min=1)
    if not callable(count):
        raise TypeError("count must be a function width -> parameter count")
    low, high = 1, 1
    while count(high) < budget:
        low, high = high, 2 * high
        if high > max_width:
            raise ValueError(f"no width up to {max_width} reaches {budget} parameters")
    while high - low > 1:  # count(low) < budget <= count(high), or low == high == 1
        mid = (low + high) // 2
        low, high = (mid, high) if count(mid) < budget else (low, mid)
    return min({low, high}, key=lambda w: (abs(count(w) - budget), w))
