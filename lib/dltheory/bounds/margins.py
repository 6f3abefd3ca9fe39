"""Margins and the layer norms they are divided by: the quantities that training records.

:func:`margin_distribution` is the one definition of the normalised margin
distribution (Bartlett, Foster, Telgarsky 2017) that the chapters share.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_choice, check_class_indices, check_module, check_sign_labels, check_Xy, probe
from ..models import dense_layers

__all__ = ["output_margins", "margins", "normalized_margins", "layer_weights", "layer_norms", "margin_distribution",
           "NORMALIZATIONS"]

#: What :func:`margin_distribution` can divide the margins by.
NORMALIZATIONS = ("spectral", "frobenius", None)


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


def margin_distribution(model: nn.Module, X, y, normalize: str | None = "spectral",
                        reference: nn.Module | None = None) -> torch.Tensor:
    """The margin distribution of ``model`` on ``(X, y)``, divided by a complexity of the network.

    Per example, the margin :math:`\\gamma_i` of :func:`margins`
    (:math:`f(x_i)_{y_i} - \\max_{j \\ne y_i} f(x_i)_j`, or :math:`y_i f(x_i)` for
    one output) divided by

    * ``"spectral"``: the spectral complexity :math:`R_A` of Bartlett, Foster,
      Telgarsky 2017, eq. (1.2) (:func:`dltheory.bounds.spectral_complexity`,
      with reference matrices :math:`M_i` from ``reference``, zero by default).
      These are the normalised margins of their Theorem 1.1, which compares
      a margin :math:`\\gamma` with :math:`R_A \\lVert X\\rVert_2 / n`, and on one training set the
      factor :math:`\\lVert X\\rVert_2/n` is the same for every network, so it is
      left out here (multiply by :math:`n/\\lVert X\\rVert_2` to compare data sets).
    * ``"frobenius"``: :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`, the
      normalisation of a bias-free ReLU network :math:`f = \\rho\\tilde f`
      (:func:`normalized_margins`; biases do not enter :math:`\\rho`).
    * ``None``: nothing; the raw margins.

    With :math:`M_i = 0`, both normalisations make the margins of a bias-free
    ReLU network invariant under rescaling a layer,
    :math:`W_k \\to c W_k` with :math:`c > 0`: the margins and :math:`R_A`
    (or :math:`\\rho`) all gain the factor :math:`c`. With a reference
    :math:`M \\ne 0` the spectral normalisation is not scale invariant unless the
    reference is rescaled alike.

    Parameters
    ----------
    model
        A dense network read by :func:`dltheory.models.dense_layers` (see the
        package notes); for ``"spectral"`` the biases are folded as in
        :func:`~dltheory.bounds.spectral_complexity`.
    X, y
        Inputs of shape (n, d) (tensors or arrays) and labels: class indices for
        ``k`` outputs, :math:`\\pm 1` for one output.
    normalize
        One of :data:`NORMALIZATIONS`: ``"spectral"`` (default), ``"frobenius"`` or ``None``.
    reference
        A network of the same architecture whose matrices are the :math:`M_i` of
        :math:`R_A` (e.g. the initialisation); only with ``"spectral"``.

    Returns
    -------
    torch.Tensor
        The ``n`` normalised margins in float64 on the CPU, in the order of the
        examples (sort them for the empirical distribution function).

    Raises
    ------
    ValueError
        An unknown ``normalize``, a ``reference`` without ``"spectral"``, a
        normaliser equal to zero (a zero layer: every margin is zero too), or
        bad data (see :func:`margins`).

    See Also
    --------
    margins, normalized_margins, dltheory.bounds.spectral_complexity, dltheory.bounds.bartlett_bound

    Notes
    -----
    Used in chapter 2 ("Margins explain what parameter counts cannot") to
    compare networks trained on true and on random labels, and again in
    chapters 4 and 5.
    """
    normalize = check_choice(normalize, "normalize", NORMALIZATIONS)
    if reference is not None and normalize != "spectral":
        raise ValueError(f"a reference network enters only the spectral complexity; with normalize={normalize!r} "
                         "leave reference=None")
    if reference is not None:
        check_module(reference, "reference")
    raw = margins(model, X, y).detach().to(device="cpu", dtype=torch.float64)
    if normalize is None:
        return raw
    if normalize == "frobenius":
        scale, name = layer_norms(model)["rho"], "the product of the layers' Frobenius norms"
    else:
        from .norm_based import spectral_complexity  # here: norm_based imports this module

        scale, name = spectral_complexity(model, reference), "the spectral complexity R_A"
    if not scale > 0.0 or not math.isfinite(scale):
        raise ValueError(f"{name} is {scale}: the margins cannot be normalised by it (a zero layer makes every "
                         "margin zero)")
    return raw / scale
