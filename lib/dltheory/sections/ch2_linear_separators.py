"""Glue of ``book/2-provable-learning/linear-separators.ipynb``: Brutzkus et al.'s network, its sweeps, its figures.

The network is ``models.two_layer(d, 2 * k, activation="leaky_relu",
negative_slope=alpha, outer="fixed_sign", outer_scale=k ** -0.5,
weight_var=R ** 2)``: :math:`2k` leaky-ReLU units with outer weights
:math:`\\pm 1/\\sqrt k`, rows of norm about :math:`R` at the start. Training is
:func:`dltheory.hinge_sgd.hinge_sgd` (NumPy on the CPU: SGD is sequential); the bounds are
:func:`dltheory.hinge_sgd.update_bound`,
:func:`dltheory.hinge_sgd.gradient_lower_bound` and
:func:`dltheory.bounds.compression_bound`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter, ScalarFormatter

from .. import data, hinge_sgd
from .._checks import check_int, check_real
from ..bounds import compression_bound
from ..implicit_bias import max_margin_direction
from ..models import two_layer

__all__ = ["brutzkus_network", "width_sweep", "gradient_check", "learning_curve", "count_updates_both_layers",
           "plot_width_sweep", "plot_landscape", "plot_learning_curves"]


def brutzkus_network(d: int, k: int, *, alpha: float, R: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The initial hidden weights ``(2k, d)`` and the outer vector ``(2k,)`` of Brutzkus et al.'s network.

    Drawn by ``models.two_layer`` under ``seed`` (entries :math:`N(0, R^2/d)`,
    so rows of norm about :math:`R`; ``R = 0`` starts at :math:`W = 0`).
    """
    R = check_real(R, "R", min=0.0)
    net = two_layer(d, 2 * k, activation="leaky_relu", negative_slope=alpha, outer="fixed_sign",
                    outer_scale=k ** -0.5, weight_var=R**2, seed=seed, dtype=torch.float64)
    W0, a, _ = hinge_sgd.network_parts(net)
    return W0, a


def width_sweep(X, y, ks: Sequence[int], *, alpha: float, eta: float, R: float, orders: int,
                seed: int) -> dict[str, Any]:
    """SGD on one data set at every width :math:`k` of ``ks``, ``orders`` example orders each.

    Each width gets its own random start (rows of norm about ``R``), and the
    same ``orders`` orders of the examples. Also runs every width from
    :math:`W = 0`, where all units stay identical and the count cannot depend on
    :math:`k`.

    Returns a dict with ``w_star_norm`` (the SVM :math:`w^*` at margin 1),
    ``updates`` ``(len(ks), orders)``, ``bound`` ``(len(ks),)``
    (:func:`~dltheory.hinge_sgd.update_bound` with the start's norm),
    ``bound_from_zero``, ``epochs`` (the most over orders), ``converged`` (all
    runs) and ``updates_from_zero`` (first order, :math:`W_0 = 0`).
    """
    orders = check_int(orders, "orders", min=1)
    w_star_norm = float(np.linalg.norm(max_margin_direction(X, y).numpy()))
    d = X.shape[1]
    updates = np.zeros((len(ks), orders), dtype=np.int64)
    bound, epochs, zero = np.zeros(len(ks)), np.zeros(len(ks), dtype=np.int64), np.zeros(len(ks), dtype=np.int64)
    converged = True
    for i, k in enumerate(ks):
        W0, a = brutzkus_network(d, k, alpha=alpha, R=R, seed=seed + i)
        bound[i] = hinge_sgd.update_bound(w_star_norm, alpha=alpha, eta=eta, k=k, init_norm=np.linalg.norm(W0))
        for j in range(orders):
            run = hinge_sgd.hinge_sgd(X, y, W0, a, alpha=alpha, eta=eta, seed=seed + j)
            updates[i, j], epochs[i] = run.updates, max(epochs[i], run.epochs)
            converged &= run.converged
        zero[i] = hinge_sgd.hinge_sgd(X, y, np.zeros_like(W0), a, alpha=alpha, eta=eta, seed=seed).updates
    return {"ks": np.asarray(ks), "w_star_norm": w_star_norm, "updates": updates, "bound": bound,
            "bound_from_zero": hinge_sgd.update_bound(w_star_norm, alpha=alpha, eta=eta, k=1),
            "epochs": epochs, "converged": bool(converged), "updates_from_zero": zero}


