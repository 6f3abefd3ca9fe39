"""Beyond the separable picture: the limit of the residual, non-separable and partially separable data, heavy tails."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .._checks import check_choice, check_int, check_real
from ._losses import LOSS_NAMES, margin_loss
from ._separable import _binary_data, max_margin_direction


def separable_subset(X, y) -> np.ndarray:
    """The largest subset of the examples that one direction classifies strictly, keeping the rest on its boundary.

    The examples :math:`i` for which some :math:`u` has :math:`y_j\\langle u, x_j\\rangle \\ge 0`
    for every :math:`j` and :math:`y_i\\langle u, x_i\\rangle > 0`. The feasible :math:`u`
    form a convex cone, so the sum of such directions serves all of these
    examples at once: the subset is unique. Ji and Telgarsky (2019) split every
    data set this way; the remaining examples span the subspace in which the
    risk has a bounded minimiser. Computed by one linear programme
    (``scipy.optimize.linprog``, HiGHS),

    .. math::  \\max_{u, s} \\sum_i s_i \\quad\\text{s.t.}\\quad y_i\\langle u, x_i\\rangle \\ge s_i,\\ 0 \\le s_i \\le 1,

    whose optimum is :math:`s_i = 1` exactly on the subset (scale :math:`u` up) and 0 elsewhere.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` booleans; all true for data separable through the origin,
        none for data with a bounded risk minimiser.
    """
    from scipy.optimize import linprog

    X, y = _binary_data(X, y)
    A = y[:, None] * X
    n, d = A.shape
    scale = max(1.0, np.abs(A).max())
    res = linprog(np.concatenate([np.zeros(d), -np.ones(n)]),
                  A_ub=np.hstack([-A / scale, np.eye(n)]), b_ub=np.zeros(n),
                  bounds=[(None, None)] * d + [(0.0, 1.0)] * n, method="highs")
    if res.status != 0:
        raise RuntimeError(f"the linear programme failed: {res.message}")
    return res.x[d:] > 0.5


def margin_loss_minimizer(X, y, loss: str = "logistic", *, poly_k: float = 2.0,
                          tol: float = 1e-12) -> torch.Tensor:
    """The finite minimiser of the mean margin loss on data that no direction separates.

    .. math::  \\bar w = \\arg\\min_w \\frac1n\\sum_{i=1}^n \\ell(y_i\\langle w, x_i\\rangle).

    It exists and is unique when no direction :math:`u \\neq 0` has
    :math:`y_i\\langle u, x_i\\rangle \\ge 0` for all :math:`i` (then the convex risk
    grows in every direction) and the inputs span :math:`\\mathbb R^d` (then it is
    strictly convex). Found by ``scipy.optimize.minimize`` with the exact
    trust-region method and the closed-form gradient and Hessian, from
    :math:`w = 0`, to gradient norm ``tol``.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm1\\}`.
    loss, poly_k
        The loss of :func:`margin_loss`.
    tol
        The gradient-norm tolerance.

    Returns
    -------
    torch.Tensor
        :math:`\\bar w`, float64, shape ``(d,)``.

    Raises
    ------
    ValueError
        Some examples can be separated (:func:`separable_subset` is not empty):
        the infimum is not attained; or the inputs do not span
        :math:`\\mathbb R^d`, so that the minimiser is not unique.
    """
    from scipy.optimize import minimize

    X, y = _binary_data(X, y)
    check_choice(loss, "loss", LOSS_NAMES)
    tol = check_real(tol, "tol", min=0.0, min_open=True)
    value, slope, curv = margin_loss(loss, poly_k=poly_k)
    A = y[:, None] * X
    n, d = A.shape
    if np.linalg.matrix_rank(A) < d:
        raise ValueError(f"the inputs span only {np.linalg.matrix_rank(A)} of {d} dimensions: the minimiser is "
                         "not unique (restrict the problem to their span)")
    part = separable_subset(X, y)
    if part.any():
        raise ValueError(f"{int(part.sum())} of {n} examples can be separated, so the risk has no finite minimiser "
                         "(its infimum is approached at infinity); use nonseparable_decomposition for the "
                         "partially separable case, max_margin_direction for the separable one")
    def grad(w: np.ndarray) -> np.ndarray:
        return -(A.T @ slope(A @ w)) / n

    def hess(w: np.ndarray) -> np.ndarray:
        return (A.T * curv(A @ w)) @ A / n

    res = minimize(lambda w: value(A @ w).mean(), np.zeros(d), jac=grad, hess=hess,
                   method="trust-exact", options={"gtol": 1e-9, "maxiter": 1000})
    w = res.x
    # scipy stops when its model of the decrease drowns in rounding; near the minimum a few pure
    # Newton steps then converge quadratically, as far as the gradient can be resolved
    for _ in range(8):
        g = grad(w)
        if np.linalg.norm(g) <= tol:
            break
        w_new = w - np.linalg.solve(hess(w), g)
        if not np.linalg.norm(grad(w_new)) < np.linalg.norm(g):
            break
        w = w_new
    if not np.linalg.norm(grad(w)) <= 1e3 * tol:
        raise RuntimeError(f"the minimiser was not found to gradient norm {tol:g}: {res.message}")
    return torch.from_numpy(w)


class NonseparableDecomposition(NamedTuple):
    """Ji and Telgarsky's split of a data set (see :func:`nonseparable_decomposition`)."""

    separable: np.ndarray  #: (n,) bool, the maximal separable subset
    basis: np.ndarray  #: (d, k) orthonormal basis of S, the span of the other examples
    offset: torch.Tensor  #: (d,) the risk minimiser within S
    direction: torch.Tensor  #: (d,) the max-margin vector in the complement of S, margin 1


