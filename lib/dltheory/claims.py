"""Claim checks: the cell that turns a sentence of the book into an assertion.

Every experiment in the book ends with one or more calls such as::

    claim("GD from zero converges to the minimum-norm solution",
          "relative distance to Y X^+", rel_dist, at_most=1e-6)

which prints one readable line (the verdict, the measured value and the
tolerance) and raises :class:`ClaimFailed` with an explanation when the claim
does not hold. Values are printed with two or three significant digits (more
when needed to tell them from the threshold), and values
below ``1e-12`` in magnitude as ``<1e-12``: float64 round-off differs between
BLAS builds, and the stored outputs of a notebook must not depend on it.

Two environment variables serve seed sweeps (``tools/seed_sweep.py``):
``DLT_CLAIMS_LOG=path`` appends every verdict, with the value at full
precision, to that file as one JSON line; ``DLT_CLAIMS_RAISE=0`` prints a
failed claim without raising, so that the claims after it are still measured.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["claim", "ClaimFailed", "Verdict", "format_bound", "format_value", "relative_error"]

ROUNDOFF = 1e-12
MAX_DIGITS = 6  # beyond six digits a difference is round-off, not science


class ClaimFailed(AssertionError):
    """A claim of the book did not hold for the numbers just computed."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of a :func:`claim`: what was claimed, measured and required."""

    statement: str
    quantity: str
    value: float
    requirement: str
    holds: bool
    bounds: tuple[float, ...] = ()

    def __str__(self) -> str:
        mark = "PASS" if self.holds else "FAIL"
        value = format_value(self.value, near=self.bounds)
        return f"[{mark}] {self.statement}: {self.quantity} = {value} {self.requirement}"


def format_value(x: float, near: tuple[float, ...] = ()) -> str:
    """Integers in full, other numbers with two or three significant digits.

    Magnitudes below round-off level print as ``<1e-12``. ``near`` holds the
    bounds ``x`` is compared with: digits are added, up to
    :data:`MAX_DIGITS` significant ones, until the rounding moves the value by
    less than half its distance to each bound, so that 0.9996 against a bound
    of 1 prints as ``0.9996 <= 1``, never ``1 <= 1``.
    """
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    if x != 0 and abs(x) < ROUNDOFF:
        return "<1e-12" if x > 0 else ">-1e-12"
    digits = 3 if 1 <= abs(x) < 1e4 else 2
    text = f"{x:.{digits}g}"
    while digits < MAX_DIGITS and not _reads_true(text, x, near):
        digits += 1
        text = f"{x:.{digits}g}"
    return text


def _reads_true(text: str, x: float, bounds: tuple[float, ...]) -> bool:
    """Whether ``text`` (``x`` rounded) is within half its distance of every bound.

    Then the printed value lies on the same side of each bound as ``x`` and
    never prints as the bound itself.
    """
    shown = float(text)
    return all(abs(shown - x) <= abs(x - bound) / 2 for bound in bounds if bound != x)


def format_bound(b: float) -> str:
    """A threshold as it was written: the shortest form (up to six digits) that reads back exactly.

    A computed threshold that no short form reproduces prints like a value.
    """
    if not math.isfinite(b) or (b == int(b) and abs(b) < 1e15):
        return format_value(b)
    for digits in range(1, MAX_DIGITS + 1):
        text = f"{b:.{digits}g}"
        if float(text) == b:
            return text
    return format_value(b)


def _as_float(value, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.detach().cpu().item())
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"{name} must be a scalar, got an array of shape {value.shape}")
        return float(value.item())
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, not a bool; state the quantity you measured")
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number, got {value!r}") from err


def claim(
    statement: str,
    quantity: str,
    value,
    *,
    at_most=None,
    at_least=None,
    close_to=None,
    tol=None,
    why: str = "",
) -> None:
    """Check a claim of the book against a measured value, and print the verdict.

    Exactly one kind of requirement is given:

    * ``at_most=b``: ``value <= b``;
    * ``at_least=a``: ``value >= a`` (both ``at_least`` and ``at_most`` give a range);
    * ``close_to=c, tol=t``: ``|value - c| <= t``.

    Parameters
    ----------
    statement
        The claim in words, as the text of the section states it.
    quantity
        What ``value`` measures ("relative error", "smallest eigenvalue").
    value
        The measured number (a float, or a one-element tensor/array).
    why
        Why the tolerance is what it is; printed when the claim fails.

    The verdict is printed as one line, e.g.
    ``[PASS] ...: relative error = 3.1e-09 <= 1e-06``. Nothing is returned, so a
    claim as the last line of a cell displays nothing more.

    Raises
    ------
    ClaimFailed
        The value breaks the requirement, or is NaN.
    ValueError
        The requirement is missing or malformed, or ``value`` is not a number.
    """
    x = _as_float(value, "value")
    if close_to is not None:
        if tol is None or at_most is not None or at_least is not None:
            raise ValueError("close_to needs tol= and excludes at_most/at_least")
        c, t = _as_float(close_to, "close_to"), _as_float(tol, "tol")
        if t < 0:
            raise ValueError(f"tol must be non-negative, got {t}")
        holds = abs(x - c) <= t
        bounds = (c - t, c + t)
        requirement = f"(required within {format_bound(t)} of {format_bound(c)})"
    else:
        if tol is not None:
            raise ValueError("tol= goes with close_to=")
        if at_most is None and at_least is None:
            raise ValueError("state the requirement: at_most=, at_least= or close_to= with tol=")
        lo = None if at_least is None else _as_float(at_least, "at_least")
        hi = None if at_most is None else _as_float(at_most, "at_most")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"empty range: at_least={lo} > at_most={hi}")
        holds = (lo is None or x >= lo) and (hi is None or x <= hi)
        bounds = tuple(b for b in (lo, hi) if b is not None)
        if lo is not None and hi is not None:
            requirement = f"(required in [{format_bound(lo)}, {format_bound(hi)}])"
        elif hi is not None:
            requirement = f"<= {format_bound(hi)}"
        else:
            requirement = f">= {format_bound(lo)}"
    holds = holds and not math.isnan(x)
    verdict = Verdict(statement, quantity, x, requirement, bool(holds), bounds)
    print(verdict)
    _log(verdict)
    if not verdict.holds and os.environ.get("DLT_CLAIMS_RAISE", "1").strip() != "0":
        message = f"the claim '{statement}' does not hold: {quantity} = {x!r} {requirement}"
        if why:
            message += f". {why}"
        raise ClaimFailed(message)


def _log(verdict: Verdict) -> None:
    """Append the verdict to ``$DLT_CLAIMS_LOG`` (one JSON object a line), if set."""
    path = os.environ.get("DLT_CLAIMS_LOG", "").strip()
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dataclasses.asdict(verdict)) + "\n")


def _cpu_float64(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64)
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def relative_error(estimate, reference) -> float:
    """:math:`\\lVert a - b\\rVert / \\lVert b\\rVert` (Frobenius norms) of tensors or arrays.

    The reference may live on another device or be a NumPy array (an independent
    computation); both are compared in float64 on the CPU.
    """
    a, b = _cpu_float64(estimate), _cpu_float64(reference)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: estimate {tuple(a.shape)} vs reference {tuple(b.shape)}")
    scale = torch.linalg.norm(b)
    if scale == 0:
        raise ValueError("the reference is zero: a relative error is undefined; compare absolute values")
    return (torch.linalg.norm(a - b) / scale).item()
