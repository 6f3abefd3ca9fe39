"""The glue of ``book/3-sgd-overparametrization/lazy-training.ipynb``: width against laziness.

The notebook trains Du, Zhai, Poczos & Singh's two-layer ReLU network
(:func:`dltheory.gram.du_network`: a fixed outer layer :math:`\\pm 1/\\sqrt m`
and :math:`w_r(0) \\sim N(0, I_d)`), on inputs on the unit sphere with balanced
labels :math:`\\pm 1` (:func:`dltheory.data.teacher_signs`), by full-batch gradient descent on the
square loss, at many widths and from several initialisations, with and without
weight decay, and measures how lazy each run was with
:func:`dltheory.lazy.laziness`. This module holds:

* :func:`width_sweep`: the experiment, one :func:`dltheory.train.fit` per
  (initialisation, width), returning arrays ``(seeds, widths)``;
* :func:`slopes`: the log-log slopes of the measures against the width;
* :func:`width_panel` and :func:`width_explorer`: the figure for one width and
  a static slider over the widths of a sweep.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from .. import activation_patterns as ap
from .. import gram, lazy, losses, stats, train
from .._checks import check_int, check_real, check_seed, check_Xy
from ..widgets import Panel, static_explorer

__all__ = ["width_sweep", "slopes", "width_panel", "width_explorer", "MEASURES",
           "COLUMNS"]

#: The three measures of laziness (:func:`dltheory.lazy.laziness`).
MEASURES = ("movement", "displacement", "kernel")
#: Every column :func:`width_sweep` returns, each an array ``(seeds, widths)``.
COLUMNS = (*MEASURES, "loss", "accuracy", "norm", "norm_ratio", "movement_half", "flips")


def width_sweep(X, y, widths: Sequence[int], seeds: Sequence[int], *, lr: float, steps: int,
                weight_decay: float = 0.0) -> dict[str, np.ndarray]:
    """Train :func:`dltheory.gram.du_network` at every width from every seed, and measure its laziness.

    Each run is full-batch gradient descent (:func:`dltheory.train.fit`,
    ``optimizer="gd"``) on the square loss :math:`\\frac{1}{2n}\\sum_i (f(x_i) - y_i)^2`
    plus :math:`\\frac{\\lambda}{2}\\lVert W\\rVert_F^2` when ``weight_decay``
    :math:`= \\lambda > 0`.

    Returns
    -------
    dict
        ``widths`` (array), and for every name in :data:`COLUMNS` an array
        ``(len(seeds), len(widths))``: the three measures of
        :func:`dltheory.lazy.laziness` on the training inputs, ``loss`` (the
        final square loss, without the penalty), ``accuracy`` (the fraction of
        training points with :math:`\\operatorname{sign} f(x_i) = y_i`),
        ``norm`` :math:`\\lVert W\\rVert_F`, ``norm_ratio``
        :math:`\\lVert W\\rVert_F / \\lVert W_0\\rVert_F`,
        ``movement_half``, the relative movement after ``steps // 2`` steps
        (equal to ``movement`` once training has converged, as far as the
        movement is concerned; the gradient norm is no test of convergence,
        since gradient descent on a ReLU network oscillates around its kinks),
        and ``flips``, the fraction
        of (unit, example) pairs whose activation pattern changed
        (:func:`dltheory.activation_patterns.flip_fraction`). Also
        ``unit_displacements``: for the first seed, one array per width of
        every unit's displacement :math:`\\lVert w_r - w_r(0)\\rVert`.
    """
    X, y = check_Xy(X, y)
    widths = [check_int(m, "width", min=2) for m in widths]
    if any(m % 2 for m in widths):
        raise ValueError(f"the widths must be even (half the outer weights are +1, half -1), got {widths}")
    seeds = [check_seed(s) for s in seeds]
    if not widths or not seeds:
        raise ValueError("width_sweep needs at least one width and one seed")
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
    out = {key: np.zeros((len(seeds), len(widths))) for key in COLUMNS}
    units = []
    for i, seed in enumerate(seeds):
        for j, m in enumerate(widths):
            net = gram.du_network(X.shape[1], m, seed=seed, dtype=X.dtype, device=X.device)
            start = copy.deepcopy(net)
            half = {}

            def snapshot(info, half=half, net=net):
                if info.step == steps // 2:
                    half["W"] = net[0].weight.detach().clone()

            train.fit(net, X, y, loss="square", optimizer="gd", lr=lr, steps=steps, weight_decay=weight_decay,
                      record_every=steps, callbacks=[snapshot], progress=False)
            for key, value in lazy.laziness(start, net, X).items():
                out[key][i, j] = value
            if i == 0:
                units.append(lazy.neuron_displacements(start, net).numpy())
            out["flips"][i, j] = ap.flip_fraction(ap.activation_patterns(start, X), ap.activation_patterns(net, X))
            with torch.no_grad():
                W, outputs = net[0].weight, net(X)
                out["loss"][i, j] = float(losses.square(outputs, y))
                out["accuracy"][i, j] = float((torch.sign(outputs.squeeze(1)) == y).double().mean())
                out["norm"][i, j] = float(W.norm())
                out["norm_ratio"][i, j] = float(W.norm() / start[0].weight.norm())
                out["movement_half"][i, j] = ap.relative_movement(start[0].weight, half.get("W", W))
    out["widths"] = np.asarray(widths)
    out["unit_displacements"] = units
    return out


def slopes(sweep: dict[str, np.ndarray], keys: Sequence[str] = MEASURES) -> dict[str, float]:
    """The log-log slope against the width of the mean over seeds of each measure (:func:`dltheory.stats.loglog_slope`)."""
    return {key: stats.loglog_slope(sweep["widths"], sweep[key].mean(axis=0)) for key in keys}


#: The labels of :data:`MEASURES` in figures.
LABELS = {"movement": "relative movement", "displacement": "largest unit displacement",
          "kernel": "relative kernel change"}


def width_panel(sweep: dict, m: int) -> Panel:
    """The explorer's view at width ``m`` of a :func:`width_sweep`.

    Left: the histogram of every unit's displacement times :math:`\\sqrt m`,
    :math:`\\sqrt m\\,\\lVert w_r - w_r(0)\\rVert`, at width ``m`` (first seed),
    over that of the widest network (grey): if each unit moves by
    :math:`O(m^{-1/2})` the two coincide. Right: the three measures against the
    width (means over seeds), width ``m`` marked.

    Returns the figure and ``values``: ``m`` and the three measures at ``m`` (means).
    """
    import matplotlib.pyplot as plt

    widths = [int(w) for w in sweep["widths"]]
    if m not in widths:
        raise ValueError(f"m must be one of the sweep's widths {widths}, got {m!r}")
    j = widths.index(m)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    scaled = [sweep["unit_displacements"][k] * widths[k] ** 0.5 for k in (j, -1)]
    bins = np.linspace(0, max(float(x.max()) for x in scaled), 30)
    left.hist(scaled[1], bins=bins, density=True, color="0.6", alpha=0.6, label=f"m = {widths[-1]}")
    left.hist(scaled[0], bins=bins, density=True, histtype="step", color="C1", linewidth=1.5,
              label=f"m = {m}")
    left.set(xlabel=r"$\sqrt{m}\,\|w_r - w_r(0)\|$", ylabel="density", title="every unit's displacement")
    left.legend(fontsize="small")
    x = np.asarray(widths, dtype=float)
    for c, key in enumerate(MEASURES):
        mean = sweep[key].mean(axis=0)
        right.loglog(x, mean, marker="o", markersize=3, color=f"C{c}", label=LABELS[key])
        right.loglog([m], [mean[j]], "o", markersize=9, color=f"C{c}", alpha=0.6)
    right.set(xlabel="width $m$", ylabel="at the end of training", title=f"width m = {m}")
    right.legend(fontsize="small", loc="lower left")
    values = {"m": m, **{key: float(sweep[key][:, j].mean()) for key in MEASURES}}
    return Panel(fig, values)


def width_explorer(sweep: dict):
    """A slider over the widths of a :func:`width_sweep`, drawing :func:`width_panel` at each.

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are drawn
    when the notebook runs, so the slider also moves in the rendered book.
    """
    return static_explorer(lambda m: width_panel(sweep, m), m=tuple(int(w) for w in sweep["widths"]))
