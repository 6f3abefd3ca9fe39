"""dltheory.losses against hand computations in NumPy, at extreme margins, and the
target checks."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory import losses

F64 = torch.float64


@pytest.fixture
def binary():
    f = np.array([0.3, -1.2, 2.0, 0.0])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    return f, y


def test_square_by_hand():
    f = np.array([[0.5, -1.0], [2.0, 0.0], [1.5, 1.5]])
    y = np.array([[0.0, -1.0], [1.0, 1.0], [-0.5, 1.5]])
    # (1/n) sum_i 1/2 ||f_i - y_i||^2 = (1/3) * 1/2 * (0.25 + 0 + 1 + 1 + 4 + 0)
    assert losses.square(torch.tensor(f), torch.tensor(y)).item() == pytest.approx(6.25 / 6, rel=1e-15)
    # targets are reshaped to the outputs: one output per example as (n,) or (n, 1)
    out = torch.tensor([[1.0], [2.0]], dtype=F64)
    assert losses.square(out, torch.tensor([0.0, 0.0], dtype=F64)).item() == pytest.approx(1.25)


def test_binary_losses_by_hand(binary):
    f, y = binary
    m = y * f
    expected = {
        "logistic": np.mean(np.log1p(np.exp(-m))),
        "exp": np.mean(np.exp(-m)),
        "hinge": np.mean(np.maximum(0.0, 1.0 - m)),
    }
    for name, value in expected.items():
        for shape in ((4,), (4, 1)):  # one output per example, flat or as a column
            got = losses.LOSSES[name](torch.tensor(f).reshape(shape), torch.tensor(y))
            assert got.ndim == 0 and got.item() == pytest.approx(value, rel=1e-14), name
    assert expected["hinge"] == pytest.approx((0.7 + 2.2 + 3.0 + 1.0) / 4)


def test_cross_entropy_by_hand():
    f = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0]])
    y = np.array([1, 2, 0])
    log_softmax = f - np.log(np.exp(f).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(3), y])
    assert losses.ce(torch.tensor(f), torch.tensor(y)).item() == pytest.approx(expected, rel=1e-14)
    assert losses.ce(torch.zeros(5, 4, dtype=F64), torch.tensor([0, 1, 2, 3, 0])).item() == pytest.approx(math.log(4))


def test_logistic_is_stable_at_extreme_margins():
    f = torch.tensor([1000.0, -1000.0, 0.0], dtype=F64, requires_grad=True)
    y = torch.ones(3, dtype=F64)
    per_example = [losses.logistic(f[i : i + 1], y[i : i + 1]) for i in range(3)]
    assert per_example[0].item() == pytest.approx(0.0, abs=1e-300)
    assert per_example[1].item() == pytest.approx(1000.0, rel=1e-15)
    assert per_example[2].item() == pytest.approx(math.log(2), rel=1e-15)
    total = losses.logistic(f, y)
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(f.grad).all()
    # d/df softplus(-f) / 3 = -sigmoid(-f) / 3
    torch.testing.assert_close(f.grad, torch.tensor([0.0, -1 / 3, -1 / 6], dtype=F64))
    for dtype in (torch.float32, F64):
        value = losses.logistic(torch.tensor([-1000.0, 1000.0], dtype=dtype), torch.tensor([1.0, 1.0]))
        assert torch.isfinite(value) and value.item() == pytest.approx(500.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=6), st.data())
def test_logistic_equals_log1p_exp(margins, data):
    f = np.array(margins)
    y = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(f), max_size=len(f))))
    got = losses.logistic(torch.tensor(f), torch.tensor(y)).item()
    # not to float64 precision: F.softplus returns x itself above its threshold x > 20,
    # dropping log1p(exp(-x)) < e^-20 = 2e-9
    assert got == pytest.approx(np.mean(np.log1p(np.exp(-y * f))), rel=1e-12, abs=3e-9)


def test_resolve():
    assert losses.resolve("ce") is losses.ce
    assert set(losses.LOSSES) == {"square", "logistic", "exp", "hinge", "ce"}

    def mine(outputs, targets):
        return outputs.sum()

    assert losses.resolve(mine) is mine
    with pytest.raises(ValueError, match=r"unknown loss 'mse'; use one of \['ce', 'exp', 'hinge', 'logistic', 'square'\]"):
        losses.resolve("mse")


def test_check_targets_accepts_good_targets():
    losses.check_targets("square", torch.zeros(4, 2), torch.ones(4, 2))
    losses.check_targets("logistic", torch.zeros(4, 1), torch.tensor([1, -1, 1, -1]))
    losses.check_targets("hinge", torch.zeros(4), torch.tensor([1.0, -1.0, 1.0, -1.0]))
    losses.check_targets("ce", torch.zeros(4, 3), torch.tensor([0, 1, 2, 2]))
    losses.check_targets(lambda o, t: o.sum(), torch.zeros(4, 3), torch.zeros(4, 7))  # callables: only the count


@pytest.mark.parametrize(
    "loss, outputs, targets, message",
    [
        ("square", torch.zeros(4, 2), torch.zeros(3, 2), "the model gives 4 outputs but there are 3 targets"),
        ("square", torch.zeros(4, 2), torch.zeros(4, 3), r"square loss: targets of shape \(4, 3\)"),
        ("square", torch.zeros(4, 2), torch.tensor([[0.0, 1], [1, float("nan")], [0, 0], [0, 0]]), "NaN or inf"),
        ("logistic", torch.zeros(4, 1), torch.tensor([0.0, 1.0, 1.0, 0.0]), r"\{-1, \+1\}.*2 \* y - 1"),
        ("exp", torch.zeros(4, 1), torch.tensor([0.5, 1.0, 1.0, -1.0]), r"label in \{-1, \+1\}"),
        ("hinge", torch.zeros(4, 2), torch.tensor([1.0, 1.0, 1.0, -1.0]), "one output per example"),
        ("logistic", torch.zeros(4), torch.ones(4, 2), r"one label in \{-1, \+1\} per example"),
        ("exp", torch.zeros(2), torch.tensor([float("inf"), 1.0]), "NaN or inf"),
        ("ce", torch.zeros(4, 3), torch.tensor([0, 1, 3, 2]), r"class indices must lie in \[0, 2\]"),
        ("ce", torch.zeros(4, 3), torch.tensor([0, -1, 1, 2]), r"class indices must lie in \[0, 2\]"),
        ("ce", torch.zeros(4, 3), torch.tensor([0.0, 1.0, 1.0, 2.0]), "integer class indices"),
        ("ce", torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.int64), r"integer class indices of shape \(n,\)"),
        ("ce", torch.zeros(4), torch.tensor([0, 1, 1, 0]), r"outputs of shape \(n, classes\)"),
    ],
)
def test_check_targets_names_the_problem(loss, outputs, targets, message):
    with pytest.raises(ValueError, match=message):
        losses.check_targets(loss, outputs, targets)
