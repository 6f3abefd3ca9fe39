"""Tests of dltheory.stats against brute force: enumeration of permutations and
of binomial probabilities with math.comb, and hand-made training histories."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from dltheory import stats
from dltheory.train import History

pytestmark = pytest.mark.usefixtures("one_thread")

def brute_relabeling(N: np.ndarray) -> np.ndarray:
    """The distribution of sum_j N[sigma(j), j] by enumerating every permutation."""
    K, n = N.shape[0], int(N.sum())
    counts = np.zeros(n + 1)
    for sigma in itertools.permutations(range(K)):
        counts[sum(N[sigma[j], j] for j in range(K))] += 1
    return counts / math.factorial(K)


def brute_interval(P: np.ndarray, level: float) -> tuple[int, int]:
    """Smallest k with CDF >= alpha/2 and smallest with CDF >= 1 - alpha/2, by scanning."""
    alpha, cdf = 1 - level, np.cumsum(P)
    low = next(k for k in range(len(P)) if cdf[k] >= alpha / 2 - 1e-12)
    high = next(k for k in range(len(P)) if cdf[k] >= 1 - alpha / 2 - 1e-12)
    return low, high


def random_confusion(K: int, seed: int, high: int = 9) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size=(K, K))


# --------------------------------------------------------------------------- time_to_fit


def history(accuracies, every=10):
    return History([{"step": every * i, "train_accuracy": a} for i, a in enumerate(accuracies)])


def test_time_to_fit_is_the_first_recorded_step_at_the_threshold():
    h = history([0.1, 0.5, 0.99, 1.0, 0.995, 1.0])
    assert stats.time_to_fit(h) == 30
    assert stats.time_to_fit(h, threshold=0.99) == 20
    assert stats.time_to_fit(h, threshold=0.0) == 0


def test_time_to_fit_is_none_when_never_reached_and_reads_other_columns():
    assert stats.time_to_fit(history([0.1, 0.9, 0.999])) is None
    h = History([{"step": s, "eval_accuracy": a} for s, a in [(0, 0.1), (5, 0.7), (9, 0.8)]])
    assert stats.time_to_fit(h, 0.75, column="eval_accuracy") == 9
    with pytest.raises(KeyError):
        stats.time_to_fit(h)


def test_time_to_fit_on_a_real_run():
    from dltheory import models, train

    g = torch.Generator().manual_seed(0)
    X = torch.randn(12, 5, generator=g)
    y = torch.arange(12) % 3
    model = models.mlp([5, 32, 3], seed=0)
    h = train.fit(model, X, y, loss="ce", optimizer="gd", lr=1.0, steps=100, record_every=5, progress=False)
    t = stats.time_to_fit(h)
    assert t is not None and h["train_accuracy"][list(h["step"]).index(t)] == 1.0
    assert all(a < 1.0 for s, a in zip(h["step"], h["train_accuracy"]) if s < t)


# --------------------------------------------------------------------------- confusion_matrix


def test_confusion_matrix_counts_pairs():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    N = stats.confusion_matrix(labels, preds, 3)
    expected = np.zeros((3, 3), int)
    for t, p in zip(labels.tolist(), preds.tolist()):
        expected[t, p] += 1
    assert N.dtype == np.int64 and np.array_equal(N, expected)
    assert np.trace(N) == int((labels == preds).sum())


def test_confusion_matrix_refuses_bad_input():
    with pytest.raises(ValueError):
        stats.confusion_matrix(np.array([0, 1]), np.array([0]), 2)
    with pytest.raises(ValueError):
        stats.confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError):
        stats.confusion_matrix(np.array([0, 1]), np.array([0, -1]), 3)
    with pytest.raises(ValueError, match="labels must be integers"):
        stats.confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 2)
    with pytest.raises(TypeError, match="num_classes must be a positive integer"):
        stats.confusion_matrix(np.array([0, 1]), np.array([0, 1]), 2.0)
    # lists are converted
    assert np.array_equal(stats.confusion_matrix([0, 1, 1], [1, 1, 0], 2), [[0, 1], [1, 1]])


# --------------------------------------------------------------------------- chance_interval


@pytest.mark.parametrize("n,p,level", [(2000, 0.1, 0.99), (50, 0.1, 0.99), (30, 0.5, 0.95), (7, 0.02, 0.9)])
def test_chance_interval_is_the_exact_binomial_quantile_pair(n, p, level):
    # in logarithms, so that large n neither overflows nor underflows (no scipy involved)
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
               + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    pmf = np.exp(log_pmf)
    low, high = brute_interval(pmf, level)
    assert stats.chance_interval(n, p, level) == pytest.approx((low / n, high / n), abs=0)
    assert pmf[low : high + 1].sum() >= level  # the coverage it promises


def test_chance_interval_beats_the_normal_approximation_for_small_n():
    n, p, level = 50, 0.1, 0.99
    low, high = stats.chance_interval(n, p, level)
    z = scipy_stats.norm.ppf(1 - (1 - level) / 2)
    normal = (p - z * math.sqrt(p * (1 - p) / n), p + z * math.sqrt(p * (1 - p) / n))
    assert normal[0] < 0 <= low  # the normal interval leaves [0, 1] ...
    # ... and its upper end is too low: more than alpha/2 of the mass lies above it
    assert scipy_stats.binom.sf(math.floor(normal[1] * n), n, p) > (1 - level) / 2
    assert scipy_stats.binom.sf(round(high * n), n, p) <= (1 - level) / 2


def test_chance_interval_refuses_bad_input():
    # out of range: ValueError; of the wrong type (a fractional count, a bool, a string): TypeError
    for args, name in [((0, 0.1), "n"), ((10, 1.5), "p"), ((10, -0.1), "p"), ((10, 0.1, 1.0), "level"),
                       ((10, 0.1, 0), "level")]:
        with pytest.raises(ValueError, match=f"^{name} must be"):
            stats.chance_interval(*args)
    for args, name in [((10.5, 0.1), "n"), ((True, 0.1), "n"), ((10, "0.1"), "p"), ((10, 0.1, None), "level")]:
        with pytest.raises(TypeError, match=f"^{name} must be"):
            stats.chance_interval(*args)


# --------------------------------------------------------------------------- relabeling


@pytest.mark.parametrize("K,seed", [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5)])
def test_relabeling_distribution_matches_enumeration(K, seed):
    N = random_confusion(K, seed)
    P = stats.relabeling_distribution(N)
    assert P.shape == (int(N.sum()) + 1,)
    np.testing.assert_allclose(P, brute_relabeling(N), rtol=0, atol=1e-15)


def test_relabeling_mean_is_exactly_n_over_k():
    for K, seed in [(3, 0), (5, 1), (7, 2)]:
        N = random_confusion(K, seed, high=30)
        P = stats.relabeling_distribution(N)
        n = int(N.sum())
        assert P.sum() == pytest.approx(1.0, abs=1e-12)
        assert (np.arange(n + 1) * P).sum() == pytest.approx(n / K, rel=1e-12)


def test_relabeling_of_a_perfect_classifier_counts_fixed_points():
    # m examples per class, all classified correctly: sigma keeps m * (#fixed points) right.
    K, m = 5, 3
    P = stats.relabeling_distribution(m * np.eye(K, dtype=int))
    for f in range(K + 1):
        fixed = math.comb(K, f) * round(math.factorial(K - f) * sum((-1) ** i / math.factorial(i)
                                                                    for i in range(K - f + 1)))
        assert P[m * f] == pytest.approx(fixed / math.factorial(K))


@pytest.mark.parametrize("level", [0.5, 0.9, 0.99])
def test_relabeling_interval_matches_enumeration(level):
    N = random_confusion(6, 7, high=20)
    n = int(N.sum())
    low, high = brute_interval(brute_relabeling(N), level)
    assert stats.relabeling_interval(N, level) == (low / n, high / n)


def test_relabeling_interval_is_wider_when_guesses_are_lumped():
    # Both classifiers guess at chance on average; the lumped one gives whole classes one label.
    K, m = 6, 60
    spread = np.full((K, K), m // K)
    lumped = m * np.roll(np.eye(K, dtype=int), 1, axis=1)
    w_spread = np.subtract(*stats.relabeling_interval(spread, 0.9)[::-1])
    w_lumped = np.subtract(*stats.relabeling_interval(lumped, 0.9)[::-1])
    assert w_spread == 0 and w_lumped > 0.3


def test_relabeling_accepts_tensors_and_float_counts_and_refuses_bad_input():
    N = random_confusion(4, 0)
    assert np.array_equal(stats.relabeling_distribution(torch.as_tensor(N)), stats.relabeling_distribution(N))
    assert np.array_equal(stats.relabeling_distribution(N.astype(float)), stats.relabeling_distribution(N))
    for bad in [np.ones((2, 3)), -np.ones((2, 2)), np.full((2, 2), 0.5), np.ones((13, 13), int)]:
        with pytest.raises(ValueError):
            stats.relabeling_distribution(bad)
    with pytest.raises(ValueError):
        stats.relabeling_interval(np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="level"):
        stats.relabeling_interval(N, level=1.5)
    with pytest.raises(TypeError, match="level"):
        stats.relabeling_interval(N, level="0.9")
