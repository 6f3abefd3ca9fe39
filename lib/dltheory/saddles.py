"""Strict saddles and how gradient descent leaves them (Lee, Simchowitz, Jordan, Recht 2016).

A critical point :math:`x^*` of a :math:`C^2` function is a *strict saddle* when
:math:`\\lambda_{\\min}(\\nabla^2 f(x^*)) < 0`. Lee et al. prove that gradient descent
with a step :math:`\\eta < 1/L` from a random start converges to a strict saddle
with probability zero: the starts that do lie on the saddle's *stable manifold*,
a set of measure zero. Two landscapes where everything is explicit:

**The toy** :math:`f(x, y) = \\tfrac12x^2 + \\tfrac14y^4 - \\tfrac12y^2` (:func:`toy_value`,
:func:`toy_gradient`, :func:`toy_hessian`). Its critical points are the saddle
:math:`(0, 0)`, Hessian :math:`\\operatorname{diag}(1, -1)`, and the minima
:math:`(0, \\pm1)`, Hessian :math:`\\operatorname{diag}(1, 2)`. The coordinates
decouple: gradient descent is :math:`x \\leftarrow (1-\\eta)x`,
:math:`y \\leftarrow y(1 + \\eta - \\eta y^2)`, so the stable manifold of the saddle is
the line :math:`y = 0`, and from :math:`|y_0| \\ll 1` the distance to it grows like
:math:`(1+\\eta)^t|y_0|`: leaving a neighbourhood takes
:math:`t(y_0) \\approx \\ln(c/|y_0|)/\\ln(1+\\eta)` steps (:func:`escape_time`,
:func:`predicted_escape_time`). :func:`toy_gd` runs gradient descent from many
starts at once.

**Rank-k approximation** :math:`f(U) = \\tfrac14\\lVert UU^\\top - M\\rVert_F^2`,
:math:`U \\in \\mathbb{R}^{d\\times r}`, :math:`M = \\sum_i \\lambda_i v_iv_i^\\top` with
:math:`\\lambda_1 > \\dots > \\lambda_d > 0` (Baldi & Hornik 1989). Its critical
points are :math:`U = V_S\\Lambda_S^{1/2}Q` for a subset :math:`S` of at most
:math:`r` eigen-indices and an orthogonal :math:`Q` (:func:`rank_k_critical_point`),
with value :math:`\\tfrac14\\sum_{j\\notin S}\\lambda_j^2` (:func:`critical_value`).
The Hessian there has, in closed form (:func:`rank_k_hessian_spectrum`), the
eigenvalues

* :math:`2\\lambda_i` for :math:`i\\in S`, and :math:`\\lambda_i + \\lambda_{i'}` and
  :math:`0` for each pair :math:`i < i'` in :math:`S` (the rotations :math:`Q`);
* :math:`\\lambda_i - \\lambda_j` for :math:`i \\in S, j \\notin S`;
* :math:`-\\lambda_j` for :math:`j \\notin S` and :math:`0` for :math:`i\\in S`, each
  :math:`r - |S|` times (the unused columns).

So every critical point except the global minima (:math:`S = \\{1,\\dots,r\\}`) is a
strict saddle, with :math:`\\lambda_{\\min} = \\min_{i\\in S}\\lambda_i -
\\max_{j\\notin S}\\lambda_j` when :math:`|S| = r` and :math:`-\\max_{j\\notin S}\\lambda_j`
when :math:`|S| < r` (:func:`rank_k_min_eigenvalue`); the minimum value is the
Eckart-Young error :math:`\\tfrac14\\sum_{j>r}\\lambda_j^2` (:func:`eckart_young_value`).
:func:`rank_k_gd` runs gradient descent from a batch of starts.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from ._checks import as_tensor, check_int, check_real, check_seed

__all__ = [
    "TOY_SADDLE", "TOY_MINIMA", "toy_value", "toy_gradient", "toy_hessian", "toy_gd", "toy_trajectory",
    "escape_time", "predicted_escape_time",
    "rank_k_target", "rank_k_loss", "rank_k_gradient", "critical_subsets", "rank_k_critical_point",
    "critical_value", "eckart_young_value", "rank_k_hessian_spectrum", "rank_k_min_eigenvalue", "rank_k_gd",
]

F64 = torch.float64
#: The saddle of the toy and its two minima.
TOY_SADDLE = (0.0, 0.0)
TOY_MINIMA = ((0.0, 1.0), (0.0, -1.0))


# ----------------------------------------------------------------------------- the toy

def _points(points: Any) -> torch.Tensor:
    p = points if isinstance(points, torch.Tensor) else as_tensor(points, "points")  # keep autograd's graph
    if p.shape[-1:] != (2,):
        raise ValueError(f"points must have shape (..., 2) (x, y), got {tuple(p.shape)}")
    if not p.is_floating_point():
        p = p.to(F64)
    if not torch.isfinite(p).all():
        raise ValueError("points contain NaN or inf")
    return p


def _lr(lr: Any) -> float:
    """A step size of the toy: :math:`0 < \\eta < 1` (its largest curvature on the way is 2)."""
    return check_real(lr, "lr", min=0.0, max=1.0, min_open=True, max_open=True)


def toy_value(points: Any) -> torch.Tensor:
    """:math:`f(x, y) = \\tfrac12x^2 + \\tfrac14y^4 - \\tfrac12y^2` at ``points`` ``(..., 2)``; shape ``(...)``."""
    p = _points(points)
    x, y = p[..., 0], p[..., 1]
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


def toy_gradient(points: Any) -> torch.Tensor:
    """:math:`\\nabla f = (x, y^3 - y)`, shape ``(..., 2)``."""
    p = _points(points)
    return torch.stack([p[..., 0], p[..., 1] ** 3 - p[..., 1]], dim=-1)


def toy_hessian(points: Any) -> torch.Tensor:
    """:math:`\\nabla^2 f = \\operatorname{diag}(1, 3y^2 - 1)`, shape ``(..., 2, 2)``."""
    p = _points(points)
    H = torch.zeros(*p.shape[:-1], 2, 2, dtype=p.dtype, device=p.device)
    H[..., 0, 0] = 1.0
    H[..., 1, 1] = 3 * p[..., 1] ** 2 - 1
    return H


def toy_gd(starts: Any, *, lr: float, steps: int) -> torch.Tensor:
    """Gradient descent on the toy from every row of ``starts`` ``(N, 2)``; the final points ``(N, 2)``.

    :math:`x \\leftarrow (1-\\eta)x`, :math:`y \\leftarrow y - \\eta(y^3 - y)`, all starts
    at once on ``starts``' device; ``0 < lr < 1``.
    """
    p = _points(starts).clone()
    lr, steps = _lr(lr), check_int(steps, "steps", min=0)
    for _ in range(steps):
        p = p - lr * toy_gradient(p)
    return p


def toy_trajectory(starts: Any, *, lr: float, steps: int) -> torch.Tensor:
    """The iterates of :func:`toy_gd`, shape ``(steps + 1, N, 2)`` (the start first)."""
    p = _points(starts)
    lr, steps = _lr(lr), check_int(steps, "steps", min=0)
    out = [p]
    for _ in range(steps):
        p = p - lr * toy_gradient(p)
        out.append(p)
    return torch.stack(out)


def escape_time(y0: Any, *, lr: float, threshold: float = 0.5, max_steps: int | None = None) -> torch.Tensor:
    """Steps of gradient descent on the toy until :math:`|y_t| \\ge` ``threshold``, for each ``y0``.

    The :math:`y` coordinate evolves on its own, :math:`y_{t+1} = y_t(1 + \\eta - \\eta y_t^2)`,
    so the escape from the saddle depends on :math:`y_0` only (and not on
    :math:`x_0`). Returns an int64 tensor of the shape of ``y0``: the first
    :math:`t` with :math:`|y_t| \\ge` ``threshold``, 0 if already there, and -1 if
    it is not reached within ``max_steps`` (always for :math:`y_0 = 0`, a start on
    the stable manifold). By default ``max_steps`` is enough for the smallest
    non-zero :math:`|y_0|`: :func:`predicted_escape_time` plus 1000.

    Parameters
    ----------
    y0
        Starting values of :math:`y` (any shape).
    lr
        :math:`0 < \\eta < 1`.
    threshold
        :math:`0 < c < 1`: the distance from the saddle that counts as escaped.
    """
    y = as_tensor(y0, "y0")
    y = y.to(F64) if not y.is_floating_point() else y
    if not torch.isfinite(y).all():
        raise ValueError("y0 contains NaN or inf")
    lr = _lr(lr)
    threshold = check_real(threshold, "threshold", min=0.0, max=1.0, min_open=True, max_open=True)
    if max_steps is None:
        nonzero = y.abs()[y != 0]
        smallest = nonzero.min().item() if nonzero.numel() else 1.0
        max_steps = int(math.ceil(math.log(max(threshold / smallest, 1.0)) / math.log1p(lr))) + 1000
    max_steps = check_int(max_steps, "max_steps", min=0)
    times = torch.full(y.shape, -1, dtype=torch.int64, device=y.device)
    times[y.abs() >= threshold] = 0
    for t in range(1, max_steps + 1):
        active = times < 0
        if not bool(active.any()):
            break
        y = torch.where(active, y * (1 + lr - lr * y * y), y)
        times[active & (y.abs() >= threshold)] = t
    return times


def predicted_escape_time(y0: Any, *, lr: float, c: float = 1.0) -> torch.Tensor:
    """The linearised escape time :math:`\\ln(c/|y_0|)/\\ln(1+\\eta)`.

    Near the saddle the Hessian's negative eigenvalue is :math:`-1`, so gradient
    descent multiplies :math:`y` by :math:`1 + \\eta` per step; reaching :math:`|y| = c`
    from :math:`|y_0|` takes this many steps. The constant :math:`c` absorbs the
    nonlinear end of the escape; the slope in :math:`\\ln(1/|y_0|)`,
    :math:`1/\\ln(1+\\eta)`, does not depend on it.
    """
    y = as_tensor(y0, "y0")
    y = y.to(F64) if not y.is_floating_point() else y
    if (y == 0).any():
        raise ValueError("y0 = 0 lies on the stable manifold: gradient descent never escapes")
    c = check_real(c, "c", min=0.0, min_open=True)
    return torch.log(c / y.abs()) / math.log1p(_lr(lr))


# ----------------------------------------------------------------------------- rank-k approximation

def rank_k_target(d: int, *, seed: int, jitter: float = 0.3, rotate: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A PSD target :math:`M = V\\operatorname{diag}(\\lambda)V^\\top` with distinct eigenvalues.

    :math:`\\lambda_i = (d + 1 - i + u_i)/d` with :math:`u_i \\sim U(-\\text{jitter}, \\text{jitter})`,
    so :math:`\\lambda_1 > \\dots > \\lambda_d > 0` with gaps at least
    :math:`(1 - 2\\,\\text{jitter})/d`. :math:`V` is a Haar-random orthogonal matrix
    (the Q factor of a Gaussian matrix, signs fixed), or the identity when
    ``rotate=False``.

    Returns
    -------
    eigenvalues, V
        Shapes ``(d,)`` (descending) and ``(d, d)`` (columns :math:`v_i`), float64.
    """
    d = check_int(d, "d", min=1)
    jitter = check_real(jitter, "jitter", min=0.0, max=0.5, max_open=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    u = (2 * torch.rand(d, generator=g, dtype=F64) - 1) * jitter
    lam = (d + 1 - torch.arange(1, d + 1, dtype=F64) + u) / d
    if not rotate:
        return lam, torch.eye(d, dtype=F64)
    Q, R = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=F64))
    return lam, Q * torch.sign(torch.diagonal(R))


