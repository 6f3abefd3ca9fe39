"""Slow, obviously correct reference implementations that the tests (and the benchmarks)
compare the library against. They are not part of the library: nothing in ``dltheory``
uses them."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call

Matvec = Callable[[torch.Tensor], torch.Tensor]


def jacobian_loop(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Reference Jacobian ``(n, k, P)``: one ``torch.autograd.grad`` per example and output.

    With respect to the flat vector of *all* parameters (``requires_grad`` is ignored), in
    ``parameters_to_vector`` order.
    """
    # torch's own functional_call on detached copies, independent of dltheory.params
    params = {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}
    first = next(iter(params.values()))
    rows = []
    for x in X.to(device=first.device, dtype=first.dtype):
        out = functional_call(model, params, (x.unsqueeze(0),)).reshape(-1)
        rows.append(torch.stack([
            torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)  # an unused parameter: zeros
                       for g, p in zip(torch.autograd.grad(out[a], list(params.values()), retain_graph=True,
                                                           allow_unused=True), params.values())])
            for a in range(out.numel())]))
    return torch.stack(rows)


def ntk_loop(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None, *,
             trainable_only: bool = False) -> torch.Tensor:
    """Reference NTK ``J1 J2^T`` from :func:`jacobian_loop`, over the trainable parameters only if asked.

    ``(n1, n2)`` for one output per example, ``(n1, n2, k, k)`` for ``k``. Slow and
    memory-hungry (it holds both Jacobians).
    """
    J1 = jacobian_loop(model, x1)
    J2 = J1 if x2 is None else jacobian_loop(model, x2)
    if trainable_only:
        mask = torch.cat([torch.full((p.numel(),), p.requires_grad, device=J1.device) for p in model.parameters()])
        J1, J2 = J1[..., mask], J2[..., mask]
    n1, k, _ = J1.shape
    K = torch.einsum("iap,jbp->ijab", J1, J2)
    return K.reshape(n1, J2.shape[0]) if k == 1 else K


class PowerResult(NamedTuple):
    value: float
    vector: torch.Tensor
    matvecs: int
    converged: bool
    history: tuple[float, ...]


def power_iteration(matvec: Matvec, P: int, *, tol: float = 1e-6, max_iter: int = 1000, seed: int = 0,
                    device: torch.device | str = "cpu") -> PowerResult:
    """Power iteration for the eigenvalue of largest magnitude: the baseline for Lanczos.

    :math:`v_{t+1} = A v_t / \\lVert A v_t \\rVert` from a seeded Gaussian start, with the
    Rayleigh quotient :math:`\\lambda_t = v_t^\\top A v_t` as the estimate; stops when
    :math:`|\\lambda_t - \\lambda_{t-1}| \\le \\text{tol}\\, |\\lambda_t|`. This is the
    method of PyHessian (Yao, Gholami, Keutzer, Mahoney 2020), written from the
    definition. Its error shrinks like :math:`(\\lambda_2/\\lambda_1)^{2t}`, and the
    relative-change rule stops early when that ratio is close to one.
    """
    generator = torch.Generator().manual_seed(int(seed))
    v = torch.randn(P, generator=generator, dtype=torch.float64).to(device)
    v = v / torch.linalg.vector_norm(v)
    history: list[float] = []
    previous = None
    converged = False
    for _ in range(max_iter):
        w = matvec(v)
        value = torch.dot(v, w).item()
        history.append(value)
        if previous is not None and abs(value - previous) <= tol * abs(value):
            converged = True
            break
        previous = value
        norm = torch.linalg.vector_norm(w)
        if norm == 0:  # v is in the null space: 0 is an eigenvalue, and the largest in magnitude
            converged = True
            break
        v = w / norm
    return PowerResult(history[-1], v, len(history), converged, tuple(history))
