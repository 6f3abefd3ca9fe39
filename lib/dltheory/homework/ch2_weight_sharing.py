"""Checker of chapter 2's exercise on the closed-form gradient of the patch model of Shalev-Shwartz et al."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import weight_sharing as ws
from .core import Feedback, check_function

__all__ = ["check_population_gradient"]


HINT = ("differentiate the closed form of F term by term: d/dW exp(-a ||W - V||^2) = -2a (W - V) exp(-a ||W - V||^2) "
        "(Frobenius norm), and the linear term (1/2) c^2 ||w_1 - u_0||^2 touches the first row of W only.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """Points where each of the three exponentials and the linear term matter, for k = 2, 3, 4."""
    g = torch.Generator().manual_seed(2017)
    cases = []
    for k, d, c, where in [(2, 3, 1.7, "small"), (3, 2, 0.6, "near U"), (4, 3, 2.5, "near -U"), (3, 4, 1.3, "mixed")]:
        u0 = torch.randn(d, generator=g, dtype=torch.float64)
        u0 = 0.6 * u0 / torch.linalg.vector_norm(u0)
        U = ws.shared_target(u0, k)
        noise = 0.3 * torch.randn(k, d, generator=g, dtype=torch.float64)
        W = {"small": noise, "near U": U + noise, "near -U": -U + noise, "mixed": 0.5 * U + noise}[where]
        cases.append((W, U, c))
    return cases


def _reference(W: torch.Tensor, U: torch.Tensor, c: float) -> torch.Tensor:
    return ws.population_gradient(W, U, c)


def _parts(W, U):
    sq = lambda A: A.pow(2).sum()  # noqa: E731
    return torch.exp(-2 * sq(W)), torch.exp(-sq(W - U) / 2), torch.exp(-sq(W + U) / 2), sq


def _linear(W, U, factor):
    out = torch.zeros_like(W)
    out[0] = factor * (W[0] - U[0])
    return out


def _mistakes(W: torch.Tensor, U: torch.Tensor, c: float) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    alpha, beta, gamma, sq = _parts(W, U)
    lin = _linear(W, U, c**2)
    cos_part = -alpha * W + 0.5 * beta * (W - U) + 0.5 * gamma * (W + U)
    return {
        "the factor 1/2 is missing in front of the beta and gamma terms: E cos(A)cos(B) = "
        "(E cos(A-B) + E cos(A+B))/2, and F carries -1/2 of each": lin - alpha * W + beta * (W - U) + gamma * (W + U),
        "the loss without its factor 1/2 (the gradient of E (p_W - p_U)^2): F = E (1/2)(p_W - p_U)^2":
            2 * (lin + cos_part),
        "the alpha term has the wrong sign: d/dW (1/4) exp(-2||W||^2) = -W exp(-2||W||^2)":
            lin + alpha * W + 0.5 * beta * (W - U) + 0.5 * gamma * (W + U),
        "a sign error in the beta term (U - W in place of W - U): d/dW of -(1/2) exp(-||W-U||^2/2) is "
        "+(1/2)(W - U) exp(-||W-U||^2/2)": lin - alpha * W + 0.5 * beta * (U - W) + 0.5 * gamma * (W + U),
        "the gamma term (from cos(A + B)) is missing: cos A cos B = (cos(A-B) + cos(A+B))/2 has two parts":
            lin - alpha * W + 0.5 * beta * (W - U),
        "the alpha term is missing: E cos^2 <W, X> = (1 + exp(-2||W||^2))/2 depends on W":
            lin + 0.5 * beta * (W - U) + 0.5 * gamma * (W + U),
        "alpha = exp(-||W||^2/2) instead of exp(-2||W||^2): cos^2 a = (1 + cos 2a)/2 and "
        "E cos<2W, X> = exp(-||2W||^2/2) = exp(-2||W||^2)":
            lin - torch.exp(-sq(W) / 2) * W + 0.5 * beta * (W - U) + 0.5 * gamma * (W + U),
        "the exponent of beta and gamma is missing its 1/2: E cos<A, X> = exp(-||A||^2/2)":
            lin - alpha * W + 0.5 * torch.exp(-sq(W - U)) * (W - U) + 0.5 * torch.exp(-sq(W + U)) * (W + U),
        "the linear part has c instead of c^2: d/dw_1 (1/2) c^2 ||w_1 - u_0||^2 = c^2 (w_1 - u_0)":
            _linear(W, U, c) + cos_part,
        "the linear part c^2 (w_1 - u_0) is missing (the first row of the gradient)": cos_part,
        "the linear part is applied to every row: only w_1 meets the linear patch c <w_1, x_1>":
            c**2 * (W - U) + cos_part,
    }


def check_population_gradient(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> Feedback:
    """Check an implementation of ``population_gradient(W, U, c)``, the closed-form :math:`\\nabla F(W)`.

    ``W`` and ``U`` are ``(k, d)`` tensors (float64), ``c`` is :math:`c_k`; the answer is a
    ``(k, d)`` tensor. The reference is :func:`dltheory.weight_sharing.population_gradient`.
    The test points make each term large somewhere (``W`` small, near ``U``, near ``-U``), so
    the typical mistakes (a missing factor 1/2, a sign, a wrong exponent, the linear term
    missing, with ``c`` for ``c^2``, or on every row) give different numbers and are named.
    """
    return check_function(fn, _reference, _cases(), name="population_gradient", hint=HINT, rtol=1e-8,
                          mistakes=_mistakes)
