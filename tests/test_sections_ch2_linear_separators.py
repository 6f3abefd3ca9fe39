"""The glue of linear-separators.ipynb against independent computations and the facts its prose relies on."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dltheory import bounds, data, hinge_sgd, implicit_bias, models
from dltheory.sections import ch2_linear_separators as S

pytestmark = pytest.mark.usefixtures("one_thread")


def problem(n=80, d=4, margin=0.15, seed=0):
    X, y, _ = data.separable(n, d, margin=margin, seed=seed, dtype=torch.float64)
    return X.numpy(), y.numpy()


def test_brutzkus_network_is_two_layer_with_outer_weights_pm_one_over_sqrt_k():
    W0, a = S.brutzkus_network(50, 40, alpha=0.5, R=0.01, seed=3)
    net = models.two_layer(50, 80, activation="leaky_relu", negative_slope=0.5, outer="fixed_sign",
                           outer_scale=40 ** -0.5, weight_var=1e-4, seed=3, dtype=torch.float64)
    assert np.array_equal(W0, net[0].weight.detach().numpy())
    assert np.allclose(a, np.r_[np.ones(40), -np.ones(40)] / math.sqrt(40))
    assert np.linalg.norm(W0, axis=1).mean() == pytest.approx(0.01, rel=0.05)  # rows of norm about R
    assert not S.brutzkus_network(5, 3, alpha=0.5, R=0.0, seed=0)[0].any()


def test_width_sweep_counts_bounds_and_the_symmetric_start():
    X, y = problem()
    sweep = S.width_sweep(X, y, [1, 5, 40], alpha=0.5, eta=1.0, R=1e-3, orders=2, seed=7)
    assert sweep["updates"].shape == (3, 2) and sweep["converged"]
    w = np.linalg.norm(implicit_bias.max_margin_direction(X, y).numpy())
    assert sweep["w_star_norm"] == pytest.approx(w)
    assert sweep["bound_from_zero"] == pytest.approx(w**2 / 0.25 * 2)
    for i, k in enumerate([1, 5, 40]):
        W0, a = S.brutzkus_network(4, k, alpha=0.5, R=1e-3, seed=7 + i)
        assert sweep["bound"][i] == pytest.approx(hinge_sgd.update_bound(w, alpha=0.5, eta=1.0, k=k,
                                                                          init_norm=np.linalg.norm(W0)))
        run = hinge_sgd.hinge_sgd(X, y, W0, a, alpha=0.5, eta=1.0, seed=8)
        assert sweep["updates"][i, 1] == run.updates
    # from W0 = 0 every width trains the same two-unit network: the same count
    assert len(set(sweep["updates_from_zero"].tolist())) == 1
    assert (sweep["updates"] <= sweep["bound"][:, None]).all()


def test_gradient_check_matches_the_library_point_by_point():
    X, y = problem(seed=1)
    w_star = implicit_bias.max_margin_direction(X, y).numpy()
    check = S.gradient_check(X, y, w_star, ks=[1, 3], scales=[0.1, 10.0], count=20, alpha=0.3, seed=0)
    assert all(v.shape == (80,) for v in check.values())
    assert (check["grad_norm"] >= check["bound"]).all() and (check["bound"] > 0).all()
    rng = np.random.default_rng(0)  # the glue's draws, in its order
    for k in (1, 3):
        a = np.r_[np.ones(k), -np.ones(k)] / math.sqrt(k)
        for s in (0.1, 10.0):
            W = rng.standard_normal((20, 2 * k, 4)) * (s / 2)
            pick = (check["k"] == k) & (check["scale"] == s)
            loss, grad = hinge_sgd.hinge_loss_grad(W, a, X, y, 0.3)
            assert np.allclose(check["loss"][pick], loss)
            assert np.allclose(check["grad_norm"][pick], np.linalg.norm(grad.reshape(20, -1), axis=1))
            assert np.allclose(check["bound"][pick], hinge_sgd.gradient_lower_bound(W, a, X, y, w_star, alpha=0.3))


def test_learning_curve_uses_nested_training_sets_and_a_held_out_test_set():
    curve = S.learning_curve(3, 0.1, [20, 60], seeds=[5, 6], k=2, alpha=0.5, eta=1.0, R=1e-3, n_test=500,
                             delta=0.05)
    assert curve["error"].shape == (2, 2) and ((0 <= curve["error"]) & (curve["error"] <= 1)).all()
    X, y, _ = data.separable(560, 3, margin=0.1, seed=6, dtype=torch.float64)
    X, y = X.numpy(), y.numpy()
    W0, a = S.brutzkus_network(3, 2, alpha=0.5, R=1e-3, seed=6)
    run = hinge_sgd.hinge_sgd(X[:20], y[:20], W0, a, alpha=0.5, eta=1.0, seed=6)
    assert curve["updates"][1, 0] == run.updates
    out = hinge_sgd.network_output(run.W, a, X[60:], 0.5)
    assert curve["error"][1, 0] == pytest.approx(np.mean(np.sign(out) != y[60:]))
    assert curve["bound"][1, 0] == bounds.compression_bound(run.updates, 20, 0.05, data_dependent=True)


def right_step(W, a, x, y, alpha, eta):
    z = W @ x
    return W + eta * y * np.outer(a * np.where(z > 0, 1.0, alpha), x), a + eta * y * np.maximum(z, alpha * z)


def test_training_both_layers_counts_the_updates_of_an_autograd_loop():
    X, y = problem(n=60, d=4, seed=2)
    counts = S.count_updates_both_layers(right_step, X, y, [3], alpha=0.4, eta=0.5, R=0.1, seed=11)
    assert counts["converged"]
    W0, a0 = S.brutzkus_network(4, 3, alpha=0.4, R=0.1, seed=11)
    W = torch.tensor(W0, requires_grad=True)
    a = torch.tensor(a0, requires_grad=True)
    rng, count = np.random.default_rng(11), 0
    while True:
        before = count
        for j in rng.permutation(60):
            loss = torch.relu(1 - y[j] * (a @ torch.nn.functional.leaky_relu(W @ torch.tensor(X[j]), 0.4)))
            if loss.item() > 0:
                W.grad = a.grad = None
                loss.backward()
                with torch.no_grad():
                    W -= 0.5 * W.grad
                    a -= 0.5 * a.grad
                count += 1
        if count == before:
            break
    assert counts["updates"][0] == count


def test_figures_are_built():
    X, y = problem()
    sweep = S.width_sweep(X, y, [1, 4], alpha=0.5, eta=1.0, R=1e-3, orders=2, seed=0)
    w_star = implicit_bias.max_margin_direction(X, y).numpy()
    check = S.gradient_check(X, y, w_star, ks=[1], scales=[1.0], count=10, alpha=0.5, seed=0)
    curve = S.learning_curve(3, 0.1, [20, 40], seeds=[1], k=2, alpha=0.5, eta=1.0, R=1e-3, n_test=200, delta=0.1)
    figs = [S.plot_width_sweep(sweep), S.plot_landscape(check, np.linspace(0, 1, 5), np.zeros(5)),
            S.plot_learning_curves(curve, curve, gamma=0.1)]
    for fig in figs:
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
        plt.close(fig)
