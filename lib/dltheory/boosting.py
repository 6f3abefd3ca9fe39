"""AdaBoost on decision stumps and the normalised margins of its vote (Schapire, Freund, Bartlett, Lee 1998).

After :math:`T` rounds AdaBoost classifies by the sign of a weighted vote of
base classifiers :math:`h_t : \\mathcal X \\to \\{-1, +1\\}` with weights
:math:`\\alpha_t > 0`. Its **normalised margin** on an example :math:`(x, y)`,
:math:`y \\in \\{-1, +1\\}`, is

.. math::

    \\operatorname{margin}_T(x, y) = \\frac{y \\sum_{t=1}^T \\alpha_t h_t(x)}{\\sum_{t=1}^T \\alpha_t}
    \\in [-1, 1],

positive exactly when the vote is right, and :math:`1` when every voter agrees
with the label. Schapire et al. bound the test error of any such vote by the
fraction of training margins below :math:`\\theta` plus a term in
:math:`\\sqrt{\\log|\\mathcal H| / (n\\theta^2)}` that does not grow with
:math:`T` (their Theorem 1); their Theorem 5 shows that AdaBoost drives that
fraction down as it runs.

The models are scikit-learn's ``AdaBoostClassifier`` with
``DecisionTreeClassifier(max_depth=1)`` (stumps). Current scikit-learn runs
SAMME (Zhu, Zou, Rosset, Hastie 2009) only (older versions default to SAMME.R,
and :func:`boosted_stumps` asks for SAMME there); for two classes SAMME *is* the
AdaBoost of Freund and Schapire (1997) with every :math:`\\alpha_t` doubled,
:math:`\\alpha_t = \\log((1 - \\epsilon_t)/\\epsilon_t)` instead of
:math:`\\tfrac12 \\log((1 - \\epsilon_t)/\\epsilon_t)`. The example weights it
produces are the same, and so are the normalised margins. Two traps, which
the functions here avoid and the tests check:

* for two classes, ``decision_function`` returns **twice** the normalised vote
  (it adds the score of the second class and minus that of the first), so
  ``y * decision_function(X)`` is twice the margin;
* ``estimator_weights_`` has ``n_estimators`` entries even when boosting
  stopped early (a perfect or a useless round); the rounds that ran are the
  first ``len(estimators_)``.

The target of the experiments, :class:`StumpVote`, is itself a weighted
majority of stumps on :math:`[0, 1]^d` (the deck's "weighted majority of 10
decision stumps"), with integer weights of odd total, so the vote is never
tied and every point has margin at least :math:`1/\\sum_j a_j` under it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ._checks import check_int, check_real, check_seed

__all__ = ["StumpVote", "random_stump_vote", "stump_majority", "boosted_stumps", "voting_weights", "base_votes",
           "sign_labels", "adaboost_margins", "staged_adaboost_margins", "zero_training_error_round"]


@dataclass(frozen=True)
class StumpVote:
    """A weighted majority of decision stumps on :math:`[0, 1]^d`.

    .. math::

        f(x) = \\frac{\\sum_j a_j s_j \\operatorname{sign}(x_{k_j} - \\tau_j)}{\\sum_j a_j},
        \\qquad \\operatorname{sign}(0) = -1,

    with features :math:`k_j`, thresholds :math:`\\tau_j`, orientations
    :math:`s_j = \\pm 1` and weights :math:`a_j > 0`; the label is
    :math:`\\operatorname{sign} f(x)`.
    """

    features: np.ndarray
    thresholds: np.ndarray
    signs: np.ndarray
    weights: np.ndarray
    dim: int

    def __call__(self, X) -> np.ndarray:
        """The vote :math:`f(x) \\in [-1, 1]` of every row of ``X`` (shape (n, d))."""
        X = _check_inputs(X, self.dim)
        votes = self.signs * np.where(X[:, self.features] > self.thresholds, 1.0, -1.0)
        return votes @ self.weights / self.weights.sum()

    def predict(self, X) -> np.ndarray:
        """Labels in {-1, +1}: the sign of the vote (a tie, impossible for odd integer weights, gives -1)."""
        return np.where(self(X) > 0, 1, -1)

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """The vote is constant on the cells of the thresholds' grid: one point per cell and the cells' volumes."""
        centres, lengths = [], []
        for k in range(self.dim):
            edges = np.unique(np.r_[0.0, self.thresholds[self.features == k], 1.0])
            centres.append((edges[:-1] + edges[1:]) / 2)
            lengths.append(np.diff(edges))
        points = np.array(list(itertools.product(*centres)), dtype=np.float64)
        volumes = np.array([np.prod(v) for v in itertools.product(*lengths)])
        return points, volumes

    def positive_fraction(self) -> float:
        """The exact probability of label +1 under the uniform distribution on :math:`[0, 1]^d`."""
        points, volumes = self.cells()
        return float(volumes @ (self(points) > 0))

    def margin(self) -> float:
        """:math:`\\min_x |f(x)|`, exactly, over the cells: the margin of the target in the hull of the stumps."""
        points, _ = self.cells()
        return float(np.abs(self(points)).min())


def _check_inputs(X, d: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a matrix (n examples x d features) with n >= 1, got shape {X.shape}")
    if d is not None and X.shape[1] != d:
        raise ValueError(f"X must have {d} columns (features), got {X.shape[1]}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or inf")
    return X


def random_stump_vote(d: int = 2, n_stumps: int = 10, *, balance: float = 0.3, seed: int = 0) -> StumpVote:
    """A random :class:`StumpVote` with a margin and both classes well represented.

    Stump :math:`j` reads feature :math:`j \\bmod d` (in a random order), with a
    threshold uniform in :math:`[0.1, 0.9]`, a random orientation and an integer
    weight in {1, 2, 3}; draws whose weights have an even total are rejected,
    so the vote is never tied and :math:`|f| \\ge 1/\\sum_j a_j` everywhere, and
    so are draws in which either class has probability below ``balance``
    (computed exactly over the cells of the thresholds' grid).
    """
    d = check_int(d, "d", min=1, max=8)
    n_stumps = check_int(n_stumps, "n_stumps", min=1, max=64)
    balance = check_real(balance, "balance", min=0.0, max=0.5, max_open=True)
    rng = np.random.default_rng(check_seed(seed))
    for _ in range(100_000):
        weights = rng.integers(1, 4, n_stumps).astype(np.float64)
        target = StumpVote(features=rng.permutation(np.arange(n_stumps) % d),
                           thresholds=rng.uniform(0.1, 0.9, n_stumps),
                           signs=rng.choice([-1.0, 1.0], n_stumps), weights=weights, dim=d)
        if weights.sum() % 2 == 1 and balance <= target.positive_fraction() <= 1.0 - balance:
            return target
    raise RuntimeError(f"no vote of {n_stumps} stumps in {d} dimensions with both classes above {balance} "
                       "was found in 100000 draws; lower balance")


def stump_majority(n: int, target: StumpVote, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform on :math:`[0, 1]^d` labelled by ``target``: ``X`` (n, d) float64, ``y`` int in {-1, +1}."""
    n = check_int(n, "n", min=1)
    if not isinstance(target, StumpVote):
        raise TypeError(f"target must be a StumpVote (see random_stump_vote), got {type(target).__name__}")
    X = np.random.default_rng(check_seed(seed)).uniform(size=(n, target.dim))
    return X, target.predict(X)


def boosted_stumps(X, y, rounds: int, *, seed: int = 0):
    """``AdaBoostClassifier`` on decision stumps, fitted for ``rounds`` rounds (learning rate 1).

    ``seed`` is the ``random_state`` of the booster (it breaks ties between
    equally good stumps), so the fit is deterministic.
    """
    from sklearn.ensemble import AdaBoostClassifier
    from sklearn.tree import DecisionTreeClassifier

    X = _check_inputs(X)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must hold one label per row of X, shape ({X.shape[0]},), got {y.shape}")
    rounds = check_int(rounds, "rounds", min=1)
    options = {}
    if AdaBoostClassifier().get_params().get("algorithm") == "SAMME.R":  # scikit-learn < 1.6: ask for SAMME
        options["algorithm"] = "SAMME"
    model = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=rounds, learning_rate=1.0,
                               random_state=check_seed(seed), **options)
    return model.fit(X, y)


