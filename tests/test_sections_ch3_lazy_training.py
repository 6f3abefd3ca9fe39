"""The glue of the lazy-training notebook: the sweep and its slopes."""

import copy

import numpy as np
import pytest
import torch

from dltheory import activation_patterns, data, gram, train
from dltheory.sections import ch3_lazy_training as section


def test_width_sweep_shapes_and_values_match_a_run_by_hand():
    X, y = data.teacher_signs(12, 4, seed=0, dtype=torch.float64)
    sweep = section.width_sweep(X, y, [8, 32], [5], lr=4.0, steps=40)
    assert list(sweep["widths"]) == [8, 32]
    for key in section.COLUMNS:
        assert sweep[key].shape == (1, 2)
    net = gram.du_network(4, 32, seed=5, dtype=torch.float64)
    start = copy.deepcopy(net)
    train.fit(net, X, y, loss="square", optimizer="gd", lr=4.0, steps=40, progress=False)
    assert sweep["movement"][0, 1] == pytest.approx(activation_patterns.relative_movement(start, net), rel=1e-9)
    W0, W = start[0].weight.detach(), net[0].weight.detach()
    assert sweep["displacement"][0, 1] == pytest.approx((W - W0).norm(dim=1).max().item(), rel=1e-9)
    assert sweep["norm_ratio"][0, 1] == pytest.approx((W.norm() / W0.norm()).item(), rel=1e-9)
    assert sweep["loss"][0, 1] == pytest.approx(0.5 * (net(X).squeeze(1) - y).pow(2).mean().item(), rel=1e-9)
    half = gram.du_network(4, 32, seed=5, dtype=torch.float64)
    train.fit(half, X, y, loss="square", optimizer="gd", lr=4.0, steps=20, progress=False)
    assert sweep["movement_half"][0, 1] == pytest.approx(
        activation_patterns.relative_movement(start[0].weight, half[0].weight), rel=1e-9)


def test_weight_decay_shrinks_the_weights_and_slopes_read_power_laws():
    X, y = data.teacher_signs(12, 4, seed=0, dtype=torch.float64)
    decayed = section.width_sweep(X, y, [8], [0], lr=4.0, steps=200, weight_decay=0.05)
    assert decayed["norm_ratio"][0, 0] < 0.5 and decayed["movement"][0, 0] > 0.5
    fake = {"widths": np.array([10, 40, 160]), "movement": np.array([[1.0, 0.5, 0.25]]),
            "displacement": np.array([[2.0, 2.0, 2.0]]), "kernel": np.array([[1.0, 0.25, 0.0625]])}
    got = section.slopes(fake)
    assert got == pytest.approx({"movement": -0.5, "displacement": 0.0, "kernel": -1.0})


def test_bad_arguments_are_named():
    X, y = data.teacher_signs(6, 3, seed=0)
    with pytest.raises(ValueError, match="even"):
        section.width_sweep(X, y, [7], [0], lr=1.0, steps=1)
    with pytest.raises(ValueError, match="at least one width"):
        section.width_sweep(X, y, [], [0], lr=1.0, steps=1)
    with pytest.raises(ValueError, match="lr"):
        section.width_sweep(X, y, [8], [0], lr=0.0, steps=1)
    with pytest.raises(ValueError, match="weight_decay"):
        section.width_sweep(X, y, [8], [0], lr=1.0, steps=1, weight_decay=-1.0)


def test_width_panel_and_explorer_show_the_sweeps_numbers():
    import matplotlib.pyplot as plt

    X, y = data.teacher_signs(12, 4, seed=0, dtype=torch.float64)
    sweep = section.width_sweep(X, y, [8, 32], [0, 1], lr=4.0, steps=20)
    assert [len(u) for u in sweep["unit_displacements"]] == [8, 32]
    np.testing.assert_allclose([u.max() for u in sweep["unit_displacements"]], sweep["displacement"][0])
    panel = section.width_panel(sweep, 32)
    assert panel.values["m"] == 32
    for key in section.MEASURES:
        assert panel.values[key] == pytest.approx(sweep[key][:, 1].mean())
    assert panel.figure.axes[1].get_xlabel() == "width $m$"
    plt.close(panel.figure)
    with pytest.raises(ValueError, match="one of the sweep's widths"):
        section.width_panel(sweep, 16)
    box = section.width_explorer(sweep)
    assert repr(box).startswith("static explorer over m: 2 views")
