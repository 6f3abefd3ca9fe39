"""The experiments of ``book/3-sgd-overparametrization/regularized-margins.ipynb``.

* :func:`xor_data`: two-dimensional XOR data with a gap around the axes, for the
  margin certificate of :func:`dltheory.infinite_width.infinite_width_margin`.
* :func:`fit_regularized` / :func:`margin_path`: two-layer ReLU networks with hidden
  biases trained to a minimum of the logistic loss plus :math:`\\lambda\\lVert\\Theta\\rVert^2`
  (L-BFGS), and their normalised margins over a grid of :math:`\\lambda`.
* :func:`parity_comparison`: the neural tangent kernel against a network trained
  with weight decay on :math:`y = x_1 x_2` (:func:`dltheory.data.sparse_parity`).
* :func:`width_sweep`: the Golowich-Rakhlin-Shamir quantity with and without
  weight decay as the width grows, and the layers' balance.
* :func:`conservation`: :math:`\\lVert W_{j+1}\\rVert_F^2 - \\lVert W_j\\rVert_F^2` along
  gradient descent at two step sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .. import balancedness, bounds, data, infinite_width, models, ntk, train
from .._checks import check_int, check_real, check_seed

__all__ = ["xor_data", "fit_regularized", "certificate", "margin_path", "parity_comparison", "width_sweep", "conservation",
           "grs_quantity"]


def xor_data(n: int, *, gap: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points uniform on :math:`\\{x \\in [-1, 1]^2 : |x_1|, |x_2| \\ge \\text{gap}\\}`, :math:`y = \\operatorname{sign}(x_1x_2)`.

    Float64. The gap keeps the optimal margin away from zero; no affine
    classifier separates the four quadrants.
    """
    n = check_int(n, "n", min=1)
    gap = check_real(gap, "gap", min=0.0, max=1.0, max_open=True)
    g = torch.Generator().manual_seed(check_seed(seed))
    # |x_j| uniform on [gap, 1] with a random sign is uniform on the allowed set
    size = gap + (1 - gap) * torch.rand(n, 2, generator=g, dtype=torch.float64)
    sign = 2.0 * torch.randint(0, 2, (n, 2), generator=g).to(torch.float64) - 1.0
    X = size * sign
    return X, torch.sign(X[:, 0] * X[:, 1])


def _objective(theta: np.ndarray, X: np.ndarray, y: np.ndarray, width: int, lam: float) -> tuple[float, np.ndarray]:
    r"""The regularised logistic loss of :func:`fit_regularized` and its gradient, by hand in NumPy.

    :math:`\theta = (\mathrm{vec}\,W, b, u)` with :math:`f(x) = u^\top\mathrm{relu}(Wx + b)`. With
    :math:`s_i = -y_i\,\mathrm{sigmoid}(-y_if(x_i))/n`: :math:`\nabla_u = H^\top s`,
    :math:`\nabla_W = (\mathbb 1[Z > 0] \odot s u^\top)^\top X`, :math:`\nabla_b` the column sums of the same,
    plus :math:`2\lambda\theta`. (A test compares it with autograd.)
    """
    n, d = X.shape
    W = theta[:width * d].reshape(width, d)
    b = theta[width * d:width * (d + 1)]
    u = theta[width * (d + 1):]
    Z = X @ W.T + b
    H = np.maximum(Z, 0.0)
    margins = y * (H @ u)
    value = np.logaddexp(0.0, -margins).mean() + lam * (theta @ theta)
    s = -y * 0.5 * (1.0 - np.tanh(margins / 2)) / n  # dL/df_i = -y_i sigmoid(-y_i f_i) / n
    back = (Z > 0) * (s[:, None] * u[None, :])  # (n, m)
    grad = np.concatenate([(back.T @ X).ravel(), back.sum(axis=0), H.T @ s]) + 2 * lam * theta
    return value, grad


