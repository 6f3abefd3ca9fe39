"""Checker of chapter 4's exercise on the spectral complexity :math:`R_A` of Bartlett, Foster and Telgarsky."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..bounds import spectral_complexity
from .core import Feedback, check_function, relu_network

__all__ = ["check_spectral_complexity"]

HINT = ("for each layer take s_i = ||A_i||_sigma (torch.linalg.matrix_norm(A, ord=2)) and b_i = the sum of the "
        "Euclidean norms of the rows of A_i (= ||A_i^T||_{2,1}); then R_A = prod_i s_i * "
        "(sum_i (b_i / s_i)^(2/3))^(3/2).")


def _cases() -> list[tuple[list[torch.Tensor]]]:
    """Lists of float64 weight matrices (outputs, inputs): the exercise's 2x2 example, then random
    rectangular ones of depths 2 to 4 whose rows and columns have different norms (so that
    column norms, Frobenius norms or a missing power give different numbers)."""
    g = torch.Generator().manual_seed(2017)
    cases = [([torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64),
               torch.tensor([[1.0, 1.0]], dtype=torch.float64)],)]
    for widths in ([5, 3, 2], [4, 7, 6, 3], [6, 2, 5, 4, 3]):
        weights = []
        for d_in, d_out in zip(widths[:-1], widths[1:]):
            scale = torch.linspace(0.5, 2.0, d_out, dtype=torch.float64)[:, None]
            weights.append(scale * torch.randn(d_out, d_in, generator=g, dtype=torch.float64))
        cases.append((weights,))
    return cases


def _reference(weights: list[torch.Tensor]) -> float:
    """:func:`dltheory.bounds.spectral_complexity` of the bias-free network with these layers."""
    return spectral_complexity(relu_network(weights))


def _mistakes(weights: list[torch.Tensor]) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    s = [torch.linalg.matrix_norm(A, ord=2).item() for A in weights]
    rows = [A.norm(dim=1).sum().item() for A in weights]
    cols = [A.norm(dim=0).sum().item() for A in weights]
    frob = [torch.linalg.matrix_norm(A).item() for A in weights]
    prod = 1.0
    for si in s:
        prod *= si

    def r_a(b, power=1.5, inner=2 / 3):
        return prod * sum((bi / si) ** inner for bi, si in zip(b, s)) ** power

    return {
        "the sum of the column norms of A_i: ||A_i^T||_{2,1} sums the norms of the columns of A_i^T, "
        "which are the rows of A_i (one per unit)": r_a(cols),
        "the Frobenius norm in place of the (2,1) norm: the (2,1) norm sums the row norms, it does not "
        "take the root of the sum of their squares": r_a(frob),
        "the power 3/2 of the sum is missing": r_a(rows, power=1.0),
        "the ratios b_i / s_i without the power 2/3 inside the sum": r_a(rows, inner=1.0),
        "only the product of the spectral norms, the Lipschitz constant, without the correction factor": prod,
    }


def check_spectral_complexity(fn: Callable[..., float]) -> Feedback:
    """Check an implementation of ``spectral_complexity_by_hand(weights)``.

    ``weights`` is a list of float64 tensors :math:`A_1, \\dots, A_L` of shapes
    (outputs, inputs); the answer is the spectral complexity of Bartlett,
    Foster and Telgarsky (2017, eq. 1.2) with :math:`M_i = 0` and
    :math:`\\rho_i = 1`,

    .. math::  R_A = \\Big(\\prod_i \\lVert A_i\\rVert_\\sigma\\Big)
               \\Big(\\sum_i \\frac{\\lVert A_i^\\top\\rVert_{2,1}^{2/3}}{\\lVert A_i\\rVert_\\sigma^{2/3}}\\Big)^{3/2},

    compared with :func:`dltheory.bounds.spectral_complexity` of the bias-free
    ReLU network with these layers. Typical mistakes are named: column norms
    instead of row norms, the Frobenius norm, a missing outer or inner power,
    and the bare product of spectral norms.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "spectral_complexity_by_hand"),
                          hint=HINT, rtol=1e-8, mistakes=_mistakes)
