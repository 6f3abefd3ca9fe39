"""The checker of the infinite-width LP exercise: right answers pass, stubs get a hint, mistakes are named."""

import numpy as np

from dltheory import homework
from dltheory.homework.ch3_regularized_margins import _cases, _nonnegative, _reference


def right(Phi, y):
    from scipy.optimize import linprog

    n, K = Phi.shape
    c = np.zeros(2 * K + 1)
    c[-1] = -1.0
    signed = y[:, None] * Phi
    A = np.vstack([np.hstack([-signed, signed, np.ones((n, 1))]), np.concatenate([np.ones(2 * K), [0.0]])])
    res = linprog(c, A_ub=A, b_ub=np.concatenate([np.zeros(n), [1.0]]),
                  bounds=[(0, None)] * (2 * K) + [(None, None)], method="highs")
    return -res.fun


def test_right_answer_passes_and_reference_is_independent():
    assert homework.check_l1_svm_margin(right).passed
    for Phi, y in _cases():
        assert right(Phi, y) > 0  # the cases are separable by the dictionary
        assert np.isclose(right(Phi, y), _reference(Phi, y))


def test_stub_gets_the_hint():
    def stub(Phi, y):
        raise NotImplementedError

    text = str(homework.check_l1_svm_margin(stub))
    assert "not implemented yet" in text and "linprog" in text


def test_typical_mistakes_are_named():
    assert "half" in str(homework.check_l1_svm_margin(lambda P, y: right(P, y) / 2))
    assert "minimises" in str(homework.check_l1_svm_margin(lambda P, y: -right(P, y)))
    assert "alpha >= 0" in str(homework.check_l1_svm_margin(_nonnegative))
