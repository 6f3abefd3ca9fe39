"""Curvature of the training loss: Hessian- and Gauss-Newton-vector products, and the
spectrum they reveal, without ever forming a matrix unless asked to.

Everything is a function of the flat parameter vector :math:`\\theta` (the order of
``parameters_to_vector(model.parameters())``, see :mod:`dltheory.functional`) and of
the training loss on all of ``X`` at once,

.. math::  L(\\theta) = \\ell\\bigl(f(X; \\theta), y\\bigr),

where ``loss`` is a name of :mod:`dltheory.losses` (a mean over examples) or any
callable ``loss(outputs, targets) -> scalar``. :math:`P` is the number of parameters.

* :func:`hvp`, :func:`hessian`: :math:`Hv` by reverse-over-reverse differentiation
  (Pearlmutter 1994), and the dense :math:`H` from :math:`P` forward-over-reverse
  products, vmapped in chunks.
* :func:`gnvp`, :func:`gauss_newton`: the generalised Gauss-Newton matrix
  :math:`G = J^\\top H_\\ell J` (Schraudolph 2002), the part of :math:`H` that ignores
  the curvature of the network.
* :func:`top_eigenvalues`: extreme eigenpairs by Lanczos with full
  reorthogonalisation; :func:`_power_iteration` is the slower baseline.
* :func:`hessian_trace`: Hutchinson's estimator of :math:`\\operatorname{tr} H`.
* :func:`slq_quadrature`, :func:`spectral_density`: the eigenvalue density by
  stochastic Lanczos quadrature (Ghorbani, Krishnan, Xiao 2019).

The tests check every routine against independent computations: autograd's dense
Hessian, finite differences, ``torch.linalg.eigvalsh``, exact traces and, for the
products, the linear operators of curvlinops (Dangel et al.). curvlinops is a
test oracle rather than a dependency: it requires backpack-for-pytorch, which
pulls in torchvision and a CUDA build of torch, and the book needs only the few
products written here.

The inputs are validated once, outside the ``torch.func`` transforms: ``X`` and
``y`` must have the same number of examples, ``X`` (and a floating ``y``) must be
finite, the model must have parameters, the loss must return a scalar and, for a
named loss, the targets must fit it (:func:`dltheory.losses.check_targets`). ``X``
and ``y`` are moved to the model's device, and floating ones cast to its dtype;
results are on the model's device and in its dtype. The model should be
deterministic (no dropout in training mode): a random loss has no Hessian.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg
import torch
from torch import nn
from torch.func import functional_call

from . import functional, losses

__all__ = [
    "hvp",
    "hessian",
    "gnvp",
    "gauss_newton",
    "top_eigenvalues",
    "hessian_trace",
    "slq_quadrature",
    "spectral_density",
    "Eigenpairs",
    "TraceEstimate",
    "Quadrature",
    "SpectralDensity",
]

Matvec = Callable[[torch.Tensor], torch.Tensor]

# Tangent elements (one per parameter and per input/output entry, per column) that one
# vmapped chunk of a dense build may carry: 2**24 is 128 MiB in float64.
_CHUNK_ELEMENTS = 2**24
# A Lanczos step whose new direction is below this fraction of |H q| has found an
# invariant subspace (the rest is rounding).
_BREAKDOWN_RTOL = 1e-10
# Daniel-Gragg-Kaufman-Stewart: a second Gram-Schmidt pass only when the first one
# removed more than this fraction of the norm ("twice is enough").
_REORTH_RATIO = 1 / math.sqrt(2)
_EPS64 = float(np.finfo(np.float64).eps)


# ---------------------------------------------------------------------------------
# validation and the objective as a function of theta
# ---------------------------------------------------------------------------------


@dataclass
class _Objective:
    """The validated problem: ``theta``, data on the model's device, and operators.

    Derivatives are taken with respect to the dictionary of parameter views
    ``functional.unflatten(model, theta)`` and concatenated back in
    ``parameters_to_vector`` order: the same numbers as differentiating
    ``functional.as_function(model)`` in ``theta``, without the full-length
    ``slice_backward`` scatter per parameter that the flat route costs.
    """

    model: nn.Module
    loss: str | losses.Loss
    loss_fn: losses.Loss
    theta: torch.Tensor
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

    def _net(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(self.model, params, (self.X,))

    def _loss(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.loss_fn(self._net(params), self.y)

    def checked_loss(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss, after checking the outputs against the targets and that it is a scalar.

        Outside any ``torch.func`` transform only (the checks are data-dependent).
        """
        outputs = self._net(params)
        losses.check_targets(self.loss, outputs.detach(), self.y)
        value = self.loss_fn(outputs, self.y)
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"the loss must return a scalar (0-dim tensor), got {shape}; "
                             "reduce over examples, e.g. with .mean()")
        return value

    def _split(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        return functional.unflatten(self.model, vector)

    @staticmethod
    def _flat(parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in parts.values()])

    def gradient(self, theta: torch.Tensor) -> torch.Tensor:
        """:math:`\\nabla L(\\theta)`, flat."""
        return self._flat(torch.func.grad(self._loss)(self._split(theta)))

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
        params = {name: t.detach().clone().requires_grad_(True) for name, t in self._split(self.theta).items()}
        leaves = list(params.values())
        grads = torch.autograd.grad(self.checked_loss(params), leaves, create_graph=True, allow_unused=True)
        flat_grad = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, leaves)])
        if not flat_grad.requires_grad:  # the gradient is constant in theta: H = 0
            return lambda v: torch.zeros_like(v)

        def op(v: torch.Tensor) -> torch.Tensor:
            Hv = torch.autograd.grad(flat_grad, leaves, grad_outputs=v, retain_graph=True, allow_unused=True)
            return torch.cat([(h if h is not None else torch.zeros_like(p)).reshape(-1) for h, p in zip(Hv, leaves)])

        return op

    def gnvp_operator(self) -> Matvec:
        """``v -> J^T H_l J v``: ``jvp`` of the network, the loss Hessian in output space, ``vjp``."""
        params, y = self._split(self.theta), self.y
        outputs, pullback = torch.func.vjp(self._net, params)
        outputs = outputs.detach()
        loss_grad = torch.func.grad(lambda out: self.loss_fn(out, y))

        def op(v: torch.Tensor) -> torch.Tensor:
            Jv = torch.func.jvp(self._net, (params,), (self._split(v),))[1]
            HJv = torch.func.jvp(loss_grad, (outputs,), (Jv,))[1]
            return self._flat(pullback(HJv)[0])

        return op


