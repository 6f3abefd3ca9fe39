"""Checker of chapter 4's exercise on the Laplace mass ratio of two minima."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import Feedback, check_function

__all__ = ["check_laplace_ratio"]

HINT = ("Laplace gives each well the mass exp(-V*/T) (2 pi T)^(d/2) / sqrt(det H); in the ratio of two wells "
        "the powers of 2 pi T cancel, leaving sqrt(det H_b / det H_a) * exp(-(V_a - V_b) / T).")


def _spd(g: np.random.Generator, d: int, spread: float) -> np.ndarray:
    """A random symmetric positive definite matrix with eigenvalues between 1/spread and spread, not diagonal."""
    Q, _ = np.linalg.qr(g.standard_normal((d, d)))
    return Q @ np.diag(np.exp(g.uniform(-np.log(spread), np.log(spread), d))) @ Q.T


def _cases() -> list[tuple]:
    """Hessians of different dimensions and spectra, different depths and temperatures.

    The top eigenvalues of the two Hessians differ from their determinants' ratio,
    the depths differ (so a missing or sign-flipped Boltzmann factor shows), and
    the temperatures are not 1.
    """
    g = np.random.default_rng(2017)
    cases = []
    for d, V_a, V_b, T in [(2, 0.1, 0.0, 0.3), (2, 0.2, 0.05, 0.5), (3, -0.1, 0.15, 0.7), (5, 0.4, 0.3, 0.25)]:
        cases.append((_spd(g, d, 8.0), _spd(g, d, 3.0), V_a, V_b, T))
    return cases


def _reference(H_a, H_b, V_a, V_b, T) -> float:
    det_a, det_b = np.linalg.det(H_a), np.linalg.det(H_b)
    return float(np.sqrt(det_b / det_a) * np.exp(-(V_a - V_b) / T))


def _mistakes(H_a, H_b, V_a, V_b, T) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    det_a, det_b = np.linalg.det(H_a), np.linalg.det(H_b)
    boltzmann = np.exp(-(V_a - V_b) / T)
    top_a, top_b = np.linalg.eigvalsh(H_a)[-1], np.linalg.eigvalsh(H_b)[-1]
    return {
        "the ratio upside down, mass b / mass a: a well is heavier when its Hessian's determinant is smaller":
            float(np.sqrt(det_a / det_b) / boltzmann),
        "the determinants without the square root: each curvature contributes sqrt(2 pi T / kappa)":
            float(det_b / det_a * boltzmann),
        "the curvature ratio is inverted: the flatter well (smaller det H) gets the larger mass":
            float(np.sqrt(det_a / det_b) * boltzmann),
        "the Boltzmann factor is missing: with different depths the mass carries exp(-V*/T)":
            float(np.sqrt(det_b / det_a)),
        "the Boltzmann factor has the wrong sign: the deeper (lower) minimum gets the larger factor":
            float(np.sqrt(det_b / det_a) / boltzmann),
        "only the top eigenvalues are used: the mass depends on all curvatures, through det H":
            float(np.sqrt(top_b / top_a) * boltzmann),
        "traces instead of determinants: the Gaussian integral gives the product of the eigenvalues, det H":
            float(np.sqrt(np.trace(H_b) / np.trace(H_a)) * boltzmann),
    }


def check_laplace_ratio(fn: Callable[..., float]) -> Feedback:
    """Check an implementation of ``laplace_ratio(H_a, H_b, V_a, V_b, T)``.

    The answer is Laplace's approximation of the ratio of the Gibbs masses of
    the wells of two minima with Hessians :math:`H_a, H_b` (``(d, d)`` arrays) at
    heights :math:`V_a, V_b` and temperature :math:`T`:

    .. math:: \\frac{m_a}{m_b} = \\sqrt{\\frac{\\det H_b}{\\det H_a}}\\; e^{-(V_a - V_b)/T}.

    Typical mistakes are named: the ratio upside down, no square root, the
    curvature factor inverted, a missing or sign-flipped Boltzmann factor, top
    eigenvalues or traces in place of determinants.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "laplace_ratio"), hint=HINT,
                          rtol=1e-6, mistakes=_mistakes)
