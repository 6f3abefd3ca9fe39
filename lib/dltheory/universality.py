"""Universal approximation on a box: a radial bump, grid errors, superlevel sets and their reach.

The universality theorems bound how close a network *can* come to a target
:math:`f` on a box :math:`B = [-a, a]^d`; this module measures how close a given
network *does* come, and the geometric obstruction for narrow networks.

* :func:`bump` is the radial bump :math:`f(x) = (1 - \\lVert x\\rVert^2/r^2)_+^2`
  (peak 1 at the origin, support the ball of radius :math:`r`), the kind of
  target in Lu et al. (2017) and Hanin & Sellke (2017); :func:`bump_integral`
  is its integral over :math:`\\mathbb R^d` in closed form.
* :func:`box_grid` lays a regular grid over :math:`B`; :func:`grid_errors`
  gives the sup error :math:`\\max_{\\text{grid}} |F - f|` and the :math:`L^1`
  error :math:`\\int_B |F - f|` by the trapezoid rule on that grid.
* :func:`superlevel_components` labels the connected components of the grid
  set :math:`\\{F > c\\}` and says which of them touch the boundary of the grid's
  box. Johnson (2019) and Hanin & Sellke (2017): for a ReLU network of width
  at most :math:`d` every component of :math:`\\{F > c\\}` is unbounded, so every
  component met in a box reaches the box's boundary (a component of
  :math:`C \\cap B` that stayed inside would be open and closed in the
  connected set :math:`C`). :func:`bounded_components` counts the ones that do
  not.
* :func:`stays_above_along_ray` checks :math:`F(x_0 + t u) > c` for
  :math:`t \\in [0, t_{\\max}]`, the certificate that the component of
  :math:`x_0` is unbounded along the ray.

References: Cybenko (1989); Lu, Pu, Wang, Hu & Wang, *The expressive power of
neural networks: a view from the width*, NeurIPS 2017; Hanin & Sellke,
*Approximating continuous functions by ReLU nets of minimal width*, 2017;
Johnson, *Deep, skinny neural networks are not universal approximators*,
ICLR 2019; Kim, Min & Park, *Minimum width for universal approximation using
ReLU networks on compact domain*, ICLR 2024.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ._checks import check_choice, check_int, check_real, check_tensor

__all__ = ["bump", "bump_integral", "box_grid", "grid_errors", "Components", "superlevel_components",
           "bounded_components", "stays_above_along_ray"]


def bump(X, radius: float = 0.5) -> torch.Tensor:
    """The radial bump :math:`f(x) = (1 - \\lVert x\\rVert^2/r^2)_+^2` at the rows of ``X``.

    Parameters
    ----------
    X : tensor of shape (n, d)
        Points of :math:`\\mathbb R^d`.
    radius : float
        :math:`r > 0`, the radius of the support; ``0.5`` gives
        :math:`(1 - 4\\lVert x\\rVert^2)_+^2`.

    Returns
    -------
    tensor of shape (n,)
        Values in :math:`[0, 1]`: 1 at the origin, 0 outside the ball of
        radius :math:`r`; continuously differentiable.
    """
    X = check_tensor(X, "X", ndim=2)
    r = check_real(radius, "radius", min=0.0, min_open=True)
    if not X.is_floating_point():
        X = X.double()
    return (1.0 - X.pow(2).sum(dim=1) / r**2).clamp(min=0.0).pow(2)


def bump_integral(d: int, radius: float = 0.5) -> float:
    """:math:`\\int_{\\mathbb R^d} f = r^d\\,|S^{d-1}|\\,\\dfrac{8}{d(d+2)(d+4)}` for :func:`bump`.

    In polar coordinates with :math:`s = \\lVert x\\rVert/r`,
    :math:`\\int f = r^d |S^{d-1}| \\int_0^1 (1 - s^2)^2 s^{d-1}\\,ds`, and the
    last integral is :math:`1/d - 2/(d + 2) + 1/(d + 4) = 8/(d(d+2)(d+4))`;
    :math:`|S^{d-1}| = 2\\pi^{d/2}/\\Gamma(d/2)`. For :math:`d = 2`: :math:`\\pi r^2/3`.
    """
    d = check_int(d, "d", min=1)
    r = check_real(radius, "radius", min=0.0, min_open=True)
    sphere = 2.0 * math.pi ** (d / 2) / math.gamma(d / 2)
    return r**d * sphere * 8.0 / (d * (d + 2) * (d + 4))


def box_grid(d: int, half_width: float, points: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The regular grid of ``points`` per axis over :math:`[-a, a]^d`, as rows of shape ``(points**d, d)``.

    Row order is that of ``torch.cartesian_prod`` (the last coordinate varies
    fastest), so ``values.reshape((points,) * d)`` puts axis :math:`k` of the
    array along coordinate :math:`k`. With an odd ``points`` the origin is a grid point.
    """
    d = check_int(d, "d", min=1)
    a = check_real(half_width, "half_width", min=0.0, min_open=True)
    points = check_int(points, "points", min=2)
    axis = torch.linspace(-a, a, points, dtype=dtype)
    if d == 1:
        return axis[:, None]
    return torch.cartesian_prod(*([axis] * d))


