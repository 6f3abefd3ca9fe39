"""Double descent: minimum-norm regression on random features, and the ridgeless risk in closed form.

Two models of "more parameters than examples", both fitted by the
minimum-norm least-squares interpolant (:func:`dltheory.linear.min_norm_solution`,
which owns that estimator; the limit of gradient descent from zero):

* **Random-features regression** (Belkin, Hsu, Ma & Mandal 2019; the
  nonlinear model of Hastie, Montanari, Rosset & Tibshirani 2019). With
  :math:`N` frozen random first-layer weights :math:`w_j \\sim N(0, I_d)`,

  .. math::  \\phi(x) = \\frac{1}{\\sqrt N}\\,\\bigl(\\sigma(\\langle w_j, x\\rangle/\\sqrt d)\\bigr)_{j=1}^N,
             \\qquad \\hat f(x) = \\langle \\hat\\theta, \\phi(x)\\rangle,
             \\qquad \\hat\\theta = \\Phi^+ y,

  the second layer is the minimum-norm least-squares fit: the unique
  least-squares solution for :math:`N < n`, the interpolant of least norm for
  :math:`N > n`. Its test error blows up at :math:`N = n` and falls again as
  :math:`N` grows (:func:`random_feature_weights`, :func:`random_features`,
  :func:`min_norm_fit`).

* **The isotropic linear model** of Hastie et al. (2019, Theorem 1):
  :math:`x \\sim N(0, I_p)`, :math:`y = \\langle x, \\beta\\rangle + \\varepsilon`,
  :math:`\\lVert\\beta\\rVert = r`, :math:`\\operatorname{Var}\\varepsilon = \\sigma^2`,
  :math:`\\hat\\beta = X^+ y`, and the risk
  :math:`R = \\mathbb E_{x}(\\langle x, \\hat\\beta - \\beta\\rangle^2) = \\lVert\\hat\\beta - \\beta\\rVert^2`
  (the test noise excluded). As :math:`n, p \\to \\infty` with :math:`p/n \\to \\gamma`,

  .. math::  R \\to \\sigma^2\\frac{\\gamma}{1-\\gamma} \\quad (\\gamma < 1), \\qquad
             R \\to r^2\\Bigl(1 - \\frac1\\gamma\\Bigr) + \\frac{\\sigma^2}{\\gamma - 1} \\quad (\\gamma > 1)

  (:func:`ridgeless_risk`). For Gaussian :math:`X` the expectation is known at
  every finite size (:func:`ridgeless_risk_finite`): the variance is
  :math:`\\sigma^2\\,\\mathbb E\\operatorname{tr}(X^\\top X)^{-1} = \\sigma^2 p/(n-p-1)` for
  :math:`p < n - 1` and :math:`\\sigma^2\\,\\mathbb E\\operatorname{tr}(XX^\\top)^{-1} = \\sigma^2 n/(p-n-1)`
  for :math:`p > n + 1` (the mean of an inverse Wishart matrix), and the bias
  for :math:`p > n` is :math:`\\lVert(I - X^+X)\\beta\\rVert^2`, whose mean is
  :math:`r^2(1 - n/p)` because :math:`X^+X` projects onto a uniformly random
  :math:`n`-dimensional subspace. :func:`isotropic_risks` simulates the model.

References
----------
M. Belkin, D. Hsu, S. Ma and S. Mandal, *Reconciling modern machine-learning
practice and the classical bias-variance trade-off*, PNAS 116 (2019).
T. Hastie, A. Montanari, S. Rosset and R. J. Tibshirani, *Surprises in
high-dimensional ridgeless least squares interpolation*, arXiv:1903.08560
(2019); Annals of Statistics 50 (2022).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import linear
from ._checks import check_choice, check_int, check_real, check_seed, check_tensor

__all__ = [
    "ACTIVATIONS",
    "random_feature_weights",
    "random_features",
    "min_norm_fit",
    "ridgeless_risk",
    "ridgeless_risk_finite",
    "isotropic_risks",
]

#: The feature maps :func:`random_features` offers.
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda z: z}


def random_feature_weights(d: int, N: int, *, seed: int, dtype: torch.dtype = torch.float64,
                           device="cpu") -> torch.Tensor:
    """``N`` frozen first-layer weights :math:`w_j \\sim N(0, I_d)`, as the rows of an ``(N, d)`` tensor.

    Drawn from their own generator seeded with ``seed``. To nest models of
    several sizes, draw once at the largest ``N`` and take the first rows:
    torch draws a different sequence for a different ``N``.
    """
    d, N = check_int(d, "d", min=1), check_int(N, "N", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    return torch.randn(N, d, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)


def random_features(X: torch.Tensor, W: torch.Tensor, activation: str = "relu") -> torch.Tensor:
    """The ``(n, N)`` feature matrix :math:`\\Phi_{ij} = \\sigma(\\langle w_j, x_i\\rangle/\\sqrt d)/\\sqrt N`.

    Parameters
    ----------
    X : tensor of shape (n, d)
        Inputs as rows.
    W : tensor of shape (N, d)
        First-layer weights as rows (:func:`random_feature_weights`).
    activation : {'relu', 'tanh', 'identity'}
        :math:`\\sigma`. The scalings :math:`1/\\sqrt d` and :math:`1/\\sqrt N` keep
        pre-activations and :math:`\\lVert\\phi(x)\\rVert` of order one; they do
        not change the minimum-norm *predictions*, which a common factor on all
        features leaves alone.
    """
    X, W = check_tensor(X, "X", ndim=2), check_tensor(W, "W", ndim=2)
    if X.shape[1] != W.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but W has {W.shape[1]} columns: W must be (N, d)")
    sigma = ACTIVATIONS[check_choice(activation, "activation", ACTIVATIONS)]
    X = X if X.is_floating_point() else X.double()
    W = W.to(X)
    return sigma(X @ W.T / math.sqrt(X.shape[1])) / math.sqrt(W.shape[0])


def min_norm_fit(Phi: torch.Tensor, y: torch.Tensor, Phi_test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit :math:`\\hat\\theta = \\Phi^+ y` (:func:`dltheory.linear.min_norm_solution`) and predict.

    Returns the fitted values on the training features ``Phi`` ``(n, N)`` and the
    predictions on ``Phi_test`` ``(m, N)``, both 1-D. For :math:`N \\ge n` and
    features in general position the fitted values equal ``y`` (interpolation).
    """
    Phi, Phi_test = check_tensor(Phi, "Phi", ndim=2), check_tensor(Phi_test, "Phi_test", ndim=2)
    y = check_tensor(y, "y", ndim=1)
    if Phi_test.shape[1] != Phi.shape[1]:
        raise ValueError(f"Phi has {Phi.shape[1]} features but Phi_test has {Phi_test.shape[1]}")
    theta = linear.min_norm_solution(Phi, y[:, None].to(Phi))[0]  # (N,)
    return Phi @ theta, Phi_test.to(Phi) @ theta


