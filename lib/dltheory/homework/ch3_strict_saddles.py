"""Checker of chapter 3's exercise on the escape time of gradient descent from a strict saddle."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .core import Feedback, _to_numpy, check_function

__all__ = ["check_escape_time"]

HINT = ("near the saddle the y-update of gradient descent is y <- y - lr * (y^3 - y) ~ (1 + lr) y, so after t steps "
        "|y_t| ~ (1 + lr)^t |y0|; solve (1 + lr)^t |y0| = c for t.")


def _cases() -> list[tuple]:
    """Scalars and arrays, both signs of y0, small and large step sizes, c below and above 1."""
    return [
        (1e-6, 0.1, 0.8),
        (-3e-4, 0.5, 0.5),
        (np.array([1e-2, 1e-5, -1e-8, 1e-12]), 0.05, 0.7),
        (np.array([-2e-3, 4e-9]), 0.9, 2.0),
    ]


def _reference(y0, lr, c):
    return np.log(c / np.abs(np.asarray(y0, dtype=float))) / math.log1p(lr)


def _mistakes(y0, lr, c) -> dict[str, object]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    a = np.abs(np.asarray(y0, dtype=float))
    up = np.log(c / a)
    return {
        "the rate lr in place of ln(1 + lr): that is the gradient-flow (small-step) limit, and it overestimates "
        "the time for large steps; one step multiplies |y| by exactly 1 + lr, so t = ln(c/|y0|) / ln(1 + lr)":
            up / lr,
        "ln(1 - lr) in place of ln(1 + lr): 1 - lr is the factor of the stable direction x; along y the saddle's "
        "curvature is -1, so gradient descent multiplies y by 1 + lr": up / math.log(1 - lr),
        "ln(1 + 2 lr): 2 is the curvature at the minima (0, +-1), not at the saddle, whose curvature along y is -1":
            up / math.log1p(2 * lr),
        "the ratio is upside down (ln(|y0|/c)): |y| grows from |y0| to c, so t = ln(c/|y0|) / ln(1 + lr) > 0":
            -up / math.log1p(lr),
        "the answer is rounded to an integer: return the real number ln(c/|y0|) / ln(1 + lr) itself":
            np.ceil(up / math.log1p(lr)),
        "c multiplies |y0| (ln(c |y0|)) instead of dividing by it": np.log(c * a) / math.log1p(lr),
    }


def _diagnose(answer, y0, lr, c) -> str | None:
    value = _to_numpy(answer)
    if value is None or value.dtype.kind not in "biuf":
        return None
    if np.isnan(value.astype(float)).any() and (np.asarray(y0, dtype=float) < 0).any():
        return "the result is NaN where y0 < 0: the escape time depends on the distance |y0| from the stable manifold"
    return None


def check_escape_time(fn: Callable) -> Feedback:
    """Check ``predicted_escape_time(y0, lr, c)``, the linearised escape time :math:`\\ln(c/|y_0|)/\\ln(1+\\eta)`.

    ``y0`` is a number or a NumPy array (either sign), ``lr`` the step size
    :math:`0 < \\eta < 1` and ``c`` the distance that counts as escaped; the
    answer has the shape of ``y0``. Typical mistakes (:math:`\\eta` for
    :math:`\\ln(1+\\eta)`, the factor of the stable direction or of the minima, the
    ratio upside down, rounding, a missing absolute value) are named.
    """
    return check_function(fn, _reference, _cases(), name="predicted_escape_time", hint=HINT, rtol=1e-6,
                          mistakes=_mistakes, diagnose=_diagnose)
