"""The closed forms of dltheory.weight_sharing against independent computations: Monte Carlo on
Gaussian patches (within standard errors), torch.autograd gradients and Hessians, central finite
differences (gradcheck), dense eigenvalues for the curvature bounds, and the lemmas' bounds on
random and worst-case points of the band."""

import math

import numpy as np
import pytest
import torch

from dltheory import weight_sharing as ws

pytestmark = pytest.mark.usefixtures("one_thread")


def problem(k, d, seed, scale=0.5, u0_norm=1.0):
    g = torch.Generator().manual_seed(seed)
    u0 = torch.randn(d, generator=g, dtype=torch.float64)
    u0 = u0_norm * u0 / u0.norm()
    W = scale * torch.randn(k, d, generator=g, dtype=torch.float64)
    return W, u0, ws.shared_target(u0, k)


# ---------------------------------------------------------------- the closed form against Monte Carlo

@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_closed_form_matches_monte_carlo_within_standard_errors(k):
    W, u0, U = problem(k, 3, seed=k, scale=0.4, u0_norm=0.8)
    W[0] = u0 + 0.3 * W[0]  # a point where every term of F and of its gradient is sizeable
    c = 1.3
    X = ws.patches(400_000, k, 3, seed=10 + k)
    mc = ws.monte_carlo(W, U, c, X)
    F = ws.population_loss(W, U, c).item()
    assert abs(F - mc.loss) <= 4 * mc.loss_se
    z = (ws.population_gradient(W, U, c) - mc.gradient) / mc.gradient_se
    assert z.abs().max().item() <= 4.5
    assert mc.n == 400_000


def test_monte_carlo_gradient_is_the_gradient_of_its_sample_loss():
    W, u0, U = problem(3, 2, seed=0)
    X = ws.patches(2000, 3, 2, seed=1)
    Wr = W.clone().requires_grad_()
    loss = 0.5 * (ws.predict(Wr, X, 0.7) - ws.predict(U, X, 0.7)).pow(2).mean()
    (auto,) = torch.autograd.grad(loss, Wr)
    mc = ws.monte_carlo(W, U, 0.7, X, chunk=333)  # chunks must not change the sums
    assert mc.loss == pytest.approx(loss.item(), rel=1e-12)
    assert torch.allclose(mc.gradient, auto, rtol=1e-10, atol=1e-14)


def test_gaussian_expectation_of_a_cosine():
    """E cos<u, x> = exp(-||u||^2 / 2): the identity the closed form rests on."""
    X = ws.patches(1_000_000, 1, 3, seed=4)[:, 0, :]
    for u in (torch.tensor([0.3, 0.0, 0.4]), torch.tensor([1.0, -1.0, 0.5])):
        values = torch.cos(X @ u.double())
        se = values.std().item() / math.sqrt(len(values))
        assert abs(values.mean().item() - math.exp(-u.double().pow(2).sum().item() / 2)) <= 4 * se


def test_the_loss_vanishes_at_the_target_and_only_there_on_a_line():
    for k in (1, 2, 5):
        W, u0, U = problem(k, 4, seed=k)
        assert ws.population_loss(U, U, 2.0).item() == pytest.approx(0.0, abs=1e-15)
        assert ws.tied_loss(u0, u0, k, 2.0).item() == pytest.approx(0.0, abs=1e-15)
        assert torch.allclose(ws.population_gradient(U, U, 2.0), torch.zeros_like(U), atol=1e-15)
        for t in (0.5, 0.9, 1.1, -1.0):
            assert ws.population_loss(t * U, U, 2.0).item() > 1e-6


# ---------------------------------------------------------------- derivatives against autograd

@pytest.mark.parametrize("k,d", [(1, 3), (2, 2), (4, 3)])
def test_gradient_and_hessian_match_autograd(k, d):
    for seed in range(3):
        W, u0, U = problem(k, d, seed=seed)
        c = 0.7 + seed
        Wr = W.clone().requires_grad_()
        (auto,) = torch.autograd.grad(ws.population_loss(Wr, U, c), Wr)
        assert torch.allclose(ws.population_gradient(W, U, c), auto, rtol=1e-12, atol=1e-14)
        H = torch.autograd.functional.hessian(lambda v: ws.population_loss(v.reshape(k, d), U, c), W.reshape(-1))
        assert torch.allclose(ws.population_hessian(W, U, c), H, rtol=1e-10, atol=1e-13)


