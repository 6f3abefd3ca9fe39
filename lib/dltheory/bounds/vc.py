"""The VC bound, for contrast: vacuous for the overparametrised networks of the book.

:func:`vc_dimension` estimates the VC dimension of a ReLU network from its size
(Bartlett, Harvey, Liaw, Mehrabian 2019) and :func:`vc_bound` puts it into
Vapnik's bound.
"""

from __future__ import annotations

import math

from torch import nn

from .._checks import check_int, check_probability, check_real
from .folding import bound_layers

__all__ = ["vc_dimension", "vc_bound"]


def vc_dimension(model: nn.Module, *, constant: float = 1.0) -> float:
    """The parameter-counting estimate :math:`C\\, W L \\log_2 W` of the VC dimension.

    Bartlett, Harvey, Liaw, Mehrabian 2019 prove that ReLU (piecewise linear)
    networks with :math:`W` parameters (weights and biases) in :math:`L` layers
    have VC dimension :math:`O(W L \\log W)`, and that :math:`\\Omega(W L \\log(W/L))`
    is attained. Their explicit upper bound carries constants and the number of
    units inside the logarithm; we take its order with :math:`C` = ``constant``
    (default 1), which is an estimate of the right size, not a certified upper
    bound. :math:`L` counts the linear layers; :math:`\\log_2 W` is taken as at
    least 1.
    """
    constant = check_real(constant, "constant", min=0.0, min_open=True)
    layers = bound_layers(model)
    num_params = sum(p.numel() for layer in layers for p in layer.module.parameters())
    return constant * num_params * len(layers) * max(math.log2(num_params), 1.0)


def vc_bound(model: nn.Module, n: int, *, delta: float = 0.05, constant: float = 1.0) -> float:
    """Vapnik's VC generalisation gap for the network's class, with :math:`h` = :func:`vc_dimension`.

    With probability :math:`\\ge 1-\\delta`, every classifier of a class of VC
    dimension :math:`h` satisfies (Vapnik 1998, *Statistical Learning Theory*)

    .. math::

        \\Pr[\\text{error}] - \\hat R_0 \\le \\sqrt{\\frac{\\ln \\Pi(2n) + \\ln(4/\\delta)}{n}},
        \\qquad \\ln\\Pi(2n) \\le h\\Big(\\ln\\frac{2n}{h} + 1\\Big) \\ \\text{if } 2n \\ge h,

    the familiar :math:`\\sqrt{(h(\\ln(2n/h)+1) + \\ln(4/\\delta))/n}`, with Sauer's
    lemma bounding the growth function :math:`\\Pi`. Since also
    :math:`\\Pi(2n) \\le 2^{2n}`, we use :math:`\\min(h(\\ln(2n/h)+1), 2n\\ln 2)` when
    :math:`2n \\ge h` and :math:`2n \\ln 2` otherwise (then the gap exceeds
    :math:`\\sqrt{2\\ln 2} > 1`). Returns the gap; for overparametrised networks
    (:math:`W \\gg n`) it is vacuous, which is the point of the contrast.
    """
    n = check_int(n, "n", min=1)
    delta = check_probability(delta, "delta")
    h = vc_dimension(model, constant=constant)
    m = 2 * n
    log_growth = m * math.log(2.0)
    if m >= h:
        log_growth = min(log_growth, h * (math.log(m / h) + 1.0))
    return math.sqrt((log_growth + math.log(4.0 / delta)) / n)
