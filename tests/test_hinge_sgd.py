"""hinge_sgd against independent computations: PyTorch's autograd on ``models.two_layer``, a one-example-at-a-time
loop, the classical margin perceptron, the potential argument step by step, and a numerical root of the
quadratic inequality."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from dltheory import data, hinge_sgd as H, implicit_bias, models

pytestmark = pytest.mark.usefixtures("one_thread")


def net(d=5, k=4, alpha=0.3, R=1.0, seed=0, v=None):
    return models.two_layer(d, 2 * k, activation="leaky_relu", negative_slope=alpha, outer="fixed_sign",
                            outer_scale=k ** -0.5 if v is None else v, weight_var=R**2, seed=seed,
                            dtype=torch.float64)


def problem(n=60, d=5, margin=0.1, seed=0):
    X, y, _ = data.separable(n, d, margin=margin, seed=seed, dtype=torch.float64)
    return X.numpy(), y.numpy()


def separator(n=60, d=5, margin=0.1, seed=0):
    """A w* with y <w*, x> >= 1 on every example: the generating direction over the margin (fast; the SVM
    gives a smaller norm but needs a solver)."""
    _, _, w = data.separable(n, d, margin=margin, seed=seed, dtype=torch.float64)
    return w.numpy() / margin


def torch_loss(model, X, y):
    out = model(torch.as_tensor(X)).reshape(-1)
    return torch.relu(1 - torch.as_tensor(y) * out).mean()


def load(model, W):
    with torch.no_grad():
        model[0].weight.copy_(torch.as_tensor(W))
    return model


# --------------------------------------------------------------------------- the network


def test_network_parts_reads_two_layer():
    model = net(d=6, k=3, alpha=0.2, seed=3)
    W, a, alpha = H.network_parts(model)
    assert np.array_equal(W, model[0].weight.detach().numpy())
    assert np.allclose(a, np.r_[np.ones(3), -np.ones(3)] / math.sqrt(3))
    assert alpha == pytest.approx(0.2)
    relu = models.two_layer(4, 6, activation="relu", outer="fixed_sign", seed=0)
    assert H.network_parts(relu)[2] == 0.0


@pytest.mark.parametrize("bad, match", [
    (models.mlp([4, 5, 5, 1], bias=False), "two-layer"),
    (models.two_layer(4, 6, activation="tanh", outer="fixed_sign"), "LeakyReLU"),
    (models.two_layer(4, 6, 2, activation="relu"), "one output"),
    (models.two_layer(4, 6, activation="relu", bias=True), "bias"),
])
def test_network_parts_refuses_other_networks(bad, match):
    with pytest.raises(ValueError, match=match):
        H.network_parts(bad)


def test_output_loss_and_gradient_match_autograd():
    X, y = problem(n=50, d=5, seed=1)
    model = net(d=5, k=4, alpha=0.3, R=2.0, seed=2)
    W, a, alpha = H.network_parts(model)
    out = model(torch.as_tensor(X)).reshape(-1).detach().numpy()
    assert np.allclose(H.network_output(W, a, X, alpha), out, rtol=1e-12, atol=1e-12)
    loss = torch_loss(model, X, y)
    loss.backward()
    mine, grad = H.hinge_loss_grad(W, a, X, y, alpha)
    assert mine == pytest.approx(loss.item(), rel=1e-12)
    assert H.hinge_loss(W, a, X, y, alpha) == pytest.approx(loss.item(), rel=1e-12)
    assert np.allclose(grad, model[0].weight.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_stacked_weights_give_each_matrix_its_own_loss_and_gradient(monkeypatch):
    monkeypatch.setattr(H, "_CHUNK_ELEMENTS", 500)  # force several chunks
    X, y = problem(n=30, d=4, seed=2)
    model = net(d=4, k=2, alpha=0.5, seed=0)
    _, a, alpha = H.network_parts(model)
    Ws = np.random.default_rng(0).standard_normal((7, 4, 4))
    loss, grad, active = H.hinge_loss_grad(Ws, a, X, y, alpha, return_active=True)
    assert loss.shape == (7,) and grad.shape == Ws.shape and active.shape == (7,)
    for t, W in enumerate(Ws):
        load(model, W)
        model.zero_grad()
        ref = torch_loss(model, X, y)
        ref.backward()
        assert loss[t] == pytest.approx(ref.item(), rel=1e-12)
        assert np.allclose(grad[t], model[0].weight.grad.numpy(), rtol=1e-10, atol=1e-13)
        margins = y * model(torch.as_tensor(X)).reshape(-1).detach().numpy()
        assert active[t] == np.sum(margins < 1)
    assert np.allclose(H.network_output(Ws, a, X, alpha)[3], H.network_output(Ws[3], a, X, alpha))


def test_gradient_at_kinks_follows_pytorchs_convention():
    """At W = 0 every pre-activation is 0: sigma'(0) = alpha, as PyTorch's LeakyReLU backward."""
    X, y = problem(n=20, d=3, seed=4)
    model = load(net(d=3, k=2, alpha=0.25), np.zeros((4, 3)))
    torch_loss(model, X, y).backward()
    _, a, alpha = H.network_parts(model)
    grad = H.hinge_loss_grad(np.zeros((4, 3)), a, X, y, alpha)[1]
    assert np.allclose(grad, model[0].weight.grad.numpy(), atol=1e-15)
    assert np.abs(grad).max() > 0


# --------------------------------------------------------------------------- SGD


def one_at_a_time(model, X, y, eta, seed, max_epochs=1000):
    """SGD with PyTorch: one example per step, an update where the hinge loss is positive."""
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=eta)
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(max_epochs):
        count = 0
        for i in rng.permutation(len(y)):
            opt.zero_grad()
            loss = torch_loss(model, X[i:i + 1], y[i:i + 1])
            if loss.item() > 0:
                loss.backward()
                opt.step()
                examples.append(i)
                count += 1
        if count == 0:
            break
    return model[0].weight.detach().numpy(), examples


@pytest.mark.parametrize("alpha, eta, R, k", [(0.5, 1.0, 1e-3, 3), (0.2, 0.3, 1.0, 5), (0.9, 2.0, 0.0, 2)])
def test_sgd_equals_the_one_example_at_a_time_loop_with_autograd(alpha, eta, R, k):
    X, y = problem(n=80, d=5, margin=0.15, seed=5)
    model = net(d=5, k=k, alpha=alpha, R=R, seed=6)
    W0, a, _ = H.network_parts(model)
    run = H.hinge_sgd(X, y, W0, a, alpha=alpha, eta=eta, seed=9)
    W_ref, examples = one_at_a_time(model, X, y, eta, seed=9)
    assert run.converged
    assert run.updates == len(examples) == run.updates_per_epoch.sum()
    assert list(run.update_examples) == examples
    assert np.allclose(run.W, W_ref, rtol=1e-10, atol=1e-12)
    assert run.updates_per_epoch[-1] == 0 and len(run.updates_per_epoch) == run.epochs
    assert H.hinge_loss(run.W, a, X, y, alpha) == 0.0


def test_replaying_the_update_examples_rebuilds_the_weights():
    X, y = problem(n=100, d=6, seed=7)
    W0, a, alpha = H.network_parts(net(d=6, k=8, alpha=0.4, R=0.1, seed=1))
    run = H.hinge_sgd(X, y, W0, a, alpha=alpha, eta=0.7, seed=3)
    idx = run.update_examples
    assert np.allclose(H.replay_updates(W0, a, X[idx], y[idx], alpha=alpha, eta=0.7), run.W, rtol=1e-12, atol=1e-14)
    assert len(np.unique(idx)) < run.updates  # examples are reused: the compression set has repeats


def test_max_epochs_stops_without_convergence():
    X, y = problem(n=200, d=5, margin=0.01, seed=0)
    W0, a, alpha = H.network_parts(net(d=5, k=2, alpha=0.1, seed=0))
    run = H.hinge_sgd(X, y, W0, a, alpha=alpha, eta=0.1, seed=0, max_epochs=1)
    assert not run.converged and run.epochs == 1 and run.updates > 0


# --------------------------------------------------------------------------- the update bound


def potential(W, k, w_star):
    return (W[:k] @ w_star).sum() - (W[k:] @ w_star).sum()


@pytest.mark.parametrize("seed", range(4))
def test_each_update_raises_the_potential_and_bounds_the_norm_growth(seed):
    """The two steps of the perceptron argument, checked after every single update."""
    rng = np.random.default_rng(seed)
    k, alpha, eta, v = int(rng.integers(1, 6)), float(rng.uniform(0.1, 1)), float(rng.uniform(0.1, 3)), \
        float(rng.uniform(0.2, 2))
    X, y = problem(n=60, d=4, margin=0.1, seed=seed)
    w_star = separator(n=60, d=4, margin=0.1, seed=seed)
    W0, a, _ = H.network_parts(net(d=4, k=k, alpha=alpha, R=0.5, seed=seed, v=v))
    run = H.hinge_sgd(X, y, W0, a, alpha=alpha, eta=eta, seed=seed)
    W = W0
    for i in run.update_examples:
        W_next = H.replay_updates(W, a, X[i:i + 1], y[i:i + 1], alpha=alpha, eta=eta)
        gain = potential(W_next, k, w_star) - potential(W, k, w_star)
        growth = np.sum(W_next**2) - np.sum(W**2)
        assert gain >= 2 * k * eta * v * alpha * (1 - 1e-12)
        assert growth <= 2 * eta + 2 * k * eta**2 * v**2 + 1e-12
        W = W_next


def test_update_bound_closed_form_from_zero():
    b = H.update_bound(3.0, alpha=0.5, eta=0.25, k=7, v=0.4)
    assert b == pytest.approx(9.0 / 0.25 * (1 + 1 / (7 * 0.25 * 0.16)), rel=1e-13)
    # v = 1/sqrt(k): (||w*||^2 / alpha^2)(1 + 1/eta), the same for every width
    for k in (1, 10, 1000):
        assert H.update_bound(3.0, alpha=0.5, eta=0.25, k=k) == pytest.approx(36 * 5, rel=1e-12)


@pytest.mark.parametrize("R0, k, v, eta, x", [(0.3, 2, 0.7, 0.5, 1.0), (5.0, 10, 0.1, 2.0, 0.6), (1e-3, 100, 0.1, 1.0, 1)])
def test_update_bound_is_the_root_of_the_potential_inequality(R0, k, v, eta, x):
    w, alpha = 4.0, 0.3
    a, b, c = 2 * k * eta * v * alpha, math.sqrt(2 * k) * w, 2 * eta + 2 * k * eta**2 * v**2 * x**2

    def slack(M):  # positive while M updates are still possible
        return b * math.sqrt(R0**2 + c * M) - (a * M - b * R0)

    root = brentq(slack, b * R0 / a, 1e9, xtol=1e-12, rtol=1e-14)
    assert H.update_bound(w, alpha=alpha, eta=eta, k=k, v=v, init_norm=R0, input_norm=x) == pytest.approx(root, rel=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_sgd_never_exceeds_the_update_bound(seed):
    rng = np.random.default_rng(100 + seed)
    d, k = int(rng.integers(2, 8)), int(rng.integers(1, 30))
    alpha, eta, v, R = float(rng.uniform(0.05, 1)), float(10 ** rng.uniform(-1.5, 1)), \
        float(10 ** rng.uniform(-1, 0.5)), float(10 ** rng.uniform(-3, 0))
    size, margin = int(rng.integers(20, 200)), float(rng.uniform(0.05, 0.3))
    X, y = problem(n=size, d=d, margin=margin, seed=seed)
    w_star = implicit_bias.max_margin_direction(X, y).numpy() if seed < 2 else separator(size, d, margin, seed)
    W0, a, _ = H.network_parts(net(d=d, k=k, alpha=alpha, R=R, seed=seed, v=v))
    run = H.hinge_sgd(X, y, W0, a, alpha=alpha, eta=eta, seed=seed)
    assert run.converged
    assert run.updates <= H.update_bound(np.linalg.norm(w_star), alpha=alpha, eta=eta, k=k, v=v,
                                         init_norm=np.linalg.norm(W0))


def margin_perceptron(X, y, w0, eta, seed):
    """The classical perceptron with margin 1: w += eta y x wherever y <w, x> < 1."""
    rng = np.random.default_rng(seed)
    w, count = w0.copy(), 0
    while True:
        before = count
        for i in rng.permutation(len(y)):
            if y[i] * (w @ X[i]) < 1:
                w += eta * y[i] * X[i]
                count += 1
        if count == before:
            return w, count


def test_with_slope_one_the_network_is_the_margin_perceptron():
    """alpha = 1 makes N_W linear in x with w_eff = a^T W; each update moves w_eff by eta ||a||^2 y x, and
    the bound becomes the perceptron's ||w*||^2 (1 + 2/eta') with eta' = eta ||a||^2 = 2 k v^2 eta."""
    X, y = problem(n=150, d=6, margin=0.1, seed=11)
    k, v, eta = 5, 0.3, 0.8
    W0, a, _ = H.network_parts(net(d=6, k=k, alpha=1.0, R=0.2, seed=2, v=v))
    run = H.hinge_sgd(X, y, W0, a, alpha=1.0, eta=eta, seed=4)
    w, count = margin_perceptron(X, y, a @ W0, eta * a @ a, seed=4)
    assert run.updates == count
    assert np.allclose(a @ run.W, w, rtol=1e-10, atol=1e-12)
    eta_eff = 2 * k * v**2 * eta
    assert H.update_bound(2.0, alpha=1.0, eta=eta, k=k, v=v) == pytest.approx(4.0 * (1 + 2 / eta_eff), rel=1e-13)


