"""Margin losses :math:`\\ell(u)` of the margin :math:`u = y\\langle w, x\\rangle`, in NumPy float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

from .._checks import check_choice, check_real

LOSS_NAMES = ("exp", "logistic", "poly")

Array = np.ndarray


def margin_loss(name: str, *, poly_k: float = 2.0) -> tuple[Callable[[Array], Array], ...]:
    """The loss :math:`\\ell`, its negative derivative :math:`-\\ell'` and :math:`\\ell''`, elementwise.

    * ``"exp"``: :math:`\\ell(u) = e^{-u}`;
    * ``"logistic"``: :math:`\\ell(u) = \\log(1 + e^{-u})`, :math:`-\\ell'(u) = 1/(1 + e^{u})`;
    * ``"poly"``: :math:`\\ell(u) = u^{-k}` for :math:`u \\ge 1` and the tangent line
      :math:`1 + k(1 - u)` below, so :math:`\\ell` is convex, decreasing and
      :math:`k(k+1)`-smooth, with a polynomial tail.

    The first two have the tight exponential tail of Soudry et al. (2018,
    Assumption 3: :math:`-\\ell'(u) \\approx e^{-u}` as :math:`u\\to\\infty`); the third
    does not, and on separable data gradient descent then does not converge to
    the :math:`\\ell_2` max-margin direction in general (Nacson et al. 2019).

    Parameters
    ----------
    name
        ``"exp"``, ``"logistic"`` or ``"poly"``.
    poly_k
        :math:`k > 0`, the tail exponent of ``"poly"``.

    Returns
    -------
    tuple of callables
        ``(loss, neg_slope, curvature)``, each mapping an array of margins to an
        array of the same shape.
    """
    check_choice(name, "loss", LOSS_NAMES)
    if name == "exp":
        return (lambda u: np.exp(-u)), (lambda u: np.exp(-u)), (lambda u: np.exp(-u))
    if name == "logistic":
        return ((lambda u: np.logaddexp(0.0, -u)), (lambda u: expit(-u)),
                (lambda u: expit(u) * expit(-u)))
    k = check_real(poly_k, "poly_k", min=0.0, min_open=True)

    def value(u: Array) -> Array:
        v = np.maximum(u, 1.0)
        return np.where(u >= 1.0, v ** -k, 1.0 + k * (1.0 - u))

    def neg_slope(u: Array) -> Array:
        return k * np.maximum(u, 1.0) ** (-k - 1.0)

    def curvature(u: Array) -> Array:
        return np.where(u >= 1.0, k * (k + 1.0) * np.maximum(u, 1.0) ** (-k - 2.0), 0.0)

    return value, neg_slope, curvature