def test_gradient_passes_finite_difference_gradcheck():
    W, u0, U = problem(3, 2, seed=5)
    assert torch.autograd.gradcheck(lambda A: ws.population_loss(A, U, 1.1), (W.clone().requires_grad_(),))
    w = W[0].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a: ws.tied_loss(a, u0, 3, 1.1), (w,))
    # and the closed-form gradient against central differences of the closed-form loss
    eps, grad = 1e-6, ws.population_gradient(W, U, 1.1)
    for i, j in [(0, 0), (1, 1), (2, 0)]:
        E = torch.zeros_like(W)
        E[i, j] = eps
        fd = (ws.population_loss(W + E, U, 1.1) - ws.population_loss(W - E, U, 1.1)) / (2 * eps)
        assert fd.item() == pytest.approx(grad[i, j].item(), rel=1e-6, abs=1e-9)


def test_tied_model_is_the_untied_model_on_the_diagonal():
    for k in (1, 3, 6):
        W, u0, U = problem(k, 3, seed=k)
        w = W[0]
        J = torch.eye(3, dtype=torch.float64).repeat(k, 1)  # d/dw of (w, ..., w)
        tied_W = w.expand(k, 3)
        assert ws.tied_loss(w, u0, k, 1.5).item() == pytest.approx(ws.population_loss(tied_W, U, 1.5).item(), abs=1e-14)
        assert torch.allclose(ws.tied_gradient(w, u0, k, 1.5), ws.population_gradient(tied_W, U, 1.5).sum(0),
                              atol=1e-13)
        assert torch.allclose(ws.tied_hessian(w, u0, k, 1.5), J.T @ ws.population_hessian(tied_W, U, 1.5) @ J,
                              atol=1e-12)
        H = torch.autograd.functional.hessian(lambda a: ws.tied_loss(a, u0, k, 1.5), w)
        assert torch.allclose(ws.tied_hessian(w, u0, k, 1.5), H, rtol=1e-10, atol=1e-12)


def test_batched_evaluation_matches_one_at_a_time_and_padding_changes_nothing():
    W, u0, U = problem(3, 2, seed=8)
    Ws = torch.stack([W, 2 * W, -W])
    c = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    F = ws.population_loss(Ws, U.expand_as(Ws), c)
    G = ws.population_gradient(Ws, U.expand_as(Ws), c)
    H = ws.population_hessian(Ws, U.expand_as(Ws), c)
    for i in range(3):
        assert F[i].item() == pytest.approx(ws.population_loss(Ws[i], U, c[i].item()).item(), abs=1e-15)
        assert torch.allclose(G[i], ws.population_gradient(Ws[i], U, c[i].item()))
        assert torch.allclose(H[i], ws.population_hessian(Ws[i], U, c[i].item()))
    padded_U = ws.shared_target(u0, 3, pad_to=5)
    padded_W = torch.cat([W, torch.zeros(2, 2, dtype=torch.float64)])
    assert ws.population_loss(padded_W, padded_U, 1.0).item() == pytest.approx(ws.population_loss(W, U, 1.0).item())
    assert (ws.population_gradient(padded_W, padded_U, 1.0)[3:] == 0).all()


# ---------------------------------------------------------------- curvature: the constant kappa

