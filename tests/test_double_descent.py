"""dltheory.double_descent against independent computations: NumPy's pinv and lstsq, Monte Carlo over the
noise, the inverse-Wishart mean, and the closed forms of Hastie et al. written out by hand."""

import math

import numpy as np
import pytest
import torch

from dltheory import double_descent as dd

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


def test_random_features_by_hand():
    W = dd.random_feature_weights(5, 30, seed=3)
    assert W.shape == (30, 5) and W.dtype == F64
    assert torch.equal(dd.random_feature_weights(5, 30, seed=3), W)
    assert not torch.equal(dd.random_feature_weights(5, 30, seed=4), W)
    X = np.random.default_rng(0).standard_normal((7, 5))
    expected = np.maximum(X @ W.numpy().T / math.sqrt(5), 0) / math.sqrt(30)
    np.testing.assert_allclose(dd.random_features(torch.from_numpy(X), W).numpy(), expected, rtol=1e-13)
    np.testing.assert_allclose(dd.random_features(X, W, "tanh").numpy(),
                               np.tanh(X @ W.numpy().T / math.sqrt(5)) / math.sqrt(30), rtol=1e-13)
    np.testing.assert_allclose(dd.random_features(X, W, "identity").numpy(),
                               X @ W.numpy().T / math.sqrt(150), rtol=1e-13)
    assert dd.random_features(torch.ones(2, 5, dtype=torch.int64), W).dtype == F64


def test_random_features_refuse_bad_inputs():
    W = dd.random_feature_weights(3, 4, seed=0)
    with pytest.raises(ValueError, match="X has 2 features but W has 3 columns"):
        dd.random_features(torch.ones(5, 2, dtype=F64), W)
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        dd.random_features(torch.ones(5, 3, dtype=F64), W, "sigmoid")
    with pytest.raises(ValueError, match="N must be"):
        dd.random_feature_weights(3, 0, seed=0)


@pytest.mark.parametrize("N", [4, 10, 25])
def test_min_norm_fit_against_numpy(N):
    rng = np.random.default_rng(N)
    Phi, Phi_test, y = rng.standard_normal((10, N)), rng.standard_normal((6, N)), rng.standard_normal(10)
    fitted, predicted = dd.min_norm_fit(torch.from_numpy(Phi), torch.from_numpy(y), torch.from_numpy(Phi_test))
    theta = np.linalg.lstsq(Phi, y, rcond=None)[0]  # lstsq returns the minimum-norm solution
    np.testing.assert_allclose(theta, np.linalg.pinv(Phi) @ y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fitted.numpy(), Phi @ theta, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(predicted.numpy(), Phi_test @ theta, rtol=1e-9, atol=1e-11)
    if N >= 10:  # interpolation past the threshold
        np.testing.assert_allclose(fitted.numpy(), y, atol=1e-10)
    with pytest.raises(ValueError, match="Phi has"):
        dd.min_norm_fit(torch.from_numpy(Phi), torch.from_numpy(y), torch.from_numpy(Phi_test[:, :-1]))


def test_ridgeless_risk_closed_forms():
    assert dd.ridgeless_risk(0.5, 1.0, 1.0) == pytest.approx(1.0)
    assert dd.ridgeless_risk(0.2, 3.0, 0.5) == pytest.approx(0.5 * 0.2 / 0.8)  # no r2 below the threshold
    assert dd.ridgeless_risk(2.0, 1.0, 0.25) == pytest.approx(0.5 + 0.25)
    assert dd.ridgeless_risk(4.0, 2.0, 0.3) == pytest.approx(2.0 * 0.75 + 0.3 / 3)
    assert dd.ridgeless_risk(1.0) == math.inf
    g = np.array([[0.5, 1.0], [2.0, 3.0]])
    out = dd.ridgeless_risk(g, 1.0, 1.0)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, [[1.0, np.inf], [1.5, 2 / 3 + 0.5]])
    # the minimum past the threshold: gamma* = r/(r - sigma), risk sigma (2r - sigma) (the exercise)
    r, s = 1.0, 0.5
    grid = np.linspace(1.01, 10, 100_000)
    risks = dd.ridgeless_risk(grid, r**2, s**2)
    assert grid[np.argmin(risks)] == pytest.approx(r / (r - s), abs=1e-3)
    assert risks.min() == pytest.approx(s * (2 * r - s), rel=1e-8)
    with pytest.raises(ValueError, match="gamma = p/n must be positive"):
        dd.ridgeless_risk(0.0)
    with pytest.raises(ValueError, match="sigma2 must be"):
        dd.ridgeless_risk(0.5, 1.0, -1.0)