# --------------------------------------------------------------------------- the gradient bound


@pytest.mark.parametrize("outer", ["fixed_sign", "fixed_gaussian"])
def test_gradient_norm_is_at_least_the_bound_at_random_points(outer):
    X, y = problem(n=80, d=5, margin=0.1, seed=3)
    w_star = implicit_bias.max_margin_direction(X, y).numpy()
    model = models.two_layer(5, 12, activation="leaky_relu", negative_slope=0.3, outer=outer, seed=1,
                             dtype=torch.float64)
    _, a, alpha = H.network_parts(model)
    rng = np.random.default_rng(0)
    for scale in (0.01, 0.3, 3.0, 30.0):
        for _ in range(25):
            W = rng.standard_normal((12, 5)) * scale
            load(model, W)
            model.zero_grad()
            loss = torch_loss(model, X, y)
            loss.backward()
            grad = model[0].weight.grad.numpy()
            bound = H.gradient_lower_bound(W, a, X, y, w_star, alpha=alpha)
            assert np.linalg.norm(grad) >= bound * (1 - 1e-12)
            # the directional derivative along Delta_j = sign(a_j) w* is at most -(A/n) alpha ||a||_1
            delta = np.sign(a)[:, None] * w_star[None, :]
            A = int(np.sum(y * model(torch.as_tensor(X)).reshape(-1).detach().numpy() < 1))
            assert np.sum(grad * delta) <= -A / len(y) * alpha * np.abs(a).sum() * (1 - 1e-12)
            assert (bound > 0) == (loss.item() > 0)