def test_kappa_bounds_the_cosine_curvature_and_is_attained():
    """Dense eigenvalues at many random points stay in [-kappa, kappa] (per unit of k, tied); the
    lower end is reached at w = 0 when k ||u0||^2 = 3."""
    g = torch.Generator().manual_seed(0)
    for k in (1, 2, 5):
        u0 = torch.randn(500, 3, generator=g, dtype=torch.float64)
        w = torch.randn(500, 3, generator=g, dtype=torch.float64) * torch.rand(500, 1, generator=g) * 2
        lam = torch.linalg.eigvalsh(ws.tied_hessian(w, u0, k, 0.0))
        assert lam.min() >= -ws.KAPPA * k - 1e-12 and lam.max() <= ws.KAPPA * k + 1e-12
        W = torch.randn(200, k, 2, generator=g, dtype=torch.float64)
        U = torch.randn(200, k, 2, generator=g, dtype=torch.float64)
        lam = torch.linalg.eigvalsh(ws.population_hessian(W, U, 0.0))
        assert lam.min() >= -ws.KAPPA - 1e-12 and lam.max() <= ws.KAPPA + 1e-12
    for k in (1, 3, 12):
        u0 = torch.tensor([math.sqrt(3 / k), 0.0, 0.0], dtype=torch.float64)
        lam = torch.linalg.eigvalsh(ws.tied_hessian(torch.zeros(3, dtype=torch.float64), u0, k, 0.0))
        assert lam.min().item() == pytest.approx(-ws.KAPPA * k, rel=1e-12)


def test_strong_convexity_threshold_is_sharp():
    """c^2 > kappa k: positive definite everywhere; c^2 < kappa k: a target with a negative eigenvalue."""
    k = 4
    u0 = torch.tensor([math.sqrt(3 / k), 0.0], dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    above, below = math.sqrt(1.01 * ws.KAPPA * k), math.sqrt(0.99 * ws.KAPPA * k)
    assert ws.strong_convexity(above, k) > 0 > ws.strong_convexity(below, k)
    assert torch.linalg.eigvalsh(ws.tied_hessian(zero, u0, k, below)).min() < 0
    g = torch.Generator().manual_seed(1)
    w = 3 * torch.randn(2000, 2, generator=g, dtype=torch.float64) * torch.rand(2000, 1, generator=g) ** 3
    lam = torch.linalg.eigvalsh(ws.tied_hessian(w, u0, k, above))[:, 0]
    assert lam.min().item() >= ws.strong_convexity(above, k) - 1e-12 > 0


def test_the_untied_model_is_not_convex():
    W, u0, U = problem(3, 2, seed=2, scale=0.05, u0_norm=1.0)
    assert torch.linalg.eigvalsh(ws.population_hessian(W, U, 2.0)).min() < -0.5


# ---------------------------------------------------------------- Lemmas 1 and 2

def test_band_points_lie_in_the_band_with_w1_at_u0():
    u0 = torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64)
    P = ws.band_points(300, u0, 7, seed=3)
    low, high = ws.band(7, 2.0)
    norms = P[:, 1:, :].flatten(1).norm(dim=1)
    assert P.shape == (300, 7, 3) and (P[:, 0] == u0).all()
    assert norms.min() >= low - 1e-12 and norms.max() <= high + 1e-12
    assert torch.equal(P, ws.band_points(300, u0, 7, seed=3))


@pytest.mark.parametrize("k", [2, 5, 10, 20])
def test_band_gradients_obey_lemma_1_and_the_worst_point_attains_its_rate(k):
    u0 = 2.0 * torch.nn.functional.normalize(torch.arange(1.0, 6.0, dtype=torch.float64), dim=0)
    U = ws.shared_target(u0, k)
    P = ws.band_points(500, u0, k, seed=k)
    tails = ws.population_gradient(P, U.expand_as(P), math.sqrt(2 * k))[:, 1:, :].flatten(1).norm(dim=1)
    bound = ws.band_gradient_bound(k, 2.0)
    assert tails.max().item() <= bound
    W = U.clone()
    W[1:] /= 2
    worst = ws.population_gradient(W, U, 1.0)[1:].norm().item()
    R = math.sqrt(k - 1) * 2.0
    assert worst <= bound
    assert worst == pytest.approx(R / 4 * math.exp(-R**2 / 8), rel=0.02)  # the rate is attained


