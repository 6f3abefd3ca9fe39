"""dltheory.models: layer structure, parametrisations, seeding and bad input."""

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import models
from dltheory.models import ACTIVATIONS, NTKLinear, mlp, mlp_parameter_count

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


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


def layers_the_old_way(widths, seed, *, ntk=False, dtype=None, activation=nn.ReLU):
    """How mlp(seed=...) drew its weights before the refactor: torch.manual_seed, then the layers, on the CPU."""
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(NTKLinear(a, b, bias_std=0.5, dtype=dtype) if ntk else nn.Linear(a, b, dtype=dtype))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("ntk, dtype", [(False, None), (True, None), (False, F64), (True, F64)])
@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_a_seed_gives_the_same_weights_as_before_the_refactor(seed, ntk, dtype):
    widths = [5, 7, 4, 3]
    old = layers_the_old_way(widths, seed, ntk=ntk, dtype=dtype)
    extra = dict(parametrization="ntk", bias_var=0.25) if ntk else {}
    new = mlp(widths, seed=seed, dtype=dtype, **extra)
    assert [type(m) for m in new] == [type(m) for m in old]
    for (name, p), (_, q) in zip(new.named_parameters(), old.named_parameters(), strict=True):
        assert p.dtype == q.dtype and torch.equal(p, q), name


def test_a_seed_touches_no_global_generator(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the global CUDA generators were reseeded")

    with monkeypatch.context() as patch:
        patch.setattr(torch.cuda, "manual_seed_all", refuse)
        patch.setattr(torch.cuda, "manual_seed", refuse)
        with pytest.raises(AssertionError, match="reseeded"):  # the patch bites: torch.manual_seed goes through it
            torch.manual_seed(0)
        torch.default_generator.manual_seed(123)
        state = torch.get_rng_state()
        a = mlp([3, 4, 2], seed=5)
        n = mlp([3, 4, 2], parametrization="ntk", seed=5)
        t = TreeNetwork(2, 3, seed=5)
        assert torch.equal(torch.get_rng_state(), state)
        draw = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(draw, torch.rand(3))  # the global stream went on as if nothing had happened
    for model, again in ((a, mlp([3, 4, 2], seed=5)), (n, mlp([3, 4, 2], parametrization="ntk", seed=5)),
                         (t, TreeNetwork(2, 3, seed=5))):
        assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters(), strict=True))


def test_without_a_seed_the_global_generator_draws():
    old = layers_the_old_way([4, 6, 1], 11)
    after_old = torch.get_rng_state()
    torch.manual_seed(11)
    new = mlp([4, 6, 1])
    assert torch.equal(torch.get_rng_state(), after_old)  # it advanced the global stream, as nn.Linear does
    assert all(torch.equal(p, q) for p, q in zip(new.parameters(), old.parameters(), strict=True))


