"""dltheory.models: layer structure, parametrisations, seeding and bad input."""

import math

import pytest
import torch
from torch import nn

from dltheory.models import ACTIVATIONS, NTKLinear, mlp


def test_standard_mlp_structure():
    model = mlp([3, 5, 4, 2], activation="tanh")
    assert isinstance(model, nn.Sequential)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [(3, 5), (5, 4), (4, 2)]
    assert model(torch.randn(7, 3)).shape == (7, 2)


def test_single_layer_has_no_activation():
    model = mlp([3, 2])
    assert len(model) == 1 and type(model[0]) is nn.Linear


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation(activation):
    model = mlp([2, 3, 1], activation=activation)
    assert type(model[1]) is ACTIVATIONS[activation]


def test_bias_flag():
    assert all(m.bias is None for m in mlp([3, 4, 1], bias=False) if isinstance(m, nn.Linear))
    assert all(m.bias is not None for m in mlp([3, 4, 1]) if isinstance(m, nn.Linear))


def test_ntk_parametrization_layers_and_scales():
    model = mlp([3, 8, 5, 1], parametrization="ntk", weight_var=1.5, bias_var=0.2)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert all(type(m) is NTKLinear for m in linears)
    for m in linears:
        assert m.weight_scale == pytest.approx(math.sqrt(1.5 / m.in_features))
        assert m.bias_scale == pytest.approx(math.sqrt(0.2))
    defaults = [m for m in mlp([4, 6, 1], parametrization="ntk") if isinstance(m, nn.Linear)]
    assert defaults[0].weight_scale == pytest.approx(math.sqrt(2.0 / 4))
    assert defaults[1].weight_scale == pytest.approx(math.sqrt(2.0 / 6))
    assert all(m.bias_scale == 0.0 for m in defaults)


def test_ntk_linear_forward_and_standard_normal_init():
    layer = NTKLinear(400, 300, weight_std=1.3, bias_std=0.7, dtype=torch.float64)
    x = torch.randn(5, 400, dtype=torch.float64)
    expected = 1.3 / math.sqrt(400) * x @ layer.weight.T + 0.7 * layer.bias
    torch.testing.assert_close(layer(x), expected)
    w = layer.weight.detach()
    assert abs(w.mean().item()) < 0.01 and abs(w.std().item() - 1) < 0.01
    assert "weight_scale" in repr(layer)


def test_seed_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = mlp([3, 4, 2], seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    b = mlp([3, 4, 2], seed=7)
    c = mlp([3, 4, 2], seed=8)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    n1, n2 = mlp([3, 4, 2], parametrization="ntk", seed=7), mlp([3, 4, 2], parametrization="ntk", seed=7)
    assert all(torch.equal(p, q) for p, q in zip(n1.parameters(), n2.parameters()))


def test_dtype_and_device():
    model = mlp([3, 4, 2], parametrization="ntk", dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("widths", [[3], [], [3, 0, 1], [3, -2], [0, 2]])
def test_bad_widths(widths):
    with pytest.raises(ValueError, match="widths"):
        mlp(widths)


def test_bad_names_and_variances():
    with pytest.raises(ValueError, match="unknown activation"):
        mlp([2, 3, 1], activation="gelu-ish")
    with pytest.raises(ValueError, match="parametrization"):
        mlp([2, 3, 1], parametrization="mup")
    with pytest.raises(ValueError, match="weight_var"):
        mlp([2, 3, 1], weight_var=2.0)
    with pytest.raises(ValueError, match="weight_var"):
        mlp([2, 3, 1], bias_var=0.1)
    with pytest.raises(ValueError, match="weight_var > 0"):
        mlp([2, 3, 1], parametrization="ntk", weight_var=0.0)
    with pytest.raises(ValueError, match="bias_var >= 0"):
        mlp([2, 3, 1], parametrization="ntk", bias_var=-1.0)


@pytest.mark.parametrize("widths", [[3, 2.5, 1], [3, True, 1]])
def test_mlp_rejects_non_integer_widths(widths):
    with pytest.raises(ValueError, match="integers"):
        mlp(widths)
