"""The sweep over the number of patches and the explorer of ``book/2-provable-learning/weight-sharing.ipynb``.

For every :math:`k` of a grid, :func:`sweep` evaluates the gradient of the untied patch model
(:mod:`dltheory.weight_sharing`) at random points of the band of Lemma 1 and at the worst
point, and runs gradient descent on the closed-form loss of the untied and of the tied model
from the same random start, all values of :math:`k` as one batch. :func:`k_panel` draws one
:math:`k` of a sweep; :func:`k_explorer` puts the views behind a slider. :func:`curvature_scan`
and :func:`tied_min_eigenvalues` measure the curvature that decides strong convexity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import weight_sharing as ws
from .._checks import check_int, check_real, check_seed
from ..widgets import Panel, static_explorer

__all__ = ["c_k", "Sweep", "sweep", "k_panel", "k_explorer", "K_GRID", "curvature_scan",
           "tied_min_eigenvalues", "untied_min_eigenvalues", "random_direction"]

K_GRID = (2, 3, 4, 6, 8, 12, 16, 20)  # the explorer's values of k


def c_k(k: int) -> float:
    """The weight of the linear patch, :math:`c_k = \\sqrt{2k}`: :math:`c_k^2 = 2k > \\kappa k` makes the tied model strongly convex."""
    return math.sqrt(2 * check_int(k, "k", min=1))


def random_direction(d: int, norm: float, *, seed: int, dtype=torch.float64) -> torch.Tensor:
    """A vector of ``norm`` in a uniformly random direction of :math:`\\mathbb{R}^d` (the target :math:`u_0`)."""
    g = torch.Generator().manual_seed(check_seed(seed))
    u = torch.randn(check_int(d, "d", min=1), generator=g, dtype=dtype)
    return check_real(norm, "norm", min=0.0, min_open=True) * u / torch.linalg.vector_norm(u)


@dataclass
class Sweep:
    """What :func:`sweep` measured, one row per value of :math:`k` (NumPy arrays, on the CPU)."""

    ks: list[int]
    u0: torch.Tensor
    c: np.ndarray  # c_k
    band_gradients: np.ndarray  # (K, n): ||grad_{w_2..w_k} F|| at random band points
    worst: np.ndarray  # (K,): at w_1 = u_0, w_i = u_0 / 2 (i >= 2)
    bound: np.ndarray  # (K,): ws.band_gradient_bound
    steps: list[int]  # the recorded steps of gradient descent
    untied_losses: np.ndarray  # (K, len(steps))
    untied_tail: np.ndarray  # (K, len(steps)): ||(w_2..w_k)|| / (sqrt(k-1) ||u_0||)
    tied_losses: np.ndarray  # (K, len(steps))
    untied_w1_error: np.ndarray  # (K,): ||w_1 - u_0|| / ||u_0|| at the end
    tied_error: np.ndarray  # (K,): ||w - u_0|| / ||u_0|| at the end
    lr_untied: np.ndarray
    lr_tied: np.ndarray

    def index(self, k: int) -> int:
        if k not in self.ks:
            raise ValueError(f"k = {k!r} is not in the sweep, which has k in {self.ks}")
        return self.ks.index(k)

    @property
    def u0_norm(self) -> float:
        return float(torch.linalg.vector_norm(self.u0))


def sweep(ks: Sequence[int], *, d: int = 5, u0_norm: float = 2.0, steps: int = 10_000, band_samples: int = 200,
          init_scale: float = 0.5, seed: int = 0, device: torch.device | str = "cpu") -> Sweep:
    """Lemma 1 and gradient descent, untied and tied, for every :math:`k` in ``ks``.

    The target :math:`u_0` has norm ``u0_norm`` in a random direction. The start has i.i.d.
    :math:`N(0, \\text{init\\_scale}^2/d)` entries, so :math:`\\lVert(w_2,\\dots,w_k)\\rVert \\approx`
    ``init_scale`` :math:`\\sqrt{k-1}`, inside the band's inner edge for ``init_scale`` below
    :math:`\\lVert u_0\\rVert/3`; the tied run starts from the untied start's first row. Each
    model takes steps :math:`1/L` with its own smoothness bound (:func:`dltheory.weight_sharing.smoothness`).
    """
    ks = [check_int(k, "k", min=2) for k in ks]
    if not ks or sorted(set(ks)) != ks:
        raise ValueError(f"ks must be increasing values of k >= 2, got {ks}")
    d, steps = check_int(d, "d", min=1), check_int(steps, "steps", min=1)
    init_scale = check_real(init_scale, "init_scale", min=0.0)
    seed = check_seed(seed)
    u0 = random_direction(d, u0_norm, seed=seed)
    kmax, K = ks[-1], len(ks)

    band_gradients, worst, bound = [], [], []
    for k in ks:
        U = ws.shared_target(u0, k)
        P = ws.band_points(band_samples, u0, k, seed=seed + 1000 + k)
        G = ws.population_gradient(P, U.expand_as(P), c_k(k))[:, 1:, :]
        band_gradients.append(torch.linalg.vector_norm(G.flatten(1), dim=1).numpy())
        W = U.clone()
        W[1:] /= 2
        worst.append(torch.linalg.vector_norm(ws.population_gradient(W, U, c_k(k))[1:]).item())
        bound.append(ws.band_gradient_bound(k, u0_norm))

    dev = torch.device(device)
    U = torch.stack([ws.shared_target(u0, k, pad_to=kmax) for k in ks]).to(dev)
    g = torch.Generator().manual_seed(seed + 1)
    W0 = init_scale / math.sqrt(d) * torch.randn(K, kmax, d, generator=g, dtype=torch.float64)
    mask = (torch.arange(kmax)[None, :] < torch.tensor(ks)[:, None]).to(torch.float64)
    W0 = (W0 * mask[..., None]).to(dev)
    c = torch.tensor([c_k(k) for k in ks], dtype=torch.float64, device=dev)
    kt = torch.tensor(ks, dtype=torch.float64, device=dev)
    lr_untied = 1 / torch.tensor([ws.smoothness(c_k(k), k, tied=False) for k in ks], dtype=torch.float64, device=dev)
    lr_tied = 1 / torch.tensor([ws.smoothness(c_k(k), k, tied=True) for k in ks], dtype=torch.float64, device=dev)
    untied = ws.gradient_descent(W0, U, c, lr=lr_untied, steps=steps)
    tied = ws.gradient_descent(W0[:, 0, :], u0.to(dev), c, lr=lr_tied, steps=steps, tied_k=kt)

    radius = torch.sqrt(kt - 1) * u0_norm
    cpu = lambda t: t.detach().cpu().numpy()  # noqa: E731
    u0d = u0.to(dev)
    return Sweep(
        ks=ks, u0=u0, c=cpu(c), band_gradients=np.stack(band_gradients), worst=np.array(worst),
        bound=np.array(bound), steps=untied.steps, untied_losses=cpu(untied.losses),
        untied_tail=cpu(untied.tail_norms / radius[:, None]), tied_losses=cpu(tied.losses),
        untied_w1_error=cpu(torch.linalg.vector_norm(untied.final[:, 0, :] - u0d, dim=-1) / u0_norm),
        tied_error=cpu(torch.linalg.vector_norm(tied.final - u0d, dim=-1) / u0_norm),
        lr_untied=cpu(lr_untied), lr_tied=cpu(lr_tied),
    )


FLOOR = 1e-17  # losses below this are drawn at this level (round-off of the closed form)


def k_panel(result: Sweep, k: int) -> Panel:
    """One :math:`k` of a :func:`sweep`: the band's gradients against :math:`k`, and the two descents.

    Left: :math:`\\lVert\\nabla_{w_2..w_k}F\\rVert` in the band of Lemma 1 against :math:`k` (the
    range and median over random band points, the worst point and the explicit bound), with
    ``k`` marked. Right: the loss along gradient descent for the untied and the tied model at
    this ``k``.

    Returns
    -------
    Panel
        The figure and ``values``: ``k``, ``band_gradient`` (median), ``untied_loss`` and
        ``tied_loss`` after the last step.
    """
    i = result.index(k)
    ks = np.array(result.ks)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    grads = result.band_gradients
    left.fill_between(ks, grads.min(axis=1), grads.max(axis=1), color="C0", alpha=0.25,
                      label="random band points")
    left.semilogy(ks, np.median(grads, axis=1), color="C0")
    left.semilogy(ks, result.worst, color="C3", label="worst point")
    left.semilogy(ks, result.bound, "--", color="0.3", label="bound (Lemma 1)")
    left.plot([k], [np.median(grads[i])], "o", color="C1", label=f"$k = {k}$")
    left.set(xlabel="number of patches $k$", ylabel=r"$\|\nabla_{w_2..w_k} F\|$",
             title="gradient in the band", ylim=(grads.min() / 10, 10))
    left.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    left.legend(loc="lower left", fontsize=8)
    t = np.array(result.steps) + 1
    right.loglog(t, np.maximum(result.untied_losses[i], FLOOR), color="C0", label="untied")
    right.loglog(t, np.maximum(result.tied_losses[i], FLOOR), color="C2", label="tied ($w_i = w$)")
    right.axhline(0.5, linestyle=":", color="0.4", label="plateau 1/2")
    right.set(xlabel="step + 1", ylabel=r"$F$ (floor $10^{-17}$)", title=f"gradient descent, $k = {k}$",
              ylim=(FLOOR / 3, 1e3))
    right.legend(loc="lower left", fontsize=8)
    values = {"k": int(k), "band_gradient": float(np.median(grads[i])),
              "untied_loss": float(result.untied_losses[i, -1]), "tied_loss": float(result.tied_losses[i, -1])}
    return Panel(fig, values)


def k_explorer(result: Sweep, grid: Sequence[int] = K_GRID):
    """A slider over :math:`k`, drawing :func:`k_panel` at every value of ``grid`` (each in the sweep).

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are drawn when the
    notebook runs, so the slider also moves in the rendered book.
    """
    for k in grid:
        result.index(k)
    return static_explorer(lambda k: k_panel(result, k), k=tuple(grid))


def curvature_scan(t_sq: Sequence[float], s_max: float = 4.0, points: int = 41) -> np.ndarray:
    """:math:`-\\min_s \\lambda_{\\min}` of the cosine part of the tied Hessian, per unit of :math:`k`, for each :math:`k\\lVert u_0\\rVert^2` in ``t_sq``.

    The cosine part of :func:`dltheory.weight_sharing.tied_hessian` equals :math:`k\\,G(\\sqrt k w,
    \\sqrt k u_0)` for the :math:`k = 1` matrix :math:`G`, so it suffices to scan :math:`G(s, t)`:
    :math:`t = (\\lVert t\\rVert, 0, 0)` and :math:`s` on a grid of the plane of :math:`t` and a
    second axis, in :math:`\\mathbb{R}^3` (the third axis carries the eigenvalue orthogonal to
    both). The result is at most :data:`dltheory.weight_sharing.KAPPA`.
    """
    half = torch.linspace(0.0, check_real(s_max, "s_max", min=0.0, min_open=True),
                          check_int(points, "points", min=2), dtype=torch.float64)
    s1, s2 = torch.meshgrid(torch.cat([-half.flip(0)[:-1], half]), half, indexing="ij")  # both hold 0 exactly
    S = torch.stack([s1.flatten(), s2.flatten(), torch.zeros(s1.numel(), dtype=torch.float64)], dim=1)
    out = []
    for tsq in t_sq:
        t = torch.tensor([math.sqrt(check_real(tsq, "t_sq", min=0.0)), 0.0, 0.0], dtype=torch.float64)
        lam = torch.linalg.eigvalsh(ws.tied_hessian(S, t, 1, 0.0))[:, 0]
        out.append(-lam.min().item())
    return np.array(out)


def _ball(n: int, d: int, radius: float, g: torch.Generator) -> torch.Tensor:
    """Random directions with norms log-uniform in ``[radius/1000, radius]``: points near 0 are drawn too."""
    Z = torch.randn(n, d, generator=g, dtype=torch.float64)
    r = radius * 1000.0 ** -torch.rand(n, 1, generator=g, dtype=torch.float64)
    return r * Z / torch.linalg.vector_norm(Z, dim=1, keepdim=True)


def tied_min_eigenvalues(ks: Sequence[int], u0: torch.Tensor, n: int = 1000, *, radius: float | None = None,
                         seed: int = 0) -> np.ndarray:
    """:math:`\\lambda_{\\min}` of the tied Hessian at ``n`` random points, shape ``(len(ks), n)``.

    The points have uniformly random directions and norms log-uniform between ``radius``/1000
    and ``radius`` (default :math:`2\\lVert u_0\\rVert`), so that the region near :math:`w = 0`,
    where the cosine part curves down most, is visited as well as :math:`\\pm u_0`.
    """
    n = check_int(n, "n", min=1)
    radius = 2 * float(torch.linalg.vector_norm(u0)) if radius is None else check_real(radius, "radius", min=0.0)
    g = torch.Generator().manual_seed(check_seed(seed))
    rows = []
    for k in ks:
        w = _ball(n, u0.shape[0], radius, g)
        rows.append(torch.linalg.eigvalsh(ws.tied_hessian(w, u0, k, c_k(k)))[:, 0].numpy())
    return np.stack(rows)


def untied_min_eigenvalues(ks: Sequence[int], u0: torch.Tensor, n: int = 1000, *, radius: float | None = None,
                           seed: int = 0) -> np.ndarray:
    """:math:`\\lambda_{\\min}` of the untied Hessian at ``n`` points :math:`W` whose rows are drawn as in
    :func:`tied_min_eigenvalues`, shape ``(len(ks), n)``."""
    n = check_int(n, "n", min=1)
    radius = 2 * float(torch.linalg.vector_norm(u0)) if radius is None else check_real(radius, "radius", min=0.0)
    g = torch.Generator().manual_seed(check_seed(seed))
    rows = []
    for k in ks:
        W = _ball(n * k, u0.shape[0], radius, g).reshape(n, k, -1)
        U = ws.shared_target(u0, k).expand_as(W)
        rows.append(torch.linalg.eigvalsh(ws.population_hessian(W, U, c_k(k)))[:, 0].numpy())
    return np.stack(rows)
