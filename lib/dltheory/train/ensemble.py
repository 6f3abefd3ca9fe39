"""Train many seeds of one architecture as one batched model: :func:`fit_ensemble`.

A seed ensemble is a model whose parameters carry a leading dimension
:math:`S`, one slice per member, and whose forward pass maps a batch to outputs
of shape ``(S, n)`` or ``(S, n, k)`` (e.g. :class:`dltheory.models.PairNetwork`).
Training minimises the sum of the members' losses,

.. math::  \\Phi(\\theta_1, \\dots, \\theta_S) = \\sum_{s=1}^S L(\\theta_s), \\qquad
           \\nabla_{\\theta_s} \\Phi = \\nabla L(\\theta_s),

so each member receives exactly its own gradient. With an optimizer that
updates every coordinate from that coordinate's own gradient history (SGD with
or without momentum, Adam, AdamW, RMSprop, Adagrad, ...), each member then
follows the trajectory it would follow alone: hundreds of seeds become one
tensor program instead of a Python loop over hundreds of small ones. Optimizers
that couple coordinates (L-BFGS's line search, Gauss-Newton, normalised
gradient descent on the summed loss, gradient clipping by a global norm) would
couple the members too, and are refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .. import losses
from .._checks import check_int, check_module, check_real, check_seed, check_tensor
from ..bounds import output_margins
from .history import record_points
from .fit import _optimizer as build_optimizer
from .optim import SGLD

__all__ = ["fit_ensemble", "EnsembleHistory", "ELEMENTWISE_OPTIMIZERS"]

#: ``torch.optim`` classes whose update of a coordinate depends on that coordinate alone.
ELEMENTWISE_OPTIMIZERS = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adamax,
                          torch.optim.NAdam, torch.optim.RAdam, torch.optim.RMSprop, torch.optim.Adagrad,
                          torch.optim.Adadelta, torch.optim.Rprop, torch.optim.ASGD, SGLD)
_PRESETS = ("gd", "adam")


@dataclass(frozen=True)
class EnsembleHistory:
    """What :func:`fit_ensemble` records: one row per record point, one column per member.

    ``step`` has shape ``(R,)``; ``loss``, ``accuracy`` and ``margin_min`` have
    shape ``(R, S)`` (NumPy, float64). ``accuracy`` is the fraction of training
    examples with a positive margin (ties count as errors) and ``margin_min``
    the smallest margin, :math:`\\min_i y_i f_s(x_i)` (NaN for regression targets).
    """

    step: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    margin_min: np.ndarray
    optimizer: str = ""
    seeds: tuple[int, ...] = field(default=())

    @property
    def final_loss(self) -> np.ndarray:
        """``(S,)``: every member's training loss after the last step."""
        return self.loss[-1]

    @property
    def final_accuracy(self) -> np.ndarray:
        """``(S,)``: every member's training accuracy after the last step."""
        return self.accuracy[-1]

    def fitted(self) -> np.ndarray:
        """``(S,)`` booleans: the members that classify *every* training example correctly at the end.

        That is :math:`\\min_i y_i f_s(x_i) > 0`, equivalently a training
        accuracy of exactly 1.
        """
        return self.margin_min[-1] > 0


def _ensemble_size(model: nn.Module) -> int:
    size = getattr(model, "ensemble_size", None)
    if not isinstance(size, int) or size < 1:
        raise TypeError(f"{type(model).__name__} is not a seed ensemble: fit_ensemble needs a model with an "
                        "integer attribute ensemble_size (S) whose outputs have shape (S, n, ...), such as "
                        "dltheory.models.PairNetwork; train a single model with dltheory.train.fit")
    return size


def _optimizer(optimizer, model: nn.Module, lr, weight_decay: float, seed: int) -> torch.optim.Optimizer:
    """:func:`dltheory.train.fit`'s optimizer, restricted to full-batch presets and element-wise updates."""
    if isinstance(optimizer, str) and optimizer not in _PRESETS:
        raise ValueError(f"fit_ensemble trains on the full batch with the presets {list(_PRESETS)}, got "
                         f"{optimizer!r}; pass any other elementwise optimizer as a factory, e.g. "
                         "functools.partial(torch.optim.RMSprop, lr=0.01)")
    optimizer, _ = build_optimizer(optimizer, model, lr, weight_decay, seed)
    if not isinstance(optimizer, ELEMENTWISE_OPTIMIZERS):
        raise ValueError(f"{type(optimizer).__name__} couples the coordinates of the parameters, so it would couple "
                         "the members of the ensemble; use one of "
                         f"{[c.__name__ for c in ELEMENTWISE_OPTIMIZERS]}")
    return optimizer


