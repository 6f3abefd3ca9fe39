"""dltheory.depth against independent computations.

References: the closed form of the tent map (``data.tent_map``), a brute-force
count of activation patterns on a fine grid, the closed form of a
one-hidden-layer network's breakpoints (:math:`-b_i/w_i`), ``scipy.integrate.quad``
for L1 distances, and random piecewise-linear functions for the L1 floor.
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from torch import nn

from dltheory import data, depth, models

pytestmark = pytest.mark.usefixtures("one_thread")


def random_relu_net(widths, seed, activation=nn.ReLU):
    g = torch.Generator().manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        lin = nn.Linear(a, b, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=g, dtype=torch.float64) * math.sqrt(2 / a))
            lin.bias.copy_(torch.randn(b, generator=g, dtype=torch.float64) * 0.5)
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def grid_regions(net, a, b, n=2**18):
    """1 + the number of changes of the activation pattern between neighbouring points of a fine grid."""
    x = torch.linspace(a, b, n, dtype=torch.float64)[:, None]
    patterns, h = [], x
    with torch.no_grad():
        for module in net:
            h = module(h)
            if isinstance(module, nn.Linear) and module is not net[-1]:
                patterns.append(h > 0)
    P = torch.cat(patterns, dim=1)
    return 1 + int((P[1:] != P[:-1]).any(dim=1).sum())


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 12])
def test_tent_network_is_the_tent_map(k):
    net = depth.tent_network(k)
    x = torch.cat([torch.rand(4000, generator=torch.Generator().manual_seed(k), dtype=torch.float64),
                   torch.arange(2**k + 1, dtype=torch.float64) / 2**k])
    out = net(x[:, None])[:, 0]
    assert (out - data.tent_map(x, k)).abs().max().item() <= 1e-12
    assert models.count_parameters(net) == 6 * k + 1
    assert sum(isinstance(m, nn.Linear) for m in net) == k + 1
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [2] * k + [1]


@pytest.mark.parametrize("k", [1, 2, 4, 7, 10, 14])
def test_tent_network_has_exactly_two_to_the_k_pieces(k):
    f = depth.piecewise_linear(depth.tent_network(k))
    assert f.pieces == f.regions == 2**k
    np.testing.assert_array_equal(f.x, np.arange(2**k + 1) / 2**k)  # the dyadic breakpoints, exactly
    np.testing.assert_array_equal(np.abs(f.slopes), np.full(2**k, 2.0**k))
    closed = depth.tent_function(k)
    assert closed.pieces == 2**k and depth.l1_distance(f, closed) == 0.0


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("widths", [[1, 3, 1], [1, 4, 3, 1], [1, 3, 3, 3, 1]])
def test_exact_regions_match_a_brute_force_grid_count(widths, seed):
    net = random_relu_net(widths, seed)
    f = depth.piecewise_linear(net, (-2.0, 2.0))
    assert f.regions == grid_regions(net, -2.0, 2.0)
    # the knots carry the network's values, and the slopes are the network's derivative
    x = torch.tensor(f.x)[:, None].requires_grad_(True)
    y = net(x)[:, 0]
    np.testing.assert_allclose(f.y, y.detach().numpy(), rtol=0, atol=1e-12)
    mid = torch.tensor(0.5 * (f.x[1:] + f.x[:-1]))[:, None].requires_grad_(True)
    (grad,) = torch.autograd.grad(net(mid).sum(), mid)
    np.testing.assert_allclose(f.slopes, grad[:, 0].numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_one_hidden_layer_kinks_are_minus_b_over_w(seed):
    net = random_relu_net([1, 7, 1], seed)
    w, b = net[0].weight.detach()[:, 0].numpy(), net[0].bias.detach().numpy()
    v = net[2].weight.detach()[0].numpy()
    kinks = np.sort((-b / w)[(np.abs(-b / w) < 1.5) & (v * w != 0)])
    f = depth.piecewise_linear(net, (-1.5, 1.5))
    np.testing.assert_allclose(f.kinks(), kinks, rtol=0, atol=1e-12)
    assert f.pieces == len(kinks) + 1 <= depth.piece_bound([7])


def test_a_dead_unit_or_a_cancelling_pair_adds_no_piece():
    net = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [1.0], [-1.0]]))
        net[0].bias.copy_(torch.tensor([-0.5, -0.5, -5.0]))  # unit 3 is dead on [0, 1]
        net[2].weight.copy_(torch.tensor([[1.0, -1.0, 3.0]]))  # units 1 and 2 cancel
        net[2].bias.zero_()
    f = depth.piecewise_linear(net)
    assert f.regions == 2 and f.pieces == 1


@pytest.mark.parametrize("seed", range(5))
def test_leaky_relu_and_identity_are_piecewise_linear_too(seed):
    net = random_relu_net([1, 4, 4, 1], seed, activation=lambda: nn.LeakyReLU(0.2))
    f = depth.piecewise_linear(net, (-2.0, 2.0))
    assert f.regions == grid_regions(net, -2.0, 2.0)
    x = torch.linspace(-2, 2, 1001, dtype=torch.float64)
    np.testing.assert_allclose(f(x.numpy()), net(x[:, None])[:, 0].detach().numpy(), rtol=0, atol=1e-10)
    linear = random_relu_net([1, 4, 1], seed, activation=nn.Identity)
    assert depth.count_pieces(linear, (-2.0, 2.0)) == 1


@pytest.mark.parametrize("width,layers", [(2, 1), (3, 2), (4, 3), (2, 6)])
def test_random_networks_respect_the_piece_bounds(width, layers):
    for seed in range(10):
        net = random_relu_net([1] + [width] * layers + [1], seed)
        f = depth.piecewise_linear(net, (-3.0, 3.0))
        assert f.pieces <= f.regions <= depth.piece_bound([width] * layers) <= depth.telgarsky_bound(width, layers)
    assert depth.piece_bound([width] * layers) == (width + 1) ** layers
    assert depth.telgarsky_bound(width, layers) == (2 * width) ** layers


def test_the_ntk_parametrised_mlp_is_read_with_its_effective_weights():
    net = models.mlp([1, 5, 5, 1], parametrization="ntk", weight_var=2.0, bias_var=0.3, seed=3,
                     dtype=torch.float64)
    f = depth.piecewise_linear(net, (-1.0, 1.0))
    x = torch.linspace(-1, 1, 513, dtype=torch.float64)
    np.testing.assert_allclose(f(x.numpy()), net(x[:, None])[:, 0].detach().numpy(), rtol=0, atol=1e-12)


def quad_l1(f, g):
    points = np.union1d(f.x, g.x)
    a, b = f.interval
    value, _ = integrate.quad(lambda t: abs(f(t) - g(t)), a, b, points=points[1:-1], limit=2000,
                              epsabs=1e-13, epsrel=1e-12)
    return value


@pytest.mark.parametrize("seed", range(6))
def test_l1_distance_against_scipy_quad(seed):
    rng = np.random.default_rng(seed)
    f = depth.PiecewiseLinear.from_knots(np.r_[0, np.sort(rng.random(7)), 1], rng.normal(size=9))
    g = depth.PiecewiseLinear.from_knots(np.r_[0, np.sort(rng.random(4)), 1], rng.normal(size=6))
    assert depth.l1_distance(f, g) == pytest.approx(quad_l1(f, g), rel=1e-9, abs=1e-12)
    assert depth.l1_distance(f, g) == pytest.approx(depth.l1_distance(g, f), rel=1e-14)
    assert depth.l1_distance(f, f) == 0.0


@pytest.mark.parametrize("k", [1, 3, 6])
def test_the_constant_half_attains_the_floor_for_one_piece(k):
    half = depth.PiecewiseLinear.from_knots([0.0, 1.0], [0.5, 0.5])
    assert depth.l1_distance(depth.tent_function(k), half) == pytest.approx(0.25, abs=1e-15)
    assert depth.l1_lower_bound(k, 1) == 0.25


@pytest.mark.parametrize("k", [3, 5])
def test_random_piecewise_linear_functions_respect_the_floor(k):
    rng = np.random.default_rng(k)
    target = depth.tent_function(k)
    for p in [1, 2, 3, 5, 2 ** (k - 2) + 1, 2 ** (k - 1)]:
        for _ in range(200):
            knots = np.r_[0, np.sort(rng.random(p - 1)), 1]
            # values near the tent's, so that some come close: the floor must still hold
            g = depth.PiecewiseLinear.from_knots(knots, np.clip(target(knots) + 0.3 * rng.normal(size=p + 1),
                                                                -0.5, 1.5))
            assert g.pieces <= p
            assert depth.l1_distance(target, g) >= depth.l1_lower_bound(k, p) - 1e-15


def test_l1_lower_bound_values():
    assert depth.l1_lower_bound(5, 4) == pytest.approx((1 - 3 / 16) / 4)
    assert depth.l1_lower_bound(3, 5) == 0.0 and depth.l1_lower_bound(3, 40) == 0.0
    assert depth.l1_lower_bound(1, 1) == 0.25


def test_collinear_knots_merge_into_one_piece():
    f = depth.PiecewiseLinear.from_knots([0, 0.25, 0.5, 1.0], [0, 0.5, 1.0, 0.0])
    assert f.regions == 3 and f.pieces == 2
    np.testing.assert_allclose(f.kinks(), [0.5])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="not piecewise linear"):
        depth.piecewise_linear(nn.Sequential(nn.Linear(1, 2), nn.Tanh(), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="R -> R"):
        depth.piecewise_linear(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="a < b"):
        depth.piecewise_linear(depth.tent_network(2), (1.0, 0.0))
    with pytest.raises(TypeError, match="pair"):
        depth.piecewise_linear(depth.tent_network(2), 1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        depth.PiecewiseLinear.from_knots([0, 0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="different intervals"):
        depth.l1_distance(depth.tent_function(2), depth.PiecewiseLinear.from_knots([0, 2], [0, 0]))
    with pytest.raises(TypeError, match="PiecewiseLinear"):
        depth.l1_distance(depth.tent_function(2), depth.tent_network(2))
    with pytest.raises(ValueError, match="k"):
        depth.tent_network(0)
