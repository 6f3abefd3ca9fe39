"""Checker of chapter 1's exercise on the normalised margin of a bias-free network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .. import bounds, models
from .core import Feedback, compare, named_mistake, student_line

__all__ = ["check_normalized_margin"]


HINT = ("the margins are y * model(X).reshape(-1); divide the smallest by rho, the product over the "
        "nn.Linear layers of torch.linalg.matrix_norm(layer.weight) (Frobenius by default).")


def _cases() -> list[tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """Bias-free ReLU networks of depth 2, 3 and 4 on random data with mixed-sign margins."""
    g = torch.Generator().manual_seed(2018)
    cases = []
    for widths, n in [([3, 8, 1], 7), ([5, 6, 4, 1], 11), ([4, 5, 5, 3, 1], 9)]:
        model = models.mlp(widths, bias=False, seed=len(widths), dtype=torch.float64)
        with torch.no_grad():  # layers of very different norms, so that norm mistakes show
            for k, layer in enumerate(models.dense_layers(model)):
                layer.module.weight.mul_(0.5 + 1.5 * k)
        X = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
        y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
        cases.append((model, X, y))
    return cases


def _reference(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    return bounds.normalized_margins(model, X, y).min().item()


def _mistakes(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    with torch.no_grad():
        f = model(X).reshape(-1)
        weights = bounds.layer_weights(model)
        frob = torch.stack([torch.linalg.matrix_norm(W) for W in weights])
        spec = torch.stack([torch.linalg.matrix_norm(W, ord=2) for W in weights])
    m, rho = y * f, frob.prod()
    explain = {
        "all the normalised margins, one per example: the normalised margin of the network is the "
        "smallest of them (take the min over examples)": m / rho,
        "the mean normalised margin: the margin is the smallest y_i f(x_i), not the average": m.mean() / rho,
        "the largest normalised margin: take the min over examples, not the max": m.max() / rho,
        "the margin divided by the sum of the layer norms: rho is their product, the factor that "
        "homogeneity pulls out of f": m.min() / frob.sum(),
        "the margin divided by the product of spectral norms (largest singular values): this "
        "normalisation uses Frobenius norms, ||W||_F = sqrt(sum of squared entries)": m.min() / spec.prod(),
        "the margin divided by the product of squared Frobenius norms: use the norms, not their "
        "squares": m.min() / frob.pow(2).prod(),
        "the margin divided by the last layer's norm only: divide by the norms of all layers": m.min() / frob[-1],
        "the unnormalised margin min_i y_i f(x_i): divide it by rho = prod_k ||W_k||_F": m.min(),
        "min_i f(x_i) / rho, without the labels: the margin of example i is y_i f(x_i)": f.min() / rho,
        "min_i |f(x_i)| / rho: a misclassified example has a negative margin; keep the sign of "
        "y_i f(x_i)": m.abs().min() / rho,
        "-min_i y_i f(x_i) / rho: a sign error (max of -y f, or the labels flipped)": -m.min() / rho,
        "min_i (-y_i f(x_i)) / rho: the labels' sign is flipped": (-m).min() / rho,
    }
    return {text: value.numpy() for text, value in explain.items()}


def _diagnose(answer, model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> str | None:
    return named_mistake(answer, _mistakes(model, X, y))



def check_normalized_margin(fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], float]) -> Feedback:
    """Check an implementation of ``normalized_margin(model, X, y)``.

    The answer should be :math:`\\min_i y_i f(x_i) / \\prod_k \\lVert W_k\\rVert_F`
    for a bias-free network ``model`` with one output, inputs ``X`` of shape
    ``(n, d)`` and labels ``y`` in :math:`\\{\\pm1\\}`, as a number (a Python
    float or a one-element tensor). The reference is
    :func:`dltheory.bounds.normalized_margins`. The test networks have two to
    four layers of different norms, and some examples are misclassified, so
    that the typical mistakes (mean or max instead of min, the sum of the norms
    or spectral norms instead of the product of Frobenius norms, forgetting the
    labels or their sign) give different numbers and are named.
    """
    name = "normalized_margin"
    cases = _cases()
    for i, (model, X, y) in enumerate(cases, start=1):
        depth = len(bounds.layer_weights(model))
        try:
            answer = fn(model, X, y)
        except NotImplementedError:
            return Feedback(False, f"{name} is not implemented yet. Hint: {HINT}")
        except Exception as err:  # the student's code failed: explain, don't re-raise
            return Feedback(False, f"{name} raised {type(err).__name__}: {err} ({student_line(err, fn)}) on "
                                   f"test case {i}: a {depth}-layer network, X of shape {tuple(X.shape)}, "
                                   f"y of shape {tuple(y.shape)}.")
        feedback = compare(answer, _reference(model, X, y), name=f"the result of {name} on test case {i}")
        if not feedback.passed:
            extra = _diagnose(answer, model, X, y)
            details = feedback.details
            if extra:  # the specific diagnosis replaces the generic guess of a constant factor
                details = tuple(d for d in details if "times the reference" not in d) + (extra,)
            return Feedback(False, feedback.message, details)
    return Feedback(True, f"{name} agrees with the reference on all {len(cases)} test cases "
                          "(networks of 2, 3 and 4 layers).")
