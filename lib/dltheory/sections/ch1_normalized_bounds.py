"""Glue of ``book/1-three-questions/normalized-bounds.ipynb``: the family of
networks trained at several corruption levels, summarised as arrays.

The section trains bias-free ReLU networks :math:`f = \\rho\\tilde f` on labels
corrupted at levels :math:`p` (Liao, Miranda, Hidary, Poggio 2018) and compares
the cross-entropy of :math:`f` and of the normalised network :math:`\\tilde f`
on the training and the test set (:func:`dltheory.bounds.normalized_losses`).
These helpers turn a dictionary ``(run, p) -> summary`` into arrays of shape
``(runs, levels)``, fit the line of normalised test against normalised training
loss with and without the clean-label point, and read off the rise of the test
loss of :math:`f` from its minimum over training (Soudry et al. 2018, Fig. 2:
the test loss can grow while the test error does not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from ..bounds import normalized_losses

__all__ = ["summarise", "family_arrays", "line_fits", "test_loss_rise"]


def summarise(model, history, X_train, y_train, X_test, y_test) -> dict:
    """The normalised losses of a trained network on its training and test set (``train``, ``test``:
    :func:`dltheory.bounds.normalized_losses`), with the network (``model``), its ``history`` and the labels
    (``train_labels``, ``test_labels``)."""
    return {
        "model": model,
        "train_labels": y_train,
        "test_labels": y_test,
        "train": normalized_losses(model, X_train, y_train),
        "test": normalized_losses(model, X_test, y_test),
        "history": history,
    }


def family_arrays(family: Mapping, levels: Sequence[float], runs: int) -> dict[str, np.ndarray]:
    """Arrays of shape ``(runs, len(levels))`` from ``family[(run, p)]`` (:func:`summarise`).

    Keys: ``train_ce``, ``test_ce`` (cross-entropy of :math:`f`), ``norm_train``,
    ``norm_test`` (of :math:`\\tilde f`), ``train_error``, ``test_error``, ``rho``.
    """
    keys = {
        "train_ce": ("train", "loss"), "test_ce": ("test", "loss"),
        "norm_train": ("train", "normalized_loss"), "norm_test": ("test", "normalized_loss"),
        "train_error": ("train", "error"), "test_error": ("test", "error"),
        "rho": ("train", "rho"),
    }
    return {
        name: np.array([[family[r, p][part][key] for p in levels] for r in range(runs)])
        for name, (part, key) in keys.items()
    }


def line_fits(norm_train: np.ndarray, norm_test: np.ndarray, levels: Sequence[float]) -> dict[str, np.ndarray]:
    """Least-squares lines of normalised test against normalised training loss, one per run.

    ``slope``, ``r2``, ``intercept``: through all levels; ``slope_noisy``,
    ``r2_noisy``: without the clean-label level :math:`p = 0` (the point with
    the highest leverage); ``residual``: test loss minus the all-levels line,
    shape ``(runs, levels)``.
    """
    levels = np.asarray(levels, dtype=float)
    noisy = levels > 0
    out: dict[str, list] = {k: [] for k in ("slope", "r2", "intercept", "slope_noisy", "r2_noisy", "residual")}
    for a, b in zip(np.atleast_2d(norm_train), np.atleast_2d(norm_test)):
        full = stats.linregress(a, b)
        part = stats.linregress(a[noisy], b[noisy])
        out["slope"].append(full.slope)
        out["r2"].append(full.rvalue**2)
        out["intercept"].append(full.intercept)
        out["slope_noisy"].append(part.slope)
        out["r2_noisy"].append(part.rvalue**2)
        out["residual"].append(b - (full.intercept + full.slope * a))
    return {k: np.array(v) for k, v in out.items()}


def test_loss_rise(history, ln_k: float | None = None) -> dict:
    """How far the test cross-entropy of :math:`f` rises after its minimum over training.

    ``history`` needs the columns ``eval_loss`` and ``eval_accuracy`` (``fit``
    with ``eval_data``). Returns ``best``, the record index of the smallest test
    loss; ``rise``, the final test loss divided by the smallest; ``error_change``,
    the final test error minus the test error at ``best``; ``loss`` and
    ``error``, the two columns. With ``ln_k`` (:math:`\\ln K`) and a column
    ``normalized_test_loss``, also ``normalized_drift``: the relative change of
    :math:`\\ln K - \\ell(\\tilde f)` on the test set between ``best`` and the end.
    """
    loss = np.asarray(history["eval_loss"], dtype=float)
    error = 1.0 - np.asarray(history["eval_accuracy"], dtype=float)
    best = int(np.argmin(loss))
    out = {
        "best": best,
        "rise": float(loss[-1] / loss[best]),
        "error_change": float(error[-1] - error[best]),
        "loss": loss,
        "error": error,
    }
    if ln_k is not None and "normalized_test_loss" in history:
        below = ln_k - np.asarray(history["normalized_test_loss"], dtype=float)
        out["normalized_drift"] = float(abs(below[-1] - below[best]) / abs(below[-1]))
    return out
