"""A model as a function of one flat parameter vector, for ``torch.func`` transforms.

Parameters are flattened in the order of
``torch.nn.utils.parameters_to_vector(model.parameters())``, the convention of
every curvature and kernel routine of the library.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["flat_parameters", "unflatten", "as_function", "check_model"]


def check_model(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The model's named parameters; a ``ValueError`` if it has none."""
    named = list(model.named_parameters())
    if not named:
        raise ValueError(f"{type(model).__name__} has no parameters: there is nothing to differentiate")
    return named


def flat_parameters(model: nn.Module) -> torch.Tensor:
    """All parameters as one detached vector (``parameters_to_vector`` order)."""
    check_model(model)
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector into the model's named parameter shapes (views of ``theta``)."""
    named = check_model(model)
    total = sum(p.numel() for _, p in named)
    if theta.ndim != 1 or theta.numel() != total:
        raise ValueError(f"expected a flat vector of {total} parameters, got shape {tuple(theta.shape)}")
    out, start = {}, 0
    for name, p in named:
        out[name] = theta[start : start + p.numel()].view_as(p)
        start += p.numel()
    return out


def as_function(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``f(theta, X)``: the model's outputs on ``X`` with its parameters replaced by ``theta``."""
    check_model(model)

    def f(theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        return functional_call(model, unflatten(model, theta), (X,))

    return f
