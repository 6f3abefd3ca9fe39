"""The networks the norm-based bounds speak about, and biases folded into their weights.

**Biases are folded, not refused.** A layer :math:`x \\mapsto A x + b` is the
bias-free layer :math:`\\tilde A = [A \\; b]` acting on :math:`(x, 1)`. The
input is augmented with a constant coordinate 1, every layer before the last
layer with a bias carries it on through a fixed extra row
:math:`(0, \\dots, 0, 1)` (ReLU, LeakyReLU and the identity leave 1 unchanged),
and a layer without a bias gets a zero column. The folded network computes
exactly the same function, has no biases, and the bounds are applied to it, so
that

* :math:`\\lVert \\tilde A_i\\rVert_F^2 = \\lVert A_i\\rVert_F^2 + \\lVert b_i\\rVert^2`
  (+1 for the carrying row),
* :math:`\\lVert \\tilde A_i\\rVert_\\sigma \\ge \\max(\\lVert [A_i\\; b_i]\\rVert_\\sigma, 1)`
  where a carrying row is present,
* :math:`\\lVert (\\tilde A_i - \\tilde M_i)^\\top\\rVert_{2,1} = \\sum_r
  \\sqrt{\\lVert a_r - m_r\\rVert^2 + (b_r - c_r)^2}` (the carrying row adds 0),
* the data enter as :math:`\\tilde x_i = (x_i, 1)`:
  :math:`\\lVert \\tilde X\\rVert_F^2 = \\lVert X\\rVert_F^2 + n` and
  :math:`\\max_i \\lVert \\tilde x_i\\rVert = \\max_i \\sqrt{\\lVert x_i\\rVert^2 + 1}`,
* the path norm counts the paths that start at a bias, as in Neyshabur et al.

A bias-free model is left untouched.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_real, check_Xy
from ..models import DenseLayer, DenseLayers, dense_layers

__all__ = ["bound_layers", "folded_weights", "fold_inputs", "check_bound_data"]


def bound_layers(model: nn.Module) -> DenseLayers:
    """The dense layers of a network the norm-based bounds hold for; ``ValueError`` otherwise.

    A dense chain (:func:`dltheory.models.dense_layers`) whose activations are
    1-Lipschitz and positively homogeneous with :math:`\\sigma(0) = 0`: ReLU,
    the identity, LeakyReLU with slope in :math:`[-1, 1]`.
    """
    layers = dense_layers(model, homogeneous=True)
    for layer in layers:
        for act in layer.activations:
            if isinstance(act, nn.LeakyReLU) and abs(act.negative_slope) > 1:
                raise ValueError(f"LeakyReLU with slope {act.negative_slope} after layer {layer.index} is not "
                                 "1-Lipschitz, which the bounds assume; use a slope in [-1, 1]")
    return layers


def _effective(layer: DenseLayer) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Effective weight matrix and bias of a layer, detached, in float64 on the CPU."""
    weight = layer.weight.detach().to("cpu", torch.float64)
    bias = layer.bias
    return weight, None if bias is None else bias.detach().to("cpu", torch.float64)


def last_bias(layers: DenseLayers) -> int:
    """Index (from 0) of the last layer with a bias, -1 if none."""
    return max((i for i, layer in enumerate(layers) if layer.module.bias is not None), default=-1)


def fold(layers: DenseLayers, last: int) -> list[torch.Tensor]:
    """The folded matrices, with biases up to layer ``last`` (from 0) folded in."""
    mats = []
    for i, layer in enumerate(layers):
        weight, bias = _effective(layer)
        if i > last:
            mats.append(weight)
            continue
        column = torch.zeros(weight.shape[0], dtype=torch.float64) if bias is None else bias
        folded = torch.cat([weight, column[:, None]], dim=1)
        if i < last:
            carry = torch.zeros(1, folded.shape[1], dtype=torch.float64)
            carry[0, -1] = 1.0
            folded = torch.cat([folded, carry], dim=0)
        mats.append(folded)
    return mats


def folded_weights(model: nn.Module) -> list[torch.Tensor]:
    """The bias-free matrices :math:`\\tilde A_1, \\dots, \\tilde A_L` of the folded network (float64, CPU).

    For a bias-free model these are the effective weight matrices. Otherwise
    layer :math:`i` up to the last layer with a bias becomes
    :math:`\\tilde A_i = [A_i \\; b_i]` (a zero column where the layer has no
    bias) and, before that last layer, gains the row :math:`(0,\\dots,0,1)`
    that carries the constant input coordinate; the network
    :math:`x \\mapsto \\tilde A_L \\sigma(\\cdots \\sigma(\\tilde A_1 (x, 1)))`
    is the original one. Raises ``ValueError`` for unsupported architectures.
    """
    layers = bound_layers(model)
    return fold(layers, last_bias(layers))


def fold_inputs(model: nn.Module, X) -> torch.Tensor:
    """``X`` as the folded network sees it: ``(x, 1)`` rows if the model has biases (float64, CPU)."""
    layers = bound_layers(model)
    X = torch.as_tensor(X).detach().to("cpu", torch.float64)
    if last_bias(layers) < 0:
        return X
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=torch.float64)], dim=1)


def check_bound_data(model: nn.Module, X, y) -> tuple[DenseLayers, torch.Tensor, torch.Tensor]:
    """The layers of :func:`bound_layers` and a training set ``(n, d)`` that fits the first one."""
    layers = bound_layers(model)
    X, y = check_Xy(X, y, like=model, X_ndim=2)
    if X.shape[1] != layers.in_features:
        raise ValueError(f"X has {X.shape[1]} features but the first layer takes {layers.in_features}")
    return layers, X, y


def check_margin(gamma) -> float:
    """The margin :math:`\\gamma` of a margin bound: a positive number."""
    return check_real(gamma, "gamma", min=0.0, min_open=True)
