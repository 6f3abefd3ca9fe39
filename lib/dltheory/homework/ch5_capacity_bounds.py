"""Checker of chapter 5's exercise on the lecture's covering-number capacity :math:`(A L_\\phi)^{L(L+1)}/\\epsilon^{2L}`."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..bounds import covering_number_bound
from .core import Feedback, check_function, relu_network

__all__ = ["check_covering_exponent"]

HINT = ("A is the largest l1 norm of the incoming weights of any unit: for each matrix A_i of shape "
        "(outputs, inputs) take the l1 norm of every row, A_i.abs().sum(dim=1), and the maximum over all "
        "rows of all layers. Then log2 C = L (L + 1) log2(A) - 2 L log2(eps).")


def _cases() -> list[tuple[list[torch.Tensor], float]]:
    """(weights, eps): the exercise's example, then random rectangular networks of depths 2 to 4 whose
    rows and columns have different norms and whose largest unit is in the last layer (so column sums,
    l2 norms or the first layer alone give different numbers)."""
    g = torch.Generator().manual_seed(1998)
    cases = [([torch.tensor([[1.0, -2.0], [0.5, 0.5]], dtype=torch.float64),
               torch.tensor([[2.5, -1.5]], dtype=torch.float64)], 0.5)]
    for widths, eps in (([4, 3, 2], 0.3), ([5, 3, 2], 0.1), ([4, 7, 6, 3], 2.0), ([6, 2, 5, 4, 3], 0.05)):
        weights = []
        for d_in, d_out in zip(widths[:-1], widths[1:]):
            scale = torch.linspace(0.5, 2.0, d_out, dtype=torch.float64)[:, None]
            weights.append(scale * torch.randn(d_out, d_in, generator=g, dtype=torch.float64))
        weights[-1] = 4.0 * weights[-1]  # the largest unit is not in the first layer
        cases.append((weights, eps))
    return cases


def _reference(weights: list[torch.Tensor], eps: float) -> float:
    """:func:`dltheory.bounds.covering_number_bound` (``log2_covering``, :math:`b = 1`) of the
    bias-free ReLU network with these layers, at :math:`\\gamma = 2\\epsilon`."""
    net = relu_network(weights)
    return covering_number_bound(net, 1, gamma=2.0 * eps)["log2_covering"]


def _mistakes(weights: list[torch.Tensor], eps: float) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    L = len(weights)
    rows = max(A.abs().sum(dim=1).max().item() for A in weights)
    cols = max(A.abs().sum(dim=0).max().item() for A in weights)
    l2 = max(A.norm(dim=1).max().item() for A in weights)
    first = weights[0].abs().sum(dim=1).max().item()

    def value(a, power=L * (L + 1), log=math.log2, sign=-1.0):
        return power * log(a) + sign * 2 * L * log(eps)

    return {
        "A from the columns of A_i: a unit's incoming weights are a row of A_i (shape outputs x inputs), "
        "so take the l1 norm of every row": value(cols),
        "A from Euclidean (l2) norms: the theorem bounds the l1 norm of each unit's weights": value(l2),
        "the exponent L^2 in place of L (L + 1)": value(rows, power=L * L),
        "natural logarithms: the capacity is log base 2": value(rows, log=math.log),
        "the sign of the epsilon term: a finer cover (smaller eps) needs more functions, "
        "so -2L log2(eps) is added": value(rows, sign=1.0),
        "A from the first layer only: A bounds every unit of every layer": value(first),
    }


def check_covering_exponent(fn: Callable[..., float]) -> Feedback:
    """Check an implementation of ``log2_covering_by_hand(weights, eps)``.

    ``weights`` is a list of float64 tensors :math:`A_1, \\dots, A_L` of shapes
    (outputs, inputs) and ``eps`` a positive number; the answer is the base-2
    logarithm of the lecture's covering-number capacity with constant 1 and
    :math:`L_\\phi = 1`,

    .. math::  \\log_2 C = L(L+1)\\log_2 A - 2L\\log_2\\epsilon, \\qquad
               A = \\max_i \\max_r \\sum_c |A_i[r, c]|,

    compared with :func:`dltheory.bounds.covering_number_bound`. Typical
    mistakes are named: column instead of row sums, :math:`\\ell_2` norms, the
    exponent :math:`L^2`, natural logarithms, the sign of the :math:`\\epsilon`
    term, and :math:`A` from the first layer only.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "log2_covering_by_hand"),
                          hint=HINT, rtol=1e-6, mistakes=_mistakes)
