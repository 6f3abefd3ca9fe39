"""The separable case: the hard-margin SVM, the ridge path, gradient descent, homogeneous networks."""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .._checks import check_choice, check_int, check_module, check_real, check_sign_labels
from ._losses import LOSS_NAMES, margin_loss

__all__ = ["max_margin_direction", "regularized_minimizer", "angle_between", "exp_loss_gd",
           "exp_loss_hessian", "smoothed_margin", "KKTResidual", "kkt_residual"]


def _numpy64(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(a).__name__}") from err


def _binary_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = _numpy64(X, "X"), _numpy64(y, "y").reshape(-1)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (n examples x d features), got shape {X.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    check_sign_labels(torch.from_numpy(y), "the max-margin problem")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or inf")
    return X, y


def _check_separable(A: np.ndarray) -> None:
    """Refuse data that no direction separates, before libsvm, which would iterate for ages with a huge C.

    A feasibility linear programme: some :math:`u` with :math:`\\langle u, z_i\\rangle \\ge 1` for all rows.
    """
    from scipy.optimize import linprog

    res = linprog(np.zeros(A.shape[1]), A_ub=-A, b_ub=-np.ones(A.shape[0]),
                  bounds=[(None, None)] * A.shape[1], method="highs")
    if res.status == 2:  # infeasible
        raise ValueError("the data are not linearly separable through the origin: no hard-margin SVM exists")


def max_margin_direction(X, y, *, C: float = 1e8) -> torch.Tensor:
    """The hard-margin SVM without bias.

    .. math::  \\hat w = \\arg\\min_w \\lVert w\\rVert^2 \\quad \\text{s.t.}\\quad
               y_i\\langle w, x_i\\rangle \\ge 1 \\ \\text{for all } i.

    scikit-learn's ``SVC(kernel="linear")`` always fits an intercept. It is
    given the data together with its mirror image :math:`\\{(-x_i, -y_i)\\}`:
    if :math:`(w, b)` solves that symmetric problem so does :math:`(w, -b)`,
    and the solution is unique, so :math:`b = 0` and :math:`w` is the bias-free
    solution. Libsvm stops at a tolerance, so the result is then polished with
    the KKT conditions (as in Soudry et al. 2018, eq. 4): with :math:`S` the
    rows :math:`y_i x_i` of the support vectors,
    :math:`\\hat w = S^\\top a` where :math:`S S^\\top a = \\mathbf 1`,
    kept when :math:`a \\ge 0` and every margin is at least 1.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm1\\}`, separable
        through the origin.
    C
        The soft-margin constant; large enough that no constraint is violated.

    Returns
    -------
    torch.Tensor
        :math:`\\hat w` in float64 on the CPU, shape ``(d,)``, scaled so that
        :math:`\\min_i y_i \\langle \\hat w, x_i\\rangle = 1`; its norm is
        :math:`1/\\gamma` for the geometric margin :math:`\\gamma`.

    Raises
    ------
    ValueError
        The data are not separable through the origin.
    """
    from sklearn.svm import SVC

    X, y = _binary_data(X, y)
    C = check_real(C, "C", min=0.0, min_open=True)
    _check_separable(y[:, None] * X)
    svc = SVC(kernel="linear", C=C, tol=1e-10).fit(np.vstack([X, -X]), np.concatenate([y, -y]))
    w = svc.coef_.reshape(-1).astype(np.float64)
    A = y[:, None] * X
    if not (A @ w).min() > 0:
        raise ValueError("the data are not linearly separable through the origin: no hard-margin SVM exists")
    w = w / (A @ w).min()
    support = A[A @ w < 1 + 1e-5]
    try:
        a = np.linalg.solve(support @ support.T, np.ones(len(support)))
    except np.linalg.LinAlgError:  # degenerate support set: keep the solver's answer
        a = None
    if a is not None and (a >= -1e-12).all():
        polished = support.T @ a
        if (A @ polished).min() > 1 - 1e-9:
            w = polished / (A @ polished).min()
    return torch.from_numpy(w)


def regularized_minimizer(X, y, lam: float, *, tol: float = 1e-12, max_iter: int = 200) -> torch.Tensor:
    """The minimiser of the exponential loss plus a ridge penalty.

    .. math::  F(w) = \\frac1n\\sum_i e^{-y_i\\langle w, x_i\\rangle} + \\frac\\lambda2\\lVert w\\rVert^2 .

    :math:`F` is :math:`\\lambda`-strongly convex, so the minimiser exists, is
    unique and does not depend on where a method starts (deck 1, "linear
    networks, exponential loss and regularization"). Newton's method from
    :math:`w = 0` with a backtracking line search, in float64 on the CPU, until
    :math:`\\lVert\\nabla F\\rVert \\le` ``tol`` :math:`\\cdot\\max(1, \\lambda\\lVert w\\rVert)`,
    or until the Newton decrement :math:`\\nabla F^\\top (\\nabla^2 F)^{-1} \\nabla F` falls
    below :math:`10^{-14} F` (then the decrease is below rounding and one pure
    Newton step finishes; Boyd and Vandenberghe 2004, sec. 9.5).
    The objective is the one :func:`dltheory.train.fit` minimises with
    ``loss="exp", weight_decay=lam``.

    Returns
    -------
    torch.Tensor
        :math:`w_\\lambda`, float64, shape ``(d,)``.
    """
    X, y = _binary_data(X, y)
    lam = check_real(lam, "lam", min=0.0, min_open=True)
    tol = check_real(tol, "tol", min=0.0, min_open=True)
    max_iter = check_int(max_iter, "max_iter", min=1)
    A = y[:, None] * X
    n, d = A.shape

    def objective(w: np.ndarray) -> float:
        return float(np.exp(-A @ w).mean() + 0.5 * lam * w @ w)

    w = np.zeros(d)
    for _ in range(max_iter):
        e = np.exp(-A @ w)
        grad = -(A.T @ e) / n + lam * w
        if np.linalg.norm(grad) <= tol * max(1.0, lam * np.linalg.norm(w)):
            return torch.from_numpy(w)
        hess = (A.T * e) @ A / n + lam * np.eye(d)
        step = np.linalg.solve(hess, grad)
        t, f0, slope = 1.0, objective(w), grad @ step
        if slope <= 1e-14 * f0:
            # The predicted decrease (half the squared Newton decrement) is below what F can
            # resolve, so the line search below could only stall: near the minimum the pure
            # Newton step converges quadratically, and it is the last one needed.
            return torch.from_numpy(w - step)
        while objective(w - t * step) > f0 - 0.25 * t * slope and t > 1e-12:
            t *= 0.5
        w = w - t * step
    raise RuntimeError(f"Newton's method did not converge in {max_iter} iterations (lam={lam:g})")


def angle_between(u, v) -> float:
    """The angle between two vectors (flattened), in degrees.

    Computed as :math:`2\\arctan(\\lVert \\hat u - \\hat v\\rVert / \\lVert \\hat u + \\hat v\\rVert)`
    for the unit vectors :math:`\\hat u, \\hat v`, which stays accurate for angles
    far below the :math:`10^{-8}` rad where :math:`\\arccos` of a cosine loses every digit.
    The angle with a zero vector is undefined: NaN (so that a model started
    at zero can be tracked from step 0).
    """
    a, b = _numpy64(u, "u").reshape(-1), _numpy64(v, "v").reshape(-1)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the vectors contain NaN or inf")
    if a.shape != b.shape:
        raise ValueError(f"the vectors have different sizes: {a.size} and {b.size}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return math.nan
    a, b = a / na, b / nb
    return math.degrees(2.0 * math.atan2(np.linalg.norm(a - b), np.linalg.norm(a + b)))


def _starts(starts, d: int) -> np.ndarray:
    W = _numpy64(starts, "starts")
    if W.ndim == 1:
        W = W[None, :]
    if W.ndim != 2 or W.shape[1] != d:
        raise ValueError(f"starts must have shape (K, {d}) (one start per row), got {W.shape}")
    if not np.isfinite(W).all():
        raise ValueError("starts contain NaN or inf")
    return W.T.copy()


def exp_loss_gd(X, y, starts, *, lr: float, steps: int, record_at=(), lam: float = 0.0,
                lam_from: int = 0, loss: str = "exp", poly_k: float = 2.0) -> dict:
    """Full-batch gradient descent on the exponential loss from ``K`` starts at once.

    .. math::  w_{t+1} = w_t + \\frac{\\eta}{n}\\sum_{i=1}^n e^{-y_i\\langle w_t, x_i\\rangle}\\, y_i x_i
               - \\eta\\lambda_t w_t, \\qquad \\lambda_t = \\lambda\\,[t \\ge t_0],

    the update of :func:`dltheory.train.fit` with ``loss="exp"`` and the
    ``"gd"`` preset (``weight_decay`` :math:`=\\lambda_t`): Soudry et al.
    (2018) without the penalty; with :math:`t_0 > 0` the penalty is switched
    on late (deck 1, "time-dependent regularisation"), and the iterates then
    converge to the minimiser of :func:`regularized_minimizer` from every start.
    The starts are independent runs (the columns of one matrix), in float64 on
    the CPU.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm1\\}`.
    starts
        ``(K, d)``: one start per row (a ``(d,)`` vector is one start).
    lr, steps
        :math:`\\eta > 0` and the number of updates.
    record_at
        Steps at which to record; step 0 and the last step are always added.
    lam, lam_from
        :math:`\\lambda \\ge 0` and :math:`t_0`: updates :math:`t \\ge t_0`
        (counted from 0) use the penalty.
    loss, poly_k
        The margin loss :math:`\\ell` (see :func:`margin_loss`): ``"exp"``
        (default), ``"logistic"`` (the update of ``train.fit`` with
        ``loss="logistic"``) or ``"poly"``, the polynomially tailed
        :math:`\\ell(u) = u^{-k}` for :math:`u \\ge 1` with :math:`k =` ``poly_k``.
        The update is then :math:`w_{t+1} = w_t + \\frac{\\eta}{n}\\sum_i
        -\\ell'(y_i\\langle w_t, x_i\\rangle)\\, y_i x_i - \\eta\\lambda_t w_t`.
        The data need not be separable.

    Returns
    -------
    dict
        ``step`` (``(R,)`` ints), ``w`` (``(R, K, d)`` tensor, the iterates) and
        ``loss`` (``(R, K)`` array, the mean loss :math:`\\frac1n\\sum_i\\ell` without the penalty).
    """
    X, y = _binary_data(X, y)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    lam = check_real(lam, "lam", min=0.0)
    lam_from = check_int(lam_from, "lam_from", min=0)
    value, slope = margin_loss(check_choice(loss, "loss", LOSS_NAMES), poly_k=poly_k)[:2]
    record = {0, steps}
    for t in record_at:
        record.add(check_int(t, "a step of record_at", min=0, max=steps))
    A = y[:, None] * X
    n = A.shape[0]
    W = _starts(starts, A.shape[1])
    kept_steps, kept_w, kept_loss = [], [], []
    for t in range(steps + 1):
        M = A @ W
        if t in record:
            kept_steps.append(t)
            kept_w.append(W.T.copy())
            kept_loss.append(value(M).mean(axis=0))
        if t == steps:
            break
        step = (lr / n) * (A.T @ slope(M))
        if lam > 0 and t >= lam_from:
            step -= (lr * lam) * W
        W = W + step
    return {"step": np.array(kept_steps), "w": torch.from_numpy(np.stack(kept_w)),
            "loss": np.stack(kept_loss)}


def exp_loss_hessian(X, y, w, lam: float = 0.0) -> torch.Tensor:
    """The Hessian of the exponential loss plus a ridge penalty, in closed form.

    .. math::  \\nabla^2 F(w) = \\frac1n\\sum_i e^{-y_i\\langle w, x_i\\rangle}\\, x_i x_i^\\top + \\lambda I

    for :math:`F(w) = \\frac1n\\sum_i e^{-y_i\\langle w, x_i\\rangle} + \\frac\\lambda2\\lVert w\\rVert^2`
    (Soudry et al. 2018; deck 1, "linear networks, exponential loss and
    regularization"). Its data part has range in the span of the examples: for
    :math:`d > n` and :math:`\\lambda = 0` at least :math:`d - n` eigenvalues are
    zero, and with :math:`\\lambda > 0` the smallest eigenvalue is exactly
    :math:`\\lambda`, at every :math:`w`. Float64, shape ``(d, d)``.
    """
    X, y = _binary_data(X, y)
    lam = check_real(lam, "lam", min=0.0)
    w = _numpy64(w, "w").reshape(-1)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w has {w.shape[0]} entries but the inputs have {X.shape[1]} features")
    e = np.exp(-(y[:, None] * X) @ w)
    return torch.from_numpy((X.T * e) @ X / X.shape[0] + lam * np.eye(X.shape[1]))


def smoothed_margin(margins, param_norm, degree: int, loss: str = "exp") -> float:
    """Lyu and Li's smoothed normalised margin of an :math:`L`-homogeneous model.

    With the margins :math:`q_i = y_i f(\\theta; x_i)`, the *summed* loss
    :math:`\\mathcal L = \\sum_i \\ell(q_i)` and :math:`\\rho = \\lVert\\theta\\rVert_2`,

    .. math::  \\tilde\\gamma = \\frac{\\log(1/\\mathcal L)}{\\rho^L} \\ \\ (\\ell(q) = e^{-q}), \\qquad
               \\tilde\\gamma = \\frac{-\\log(e^{\\mathcal L} - 1)}{\\rho^L} \\ \\ (\\ell(q) = \\log(1 + e^{-q})),

    Lyu and Li (2020, sec. 4, the definition of :math:`\\tilde\\gamma` with
    :math:`g = f^{-1}`, :math:`\\ell = e^{-f}`). Once :math:`\\mathcal L < \\ell(0)`
    every example is classified correctly and :math:`\\tilde\\gamma` is positive;
    from then on it is non-decreasing along gradient flow, and along gradient
    descent with small enough steps (their monotonicity results), and it
    bounds the normalised margin :math:`\\min_i q_i/\\rho^L` from below, with a
    gap :math:`O(\\log n/\\rho^L)`. Computed stably (``logsumexp``) in float64.

    Parameters
    ----------
    margins
        ``(n,)`` margins :math:`q_i`.
    param_norm
        :math:`\\rho > 0`, the Euclidean norm of all parameters together.
    degree
        The degree of homogeneity :math:`L \\ge 1`.
    loss
        ``"exp"`` or ``"logistic"``.
    """
    q = _numpy64(margins, "margins").reshape(-1)
    if q.size == 0 or not np.isfinite(q).all():
        raise ValueError("margins must be a non-empty vector of finite numbers")
    rho = check_real(param_norm, "param_norm", min=0.0, min_open=True)
    degree = check_int(degree, "degree", min=1)
    if loss == "exp":
        m = (-q).max()
        log_sum = m + math.log(np.exp(-q - m).sum())  # log sum_i exp(-q_i)
        return float(-log_sum / rho**degree)
    if loss == "logistic":
        total = float(np.logaddexp(0.0, -q).sum())  # sum_i log(1 + e^{-q_i})
        return float(-np.log(np.expm1(total)) / rho**degree) if total > 0 else math.inf
    raise ValueError(f"unknown loss {loss!r}; choose one of ['exp', 'logistic']")


class KKTResidual(NamedTuple):
    """The approximate KKT point of :func:`kkt_residual`."""

    epsilon: float  #: relative stationarity residual
    delta: float  #: complementary slackness, sum_i lambda_i (q_i - 1)
    multipliers: np.ndarray  #: (n,) lambda_i >= 0, zero off the support set
    support: np.ndarray  #: (n,) bool, the examples that may carry a multiplier
    margins: np.ndarray  #: (n,) normalised margins q_i(theta~), the smallest equal to 1


def kkt_residual(model: nn.Module, X, y, degree: int, *, support_tol: float = math.inf) -> KKTResidual:
    """How far an :math:`L`-homogeneous model is from a KKT point of the max-margin problem.

    The problem is :math:`\\min_\\theta \\frac12\\lVert\\theta\\rVert^2` subject to
    :math:`q_i(\\theta) = y_i f(\\theta; x_i) \\ge 1`. Rescale the parameters to
    :math:`\\tilde\\theta = \\theta / q_{\\min}^{1/L}`, so that the smallest margin
    is exactly 1 and every constraint holds. The KKT conditions ask for
    :math:`\\lambda \\ge 0` with :math:`\\tilde\\theta = \\sum_i \\lambda_i \\nabla q_i(\\tilde\\theta)`
    and :math:`\\lambda_i (q_i - 1) = 0`. Lyu and Li (2020, sec. 4 and the
    appendix on approximate KKT points) call :math:`\\tilde\\theta` an :math:`(\\varepsilon, \\delta)`-KKT point
    when some :math:`\\lambda \\ge 0` gives
    :math:`\\lVert\\tilde\\theta - \\sum_i\\lambda_i\\nabla q_i\\rVert \\le \\varepsilon` and
    :math:`\\sum_i \\lambda_i (q_i - 1) \\le \\delta`, and prove that both tend to 0
    along gradient descent. Here the multipliers are the best ones for the
    first condition, by non-negative least squares (``scipy.optimize.nnls``),
    restricted to the *near-support* examples :math:`q_i(\\tilde\\theta) \\le`
    ``support_tol``; then :math:`\\delta \\le (\\text{support\\_tol} - 1)\\sum_i\\lambda_i`.
    :math:`\\varepsilon` is returned relative to :math:`\\lVert\\tilde\\theta\\rVert`
    (it is scale-free: 0 at a KKT point, 1 for :math:`\\lambda = 0`).

    The gradients :math:`\\nabla q_i` are per-example gradients of the model's
    output with respect to its trainable parameters (one backward pass per
    example, on a float64 copy of the model on the CPU).

    Parameters
    ----------
    model
        A model with one output that is positively homogeneous of degree
        ``degree`` in all its parameters (e.g. a bias-free ReLU network).
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm 1\\}`, all classified
        correctly by ``model``.
    degree
        :math:`L \\ge 1`.
    support_tol
        Examples with :math:`q_i(\\tilde\\theta) \\le` ``support_tol`` (at least 1)
        may carry a multiplier; ``inf`` (default) lets all of them.
    """
    from scipy.optimize import nnls

    model = check_module(model)
    degree = check_int(degree, "degree", min=1)
    support_tol = float(support_tol) if support_tol == math.inf else check_real(support_tol, "support_tol", min=1.0)
    X, y = _binary_data(X, y)
    net = copy.deepcopy(model).to("cpu", torch.float64)
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    with torch.no_grad():
        q = (yt * net(Xt).reshape(-1)).numpy()
    if q.shape[0] != X.shape[0]:
        raise ValueError("the model must have one output per example")
    if not q.min() > 0:
        raise ValueError("kkt_residual needs every example classified correctly (all margins > 0)")
    with torch.no_grad():
        for p in params:
            p.mul_(q.min() ** (-1.0 / degree))  # theta~: the smallest margin is now 1
    out = net(Xt).reshape(-1)
    # per-example gradients by one backward pass each: n is small, and plain autograd has no start-up cost
    J = np.stack([torch.cat([g.reshape(-1) for g in torch.autograd.grad(out[i], params, retain_graph=True)]).numpy()
                  for i in range(X.shape[0])]) * y[:, None]
    theta = torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    margins = q / q.min()
    support = margins <= support_tol
    lam = np.zeros(X.shape[0])
    lam_s, res = nnls(J[support].T, theta, maxiter=50 * J.shape[1])
    lam[support] = lam_s
    return KKTResidual(float(res / np.linalg.norm(theta)), float(lam @ (margins - 1.0)), lam, support, margins)
