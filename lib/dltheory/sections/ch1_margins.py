"""The explorer of ``book/1-three-questions/margins.ipynb``: the regularisation path against the SVM.

As :math:`\\lambda \\to 0` the minimiser :math:`w_\\lambda` of the exponential loss plus
:math:`\\frac\\lambda2\\lVert w\\rVert^2` turns towards the hard-margin SVM direction
(Rosset, Zhu, Hastie 2004) while its norm grows like :math:`\\log(1/\\lambda)`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .._checks import check_real
from ..implicit_bias import angle_between, max_margin_direction, regularized_minimizer
from ..widgets import Panel, static_explorer

__all__ = ["regularization_panel", "regularization_explorer", "LAMBDA_GRID"]

LAMBDA_GRID = tuple(10.0 ** (k / 2) for k in range(-12, -1))  # the explorer's values of lambda, 1e-6 to 1e-1


def regularization_panel(X, y, lam: float, *, lams: Sequence[float] | None = None) -> Panel:
    """The regularised minimiser :math:`w_\\lambda` against the hard-margin SVM, as :math:`\\lambda` varies.

    As :math:`\\lambda \\to 0` the direction of :math:`w_\\lambda` tends to that of
    the SVM solution :math:`\\hat w` (Rosset, Zhu, Hastie 2004) and its norm
    grows like :math:`\\lVert \\hat w\\rVert \\log(1/\\lambda)`: the ridge path
    retraces gradient descent's path to infinity, with :math:`1/\\lambda` in the
    role of time. Left: the angle between :math:`w_\\lambda` and :math:`\\hat w`;
    right: :math:`\\lVert w_\\lambda\\rVert` against :math:`\\log_{10}(1/\\lambda)`
    with a line of the predicted slope :math:`\\lVert\\hat w\\rVert \\ln 10`. The
    chosen ``lam`` is marked.

    Returns
    -------
    Panel
        The figure and ``values``: ``lam``, ``angle`` (degrees), ``norm``.
    """
    lam = check_real(lam, "lam", min=0.0, min_open=True)
    lams = np.geomspace(1e-6, 1e-1, 26) if lams is None else np.asarray(lams, dtype=np.float64)
    w_hat = max_margin_direction(X, y).numpy()
    path = [regularized_minimizer(X, y, float(l)).numpy() for l in lams]
    here = regularized_minimizer(X, y, float(lam)).numpy()
    angles = [angle_between(w, w_hat) for w in path]
    norms = [float(np.linalg.norm(w)) for w in path]
    angle_here, norm_here = angle_between(here, w_hat), float(np.linalg.norm(here))

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.loglog(lams, angles, color="C0", label=r"$\angle(w_\lambda, \hat w)$")
    left.plot([lam], [angle_here], "o", color="C3", label="this $\\lambda$")
    left.set(xlabel=r"$\lambda$", ylabel="angle (degrees)", title="direction of the regularised minimiser")
    left.invert_xaxis()
    left.legend()
    x = np.log10(1.0 / lams)
    right.plot(x, norms, color="C0", label=r"$\|w_\lambda\|$")
    slope = np.linalg.norm(w_hat) * math.log(10.0)
    last = int(np.argmin(lams))  # anchor the predicted slope at the smallest lambda
    right.plot(x, norms[last] + slope * (x - x[last]), "--", color="C1", label=r"slope $\|\hat w\| \ln 10$")
    right.plot([math.log10(1.0 / lam)], [norm_here], "o", color="C3", label="this $\\lambda$")
    right.set(xlabel=r"$\log_{10}(1/\lambda)$", ylabel="norm", title="norm of the regularised minimiser")
    right.legend()
    return Panel(fig, {"lam": float(lam), "angle": angle_here, "norm": norm_here})


def regularization_explorer(X, y, grid=LAMBDA_GRID):
    """A slider over :math:`\\lambda`, drawing :func:`regularization_panel` at every value of ``grid``.

    Static-capable (:func:`dltheory.widgets.static_explorer`): the views are drawn
    when the notebook runs, so the slider also moves in the rendered book.
    """
    return static_explorer(lambda lam: regularization_panel(X, y, lam), lam=grid)
