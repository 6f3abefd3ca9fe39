"""The checker of the AdaBoost-margins exercise: right answers pass (written from the fitted trees'
attributes, not from the library), a stub gets its hint, None or ... a clear message, and the
typical mistakes are named."""

import numpy as np
import pytest

from dltheory import homework


def _votes(model, X):
    return np.array([np.where(tree.predict(X) == model.classes_[1], 1.0, -1.0) for tree in model.estimators_])


def right(model, X, y):
    alpha = model.estimator_weights_[: len(model.estimators_)]
    y_pm = np.where(y == model.classes_[1], 1.0, -1.0)
    return y_pm * (alpha @ _votes(model, X)) / alpha.sum()


def right_from_decision_function(model, X, y):
    return np.where(y == model.classes_[1], 1.0, -1.0) * model.decision_function(X) / 2


def check(fn):
    feedback = homework.check_adaboost_margins(fn)
    assert "Traceback" not in str(feedback)
    return feedback


@pytest.mark.parametrize("fn", [right, right_from_decision_function, lambda m, X, y: list(right(m, X, y))])
def test_right_answers_pass(fn):
    feedback = check(fn)
    assert feedback.passed and str(feedback).startswith("Correct."), str(feedback)


def test_stub_gets_the_hint_and_none_or_ellipsis_a_clear_message():
    def stub(model, X, y):
        raise NotImplementedError("Exercise ex-adaboost-margins: write this function")

    text = str(check(stub))
    assert "not implemented yet" in text and "estimator_weights_" in text
    assert "forget to `return`" in str(check(lambda m, X, y: None))
    assert "still `...`" in str(check(lambda m, X, y: ...))


def _alpha(m):
    return m.estimator_weights_[: len(m.estimators_)]


def _pm(m, y):
    return np.where(y == m.classes_[1], 1.0, -1.0)


def _vote(m, X):
    return _alpha(m) @ _votes(m, X) / _alpha(m).sum()


WRONG = {
    "twice the normalised vote": lambda m, X, y: _pm(m, y) * m.decision_function(X),
    "was not normalised": lambda m, X, y: _pm(m, y) * (_alpha(m) @ _votes(m, X)),
    "labels in {0, 1}": lambda m, X, y: ((y == m.classes_[1]) * 1.0) * _vote(m, X),
    "stump predictions in {0, 1}": lambda m, X, y: _pm(m, y) * (_alpha(m) @ ((_votes(m, X) + 1) / 2))
    / _alpha(m).sum(),
    "number of rounds T": lambda m, X, y: _pm(m, y) * (_alpha(m) @ _votes(m, X)) / len(_alpha(m)),
    "unweighted vote": lambda m, X, y: _pm(m, y) * _votes(m, X).mean(axis=0),
    "without the labels": lambda m, X, y: _vote(m, X),
    "the sign of the vote": lambda m, X, y: _pm(m, y) * np.sign(_vote(m, X)),
    "classes swapped": lambda m, X, y: -_pm(m, y) * _vote(m, X),
    "Euclidean norm of alpha": lambda m, X, y: _pm(m, y) * (_alpha(m) @ _votes(m, X)) / np.linalg.norm(_alpha(m)),
    "every label mapped to -1": lambda m, X, y: np.where(y == 1, 1.0, -1.0) * _vote(m, X)
    if set(np.unique(y)) != {3, 7} else -_vote(m, X),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = check(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)


def test_the_minimum_alone_and_a_crash_are_explained():
    text = str(check(lambda m, X, y: right(m, X, y).min()))
    assert "shape ()" in text and "(25,)" in text
    text = str(check(lambda m, X, y: m.estimator_weights_ @ X))
    assert "raised ValueError" in text and "test case 1" in text
