"""The checker of the spectral-complexity exercise: right answers pass, typical mistakes are named."""

import math

import numpy as np
import pytest
import torch

from dltheory import homework
from dltheory.homework import ch4_spectral_margin_bound as checker


def right(weights):
    s = [torch.linalg.matrix_norm(A, ord=2).item() for A in weights]
    b = [A.norm(dim=1).sum().item() for A in weights]
    return float(np.prod(s) * sum((bi / si) ** (2 / 3) for bi, si in zip(b, s)) ** 1.5)


def test_the_worked_example_by_hand():
    (weights,) = checker._cases()[0]
    expected = 4 * math.sqrt(2) * ((7 / 4) ** (2 / 3) + 1) ** 1.5
    assert checker._reference(weights) == pytest.approx(expected, rel=1e-12)
    assert right(weights) == pytest.approx(expected, rel=1e-12)


def test_right_answers_pass_numpy_too():
    assert homework.check_spectral_complexity(right).passed
    def with_numpy(weights):
        mats = [A.numpy() for A in weights]
        s = [np.linalg.svd(a, compute_uv=False)[0] for a in mats]
        b = [np.linalg.norm(a, axis=1).sum() for a in mats]
        return np.prod(s) * np.sum([(bi / si) ** (2 / 3) for bi, si in zip(b, s)]) ** 1.5
    assert homework.check_spectral_complexity(with_numpy).passed
    assert str(homework.check_spectral_complexity(right)).startswith("Correct.")


def _r_a(weights, b_of, power=1.5, inner=2 / 3):
    s = [torch.linalg.matrix_norm(A, ord=2).item() for A in weights]
    b = [b_of(A) for A in weights]
    return float(np.prod(s) * sum((bi / si) ** inner for bi, si in zip(b, s)) ** power)


WRONG = {
    "column norms": lambda w: _r_a(w, lambda A: A.norm(dim=0).sum().item()),
    "Frobenius norm in place": lambda w: _r_a(w, lambda A: torch.linalg.matrix_norm(A).item()),
    "power 3/2 of the sum is missing": lambda w: _r_a(w, lambda A: A.norm(dim=1).sum().item(), power=1.0),
    "without the power 2/3": lambda w: _r_a(w, lambda A: A.norm(dim=1).sum().item(), inner=1.0),
    "only the product of the spectral norms": lambda w: float(
        np.prod([torch.linalg.matrix_norm(A, ord=2).item() for A in w])),
}


@pytest.mark.parametrize("phrase", list(WRONG))
def test_typical_mistakes_are_named(phrase):
    feedback = homework.check_spectral_complexity(WRONG[phrase])
    assert not feedback.passed
    assert phrase in str(feedback)


def test_stub_gets_the_hint():
    def stub(weights):
        raise NotImplementedError
    feedback = homework.check_spectral_complexity(stub)
    assert not feedback.passed and "row" in str(feedback)
