"""The infinite-width margin: the LP against brute force, the certificate against random networks,
the normalised margin of hand-built networks, and input checks."""

import math

import numpy as np
import pytest
import torch

from dltheory import infinite_width as iw
from dltheory import models


def xor(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    X[np.abs(X) < 0.1] = 0.1
    return X, np.sign(X[:, 0] * X[:, 1])


def test_lp_matches_brute_force_dual_on_two_and_three_points():
    # dual: min over p in the simplex of max_k |sum_i p_i y_i Phi_ik|; brute force on a fine simplex grid
    rng = np.random.default_rng(0)
    for n in (2, 3):
        for _ in range(3):
            Phi = np.abs(rng.normal(size=(n, 4)))
            y = np.array([1.0, -1.0, 1.0][:n])
            t, alpha, p = iw.l1_svm_margin(Phi, y)
            grid = np.linspace(0, 1, 401)
            if n == 2:
                P = np.stack([grid, 1 - grid], axis=1)
            else:
                a, b = np.meshgrid(grid, grid)
                keep = a + b <= 1
                P = np.stack([a[keep], b[keep], 1 - a[keep] - b[keep]], axis=1)
            brute = np.abs((P * y) @ Phi).max(axis=1).min()
            assert t == pytest.approx(brute, abs=5e-3 * np.abs(Phi).max())
            assert np.abs(alpha).sum() <= 1 + 1e-9
            assert (y * (Phi @ alpha)).min() == pytest.approx(t, abs=1e-9)
            assert np.abs((p * y) @ Phi).max() == pytest.approx(max(t, 0.0), abs=1e-8)


def test_lp_equals_plain_svm_value_for_one_feature():
    Phi = np.array([[2.0], [1.0], [3.0]])
    y = np.array([1.0, 1.0, 1.0])
    assert iw.l1_svm_margin(Phi, y)[0] == pytest.approx(1.0)  # alpha = 1, min = 1
    assert iw.l1_svm_margin(Phi, np.array([1.0, -1.0, 1.0]))[0] == pytest.approx(0.0, abs=1e-12)


def test_cube_grid_covering_radius_holds():
    V, eps = iw.cube_sphere_grid(6, 3)
    assert np.allclose(np.linalg.norm(V, axis=1), 1)
    rng = np.random.default_rng(1)
    U = rng.normal(size=(20000, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    dist = np.sqrt(np.maximum(2 - 2 * (U @ V.T).max(axis=1), 0))
    assert dist.max() <= eps
    assert len(V) == 6 * 7**2 - 12 * 7 + 8  # points of the cube's surface grid


def test_dual_sup_brackets_a_dense_evaluation():
    X, y = xor(12, 2)
    Xl = iw.lift(X)
    c = np.random.default_rng(3).normal(size=12)
    value, upper, v = iw.dual_sup(Xl, c, rtol=1e-3)
    U = np.random.default_rng(4).normal(size=(200000, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    dense = np.abs(np.maximum(U @ Xl.T, 0) @ c).max()
    assert dense <= upper + 1e-12
    assert value == pytest.approx(np.abs(np.maximum(v @ Xl.T, 0) @ c))
    assert upper <= value * (1 + 1e-3) + 1e-12


def test_certificate_brackets_and_beats_random_networks():
    X, y = xor(16, 5)
    cert = iw.infinite_width_margin(X, y, per_edge=6, rtol=1e-3)
    assert cert.lower <= cert.upper <= cert.lower * (1 + 1e-3) + 1e-12
    assert cert.support_size <= len(X) + 1
    # the optimal network realises the lower bound
    W, u = cert.network()
    f = np.maximum(iw.lift(X) @ W.T, 0) @ u
    assert (y * f).min() / (np.sum(W**2) + np.sum(u**2)) == pytest.approx(cert.lower, rel=1e-6)
    # LPs over random dictionaries never beat the certificate
    rng = np.random.default_rng(6)
    for _ in range(5):
        V = rng.normal(size=(300, 3))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        assert iw.l1_svm_margin(iw.relu_features(iw.lift(X), V), y)[0] / 2 <= cert.upper + 1e-12


def test_normalized_margin_of_a_hand_built_network():
    # f(x) = relu(x1 + x2) + relu(-x1 - x2) - relu(x1 - x2) - relu(x2 - x1) = 2 x1 x2 on {+-1}^2
    net = models.two_layer(2, 4, bias=True, dtype=torch.float64)
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]))
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[1.0, 1.0, -1.0, -1.0]]))
    X = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    y = X[:, 0] * X[:, 1]
    # min y f = 2; ||Theta||^2 = 8 (hidden) + 4 (outer)
    assert iw.normalized_margin(net, X, y) == pytest.approx(2 / 12)
    scaled = models.two_layer(2, 4, bias=True, dtype=torch.float64)
    scaled.load_state_dict({k: 3.0 * v for k, v in net.state_dict().items()})
    assert iw.normalized_margin(scaled, X, y) == pytest.approx(2 / 12)  # 2-homogeneous: scale-free


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="labels"):
        iw.l1_svm_margin(np.ones((3, 2)), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="examples"):
        iw.l1_svm_margin(np.ones((3, 2)), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="NaN"):
        iw.infinite_width_margin(np.array([[np.nan, 1.0]]), np.array([1.0]))
    with pytest.raises(ValueError, match="coordinates"):
        iw.relu_features(np.ones((3, 3)), np.ones((4, 2)))
    with pytest.raises(TypeError, match="per_edge"):
        iw.cube_sphere_grid(2.5)
    with pytest.raises(ValueError, match="one output"):
        iw.normalized_margin(models.two_layer(2, 3, 2), torch.ones(2, 2), torch.tensor([1.0, -1.0]))
