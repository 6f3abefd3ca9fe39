"""Glue of ``book/2-provable-learning/square-wave.ipynb``: the tied-versus-untied protocol and its figures.

The section trains :math:`S` negatively tied and :math:`S` untied width-two
ReLU networks (:class:`dltheory.models.PairNetwork`) on the same samples of a
square wave, all members of a variant as one batched model
(:func:`dltheory.train.fit_ensemble`), and compares how many of each fit every
training point. The comparison is a one-sided exact test of two proportions.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats as sps

from .._checks import check_int
from ..data import square_wave
from ..models import PairNetwork, square_wave_labels
from ..train import EnsembleHistory, fit_ensemble

__all__ = ["training_set", "member_seeds", "train_variants", "collapsed", "grid_accuracy", "compare",
           "examples", "draw_layers", "draw_runs", "draw_inside", "VARIANTS"]

VARIANTS = ("tied", "untied")
SEED_BLOCK = 4096  # member seeds of one variant: base * SEED_BLOCK + i, i < SEED_BLOCK


def training_set(n: int, *, folds: int = 2, seed: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points uniform on :math:`[-1, 1]` (float32, ``(n, 1)``) and their labels :math:`\\pm 1`.

    The points are those of :func:`dltheory.data.square_wave` on :math:`[-1, 1]`;
    the labels are the sign of the hand-built network with ``folds`` folds
    (:func:`dltheory.models.square_wave_labels`): :math:`2^{\\text{folds}} + 1` pieces,
    symmetric about 0.
    """
    x, _ = square_wave(n, interval=(-1.0, 1.0), seed=seed, dtype=torch.float64)
    y = square_wave_labels(x[:, 0], folds)
    return x.float().to(device), y.float().to(device)


def member_seeds(base: int, count: int) -> list[int]:
    """``count`` seeds of one variant, disjoint from those of any other ``base``: ``base * 4096 + i``."""
    count = check_int(count, "count", min=1, max=SEED_BLOCK)
    return [base * SEED_BLOCK + i for i in range(count)]


def train_variants(X, y, *, depth: int, count: int, steps: int, lr: float, bases: tuple[int, int],
                   record_every: int | None = None) -> dict[str, tuple[PairNetwork, EnsembleHistory]]:
    """Train ``count`` tied and ``count`` untied networks of ``depth`` hidden layers, Adam, full batch, logistic loss.

    The two variants draw their members from disjoint seeds (``bases``), so the
    two success counts are independent binomial samples.
    Returns ``{"tied": (model, history), "untied": (model, history)}``.
    """
    runs = {}
    for variant, base in zip(VARIANTS, bases):
        net = PairNetwork(depth, tied=variant == "tied", seeds=member_seeds(base, count), device=X.device)
        history = fit_ensemble(net, X, y, loss="logistic", optimizer="adam", lr=lr, steps=steps,
                               record_every=record_every)
        runs[variant] = (net, history)
    return runs


def collapsed(net: PairNetwork, X) -> np.ndarray:
    """``(S,)``: members with a hidden layer whose output is the same for every input in ``X``.

    After such a layer the network is constant on ``X``. A tied layer outputs
    :math:`(\\mathrm{relu}(s), \\mathrm{relu}(-s))`, from which
    :math:`s = h_1 - h_2` is recovered, so it is constant only where :math:`s`
    is: its units cannot both die.
    """
    with torch.no_grad():
        layers = net.trace(X)[:-1]
    constant = [(out.amax(dim=1) == out.amin(dim=1)).all(dim=-1) for _, out in layers]
    return torch.stack(constant).any(dim=0).cpu().numpy()


def grid_accuracy(net: PairNetwork, grid, labels) -> np.ndarray:
    """``(S,)``: every member's accuracy (``sign f`` against ``labels``) on the points ``grid``."""
    with torch.no_grad():
        f = net(grid)
    return (f * labels.to(f.dtype) > 0).double().mean(dim=1).cpu().numpy()