def test_dtype_and_device():
    model = mlp([3, 4, 2], parametrization="ntk", dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("widths", [[3], [], [3, 0, 1], [3, -2], [0, 2]])
def test_bad_widths(widths):
    with pytest.raises(ValueError, match=r"^widths(\[\d\])? must ") as built:
        mlp(widths)
    with pytest.raises(ValueError) as counted:
        mlp_parameter_count(widths)
    assert str(counted.value) == str(built.value)


def test_bad_names_and_variances():
    with pytest.raises(ValueError, match="unknown activation"):
        mlp([2, 3, 1], activation="gelu-ish")
    with pytest.raises(ValueError, match="parametrization"):
        mlp([2, 3, 1], parametrization="mup")
    with pytest.raises(ValueError, match="weight_var"):
        mlp([2, 3, 1], weight_var=2.0)
    with pytest.raises(ValueError, match="weight_var"):
        mlp([2, 3, 1], bias_var=0.1)
    with pytest.raises(ValueError, match=r"^weight_var must be a positive number, got 0\.0$"):
        mlp([2, 3, 1], parametrization="ntk", weight_var=0.0)
    with pytest.raises(ValueError, match=r"^bias_var must be a non-negative number, got -1\.0$"):
        mlp([2, 3, 1], parametrization="ntk", bias_var=-1.0)
    with pytest.raises(TypeError, match=r"^weight_var must be a positive number, got '2'$"):
        mlp([2, 3, 1], parametrization="ntk", weight_var="2")


@pytest.mark.parametrize("widths, shown", [([3, 2.5, 1], "2.5"), ([3, True, 1], "True"), ([3, "4", 1], "'4'"),
                                           ([3, None], "None")])
def test_mlp_rejects_non_integer_widths_with_a_type_error(widths, shown):
    for build in (mlp, mlp_parameter_count):
        with pytest.raises(TypeError, match=rf"^widths\[1\] must be a positive integer, got {re.escape(shown)}$"):
            build(widths)


@pytest.mark.parametrize("widths", ["345", 5, None, {3: 1}])
def test_mlp_widths_must_be_a_sequence(widths):
    with pytest.raises(TypeError, match=r"^widths must be a sequence of positive integers, got "):
        mlp(widths)


def test_mlp_accepts_numpy_integer_widths():
    model = mlp((np.int64(3), np.int32(4), 2), seed=0)
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [(3, 4), (4, 2)]
    assert mlp_parameter_count([np.int64(3), 4, np.int8(2)]) == 4 * 4 + 5 * 2


def test_leaky_relu_mlp():
    model = mlp([3, 6, 5, 2], activation="leaky_relu", seed=0, dtype=F64)
    assert [type(m) for m in model] == [nn.Linear, nn.LeakyReLU, nn.Linear, nn.LeakyReLU, nn.Linear]
    x = torch.randn(9, 3, dtype=F64)
    h = x
    for i in (0, 2):
        z = model[i](h)
        h = torch.where(z > 0, z, 0.01 * z)  # PyTorch's default negative slope
    torch.testing.assert_close(model(x), model[4](h), rtol=1e-14, atol=1e-14)
    assert (model[0](x) < 0).any()  # the negative part was exercised


@pytest.mark.parametrize("bias", ["no", 1, None])
def test_mlp_refuses_a_bias_flag_that_is_not_a_bool(bias):
    with pytest.raises(TypeError, match=r"^bias must be True or False, got "):
        mlp([2, 3, 1], bias=bias)


def test_mlp_refuses_an_integer_dtype():
    with pytest.raises(ValueError, match=r"^dtype must be a floating-point torch dtype"):
        mlp([2, 3, 1], dtype=torch.int64)


# --------------------------------------------------------------------------- locally connected layers

from dltheory.models import (  # noqa: E402
    LocallyConnected2d,
    TreeNetwork,
    count_parameters,
    tree_parameter_count,
    width_for_budget,
)

# (in_channels, out_channels, (H, W), kernel, stride, padding)
CONV_SHAPES = [
    (1, 1, (1, 8), (1, 2), (1, 2), 0),
    (3, 5, (7, 9), 3, 2, 1),
    (2, 4, (6, 5), (2, 3), (1, 2), 0),
    (4, 2, (5, 5), 1, 1, 0),
    (2, 3, (8, 8), 4, 4, 0),
    (1, 6, (4, 7), (3, 2), (2, 1), (2, 0)),
]


@pytest.mark.parametrize("c_in, c_out, size, kernel, stride, padding", CONV_SHAPES)
def test_locally_connected_with_tied_weights_is_conv2d(c_in, c_out, size, kernel, stride, padding):
    torch.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, dtype=F64)
    layer = LocallyConnected2d.from_conv2d(conv, size)
    x = torch.randn(3, c_in, *size, dtype=F64)
    expected = torch.nn.functional.conv2d(x, conv.weight, conv.bias, stride=stride, padding=padding)
    assert layer(x).shape == expected.shape
    torch.testing.assert_close(layer(x), expected, rtol=1e-13, atol=1e-13)
    oh, ow = expected.shape[2:]
    kh, kw = conv.kernel_size
    assert count_parameters(layer) == oh * ow * (c_out * c_in * kh * kw + c_out)


