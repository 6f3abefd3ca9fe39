"""The optimal normalised margin of infinitely wide two-layer ReLU networks, as a linear programme.

A two-layer ReLU network with hidden biases,

.. math::  f(\\Theta; x) = \\sum_{j=1}^m u_j\\, \\mathrm{relu}(\\langle w_j, x\\rangle + b_j)
           = \\sum_{j=1}^m u_j\\, \\mathrm{relu}(\\langle \\tilde w_j, \\tilde x\\rangle),
           \\qquad \\tilde x = (x, 1),\\; \\tilde w_j = (w_j, b_j),

is positively homogeneous of degree 2 in all its parameters
:math:`\\Theta = (u, \\tilde W)`, so its normalised margin (Wei, Lee, Liu, Ma 2019)

.. math::  \\gamma(\\Theta) = \\min_i y_i f(\\Theta/\\lVert\\Theta\\rVert_2; x_i)
           = \\frac{\\min_i y_i f(\\Theta; x_i)}{\\lVert\\Theta\\rVert_2^2}

does not depend on the scale of :math:`\\Theta` (:func:`normalized_margin`).
Let :math:`\\gamma^*_m = \\max_{\\Theta}\\gamma(\\Theta)` over width-:math:`m`
networks. Since :math:`|u_j|\\lVert\\tilde w_j\\rVert \\le (u_j^2 + \\lVert\\tilde w_j\\rVert^2)/2`,
with equality for balanced units, writing :math:`\\alpha_j = u_j\\lVert\\tilde w_j\\rVert`
and :math:`v_j = \\tilde w_j / \\lVert\\tilde w_j\\rVert` gives

.. math::  \\gamma^*_m = \\tfrac12 \\max\\Big\\{\\min_i y_i \\sum_{j=1}^m \\alpha_j\\,
           \\mathrm{relu}(\\langle v_j, \\tilde x_i\\rangle) :
           \\lVert\\alpha\\rVert_1 \\le 1,\\ \\lVert v_j\\rVert = 1\\Big\\},

and letting :math:`m \\to \\infty` turns this into an :math:`\\ell_1`-SVM over the
dictionary of all unit directions, :math:`\\gamma^*_\\infty`. On a finite set of
directions :math:`v_1, \\dots, v_K` it is the linear programme
(:func:`l1_svm_margin`)

.. math::  \\max_{\\alpha \\in \\mathbb R^K,\\, t} t \\quad \\text{subject to}\\quad
           y_i (\\Phi\\alpha)_i \\ge t,\\; \\lVert\\alpha\\rVert_1 \\le 1,
           \\qquad \\Phi_{ik} = \\mathrm{relu}(\\langle v_k, \\tilde x_i\\rangle),

whose dual is :math:`\\min_{p \\in \\Delta_n} \\max_k |\\sum_i p_i y_i \\Phi_{ik}|`. A
vertex solution has at most :math:`n + 1` non-zero weights, so
:math:`\\gamma^*_m = \\gamma^*_\\infty` once :math:`m \\ge n + 1`; Wei et al. (2019)
prove that :math:`\\gamma^*_m` is non-decreasing in :math:`m` and that
regularised logistic regression attains it as :math:`\\lambda \\to 0`.

A grid of directions gives a *lower* bound on :math:`\\gamma^*_\\infty` (its
solution is a network). :func:`infinite_width_margin` adds a certified *upper*
bound: by weak duality every :math:`p \\in \\Delta_n` gives
:math:`\\gamma^*_\\infty \\le \\tfrac12 \\sup_{\\lVert v\\rVert = 1} |g_p(v)|` with
:math:`g_p(v) = \\sum_i p_i y_i\\,\\mathrm{relu}(\\langle v, \\tilde x_i\\rangle)`, and
:math:`|g_p(v) - g_p(v')| \\le \\lVert v - v'\\rVert \\sum_i p_i\\lVert\\tilde x_i\\rVert`,
so the maximum of :math:`|g_p|` over a fine grid of covering radius
:math:`\\varepsilon` plus :math:`\\varepsilon\\sum_i p_i\\lVert\\tilde x_i\\rVert` bounds the
supremum. :func:`cube_sphere_grid` builds grids with a known covering radius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._checks import (as_tensor, check_int, check_module, check_real, check_sign_labels, check_tensor, named_parameters,
                      probe)

__all__ = ["lift", "cube_sphere_grid", "relu_features", "l1_svm_margin", "infinite_width_margin",
           "dual_sup", "InfiniteWidthMargin", "normalized_margin"]


def _matrix(X, name: str = "X") -> np.ndarray:
    return check_tensor(X, name, ndim=2).to(torch.float64).cpu().numpy()


def _labels(y, n: int) -> np.ndarray:
    y = check_tensor(y, "y", ndim=1)
    if y.shape[0] != n:
        raise ValueError(f"X has {n} examples but y has {y.shape[0]}")
    return check_sign_labels(y, "the margin").to(torch.float64).cpu().numpy()


def lift(X) -> np.ndarray:
    """The bias-lifted inputs :math:`\\tilde x_i = (x_i, 1)`, shape ``(n, d + 1)``, float64."""
    X = _matrix(X)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def cube_sphere_grid(per_edge: int, dim: int = 3) -> tuple[np.ndarray, float]:
    """Unit directions from a regular grid on the faces of the cube :math:`[-1, 1]^{dim}`.

    Each face is cut into ``per_edge`` cells per edge, the grid points (cell
    corners) are projected radially onto the sphere and duplicates on shared
    edges removed. Every point :math:`z` of the cube's surface is within
    :math:`h\\sqrt{dim-1}/2` of a corner of its cell, :math:`h = 2/` ``per_edge``,
    and the radial projection onto the unit sphere, which is the metric
    projection onto the unit ball for points outside it, does not increase
    distances. Hence every unit vector is within

    .. math::  \\varepsilon = \\frac{\\sqrt{dim - 1}}{\\texttt{per\\_edge}}

    of a grid direction: the covering radius returned, a certified bound.

    Returns
    -------
    directions, covering_radius
        ``(K, dim)`` unit vectors (float64) and :math:`\\varepsilon`.
    """
    per_edge = check_int(per_edge, "per_edge", min=1)
    dim = check_int(dim, "dim", min=2)
    ticks = np.linspace(-1.0, 1.0, per_edge + 1)
    mesh = np.stack(np.meshgrid(*([ticks] * (dim - 1)), indexing="ij"), axis=-1).reshape(-1, dim - 1)
    faces = []
    for axis in range(dim):
        for sign in (-1.0, 1.0):
            face = np.insert(mesh, axis, sign, axis=1)
            faces.append(face)
    points = np.unique(np.round(np.concatenate(faces), 12), axis=0)
    directions = points / np.linalg.norm(points, axis=1, keepdims=True)
    return directions, math.sqrt(dim - 1) / per_edge


def relu_features(X_lifted, directions) -> np.ndarray:
    """The dictionary :math:`\\Phi_{ik} = \\mathrm{relu}(\\langle v_k, \\tilde x_i\\rangle)`, shape ``(n, K)``."""
    X = _matrix(X_lifted, "X_lifted")
    V = _matrix(directions, "directions")
    if V.shape[1] != X.shape[1]:
        raise ValueError(f"directions have {V.shape[1]} coordinates but the lifted inputs have {X.shape[1]}")
    return np.maximum(X @ V.T, 0.0)


def l1_svm_margin(features, y) -> tuple[float, np.ndarray, np.ndarray]:
    """The :math:`\\ell_1`-SVM margin :math:`\\max_{\\lVert\\alpha\\rVert_1\\le 1}\\min_i y_i(\\Phi\\alpha)_i` by HiGHS.

    Solved with ``scipy.optimize.linprog`` (``method="highs"``) in the split
    form :math:`\\alpha = \\alpha^+ - \\alpha^-`, :math:`\\alpha^\\pm \\ge 0`.

    Parameters
    ----------
    features
        :math:`\\Phi`, shape ``(n, K)``: example :math:`i`'s value of dictionary element :math:`k`.
    y
        ``(n,)`` labels in :math:`\\{\\pm 1\\}`.

    Returns
    -------
    margin, alpha, p
        The optimal value :math:`t^*` (not halved), the weights :math:`\\alpha`
        ``(K,)`` and the dual distribution :math:`p \\in \\Delta_n` over the
        examples (the constraints' multipliers), for which
        :math:`\\max_k|\\sum_i p_i y_i\\Phi_{ik}| = t^*`.

    Raises
    ------
    RuntimeError
        If HiGHS does not report an optimal solution.
    """
    from scipy.optimize import linprog

    Phi = _matrix(features, "features")
    n, K = Phi.shape
    y = _labels(y, n)
    signed = y[:, None] * Phi
    # variables: alpha_plus (K), alpha_minus (K), t; minimise -t
    c = np.zeros(2 * K + 1)
    c[-1] = -1.0
    A_margin = np.hstack([-signed, signed, np.ones((n, 1))])  # t - y_i (Phi alpha)_i <= 0
    A_norm = np.concatenate([np.ones(2 * K), [0.0]])[None, :]  # ||alpha||_1 <= 1
    res = linprog(c, A_ub=np.vstack([A_margin, A_norm]), b_ub=np.concatenate([np.zeros(n), [1.0]]),
                  bounds=[(0, None)] * (2 * K) + [(None, None)], method="highs")
    if res.status != 0:
        raise RuntimeError(f"the l1-SVM linear programme was not solved: {res.message}")
    alpha = res.x[:K] - res.x[K:2 * K]
    p = np.maximum(-res.ineqlin.marginals[:n], 0.0)
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    return float(-res.fun), alpha, p


def _face_cells(per_edge: int, dim: int) -> tuple[np.ndarray, float]:
    r"""Centres (on the cube's surface) of the ``per_edge**(dim-1)`` square cells of every face, and their side."""
    h = 2.0 / per_edge
    ticks = -1.0 + h * (np.arange(per_edge) + 0.5)
    mesh = np.stack(np.meshgrid(*([ticks] * (dim - 1)), indexing="ij"), axis=-1).reshape(-1, dim - 1)
    centres = [np.insert(mesh, axis, sign, axis=1) for axis in range(dim) for sign in (-1.0, 1.0)]
    return np.concatenate(centres), h


def _cell_bounds(v: np.ndarray, s: np.ndarray, X: np.ndarray, c: np.ndarray, r: float,
                 norms: np.ndarray) -> np.ndarray:
    """Upper bounds on :math:`|g|` over the spherical caps of radius ``r`` around the unit vectors ``v``.

    Terms whose ReLU cannot switch on the cap (:math:`|\\langle v, \\tilde x_i\\rangle| > r\\lVert\\tilde x_i\\rVert`)
    add up to a linear function :math:`\\langle \\cdot, \\ell\\rangle`, and for a unit :math:`v'` with
    :math:`\\lVert v' - v\\rVert \\le r`, :math:`\\langle v', \\ell\\rangle \\le \\langle v, \\ell\\rangle +
    r\\lVert P_{v^\\perp}\\ell\\rVert + \\tfrac{r^2}{2}|\\langle v, \\ell\\rangle|`; each other term
    :math:`c_i\\,\\mathrm{relu}(\\cdot)` is at most :math:`\\max(c_i, 0)(\\mathrm{relu}(s_i) + r\\lVert\\tilde x_i\\rVert)`.
    Done for :math:`g` and :math:`-g`.
    """
    rho = r * norms[None, :]
    active = s > rho
    unsure = np.abs(s) <= rho
    out = np.zeros(v.shape[0])
    for sign in (1.0, -1.0):
        cs = sign * c
        ell = (active * cs[None, :]) @ X  # (cells, dim)
        along = np.sum(ell * v, axis=1)
        across = np.linalg.norm(ell - along[:, None] * v, axis=1)
        linear = along + r * across + 0.5 * r * r * np.abs(along)
        switching = (unsure * np.maximum(cs, 0.0)[None, :] * (np.maximum(s, 0.0) + rho)).sum(axis=1)
        out = np.maximum(out, linear + switching)
    return out


def dual_sup(X_lifted, weights, *, rtol: float = 1e-4, per_edge: int = 8,
             max_cells: int = 2_000_000) -> tuple[float, float, np.ndarray]:
    r"""Bracket :math:`\sup_{\lVert v\rVert=1} |g(v)|`, :math:`g(v) = \sum_i c_i\,\mathrm{relu}(\langle v, \tilde x_i\rangle)`.

    Branch and bound over the cells of the cube's faces (radially projected,
    which does not increase distances, see :func:`cube_sphere_grid`): on a cell
    of side :math:`h` with centre :math:`z`, every value of :math:`|g|` is at most
    :math:`|g(z/\lVert z\rVert)| + \tfrac{h\sqrt{dim-1}}{2}\sum_i |c_i|\lVert\tilde x_i\rVert`.
    Cells whose bound is within ``rtol`` of the best value found are closed,
    the others are cut in :math:`2^{dim-1}` halves, until none is left open.

    Parameters
    ----------
    X_lifted
        ``(n, dim)`` points :math:`\tilde x_i`.
    weights
        ``(n,)`` coefficients :math:`c_i` (for the dual of :func:`l1_svm_margin`, :math:`c_i = p_i y_i`).

    Returns
    -------
    value, upper, v
        The best value found (attained at the unit vector ``v``) and a certified
        upper bound on the supremum.

    Raises
    ------
    RuntimeError
        If more than ``max_cells`` cells would be needed.
    """
    X = _matrix(X_lifted, "X_lifted")
    c = check_tensor(weights, "weights", ndim=1).to(torch.float64).cpu().numpy()
    if c.shape[0] != X.shape[0]:
        raise ValueError(f"X_lifted has {X.shape[0]} points but weights has {c.shape[0]}")
    dim = X.shape[1]
    norms = np.linalg.norm(X, axis=1)
    centres, h = _face_cells(check_int(per_edge, "per_edge", min=1), dim)
    face_axis = np.argmax(np.abs(centres), axis=1)  # the coordinate fixed at +-1
    best, best_v, upper_closed = 0.0, None, 0.0
    while centres.shape[0]:
        if centres.shape[0] > max_cells:
            raise RuntimeError(f"dual_sup needs more than {max_cells} cells; raise rtol")
        v = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        s = v @ X.T  # (cells, n)
        values = np.abs(np.maximum(s, 0.0) @ c)
        k = int(np.argmax(values))
        if values[k] > best:
            best, best_v = float(values[k]), v[k]
        bounds = _cell_bounds(v, s, X, c, 0.5 * h * math.sqrt(dim - 1), norms)
        done = bounds <= best * (1 + rtol) + 1e-300
        upper_closed = max(upper_closed, float(bounds[done].max()) if done.any() else 0.0)
        centres, face_axis = centres[~done], face_axis[~done]
        h /= 2
        offsets = np.stack(np.meshgrid(*([[-0.5 * h, 0.5 * h]] * (dim - 1)), indexing="ij"), -1).reshape(-1, dim - 1)
        children, axes = [], []
        for off in offsets:
            step = np.zeros((centres.shape[0], dim))
            free = np.ones((centres.shape[0], dim), dtype=bool)
            free[np.arange(centres.shape[0]), face_axis] = False
            step[free] = np.tile(off, centres.shape[0])
            children.append(centres + step)
            axes.append(face_axis)
        centres = np.concatenate(children) if children else centres
        face_axis = np.concatenate(axes) if axes else face_axis
    return best, max(best, upper_closed), best_v


@dataclass(frozen=True)
class InfiniteWidthMargin:
    r"""What :func:`infinite_width_margin` returns: :math:`\gamma^*_\infty` bracketed.

    ``lower`` is the margin of the network built from the LP's solution
    (achievable, hence :math:`\le\gamma^*_\infty`) and ``upper`` the certified
    dual bound (:math:`\ge\gamma^*_\infty`). ``directions`` and ``alpha`` are the
    dictionary and the optimal weights (most of them zero), ``p`` the dual
    weights of the examples (non-zero on the support examples), ``rounds`` the
    number of linear programmes solved.
    """

    lower: float
    upper: float
    directions: np.ndarray
    alpha: np.ndarray
    p: np.ndarray
    rounds: int

    @property
    def support_size(self) -> int:
        """The number of directions with a non-zero weight (at most :math:`n + 1` at a vertex)."""
        return int(np.sum(np.abs(self.alpha) > 1e-9 * np.abs(self.alpha).max()))

    def network(self) -> tuple[np.ndarray, np.ndarray]:
        r"""The optimal finite network, balanced: hidden weights ``(s, d+1)`` (bias last) and outer weights ``(s,)``.

        Unit :math:`j` gets :math:`\tilde w_j = \sqrt{|\alpha_j|}\, v_j` and
        :math:`u_j = \operatorname{sign}(\alpha_j)\sqrt{|\alpha_j|}`, so that
        :math:`\lVert\Theta\rVert^2 = \lVert\alpha\rVert_1 \le 1` and its normalised margin is ``lower``.
        """
        keep = np.abs(self.alpha) > 1e-9 * np.abs(self.alpha).max()
        a = self.alpha[keep]
        return np.sqrt(np.abs(a))[:, None] * self.directions[keep], np.sign(a) * np.sqrt(np.abs(a))


def infinite_width_margin(X, y, *, per_edge: int = 12, rtol: float = 1e-3, max_rounds: int = 100) -> InfiniteWidthMargin:
    r"""Bracket :math:`\gamma^*_\infty`, the best normalised margin of any width, within ``rtol``.

    An exchange (column-generation) method on the bias-lifted inputs: solve
    :func:`l1_svm_margin` over the current directions (at first
    :func:`cube_sphere_grid` ``(per_edge, d + 1)``), find the direction that
    violates the dual most (:func:`dual_sup`), add it, and repeat until the
    dual's supremum is within ``rtol`` of the LP's value. Both are halved (see
    the module notes): the LP's value is achieved by a network, the supremum
    bounds every network. Meant for small :math:`d` (the branch and bound
    works on the cube's faces in dimension :math:`d + 1`): :math:`d = 2` in the book.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\{\pm 1\}`.
    per_edge
        Resolution of the starting grid of directions.
    rtol
        Stop when upper and lower bound agree to this relative precision.
    max_rounds
        Most linear programmes solved (the bracket is returned as it is then).
    """
    Xl = lift(X)
    n, dim = Xl.shape
    y = _labels(y, n)
    rtol = check_real(rtol, "rtol", min=0.0, min_open=True)
    max_rounds = check_int(max_rounds, "max_rounds", min=1)
    directions, _ = cube_sphere_grid(check_int(per_edge, "per_edge", min=1), dim)
    upper = math.inf
    for rounds in range(1, max_rounds + 1):
        t, alpha, p = l1_svm_margin(relu_features(Xl, directions), y)
        _, sup, v = dual_sup(Xl, p * y, rtol=rtol / 4)
        upper = min(upper, sup)
        if upper <= t * (1 + rtol):
            break
        directions = np.vstack([directions, v])
    return InfiniteWidthMargin(lower=t / 2, upper=upper / 2, directions=directions, alpha=alpha, p=p, rounds=rounds)


def normalized_margin(model: nn.Module, X, y, *, degree: int = 2) -> float:
    """:math:`\\min_i y_i f(\\Theta; x_i)/\\lVert\\Theta\\rVert_2^{\\text{degree}}` for a model homogeneous of that degree.

    For a network that is positively homogeneous of degree :math:`q` in all its
    trainable parameters :math:`\\Theta` (a two-layer ReLU network with hidden
    biases and a bias-free outer layer has :math:`q = 2`), this is
    :math:`\\min_i y_i f(\\Theta/\\lVert\\Theta\\rVert; x_i)`, the normalised
    margin of Wei, Lee, Liu, Ma (2019). Homogeneity is the caller's promise:
    it is not checked. Fixed (``requires_grad=False``) parameters are not counted.
    """
    model = check_module(model)
    degree = check_int(degree, "degree", min=1)
    named_parameters(model)
    X = check_tensor(X, "X")
    y = check_tensor(y, "y", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    check_sign_labels(y, "the normalised margin")
    first = next(model.parameters())
    X = as_tensor(X, "X").to(device=first.device, dtype=first.dtype)
    out = probe(model, X).reshape(X.shape[0], -1)
    if out.shape[1] != 1:
        raise ValueError(f"the normalised margin needs a model with one output, got {out.shape[1]}")
    sq = sum(p.detach().double().pow(2).sum() for p in model.parameters() if p.requires_grad)
    y = y.to(device=out.device, dtype=torch.float64)
    return ((y * out[:, 0].double()).min() / sq ** (degree / 2)).item()
