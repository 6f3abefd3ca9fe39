"""The checker of the parameter-counting exercise: right answers pass, typical mistakes are named.

The reference is itself checked against the parameters of the three layers built in torch.
"""

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import homework
from dltheory.homework import ch4_locality_on_images as hw
from dltheory.models import LocallyConnected2d, count_parameters


@pytest.mark.parametrize("case", hw.CASES)
def test_reference_counts_the_layers_built_in_torch(case):
    c_in, c_out, h, w, k = case
    out = c_out * (h - k + 1) * (w - k + 1)
    dense = nn.Linear(c_in * h * w, out)
    local = LocallyConnected2d(c_in, c_out, (h, w), k)
    conv = nn.Conv2d(c_in, c_out, k)
    x = torch.zeros(1, c_in, h, w)
    assert local(x).shape == conv(x).shape == (1, c_out, h - k + 1, w - k + 1)
    expected = [count_parameters(m) for m in (dense, local, conv)]
    assert hw._reference(*case).tolist() == expected


def right(c_in, c_out, h, w, k):
    loc = (h - k + 1) * (w - k + 1)
    return (c_in * h * w + 1) * c_out * loc, (c_in * k * k + 1) * c_out * loc, (c_in * k * k + 1) * c_out


def test_right_answers_pass_as_tuple_list_array_and_tensor():
    assert homework.check_layer_parameters(right).passed
    assert homework.check_layer_parameters(lambda *a: list(right(*a))).passed
    assert homework.check_layer_parameters(lambda *a: np.array(right(*a))).passed
    assert homework.check_layer_parameters(lambda *a: torch.tensor(right(*a))).passed
    assert str(homework.check_layer_parameters(right)).startswith("Correct.")


def no_bias(c_in, c_out, h, w, k):
    loc = (h - k + 1) * (w - k + 1)
    return c_in * h * w * c_out * loc, c_in * k * k * c_out * loc, c_in * k * k * c_out


def same_size(c_in, c_out, h, w, k):
    return (c_in * h * w + 1) * c_out * h * w, (c_in * k * k + 1) * c_out * h * w, (c_in * k * k + 1) * c_out


def k_not_squared(c_in, c_out, h, w, k):
    loc = (h - k + 1) * (w - k + 1)
    return (c_in * h * w + 1) * c_out * loc, (c_in * k + 1) * c_out * loc, (c_in * k + 1) * c_out


def no_channels(c_in, c_out, h, w, k):
    loc = (h - k + 1) * (w - k + 1)
    return (h * w + 1) * c_out * loc, (k * k + 1) * c_out * loc, (k * k + 1) * c_out


def shared_local_bias(c_in, c_out, h, w, k):
    fc, _, conv = right(c_in, c_out, h, w, k)
    return fc, c_in * k * k * c_out * (h - k + 1) * (w - k + 1) + c_out, conv


def dense_per_channel(c_in, c_out, h, w, k):
    _, local, conv = right(c_in, c_out, h, w, k)
    return (c_in * h * w + 1) * c_out, local, conv


WRONG = {"no biases": no_bias, "the input's size": same_size, "k weights per window": k_not_squared,
         "input channels are missing": no_channels, "one bias per output channel in the locally": shared_local_bias,
         "one output per channel": dense_per_channel}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_layer_parameters(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_wrong_order_and_shape_are_explained():
    feedback = homework.check_layer_parameters(lambda *a: right(*a)[::-1])
    assert not feedback.passed and "differs from the reference" in str(feedback)
    feedback = homework.check_layer_parameters(lambda *a: right(*a)[:2])
    assert not feedback.passed and "shape" in str(feedback)
