"""The checker of the SGLD PAC-Bayes term exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest

from dltheory import bounds, homework


def right(etas, g2, lam):
    T = np.cumsum(etas)
    return float(np.sum(np.asarray(etas) * np.exp(-lam * (T[-1] - T) / 2) * np.asarray(g2)))


def test_right_answers_pass_in_several_forms():
    assert homework.check_pac_bayes_term(right).passed
    assert homework.check_pac_bayes_term(bounds.sgld_pac_bayes_term).passed

    def recursive(etas, g2, lam):
        s = 0.0
        for eta, g in zip(etas, g2):
            s = np.exp(-lam * eta / 2) * s + eta * g
        return s
    assert homework.check_pac_bayes_term(recursive).passed


def _with_weights(weight):
    def wrong(etas, g2, lam):
        eta, T = np.asarray(etas), np.cumsum(etas)
        return float(np.sum(weight(eta, T, lam) * np.asarray(g2)))
    return wrong


WRONG = {
    "the factor 1/2 in the exponent is missing": _with_weights(lambda e, T, lam: e * np.exp(-lam * (T[-1] - T))),
    "no forgetting": _with_weights(lambda e, T, lam: e),
    "the damping runs the wrong way": _with_weights(lambda e, T, lam: e * np.exp(-lam * T / 2)),
    "T_k should include step k itself": _with_weights(lambda e, T, lam: e * np.exp(-lam * (T[-1] - T + e) / 2)),
    "the step size eta_k multiplies each term": _with_weights(lambda e, T, lam: np.exp(-lam * (T[-1] - T) / 2)),
    "not a number of steps": _with_weights(
        lambda e, T, lam: e * np.exp(-lam * (len(e) - np.arange(1, len(e) + 1)) / 2)),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_pac_bayes_term(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch5_noisy_gradients import _cases, _mistakes, _reference

    args = _cases()[1]
    values = list(_mistakes(*args).values()) + [_reference(*args)]
    assert len({round(v, 9) for v in values}) == len(values)
