"""The checker of the lambda_0 exercise: right answers pass, typical mistakes are named."""

import math

import numpy as np
import pytest
import torch

from dltheory import gram, homework


def right(X):
    C = (X @ X.T).clamp(-1, 1)
    return C * (math.pi - torch.arccos(C)) / (2 * math.pi)


def test_right_answers_pass_including_the_library_and_numpy():
    assert homework.check_h_infinity(right).passed
    assert homework.check_h_infinity(gram.du_gram).passed
    assert homework.check_h_infinity(lambda X: right(X).numpy()).passed


WRONG = {
    "the factor <x_i, x_j> is missing": lambda X: (math.pi - torch.arccos((X @ X.T).clamp(-1, 1))) / (2 * math.pi),
    "arccos itself in place of pi - arccos": lambda X: (X @ X.T) * torch.arccos((X @ X.T).clamp(-1, 1)) / (2 * math.pi),
    "a division by pi instead of 2 pi": lambda X: 2 * right(X),
    "X X^T alone": lambda X: X @ X.T,
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_h_infinity(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_transposed_product_is_explained():
    feedback = homework.check_h_infinity(lambda X: X.T @ X)
    assert not feedback.passed and "shape" in str(feedback)


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch5_global_convergence import _cases, _mistakes, _reference

    for (X,) in _cases():
        ref = _reference(X)
        for value in _mistakes(X).values():
            assert not np.allclose(value.numpy(), ref.numpy(), rtol=1e-3)
