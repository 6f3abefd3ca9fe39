"""The checker of the escape-time exercise (strict saddles): right answers pass, stubs get a hint,
and each typical mistake is named."""

import math

import numpy as np
import pytest
import torch

from dltheory import homework, saddles
from dltheory.homework.ch3_strict_saddles import _cases, _mistakes, _reference


def right(y0, lr, c):
    return np.log(c / np.abs(y0)) / np.log(1 + lr)


def test_right_answers_pass_in_numpy_torch_and_math():
    assert homework.check_escape_time(right).passed
    assert homework.check_escape_time(
        lambda y0, lr, c: torch.log(c / torch.as_tensor(y0).abs()) / math.log1p(lr)).passed
    assert str(homework.check_escape_time(right)).startswith("Correct.")


def test_the_library_formula_passes():
    def by_library(y0, lr, c):
        return saddles.predicted_escape_time(np.atleast_1d(y0), lr=lr, c=c).numpy().reshape(np.shape(y0))

    assert homework.check_escape_time(by_library).passed


def test_the_reference_agrees_with_measured_escape_times():
    """An independent check of the formula: the measured steps grow with ln(1/|y0|) at its slope."""
    y0 = np.logspace(-14, -4, 30)
    for lr in (0.05, 0.3):
        steps = saddles.escape_time(torch.tensor(y0), lr=lr, threshold=0.5).numpy()
        slope = np.polyfit(np.log(1 / y0), steps, 1)[0]
        predicted = np.polyfit(np.log(1 / y0), _reference(y0, lr, 0.5), 1)[0]
        assert slope == pytest.approx(predicted, rel=0.01)


WRONG = {
    "the rate lr in place of ln(1 + lr)": lambda y0, lr, c: np.log(c / np.abs(y0)) / lr,
    "ln(1 - lr) in place of ln(1 + lr)": lambda y0, lr, c: np.log(c / np.abs(y0)) / np.log(1 - lr),
    "ln(1 + 2 lr)": lambda y0, lr, c: np.log(c / np.abs(y0)) / np.log(1 + 2 * lr),
    "the ratio is upside down": lambda y0, lr, c: np.log(np.abs(y0) / c) / np.log(1 + lr),
    "rounded to an integer": lambda y0, lr, c: np.ceil(right(y0, lr, c)),
    "c multiplies |y0|": lambda y0, lr, c: np.log(c * np.abs(y0)) / np.log(1 + lr),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_escape_time(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_missing_absolute_value_is_explained():
    with np.errstate(invalid="ignore"):
        feedback = homework.check_escape_time(lambda y0, lr, c: np.log(c / np.asarray(y0)) / np.log(1 + lr))
    assert not feedback.passed
    assert "|y0|" in str(feedback), str(feedback)


def test_a_crash_and_a_wrong_shape_are_explained():
    text = str(homework.check_escape_time(lambda y0, lr, c: y0.missing))
    assert "raised AttributeError" in text
    assert "shape" in str(homework.check_escape_time(lambda y0, lr, c: np.atleast_1d(right(y0, lr, c))[:1]))


def test_the_test_cases_tell_the_mistakes_apart():
    """No two mistakes (nor a mistake and the right answer) agree on every case."""
    rows = []
    for case in _cases():
        row = {text: np.asarray(v, dtype=float) for text, v in _mistakes(*case).items()}
        row["right"] = np.asarray(_reference(*case), dtype=float)
        rows.append(row)
    names = list(rows[0])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not all(np.allclose(r[a], r[b], rtol=1e-6, atol=1e-12) for r in rows), (a, b)
