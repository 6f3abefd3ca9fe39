"""bounds.compression_bound against its formula, the exact tail of a size-1 compression scheme, and
Shalev-Shwartz and Ben-David's weaker Corollary 30.3."""

import math

import numpy as np
import pytest

from dltheory import bounds

pytestmark = pytest.mark.usefixtures("one_thread")


def test_formula():
    assert bounds.compression_bound(10, 1000, 0.05) == pytest.approx((10 * math.log(1000) + math.log(20)) / 990)
    assert bounds.compression_bound(0, 50, 0.1) == pytest.approx(math.log(10) / 50)
    paid = bounds.compression_bound(10, 1000, 0.05, data_dependent=True)
    assert paid == pytest.approx((10 * math.log(1000) + math.log(11 * 12 / 0.05)) / 990)


def test_no_bound_without_more_examples_than_the_compression_set():
    assert bounds.compression_bound(100, 100, 0.05) == math.inf
    assert bounds.compression_bound(150, 100, 0.05) == math.inf


def test_monotone_in_size_sample_and_confidence():
    assert bounds.compression_bound(5, 1000, 0.05) < bounds.compression_bound(6, 1000, 0.05)
    assert bounds.compression_bound(5, 2000, 0.05) < bounds.compression_bound(5, 1000, 0.05)
    assert bounds.compression_bound(5, 1000, 0.1) < bounds.compression_bound(5, 1000, 0.01)


@pytest.mark.parametrize("M, n, delta", [(1, 10, 0.1), (5, 100, 0.05), (50, 1000, 0.01), (100, 10**5, 0.2)])
def test_tighter_than_shalev_shwartz_ben_david_corollary_30_3(M, n, delta):
    """Their Corollary 30.3: L_D <= 8 M log(n / delta) / n for n >= 2M (via the agnostic Theorem 30.2)."""
    assert bounds.compression_bound(M, n, delta) <= 8 * M * math.log(n / delta) / n


@pytest.mark.parametrize("n", [5, 30, 200])
def test_exact_tail_of_a_size_one_scheme_is_below_delta(n):
    """Thresholds on [0, 1] under the uniform distribution, target 1[x >= theta]: the rule 'threshold at the
    smallest positive example' keeps one example and is consistent. Its error exceeds eps exactly when no
    example falls in [theta, theta + eps): probability (1 - eps)^n (for eps < 1 - theta)."""
    for delta in (0.5, 0.1, 0.01):
        eps = bounds.compression_bound(1, n, delta)
        assert (1 - min(eps, 1.0)) ** n <= delta
    # and by simulation, for one theta
    rng = np.random.default_rng(n)
    theta, delta = 0.3, 0.1
    eps = bounds.compression_bound(1, n, delta)
    x = rng.uniform(size=(20000, n))
    smallest_positive = np.where(x >= theta, x, np.inf).min(axis=1)
    error = np.minimum(smallest_positive, 1.0) - theta
    assert np.mean(error > eps) <= delta


@pytest.mark.parametrize("call, error", [
    (lambda: bounds.compression_bound(-1, 10, 0.1), ValueError),
    (lambda: bounds.compression_bound(1.5, 10, 0.1), TypeError),
    (lambda: bounds.compression_bound(1, 0, 0.1), ValueError),
    (lambda: bounds.compression_bound(1, 10, 0.0), ValueError),
    (lambda: bounds.compression_bound(1, 10, 1.0), ValueError),
    (lambda: bounds.compression_bound(1, 10, 0.1, data_dependent=1), TypeError),
])
def test_bad_inputs(call, error):
    with pytest.raises(error):
        call()
