"""Checker of chapter 5's exercise on Du et al.'s infinite-width Gram matrix :math:`H^\\infty` and :math:`\\lambda_0`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .core import Feedback, check_function

__all__ = ["check_h_infinity"]

HINT = ("with C = X @ X.T (the cosines of the angles between unit inputs), "
        "H_inf = C * (pi - arccos(C)) / (2 pi), element-wise; clip C to [-1, 1] before arccos.")


def _cases() -> list[tuple[torch.Tensor]]:
    """Unit inputs ``(n, d)``: n differs from d in every case, and some pairs have negative products."""
    g = torch.Generator().manual_seed(2019)
    cases = []
    for n, d in [(4, 3), (7, 5), (12, 2)]:
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        cases.append((X / X.norm(dim=1, keepdim=True),))
    return cases


def _reference(X: torch.Tensor) -> torch.Tensor:
    """:math:`H^\\infty` by the closed form, independently of :func:`dltheory.gram.du_gram`."""
    C = (X @ X.T).clamp(-1.0, 1.0)
    return C * (math.pi - torch.arccos(C)) / (2 * math.pi)


def _mistakes(X: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    C = (X @ X.T).clamp(-1.0, 1.0)
    angle = torch.arccos(C)
    return {
        "the factor <x_i, x_j> is missing: that is the probability that both units are active "
        "((pi - angle) / 2 pi), not the expected product of the two gradients": (math.pi - angle) / (2 * math.pi),
        "arccos itself in place of pi - arccos: both products are positive with probability "
        "(pi - angle) / (2 pi), which is 1/2 for equal inputs": C * angle / (2 * math.pi),
        "a division by pi instead of 2 pi: the diagonal of H_inf is 1/2, since a unit is active "
        "on a given input with probability 1/2": C * (math.pi - angle) / math.pi,
        "the Gram matrix of the inputs X X^T alone: the indicators of the ReLU derivative are missing": C,
    }


def check_h_infinity(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Check an implementation of ``h_infinity(X)``.

    ``X`` ``(n, d)`` holds unit inputs as rows. The answer is the ``(n, n)``
    matrix of Du, Zhai, Poczos & Singh (2019),

    .. math::  H^\\infty_{ij} = \\frac{\\langle x_i, x_j\\rangle\\,(\\pi - \\arccos\\langle x_i, x_j\\rangle)}{2\\pi}.

    Typical mistakes are named: the missing factor :math:`\\langle x_i, x_j\\rangle`,
    :math:`\\arccos` in place of :math:`\\pi - \\arccos`, a division by :math:`\\pi`,
    and :math:`XX^\\top` alone.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "h_infinity"),
                          hint=HINT, rtol=1e-6, mistakes=_mistakes)
