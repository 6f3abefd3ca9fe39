"""dltheory.degeneracy against independent computations: hand-counted conditions,
the network's own outputs under an explicit rescaling, finite differences and the
Jacobian of dltheory.ntk."""

import pytest
import torch
from torch import nn

from dltheory import degeneracy, ntk
from dltheory.functional import as_function, flat_parameters
from dltheory.models import mlp

F64 = torch.float64


def test_takeuchi_condition_by_hand():
    rows = degeneracy.takeuchi_condition([8, 32, 32, 2], n=50)
    assert [tuple(r) for r in rows] == [(1, 256, 100, True), (2, 1024, 100, True), (3, 64, 100, False)]
    # a bottleneck narrower than the output lowers the bound of every layer before it
    rows = degeneracy.takeuchi_condition([4, 3, 1, 5], n=10)
    assert [r.bound for r in rows] == [10, 10, 50]
    assert [r.holds for r in rows] == [True, False, False]
    assert not any(r.holds for r in degeneracy.takeuchi_condition([8, 8, 2], n=50))


@pytest.mark.parametrize("widths, n", [([8], 3), ([8, 0, 2], 3), ([8, 2.5, 2], 3), ([8, 4, 2], 0)])
def test_takeuchi_condition_rejects_bad_input(widths, n):
    with pytest.raises(ValueError):
        degeneracy.takeuchi_condition(widths, n)


@pytest.mark.parametrize("bias", [False, True])
def test_rescaling_directions_are_the_tangents_of_the_symmetry(bias):
    model = mlp([3, 4, 5, 2], bias=bias, seed=1, dtype=F64)
    X = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    f, theta = as_function(model), flat_parameters(model)
    V = degeneracy.rescaling_directions(model)
    assert V.shape == (theta.numel(), 9)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    column = 0
    for inner, outer in zip(linears[:-1], linears[1:]):
        for j in range(inner.out_features):
            def rescaled(c, inner=inner, outer=outer, j=j):
                params = {name: p.detach().clone() for name, p in model.named_parameters()}
                names = {id(p): name for name, p in model.named_parameters()}
                params[names[id(inner.weight)]][j] *= c
                if bias:
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


def test_layer_columns_cover_the_weights():
    model = mlp([3, 4, 2], bias=True, seed=0)
    cols = degeneracy.layer_columns(model)
    theta = flat_parameters(model)
    assert torch.equal(theta[cols[0]], model[0].weight.detach().reshape(-1))
    assert torch.equal(theta[cols[1]], model[2].weight.detach().reshape(-1))


def test_rescaling_directions_need_a_homogeneous_chain():
    with pytest.raises(ValueError, match="homogeneous"):
        degeneracy.rescaling_directions(mlp([3, 4, 2], activation="tanh", seed=0))
    with pytest.raises(ValueError, match="two Linear"):
        degeneracy.rescaling_directions(nn.Sequential(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="Sequential"):
        degeneracy.rescaling_directions(nn.Linear(3, 2))


def test_near_zero_count():
    values = torch.tensor([-1e-17, 0.0, 3e-12, 1e-3, 2.0])
    assert degeneracy.near_zero_count(values, 1e-9) == 3
    assert degeneracy.near_zero_count(values, 0.0) == 1
    assert degeneracy.near_zero_count(1e6 * values, 1e-9) == 3  # relative, not absolute
    with pytest.raises(ValueError):
        degeneracy.near_zero_count(torch.tensor([float("nan")]), 1e-9)
    with pytest.raises(ValueError):
        degeneracy.near_zero_count(torch.tensor([]), 1e-9)
