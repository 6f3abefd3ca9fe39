"""Glue of ``book/2-provable-learning/batch-norm.ipynb``: the networks, the learning-rate sweep, the matched probes.

Every network of the section comes in three versions built from the same
seed, hence from the same initial weights: ``"plain"`` (no normalisation),
``"BN"`` (``Linear/Conv -> BatchNorm(track_running_stats=False) -> ReLU``) and
``"noisy BN"`` (the batch norm followed by a random per-unit shift and scale
redrawn at every step, :class:`dltheory.models.normalization.NoisyBatchNorm`;
Santurkar et al. 2018, Fig. 2). Weights are He-normal (He et al. 2015).
PyTorch's default initialisation shrinks a deep ReLU network's signal by a
factor of about 6 in variance per layer, so the plain network would never
leave its starting point, and its landscape would look flat for that reason
alone.

At quick scale the networks are 8-layer MLPs of width 100 on scikit-learn's
digits; at full scale a VGG-11-like convolutional network on CIFAR-10 (through
torchvision, as in Santurkar et al.). The two differ only in the values the
notebook picks with ``dltheory.by_scale``: the same functions build, train and
probe both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import data
from .._checks import check_choice, check_int, check_real
from ..batchnorm import GradientICS, LandscapeProbe, ShiftMonitor, gradient_ics, landscape_probe, preactivations
from ..batchnorm import unit_moments
from ..models import mlp
from ..models.mlp import seeded
from ..models.normalization import NoisyBatchNorm, layer_seed
from ..train import fit

__all__ = ["NORMS", "ARCHITECTURES", "VGG11", "vgg", "network", "training_set", "final_loss", "linear_decay",
           "Sweep", "lr_sweep", "Trajectory", "matched_probes", "median_ratio", "signal_spread", "sweep_figure",
           "landscape_figure"]

#: The three versions of every network: label -> ``norm`` of :func:`dltheory.models.mlp`.
NORMS = {"plain": None, "BN": "batch", "noisy BN": "noisy_batch"}
COLORS = {"plain": "C0", "BN": "C3", "noisy BN": "C2"}

#: VGG-11's convolutional stack (Simonyan & Zisserman 2015, configuration A): channels, "M" for 2x2 max-pooling.
VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def _norm_layer(norm: str | None, channels: int, seed: int | None, index: int) -> list[nn.Module]:
    if norm is None:
        return []
    if norm == "batch":
        return [nn.BatchNorm2d(channels, track_running_stats=False)]
    return [NoisyBatchNorm(channels, seed=None if seed is None else layer_seed(seed, index))]


def vgg(config: Sequence = VGG11, norm: str | None = None, *, in_channels: int = 3, image_size: int = 32,
        classes: int = 10, init: str = "he", seed: int | None = None,
        device: torch.device | str | None = None) -> nn.Sequential:
    """A VGG-like network: 3x3 convolutions, each followed by ``norm`` and a ReLU; max-pooling; a linear layer.

    ``norm`` is ``None``, ``"batch"`` (``BatchNorm2d(track_running_stats=False)``)
    or ``"noisy_batch"`` (:class:`~dltheory.models.normalization.NoisyBatchNorm`,
    one unit per channel). ``init="he"`` draws He-normal weights
    :math:`N(0, 2/\\text{fan-in})` and zero biases; ``"torch"`` keeps PyTorch's.
    As for :func:`dltheory.models.mlp`, the normalisation layers draw nothing
    from the generator, so the same ``seed`` gives the same weights with every
    ``norm``.
    """
    check_choice(norm, "norm", tuple(NORMS.values()))
    check_choice(init, "init", ("torch", "he"))
    in_channels = check_int(in_channels, "in_channels", min=1)
    image_size = check_int(image_size, "image_size", min=1)
    classes = check_int(classes, "classes", min=1)
    pools = sum(1 for c in config if c == "M")
    if image_size % 2**pools:
        raise ValueError(f"image_size {image_size} is not divisible by 2**{pools} (the max-pooling layers)")

    def he(layer: nn.Module) -> nn.Module:
        if init == "he":
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        return layer

    def build() -> nn.Sequential:
        layers: list[nn.Module] = []
        channels, k = in_channels, 0
        for c in config:
            if c == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            c = check_int(c, "a channel count", min=1)
            layers.append(he(nn.Conv2d(channels, c, 3, padding=1)))
            layers += _norm_layer(norm, c, seed, k)
            layers.append(nn.ReLU())
            channels, k = c, k + 1
        side = image_size // 2**pools
        layers += [nn.Flatten(), he(nn.Linear(channels * side * side, classes))]
        return nn.Sequential(*layers)

    return seeded(build, seed, device)


def _digits_mlp(norm, *, init, seed, device):
    return mlp([64] + [100] * 7 + [10], norm=norm, init=init, seed=seed, device=device)


def _cifar_vgg(norm, *, init, seed, device):
    return vgg(VGG11, norm, init=init, seed=seed, device=device)


#: The architectures by name: the 8-layer width-100 MLP on digits (64 inputs) and VGG-11 on CIFAR-10.
ARCHITECTURES = {"mlp8x100": _digits_mlp, "vgg11": _cifar_vgg}


def network(arch: str, label: str, *, init: str = "he", seed: int, device=None) -> nn.Module:
    """The ``label`` version (``"plain"``, ``"BN"``, ``"noisy BN"``) of architecture ``arch``, drawn from ``seed``."""
    check_choice(arch, "arch", ARCHITECTURES)
    check_choice(label, "label", NORMS)
    return ARCHITECTURES[arch](NORMS[label], init=init, seed=seed, device=device)


def training_set(name: str, *, n: int | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``"digits"`` (scikit-learn's 1797 8x8 digits, flattened, pixels in [0, 1]) or ``"cifar10"``.

    CIFAR-10 comes through torchvision (in Colab; without it
    :func:`dltheory.data.cifar10` says what to do instead): its first ``n``
    training images, ``(n, 3, 32, 32)`` in [0, 1].
    """
    check_choice(name, "name", ("digits", "cifar10"))
    device = "cpu" if device is None else device
    if name == "digits":
        X, y = data.digits(device=device)
        return (X, y) if n is None else (X[:n], y[:n])
    X, y, _, _ = data.cifar10(n_train=n, n_test=1, device=device)
    return X, y


