"""Architectures compared at an equal parameter budget, on inputs of :math:`d = 2^L` variables.

The comparison of deep and shallow networks on a compositional target
(Mhaskar, Liao, Poggio 2016; Poggio, Mhaskar, Rosasco, Miranda, Liao 2017) is
only fair when every network has (nearly) the same number of parameters.

``"shallow"``
    One hidden layer of :math:`N` ReLU units, ``mlp([d, N, 1])``.
``"deep_fc"``
    :math:`L` fully connected hidden layers of :math:`N` units each,
    ``mlp([d, N, ..., N, 1])``: as deep as the tree, without locality.
``"tree_local"``
    :class:`~dltheory.models.TreeNetwork` with ``shared=False``: the tree's
    structure, every node its own small network (locally connected layers).
``"tree_conv"``
    The same with ``shared=True``: the nodes of a level share their weights
    (convolutions).

:func:`free_width` picks the free width (:math:`N`, or the hidden units per
node :math:`m`) whose parameter count is closest to a budget, and
:func:`build` builds the network.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_choice, check_int
from .local import TreeNetwork, tree_parameter_count
from .mlp import mlp, mlp_parameter_count, width_for_budget

__all__ = ["ARCHITECTURES", "build", "free_width"]

#: The architectures :func:`build` knows.
ARCHITECTURES = ("shallow", "deep_fc", "tree_local", "tree_conv")


def _depth_of(inputs: int) -> int:
    inputs = check_int(inputs, "inputs", min=2, kind="a power of two >= 2 (the leaves of a binary tree)")
    if inputs & (inputs - 1):
        raise ValueError(f"inputs must be a power of two >= 2 (the leaves of a binary tree), got {inputs!r}")
    return inputs.bit_length() - 1


def _count(architecture: str, inputs: int, width: int, channels: int) -> int:
    depth = _depth_of(inputs)
    if architecture == "shallow":
        return mlp_parameter_count([inputs, width, 1])
    if architecture == "deep_fc":
        return mlp_parameter_count([inputs, *[width] * depth, 1])
    return tree_parameter_count(depth, width, channels, shared=architecture == "tree_conv")


def free_width(architecture: str, inputs: int, budget: int, *, channels: int = 1) -> int:
    """The width (units per hidden layer, or per tree node) that brings ``architecture`` closest to ``budget``."""
    check_choice(architecture, "architecture", ARCHITECTURES)
    _depth_of(inputs)
    return width_for_budget(lambda w: _count(architecture, inputs, w, channels), budget)


def build(
    architecture: str,
    inputs: int,
    budget: int | None = None,
    *,
    width: int | None = None,
    channels: int = 1,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    """A network of ``architecture`` (see :data:`ARCHITECTURES`) on ``inputs`` = :math:`2^L` variables.

    Give either ``budget``, a target number of parameters (the width is then
    :func:`free_width`), or ``width`` itself: the hidden units per layer for the
    MLPs, per node for the trees. ``channels`` is the number of values a tree
    node passes up (:class:`~dltheory.models.TreeNetwork`). Every network maps
    ``(n, inputs)`` to ``(n, 1)`` and is initialised under ``seed``.
    """
    check_choice(architecture, "architecture", ARCHITECTURES)
    depth = _depth_of(inputs)
    if (budget is None) == (width is None):
        raise ValueError("give exactly one of budget (a parameter count) and width")
    if width is None:
        width = free_width(architecture, inputs, budget, channels=channels)
    width = check_int(width, "width", min=1)
    if architecture == "shallow":
        return mlp([inputs, width, 1], seed=seed, dtype=dtype, device=device)
    if architecture == "deep_fc":
        return mlp([inputs, *[width] * depth, 1], seed=seed, dtype=dtype, device=device)
    return TreeNetwork(depth, width, channels, shared=architecture == "tree_conv", seed=seed,
                       dtype=dtype, device=device)
