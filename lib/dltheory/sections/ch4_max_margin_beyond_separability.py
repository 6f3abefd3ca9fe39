"""The data of ``book/4-mathematical-theories/max-margin-beyond-separability.ipynb``.

Two small generators, in float64 NumPy, for the non-separable experiments:

* :func:`overlapping_data`: two overlapping Gaussian classes in the plane
  with a constant third coordinate (a bias), so that no direction separates
  them and the logistic and exponential risks have finite minimisers;
* :func:`partially_separable_data`: the same overlapping classes in the
  first two coordinates (third and fourth zero), together with examples that
  the last two coordinates separate through the origin, with random first two.

:func:`relative_errors` measures how far a run is from a point, at every record,
and :func:`angles_to` its angle to a direction.

For the step-size condition of Soudry et al.'s Theorem 3,
:func:`anisotropic_data` draws separable data with a large-variance direction
orthogonal to the margin, where a too-large step makes the iterates oscillate.

For the width at which a network separates what no line separates:

* :func:`symmetric_xor`: XOR-labelled points of the unit circle, closed under
  :math:`x \\mapsto -x`, which a bias-free two-layer ReLU network separates if and
  only if it has at least four hidden units;
* :func:`xor_construction`: a width-4 network that separates them;
* :func:`width_sweep`: gradient descent on the exponential loss for many widths
  and initialisations at once, in NumPy (the update of :func:`dltheory.train.fit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import models
from .._checks import check_int, check_real, check_seed

__all__ = ["overlapping_data", "partially_separable_data", "relative_errors", "anisotropic_data",
           "symmetric_xor", "xor_construction", "WidthRuns", "width_sweep", "angles_to"]


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


def anisotropic_data(n: int, *, spread: float = 1.0, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the plane with :math:`z_i = y_ix_i = (u_i, v_i)`, :math:`u_i \\sim U[0.1, 0.5]`, :math:`v_i \\sim N(0, \\sigma^2)`.

    The labels are random signs and :math:`x_i = y_iz_i`. The direction
    :math:`e_1` separates the data with margin at least 0.1, while the
    orthogonal direction :math:`e_2` carries most of the variance, so that
    :math:`\\sigma_{\\max}(X)` (and with it the smoothness of the risk) is set by
    :math:`e_2` and a step beyond :math:`2/(\\beta\\lambda_{\\max})` makes the
    :math:`e_2` coordinate overshoot. Returns ``X`` ``(n, 2)`` and ``y``, float64.
    """
    n = check_int(n, "n", min=1)
    spread = check_real(spread, "spread", min=0.0, min_open=True)
    rng = np.random.default_rng(check_seed(seed))
    y = rng.choice([-1.0, 1.0], size=n)
    Z = np.column_stack([rng.uniform(0.1, 0.5, size=n), rng.normal(0.0, spread, size=n)])
    return y[:, None] * Z, y


def symmetric_xor(n_half: int, *, spread: float = 30.0, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """XOR-labelled unit vectors, closed under :math:`x \\mapsto -x`: ``2 n_half`` points.

    ``n_half`` angles :math:`45^\\circ + 90^\\circ k + \\delta` with :math:`k` uniform on
    :math:`\\{0, 1, 2, 3\\}` and :math:`\\delta` uniform on ``[-spread, spread]`` degrees
    (``spread`` < 45, so no point is on an axis), then the same points negated;
    labels :math:`y = \\operatorname{sign}(x_1x_2)`, which negation keeps.

    A bias-free ReLU unit is active on at most one of :math:`x` and :math:`-x`,
    and a network :math:`\\sum_j a_j\\operatorname{relu}(\\langle w_j, x\\rangle)`
    classifies a point correctly only if some unit with :math:`\\operatorname{sign}
    a_j = y` is active on it. So once each label has a pair :math:`\\pm x` (almost
    surely, for ``n_half`` beyond a few), no network of width below 4 separates the
    data; :func:`xor_construction` separates them with width 4. Returns ``X``
    ``(2 n_half, 2)`` and ``y``, float64.
    """
    n_half = check_int(n_half, "n_half", min=1)
    spread = check_real(spread, "spread", min=0.0, max=45.0, max_open=True)
    rng = np.random.default_rng(check_seed(seed))
    theta = np.deg2rad(45.0 + 90.0 * rng.integers(0, 4, size=n_half) + rng.uniform(-spread, spread, size=n_half))
    X = np.column_stack([np.cos(theta), np.sin(theta)])
    X = np.vstack([X, -X])
    return X, np.sign(X[:, 0] * X[:, 1])


def xor_construction(dtype: torch.dtype = torch.float64) -> nn.Module:
    """The width-4 bias-free network :math:`f(x) = \\sum_{k=0}^3 (-1)^k\\operatorname{relu}(\\langle u_k, x\\rangle)`, :math:`u_k` at :math:`45^\\circ + 90^\\circ k`.

    ``models.mlp([2, 4, 1], bias=False)`` with these weights. At angle
    :math:`45^\\circ + 90^\\circ k + \\delta`, :math:`|\\delta| < 45^\\circ`, the unit
    :math:`u_k` contributes :math:`\\cos\\delta` with the sign :math:`(-1)^k` of the
    XOR label there, one neighbour :math:`-\\sin|\\delta|` with the other sign, and the
    rest nothing, so :math:`yf(x) = \\cos\\delta - \\sin|\\delta| > 0` on every point
    strictly inside a quadrant: four hidden units suffice.
    """
    angles = np.deg2rad(45.0 + 90.0 * np.arange(4))
    net = models.mlp([2, 4, 1], bias=False, dtype=dtype)
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(np.column_stack([np.cos(angles), np.sin(angles)])))
        net[2].weight.copy_(torch.tensor([[1.0, -1.0, 1.0, -1.0]], dtype=torch.float64))
    return net


