"""The glue of ``book/4-mathematical-theories/flat-minima.ipynb``: Langevin chains, Gibbs masses, batch size and sharpness.

* :func:`run_chains`: many Langevin chains on a :class:`dltheory.langevin.Potential`,
  all started in one minimum, recorded over the second half of the run;
* :func:`compare_masses`: what the chains say against the exact Gibbs measure
  (quadrature) and Laplace's approximation;
* :func:`temperature_sweep`: :func:`compare_masses` at several temperatures, and
  :func:`quadrature_slope`, the log-log slope of an exact mass ratio against
  :math:`T`;
* :func:`batch_sharpness`: small-batch SGD against full-batch gradient descent
  at the same step size, stopped at the same training loss, each scored by the
  top eigenvalue of the Hessian (:func:`dltheory.curvature.top_eigenvalues`);
* :func:`mass_panel` and :func:`temperature_explorer`: the Gibbs density and the
  mass of each well at one temperature, and a static slider over temperatures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .. import curvature, data, langevin, models, stats, train
from .._checks import check_int, check_real, check_seed
from ..widgets import Panel, static_explorer

__all__ = ["run_chains", "compare_masses", "temperature_sweep", "quadrature_slope", "digits_subset",
           "batch_sharpness", "mass_panel", "temperature_explorer", "RECORD_EVERY"]

#: Steps between two recorded positions of every chain.
RECORD_EVERY = 50


def run_chains(potential: langevin.Potential, temperature: float, *, start, chains: int, steps: int,
               step: float, seed: int) -> langevin.LangevinPath:
    """``chains`` Euler–Maruyama chains (:func:`dltheory.langevin.euler_maruyama`) started at the point ``start``.

    Positions are recorded every :data:`RECORD_EVERY` steps over the second half
    of the run; the first half is the burn-in, in which the chains leave the
    starting well.
    """
    start = np.asarray(start, dtype=np.float64).reshape(1, potential.dim)
    x0 = np.repeat(start, check_int(chains, "chains", min=1), axis=0)
    steps = check_int(steps, "steps", min=2 * RECORD_EVERY)
    return langevin.euler_maruyama(potential.grad, x0, step=step, temperature=temperature, steps=steps,
                                   seed=check_seed(seed), burn_in=steps // 2, record_every=RECORD_EVERY)


def compare_masses(potential: langevin.Potential, path: langevin.LangevinPath, temperature: float) -> dict:
    """The mass of each well three ways, normalised: ``sampled`` (fraction of the recorded positions), ``exact`` (quadrature), ``laplace``.

    Also ``ratio_*``: the last well's mass over the first's (flat over sharp,
    or flat set over isolated minimum), for each of the three.
    """
    sampled = langevin.well_fractions(potential, path.samples)
    exact = langevin.gibbs_masses(potential, temperature)
    laplace = potential.laplace(temperature)
    laplace = laplace / laplace.sum()
    out = {"sampled": sampled, "exact": exact, "laplace": laplace}
    out.update({f"ratio_{k}": float(v[-1] / v[0]) for k, v in list(out.items())})
    return out


def temperature_sweep(potential: langevin.Potential, temperatures: Sequence[float], *, start, chains: int,
                      steps: int, step: float, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """:func:`compare_masses` at each temperature (one seed each): arrays ``ratio_sampled``, ``ratio_exact``, ``ratio_laplace``."""
    temperatures = [check_real(T, "temperature", min=0.0, min_open=True) for T in temperatures]
    if len(seeds) != len(temperatures):
        raise ValueError(f"give one seed per temperature: {len(temperatures)} temperatures, {len(seeds)} seeds")
    rows = [compare_masses(potential, run_chains(potential, T, start=start, chains=chains, steps=steps, step=step,
                                                 seed=s), T) for T, s in zip(temperatures, seeds)]
    out = {key: np.array([row[key] for row in rows]) for key in ("ratio_sampled", "ratio_exact", "ratio_laplace")}
    out["temperatures"] = np.asarray(temperatures)
    return out


def quadrature_slope(potential: langevin.Potential, temperatures: Sequence[float]) -> float:
    """The log-log slope against :math:`T` of the exact mass ratio last well / first well (:func:`dltheory.stats.loglog_slope`)."""
    ratios = [m[-1] / m[0] for m in (langevin.gibbs_masses(potential, T) for T in temperatures)]
    return stats.loglog_slope(np.asarray(temperatures, dtype=float), np.asarray(ratios))


def digits_subset(n: int, *, dtype: torch.dtype = torch.float64, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` of scikit-learn's digits (:func:`dltheory.data.digits`), inputs centred by their mean."""
    X, y = data.digits(dtype=dtype, device=device)
    n = check_int(n, "n", min=1, max=X.shape[0])
    X, y = X[:n], y[:n]
    return X - X.mean(dim=0), y


