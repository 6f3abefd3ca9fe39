"""Checker of chapter 5's exercise on the unbounded superlevel sets of a width-2 ReLU network."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .core import Feedback, check_function

__all__ = ["check_escape_direction"]

HINT = ("along x + t u the pre-activations move as W x + b + t W u. Ask for W u = sign(v): then every term "
        "v_i relu(z_i + t sign(v_i)) is non-decreasing in t, and so is F. Solve the 2 x 2 system with "
        "torch.linalg.solve(W, torch.sign(v)).")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Invertible hidden weights ``(2, 2)`` and outer weights ``(2,)`` with both sign patterns, no zero entries."""
    g = torch.Generator().manual_seed(2017)
    cases = []
    for signs in [(1.0, -1.0), (-1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]:
        W = torch.randn(2, 2, generator=g, dtype=torch.float64) + torch.tensor([[1.5, 0.0], [0.3, -1.2]],
                                                                                dtype=torch.float64)
        v = torch.tensor(signs, dtype=torch.float64) * (0.5 + torch.rand(2, generator=g, dtype=torch.float64))
        cases.append((W, v))
    return cases


CASES = _cases()


def _reference(W: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """:math:`u = W^{-1}\\operatorname{sign}(v)`."""
    return torch.linalg.solve(W, torch.sign(v))


def _mistakes(W: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    s = torch.sign(v)
    return {
        "the opposite direction -W^(-1) sign(v): along it every term v_i relu(...) decreases, so F falls "
        "and the ray leaves the superlevel set": -torch.linalg.solve(W, s),
        "W^T sign(v) in place of W^(-1) sign(v): the pre-activations move by W u, so u must solve W u = sign(v)":
            W.T @ s,
        "W sign(v) in place of W^(-1) sign(v): the pre-activations move by W u, so u must solve W u = sign(v)":
            W @ s,
        "sign(v) itself: the signs that matter are those of the pre-activations' changes W u, not of u":
            s,
        "(W^T)^(-1) sign(v): the pre-activation of unit i is row i of W times x, so solve W u = sign(v), "
        "not W^T u = sign(v)": torch.linalg.solve(W.T, s),
        "W^(-1) v: that direction works too, but the exercise asks for W u = sign(v) exactly": torch.linalg.solve(W, v),
    }


def check_escape_direction(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Check an implementation of ``escape_direction(W, v)``.

    For the width-2 network :math:`F(x) = v^\\top \\operatorname{relu}(Wx + b) + c` on
    :math:`\\mathbb R^2` with an invertible ``W`` ``(2, 2)`` and ``v`` ``(2,)``
    without zero entries, the answer is the ``(2,)`` vector :math:`u` with
    :math:`Wu = \\operatorname{sign}(v)`. Along :math:`x + tu` every term
    :math:`v_i \\operatorname{relu}(z_i + t \\operatorname{sign}(v_i))` is
    non-decreasing in :math:`t`, whatever :math:`b`, :math:`c` and :math:`x`:
    from any point, the ray stays in the superlevel set it starts in. Typical
    mistakes (the opposite direction, a transpose, :math:`W` for :math:`W^{-1}`)
    are named.
    """
    return check_function(fn, _reference, CASES, name=getattr(fn, "__name__", "escape_direction"), hint=HINT,
                          rtol=1e-8, mistakes=_mistakes)