@dataclass
class WidthRuns:
    """Runs of :func:`width_sweep`: one column per (width, initialisation)."""

    widths: np.ndarray  #: (K,) the hidden width of each run
    step: np.ndarray  #: (R,) the recorded steps
    loss: np.ndarray  #: (R, K) mean exponential loss
    sq_norm: np.ndarray  #: (R, K) ||theta||^2 = ||W||_F^2 + ||a||^2
    min_margin: np.ndarray  #: (R, K) min_i y_i f(x_i)

    @property
    def normalized_margin(self) -> np.ndarray:
        """(R, K) :math:`\\min_i y_if(x_i)/\\lVert\\theta\\rVert^2`, the normalised margin of a 2-homogeneous network."""
        return self.min_margin / self.sq_norm


def width_sweep(X, y, widths: Sequence[int], *, inits: int, lr: float, steps: int,
                record_at: Sequence[int] = (), seed: int) -> WidthRuns:
    """Gradient descent on the mean exponential loss of :math:`f(x) = a^\\top\\operatorname{relu}(Wx)` for many widths at once.

    For each width :math:`m` in ``widths`` and each of ``inits`` initialisations,
    the network is ``models.mlp([d, m, 1], bias=False, seed=seed + k)`` (run
    :math:`k = 0, 1, \\dots` in that order), in float64, and the update is that of
    ``train.fit(net, X, y, loss="exp", lr=lr)`` (:math:`\\operatorname{relu}'(0) = 0`),
    written out in NumPy for all runs together: the runs share no parameter, so
    stacking their hidden units and summing each run's units is exact. Step 0 and
    the last step are always recorded.
    """
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=1)
    inits = check_int(inits, "inits", min=1)
    seed = check_seed(seed)
    widths = [check_int(m, "a width", min=1) for m in widths]
    if not widths:
        raise ValueError("widths must name at least one width")
    Xn = np.asarray(X, dtype=np.float64)
    yn = np.asarray(y, dtype=np.float64)
    n, d = Xn.shape
    record = {0, steps} | {check_int(t, "a step of record_at", min=0, max=steps) for t in record_at}
    Ws, As, owner, run_widths = [], [], [], []
    for m in widths:
        for _ in range(inits):
            net = models.mlp([d, m, 1], bias=False, seed=seed + len(run_widths), dtype=torch.float64)
            Ws.append(net[0].weight.detach().numpy().copy())
            As.append(net[2].weight.detach().numpy().reshape(-1).copy())
            owner += [len(run_widths)] * m
            run_widths.append(m)
    W, a = np.vstack(Ws), np.concatenate(As)
    M = np.zeros((a.size, len(run_widths)))
    M[np.arange(a.size), owner] = 1.0  # unit -> run
    kept = {"step": [], "loss": [], "sq_norm": [], "min_margin": []}
    for t in range(steps + 1):
        Z = Xn @ W.T
        H = np.maximum(Z, 0.0)
        Q = yn[:, None] * ((H * a) @ M)  # (n, K) margins
        if t in record:
            kept["step"].append(t)
            kept["loss"].append(np.exp(-Q).mean(axis=0))
            kept["sq_norm"].append(((W * W).sum(axis=1) + a * a) @ M)
            kept["min_margin"].append(Q.min(axis=0))
        if t == steps:
            break
        C = (-yn[:, None] * np.exp(-Q) / n) @ M.T  # d(mean loss)/d f, per unit's run
        grad_a = (H * C).sum(axis=0)
        grad_W = ((C * (Z > 0)) * a).T @ Xn
        W -= lr * grad_W
        a -= lr * grad_a
    return WidthRuns(np.array(run_widths), np.array(kept["step"]), np.stack(kept["loss"]),
                     np.stack(kept["sq_norm"]), np.stack(kept["min_margin"]))


def angles_to(W, v) -> np.ndarray:
    """The angles, in degrees, between each row of ``W`` (``(R, d)``) and ``v``, accurate for tiny angles.

    :math:`\\operatorname{atan2}(\\lVert w - \\langle w, \\hat v\\rangle\\hat v\\rVert, \\langle w, \\hat v\\rangle)`
    with :math:`\\hat v = v/\\lVert v\\rVert`: the rowwise version of
    :func:`dltheory.implicit_bias.angle_between`.
    """
    W = W.numpy() if isinstance(W, torch.Tensor) else np.asarray(W, dtype=np.float64)
    v = v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)
    v = v / np.linalg.norm(v)
    along = W @ v
    across = np.linalg.norm(W - along[:, None] * v, axis=1)
    return np.degrees(np.arctan2(across, along))
