"""The runs and the explorer of ``book/3-sgd-overparametrization/implicit-bias.ipynb``.

Three experiments on the implicit bias of gradient descent, each a plain loop
with closed-form gradients (tens of microseconds a step, where
:func:`dltheory.train.fit` costs about a millisecond), checked in the tests
against :func:`dltheory.train.fit` or ``torch.autograd`` on the library models:

* :func:`homogeneous_gd`: a bias-free two-layer ReLU network (2-homogeneous)
  trained with the exponential loss on :func:`xor_data`, recording Lyu and
  Li's smoothed margin at every step and snapshots for the KKT residual;
* :func:`sensing_gd`: gradient descent on :math:`UU^\\top` for matrix sensing,
  from several initial scales at once;
* :func:`linear_net_gd`: gradient descent with the exponential loss on the
  linear networks of :mod:`dltheory.models.linear_nets`, on :func:`fourier_data`.

:func:`scale_panel` and :func:`scale_explorer` show the sensing runs one
initial scale at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import implicit_bias, models
from .._checks import check_int, check_real, check_seed
from ..widgets import Panel, static_explorer

__all__ = ["xor_data", "HomogeneousRun", "homogeneous_gd", "SensingRuns", "sensing_gd", "fourier_data",
           "linear_net_gd", "scale_panel", "scale_explorer"]


def xor_data(n: int, d: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` unit vectors uniform on the sphere of :math:`\\mathbb{R}^d` with XOR labels :math:`y = \\operatorname{sign}(x_1x_2)`.

    Not linearly separable (for ``n`` large enough), but separable by a bias-free
    ReLU network. Float64.
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=2)
    g = torch.Generator().manual_seed(check_seed(seed))
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    X = X / torch.linalg.vector_norm(X, dim=1, keepdim=True)
    y = torch.where(X[:, 0] * X[:, 1] >= 0, 1.0, -1.0).to(torch.float64)
    return X, y


@dataclass
class HomogeneousRun:
    """A run of :func:`homogeneous_gd`."""

    separated: int | None  #: first step with summed loss < 1 (None: never)
    gamma: np.ndarray  #: smoothed margin at every step from ``separated`` on
    normalized_margin: np.ndarray  #: min_i q_i / ||theta||^2 at the same steps
    snapshots: dict[int, nn.Module] = field(default_factory=dict)  #: step -> trained network

    def steps(self) -> np.ndarray:
        """The steps of ``gamma``."""
        return np.arange(self.separated, self.separated + len(self.gamma)) if self.separated is not None else \
            np.arange(0)


def homogeneous_gd(X, y, width: int, *, lr: float, steps: int, record_at: Sequence[int] = (),
                   seed: int = 0) -> HomogeneousRun:
    """Gradient descent on the mean exponential loss of :math:`f(x) = a^\\top \\operatorname{relu}(Wx)`.

    The network is ``models.mlp([d, width, 1], bias=False, seed=seed)`` in
    float64 (PyTorch's default initialisation), homogeneous of degree 2 in
    :math:`\\theta = (W, a)`. The update is that of
    ``train.fit(net, X, y, loss="exp", lr=lr)`` (relu'(0) = 0), written out in
    NumPy. From the first step at which the *summed* loss is below
    :math:`\\ell(0) = 1` (Lyu and Li's condition), the smoothed margin
    :func:`dltheory.implicit_bias.smoothed_margin` is recorded at every step;
    copies of the network are kept at ``record_at``.
    """
    width = check_int(width, "width", min=1)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    Xn = np.asarray(X, dtype=np.float64)
    yn = np.asarray(y, dtype=np.float64)
    n, d = Xn.shape
    net = models.mlp([d, width, 1], bias=False, seed=check_seed(seed), dtype=torch.float64)
    W = net[0].weight.detach().numpy().copy()
    a = net[2].weight.detach().numpy().reshape(-1).copy()
    record = {check_int(t, "a step of record_at", min=0, max=steps) for t in record_at}
    separated, gammas, normalized, snaps = None, [], [], {}
    for t in range(steps + 1):
        Z = Xn @ W.T
        H = np.maximum(Z, 0.0)
        q = yn * (H @ a)
        m = (-q).max()
        log_sum = m + math.log(np.exp(-q - m).sum())  # log sum_i exp(-q_i)
        if separated is None and log_sum < 0:
            separated = t
        if separated is not None:
            rho2 = (W * W).sum() + a @ a
            gammas.append(-log_sum / rho2)
            normalized.append(q.min() / rho2)
        if t in record:
            copy = models.mlp([d, width, 1], bias=False, dtype=torch.float64)
            with torch.no_grad():
                copy[0].weight.copy_(torch.from_numpy(W))
                copy[2].weight.copy_(torch.from_numpy(a[None, :]))
            snaps[t] = copy
        if t == steps:
            break
        c = -yn * np.exp(-q) / n  # d(mean loss)/d f(x_i)
        grad_a = H.T @ c
        grad_W = ((c[:, None] * (Z > 0)) * a[None, :]).T @ Xn
        W -= lr * grad_W
        a -= lr * grad_a
    return HomogeneousRun(separated, np.array(gammas), np.array(normalized), snaps)


@dataclass
class SensingRuns:
    """Runs of :func:`sensing_gd`, one per initial scale."""

    scales: np.ndarray  #: (S,) initial scales alpha
    matrices: torch.Tensor  #: (S, d, d) U U^T after the last step
    errors: np.ndarray  #: (S,) ||U U^T - M*||_F / ||M*||_F
    losses: np.ndarray  #: (S,) final mean square loss (1/2n) sum_i r_i^2
    nuclear_norms: np.ndarray  #: (S,) nuclear norm of U U^T


def sensing_gd(A, y, M_star, scales: Sequence[float], *, lr: float, steps: int, seed: int = 0) -> SensingRuns:
    """Gradient descent on :math:`\\frac1{2n}\\sum_i(\\langle A_i, UU^\\top\\rangle - y_i)^2`, one run per scale.

    Run ``s`` starts at ``models.SymmetricFactorization(d, init_scale=scales[s],
    seed=seed)``, i.e. :math:`U_0 = \\alpha_s Q` with the same :math:`Q` for every
    scale. The gradient is :math:`\\nabla_U = \\frac2n\\bigl(\\sum_i r_i A_i\\bigr) U`
    for symmetric :math:`A_i`; all runs advance together as one batch, in float64.
    """
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    A = torch.as_tensor(A, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    M_star = torch.as_tensor(M_star, dtype=torch.float64)
    n, d = A.shape[0], A.shape[1]
    flat = A.reshape(n, -1)
    U = torch.stack([models.SymmetricFactorization(d, init_scale=float(s), seed=seed,
                                                   dtype=torch.float64).U.detach() for s in scales])
    for _ in range(steps):
        M = U @ U.transpose(1, 2)
        r = M.reshape(len(scales), -1) @ flat.T - y  # (S, n)
        G = (r @ flat).reshape(-1, d, d) / n  # sum_i r_i A_i / n
        U = U - lr * 2 * G @ U
    M = U @ U.transpose(1, 2)
    r = M.reshape(len(scales), -1) @ flat.T - y
    errors = torch.linalg.matrix_norm(M - M_star) / torch.linalg.matrix_norm(M_star)
    return SensingRuns(np.asarray(scales, dtype=float), M, errors.numpy(), (r.square().mean(1) / 2).numpy(),
                       torch.linalg.matrix_norm(M, ord="nuc").numpy())


def fourier_data(n: int, d: int, *, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian inputs :math:`x \\sim N(0, I_d/d)` labelled by a single random frequency.

    The teacher is :math:`\\beta^*_j = \\cos(2\\pi k j/d + \\phi)` with :math:`k`
    uniform in :math:`\\{1, \\dots, d/2 - 1\\}` and :math:`\\phi` uniform: all its
    Fourier energy sits in the two coefficients :math:`\\pm k`. Labels
    :math:`y = \\operatorname{sign}\\langle\\beta^*, x\\rangle`. Float64; returns
    ``X, y, beta_star``.
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=4)
    g = torch.Generator().manual_seed(check_seed(seed))
    X = torch.randn(n, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    k = 1 + int(torch.randint(0, d // 2 - 1, (1,), generator=g))
    phase = 2 * math.pi * torch.rand(1, generator=g, dtype=torch.float64)
    beta = torch.cos(2 * math.pi * k * torch.arange(d, dtype=torch.float64) / d + phase)
    y = torch.where(X @ beta >= 0, 1.0, -1.0).to(torch.float64)
    return X, y, beta


def _conv_grads(filters: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gradients of :math:`\\langle g, \\beta\\rangle` with respect to each filter, :math:`\\hat\\beta = \\prod_l \\hat w_l`."""
    F = np.fft.fft(filters, axis=1)
    G = np.fft.fft(g)
    out = np.empty_like(filters)
    for l in range(filters.shape[0]):
        others = np.prod(np.delete(F, l, axis=0), axis=0)
        out[l] = np.fft.ifft(G * np.conj(others)).real
    return out


def linear_net_gd(model: nn.Module, X, y, *, lr: float, steps: int) -> torch.Tensor:
    """Gradient descent on the mean exponential loss of a linear network, in place; returns :math:`\\beta`.

    ``model`` is a :class:`~dltheory.models.CircularConvLinear` or a
    :class:`~dltheory.models.FullyConnectedLinear`. With
    :math:`g = \\nabla_\\beta \\frac1n\\sum_i e^{-y_i\\langle\\beta, x_i\\rangle}`, the
    gradient with respect to filter :math:`w_l` is
    :math:`F^{-1}\\bigl(\\hat g \\odot \\overline{\\prod_{j\\ne l}\\hat w_j}\\bigr)` for the
    convolutional net, and the chain rule through :math:`\\beta = W_1^\\top\\cdots w_L` for the
    fully connected one: the update of ``train.fit(model, X, y, loss="exp", lr=lr)``, in NumPy
    float64.
    """
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=0)
    Xn = np.asarray(X, dtype=np.float64)
    A = np.asarray(y, dtype=np.float64)[:, None] * Xn
    n = A.shape[0]
    if isinstance(model, models.CircularConvLinear):
        Wf = model.filters.detach().cpu().numpy().astype(np.float64)
        for _ in range(steps):
            beta = np.fft.ifft(np.prod(np.fft.fft(Wf, axis=1), axis=0)).real
            g = -(A.T @ np.exp(-A @ beta)) / n
            Wf = Wf - lr * _conv_grads(Wf, g)
        with torch.no_grad():
            model.filters.copy_(torch.from_numpy(Wf))
    elif isinstance(model, models.FullyConnectedLinear):
        mats = [W.detach().cpu().numpy().astype(np.float64) for W in model.hidden]
        v = model.readout.detach().cpu().numpy().astype(np.float64)
        for _ in range(steps):
            # forward: h_0 = beta-side products; beta = W_1^T ... W_{L-1}^T v
            partial = [v]  # partial[k] = W_{L-k}^T ... v, from the top
            for W in reversed(mats):
                partial.append(W.T @ partial[-1])
            beta = partial[-1]
            g = -(A.T @ np.exp(-A @ beta)) / n
            # backward: d<g, beta>/dW_l = (W_{l-1}...W_1 g) partial^T
            below = [g]
            for W in mats:
                below.append(W @ below[-1])
            L = len(mats)
            new = [mats[l] - lr * np.outer(partial[L - 1 - l], below[l]) for l in range(L)]
            v = v - lr * below[L]
            mats = new
        with torch.no_grad():
            for P, W in zip(model.hidden, mats):
                P.copy_(torch.from_numpy(W))
            model.readout.copy_(torch.from_numpy(v))
    else:
        raise TypeError(f"model must be a CircularConvLinear or a FullyConnectedLinear, got {type(model).__name__}")
    return model.predictor()


def scale_panel(runs: SensingRuns, M_star, min_norm, alpha: float) -> Panel:
    """One initial scale of :func:`sensing_gd`: the spectrum of :math:`UU^\\top` and the error against the scale.

    Left: the eigenvalues of :math:`UU^\\top` (largest first) beside those of
    :math:`M^*` and of the minimum-Frobenius-norm interpolant. Right: the relative
    error against the initial scale, with ``alpha`` marked.
    """
    i = int(np.argmin(np.abs(np.log(runs.scales) - math.log(alpha))))
    eig = lambda M: torch.linalg.eigvalsh(torch.as_tensor(M, dtype=torch.float64)).flip(0).numpy()  # noqa: E731
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    k = np.arange(1, runs.matrices.shape[1] + 1)
    left.plot(k, eig(M_star), "o", color="0.3", label="$M^*$ (rank 2)")
    left.plot(k, eig(min_norm), "s", color="C3", markersize=4, label="min-Frobenius interpolant")
    left.plot(k, eig(runs.matrices[i]), ".-", color="C0", label=rf"$UU^\top$, $\alpha = {runs.scales[i]:.0e}$")
    left.axhline(0, color="0.6", linewidth=0.8)
    left.set(xlabel="eigenvalue index (largest first)", ylabel="eigenvalue", title="spectra")
    left.legend(fontsize=8)
    right.loglog(runs.scales, runs.errors, "o-", color="C0", label=r"$UU^\top$ after GD")
    right.axhline(relative_min_norm := float(torch.linalg.matrix_norm(torch.as_tensor(min_norm) - M_star)
                                             / torch.linalg.matrix_norm(torch.as_tensor(M_star))),
                  linestyle="--", color="C3", label="min-Frobenius interpolant")
    right.plot([runs.scales[i]], [runs.errors[i]], "o", color="C1", markersize=10, fillstyle="none")
    right.set(xlabel=r"initial scale $\alpha$", ylabel=r"$\|M - M^*\|_F / \|M^*\|_F$",
              title="recovery error", ylim=(1e-3, 2))
    right.legend(fontsize=8, loc="lower right")
    values = {"alpha": float(runs.scales[i]), "error": float(runs.errors[i]),
              "nuclear_norm": float(runs.nuclear_norms[i]), "min_norm_error": relative_min_norm}
    return Panel(fig, values)


def scale_explorer(runs: SensingRuns, M_star, min_norm):
    """A slider over the initial scales of ``runs``, drawing :func:`scale_panel` (static-capable)."""
    return static_explorer(lambda alpha: scale_panel(runs, M_star, min_norm, alpha),
                           alpha=tuple(float(s) for s in runs.scales))
