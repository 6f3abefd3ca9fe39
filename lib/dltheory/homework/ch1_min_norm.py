"""Checker of chapter 1's exercise on the minimum-norm interpolant."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import linear
from .core import Feedback, _to_numpy, check_function

__all__ = ["check_min_norm_solution"]


def _min_norm_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1234)
    cases = []
    for n, d, k in [(3, 5, 1), (8, 20, 3), (10, 10, 2)]:
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        Y = torch.randn(n, k, generator=g, dtype=torch.float64)
        cases.append((X, Y))
    return cases


def _diagnose_min_norm(W, X: torch.Tensor, Y: torch.Tensor) -> str | None:
    W = torch.as_tensor(_to_numpy(W), dtype=X.dtype)
    if W.shape != (Y.shape[1], X.shape[1]):
        return None
    fits = torch.allclose(X @ W.T, Y, rtol=1e-6, atol=1e-8)
    null_part = W @ (torch.eye(X.shape[1], dtype=X.dtype) - linear.row_space_projector(X))
    if fits and torch.linalg.norm(null_part) > 1e-6 * max(1.0, torch.linalg.norm(W).item()):
        return (
            "your W fits the data, but it is not the minimum-norm fit: it has a component "
            "in the null space of X. The minimum-norm W lies in the span of the examples, W = A X."
        )
    if not fits:
        return "your W does not fit the training data: X @ W.T should equal Y."
    return None


def check_min_norm_solution(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Check an implementation of ``min_norm_solution(X, Y) -> W`` (examples as rows).

    The reference is :func:`dltheory.linear.min_norm_solution`. The test cases
    include wide problems (d > n) where :math:`X^\\top X` is singular and a
    square one.
    """
    return check_function(
        fn,
        linear.min_norm_solution,
        _min_norm_cases(),
        name="min_norm_solution",
        hint="with d > n, X X^T (n x n) is invertible; look for W = A X with X W^T = Y.",
        diagnose=_diagnose_min_norm,
    )
