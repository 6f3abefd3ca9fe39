"""dltheory.models.budget: the architectures of a comparison at matched parameter budgets, against
parameter counts by formula and by exhaustive search over the width."""

import pytest
import torch
from torch import nn

from dltheory import models

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def test_build_the_four_architectures_by_width():
    shallow = models.build("shallow", 8, width=10)
    assert [m.out_features for m in shallow if isinstance(m, nn.Linear)] == [10, 1]
    deep = models.build("deep_fc", 8, width=6)
    assert [m.out_features for m in deep if isinstance(m, nn.Linear)] == [6, 6, 6, 1]  # depth log2(8) = 3
    local = models.build("tree_local", 16, width=5, channels=2)
    assert isinstance(local, models.TreeNetwork) and not local.shared and local.depth == 4 and local.channels == 2
    conv = models.build("tree_conv", 8, width=5)
    assert conv.shared and conv.hidden == 5
    x = torch.rand(3, 8)
    for model in (shallow, deep, conv):
        assert model(x).shape == (3, 1)


@pytest.mark.parametrize("architecture", models.ARCHITECTURES)
@pytest.mark.parametrize("inputs, budget", [(8, 455), (8, 120), (4, 200), (16, 910)])
def test_build_by_budget_is_the_closest_count(architecture, inputs, budget):
    model = models.build(architecture, inputs, budget, seed=1)
    count = models.count_parameters(model)
    width = models.free_width(architecture, inputs, budget)
    assert count == models.count_parameters(models.build(architecture, inputs, width=width))
    # no other width comes closer
    others = [models.count_parameters(models.build(architecture, inputs, width=w)) for w in range(1, 80)]
    assert abs(count - budget) == min(abs(c - budget) for c in others)


def test_free_width_by_formula():
    # shallow: (d + 2) N + 1 parameters; tree of depth 3, one channel: 7 (4 m + 1)
    assert models.free_width("shallow", 8, 10 * 45 + 1) == 45
    assert models.free_width("tree_local", 8, 7 * (4 * 16 + 1)) == 16
    assert models.free_width("tree_conv", 8, 3 * (4 * 37 + 1)) == 37
    L, N = 3, 12
    assert models.free_width("deep_fc", 8, 9 * N + (L - 1) * (N + 1) * N + N + 1) == N


def test_build_seed_dtype_and_bad_input():
    a = models.build("tree_local", 8, 300, seed=4, dtype=F64)
    b = models.build("tree_local", 8, 300, seed=4, dtype=F64)
    assert all(torch.equal(p, q) and p.dtype == F64 for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="unknown architecture 'cnn'"):
        models.build("cnn", 8, 100)
    with pytest.raises(ValueError, match="power of two"):
        models.build("shallow", 6, 100)
    with pytest.raises(ValueError, match="exactly one of budget"):
        models.build("shallow", 8)
    with pytest.raises(ValueError, match="exactly one of budget"):
        models.build("shallow", 8, 100, width=3)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        models.build("shallow", 8, width=0)
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        models.free_width("shallow", 8, -5)
    # a value of the wrong type is a TypeError, not a ValueError
    with pytest.raises(TypeError, match="width must be a positive integer, got 2.5"):
        models.build("shallow", 8, width=2.5)
    with pytest.raises(TypeError, match="width must be a positive integer, got True"):
        models.build("shallow", 8, width=True)
    with pytest.raises(TypeError, match="inputs must be a power of two"):
        models.build("shallow", 8.0, 100)
    with pytest.raises(TypeError, match="budget must be a positive integer, got '100'"):
        models.free_width("shallow", 8, "100")
