"""Residual MLPs in NTK parametrisation: the forward pass by hand, the scales, seeding and the NTK path."""

import math

import pytest
import torch

from dltheory import models, ntk


def by_hand(net, x):
    """The forward pass written out from the raw standard-normal weights."""
    m = net.input.out_features
    d = net.input.in_features
    h = torch.relu(math.sqrt(2.0) / math.sqrt(d) * x @ net.input.weight.T)
    for block in net.blocks:
        h = h + net.branch_scale * torch.relu(math.sqrt(2.0) / math.sqrt(m) * h @ block.weight.T)
    return h @ net.readout.weight.T / math.sqrt(m)


def test_forward_matches_the_formula_and_default_branch_scale_is_one_over_depth():
    net = models.residual_mlp(5, 32, 6, seed=1, dtype=torch.float64)
    assert net.branch_scale == pytest.approx(1 / 6) and len(net.blocks) == 5
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(net(x), by_hand(net, x))
    assert models.residual_mlp(5, 32, 6, branch_scale=0.5, seed=1).branch_scale == 0.5


def test_weights_are_standard_normal_and_seeded_without_touching_the_global_generator():
    state = torch.get_rng_state()
    a = models.residual_mlp(4, 300, 3, seed=7)
    assert torch.equal(state, torch.get_rng_state())
    b = models.residual_mlp(4, 300, 3, seed=7)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    W = a.blocks[0].weight.detach()
    assert abs(W.mean().item()) < 0.01 and W.var().item() == pytest.approx(1.0, abs=0.02)


def test_depth_one_is_a_two_layer_network_and_zero_branch_scale_removes_the_blocks():
    x = torch.randn(3, 4, dtype=torch.float64)
    net = models.residual_mlp(4, 16, 4, branch_scale=0.0, seed=0, dtype=torch.float64)
    h = torch.relu(net.input(x))
    torch.testing.assert_close(net(x), net.readout(h))
    assert len(models.residual_mlp(4, 16, 1, seed=0).blocks) == 0


def test_output_stays_of_order_one_as_depth_grows():
    x = torch.nn.functional.normalize(torch.randn(64, 8, generator=torch.Generator().manual_seed(3)), dim=1)
    scales = [models.residual_mlp(8, 256, L, seed=L)(x).std().item() for L in (2, 16, 64)]
    assert max(scales) / min(scales) < 3


def test_empirical_ntk_structured_equals_jacobians():
    net = models.residual_mlp(3, 8, 3, seed=4, dtype=torch.float64)
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    J = ntk.jacobian(net, x).reshape(5, -1)
    torch.testing.assert_close(ntk.empirical_ntk(net, x), J @ J.T)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="depth"):
        models.residual_mlp(3, 8, 0)
    with pytest.raises(ValueError, match="branch_scale"):
        models.residual_mlp(3, 8, 2, branch_scale=-1.0)