def final_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """The cross-entropy on ``(X, y)`` as training computes it: batch statistics of consecutive batches.

    The model runs in evaluation mode, which for the section's networks means
    batch normalisation by the statistics of each batch of ``batch_size``
    examples (there are no running statistics) and no noise. ``inf`` if a
    batch's loss is not finite.
    """
    batch_size = check_int(batch_size, "batch_size", min=1)
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        with torch.no_grad():
            for s in range(0, X.shape[0], batch_size):
                out = model(X[s:s + batch_size])
                total += nn.functional.cross_entropy(out, y[s:s + batch_size], reduction="sum").item()
    finally:
        model.train(was_training)
    value = total / X.shape[0]
    return value if math.isfinite(value) else math.inf


def linear_decay(steps: int):
    """A scheduler factory for :func:`dltheory.train.fit`: the step size falls linearly from its peak to 0."""
    steps = check_int(steps, "steps", min=1)
    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - t / steps)


# --------------------------------------------------------------------------- the learning-rate sweep


@dataclass
class Sweep:
    """Final losses and input shifts of every (version, peak step size, seed) run of :func:`lr_sweep`.

    ``loss[label]`` and ``shift[label]`` have shape ``(len(lrs[label]), len(seeds))``;
    a run that diverged has loss ``inf``, and a run without a shift monitor (or
    that diverged) shift ``nan``. ``traces[(label, lr)]`` holds, for each seed
    of a monitored run, the steps and the shift at each (averaged over layers).
    """

    lrs: dict[str, np.ndarray]
    seeds: tuple[int, ...]
    loss: dict[str, np.ndarray]
    shift: dict[str, np.ndarray]
    traces: dict[tuple[str, float], list[tuple[np.ndarray, np.ndarray]]]
    steps: int
    threshold: float = 0.5

    def trained(self, label: str) -> np.ndarray:
        """Whether each run trained: final loss at most :attr:`threshold`."""
        return self.loss[label] <= self.threshold

    def largest_lr(self, label: str) -> float:
        """The largest peak step size at which every seed trained (``nan`` if none)."""
        ok = self.trained(label).all(axis=1)
        return float(self.lrs[label][ok].max()) if ok.any() else math.nan

    def at(self, label: str, lr: float, what: str = "loss") -> np.ndarray:
        """The values over seeds of ``what`` (``"loss"`` or ``"shift"``) at step size ``lr``."""
        table = {"loss": self.loss, "shift": self.shift}[check_choice(what, "what", ("loss", "shift"))]
        where = np.flatnonzero(np.isclose(self.lrs[label], lr))
        if not where.size:
            raise ValueError(f"{label} was not run at lr={lr}; it was run at {self.lrs[label].tolist()}")
        return table[label][where[0]]


