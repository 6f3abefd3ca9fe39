"""Checker of chapter 4's exercise on the optimum of a linear network with a bottleneck (reduced-rank regression)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import Feedback, check_function

__all__ = ["check_reduced_rank_solution"]

HINT = ("fit ordinary least squares first, B_hat = Y^T X (X^T X)^{-1}, then project its fitted values "
        "Y_hat = X B_hat^T onto their top k right singular vectors V_k: B = V_k V_k^T B_hat, of shape (m, d).")


def _cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Inputs with correlated columns (so that the fitted values and the coefficients have different
    singular vectors), targets with noise, and n, d, m and k all different in every case."""
    rng = np.random.default_rng(1936)
    cases = []
    for n, d, m, k in [(30, 5, 4, 2), (50, 7, 6, 3), (25, 4, 9, 1)]:
        X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
        Y = X @ rng.standard_normal((m, d)).T + 0.5 * rng.standard_normal((n, m))
        cases.append((X, Y, k))
    return cases


def _ols(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X, Y, rcond=None)[0].T  # (m, d)


def _truncate(A: np.ndarray, k: int) -> np.ndarray:
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


def _reference(X: np.ndarray, Y: np.ndarray, k: int) -> np.ndarray:
    """By eigenvectors of :math:`\\hat Y^\\top\\hat Y` (an independent route to :math:`V_k`)."""
    B_hat = _ols(X, Y)
    Y_hat = X @ B_hat.T
    _, V = np.linalg.eigh(Y_hat.T @ Y_hat)
    V = V[:, ::-1][:, :k]
    return V @ V.T @ B_hat


def _mistakes(X: np.ndarray, Y: np.ndarray, k: int) -> dict[str, np.ndarray]:
    B_hat = _ols(X, Y)
    Y_hat = X @ B_hat.T
    Vt = np.linalg.svd(Y_hat, full_matrices=False)[2]
    return {
        "the truncated SVD of the least-squares coefficients B_hat: that is the best rank-k approximation of "
        "the coefficients, not of the predictions; truncate the fitted values X B_hat^T instead (the two "
        "agree only when X^T X is a multiple of the identity)": _truncate(B_hat, k),
        "the truncated SVD of the targets Y regressed on X: project the *fitted values*, whose residual "
        "Y - Y_hat is orthogonal to every prediction X B^T; the noise in Y - Y_hat must not choose the "
        "subspace": _ols(X, _truncate(Y, k)),
        "rank k + 1: keep exactly the top k singular vectors": (lambda W: W @ W.T @ B_hat)(Vt[:k + 1].T),
        "the last k singular vectors instead of the first k: numpy's svd sorts singular values in "
        "decreasing order, eigh in increasing order": (lambda W: W @ W.T @ B_hat)(Vt[-k:].T),
        "the ordinary least-squares solution itself, of full rank: the bottleneck allows rank k only": B_hat,
    }


def check_reduced_rank_solution(fn: Callable[..., np.ndarray]) -> Feedback:
    """Check an implementation of ``reduced_rank_solution(X, Y, k)``.

    ``X`` ``(n, d)`` of full column rank, ``Y`` ``(n, m)``, ``k`` an integer; the answer is the
    ``(m, d)`` matrix :math:`B_k` that minimises :math:`\\lVert Y - XB^\\top\\rVert_F^2` over
    :math:`\\operatorname{rank}B \\le k`:

    .. math::  \\hat B = Y^\\top X(X^\\top X)^{-1}, \\qquad \\hat Y = X\\hat B^\\top = U\\Sigma V^\\top, \\qquad
               B_k = V_kV_k^\\top\\hat B .

    The reference finds :math:`V_k` as the top eigenvectors of :math:`\\hat Y^\\top\\hat Y`. Typical
    mistakes are named: truncating the coefficients or the targets instead of the fitted values,
    rank :math:`k + 1`, the wrong end of the spectrum, and the full-rank least-squares solution.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "reduced_rank_solution"),
                          hint=HINT, rtol=1e-6, mistakes=_mistakes)
