"""Balanced layers: the AM-GM inequality and its equality case, rebalancing, conservation under gradient flow."""

import math

import pytest
import torch

from dltheory import balancedness as bal
from dltheory import models, train


def test_inequality_on_random_layers_and_equality_iff_balanced():
    g = torch.Generator().manual_seed(0)
    for L in (2, 3, 5):
        layers = [torch.randn(4, 4, generator=g, dtype=torch.float64) * (j + 1) for j in range(L)]
        prod = math.prod(torch.linalg.matrix_norm(W).item() for W in layers)
        total = sum(W.pow(2).sum().item() for W in layers)
        assert bal.frobenius_product(layers) == pytest.approx(prod)
        assert bal.balanced_value(layers) == pytest.approx(L ** (-L / 2) * total ** (L / 2))
        assert bal.frobenius_product(layers) < bal.balanced_value(layers)
        assert 0 < bal.balance_gap(layers) < 1
        balanced = [W / torch.linalg.matrix_norm(W) * 2.0 for W in layers]
        assert bal.frobenius_product(balanced) == pytest.approx(bal.balanced_value(balanced))
        assert bal.balance_gap(balanced) == pytest.approx(0.0, abs=1e-14)
        assert bal.norm_differences(balanced) == pytest.approx([0.0] * (L - 1), abs=1e-12)


def test_rebalance_keeps_the_function_and_balances():
    net = models.mlp([5, 7, 6, 1], bias=False, seed=0, dtype=torch.float64)
    X = torch.randn(10, 5, dtype=torch.float64)
    r = bal.rebalance(net)
    assert torch.allclose(r(X), net(X), atol=1e-13)
    assert bal.balance_gap(r) == pytest.approx(0.0, abs=1e-14)
    assert bal.frobenius_product(r) == pytest.approx(bal.frobenius_product(net))
    assert bal.balanced_value(r) <= bal.balanced_value(net)


def test_weight_decay_minimiser_is_balanced_and_flow_conserves_differences():
    torch.manual_seed(0)
    X = torch.randn(30, 4, dtype=torch.float64)
    y = torch.sign(X[:, 0] * X[:, 1])
    net = models.mlp([4, 8, 8, 1], bias=False, seed=1, dtype=torch.float64)
    train.fit(net, X, y, loss="logistic", lr=1.0, steps=3000, weight_decay=1e-2, record_every=3000)
    assert bal.balance_gap(net) < 1e-4
    # small steps approximate the flow: differences move far less than the norms
    net = models.mlp([4, 8, 8, 1], bias=False, seed=1, dtype=torch.float64)
    before, sq0 = bal.norm_differences(net), bal.squared_norms(net)
    train.fit(net, X, y, loss="logistic", lr=0.02, steps=1000, record_every=1000)
    after, sq1 = bal.norm_differences(net), bal.squared_norms(net)
    change = max(abs(a - b) for a, b in zip(sq0, sq1))
    assert change > 1.0
    assert max(abs(a - b) for a, b in zip(before, after)) < 1e-2 * change


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="network or a list"):
        bal.frobenius_product("W")
    with pytest.raises(ValueError, match="at least one"):
        bal.frobenius_product([])
    with pytest.raises(ValueError, match="NaN"):
        bal.frobenius_product([torch.tensor([[float("nan")]])])
    with pytest.raises(ValueError):
        bal.rebalance(models.mlp([3, 4, 1], bias=True, seed=0))
