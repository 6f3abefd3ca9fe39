"""ntk.linearize and ntk.kernel_regression against independent computations: central finite differences,
Jacobians by vmap(jacrev), numpy.linalg.solve / pinv / lstsq, scipy's matrix exponential, scikit-learn's
KernelRidge, and gradient descent written out as a loop."""

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.kernel_ridge import KernelRidge
from torch import nn

from dltheory import ntk, train
from dltheory.models import mlp
from dltheory.params import as_function, flat_parameters

DT = torch.float64


def smooth_net(seed=0, out=1):
    return mlp([3, 7, 5, out], activation="tanh", parametrization="ntk", bias_var=0.1, seed=seed, dtype=DT)


def inputs(n=6, d=3, seed=1):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=DT)


def spd(n, seed=0, rank=None):
    g = torch.Generator().manual_seed(seed)
    F = torch.randn(n, rank or n + 2, generator=g, dtype=DT)
    return F @ F.T


# --------------------------------------------------------------------------- linearize


def test_the_linearisation_starts_at_the_network_and_has_one_flat_parameter():
    net, X = smooth_net(), inputs()
    lin = ntk.linearize(net)
    assert [name for name, _ in lin.named_parameters()] == ["theta"]
    torch.testing.assert_close(lin.theta.detach(), flat_parameters(net))
    torch.testing.assert_close(lin(X), net(X), rtol=0, atol=1e-14)


@pytest.mark.parametrize("out", [1, 2])
def test_the_tangent_term_is_the_jacobian_times_the_step(out):
    """J v by jvp, against ntk.jacobian (vmap of jacrev) and a central finite difference of the network."""
    net, X = smooth_net(out=out), inputs()
    lin = ntk.linearize(net)
    theta0 = flat_parameters(net)
    v = torch.randn(theta0.shape, generator=torch.Generator().manual_seed(5), dtype=DT)
    with torch.no_grad():
        lin.theta.copy_(theta0 + v)
        tangent = (lin(X) - net(X)).reshape(X.shape[0], -1)
    J = ntk.jacobian(net, X)  # (n, out, P)
    torch.testing.assert_close(tangent, torch.einsum("nap,p->na", J, v), rtol=1e-10, atol=1e-12)
    f, h = as_function(net), 1e-5
    with torch.no_grad():
        fd = (f(theta0 + h * v, X) - f(theta0 - h * v, X)) / (2 * h)
    torch.testing.assert_close(tangent, fd.reshape(X.shape[0], -1), rtol=1e-7, atol=1e-8)


def test_a_linear_model_is_its_own_linearisation():
    net = nn.Linear(4, 2).double()
    lin = ntk.linearize(net)
    step = torch.randn(flat_parameters(net).shape, generator=torch.Generator().manual_seed(2), dtype=DT)
    with torch.no_grad():
        lin.theta.add_(step)
        torch.nn.utils.vector_to_parameters(flat_parameters(net) + step, net.parameters())
    X = inputs(5, 4)
    torch.testing.assert_close(lin(X), net(X), rtol=1e-12, atol=1e-12)


def test_to_and_double_move_the_frozen_copy_with_theta():
    """A float32 linearisation cast by .double() computes what the float64 one does, and .to() keeps it a copy."""
    net = mlp([3, 7, 5, 1], activation="tanh", parametrization="ntk", bias_var=0.1, seed=0)
    lin32 = ntk.linearize(net)
    lin = lin32.double()
    assert lin is lin32 and lin.theta.dtype == lin.theta0.dtype == DT
    assert all(p.dtype == DT for p in lin._base.parameters())
    X = inputs()
    torch.testing.assert_close(lin(X), ntk.linearize(net.double())(X), rtol=1e-12, atol=1e-12)
    assert lin.to("cpu", torch.float32)(X.float()).dtype == torch.float32
    assert [name for name, _ in lin.named_parameters()] == ["theta"]


def test_the_linearisation_is_a_copy_and_its_kernel_never_changes():
    net, X = smooth_net(), inputs()
    lin = ntk.linearize(net)
    K0 = ntk.empirical_ntk(net, X)
    before = lin(X).detach()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)  # training the original afterwards leaves the linearisation alone
    torch.testing.assert_close(lin(X).detach(), before)
    train.fit(lin, X, torch.ones(X.shape[0], 1, dtype=DT), loss="square", lr=0.5, steps=5, progress=False)
    assert not torch.equal(lin.theta.detach(), lin.theta0)
    torch.testing.assert_close(ntk.empirical_ntk(lin, X), K0, rtol=1e-10, atol=1e-12)


