"""Checker of chapter 2's exercise on a negatively tied layer."""

from __future__ import annotations

import torch

from ..models import PairNetwork
from .core import Feedback, check_function

__all__ = ["check_tied_layer"]

HINT = ("compute the one pre-activation s = h @ w + b (shape (n,)), then return the two units "
        "torch.relu(s) and torch.relu(-s) as the columns of an (n, 2) tensor, e.g. with torch.stack(..., dim=1).")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Inputs ``h`` of shape ``(n, fan_in)`` with both signs of ``s``, a weight vector and a non-zero bias."""
    g = torch.Generator().manual_seed(2017)
    cases = []
    for n, fan_in in [(7, 1), (12, 2), (9, 5)]:
        h = torch.randn(n, fan_in, generator=g, dtype=torch.float64)
        w = torch.randn(fan_in, generator=g, dtype=torch.float64)
        b = torch.tensor(0.3 + torch.rand((), generator=g, dtype=torch.float64).item())
        h[0] = -(1 + b) * w / w.dot(w)  # s = -1 and s = +1 at the first two inputs: both signs occur
        h[1] = (1 - b) * w / w.dot(w)
        cases.append((h, w, b))
    return cases


def _reference(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The library's tied layer (:class:`dltheory.models.PairNetwork`) with this weight and bias."""
    net = PairNetwork(1, tied=True, in_features=h.shape[1], seeds=[0], dtype=torch.float64)
    with torch.no_grad():
        net.weights[0][0] = w
        net.biases[0][0] = b
        return net.trace(h)[0][1][0]


def _mistakes(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    s = h @ w + b
    relu = torch.relu
    return {
        "positive tying: both units received +w (and +b); the second unit's incoming weights and bias are "
        "the negatives of the first's, so its pre-activation is -s": torch.stack([relu(s), relu(s)], 1),
        "the bias was not negated: the second unit computes relu(-h @ w + b), but its bias is -b too, "
        "so that its pre-activation is exactly -(h @ w + b)": torch.stack([relu(s), relu(-(h @ w) + b)], 1),
        "the bias was forgotten: the pre-activation is s = h @ w + b": torch.stack([relu(h @ w), relu(-(h @ w))], 1),
        "the ReLU is missing: the outputs are relu(s) and relu(-s), not the pre-activations s and -s":
            torch.stack([s, -s], 1),
        "the two units are swapped: unit 1 gets +w, so the columns are relu(s), then relu(-s)":
            torch.stack([relu(-s), relu(s)], 1),
        "the sum of the two units, |s|: that is what the next layer can read, but the layer returns both "
        "units, as the columns of an (n, 2) tensor": s.abs(),
        "the difference of the two units, relu(s) - relu(-s) = s: return both units as columns": s,
    }


def check_tied_layer(fn) -> Feedback:
    """Check an implementation of ``tied_layer(h, w, b)``.

    It should return the outputs of a negatively tied layer of two ReLU units,
    :math:`(\\mathrm{relu}(s), \\mathrm{relu}(-s))` with :math:`s = h w + b`,
    as a tensor of shape ``(n, 2)``, for inputs ``h`` of shape ``(n, fan_in)``,
    a weight vector ``w`` of shape ``(fan_in,)`` and a bias ``b`` (a 0-dim
    tensor). The reference is the first layer of a tied
    :class:`dltheory.models.PairNetwork`. Typical mistakes (tying positively,
    forgetting the bias or not negating it, returning pre-activations or
    :math:`|s|`) are named.
    """
    return check_function(fn, _reference, _cases(), name="tied_layer", hint=HINT, rtol=1e-9,
                          mistakes=_mistakes)
