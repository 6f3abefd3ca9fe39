"""Pair networks (width two, negatively tied or not) as seed ensembles, and the hand-built square wave.

Independent references: the tent map and the square wave of ``dltheory.data``
(closed forms), plain ``nn.Linear`` chains and autograd (the chain rule through
the tie), ``torch.autograd.gradcheck`` (finite differences), and Monte Carlo
for the initial law.
"""

import math

import pytest
import torch
from torch import nn

from dltheory import data, models, train
from dltheory.models import PairNetwork, square_wave_labels, square_wave_network

pytestmark = pytest.mark.usefixtures("one_thread")

GRID = 2**12


def grid(a=-1.0, b=1.0):
    return torch.linspace(a, b, GRID, dtype=torch.float64)


@pytest.mark.parametrize("folds", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("interval", [(-1.0, 1.0), (0.0, 1.0), (-3.0, 5.0)])
def test_hand_built_network_is_the_tent_map_and_its_sign_the_square_wave(folds, interval):
    a, b = interval
    x = grid(a, b)
    f = square_wave_network(folds, interval=interval)(x[:, None])[0]
    u = (x - a) / (b - a)
    assert torch.allclose(f, 0.5 - data.tent_map(u, folds), rtol=0, atol=1e-12)
    # the square wave with 2^(L-1) periods, shifted left by a quarter period (written out here)
    p = 2 ** (folds - 1)
    target = data.square_wave_target(x, periods=p, interval=(a - (b - a) / (4 * p), b - (b - a) / (4 * p)),
                                     low=-1.0, high=1.0)
    predicted = torch.where(f > 0, 1.0, -1.0).to(torch.float64)
    assert int((predicted != target).sum()) == 0
    assert torch.equal(square_wave_labels(x, folds, interval=interval), target)
    pieces = 1 + int((target[1:] != target[:-1]).sum())
    assert pieces == 2**folds + 1


def test_two_folds_on_the_centred_interval_give_the_five_piece_wave():
    x = grid()
    labels = square_wave_labels(x, 2)
    expected = torch.where((x.abs() < 0.25) | (x.abs() > 0.75), 1.0, -1.0).to(torch.float64)
    assert torch.equal(labels, expected)
    assert torch.equal(square_wave_labels(x, 2, low=0.0, high=1.0), (expected + 1) / 2)


def test_hand_built_layers_fold_the_line():
    net = square_wave_network(3)
    x = grid()[:, None]
    layers = net.trace(x)
    s = x[:, 0]
    for k, (pre, out) in enumerate(layers[:-1], start=1):
        assert torch.equal(pre[0, :, 1], -pre[0, :, 0])  # the tie: (s, -s)
        assert torch.equal(out[0], torch.relu(pre[0]))
        assert torch.allclose(out[0].sum(-1), pre[0, :, 0].abs(), atol=0)  # relu(s) + relu(-s) = |s|
        if k > 1:
            assert torch.allclose(pre[0, :, 0], 2 * s.abs() - 1, atol=1e-15)
        s = pre[0, :, 0]
    f, g = layers[-1]
    assert torch.equal(f, g) and torch.allclose(f[0], s.abs() - 0.5, atol=1e-15)


def test_members_are_the_networks_of_their_seeds_alone():
    seeds = [5, 7, 9, 2**40]
    for tied in (True, False):
        batch = PairNetwork(3, tied=tied, seeds=seeds, dtype=torch.float64)
        for s, seed in enumerate(seeds):
            alone = PairNetwork(3, tied=tied, seeds=[seed], dtype=torch.float64)
            for p, q in zip(batch.parameters(), alone.parameters()):
                assert torch.equal(p[s], q[0])
        assert torch.equal(PairNetwork(3, tied=tied, seeds=seeds).readout_bias,
                           batch.readout_bias.float())  # the same draw in every dtype


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("in_features", [1, 3])
def test_member_is_an_equivalent_plain_network(tied, in_features):
    net = PairNetwork(4, tied=tied, in_features=in_features, seeds=range(6), dtype=torch.float64)
    X = torch.randn(17, in_features, dtype=torch.float64)
    out = net(X)
    assert out.shape == (6, 17)
    per_member = net(X.expand(6, 17, in_features))
    assert torch.allclose(per_member, out, atol=1e-14)
    for s in range(6):
        plain = net.member(s)
        assert isinstance(plain, nn.Sequential)
        assert torch.allclose(plain(X)[:, 0], out[s], atol=1e-14)
        layers = models.dense_layers(plain)
        assert len(layers) == 5
        if tied:
            for layer in list(layers)[:-1]:
                assert torch.equal(layer.weight[1], -layer.weight[0])
                assert torch.equal(layer.module.bias[1], -layer.module.bias[0])


def test_the_tie_passes_gradients_by_the_chain_rule():
    """d/dw of a tied layer = dL/dW_1 - dL/dW_2 of the same network with the tie undone."""
    net = PairNetwork(3, tied=True, seeds=[3], dtype=torch.float64)
    X = torch.randn(11, 1, dtype=torch.float64)
    y = torch.randn(11, dtype=torch.float64)
    ((net(X)[0] - y) ** 2).sum().backward()
    plain = net.member(0)
    ((plain(X)[:, 0] - y) ** 2).sum().backward()
    linears = [layer.module for layer in models.dense_layers(plain)]
    for k in range(3):
        W, b = linears[k].weight.grad, linears[k].bias.grad
        assert torch.allclose(net.weights[k].grad[0], W[0] - W[1], atol=1e-12)
        assert torch.allclose(net.biases[k].grad[0], b[0] - b[1], atol=1e-12)
    assert torch.allclose(net.readout_weight.grad[0], linears[3].weight.grad[0], atol=1e-12)


@pytest.mark.parametrize("tied", [True, False])
def test_gradients_match_finite_differences(tied):
    net = PairNetwork(3, tied=tied, in_features=2, seeds=[0, 1], dtype=torch.float64)
    X = torch.randn(5, 2, dtype=torch.float64)
    names = [name for name, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())

    def f(*theta):
        return torch.func.functional_call(net, dict(zip(names, theta)), (X,))

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6)


