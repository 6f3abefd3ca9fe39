"""Checker of chapter 3's exercise on why each hidden unit of a wide network moves by :math:`O(m^{-1/2})`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Feedback, check_function

__all__ = ["check_unit_gradients"]

HINT = ("with u_i = sum_r a_r relu(<w_r, x_i>) and L = (1/2n) sum_i (u_i - y_i)^2, the chain rule gives "
        "dL/dw_r = (1/n) sum_i (u_i - y_i) a_r 1[<w_r, x_i> > 0] x_i; stack these rows into an (m, d) matrix.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Hidden weights ``(m, d)``, outer weights ``(m,)`` of size 1/sqrt(m), inputs ``(n, d)`` on the sphere, labels.

    n, m and d differ in every case, so that a transposed product fails or
    gives the wrong shape, and the outer weights are not all equal, so that
    forgetting them is not a constant factor.
    """
    g = torch.Generator().manual_seed(2019)
    cases = []
    for n, m, d in [(5, 8, 3), (12, 6, 4), (9, 20, 7)]:
        W = torch.randn(m, d, generator=g, dtype=torch.float64)
        a = torch.where(torch.rand(m, generator=g) < 0.5, -1.0, 1.0).double() / m**0.5
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
        cases.append((W, a, X / X.norm(dim=1, keepdim=True), y))
    return cases


def _reference(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient by automatic differentiation of the loss itself."""
    W = W.detach().clone().requires_grad_(True)
    u = torch.relu(X @ W.T) @ a
    loss = 0.5 * (u - y).pow(2).mean()
    (grad,) = torch.autograd.grad(loss, W)
    return grad


def _mistakes(W: torch.Tensor, a: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    n = X.shape[0]
    Z = X @ W.T  # (n, m) pre-activations
    r = torch.relu(Z) @ a - y  # residuals u_i - y_i
    D = (Z > 0).double()

    def grad(weights: torch.Tensor, resid: torch.Tensor = r, scale: float = 1 / n) -> torch.Tensor:
        return scale * (resid[:, None] * weights * a).T @ X

    return {
        "the activation relu(<w_r, x_i>) in place of its derivative 1[<w_r, x_i> > 0]: the chain rule "
        "differentiates relu, it does not repeat it": grad(torch.relu(Z)),
        "no indicator 1[<w_r, x_i> > 0]: a unit that is off for x_i gets no gradient from x_i": grad(torch.ones_like(D)),
        "the residual y_i - u_i instead of u_i - y_i: the gradient of (u - y)^2 / 2 with respect to u is u - y":
            grad(D, -r),
        "a sum over the examples: L averages over them, so divide by n": grad(D, r, 1.0),
        "no factor 1/2 taken into account: the derivative of (u - y)^2 / 2 is (u - y), not 2 (u - y)":
            grad(D, r, 2 / n),
        "the outer weight a_r is missing: the gradient of a_r relu(<w_r, x>) carries the factor a_r "
        "(that factor, 1/sqrt(m), is the point of the exercise)": grad(D) / a[:, None],
        "the outer weights' gradient (one number per unit), not the hidden weights' (one row per unit)":
            (r[:, None] * torch.relu(Z)).mean(dim=0),
    }


def check_unit_gradients(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Check an implementation of ``unit_gradients(W, a, X, y)``.

    ``W`` ``(m, d)`` holds the hidden weights :math:`w_r` as rows, ``a`` ``(m,)``
    the fixed outer weights, ``X`` ``(n, d)`` the inputs and ``y`` ``(n,)`` the
    labels of the network :math:`u(x) = \\sum_r a_r \\operatorname{relu}(\\langle w_r, x\\rangle)`
    trained on :math:`L = \\frac{1}{2n}\\sum_i (u(x_i) - y_i)^2`. The answer is the
    ``(m, d)`` matrix whose row :math:`r` is

    .. math::  \\frac{\\partial L}{\\partial w_r} = \\frac1n \\sum_{i=1}^n (u(x_i) - y_i)\\, a_r\\,
               1[\\langle w_r, x_i\\rangle > 0]\\, x_i .

    The reference differentiates :math:`L` with ``torch.autograd``. Typical
    mistakes are named: relu in place of its derivative, no indicator, the
    residual's sign, a sum instead of a mean, a lost factor 2, a missing
    :math:`a_r`, and the gradient of the outer layer instead.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "unit_gradients"),
                          hint=HINT, rtol=1e-6, mistakes=_mistakes)
