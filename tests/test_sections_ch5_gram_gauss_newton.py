"""The glue of the Gram-Gauss-Newton notebook: data, network, runs, the sweep, the race and the explorer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from dltheory import gauss_newton, ntk, train  # noqa: E402
from dltheory.sections import ch5_gram_gauss_newton as section  # noqa: E402


def test_sphere_regression_gives_unit_inputs_and_standardised_targets_deterministically():
    X, y = section.sphere_regression(30, 5, seed=3)
    assert X.shape == (30, 5) and y.shape == (30,) and X.dtype == torch.float64
    torch.testing.assert_close(X.norm(dim=1), torch.ones(30, dtype=torch.float64))
    assert abs(y.mean().item()) < 1e-12 and y.std(correction=0).item() == pytest.approx(1.0)
    X2, y2 = section.sphere_regression(30, 5, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)


def test_network_is_a_bias_free_two_layer_ntk_net_with_every_weight_trained():
    net = section.network(5, 64, seed=1)
    assert sum(p.numel() for p in net.parameters()) == 5 * 64 + 64
    assert all(p.requires_grad for p in net.parameters())
    x = torch.randn(3, 5, dtype=torch.float64)
    W, a = net[0].weight.detach(), net[2].weight.detach()
    expected = torch.tanh(x @ W.T * (4.0 / 5) ** 0.5) @ a.T * (4.0 / 64) ** 0.5
    torch.testing.assert_close(net(x), expected)
    with pytest.raises(ValueError):
        section.network(5, 8, activation="sigmoid", seed=0)


def test_ggn_losses_is_the_loop_of_steps_and_half_sse_is_the_sum():
    X, y = section.sphere_regression(10, 3, seed=0)
    net = section.network(3, 32, seed=2)
    twin = section.network(3, 32, seed=2)
    R = section.ggn_losses(net, X, y, steps=3)
    with torch.no_grad():
        assert R[0] == pytest.approx(0.5 * ((twin(X).squeeze(1) - y) ** 2).sum().item(), rel=1e-12)
    opt = train.GramGaussNewton(twin, lr=1.0, lam=1.0, damping=0.0)
    for t in range(3):
        opt.step(X, y)
        assert R[t + 1] == pytest.approx(section.half_sse(twin, X, y), rel=1e-9, abs=1e-28)
    assert R[-1] < 1e-6 * R[0]


def test_gd_losses_on_a_linear_model_follow_the_closed_form_iteration():
    g = torch.Generator().manual_seed(4)
    X, y = torch.randn(8, 3, dtype=torch.float64, generator=g), torch.randn(8, dtype=torch.float64, generator=g)
    model = nn.Linear(3, 1, bias=False, dtype=torch.float64)
    w = model.weight.detach().numpy()[0].copy()
    R = section.gd_losses(model, X, y, steps=5, step_size=0.05)
    Xn, yn = X.numpy(), y.numpy()
    for t in range(6):
        assert R[t] == pytest.approx(0.5 * np.sum((Xn @ w - yn) ** 2), rel=1e-10)
        w = w - 0.05 * Xn.T @ (Xn @ w - yn)


def test_rates_and_first_below():
    R = 3.0 * 0.9 ** np.arange(11)
    assert section.geometric_rate(R) == pytest.approx(0.9)
    assert section.first_below([1.0, 1e-5, 1e-21, 1e-30], 1e-20) == 2
    assert section.first_below([1.0, 0.5], 1e-20) is None
    with pytest.raises(ValueError):
        section.geometric_rate([1.0, 0.5])


def test_width_sweep_records_what_it_says():
    X, y = section.sphere_regression(8, 3, seed=1)
    sweep = section.width_sweep(X, y, [16, 64], [5, 6], steps=3, gd_steps=4)
    assert list(sweep["widths"]) == [16, 64]
    assert sweep["ggn"].shape == (2, 2, 4) and sweep["gd"].shape == (2, 2, 5)
    for key in ("K_max", "lam_min", "lam_max", "gd_rate", "gd_bound"):
        assert sweep[key].shape == (2, 2)
    net = section.network(3, 64, seed=6)
    eig = torch.linalg.eigvalsh(ntk.empirical_ntk(net, X).reshape(8, 8))
    assert sweep["lam_min"][1, 1] == pytest.approx(eig[0].item(), rel=1e-9)
    assert sweep["lam_max"][1, 1] == pytest.approx(eig[-1].item(), rel=1e-9)
    assert sweep["gd_bound"][1, 1] == pytest.approx((1 - eig[0].item() / eig[-1].item()) ** 2, rel=1e-9)
    np.testing.assert_allclose(sweep["ggn"][1, 1], section.ggn_losses(net, X, y, 3), rtol=1e-9, atol=1e-28)
    K = gauss_newton.quadratic_constants(sweep["ggn"][0, 0])
    assert sweep["K_max"][0, 0] == pytest.approx(K.max())
    gd = section.gd_losses(section.network(3, 64, seed=6), X, y, 4, 1.0 / eig[-1].item())
    np.testing.assert_allclose(sweep["gd"][1, 1], gd, rtol=1e-10)
    assert sweep["gd_rate"][1, 1] == pytest.approx(section.geometric_rate(gd))


def test_race_counts_epochs_and_cost_from_the_same_start():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(20, 4, dtype=torch.float64, generator=g)
    y = torch.sin(X[:, 0])
    methods = {"SGD": dict(optimizer="sgd", batch=8, lr=0.5),
               "GGN": dict(optimizer="ggn", batch=8, lam=1.0, damping=0.1),
               "GD": dict(optimizer="gd", lr=0.5)}
    out = section.race(X, y, 16, seed=3, methods=methods, epochs={"SGD": 4, "GGN": 2, "GD": 3})
    P = out["params"]
    assert P == 4 * 16 + 16
    np.testing.assert_allclose(out["SGD"]["epoch"], np.arange(5))
    np.testing.assert_allclose(out["GD"]["epoch"], np.arange(4))
    assert out["SGD"]["loss"][0] == out["GGN"]["loss"][0] == out["GD"]["loss"][0]
    np.testing.assert_allclose(out["GGN"]["flops"],
                               gauss_newton.cumulative_flops("ggn", 8, P, 6, n=20)[[0, 3, 6]])
    np.testing.assert_allclose(out["GD"]["flops"], 3 * 20 * P * np.arange(4))
    assert out["GGN"]["loss"][-1] < out["GGN"]["loss"][0]


def test_width_panel_and_explorer():
    X, y = section.sphere_regression(6, 3, seed=1)
    sweep = section.width_sweep(X, y, [8, 32], [1, 2], steps=3, gd_steps=4)
    panel = section.width_panel(sweep, 32)
    assert panel.values["m"] == 32
    assert panel.values["K"] == pytest.approx(np.exp(np.log(sweep["K_max"][:, 1]).mean()))
    assert panel.values["gd_rate"] == pytest.approx(sweep["gd_rate"][:, 1].mean())
    plt.close(panel.figure)
    with pytest.raises(ValueError, match="one of the sweep's widths"):
        section.width_panel(sweep, 10)
    section.width_explorer(sweep)
    plt.close("all")
