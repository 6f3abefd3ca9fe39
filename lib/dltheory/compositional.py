"""Deep versus shallow networks on a compositional target, at equal parameter counts.

The experiments of the section "Deep versus shallow on compositional functions"
(Mhaskar, Liao, Poggio 2016, *When and why are deep networks better than shallow
ones?*; Poggio, Mhaskar, Rosasco, Miranda, Liao 2017, *Why and when can
deep-but-not-shallow networks avoid the curse of dimensionality*). The target is
:func:`dltheory.data.binary_tree`, a function of :math:`d = 2^L` variables built
as a binary tree of two-variable constituents. Four architectures are compared:

``"shallow"``
    One hidden layer of :math:`N` ReLU units, ``mlp([d, N, 1])``.
``"deep_fc"``
    :math:`L` fully connected hidden layers of :math:`N` units each,
    ``mlp([d, N, ..., N, 1])``: as deep as the tree, without locality.
``"tree_local"``
    :class:`dltheory.models.TreeNetwork` with ``shared=False``: the tree's
    structure, every node its own small network (locally connected layers).
``"tree_conv"``
    The same with ``shared=True``: the nodes of a level share their weights
    (convolutions).

:func:`build` picks the free width (:math:`N`, or the hidden units per node
:math:`m`) whose parameter count is closest to a budget
(:func:`dltheory.models.width_for_budget`), :func:`train_and_score` trains one
network by the protocol every architecture gets (full-batch Adam on the square
loss from the same seed, the best of a few step sizes by *training* loss), and
:func:`relative_error` is the error the section plots: the mean squared error
divided by the variance of the targets, so that predicting the mean scores 1.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from . import models, train

__all__ = ["ARCHITECTURES", "build", "free_width", "relative_error", "train_and_score", "sweep"]

#: The architectures :func:`build` knows.
ARCHITECTURES = ("shallow", "deep_fc", "tree_local", "tree_conv")


def _depth_of(inputs: int) -> int:
    if isinstance(inputs, bool) or not isinstance(inputs, int) or inputs < 2 or inputs & (inputs - 1):
        raise ValueError(f"inputs must be a power of two >= 2 (the leaves of a binary tree), got {inputs!r}")
    return inputs.bit_length() - 1


def _check_architecture(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {list(ARCHITECTURES)}")


def _count(architecture: str, inputs: int, width: int, channels: int) -> int:
    depth = _depth_of(inputs)
    if architecture == "shallow":
        return models.mlp_parameter_count([inputs, width, 1])
    if architecture == "deep_fc":
        return models.mlp_parameter_count([inputs, *[width] * depth, 1])
    return models.tree_parameter_count(depth, width, channels, shared=architecture == "tree_conv")


def free_width(architecture: str, inputs: int, budget: int, *, channels: int = 1) -> int:
    """The width (units per hidden layer, or per tree node) that brings ``architecture`` closest to ``budget``."""
    _check_architecture(architecture)
    _depth_of(inputs)
    return models.width_for_budget(lambda w: _count(architecture, inputs, w, channels), budget)


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
    node passes up (:class:`dltheory.models.TreeNetwork`). Every network maps
    ``(n, inputs)`` to ``(n, 1)`` and is initialised under ``seed``.
    """
    _check_architecture(architecture)
    depth = _depth_of(inputs)
    if (budget is None) == (width is None):
        raise ValueError("give exactly one of budget (a parameter count) and width")
    if width is None:
        width = free_width(architecture, inputs, budget, channels=channels)
    elif isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if architecture == "shallow":
        return models.mlp([inputs, width, 1], seed=seed, dtype=dtype, device=device)
    if architecture == "deep_fc":
        return models.mlp([inputs, *[width] * depth, 1], seed=seed, dtype=dtype, device=device)
    return models.TreeNetwork(depth, width, channels, shared=architecture == "tree_conv", seed=seed,
                              dtype=dtype, device=device)


def relative_error(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """:math:`\\sum_i (f(x_i) - y_i)^2 / \\sum_i (y_i - \\bar y)^2`: 0 is perfect, 1 is predicting the mean."""
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor) or X.shape[0] != y.shape[0]:
        raise ValueError("X and y must be tensors with one row per example")
    if y.numel() != y.shape[0] or y.shape[0] < 2:
        raise ValueError(f"y must hold one number for each of at least two examples, got shape {tuple(y.shape)}")
    with torch.no_grad():
        out = model(X).reshape(-1).double()
        target = y.reshape(-1).double()
        spread = (target - target.mean()).pow(2).sum()
        if spread == 0:
            raise ValueError("the targets are all equal: the relative error is undefined")
        return ((out - target).pow(2).sum() / spread).item()


def train_and_score(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    *,
    lrs: Sequence[float],
    steps: int,
) -> dict:
    """Train ``model`` by the protocol every architecture gets, and score it.

    From the same initial weights, one run of full-batch Adam
    (:func:`dltheory.train.fit`, ``optimizer="adam"``, square loss, ``steps``
    updates) for each step size in ``lrs``; the run with the smallest final
    *training* loss is kept (the test set plays no part in the choice) and its
    weights are left in ``model``. A run that diverges counts as the worst.

    Returns a dict with ``parameters``, ``lr`` (the one kept),
    ``train_error`` and ``test_error`` (:func:`relative_error`).
    """
    lrs = list(lrs)
    if not lrs:
        raise ValueError("lrs must list at least one step size")
    start = copy.deepcopy(model.state_dict())
    best: tuple[float, float, dict] | None = None
    for lr in lrs:
        model.load_state_dict(start)
        try:
            history = train.fit(model, *train_data, loss="square", optimizer="adam", lr=lr, steps=steps,
                                record_every=max(steps, 1), progress=False)
            loss = float(history["loss"][-1])
        except FloatingPointError:
            loss = math.inf
        if best is None or loss < best[0]:
            best = (loss, lr, copy.deepcopy(model.state_dict()))
    loss, lr, state = best
    if not math.isfinite(loss):
        raise FloatingPointError(f"training diverged for every step size in {lrs}")
    model.load_state_dict(state)
    return {
        "parameters": models.count_parameters(model),
        "lr": lr,
        "train_error": relative_error(model, *train_data),
        "test_error": relative_error(model, *test_data),
    }


def sweep(
    architectures: Sequence[str],
    budgets: Sequence[int],
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    *,
    lrs: Sequence[float],
    steps: int,
    channels: int = 1,
    seed: int = 0,
) -> list[dict]:
    """Every architecture at every budget, trained and scored by :func:`train_and_score`.

    Returns one row per run: ``architecture``, ``budget``, ``width`` and the
    entries of :func:`train_and_score`. The networks take the data's dtype and
    device; ``inputs`` is the number of columns of ``X``.
    """
    X = train_data[0]
    inputs = X.shape[1]
    rows = []
    for budget in budgets:
        for architecture in architectures:
            width = free_width(architecture, inputs, budget, channels=channels)
            model = build(architecture, inputs, width=width, channels=channels, seed=seed, dtype=X.dtype,
                          device=X.device)
            row = {"architecture": architecture, "budget": budget, "width": width}
            row.update(train_and_score(model, train_data, test_data, lrs=lrs, steps=steps))
            rows.append(row)
    return rows
