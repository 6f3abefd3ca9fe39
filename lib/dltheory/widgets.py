"""Interactive explorers whose logic is a plain function.

The pattern: the science lives in a function ``panel(**values) -> Panel`` that
computes the numbers and draws the figure; :func:`explorer` only wires
ipywidgets controls to it. Tests call the panel function directly.

:func:`explorer` needs a kernel: in the static book its controls are dead.
:func:`static_explorer` draws the panel for every point of a finite grid when
the notebook runs and links the controls to the drawn views client-side
(``jslink`` from each slider's ``index`` to a ``Stack``'s ``selected_index``),
so the embedded widget state of the rendered book answers the slider without
a kernel, and a live kernel answers it the same way.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt

__all__ = ["Panel", "explorer", "static_explorer", "png_bytes"]


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


def png_bytes(figure: plt.Figure, colors: int = 64) -> bytes:
    """The figure as a palette PNG of at most ``colors`` colours, without timestamps.

    Line art loses nothing visible at 64 colours and shrinks to a third or less
    of its RGBA size, which matters when an explorer embeds a view per grid point.
    """
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    image = Image.open(buffer).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def _format(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def static_explorer(panel: Callable[..., Panel], **grids: Sequence):
    """An explorer over finite grids that works in the static book as in a kernel.

    ``grids`` maps each of the panel's arguments to the values its slider offers
    (one or two controls). ``panel`` is drawn at every grid point now; each view
    is the figure as a palette PNG (:func:`png_bytes`) above its numbers. With one
    control the views sit in a ``Stack`` whose ``selected_index`` follows the
    slider's ``index`` through ``jslink``; with two, an outer ``Stack`` follows the
    first slider and one inner ``Stack`` per row follows the second. The links run
    in the browser, so the rendered page needs no kernel.

    Returns ``VBox([slider, ..., stack])``. Raises ``ValueError`` for no grid, more
    than two, or an empty one. ipywidgets 7 (Colab's) has no ``Stack``: there the
    same sliders drive :func:`explorer` through the kernel, with a warning that
    says so.
    """
    import ipywidgets as widgets

    if not 1 <= len(grids) <= 2:
        raise ValueError(f"static_explorer takes one or two grids of control values, got {len(grids)}")
    for name, values in grids.items():
        if len(values) == 0:
            raise ValueError(f"the grid of {name!r} is empty")
    names = list(grids)
    sliders = [widgets.SelectionSlider(options=[(_format(v), i) for i, v in enumerate(grids[name])],
                                       description=name, continuous_update=True) for name in names]
    if not hasattr(widgets, "Stack"):
        warnings.warn(f"ipywidgets {widgets.__version__} has no Stack: this explorer is drawn by the kernel "
                      "and will not move in a static page (ipywidgets >= 8 embeds its views)", stacklevel=2)
        return explorer(lambda **index: panel(**{k: grids[k][i] for k, i in index.items()}),
                        **dict(zip(names, sliders)))

    printed = []  # every view's numbers, in slider order: what the digest covers

    def view(**values):
        result = panel(**values)
        image = widgets.Image(value=png_bytes(result.figure), format="png")
        plt.close(result.figure)
        numbers = ", ".join(f"{k} = {_format(v)}" for k, v in result.values.items())
        printed.append(numbers)
        return widgets.VBox([image, widgets.HTML(f"<code>{numbers}</code>")])

    def stack(children, slider):
        box = widgets.Stack(children=children, selected_index=0)
        widgets.jslink((slider, "index"), (box, "selected_index"))
        return box

    if len(names) == 1:
        (name,) = names
        views = stack([view(**{name: v}) for v in grids[name]], sliders[0])
    else:
        first, second = names
        rows = [stack([view(**{first: a, second: b}) for b in grids[second]], sliders[1]) for a in grids[first]]
        views = stack(rows, sliders[0])
    box = _static_explorer_class()([*sliders, views])
    digest = hashlib.sha256("\n".join(printed).encode()).hexdigest()[:16]
    box.summary = f"static explorer over {', '.join(names)}: {len(printed)} views, numbers sha256 {digest}"
    return box


@functools.cache
def _static_explorer_class():
    """``VBox`` whose text form is a digest of its views' numbers.

    The text form is what a notebook stores beside the widget, so nbval compares
    the precomputed views through it (their figures are checked by the tests and
    in the browser).
    """
    import ipywidgets as widgets

    class StaticExplorer(widgets.VBox):
        summary = ""

        def __repr__(self):
            return self.summary or super().__repr__()

    return StaticExplorer