def nonseparable_decomposition(X, y, loss: str = "logistic") -> NonseparableDecomposition:
    """Split a data set into a separable part and a part with a bounded risk minimiser.

    Ji and Telgarsky (2019): let :math:`I` be the :func:`separable_subset`
    and :math:`S` the span of the examples outside it. Every :math:`u` that
    classifies :math:`I` strictly while keeping the rest on its boundary lies
    in :math:`S^\\perp`. Gradient descent on the logistic (or exponential) risk
    with a small enough constant step then satisfies

    .. math::  \\Pi_S w_t \\to \\bar v = \\arg\\min_{v \\in S} \\sum_{i \\notin I} \\ell(y_i\\langle v, x_i\\rangle),
               \\qquad \\frac{\\Pi_{S^\\perp} w_t}{\\lVert \\Pi_{S^\\perp} w_t\\rVert} \\to
               \\frac{\\bar u}{\\lVert\\bar u\\rVert},

    where :math:`\\bar u` is the hard-margin SVM of the examples of :math:`I`
    projected onto :math:`S^\\perp` (:func:`max_margin_direction`), and
    :math:`\\lVert\\Pi_{S^\\perp} w_t\\rVert` grows like :math:`\\lVert\\bar u\\rVert\\log t`.

    Returns
    -------
    NonseparableDecomposition
        ``separable`` (the mask of :math:`I`), ``basis`` (orthonormal columns
        spanning :math:`S`), ``offset`` :math:`\\bar v` (zero if :math:`S = \\{0\\}`)
        and ``direction`` :math:`\\bar u` (zero if :math:`I` is empty).
    """
    X, y = _binary_data(X, y)
    sep = separable_subset(X, y)
    d = X.shape[1]
    rest = X[~sep]
    if rest.shape[0]:
        U, s, _ = np.linalg.svd(rest.T, full_matrices=False)
        basis = U[:, s > s[0] * 1e-10]
    else:
        basis = np.zeros((d, 0))
    offset = np.zeros(d)
    if basis.shape[1]:
        offset = basis @ margin_loss_minimizer(rest @ basis, y[~sep], loss).numpy()
    direction = np.zeros(d)
    if sep.any():
        projected = X[sep] - (X[sep] @ basis) @ basis.T
        direction = max_margin_direction(projected, y[sep]).numpy()
        direction -= basis @ (basis.T @ direction)
    return NonseparableDecomposition(sep, basis, torch.from_numpy(offset), torch.from_numpy(direction))


class ResidualLimit(NamedTuple):
    """The limit of Soudry et al.'s residual (see :func:`residual_limit`)."""

    w_tilde: torch.Tensor  #: (d,) the limit, in the span of the support vectors
    alpha: np.ndarray  #: (s,) the SVM's dual variables of the support vectors
    support: np.ndarray  #: (s,) indices of the support vectors


