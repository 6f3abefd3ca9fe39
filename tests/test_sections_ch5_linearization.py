"""The glue of the linearisation notebook: data, the network, and a sweep checked against a run by hand in
which the linearised network is trained as a module (ntk.linearize + train.fit), not in closed form."""

import math

import numpy as np
import pytest
import torch

from dltheory import ntk, train
from dltheory.params import flat_parameters
from dltheory.sections import ch5_linearization as section


def test_regression_data_are_on_the_sphere_of_radius_sqrt_d_standardised_and_deterministic():
    p = section.regression_data(20, 7, 5, seed=3)
    assert p["X"].shape == (20, 5) and p["y"].shape == (20,) and p["X_test"].shape == (7, 5)
    assert p["X"].dtype == torch.float64
    torch.testing.assert_close(p["X"].norm(dim=1), torch.full((20,), math.sqrt(5), dtype=torch.float64))
    assert abs(p["y"].mean().item()) < 1e-12 and p["y"].std().item() == pytest.approx(1.0)
    q = section.regression_data(20, 7, 5, seed=3)
    assert all(torch.equal(p[k], q[k]) for k in p)


def test_the_network_is_the_ntk_mlp_whose_limit_kernel_is_relu_ntk():
    net = section.ntk_network(4, 8, seed=0)
    assert [tuple(p.shape) for p in net.parameters()] == [(8, 4), (1, 8)]
    X = section.regression_data(6, 1, 4, seed=1)["X"]
    wide = section.ntk_network(4, 20000, seed=2)
    K, K_inf = ntk.empirical_ntk(wide, X), ntk.relu_ntk(X, depth=1)
    assert float((K - K_inf).norm() / K_inf.norm()) < 0.05


def test_width_sweep_matches_a_run_by_hand_with_the_linearised_module():
    p = section.regression_data(10, 6, 3, seed=0)
    lr, steps = 0.5, 30
    run = section.width_sweep(p, [16, 64], [4], lr=lr, steps=steps)
    for key in section.COLUMNS:
        assert run[key].shape == (1, 2)
    X, y, X_test = p["X"], p["y"], p["X_test"]
    net = section.ntk_network(3, 64, seed=4)
    theta0 = flat_parameters(net)
    lin = ntk.linearize(net)
    with torch.no_grad():
        f0_test = net(X_test).squeeze(1)
    train.fit(net, X, y.unsqueeze(1), loss="square", lr=lr, steps=steps, progress=False)
    train.fit(lin, X, y.unsqueeze(1), loss="square", lr=lr, steps=steps, progress=False)
    with torch.no_grad():
        f, f_lin = net(X_test).squeeze(1), lin(X_test).squeeze(1)
        loss = 0.5 * (net(X).squeeze(1) - y).pow(2).mean().item()
    assert run["lin_gap"][0, 1] == pytest.approx(float((f - f_lin).norm() / (f - f0_test).norm()), rel=1e-8)
    assert run["loss"][0, 1] == pytest.approx(loss, rel=1e-9)
    distance = float((flat_parameters(net) - theta0).norm())
    assert run["distance"][0, 1] == pytest.approx(distance, rel=1e-9)
    assert run["relative_distance"][0, 1] == pytest.approx(distance / float(theta0.norm()), rel=1e-9)
    assert 0 < run["kernel_gap"][0, 1] < 1 and run["radius"][0, 1] > 0


def test_slopes_read_power_laws_of_the_means():
    fake = {"a": np.array([[1.0, 0.5, 0.25], [1.0, 0.5, 0.25]]), "b": np.array([[2.0, 2.0, 2.0]])}
    assert section.slopes(fake, [10, 40, 160], ("a", "b")) == pytest.approx({"a": -0.5, "b": 0.0})
