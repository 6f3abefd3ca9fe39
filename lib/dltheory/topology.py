"""The topology of loss landscapes: reduced-rank optima, quadratic-activation nets, curves between minima.

Three objects of chapter 4's section on landscape topology.

**The reduced-rank optimum** of a linear network with a bottleneck. A linear net
:math:`x \\mapsto W_L\\cdots W_1 x` whose narrowest layer has width :math:`k` computes a
matrix of rank at most :math:`k`, so its least-squares loss is minimised over
:math:`\\{B : \\operatorname{rank} B \\le k\\}`. With :math:`\\hat B` the ordinary least-squares
solution and :math:`\\hat Y = X\\hat B^\\top` the fitted values, Pythagoras and the
Eckart--Young theorem give the optimum in closed form (reduced-rank regression: Anderson 1951;
Izenman 1975; Baldi and Hornik 1989 for the two-layer network):

.. math::  B_k = V_kV_k^\\top\\hat B, \\qquad
           \\min_{\\operatorname{rank} B\\le k}\\lVert Y - XB^\\top\\rVert_F^2
           = \\lVert Y - \\hat Y\\rVert_F^2 + \\sum_{i>k}\\sigma_i(\\hat Y)^2,

with :math:`V_k` the top :math:`k` right singular vectors of :math:`\\hat Y`.
:func:`eckart_young` (best rank-:math:`k` approximation of a matrix) and
:func:`reduced_rank_regression`.

**Quadratic-activation networks** :math:`f(x) = \\sum_{j=1}^p u_j (w_j^\\top x)^2 = x^\\top
W^\\top\\operatorname{diag}(u)Wx`, both layers trained: the model class of Venturi, Bandeira and
Bruna (2019, Theorem 5), whose intrinsic dimension is that of the quadratic forms,
:math:`q = d(d+1)/2` (:func:`intrinsic_dimension_quadratic`). :class:`QuadraticNets` holds
:math:`S` such networks as one seed ensemble for :func:`dltheory.train.fit_ensemble`.

**Curves between two minima** (Garipov, Izmailov, Podoprikhin, Vetrov, Wilson 2018). The
quadratic Bézier curve with end points :math:`\\theta_0, \\theta_1` and control point
:math:`\\phi`,

.. math::  \\theta(t) = (1-t)^2\\theta_0 + 2t(1-t)\\phi + t^2\\theta_1, \\qquad t\\in[0, 1],

is trained by minimising :math:`\\mathbb E_{t\\sim U[0,1]} L(\\theta(t))` over :math:`\\phi`
alone (:class:`BezierCurve`, a module for :func:`dltheory.train.fit`). :func:`bezier`,
:func:`bezier_derivative`, :func:`path_losses` (the loss along any path) and :func:`barrier`
(the largest excess of the loss over the chord between the end points).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from . import losses
from ._checks import check_int, check_real, check_seed, check_tensor, named_parameters
from .params import as_function, flat_parameters

__all__ = [
    "eckart_young", "reduced_rank_regression", "RankedSolution",
    "intrinsic_dimension_quadratic", "QuadraticNets",
    "bezier", "bezier_derivative", "BezierCurve", "path_losses", "barrier",
]


# --------------------------------------------------------------------------------------------
# Reduced-rank least squares
# --------------------------------------------------------------------------------------------


def _array(A, name: str, ndim: int = 2) -> np.ndarray:
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().double().numpy()
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return A


def eckart_young(A, k: int) -> np.ndarray:
    """The best approximation of rank at most ``k`` of a matrix, in Frobenius (and spectral) norm.

    Eckart and Young (1936): truncate the singular value decomposition,
    :math:`A_k = \\sum_{i\\le k}\\sigma_i u_i v_i^\\top`, and
    :math:`\\lVert A - A_k\\rVert_F^2 = \\sum_{i>k}\\sigma_i^2`. Unique when
    :math:`\\sigma_k > \\sigma_{k+1}`. Returns a float64 array of ``A``'s shape.
    """
    A = _array(A, "A")
    k = check_int(k, "k", min=0)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    k = min(k, len(s))
    return (U[:, :k] * s[:k]) @ Vt[:k]


class RankedSolution:
    """:func:`reduced_rank_regression`'s answer: the matrix ``B`` ``(m, d)`` and its loss ``value``.

    ``value`` is the loss :math:`\\frac{1}{2n}\\lVert Y - XB^\\top\\rVert_F^2` (the convention of
    :func:`dltheory.losses.square`); ``singular_values`` are those of the fitted values
    :math:`\\hat Y`, whose gap :math:`\\sigma_k - \\sigma_{k+1}` makes the optimum unique.
    """

    def __init__(self, B: np.ndarray, value: float, singular_values: np.ndarray) -> None:
        self.B, self.value, self.singular_values = B, value, singular_values

    def __repr__(self) -> str:
        return f"RankedSolution(B of shape {self.B.shape}, value={self.value:.6g})"


def reduced_rank_regression(X, Y, k: int) -> RankedSolution:
    """:math:`\\min_{\\operatorname{rank} B \\le k} \\frac{1}{2n}\\lVert Y - XB^\\top\\rVert_F^2`, in closed form.

    ``X`` is ``(n, d)`` of full column rank, ``Y`` is ``(n, m)``. With the least-squares
    solution :math:`\\hat B = Y^\\top X(X^\\top X)^{-1}` and :math:`\\hat Y = X\\hat B^\\top`, the residual
    :math:`Y - \\hat Y` is orthogonal to every :math:`XB^\\top`, so
    :math:`\\lVert Y - XB^\\top\\rVert_F^2 = \\lVert Y - \\hat Y\\rVert_F^2 + \\lVert \\hat Y - XB^\\top\\rVert_F^2`,
    and the second term is smallest, by Eckart--Young, for :math:`XB^\\top = \\hat Y_k`, i.e.
    :math:`B = V_kV_k^\\top\\hat B` (Anderson 1951; Izenman 1975; Baldi and Hornik 1989, for a
    linear network with a hidden layer of width :math:`k`). This is the global minimum of every
    linear network whose narrowest layer has width :math:`k`.

    Raises
    ------
    ValueError
        ``X`` is rank deficient (the optimum is then not unique), or the shapes disagree.
    """
    X, Y = _array(X, "X"), _array(Y, "Y")
    k = check_int(k, "k", min=0)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"X must have full column rank {X.shape[1]}; the reduced-rank optimum is not unique")
    B_hat = np.linalg.lstsq(X, Y, rcond=None)[0].T  # (m, d)
    Y_hat = X @ B_hat.T
    _, s, Vt = np.linalg.svd(Y_hat, full_matrices=False)
    V = Vt[:min(k, len(s))].T
    B = V @ (V.T @ B_hat)
    value = 0.5 * float(np.sum((Y - X @ B.T) ** 2)) / X.shape[0]
    return RankedSolution(B, value, s)


# --------------------------------------------------------------------------------------------
# Quadratic-activation networks (Venturi, Bandeira, Bruna)
# --------------------------------------------------------------------------------------------


def intrinsic_dimension_quadratic(d: int) -> int:
    """:math:`q = d(d+1)/2`: the dimension of the span of :math:`x \\mapsto (w^\\top x)^2` on :math:`\\mathbb R^d`.

    These functions are the quadratic forms :math:`x^\\top(ww^\\top)x`, and the matrices
    :math:`ww^\\top` span the symmetric :math:`d\\times d` matrices. Venturi, Bandeira and Bruna
    (2019, Theorem 5) prove that a two-layer network whose activation has a finite intrinsic
    dimension :math:`q` has no spurious valleys once its width is :math:`p \\ge q`.
    """
    d = check_int(d, "d", min=1)
    return d * (d + 1) // 2


class QuadraticNets(nn.Module):
    """:math:`S` two-layer networks :math:`f_s(x) = \\sum_{j=1}^p u_{sj}(w_{sj}^\\top x)^2` as one seed ensemble.

    Parameters ``W`` of shape ``(S, p, d)`` (i.i.d. :math:`N(0, 1/d)`) and ``u`` of shape
    ``(S, p)`` (i.i.d. :math:`N(0, 1/p)`), both trained; ``forward`` maps ``(n, d)`` to
    ``(S, n)``, so :func:`dltheory.train.fit_ensemble` trains all members at once.
    Member ``s`` computes the quadratic form of :meth:`matrices` ``[s]``,
    :math:`W_s^\\top\\operatorname{diag}(u_s)W_s`. Drawn in float64 on the CPU from ``seed``.
    """

    def __init__(self, S: int, d: int, p: int, *, seed: int, dtype: torch.dtype = torch.float64,
                 device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.ensemble_size = check_int(S, "S", min=1)
        self.d, self.p = check_int(d, "d", min=1), check_int(p, "p", min=1)
        g = torch.Generator().manual_seed(check_seed(seed))
        W = torch.randn(S, p, d, generator=g, dtype=torch.float64) / math.sqrt(d)
        u = torch.randn(S, p, generator=g, dtype=torch.float64) / math.sqrt(p)
        self.W = nn.Parameter(W.to(dtype=dtype, device=device))
        self.u = nn.Parameter(u.to(dtype=dtype, device=device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``(S, n)`` outputs for inputs ``(n, d)``."""
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ValueError(f"X must have shape (n, {self.d}), got {tuple(X.shape)}")
        Z = torch.einsum("spd,nd->snp", self.W, X)
        return (Z.square() * self.u[:, None, :]).sum(-1)

    def matrices(self) -> torch.Tensor:
        """``(S, d, d)``: each member's symmetric matrix :math:`W_s^\\top\\operatorname{diag}(u_s)W_s`."""
        W, u = self.W.detach(), self.u.detach()
        return torch.einsum("spd,sp,spe->sde", W, u, W)


