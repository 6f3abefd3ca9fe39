"""bounds.margin_distribution against margins and complexities recomputed in NumPy (forward pass,
spectral norms by SVD, (2,1) norms by row sums), rescaling invariances, and clear errors."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import bounds, models

pytestmark = pytest.mark.usefixtures("one_thread")


def _mlp(widths, seed, bias=False):
    return models.mlp(widths, bias=bias, seed=seed, dtype=torch.float64)


def _weights(model):
    return [m.weight.detach().numpy().copy() for m in model if isinstance(m, nn.Linear)]


def _numpy_outputs(weights, X):
    a = X
    for k, W in enumerate(weights):
        a = a @ W.T
        if k < len(weights) - 1:
            a = np.maximum(a, 0.0)
    return a


def _numpy_margins(weights, X, y):
    out = _numpy_outputs(weights, X)
    if out.shape[1] == 1:
        return y * out[:, 0]
    correct = out[np.arange(len(y)), y]
    others = out.copy()
    others[np.arange(len(y)), y] = -np.inf
    return correct - others.max(axis=1)


def _numpy_spectral_complexity(As, Ms=None):
    """Bartlett, Foster, Telgarsky 2017, eq. (1.2), written out: product of spectral norms times
    (sum of (||A_i^T - M_i^T||_{2,1} / ||A_i||_sigma)^(2/3))^(3/2)."""
    Ms = [np.zeros_like(A) for A in As] if Ms is None else Ms
    s = [np.linalg.svd(A, compute_uv=False)[0] for A in As]
    b = [np.sqrt(((A - M) ** 2).sum(axis=1)).sum() for A, M in zip(As, Ms)]
    return math.prod(s) * sum((bi / si) ** (2 / 3) for bi, si in zip(b, s)) ** 1.5


def _data(n, d, k, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    y = g.integers(0, k, n) if k > 1 else g.choice([-1.0, 1.0], n)
    return X, y


@pytest.mark.parametrize("widths", [[6, 9, 4], [5, 8, 7, 3], [4, 10, 1]])
def test_spectral_margins_are_numpy_margins_over_numpy_spectral_complexity(widths):
    model = _mlp(widths, seed=len(widths))
    X, y = _data(13, widths[0], widths[-1], seed=1)
    expected = _numpy_margins(_weights(model), X, y) / _numpy_spectral_complexity(_weights(model))
    got = bounds.margin_distribution(model, X, torch.as_tensor(y))
    assert got.dtype == torch.float64 and got.device.type == "cpu" and got.shape == (13,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_reference_matrices_enter_the_spectral_complexity():
    model, init = _mlp([5, 8, 3], seed=1), _mlp([5, 8, 3], seed=2)
    X, y = _data(9, 5, 3, seed=3)
    expected = (_numpy_margins(_weights(model), X, y)
                / _numpy_spectral_complexity(_weights(model), _weights(init)))
    got = bounds.margin_distribution(model, X, torch.as_tensor(y), reference=init)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_frobenius_and_raw_margins_by_numpy():
    model = _mlp([6, 7, 7, 4], seed=5)
    X, y = _data(11, 6, 4, seed=6)
    raw = _numpy_margins(_weights(model), X, y)
    rho = math.prod(np.linalg.norm(W) for W in _weights(model))
    np.testing.assert_allclose(bounds.margin_distribution(model, X, torch.as_tensor(y), normalize=None).numpy(),
                               raw, rtol=1e-12)
    np.testing.assert_allclose(
        bounds.margin_distribution(model, X, torch.as_tensor(y), normalize="frobenius").numpy(), raw / rho,
        rtol=1e-10)
    # one definition: the Frobenius option is normalized_margins
    torch.testing.assert_close(bounds.margin_distribution(model, X, torch.as_tensor(y), normalize="frobenius"),
                               bounds.normalized_margins(model, X, torch.as_tensor(y)))


def test_spectral_complexity_of_a_diagonal_network_by_hand():
    # layers 2 I_2 and [1, 1]: s = (2, sqrt 2), (2,1) norms (4, sqrt 2), ratios (2, 1)
    # R = 2 sqrt 2 (2^(2/3) + 1)^(3/2); f(x) = 2 (relu x_1 + relu x_2)
    net = nn.Sequential(nn.Linear(2, 2, bias=False, dtype=torch.float64), nn.ReLU(),
                        nn.Linear(2, 1, bias=False, dtype=torch.float64))
    with torch.no_grad():
        net[0].weight.copy_(2 * torch.eye(2, dtype=torch.float64))
        net[2].weight.fill_(1.0)
    X = torch.tensor([[1.0, 0.5], [-1.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([1.0, -1.0], dtype=torch.float64)
    R = 2 * math.sqrt(2) * (2 ** (2 / 3) + 1) ** 1.5
    torch.testing.assert_close(bounds.margin_distribution(net, X, y),
                               torch.tensor([3.0, -4.0], dtype=torch.float64) / R)


@pytest.mark.parametrize("normalize", ["spectral", "frobenius"])
def test_normalised_margins_are_invariant_under_rescaling_a_layer(normalize):
    X, y = _data(10, 4, 3, seed=7)
    y = torch.as_tensor(y)
    base = _mlp([4, 6, 6, 3], seed=8)
    before = bounds.margin_distribution(base, X, y, normalize=normalize)
    raw_before = bounds.margin_distribution(base, X, y, normalize=None)
    for layer, c in [(0, 3.0), (2, 0.2), (4, 7.5)]:
        scaled = _mlp([4, 6, 6, 3], seed=8)
        with torch.no_grad():
            scaled[layer].weight.mul_(c)
        torch.testing.assert_close(bounds.margin_distribution(scaled, X, y, normalize=normalize), before,
                                   rtol=1e-10, atol=0)
        torch.testing.assert_close(bounds.margin_distribution(scaled, X, y, normalize=None), c * raw_before,
                                   rtol=1e-10, atol=0)


def test_with_a_reference_only_a_rescaled_reference_keeps_the_invariance():
    X, y = _data(10, 4, 3, seed=9)
    y = torch.as_tensor(y)
    model, init = _mlp([4, 6, 3], seed=10), _mlp([4, 6, 3], seed=11)
    before = bounds.margin_distribution(model, X, y, reference=init)
    scaled, scaled_init = _mlp([4, 6, 3], seed=10), _mlp([4, 6, 3], seed=11)
    with torch.no_grad():
        scaled[0].weight.mul_(4.0)
    assert not torch.allclose(bounds.margin_distribution(scaled, X, y, reference=init), before, rtol=1e-3)
    with torch.no_grad():
        scaled_init[0].weight.mul_(4.0)
    torch.testing.assert_close(bounds.margin_distribution(scaled, X, y, reference=scaled_init), before,
                               rtol=1e-10, atol=0)


def test_biases_are_folded_as_in_spectral_complexity():
    model = _mlp([5, 7, 3], seed=12, bias=True)
    X, y = _data(8, 5, 3, seed=13)
    y = torch.as_tensor(y)
    torch.testing.assert_close(bounds.margin_distribution(model, X, y),
                               bounds.margins(model, X, y).double() / bounds.spectral_complexity(model))


def test_float32_models_and_arrays():
    model = models.mlp([4, 5, 2], bias=False, seed=0)
    X, y = _data(6, 4, 2, seed=1)
    got = bounds.margin_distribution(model, X.astype(np.float32), y)
    assert got.dtype == torch.float64 and got.shape == (6,)
    expected = _numpy_margins([W.astype(np.float64) for W in _weights(model)], X.astype(np.float32), y)
    np.testing.assert_allclose(got.numpy() * bounds.spectral_complexity(model), expected, rtol=1e-5)


def test_clear_errors():
    model = _mlp([3, 4, 2], seed=0)
    X, y = _data(5, 3, 2)
    y = torch.as_tensor(y)
    with pytest.raises(ValueError, match="unknown normalize 'l2'"):
        bounds.margin_distribution(model, X, y, normalize="l2")
    with pytest.raises(ValueError, match="reference network enters only the spectral"):
        bounds.margin_distribution(model, X, y, normalize="frobenius", reference=_mlp([3, 4, 2], seed=1))
    with pytest.raises(TypeError, match="reference must be a torch.nn.Module"):
        bounds.margin_distribution(model, X, y, reference="init")
    with pytest.raises(ValueError, match="reference has weight shapes"):
        bounds.margin_distribution(model, X, y, reference=_mlp([3, 5, 2], seed=1))
    zero = _mlp([3, 4, 2], seed=0)
    with torch.no_grad():
        zero[0].weight.zero_()
    for normalize in ("spectral", "frobenius"):
        with pytest.raises(ValueError, match="cannot be normalised"):
            bounds.margin_distribution(zero, X, y, normalize=normalize)
    with pytest.raises(ValueError, match="NaN"):
        bounds.margin_distribution(model, np.full((5, 3), np.nan), y)
    with pytest.raises(ValueError, match="5 examples"):
        bounds.margin_distribution(model, X, y[:4])
    with pytest.raises(ValueError, match="cannot be applied"):
        bounds.margin_distribution(model, np.ones((5, 4)), y)
    with pytest.raises(ValueError, match="class indices"):
        bounds.margin_distribution(model, X, torch.full((5,), 7))
    with pytest.raises(ValueError, match="2 \\* y - 1"):
        bounds.margin_distribution(_mlp([3, 4, 1], seed=0), X, torch.tensor([0, 1, 0, 1, 1]))
