"""Checker of chapter 1's exercise on the dynamics of the direction :math:`\\tilde w = w/\\lVert w\\rVert`.

The student writes ``direction_velocity(w, X, y)``: for the linear model
:math:`f(x) = \\langle w, x\\rangle` trained by gradient flow on the mean exponential
loss, :math:`\\dot w = -\\nabla L(w) = \\frac1n\\sum_i e^{-y_i\\langle w, x_i\\rangle} y_i x_i`,
the velocity of the direction,

.. math::  \\dot{\\tilde w} = S\\,\\dot w, \\qquad S = \\frac{I - \\tilde w\\tilde w^\\top}{\\lVert w\\rVert}.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..weight_normalization import sphere_projector
from .core import Feedback, check_function

__all__ = ["check_direction_velocity"]

HINT = ("compute w_dot = (exp(-y * (X @ w)) * y) @ X / n, the negative gradient of the mean exponential "
        "loss, then apply S = (I - u u^T) / ||w|| with u = w / ||w||.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Three problems with ||w|| far from 1, n != d and mixed-sign margins."""
    g = torch.Generator().manual_seed(1903)
    cases = []
    for n, d, scale in [(7, 3, 2.5), (12, 5, 0.4), (5, 8, 3.0)]:
        X = torch.randn(n, d, generator=g, dtype=torch.float64) / np.sqrt(d)
        y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
        w = scale * torch.randn(d, generator=g, dtype=torch.float64) / np.sqrt(d)
        cases.append((w, X, y))
    return cases


def _w_dot(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (torch.exp(-y * (X @ w)) * y) @ X / X.shape[0]


def _reference(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return sphere_projector(w) @ _w_dot(w, X, y)


def _mistakes(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    g, norm = _w_dot(w, X, y), torch.linalg.vector_norm(w)
    u = w / norm
    project = torch.eye(w.numel(), dtype=w.dtype) - torch.outer(u, u)
    return {
        "w_dot / ||w||, without the projection: remove the component along w, (I - u u^T) w_dot, "
        "since moving along w does not change the direction": g / norm,
        "(I - u u^T) w_dot without the factor 1/||w||: a longer w turns more slowly": project @ g,
        "the velocity of w itself, w_dot = -grad L: the question asks for the velocity of w / ||w||": g,
        "the projection divided by ||w||^2 instead of ||w||": project @ g / norm**2,
        "the projector built from w instead of the unit vector u = w / ||w||": (torch.eye(w.numel(), dtype=w.dtype)
                                                                                 - torch.outer(w, w)) @ g / norm,
        "the sum over examples instead of the mean (the book's losses are means)": X.shape[0] * project @ g / norm,
        "the labels are missing: the gradient of e^{-y <w, x>} carries a factor y x, not x":
            project @ (torch.exp(-y * (X @ w)) @ X / X.shape[0]) / norm,
        "the weights e^{-y_i <w, x_i>} are missing": project @ (y @ X / X.shape[0]) / norm,
    }


def check_direction_velocity(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Check ``direction_velocity(w, X, y)``: the velocity of :math:`w/\\lVert w\\rVert` under the gradient flow
    of the mean exponential loss of the linear model :math:`\\langle w, x\\rangle`.

    Inputs: ``w`` of shape ``(d,)``, ``X`` of shape ``(n, d)``, ``y`` in
    :math:`\\{\\pm1\\}` of shape ``(n,)``, all float64 tensors. The answer is a
    ``(d,)`` tensor or array. The reference is
    :func:`dltheory.weight_normalization.sphere_projector` applied to
    :math:`-\\nabla L`. The typical mistakes (no projection, no :math:`1/\\lVert w\\rVert`,
    a projector built from :math:`w` rather than :math:`w/\\lVert w\\rVert`, a sum
    instead of the mean, missing labels or weights) are named.
    """
    return check_function(fn, _reference, _cases(), name="direction_velocity", hint=HINT, mistakes=_mistakes)