def lr_sweep(arch: str, X: torch.Tensor, y: torch.Tensor, lrs: Mapping[str, Sequence[float]], seeds: Sequence[int],
             *, steps: int, batch_size: int, probe: torch.Tensor, monitor: Mapping[str, Sequence[float]],
             shift_every: int = 5, threshold: float = 0.5) -> Sweep:
    """Train every version at every peak step size from every seed: SGD, linearly decaying step, cross-entropy.

    Each run starts from ``network(arch, label, seed=s)`` and draws its batches
    with the same seed, so the versions start from the same weights and see the
    same batches. The step size falls linearly from the peak ``lr`` to 0 over
    ``steps`` (:func:`linear_decay`), so the final loss measures where a run
    got rather than the noise of its last, large steps. The loss is
    :func:`final_loss`. The runs at the step sizes listed in ``monitor[label]``
    carry a :class:`dltheory.batchnorm.ShiftMonitor` on the ``probe`` inputs,
    which measures the step-to-step shift of every layer's input distribution
    every ``shift_every`` steps.
    """
    steps = check_int(steps, "steps", min=1)
    threshold = check_real(threshold, "threshold", min=0.0, min_open=True)
    seeds = tuple(check_int(s, "seed", min=0) for s in seeds)
    loss, shift, grid, traces = {}, {}, {}, {}
    for label, values in lrs.items():
        check_choice(label, "label", NORMS)
        grid[label] = np.asarray(values, dtype=np.float64)
        loss[label] = np.full((grid[label].size, len(seeds)), np.inf)
        shift[label] = np.full((grid[label].size, len(seeds)), np.nan)
        watched = np.asarray(monitor.get(label, ()), dtype=np.float64)
        for i, lr in enumerate(grid[label]):
            watch = bool(np.isclose(watched, lr).any())
            for j, seed in enumerate(seeds):
                model = network(arch, label, seed=seed, device=X.device)
                monitors = [ShiftMonitor(probe, every=shift_every)] if watch else []
                try:
                    fit(model, X, y, loss="ce", optimizer="sgd", lr=float(lr), steps=steps, batch_size=batch_size,
                        seed=seed, scheduler=linear_decay(steps), record_every=max(1, steps // 8),
                        callbacks=monitors)
                except FloatingPointError:
                    continue
                loss[label][i, j] = final_loss(model, X, y, batch_size)
                if watch:
                    shift[label][i, j] = monitors[0].mean()
                    trace = (np.array(monitors[0].steps), np.nanmean(np.array(monitors[0].shifts), axis=1))
                    traces.setdefault((label, float(lr)), []).append(trace)
    return Sweep(grid, seeds, loss, shift, traces, steps, threshold)


# --------------------------------------------------------------------------- matched probes


@dataclass
class Trajectory:
    """The probes of one network along the first steps of training (see :func:`matched_probes`)."""

    steps: list[int] = field(default_factory=list)
    probes: list[LandscapeProbe] = field(default_factory=list)
    ics: list[GradientICS] = field(default_factory=list)

    def values(self, what: str, max_step: float | None = None) -> np.ndarray:
        """``loss_range``, ``beta``, ``loss`` or ``gradient_norm`` at every probed step.

        With ``max_step``, the loss range and beta count only the step sizes up to it.
        """
        check_choice(what, "what", ("loss_range", "beta", "loss", "gradient_norm"))
        if max_step is None or what in ("loss", "gradient_norm"):
            return np.array([getattr(p, what) for p in self.probes])
        max_step = check_real(max_step, "max_step", min=0.0, min_open=True)
        out = []
        for p in self.probes:
            keep = p.step_sizes <= max_step
            if not keep.any():
                raise ValueError(f"no probed step size is at most {max_step}; the smallest is {p.step_sizes.min()}")
            part = LandscapeProbe(p.step_sizes[keep], p.losses[keep], p.gradient_changes[keep], p.loss,
                                  p.gradient_norm)
            out.append(getattr(part, what))
        return np.array(out)


def matched_probes(arch: str, labels: Sequence[str], X: torch.Tensor, y: torch.Tensor, *, lr: float, steps: int,
                   every: int, step_sizes: Sequence[float], probe: tuple[torch.Tensor, torch.Tensor], seed: int,
                   batch_size: int) -> dict[str, Trajectory]:
    """Train each version for ``steps`` SGD steps of size ``lr`` from the same weights and batches, probing as it goes.

    At step 0 and every ``every`` steps, on the fixed batch ``probe``:
    :func:`dltheory.batchnorm.landscape_probe` over ``step_sizes`` (the loss
    and gradient along the negative gradient) and
    :func:`dltheory.batchnorm.gradient_ics` with the training step ``lr``
    (Santurkar et al.'s internal covariate shift). The points probed are
    *matched*: the same initial weights, the same batches, the same step count.
    """
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    every = check_int(every, "every", min=1)
    Xp, yp = probe
    out = {}
    for label in labels:
        model = network(arch, label, seed=seed, device=X.device)
        trajectory = Trajectory()

        def measure(step: int, net: nn.Module, trajectory: Trajectory = trajectory) -> None:
            trajectory.steps.append(step)
            trajectory.probes.append(landscape_probe(net, "ce", Xp, yp, step_sizes))
            trajectory.ics.append(gradient_ics(net, "ce", Xp, yp, lr))

        measure(0, model)
        fit(model, X, y, loss="ce", optimizer="sgd", lr=lr, steps=steps, batch_size=batch_size, seed=seed,
            record_every=steps, callbacks=[lambda info, m=measure: m(info.step, info.model) if info.step % every == 0
                                           else None])
        out[label] = trajectory
    return out


def median_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """The median over matched points of ``a / b`` (``inf`` entries of ``a`` count as infinitely large)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be matched, got shapes {a.shape} and {b.shape}")
    return float(np.median(a / b))


def signal_spread(arch: str, X: torch.Tensor, *, seed: int) -> dict[str, np.ndarray]:
    """The root-mean-square spread of every hidden layer's pre-activations at initialisation, per initialisation.

    For the plain network with PyTorch's and with He's initialisation: the
    square root of the mean over units of the variance over ``X`` of what each
    ReLU receives.
    """
    out = {}
    for init in ("torch", "he"):
        model = network(arch, "plain", init=init, seed=seed, device=X.device)
        out[init] = np.array([unit_moments(z)[1].pow(2).mean().sqrt().item() for z in preactivations(model, X)])
    return out


# --------------------------------------------------------------------------- figures


def sweep_figure(sweep: Sweep, traces: Sequence[tuple[str, float]]) -> plt.Figure:
    """Left: final loss against peak step size (median and range over seeds; diverged runs on the top edge).
    Right: the step-to-step shift of the layers' input distributions along the runs ``traces`` (label, lr)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    top = 10.0
    for label in sweep.lrs:
        lrs, loss = sweep.lrs[label], np.minimum(sweep.loss[label], top)
        style = dict(color=COLORS[label], marker="o", markersize=4)
        left.plot(lrs, np.median(loss, axis=1), label=label, **style)
        if lrs.size > 1:
            left.fill_between(lrs, loss.min(axis=1), loss.max(axis=1), color=COLORS[label], alpha=0.2)
        else:
            left.vlines(lrs, loss.min(axis=1), loss.max(axis=1), color=COLORS[label])
    left.axhline(sweep.threshold, color="0.4", linestyle="--", linewidth=1, label="trained below this")
    left.axhline(math.log(10), color="0.4", linestyle=":", linewidth=1, label="chance, ln 10")
    left.set(xscale="log", yscale="log", ylim=(None, top * 1.1), xlabel="peak step size",
             ylabel="final training loss", title="Which step sizes train (top edge: diverged)")
    left.legend(fontsize="small", loc="upper left")
    for label, lr in traces:
        runs = sweep.traces[(label, float(lr))]
        steps = runs[0][0]
        values = np.array([v for _, v in runs])
        right.plot(steps, np.median(values, axis=0), color=COLORS[label], label=f"{label}, peak step {lr:g}")
        right.fill_between(steps, values.min(axis=0), values.max(axis=0), color=COLORS[label], alpha=0.2)
    right.set(yscale="log", xlabel="training step", ylabel="shift in one step",
              title="How far the layers' input distributions move")
    right.legend(fontsize="small")
    return fig


def landscape_figure(trajectories: Mapping[str, Trajectory]) -> plt.Figure:
    """Santurkar et al.'s Fig. 4 for the matched runs: the loss and gradient change along the gradient, and beta."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for label, tr in trajectories.items():
        c = COLORS[label]
        steps = np.array(tr.steps)
        losses = np.array([p.losses for p in tr.probes])
        changes = np.array([p.gradient_changes for p in tr.probes])
        axes[0].fill_between(steps, losses.min(axis=1), losses.max(axis=1), color=c, alpha=0.3, label=label)
        axes[1].fill_between(steps, changes.min(axis=1), changes.max(axis=1), color=c, alpha=0.3, label=label)
        axes[2].plot(steps, tr.values("beta"), color=c, marker="o", markersize=3, label=label)
    axes[0].set(yscale="log", xlabel="training step", ylabel=r"$L(\theta - \eta g)$",
                title="Loss along the gradient")
    axes[1].set(yscale="log", xlabel="training step", ylabel=r"$\|\nabla L(\theta - \eta g) - g\|$",
                title="Gradient change along it")
    axes[2].set(yscale="log", xlabel="training step", ylabel=r"effective $\beta$", title="Effective smoothness")
    for ax in axes:
        ax.legend(fontsize="small")
    return fig
