"""Deep versus shallow networks on a compositional target, at equal parameter counts.

The protocol of ``book/1-three-questions/deep-vs-shallow.ipynb`` (Mhaskar, Liao,
Poggio 2016; Poggio, Mhaskar, Rosasco, Miranda, Liao 2017): every architecture
of :data:`dltheory.models.ARCHITECTURES` is trained the same way
(:func:`train_and_score`: full-batch Adam on the square loss from the same
seed, the best of a few step sizes by *training* loss) and scored by
:func:`normalized_mse`, the mean squared error divided by the variance of the
targets, so that predicting the mean scores 1; :func:`sweep` runs every
architecture at every budget.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_module, check_Xy, probe
from .._progress import progress_bar
from ..models import build, count_parameters, free_width
from ..train import fit

__all__ = ["normalized_mse", "train_and_score", "sweep"]


def normalized_mse(model: nn.Module, X, y) -> float:
    """:math:`\\sum_i (f(x_i) - y_i)^2 / \\sum_i (y_i - \\bar y)^2`: 0 is perfect, 1 is predicting the mean.

    This is :math:`1 - R^2` (``1 - sklearn.metrics.r2_score``) of the model's
    predictions, computed in float64; the model runs in evaluation mode.
    """
    X, y = check_Xy(X, y, like=check_module(model))
    if y.numel() != y.shape[0] or y.shape[0] < 2:
        raise ValueError(f"y must hold one number for each of at least two examples, got shape {tuple(y.shape)}")
    with torch.no_grad():
        out = probe(model, X).reshape(-1).double()
        target = y.reshape(-1).double()
        spread = (target - target.mean()).pow(2).sum()
        if spread == 0:
            raise ValueError("the targets are all equal: the relative error is undefined")
        return ((out - target).pow(2).sum() / spread).item()


def train_and_score(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    *,
    lrs: Sequence[float],
    steps: int,
) -> dict:
    """Train ``model`` by the protocol every architecture gets, and score it.

    From the same initial weights, one run of full-batch Adam
    (:func:`dltheory.train.fit`, ``optimizer="adam"``, square loss, ``steps``
    updates) for each step size in ``lrs``; the run with the smallest final
    *training* loss is kept (the test set plays no part in the choice) and its
    weights are left in ``model``. A run that diverges counts as the worst.

    Returns a dict with ``parameters``, ``lr`` (the one kept),
    ``train_error`` and ``test_error`` (:func:`normalized_mse`).
    """
    lrs = list(lrs)
    if not lrs:
        raise ValueError("lrs must list at least one step size")
    start = copy.deepcopy(model.state_dict())
    best: tuple[float, float, dict] | None = None
    for lr in lrs:
        model.load_state_dict(start)
        try:
            history = fit(model, *train_data, loss="square", optimizer="adam", lr=lr, steps=steps,
                          record_every=max(steps, 1), progress=False)
            loss = float(history["loss"][-1])
        except FloatingPointError:
            loss = math.inf
        if best is None or loss < best[0]:
            best = (loss, lr, copy.deepcopy(model.state_dict()))
    loss, lr, state = best
    if not math.isfinite(loss):
        raise FloatingPointError(f"training diverged for every step size in {lrs}")
    model.load_state_dict(state)
    return {
        "parameters": count_parameters(model),
        "lr": lr,
        "train_error": normalized_mse(model, *train_data),
        "test_error": normalized_mse(model, *test_data),
    }


def sweep(
    architectures: Sequence[str],
    budgets: Sequence[int],
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    *,
    lrs: Sequence[float],
    steps: int,
    channels: int = 1,
    seed: int = 0,
    progress: bool | None = None,
) -> list[dict]:
    """Every architecture at every budget, trained and scored by :func:`train_and_score`.

    Returns one row per run: ``architecture``, ``budget``, ``width`` and the
    entries of :func:`train_and_score`. The networks take the data's dtype and
    device; ``inputs`` is the number of columns of ``X``. ``progress`` shows a
    bar over the runs (default: at full scale).
    """
    X = train_data[0]
    inputs = X.shape[1]
    rows = []
    runs = [(budget, architecture) for budget in budgets for architecture in architectures]
    for budget, architecture in progress_bar(runs, desc="sweep", progress=progress):
        width = free_width(architecture, inputs, budget, channels=channels)
        model = build(architecture, inputs, width=width, channels=channels, seed=seed, dtype=X.dtype,
                      device=X.device)
        row = {"architecture": architecture, "budget": budget, "width": width}
        row.update(train_and_score(model, train_data, test_data, lrs=lrs, steps=steps))
        rows.append(row)
    return rows