@pytest.mark.parametrize("c_in, c_out, size, kernel, stride, padding", CONV_SHAPES)
def test_patches_are_the_im2col_matrix_of_unfold(c_in, c_out, size, kernel, stride, padding):
    layer = LocallyConnected2d(c_in, c_out, size, kernel, stride, padding, dtype=F64)
    x = torch.randn(2, c_in, *size, dtype=F64)
    p = layer.patches(x)
    n, c, oh, ow, kh, kw = p.shape
    columns = p.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
    assert torch.equal(columns, torch.nn.functional.unfold(x, kernel, padding=padding, stride=stride))


def test_locally_connected_is_the_formula_with_a_filter_per_location():
    """Every output location has its own filter: a loop over locations, channels and the window."""
    torch.manual_seed(1)
    layer = LocallyConnected2d(2, 3, (5, 6), (2, 3), stride=(1, 2), padding=(1, 0), dtype=F64)
    x = torch.randn(2, 2, 5, 6, dtype=F64)
    xp = torch.nn.functional.pad(x, (0, 0, 1, 1))
    W, b = layer.weight.detach(), layer.bias.detach()
    oh, ow = layer.out_size
    assert (oh, ow) == ((5 + 2 - 2) // 1 + 1, (6 - 3) // 2 + 1)
    expected = torch.zeros(2, 3, oh, ow, dtype=F64)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i : i + 2, 2 * j : 2 * j + 3]
            expected[:, :, i, j] = torch.einsum("ncab,ocab->no", window, W[i, j]) + b[:, i, j]
    torch.testing.assert_close(layer(x), expected, rtol=1e-13, atol=1e-13)
    assert not torch.equal(W[0, 0], W[1, 1])  # the filters differ from place to place


def test_untied_copies_train_apart():
    conv = nn.Conv2d(1, 2, (1, 2), stride=(1, 2), dtype=F64)
    layer = LocallyConnected2d.from_conv2d(conv, (1, 4))
    x = torch.randn(3, 1, 1, 4, dtype=F64)
    layer(x)[:, :, :, 0].sum().backward()  # only the first location's output
    assert layer.weight.grad[0, 0].abs().sum() > 0 and layer.weight.grad[0, 1].abs().sum() == 0
    with torch.no_grad():
        layer.weight[0, 1].add_(1.0)
    assert torch.equal(layer.weight[0, 0], conv.weight.detach())  # a copy, not a view
    assert not torch.equal(layer.weight[0, 1], conv.weight.detach())


def test_locally_connected_init_and_no_bias():
    layer = LocallyConnected2d(3, 4, 6, 2, stride=2, bias=False)
    assert layer.bias is None and layer.weight.shape == (3, 3, 4, 3, 2, 2)
    assert layer.weight.abs().max() <= 1 / math.sqrt(3 * 2 * 2)
    assert layer(torch.randn(2, 3, 6, 6)).shape == (2, 4, 3, 3)
    conv = nn.Conv2d(3, 4, 2, stride=2, bias=False, dtype=F64)
    x = torch.randn(2, 3, 6, 6, dtype=F64)
    torch.testing.assert_close(LocallyConnected2d.from_conv2d(conv, 6)(x), conv(x))
    assert "in_size=(6, 6)" in repr(layer)


