"""Margins, norms and the generalisation bounds built from them.

Margins (Bartlett, Foster, Telgarsky 2017, sec. 1): for binary labels
:math:`y \\in \\{\\pm 1\\}` and one output, :math:`\\gamma_i = y_i f(x_i)`; for
:math:`k` classes, :math:`\\gamma_i = f(x_i)_{y_i} - \\max_{j \\ne y_i} f(x_i)_j`.
A bias-free ReLU network is positively homogeneous of degree :math:`L` in its
weights, :math:`f(x; \\alpha W_1, \\dots, \\alpha W_L) = \\alpha^L f(x; W)`, so
:math:`f = \\rho \\tilde f` with :math:`\\rho = \\prod_k \\lVert W_k \\rVert_F` and
:math:`\\tilde f` the network with every layer normalised to unit Frobenius norm
(deck 1, "Homogeneity properties of ReLU networks"); the normalised margin is
:math:`\\gamma_i / \\rho`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["margins", "normalized_margins", "layer_weights", "layer_norms"]


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight matrices of the model's ``nn.Linear`` layers (``NTKLinear`` included), in order.

    For an :class:`~dltheory.models.NTKLinear` the effective matrix
    ``weight_scale * weight`` is returned, the one that multiplies the input.
    """
    weights = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            scale = getattr(module, "weight_scale", 1.0)
            weights.append(scale * module.weight)
    if not weights:
        raise ValueError(f"{type(model).__name__} has no linear layers to measure")
    return weights


def layer_norms(model: nn.Module) -> dict[str, list[float]]:
    """Per-layer Frobenius and spectral norms of :func:`layer_weights`, and their products.

    Returns ``{"frobenius": [floats], "spectral": [floats], "rho": float,
    "rho_spectral": float}`` with ``rho`` the product of the Frobenius norms and
    ``rho_spectral`` that of the spectral norms.
    """
    with torch.no_grad():
        weights = layer_weights(model)
        frobenius = [torch.linalg.matrix_norm(W).item() for W in weights]
        spectral = [torch.linalg.matrix_norm(W, ord=2).item() for W in weights]
    rho = rho_spectral = 1.0
    for f, s in zip(frobenius, spectral):
        rho *= f
        rho_spectral *= s
    return {"frobenius": frobenius, "spectral": spectral, "rho": rho, "rho_spectral": rho_spectral}


def margins(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example margins: :math:`y f(x)` (binary, one output) or :math:`f_y - \\max_{j\\ne y} f_j`.

    ``y`` holds labels in {-1, +1} for a one-output model, class indices for a
    ``k``-output model. Evaluated without gradients.
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    with torch.no_grad():
        out = model(X)
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] == 1:
        labels = y.reshape(-1)
        if not ((labels == 1) | (labels == -1)).all():
            raise ValueError("a one-output model needs labels in {-1, +1} (for 0/1 labels use 2 * y - 1)")
        return labels.to(out.dtype) * out[:, 0]
    if y.dtype not in (torch.int64, torch.int32) or y.ndim != 1:
        raise ValueError(f"a {out.shape[1]}-output model needs integer class indices of shape (n,)")
    if y.min() < 0 or y.max() >= out.shape[1]:
        raise ValueError(f"class indices must lie in [0, {out.shape[1] - 1}]")
    index = y.long().unsqueeze(1)
    correct = out.gather(1, index).squeeze(1)
    others = out.scatter(1, index, float("-inf")).max(dim=1).values
    return correct - others


def normalized_margins(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`margins` divided by :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`.

    For a bias-free ReLU network these are the margins of the normalised network
    :math:`\\tilde f`, which do not change when a layer is rescaled.
    """
    return margins(model, X, y) / layer_norms(model)["rho"]
