"""Checker of chapter 3's exercise on the one-sided forward-mode derivative of the ReLU (Kakade and Lee 2018)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import subgradients as sg
from .core import Feedback, check_function

__all__ = ["check_relu_jvp"]

HINT = ("the one-sided derivative of relu at z in the direction dz is dz where z > 0, 0 where z < 0, and "
        "relu(dz) where z == 0 (moving up from the kink the slope is 1, moving down it is 0); "
        "torch.where can pick among the three.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every sign of z and of dz; z = 0 with dz > 0, < 0 and = 0; |dz| above and below |z|."""
    z = torch.tensor([-1.5, -0.25, 0.0, 0.0, 0.0, 0.5, 2.0, 0.0], dtype=torch.float64)
    dz = torch.tensor([0.7, 0.9, 1.2, -0.8, 0.0, -0.6, 0.4, 0.25], dtype=torch.float64)
    g = torch.Generator().manual_seed(2018)
    Z = torch.randint(-2, 3, (3, 5), generator=g).to(torch.float64)  # integers: many exact zeros
    dZ = torch.randn(3, 5, generator=g, dtype=torch.float64)
    return [(z, dz), (Z, dZ)]


def _reference(z: torch.Tensor, dz: torch.Tensor) -> torch.Tensor:
    _, dot = torch.func.jvp(sg.relu, (z,), (dz,))
    return dot


def _mistakes(z: torch.Tensor, dz: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    zero = torch.zeros_like(dz)
    return {
        "PyTorch's rule, relu'(0) = 0: at z = 0 moving up (dz > 0) the function rises with slope 1, "
        "so the answer there is relu(dz), not 0": torch.where(z > 0, dz, zero),
        "the rule relu'(0) = 1: at z = 0 moving down (dz < 0) the function stays 0, so the answer there "
        "is relu(dz) = 0, not dz": torch.where(z >= 0, dz, zero),
        "the average slope 1/2 at z = 0: a directional derivative is one-sided, relu(dz) at z = 0":
            torch.where(z > 0, dz, torch.where(z < 0, zero, dz / 2)),
        "relu(dz) everywhere: that is the rule at z = 0 only; away from the kink relu is linear, "
        "with slope 1 for z > 0 and 0 for z < 0": dz.clamp_min(0),
        "relu(dz) wherever z >= 0: for z > 0 the slope is 1 in both directions, so the answer is dz":
            torch.where(z >= 0, dz.clamp_min(0), zero),
        "|dz| at z = 0: that is the directional derivative of |z| at 0, not of relu":
            torch.where(z > 0, dz, torch.where(z < 0, zero, dz.abs())),
        "the difference relu(z + dz) - relu(z) with step 1: a derivative is the limit of "
        "(relu(z + t dz) - relu(z)) / t as t -> 0+, and the step-1 difference is wrong once |dz| > |z|":
            (z + dz).clamp_min(0) - z.clamp_min(0),
        "dz everywhere: that is the derivative of z itself, not of relu(z)": dz.clone(),
    }


def _propagate(rule: Callable, layers, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Forward mode through a ReLU net with ``rule`` for the ReLU: carry (value, tangent) layer by layer."""
    a, da = x, v
    for i, (W, b) in enumerate(layers):
        a, da = W @ a + b, W @ da
        if i < len(layers) - 1:
            a, da = a.clamp_min(0), torch.as_tensor(rule(a, da), dtype=a.dtype)
    return da.reshape(())


def check_relu_jvp(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Feedback:
    """Check ``relu_jvp(z, dz)``, the one-sided directional derivative :math:`\\sigma'(z; \\dot z)` elementwise.

    The reference is forward mode through :func:`dltheory.subgradients.relu`:
    :math:`\\dot z` where :math:`z > 0`, :math:`0` where :math:`z < 0` and :math:`\\sigma(\\dot z)` at
    :math:`z = 0`. Typical mistakes (PyTorch's :math:`\\sigma'(0) = 0`, the convention
    :math:`\\sigma'(0) = 1`, the average slope, :math:`\\lvert\\dot z\\rvert`, a step-1 difference)
    are named. A right rule is then carried through :math:`\\sigma(x) - \\sigma(-x)` at 0 and
    through random integer ReLU networks at integer inputs, where kinks are hit, and compared
    with one-sided finite differences.
    """
    feedback = check_function(fn, _reference, _cases(), name="relu_jvp", hint=HINT, rtol=1e-10, mistakes=_mistakes)
    if not feedback.passed:
        return feedback
    f64 = dict(dtype=torch.float64)
    toy = [(torch.tensor([[1.0], [-1.0]], **f64), torch.zeros(2, **f64)),  # sigma(x) - sigma(-x)
           (torch.tensor([[1.0, -1.0]], **f64), torch.zeros(1, **f64))]
    x0 = torch.zeros(1, **f64)
    for v in (1.0, -1.0):
        got = _propagate(fn, toy, x0, torch.tensor([v], dtype=torch.float64)).item()
        if abs(got - v) > 1e-12:
            return Feedback(False, f"relu_jvp is right elementwise, but carried through sigma(x) - sigma(-x) at x = 0 "
                                   f"in the direction {v:+g} it gives {got:g} instead of {v:+g}.")
    g = torch.Generator().manual_seed(31)
    worst, probes = 0.0, 0
    for k in range(3):
        layers = sg.integer_relu_net([3, 5, 5, 1], seed=100 + k)
        for _ in range(8):
            x = torch.randint(-2, 3, (3,), generator=g).to(torch.float64)
            v = torch.randn(3, generator=g, dtype=torch.float64)
            got = _propagate(fn, layers, x, v).item()
            fd = sg.one_sided_difference(lambda t, layers=layers: sg.relu_net(layers, t), x, v).item()
            worst, probes = max(worst, abs(got - fd)), probes + 1
    if worst > 1e-6:
        return Feedback(False, f"relu_jvp is right elementwise, but carried through integer ReLU networks it differs "
                               f"from one-sided finite differences by up to {worst:.2g}: does it keep the shapes of "
                               f"its inputs and work on tensors of any shape?")
    return Feedback(True, f"relu_jvp agrees with the reference on all {len(_cases())} test cases. Carried through "
                          f"sigma(x) - sigma(-x) at 0 it gives f'(0; +1) = 1 and f'(0; -1) = -1, and through "
                          f"3 integer ReLU networks it matches one-sided finite differences at {probes} points.")