def _matrix(M: Any) -> torch.Tensor:
    M = as_tensor(M, "M")
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be a square matrix (d, d), got shape {tuple(M.shape)}")
    if not torch.isfinite(M).all():
        raise ValueError("M contains NaN or inf")
    return M


def _factor(U: Any, M: torch.Tensor) -> torch.Tensor:
    if not isinstance(U, torch.Tensor):
        U = as_tensor(U, "U")
    if U.ndim < 2 or U.shape[-2] != M.shape[0]:
        raise ValueError(f"U must have shape (..., d, r) with d = {M.shape[0]} rows, got {tuple(U.shape)}")
    return U


def rank_k_loss(U: Any, M: Any) -> torch.Tensor:
    """:math:`\\tfrac14\\lVert UU^\\top - M\\rVert_F^2` for ``U`` of shape ``(..., d, r)``; shape ``(...)``.

    Differentiable in ``U`` (torch operations only), so that autograd and
    :mod:`dltheory.curvature` can take its derivatives.
    """
    M = _matrix(M)
    U = _factor(U, M)
    R = U @ U.transpose(-1, -2) - M.to(U)
    return 0.25 * R.pow(2).sum(dim=(-2, -1))


def rank_k_gradient(U: Any, M: Any) -> torch.Tensor:
    """:math:`\\nabla f(U) = (UU^\\top - M)U` (for symmetric ``M``), shape of ``U``."""
    M = _matrix(M)
    U = _factor(U, M)
    return (U @ U.transpose(-1, -2) - M.to(U)) @ U


