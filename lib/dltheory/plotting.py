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

__all__ = ["use_house_style", "savefig", "convergence_plot", "PNG_METADATA", "DPI"]

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
