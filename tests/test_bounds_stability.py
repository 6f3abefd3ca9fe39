"""The stability and PAC-Bayes terms of SGLD and SGD, against direct sums and hand-computed closed forms."""

import math

import numpy as np
import pytest

from dltheory import bounds


def direct_term(etas, g2, lam):
    """The double loop of the definition: sum_k eta_k exp(-lam (T_N - T_k) / 2) g2_k, T_k = eta_1 + ... + eta_k."""
    N = len(etas)
    T = [sum(etas[: k + 1]) for k in range(N)]
    return sum(etas[k] * math.exp(-lam * (T[-1] - T[k]) / 2) * g2[k] for k in range(N))


def test_pac_bayes_term_equals_the_definition_for_varying_steps():
    g = np.random.default_rng(0)
    etas, g2 = list(g.uniform(0.01, 0.5, 40)), list(g.uniform(0.0, 3.0, 40))
    for lam in (0.0, 0.1, 1.0, 7.0):
        assert bounds.sgld_pac_bayes_term(etas, g2, lam) == pytest.approx(direct_term(etas, g2, lam), rel=1e-12)
    running = bounds.sgld_pac_bayes_term(etas, g2, 0.3, cumulative=True)
    assert running.shape == (40,)
    np.testing.assert_allclose(running, [direct_term(etas[:N], g2[:N], 0.3) for N in range(1, 41)], rtol=1e-12)


def test_pac_bayes_term_closed_forms():
    # lam = 0: nothing forgotten, the plain sum of eta_k g2_k
    assert bounds.sgld_pac_bayes_term([0.5, 0.25, 1.0], [2.0, 4.0, 3.0], 0.0) == pytest.approx(5.0)
    # constant step and gradient: a geometric series eta G (1 - q^N) / (1 - q), q = exp(-lam eta / 2)
    eta, G, lam, N = 0.1, 2.0, 0.5, 300
    q = math.exp(-lam * eta / 2)
    assert bounds.sgld_pac_bayes_term(eta, [G] * N, lam) == pytest.approx(eta * G * (1 - q**N) / (1 - q), rel=1e-12)
    # its limit is about 2 G / lam for small lam * eta
    assert bounds.sgld_pac_bayes_term(1e-3, [G] * 200_000, lam) == pytest.approx(2 * G / lam, rel=1e-3)


def test_pac_bayes_term_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        bounds.sgld_pac_bayes_term([0.1, 0.1], [1.0], 0.1)
    with pytest.raises(ValueError, match="non-negative"):
        bounds.sgld_pac_bayes_term([0.1], [-1.0], 0.1)
    with pytest.raises(ValueError, match="lam"):
        bounds.sgld_pac_bayes_term([0.1], [1.0], -0.1)
    with pytest.raises(ValueError, match="non-empty"):
        bounds.sgld_pac_bayes_term([], [], 0.1)


def test_k0_is_the_first_step_with_eta_beta_L2_below_one():
    etas = [1.0, 0.5, 0.3, 0.2, 0.1]
    # beta L^2 = 4: eta beta L^2 = 4, 2, 1.2, 0.8, 0.4 -> the fourth step (1-based)
    assert bounds.sgld_k0(2.0, 1.0, etas) == 4
    assert bounds.sgld_k0(2.0, 100.0, etas) == 6  # never: N + 1
    assert bounds.sgld_k0(0.1, 1.0, etas) == 1


def test_stability_bound_by_hand_and_data_free():
    etas = [1.0, 0.5, 0.3, 0.2, 0.1]
    # k0 = 4; the tail sums the steps after it: 0.1; 2C/n (4 + L sqrt(beta * 0.1))
    expected = 2 * 0.5 / 50 * (4 + 2.0 * math.sqrt(1.0 * 0.1))
    assert bounds.sgld_stability_bound(2.0, 1.0, etas, 50, C=0.5) == pytest.approx(expected, rel=1e-12)
    # no small step: 2 C N / n
    assert bounds.sgld_stability_bound(2.0, 100.0, etas, 50) == pytest.approx(2 * 5 / 50)
    # grows with the time travelled, falls like 1/n
    small = bounds.sgld_stability_bound(1.0, 10.0, [0.01] * 100, 100)
    assert bounds.sgld_stability_bound(1.0, 10.0, [0.01] * 400, 100) > small
    assert bounds.sgld_stability_bound(1.0, 10.0, [0.01] * 100, 200) == pytest.approx(small / 2)
    with pytest.raises(ValueError, match="beta"):
        bounds.sgld_stability_bound(1.0, 0.0, etas, 50)


def test_hardt_bound_closed_form_and_growth_in_T():
    L, beta, c, n = 1.5, 2.0, 0.25, 1000
    q = beta * c
    for T in (1, 10, 1000):
        expected = (1 + 1 / q) / (n - 1) * (2 * c * L**2) ** (1 / (q + 1)) * T ** (q / (q + 1))
        assert bounds.hardt_stability_bound(L, beta, T, n, c=c) == pytest.approx(expected, rel=1e-12)
    # the exponent of T is beta c / (beta c + 1): 1/3 here, nearly 1 for large beta c
    slope = np.polyfit(np.log([10, 1e4]), np.log([bounds.hardt_stability_bound(L, beta, T, n, c=c)
                                                   for T in (10, 10_000)]), 1)[0]
    assert slope == pytest.approx(1 / 3, rel=1e-9)
    big = [bounds.hardt_stability_bound(1.0, 100.0, T, n, c=1.0) for T in (10, 10_000)]
    assert np.log(big[1] / big[0]) / np.log(1000) == pytest.approx(100 / 101, rel=1e-9)
    with pytest.raises(ValueError, match="n"):
        bounds.hardt_stability_bound(L, beta, 10, 1, c=c)