def _objective(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor, *,
               check_outputs: bool = True) -> _Objective:
    """Validate once, outside any transform, and build the objective.

    ``check_outputs=False`` skips the forward pass that checks the outputs and the
    loss, for callers that go through :meth:`_Objective.checked_loss` anyway.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    functional.check_model(model)
    loss_fn = losses.resolve(loss)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be tensors, got {type(X).__name__} and {type(y).__name__}")
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must hold examples along dim 0, got a 0-dimensional tensor")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError("X has no examples")
    if X.is_floating_point() and not torch.isfinite(X).all():
        raise ValueError("X contains NaN or inf")
    if y.is_floating_point() and not torch.isfinite(y).all():
        raise ValueError("y contains NaN or inf")
    theta = functional.flat_parameters(model)
    X = X.to(device=theta.device, dtype=theta.dtype if X.is_floating_point() else None)
    y = y.to(device=theta.device, dtype=theta.dtype if y.is_floating_point() else None)
    obj = _Objective(model, loss, loss_fn, theta, X, y)
    if check_outputs:
        with torch.no_grad():
            obj.checked_loss(obj._split(theta))
    return obj


def _check_vector(v: torch.Tensor, obj: _Objective) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"v must be a tensor, got {type(v).__name__}")
    if tuple(v.shape) != (obj.P,):
        raise ValueError(f"v must have shape (P,) = ({obj.P},), one entry per parameter, got {tuple(v.shape)}")
    return v.to(device=obj.device, dtype=obj.dtype)


def _positive_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------------
# products and dense matrices
# ---------------------------------------------------------------------------------


def hvp(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor,
        v: torch.Tensor) -> torch.Tensor:
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
        Any ``nn.Module`` with parameters; they are not modified.
    loss
        A name in :data:`dltheory.losses.LOSSES` or a callable ``loss(outputs, targets)``
        returning a scalar.
    X, y
        All examples (along dim 0) and their targets; the loss is taken on all at once.
    v
        Tensor of shape ``(P,)`` in ``parameters_to_vector`` order.

    Returns
    -------
    Tensor of shape ``(P,)`` on the model's device and dtype.
    """
    obj = _objective(model, loss, X, y, check_outputs=False)  # checked_loss checks
    return obj.hvp_reusing_graph()(_check_vector(v, obj))


