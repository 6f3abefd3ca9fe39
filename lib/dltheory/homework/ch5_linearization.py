"""Checker of chapter 5's exercise on the prediction of a linearised network trained to convergence."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Feedback, check_function

__all__ = ["check_linearized_prediction"]

HINT = ("gradient descent on the linearised model converges to f0(x) + K(x, X) K^{-1} (y - f0(X)): solve "
        "K_train alpha = y - f0_train (torch.linalg.solve), then return f0_test + K_test @ alpha.")


def _cases() -> list[tuple[torch.Tensor, ...]]:
    """Positive definite training kernels, test kernels with n_test != n, targets, initial outputs.

    n_test differs from n in every case, so that a transposed ``K_test`` fails,
    and the initial outputs are not zero, so that forgetting either of them
    changes the answer.
    """
    g = torch.Generator().manual_seed(2018)
    cases = []
    for n, n_test, p in [(3, 2, 5), (6, 4, 9), (10, 7, 15)]:
        F = torch.randn(n + n_test, p, generator=g, dtype=torch.float64)
        K = F @ F.T + 0.1 * torch.eye(n + n_test, dtype=torch.float64)
        y = torch.randn(n, generator=g, dtype=torch.float64)
        f0 = 0.5 * torch.randn(n + n_test, generator=g, dtype=torch.float64)
        cases.append((K[:n, :n], K[n:, :n], y, f0[:n], f0[n:]))
    return cases


def _reference(K_train, K_test, y, f0_train, f0_test) -> torch.Tensor:
    """Ridgeless kernel regression on the residual, by a linear solve (an oracle apart from the library's eigh)."""
    return f0_test + K_test @ torch.linalg.solve(K_train, y - f0_train)


def _mistakes(K_train, K_test, y, f0_train, f0_test) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    solve = torch.linalg.solve
    return {
        "f0_test is missing: the linearised model keeps its initial output, f_lin = f0 + J (theta - theta0)":
            K_test @ solve(K_train, y - f0_train),
        "the residual is y, not y - f0_train: training fits what the initial network gets wrong":
            f0_test + K_test @ solve(K_train, y),
        "plain kernel regression K(x, X) K^{-1} y: that is the mean over initialisations, not this network's "
        "prediction (it ignores f0 on both sides)": K_test @ solve(K_train, y),
        "the residual f0_train - y instead of y - f0_train: the fit moves the outputs towards y":
            f0_test + K_test @ solve(K_train, f0_train - y),
        "K_train times the residual instead of its inverse: gradient descent's first step, not its limit":
            f0_test + K_test @ (y - f0_train),
    }


def check_linearized_prediction(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Check an implementation of ``linearized_prediction(K_train, K_test, y, f0_train, f0_test)``.

    The answer is the limit of gradient descent on the square loss for a model
    linear in its parameters with kernel :math:`K` and initial outputs :math:`f_0`,

    .. math::  f_\\infty(x) = f_0(x) + K(x, X)\\,K(X, X)^{-1}\\,(y - f_0(X)),

    on the test inputs: ``K_train`` is ``(n, n)``, ``K_test`` ``(n_test, n)``,
    ``y`` and ``f0_train`` ``(n,)``, ``f0_test`` ``(n_test,)``. The reference
    solves the linear system with ``torch.linalg.solve``. Typical mistakes are
    named: a missing ``f0_test``, the residual ``y`` or ``f0 - y``, plain kernel
    regression, and :math:`K` in place of :math:`K^{-1}`.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "linearized_prediction"),
                          hint=HINT, rtol=1e-6, mistakes=_mistakes)