def _check_booster(model) -> int:
    """The number of rounds that ran, after checking that ``model`` is a fitted two-class booster."""
    for attribute in ("estimators_", "estimator_weights_", "classes_"):
        if not hasattr(model, attribute):
            raise TypeError(f"model must be a fitted AdaBoostClassifier (it has no {attribute}); "
                            "fit it first, e.g. with boosted_stumps")
    if getattr(model, "algorithm", None) == "SAMME.R":
        raise ValueError("SAMME.R votes with class probabilities, not with weighted labels; the normalised "
                         "margin here is that of (discrete) SAMME: fit with algorithm='SAMME'")
    if len(model.classes_) != 2:
        raise ValueError(f"the normalised margin y f(x) needs two classes, the model has {len(model.classes_)}")
    if len(model.estimators_) == 0:
        raise ValueError("the model has no fitted rounds")
    return len(model.estimators_)


def voting_weights(model) -> np.ndarray:
    """The weights :math:`\\alpha_1, \\dots, \\alpha_T` of the rounds that ran (``estimator_weights_`` cut to ``T``)."""
    T = _check_booster(model)
    return np.asarray(model.estimator_weights_[:T], dtype=np.float64)


def sign_labels(model, y) -> np.ndarray:
    """Labels as :math:`\\pm 1`: :math:`+1` for ``model.classes_[1]``, :math:`-1` for ``classes_[0]``."""
    _check_booster(model)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] == 0:
        raise ValueError(f"y must be a vector of labels (n,), got shape {y.shape}")
    unknown = ~np.isin(y, model.classes_)
    if unknown.any():
        raise ValueError(f"y holds labels the model was not trained on ({y[unknown][0]!r}); "
                         f"its classes are {list(model.classes_)}")
    return np.where(y == model.classes_[1], 1, -1)


