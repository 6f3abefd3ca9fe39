"""The glue of ``book/4-mathematical-theories/double-descent.ipynb``: two sweeps over the model size.

* :func:`teacher_problem`: Gaussian inputs and a target with a linear and a
  quadratic part, plus label noise, for random-features regression;
* :func:`features_sweep`: minimum-norm random-features regression
  (:mod:`dltheory.double_descent`) at many numbers of features :math:`N`,
  repeated over independent draws of the features, train and test error;
* :func:`median_curve` and :func:`peak`: the median over draws and where it peaks;
* :func:`linear_sweep`: the isotropic linear model of Hastie et al. at many
  :math:`\\gamma = p/n`, with the simulated, the finite-:math:`n` and the
  limiting risks side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .. import double_descent as dd
from ..config import float64_device
from .._checks import check_int, check_real, check_seed

__all__ = ["teacher_problem", "features_sweep", "median_curve", "peak", "linear_sweep"]


def teacher_problem(n: int, d: int, n_test: int, *, sigma: float, seed: int,
                    device="cpu") -> dict[str, torch.Tensor]:
    """Training and test data for random-features regression, in float64 on ``device`` (the CPU for MPS).

    Inputs :math:`x \\sim N(0, I_d)`, a unit direction :math:`\\beta` drawn
    uniformly, and the target :math:`f^*(x) = \\langle\\beta, x\\rangle + \\tfrac12(\\langle\\beta, x\\rangle^2 - 1)`
    (variance :math:`1 + \\tfrac12`), observed with noise :math:`N(0, \\sigma^2)` on
    the training points only: the test error :math:`\\frac1m\\sum_j(\\hat f(x_j) - f^*(x_j))^2`
    excludes the noise, like Hastie et al.'s risk. Returns ``X``, ``y``,
    ``X_test`` and ``f_test``.
    """
    n, d, n_test = check_int(n, "n", min=1), check_int(d, "d", min=1), check_int(n_test, "n_test", min=1)
    sigma = check_real(sigma, "sigma", min=0.0)
    g = torch.Generator().manual_seed(check_seed(seed))
    beta = torch.randn(d, generator=g, dtype=torch.float64)
    beta /= beta.norm()

    def target(X: torch.Tensor) -> torch.Tensor:
        z = X @ beta
        return z + 0.5 * (z**2 - 1)

    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    X_test = torch.randn(n_test, d, generator=g, dtype=torch.float64)
    y = target(X) + sigma * torch.randn(n, generator=g, dtype=torch.float64)
    dev = float64_device(device)
    return {"X": X.to(dev), "y": y.to(dev), "X_test": X_test.to(dev), "f_test": target(X_test).to(dev)}


def features_sweep(problem: dict[str, torch.Tensor], counts: Sequence[int], seeds: Sequence[int],
                   activation: str = "relu") -> dict[str, np.ndarray]:
    """Minimum-norm random-features regression at every number of features in ``counts``, once per seed.

    For each seed one set of :math:`\\max N` weights is drawn
    (:func:`dltheory.double_descent.random_feature_weights`); the model with
    :math:`N` features uses its first :math:`N`, so the models of one seed are
    nested. The features are computed once at :math:`\\max N` and rescaled,
    which gives exactly :func:`dltheory.double_descent.random_features` of the
    first :math:`N` weights. Returns ``counts`` and arrays ``train`` and ``test``
    of shape ``(len(seeds), len(counts))``: the training mean squared error
    against the noisy labels and the test error against :math:`f^*`.
    """
    counts = [check_int(N, "N", min=1) for N in counts]
    seeds = [check_seed(s) for s in seeds]
    if not counts or not seeds:
        raise ValueError("features_sweep needs at least one number of features and one seed")
    X, y, X_test, f_test = (problem[k] for k in ("X", "y", "X_test", "f_test"))
    top = max(counts)
    train = np.zeros((len(seeds), len(counts)))
    test = np.zeros_like(train)
    for i, seed in enumerate(seeds):
        W = dd.random_feature_weights(X.shape[1], top, seed=seed, dtype=X.dtype, device=X.device)
        Phi, Phi_test = dd.random_features(X, W, activation), dd.random_features(X_test, W, activation)
        for j, N in enumerate(counts):
            scale = math.sqrt(top / N)
            fitted, predicted = dd.min_norm_fit(Phi[:, :N] * scale, y, Phi_test[:, :N] * scale)
            train[i, j] = float((fitted - y).pow(2).mean())
            test[i, j] = float((predicted - f_test).pow(2).mean())
    return {"counts": np.asarray(counts), "train": train, "test": test}


def median_curve(sweep: dict[str, np.ndarray], key: str = "test") -> np.ndarray:
    """The median over seeds of ``sweep[key]``, one value per number of features.

    The median, not the mean: near :math:`N = n` a single draw whose smallest
    singular value is tiny can dominate a mean over a few draws.
    """
    return np.median(sweep[key], axis=0)


def peak(sweep: dict[str, np.ndarray], n: int) -> dict[str, float]:
    """Where the median test error peaks, and how the far end compares with it and with the best :math:`N < n`.

    Returns ``ratio`` (:math:`N/n` at the peak), ``peak`` (the median test error
    there), ``last`` (at the largest :math:`N`), ``best_under`` (the least median
    test error over :math:`N < n`) and ``best_under_ratio`` (its :math:`N/n`).
    """
    n = check_int(n, "n", min=1)
    med = median_curve(sweep)
    ratios = sweep["counts"] / n
    under = ratios < 1
    if not under.any():
        raise ValueError("the sweep has no number of features below n")
    j, k = int(np.argmax(med)), int(np.argmin(np.where(under, med, np.inf)))
    return {"ratio": float(ratios[j]), "peak": float(med[j]), "last": float(med[-1]),
            "best_under": float(med[k]), "best_under_ratio": float(ratios[k])}


def linear_sweep(n: int, gammas: Sequence[float], *, r: float, sigma: float, reps: int,
                 seed: int, device="cpu") -> dict[str, np.ndarray]:
    """The isotropic model of Hastie et al. at ``p = round(gamma n)`` for each gamma, ``reps`` draws each.

    Returns ``gammas`` (the realised :math:`p/n`), ``p``, arrays ``risk``, ``bias`` and
    ``variance`` of shape ``(len(gammas), reps)``
    (:func:`dltheory.double_descent.isotropic_risks`; the seed of the ``k``-th
    gamma is ``seed + k``), ``mean`` (of ``risk`` over the draws), ``limit``
    (:func:`~dltheory.double_descent.ridgeless_risk`) and ``finite``
    (:func:`~dltheory.double_descent.ridgeless_risk_finite`).
    """
    n, reps, seed = check_int(n, "n", min=2), check_int(reps, "reps", min=1), check_seed(seed)
    ps = [check_int(round(check_real(g, "gamma", min=0.0, min_open=True) * n), "p", min=1) for g in gammas]
    dev = float64_device(device)
    runs = [dd.isotropic_risks(n, p, r=r, sigma=sigma, reps=reps, seed=seed + k, device=dev)
            for k, p in enumerate(ps)]
    out = {key: np.stack([run[key] for run in runs]) for key in ("risk", "bias", "variance")}
    realised = np.asarray(ps) / n
    out.update(gammas=realised, p=np.asarray(ps), mean=out["risk"].mean(axis=1),
               limit=dd.ridgeless_risk(realised, r**2, sigma**2),
               finite=np.array([dd.ridgeless_risk_finite(n, p, r**2, sigma**2) for p in ps]))
    return out
