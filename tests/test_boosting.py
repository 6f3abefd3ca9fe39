"""dltheory.boosting against hand computations: stump votes by hand and by Monte Carlo, AdaBoost
margins recomputed from the fitted trees' own split features, thresholds and leaf values (not
through scikit-learn's predict), scikit-learn's decision functions (twice the normalised vote),
and clear errors."""

import numpy as np
import pytest
from sklearn.ensemble import AdaBoostClassifier
from sklearn.tree import DecisionTreeClassifier

from dltheory import boosting


def _target():
    # f(x) = (2 sign(x1 - 0.5) + 1 * (-sign(x2 - 0.3)) + 2 sign(x2 - 0.7)) / 5
    return boosting.StumpVote(features=np.array([0, 1, 1]), thresholds=np.array([0.5, 0.3, 0.7]),
                              signs=np.array([1.0, -1.0, 1.0]), weights=np.array([2.0, 1.0, 2.0]), dim=2)


def test_stump_vote_by_hand():
    target = _target()
    X = np.array([[0.9, 0.1], [0.9, 0.5], [0.2, 0.9], [0.2, 0.5], [0.5, 0.3]])
    # votes: (2 + 1 - 2)/5, (2 - 1 - 2)/5, (-2 - 1 + 2)/5, (-2 - 1 - 2)/5, (-2 + 1 - 2)/5 (ties go to -1)
    np.testing.assert_allclose(target(X), [0.2, -0.2, -0.2, -1.0, -0.6])
    np.testing.assert_array_equal(target.predict(X), [1, -1, -1, -1, -1])


def test_cells_give_the_exact_class_balance_and_margin():
    target = _target()
    # +1 exactly where x1 > 0.5 and x2 <= 0.3 (vote 0.2) or x1 > 0.5 and x2 > 0.7 (vote 0.6)
    assert target.positive_fraction() == pytest.approx(0.5 * 0.3 + 0.5 * 0.3)
    assert target.margin() == pytest.approx(0.2)
    X = np.random.default_rng(0).uniform(size=(400_000, 2))
    assert np.mean(target(X) > 0) == pytest.approx(target.positive_fraction(), abs=0.003)
    assert np.abs(target(X)).min() == pytest.approx(target.margin())


@pytest.mark.parametrize("d", [1, 2, 3])
def test_random_stump_votes_have_odd_weights_a_margin_and_both_classes(d):
    target = boosting.random_stump_vote(d, 10, balance=0.3, seed=d)
    assert target.weights.sum() % 2 == 1 and set(target.weights) <= {1.0, 2.0, 3.0}
    assert np.all((0.1 <= target.thresholds) & (target.thresholds <= 0.9))
    assert sorted(np.bincount(target.features, minlength=d)) == sorted(np.bincount(np.arange(10) % d))
    assert 0.3 <= target.positive_fraction() <= 0.7
    assert target.margin() >= 1.0 / target.weights.sum() - 1e-12
    again = boosting.random_stump_vote(d, 10, balance=0.3, seed=d)
    np.testing.assert_array_equal(again.thresholds, target.thresholds)


def test_stump_majority_is_labelled_by_its_target_and_seeded():
    target = boosting.random_stump_vote(seed=3)
    X, y = boosting.stump_majority(500, target, seed=4)
    assert X.shape == (500, 2) and X.dtype == np.float64 and X.min() >= 0 and X.max() <= 1
    np.testing.assert_array_equal(y, np.sign(target(X)).astype(int))
    X2, y2 = boosting.stump_majority(500, target, seed=4)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, boosting.stump_majority(500, target, seed=5)[0])


def _hand_votes(model, X):
    """h_t(x) in {-1, +1} from each stump's root split and leaf values, without calling predict."""
    rows = []
    for tree in model.estimators_:
        t = tree.tree_
        left, right = t.children_left[0], t.children_right[0]
        if left == -1:  # a stump that did not split: one leaf
            cls = np.full(len(X), np.argmax(t.value[0]))
        else:
            cls = np.where(X[:, t.feature[0]] <= t.threshold[0], np.argmax(t.value[left]),
                           np.argmax(t.value[right]))
        rows.append(np.where(cls == 1, 1.0, -1.0))  # class index 1 is classes_[1]
    return np.array(rows)


def _hand_margins(model, X, y_pm):
    T = len(model.estimators_)
    alpha = model.estimator_weights_[:T]
    H = _hand_votes(model, X)
    return y_pm * np.cumsum(alpha[:, None] * H, axis=0) / np.cumsum(alpha)[:, None]


@pytest.fixture(scope="module")
def fitted():
    target = boosting.random_stump_vote(seed=7)
    X, y = boosting.stump_majority(150, target, seed=8)
    Xt, yt = boosting.stump_majority(300, target, seed=9)
    return boosting.boosted_stumps(X, y, 60, seed=0), X, y, Xt, yt