def test_finite_formula_tends_to_the_limit():
    for gamma in (0.3, 0.8, 1.5, 4.0):
        values = [dd.ridgeless_risk_finite(n, round(gamma * n), 1.0, 0.5) for n in (100, 1000, 100_000)]
        errors = [abs(v / dd.ridgeless_risk(gamma, 1.0, 0.5) - 1) for v in values]
        assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3
    assert dd.ridgeless_risk_finite(10, 5, 7.0, 2.0) == pytest.approx(2.0 * 5 / 4)
    assert dd.ridgeless_risk_finite(10, 20, 2.0, 1.0) == pytest.approx(2.0 * 0.5 + 10 / 9)
    for p in (9, 10, 11):
        assert dd.ridgeless_risk_finite(10, p) == math.inf


def test_isotropic_risks_by_hand_with_numpy():
    n, p, r, sigma = 8, 13, 1.5, 0.7
    out = dd.isotropic_risks(n, p, r=r, sigma=sigma, reps=3, seed=5)
    assert set(out) == {"bias", "variance", "risk"} and out["risk"].shape == (3,)
    np.testing.assert_allclose(out["risk"], out["bias"] + out["variance"])
    # the same draws, in the same order, by hand
    g = torch.Generator().manual_seed(5)
    for k in range(3):
        X = torch.randn(n, p, generator=g, dtype=F64).numpy()
        beta = torch.randn(p, generator=g, dtype=F64).numpy()
        beta *= r / np.linalg.norm(beta)
        pinv = np.linalg.pinv(X)
        assert out["bias"][k] == pytest.approx(np.sum((pinv @ X @ beta - beta) ** 2), rel=1e-9)
        assert out["variance"][k] == pytest.approx(sigma**2 * np.trace(np.linalg.inv(X @ X.T)), rel=1e-9)


@pytest.mark.parametrize("p", [5, 20])
def test_isotropic_risk_is_the_noise_average_of_the_realised_error(p):
    """Monte Carlo over the noise for one X and beta: mean of |X^+ y - beta|^2 equals bias + variance."""
    n, r, sigma = 12, 1.0, 0.8
    out = dd.isotropic_risks(n, p, r=r, sigma=sigma, reps=1, seed=2)
    g = torch.Generator().manual_seed(2)
    X = torch.randn(n, p, generator=g, dtype=F64).numpy()
    beta = torch.randn(p, generator=g, dtype=F64).numpy()
    beta *= r / np.linalg.norm(beta)
    rng = np.random.default_rng(1)
    eps = sigma * rng.standard_normal((20_000, n))
    beta_hat = (np.linalg.pinv(X) @ (X @ beta + eps).T).T
    errors = np.sum((beta_hat - beta) ** 2, axis=1)
    assert errors.mean() == pytest.approx(out["risk"][0], rel=4 * errors.std() / math.sqrt(len(errors)) / errors.mean())


@pytest.mark.parametrize("n, p", [(40, 16), (40, 80)])
def test_isotropic_risks_average_to_the_finite_formula(n, p):
    out = dd.isotropic_risks(n, p, r=1.0, sigma=0.5, reps=400, seed=11)
    expected = dd.ridgeless_risk_finite(n, p, 1.0, 0.25)
    sem = out["risk"].std() / math.sqrt(400)
    assert abs(out["risk"].mean() - expected) < 4 * sem
    if p > n:
        assert out["bias"].mean() == pytest.approx(1 - n / p, abs=4 * out["bias"].std() / 20)
    else:
        np.testing.assert_allclose(out["bias"], 0.0, atol=1e-20)
