"""dltheory.gauss_newton: the min-norm oracle, the quadratic constant and the cost model, against independent computations.

The Gram-Gauss-Newton step of :class:`dltheory.train.GramGaussNewton` is held
to ``numpy.linalg.lstsq`` on an explicit Jacobian (:func:`dltheory.ntk.jacobian`).
"""

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import gauss_newton, models, ntk, train


def flat(model):
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def one_step(model, X, y, **kw):
    before = flat(model)
    train.GramGaussNewton(model, **kw).step(X, y)
    return (flat(model) - before).numpy()


def residual(model, X, y):
    with torch.no_grad():
        return (model(X) - y.reshape(model(X).shape)).numpy()


def test_min_norm_step_is_the_pseudo_inverse_solution_of_the_normal_equations():
    rng = np.random.default_rng(1)
    J, r = rng.standard_normal((6, 15)), rng.standard_normal(6)
    step = gauss_newton.min_norm_step(J, r)
    np.testing.assert_allclose(step, -J.T @ np.linalg.solve(J @ J.T, r), rtol=1e-10)
    np.testing.assert_allclose(step, -np.linalg.pinv(J) @ r, rtol=1e-10)
    np.testing.assert_allclose(J.T @ J @ step, -J.T @ r, atol=1e-10)
    # any other solution adds a null-space vector of J and is longer
    null = np.linalg.svd(J)[2][-1]
    other = step + 0.3 * null
    np.testing.assert_allclose(J.T @ J @ other, -J.T @ r, atol=1e-10)
    assert np.linalg.norm(other) > np.linalg.norm(step)
    # a rank-deficient J: lstsq still gives the minimum-norm least-squares solution
    low = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 15))
    np.testing.assert_allclose(gauss_newton.min_norm_step(low, r), -np.linalg.pinv(low) @ r, atol=1e-10)


