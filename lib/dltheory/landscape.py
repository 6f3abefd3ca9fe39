"""Loss landscapes that overparametrisation makes benign: exact population losses and convex certificates.

Two models whose landscapes can be computed exactly.

**ReLU teacher and student on Gaussian inputs** (Safran and Shamir 2018). The student
:math:`x \\mapsto \\sum_{i=1}^k [w_i^\\top x]_+` learns the teacher
:math:`x \\mapsto \\sum_{j=1}^{k_0} [v_j^\\top x]_+` (all output weights 1) under the population
loss for :math:`x \\sim N(0, I_d)`,

.. math::

    F(W) = \\tfrac12\\,\\mathbb{E}_x\\Bigl(\\sum_i [w_i^\\top x]_+ - \\sum_j [v_j^\\top x]_+\\Bigr)^2
         = \\tfrac12\\sum_{i,i'} \\kappa(w_i, w_{i'}) - \\sum_{i,j}\\kappa(w_i, v_j)
           + \\tfrac12\\sum_{j,j'}\\kappa(v_j, v_{j'}),

where :math:`\\kappa(w, v) = \\mathbb{E}[w^\\top x]_+[v^\\top x]_+ = \\frac{\\lVert w\\rVert\\lVert v\\rVert}{2\\pi}
(\\sin\\theta + (\\pi - \\theta)\\cos\\theta)` is the first-order arc-cosine kernel of Cho and Saul
(2009), :math:`\\theta` the angle between :math:`w` and :math:`v`. The loss involves no sample,
so a student that gets stuck is stuck on the landscape itself, not on a finite training set.
:func:`arccos_kernel`, :func:`population_loss`, :func:`population_gradient` (closed form, batched
over leading dimensions, e.g. ``(S, k, d)`` for ``S`` seeds) and :func:`gradient_descent`.

**Quadratic activations** (Du and Lee 2018). With :math:`\\sigma(z) = z^2` and output weights
1, :math:`f_W(x) = \\sum_j (w_j^\\top x)^2 = x^\\top M x` with :math:`M = W^\\top W \\succeq 0` of rank
at most :math:`k`, and :math:`\\lVert W\\rVert_F^2 = \\operatorname{tr} M`. Hence training with weight
decay,

.. math::

    \\min_W\\; \\frac1n \\sum_i \\bigl(f_W(x_i) - y_i\\bigr)^2 + \\lambda \\lVert W\\rVert_F^2,

is the convex problem :math:`\\min_{M \\succeq 0} g(M) + \\lambda \\operatorname{tr} M`,
:math:`g(M) = \\frac1n\\sum_i(x_i^\\top M x_i - y_i)^2`, restricted to rank :math:`\\le k`.
:func:`solve_convex` solves the convex problem by accelerated proximal gradient (FISTA with
eigenvalue soft-thresholding); :func:`certificate` bounds the optimality gap of any
:math:`M \\succeq 0` from its gradient alone, so a trained network (:func:`fit_quadratic_net`)
is *certified* globally optimal, not merely observed to stop.

References: Cho and Saul, "Kernel methods for deep learning", NeurIPS 2009; Safran and Shamir,
"Spurious local minima are common in two-layer ReLU neural networks", ICML 2018; Du and Lee,
"On the power of over-parametrization in neural networks with quadratic activation", ICML 2018;
Pataki, "On the rank of extreme matrices in semidefinite programs", Math. Oper. Res. 1998.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from threadpoolctl import threadpool_limits

from ._checks import check_int, check_real, check_seed, check_tensor

__all__ = [
    "arccos_kernel", "population_loss", "population_gradient", "population_hessian", "orthonormal_teacher",
    "student_init", "Descent", "gradient_descent",
    "quadratic_data", "quadratic_loss", "Certificate", "certificate", "ConvexSolution", "solve_convex",
    "fit_quadratic_net", "pataki_rank", "numerical_rank",
]


def _weights(W, name: str) -> torch.Tensor:
    """``W`` checked (shape, dtype, finite); a tensor is returned as given, so autograd sees through."""
    checked = check_tensor(W, name)
    W = W if isinstance(W, torch.Tensor) else checked
    if W.ndim < 2:
        raise ValueError(f"{name} must have shape (..., units, d), got shape {tuple(W.shape)}")
    if not W.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {W.dtype}")
    return W


def _cos_theta(dot: torch.Tensor, norms: torch.Tensor, same: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and angle of every pair; for ``same`` (a matrix against itself) the diagonal is masked to 0
    *before* ``arccos``, whose derivative at 1 is infinite, so that autograd stays finite."""
    tiny = torch.finfo(dot.dtype).tiny
    cos = torch.where(norms > 0, dot / norms.clamp_min(tiny), torch.zeros_like(dot))
    if same:
        off = 1.0 - torch.eye(dot.shape[-1], dtype=dot.dtype, device=dot.device)
        cos = cos * off
    return cos, torch.arccos(cos.clamp(-1.0, 1.0))


