"""dltheory.weight_normalization against independent computations: autograd Jacobians of
w/||w||, central finite differences of W_k/||W_k|| along the gradient flow, a gradient step
written out by hand, and the closed-form decay of ||V_k||^2 - 1 under the multiplier."""

import math

import pytest
import torch
from torch import nn

from dltheory import bounds, losses, models
from dltheory import weight_normalization as wn

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


def problem(widths=(4, 6, 5, 1), n=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, widths[0], generator=g, dtype=F64)
    y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).to(F64)
    net = models.mlp(list(widths), bias=False, seed=seed, dtype=F64)
    return net, X, y


def test_sphere_projector_is_the_jacobian_of_the_direction():
    w = torch.tensor([0.3, -1.2, 2.0, 0.5], dtype=F64)
    J = torch.autograd.functional.jacobian(lambda v: v / torch.linalg.vector_norm(v), w)
    S = wn.sphere_projector(w)
    assert torch.allclose(S, J, atol=1e-14)
    assert torch.allclose(S @ w, torch.zeros(4, dtype=F64), atol=1e-14)
    with pytest.raises(ValueError, match="no direction"):
        wn.sphere_projector(torch.zeros(3))


@pytest.mark.parametrize("widths", [(4, 6, 5, 1), (3, 7, 1), (5, 1)])
def test_direction_velocity_matches_finite_differences_of_the_gradient_flow(widths):
    net, X, y = problem(widths)
    params = list(net.parameters())
    loss = losses.exp(net(X), y)
    flow = [-g for g in torch.autograd.grad(loss, params)]  # w_dot = -grad L
    formula = wn.direction_velocity(net, X, y)
    eps = 1e-6

    def directions(sign):
        with torch.no_grad():
            return [(p + sign * eps * v) / torch.linalg.matrix_norm(p + sign * eps * v) for p, v in zip(params, flow)]

    numeric = [(a - b) / (2 * eps) for a, b in zip(directions(1), directions(-1))]
    assert len(formula) == len(numeric)
    for f, fd in zip(formula, numeric):
        assert torch.allclose(f, fd, rtol=1e-6, atol=1e-9)
        assert abs((f * (fd / torch.linalg.matrix_norm(fd))).sum()) > 0  # not trivially zero


def test_direction_velocity_of_a_linear_model_is_the_projected_gradient():
    net, X, y = problem((5, 1))
    w = net[0].weight.detach().reshape(-1)
    w_dot = (torch.exp(-y * (X @ w)) * y) @ X / X.shape[0]
    assert torch.allclose(wn.direction_velocity(net, X, y)[0].reshape(-1), wn.sphere_projector(w) @ w_dot,
                          atol=1e-14)


def test_direction_velocity_refuses_biases_and_ntk_layers():
    net, X, y = problem()
    with pytest.raises(ValueError):
        wn.direction_velocity(models.mlp([4, 5, 1], seed=0, dtype=F64), X, y)
    ntk = models.mlp([4, 5, 1], bias=False, parametrization="ntk", seed=0, dtype=F64)
    with pytest.raises(ValueError, match="NTK"):
        wn.direction_velocity(ntk, X, y)


def test_scaled_network_computes_rho_times_the_body_and_its_normalised_margin():
    body, X, y = problem()
    model = wn.ScaledNetwork(body, 2.5)
    assert torch.allclose(model(X), 2.5 * body(X))
    assert model.norms() == pytest.approx([torch.linalg.matrix_norm(m.weight).item()
                                           for m in body if hasattr(m, "weight")])
    assert model.normalized_margin(X, y) == pytest.approx(bounds.normalized_margins(body, X, y).min().item(),
                                                          rel=1e-12)
    assert wn.ScaledNetwork(body, -1.0).normalized_margin(X, y) == pytest.approx(
        bounds.normalized_margins(body, X, -y).min().item(), rel=1e-12)


def one_step(model, X, y, lr, lam):
    opt = wn.MultiplierGD(model, lr=lr, lam=lam)

    def closure():
        opt.zero_grad()
        value = losses.exp(model(X), y)
        value.backward()
        return value

    opt.step(closure)
    return opt


