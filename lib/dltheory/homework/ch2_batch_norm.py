"""Checker of chapter 2's exercise on Santurkar et al.'s loss-range probe."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .. import models
from ..batchnorm import landscape_probe
from .core import Feedback, compare, named_mistake, student_line

__all__ = ["check_loss_range"]

HINT = ("take g = torch.autograd.grad(loss_fn(model(X), y), params) at the start; then, for each step size eta, set "
        "every parameter to p0 - eta * g under torch.no_grad(), record loss_fn(model(X), y).item(), and at the "
        "end copy the saved p0 back; return max(values) - min(values).")

#: Step sizes of the two test cases: along the first the loss goes below and above L(theta), along the
#: second only below, so that a range counting L(theta) is told apart from the largest change |L - L(theta)|.
STEP_SIZES = ((0.05, 0.2, 1.0, 4.0, 8.0), (0.05, 0.2))


def _square(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return 0.5 * (outputs.reshape(-1) - targets).pow(2).mean()


def _cases() -> list[tuple[str, nn.Module, Callable, torch.Tensor, torch.Tensor, tuple[float, ...]]]:
    """A batch-normalised MLP with the cross-entropy, a plain one with the square loss, and one with a stale gradient.

    Every parameter starts with a ``.grad`` left over from "earlier training"
    (random numbers), as a trained model's parameters do: code that calls
    ``backward()`` without clearing them uses the wrong direction.
    """
    g = torch.Generator().manual_seed(2018)
    out = []
    specs = [("an MLP 5-8-8-3 with batch norm, cross-entropy", [5, 8, 8, 3], "batch", nn.functional.cross_entropy),
             ("a plain MLP 4-6-6-1, square loss", [4, 6, 6, 1], None, _square)]
    for k, (what, widths, norm, loss_fn) in enumerate(specs):
        model = models.mlp(widths, norm=norm, init="he", seed=10 + k, dtype=torch.float64)
        X = torch.randn(16, widths[0], generator=g, dtype=torch.float64)
        if widths[-1] > 1:
            y = torch.randint(0, widths[-1], (16,), generator=g)
        else:
            y = torch.randn(16, generator=g, dtype=torch.float64)
        for p in model.parameters():
            p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64)
        out.append((what, model, loss_fn, X, y, STEP_SIZES[k]))
    return out


def _losses_along(model: nn.Module, loss_fn: Callable, X, y, direction: dict[str, torch.Tensor],
                  steps: Sequence[float]) -> np.ndarray:
    """``loss_fn(model_theta(X), y)`` at ``theta + s * direction`` for each ``s``, without touching the model."""
    theta = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    with torch.no_grad():
        return np.array([loss_fn(functional_call(model, {**{n: theta[n] + s * direction[n] for n in theta},
                                                         **buffers}, (X,)), y).item() for s in steps])


def _gradient(model: nn.Module, loss_fn: Callable, X, y) -> dict[str, torch.Tensor]:
    params = dict(model.named_parameters())
    leaves = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    grads = torch.autograd.grad(loss_fn(functional_call(model, {**leaves, **buffers}, (X,)), y), list(leaves.values()))
    return dict(zip(leaves, grads))


def _spread(values: np.ndarray) -> float:
    return float(values.max() - values.min())


def _mistakes(model: nn.Module, loss_fn: Callable, X, y, steps: Sequence[float],
              stale: dict[str, torch.Tensor]) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    g = _gradient(model, loss_fn, X, y)
    minus = {n: -t for n, t in g.items()}
    norm = math.sqrt(sum(float(t.pow(2).sum()) for t in g.values()))
    unit = {n: -t / norm for n, t in g.items()}
    with_stale = {n: -(t + stale[n]) for n, t in g.items()}
    L0 = _losses_along(model, loss_fn, X, y, minus, [0.0])[0]
    down = _losses_along(model, loss_fn, X, y, minus, steps)
    cumulative = _losses_along(model, loss_fn, X, y, minus, np.cumsum(steps))
    return {
        "a probe along +g: the loss-range probe moves against the gradient, to theta - eta g": _spread(
            _losses_along(model, loss_fn, X, y, g, steps)),
        "steps that pile up: each probe must start again from theta (restore the weights before the next step "
        "size), so the points are theta - eta g, not theta - (eta_1 + ... + eta_k) g": _spread(cumulative),
        "a step along the unit vector -g/||g||: the probe moves by eta times the gradient itself": _spread(
            _losses_along(model, loss_fn, X, y, unit, steps)),
        "the gradient added to a .grad left over from before: clear it first (model.zero_grad()) or use "
        "torch.autograd.grad": _spread(_losses_along(model, loss_fn, X, y, with_stale, steps)),
        "a range that includes L(theta) itself: the range runs over the points theta - eta g only": _spread(
            np.append(down, L0)),
        "the largest change max |L(theta - eta g) - L(theta)|, not the range max - min": float(
            np.max(np.abs(down - L0))),
        "the largest loss alone: subtract the smallest": float(down.max()),
        "the loss at the largest step minus the loss at the smallest: take the max and min over all step "
        "sizes": float(down[-1] - down[0]),
    }



def check_loss_range(fn: Callable) -> Feedback:
    """Check an implementation of ``loss_range(model, loss_fn, X, y, step_sizes)``.

    The answer is Santurkar et al.'s loss range at the model's parameters
    :math:`\\theta`: with :math:`g = \\nabla_\\theta\\,` ``loss_fn(model(X), y)``,
    :math:`\\max_\\eta L(\\theta - \\eta g) - \\min_\\eta L(\\theta - \\eta g)` over
    ``step_sizes``, as a number, and the model's parameters must be as they
    were afterwards. The reference is :func:`dltheory.batchnorm.landscape_probe`.
    The test models (a batch-normalised MLP with the cross-entropy, a plain
    one with the square loss, in float64) carry a stale ``.grad``, and the
    typical mistakes are named: a probe along :math:`+g`, steps that pile up
    because the weights were not restored, the unit direction, a stale
    gradient, :math:`L(\\theta)` counted in the range, the largest change
    instead of the range.
    """
    name = "loss_range"
    cases = _cases()
    for i, (what, model, loss_fn, X, y, steps) in enumerate(cases, start=1):
        before = {n: t.detach().clone() for n, t in model.state_dict().items()}
        stale = {n: p.grad.clone() for n, p in model.named_parameters()}
        reference = landscape_probe(model, loss_fn, X, y, steps, gradients=False).loss_range
        mistakes = _mistakes(model, loss_fn, X, y, steps, stale)
        try:
            answer = fn(model, loss_fn, X, y, list(steps))
        except NotImplementedError:
            return Feedback(False, f"{name} is not implemented yet. Hint: {HINT}")
        except Exception as err:  # the student's code failed: explain, don't re-raise
            return Feedback(False, f"{name} raised {type(err).__name__}: {err} ({student_line(err, fn)}) on "
                                   f"test case {i}: {what}, X of shape {tuple(X.shape)}, step sizes {list(steps)}.")
        moved = [n for n, t in model.state_dict().items() if not torch.equal(t, before[n])]
        feedback = compare(answer, reference, name=f"the result of {name} on test case {i} ({what})")
        if not feedback.passed:
            details = tuple(d for d in feedback.details if "times the reference" not in d)
            named = named_mistake(answer, mistakes)
            if moved:
                details += (f"the model's parameters were left changed ({moved[0]}, ...): restore them after "
                            "probing",)
            return Feedback(False, feedback.message, details + ((named,) if named else ()))
        if moved:
            return Feedback(False, f"{name} returns the right number on test case {i} ({what}) but leaves the "
                                   f"model's parameters changed ({moved[0]}, ...): restore them at the end, so "
                                   "that probing does not move the network it probes.")
    return Feedback(True, f"{name} agrees with the reference on all {len(cases)} test cases and leaves the models "
                          "as they were.")
