"""Exponential loss on separable data: max-margin directions, homogeneity and normalised networks.

Chapter 1's section on margins (deck 1, "Dynamical systems approach: linear
networks and exponential loss", "Homogeneity properties of ReLU networks";
deck 4, Soudry et al.). On linearly separable data the exponential and
logistic losses have no finite minimiser. Gradient descent on a linear model
:math:`f(x) = \\langle w, x\\rangle` drives :math:`\\lVert w_t\\rVert` to
infinity like :math:`\\log t`, and its direction to that of the hard-margin
SVM (Soudry, Hoffer, Nacson, Gunasekar, Srebro 2018, Theorem 3):

.. math::  w_t = \\hat w \\log t + r_t, \\qquad
           \\hat w = \\arg\\min_w \\lVert w\\rVert^2 \\ \\text{s.t.}\\ y_i \\langle w, x_i\\rangle \\ge 1 ,

with :math:`r_t` bounded for almost every data set. A bias-free ReLU network
with :math:`L` layers is positively homogeneous in each layer,
:math:`f(\\dots, \\alpha W_k, \\dots) = \\alpha f` for :math:`\\alpha > 0`, so
Euler's identity :math:`\\sum_{ij} W_k^{ij}\\, \\partial f/\\partial W_k^{ij} = f`
holds layer by layer, and :math:`f = \\rho\\, \\tilde f` with
:math:`\\rho = \\prod_k \\lVert W_k\\rVert_F` and :math:`\\tilde f` the network
with unit-norm layers :math:`V_k = W_k / \\lVert W_k\\rVert_F`.

==================================  ==============================================================
:func:`max_margin_direction`        the bias-free hard-margin SVM :math:`\\hat w` (scikit-learn, then KKT)
:func:`angle_between`               the angle between two vectors, accurate for tiny angles
:func:`log_spaced_steps`            about ``per_decade`` integers per decade of steps
:func:`fit_log_spaced`              :func:`dltheory.train.fit` with records at log-spaced steps
:func:`scale_layers`                a copy of a network with its layers rescaled
:func:`normalized_network`          :math:`\\tilde f`: the layers divided by their Frobenius norms
:func:`euler_sums`                  :math:`\\sum_{ij} W_k^{ij}\\,\\partial f/\\partial W_k^{ij}`, layer by layer
:func:`regularized_minimizer`       the minimiser of the exponential loss plus :math:`\\frac\\lambda2\\lVert w\\rVert^2`
:func:`regularization_panel`        what the regularised minimiser does as :math:`\\lambda \\to 0` (an explorer)
==================================  ==============================================================
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp

from . import functional, train
from .widgets import Panel, explorer

__all__ = [
    "max_margin_direction",
    "angle_between",
    "log_spaced_steps",
    "fit_log_spaced",
    "scale_layers",
    "normalized_network",
    "euler_sums",
    "regularized_minimizer",
    "regularization_panel",
    "regularization_explorer",
]


def _numpy64(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a tensor or an array, got {type(a).__name__}") from err


def _binary_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = _numpy64(X, "X"), _numpy64(y, "y").reshape(-1)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (n examples x d features), got shape {X.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    if not np.isin(y, (-1.0, 1.0)).all():
        raise ValueError("y must hold labels in {-1, +1}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or inf")
    return X, y


def max_margin_direction(X, y, *, C: float = 1e8) -> torch.Tensor:
    """The hard-margin SVM without bias.

    .. math::  \\hat w = \\arg\\min_w \\lVert w\\rVert^2 \\quad \\text{s.t.}\\quad
               y_i\\langle w, x_i\\rangle \\ge 1 \\ \\text{for all } i.

    scikit-learn's ``SVC(kernel="linear")`` always fits an intercept. It is
    given the data together with its mirror image :math:`\\{(-x_i, -y_i)\\}`:
    if :math:`(w, b)` solves that symmetric problem so does :math:`(w, -b)`,
    and the solution is unique, so :math:`b = 0` and :math:`w` is the bias-free
    solution. Libsvm stops at a tolerance, so the result is then polished with
    the KKT conditions (as in Soudry et al. 2018, eq. 4): with :math:`S` the
    rows :math:`y_i x_i` of the support vectors,
    :math:`\\hat w = S^\\top a` where :math:`S S^\\top a = \\mathbf 1`,
    kept when :math:`a \\ge 0` and every margin is at least 1.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm1\\}`, separable
        through the origin.
    C
        The soft-margin constant; large enough that no constraint is violated.

    Returns
    -------
    torch.Tensor
        :math:`\\hat w` in float64 on the CPU, shape ``(d,)``, scaled so that
        :math:`\\min_i y_i \\langle \\hat w, x_i\\rangle = 1`; its norm is
        :math:`1/\\gamma` for the geometric margin :math:`\\gamma`.

    Raises
    ------
    ValueError
        The data are not separable through the origin.
    """
    from sklearn.svm import SVC

    X, y = _binary_data(X, y)
    svc = SVC(kernel="linear", C=C, tol=1e-10).fit(np.vstack([X, -X]), np.concatenate([y, -y]))
    w = svc.coef_.reshape(-1).astype(np.float64)
    A = y[:, None] * X
    if not (A @ w).min() > 0:
        raise ValueError("the data are not linearly separable through the origin: no hard-margin SVM exists")
    w = w / (A @ w).min()
    support = A[A @ w < 1 + 1e-5]
    try:
        a = np.linalg.solve(support @ support.T, np.ones(len(support)))
    except np.linalg.LinAlgError:  # degenerate support set: keep the solver's answer
        a = None
    if a is not None and (a >= -1e-12).all():
        polished = support.T @ a
        if (A @ polished).min() > 1 - 1e-9:
            w = polished / (A @ polished).min()
    return torch.from_numpy(w)


def angle_between(u, v) -> float:
    """The angle between two vectors (flattened), in degrees.

    Computed as :math:`2\\arctan(\\lVert \\hat u - \\hat v\\rVert / \\lVert \\hat u + \\hat v\\rVert)`
    for the unit vectors :math:`\\hat u, \\hat v`, which stays accurate for angles
    far below the :math:`10^{-8}` rad where :math:`\\arccos` of a cosine loses every digit.
    The angle with a zero vector is undefined: NaN (so that a model started
    at zero can be tracked from step 0).
    """
    a, b = _numpy64(u, "u").reshape(-1), _numpy64(v, "v").reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"the vectors have different sizes: {a.size} and {b.size}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return math.nan
    a, b = a / na, b / nb
    return math.degrees(2.0 * math.atan2(np.linalg.norm(a - b), np.linalg.norm(a + b)))


def log_spaced_steps(steps: int, per_decade: int = 10) -> list[int]:
    """Record points: the distinct integers :math:`\\operatorname{round}(10^{k/m})` from 1 to ``steps``, and ``steps``.

    :math:`m` is ``per_decade``, so there are about ``per_decade`` points per decade.
    """
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(per_decade, (int, np.integer)) or per_decade < 1:
        raise ValueError(f"per_decade must be a positive integer, got {per_decade!r}")
    count = int(math.floor(per_decade * math.log10(steps) + 1e-9)) + 1
    points = np.unique(np.round(np.logspace(0, math.log10(steps), count)).astype(np.int64))
    return sorted(set(points.tolist()) | {int(steps)})


def fit_log_spaced(model: nn.Module, X, y, *, steps: int, per_decade: int = 10, **fit_kwargs) -> train.History:
    """Train with :func:`dltheory.train.fit` and record at log-spaced steps.

    The run is cut into segments that end at :func:`log_spaced_steps`; each
    segment is one call of ``fit`` that continues from where the previous one
    stopped. Full-batch ``gd`` and ``normalized_gd`` keep no state between
    steps, so the iterates are those of one uninterrupted run; only the record
    points differ. The History has a row at step 0 and one at the end of every
    segment, with ``step`` counted from the start and ``distance_from_init``
    measured from the initial parameters.

    Parameters
    ----------
    steps, per_decade
        The length of the run and the number of records per decade of steps.
    **fit_kwargs
        Passed to :func:`dltheory.train.fit` (``loss``, ``lr``, ``optimizer``,
        ``weight_decay``, ``metrics``, ...); not ``record_every``, ``checkpoint``
        or ``batch_size``.
    """
    for key in ("record_every", "checkpoint", "checkpoint_every", "batch_size", "steps"):
        if key in fit_kwargs:
            raise ValueError(f"fit_log_spaced sets {key!r} itself; do not pass it")
    optimizer = fit_kwargs.get("optimizer", "gd")
    if optimizer not in ("gd", "normalized_gd"):
        raise ValueError(f"fit_log_spaced needs a full-batch optimizer without state ('gd' or "
                         f"'normalized_gd'), got {optimizer!r}")
    fit_kwargs.setdefault("progress", False)
    theta0 = functional.flat_parameters(model).clone()
    rows: list[dict] = []
    done = 0
    for target in log_spaced_steps(steps, per_decade):
        segment = train.fit(model, X, y, steps=target - done, record_every=target - done, **fit_kwargs)
        if not rows:
            rows.append(segment.rows[0])
        row = dict(segment.rows[-1])
        row["step"] = target
        row["distance_from_init"] = torch.linalg.vector_norm(functional.flat_parameters(model) - theta0).item()
        rows.append(row)
        done = target
    return train.History(rows)


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no linear layers")
    return layers


_HOMOGENEOUS = (nn.ReLU, nn.LeakyReLU, nn.Identity, nn.Flatten, nn.Sequential)


def _bias_free_layers(model: nn.Module) -> list[nn.Linear]:
    """The linear layers of a network that is positively homogeneous in each of them; ``ValueError`` otherwise."""
    layers = _linear_layers(model)
    if any(layer.bias is not None for layer in layers):
        raise ValueError("the network has biases: it is not positively homogeneous in its weights; "
                         "build it with bias=False")
    for module in model.modules():
        if not isinstance(module, (nn.Linear, *_HOMOGENEOUS)):
            raise ValueError(f"{type(module).__name__} is not positively homogeneous: f = rho f~ needs "
                             "sigma(c z) = c sigma(z) for c > 0 (ReLU, LeakyReLU, Identity)")
    return layers


def scale_layers(model: nn.Module, factors: Sequence[float]) -> nn.Module:
    """A deep copy of ``model`` with the weight of linear layer ``k`` multiplied by ``factors[k]``.

    One factor per ``nn.Linear`` layer, in module order. For a bias-free ReLU
    network and positive factors the copy computes
    :math:`\\bigl(\\prod_k \\text{factors}_k\\bigr) f`.
    """
    layers = _linear_layers(model)
    if len(factors) != len(layers):
        raise ValueError(f"the model has {len(layers)} linear layers but {len(factors)} factors were given")
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        for layer, factor in zip(_linear_layers(scaled), factors):
            layer.weight.mul_(float(factor))
    return scaled


def normalized_network(model: nn.Module) -> tuple[nn.Module, list[float]]:
    """The weight normalisation :math:`W_k = \\rho_k V_k` of a bias-free network.

    Returns a deep copy whose layers are :math:`V_k = W_k/\\rho_k` (unit
    Frobenius norm), which computes :math:`\\tilde f`, and the list of
    :math:`\\rho_k = \\lVert W_k\\rVert_F`. :math:`W_k` is the matrix that
    multiplies the layer's input (``weight_scale * weight`` for an
    :class:`~dltheory.models.NTKLinear`). Biases and activations that are not
    positively homogeneous (anything but ReLU, LeakyReLU, Identity) raise
    ``ValueError``: the factorisation would not hold. For a ReLU network
    :math:`f = \\prod_k \\rho_k\\, \\tilde f` (deck 1, "Homogeneity properties of
    ReLU networks").
    """
    layers = _bias_free_layers(model)
    rhos = [torch.linalg.matrix_norm(getattr(layer, "weight_scale", 1.0) * layer.weight.detach()).item()
            for layer in layers]
    if min(rhos) == 0:
        raise ValueError("a layer is zero: it has no direction to normalise")
    return scale_layers(model, [1.0 / r for r in rhos]), rhos


def euler_sums(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """:math:`\\sum_{ij} W_k^{ij}\\, \\partial f(x_n)/\\partial W_k^{ij}` for every layer ``k`` and example ``n``.

    Each row is one forward-mode derivative (``torch.func.jvp``) of the outputs
    in the direction of layer ``k``'s own weights, all other parameters held
    fixed. For a network homogeneous of degree 1 in every layer (bias-free
    ReLU) each row equals the outputs :math:`f(x_n)`: Euler's identity.

    Returns
    -------
    torch.Tensor
        Shape ``(L, n)`` for a one-output network of ``L`` linear layers.
    """
    layers = _linear_layers(model)
    params = {name: p.detach() for name, p in model.named_parameters()}
    names = {id(p): name for name, p in model.named_parameters()}

    def outputs(weights: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(model, weights, (X,)).reshape(X.shape[0], -1)[:, 0]

    rows = []
    for layer in layers:
        key = names[id(layer.weight)]
        tangent = {name: torch.zeros_like(p) for name, p in params.items()}
        tangent[key] = params[key]
        _, derivative = jvp(outputs, (params,), (tangent,))
        rows.append(derivative)
    return torch.stack(rows)


def regularized_minimizer(X, y, lam: float, *, tol: float = 1e-12, max_iter: int = 200) -> torch.Tensor:
    """The minimiser of the exponential loss plus a ridge penalty.

    .. math::  F(w) = \\frac1n\\sum_i e^{-y_i\\langle w, x_i\\rangle} + \\frac\\lambda2\\lVert w\\rVert^2 .

    :math:`F` is :math:`\\lambda`-strongly convex, so the minimiser exists, is
    unique and does not depend on where a method starts (deck 1, "linear
    networks, exponential loss and regularization"). Newton's method from
    :math:`w = 0` with a backtracking line search, in float64 on the CPU, until
    :math:`\\lVert\\nabla F\\rVert \\le` ``tol`` :math:`\\cdot\\max(1, \\lambda\\lVert w\\rVert)`.
    The objective is the one :func:`dltheory.train.fit` minimises with
    ``loss="exp", weight_decay=lam``.

    Returns
    -------
    torch.Tensor
        :math:`w_\\lambda`, float64, shape ``(d,)``.
    """
    X, y = _binary_data(X, y)
    if not (isinstance(lam, (int, float, np.floating)) and math.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a positive number, got {lam!r}")
    A = y[:, None] * X
    n, d = A.shape

    def objective(w: np.ndarray) -> float:
        return float(np.exp(-A @ w).mean() + 0.5 * lam * w @ w)

    w = np.zeros(d)
    for _ in range(max_iter):
        e = np.exp(-A @ w)
        grad = -(A.T @ e) / n + lam * w
        if np.linalg.norm(grad) <= tol * max(1.0, lam * np.linalg.norm(w)):
            return torch.from_numpy(w)
        hess = (A.T * e) @ A / n + lam * np.eye(d)
        step = np.linalg.solve(hess, grad)
        t, f0, slope = 1.0, objective(w), grad @ step
        while objective(w - t * step) > f0 - 0.25 * t * slope and t > 1e-12:
            t *= 0.5
        w = w - t * step
    raise RuntimeError(f"Newton's method did not converge in {max_iter} iterations (lam={lam:g})")


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
    if not (isinstance(lam, (int, float, np.floating)) and math.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a positive number, got {lam!r}")
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


def regularization_explorer(X, y):
    """A slider over :math:`\\lambda`, drawing :func:`regularization_panel`."""
    import ipywidgets as widgets

    slider = widgets.FloatLogSlider(value=1e-3, base=10, min=-6, max=-1, step=0.25, description="λ",
                                    continuous_update=False)
    return explorer(lambda lam: regularization_panel(X, y, lam), lam=slider)
