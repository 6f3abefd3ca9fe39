"""The checker of the L1-floor exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import depth, homework
from dltheory.homework.ch4_depth_separation import CASES, _mistakes, _reference


def right(k, p):
    return max(0.0, (1 - (p - 1) / 2 ** (k - 1)) / 4)


def test_right_answers_pass_in_several_forms():
    assert homework.check_l1_floor(right).passed
    assert homework.check_l1_floor(depth.l1_lower_bound).passed
    assert homework.check_l1_floor(lambda k, p: np.clip(0.25 - (p - 1) / 2 ** (k + 1), 0, None)).passed
    assert homework.check_l1_floor(lambda k, p: torch.tensor(right(k, p))).passed
    assert str(homework.check_l1_floor(right)).startswith("Correct.")


WRONG = {
    "2^k in place of": lambda k, p: max(0.0, (1 - (p - 1) / 2**k) / 4),
    "p spoiled teeth instead of p - 1": lambda k, p: max(0.0, (1 - p / 2 ** (k - 1)) / 4),
    "a cost of w/2 per tooth": lambda k, p: max(0.0, (1 - (p - 1) / 2 ** (k - 1)) / 2),
    "a cost of w/8 per tooth": lambda k, p: max(0.0, (1 - (p - 1) / 2 ** (k - 1)) / 8),
    "a negative bound": lambda k, p: (1 - (p - 1) / 2 ** (k - 1)) / 4,
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_l1_floor(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_the_cases_tell_the_mistakes_apart_and_the_reference_is_the_library_bound():
    for k, p in CASES:
        assert _reference(k, p) == depth.l1_lower_bound(k, p)
    first = _mistakes(*CASES[0])
    values = list(first.values())[:-1] + [_reference(*CASES[0])]  # the unclipped one only differs later
    assert len({round(v, 12) for v in values}) == len(values)
    assert _mistakes(*CASES[1])[list(first)[-1]] < 0 == _reference(*CASES[1])
