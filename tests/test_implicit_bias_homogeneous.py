"""Lyu-Li smoothed margin and the approximate KKT residual of dltheory.implicit_bias."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import data, implicit_bias, models

pytestmark = pytest.mark.usefixtures("one_thread")


def linear_model(w: torch.Tensor) -> nn.Module:
    net = nn.Linear(len(w), 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(w[None, :])
    return net


def test_kkt_residual_is_zero_at_the_max_margin_solution():
    X, y, _ = data.separable(15, 8, margin=0.1, seed=3, dtype=torch.float64)
    w_hat = implicit_bias.max_margin_direction(X, y)
    for scale in (1.0, 7.5):  # any positive multiple is rescaled to margin 1
        k = implicit_bias.kkt_residual(linear_model(scale * w_hat), X, y, degree=1, support_tol=1.0 + 1e-6)
        assert k.epsilon < 1e-8
        assert abs(k.delta) < 1e-6
        assert k.margins.min() == pytest.approx(1.0)
        # the multipliers are those of the SVM: w_hat = sum_i lambda_i y_i x_i
        np.testing.assert_allclose((k.multipliers * y.numpy()) @ X.numpy(), w_hat.numpy(), atol=1e-8)


def test_kkt_residual_is_positive_off_the_max_margin_direction():
    X, y, w_star = data.separable(15, 8, margin=0.1, seed=3, dtype=torch.float64)
    k = implicit_bias.kkt_residual(linear_model(w_star), X, y, degree=1, support_tol=1.0 + 1e-6)
    assert 0.05 < k.epsilon <= 1.0
    everyone = implicit_bias.kkt_residual(linear_model(w_star), X, y, degree=1)
    assert everyone.support.all() and everyone.epsilon <= k.epsilon + 1e-12


def test_kkt_residual_against_hand_gradients_of_a_relu_network():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(12, 3, generator=g, dtype=torch.float64)
    net = models.mlp([3, 6, 1], bias=False, seed=1, dtype=torch.float64)
    y = torch.sign(net(X).detach().reshape(-1))
    k = implicit_bias.kkt_residual(net, X, y, degree=2)
    W, a = net[0].weight.detach().numpy(), net[2].weight.detach().numpy()[0]
    q = y.numpy() * (np.maximum(X.numpy() @ W.T, 0) @ a)
    s = q.min() ** -0.5
    Ws, as_ = s * W, s * a
    Z = X.numpy() @ Ws.T
    J = np.concatenate([((Z > 0) * as_)[:, :, None] * X.numpy()[:, None, :], np.maximum(Z, 0)[:, :, None]],
                       axis=2)
    J = np.concatenate([J[:, :, :3].reshape(12, -1), J[:, :, 3]], axis=1) * y.numpy()[:, None]
    theta = np.concatenate([Ws.ravel(), as_])
    residual = np.linalg.norm(theta - J.T @ k.multipliers) / np.linalg.norm(theta)
    assert k.epsilon == pytest.approx(residual, rel=1e-9)
    assert (k.multipliers >= 0).all()
    np.testing.assert_allclose(k.margins, q / q.min())


def test_smoothed_margin_formulas():
    q = np.array([0.5, 1.0, 3.0])
    rho, L = 2.0, 2
    assert implicit_bias.smoothed_margin(q, rho, L) == pytest.approx(-math.log(np.exp(-q).sum()) / rho**L)
    total = np.log1p(np.exp(-q)).sum()
    assert implicit_bias.smoothed_margin(q, rho, L, loss="logistic") == pytest.approx(
        -math.log(math.expm1(total)) / rho**L)
    # a lower bound on the normalised margin, within log(n) / rho^L
    big = 50 * q
    gam = implicit_bias.smoothed_margin(big, rho, L)
    assert big.min() / rho**L - math.log(3) / rho**L <= gam <= big.min() / rho**L
    # no overflow for huge margins
    assert math.isfinite(implicit_bias.smoothed_margin(np.array([1e4, 2e4]), 1.0, 1))


def test_bad_inputs():
    with pytest.raises(ValueError, match="loss"):
        implicit_bias.smoothed_margin([1.0], 1.0, 1, loss="square")
    with pytest.raises(ValueError, match="param_norm"):
        implicit_bias.smoothed_margin([1.0], 0.0, 1)
    with pytest.raises(ValueError, match="NaN|finite"):
        implicit_bias.smoothed_margin([np.nan], 1.0, 1)
    X, y, w = data.separable(5, 3, seed=0, dtype=torch.float64)
    with pytest.raises(ValueError, match="classified correctly"):
        implicit_bias.kkt_residual(linear_model(-w), X, y, degree=1)
    with pytest.raises(ValueError, match="support_tol"):
        implicit_bias.kkt_residual(linear_model(w), X, y, degree=1, support_tol=0.5)
    with pytest.raises(TypeError):
        implicit_bias.kkt_residual("net", X, y, degree=1)
