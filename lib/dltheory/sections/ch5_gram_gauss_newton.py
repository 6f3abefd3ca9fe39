"""The glue of ``book/5-theory-to-algorithm/gram-gauss-newton.ipynb``: GGN against width and against SGD.

The notebook runs :class:`dltheory.train.GramGaussNewton` (Cai et al. 2019)
in two settings. On a few points of the sphere with a wide two-layer network
in the NTK parametrisation it runs the full-batch method (:math:`\\lambda = 1`,
:math:`\\alpha = 0`) to round-off and reads the quadratic constant
:math:`K_t = R_{t+1}/R_t^2` against the width, beside gradient descent's
linear rate. On scikit-learn's diabetes data it races the stable mini-batch
method against GD, SGD and Adam, by epochs and by the cost model of
:mod:`dltheory.gauss_newton`. This module holds:

* :func:`sphere_regression` and :func:`network`: the data and the network;
* :func:`half_sse`: :math:`R = \\frac12\\sum_i (f(x_i) - y_i)^2`;
* :func:`ggn_losses` and :func:`gd_losses`: :math:`R_0, \\dots, R_T` of one run;
* :func:`width_sweep`: both methods at every width from every seed;
* :func:`race`: the optimizers on one data set, by epoch and by cost;
* :func:`width_panel` and :func:`width_explorer`: a slider over the widths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from .. import data, gauss_newton, models, ntk, train
from .._checks import check_choice, check_int, check_real, check_seed, check_Xy
from ..widgets import Panel, static_explorer

__all__ = ["WEIGHT_VAR", "sphere_regression", "network", "half_sse", "ggn_losses", "gd_losses", "gram_extremes",
           "width_sweep", "geometric_rate", "first_below", "race", "width_panel", "width_explorer"]

#: The NTK weight variance of each activation: 4 for tanh (pre-activations of
#: variance 4/d, so the network is clearly non-linear), He's 2 for ReLU.
WEIGHT_VAR = {"tanh": 4.0, "relu": 2.0}


def sphere_regression(n: int, d: int, *, seed: int, dtype: torch.dtype = torch.float64,
                      device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` inputs uniform on the unit sphere of :math:`\\mathbb R^d` and real targets of mean 0, variance 1.

    The targets are a random ReLU teacher's outputs (:func:`dltheory.data.teacher`,
    64 hidden units), standardised over the ``n`` points.
    """
    X, f, _ = data.teacher(check_int(n, "n", min=2), check_int(d, "d", min=1), task="regression",
                           inputs="sphere", seed=check_seed(seed), dtype=torch.float64)
    y = (f - f.mean()) / f.std(correction=0)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)


def network(d: int, width: int, *, activation: str = "tanh", seed: int, dtype: torch.dtype = torch.float64,
            device="cpu") -> torch.nn.Sequential:
    """A two-layer network :math:`f(x) = \\sqrt{v/m}\\, a^\\top \\sigma(\\sqrt{v/d}\\,Wx)` in the NTK parametrisation.

    :func:`dltheory.models.mlp` ``([d, m, 1], parametrization="ntk", bias=False)``
    with weight variance :math:`v` = :data:`WEIGHT_VAR` ``[activation]``; all
    entries of :math:`W` and :math:`a` are standard normal and all are trained.
    """
    check_choice(activation, "activation", tuple(WEIGHT_VAR))
    return models.mlp([check_int(d, "d", min=1), check_int(width, "width", min=1), 1], activation=activation,
                      bias=False, parametrization="ntk", weight_var=WEIGHT_VAR[activation], seed=check_seed(seed),
                      dtype=dtype, device=device)


