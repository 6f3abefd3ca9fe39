"""Seeded synthetic data: separable sets, teacher networks, clusters, one-dimensional targets, two blobs.

Each generator draws from a local generator seeded with ``seed`` on the CPU in
float64 (see :mod:`dltheory.data._sampling`), then casts to ``dtype`` and moves
to ``device``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._checks import (check_bool, check_choice, check_device, check_dtype, check_int, check_probability,
                       check_real, check_seed)
from ._sampling import Device, in_ball, unit_directions
from .labels import corrupt_labels

__all__ = [
    "separable", "teacher", "teacher_signs", "clustered", "two_clusters", "square_wave", "square_wave_target",
    "sawtooth", "tent_map",
]


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
        :math:`\\gamma \\in (0, 1)` (the inputs lie in the unit ball).
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
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=1)
    margin = check_real(margin, "margin", min=0, max=1, min_open=True, max_open=True)
    sphere = check_bool(sphere, "sphere")
    method = check_choice(method, "method", ("rejection", "direct"))
    dtype, device = check_dtype(dtype), check_device(device)
    g = torch.Generator().manual_seed(check_seed(seed))
    w = unit_directions(1, d, g)[0]
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
            x = unit_directions(m, d, g) if sphere else in_ball(m, d, 1.0, g)
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
    return X.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype), w.to(device=device, dtype=dtype)


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
    biases make the classes unbalanced in general; if the teacher gives every
    input the same label (common on the sphere, whose inputs vary the output
    little), a ``ValueError`` says so rather than returning one class.

    Parameters
    ----------
    inputs
        ``"gaussian"``: :math:`x \\sim N(0, I_d)`; ``"sphere"``: uniform on the unit sphere.
    widths
        Hidden widths of the teacher (may be empty: a linear teacher).
    noise
        The noise std :math:`\\sigma \\ge 0` for regression, a label-noise fraction in
        :math:`[0, 1]` for classification.
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=1)
    task = check_choice(task, "task", ("regression", "binary", "classes"))
    inputs = check_choice(inputs, "inputs", ("gaussian", "sphere"))
    if task == "regression":
        noise = check_real(noise, "noise", min=0)
        k = check_int(outputs, "outputs", min=1)
    else:
        noise = check_probability(noise, "noise", open=False)
        k = check_int(num_classes, "num_classes", min=2) if task == "classes" else 1
    dtype, device = check_dtype(dtype), check_device(device)
    seed = check_seed(seed)
    g = torch.Generator().manual_seed(seed)

    from ..models import mlp

    model = mlp([d, *widths, k], activation=activation, parametrization=parametrization, seed=seed, dtype=dtype)
    model.requires_grad_(False).eval()
    X = unit_directions(n, d, g) if inputs == "sphere" else torch.randn(n, d, generator=g, dtype=torch.float64)
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
    if task != "regression" and n > 1 and bool((y == y[0]).all()):
        raise ValueError(f"the teacher (seed {seed}) gives all {n} inputs the same label: its biases outweigh the "
                         "variation of its output over the inputs, so there is nothing to classify. Use another "
                         "seed, more examples, or task='regression' and threshold f* yourself (at its median for "
                         "balanced classes)")
    if task != "regression" and noise > 0:
        y = corrupt_labels(y, noise, num_classes=k if task == "classes" else None,
                           seed=int(torch.randint(0, 2**31, (1,), generator=g)), exclude_true=True)
    return X.to(device), y.to(device), model.to(device)


def teacher_signs(n: int, d: int, *, inputs: str = "sphere", seed: int = 0, device: Device = "cpu",
                  dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Inputs and balanced labels :math:`\\pm 1`: a random teacher's outputs split at their median.

    .. math::  y_i = \\operatorname{sign}\\big(f^*(x_i) - \\operatorname{median}_j f^*(x_j)\\big),

    with :math:`f^*` the ReLU teacher of :func:`teacher` (64 hidden units,
    ``task="regression"``), so the labels depend on the input non-linearly and
    :math:`\\lfloor n/2 \\rfloor` of them are :math:`+1` (the lower median is
    labelled :math:`-1`). The sign of :math:`f^*` itself often gives one class
    only on the sphere, whose inputs move the teacher's output little. Inputs
    uniform on the unit sphere by default (Du et al.'s setting; ``"gaussian"``
    for :math:`N(0, I_d)`). Teacher and median are computed in float64, then
    cast to ``dtype``. Returns ``(X, y)``.
    """
    X, f, _ = teacher(check_int(n, "n", min=2), d, task="regression", inputs=inputs, seed=seed, dtype=torch.float64)
    y = torch.where(f > f.median(), 1.0, -1.0).double()
    dtype = check_dtype(dtype)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)


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
    has diameter :math:`2\\lambda_r\\delta`. Li & Liang ask for
    :math:`\\operatorname{diam} \\le \\lambda\\delta'` with :math:`\\lambda \\le 1/(8l)`,
    :math:`\\delta'` the distance between supports. The default
    :math:`\\lambda_r = 1/(16 l)` gives diameter :math:`\\delta/(8l)`, which is
    :math:`\\delta'/(8l - 1)`: a hair above their bound in the worst case (pairs of
    centres exactly :math:`\\delta` apart); ``spread`` :math:`\\le 1/(16l + 2)`
    meets it for every pair.

    Points are uniform in their ball; the ``n`` points are spread over the
    :math:`kl` clusters as evenly as possible (cluster ``c`` gets ``n // kl`` or one
    more) and shuffled. Cluster ``c = i * l + j`` belongs to class ``i``.

    Parameters
    ----------
    separation
        :math:`\\delta > 0`.
    spread
        :math:`\\lambda_r \\in [0, \\tfrac12)`, so that the clusters do not touch.

    Returns
    -------
    X, y
        ``(n, dim)`` inputs and ``(n,)`` int64 class indices; with
        ``return_centers=True`` also the centres ``(classes, clusters_per_class, dim)``
        and each point's cluster index ``c`` (int64, ``(n,)``).
    """
    n = check_int(n, "n", min=1)
    k = check_int(classes, "classes", min=2)
    l = check_int(clusters_per_class, "clusters_per_class", min=1)  # noqa: E741
    dim = check_int(dim, "dim", min=1)
    separation = check_real(separation, "separation", min=0, min_open=True)
    spread = 1.0 / (16 * l) if spread is None else check_real(spread, "spread", min=0, max=0.5, max_open=True)
    return_centers = check_bool(return_centers, "return_centers")
    dtype, device = check_dtype(dtype), check_device(device)
    g = torch.Generator().manual_seed(check_seed(seed))
    centres = _centres(k * l, dim, separation, g)
    cluster = torch.arange(n) % (k * l)
    cluster = cluster[torch.randperm(n, generator=g)]
    X = centres[cluster] + in_ball(n, dim, spread * separation, g)
    y = cluster // l
    out: tuple[Tensor, ...] = (X.to(device=device, dtype=dtype), y.to(device))
    if return_centers:
        out += (centres.reshape(k, l, dim).to(device=device, dtype=dtype), cluster.to(device))
    return out


# --------------------------------------------------------------------------- one-dimensional targets


def _points(n: int, low: float, high: float, grid: bool, g: torch.Generator) -> Tensor:
    """``n`` points of ``[low, high]`` in float64: uniform draws, or equally spaced with both ends (``grid``)."""
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
    n, periods = check_int(n, "n", min=1), check_int(periods, "periods", min=1)
    a, b = (check_real(v, f"interval[{i}]") for i, v in enumerate(interval))
    if not a < b:
        raise ValueError(f"interval must be (a, b) with a < b, got {interval}")
    low, high = check_real(low, "low"), check_real(high, "high")
    grid = check_bool(grid, "grid")
    dtype, device = check_dtype(dtype), check_device(device)
    x = _points(n, a, b, grid, torch.Generator().manual_seed(check_seed(seed))).to(dtype).double()
    y = square_wave_target(x, periods=periods, interval=(a, b), low=low, high=high)
    return x.unsqueeze(1).to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def tent_map(x: Tensor, iterations: int = 1) -> Tensor:
    """The tent map :math:`t(x) = 2 \\min(x, 1 - x)` on :math:`[0, 1]`, applied ``iterations`` times.

    :math:`t^{k}` is a sawtooth with :math:`2^{k-1}` teeth (:math:`2^k` linear pieces,
    maxima 1 at :math:`x = (2j + 1)/2^k`). Since
    :math:`t(x) = 2\\,\\mathrm{relu}(x) - 4\\,\\mathrm{relu}(x - \\tfrac12)` on
    :math:`[0, 1]`, a ReLU network of depth :math:`O(k)` and width 2 represents
    :math:`t^k` exactly, while a network of depth :math:`O(k^{1/3})` needs
    exponentially many units to approximate it (Telgarsky 2016).
    """
    iterations = check_int(iterations, "iterations", min=0)
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
    n, iterations = check_int(n, "n", min=1), check_int(iterations, "iterations", min=1)
    grid = check_bool(grid, "grid")
    dtype, device = check_dtype(dtype), check_device(device)
    x = _points(n, 0.0, 1.0, grid, torch.Generator().manual_seed(check_seed(seed))).to(dtype).double()
    y = tent_map(x, iterations)
    return x.unsqueeze(1).to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


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

    :math:`\\Delta \\ge 0` = ``distance`` between the means, :math:`\\sigma \\ge 0` = ``std``.
    ``ceil(n/2)`` examples get :math:`+1` and the rest :math:`-1`, in random order.
    Returns ``(n, dim)`` inputs and ``(n,)`` labels (``dtype``).
    """
    n, dim = check_int(n, "n", min=1), check_int(dim, "dim", min=1)
    distance, std = check_real(distance, "distance", min=0), check_real(std, "std", min=0)
    dtype, device = check_dtype(dtype), check_device(device)
    g = torch.Generator().manual_seed(check_seed(seed))
    y = torch.where(torch.arange(n) < (n + 1) // 2, 1.0, -1.0).double()
    y = y[torch.randperm(n, generator=g)]
    X = std * torch.randn(n, dim, generator=g, dtype=torch.float64)
    X[:, 0] += y * distance / 2
    return X.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)
