"""One house style for every figure of the book, and deterministic PNG output.

A seeded experiment drawn with this style gives a byte-identical PNG run after
run: the fonts are matplotlib's bundled DejaVu family, the resolution is fixed,
and no version or date metadata is written into the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

__all__ = ["use_house_style", "savefig", "convergence_plot", "spectrum_plot", "margin_distribution_plot",
           "PNG_METADATA", "DPI"]

DPI = 100
# No "Software" entry: its matplotlib version would change the file on every upgrade.
PNG_METADATA = {"Software": None}


def use_house_style() -> None:
    """Apply the book's style to matplotlib (and to inline figures in a notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font="DejaVu Sans")
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.autolayout": False,
            "figure.constrained_layout.use": True,
            "axes.titlesize": "medium",
            "legend.frameon": False,
            "svg.hashsalt": "dltheory",
            "path.simplify": False,
        }
    )
    _configure_inline_backend()


def _configure_inline_backend() -> None:
    """Inside IPython, make inline PNGs carry no metadata and a fixed resolution."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to configure
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.run_line_magic("config", f"InlineBackend.print_figure_kwargs = {{'bbox_inches': 'tight', 'metadata': {PNG_METADATA!r}}}")
    shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    shell.run_line_magic("config", f"InlineBackend.rc = {{'figure.dpi': {DPI}}}")


def savefig(fig: plt.Figure, path: str | Path) -> Path:
    """Write ``fig`` as a deterministic PNG (fixed DPI, no metadata) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    return path


def convergence_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str = "step",
    ylabel: str = "error",
    title: str | None = None,
    logx: bool = False,
    logy: bool = True,
    reference: Mapping[str, float] | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw error curves against time on log axes.

    Parameters
    ----------
    curves
        ``label -> (steps, values)``.
    reference
        ``label -> level``: horizontal dashed lines (a floor the curves should reach).
    """
    if ax is None:
        _, ax = plt.subplots()
    for label, (x, y) in curves.items():
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"curve {label!r}: steps have shape {x.shape} but values {y.shape}")
        ax.plot(x, y, label=label)
    for i, (label, level) in enumerate((reference or {}).items()):
        ax.axhline(level, linestyle="--", linewidth=1, color=f"C{len(curves) + i}", label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def spectrum_plot(
    eigenvalues: Mapping[str, Sequence[float]],
    *,
    linthresh: float | None = None,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Sorted eigenvalues against their index on a symmetric-log axis.

    A symmetric-log scale shows a bulk near zero, negative eigenvalues (saddles)
    and large outliers in one picture (Sagun et al. 2017). Values whose magnitude
    is below ``linthresh`` (default: ``1e-6`` times the largest magnitude) lie on
    the linear part around zero.

    Parameters
    ----------
    eigenvalues
        ``label -> eigenvalues`` (any order; each set is sorted descending).
    """
    if ax is None:
        _, ax = plt.subplots()
    largest = 0.0
    for label, values in eigenvalues.items():
        values = np.sort(np.asarray(values, dtype=float).ravel())[::-1]
        if values.size == 0 or not np.isfinite(values).all():
            raise ValueError(f"spectrum {label!r} is empty or not finite")
        largest = max(largest, float(np.abs(values).max()))
        ax.plot(np.arange(1, values.size + 1), values, ".", markersize=3, label=label)
    threshold = linthresh if linthresh is not None else max(largest, 1e-300) * 1e-6
    ax.set_yscale("symlog", linthresh=threshold)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("index (descending)")
    ax.set_ylabel("eigenvalue")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def margin_distribution_plot(
    margins: Mapping[str, Sequence[float]],
    *,
    bins: int = 40,
    title: str | None = None,
    xlabel: str = "normalised margin",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Histograms (as densities) of margins, one per label, on shared bins.

    The picture of Bartlett, Foster, Telgarsky (2017, fig. 1): margins of a
    network trained on true labels sit further right, once normalised, than
    those of one trained on random labels.
    """
    if ax is None:
        _, ax = plt.subplots()
    arrays = {label: np.asarray(values, dtype=float).ravel() for label, values in margins.items()}
    if not arrays or any(a.size == 0 or not np.isfinite(a).all() for a in arrays.values()):
        raise ValueError("every margin set must be non-empty and finite")
    everything = np.concatenate(list(arrays.values()))
    edges = np.linspace(everything.min(), everything.max(), bins + 1)
    if edges[0] == edges[-1]:
        edges = np.linspace(edges[0] - 0.5, edges[0] + 0.5, bins + 1)
    for label, values in arrays.items():
        ax.hist(values, bins=edges, density=True, histtype="stepfilled", alpha=0.4, label=label)
    ax.axvline(0.0, color="0.3", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
