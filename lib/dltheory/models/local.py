"""Locally connected layers and deep networks with the structure of a binary tree.

Locality without weight sharing (:class:`LocallyConnected2d`) is what the
approximation theorem for compositional functions needs (Mhaskar, Liao, Poggio
2016); :class:`TreeNetwork` mirrors the binary-tree target
:func:`dltheory.data.binary_tree_target` node for node.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_bool, check_int
from .mlp import seeded

__all__ = ["LocallyConnected2d", "TreeNetwork", "tree_parameter_count"]


def _pair(value: int | Sequence[int], name: str, minimum: int) -> tuple[int, int]:
    """``value`` as a pair of integers ``>= minimum`` (an integer stands for both)."""
    items = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != 2:
        raise ValueError(f"{name} must be an integer or a pair of them, got {value!r}")
    return check_int(items[0], name, min=minimum), check_int(items[1], name, min=minimum)


class LocallyConnected2d(nn.Module):
    """A layer shaped like ``nn.Conv2d`` but with its own filter at every output location.

    For an input :math:`x` of shape ``(n, C, H, W)`` (zero-padded by ``padding``
    on each side), kernel :math:`(k_h, k_w)` and stride :math:`(s_h, s_w)`, the
    output has the shape ``nn.Conv2d`` would give,
    :math:`H' = \\lfloor (H + 2p_h - k_h)/s_h \\rfloor + 1` (likewise :math:`W'`), and

    .. math::  y_{n, o, i, j} = b_{o, i, j} + \\sum_{c, a, b} W_{i, j, o, c, a, b}\\,
               x_{n, c,\\, s_h i + a,\\, s_w j + b}.

    A convolution is the special case :math:`W_{i, j} = K` for every location
    :math:`(i, j)` (and :math:`b_{o, i, j} = b_o`): the weights are *shared*.
    Without sharing the layer keeps the *locality* of a convolution, each output
    seeing only a :math:`k_h \\times k_w` window, at :math:`H' W'` times the
    parameters. This is the architecture of the deep networks in Mhaskar, Liao,
    Poggio 2016 (*When and why are deep networks better than shallow ones?*),
    whose theorem needs locality, not sharing.

    Implementation: the patches (the im2col matrix of ``torch.nn.functional.unfold``)
    are taken as a strided view, ``x.unfold(2, k_h, s_h).unfold(3, k_w, s_w)``, of
    shape ``(n, C, H', W', k_h, k_w)``, and multiplied by each location's filter
    in one batched matrix product (``torch.bmm`` over the :math:`H' W'`
    locations). The view holds the same numbers as ``F.unfold`` (see
    :meth:`patches`) but copies nothing until the product, which on a CPU makes
    the small layers of :class:`TreeNetwork` several times faster than
    ``F.unfold`` followed by ``torch.einsum``.

    Parameters
    ----------
    in_channels, out_channels
        :math:`C` and the number of output channels.
    in_size
        :math:`(H, W)`, the spatial size of the input (an integer for a square one);
        the weights depend on it, since there is one filter per output location.
    kernel_size, stride, padding
        As in ``nn.Conv2d`` (integers or pairs; zero padding). Dilation and
        groups are not supported.
    bias
        Learn a bias :math:`b_{o,i,j}` per output channel and location.

    Attributes
    ----------
    weight
        Shape ``(H', W', out_channels, in_channels, k_h, k_w)``.
    bias
        Shape ``(out_channels, H', W')`` or ``None``.

    Initialisation: every entry uniform on :math:`[-1/\\sqrt{C k_h k_w}, 1/\\sqrt{C k_h k_w}]`,
    the distribution of ``nn.Conv2d``'s default initialisation, location by location.
    """

    def __init__(self, in_channels: int, out_channels: int, in_size: int | Sequence[int],
                 kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                 padding: int | Sequence[int] = 0, bias: bool = True, *,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", min=1)
        self.out_channels = check_int(out_channels, "out_channels", min=1)
        self.in_size = _pair(in_size, "in_size", 1)
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        out = []
        for size, k, s, p in zip(self.in_size, self.kernel_size, self.stride, self.padding):
            if size + 2 * p < k:
                raise ValueError(f"kernel_size {self.kernel_size} does not fit in the input of size {self.in_size} "
                                 f"padded by {self.padding}")
            out.append((size + 2 * p - k) // s + 1)
        self.out_size: tuple[int, int] = (out[0], out[1])
        kh, kw = self.kernel_size
        self.weight = nn.Parameter(torch.empty(*self.out_size, out_channels, in_channels, kh, kw,
                                               device=device, dtype=dtype))
        self.bias = (nn.Parameter(torch.empty(out_channels, *self.out_size, device=device, dtype=dtype))
                     if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: torch.Tensor) -> None:
        expected = f"a batch of shape (n, {self.in_channels}, {self.in_size[0]}, {self.in_size[1]})"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"LocallyConnected2d expects {expected}, got {type(x).__name__}")
        if x.ndim != 4:
            raise ValueError(f"LocallyConnected2d expects {expected}, got {tuple(x.shape)}")
        if tuple(x.shape[1:]) != (self.in_channels, *self.in_size):
            raise ValueError(f"LocallyConnected2d was built for inputs (n, {self.in_channels}, {self.in_size[0]}, "
                             f"{self.in_size[1]}) (one filter per location), got {tuple(x.shape)}")

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The input windows, shape ``(n, C, H', W', k_h, k_w)``: a view of the padded input.

        ``patches(x).permute(0, 1, 4, 5, 2, 3).reshape(n, C * k_h * k_w, H' * W')``
        is ``F.unfold(x, kernel_size, padding=padding, stride=stride)``.
        """
        self._check_input(x)
        ph, pw = self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph))
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return x.unfold(2, kh, sh).unfold(3, kw, sw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.patches(x)  # (n, C, H', W', k_h, k_w)
        n, (oh, ow), locations = x.shape[0], self.out_size, self.out_size[0] * self.out_size[1]
        # one (n x C k_h k_w) @ (C k_h k_w x out_channels) product per location, batched over locations
        columns = patches.permute(2, 3, 0, 1, 4, 5).reshape(locations, n, -1)
        filters = self.weight.reshape(locations, self.out_channels, -1)
        out = torch.bmm(columns, filters.transpose(1, 2))  # (H' W', n, out_channels)
        if self.bias is not None:
            out = out + self.bias.reshape(self.out_channels, locations).T.unsqueeze(1)
        return out.permute(1, 2, 0).reshape(n, self.out_channels, oh, ow)

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d, in_size: int | Sequence[int]) -> LocallyConnected2d:
        """The locally connected layer with ``conv``'s filter (and bias) copied to every location.

        Its output equals ``conv(x)`` on inputs of spatial size ``in_size``; the
        copies are independent parameters, so training can untie them.
        """
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"from_conv2d needs an nn.Conv2d, got {type(conv).__name__}")
        if conv.groups != 1 or tuple(conv.dilation) != (1, 1) or conv.padding_mode != "zeros":
            raise ValueError("from_conv2d supports convolutions with groups=1, dilation=1 and zero padding only")
        if isinstance(conv.padding, str):
            raise ValueError(f"from_conv2d needs numeric padding, got padding={conv.padding!r}")
        weight = conv.weight.detach()
        layer = cls(conv.in_channels, conv.out_channels, in_size, conv.kernel_size, conv.stride, conv.padding,
                    bias=conv.bias is not None, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight.expand_as(layer.weight))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias.detach()[:, None, None].expand_as(layer.bias))
        return layer

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, in_size={self.in_size}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class TreeNetwork(nn.Module):
    """A deep network with the structure of a binary tree (Mhaskar, Liao, Poggio 2016).

    The input :math:`x \\in \\mathbb{R}^{2^L}` (``L = depth``) is read as a row of
    :math:`2^L` pixels, a tensor ``(n, 1, 1, 2^L)``. Level :math:`l = 1, \\dots, L`
    has :math:`2^{L-l}` nodes; node :math:`j` is a one-hidden-layer ReLU network
    on the outputs of its two children :math:`2j, 2j+1` of level :math:`l-1`,

    .. math::  v_{l,j} = A_{l,j}\\,\\mathrm{ReLU}\\big(B_{l,j} [v_{l-1,2j}; v_{l-1,2j+1}] + c_{l,j}\\big) + a_{l,j},

    with ``hidden`` = :math:`m` hidden units and :math:`v_{l,j} \\in \\mathbb{R}^{c}`
    (``channels`` = :math:`c` numbers passed up; the root outputs one number,
    and the leaves :math:`v_{0,k} = x_k` are single numbers). This mirrors the
    target :func:`dltheory.data.binary_tree_target`, each node standing for one
    constituent :math:`h`, so node :math:`(l, j)` depends only on the
    :math:`2^l` inputs of its subtree.

    A level is ``Sequential(B, ReLU, A)``: ``B`` has kernel ``(1, 2)`` and stride
    ``(1, 2)`` (a node sees its two children), ``A`` kernel ``(1, 1)``. With
    ``shared=False`` both are :class:`LocallyConnected2d` (every node has its
    own weights); with ``shared=True`` they are ``nn.Conv2d`` (all nodes of a
    level share them). :meth:`untied` turns the second into the first.

    ``levels[l - 1]`` applied to ``(n, c, 1, 2^{L-l+1})`` computes level
    :math:`l`, but :meth:`forward` evaluates the same maps node-major: the
    values of a level are a tensor ``(nodes, n, c)``, a node's two children
    are one row of :math:`2c` features, and a level is one batched matrix
    product over its nodes (``torch.baddbmm``; one ``F.linear`` when shared).
    This skips the layout changes of the general layers and ``Conv2d``'s
    kernels, which for these tiny per-node maps cost more than the arithmetic:
    training is about 1.5x (untied) to 3x (shared) faster on a CPU, with the
    same values (tested).

    Parameters: :func:`tree_parameter_count`. Input ``(n, 2^L)``, output ``(n, 1)``.
    """

    def __init__(self, depth: int, hidden: int, channels: int = 1, *, shared: bool = False,
                 seed: int | None = None, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        self.depth = check_int(depth, "depth", min=1)
        self.hidden = check_int(hidden, "hidden", min=1)
        self.channels = check_int(channels, "channels", min=1)
        self.shared = check_bool(shared, "shared")

        def build() -> nn.ModuleList:
            levels = []
            for level in range(1, depth + 1):
                c_in, c_out = self._level_channels(level)
                width = 2 ** (depth - level + 1)  # inputs to this level
                if shared:
                    mix = nn.Conv2d(c_in, hidden, (1, 2), stride=(1, 2), dtype=dtype)
                    out = nn.Conv2d(hidden, c_out, (1, 1), dtype=dtype)
                else:
                    mix = LocallyConnected2d(c_in, hidden, (1, width), (1, 2), stride=(1, 2), dtype=dtype)
                    out = LocallyConnected2d(hidden, c_out, (1, width // 2), (1, 1), dtype=dtype)
                levels.append(nn.Sequential(mix, nn.ReLU(), out))
            return nn.ModuleList(levels)

        self.levels = seeded(build, seed, device)

    def _level_channels(self, level: int) -> tuple[int, int]:
        """Numbers per node coming in from each child and going out, at ``level`` (1..L)."""
        return (1 if level == 1 else self.channels), (1 if level == self.depth else self.channels)

    def _check_input(self, x: torch.Tensor) -> None:
        expected = f"a TreeNetwork of depth {self.depth} expects inputs of shape (n, {2**self.depth})"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{expected}, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != 2**self.depth:
            raise ValueError(f"{expected}, got {tuple(x.shape)}")

    def node_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs :math:`v_{l,j}` of every level, ``(n, c_l, 1, 2^{L-l})`` for ``l = 1..L``."""
        self._check_input(x)
        v, outputs = x.T.unsqueeze(2), []  # node-major: (2^L, n, 1), leaf k holds x_k
        for mix, relu, out in self.levels:
            nodes, n, c = v.shape
            # node j of the next level reads children 2j, 2j+1 as features (c, child), the order of B's kernel
            children = v.reshape(nodes // 2, 2, n, c).permute(0, 2, 3, 1).reshape(nodes // 2, n, 2 * c)
            v = _per_node(out, relu(_per_node(mix, children)))
            outputs.append(v.permute(1, 2, 0).unsqueeze(2))
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.node_outputs(x)[-1].reshape(x.shape[0], 1)

    def untied(self) -> TreeNetwork:
        """A copy without weight sharing: every convolution becomes a :class:`LocallyConnected2d`.

        The copy computes the same function (each node gets its own copy of the
        shared filter); a network that is already untied is simply copied.
        """
        clone = copy.deepcopy(self)
        if self.shared:
            for level, (mix, _, out) in enumerate(clone.levels, start=1):
                width = 2 ** (self.depth - level + 1)  # inputs to this level
                clone.levels[level - 1][0] = LocallyConnected2d.from_conv2d(mix, (1, width))
                clone.levels[level - 1][2] = LocallyConnected2d.from_conv2d(out, (1, width // 2))
            clone.shared = False
        return clone

    def extra_repr(self) -> str:
        return f"depth={self.depth}, hidden={self.hidden}, channels={self.channels}, shared={self.shared}"


def _per_node(layer: nn.Module, v: torch.Tensor) -> torch.Tensor:
    """A level's layer (kernel and stride equal, one window per node) on node-major values ``(nodes, n, features)``.

    Returns ``(nodes, n, out_channels)``: node :math:`j`'s filter (the shared one
    for ``nn.Conv2d``) applied to row :math:`j`, whose features are ordered
    like the flattened kernel ``(channel, k_h, k_w)``.
    """
    if isinstance(layer, LocallyConnected2d):
        nodes = v.shape[0]
        filters = layer.weight.reshape(nodes, layer.out_channels, -1)
        bias = layer.bias.reshape(layer.out_channels, nodes).T.unsqueeze(1)
        return torch.baddbmm(bias, v, filters.transpose(1, 2))
    return F.linear(v, layer.weight.reshape(layer.out_channels, -1), layer.bias)


def tree_parameter_count(depth: int, hidden: int, channels: int = 1, shared: bool = False) -> int:
    """Parameters of :class:`TreeNetwork` ``(depth, hidden, channels, shared=shared)``.

    A node of level :math:`l` with :math:`c_{in}` numbers from each child and
    :math:`c_{out}` going up has :math:`(2 c_{in} + 1) m + (m + 1) c_{out}`
    parameters, with :math:`c_{in} = 1` at level 1, :math:`c_{out} = 1` at the
    root and :math:`c` otherwise. Without sharing every one of the :math:`2^{L-l}`
    nodes of a level has its own; with sharing each level has one set.
    """
    depth, hidden, channels = (check_int(v, k, min=1) for v, k in ((depth, "depth"), (hidden, "hidden"),
                                                                   (channels, "channels")))
    total = 0
    for level in range(1, depth + 1):
        c_in = 1 if level == 1 else channels
        c_out = 1 if level == depth else channels
        per_node = (2 * c_in + 1) * hidden + (hidden + 1) * c_out
        total += per_node * (1 if shared else 2 ** (depth - level))
    return total
