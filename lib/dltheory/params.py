"""A model as a function of one flat parameter vector, for ``torch.func`` transforms.

Parameters are flattened in the order of
``torch.nn.utils.parameters_to_vector(model.parameters())``, the convention of
every curvature and kernel routine of the library; :func:`slices` says where
each named parameter sits in that vector.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ._checks import named_parameters

__all__ = ["flat_parameters", "unflatten", "as_function", "slices"]


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """All parameters as one detached vector (``parameters_to_vector`` order)."""
    named_parameters(model)
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()


def slices(model: nn.Module) -> dict[str, slice]:
    """Where each named parameter sits in the flat vector: ``{name: slice}``.

    ``theta[slices(model)["0.weight"]]`` is the first layer's weight matrix,
    flattened row by row (``view(-1)`` order), and ``J[..., slices(model)[name]]``
    the Jacobian with respect to it.
    """
    out, start = {}, 0
    for name, p in named_parameters(model):
        out[name] = slice(start, start + p.numel())
        start += p.numel()
    return out


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector into the model's named parameter shapes (views of ``theta``)."""
    named = named_parameters(model)
    total = sum(p.numel() for _, p in named)
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"theta must be a tensor, got {type(theta).__name__}")
    if theta.ndim != 1 or theta.numel() != total:
        raise ValueError(f"expected a flat vector of {total} parameters, got shape {tuple(theta.shape)}")
    return {name: theta[where].view_as(p) for (name, p), where in zip(named, slices(model).values())}


def as_function(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``f(theta, X)``: the model's outputs on ``X`` with its parameters replaced by ``theta``."""
    named_parameters(model)

    def f(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return functional_call(model, unflatten(model, theta), (X,))

    return f
