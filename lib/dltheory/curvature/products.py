"""Hessian- and Gauss-Newton-vector products, the dense matrices built from them, and
both as a SciPy linear operator."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse.linalg
import torch
from torch import nn

from .. import losses
from .._checks import check_choice, check_int
from .._progress import progress_bar
from .objective import Matvec, Objective, build

# Tangent elements (one per parameter and per input/output entry, per column) that one
# vmapped chunk of a dense build may carry: 2**24 is 128 MiB in float64.
_CHUNK_ELEMENTS = 2**24
_KINDS = ("hessian", "gauss_newton")


def hvp(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, v: Any) -> torch.Tensor:
    """Hessian-vector product :math:`\\nabla^2 L(\\theta)\\, v` at the model's parameters.

    Reverse-over-reverse differentiation: :math:`Hv = \\nabla_\\theta \\langle \\nabla L(\\theta),
    v\\rangle`, a second backward pass through the graph of the gradient (Pearlmutter
    1994, "Fast exact multiplication by the Hessian"). It never forms :math:`H` and
    costs about 2.5 gradients on CPU, less than forward-over-reverse
    (``jvp`` of ``grad``, about 3.5 gradients; ``benchmarks/curvature.py``).
    Lanczos, Hutchinson and SLQ keep the gradient's graph between products, so
    each further product costs about 1.5 gradients.

    Parameters
    ----------
    model
        Any ``nn.Module`` with parameters; neither they nor its buffers are modified.
    loss
        A name in :data:`dltheory.losses.LOSSES` or a callable ``loss(outputs, targets)``
        returning a scalar.
    X, y
        All examples (along dim 0) and their targets, tensors or array-likes; the
        loss is taken on all at once.
    v
        Vector of shape ``(P,)`` in ``parameters_to_vector`` order.

    Returns
    -------
    Tensor of shape ``(P,)`` on the model's device and dtype.
    """
    obj = build(model, loss, X, y, check_outputs=False)  # checked_loss checks
    return obj.hvp_reusing_graph()(obj.check_vector(v))


def gnvp(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, v: Any) -> torch.Tensor:
    """Generalised Gauss-Newton-vector product :math:`G v = J^\\top H_\\ell J v`.

    :math:`J = \\partial f(X;\\theta)/\\partial\\theta` is the Jacobian of all outputs
    and :math:`H_\\ell = \\partial^2 \\ell / \\partial f^2` the Hessian of the loss with
    respect to them (it carries the loss's :math:`1/n`). Computed as a ``jvp`` of
    the network, a Hessian-vector product of the loss in output space and a
    ``vjp`` (Schraudolph 2002, "Fast curvature matrix-vector products for
    second-order gradient descent"). :math:`G` is the Hessian without the term
    :math:`\\sum_k \\partial\\ell/\\partial f_k\\, \\nabla^2 f_k`, so it is positive
    semi-definite for a convex loss and equals :math:`H` at zero residual of the
    square loss (Martens 2020, "New insights and perspectives on the natural
    gradient method", sec. 8).

    Parameters and returns as :func:`hvp`.
    """
    obj = build(model, loss, X, y)
    return obj.gnvp_operator()(obj.check_vector(v))


def _check_dense_size(obj: Objective, max_params: int, what: str) -> None:
    if obj.P > max_params:
        itemsize = torch.empty((), dtype=obj.dtype).element_size()
        gib = 2 * obj.P**2 * itemsize / 2**30
        raise ValueError(
            f"the model has P = {obj.P} parameters, above max_params = {max_params}: the dense {what} "
            f"would hold P^2 = {obj.P**2:,} entries and need about {gib:.2f} GiB ({obj.dtype}, with the "
            f"copy made to symmetrise) and P = {obj.P} matrix-vector products. Pass max_params={obj.P} "
            "to build it anyway, or use the matrix-free routines (hvp, gnvp, top_eigenvalues, "
            "hessian_trace, spectral_density)."
        )


def _dense(op: Matvec, obj: Objective, chunk_size: int | None, what: str, progress: bool | None) -> torch.Tensor:
    """:math:`[op(e_1), \\dots, op(e_P)]` in chunks of vmapped identity columns, symmetrised."""
    P = obj.P
    if chunk_size is None:
        per_column = P + obj.X.numel() + obj.y.numel()
        chunk_size = max(1, min(P, _CHUNK_ELEMENTS // per_column))
    chunk_size = min(chunk_size, P)
    batched = torch.func.vmap(op)
    M = torch.empty(P, P, dtype=obj.dtype, device=obj.device)
    for start in progress_bar(range(0, P, chunk_size), desc=f"dense {what} (chunks)", progress=progress):
        stop = min(start + chunk_size, P)
        E = torch.zeros(stop - start, P, dtype=obj.dtype, device=obj.device)
        E[torch.arange(stop - start), torch.arange(start, stop)] = 1
        M[start:stop] = batched(E)  # row i is op(e_i), the i-th column
    return (M + M.T).mul_(0.5)


def _dense_objective(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, max_params: int,
                     chunk_size: int | None, what: str) -> tuple[Objective, int | None]:
    """The objective of :func:`hessian` or :func:`gauss_newton` and their checked ``chunk_size``."""
    max_params = check_int(max_params, "max_params", min=1)
    chunk_size = check_int(chunk_size, "chunk_size", min=1, allow_none=True)
    obj = build(model, loss, X, y)
    _check_dense_size(obj, max_params, what)
    return obj, chunk_size


def hessian(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *, max_params: int = 5000,
            chunk_size: int | None = None, progress: bool | None = None) -> torch.Tensor:
    """The dense Hessian :math:`\\nabla^2 L(\\theta)`, a ``(P, P)`` tensor.

    Column :math:`i` is the forward-over-reverse product :math:`H e_i` (``jvp`` of ``grad``); the
    columns are computed ``chunk_size`` at a time with ``torch.func.vmap`` and the
    result is symmetrised, :math:`(H + H^\\top)/2`, which removes rounding asymmetry.

    Parameters
    ----------
    max_params
        Refuse (``ValueError``) when :math:`P` is larger: the matrix needs
        :math:`P^2` entries and :math:`P` products. Raise it deliberately.
    chunk_size
        Columns per vmapped batch. By default as many as keep about
        :math:`2^{24}` tangent entries (parameters plus data, per column) in flight.
        Peak memory is about :math:`2P^2` entries plus one chunk of tangents.
    progress
        Show a progress bar over the chunks (default: at full scale only; see
        :mod:`dltheory._progress`).
    """
    obj, chunk_size = _dense_objective(model, loss, X, y, max_params, chunk_size, "Hessian")
    return _dense(obj.hvp_operator(), obj, chunk_size, "Hessian", progress)


def gauss_newton(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *, max_params: int = 5000,
                 chunk_size: int | None = None, progress: bool | None = None) -> torch.Tensor:
    """The dense generalised Gauss-Newton matrix :math:`G = J^\\top H_\\ell J`, ``(P, P)``.

    For the mean losses of :mod:`dltheory.losses`,
    :math:`G = \\frac1n \\sum_i J_i^\\top \\nabla^2_{f}\\ell_i\\, J_i` with :math:`J_i` the
    Jacobian of example :math:`i`'s outputs; in general :math:`H_\\ell` is the Hessian
    of the loss with respect to the whole output tensor, so a callable loss that
    couples examples is handled too. Built column by column from :func:`gnvp`,
    chunked and symmetrised exactly as :func:`hessian` (same ``max_params``,
    ``chunk_size`` and ``progress``). Positive semi-definite when the loss is
    convex in the outputs.
    """
    obj, chunk_size = _dense_objective(model, loss, X, y, max_params, chunk_size, "Gauss-Newton matrix")
    return _dense(obj.gnvp_operator(), obj, chunk_size, "Gauss-Newton matrix", progress)


def linear_operator(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *,
                    kind: str = "hessian") -> scipy.sparse.linalg.LinearOperator:
    """The Hessian or the Gauss-Newton matrix as a float64 ``scipy.sparse.linalg.LinearOperator``.

    Hands the curvature to SciPy's iterative solvers (``eigsh``, ``cg``,
    ``minres``, ...) without forming it, as curvlinops' ``to_scipy()`` does
    (Dangel et al.). Each product takes a float64 NumPy vector, computes in the
    model's dtype on its device and returns float64 on the CPU. The Hessian
    operator builds the gradient's graph once and keeps it (each product is one
    backward pass through it, as inside :func:`top_eigenvalues`); the
    Gauss-Newton operator applies :func:`gnvp`'s product. Both matrices are
    symmetric, so the adjoint is the operator itself. The model's parameters and
    buffers are read when the operator is built; later changes to them are not seen.

    Parameters
    ----------
    kind
        ``'hessian'`` (:math:`H`, as :func:`hvp`) or ``'gauss_newton'``
        (:math:`G = J^\\top H_\\ell J`, as :func:`gnvp`).

    Returns
    -------
    A ``LinearOperator`` of shape ``(P, P)`` and dtype float64 that accepts
    vectors ``(P,)`` and matrices ``(P, m)``.
    """
    check_choice(kind, "kind", _KINDS)
    if kind == "hessian":
        obj = build(model, loss, X, y, check_outputs=False)  # checked_loss checks
        op = obj.hvp_reusing_graph()
    else:
        obj = build(model, loss, X, y)
        op = obj.gnvp_operator()
    matvec = obj.float64(op, torch.device("cpu"))

    def apply(x: np.ndarray) -> np.ndarray:
        v = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64).reshape(-1))
        return matvec(v).numpy()

    return scipy.sparse.linalg.LinearOperator((obj.P, obj.P), matvec=apply, rmatvec=apply, dtype=np.float64)
