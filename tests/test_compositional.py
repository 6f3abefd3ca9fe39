"""dltheory.compositional: the architectures at matched budgets, the relative error and the
training protocol, against parameter counts by formula, NumPy and dltheory.train.fit itself."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import compositional, data, models, train

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    X, y = data.binary_tree(200, depth=2, seed=0, dtype=F64)
    Xt, yt = data.binary_tree(100, depth=2, seed=1, dtype=F64)
    return (X, y), (Xt, yt)


def test_build_the_four_architectures_by_width():
    shallow = compositional.build("shallow", 8, width=10)
    assert [m.out_features for m in shallow if isinstance(m, nn.Linear)] == [10, 1]
    deep = compositional.build("deep_fc", 8, width=6)
    assert [m.out_features for m in deep if isinstance(m, nn.Linear)] == [6, 6, 6, 1]  # depth log2(8) = 3
    local = compositional.build("tree_local", 16, width=5, channels=2)
    assert isinstance(local, models.TreeNetwork) and not local.shared and local.depth == 4 and local.channels == 2
    conv = compositional.build("tree_conv", 8, width=5)
    assert conv.shared and conv.hidden == 5
    x = torch.rand(3, 8)
    for model in (shallow, deep, conv):
        assert model(x).shape == (3, 1)


@pytest.mark.parametrize("architecture", compositional.ARCHITECTURES)
@pytest.mark.parametrize("inputs, budget", [(8, 455), (8, 120), (4, 200), (16, 910)])
def test_build_by_budget_is_the_closest_count(architecture, inputs, budget):
    model = compositional.build(architecture, inputs, budget, seed=1)
    count = models.count_parameters(model)
    width = compositional.free_width(architecture, inputs, budget)
    assert count == models.count_parameters(compositional.build(architecture, inputs, width=width))
    # no other width comes closer
    others = [models.count_parameters(compositional.build(architecture, inputs, width=w)) for w in range(1, 80)]
    assert abs(count - budget) == min(abs(c - budget) for c in others)


def test_free_width_by_formula():
    # shallow: (d + 2) N + 1 parameters; tree of depth 3, one channel: 7 (4 m + 1)
    assert compositional.free_width("shallow", 8, 10 * 45 + 1) == 45
    assert compositional.free_width("tree_local", 8, 7 * (4 * 16 + 1)) == 16
    assert compositional.free_width("tree_conv", 8, 3 * (4 * 37 + 1)) == 37
    L, N = 3, 12
    assert compositional.free_width("deep_fc", 8, 9 * N + (L - 1) * (N + 1) * N + N + 1) == N


def test_build_seed_dtype_and_bad_input():
    a = compositional.build("tree_local", 8, 300, seed=4, dtype=F64)
    b = compositional.build("tree_local", 8, 300, seed=4, dtype=F64)
    assert all(torch.equal(p, q) and p.dtype == F64 for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="unknown architecture 'cnn'"):
        compositional.build("cnn", 8, 100)
    with pytest.raises(ValueError, match="power of two"):
        compositional.build("shallow", 6, 100)
    with pytest.raises(ValueError, match="exactly one of budget"):
        compositional.build("shallow", 8)
    with pytest.raises(ValueError, match="exactly one of budget"):
        compositional.build("shallow", 8, 100, width=3)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        compositional.build("shallow", 8, width=0)
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        compositional.free_width("shallow", 8, -5)


def test_relative_error_against_numpy():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(50, 3, generator=g, dtype=F64), torch.randn(50, generator=g, dtype=F64)
    model = nn.Linear(3, 1, dtype=F64)
    f = model(X).detach().numpy().reshape(-1)
    expected = np.sum((f - y.numpy()) ** 2) / np.sum((y.numpy() - y.numpy().mean()) ** 2)
    assert compositional.relative_error(model, X, y) == pytest.approx(expected, rel=1e-12)
    mean_model = nn.Linear(3, 1, dtype=F64)
    with torch.no_grad():
        mean_model.weight.zero_()
        mean_model.bias.fill_(y.mean())
    assert compositional.relative_error(mean_model, X, y) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match="one row per example"):
        compositional.relative_error(model, X, y[:-1])
    with pytest.raises(ValueError, match="targets are all equal"):
        compositional.relative_error(model, X, torch.ones(50, dtype=F64))
    with pytest.raises(ValueError, match="one number for each"):
        compositional.relative_error(model, X, torch.ones(50, 2, dtype=F64))


def test_train_and_score_keeps_the_best_step_size_by_training_loss(problem):
    train_data, test_data = problem
    lrs, steps = [1e-3, 1e-2, 3e-2], 150
    model = compositional.build("tree_local", 4, width=8, seed=0, dtype=F64)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = compositional.train_and_score(model, train_data, test_data, lrs=lrs, steps=steps)
    # the same runs by hand, each from the same start
    final = {}
    for lr in lrs:
        twin = compositional.build("tree_local", 4, width=8, seed=0, dtype=F64)
        twin.load_state_dict(start)
        history = train.fit(twin, *train_data, loss="square", optimizer="adam", lr=lr, steps=steps,
                            record_every=steps, progress=False)
        final[lr] = (history["loss"][-1], twin)
    best = min(lrs, key=lambda lr: final[lr][0])
    assert result["lr"] == best
    for p, q in zip(model.parameters(), final[best][1].parameters()):
        assert torch.equal(p, q)
    assert result["parameters"] == models.tree_parameter_count(2, 8)
    assert result["train_error"] == pytest.approx(compositional.relative_error(model, *train_data))
    assert result["test_error"] == pytest.approx(compositional.relative_error(model, *test_data))
    # half the square loss is the relative error times half the variance (population convention)
    y = train_data[1]
    variance = ((y - y.mean()) ** 2).mean().item()
    assert final[best][0] == pytest.approx(0.5 * variance * result["train_error"], rel=1e-9)
    assert result["train_error"] < 0.5


def test_train_and_score_survives_a_diverging_step_size(problem):
    train_data, test_data = problem
    model = compositional.build("shallow", 4, width=8, seed=0, dtype=F64)
    result = compositional.train_and_score(model, train_data, test_data, lrs=[1e300, 1e-2], steps=30)
    assert result["lr"] == 1e-2 and math.isfinite(result["test_error"])
    with pytest.raises(FloatingPointError, match="diverged for every step size"):
        compositional.train_and_score(model, train_data, test_data, lrs=[1e300], steps=30)
    with pytest.raises(ValueError, match="at least one step size"):
        compositional.train_and_score(model, train_data, test_data, lrs=[], steps=30)


def test_sweep_rows(problem):
    train_data, test_data = problem
    rows = compositional.sweep(["shallow", "tree_conv"], [40, 80], train_data, test_data, lrs=[1e-2], steps=20)
    assert [(r["architecture"], r["budget"]) for r in rows] == [("shallow", 40), ("tree_conv", 40),
                                                               ("shallow", 80), ("tree_conv", 80)]
    for r in rows:
        assert r["width"] == compositional.free_width(r["architecture"], 4, r["budget"])
        assert set(r) == {"architecture", "budget", "width", "parameters", "lr", "train_error", "test_error"}
