"""dltheory.langevin against independent computations: the exact Ornstein–Uhlenbeck variances, closed forms, NumPy grids and SciPy's dblquad."""

import math

import numpy as np
import pytest
from scipy import integrate

from dltheory import langevin


def quadratic(kappa: float) -> langevin.Potential:
    """V = kappa x^2 / 2 in 1-D, two 'wells' split at 0."""
    return langevin.Potential(
        value=lambda x: 0.5 * kappa * np.asarray(x)[..., 0] ** 2, grad=lambda x: kappa * np.asarray(x), dim=1,
        coordinate=lambda x: np.asarray(x)[..., 0], profile=lambda s: 0.5 * kappa * np.asarray(s) ** 2,
        weight=lambda s: np.ones_like(np.asarray(s, dtype=float)), lower=-math.inf, boundaries=(0.0,),
        wells=("left", "right"), minima=(0.0,), laplace=lambda T: np.array([1.0, 1.0]))


def test_euler_maruyama_has_the_exact_discrete_ornstein_uhlenbeck_variance():
    # x' = (1 - eta k) x + sqrt(2 eta T) xi from 0: Var x_t = v_inf (1 - (1 - eta k)^(2t)), v_inf = T / (k (1 - eta k / 2))
    kappa, T, eta, t = 3.0, 0.7, 0.05, 15
    path = langevin.euler_maruyama(lambda x: kappa * x, np.zeros((40000, 1)), step=eta, temperature=T, steps=t,
                                   seed=1)
    v_inf = T / (kappa * (1 - eta * kappa / 2))
    expected = v_inf * (1 - (1 - eta * kappa) ** (2 * t))
    assert path.final.var() == pytest.approx(expected, rel=0.025)  # standard error sqrt(2/N) = 0.7%
    assert abs(path.final.mean()) < 4 * math.sqrt(expected / 40000)
    # and the continuous-time limit T / kappa is approached as eta -> 0: the bias is eta kappa / 2
    assert v_inf / (T / kappa) - 1 == pytest.approx(eta * kappa / 2 / (1 - eta * kappa / 2))


def test_stationary_variance_of_a_long_run_in_two_dimensions():
    H = np.array([[2.0, 0.5], [0.5, 1.0]])
    T, eta = 0.4, 0.01
    path = langevin.euler_maruyama(lambda x: x @ H, np.zeros((4000, 2)), step=eta, temperature=T, steps=1500,
                                   seed=2, burn_in=1000, record_every=100)
    cov = np.cov(path.samples.reshape(-1, 2).T)
    np.testing.assert_allclose(cov, T * np.linalg.inv(H), atol=0.02)  # O(eta) bias is 1%


def test_zero_temperature_is_gradient_descent_and_seeds_repeat():
    grad = lambda x: x ** 3 - x  # noqa: E731
    x0 = np.array([[0.3], [-2.0]])
    path = langevin.euler_maruyama(grad, x0, step=0.1, temperature=0.0, steps=20, seed=0)
    x = x0.copy()
    for _ in range(20):
        x = x - 0.1 * grad(x)
    np.testing.assert_allclose(path.final, x, rtol=0, atol=0)
    a = langevin.euler_maruyama(grad, x0, step=0.1, temperature=1.0, steps=5, seed=3)
    b = langevin.euler_maruyama(grad, x0, step=0.1, temperature=1.0, steps=5, seed=3)
    c = langevin.euler_maruyama(grad, x0, step=0.1, temperature=1.0, steps=5, seed=4)
    assert np.array_equal(a.final, b.final) and not np.array_equal(a.final, c.final)


def test_recording_after_burn_in():
    path = langevin.euler_maruyama(lambda x: x, np.zeros((7, 2)), step=0.1, temperature=1.0, steps=100, seed=0,
                                   burn_in=40, record_every=20)
    assert path.samples.shape == (3, 7, 2) and list(path.steps) == [60, 80, 100]
    np.testing.assert_array_equal(path.samples[-1], path.final)
    assert langevin.euler_maruyama(lambda x: x, np.zeros((7, 2)), step=0.1, temperature=1.0, steps=10,
                                   seed=0).samples.shape == (1, 7, 2)


