"""The protocol of ``book/1-three-questions/deep-exponential-loss.ipynb``: the Hessian of the
exponential loss along gradient descent on a bias-free ReLU network, and the start of the
weight-normalised runs.

For the mean exponential loss :math:`L = \\frac1n\\sum_i e^{-m_i}`, :math:`m_i = y_i f(x_i)`,

.. math::  \\nabla^2 L = \\underbrace{\\frac1n\\sum_i e^{-m_i}\\,\\nabla f_i\\,\\nabla f_i^\\top}_{G}
           \\; \\underbrace{-\\,\\frac1n\\sum_i e^{-m_i}\\, y_i\\,\\nabla^2 f_i}_{R},

:math:`G` the Gauss-Newton part (rank at most :math:`n`) and :math:`R` the part that
carries the curvature of the network (Poggio et al. 2018, Theory III).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import curvature, losses, train
from ..homogeneity import normalized_network
from ..weight_normalization import ScaledNetwork

__all__ = ["spectra_along_training", "on_sphere"]


def spectra_along_training(model: nn.Module, X, y, *, lr: float, checkpoints: Sequence[int]) -> dict:
    """Train ``model`` in place by full-batch GD on the mean exponential loss and take the dense
    Hessian :math:`H` and Gauss-Newton matrix :math:`G` at each checkpoint.

    ``checkpoints`` are increasing step counts; training runs ``train.fit`` in
    segments between them, which is the same as one run (full-batch GD has no
    randomness).

    Returns
    -------
    dict of lists, one entry per checkpoint: ``step``, ``loss``, ``margin_min``
    (:math:`\\min_i y_i f(x_i)`), ``eig_H`` and ``eig_G`` (ascending NumPy arrays),
    ``rank_G`` (eigenvalues above :math:`10^{-10}\\lambda_{\\max}(G)`).
    """
    steps = [int(s) for s in checkpoints]
    if not steps or steps[0] < 1 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"checkpoints must be increasing positive step counts, got {list(checkpoints)}")
    out: dict[str, list] = {k: [] for k in ("step", "loss", "margin_min", "eig_H", "eig_G", "rank_G")}
    done = 0
    for step in steps:
        train.fit(model, X, y, loss="exp", lr=lr, steps=step - done, record_every=step - done)
        done = step
        H = curvature.hessian(model, "exp", X, y)
        G = curvature.gauss_newton(model, "exp", X, y)
        eig_H = torch.linalg.eigvalsh(H).cpu().numpy()
        eig_G = torch.linalg.eigvalsh(G).cpu().numpy()
        with torch.no_grad():
            outputs = model(X)
            margins = y.reshape(-1) * outputs.reshape(-1)
        out["step"].append(step)
        out["loss"].append(losses.exp(outputs, y).item())
        out["margin_min"].append(margins.min().item())
        out["eig_H"].append(eig_H)
        out["eig_G"].append(eig_G)
        out["rank_G"].append(int(np.sum(eig_G > 1e-10 * eig_G.max())))
    return out


def on_sphere(model: nn.Module, scale: float = 1.0) -> ScaledNetwork:
    """The same function as ``model``, written as :math:`\\rho\\,\\tilde f(V)` with :math:`\\lVert V_k\\rVert_F` = ``scale``.

    :math:`V_k = \\text{scale}\\cdot W_k/\\lVert W_k\\rVert_F` and
    :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F / \\text{scale}^L`: a start for
    :class:`~dltheory.weight_normalization.MultiplierGD` on (``scale = 1``) or off
    the constraint surface. ``model`` is not modified.
    """
    body, rhos = normalized_network(model)
    with torch.no_grad():
        for p in body.parameters():
            p.mul_(scale)
    return ScaledNetwork(body, math.prod(rhos) / scale ** len(rhos))