# --------------------------------------------------------------------------------------------
# Bezier curves between two parameter vectors (Garipov et al. 2018)
# --------------------------------------------------------------------------------------------


def _ts(t) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.float64)
    if t.ndim > 1 or not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError("t must be a number or a 1-D array of numbers in [0, 1]")
    return t


def bezier(theta0: torch.Tensor, phi: torch.Tensor, theta1: torch.Tensor, t) -> torch.Tensor:
    """The quadratic Bézier curve :math:`(1-t)^2\\theta_0 + 2t(1-t)\\phi + t^2\\theta_1`.

    ``theta0``, ``phi``, ``theta1`` are vectors of one shape ``(P,)``; ``t`` a number (returns
    ``(P,)``) or ``(T,)`` numbers in :math:`[0, 1]` (returns ``(T, P)``). The curve passes
    through :math:`\\theta_0` at :math:`t = 0` and :math:`\\theta_1` at :math:`t = 1`; the control
    point :math:`\\phi` is reached only when it lies on the chord.
    """
    t = _ts(t).to(dtype=theta0.dtype, device=theta0.device)
    if not theta0.shape == phi.shape == theta1.shape:
        raise ValueError(f"theta0, phi, theta1 must have one shape, got {tuple(theta0.shape)}, "
                         f"{tuple(phi.shape)}, {tuple(theta1.shape)}")
    s = t[..., None] if t.ndim else t
    return (1 - s) ** 2 * theta0 + 2 * s * (1 - s) * phi + s**2 * theta1


