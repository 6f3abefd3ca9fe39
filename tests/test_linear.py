"""dltheory.linear against independent computations: NumPy's pinv and lstsq, finite
differences, scikit-learn's Ridge, and the closed forms."""

import re

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from dltheory import linear, train

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


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
    with pytest.raises(ValueError, match=r"^batch_size must be an integer in \[1, 12\], got 13$"):
        linear.stochastic_gradient_descent(wide.X, wide.Y, zero, epochs=1, batch_size=13)
    with pytest.raises(ValueError, match=r"^lam must be a positive number, got 0\.0$"):
        linear.ridge_solution(wide.X, wide.Y, 0.0)
    with pytest.raises(ValueError, match=r"^n must be a positive integer, got 0$"):
        linear.LinearTeacher.sample(n=0, d=3)


def gd(wide, **kwargs):
    return linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=F64), **kwargs)


def sgd(wide, **kwargs):
    args = dict(epochs=1, batch_size=4)
    args.update(kwargs)
    return linear.stochastic_gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=F64), **args)


# (call, exception, exact message): a wrong type is a TypeError, a wrong value a ValueError
BAD_ARGUMENTS = [
    (lambda w: gd(w, steps=2.5), TypeError, "steps must be a non-negative integer, got 2.5"),
    (lambda w: gd(w, steps=True), TypeError, "steps must be a non-negative integer, got True"),
    (lambda w: gd(w, steps="10"), TypeError, "steps must be a non-negative integer, got '10'"),
    (lambda w: gd(w, steps=-1), ValueError, "steps must be a non-negative integer, got -1"),
    (lambda w: gd(w, steps=np.int64(-5)), ValueError, "steps must be a non-negative integer, got np.int64(-5)"),
    (lambda w: gd(w, steps=1, lr=-1), ValueError, "lr must be a positive number, got -1"),
    (lambda w: gd(w, steps=1, lr=0.0), ValueError, "lr must be a positive number, got 0.0"),
    (lambda w: gd(w, steps=1, lr=float("inf")), ValueError, "lr must be a positive number, got inf"),
    (lambda w: gd(w, steps=1, lr="0.1"), TypeError, "lr must be a positive number, got '0.1'"),
    (lambda w: gd(w, steps=1, lam=-0.5), ValueError, "lam must be a non-negative number, got -0.5"),
    (lambda w: gd(w, steps=1, lam="a"), TypeError, "lam must be a non-negative number, got 'a'"),
    (lambda w: gd(w, steps=5, record_every=0), ValueError, "record_every must be a positive integer or None, got 0"),
    (lambda w: gd(w, steps=5, record_every=2.0), TypeError,
     "record_every must be a positive integer or None, got 2.0"),
    (lambda w: sgd(w, epochs=-1), ValueError, "epochs must be a non-negative integer, got -1"),
    (lambda w: sgd(w, epochs=1.0), TypeError, "epochs must be a non-negative integer, got 1.0"),
    (lambda w: sgd(w, lr=-1), ValueError, "lr must be a positive number, got -1"),
    (lambda w: sgd(w, lr=True), TypeError, "lr must be a positive number, got True"),
    (lambda w: sgd(w, batch_size=0), ValueError, "batch_size must be an integer in [1, 12], got 0"),
    (lambda w: sgd(w, batch_size=4.0), TypeError, "batch_size must be an integer in [1, 12], got 4.0"),
    (lambda w: sgd(w, seed=-1), ValueError, "seed must be a non-negative integer below 2**63, got -1"),
    (lambda w: sgd(w, seed="0"), TypeError, "seed must be a non-negative integer below 2**63, got '0'"),
    (lambda w: linear.ridge_solution(w.X, w.Y, "a"), TypeError, "lam must be a positive number, got 'a'"),
    (lambda w: linear.ridge_solution(w.X, w.Y, -1e-3), ValueError, "lam must be a positive number, got -0.001"),
    (lambda w: linear.ridge_hessian(w.X, -1.0), ValueError, "lam must be a non-negative number, got -1.0"),
    (lambda w: linear.ridge_hessian(w.X, None), TypeError, "lam must be a non-negative number, got None"),
    (lambda w: linear.LinearTeacher.sample(4.0, 3), TypeError, "n must be a positive integer, got 4.0"),
    (lambda w: linear.LinearTeacher.sample(4, 3, n_test=True), TypeError, "n_test must be a positive integer, got True"),
    (lambda w: linear.LinearTeacher.sample(4, 3, seed=2**63), ValueError,
     "seed must be a non-negative integer below 2**63, got 9223372036854775808"),
]


