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
underflows to a wrong value. ``ce`` takes class indices of any integer dtype.
:func:`resolve` turns a name or a callable into a loss and :func:`check_targets`
validates targets once, outside any ``torch.func`` transform.

:func:`log_loss` gives :math:`\\log L` for the exponential and logistic losses,
evaluated without underflow: gradient descent on it is *normalised* gradient
descent, :math:`\\nabla \\log L = \\nabla L / L` (Nacson et al. 2019).
"""

from __future__ import annotations

from collections.abc import Callable

import math

import torch
import torch.nn.functional as F

from ._checks import check_choice, check_class_indices, check_sign_labels

__all__ = ["square", "logistic", "exp", "hinge", "ce", "LOSSES", "resolve", "check_targets", "name_of",
           "log_loss", "log_logistic"]

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
    """Softmax cross-entropy with integer class targets (any integer dtype), averaged."""
    return F.cross_entropy(outputs, targets.long())


LOSSES: dict[str, Loss] = {"square": square, "logistic": logistic, "exp": exp, "hinge": hinge, "ce": ce}
BINARY = ("logistic", "exp", "hinge")


def resolve(loss: str | Loss) -> Loss:
    """The loss function for a name in :data:`LOSSES`, or ``loss`` itself if callable."""
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a name in {sorted(LOSSES)} or a callable(outputs, targets), "
                        f"got {type(loss).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {sorted(LOSSES)} or a callable(outputs, targets)")
    return LOSSES[loss]


def name_of(loss: str | Loss) -> str | None:
    """The name of a loss of :data:`LOSSES`, given by name or as the function itself; else ``None``."""
    if isinstance(loss, str):
        return loss if loss in LOSSES else None
    return next((name for name, fn in LOSSES.items() if fn is loss), None)


# Above this margin log(log(1 + e^-m)) = -m - e^-m / 2 to far below rounding.
_LOG_LOGISTIC_SWITCH = 20.0


def log_logistic(m: torch.Tensor) -> torch.Tensor:
    """:math:`\\log\\log(1 + e^{-m})` without underflow, differentiable everywhere.

    For :math:`m > 20` the asymptotic form :math:`-m - e^{-m}/2` (exact to rounding);
    both branches are evaluated on safe inputs, so the gradient is finite.
    """
    big = m > _LOG_LOGISTIC_SWITCH
    direct = torch.log(-F.logsigmoid(torch.where(big, torch.zeros_like(m), m)))  # softplus(-m), accurate
    asymptotic = -m - 0.5 * torch.exp(-torch.where(big, m, torch.full_like(m, _LOG_LOGISTIC_SWITCH)))
    return torch.where(big, asymptotic, direct)


def _log_exp(m: torch.Tensor) -> torch.Tensor:
    return -m


_LOG_LOSSES = {"exp": _log_exp, "logistic": log_logistic}


def log_loss(name: str) -> Loss:
    """:math:`\\log L` of the ``"exp"`` or ``"logistic"`` loss, finite even where :math:`L` underflows.

    With margins :math:`m_i = y_i f(x_i)` and :math:`\\ell(m) = e^{-m}` or
    :math:`\\log(1 + e^{-m})`,

    .. math::  \\log L = \\operatorname{logsumexp}_i \\log\\ell(m_i) - \\log n,

    with :math:`\\log\\ell(m) = -m` or :func:`log_logistic`. On separable data the
    margins grow without bound and :math:`L` underflows to zero long before
    :math:`\\log L` stops being a moderate number. Gradient descent on
    :math:`\\log L` is the normalised gradient descent of Nacson, Lee, Gunasekar,
    Savarese, Srebro, Soudry (2019), :math:`w \\leftarrow w - \\eta\\,\\nabla L / L`,
    whose direction converges to the max-margin one far faster than plain GD's.
    """
    if not isinstance(name, str):
        raise TypeError(f"log_loss takes the name of a loss, 'exp' or 'logistic', got {type(name).__name__}")
    log_ell = _LOG_LOSSES[check_choice(name, "loss", _LOG_LOSSES)]

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        m = _margins(outputs, targets)
        return torch.logsumexp(log_ell(m), dim=0) - math.log(m.numel())

    loss.__name__ = loss.__qualname__ = f"log_loss_{name}"
    return loss


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
        if targets.numel() != outputs.shape[0]:
            raise ValueError(f"{loss} loss needs one label per example, got targets of shape {tuple(targets.shape)}")
        check_sign_labels(targets, f"{loss} loss")
    if loss == "ce":
        if outputs.ndim != 2:
            raise ValueError(f"ce loss needs outputs of shape (n, classes), got {tuple(outputs.shape)}")
        check_class_indices(targets, outputs.shape[1], "ce loss")
