"""The explorers' logic, called directly (no browser, no kernel)."""

import ipywidgets
import pytest

from dltheory import linear, widgets


@pytest.fixture(scope="module")
def problem():
    return linear.LinearTeacher.sample(n=20, d=80, seed=0, n_test=200)


def test_panel_from_zero_reaches_min_norm(problem):
    panel = widgets.init_scale_panel(problem, 0.0, steps=200)
    assert panel.values["null_norm"] == 0.0
    assert panel.values["final_distance"] < 1e-8
    assert panel.values["test_error"] == pytest.approx(problem.test_error(linear.min_norm_solution(problem.X, problem.Y)))


def test_panel_levels_off_at_the_null_space_norm(problem):
    panel = widgets.init_scale_panel(problem, 2.0, steps=200)
    assert panel.values["final_distance"] == pytest.approx(panel.values["null_norm"], rel=1e-8)
    left, right = panel.figure.axes
    assert len(left.lines) == 2 and len(right.lines) == 3  # GD + level; curve + min-norm + marker


def test_panel_test_error_grows_with_scale(problem):
    errors = [widgets.init_scale_panel(problem, s).values["test_error"] for s in (0.0, 0.5, 2.0)]
    assert errors[0] < errors[1] < errors[2]


def test_panel_rejects_negative_scale(problem):
    with pytest.raises(ValueError, match="sigma"):
        widgets.init_scale_panel(problem, -1.0)


def test_explorer_wires_controls_to_the_panel(problem):
    calls = []

    def panel(sigma):
        calls.append(sigma)
        return widgets.init_scale_panel(problem, sigma, steps=5)

    slider = ipywidgets.FloatSlider(value=0.5, min=0, max=1)
    box = widgets.explorer(panel, sigma=slider)
    assert isinstance(box, ipywidgets.VBox) and box.children[0] is slider
    slider.value = 0.25
    assert calls == [0.5, 0.25]


def test_init_scale_explorer_builds(problem):
    box = widgets.init_scale_explorer(problem)
    assert box.children[0].value == 1.0
