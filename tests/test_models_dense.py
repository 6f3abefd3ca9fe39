"""dltheory.models.dense_layers, the one walker over a network's dense layers.

The main oracle: the chain :math:`h \\mapsto \\sigma(W h + b)` recomputed from what the
walker returns (effective weights, effective biases, the activations after each layer)
must give the model's own output.
"""

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from dltheory.models import HOMOGENEOUS, DenseLayer, DenseLayers, NTKLinear, dense_layers, mlp

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def replay(layers: DenseLayers, x: torch.Tensor) -> torch.Tensor:
    """The network's output recomputed from the walker's reading of it."""
    h = x.reshape(x.shape[0], -1)
    for layer in layers:
        h = h @ layer.weight.T
        if layer.bias is not None:
            h = h + layer.bias
        for act in layer.activations:
            h = act(h)
    return h


def assert_replays(model, x):
    torch.testing.assert_close(replay(dense_layers(model), x), model(x), rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------- what the walker reads


def test_an_mlp():
    model = mlp([3, 5, 4, 2], seed=0, dtype=F64)
    layers = dense_layers(model)
    assert isinstance(layers, DenseLayers) and len(layers) == 3
    assert all(isinstance(layer, DenseLayer) for layer in layers)
    assert [layer.index for layer in layers] == [1, 2, 3]
    assert [layer.name for layer in layers] == ["0", "2", "4"]
    assert [layer.module for layer in layers] == [model[0], model[2], model[4]]
    assert [layer.activations for layer in layers] == [(model[1],), (model[3],), ()]
    assert layers[-1] is layers.layers[2] and list(layers) == list(layers.layers)
    assert (layers.in_features, layers.out_features) == (3, 2)
    assert [(layer.in_features, layer.out_features) for layer in layers] == [(3, 5), (5, 4), (4, 2)]
    assert layers.homogeneous and not layers.bias_free
    # nn.Linear's effective weight and bias are its parameters themselves
    params = dict(model.named_parameters())
    for layer in layers:
        assert layer.weight is layer.module.weight and layer.bias is layer.module.bias
        assert layer.weight_scale == 1.0 and layer.bias_scale == 1.0 and not layer.parametrized
        assert params[layer.parameter_name("weight")] is layer.module.weight
        assert params[layer.parameter_name("bias")] is layer.module.bias
    assert all(w is layer.weight for w, layer in zip(layers.weights, layers, strict=True))
    assert_replays(model, randn(7, 3))


def test_nested_sequentials_are_read_in_order():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Sequential(nn.Linear(3, 4), nn.Tanh()),
        nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Sequential(nn.Identity(), nn.Linear(5, 2))),
        nn.Softplus(),
    ).to(F64)
    layers = dense_layers(model)
    assert [layer.name for layer in layers] == ["0.0", "1.0", "1.2.1"]
    assert [[type(a) for a in layer.activations] for layer in layers] == [[nn.Tanh], [nn.ReLU, nn.Identity],
                                                                          [nn.Softplus]]
    assert not layers.homogeneous and not layers.bias_free
    params = dict(model.named_parameters())
    assert {layer.parameter_name(w) for layer in layers for w in ("weight", "bias")} == set(params)
    assert_replays(model, randn(6, 3))


def test_flatten_is_only_a_reshape():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 1)).to(F64)
    layers = dense_layers(model)
    assert [layer.name for layer in layers] == ["1", "4"]
    assert layers.in_features == 6
    assert_replays(model, randn(5, 2, 3))


def test_a_lone_linear_layer():
    layer = nn.Linear(3, 2, dtype=F64)
    layers = dense_layers(layer)
    assert len(layers) == 1
    (only,) = layers
    assert only.module is layer and only.name == "" and only.index == 1 and only.activations == ()
    assert only.parameter_name("weight") == "weight" and only.parameter_name("bias") == "bias"
    assert dict(layer.named_parameters()).keys() == {"weight", "bias"}
    assert_replays(layer, randn(4, 3))
    assert dense_layers(NTKLinear(3, 2, bias_std=0.4, dtype=F64)).layers[0].bias_scale == pytest.approx(0.4)


