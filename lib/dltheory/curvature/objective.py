"""The training loss as a validated function of the flat parameters, and its curvature operators.

Every routine of :mod:`dltheory.curvature` validates its inputs once, through
:func:`build`, outside any ``torch.func`` transform, and then multiplies with
the operators of :class:`Objective`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from .. import losses, params
from .._checks import as_tensor, check_Xy, named_parameters
from ..config import float64_device

Matvec = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Objective:
    """The validated problem: ``theta``, data on the model's device, and operators.

    Derivatives are taken with respect to the dictionary of parameter views
    ``params.unflatten(model, theta)`` and concatenated back in
    ``parameters_to_vector`` order: the same numbers as differentiating
    ``params.as_function(model)`` in ``theta``, without the full-length
    ``slice_backward`` scatter per parameter that the flat route costs.

    The model runs through ``torch.func.functional_call`` on the parameters and
    fresh *clones* of its buffers at every evaluation, in the mode it is in: a
    batch norm in training mode normalises by the statistics of ``X`` (the loss
    whose curvature is wanted), and the running statistics it updates are the
    clones', so the model's own buffers never change.
    """

    model: nn.Module
    loss: str | losses.Loss
    loss_fn: losses.Loss
    theta: torch.Tensor
    buffers: dict[str, torch.Tensor]
    X: torch.Tensor
    y: torch.Tensor

    @property
    def P(self) -> int:
        return self.theta.numel()

    @property
    def dtype(self) -> torch.dtype:
        return self.theta.dtype

    @property
    def device(self) -> torch.device:
        return self.theta.device

    def _net(self, parameters: dict[str, torch.Tensor]) -> torch.Tensor:
        state = dict(parameters)
        state.update({name: b.clone() for name, b in self.buffers.items()})
        return functional_call(self.model, state, (self.X,))

    def _loss(self, parameters: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.loss_fn(self._net(parameters), self.y)

    def checked_loss(self, parameters: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss, after checking the outputs against the targets and that it is a scalar.

        Outside any ``torch.func`` transform only (the checks are data-dependent).
        """
        outputs = self._net(parameters)
        losses.check_targets(self.loss, outputs.detach(), self.y)
        value = self.loss_fn(outputs, self.y)
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"the loss must return a scalar (0-dim tensor), got {shape}; "
                             "reduce over examples, e.g. with .mean()")
        return value

    def split(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        """A flat vector as the model's named parameter shapes."""
        return params.unflatten(self.model, vector)

    @staticmethod
    def _flat(parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in parts.values()])

    def gradient(self, theta: torch.Tensor) -> torch.Tensor:
        """:math:`\\nabla L(\\theta)`, flat."""
        return self._flat(torch.func.grad(self._loss)(self.split(theta)))

    def hvp_operator(self) -> Matvec:
        """``v -> H v`` as ``jvp`` of ``grad``: forward-over-reverse, vmap-able over ``v``."""
        theta, gradient = self.theta, self.gradient

        def op(v: torch.Tensor) -> torch.Tensor:
            return torch.func.jvp(gradient, (theta,), (v,))[1]

        return op

    def hvp_reusing_graph(self) -> Matvec:
        """``v -> H v`` for many ``v``: the gradient's graph is built once, each product
        is one more backward pass through it, :math:`Hv = \\nabla_\\theta \\langle \\nabla L, v\\rangle`.

        On CPU this is the cheapest exact product for a sequence of vectors
        (Lanczos, Hutchinson, SLQ); it keeps the gradient's graph alive meanwhile.
        """
        named = {name: t.detach().clone().requires_grad_(True) for name, t in self.split(self.theta).items()}
        leaves = list(named.values())

        def flat(derivatives: tuple[torch.Tensor | None, ...]) -> torch.Tensor:  # None: does not depend on it
            return torch.cat([(d if d is not None else torch.zeros_like(p)).reshape(-1)
                              for d, p in zip(derivatives, leaves)])

        flat_grad = flat(torch.autograd.grad(self.checked_loss(named), leaves, create_graph=True, allow_unused=True))
        if not flat_grad.requires_grad:  # the gradient is constant in theta: H = 0
            return lambda v: torch.zeros_like(v)

        def op(v: torch.Tensor) -> torch.Tensor:
            return flat(torch.autograd.grad(flat_grad, leaves, grad_outputs=v, retain_graph=True, allow_unused=True))

        return op

    def gnvp_operator(self) -> Matvec:
        """``v -> J^T H_l J v``: ``jvp`` of the network, the loss Hessian in output space, ``vjp``."""
        theta_parts, y = self.split(self.theta), self.y
        outputs, pullback = torch.func.vjp(self._net, theta_parts)
        outputs = outputs.detach()
        loss_grad = torch.func.grad(lambda out: self.loss_fn(out, y))

        def op(v: torch.Tensor) -> torch.Tensor:
            Jv = torch.func.jvp(self._net, (theta_parts,), (self.split(v),))[1]
            HJv = torch.func.jvp(loss_grad, (outputs,), (Jv,))[1]
            return self._flat(pullback(HJv)[0])

        return op

    def check_vector(self, v: Any, name: str = "v") -> torch.Tensor:
        """``v`` as a ``(P,)`` tensor on the model's device and in its dtype."""
        v = as_tensor(v, name)
        if tuple(v.shape) != (self.P,):
            raise ValueError(f"{name} must have shape (P,) = ({self.P},), one entry per parameter, "
                             f"got {tuple(v.shape)}")
        return v.to(device=self.device, dtype=self.dtype)

    def basis_device(self) -> torch.device:
        """Where float64 Krylov vectors live: :func:`float64_device` of the model's device."""
        return float64_device(self.device)

    def float64(self, op: Matvec, device: torch.device) -> Matvec:
        """``op`` on float64 vectors on ``device``, computed in the model's dtype on its device."""

        def matvec(q: torch.Tensor) -> torch.Tensor:
            return op(q.to(device=self.device, dtype=self.dtype)).to(device=device, dtype=torch.float64)

        return matvec


def build(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *, check_outputs: bool = True) -> Objective:
    """Validate once, outside any transform, and build the objective.

    ``X`` and ``y`` may be tensors or array-likes (:func:`dltheory._checks.check_Xy`);
    they move to the model's device, floating ones in its dtype.
    ``check_outputs=False`` skips the forward pass that checks the outputs and the
    loss, for callers that go through :meth:`Objective.checked_loss` anyway.
    """
    named_parameters(model)
    loss_fn = losses.resolve(loss)
    X, y = check_Xy(X, y, like=model)
    theta = params.flat_parameters(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    obj = Objective(model, loss, loss_fn, theta, buffers, X, y)
    if check_outputs:
        with torch.no_grad():
            obj.checked_loss(obj.split(theta))
    return obj