def gnvp(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor,
         v: torch.Tensor) -> torch.Tensor:
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
    obj = _objective(model, loss, X, y)
    return obj.gnvp_operator()(_check_vector(v, obj))


def _check_dense_size(obj: _Objective, max_params: int, what: str) -> None:
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


def _dense(op: Matvec, obj: _Objective, chunk_size: int | None) -> torch.Tensor:
    """:math:`[op(e_1), \\dots, op(e_P)]` in chunks of vmapped identity columns, symmetrised."""
    P = obj.P
    if chunk_size is None:
        per_column = P + obj.X.numel() + obj.y.numel()
        chunk_size = max(1, min(P, _CHUNK_ELEMENTS // per_column))
    chunk_size = min(_positive_int("chunk_size", chunk_size), P)
    batched = torch.func.vmap(op)
    M = torch.empty(P, P, dtype=obj.dtype, device=obj.device)
    for start in range(0, P, chunk_size):
        stop = min(start + chunk_size, P)
        E = torch.zeros(stop - start, P, dtype=obj.dtype, device=obj.device)
        E[torch.arange(stop - start), torch.arange(start, stop)] = 1
        M[start:stop] = batched(E)  # row i is op(e_i), the i-th column
    return (M + M.T).mul_(0.5)


def hessian(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor, *,
            max_params: int = 5000, chunk_size: int | None = None) -> torch.Tensor:
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
    """
    obj = _objective(model, loss, X, y)
    _check_dense_size(obj, max_params, "Hessian")
    return _dense(obj.hvp_operator(), obj, chunk_size)


def gauss_newton(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor, *,
                 max_params: int = 5000, chunk_size: int | None = None) -> torch.Tensor:
    """The dense generalised Gauss-Newton matrix :math:`G = J^\\top H_\\ell J`, ``(P, P)``.

    For the mean losses of :mod:`dltheory.losses`,
    :math:`G = \\frac1n \\sum_i J_i^\\top \\nabla^2_{f}\\ell_i\\, J_i` with :math:`J_i` the
    Jacobian of example :math:`i`'s outputs; in general :math:`H_\\ell` is the Hessian
    of the loss with respect to the whole output tensor, so a callable loss that
    couples examples is handled too. Built column by column from :func:`gnvp`,
    chunked and symmetrised exactly as :func:`hessian` (same ``max_params`` and
    ``chunk_size``). Positive semi-definite when the loss is convex in the outputs.
    """
    obj = _objective(model, loss, X, y)
    _check_dense_size(obj, max_params, "Gauss-Newton matrix")
    return _dense(obj.gnvp_operator(), obj, chunk_size)


# ---------------------------------------------------------------------------------
# Lanczos
# ---------------------------------------------------------------------------------


class _Lanczos:
    """Lanczos tridiagonalisation :math:`Q^\\top A Q = T` with full reorthogonalisation.

    The basis ``Q`` (rows), ``alphas`` (diagonal) and ``betas`` (``betas[j]`` couples
    ``q_j`` and ``q_{j+1}``) are float64 whatever the operator's dtype. Each step
    orthogonalises the new direction against the whole basis by classical
    Gram-Schmidt, and once more when that pass cancelled more than
    :math:`1 - 1/\\sqrt2` of its norm (the Daniel-Gragg-Kaufman-Stewart criterion;
    "twice is enough"), so the basis stays orthonormal to working precision and no
    spurious copies of converged eigenvalues appear (Parlett 1998, *The Symmetric
    Eigenvalue Problem*, ch. 13). Besides its product, step :math:`j` reads the
    :math:`j \\times P` basis twice (four times with the second pass): memory-bound
    work that matches the cost of a Hessian-vector product at a few dozen steps.
    """

    def __init__(self, matvec: Matvec, start: torch.Tensor, capacity: int) -> None:
        self.matvec = matvec
        self.P = start.numel()
        self.Q = torch.empty(max(1, min(capacity, self.P)), self.P, dtype=torch.float64, device=start.device)
        self.Q[0] = start / torch.linalg.vector_norm(start)
        self.size = 1  # basis vectors stored
        self.alphas: list[float] = []
        self.betas: list[float] = []
        self.matvecs = 0
        self.second_passes = 0
        self._w: torch.Tensor | None = None

    def step(self) -> tuple[float, bool]:
        """One matrix-vector product; returns the new ``beta`` and whether it broke down."""
        j = self.size - 1
        q = self.Q[j]
        w = self.matvec(q)
        self.matvecs += 1
        scale = torch.linalg.vector_norm(w).item()
        alpha = torch.dot(q, w).item()
        w = w - alpha * q
        if j > 0:
            w = w - self.betas[-1] * self.Q[j - 1]
        basis = self.Q[: j + 1]
        before = torch.linalg.vector_norm(w).item()
        w = w - basis.T @ (basis @ w)
        beta = torch.linalg.vector_norm(w).item()
        if beta < _REORTH_RATIO * before:  # cancellation: orthogonalise once more
            w = w - basis.T @ (basis @ w)
            beta = torch.linalg.vector_norm(w).item()
            self.second_passes += 1
        self.alphas.append(alpha)
        self.betas.append(beta)
        self._w = w
        return beta, beta <= _BREAKDOWN_RTOL * scale

    def _append(self, q: torch.Tensor) -> None:
        if self.size == self.Q.shape[0]:
            grown = torch.empty(min(2 * self.size, self.P), self.P, dtype=self.Q.dtype, device=self.Q.device)
            grown[: self.size] = self.Q
            self.Q = grown
        self.Q[self.size] = q
        self.size += 1

    def advance(self) -> None:
        """Append the normalised new direction as the next basis vector."""
        self._append(self._w / self.betas[-1])

    def restart(self, generator: torch.Generator) -> None:
        """After an invariant subspace: continue from a random vector orthogonal to the basis.

        ``T`` becomes block diagonal (the last ``beta`` is set to 0); its eigenvalues
        are those of the invariant subspace found so far and of the new Krylov space.
        """
        r = torch.randn(self.P, generator=generator, dtype=torch.float64).to(self.Q.device)
        basis = self.Q[: self.size]
        for _ in range(2):
            r = r - basis.T @ (basis @ r)
        self.betas[-1] = 0.0
        self._append(r / torch.linalg.vector_norm(r))

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and eigenvectors of the current tridiagonal ``T``."""
        d = np.asarray(self.alphas, dtype=np.float64)
        e = np.asarray(self.betas[:-1], dtype=np.float64)
        return scipy.linalg.eigh_tridiagonal(d, e)


_WHICH = ("largest", "smallest", "magnitude")


def _select(theta: np.ndarray, k: int, which: str) -> np.ndarray:
    if which == "largest":
        order = np.argsort(-theta, kind="stable")
    elif which == "smallest":
        order = np.argsort(theta, kind="stable")
    else:
        order = np.argsort(-np.abs(theta), kind="stable")
    return order[:k]


@dataclass(frozen=True)
class Eigenpairs:
    """Result of :func:`top_eigenvalues`; unpacks as ``values, vectors``.

    Attributes
    ----------
    values
        Tensor ``(k,)``: descending for ``'largest'``, ascending for ``'smallest'``,
        by descending magnitude for ``'magnitude'``.
    vectors
        Tensor ``(P, k)`` of unit eigenvectors, column ``i`` for ``values[i]``.
    matvecs
        Number of operator (Hessian-vector) products used.
    converged
        Whether every wanted Ritz pair met the stopping rule.
    residuals
        Tensor ``(k,)``: the Lanczos residual estimates :math:`|\\beta_m s_{m,i}|`,
        equal to :math:`\\lVert H v_i - \\lambda_i v_i \\rVert` in exact arithmetic.
    history
        The first wanted Ritz value after each step (to study convergence).
    """

    values: torch.Tensor
    vectors: torch.Tensor
    matvecs: int
    converged: bool
    residuals: torch.Tensor
    history: tuple[float, ...] = ()

    def __iter__(self):
        return iter((self.values, self.vectors))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        return (self.values, self.vectors)[i]


def _default_max_iter(P: int, k: int) -> int:
    return min(P, max(300, 20 * k))


def _lanczos(matvec: Matvec, P: int, *, k: int = 1, which: str = "largest", tol: float = 1e-6,
             max_iter: int | None = None, seed: int = 0, device: torch.device | str = "cpu") -> Eigenpairs:
    """Extreme eigenpairs of a symmetric operator on float64 vectors of length ``P``.

    The engine of :func:`top_eigenvalues`, usable with any ``matvec`` (tests and
    benchmarks use synthetic matrices). Returns float64 tensors on ``device``.
    """
    k = _positive_int("k", k)
    P = _positive_int("P", P)
    if k > P:
        raise ValueError(f"k = {k} eigenpairs asked for but the operator has only P = {P} dimensions")
    if which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    max_iter = _default_max_iter(P, k) if max_iter is None else _positive_int("max_iter", max_iter)
    if max_iter < k:
        raise ValueError(f"max_iter = {max_iter} Lanczos steps cannot give k = {k} eigenpairs; use max_iter >= k")
    max_iter = min(max_iter, P)  # the Krylov space (with restarts) cannot exceed the whole space

    generator = torch.Generator().manual_seed(int(seed))
    start = torch.randn(P, generator=generator, dtype=torch.float64).to(device)
    proc = _Lanczos(matvec, start, capacity=min(max_iter, 64))
    history: list[float] = []
    converged = False
    for step in range(1, max_iter + 1):
        beta, breakdown = proc.step()
        theta, S = proc.ritz()
        idx = _select(theta, k, which)
        history.append(float(theta[idx[0]]))
        if len(theta) >= k:
            residuals = np.abs(beta * S[-1, idx])
            floor = math.sqrt(_EPS64) * np.abs(theta).max()
            if np.all(residuals <= tol * np.maximum(np.abs(theta[idx]), floor)) or step == P:
                converged = True  # at step P the basis spans everything: T is similar to A
                break
        if step == max_iter:
            break
        if breakdown:
            proc.restart(generator)
        else:
            proc.advance()
    if not converged:
        warnings.warn(
            f"Lanczos stopped after max_iter = {max_iter} steps with the {which} {k} Ritz pair(s) not yet at "
            f"relative residual tol = {tol:g} (largest residual {residuals.max():.3g}); raise max_iter or tol",
            RuntimeWarning, stacklevel=3,
        )
    m = len(proc.alphas)
    S_wanted = torch.from_numpy(np.ascontiguousarray(S[:, idx])).to(device)
    vectors = proc.Q[:m].T @ S_wanted
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=0, keepdim=True)
    return Eigenpairs(
        values=torch.from_numpy(theta[idx].copy()).to(device),
        vectors=vectors,
        matvecs=proc.matvecs,
        converged=converged,
        residuals=torch.from_numpy(residuals.copy()).to(device),
        history=tuple(history),
    )


class _PowerResult(NamedTuple):
    value: float
    vector: torch.Tensor
    matvecs: int
    converged: bool
    history: tuple[float, ...]


def _power_iteration(matvec: Matvec, P: int, *, tol: float = 1e-6, max_iter: int = 1000,
                     seed: int = 0, device: torch.device | str = "cpu") -> _PowerResult:
    """Power iteration for the eigenvalue of largest magnitude: the baseline for Lanczos.

    :math:`v_{t+1} = A v_t / \\lVert A v_t \\rVert` from a seeded Gaussian start, with the
    Rayleigh quotient :math:`\\lambda_t = v_t^\\top A v_t` as the estimate; stops when
    :math:`|\\lambda_t - \\lambda_{t-1}| \\le \\text{tol}\\, |\\lambda_t|`. This is the
    method of PyHessian (Yao, Gholami, Keutzer, Mahoney 2020), written here from
    the definition. Its error shrinks like :math:`(\\lambda_2/\\lambda_1)^{2t}`, and the
    relative-change rule stops early when that ratio is close to one, which is why
    :func:`top_eigenvalues` uses Lanczos instead.

    Returns ``(value, vector, matvecs, converged, history)``; ``history`` holds
    :math:`\\lambda_t` after every product.
    """
    P = _positive_int("P", P)
    max_iter = _positive_int("max_iter", max_iter)
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
    return _PowerResult(history[-1], v, len(history), converged, tuple(history))


def _float64_matvec(obj: _Objective, op: Matvec, basis_device: torch.device) -> Matvec:
    def matvec(q: torch.Tensor) -> torch.Tensor:
        return op(q.to(device=obj.device, dtype=obj.dtype)).to(device=basis_device, dtype=torch.float64)

    return matvec


def _basis_device(obj: _Objective) -> torch.device:
    # float64 is unavailable on Apple's MPS: keep the Krylov basis on the CPU there.
    return torch.device("cpu") if obj.device.type == "mps" else obj.device


def top_eigenvalues(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor,
                    k: int = 1, *, which: str = "largest", tol: float = 1e-6, max_iter: int | None = None,
                    seed: int = 0) -> Eigenpairs:
    """Extreme eigenvalues and eigenvectors of the Hessian by the Lanczos method.

    From a seeded Gaussian start :math:`q_1`, Lanczos builds an orthonormal basis
    :math:`Q_m` of the Krylov space :math:`\\operatorname{span}\\{q_1, Hq_1, \\dots,
    H^{m-1}q_1\\}` in which :math:`H` is the tridiagonal :math:`T_m`, one
    Hessian-vector product per step (Lanczos 1950; Golub & Van Loan, *Matrix
    Computations*, sec. 10.1). The eigenpairs :math:`(\\vartheta_i, s_i)` of
    :math:`T_m` give Ritz pairs :math:`(\\vartheta_i, Q_m s_i)` with residual
    :math:`\\lVert H Q_m s_i - \\vartheta_i Q_m s_i \\rVert = |\\beta_m s_{m,i}|`.

    The basis is kept in float64 and fully reorthogonalised whatever the model's
    dtype. The iteration stops when each of the ``k`` wanted Ritz pairs has
    :math:`|\\beta_m s_{m,i}| \\le \\text{tol} \\cdot \\max(|\\vartheta_i|,
    \\sqrt{\\varepsilon}\\max_j|\\vartheta_j|)` (the floor lets an eigenvalue that is
    zero to working precision converge); eigenvalue errors are then about
    :math:`\\text{residual}^2/\\text{gap}`, far below ``tol``. If the Krylov space
    becomes invariant (:math:`\\beta_m \\approx 0`) before that, the iteration
    continues from a random vector orthogonal to it.

    Like every single-vector Krylov method it sees an eigenvalue of multiplicity
    :math:`r > 1` once (unless it runs through the whole space); use
    :func:`hessian` and ``torch.linalg.eigvalsh`` on small models when exact
    multiplicities matter.

    Parameters
    ----------
    k
        Number of eigenpairs, ``1 <= k <= P``.
    which
        ``'largest'`` (algebraically, values descending), ``'smallest'`` (the most
        negative, for saddles; ascending) or ``'magnitude'`` (largest
        :math:`|\\lambda|`, by descending magnitude).
    tol
        Relative residual tolerance of the stopping rule.
    max_iter
        Most Lanczos steps (= Hessian-vector products); default
        ``min(P, max(300, 20 k))``. The basis holds that many float64 vectors of
        length :math:`P`. A ``RuntimeWarning`` says when it is reached unconverged.
    seed
        Seed of the start vector (and of restarts); results are reproducible.

    Returns
    -------
    :class:`Eigenpairs`: unpacks as ``values, vectors`` (``(k,)`` and ``(P, k)``, model
    device and dtype) and also carries ``matvecs``, ``converged`` and ``residuals``.
    """
    obj = _objective(model, loss, X, y, check_outputs=False)  # checked_loss checks
    k = _positive_int("k", k)
    if k > obj.P:
        raise ValueError(f"k = {k} eigenvalues asked for but the model has only P = {obj.P} parameters")
    device = _basis_device(obj)
    result = _lanczos(_float64_matvec(obj, obj.hvp_reusing_graph(), device), obj.P, k=k, which=which, tol=tol,
                      max_iter=max_iter, seed=seed, device=device)
    cast = {"device": obj.device, "dtype": obj.dtype}
    return Eigenpairs(result.values.to(**cast), result.vectors.to(**cast), result.matvecs, result.converged,
                      result.residuals.to(**cast), result.history)


# ---------------------------------------------------------------------------------
# trace and spectral density
# ---------------------------------------------------------------------------------


def _rademacher(P: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (P,), generator=generator).to(torch.float64).mul_(2).sub_(1)


class TraceEstimate(NamedTuple):
    """Result of :func:`hessian_trace`: ``estimate, standard_error`` (Python floats)."""

    estimate: float
    standard_error: float


def hessian_trace(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor, *,
                  samples: int = 100, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimate of :math:`\\operatorname{tr} H` and its standard error.

    With Rademacher probes :math:`z_s \\in \\{-1, +1\\}^P`,
    :math:`\\mathbb{E}[z^\\top H z] = \\operatorname{tr} H`, and

    .. math::  \\widehat{\\operatorname{tr}} = \\frac1S \\sum_{s=1}^S z_s^\\top H z_s,
               \\qquad \\text{SE} = \\frac{\\operatorname{std}(z_s^\\top H z_s)}{\\sqrt S}

    (sample standard deviation, ``ddof=1``). Rademacher probes have the smallest
    variance, :math:`2(\\lVert H\\rVert_F^2 - \\sum_i H_{ii}^2)`, among i.i.d. probes
    (Hutchinson 1989; Avron & Toledo 2011, "Randomized algorithms for estimating
    the trace of an implicit symmetric positive semi-definite matrix").

    Parameters
    ----------
    samples
        Number of probes (Hessian-vector products), at least 2.
    seed
        Seed of the probes; the result is deterministic for a seed.

    Returns
    -------
    :class:`TraceEstimate` ``(estimate, standard_error)`` of Python floats.
    """
    samples = _positive_int("samples", samples, 2)
    obj = _objective(model, loss, X, y, check_outputs=False)  # checked_loss checks
    op = obj.hvp_reusing_graph()
    generator = torch.Generator().manual_seed(int(seed))
    values = torch.empty(samples, dtype=torch.float64)
    for s in range(samples):
        z = _rademacher(obj.P, generator).to(device=obj.device, dtype=obj.dtype)
        values[s] = torch.dot(z.to(torch.float64), op(z).to(torch.float64)).item()
    return TraceEstimate(values.mean().item(), (values.std(correction=1) / math.sqrt(samples)).item())


class Quadrature(NamedTuple):
    """Result of :func:`slq_quadrature`: ``nodes, weights``, each ``(probes, m)``."""

    nodes: torch.Tensor
    weights: torch.Tensor


def _slq(obj: _Objective, lanczos_steps: int, probes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature nodes and weights in float64 NumPy arrays ``(probes, m)``."""
    m = min(_positive_int("lanczos_steps", lanczos_steps), obj.P)
    probes = _positive_int("probes", probes)
    device = _basis_device(obj)
    matvec = _float64_matvec(obj, obj.hvp_reusing_graph(), device)
    generator = torch.Generator().manual_seed(int(seed))
    nodes = np.zeros((probes, m))
    weights = np.zeros((probes, m))
    for p in range(probes):
        z = _rademacher(obj.P, generator).to(device)
        proc = _Lanczos(matvec, z, capacity=m)
        for j in range(m):
            _, breakdown = proc.step()
            if breakdown or j == m - 1:
                break  # at an invariant subspace the quadrature with j + 1 nodes is already exact
            proc.advance()
        theta, S = proc.ritz()
        steps = len(theta)
        nodes[p, :steps] = theta
        nodes[p, steps:] = theta[-1]  # padding: weight 0
        weights[p, :steps] = S[0] ** 2
    return nodes, weights


def slq_quadrature(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor, *,
                   lanczos_steps: int = 80, probes: int = 10, seed: int = 0) -> Quadrature:
    """Stochastic Lanczos quadrature: Gauss rules for the spectral measure seen by random probes.

    For a unit probe :math:`v = z/\\sqrt P` (Rademacher :math:`z`), :math:`m` Lanczos
    steps from :math:`v` give a tridiagonal :math:`T_m = S \\Theta S^\\top`; its
    eigenvalues :math:`\\vartheta_j` and weights :math:`\\tau_j = S_{1j}^2` (summing to 1)
    form the :math:`m`-point Gauss rule of the measure
    :math:`\\mu_v = \\sum_i (v^\\top u_i)^2 \\delta_{\\lambda_i}` of :math:`H = \\sum_i
    \\lambda_i u_i u_i^\\top`: :math:`\\sum_j \\tau_j p(\\vartheta_j) = v^\\top p(H) v` for every
    polynomial of degree :math:`\\le 2m-1` (Golub & Meurant 2010, *Matrices, Moments
    and Quadrature*; Ubaru, Chen, Saad 2017). Since :math:`\\mathbb{E}\\,\\mu_v` is the
    eigenvalue density :math:`\\frac1P\\sum_i \\delta_{\\lambda_i}`, averaging over probes
    estimates it (Ghorbani, Krishnan, Xiao 2019).

    Parameters
    ----------
    lanczos_steps
        :math:`m`, the Hessian-vector products per probe; capped at :math:`P`.
    probes
        Number of independent probes.
    seed
        Seed of the probes.

    Returns
    -------
    :class:`Quadrature` ``(nodes, weights)``, each ``(probes, min(lanczos_steps, P))``
    on the model's device and dtype. If a probe's Krylov space is invariant after
    :math:`j < m` steps its rule is exact with :math:`j` nodes; the remaining
    entries have weight 0.
    """
    obj = _objective(model, loss, X, y, check_outputs=False)  # checked_loss checks
    nodes, weights = _slq(obj, lanczos_steps, probes, seed)
    cast = {"device": obj.device, "dtype": obj.dtype}
    return Quadrature(torch.from_numpy(nodes).to(**cast), torch.from_numpy(weights).to(**cast))


class SpectralDensity(NamedTuple):
    """Result of :func:`spectral_density`: ``grid, density``, each ``(grid_size,)``."""

    grid: torch.Tensor
    density: torch.Tensor


def spectral_density(model: nn.Module, loss: str | losses.Loss, X: torch.Tensor, y: torch.Tensor, *,
                     lanczos_steps: int = 80, probes: int = 10, grid_size: int = 1000,
                     sigma: float | None = None, seed: int = 0) -> SpectralDensity:
    """Smoothed eigenvalue density of the Hessian by stochastic Lanczos quadrature.

    .. math::  \\hat\\phi(t) = \\frac{1}{n_v} \\sum_{v} \\sum_{j=1}^m \\tau^{(v)}_j\\,
               \\mathcal N\\bigl(t;\\, \\vartheta^{(v)}_j, \\sigma^2\\bigr)

    with the nodes and weights of :func:`slq_quadrature` (Ghorbani, Krishnan, Xiao
    2019, "An investigation into neural net optimization via Hessian eigenvalue
    density", sec. 3). It estimates :math:`\\frac1P\\sum_i \\mathcal N(t; \\lambda_i,
    \\sigma^2)`, integrates to 1, and costs ``probes * lanczos_steps`` Hessian-vector
    products.

    Parameters
    ----------
    sigma
        Width of the Gaussian kernel. Default: 1% of the spectral range seen by the
        nodes, :math:`0.01(\\max\\vartheta - \\min\\vartheta)` (or 1% of
        :math:`\\max|\\vartheta|`, or 0.01, if that range is 0). A smaller ``sigma``
        needs a finer grid: keep the grid spacing below about ``sigma``.
    grid_size
        Number of grid points, which run from :math:`\\min\\vartheta - 6\\sigma` to
        :math:`\\max\\vartheta + 6\\sigma` (so the density's mass outside is negligible).

    Returns
    -------
    :class:`SpectralDensity` ``(grid, density)`` on the model's device and dtype.
    The density is computed in float64; ``torch.trapezoid(density, grid)`` is 1 up
    to discretisation error.
    """
    grid_size = _positive_int("grid_size", grid_size, 2)
    if sigma is not None and not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    obj = _objective(model, loss, X, y, check_outputs=False)  # checked_loss checks
    nodes, weights = _slq(obj, lanczos_steps, probes, seed)
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        scale = hi - lo or max(abs(lo), abs(hi)) or 1.0
        sigma = 0.01 * scale
    sigma = float(sigma)
    grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, grid_size)
    density = np.zeros(grid_size)
    norm = 1.0 / (sigma * math.sqrt(2 * math.pi))
    for theta, tau in zip(nodes, weights):
        z = (grid[None, :] - theta[:, None]) / sigma
        density += tau @ np.exp(-0.5 * z * z)
    density *= norm / nodes.shape[0]
    cast = {"device": obj.device, "dtype": obj.dtype}
    return SpectralDensity(torch.from_numpy(grid).to(**cast), torch.from_numpy(density).to(**cast))