def fit_regularized(X, y, width: int, lam: float, *, seed: int = 0, max_iter: int = 20_000,
                    start: torch.nn.Sequential | None = None) -> torch.nn.Sequential:
    r"""A minimiser of :math:`\frac1n\sum_i \log(1 + e^{-y_i f(\Theta; x_i)}) + \lambda\lVert\Theta\rVert_2^2`.

    The network is ``models.two_layer(d, width, bias=True)`` (float64): hidden
    weights and biases and the outer weights, all trained, so :math:`f` is
    2-homogeneous in :math:`\Theta` and the penalty's power is the degree, as in
    Wei, Lee, Liu, Ma (2019). Started from the seeded initialisation and
    minimised by SciPy's L-BFGS-B to machine precision (``max_iter`` iterations
    at most), with the loss and gradient of :func:`_objective` on one BLAS
    thread (these matrices are tiny); a local minimum, as every practical method finds.
    ``start``, a network of the same shape, replaces the initialisation (a warm start).
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    Xn = torch.as_tensor(X).detach().to(torch.float64).cpu().numpy()
    yn = torch.as_tensor(y).detach().to(torch.float64).cpu().numpy()
    lam = check_real(lam, "lam", min=0.0, min_open=True)
    width = check_int(width, "width", min=1)
    net = models.two_layer(Xn.shape[1], width, bias=True, seed=seed, dtype=torch.float64)
    if start is not None:
        net.load_state_dict(start.state_dict())
    hidden, output = net[0], net[2]
    theta0 = torch.cat([hidden.weight.detach().reshape(-1), hidden.bias.detach(),
                        output.weight.detach().reshape(-1)]).numpy()
    with threadpool_limits(limits=1):
        result = minimize(_objective, theta0, args=(Xn, yn, width, lam), jac=True, method="L-BFGS-B",
                          options={"maxiter": check_int(max_iter, "max_iter", min=1), "maxcor": 30,
                                   "gtol": 1e-12, "ftol": 1e-16})
    theta = torch.from_numpy(result.x)
    d = Xn.shape[1]
    with torch.no_grad():
        hidden.weight.copy_(theta[:width * d].reshape(width, d))
        hidden.bias.copy_(theta[width * d:width * (d + 1)])
        output.weight.copy_(theta[width * (d + 1):].reshape(1, width))
    return net


def certificate(X, y, **options) -> infinite_width.InfiniteWidthMargin:
    """:func:`dltheory.infinite_width.infinite_width_margin` on one BLAS thread (its matrices are small)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return infinite_width.infinite_width_margin(X, y, **options)


def margin_path(X, y, width: int, lams: Sequence[float], seeds: Sequence[int]) -> np.ndarray:
    r"""Normalised margins :math:`\gamma(\Theta_\lambda)` along a regularisation path, shape ``(seeds, lams)``.

    For each seed the first :math:`\lambda` starts from the seeded initialisation
    and every later one from the previous minimiser (a warm start, as in path
    algorithms); give ``lams`` in decreasing order.
    """
    out = np.empty((len(seeds), len(lams)))
    for s, seed in enumerate(seeds):
        start = None
        for j, lam in enumerate(lams):
            net = fit_regularized(X, y, width, lam, seed=seed, start=start)
            start = net
            out[s, j] = infinite_width.normalized_margin(net, X, y)
    return out


def _error(scores: torch.Tensor, y: torch.Tensor) -> float:
    return (torch.sign(scores) != y).double().mean().item()


def parity_comparison(d: int, ns: Sequence[int], seeds: Sequence[int], *, n_test: int = 2000, width: int = 128,
                      steps: int = 400, lr: float = 8.0, weight_decay: float = 1e-3,
                      device: torch.device | str = "cpu") -> dict[str, np.ndarray]:
    """Test errors of the NTK kernel machine and of a weight-decayed network on :math:`y = x_1x_2`.

    For every sample size ``n`` and seed, a training set and a test set of
    :func:`dltheory.data.sparse_parity` (inputs scaled to :math:`\\lVert x\\rVert = 1`).
    The kernel machine interpolates with the infinite-width NTK of a one-hidden-layer
    ReLU network, :func:`dltheory.ntk.relu_ntk` ``(depth=1)``: the predictor that
    gradient descent reaches in the lazy limit from a zero output, and the minimum-norm
    interpolant of the kernel's RKHS. The network is ``models.two_layer(d, width)``
    (bias-free, both layers trained) trained by full-batch gradient descent on the
    logistic loss with ``weight_decay``.

    Returns
    -------
    dict
        ``ntk`` and ``net``: test errors of shape ``(len(seeds), len(ns))``; ``net_train``
        the network's training accuracy; ``ns``.
    """
    d = check_int(d, "d", min=2)
    out = {key: np.empty((len(seeds), len(ns))) for key in ("ntk", "net", "net_train")}
    for s, seed in enumerate(seeds):
        for j, n in enumerate(ns):
            X, y = data.sparse_parity(n, d, seed=seed, dtype=torch.float64, device=device)
            Xt, yt = data.sparse_parity(n_test, d, seed=seed + 7919, dtype=torch.float64, device=device)
            X, Xt = X / math.sqrt(d), Xt / math.sqrt(d)
            K = ntk.relu_ntk(X, depth=1)
            alpha = torch.linalg.solve(K + 1e-10 * torch.eye(n, dtype=K.dtype, device=K.device), y)
            out["ntk"][s, j] = _error(ntk.relu_ntk(Xt, X, depth=1) @ alpha, yt)
            net = models.two_layer(d, width, seed=seed + 1, dtype=torch.float64, device=device)
            history = train.fit(net, X, y, loss="logistic", lr=lr, steps=steps, weight_decay=weight_decay,
                                record_every=steps)
            out["net_train"][s, j] = history["train_accuracy"][-1]
            with torch.no_grad():
                out["net"][s, j] = _error(net(Xt)[:, 0], yt)
    out["ns"] = np.asarray(ns)
    return out


