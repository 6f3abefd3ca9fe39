import hashlib

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from dltheory import plotting


def draw(path):
    plotting.use_house_style()
    steps = np.arange(50)
    ax = plotting.convergence_plot({"GD": (steps, 0.9**steps), "SGD": (steps, 0.95**steps)}, reference={"floor": 1e-2})
    out = plotting.savefig(ax.figure, path)
    plt.close(ax.figure)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def test_png_output_is_byte_identical_and_has_no_metadata(tmp_path):
    assert draw(tmp_path / "a.png") == draw(tmp_path / "b.png")
    info = Image.open(tmp_path / "a.png").info
    assert "Software" not in info


def test_convergence_plot_draws_every_curve_and_reference():
    ax = plotting.convergence_plot({"a": ([1, 2], [1.0, 0.1])}, reference={"level": 0.5}, logx=True, title="t")
    assert [line.get_label() for line in ax.lines] == ["a", "level"]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log" and ax.get_title() == "t"
    plt.close(ax.figure)


def test_convergence_plot_rejects_mismatched_curves():
    with pytest.raises(ValueError, match="curve 'a'"):
        plotting.convergence_plot({"a": ([1, 2, 3], [1.0, 0.1])})


def test_spectrum_plot_sorts_and_uses_symlog():
    ax = plotting.spectrum_plot({"H": [0.0, -1e-3, 5.0, 1e-9]}, title="spectrum")
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_ydata(), [5.0, 1e-9, 0.0, -1e-3])
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    assert ax.get_yscale() == "symlog" and ax.get_title() == "spectrum"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="not finite"):
        plotting.spectrum_plot({"H": [1.0, float("nan")]})


def test_margin_distribution_plot_draws_densities_on_shared_bins():
    rng = np.random.default_rng(0)
    ax = plotting.margin_distribution_plot({"true": rng.normal(1, 0.2, 500), "random": rng.normal(0.2, 0.2, 500)})
    assert [p.get_label() for p in ax.patches if p.get_label() and not p.get_label().startswith("_")] == ["true", "random"]
    assert ax.get_ylabel() == "density"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="non-empty"):
        plotting.margin_distribution_plot({"empty": []})
