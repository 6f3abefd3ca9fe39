"""The checker of the Laplace mass-ratio exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest

from dltheory import homework


def right(H_a, H_b, V_a, V_b, T):
    return np.sqrt(np.linalg.det(H_b) / np.linalg.det(H_a)) * np.exp(-(V_a - V_b) / T)


def test_right_answers_pass_in_several_forms():
    assert homework.check_laplace_ratio(right).passed
    def by_eigenvalues(H_a, H_b, V_a, V_b, T):
        ka, kb = np.linalg.eigvalsh(H_a), np.linalg.eigvalsh(H_b)
        return np.prod(np.sqrt(2 * np.pi * T / ka)) * np.exp(-V_a / T) / (
            np.prod(np.sqrt(2 * np.pi * T / kb)) * np.exp(-V_b / T))
    assert homework.check_laplace_ratio(by_eigenvalues).passed
    assert homework.check_laplace_ratio(lambda *a: np.array([right(*a)])).passed


def det(H):
    return np.linalg.det(H)


WRONG = {
    "the ratio upside down": lambda Ha, Hb, Va, Vb, T: 1 / right(Ha, Hb, Va, Vb, T),
    "without the square root": lambda Ha, Hb, Va, Vb, T: det(Hb) / det(Ha) * np.exp(-(Va - Vb) / T),
    "the curvature ratio is inverted": lambda Ha, Hb, Va, Vb, T: np.sqrt(det(Ha) / det(Hb)) * np.exp(-(Va - Vb) / T),
    "the Boltzmann factor is missing": lambda Ha, Hb, Va, Vb, T: np.sqrt(det(Hb) / det(Ha)),
    "the Boltzmann factor has the wrong sign": lambda Ha, Hb, Va, Vb, T: np.sqrt(det(Hb) / det(Ha)) * np.exp(
        (Va - Vb) / T),
    "only the top eigenvalues": lambda Ha, Hb, Va, Vb, T: np.sqrt(
        np.linalg.eigvalsh(Hb)[-1] / np.linalg.eigvalsh(Ha)[-1]) * np.exp(-(Va - Vb) / T),
    "traces instead of determinants": lambda Ha, Hb, Va, Vb, T: np.sqrt(np.trace(Hb) / np.trace(Ha)) * np.exp(
        -(Va - Vb) / T),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_laplace_ratio(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch4_flat_minima import _cases, _mistakes, _reference

    for case in _cases():
        values = dict(_mistakes(*case), right=_reference(*case))
        names = list(values)
        for i, p in enumerate(names):
            for q in names[i + 1:]:
                assert not np.isclose(values[p], values[q], rtol=1e-6), (p, q)
