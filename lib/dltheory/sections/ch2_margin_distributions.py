"""Glue of ``book/2-provable-learning/margin-distributions.ipynb``: Zhang et al.'s table, the boosting run and
its explorer, and the training of one network per labelling.

* :data:`ZHANG_TABLE_1` and :func:`results_table`: Table 1 of Zhang, Bengio,
  Hardt, Recht, Vinyals (2017), with their row names and numbers, beside this
  section's own runs.
* :func:`boosting_run`: AdaBoost on stumps (:mod:`dltheory.boosting`), its
  training margins after every round and its test error on a grid of rounds;
  :func:`boosting_panel` and :func:`boosting_explorer` draw the margin
  distribution after a chosen number of rounds.
* :func:`train_labelling`: one bias-free ReLU network trained by SGD on the
  cross-entropy (the protocol of chapter 1's random-labels section), with a
  copy of its initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import boosting
from .._checks import check_int
from ..train import train_mlp_classifier
from ..widgets import Panel, static_explorer

__all__ = ["ZHANG_TABLE_1", "results_table", "round_grid", "boosting_run", "boosting_panel", "boosting_explorer",
           "train_labelling"]

#: Zhang et al. (2017), Table 1 (CIFAR-10): model, parameters, random crop, weight decay, labels,
#: training and test accuracy in percent. The deck's "Inception v2" (1.6M, 100 / 83) is their
#: "Inception w/o BatchNorm" with weight decay.
ZHANG_TABLE_1: tuple[tuple[str, int, str, str, str, float, float], ...] = (
    ("Inception", 1_649_402, "yes", "yes", "true", 100.0, 89.05),
    ("Inception", 1_649_402, "yes", "no", "true", 100.0, 89.31),
    ("Inception", 1_649_402, "no", "yes", "true", 100.0, 86.03),
    ("Inception", 1_649_402, "no", "no", "true", 100.0, 85.75),
    ("Inception", 1_649_402, "no", "no", "random", 100.0, 9.78),
    ("Inception w/o BatchNorm", 1_649_402, "no", "yes", "true", 100.0, 83.00),
    ("Inception w/o BatchNorm", 1_649_402, "no", "no", "true", 100.0, 82.00),
    ("Inception w/o BatchNorm", 1_649_402, "no", "no", "random", 100.0, 10.12),
    ("Alexnet", 1_387_786, "yes", "yes", "true", 99.90, 81.22),
    ("Alexnet", 1_387_786, "yes", "no", "true", 99.82, 79.66),
    ("Alexnet", 1_387_786, "no", "yes", "true", 100.0, 77.36),
    ("Alexnet", 1_387_786, "no", "no", "true", 100.0, 76.07),
    ("Alexnet", 1_387_786, "no", "no", "random", 99.82, 9.86),
    ("MLP 3x512", 1_735_178, "no", "yes", "true", 100.0, 53.35),
    ("MLP 3x512", 1_735_178, "no", "no", "true", 100.0, 52.39),
    ("MLP 3x512", 1_735_178, "no", "no", "random", 100.0, 10.48),
    ("MLP 1x512", 1_209_866, "no", "yes", "true", 99.80, 50.39),
    ("MLP 1x512", 1_209_866, "no", "no", "true", 100.0, 50.51),
    ("MLP 1x512", 1_209_866, "no", "no", "random", 99.34, 10.61),
)


def results_table(own: Sequence[tuple[str, int, str, float, float]], data_name: str) -> str:
    """Zhang et al.'s Table 1 (CIFAR-10) and then this section's runs, as one plain-text table.

    ``own`` holds ``(model, parameters, labels, train accuracy %, test accuracy %)``
    for runs on ``data_name`` without crops or weight decay.
    """
    header = f"{'model':<34}{'data':<12}{'params':>10}  {'crop':<5}{'wd':<5}{'labels':<8}{'train %':>8}{'test %':>8}"
    lines = [header, "-" * len(header)]
    for name, params, crop, wd, labels, train_acc, test_acc in ZHANG_TABLE_1:
        lines.append(f"{name:<34}{'CIFAR-10':<12}{params:>10,}  {crop:<5}{wd:<5}{labels:<8}"
                     f"{train_acc:>8.2f}{test_acc:>8.2f}")
    lines.append("-" * len(header))
    for name, params, labels, train_acc, test_acc in own:
        lines.append(f"{name:<34}{data_name:<12}{params:>10,}  {'no':<5}{'no':<5}{labels:<8}"
                     f"{train_acc:>8.2f}{test_acc:>8.2f}")
    return "\n".join(lines)


def round_grid(rounds: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... below ``rounds``, then ``rounds``: the explorer's numbers of rounds."""
    rounds = check_int(rounds, "rounds", min=1)
    grid = [m * 10**k for k in range(len(str(rounds))) for m in (1, 2, 5) if m * 10**k < rounds]
    return grid + [rounds]


