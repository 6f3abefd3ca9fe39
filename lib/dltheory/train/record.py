"""What a run records at a record point: one forward pass on the training set, one row of the History."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..bounds import layer_norms, output_margins
from ..models import dense_layers

__all__ = ["task_of", "accuracy", "Recorder", "RESERVED", "metric_list"]

#: Columns :func:`dltheory.train.fit` writes itself (besides ``frob_k``/``spec_k``).
RESERVED = {"step", "loss", "objective", "train_accuracy", "rho", "rho_spectral", "margin_min",
            "normalized_margin_min", "distance_from_init", "eval_loss", "eval_accuracy"}

Metric = Callable[[nn.Module], float]


def task_of(outputs: torch.Tensor, y: torch.Tensor) -> str:
    """``'binary'``, ``'multiclass'``, ``'onehot'`` or ``'regression'``: what the targets are."""
    n = outputs.shape[0]
    k = outputs.reshape(n, -1).shape[1]
    if k == 1 and y.numel() == n and y.dtype != torch.bool and bool(((y == 1) | (y == -1)).all()):
        return "binary"
    if k > 1 and y.ndim == 1 and not y.is_floating_point() and y.dtype != torch.bool:
        if bool((y >= 0).all()) and bool((y < k).all()):
            return "multiclass"
    if k > 1 and y.is_floating_point() and y.numel() == n * k:
        Y = y.reshape(n, k)
        if bool(((Y == 0) | (Y == 1)).all()) and bool((Y.sum(dim=1) == 1).all()):
            return "onehot"
    return "regression"


def class_labels(y: torch.Tensor, task: str) -> torch.Tensor:
    """Targets in the form :func:`dltheory.bounds.output_margins` takes."""
    if task == "onehot":
        return y.reshape(y.shape[0], -1).argmax(dim=1)
    return y


def accuracy(outputs: torch.Tensor, y: torch.Tensor, task: str) -> float:
    """Fraction of positive margins (ties are errors); NaN for regression."""
    if task == "regression":
        return math.nan
    return (output_margins(outputs, class_labels(y, task)) > 0).double().mean().item()


def metric_list(metrics) -> list[tuple[str, Metric]]:
    """``(name, function)`` pairs from a sequence of functions or a dict name -> function."""
    if metrics is None:
        return []
    if isinstance(metrics, Mapping):
        items = [(str(k), v) for k, v in metrics.items()]
    elif callable(metrics):
        raise TypeError("metrics must be a sequence of callables or a dict name -> callable, not one callable; "
                        "wrap it in a list")
    else:
        items = []
        for i, fn in enumerate(metrics):
            name = getattr(fn, "__name__", None)
            items.append((f"metric_{i}" if not name or name == "<lambda>" else name, fn))
    names = [name for name, _ in items]
    for name, fn in items:
        if not callable(fn):
            raise TypeError(f"metric {name!r} is not callable: metrics are functions metric(model) -> float")
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be distinct, got {names}; pass a dict name -> callable")
    return items


def _divide(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics for ``b = 0`` (inf, or NaN for 0/0)."""
    if b != 0:
        return a / b
    return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)


class Recorder:
    """Builds the rows of a run's :class:`~dltheory.train.History`.

    One forward pass of the whole training set per row gives the loss, the
    accuracy and the margins; the layer norms need no forward pass; the
    evaluation set, if any, takes one more. The model runs in evaluation mode
    and its mode is restored.
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor, task: str, *,
                 params: Sequence[torch.Tensor], theta0: torch.Tensor, weight_decay: float = 0.0,
                 metrics: Sequence[tuple[str, Metric]] = (), eval_data: tuple | None = None) -> None:
        self.model, self.loss_fn, self.X, self.y, self.task = model, loss_fn, X, y, task
        self.params, self.theta0, self.weight_decay = list(params), theta0, weight_decay
        self.metrics, self.eval_data = list(metrics), eval_data
        try:
            self.depth = len(dense_layers(model))
        except ValueError:  # not a dense chain: no layer norms
            self.depth = None
        reserved = RESERVED | {f"{kind}_{i}" for kind in ("frob", "spec") for i in range(1, (self.depth or 0) + 1)}
        for name, _ in self.metrics:
            if name in reserved:
                raise ValueError(f"metric name {name!r} clashes with a column fit records; give it another name")
        self.reserved = reserved

    def row(self, step: int) -> dict[str, Any]:
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(self.X)
                value = self.loss_fn(out, self.y).item()
                row: dict[str, Any] = {"step": step, "loss": value}
                if self.weight_decay > 0:
                    square_norm = sum(p.detach().pow(2).sum() for p in self.params)
                    row["objective"] = value + 0.5 * self.weight_decay * float(square_norm)
                row["train_accuracy"] = accuracy(out, self.y, self.task)
                rho = math.nan
                if self.depth is not None:
                    norms = layer_norms(model)
                    for i, (fr, sp) in enumerate(zip(norms["frobenius"], norms["spectral"]), start=1):
                        row[f"frob_{i}"], row[f"spec_{i}"] = fr, sp
                    rho = row["rho"] = norms["rho"]
                    row["rho_spectral"] = norms["rho_spectral"]
                if self.task != "regression":
                    margin = output_margins(out, class_labels(self.y, self.task)).min().item()
                    row["margin_min"] = margin
                    row["normalized_margin_min"] = _divide(margin, rho) if self.depth is not None else math.nan
                theta = torch.nn.utils.parameters_to_vector(model.parameters())
                row["distance_from_init"] = torch.linalg.vector_norm(theta - self.theta0).item()
                if self.eval_data is not None:
                    X_eval, y_eval = self.eval_data
                    out_eval = model(X_eval)
                    row["eval_loss"] = self.loss_fn(out_eval, y_eval).item()
                    row["eval_accuracy"] = accuracy(out_eval, y_eval, self.task)
            for name, fn in self.metrics:
                row[name] = float(fn(model))
        finally:
            model.train(was_training)
        return row
