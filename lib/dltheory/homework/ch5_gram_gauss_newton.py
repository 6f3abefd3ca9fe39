"""Checker of chapter 5's exercise on one Gram-Gauss-Newton step by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Feedback, check_function

__all__ = ["check_ggn_step"]

HINT = ("with the Gram matrix G = J J^T (b x b), solve (lam G + alpha I) c = r for c (torch.linalg.solve), "
        "then return the step -J^T c, a vector with one entry per parameter.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, float, float]]:
    """Jacobians ``(b, P)`` with :math:`b < P`, residuals ``(b,)``, :math:`\\lambda \\ne 1`, :math:`\\alpha > 0`.

    Every case has :math:`\\lambda \\ne 1` and :math:`\\alpha > 0` and
    :math:`\\lambda \\ne \\alpha`, so that forgetting or swapping either one
    changes the answer; the Jacobians are not square, so that a transposed
    product fails or gives the wrong shape.
    """
    g = torch.Generator().manual_seed(2019)
    cases = []
    for b, P, lam, alpha in [(2, 5, 2.0, 0.5), (3, 7, 0.5, 0.1), (4, 9, 3.0, 1.5)]:
        J = torch.randn(b, P, generator=g, dtype=torch.float64)
        r = torch.randn(b, generator=g, dtype=torch.float64)
        cases.append((J, r, lam, alpha))
    return cases


def _solve(J: torch.Tensor, r: torch.Tensor, scale: float, shift: float) -> torch.Tensor:
    G = J @ J.T
    return J.T @ torch.linalg.solve(scale * G + shift * torch.eye(G.shape[0], dtype=G.dtype), r)


def _reference(J: torch.Tensor, r: torch.Tensor, lam: float, alpha: float) -> torch.Tensor:
    """:math:`-J^\\top(\\lambda JJ^\\top + \\alpha I)^{-1} r`."""
    return -_solve(J, r, lam, alpha)


def _mistakes(J: torch.Tensor, r: torch.Tensor, lam: float, alpha: float) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    return {
        "the step +J^T (lam G + alpha I)^{-1} r: the step goes against the residual r = f - y, so it carries "
        "a minus sign": _solve(J, r, lam, alpha),
        "lam is missing: the Gram matrix is scaled, (lam G + alpha I)": -_solve(J, r, 1.0, alpha),
        "alpha is missing: the damping adds alpha to the diagonal, (lam G + alpha I)": -_solve(J, r, lam, 0.0),
        "lam and alpha are swapped: lam multiplies G = J J^T, alpha multiplies the identity":
            -_solve(J, r, alpha, lam),
        "the gradient step -J^T r: Gauss-Newton first solves with the Gram matrix, -J^T (lam G + alpha I)^{-1} r":
            -J.T @ r,
    }


def check_ggn_step(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Check an implementation of ``ggn_step(J, r, lam, alpha)``.

    ``J`` ``(b, P)`` is the Jacobian of a batch's outputs with respect to the
    parameters, ``r`` ``(b,)`` the residuals :math:`f(w) - y`. The answer is
    the step of the stable Gram-Gauss-Newton method (Cai et al. 2019),

    .. math::  \\Delta w = -J^\\top(\\lambda JJ^\\top + \\alpha I)^{-1} r ,

    a vector of length :math:`P`. (An answer through the :math:`P \\times P`
    matrix, :math:`-(\\lambda J^\\top J + \\alpha I)^{-1} J^\\top r`, is the
    same step and passes: that is the push-through identity.) Typical mistakes
    are named: the sign, a missing :math:`\\lambda` or :math:`\\alpha`, the
    two swapped, and a plain gradient step.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "ggn_step"), hint=HINT,
                          rtol=1e-6, mistakes=_mistakes)
