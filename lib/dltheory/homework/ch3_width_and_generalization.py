"""Checker of chapter 3's exercise on memorising n points with n ReLU units (Zhang et al. 2017, Theorem 1).

The construction: project the points on a direction :math:`a` that separates
them, sort the projections :math:`z_1 < \\dots < z_n`, put the biases between
them, :math:`b_1 < z_1 < b_2 < z_2 < \\dots < b_n < z_n`, and solve for the
output weights. The network :math:`f(x) = \\sum_j w_j\\,\\mathrm{relu}(\\langle a,
x\\rangle - b_j)` has :math:`d + 2n` weights, and on the sample its outputs are
:math:`Aw` with :math:`A_{ij} = \\mathrm{relu}(z_i - b_j)`, a lower-triangular
matrix with a positive diagonal, so :math:`Aw = y` has a solution for every
:math:`y`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .core import Feedback, _to_numpy, compare, student_line

__all__ = ["check_memorize"]

HINT = ("project the points on a random direction a, sort the projections z, choose the biases between them "
        "(b_1 < z_1 < b_2 < z_2 < ...), and solve the lower-triangular system relu(z_i - b_j) w_j = y_i.")


def memorize(X: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference: ``(a, b, w)`` with ``relu(X @ a - b) @ w == y`` (up to round-off).

    ``X`` is ``(n, d)`` with distinct rows, ``y`` is ``(n,)``. ``a`` is a standard Gaussian
    direction drawn with ``seed`` (it separates distinct points with probability one).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = np.random.default_rng(seed).standard_normal(X.shape[1])
    z = X @ a
    order = np.argsort(z)
    zs = np.sort(z)
    gaps = np.diff(zs)
    b = np.empty_like(zs)
    b[1:] = zs[:-1] + gaps / 2
    b[0] = zs[0] - (gaps.min() / 2 if gaps.size else 1.0)
    A = np.maximum(zs[:, None] - b[None, :], 0.0)
    w = np.linalg.solve(A, y[order])
    return a, b, w


def _cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Random points and labels; the third case has points that share their first coordinate."""
    g = np.random.default_rng(2017)
    cases = [(g.standard_normal((8, 3)), g.standard_normal(8), 0),
             (g.standard_normal((25, 5)), np.sign(g.standard_normal(25)), 1)]
    X = g.standard_normal((12, 4))
    X[:, 0] = np.repeat([0.0, 1.0, 2.0], 4)  # a = e_1 would not separate these points
    cases.append((X, g.standard_normal(12), 2))
    return cases


def _diagnose(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> str | None:
    z = np.sort(X @ a)
    if np.min(np.diff(z)) <= 1e-12 * max(1.0, np.abs(z).max()):
        return ("two points have the same projection <a, x>, so no choice of biases and output weights can give "
                "them different outputs: take a random direction a, which separates distinct points with probability one.")
    bs = np.sort(b)
    if np.any(bs >= z):
        return ("some unit j has b_j >= z_j, so relu(z_i - b_j) vanishes on x_j: the system relu(z_i - b_j) w_j = y_i "
                "then has a zero on its diagonal. Put each bias just below its point: z_(j-1) < b_j < z_j.")
    return ("the biases interleave the projections correctly; now solve the lower-triangular system "
            "A w = y with A_ij = relu(z_i - b_j), rows and columns in the sorted order of z (and y in that order too).")


def check_memorize(fn: Callable[[np.ndarray, np.ndarray, int], tuple]) -> Feedback:
    """Check ``memorize(X, y, seed) -> (a, b, w)``: a width-n ReLU network that fits ``(X, y)`` exactly.

    The network is :math:`f(x) = \\sum_{j=1}^n w_j\\,\\mathrm{relu}(\\langle a, x\\rangle - b_j)`:
    ``a`` has shape ``(d,)``, ``b`` and ``w`` shape ``(n,)``, NumPy arrays or tensors. The answer
    passes when :math:`f(x_i) = y_i` for every example of three test samples (to ``1e-6``
    relative); otherwise the feedback says whether the direction, the biases or the solve went wrong.
    """
    name = getattr(fn, "__name__", "your function")
    for i, (X, y, seed) in enumerate(_cases(), start=1):
        n, d = X.shape
        try:
            answer = fn(X.copy(), y.copy(), seed)
        except NotImplementedError:
            return Feedback(False, f"{name} is not implemented yet. Hint: {HINT}")
        except Exception as err:  # the student's code failed: explain, don't re-raise
            return Feedback(False, f"{name} raised {type(err).__name__}: {err} ({student_line(err, fn)}) on test "
                                   f"case {i} (X of shape {X.shape}).")
        if answer is None:
            return Feedback(False, f"{name} returned None: did it forget to `return` a, b, w?")
        if answer is Ellipsis:
            return Feedback(False, f"{name} is still `...`: write the construction and return a, b, w.")
        if not isinstance(answer, (tuple, list)) or len(answer) != 3:
            return Feedback(False, f"{name} must return three arrays (a, b, w), got {type(answer).__name__}.")
        parts = [_to_numpy(p) for p in answer]
        shapes = [(d,), (n,), (n,)]
        for label, part, shape in zip("abw", parts, shapes):
            if part is None or part.shape != shape:
                got = None if part is None else part.shape
                return Feedback(False, f"on test case {i} (n = {n} points in d = {d} dimensions) {label} must have "
                                       f"shape {shape}, got {got}.")
        a, b, w = (p.astype(np.float64) for p in parts)
        outputs = np.maximum(X @ a[:, None] - b[None, :], 0.0) @ w
        feedback = compare(outputs, y, name=f"the network's outputs on test case {i}", rtol=1e-6, atol=1e-8)
        if not feedback.passed:
            return Feedback(False, f"{feedback.message}", feedback.details + (_diagnose(X, a, b),))
    return Feedback(True, f"{name} fits every label exactly on all {len(_cases())} test samples, "
                          "with n hidden units and d + 2n weights.")