def test_plateau_bound_holds_inside_the_outer_edge():
    u0 = torch.tensor([0.0, 2.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(4)
    for k in (2, 6, 12):
        U = ws.shared_target(u0, k)
        _, high = ws.band(k, 2.0)
        W = torch.randn(400, k, 2, generator=g, dtype=torch.float64)
        W[:, 0] = u0 + 0.1 * W[:, 0]
        tail = W[:, 1:].flatten(1)
        W[:, 1:] *= (high * torch.rand(400, 1, generator=g, dtype=torch.float64) / tail.norm(dim=1, keepdim=True))[..., None]
        assert ws.population_loss(W, U.expand_as(W), 3.0).min().item() >= ws.plateau_bound(k, 2.0)


# ---------------------------------------------------------------- gradient descent

def test_gradient_descent_matches_a_plain_loop_and_records_the_loss():
    W, u0, U = problem(3, 2, seed=6)
    run = ws.gradient_descent(W, U, 1.2, lr=0.1, steps=25, record=5)
    A = W.clone()
    for _ in range(25):
        A = A - 0.1 * ws.population_gradient(A, U, 1.2)
    assert torch.allclose(run.final, A, atol=1e-14)
    assert run.steps[0] == 0 and run.steps[-1] == 25
    assert run.losses[-1].item() == pytest.approx(ws.population_loss(A, U, 1.2).item())
    assert run.tail_norms[0].item() == pytest.approx(W[1:].norm().item())
    tied = ws.gradient_descent(W[0], u0, 1.2, lr=0.05, steps=25, tied_k=3)
    a = W[0].clone()
    for _ in range(25):
        a = a - 0.05 * ws.tied_gradient(a, u0, 3, 1.2)
    assert torch.allclose(tied.final, a, atol=1e-14) and tied.tail_norms is None


def test_tied_descent_reaches_the_target_and_untied_stalls():
    k, d = 10, 5
    u0 = 2.0 * torch.nn.functional.normalize(torch.ones(d, dtype=torch.float64), dim=0)
    c = math.sqrt(2 * k)
    g = torch.Generator().manual_seed(0)
    W0 = 0.5 / math.sqrt(d) * torch.randn(k, d, generator=g, dtype=torch.float64)
    tied = ws.gradient_descent(W0[0], u0, c, lr=1 / ws.smoothness(c, k, tied=True), steps=400, tied_k=k)
    assert (tied.final - u0).norm().item() < 1e-10
    assert np.all(np.diff(tied.losses.numpy()) <= 1e-15)  # step 1/L never increases F
    untied = ws.gradient_descent(W0, ws.shared_target(u0, k), c, lr=1 / ws.smoothness(c, k, tied=False), steps=2000)
    assert untied.losses[-1].item() > 0.49
    assert (untied.final[0] - u0).norm().item() < 1e-6  # the linear patch is learnt


# ---------------------------------------------------------------- inputs are checked

def test_bad_inputs_are_named():
    W, u0, U = problem(2, 3, seed=0)
    with pytest.raises(ValueError, match="same"):
        ws.population_loss(W, U[:, :2], 1.0)
    with pytest.raises(ValueError, match="NaN"):
        ws.population_loss(W * float("nan"), U, 1.0)
    with pytest.raises(ValueError, match="shape"):
        ws.population_gradient(W[0], U, 1.0)
    with pytest.raises(TypeError, match="tensor"):
        ws.population_loss(W.numpy(), U, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        ws.population_loss(W, U, -1.0)
    with pytest.raises(ValueError, match="k must"):
        ws.tied_loss(u0, u0, 0, 1.0)
    with pytest.raises(ValueError, match=r"R = sqrt\(k-1\)"):
        ws.band_gradient_bound(2, 1.0)
    with pytest.raises(ValueError, match="k must"):
        ws.band(1, 1.0)
    with pytest.raises(ValueError, match="X must have shape"):
        ws.predict(W, torch.zeros(4, 3, 3, dtype=torch.float64), 1.0)
    with pytest.raises(ValueError, match="pad_to"):
        ws.shared_target(u0, 3, pad_to=2)
