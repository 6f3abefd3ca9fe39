"""The data of the book: seeded synthetic generators, small real data sets, label corruption.

Every function returns torch tensors on ``device`` (default ``"cpu"``) with inputs
in ``dtype`` (default ``torch.float32``). Labels are float :math:`\\pm 1` (in
``dtype``) for binary problems and ``int64`` class indices otherwise; scalar
regression targets have shape ``(n,)`` (the losses of :mod:`dltheory.losses`
reshape them to the model's ``(n, 1)`` outputs). Inputs are always matrices
``(n, d)``, one-dimensional ones included (``(n, 1)``), except images, which keep
their ``(n, channels, height, width)`` layout unless ``flatten=True``.

Randomness comes from a local generator seeded with ``seed`` (never the global
one): the same seed gives the same tensors, on every device, since sampling
happens on the CPU in float64 before the cast and the move.

==========================  ===========================================================
synthetic                   what it is
==========================  ===========================================================
:func:`separable`           linearly separable through the origin with margin (Soudry et al. 2018)
:func:`teacher`             labels of a random teacher MLP
:func:`binary_tree`         the 8-input hierarchically compositional function (Poggio et al. 2017)
:func:`clustered`           k classes, each l well-separated small clusters (Li & Liang 2018)
:func:`square_wave`         a 1-d square wave on an interval (deck 2, weight tying)
:func:`sawtooth`            the tent map iterated k times (Telgarsky 2016)
:func:`two_clusters`        two Gaussian blobs with labels :math:`\\pm 1`
==========================  ===========================================================

Real data: :func:`digits` and :func:`diabetes` (scikit-learn's bundled copies),
:func:`mnist1d` (generated offline by the ``mnist1d`` package), :func:`mnist`
(torchvision when it can download, else the subset shipped in ``data/``) and
:func:`cifar10` (torchvision only). Helpers: :func:`corrupt_labels` (Zhang et
al. 2017), :func:`train_test_split`, :func:`standardize`, :func:`select_classes`.

Where downloads go: ``root`` if given, else ``$DLT_DATA_DIR``, else
``~/.cache/dltheory``.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "separable",
    "teacher",
    "binary_tree",
    "binary_tree_target",
    "binary_tree_levels",
    "CONSTITUENTS",
    "clustered",
    "square_wave",
    "square_wave_target",
    "sawtooth",
    "tent_map",
    "two_clusters",
    "digits",
    "diabetes",
    "mnist1d",
    "mnist",
    "cifar10",
    "shipped_mnist_path",
    "corrupt_labels",
    "train_test_split",
    "standardize",
    "select_classes",
    "DataFallbackWarning",
]

Tensor = torch.Tensor
Device = torch.device | str


class DataFallbackWarning(UserWarning):
    """Warned when :func:`mnist` uses the shipped subset because torchvision could not deliver."""


# --------------------------------------------------------------------------- checks


def _check_count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _generator(seed: Any) -> torch.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return torch.Generator().manual_seed(int(seed))


def _check_dtype(dtype: Any) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch dtype such as torch.float32, got {dtype!r}")
    return dtype


def _check_device(device: Any) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from err


def _finite(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number, got {value!r}") from err
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _to(t: Tensor, device: torch.device, dtype: torch.dtype | None = None) -> Tensor:
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device=device)


def _unit_directions(m: int, d: int, g: torch.Generator) -> Tensor:
    """``m`` directions uniform on the unit sphere of R^d (normalised Gaussians), float64."""
    z = torch.randn(m, d, generator=g, dtype=torch.float64)
    norms = z.norm(dim=1, keepdim=True)
    while (norms == 0).any():  # probability zero, but never divide by it
        bad = (norms == 0).squeeze(1)
        z[bad] = torch.randn(int(bad.sum()), d, generator=g, dtype=torch.float64)
        norms = z.norm(dim=1, keepdim=True)
    return z / norms


def _in_ball(m: int, d: int, radius: float | Tensor, g: torch.Generator) -> Tensor:
    """``m`` points uniform in the ball of R^d with the given radius: direction times radius * U^(1/d)."""
    u = torch.rand(m, 1, generator=g, dtype=torch.float64)
    return _unit_directions(m, d, g) * u.pow(1.0 / d) * radius


# --------------------------------------------------------------------------- separable


def _acceptance(d: int, margin: float, sphere: bool) -> float:
    """P(|w.x| >= margin) for x uniform in the unit ball (or on the unit sphere) of R^d, unit w.

    The squared coordinate x_1^2 is Beta(1/2, (d+1)/2) in the ball and Beta(1/2, (d-1)/2)
    on the sphere, so the probability is a regularised incomplete beta function.
    """
    from scipy.special import betainc

    if sphere and d == 1:
        return 1.0
    b = (d - 1) / 2 if sphere else (d + 1) / 2
    return float(betainc(b, 0.5, 1.0 - margin**2))


def separable(
    n: int,
    d: int,
    *,
    margin: float = 0.1,
    seed: int = 0,
    sphere: bool = False,
    method: str = "rejection",
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor]:
    """Linearly separable data through the origin with a guaranteed margin.

    A unit vector :math:`w^*` is drawn uniformly on the sphere; every example
    satisfies

    .. math::  y_i \\langle w^*, x_i \\rangle \\ge \\gamma, \\qquad \\lVert x_i \\rVert \\le 1,
               \\qquad y_i = \\operatorname{sign} \\langle w^*, x_i \\rangle \\in \\{\\pm 1\\},

    with :math:`\\gamma` = ``margin``: the separable setting of Soudry et al. (2018,
    Assumption 1) and of Brutzkus et al. (2018), whose SGD bound scales as
    :math:`\\lVert w^*\\rVert^2/\\gamma^2`. The margin is checked on the returned
    ``dtype`` values (with a tiny slack for rounding), not only before the cast.

    Parameters
    ----------
    n, d
        Number of examples and dimension.
    margin
        :math:`\\gamma \\in (0, 1)`.
    sphere
        Put the inputs on the unit sphere instead of inside the unit ball.
    method
        ``"rejection"``: :math:`x` uniform in the ball (on the sphere) conditioned
        on :math:`|\\langle w^*, x\\rangle| \\ge \\gamma`, by rejection sampling. The
        acceptance rate falls like :math:`e^{-d\\gamma^2/2}`; below :math:`10^{-4}`
        a ``ValueError`` says so. ``"direct"``: a random sign :math:`y`, the
        coordinate along :math:`w^*` uniform on :math:`[\\gamma, 1]` times
        :math:`y`, and the orthogonal part uniform in the ball (on the sphere) of
        radius :math:`\\sqrt{1 - t^2}` that keeps :math:`\\lVert x\\rVert \\le 1`;
        fast in any dimension, but not the conditioned uniform distribution.

    Returns
    -------
    X, y, w_star
        ``(n, d)`` inputs, ``(n,)`` labels in :math:`\\{\\pm 1\\}` (``dtype``), ``(d,)`` unit vector.
    """
    n, d = _check_count(n, "n"), _check_count(d, "d")
    margin = _finite(margin, "margin")
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1) (inputs lie in the unit ball), got {margin}")
    if method not in ("rejection", "direct"):
        raise ValueError(f"method must be 'rejection' or 'direct', got {method!r}")
    dtype, device = _check_dtype(dtype), _check_device(device)
    g = _generator(seed)
    w = _unit_directions(1, d, g)[0]
    w_cast = w.to(dtype)
    # Rounding to dtype moves w.x by at most about d * eps; ask for that much extra.
    slack = 4 * d * torch.finfo(dtype).eps
    threshold = margin + slack
    if threshold >= 1:
        raise ValueError(f"margin={margin} leaves no room in the unit ball at {dtype} precision (d={d})")

    if method == "rejection":
        p = _acceptance(d, threshold, sphere)
        if not p >= 1e-4:
            raise ValueError(
                f"rejection sampling would accept only {p:.1e} of the draws for margin={margin} in d={d}; "
                "use method='direct', a smaller margin or a smaller d"
            )
        kept: list[Tensor] = []
        have = 0
        max_rows = max(1024, 2**22 // d)
        while have < n:
            m = min(max_rows, int(1.2 * (n - have) / p) + 64)
            x = _unit_directions(m, d, g) if sphere else _in_ball(m, d, 1.0, g)
            x = x.to(dtype).double()  # judge the margin on the values that will be returned
            x = x[(x @ w_cast.double()).abs() >= threshold]
            kept.append(x)
            have += len(x)
        X = torch.cat(kept)[:n]
    else:
        signs = torch.randint(0, 2, (n,), generator=g).double() * 2 - 1
        t = threshold + (1 - threshold) * torch.rand(n, generator=g, dtype=torch.float64)
        if d == 1:
            X = (signs * t).unsqueeze(1) * w
        else:
            u = torch.randn(n, d, generator=g, dtype=torch.float64)
            u = u - (u @ w).unsqueeze(1) * w  # orthogonal to w*
            u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
            r = (1 - t.pow(2)).clamp_min(0).sqrt()
            if not sphere:
                r = r * torch.rand(n, generator=g, dtype=torch.float64).pow(1.0 / (d - 1))
            X = (signs * t).unsqueeze(1) * w + r.unsqueeze(1) * u
        X = X.to(dtype).double()
    y = torch.sign(X @ w_cast.double())
    return _to(X, device, dtype), _to(y, device, dtype), _to(w, device, dtype)


# --------------------------------------------------------------------------- teacher


def teacher(
    n: int,
    d: int,
    *,
    widths: Sequence[int] = (64,),
    task: str = "regression",
    outputs: int = 1,
    num_classes: int = 2,
    activation: str = "relu",
    parametrization: str = "standard",
    inputs: str = "gaussian",
    noise: float = 0.0,
    seed: int = 0,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, nn.Module]:
    """Inputs and the labels a random teacher network gives them (the teacher-student setting).

    The teacher is :func:`dltheory.models.mlp` ``([d, *widths, k])``, initialised
    under ``seed`` and frozen (``requires_grad=False``, eval mode). With
    :math:`f^*` the teacher,

    - ``task="regression"``: :math:`y = f^*(x) + \\sigma \\xi`, :math:`\\xi \\sim N(0, 1)`,
      ``k = outputs``; shape ``(n,)`` when ``outputs == 1``, else ``(n, outputs)``;
    - ``task="binary"``: :math:`y = \\operatorname{sign} f^*(x) \\in \\{\\pm1\\}` (sign(0) = +1), ``k = 1``;
    - ``task="classes"``: :math:`y = \\arg\\max_j f^*(x)_j` (int64), ``k = num_classes``.

    For the two classification tasks ``noise`` is the fraction of labels replaced
    by a *different* label (:func:`corrupt_labels` with ``exclude_true=True``), so
    exactly ``round(noise * n)`` labels disagree with the teacher. The teacher's
    biases make the classes unbalanced in general.

    Parameters
    ----------
    inputs
        ``"gaussian"``: :math:`x \\sim N(0, I_d)`; ``"sphere"``: uniform on the unit sphere.
    widths
        Hidden widths of the teacher (may be empty: a linear teacher).
    """
    n, d = _check_count(n, "n"), _check_count(d, "d")
    if task not in ("regression", "binary", "classes"):
        raise ValueError(f"task must be 'regression', 'binary' or 'classes', got {task!r}")
    if inputs not in ("gaussian", "sphere"):
        raise ValueError(f"inputs must be 'gaussian' or 'sphere', got {inputs!r}")
    noise = _finite(noise, "noise")
    if noise < 0 or (task != "regression" and noise > 1):
        what = "a label-noise fraction in [0, 1]" if task != "regression" else "a non-negative noise std"
        raise ValueError(f"noise must be {what}, got {noise}")
    if task == "classes":
        k = _check_count(num_classes, "num_classes", 2)
    elif task == "binary":
        k = 1
    else:
        k = _check_count(outputs, "outputs")
    dtype, device = _check_dtype(dtype), _check_device(device)
    g = _generator(seed)

    from .models import mlp

    model = mlp([d, *widths, k], activation=activation, parametrization=parametrization, seed=int(seed), dtype=dtype)
    model.requires_grad_(False).eval()
    X = _unit_directions(n, d, g) if inputs == "sphere" else torch.randn(n, d, generator=g, dtype=torch.float64)
    X = X.to(dtype)
    with torch.no_grad():
        out = model(X)
    if task == "regression":
        y = out
        if noise:
            y = out + noise * torch.randn(out.shape, generator=g, dtype=torch.float64).to(dtype)
        if k == 1:
            y = y.squeeze(1)
    elif task == "binary":
        y = torch.where(out.squeeze(1) >= 0, 1.0, -1.0).to(dtype)
    else:
        y = out.argmax(dim=1)
    if task != "regression" and noise > 0:
        y = corrupt_labels(y, noise, num_classes=k if task == "classes" else None,
                           seed=int(torch.randint(0, 2**31, (1,), generator=g)), exclude_true=True)
    return X.to(device), y.to(device), model.to(device)


# --------------------------------------------------------------------------- binary tree


def _sine(a: Tensor, b: Tensor) -> Tensor:
    return torch.sin(0.5 * math.pi * (a + b) + 0.25 * math.pi * a * b * (a - b))


def _ridge(a: Tensor, b: Tensor) -> Tensor:
    return torch.sin(0.5 * math.pi * (a + b))


def _tanh(a: Tensor, b: Tensor) -> Tensor:
    return torch.tanh(a + b + a * b)


CONSTITUENTS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"sine": _sine, "ridge": _ridge, "tanh": _tanh}
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
"""


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
    depth = _check_count(depth, "depth")
    return [[(2 * j, 2 * j + 1) for j in range(2 ** (depth - level))] for level in range(1, depth + 1)]


