"""Fisher's discriminant and the scatter matrices, against numpy and scikit-learn."""

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from dltheory import discriminants as dd


def blobs(n=120, d=5, K=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    A = rng.standard_normal((d, d))
    X = rng.standard_normal((n, d)) @ A + 3 * rng.standard_normal((K, d))[y]
    return X, y


def test_scatter_matrices_add_to_the_total_scatter_and_match_a_loop():
    X, y = blobs()
    S_W, S_B = dd.scatter_matrices(X, y)
    Xc = X - X.mean(0)
    np.testing.assert_allclose(S_W + S_B, Xc.T @ Xc, rtol=1e-10)
    loop = sum(np.outer(x - X[y == c].mean(0), x - X[y == c].mean(0)) for x, c in zip(X, y))
    np.testing.assert_allclose(S_W, loop, rtol=1e-10)
    within, between = dd.scatter_traces(torch.from_numpy(X), torch.from_numpy(y))
    assert within == pytest.approx(np.trace(S_W)) and between == pytest.approx(np.trace(S_B))


def test_contraction_ratio_is_scale_rotation_and_translation_invariant():
    X, y = blobs()
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((5, 5)))
    r = dd.contraction_ratio(X, y)
    assert dd.contraction_ratio(7 * X @ Q + 2.0, y) == pytest.approx(r, rel=1e-10)
    # tight classes far apart: small; labels at random: large
    assert r < dd.contraction_ratio(X, np.random.default_rng(4).permutation(y))
    with pytest.raises(ValueError, match="coincide"):
        dd.contraction_ratio(np.ones((4, 2)), np.array([0, 1, 0, 1]))


def test_fisher_direction_is_parallel_to_sklearns_two_class_lda():
    X, y = blobs(K=2, seed=5)
    w = dd.fisher_direction(X, y)
    coef = LinearDiscriminantAnalysis(solver="lsqr").fit(X, y).coef_[0]
    assert abs(w @ coef) / np.linalg.norm(coef) == pytest.approx(1.0, abs=1e-10)
    assert w @ coef > 0  # points from class 0 to class 1
    # it maximises the Fisher ratio among random directions
    S_W, _ = dd.scatter_matrices(X, y)
    diff = X[y == 1].mean(0) - X[y == 0].mean(0)

    def ratio(v):
        return (v @ diff) ** 2 / (v @ S_W @ v)

    others = np.random.default_rng(6).standard_normal((500, X.shape[1]))
    assert ratio(w) >= max(ratio(v) for v in others)


def test_lda_directions_span_sklearns_discriminant_subspace():
    X, y = blobs(K=4, d=6, seed=7)
    values, V = dd.lda_directions(X, y)
    assert V.shape == (6, 3) and np.all(np.diff(values) <= 0)
    S_W, S_B = dd.scatter_matrices(X, y)
    np.testing.assert_allclose(V.T @ S_W @ V, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(S_B @ V, S_W @ V * values, atol=1e-8 * np.abs(S_B).max())
    sk = LinearDiscriminantAnalysis(solver="eigen").fit(X, y).scalings_[:, :3]
    P = V @ np.linalg.pinv(V)  # projector on span(V)
    np.testing.assert_allclose(P @ sk, sk, atol=1e-8 * np.abs(sk).max())


def test_bad_inputs_are_named():
    X, y = blobs()
    with pytest.raises(ValueError, match="two classes"):
        dd.fisher_direction(X, y)
    with pytest.raises(ValueError, match="one label per row"):
        dd.scatter_traces(X, y[:-1])
    with pytest.raises(ValueError, match="at least two classes"):
        dd.contraction_ratio(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="NaN"):
        dd.scatter_traces(np.full((3, 2), np.nan), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="ridge"):
        dd.lda_directions(X, y, ridge=-1.0)