def _gamma(gamma) -> np.ndarray:
    g = np.asarray(gamma, dtype=float)
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gamma = p/n must be positive and finite, got {gamma!r}")
    return g


def ridgeless_risk(gamma, r2: float = 1.0, sigma2: float = 1.0):
    """Hastie et al.'s limiting risk of the minimum-norm estimator, isotropic features (Theorem 1).

    .. math::  R(\\gamma) = \\sigma^2\\frac{\\gamma}{1-\\gamma} \\ (\\gamma < 1), \\qquad
               R(\\gamma) = r^2\\Bigl(1 - \\frac1\\gamma\\Bigr) + \\frac{\\sigma^2}{\\gamma - 1} \\ (\\gamma > 1),

    and :math:`+\\infty` at :math:`\\gamma = 1`. ``gamma`` :math:`= p/n` may be a
    number (a float is returned) or an array (an array of its shape).
    ``r2`` :math:`= \\lVert\\beta\\rVert^2` is the signal, ``sigma2`` the noise variance.
    """
    g = _gamma(gamma)
    r2, sigma2 = check_real(r2, "r2", min=0.0), check_real(sigma2, "sigma2", min=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = sigma2 * g / (1 - g)
        over = r2 * (1 - 1 / g) + sigma2 / (g - 1)
    risk = np.where(g < 1, under, np.where(g > 1, over, np.inf))
    return float(risk) if risk.ndim == 0 else risk


def ridgeless_risk_finite(n: int, p: int, r2: float = 1.0, sigma2: float = 1.0) -> float:
    """The exact expected risk :math:`\\mathbb E\\lVert X^+y - \\beta\\rVert^2` for Gaussian :math:`X` ``(n, p)``.

    .. math::  \\sigma^2\\frac{p}{n - p - 1} \\ (p < n - 1), \\qquad
               r^2\\Bigl(1 - \\frac np\\Bigr) + \\sigma^2\\frac{n}{p - n - 1} \\ (p > n + 1),

    from the mean of an inverse Wishart matrix,
    :math:`\\mathbb E(X^\\top X)^{-1} = I_p/(n - p - 1)`, and, for :math:`p > n`, the
    projection :math:`X^+X` onto a uniformly random :math:`n`-dimensional
    subspace. For :math:`n - 1 \\le p \\le n + 1` the expectation is infinite.
    As :math:`p/n \\to \\gamma` it tends to :func:`ridgeless_risk`.
    """
    n, p = check_int(n, "n", min=1), check_int(p, "p", min=1)
    r2, sigma2 = check_real(r2, "r2", min=0.0), check_real(sigma2, "sigma2", min=0.0)
    if p < n - 1:
        return sigma2 * p / (n - p - 1)
    if p > n + 1:
        return r2 * (1 - n / p) + sigma2 * n / (p - n - 1)
    return math.inf


def isotropic_risks(n: int, p: int, *, r: float = 1.0, sigma: float = 1.0, reps: int = 1, seed: int,
                    dtype: torch.dtype = torch.float64, device="cpu") -> dict[str, np.ndarray]:
    """Simulate the isotropic model ``reps`` times: the risk of :math:`\\hat\\beta = X^+y` given :math:`X`.

    Each repetition draws :math:`X` ``(n, p)`` with i.i.d. :math:`N(0, 1)` entries
    and :math:`\\beta` uniform on the sphere of radius ``r``, and returns Hastie
    et al.'s risk conditional on :math:`X` (the expectation over the noise
    :math:`\\varepsilon \\sim N(0, \\sigma^2 I_n)` and over an isotropic test point),

    .. math::  R_X = \\mathbb E\\bigl[\\lVert\\hat\\beta - \\beta\\rVert^2 \\bigm| X\\bigr]
               = \\underbrace{\\lVert (I - X^+X)\\beta\\rVert^2}_{\\text{bias}}
               + \\underbrace{\\sigma^2 \\lVert X^+\\rVert_F^2}_{\\text{variance}},

    because :math:`\\hat\\beta = X^+X\\beta + X^+\\varepsilon`. Both terms come from
    one call of :func:`dltheory.linear.min_norm_solution` with the targets
    :math:`[X\\beta, I_n]`: its first row is :math:`X^+X\\beta` (the noiseless
    fit), the others are :math:`X^+` transposed. The mean over repetitions
    estimates :func:`ridgeless_risk_finite`.

    Returns
    -------
    dict
        ``bias``, ``variance`` and ``risk`` (their sum), arrays of shape ``(reps,)``.
    """
    n, p, reps = check_int(n, "n", min=1), check_int(p, "p", min=1), check_int(reps, "reps", min=1)
    r, sigma = check_real(r, "r", min=0.0), check_real(sigma, "sigma", min=0.0)
    g = torch.Generator().manual_seed(check_seed(seed))
    bias, variance = np.empty(reps), np.empty(reps)
    for k in range(reps):
        X = torch.randn(n, p, generator=g, dtype=torch.float64)
        beta = torch.randn(p, generator=g, dtype=torch.float64)
        beta *= r / beta.norm()
        X, beta = X.to(dtype=dtype, device=device), beta.to(dtype=dtype, device=device)
        targets = torch.cat([(X @ beta)[:, None], torch.eye(n, dtype=dtype, device=device)], dim=1)
        solution = linear.min_norm_solution(X, targets)  # (1 + n, p)
        bias[k] = float((solution[0] - beta).pow(2).sum())
        variance[k] = sigma**2 * float(solution[1:].pow(2).sum())
    return {"bias": bias, "variance": variance, "risk": bias + variance}
