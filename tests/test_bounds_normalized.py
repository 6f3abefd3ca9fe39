"""Normalised losses and the Rademacher bound of dltheory.bounds (bounds/normalized.py), checked against
independent computations: NumPy forward passes, closed forms, and Monte Carlo estimates of
Rademacher complexities of classes small enough to take the supremum on a grid."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import bounds, homogeneity, models

pytestmark = pytest.mark.usefixtures("one_thread")


def numpy_network(model):
    return [layer.weight.detach().double().numpy() for layer in model if isinstance(layer, nn.Linear)]


def forward(weights, X):
    h = X
    for W in weights[:-1]:
        h = np.maximum(h @ W.T, 0.0)
    return h @ weights[-1].T


def cross_entropy(out, y):
    top = out.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(out - top).sum(axis=1))
    return float(np.mean(lse - out[np.arange(len(y)), y]))


@pytest.fixture
def problem():
    torch.manual_seed(0)
    model = models.mlp([5, 7, 6, 3], bias=False, seed=1)
    scaled = homogeneity.scale_layers(model, [3.0, 0.7, 5.0])  # a network with rho far from 1
    X = torch.randn(40, 5)
    y = torch.randint(0, 3, (40,))
    return scaled, X, y


def test_losses_match_a_numpy_forward_pass(problem):
    model, X, y = problem
    out = bounds.normalized_losses(model, X, y)
    weights = numpy_network(model)
    norms = [np.linalg.norm(W) for W in weights]
    Xn, yn = X.double().numpy(), y.numpy()
    f = forward(weights, Xn)
    f_tilde = forward([W / r for W, r in zip(weights, norms)], Xn)
    assert out["loss"] == pytest.approx(cross_entropy(f, yn), rel=1e-12)
    assert out["normalized_loss"] == pytest.approx(cross_entropy(f_tilde, yn), rel=1e-12)
    assert out["rho"] == pytest.approx(np.prod(norms), rel=1e-12)
    assert out["rhos"] == pytest.approx(norms, rel=1e-12)
    assert out["error"] == pytest.approx(np.mean(f.argmax(1) != yn))
    assert out["normalized_error"] == out["error"]
    assert out["max_normalized_output"] == pytest.approx(np.linalg.norm(f_tilde, axis=1).max(), rel=1e-12)
    assert (out["num_classes"], out["n"]) == (3, 40)
    # f = rho f~ exactly (positive homogeneity), so the losses of f and f~ differ only through rho
    np.testing.assert_allclose(f, np.prod(norms) * f_tilde, rtol=1e-10, atol=1e-12)


def test_normalised_quantities_do_not_see_the_layer_scales(problem):
    model, X, y = problem
    base = bounds.normalized_losses(model, X, y)
    scaled = bounds.normalized_losses(homogeneity.scale_layers(model, [10.0, 0.01, 4.0]), X, y)
    # the scaled weights are rounded to float32, hence rel=1e-6
    assert scaled["normalized_loss"] == pytest.approx(base["normalized_loss"], rel=1e-6)
    assert scaled["error"] == base["error"]
    assert scaled["rho"] == pytest.approx(0.4 * base["rho"], rel=1e-6)
    assert scaled["loss"] != pytest.approx(base["loss"], rel=1e-3)


def test_outputs_of_the_normalised_network_are_shorter_than_the_inputs(problem):
    model, X, y = problem
    out = bounds.normalized_losses(model, X, y)
    longest = torch.linalg.vector_norm(X, dim=1).max().item()
    assert out["max_normalized_output"] <= longest
    low, high = bounds.cross_entropy_range(longest, 3)
    assert low <= out["normalized_loss"] <= high


def test_the_model_is_left_untouched(problem):
    model, X, y = problem
    before = [p.detach().clone() for p in model.parameters()]
    bounds.normalized_losses(model, X, y)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert next(model.parameters()).dtype == torch.float32


def test_bad_networks_and_data_are_refused(problem):
    model, X, y = problem
    with pytest.raises(ValueError, match="biases"):
        bounds.normalized_losses(models.mlp([5, 4, 3], bias=True, seed=0), X, y)
    with pytest.raises(ValueError, match="Tanh"):
        bounds.normalized_losses(nn.Sequential(nn.Linear(5, 4, bias=False), nn.Tanh(),
                                                      nn.Linear(4, 3, bias=False)), X, y)
    zero = models.mlp([5, 4, 3], bias=False, seed=0)
    with torch.no_grad():
        zero[0].weight.zero_()
    with pytest.raises(ValueError, match="zero"):
        bounds.normalized_losses(zero, X, y)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
        bounds.normalized_losses("net", X, y)
    with pytest.raises(ValueError, match="Conv1d .* is a convolution"):
        bounds.normalized_losses(nn.Sequential(nn.Conv1d(1, 1, 1, bias=False), nn.Flatten(),
                                               nn.Linear(5, 3, bias=False)), X, y)
    with pytest.raises(ValueError, match="LeakyReLU with slope 2.0 after layer 1 is not 1-Lipschitz"):
        bounds.normalized_losses(nn.Sequential(nn.Linear(5, 4, bias=False), nn.LeakyReLU(2.0),
                                               nn.Linear(4, 3, bias=False)), X, y)
    with pytest.raises(ValueError, match="features"):
        bounds.normalized_losses(model, X[:, :4], y)
    with pytest.raises(ValueError, match="matrix"):
        bounds.normalized_losses(model, X[0], y)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        bounds.normalized_losses(model, X * float("nan"), y)
    with pytest.raises(TypeError, match="X must be a tensor or an array of numbers"):
        bounds.normalized_losses(model, "X", y)
    with pytest.raises(ValueError, match="integer class indices"):
        bounds.normalized_losses(model, X, y.double())
    with pytest.raises(ValueError, match="examples but y has"):
        bounds.normalized_losses(model, X, y[:-1])
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        bounds.normalized_losses(model, X, y + 1)


def _standard_twin(model):
    """The standard-parametrised network with the effective weights (weight_scale * weight) of ``model``."""
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            twin = nn.Linear(m.in_features, m.out_features, bias=False, dtype=m.weight.dtype)
            with torch.no_grad():
                twin.weight.copy_(getattr(m, "weight_scale", 1.0) * m.weight)
            layers.append(twin)
        else:
            layers.append(m)
    return nn.Sequential(*layers)


def test_ntk_layers_count_with_their_effective_weights():
    ntk = models.mlp([5, 7, 6, 3], bias=False, parametrization="ntk", seed=2, dtype=torch.float64)
    assert all(m.weight_scale != 1.0 for m in ntk if isinstance(m, nn.Linear))
    standard = _standard_twin(ntk)
    X = torch.randn(40, 5, generator=torch.Generator().manual_seed(3))
    y = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(ntk(X.double()), standard(X.double()), rtol=0, atol=0)
    got, expected = bounds.normalized_losses(ntk, X, y), bounds.normalized_losses(standard, X, y)
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-12), key
    # the raw (standard normal) weights would give other norms
    raw = [torch.linalg.matrix_norm(m.weight).item() for m in ntk if isinstance(m, nn.Linear)]
    assert got["rhos"] != pytest.approx(raw, rel=1e-3)
    long = torch.linalg.vector_norm(X, dim=1).max().item()
    assert (bounds.cross_entropy_bound(ntk, X, input_bound=long)
            == bounds.cross_entropy_bound(standard, X, input_bound=long))


def test_leaky_relu_networks_match_a_numpy_forward_pass():
    slope = 0.2
    model = models.mlp([5, 7, 6, 3], activation="leaky_relu", bias=False, seed=5, dtype=torch.float64)
    for m in model:
        if isinstance(m, nn.LeakyReLU):
            m.negative_slope = slope
    model = homogeneity.scale_layers(model, [2.0, 0.5, 3.0])
    X = torch.randn(30, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=torch.Generator().manual_seed(7))
    out = bounds.normalized_losses(model, X, y)
    weights = numpy_network(model)
    norms = [np.linalg.norm(W) for W in weights]

    def leaky_forward(Ws, inputs):
        h = inputs
        for W in Ws[:-1]:
            h = h @ W.T
            h = np.where(h > 0, h, slope * h)
        return h @ Ws[-1].T

    f = leaky_forward(weights, X.numpy())
    f_tilde = leaky_forward([W / r for W, r in zip(weights, norms)], X.numpy())
    assert out["loss"] == pytest.approx(cross_entropy(f, y.numpy()), rel=1e-12)
    assert out["normalized_loss"] == pytest.approx(cross_entropy(f_tilde, y.numpy()), rel=1e-12)
    assert out["rhos"] == pytest.approx(norms, rel=1e-12)
    assert out["normalized_error"] == out["error"] == pytest.approx(np.mean(f.argmax(1) != y.numpy()))
    # the ReLU network with these weights is another function
    assert cross_entropy(forward(weights, X.numpy()), y.numpy()) != pytest.approx(out["loss"], rel=1e-6)


def test_nested_sequentials_and_arrays_give_the_same_losses(problem):
    model, X, y = problem
    nested = nn.Sequential(nn.Sequential(model[0], model[1]),
                           nn.Sequential(nn.Sequential(model[2], model[3]), model[4]))
    expected = bounds.normalized_losses(model, X, y)
    assert bounds.normalized_losses(nested, X, y) == expected
    assert bounds.normalized_losses(model, X.numpy(), y.numpy()) == expected


# --------------------------------------------------------------------------- the range of the loss


def ce_of(z, y):
    return float(np.log(np.exp(z).sum()) - z[y])


@pytest.mark.parametrize("K", [2, 3, 10])
@pytest.mark.parametrize("r", [0.1, 1.0, 4.0])
def test_the_range_holds_every_value_and_its_lower_end_is_attained(K, r):
    low, high = bounds.cross_entropy_range(r, K)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4000, K))
    z *= (r * rng.uniform(0, 1, (4000, 1)) ** (1 / K)) / np.linalg.norm(z, axis=1, keepdims=True)
    z[:1000] *= r / np.linalg.norm(z[:1000], axis=1, keepdims=True)  # some on the sphere itself
    values = np.array([ce_of(v, 0) for v in z])
    assert low <= values.min() and values.max() <= high
    best = np.full(K, -r / math.sqrt(K * (K - 1)))
    best[0] = r * math.sqrt((K - 1) / K)
    assert np.linalg.norm(best) == pytest.approx(r)
    assert ce_of(best, 0) == pytest.approx(low, rel=1e-12)
    # the upper end is a bound, within ln K of the value at z = r (e_1 - e_0) / sqrt(2)
    worst = np.zeros(K)
    worst[1], worst[0] = r / math.sqrt(2), -r / math.sqrt(2)
    assert ce_of(worst, 0) <= high <= ce_of(worst, 0) + math.log(K)


def test_range_at_zero_and_bad_arguments():
    assert bounds.cross_entropy_range(0.0, 7) == pytest.approx((math.log(7), math.log(7)))
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="radius must be a non-negative number"):
            bounds.cross_entropy_range(bad, 3)
    for bad in (True, "1", None):
        with pytest.raises(TypeError, match="radius must be a non-negative number"):
            bounds.cross_entropy_range(bad, 3)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        bounds.cross_entropy_range(1.0, 1)
    for bad in (2.5, True):
        with pytest.raises(TypeError, match="num_classes must be an integer >= 2"):
            bounds.cross_entropy_range(1.0, bad)


# --------------------------------------------------------------------------- the Rademacher bound


def test_the_rademacher_bound_is_the_formula():
    X = torch.arange(12.0).reshape(4, 3)
    frob = math.sqrt(sum(v * v for v in range(12)))
    for L, K in ((1, 2), (3, 10), (5, 4)):
        expected = 2 ** ((L + 1) / 2) * math.sqrt(K) * frob / 4
        assert bounds.rademacher_complexity_bound(X, depth=L, num_classes=K) == pytest.approx(expected)
    with pytest.raises(ValueError, match="depth"):
        bounds.rademacher_complexity_bound(X, depth=0, num_classes=2)
    with pytest.raises(ValueError, match="num_classes"):
        bounds.rademacher_complexity_bound(X, depth=1, num_classes=1)
    with pytest.raises(ValueError, match="X must be a matrix"):
        bounds.rademacher_complexity_bound(X[0], depth=1, num_classes=2)
    with pytest.raises(ValueError, match="at least one example"):
        bounds.rademacher_complexity_bound(X[:0], depth=1, num_classes=2)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        bounds.rademacher_complexity_bound(X * float("inf"), depth=1, num_classes=2)
    with pytest.raises(TypeError, match="depth must be a positive integer, got 2.0"):
        bounds.rademacher_complexity_bound(X, depth=2.0, num_classes=2)
    # arrays are converted
    assert bounds.rademacher_complexity_bound(X.numpy(), depth=3, num_classes=10) == pytest.approx(
        bounds.rademacher_complexity_bound(X, depth=3, num_classes=10), rel=1e-15)


def softplus(t):
    return np.logaddexp(0.0, t)


def monte_carlo(loss_on_grid, n, draws=4000, seed=0):
    """Mean and standard error of sup_grid (1/n) sum_i sigma_i loss_i over random signs."""
    rng = np.random.default_rng(seed)
    sigma = rng.choice([-1.0, 1.0], size=(draws, n))
    sups = (sigma @ loss_on_grid).max(axis=1) / n
    return sups.mean(), sups.std(ddof=1) / math.sqrt(draws)


def test_monte_carlo_rademacher_complexity_of_a_linear_two_class_net_lies_below_the_bound():
    # d = 1, K = 2, depth 1: f(x) = (v_0 x, v_1 x) with v_0^2 + v_1^2 <= 1. The cross-entropy is
    # softplus(s_i u x_i), u = v_1 - v_0 in [-sqrt 2, sqrt 2], s_i = +1 for y_i = 0 and -1 for y_i = 1:
    # the supremum over the class is a supremum over u, taken on a fine grid.
    rng = np.random.default_rng(1)
    n = 12
    x, y = rng.standard_normal(n) * 2.0, rng.integers(0, 2, n)
    s = np.where(y == 0, 1.0, -1.0)
    u = np.linspace(-math.sqrt(2), math.sqrt(2), 4001)
    grid = softplus(s[:, None] * x[:, None] * u[None, :])  # (n, grid)
    mean, se = monte_carlo(grid, n)
    bound = bounds.rademacher_complexity_bound(torch.tensor(x[:, None]), depth=1, num_classes=2)
    assert bound == pytest.approx(2 * math.sqrt(2) * np.linalg.norm(x) / n)
    assert 0 < mean + 4 * se < bound


def test_monte_carlo_rademacher_complexity_of_a_two_layer_two_class_net_lies_below_the_bound():
    # d = 1, K = 2, depth 2, width >= 2: relu(v x) = v+ x+ + v- x-, so f(x) = alpha x+ + beta x- and
    # ||V_1||_F, ||V_2||_F <= 1 allow exactly ||alpha|| + ||beta|| <= 1. The loss depends on
    # u+ = alpha_1 - alpha_0 and u- = beta_1 - beta_0, which fill the square |u+| + |u-| <= sqrt 2.
    rng = np.random.default_rng(2)
    n = 10
    x, y = rng.standard_normal(n) * 2.0, rng.integers(0, 2, n)
    s = np.where(y == 0, 1.0, -1.0)
    a = np.linspace(-math.sqrt(2), math.sqrt(2), 241)
    up, um = np.meshgrid(a, a)
    keep = np.abs(up) + np.abs(um) <= math.sqrt(2) + 1e-12
    up, um = up[keep], um[keep]
    margin = up[None, :] * np.maximum(x, 0)[:, None] + um[None, :] * np.maximum(-x, 0)[:, None]
    grid = softplus(s[:, None] * margin)
    mean, se = monte_carlo(grid, n, draws=2000)
    bound = bounds.rademacher_complexity_bound(torch.tensor(x[:, None]), depth=2, num_classes=2)
    assert 0 < mean + 4 * se < bound


def test_peeling_with_squares_doubles_at_most():
    # The step the bound rests on: E sup_{||w|| <= 1} (sum_i eps_i relu(<w, x_i>))^2 <= 2 sum_i ||x_i||^2
    # (Golowich et al.'s Lemma 1 with g(t) = max(t, 0)^2), in d = 2 where the sup is over an angle.
    rng = np.random.default_rng(3)
    n = 15
    X = rng.standard_normal((n, 2))
    theta = np.linspace(0, 2 * np.pi, 3601)
    relu = np.maximum(X @ np.stack([np.cos(theta), np.sin(theta)]), 0.0)  # (n, angles)
    eps = rng.choice([-1.0, 1.0], size=(4000, n))
    sq = ((eps @ relu) ** 2).max(axis=1)
    assert sq.mean() + 4 * sq.std(ddof=1) / math.sqrt(len(sq)) <= 2 * (X**2).sum()


# --------------------------------------------------------------------------- the generalisation bound


def test_cross_entropy_bound_term_by_term():
    model = models.mlp([6, 8, 8, 4], bias=False, seed=0)
    X = torch.randn(50, 6, dtype=torch.float64)
    X = 3.0 * X / torch.linalg.vector_norm(X, dim=1, keepdim=True)  # every input of length 3
    out = bounds.cross_entropy_bound(model, X, input_bound=3.0, delta=0.01)
    rademacher = 2 ** 2 * math.sqrt(4) * 3.0 * math.sqrt(50) / 50
    low = math.log1p(3 * math.exp(-3.0 * math.sqrt(4 / 3)))
    high = math.log(4) + 3.0 * math.sqrt(2)
    assert out["rademacher"] == pytest.approx(rademacher)
    assert out["complexity"] == pytest.approx(2 * rademacher)
    assert out["loss_range"] == pytest.approx((low, high))
    assert out["range_width"] == pytest.approx(high - low)
    assert out["confidence"] == pytest.approx(3 * (high - low) * math.sqrt(math.log(400) / 100))
    assert out["bound"] == pytest.approx(out["complexity"] + out["confidence"])
    assert (out["depth"], out["num_classes"], out["n"], out["input_bound"], out["delta"]) == (3, 4, 50, 3.0, 0.01)


def test_cross_entropy_bound_shrinks_like_one_over_root_n():
    model = models.mlp([6, 8, 3], bias=False, seed=0)
    X = torch.randn(400, 6)
    X = X / torch.linalg.vector_norm(X, dim=1, keepdim=True)
    small = bounds.cross_entropy_bound(model, X[:100], input_bound=1.0)
    large = bounds.cross_entropy_bound(model, X, input_bound=1.0)
    assert large["bound"] == pytest.approx(small["bound"] / 2, rel=1e-5)


def test_cross_entropy_bound_refuses_bad_input():
    model = models.mlp([6, 8, 3], bias=False, seed=0)
    X = torch.randn(20, 6)
    long = torch.linalg.vector_norm(X, dim=1).max().item()
    with pytest.raises(ValueError, match="input_bound must bound"):
        bounds.cross_entropy_bound(model, X, input_bound=0.5 * long)
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="input_bound must be a positive number"):
            bounds.cross_entropy_bound(model, X, input_bound=bad)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="delta must be a number in"):
            bounds.cross_entropy_bound(model, X, input_bound=long, delta=bad)
    with pytest.raises(TypeError, match="input_bound must be a positive number, got True"):
        bounds.cross_entropy_bound(model, X, input_bound=True)
    with pytest.raises(TypeError, match="delta must be a number in"):
        bounds.cross_entropy_bound(model, X, input_bound=long, delta=True)
    with pytest.raises(ValueError, match="biases"):
        bounds.cross_entropy_bound(models.mlp([6, 8, 3], seed=0), X, input_bound=long)
    with pytest.raises(ValueError, match="features"):
        bounds.cross_entropy_bound(model, X[:, :5], input_bound=long)
