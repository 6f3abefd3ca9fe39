"""dltheory.bounds.capacity against closed forms on tiny networks worked out by hand, NumPy recomputations
of the norms, and the library's own Frobenius bound (the same bound with a different depth factor)."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import bounds
from tests._networks import weighted_mlp

pytestmark = pytest.mark.usefixtures("one_thread")


# The exercise's network: unit l1 norms 3 and 1 in the first layer, 4 in the output unit.
A1 = [[1.0, -2.0], [0.5, 0.5]]
A2 = [[3.0, -1.0]]


# --------------------------------------------------------------------------- A


def test_max_unit_l1_norm_by_hand():
    assert bounds.max_unit_l1_norm(weighted_mlp(A1, A2)) == 4.0
    assert bounds.max_unit_l1_norm(weighted_mlp(A1)) == 3.0
    # a wide first row but a narrow output: the maximum over all layers
    assert bounds.max_unit_l1_norm(weighted_mlp([[5.0, 5.0], [0.0, 1.0]], [[0.5, 0.5]])) == 10.0


def test_max_unit_l1_norm_counts_folded_biases():
    # first layer rows [1, -2 | 1] and [0.5, 0.5 | -3] -> 4 and 4; the carry row (0, 0, 1) -> 1;
    # output [3, -1 | 2] -> 6
    net = weighted_mlp(A1, A2, bias=[[1.0, -3.0], [2.0]])
    assert bounds.max_unit_l1_norm(net) == 6.0


# --------------------------------------------------------------------------- covering


def test_covering_bound_closed_form_for_the_exercise_network():
    n, delta = 200, 0.05
    r = bounds.covering_number_bound(weighted_mlp(A1, A2), n, gamma=1.0, delta=delta)
    # L = 2, A = 4, eps = 1/2, b = 1: log2 C = 6 log2 4 + 4 log2(1 / (1/2)) = 12 + 4
    assert (r["A"], r["depth"], r["eps"], r["output_bound"]) == (4.0, 2, 0.5, 1.0)
    assert r["log2_covering"] == pytest.approx(16.0, rel=1e-12)
    expected = math.sqrt(8 / n * (16 * math.log(2) + math.log(2 / delta)))
    assert r["complexity"] == pytest.approx(expected, rel=1e-12)
    assert r["bound"] == pytest.approx(expected, rel=1e-12)


def test_covering_bound_output_scale_margin_loss_and_lipschitz():
    net = weighted_mlp(A1, A2)
    # b = 2: + 2L log2(2 / (1/2)) = 4 * 2 = 8 bits
    r = bounds.covering_number_bound(net, 50, gamma=1.0, output_bound=2.0, margin_loss=0.25)
    assert r["log2_covering"] == pytest.approx(12.0 + 8.0, rel=1e-12)
    assert r["bound"] == pytest.approx(0.25 + r["complexity"], rel=1e-12)
    # L_phi = 2 multiplies A L_phi by 2: + L(L+1) = 6 bits
    r2 = bounds.covering_number_bound(net, 50, gamma=1.0, lipschitz=2.0)
    assert r2["log2_covering"] == pytest.approx(16.0 + 6.0, rel=1e-12)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_covering_exponent_in_A_and_eps_is_L_times_L_plus_1_and_2L(depth):
    g = torch.Generator().manual_seed(depth)
    weights = [torch.randn(3, 3, generator=g, dtype=torch.float64) for _ in range(depth)]
    base = bounds.covering_number_bound(weighted_mlp(*weights), 10, gamma=0.3)["log2_covering"]
    # scaling every layer by c scales A by c: + L(L+1) log2 c
    scaled = bounds.covering_number_bound(weighted_mlp(*[3.0 * w for w in weights]), 10, gamma=0.3)["log2_covering"]
    assert scaled - base == pytest.approx(depth * (depth + 1) * math.log2(3.0), rel=1e-10)
    # halving gamma halves eps: + 2L bits
    finer = bounds.covering_number_bound(weighted_mlp(*weights), 10, gamma=0.15)["log2_covering"]
    assert finer - base == pytest.approx(2 * depth, rel=1e-10)
    # against a NumPy recomputation of A
    A = max(np.abs(w.numpy()).sum(axis=1).max() for w in weights)
    assert base == pytest.approx(depth * (depth + 1) * np.log2(A) - 2 * depth * np.log2(0.15), rel=1e-10)


def test_covering_bound_of_a_zero_network_is_the_confidence_term():
    r = bounds.covering_number_bound(weighted_mlp([[0.0, 0.0]]), 100, gamma=1.0, delta=0.1)
    assert r["log2_covering"] == -math.inf
    assert r["complexity"] == pytest.approx(math.sqrt(8 / 100 * math.log(20)), rel=1e-12)


def test_covering_bound_rejects_bad_inputs():
    net = weighted_mlp(A1, A2)
    with pytest.raises(ValueError, match="gamma"):
        bounds.covering_number_bound(net, 10, gamma=0.0)
    with pytest.raises(ValueError, match="delta"):
        bounds.covering_number_bound(net, 10, gamma=1.0, delta=1.5)
    with pytest.raises(ValueError, match="output_bound"):
        bounds.covering_number_bound(net, 10, gamma=1.0, output_bound=-1.0)
    with pytest.raises(ValueError, match="lipschitz"):
        bounds.covering_number_bound(net, 10, gamma=1.0, lipschitz=0.0)
    with pytest.raises(ValueError, match="margin_loss"):
        bounds.covering_number_bound(net, 10, gamma=1.0, margin_loss=2.0)
    with pytest.raises(ValueError, match="n"):
        bounds.covering_number_bound(net, 0, gamma=1.0)
    with pytest.raises(ValueError):
        bounds.covering_number_bound(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)), 10, gamma=1.0)


# --------------------------------------------------------------------------- Rademacher mu^L


def _data(n, d, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g) if k > 1 else 2 * torch.randint(0, 2, (n,), generator=g) - 1
    return X, y


def test_rademacher_norm_bound_closed_form_binary():
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    y = torch.tensor([1, -1, 1, -1])
    net = weighted_mlp(A1, A2)
    r = bounds.rademacher_norm_bound(net, X, y, gamma=0.5, delta=0.1)
    fro1, fro2 = math.sqrt(1 + 4 + 0.25 + 0.25), math.sqrt(10.0)
    B = 2.0  # the largest input norm
    rad = 2 ** 1.5 * fro1 * fro2 * B / math.sqrt(4)
    assert r["rademacher"] == pytest.approx(rad, rel=1e-12)
    assert r["frobenius_product"] == pytest.approx(fro1 * fro2, rel=1e-12)
    assert r["mu"] == pytest.approx(math.sqrt(fro1 * fro2), rel=1e-12)
    assert r["complexity"] == pytest.approx(2 / 0.5 * rad, rel=1e-12)  # one output: 2 / gamma
    assert r["confidence"] == pytest.approx(3 * math.sqrt(math.log(20) / 8), rel=1e-12)
    # margins y f(x): f = 3 relu(x1 - 2 x2) - relu((x1 + x2)/2) -> 3 - 0.5, -(0 - 1), 0 - 1, -(0 - 0) = 0
    margins = np.array([2.5, 1.0, -1.0, 0.0])
    assert r["margin_loss"] == pytest.approx(np.mean(margins <= 0.5))
    assert r["bound"] == pytest.approx(r["margin_loss"] + r["complexity"] + r["confidence"], rel=1e-12)


@pytest.mark.parametrize("widths", [[5, 7, 3], [4, 6, 6, 3], [3, 8, 1]])
def test_rademacher_norm_bound_is_the_frobenius_bound_with_factor_2_to_the_L_minus_half(widths):
    torch.manual_seed(sum(widths))
    net = weighted_mlp(*[torch.randn(b, a, dtype=torch.float64) for a, b in zip(widths[:-1], widths[1:])])
    X, y = _data(40, widths[0], widths[-1])
    L = len(widths) - 1
    ours = bounds.rademacher_norm_bound(net, X, y, gamma=0.7)
    golowich = bounds.frobenius_bound(net, X, y, gamma=0.7)
    # same norms; depth factors 2^(L - 1/2) and sqrt(2 L ln 2) + 1; data terms B / sqrt(n) and ||X||_F / n
    ratio = 2 ** (L - 0.5) / (math.sqrt(2 * L * math.log(2)) + 1)
    ratio *= golowich["max_input_norm"] * math.sqrt(40) / golowich["data_norm"]
    assert ours["rademacher"] / golowich["rademacher"] == pytest.approx(ratio, rel=1e-10)
    assert ours["frobenius_product"] == pytest.approx(golowich["frobenius_product"], rel=1e-10)
    assert ours["complexity"] / ours["rademacher"] == pytest.approx(golowich["complexity"] / golowich["rademacher"])
    norms = [np.linalg.norm(layer.weight.detach().numpy()) for layer in net if isinstance(layer, nn.Linear)]
    assert ours["mu"] == pytest.approx(np.prod(norms) ** (1 / L), rel=1e-10)


def test_rademacher_norm_bound_folds_biases():
    net = weighted_mlp(A1, A2, bias=[[1.0, -3.0], [2.0]])
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([1, -1])
    r = bounds.rademacher_norm_bound(net, X, y, gamma=1.0)
    # folded: [A1 b1; 0 0 1] and [A2 b2]; inputs (x, 1)
    fro1 = math.sqrt(1 + 4 + 0.25 + 0.25 + 1 + 9 + 1)
    fro2 = math.sqrt(9 + 1 + 4)
    assert r["frobenius_product"] == pytest.approx(fro1 * fro2, rel=1e-12)
    assert r["max_input_norm"] == pytest.approx(math.sqrt(5.0), rel=1e-12)


def test_rademacher_norm_bound_is_invariant_to_balanced_rescaling_only_in_mu_L():
    net = weighted_mlp(A1, A2)
    X, y = _data(10, 2, 1)
    r = bounds.rademacher_norm_bound(net, X, y, gamma=1.0)
    r2 = bounds.rademacher_norm_bound(weighted_mlp(4 * torch.tensor(A1), torch.tensor(A2) / 4), X, y, gamma=1.0)
    assert r2["frobenius_product"] == pytest.approx(r["frobenius_product"], rel=1e-12)


def test_rademacher_norm_bound_rejects_bad_inputs():
    net = weighted_mlp(A1, A2)
    X, y = _data(5, 2, 1)
    with pytest.raises(ValueError, match="gamma"):
        bounds.rademacher_norm_bound(net, X, y, gamma=-1.0)
    with pytest.raises(ValueError, match="delta"):
        bounds.rademacher_norm_bound(net, X, y, gamma=1.0, delta=0.0)
    with pytest.raises(ValueError, match="features"):
        bounds.rademacher_norm_bound(net, torch.ones(5, 3, dtype=torch.float64), y, gamma=1.0)
