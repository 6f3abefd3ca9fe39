"""Lazy training: how far a wide network travels from its initialisation, and how little its kernel changes.

A network :math:`f(\\theta; x)` trained by gradient descent is *lazy* when it
reaches a small loss while :math:`\\theta` stays so close to :math:`\\theta_0`
that the first-order expansion
:math:`f(\\theta; x) \\approx f(\\theta_0; x) + \\langle\\nabla_\\theta f(\\theta_0; x),
\\theta - \\theta_0\\rangle` describes it, and its neural tangent kernel
:math:`K_{ij}(\\theta) = \\langle\\nabla_\\theta f(\\theta; x_i), \\nabla_\\theta f(\\theta; x_j)\\rangle`
hardly changes. For the two-layer network of Du, Zhai, Poczos & Singh (2019),

.. math::  f(x) = \\frac{1}{\\sqrt m}\\sum_{r=1}^m a_r\\,\\sigma(\\langle w_r, x\\rangle),
           \\qquad a_r = \\pm 1 \\text{ fixed}, \\quad w_r(0) \\sim N(0, I_d), \\quad \\lVert x\\rVert = 1,

(:func:`dltheory.models.two_layer` with ``outer="fixed_sign"``,
``weight_var=d``), the gradient with respect to one hidden unit carries the
factor :math:`1/\\sqrt m`, so each unit moves by :math:`O(m^{-1/2})` while the
outputs move by :math:`O(1)`. Three measures follow that picture:

* :func:`dltheory.activation_patterns.relative_movement` (reused, not
  redefined here): :math:`\\lVert\\theta - \\theta_0\\rVert / \\lVert\\theta_0\\rVert`;
* :func:`neuron_displacements`: :math:`\\lVert w_r - w_r(0)\\rVert_2` for every
  unit :math:`r` of a layer, and :func:`max_neuron_displacement`, their maximum;
* :func:`kernel_change`: :math:`\\lVert K(\\theta) - K(\\theta_0)\\rVert_F / \\lVert K(\\theta_0)\\rVert_F`
  for the empirical NTK (:func:`dltheory.ntk.empirical_ntk`);
* :func:`laziness`: all three at once, as a dict.

All three shrink at least like :math:`m^{-1/2}` for this network (Du et al.'s
:math:`R' = O(\\sqrt n\\,\\lVert y - u(0)\\rVert / (\\sqrt m\\,\\lambda_0))` bounds
every unit's displacement; a pattern flips only where the initial
pre-activation is within that distance of zero, and only flips change
:math:`K`; measured, the kernel change falls faster, since flips of opposite sign
partly cancel). Chizat, Oyallon & Bach (2019) show that laziness is a matter of
*scale*: any model multiplied by a large factor :math:`\\alpha` and trained on
:math:`\\alpha^{-2}`-scaled loss is lazy, and the :math:`1/\\sqrt m` output
factor is such a scaling. The picture breaks when the loss is regularised:
weight decay trained to convergence pulls :math:`\\theta` to a minimiser whose
norm does not grow with :math:`m`, far from :math:`\\theta_0`.

References
----------
A. Jacot, F. Gabriel and C. Hongler, *Neural tangent kernel: convergence and
generalization in neural networks*, NeurIPS 2018. S. S. Du, X. Zhai,
B. Poczos and A. Singh, *Gradient descent provably optimizes
over-parameterized neural networks*, ICLR 2019. L. Chizat, E. Oyallon and
F. Bach, *On lazy training in differentiable programming*, NeurIPS 2019.
"""

from __future__ import annotations

import torch
from torch import nn

from . import ntk as _ntk
from ._checks import check_bool, check_int, check_module, check_tensor, check_X
from .activation_patterns import relative_movement
from .models.dense import dense_layers

__all__ = ["neuron_displacements", "max_neuron_displacement", "kernel_change", "laziness"]


def _hidden_weights(x, name: str, layer: int) -> torch.Tensor:
    """The effective weight matrix ``(m, d)`` of dense layer ``layer`` (from 0), or ``x`` itself if a tensor."""
    if isinstance(x, nn.Module):
        layers = dense_layers(x)
        if not -len(layers) <= layer < len(layers):
            raise ValueError(f"layer must index one of the {len(layers)} dense layers of {name}, got {layer}")
        return layers[layer].weight.detach()
    return check_tensor(x, name, ndim=2)


