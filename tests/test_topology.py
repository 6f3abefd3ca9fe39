"""dltheory.topology against independent computations: SVD and eigendecompositions, scipy, finite differences."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from dltheory import models, params, topology, train


def test_eckart_young_error_is_the_tail_of_the_singular_values():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((7, 5))
    s = np.linalg.svd(A, compute_uv=False)
    for k in range(6):
        Ak = topology.eckart_young(A, k)
        assert np.linalg.matrix_rank(Ak, tol=1e-10) == k
        assert np.sum((A - Ak) ** 2) == pytest.approx(np.sum(s[k:] ** 2), rel=1e-12, abs=1e-12)
    # no random rank-2 matrix does better
    best = np.sum((A - topology.eckart_young(A, 2)) ** 2)
    for _ in range(200):
        B = rng.standard_normal((7, 2)) @ rng.standard_normal((2, 5))
        assert np.sum((A - B) ** 2) >= best


def test_eckart_young_accepts_tensors_and_checks_inputs():
    A = torch.randn(4, 3, dtype=torch.float64)
    assert np.allclose(topology.eckart_young(A, 3), A.numpy())
    with pytest.raises(ValueError, match="2-D"):
        topology.eckart_young(np.ones(3), 1)
    with pytest.raises(ValueError, match="k must be"):
        topology.eckart_young(np.ones((2, 2)), -1)


def _problem(seed=0, n=40, d=6, m=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = X @ rng.standard_normal((m, d)).T + 0.3 * rng.standard_normal((n, m))
    return X, Y


def test_reduced_rank_regression_by_eigenvectors_of_the_fitted_covariance():
    """An independent route: V_k are the top eigenvectors of Y^T X (X^T X)^{-1} X^T Y (eigh, not SVD)."""
    X, Y = _problem()
    for k in (1, 2, 3, 4):
        sol = topology.reduced_rank_regression(X, Y, k)
        C = Y.T @ X @ np.linalg.solve(X.T @ X, X.T @ Y)
        _, V = np.linalg.eigh(C)
        V = V[:, ::-1][:, :k]
        B_ols = np.linalg.solve(X.T @ X, X.T @ Y).T
        assert np.allclose(sol.B, V @ V.T @ B_ols, atol=1e-10)
        assert np.linalg.matrix_rank(sol.B, tol=1e-8) == k
        assert sol.value == pytest.approx(0.5 * np.sum((Y - X @ sol.B.T) ** 2) / len(X), rel=1e-12)


def test_reduced_rank_regression_matches_a_factored_optimisation():
    """scipy's L-BFGS on B = U V^T, from several starts, never goes below the closed form and reaches it."""
    X, Y = _problem(seed=3)
    n, d = X.shape
    m, k = Y.shape[1], 2
    sol = topology.reduced_rank_regression(X, Y, k)

    def fun(z):
        U, V = z[:m * k].reshape(m, k), z[m * k:].reshape(d, k)
        R = X @ V @ U.T - Y
        G = X.T @ R / n  # (d, m)
        return 0.5 * np.sum(R**2) / n, np.concatenate([(G.T @ V).ravel(), (G @ U).ravel()])

    rng = np.random.default_rng(0)
    values = [minimize(fun, rng.standard_normal(k * (m + d)), jac=True, method="L-BFGS-B",
                       options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000}).fun for _ in range(5)]
    assert min(values) >= sol.value * (1 - 1e-12)
    assert min(values) == pytest.approx(sol.value, rel=1e-9)


def test_reduced_rank_regression_refuses_rank_deficient_inputs():
    X, Y = _problem()
    X[:, 1] = X[:, 0]
    with pytest.raises(ValueError, match="full column rank"):
        topology.reduced_rank_regression(X, Y, 1)
    with pytest.raises(ValueError, match="same number of rows"):
        topology.reduced_rank_regression(X[:5], Y, 1)


def test_intrinsic_dimension_is_the_rank_of_random_quadratic_features():
    rng = np.random.default_rng(0)
    for d in (1, 2, 3, 5):
        W = rng.standard_normal((60, d))
        X = rng.standard_normal((200, d))
        features = (X @ W.T) ** 2  # (n, units): the functions x -> (w^T x)^2 on 200 points
        assert np.linalg.matrix_rank(features, tol=1e-8) == topology.intrinsic_dimension_quadratic(d)


def test_quadratic_nets_compute_their_quadratic_forms():
    nets = topology.QuadraticNets(3, 4, 5, seed=7)
    X = torch.randn(10, 4, dtype=torch.float64)
    out = nets(X)
    assert out.shape == (3, 10)
    M = nets.matrices()
    assert torch.allclose(out, torch.einsum("ni,sij,nj->sn", X, M, X))
    for s in range(3):  # loop over members and units
        ref = sum(nets.u[s, j] * (X @ nets.W[s, j]) ** 2 for j in range(5))
        assert torch.allclose(out[s], ref.detach())
    assert torch.equal(topology.QuadraticNets(3, 4, 5, seed=7).W, nets.W)
    with pytest.raises(ValueError, match="shape"):
        nets(torch.randn(10, 3, dtype=torch.float64))


