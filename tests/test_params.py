"""dltheory.params: the flat-parameter view agrees with the module it wraps."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from dltheory import params
from dltheory._checks import named_parameters
from dltheory.models import NTKLinear, dense_layers, mlp

F64 = torch.float64


@pytest.fixture
def model():
    return mlp([3, 5, 4, 2], activation="tanh", seed=0, dtype=F64)


@pytest.fixture
def X():
    return torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(0))


def test_flat_parameters_is_parameters_to_vector(model):
    theta = params.flat_parameters(model)
    torch.testing.assert_close(theta, parameters_to_vector(model.parameters()), rtol=0, atol=0)
    assert theta.shape == (3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2,)
    assert not theta.requires_grad
    # the order: first layer's weight (row-major), its bias, then the next layer
    torch.testing.assert_close(theta[:15], model[0].weight.detach().reshape(-1), rtol=0, atol=0)
    torch.testing.assert_close(theta[15:20], model[0].bias.detach(), rtol=0, atol=0)


def test_unflatten_round_trip(model):
    theta = params.flat_parameters(model)
    parts = params.unflatten(model, theta)
    assert list(parts) == [name for name, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        assert parts[name].shape == p.shape
        torch.testing.assert_close(parts[name], p.detach(), rtol=0, atol=0)
    torch.testing.assert_close(torch.cat([t.reshape(-1) for t in parts.values()]), theta, rtol=0, atol=0)
    other = torch.arange(theta.numel(), dtype=F64)
    parts = params.unflatten(model, other)
    assert parts["0.weight"].data_ptr() == other.data_ptr()  # views, not copies
    assert parts["2.bias"][1].item() == 15 + 5 + 20 + 1


def test_as_function_is_the_model(model, X):
    f = params.as_function(model)
    theta = params.flat_parameters(model)
    torch.testing.assert_close(f(theta, X), model(X), rtol=0, atol=0)
    # another theta gives the model with those parameters, and the model is not changed
    new = theta + 0.1 * torch.randn(theta.numel(), dtype=F64, generator=torch.Generator().manual_seed(1))
    out = f(new, X)
    torch.testing.assert_close(params.flat_parameters(model), theta, rtol=0, atol=0)
    vector_to_parameters(new, model.parameters())
    torch.testing.assert_close(out, model(X), rtol=0, atol=0)


def test_gradients_flow_through_theta(model, X):
    f = params.as_function(model)
    theta = params.flat_parameters(model)
    grad = torch.func.grad(lambda t: f(t, X).pow(2).sum())(theta)
    model(X).pow(2).sum().backward()
    torch.testing.assert_close(grad, parameters_to_vector(p.grad for p in model.parameters()))


def test_errors(model, X):
    theta = params.flat_parameters(model)
    with pytest.raises(ValueError, match=rf"expected a flat vector of {theta.numel()} parameters, got shape \(50,\)"):
        params.unflatten(model, theta[:50])
    with pytest.raises(ValueError, match="expected a flat vector"):
        params.as_function(model)(theta.reshape(1, -1), X)
    empty = nn.Sequential(nn.ReLU())
    for call in (named_parameters, params.flat_parameters, params.as_function, params.slices,
                 lambda m: params.unflatten(m, torch.zeros(0))):
        with pytest.raises(ValueError, match="Sequential has no parameters"):
            call(empty)
    for call in (params.flat_parameters, params.as_function, params.slices):
        with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
            call("net")
    with pytest.raises(TypeError, match="theta must be a tensor, got list"):
        params.unflatten(model, theta.tolist())


def test_slices_locate_every_parameter_in_the_flat_vector(model):
    where = params.slices(model)
    theta = params.flat_parameters(model)
    assert list(where) == [name for name, _ in model.named_parameters()]
    # contiguous, in order, covering the whole vector
    assert [s.start for s in where.values()] == [0] + [s.stop for s in list(where.values())[:-1]]
    assert list(where.values())[-1].stop == theta.numel()
    for name, p in model.named_parameters():
        torch.testing.assert_close(theta[where[name]], p.detach().reshape(-1), rtol=0, atol=0)
    # the columns of the Jacobian that belong to a layer's weight: the autograd gradient of that weight
    X = torch.randn(3, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    jac = torch.func.jacrev(lambda t: params.as_function(model)(t, X).sum())(theta)
    model(X).sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(jac[where[name]], p.grad.reshape(-1), rtol=1e-12, atol=1e-14)


def test_slices_name_the_weights_of_the_dense_layers():
    """The replacement for the old layer_columns: slices keyed by DenseLayer.parameter_name."""
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 4, dtype=F64), nn.ReLU()),
                          NTKLinear(4, 2, dtype=F64))
    where, theta = params.slices(model), params.flat_parameters(model)
    layers = dense_layers(model)
    assert [layer.parameter_name("weight") for layer in layers] == ["0.0.weight", "1.weight"]
    assert [where[layer.parameter_name("bias")] for layer in layers] == [slice(12, 16), slice(24, 26)]
    for layer in layers:
        # the raw parameter (for NTKLinear not the effective weight_scale * weight)
        torch.testing.assert_close(theta[where[layer.parameter_name("weight")]],
                                   layer.module.weight.detach().reshape(-1), rtol=0, atol=0)
