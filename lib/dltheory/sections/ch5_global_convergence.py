"""The glue of ``book/5-theory-to-algorithm/global-convergence.ipynb``: Du et al.'s rate and Gram matrices.

The notebook checks three statements around the global-convergence theorems
of Du, Zhai, Poczos & Singh (ICLR 2019) and Du, Lee, Li, Wang & Zhai (ICML
2019), on inputs on the unit sphere with balanced labels :math:`\\pm 1`
(:func:`dltheory.data.teacher_signs`) and Du et al.'s two-layer network
(:func:`dltheory.gram.du_network`). This module holds their protocols:

* :func:`gram_deviation`: :math:`\\lVert H(0) - H^\\infty\\rVert_F/\\lVert H^\\infty\\rVert_F`
  over widths and initialisations (:mod:`dltheory.gram`);
* :func:`residual_curves` and :func:`worst_envelope_ratio`: full-batch
  gradient descent and its squared residual against the bound
  :math:`(1 - \\eta\\lambda_0/2)^t`;
* :func:`depth_sweep` and :func:`depth_growth`: the finite-width fluctuation of
  the tangent kernel of plain and residual deep networks against depth, and
  the infinite-width :math:`\\lambda_{\\min}` of the plain network's kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .. import gram, models, ntk, stats, train
from .._checks import check_int, check_real, check_seed, check_tensor, check_Xy

__all__ = ["gram_deviation", "residual_curves", "worst_envelope_ratio",
           "depth_sweep", "depth_growth", "ARCHITECTURES"]

#: The deep networks of :func:`depth_sweep`.
ARCHITECTURES = ("plain", "residual")


def gram_deviation(X, widths: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
    """:math:`\\lVert H(0) - H^\\infty\\rVert_F / \\lVert H^\\infty\\rVert_F` for each seed and width.

    :math:`H(0)` is :func:`dltheory.gram.first_layer_gram` of the hidden
    weights of :func:`dltheory.gram.du_network` (a fresh network per seed and width), and
    :math:`H^\\infty` is :func:`dltheory.gram.du_gram`. Returns an array
    ``(seeds, widths)``.
    """
    H_inf = gram.du_gram(X)  # checks that X has unit rows
    X = check_tensor(X, "X", ndim=2).to(H_inf.dtype)
    widths = [check_int(m, "width", min=2) for m in widths]
    seeds = [check_seed(s) for s in seeds]
    out = np.zeros((len(seeds), len(widths)))
    for i, seed in enumerate(seeds):
        for j, m in enumerate(widths):
            W = gram.du_network(X.shape[1], m, seed=seed, dtype=X.dtype, device=X.device)[0].weight.detach()
            out[i, j] = float((gram.first_layer_gram(W, X) - H_inf).norm() / H_inf.norm())
    return out


def residual_curves(X, y, widths: Sequence[int], seeds: Sequence[int], *, lr: float, steps: int) -> np.ndarray:
    """:math:`\\lVert u(t) - y\\rVert^2 / \\lVert u(0) - y\\rVert^2` along full-batch gradient descent.

    Each run trains :func:`dltheory.gram.du_network` (one per seed and width) with
    :func:`dltheory.train.fit` (``optimizer="gd"``, step ``lr`` on the mean
    loss :math:`\\frac{1}{2n}\\sum_i (u_i - y_i)^2`, i.e. :math:`\\eta = \\text{lr}/n`
    on Du et al.'s summed loss). The loss before every update comes from a
    callback, so the curve has every step at no extra cost.

    Returns
    -------
    ndarray ``(seeds, widths, steps + 1)``.
    """
    X, y = check_Xy(X, y)
    widths = [check_int(m, "width", min=2) for m in widths]
    seeds = [check_seed(s) for s in seeds]
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    out = np.zeros((len(seeds), len(widths), steps + 1))
    for i, seed in enumerate(seeds):
        for j, m in enumerate(widths):
            net = gram.du_network(X.shape[1], m, seed=seed, dtype=X.dtype, device=X.device)
            losses: list[float] = []

            def before_update(info, losses=losses):
                losses.append(float(info.loss))

            history = train.fit(net, X, y, loss="square", optimizer="gd", lr=lr, steps=steps,
                                record_every=steps, callbacks=[before_update], progress=False)
            curve = np.asarray(losses + [float(history["loss"][-1])])
            out[i, j] = curve / curve[0]
    return out


def worst_envelope_ratio(curves: np.ndarray, envelope: np.ndarray) -> float:
    """:math:`\\max_{t \\ge 1}` of (relative squared residual) / envelope over all runs in ``curves``.

    At most 1 when every curve stays under the bound :math:`(1 - \\eta\\lambda_0/2)^t`
    at every step; ``t = 0`` is left out because both sides equal 1 there.
    """
    curves = np.asarray(curves, dtype=float)
    envelope = np.asarray(envelope, dtype=float)
    if curves.shape[-1] != envelope.shape[-1] or curves.shape[-1] < 2:
        raise ValueError(f"curves end in {curves.shape[-1]} steps, the envelope has {envelope.shape[-1]}")
    return float((curves[..., 1:] / envelope[1:]).max())


def _plain(d: int, width: int, depth: int):
    return lambda seed: models.mlp([d] + [width] * depth + [1], bias=False, parametrization="ntk", seed=seed,
                                   dtype=torch.float64)


def _residual(d: int, width: int, depth: int):
    return lambda seed: models.residual_mlp(d, width, depth, seed=seed, dtype=torch.float64)


def depth_sweep(X, depths: Sequence[int], width: int, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """The tangent kernel's finite-width fluctuation against depth, plain and residual.

    For each depth :math:`L` (hidden layers), with the networks in float64 on
    the CPU:

    * ``"plain"``: :func:`dltheory.gram.kernel_deviation` of
      ``mlp([d, m, ..., m, 1], parametrization="ntk", bias=False)`` over ``seeds``;
    * ``"residual"``: the same for :func:`dltheory.models.residual_mlp`
      (branches scaled :math:`1/L`);
    * ``"plain_vs_limit"``: the plain network's deviation from its infinite-width
      kernel :func:`dltheory.ntk.relu_ntk`;
    * ``"limit_lambda_min"``: :math:`\\lambda_{\\min}/\\text{mean eigenvalue}` of
      that limit kernel on ``X``.

    Returns a dict of arrays ``(depths,)``, and ``"depths"``.
    """
    X = check_tensor(X, "X", ndim=2).detach().to("cpu", torch.float64)
    depths = [check_int(L, "depth", min=1) for L in depths]
    width = check_int(width, "width", min=1)
    seeds = [check_seed(s) for s in seeds]
    out = {key: np.zeros(len(depths)) for key in (*ARCHITECTURES, "plain_vs_limit", "limit_lambda_min")}
    d = X.shape[1]
    for j, L in enumerate(depths):
        limit = ntk.relu_ntk(X, depth=L)
        eig = torch.linalg.eigvalsh(limit)
        out["limit_lambda_min"][j] = float(eig[0] / eig.mean())
        plain = torch.stack([ntk.empirical_ntk(_plain(d, width, L)(s), X) for s in seeds])
        residual = torch.stack([ntk.empirical_ntk(_residual(d, width, L)(s), X) for s in seeds])
        out["plain"][j] = gram.kernel_deviation(plain)
        out["plain_vs_limit"][j] = gram.kernel_deviation(plain, reference=limit)
        out["residual"][j] = gram.kernel_deviation(residual)
    out["depths"] = np.asarray(depths)
    return out


def depth_growth(depths: Sequence[int], values, *, lo: int, hi: int) -> float:
    """The growth factor from depth ``lo`` to ``hi`` read off a log-log fit: :math:`(hi/lo)^{s}`.

    :math:`s` is the least-squares slope of :math:`\\log` ``values`` against
    :math:`\\log` ``depths`` (:func:`dltheory.stats.loglog_slope`); the fit uses
    every depth, so one noisy end point moves it less than a plain ratio.
    """
    lo = check_int(lo, "lo", min=1)
    hi = check_int(hi, "hi", min=1)
    return float((hi / lo) ** stats.loglog_slope(np.asarray(depths, dtype=float), np.asarray(values, dtype=float)))