def _data(X, y, model: nn.Module, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs as given (shared or per member) and targets expanded to ``(S, n, ...)``."""
    ref = next(iter(model.parameters()), None)
    if ref is None:
        raise ValueError(f"{type(model).__name__} has no parameters to train")
    X = check_tensor(X, "X").to(device=ref.device, dtype=ref.dtype)
    y = check_tensor(y, "y")
    y = y.to(device=ref.device, dtype=ref.dtype if y.is_floating_point() else None)
    if X.ndim >= 3 and X.shape[0] == size:  # per-member inputs (S, n, d): targets per member too
        if y.shape[0] != size or y.ndim < 2 or y.shape[1] != X.shape[1]:
            raise ValueError(f"with inputs per member, X of shape {tuple(X.shape)}, y must have shape "
                             f"({size}, {X.shape[1]}, ...), got {tuple(y.shape)}")
        return X, y
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    return X, y.expand(size, *y.shape)


def _outputs(model: nn.Module, X: torch.Tensor, size: int, n: int) -> torch.Tensor:
    out = model(X)
    if not isinstance(out, torch.Tensor) or out.ndim < 2 or out.shape[0] != size or out.shape[1] != n:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"an ensemble of {size} members must return outputs of shape ({size}, {n}, ...) on "
                         f"{n} examples, got {shape}")
    return out


def _task(out: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether margins are defined: one output and labels +-1, or k outputs and class indices."""
    k = out[0].reshape(out.shape[1], -1).shape[1]
    if k == 1:
        return bool(((y == 1) | (y == -1)).all())
    return not y.is_floating_point() and y.dtype != torch.bool and y.ndim == 2


def _margins(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(S, n)`` margins, by :func:`dltheory.bounds.output_margins` on the members stacked along the examples."""
    S, n = out.shape[:2]
    flat = out.reshape(S * n, *out.shape[2:])
    return output_margins(flat, y.reshape(S * n, *y.shape[2:])).reshape(S, n)


def fit_ensemble(
    model: nn.Module,
    X,
    y,
    *,
    loss: str | Callable,
    optimizer: str | torch.optim.Optimizer | Callable = "adam",
    lr: float | None = None,
    steps: int,
    weight_decay: float = 0.0,
    seed: int = 0,
    record_every: int | None = None,
    record_at: Iterable[int] | None = None,
) -> EnsembleHistory:
    """Train the :math:`S` members of a seed ensemble at once, full batch, and record each one.

    Parameters
    ----------
    model
        A seed ensemble: ``model.ensemble_size`` is :math:`S` and ``model(X)``
        returns ``(S, n)`` or ``(S, n, k)``. Trained in place.
    X, y
        The training set, shared by all members (``X`` of shape ``(n, ...)``,
        ``y`` of shape ``(n, ...)``) or one per member (``X`` of shape
        ``(S, n, d)``, ``y`` of shape ``(S, n, ...)``). Moved to the model's
        device; floating data take its dtype.
    loss
        A name of :mod:`dltheory.losses` or a callable ``loss(outputs, targets)``,
        a mean over examples. Member :math:`s` minimises ``loss(f_s(X), y_s)``;
        the objective is their sum (evaluated with ``torch.func.vmap``).
    optimizer, lr, weight_decay
        ``"adam"`` (default) or ``"gd"`` with ``lr`` (and ``weight_decay``), or a
        ``torch.optim.Optimizer`` (or a factory ``params -> Optimizer``) of one of
        the classes in :data:`ELEMENTWISE_OPTIMIZERS`; others would couple the members.
    steps
        Number of full-batch updates.
    seed
        Seeds what the optimizer draws (SGLD's noise); full-batch training of
        the presets draws nothing. The initialisations are the model's own.
    record_every, record_at
        Record points as in :func:`dltheory.train.fit` (default: about 100, always
        step 0 and the last).

    Returns
    -------
    EnsembleHistory
        Per record point and member: loss, accuracy, smallest margin.

    Raises
    ------
    FloatingPointError
        A member's loss or parameters stopped being finite; the message names
        the members and the steps between which it happened.
    """
    check_module(model)
    size = _ensemble_size(model)
    steps = check_int(steps, "steps", min=0)
    weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
    seed = check_seed(seed)
    if lr is not None:
        lr = check_real(lr, "lr", min=0.0, min_open=True)
    X, y = _data(X, y, model, size)
    n = y.shape[1]
    opt = _optimizer(optimizer, model, lr, weight_decay, seed)
    loss_fn = losses.resolve(loss)
    with torch.no_grad():
        out = _outputs(model, X, size, n)
    losses.check_targets(loss if isinstance(loss, str) else loss_fn, out[0], y[0])
    has_margins = _task(out, y)
    per_member = torch.func.vmap(loss_fn, in_dims=(0, 0))
    params = [p for group in opt.param_groups for p in group["params"]]
    points = record_points(steps, record_every, record_at)
    marks = set(points)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def record(step: int, since: int) -> None:
        with torch.no_grad():
            out = _outputs(model, X, size, n)
            value = per_member(out, y).double()
            finite = torch.isfinite(value) & torch.stack(
                [torch.isfinite(p.reshape(size, -1)).all(dim=1) for p in params]).all(dim=0)
            if not bool(finite.all()):
                bad = torch.nonzero(~finite).reshape(-1).tolist()
                shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
                lr_now = opt.param_groups[0].get("lr", float("nan"))
                raise FloatingPointError(f"members {shown} of {size} diverged between step {since} and step "
                                         f"{step} with lr={float(lr_now):g}: their loss or parameters are no "
                                         "longer finite; try a smaller step size")
            if has_margins:
                m = _margins(out, y).double()
                acc, low = (m > 0).double().mean(dim=1), m.min(dim=1).values
            else:
                acc = low = torch.full((size,), math.nan, dtype=torch.float64)
        rows.append((value.cpu().numpy(), acc.cpu().numpy(), low.cpu().numpy()))

    record(0, 0)
    last = 0
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        per_member(model(X), y).sum().backward()
        opt.step()
        if step in marks:
            record(step, last)
            last = step
    history = EnsembleHistory(
        step=np.asarray(points, dtype=np.int64),
        loss=np.stack([r[0] for r in rows]), accuracy=np.stack([r[1] for r in rows]),
        margin_min=np.stack([r[2] for r in rows]), optimizer=type(opt).__name__,
        seeds=tuple(getattr(model, "seeds", ()) or ()),
    )
    return history
