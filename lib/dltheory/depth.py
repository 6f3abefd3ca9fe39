"""Depth separation in one dimension: the tent-map network, exact piece counting, the L1 lower bound.

A ReLU network :math:`f : \\mathbb R \\to \\mathbb R` is continuous and
piecewise linear. On an interval :math:`[a, b]` this module finds **every**
breakpoint of such a network exactly (up to float64 rounding), not on a grid
that can miss small pieces: the breakpoints are propagated layer by layer
(:func:`piecewise_linear`). Inside one piece of the partition reached after
layer :math:`l - 1`, every pre-activation of layer :math:`l` is affine in
:math:`x`, so each unit crosses zero at most once there, at a point found by
linear interpolation between the piece's ends; adding those points gives the
partition after layer :math:`l`. The counts this gives:

* ``regions``: the intervals of constant activation pattern met along
  :math:`[a, b]`; at most :math:`\\prod_l (m_l + 1)` for hidden widths
  :math:`m_l` (each unit adds at most one point per piece), hence at most
  :math:`(m + 1)^L \\le (2m)^L` for :math:`L` hidden layers of width :math:`m`,
  the bound of Telgarsky (2016) for ReLU networks (:func:`piece_bound`);
* ``pieces``: the maximal intervals on which :math:`f` is affine (adjacent
  regions with the same slope merged), the number in Telgarsky's statements.

:func:`tent_network` is the construction of Telgarsky (2016): a network of
width two and depth :math:`k` that computes the :math:`k`-fold tent map
:math:`t^k` (:func:`dltheory.data.tent_map`), a sawtooth with :math:`2^k`
pieces, exactly. It is chapter 2's square-wave network
(:func:`dltheory.models.square_wave_network`, the same folds) with its readout
turned round. :func:`l1_distance` integrates :math:`|f - g|` exactly for two
piecewise-linear functions, and :func:`l1_lower_bound` is the floor
:math:`\\int_0^1 |t^k - g| \\ge \\tfrac14\\bigl(1 - (p - 1)/2^{k-1}\\bigr)` that
every :math:`g` with :math:`p` affine pieces obeys (derived in the book's
depth-separation section).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._checks import check_int, check_interval, check_module
from .models.dense import dense_layers
from .models.tied import square_wave_network

__all__ = ["PiecewiseLinear", "piecewise_linear", "count_pieces", "tent_network", "tent_function",
           "piece_bound", "telgarsky_bound", "l1_distance", "l1_lower_bound"]

#: Two adjacent slopes count as equal (one affine piece) when they differ by at most this, relative.
SLOPE_RTOL = 1e-9


@dataclass(frozen=True)
class PiecewiseLinear:
    """A continuous piecewise-linear function on :math:`[x_0, x_N]`, given by its knots.

    Attributes
    ----------
    x
        Knots :math:`x_0 < x_1 < \\dots < x_N` (float64 array of shape ``(N + 1,)``),
        every breakpoint among them.
    y
        Values :math:`f(x_i)`, shape ``(N + 1,)``.
    slopes
        The slope of :math:`f` on each of the :math:`N` intervals, shape ``(N,)``.
        :func:`piecewise_linear` computes them by forward-mode differentiation
        at the intervals' midpoints, not as difference quotients, so a tiny
        interval still gets its exact slope.
    """

    x: np.ndarray
    y: np.ndarray
    slopes: np.ndarray

    @classmethod
    def from_knots(cls, x, y) -> PiecewiseLinear:
        """From knots and values; the slopes are the difference quotients."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
            raise ValueError(f"x and y must be 1-d of the same length >= 2, got shapes {x.shape} and {y.shape}")
        if not np.all(np.diff(x) > 0):
            raise ValueError("the knots x must be strictly increasing")
        return cls(x, y, np.diff(y) / np.diff(x))

    @property
    def interval(self) -> tuple[float, float]:
        return float(self.x[0]), float(self.x[-1])

    @property
    def regions(self) -> int:
        """The number of intervals between knots (for a network: the activation regions met)."""
        return len(self.x) - 1

    def kinks(self) -> np.ndarray:
        """The interior knots where the slope really changes (relative tolerance :data:`SLOPE_RTOL`)."""
        s = self.slopes
        scale = np.maximum(np.maximum(np.abs(s[1:]), np.abs(s[:-1])), 1e-300)
        change = np.abs(s[1:] - s[:-1]) > SLOPE_RTOL * scale
        return self.x[1:-1][change]

    @property
    def pieces(self) -> int:
        """The number of maximal intervals on which the function is affine."""
        return len(self.kinks()) + 1

    def __call__(self, t) -> np.ndarray:
        return np.interp(np.asarray(t, dtype=np.float64), self.x, self.y)


def _activation(module: nn.Module):
    """The piecewise-linear activation as (function, derivative) on float64 arrays."""
    if isinstance(module, nn.ReLU):
        return (lambda z: np.maximum(z, 0.0)), (lambda z: (z > 0).astype(np.float64))
    if isinstance(module, nn.LeakyReLU):
        c = float(module.negative_slope)
        return (lambda z: np.where(z > 0, z, c * z)), (lambda z: np.where(z > 0, 1.0, c))
    if isinstance(module, nn.Identity):
        return (lambda z: z), (lambda z: np.ones_like(z))
    raise ValueError(f"{type(module).__name__} is not piecewise linear with one kink at 0: piece counting "
                     "needs ReLU, LeakyReLU or Identity activations")