def test_quadratic_nets_train_as_a_seed_ensemble_like_each_member_alone():
    X = torch.randn(20, 3, dtype=torch.float64)
    y = (X**2).sum(1)
    nets = topology.QuadraticNets(2, 3, 4, seed=1)
    single = topology.QuadraticNets(2, 3, 4, seed=1)
    train.fit_ensemble(nets, X, y, loss="square", optimizer="gd", lr=0.01, steps=5)
    W, u = single.W.detach().clone()[1], single.u.detach().clone()[1]
    for _ in range(5):
        W.requires_grad_(True), u.requires_grad_(True)
        loss = 0.5 * ((((X @ W.T) ** 2) @ u - y) ** 2).mean()
        gW, gu = torch.autograd.grad(loss, (W, u))
        W, u = (W - 0.01 * gW).detach(), (u - 0.01 * gu).detach()
    assert torch.allclose(nets.W[1], W) and torch.allclose(nets.u[1], u)


def test_bezier_end_points_and_derivative_in_closed_form():
    g = torch.Generator().manual_seed(0)
    a, phi, b = (torch.randn(6, generator=g, dtype=torch.float64) for _ in range(3))
    assert torch.equal(topology.bezier(a, phi, b, 0.0), a)
    assert torch.equal(topology.bezier(a, phi, b, 1.0), b)
    assert torch.allclose(topology.bezier(a, phi, b, 0.5), (a + 2 * phi + b) / 4)
    assert torch.allclose(topology.bezier_derivative(a, phi, b, 0.0), 2 * (phi - a))
    assert torch.allclose(topology.bezier_derivative(a, phi, b, 1.0), 2 * (b - phi))
    t = np.array([0.1, 0.4, 0.9])
    h = 1e-6
    fd = (topology.bezier(a, phi, b, t + h) - topology.bezier(a, phi, b, t - h)) / (2 * h)
    assert torch.allclose(topology.bezier_derivative(a, phi, b, t), fd, atol=1e-8)
    # the midpoint of the chord as control point gives the straight line
    line = topology.bezier(a, (a + b) / 2, b, t)
    assert torch.allclose(line, (1 - torch.tensor(t))[:, None] * a + torch.tensor(t)[:, None] * b)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        topology.bezier(a, phi, b, 1.5)


def test_bezier_curve_trains_only_its_control_point():
    X = torch.randn(30, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (30,))
    nets = [models.mlp([3, 5, 2], seed=s, dtype=torch.float64) for s in (1, 2)]
    a, b = (params.flat_parameters(net) for net in nets)
    curve = topology.BezierCurve(nets[0], a, b, seed=3)
    assert [name for name, _ in curve.named_parameters()] == ["phi"]
    curve.eval()
    curve.t = 0.25
    ref = params.as_function(nets[0])(0.75 * a + 0.25 * b, X)
    assert torch.allclose(curve(X), ref)
    before = params.flat_parameters(nets[0]).clone()
    train.fit(curve, X, y, loss="ce", optimizer="adam", lr=0.01, steps=5, progress=False)
    assert torch.equal(params.flat_parameters(nets[0]), before)
    assert torch.equal(curve.theta0, a) and torch.equal(curve.theta1, b)
    assert not torch.allclose(curve.phi, (a + b) / 2)
    with pytest.raises(ValueError, match="parameters"):
        topology.BezierCurve(nets[0], a[:-1], b, seed=0)


def test_path_losses_and_barrier():
    net = models.mlp([3, 4, 2], seed=0, dtype=torch.float64)
    theta = params.flat_parameters(net)
    X = torch.randn(8, 3, dtype=torch.float64)
    y = torch.randint(0, 2, (8,))
    values = topology.path_losses(net, torch.stack([theta, theta]), X, y)
    assert values[0] == pytest.approx(float(torch.nn.functional.cross_entropy(net(X), y).detach()))
    t = np.linspace(0, 1, 11)
    assert topology.barrier(t, 2 + t) == pytest.approx(0.0, abs=1e-15)  # linear: no barrier
    assert topology.barrier(t, (t - 0.5) ** 2) == 0.0  # convex: the chord lies above
    assert topology.barrier(t, 4 * t * (1 - t)) == pytest.approx(1.0)  # a bump of height 1 at t = 1/2
    with pytest.raises(ValueError, match="increase"):
        topology.barrier(t[::-1], t)