def grs_quantity(net: torch.nn.Module, X, y) -> float:
    """:math:`\\sqrt L\\,\\prod_j\\lVert W_j\\rVert_F/(\\bar\\gamma\\sqrt n)`, :math:`\\bar\\gamma = \\min_i y_if(x_i)`.

    The width-free part of the bound of Golowich, Rakhlin, Shamir (2018) as the
    lecture writes it, for inputs of norm at most 1 (the constants are in
    :func:`dltheory.bounds.frobenius_bound`); ``inf`` if a training point is misclassified.
    """
    margins = bounds.margins(net, X, y)
    gamma = margins.min().item()
    if gamma <= 0:
        return math.inf
    L = len(bounds.layer_weights(net))
    return math.sqrt(L) * balancedness.frobenius_product(net) / (gamma * math.sqrt(X.shape[0]))


def width_sweep(X, y, X_test, y_test, widths: Sequence[int], *, depth: int = 3, weight_decay: float = 1e-2,
                steps: int = 400, lr: float = 2.5, seed: int = 0) -> dict[str, np.ndarray]:
    """Bias-free ReLU networks of ``depth`` layers at every width, trained with and without weight decay.

    Each network is ``models.mlp([d, m, ..., m, 1], bias=False, init="he")`` from the
    same seed, trained by full-batch gradient descent on the logistic loss with
    ``weight_decay`` and with none. For each the function records
    :func:`grs_quantity`, :func:`dltheory.bounds.frobenius_bound`'s bound (at the
    smallest margin), the product of the layer norms, the smallest margin, the
    balance gap (:func:`dltheory.balancedness.balance_gap`) and the test error.

    Returns
    -------
    dict
        Arrays of shape ``(2, len(widths))``, row 0 with weight decay, row 1 without:
        ``grs``, ``bound``, ``product``, ``margin``, ``gap``, ``test_error``,
        ``train_accuracy``; and ``widths``.
    """
    depth = check_int(depth, "depth", min=2)
    keys = ("grs", "bound", "product", "margin", "gap", "test_error", "train_accuracy")
    out = {key: np.empty((2, len(widths))) for key in keys}
    d = X.shape[1]
    for row, wd in enumerate((weight_decay, 0.0)):
        for j, m in enumerate(widths):
            net = models.mlp([d] + [m] * (depth - 1) + [1], bias=False, init="he", seed=seed,
                             dtype=X.dtype, device=X.device)
            history = train.fit(net, X, y, loss="logistic", lr=lr, steps=steps, weight_decay=wd, record_every=steps)
            margins = bounds.margins(net, X, y)
            gamma = margins.min().item()
            out["grs"][row, j] = grs_quantity(net, X, y)
            out["bound"][row, j] = (bounds.frobenius_bound(net, X, y, gamma=gamma * (1 - 1e-9))["bound"]
                                    if gamma > 0 else math.inf)
            out["product"][row, j] = balancedness.frobenius_product(net)
            out["margin"][row, j] = gamma
            out["gap"][row, j] = balancedness.balance_gap(net)
            out["train_accuracy"][row, j] = history["train_accuracy"][-1]
            with torch.no_grad():
                out["test_error"][row, j] = _error(net(X_test)[:, 0], y_test)
    out["widths"] = np.asarray(widths)
    return out


def conservation(X, y, width: int, lrs: Sequence[float], *, horizon: float = 150.0, depth: int = 3, seed: int = 0,
                 records: int = 20) -> dict[str, np.ndarray]:
    """Squared layer norms along plain gradient descent (logistic loss) at several step sizes, same time horizon.

    Step size :math:`\\eta` runs ``round(horizon / eta)`` steps, so every run covers
    the same stretch :math:`t = \\eta\\,\\text{steps}` of the gradient flow.

    Returns
    -------
    dict
        ``time`` ``(records + 1,)``, ``squared_norms`` ``(len(lrs), records + 1, depth)``,
        ``drift`` ``(len(lrs),)``: the largest change of a difference
        :math:`\\lVert W_{j+1}\\rVert_F^2 - \\lVert W_j\\rVert_F^2` over the run divided by the
        largest change of a squared norm; ``lrs``.
    """
    horizon = check_real(horizon, "horizon", min=0.0, min_open=True)
    records = check_int(records, "records", min=1)
    d = X.shape[1]
    sq = np.empty((len(lrs), records + 1, depth))
    drift = np.empty(len(lrs))
    for k, lr in enumerate(lrs):
        steps = round(horizon / lr)
        net = models.mlp([d] + [width] * (depth - 1) + [1], bias=False, init="he", seed=seed, dtype=X.dtype,
                         device=X.device)
        at = [round(steps * r / records) for r in range(records + 1)]
        history = train.fit(net, X, y, loss="logistic", lr=lr, steps=steps, record_at=at)
        sq[k] = np.stack([np.asarray(history[f"frob_{j + 1}"]) ** 2 for j in range(depth)], axis=1)
        differences = np.diff(sq[k], axis=1)
        drift[k] = np.abs(differences[-1] - differences[0]).max() / np.abs(sq[k, -1] - sq[k, 0]).max()
    return {"time": np.linspace(0.0, horizon, records + 1), "squared_norms": sq, "drift": drift,
            "lrs": np.asarray(lrs, dtype=float)}
