"""The data of ``book/4-mathematical-theories/max-margin-beyond-separability.ipynb``.

Two small generators, in float64 NumPy, for the non-separable experiments:

* :func:`overlapping_data`: two overlapping Gaussian classes in the plane
  with a constant third coordinate (a bias), so that no direction separates
  them and the logistic and exponential risks have finite minimisers;
* :func:`partially_separable_data`: the same overlapping classes in the
  first two coordinates (third and fourth zero), together with examples that
  the last two coordinates separate through the origin, with random first two.

:func:`relative_errors` measures how far a run is from a point, at every record.
"""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_int, check_real, check_seed

__all__ = ["overlapping_data", "partially_separable_data", "relative_errors"]


def _overlap(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 2))
    y = np.where(X[:, 0] + noise * rng.normal(size=n) > 0, 1.0, -1.0)
    return X, y


def overlapping_data(n: int, *, noise: float = 0.8, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points :math:`(x_1, x_2, 1)` with :math:`x \\sim N(0, I_2)` and :math:`y = \\operatorname{sign}(x_1 + \\sigma\\xi)`.

    With label noise :math:`\\sigma > 0` and ``n`` beyond a few dozen, no
    direction separates them (check with
    :func:`dltheory.implicit_bias.separable_subset`). Returns ``X`` ``(n, 3)``
    and ``y`` ``(n,)``, float64.
    """
    n = check_int(n, "n", min=1)
    noise = check_real(noise, "noise", min=0.0, min_open=True)
    rng = np.random.default_rng(check_seed(seed))
    X, y = _overlap(n, noise, rng)
    return np.hstack([X, np.ones((n, 1))]), y


def partially_separable_data(n_mixed: int, n_sep: int, *, noise: float = 0.8,
                             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping classes in the plane :math:`S = \\{x_3 = x_4 = 0\\}` plus examples separable in :math:`S^\\perp`.

    The first ``n_mixed`` examples are :math:`(x_1, x_2, 0, 0)` with labels as
    in :func:`overlapping_data`; the next ``n_sep`` have :math:`(x_1, x_2) \\sim N(0, I_2)`
    and :math:`(x_3, x_4) = y\\,r\\,(\\cos\\phi, \\sin\\phi)` with a random label,
    :math:`r \\in [0.5, 1.5]` and :math:`\\phi \\in [-1, 1]`, so that the direction
    :math:`e_3` classifies them strictly while the mixed ones stay on its
    boundary. Returns ``X`` ``(n_mixed + n_sep, 4)`` and ``y``, float64.
    """
    n_mixed, n_sep = check_int(n_mixed, "n_mixed", min=1), check_int(n_sep, "n_sep", min=1)
    noise = check_real(noise, "noise", min=0.0, min_open=True)
    rng = np.random.default_rng(check_seed(seed))
    Xa, ya = _overlap(n_mixed, noise, rng)
    yb = rng.choice([-1.0, 1.0], size=n_sep)
    r, phi = rng.uniform(0.5, 1.5, size=n_sep), rng.uniform(-1.0, 1.0, size=n_sep)
    Xb = np.column_stack([rng.normal(size=(n_sep, 2)), yb * r * np.cos(phi), yb * r * np.sin(phi)])
    X = np.vstack([np.hstack([Xa, np.zeros((n_mixed, 2))]), Xb])
    return X, np.concatenate([ya, yb])


def relative_errors(w, target) -> np.ndarray:
    """:math:`\\lVert w_r - w^\\star\\rVert / \\lVert w^\\star\\rVert` for each row :math:`w_r` of ``w`` (``(R, d)``)."""
    w = w.numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
    target = target.numpy() if isinstance(target, torch.Tensor) else np.asarray(target, dtype=np.float64)
    return np.linalg.norm(w - target, axis=-1) / np.linalg.norm(target)
