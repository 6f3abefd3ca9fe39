"""Glue of ``book/3-sgd-overparametrization/width-and-generalization.ipynb``: the width sweep.

Neyshabur, Tomioka and Srebro (2015) train two-layer ReLU networks
:math:`f(x) = W_2\\,\\sigma(W_1 x + b_1) + b_2` with :math:`H` hidden units on
MNIST by SGD on the cross-entropy loss, without explicit regularisation, and
find that the test error keeps falling as :math:`H` grows far past the width at
which the training error reaches zero. This module runs that protocol on the
MNIST subset shipped with the library (torchvision's MNIST at full scale):
every width and seed is trained by :func:`dltheory.train.fit` with plain SGD
until its training error is zero (checked every few epochs) or an epoch budget
runs out, and the sweep records the training and test errors, the epochs used,
and two capacity measures, the :math:`\\ell_2` path norm
(:func:`dltheory.bounds.path_norm`) and the product of the layers' Frobenius norms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_int, check_real, check_seed, check_tensor, check_Xy
from ..balancedness import frobenius_product
from ..bounds import path_norm
from ..data import mnist
from ..models import count_parameters, mlp
from ..train import fit
from ..widgets import Panel, static_explorer

__all__ = ["WidthSweep", "load_digits", "pool_images", "train_to_fit", "width_sweep",
           "smallest_interpolating_width", "width_panel", "width_explorer"]

SIDE = 28  # MNIST images are 28 x 28


def pool_images(X, factor: int) -> torch.Tensor:
    """Average ``factor x factor`` blocks of flattened 28 x 28 images: ``(n, 784) -> (n, (28/factor)^2)``.

    ``factor`` must divide 28 (1, 2, 4, 7, 14 or 28); ``factor = 1`` returns the images unchanged.
    """
    X = check_tensor(X, "X", ndim=2)
    factor = check_int(factor, "factor", min=1, max=SIDE)
    if SIDE % factor:
        raise ValueError(f"factor must divide {SIDE} (1, 2, 4, 7, 14 or 28), got {factor}")
    if X.shape[1] != SIDE * SIDE:
        raise ValueError(f"X must hold flattened 28 x 28 images, shape (n, 784), got {tuple(X.shape)}")
    if factor == 1:
        return X
    pooled = F.avg_pool2d(X.reshape(-1, 1, SIDE, SIDE), factor)
    return pooled.reshape(X.shape[0], -1)


def load_digits(n_train: int | None, n_test: int | None, *, pool: int = 1, source: str = "auto",
                device="cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MNIST through :func:`dltheory.data.mnist`, pooled by :func:`pool_images`, centred by the mean training image.

    Pixels are in :math:`[0, 1]` before centring. ``None`` asks for a whole split.
    """
    X_train, y_train, X_test, y_test = mnist(n_train=n_train, n_test=n_test, source=source, flatten=True,
                                             device=device)
    X_train, X_test = pool_images(X_train, pool), pool_images(X_test, pool)
    mean = X_train.mean(0)
    return X_train - mean, y_train, X_test - mean, y_test


def _error(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(X).argmax(1) != y).double().mean().item()


def _fits(row: dict) -> bool:
    """The stopping rule of :func:`train_to_fit`: every training example classified correctly."""
    return row["train_accuracy"] == 1.0