@pytest.mark.parametrize("lam", [0.0, 0.3, "multiplier", "lecture"])
def test_a_step_is_gradient_descent_on_rho_and_v_with_the_penalty(lam):
    body, X, y = problem()
    model = wn.ScaledNetwork(body, 1.7)
    rho, V = model.rho.detach().clone(), [m.weight.detach().clone() for m in body if hasattr(m, "weight")]

    def loss_of(r, *Vs):
        h = X
        for k, Vk in enumerate(Vs):
            h = h @ Vk.T
            if k < len(Vs) - 1:
                h = torch.relu(h)
        return losses.exp(r * h, y)

    grads = torch.autograd.grad(loss_of(rho.requires_grad_(True), *[v.requires_grad_(True) for v in V]), [rho, *V])
    rho, rho_dot = rho.detach(), -grads[0].detach()
    expected_lam = {"multiplier": 0.5 * rho * rho_dot, "lecture": rho * rho_dot}.get(lam, lam)
    lr = 0.05
    opt = one_step(model, X, y, lr, lam)
    assert opt.last_lam == pytest.approx(float(expected_lam), rel=1e-12, abs=1e-15)
    assert model.rho.item() == pytest.approx((rho + lr * rho_dot).item(), rel=1e-13)
    new = [m.weight.detach() for m in body if hasattr(m, "weight")]
    for v, g, v1 in zip(V, grads[1:], new):
        assert torch.allclose(v1, v.detach() - lr * (g + 2 * expected_lam * v.detach()), rtol=1e-12, atol=1e-14)


def test_the_norm_of_v_changes_as_two_rho_rho_dot_minus_four_lambda_norm_squared():
    """d/dt ||V_k||^2 = 2 rho rho_dot - 4 lam ||V_k||^2 (the lecture's slide has 2 lam): Euler's identity."""
    body, X, y = problem()
    model = wn.ScaledNetwork(body, 1.3)
    lam = 0.7
    value = losses.exp(model(X), y)
    params = [model.rho] + [m.weight for m in body if hasattr(m, "weight")]
    grads = torch.autograd.grad(value, params)
    rho_dot = -grads[0]
    for Vk, g in zip(params[1:], grads[1:]):
        V_dot = -(g + 2 * lam * Vk)
        rate = 2 * (Vk * V_dot).sum()
        norm2 = Vk.pow(2).sum()
        assert rate.item() == pytest.approx((2 * model.rho * rho_dot - 4 * lam * norm2).item(), rel=1e-10)
        assert rate.item() != pytest.approx((2 * model.rho * rho_dot - 2 * lam * norm2).item(), rel=1e-3)


def test_the_multiplier_pulls_v_to_the_sphere_at_the_predicted_rate():
    """||V_k||^2 - 1 = (||V_k(0)||^2 - 1) exp(-(rho^2 - rho_0^2)) in continuous time; small steps follow it."""
    torch.manual_seed(0)
    body, X, y = problem((3, 4, 1), n=6, seed=3)
    with torch.no_grad():  # a separating start would be nicer; the identity holds for any sign of rho_dot
        for m in body:
            if hasattr(m, "weight"):
                m.weight.mul_(1.1 / torch.linalg.matrix_norm(m.weight))
    model = wn.ScaledNetwork(body, 1.0)
    rho0, start = model.rho.item(), [v**2 - 1 for v in model.norms()]
    for _ in range(400):
        one_step(model, X, y, 2e-3, "multiplier")
    predicted = [s * math.exp(-(model.rho.item() ** 2 - rho0**2)) for s in start]
    measured = [v**2 - 1 for v in model.norms()]
    assert abs(model.rho.item() - rho0) > 1e-3  # rho moved, so the check has content
    assert measured == pytest.approx(predicted, rel=1e-2)


def test_multiplier_gd_refuses_other_models_and_bad_lambdas():
    body, X, y = problem()
    with pytest.raises(TypeError):
        wn.MultiplierGD(body, lr=0.1)
    with pytest.raises(ValueError):
        wn.MultiplierGD(wn.ScaledNetwork(body), lr=0.1, lam="slide")
    with pytest.raises(ValueError):
        wn.MultiplierGD(wn.ScaledNetwork(body), lr=0.1, lam=-1.0)
    with pytest.raises(ValueError):
        wn.ScaledNetwork(nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)))