def test_gibbs_masses_of_a_quadratic_are_the_gaussian_integral():
    V = quadratic(4.0)
    for T in (0.01, 0.5, 3.0):
        z = langevin.gibbs_masses(V, T, normalize=False)
        np.testing.assert_allclose(z, [0.5 * math.sqrt(2 * math.pi * T / 4.0)] * 2, rtol=1e-9)
    masses = langevin.gibbs_masses(V, 0.5, edges=[-1.0, 0.5])
    sd = math.sqrt(0.5 / 4.0)
    from scipy.stats import norm
    expected = np.diff(norm.cdf([-np.inf, -1.0, 0.5, np.inf], scale=sd))
    np.testing.assert_allclose(masses, expected, rtol=1e-8)


def test_sharp_flat_potential_has_the_stated_minima_curvatures_and_gradient():
    for ratio in (1.0, 4.0, 9.0):
        V = langevin.sharp_flat_potential(ratio, height=0.5)
        beta = 2 * (ratio - 1) / (ratio + 1)
        h = 1e-4
        for x, kappa in ((-1.0, 4 * (2 + beta)), (1.0, 4 * (2 - beta))):
            assert V.profile(x) == 0.0
            second = (V.profile(x + h) - 2 * V.profile(x) + V.profile(x - h)) / h ** 2
            assert second == pytest.approx(kappa, rel=1e-6)
        assert (4 * (2 + beta)) / (4 * (2 - beta)) == pytest.approx(ratio)
        xs = np.linspace(-2.5, 2.5, 101)[:, None]
        numeric = (V.value(xs + 1e-6) - V.value(xs - 1e-6)) / 2e-6
        np.testing.assert_allclose(V.grad(xs)[:, 0], numeric, rtol=1e-6, atol=1e-6)
        grid = np.linspace(-1, 1, 20001)
        assert V.boundaries[0] == pytest.approx(grid[np.argmax(V.profile(grid))], abs=2e-4)


def test_sharp_flat_masses_against_a_fine_grid_and_laplace_at_low_temperature():
    V = langevin.sharp_flat_potential(4.0)
    x = np.linspace(-4, 4, 800001)
    for T in (0.05, 0.5, 2.0):
        w = np.exp(-V.profile(x) / T)
        left = x < V.boundaries[0]
        grid = np.array([np.trapezoid(w[left], x[left]), np.trapezoid(w[~left], x[~left])])
        np.testing.assert_allclose(langevin.gibbs_masses(V, T, normalize=False), grid, rtol=1e-5)
        density = langevin.gibbs_density(V, x, T)
        assert np.trapezoid(density, x) == pytest.approx(1.0, rel=1e-8)
    m = langevin.gibbs_masses(V, 1e-3)
    assert m[1] / m[0] == pytest.approx(2.0, rel=2e-3)  # Laplace: sqrt(kappa_s / kappa_f) = 2
    lap = V.laplace(1e-3)
    np.testing.assert_allclose(lap, [math.sqrt(2 * math.pi * 1e-3 / k) for k in (25.6, 6.4)])


def test_laplace_mass_is_the_gaussian_integral_and_scales_as_t_to_the_d_minus_k_over_2():
    H = np.array([[3.0, 1.0], [1.0, 2.0]])
    T = 0.3
    exact = integrate.dblquad(lambda y, x: math.exp(-(3 * x * x + 2 * x * y + 2 * y * y) / (2 * T)),
                              -4, 4, -4, 4, epsabs=1e-10)[0]
    assert langevin.laplace_mass(np.linalg.eigvalsh(H), T) == pytest.approx(exact, rel=1e-7)
    assert langevin.laplace_mass([2.0], T, depth=0.5, flat_volume=3.0) == pytest.approx(
        3.0 * math.exp(-0.5 / T) * math.sqrt(2 * math.pi * T / 2.0))
    for d, k in ((3, 0), (3, 1), (3, 2), (3, 3)):
        a = langevin.laplace_mass([1.5] * (d - k), 0.01)
        b = langevin.laplace_mass([1.5] * (d - k), 0.04)
        assert math.log(b / a) / math.log(4) == pytest.approx((d - k) / 2)


