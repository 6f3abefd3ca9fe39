"""The checker of the chance-interval exercise: a right answer passes, a stub gets its hint,
and the typical mistakes get their own explanation, never a traceback."""

import math

import numpy as np
from scipy import stats

from dltheory import homework
from dltheory.stats import chance_interval


def by_hand(n, p, level=0.99):
    """A right answer from the binomial CDF, as the exercise asks."""
    alpha = 1 - level
    cdf = np.cumsum([math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)])
    low = int(np.searchsorted(cdf, alpha / 2 - 1e-12))
    high = int(np.searchsorted(cdf, 1 - alpha / 2 - 1e-12))
    return low / n, high / n


def z(level):
    return stats.norm.ppf(1 - (1 - level) / 2)


def check(fn):
    feedback = homework.check_chance_interval(fn)
    assert "Traceback" not in str(feedback)
    return feedback


def test_right_answers_pass():
    for fn in (chance_interval, lambda n, p, level: tuple(np.array(stats.binom.interval(level, n, p)) / n)):
        feedback = check(fn)
        assert feedback.passed and str(feedback).startswith("Correct.")


def test_a_right_answer_from_the_cdf_passes_except_where_floats_overflow():
    # math.comb(2000, k) * p**k overflows a float for the large case, so test that by-hand
    # answer on the small cases only, through the same diagnosis path.
    def careful(n, p, level):
        return by_hand(n, p, level) if n <= 100 else chance_interval(n, p, level)

    assert check(careful).passed


def test_stub_gets_the_hint():
    def stub(n, p, level=0.99):
        raise NotImplementedError

    feedback = check(stub)
    assert not feedback.passed
    assert "not implemented yet" in str(feedback) and "Hint" in str(feedback) and "Binomial" in str(feedback)


def test_normal_approximation_is_named():
    def normal(n, p, level):
        half = z(level) * math.sqrt(p * (1 - p) / n)
        return p - half, p + half

    feedback = check(normal)
    assert not feedback.passed and "normal approximation" in str(feedback)


def test_counts_instead_of_accuracies():
    feedback = check(lambda n, p, level: stats.binom.interval(level, n, p))
    assert not feedback.passed and "counts" in str(feedback) and "divide by n" in str(feedback)


def test_wrong_tail_probability():
    feedback = check(lambda n, p, level: tuple(np.array([stats.binom.ppf(level / 2, n, p),
                                                         stats.binom.ppf(1 - level / 2, n, p)]) / n))
    assert not feedback.passed and "(1 - level)/2" in str(feedback)

    feedback = check(lambda n, p, level: tuple(np.array([stats.binom.ppf(1 - level, n, p),
                                                         stats.binom.ppf(level, n, p)]) / n))
    assert not feedback.passed and "half of 1 - level" in str(feedback)


def test_off_by_one_count():
    def strict(n, p, level):  # P(K < k) instead of P(K <= k) at the upper end
        low, high = chance_interval(n, p, level)
        return low, high + 1 / n

    feedback = check(strict)
    assert not feedback.passed and "one count above" in str(feedback) and "upper end" in str(feedback)


def test_swapped_ends_and_complement_probability():
    feedback = check(lambda n, p, level: chance_interval(n, p, level)[::-1])
    assert not feedback.passed and "swapped" in str(feedback)

    feedback = check(lambda n, p, level: chance_interval(n, 1 - p, level))
    assert not feedback.passed and "1 - p" in str(feedback)


def test_missing_return_and_crash_are_explained():
    def no_return(n, p, level):
        stats.binom.interval(level, n, p)

    assert "forget to `return`" in str(check(no_return))

    def crash(n, p, level):
        return stats.binom.interval(n, p)  # arguments in the wrong order

    feedback = check(crash)
    assert not feedback.passed and "raised" in str(feedback)
