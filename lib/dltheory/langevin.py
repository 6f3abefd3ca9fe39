"""Langevin dynamics on low-dimensional landscapes, its Gibbs measure, and the Laplace mass of a minimum.

The overdamped Langevin diffusion :math:`dx = -\\nabla V(x)\\,dt + \\sqrt{2T}\\,dB_t`
has the Gibbs (Boltzmann) density :math:`p_T(x) = Z_T^{-1} e^{-V(x)/T}` as its
stationary law when :math:`e^{-V/T}` is integrable (Roberts & Tweedie 1996). The
deck reads stochastic gradient descent as such a diffusion ("SGD behaves like
gradient descent Langevin dynamics") and concludes that it prefers minima of
large volume. This module makes that statement computable:

* :func:`euler_maruyama`: many independent chains at once, vectorised in NumPy,
  :math:`x_{t+1} = x_t - \\eta\\nabla V(x_t) + \\sqrt{2\\eta T}\\,\\xi_t`;
* :class:`Potential`: a landscape whose wells are separated along one coordinate
  :math:`s` (the position in 1-D, the radius in a radially symmetric 2-D
  landscape), with two examples, :func:`sharp_flat_potential` (1-D, two minima
  of equal depth and different curvature) and :func:`ring_potential` (2-D, an
  isolated minimum inside a circle or an annulus of minima);
* :func:`gibbs_masses` and :func:`gibbs_density`: the exact Gibbs measure, by
  adaptive quadrature (``scipy.integrate.quad``) in :math:`s`;
* :func:`laplace_mass`: Laplace's approximation of a well's mass,
  :math:`\\operatorname{vol}(M)\\, e^{-V^*/T} \\prod_{i} (2\\pi T/\\kappa_i)^{1/2}` over
  the non-zero curvatures :math:`\\kappa_i` of a minimum set :math:`M`, so a
  minimum with :math:`k` flat directions in :math:`d` dimensions has mass
  :math:`\\propto T^{(d-k)/2}` (Poggio et al. 2017, "concentration because of
  high dimensionality");
* :func:`well_fractions` and :func:`histogram_tv`: what the chains say, to set
  against the exact measure.

The sampler is written by hand because it is the object of study (a
five-line loop); quadrature is SciPy's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize

from ._checks import check_int, check_real, check_seed

__all__ = ["Potential", "LangevinPath", "euler_maruyama", "sharp_flat_potential", "ring_potential",
           "gibbs_masses", "gibbs_density", "laplace_mass", "well_fractions", "histogram_tv"]


@dataclass(frozen=True)
class Potential:
    """A landscape :math:`V` on :math:`\\mathbb R^d` whose wells are intervals of one coordinate :math:`s`.

    Attributes
    ----------
    value, grad
        :math:`V` and :math:`\\nabla V` on arrays of positions of shape ``(..., dim)``,
        returning ``(...)`` and ``(..., dim)``.
    dim
        :math:`d`.
    coordinate
        :math:`s(x)`, shape ``(..., dim) -> (...)``: the position itself in 1-D,
        the radius :math:`\\lvert x\\rvert` for a radially symmetric landscape.
    profile
        :math:`V` as a function of :math:`s` (vectorised).
    weight
        The density of Lebesgue measure in :math:`s`: 1 in 1-D, :math:`2\\pi s` for
        the radius in 2-D, so that :math:`\\int_{\\mathbb R^d} f(V) = \\int f(V(s))\\,w(s)\\,ds`.
    lower
        The lower end of the range of :math:`s` (:math:`-\\infty`, or 0 for a radius).
    boundaries
        Increasing values of :math:`s` that separate the wells (the barriers).
    wells
        One name per well, from the lowest :math:`s` up.
    minima
        The values of :math:`s` at the minima (or at the ends of a flat set of
        minima): quadrature splits its intervals there, so that a narrow peak
        of :math:`e^{-V/T}` at low :math:`T` is not missed.
    laplace
        ``laplace(T) -> array``: :func:`laplace_mass` of each well, unnormalised.
    """

    value: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    dim: int
    coordinate: Callable[[np.ndarray], np.ndarray]
    profile: Callable[[np.ndarray], np.ndarray]
    weight: Callable[[np.ndarray], np.ndarray]
    lower: float
    boundaries: tuple[float, ...]
    wells: tuple[str, ...]
    minima: tuple[float, ...]
    laplace: Callable[[float], np.ndarray]


@dataclass(frozen=True)
class LangevinPath:
    """What :func:`euler_maruyama` returns.

    ``final`` ``(chains, dim)``: the last positions; ``samples``
    ``(records, chains, dim)``: the positions at ``steps`` (the step numbers
    recorded, after the burn-in).
    """

    final: np.ndarray
    samples: np.ndarray
    steps: np.ndarray


def euler_maruyama(grad: Callable[[np.ndarray], np.ndarray], x0, *, step: float, temperature: float,
                   steps: int, seed: int, burn_in: int = 0, record_every: int | None = None) -> LangevinPath:
    """Run independent Langevin chains with the Euler–Maruyama scheme.

    .. math:: x_{t+1} = x_t - \\eta\\,\\nabla V(x_t) + \\sqrt{2\\eta T}\\,\\xi_t,
              \\qquad \\xi_t \\sim N(0, I_d) \\text{ independent},

    the discretisation of :math:`dx = -\\nabla V\\,dt + \\sqrt{2T}\\,dB_t`, whose
    stationary density is :math:`\\propto e^{-V/T}`. The scheme's own stationary law
    is biased by :math:`O(\\eta)`: for :math:`V = \\kappa x^2/2` it is Gaussian with
    variance :math:`T/(\\kappa(1 - \\eta\\kappa/2))` instead of :math:`T/\\kappa`
    (solve :math:`v = (1 - \\eta\\kappa)^2 v + 2\\eta T`), so keep
    :math:`\\eta\\kappa_{\\max}` small (0.05 gives 2.5%). With :math:`T = 0` it is
    gradient descent.

    Parameters
    ----------
    grad
        :math:`\\nabla V` on arrays ``(chains, dim)``.
    x0
        Start positions, array-like of shape ``(chains, dim)``.
    step, temperature
        :math:`\\eta > 0` and :math:`T \\ge 0`.
    steps
        Number of updates.
    seed
        Seeds ``numpy.random.default_rng``, the only source of noise.
    burn_in, record_every
        Positions are recorded after every ``record_every`` updates once
        ``burn_in`` updates are done (default: only the last position).

    Returns
    -------
    LangevinPath
    """
    x = np.array(x0, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (chains, dim), got an array of shape {x.shape}")
    step = check_real(step, "step", min=0.0, min_open=True)
    temperature = check_real(temperature, "temperature", min=0.0)
    steps = check_int(steps, "steps", min=1)
    burn_in = check_int(burn_in, "burn_in", min=0, max=steps)
    record_every = steps - burn_in if record_every is None else check_int(record_every, "record_every", min=1)
    rng = np.random.default_rng(check_seed(seed))
    noise = math.sqrt(2.0 * step * temperature)
    records, at = [], []
    for t in range(1, steps + 1):
        x = x - step * grad(x) + noise * rng.standard_normal(x.shape)
        if t > burn_in and (t - burn_in) % max(record_every, 1) == 0:
            records.append(x.copy())
            at.append(t)
    samples = np.stack(records) if records else np.empty((0, *x.shape))
    return LangevinPath(x, samples, np.asarray(at, dtype=int))


def laplace_mass(curvatures: Sequence[float], temperature: float, *, depth: float = 0.0,
                 flat_volume: float = 1.0) -> float:
    """Laplace's approximation of :math:`\\int_{\\text{well}} e^{-V/T}` for a well around a set of minima.

    .. math:: m(T) \\approx \\operatorname{vol}_k(M)\\; e^{-V^*/T}\\;
              \\prod_{i=1}^{d-k} \\sqrt{2\\pi T/\\kappa_i},

    where :math:`M` is a :math:`k`-dimensional set of minima at height
    :math:`V^*` (a point: :math:`k = 0`, ``flat_volume`` 1), and
    :math:`\\kappa_1, \\dots, \\kappa_{d-k} > 0` are the curvatures across it (the
    non-zero eigenvalues of the Hessian). Expanding :math:`V` to second order
    and integrating the Gaussian gives it; the relative error is :math:`O(T)` for a smooth
    well. For two isolated minima of equal depth the ratio of masses is
    :math:`\\sqrt{\\det H_b / \\det H_a}`, whatever :math:`T`: the mass follows
    the volume :math:`(\\det H)^{-1/2}`, not the largest eigenvalue. A minimum with
    :math:`k` flat directions has :math:`T^{-k/2}` times the mass of an
    isolated one, which wins as :math:`T \\to 0`.
    """
    kappas = np.asarray(curvatures, dtype=np.float64).reshape(-1)
    if np.any(~np.isfinite(kappas)) or np.any(kappas <= 0):
        raise ValueError(f"curvatures must be positive (leave flat directions out and give flat_volume), "
                         f"got {kappas.tolist()}")
    temperature = check_real(temperature, "temperature", min=0.0, min_open=True)
    flat_volume = check_real(flat_volume, "flat_volume", min=0.0, min_open=True)
    depth = check_real(depth, "depth")
    return float(flat_volume * math.exp(-depth / temperature) * np.prod(np.sqrt(2 * math.pi * temperature / kappas)))


def _edges(potential: Potential, edges: Sequence[float] | None) -> np.ndarray:
    edges = np.asarray(potential.boundaries if edges is None else edges, dtype=np.float64).reshape(-1)
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be increasing, got {edges.tolist()}")
    if edges.size and edges[0] <= potential.lower:
        raise ValueError(f"edges must lie above the lower end {potential.lower} of the coordinate")
    return edges


def _boltzmann(potential: Potential, temperature: float) -> Callable[[float], float]:
    return lambda s: float(potential.weight(np.float64(s)) * np.exp(-potential.profile(np.float64(s)) / temperature))


def gibbs_masses(potential: Potential, temperature: float, edges: Sequence[float] | None = None,
                 *, normalize: bool = True) -> np.ndarray:
    """The Gibbs measure :math:`\\propto e^{-V/T}` of the cells cut by ``edges`` in the coordinate :math:`s`.

    The cells are :math:`(\\text{lower}, e_1), (e_1, e_2), \\dots, (e_m, \\infty)`,
    by default the wells (``edges = potential.boundaries``). Each mass is
    :math:`\\int e^{-V(s)/T}\\,w(s)\\,ds` by adaptive Gauss–Kronrod quadrature
    (``scipy.integrate.quad``); ``normalize`` divides by their sum, the partition
    function :math:`Z_T`.
    """
    temperature = check_real(temperature, "temperature", min=0.0, min_open=True)
    cuts = [potential.lower, *_edges(potential, edges), math.inf]
    f = _boltzmann(potential, temperature)
    masses = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        inner = [a, *(m for m in potential.minima if a < m < b), b]  # split at the peaks of e^{-V/T}
        masses.append(sum(integrate.quad(f, lo, hi, limit=200, epsabs=0.0, epsrel=1e-10)[0]
                          for lo, hi in zip(inner[:-1], inner[1:])))
    masses = np.array(masses)
    return masses / masses.sum() if normalize else masses


def gibbs_density(potential: Potential, s, temperature: float) -> np.ndarray:
    """The Gibbs density of the coordinate, :math:`e^{-V(s)/T} w(s) / Z_T`, at the points ``s``.

    For a 1-D potential this is :math:`p_T(x)`; for a radial one, the density of
    the radius :math:`\\lvert x\\rvert`. :math:`Z_T` comes from :func:`gibbs_masses`.
    """
    z = gibbs_masses(potential, temperature, edges=(), normalize=False).sum()
    s = np.asarray(s, dtype=np.float64)
    return potential.weight(s) * np.exp(-potential.profile(s) / temperature) / z


def well_fractions(potential: Potential, samples, edges: Sequence[float] | None = None) -> np.ndarray:
    """The fraction of ``samples`` ``(..., dim)`` whose coordinate falls in each cell of ``edges`` (default: the wells)."""
    s = potential.coordinate(np.asarray(samples, dtype=np.float64)).reshape(-1)
    cells = np.searchsorted(_edges(potential, edges), s, side="right")
    return np.bincount(cells, minlength=len(_edges(potential, edges)) + 1) / s.size


def histogram_tv(potential: Potential, samples, temperature: float, edges: Sequence[float]) -> float:
    """Total-variation distance :math:`\\tfrac12\\sum_b \\lvert \\hat p_b - p_b\\rvert` between the samples' histogram and the Gibbs measure.

    The cells are those of ``edges`` (the two unbounded end cells included), :math:`\\hat p_b`
    the fractions of :func:`well_fractions` and :math:`p_b` the exact masses of
    :func:`gibbs_masses`. It is the total-variation distance between the two
    laws coarsened to the cells, a lower bound of the full distance.
    """
    return 0.5 * float(np.abs(well_fractions(potential, samples, edges)
                              - gibbs_masses(potential, temperature, edges)).sum())


def sharp_flat_potential(ratio: float = 4.0, height: float = 1.0) -> Potential:
    """A 1-D double well with minima of equal depth 0 at :math:`x = \\mp 1`, the left one ``ratio`` times sharper.

    .. math:: V(x) = h\\,(x^2 - 1)^2\\,(1 - \\beta x + x^2), \\qquad \\beta = \\frac{2(r - 1)}{r + 1},

    a polynomial (cheap for many chains), with :math:`V(\\pm 1) = 0`, :math:`V > 0`
    elsewhere (:math:`0 \\le \\beta < 2`), and :math:`V''(\\pm 1) = 8h(2 \\pm \\beta)`:
    :math:`\\kappa_{\\text{sharp}} = 8h(2 + \\beta)` at :math:`-1`,
    :math:`\\kappa_{\\text{flat}} = 8h(2 - \\beta)` at :math:`+1`, ratio :math:`r`. The barrier
    between them is the maximum of :math:`V` on :math:`(-1, 1)`, found numerically
    (for :math:`r = 4`, :math:`h = 1`: height 1.20 at :math:`x = -0.286`). Laplace
    predicts the mass ratio flat/sharp :math:`\\to \\sqrt r` as :math:`T \\to 0`.
    """
    r = check_real(ratio, "ratio", min=1.0)
    h = check_real(height, "height", min=0.0, min_open=True)
    beta = 2 * (r - 1) / (r + 1)

    def profile(x):
        x = np.asarray(x, dtype=np.float64)
        q = x * x - 1
        return h * q * q * (1 - beta * x + x * x)

    def derivative(x):
        q = x * x - 1
        return h * q * (4 * x * (1 - beta * x + x * x) + q * (2 * x - beta))

    barrier = optimize.minimize_scalar(lambda x: -profile(x), bounds=(-1.0, 1.0), method="bounded",
                                       options={"xatol": 1e-12}).x
    kappas = (8 * h * (2 + beta), 8 * h * (2 - beta))
    return Potential(
        value=lambda x: profile(np.asarray(x)[..., 0]),
        grad=lambda x: derivative(np.asarray(x)),
        dim=1, coordinate=lambda x: np.asarray(x)[..., 0], profile=profile,
        weight=lambda s: np.ones_like(np.asarray(s, dtype=np.float64)), lower=-math.inf,
        boundaries=(float(barrier),), wells=("sharp", "flat"), minima=(-1.0, 1.0),
        laplace=lambda T: np.array([laplace_mass([k], T) for k in kappas]))


def ring_potential(radius: float = 2.0, outer_radius: float | None = None, curvature: float = 2.0) -> Potential:
    """A 2-D landscape: an isolated minimum at the origin inside a circle (or annulus) of minima.

    .. math:: V(x) = \\tfrac{\\kappa}{2}\\min\\bigl(\\lvert x\\rvert^2,\\;
              \\operatorname{dist}(\\lvert x\\rvert, [R_1, R_2])^2\\bigr),

    all minima at depth 0 with the same curvature :math:`\\kappa` across them.
    With ``outer_radius`` ``None`` (:math:`R_2 = R_1`) the outer minima form the
    circle :math:`\\lvert x\\rvert = R_1`, one flat direction (:math:`k = 1`); with
    :math:`R_2 > R_1`, the annulus, two (:math:`k = 2`). The wells meet at
    :math:`\\lvert x\\rvert = R_1/2`, over a barrier of height :math:`\\kappa R_1^2/8`.
    Laplace: the point has mass :math:`2\\pi T/\\kappa`, the circle
    :math:`2\\pi R_1\\sqrt{2\\pi T/\\kappa}`, the annulus :math:`\\pi(R_2^2 - R_1^2)`, so
    the ratio flat/isolated grows like :math:`T^{-k/2}`.
    """
    r1 = check_real(radius, "radius", min=0.0, min_open=True)
    r2 = r1 if outer_radius is None else check_real(outer_radius, "outer_radius", min=r1)
    kappa = check_real(curvature, "curvature", min=0.0, min_open=True)
    cut = r1 / 2

    def profile(r):
        r = np.asarray(r, dtype=np.float64)
        gap = np.maximum(r1 - r, 0.0) + np.maximum(r - r2, 0.0)
        return 0.5 * kappa * np.where(r < cut, r * r, gap * gap)

    def grad(x):
        # kappa * x * f(|x|): f = 1 in the isolated well, (signed distance to [R1, R2]) / r outside it
        x = np.asarray(x, dtype=np.float64)
        r = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
        outer = (np.minimum(r - r1, 0.0) + np.maximum(r - r2, 0.0)) / np.maximum(r, cut)
        return kappa * x * np.where(r < cut, 1.0, outer)

    def laplace(T):
        outer = (laplace_mass([kappa], T, flat_volume=2 * math.pi * r1) if r2 == r1
                 else laplace_mass([], T, flat_volume=math.pi * (r2 ** 2 - r1 ** 2)))
        return np.array([laplace_mass([kappa, kappa], T), outer])

    return Potential(
        value=lambda x: profile(np.linalg.norm(np.asarray(x), axis=-1)), grad=grad, dim=2,
        coordinate=lambda x: np.linalg.norm(np.asarray(x), axis=-1), profile=profile,
        weight=lambda s: 2 * math.pi * np.asarray(s, dtype=np.float64), lower=0.0,
        boundaries=(cut,), wells=("isolated", "circle" if r2 == r1 else "annulus"),
        minima=(0.0, r1) if r2 == r1 else (0.0, r1, r2), laplace=laplace)
