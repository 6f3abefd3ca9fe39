"""The glue of ``book/2-provable-learning/clustered-data.ipynb``: Li & Liang's clustered data on the sphere.

Li & Liang (2018) prove that a wide two-layer ReLU network, with its outer
layer fixed, trained by SGD on the cross-entropy, learns data made of
:math:`k` classes of :math:`l` small, well-separated clusters each. This module
holds what the notebook needs and no other section does:

* :func:`sphere_clusters`: :func:`dltheory.data.clustered` projected onto the
  unit sphere (Li & Liang's inputs have norm 1), training and fresh test points
  drawn from the same clusters;
* :func:`separability`: the separation :math:`\\delta` and the largest
  cluster diameter of the *supports* on the sphere, in closed form, to check
  the theorem's assumption :math:`\\operatorname{diam} \\le \\lambda\\delta`,
  :math:`\\lambda \\le 1/(8l)`; :func:`sample_separability` gives the same
  quantities measured on points, and :func:`linearly_separable` decides with a
  linear programme whether an affine classifier could do the job alone;
* :func:`width_sweep`: the experiment, SGD at every width and seed, with the
  accuracies, the movement, the flips and the pseudo-gradient cosine.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog

from .. import activation_patterns as ap
from .. import data, models, train
from .._checks import check_int, check_real, check_seed, check_tensor

__all__ = ["SphereClusters", "sphere_clusters", "separability", "sample_separability", "linearly_separable",
           "width_sweep", "SWEEP_COLUMNS", "PATH_COLUMNS"]

#: The per-(seed, width) results of :func:`width_sweep` at the end of training.
SWEEP_COLUMNS = ("train_accuracy", "test_accuracy", "movement", "flips", "flips_units", "cosine")
#: The columns :func:`width_sweep` also records along training.
PATH_COLUMNS = ("train_accuracy", "test_accuracy", "flips", "cosine")


@dataclass(frozen=True)
class SphereClusters:
    """Training and test points on the unit sphere, and the clusters they come from.

    Attributes
    ----------
    X, y, X_test, y_test
        Inputs ``(n, d)`` of norm 1 and class indices ``(n,)``.
    cluster, cluster_test
        Each point's cluster index :math:`c = i l + j` (class :math:`i`, cluster :math:`j`).
    centres
        The centres :math:`c_{ij}` of the balls *before* projection, ``(k, l, d)``.
    radius
        The radius :math:`r` of every ball before projection.
    """

    X: torch.Tensor
    y: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    cluster: torch.Tensor
    cluster_test: torch.Tensor
    centres: torch.Tensor
    radius: float

    @property
    def classes(self) -> int:
        return self.centres.shape[0]

    @property
    def clusters_per_class(self) -> int:
        return self.centres.shape[1]


def sphere_clusters(n: int, n_test: int, *, classes: int, clusters_per_class: int, dim: int,
                    spread: float, seed: int, dtype: torch.dtype = torch.float32,
                    device="cpu") -> SphereClusters:
    """:func:`dltheory.data.clustered` (``separation`` 1) projected onto the unit sphere, split in two.

    The ``n + n_test`` points are drawn in one call, so training and test points
    come from the same clusters; every cluster receives ``(n + n_test) // kl`` or
    one more point, in random order, and the first ``n`` are the training set.
    Each ball of radius :math:`r` = ``spread`` around :math:`c` projects onto the
    spherical cap of angular radius :math:`\\arcsin(r/\\lVert c\\rVert)` around
    :math:`c/\\lVert c\\rVert` (see :func:`separability`).
    """
    n, n_test = check_int(n, "n", min=1), check_int(n_test, "n_test", min=1)
    X, y, centres, cluster = data.clustered(n + n_test, classes=classes, clusters_per_class=clusters_per_class,
                                            dim=dim, spread=spread, seed=check_seed(seed),
                                            return_centers=True, dtype=torch.float64)
    if (centres.norm(dim=-1) <= spread).any():
        raise ValueError("a cluster contains the origin, so it has no projection onto the sphere")
    X = (X / X.norm(dim=1, keepdim=True)).to(dtype=dtype, device=device)
    y, cluster = y.to(device), cluster.to(device)
    return SphereClusters(X[:n], y[:n], X[n:], y[n:], cluster[:n], cluster[n:], centres, float(spread))


def _caps(centres: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit centres and angular radii :math:`\\arcsin(r/\\lVert c\\rVert)` of the projected balls."""
    flat = centres.reshape(-1, centres.shape[-1]).double()
    norms = flat.norm(dim=1)
    return flat / norms[:, None], torch.asin(radius / norms)


