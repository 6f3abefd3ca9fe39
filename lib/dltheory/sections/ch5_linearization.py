"""The glue of ``book/5-theory-to-algorithm/linearization.ipynb``: a wide network against its linearisation.

The notebook trains two-layer ReLU networks in NTK parametrisation
(:func:`dltheory.models.mlp` ``([d, m, 1], parametrization="ntk", bias=False)``,
whose infinite-width kernel is :func:`dltheory.ntk.relu_ntk` with ``depth=1``)
by full-batch gradient descent on the square loss, at several widths and
from several initialisations, and compares each trained network with two
predictions made before training:

* its linearisation at :math:`\\theta_0` trained the same way, in closed form
  with the empirical NTK (:func:`dltheory.ntk.kernel_regression` with
  ``step_size``; :func:`dltheory.ntk.linearize` is that model as a module);
* gradient descent with the *analytic* NTK, which no finite network has.

This module holds :func:`regression_data`, :func:`ntk_network`,
:func:`width_sweep` (the experiment, arrays ``(seeds, widths)``) and
:func:`slopes`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .. import data, models, ntk, stats, train
from .._checks import check_int, check_real, check_seed
from ..params import flat_parameters

__all__ = ["regression_data", "ntk_network", "width_sweep", "slopes", "COLUMNS"]

#: Every column :func:`width_sweep` returns, each an array ``(seeds, widths)``.
COLUMNS = ("loss", "lin_gap", "kernel_gap", "distance", "radius", "relative_distance")


def regression_data(n: int, n_test: int, d: int, *, seed: int, device="cpu") -> dict[str, torch.Tensor]:
    """Inputs uniform on the sphere of radius :math:`\\sqrt d`, targets from a random ReLU teacher.

    :func:`dltheory.data.teacher` (64 hidden units, regression, inputs on the
    unit sphere) draws ``n + n_test`` points; the inputs are scaled by
    :math:`\\sqrt d`, so that :math:`\\lVert x\\rVert^2/d = 1`, the normalisation of
    :func:`dltheory.ntk.relu_ntk`, and the targets are standardised with the
    training mean and deviation. Float64 throughout. Returns ``X``, ``y``
    (shape ``(n,)``) and ``X_test``.
    """
    n, n_test, d = (check_int(v, k, min=1) for v, k in ((n, "n"), (n_test, "n_test"), (d, "d")))
    X, f, _ = data.teacher(n + n_test, d, task="regression", inputs="sphere", seed=check_seed(seed),
                           dtype=torch.float64)
    X = X * math.sqrt(d)
    y = (f[:n] - f[:n].mean()) / f[:n].std()
    return {"X": X[:n].to(device), "y": y.to(device), "X_test": X[n:].to(device)}


def ntk_network(d: int, width: int, *, seed: int, device="cpu") -> torch.nn.Module:
    """``mlp([d, width, 1], parametrization="ntk", bias=False)`` in float64: :math:`f(x) = \\frac{\\sqrt2}{\\sqrt m} v^\\top \\operatorname{relu}(\\frac{\\sqrt 2}{\\sqrt d} W x)`.

    :math:`W` and :math:`v` standard normal and both trained; its NTK tends to
    ``relu_ntk(..., depth=1)`` (weight variance 2, no bias) as the width grows.
    """
    return models.mlp([d, width, 1], parametrization="ntk", bias=False, seed=check_seed(seed),
                      dtype=torch.float64, device=device)


def width_sweep(problem: dict, widths: Sequence[int], seeds: Sequence[int], *, lr: float,
                steps: int) -> dict[str, np.ndarray]:
    """Train :func:`ntk_network` at every width from every seed; compare with the two kernel predictions.

    Each run is ``steps`` steps of full-batch gradient descent with learning rate
    ``lr`` on the mean square loss (:func:`dltheory.train.fit`). Before training
    it records :math:`f_0` and the empirical NTK :math:`\\Theta_0` on the training
    and test inputs; after it, on the test inputs:

    * ``lin_gap``: :math:`\\lVert f_T - f^{\\text{lin}}_T\\rVert / \\lVert f_T - f_0\\rVert`,
      with :math:`f^{\\text{lin}}_T` the linearisation trained identically
      (``kernel_regression(Θ0, ..., t=steps, step_size=lr/n, f0_...)``);
    * ``kernel_gap``: :math:`\\lVert f_T - f^{\\infty}_T\\rVert / \\lVert f^{\\infty}_T - f_0\\rVert`,
      the same with the analytic kernel ``relu_ntk(depth=1)``;
    * ``distance``: :math:`\\lVert\\theta_T - \\theta_0\\rVert`, and ``radius``,
      the distance the analytic-kernel model travels,
      :math:`\\sqrt{\\alpha^\\top K^\\infty\\alpha}` (:func:`dltheory.ntk.kernel_weights`),
      which tends to :math:`\\sqrt{r_0^\\top (K^\\infty)^{-1} r_0}`, the least distance to a
      global minimum of the linearised model;
    * ``relative_distance``: :math:`\\lVert\\theta_T - \\theta_0\\rVert/\\lVert\\theta_0\\rVert`;
    * ``loss``: the final training loss.
    """
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    X, y, X_test = problem["X"], problem["y"], problem["X_test"]
    n, d = X.shape
    K = ntk.relu_ntk(X, depth=1)
    K_test = ntk.relu_ntk(X_test, X, depth=1)
    out = {key: np.zeros((len(seeds), len(widths))) for key in COLUMNS}
    for j, width in enumerate(widths):
        for i, seed in enumerate(seeds):
            net = ntk_network(d, width, seed=seed, device=X.device)
            theta0 = flat_parameters(net)
            with torch.no_grad():
                f0, f0_test = net(X).squeeze(-1), net(X_test).squeeze(-1)
            theta = ntk.empirical_ntk(net, X)
            theta_test = ntk.empirical_ntk(net, X_test, X)
            history = train.fit(net, X, y.unsqueeze(-1), loss="square", optimizer="gd", lr=lr, steps=steps,
                                record_every=steps)
            with torch.no_grad():
                f_test = net(X_test).squeeze(-1)
            gd = dict(t=steps, step_size=lr / n, f0_train=f0)
            f_lin = ntk.kernel_regression(theta, theta_test, y, f0_test=f0_test, **gd)
            f_inf = ntk.kernel_regression(K, K_test, y, f0_test=f0_test, **gd)
            alpha = ntk.kernel_weights(K, y, **gd)
            distance = float((flat_parameters(net) - theta0).norm())
            row = {
                "loss": float(history.last["loss"]),
                "lin_gap": float((f_test - f_lin).norm() / (f_test - f0_test).norm()),
                "kernel_gap": float((f_test - f_inf).norm() / (f_inf - f0_test).norm()),
                "distance": distance,
                "radius": float(torch.sqrt(alpha @ K @ alpha)),
                "relative_distance": distance / float(theta0.norm()),
            }
            for key, value in row.items():
                out[key][i, j] = value
    return out


def slopes(run: dict[str, np.ndarray], widths: Sequence[int], keys: Sequence[str]) -> dict[str, float]:
    """Log-log slope against the width of the mean over seeds of each column (:func:`dltheory.stats.loglog_slope`)."""
    return {key: stats.loglog_slope(np.asarray(widths, dtype=float), run[key].mean(axis=0)) for key in keys}
