"""Training protocols that several chapters share, built on :func:`~dltheory.train.fit`.

* :func:`train_mlp_classifier`: a bias-free ReLU MLP trained by mini-batch SGD
  on the cross-entropy, with a copy of its initialisation. It is the protocol
  of the randomisation test of Zhang et al. (2017) as chapter 1 runs it, of
  chapter 2's margin distributions and of chapter 4's spectrally normalised
  bound, so that all of them train the same networks.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .._checks import check_real
from ..models import mlp
from .fit import fit

__all__ = ["train_mlp_classifier"]


def train_mlp_classifier(
    X,
    y,
    *,
    widths: Sequence[int],
    lr: float,
    batch_size: int,
    steps: int,
    seed: int,
    momentum: float = 0.0,
    eval_data: tuple | None = None,
    record_every: int | None = None,
    record_at: Iterable[int] | None = None,
    metrics: Sequence[Callable[[nn.Module], float]] | Mapping[str, Callable[[nn.Module], float]] = (),
) -> dict[str, Any]:
    """Train ``models.mlp(widths, bias=False, seed=seed)`` by SGD on the cross-entropy.

    The update is ``torch.optim.SGD(lr=lr, momentum=momentum)`` on mini-batches
    of ``batch_size`` drawn with ``seed`` (:func:`~dltheory.train.fit`); with
    ``momentum=0`` it is bit-identical to ``fit``'s ``"sgd"`` preset. The
    network is built on the device of ``X``. Runs that share ``seed`` start
    from the same weights and see the same batches, so two runs that differ
    only in their labels ``y`` differ only in what they learn: the design of
    the randomisation test (Zhang, Bengio, Hardt, Recht, Vinyals 2017).

    Parameters
    ----------
    X : tensor of shape (n, widths[0])
        Training inputs.
    y : tensor of shape (n,)
        Class indices in ``range(widths[-1])``.
    widths : sequence of int
        Layer widths, input first and number of classes last.
    lr, momentum : float
        :math:`\\eta > 0` and the momentum in :math:`[0, 1)`.
    batch_size, steps, seed : int
        Mini-batch size, number of updates, and the seed of the weights and the batches.
    eval_data, record_every, record_at, metrics
        Passed to :func:`~dltheory.train.fit` (``eval_data`` adds ``eval_loss``
        and ``eval_accuracy`` columns; ``metrics`` are called at every record point).

    Returns
    -------
    dict
        ``model`` (trained, in place), ``init`` (a deep copy of the network
        before training) and ``history`` (the :class:`~dltheory.train.History`).

    See Also
    --------
    dltheory.bounds.margin_distribution, dltheory.bounds.bartlett_bound :
        what chapters 2 and 4 read off the trained networks.
    """
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    momentum = check_real(momentum, "momentum", min=0.0, max=1.0, max_open=True)
    X = torch.as_tensor(X)
    model = mlp(widths, bias=False, seed=seed, device=X.device)
    init = copy.deepcopy(model)
    history = fit(model, X, y, loss="ce", optimizer=functools.partial(torch.optim.SGD, lr=lr, momentum=momentum),
                  steps=steps, batch_size=batch_size, seed=seed, record_every=record_every, record_at=record_at,
                  metrics=metrics, eval_data=eval_data)
    return {"model": model, "init": init, "history": history}
