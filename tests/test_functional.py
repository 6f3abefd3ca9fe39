"""dltheory.functional: the flat-parameter view agrees with the module it wraps."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from dltheory import functional
from dltheory.models import mlp

F64 = torch.float64


@pytest.fixture
def model():
    return mlp([3, 5, 4, 2], activation="tanh", seed=0, dtype=F64)


@pytest.fixture
def X():
    return torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(0))


def test_flat_parameters_is_parameters_to_vector(model):
    theta = functional.flat_parameters(model)
    torch.testing.assert_close(theta, parameters_to_vector(model.parameters()), rtol=0, atol=0)
    assert theta.shape == (3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2,)
    assert not theta.requires_grad
    # the order: first layer's weight (row-major), its bias, then the next layer
    torch.testing.assert_close(theta[:15], model[0].weight.detach().reshape(-1), rtol=0, atol=0)
    torch.testing.assert_close(theta[15:20], model[0].bias.detach(), rtol=0, atol=0)


def test_unflatten_round_trip(model):
    theta = functional.flat_parameters(model)
    parts = functional.unflatten(model, theta)
    assert list(parts) == [name for name, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        assert parts[name].shape == p.shape
        torch.testing.assert_close(parts[name], p.detach(), rtol=0, atol=0)
    torch.testing.assert_close(torch.cat([t.reshape(-1) for t in parts.values()]), theta, rtol=0, atol=0)
    other = torch.arange(theta.numel(), dtype=F64)
    parts = functional.unflatten(model, other)
    assert parts["0.weight"].data_ptr() == other.data_ptr()  # views, not copies
    assert parts["2.bias"][1].item() == 15 + 5 + 20 + 1


def test_as_function_is_the_model(model, X):
    f = functional.as_function(model)
    theta = functional.flat_parameters(model)
    torch.testing.assert_close(f(theta, X), model(X), rtol=0, atol=0)
    # another theta gives the model with those parameters, and the model is not changed
    new = theta + 0.1 * torch.randn(theta.numel(), dtype=F64, generator=torch.Generator().manual_seed(1))
    out = f(new, X)
    torch.testing.assert_close(functional.flat_parameters(model), theta, rtol=0, atol=0)
    vector_to_parameters(new, model.parameters())
    torch.testing.assert_close(out, model(X), rtol=0, atol=0)


def test_gradients_flow_through_theta(model, X):
    f = functional.as_function(model)
    theta = functional.flat_parameters(model)
    grad = torch.func.grad(lambda t: f(t, X).pow(2).sum())(theta)
    model(X).pow(2).sum().backward()
    torch.testing.assert_close(grad, parameters_to_vector(p.grad for p in model.parameters()))


def test_errors(model, X):
    theta = functional.flat_parameters(model)
    with pytest.raises(ValueError, match=rf"expected a flat vector of {theta.numel()} parameters, got shape \(50,\)"):
        functional.unflatten(model, theta[:50])
    with pytest.raises(ValueError, match="expected a flat vector"):
        functional.as_function(model)(theta.reshape(1, -1), X)
    empty = nn.Sequential(nn.ReLU())
    for call in (functional.check_model, functional.flat_parameters, functional.as_function,
                 lambda m: functional.unflatten(m, torch.zeros(0))):
        with pytest.raises(ValueError, match="Sequential has no parameters"):
            call(empty)