def gradient_check(X, y, w_star, *, ks: Sequence[int], scales: Sequence[float], count: int, alpha: float,
                   seed: int) -> dict[str, np.ndarray]:
    """:math:`L_S`, :math:`\\lVert\\nabla L_S\\rVert` and its lower bound at random points :math:`W`.

    For every width :math:`k` in ``ks`` and scale :math:`s` in ``scales``,
    ``count`` matrices with i.i.d. :math:`N(0, s^2/d)` entries (rows of norm
    about :math:`s`). Returns flat arrays over all of them: ``k``, ``scale``,
    ``loss``, ``grad_norm``, ``bound``
    (:func:`~dltheory.hinge_sgd.gradient_lower_bound`).
    """
    count = check_int(count, "count", min=1)
    d = X.shape[1]
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {key: [] for key in ("k", "scale", "loss", "grad_norm", "bound")}
    for k in ks:
        a = np.r_[np.ones(k), -np.ones(k)] / math.sqrt(k)
        for s in scales:
            W = rng.standard_normal((count, 2 * k, d)) * (s / math.sqrt(d))
            loss, grad = hinge_sgd.hinge_loss_grad(W, a, X, y, alpha)
            out["k"].append(np.full(count, k))
            out["scale"].append(np.full(count, float(s)))
            out["loss"].append(loss)
            out["grad_norm"].append(np.linalg.norm(grad.reshape(count, -1), axis=1))
            out["bound"].append(hinge_sgd.gradient_lower_bound(W, a, X, y, w_star, alpha=alpha))
    return {key: np.concatenate(value) for key, value in out.items()}


def learning_curve(d: int, gamma: float, ns: Sequence[int], *, seeds: Sequence[int], k: int, alpha: float,
                   eta: float, R: float, n_test: int, delta: float) -> dict[str, np.ndarray]:
    """Test error, update count and compression bound of SGD against the sample size.

    For each seed, one draw of ``data.separable(max(ns) + n_test, d,
    margin=gamma)`` (uniform in the unit ball, at least ``gamma`` from the
    hyperplane); the training sets are its first :math:`n` points (nested), the
    test set its last ``n_test``. SGD starts from one random network per seed
    and runs to zero training hinge loss. Returns ``ns``, and ``error``,
    ``updates``, ``bound`` (:func:`~dltheory.bounds.compression_bound` with a
    data-dependent size and ``delta``) and ``epochs``, each ``(len(seeds), len(ns))``.
    """
    check_int(n_test, "n_test", min=1)
    ns = [check_int(n, "n", min=1) for n in ns]
    shape = (len(seeds), len(ns))
    error, bound = np.zeros(shape), np.zeros(shape)
    updates, epochs = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    for s, seed in enumerate(seeds):
        X, y, _ = data.separable(max(ns) + n_test, d, margin=gamma, seed=seed, dtype=torch.float64)
        X, y = X.numpy(), y.numpy()
        X_test, y_test = X[max(ns):], y[max(ns):]
        W0, a = brutzkus_network(d, k, alpha=alpha, R=R, seed=seed)
        for j, n in enumerate(ns):
            run = hinge_sgd.hinge_sgd(X[:n], y[:n], W0, a, alpha=alpha, eta=eta, seed=seed)
            if not run.converged:
                raise RuntimeError(f"SGD did not reach zero hinge loss on n = {n} (seed {seed})")
            out = hinge_sgd.network_output(run.W, a, X_test, alpha)
            error[s, j] = np.mean(np.where(out > 0, 1.0, -1.0) != y_test)
            updates[s, j], epochs[s, j] = run.updates, run.epochs
            bound[s, j] = compression_bound(run.updates, n, delta, data_dependent=True)
    return {"ns": np.asarray(ns), "error": error, "updates": updates, "bound": bound, "epochs": epochs}


