"""The glue of ``book/4-mathematical-theories/landscape-topology.ipynb``: three landscapes without bad valleys.

* :func:`bottleneck_data` and :func:`fit_bottleneck`: deep linear networks with a
  bottleneck, trained from several starts and compared with the reduced-rank optimum
  (:func:`dltheory.topology.reduced_rank_regression`);
* :func:`quadratic_teacher` and :func:`width_sweep`: quadratic-activation networks
  (:class:`dltheory.topology.QuadraticNets`) of several widths, many seeds each, trained
  with :func:`dltheory.train.fit_ensemble` on a realisable teacher;
* :func:`connect`: two ReLU networks trained on the digits from different seeds, and the
  Bézier curve trained between them (:class:`dltheory.topology.BezierCurve`), with the loss
  along the curve and along the straight line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch

from .. import data, models, params, topology, train
from .._checks import check_int, check_real, check_seed

__all__ = ["bottleneck_data", "fit_bottleneck", "quadratic_teacher", "width_sweep", "connect"]


def bottleneck_data(n: int, d_in: int, d_out: int, *, noise: float = 0.5, seed: int):
    """Gaussian inputs ``(n, d_in)`` and targets :math:`Y = XA^\\top + \\text{noise}\\cdot E`, NumPy float64.

    :math:`A` ``(d_out, d_in)`` and :math:`E` have i.i.d. standard normal entries, so the
    least-squares fit has full rank :math:`\\min(d_{in}, d_{out})` and distinct singular values.
    """
    rng = np.random.default_rng(check_seed(seed))
    n, d_in, d_out = (check_int(v, name, min=1) for v, name in ((n, "n"), (d_in, "d_in"), (d_out, "d_out")))
    X = rng.standard_normal((n, d_in))
    A = rng.standard_normal((d_out, d_in))
    return X, X @ A.T + check_real(noise, "noise", min=0.0) * rng.standard_normal((n, d_out))


def _lbfgs(max_iter: int):
    return functools.partial(torch.optim.LBFGS, lr=1.0, max_iter=max_iter, history_size=50,
                             line_search_fn="strong_wolfe", tolerance_grad=1e-15, tolerance_change=1e-20)


def fit_bottleneck(X, Y, widths: Sequence[int], seeds: Sequence[int], *, steps: int = 10,
                   max_iter: int = 100) -> dict[str, np.ndarray]:
    """Train the bias-free linear network ``widths`` from each seed and compare it with the optimum.

    Each network (:func:`dltheory.models.mlp` with the identity activation, float64, PyTorch's
    default initialisation) is trained on the square loss by L-BFGS with a strong-Wolfe line
    search (:func:`dltheory.train.fit`, ``steps`` calls of ``max_iter`` iterations). Returns
    arrays over the seeds: ``gap``, the relative excess loss :math:`(L - L_k)/L_k` over the
    reduced-rank optimum :math:`L_k` with :math:`k` the narrowest hidden width, and
    ``distance``, :math:`\\lVert B - B_k\\rVert_F/\\lVert B_k\\rVert_F` for the end-to-end matrix
    :math:`B = W_L\\cdots W_1`; also ``initial_gap``, the gap at the start.
    """
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    widths = [check_int(w, "width", min=1) for w in widths]
    k = min(widths[1:-1])
    best = topology.reduced_rank_regression(X, Y, k)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    eye = torch.eye(X.shape[1], dtype=torch.float64)

    def loss_and_matrix(net) -> tuple[float, np.ndarray]:
        with torch.no_grad():
            B = net(eye).T.numpy()
        return 0.5 * float(np.sum((Y - X @ B.T) ** 2)) / X.shape[0], B

    out = {"gap": [], "distance": [], "initial_gap": []}
    for seed in seeds:
        net = models.mlp(widths, activation="identity", bias=False, seed=check_seed(seed), dtype=torch.float64)
        out["initial_gap"].append(loss_and_matrix(net)[0] / best.value - 1)
        train.fit(net, Xt, Yt, loss="square", optimizer=_lbfgs(max_iter), steps=steps, progress=False)
        value, B = loss_and_matrix(net)
        out["gap"].append((value - best.value) / best.value)
        out["distance"].append(np.linalg.norm(B - best.B) / np.linalg.norm(best.B))
    return {key: np.array(v) for key, v in out.items()} | {"optimum": best.value, "k": k}


def quadratic_teacher(n: int, d: int, *, seed: int, eigenvalues: Sequence[float] | None = None):
    """Inputs on the sphere of radius :math:`\\sqrt d` and labels :math:`y_i = x_i^\\top M^* x_i`, float64 tensors.

    :math:`M^* = Q\\operatorname{diag}(\\lambda)Q^\\top` with a random rotation :math:`Q` and, by
    default, eigenvalues spread over :math:`[-1, 1.5]` with both signs, so the teacher is a
    quadratic network of width :math:`d` with output weights of both signs: realisable by
    every student of width :math:`p \\ge d`. Returns ``(X, y, M)``.
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True) * math.sqrt(d)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    lam = (torch.linspace(1.5, -1.0, d, dtype=torch.float64) if eigenvalues is None
           else torch.as_tensor(eigenvalues, dtype=torch.float64))
    M = Q @ torch.diag(lam) @ Q.T
    return X, torch.einsum("ni,ij,nj->n", X, M, X), M


