"""dltheory.implicit_bias beyond the separable case, against independent computations: the losses
against finite differences and train.fit's losses; the separable subset against brute force;
the risk minimiser against scipy's BFGS and long gradient descent; the residual limit against its
defining equations and a long run; the polynomial-tail direction against SLSQP on the sphere."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from dltheory import data, implicit_bias, losses
from dltheory.sections import ch4_max_margin_beyond_separability as section

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tall():
    X, y, _ = data.separable(40, 3, margin=0.1, seed=0, dtype=F64)
    return X, y


@pytest.fixture(scope="module")
def overlapping():
    return section.overlapping_data(60, seed=1)


@pytest.mark.parametrize("name", ["exp", "logistic", "poly"])
def test_margin_loss_derivatives_match_finite_differences(name):
    value, slope, curv = implicit_bias.margin_loss(name, poly_k=1.5)
    u = np.array([-2.0, -0.3, 0.4, 0.9, 1.3, 2.5, 7.0])
    h = 1e-6
    assert np.allclose(-(value(u + h) - value(u - h)) / (2 * h), slope(u), rtol=1e-6, atol=1e-9)
    assert np.allclose(-(slope(u + h) - slope(u - h)) / (2 * h), curv(u), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ["exp", "logistic"])
def test_margin_loss_agrees_with_the_training_losses(name):
    m = torch.linspace(-3, 5, 17, dtype=F64)
    ours = implicit_bias.margin_loss(name)[0](m.numpy()).mean()
    theirs = losses.resolve(name)(m, torch.ones_like(m)).item()
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_the_polynomial_loss_has_a_polynomial_tail():
    value = implicit_bias.margin_loss("poly", poly_k=2.0)[0]
    assert value(np.array([10.0]))[0] == pytest.approx(1e-2)
    assert value(np.array([0.0]))[0] == pytest.approx(3.0)  # the tangent line 1 + k(1 - u)


def test_gd_with_the_logistic_loss_is_the_closed_form_update(overlapping):
    X, y = overlapping
    w = np.array([0.3, -0.2, 0.1])
    run = implicit_bias.exp_loss_gd(X, y, w, lr=0.5, steps=1, loss="logistic")
    A = y[:, None] * X
    expected = w + 0.5 * (A.T @ (1 / (1 + np.exp(A @ w)))) / len(y)
    assert np.allclose(run["w"][-1, 0].numpy(), expected, rtol=1e-14)


def test_separable_subset_all_none_and_part(tall, overlapping):
    X, y = tall
    assert implicit_bias.separable_subset(X, y).all()
    assert not implicit_bias.separable_subset(*overlapping).any()
    Xp, yp = section.partially_separable_data(30, 20, seed=0)
    assert (implicit_bias.separable_subset(Xp, yp) == np.r_[np.zeros(30, bool), np.ones(20, bool)]).all()


def test_separable_subset_against_brute_force_in_the_plane():
    """In 2-D, a direction is a point on the circle: a fine grid plus the boundary normals finds every subset."""
    rng = np.random.default_rng(5)
    for _ in range(5):
        X = rng.normal(size=(7, 2))
        y = rng.choice([-1.0, 1.0], size=7)
        A = y[:, None] * X
        normals = np.concatenate([A @ np.array([[0, 1], [-1, 0]]), A @ np.array([[0, -1], [1, 0]])])
        angles = np.linspace(0, 2 * np.pi, 20001)
        cands = np.concatenate([normals, np.column_stack([np.cos(angles), np.sin(angles)])])
        best = np.zeros(7, bool)
        for u in cands:
            m = A @ u
            if (m >= -1e-12).all():
                best |= m > 1e-12
        assert (implicit_bias.separable_subset(X, y) == best).all()


@pytest.mark.parametrize("name", ["logistic", "exp"])
def test_margin_loss_minimizer_against_bfgs_and_gradient_descent(overlapping, name):
    X, y = overlapping
    w = implicit_bias.margin_loss_minimizer(X, y, name).numpy()
    value = implicit_bias.margin_loss(name)[0]
    A = y[:, None] * X
    bfgs = minimize(lambda v: value(A @ v).mean(), np.zeros(3), method="BFGS", options={"gtol": 1e-10}).x
    assert np.linalg.norm(w - bfgs) / np.linalg.norm(w) < 1e-5
    lam = np.linalg.eigvalsh(X.T @ X / len(y)).max()
    run = implicit_bias.exp_loss_gd(X, y, np.zeros(3), lr=1 / lam, steps=3000, loss=name)
    assert np.linalg.norm(run["w"][-1, 0].numpy() - w) / np.linalg.norm(w) < 1e-9


def test_margin_loss_minimizer_refuses_separable_and_rank_deficient_data(tall, overlapping):
    with pytest.raises(ValueError, match="no finite minimiser"):
        implicit_bias.margin_loss_minimizer(*tall)
    X, y = overlapping
    with pytest.raises(ValueError, match="span only 3 of 4"):
        implicit_bias.margin_loss_minimizer(np.hstack([X, X[:, :1]]), y)


def test_max_margin_direction_refuses_non_separable_data(overlapping):
    with pytest.raises(ValueError, match="not linearly separable"):
        implicit_bias.max_margin_direction(*overlapping)
    with pytest.raises(ValueError, match="not linearly separable"):
        implicit_bias.residual_limit(*overlapping, lr=1.0)
    with pytest.raises(ValueError, match="not linearly separable"):
        implicit_bias.polynomial_tail_direction(*overlapping)


def test_residual_limit_solves_its_equations_and_a_long_run_reaches_it(tall):
    X, y = tall
    n = X.shape[0]
    lr = 1 / torch.linalg.eigvalsh(X.T @ X / n).max().item()
    limit = implicit_bias.residual_limit(X, y, lr)
    w_hat = implicit_bias.max_margin_direction(X, y).numpy()
    Z = (y[:, None] * X).numpy()[limit.support]
    assert np.allclose(Z.T @ limit.alpha, w_hat, rtol=1e-10)
    assert np.allclose(lr / n * np.exp(-Z @ limit.w_tilde.numpy()), limit.alpha, rtol=1e-10)
    run = implicit_bias.exp_loss_gd(X, y, np.zeros(3), lr=lr, steps=100_000)
    rho = run["w"][-1, 0].numpy() - math.log(100_000) * w_hat
    assert np.linalg.norm(rho - limit.w_tilde.numpy()) / np.linalg.norm(limit.w_tilde.numpy()) < 0.2


def test_polynomial_tail_direction_against_slsqp_on_the_sphere(tall):
    X, y = tall
    A = (y[:, None] * X).numpy()
    v = implicit_bias.polynomial_tail_direction(X, y, 2.0).numpy()
    w0 = implicit_bias.max_margin_direction(X, y).numpy()
    res = minimize(lambda w: ((A @ w) ** -2.0).sum(), w0 / np.linalg.norm(w0), method="SLSQP",
                   constraints=[{"type": "eq", "fun": lambda w: w @ w - 1}], options={"ftol": 1e-15, "maxiter": 500})
    assert implicit_bias.angle_between(v, res.x) < 1e-3
    assert implicit_bias.angle_between(v, w0) > 0.1  # not the max-margin direction


def test_nonseparable_decomposition_of_the_three_cases(tall, overlapping):
    X, y = tall
    split = implicit_bias.nonseparable_decomposition(X, y)
    assert split.basis.shape == (3, 0) and split.offset.abs().max() == 0
    assert torch.allclose(split.direction, implicit_bias.max_margin_direction(X, y))
    split = implicit_bias.nonseparable_decomposition(*overlapping)
    assert split.basis.shape == (3, 3) and split.direction.abs().max() == 0
    assert torch.allclose(split.offset, implicit_bias.margin_loss_minimizer(*overlapping), rtol=1e-8)
    Xp, yp = section.partially_separable_data(30, 20, seed=0)
    split = implicit_bias.nonseparable_decomposition(Xp, yp)
    assert np.allclose(np.abs(split.basis[2:]), 0, atol=1e-12)  # S is the plane of the first two coordinates
    assert split.offset[2:].abs().max() < 1e-12 and split.direction[:2].abs().max() < 1e-12
    restricted = implicit_bias.margin_loss_minimizer(Xp[:30, :2], yp[:30])
    assert torch.allclose(split.offset[:2], restricted, rtol=1e-8)
