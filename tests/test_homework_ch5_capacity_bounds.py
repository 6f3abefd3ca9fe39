"""The checker of the covering-capacity exercise: right answers pass, stubs get a hint, typical mistakes are named."""

import math

import numpy as np
import pytest
import torch

from dltheory import homework


def right(weights, eps):
    L = len(weights)
    A = max(W.abs().sum(dim=1).max().item() for W in weights)
    return L * (L + 1) * math.log2(A) - 2 * L * math.log2(eps)


def test_right_answers_pass_as_float_tensor_and_numpy():
    assert homework.check_covering_exponent(right).passed
    assert homework.check_covering_exponent(lambda w, e: torch.tensor(right(w, e))).passed

    def numpy_version(weights, eps):
        L = len(weights)
        A = max(np.abs(W.numpy()).sum(axis=1).max() for W in weights)
        return L * (L + 1) * np.log2(A) - 2 * L * np.log2(eps)

    assert homework.check_covering_exponent(numpy_version).passed
    assert str(homework.check_covering_exponent(right)).startswith("Correct.")


def test_the_exercise_example_is_sixteen_bits():
    from dltheory.homework.ch5_capacity_bounds import _cases, _reference

    weights, eps = _cases()[0]
    assert _reference(weights, eps) == pytest.approx(16.0)


def _L(w):
    return len(w)


WRONG = {
    "from the columns": lambda w, e: _L(w) * (_L(w) + 1) * math.log2(
        max(W.abs().sum(dim=0).max().item() for W in w)) - 2 * _L(w) * math.log2(e),
    "Euclidean (l2) norms": lambda w, e: _L(w) * (_L(w) + 1) * math.log2(
        max(W.norm(dim=1).max().item() for W in w)) - 2 * _L(w) * math.log2(e),
    "the exponent L^2": lambda w, e: _L(w) ** 2 * math.log2(
        max(W.abs().sum(dim=1).max().item() for W in w)) - 2 * _L(w) * math.log2(e),
    "natural logarithms": lambda w, e: _L(w) * (_L(w) + 1) * math.log(
        max(W.abs().sum(dim=1).max().item() for W in w)) - 2 * _L(w) * math.log(e),
    "the sign of the epsilon term": lambda w, e: right(w, e) + 4 * _L(w) * math.log2(e),
    "the first layer only": lambda w, e: _L(w) * (_L(w) + 1) * math.log2(
        w[0].abs().sum(dim=1).max().item()) - 2 * _L(w) * math.log2(e),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_covering_exponent(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_stub_gets_the_hint_and_a_crash_is_explained():
    def stub(weights, eps):
        raise NotImplementedError

    text = str(homework.check_covering_exponent(stub))
    assert "not implemented" in text and "row" in text
    text = str(homework.check_covering_exponent(lambda w, e: w[0] @ w[1]))
    assert "raised RuntimeError" in text


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch5_capacity_bounds import _cases, _mistakes, _reference

    for case in _cases():
        values = {k: float(v) for k, v in _mistakes(*case).items()}
        values["right"] = _reference(*case)
        names = list(values)
        for i, p in enumerate(names):
            for q in names[i + 1:]:
                assert not np.isclose(values[p], values[q], rtol=1e-6), (p, q, case)