def width_sweep(X, y, widths: Sequence[int], *, members: int, seed: int, adam_steps: int,
                gd_steps: int, adam_lr: float = 0.01, gd_lr: float = 0.02, device="cpu") -> dict[int, np.ndarray]:
    """Final relative losses :math:`L/L(0)` of ``members`` quadratic networks per width, ``{p: (members,)}``.

    :math:`L(0) = \\frac1{2n}\\sum_i y_i^2` is the loss of the zero network. Each width is one
    :class:`dltheory.topology.QuadraticNets` ensemble (seeded by ``seed + p``), trained on the
    square loss by :func:`dltheory.train.fit_ensemble`: first Adam, which crosses the early
    plateaus quickly, then plain gradient descent, which converges to an exact fit where Adam
    keeps taking steps of size ``lr`` (its update is a ratio of moments that stays of order 1
    as the gradient vanishes).
    """
    X, y = X.to(device), y.to(device)
    scale = 0.5 * float((y**2).mean())
    out = {}
    for p in widths:
        nets = topology.QuadraticNets(check_int(members, "members", min=1), X.shape[1], p,
                                      seed=check_seed(seed) + p, device=device)
        train.fit_ensemble(nets, X, y, loss="square", optimizer="adam", lr=adam_lr, steps=adam_steps)
        history = train.fit_ensemble(nets, X, y, loss="square", optimizer="gd", lr=gd_lr, steps=gd_steps)
        out[p] = history.final_loss / scale
    return out


def connect(widths: Sequence[int], *, n_train: int, steps: int, curve_steps: int, seed: int,
            lr: float = 0.01, points: int = 21, device="cpu") -> dict:
    """Two ReLU networks on the digits, the Bézier curve between them, and the loss along both paths.

    ``n_train`` digits drawn at random (seeded) form the training set. Two networks
    :func:`dltheory.models.mlp` ``(64, *widths, 10)`` from seeds ``seed + 1`` and ``seed + 2``
    are trained on the cross-entropy by full-batch Adam for ``steps`` steps; then a
    :class:`dltheory.topology.BezierCurve` between them, for ``curve_steps`` steps (one
    :math:`t` per step). Returns the grid ``t`` (``points`` values), the training loss along the
    straight line (``line``) and along the curve (``curve``), their :func:`dltheory.topology.barrier`
    (``line_barrier``, ``curve_barrier``), and the test accuracy along both (``line_accuracy``,
    ``curve_accuracy``) on the digits left out.
    """
    X, y = data.digits(dtype=torch.float64, device=device)
    g = torch.Generator().manual_seed(check_seed(seed))
    order = torch.randperm(len(X), generator=g).to(device)
    train_idx, test_idx = order[:check_int(n_train, "n_train", min=1)], order[n_train:]
    Xtr, ytr, Xte, yte = X[train_idx], y[train_idx], X[test_idx], y[test_idx]
    ends = []
    for s in (1, 2):
        net = models.mlp([X.shape[1], *widths, 10], seed=seed + s, dtype=torch.float64, device=device)
        train.fit(net, Xtr, ytr, loss="ce", optimizer="adam", lr=lr, steps=steps, progress=False)
        ends.append(params.flat_parameters(net))
    curve = topology.BezierCurve(net, ends[0], ends[1], seed=seed)
    train.fit(curve, Xtr, ytr, loss="ce", optimizer="adam", lr=lr, steps=curve_steps, progress=False)
    t = np.linspace(0.0, 1.0, check_int(points, "points", min=2))
    paths = {"line": topology.bezier(ends[0], (ends[0] + ends[1]) / 2, ends[1], t),
             "curve": curve.point(t).detach()}
    f = params.as_function(net)
    out: dict = {"t": t}
    for name, thetas in paths.items():
        out[name] = topology.path_losses(net, thetas, Xtr, ytr, loss="ce")
        out[f"{name}_barrier"] = topology.barrier(t, out[name])
        with torch.no_grad():
            out[f"{name}_accuracy"] = np.array([float((f(th, Xte).argmax(1) == yte).double().mean())
                                                for th in thetas])
    return out
