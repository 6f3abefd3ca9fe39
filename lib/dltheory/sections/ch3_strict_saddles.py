"""The experiments and the explorer of ``book/3-sgd-overparametrization/strict-saddles.ipynb``.

On the toy :math:`\\tfrac12x^2 + \\tfrac14y^4 - \\tfrac12y^2` (:mod:`dltheory.saddles`):
:func:`toy_experiment` runs gradient descent from many random starts and from
starts on the stable manifold; :func:`escape_sweep` measures escape times against
:math:`\\ln(1/|y_0|)` for several step sizes; :func:`escape_panel` and
:func:`escape_explorer` show one (step size, :math:`y_0`) at a time. On the rank-k
approximation: :func:`saddle_table` compares Lanczos's smallest Hessian eigenvalue
with the closed form at every critical point, :func:`random_starts` runs gradient
descent from a batch of random starts, and :func:`saddle_escape` starts plain and
perturbed gradient descent (:class:`dltheory.train.PerturbedGD`, through
:func:`dltheory.train.fit`) exactly at a saddle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import curvature, saddles as sd, train
from .._checks import check_int, check_real, check_seed
from ..widgets import Panel, static_explorer

__all__ = ["ToyResult", "toy_starts", "toy_experiment", "EscapeSweep", "escape_sweep", "escape_panel",
           "escape_explorer", "LR_GRID", "Y0_GRID", "SaddleTable", "saddle_table", "RandomStarts", "random_starts",
           "SaddleEscape", "saddle_escape", "swapped_saddle"]

F64 = torch.float64
LR_GRID = (0.05, 0.2, 0.5)  # the explorer's step sizes
Y0_GRID = (1e-2, 1e-5, 1e-8, 1e-11)  # the explorer's starting distances from y = 0


# ----------------------------------------------------------------------------- the toy

def toy_starts(n: int, *, seed: int, box: float = 2.0) -> torch.Tensor:
    """``n`` starts uniform in :math:`[-\\text{box}, \\text{box}]^2`, shape ``(n, 2)``, float64."""
    g = torch.Generator().manual_seed(check_seed(seed))
    box = check_real(box, "box", min=0.0, min_open=True)
    return box * (2 * torch.rand(check_int(n, "n", min=1), 2, generator=g, dtype=F64) - 1)


@dataclass
class ToyResult:
    """What :func:`toy_experiment` found (NumPy arrays on the CPU)."""

    starts: np.ndarray  # (N, 2) random starts
    finals: np.ndarray  # (N, 2) after the steps
    distance_to_minimum: np.ndarray  # (N,): to the nearer of (0, 1), (0, -1)
    manifold_starts: np.ndarray  # (K, 2) starts with y = 0 exactly
    manifold_finals: np.ndarray  # (K, 2)
    lr: float
    steps: int

    @property
    def fraction_at_minimum(self) -> float:
        """Fraction of random starts within 1e-8 of a minimiser."""
        return float((self.distance_to_minimum <= 1e-8).mean())

    @property
    def manifold_distance(self) -> float:
        """Largest distance of a stable-manifold start's end point from the saddle."""
        return float(np.linalg.norm(self.manifold_finals, axis=1).max())


def toy_experiment(n_starts: int, *, lr: float = 0.1, steps: int = 2000, n_manifold: int = 100, seed: int = 0,
                   device: torch.device | str = "cpu") -> ToyResult:
    """Gradient descent on the toy from ``n_starts`` random starts in :math:`[-2, 2]^2` and from
    ``n_manifold`` starts on the stable manifold :math:`y = 0` (with random :math:`x_0`)."""
    starts = toy_starts(n_starts, seed=seed)
    manifold = toy_starts(check_int(n_manifold, "n_manifold", min=1), seed=seed + 1)
    manifold[:, 1] = 0.0
    dev = torch.device(device)
    finals = sd.toy_gd(starts.to(dev), lr=lr, steps=steps).cpu()
    manifold_finals = sd.toy_gd(manifold.to(dev), lr=lr, steps=steps).cpu()
    distance = torch.linalg.vector_norm(finals - torch.stack([torch.zeros_like(finals[:, 1]),
                                                               torch.sign(finals[:, 1])], dim=1), dim=1)
    return ToyResult(starts.numpy(), finals.numpy(), distance.numpy(), manifold.numpy(), manifold_finals.numpy(),
                     float(lr), int(steps))


