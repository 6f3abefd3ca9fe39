"""dltheory.widgets: the explorer wires its controls to a plain panel function (no browser, no kernel).
The panels of the sections are tested in test_sections.py."""

import ipywidgets
import matplotlib.pyplot as plt

from dltheory import widgets


def test_explorer_wires_controls_to_the_panel():
    calls = []

    def panel(sigma):
        calls.append(sigma)
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, sigma])
        return widgets.Panel(fig, {"sigma": sigma})

    open_before = set(plt.get_fignums())
    slider = ipywidgets.FloatSlider(value=0.5, min=0, max=1)
    box = widgets.explorer(panel, sigma=slider)
    assert isinstance(box, ipywidgets.VBox) and box.children[0] is slider
    assert isinstance(box.children[-1], ipywidgets.Output)
    slider.value = 0.25
    assert calls == [0.5, 0.25]
    assert set(plt.get_fignums()) == open_before  # each drawn figure is closed once shown


def test_explorer_passes_every_control_by_keyword():
    seen = []

    def panel(a, b):
        seen.append((a, b))
        return widgets.Panel(plt.figure(), {})

    a, b = ipywidgets.IntSlider(value=1), ipywidgets.Dropdown(options=["x", "y"], value="x")
    box = widgets.explorer(panel, a=a, b=b)
    assert list(box.children[:2]) == [a, b]
    b.value = "y"
    a.value = 3
    assert seen == [(1, "x"), (1, "y"), (3, "y")]
