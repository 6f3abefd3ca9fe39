"""The patch model of Shalev-Shwartz, Shamir and Shammah (2017) in closed form, for Gaussian inputs.

An input is :math:`k` patches, :math:`x = (x_1, \\dots, x_k)` with :math:`x_i \\in \\mathbb{R}^d`
i.i.d. :math:`N(0, I_d)`, stored as a ``(k, d)`` matrix :math:`X`. The parameters are
:math:`W = (w_1, \\dots, w_k)`, a ``(k, d)`` matrix of the same shape, and the model is

.. math::  p_W(x) = c_k\\langle w_1, x_1\\rangle + \\cos\\Bigl(\\sum_{i=1}^k \\langle w_i, x_i\\rangle\\Bigr)
           = c_k\\langle w_1, x_1\\rangle + \\cos\\langle W, X\\rangle_F .

The target is :math:`p_U` with :math:`U = (u_0, \\dots, u_0)` (:func:`shared_target`), and the
population loss is :math:`F(W) = \\mathbb{E}\\,\\tfrac12(p_W(x) - p_U(x))^2`. Because
:math:`\\langle A, X\\rangle_F \\sim N(0, \\lVert A\\rVert_F^2)`, the characteristic function
of a Gaussian gives :math:`\\mathbb{E}\\cos\\langle A, X\\rangle_F = e^{-\\lVert A\\rVert_F^2/2}`,
and with :math:`\\cos a\\cos b = \\frac12(\\cos(a-b) + \\cos(a+b))` the loss is, exactly,

.. math::  F(W) = \\tfrac12 c_k^2\\lVert w_1 - u_0\\rVert^2 + \\tfrac14\\bigl(1 + e^{-2\\lVert W\\rVert^2}\\bigr)
           + \\tfrac14\\bigl(1 + e^{-2\\lVert U\\rVert^2}\\bigr)
           - \\tfrac12\\bigl(e^{-\\lVert W-U\\rVert^2/2} + e^{-\\lVert W+U\\rVert^2/2}\\bigr)

(norms are Frobenius norms; the cross term :math:`\\mathbb{E}\\langle w_1-u_0, x_1\\rangle
(\\cos\\langle W,X\\rangle - \\cos\\langle U,X\\rangle)` vanishes because it is odd in
:math:`X`). Its gradient and Hessian follow by differentiating the exponentials
(:func:`population_gradient`, :func:`population_hessian`). Tying the patches,
:math:`w_i = w` for every :math:`i`, gives the shared model :func:`tied_loss`, whose
Hessian is :math:`c_k^2 I` plus :math:`k` times a matrix of norm at most
:data:`KAPPA` :math:`= 1 + 2e^{-3/2}`: it is strongly convex as soon as
:math:`c_k^2 > \\kappa k` (:func:`strong_convexity`).

In the band of Lemma 1 of the paper, :math:`\\lVert (w_2,\\dots,w_k)\\rVert \\in
[\\tfrac13, \\tfrac12]\\sqrt{k-1}\\,\\lVert u_0\\rVert` (:func:`band`), the gradient with respect
to :math:`(w_2, \\dots, w_k)` is at most :func:`band_gradient_bound`, of order
:math:`\\sqrt{k}\\,\\lVert u_0\\rVert e^{-(k-1)\\lVert u_0\\rVert^2/8}`, and inside the outer
edge of the band :math:`F \\ge \\frac12 - e^{-(k-1)\\lVert u_0\\rVert^2/8}`
(:func:`plateau_bound`). A Monte-Carlo estimate (:func:`monte_carlo`, on samples from
:func:`patches`) checks the closed form where it can; it cannot resolve gradients this small.

Reference: S. Shalev-Shwartz, O. Shamir, S. Shammah, *Weight sharing is crucial to
succesful optimization*, arXiv:1706.00687 (2017). Used by
``book/2-provable-learning/weight-sharing.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import check_device, check_dtype, check_int, check_real, check_seed

__all__ = [
    "KAPPA", "shared_target", "patches", "predict", "MonteCarlo", "monte_carlo",
    "population_loss", "population_gradient", "population_hessian",
    "tied_loss", "tied_gradient", "tied_hessian", "smoothness", "strong_convexity",
    "band", "band_points", "band_gradient_bound", "plateau_bound", "Descent", "gradient_descent",
]

KAPPA = 1.0 + 2.0 * math.exp(-1.5)
"""The largest curvature of the cosine part of :math:`F` per unit of :math:`k`: :math:`1 + 2e^{-3/2}`.

