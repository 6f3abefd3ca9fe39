"""Deep versus shallow networks on a compositional target, at equal parameter counts.

The protocol of ``book/1-three-questions/deep-vs-shallow.ipynb`` (Mhaskar, Liao,
Poggio 2016; Poggio, Mhaskar, Rosasco, Miranda, Liao 2017): every architecture
of :data:`dltheory.models.ARCHITECTURES` is trained the same way
(:func:`train_and_score`: full-batch Adam on the square loss from the same
seed, the best of a few step sizes by *training* loss) and scored by
:func:`normalized_mse`, the mean squared error divided by the variance of the
targets, so that predicting the mean scores 1; :func:`sweep` runs every
architecture at every budget, and :func:`dimension_sweep` does so for several
input dimensions :math:`d` and seeds, with fresh data for each. :func:`dltheory.stats.loglog_slope`
and :func:`parameters_for` read a rate and the size needed for an accuracy
off such a sweep.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .._checks import check_module, check_Xy, probe
from .._progress import progress_bar
from ..data import binary_tree
from ..models import build, count_parameters, free_width, tree_parameter_count
from ..stats import loglog_slope
from ..train import fit

__all__ = ["normalized_mse", "train_and_score", "sweep", "dimension_sweep", "tabulate",
           "parameters_for"]


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


def _adam(lr: float):
    """A factory ``params -> torch.optim.Adam(params, lr)``, with the fused kernel where torch has one.

    The fused kernel (CUDA; the CPU from torch 2.4) performs the same update as
    the default implementation in one operation per step instead of several per
    tensor, which for the small networks of this section makes training about
    1.2x faster on a CPU; older versions fall back to the default implementation.
    """
    def build(params):
        params = list(params)
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except RuntimeError:  # no fused Adam for these tensors on this version of torch
            return torch.optim.Adam(params, lr=lr)
    return build


def train_and_score(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    *,
    lrs: Sequence[float],
    steps: int,
    batch_size: int | None = None,
    cosine: bool = False,
    seed: int = 0,
) -> dict:
    """Train ``model`` by the protocol every architecture gets, and score it.

    From the same initial weights, one run of Adam
    (:func:`dltheory.train.fit` with ``torch.optim.Adam``, fused where
    available, see :func:`_adam`; square loss, ``steps``
    updates; full batch, or minibatches of ``batch_size`` shuffled under
    ``seed``; with ``cosine`` the step size decays as
    :math:`\\eta_t = \\tfrac{\\eta}{2}(1 + \\cos(\\pi t / T))`, Loshchilov & Hutter
    2017) for each step size in ``lrs``; the run with the smallest final
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
        schedule = ((lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1)))
                    if cosine else None)
        try:
            history = fit(model, *train_data, loss="square", optimizer=_adam(lr), steps=steps,
                          batch_size=batch_size, scheduler=schedule, seed=seed,
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
    batch_size: int | None = None,
    cosine: bool = False,
    channels: int = 1,
    seed: int = 0,
    progress: bool | None = None,
) -> list[dict]:
    """Every architecture at every budget, trained and scored by :func:`train_and_score`.

    Returns one row per run: ``architecture``, ``budget``, ``width`` and the
    entries of :func:`train_and_score`. The networks take the data's dtype and
    device; ``inputs`` is the number of columns of ``X``. ``progress`` shows a
    bar over the runs (default: at full scale). ``seed`` initialises every
    network and shuffles its minibatches.
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
        row.update(train_and_score(model, train_data, test_data, lrs=lrs, steps=steps,
                                   batch_size=batch_size, cosine=cosine, seed=seed))
        rows.append(row)
    return rows


def dimension_sweep(
    architectures: Sequence[str],
    inputs: Sequence[int],
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    n_train: int,
    n_test: int,
    lrs: Sequence[float],
    steps: int,
    batch_size: int | None = None,
    cosine: bool = False,
    channels: int = 1,
    phases: bool = False,
    device: torch.device | str = "cpu",
    progress: bool | None = None,
) -> list[dict]:
    """:func:`sweep` for every input dimension :math:`d` in ``inputs`` and every seed.

    For each :math:`d = 2^L` and each seed ``s`` of ``seeds``: a training and a
    test set of the binary-tree target (:func:`dltheory.data.binary_tree`, seeds
    ``s`` and ``s + 1``; with ``phases``, node-specific constituents drawn under
    ``phase_seed=s + 2``; so seeds should lie at least 3 apart), and every architecture at the
    budgets of locally connected trees with ``widths`` units per node
    (:func:`dltheory.models.tree_parameter_count`), initialised under ``s``.
    The budget per node is the same at every :math:`d`, so the budget grows
    like :math:`d - 1`: part 2 of the theorem (Mhaskar, Liao, Poggio 2016) says
    the tree then keeps its accuracy, part 1 that the shallow network cannot.

    Returns the rows of :func:`sweep`, each with ``inputs`` and ``seed`` added.
    """
    rows = []
    runs = [(d, s) for d in inputs for s in seeds]
    for d, s in progress_bar(runs, desc="dimensions", progress=progress):
        depth = int(d).bit_length() - 1
        if d < 2 or 2**depth != d:
            raise ValueError(f"inputs must be powers of two >= 2, got {d!r}")
        phase_seed = s + 2 if phases else None
        train_data = binary_tree(n_train, depth=depth, seed=s, phase_seed=phase_seed, device=device)
        test_data = binary_tree(n_test, depth=depth, seed=s + 1, phase_seed=phase_seed, device=device)
        budgets = [tree_parameter_count(depth, m, channels) for m in widths]
        for row in sweep(architectures, budgets, train_data, test_data, lrs=lrs, steps=steps,
                         batch_size=batch_size, cosine=cosine, channels=channels, seed=s,
                         progress=False):
            rows.append({"inputs": d, "seed": s, **row})
    return rows


def tabulate(rows: Sequence[dict], field: str = "test_error") -> dict[tuple[str, int], np.ndarray]:
    """The rows of :func:`dimension_sweep` as arrays: ``(architecture, d) -> (budgets, seeds)``.

    Entry ``[i, k]`` is ``field`` of the ``i``-th smallest budget under the
    ``k``-th seed (seeds in the order they first appear). Every cell must hold
    the same budgets for every seed.
    """
    seeds = list(dict.fromkeys(r["seed"] for r in rows))
    cells: dict[tuple[str, int], dict[tuple[int, int], float]] = {}
    for r in rows:
        cells.setdefault((r["architecture"], r["inputs"]), {})[r["budget"], r["seed"]] = r[field]
    table = {}
    for key, values in cells.items():
        budgets = sorted({b for b, _ in values})
        try:
            table[key] = np.array([[values[b, s] for s in seeds] for b in budgets], dtype=float)
        except KeyError:
            raise ValueError(f"{key}: not every seed has every budget") from None
    return table


def parameters_for(target: float, parameters: Sequence[float], errors: Sequence[float]) -> float:
    """The parameter count at which the power law fitted to ``(parameters, errors)`` reaches ``target``.

    :math:`P^* = \\exp((\\log \\varepsilon^* - a) / b)` for the least-squares
    line :math:`\\log \\varepsilon = a + b \\log P`; an extrapolation when
    ``target`` lies outside the measured errors. ``inf`` when the fitted error
    does not fall with :math:`P` (:math:`b \\ge 0`) and ``target`` lies below it.
    """
    x = np.log(np.asarray(parameters, dtype=float))
    y = np.log(np.asarray(errors, dtype=float))
    b = loglog_slope(parameters, errors)
    a = float(np.mean(y) - b * np.mean(x))
    if b >= 0:
        return math.inf if math.log(target) < a + b * x.max() else float(np.exp(x.min()))
    return float(math.exp((math.log(target) - a) / b))