def critical_subsets(d: int, r: int) -> list[tuple[int, ...]]:
    """Every subset :math:`S` of :math:`\\{0, \\dots, d-1\\}` with :math:`|S| \\le r`, by size then order.

    Each is one class of critical points of the rank-:math:`r` approximation
    (indices into the descending eigenvalues; ``(0, ..., r-1)`` is the global minimum).
    """
    d, r = check_int(d, "d", min=1), check_int(r, "r", min=1)
    return [S for s in range(min(r, d) + 1) for S in itertools.combinations(range(d), s)]


def _subset(S: Iterable[int], d: int, r: int) -> tuple[int, ...]:
    S = tuple(int(check_int(i, "an index of S", min=0, max=d - 1)) for i in S)
    if len(set(S)) != len(S) or len(S) > r:
        raise ValueError(f"S must hold at most r = {r} distinct eigen-indices, got {S}")
    return tuple(sorted(S))


def _eigenvalues(eigenvalues: Any) -> torch.Tensor:
    lam = as_tensor(eigenvalues, "eigenvalues").to(F64)
    if lam.ndim != 1 or lam.numel() == 0:
        raise ValueError(f"eigenvalues must be a vector (d,), got shape {tuple(lam.shape)}")
    if not torch.isfinite(lam).all() or (lam <= 0).any():
        raise ValueError("eigenvalues must be positive and finite (M positive definite)")
    if lam.numel() > 1 and not bool((lam[:-1] > lam[1:]).all()):
        raise ValueError("eigenvalues must be distinct and in descending order")
    return lam


