"""Linear least squares: closed forms and the gradient dynamics that reach them.

The simplest setting of the book's implicit-bias story (deck 1, "Even just
implicit regularization by GD+SGD works in the degenerate linear case"). With
examples stored as rows, as PyTorch does,

.. math::

    L(W) = \\frac{1}{2n} \\lVert X W^\\top - Y \\rVert_F^2,
    \\qquad X \\in \\mathbb{R}^{n\\times d},\\ Y \\in \\mathbb{R}^{n\\times k},\\ W \\in \\mathbb{R}^{k\\times d}.

The gradient :math:`\\tfrac1n (XW^\\top - Y)^\\top X` has its rows in the span
of the examples, so gradient descent never changes the part of :math:`W` that
lies in the null space of :math:`X`. From :math:`W_0` it therefore converges to

.. math::  W_\\infty = W^+ + W_0 (I - X^+ X), \\qquad W^+ = (X^+ Y)^\\top,

the minimum-norm interpolant plus the initial null-space component
(Zhang et al. 2017, sec. 5; Poggio et al. 2017, Corollary 1). In the deck's
notation, with examples as columns, :math:`W^+ = Y X^\\dagger`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._checks import as_tensor, check_int, check_real, check_seed, check_tensor
from .train.history import record_points

__all__ = [
    "least_squares_loss",
    "min_norm_solution",
    "row_space_projector",
    "gd_limit",
    "ridge_solution",
    "ridge_hessian",
    "gradient_descent",
    "stochastic_gradient_descent",
    "Trajectory",
    "LinearTeacher",
]


def _matrix(A, name: str, what: str) -> torch.Tensor:
    """A finite floating matrix (an integer one becomes float64); ``what`` names its columns."""
    t = as_tensor(A, name)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a matrix (n examples x {what}), got shape {tuple(t.shape)}")
    t = check_tensor(t, name)
    return t if t.is_floating_point() else t.double()


def _check_data(X, Y) -> tuple[torch.Tensor, torch.Tensor]:
    """``X`` (n x d) and ``Y`` (n x k) as finite floating tensors, ``Y`` placed like ``X``."""
    X, Y = _matrix(X, "X", "d features"), _matrix(Y, "Y", "k outputs")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples (rows) but Y has {Y.shape[0]}")
    return X, Y.to(X)


def _check_weights(W, X: torch.Tensor, Y: torch.Tensor, name: str = "W0") -> torch.Tensor:
    """A finite ``(k, d)`` weight matrix, placed like ``X``."""
    expected = (Y.shape[1], X.shape[1])
    if not isinstance(W, (torch.Tensor, np.ndarray)):
        raise TypeError(f"{name} must be a tensor of shape (k, d) = {expected}, got {type(W).__name__}")
    W = as_tensor(W, name)
    if tuple(W.shape) != expected:
        raise ValueError(f"{name} must have shape (k, d) = {expected}, got {tuple(W.shape)}")
    if not torch.isfinite(W).all():
        raise ValueError(f"{name} contains NaN or inf")
    return W.to(X)


def least_squares_loss(W: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, lam: float = 0.0) -> torch.Tensor:
    """:math:`\\frac{1}{2n}\\lVert XW^\\top - Y\\rVert_F^2 + \\frac{\\lambda}{2}\\lVert W\\rVert_F^2`.

    Differentiable in ``W`` (it is not detached or copied).
    """
    X, Y = _check_data(X, Y)
    lam = check_real(lam, "lam", min=0.0)
    if not isinstance(W, torch.Tensor) or tuple(W.shape) != (Y.shape[1], X.shape[1]):
        shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
        raise ValueError(f"W must be a tensor of shape (k, d) = {(Y.shape[1], X.shape[1])}, got {shape}")
    residual = X @ W.T - Y
    return residual.pow(2).sum() / (2 * X.shape[0]) + 0.5 * lam * W.pow(2).sum()


def min_norm_solution(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """The minimum-Frobenius-norm least-squares solution :math:`W^+ = (X^+ Y)^\\top`."""
    X, Y = _check_data(X, Y)
    return (torch.linalg.pinv(X) @ Y).T


def row_space_projector(X: torch.Tensor) -> torch.Tensor:
    """:math:`X^+ X`, the orthogonal projector onto the span of the examples (rows of ``X``)."""
    X = _matrix(X, "X", "d features")
    return torch.linalg.pinv(X) @ X


def gd_limit(X: torch.Tensor, Y: torch.Tensor, W0: torch.Tensor) -> torch.Tensor:
    """Where GD and SGD from ``W0`` converge: :math:`W^+ + W_0 (I - X^+X)`.

    Computed with one pseudo-inverse and without forming the d x d projector.
    """
    X, Y = _check_data(X, Y)
    W0 = _check_weights(W0, X, Y)
    X_pinv = torch.linalg.pinv(X)
    return (X_pinv @ Y).T + W0 - (W0 @ X_pinv) @ X


def ridge_solution(X: torch.Tensor, Y: torch.Tensor, lam: float) -> torch.Tensor:
    """The unique minimiser of the ridge loss, :math:`W_\\lambda = Y^\\top X (X^\\top X + n\\lambda I)^{-1}`.

    Computed through the n x n system :math:`W_\\lambda = Y^\\top (XX^\\top + n\\lambda I)^{-1} X`,
    which is equal and cheaper when d > n. As :math:`\\lambda \\to 0` it tends to :math:`W^+`.
    """
    X, Y = _check_data(X, Y)
    lam = check_real(lam, "lam", min=0.0, min_open=True)
    n = X.shape[0]
    gram = X @ X.T + n * lam * torch.eye(n, dtype=X.dtype, device=X.device)
    return torch.linalg.solve(gram, Y).T @ X


def ridge_hessian(X: torch.Tensor, lam: float) -> torch.Tensor:
    """Hessian of the ridge loss in one row of ``W``: :math:`X^\\top X / n + \\lambda I` (d x d).

    The Hessian in all of ``vec(W)`` is ``k`` copies of it on the block diagonal.
    Its smallest eigenvalue is :math:`\\lambda + \\lambda_{\\min}(X^\\top X/n)`, which is
    exactly :math:`\\lambda` when d > n: the minimum becomes non-degenerate for any
    :math:`\\lambda > 0`.
    """
    X = _matrix(X, "X", "d features")
    lam = check_real(lam, "lam", min=0.0)
    d = X.shape[1]
    return X.T @ X / X.shape[0] + lam * torch.eye(d, dtype=X.dtype, device=X.device)


@dataclass
class Trajectory:
    """Iterates of a run: ``steps[i]`` and the weights ``weights[i]`` after that many updates."""

    steps: list[int]
    weights: list[torch.Tensor]

    @property
    def final(self) -> torch.Tensor:
        return self.weights[-1]

    def distances(self, W: torch.Tensor) -> torch.Tensor:
        """Frobenius distance of every recorded iterate to ``W``."""
        return torch.stack([torch.linalg.norm(w - W) for w in self.weights])


def _default_lr(X: torch.Tensor) -> float:
    """Step size 1/L with L the largest eigenvalue of :math:`X^\\top X / n` (safe for GD)."""
    top = torch.linalg.matrix_norm(X, ord=2).item() ** 2 / X.shape[0]
    return 1.0 / top


def _check_finite(W: torch.Tensor, step: int, lr: float) -> None:
    if not torch.isfinite(W).all():
        raise FloatingPointError(
            f"the iterates diverged (NaN/inf) at step {step} with lr={lr:g}; "
            "use a smaller step size (GD is stable below 2 / largest eigenvalue of X^T X / n)"
        )


def gradient_descent(
    X: torch.Tensor,
    Y: torch.Tensor,
    W0: torch.Tensor,
    *,
    steps: int,
    lr: float | None = None,
    lam: float = 0.0,
    record_every: int | None = None,
) -> Trajectory:
    """Full-batch gradient descent on the (ridge) least-squares loss.

    :math:`W_{t+1} = W_t - \\eta\\,(\\tfrac1n (XW_t^\\top - Y)^\\top X + \\lambda W_t)`.
    The default step size is :math:`1/\\lambda_{\\max}(X^\\top X/n)`.
    """
    X, Y = _check_data(X, Y)
    W0 = _check_weights(W0, X, Y)
    steps = check_int(steps, "steps", min=0)
    lr = _default_lr(X) if lr is None else check_real(lr, "lr", min=0.0, min_open=True)
    lam = check_real(lam, "lam", min=0.0)
    n = X.shape[0]
    record = set(record_points(steps, record_every))
    W = W0.clone()
    traj = Trajectory([0], [W.clone()])
    for t in range(1, steps + 1):
        W = W - lr * ((X @ W.T - Y).T @ X / n + lam * W)
        _check_finite(W, t, lr)
        if t in record:
            traj.steps.append(t)
            traj.weights.append(W.clone())
    return traj


def stochastic_gradient_descent(
    X: torch.Tensor,
    Y: torch.Tensor,
    W0: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float | None = None,
    seed: int = 0,
    record_every: int | None = None,
) -> Trajectory:
    """Mini-batch SGD, reshuffling the examples every epoch with a seeded generator.

    Each update uses the gradient of the loss on one batch. On interpolable data
    (a consistent system) every batch loss vanishes at the same solutions, so a
    constant step size converges. ``steps`` in the trajectory count updates. The
    default step size, :math:`1/\\max_i \\lVert x_i\\rVert^2`, is stable for every batch:
    it bounds the largest eigenvalue of any batch's :math:`X_b^\\top X_b / b`.
    """
    X, Y = _check_data(X, Y)
    W0 = _check_weights(W0, X, Y)
    n = X.shape[0]
    epochs = check_int(epochs, "epochs", min=0)
    batch_size = check_int(batch_size, "batch_size", min=1, max=n)
    lr = 1.0 / X.pow(2).sum(dim=1).max().item() if lr is None else check_real(lr, "lr", min=0.0, min_open=True)
    generator = torch.Generator().manual_seed(check_seed(seed))
    batches_per_epoch = math.ceil(n / batch_size)
    total = epochs * batches_per_epoch
    record = set(record_points(total, record_every))
    W = W0.clone()
    traj = Trajectory([0], [W.clone()])
    t = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(X.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            Xb, Yb = X[idx], Y[idx]
            W = W - lr * (Xb @ W.T - Yb).T @ Xb / len(idx)
            t += 1
            _check_finite(W, t, lr)
            if t in record:
                traj.steps.append(t)
                traj.weights.append(W.clone())
    return traj


@dataclass
class LinearTeacher:
    """A wide linear regression problem with a linear teacher: ``Y = X W_star^T``.

    ``X`` has i.i.d. :math:`N(0, 1/d)` entries so that :math:`\\lVert x\\rVert \\approx 1`;
    test points are drawn the same way.
    """

    X: torch.Tensor
    Y: torch.Tensor
    X_test: torch.Tensor
    Y_test: torch.Tensor
    W_star: torch.Tensor

    @classmethod
    def sample(
        cls, n: int, d: int, k: int = 1, *, n_test: int = 1000, seed: int = 0, device: torch.device | str = "cpu"
    ) -> LinearTeacher:
        """Draw a problem in float64 (the same numbers on every device for a seed)."""
        n, d, k, n_test = (check_int(v, name, min=1) for v, name in ((n, "n"), (d, "d"), (k, "k"), (n_test, "n_test")))
        g = torch.Generator().manual_seed(check_seed(seed))
        W_star = torch.randn(k, d, generator=g, dtype=torch.float64)
        X = torch.randn(n, d, generator=g, dtype=torch.float64) / d**0.5
        X_test = torch.randn(n_test, d, generator=g, dtype=torch.float64) / d**0.5
        tensors = (X, X @ W_star.T, X_test, X_test @ W_star.T, W_star)
        return cls(*(t.to(device) for t in tensors))

    def test_error(self, W: torch.Tensor) -> float:
        """Mean squared error on the test points, per output."""
        return (self.X_test @ W.T - self.Y_test).pow(2).mean().item()
