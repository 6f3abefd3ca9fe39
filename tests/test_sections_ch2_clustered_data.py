"""The glue of the clustered-data section: the points on the sphere, the closed-form separability
against points drawn from the caps, the linear programme against cases with known answers, and the
width sweep's bookkeeping."""

import math

import numpy as np
import pytest
import torch

from dltheory import activation_patterns as ap
from dltheory import models
from dltheory.sections import ch2_clustered_data as section


def test_points_lie_on_the_sphere_in_their_caps_and_train_and_test_share_the_clusters():
    c = section.sphere_clusters(300, 200, classes=3, clusters_per_class=2, dim=6, spread=0.05, seed=4,
                                dtype=torch.float64)
    assert c.X.shape == (300, 6) and c.X_test.shape == (200, 6)
    assert torch.allclose(c.X.norm(dim=1), torch.ones(300, dtype=torch.float64), atol=1e-14)
    assert set(c.cluster.tolist()) == set(c.cluster_test.tolist()) == set(range(6))
    assert torch.equal(c.y, c.cluster // 2) and torch.equal(c.y_test, c.cluster_test // 2)
    units = c.centres.reshape(6, 6) / c.centres.reshape(6, 6).norm(dim=1, keepdim=True)
    alpha = torch.asin(c.radius / c.centres.reshape(6, 6).norm(dim=1))
    for X, cl in [(c.X, c.cluster), (c.X_test, c.cluster_test)]:
        angle = torch.arccos((X * units[cl]).sum(dim=1).clamp(-1, 1))
        assert (angle <= alpha[cl] + 1e-12).all()  # every point lies in its cluster's cap


def test_separability_closed_form_against_many_points():
    """Sampled diameters approach the caps' diameters from below, sampled distances the gap from above."""
    c = section.sphere_clusters(20_000, 1, classes=2, clusters_per_class=2, dim=3, spread=0.2, seed=1,
                                dtype=torch.float64)
    exact = section.separability(c.centres, c.radius)
    sample = section.sample_separability(c.X[:4000], c.y[:4000], c.cluster[:4000])
    assert sample["diameter"] <= exact["diameter"] + 1e-12 and sample["diameter"] > 0.97 * exact["diameter"]
    assert sample["delta"] >= exact["delta"] - 1e-12 and sample["delta"] < exact["delta"] + 0.05
    assert exact["lam_max"] == 1 / 16 and exact["lam"] == pytest.approx(exact["diameter"] / exact["delta"])


def test_separability_of_a_hand_made_configuration():
    # two classes, one cluster each, centres at angle 90 degrees and norm 2, radius 0.2
    centres = torch.tensor([[[2.0, 0.0]], [[0.0, 2.0]]], dtype=torch.float64)
    out = section.separability(centres, 0.2)
    alpha = math.asin(0.1)
    assert out["diameter"] == pytest.approx(2 * 0.1)
    assert out["delta"] == pytest.approx(2 * math.sin((math.pi / 2 - 2 * alpha) / 2))
    assert out["lam_max"] == 1 / 8
    # the same direction, different norms: the caps overlap on the sphere, delta = 0
    stacked = torch.tensor([[[2.0, 0.0]], [[3.0, 0.0]]], dtype=torch.float64)
    assert section.separability(stacked, 0.2)["delta"] == 0.0
    assert section.separability(stacked, 0.2)["lam"] == math.inf


def test_linear_programme_on_known_cases():
    g = torch.Generator().manual_seed(0)
    blobs = torch.cat([torch.randn(20, 2, generator=g) * 0.1 + 3, torch.randn(20, 2, generator=g) * 0.1 - 3])
    labels = torch.cat([torch.zeros(20), torch.ones(20)]).long()
    assert section.linearly_separable(blobs, labels)
    xor = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    assert not section.linearly_separable(xor, torch.tensor([0, 0, 1, 1]))
    # three classes on a line, the middle one between the others: separable with biases
    line = torch.tensor([[-2.0], [-1.5], [0.0], [0.2], [1.5], [2.0]])
    assert section.linearly_separable(line, torch.tensor([0, 0, 1, 1, 2, 2]))
    assert not section.linearly_separable(line, torch.tensor([0, 1, 0, 1, 2, 2]))


def test_width_sweep_bookkeeping():
    c = section.sphere_clusters(60, 30, classes=2, clusters_per_class=2, dim=5, spread=0.01, seed=0)
    out = section.width_sweep(c, [8, 32], [0, 5], lr=1.0, steps=20, batch_size=15, record_every=10)
    for name in section.SWEEP_COLUMNS:
        assert out[name].shape == (2, 2)
    for name in section.PATH_COLUMNS:
        assert out[name + "_path"].shape == (2, 2, 3)
        np.testing.assert_array_equal(out[name], out[name + "_path"][:, :, -1])
    assert list(out["steps"]) == [0, 10, 20]
    assert np.all(out["cosine_path"][:, :, 0] == pytest.approx(1.0))  # at initialisation they coincide
    assert np.all(out["flips_path"][:, :, 0] == 0.0)
    np.testing.assert_allclose(out["cosine"], out["cosine_path"][:, :, -1])
    assert np.all(out["flips_units"] >= out["flips"])
    # the recorded movement is that of the network built from the same seed and trained the same way
    from dltheory import train

    net = models.two_layer(5, 32, 2, outer="fixed_gaussian", scaling="ntk", seed=5)
    start = models.two_layer(5, 32, 2, outer="fixed_gaussian", scaling="ntk", seed=5)
    train.fit(net, c.X, c.y, loss="ce", optimizer="sgd", lr=1.0, steps=20, batch_size=15, seed=5,
              progress=False)
    assert out["movement"][1, 1] == pytest.approx(ap.relative_movement(start, net), rel=1e-6)


def test_bad_arguments():
    raised = 0
    for seed in range(20):  # on a line, some centres fall within 0.45 of the origin
        try:
            section.sphere_clusters(10, 10, classes=2, clusters_per_class=1, dim=1, spread=0.45, seed=seed)
        except ValueError as err:
            assert "origin" in str(err)
            raised += 1
    assert 0 < raised < 20
    with pytest.raises(ValueError, match="centres"):
        section.separability(torch.zeros(3, 2), 0.1)
