"""Checker of chapter 4's exercise on the L1 floor of a function with few affine pieces against the sawtooth."""

from __future__ import annotations

from collections.abc import Callable

from .core import Feedback, check_function

__all__ = ["check_l1_floor"]

HINT = ("t^k has 2^(k-1) teeth of width w = 2^(1-k); the p - 1 breakpoints of g spoil at most p - 1 of them, "
        "and on every other tooth g is affine and misses it by at least w/4 in L1. Add up, and remember that "
        "an L1 distance is never negative.")

#: (k, p) pairs; the first tells the typical mistakes apart, the second needs the clip at zero.
CASES = [(5, 4), (3, 9), (6, 1), (4, 5), (2, 2), (10, 300)]


def _reference(k: int, p: int) -> float:
    """:math:`\\max\\{0, \\tfrac14(1 - (p - 1)/2^{k-1})\\}`."""
    return max(0.0, 0.25 * (1.0 - (p - 1) / 2 ** (k - 1)))


def _mistakes(k: int, p: int) -> dict[str, float]:
    teeth = 2 ** (k - 1)
    return {
        "the count of pieces 2^k in place of the count of teeth 2^(k-1): a tooth is two pieces, "
        "one up and one down": max(0.0, 0.25 * (1 - (p - 1) / 2**k)),
        "p spoiled teeth instead of p - 1: a function with p pieces has only p - 1 breakpoints": max(
            0.0, 0.25 * (1 - p / teeth)),
        "a cost of w/2 per tooth: that is the area under a tooth, but the best affine fit, the constant 1/2, "
        "costs only w/4": max(0.0, 0.5 * (1 - (p - 1) / teeth)),
        "a cost of w/8 per tooth: the constant 1/2 leaves w/8 above the tooth and w/8 below it, w/4 in all":
            max(0.0, 0.125 * (1 - (p - 1) / teeth)),
        "a negative bound: with p - 1 >= 2^(k-1) breakpoints every tooth may be spoiled, and the floor is 0, "
        "not negative (use max(0, ...))": 0.25 * (1 - (p - 1) / teeth),
    }


def check_l1_floor(fn: Callable[[int, int], float]) -> Feedback:
    """Check an implementation of ``l1_floor(k, p)``.

    The answer is the lower bound on :math:`\\int_0^1 |t^k - g|` for every
    continuous :math:`g` with :math:`p` affine pieces,

    .. math::  \\max\\Bigl\\{0,\\ \\frac14\\Bigl(1 - \\frac{p - 1}{2^{k-1}}\\Bigr)\\Bigr\\},

    as in :func:`dltheory.depth.l1_lower_bound`. Typical mistakes are named:
    pieces for teeth, :math:`p` for :math:`p - 1`, the wrong cost per tooth,
    and a floor that goes negative.
    """
    return check_function(fn, _reference, CASES, name=getattr(fn, "__name__", "l1_floor"), hint=HINT,
                          rtol=1e-9, mistakes=_mistakes)
