"""dltheory.implicit_bias against independent computations: the hard-margin SVM by scipy's SLSQP,
scipy's BFGS and gradient descent with weight decay for the regularised minimiser; and the
log-spaced record points of dltheory.train that trace the slow turn to the SVM direction,
against a run that records every step."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from torch import nn

from dltheory import data, implicit_bias, train

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def wide():
    X, y, _ = data.separable(12, 20, margin=0.1, seed=3, dtype=F64)
    return X, y


@pytest.fixture(scope="module")
def tall():
    X, y, _ = data.separable(40, 3, margin=0.2, seed=4, dtype=F64)
    return X, y


def slsqp_svm(X, y):
    A = (y[:, None] * X).numpy()
    res = minimize(lambda w: 0.5 * w @ w, np.zeros(A.shape[1]), jac=lambda w: w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: A @ w - 1, "jac": lambda w: A}],
                   options={"ftol": 1e-14, "maxiter": 2000})
    assert res.success
    return res.x


@pytest.mark.parametrize("which", ["wide", "tall"])
def test_max_margin_direction_matches_slsqp_and_is_scaled_to_margin_one(which, request):
    X, y = request.getfixturevalue(which)
    w = implicit_bias.max_margin_direction(X, y)
    assert w.dtype == F64 and w.shape == (X.shape[1],)
    assert (y * (X @ w)).min().item() == pytest.approx(1.0, abs=1e-12)
    reference = slsqp_svm(X, y)
    assert np.linalg.norm(w.numpy() - reference) / np.linalg.norm(reference) < 1e-6


def test_max_margin_direction_refuses_non_separable_data():
    X = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=F64)
    y = torch.tensor([1.0, 1.0, -1.0], dtype=F64)
    with pytest.raises(ValueError, match="not linearly separable"):
        implicit_bias.max_margin_direction(X, y)
    with pytest.raises(ValueError, match="labels"):
        implicit_bias.max_margin_direction(X, torch.tensor([0.0, 1.0, 1.0]))


def test_angle_between_known_angles_and_tiny_ones():
    assert implicit_bias.angle_between([1.0, 0.0], [0.0, 2.0]) == pytest.approx(90.0)
    assert implicit_bias.angle_between([1.0, 0.0], [-3.0, 0.0]) == pytest.approx(180.0)
    assert implicit_bias.angle_between(torch.tensor([[1.0, 1.0]]), np.array([1.0, 1.0])) == pytest.approx(
        0.0, abs=1e-12)
    tiny = 1e-10
    assert implicit_bias.angle_between([1.0, 0.0], [math.cos(tiny), math.sin(tiny)]) == pytest.approx(
        math.degrees(tiny), rel=1e-6)
    assert math.isnan(implicit_bias.angle_between([0.0, 0.0], [1.0, 0.0]))
    with pytest.raises(ValueError, match="sizes"):
        implicit_bias.angle_between([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="u must be a tensor or an array of numbers, got str"):
        implicit_bias.angle_between("ab", [1.0, 0.0])


def test_max_margin_direction_takes_arrays_and_checks_its_constant(tall):
    X, y = tall
    torch.testing.assert_close(implicit_bias.max_margin_direction(X.numpy(), y.tolist()),
                               implicit_bias.max_margin_direction(X, y), rtol=0, atol=0)
    with pytest.raises(TypeError, match="C must be a positive number, got True"):
        implicit_bias.max_margin_direction(X, y, C=True)
    with pytest.raises(ValueError, match="C must be a positive number, got 0.0"):
        implicit_bias.max_margin_direction(X, y, C=0.0)


def test_log_spaced_steps():
    assert train.log_spaced_steps(1000, 1) == [1, 10, 100, 1000]
    steps = train.log_spaced_steps(1000, 10)
    assert steps[0] == 1 and steps[-1] == 1000 and steps == sorted(set(steps))
    assert {10, 100, 1000} <= set(steps) and len(steps) <= 31
    assert train.log_spaced_steps(50, 2)[-1] == 50
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        train.log_spaced_steps(0)
    with pytest.raises(ValueError, match="per_decade must be a positive integer, got 0"):
        train.log_spaced_steps(100, 0)
    with pytest.raises(TypeError, match="per_decade must be a positive integer, got True"):
        train.log_spaced_steps(100, True)
    with pytest.raises(TypeError, match="steps must be a positive integer, got 100.0"):
        train.log_spaced_steps(100.0)


def linear_model(d):
    model = nn.Linear(d, 1, bias=False, dtype=F64)
    with torch.no_grad():
        model.weight.zero_()
    return model


@pytest.mark.parametrize("optimizer, batch_size", [("gd", None), ("normalized_gd", None), ("adam", None),
                                                   ("sgd", 4)])
def test_recording_at_log_spaced_steps_equals_one_run_recorded_at_every_step(wide, optimizer, batch_size):
    """One run records at the log-spaced steps: stateful and stochastic optimizers are no exception."""
    X, y = wide
    one, sparse = linear_model(20), linear_model(20)
    history = train.fit(one, X, y, loss="exp", optimizer=optimizer, lr=0.5, steps=100, batch_size=batch_size,
                        record_every=1, progress=False)
    at = train.log_spaced_steps(100, 5)
    log = train.fit(sparse, X, y, loss="exp", optimizer=optimizer, lr=0.5, steps=100, batch_size=batch_size,
                    record_at=at, progress=False)
    # recording does not change the run: the same weights, bit for bit
    torch.testing.assert_close(sparse.weight, one.weight, rtol=0, atol=0)
    assert log["step"].tolist() == [0] + at
    rows = log["step"]
    for column in ("loss", "frob_1", "margin_min", "distance_from_init"):
        np.testing.assert_allclose(log[column], history[column][rows], rtol=1e-10, atol=1e-14)


def test_record_at_adds_the_first_and_last_steps_and_refuses_what_conflicts(wide):
    X, y = wide
    log = train.fit(linear_model(20), X, y, loss="exp", lr=1.0, steps=30, record_at=[3, 10, 10], progress=False)
    assert log["step"].tolist() == [0, 3, 10, 30]
    with pytest.raises(ValueError, match="give record_every or record_at, not both"):
        train.fit(linear_model(20), X, y, loss="exp", lr=1.0, steps=10, record_every=2, record_at=[1, 5])
    with pytest.raises(ValueError, match="a step of record_at must be"):
        train.fit(linear_model(20), X, y, loss="exp", lr=1.0, steps=10, record_at=train.log_spaced_steps(100))


@pytest.mark.parametrize("lam", [1e-1, 1e-3, 1e-5])
def test_regularized_minimizer_matches_bfgs_and_fit(wide, lam):
    X, y = wide
    w = implicit_bias.regularized_minimizer(X, y, lam)
    A = (y[:, None] * X).numpy()

    def F(v):
        e = np.exp(-A @ v)
        return e.mean() + 0.5 * lam * v @ v, -(A.T @ e) / len(e) + lam * v

    res = minimize(F, np.zeros(A.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    assert np.linalg.norm(w.numpy() - res.x) / np.linalg.norm(res.x) < 1e-5
    if lam >= 1e-3:  # gradient descent with weight decay converges to the same point
        model = linear_model(20)
        lr = 1.0 / torch.linalg.eigvalsh(X.T @ X / X.shape[0]).max().item()
        train.fit(model, X, y, loss="exp", lr=lr, weight_decay=lam, steps=int(60 / (lr * lam)), progress=False)
        torch.testing.assert_close(model.weight.detach().reshape(-1), w, rtol=1e-7, atol=1e-9)


def test_regularized_minimizer_refuses_bad_input(wide):
    with pytest.raises(ValueError, match="lam must be a positive number, got 0.0"):
        implicit_bias.regularized_minimizer(*wide, 0.0)
    with pytest.raises(TypeError, match="lam must be a positive number, got '0.1'"):
        implicit_bias.regularized_minimizer(*wide, "0.1")
    with pytest.raises(TypeError, match="max_iter must be a positive integer, got 10.0"):
        implicit_bias.regularized_minimizer(*wide, 0.1, max_iter=10.0)
    with pytest.raises(RuntimeError, match="did not converge in 1 iterations"):
        implicit_bias.regularized_minimizer(*wide, 1e-5, max_iter=1)


def test_regularized_minimizer_does_not_stall_at_rounding_level():
    """On these data (seed 7000 of the margins section) the line search used to stall once the
    decrease fell below F's rounding, with the gradient at 4e-11, and raise after 200 iterations."""
    X, y, _ = data.separable(20, 50, margin=0.1, seed=7000, dtype=torch.float64)
    w = implicit_bias.regularized_minimizer(X, y, 1e-2)
    A = (y[:, None] * X).numpy()
    grad = -(A.T @ np.exp(-A @ w.numpy())) / 20 + 1e-2 * w.numpy()
    assert np.linalg.norm(grad) < 1e-14