def test_ntk_linear_layers_give_their_effective_weights():
    model = mlp([4, 6, 5, 3], parametrization="ntk", weight_var=1.5, bias_var=0.3, seed=1, dtype=F64)
    layers = dense_layers(model)
    for layer in layers:
        module = layer.module
        assert type(module) is NTKLinear
        assert layer.weight_scale == pytest.approx((1.5 / module.in_features) ** 0.5)
        assert layer.bias_scale == pytest.approx(0.3**0.5)
        torch.testing.assert_close(layer.weight, layer.weight_scale * module.weight, rtol=0, atol=0)
        torch.testing.assert_close(layer.bias, layer.bias_scale * module.bias, rtol=0, atol=0)
        assert not torch.equal(layer.weight, module.weight)  # the raw parameter is not the matrix used
        assert layer.parameter_name("weight") == f"{layer.name}.weight"  # still the raw parameter's name
    assert_replays(model, randn(8, 4))
    # the effective weight is differentiable in the raw parameter
    first = layers[0]
    (grad,) = torch.autograd.grad(first.weight.sum(), first.module.weight)
    torch.testing.assert_close(grad, torch.full_like(grad, first.weight_scale))


def test_leaky_relu_is_homogeneous():
    model = mlp([3, 6, 1], activation="leaky_relu", bias=False, seed=0, dtype=F64)
    layers = dense_layers(model, homogeneous=True, bias_free=True)
    assert layers.homogeneous and layers.bias_free
    assert isinstance(layers[0].activations[0], nn.LeakyReLU)
    x = randn(9, 3)
    assert_replays(model, x)
    assert (model[0](x) < 0).any()  # the negative slope is exercised
    # what homogeneous and bias-free mean: scaling one layer's weight by c > 0 scales the output by c
    before = model(x).detach()
    with torch.no_grad():
        layers[0].module.weight.mul_(2.5)
    torch.testing.assert_close(model(x), 2.5 * before, rtol=1e-13, atol=1e-13)
    assert_replays(model, x)


def test_homogeneity_is_reported_and_required_on_demand():
    assert set(HOMOGENEOUS) == {nn.ReLU, nn.LeakyReLU, nn.Identity}
    tanh = mlp([3, 4, 4, 1], activation="tanh", seed=0)
    assert not dense_layers(tanh).homogeneous
    with pytest.raises(ValueError, match=r"^Tanh is not positively homogeneous: this needs sigma\(c z\) = "
                                         r"c sigma\(z\) for c > 0 \(ReLU, LeakyReLU, Identity\)$"):
        dense_layers(tanh, homogeneous=True)
    softplus = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Softplus(), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="^Softplus is not positively homogeneous"):
        dense_layers(softplus, homogeneous=True)
    for activation in ("relu", "leaky_relu", "identity"):
        assert dense_layers(mlp([2, 3, 1], activation=activation), homogeneous=True).homogeneous


def test_a_weight_normalised_layer_gives_its_computed_weight():
    torch.manual_seed(2)
    model = nn.Sequential(weight_norm(nn.Linear(3, 5)), nn.ReLU(), nn.Linear(5, 2)).to(F64)
    layers = dense_layers(model)
    first = layers[0]
    assert first.parametrized and not layers[1].parametrized
    assert first.weight_scale == 1.0
    with torch.no_grad():  # change g so that the weight is not its initial copy of v
        model[0].parametrizations.weight.original0.mul_(torch.linspace(0.5, 2.0, 5, dtype=F64)[:, None])
    g = model[0].parametrizations.weight.original0
    v = model[0].parametrizations.weight.original1
    by_hand = g * v / v.norm(dim=1, keepdim=True)
    torch.testing.assert_close(first.weight, by_hand, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(first.weight, model[0].weight, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"^layer 1 \(0\) has a parametrised weight: it is computed from other "
                                         r"parameters, not stored as one$"):
        first.parameter_name("weight")
    assert first.parameter_name("bias") == "0.bias" and "0.bias" in dict(model.named_parameters())
    assert_replays(model, randn(6, 3))
    # the computed weight is differentiable in the parametrisation's parameters
    grads = torch.autograd.grad(first.weight.sum(), (g, v))
    assert all(gr.abs().sum() > 0 for gr in grads)


def test_a_weight_normalised_ntk_layer_keeps_its_scale():
    torch.manual_seed(3)
    model = nn.Sequential(weight_norm(NTKLinear(4, 3, bias_std=0.5)), nn.ReLU(), NTKLinear(3, 1)).to(F64)
    first = dense_layers(model)[0]
    assert first.parametrized and parametrize.is_parametrized(first.module)
    assert first.weight_scale == pytest.approx((2 / 4) ** 0.5) and first.bias_scale == 0.5
    torch.testing.assert_close(first.weight, first.weight_scale * model[0].weight, rtol=0, atol=0)
    assert_replays(model, randn(5, 4))


def test_biases_flag_and_refusal():
    free = mlp([3, 4, 1], bias=False, seed=0)
    layers = dense_layers(free, bias_free=True)
    assert layers.bias_free and all(layer.bias is None for layer in layers)
    assert not dense_layers(mlp([3, 4, 1])).bias_free
    with pytest.raises(ValueError, match=r"^the network has biases \(layer 1\), so it is not positively "
                                         r"homogeneous in its weights; build it with bias=False$"):
        dense_layers(mlp([3, 4, 1]), bias_free=True)
    late = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 1))
    assert not dense_layers(late).bias_free
    with pytest.raises(ValueError, match=r"biases \(layer 2\)"):
        dense_layers(late, bias_free=True)
    # an NTK layer's bias parameter counts even when its scale is zero
    with pytest.raises(ValueError, match=r"biases \(layer 1\)"):
        dense_layers(mlp([3, 4, 1], parametrization="ntk", bias_var=0.0), bias_free=True)


