"""dltheory.landscape against independent computations: the arc-cosine kernel and the population
loss against Monte Carlo (within standard errors) and closed-form special cases, the exact
gradient against torch.autograd and central finite differences (gradcheck), the Hessian against
autograd; the convex solver and its certificate against the KKT conditions, a scalar problem
solved by hand, brute force over a grid, and scipy.optimize on the factorised problem."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from dltheory import landscape as ls
from dltheory import models

pytestmark = pytest.mark.usefixtures("one_thread")


def rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


# ---------------------------------------------------------------- the arc-cosine kernel

def test_kernel_matches_monte_carlo_within_standard_errors():
    W, V = rand(4, 5, seed=1), rand(3, 5, seed=2)
    x = rand(400_000, 5, seed=3)
    prod = torch.relu(x @ W.T)[:, :, None] * torch.relu(x @ V.T)[:, None, :]
    mc, se = prod.mean(0), prod.std(0) / math.sqrt(len(x))
    z = (ls.arccos_kernel(W, V) - mc) / se
    assert z.abs().max().item() <= 4.5


def test_kernel_special_cases():
    w = rand(6, seed=4)
    # equal vectors: E relu(w.x)^2 = ||w||^2/2; opposite: 0; orthogonal unit vectors: 1/(2 pi)
    assert ls.arccos_kernel(w[None], w[None]).item() == pytest.approx(w.dot(w).item() / 2, rel=1e-12)
    assert ls.arccos_kernel(w[None], -w[None]).item() == pytest.approx(0.0, abs=1e-12)
    e = torch.eye(3, dtype=torch.float64)
    assert ls.arccos_kernel(e[:1], e[1:2]).item() == pytest.approx(1 / (2 * math.pi), rel=1e-12)
    # scaling: kappa(a w, b v) = a b kappa(w, v) for a, b > 0; zero vector gives 0
    v = rand(6, seed=5)
    k = ls.arccos_kernel(w[None], v[None]).item()
    assert ls.arccos_kernel(2 * w[None], 3 * v[None]).item() == pytest.approx(6 * k, rel=1e-12)
    assert ls.arccos_kernel(torch.zeros(1, 6, dtype=torch.float64), v[None]).item() == 0.0


def test_kernel_batches_and_symmetry():
    W, V = rand(7, 3, 4, seed=6), rand(2, 4, seed=7)
    K = ls.arccos_kernel(W, V)
    assert K.shape == (7, 3, 2)
    assert torch.allclose(K[5], ls.arccos_kernel(W[5], V), atol=0, rtol=1e-14)
    assert torch.allclose(ls.arccos_kernel(V, W[0]), K[0].T, rtol=1e-12)


def test_population_loss_matches_monte_carlo_and_vanishes_at_the_teacher():
    V = ls.orthonormal_teacher(3, 5)
    W = rand(4, 5, seed=8) / math.sqrt(5)
    x = rand(500_000, 5, seed=9)
    sq = 0.5 * (torch.relu(x @ W.T).sum(1) - torch.relu(x @ V.T).sum(1)) ** 2
    assert abs(ls.population_loss(W, V).item() - sq.mean().item()) <= 4 * sq.std().item() / math.sqrt(len(x))
    perm = V[[2, 0, 1]]
    assert ls.population_loss(perm, V).item() == pytest.approx(0.0, abs=1e-14)
    # F(0) = k0/4 + k0 (k0 - 1) / (4 pi) for orthonormal teacher rows (the exercise's part 4)
    k0 = 6
    V6 = ls.orthonormal_teacher(k0)
    F0 = ls.population_loss(torch.zeros(2, k0, dtype=torch.float64), V6).item()
    assert F0 == pytest.approx(k0 / 4 + k0 * (k0 - 1) / (4 * math.pi), rel=1e-12)


# ---------------------------------------------------------------- gradient and Hessian

def test_gradient_matches_autograd_in_a_batch():
    W, V = rand(3, 4, 6, seed=10), rand(5, 6, seed=11)
    Wr = W.clone().requires_grad_()
    (auto,) = torch.autograd.grad(ls.population_loss(Wr, V).sum(), Wr)
    assert torch.allclose(ls.population_gradient(W, V), auto, rtol=1e-10, atol=1e-12)


def test_gradient_passes_gradcheck():
    V = rand(2, 3, seed=12)
    W = rand(3, 3, seed=13).requires_grad_()
    assert torch.autograd.gradcheck(lambda w: ls.population_loss(w, V), (W,), eps=1e-6, atol=1e-7)


def test_gradient_mask_pads_students_of_several_widths():
    V = ls.orthonormal_teacher(3)
    W = torch.zeros(2, 5, 3, dtype=torch.float64)
    W[0, :3], W[1, :5] = rand(3, 3, seed=14), rand(5, 3, seed=15)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    grad = ls.population_gradient(W, V, mask)
    assert torch.equal(grad[0, 3:], torch.zeros(2, 3, dtype=torch.float64))
    assert torch.allclose(grad[0, :3], ls.population_gradient(W[0, :3], V), rtol=1e-12)
    assert ls.population_loss(W[0], V).item() == pytest.approx(ls.population_loss(W[0, :3], V).item(), rel=1e-12)


def test_hessian_matches_autograd_and_is_finite_at_aligned_units():
    V = ls.orthonormal_teacher(3, 4)
    W = rand(3, 4, seed=16) / 2
    auto = torch.autograd.functional.hessian(lambda w: ls.population_loss(w.reshape(3, 4), V), W.reshape(-1))
    assert torch.allclose(ls.population_hessian(W, V), auto, rtol=1e-6, atol=1e-7)
    W_aligned = W.clone()
    W_aligned[0] = 0.7 * V[0]  # parallel to a teacher row: autograd through arccos breaks, differences do not
    H = ls.population_hessian(W_aligned, V)
    assert torch.isfinite(H).all() and torch.allclose(H, H.T)


def test_gradient_descent_reaches_the_teacher_and_keeps_its_record():
    V = ls.orthonormal_teacher(3)
    W0 = V[None] + 0.1 * rand(4, 3, 3, seed=17)
    run = ls.gradient_descent(W0, V, lr=0.2, steps=2000, record=10)
    assert run.final.shape == (4, 3, 3) and run.losses.shape == (4, len(run.steps))
    assert run.steps[0] == 0 and run.steps[-1] == 2000
    assert run.loss.max().item() < 1e-12 and run.grad_norm.max().item() < 1e-6
    assert torch.allclose(run.losses[:, -1], run.loss)


def test_input_checks():
    V = ls.orthonormal_teacher(3)
    with pytest.raises(ValueError, match="same input dimension"):
        ls.arccos_kernel(torch.ones(2, 4, dtype=torch.float64), V)
    with pytest.raises(ValueError, match="NaN"):
        ls.population_loss(torch.full((2, 3), float("nan")), V)
    with pytest.raises(ValueError, match=r"\(\.\.\., units, d\)"):
        ls.population_loss(torch.ones(3), V)
    with pytest.raises(ValueError, match="lr"):
        ls.gradient_descent(torch.ones(2, 3, dtype=torch.float64), V, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="one student"):
        ls.population_hessian(torch.ones(2, 2, 3, dtype=torch.float64), V)


# ---------------------------------------------------------------- quadratic networks and the convex problem

@pytest.fixture(scope="module")
def small():
    X, y = ls.quadratic_data(20, 6, teacher_rank=2, noise=0.3, seed=0)
    return X, y, 1e-2, ls.solve_convex(X, y, 1e-2)


def test_quadratic_loss_is_the_weight_decay_loss_of_the_library_network():
    X, y = ls.quadratic_data(12, 5, seed=1)
    net = models.two_layer(5, 3, activation="square", outer="fixed_ones", outer_scale=1.0, seed=2,
                           dtype=torch.float64)
    W = net[0].weight.detach()
    Xt = torch.as_tensor(X)
    by_net = ((net(Xt).squeeze(1) - torch.as_tensor(y)) ** 2).mean().item() + 0.1 * W.pow(2).sum().item()
    assert ls.quadratic_loss((W.T @ W).numpy(), X, y, 0.1) == pytest.approx(by_net, rel=1e-12)


def test_convex_solution_satisfies_the_kkt_conditions(small):
    X, y, lam, sol = small
    M = sol.M
    r = np.einsum("ni,ij,nj->n", X, M, X) - y
    G = 2 / len(y) * (X.T * r) @ X + lam * np.eye(X.shape[1])  # written out again, not the library's
    assert np.linalg.eigvalsh(M)[0] >= -1e-10
    assert np.linalg.eigvalsh(G)[0] >= -1e-7
    assert abs(np.sum(G * M)) <= 1e-7 * max(1.0, np.trace(M))
    assert np.linalg.norm(G @ M) <= 1e-6 * max(1.0, np.linalg.norm(M))
    assert sol.certificate.relative_gap <= 1e-6
    assert sol.rank <= ls.pataki_rank(len(y))


def test_convex_optimum_beats_random_psd_points_and_the_bound_holds(small):
    X, y, lam, sol = small
    rng = np.random.default_rng(3)
    for _ in range(50):
        B = rng.standard_normal((6, 3)) * rng.uniform(0.1, 3)
        M = sol.M + 0.1 * B @ B.T if _ % 2 else B @ B.T
        value = ls.quadratic_loss(M, X, y, lam)
        assert value >= sol.value - 1e-10
        cert = ls.certificate(M, X, y, lam)
        assert cert.lower_bound <= sol.value + 1e-10  # a valid lower bound on the optimum
        assert cert.gap >= value - sol.value - 1e-10


def test_scalar_problem_solved_by_hand():
    """d = 1: min_{m >= 0} (1/n) sum (x_i^2 m - y_i)^2 + lam m has m* = max(0, (2 sum x^2 y/n - lam) / (2 sum x^4/n))."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((15, 1))
    for shift, lam in ((1.0, 0.05), (-1.0, 0.05)):
        y = shift * X[:, 0] ** 2 + 0.1 * rng.standard_normal(15)
        a, b = np.mean(X[:, 0] ** 4), np.mean(X[:, 0] ** 2 * y)
        m_star = max(0.0, (2 * b - lam) / (2 * a))
        sol = ls.solve_convex(X, y, lam)
        assert sol.M[0, 0] == pytest.approx(m_star, abs=1e-8)