def count_updates_both_layers(step, X, y, ks: Sequence[int], *, alpha: float, eta: float, R: float, seed: int,
                              max_epochs: int = 1000) -> dict[str, Any]:
    """SGD that trains the outer layer too, with a step function of the reader's, at every width of ``ks``.

    ``step(W, a, x, y, alpha, eta) -> (W, a)`` is one SGD step on
    :math:`\\max(0, 1 - yN(x))` in both layers (the exercise). Starting from
    :func:`brutzkus_network` (outer weights :math:`\\pm 1/\\sqrt k`, now trained),
    each epoch visits the examples in a random order; an example with
    :math:`yN(x) < 1` counts as a non-zero update. Stops after an epoch without one.

    Returns ``ks``, ``updates`` (one count per width) and ``converged``.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    max_epochs = check_int(max_epochs, "max_epochs", min=1)
    updates, converged = [], True
    for i, k in enumerate(ks):
        W, a = brutzkus_network(X.shape[1], k, alpha=alpha, R=R, seed=seed + i)
        rng = np.random.default_rng(seed)
        count = 0
        for _ in range(max_epochs):
            before = count
            for j in rng.permutation(len(y)):
                z = W @ X[j]
                if y[j] * (a @ np.maximum(z, alpha * z)) < 1:
                    W, a = step(W, a, X[j], y[j], alpha, eta)
                    W, a = np.asarray(W, dtype=np.float64), np.asarray(a, dtype=np.float64)
                    count += 1
            if count == before:
                break
        else:
            converged = False
        updates.append(count)
    return {"ks": np.asarray(ks), "updates": np.asarray(updates), "converged": converged}


# --------------------------------------------------------------------------- figures


def plot_width_sweep(sweep: dict[str, Any]) -> plt.Figure:
    """Updates against the width: the range over orders, the run from zero, and the bound."""
    ks, M = sweep["ks"], sweep["updates"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.fill_between(ks, M.min(axis=1), M.max(axis=1), color="C0", alpha=0.25, label="range over orders")
    ax.plot(ks, M.mean(axis=1), "o-", color="C0", label="random start, mean")
    ax.plot(ks, sweep["updates_from_zero"], "s--", color="C2", label="start at $W = 0$")
    ax.plot(ks, sweep["bound"], "k-", label=r"bound $(\|w^*\|^2/\alpha^2)(1 + 1/\eta)$")
    ax.set(xscale="log", yscale="log", xlabel="half-width $k$ ($2k$ hidden units)",
           ylabel="non-zero updates $M$", title="The update count does not grow with the width")
    ax.set_yticks([t for t in (20, 50, 100, 200, 500, 1000, 2000, 5000) if M.min() / 2 <= t <= 2 * M.max()
                   or sweep["bound"].min() / 2 <= t <= 2 * sweep["bound"].max()])
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend(loc="center right", fontsize="small")
    return fig


def plot_landscape(check: dict[str, np.ndarray], ts: np.ndarray, excess: np.ndarray) -> plt.Figure:
    """Left: histograms, one per scale, of the ratio of the gradient norm to its lower bound at the random
    points of :func:`gradient_check`. Right: ``excess``, the loss along a segment minus the chord, against ``ts``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9))
    ratio = check["grad_norm"] / check["bound"]
    bins = np.geomspace(0.5, max(20.0, 1.1 * ratio.max()), 60)
    for i, s in enumerate(np.unique(check["scale"])):
        pick = check["scale"] == s
        left.hist(ratio[pick], bins=bins, histtype="step", linewidth=1.5, color=f"C{i}",
                  label=f"rows of norm ~{s:g}")
    left.axvline(1.0, color="k", linestyle="--", linewidth=1, label="the bound")
    left.set(xscale="log", xlabel=r"$\|\nabla L_S(W)\|_F$ / bound $(|A|/n)\sqrt{2k}\,\alpha v/\|w^*\|$",
             ylabel="random points", title="No random point has a small gradient")
    left.legend(loc="upper right", fontsize="small")
    right.plot(ts, excess, color="C4")
    right.axhline(0, color="0.5", linewidth=0.8)
    right.set(xlabel=r"$t$ along the segment $W_1 \to W_2$", ylabel=r"$L_S(W_t)$ minus the chord",
              title="The loss rises above a chord: not convex")
    return fig


def plot_learning_curves(margin: dict[str, np.ndarray], no_margin: dict[str, np.ndarray], *,
                         gamma: float) -> plt.Figure:
    """Left: test error against n with and without a margin, and the compression bound.
    Right: the update count against n."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.9))
    for curve, colour, label in [(margin, "C0", rf"margin $\gamma = {gamma:g}$"), (no_margin, "C3", "no margin")]:
        ns, err, M = curve["ns"], curve["error"], curve["updates"]
        mean = err.mean(axis=0)
        shown = mean > 0
        left.plot(ns[shown], mean[shown], "o-", color=colour, label=f"test error, {label}")
        left.fill_between(ns[shown], err.min(axis=0)[shown], err.max(axis=0)[shown], color=colour, alpha=0.2)
        right.plot(ns, M.mean(axis=0), "o-", color=colour, label=label)
        right.fill_between(ns, M.min(axis=0), M.max(axis=0), color=colour, alpha=0.2)
    bound = margin["bound"].mean(axis=0)
    finite = np.isfinite(bound)
    left.plot(margin["ns"][finite], bound[finite], "k--", label=rf"compression bound, $\gamma = {gamma:g}$")
    ns = margin["ns"].astype(float)
    left.plot(ns, 3 / ns, ":", color="0.4", label="slope $-1$")
    left.axhline(1.0, color="0.6", linewidth=0.8)
    left.set(xscale="log", yscale="log", xlabel="training examples $n$", ylabel="test error",
             title="The learning curve")
    left.legend(loc="lower right", fontsize="x-small")
    right.plot(ns, ns, ":", color="0.4", label="$M = n$")
    right.set(xscale="log", yscale="log", xlabel="training examples $n$", ylabel="non-zero updates $M$",
              title="The compression size")
    right.legend(loc="upper left", fontsize="small")
    return fig
