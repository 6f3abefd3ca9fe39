"""Checker of chapter 4's exercise on the limit of the residual, from the SVM's dual variables."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .core import Feedback, check_function

__all__ = ["check_w_tilde"]


HINT = ("first the dual variables: solve Z^T alpha = w_hat (alpha has one entry per support vector); then "
        "Z w = log(lr / (n * alpha)), the minimum-norm solution (np.linalg.lstsq or torch.linalg.lstsq).")


def _cases() -> list[tuple]:
    """(Z, w_hat, lr, n): support rows z_i = y_i x_i, w_hat = Z^T alpha with alpha > 0; square and wide Z."""
    g = np.random.default_rng(2018)
    cases = []
    for s, d, lr, n in [(3, 3, 1.0, 40), (2, 4, 0.5, 25), (4, 4, 2.0, 100), (1, 3, 0.3, 10)]:
        Z = g.normal(size=(s, d))
        alpha = g.uniform(0.2, 2.0, size=s)
        cases.append((torch.from_numpy(Z), torch.from_numpy(Z.T @ alpha), lr, n))
    return cases


def _solve(Z: torch.Tensor, w_hat: torch.Tensor, lr: float, n: float, *, scale: float = 1.0,
           sign: float = 1.0) -> torch.Tensor:
    Zn, w = Z.numpy(), w_hat.numpy()
    alpha = np.linalg.lstsq(Zn.T, w, rcond=None)[0]
    return torch.from_numpy(np.linalg.lstsq(Zn, sign * np.log(lr / (scale * alpha)), rcond=None)[0])


def _reference(Z, w_hat, lr, n):
    return _solve(Z, w_hat, lr, n, scale=n)


def _mistakes(Z, w_hat, lr, n) -> dict[str, torch.Tensor]:
    return {
        "this is the limit for the summed loss: the library's loss is the mean over the n examples, so each "
        "step is (lr / n) times the paper's, and (lr / n) exp(-z_i . w) = alpha_i": _solve(Z, w_hat, lr, n),
        "the sign is flipped: exp(-z_i . w) = n alpha_i / lr gives z_i . w = log(lr / (n alpha_i)), not "
        "log(n alpha_i / lr)": _solve(Z, w_hat, lr, n, scale=n, sign=-1.0),
        "the dual variables are missing (alpha_i = 1 for every support vector): solve Z^T alpha = w_hat first":
            torch.from_numpy(np.linalg.lstsq(Z.numpy(), np.full(Z.shape[0], np.log(lr / n)), rcond=None)[0]),
    }


def check_w_tilde(fn: Callable) -> Feedback:
    """Check ``w_tilde(Z, w_hat, lr, n)``: the limit of the residual on the span of the support vectors.

    ``Z`` is the ``(s, d)`` float64 tensor of rows :math:`z_i = y_i x_i` of the
    support vectors, ``w_hat`` the hard-margin SVM (``(d,)``, equal to
    :math:`Z^\\top\\alpha` with :math:`\\alpha > 0`), ``lr`` the step of gradient
    descent on the *mean* exponential loss over ``n`` examples. The answer is the
    minimum-norm :math:`\\tilde w` with :math:`\\frac{\\eta}{n}e^{-z_i^\\top\\tilde w} = \\alpha_i`.
    Typical mistakes (the summed-loss scaling, a flipped sign, no dual variables) are named.
    """
    return check_function(fn, _reference, _cases(), name="w_tilde", hint=HINT, rtol=1e-8, mistakes=_mistakes)
