"""The sweeps and the explorer of ``book/3-sgd-overparametrization/overparametrized-landscapes.ipynb``.

:func:`relu_sweep` runs gradient descent on Safran and Shamir's population loss
(:mod:`dltheory.landscape`) for many random starts at several student widths, then continues
the runs that stopped above the loss threshold and certifies each as a strict local minimum
(gradient near zero, smallest Hessian eigenvalue positive) or not. :func:`quadratic_sweep`
trains quadratic networks of every width from several starts and compares each with the
certified optimum of the equivalent convex problem. :func:`k_panel` and :func:`k_explorer`
show the descents of one width of a :func:`relu_sweep`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import landscape as ls
from .._checks import check_int, check_real, check_seed
from ..config import float64_device
from ..widgets import Panel, static_explorer

__all__ = ["STUCK", "step_size", "ReluSweep", "relu_sweep", "QuadraticSweep", "quadratic_sweep",
           "k_panel", "k_explorer"]

STUCK = 1e-3  # a run whose population loss stays above this is "stuck" (global minima have F = 0)


def step_size(k: int, lr: float) -> float:
    """The step for width ``k``: ``lr``, capped at :math:`1/(1 + k/2\\pi)`.

    Near a start with nearly orthogonal units the largest Hessian eigenvalue of :math:`F` is
    about :math:`\\tfrac12 + (k-1)/2\\pi` (the all-units direction; :math:`\\kappa(u, v) = 1/2\\pi`
    for orthogonal unit vectors), so the cap keeps gradient descent stable for wide students;
    it is inactive for :math:`k \\le 20` with ``lr`` = 0.2.
    """
    return min(check_real(lr, "lr", min=0.0, min_open=True), 1.0 / (1.0 + check_int(k, "k", min=1) / (2 * math.pi)))


@dataclass
class ReluSweep:
    """What :func:`relu_sweep` measured (NumPy arrays; one row per width)."""

    k0: int
    ks: list[int]
    steps: list[int]  # the recorded steps
    losses: np.ndarray  # (K, S, len(steps)): F along gradient descent
    final: np.ndarray  # (K, S): F after the last step
    stuck: np.ndarray  # (K, S) bool: final > STUCK
    refined_loss: np.ndarray  # (K, S): F after the extra steps (NaN where not stuck)
    refined_grad: np.ndarray  # (K, S): ||grad F|| after the extra steps (NaN where not stuck)
    refined_lambda_min: np.ndarray  # (K, S): smallest Hessian eigenvalue there (NaN where not stuck)
    grad_tol: float
    lr: list[float]

    def index(self, k: int) -> int:
        if k not in self.ks:
            raise ValueError(f"k = {k!r} is not in the sweep, which has k in {self.ks}")
        return self.ks.index(k)

    @property
    def stuck_fraction(self) -> np.ndarray:
        """Per width: the fraction of starts whose loss stayed above :data:`STUCK`."""
        return self.stuck.mean(axis=1)

    @property
    def certified(self) -> np.ndarray:
        """(K, S) bool: stuck, and after the extra steps a strict local minimum with :math:`F > ` :data:`STUCK`."""
        with np.errstate(invalid="ignore"):
            return (self.stuck & (self.refined_loss > STUCK) & (self.refined_grad <= self.grad_tol)
                    & (self.refined_lambda_min > 0))

    @property
    def certified_fraction(self) -> np.ndarray:
        return self.certified.mean(axis=1)

    def stuck_interval(self, level: float = 0.95) -> np.ndarray:
        """(K, 2): Clopper-Pearson intervals for the probability of getting stuck, per width."""
        from scipy.stats import binomtest

        S = self.stuck.shape[1]
        return np.array([tuple(binomtest(int(c), S).proportion_ci(level, method="exact"))
                         for c in self.stuck.sum(axis=1)])


def relu_sweep(k0: int, ks: Sequence[int], *, seeds: int, steps: int, lr: float = 0.2, refine_steps: int = 3000,
               grad_tol: float = 1e-5, seed: int = 0, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> ReluSweep:
    """Gradient descent on the population loss for the teacher :math:`v_j = e_j` (:math:`k_0 = d`), per width.

    For every ``k`` in ``ks``, ``seeds`` students with i.i.d. :math:`N(0, 1/d)` entries run
    ``steps`` steps of size :func:`step_size` (all seeds as one batch on ``device``, in
    ``dtype``). The runs that end above :data:`STUCK` then run ``refine_steps`` more steps in
    float64 (on ``device``, or the CPU where it has no float64), and each is tested: gradient norm at most ``grad_tol`` and a positive
    smallest eigenvalue of :func:`dltheory.landscape.population_hessian` make it a certified
    strict local minimum, spurious since :math:`F > 0`.
    """
    k0 = check_int(k0, "k0", min=1)
    ks = [check_int(k, "k", min=1) for k in ks]
    if not ks or sorted(set(ks)) != ks:
        raise ValueError(f"ks must be increasing widths, got {ks}")
    S, steps = check_int(seeds, "seeds", min=1), check_int(steps, "steps", min=1)
    refine_steps = check_int(refine_steps, "refine_steps", min=0)
    grad_tol = check_real(grad_tol, "grad_tol", min=0.0)
    seed = check_seed(seed)
    dev = torch.device(device)
    V = ls.orthonormal_teacher(k0, dtype=dtype).to(dev)
    dev64 = float64_device(dev)  # the extra steps and the Hessians run in float64
    V64 = ls.orthonormal_teacher(k0).to(dev64)
    K = len(ks)
    losses, final, stuck = [], np.zeros((K, S)), np.zeros((K, S), dtype=bool)
    refined = {name: np.full((K, S), np.nan) for name in ("loss", "grad", "lam")}
    steps_recorded: list[int] = []
    lrs = [step_size(k, lr) for k in ks]
    for i, k in enumerate(ks):
        W0 = ls.student_init(S, k, k0, seed=seed * 1000 + k, dtype=dtype).to(dev)
        run = ls.gradient_descent(W0, V, lr=lrs[i], steps=steps)
        steps_recorded = run.steps
        losses.append(run.losses.double().cpu().numpy())
        final[i] = run.loss.double().cpu().numpy()
        stuck[i] = final[i] > STUCK
        idx = np.flatnonzero(stuck[i])
        if idx.size:
            W = run.final[torch.as_tensor(idx, device=dev)].detach().to(dev64, torch.float64)
            more = ls.gradient_descent(W, V64, lr=lrs[i], steps=max(refine_steps, 1))
            refined["loss"][i, idx] = more.loss.cpu().numpy()
            refined["grad"][i, idx] = more.grad_norm.cpu().numpy()
            refined["lam"][i, idx] = [torch.linalg.eigvalsh(ls.population_hessian(w, V64))[0].item()
                                      for w in more.final]
    return ReluSweep(k0=k0, ks=ks, steps=steps_recorded, losses=np.stack(losses), final=final, stuck=stuck,
                     refined_loss=refined["loss"], refined_grad=refined["grad"], refined_lambda_min=refined["lam"],
                     grad_tol=grad_tol, lr=lrs)


FLOOR = 1e-12  # losses below this are drawn at this level


def k_panel(result: ReluSweep, k: int) -> Panel:
    """Width ``k`` of a :func:`relu_sweep`: the loss of every start along gradient descent.

    Runs that end stuck are drawn in red, the others in blue; the dotted line is the
    threshold :data:`STUCK`.

    Returns
    -------
    Panel
        The figure and ``values``: ``k``, ``stuck_fraction`` and ``median_final_loss``.
    """
    i = result.index(k)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    t = np.array(result.steps) + 1
    curves = np.maximum(result.losses[i], FLOOR)
    for s in np.flatnonzero(~result.stuck[i]):
        ax.loglog(t, curves[s], color="C0", alpha=0.25, lw=0.8)
    for s in np.flatnonzero(result.stuck[i]):
        ax.loglog(t, curves[s], color="C3", alpha=0.6, lw=0.8)
    ax.plot([], [], color="C0", label="reaches F = 0")
    ax.plot([], [], color="C3", label=f"stuck (F > {STUCK:g})")
    ax.axhline(STUCK, linestyle=":", color="0.3")
    frac = float(result.stuck_fraction[i])
    ax.set(xlabel="step + 1", ylabel=f"population loss $F$ (floor {FLOOR:g})", ylim=(FLOOR / 3, 10),
           title=f"$k_0 = {result.k0}$ teacher units, $k = {k}$ student units: {frac:.0%} stuck")
    ax.legend(loc="lower left", fontsize=8)
    values = {"k": int(k), "stuck_fraction": frac, "median_final_loss": float(np.median(result.final[i]))}
    return Panel(fig, values)


def k_explorer(result: ReluSweep):
    """A slider over the widths of a :func:`relu_sweep`, drawing :func:`k_panel` (static-capable)."""
    return static_explorer(lambda k: k_panel(result, k), k=tuple(result.ks))


@dataclass
class QuadraticSweep:
    """What :func:`quadratic_sweep` measured: the convex optimum and every trained network."""

    n: int
    d: int
    lam: float
    ks: list[int]
    optimum: ls.ConvexSolution
    excess: np.ndarray  # (K, S): (L_k(W) - certified lower bound on the optimum) / lower bound
    gap_to_solution: np.ndarray  # (K, S): (L_k(W) - value of the convex solution) / that value
    own_gap: np.ndarray  # (K, S): the network's own certified relative gap
    min_eigenvalue: np.ndarray  # (K, S): lambda_min of G at the network

    @property
    def rank(self) -> int:
        """The rank of the convex optimum :math:`M^*`."""
        return self.optimum.rank

    @property
    def pataki(self) -> int:
        return ls.pataki_rank(self.n)

    @property
    def du_lee_width(self) -> int:
        """The smallest integer :math:`k \\ge \\sqrt{2n}`."""
        return math.ceil(math.sqrt(2 * self.n))


def quadratic_sweep(n: int, d: int, lam: float, ks: Sequence[int], *, seeds: int, teacher_rank: int = 2,
                    noise: float = 0.5, seed: int = 0) -> QuadraticSweep:
    """Quadratic networks of every width in ``ks`` from ``seeds`` starts, against the convex optimum.

    Data from :func:`dltheory.landscape.quadratic_data` (seed ``seed``); the convex problem is
    solved and certified by :func:`dltheory.landscape.solve_convex`; each network is trained by
    :func:`dltheory.landscape.fit_quadratic_net` and measured three ways: its excess over the
    value of the convex solution (which can be slightly negative, when the network is the more
    accurate of the two), its excess over the certified lower bound of the convex optimum, and
    its own certificate (which needs no convex solver).
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=1)
    ks = [check_int(k, "k", min=1) for k in ks]
    S, seed = check_int(seeds, "seeds", min=1), check_seed(seed)
    X, y = ls.quadratic_data(n, d, teacher_rank=teacher_rank, noise=noise, seed=seed)
    opt = ls.solve_convex(X, y, lam)
    lower = opt.certificate.lower_bound
    excess, to_solution, own, lam_min = (np.zeros((len(ks), S)) for _ in range(4))
    for i, k in enumerate(ks):
        for s in range(S):
            W = ls.fit_quadratic_net(X, y, lam, k, seed=seed * 1000 + 37 * k + s)
            cert = ls.certificate(W.T @ W, X, y, lam)
            excess[i, s] = (cert.value - lower) / lower
            to_solution[i, s] = (cert.value - opt.value) / opt.value
            own[i, s] = cert.relative_gap
            lam_min[i, s] = cert.min_eigenvalue
    return QuadraticSweep(n=n, d=d, lam=float(lam), ks=ks, optimum=opt, excess=excess, gap_to_solution=to_solution,
                          own_gap=own,
                          min_eigenvalue=lam_min)
