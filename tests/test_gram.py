"""Du et al.'s Gram matrices against independent computations: Monte Carlo, the empirical NTK, closed forms."""

import math

import numpy as np
import pytest
import torch

from dltheory import gram, models, ntk


def unit_inputs(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X / X.norm(dim=1, keepdim=True)


def test_du_gram_matches_a_monte_carlo_average_over_gaussian_directions():
    X = unit_inputs(6, 4)
    W = torch.randn(400_000, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    active = (X @ W.T >= 0).double()
    monte_carlo = (X @ X.T) * (active @ active.T) / W.shape[0]
    torch.testing.assert_close(gram.du_gram(X), monte_carlo, atol=3e-3, rtol=0)


def test_du_gram_closed_form_values():
    # orthogonal inputs: 0; equal: 1/2; opposite: -1 * (pi - pi) / 2pi = 0; 60 degrees: 0.5 * (2pi/3) / 2pi = 1/6
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.5, math.sqrt(3) / 2]], dtype=torch.float64)
    H = gram.du_gram(X)
    assert H[0, 1].item() == pytest.approx(0.0, abs=1e-15)
    assert H[0, 2].item() == pytest.approx(0.0, abs=1e-15)
    assert H[0, 3].item() == pytest.approx(1 / 6, rel=1e-12)
    np.testing.assert_allclose(H.diagonal().numpy(), 0.5)
    assert torch.equal(H, H.T)


def test_du_gram_is_not_the_relu_ntk_with_its_readout():
    X = unit_inputs(5, 3)
    assert not torch.allclose(gram.du_gram(X), ntk.relu_ntk(X, depth=1), atol=1e-3)


def test_du_gram_refuses_inputs_off_the_sphere():
    with pytest.raises(ValueError, match="unit rows"):
        gram.du_gram(2 * unit_inputs(3, 3))


def test_lambda_0_is_the_least_eigenvalue_by_numpy():
    X = unit_inputs(20, 5, seed=2)
    expected = np.linalg.eigvalsh(gram.du_gram(X).numpy())[0]
    assert gram.lambda_0(X) == pytest.approx(expected, rel=1e-10)
    assert 0 < gram.lambda_0(X) <= 0.5


def test_first_layer_gram_is_the_empirical_ntk_of_the_hidden_layer():
    X = unit_inputs(9, 4, seed=3)
    net = models.two_layer(4, 64, outer="fixed_sign", weight_var=4.0, seed=5, dtype=torch.float64)
    K = ntk.empirical_ntk(net, X, trainable_only=True)
    torch.testing.assert_close(gram.first_layer_gram(net[0].weight.detach(), X), K, rtol=1e-12, atol=1e-12)
    # and the same from explicit per-example Jacobians of the hidden weights
    J = torch.stack([torch.autograd.grad(net(x[None]).sum(), net[0].weight)[0].flatten() for x in X])
    torch.testing.assert_close(gram.first_layer_gram(net[0].weight.detach(), X), J @ J.T, rtol=1e-12, atol=1e-12)


def test_first_layer_gram_concentrates_around_du_gram():
    X = unit_inputs(8, 5, seed=4)
    W = torch.randn(200_000, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    torch.testing.assert_close(gram.first_layer_gram(W, X), gram.du_gram(X), atol=5e-3, rtol=0)


def test_first_layer_gram_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="columns"):
        gram.first_layer_gram(torch.zeros(5, 3), torch.zeros(4, 2))


def test_rate_envelope_is_the_power_and_converts_a_mean_loss_step():
    t = np.arange(5)
    np.testing.assert_allclose(gram.rate_envelope(t, 0.2, 0.5), (1 - 0.05) ** t)
    np.testing.assert_allclose(gram.rate_envelope(t, 10.0, 0.5, n=50), gram.rate_envelope(t, 0.2, 0.5))
    with pytest.raises(ValueError, match="too large"):
        gram.rate_envelope(t, 10.0, 0.5)


def test_rate_envelope_bounds_gradient_descent_on_the_linearised_dynamics():
    # u <- u - eta H (u - y) with H >= lambda_0: the residual obeys (1 - eta lambda_0)^(2t) <= (1 - eta lambda_0/2)^t
    X = unit_inputs(15, 6, seed=7)
    H = gram.du_gram(X)
    lam0, lam_max = gram.lambda_0(X), torch.linalg.eigvalsh(H)[-1].item()
    eta = 1 / lam_max
    r = torch.randn(15, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    norms = [r.pow(2).sum().item()]
    for _ in range(50):
        r = r - eta * H @ r
        norms.append(r.pow(2).sum().item())
    assert np.all(np.asarray(norms) / norms[0] <= gram.rate_envelope(np.arange(51), eta, lam0) + 1e-12)


def test_kernel_deviation_against_numpy():
    g = torch.Generator().manual_seed(9)
    K = torch.randn(4, 3, 3, generator=g, dtype=torch.float64)
    k = K.numpy()
    mean = k.mean(0)
    expected = np.sqrt(sum(np.linalg.norm(ki - mean) ** 2 for ki in k) / 3) / np.linalg.norm(mean)
    assert gram.kernel_deviation(K) == pytest.approx(expected, rel=1e-12)
    ref = torch.eye(3, dtype=torch.float64)
    expected_ref = np.sqrt(np.mean([np.linalg.norm(ki - np.eye(3)) ** 2 for ki in k])) / np.sqrt(3)
    assert gram.kernel_deviation(K, reference=ref) == pytest.approx(expected_ref, rel=1e-12)
    assert gram.kernel_deviation(K.new_ones(3, 2, 2)) == 0.0
    with pytest.raises(ValueError, match="at least two"):
        gram.kernel_deviation(K[:1])
    with pytest.raises(ValueError, match="shape"):
        gram.kernel_deviation(K, reference=torch.eye(2))


def test_du_network_has_standard_normal_rows_and_fixed_signed_outer_weights():
    net = gram.du_network(8, 4000, seed=0, dtype=torch.float64)
    W, a = net[0].weight.detach(), net[2].weight.detach()[0]
    assert abs(W.mean().item()) < 0.01 and W.var().item() == pytest.approx(1.0, abs=0.02)
    torch.testing.assert_close(a.abs(), torch.full((4000,), 4000**-0.5, dtype=torch.float64))
    assert a.sum().item() == pytest.approx(0.0, abs=1e-12)
    assert [p.requires_grad for p in net.parameters()] == [True, False]
    assert gram.du_network(5, 10, seed=1)[0].weight.dtype == torch.float32
    same = gram.du_network(8, 4000, seed=0, dtype=torch.float64)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))
