"""The trace and the eigenvalue density of the Hessian from random probes: Hutchinson and
stochastic Lanczos quadrature."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .. import losses
from .._checks import check_int, check_real, check_seed
from .._progress import progress_bar
from .eigenpairs import LanczosProcess
from .objective import Objective, build


def _rademacher(P: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (P,), generator=generator).to(torch.float64).mul_(2).sub_(1)


class TraceEstimate(NamedTuple):
    """Result of :func:`hessian_trace`: ``estimate, standard_error`` (Python floats)."""

    estimate: float
    standard_error: float


def hessian_trace(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *, samples: int = 100, seed: int = 0,
                  progress: bool | None = None) -> TraceEstimate:
    """Hutchinson's estimate of :math:`\\operatorname{tr} H` and its standard error.

    With Rademacher probes :math:`z_s \\in \\{-1, +1\\}^P`,
    :math:`\\mathbb{E}[z^\\top H z] = \\operatorname{tr} H`, and

    .. math::  \\widehat{\\operatorname{tr}} = \\frac1S \\sum_{s=1}^S z_s^\\top H z_s,
               \\qquad \\text{SE} = \\frac{\\operatorname{std}(z_s^\\top H z_s)}{\\sqrt S}

    (sample standard deviation, ``ddof=1``). Rademacher probes have the smallest
    variance, :math:`2(\\lVert H\\rVert_F^2 - \\sum_i H_{ii}^2)`, among i.i.d. probes
    (Hutchinson 1989; Avron & Toledo 2011, "Randomized algorithms for estimating
    the trace of an implicit symmetric positive semi-definite matrix").

    Parameters
    ----------
    samples
        Number of probes (Hessian-vector products), at least 2.
    seed
        Seed of the probes; the result is deterministic for a seed.
    progress
        Show a progress bar over the probes (default: at full scale only; see
        :mod:`dltheory._progress`).

    Returns
    -------
    :class:`TraceEstimate` ``(estimate, standard_error)`` of Python floats.
    """
    samples = check_int(samples, "samples", min=2)
    seed = check_seed(seed)
    obj = build(model, loss, X, y, check_outputs=False)  # checked_loss checks
    op = obj.hvp_reusing_graph()
    generator = torch.Generator().manual_seed(seed)
    values = torch.empty(samples, dtype=torch.float64)
    for s in progress_bar(range(samples), desc="Hutchinson probes", progress=progress):
        z = _rademacher(obj.P, generator).to(device=obj.device, dtype=obj.dtype)
        values[s] = torch.dot(z.to(torch.float64), op(z).to(torch.float64)).item()
    return TraceEstimate(values.mean().item(), (values.std(correction=1) / math.sqrt(samples)).item())


class Quadrature(NamedTuple):
    """Result of :func:`slq_quadrature`: ``nodes, weights``, each ``(probes, m)``."""

    nodes: torch.Tensor
    weights: torch.Tensor


def _slq(obj: Objective, lanczos_steps: int, probes: int, seed: int,
         progress: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature nodes and weights in float64 NumPy arrays ``(probes, m)``."""
    m = min(lanczos_steps, obj.P)
    device = obj.basis_device()
    matvec = obj.float64(obj.hvp_reusing_graph(), device)
    generator = torch.Generator().manual_seed(seed)
    nodes = np.zeros((probes, m))
    weights = np.zeros((probes, m))
    for p in progress_bar(range(probes), desc="SLQ probes", progress=progress):
        z = _rademacher(obj.P, generator).to(device)
        proc = LanczosProcess(matvec, z, capacity=m)
        for j in range(m):
            _, breakdown = proc.step()
            if breakdown or j == m - 1:
                break  # at an invariant subspace the quadrature with j + 1 nodes is already exact
            proc.advance()
        theta, S = proc.ritz()
        steps = len(theta)
        nodes[p, :steps] = theta
        nodes[p, steps:] = theta[-1]  # padding: weight 0
        weights[p, :steps] = S[0] ** 2
    return nodes, weights


def _slq_arguments(lanczos_steps: int, probes: int, seed: int) -> tuple[int, int, int]:
    return check_int(lanczos_steps, "lanczos_steps", min=1), check_int(probes, "probes", min=1), check_seed(seed)


def slq_quadrature(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *, lanczos_steps: int = 80,
                   probes: int = 10, seed: int = 0, progress: bool | None = None) -> Quadrature:
    """Stochastic Lanczos quadrature: Gauss rules for the spectral measure seen by random probes.

    For a unit probe :math:`v = z/\\sqrt P` (Rademacher :math:`z`), :math:`m` Lanczos
    steps from :math:`v` give a tridiagonal :math:`T_m = S \\Theta S^\\top`; its
    eigenvalues :math:`\\vartheta_j` and weights :math:`\\tau_j = S_{1j}^2` (summing to 1)
    form the :math:`m`-point Gauss rule of the measure
    :math:`\\mu_v = \\sum_i (v^\\top u_i)^2 \\delta_{\\lambda_i}` of :math:`H = \\sum_i
    \\lambda_i u_i u_i^\\top`: :math:`\\sum_j \\tau_j p(\\vartheta_j) = v^\\top p(H) v` for every
    polynomial of degree :math:`\\le 2m-1` (Golub & Meurant 2010, *Matrices, Moments
    and Quadrature*; Ubaru, Chen, Saad 2017). Since :math:`\\mathbb{E}\\,\\mu_v` is the
    eigenvalue density :math:`\\frac1P\\sum_i \\delta_{\\lambda_i}`, averaging over probes
    estimates it (Ghorbani, Krishnan, Xiao 2019).

    Parameters
    ----------
    lanczos_steps
        :math:`m`, the Hessian-vector products per probe; capped at :math:`P`.
    probes
        Number of independent probes.
    seed
        Seed of the probes.
    progress
        Show a progress bar over the probes (default: at full scale only; see
        :mod:`dltheory._progress`).

    Returns
    -------
    :class:`Quadrature` ``(nodes, weights)``, each ``(probes, min(lanczos_steps, P))``
    on the model's device and dtype. If a probe's Krylov space is invariant after
    :math:`j < m` steps its rule is exact with :math:`j` nodes; the remaining
    entries have weight 0.
    """
    lanczos_steps, probes, seed = _slq_arguments(lanczos_steps, probes, seed)
    obj = build(model, loss, X, y, check_outputs=False)  # checked_loss checks
    nodes, weights = _slq(obj, lanczos_steps, probes, seed, progress)
    cast = {"device": obj.device, "dtype": obj.dtype}
    return Quadrature(torch.from_numpy(nodes).to(**cast), torch.from_numpy(weights).to(**cast))


class SpectralDensity(NamedTuple):
    """Result of :func:`spectral_density`: ``grid, density``, each ``(grid_size,)``."""

    grid: torch.Tensor
    density: torch.Tensor


def spectral_density(model: nn.Module, loss: str | losses.Loss, X: Any, y: Any, *, lanczos_steps: int = 80,
                     probes: int = 10, grid_size: int = 1000, sigma: float | None = None, seed: int = 0,
                     progress: bool | None = None) -> SpectralDensity:
    """Smoothed eigenvalue density of the Hessian by stochastic Lanczos quadrature.

    .. math::  \\hat\\phi(t) = \\frac{1}{n_v} \\sum_{v} \\sum_{j=1}^m \\tau^{(v)}_j\\,
               \\mathcal N\\bigl(t;\\, \\vartheta^{(v)}_j, \\sigma^2\\bigr)

    with the nodes and weights of :func:`slq_quadrature` (Ghorbani, Krishnan, Xiao
    2019, "An investigation into neural net optimization via Hessian eigenvalue
    density", sec. 3). It estimates :math:`\\frac1P\\sum_i \\mathcal N(t; \\lambda_i,
    \\sigma^2)`, integrates to 1, and costs ``probes * lanczos_steps`` Hessian-vector
    products.

    Parameters
    ----------
    sigma
        Width of the Gaussian kernel. Default: 1% of the spectral range seen by the
        nodes, :math:`0.01(\\max\\vartheta - \\min\\vartheta)` (or 1% of
        :math:`\\max|\\vartheta|`, or 0.01, if that range is 0). A smaller ``sigma``
        needs a finer grid: keep the grid spacing below about ``sigma``.
    grid_size
        Number of grid points, which run from :math:`\\min\\vartheta - 6\\sigma` to
        :math:`\\max\\vartheta + 6\\sigma` (so the density's mass outside is negligible).
    lanczos_steps, probes, seed, progress
        As for :func:`slq_quadrature`.

    Returns
    -------
    :class:`SpectralDensity` ``(grid, density)`` on the model's device and dtype.
    The density is computed in float64; ``torch.trapezoid(density, grid)`` is 1 up
    to discretisation error.
    """
    grid_size = check_int(grid_size, "grid_size", min=2)
    sigma = check_real(sigma, "sigma", min=0.0, min_open=True, allow_none=True)
    lanczos_steps, probes, seed = _slq_arguments(lanczos_steps, probes, seed)
    obj = build(model, loss, X, y, check_outputs=False)  # checked_loss checks
    nodes, weights = _slq(obj, lanczos_steps, probes, seed, progress)
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        scale = hi - lo or max(abs(lo), abs(hi)) or 1.0
        sigma = 0.01 * scale
    grid = np.linspace(lo - 6 * sigma, hi + 6 * sigma, grid_size)
    density = np.zeros(grid_size)
    norm = 1.0 / (sigma * math.sqrt(2 * math.pi))
    for theta, tau in zip(nodes, weights):
        z = (grid[None, :] - theta[:, None]) / sigma
        density += tau @ np.exp(-0.5 * z * z)
    density *= norm / nodes.shape[0]
    cast = {"device": obj.device, "dtype": obj.dtype}
    return SpectralDensity(torch.from_numpy(grid).to(**cast), torch.from_numpy(density).to(**cast))