# --------------------------------------------------------------------------- exp_loss_gd, exp_loss_hessian


def random_starts(k, d, seed=0):
    "k random points on the unit sphere of R^d."
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(k, d, generator=g, dtype=F64)
    return u / u.norm(dim=1, keepdim=True)


def inverse_curvature(X):
    return 1.0 / torch.linalg.eigvalsh(X.T @ X / X.shape[0]).max().item()


def run_fit(X, y, w0, lr, phases):
    """train.fit on a linear model, one call per (steps, weight_decay) phase."""
    model = linear_model(X.shape[1])
    with torch.no_grad():
        model.weight.copy_(w0.reshape(1, -1))
    for steps, lam in phases:
        train.fit(model, X, y, loss="exp", lr=lr, weight_decay=lam, steps=steps, progress=False)
    return model.weight.detach().reshape(-1)


@pytest.mark.parametrize("lam, lam_from", [(0.0, 0), (1e-2, 0), (1e-2, 40)])
def test_exp_loss_gd_is_the_update_of_fit_from_every_start(wide, lam, lam_from):
    X, y = wide
    starts = random_starts(3, 20)
    run = implicit_bias.exp_loss_gd(X, y, starts, lr=0.7, steps=100, record_at=[7, 40], lam=lam,
                                    lam_from=lam_from)
    assert run["step"].tolist() == [0, 7, 40, 100]
    assert run["w"].shape == (4, 3, 20) and run["loss"].shape == (4, 3)
    torch.testing.assert_close(run["w"][0], starts, rtol=0, atol=0)
    for k in range(3):
        phases = [(lam_from, 0.0), (100 - lam_from, lam)] if lam_from else [(100, lam)]
        torch.testing.assert_close(run["w"][-1, k], run_fit(X, y, starts[k], 0.7, phases),
                                   rtol=1e-12, atol=1e-12)
        A = y[:, None] * X
        np.testing.assert_allclose(run["loss"][:, k], torch.exp(-(A @ run["w"][:, k].T)).mean(0).numpy(),
                                   rtol=1e-13)
    one = implicit_bias.exp_loss_gd(X, y, starts[1], lr=0.7, steps=100, lam=lam, lam_from=lam_from)
    torch.testing.assert_close(one["w"][-1, 0], run["w"][-1, 1], rtol=0, atol=1e-13)