def batch_sharpness(X, y, *, width: int, batch_sizes: Sequence[int | None], seeds: Sequence[int], lr: float,
                    target_loss: float, max_steps: int, record_every: int = 5) -> dict[str, np.ndarray]:
    """Train an MLP ``d -> width -> classes`` from each seed with each batch size, to the same training loss; measure the sharpness.

    Every run is :func:`dltheory.train.fit` with the cross-entropy loss and step
    ``lr`` (``"gd"`` for ``None``, full batch; ``"sgd"`` with that batch size
    otherwise; the same initialisation for every batch size of a seed), stopped
    at the first record point (every ``record_every`` steps) at which the full
    training loss is at most ``target_loss``. The sharpness is the largest
    eigenvalue of the Hessian of the full training loss there
    (:func:`dltheory.curvature.top_eigenvalues`, Lanczos).

    Returns arrays ``(len(seeds), len(batch_sizes))``: ``sharpness``, ``loss``
    (at the stop) and ``steps`` (``max_steps`` if the target was not reached).
    """
    classes = int(y.max()) + 1
    width = check_int(width, "width", min=1)
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    target_loss = check_real(target_loss, "target_loss", min=0.0, min_open=True)
    out = {key: np.zeros((len(seeds), len(batch_sizes))) for key in ("sharpness", "loss", "steps")}
    for i, seed in enumerate(seeds):
        for j, batch in enumerate(batch_sizes):
            net = models.mlp([X.shape[1], width, classes], seed=check_seed(seed), dtype=X.dtype, device=X.device)
            history = train.fit(net, X, y, loss="ce", optimizer="gd" if batch is None else "sgd", lr=lr,
                                batch_size=batch, steps=max_steps, seed=seed, record_every=record_every,
                                stop_when=lambda row: row["loss"] <= target_loss, progress=False)
            top = curvature.top_eigenvalues(net, "ce", X, y, k=1, seed=seed)
            out["sharpness"][i, j] = float(top.values[0])
            out["loss"][i, j] = float(history["loss"][-1])
            out["steps"][i, j] = float(history["step"][-1])
    return out


def mass_panel(potential: langevin.Potential, temperature: float, *, grid=None) -> Panel:
    """The explorer's view at one temperature: the potential and its Gibbs density (left), the mass of each well (right).

    Right: the exact masses (:func:`dltheory.langevin.gibbs_masses`) beside
    Laplace's (:func:`dltheory.langevin.laplace_mass`, normalised). ``values``:
    ``T`` and the exact mass of each well, keyed by its name.
    """
    import matplotlib.pyplot as plt

    temperature = check_real(temperature, "temperature", min=0.0, min_open=True)
    grid = np.linspace(-2.0, 2.0, 401) if grid is None else np.asarray(grid, dtype=float)
    exact = langevin.gibbs_masses(potential, temperature)
    laplace = potential.laplace(temperature)
    laplace = laplace / laplace.sum()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.6, 1]})
    left.plot(grid, potential.profile(grid), color="0.3", label="$V$")
    left.set(xlabel="$x$", ylabel="$V(x)$", ylim=(0, 2.5), title=f"T = {temperature:.3g}")
    density = left.twinx()
    p = langevin.gibbs_density(potential, grid, temperature)
    density.fill_between(grid, p, color="C0", alpha=0.35, linewidth=0)
    density.set(ylabel="Gibbs density", ylim=(0, 1.1 * float(p.max())))
    for b in potential.boundaries:
        left.axvline(b, color="0.5", linestyle=":", linewidth=1)
    left.legend(loc="upper center", fontsize="small")
    x = np.arange(len(potential.wells))
    right.bar(x - 0.2, exact, width=0.4, color="C0", label="exact (quadrature)")
    right.bar(x + 0.2, laplace, width=0.4, color="C1", alpha=0.7, label="Laplace")
    right.set(xticks=x, xticklabels=potential.wells, ylim=(0, 1), ylabel="Gibbs mass of the well")
    right.legend(fontsize="small", loc="upper left")
    return Panel(fig, {"T": temperature, **{w: float(m) for w, m in zip(potential.wells, exact)}})


def temperature_explorer(potential: langevin.Potential, temperatures: Sequence[float]):
    """A slider over ``temperatures`` drawing :func:`mass_panel` at each (static-capable, :func:`dltheory.widgets.static_explorer`)."""
    return static_explorer(lambda T: mass_panel(potential, T), T=tuple(float(t) for t in temperatures))