def test_training_the_linearisation_is_kernel_regression_with_its_ntk():
    """train.fit on the module against the closed form for gradient descent (step lr / n, k steps)."""
    net, X, X_test = smooth_net(seed=3), inputs(8), inputs(5, seed=9)
    y = torch.sin(X.sum(1, keepdim=True))
    lin = ntk.linearize(net)
    lr, k, n = 0.7, 25, X.shape[0]
    with torch.no_grad():
        f0, f0_test = net(X).squeeze(1), net(X_test).squeeze(1)
    train.fit(lin, X, y, loss="square", lr=lr, steps=k, progress=False)
    closed = ntk.kernel_regression(ntk.empirical_ntk(net, X), ntk.empirical_ntk(net, X_test, X), y.squeeze(1),
                                   t=k, step_size=lr / n, f0_train=f0, f0_test=f0_test)
    torch.testing.assert_close(lin(X_test).detach().squeeze(1), closed, rtol=1e-10, atol=1e-12)


def test_batch_statistics_are_refused():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
    with pytest.raises(ValueError, match="batch statistics"):
        ntk.linearize(net)


# --------------------------------------------------------------------------- kernel_regression


def test_ridgeless_limit_is_a_linear_solve_on_the_residual():
    K = spd(7, seed=1)
    K_full = spd(10, seed=2)
    K_train, K_test = K_full[:7, :7], K_full[7:, :7]
    g = torch.Generator().manual_seed(3)
    y, f0, f0_test = (torch.randn(s, generator=g, dtype=DT) for s in (7, 7, 3))
    got = ntk.kernel_regression(K_train, K_test, y, f0_train=f0, f0_test=f0_test)
    want = f0_test.numpy() + K_test.numpy() @ np.linalg.solve(K_train.numpy(), (y - f0).numpy())
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9)
    torch.testing.assert_close(ntk.kernel_regression(K, K, y), y, rtol=1e-9, atol=1e-10)  # interpolates
    Y = torch.stack([y, 2 * y], dim=1)  # several outputs: column by column
    torch.testing.assert_close(ntk.kernel_regression(K, K, Y, t=float("inf")), Y, rtol=1e-9, atol=1e-10)


def test_ridge_matches_scikit_learn_and_tends_to_the_ridgeless_solution():
    K_full = spd(12, seed=4)
    K_train, K_test = K_full[:9, :9], K_full[9:, :9]
    y = torch.randn(9, generator=torch.Generator().manual_seed(5), dtype=DT)
    for ridge in (0.3, 1e-10):
        ref = KernelRidge(alpha=ridge, kernel="precomputed").fit(K_train.numpy(), y.numpy())
        got = ntk.kernel_regression(K_train, K_test, y, ridge=ridge)
        np.testing.assert_allclose(got.numpy(), ref.predict(K_test.numpy()), rtol=1e-7)
    np.testing.assert_allclose(ntk.kernel_regression(K_train, K_test, y, ridge=1e-10).numpy(),
                               ntk.kernel_regression(K_train, K_test, y).numpy(), rtol=1e-6)


def test_finite_time_is_the_matrix_exponential_of_gradient_flow():
    K_full = spd(9, seed=6)
    K_train, K_test = K_full[:6, :6] / 10, K_full[6:, :6] / 10
    g = torch.Generator().manual_seed(7)
    y, f0, f0_test = (torch.randn(s, generator=g, dtype=DT) for s in (6, 6, 3))
    for t, ridge in [(0.0, 0.0), (0.7, 0.0), (4.0, 0.2)]:
        A = K_train.numpy() + ridge * np.eye(6)
        alpha = np.linalg.solve(A, (np.eye(6) - scipy.linalg.expm(-A * t)) @ (y - f0).numpy())
        want = f0_test.numpy() + K_test.numpy() @ alpha
        got = ntk.kernel_regression(K_train, K_test, y, t, f0_train=f0, f0_test=f0_test, ridge=ridge)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12)


