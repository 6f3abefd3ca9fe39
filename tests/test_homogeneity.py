"""dltheory.homogeneity against independent computations: the network's own outputs under an
explicit rescaling of its layers or of one hidden unit, autograd gradients for Euler's identity,
finite differences for the tangents of the rescaling symmetries, and the Jacobian of dltheory.ntk."""

import math

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from dltheory import homogeneity, models, ntk
from dltheory.params import as_function, flat_parameters

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def linears(model):
    """The nn.Linear modules of a model in forward order (by module traversal, not dense_layers)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@pytest.fixture(scope="module")
def net():
    return models.mlp([4, 7, 6, 1], bias=False, seed=0, dtype=F64)


@pytest.fixture(scope="module")
def ntk_net():
    return models.mlp([4, 7, 5, 1], bias=False, parametrization="ntk", seed=3, dtype=F64)


@pytest.fixture(scope="module")
def inputs():
    return torch.randn(9, 4, generator=torch.Generator().manual_seed(0), dtype=F64)


# --------------------------------------------------------------------------- scale_layers, f = rho f~


def test_scale_layers_is_homogeneous_layer_by_layer_and_jointly(net, inputs):
    f = net(inputs).detach()
    for k in range(3):
        factors = [1.0, 1.0, 1.0]
        factors[k] = 2.5
        torch.testing.assert_close(homogeneity.scale_layers(net, factors)(inputs).detach(), 2.5 * f)
    torch.testing.assert_close(homogeneity.scale_layers(net, [0.3, 0.3, 0.3])(inputs).detach(), 0.3**3 * f)
    assert net[0].weight.abs().sum() > 0  # the original is untouched
    with pytest.raises(ValueError, match="3 linear layers"):
        homogeneity.scale_layers(net, [1.0, 2.0])


def test_scale_layers_refuses_factors_of_the_wrong_type(net):
    with pytest.raises(TypeError, match="factors must be a sequence of numbers, one per layer, got float"):
        homogeneity.scale_layers(net, 2.0)
    with pytest.raises(TypeError, match="factors must be a sequence of numbers, one per layer, got str"):
        homogeneity.scale_layers(net, "123")
    with pytest.raises(TypeError, match=r"factors\[1\] must be a finite number, got True"):
        homogeneity.scale_layers(net, [1.0, True, 1.0])
    with pytest.raises(ValueError, match=r"factors\[2\] must be a finite number, got inf"):
        homogeneity.scale_layers(net, [1.0, 1.0, math.inf])


def test_scale_layers_scales_the_effective_weights_of_ntk_layers(ntk_net, inputs):
    scaled = homogeneity.scale_layers(ntk_net, [2.0, 1.0, 0.5])
    for a, b, c in zip(linears(scaled), linears(ntk_net), [2.0, 1.0, 0.5]):
        assert a.weight_scale == b.weight_scale
        torch.testing.assert_close(a.weight_scale * a.weight, c * b.weight_scale * b.weight)
    torch.testing.assert_close(scaled(inputs).detach(), ntk_net(inputs).detach())  # 2 * 1 * 0.5 = 1


def test_normalized_network_has_unit_layers_and_factorises_f(net, inputs):
    normalized, rhos = homogeneity.normalized_network(net)
    for layer, rho, original in zip(linears(normalized), rhos, linears(net)):
        assert torch.linalg.matrix_norm(layer.weight).item() == pytest.approx(1.0)
        assert rho == pytest.approx(torch.linalg.matrix_norm(original.weight).item())
    torch.testing.assert_close(math.prod(rhos) * normalized(inputs).detach(), net(inputs).detach())


def test_normalized_network_refuses_biases():
    with pytest.raises(ValueError, match="biases"):
        homogeneity.normalized_network(models.mlp([3, 4, 1], bias=True, seed=0))


def test_normalized_network_refuses_activations_that_are_not_homogeneous():
    with pytest.raises(ValueError, match="Tanh is not positively homogeneous"):
        homogeneity.normalized_network(models.mlp([3, 4, 1], activation="tanh", bias=False, seed=0))


def test_normalized_network_refuses_a_zero_layer(net):
    zero = homogeneity.scale_layers(net, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="a layer is zero"):
        homogeneity.normalized_network(zero)


def test_normalized_network_measures_the_effective_ntk_weights(ntk_net, inputs):
    normalized, rhos = homogeneity.normalized_network(ntk_net)
    for layer, rho, original in zip(linears(normalized), rhos, linears(ntk_net)):
        effective = original.weight_scale * original.weight.detach()
        assert rho == pytest.approx(torch.linalg.matrix_norm(effective).item())
        assert torch.linalg.matrix_norm(layer.weight_scale * layer.weight).item() == pytest.approx(1.0)
    torch.testing.assert_close(math.prod(rhos) * normalized(inputs).detach(), ntk_net(inputs).detach())


def test_normalized_network_of_a_nested_leaky_relu_network(inputs):
    flat = models.mlp([4, 6, 5, 1], activation="leaky_relu", bias=False, seed=4, dtype=F64)
    nested = nn.Sequential(nn.Sequential(flat[0], flat[1]), nn.Sequential(nn.Sequential(flat[2], flat[3]), flat[4]))
    normalized, rhos = homogeneity.normalized_network(nested)
    assert rhos == [torch.linalg.matrix_norm(m.weight).item() for m in linears(flat)]
    assert all(torch.linalg.matrix_norm(m.weight).item() == pytest.approx(1.0) for m in linears(normalized))
    torch.testing.assert_close(math.prod(rhos) * normalized(inputs).detach(), flat(inputs).detach())


# --------------------------------------------------------------------------- Euler's identity


def test_euler_sums_match_autograd_and_equal_f_for_relu(net, inputs):
    sums = homogeneity.euler_sums(net, inputs)
    assert sums.shape == (3, 9)
    layers = linears(net)
    for n in range(3):
        out = net(inputs[n : n + 1]).sum()
        grads = torch.autograd.grad(out, [layer.weight for layer in layers])
        for k, (layer, g) in enumerate(zip(layers, grads)):
            assert sums[k, n].item() == pytest.approx((layer.weight * g).sum().item(), rel=1e-12, abs=1e-14)
    torch.testing.assert_close(sums, net(inputs).detach().reshape(1, -1).expand(3, -1))


def test_euler_sums_fail_for_a_non_homogeneous_activation(inputs):
    tanh_net = models.mlp([4, 7, 1], activation="tanh", bias=False, seed=0, dtype=F64)
    sums = homogeneity.euler_sums(tanh_net, inputs)
    f = tanh_net(inputs).detach().reshape(-1)
    assert not torch.allclose(sums[0], f)  # tanh is not positively homogeneous
    torch.testing.assert_close(sums[1], f)  # the last layer is linear in its own weights


def test_euler_sums_of_ntk_layers_match_autograd_and_equal_f(ntk_net, inputs):
    sums = homogeneity.euler_sums(ntk_net, inputs.numpy())  # arrays are converted
    assert sums.shape == (3, 9)
    layers = linears(ntk_net)
    out = ntk_net(inputs).sum()
    grads = torch.autograd.grad(out, [layer.weight for layer in layers])
    for k, (layer, g) in enumerate(zip(layers, grads)):
        # summed over the examples: the sum of the per-example Euler sums
        assert sums[k].sum().item() == pytest.approx((layer.weight * g).sum().item(), rel=1e-12)
    torch.testing.assert_close(sums, ntk_net(inputs).detach().reshape(1, -1).expand(3, -1))


def test_euler_sums_with_biases_miss_the_bias_part(inputs):
    biased = models.mlp([4, 7, 1], bias=True, seed=5, dtype=F64)
    sums = homogeneity.euler_sums(biased, inputs)
    f = biased(inputs).detach().reshape(-1)
    # Euler over every parameter would give f; the weights alone give f minus the output bias part
    bias_part = biased[2].bias.detach()
    torch.testing.assert_close(sums[1], f - bias_part)
    assert not torch.allclose(sums[0], f)


# --------------------------------------------------------------------------- rescaling symmetries


def _nest(model):
    """The same layers (shared) in nested nn.Sequentials: ((L1, act), ((L2, act), L3))."""
    mods = list(model)
    return nn.Sequential(nn.Sequential(*mods[:2]), nn.Sequential(nn.Sequential(*mods[2:4]), *mods[4:]))


@pytest.mark.parametrize("build", [
    pytest.param(lambda: models.mlp([3, 4, 5, 2], bias=False, seed=1, dtype=F64), id="relu"),
    pytest.param(lambda: models.mlp([3, 4, 5, 2], bias=True, seed=1, dtype=F64), id="relu-bias"),
    pytest.param(lambda: models.mlp([3, 4, 5, 2], bias=True, bias_var=0.3, parametrization="ntk", seed=1,
                                    dtype=F64), id="ntk-bias"),
    pytest.param(lambda: _nest(models.mlp([3, 4, 5, 2], activation="leaky_relu", bias=True, seed=1, dtype=F64)),
                 id="nested-leaky-bias"),
])
def test_rescaling_directions_are_the_tangents_of_the_symmetry(build):
    model = build()
    X = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    f, theta = as_function(model), flat_parameters(model)
    V = homogeneity.rescaling_directions(model)
    assert V.shape == (theta.numel(), 9)
    layers = linears(model)
    names = {id(p): name for name, p in model.named_parameters()}
    column = 0
    for inner, outer in zip(layers[:-1], layers[1:]):
        for j in range(inner.out_features):
            def rescaled(c, inner=inner, outer=outer, j=j):
                params = {name: p.detach().clone() for name, p in model.named_parameters()}
                params[names[id(inner.weight)]][j] *= c
                if inner.bias is not None:
                    params[names[id(inner.bias)]][j] *= c
                params[names[id(outer.weight)]][:, j] /= c
                return torch.cat([params[name].reshape(-1) for name, _ in model.named_parameters()])

            # the network is unchanged along the curve ...
            assert torch.allclose(f(rescaled(2.7), X), f(theta, X), rtol=1e-12, atol=1e-12)
            # ... and V[:, column] is its tangent at c = 1 (central difference, exact to O(h^2))
            h = 1e-6
            tangent = (rescaled(1 + h) - rescaled(1 - h)) / (2 * h)
            assert torch.allclose(V[:, column], tangent, atol=1e-8)
            column += 1
    J = ntk.jacobian(model, X).reshape(-1, theta.numel())
    assert torch.linalg.matrix_norm(J @ V) < 1e-12 * torch.linalg.matrix_norm(J) * torch.linalg.matrix_norm(V)
    assert torch.linalg.matrix_rank(V) == V.shape[1]


def test_rescaling_directions_need_a_homogeneous_chain():
    with pytest.raises(ValueError, match="Tanh is not positively homogeneous"):
        homogeneity.rescaling_directions(models.mlp([3, 4, 2], activation="tanh", seed=0))
    for one_layer in (nn.Sequential(nn.Linear(3, 2)), nn.Linear(3, 2)):
        with pytest.raises(ValueError, match="at least two linear layers"):
            homogeneity.rescaling_directions(one_layer)
    with pytest.raises(ValueError, match="ModuleList is not an nn.Sequential"):
        homogeneity.rescaling_directions(nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 2)]))
    with pytest.raises(ValueError, match=r"unsupported module BatchNorm1d \(1\)"):
        homogeneity.rescaling_directions(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
        homogeneity.rescaling_directions("net")


# --------------------------------------------------------------------------- parametrised weights


@pytest.fixture
def weight_normed():
    """A bias-free ReLU network whose first layer is under weight_norm: W = g * v / ||v|| (row-wise)."""
    first = weight_norm(nn.Linear(4, 5, bias=False, dtype=F64))
    with torch.no_grad():
        first.parametrizations.weight.original0.mul_(torch.linspace(0.5, 2.0, 5, dtype=F64)[:, None])
    return nn.Sequential(first, nn.ReLU(), nn.Linear(5, 1, bias=False, dtype=F64))


def test_homogeneity_refuses_a_weight_normed_layer_where_it_needs_the_raw_weight(weight_normed, inputs):
    calls = {
        "scale_layers": lambda m: homogeneity.scale_layers(m, [2.0, 1.0]),
        "euler_sums": lambda m: homogeneity.euler_sums(m, inputs),
        "rescaling_directions": homogeneity.rescaling_directions,
    }
    for what, call in calls.items():
        with pytest.raises(ValueError, match=f"layer 1 has a parametrised weight; {what} needs the weight "
                                             "to be a parameter of its own"):
            call(weight_normed)
    with pytest.raises(ValueError, match="layer 1 has a parametrised weight"):
        homogeneity.normalized_network(weight_normed)
    # the walker itself reads the computed weight (dense_layers: tested in test_models_dense.py)
    g = weight_normed[0].parametrizations.weight.original0.detach()
    v = weight_normed[0].parametrizations.weight.original1.detach()
    layers = models.dense_layers(weight_normed, homogeneous=True, bias_free=True)
    torch.testing.assert_close(layers[0].weight.detach(), g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True))