def test_two_dimensional_problem_against_brute_force():
    X, y = ls.quadratic_data(8, 2, teacher_rank=1, noise=0.2, seed=5)
    lam = 0.05
    sol = ls.solve_convex(X, y, lam)
    # brute force over PSD 2x2 matrices M = [[a, c], [c, b]], a, b >= 0, c^2 <= ab, on a grid around M*
    a0, b0, c0 = sol.M[0, 0], sol.M[1, 1], sol.M[0, 1]
    a, b, c = np.meshgrid(np.linspace(max(0, a0 - 0.5), a0 + 0.5, 61), np.linspace(max(0, b0 - 0.5), b0 + 0.5, 61),
                          np.linspace(c0 - 0.5, c0 + 0.5, 61), indexing="ij")
    ok = c * c <= a * b
    a, b, c = a[ok], b[ok], c[ok]
    pred = a[:, None] * X[:, 0] ** 2 + b[:, None] * X[:, 1] ** 2 + 2 * c[:, None] * X[:, 0] * X[:, 1]
    values = np.mean((pred - y) ** 2, axis=1) + lam * (a + b)
    assert sol.value <= values.min() + 1e-12
    assert values.min() - sol.value <= 1e-2  # the grid is fine enough to come close


def test_convex_optimum_matches_scipy_on_the_full_factorisation(small):
    """min over W in R^{d x d} of L(W) equals the convex optimum (a square factor has no rank constraint)."""
    X, y, lam, sol = small
    d = X.shape[1]

    def f(w):
        W = w.reshape(d, d)
        return np.mean((np.sum((X @ W.T) ** 2, 1) - y) ** 2) + lam * np.sum(W * W)

    best = min(minimize(f, np.random.default_rng(s).standard_normal(d * d) * 0.3, method="BFGS",
                        options={"gtol": 1e-10}).fun for s in range(3))
    assert sol.value == pytest.approx(best, rel=1e-6)