# --------------------------------------------------------------------------- what it refuses


class MyLinear(nn.Linear):
    def forward(self, x):
        return super().forward(2 * x)


class Box(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(3, 2)

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize(
    "model, pattern",
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 1)),
         r"^Conv2d \(0\) is a convolution: .*Toeplitz operator, which depends on the input size$"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Conv1d(1, 1, 2))),
         r"^Conv1d \(2\.0\) is a convolution: .*Toeplitz"),
        (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)),
         r"^unsupported module BatchNorm1d \(1\): a dense chain holds nn.Linear/NTKLinear layers, element-wise "
         r"activations and nn.Flatten$"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1), nn.Linear(4, 1)),
         r"^unsupported module Dropout \(2\)"),
        (nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1)), r"^unsupported module LayerNorm \(1\)"),
        (nn.Sequential(nn.ReLU(), nn.Linear(3, 4)),
         r"^ReLU \(0\) comes before the first linear layer; a dense chain starts with a linear layer$"),
        (nn.Sequential(nn.Flatten(), nn.Tanh(), nn.Linear(3, 4)), r"^Tanh \(1\) comes before the first linear layer"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), MyLinear(4, 1)),
         r"^MyLinear \(2\) subclasses nn.Linear with a forward pass of its own, so its effective weight is "
         r"unknown; use nn.Linear or NTKLinear$"),
        (nn.Sequential(weight_norm(MyLinear(3, 4))), r"subclasses nn.Linear with a forward pass of its own"),
        (Box(), r"^Box is not an nn.Sequential: dense_layers reads feed-forward chains"),
        (nn.ModuleList([nn.Linear(3, 4)]), r"^ModuleList is not an nn.Sequential"),
        (nn.Sequential(Box()), r"^unsupported module Box \(0\)"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 1)),
         r"^linear layer 2 takes 5 inputs but layer 1 gives 4 outputs$"),
        (nn.Sequential(nn.Flatten()), r"^Sequential has no linear layers$"),
        (nn.Sequential(), r"^Sequential has no linear layers$"),
    ],
    ids=["conv2d", "nested-conv1d", "batchnorm", "dropout", "layernorm", "activation-first", "tanh-first",
         "linear-subclass", "parametrized-subclass", "custom-container", "modulelist", "custom-in-sequential",
         "sizes", "no-linear", "empty"],
)
def test_refusals_name_the_module_and_the_reason(model, pattern):
    with pytest.raises(ValueError, match=pattern):
        dense_layers(model)


@pytest.mark.parametrize("model", [[nn.Linear(2, 3)], "mlp", None, torch.zeros(2, 3)])
def test_a_non_module_is_a_type_error(model):
    with pytest.raises(TypeError, match=f"^model must be a torch.nn.Module, got {type(model).__name__}$"):
        dense_layers(model)


# --------------------------------------------------------------------------- shared modules (library problems)


def test_a_shared_activation_instance_is_read_after_every_layer():
    torch.manual_seed(4)
    act = nn.ReLU()
    model = nn.Sequential(nn.Linear(3, 4), act, nn.Linear(4, 4), act, nn.Linear(4, 1)).to(F64)
    layers = dense_layers(model)
    assert [len(layer.activations) for layer in layers] == [1, 1, 0]
    assert_replays(model, randn(8, 3))


def test_a_linear_layer_used_twice_is_not_misread():
    torch.manual_seed(5)
    lin = nn.Linear(3, 3, dtype=F64)
    model = nn.Sequential(lin, nn.Tanh(), lin)
    try:
        layers = dense_layers(model)
    except ValueError:
        return  # refusing tied layers is fine too
    assert_replays(model, randn(6, 3))
    assert len(layers) == 2


def test_old_style_weight_norm_is_not_read_stale():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        layer = torch.nn.utils.weight_norm(nn.Linear(3, 4, dtype=F64))
    with torch.no_grad():
        layer.weight_g.mul_(2.0)
    try:
        dense_layers(layer)
    except ValueError:
        return  # refusing it is fine too
    assert_replays(layer, randn(5, 3))
