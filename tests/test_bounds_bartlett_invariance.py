"""bounds.bartlett_bound and spectral_complexity under layer rescalings (the homogeneity identity of
chapter 4's spectral-margin-bound section), checked against NumPy recomputations of R_A."""

import math

import numpy as np
import pytest
import torch

from dltheory import bounds, homogeneity, models

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(widths, seed):
    return models.mlp(widths, bias=False, seed=seed, dtype=torch.float64)


def _data(n, d, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(0, k, (n,), generator=g)


def _numpy_spectral_complexity(mats, refs=None):
    refs = refs or [np.zeros_like(a) for a in mats]
    s = [np.linalg.svd(a, compute_uv=False)[0] for a in mats]
    b = [np.linalg.norm(a - m, axis=1).sum() for a, m in zip(mats, refs)]
    return np.prod(s) * sum((bi / si) ** (2 / 3) for bi, si in zip(b, s)) ** 1.5


def _weights(net):
    return [w.detach().numpy() for w in bounds.layer_weights(net)]


@pytest.mark.parametrize("factors", [(2.0, 0.25, 2.0), (1e3, 1e-3, 1.0), (0.3, 1.0, 1 / 0.3)])
def test_bound_is_exactly_invariant_when_the_factors_multiply_to_one(factors):
    net = _net([6, 9, 7, 4], seed=3)
    X, _ = _data(60, 6, 4)
    y = net(X).argmax(1)  # the network's own labels: every margin >= 0
    scaled = homogeneity.scale_layers(net, list(factors))
    m = bounds.margins(net, X, y).sort().values
    gamma = ((m[29] + m[30]) / 2).item()  # between two margins: round-off cannot move one across it
    before = bounds.bartlett_bound(net, X, y, gamma=gamma)
    after = bounds.bartlett_bound(scaled, X, y, gamma=gamma)
    torch.testing.assert_close(bounds.margins(scaled, X, y), bounds.margins(net, X, y), rtol=1e-12, atol=1e-12)
    for key in ("spectral_complexity", "complexity", "bound", "margin_loss"):
        assert after[key] == pytest.approx(before[key], rel=1e-10), key
    assert after["spectral_complexity"] == pytest.approx(_numpy_spectral_complexity(_weights(scaled)), rel=1e-10)


def test_any_rescaling_is_absorbed_by_rescaling_gamma():
    net = _net([5, 8, 3], seed=4)
    X, _ = _data(40, 5, 3, seed=1)
    y = net(X).argmax(1)
    factors = [3.0, 0.5]  # product 1.5
    scaled = homogeneity.scale_layers(net, factors)
    m = bounds.margins(net, X, y).sort().values
    gamma = ((m[11] + m[12]) / 2).item()
    before = bounds.bartlett_bound(net, X, y, gamma=gamma)
    after = bounds.bartlett_bound(scaled, X, y, gamma=1.5 * gamma)
    assert after["spectral_complexity"] == pytest.approx(1.5 * before["spectral_complexity"], rel=1e-10)
    assert after["complexity"] == pytest.approx(before["complexity"], rel=1e-10)
    assert after["margin_loss"] == before["margin_loss"]
    # the term ||X|| R_A / (gamma n) itself, recomputed with NumPy
    term = np.linalg.norm(X.numpy()) * _numpy_spectral_complexity(_weights(scaled)) / (1.5 * gamma * 40)
    assert after["data_norm"] * after["spectral_complexity"] / (after["gamma"] * 40) == pytest.approx(term, rel=1e-10)


def test_a_reference_at_the_initialisation_breaks_the_invariance():
    net, init = _net([5, 8, 3], seed=5), _net([5, 8, 3], seed=6)
    scaled = homogeneity.scale_layers(net, [4.0, 0.25])
    plain = bounds.spectral_complexity(scaled)
    assert plain == pytest.approx(bounds.spectral_complexity(net), rel=1e-10)
    referenced = bounds.spectral_complexity(scaled, init)
    assert referenced == pytest.approx(_numpy_spectral_complexity(_weights(scaled), _weights(init)), rel=1e-10)
    assert not math.isclose(referenced, bounds.spectral_complexity(net, init), rel_tol=1e-3)