@pytest.mark.parametrize("call, error, expected", BAD_ARGUMENTS, ids=[m for _, _, m in BAD_ARGUMENTS])
def test_bad_arguments_type_error_for_types_value_error_for_values(wide, call, error, expected):
    with pytest.raises(Exception) as info:
        call(wide)
    assert type(info.value) is error and str(info.value) == expected


def test_good_edge_arguments(wide):
    zero = torch.zeros(2, 30, dtype=F64)
    none = gd(wide, steps=0)  # no update at all
    assert none.steps == [0] and torch.equal(none.final, zero)
    assert sgd(wide, epochs=0).steps == [0]
    # NumPy numbers count as numbers
    a = gd(wide, steps=np.int64(7), lr=np.float32(0.5), lam=np.float64(0.01))
    b = gd(wide, steps=7, lr=float(np.float32(0.5)), lam=0.01)
    assert a.steps == b.steps and torch.equal(a.final, b.final)
    c = sgd(wide, epochs=np.int32(2), batch_size=np.int64(5), seed=np.uint8(3))
    d = sgd(wide, epochs=2, batch_size=5, seed=3)
    assert torch.equal(c.final, d.final)
    assert sgd(wide, batch_size=12).steps[-1] == 1  # the whole set as one batch


@pytest.mark.parametrize("steps, every", [(25, 10), (7, None), (300, None), (5, 1), (1, 3)])
def test_trajectories_record_where_fit_records(wide, steps, every):
    """One rule for record points: linear's loops and fit use train.record_points."""
    run = gd(wide, steps=steps, record_every=every)
    assert run.steps == train.record_points(steps, every)
    assert len(run.weights) == len(run.steps)
    epochs = max(1, steps // 3)
    batches = sgd(wide, epochs=epochs, batch_size=4, record_every=every)  # 3 batches per epoch
    assert batches.steps == train.record_points(3 * epochs, every)


@pytest.mark.parametrize("which", ["X", "Y"])
@pytest.mark.parametrize("convert", [np.asarray, lambda t: t.tolist()], ids=["ndarray", "list"])
def test_array_likes_are_converted_or_refused_with_a_type_error(wide, which, convert):
    X, Y = wide.X, wide.Y
    X_, Y_ = (convert(X), Y) if which == "X" else (X, convert(Y))
    for fn, args in ((linear.gradient_descent, dict(W0=torch.zeros(2, 30, dtype=F64), steps=3)),
                     (linear.min_norm_solution, {})):
        try:
            got = fn(X_, Y_, **args)
        except TypeError as err:
            assert re.match(rf"^{which} must be ", str(err)), str(err)
            continue
        expected = fn(X, Y, **args)
        torch.testing.assert_close(getattr(got, "final", got), getattr(expected, "final", expected))


def test_a_bad_initial_point_is_named(wide):
    W0 = torch.zeros(2, 30, dtype=F64)
    W0[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"^W0 "):
        linear.gradient_descent(wide.X, wide.Y, W0, steps=2)
    try:  # another dtype: cast like the data, or refused by name
        run = linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30), steps=2)
    except (TypeError, ValueError) as err:
        assert str(err).startswith("W0 "), str(err)
    else:
        assert torch.equal(run.final, linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=F64),
                                                              steps=2).final)


def test_teacher_is_seeded_and_labels_with_the_teacher():
    a, b = linear.LinearTeacher.sample(5, 8, seed=4), linear.LinearTeacher.sample(5, 8, seed=4)
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, a.X @ a.W_star.T)
    assert a.test_error(a.W_star) == 0.0
