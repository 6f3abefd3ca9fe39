"""Positive homogeneity of ReLU networks: layer scaling, :math:`f = \\rho\\tilde f`, Euler's identity
and the rescaling symmetries.

A bias-free network whose activations satisfy :math:`\\sigma(cz) = c\\,\\sigma(z)`
for :math:`c > 0` (ReLU, LeakyReLU, the identity) is positively homogeneous of
degree one in each layer,

.. math::  f(x; W_1, \\dots, \\alpha W_k, \\dots, W_L) = \\alpha\\, f(x; W_1, \\dots, W_L),
           \\qquad \\alpha > 0,

so that :math:`f = \\rho\\,\\tilde f` with :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`
and :math:`\\tilde f` the network with unit-norm layers :math:`V_k = W_k/\\lVert W_k\\rVert_F`
(:func:`normalized_network`), and Euler's identity
:math:`\\sum_{ij} W_k^{ij}\\, \\partial f/\\partial W_k^{ij} = f` holds layer by layer
(:func:`euler_sums`; Liang, Poggio, Rakhlin, Stokes 2019 use it for the
Fisher-Rao norm). With biases the network is still invariant under the
rescaling of one hidden unit, its incoming weights and bias by :math:`c` and
its outgoing weights by :math:`1/c` (:func:`rescaling_directions`): a source of
zero Hessian eigenvalues that does not depend on the data.

Every function reads the layers through :func:`dltheory.models.dense_layers`,
so the effective matrices of :class:`~dltheory.models.NTKLinear` layers count.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, jvp

from ._checks import check_real, check_X, named_parameters
from .models import DenseLayer, dense_layers
from .params import slices

__all__ = ["scale_layers", "normalized_network", "euler_sums", "rescaling_directions"]


def _raw_name(layer: DenseLayer, what: str) -> str:
    if layer.parametrized:
        raise ValueError(f"layer {layer.index} has a parametrised weight; {what} needs the weight to be a "
                         "parameter of its own")
    return layer.parameter_name("weight")


def scale_layers(model: nn.Module, factors: Sequence[float]) -> nn.Module:
    """A deep copy of ``model`` with the effective weight of dense layer ``k`` multiplied by ``factors[k]``.

    One factor per layer of :func:`dltheory.models.dense_layers`, in forward
    order; biases are left alone. For a bias-free homogeneous network and
    positive factors the copy computes :math:`\\bigl(\\prod_k \\text{factors}_k\\bigr) f`.
    """
    layers = dense_layers(model)
    if isinstance(factors, (str, bytes)) or not isinstance(factors, Sequence):
        raise TypeError(f"factors must be a sequence of numbers, one per layer, got {type(factors).__name__}")
    if len(factors) != len(layers):
        raise ValueError(f"the model has {len(layers)} linear layers but {len(factors)} factors were given")
    factors = [check_real(f, f"factors[{i}]") for i, f in enumerate(factors)]
    for layer in layers:
        _raw_name(layer, "scale_layers")
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        for layer, factor in zip(dense_layers(scaled), factors):
            layer.module.weight.mul_(factor)
    return scaled


def normalized_network(model: nn.Module) -> tuple[nn.Module, list[float]]:
    """The weight normalisation :math:`W_k = \\rho_k V_k` of a bias-free homogeneous network.

    Returns a deep copy whose layers are :math:`V_k = W_k/\\rho_k` (unit
    Frobenius norm), which computes :math:`\\tilde f`, and the list of
    :math:`\\rho_k = \\lVert W_k\\rVert_F`, :math:`W_k` the matrix that multiplies
    the layer's input. Then :math:`f = \\prod_k \\rho_k\\,\\tilde f` (Liao,
    Miranda, Hidary, Poggio 2018). Biases and activations that are not
    positively homogeneous raise ``ValueError``: the factorisation would not hold.
    """
    layers = dense_layers(model, homogeneous=True, bias_free=True)
    with torch.no_grad():
        rhos = [torch.linalg.matrix_norm(layer.weight).item() for layer in layers]
    if min(rhos) == 0:
        raise ValueError("a layer is zero: it has no direction to normalise")
    return scale_layers(model, [1.0 / r for r in rhos]), rhos


def euler_sums(model: nn.Module, X) -> torch.Tensor:
    """:math:`\\sum_{ij} W_k^{ij}\\, \\partial f(x_n)/\\partial W_k^{ij}` for every layer ``k`` and example ``n``.

    Each row is one forward-mode derivative (``torch.func.jvp``) of the outputs
    in the direction of layer ``k``'s own weight parameter, all other parameters
    held fixed. For a network homogeneous of degree 1 in every layer (bias-free
    ReLU) each row equals the outputs :math:`f(x_n)`: Euler's identity.

    Returns
    -------
    torch.Tensor
        Shape ``(L, n)`` for a one-output network of ``L`` dense layers (the
        first output of a network with several).
    """
    layers = dense_layers(model)
    X = check_X(X, like=model)
    params = {name: p.detach() for name, p in named_parameters(model)}

    def outputs(weights: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(model, weights, (X,)).reshape(X.shape[0], -1)[:, 0]

    rows = []
    for layer in layers:
        key = _raw_name(layer, "euler_sums")
        tangent = {name: torch.zeros_like(p) for name, p in params.items()}
        tangent[key] = params[key]
        _, derivative = jvp(outputs, (params,), (tangent,))
        rows.append(derivative)
    return torch.stack(rows)


def rescaling_directions(model: nn.Module) -> torch.Tensor:
    """The tangents of the rescaling symmetries, one column per hidden unit.

    For hidden unit :math:`j` of layer :math:`l` the curve

    .. math::  c \\mapsto \\bigl(c\\,W_l[j, :],\\ c\\,b_l[j],\\ W_{l+1}[:, j] / c\\bigr), \\qquad c > 0,

    leaves the network function unchanged because the activation is positively
    homogeneous. Its tangent at :math:`c = 1` is
    :math:`v = (W_l[j, :], b_l[j], -W_{l+1}[:, j])`, zero elsewhere (in the
    raw parameters: for an :class:`~dltheory.models.NTKLinear` the scale factors
    cancel). Hence :math:`J v = 0` at every point, and :math:`H v = 0` at every
    critical point of any loss of the outputs (differentiate
    :math:`\\nabla L(w)^\\top v(w) = 0`). Different units have disjoint incoming
    weights, so the columns are linearly independent unless a unit's incoming
    weights are all zero.

    Parameters
    ----------
    model
        A dense chain (:func:`dltheory.models.dense_layers`) with at least two
        layers and homogeneous activations, with or without biases.

    Returns
    -------
    Tensor of shape ``(P, U)``, ``U`` the number of hidden units, in the model's
    dtype and device, rows in ``parameters_to_vector`` order.
    """
    layers = dense_layers(model, homogeneous=True)
    if len(layers) < 2:
        raise ValueError("the model needs at least two linear layers to have hidden units")
    where = slices(model)
    first = layers[0].module.weight
    P = sum(p.numel() for _, p in named_parameters(model))
    units = sum(layer.out_features for layer in layers[:-1])
    V = torch.zeros(P, units, dtype=first.dtype, device=first.device)
    column = 0
    with torch.no_grad():
        for inner, outer in zip(layers[:-1], layers[1:]):
            w_in = where[_raw_name(inner, "rescaling_directions")].start
            w_out = where[_raw_name(outer, "rescaling_directions")].start
            fan_in, fan_out = inner.in_features, outer.out_features
            for j in range(inner.out_features):
                # row j of W_l is contiguous; column j of W_{l+1} has stride in_features
                V[w_in + j * fan_in: w_in + (j + 1) * fan_in, column] = inner.module.weight[j]
                if inner.module.bias is not None:
                    V[where[inner.parameter_name("bias")].start + j, column] = inner.module.bias[j]
                rows = w_out + j + outer.in_features * torch.arange(fan_out, device=V.device)
                V[rows, column] = -outer.module.weight[:, j]
                column += 1
    return V