def test_exp_loss_gd_conserves_the_start_off_the_span_of_the_data(wide):
    """d > n: the part of w off the span of the examples never moves, so runs from two starts stay at
    least as far apart as those parts, while both turn towards the SVM direction."""
    X, y = wide
    starts = 3 * random_starts(2, 20, seed=1)
    run = implicit_bias.exp_loss_gd(X, y, starts, lr=inverse_curvature(X), steps=3000, record_at=[30, 300])
    span = X.T @ torch.linalg.solve(X @ X.T, X)
    off = run["w"] - run["w"] @ span
    torch.testing.assert_close(off, off[:1].expand_as(off), rtol=0, atol=1e-12)
    floor = (off[0, 0] - off[0, 1]).norm()
    assert ((run["w"][:, 0] - run["w"][:, 1]).norm(dim=1) >= floor - 1e-12).all()
    w_hat = implicit_bias.max_margin_direction(X, y)
    angles = [[implicit_bias.angle_between(w, w_hat) for w in row] for row in run["w"][1:]]
    assert np.all(np.diff(angles, axis=0) < 0)
    assert np.all(np.diff(run["loss"], axis=0) < 0)


def test_exp_loss_gd_with_a_late_penalty_reaches_the_regularized_minimizer(wide):
    X, y = wide
    lam, lr = 1e-2, inverse_curvature(X)
    run = implicit_bias.exp_loss_gd(X, y, 3 * random_starts(3, 20, seed=2), lr=lr, lam=lam, lam_from=500,
                                    steps=500 + math.ceil(30 / (lr * lam)))
    w_lam = implicit_bias.regularized_minimizer(X, y, lam)
    for w in run["w"][-1]:
        assert (w - w_lam).norm() / w_lam.norm() < 1e-9


