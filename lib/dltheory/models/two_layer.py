"""Two-layer networks :math:`f(x) = V\\,\\sigma(Wx)` whose outer layer is trained or held fixed.

Many of the first provable results on neural networks train only the hidden
layer :math:`W \\in \\mathbb{R}^{m\\times d}` and fix the outer layer
:math:`V \\in \\mathbb{R}^{k\\times m}` at a known value:

======================  ============================================  ===============================
``outer``               :math:`V` (before ``outer_scale``)            used by
======================  ============================================  ===============================
``"fixed_sign"``        :math:`+1` on the first half of the units,    Brutzkus, Globerson, Malach,
                        :math:`-1` on the second half                 Shalev-Shwartz (2018)
``"fixed_gaussian"``    i.i.d. :math:`N(0, 1)`                        Li and Liang (2018)
``"fixed_ones"``        all ones                                      Safran and Shamir (2018)
``"trainable"``         i.i.d. :math:`N(0, 1)`, trained               Du, Zhai, Poczos, Singh (2019)
======================  ============================================  ===============================

and every entry is multiplied by ``outer_scale`` (default :math:`1/\\sqrt m`).
The hidden layer is an ``nn.Linear`` with weights drawn from
:math:`N(0, \\sigma_w^2/d)` (``scaling="standard"``; ``weight_var`` =
:math:`\\sigma_w^2`, 2 by default, He initialisation; 0 starts at
:math:`W = 0`) or an :class:`~dltheory.models.NTKLinear` with standard normal
parameters and the factor :math:`\\sigma_w/\\sqrt d` in the forward pass
(``scaling="ntk"``).

The network is an ``nn.Sequential`` ``(hidden, activation, outer)``, so that
:func:`~dltheory.models.dense_layers` and everything built on it (margins,
norms, bounds, the NTK) read it like any other MLP. A fixed outer layer is an
``nn.Linear`` whose weight has ``requires_grad=False``: optimisers and
:func:`~dltheory.models.count_parameters` skip it, and
:func:`dltheory.ntk.empirical_ntk` skips it with ``trainable_only=True``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_bool, check_choice, check_device, check_dtype, check_int, check_real
from .mlp import ACTIVATIONS, NTKLinear, seeded

__all__ = ["OUTER_LAYERS", "two_layer"]

OUTER_LAYERS = ("fixed_sign", "fixed_gaussian", "fixed_ones", "trainable")


def _outer_pattern(kind: str, out_features: int, width: int) -> torch.Tensor:
    """The outer weights of ``kind`` before scaling, drawn from the global (seeded) generator."""
    if kind == "fixed_sign":
        signs = torch.ones(width)
        signs[width // 2:] = -1.0
        return signs.expand(out_features, width).clone()
    if kind == "fixed_ones":
        return torch.ones(out_features, width)
    return torch.randn(out_features, width)


def two_layer(
    d: int,
    width: int,
    out_features: int = 1,
    *,
    activation: str = "relu",
    negative_slope: float | None = None,
    outer: str = "trainable",
    outer_scale: float | None = None,
    scaling: str = "standard",
    weight_var: float = 2.0,
    bias: bool = False,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """The two-layer network :math:`f(x) = V \\sigma(Wx + b)`, with :math:`V` fixed or trained.

    Parameters
    ----------
    d, width, out_features
        Input dimension :math:`d`, number of hidden units :math:`m`, outputs :math:`k`.
    activation
        A name in :data:`~dltheory.models.ACTIVATIONS`; ``"leaky_relu"`` takes
        its slope :math:`\\alpha` from ``negative_slope`` (default 0.01, PyTorch's).
    outer
        One of :data:`OUTER_LAYERS` (see the module docstring). ``"fixed_sign"``
        needs an even ``width``: the two halves :math:`\\pm` are the positive and
        negative units of Brutzkus et al.
    outer_scale
        The factor on every outer weight, default :math:`1/\\sqrt{m}`.
    scaling, weight_var
        ``"standard"``: hidden weights :math:`N(0, \\sigma_w^2/d)`, ``weight_var``
        :math:`= \\sigma_w^2 \\ge 0`. ``"ntk"``: :class:`NTKLinear` with
        ``weight_std`` :math:`= \\sigma_w > 0`.
    bias
        A hidden bias (zero at initialisation in standard scaling, standard
        normal in NTK scaling with ``bias_std`` 0, i.e. inactive until trained).
    seed
        Draw the initial weights under this seed (see :func:`~dltheory.models.mlp`).

    Examples
    --------
    Brutzkus et al.'s network with :math:`2k` leaky-ReLU units and
    :math:`v = \\pm 1/\\sqrt k`, started at :math:`W = 0`:

    >>> k = 50
    >>> net = two_layer(10, 2 * k, activation="leaky_relu", negative_slope=0.5,
    ...                 outer="fixed_sign", outer_scale=k ** -0.5, weight_var=0.0)
    >>> count_parameters(net)  # only W is trained
    1000
    """
    d = check_int(d, "d", min=1)
    width = check_int(width, "width", min=1)
    out_features = check_int(out_features, "out_features", min=1)
    check_choice(activation, "activation", ACTIVATIONS)
    check_choice(outer, "outer", OUTER_LAYERS)
    check_choice(scaling, "scaling", ("standard", "ntk"))
    bias = check_bool(bias, "bias")
    dtype = None if dtype is None else check_dtype(dtype)
    device = None if device is None else check_device(device)
    if outer == "fixed_sign" and width % 2:
        raise ValueError(f"outer='fixed_sign' splits the units into two equal halves; width must be even, got {width}")
    if negative_slope is not None and activation != "leaky_relu":
        raise ValueError(f"negative_slope is the slope of activation='leaky_relu', not of {activation!r}")
    slope = check_real(0.01 if negative_slope is None else negative_slope, "negative_slope")
    scale = check_real(1 / math.sqrt(width) if outer_scale is None else outer_scale, "outer_scale",
                       min=0.0, min_open=True)
    weight_var = check_real(weight_var, "weight_var", min=0.0, min_open=scaling == "ntk")

    def build() -> nn.Sequential:
        if scaling == "ntk":
            hidden = NTKLinear(d, width, bias, weight_std=math.sqrt(weight_var), dtype=dtype)
        else:
            hidden = nn.Linear(d, width, bias, dtype=dtype)
            with torch.no_grad():
                hidden.weight.normal_(0.0, math.sqrt(weight_var / d))
                if bias:
                    hidden.bias.zero_()
        act = nn.LeakyReLU(slope) if activation == "leaky_relu" else ACTIVATIONS[activation]()
        output = nn.Linear(width, out_features, bias=False, dtype=dtype)
        with torch.no_grad():
            output.weight.copy_(scale * _outer_pattern(outer, out_features, width))
        output.weight.requires_grad_(outer == "trainable")
        return nn.Sequential(hidden, act, output)

    return seeded(build, seed, device)
