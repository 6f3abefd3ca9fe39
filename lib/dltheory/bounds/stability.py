"""Algorithm-dependent generalisation bounds of noisy and plain gradient methods.

* :func:`sgld_pac_bayes_term`: the data-dependent sum in the PAC-Bayes bound for
  SGLD on an :math:`\\ell_2`-regularised objective (Mou, Wang, Zhai, Zheng 2018),
  old gradients forgotten at the rate :math:`e^{-\\lambda(T_N - T_k)/2}`;
* :func:`sgld_stability_bound`: their uniform-stability bound for SGLD, which
  depends on the step sizes, the temperature and a global Lipschitz constant,
  and on nothing else: not on the data;
* :func:`hardt_stability_bound`: the uniform-stability bound of SGD on a smooth
  non-convex loss with steps :math:`\\eta_t \\le c/t` (Hardt, Recht, Singer 2016,
  Theorem 3.12).

All return plain floats (or a NumPy array for the running term) in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._checks import check_int, check_real

__all__ = ["sgld_pac_bayes_term", "sgld_stability_bound", "sgld_k0", "hardt_stability_bound"]


def _array(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return arr


def sgld_pac_bayes_term(etas: Sequence[float] | float, grad_norms_sq: Sequence[float], lam: float, *,
                        cumulative: bool = False) -> float | np.ndarray:
    """The PAC-Bayes sum of Mou et al. (2018): :math:`\\sum_{k=1}^N \\eta_k e^{-\\lambda(T_N - T_k)/2}\\lVert g_k\\rVert^2`.

    Here :math:`T_k = \\sum_{j \\le k}\\eta_j` is the time SGLD has travelled after
    :math:`k` steps and :math:`g_k` the stochastic gradient of step :math:`k`. For
    SGLD at inverse temperature :math:`\\beta` on the objective
    :math:`F_S(w) + \\frac\\lambda2\\lVert w\\rVert^2`, Mou, Wang, Zhai and Zheng
    (2018, the PAC-Bayesian theorem; deck 5) bound the expected generalisation
    error after :math:`N` steps, with high probability over the sample, by
    :math:`O\\bigl(\\sqrt{(\\beta/n)\\sum_k \\eta_k e^{-\\lambda(T_N-T_k)/2}\\,
    \\mathbb E\\lVert g_k\\rVert^2}\\bigr)`; this function is the sum, with the
    measured :math:`\\lVert g_k\\rVert^2` in place of their expectation. The
    weight decay :math:`\\lambda > 0` makes old steps count less: a gradient
    taken a time :math:`\\Delta T` ago enters with weight :math:`e^{-\\lambda\\Delta T/2}`.

    Computed by the recursion :math:`S_N = e^{-\\lambda\\eta_N/2} S_{N-1} + \\eta_N\\lVert g_N\\rVert^2`,
    :math:`S_0 = 0`, which is the sum above term by term.

    Parameters
    ----------
    etas : float or sequence of shape (N,)
        Step sizes :math:`\\eta_k \\ge 0`; a number is a constant step.
    grad_norms_sq : sequence of shape (N,)
        :math:`\\lVert g_k\\rVert^2` (e.g. :class:`dltheory.train.GradientNorms`).
    lam : float
        :math:`\\lambda \\ge 0`; with :math:`\\lambda = 0` nothing is forgotten.
    cumulative : bool
        Return the array :math:`(S_1, \\dots, S_N)` instead of :math:`S_N`.

    Returns
    -------
    float or ndarray of shape (N,)

    Raises
    ------
    ValueError
        Negative or non-finite inputs, or ``etas`` and ``grad_norms_sq`` of different lengths.

    Examples
    --------
    >>> sgld_pac_bayes_term([0.5, 0.5], [4.0, 2.0], lam=0.0)
    3.0
    >>> round(sgld_pac_bayes_term([1.0, 1.0], [1.0, 0.0], lam=2.0), 6)  # e^{-1}
    0.367879
    """
    g2 = _array(grad_norms_sq, "grad_norms_sq")
    if np.ndim(etas) == 0:
        eta = np.full_like(g2, check_real(etas, "etas", min=0.0))
    else:
        eta = _array(etas, "etas")
        if eta.shape != g2.shape:
            raise ValueError(f"etas and grad_norms_sq differ in length: {eta.size} and {g2.size}")
    lam = check_real(lam, "lam", min=0.0)
    decay = np.exp(-0.5 * lam * eta)
    out = np.empty_like(g2)
    running = 0.0
    for k in range(g2.size):
        running = decay[k] * running + eta[k] * g2[k]
        out[k] = running
    return out if cumulative else float(out[-1])


def sgld_k0(L: float, beta: float, etas: Sequence[float]) -> int:
    """:math:`k_0 = \\min\\{k : \\eta_k\\beta L^2 < 1\\}` of Mou et al. (2018), 1-based.

    Returns ``len(etas) + 1`` when no step is small enough. With the steps of
    the theorem, non-increasing, all steps after :math:`k_0` satisfy the condition.
    """
    L = check_real(L, "L", min=0.0)
    beta = check_real(beta, "beta", min=0.0)
    eta = _array(etas, "etas")
    small = np.nonzero(eta * beta * L**2 < 1.0)[0]
    return int(small[0]) + 1 if small.size else eta.size + 1


def sgld_stability_bound(L: float, beta: float, etas: Sequence[float], n: int, *, C: float = 1.0) -> float:
    """The SGLD stability bound of Mou, Wang, Zhai, Zheng (2018), evaluated as :math:`\\frac{2C}{n}\\bigl(k_0 + L\\sqrt{\\beta\\sum_{k=k_0+1}^N\\eta_k}\\bigr)`.

    SGLD, :math:`w_k = w_{k-1} - \\eta_k g_k + \\sqrt{2\\eta_k/\\beta}\\,\\xi_k`, on a
    loss bounded by :math:`C` and :math:`L`-Lipschitz in :math:`w` for every
    example, run for :math:`N` steps. Mou et al.'s stability theorem bounds the
    expected generalisation error by the *order*
    :math:`O\\bigl(\\frac1n(k_0 + L\\sqrt{\\beta\\sum_{k>k_0}\\eta_k})\\bigr)`, with
    :math:`k_0 = \\min\\{k : \\eta_k\\beta L^2 < 1\\}` (:func:`sgld_k0`), as deck 5
    quotes it. The leading constant :math:`2C` is *our* choice, not a constant
    copied from the paper: it is the factor of the usual argument, in which the
    gap of a loss bounded by :math:`C` is at most :math:`2C` times the total
    variation between the laws of the outputs on two samples that differ in one
    example, each step's Gaussian noise hiding a gradient difference of size at
    most :math:`2L`. Use the value for its form (its dependence on
    :math:`n, \\beta, \\sum\\eta_k`), not as a certified number.

    It depends on :math:`L, \\beta, (\\eta_k), n` and :math:`C` only: **not on
    the data** (true or random labels give the same number) and not on the
    trajectory.

    Parameters
    ----------
    L : float
        Global Lipschitz constant of the loss in the parameters, :math:`L \\ge 0`.
    beta : float
        Inverse temperature :math:`\\beta = 1/T > 0` (``train.SGLD(temperature=1/beta)``).
    etas : sequence of shape (N,)
        The step sizes.
    n : int
        Number of training examples.
    C : float
        Bound on the loss, :math:`0 \\le \\ell \\le C` (1 for the 0-1 loss).

    Returns
    -------
    float

    Examples
    --------
    >>> round(sgld_stability_bound(1.0, 1.0, [0.25] * 4, 100), 6)  # k0 = 1
    0.037321
    """
    L = check_real(L, "L", min=0.0)
    beta = check_real(beta, "beta", min=0.0, min_open=True)
    n = check_int(n, "n", min=1)
    C = check_real(C, "C", min=0.0)
    eta = _array(etas, "etas")
    k0 = sgld_k0(L, beta, eta)
    tail = float(eta[k0:].sum())  # steps k0 + 1, ..., N (1-based)
    return 2.0 * C / n * (min(k0, eta.size) + L * math.sqrt(beta * tail))


def hardt_stability_bound(L: float, beta: float, T: int, n: int, *, c: float) -> float:
    """Uniform stability of SGD on a smooth non-convex loss (Hardt, Recht, Singer 2016, Theorem 3.12).

    For a loss with values in :math:`[0, 1]`, :math:`L`-Lipschitz and
    :math:`\\beta`-smooth in the parameters for every example, SGD for :math:`T`
    steps with non-increasing steps :math:`\\eta_t \\le c/t` is
    :math:`\\epsilon`-uniformly stable with

    .. math::  \\epsilon \\le \\frac{1 + 1/(\\beta c)}{n - 1}\\,
               (2cL^2)^{\\frac{1}{\\beta c + 1}}\\; T^{\\frac{\\beta c}{\\beta c + 1}},

    and the expected generalisation gap is at most :math:`\\epsilon`. It grows
    with :math:`T`, almost linearly when :math:`\\beta c` is large: train faster
    (smaller :math:`T`, smaller :math:`c`), generalise better. Deck 5 quotes it as
    :math:`O(T^{1 - 1/(\\beta c + 1)}/n)`.

    Parameters
    ----------
    L, beta, c : float
        Lipschitz constant, smoothness and step constant, all :math:`> 0`.
    T : int
        Number of SGD steps, at least 1.
    n : int
        Number of training examples, at least 2.

    Returns
    -------
    float

    Examples
    --------
    >>> hardt_stability_bound(1.0, 1.0, 1, 2, c=1.0)  # 2 * 2**(1/2) * 1
    2.8284271247461903
    """
    L = check_real(L, "L", min=0.0, min_open=True)
    beta = check_real(beta, "beta", min=0.0, min_open=True)
    c = check_real(c, "c", min=0.0, min_open=True)
    T = check_int(T, "T", min=1)
    n = check_int(n, "n", min=2)
    q = beta * c
    return (1.0 + 1.0 / q) / (n - 1) * (2.0 * c * L**2) ** (1.0 / (q + 1.0)) * T ** (q / (q + 1.0))
