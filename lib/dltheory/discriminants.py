"""Fisher's linear discriminant and the within- and between-class scatter of a representation.

For labelled points :math:`x_i \\in \\mathbb R^d` in classes :math:`C_1, \\dots, C_K`
with means :math:`\\mu_k` and overall mean :math:`\\mu`,

.. math::  S_W = \\sum_k \\sum_{i \\in C_k} (x_i - \\mu_k)(x_i - \\mu_k)^\\top, \\qquad
           S_B = \\sum_k \\lvert C_k\\rvert (\\mu_k - \\mu)(\\mu_k - \\mu)^\\top,

and :math:`S_W + S_B` is the total scatter :math:`\\sum_i (x_i - \\mu)(x_i - \\mu)^\\top`.
Fisher (1936) projects on :math:`w \\propto S_W^{-1}(\\mu_1 - \\mu_0)` for two
classes, and on the leading generalised eigenvectors of :math:`S_B v = \\lambda S_W v`
for :math:`K` classes (Hastie, Tibshirani & Friedman, *The Elements of
Statistical Learning*, Sec. 4.3.3). The ratio
:math:`\\operatorname{tr} S_W / \\operatorname{tr} S_B` measures how tightly the
classes are contracted relative to their separation: the quantity that
Mallat's picture of deep networks (contract within level sets, keep the
classes apart) says should fall with depth.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["scatter_matrices", "scatter_traces", "contraction_ratio", "fisher_direction", "lda_directions"]


def _as_Xy(X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` as a float64 matrix ``(n, d)`` (extra axes flattened), ``y`` as labels, and the classes present."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim < 2:
        raise ValueError(f"X must have shape (n, d) (or (n, ...), flattened), got {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must hold one label per row of X: shape ({X.shape[0]},), got {y.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"need at least two classes, got {len(classes)}")
    return X, y, classes


def scatter_matrices(X, y) -> tuple[np.ndarray, np.ndarray]:
    """:math:`S_W` and :math:`S_B` (module docstring), two ``(d, d)`` float64 arrays.

    ``X`` is ``(n, d)`` (or ``(n, ...)``, flattened), ``y`` ``(n,)`` labels.
    """
    X, y, classes = _as_Xy(X, y)
    mu = X.mean(axis=0)
    d = X.shape[1]
    S_W, S_B = np.zeros((d, d)), np.zeros((d, d))
    for c in classes:
        Xc = X[y == c]
        mc = Xc.mean(axis=0)
        S_W += (Xc - mc).T @ (Xc - mc)
        S_B += len(Xc) * np.outer(mc - mu, mc - mu)
    return S_W, S_B


def scatter_traces(X, y) -> tuple[float, float]:
    """:math:`\\operatorname{tr} S_W` and :math:`\\operatorname{tr} S_B` without forming the ``(d, d)`` matrices.

    :math:`\\operatorname{tr} S_W = \\sum_k\\sum_{i\\in C_k}\\lVert x_i - \\mu_k\\rVert^2` and
    :math:`\\operatorname{tr} S_B = \\sum_k \\lvert C_k\\rvert\\,\\lVert\\mu_k - \\mu\\rVert^2`:
    cost :math:`O(nd)`, fine for wide hidden layers.
    """
    X, y, classes = _as_Xy(X, y)
    mu = X.mean(axis=0)
    within = between = 0.0
    for c in classes:
        Xc = X[y == c]
        mc = Xc.mean(axis=0)
        within += float(((Xc - mc) ** 2).sum())
        between += len(Xc) * float(((mc - mu) ** 2).sum())
    return within, between


def contraction_ratio(X, y) -> float:
    """:math:`\\operatorname{tr} S_W / \\operatorname{tr} S_B`: within-class spread over between-class separation.

    Invariant to a rescaling of ``X`` and to orthogonal maps and translations
    of its rows; small when every class is tight compared with the distances
    between class means.
    """
    within, between = scatter_traces(X, y)
    if between == 0.0:
        raise ValueError("the class means coincide (tr S_B = 0): the ratio is infinite")
    return within / between


def fisher_direction(X, y, *, ridge: float = 0.0) -> np.ndarray:
    """Fisher's discriminant :math:`w = (S_W + \\rho I)^{-1}(\\mu_1 - \\mu_0)` for two classes, unit norm.

    Classes are taken in sorted order (:math:`\\mu_0` the smaller label's mean).
    ``ridge`` :math:`\\rho \\ge 0` regularises a singular :math:`S_W` (more
    dimensions than points). The deck's :math:`\\Phi(x) = \\alpha\\hat\\Sigma_W^{-1}(\\hat\\mu_1 - \\hat\\mu_0)`
    is this direction up to the scale :math:`\\alpha`.
    """
    X, y, classes = _as_Xy(X, y)
    if len(classes) != 2:
        raise ValueError(f"fisher_direction needs exactly two classes, got {len(classes)}; use lda_directions")
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    S_W, _ = scatter_matrices(X, y)
    diff = X[y == classes[1]].mean(axis=0) - X[y == classes[0]].mean(axis=0)
    w = scipy.linalg.solve(S_W + ridge * np.eye(len(diff)), diff, assume_a="pos")
    return w / np.linalg.norm(w)


def lda_directions(X, y, k: int | None = None, *, ridge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The :math:`K`-class discriminant directions: :math:`S_B v = \\lambda (S_W + \\rho I) v`, largest :math:`\\lambda` first.

    Returns the eigenvalues ``(k,)`` and the directions as columns ``(d, k)``,
    normalised so that :math:`V^\\top (S_W + \\rho I) V = I` (``scipy.linalg.eigh``).
    At most :math:`K - 1` eigenvalues are non-zero; ``k`` defaults to
    :math:`\\min(K - 1, d)`. These span the same subspace as scikit-learn's
    ``LinearDiscriminantAnalysis(solver="eigen").scalings_``.
    """
    X, y, classes = _as_Xy(X, y)
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    S_W, S_B = scatter_matrices(X, y)
    d = S_W.shape[0]
    k = min(len(classes) - 1, d) if k is None else int(k)
    if not 1 <= k <= d:
        raise ValueError(f"k must be between 1 and d = {d}, got {k}")
    values, vectors = scipy.linalg.eigh(S_B, S_W + ridge * np.eye(d))
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order]
