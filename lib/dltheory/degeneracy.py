"""Degenerate minima of ReLU networks: Takeuchi's counting condition and rescaling symmetries.

Under the square loss :math:`L(w) = \\frac1{2n}\\sum_i \\lVert f(x_i; w) - y_i\\rVert^2`
the Hessian at a point of zero loss is the Gauss-Newton matrix
:math:`J^\\top J / n`, with :math:`J` the :math:`(n d') \\times P` Jacobian of all
outputs. Its rank is at most :math:`n d'`, so an overparametrised network
(:math:`P > n d'`) has at least :math:`P - n d'` zero Hessian eigenvalues at every
twice-differentiable zero-loss point. The lecture deck of chapter 1 states a
layer-wise version that it credits to K. Takeuchi: the Hessian is singular as soon
as one layer satisfies :math:`N_k N_{k-1} > n \\min(N_k, \\dots, N_{H+1})`
(:func:`takeuchi_condition`).

A second source of zero eigenvalues does not depend on :math:`n` at all. A
hidden ReLU unit can have its incoming weights multiplied by :math:`c > 0` and its
outgoing weights divided by :math:`c` without changing the network, because
:math:`\\sigma(cz) = c\\,\\sigma(z)`. The tangent of that curve at :math:`c = 1`
(:func:`rescaling_directions`) is in the null space of :math:`J` everywhere and
in the null space of the Hessian at every critical point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .functional import check_model

__all__ = ["TakeuchiLayer", "takeuchi_condition", "rescaling_directions",
           "layer_columns", "near_zero_count"]

#: Activations :math:`\\sigma` with :math:`\\sigma(cz) = c\\,\\sigma(z)` for :math:`c > 0`.
_HOMOGENEOUS = (nn.ReLU, nn.LeakyReLU, nn.Identity)


class TakeuchiLayer(NamedTuple):
    """One row of :func:`takeuchi_condition`.

    ``layer`` is :math:`k` (1-based), ``weights`` is :math:`N_k N_{k-1}`, ``bound``
    is :math:`n \\min(N_k, \\dots, N_{H+1})` (an upper bound on the rank of the
    Jacobian with respect to layer :math:`k`'s weights) and ``holds`` says
    whether ``weights > bound``.
    """

    layer: int
    weights: int
    bound: int
    holds: bool


def _check_widths(widths: Sequence[int]) -> list[int]:
    if any(isinstance(w, bool) or int(w) != w for w in widths):
        raise ValueError(f"widths must be integers, got {list(widths)}")
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must list an input and an output size, all positive; got {widths}")
    return widths


def takeuchi_condition(widths: Sequence[int], n: int) -> list[TakeuchiLayer]:
    """Takeuchi's overparametrisation condition, layer by layer.

    For a bias-free network with widths :math:`N_0 = d, N_1, \\dots, N_{H+1} = d'`
    trained on :math:`n` examples, layer :math:`k` satisfies the condition when
    :math:`N_k N_{k-1} > n \\min(N_k, N_{k+1}, \\dots, N_{H+1})`. If any layer does,
    the Hessian of the square loss is singular at every twice-differentiable point
    of zero loss (Theorem 4 of the chapter's deck, credited to K. Takeuchi).

    The reason: the Jacobian of example :math:`i`'s outputs with respect to
    :math:`W_k` is :math:`D_i \\otimes a_{k-1}(x_i)^\\top` with :math:`D_i =
    \\partial f(x_i)/\\partial h_k` of rank at most :math:`\\min(N_k, \\dots,
    N_{H+1})`, so the columns of :math:`J` that belong to :math:`W_k` have rank at
    most the ``bound``.

    Parameters
    ----------
    widths
        ``[d, N_1, ..., N_H, d']``.
    n
        Number of training examples.

    Returns
    -------
    One :class:`TakeuchiLayer` per weight matrix, :math:`k = 1, \\dots, H+1`.
    """
    widths = _check_widths(widths)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rows = []
    for k in range(1, len(widths)):
        weights = widths[k] * widths[k - 1]
        bound = int(n) * min(widths[k:])
        rows.append(TakeuchiLayer(k, weights, bound, weights > bound))
    return rows


def _linear_chain(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a ``Sequential`` chain with homogeneous activations between them."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"expected an nn.Sequential of Linear layers and ReLUs, got {type(model).__name__}")
    linears = []
    for module in model:
        if isinstance(module, nn.Linear):
            linears.append(module)
        elif not isinstance(module, _HOMOGENEOUS):
            raise ValueError(
                f"{type(module).__name__} is not positively homogeneous: the rescaling symmetry "
                "needs sigma(c z) = c sigma(z) (ReLU, LeakyReLU, Identity)")
    if len(linears) < 2:
        raise ValueError("the model needs at least two Linear layers to have hidden units")
    owned = {id(p) for layer in linears for p in layer.parameters(recurse=False)}
    if owned != {id(p) for p in model.parameters()}:
        raise ValueError("every parameter must belong to one of the Linear layers")
    return linears


def _offsets(model: nn.Module) -> dict[int, int]:
    offsets, start = {}, 0
    for _, p in check_model(model):
        offsets[id(p)] = start
        start += p.numel()
    return offsets


def layer_columns(model: nn.Module) -> list[slice]:
    """Where each ``nn.Linear`` layer's weight matrix sits in the flat parameter vector.

    The order is that of ``parameters_to_vector(model.parameters())``, the
    convention of :mod:`dltheory.functional`, so ``J[..., layer_columns(m)[k-1]]``
    is the Jacobian with respect to :math:`W_k`.
    """
    linears = _linear_chain(model)
    offsets = _offsets(model)
    return [slice(offsets[id(m.weight)], offsets[id(m.weight)] + m.weight.numel()) for m in linears]


def rescaling_directions(model: nn.Module) -> torch.Tensor:
    """The tangents of the rescaling symmetries, one column per hidden unit.

    For hidden unit :math:`j` of layer :math:`l` the curve

    .. math::  c \\mapsto \\bigl(c\\,W_l[j, :],\\ c\\,b_l[j],\\ W_{l+1}[:, j] / c\\bigr), \\qquad c > 0,

    leaves the network function unchanged because the activation is positively
    homogeneous. Its tangent at :math:`c = 1` is
    :math:`v = (W_l[j, :], b_l[j], -W_{l+1}[:, j])`, zero elsewhere. Hence
    :math:`J v = 0` at every point, and :math:`H v = 0` at every critical point of
    any loss of the outputs (differentiate :math:`\\nabla L(w)^\\top v(w) = 0`).
    Different units have disjoint incoming weights, so the columns are linearly
    independent unless a unit's incoming weights are all zero.

    Parameters
    ----------
    model
        An ``nn.Sequential`` of ``nn.Linear`` layers (with or without bias) and
        ReLU, LeakyReLU or Identity activations.

    Returns
    -------
    Tensor of shape ``(P, U)``, ``U`` the number of hidden units, in the model's
    dtype and device, rows in ``parameters_to_vector`` order.
    """
    linears = _linear_chain(model)
    offsets = _offsets(model)
    first = linears[0].weight
    P = sum(p.numel() for p in model.parameters())
    units = sum(m.out_features for m in linears[:-1])
    V = torch.zeros(P, units, dtype=first.dtype, device=first.device)
    column = 0
    with torch.no_grad():
        for inner, outer in zip(linears[:-1], linears[1:]):
            w_in, w_out = offsets[id(inner.weight)], offsets[id(outer.weight)]
            fan_in, fan_out = inner.in_features, outer.out_features
            for j in range(inner.out_features):
                # row j of W_l is contiguous; column j of W_{l+1} has stride in_features
                V[w_in + j * fan_in: w_in + (j + 1) * fan_in, column] = inner.weight[j]
                if inner.bias is not None:
                    V[offsets[id(inner.bias)] + j, column] = inner.bias[j]
                rows = w_out + j + outer.in_features * torch.arange(fan_out, device=V.device)
                V[rows, column] = -outer.weight[:, j]
                column += 1
    return V


def near_zero_count(eigenvalues, rtol: float) -> int:
    """How many eigenvalues have :math:`|\\lambda| \\le \\text{rtol} \\cdot \\max_i |\\lambda_i|`."""
    values = torch.as_tensor(eigenvalues).detach().to("cpu", torch.float64).reshape(-1)
    if values.numel() == 0:
        raise ValueError("no eigenvalues given")
    if not torch.isfinite(values).all():
        raise ValueError("the eigenvalues contain NaN or inf")
    if not rtol >= 0:
        raise ValueError(f"rtol must be non-negative, got {rtol}")
    largest = values.abs().max()
    return int((values.abs() <= rtol * largest).sum())
