"""Checker of chapter 5's exercise on the PAC-Bayes term of SGLD (Mou, Wang, Zhai, Zheng 2018)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import Feedback, check_function

__all__ = ["check_pac_bayes_term"]

HINT = ("With T_k = eta_1 + ... + eta_k, the term is sum_k eta_k * exp(-lam * (T_N - T_k) / 2) * g2_k: the last "
        "step has weight eta_N, and a step taken a time T_N - T_k ago is damped by exp(-lam (T_N - T_k) / 2).")


def _cases() -> list[tuple]:
    """Step sizes that change (a schedule, so eta_k cannot be taken out of the sum), norms that vary, lam > 0."""
    g = np.random.default_rng(2018)
    cases = []
    for N, lam in [(5, 0.5), (12, 0.1), (30, 1.0), (50, 0.03)]:
        etas = list(0.4 / np.sqrt(np.arange(1, N + 1)))
        cases.append((etas, list(g.uniform(0.1, 5.0, N)), lam))
    cases.append(([0.3], [2.0], 0.7))
    return cases


def _times(etas) -> tuple[np.ndarray, np.ndarray]:
    eta = np.asarray(etas, dtype=float)
    return eta, np.cumsum(eta)


def _reference(etas, grad_norms_sq, lam) -> float:
    eta, T = _times(etas)
    return float(np.sum(eta * np.exp(-lam * (T[-1] - T) / 2) * np.asarray(grad_norms_sq, dtype=float)))


def _mistakes(etas, grad_norms_sq, lam) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    eta, T = _times(etas)
    g2 = np.asarray(grad_norms_sq, dtype=float)
    T_prev = T - eta
    return {
        "the factor 1/2 in the exponent is missing: the weight is exp(-lam (T_N - T_k) / 2)":
            float(np.sum(eta * np.exp(-lam * (T[-1] - T)) * g2)),
        "no forgetting: every step must be damped by exp(-lam (T_N - T_k) / 2), with lam > 0":
            float(np.sum(eta * g2)),
        "the damping runs the wrong way: the *oldest* steps (small T_k) must count least":
            float(np.sum(eta * np.exp(-lam * T / 2) * g2)),
        "T_k should include step k itself (T_k = eta_1 + ... + eta_k), so the last step has weight eta_N":
            float(np.sum(eta * np.exp(-lam * (T[-1] - T_prev) / 2) * g2)),
        "the step size eta_k multiplies each term": float(np.sum(np.exp(-lam * (T[-1] - T) / 2) * g2)),
        "the elapsed time T_N - T_k is a sum of step sizes, not a number of steps":
            float(np.sum(eta * np.exp(-lam * (len(eta) - np.arange(1, len(eta) + 1)) / 2) * g2)),
    }


def check_pac_bayes_term(fn: Callable[..., float]) -> Feedback:
    """Check an implementation of ``pac_bayes_term(etas, grad_norms_sq, lam)``.

    The answer is :math:`\\sum_{k=1}^N \\eta_k e^{-\\lambda(T_N - T_k)/2}\\lVert g_k\\rVert^2`
    with :math:`T_k = \\sum_{j \\le k}\\eta_j` (:func:`dltheory.bounds.sgld_pac_bayes_term`).
    Typical mistakes are named: no factor 1/2, no forgetting, forgetting the
    wrong way round, :math:`T_{k-1}` in place of :math:`T_k`, no :math:`\\eta_k`,
    steps counted instead of time.
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "pac_bayes_term"), hint=HINT,
                          rtol=1e-6, mistakes=_mistakes)