def compare(k_tied: int, k_untied: int, count: int) -> dict[str, Any]:
    """Success rates, their ratio and difference, exact intervals and the one-sided exact tests.

    ``ratio`` divides by ``max(k_untied, 1)``: a conservative ratio that stays
    finite when no untied run succeeds. ``fisher`` is the one-sided
    (``alternative='greater'``) p-value of Fisher's exact test of the 2x2 table
    (``scipy.stats.fisher_exact``), ``boschloo`` that of Boschloo's unconditional
    exact test (``scipy.stats.boschloo_exact``), and ``interval_*`` are 95%
    Clopper-Pearson intervals (``scipy.stats.binomtest``).
    """
    table = [[k_tied, count - k_tied], [k_untied, count - k_untied]]
    out: dict[str, Any] = {
        "rate_tied": k_tied / count, "rate_untied": k_untied / count,
        "ratio": k_tied / max(k_untied, 1), "difference": (k_tied - k_untied) / count,
        "fisher": float(sps.fisher_exact(table, alternative="greater").pvalue),
        "boschloo": float(sps.boschloo_exact(table, alternative="greater").pvalue),
    }
    for variant, k in zip(VARIANTS, (k_tied, k_untied)):
        ci = sps.binomtest(k, count).proportion_ci(confidence_level=0.95, method="exact")
        out[f"interval_{variant}"] = (float(ci.low), float(ci.high))
    return out


def examples(runs: dict[str, tuple[PairNetwork, EnsembleHistory]], X) -> list[tuple[str, PairNetwork, int]]:
    """Three members to look inside: a tied one that fits, a tied one that fails, an untied one that fails.

    The untied failure is one with a dead layer (:func:`collapsed`) if there is
    one. Each is the first such member; where a kind is missing, the first member.
    """
    def first(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask)[0]) if mask.any() else 0

    tied, tied_history = runs["tied"]
    untied, untied_history = runs["untied"]
    fits, fails = tied_history.fitted(), ~untied_history.fitted()
    dead = collapsed(untied, X) & fails
    return [("tied, fits", tied, first(fits)), ("tied, fails", tied, first(~fits)),
            ("untied, fails", untied, first(dead if dead.any() else fails))]


def _curve(ax, x, values, label, color, style="-"):
    ax.plot(x, values, style, color=color, label=label)


def draw_layers(net: PairNetwork, x, *, X=None, y=None, member: int = 0):
    """The deck's layer-by-layer picture: pre-activations (top) and outputs (bottom) of every layer.

    Columns are the hidden layers and the readout. Top: the two pre-activations
    of each hidden layer (for a tied layer :math:`s` and :math:`-s`), then
    :math:`f(x)`; bottom: the two ReLU outputs and their sum :math:`|s|`, then
    the label :math:`\\operatorname{sign} f(x)`, with the training points
    ``(X, y)`` if given.
    """
    with torch.no_grad():
        layers = net.trace(x)
    grid = x[:, 0].cpu().numpy()
    columns = len(layers)
    fig, axes = plt.subplots(2, columns, figsize=(3.1 * columns, 5.0), sharex=True)
    for k, (pre, out) in enumerate(layers[:-1], start=1):
        top, bottom = axes[0, k - 1], axes[1, k - 1]
        pre, out = pre[member].cpu().numpy(), out[member].cpu().numpy()
        _curve(top, grid, pre[:, 0], "unit 1", "C0")
        _curve(top, grid, pre[:, 1], "unit 2", "C1", "--")
        top.axhline(0, color="0.6", linewidth=0.8)
        top.set(title=f"layer {k}: pre-activations")
        bottom.plot(grid, out.sum(1), color="0.85", linewidth=5, label="sum", zorder=0)
        _curve(bottom, grid, out[:, 0], "unit 1", "C0")
        _curve(bottom, grid, out[:, 1], "unit 2", "C1", "--")
        bottom.set(title=f"layer {k}: outputs", xlabel="$x$")
    f = layers[-1][0][member].cpu().numpy()
    top, bottom = axes[0, -1], axes[1, -1]
    _curve(top, grid, f, "$f(x)$", "C2")
    top.axhline(0, color="0.6", linewidth=0.8)
    top.set(title="readout: $f(x)$")
    bottom.step(grid, np.where(f > 0, 1.0, -1.0), where="mid", color="C2", label=r"sign $f(x)$")
    if X is not None and y is not None:
        bottom.plot(X[:, 0].cpu().numpy(), y.cpu().numpy(), "|", color="k", markersize=6,
                    label="training labels")
    bottom.set(title="output: the label", xlabel="$x$", ylim=(-1.5, 2.2))
    axes[0, 0].set_ylabel("pre-activation")
    axes[1, 0].set_ylabel("output")
    axes[0, 0].legend(loc="lower right", fontsize="small")
    axes[1, 0].legend(loc="upper center", fontsize="small")
    bottom.legend(loc="upper center", fontsize="small", ncol=2)
    return fig


