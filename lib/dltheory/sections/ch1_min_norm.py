"""The explorer of ``book/1-three-questions/min-norm.ipynb``: where GD goes from a random start.

Gradient descent on least squares from :math:`W_0` converges to
:math:`W^+ + W_0(I - X^+X)` (:func:`dltheory.linear.gd_limit`): the larger the
initial scale, the farther the limit from the minimum-norm solution and the
worse its test error.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import linear
from .._checks import check_real
from ..widgets import Panel, static_explorer

__all__ = ["init_scale_panel", "init_scale_explorer", "SIGMA_GRID"]

SIGMA_GRID = tuple(float(s) for s in np.logspace(-2, 1, 16))  # the explorer's values of the initial scale


def init_scale_panel(problem: linear.LinearTeacher, sigma: float, *, seed: int = 1, steps: int = 40) -> Panel:
    """GD from a random start of scale ``sigma``: where it goes and what that costs.

    Left: the distance to the minimum-norm solution along GD, which levels off at
    the norm of the start's null-space component. Right: the test error of the
    GD limit against the initial scale, with ``sigma`` marked.
    """
    sigma = check_real(sigma, "sigma", min=0.0)
    k, d = problem.W_star.shape
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(k, d, generator=g, dtype=torch.float64).to(problem.X.device)
    W_plus = linear.min_norm_solution(problem.X, problem.Y)
    run = linear.gradient_descent(problem.X, problem.Y, sigma * direction, steps=steps)
    dist = run.distances(W_plus).cpu().numpy()
    # The GD limit is affine in the scale of the start: W+ + s * (null-space part of the direction).
    null_direction = linear.gd_limit(problem.X, problem.Y, direction) - W_plus
    null_norm = sigma * torch.linalg.norm(null_direction).item()

    sigmas = np.geomspace(0.01, 10, 31)
    errors = [problem.test_error(W_plus + s * null_direction) for s in sigmas]
    error_here = problem.test_error(run.final)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    # a wide, pale curve: the dashed level it settles on stays visible on top of it
    left.plot(run.steps, dist, linewidth=5, alpha=0.5, label="GD")
    if null_norm > 0:
        left.axhline(null_norm, linestyle="--", color="C1", label=r"$\|W_0(I-X^+X)\|$")
    left.set(xlabel="step", ylabel=r"$\|W_t - W^+\|_F$", title=f"start of scale {sigma:.3g}", ylim=(0, None))
    left.legend()
    right.loglog(sigmas, errors, color="C2", label="GD limit")
    right.axhline(problem.test_error(W_plus), linestyle="--", color="C0", label="minimum norm")
    right.plot([max(sigma, sigmas[0])], [error_here], "o", color="C3", label="this start")
    right.set(xlabel=r"initial scale $\sigma$", ylabel="test MSE", title="test error of the limit")
    right.legend()
    values = {"sigma": float(sigma), "final_distance": float(dist[-1]), "null_norm": null_norm, "test_error": error_here}
    return Panel(fig, values)


def init_scale_explorer(problem: linear.LinearTeacher, grid=SIGMA_GRID):
    """A slider over the initial scale, drawing :func:`init_scale_panel` at every value of ``grid``.

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are drawn
    when the notebook runs, so the slider also moves in the rendered book.
    """
    return static_explorer(lambda sigma: init_scale_panel(problem, sigma), sigma=grid)
