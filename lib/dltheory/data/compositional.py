"""The hierarchically compositional target of deck 1: a binary tree of two-variable functions.

Deep networks whose graph matches the tree approximate such a function with
far fewer parameters than shallow ones (Poggio et al. 2017; Mhaskar, Liao,
Poggio 2016); :class:`dltheory.models.TreeNetwork` is the matching network.
With ``phase_seed`` (:func:`node_phases`) every node gets a constituent of its
own, :math:`h_{l,j}(a, b) = \\sin(\\theta(a, b) + \\varphi_{l,j})`: the same
smoothness and Lipschitz constant at every node, but no longer one function
that a convolution could share.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .._checks import check_choice, check_dtype, check_device, check_int, check_real, check_seed, check_tensor
from ._sampling import Device

__all__ = ["CONSTITUENTS", "binary_tree", "binary_tree_levels", "binary_tree_target", "node_phases"]

Constituent = Callable[[Tensor, Tensor], Tensor]


def _sine(a: Tensor, b: Tensor, phase: Tensor | float = 0.0) -> Tensor:
    return torch.sin(0.5 * math.pi * (a + b) + 0.25 * math.pi * a * b * (a - b) + phase)


def _ridge(a: Tensor, b: Tensor, phase: Tensor | float = 0.0) -> Tensor:
    return torch.sin(0.5 * math.pi * (a + b) + phase)


def _tanh(a: Tensor, b: Tensor) -> Tensor:
    return torch.tanh(a + b + a * b)


CONSTITUENTS: dict[str, Constituent] = {"sine": _sine, "ridge": _ridge, "tanh": _tanh}
"""The two-variable constituents of :func:`binary_tree`, by name. All map
:math:`[-1, 1]^2` into :math:`[-1, 1]`, so every node sees inputs in the same square.

``"sine"`` (default)
    :math:`h(a, b) = \\sin\\big(\\tfrac{\\pi}{2}(a + b) + \\tfrac{\\pi}{4}\\, a b (a - b)\\big)`: smooth,
    odd (so :math:`f` has mean zero), neither additive nor a ridge function of
    :math:`a + b`, and not symmetric in :math:`a, b`; the spread of :math:`f` stays
    about 0.75 (std) at every depth, so deep trees do not collapse to a constant.
