"""dltheory.widgets: the explorer wires its controls to a plain panel function (no browser, no kernel).
The panels of the sections are tested in test_sections.py."""

import io
import os
import subprocess
import sys
import textwrap

import ipywidgets
import matplotlib.pyplot as plt
import pytest

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


# Colab has shipped ipywidgets 7.x for years; the library asks for ipywidgets>=7.6 so that
# installing it there does not replace Colab's widgets. Its explorers must work with both majors.
IPYWIDGETS_7 = ["ipywidgets==7.8.5", "widgetsnbextension==3.6.10", "jupyterlab_widgets==1.1.11", "ipython_genutils==0.2.0"]


@pytest.fixture(scope="module")
def ipywidgets_7(tmp_path_factory):
    """ipywidgets 7 in a folder of its own (with what it needs beyond the venv)."""
    target = tmp_path_factory.mktemp("ipywidgets7")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                             *IPYWIDGETS_7], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"the package index cannot be reached to fetch ipywidgets 7: {result.stderr.strip()[-300:]}")
    return target


def test_the_explorers_work_with_ipywidgets_7(ipywidgets_7):
    code = textwrap.dedent("""
        import matplotlib
        matplotlib.use("Agg")
        import ipywidgets, torch
        import matplotlib.pyplot as plt
        assert ipywidgets.__version__.startswith("7."), ipywidgets.__version__
        from dltheory import data, linear, widgets
        from dltheory.sections import ch1_margins, ch1_min_norm

        calls = []
        def panel(sigma):
            calls.append(sigma)
            return ch1_min_norm.init_scale_panel(problem, sigma)

        problem = linear.LinearTeacher.sample(n=6, d=12, seed=0)
        slider = ipywidgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1)
        box = widgets.explorer(panel, sigma=slider)
        slider.value = 0.1
        assert calls == [1.0, 0.1] and isinstance(box.children[-1], ipywidgets.Output)
        separable = data.separable(12, 3, seed=0, dtype=torch.float64)[:2]
        for explorer in (ch1_min_norm.init_scale_explorer(problem, grid=(0.5, 1.0)),
                         ch1_margins.regularization_explorer(*separable, grid=(1e-3, 1e-2))):
            control = explorer.children[0]
            control.index = 1  # one notch: the kernel redraws the panel
            assert isinstance(explorer, ipywidgets.VBox)
        import warnings
        seen = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            static = widgets.static_explorer(lambda a: seen.append(a) or widgets.Panel(plt.figure(), {}),
                                             a=[0.5, 2.0])
        assert "no Stack" in str(caught[0].message)  # degrades to the kernel-driven explorer, and says so
        static.children[0].index = 1
        assert seen == [0.5, 2.0] and isinstance(static.children[-1], ipywidgets.Output)
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ipywidgets_7), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def _links_to(target):
    """The client-side links (jslink) whose target is ``target``'s selected_index."""
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link

    return [w for w in list(_instances.values()) if isinstance(w, Link) and w.target == (target, "selected_index")]


def _panel(a, b=0.0):
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1], [0, a + 10 * b])
    return widgets.Panel(fig, {"a": a, "b": b})


def test_a_static_explorer_embeds_one_view_per_grid_value_and_links_it_to_the_slider():
    open_before = set(plt.get_fignums())
    grid = [0.1, 0.5, 2.0]
    box = widgets.static_explorer(_panel, a=grid)
    assert set(plt.get_fignums()) == open_before  # every view's figure is closed once drawn
    slider, stack = box.children
    assert isinstance(slider, ipywidgets.SelectionSlider) and slider.index == 0
    assert [label for label, _ in slider.options] == ["0.1", "0.5", "2"]
    assert isinstance(stack, ipywidgets.Stack) and len(stack.children) == len(grid)
    for value, view in zip(grid, stack.children):
        image, numbers = view.children
        assert image.value == widgets.png_bytes(_panel(value).figure)  # the view drawn for that value
        assert f"a = {value:.3g}" in numbers.value
    (link,) = _links_to(stack)
    assert link.source == (slider, "index")  # the browser moves the view with the slider, no kernel
    # its text form, which nbval compares, digests the numbers of every view
    assert repr(box).startswith("static explorer over a: 3 views, numbers sha256 ")
    assert repr(box) == repr(widgets.static_explorer(_panel, a=grid))
    assert repr(box) != repr(widgets.static_explorer(_panel, a=[0.1, 0.5, 2.5]))
    assert box._repr_mimebundle_()["text/plain"] == repr(box)
    plt.close("all")


def test_a_static_explorer_over_two_grids_nests_its_stacks():
    box = widgets.static_explorer(_panel, a=[1.0, 2.0], b=[0.0, 0.1, 0.2])
    first, second, outer = box.children
    assert len(outer.children) == 2 and all(len(row.children) == 3 for row in outer.children)
    assert _links_to(outer)[0].source == (first, "index")
    for a, row in zip([1.0, 2.0], outer.children):
        assert _links_to(row)[0].source == (second, "index")
        assert row.children[2].children[0].value == widgets.png_bytes(_panel(a, 0.2).figure)


@pytest.mark.parametrize("grids, message", [({}, "one or two"), ({"a": [1], "b": [1], "c": [1]}, "one or two"),
                                            ({"a": []}, "empty")])
def test_a_static_explorer_refuses_bad_grids(grids, message):
    with pytest.raises(ValueError, match=message):
        widgets.static_explorer(_panel, **grids)


def test_palette_pngs_are_small_and_deterministic():
    fig = _panel(1.0).figure
    rgba = io.BytesIO()
    fig.savefig(rgba, format="png", metadata={"Software": None})
    assert widgets.png_bytes(fig) == widgets.png_bytes(fig)
    assert len(widgets.png_bytes(fig)) < len(rgba.getvalue())
    plt.close(fig)