def test_exp_loss_gd_refuses_bad_input(wide):
    X, y = wide
    with pytest.raises(ValueError, match=r"starts must have shape \(K, 20\)"):
        implicit_bias.exp_loss_gd(X, y, torch.zeros(2, 19, dtype=F64), lr=1.0, steps=3)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        implicit_bias.exp_loss_gd(X, y, torch.zeros(20, dtype=F64), lr=0.0, steps=3)
    with pytest.raises(TypeError, match="steps must be a positive integer"):
        implicit_bias.exp_loss_gd(X, y, torch.zeros(20, dtype=F64), lr=1.0, steps=3.0)
    with pytest.raises(ValueError, match="a step of record_at"):
        implicit_bias.exp_loss_gd(X, y, torch.zeros(20, dtype=F64), lr=1.0, steps=3, record_at=[5])
    with pytest.raises(ValueError, match="lam must be a non-negative number"):
        implicit_bias.exp_loss_gd(X, y, torch.zeros(20, dtype=F64), lr=1.0, steps=3, lam=-1.0)


@pytest.mark.parametrize("lam", [0.0, 1e-3])
def test_exp_loss_hessian_matches_autograd(wide, lam):
    X, y = wide
    w = random_starts(1, 20, seed=3)[0]

    def F(v):
        return torch.exp(-y * (X @ v)).mean() + 0.5 * lam * v @ v

    torch.testing.assert_close(implicit_bias.exp_loss_hessian(X, y, w, lam), torch.func.hessian(F)(w),
                               rtol=1e-12, atol=1e-14)


def test_exp_loss_hessian_spectrum_d_minus_n_zeros_and_lambda(wide):
    """The notebook's spectral facts, which are algebra: without the penalty d - n eigenvalues vanish and
    the rest shrink along gradient descent; with it the smallest eigenvalue is lambda itself (d > n)."""
    X, y = wide
    n, d = X.shape
    lam = 1e-3
    start = implicit_bias.exp_loss_hessian(X, y, torch.zeros(d, dtype=F64))
    end_w = implicit_bias.exp_loss_gd(X, y, torch.zeros(d, dtype=F64), lr=inverse_curvature(X),
                                      steps=2000)["w"][-1, 0]
    at_start, at_end = (torch.linalg.eigvalsh(H) for H in (start, implicit_bias.exp_loss_hessian(X, y, end_w)))
    assert int((at_end < 1e-10 * at_end.max()).sum()) == d - n
    assert int((at_start < 1e-10 * at_start.max()).sum()) == d - n
    assert at_end.max() < 1e-2 * at_start.max()
    for w in (implicit_bias.regularized_minimizer(X, y, lam), end_w):
        smallest = torch.linalg.eigvalsh(implicit_bias.exp_loss_hessian(X, y, w, lam)).min().item()
        assert smallest == pytest.approx(lam, rel=1e-9)
    with pytest.raises(ValueError, match="w has 19 entries"):
        implicit_bias.exp_loss_hessian(X, y, torch.zeros(19, dtype=F64))