def residual_limit(X, y, lr: float, *, tol: float = 1e-6) -> ResidualLimit:
    """Where the residual :math:`\\rho(t) = w(t) - \\hat w\\log t` of gradient descent settles.

    On separable data, gradient descent on the exponential loss has
    :math:`w(t) = \\hat w\\log t + \\rho(t)` with :math:`\\rho` bounded for almost
    every data set (Soudry et al. 2018, Theorem 3). Their proof finds the
    limit on the span of the support vectors :math:`S`: write the SVM's
    solution through its dual variables, :math:`\\hat w = \\sum_{i\\in S}\\alpha_i y_i x_i`
    with :math:`\\alpha_i > 0`, and solve

    .. math::  \\frac{\\eta}{n}\\, e^{-y_i\\langle \\tilde w, x_i\\rangle} = \\alpha_i \\quad (i \\in S),

    that is :math:`y_i\\langle\\tilde w, x_i\\rangle = \\log\\frac{\\eta}{n\\alpha_i}`. The
    paper writes the summed loss, :math:`\\eta e^{-x_n^\\top\\tilde w} = \\alpha_n`; the
    library's mean loss (:func:`exp_loss_gd`) divides the step by :math:`n`.
    The heuristic: once :math:`w \\approx \\hat w\\log t + \\tilde w`, a step adds
    :math:`\\frac\\eta n\\sum_{i\\in S} e^{-y_i\\langle w, x_i\\rangle} y_i x_i = \\hat w/t`,
    which is exactly what :math:`\\hat w \\log t` needs.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm1\\}`, separable
        through the origin.
    lr
        The step :math:`\\eta` of gradient descent on the mean loss.
    tol
        Examples with :math:`y_i\\langle\\hat w, x_i\\rangle \\le 1 +` ``tol`` are support vectors.

    Returns
    -------
    ResidualLimit
        ``w_tilde`` (the minimum-norm solution, i.e. the projection of the limit
        onto the span of the support vectors), ``alpha`` and ``support``.

    Raises
    ------
    ValueError
        The data are not separable through the origin, or the support vectors
        are linearly dependent or have a zero dual variable (a degenerate,
        measure-zero data set, where the residual need not converge).
    """
    X, y = _binary_data(X, y)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    w_hat = max_margin_direction(X, y).numpy()
    A = y[:, None] * X
    support = np.flatnonzero(A @ w_hat <= 1 + tol)
    Z = A[support]
    if np.linalg.matrix_rank(Z) < len(support):
        raise ValueError(f"the {len(support)} support vectors are linearly dependent: the dual variables are not "
                         "unique (a degenerate data set)")
    alpha = np.linalg.lstsq(Z.T, w_hat, rcond=None)[0]
    if not (alpha > 0).all():
        raise ValueError("a support vector has a dual variable <= 0 (a degenerate data set)")
    w_tilde = np.linalg.lstsq(Z, np.log(lr / (X.shape[0] * alpha)), rcond=None)[0]
    return ResidualLimit(torch.from_numpy(w_tilde), alpha, support)


def polynomial_tail_direction(X, y, poly_k: float = 2.0, *, tol: float = 1e-12,
                              max_iter: int = 200) -> torch.Tensor:
    """The direction gradient descent takes with the polynomially tailed loss of :func:`margin_loss`.

    Once every margin exceeds 1, the loss :math:`\\sum_i (y_i\\langle w, x_i\\rangle)^{-k}`
    is homogeneous of degree :math:`-k` in :math:`w`, so its direction
    follows, up to a change of time, gradient flow on the sphere of

    .. math::  G(v) = \\sum_i (y_i\\langle v, x_i\\rangle)^{-k}, \\qquad \\lVert v\\rVert = 1,

    and the limit direction minimises :math:`G` (Ji, Dudík, Schapire, Telgarsky
    2020, for polynomially tailed losses; Nacson et al. 2019 show it is not the
    max-margin direction in general). Every example counts, not only the
    support vectors. :math:`G` is the restriction of a convex function on the
    cone of separating directions, and the minimiser's direction is that of
    :math:`\\arg\\min_w G(w) + \\frac12\\lVert w\\rVert^2`, found here by Newton's
    method with a feasible backtracking line search, from :math:`\\hat w`.

    Returns
    -------
    torch.Tensor
        The unit vector :math:`v^\\star`, float64, shape ``(d,)``.

    Raises
    ------
    ValueError
        The data are not separable through the origin.
    """
    X, y = _binary_data(X, y)
    k = check_real(poly_k, "poly_k", min=0.0, min_open=True)
    max_iter = check_int(max_iter, "max_iter", min=1)
    A = y[:, None] * X
    w = max_margin_direction(X, y).numpy()

    def objective(w: np.ndarray) -> float:
        u = A @ w
        return float((u ** -k).sum() + 0.5 * w @ w) if (u > 0).all() else np.inf

    for _ in range(max_iter):
        u = A @ w
        grad = -k * (A.T @ u ** (-k - 1)) + w
        if np.linalg.norm(grad) <= tol * max(1.0, np.linalg.norm(w)):
            break
        hess = k * (k + 1) * (A.T * u ** (-k - 2)) @ A + np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        t, f0 = 1.0, objective(w)
        while objective(w - t * step) > f0 - 0.25 * t * (grad @ step) and t > 1e-12:
            t *= 0.5
        if t <= 1e-12:  # no further decrease is representable: at the minimum
            break
        w = w - t * step
    else:
        raise RuntimeError(f"Newton's method did not converge in {max_iter} iterations")
    return torch.from_numpy(w / np.linalg.norm(w))