def base_votes(model, X) -> np.ndarray:
    """:math:`h_t(x_i) \\in \\{-1, +1\\}` for every round ``t`` (rows) and example ``i`` (columns), int8."""
    T = _check_booster(model)
    X = _check_inputs(X, model.n_features_in_)
    positive = model.classes_[1]
    return np.stack([np.where(model.estimators_[t].predict(X) == positive, 1, -1).astype(np.int8)
                     for t in range(T)])


def _rounds(rounds: Iterable[int] | None, T: int) -> list[int]:
    if rounds is None:
        return list(range(1, T + 1))
    out = [check_int(t, "round", min=1, max=T, kind=f"a round between 1 and {T}") for t in rounds]
    if not out:
        raise ValueError("rounds is empty")
    return out


def staged_adaboost_margins(model, X, y, rounds: Iterable[int] | None = None) -> np.ndarray:
    """The normalised margins after each of ``rounds`` (default: every round), shape (len(rounds), n).

    Row ``r`` holds :math:`y_i \\sum_{t \\le T_r} \\alpha_t h_t(x_i) / \\sum_{t \\le T_r}
    \\alpha_t` with :math:`T_r` = ``rounds[r]`` (a number of rounds, 1 to
    ``len(model.estimators_)``). Labels may be any two labels the model was
    fitted on. A margin :math:`\\le 0` is an error (a tie counts as one).
    """
    T = _check_booster(model)
    wanted = _rounds(rounds, T)
    alpha = voting_weights(model)
    X = _check_inputs(X, model.n_features_in_)
    labels = sign_labels(model, y)
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {labels.shape[0]}")
    positive = model.classes_[1]
    vote = np.zeros(X.shape[0])
    total = 0.0
    at: dict[int, np.ndarray] = {}
    needed = set(wanted)
    for t in range(max(wanted)):
        vote += alpha[t] * np.where(model.estimators_[t].predict(X) == positive, 1.0, -1.0)
        total += alpha[t]
        if t + 1 in needed:
            at[t + 1] = labels * vote / total
    return np.stack([at[t] for t in wanted])


def adaboost_margins(model, X, y) -> np.ndarray:
    """The normalised margins :math:`y \\sum_t \\alpha_t h_t(x) / \\sum_t \\alpha_t` of the whole vote, shape (n,).

    Equal to ``sign_labels(model, y) * model.decision_function(X) / 2`` for
    scikit-learn's two-class ``AdaBoostClassifier`` (see the module notes).
    """
    return staged_adaboost_margins(model, X, y, [_check_booster(model)])[0]


def zero_training_error_round(staged: np.ndarray) -> int | None:
    """The first number of rounds at which every margin is positive, from :func:`staged_adaboost_margins`
    over *all* rounds (row ``t - 1`` is round ``t``); ``None`` if none is."""
    staged = np.asarray(staged, dtype=np.float64)
    if staged.ndim != 2 or staged.size == 0:
        raise ValueError(f"staged must be the (rounds, n) margins of every round, got shape {staged.shape}")
    separated = np.flatnonzero(staged.min(axis=1) > 0)
    return None if separated.size == 0 else int(separated[0]) + 1