def test_gradient_bound_formula_for_brutzkus_outer_layer_and_stacks():
    X, y = problem(n=40, d=4, seed=8)
    w_star = implicit_bias.max_margin_direction(X, y).numpy()
    k, alpha = 6, 0.4
    a = np.r_[np.ones(k), -np.ones(k)] / math.sqrt(k)
    Ws = np.random.default_rng(1).standard_normal((5, 2 * k, 4))
    bounds_ = H.gradient_lower_bound(Ws, a, X, y, w_star, alpha=alpha)
    _, _, active = H.hinge_loss_grad(Ws, a, X, y, alpha, return_active=True)
    expected = active / len(y) * math.sqrt(2 * k) * alpha * (1 / math.sqrt(k)) / np.linalg.norm(w_star)
    assert np.allclose(bounds_, expected, rtol=1e-13)
    assert H.gradient_lower_bound(Ws[2], a, X, y, w_star, alpha=alpha) == pytest.approx(expected[2], rel=1e-13)


def test_gradient_bound_needs_w_star_at_margin_one():
    X, y = problem(n=40, d=4, seed=8)
    w_star = implicit_bias.max_margin_direction(X, y).numpy()
    a = np.array([1.0, -1.0])
    with pytest.raises(ValueError, match="margin 1"):
        H.gradient_lower_bound(np.zeros((2, 4)), a, X, y, 0.5 * w_star, alpha=0.5)


