"""activation_patterns: patterns, flips and movement against NumPy, and the pseudo-gradient against a
hand-written closed form (Li & Liang's formula), against autograd and finite differences at W = W0,
and against a NumPy back-propagation with frozen masks for a deeper network."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dltheory import activation_patterns as ap
from dltheory import models


def two_layer(m=12, d=5, k=3, seed=0, **kw):
    return models.two_layer(d, m, k, outer="fixed_gaussian", scaling="ntk", seed=seed, dtype=torch.float64, **kw)


def moved(net, scale, seed=1):
    """A copy of ``net`` with its hidden weight moved by Gaussian noise of size ``scale``."""
    out = copy.deepcopy(net)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out[0].weight.add_(scale * torch.randn(out[0].weight.shape, generator=g, dtype=torch.float64))
    return out


def data(n=9, d=5, k=3, seed=2):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True), torch.randint(0, k, (n,), generator=g)


def numpy_parts(net, X):
    s = net[0].weight_scale
    W = net[0].weight.detach().numpy()
    V = net[2].weight.detach().numpy()
    return s, W, V, X.numpy()


def softmax(F_):
    e = np.exp(F_ - F_.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def li_liang_gradient(net, initial, X, y):
    """The paper's form: sum over a != y_s of (V_a - V_y) o_a, times the frozen mask, times x_s (mean over s)."""
    s, W, V, Xn = numpy_parts(net, X)
    W0 = initial[0].weight.detach().numpy()
    Z, Z0 = Xn @ (s * W).T, Xn @ (s * W0).T
    o = softmax(np.maximum(Z, 0) @ V.T)  # outputs of the *current* network
    n, k = o.shape
    G = np.zeros_like(W)
    for i in range(n):
        yi = int(y[i])
        coeff = sum((V[a] - V[yi]) * o[i, a] for a in range(k) if a != yi)  # (m,)
        G += np.outer(coeff * (Z0[i] > 0), Xn[i])
    return s * G / n  # the NTK factor s multiplies the gradient with respect to the stored weight


# --------------------------------------------------------------------------- patterns and flips


def test_patterns_are_signs_of_the_preactivations():
    net, (X, _) = two_layer(bias=True), data()
    with torch.no_grad():
        net[0].bias.normal_()
    s, W, _, Xn = numpy_parts(net, X)
    b = net[0].bias.detach().numpy() * net[0].bias_scale
    (P,) = ap.activation_patterns(net, X)
    (Z,) = ap.pre_activations(net, X)
    np.testing.assert_allclose(Z.numpy(), Xn @ (s * W).T + b, rtol=1e-13, atol=1e-13)
    assert P.dtype == torch.bool and P.shape == (9, 12)
    assert np.array_equal(P.numpy(), Xn @ (s * W).T + b > 0)


def test_a_deep_chain_gives_one_pattern_per_activation():
    net = models.mlp([4, 7, 6, 2], seed=0, dtype=torch.float64)
    X = torch.randn(5, 4, dtype=torch.float64)
    pats = ap.activation_patterns(net, X)
    assert [tuple(p.shape) for p in pats] == [(5, 7), (5, 6)]
    h1 = torch.relu(net[0](X))
    assert torch.equal(pats[1], net[2](h1) > 0)


def test_flip_fraction_counts_pairs_units_and_examples():
    before = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=torch.bool)
    after = before.clone()
    after[0, 0] = False  # unit 0 flips on example 0
    after[1, 0] = False  # ... and on example 1
    after[1, 3] = True  # unit 3 flips on example 1
    assert ap.flip_fraction(before, after) == pytest.approx(3 / 12)
    assert ap.flip_fraction(before, after, over="units") == pytest.approx(2 / 4)
    assert ap.flip_fraction(before, after, over="examples") == pytest.approx(2 / 3)
    assert ap.flip_fraction(before, before) == 0.0


def test_flip_fraction_pools_the_layers_by_pairs():
    a = (torch.zeros(2, 3, dtype=torch.bool), torch.zeros(2, 5, dtype=torch.bool))
    b = (torch.ones(2, 3, dtype=torch.bool), torch.zeros(2, 5, dtype=torch.bool))
    assert ap.flip_fraction(a, b) == pytest.approx(6 / 16)
    assert ap.flip_fraction(a, b, over="units") == pytest.approx(3 / 8)
    assert ap.flip_fraction(a, b, over="examples") == 1.0


def test_flip_fraction_of_a_trained_like_move_matches_numpy():
    net, (X, _) = two_layer(m=40), data(n=30)
    other = moved(net, 0.3)
    s, W, _, Xn = numpy_parts(net, X)
    W1 = other[0].weight.detach().numpy()
    expected = np.mean((Xn @ W.T > 0) != (Xn @ W1.T > 0))
    got = ap.flip_fraction(ap.activation_patterns(net, X), ap.activation_patterns(other, X))
    assert 0 < got < 0.5 and got == pytest.approx(expected, abs=1e-15)