def _layers(model: nn.Module):
    """``[(W, b, [(act, dact), ...]), ...]`` as float64 NumPy arrays, from :func:`dltheory.models.dense_layers`."""
    chain = dense_layers(check_module(model))
    if chain.in_features != 1 or chain.out_features != 1:
        raise ValueError(f"piece counting is for networks R -> R; this one maps R^{chain.in_features} -> "
                         f"R^{chain.out_features}")
    out = []
    with torch.no_grad():
        for layer in chain:
            W = layer.weight.detach().to("cpu", torch.float64).numpy()
            b = np.zeros(W.shape[0]) if layer.bias is None else layer.bias.detach().to("cpu", torch.float64).numpy()
            out.append((W, b, [_activation(a) for a in layer.activations]))
    return out


def _insert_zeros(x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add to the knots ``x`` every point where a column of ``z`` (affine between knots) changes sign."""
    z0, z1 = z[:-1], z[1:]
    piece, unit = np.nonzero(z0 * z1 < 0)
    if len(piece) == 0:
        return x, z
    t = z0[piece, unit] / (z0[piece, unit] - z1[piece, unit])
    xr = x[piece] + t * (x[piece + 1] - x[piece])
    zr = z[piece] + t[:, None] * (z[piece + 1] - z[piece])
    zr[np.arange(len(piece)), unit] = 0.0
    x_all, z_all = np.concatenate([x, xr]), np.concatenate([z, zr])
    order = np.argsort(x_all, kind="stable")
    x_all, z_all = x_all[order], z_all[order]
    keep = np.concatenate([[True], np.diff(x_all) > 0])
    return x_all[keep], z_all[keep]


def _forward_with_slope(layers, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`f(x)` and :math:`f'(x)` by forward-mode differentiation, for points inside pieces."""
    h, dh = x[:, None], np.ones((len(x), 1))
    for W, b, acts in layers:
        h, dh = h @ W.T + b, dh @ W.T
        for act, dact in acts:
            d = dact(h)
            h, dh = act(h), dh * d
    return h[:, 0], dh[:, 0]


def piecewise_linear(model: nn.Module, interval=(0.0, 1.0)) -> PiecewiseLinear:
    """The network :math:`f : \\mathbb R \\to \\mathbb R` on ``interval`` as a :class:`PiecewiseLinear`, every breakpoint found.

    ``model`` is a feed-forward chain read by :func:`dltheory.models.dense_layers`
    (``nn.Linear``/``NTKLinear`` layers with ReLU, LeakyReLU or Identity
    activations), with one input and one output.

    The knots are propagated layer by layer: starting from :math:`\\{a, b\\}`,
    the pre-activations of a layer are evaluated at the current knots; since
    they are affine between consecutive knots, a unit whose pre-activation
    changes sign between :math:`x_i` and :math:`x_{i+1}` crosses zero exactly
    once there, at :math:`x_i + (x_{i+1} - x_i)\\,z_i/(z_i - z_{i+1})`, which
    becomes a knot (every other unit's value there is interpolated, which is
    exact for the same reason). After the activation, every layer output is
    again affine between knots. A unit that is zero exactly at a knot adds
    nothing new. Cost: one pass per layer over the knots; for the tent network
    of depth 20 (about a million knots) a few seconds.

    Returns the knots, the values there, and each interval's slope from
    forward-mode differentiation at its midpoint.
    """
    a, b = check_interval(interval)
    layers = _layers(model)
    x = np.array([a, b])
    h = x[:, None]
    for W, bias, acts in layers:
        z = h @ W.T + bias
        for act, _ in acts:
            x, z = _insert_zeros(x, z)
            z = act(z)
        h = z
    mid = 0.5 * (x[:-1] + x[1:])
    _, slopes = _forward_with_slope(layers, mid)
    return PiecewiseLinear(x, h[:, 0].copy(), slopes)


def count_pieces(model: nn.Module, interval=(0.0, 1.0)) -> int:
    """The number of affine pieces of the network on ``interval``: ``piecewise_linear(model, interval).pieces``."""
    return piecewise_linear(model, interval).pieces


def tent_network(k: int, *, dtype: torch.dtype = torch.float64, device=None) -> nn.Sequential:
    """Telgarsky's construction: a ReLU network of width 2 and depth ``k`` computing :math:`t^k` on :math:`[0, 1]`.

    With :math:`s_1 = 2x - 1` and :math:`s_{j+1} = 2\\,(\\mathrm{relu}(s_j) + \\mathrm{relu}(-s_j)) - 1 = 2|s_j| - 1`
    (the folds of :func:`dltheory.models.square_wave_network` on :math:`[0, 1]`),
    :math:`s_{j+1} = 1 - 2t^j(x)`, so :math:`t^k(x) = 1 - |s_k|`: the readout
    weights are :math:`(-1, -1)` and its bias :math:`1`. Every weight is a power
    of two, so in float64 the network equals :func:`dltheory.data.tent_map`
    exactly at dyadic points and to rounding elsewhere. It has :math:`k` hidden
    layers of two units and :math:`6k + 1` parameters (as a plain, untied
    ``nn.Sequential``); :math:`t^k` has :math:`2^k` affine pieces.
    """
    k = check_int(k, "k", min=1)
    net = square_wave_network(k, interval=(0.0, 1.0), dtype=dtype, device=device).member(0)
    with torch.no_grad():
        net[-1].weight.fill_(-1.0)
        net[-1].bias.fill_(1.0)
    return net


def tent_function(k: int) -> PiecewiseLinear:
    """:math:`t^k` on :math:`[0, 1]` in closed form: knots :math:`j/2^k`, values alternating 0 and 1, slopes :math:`\\pm 2^k`."""
    k = check_int(k, "k", min=0)
    n = 2**k
    x = np.arange(n + 1, dtype=np.float64) / n
    y = (np.arange(n + 1) % 2).astype(np.float64) if k else np.array([0.0, 1.0])
    return PiecewiseLinear.from_knots(x, y)


def piece_bound(widths: Sequence[int]) -> int:
    """:math:`\\prod_l (m_l + 1)`: the most activation regions a ReLU network with hidden widths ``widths`` has on a line.

    Each of the :math:`m_l` units of layer :math:`l` crosses zero at most once
    inside each region reached before it, so a region splits into at most
    :math:`m_l + 1`. Hence also the most affine pieces.
    """
    widths = [check_int(m, "width", min=1) for m in widths]
    return math.prod(m + 1 for m in widths)


def telgarsky_bound(width: int, depth: int) -> int:
    """:math:`(2m)^L`, Telgarsky's (2016) bound on the affine pieces of a ReLU network with ``depth`` hidden layers of ``width`` units.

    It follows from his lemmas on sums and compositions of piecewise-polynomial
    functions with a ReLU of two pieces; :func:`piece_bound` is the sharper
    :math:`(m + 1)^L` that the layer-by-layer argument gives.
    """
    return (2 * check_int(width, "width", min=1)) ** check_int(depth, "depth", min=0)


def _abs_linear_integral(d0: np.ndarray, d1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:math:`\\int_0^w |d_0 + (d_1 - d_0) s/w|\\,ds` for each interval, in closed form."""
    same = d0 * d1 >= 0
    a0, a1 = np.abs(d0), np.abs(d1)
    total = a0 + a1
    crossing = np.divide(d0**2 + d1**2, 2 * total, out=np.zeros_like(total), where=total > 0)
    return w * np.where(same, 0.5 * total, crossing)


def l1_distance(f: PiecewiseLinear, g: PiecewiseLinear) -> float:
    """:math:`\\int_a^b |f - g|` exactly, for two piecewise-linear functions on the same interval :math:`[a, b]`.

    On the union of both functions' knots the difference :math:`d` is affine
    between consecutive knots; :math:`\\int |d|` over such an interval of width
    :math:`w` is :math:`w(|d_0| + |d_1|)/2` if :math:`d` keeps its sign, and
    :math:`w(d_0^2 + d_1^2)/(2(|d_0| + |d_1|))` if it crosses zero.
    """
    if not (isinstance(f, PiecewiseLinear) and isinstance(g, PiecewiseLinear)):
        raise TypeError("l1_distance takes two PiecewiseLinear functions (from piecewise_linear or tent_function)")
    if not np.allclose(f.interval, g.interval, rtol=0, atol=1e-12):
        raise ValueError(f"the functions live on different intervals, {f.interval} and {g.interval}")
    x = np.union1d(f.x, g.x)
    x = x[np.concatenate([[True], np.diff(x) > 1e-15])]
    d = f(x) - g(x)
    return float(_abs_linear_integral(d[:-1], d[1:], np.diff(x)).sum())


def l1_lower_bound(k: int, pieces: int) -> float:
    """:math:`\\max\\{0, \\tfrac14 (1 - (p - 1)/2^{k-1})\\}`: the least :math:`\\int_0^1 |t^k - g|` for :math:`g` with :math:`p` affine pieces.

    :math:`t^k` has :math:`2^{k-1}` teeth of width :math:`w = 2^{1-k}`. The
    :math:`p - 1` breakpoints of :math:`g` fall inside at most :math:`p - 1`
    teeth, so :math:`g` is affine on at least :math:`2^{k-1} - (p - 1)` whole
    teeth, and no affine function comes closer than :math:`w/4` to a tooth in
    :math:`L^1` (the best is the constant :math:`\\tfrac12`, the median of the
    tooth's values). A network with one hidden layer of :math:`m` ReLU units
    has :math:`p \\le m + 1`. Compare Telgarsky (2016), whose counting argument
    gives a constant floor for networks of bounded depth.
    """
    k, pieces = check_int(k, "k", min=1), check_int(pieces, "pieces", min=1)
    return max(0.0, 0.25 * (1.0 - (pieces - 1) / 2 ** (k - 1)))
