"""Margins and the layer norms they are divided by: the quantities that training records."""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_class_indices, check_module, check_sign_labels, check_Xy, probe
from ..models import dense_layers

__all__ = ["output_margins", "margins", "normalized_margins", "layer_weights", "layer_norms"]


def output_margins(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Margins from outputs already computed: :math:`y f` (one output) or :math:`f_y - \\max_{j\\ne y} f_j`.

    ``y`` holds labels in {-1, +1} for one output per example, class indices
    (any integer dtype) for ``k`` outputs. A margin :math:`\\le 0` is an error
    (ties count as errors).
    """
    out = outputs.reshape(outputs.shape[0], -1)
    if y.shape[0] != out.shape[0]:
        raise ValueError(f"there are {out.shape[0]} outputs but {y.shape[0]} labels")
    if out.shape[1] == 1:
        labels = check_sign_labels(y.reshape(-1), "a one-output model")
        return labels.to(out.dtype) * out[:, 0]
    index = check_class_indices(y, out.shape[1], f"a {out.shape[1]}-output model").long().unsqueeze(1)
    correct = out.gather(1, index).squeeze(1)
    others = out.scatter(1, index, float("-inf")).max(dim=1).values
    return correct - others


def margins(model: nn.Module, X, y) -> torch.Tensor:
    """Per-example margins of ``model`` on ``(X, y)`` (:func:`output_margins`).

    The model runs in evaluation mode without gradients and without changing
    its buffers; ``X`` and ``y`` (tensors or arrays) move to its device.
    """
    X, y = check_Xy(X, y, like=check_module(model))
    return output_margins(probe(model, X), y)


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    """The effective weight matrices :math:`W_1, \\dots, W_L` of a dense chain.

    Read by :func:`dltheory.models.dense_layers` (``weight_scale * weight`` for
    an :class:`~dltheory.models.NTKLinear`). Biases are not included; the bounds
    fold them instead (:func:`dltheory.bounds.folded_weights`).
    """
    return dense_layers(model).weights


def layer_norms(model: nn.Module) -> dict[str, list[float] | float]:
    """Per-layer Frobenius and spectral norms of :func:`layer_weights`, and their products.

    Returns ``{"frobenius": [floats], "spectral": [floats], "rho": float,
    "rho_spectral": float}`` with ``rho`` the product of the Frobenius norms and
    ``rho_spectral`` that of the spectral norms (largest singular values).
    """
    with torch.no_grad():
        weights = layer_weights(model)
        frobenius = [torch.linalg.matrix_norm(W).item() for W in weights]
        spectral = [torch.linalg.matrix_norm(W, ord=2).item() for W in weights]
    return {"frobenius": frobenius, "spectral": spectral, "rho": math.prod(frobenius),
            "rho_spectral": math.prod(spectral)}


def normalized_margins(model: nn.Module, X, y) -> torch.Tensor:
    """:func:`margins` divided by :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`.

    For a bias-free ReLU network these are the margins of the normalised network
    :math:`\\tilde f`, which do not change when a layer is rescaled. With
    biases the network is not homogeneous and they do change; biases do not
    enter :math:`\\rho`.
    """
    return margins(model, X, y) / layer_norms(model)["rho"]
