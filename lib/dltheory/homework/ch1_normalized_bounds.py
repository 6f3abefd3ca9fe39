"""Checker of chapter 1's exercise on the normalised cross-entropy (section "Normalisation makes the training loss predictive of the test loss")."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..bounds import normalized_losses
from .core import Feedback, _to_numpy, check_function

__all__ = ["check_normalized_cross_entropy"]


def _case(widths: Sequence[int], scales: Sequence[float], n: int, seed: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    weights = [scale * torch.randn(b, a, generator=g, dtype=torch.float64) / math.sqrt(a)
               for a, b, scale in zip(widths[:-1], widths[1:], scales)]
    X = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (n,), generator=g)
    return weights, X, y


# Depths 3, 2 and 1, non-square layers, layer scales far from 1 (so that f and f~ differ).
_CASES = [
    _case([4, 6, 5, 3], [2.0, 0.5, 3.0], 25, 0),
    _case([3, 8, 4], [5.0, 4.0], 30, 1),
    _case([5, 3], [7.0], 20, 2),
]


def _network(weights: Sequence[torch.Tensor]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, W in enumerate(weights):
        linear = nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(W)
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _reference(weights, X, y) -> float:
    return normalized_losses(_network(weights), X, y)["normalized_loss"]


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy, natural logarithm."""
    return torch.logsumexp(out, dim=1) - out.gather(1, y[:, None])[:, 0]


def _forward(matrices, X, *, relu_hidden: bool = True, relu_last: bool = False) -> torch.Tensor:
    h = X
    for i, V in enumerate(matrices):
        h = h @ V.T
        last = i == len(matrices) - 1
        if (relu_hidden and not last) or (relu_last and last):
            h = torch.relu(h)
    return h


def _mistakes(weights, X, y) -> list[tuple[str, float]]:
    """Answers that typical mistakes give, with the explanation for each."""
    frob = [W / torch.linalg.matrix_norm(W) for W in weights]

    def ce(out: torch.Tensor) -> torch.Tensor:
        return _cross_entropy(out, y)

    total = math.sqrt(sum(torch.sum(W**2).item() for W in weights))
    K = weights[-1].shape[0]
    n = len(y)
    normalized = ce(_forward(frob, X)).mean().item()
    return [
        ("this is the loss of f itself: divide every W_k by its Frobenius norm first.",
         ce(_forward(weights, X)).mean().item()),
        ("normalise by the Frobenius norm (the square root of the sum of squared entries, "
         "torch.linalg.matrix_norm), not by the spectral norm.",
         ce(_forward([W / torch.linalg.matrix_norm(W, ord=2) for W in weights], X)).mean().item()),
        ("each layer is divided by its own Frobenius norm, not all of them by the norm of the whole "
         "parameter vector.", ce(_forward([W / total for W in weights], X)).mean().item()),
        ("every layer is normalised, not only the last one.",
         ce(_forward(list(weights[:-1]) + [frob[-1]], X)).mean().item()),
        ("apply the ReLU between the layers.", ce(_forward(frob, X, relu_hidden=False)).mean().item()),
        ("the last layer is linear: no ReLU on the outputs.", ce(_forward(frob, X, relu_last=True)).mean().item()),
        ("the loss is the mean over the examples, not their sum.", n * normalized),
        ("use the natural logarithm, as in the cross-entropy of the text.", normalized / math.log(2)),
        ("this is ln K minus the normalised loss; return the loss itself.", math.log(K) - normalized),
    ]


def _diagnose(answer, weights, X, y) -> str | None:
    ans = _to_numpy(answer)
    if ans is None:
        return None
    if ans.size == len(y) and ans.size > 1:
        return "return one number, the mean of the per-example losses."
    if ans.size != 1:
        return None
    value = float(np.asarray(ans, dtype=np.float64).reshape(-1)[0])
    for explanation, candidate in _mistakes(weights, X, y):
        if math.isclose(value, candidate, rel_tol=1e-7, abs_tol=1e-12):
            return explanation
    return None


def check_normalized_cross_entropy(fn: Callable) -> Feedback:
    """Check ``normalized_cross_entropy(weights, X, y) -> float``.

    ``weights`` lists the matrices :math:`W_1, \\dots, W_L` (shape ``(out, in)``) of
    a bias-free ReLU network :math:`f(x) = W_L\\sigma(W_{L-1}\\cdots\\sigma(W_1 x))`;
    the answer is the mean cross-entropy of :math:`\\tilde f`, the network with
    :math:`V_k = W_k/\\lVert W_k\\rVert_F`, on ``(X, y)``. The reference is
    :func:`dltheory.bounds.normalized_losses`. Test cases: depths 3, 2
    and 1 with layer scales far from 1, in float64.
    """
    return check_function(
        fn,
        _reference,
        _CASES,
        name="normalized_cross_entropy",
        hint=("divide each W_k by torch.linalg.matrix_norm(W_k), run the network (h -> relu(h @ V.T) "
              "between layers, no ReLU after the last), then take the mean cross-entropy, e.g. "
              "torch.nn.functional.cross_entropy(outputs, y)."),
        rtol=1e-9,
        diagnose=_diagnose,
    )
