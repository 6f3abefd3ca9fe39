"""The losses of the book, each a mean over examples: ``loss(outputs, targets) -> scalar``.

=============  ======================================================  ==================
name           value                                                   targets
=============  ======================================================  ==================
``square``     :math:`\\frac1n\\sum_i \\tfrac12\\lVert f(x_i) - y_i\\rVert^2`  same shape as outputs
``logistic``   :math:`\\frac1n\\sum_i \\log(1 + e^{-y_i f(x_i)})`           :math:`\\pm 1`
``exp``        :math:`\\frac1n\\sum_i e^{-y_i f(x_i)}`                      :math:`\\pm 1`
``hinge``      :math:`\\frac1n\\sum_i \\max(0, 1 - y_i f(x_i))`             :math:`\\pm 1`
``ce``         :math:`\\frac1n\\sum_i -\\log \\operatorname{softmax}(f(x_i))_{y_i}`  class indices
=============  ======================================================  ==================

The binary losses take one output per example (shape ``(n,)`` or ``(n, 1)``).
The logistic loss is evaluated as ``-logsigmoid(y f)``, which neither overflows nor
underflows to a wrong value. :func:`resolve` turns a name or a callable into a
loss and :func:`check_targets` validates targets once, outside any
``torch.func`` transform.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["square", "logistic", "exp", "hinge", "ce", "LOSSES", "resolve", "check_targets"]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _margins(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return targets.reshape(-1).to(outputs.dtype) * outputs.reshape(-1)


def square(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Half the squared error, summed over outputs, averaged over examples."""
    return 0.5 * (outputs - targets.reshape(outputs.shape)).pow(2).sum() / outputs.shape[0]


def logistic(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 + e^{-yf})` averaged, computed as ``-logsigmoid(y f)`` (exact and stable)."""
    return -F.logsigmoid(_margins(outputs, targets)).mean()


def exp(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:math:`e^{-yf}` averaged."""
    return torch.exp(-_margins(outputs, targets)).mean()


def hinge(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:math:`\\max(0, 1 - yf)` averaged."""
    return F.relu(1 - _margins(outputs, targets)).mean()


def ce(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy with integer class targets, averaged."""
    return F.cross_entropy(outputs, targets)


LOSSES: dict[str, Loss] = {"square": square, "logistic": logistic, "exp": exp, "hinge": hinge, "ce": ce}
BINARY = ("logistic", "exp", "hinge")


def resolve(loss: str | Loss) -> Loss:
    """The loss function for a name in :data:`LOSSES`, or ``loss`` itself if callable."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {sorted(LOSSES)} or a callable(outputs, targets)")
    return LOSSES[loss]


def check_targets(loss: str | Loss, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Raise a ``ValueError`` naming the problem if ``targets`` do not fit ``loss`` and ``outputs``."""
    if outputs.shape[0] != targets.shape[0]:
        raise ValueError(f"the model gives {outputs.shape[0]} outputs but there are {targets.shape[0]} targets")
    if targets.is_floating_point() and not torch.isfinite(targets).all():
        raise ValueError("the targets contain NaN or inf")
    if not isinstance(loss, str):
        return
    if loss == "square" and targets.numel() != outputs.numel():
        raise ValueError(f"square loss: targets of shape {tuple(targets.shape)} do not match outputs "
                         f"of shape {tuple(outputs.shape)}")
    if loss in BINARY:
        if outputs.reshape(outputs.shape[0], -1).shape[1] != 1:
            raise ValueError(f"{loss} loss needs one output per example, got outputs of shape {tuple(outputs.shape)}")
        if targets.numel() != outputs.shape[0] or not ((targets == 1) | (targets == -1)).all():
            raise ValueError(f"{loss} loss needs one label in {{-1, +1}} per example "
                             "(for 0/1 labels use 2 * y - 1)")
    if loss == "ce":
        if outputs.ndim != 2:
            raise ValueError(f"ce loss needs outputs of shape (n, classes), got {tuple(outputs.shape)}")
        if targets.dtype not in (torch.int64, torch.int32) or targets.ndim != 1:
            raise ValueError("ce loss needs integer class indices of shape (n,)")
        if targets.min() < 0 or targets.max() >= outputs.shape[1]:
            raise ValueError(f"ce loss: class indices must lie in [0, {outputs.shape[1] - 1}]")
