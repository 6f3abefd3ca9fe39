"""Degenerate minima of overparametrised networks: the layer-wise counting condition.

The glue of ``book/1-three-questions/degenerate-hessians.ipynb``. Under the
square loss :math:`L(w) = \\frac1{2n}\\sum_i \\lVert f(x_i; w) - y_i\\rVert^2` the
Hessian at a point of zero loss is the Gauss-Newton matrix :math:`J^\\top J / n`,
with :math:`J` the :math:`(n d') \\times P` Jacobian of all outputs. Its rank is at
most :math:`n d'`, so an overparametrised network (:math:`P > n d'`) has at least
:math:`P - n d'` zero Hessian eigenvalues at every twice-differentiable zero-loss
point. The lecture deck of chapter 1 states a layer-wise version
(:func:`zero_eigenvalue_condition`) from the Theory III memo (Poggio, Kawaguchi, Liao
et al. 2018, arXiv:1801.00173); the deck labels it "Theorem 4 (K. Takeuchi)",
a name that is not among the memo's authors. The rescaling symmetries,
a second source of zero eigenvalues, are :func:`dltheory.homogeneity.rescaling_directions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from .._checks import check_int, check_real, check_tensor
from ..models.mlp import check_widths

__all__ = ["ZeroEigenvalueLayer", "zero_eigenvalue_condition", "near_zero_count"]


class ZeroEigenvalueLayer(NamedTuple):
    """One row of :func:`zero_eigenvalue_condition`.

    ``layer`` is :math:`k` (1-based), ``weights`` is :math:`N_k N_{k-1}`, ``bound``
    is :math:`n \\min(N_k, \\dots, N_{H+1})` (an upper bound on the rank of the
    Jacobian with respect to layer :math:`k`'s weights) and ``holds`` says
    whether ``weights > bound``.
    """

    layer: int
    weights: int
    bound: int
    holds: bool


def zero_eigenvalue_condition(widths: Sequence[int], n: int) -> list[ZeroEigenvalueLayer]:
    """The layer-wise overparametrisation condition of the zero-eigenvalue theorem.

    For a bias-free network with widths :math:`N_0 = d, N_1, \\dots, N_{H+1} = d'`
    trained on :math:`n` examples, layer :math:`k` satisfies the condition when
    :math:`N_k N_{k-1} > n \\min(N_k, N_{k+1}, \\dots, N_{H+1})`. If any layer does,
    the Hessian of the square loss is singular at every twice-differentiable point
    of zero loss (Theorem 4 of the chapter's deck, labelled there "K. Takeuchi";
    from Poggio et al. 2018, Theory III, arXiv:1801.00173).

    The reason: the Jacobian of example :math:`i`'s outputs with respect to
    :math:`W_k` is :math:`D_i \\otimes a_{k-1}(x_i)^\\top` with :math:`D_i =
    \\partial f(x_i)/\\partial h_k` of rank at most :math:`\\min(N_k, \\dots,
    N_{H+1})`, so the columns of :math:`J` that belong to :math:`W_k` have rank at
    most the ``bound``.

    Parameters
    ----------
    widths
        ``[d, N_1, ..., N_H, d']``.
    n
        Number of training examples.

    Returns
    -------
    One :class:`ZeroEigenvalueLayer` per weight matrix, :math:`k = 1, \\dots, H+1`.
    """
    widths = check_widths(widths)
    n = check_int(n, "n", min=1)
    rows = []
    for k in range(1, len(widths)):
        weights = widths[k] * widths[k - 1]
        bound = n * min(widths[k:])
        rows.append(ZeroEigenvalueLayer(k, weights, bound, weights > bound))
    return rows


def near_zero_count(eigenvalues, rtol: float) -> int:
    """How many eigenvalues have :math:`|\\lambda| \\le \\text{rtol} \\cdot \\max_i |\\lambda_i|`."""
    values = check_tensor(eigenvalues, "eigenvalues").to("cpu", torch.float64).reshape(-1)
    rtol = check_real(rtol, "rtol", min=0.0)
    largest = values.abs().max()
    return int((values.abs() <= rtol * largest).sum())