def boosting_run(*, n: int, n_test: int, rounds: int, seed: int, stumps: int = 10) -> dict[str, Any]:
    """AdaBoost on decision stumps for a random weighted majority of ``stumps`` stumps in the unit square.

    The target is :func:`dltheory.boosting.random_stump_vote` (seed ``seed``);
    ``n`` training and ``n_test`` test points are drawn from seeds ``seed + 1``
    and ``seed + 2``; the booster runs ``rounds`` rounds (``random_state=seed``).

    Returns a dict with ``target``, ``model``, ``X``, ``y`` (training set),
    ``margins`` (the training margins after every round, shape (T, n), row
    ``t - 1`` for round ``t``), ``zero_error_round`` (:math:`T_0`, the first
    round with every training margin positive, ``None`` if none), ``rounds``
    (``T``, the rounds that ran), ``test_rounds`` (about 15 per decade, with
    :math:`T_0`, sorted) and ``test_error`` (at ``test_rounds``: the fraction of
    test margins :math:`\\le 0`), ``train_error`` (every round).
    """
    n = check_int(n, "n", min=1)
    n_test = check_int(n_test, "n_test", min=1)
    target = boosting.random_stump_vote(2, stumps, seed=seed)
    X, y = boosting.stump_majority(n, target, seed=seed + 1)
    X_test, y_test = boosting.stump_majority(n_test, target, seed=seed + 2)
    model = boosting.boosted_stumps(X, y, rounds, seed=seed)
    margins = boosting.staged_adaboost_margins(model, X, y)
    T = margins.shape[0]
    T0 = boosting.zero_training_error_round(margins)
    grid = np.unique(np.round(np.geomspace(1, T, 15 * max(1, int(np.ceil(np.log10(T)))) + 1)).astype(int))
    test_rounds = sorted(set(grid.tolist()) | set(round_grid(T)) | ({T0} if T0 else set()))
    test_margins = boosting.staged_adaboost_margins(model, X_test, y_test, test_rounds)
    return {"target": target, "model": model, "X": X, "y": y, "margins": margins, "zero_error_round": T0,
            "rounds": T, "train_error": (margins <= 0).mean(axis=1), "test_rounds": np.array(test_rounds),
            "test_error": (test_margins <= 0).mean(axis=1)}


def _cdf(ax, values, **style):
    x = np.sort(values)
    ax.step(np.r_[-1.0, x, 1.0], np.r_[0.0, np.arange(1, len(x) + 1) / len(x), 1.0], where="post", **style)


