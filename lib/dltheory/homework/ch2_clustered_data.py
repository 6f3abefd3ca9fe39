"""Checker of chapter 2's exercise on the fraction of activation patterns that flip during training."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import activation_patterns
from .core import Feedback, check_function

__all__ = ["check_flip_fraction"]

HINT = ("compute the pattern before and after, two Boolean (n, m) matrices whose entry (i, r) says whether "
        "<w_r, x_i> > 0, and return the fraction of the n * m entries on which they disagree.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Hidden weights before and after a move of a few sizes, on inputs of the unit sphere.

    n, m and d differ in every case, so that dividing by the wrong count or
    transposing a matrix gives a different number or a shape error.
    """
    g = torch.Generator().manual_seed(2018)
    cases = []
    for n, m, d, step in [(7, 5, 3, 0.3), (20, 11, 4, 0.15), (13, 40, 6, 0.05)]:
        W0 = torch.randn(m, d, generator=g, dtype=torch.float64)
        W = W0 + step * torch.randn(m, d, generator=g, dtype=torch.float64)
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        cases.append((W0, W, X / X.norm(dim=1, keepdim=True)))
    return cases


def _patterns(W0: torch.Tensor, W: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return X @ W0.T > 0, X @ W.T > 0


def _reference(W0: torch.Tensor, W: torch.Tensor, X: torch.Tensor) -> float:
    before, after = _patterns(W0, W, X)
    return activation_patterns.flip_fraction(before, after)


def _mistakes(W0: torch.Tensor, W: torch.Tensor, X: torch.Tensor) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    P0, P = _patterns(W0, W, X)
    flipped = P != P0
    n, m = flipped.shape
    count = float(flipped.sum())
    return {
        "the fraction of units that flip on at least one example: count (unit, example) pairs, i.e. "
        "average (P != P0) over all n * m entries, not over the m units": float(flipped.any(dim=0).double().mean()),
        "the fraction of examples on which at least one unit flips: average over all n * m (unit, example) "
        "pairs instead": float(flipped.any(dim=1).double().mean()),
        "the number of flipped pairs: divide it by the number of pairs, n * m": count,
        "the flips per example (divided by n only): divide by n * m": count / n,
        "the flips per unit (divided by m only): divide by n * m": count / m,
        "the fraction of pairs that did NOT flip: take P != P0, not P == P0": 1 - count / (n * m),
        "the fraction of weights whose sign changed: a pattern is the sign of the pre-activation "
        "<w_r, x_i>, not of a weight": float((torch.sign(W) != torch.sign(W0)).double().mean()),
        "the fraction of active pairs after the move: compare with the pattern before it": float(P.double().mean()),
        "the change in the fraction of active pairs: units switching on and off cancel there; count every "
        "pair whose pattern differs": abs(float(P.double().mean() - P0.double().mean())),
    }


def check_flip_fraction(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], float]) -> Feedback:
    """Check an implementation of ``flip_fraction(W0, W, X)``.

    ``W0`` and ``W`` are hidden weight matrices of shape ``(m, d)`` (before and
    after training), ``X`` holds ``n`` inputs as rows, ``(n, d)``. The answer is
    the fraction of (unit, example) pairs whose ReLU pattern changed,

    .. math::  \\frac{1}{nm} \\sum_{i=1}^n \\sum_{r=1}^m
               1\\bigl[\\,1[\\langle w_r, x_i\\rangle > 0] \\ne 1[\\langle w^{(0)}_r, x_i\\rangle > 0]\\,\\bigr],

    as a number. The reference is :func:`dltheory.activation_patterns.flip_fraction`.
    Typical mistakes are named: counting units or examples instead of pairs,
    dividing by the wrong count, comparing signs of weights instead of
    pre-activations, and letting switches on and off cancel.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "flip_fraction"),
                          hint=HINT, rtol=1e-6, mistakes=_mistakes)
