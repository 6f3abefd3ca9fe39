"""A PAC-Bayes bound on the error of a Gaussian-perturbed network (Dziugaite and Roy 2017).

:func:`pac_bayes_bound` in the Langford-Seeger / Maurer form, with the
binary KL divergence :func:`binary_kl`, its upper inverse :func:`kl_inverse` and
the KL divergence of isotropic Gaussians :func:`isotropic_gaussian_kl`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .._checks import (as_tensor, check_choice, check_int, check_module, check_probability, check_real,
                       check_seed, check_Xy, is_real, named_parameters, probe)
from .._progress import progress_bar
from .margins import output_margins

__all__ = ["binary_kl", "kl_inverse", "isotropic_gaussian_kl", "pac_bayes_bound"]


def binary_kl(q: float, p: float) -> float:
    """:math:`\\mathrm{kl}(q\\Vert p) = q\\ln\\frac qp + (1-q)\\ln\\frac{1-q}{1-p}`, the KL divergence of Bernoulli laws.

    Uses :math:`0 \\ln 0 = 0`; infinite when :math:`p \\in \\{0, 1\\}` differs from :math:`q`.
    """
    q, p = check_probability(q, "q", open=False), check_probability(p, "p", open=False)
    out = 0.0
    if q > 0:
        out += math.inf if p == 0 else q * math.log(q / p)
    if q < 1:
        out += math.inf if p == 1 else (1 - q) * math.log((1 - q) / (1 - p))
    return out


def kl_inverse(q: float, c: float, *, tol: float = 1e-12) -> float:
    """:math:`\\mathrm{kl}^{-1}(q, c) = \\max\\{p \\in [q, 1] : \\mathrm{kl}(q\\Vert p) \\le c\\}`, by bisection.

    The upper inverse of the binary KL divergence (:func:`binary_kl`), which
    turns the Langford-Seeger / Maurer PAC-Bayes inequality
    :math:`\\mathrm{kl}(\\hat e\\Vert e) \\le c` into the bound :math:`e \\le
    \\mathrm{kl}^{-1}(\\hat e, c)`. Since :math:`\\mathrm{kl}(q\\Vert\\cdot)` increases on
    :math:`[q, 1]`, bisection converges; the returned value is the upper end of
    the final bracket (width :math:`\\le` ``tol``), so it never undershoots.
    Pinsker's inequality gives :math:`\\mathrm{kl}^{-1}(q, c) \\le q + \\sqrt{c/2}`.
    """
    q = check_probability(q, "q", open=False)
    if not (is_real(c) and c == math.inf):
        c = check_real(c, "c", min=0.0)
    c = float(c)
    if q == 1.0 or c == math.inf:
        return 1.0
    if c == 0.0:
        return q
    if q == 0.0:
        return -math.expm1(-c)  # kl(0 || p) = -ln(1 - p)
    lo, hi = q, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if binary_kl(q, mid) > c:
            hi = mid
        else:
            lo = mid
    return hi


def isotropic_gaussian_kl(mean_q: torch.Tensor, mean_p: torch.Tensor, sigma_q: float, sigma_p: float) -> float:
    """:math:`\\mathrm{KL}(N(\\mu_q, \\sigma_q^2 I) \\Vert N(\\mu_p, \\sigma_p^2 I))` in closed form.

    .. math::

        \\frac12\\Big[\\frac{d\\,\\sigma_q^2 + \\lVert\\mu_q - \\mu_p\\rVert^2}{\\sigma_p^2}
        - d + 2d\\ln\\frac{\\sigma_p}{\\sigma_q}\\Big],

    :math:`d` the dimension.
    """
    mean_q, mean_p = as_tensor(mean_q, "mean_q"), as_tensor(mean_p, "mean_p")
    if mean_q.shape != mean_p.shape:
        raise ValueError(f"means have different shapes {tuple(mean_q.shape)} and {tuple(mean_p.shape)}")
    sq_dist = (mean_q.double() - mean_p.double().to(mean_q.device)).pow(2).sum().item()
    return _iso_kl(sq_dist, mean_q.numel(), sigma_q, sigma_p)


def _iso_kl(sq_dist: float, d: int, sigma_q: float, sigma_p: float) -> float:
    sigma_q = check_real(sigma_q, "sigma_q", min=0.0, min_open=True)
    sigma_p = check_real(sigma_p, "sigma_p", min=0.0, min_open=True)
    ratio = (sigma_q / sigma_p) ** 2
    return 0.5 * (d * ratio + sq_dist / sigma_p**2 - d - d * math.log(ratio))


def _as_sigmas(sigma, name: str) -> list[float]:
    values = list(sigma) if isinstance(sigma, (list, tuple, np.ndarray)) else [sigma]
    if not values:
        raise ValueError(f"{name} must be a positive number or a non-empty sequence of them")
    return [check_real(s, name, min=0.0, min_open=True) for s in values]


def _perturbed_errors(model: nn.Module, named: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor,
                      sigma: float, samples: int, seed: int, progress: bool | None) -> float:
    """Mean 0-1 training error of ``samples`` networks ``w + sigma * xi`` (the noise drawn on each device)."""
    generators: dict[torch.device, torch.Generator] = {}
    errors = 0.0
    for _ in progress_bar(range(samples), desc=f"PAC-Bayes sigma={sigma:.3g}", progress=progress):
        perturbed = {}
        for name, p in named.items():
            gen = generators.get(p.device)
            if gen is None:
                gen = generators[p.device] = torch.Generator(device=p.device).manual_seed(seed)
            noise = torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype)
            perturbed[name] = p + sigma * noise
        out = functional_call(model, perturbed, (X,))
        errors += (output_margins(out, y) <= 0).double().mean().item()
    return errors / samples


def pac_bayes_bound(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float | Sequence[float],
    prior: nn.Module | None = None,
    prior_sigma: float | None = None,
    samples: int = 1000,
    delta: float = 0.05,
    mc_delta: float = 0.01,
    loss: str = "01",
    seed: int = 0,
    progress: bool | None = None,
) -> dict:
    """A PAC-Bayes bound on the error of a Gaussian-perturbed network (Dziugaite and Roy 2017).

    Posterior :math:`Q = N(w, \\sigma^2 I)` around the trained parameters
    :math:`w` (all of ``model.parameters()``, biases included, in the
    parametrisation the optimiser sees: for ``NTKLinear`` the raw standard-normal
    ``weight``); prior :math:`P = N(w_0, \\sigma_P^2 I)` with :math:`w_0` the
    parameters of ``prior`` (Dziugaite and Roy used the random initialisation,
    which is chosen before the data are seen, as a prior must be) or the zero
    vector when ``prior`` is ``None``, and :math:`\\sigma_P` = ``prior_sigma``
    (default: :math:`\\sigma`). Then :math:`\\mathrm{KL}(Q\\Vert P)` is
    :func:`isotropic_gaussian_kl`.

    With probability :math:`\\ge 1 - \\delta - \\delta'`:

    1. *Sample convergence* (Langford and Caruana 2002; Dziugaite and Roy,
       sec. 3): the training error :math:`\\hat e(Q)` of the stochastic network
       is estimated by :math:`\\hat e_m`, the mean training 0-1 error of
       ``samples`` = :math:`m` seeded draws :math:`w + \\sigma\\xi`; then
       :math:`\\hat e(Q) \\le \\bar e = \\mathrm{kl}^{-1}(\\hat e_m, \\ln(2/\\delta')/m)`.
    2. *PAC-Bayes* (Langford-Seeger in the form of Maurer 2004, valid for
       :math:`n \\ge 8`): :math:`\\mathrm{kl}(\\hat e(Q)\\Vert e(Q)) \\le
       (\\mathrm{KL}(Q\\Vert P) + \\ln(2\\sqrt n/\\delta))/n`, hence

       .. math::  e(Q) \\le \\mathrm{kl}^{-1}\\Big(\\bar e,\\;
                  \\frac{\\mathrm{KL}(Q\\Vert P) + \\ln(2\\sqrt n/\\delta)}{n}\\Big).

       For :math:`n < 8` the always-valid :math:`\\ln((n+1)/\\delta)` replaces
       :math:`\\ln(2\\sqrt n/\\delta)`.

    A 0-1 error counts a margin :math:`\\le 0` (ties are errors). The bound is on
    the stochastic classifier :math:`Q`, not on the trained network itself.

    **Grid over sigma.** If ``sigma`` is a sequence of :math:`K` values (fixed
    before seeing the data), the bound is computed for each with
    :math:`\\delta/K` and :math:`\\delta'/K` (a union bound), so the smallest of
    them holds with probability :math:`\\ge 1-\\delta-\\delta'`; that one is
    returned, the others under ``"grid"``. A fixed ``prior_sigma`` applies to
    every grid value; by default each uses :math:`\\sigma_P = \\sigma`.

    Parameters
    ----------
    model
        Any network whose outputs are one score (labels in {-1, +1}) or class scores
        (integer labels); the architecture is not restricted here.
    sigma
        Posterior standard deviation, or a grid of them.
    prior
        Model with the same parameter names and shapes (the prior mean), or ``None``.
    samples
        Number :math:`m` of Monte Carlo draws of the weights.
    delta, mc_delta
        Failure probabilities of the PAC-Bayes step and the sample-convergence step.
    loss
        ``"01"``: the 0-1 loss (the only one implemented).
    seed
        Seeds a private generator: the same seed gives the same bound; the global
        generator is not touched. Every grid value uses the same draws of :math:`\\xi`.
    progress
        Show a progress bar over the draws (default: at full scale, see
        :mod:`dltheory._progress`).

    Returns
    -------
    dict
        ``bound``, ``kl`` (:math:`\\mathrm{KL}(Q\\Vert P)`), ``empirical_error``
        (:math:`\\hat e_m`), ``empirical_error_bound`` (:math:`\\bar e`),
        ``train_error`` (of the unperturbed network), ``sigma``, ``prior_sigma``,
        ``num_params``, ``n``, ``samples``, ``delta``, ``mc_delta``, and
        ``grid`` (one dict per sigma value).
    """
    named = {name: p.detach() for name, p in named_parameters(model)}
    X, y = check_Xy(X, y, like=model)
    n = X.shape[0]
    sigmas = _as_sigmas(sigma, "sigma")
    prior_sigma = None if prior_sigma is None else check_real(prior_sigma, "prior_sigma", min=0.0, min_open=True)
    samples = check_int(samples, "samples", min=1)
    delta = check_probability(delta, "delta")
    mc_delta = check_probability(mc_delta, "mc_delta")
    if delta + mc_delta >= 1:
        raise ValueError(f"delta + mc_delta must be below 1, got {delta} + {mc_delta}")
    check_choice(loss, "loss", ("01",))
    seed = check_seed(seed)
    if prior is None:
        prior_named = {name: torch.zeros_like(p) for name, p in named.items()}
    else:
        prior_named = {name: p.detach() for name, p in check_module(prior, "prior").named_parameters()}
        mine = {k: tuple(v.shape) for k, v in named.items()}
        theirs = {k: tuple(v.shape) for k, v in prior_named.items()}
        if mine != theirs:
            raise ValueError(f"prior must have the model's parameter names and shapes: {theirs} vs {mine}")
    d = sum(p.numel() for p in named.values())
    sq_dist = sum((named[k].double() - prior_named[k].double().to(named[k].device)).pow(2).sum().item() for k in named)
    K = len(sigmas)
    log_term = math.log(2.0 * math.sqrt(n) * K / delta) if n >= 8 else math.log((n + 1) * K / delta)
    mc_c = math.log(2.0 * K / mc_delta) / samples

    train_error = (output_margins(probe(model, X), y) <= 0).double().mean().item()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            grid = []
            for s in sigmas:
                sp = s if prior_sigma is None else prior_sigma
                kl = _iso_kl(sq_dist, d, s, sp)
                e_mc = min(max(_perturbed_errors(model, named, X, y, s, samples, seed, progress), 0.0), 1.0)
                e_bar = kl_inverse(e_mc, mc_c)
                grid.append({
                    "bound": kl_inverse(e_bar, (kl + log_term) / n),
                    "kl": kl,
                    "empirical_error": e_mc,
                    "empirical_error_bound": e_bar,
                    "sigma": s,
                    "prior_sigma": sp,
                })
    finally:
        model.train(was_training)
    best = min(grid, key=lambda g: g["bound"])
    return {
        **best,
        "train_error": train_error,
        "num_params": d,
        "n": n,
        "samples": samples,
        "delta": delta,
        "mc_delta": mc_delta,
        "grid": grid,
    }