def test_nonconvexity_witness_is_a_real_violation():
    X, y = problem(n=100, d=5, seed=2)
    a = np.r_[np.ones(4), -np.ones(4)] / 2
    W1, W2, gap = H.nonconvexity_witness(a, X, y, alpha=0.5, scale=1.0, trials=300, seed=0)
    L = [H.hinge_loss(W, a, X, y, 0.5) for W in (W1, W2, (W1 + W2) / 2)]
    assert gap == pytest.approx(L[2] - (L[0] + L[1]) / 2, rel=1e-9)
    assert gap > 1e-4
    # with a linear activation (alpha = 1) the loss is convex in W: no pair violates convexity
    assert H.nonconvexity_witness(a, X, y, alpha=1.0, trials=300, seed=0)[2] <= 1e-14


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("call, error, match", [
    (lambda X, y, W, a: H.hinge_loss(W, a, X[:, :3], y, 0.5), ValueError, "d = 3"),
    (lambda X, y, W, a: H.hinge_loss(W, a[:3], X, y, 0.5), ValueError, "outer weights"),
    (lambda X, y, W, a: H.hinge_loss(W, a, X, y[:5], 0.5), ValueError, "examples"),
    (lambda X, y, W, a: H.hinge_loss(W, a, X, (y + 1) / 2, 0.5), ValueError, "-1, \\+1"),
    (lambda X, y, W, a: H.hinge_loss(W, a, X, y, 1.5), ValueError, "alpha"),
    (lambda X, y, W, a: H.hinge_loss(W * np.nan, a, X, y, 0.5), ValueError, "NaN"),
    (lambda X, y, W, a: H.hinge_loss(W[0], a, X, y, 0.5), ValueError, "dimensions"),
    (lambda X, y, W, a: H.hinge_sgd(X, y, W, a, alpha=0.5, eta=0.0), ValueError, "eta"),
    (lambda X, y, W, a: H.hinge_sgd(X, y, W[None], a, alpha=0.5, eta=1.0), ValueError, "one weight matrix"),
    (lambda X, y, W, a: H.update_bound(0.0, alpha=0.5, eta=1.0, k=2), ValueError, "w_star_norm"),
    (lambda X, y, W, a: H.update_bound(1.0, alpha=0.0, eta=1.0, k=2), ValueError, "alpha"),
    (lambda X, y, W, a: H.nonconvexity_witness(a, X, y, alpha=0.5, trials=0), ValueError, "trials"),
])
def test_bad_inputs_get_clear_errors(call, error, match):
    X, y = problem(n=20, d=5, seed=0)
    W, a = np.zeros((4, 5)), np.array([1.0, 1.0, -1.0, -1.0])
    with pytest.raises(error, match=match):
        call(X, y, W, a)