``"ridge"``
    :math:`h(a, b) = \\sin\\big(\\tfrac{\\pi}{2}(a + b)\\big)`, a ridge function (one neuron's worth).
``"tanh"``
    :math:`h(a, b) = \\tanh(a + b + ab)`: smooth, but its iterates drift towards 1 with depth.

``"sine"`` and ``"ridge"`` take an optional third argument, a phase
:math:`\\varphi` added inside the sine (node-specific constituents, :func:`node_phases`).
"""

#: The constituents that accept a phase, ``h(a, b, phase)``.
PHASED = ("sine", "ridge")


def node_phases(depth: int, *, seed: int) -> list[Tensor]:
    """One phase :math:`\\varphi_{l,j} \\sim U[0, 2\\pi)` per node of the tree, drawn under ``seed``.

    Returns, for each level ``l = 1..depth``, a float64 tensor of shape
    ``(2**(depth - l),)``; node ``(l, j)`` of :func:`binary_tree_target` then
    computes :math:`h(a, b, \\varphi_{l,j})`. The phases are drawn level by
    level, node by node, from a CPU generator.
    """
    depth = check_int(depth, "depth", min=1, max=20)
    g = torch.Generator().manual_seed(check_seed(seed))
    return [2 * math.pi * torch.rand(2 ** (depth - level), generator=g, dtype=torch.float64)
            for level in range(1, depth + 1)]


def binary_tree_levels(depth: int = 3) -> list[list[tuple[int, int]]]:
    """The structure of the binary tree: which nodes each level combines.

    Level 0 holds the :math:`2^L` inputs (``L = depth``); level :math:`l \\ge 1`
    holds :math:`2^{L-l}` nodes, and node ``j`` of level ``l`` is
    :math:`h_{l,j+1}(v_{l-1, 2j}, v_{l-1, 2j+1})`. Returns, for each level
    ``1..L``, the list of index pairs ``(2j, 2j+1)`` it combines; a matching deep
    network has one small two-input sub-network per pair. For ``depth=3``::

        [[(0, 1), (2, 3), (4, 5), (6, 7)],   # h11 .. h14
         [(0, 1), (2, 3)],                   # h21, h22
         [(0, 1)]]                           # h3
    """
    depth = check_int(depth, "depth", min=1)
    return [[(2 * j, 2 * j + 1) for j in range(2 ** (depth - level))] for level in range(1, depth + 1)]


def _resolve_constituent(constituent: str | Constituent) -> Constituent:
    """A callable as it is, a name through :data:`CONSTITUENTS`."""
    if callable(constituent):
        return constituent
    try:
        return CONSTITUENTS[check_choice(constituent, "constituent", CONSTITUENTS)]
    except ValueError as err:
        raise ValueError(f"{err}, or pass a callable h(a, b)") from None


def binary_tree_target(X: Tensor, *, constituent: str | Constituent = "sine",
                       phases: list[Tensor] | None = None) -> Tensor:
    """The hierarchically compositional function of :math:`2^L` variables, evaluated on the rows of ``X``.

    For 8 inputs (``L = 3``, deck 1, Poggio et al. 2017; Mhaskar, Liao, Poggio 2016)

    .. math::  f(x_1, \\dots, x_8) = h_3\\big(h_{21}(h_{11}(x_1, x_2), h_{12}(x_3, x_4)),\\
                                           h_{22}(h_{13}(x_5, x_6), h_{14}(x_7, x_8))\\big),

    with one and the same constituent ``h`` (see :data:`CONSTITUENTS`) at every
    node; the theorem needs the locality of the constituents, not their sharing.
    Computed level by level as in :func:`binary_tree_levels`, in ``X``'s dtype.

    ``phases`` (from :func:`node_phases`) gives every node its own constituent,
    :math:`h_{l,j}(a, b) = h(a, b, \\varphi_{l,j})`; it needs a constituent of
    :data:`PHASED` or a callable of three arguments.

    ``X`` is a finite matrix ``(n, 2**L)`` (a tensor or an array); the target is
    data, so it is computed on ``X`` detached from any autograd graph.

    Returns a tensor of shape ``(n,)``.
    """
    h = _resolve_constituent(constituent)
    X = check_tensor(X, "X", ndim=2)
    width = X.shape[1]
    if width < 2 or width & (width - 1):
        raise ValueError(f"X must have 2^depth columns (2, 4, 8, ...), got {width}")
    if phases is not None:
        if isinstance(constituent, str) and constituent not in PHASED:
            raise ValueError(f"phases need a constituent of {PHASED} or a callable h(a, b, phase), "
                             f"got {constituent!r}")
        depth = width.bit_length() - 1
        if len(phases) != depth or any(tuple(p.shape) != (2 ** (depth - level),)
                                       for level, p in enumerate(phases, start=1)):
            raise ValueError(f"phases must hold one tensor per level, of shapes "
                             f"{[(2 ** (depth - level),) for level in range(1, depth + 1)]}")
    v = X
    level = 0
    while v.shape[1] > 1:
        if phases is None:
            v = h(v[:, 0::2], v[:, 1::2])
        else:
            v = h(v[:, 0::2], v[:, 1::2], phases[level].to(device=v.device, dtype=v.dtype))
        level += 1
    return v[:, 0]


def binary_tree(
    n: int,
    *,
    depth: int = 3,
    constituent: str | Constituent = "sine",
    noise: float = 0.0,
    seed: int = 0,
    phase_seed: int | None = None,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Samples of the binary-tree compositional function :func:`binary_tree_target`.

    :math:`x \\sim U([-1, 1]^{2^L})` with ``L = depth`` (8 inputs by default) and
    :math:`y = f(x) + \\sigma \\xi`, :math:`\\xi \\sim N(0, 1)`, :math:`\\sigma` = ``noise``.
    The target is computed in float64 from the inputs as returned (after the cast
    to ``dtype``), then cast.

    Parameters
    ----------
    depth
        :math:`L \\in [1, 20]`: the inputs number :math:`2^L`.
    phase_seed
        ``None`` (one constituent at every node) or the seed of
        :func:`node_phases`: node-specific constituents :math:`h(a, b, \\varphi_{l,j})`.
        Drawn apart from ``seed``, so training and test sets share their phases.

    Returns
    -------
    X, y
        ``(n, 2**depth)`` and ``(n,)``.
    """
    n, depth = check_int(n, "n", min=1), check_int(depth, "depth", min=1, max=20)
    h = _resolve_constituent(constituent)
    noise = check_real(noise, "noise", min=0)
    dtype, device = check_dtype(dtype), check_device(device)
    g = torch.Generator().manual_seed(check_seed(seed))
    X = (2 * torch.rand(n, 2**depth, generator=g, dtype=torch.float64) - 1).to(dtype).double()
    phases = None if phase_seed is None else node_phases(depth, seed=phase_seed)
    y = binary_tree_target(X, constituent=constituent if phases is not None else h, phases=phases)
    if noise:
        y = y + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return X.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)
