"""The glue of ``book/4-mathematical-theories/spectral-margin-bound.ipynb``: Theorem 1.1 of Bartlett,
Foster and Telgarsky (2017) evaluated, term by term, on chapter 2's networks.

The networks are those of ``book/2-provable-learning/margin-distributions.ipynb``,
trained through the same library call, :func:`dltheory.train.train_mlp_classifier`,
once on the true and once on random labels. This module holds:

* :func:`training_run`: one such run, recording the spectral complexity
  :math:`R_A` and the median training margin along the way;
* :func:`margin_term`: the bound's central term
  :math:`\\lVert X\\rVert_2 R_A / (\\gamma n)`, without constants or logarithms;
* :func:`last_half_change`: the relative change of a column of the record
  between the middle and the end of training;
* :func:`bound_over_margins`: :func:`dltheory.bounds.bartlett_bound` at a grid
  of margins :math:`\\gamma` (quantiles of the training margins), and the best of them;
* :func:`bound_table`: the terms of the bound side by side for several runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import bounds, train
from .._checks import check_int, check_real

__all__ = ["record_steps", "training_run", "margin_term", "last_half_change", "bound_over_margins", "bound_table", "QUANTILES"]

#: Quantiles of the training margins at which :func:`bound_over_margins` tries :math:`\gamma`.
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)


def record_steps(steps: int, linear: int = 8, per_decade: int = 3) -> list[int]:
    """Record points: about ``per_decade`` per decade (:func:`dltheory.train.log_spaced_steps`) and ``linear``
    evenly spaced ones, so that both the start and the second half of training are resolved."""
    steps = check_int(steps, "steps", min=1)
    linear = check_int(linear, "linear", min=1)
    even = {round(steps * k / linear) for k in range(linear + 1)}
    return sorted(set(train.log_spaced_steps(steps, per_decade)) | even)


def training_run(X, y, X_test, y_test, *, widths: Sequence[int], lr: float, momentum: float, batch_size: int,
                 steps: int, seed: int) -> dict[str, Any]:
    """Chapter 2's protocol (:func:`dltheory.train.train_mlp_classifier`), recorded along the way.

    Besides ``fit``'s columns the History has ``R_A`` (:func:`dltheory.bounds.spectral_complexity`,
    reference matrices 0) and ``margin_median``, the median training margin
    :math:`f(x_i)_{y_i} - \\max_{j\\ne y_i} f(x_i)_j`, at the points of :func:`record_steps`.
    Recording does not touch the training: the final network is bit-identical
    to chapter 2's (same call, same seed).

    Returns the dict of :func:`~dltheory.train.train_mlp_classifier` (``model``,
    ``init``, ``history``) with ``labels`` (``y``) and ``fitted`` (the first
    recorded step at 100% training accuracy, ``None`` if none).
    """
    def R_A(net) -> float:
        return bounds.spectral_complexity(net)

    def margin_median(net) -> float:
        return bounds.margins(net, X, y).double().median().item()

    run = train.train_mlp_classifier(X, y, widths=widths, lr=lr, momentum=momentum, batch_size=batch_size,
                                     steps=steps, seed=seed, eval_data=(X_test, y_test),
                                     record_at=record_steps(steps),
                                     metrics={"R_A": R_A, "margin_median": margin_median})
    history = run["history"]
    fitted = [s for s, a in zip(history["step"], history["train_accuracy"]) if a == 1.0]
    return {**run, "labels": y, "fitted": int(fitted[0]) if fitted else None}


def margin_term(data_norm: float, R_A, gamma, n: int):
    """:math:`\\lVert X\\rVert_2 R_A / (\\gamma n)`, the term of Theorem 1.1 that carries the network.

    Works elementwise on arrays of ``R_A`` and ``gamma`` (e.g. History columns).
    It is invariant under :math:`A_i \\to c_i A_i` with :math:`\\prod_i c_i = 1`
    (``R_A`` and every margin are unchanged), and under any positive rescaling
    if :math:`\\gamma` is rescaled with the margins.
    """
    n = check_int(n, "n", min=1)
    data_norm = check_real(data_norm, "data_norm", min=0.0)
    return data_norm * np.asarray(R_A, dtype=float) / (np.asarray(gamma, dtype=float) * n)


def last_half_change(history, column: str) -> float:
    """Relative change of ``column`` from the record at half the steps to the last one: :math:`v_T / v_{T/2} - 1`.

    The record at half the steps is the last one at or before ``steps / 2``.
    """
    step = np.asarray(history["step"])
    values = np.asarray(history[column], dtype=float)
    middle = np.flatnonzero(step <= step[-1] / 2)[-1]
    return float(values[-1] / values[middle] - 1.0)


def bound_over_margins(model, X, y, *, quantiles: Sequence[float] = QUANTILES,
                       delta: float = 0.05) -> dict[str, Any]:
    """:func:`dltheory.bounds.bartlett_bound` at :math:`\\gamma` = each quantile of the training margins.

    Returns ``rows`` (one dict per quantile, with ``quantile``) and ``best``,
    the row with the smallest bound. Choosing :math:`\\gamma` after seeing the
    margins is what Theorem 1.1's union over margins pays for; the price is a
    logarithmic term we do not add (see :func:`dltheory.bounds.bartlett_bound`).
    """
    m = bounds.margins(model, X, y).double()
    rows = []
    for q in quantiles:
        gamma = torch.quantile(m, float(q)).item()
        if gamma <= 0:
            continue
        rows.append({"quantile": float(q), **bounds.bartlett_bound(model, X, y, gamma=gamma, delta=delta)})
    if not rows:
        raise ValueError("no quantile of the training margins is positive: the network fits too few examples")
    return {"rows": rows, "best": min(rows, key=lambda row: row["bound"])}


def bound_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The terms of the evaluated bound, one column per run (rows of :func:`bound_over_margins`).

    Rows: :math:`\\lVert X\\rVert_2`, :math:`R_A`, :math:`\\gamma` and its quantile,
    :math:`W`, the constant-free term :math:`\\lVert X\\rVert_2 R_A/(\\gamma n)`,
    :math:`\\hat R_\\gamma`, the complexity and confidence terms, and the bound.
    """
    names = list(results)
    lines = [f"{'':34}" + "".join(f"{name:>16}" for name in names)]

    def row(label, fmt, get):
        lines.append(f"{label:34}" + "".join(f"{format(get(results[name]), fmt):>16}" for name in names))

    row("data norm ||X||_2", ".1f", lambda r: r["data_norm"])
    row("spectral complexity R_A", ".1f", lambda r: r["spectral_complexity"])
    row("margin gamma", ".3f", lambda r: r["gamma"])
    row("  (quantile of the margins)", ".2f", lambda r: r["quantile"])
    row("width W", "d", lambda r: r["width"])
    row("||X|| R_A / (gamma n)", ".2f",
        lambda r: margin_term(r["data_norm"], r["spectral_complexity"], r["gamma"], r["n"]))
    row("margin loss R_gamma", ".3f", lambda r: r["margin_loss"])
    row("complexity term", ".4g", lambda r: r["complexity"])
    row("confidence term", ".3f", lambda r: r["confidence"])
    row("bound on the test error", ".4g", lambda r: r["bound"])
    return "\n".join(lines)
