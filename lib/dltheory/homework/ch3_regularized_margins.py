"""Checker of chapter 3's exercise on the linear programme for the infinite-width margin (Wei, Lee, Liu, Ma 2019)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import infinite_width as iw
from .core import Feedback, check_function

__all__ = ["check_l1_svm_margin"]

HINT = ("maximise t over (alpha_plus, alpha_minus, t) with alpha = alpha_plus - alpha_minus >= 0 parts: "
        "scipy.optimize.linprog minimises, so use c = (0, ..., 0, -1); the rows t - y_i (Phi alpha)_i <= 0 and "
        "sum(alpha_plus) + sum(alpha_minus) <= 1 go into A_ub, and t is free (bounds (None, None)).")


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Dictionaries of ReLU features on small XOR-like sets, where signed weights matter."""
    rng = np.random.default_rng(2019)
    cases = []
    for n, k in [(6, 5), (10, 12), (16, 30)]:
        X = rng.uniform(-1, 1, size=(n, 2))
        y = np.sign(X[:, 0] * X[:, 1])
        y[y == 0] = 1.0
        V = rng.normal(size=(k, 3))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        cases.append((iw.relu_features(iw.lift(X), V), y))
    return cases


def _reference(Phi: np.ndarray, y: np.ndarray) -> float:
    return iw.l1_svm_margin(Phi, y)[0]


def _nonnegative(Phi: np.ndarray, y: np.ndarray) -> float:
    """The LP with alpha >= 0 only (no negative output weights)."""
    from scipy.optimize import linprog

    n, k = Phi.shape
    c = np.zeros(k + 1)
    c[-1] = -1.0
    A = np.vstack([np.hstack([-(y[:, None] * Phi), np.ones((n, 1))]), np.concatenate([np.ones(k), [0.0]])[None]])
    res = linprog(c, A_ub=A, b_ub=np.concatenate([np.zeros(n), [1.0]]), bounds=[(0, None)] * k + [(None, None)],
                  method="highs")
    return float(-res.fun)


def _mistakes(Phi: np.ndarray, y: np.ndarray) -> dict[str, float]:
    t = _reference(Phi, y)
    return {
        "this is half the LP's value: the exercise asks for max min_i y_i (Phi alpha)_i itself; the factor 1/2 "
        "turns it into the network's normalised margin afterwards": t / 2,
        "this is minus the optimum: linprog minimises, so it returns -t at the optimum of c = (0, ..., -1)": -t,
        "alpha is restricted to alpha >= 0: output weights may be negative, so split alpha = alpha_plus - "
        "alpha_minus with both parts >= 0": _nonnegative(Phi, y),
    }


def check_l1_svm_margin(fn: Callable[[np.ndarray, np.ndarray], float]) -> Feedback:
    """Check ``l1_svm_margin(Phi, y)``: :math:`\\max_{\\lVert\\alpha\\rVert_1 \\le 1} \\min_i y_i (\\Phi\\alpha)_i` as a number.

    ``Phi`` is an ``(n, K)`` array of features, ``y`` an ``(n,)`` array of labels
    :math:`\\pm 1`. The reference is :func:`dltheory.infinite_width.l1_svm_margin`.
    """
    return check_function(fn, _reference, _cases(), name="l1_svm_margin", hint=HINT, rtol=1e-6,
                          mistakes=_mistakes)