Every eigenvalue of the Hessian of the cosine part of the untied loss lies in
:math:`[-\\kappa, \\kappa]`, and of the tied loss in :math:`[-\\kappa k, \\kappa k]`; both ends
are attained (the lower one at :math:`W = 0` with :math:`\\lVert U\\rVert^2 = 3`)."""


# ---------------------------------------------------------------- checks

def _matrix(W, name: str) -> torch.Tensor:
    if not isinstance(W, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape (..., k, d), got {type(W).__name__}")
    if W.ndim < 2 or W.shape[-1] == 0 or W.shape[-2] == 0:
        raise ValueError(f"{name} must have shape (..., k, d) with k, d >= 1 (one row per patch), "
                         f"got {tuple(W.shape)}")
    if not W.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {W.dtype}")
    if not torch.isfinite(W).all():
        raise ValueError(f"{name} contains NaN or inf")
    return W


def _pair(W, U) -> tuple[torch.Tensor, torch.Tensor]:
    W, U = _matrix(W, "W"), _matrix(U, "U")
    if W.shape[-2:] != U.shape[-2:]:
        raise ValueError(f"W and U must have the same (k, d), got {tuple(W.shape)} and {tuple(U.shape)}: "
                         "build U with shared_target(u0, k)")
    return W, U.to(W)


def _coefficient(c, like: torch.Tensor, name: str = "c") -> torch.Tensor:
    """``c`` (a number or a tensor over the batch dimensions) as a tensor shaped like the batch."""
    if isinstance(c, torch.Tensor):
        if not torch.isfinite(c).all() or (c < 0).any():
            raise ValueError(f"{name} must be finite and non-negative")
        return c.to(like)
    return torch.tensor(check_real(c, name, min=0.0), dtype=like.dtype, device=like.device)


def _vector(w, name: str) -> torch.Tensor:
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of shape (..., d), got {type(w).__name__}")
    if w.ndim < 1 or w.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., d) with d >= 1, got {tuple(w.shape)}")
    if not w.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {w.dtype}")
    if not torch.isfinite(w).all():
        raise ValueError(f"{name} contains NaN or inf")
    return w


def _count(k, like: torch.Tensor) -> torch.Tensor:
    """The number of patches as a tensor (an int, or a tensor over the batch dimensions)."""
    if isinstance(k, torch.Tensor):
        if (k < 1).any():
            raise ValueError("k must count at least one patch")
        return k.to(like)
    return torch.tensor(float(check_int(k, "k", min=1)), dtype=like.dtype, device=like.device)


def _sq(A: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm over the last two dimensions."""
    return A.pow(2).sum(dim=(-2, -1))


# ---------------------------------------------------------------- the model and its data

def shared_target(u0: torch.Tensor, k: int, *, pad_to: int | None = None) -> torch.Tensor:
    """:math:`U = (u_0, \\dots, u_0)`: ``k`` rows equal to ``u0``, then zero rows up to ``pad_to``.

    A zero row in both :math:`W` and :math:`U` is a patch that neither model reads, so padding
    lets models with different :math:`k` run as one batch; gradient descent keeps such rows at 0.
    """
    u0 = _vector(u0, "u0")
    k = check_int(k, "k", min=1)
    rows = check_int(pad_to, "pad_to", min=k, allow_none=True) or k
    U = u0.new_zeros(*u0.shape[:-1], rows, u0.shape[-1])
    U[..., :k, :] = u0.unsqueeze(-2)
    return U


