"""The checker of the escape-direction exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import homework
from dltheory.homework.ch5_universality import CASES, _mistakes, _reference


def right(W, v):
    return torch.linalg.solve(W, torch.sign(v))


def test_right_answers_pass_in_several_forms():
    assert homework.check_escape_direction(right).passed
    assert homework.check_escape_direction(lambda W, v: torch.linalg.inv(W) @ torch.sign(v)).passed
    assert homework.check_escape_direction(
        lambda W, v: np.linalg.solve(W.numpy(), np.sign(v.numpy()))).passed
    assert str(homework.check_escape_direction(right)).startswith("Correct.")


WRONG = {
    "the opposite direction": lambda W, v: -right(W, v),
    "W^T sign(v) in place of": lambda W, v: W.T @ torch.sign(v),
    "W sign(v) in place of": lambda W, v: W @ torch.sign(v),
    "sign(v) itself": lambda W, v: torch.sign(v),
    "(W^T)^(-1) sign(v)": lambda W, v: torch.linalg.solve(W.T, torch.sign(v)),
    "W^(-1) v": lambda W, v: torch.linalg.solve(W, v),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_escape_direction(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_the_reference_direction_never_lowers_the_network_and_the_cases_tell_mistakes_apart():
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 20, 201, dtype=torch.float64)
    for W, v in CASES:
        u = _reference(W, v)
        torch.testing.assert_close(W @ u, torch.sign(v))
        for _ in range(5):
            b, x = torch.randn(2, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64)
            F = torch.relu((x + t[:, None] * u) @ W.T + b) @ v
            assert (F.diff() >= -1e-12).all()
        values = [u] + list(_mistakes(W, v).values())
        for i in range(len(values)):
            for j in range(i):
                assert not torch.allclose(values[i], values[j])
