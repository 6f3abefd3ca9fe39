"""Linear networks of dltheory.models.linear_nets against explicit matrix products, numpy's DFT and autograd."""

import numpy as np
import pytest
import torch

from dltheory import models

pytestmark = pytest.mark.usefixtures("one_thread")


def circulant_correlation(w: np.ndarray) -> np.ndarray:
    """C with (C h)[i] = sum_k w[k] h[(i + k) mod d], built entry by entry."""
    d = len(w)
    C = np.zeros((d, d))
    for i in range(d):
        for k in range(d):
            C[i, (i + k) % d] += w[k]
    return C


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_conv_net_is_the_product_of_circulant_matrices(depth):
    d = 7
    net = models.CircularConvLinear(d, depth, init_scale=1.3, seed=depth, dtype=torch.float64)
    W = net.filters.detach().numpy()
    M = np.eye(d)
    for w in W[:-1]:
        M = circulant_correlation(w) @ M
    beta_explicit = M.T @ W[-1]  # f(x) = w_L^T C_{L-1} ... C_1 x
    X = torch.randn(5, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(net(X).detach().numpy()[:, 0], X.numpy() @ beta_explicit, atol=1e-12)
    np.testing.assert_allclose(net.predictor().numpy(), beta_explicit, atol=1e-12)
    # the DFT of beta is the product of the filters' DFTs (numpy's FFT as the independent oracle)
    np.testing.assert_allclose(np.fft.fft(beta_explicit), np.prod(np.fft.fft(W, axis=1), axis=0), atol=1e-12)


def test_fully_connected_predictor_is_the_matrix_product():
    net = models.FullyConnectedLinear(6, 3, init_scale=1.0, seed=1, dtype=torch.float64)
    W1, W2 = (W.detach().numpy() for W in net.hidden)
    v = net.readout.detach().numpy()
    np.testing.assert_allclose(net.predictor().numpy(), W1.T @ W2.T @ v, atol=1e-12)
    X = torch.randn(4, 6, dtype=torch.float64)
    np.testing.assert_allclose(net(X).detach().numpy()[:, 0], X.numpy() @ (W1.T @ W2.T @ v), atol=1e-12)


def test_symmetric_factorization_measures_u_ut():
    d, n = 5, 7
    net = models.SymmetricFactorization(d, init_scale=0.5, seed=2, dtype=torch.float64)
    U = net.U.detach().numpy()
    np.testing.assert_allclose(U.T @ U, 0.25 * np.eye(d), atol=1e-12)  # alpha times orthonormal columns
    A = torch.randn(n, d, d, dtype=torch.float64)
    expected = np.array([np.trace(a.numpy() @ U @ U.T) for a in A])
    np.testing.assert_allclose(net(A).detach().numpy()[:, 0], expected, atol=1e-12)
    np.testing.assert_allclose(net.matrix().numpy(), U @ U.T, atol=1e-15)
    low = models.SymmetricFactorization(d, rank=2, init_scale=1.0, seed=0)
    assert low.U.shape == (d, 2)


def test_fourier_concentration():
    d = 16
    j = np.arange(d)
    cosine = torch.tensor(np.cos(2 * np.pi * 3 * j / d + 0.4))
    assert models.fourier_concentration(cosine, 2) == pytest.approx(1.0)
    assert models.fourier_concentration(cosine, 1) == pytest.approx(0.5)
    delta = torch.zeros(d, dtype=torch.float64)
    delta[3] = 1.0  # a spike has a flat spectrum
    assert models.fourier_concentration(delta, 4) == pytest.approx(4 / d)
    with pytest.raises(ValueError, match="zero"):
        models.fourier_concentration(torch.zeros(d), 2)
    with pytest.raises(ValueError):
        models.fourier_concentration(cosine, d + 1)


def test_bad_inputs():
    with pytest.raises(ValueError):
        models.CircularConvLinear(0, 2)
    with pytest.raises(TypeError):
        models.CircularConvLinear(4, 2.5)
    with pytest.raises(ValueError, match="init_scale"):
        models.FullyConnectedLinear(4, 2, init_scale=-1.0)
    with pytest.raises(ValueError, match="rank"):
        models.SymmetricFactorization(4, rank=5)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        models.CircularConvLinear(4, 2)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(n, 4, 4\)"):
        models.SymmetricFactorization(4)(torch.zeros(3, 4))


def test_same_seed_same_network():
    a = models.CircularConvLinear(8, 2, seed=3)
    b = models.CircularConvLinear(8, 2, seed=3)
    assert torch.equal(a.filters, b.filters)
    assert a.filters.dtype == torch.get_default_dtype()
