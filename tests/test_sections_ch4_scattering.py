"""The glue of the scattering notebook: data, classifiers, stability sweeps and layer ratios."""

import numpy as np
import pytest
import torch

from dltheory import discriminants, scattering
from dltheory.sections import ch4_scattering as section


def test_mnist_images_are_averaged_down():
    X, y, Xt, yt = section.mnist_images(20, 10, down=2, dtype=torch.float64)
    assert X.shape == (20, 14, 14) and Xt.shape == (10, 14, 14) and y.dtype == torch.int64
    full, _, _, _ = section.mnist_images(20, 10, dtype=torch.float64)
    np.testing.assert_allclose(X[0, 0, 0].item(), full[0, :2, :2].mean().item())


def test_linear_accuracies_separate_separable_blobs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    X = rng.standard_normal((300, 4)) + 6 * np.eye(4)[y]
    acc = section.linear_accuracies(X[:200], y[:200], X[200:], y[200:])
    assert acc["logistic"] > 0.95 and acc["lda"] > 0.95


def test_relative_distance_and_translation_sensitivity_by_hand():
    X = torch.randn(3, 16, 16, dtype=torch.float64)
    assert section.relative_distance(X, X, X) == 0.0
    out = section.translation_sensitivity(X, [1, 2], L=2, shift=1)
    shifted = torch.roll(X, 1, dims=-1)
    assert out["pixels"] == pytest.approx(((X - shifted).flatten(1).norm(dim=1) / X.flatten(1).norm(dim=1)).mean())
    bank = scattering.filter_bank((16, 16), 2, 2, dtype=torch.float64)

    def S(x):
        return torch.cat([s.flatten(1) for s in scattering.scattering(x, bank, 2, "decreasing")], 1)

    assert out["scattering"][1] == pytest.approx(section.relative_distance(S(X), S(shifted), X))
    assert out["scattering"][1] < out["scattering"][0] < out["pixels"]


def test_deformation_distances_vanish_at_zero_and_grow():
    X = torch.randn(2, 16, 16, dtype=torch.float64)
    tau = scattering.smooth_displacement((16, 16), seed=0)
    out = section.deformation_distances(X, tau, [0.0, 0.1, 0.2], J=2, L=2)
    assert out["scattering"][0] == pytest.approx(0.0, abs=1e-12) and out["pixels"][0] == pytest.approx(0.0, abs=1e-12)
    assert out["scattering"][1] < out["scattering"][2] and out["pixels"][1] < out["pixels"][2]


def test_pooling_sensitivity_matches_pooled_features():
    X = torch.randn(2, 16, 16, dtype=torch.float64)
    sens = section.pooling_sensitivity(X, 3, pool=2, shift=2, L=2)
    banks = [scattering.filter_bank((16 // 2**k,) * 2, 1, 2) for k in range(3)]
    F = scattering.pooled_features(X, banks, pool=2)
    G = scattering.pooled_features(torch.roll(X, (2, 2), (-2, -1)), banks, pool=2)
    np.testing.assert_allclose(sens, [section.relative_distance(f, g, f) for f, g in zip(F, G)])


def test_train_cnn_and_layer_ratios():
    X, y, _, _ = section.mnist_images(60, 10, down=2)
    net = section.train_cnn(X, y, channels=(2, 3), steps=3, seed=0, batch_size=20)
    ratios = section.layer_ratios(net, X, y)
    assert list(ratios) == ["input", "block 1", "block 2", "logits"]
    assert ratios["input"] == pytest.approx(discriminants.contraction_ratio(X, y))
    with torch.no_grad():
        assert ratios["logits"] == pytest.approx(discriminants.contraction_ratio(net(X[:, None]), y))