def patches(n: int, k: int, d: int, *, seed: int = 0, dtype: torch.dtype = torch.float64,
            device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` inputs of ``k`` i.i.d. :math:`N(0, I_d)` patches, shape ``(n, k, d)``, from ``seed``."""
    n, k, d = check_int(n, "n", min=1), check_int(k, "k", min=1), check_int(d, "d", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    X = torch.randn(n, k, d, generator=g, dtype=check_dtype(dtype))
    return X.to(check_device(device))


def predict(W: torch.Tensor, X: torch.Tensor, c: float) -> torch.Tensor:
    """:math:`p_W(x) = c\\langle w_1, x_1\\rangle + \\cos\\langle W, X\\rangle_F` for inputs ``X`` of shape ``(n, k, d)``."""
    W = _matrix(W, "W")
    if W.ndim != 2:
        raise ValueError(f"predict takes one W of shape (k, d), got {tuple(W.shape)}")
    X = _matrix(X, "X")
    if X.ndim != 3 or X.shape[1:] != W.shape:
        raise ValueError(f"X must have shape (n, k, d) = (n, {W.shape[0]}, {W.shape[1]}), got {tuple(X.shape)}")
    c = check_real(c, "c", min=0.0)
    return c * (X[:, 0, :] @ W[0]) + torch.cos((X * W).sum(dim=(1, 2)))


@dataclass(frozen=True)
class MonteCarlo:
    """A Monte-Carlo estimate of :math:`F(W)` and :math:`\\nabla F(W)`, with standard errors."""

    loss: float
    loss_se: float
    gradient: torch.Tensor  # (k, d)
    gradient_se: torch.Tensor  # (k, d)
    n: int


def monte_carlo(W: torch.Tensor, U: torch.Tensor, c: float, X: torch.Tensor, *, chunk: int = 100_000) -> MonteCarlo:
    """The sample means of :math:`\\tfrac12 r^2` and of its gradient over the inputs ``X``, with standard errors.

    Parameters
    ----------
    W, U : Tensor of shape (k, d)
    c : float
    X : Tensor of shape (n, k, d)
        Inputs from :func:`patches`.

    Returns
    -------
    MonteCarlo
        ``loss`` and ``gradient`` (``(k, d)``), each with its standard error, and ``n``.

    Notes
    -----
    With the residual :math:`r = p_W(x) - p_U(x)`, the gradient of one sample's loss is
    :math:`r\\,(c\\,e_1 x_1^\\top - \\sin\\langle W, X\\rangle\\, X)`: a computation that uses no
    Gaussian identity, so it checks the closed forms independently. ``X`` (``(n, k, d)``, from
    :func:`patches`) is processed ``chunk`` samples at a time to bound the memory.
    """
    W, U = _pair(W, U)
    if W.ndim != 2:
        raise ValueError(f"monte_carlo takes one W of shape (k, d), got {tuple(W.shape)}")
    c = check_real(c, "c", min=0.0)
    chunk = check_int(chunk, "chunk", min=1)
    n = X.shape[0]
    s1 = s2 = 0.0
    g1 = torch.zeros_like(W)
    g2 = torch.zeros_like(W)
    for start in range(0, n, chunk):
        Xc = X[start:start + chunk].to(W)
        r = predict(W, Xc, c) - predict(U, Xc, c)
        loss = 0.5 * r * r
        s1, s2 = s1 + loss.sum().item(), s2 + loss.pow(2).sum().item()
        G = -(torch.sin((Xc * W).sum(dim=(1, 2))) * r)[:, None, None] * Xc
        G[:, 0, :] += c * r[:, None] * Xc[:, 0, :]
        g1, g2 = g1 + G.sum(dim=0), g2 + G.pow(2).sum(dim=0)
    mean = s1 / n
    grad = g1 / n
    loss_se = math.sqrt(max(s2 / n - mean**2, 0.0) / max(n - 1, 1))
    grad_se = ((g2 / n - grad.pow(2)).clamp_min(0) / max(n - 1, 1)).sqrt()
    return MonteCarlo(mean, loss_se, grad, grad_se, n)


# ---------------------------------------------------------------- the untied model in closed form

def _weights(W: torch.Tensor, U: torch.Tensor):
    """:math:`(\\alpha, \\beta, \\gamma) = (e^{-2\\lVert W\\rVert^2}, e^{-\\lVert W-U\\rVert^2/2}, e^{-\\lVert W+U\\rVert^2/2})`."""
    return torch.exp(-2 * _sq(W)), torch.exp(-_sq(W - U) / 2), torch.exp(-_sq(W + U) / 2)


def population_loss(W: torch.Tensor, U: torch.Tensor, c) -> torch.Tensor:
    """:math:`F(W)` in closed form (module docstring); batched over leading dimensions of ``W`` and ``U``.

    Parameters
    ----------
    W, U : Tensor of shape (..., k, d)
        The filters and the target (:func:`shared_target`), one row per patch.
    c : float or Tensor of the batch shape
        :math:`c_k`, the weight of the linear patch.

    Returns
    -------
    Tensor of the batch shape
        :math:`F(W) \\ge 0`, zero at :math:`W = U`.

    See Also
    --------
    monte_carlo : the same expectation estimated from samples.
    """
    W, U = _pair(W, U)
    c = _coefficient(c, W)
    alpha, beta, gamma = _weights(W, U)
    linear = 0.5 * c**2 * (W[..., 0, :] - U[..., 0, :]).pow(2).sum(-1)
    return linear + 0.25 * (1 + alpha) + 0.25 * (1 + torch.exp(-2 * _sq(U))) - 0.5 * (beta + gamma)


def population_gradient(W: torch.Tensor, U: torch.Tensor, c) -> torch.Tensor:
    """:math:`\\nabla F(W) = c^2 e_1(w_1 - u_0)^\\top - \\alpha W + \\tfrac12\\beta (W - U) + \\tfrac12\\gamma (W + U)`.

    Here :math:`\\alpha = e^{-2\\lVert W\\rVert^2}`, :math:`\\beta = e^{-\\lVert W-U\\rVert^2/2}` and
    :math:`\\gamma = e^{-\\lVert W+U\\rVert^2/2}`. Same shape as ``W``; batched like :func:`population_loss`.
    """
    W, U = _pair(W, U)
    c = _coefficient(c, W)
    return _untied_gradient(W, U, c**2)


def _untied_gradient(W: torch.Tensor, U: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """:func:`population_gradient` without the input checks (the inner loop of :func:`gradient_descent`)."""
    alpha, beta, gamma = (t[..., None, None] for t in _weights(W, U))
    grad = -alpha * W + 0.5 * beta * (W - U) + 0.5 * gamma * (W + U)
    grad[..., 0, :] += c2[..., None] * (W[..., 0, :] - U[..., 0, :])
    return grad


def population_hessian(W: torch.Tensor, U: torch.Tensor, c) -> torch.Tensor:
    """The Hessian of :math:`F` with respect to ``W`` flattened row by row, shape ``(..., kd, kd)``.

    .. math::  \\nabla^2 F = c^2 (e_1e_1^\\top \\otimes I_d) + \\alpha(-I + 4vv^\\top)
               + \\tfrac12\\beta(I - \\delta\\delta^\\top) + \\tfrac12\\gamma(I - \\sigma\\sigma^\\top),

    with :math:`v = \\mathrm{vec}\\,W`, :math:`\\delta = \\mathrm{vec}(W - U)`, :math:`\\sigma =
    \\mathrm{vec}(W + U)`. The last three terms have eigenvalues in :math:`[-\\kappa, \\kappa]`
    (:data:`KAPPA`).
    """
    W, U = _pair(W, U)
    c = _coefficient(c, W)
    k, d = W.shape[-2:]
    alpha, beta, gamma = (t[..., None, None] for t in _weights(W, U))
    v, dm, dp = (A.reshape(*A.shape[:-2], k * d) for A in (W, W - U, W + U))
    eye = torch.eye(k * d, dtype=W.dtype, device=W.device)

    def outer(a):
        return a[..., :, None] * a[..., None, :]

    H = alpha * (4 * outer(v) - eye) + 0.5 * beta * (eye - outer(dm)) + 0.5 * gamma * (eye - outer(dp))
    first = torch.zeros(k * d, dtype=W.dtype, device=W.device)
    first[:d] = 1.0
    return H + (c**2)[..., None, None] * torch.diag(first)


# ---------------------------------------------------------------- the tied (weight-sharing) model

def _tied_parts(w, u0, k):
    w = _vector(w, "w")
    u0 = _vector(u0, "u0").to(w)
    if w.shape[-1] != u0.shape[-1]:
        raise ValueError(f"w and u0 must have the same dimension d, got {tuple(w.shape)} and {tuple(u0.shape)}")
    k = _count(k, w)
    sq = lambda a: a.pow(2).sum(-1)  # noqa: E731
    alpha = torch.exp(-2 * k * sq(w))
    beta = torch.exp(-k * sq(w - u0) / 2)
    gamma = torch.exp(-k * sq(w + u0) / 2)
    return w, u0, k, alpha, beta, gamma


def tied_loss(w: torch.Tensor, u0: torch.Tensor, k, c) -> torch.Tensor:
    """:math:`F(w, \\dots, w)`: the population loss of the weight-sharing model, :math:`w \\in \\mathbb{R}^d`.

    .. math::  F = \\tfrac12 c^2\\lVert w-u_0\\rVert^2 + \\tfrac14(1 + e^{-2k\\lVert w\\rVert^2})
               + \\tfrac14(1 + e^{-2k\\lVert u_0\\rVert^2}) - \\tfrac12(e^{-k\\lVert w-u_0\\rVert^2/2}
               + e^{-k\\lVert w+u_0\\rVert^2/2}).

    ``w`` has shape ``(..., d)``; ``u0`` broadcasts against it; ``k`` and ``c`` are numbers or
    tensors over the batch dimensions.
    """
    w, u0, k, alpha, beta, gamma = _tied_parts(w, u0, k)
    c = _coefficient(c, w)
    const = 0.25 * (1 + torch.exp(-2 * k * u0.pow(2).sum(-1)))
    return 0.5 * c**2 * (w - u0).pow(2).sum(-1) + 0.25 * (1 + alpha) + const - 0.5 * (beta + gamma)


def tied_gradient(w: torch.Tensor, u0: torch.Tensor, k, c) -> torch.Tensor:
    """:math:`\\nabla_w F = c^2(w-u_0) - k\\alpha w + \\tfrac k2\\beta(w-u_0) + \\tfrac k2\\gamma(w+u_0)`.

    The sum over patches of :func:`population_gradient` at :math:`W = (w, \\dots, w)`, with
    :math:`\\alpha = e^{-2k\\lVert w\\rVert^2}`, :math:`\\beta = e^{-k\\lVert w-u_0\\rVert^2/2}`,
    :math:`\\gamma = e^{-k\\lVert w+u_0\\rVert^2/2}`.
    """
    w, u0, k, alpha, beta, gamma = _tied_parts(w, u0, k)
    c = _coefficient(c, w)
    return _tied_step(w, u0, k, c**2, alpha, beta, gamma)


def _tied_step(w, u0, k, c2, alpha, beta, gamma) -> torch.Tensor:
    e = lambda t: t[..., None]  # noqa: E731
    return e(c2) * (w - u0) - e(k * alpha) * w + e(k * beta / 2) * (w - u0) + e(k * gamma / 2) * (w + u0)


def _tied_gradient(w: torch.Tensor, u0: torch.Tensor, k: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """:func:`tied_gradient` without the input checks (the inner loop of :func:`gradient_descent`)."""
    sq = lambda a: a.pow(2).sum(-1)  # noqa: E731
    alpha = torch.exp(-2 * k * sq(w))
    beta = torch.exp(-k * sq(w - u0) / 2)
    gamma = torch.exp(-k * sq(w + u0) / 2)
    return _tied_step(w, u0, k, c2, alpha, beta, gamma)


def tied_hessian(w: torch.Tensor, u0: torch.Tensor, k, c) -> torch.Tensor:
    """The ``(..., d, d)`` Hessian of :func:`tied_loss`.

    .. math::  c^2 I + k\\alpha(-I + 4k\\,ww^\\top) + \\tfrac k2\\beta(I - k\\,\\delta\\delta^\\top)
               + \\tfrac k2\\gamma(I - k\\,\\sigma\\sigma^\\top),

    :math:`\\delta = w - u_0`, :math:`\\sigma = w + u_0`. The last three terms are :math:`k` times a
    matrix with eigenvalues in :math:`[-\\kappa, \\kappa]`, so :math:`\\lambda_{\\min} \\ge c^2 - \\kappa k`.
    """
    w, u0, k, alpha, beta, gamma = _tied_parts(w, u0, k)
    c = _coefficient(c, w)
    d = w.shape[-1]
    eye = torch.eye(d, dtype=w.dtype, device=w.device)
    e = lambda t: t[..., None, None]  # noqa: E731

    def outer(a):
        return a[..., :, None] * a[..., None, :]

    dm, dp = w - u0, w + u0
    return (e(c**2) * eye + e(k * alpha) * (4 * e(k) * outer(w) - eye)
            + e(k * beta / 2) * (eye - e(k) * outer(dm)) + e(k * gamma / 2) * (eye - e(k) * outer(dp)))


def smoothness(c: float, k: int, *, tied: bool) -> float:
    """An upper bound on :math:`\\lambda_{\\max}(\\nabla^2 F)` everywhere: :math:`c^2 + \\kappa` untied, :math:`c^2 + \\kappa k` tied.

    Gradient descent with step :math:`1/L` for this :math:`L` decreases :math:`F` at every step.
    """
    c, k = check_real(c, "c", min=0.0), check_int(k, "k", min=1)
    return c**2 + KAPPA * (k if tied else 1)


def strong_convexity(c: float, k: int) -> float:
    """:math:`c^2 - \\kappa k`, a lower bound on :math:`\\lambda_{\\min}` of :func:`tied_hessian` at every ``w`` and every ``u0``.

    Positive, so the shared model is strongly convex, when :math:`c^2 > \\kappa k \\approx 1.45\\,k`.
    The bound is attained (at :math:`w = 0` with :math:`k\\lVert u_0\\rVert^2 = 3`), so for
    :math:`c^2 < \\kappa k` some target makes the tied loss non-convex.
    """
    c, k = check_real(c, "c", min=0.0), check_int(k, "k", min=1)
    return c**2 - KAPPA * k


# ---------------------------------------------------------------- Lemmas 1 and 2: the band

def band(k: int, u0_norm: float) -> tuple[float, float]:
    """The band of Lemma 1: :math:`\\lVert (w_2, \\dots, w_k)\\rVert \\in [\\tfrac13, \\tfrac12]\\sqrt{k-1}\\,\\lVert u_0\\rVert`."""
    k = check_int(k, "k", min=2)
    R = math.sqrt(k - 1) * check_real(u0_norm, "u0_norm", min=0.0, min_open=True)
    return R / 3, R / 2


def band_points(n: int, u0: torch.Tensor, k: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` random points of the band, shape ``(n, k, d)``: :math:`w_1 = u_0` (where descent puts it
    quickly), and :math:`(w_2, \\dots, w_k)` in a uniformly random direction with norm uniform in :func:`band`."""
    n = check_int(n, "n", min=1)
    u0 = _vector(u0, "u0")
    if u0.ndim != 1:
        raise ValueError(f"u0 must be a vector (d,), got {tuple(u0.shape)}")
    low, high = band(k, torch.linalg.vector_norm(u0).item())
    g = torch.Generator().manual_seed(check_seed(seed))
    d = u0.shape[0]
    Z = torch.randn(n, (k - 1) * d, generator=g, dtype=u0.dtype)
    radius = low + (high - low) * torch.rand(n, 1, generator=g, dtype=u0.dtype)
    tail = (radius * Z / torch.linalg.vector_norm(Z, dim=1, keepdim=True)).reshape(n, k - 1, d)
    return torch.cat([u0.cpu().expand(n, 1, d), tail], dim=1).to(u0.device)


def band_gradient_bound(k: int, u0_norm: float) -> float:
    """Lemma 1 with explicit constants: :math:`\\lVert\\nabla_{w_2..w_k}F\\rVert \\le \\frac R2(e^{-R^2/8} + e^{-2R^2/9})` in the band.

    Here :math:`R = \\sqrt{k-1}\\,\\lVert u_0\\rVert`. Each term of :func:`population_gradient`
    is bounded separately: :math:`\\lVert w_{2:}\\rVert \\le R/2` and :math:`\\alpha \\le e^{-2R^2/9}`;
    :math:`\\lVert w_{2:} \\mp u_{2:}\\rVert \\ge R/2 \\ge 1` and :math:`x e^{-x^2/2}` decreases for
    :math:`x \\ge 1`. Valid for :math:`R \\ge 2`; the rate :math:`e^{-(k-1)\\lVert u_0\\rVert^2/8}` is
    attained at :math:`w_{2:} = u_{2:}/2`.
    """
    k = check_int(k, "k", min=2)
    R = math.sqrt(k - 1) * check_real(u0_norm, "u0_norm", min=0.0, min_open=True)
    if R < 2:
        raise ValueError(f"the bound needs R = sqrt(k-1) ||u0|| >= 2, got {R:.3g}: take a larger k or ||u0||")
    return R / 2 * (math.exp(-R**2 / 8) + math.exp(-2 * R**2 / 9))


def plateau_bound(k: int, u0_norm: float) -> float:
    """Lemma 2 in this normalisation: :math:`F(W) \\ge \\tfrac12 - e^{-R^2/8}` whenever :math:`\\lVert w_{2:}\\rVert \\le R/2`.

    From the closed form, :math:`F \\ge \\frac12 - \\frac12(\\beta + \\gamma)` and
    :math:`\\lVert W \\mp U\\rVert \\ge R/2` there. The plateau is :math:`\\frac12` because
    :math:`F` carries the factor :math:`\\frac12` and :math:`\\mathbb{E}\\cos^2 \\to \\frac12`.
    """
    k = check_int(k, "k", min=2)
    R = math.sqrt(k - 1) * check_real(u0_norm, "u0_norm", min=0.0, min_open=True)
    return 0.5 - math.exp(-R**2 / 8)


# ---------------------------------------------------------------- gradient descent on the closed form

@dataclass
class Descent:
    """A gradient-descent run: the loss (and, untied, the norm of :math:`w_{2:}`) at the recorded steps."""

    steps: list[int]
    losses: torch.Tensor  # (..., len(steps))
    tail_norms: torch.Tensor | None  # (..., len(steps)): ||(w_2, ..., w_k)||, untied runs only
    final: torch.Tensor


def _record_points(steps: int, count: int) -> list[int]:
    grid = torch.logspace(0, math.log10(max(steps, 1)), count, dtype=torch.float64).round().long().tolist()
    return sorted({0, steps, *[s for s in grid if s <= steps]})


def gradient_descent(start: torch.Tensor, U: torch.Tensor, c, *, lr, steps: int, tied_k=None,
                     record: int = 60) -> Descent:
    """Gradient descent :math:`W_{t+1} = W_t - \\eta\\nabla F(W_t)` on the closed-form loss.

    Parameters
    ----------
    start : Tensor of shape (..., k, d), or (..., d) when tied
    U : Tensor of shape (..., k, d), or :math:`u_0` of shape (..., d) or (d,) when tied
    c, lr : float or Tensor of the batch shape
    steps : int
    tied_k : None, int or Tensor of the batch shape
    record : int

    Returns
    -------
    Descent
        The recorded steps, the losses there (``(..., len(steps))``), for untied runs the norm
        of :math:`(w_2, \\dots, w_k)` there, and the final parameters.

    Notes
    -----
    Untied (``tied_k=None``): ``start`` and ``U`` have shape ``(..., k, d)``. Tied: ``start`` is
    :math:`w` of shape ``(..., d)``, ``U`` is :math:`u_0` of shape ``(..., d)`` or ``(d,)``, and
    ``tied_k`` is :math:`k` (a number, or a tensor over the batch). ``c`` and ``lr`` are numbers
    or tensors over the batch, so that runs with different :math:`k` go as one batch (pad the
    untied ones with :func:`shared_target`). The loss is recorded at about ``record`` steps
    spaced evenly in :math:`\\log t`.
    """
    steps = check_int(steps, "steps", min=0)
    record = check_int(record, "record", min=2)
    tied = tied_k is not None
    W = start.detach().clone()
    if tied:
        _, U, k, *_ = _tied_parts(W, U, tied_k)
        c2 = _coefficient(c, W) ** 2
        loss, grad = (lambda A: tied_loss(A, U, k, c)), (lambda A: _tied_gradient(A, U, k, c2))
    else:
        W, U = _pair(W, U)
        c2 = _coefficient(c, W) ** 2
        loss, grad = (lambda A: population_loss(A, U, c)), (lambda A: _untied_gradient(A, U, c2))
    lr = _coefficient(lr, W, "lr")
    eta = lr[..., None] if tied else lr[..., None, None]
    points = _record_points(steps, record)
    wanted = set(points)
    losses, tails = [], []
    for t in range(steps + 1):
        if t in wanted:
            losses.append(loss(W))
            if not tied:
                tails.append(torch.linalg.vector_norm(W[..., 1:, :].flatten(-2), dim=-1))
        if t < steps:
            W = W - eta * grad(W)
    tail_norms = None if tied else torch.stack(tails, dim=-1)
    return Descent(points, torch.stack(losses, dim=-1), tail_norms, W)