def separability(centres, radius: float) -> dict[str, float]:
    """Li & Liang's separability quantities for balls of radius ``radius`` projected onto the sphere.

    A ball :math:`B(c, r)` with :math:`r < \\lVert c\\rVert` projects onto the cap of
    angular radius :math:`\\alpha = \\arcsin(r/\\lVert c\\rVert)`; its diameter
    (as a chord) is :math:`2\\sin\\alpha = 2r/\\lVert c\\rVert`. Two caps whose
    centres are the angle :math:`\\theta` apart are at chordal distance
    :math:`2\\sin\\bigl((\\theta - \\alpha_1 - \\alpha_2)/2\\bigr)` when
    :math:`\\theta > \\alpha_1 + \\alpha_2`.

    Parameters
    ----------
    centres
        ``(k, l, d)``: the centres of the :math:`l` clusters of each of the :math:`k` classes.
    radius
        The balls' radius :math:`r`.

    Returns
    -------
    dict
        ``delta``: the smallest distance between the supports of clusters of
        *different* classes (the theorem's :math:`\\delta`; 0 if two overlap);
        ``diameter``: the largest cluster diameter; ``lam``: their ratio
        :math:`\\operatorname{diam}/\\delta` (inf if :math:`\\delta = 0`);
        ``lam_max``: :math:`1/(8l)`, the largest :math:`\\lambda` the theorem allows.
    """
    centres = check_tensor(centres, "centres", ndim=3)
    radius = check_real(radius, "radius", min=0.0)
    k, l, _ = centres.shape
    units, alpha = _caps(centres, radius)
    theta = torch.arccos((units @ units.T).clamp(-1.0, 1.0))
    gap = (theta - alpha[:, None] - alpha[None, :]).clamp(min=0.0)
    label = torch.arange(k * l) // l
    other = label[:, None] != label[None, :]
    delta = float(2 * torch.sin(gap[other].min() / 2))
    diameter = float((2 * torch.sin(alpha)).max())
    return {"delta": delta, "diameter": diameter, "lam": diameter / delta if delta > 0 else math.inf,
            "lam_max": 1.0 / (8 * l)}


def sample_separability(X, y, cluster) -> dict[str, float]:
    """The quantities of :func:`separability` measured on points.

    ``delta``: the smallest distance between points of different classes (at
    least the supports' :math:`\\delta`); ``diameter``: the largest distance
    between two points of one cluster (at most the supports' diameter).
    """
    X = check_tensor(X, "X", ndim=2).double()
    y, cluster = check_tensor(y, "y", ndim=1), check_tensor(cluster, "cluster", ndim=1)
    D = torch.cdist(X, X)
    delta = float(D[y[:, None] != y[None, :]].min())
    diameter = float(D[cluster[:, None] == cluster[None, :]].max())
    return {"delta": delta, "diameter": diameter, "lam": diameter / delta}


def linearly_separable(X, y) -> bool:
    """Whether an affine classifier :math:`\\arg\\max_a (\\langle u_a, x\\rangle + b_a)` fits every label.

    Solves the feasibility linear programme
    :math:`\\langle u_{y_i} - u_a, x_i\\rangle + b_{y_i} - b_a \\ge 1` for all
    :math:`i` and :math:`a \\ne y_i` (scaling turns any strict separation into
    margin 1) with SciPy's HiGHS solver.
    """
    X = check_tensor(X, "X", ndim=2).double().cpu().numpy()
    y = check_tensor(y, "y", ndim=1).long().cpu().numpy()
    n, d = X.shape
    k = int(y.max()) + 1
    Xa = np.hstack([X, np.ones((n, 1))])
    rows, cols, vals = [], [], []
    r = 0
    for i in range(n):
        for a in range(k):
            if a == y[i]:
                continue
            for j in range(d + 1):  # (u_a - u_{y_i}) . x_i <= -1
                rows += [r, r]
                cols += [a * (d + 1) + j, y[i] * (d + 1) + j]
                vals += [Xa[i, j], -Xa[i, j]]
            r += 1
    from scipy.sparse import csr_matrix

    A = csr_matrix((vals, (rows, cols)), shape=(r, k * (d + 1)))
    result = linprog(np.zeros(k * (d + 1)), A_ub=A, b_ub=-np.ones(r), bounds=(None, None), method="highs")
    if result.status not in (0, 2):
        raise RuntimeError(f"the linear programme did not finish: {result.message}")
    return result.status == 0


