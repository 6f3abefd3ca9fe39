"""The glue of the landscape-topology notebook: data, the three experiments at toy sizes."""

import numpy as np
import pytest
import torch

from dltheory import topology
from dltheory.sections import ch4_landscape_topology as section


def test_bottleneck_data_is_seeded_and_shaped():
    X, Y = section.bottleneck_data(30, 5, 4, seed=3)
    assert X.shape == (30, 5) and Y.shape == (30, 4)
    assert np.array_equal(X, section.bottleneck_data(30, 5, 4, seed=3)[0])
    assert not np.array_equal(X, section.bottleneck_data(30, 5, 4, seed=4)[0])


def test_fit_bottleneck_reaches_the_reduced_rank_optimum():
    X, Y = section.bottleneck_data(40, 5, 4, seed=0)
    out = section.fit_bottleneck(X, Y, [5, 3, 2, 4], [1, 2], steps=3)
    assert out["k"] == 2
    assert out["optimum"] == pytest.approx(topology.reduced_rank_regression(X, Y, 2).value)
    assert np.all(out["initial_gap"] > 0.1)
    assert np.all(np.abs(out["gap"]) < 1e-8)
    assert np.all(out["distance"] < 1e-5)


def test_quadratic_teacher_is_a_quadratic_form_on_the_sphere():
    X, y, M = section.quadratic_teacher(20, 3, seed=1)
    assert torch.allclose(X.norm(dim=1), torch.full((20,), 3**0.5, dtype=torch.float64))
    assert torch.allclose(y, torch.einsum("ni,ij,nj->n", X, M, X))
    assert torch.allclose(torch.linalg.eigvalsh(M), torch.tensor([-1.0, 0.25, 1.5], dtype=torch.float64))


def test_width_sweep_returns_relative_losses_per_width():
    X, y, _ = section.quadratic_teacher(20, 3, seed=1)
    out = section.width_sweep(X, y, [2, 6], members=3, seed=0, adam_steps=5, gd_steps=5)
    assert list(out) == [2, 6]
    assert all(v.shape == (3,) and np.all(v >= 0) for v in out.values())
    # width 2 cannot represent a full-rank indefinite form of rank 3: its loss stays positive
    assert np.all(out[2] > 1e-3)


def test_connect_returns_both_paths_between_the_same_end_points():
    out = section.connect([4], n_train=100, steps=3, curve_steps=3, seed=0, points=5)
    assert np.allclose(out["t"], [0, 0.25, 0.5, 0.75, 1])
    for key in ("line", "curve", "line_accuracy", "curve_accuracy"):
        assert out[key].shape == (5,)
    assert out["line"][0] == pytest.approx(out["curve"][0]) and out["line"][-1] == pytest.approx(out["curve"][-1])
    assert out["line_barrier"] == pytest.approx(topology.barrier(out["t"], out["line"]))
