"""Checker of chapter 3's exercise on the arc-cosine kernel, :math:`\\mathbb{E}[w^\\top x]_+[v^\\top x]_+` for Gaussian :math:`x`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import landscape as ls
from .core import Feedback, check_function

__all__ = ["check_relu_correlation"]


HINT = ("reduce to two dimensions: (w.x, v.x) is a centred Gaussian pair with variances ||w||^2, ||v||^2 and "
        "correlation cos(theta); integrate over the wedge where both are positive, in polar coordinates.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Pairs with different norms and angles: acute, obtuse, nearly opposite, orthogonal, equal."""
    g = torch.Generator().manual_seed(2009)
    cases = []
    for d, angle, nw, nv in [(3, 0.4, 1.3, 0.7), (5, 2.1, 0.8, 2.0), (4, 2.9, 1.7, 1.1), (2, math.pi / 2, 1.0, 3.0),
                             (6, 1.2, 2.5, 0.4)]:
        q, _ = torch.linalg.qr(torch.randn(d, 2, generator=g, dtype=torch.float64))
        w = nw * q[:, 0]
        v = nv * (math.cos(angle) * q[:, 0] + math.sin(angle) * q[:, 1])
        cases.append((w, v))
    w = torch.randn(4, generator=g, dtype=torch.float64)
    cases.append((w, w.clone()))
    return cases


def _reference(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return ls.arccos_kernel(w[None], v[None])[0, 0]


def _mistakes(w: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    nw, nv = torch.linalg.vector_norm(w), torch.linalg.vector_norm(v)
    cos = (w @ v) / (nw * nv)
    theta = torch.arccos(cos.clamp(-1, 1))
    sin = torch.sin(theta)
    return {
        "the factor 1/(2 pi) is 1/pi: the wedge where both are positive has angle pi - theta, "
        "and the Gaussian density in polar coordinates carries 1/(2 pi)": nw * nv * (sin + (math.pi - theta) * cos)
        / math.pi,
        "theta and pi - theta are swapped: the wedge where both w.x > 0 and v.x > 0 has angle pi - theta, "
        "which vanishes for opposite vectors": nw * nv * (sin + theta * cos) / (2 * math.pi),
        "the norms are missing: the kernel is ||w|| ||v|| times a function of the angle only":
            (sin + (math.pi - theta) * cos) / (2 * math.pi),
        "sin and cos are swapped: at theta = 0 the kernel must be ||w||^2/2 = E[w.x]_+^2":
            nw * nv * (cos + (math.pi - theta) * sin) / (2 * math.pi),
        "this is the zeroth-order arc-cosine kernel P(w.x > 0, v.x > 0) = (pi - theta)/(2 pi), without the "
        "magnitudes |w.x| |v.x|": (math.pi - theta) / (2 * math.pi) + 0 * nw,
        "only the correlation term: E[w.x]_+[v.x]_+ = (1/2 pi)(||w|| ||v|| sin theta + (pi - theta) w.v); "
        "the sin theta term is missing": (math.pi - theta) * (w @ v) / (2 * math.pi),
        "this is E[(w.x)(v.x)]/4 = w.v/4, as if [w.x]_+ and [v.x]_+ were independent of their signs' agreement":
            (w @ v) / 4,
        "this is E[w.x]_+ E[v.x]_+ = ||w|| ||v|| / (2 pi): the two factors are correlated": nw * nv / (2 * math.pi),
    }


def check_relu_correlation(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Check an implementation of ``relu_correlation(w, v)`` :math:`= \\mathbb{E}_{x\\sim N(0,I)}[w^\\top x]_+[v^\\top x]_+`.

    ``w`` and ``v`` are vectors (float64 tensors of one length); the answer is a number. The
    reference is :func:`dltheory.landscape.arccos_kernel`. The cases mix norms and angles
    (acute, obtuse, orthogonal, equal vectors), so the typical mistakes (:math:`1/\\pi` for
    :math:`1/2\\pi`, :math:`\\theta` for :math:`\\pi - \\theta`, missing norms, the zeroth-order
    kernel, treating the factors as independent) give different numbers and are named.
    """
    return check_function(fn, _reference, _cases(), name="relu_correlation", hint=HINT, rtol=1e-6,
                          mistakes=_mistakes)