def width_sweep(clusters: SphereClusters, widths: Sequence[int], seeds: Sequence[int], *, lr: float,
                steps: int, batch_size: int, record_every: int | None = None) -> dict:
    """Train Li & Liang's network at every width and seed, and measure what the coupling argument needs.

    The network is :func:`dltheory.models.two_layer` with ``outer="fixed_gaussian"``
    and ``scaling="ntk"``: :math:`f(x) = \\frac{1}{\\sqrt m} V \\sigma(\\sqrt{2/d}\\,Wx)`
    with :math:`V_{ar}, W_{rj} \\sim N(0, 1)`, only :math:`W` trained, by SGD with
    step ``lr`` and batches of ``batch_size`` on the mean cross-entropy. Network
    ``s`` draws its initial weights and its batches from seed ``seeds[s]``.

    Returns
    -------
    dict
        ``widths``, ``seeds``; for every name of :data:`SWEEP_COLUMNS` a
        ``(len(seeds), len(widths))`` array at the end of training
        (``movement``: :func:`~dltheory.activation_patterns.relative_movement` of
        :math:`W`; ``flips``: :func:`~dltheory.activation_patterns.flip_fraction`
        over (unit, example) pairs of the training set; ``flips_units``: over
        units; ``cosine``: :func:`~dltheory.activation_patterns.pseudo_gradient_cosine`
        on the training set); ``steps`` ``(r,)``, the record points (every
        ``record_every`` steps, with 0 and ``steps``); and, for each of
        :data:`PATH_COLUMNS`, ``<name>_path`` of shape ``(len(seeds), len(widths), r)``:
        the same quantity at every record point.
    """
    widths = [check_int(m, "width", min=1) for m in widths]
    seeds = [check_seed(s) for s in seeds]
    check_real(lr, "lr", min=0.0, min_open=True)
    X, y, Xt, yt = clusters.X, clusters.y, clusters.X_test, clusters.y_test
    d, k = X.shape[1], clusters.classes
    out = {name: np.zeros((len(seeds), len(widths))) for name in SWEEP_COLUMNS}
    paths: dict[str, list] = {name: [] for name in PATH_COLUMNS}
    record_steps = None
    for i, seed in enumerate(seeds):
        rows: dict[str, list] = {name: [] for name in PATH_COLUMNS}
        for j, m in enumerate(widths):
            net = models.two_layer(d, m, k, outer="fixed_gaussian", scaling="ntk", seed=seed,
                                   dtype=X.dtype, device=X.device)
            start = copy.deepcopy(net)
            before = ap.activation_patterns(start, X)
            metrics = {"cosine": lambda model: ap.pseudo_gradient_cosine(model, start, X, y),
                       "flips": lambda model: ap.flip_fraction(before, ap.activation_patterns(model, X))}
            history = train.fit(net, X, y, loss="ce", optimizer="sgd", lr=lr, steps=steps,
                                batch_size=batch_size, seed=seed, record_every=record_every,
                                metrics=metrics, eval_data=(Xt, yt), progress=False)
            recorded = {"train_accuracy": history["train_accuracy"], "test_accuracy": history["eval_accuracy"],
                        "flips": history["flips"], "cosine": history["cosine"]}
            for name in PATH_COLUMNS:
                rows[name].append(np.asarray(recorded[name], dtype=float))
            out["movement"][i, j] = ap.relative_movement(start, net)
            out["flips_units"][i, j] = ap.flip_fraction(before, ap.activation_patterns(net, X), over="units")
            record_steps = np.asarray(history["step"])
        for name in PATH_COLUMNS:
            paths[name].append(rows[name])
    for name in PATH_COLUMNS:
        out[name + "_path"] = np.asarray(paths[name])
        out[name] = out[name + "_path"][:, :, -1].copy()
    out["steps"] = record_steps
    out.update(widths=np.asarray(widths), seeds=np.asarray(seeds))
    return out