def boosting_panel(run: dict[str, Any], rounds: int) -> Panel:
    """The training margin distribution after ``rounds`` rounds, against that at :math:`T_0` and at the end.

    Left: empirical distribution functions of the normalised training margins
    :math:`y\\sum_t\\alpha_t h_t(x)/\\sum_t\\alpha_t` (the curve of Schapire et
    al. 1998, Fig. 1). Right: training and test error against the number of
    rounds, with ``rounds`` and :math:`T_0` marked.

    Returns
    -------
    Panel
        The figure and ``values``: ``rounds``, ``train_error``, ``test_error``
        (at the nearest recorded round not above ``rounds``), ``min_margin``,
        ``median_margin``.
    """
    T = run["rounds"]
    rounds = check_int(rounds, "rounds", min=1, max=T, kind=f"a number of rounds between 1 and {T}")
    T0 = run["zero_error_round"]
    here = run["margins"][rounds - 1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    if T0 is not None:
        _cdf(left, run["margins"][T0 - 1], color="C0", linestyle="--", label=f"$T_0$ = {T0} (zero training error)")
    _cdf(left, run["margins"][-1], color="C2", linestyle=":", label=f"last round, {T}")
    _cdf(left, here, color="C3", linewidth=2, label=f"after {rounds} rounds")
    left.axvline(0.0, color="0.4", linewidth=0.8)
    left.set(xlim=(-0.4, 1.0), ylim=(0, 1), xlabel="normalised margin", ylabel="fraction of training examples",
             title="Training margin distribution")
    left.legend(loc="upper left", fontsize=8)
    steps = np.arange(1, T + 1)
    right.semilogx(steps, run["train_error"], color="C0", label="training error")
    right.semilogx(run["test_rounds"], run["test_error"], color="C1", label="test error")
    right.axvline(rounds, color="C3", linewidth=1.5, label=f"{rounds} rounds")
    if T0 is not None:
        right.axvline(T0, color="C0", linestyle="--", linewidth=1, label="$T_0$")
    right.set(xlabel="rounds (stumps in the vote)", ylabel="error", ylim=(0, None), title="Error")
    right.legend(loc="upper right", fontsize=8)
    recorded = run["test_rounds"] <= rounds
    test_here = float(run["test_error"][recorded][-1])
    return Panel(fig, {"rounds": rounds, "train_error": float(run["train_error"][rounds - 1]),
                       "test_error": test_here, "min_margin": float(here.min()),
                       "median_margin": float(np.median(here))})


def boosting_explorer(run: dict[str, Any], grid: Sequence[int] | None = None):
    """A slider over the number of rounds (default :func:`round_grid`), drawing :func:`boosting_panel`.

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are drawn
    when the notebook runs, so the slider also moves in the rendered book.
    """
    grid = round_grid(run["rounds"]) if grid is None else list(grid)
    return static_explorer(lambda rounds: boosting_panel(run, rounds), rounds=grid)


def train_labelling(X_train, y_train, X_test, y_test, *, widths: Sequence[int], lr: float, momentum: float,
                    batch_size: int, steps: int, seed: int) -> dict[str, Any]:
    """A bias-free ReLU MLP trained by SGD on the cross-entropy; what the section reads off it.

    :func:`dltheory.train.train_mlp_classifier`, the protocol chapters 1, 2 and
    4 share: ``models.mlp(widths, bias=False, seed=seed)`` trained with
    ``torch.optim.SGD(lr=lr, momentum=momentum)`` on mini-batches drawn with
    ``seed`` (momentum 0 is chapter 1's plain SGD). Runs that share ``seed``
    start from the same weights and see the same batches: only the labels differ.

    Returns a dict with ``model`` (trained), ``init`` (a copy of the initial
    network), ``history``, ``train_accuracy`` and ``test_accuracy`` (fractions).
    """
    run = train_mlp_classifier(X_train, y_train, widths=widths, lr=lr, momentum=momentum, batch_size=batch_size,
                               steps=steps, seed=seed, record_every=steps, eval_data=(X_test, y_test))
    history = run["history"]
    return {**run, "train_accuracy": float(history["train_accuracy"][-1]),
            "test_accuracy": float(history["eval_accuracy"][-1])}
