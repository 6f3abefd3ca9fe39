"""Glue of ``book/1-three-questions/random-labels.ipynb``: one randomisation run, read-outs at equal loss.

Every run of the section trains the same bias-free ReLU network
:math:`f(x) = W_L \\sigma(\\cdots \\sigma(W_1 x))` with plain SGD on the
cross-entropy loss (Zhang et al. 2017). Without biases the network is
positively homogeneous of degree :math:`L` in its weights, so
:math:`f = \\rho \\tilde f` with :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F` and
:math:`\\tilde f` the network with normalised layers, and the *normalised
margin* :math:`\\big(f_{y}(x) - \\max_{j \\ne y} f_j(x)\\big)/\\rho` is the margin
of :math:`\\tilde f` (the quantity margin bounds divide by; Bartlett, Foster,
Telgarsky 2017). With biases neither statement holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._checks import check_real
from ..bounds import margins
from ..stats import relabeling_distribution, time_to_fit
from ..train import History, train_mlp_classifier

__all__ = ["randomization_run", "at_loss", "relabeling_std"]


def randomization_run(X_train, y_train, X_test, y_test, *, widths: Sequence[int], lr: float, batch_size: int,
                      steps: int, record_every: int, seed: int) -> dict[str, Any]:
    """Train a bias-free ReLU MLP by SGD on the cross-entropy loss; what the section reads off the run.

    The model is ``models.mlp(widths, bias=False, seed=seed)`` trained by
    :func:`dltheory.train.train_mlp_classifier` (plain SGD, the protocol chapters
    2 and 4 reuse); the batches are drawn with ``seed`` too, so runs that share
    ``seed`` differ only in their data.
    Besides :func:`dltheory.train.fit`'s columns (``rho`` is
    :math:`\\prod_k \\lVert W_k\\rVert_F`), the history has ``margin_median``, the
    median training margin :math:`f_{y_i}(x_i) - \\max_{j\\ne y_i} f_j(x_i)`, and
    ``normalized_margin_median`` :math:`=` ``margin_median / rho``.

    Returns a dict with ``model`` (trained), ``history``, ``fit`` (the first
    recorded step at 100% training accuracy, :func:`dltheory.stats.time_to_fit`,
    ``None`` if never), ``predicted`` (test predictions, on the CPU) and
    ``test_accuracy``.
    """
    def margin_median(net) -> float:
        return torch.quantile(margins(net, X_train, y_train).double(), 0.5).item()

    run = train_mlp_classifier(X_train, y_train, widths=widths, lr=lr, batch_size=batch_size, steps=steps,
                               seed=seed, record_every=record_every, metrics={"margin_median": margin_median})
    model, history = run["model"], run["history"]
    rows = [dict(row, normalized_margin_median=row["margin_median"] / row["rho"]) for row in history.rows]
    history = History(rows)
    with torch.no_grad():
        predicted = model(X_test).argmax(1).cpu()
    y_test = torch.as_tensor(y_test).cpu()
    return {"model": model, "history": history, "fit": time_to_fit(history), "predicted": predicted,
            "test_accuracy": (predicted == y_test).double().mean().item()}


def at_loss(history: History, loss: float, column: str) -> float:
    """``column`` at the first record whose training loss is at most ``loss`` (NaN if none is).

    Comparing two runs *at equal training loss* compares them when they fit
    their own training sets equally well, whatever time each needed.
    """
    loss = check_real(loss, "loss", min=0.0)
    reached = np.flatnonzero(np.asarray(history["loss"]) <= loss)
    return math.nan if reached.size == 0 else float(history[column][reached[0]])


def relabeling_std(confusion) -> float:
    """Standard deviation of the accuracy under a uniformly random renaming of the predicted classes.

    From the exact distribution :func:`dltheory.stats.relabeling_distribution`
    of the number :math:`k` of correct answers (mean :math:`n/K`):
    :math:`\\sqrt{\\sum_k P_k (k/n - 1/K)^2}`.
    """
    P = relabeling_distribution(confusion)
    n = len(P) - 1
    acc = np.arange(n + 1) / n
    mean = float(P @ acc)
    return math.sqrt(float(P @ (acc - mean) ** 2))