def rank_k_critical_point(eigenvalues: Any, V: Any, S: Iterable[int], r: int,
                          Q: torch.Tensor | None = None) -> torch.Tensor:
    """The critical point :math:`U = V_S\\Lambda_S^{1/2}Q`, shape ``(d, r)``.

    Column :math:`k` of :math:`V_S\\Lambda_S^{1/2}` is :math:`\\sqrt{\\lambda_{S_k}}v_{S_k}` for
    :math:`k < |S|` and zero after; ``Q`` (an ``r x r`` orthogonal matrix, default
    the identity) rotates the columns, which moves along the set of equivalent
    critical points without changing :math:`UU^\\top = \\sum_{i\\in S}\\lambda_iv_iv_i^\\top`.
    """
    lam = _eigenvalues(eigenvalues)
    d = lam.numel()
    V = as_tensor(V, "V").to(F64)
    if V.shape != (d, d):
        raise ValueError(f"V must have shape (d, d) = ({d}, {d}), got {tuple(V.shape)}")
    r = check_int(r, "r", min=1)
    S = _subset(S, d, r)
    U = torch.zeros(d, r, dtype=F64)
    for k, i in enumerate(S):
        U[:, k] = lam[i].sqrt() * V[:, i]
    if Q is not None:
        Q = as_tensor(Q, "Q").to(F64)
        if Q.shape != (r, r):
            raise ValueError(f"Q must have shape (r, r) = ({r}, {r}), got {tuple(Q.shape)}")
        U = U @ Q
    return U


