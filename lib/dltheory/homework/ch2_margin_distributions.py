"""Checker of chapter 2's exercise on the normalised margins of AdaBoost, read from ``estimator_weights_``."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np

from .. import boosting
from .core import Feedback, check_function

__all__ = ["check_adaboost_margins"]

HINT = ("turn the labels and every stump's predictions into +1 for model.classes_[1] and -1 for "
        "model.classes_[0]; with alpha = model.estimator_weights_[:len(model.estimators_)], return "
        "y * (alpha @ H) / alpha.sum(), one margin per example.")


@cache
def _cases() -> tuple[tuple, ...]:
    """Boosters with labels in {-1, +1}, in {0, 1} and in {3, 7}, one of them stopped early."""
    cases = []
    for k, (encode, rounds) in enumerate([(lambda y: y, 30), (lambda y: (y + 1) // 2, 25),
                                          (lambda y: np.where(y > 0, 7, 3), 40)]):
        target = boosting.random_stump_vote(seed=100 + k)
        X, y = boosting.stump_majority(60, target, seed=200 + k)
        labels = encode(y)
        model = boosting.boosted_stumps(X, labels, rounds, seed=k)
        X_new, y_new = boosting.stump_majority(25, target, seed=300 + k)
        y_new = encode(y_new)
        y_new[:3] = labels[:3][::-1]  # a few wrong votes, so that signs matter
        cases.append((model, X_new, y_new))
    X = np.array([[0.1, 0.5], [0.2, 0.1], [0.8, 0.3], [0.9, 0.9], [0.7, 0.2]])
    y = np.array([0, 0, 1, 1, 1])  # one stump fits: boosting stops after one of its 10 rounds
    cases.append((boosting.boosted_stumps(X, y, 10), X, y[::-1].copy()))
    return tuple(cases)


def _parts(model, X, y):
    alpha = boosting.voting_weights(model)
    H = boosting.base_votes(model, X).astype(np.float64)
    y_pm = boosting.sign_labels(model, y).astype(np.float64)
    return alpha, H, y_pm


def _reference(model, X, y) -> np.ndarray:
    return boosting.adaboost_margins(model, X, y)


def _mistakes(model, X, y) -> dict[str, np.ndarray]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    alpha, H, y_pm = _parts(model, X, y)
    vote = alpha @ H / alpha.sum()
    y01, H01 = (y_pm + 1) / 2, (H + 1) / 2
    T = len(alpha)
    return {
        "y * decision_function(X): for two classes scikit-learn's decision_function is twice the normalised "
        "vote (it adds the score of classes_[1] and minus that of classes_[0]); divide by 2, or build the vote "
        "from estimator_weights_": y_pm * 2 * vote,
        "the margin was not normalised: divide y * sum_t alpha_t h_t(x) by sum_t alpha_t": y_pm * (alpha @ H),
        "labels in {0, 1}: the margin needs y in {-1, +1} (2 * y - 1 for 0/1 labels; in general +1 for "
        "model.classes_[1])": y01 * vote,
        "stump predictions in {0, 1}: map each h_t(x) to -1 / +1 before weighting it": y_pm * (alpha @ H01)
        / alpha.sum(),
        "both labels and predictions in {0, 1}: map both to -1 / +1": y01 * (alpha @ H01) / alpha.sum(),
        "division by the number of rounds T instead of by sum_t alpha_t": y_pm * (alpha @ H) / T,
        "an unweighted vote: weight each stump by its alpha_t": y_pm * H.mean(axis=0),
        "the vote without the labels: the margin is y times the vote": vote,
        "the sign of the vote, not the vote: keep the weighted average, sign(f) only says which class": y_pm
        * np.sign(vote),
        "every label mapped to -1 (compared with 1?): the classes here are model.classes_, +1 for "
        "classes_[1]": -vote,
        "the classes swapped: +1 stands for model.classes_[1], -1 for model.classes_[0]": -y_pm * vote,
        "division by the Euclidean norm of alpha: the normalisation is the sum of the weights": y_pm
        * (alpha @ H) / np.linalg.norm(alpha),
    }


def check_adaboost_margins(fn: Callable) -> Feedback:
    """Check an implementation of ``adaboost_margins(model, X, y)``.

    The answer should be the normalised margins
    :math:`y_i \\sum_t \\alpha_t h_t(x_i) / \\sum_t \\alpha_t` of a fitted
    two-class ``AdaBoostClassifier`` on ``(X, y)``, one per example, with
    :math:`y_i` and :math:`h_t(x_i)` written as :math:`\\pm 1` (:math:`+1` for
    ``model.classes_[1]``). The reference is :func:`dltheory.boosting.adaboost_margins`.
    The test boosters have labels in {-1, +1}, in {0, 1} and in {3, 7}, and one
    of them stopped after its first round (``estimator_weights_`` then ends in
    zeros), so that the typical mistakes give different numbers and are named.
    """
    return check_function(fn, _reference, _cases(), name="adaboost_margins", hint=HINT, mistakes=_mistakes)
