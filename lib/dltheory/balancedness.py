"""Balanced layers: the product of the layer norms against the norm of all weights.

For layers :math:`W_1, \\dots, W_L` the arithmetic-geometric mean inequality,
applied to :math:`\\lVert W_j\\rVert_F^2`, gives

.. math::  \\prod_{j=1}^L \\lVert W_j\\rVert_F \\;\\le\\; L^{-L/2}\\,\\lVert W\\rVert_2^L,
           \\qquad \\lVert W\\rVert_2^2 = \\sum_{j=1}^L \\lVert W_j\\rVert_F^2,

with equality if and only if the layers are *balanced*, all
:math:`\\lVert W_j\\rVert_F` equal (:func:`frobenius_product`,
:func:`balanced_value`, :func:`balance_gap`). Two facts make the right side the
quantity that an :math:`\\ell_2` penalty controls in a bias-free ReLU network,
where :math:`f(\\dots, cW_j, \\dots, W_k/c, \\dots) = f` for :math:`c > 0`:

* at a minimiser (indeed at any stationary point) of
  :math:`\\mathcal L(W) + \\tfrac\\lambda2\\lVert W\\rVert_2^2`, the derivative of the
  rescaling :math:`c \\mapsto (\\dots, cW_j, \\dots, W_k/c, \\dots)` at :math:`c = 1`
  vanishes, which is :math:`\\lambda(\\lVert W_j\\rVert_F^2 - \\lVert W_k\\rVert_F^2) = 0`:
  the layers are balanced and the inequality is an equality;
* under gradient flow on :math:`\\mathcal L` alone, Euler's identity
  :math:`\\langle W_j, \\nabla_{W_j} f\\rangle = f` (every layer) gives
  :math:`\\tfrac{d}{dt}\\lVert W_j\\rVert_F^2 = -2\\sum_i \\ell'_i f(x_i)`, the
  same for every :math:`j`, so the differences
  :math:`\\lVert W_{j+1}\\rVert_F^2 - \\lVert W_j\\rVert_F^2` are conserved
  (Du, Hu, Lee 2018; :func:`norm_differences`). Gradient descent
  with step :math:`\\eta` conserves them up to :math:`O(\\eta)` over a fixed time.

The layers are read with :func:`dltheory.bounds.layer_weights` (biases are not
included: the statements above are for bias-free networks), or passed directly
as a list of matrices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ._checks import as_tensor, check_module
from .bounds.margins import layer_weights
from .homogeneity import scale_layers
from .models import dense_layers

__all__ = ["squared_norms", "frobenius_product", "balanced_value", "balance_gap", "norm_differences", "rebalance"]


def _layers(layers: nn.Module | Sequence) -> list[torch.Tensor]:
    if isinstance(layers, nn.Module):
        weights = layer_weights(check_module(layers, "layers"))
    elif isinstance(layers, (list, tuple)):
        weights = [as_tensor(W, f"layers[{j}]") for j, W in enumerate(layers)]
    else:
        raise TypeError(f"layers must be a network or a list of weight matrices, got {type(layers).__name__}")
    if not weights:
        raise ValueError("layers must hold at least one weight matrix")
    out = []
    for j, W in enumerate(weights):
        W = W.detach().to(torch.float64)
        if not torch.isfinite(W).all():
            raise ValueError(f"layer {j + 1} contains NaN or inf")
        out.append(W)
    return out


def squared_norms(layers: nn.Module | Sequence) -> list[float]:
    """:math:`\\lVert W_j\\rVert_F^2` for :math:`j = 1, \\dots, L` (float64)."""
    return [W.pow(2).sum().item() for W in _layers(layers)]


def frobenius_product(layers: nn.Module | Sequence) -> float:
    """:math:`\\prod_j \\lVert W_j\\rVert_F`, the left side of the inequality."""
    return math.prod(math.sqrt(s) for s in squared_norms(layers))


def balanced_value(layers: nn.Module | Sequence) -> float:
    """:math:`L^{-L/2}\\lVert W\\rVert_2^L`, the right side: the product the layers would have if balanced."""
    sq = squared_norms(layers)
    L = len(sq)
    return (sum(sq) / L) ** (L / 2)


def balance_gap(layers: nn.Module | Sequence) -> float:
    """:math:`1 - \\prod_j\\lVert W_j\\rVert_F / (L^{-L/2}\\lVert W\\rVert_2^L) \\in [0, 1]`: zero exactly when balanced.

    Computed as :math:`1 - \\exp(\\overline{\\log s} - \\log \\bar s)/\\ldots` in logarithms,
    :math:`s_j = \\lVert W_j\\rVert_F^2`, so it neither overflows for deep
    networks nor loses the small gaps near balance. A zero layer gives 1.
    """
    sq = squared_norms(layers)
    if min(sq) == 0.0:
        return 1.0 if max(sq) > 0 else 0.0
    L = len(sq)
    log_ratio = 0.5 * sum(math.log(s) for s in sq) - 0.5 * L * math.log(sum(sq) / L)
    return max(0.0, -math.expm1(log_ratio))


def norm_differences(layers: nn.Module | Sequence) -> list[float]:
    """:math:`\\lVert W_{j+1}\\rVert_F^2 - \\lVert W_j\\rVert_F^2` for :math:`j = 1, \\dots, L-1`: conserved by gradient flow."""
    sq = squared_norms(layers)
    return [b - a for a, b in zip(sq[:-1], sq[1:])]


def rebalance(model: nn.Module) -> nn.Module:
    """A copy of a bias-free ReLU network with every layer rescaled to the geometric mean of the norms.

    Layer :math:`j` is multiplied by :math:`c_j = \\bar\\rho/\\lVert W_j\\rVert_F` with
    :math:`\\bar\\rho = (\\prod_k\\lVert W_k\\rVert_F)^{1/L}`; since
    :math:`\\prod_j c_j = 1`, a positively homogeneous network computes the same
    function, and the product of the norms is unchanged while
    :math:`\\lVert W\\rVert_2` drops to its smallest value over such rescalings.
    Biases and activations that are not positively homogeneous raise ``ValueError``.
    """
    dense_layers(check_module(model), homogeneous=True, bias_free=True)
    norms = [math.sqrt(s) for s in squared_norms(model)]
    if min(norms) == 0.0:
        raise ValueError("a layer is zero: it cannot be rescaled to balance the others")
    mean = math.exp(sum(math.log(r) for r in norms) / len(norms))
    return scale_layers(model, [mean / r for r in norms])