def draw_runs(runs: dict[str, tuple[PairNetwork, EnsembleHistory]], comparison: dict[str, Any]):
    """Left: the fraction of members that fit every training point, against the step, with 95% exact bands.

    Right: the final training accuracies of all members, one histogram per variant.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = np.linspace(0.0, 1.0, 41)
    lowest = min(float(history.final_accuracy.min()) for _, history in runs.values())
    for color, variant in zip(("C0", "C3"), VARIANTS):
        net, history = runs[variant]
        count = net.ensemble_size
        fitted = (history.margin_min > 0).sum(axis=1)
        bands = [sps.binomtest(int(k), count).proportion_ci(method="exact") for k in fitted]
        left.plot(history.step, fitted / count, color=color, label=f"{variant} ({count} seeds)")
        left.fill_between(history.step, [b.low for b in bands], [b.high for b in bands], color=color, alpha=0.2)
        right.hist(history.final_accuracy, bins=bins, color=color, alpha=0.55, label=variant)
    left.set(xlabel="Adam step", ylabel="fraction fitting every training point",
             title="Success over training", ylim=(0, None))
    left.legend(loc="upper left")
    right.set(xlabel="final training accuracy", ylabel="number of seeds", title="Where the runs end",
              xlim=(max(0.0, lowest - 0.05), 1.02))
    right.legend(loc="upper center")
    return fig


def draw_inside(examples: list[tuple[str, PairNetwork, int]], x):
    """The hidden-layer outputs and :math:`f` of a few trained members: one row each, ``(title, net, member)``."""
    with torch.no_grad():
        traces = [(title, net.trace(x), s) for title, net, s in examples]
    columns = len(traces[0][1])
    grid = x[:, 0].cpu().numpy()
    fig, axes = plt.subplots(len(traces), columns, figsize=(3.1 * columns, 2.6 * len(traces)), sharex=True,
                             squeeze=False)
    for row, (title, layers, s) in zip(axes, traces):
        for k, (_, out) in enumerate(layers[:-1], start=1):
            out = out[s].cpu().numpy()
            _curve(row[k - 1], grid, out[:, 0], "unit 1", "C0")
            _curve(row[k - 1], grid, out[:, 1], "unit 2", "C1", "--")
            row[k - 1].set(title=f"{title}: layer {k}")
        f = layers[-1][0][s].cpu().numpy()
        _curve(row[-1], grid, f, "$f(x)$", "C2")
        row[-1].axhline(0, color="0.6", linewidth=0.8)
        row[-1].set(title=f"{title}: $f(x)$")
        row[0].set_ylabel("output")
    for ax in axes[-1]:
        ax.set_xlabel("$x$")
    axes[0, 0].legend(loc="upper center", fontsize="small")
    return fig
