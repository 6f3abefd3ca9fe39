"""dltheory.batchnorm against independent computations: the batch-norm backward pass against autograd,
the probes along the gradient against a direct evaluation and a quadratic's closed form, Santurkar's
gradient ICS against moving the layers by hand, the moments against numpy, the shift against the
Wasserstein distance of samples and the noise's closed form."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import batchnorm, train
from dltheory.models import mlp
from dltheory.models.normalization import noisy_modules

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def problem(norm="batch", seed=0, widths=(4, 7, 6, 3), n=12):
    g = torch.Generator().manual_seed(100 + seed)
    model = mlp(list(widths), norm=norm, init="he", seed=seed, dtype=F64)
    X = torch.randn(n, widths[0], generator=g, dtype=F64)
    y = torch.randint(0, widths[-1], (n,), generator=g)
    return model, X, y


def by_hand(model, X, y, eta):
    """L(theta - eta g) and the gradient there, by moving a deep copy of the model's parameters in place."""
    import copy

    net = copy.deepcopy(model)
    loss = nn.functional.cross_entropy(net(X), y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    with torch.no_grad():
        for p, g in zip(net.parameters(), grads):
            p -= eta * g
    moved = nn.functional.cross_entropy(net(X), y)
    moved_grads = torch.autograd.grad(moved, list(net.parameters()))
    change = math.sqrt(sum(float((a - b).pow(2).sum()) for a, b in zip(moved_grads, grads)))
    norm = math.sqrt(sum(float(b.pow(2).sum()) for b in grads))
    return loss.item(), moved.item(), change, norm


# ---------------------------------------------------------------- the batch-norm backward pass


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_bn_input_gradient_matches_autograd(eps):
    g = torch.Generator().manual_seed(0)
    y = torch.randn(9, 4, generator=g, dtype=F64) * torch.tensor([1.0, 3.0, 0.5, 2.0], dtype=F64)
    gamma = torch.tensor([0.7, 1.3, -0.4, 2.0], dtype=F64)
    beta = torch.randn(4, generator=g, dtype=F64)
    grad_out = torch.randn(9, 4, generator=g, dtype=F64)
    leaf = y.clone().requires_grad_(True)
    if eps > 0:  # torch's own batch norm (it refuses eps = 0 in training mode)
        z = nn.functional.batch_norm(leaf, None, None, gamma, beta, training=True, eps=eps)
    else:  # the definition, written out
        z = gamma * (leaf - leaf.mean(0)) / torch.sqrt(leaf.var(0, correction=0)) + beta
    (expected,) = torch.autograd.grad(z, leaf, grad_out)
    torch.testing.assert_close(batchnorm.bn_input_gradient(y, grad_out, gamma, eps), expected, rtol=1e-12,
                               atol=1e-12)


def test_bn_input_gradient_norm_is_santurkars_theorem_4_1():
    """||dL/dy||^2 = gamma^2/sigma^2 (||g||^2 - <1,g>^2/m - <y_hat,g>^2/m), which is at most gamma^2/sigma^2 ||g||^2."""
    g = torch.Generator().manual_seed(1)
    m = 16
    y = 4 * torch.randn(m, 3, generator=g, dtype=F64) + 2
    grad_out = torch.randn(m, 3, generator=g, dtype=F64)
    gamma = torch.tensor([1.0, 0.5, 3.0], dtype=F64)
    got = batchnorm.bn_input_gradient(y, grad_out, gamma).pow(2).sum(0)
    sigma = y.std(0, correction=0)
    y_hat = (y - y.mean(0)) / sigma
    expected = gamma**2 / sigma**2 * (grad_out.pow(2).sum(0) - grad_out.sum(0) ** 2 / m
                                      - (y_hat * grad_out).sum(0) ** 2 / m)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert torch.all(got <= gamma**2 / sigma**2 * grad_out.pow(2).sum(0))


def test_bn_input_gradient_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        batchnorm.bn_input_gradient(torch.randn(5, 2), torch.randn(5, 3), torch.ones(2))
    with pytest.raises(ValueError, match="at least 2 examples"):
        batchnorm.bn_input_gradient(torch.randn(1, 2), torch.randn(1, 2), torch.ones(2))
    with pytest.raises(ValueError, match="constant over the batch"):
        batchnorm.bn_input_gradient(torch.ones(4, 2), torch.randn(4, 2), torch.ones(2))


# ---------------------------------------------------------------- along the gradient


@pytest.mark.parametrize("norm", [None, "batch", "noisy_batch"])
def test_landscape_probe_matches_moving_the_weights_by_hand(norm):
    model, X, y = problem(norm)
    if norm == "noisy_batch":
        model(X)  # a first draw of the noise, which every evaluation below must reuse
    etas = [0.05, 0.3, 1.0, 2.5]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    states = [m.generator.get_state() for m in noisy_modules(model)]
    probe = batchnorm.landscape_probe(model, "ce", X, y, etas)
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name  # parameters and noise untouched
    assert all(torch.equal(m.generator.get_state(), s) for m, s in zip(noisy_modules(model), states))
    for m in noisy_modules(model):
        m.resample = False  # the hand computation must see the same noise
    rows = [by_hand(model, X, y, eta) for eta in etas]
    np.testing.assert_allclose(probe.losses, [r[1] for r in rows], rtol=1e-10)
    np.testing.assert_allclose(probe.gradient_changes, [r[2] for r in rows], rtol=1e-8)
    assert probe.loss == pytest.approx(rows[0][0], rel=1e-12)
    assert probe.gradient_norm == pytest.approx(rows[0][3], rel=1e-12)
    losses = np.array([r[1] for r in rows])
    assert probe.loss_range == pytest.approx(losses.max() - losses.min(), rel=1e-10)
    assert probe.beta == pytest.approx(max(r[2] / (eta * r[3]) for r, eta in zip(rows, etas)), rel=1e-8)


def test_landscape_probe_on_a_quadratic_has_the_closed_form():
    """L(w) = |Xw - y|^2 / (2n): L(w - eta g) = L - eta |g|^2 + eta^2 g'Hg/2 and the gradient changes by eta H g,
    so beta_eff = |Hg| / |g| at every step size, with H = X'X/n."""
    g = torch.Generator().manual_seed(3)
    X = torch.randn(20, 5, generator=g, dtype=F64)
    y = torch.randn(20, generator=g, dtype=F64)
    model = nn.Linear(5, 1, bias=False).to(F64)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 5, generator=g, dtype=F64))
    w = model.weight.detach().reshape(-1)
    H = X.T @ X / 20
    grad = H @ w - X.T @ y / 20
    L = 0.5 * (X @ w - y).pow(2).mean().item()
    etas = np.array([0.01, 0.1, 0.4, 1.0])
    probe = batchnorm.landscape_probe(model, "square", X, y, etas)
    expected = L - etas * grad.dot(grad).item() + 0.5 * etas**2 * grad.dot(H @ grad).item()
    np.testing.assert_allclose(probe.losses, expected, rtol=1e-12)
    np.testing.assert_allclose(probe.gradient_changes, etas * (H @ grad).norm().item(), rtol=1e-10)
    assert probe.beta == pytest.approx((H @ grad).norm().item() / grad.norm().item(), rel=1e-10)
    assert probe.beta <= torch.linalg.eigvalsh(H).max().item()