def test_gradient_descent_steps_match_a_loop_in_parameter_space():
    """Explicit features Phi (K = Phi Phi^T): gradient descent on 1/2 |f0 + Phi w - y|^2 + rho/2 |w|^2."""
    g = torch.Generator().manual_seed(8)
    Phi = torch.randn(10, 4, generator=g, dtype=DT)  # 7 training rows, 3 test rows; P = 4 < n: K singular
    y, f0 = torch.randn(7, generator=g, dtype=DT), torch.randn(10, generator=g, dtype=DT)
    K = Phi @ Phi.T
    for ridge, step, k in [(0.0, 0.02, 37), (0.5, 0.05, 12)]:
        w = torch.zeros(4, dtype=DT)
        for _ in range(k):
            w = w - step * (Phi[:7].T @ (f0[:7] + Phi[:7] @ w - y) + ridge * w)
        got = ntk.kernel_regression(K[:7, :7], K[7:, :7], y, k, step_size=step, f0_train=f0[:7],
                                    f0_test=f0[7:], ridge=ridge)
        torch.testing.assert_close(got, f0[7:] + Phi[7:] @ w, rtol=1e-10, atol=1e-12)
        alpha = ntk.kernel_weights(K[:7, :7], y, k, step_size=step, f0_train=f0[:7], ridge=ridge)
        torch.testing.assert_close(Phi[:7].T @ alpha, w, rtol=1e-10, atol=1e-12)


def test_the_limit_with_a_singular_kernel_is_the_minimum_norm_interpolant():
    g = torch.Generator().manual_seed(9)
    Phi = torch.randn(8, 3, generator=g, dtype=DT)  # rank 3 < 6 training points
    y = torch.randn(6, generator=g, dtype=DT)
    K = Phi @ Phi.T
    alpha = ntk.kernel_weights(K[:6, :6], y)
    w_min, *_ = np.linalg.lstsq(Phi[:6].numpy(), y.numpy(), rcond=None)
    np.testing.assert_allclose((Phi[:6].T @ alpha).numpy(), w_min, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ntk.kernel_regression(K[:6, :6], K[6:, :6], y).numpy(),
                               K[6:, :6].numpy() @ np.linalg.pinv(K[:6, :6].numpy()) @ y.numpy(), rtol=1e-7)
    # at finite time a zero eigenvalue gains t: the flow moves nothing along it, but stays finite
    assert torch.isfinite(ntk.kernel_weights(K[:6, :6], y, 3.0)).all()


def test_the_distance_travelled_is_the_rkhs_norm():
    """|theta_inf - theta_0|^2 = alpha^T K alpha = r0^T K^{-1} r0 for the minimum-norm interpolant."""
    g = torch.Generator().manual_seed(10)
    Phi = torch.randn(5, 9, generator=g, dtype=DT)
    y = torch.randn(5, generator=g, dtype=DT)
    K = Phi @ Phi.T
    alpha = ntk.kernel_weights(K, y)
    w_min, *_ = np.linalg.lstsq(Phi.numpy(), y.numpy(), rcond=None)
    assert float(alpha @ K @ alpha) == pytest.approx(float(np.sum(w_min**2)), rel=1e-9)
    assert float(alpha @ K @ alpha) == pytest.approx(float(y @ torch.linalg.solve(K, y)), rel=1e-9)


def test_bad_inputs_are_named():
    K, y = spd(4), torch.zeros(4, dtype=DT)
    with pytest.raises(ValueError, match="K_train must be square"):
        ntk.kernel_regression(K[:3], K, y)
    with pytest.raises(ValueError, match="one column per training example"):
        ntk.kernel_regression(K, K[:, :3], y)
    with pytest.raises(ValueError, match="y must have shape"):
        ntk.kernel_regression(K, K, torch.zeros(3, dtype=DT))
    with pytest.raises(ValueError, match="symmetric"):
        ntk.kernel_regression(K + torch.triu(torch.ones(4, 4, dtype=DT), 1), K, y)
    with pytest.raises(TypeError, match="number of steps"):
        ntk.kernel_regression(K, K, y, 1.5, step_size=0.1)
    with pytest.raises(ValueError, match="t"):
        ntk.kernel_regression(K, K, y, -1.0)
    with pytest.raises(ValueError, match="f0_test must have shape"):
        ntk.kernel_regression(K, K, y, f0_test=torch.zeros(3, dtype=DT))