def _kernel(W: torch.Tensor, V: torch.Tensor, same: bool = False) -> torch.Tensor:
    dot = W @ V.transpose(-1, -2)
    norms = torch.linalg.vector_norm(W, dim=-1)[..., :, None] * torch.linalg.vector_norm(V, dim=-1)[..., None, :]
    cos, theta = _cos_theta(dot, norms, same)
    sin = (1.0 - cos.square()).clamp_min(0.0)
    if same:  # sqrt'(0) is infinite too: the diagonal (sin = 0) is replaced below
        eye = torch.eye(dot.shape[-1], dtype=dot.dtype, device=dot.device)
        sin = sin * (1 - eye) + eye
    K = norms * (sin.sqrt() + (math.pi - theta) * cos) / (2 * math.pi)
    if same:
        K = K * (1 - eye) + torch.diag_embed(W.square().sum(-1) / 2)
    return K


def arccos_kernel(W, V) -> torch.Tensor:
    """:math:`\\kappa(w_i, v_j) = \\mathbb{E}_{x\\sim N(0,I)}[w_i^\\top x]_+[v_j^\\top x]_+` for every pair of rows.

    .. math::

        \\kappa(w, v) = \\frac{\\lVert w\\rVert\\lVert v\\rVert}{2\\pi}\\bigl(\\sin\\theta + (\\pi - \\theta)\\cos\\theta\\bigr),
        \\qquad \\cos\\theta = \\frac{w^\\top v}{\\lVert w\\rVert\\lVert v\\rVert},

    the first-order arc-cosine kernel (Cho and Saul 2009); :math:`\\kappa(w, w) = \\lVert w\\rVert^2/2`
    and :math:`\\kappa = 0` when either vector is zero.

    Parameters
    ----------
    W, V
        Tensors of shape ``(..., k, d)`` and ``(..., m, d)`` with broadcastable leading dimensions.

    Returns
    -------
    torch.Tensor
        Shape ``(..., k, m)``.
    """
    W, V = _weights(W, "W"), _weights(V, "V")
    if W.shape[-1] != V.shape[-1]:
        raise ValueError(f"W and V must have the same input dimension d, got {W.shape[-1]} and {V.shape[-1]}")
    return _kernel(W, V.to(W.dtype))


def population_loss(W, V) -> torch.Tensor:
    """Safran and Shamir's population loss :math:`F(W)` of a ReLU student ``W`` for the teacher ``V``.

    :math:`F(W) = \\tfrac12\\mathbb{E}_{x\\sim N(0,I_d)}(\\sum_i[w_i^\\top x]_+ - \\sum_j[v_j^\\top x]_+)^2`,
    from :func:`arccos_kernel` (see the module docstring). ``W`` has shape ``(..., k, d)``, ``V``
    ``(..., k0, d)``; the result has the leading shape (one loss per seed of a batch). Autograd
    through it is finite wherever :math:`F` is differentiable (the diagonal terms
    :math:`\\kappa(w_i, w_i) = \\lVert w_i\\rVert^2/2` are computed as such).
    """
    W, V = _weights(W, "W"), _weights(V, "V")
    if W.shape[-1] != V.shape[-1]:
        raise ValueError(f"W and V must have the same input dimension d, got {W.shape[-1]} and {V.shape[-1]}")
    V = V.to(W.dtype)
    total = (0.5 * _kernel(W, W, same=True).sum((-1, -2)) - _kernel(W, V).sum((-1, -2))
             + 0.5 * _kernel(V, V, same=True).sum((-1, -2)))
    return total.clamp_min(0.0)


