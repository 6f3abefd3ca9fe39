"""Extreme eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch import nn

from .. import losses
from .._checks import check_choice, check_device, check_int, check_real, check_seed
from .._progress import progress_bar
from ..config import float64_device
from .objective import Matvec, build

# A Lanczos step whose new direction is below this fraction of |A q| has found an
# invariant subspace (the rest is rounding).
_BREAKDOWN_RTOL = 1e-10
# Daniel-Gragg-Kaufman-Stewart: a second Gram-Schmidt pass only when the first one
# removed more than this fraction of the norm ("twice is enough").
_REORTH_RATIO = 1 / math.sqrt(2)
_EPS64 = float(np.finfo(np.float64).eps)
_WHICH = ("largest", "smallest", "magnitude")


class LanczosProcess:
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
    """Result of :func:`lanczos` and :func:`top_eigenvalues`; unpacks as ``values, vectors``.

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
        equal to :math:`\\lVert A v_i - \\lambda_i v_i \\rVert` in exact arithmetic.
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


def _iterate(matvec: Matvec, P: int, *, k: int, which: str, tol: float, max_iter: int | None, seed: int,
             device: torch.device, progress: bool | None) -> Eigenpairs:
    """The engine of :func:`lanczos` and :func:`top_eigenvalues`: checks the settings, then iterates.

    Returns float64 tensors on ``device``. Called directly by both, so that its
    warning points at their caller.
    """
    k = check_int(k, "k", min=1)
    if k > P:
        raise ValueError(f"k = {k} eigenpairs asked for but the operator has only P = {P} dimensions")
    check_choice(which, "which", _WHICH)
    tol = check_real(tol, "tol", min=0.0, min_open=True)
    max_iter = _default_max_iter(P, k) if max_iter is None else check_int(max_iter, "max_iter", min=1)
    if max_iter < k:
        raise ValueError(f"max_iter = {max_iter} Lanczos steps cannot give k = {k} eigenpairs; use max_iter >= k")
    max_iter = min(max_iter, P)  # the Krylov space (with restarts) cannot exceed the whole space
    seed = check_seed(seed)

    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(P, generator=generator, dtype=torch.float64).to(device)
    proc = LanczosProcess(matvec, start, capacity=min(max_iter, 64))
    history: list[float] = []
    converged = False
    with progress_bar(total=max_iter, desc="Lanczos", progress=progress) as bar:
        for step in range(1, max_iter + 1):
            beta, breakdown = proc.step()
            bar.update()
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


def _dense_operator(A: torch.Tensor, size: int | None) -> tuple[Matvec, int, torch.device]:
    """A symmetric matrix as a float64 matvec, its size, and where its basis lives."""
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"operator must be a square matrix (P, P), got shape {tuple(A.shape)}")
    P = A.shape[0]
    if size is not None and check_int(size, "size", min=1) != P:
        raise ValueError(f"size = {size} does not match the operator's shape {tuple(A.shape)}; leave size out")
    device = float64_device(A.device)
    A = A.detach().to(device=device, dtype=torch.float64)
    if not torch.isfinite(A).all():
        raise ValueError("operator contains NaN or inf")
    asymmetry = (A - A.T).abs().max().item()
    if asymmetry > 1e-6 * A.abs().max().item():
        raise ValueError(f"operator must be symmetric, got max |A - A^T| = {asymmetry:.3g}")
    return (lambda v: A @ v), P, device