def test_locally_connected_rejects_bad_input():
    layer = LocallyConnected2d(2, 3, (4, 6), 2, stride=2)
    with pytest.raises(ValueError, match=r"expects a batch of shape \(n, 2, 4, 6\), got \(2, 4, 6\)"):
        layer(torch.randn(2, 4, 6))
    with pytest.raises(ValueError, match=r"built for inputs \(n, 2, 4, 6\).*got \(5, 2, 4, 8\)"):
        layer(torch.randn(5, 2, 4, 8))
    with pytest.raises(ValueError, match="built for inputs"):
        layer(torch.randn(5, 3, 4, 6))
    with pytest.raises(TypeError, match="got list"):
        layer([1.0, 2.0])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"in_channels": 0}, ValueError, r"^in_channels must be a positive integer, got 0$"),
        ({"out_channels": 2.5}, TypeError, r"^out_channels must be a positive integer, got 2\.5$"),
        ({"in_size": (4,)}, ValueError, r"^in_size must be an integer or a pair of them, got \(4,\)$"),
        ({"in_size": (4, 4, 4)}, ValueError, r"^in_size must be an integer or a pair of them"),
        ({"in_size": "4"}, TypeError, r"^in_size must be a positive integer, got '4'$"),
        ({"kernel_size": 0}, ValueError, r"^kernel_size must be a positive integer, got 0$"),
        ({"stride": (1, True)}, TypeError, r"^stride must be a positive integer, got True$"),
        ({"padding": -1}, ValueError, r"^padding must be a non-negative integer, got -1$"),
        ({"padding": (0, 1.0)}, TypeError, r"^padding must be a non-negative integer, got 1\.0$"),
        ({"kernel_size": 5}, ValueError, "does not fit in the input"),
    ],
)
def test_locally_connected_rejects_bad_arguments(kwargs, error, match):
    args = {"in_channels": 2, "out_channels": 3, "in_size": (4, 4), "kernel_size": 2}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        LocallyConnected2d(**args)


def test_from_conv2d_rejects_what_it_cannot_copy():
    with pytest.raises(ValueError, match="needs an nn.Conv2d"):
        LocallyConnected2d.from_conv2d(nn.Linear(2, 3), 4)
    with pytest.raises(ValueError, match="groups=1, dilation=1"):
        LocallyConnected2d.from_conv2d(nn.Conv2d(2, 4, 2, groups=2), 4)
    with pytest.raises(ValueError, match="groups=1, dilation=1"):
        LocallyConnected2d.from_conv2d(nn.Conv2d(2, 4, 2, dilation=2), 6)
    with pytest.raises(ValueError, match="numeric padding"):
        LocallyConnected2d.from_conv2d(nn.Conv2d(2, 4, 3, padding="same"), 6)


# --------------------------------------------------------------------------- tree networks


