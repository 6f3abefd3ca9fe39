"""dltheory.lazy against independent computations: NumPy norms, explicit Jacobians, Du et al.'s Gram matrix."""

import copy

import numpy as np
import pytest
import torch

from dltheory import activation_patterns, lazy, models, train


def du_net(d=5, m=12, seed=0, **kw):
    return models.two_layer(d, m, outer="fixed_sign", weight_var=float(d), seed=seed, dtype=torch.float64, **kw)


def sphere(n, d, seed=0):
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True)


def moved(net, scale=0.1, seed=1):
    """A copy of ``net`` with every trainable parameter perturbed."""
    other = copy.deepcopy(net)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            if p.requires_grad:
                p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return other


def test_neuron_displacements_match_numpy_rows():
    rng = np.random.default_rng(0)
    W0, W = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    got = lazy.neuron_displacements(W0, W)
    assert got.shape == (7,)
    np.testing.assert_allclose(got.numpy(), np.linalg.norm(W - W0, axis=1), rtol=1e-12)
    assert lazy.max_neuron_displacement(W0, W) == pytest.approx(np.linalg.norm(W - W0, axis=1).max(), rel=1e-12)


def test_models_use_the_first_layers_effective_weights():
    net = du_net()
    other = moved(net)
    expected = (other[0].weight - net[0].weight).norm(dim=1)
    torch.testing.assert_close(lazy.neuron_displacements(net, other), expected.detach())
    # NTK scaling: the effective weight is weight_scale * weight
    ntk_net = models.two_layer(5, 12, outer="fixed_sign", scaling="ntk", seed=0, dtype=torch.float64)
    ntk_other = moved(ntk_net)
    scale = ntk_net[0].weight_scale
    expected = scale * (ntk_other[0].weight - ntk_net[0].weight).norm(dim=1)
    torch.testing.assert_close(lazy.neuron_displacements(ntk_net, ntk_other), expected.detach())
    # another layer of an MLP, counted from 0 (negative indices count from the end)
    mlp0 = models.mlp([4, 6, 5, 1], seed=0, dtype=torch.float64)
    mlp1 = moved(mlp0)
    layer1 = (mlp1[2].weight - mlp0[2].weight).norm(dim=1).detach()
    torch.testing.assert_close(lazy.neuron_displacements(mlp0, mlp1, layer=1), layer1)
    torch.testing.assert_close(lazy.neuron_displacements(mlp0, mlp1, layer=-2), layer1)


def du_gram(net, X):
    """H_ij = <x_i, x_j>/m * sum_r a_r^2 m 1[w_r x_i > 0] 1[w_r x_j > 0], written out (a_r^2 = 1/m)."""
    W, a = net[0].weight.detach(), net[2].weight.detach()[0]
    P = (X @ W.T > 0).double()
    return (X @ X.T) * ((P * a**2) @ P.T)


def test_kernel_change_matches_du_gram_matrix_written_out():
    X = sphere(9, 5)
    net = du_net()
    other = moved(net, scale=0.5)
    H0, H = du_gram(net, X), du_gram(other, X)
    expected = float((H - H0).norm() / H0.norm())
    assert expected > 0.01  # some patterns did flip
    assert lazy.kernel_change(net, other, X) == pytest.approx(expected, rel=1e-10)


def test_kernel_change_over_all_parameters_matches_explicit_jacobians():
    X = sphere(6, 4)
    net = models.mlp([4, 7, 5, 1], activation="tanh", seed=0, dtype=torch.float64)
    other = moved(net, scale=0.2)

    def jac(model):
        rows = []
        for x in X:
            model.zero_grad()
            model(x[None]).sum().backward()
            rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
        return torch.stack(rows)

    J0, J = jac(net), jac(other)
    K0, K = J0 @ J0.T, J @ J.T
    expected = float((K - K0).norm() / K0.norm())
    assert lazy.kernel_change(net, other, X) == pytest.approx(expected, rel=1e-10)
    assert lazy.kernel_change(net, copy.deepcopy(net), X) == 0.0


def test_laziness_reuses_relative_movement_and_is_small_for_a_wide_trained_net():
    X = sphere(10, 5)
    y = torch.sign(X[:, 0] + 0.1)
    net = du_net(m=400)
    start = copy.deepcopy(net)
    train.fit(net, X, y, loss="square", optimizer="gd", lr=4.0, steps=60, progress=False)
    got = lazy.laziness(start, net, X)
    assert set(got) == {"movement", "displacement", "kernel"}
    W0, W = start[0].weight.detach().numpy(), net[0].weight.detach().numpy()
    assert got["movement"] == pytest.approx(np.linalg.norm(W - W0) / np.linalg.norm(W0), rel=1e-10)
    assert got["movement"] == activation_patterns.relative_movement(start, net)
    assert got["displacement"] == pytest.approx(np.linalg.norm(W - W0, axis=1).max(), rel=1e-10)
    assert 0 < got["movement"] < 0.2 and 0 <= got["kernel"] < 0.2


def test_bad_inputs_are_named():
    net = du_net()
    with pytest.raises(ValueError, match="same shape"):
        lazy.neuron_displacements(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="matrix"):
        lazy.neuron_displacements(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        lazy.neuron_displacements(torch.zeros(3, 2), torch.full((3, 2), float("nan")))
    with pytest.raises(ValueError, match="layer must index one of the 2 dense layers"):
        lazy.neuron_displacements(net, net, layer=2)
    with pytest.raises(TypeError, match="layer"):
        lazy.neuron_displacements(net, net, layer=0.5)
    with pytest.raises(TypeError, match="initial"):
        lazy.kernel_change("net", net, sphere(3, 5))
    with pytest.raises(ValueError, match="NaN"):
        lazy.kernel_change(net, net, torch.full((3, 5), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="same architecture"):
        lazy.kernel_change(du_net(m=12), models.two_layer(5, 12, 2, outer="fixed_sign", weight_var=5.0,
                                                          dtype=torch.float64), sphere(3, 5))
    zero = models.two_layer(5, 4, outer="fixed_sign", weight_var=0.0, dtype=torch.float64)
    with pytest.raises(ValueError, match="initial kernel is zero"):
        lazy.kernel_change(zero, zero, sphere(3, 5))
