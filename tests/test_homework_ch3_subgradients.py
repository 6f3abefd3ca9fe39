"""The checker of the one-sided ReLU derivative exercise: right answers pass, stubs get a hint,
each typical mistake is named, and a rule that is right elementwise is carried through networks."""

import numpy as np
import pytest
import torch

from dltheory import homework
from dltheory.homework.ch3_subgradients import _cases, _mistakes, _reference


def right(z, dz):
    return torch.where(z > 0, dz, torch.where(z < 0, torch.zeros_like(dz), torch.relu(dz)))


def test_right_answers_pass_as_tensor_and_array():
    feedback = homework.check_relu_jvp(right)
    assert feedback.passed and "integer ReLU networks" in str(feedback)
    assert homework.check_relu_jvp(lambda z, dz: right(z, dz).numpy()).passed


def test_a_forward_mode_answer_passes_too():
    from dltheory import subgradients as sg

    assert homework.check_relu_jvp(lambda z, dz: torch.func.jvp(sg.relu, (z,), (dz,))[1]).passed


zero = torch.zeros_like
WRONG = {
    "PyTorch's rule": lambda z, dz: torch.where(z > 0, dz, zero(dz)),
    "the rule relu'(0) = 1": lambda z, dz: torch.where(z >= 0, dz, zero(dz)),
    "the average slope 1/2": lambda z, dz: torch.where(z > 0, dz, torch.where(z < 0, zero(dz), dz / 2)),
    "relu(dz) everywhere": lambda z, dz: torch.relu(dz),
    "relu(dz) wherever z >= 0": lambda z, dz: torch.where(z >= 0, torch.relu(dz), zero(dz)),
    "|dz| at z = 0": lambda z, dz: torch.where(z > 0, dz, torch.where(z < 0, zero(dz), dz.abs())),
    "with step 1": lambda z, dz: torch.relu(z + dz) - torch.relu(z),
    "dz everywhere": lambda z, dz: dz,
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_relu_jvp(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_crash_and_a_wrong_shape_are_explained():
    text = str(homework.check_relu_jvp(lambda z, dz: (z @ dz) @ z))
    assert "raised RuntimeError" in text and "test case 1" in text
    assert "shape" in str(homework.check_relu_jvp(lambda z, dz: right(z, dz).sum()))


def test_a_rule_that_loses_shapes_is_caught_when_carried_through_networks():
    calls = {"n": 0}

    def right_on_the_test_cases_only(z, dz):
        calls["n"] += 1
        out = right(z, dz)
        return out if calls["n"] <= 2 else out.flip(0)  # breaks once propagated

    text = str(homework.check_relu_jvp(right_on_the_test_cases_only))
    assert "carried through" in text and "Not yet" in text


def test_the_test_cases_tell_the_mistakes_apart():
    """No two mistakes (nor a mistake and the right answer) agree on the first case."""
    case = _cases()[0]
    row = {text: np.asarray(v, dtype=float) for text, v in _mistakes(*case).items()}
    row["right"] = _reference(*case).numpy()
    names = list(row)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.allclose(row[a], row[b]), (a, b)