def test_tied_layers_stay_tied_after_training():
    x, _ = data.square_wave(64, interval=(-1.0, 1.0), seed=0, dtype=torch.float64)
    y = square_wave_labels(x[:, 0], 2)
    net = PairNetwork(3, tied=True, seeds=range(8), dtype=torch.float64)
    before = [p.detach().clone() for p in net.parameters()]
    train.fit_ensemble(net, x, y, loss="logistic", lr=0.05, steps=100)
    assert any(not torch.equal(p, q) for p, q in zip(net.parameters(), before))
    for W, b in net.effective_layers()[:-1]:
        assert torch.equal(W[:, 1], -W[:, 0]) and torch.equal(b[:, 1], -b[:, 0])
    for s in range(8):
        for layer in list(models.dense_layers(net.member(s)))[:-1]:
            assert torch.equal(layer.weight[1], -layer.weight[0])
            assert torch.equal(layer.module.bias[1], -layer.module.bias[0])


def test_parameter_counts_halve_the_hidden_layers():
    for d, L in [(1, 3), (1, 5), (4, 2)]:
        tied = PairNetwork(L, tied=True, in_features=d, seeds=range(3))
        untied = PairNetwork(L, tied=False, in_features=d, seeds=range(3))
        assert models.count_parameters(tied) == 3 * (d + 3 * L + 1)
        assert models.count_parameters(untied) == 3 * (2 * d + 6 * L - 1)
        assert models.count_parameters(untied) == 3 * models.mlp_parameter_count([d] + [2] * L + [1])


def test_initial_law_is_that_of_nn_linear():
    """Uniform on +-1/sqrt(fan_in): mean 0, variance 1/(3 fan_in), within the bound (Monte Carlo)."""
    net = PairNetwork(2, tied=False, in_features=4, seeds=range(4000), dtype=torch.float64)
    for p, fan_in in [(net.weights[0], 4), (net.biases[0], 4), (net.weights[1], 2), (net.readout_weight, 2)]:
        values = p.detach().reshape(-1)
        bound = 1 / math.sqrt(fan_in)
        assert values.abs().max() <= bound
        assert abs(values.mean().item()) < 4 * bound / math.sqrt(3 * values.numel())
        assert values.var().item() == pytest.approx(bound**2 / 3, rel=0.05)


def test_moves_to_a_dtype_and_reports_its_size():
    net = PairNetwork(2, seeds=range(5))
    assert net.ensemble_size == 5 and net.readout_bias.dtype == torch.float32
    assert "ensemble_size=5" in repr(net)
    assert net(torch.zeros(3, 1, dtype=torch.float64)).dtype == torch.float32


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        PairNetwork(0)
    with pytest.raises(ValueError, match="at least one member"):
        PairNetwork(2, seeds=[])
    with pytest.raises(ValueError, match=r"seeds\[1\]"):
        PairNetwork(2, seeds=[0, -1])
    with pytest.raises(TypeError, match="seeds must be a sequence"):
        PairNetwork(2, seeds=3)
    with pytest.raises(TypeError, match="tied must be True or False"):
        PairNetwork(2, tied=1)
    net = PairNetwork(2, seeds=range(3))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 1\)"):
        net(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.tensor([[math.nan]]))
    with pytest.raises(ValueError, match="s must be"):
        net.member(3)
    with pytest.raises(ValueError, match="a < b"):
        square_wave_network(2, interval=(1.0, 1.0))
    with pytest.raises(ValueError, match="folds"):
        square_wave_labels(grid(), 0)
