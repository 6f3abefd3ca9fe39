"""The Gram matrices behind global convergence of gradient descent (Du et al. 2019).

For the two-layer ReLU network of Du, Zhai, Poczos & Singh (ICLR 2019),

.. math::  f(x) = \\frac{1}{\\sqrt m}\\sum_{r=1}^m a_r\\,\\sigma(\\langle w_r, x\\rangle),
           \\qquad a_r \\in \\{\\pm 1\\} \\text{ fixed}, \\quad w_r(0) \\sim N(0, I_d),

gradient descent on :math:`\\frac12\\sum_i (u_i - y_i)^2` moves the predictions
:math:`u` along the Gram matrix of the *hidden layer*

.. math::  H_{ij}(W) = \\frac{\\langle x_i, x_j\\rangle}{m}\\sum_{r=1}^m
           \\mathbb 1[\\langle w_r, x_i\\rangle \\ge 0]\\,\\mathbb 1[\\langle w_r, x_j\\rangle \\ge 0]

(:func:`first_layer_gram`), whose limit at initialisation, for unit inputs, is

.. math::  H^\\infty_{ij} = \\frac{\\langle x_i, x_j\\rangle\\,(\\pi - \\arccos\\langle x_i, x_j\\rangle)}{2\\pi}

(:func:`du_gram`); :func:`du_network` builds the network. Its least eigenvalue :math:`\\lambda_0` (:func:`lambda_0`)
sets the rate :math:`\\lVert u(t) - y\\rVert^2 \\le (1 - \\eta\\lambda_0/2)^t\\lVert u(0) - y\\rVert^2`
of their Theorem 4.1 (:func:`rate_envelope`). :math:`H^\\infty` is *not*
:func:`dltheory.ntk.relu_ntk` with ``depth=1``: that kernel also counts the
gradient of a trained outer layer (the NNGP term) and divides inputs by :math:`d`.

:func:`kernel_deviation` measures how far the empirical tangent kernels of
independently initialised networks scatter around their mean, the finite-width
effect that makes the width required for a plain deep network grow with depth.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import check_int, check_real, check_tensor
from .models import two_layer

__all__ = ["du_network", "du_gram", "lambda_0", "first_layer_gram", "rate_envelope", "kernel_deviation"]


def _unit_rows(X, name: str = "X") -> torch.Tensor:
    X = check_tensor(X, name, ndim=2)
    if not X.dtype.is_floating_point:
        X = X.to(torch.get_default_dtype())
    norms = X.norm(dim=1)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
        raise ValueError(f"{name} must have unit rows (Du et al.'s inputs lie on the sphere); "
                         f"got norms from {norms.min().item():.4g} to {norms.max().item():.4g}: "
                         f"divide by X.norm(dim=1, keepdim=True)")
    return X


def du_network(d: int, width: int, *, seed: int, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> torch.nn.Sequential:
    """Du et al.'s two-layer ReLU network, with a fixed outer layer :math:`\\pm 1/\\sqrt m`.

    .. math::  f(x) = \\frac{1}{\\sqrt m}\\sum_{r=1}^m a_r \\operatorname{relu}(\\langle w_r, x\\rangle),
               \\qquad w_r(0) \\sim N(0, I_d):

    :func:`dltheory.models.two_layer` with ``outer="fixed_sign"`` (:math:`a_r = +1`
    on the first half of the units, :math:`-1` on the second, times the default
    ``outer_scale`` :math:`1/\\sqrt m`; not trained) and ``weight_var=d`` in the
    standard scaling, so that the rows of ``net[0].weight`` (the :math:`w_r`)
    are standard normal and only they are trained. Du et al. draw the signs
    :math:`a_r` at random; the halves are the same in distribution up to the
    order of the units.
    """
    return two_layer(check_int(d, "d", min=1), check_int(width, "width", min=2), outer="fixed_sign",
                     scaling="standard", weight_var=float(d), seed=seed, dtype=dtype, device=device)


def du_gram(X) -> torch.Tensor:
    """Du et al.'s infinite-width Gram matrix :math:`H^\\infty` of the hidden layer, for unit inputs.

    .. math::  H^\\infty_{ij} = \\mathbb E_{w\\sim N(0,I)}\\big[\\langle x_i, x_j\\rangle\\,
               \\mathbb 1[\\langle w, x_i\\rangle \\ge 0]\\,\\mathbb 1[\\langle w, x_j\\rangle \\ge 0]\\big]
               = \\frac{\\langle x_i, x_j\\rangle\\,(\\pi - \\arccos\\langle x_i, x_j\\rangle)}{2\\pi}

    (Du, Zhai, Poczos, Singh 2019, *Gradient descent provably optimizes
    over-parameterized neural networks*, Eq. 3 and Section 3; the probability
    that a Gaussian direction has a positive product with both of two unit
    vectors at angle :math:`\\varphi` is :math:`(\\pi - \\varphi)/(2\\pi)`).
    The diagonal is :math:`1/2`.

    Parameters
    ----------
    X : tensor of shape (n, d)
        Inputs with unit norm (checked to 1e-4).

    Returns
    -------
    tensor of shape (n, n), symmetric, in the dtype of ``X``.

    See Also
    --------
    first_layer_gram : its finite-width counterpart :math:`H(W)`.
    dltheory.ntk.relu_ntk : the NTK of a ReLU MLP whose every layer is trained.
    """
    X = _unit_rows(X)
    cos = (X @ X.T).clamp(-1.0, 1.0)
    cos = (cos + cos.T) / 2
    cos.fill_diagonal_(1.0)
    return cos * (math.pi - torch.arccos(cos)) / (2 * math.pi)


def lambda_0(X) -> float:
    """:math:`\\lambda_0 = \\lambda_{\\min}(H^\\infty)`, the least eigenvalue of :func:`du_gram`.

    Positive when no two inputs are parallel (Du et al. 2019, Theorem 3.1).
    Computed in float64.
    """
    H = du_gram(check_tensor(X, "X", ndim=2).double())
    return float(torch.linalg.eigvalsh(H)[0])


def first_layer_gram(W, X) -> torch.Tensor:
    """The Gram matrix :math:`H(W)` of the hidden layer of Du et al.'s network at weights ``W``.

    .. math::  H_{ij}(W) = \\frac{\\langle x_i, x_j\\rangle}{m}\\sum_{r=1}^m
               \\mathbb 1[\\langle w_r, x_i\\rangle \\ge 0]\\,\\mathbb 1[\\langle w_r, x_j\\rangle \\ge 0],

    which equals :math:`\\langle\\partial u_i/\\partial W, \\partial u_j/\\partial W\\rangle`
    for :math:`u_i = m^{-1/2}\\sum_r a_r \\sigma(\\langle w_r, x_i\\rangle)` with
    :math:`a_r = \\pm 1` (the empirical NTK of the hidden layer alone,
    :func:`dltheory.ntk.empirical_ntk` with the outer layer frozen and
    ``trainable_only=True``). At :math:`w_r \\sim N(0, I)` its mean is
    :func:`du_gram` and its entries deviate by :math:`O(m^{-1/2})`.

    Parameters
    ----------
    W : tensor of shape (m, d)
        Hidden weights :math:`w_r` as rows (``net[0].weight`` of
        :func:`dltheory.models.two_layer` in standard scaling).
    X : tensor of shape (n, d)
        Inputs (any norm; the formula holds as written).

    Returns
    -------
    tensor of shape (n, n).
    """
    W = check_tensor(W, "W", ndim=2)
    X = check_tensor(X, "X", ndim=2)
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W has {W.shape[1]} columns but X has {X.shape[1]} features; W is (m, d), X is (n, d)")
    active = (X @ W.T >= 0).to(X.dtype)
    return (X @ X.T) * (active @ active.T) / W.shape[0]


def rate_envelope(steps, lr: float, lambda0: float, n: int | None = None) -> np.ndarray:
    """Du et al.'s bound on the squared residual, :math:`(1 - \\eta\\lambda_0/2)^t` for ``t`` in ``steps``.

    Theorem 4.1 of Du, Zhai, Poczos, Singh (2019): with :math:`\\lambda_0` of
    :func:`lambda_0`, gradient descent with step :math:`\\eta = O(\\lambda_0/n^2)`
    on the *summed* loss :math:`\\frac12\\sum_i (u_i - y_i)^2` and width
    :math:`m = \\Omega(n^6/(\\lambda_0^4\\delta^3))` satisfies, with probability
    :math:`1 - \\delta`,

    .. math::  \\lVert u(t) - y\\rVert^2 \\le (1 - \\eta\\lambda_0/2)^t\\,\\lVert u(0) - y\\rVert^2 .

    A step ``lr`` on the library's *mean* loss :math:`\\frac{1}{2n}\\sum_i (u_i - y_i)^2`
    (:func:`dltheory.losses.square`) is a step :math:`\\eta = \\text{lr}/n`
    on the summed one: pass ``n`` to convert.

    Parameters
    ----------
    steps : array-like of int
        The step counts :math:`t \\ge 0`.
    lr
        The step size, on the summed loss, or on the mean loss if ``n`` is given.
    lambda0
        :math:`\\lambda_0 > 0`.
    n
        The number of examples, when ``lr`` is a step on the mean loss.

    Returns
    -------
    ndarray of float, the factor :math:`(1 - \\eta\\lambda_0/2)^t` for each ``t``.
    """
    lr = check_real(lr, "lr", min=0.0)
    lambda0 = check_real(lambda0, "lambda0", min=0.0, min_open=True)
    eta = lr if n is None else lr / check_int(n, "n", min=1)
    if eta * lambda0 / 2 >= 1:
        raise ValueError(f"the step is too large for the theorem: eta * lambda0 / 2 = {eta * lambda0 / 2:.3g} >= 1 "
                         f"(a step on the mean loss needs n)")
    t = np.asarray(steps, dtype=float)
    if np.any(t < 0):
        raise ValueError("steps must be non-negative")
    return (1.0 - eta * lambda0 / 2) ** t


def kernel_deviation(kernels, reference=None) -> float:
    """Relative deviation of the tangent kernels of independent initialisations from their mean (or a limit).

    With :math:`\\Theta_1, \\dots, \\Theta_S` the kernels of :math:`S`
    independently initialised networks on the same inputs (e.g.
    :func:`dltheory.ntk.empirical_ntk`) and :math:`\\bar\\Theta` their mean,

    .. math::  \\delta = \\frac{\\Big(\\frac{1}{S-1}\\sum_s \\lVert\\Theta_s - \\bar\\Theta\\rVert_F^2\\Big)^{1/2}}
                              {\\lVert\\bar\\Theta\\rVert_F},

    an estimate of the root mean square of
    :math:`\\lVert\\Theta - \\mathbb E\\Theta\\rVert_F / \\lVert\\mathbb E\\Theta\\rVert_F`:
    the finite-width fluctuation of the kernel, which needs no formula for its
    limit. With a ``reference`` kernel :math:`\\Theta^\\infty` (e.g.
    :func:`dltheory.ntk.relu_ntk`) it is instead the root mean square of
    :math:`\\lVert\\Theta_s - \\Theta^\\infty\\rVert_F/\\lVert\\Theta^\\infty\\rVert_F`.
    For a plain ReLU network of depth :math:`L` and width :math:`m` the
    fluctuation grows like :math:`e^{cL/m}` (Hanin & Nica 2020, *Finite depth
    and width corrections to the neural tangent kernel*).

    Parameters
    ----------
    kernels : tensor of shape (S, n, n)
        At least two kernels (one with a ``reference``).
    reference : tensor of shape (n, n), optional

    Returns
    -------
    float
    """
    K = check_tensor(kernels, "kernels", ndim=3).double()
    if reference is not None:
        ref = check_tensor(reference, "reference", ndim=2).to(K)
        if ref.shape != K.shape[1:]:
            raise ValueError(f"reference has shape {tuple(ref.shape)}, the kernels {tuple(K.shape[1:])}")
        if K.shape[0] < 1:
            raise ValueError("kernel_deviation needs at least one kernel")
        return float((K - ref).flatten(1).norm(dim=1).pow(2).mean().sqrt() / ref.norm())
    if K.shape[0] < 2:
        raise ValueError(f"kernel_deviation needs at least two kernels without a reference, got {K.shape[0]}")
    mean = K.mean(0)
    spread = (K - mean).flatten(1).norm(dim=1).pow(2).sum() / (K.shape[0] - 1)
    return float(spread.sqrt() / mean.norm())