def test_min_norm_step_accepts_the_jacobian_layout_of_ntk_and_checks_shapes():
    rng = np.random.default_rng(2)
    J, r = rng.standard_normal((4, 2, 9)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(gauss_newton.min_norm_step(J, r),
                               gauss_newton.min_norm_step(J.reshape(8, 9), r.reshape(8)))
    with pytest.raises(ValueError, match="shape"):
        gauss_newton.min_norm_step(J.reshape(8, 9), r[:3])


def test_a_full_batch_ggn_step_is_the_lstsq_step_on_an_mlp():
    X = torch.randn(12, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    y = torch.sin(X.sum(1))
    net = models.mlp([4, 64, 1], activation="tanh", parametrization="ntk", bias=False, seed=4,
                     dtype=torch.float64)
    J = ntk.jacobian(net, X).numpy()
    oracle = gauss_newton.min_norm_step(J, residual(net, X, y))
    step = one_step(net, X, y, lr=1.0, damping=0.0)
    np.testing.assert_allclose(step, oracle, rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(step - oracle) <= 1e-10 * np.linalg.norm(oracle)


def test_a_ggn_step_with_lam_and_damping_is_the_stable_formula_with_an_explicit_jacobian():
    X = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.cos(X[:, 0])
    net = models.mlp([3, 16, 16, 1], activation="tanh", seed=6, dtype=torch.float64)
    J = ntk.jacobian(net, X).numpy()[:, 0]
    r = residual(net, X, y)[:, 0]
    lam, alpha, lr = 2.0, 0.3, 0.5
    expected = -lr * J.T @ np.linalg.solve(lam * J @ J.T + alpha * np.eye(7), r)
    np.testing.assert_allclose(one_step(net, X, y, lr=lr, lam=lam, damping=alpha), expected, rtol=1e-9, atol=1e-12)


def test_one_step_on_a_linear_model_from_zero_lands_on_the_minimum_norm_interpolant():
    g = torch.Generator().manual_seed(7)
    X, y = torch.randn(5, 12, dtype=torch.float64, generator=g), torch.randn(5, dtype=torch.float64, generator=g)
    model = nn.Linear(12, 1, bias=False, dtype=torch.float64)
    nn.init.zeros_(model.weight)
    one_step(model, X, y, lr=1.0, damping=0.0)
    w, *_ = np.linalg.lstsq(X.numpy(), y.numpy(), rcond=None)
    np.testing.assert_allclose(model.weight.detach().numpy()[0], w, rtol=1e-10)
    np.testing.assert_allclose(X.numpy() @ w, y.numpy(), atol=1e-10)


def test_a_ggn_step_on_a_network_with_several_outputs_is_the_lstsq_step():
    X = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    Y = torch.stack([X[:, 0], X[:, 1] * X[:, 2]], dim=1)
    net = models.mlp([3, 40, 2], activation="tanh", seed=9, dtype=torch.float64)
    oracle = gauss_newton.min_norm_step(ntk.jacobian(net, X).numpy(), residual(net, X, Y))
    np.testing.assert_allclose(one_step(net, X, Y, lr=1.0, damping=0.0), oracle, rtol=1e-9, atol=1e-12)


def test_quadratic_constants_recover_a_known_constant_and_drop_round_off():
    K = 0.05
    R = [3.0]
    for _ in range(6):
        R.append(K * R[-1] ** 2)
    got = gauss_newton.quadratic_constants(R, floor=1e-300)
    np.testing.assert_allclose(got, K, rtol=1e-12)
    assert got.size == 6
    # with the default floor 1e-24 the steps whose result is below it are dropped
    kept = gauss_newton.quadratic_constants(R)
    assert kept.size == sum(r > 1e-24 for r in R[1:])
    plateau = [1.0, 1e-3, 1e-6, 1e-30, 1e-30]
    np.testing.assert_allclose(gauss_newton.quadratic_constants(plateau), [1e-3, 1.0])
    for bad in ([1.0], [1.0, -1.0], [1.0, np.nan], [[1.0, 2.0]]):
        with pytest.raises(ValueError):
            gauss_newton.quadratic_constants(bad)


def test_step_flops_follow_the_stated_model():
    b, P = 32, 10_000
    assert gauss_newton.step_flops("sgd", b, P) == 3 * b * P
    assert gauss_newton.step_flops("gd", b, P) == 3 * b * P
    assert gauss_newton.step_flops("adam", b, P) == 3 * b * P + gauss_newton.ADAM_ELEMENTWISE * P
    assert gauss_newton.step_flops("ggn", b, P) == pytest.approx(4 * b * P + b * b * P + b**3 / 3)
    # GGN / SGD = 1 + b/3 + 1/3 + b^2 / (9 P): grows in proportion to b
    ratio = gauss_newton.step_flops("ggn", b, P) / gauss_newton.step_flops("sgd", b, P)
    assert ratio == pytest.approx(4 / 3 + b / 3 + b * b / (9 * P))
    with pytest.raises(ValueError, match="method"):
        gauss_newton.step_flops("newton", b, P)
    with pytest.raises(ValueError):
        gauss_newton.step_flops("sgd", 0, P)


def test_cumulative_flops_count_the_short_last_batch_of_each_epoch():
    P, n, b = 100, 10, 4  # batches of 4, 4, 2 per epoch
    cost = gauss_newton.cumulative_flops("ggn", b, P, steps=6, n=n)
    sizes = [4, 4, 2, 4, 4, 2]
    expected = np.concatenate([[0.0], np.cumsum([gauss_newton.step_flops("ggn", s, P) for s in sizes])])
    np.testing.assert_allclose(cost, expected)
    np.testing.assert_allclose(gauss_newton.cumulative_flops("sgd", b, P, steps=3), [0, 1200, 2400, 3600])
    with pytest.raises(ValueError):
        gauss_newton.cumulative_flops("sgd", 8, P, steps=2, n=4)