@dataclass
class EscapeSweep:
    """Escape times from near the saddle, per step size (:func:`escape_sweep`)."""

    lrs: list[float]
    y0: np.ndarray  # (n,) starting |y|, the same for every step size
    times: np.ndarray  # (len(lrs), n) steps until |y| >= threshold
    threshold: float

    @property
    def slopes(self) -> np.ndarray:
        """Least-squares slope of the escape time against :math:`\\ln(1/|y_0|)`, per step size."""
        x = np.log(1 / self.y0)
        return np.array([np.polyfit(x, t, 1)[0] for t in self.times])

    @property
    def intercepts(self) -> np.ndarray:
        x = np.log(1 / self.y0)
        return np.array([np.polyfit(x, t, 1)[1] for t in self.times])

    @property
    def predicted_slopes(self) -> np.ndarray:
        """:math:`1/\\ln(1+\\eta)`, the slope of :func:`dltheory.saddles.predicted_escape_time`."""
        return np.array([1 / math.log1p(lr) for lr in self.lrs])

    @property
    def relative_errors(self) -> np.ndarray:
        return self.slopes / self.predicted_slopes - 1

    def index(self, lr: float) -> int:
        for i, v in enumerate(self.lrs):
            if math.isclose(v, lr):
                return i
        raise ValueError(f"lr = {lr!r} is not in the sweep, which has {self.lrs}")