def test_flip_fraction_refuses_bad_input():
    p = torch.zeros(3, 4, dtype=torch.bool)
    with pytest.raises(TypeError, match="Boolean"):
        ap.flip_fraction(p.float(), p)
    with pytest.raises(ValueError, match="same shapes"):
        ap.flip_fraction(p, torch.zeros(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="unknown over"):
        ap.flip_fraction(p, p, over="neurons")
    with pytest.raises(TypeError, match="sequence"):
        ap.flip_fraction("p", p)


# --------------------------------------------------------------------------- movement


def test_relative_movement_of_models_and_tensors():
    net = two_layer()
    other = moved(net, 0.2)
    W0, W = net[0].weight.detach().numpy(), other[0].weight.detach().numpy()
    expected = np.linalg.norm(W - W0) / np.linalg.norm(W0)
    assert ap.relative_movement(net, other) == pytest.approx(expected, rel=1e-13)
    assert ap.relative_movement(net[0].weight, other[0].weight) == pytest.approx(expected, rel=1e-13)
    assert ap.relative_movement([net[0].weight], [other[0].weight]) == pytest.approx(expected, rel=1e-13)
    assert ap.relative_movement(net, net) == 0.0


def test_relative_movement_ignores_the_frozen_outer_layer_and_refuses_zero():
    net = two_layer()
    other = copy.deepcopy(net)
    with torch.no_grad():
        other[2].weight.mul_(3.0)  # frozen: not part of the trained parameters
    assert ap.relative_movement(net, other) == 0.0
    with pytest.raises(ValueError, match="undefined"):
        ap.relative_movement(torch.zeros(2, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match="same shapes"):
        ap.relative_movement(torch.ones(2, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match="same architecture"):
        ap.relative_movement(two_layer(m=5), two_layer(m=6))


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("scale", [0.0, 0.3, 1.0])
def test_pseudo_gradient_is_li_and_liangs_formula(scale):
    net, (X, y) = two_layer(m=16), data(n=25)
    current = moved(net, scale)
    (G,) = ap.pseudo_gradient(current, net, X, y)
    np.testing.assert_allclose(G.numpy(), li_liang_gradient(current, net, X, y), rtol=1e-11, atol=1e-14)


def test_true_gradient_is_autograd_and_finite_differences():
    net, (X, y) = two_layer(m=10), data(n=20)
    current = moved(net, 0.5)
    (G,) = ap.true_gradient(current, X, y)
    (auto,) = torch.autograd.grad(F.cross_entropy(current(X), y), [current[0].weight])
    torch.testing.assert_close(G, auto, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(G.numpy(), li_liang_gradient(current, current, X, y), rtol=1e-11, atol=1e-14)
    W = current[0].weight
    eps = 1e-6
    for r, j in [(0, 0), (3, 2), (9, 4)]:
        with torch.no_grad():
            W[r, j] += eps
            up = F.cross_entropy(current(X), y).item()
            W[r, j] -= 2 * eps
            down = F.cross_entropy(current(X), y).item()
            W[r, j] += eps
        assert G[r, j].item() == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-10)


def test_at_initialisation_the_pseudo_gradient_is_the_gradient():
    net, (X, y) = two_layer(m=30), data(n=40)
    start = copy.deepcopy(net)
    for a, b in zip(ap.pseudo_gradient(net, start, X, y), ap.true_gradient(net, X, y)):
        assert torch.equal(a, b)
    assert ap.pseudo_gradient_cosine(net, start, X, y) == pytest.approx(1.0, abs=1e-14)


def test_without_flips_they_coincide_and_with_flips_they_differ_only_on_flipped_pairs():
    net, (X, y) = two_layer(m=30), data(n=40)
    tiny = moved(net, 1e-9)
    assert ap.flip_fraction(ap.activation_patterns(net, X), ap.activation_patterns(tiny, X)) == 0.0
    assert torch.equal(ap.pseudo_gradient(tiny, net, X, y)[0], ap.true_gradient(tiny, X, y)[0])
    far = moved(net, 0.8)
    diff = (ap.true_gradient(far, X, y)[0] - ap.pseudo_gradient(far, net, X, y)[0]).numpy()
    # the difference, by the closed form: only (unit, example) pairs whose pattern changed contribute
    s, W, V, Xn = numpy_parts(far, X)
    W0 = net[0].weight.detach().numpy()
    Z, Z0 = Xn @ (s * W).T, Xn @ (s * W0).T
    o = softmax(np.maximum(Z, 0) @ V.T)
    o[np.arange(len(y)), y.numpy()] -= 1
    C = o @ V  # (n, m): dL/dz_ir before the mask, times n
    expected = s * ((C * ((Z > 0).astype(float) - (Z0 > 0))).T @ Xn) / len(y)
    np.testing.assert_allclose(diff, expected, rtol=1e-10, atol=1e-14)
    assert np.abs(diff).max() > 1e-4
    cos = ap.pseudo_gradient_cosine(far, net, X, y)
    g, p = ap.true_gradient(far, X, y)[0].reshape(-1), ap.pseudo_gradient(far, net, X, y)[0].reshape(-1)
    assert cos == pytest.approx((g @ p / (g.norm() * p.norm())).item(), rel=1e-13) and cos < 1


def test_deep_chain_pseudo_gradient_is_backprop_with_frozen_masks():
    """Two hidden ReLU layers with biases, all parameters trained: a NumPy backward pass."""
    net = models.mlp([4, 6, 5, 3], seed=3, dtype=torch.float64)
    start = copy.deepcopy(net)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.4 * torch.randn_like(p))
    X, y = data(n=11, d=4)
    got = ap.pseudo_gradient(net, start, X, y)
    layers = [net[0], net[2], net[4]]
    W = [m.weight.detach().numpy() for m in layers]
    b = [m.bias.detach().numpy() for m in layers]
    W0 = [m.weight.detach().numpy() for m in (start[0], start[2], start[4])]
    b0 = [m.bias.detach().numpy() for m in (start[0], start[2], start[4])]
    Xn, n = X.numpy(), len(y)
    # masks of the initial network, values of the current one
    z01 = Xn @ W0[0].T + b0[0]
    z02 = np.maximum(z01, 0) @ W0[1].T + b0[1]
    M1, M2 = (z01 > 0).astype(float), (z02 > 0).astype(float)
    z1 = Xn @ W[0].T + b[0]
    h1 = np.maximum(z1, 0)
    z2 = h1 @ W[1].T + b[1]
    h2 = np.maximum(z2, 0)
    out = h2 @ W[2].T + b[2]
    delta3 = softmax(out)
    delta3[np.arange(n), y.numpy()] -= 1
    delta3 /= n
    delta2 = (delta3 @ W[2]) * M2
    delta1 = (delta2 @ W[1]) * M1
    expected = [delta1.T @ Xn, delta1.sum(0), delta2.T @ h1, delta2.sum(0), delta3.T @ h2, delta3.sum(0)]
    assert len(got) == 6
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "softplus", "leaky_relu"])
def test_smooth_and_leaky_activations_at_initialisation_give_the_gradient(activation):
    net = models.mlp([3, 8, 2], activation=activation, seed=0, dtype=torch.float64)
    X, y = data(n=7, d=3, k=2)
    (g_pseudo, *_), (g_true, *_) = ap.pseudo_gradient(net, copy.deepcopy(net), X, y), ap.true_gradient(net, X, y)
    (auto, *_) = torch.autograd.grad(F.cross_entropy(net(X), y), list(net.parameters()))
    torch.testing.assert_close(g_pseudo, auto, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g_true, auto, rtol=1e-12, atol=1e-14)