def bezier_derivative(theta0: torch.Tensor, phi: torch.Tensor, theta1: torch.Tensor, t) -> torch.Tensor:
    """:math:`\\theta'(t) = 2(1-t)(\\phi - \\theta_0) + 2t(\\theta_1 - \\phi)`, shapes as :func:`bezier`."""
    t = _ts(t).to(dtype=theta0.dtype, device=theta0.device)
    s = t[..., None] if t.ndim else t
    return 2 * (1 - s) * (phi - theta0) + 2 * s * (theta1 - phi)


class BezierCurve(nn.Module):
    """A quadratic Bézier curve of networks between two trained ones; its one parameter is the control point.

    ``template`` gives the architecture (its own parameters are neither used nor changed);
    ``theta0`` and ``theta1`` are the flat parameter vectors of the end points
    (:func:`dltheory.params.flat_parameters`), kept as buffers. The control point ``phi`` starts
    at the midpoint of the chord, so the untrained curve *is* the straight line.

    In training mode every forward pass draws :math:`t \\sim U[0, 1]` from the curve's own
    generator (seeded by ``seed``) and evaluates the network at :math:`\\theta(t)`, so a
    gradient step on the batch loss is a stochastic gradient step on
    :math:`\\mathbb E_t L(\\theta(t))` with respect to :math:`\\phi` (Garipov et al. 2018,
    sec. 3.2), and :func:`dltheory.train.fit` trains the curve like any model. In evaluation
    mode it uses the fixed :attr:`t` (default 0.5, the point furthest from both ends).
    """

    def __init__(self, template: nn.Module, theta0: torch.Tensor, theta1: torch.Tensor, *, seed: int) -> None:
        super().__init__()
        named_parameters(template)
        f = as_function(template)
        self._f = lambda theta, X: f(theta, X)  # not a submodule: its parameters are not the curve's
        theta0 = check_tensor(theta0, "theta0", ndim=1).detach()
        theta1 = check_tensor(theta1, "theta1", ndim=1).detach()
        size = flat_parameters(template).numel()
        if theta0.numel() != size or theta1.numel() != size:
            raise ValueError(f"theta0 and theta1 must have the template's {size} parameters, got "
                             f"{theta0.numel()} and {theta1.numel()}")
        self.register_buffer("theta0", theta0.clone())
        self.register_buffer("theta1", theta1.clone())
        self.phi = nn.Parameter((theta0 + theta1) / 2)
        self._generator = torch.Generator().manual_seed(check_seed(seed))
        self.t = 0.5

    def point(self, t) -> torch.Tensor:
        """The parameters :math:`\\theta(t)` (``(P,)`` for a number, ``(T, P)`` for ``(T,)`` values)."""
        return bezier(self.theta0, self.phi, self.theta1, t)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        t = float(torch.rand((), generator=self._generator, dtype=torch.float64)) if self.training else self.t
        return self._f(self.point(t), X)