@pytest.mark.parametrize("outer", [None, 3.0])
def test_ring_masses_against_dblquad_in_the_plane_and_steiner_at_low_temperature(outer):
    V = langevin.ring_potential(2.0, outer, curvature=2.0)
    T = 0.3
    c = V.boundaries[0]
    f = lambda y, x: math.exp(-float(V.value(np.array([x, y]))) / T)  # noqa: E731
    inner = integrate.dblquad(f, -c, c, lambda x: -math.sqrt(max(c * c - x * x, 0)),
                              lambda x: math.sqrt(max(c * c - x * x, 0)), epsabs=1e-9, epsrel=1e-8)[0]
    x = np.linspace(-6, 6, 3001)  # the whole plane on a Cartesian grid (trapezoid rule)
    X, Y = np.meshgrid(x, x, indexing="ij")
    w = np.exp(-V.value(np.stack([X, Y], axis=-1)) / T)
    total = np.trapezoid(np.trapezoid(w, x, axis=1), x)
    np.testing.assert_allclose(langevin.gibbs_masses(V, T, normalize=False), [inner, total - inner], rtol=1e-4)
    T = 1e-3  # Steiner: the mass of the kappa/2 dist^2 well of a set is area + perimeter * sqrt(pi T / 2 kappa) + ...
    masses = langevin.gibbs_masses(V, T, normalize=False)
    assert masses[0] == pytest.approx(2 * math.pi * T / 2.0, rel=1e-9)
    if outer is None:
        assert masses[1] == pytest.approx(2 * math.pi * 2.0 * math.sqrt(2 * math.pi * T / 2.0), rel=1e-6)
    else:
        area, rims = math.pi * (9 - 4), 2 * math.pi * (2 + 3)
        assert masses[1] == pytest.approx(area + rims * math.sqrt(math.pi * T / 4.0), rel=1e-6)
    np.testing.assert_allclose(V.laplace(T)[0], masses[0], rtol=1e-9)


def test_ring_gradient_matches_finite_differences():
    for outer in (None, 3.0):
        V = langevin.ring_potential(2.0, outer, curvature=1.5)
        g = np.random.default_rng(0)
        x = g.uniform(-4, 4, size=(200, 2))
        x = x[np.abs(np.linalg.norm(x, axis=1) - 1.0) > 1e-3]  # off the kink at |x| = R1 / 2
        e = np.eye(2) * 1e-6
        numeric = np.stack([(V.value(x + e[i]) - V.value(x - e[i])) / 2e-6 for i in range(2)], axis=1)
        np.testing.assert_allclose(V.grad(x), numeric, rtol=1e-5, atol=1e-6)


def test_well_fractions_and_histogram_tv_on_exact_samples():
    V = quadratic(1.0)
    g = np.random.default_rng(5)
    samples = g.normal(scale=math.sqrt(0.5), size=(200000, 1))
    assert langevin.well_fractions(V, samples) == pytest.approx([0.5, 0.5], abs=0.005)
    edges = np.linspace(-2, 2, 41)
    assert langevin.histogram_tv(V, samples, 0.5, edges) < 0.01
    assert langevin.histogram_tv(V, samples + 1.0, 0.5, edges) > 0.4  # exact: 2 Phi(1 / sqrt 2) - 1 = 0.52
    np.testing.assert_allclose(langevin.well_fractions(V, np.array([[-1.0], [0.0], [2.0]]), [0.0]),
                               [1 / 3, 2 / 3])


def test_bad_arguments_are_named():
    grad = lambda x: x  # noqa: E731
    with pytest.raises(ValueError, match="chains, dim"):
        langevin.euler_maruyama(grad, np.zeros(3), step=0.1, temperature=1.0, steps=1, seed=0)
    with pytest.raises(ValueError, match="step"):
        langevin.euler_maruyama(grad, np.zeros((3, 1)), step=0.0, temperature=1.0, steps=1, seed=0)
    with pytest.raises(ValueError, match="temperature"):
        langevin.euler_maruyama(grad, np.zeros((3, 1)), step=0.1, temperature=-1.0, steps=1, seed=0)
    with pytest.raises(ValueError, match="burn_in"):
        langevin.euler_maruyama(grad, np.zeros((3, 1)), step=0.1, temperature=1.0, steps=5, seed=0, burn_in=6)
    with pytest.raises(ValueError, match="curvatures must be positive"):
        langevin.laplace_mass([1.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="increasing"):
        langevin.gibbs_masses(quadratic(1.0), 1.0, edges=[1.0, 0.0])
    with pytest.raises(ValueError, match="lower end"):
        langevin.gibbs_masses(langevin.ring_potential(), 1.0, edges=[0.0])
    with pytest.raises(ValueError, match="ratio"):
        langevin.sharp_flat_potential(0.5)
    with pytest.raises(ValueError, match="outer_radius"):
        langevin.ring_potential(2.0, 1.0)
