"""The checker of the flip-fraction exercise: right answers pass, stubs get a hint, and each typical
mistake is named."""

import numpy as np
import pytest
import torch

from dltheory import homework


def right(W0, W, X):
    return ((X @ W0.T > 0) != (X @ W.T > 0)).double().mean()


def test_right_answers_pass_as_tensor_float_and_array():
    assert homework.check_flip_fraction(right).passed
    assert homework.check_flip_fraction(lambda W0, W, X: right(W0, W, X).item()).passed
    assert homework.check_flip_fraction(lambda W0, W, X: right(W0, W, X).reshape(1).numpy()).passed
    # the same with >= (ties have probability zero) and with float32 patterns
    assert homework.check_flip_fraction(lambda W0, W, X: ((X @ W0.T >= 0) ^ (X @ W.T >= 0)).float().mean()).passed
    assert str(homework.check_flip_fraction(right)).startswith("Correct.")


def flips(W0, W, X):
    return (X @ W0.T > 0) != (X @ W.T > 0)


WRONG = {
    "the fraction of units that flip on at least one example": lambda W0, W, X: flips(W0, W, X).any(0).double().mean(),
    "the fraction of examples on which at least one unit flips": lambda W0, W, X: flips(W0, W, X).any(1).double().mean(),
    "the number of flipped pairs": lambda W0, W, X: flips(W0, W, X).sum(),
    "divided by n only": lambda W0, W, X: flips(W0, W, X).sum() / X.shape[0],
    "divided by m only": lambda W0, W, X: flips(W0, W, X).sum() / W.shape[0],
    "did NOT flip": lambda W0, W, X: (~flips(W0, W, X)).double().mean(),
    "whose sign changed": lambda W0, W, X: (torch.sign(W) != torch.sign(W0)).double().mean(),
    "the fraction of active pairs after the move": lambda W0, W, X: (X @ W.T > 0).double().mean(),
    "cancel": lambda W0, W, X: ((X @ W.T > 0).double().mean() - (X @ W0.T > 0).double().mean()).abs(),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_flip_fraction(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)


def test_a_transposed_product_is_explained():
    text = str(homework.check_flip_fraction(lambda W0, W, X: ((W0 @ X > 0) != (W @ X > 0)).double().mean()))
    assert "raised RuntimeError" in text and "W0 @ X" in text


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch2_clustered_data import _cases, _mistakes, _reference

    rows = []
    for case in _cases():
        row = {k: float(v) for k, v in _mistakes(*case).items()}
        row["right"] = _reference(*case)
        assert 0 < row["right"] < 0.5
        rows.append(row)
    names = list(rows[0])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not all(np.isclose(r[a], r[b], rtol=1e-6, atol=1e-12) for r in rows), (a, b)
