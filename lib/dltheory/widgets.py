"""Interactive explorers whose logic is a plain function.

The pattern: the science lives in a function ``panel(**values) -> Panel`` that
computes the numbers and draws the figure; :func:`explorer` only wires
ipywidgets controls to it. Tests call the panel function directly, and the
rendered book shows the explorer's first state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt

__all__ = ["Panel", "explorer"]


@dataclass
class Panel:
    """What an explorer shows for one setting of its controls: a figure and its numbers."""

    figure: plt.Figure
    values: dict[str, float]


def explorer(panel: Callable[..., Panel], **controls):
    """Wire ipywidgets ``controls`` (keyword = the panel's argument) to ``panel``.

    Returns a ``VBox`` of the controls above an ``Output`` that shows the panel's
    figure; moving a control redraws it.
    """
    import ipywidgets as widgets
    from IPython.display import display

    def update(**values):
        result = panel(**values)
        display(result.figure)
        plt.close(result.figure)

    # interactive_output draws once now and again on every change, inside its Output.
    out = widgets.interactive_output(update, controls)
    return widgets.VBox([*controls.values(), out])