def train_to_fit(X, y, width: int, *, lr: float, batch_size: int, check_every: int, max_epochs: int,
                 weight_decay: float = 0.0, seed: int = 0) -> dict:
    """Train ``mlp([d, width, K])`` (ReLU, biases, PyTorch's initialisation) by SGD until it fits ``(X, y)``.

    One call of :func:`dltheory.train.fit`: plain SGD on the cross-entropy loss,
    the update :math:`\\theta \\leftarrow \\theta - \\eta(\\nabla \\hat L_B(\\theta) + \\lambda\\theta)`
    of ``torch.optim.SGD`` with ``weight_decay`` :math:`= \\lambda`, which stops
    (``stop_when``) at the first check, every ``check_every`` epochs, that finds
    zero training error, or after ``max_epochs`` epochs.

    Parameters
    ----------
    X, y : tensors of shape (n, d) and (n,)
        Training inputs and class indices ``0..K-1`` (``K = max(y) + 1``).
    width : int
        Hidden units :math:`H`.
    lr, batch_size : float, int
        SGD step size :math:`\\eta` and batch size.
    check_every, max_epochs : int
        Epochs between checks of the training error, and the budget (rounded
        down to whole checks).
    weight_decay : float
        :math:`\\lambda \\ge 0`.
    seed : int
        Seeds the initialisation and the shuffling.

    Returns
    -------
    dict
        ``model`` (trained, in place), ``epochs`` (trained), ``fitted`` (zero
        training error reached), ``train_error`` and ``loss`` (training
        cross-entropy, without the weight-decay term) at the end.
    """
    X, y = check_Xy(X, y, X_ndim=2)
    width = check_int(width, "width", min=1)
    check_every = check_int(check_every, "check_every", min=1)
    max_epochs = check_int(max_epochs, "max_epochs", min=check_every)
    seed = check_seed(seed)
    n, K = X.shape[0], int(y.max().item()) + 1
    model = mlp([X.shape[1], width, K], seed=seed, dtype=X.dtype, device=X.device)
    per_epoch = -(-n // check_int(batch_size, "batch_size", min=1, max=n))
    history = fit(model, X, y, loss="ce", optimizer="sgd", lr=lr, batch_size=batch_size,
                  steps=(max_epochs // check_every) * check_every * per_epoch, weight_decay=weight_decay, seed=seed,
                  record_every=check_every * per_epoch, stop_when=_fits, progress=False)
    train_error = _error(model, X, y)
    return {"model": model, "epochs": int(history["step"][-1]) // per_epoch, "fitted": train_error == 0.0,
            "train_error": train_error, "loss": float(history["loss"][-1])}


@dataclass(frozen=True)
class WidthSweep:
    """Results of :func:`width_sweep`; every array has shape ``(len(seeds), len(widths))``."""

    widths: np.ndarray
    seeds: tuple[int, ...]
    parameters: np.ndarray  # (W,) parameter counts
    train_error: np.ndarray
    test_error: np.ndarray
    epochs: np.ndarray
    loss: np.ndarray
    path_norm: np.ndarray
    frobenius_product: np.ndarray
    n_train: int
    weight_decay: float

    def index(self, width: int) -> int:
        """Column of ``width``; ``ValueError`` if it was not swept."""
        hits = np.flatnonzero(self.widths == width)
        if hits.size == 0:
            raise ValueError(f"width {width} is not in the sweep {self.widths.tolist()}")
        return int(hits[0])


def width_sweep(X_train, y_train, X_test, y_test, widths: Sequence[int], seeds: Sequence[int], *,
                weight_decay: float = 0.0, **training) -> WidthSweep:
    """Run :func:`train_to_fit` for every seed and width; the arrays of :class:`WidthSweep`.

    ``training`` holds the keyword arguments of :func:`train_to_fit` other than
    ``width``, ``seed`` and ``weight_decay`` (``lr``, ``batch_size``,
    ``check_every``, ``max_epochs``).
    """
    widths = np.array([check_int(w, "width", min=1) for w in widths])
    seeds = tuple(check_seed(s) for s in seeds)
    if widths.size == 0 or len(seeds) == 0:
        raise ValueError("need at least one width and one seed")
    if np.any(np.diff(widths) <= 0):
        raise ValueError(f"widths must increase, got {widths.tolist()}")
    weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
    X_test, y_test = check_Xy(X_test, y_test, X_ndim=2, names=("X_test", "y_test"))
    keys = ("train_error", "test_error", "epochs", "loss", "path_norm", "frobenius_product")
    out = {k: np.zeros((len(seeds), widths.size)) for k in keys}
    parameters = np.zeros(widths.size, dtype=np.int64)
    for i, seed in enumerate(seeds):
        for j, width in enumerate(widths):
            run = train_to_fit(X_train, y_train, int(width), weight_decay=weight_decay, seed=seed, **training)
            model = run["model"]
            parameters[j] = count_parameters(model)
            values = {"train_error": run["train_error"], "test_error": _error(model, X_test, y_test),
                      "epochs": run["epochs"], "loss": run["loss"], "path_norm": path_norm(model),
                      "frobenius_product": frobenius_product(model)}
            for k in keys:
                out[k][i, j] = values[k]
    return WidthSweep(widths=widths, seeds=seeds, parameters=parameters, n_train=len(y_train),
                      weight_decay=weight_decay, **out)


def smallest_interpolating_width(sweep: WidthSweep) -> int | None:
    """The smallest swept width from which on every seed, at this and every larger width, fits exactly.

    ``None`` if even the largest width leaves a training error for some seed.
    """
    fits = np.all(sweep.train_error == 0.0, axis=0)
    if not fits[-1]:
        return None
    first = fits.size - np.argmin(fits[::-1]) if not fits.all() else 0
    return int(sweep.widths[first])


def width_panel(sweep: WidthSweep, width: int) -> Panel:
    """Errors (left) and capacity measures (right) against the width, with ``width`` marked."""
    j = sweep.index(width)
    star = smallest_interpolating_width(sweep)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for values, color, name in ((sweep.train_error, "C0", "training"), (sweep.test_error, "C3", "test")):
        mean = values.mean(0)
        left.fill_between(sweep.widths, values.min(0), values.max(0), color=color, alpha=0.2)
        left.plot(sweep.widths, mean, "o-", color=color, label=f"{name} error (mean, range)")
    if star is not None:
        left.axvline(star, color="0.5", linestyle=":", label="smallest interpolating width")
    left.axvline(width, color="k", linewidth=1)
    left.set(xscale="log", xlabel="hidden units $H$", ylabel="error", ylim=(-0.005, None),
             title="Error against width")
    left.legend(fontsize=8)
    p = sweep.parameters / sweep.parameters[0]
    right.plot(sweep.widths, p, "s-", color="0.3", label="parameters")
    pn = sweep.path_norm.mean(0)
    right.plot(sweep.widths, pn / pn[0], "o-", color="C2", label=r"$\ell_2$ path norm")
    right.axhline(1.0, color="0.7", linewidth=0.8)
    right.axvline(width, color="k", linewidth=1)
    right.set(xscale="log", yscale="log", xlabel="hidden units $H$",
              ylabel=f"relative to $H = {sweep.widths[0]}$", title="Size against norm")
    right.legend(fontsize=8)
    values = {"H": int(width), "parameters": int(sweep.parameters[j]),
              "train error": round(float(sweep.train_error[:, j].mean()), 4),
              "test error": round(float(sweep.test_error[:, j].mean()), 4),
              "path norm": round(float(sweep.path_norm[:, j].mean()), 2)}
    return Panel(fig, values)


def width_explorer(sweep: WidthSweep):
    """A slider over the swept widths drawing :func:`width_panel`; static-capable (:func:`dltheory.widgets.static_explorer`)."""
    return static_explorer(lambda H: width_panel(sweep, H), H=tuple(int(w) for w in sweep.widths))