def critical_value(eigenvalues: Any, S: Iterable[int]) -> float:
    """:math:`f = \\tfrac14\\sum_{j\\notin S}\\lambda_j^2` at the critical points of subset ``S``."""
    lam = _eigenvalues(eigenvalues)
    S = set(_subset(S, lam.numel(), lam.numel()))
    return 0.25 * sum(lam[j].item() ** 2 for j in range(lam.numel()) if j not in S)


def eckart_young_value(eigenvalues: Any, r: int) -> float:
    """The global minimum :math:`\\tfrac14\\sum_{j>r}\\lambda_j^2` (Eckart & Young 1936), for PSD :math:`M`."""
    lam = _eigenvalues(eigenvalues)
    r = check_int(r, "r", min=1)
    return 0.25 * lam[r:].pow(2).sum().item()


def rank_k_hessian_spectrum(eigenvalues: Any, S: Iterable[int], r: int) -> torch.Tensor:
    """All :math:`dr` eigenvalues of :math:`\\nabla^2 f` at the critical points of ``S``, ascending.

    With :math:`\\Delta = \\sum_k v_k b_k^\\top` the quadratic form
    :math:`\\tfrac12\\lVert U\\Delta^\\top + \\Delta U^\\top\\rVert_F^2 + \\langle UU^\\top - M,
    \\Delta\\Delta^\\top\\rangle` splits into the blocks listed in the module docstring:
    :math:`2\\lambda_i` (:math:`i\\in S`); :math:`\\lambda_i+\\lambda_{i'}` and 0 (pairs in
    :math:`S`); :math:`\\lambda_i - \\lambda_j` (:math:`i\\in S, j\\notin S`); :math:`-\\lambda_j`
    (:math:`j\\notin S`) and 0 (:math:`i\\in S`), :math:`r - |S|` times each.
    """
    lam = _eigenvalues(eigenvalues)
    d = lam.numel()
    r = check_int(r, "r", min=1)
    S = _subset(S, d, r)
    out = set(range(d)) - set(S)
    vals = [2 * lam[i].item() for i in S]
    for i, k in itertools.combinations(S, 2):
        vals += [lam[i].item() + lam[k].item(), 0.0]
    vals += [lam[i].item() - lam[j].item() for i in S for j in out]
    free = r - len(S)
    vals += [-lam[j].item() for j in out] * free
    vals += [0.0] * (len(S) * free)
    return torch.tensor(sorted(vals), dtype=F64)


def rank_k_min_eigenvalue(eigenvalues: Any, S: Iterable[int], r: int) -> float:
    """:math:`\\lambda_{\\min}(\\nabla^2 f)` at the critical points of ``S``, in closed form.

    :math:`\\min_{i\\in S}\\lambda_i - \\max_{j\\notin S}\\lambda_j` (or :math:`2\\lambda_i`,
    :math:`0` if smaller) when :math:`|S| = r`; :math:`-\\max_{j\\notin S}\\lambda_j` when
    :math:`|S| < r`. Negative except at the global minima :math:`S = \\{0, \\dots, r-1\\}`.
    """
    return rank_k_hessian_spectrum(eigenvalues, S, r)[0].item()


def rank_k_gd(U0: Any, M: Any, *, lr: float, steps: int, record: Sequence[int] = ()) -> tuple[torch.Tensor, dict]:
    """Gradient descent :math:`U \\leftarrow U - \\eta(UU^\\top - M)U` from a batch of starts ``(B, d, r)``.

    Returns the final iterates ``(B, d, r)`` and ``{step: losses (B,)}`` at the
    steps listed in ``record`` (0 is the start). Runs on ``U0``'s device.
    """
    M = _matrix(M)
    U = _factor(U0, M).clone()
    lr, steps = check_real(lr, "lr", min=0.0, min_open=True), check_int(steps, "steps", min=0)
    M = M.to(U)
    wanted = {check_int(t, "a record step", min=0, max=steps) for t in record}
    losses = {}
    for t in range(steps + 1):
        if t in wanted:
            losses[t] = rank_k_loss(U, M)
        if t == steps:
            break
        U = U - lr * (U @ U.transpose(-1, -2) - M) @ U
    if not torch.isfinite(U).all():
        raise FloatingPointError(f"gradient descent diverged with lr = {lr:g}; use a smaller step")
    return U, losses
