"""Curvature of a plain function of a vector, :math:`f:\\mathbb{R}^P \\to \\mathbb{R}`.

The rest of :mod:`dltheory.curvature` differentiates a training loss
:math:`\\ell(f(X;\\theta), y)`. Landscapes studied for their own sake (a saddle
:math:`\\tfrac12x^2 + \\tfrac14y^4 - \\tfrac12y^2`, the rank-:math:`k` approximation
:math:`\\tfrac14\\lVert UU^\\top - M\\rVert_F^2`) are functions of one vector, and
these routines take them as they are:

* :func:`function_gradient`, :func:`function_hvp`: :math:`\\nabla f(\\theta)` and
  :math:`\\nabla^2 f(\\theta)\\,v`, the latter reverse-over-reverse (Pearlmutter 1994);
* :func:`function_hessian`: the dense :math:`\\nabla^2 f(\\theta)` from :math:`P`
  such products, symmetrised;
* :func:`function_eigenpairs`: extreme eigenpairs of :math:`\\nabla^2 f(\\theta)` by
  :func:`dltheory.curvature.lanczos` on the products of :func:`function_hvp`
  (``which='smallest'`` finds the escape direction of a saddle);
* :class:`FunctionModel` and :func:`function_value`: the function as an
  ``nn.Module`` with the single parameter :math:`\\theta`, and the "loss" that returns
  its value, so that :func:`dltheory.train.fit` (and every routine taking
  ``(model, loss, X, y)``) runs on it unchanged; ``X`` and ``y`` are then dummies
  (:data:`DUMMY_X`, :data:`DUMMY_Y`).

``f`` must be written with torch operations (no ``.item()``, no NumPy) so that
autograd can differentiate it twice, and return a one-element tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .._checks import as_tensor
from ..config import float64_device
from .eigenpairs import Eigenpairs, _iterate

__all__ = ["function_gradient", "function_hvp", "function_hessian", "function_eigenpairs", "FunctionModel",
           "function_value", "DUMMY_X", "DUMMY_Y"]

Function = Callable[[torch.Tensor], torch.Tensor]

#: The one dummy input and target with which :func:`dltheory.train.fit` trains a :class:`FunctionModel`.
DUMMY_X = torch.zeros(1, 1)
DUMMY_Y = torch.zeros(1)


def _check_theta(theta: Any) -> torch.Tensor:
    t = as_tensor(theta, "theta")
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"theta must be a non-empty vector of shape (P,), got shape {tuple(t.shape)}; "
                         "flatten a matrix argument and reshape it inside f")
    if not t.is_floating_point():
        raise TypeError(f"theta must be floating point, got {t.dtype}")
    if not torch.isfinite(t).all():
        raise ValueError("theta contains NaN or inf")
    return t


def _check_f(f: Any, theta: torch.Tensor) -> Function:
    if not callable(f):
        raise TypeError(f"f must be a function of a vector returning a scalar tensor, got {type(f).__name__}")
    value = f(theta)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shown = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"f must return a scalar tensor (one element), got {shown}")
    return f


def _check_vector(v: Any, theta: torch.Tensor, name: str = "v") -> torch.Tensor:
    v = as_tensor(v, name)
    if v.shape != theta.shape:
        raise ValueError(f"{name} must have the shape of theta, {tuple(theta.shape)}, got {tuple(v.shape)}")
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} contains NaN or inf")
    return v.to(dtype=theta.dtype, device=theta.device)


def function_gradient(f: Function, theta: Any) -> torch.Tensor:
    """:math:`\\nabla f(\\theta)`, shape ``(P,)``, by autograd.

    Parameters
    ----------
    f
        A function of a tensor of shape ``(P,)`` returning a one-element tensor.
    theta
        The point, a floating vector of shape ``(P,)``.
    """
    theta = _check_theta(theta)
    f = _check_f(f, theta)
    point = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        value = f(point).reshape(())
    if not value.requires_grad:  # f does not depend on theta
        return torch.zeros_like(theta)
    return torch.autograd.grad(value, point, allow_unused=True)[0]


def function_hvp(f: Function, theta: Any, v: Any) -> torch.Tensor:
    """The Hessian-vector product :math:`\\nabla^2 f(\\theta)\\,v`, shape ``(P,)``.

    Reverse-over-reverse: :math:`\\nabla_\\theta\\langle\\nabla f(\\theta), v\\rangle`, a
    second backward pass through the graph of the gradient, which never forms
    the Hessian (Pearlmutter 1994, "Fast exact multiplication by the Hessian").
    """
    theta = _check_theta(theta)
    f = _check_f(f, theta)
    return _hvp_operator(f, theta)(_check_vector(v, theta))


def _hvp_operator(f: Function, theta: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """:math:`v \\mapsto \\nabla^2 f(\\theta)v` by reverse-over-reverse, the gradient's graph built once.

    Each product is one backward pass through the graph of :math:`\\nabla f`
    (Pearlmutter 1994); for the small functions of the book this is about a
    hundred times cheaper than ``torch.func.jvp`` of ``torch.func.grad``, whose
    transforms are rebuilt at every call.
    """
    point = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        grad = torch.autograd.grad(f(point).reshape(()), point, create_graph=True)[0]
    if not grad.requires_grad:  # f is linear in theta: the Hessian is zero
        return lambda v: torch.zeros_like(theta)
    return lambda v: torch.autograd.grad(grad, point, v, retain_graph=True, allow_unused=True)[0].detach()


def function_hessian(f: Function, theta: Any) -> torch.Tensor:
    """The dense Hessian :math:`\\nabla^2 f(\\theta)`, shape ``(P, P)``.

    Column :math:`i` is the product :math:`\\nabla^2 f(\\theta)e_i` of :func:`function_hvp`
    (one backward pass each, the gradient's graph built once); the result is
    symmetrised, :math:`(H + H^\\top)/2`, to remove rounding asymmetry.
    """
    theta = _check_theta(theta)
    f = _check_f(f, theta)
    op = _hvp_operator(f, theta)
    eye = torch.eye(theta.numel(), dtype=theta.dtype, device=theta.device)
    H = torch.stack([op(e) for e in eye])
    return 0.5 * (H + H.T)


def function_eigenpairs(f: Function, theta: Any, k: int = 1, *, which: str = "smallest", tol: float = 1e-8,
                        max_iter: int | None = None, seed: int = 0, progress: bool | None = None) -> Eigenpairs:
    """Extreme eigenpairs of :math:`\\nabla^2 f(\\theta)` by Lanczos on Hessian-vector products.

    :func:`dltheory.curvature.lanczos` (full reorthogonalisation, float64 basis)
    on the matvec of :func:`function_hvp`. At a critical point, ``which='smallest'``
    (the default) gives the most negative curvature and its direction: a
    *strict saddle* has :math:`\\lambda_{\\min} < 0` (Lee, Simchowitz, Jordan, Recht
    2016), and the eigenvector is where gradient descent leaves it.

    Parameters
    ----------
    f, theta
        As for :func:`function_gradient`.
    k, which, tol, max_iter, seed, progress
        As for :func:`dltheory.curvature.lanczos` (``which`` is ``'smallest'``,
        ``'largest'`` or ``'magnitude'``; the tolerance here defaults to ``1e-8``).

    Returns
    -------
    :class:`~dltheory.curvature.Eigenpairs` of float64 tensors on ``theta``'s device
    (the CPU for MPS): ``values`` ``(k,)``, ``vectors`` ``(P, k)``.
    """
    theta = _check_theta(theta)
    f = _check_f(f, theta)
    device = float64_device(theta.device)
    op = _hvp_operator(f, theta)
    matvec = lambda v: op(v.to(theta.dtype)).to(torch.float64)  # noqa: E731
    return _iterate(matvec, theta.numel(), k=k, which=which, tol=tol, max_iter=max_iter, seed=seed, device=device,
                    progress=progress)


class FunctionModel(nn.Module):
    """A function of a vector as a model: one parameter :math:`\\theta`, output :math:`f(\\theta)`.

    ``model(X)`` returns :math:`f(\\theta)` once per row of ``X``, shape ``(n,)``,
    whatever ``X`` holds; with the loss :func:`function_value` (the mean of the
    outputs) the training objective *is* :math:`f(\\theta)`. So
    ``fit(FunctionModel(f, theta0), DUMMY_X, DUMMY_Y, loss=function_value, ...)``
    runs gradient descent (or any optimizer) on :math:`f`, and
    ``curvature.hessian(model, function_value, DUMMY_X, DUMMY_Y)`` is
    :math:`\\nabla^2 f`.

    Parameters
    ----------
    f
        A function of a tensor of shape ``(P,)`` returning a one-element tensor.
    theta0
        The starting point, shape ``(P,)``; copied into the parameter ``theta``
        (same dtype and device).
    """

    def __init__(self, f: Function, theta0: Any) -> None:
        super().__init__()
        theta0 = _check_theta(theta0)
        self.f = _check_f(f, theta0)
        self.theta = nn.Parameter(theta0.detach().clone())

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.f(self.theta).reshape(()).expand(X.shape[0])

    def value(self) -> float:
        """:math:`f(\\theta)` at the current parameter, as a float."""
        with torch.no_grad():
            return float(self.f(self.theta))


def function_value(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The "loss" of a :class:`FunctionModel`: the mean of its outputs, :math:`f(\\theta)`; ``targets`` are ignored."""
    return outputs.mean()
