"""Checker of chapter 1's exercise on chance-level accuracy (section "Fitting random labels")."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

from .core import Feedback, _to_numpy, check_function

__all__ = ["check_chance_interval"]

# (n, p, level): a large and a small test set, a skewed p, a symmetric one, a lower level.
_CASES = [(2000, 0.1, 0.99), (50, 0.1, 0.99), (40, 0.5, 0.95), (25, 0.04, 0.9), (1000, 0.117, 0.99)]


def _reference(n: int, p: float, level: float) -> np.ndarray:
    low, high = stats.binom.interval(level, n, p)
    return np.array([low / n, high / n])


def _quantiles(n: int, p: float, lower_tail: float, upper_tail: float) -> np.ndarray:
    return np.array([stats.binom.ppf(lower_tail, n, p), stats.binom.ppf(upper_tail, n, p)]) / n


def _close(answer: np.ndarray, candidate: np.ndarray) -> bool:
    return answer.shape == candidate.shape and np.allclose(answer, candidate, rtol=1e-9, atol=1e-12)


def _diagnose_chance_interval(answer, n: int, p: float, level: float) -> str | None:
    ans = _to_numpy(answer)
    if ans is None:
        return None
    ans = np.asarray(ans, dtype=np.float64).reshape(-1)
    if ans.shape != (2,):
        return "return two numbers, (low, high), as accuracies between 0 and 1."
    ref = _reference(n, p, level)
    alpha = 1 - level
    z = stats.norm.ppf(1 - alpha / 2)
    half = z * math.sqrt(p * (1 - p) / n)
    if _close(ans, ref * n):
        return "these are counts of correct answers; divide by n to get accuracies."
    if _close(ans, ref[::-1]):
        return "low and high are swapped: return (low, high) with low <= high."
    if _close(ans, np.array([p - half, p + half])) or _close(ans, np.clip([p - half, p + half], 0, 1)):
        return ("this is the normal approximation p ± z sqrt(p(1-p)/n). It is symmetric, but the binomial is "
                "skewed when n is small or p is near 0 or 1 (for n = 50, p = 0.1 its lower end is even "
                "negative); use the binomial CDF itself.")
    if _close(ans, _quantiles(n, p, level / 2, 1 - level / 2)):
        return "each tail should hold (1 - level)/2 of the probability, not level/2."
    if _close(ans, _quantiles(n, p, alpha, 1 - alpha)):
        return "each tail holds (1 - level)/2, half of 1 - level: a two-sided interval splits alpha in two."
    if _close(ans, _quantiles(n, 1 - p, alpha / 2, 1 - alpha / 2)):
        return "this is the interval for 1 - p: p is the probability of a correct answer."
    for shift, which in ((1, "above"), (-1, "below")):
        for pos in (0, 1):
            moved = ref.copy()
            moved[pos] += shift / n
            if _close(ans, moved):
                end = "lower" if pos == 0 else "upper"
                return (f"the {end} end is one count {which} the reference: take the smallest k with "
                        "P(K <= k) >= the tail probability. The CDF includes k itself (P(K <= k), not P(K < k)).")
    if np.all(np.abs(ans - ref) * n <= 1 + 1e-9):
        return "both ends are within one count of the reference: check the inequalities at both ends (<= vs <)."
    return None


def check_chance_interval(fn: Callable[[int, float, float], tuple[float, float]]) -> Feedback:
    """Check an implementation of ``chance_interval(n, p, level) -> (low, high)``.

    The reference is the exact central binomial interval, ``scipy.stats.binom.interval``
    divided by ``n``. The test cases include a small test set and a skewed ``p``,
    where the normal approximation is visibly wrong.
    """
    return check_function(
        fn,
        _reference,
        _CASES,
        name="chance_interval",
        hint=("the number of correct answers is Binomial(n, p). Find the smallest k with "
              "P(K <= k) >= (1 - level)/2, and likewise for 1 - (1 - level)/2; divide both by n."),
        rtol=1e-9,
        diagnose=_diagnose_chance_interval,
    )
