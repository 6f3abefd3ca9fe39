"""The glue of the regularised-margins notebook: the hand-written gradient, the fits and the sweeps."""

import math

import numpy as np
import pytest
import torch

from dltheory import data, infinite_width
from dltheory.sections import ch3_regularized_margins as section


def test_xor_data_has_the_gap_and_labels():
    X, y = section.xor_data(200, gap=0.2, seed=1)
    assert X.shape == (200, 2) and X.abs().min() >= 0.2 and X.abs().max() <= 1
    assert torch.equal(y, torch.sign(X[:, 0] * X[:, 1]))


def test_objective_gradient_matches_autograd():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    y = np.sign(rng.normal(size=7))
    m = 5
    theta = rng.normal(size=m * 3 + m + m)
    value, grad = section._objective(theta, X, y, m, 0.01)
    t = torch.tensor(theta, requires_grad=True)
    W, b, u = t[:15].reshape(5, 3), t[15:20], t[20:]
    f = torch.relu(torch.tensor(X) @ W.T + b) @ u
    ref = torch.nn.functional.softplus(-torch.tensor(y) * f).mean() + 0.01 * t.pow(2).sum()
    (g,) = torch.autograd.grad(ref, t)
    assert value == pytest.approx(ref.item())
    assert np.allclose(grad, g.numpy(), atol=1e-12)


def test_fit_regularized_is_stationary_and_below_the_certificate():
    X, y = section.xor_data(16, seed=2)
    cert = section.certificate(X, y, per_edge=6, rtol=1e-3)
    net = section.fit_regularized(X, y, 20, 1e-4, seed=3)
    theta = torch.cat([net[0].weight.reshape(-1), net[0].bias, net[2].weight.reshape(-1)]).detach().numpy()
    _, grad = section._objective(theta, X.numpy(), y.numpy(), 20, 1e-4)
    assert np.abs(grad).max() < 1e-2  # L-BFGS stops at the ReLU kinks
    gamma = infinite_width.normalized_margin(net, X, y)
    assert 0 < gamma <= cert.upper


def test_parity_comparison_shapes_and_values():
    out = section.parity_comparison(8, [32], [0], width=16, steps=50, n_test=100)
    assert out["ntk"].shape == (1, 1) and out["net"].shape == (1, 1)
    assert 0 <= out["ntk"][0, 0] <= 1 and 0 <= out["net"][0, 0] <= 1


def test_width_sweep_and_conservation_on_a_small_problem():
    X, y = data.sparse_parity(40, 6, seed=0, dtype=torch.float64)
    X = X / math.sqrt(6)
    sw = section.width_sweep(X, y, X, y, [4, 8], steps=100, lr=2.0, seed=1)
    assert sw["grs"].shape == (2, 2) and np.all(sw["gap"] >= 0)
    assert np.all(sw["gap"][0] < sw["gap"][1] + 1e-12) or np.all(sw["gap"][0] < 1e-3)
    cons = section.conservation(X, y, 8, [0.2, 0.1], horizon=10.0, seed=2, records=4)
    assert cons["squared_norms"].shape == (2, 5, 3)
    assert 1.5 < cons["drift"][0] / cons["drift"][1] < 2.5


def test_grs_quantity_matches_its_formula():
    from dltheory import models
    X, y = data.sparse_parity(20, 4, seed=0, dtype=torch.float64)
    net = models.mlp([4, 6, 1], bias=False, seed=0, dtype=torch.float64)
    f = net(X).detach()[:, 0]
    gamma = (y * f).min().item()
    expected = (math.sqrt(2) * net[0].weight.norm().item() * net[2].weight.norm().item() / (gamma * math.sqrt(20))
                if gamma > 0 else math.inf)
    assert section.grs_quantity(net, X, y) == pytest.approx(expected)