@pytest.mark.parametrize("encoding", ["pm1", "01", "strings"])
def test_margins_match_a_hand_computation_from_the_trees(encoding):
    target = boosting.random_stump_vote(seed=11)
    X, y = boosting.stump_majority(120, target, seed=12)
    labels = {"pm1": y, "01": (y + 1) // 2, "strings": np.where(y > 0, "yes", "no")}[encoding]
    model = boosting.boosted_stumps(X, labels, 40, seed=1)
    y_pm = boosting.sign_labels(model, labels)
    positive = model.classes_[1]
    np.testing.assert_array_equal(y_pm, np.where(labels == positive, 1, -1))
    expected = _hand_margins(model, X, y_pm)
    np.testing.assert_allclose(boosting.staged_adaboost_margins(model, X, labels), expected, rtol=1e-12)
    np.testing.assert_allclose(boosting.adaboost_margins(model, X, labels), expected[-1], rtol=1e-12)
    np.testing.assert_allclose(boosting.staged_adaboost_margins(model, X, labels, [40, 3, 17]),
                               expected[[39, 2, 16]], rtol=1e-12)
    np.testing.assert_array_equal(boosting.base_votes(model, X), _hand_votes(model, X).astype(np.int8))


def test_scikit_learn_decision_function_is_twice_the_normalised_vote(fitted):
    model, X, y, Xt, yt = fitted
    y_pm = boosting.sign_labels(model, yt)
    np.testing.assert_allclose(boosting.adaboost_margins(model, Xt, yt), y_pm * model.decision_function(Xt) / 2,
                               rtol=1e-12, atol=1e-15)
    staged = np.array(list(model.staged_decision_function(Xt)))
    np.testing.assert_allclose(boosting.staged_adaboost_margins(model, Xt, yt), y_pm * staged / 2,
                               rtol=1e-12, atol=1e-15)


def test_margins_are_bounded_and_their_sign_is_the_prediction(fitted):
    model, X, y, Xt, yt = fitted
    m = boosting.adaboost_margins(model, Xt, yt)
    assert np.all(np.abs(m) <= 1 + 1e-12)
    np.testing.assert_array_equal(m > 0, model.predict(Xt) == yt)


def test_samme_weights_are_twice_freund_and_schapire(fitted):
    model = fitted[0]
    T = len(model.estimators_)
    eps = model.estimator_errors_[:T]
    np.testing.assert_allclose(boosting.voting_weights(model), np.log((1 - eps) / eps), rtol=1e-12)


def test_early_termination_uses_only_the_rounds_that_ran():
    X = np.array([[0.1, 0.5], [0.2, 0.1], [0.8, 0.3], [0.9, 0.9]])
    y = np.array([-1, -1, 1, 1])  # one stump is perfect: boosting stops after one round
    model = boosting.boosted_stumps(X, y, 50)
    assert len(model.estimators_) == 1 and len(model.estimator_weights_) == 50
    np.testing.assert_array_equal(boosting.voting_weights(model), [1.0])
    np.testing.assert_allclose(boosting.adaboost_margins(model, X, y), np.ones(4))


def test_zero_training_error_round():
    staged = np.array([[-0.1, 0.5], [0.2, 0.0], [0.1, 0.3], [0.2, 0.4]])
    assert boosting.zero_training_error_round(staged) == 3
    assert boosting.zero_training_error_round(-np.abs(staged)) is None
    with pytest.raises(ValueError, match="every round"):
        boosting.zero_training_error_round(np.array([0.1, 0.2]))


def test_clear_errors(fitted):
    model, X, y, Xt, yt = fitted
    with pytest.raises(TypeError, match="fitted AdaBoostClassifier"):
        boosting.adaboost_margins(AdaBoostClassifier(), X, y)
    three = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=3).fit(X, np.arange(150) % 3)
    with pytest.raises(ValueError, match="two classes"):
        boosting.adaboost_margins(three, X, np.arange(150) % 3)
    with pytest.raises(ValueError, match="not trained on"):
        boosting.adaboost_margins(model, X, (y + 1) // 2)
    with pytest.raises(ValueError, match="2 columns"):
        boosting.adaboost_margins(model, X[:, :1], y)
    with pytest.raises(ValueError, match="NaN"):
        boosting.adaboost_margins(model, np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="150 examples but y has 149"):
        boosting.adaboost_margins(model, X, y[:-1])
    with pytest.raises(ValueError, match="a round between 1 and 60"):
        boosting.staged_adaboost_margins(model, X, y, [0])
    with pytest.raises(ValueError, match="a round between 1 and 60"):
        boosting.staged_adaboost_margins(model, X, y, [61])
    with pytest.raises(ValueError, match="rounds is empty"):
        boosting.staged_adaboost_margins(model, X, y, [])
    with pytest.raises(TypeError, match="StumpVote"):
        boosting.stump_majority(10, "target")
    with pytest.raises(ValueError, match="one label per row"):
        boosting.boosted_stumps(X, y[:3], 5)
    with pytest.raises(ValueError, match="balance"):
        boosting.random_stump_vote(balance=0.5)
