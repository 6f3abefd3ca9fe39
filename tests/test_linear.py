"""dltheory.linear against independent computations: NumPy's pinv and lstsq, finite
differences, scikit-learn's Ridge, and the closed forms."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from dltheory import linear


@pytest.fixture
def wide():
    return linear.LinearTeacher.sample(n=12, d=30, k=2, n_test=50, seed=3)


def test_min_norm_solution_matches_numpy(wide):
    X, Y = wide.X.numpy(), wide.Y.numpy()
    expected = np.linalg.lstsq(X, Y, rcond=None)[0].T  # lstsq returns the minimum-norm solution
    np.testing.assert_allclose(linear.min_norm_solution(wide.X, wide.Y).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_row_space_projector_is_an_orthogonal_projector(wide):
    P = linear.row_space_projector(wide.X)
    torch.testing.assert_close(P @ P, P)
    torch.testing.assert_close(P, P.T)
    assert torch.linalg.matrix_rank(P) == 12
    torch.testing.assert_close(wide.X @ P, wide.X)


def test_gradient_of_the_loss_by_finite_differences(wide):
    W = torch.randn(2, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lam = 0.1
    grad = torch.func.grad(linear.least_squares_loss)(W, wide.X, wide.Y, lam)
    expected = (wide.X @ W.T - wide.Y).T @ wide.X / 12 + lam * W
    torch.testing.assert_close(grad, expected)
    h, E = 1e-6, torch.zeros_like(W)
    E[1, 7] = 1.0
    fd = (linear.least_squares_loss(W + h * E, wide.X, wide.Y, lam) - linear.least_squares_loss(W - h * E, wide.X, wide.Y, lam)) / (2 * h)
    assert fd.item() == pytest.approx(grad[1, 7].item(), rel=1e-6)


def test_gd_from_zero_reaches_min_norm(wide):
    run = linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=torch.float64), steps=400)
    torch.testing.assert_close(run.final, linear.min_norm_solution(wide.X, wide.Y), rtol=1e-8, atol=1e-10)


def test_gd_and_sgd_from_random_start_reach_gd_limit(wide):
    W0 = torch.randn(2, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    limit = linear.gd_limit(wide.X, wide.Y, W0)
    gd = linear.gradient_descent(wide.X, wide.Y, W0, steps=400)
    sgd = linear.stochastic_gradient_descent(wide.X, wide.Y, W0, epochs=600, batch_size=4, seed=0)
    torch.testing.assert_close(gd.final, limit, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(sgd.final, limit, rtol=1e-6, atol=1e-8)
    # the limit interpolates, and differs from W+ exactly by the null-space part of W0
    torch.testing.assert_close(wide.X @ limit.T, wide.Y)
    null = W0 @ (torch.eye(30, dtype=torch.float64) - linear.row_space_projector(wide.X))
    torch.testing.assert_close(limit - linear.min_norm_solution(wide.X, wide.Y), null)


def test_sgd_is_deterministic_for_a_seed_and_differs_across_seeds(wide):
    zero = torch.zeros(2, 30, dtype=torch.float64)
    a = linear.stochastic_gradient_descent(wide.X, wide.Y, zero, epochs=3, batch_size=5, seed=0)
    b = linear.stochastic_gradient_descent(wide.X, wide.Y, zero, epochs=3, batch_size=5, seed=0)
    c = linear.stochastic_gradient_descent(wide.X, wide.Y, zero, epochs=3, batch_size=5, seed=1)
    assert torch.equal(a.final, b.final) and not torch.equal(a.final, c.final)
    assert a.steps[-1] == 3 * 3  # ceil(12 / 5) batches per epoch


def test_trajectory_records_start_and_end(wide):
    run = linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=torch.float64), steps=25, record_every=10)
    assert run.steps == [0, 10, 20, 25]
    assert run.distances(run.final)[-1] == 0


def test_ridge_solution_matches_scikit_learn(wide):
    lam = 0.05
    # sklearn minimises ||y - Xw||^2 + alpha ||w||^2; ours is (1/2n)||.||^2 + (lam/2)||w||^2
    model = Ridge(alpha=12 * lam, fit_intercept=False, solver="svd").fit(wide.X.numpy(), wide.Y.numpy())
    np.testing.assert_allclose(linear.ridge_solution(wide.X, wide.Y, lam).numpy(), model.coef_, rtol=1e-8)


def test_ridge_solution_is_the_minimiser_gd_finds(wide):
    lam = 0.05
    start = torch.randn(2, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    run = linear.gradient_descent(wide.X, wide.Y, start, steps=3000, lr=0.5, lam=lam)
    torch.testing.assert_close(run.final, linear.ridge_solution(wide.X, wide.Y, lam), rtol=1e-7, atol=1e-9)


def test_ridge_hessian_matches_autograd_and_its_bottom_is_lambda(wide):
    lam = 1e-3
    W = torch.zeros(1, 30, dtype=torch.float64)
    Y1 = wide.Y[:, :1]
    H = torch.func.hessian(lambda w: linear.least_squares_loss(w, wide.X, Y1, lam))(W).reshape(30, 30)
    torch.testing.assert_close(H, linear.ridge_hessian(wide.X, lam))
    eig = torch.linalg.eigvalsh(H)
    assert eig.min().item() == pytest.approx(lam, rel=1e-9)
    assert int((torch.linalg.eigvalsh(linear.ridge_hessian(wide.X, 0.0)) < 1e-12).sum()) == 30 - 12


def test_divergence_is_reported_with_the_step(wide):
    with pytest.raises(FloatingPointError, match="diverged .* at step \\d+ .*smaller step"):
        linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=torch.float64), steps=5000, lr=1e3)


@pytest.mark.parametrize(
    "X, Y, W0, message",
    [
        (torch.ones(3), torch.ones(3, 1), torch.zeros(1, 3), "X must be a matrix"),
        (torch.ones(3, 4), torch.ones(3), torch.zeros(1, 4), "Y must be a matrix"),
        (torch.ones(3, 4), torch.ones(2, 1), torch.zeros(1, 4), "3 examples .* Y has 2"),
        (torch.ones(3, 4), torch.ones(3, 1), torch.zeros(4, 1), r"W0 must have shape \(k, d\) = \(1, 4\)"),
        (torch.tensor([[1.0, float("nan")]]), torch.ones(1, 1), torch.zeros(1, 2), "NaN"),
    ],
)
def test_bad_input_is_a_clear_error(X, Y, W0, message):
    with pytest.raises(ValueError, match=message):
        linear.gradient_descent(X, Y, W0, steps=1)


def test_other_bad_input(wide):
    zero = torch.zeros(2, 30, dtype=torch.float64)
    with pytest.raises(ValueError, match="batch_size"):
        linear.stochastic_gradient_descent(wide.X, wide.Y, zero, epochs=1, batch_size=13)
    with pytest.raises(ValueError, match="lam must be positive"):
        linear.ridge_solution(wide.X, wide.Y, 0.0)
    with pytest.raises(ValueError, match="positive"):
        linear.LinearTeacher.sample(n=0, d=3)


def test_teacher_is_seeded_and_labels_with_the_teacher():
    a, b = linear.LinearTeacher.sample(5, 8, seed=4), linear.LinearTeacher.sample(5, 8, seed=4)
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, a.X @ a.W_star.T)
    assert a.test_error(a.W_star) == 0.0