def _resolve_constituent(constituent: str | Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    if callable(constituent):
        return constituent
    if constituent not in CONSTITUENTS:
        raise ValueError(f"unknown constituent {constituent!r}; use one of {sorted(CONSTITUENTS)} or a callable h(a, b)")
    return CONSTITUENTS[constituent]


def binary_tree_target(X: Tensor, *, constituent: str | Callable[[Tensor, Tensor], Tensor] = "sine") -> Tensor:
    """The hierarchically compositional function of :math:`2^L` variables, evaluated on the rows of ``X``.

    For 8 inputs (``L = 3``, deck 1, Poggio et al. 2017; Mhaskar, Liao, Poggio 2016)

    .. math::  f(x_1, \\dots, x_8) = h_3\\big(h_{21}(h_{11}(x_1, x_2), h_{12}(x_3, x_4)),\\
                                           h_{22}(h_{13}(x_5, x_6), h_{14}(x_7, x_8))\\big),

    with one and the same constituent ``h`` (see :data:`CONSTITUENTS`) at every
    node; the theorem needs the locality of the constituents, not their sharing.
    Computed level by level as in :func:`binary_tree_levels`, in ``X``'s dtype.

    Returns a tensor of shape ``(n,)``.
    """
    h = _resolve_constituent(constituent)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (n examples x 2^depth inputs), got shape {tuple(X.shape)}")
    width = X.shape[1]
    if width < 2 or width & (width - 1):
        raise ValueError(f"X must have 2^depth columns (2, 4, 8, ...), got {width}")
    v = X
    while v.shape[1] > 1:
        v = h(v[:, 0::2], v[:, 1::2])
    return v[:, 0]


def binary_tree(
    n: int,
    *,
    depth: int = 3,
    constituent: str | Callable[[Tensor, Tensor], Tensor] = "sine",
    noise: float = 0.0,
    seed: int = 0,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Samples of the binary-tree compositional function :func:`binary_tree_target`.

    :math:`x \\sim U([-1, 1]^{2^L})` with ``L = depth`` (8 inputs by default) and
    :math:`y = f(x) + \\sigma \\xi`, :math:`\\xi \\sim N(0, 1)`, :math:`\\sigma` = ``noise``.
    The target is computed in float64 from the inputs as returned (after the cast
    to ``dtype``), then cast.

    Returns
    -------
    X, y
        ``(n, 2**depth)`` and ``(n,)``.
    """
    n, depth = _check_count(n, "n"), _check_count(depth, "depth")
    if depth > 20:
        raise ValueError(f"depth must be at most 20 (2^depth inputs), got {depth}")
    h = _resolve_constituent(constituent)
    noise = _finite(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    dtype, device = _check_dtype(dtype), _check_device(device)
    g = _generator(seed)
    X = (2 * torch.rand(n, 2**depth, generator=g, dtype=torch.float64) - 1).to(dtype).double()
    y = binary_tree_target(X, constituent=h)
    if noise:
        y = y + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return _to(X, device, dtype), _to(y, device, dtype)


# --------------------------------------------------------------------------- clusters


def _centres(count: int, dim: int, separation: float, g: torch.Generator) -> Tensor:
    """``count`` points pairwise at least ``separation`` apart, placed one by one uniformly in a cube.

    The cube is :math:`[-a, a]^{dim}` with :math:`a = s \\max(1, count^{1/dim})`;
    after 1000 rejected candidates for one centre it grows by 25 %.
    """
    a = separation * max(1.0, count ** (1.0 / dim))
    centres = torch.empty(count, dim, dtype=torch.float64)
    for i in range(count):
        tries = 0
        while True:
            c = a * (2 * torch.rand(dim, generator=g, dtype=torch.float64) - 1)
            if i == 0 or (centres[:i] - c).norm(dim=1).min() >= separation:
                centres[i] = c
                break
            tries += 1
            if tries == 1000:
                a *= 1.25
                tries = 0
    return centres


def clustered(
    n: int,
    *,
    classes: int = 2,
    clusters_per_class: int = 3,
    dim: int = 2,
    separation: float = 1.0,
    spread: float | None = None,
    seed: int = 0,
    return_centers: bool = False,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, ...]:
    """``classes`` classes, each the union of ``clusters_per_class`` small, well-separated clusters.

    The structured data of Li & Liang (2018): with :math:`k` classes and
    :math:`l` clusters per class, cluster :math:`(i, j)` is the ball of radius
    :math:`r = \\lambda_r \\delta` (``spread`` :math:`= \\lambda_r`, ``separation``
    :math:`= \\delta`) around a centre :math:`c_{ij}`; all :math:`kl` centres are
    pairwise at least :math:`\\delta` apart (stronger than Li & Liang, who
    separate only clusters of different classes). Hence the supports of
    different clusters are at least :math:`(1 - 2\\lambda_r)\\delta` apart and each
    has diameter :math:`2\\lambda_r\\delta`. The default
    :math:`\\lambda_r = 1/(16 l)` gives diameter :math:`\\delta/(8l)`, Li & Liang's
    condition :math:`\\operatorname{diam} \\le \\lambda\\delta` with :math:`\\lambda = 1/(8l)`.

    Points are uniform in their ball; the ``n`` points are spread over the
    :math:`kl` clusters as evenly as possible (cluster ``c`` gets ``n // kl`` or one
    more) and shuffled. Cluster ``c = i * l + j`` belongs to class ``i``.

    Returns
    -------
    X, y
        ``(n, dim)`` inputs and ``(n,)`` int64 class indices; with
        ``return_centers=True`` also the centres ``(classes, clusters_per_class, dim)``
        and each point's cluster index ``c`` (int64, ``(n,)``).
    """
    n = _check_count(n, "n")
    k = _check_count(classes, "classes", 2)
    l = _check_count(clusters_per_class, "clusters_per_class")  # noqa: E741
    dim = _check_count(dim, "dim")
    separation = _finite(separation, "separation")
    if separation <= 0:
        raise ValueError(f"separation must be positive, got {separation}")
    spread = 1.0 / (16 * l) if spread is None else _finite(spread, "spread")
    if not 0 <= spread < 0.5:
        raise ValueError(f"spread must be in [0, 0.5) so that the clusters do not touch, got {spread}")
    dtype, device = _check_dtype(dtype), _check_device(device)
    g = _generator(seed)
    centres = _centres(k * l, dim, separation, g)
    cluster = torch.arange(n) % (k * l)
    cluster = cluster[torch.randperm(n, generator=g)]
    X = centres[cluster] + _in_ball(n, dim, spread * separation, g)
    y = cluster // l
    out: tuple[Tensor, ...] = (_to(X, device, dtype), y.to(device))
    if return_centers:
        out += (_to(centres.reshape(k, l, dim), device, dtype), cluster.to(device))
    return out


# --------------------------------------------------------------------------- one-dimensional targets


def _points(n: int, low: float, high: float, grid: bool, g: torch.Generator) -> Tensor:
    if grid:
        return torch.linspace(low, high, n, dtype=torch.float64)
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


def square_wave_target(
    x: Tensor, *, periods: int = 2, interval: tuple[float, float] = (0.0, 1.0), low: float = 0.0, high: float = 1.0
) -> Tensor:
    """The square wave with ``periods`` periods on ``interval = (a, b)``.

    .. math::  y(x) = \\begin{cases} \\text{high} & \\text{if } \\{p (x - a)/(b - a)\\} < \\tfrac12, \\\\
                                     \\text{low} & \\text{otherwise,} \\end{cases}

    with :math:`\\{\\cdot\\}` the fractional part and :math:`p` = ``periods``: each
    period starts with its high half. Deck 2 uses :math:`x \\in [0, 1]`,
    :math:`y \\in \\{0, 1\\}`; ``low=-1`` gives :math:`\\pm 1` labels. Returns the shape of ``x``.
    """
    a, b = interval
    phase = periods * (x - a) / (b - a)
    frac = phase - torch.floor(phase)
    return torch.where(frac < 0.5, torch.full_like(x, high), torch.full_like(x, low))


def square_wave(
    n: int,
    *,
    periods: int = 2,
    interval: tuple[float, float] = (0.0, 1.0),
    low: float = 0.0,
    high: float = 1.0,
    grid: bool = False,
    seed: int = 0,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Samples of :func:`square_wave_target` (deck 2's weight-tying example).

    ``x`` is uniform on the interval (``grid=True``: ``n`` equally spaced points,
    both ends included). Returns ``x`` of shape ``(n, 1)`` and ``y`` of shape ``(n,)``.
    """
    n, periods = _check_count(n, "n"), _check_count(periods, "periods")
    a, b = (_finite(v, "interval") for v in interval)
    if not a < b:
        raise ValueError(f"interval must be (a, b) with a < b, got {interval}")
    low, high = _finite(low, "low"), _finite(high, "high")
    dtype, device = _check_dtype(dtype), _check_device(device)
    x = _points(n, a, b, grid, _generator(seed)).to(dtype).double()
    y = square_wave_target(x, periods=periods, interval=(a, b), low=low, high=high)
    return _to(x.unsqueeze(1), device, dtype), _to(y, device, dtype)


def tent_map(x: Tensor, iterations: int = 1) -> Tensor:
    """The tent map :math:`t(x) = 2 \\min(x, 1 - x)` on :math:`[0, 1]`, applied ``iterations`` times.

    :math:`t^{k}` is a sawtooth with :math:`2^{k-1}` teeth (:math:`2^k` linear pieces,
    maxima 1 at :math:`x = (2j + 1)/2^k`). Since
    :math:`t(x) = 2\\,\\mathrm{relu}(x) - 4\\,\\mathrm{relu}(x - \\tfrac12)` on
    :math:`[0, 1]`, a ReLU network of depth :math:`O(k)` and width 2 represents
    :math:`t^k` exactly, while a network of depth :math:`O(k^{1/3})` needs
    exponentially many units to approximate it (Telgarsky 2016).
    """
    iterations = _check_count(iterations, "iterations", 0)
    for _ in range(iterations):
        x = 2 * torch.minimum(x, 1 - x)
    return x


def sawtooth(
    n: int,
    *,
    iterations: int = 3,
    grid: bool = False,
    seed: int = 0,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Samples of the iterated tent map :func:`tent_map` on :math:`[0, 1]`: :math:`2^{k-1}` teeth for ``iterations=k``.

    ``x`` is uniform on :math:`[0, 1]` (``grid=True``: ``n`` equally spaced points,
    both ends included). Returns ``x`` of shape ``(n, 1)`` and ``y = t^k(x)`` of shape ``(n,)``.
    """
    n, iterations = _check_count(n, "n"), _check_count(iterations, "iterations")
    dtype, device = _check_dtype(dtype), _check_device(device)
    x = _points(n, 0.0, 1.0, grid, _generator(seed)).to(dtype).double()
    y = tent_map(x, iterations)
    return _to(x.unsqueeze(1), device, dtype), _to(y, device, dtype)


# --------------------------------------------------------------------------- two blobs


def two_clusters(
    n: int,
    *,
    dim: int = 2,
    distance: float = 4.0,
    std: float = 1.0,
    seed: int = 0,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Two Gaussian blobs, :math:`x \\sim N(y \\tfrac{\\Delta}{2} e_1, \\sigma^2 I)`, labels :math:`y = \\pm 1`.

    :math:`\\Delta` = ``distance`` between the means, :math:`\\sigma` = ``std``.
    ``ceil(n/2)`` examples get :math:`+1` and the rest :math:`-1`, in random order.
    Returns ``(n, dim)`` inputs and ``(n,)`` labels (``dtype``).
    """
    n, dim = _check_count(n, "n"), _check_count(dim, "dim")
    distance, std = _finite(distance, "distance"), _finite(std, "std")
    if distance < 0 or std < 0:
        raise ValueError(f"distance and std must be non-negative, got {distance}, {std}")
    dtype, device = _check_dtype(dtype), _check_device(device)
    g = _generator(seed)
    y = torch.where(torch.arange(n) < (n + 1) // 2, 1.0, -1.0).double()
    y = y[torch.randperm(n, generator=g)]
    X = std * torch.randn(n, dim, generator=g, dtype=torch.float64)
    X[:, 0] += y * distance / 2
    return _to(X, device, dtype), _to(y, device, dtype)


# --------------------------------------------------------------------------- scikit-learn data


def digits(
    *, flatten: bool = True, device: Device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled handwritten digits: 1797 images of 8 x 8 pixels, 10 classes.

    The pixels (integers 0..16) are divided by 16, so inputs lie in :math:`[0, 1]`.
    Returns ``X`` of shape ``(1797, 64)`` (``flatten=False``: ``(1797, 1, 8, 8)``) and
    int64 labels ``(1797,)``. No download: the data ship with scikit-learn.
    """
    from sklearn.datasets import load_digits

    dtype, device = _check_dtype(dtype), _check_device(device)
    bunch = load_digits()
    X = torch.from_numpy(bunch.data / 16.0)
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)
    return _to(X, device, dtype), torch.from_numpy(bunch.target.astype(np.int64)).to(device)


def diabetes(
    *, standardize_target: bool = False, device: Device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled diabetes regression data: 442 patients, 10 features.

    Each feature (from the raw, unscaled data) is standardised to mean 0 and
    variance 1 over the 442 examples: :math:`(x - \\bar x)/s` with the population
    standard deviation :math:`s`. The target (disease progression after one year,
    25..346) is returned as is, or standardised the same way with
    ``standardize_target=True``. Returns ``(442, 10)`` and ``(442,)``.
    """
    from sklearn.datasets import load_diabetes

    dtype, device = _check_dtype(dtype), _check_device(device)
    bunch = load_diabetes(scaled=False)
    X = torch.from_numpy(np.asarray(bunch.data, dtype=np.float64))
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.float64))
    X = (X - X.mean(0)) / X.std(0, correction=0)
    if standardize_target:
        y = (y - y.mean()) / y.std(correction=0)
    return _to(X, device, dtype), _to(y, device, dtype)


# --------------------------------------------------------------------------- MNIST-1D


def _import_mnist1d() -> Any:
    try:
        from mnist1d import data as mnist1d_data
    except ImportError as err:
        raise ImportError(
            "dltheory.data.mnist1d needs the package 'mnist1d' (pip install mnist1d); "
            "it generates MNIST-1D locally, without a download"
        ) from err
    return mnist1d_data


def mnist1d(
    *,
    n: int = 5000,
    seed: int = 42,
    train_fraction: float = 0.8,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MNIST-1D (Greydanus 2020): 10 classes of one-dimensional signals of length 40.

    Generated locally by the ``mnist1d`` package's ``make_dataset`` with its
    default arguments except ``num_samples = n``, ``seed`` and ``train_split =
    train_fraction``: each of the ten 12-point digit templates is padded,
    sheared, scaled, translated, smoothed, noised (correlated and i.i.d.) and
    resampled to 40 points; the whole data set is then centred and scaled to
    unit standard deviation. ``n=5000, seed=42`` (the defaults) are the package's
    standard configuration (4000 training, 1000 test signals); the package's
    *download* path (a pickle from GitHub) is never used, so nothing touches the
    network, and the result is a fresh generation, which can differ in the last
    digits from that pickle. About a second for 5000 signals.

    ``make_dataset`` seeds NumPy's and Python's global generators; their states
    are saved before and restored after, so the caller's random streams are untouched.

    Parameters
    ----------
    n
        Total number of signals, a multiple of 10 (``n / 10`` per class).
    train_fraction
        The first ``int(n * train_fraction)`` (shuffled) signals form the training set.

    Returns
    -------
    X_train, y_train, X_test, y_test
        ``(n_train, 40)`` inputs, int64 labels, and the same for the test set.
    """
    n = _check_count(n, "n", 10)
    if n % 10:
        raise ValueError(f"n must be a multiple of 10 (the same number of signals per class), got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2^32), got {seed!r}")
    train_fraction = _finite(train_fraction, "train_fraction")
    if not 0 < train_fraction < 1 or not 1 <= int(n * train_fraction) < n:
        raise ValueError(f"train_fraction must leave at least one training and one test signal, got {train_fraction}")
    dtype, device = _check_dtype(dtype), _check_device(device)
    module = _import_mnist1d()
    args = module.get_dataset_args(as_dict=False)
    args.num_samples, args.seed, args.train_split = n, int(seed), train_fraction
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = module.make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return (
        _to(torch.from_numpy(np.asarray(data["x"], dtype=np.float64)), device, dtype),
        torch.from_numpy(np.asarray(data["y"], dtype=np.int64)).to(device),
        _to(torch.from_numpy(np.asarray(data["x_test"], dtype=np.float64)), device, dtype),
        torch.from_numpy(np.asarray(data["y_test"], dtype=np.int64)).to(device),
    )


# --------------------------------------------------------------------------- MNIST and CIFAR-10

_SOURCES = ("auto", "shipped", "torchvision")
SHIPPED_TRAIN, SHIPPED_TEST = 10_000, 2_000
_CIFAR_HELP = (
    "CIFAR-10 has no offline copy: no PyPI package carries its images, and the book does not ship them. "
    "Run this notebook in Colab (or anywhere with internet and torchvision), "
    "or use dltheory.data.mnist (which falls back to a shipped subset) or dltheory.data.mnist1d "
    "(generated locally) instead."
)


def shipped_mnist_path() -> Path:
    """Where the shipped MNIST subset lives: ``data/mnist_subset.npz`` in the repository.

    ``$DLT_MNIST_SUBSET`` overrides the path. The file is part of the repository,
    not of the installed package: a non-editable install (``pip install
    git+...``) lacks it, and then only the torchvision source works.
    """
    override = os.environ.get("DLT_MNIST_SUBSET", "").strip()
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "data" / "mnist_subset.npz"


def _default_root(root: str | os.PathLike | None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get("DLT_DATA_DIR", "").strip()
    return Path(env) if env else Path.home() / ".cache" / "dltheory"


def _import_torchvision() -> Any:
    """Import torchvision lazily: it is only there in Colab-like environments (and then it works)."""
    import torchvision

    return torchvision


def _check_sizes(n_train: int | None, n_test: int | None) -> tuple[int | None, int | None]:
    return (
        None if n_train is None else _check_count(n_train, "n_train"),
        None if n_test is None else _check_count(n_test, "n_test"),
    )


class _TooFew(ValueError):
    """More images asked for than the source has (a request error, never a reason to fall back)."""


def _take(images: np.ndarray, labels: np.ndarray, n: int | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    if n is not None and n > len(labels):
        raise _TooFew(f"asked for {n} {what} images but the source has {len(labels)}")
    return images[:n], labels[:n]


def _images(x: np.ndarray, flatten: bool, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Bytes to ``dtype`` in [0, 1]; moved as bytes and converted on ``device`` (no float64 copy of CIFAR-10)."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device).to(dtype).div_(255)
    return t.flatten(1) if flatten else t


def _mnist_shipped(n_train: int | None, n_test: int | None) -> tuple[np.ndarray, ...]:
    path = shipped_mnist_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped MNIST subset {path} is missing: it lives in the repository's data/ folder "
            "(a non-editable pip install does not include it); clone the repository, set "
            "DLT_MNIST_SUBSET to the file, or use source='torchvision' with internet"
        )
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    for n, key, total in ((n_train, "train", SHIPPED_TRAIN), (n_test, "test", SHIPPED_TEST)):
        if n is not None and n > len(arrays[f"y_{key}"]):
            raise ValueError(
                f"the shipped MNIST subset has {len(arrays[f'y_{key}'])} {key} images, asked for n_{key}={n}; "
                f"ask for at most {total}, or use source='torchvision' (needs internet) for more"
            )
    x_tr, y_tr = _take(arrays["x_train"], arrays["y_train"], n_train, "training")
    x_te, y_te = _take(arrays["x_test"], arrays["y_test"], n_test, "test")
    return x_tr[:, None], y_tr, x_te[:, None], y_te


def _torchvision_splits(dataset: str, root: Path, n_train: int | None, n_test: int | None) -> tuple[np.ndarray, ...]:
    """The first images of both splits of ``torchvision.datasets.<dataset>``, as NCHW bytes and int64 labels."""
    tv = _import_torchvision()
    out: list[np.ndarray] = []
    for train, n, what in ((True, n_train, "training"), (False, n_test, "test")):
        ds = getattr(tv.datasets, dataset)(root=str(root), train=train, download=True)
        x = np.asarray(ds.data, dtype=np.uint8)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # MNIST: NHW; CIFAR-10: NHWC
        out += _take(x, np.asarray(ds.targets, dtype=np.int64), n, what)
    return tuple(out)


def _tensors(arrays: tuple[np.ndarray, ...], flatten: bool, device: torch.device,
             dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)`` arrays as images in [0, 1] and int64 labels on ``device``."""
    x_tr, y_tr, x_te, y_te = arrays

    def labels(y: np.ndarray) -> Tensor:
        return torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)

    return _images(x_tr, flatten, device, dtype), labels(y_tr), _images(x_te, flatten, device, dtype), labels(y_te)


def mnist(
    *,
    n_train: int | None = SHIPPED_TRAIN,
    n_test: int | None = SHIPPED_TEST,
    source: str = "auto",
    flatten: bool = False,
    root: str | os.PathLike | None = None,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MNIST (LeCun, Cortes, Burges): the first ``n_train`` training and ``n_test`` test images.

    Pixels are scaled to :math:`[0, 1]` (byte / 255). "First" means in MNIST's
    own order, so both sources give identical tensors whenever the shipped subset
    is large enough (``n_train <= 10000``, ``n_test <= 2000``, the defaults).
    ``None`` asks for the whole split of the source.

    Parameters
    ----------
    source
        ``"torchvision"``: ``torchvision.datasets.MNIST`` (imported only here),
        downloading into ``root`` if needed; any failure raises a ``RuntimeError``.
        ``"shipped"``: only the subset shipped in ``data/mnist_subset.npz`` (10,000
        training and 2,000 test images; see ``data/README.md``). ``"auto"``:
        torchvision, and when it cannot be imported or cannot download, the
        shipped subset with a :class:`DataFallbackWarning` that says why; if the
        subset is too small for the request, a ``RuntimeError`` instead (never a
        silently smaller data set).
    flatten
        Return ``(n, 784)`` instead of ``(n, 1, 28, 28)``.
    root
        Download folder (default ``$DLT_DATA_DIR`` or ``~/.cache/dltheory``).

    Returns
    -------
    X_train, y_train, X_test, y_test
        Images in ``dtype``, int64 labels 0..9.
    """
    if source not in _SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {_SOURCES}")
    n_train, n_test = _check_sizes(n_train, n_test)
    dtype, device = _check_dtype(dtype), _check_device(device)
    if source == "shipped":
        arrays = _mnist_shipped(n_train, n_test)
    else:
        try:
            arrays = _torchvision_splits("MNIST", _default_root(root), n_train, n_test)
        except _TooFew:
            raise
        except Exception as err:  # no torchvision, no network, a broken download, ...
            reason = f"{type(err).__name__}: {err}"
            if source == "torchvision":
                raise RuntimeError(
                    f"could not load MNIST through torchvision ({reason}); it needs torchvision and internet "
                    "(e.g. Colab). Offline, use source='shipped' or source='auto' for the subset shipped in data/"
                ) from err
            too_big = (n_train is None or n_train > SHIPPED_TRAIN) or (n_test is None or n_test > SHIPPED_TEST)
            if too_big:
                raise RuntimeError(
                    f"could not load MNIST through torchvision ({reason}), and the shipped subset "
                    f"({SHIPPED_TRAIN} training, {SHIPPED_TEST} test images) is smaller than asked "
                    f"(n_train={n_train}, n_test={n_test}); ask for at most that, or run with internet (e.g. Colab)"
                ) from err
            warnings.warn(
                f"MNIST through torchvision is unavailable ({reason}); using instead the first {n_train} training "
                f"and {n_test} test images of the MNIST subset shipped with the book ({shipped_mnist_path().name}), "
                "the same images torchvision would have given",
                DataFallbackWarning,
                stacklevel=2,
            )
            arrays = _mnist_shipped(n_train, n_test)
    return _tensors(arrays, flatten, device, dtype)


def cifar10(
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    source: str = "auto",
    flatten: bool = False,
    root: str | os.PathLike | None = None,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """CIFAR-10 (Krizhevsky 2009) through ``torchvision.datasets.CIFAR10``: the first images of each split.

    Pixels are scaled to :math:`[0, 1]` (byte / 255) and laid out ``(n, 3, 32, 32)``
    (``flatten=True``: ``(n, 3072)``); labels are int64 0..9. ``None`` (default)
    means the whole split (50,000 training, 10,000 test images).

    There is no offline copy, so ``source`` is ``"auto"`` or ``"torchvision"``
    (the same thing here): without torchvision or internet this raises a
    ``RuntimeError`` that suggests running in Colab, or :func:`mnist` /
    :func:`mnist1d` instead. ``source="shipped"`` is a ``ValueError``.
    """
    if source not in _SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {_SOURCES}")
    if source == "shipped":
        raise ValueError("there is no shipped copy of CIFAR-10; " + _CIFAR_HELP)
    n_train, n_test = _check_sizes(n_train, n_test)
    dtype, device = _check_dtype(dtype), _check_device(device)
    try:
        arrays = _torchvision_splits("CIFAR10", _default_root(root), n_train, n_test)
    except _TooFew:
        raise
    except Exception as err:
        raise RuntimeError(f"could not load CIFAR-10 through torchvision ({type(err).__name__}: {err}). "
                           + _CIFAR_HELP) from err
    return _tensors(arrays, flatten, device, dtype)


# --------------------------------------------------------------------------- helpers


def _is_pm1(y: Tensor) -> bool:
    return y.is_floating_point() and bool(((y == 1) | (y == -1)).all())


def corrupt_labels(
    y: Tensor,
    fraction: float,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    exclude_true: bool = False,
    return_mask: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Replace a fraction of the labels by random ones (Zhang et al. 2017, "partially corrupted labels").

    Exactly :math:`m = \\operatorname{round}(\\text{fraction} \\cdot n)` examples,
    chosen uniformly at random without replacement, get a new label:

    - class indices (int): a label drawn uniformly from :math:`\\{0, \\dots, K-1\\}`
      (:math:`K` = ``num_classes``, default ``y.max() + 1``), as in Zhang et al.,
      so a new label equals the old one with probability :math:`1/K` and about
      :math:`m (1 - 1/K)` labels end up wrong; ``fraction=1`` gives their fully
      random labels. With ``exclude_true=True`` the new label is uniform over the
      :math:`K - 1` *other* classes, so exactly :math:`m` labels are wrong.
    - :math:`\\pm 1` labels (floating point): the sign of the chosen labels is
      flipped, so exactly :math:`m` labels are wrong (``exclude_true`` is implied).
      For Zhang et al.'s uniform replacement on two classes pass 0/1 integer
      labels with ``num_classes=2``.

    Deterministic for ``seed``; ``y`` itself is not modified.

    Returns
    -------
    The new labels (same dtype and device as ``y``), and with ``return_mask=True``
    also the boolean mask of the :math:`m` chosen examples.
    """
    if not isinstance(y, torch.Tensor) or y.ndim != 1:
        raise ValueError(f"y must be a 1-d tensor of labels, got {type(y).__name__} {getattr(y, 'shape', '')}")
    fraction = _finite(fraction, "fraction")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    g = _generator(seed)
    n = len(y)
    m = round(fraction * n)
    chosen = torch.randperm(n, generator=g)[:m]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[chosen] = True
    new = y.detach().clone()
    if y.is_floating_point():
        if not _is_pm1(y):
            raise ValueError("floating-point labels must all be +1 or -1; class labels must be integer tensors")
        if num_classes not in (None, 2):
            raise ValueError(f"±1 labels have 2 classes, got num_classes={num_classes}")
        new[chosen.to(y.device)] = -y[chosen.to(y.device)]
    else:
        if y.dtype == torch.bool or (n and int(y.min()) < 0):
            raise ValueError("class labels must be non-negative integers")
        K = (int(y.max()) + 1 if n else 1) if num_classes is None else _check_count(num_classes, "num_classes", 1)
        if n and int(y.max()) >= K:
            raise ValueError(f"labels go up to {int(y.max())} but num_classes={K}")
        if exclude_true:
            if K < 2:
                raise ValueError("exclude_true needs at least 2 classes")
            shift = torch.randint(1, K, (m,), generator=g)
            labels = (y[chosen.to(y.device)].cpu() + shift) % K
        else:
            labels = torch.randint(0, K, (m,), generator=g)
        new[chosen.to(y.device)] = labels.to(device=y.device, dtype=y.dtype)
    return (new, mask.to(y.device)) if return_mask else new


def train_test_split(
    X: Tensor, y: Tensor, *, test_fraction: float = 0.2, seed: int = 0, stratify: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A seeded random split into ``(X_train, y_train, X_test, y_test)`` (note the order).

    The test set has exactly :math:`\\operatorname{round}(\\text{test\\_fraction} \\cdot n)`
    examples (at least one of each set must remain). With ``stratify=True`` (class
    labels), every class contributes its share: the per-class quotas are the
    floors of ``test_fraction * count`` topped up, by largest remainder, to the
    same total. Both parts keep the original order of the examples.
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    test_fraction = _finite(test_fraction, "test_fraction")
    n = X.shape[0]
    n_test = round(test_fraction * n)
    if not 0 < test_fraction < 1 or not 1 <= n_test <= n - 1:
        raise ValueError(f"test_fraction={test_fraction} leaves {n_test} of {n} examples for testing; "
                         "each part needs at least one")
    g = _generator(seed)
    if not stratify:
        test_idx = torch.randperm(n, generator=g)[:n_test]
    else:
        labels = y.detach().cpu()
        if labels.ndim != 1:
            raise ValueError("stratify needs one label per example")
        classes, counts = torch.unique(labels, return_counts=True)
        share = counts.double() * test_fraction
        quota = share.floor().long()
        order = torch.argsort(share - quota, descending=True, stable=True)
        quota[order[: n_test - int(quota.sum())]] += 1
        parts = []
        for c, q in zip(classes, quota):
            members = torch.nonzero(labels == c).squeeze(1)
            parts.append(members[torch.randperm(len(members), generator=g)[: int(q)]])
        test_idx = torch.cat(parts)
    is_test = torch.zeros(n, dtype=torch.bool)
    is_test[test_idx] = True
    train_idx = torch.nonzero(~is_test).squeeze(1).to(X.device)
    test_idx = torch.nonzero(is_test).squeeze(1).to(X.device)
    return X[train_idx], y[train_idx.to(y.device)], X[test_idx], y[test_idx.to(y.device)]


def standardize(X_train: Tensor, X_test: Tensor | None = None, *, eps: float = 1e-8) -> tuple[Tensor, Tensor | None]:
    """Centre and scale every feature with the *training* statistics: :math:`(x - \\mu)/\\sigma`.

    :math:`\\mu, \\sigma` are the per-feature mean and population standard
    deviation over the training examples (dimension 0; images are standardised
    per pixel). Features with :math:`\\sigma \\le` ``eps`` (constant, e.g. MNIST's
    border pixels) are only centred. Returns ``(X_train, X_test)``, the second
    ``None`` when not given.
    """
    if X_train.shape[0] < 1:
        raise ValueError("X_train has no examples")
    if X_test is not None and X_test.shape[1:] != X_train.shape[1:]:
        raise ValueError(f"X_test's feature shape {tuple(X_test.shape[1:])} differs from X_train's "
                         f"{tuple(X_train.shape[1:])}")
    mean = X_train.mean(0)
    std = X_train.std(0, correction=0)
    std = torch.where(std > eps, std, torch.ones_like(std))
    return (X_train - mean) / std, None if X_test is None else (X_test - mean) / std


def select_classes(
    X: Tensor, y: Tensor, classes: Sequence[int], *, binary: bool = False
) -> tuple[Tensor, Tensor]:
    """Keep the examples of the listed classes and relabel them.

    Labels become ``0 .. len(classes)-1`` in the order listed (int64); with
    ``binary=True`` (exactly two classes) ``classes[0]`` becomes :math:`-1` and
    ``classes[1]`` :math:`+1`, in ``X``'s floating dtype. E.g. ``select_classes(X,
    y, (3, 8), binary=True)`` gives MNIST's 3-versus-8 problem with :math:`\\pm1` labels.
    """
    classes = [int(c) for c in classes]
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct and non-empty, got {classes}")
    if binary and len(classes) != 2:
        raise ValueError(f"binary=True needs exactly two classes, got {classes}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    new = torch.full_like(y, -1, dtype=torch.int64)
    for i, c in enumerate(classes):
        new[y == c] = i
    keep = new >= 0
    if not keep.any():
        raise ValueError(f"no example has a label in {classes}")
    labels = new[keep]
    if binary:
        dtype = X.dtype if X.is_floating_point() else torch.float32
        labels = (2 * labels - 1).to(dtype)
    return X[keep], labels