def _numpy(x) -> np.ndarray:
    """A tensor or array-like as a float64 NumPy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=float)


def _trapezoid_weights(d: int, half_width: float, points: int) -> np.ndarray:
    h = 2.0 * half_width / (points - 1)
    w1 = np.full(points, h)
    w1[[0, -1]] = h / 2
    w = w1
    for _ in range(d - 1):
        w = np.multiply.outer(w, w1)
    return w.reshape(-1)


def grid_errors(F, f, *, d: int, half_width: float) -> dict[str, float]:
    """Sup and :math:`L^1` errors of ``F`` against ``f`` on a :func:`box_grid`.

    Parameters
    ----------
    F, f : array-like of shape (points**d,) or (S, points**d)
        The network's values and the target's on ``box_grid(d, half_width, points)``;
        a leading dimension holds several networks.
    d, half_width
        The grid's dimension and box :math:`[-a, a]^d`.

    Returns
    -------
    dict
        ``sup``: :math:`\\max_{\\text{grid}} |F - f|`, a lower bound on the sup over
        the box; ``l1``: :math:`\\int_B |F - f|` by the trapezoid rule (exact for
        a function affine on every grid cell); each a float, or an array of
        shape ``(S,)``.
    """
    F, f = _numpy(F), _numpy(f)
    d = check_int(d, "d", min=1)
    n = F.shape[-1]
    points = round(n ** (1 / d))
    if points**d != n or f.shape[-1] != n:
        raise ValueError(f"F and f must hold the values on a grid of points**d = points**{d} rows, "
                         f"got {n} and {f.shape[-1]}")
    err = np.abs(F - f)
    w = _trapezoid_weights(d, check_real(half_width, "half_width", min=0.0, min_open=True), points)
    sup, l1 = err.max(axis=-1), err @ w
    if err.ndim == 1:
        return {"sup": float(sup), "l1": float(l1)}
    return {"sup": sup, "l1": l1}


@dataclass(frozen=True)
class Components:
    """The connected components of a grid superlevel set :math:`\\{F > c\\}`.

    Attributes
    ----------
    labels : ndarray of int, the grid's shape
        0 outside the set, :math:`k = 1, \\dots,` ``count`` on component :math:`k`.
    count : int
        The number of components.
    touches_boundary : ndarray of bool, shape (count,)
        Whether component :math:`k + 1` contains a grid point on the boundary of the box.
    """

    labels: np.ndarray
    count: int
    touches_boundary: np.ndarray

    @property
    def bounded(self) -> int:
        """Components that stay inside the box, away from its boundary."""
        return int((~self.touches_boundary).sum())


def superlevel_components(values, c: float, *, connectivity: str = "full", rtol: float = 1e-9) -> Components:
    """Label the components of :math:`\\{F > c\\}` on a grid and find those that reach its boundary.

    Parameters
    ----------
    values : array-like of shape (points,) * d
        :math:`F` on a regular grid over a box (e.g. a :func:`box_grid` reshaped).
    c : float
        The level.
    connectivity : {"full", "faces"}
        Grid neighbours: ``"full"`` (default) joins every pair of points in a
        :math:`3^d` block (8 neighbours in 2-D), so a ridge of :math:`\\{F > c\\}`
        running diagonally to the grid stays in one piece; ``"faces"`` joins
        only points that share a face (4 in 2-D). ``scipy.ndimage.label`` does
        the labelling.
    rtol : float
        The set is :math:`\\{F > c + \\tau\\}` with :math:`\\tau =` ``rtol`` times
        :math:`\\max(1, \\max|F|)`: on a plateau of :math:`F` at height exactly
        :math:`c` (a network with every unit off), rounding would otherwise
        scatter spurious one-point components. The theorem holds at every
        level, so the shift changes nothing it says.

    Returns
    -------
    Components
    """
    v = _numpy(values)
    check_choice(connectivity, "connectivity", ("full", "faces"))
    c = check_real(c, "c")
    structure = ndimage.generate_binary_structure(v.ndim, v.ndim if connectivity == "full" else 1)
    tau = check_real(rtol, "rtol", min=0.0) * max(1.0, float(np.abs(v).max()))
    labels, count = ndimage.label(v > c + tau, structure=structure)
    edge = np.zeros(v.shape, dtype=bool)
    for axis in range(v.ndim):
        index = [slice(None)] * v.ndim
        for end in (0, -1):
            index[axis] = end
            edge[tuple(index)] = True
    on_edge = np.unique(labels[edge & (labels > 0)])
    touches = np.isin(np.arange(1, count + 1), on_edge)
    return Components(labels=labels, count=int(count), touches_boundary=touches)


def bounded_components(values, c: float, *, connectivity: str = "full", rtol: float = 1e-9) -> int:
    """The number of components of the grid set :math:`\\{F > c\\}` that do not reach the box's boundary.

    Zero for every ReLU network of width at most :math:`d` and every level
    :math:`c` (Johnson 2019; Hanin & Sellke 2017), up to the grid's
    resolution; a bump approximated to within :math:`\\varepsilon < \\tfrac12`
    in sup norm has one at :math:`c = \\tfrac12`. See :func:`superlevel_components`.
    """
    return superlevel_components(values, c, connectivity=connectivity, rtol=rtol).bounded


def stays_above_along_ray(F: Callable[[torch.Tensor], torch.Tensor], x0, u, c: float, *, t_max: float,
                          points: int = 1001) -> bool:
    """Whether :math:`F(x_0 + t u) > c` at ``points`` equally spaced :math:`t \\in [0, t_{\\max}]`.

    ``F`` maps a batch ``(n, d)`` to ``(n,)`` or ``(n, 1)``. For a ReLU network
    :math:`t \\mapsto F(x_0 + tu)` is piecewise affine with finitely many kinks,
    so beyond the last kink it is affine; with a non-negative final slope, a
    ray that stays above :math:`c` to :math:`t_{\\max}` stays above it forever,
    and the component of :math:`\\{F > c\\}` containing :math:`x_0` is unbounded.
    """
    x0 = check_tensor(x0, "x0", ndim=1)
    u = check_tensor(u, "u", ndim=1).to(x0.dtype)
    if u.shape != x0.shape:
        raise ValueError(f"u must have the shape of x0, {tuple(x0.shape)}, got {tuple(u.shape)}")
    t = torch.linspace(0.0, check_real(t_max, "t_max", min=0.0, min_open=True), check_int(points, "points", min=2),
                       dtype=x0.dtype)
    with torch.no_grad():
        values = F(x0[None, :] + t[:, None] * u[None, :]).reshape(len(t))
    return bool((values > check_real(c, "c")).all())