def _gradient_rows(W: torch.Tensor, U: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """:math:`\\sum_j s_j \\nabla_w\\kappa(w_i, u_j)`, :math:`\\nabla_w\\kappa(w, u) = \\frac{1}{2\\pi}(\\lVert u\\rVert\\sin\\theta\\,\\hat w + (\\pi-\\theta) u)`."""
    dot = W @ U.transpose(-1, -2)
    nw = torch.linalg.vector_norm(W, dim=-1)[..., :, None]
    nu = torch.linalg.vector_norm(U, dim=-1)[..., None, :]
    cos, theta = _cos_theta(dot, nw * nu, same=False)
    sin = (1 - cos.square()).clamp_min(0.0).sqrt()
    what = W / nw.clamp_min(torch.finfo(W.dtype).tiny)
    radial = (signs * nu * sin).sum(-1, keepdim=True) * what
    return (radial + ((math.pi - theta) * signs) @ U) / (2 * math.pi)


def population_gradient(W, V, mask=None) -> torch.Tensor:
    """The exact gradient :math:`\\nabla_W F`, shape of ``W``.

    .. math::

        \\nabla_{w_i} F = \\sum_{i'} \\nabla_w \\kappa(w_i, w_{i'}) - \\sum_j \\nabla_w\\kappa(w_i, v_j),
        \\qquad \\nabla_w\\kappa(w, v) = \\frac{1}{2\\pi}\\bigl(\\lVert v\\rVert \\sin\\theta\\,\\frac{w}{\\lVert w\\rVert}
        + (\\pi - \\theta)\\, v\\bigr)

    (Safran and Shamir 2018; Brutzkus and Globerson 2017); the term :math:`i' = i` is
    :math:`w_i/2`. At :math:`w_i = 0` the loss is not differentiable; this returns the
    one-sided value with :math:`\\hat w = 0`. ``mask`` (boolean, shape ``(..., k)``) marks the
    rows that exist: students of different widths padded with zero rows to one batch; the
    gradient of a padded row is 0, and a zero row adds nothing to :math:`F`.
    """
    W, V = _weights(W, "W"), _weights(V, "V")
    return _relu_gradient(W, V.to(W.dtype), _mask(mask, W))


def _relu_gradient(W: torch.Tensor, V: torch.Tensor, factor: torch.Tensor | None) -> torch.Tensor:
    """:func:`population_gradient` without the input checks (the loop of :func:`gradient_descent`)."""
    U = torch.cat([W, V.expand(*W.shape[:-2], *V.shape[-2:])], dim=-2)
    signs = torch.cat([torch.ones(W.shape[-2], dtype=W.dtype, device=W.device),
                       -torch.ones(V.shape[-2], dtype=W.dtype, device=W.device)])
    grad = _gradient_rows(W, U, signs)
    return grad if factor is None else grad * factor


def _mask(mask, W: torch.Tensor) -> torch.Tensor | None:
    """``mask`` (boolean, broadcastable to ``W.shape[:-1]``) as a float ``(..., k, 1)`` factor on ``W``'s device."""
    if mask is None:
        return None
    m = torch.as_tensor(mask, device=W.device)
    if m.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor marking the rows that exist, got dtype {m.dtype}")
    try:
        torch.broadcast_shapes(m.shape, W.shape[:-1])
    except RuntimeError as err:
        raise ValueError(f"mask must have a shape broadcastable to {tuple(W.shape[:-1])} (one entry per row of W), "
                         f"got {tuple(m.shape)}") from err
    return m.to(W.dtype)[..., None]


def population_hessian(W, V, *, h: float = 1e-5) -> torch.Tensor:
    """The Hessian of :func:`population_loss` in the ``k*d`` entries of one student ``W`` (shape ``(k, d)``).

    Central differences of the exact :func:`population_gradient` (float64, step ``h`` times the
    largest row norm), symmetrised; error :math:`O(h^2)`. :math:`F` is twice continuously
    differentiable wherever no row of ``W`` is zero, including where a row is parallel to
    another or to a teacher row (as happens at some spurious minima), where autograd through
    ``arccos`` would return ``inf``. Used to confirm that a point where gradient descent stops
    is a strict local minimum.
    """
    W, V = _weights(W, "W"), _weights(V, "V")
    if W.ndim != 2:
        raise ValueError(f"W must be one student of shape (k, d), got shape {tuple(W.shape)}")
    W = W.detach().to(torch.float64)
    V = V.detach().to(device=W.device, dtype=torch.float64)
    k, d = W.shape
    step = check_real(h, "h", min=0.0, min_open=True) * max(float(torch.linalg.vector_norm(W, dim=1).max()), 1e-12)
    E = step * torch.eye(k * d, dtype=torch.float64, device=W.device).reshape(k * d, k, d)
    plus = population_gradient(W + E, V).reshape(k * d, k * d)
    minus = population_gradient(W - E, V).reshape(k * d, k * d)
    H = (plus - minus) / (2 * step)
    return (H + H.T) / 2


def orthonormal_teacher(k0: int, d: int | None = None, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Safran and Shamir's teacher: :math:`v_j = e_j`, :math:`j = 1..k_0`, in :math:`\\mathbb{R}^d` (``d`` defaults to ``k0``)."""
    k0 = check_int(k0, "k0", min=1)
    d = k0 if d is None else check_int(d, "d", min=k0)
    return torch.eye(k0, d, dtype=dtype)


def student_init(seeds: int, k: int, d: int, *, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``seeds`` random students of shape ``(seeds, k, d)`` with i.i.d. :math:`N(0, 1/d)` entries (Xavier-type)."""
    S, k, d = check_int(seeds, "seeds", min=1), check_int(k, "k", min=1), check_int(d, "d", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    return torch.randn(S, k, d, generator=g, dtype=dtype) / math.sqrt(d)


@dataclass
class Descent:
    """What :func:`gradient_descent` returns: the final students, their losses and gradient norms."""

    final: torch.Tensor  # (..., k, d)
    loss: torch.Tensor  # (...,)
    grad_norm: torch.Tensor  # (...,)
    steps: list[int]  # the recorded steps
    losses: torch.Tensor  # (..., len(steps))


def gradient_descent(W0, V, *, lr: float, steps: int, record: int = 50, mask=None) -> Descent:
    """Gradient descent :math:`W \\leftarrow W - \\eta\\nabla F(W)` on the population loss, all students at once.

    Uses the closed-form :func:`population_gradient`, so a batch ``(S, k, d)`` of ``S`` seeds costs
    a few small batched matrix products per step. ``record`` log-spaced steps are kept.
    ``mask`` (boolean ``(..., k)``) marks the rows that exist, so that students of several widths,
    padded with zero rows, run as one batch (see :func:`population_gradient`).
    """
    W = _weights(W0, "W0").detach().clone()
    V = _weights(V, "V").to(device=W.device, dtype=W.dtype)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    marks = sorted({0, steps, *(int(t) for t in np.geomspace(1, steps, check_int(record, "record", min=2)))})
    factor = _mask(mask, W)
    recorded, marks_set = [], set(marks)
    for t in range(steps + 1):
        if t in marks_set:
            recorded.append(population_loss(W, V))
        if t < steps:
            W -= lr * _relu_gradient(W, V, factor)
    grad = _relu_gradient(W, V, factor)
    return Descent(final=W, loss=population_loss(W, V), grad_norm=torch.linalg.vector_norm(grad.flatten(-2), dim=-1),
                   steps=marks, losses=torch.stack(recorded, dim=-1))


# --------------------------------------------------------------------------------------------
# Quadratic activations and the convex problem
# --------------------------------------------------------------------------------------------


def quadratic_data(n: int, d: int, *, teacher_rank: int = 2, noise: float = 0.5, seed: int = 0):
    """Inputs :math:`x_i \\sim N(0, I_d/d)` and labels :math:`y_i = x_i^\\top M_0 x_i + \\text{noise}\\cdot\\xi_i`.

    :math:`M_0 = U_0^\\top U_0` with ``teacher_rank`` rows of i.i.d. :math:`N(0, 1)` entries, scaled so
    that :math:`\\operatorname{tr} M_0 = d` (labels of order 1); :math:`\\xi_i \\sim N(0, 1)`. Returns
    NumPy arrays ``(X, y)``, float64.
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=1)
    r = check_int(teacher_rank, "teacher_rank", min=0)
    noise = check_real(noise, "noise", min=0.0)
    rng = np.random.default_rng(check_seed(seed))
    X = rng.standard_normal((n, d)) / math.sqrt(d)
    U0 = rng.standard_normal((r, d))
    M0 = U0.T @ U0
    if r:
        M0 *= d / np.trace(M0)
    y = np.einsum("ni,ij,nj->n", X, M0, X) + noise * rng.standard_normal(n)
    return X, y


def _Xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(check_tensor(X, "X", ndim=2).detach().cpu().numpy(), dtype=np.float64)
    y = np.asarray(check_tensor(y, "y", ndim=1).detach().cpu().numpy(), dtype=np.float64)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must hold the same number of examples, got {X.shape[0]} and {y.shape[0]}")
    return X, y


def _psd(M, d: int) -> np.ndarray:
    M = np.asarray(M, dtype=np.float64)
    if M.shape != (d, d):
        raise ValueError(f"M must be a symmetric ({d}, {d}) matrix, got shape {M.shape}")
    if not np.isfinite(M).all():
        raise ValueError("M contains NaN or inf")
    return (M + M.T) / 2


def quadratic_loss(M, X, y, lam: float) -> float:
    """:math:`g(M) + \\lambda\\operatorname{tr}M = \\frac1n\\sum_i(x_i^\\top M x_i - y_i)^2 + \\lambda\\operatorname{tr} M`.

    For :math:`M = W^\\top W` this is the weight-decay loss of the quadratic network
    :math:`f_W(x) = \\sum_j (w_j^\\top x)^2` (:func:`dltheory.models.two_layer` with
    ``activation="square"``, ``outer="fixed_ones"``, ``outer_scale=1``).
    """
    X, y = _Xy(X, y)
    M = _psd(M, X.shape[1])
    lam = check_real(lam, "lam", min=0.0)
    r = np.einsum("ni,ij,nj->n", X, M, X) - y
    return float(np.mean(r**2) + lam * np.trace(M))


def _gradient(M: np.ndarray, X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """:math:`\\nabla g(M) + \\lambda I = \\frac2n\\sum_i r_i x_i x_i^\\top + \\lambda I`."""
    r = np.einsum("ni,ij,nj->n", X, M, X) - y
    return (2 / X.shape[0]) * (X.T * r) @ X + lam * np.eye(X.shape[1])


@dataclass(frozen=True)
class Certificate:
    """A bound on the optimality gap of a PSD matrix :math:`M` (:func:`certificate`)."""

    value: float  # g(M) + lam tr M
    lower_bound: float  # a lower bound on the optimum of the convex problem
    gap: float  # value - lower_bound >= the true gap
    min_eigenvalue: float  # lambda_min of the gradient G; >= 0 at the optimum
    complementarity: float  # <G, M>; = 0 at the optimum

    @property
    def relative_gap(self) -> float:
        return self.gap / max(abs(self.lower_bound), 1e-300)


def certificate(M, X, y, lam: float) -> Certificate:
    """A certified lower bound on :math:`\\min_{M' \\succeq 0} g(M') + \\lambda\\operatorname{tr}M'` from any :math:`M \\succeq 0`.

    With :math:`G = \\nabla g(M) + \\lambda I` and convexity,
    :math:`F(M') \\ge F(M) + \\langle G, M' - M\\rangle \\ge F(M) - \\langle G, M\\rangle
    - \\max(0, -\\lambda_{\\min}(G))\\operatorname{tr}M'`, and every optimum has
    :math:`\\lambda\\operatorname{tr}M^* \\le F^* \\le F(M)`. Hence

    .. math::

        F(M) - F^* \\le \\langle G, M\\rangle + \\max(0, -\\lambda_{\\min}(G))\\,F(M)/\\lambda .

    The KKT conditions of the convex problem are :math:`G \\succeq 0` and :math:`GM = 0`; the
    bound is zero exactly there. It needs :math:`\\lambda > 0`.
    """
    X, y = _Xy(X, y)
    M = _psd(M, X.shape[1])
    lam = check_real(lam, "lam", min=0.0, min_open=True)
    if np.linalg.eigvalsh(M)[0] < -1e-10 * max(1.0, np.abs(M).max()):
        raise ValueError("M must be positive semidefinite (for a network, M = W^T W)")
    with threadpool_limits(limits=1, user_api="blas"):
        G = _gradient(M, X, y, lam)
        value = quadratic_loss(M, X, y, lam)
        lam_min = float(np.linalg.eigvalsh(G)[0])
    comp = float(np.sum(G * M))
    gap = max(0.0, comp) + max(0.0, -lam_min) * value / lam
    return Certificate(value=value, lower_bound=value - gap, gap=gap, min_eigenvalue=lam_min, complementarity=comp)


@dataclass(frozen=True)
class ConvexSolution:
    """The solution of :func:`solve_convex`: the matrix, its value, rank, certificate and iterations."""

    M: np.ndarray
    value: float
    rank: int
    certificate: Certificate
    iterations: int


def numerical_rank(M, rtol: float = 1e-6) -> int:
    """The number of eigenvalues of the PSD matrix ``M`` above ``rtol`` times the largest."""
    ev = np.linalg.eigvalsh(np.asarray(M, dtype=np.float64))
    return int(np.sum(ev > check_real(rtol, "rtol", min=0.0) * max(ev[-1], 1e-300)))


def _factored_lbfgs(X: np.ndarray, y: np.ndarray, lam: float, W0: np.ndarray, max_iter: int,
                    gtol: float) -> np.ndarray:
    """L-BFGS on :math:`W \\mapsto \\frac1n\\sum_i(\\lVert Wx_i\\rVert^2 - y_i)^2 + \\lambda\\lVert W\\rVert_F^2`, gradient :math:`2WG`."""
    from scipy.optimize import minimize

    n, d = X.shape
    k = W0.shape[0]

    def fun(w: np.ndarray):
        W = w.reshape(k, d)
        Z = X @ W.T  # (n, k): the units' pre-activations
        r = np.sum(Z * Z, axis=1) - y
        grad = (4 / n) * (Z * r[:, None]).T @ X + 2 * lam * W  # = 2 W G
        return float(np.mean(r**2) + lam * np.sum(W * W)), grad.ravel()

    with threadpool_limits(limits=1, user_api="blas"):  # tiny products: threads only add overhead
        res = minimize(fun, W0.ravel(), jac=True, method="L-BFGS-B",
                       options={"maxiter": max_iter, "maxfun": 2 * max_iter, "gtol": gtol, "ftol": 0.0,
                                "maxcor": 30})
    return res.x.reshape(k, d)


def solve_convex(X, y, lam: float, *, max_iter: int = 3000, polish_iter: int = 5000) -> ConvexSolution:
    """:math:`\\min_{M\\succeq 0} \\frac1n\\sum_i(x_i^\\top M x_i - y_i)^2 + \\lambda\\operatorname{tr}M`, certified.

    First accelerated proximal gradient (FISTA; Beck and Teboulle 2009) with step :math:`1/L`,
    :math:`L = \\frac2n\\lVert\\mathcal A\\rVert^2` for the map :math:`\\mathcal A(M) = (x_i^\\top M x_i)_i`:
    the proximal step of :math:`\\lambda\\operatorname{tr}M` plus the PSD constraint keeps the
    eigenvectors and soft-thresholds the eigenvalues, :math:`\\mu \\mapsto \\max(0, \\mu - \\lambda/L)`;
    momentum restarts when the objective increases (O'Donoghue and Candès 2015). FISTA finds
    the optimum's rank quickly but converges slowly after that, so its result is polished by
    L-BFGS on the factorisation :math:`M = W^\\top W` with a full :math:`d\\times d` factor, started
    at :math:`W = \\Lambda^{1/2}Q^\\top` (a square factor: every second-order critical point of it is
    a global optimum). The better of the two is returned with its :func:`certificate`, which
    does not depend on how it was found.
    """
    X, y = _Xy(X, y)
    lam = check_real(lam, "lam", min=0.0, min_open=True)
    max_iter = check_int(max_iter, "max_iter", min=1)
    polish_iter = check_int(polish_iter, "polish_iter", min=0)
    n, d = X.shape
    with threadpool_limits(limits=1, user_api="blas"):
        A = np.einsum("ni,nj->nij", X, X).reshape(n, d * d)
        L = 2 / n * np.linalg.norm(A, 2) ** 2

        def value_of(M: np.ndarray) -> float:
            return float(np.mean((np.einsum("ni,ij,nj->n", X, M, X) - y) ** 2) + lam * np.trace(M))

        def prox(B: np.ndarray) -> np.ndarray:
            mu, Q = np.linalg.eigh((B + B.T) / 2)
            return (Q * np.maximum(mu - lam / L, 0.0)) @ Q.T

        M = np.zeros((d, d))
        Z, t, value = M.copy(), 1.0, value_of(M)
        for _ in range(max_iter):
            r = np.einsum("ni,ij,nj->n", X, Z, X) - y
            M_new = prox(Z - (2 / n) * (X.T * r) @ X / L)
            new_value = value_of(M_new)
            if new_value > value:  # restart the momentum
                t, Z = 1.0, M.copy()
                continue
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            Z = M_new + ((t - 1) / t_new) * (M_new - M)
            M, t, value = M_new, t_new, new_value
        if polish_iter:
            mu, Q = np.linalg.eigh(M)
            W = _factored_lbfgs(X, y, lam, (Q * np.sqrt(np.maximum(mu, 0.0))).T, polish_iter, 1e-14)
            if value_of(W.T @ W) < value:
                M = W.T @ W
    cert = certificate(M, X, y, lam)
    return ConvexSolution(M=M, value=cert.value, rank=numerical_rank(M), certificate=cert, iterations=max_iter)


def fit_quadratic_net(X, y, lam: float, k: int, *, seed: int, init_scale: float = 1.0, max_iter: int = 3000,
                      gtol: float = 1e-10) -> np.ndarray:
    """Train the quadratic network :math:`f_W(x) = \\sum_{j=1}^k (w_j^\\top x)^2` with weight decay by L-BFGS.

    Minimises :math:`\\frac1n\\sum_i(\\lVert Wx_i\\rVert^2 - y_i)^2 + \\lambda\\lVert W\\rVert_F^2` over
    :math:`W \\in \\mathbb{R}^{k\\times d}` from i.i.d. :math:`N(0, \\text{init\\_scale}^2/d)` entries,
    with the exact gradient :math:`2WG`, :math:`G = \\nabla g(W^\\top W) + \\lambda I`
    (``scipy.optimize.minimize``, method L-BFGS-B). A quasi-Newton method is used because plain
    gradient descent converges slowly near rank-deficient optima. Returns the ``(k, d)`` array
    :math:`W`; :func:`certificate` of :math:`W^\\top W` then says how far from optimal it is.
    """
    X, y = _Xy(X, y)
    lam = check_real(lam, "lam", min=0.0)
    k = check_int(k, "k", min=1)
    rng = np.random.default_rng(check_seed(seed))
    scale = check_real(init_scale, "init_scale", min=0.0, min_open=True)
    W0 = scale * rng.standard_normal((k, X.shape[1])) / math.sqrt(X.shape[1])
    return _factored_lbfgs(X, y, lam, W0, check_int(max_iter, "max_iter", min=1), check_real(gtol, "gtol", min=0.0))


def pataki_rank(n: int) -> int:
    """The largest :math:`r` with :math:`r(r+1)/2 \\le n`: some optimum of the convex problem has rank at most this.

    The objective depends on :math:`M` only through the :math:`n` measurements
    :math:`b_i = x_i^\\top M x_i` and :math:`\\operatorname{tr}M`. Fix the measurements :math:`b^*` of an
    optimum: the optima are the minimisers of :math:`\\operatorname{tr}M` over the spectrahedron
    :math:`\\{M \\succeq 0: x_i^\\top M x_i = b^*_i\\}`, a face of it, and an extreme point of a
    spectrahedron cut by :math:`n` linear equations has rank :math:`r` with :math:`r(r+1)/2 \\le n`
    (Pataki 1998, Barvinok 1995). Du and Lee's condition :math:`k \\ge \\sqrt{2n}` implies
    :math:`k(k+1)/2 > n`, hence :math:`k` is at least this rank.
    """
    n = check_int(n, "n", min=0)
    return int((math.isqrt(8 * n + 1) - 1) // 2)
