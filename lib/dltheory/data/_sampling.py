"""Sampling primitives shared by the generators: uniform directions and uniform balls.

The determinism contract of :mod:`dltheory.data` lives here: every draw comes
from a local ``torch.Generator`` on the CPU, in float64, and is cast to the
requested dtype and moved to the requested device only at the end, so a seed
gives the same numbers on every device.
"""

from __future__ import annotations

import torch
from torch import Tensor

Device = torch.device | str


def unit_directions(m: int, d: int, g: torch.Generator) -> Tensor:
    """``m`` directions uniform on the unit sphere of R^d (normalised Gaussians), float64."""
    z = torch.randn(m, d, generator=g, dtype=torch.float64)
    norms = z.norm(dim=1, keepdim=True)
    while (norms == 0).any():  # probability zero, but never divide by it
        bad = (norms == 0).squeeze(1)
        z[bad] = torch.randn(int(bad.sum()), d, generator=g, dtype=torch.float64)
        norms = z.norm(dim=1, keepdim=True)
    return z / norms


def in_ball(m: int, d: int, radius: float | Tensor, g: torch.Generator) -> Tensor:
    """``m`` points uniform in the ball of R^d with the given radius: direction times radius * U^(1/d)."""
    u = torch.rand(m, 1, generator=g, dtype=torch.float64)
    return unit_directions(m, d, g) * u.pow(1.0 / d) * radius