def reference_tree(tree: TreeNetwork, x: torch.Tensor) -> torch.Tensor:
    """A node-by-node evaluation: v_{l,j} = A relu(B [v_{l-1,2j}; v_{l-1,2j+1}] + c) + a."""
    values = [x[:, k : k + 1] for k in range(x.shape[1])]  # the leaves, (n, 1) each
    for mix, _, out in tree.levels:
        new = []
        for j in range(len(values) // 2):
            B = mix.weight[0, j, :, :, 0, :]  # (m, c_in, 2): child 0 then child 1
            inputs = torch.stack([values[2 * j], values[2 * j + 1]], dim=2)  # (n, c_in, 2)
            hidden = torch.relu(torch.einsum("nck,mck->nm", inputs, B) + mix.bias[:, 0, j])
            A = out.weight[0, j, :, :, 0, 0]  # (c_out, m)
            new.append(hidden @ A.T + out.bias[:, 0, j])
        values = new
    return values[0]


@pytest.mark.parametrize("depth, hidden, channels", [(3, 5, 1), (2, 4, 3), (4, 3, 2), (1, 6, 2)])
def test_tree_network_is_the_node_by_node_composition(depth, hidden, channels):
    tree = TreeNetwork(depth, hidden, channels, seed=0, dtype=F64)
    x = torch.rand(6, 2**depth, dtype=F64) * 2 - 1
    out = tree(x)
    assert out.shape == (6, 1)
    torch.testing.assert_close(out, reference_tree(tree, x), rtol=1e-13, atol=1e-13)
    shapes = [tuple(v.shape) for v in tree.node_outputs(x)]
    assert shapes == [(6, channels if l < depth else 1, 1, 2 ** (depth - l)) for l in range(1, depth + 1)]


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("depth, hidden, channels", [(3, 5, 1), (2, 4, 3), (1, 6, 2)])
def test_tree_forward_is_its_levels_applied_as_layers(depth, hidden, channels, shared):
    """The node-major forward pass computes what the levels' own (n, c, 1, W) layers compute, gradients included."""
    tree = TreeNetwork(depth, hidden, channels, shared=shared, seed=4, dtype=F64)
    x = torch.rand(9, 2**depth, dtype=F64) * 2 - 1
    v, layered = x[:, None, None, :], []
    for level in tree.levels:
        v = level(v)
        layered.append(v)
    for fast, slow in zip(tree.node_outputs(x), layered, strict=True):
        torch.testing.assert_close(fast, slow, rtol=1e-13, atol=1e-13)
    fast_grads = torch.autograd.grad(tree(x).square().sum(), list(tree.parameters()))
    slow_grads = torch.autograd.grad(layered[-1].square().sum(), list(tree.parameters()))
    for a, b in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("depth, hidden, channels", [(3, 5, 1), (3, 4, 2), (4, 3, 3), (1, 7, 1)])
def test_tree_parameter_count_formula(depth, hidden, channels, shared):
    tree = TreeNetwork(depth, hidden, channels, shared=shared)
    assert count_parameters(tree) == tree_parameter_count(depth, hidden, channels, shared)


def test_tree_parameter_count_by_hand():
    # depth 3, one number per node: 7 nodes of (2 + 1) m + (m + 1) parameters
    assert tree_parameter_count(3, 10) == 7 * (4 * 10 + 1)
    assert tree_parameter_count(3, 10, shared=True) == 3 * (4 * 10 + 1)
    # depth 2, c = 3: level 1 has 2 nodes of 3m + 3(m+1), the root (2*3+1)m + (m+1)
    m = 4
    assert tree_parameter_count(2, m, 3) == 2 * (3 * m + 3 * (m + 1)) + (7 * m + m + 1)


def test_tree_nodes_depend_only_on_their_subtree():
    """The gradient sparsity of locality: node j of level l sees inputs j 2^l .. (j+1) 2^l - 1 only."""
    depth, hidden = 3, 4
    tree = TreeNetwork(depth, hidden, 2, seed=1, dtype=F64)
    with torch.no_grad():  # no hidden unit is off on every example, so every dependence shows
        for mix, _, _ in tree.levels:
            mix.bias.fill_(1.0)
    x = torch.rand(20, 8, dtype=F64) * 2 - 1  # examples are independent: differentiate sums over them

    def support(outputs_of, j):
        J = torch.autograd.functional.jacobian(lambda v: outputs_of(v).sum(0), x)  # (..., width, 20, 8)
        J = J.reshape(-1, J.shape[-3], 20, 8)[:, j]
        return set((J.abs() > 0).any(dim=0).any(dim=0).nonzero().reshape(-1).tolist())

    # first-level hidden units (before the ReLU): node j's depend on x_{2j}, x_{2j+1} only
    for j in range(4):
        assert support(lambda v: tree.levels[0][0](v[:, None, None, :]), j) == {2 * j, 2 * j + 1}
    # node j of level l: exactly the inputs of its subtree (all of them for generic weights and inputs)
    for level in range(1, depth + 1):
        for j in range(2 ** (depth - level)):
            inside = set(range(j * 2**level, (j + 1) * 2**level))
            assert support(lambda v, level=level: tree.node_outputs(v)[level - 1], j) == inside
    # the root depends on everything
    assert support(tree, 0) == set(range(8))


@pytest.mark.parametrize("depth, hidden, channels", [(3, 5, 1), (3, 4, 2), (2, 3, 3)])
def test_convolutional_tree_equals_its_untied_copy(depth, hidden, channels):
    conv = TreeNetwork(depth, hidden, channels, shared=True, seed=3, dtype=F64)
    local = conv.untied()
    assert not local.shared and conv.shared
    assert all(isinstance(m, nn.Conv2d) for level in conv.levels for m in (level[0], level[2]))
    assert all(isinstance(m, LocallyConnected2d) for level in local.levels for m in (level[0], level[2]))
    assert count_parameters(local) == tree_parameter_count(depth, hidden, channels)
    x = torch.rand(7, 2**depth, dtype=F64) * 2 - 1
    torch.testing.assert_close(local(x), conv(x), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(local(x), reference_tree(local, x), rtol=1e-13, atol=1e-13)
    # an untied network is copied, not shared
    again = local.untied()
    with torch.no_grad():
        again.levels[0][0].weight.add_(1.0)
    assert not torch.equal(again.levels[0][0].weight, local.levels[0][0].weight)


def test_tree_network_seed_and_bad_input():
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a, b = TreeNetwork(3, 4, seed=2), TreeNetwork(3, 4, seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(n, 8\), got \(5, 4\)"):
        a(torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"got \(8,\)"):
        a(torch.randn(8))
    with pytest.raises(ValueError, match=r"^depth must be a positive integer, got 0$"):
        TreeNetwork(0, 4)
    with pytest.raises(TypeError, match=r"^hidden must be a positive integer, got 2\.0$"):
        TreeNetwork(3, 2.0)
    with pytest.raises(TypeError, match=r"^shared must be True or False, got 1$"):
        TreeNetwork(3, 4, shared=1)
    with pytest.raises(ValueError, match=r"^seed must be a non-negative integer below 2\*\*63, got -1$"):
        TreeNetwork(3, 4, seed=-1)
    with pytest.raises(TypeError, match=r"^channels must be a positive integer, got True$"):
        tree_parameter_count(3, 4, True)
    assert "shared=False" in repr(a)


# --------------------------------------------------------------------------- parameter budgets


@pytest.mark.parametrize("widths, bias", [([8, 5, 1], True), ([3, 4, 4, 2], True), ([6, 7, 1], False),
                                          ([8, 32, 32, 2], False), ([3, 5, 2], True)])
def test_mlp_parameter_count(widths, bias):
    assert mlp_parameter_count(widths, bias) == count_parameters(mlp(widths, bias=bias))


def test_count_parameters_counts_trainable_only():
    model = mlp([3, 4, 1])
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 4 + 5
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module, got list$"):
        count_parameters([torch.zeros(3)])
    with pytest.raises(ValueError, match=r"^widths must list at least an input and an output size, got \[8\]$"):
        mlp_parameter_count([8])


@pytest.mark.parametrize("budget", [1, 5, 11, 12, 100, 455, 903, 10_000])
def test_width_for_budget_is_the_closest_width(budget):
    for count in (lambda w: mlp_parameter_count([8, w, 1]), lambda w: tree_parameter_count(3, w, shared=True),
                  lambda w: mlp_parameter_count([8, w, w, w, 1])):
        w = width_for_budget(count, budget)
        best = min(range(1, 2000), key=lambda v: (abs(count(v) - budget), v))
        assert w == best


def test_width_for_budget_ties_and_errors():
    assert width_for_budget(lambda w: 10 * w, 15) == 1  # 10 and 20 are equally far: the smaller
    with pytest.raises(ValueError, match=r"^budget must be a positive integer, got 0$"):
        width_for_budget(lambda w: w, 0)
    with pytest.raises(TypeError, match=r"^budget must be a positive integer, got 10\.0$"):
        width_for_budget(lambda w: w, 10.0)
    with pytest.raises(TypeError, match="count must be a function"):
        width_for_budget(3, 10)
    with pytest.raises(ValueError, match="no width up to"):
        width_for_budget(lambda w: 0, 10, max_width=64)


def test_square_activation_two_layer_is_a_quadratic_form():
    # f(x) = sum_j a_j (w_j.x)^2 = x^T W^T diag(a) W x, checked in numpy.
    net = models.two_layer(4, 6, activation="square", outer="trainable", seed=1, dtype=F64)
    X = torch.randn(5, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    W = net[0].weight.detach().numpy()
    a = net[2].weight.detach().numpy().ravel()
    expected = np.einsum("ni,ji,j,jk,nk->n", X.numpy(), W, a, W, X.numpy())
    np.testing.assert_allclose(net(X).detach().numpy().ravel(), expected, rtol=1e-12)