def lanczos(operator: Callable[[torch.Tensor], torch.Tensor] | torch.Tensor, k: int = 1, *,
            size: int | None = None, which: str = "largest", tol: float = 1e-6, max_iter: int | None = None,
            seed: int = 0, device: torch.device | str | None = None, progress: bool | None = None) -> Eigenpairs:
    """Extreme eigenpairs of a symmetric operator by the Lanczos method.

    From a seeded Gaussian start :math:`q_1`, Lanczos builds an orthonormal basis
    :math:`Q_m` of the Krylov space :math:`\\operatorname{span}\\{q_1, Aq_1, \\dots,
    A^{m-1}q_1\\}` in which :math:`A` is the tridiagonal :math:`T_m`, one
    matrix-vector product per step (Lanczos 1950; Golub & Van Loan, *Matrix
    Computations*, sec. 10.1). The eigenpairs :math:`(\\vartheta_i, s_i)` of
    :math:`T_m` give Ritz pairs :math:`(\\vartheta_i, Q_m s_i)` with residual
    :math:`\\lVert A Q_m s_i - \\vartheta_i Q_m s_i \\rVert = |\\beta_m s_{m,i}|`.

    The basis is kept in float64 and fully reorthogonalised (see
    :class:`LanczosProcess`). The iteration stops when each of the ``k`` wanted
    Ritz pairs has :math:`|\\beta_m s_{m,i}| \\le \\text{tol} \\cdot
    \\max(|\\vartheta_i|, \\sqrt{\\varepsilon}\\max_j|\\vartheta_j|)` (the floor lets an
    eigenvalue that is zero to working precision converge); eigenvalue errors are
    then about :math:`\\text{residual}^2/\\text{gap}`, far below ``tol``. If the
    Krylov space becomes invariant (:math:`\\beta_m \\approx 0`) before that, the
    iteration continues from a random vector orthogonal to it.

    Like every single-vector Krylov method it sees an eigenvalue of multiplicity
    :math:`r > 1` once (unless it runs through the whole space); use
    ``torch.linalg.eigvalsh`` on a dense matrix when exact multiplicities matter.

    Parameters
    ----------
    operator
        A callable ``matvec(v) -> A v`` on float64 vectors of length ``size`` (on
        ``device``), or a symmetric matrix ``(P, P)`` as a tensor (symmetric to
        a relative ``1e-6``; it is iterated in float64).
    k
        Number of eigenpairs, ``1 <= k <= P``.
    size
        :math:`P`, the length of the vectors a callable acts on; read from a
        matrix (where it may be left out).
    which
        ``'largest'`` (algebraically, values descending), ``'smallest'`` (the most
        negative, for saddles; ascending) or ``'magnitude'`` (largest
        :math:`|\\lambda|`, by descending magnitude).
    tol
        Relative residual tolerance of the stopping rule.
    max_iter
        Most Lanczos steps (= matrix-vector products); default
        ``min(P, max(300, 20 k))``. The basis holds that many float64 vectors of
        length :math:`P`. A ``RuntimeWarning`` says when it is reached unconverged.
    seed
        Seed of the start vector (and of restarts); results are reproducible.
    device
        Where the float64 basis, and the vectors given to a callable, live
        (default: the CPU). A matrix's basis lives on the matrix's device. On
        Apple's MPS, which has no float64, both are on the CPU.
    progress
        Show a progress bar over the steps (default: at full scale only; see
        :mod:`dltheory._progress`).

    Returns
    -------
    :class:`Eigenpairs` of float64 tensors on the basis's device: unpacks as
    ``values, vectors`` (``(k,)`` and ``(P, k)``) and also carries ``matvecs``,
    ``converged``, ``residuals`` and ``history``.
    """
    if isinstance(operator, torch.Tensor):
        if device is not None:
            raise ValueError("device is read from a matrix operator; leave it out or move the matrix")
        matvec, P, basis = _dense_operator(operator, size)
    elif callable(operator):
        matvec = operator
        P = check_int(size, "size", kind="a positive integer (the length of the vectors the operator acts on)",
                      min=1)
        basis = float64_device(check_device(device if device is not None else "cpu"))
    else:
        raise TypeError(f"operator must be a callable matvec or a square tensor, got {type(operator).__name__}")
    return _iterate(matvec, P, k=k, which=which, tol=tol, max_iter=max_iter, seed=seed, device=basis,
                    progress=progress)


def top_eigenvalues(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, k: int = 1, *,
                    which: str = "largest", tol: float = 1e-6, max_iter: int | None = None, seed: int = 0,
                    progress: bool | None = None) -> Eigenpairs:
    """Extreme eigenvalues and eigenvectors of the Hessian by the Lanczos method.

    :func:`lanczos` on the Hessian-vector product of :func:`hvp`, one product
    per step, with the gradient's graph built once and reused: from a seeded
    Gaussian start it builds an orthonormal basis :math:`Q_m` of the Krylov
    space :math:`\\operatorname{span}\\{q_1, Hq_1, \\dots, H^{m-1}q_1\\}`, in which
    :math:`H` is tridiagonal, and returns the wanted Ritz pairs once their
    residuals :math:`|\\beta_m s_{m,i}|` are below ``tol`` times the Ritz value
    (Lanczos 1950; Golub & Van Loan, *Matrix Computations*, sec. 10.1). The
    basis is float64 and fully reorthogonalised whatever the model's dtype.

    A single-vector Krylov method sees an eigenvalue of multiplicity
    :math:`r > 1` once; use :func:`hessian` and ``torch.linalg.eigvalsh`` on
    small models when exact multiplicities matter.

    Parameters
    ----------
    k, which, tol, seed, progress
        As for :func:`lanczos`: ``1 <= k <= P`` eigenpairs, ``'largest'``,
        ``'smallest'`` (for saddles) or ``'magnitude'``, the relative residual
        tolerance, the seed of the start vector, the progress bar.
    max_iter
        Most Lanczos steps (= Hessian-vector products); default
        ``min(P, max(300, 20 k))``. A ``RuntimeWarning`` says when it is
        reached unconverged.

    Returns
    -------
    :class:`Eigenpairs`: unpacks as ``values, vectors`` (``(k,)`` and ``(P, k)``, model
    device and dtype) and also carries ``matvecs``, ``converged`` and ``residuals``.
    """
    obj = build(model, loss, X, y, check_outputs=False)  # checked_loss checks
    device = obj.basis_device()
    result = _iterate(obj.float64(obj.hvp_reusing_graph(), device), obj.P, k=k, which=which, tol=tol,
                      max_iter=max_iter, seed=seed, device=device, progress=progress)
    cast = {"device": obj.device, "dtype": obj.dtype}
    return Eigenpairs(result.values.to(**cast), result.vectors.to(**cast), result.matvecs, result.converged,
                      result.residuals.to(**cast), result.history)