def test_other_losses_and_the_model_is_left_untouched():
    net = models.two_layer(4, 10, 1, outer="fixed_sign", scaling="ntk", seed=0, dtype=torch.float64)
    start = copy.deepcopy(net)
    X = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([1.0, -1, 1, 1, -1, -1], dtype=torch.float64)
    before = [p.detach().clone() for p in net.parameters()]
    (g,) = ap.true_gradient(net, X, y, loss="logistic")
    (auto,) = torch.autograd.grad(-F.logsigmoid(y * net(X).reshape(-1)).mean(), [net[0].weight])
    torch.testing.assert_close(g, auto, rtol=1e-13, atol=1e-15)
    ap.pseudo_gradient(net, start, X, y, loss="logistic")
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert net[0].weight.grad is None


def test_bad_inputs_are_named():
    net, (X, y) = two_layer(), data()
    with pytest.raises(ValueError, match="same architecture"):
        ap.pseudo_gradient(net, two_layer(m=13), X, y)
    with pytest.raises(ValueError, match="NaN"):
        ap.pseudo_gradient(net, net, X * float("nan"), y)
    with pytest.raises(ValueError, match="examples"):
        ap.true_gradient(net, X, y[:-1])
    with pytest.raises(ValueError, match="class indices"):
        ap.true_gradient(net, X, y + 5)
    with pytest.raises(ValueError, match="matrix"):
        ap.activation_patterns(net, X[0])
    with pytest.raises(TypeError, match="nn.Module"):
        ap.activation_patterns("net", X)
    with pytest.raises(ValueError, match="convolution"):
        ap.activation_patterns(nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU()), X)
    frozen = two_layer()
    frozen[0].weight.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        ap.true_gradient(frozen, X, y)
