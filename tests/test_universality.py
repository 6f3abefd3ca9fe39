"""dltheory.universality against independent computations.

Oracles: the bump's formula in NumPy; its integral by scipy quadrature (and a
one-dimensional closed form); scipy's trapezoid rule for the L1 error;
hand-drawn grid sets with known components; hand-built ReLU networks whose
superlevel sets are known in closed form.
"""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from torch import nn

from dltheory import models, universality

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bump_is_the_formula_with_peak_one_and_the_right_support():
    X = torch.randn(200, 3, dtype=torch.float64) * 0.4
    r2 = (X.numpy() ** 2).sum(1)
    expected = np.clip(1 - r2 / 0.3**2, 0, None) ** 2
    np.testing.assert_allclose(universality.bump(X, radius=0.3).numpy(), expected, rtol=1e-14)
    assert universality.bump(torch.zeros(1, 2)).item() == 1.0
    assert universality.bump(torch.tensor([[0.5, 0.0], [0.0, -0.7]])).abs().max().item() == 0.0


@pytest.mark.parametrize("radius", [0.5, 1.3])
def test_bump_integral_in_two_dimensions_matches_quadrature(radius):
    value, _ = integrate.dblquad(lambda y, x: max(0.0, 1 - (x * x + y * y) / radius**2) ** 2,
                                 -radius, radius, -radius, radius, epsabs=1e-11)
    assert universality.bump_integral(2, radius) == pytest.approx(value, rel=1e-7)
    assert universality.bump_integral(2, radius) == pytest.approx(math.pi * radius**2 / 3, rel=1e-14)


@pytest.mark.parametrize("d", [1, 3, 5])
def test_bump_integral_in_other_dimensions_matches_a_radial_quadrature(d):
    sphere = 2 * math.pi ** (d / 2) / math.gamma(d / 2)
    radial, _ = integrate.quad(lambda s: (1 - s * s) ** 2 * s ** (d - 1), 0, 1)
    assert universality.bump_integral(d, 0.7) == pytest.approx(0.7**d * sphere * radial, rel=1e-10)
    if d == 1:
        assert universality.bump_integral(1, 0.7) == pytest.approx(16 * 0.7 / 15, rel=1e-12)


def test_box_grid_orders_rows_so_that_reshape_puts_axis_k_along_coordinate_k():
    X = universality.box_grid(2, 2.0, 5)
    assert X.shape == (25, 2)
    grid = X.reshape(5, 5, 2)
    np.testing.assert_allclose(grid[:, 0, 0].numpy(), np.linspace(-2, 2, 5))
    np.testing.assert_allclose(grid[0, :, 1].numpy(), np.linspace(-2, 2, 5))
    assert (X == 0).all(dim=1).sum() == 1  # odd points: the origin is on the grid
    assert universality.box_grid(3, 1.0, 4).shape == (64, 3)
    assert universality.box_grid(1, 1.0, 4).shape == (4, 1)


def test_grid_errors_are_the_max_and_the_scipy_trapezoid_integral():
    n, a = 33, 1.5
    X = universality.box_grid(2, a, n)
    F = torch.sin(X[:, 0]) * X[:, 1]
    f = universality.bump(X)
    out = universality.grid_errors(F, f, d=2, half_width=a)
    diff = (F - f).abs().numpy().reshape(n, n)
    axis = np.linspace(-a, a, n)
    assert out["l1"] == pytest.approx(integrate.trapezoid(integrate.trapezoid(diff, axis, axis=1), axis), rel=1e-12)
    assert out["sup"] == pytest.approx(diff.max())
    batched = universality.grid_errors(torch.stack([F, f]), f, d=2, half_width=a)
    assert batched["sup"].shape == (2,) and batched["sup"][1] == 0.0
    assert batched["l1"][0] == pytest.approx(out["l1"], rel=1e-12)


def test_grid_errors_converge_to_the_integral_of_the_bump():
    n = 401
    X = universality.box_grid(2, 1.0, n)
    out = universality.grid_errors(torch.zeros(n * n), universality.bump(X), d=2, half_width=1.0)
    assert out["l1"] == pytest.approx(universality.bump_integral(2, 0.5), rel=1e-4)
    assert out["sup"] == 1.0


def test_grid_errors_refuse_values_off_a_grid():
    with pytest.raises(ValueError, match="grid"):
        universality.grid_errors(torch.zeros(10), torch.zeros(10), d=2, half_width=1.0)


def _disc(n, centre, radius):
    axis = np.linspace(-1, 1, n)
    x, y = np.meshgrid(axis, axis, indexing="ij")
    return radius - np.hypot(x - centre[0], y - centre[1])