def escape_sweep(lrs: Sequence[float], *, n: int = 200, y_min: float = 1e-14, y_max: float = 1e-2,
                 threshold: float = 0.5, seed: int = 0) -> EscapeSweep:
    """Escape times of gradient descent on the toy for ``n`` starting :math:`|y_0|` drawn log-uniformly
    from ``[y_min, y_max]`` (sorted), at each step size in ``lrs``."""
    lrs = [check_real(lr, "lr", min=0.0, max=1.0, min_open=True, max_open=True) for lr in lrs]
    y_min = check_real(y_min, "y_min", min=0.0, min_open=True)
    y_max = check_real(y_max, "y_max", min=y_min, max=threshold, min_open=True, max_open=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    u = torch.rand(check_int(n, "n", min=2), generator=g, dtype=F64)
    y0 = torch.sort(torch.exp(math.log(y_min) + u * (math.log(y_max) - math.log(y_min)))).values
    times = np.stack([sd.escape_time(y0, lr=lr, threshold=threshold).numpy() for lr in lrs])
    return EscapeSweep(lrs, y0.numpy(), times.astype(float), float(threshold))


def escape_panel(sweep: EscapeSweep, lr: float, y0: float) -> Panel:
    """One step size and one start: :math:`|y_t|` along gradient descent, and the escape times.

    Left: :math:`|y_t|` against :math:`t` from :math:`y_0`, with the linearised growth
    :math:`(1+\\eta)^t y_0` and the threshold. Right: the sweep's escape times at
    this step size against :math:`\\ln(1/|y_0|)`, the line of slope
    :math:`1/\\ln(1+\\eta)` through their mean, and the chosen start marked.

    Returns
    -------
    Panel
        The figure and ``values``: ``lr``, ``y0``, ``escape_steps`` (measured),
        ``predicted`` (:math:`\\ln(c/y_0)/\\ln(1+\\eta)` with the sweep's fitted
        :math:`c`) and ``slope`` (the fitted slope at this step size).
    """
    i = sweep.index(lr)
    y0 = check_real(y0, "y0", min=0.0, max=sweep.threshold, min_open=True, max_open=True)
    steps = int(sd.escape_time(torch.tensor([y0], dtype=F64), lr=lr, threshold=sweep.threshold)[0])
    horizon = max(steps + 20, 40)
    traj = sd.toy_trajectory(torch.tensor([[0.0, y0]], dtype=F64), lr=lr, steps=horizon)[:, 0, 1].numpy()
    slope = sweep.slopes[i]
    x = np.log(1 / sweep.y0)
    c_log = np.mean(sweep.times[i] * math.log1p(lr) - x)  # ln c with the predicted slope
    predicted = (c_log + math.log(1 / y0)) / math.log1p(lr)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    t = np.arange(horizon + 1)
    left.semilogy(t, np.abs(traj), color="C0", label=r"$|y_t|$")
    left.semilogy(t, np.minimum(y0 * (1 + lr) ** t, 10.0), "--", color="0.4",
                  label=r"$(1+\eta)^t y_0$")
    left.axhline(sweep.threshold, linestyle=":", color="C3", label=f"threshold {sweep.threshold:g}")
    left.axvline(steps, color="C1", alpha=0.6, label=f"escape: {steps} steps")
    left.set(xlabel="step $t$", ylabel=r"$|y_t|$", ylim=(1e-13, 3),
             title=rf"$\eta = {lr:g}$, $y_0 = 10^{{{math.log10(y0):.0f}}}$")
    left.legend(loc="lower right", fontsize=8)
    right.plot(x, sweep.times[i], ".", color="C0", ms=3, label="measured")
    xs = np.array([x.min(), x.max()])
    right.plot(xs, (c_log + xs) / math.log1p(lr), "--", color="0.3",
               label=rf"slope $1/\ln(1+\eta) = {1 / math.log1p(lr):.1f}$")
    right.plot([math.log(1 / y0)], [steps], "o", color="C1", label="this start")
    right.set(xlabel=r"$\ln(1/|y_0|)$", ylabel="escape steps", title=f"fitted slope {slope:.2f}")
    right.legend(loc="upper left", fontsize=8)
    values = {"lr": float(lr), "y0": float(y0), "escape_steps": steps, "predicted": float(predicted),
              "slope": float(slope)}
    return Panel(fig, values)


def escape_explorer(sweep: EscapeSweep, lrs: Sequence[float] = LR_GRID, y0s: Sequence[float] = Y0_GRID):
    """Sliders over the step size and :math:`y_0`, drawing :func:`escape_panel` at every grid point.

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are drawn
    when the notebook runs, so the sliders also move in the rendered book.
    """
    for lr in lrs:
        sweep.index(lr)
    return static_explorer(lambda lr, y0: escape_panel(sweep, lr, y0), lr=tuple(lrs), y0=tuple(y0s))


# ----------------------------------------------------------------------------- rank-k approximation

@dataclass
class SaddleTable:
    """Every critical point of the rank-r approximation, one row per subset ``S`` (:func:`saddle_table`)."""

    subsets: list[tuple[int, ...]]
    closed_form: np.ndarray  # lambda_min from dltheory.saddles.rank_k_min_eigenvalue
    lanczos: np.ndarray  # lambda_min by curvature.function_eigenpairs
    values: np.ndarray  # f at the critical point
    gradient_norms: np.ndarray  # ||grad f|| there (zero up to rounding)
    minimum: int  # the row of the global minimum, S = (0, ..., r-1)

    @property
    def saddles(self) -> np.ndarray:
        """Boolean mask of the rows that are not the global minimum."""
        mask = np.ones(len(self.subsets), dtype=bool)
        mask[self.minimum] = False
        return mask


def _objective(M: torch.Tensor, d: int, r: int):
    return lambda theta: sd.rank_k_loss(theta.reshape(d, r), M)


def saddle_table(eigenvalues: torch.Tensor, V: torch.Tensor, r: int, *, seed: int = 0) -> SaddleTable:
    """Lanczos's smallest Hessian eigenvalue and the closed form at every critical point class.

    One representative per subset :math:`S` (columns in eigen-order, rotated by a
    random orthogonal :math:`Q` so that the check does not rely on an aligned basis).
    """
    d = eigenvalues.numel()
    M = V @ torch.diag(eigenvalues) @ V.T
    f = _objective(M, d, r)
    g = torch.Generator().manual_seed(check_seed(seed))
    Q, _ = torch.linalg.qr(torch.randn(r, r, generator=g, dtype=F64))
    subsets = sd.critical_subsets(d, r)
    closed, lanczos, values, grads = [], [], [], []
    for S in subsets:
        U = sd.rank_k_critical_point(eigenvalues, V, S, r, Q=Q)
        closed.append(sd.rank_k_min_eigenvalue(eigenvalues, S, r))
        lanczos.append(curvature.function_eigenpairs(f, U.flatten(), which="smallest", seed=seed).values[0].item())
        values.append(sd.rank_k_loss(U, M).item())
        grads.append(torch.linalg.vector_norm(sd.rank_k_gradient(U, M)).item())
    return SaddleTable(subsets, np.array(closed), np.array(lanczos), np.array(values), np.array(grads),
                       subsets.index(tuple(range(r))))


@dataclass
class RandomStarts:
    """Gradient descent from random starts (:func:`random_starts`)."""

    steps: list[int]
    losses: np.ndarray  # (len(steps), B)
    eckart_young: float

    @property
    def final_excess(self) -> np.ndarray:
        """:math:`(f - f^*)/f^*` after the last step, per start."""
        return (self.losses[-1] - self.eckart_young) / self.eckart_young


def random_starts(eigenvalues: torch.Tensor, V: torch.Tensor, r: int, *, n_starts: int, lr: float, steps: int,
                  init_scale: float = 0.1, seed: int = 0, device: torch.device | str = "cpu") -> RandomStarts:
    """Gradient descent on the rank-r approximation from ``n_starts`` Gaussian starts
    (entries :math:`N(0, \\text{init\\_scale}^2)`), all at once; losses at log-spaced steps."""
    d = eigenvalues.numel()
    M = (V @ torch.diag(eigenvalues) @ V.T).to(torch.device(device))
    g = torch.Generator().manual_seed(check_seed(seed))
    U0 = check_real(init_scale, "init_scale", min=0.0, min_open=True) * torch.randn(
        check_int(n_starts, "n_starts", min=1), d, r, generator=g, dtype=F64)
    record = [0, *train.log_spaced_steps(steps, 60)]
    _, losses = sd.rank_k_gd(U0.to(M.device), M, lr=lr, steps=steps, record=record)
    keys = sorted(losses)
    return RandomStarts(keys, np.stack([losses[t].cpu().numpy() for t in keys]),
                        sd.eckart_young_value(eigenvalues, r))


def swapped_saddle(r: int) -> tuple[int, ...]:
    """The saddle closest to the minimum: the top :math:`r` eigenvectors with the :math:`r`-th swapped
    for the :math:`(r+1)`-th. Its :math:`\\lambda_{\\min} = \\lambda_{r+1} - \\lambda_r` is the
    flattest escape of all the saddles with :math:`|S| = r`."""
    r = check_int(r, "r", min=1)
    return (*range(r - 1), r)


@dataclass
class SaddleEscape:
    """Plain and perturbed gradient descent started exactly at a saddle (:func:`saddle_escape`)."""

    plain: train.History
    perturbed: train.History
    perturbations: list[int]
    saddle_value: float
    eckart_young: float
    lambda_min: float

    def excess(self, which: str) -> np.ndarray:
        """:math:`(f - f^*)/f^*` at the record points of ``'plain'`` or ``'perturbed'``."""
        history = {"plain": self.plain, "perturbed": self.perturbed}[which]
        return (np.asarray(history["loss"]) - self.eckart_young) / self.eckart_young


def saddle_escape(eigenvalues: torch.Tensor, r: int, S: Sequence[int], *, lr: float, steps: int,
                  radius: float = 1e-3, grad_threshold: float = 1e-6, interval: int = 200,
                  value_threshold: float = 1e-6, seed: int = 0) -> SaddleEscape:
    """:func:`dltheory.train.fit` from the critical point of ``S``, with ``'gd'`` and with
    :class:`~dltheory.train.PerturbedGD`, on :math:`M = \\operatorname{diag}(\\lambda)`.

    :math:`M` is taken diagonal (its own eigenbasis): gradient descent commutes with
    :math:`U \\mapsto VU`, so nothing is lost, and floating point then keeps the
    unused eigen-directions exactly zero, as exact arithmetic does. (In a rotated
    basis rounding errors of order :math:`10^{-16}` act as a perturbation.)
    """
    d = eigenvalues.numel()
    M = torch.diag(eigenvalues)
    f = _objective(M, d, r)
    U = sd.rank_k_critical_point(eigenvalues, torch.eye(d, dtype=F64), S, r).flatten()
    record = train.log_spaced_steps(steps, 80)
    runs, perturbations = {}, []
    for name in ("plain", "perturbed"):
        model = curvature.FunctionModel(f, U)
        if name == "plain":
            optimizer, rate = "gd", lr
        else:
            optimizer = train.PerturbedGD(model.parameters(), lr=lr, radius=radius, grad_threshold=grad_threshold,
                                          interval=interval, value_threshold=value_threshold, seed=seed)
            perturbations, rate = optimizer.perturbations, None
        runs[name] = train.fit(model, curvature.DUMMY_X.to(F64), curvature.DUMMY_Y.to(F64),
                               loss=curvature.function_value, optimizer=optimizer, lr=rate, steps=steps,
                               record_at=record, seed=seed, progress=False)
    return SaddleEscape(runs["plain"], runs["perturbed"], list(perturbations),
                        sd.critical_value(eigenvalues, S), sd.eckart_young_value(eigenvalues, r),
                        sd.rank_k_min_eigenvalue(eigenvalues, S, r))
