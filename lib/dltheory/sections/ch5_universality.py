"""The glue of ``book/5-theory-to-algorithm/universality.ipynb``: narrow and wide networks fitted to a bump.

The science (the bump, grid errors, superlevel components) is in
:mod:`dltheory.universality`. This module holds the notebook's protocol:

* :class:`MaskedMLPEnsemble`: ReLU networks of one depth and *different*
  widths (and seeds) as one batched model. Member :math:`k` is
  ``models.mlp([d] + [m_k] * L + [1], init="he", seed=s_k)`` placed in the
  top-left block of a container of the largest width, with the rest of every
  weight matrix masked to zero, so it computes exactly that network and
  :func:`dltheory.train.fit_ensemble` trains every member as if alone.
* :func:`bump_data`: the training grid and the bump on it.
* :func:`fit_bump`: train one ensemble on the bump and measure every member
  (sup and :math:`L^1` errors on a finer grid, the components of a superlevel
  set on a large box).
* :func:`depth_sweep`: :func:`fit_bump` at every depth, the table of the notebook;
* :func:`grid_values`: one network on a grid, for the figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import models, train, universality
from .._checks import check_int, check_real, check_seed

__all__ = ["MaskedMLPEnsemble", "bump_data", "fit_bump", "depth_sweep", "level", "grid_values"]

#: The box :math:`[-1, 1]^2` of the errors, and the large box :math:`[-4, 4]^2` of the superlevel sets.
BOX, LARGE_BOX = 1.0, 4.0
#: The support radius of the bump (:func:`dltheory.universality.bump`).
RADIUS = 0.5


class MaskedMLPEnsemble(nn.Module):
    """ReLU MLPs ``d -> m_k -> ... -> m_k -> 1`` (``depth`` hidden layers) of several widths, as one model.

    Parameters
    ----------
    d : int
        Input dimension.
    widths, seeds : sequences of int, the same length :math:`S`
        Member :math:`k` has hidden width ``widths[k]`` and starts as
        ``models.mlp([d] + [widths[k]] * depth + [1], init=init, seed=seeds[k])``.
    depth : int
        Hidden layers.

    ``forward`` maps ``(n, d)`` to ``(S, n)``; :meth:`member` returns member
    :math:`k` as a plain ``nn.Sequential`` of that architecture.
    """

    def __init__(self, d: int, widths: Sequence[int], seeds: Sequence[int], depth: int, *, init: str = "he",
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.d, self.depth, self.init = check_int(d, "d", min=1), check_int(depth, "depth", min=1), init
        self.widths = [check_int(m, "width", min=1) for m in widths]
        self.seeds = [check_seed(s) for s in seeds]
        if not self.widths or len(self.widths) != len(self.seeds):
            raise ValueError(f"widths and seeds must be non-empty and of equal length, got {len(self.widths)} "
                             f"and {len(self.seeds)}")
        top = max(self.widths)
        sizes = [self.d] + [top] * self.depth + [1]
        S = len(self.widths)
        weights = [torch.zeros(S, a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        biases = [torch.zeros(S, 1, b, dtype=dtype) for b in sizes[1:]]
        masks = [torch.zeros(S, a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        for k, (m, s) in enumerate(zip(self.widths, self.seeds)):
            for layer, lin in enumerate(self._linears(self._build(m, s, dtype))):
                b_out, b_in = lin.weight.shape
                weights[layer][k, :b_in, :b_out] = lin.weight.detach().T
                biases[layer][k, 0, :b_out] = lin.bias.detach()
                masks[layer][k, :b_in, :b_out] = 1.0
        self.weights = nn.ParameterList([nn.Parameter(w) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])
        for layer, mask in enumerate(masks):
            self.register_buffer(f"mask{layer}", mask)
            self.register_buffer(f"bias_mask{layer}", (mask.sum(1, keepdim=True) > 0).to(dtype))

    def _build(self, width: int, seed: int, dtype: torch.dtype) -> nn.Sequential:
        return models.mlp([self.d] + [width] * self.depth + [1], init=self.init, seed=seed, dtype=dtype)

    @staticmethod
    def _linears(net: nn.Sequential) -> list[nn.Linear]:
        """The linear layers of ``models.mlp`` without norms: ``Linear, act, ..., Linear``, every other module."""
        return list(net)[::2]

    @property
    def ensemble_size(self) -> int:
        return len(self.widths)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        h = X.to(self.weights[0].dtype).expand(self.ensemble_size, *X.shape)
        last = len(self.weights) - 1
        for layer, (W, b) in enumerate(zip(self.weights, self.biases)):
            W = W * getattr(self, f"mask{layer}")
            b = b * getattr(self, f"bias_mask{layer}")
            h = torch.baddbmm(b, h, W)
            if layer < last:
                h = torch.relu(h)
        return h[..., 0]

    def member(self, k: int) -> nn.Sequential:
        """Member ``k`` as ``models.mlp(...)`` carrying its current weights (a detached copy)."""
        k = check_int(k, "k", min=0, max=self.ensemble_size - 1)
        net = self._build(self.widths[k], self.seeds[k], self.weights[0].dtype)
        with torch.no_grad():
            for layer, lin in enumerate(self._linears(net)):
                b_out, b_in = lin.weight.shape
                lin.weight.copy_(self.weights[layer][k, :b_in, :b_out].T)
                lin.bias.copy_(self.biases[layer][k, 0, :b_out])
        return net


def bump_data(points: int, *, half_width: float = BOX, radius: float = RADIUS) -> tuple[torch.Tensor, torch.Tensor]:
    """The grid of ``points`` x ``points`` over :math:`[-a, a]^2` and the bump on it (float64)."""
    X = universality.box_grid(2, half_width, points)
    return X, universality.bump(X, radius)


def level(values: np.ndarray) -> float:
    """The level :math:`c = (\\max F + \\min F)/2` over the rows of one network's values on the box.

    Halfway up the network's own range on :math:`[-1, 1]^2`: for a network
    near the bump, :math:`c \\approx \\tfrac12`; for a narrow one, a level
    that cuts its ridge.
    """
    v = np.asarray(values, dtype=float)
    return float((v.max() + v.min()) / 2)


def fit_bump(widths: Sequence[int], seeds: Sequence[int], depth: int, *, points: int, eval_points: int,
             large_points: int, steps: int, lr: float = 0.01) -> dict:
    """Train :class:`MaskedMLPEnsemble` ``(2, widths, seeds, depth)`` on the bump and measure each member.

    Adam with step ``lr`` for ``steps`` full-batch updates on the square loss
    over :func:`bump_data` ``(points)`` (:func:`dltheory.train.fit_ensemble`).
    Then, for every member: ``sup`` and ``l1``, :func:`dltheory.universality.grid_errors`
    on the ``eval_points`` grid of :math:`[-1, 1]^2`; ``center``, :math:`F(0)`;
    ``level``, :func:`level` on that grid; ``components`` and ``bounded``, the
    components of :math:`\\{F > c\\}` on the ``large_points`` grid of
    :math:`[-4, 4]^2` and those that do not reach its boundary
    (:func:`dltheory.universality.superlevel_components`). A member whose range
    on the box is below :math:`10^{-9}` (a constant network) gets level NaN
    and no components. ``model`` is the trained ensemble.
    """
    steps = check_int(steps, "steps", min=1)
    model = MaskedMLPEnsemble(2, widths, seeds, depth)
    X, y = bump_data(check_int(points, "points", min=2))
    train.fit_ensemble(model, X, y, loss="square", optimizer="adam", lr=check_real(lr, "lr", min=0.0, min_open=True),
                       steps=steps, record_every=steps)
    Xe, fe = bump_data(check_int(eval_points, "eval_points", min=3))
    Xl, _ = bump_data(check_int(large_points, "large_points", min=3), half_width=LARGE_BOX)
    with torch.no_grad():
        F, FL = model(Xe).numpy(), model(Xl).numpy()
    errors = universality.grid_errors(F, fe, d=2, half_width=BOX)
    S = model.ensemble_size
    out = {"widths": np.asarray(model.widths), "sup": errors["sup"], "l1": errors["l1"],
           "center": F[:, (eval_points**2) // 2], "level": np.full(S, np.nan),
           "components": np.zeros(S, dtype=int), "bounded": np.zeros(S, dtype=int), "model": model}
    for k in range(S):
        if F[k].max() - F[k].min() < 1e-9:
            continue
        c = level(F[k])
        comps = universality.superlevel_components(FL[k].reshape(large_points, large_points), c)
        out["level"][k], out["components"][k], out["bounded"][k] = c, comps.count, comps.bounded
    return out


def depth_sweep(widths: Sequence[int], depths: Sequence[int], seeds: Sequence[int], **kwargs) -> dict:
    """:func:`fit_bump` for every depth, with every width and seed in one ensemble per depth.

    Returns arrays of shape ``(len(widths), len(depths), len(seeds))`` for
    ``sup``, ``l1``, ``center``, ``level``, ``components`` and ``bounded``,
    and ``models``, the trained ensemble of each depth (members ordered width-major).
    """
    widths, depths, seeds = list(widths), list(depths), list(seeds)
    if not widths or not depths or not seeds:
        raise ValueError("depth_sweep needs at least one width, depth and seed")
    W, D, S = len(widths), len(depths), len(seeds)
    keys = ("sup", "l1", "center", "level", "components", "bounded")
    out = {key: np.zeros((W, D, S), dtype=int if key in ("components", "bounded") else float) for key in keys}
    out["models"] = []
    for j, L in enumerate(depths):
        fit = fit_bump([m for m in widths for _ in seeds], [s for _ in widths for s in seeds], L, **kwargs)
        for key in keys:
            out[key][:, j, :] = fit[key].reshape(W, S)
        out["models"].append(fit["model"])
    out.update(widths=np.asarray(widths), depths=np.asarray(depths))
    return out


def grid_values(net: nn.Module, half_width: float, points: int) -> np.ndarray:
    """``net`` on the ``points`` x ``points`` grid of :math:`[-a, a]^2`, as an array of that shape.

    Axis 0 runs along :math:`x_1`, axis 1 along :math:`x_2` (:func:`dltheory.universality.box_grid`).
    """
    points = check_int(points, "points", min=2)
    X = universality.box_grid(2, half_width, points, dtype=next(net.parameters()).dtype)
    with torch.no_grad():
        return net(X).reshape(points, points).cpu().numpy()