def path_losses(template: nn.Module, thetas: torch.Tensor, X, y, *, loss: str | Callable = "ce") -> np.ndarray:
    """The loss :math:`L(\\theta_j)` at each row of ``thetas`` ``(T, P)``, a float64 array ``(T,)``.

    ``template`` gives the architecture; ``loss`` is a name of :mod:`dltheory.losses` or a callable
    ``loss(outputs, targets)``. No gradients are kept.
    """
    f, fn = as_function(template), losses.resolve(loss)
    thetas = check_tensor(thetas, "thetas", ndim=2)
    with torch.no_grad():
        return np.array([float(fn(f(theta, X), y)) for theta in thetas])


def barrier(ts, values) -> float:
    """The largest excess of a loss along a path over the chord between its end values.

    :math:`\\max_j \\bigl[L(t_j) - (1 - t_j)L(0) - t_jL(1)\\bigr]` for ``ts`` increasing from 0 to 1
    (the definition of Garipov et al. 2018 and Draxler et al. 2018, up to the choice of chord;
    zero for a path along which the loss is convex or linear, positive when it rises between
    the two minima).
    """
    ts, values = np.asarray(ts, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if ts.ndim != 1 or ts.shape != values.shape or len(ts) < 2:
        raise ValueError(f"ts and values must be 1-D of one length >= 2, got shapes {ts.shape} and {values.shape}")
    if ts[0] != 0 or ts[-1] != 1 or np.any(np.diff(ts) <= 0):
        raise ValueError("ts must increase from 0 to 1")
    chord = (1 - ts) * values[0] + ts * values[-1]
    return float(np.max(values - chord))