def test_landscape_probe_losses_only_and_non_finite_losses():
    model, X, y = problem(None)
    probe = batchnorm.landscape_probe(model, "ce", X, y, [0.1, 1.0], gradients=False)
    assert np.isnan(probe.gradient_changes).all() and np.isfinite(probe.losses).all()
    big = batchnorm.landscape_probe(model, "ce", X, y, [1e-3, 1e200])
    assert big.losses[1] == math.inf and big.loss_range == math.inf and big.gradient_changes[1] == math.inf


def test_landscape_probe_bad_input():
    model, X, y = problem(None)
    with pytest.raises(ValueError, match="positive numbers"):
        batchnorm.landscape_probe(model, "ce", X, y, [0.1, -1.0])
    with pytest.raises(ValueError, match="at least one"):
        batchnorm.landscape_probe(model, "ce", X, y, [])
    with pytest.raises(ValueError, match="X contains NaN"):
        batchnorm.landscape_probe(model, "ce", X * math.nan, y, [0.1])
    with pytest.raises(ValueError, match="ce loss"):
        batchnorm.landscape_probe(model, "ce", X, y + 10, [0.1])


# ---------------------------------------------------------------- Santurkar's gradient ICS


def test_gradient_ics_matches_moving_the_earlier_layers_by_hand():
    model, X, y = problem("batch", widths=(4, 6, 5, 3))
    lr = 0.4
    ics = batchnorm.gradient_ics(model, "ce", X, y, lr)
    assert ics.layers == ("0", "3", "6")
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach() for p in model.parameters()]
    loss = nn.functional.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    import copy

    for k, layer in enumerate(ics.layers):
        cut = names.index(f"{layer}.weight")
        net = copy.deepcopy(model)
        with torch.no_grad():
            for i, p in enumerate(net.parameters()):
                p.copy_(params[i] - lr * grads[i] if i < cut else params[i])
        G2 = torch.autograd.grad(nn.functional.cross_entropy(net(X), y), [dict(net.named_parameters())[names[cut]]])[0]
        G = grads[cut]
        diff = (G - G2).norm().item()
        assert ics.difference[k] == pytest.approx(diff, rel=1e-9, abs=1e-15)
        assert ics.relative[k] == pytest.approx(diff / G.norm().item(), rel=1e-9, abs=1e-15)
        assert ics.cosine[k] == pytest.approx((G * G2).sum().item() / (G.norm() * G2.norm()).item(), rel=1e-12)
    assert ics.difference[0] == 0 and ics.cosine[0] == pytest.approx(1.0)
    assert ics.difference[1] > 0


def test_weight_layers_finds_linear_and_convolution_layers():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    assert batchnorm.weight_layers(net) == ["0", "4"]
    with pytest.raises(ValueError, match="no layer with a trainable weight"):
        batchnorm.weight_layers(nn.Sequential(nn.BatchNorm1d(3)))