def neuron_displacements(initial, current, *, layer: int = 0) -> torch.Tensor:
    """How far each hidden unit has moved: :math:`\\lVert w_r - w_r(0)\\rVert_2`, :math:`r = 1, \\dots, m`.

    Parameters
    ----------
    initial, current
        Two models of the same dense architecture (read by
        :func:`dltheory.models.dense_layers`; the *effective* weights are used,
        i.e. ``weight_scale * weight`` for an
        :class:`~dltheory.models.NTKLinear`), or two weight matrices of shape
        ``(m, d)`` whose rows are the units' incoming weights :math:`w_r`.
    layer
        Which dense layer of a model, counted from 0 (the first hidden layer).
        Ignored for matrices.

    Returns
    -------
    torch.Tensor
        Shape ``(m,)``, float64 on the CPU.

    Raises
    ------
    TypeError
        An argument is neither a model nor a tensor-like.
    ValueError
        Shapes differ, NaN or inf in a matrix, or ``layer`` out of range.

    Notes
    -----
    The proof of Du et al. (2019) bounds every entry by
    :math:`R' = C\\sqrt n\\,\\lVert y - u(0)\\rVert_2 / (\\sqrt m\\,\\lambda_0)`
    along the whole gradient-flow (or small-step gradient-descent) trajectory of
    their two-layer network (for a constant :math:`C`), :math:`\\lambda_0` the least eigenvalue of the
    infinite-width Gram matrix :math:`H^\\infty`.
    """
    layer = check_int(layer, "layer")
    W0 = _hidden_weights(initial, "initial", layer)
    W = _hidden_weights(current, "current", layer)
    if W0.shape != W.shape:
        raise ValueError(f"initial and current must have the same shape, got {tuple(W0.shape)} and "
                         f"{tuple(W.shape)}")
    return (W.double().cpu() - W0.double().cpu()).norm(dim=1)


def max_neuron_displacement(initial, current, *, layer: int = 0) -> float:
    """:math:`\\max_r \\lVert w_r - w_r(0)\\rVert_2`, the largest move of one hidden unit.

    The quantity Du et al. (2019) keep below :math:`R'` (see
    :func:`neuron_displacements`, which takes the same arguments). For their
    network it is :math:`O(m^{-1/2})`, without a :math:`\\log m` factor: the
    gradient of one unit, :math:`\\frac{a_r}{\\sqrt m}\\frac1n\\sum_i (u_i - y_i)
    1[\\langle w_r, x_i\\rangle > 0]\\, x_i`, is bounded uniformly in :math:`r`.
    """
    return float(neuron_displacements(initial, current, layer=layer).max())


def kernel_change(initial: nn.Module, current: nn.Module, X, *, trainable_only: bool = True) -> float:
    """The relative change of the empirical NTK on ``X``: :math:`\\lVert K - K_0\\rVert_F / \\lVert K_0\\rVert_F`.

    .. math::  K_{ij} = \\sum_p \\frac{\\partial f(x_i)}{\\partial\\theta_p}\\frac{\\partial f(x_j)}{\\partial\\theta_p},

    computed by :func:`dltheory.ntk.empirical_ntk` for both models (for
    :math:`k` outputs the ``(n, n, k, k)`` kernel is compared entry by entry).

    Parameters
    ----------
    initial, current
        The model at initialisation and after training (same architecture).
    X
        Inputs ``(n, d)``, e.g. the training set.
    trainable_only
        Sum over the trainable parameters only (default), so that a fixed outer
        layer does not count: for Du et al.'s network :math:`K` is then
        :math:`H(t)`, :math:`H_{ij} = \\frac{\\langle x_i, x_j\\rangle}{m}
        \\sum_r 1[\\langle w_r, x_i\\rangle > 0]\\,1[\\langle w_r, x_j\\rangle > 0]`.

    Raises
    ------
    TypeError
        A model is not an ``nn.Module``.
    ValueError
        The two kernels have different shapes, NaN in ``X``, or :math:`K_0 = 0`.
    """
    check_module(initial, "initial"), check_module(current, "current")
    trainable_only = check_bool(trainable_only, "trainable_only")
    X = check_X(X, like=current)
    K0 = _ntk.empirical_ntk(initial, X.to(next(initial.parameters()).device), trainable_only=trainable_only)
    K = _ntk.empirical_ntk(current, X, trainable_only=trainable_only)
    if K0.shape != K.shape:
        raise ValueError(f"the two models give kernels of shapes {tuple(K0.shape)} and {tuple(K.shape)}: "
                         "they must have the same architecture")
    K0, K = K0.double().cpu(), K.double().cpu()
    size = float(K0.norm())
    if size == 0:
        raise ValueError("the initial kernel is zero, so its relative change is undefined")
    return float((K - K0).norm()) / size


def laziness(initial: nn.Module, current: nn.Module, X, *, layer: int = 0) -> dict[str, float]:
    """The three measures of laziness of a trained model, as a dict.

    ``movement``: :func:`dltheory.activation_patterns.relative_movement` over
    the trainable parameters; ``displacement``: :func:`max_neuron_displacement`
    of dense layer ``layer``; ``kernel``: :func:`kernel_change` on ``X`` (over
    the trainable parameters).
    """
    return {"movement": relative_movement(initial, current),
            "displacement": max_neuron_displacement(initial, current, layer=layer),
            "kernel": kernel_change(initial, current, X)}
