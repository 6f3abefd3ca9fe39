"""Checker of chapter 4's exercise on Hastie et al.'s ridgeless risk past the interpolation threshold."""

from __future__ import annotations

from collections.abc import Callable

from ..double_descent import ridgeless_risk
from .core import Feedback, check_function

__all__ = ["check_overparametrized_risk"]

HINT = ("for gamma = p/n > 1 the minimum-norm fit keeps a fraction 1/gamma of |beta|^2 (bias r2 (1 - 1/gamma)) "
        "and its variance is sigma2 tr (X X^T)^{-1}, which tends to sigma2 / (gamma - 1); return their sum.")

#: (gamma, r2, sigma2), all gamma > 1, with r2 and sigma2 unequal so that swapping them is caught.
CASES = [(3.0, 1.0, 0.36), (1.25, 1.0, 0.7), (5.0, 2.0, 0.5), (10.0, 0.7, 0.09), (1.5, 3.0, 0.2)]


def _reference(gamma: float, r2: float, sigma2: float) -> float:
    """The limit of Hastie, Montanari, Rosset & Tibshirani (2019), Theorem 1, for gamma > 1."""
    return ridgeless_risk(gamma, r2, sigma2)


def _mistakes(gamma: float, r2: float, sigma2: float) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    bias, variance = r2 * (1 - 1 / gamma), sigma2 / (gamma - 1)
    return {
        "the bias r2 / gamma: that is the part of |beta|^2 the fit keeps; the error is the part it loses, "
        "r2 (1 - 1/gamma)": r2 / gamma + variance,
        "the variance sigma2 gamma / (gamma - 1): tr (X X^T)^{-1} has n terms of size 1/(p - n), so the "
        "limit is sigma2 n / (p - n) = sigma2 / (gamma - 1)": bias + sigma2 * gamma / (gamma - 1),
        "the variance alone: past the threshold the interpolant also misses the part of beta outside the "
        "row space of X (the bias r2 (1 - 1/gamma))": variance,
        "the bias alone: the noise still enters through X^+ epsilon (the variance sigma2 / (gamma - 1))": bias,
        "the under-parametrised formula sigma2 gamma / (1 - gamma), which holds for gamma < 1 only":
            sigma2 * gamma / (1 - gamma),
        "the variance with the wrong sign, sigma2 / (1 - gamma): a variance is positive": bias - variance,
        "r2 and sigma2 swapped": sigma2 * (1 - 1 / gamma) + r2 / (gamma - 1),
    }


def check_overparametrized_risk(fn: Callable[[float, float, float], float]) -> Feedback:
    """Check ``overparametrized_risk(gamma, r2, sigma2)``, Hastie et al.'s limit for :math:`\\gamma > 1`:

    .. math::  R(\\gamma) = r^2\\Bigl(1 - \\frac1\\gamma\\Bigr) + \\frac{\\sigma^2}{\\gamma - 1}.

    The reference is :func:`dltheory.double_descent.ridgeless_risk` (which a
    library test holds to simulation). Typical mistakes are named: the kept
    instead of the lost part of :math:`\\lVert\\beta\\rVert^2`, a factor
    :math:`\\gamma` in the variance, one term only, the formula for
    :math:`\\gamma < 1`, a sign, and :math:`r^2` and :math:`\\sigma^2` swapped.
    """
    return check_function(fn, _reference, CASES, name=getattr(fn, "__name__", "overparametrized_risk"),
                          hint=HINT, rtol=1e-9, mistakes=_mistakes)
