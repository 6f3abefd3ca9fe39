"""The checker of the overparametrised-risk exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest

from dltheory import homework
from dltheory.homework.ch4_double_descent import CASES, _mistakes, _reference


def right(gamma, r2, sigma2):
    return r2 * (1 - 1 / gamma) + sigma2 / (gamma - 1)


def test_right_answers_pass():
    assert homework.check_overparametrized_risk(right).passed
    assert homework.check_overparametrized_risk(lambda g, r2, s2: np.float64(right(g, r2, s2))).passed
    # written from the finite-n formula with n large: close, but not within the tolerance
    n = 10**4
    finite = lambda g, r2, s2: r2 * (1 - n / (g * n)) + s2 * n / (g * n - n - 1)  # noqa: E731
    assert not homework.check_overparametrized_risk(finite).passed
    assert str(homework.check_overparametrized_risk(right)).startswith("Correct.")


WRONG = {
    "the bias r2 / gamma": lambda g, r2, s2: r2 / g + s2 / (g - 1),
    "the variance sigma2 gamma / (gamma - 1)": lambda g, r2, s2: r2 * (1 - 1 / g) + s2 * g / (g - 1),
    "the variance alone": lambda g, r2, s2: s2 / (g - 1),
    "the bias alone": lambda g, r2, s2: r2 * (1 - 1 / g),
    "the under-parametrised formula": lambda g, r2, s2: s2 * g / (1 - g),
    "the wrong sign": lambda g, r2, s2: r2 * (1 - 1 / g) + s2 / (1 - g),
    "r2 and sigma2 swapped": lambda g, r2, s2: s2 * (1 - 1 / g) + r2 / (g - 1),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_overparametrized_risk(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_an_exception_is_explained():
    text = str(homework.check_overparametrized_risk(lambda g, r2, s2: r2 * (1 - 1 / g) + s2 / undefined))  # noqa: F821
    assert "raised NameError" in text and "Traceback" not in text


def test_the_cases_tell_the_mistakes_apart_and_stay_past_the_threshold():
    for case in CASES:
        assert case[0] > 1 and case[1] != case[2]
        values = dict(_mistakes(*case), right=_reference(*case))
        names = list(values)
        for i, p in enumerate(names):
            for q in names[i + 1:]:
                assert not np.isclose(values[p], values[q], rtol=1e-6), (case, p, q)