def half_sse(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """:math:`R = \\frac12\\sum_i (f(x_i) - y_i)^2`, the loss of the theorem (a sum, not the library's mean)."""
    with torch.no_grad():
        return 0.5 * float((model(X).reshape(-1) - y.reshape(-1)).pow(2).sum())


def ggn_losses(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int) -> np.ndarray:
    """:math:`R_0, \\dots, R_T` of full-batch Gram-Gauss-Newton with ``lr=1``, ``lam=1``, ``damping=0``.

    The model is trained in place.
    """
    steps = check_int(steps, "steps", min=1)
    opt = train.GramGaussNewton(model, lr=1.0, lam=1.0, damping=0.0)
    out = [half_sse(model, X, y)]
    for _ in range(steps):
        opt.step(X, y)
        out.append(half_sse(model, X, y))
    return np.asarray(out)


def gram_extremes(model: torch.nn.Module, X: torch.Tensor) -> tuple[float, float]:
    """The least and the largest eigenvalue of the empirical NTK Gram matrix :math:`JJ^\\top` on ``X``."""
    K = ntk.empirical_ntk(model, X).reshape(X.shape[0], X.shape[0])
    eig = torch.linalg.eigvalsh(K)
    return float(eig[0]), float(eig[-1])


def gd_losses(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int,
              step_size: float) -> np.ndarray:
    """:math:`R_0, \\dots, R_T` of gradient descent :math:`w \\leftarrow w - \\eta\\nabla R(w)` on the sum :math:`R`.

    A plain loop (``torch.optim.SGD`` on :func:`half_sse`): at these sizes
    :func:`dltheory.train.fit`'s per-step record would cost more than the
    step. The model is trained in place.
    """
    steps = check_int(steps, "steps", min=1)
    step_size = check_real(step_size, "step_size", min=0.0, min_open=True)
    opt = torch.optim.SGD(model.parameters(), lr=step_size)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (model(X).reshape(-1) - y.reshape(-1)).pow(2).sum()
        loss.backward()
        out.append(float(loss.detach()))
        opt.step()
    out.append(half_sse(model, X, y))
    return np.asarray(out)


def geometric_rate(losses: Sequence[float]) -> float:
    """The mean contraction per step over the second half of a run, :math:`(R_T/R_{T/2})^{1/(T - T/2)}`."""
    R = np.asarray(losses, dtype=float)
    if R.ndim != 1 or R.size < 3 or (R <= 0).any():
        raise ValueError("losses must be a 1-d sequence of at least three positive values")
    half = (R.size - 1) // 2
    return float((R[-1] / R[half]) ** (1.0 / (R.size - 1 - half)))


def first_below(losses: Sequence[float], level: float) -> int | None:
    """The first step :math:`t` with :math:`R_t <` ``level``, or ``None``."""
    below = np.flatnonzero(np.asarray(losses, dtype=float) < level)
    return int(below[0]) if below.size else None


def width_sweep(X, y, widths: Sequence[int], seeds: Sequence[int], *, steps: int, gd_steps: int,
                activation: str = "tanh", floor: float = 1e-24) -> dict:
    """Full-batch GGN and gradient descent from the same initialisations, at every width.

    Gradient descent takes the step :math:`\\eta = 1/\\lambda_{\\max}` of the
    initial Gram matrix, the largest for which the linearised model
    contracts every direction monotonically; its loss then falls at best like
    :math:`(1 - \\eta\\lambda_{\\min})^{2t}`.

    Returns
    -------
    dict
        ``widths``; arrays ``(seeds, widths)``: ``K_max`` (the largest
        :func:`dltheory.gauss_newton.quadratic_constants` of the GGN run,
        ``floor`` as given), ``lam_min``, ``lam_max`` (initial Gram),
        ``gd_rate`` (:func:`geometric_rate` of the GD run) and
        ``gd_bound`` :math:`(1 - \\lambda_{\\min}/\\lambda_{\\max})^2`;
        arrays ``(seeds, widths, steps + 1)`` ``ggn`` and
        ``(seeds, widths, gd_steps + 1)`` ``gd`` of the losses :math:`R_t`;
        and ``K``, a list over seeds of lists over widths of every kept :math:`K_t`.
    """
    X, y = check_Xy(X, y)
    widths = [check_int(m, "width", min=1) for m in widths]
    seeds = [check_seed(s) for s in seeds]
    if not widths or not seeds:
        raise ValueError("width_sweep needs at least one width and one seed")
    steps, gd_steps = check_int(steps, "steps", min=1), check_int(gd_steps, "gd_steps", min=2)
    S, W = len(seeds), len(widths)
    out = {key: np.zeros((S, W)) for key in ("K_max", "lam_min", "lam_max", "gd_rate", "gd_bound")}
    out["ggn"], out["gd"] = np.zeros((S, W, steps + 1)), np.zeros((S, W, gd_steps + 1))
    out["K"] = [[None] * W for _ in range(S)]
    for i, seed in enumerate(seeds):
        for j, m in enumerate(widths):
            kw = dict(activation=activation, seed=seed, dtype=X.dtype, device=X.device)
            net = network(X.shape[1], m, **kw)
            lo, hi = gram_extremes(net, X)
            out["lam_min"][i, j], out["lam_max"][i, j] = lo, hi
            out["gd_bound"][i, j] = (1 - lo / hi) ** 2
            out["ggn"][i, j] = ggn_losses(net, X, y, steps)
            K = gauss_newton.quadratic_constants(out["ggn"][i, j], floor=floor)
            out["K"][i][j] = K
            out["K_max"][i, j] = K.max() if K.size else np.nan
            out["gd"][i, j] = gd_losses(network(X.shape[1], m, **kw), X, y, gd_steps, 1.0 / hi)
            out["gd_rate"][i, j] = geometric_rate(out["gd"][i, j])
    out["widths"] = np.asarray(widths)
    return out


def race(X, y, width: int, *, seed: int, methods: Mapping[str, Mapping], epochs: Mapping[str, int]) -> dict:
    """Train the same network with several optimizers and record the full training loss after every epoch.

    Parameters
    ----------
    methods
        ``name -> options``: ``optimizer`` (``"gd"``, ``"sgd"``, ``"adam"`` or
        ``"ggn"``), ``batch`` (``None`` for the full batch), and ``lr`` (first
        order) or ``lam``, ``damping`` (GGN, with ``lr = 1``).
    epochs
        ``name -> epochs`` (passes over the data) for each method.

    Returns
    -------
    dict
        ``params`` (:math:`P`) and per method a dict with ``epoch``, ``flops``
        (:func:`dltheory.gauss_newton.cumulative_flops` at each record) and
        ``loss``, the library's mean loss :math:`\\frac{1}{2n}\\sum_i (f(x_i) - y_i)^2`.
    """
    X, y = check_Xy(X, y)
    n, d = X.shape
    seed = check_seed(seed)
    out: dict = {}
    for name, opts in methods.items():
        kind = check_choice(opts["optimizer"], "optimizer", gauss_newton.METHODS)
        b = n if opts.get("batch") is None else check_int(opts["batch"], "batch", min=1, max=n)
        per_epoch = -(-n // b)
        steps = check_int(epochs[name], "epochs", min=1) * per_epoch
        net = network(d, width, seed=seed, dtype=X.dtype, device=X.device)
        P = sum(p.numel() for p in net.parameters())
        if kind == "ggn":
            optimizer = train.GramGaussNewton(net, lr=1.0, lam=opts.get("lam", 1.0), damping=opts.get("damping"))
            kw = {"optimizer": optimizer}
        else:
            kw = {"optimizer": kind, "lr": opts["lr"]}
        history = train.fit(net, X, y, loss="square", steps=steps, batch_size=None if b == n else b, seed=seed,
                            record_every=per_epoch, progress=False, **kw)
        step = np.asarray(history["step"])
        cost = gauss_newton.cumulative_flops("sgd" if kind == "gd" else kind, b, P, steps, n=n)
        out[name] = {"epoch": step / per_epoch, "flops": cost[step], "loss": np.asarray(history["loss"])}
        out["params"] = P
    return out


def width_panel(sweep: dict, m: int) -> Panel:
    """The explorer's view at width ``m`` of a :func:`width_sweep`.

    Left: the loss :math:`R_t` of GGN (solid) and of gradient descent (dashed)
    from every initialisation at width ``m``, against the step. Right: the
    largest quadratic constant :math:`K_t` of GGN against the width (geometric
    mean and range over the initialisations) with a :math:`1/m` guide, and
    GD's measured contraction per step on a second axis; width ``m`` marked.

    Returns the figure and ``values``: ``m``, ``K`` (geometric mean of
    ``K_max`` at ``m``) and ``gd_rate`` (mean at ``m``).
    """
    import matplotlib.pyplot as plt

    widths = [int(w) for w in sweep["widths"]]
    if m not in widths:
        raise ValueError(f"m must be one of the sweep's widths {widths}, got {m!r}")
    j = widths.index(m)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i in range(sweep["ggn"].shape[0]):
        ggn, gd = sweep["ggn"][i, j], sweep["gd"][i, j]
        left.semilogy(np.arange(1, ggn.size + 1), ggn, "-o", markersize=3, color="C0",
                      label="GGN" if i == 0 else None)
        left.semilogy(np.arange(1, gd.size + 1), gd, "--", color="C3", label="GD" if i == 0 else None)
    left.set_xscale("log")
    left.set(xlabel="step t + 1", ylabel=r"$R_t$", title=f"width m = {m}", ylim=(1e-32, 1e3))
    left.legend(fontsize="small", loc="lower left")
    x = np.asarray(widths, dtype=float)
    K = sweep["K_max"]
    geo = np.exp(np.log(K).mean(axis=0))
    right.loglog(x, geo, "-o", markersize=3, color="C0", label=r"GGN: largest $K_t$")
    right.fill_between(x, K.min(axis=0), K.max(axis=0), color="C0", alpha=0.2, linewidth=0)
    right.loglog(x, geo[0] * x[0] / x, ":", color="0.4", label=r"$\propto 1/m$")
    right.loglog([m], [geo[j]], "o", markersize=9, color="C0", alpha=0.6)
    right.set(xlabel="width $m$", ylabel=r"$K_t = R_{t+1}/R_t^2$")
    twin = right.twinx()
    rate = sweep["gd_rate"].mean(axis=0)
    twin.semilogx(x, rate, "--s", markersize=3, color="C3", label="GD: contraction per step")
    twin.semilogx([m], [rate[j]], "s", markersize=9, color="C3", alpha=0.6)
    twin.set(ylabel="GD's loss ratio per step", ylim=(min(0.9, rate.min() - 0.01), 1.0))
    handles = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    right.legend(handles=handles, fontsize="small", loc="lower left")
    values = {"m": m, "K": float(geo[j]), "gd_rate": float(rate[j])}
    return Panel(fig, values)


def width_explorer(sweep: dict):
    """A slider over the widths of a :func:`width_sweep`, drawing :func:`width_panel` at each.

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are
    drawn when the notebook runs, so the slider also moves in the rendered book.
    """
    return static_explorer(lambda m: width_panel(sweep, m), m=tuple(int(w) for w in sweep["widths"]))
