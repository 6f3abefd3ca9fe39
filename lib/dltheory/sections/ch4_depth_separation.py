"""The glue of ``book/4-mathematical-theories/depth-separation.ipynb``: pieces, shallow fits, deep fits.

The science (exact piece counting, the tent network, exact L1 distances and the
L1 floor) is in :mod:`dltheory.depth`. This module holds the notebook's
protocols:

* :func:`random_pieces`: the affine pieces on :math:`[0, 1]` of random ReLU
  networks (He initialisation with random biases) over a grid of depths;
* :class:`ShallowEnsemble` and :func:`shallow_fits`: one-hidden-layer networks
  trained on :math:`t^k`, many seeds as one batched model, and their exact
  :math:`L^1` errors and piece counts;
* :func:`deep_fits`: width-two networks of depth :math:`k` (chapter 2's
  :class:`~dltheory.models.PairNetwork`) trained on the same target;
* :func:`pieces_panel` and :func:`pieces_explorer`: a static slider over the
  composition depth :math:`k`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import data, depth, models, train
from .._checks import check_int, check_real, check_seed
from ..widgets import Panel, static_explorer

__all__ = ["random_network", "random_pieces", "ShallowEnsemble", "tent_data", "shallow_fits", "deep_fits",
           "pieces_panel", "pieces_explorer"]

#: The variance of the random networks' biases (weights: He, variance 2/fan-in).
BIAS_VAR = 0.1


def random_network(width: int, layers: int, *, seed: int) -> nn.Sequential:
    """A random ReLU network :math:`\\mathbb R \\to \\mathbb R` with ``layers`` hidden layers of ``width`` units.

    :func:`dltheory.models.mlp` in the NTK parametrisation with
    ``weight_var=2`` (He's variance, :math:`2/\\text{fan-in}`) and biases of
    variance :data:`BIAS_VAR`, as in Hanin & Rolnick (2019), in float64.
    """
    width, layers = check_int(width, "width", min=1), check_int(layers, "layers", min=1)
    return models.mlp([1] + [width] * layers + [1], parametrization="ntk", weight_var=2.0, bias_var=BIAS_VAR,
                      seed=check_seed(seed), dtype=torch.float64)


def random_pieces(width: int, depths: Sequence[int], seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """Exact affine pieces on :math:`[0, 1]` of :func:`random_network` for every depth and seed.

    Returns ``depths`` ``(D,)``, ``pieces`` ``(len(seeds), D)``, ``neurons``
    :math:`mL` ``(D,)`` and ``bound`` :math:`(2m)^L` ``(D,)`` (float, it overflows int64 early).
    """
    depths = [check_int(L, "depth", min=1) for L in depths]
    seeds = [check_seed(s) for s in seeds]
    if not depths or not seeds:
        raise ValueError("random_pieces needs at least one depth and one seed")
    pieces = np.array([[depth.count_pieces(random_network(width, L, seed=s)) for L in depths] for s in seeds])
    return {"depths": np.asarray(depths), "pieces": pieces, "neurons": width * np.asarray(depths),
            "bound": np.array([float(depth.telgarsky_bound(width, L)) for L in depths])}


class ShallowEnsemble(nn.Module):
    """:math:`S` networks :math:`x \\mapsto v^\\top \\mathrm{relu}(w x + b) + c` with ``width`` units, as one batched model.

    Member :math:`s` starts as ``models.mlp([1, width, 1], seed=seeds[s])``
    (PyTorch's default initialisation), so :meth:`member` after no training is
    exactly that network. ``forward`` maps ``(n, 1)`` inputs to ``(S, n)``
    outputs, the shape :func:`dltheory.train.fit_ensemble` trains.
    """

    def __init__(self, width: int, seeds: Sequence[int], *, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.width = check_int(width, "width", min=1)
        self.seeds = [check_seed(s) for s in seeds]
        if not self.seeds:
            raise ValueError("seeds must name at least one member")
        nets = [models.mlp([1, self.width, 1], seed=s, dtype=dtype) for s in self.seeds]
        self.w = nn.Parameter(torch.stack([n[0].weight.detach()[:, 0] for n in nets]))
        self.b = nn.Parameter(torch.stack([n[0].bias.detach() for n in nets]))
        self.v = nn.Parameter(torch.stack([n[2].weight.detach()[0] for n in nets]))
        self.c = nn.Parameter(torch.stack([n[2].bias.detach()[0] for n in nets]))

    @property
    def ensemble_size(self) -> int:
        return len(self.seeds)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        x = X.reshape(-1).to(self.w.dtype)
        hidden = torch.relu(x[None, :, None] * self.w[:, None, :] + self.b[:, None, :])  # (S, n, m)
        return (hidden * self.v[:, None, :]).sum(-1) + self.c[:, None]

    def member(self, s: int) -> nn.Sequential:
        """Member ``s`` as a plain ``nn.Sequential`` (a detached copy)."""
        s = check_int(s, "s", min=0, max=self.ensemble_size - 1)
        net = nn.Sequential(nn.Linear(1, self.width), nn.ReLU(), nn.Linear(self.width, 1)).to(self.w.dtype)
        with torch.no_grad():
            net[0].weight.copy_(self.w[s][:, None])
            net[0].bias.copy_(self.b[s])
            net[2].weight.copy_(self.v[s][None, :])
            net[2].bias.copy_(self.c[s : s + 1])
        return net


def tent_data(k: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` equally spaced points of :math:`[0, 1]` and :math:`t^k` there (:func:`dltheory.data.sawtooth`), float64."""
    return data.sawtooth(check_int(n, "n", min=2), iterations=check_int(k, "k", min=1), grid=True,
                         dtype=torch.float64)


def _summarise(model, k: int, size: int) -> dict[str, np.ndarray]:
    target = depth.tent_function(k)
    fns = [depth.piecewise_linear(model.member(s)) for s in range(size)]
    return {"l1": np.array([depth.l1_distance(f, target) for f in fns]),
            "pieces": np.array([f.pieces for f in fns])}


def shallow_fits(k: int, widths: Sequence[int], seeds: Sequence[int], *, n: int, steps: int,
                 lr: float = 0.01) -> dict[str, np.ndarray]:
    """Train one-hidden-layer networks on :math:`t^k` and measure them exactly.

    For every width, one :class:`ShallowEnsemble` over ``seeds`` is trained by
    :func:`dltheory.train.fit_ensemble` (Adam, full batch, square loss) on
    :func:`tent_data` ``(k, n)``. Returns ``widths`` ``(W,)``, ``l1``
    (:math:`\\int_0^1 |f - t^k|`, exact) and ``pieces`` of shape
    ``(len(seeds), W)``, and ``bound`` ``(W,)``, :func:`dltheory.depth.l1_lower_bound`
    with :math:`p = m + 1`.
    """
    widths = [check_int(m, "width", min=1) for m in widths]
    if not widths:
        raise ValueError("shallow_fits needs at least one width")
    X, y = tent_data(k, n)
    l1, pieces = np.zeros((len(seeds), len(widths))), np.zeros((len(seeds), len(widths)), dtype=int)
    for j, m in enumerate(widths):
        model = ShallowEnsemble(m, seeds)
        train.fit_ensemble(model, X, y, loss="square", optimizer="adam", lr=check_real(lr, "lr", min=0.0),
                           steps=check_int(steps, "steps", min=1), record_every=steps)
        out = _summarise(model, k, len(seeds))
        l1[:, j], pieces[:, j] = out["l1"], out["pieces"]
    bound = np.array([depth.l1_lower_bound(k, m + 1) for m in widths])
    return {"widths": np.asarray(widths), "l1": l1, "pieces": pieces, "bound": bound}


def deep_fits(k: int, seeds: Sequence[int], *, n: int, steps: int, lr: float = 0.01,
              tied: bool = False) -> dict[str, np.ndarray]:
    """Train width-two networks of depth ``k`` (:class:`dltheory.models.PairNetwork`) on :math:`t^k`.

    The architecture of :func:`dltheory.depth.tent_network`, from PyTorch's
    default initialisation, trained like :func:`shallow_fits`. Returns ``l1``
    and ``pieces``, one entry per seed.
    """
    k = check_int(k, "k", min=1)
    X, y = tent_data(k, n)
    model = models.PairNetwork(k, tied=tied, seeds=list(seeds), dtype=torch.float64)
    train.fit_ensemble(model, X, y, loss="square", optimizer="adam", lr=check_real(lr, "lr", min=0.0),
                       steps=check_int(steps, "steps", min=1), record_every=steps)
    return _summarise(model, k, model.ensemble_size)


def pieces_panel(k: int, *, width: int = 2, seed: int = 0) -> Panel:
    """The explorer's view at composition depth ``k``.

    Left: :math:`t^k` computed by :func:`dltheory.depth.tent_network` (width 2,
    depth :math:`k`) over a random network of the same shape
    (:func:`random_network`, width ``width``, ``seed``). Right: the best
    :math:`L^1` error a one-hidden-layer network with :math:`m` units can
    reach, at least :func:`dltheory.depth.l1_lower_bound` ``(k, m + 1)``,
    against :math:`m`, with the :math:`2k` units of the deep construction marked.

    Returns the figure and ``values``: ``k``, the pieces of the construction
    and of the random network, and :math:`2^{k-1}`, the fewest hidden units of
    one layer for which the floor is zero.
    """
    import matplotlib.pyplot as plt

    k = check_int(k, "k", min=1)
    construction = depth.piecewise_linear(depth.tent_network(k))
    random = depth.piecewise_linear(random_network(width, k, seed=seed))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(construction.x, construction.y, color="C0", linewidth=1,
              label=f"construction: {construction.pieces} pieces")
    r = random.y
    span = r.max() - r.min()
    left.plot(random.x, (r - r.min()) / (span if span > 0 else 1.0), color="C1", linewidth=1.5,
              label=f"random net, rescaled: {random.pieces} pieces")
    left.set(xlabel="$x$", ylabel="output", title=f"depth k = {k}, width 2", ylim=(-0.05, 1.3))
    left.legend(fontsize="small", loc="upper right")
    m = np.arange(1, 2**k + 1)
    floor = np.array([depth.l1_lower_bound(k, int(u) + 1) for u in m])
    right.plot(m, floor, color="C2", label=r"floor $\frac{1}{4}(1 - m/2^{k-1})$, one hidden layer")
    right.plot([2 * k], [0.0], "o", color="C0", markersize=8, label=f"depth-k construction: {2 * k} units, exact")
    right.set(xscale="log", xlabel="hidden units", ylabel=r"$\int_0^1 |t^k - g|$ at least",
              ylim=(-0.01, 0.27), title="what one hidden layer cannot do")
    right.legend(fontsize="small", loc="upper right")
    values = {"k": k, "construction pieces": construction.pieces, "random pieces": random.pieces,
              "shallow units for a zero floor": 2 ** (k - 1)}
    return Panel(fig, values)


def pieces_explorer(ks: Sequence[int], *, width: int = 2, seed: int = 0):
    """A static slider over the composition depths ``ks``, drawing :func:`pieces_panel` at each."""
    return static_explorer(lambda k: pieces_panel(k, width=width, seed=seed), k=tuple(int(k) for k in ks))
