"""models.two_layer: the forward pass against a NumPy evaluation, the outer layers, the scalings."""

import math

import numpy as np
import pytest
import torch

from dltheory import models, ntk


def numpy_forward(net, X, slope):
    W = net[0].weight.detach().double().numpy()
    scale = getattr(net[0], "weight_scale", 1.0)
    b = 0.0 if net[0].bias is None else net[0].bias.detach().double().numpy() * getattr(net[0], "bias_scale", 1.0)
    V = net[2].weight.detach().double().numpy()
    Z = X @ (scale * W).T + b
    return np.where(Z > 0, Z, slope * Z) @ V.T


@pytest.mark.parametrize("scaling", ["standard", "ntk"])
@pytest.mark.parametrize("outer", models.OUTER_LAYERS)
def test_forward_is_v_sigma_wx(outer, scaling):
    net = models.two_layer(5, 8, 3, activation="leaky_relu", negative_slope=0.3, outer=outer,
                           scaling=scaling, bias=True, seed=1, dtype=torch.float64)
    X = np.random.default_rng(0).normal(size=(7, 5))
    out = net(torch.as_tensor(X)).detach().numpy()
    np.testing.assert_allclose(out, numpy_forward(net, X, 0.3), rtol=1e-12, atol=1e-12)


def test_fixed_outer_layers_are_not_trained_and_have_their_pattern():
    k = 6
    sign = models.two_layer(4, 2 * k, outer="fixed_sign", outer_scale=k ** -0.5, seed=0)
    v = sign[2].weight.detach()
    assert torch.equal(v[0, :k], torch.full((k,), k ** -0.5)) and torch.equal(v[0, k:], -v[0, :k])
    assert models.count_parameters(sign) == 4 * 2 * k
    ones = models.two_layer(4, 10, outer="fixed_ones", seed=0)
    assert torch.allclose(ones[2].weight, torch.full((1, 10), 10 ** -0.5))
    trained = models.two_layer(4, 10, outer="trainable", seed=0)
    assert models.count_parameters(trained) == 4 * 10 + 10


def test_fixed_outer_layer_does_not_move_under_an_optimiser():
    net = models.two_layer(3, 16, outer="fixed_gaussian", seed=2)
    before = net[2].weight.detach().clone()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    X = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    for _ in range(5):
        opt.zero_grad()
        net(X).pow(2).mean().backward()
        opt.step()
    assert torch.equal(net[2].weight, before)
    assert net[2].weight.grad is None


def test_standard_initialisation_variance_and_zero_start():
    net = models.two_layer(50, 4000, weight_var=2.0, seed=3)
    var = net[0].weight.detach().var().item()
    assert abs(var / (2.0 / 50) - 1) < 0.02  # 2e5 draws: relative s.e. about 0.3%
    zero = models.two_layer(50, 10, weight_var=0.0, seed=3)
    assert torch.count_nonzero(zero[0].weight) == 0


def test_same_seed_same_network_and_global_generator_untouched():
    state = torch.get_rng_state()
    a = models.two_layer(4, 6, outer="fixed_gaussian", seed=5)
    b = models.two_layer(4, 6, outer="fixed_gaussian", seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_ntk_scaling_matches_the_infinite_width_kernel():
    """In NTK scaling with a fixed outer layer, the hidden-layer kernel is the first term of relu_ntk."""
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True)
    net = models.two_layer(3, 20000, outer="fixed_gaussian", scaling="ntk", seed=0, dtype=torch.float64)
    K = ntk.empirical_ntk(net, X, trainable_only=True)
    G = (X @ X.T).clamp(-1, 1)
    theta = torch.arccos(G)
    # df/dw_r = v_r 1[w_r.x > 0] sqrt(2/d) x / sqrt(m), so K -> (2/d) <x,x'> (pi - theta) / (2 pi) E v^2
    expected = (2 / 3) * G * (math.pi - theta) / (2 * math.pi)
    assert torch.allclose(K.squeeze(), expected, atol=0.03)


@pytest.mark.parametrize("kwargs, message", [
    (dict(outer="fixed_sign", width=5), "width must be even"),
    (dict(outer="fixed"), "outer"),
    (dict(negative_slope=0.1), "negative_slope"),
    (dict(scaling="ntk", weight_var=0.0), "weight_var"),
    (dict(outer_scale=0.0), "outer_scale"),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = dict(d=3, width=4) | kwargs
    with pytest.raises(ValueError, match=message):
        models.two_layer(**args)


def test_read_by_the_dense_layer_walker():
    net = models.two_layer(3, 8, activation="leaky_relu", negative_slope=0.5, outer="fixed_sign")
    layers = models.dense_layers(net)
    assert len(layers) == 2 and layers.homogeneous