# ---------------------------------------------------------------- distributions of layer inputs


def test_preactivations_are_what_each_relu_receives():
    model, X, _ = problem("batch")
    got = batchnorm.preactivations(model, X)
    h, expected = X, []
    for m in model:
        if isinstance(m, nn.ReLU):
            expected.append(h)
        h = m(h)
    assert len(got) == 2
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b.detach())


def test_unit_moments_match_numpy_for_matrices_and_images():
    z = torch.randn(30, 4, dtype=F64) * 3 + 1
    m, s = batchnorm.unit_moments(z)
    np.testing.assert_allclose(m.numpy(), z.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.numpy(), z.numpy().std(0), rtol=1e-12)
    images = torch.randn(5, 3, 4, 4, dtype=F64)
    m, s = batchnorm.unit_moments(images)
    per_channel = images.numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(m.numpy(), per_channel.mean(1), rtol=1e-12)
    np.testing.assert_allclose(s.numpy(), per_channel.std(1), rtol=1e-12)


def test_distribution_shift_is_the_wasserstein_distance_of_samples():
    """For 1-d samples of equal size W_2^2 is the mean squared difference of the sorted samples; for large
    Gaussian samples that approaches (m' - m)^2 + (s' - s)^2."""
    rng = np.random.default_rng(0)
    n, units = 200_000, 3
    m0, s0 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0])
    m1, s1 = np.array([0.3, 1.0, -1.0]), np.array([1.5, 0.4, 2.0])
    a = m0 + s0 * rng.standard_normal((n, units))
    b = m1 + s1 * rng.standard_normal((n, units))
    w2_sq = ((np.sort(a, axis=0) - np.sort(b, axis=0)) ** 2).mean(axis=0)
    samples = math.sqrt(w2_sq.sum() / (a.var(axis=0)).sum())
    got = batchnorm.distribution_shift(batchnorm.unit_moments(torch.from_numpy(a)),
                                       batchnorm.unit_moments(torch.from_numpy(b)))
    assert got == pytest.approx(samples, rel=0.01)
    exact = math.sqrt((((m1 - m0) ** 2 + (s1 - s0) ** 2).sum()) / (s0**2).sum())
    assert got == pytest.approx(exact, rel=0.01)


def test_distribution_shift_edge_cases():
    zero, one = torch.zeros(3, dtype=F64), torch.ones(3, dtype=F64)
    assert batchnorm.distribution_shift((zero, one), (zero, one)) == 0.0
    assert batchnorm.distribution_shift((zero, one), (zero, 2 * one)) == pytest.approx(1.0)
    assert batchnorm.distribution_shift((zero, one), (one, one)) == pytest.approx(1.0)
    assert math.isnan(batchnorm.distribution_shift((zero, zero), (one, one)))
    with pytest.raises(ValueError, match="same shape"):
        batchnorm.distribution_shift((zero, one), (zero[:2], one[:2]))
    with pytest.raises(ValueError, match="non-negative"):
        batchnorm.distribution_shift((zero, -one), (zero, one))


def test_shift_monitor_sees_the_noise_of_noisy_batch_norm_and_nothing_else():
    """With a negligible step size the weights stay put, so a plain network's inputs do not move, and a noisy
    network's move only by the noise: batch-normalised units (mean 0, sd 1) shifted by m ~ U(-a, a) and scaled
    by s ~ U(lo, hi), redrawn each step, give E[(m'-m)^2 + (s'-s)^2] / E[s^2]
    = (2a^2/3 + (hi-lo)^2/6) / ((lo^2 + lo hi + hi^2)/3), square-rooted: 0.363 for a = 1/2, (1, 3/2)."""
    X = torch.randn(64, 5, dtype=F64)
    y = torch.randint(0, 3, (64,))
    expected = math.sqrt((2 * 0.25 / 3 + 0.25 / 6) / ((1 + 1.5 + 2.25) / 3))
    for norm, target, tol in [(None, 0.0, 1e-6), ("noisy_batch", expected, 0.03)]:
        model = mlp([5, 100, 100, 3], norm=norm, init="he", seed=1, dtype=F64)
        monitor = batchnorm.ShiftMonitor(X)
        train.fit(model, X, y, loss="ce", optimizer="sgd", lr=1e-12, steps=40, batch_size=32, seed=0,
                  callbacks=[monitor])
        assert monitor.steps == list(range(2, 41))
        assert np.array(monitor.shifts).shape == (39, 2)
        assert monitor.mean() == pytest.approx(target, abs=tol)


def test_shift_monitor_every_k_steps_pairs_consecutive_steps():
    model, X, y = problem(None)
    monitor = batchnorm.ShiftMonitor(X, every=5)
    train.fit(model, X, y, loss="ce", optimizer="sgd", lr=0.1, steps=20, batch_size=4, seed=0, callbacks=[monitor])
    assert monitor.steps == [5, 10, 15, 20]
    assert all(s > 0 for row in monitor.shifts for s in row)
    state = monitor.state_dict()
    other = batchnorm.ShiftMonitor(X, every=5)
    other.load_state_dict(state)
    assert other.steps == monitor.steps and other.mean() == monitor.mean()