def test_networks_reach_the_optimum_iff_width_reaches_its_rank(small):
    X, y, lam, sol = small
    r = sol.rank
    assert r >= 2
    too_narrow = ls.fit_quadratic_net(X, y, lam, r - 1, seed=0)
    wide = ls.fit_quadratic_net(X, y, lam, r + 1, seed=0)
    c_narrow = ls.certificate(too_narrow.T @ too_narrow, X, y, lam)
    c_wide = ls.certificate(wide.T @ wide, X, y, lam)
    assert c_narrow.value > sol.value * (1 + 1e-4) and c_narrow.min_eigenvalue < 0
    assert c_wide.value == pytest.approx(sol.value, rel=1e-7) and c_wide.relative_gap <= 1e-5


def test_pataki_rank_and_numerical_rank():
    assert [ls.pataki_rank(n) for n in (0, 1, 2, 3, 5, 6, 40, 45)] == [0, 1, 1, 2, 2, 3, 8, 9]
    for n in range(1, 300):
        r = ls.pataki_rank(n)
        assert r * (r + 1) // 2 <= n < (r + 1) * (r + 2) // 2
        assert math.ceil(math.sqrt(2 * n)) >= r  # Du and Lee's width always reaches the bound
    assert ls.numerical_rank(np.diag([3.0, 1.0, 1e-9, 0.0])) == 2


def test_quadratic_input_checks(small):
    X, y, lam, sol = small
    with pytest.raises(ValueError, match="same number of examples"):
        ls.quadratic_loss(np.eye(6), X, y[:-1], lam)
    with pytest.raises(ValueError, match="shape"):
        ls.quadratic_loss(np.eye(5), X, y, lam)
    with pytest.raises(ValueError, match="positive semidefinite"):
        ls.certificate(-np.eye(6), X, y, lam)
    with pytest.raises(ValueError, match="lam"):
        ls.certificate(np.eye(6), X, y, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        ls.solve_convex(np.full((3, 2), np.nan), np.ones(3), 0.1)


def test_mask_is_checked():
    V = ls.orthonormal_teacher(3)
    W = rand(2, 4, 3, seed=18)
    with pytest.raises(TypeError, match="boolean"):
        ls.population_gradient(W, V, torch.ones(2, 4))
    with pytest.raises(ValueError, match="broadcastable"):
        ls.population_gradient(W, V, torch.ones(2, 5, dtype=torch.bool))
    run = ls.gradient_descent(W, V, lr=0.1, steps=3, mask=torch.tensor([True, True, True, False]))
    assert torch.equal(run.final[:, 3], W[:, 3]) and all(type(t) is int for t in run.steps)
