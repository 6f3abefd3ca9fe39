"""The glue of the double-descent notebook against computations by hand: the features of the first N
weights, NumPy's minimum-norm solution, the median over draws, and the isotropic runs one by one."""

import math

import numpy as np
import pytest
import torch

from dltheory import double_descent as dd
from dltheory.sections import ch4_double_descent as section

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    return section.teacher_problem(30, 4, 50, sigma=0.3, seed=7)


def test_teacher_problem(problem):
    X, y, X_test, f_test = (problem[k] for k in ("X", "y", "X_test", "f_test"))
    assert X.shape == (30, 4) and y.shape == (30,) and X_test.shape == (50, 4) and f_test.shape == (50,)
    assert all(t.dtype == torch.float64 for t in (X, y, X_test, f_test))
    # the same draws by hand: beta, then X, X_test, the noise
    g = torch.Generator().manual_seed(7)
    beta = torch.randn(4, generator=g, dtype=torch.float64)
    beta /= beta.norm()
    Xh, Xth = torch.randn(30, 4, generator=g, dtype=torch.float64), torch.randn(50, 4, generator=g, dtype=torch.float64)
    noise = 0.3 * torch.randn(30, generator=g, dtype=torch.float64)
    f = lambda A: (A @ beta) + 0.5 * ((A @ beta) ** 2 - 1)  # noqa: E731
    assert torch.equal(X, Xh) and torch.equal(X_test, Xth)
    torch.testing.assert_close(y, f(Xh) + noise)
    torch.testing.assert_close(f_test, f(Xth))
    clean = section.teacher_problem(30, 4, 50, sigma=0.0, seed=7)
    torch.testing.assert_close(clean["y"], f(Xh))


def test_features_sweep_by_hand(problem):
    counts, seeds = [5, 30, 60], [1, 2]
    sweep = section.features_sweep(problem, counts, seeds)
    assert sweep["train"].shape == sweep["test"].shape == (2, 3)
    np.testing.assert_array_equal(sweep["counts"], counts)
    X, y, X_test, f_test = (problem[k].numpy() for k in ("X", "y", "X_test", "f_test"))
    for i, seed in enumerate(seeds):
        W = dd.random_feature_weights(4, 60, seed=seed).numpy()
        for j, N in enumerate(counts):
            Phi = np.maximum(X @ W[:N].T / 2, 0) / math.sqrt(N)
            Phi_test = np.maximum(X_test @ W[:N].T / 2, 0) / math.sqrt(N)
            theta = np.linalg.pinv(Phi) @ y
            assert sweep["train"][i, j] == pytest.approx(np.mean((Phi @ theta - y) ** 2), rel=1e-8, abs=1e-20)
            assert sweep["test"][i, j] == pytest.approx(np.mean((Phi_test @ theta - f_test) ** 2), rel=1e-8)
    assert np.all(sweep["train"][:, 1:] < 1e-20)  # N >= n interpolates
    with pytest.raises(ValueError, match="at least one"):
        section.features_sweep(problem, [], seeds)


def test_median_curve_and_peak():
    sweep = {"counts": np.array([10, 50, 100, 110, 400]),
             "test": np.array([[1.0, 0.5, 90.0, 5.0, 0.2], [1.2, 0.7, 5.0, 80.0, 0.3], [0.9, 0.6, 70.0, 3.0, 0.25]]),
             "train": np.zeros((3, 5))}
    np.testing.assert_allclose(section.median_curve(sweep), [1.0, 0.6, 70.0, 5.0, 0.25])
    top = section.peak(sweep, 100)
    assert top == {"ratio": 1.0, "peak": 70.0, "last": 0.25, "best_under": 0.6, "best_under_ratio": 0.5}
    with pytest.raises(ValueError, match="no number of features below n"):
        section.peak(sweep, 5)


def test_linear_sweep_is_isotropic_risks_per_gamma():
    run = section.linear_sweep(20, [0.5, 2.0], r=1.0, sigma=0.5, reps=3, seed=4)
    np.testing.assert_array_equal(run["p"], [10, 40])
    np.testing.assert_allclose(run["gammas"], [0.5, 2.0])
    for k, p in enumerate([10, 40]):
        by_hand = dd.isotropic_risks(20, p, r=1.0, sigma=0.5, reps=3, seed=4 + k)
        for key in ("risk", "bias", "variance"):
            np.testing.assert_array_equal(run[key][k], by_hand[key])
        assert run["mean"][k] == pytest.approx(by_hand["risk"].mean())
        assert run["finite"][k] == dd.ridgeless_risk_finite(20, p, 1.0, 0.25)
    np.testing.assert_allclose(run["limit"], [0.25, 0.5 + 0.25])