def test_components_of_drawn_sets():
    n = 41
    two_discs = np.maximum(_disc(n, (-0.5, 0), 0.2), _disc(n, (0.5, 0), 0.2))
    comps = universality.superlevel_components(two_discs, 0.0)
    assert comps.count == 2 and comps.bounded == 2 and not comps.touches_boundary.any()
    half_plane = np.linspace(-1, 1, n)[:, None] * np.ones((1, n))
    comps = universality.superlevel_components(half_plane, 0.3)
    assert comps.count == 1 and comps.bounded == 0
    assert universality.bounded_components(np.maximum(two_discs, half_plane - 0.8), 0.0) == 2
    assert universality.superlevel_components(two_discs, 5.0).count == 0


def test_a_diagonal_ridge_is_one_component_with_full_connectivity():
    ridge = np.eye(9)[:, ::-1]  # one-point-wide anti-diagonal
    assert universality.superlevel_components(ridge, 0.5).count == 1
    faces = universality.superlevel_components(ridge, 0.5, connectivity="faces")
    assert faces.count == 9 and faces.bounded == 7


def test_rounding_on_a_plateau_makes_no_spurious_components():
    plateau = np.zeros((21, 21))
    plateau[5, 5] = plateau[12, 7] = 1e-13
    assert universality.superlevel_components(plateau, 0.0).count == 0
    assert universality.superlevel_components(plateau, 0.0, rtol=0.0).count == 2


def _net(W1, b1, v, c, hidden=None):
    """A hand-built ReLU network x -> v . relu(W1 x + b1) + c (float64)."""
    W1 = torch.as_tensor(W1, dtype=torch.float64)
    lin = nn.Linear(W1.shape[1], W1.shape[0]).double()
    out = nn.Linear(W1.shape[0], 1).double()
    with torch.no_grad():
        lin.weight.copy_(W1)
        lin.bias.copy_(torch.as_tensor(b1, dtype=torch.float64))
        out.weight.copy_(torch.as_tensor(v, dtype=torch.float64)[None])
        out.bias.fill_(c)
    return nn.Sequential(lin, nn.ReLU(), out)


def _on_grid(net, a=3.0, n=121):
    X = universality.box_grid(2, a, n)
    with torch.no_grad():
        return net(X)[:, 0].reshape(n, n).numpy()


def test_a_width_two_ridge_is_unbounded_and_a_width_three_hill_is_bounded():
    ridge = _net([[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0], [-2.0, -2.0], 1.0)  # 1 - 2|x1|
    values = _on_grid(ridge)
    for c in (-2.0, 0.0, 0.5, 0.9):
        assert universality.bounded_components(values, c) == 0
    hill = _net([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0], 0.0)
    comps = universality.superlevel_components(_on_grid(hill), -1.0)
    assert comps.count == 1 and comps.bounded == 1  # the triangle {relu(x) + relu(y) + relu(-x-y) < 1}


@pytest.mark.parametrize("seed", range(4))
def test_random_width_two_networks_have_no_bounded_components_at_the_midlevel(seed):
    net = models.mlp([2, 2, 2, 1], init="he", seed=seed, dtype=torch.float64)
    with torch.no_grad():
        for layer in (0, 2):
            net[layer].bias.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(seed))
    values = _on_grid(net, a=4.0, n=161)
    if values.max() - values.min() > 1e-6:
        assert universality.bounded_components(values, (values.max() + values.min()) / 2) == 0


def test_stays_above_along_ray_follows_the_escape_direction():
    g = torch.Generator().manual_seed(3)
    for _ in range(5):
        W = torch.randn(2, 2, generator=g, dtype=torch.float64) + torch.eye(2, dtype=torch.float64)
        b, v = torch.randn(2, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64)
        net = _net(W, b, v, 0.3)
        x0 = torch.randn(2, generator=g, dtype=torch.float64)
        c = net(x0[None]).item() - 1e-9
        u = torch.linalg.solve(W, torch.sign(v))
        assert universality.stays_above_along_ray(lambda z: net(z), x0, u, c, t_max=50.0)
        assert not universality.stays_above_along_ray(lambda z: net(z), x0, u, c + 1.0, t_max=50.0) or \
            net((x0 + 50 * u)[None]).item() > c + 1.0
    hill = _net([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0], 0.0)
    for angle in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        u = torch.tensor([np.cos(angle), np.sin(angle)], dtype=torch.float64)
        assert not universality.stays_above_along_ray(lambda z: hill(z), torch.zeros(2, dtype=torch.float64), u,
                                                      -0.5, t_max=10.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="radius"):
        universality.bump(torch.zeros(3, 2), radius=0.0)
    with pytest.raises(ValueError, match="connectivity"):
        universality.superlevel_components(np.zeros((3, 3)), 0.0, connectivity="diagonal")
    with pytest.raises(ValueError, match="shape of x0"):
        universality.stays_above_along_ray(lambda z: z[:, 0], torch.zeros(2), torch.zeros(3), 0.0, t_max=1.0)
