"""Fully connected residual networks in NTK parametrisation, with scaled branches.

:func:`residual_mlp` builds the residual network of Du, Lee, Li, Wang, Zhai
(2019), *Gradient descent finds global minima of deep neural networks*
(Section 6), with the :class:`~dltheory.models.NTKLinear` layers of this
library: all weights standard normal, and

.. math::

    h^{(1)} = \\sigma\\Big(\\frac{\\sigma_w}{\\sqrt d} W^{(1)} x\\Big), \\qquad
    h^{(l)} = h^{(l-1)} + \\alpha\\,\\sigma\\Big(\\frac{\\sigma_w}{\\sqrt m} W^{(l)} h^{(l-1)}\\Big)
    \\quad (l = 2, \\dots, L), \\qquad
    f(x) = \\frac{1}{\\sqrt m}\\, a^\\top h^{(L)},

with ``depth`` :math:`= L` hidden layers of width :math:`m` (one input layer
and :math:`L - 1` residual blocks) and ReLU :math:`\\sigma`. The branch scale
:math:`\\alpha` defaults to :math:`1/L`, so that the factor on each raw branch
weight is :math:`\\alpha\\sigma_w/\\sqrt m = \\sigma_w/(L\\sqrt m)`, Du et al.'s
:math:`c_{res}/(H\\sqrt m)`. With that scale a path through :math:`k` branches
carries :math:`\\alpha^k`, so the output, its gradients and the tangent kernel
stay of order one at every depth, and their fluctuations at finite width do
not compound over the layers the way a plain network's do (the reason the
width that Du et al.'s theorem requires is polynomial in :math:`L` for the
residual network and exponential for the plain one).

Every layer is an :class:`~dltheory.models.NTKLinear` called once per forward
pass, so :func:`dltheory.ntk.empirical_ntk` uses its structured method.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_bool, check_device, check_dtype, check_int, check_real
from .mlp import NTKLinear, seeded

__all__ = ["ResidualMLP", "residual_mlp"]


class ResidualMLP(nn.Module):
    """:math:`f(x) = a^\\top h^{(L)}/\\sqrt m` with residual blocks :math:`h \\leftarrow h + \\alpha\\,\\sigma(W h)`.

    Built by :func:`residual_mlp` (see the module docstring); ``input``,
    ``blocks`` and ``readout`` are its :class:`~dltheory.models.NTKLinear`
    layers, ``branch_scale`` is :math:`\\alpha`.
    """

    def __init__(self, d: int, width: int, depth: int, out_features: int, branch_scale: float,
                 weight_std: float, bias: bool, dtype: torch.dtype | None) -> None:
        super().__init__()
        self.branch_scale = branch_scale
        self.input = NTKLinear(d, width, bias, weight_std=weight_std, dtype=dtype)
        self.blocks = nn.ModuleList(NTKLinear(width, width, bias, weight_std=weight_std, dtype=dtype)
                                    for _ in range(depth - 1))
        self.readout = NTKLinear(width, out_features, bias, weight_std=1.0, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.input(x))
        for block in self.blocks:
            h = h + self.branch_scale * torch.relu(block(h))
        return self.readout(h)

    def extra_repr(self) -> str:
        return f"branch_scale={self.branch_scale:.4g}"


def residual_mlp(
    d: int,
    width: int,
    depth: int,
    out_features: int = 1,
    *,
    branch_scale: float | None = None,
    weight_var: float = 2.0,
    bias: bool = False,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> ResidualMLP:
    """A ReLU residual network with ``depth`` hidden layers of width ``width``, in NTK parametrisation.

    Parameters
    ----------
    d, width, out_features
        Input dimension, width :math:`m` of every hidden layer, outputs.
    depth
        Number of hidden layers :math:`L \\ge 1`: the input layer and
        :math:`L - 1` residual blocks (``depth=1`` is a two-layer network).
    branch_scale
        The factor :math:`\\alpha` on every residual branch, default
        :math:`1/L`. The effective scale of a raw branch weight is
        :math:`\\alpha\\sigma_w/\\sqrt m`, i.e. :math:`1/(L\\sqrt m)` up to
        :math:`\\sigma_w` (Du et al. 2019, ICML, Section 6).
    weight_var
        :math:`\\sigma_w^2` of the input layer and of the branches (the readout
        has :math:`\\sigma_w = 1`, as in Du et al.).
    bias
        Biases (standard normal, with ``bias_std`` 0: inactive until trained).
    seed
        Draw the initial weights under this seed (see :func:`~dltheory.models.mlp`).

    Returns
    -------
    ResidualMLP
        Mapping ``(n, d)`` to ``(n, out_features)``.

    Examples
    --------
    >>> net = residual_mlp(5, 64, depth=8, seed=0)
    >>> net.branch_scale, len(net.blocks)
    (0.125, 7)
    >>> net(torch.ones(3, 5)).shape
    torch.Size([3, 1])
    """
    d = check_int(d, "d", min=1)
    width = check_int(width, "width", min=1)
    depth = check_int(depth, "depth", min=1)
    out_features = check_int(out_features, "out_features", min=1)
    alpha = check_real(1.0 / depth if branch_scale is None else branch_scale, "branch_scale", min=0.0)
    weight_var = check_real(weight_var, "weight_var", min=0.0, min_open=True)
    bias = check_bool(bias, "bias")
    dtype = None if dtype is None else check_dtype(dtype)
    device = None if device is None else check_device(device)
    std = math.sqrt(weight_var)
    return seeded(lambda: ResidualMLP(d, width, depth, out_features, alpha, std, bias, dtype), seed, device)
