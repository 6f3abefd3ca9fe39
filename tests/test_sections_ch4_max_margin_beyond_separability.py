"""The data and runs of the max-margin-beyond-separability notebook: shapes, seeds, the promised structure,
and the width sweep against dltheory.train.fit."""

import numpy as np
import pytest
import torch

from dltheory import implicit_bias, models, train
from dltheory.sections import ch4_max_margin_beyond_separability as section


def test_overlapping_data_is_seeded_and_not_separable():
    X, y = section.overlapping_data(60, seed=4)
    X2, y2 = section.overlapping_data(60, seed=4)
    assert X.shape == (60, 3) and np.array_equal(X, X2) and np.array_equal(y, y2)
    assert (X[:, 2] == 1).all() and set(np.unique(y)) == {-1.0, 1.0}
    assert not implicit_bias.separable_subset(X, y).any()


def test_partially_separable_data_has_the_promised_structure():
    X, y = section.partially_separable_data(10, 7, seed=1)
    assert X.shape == (17, 4)
    assert (X[:10, 2:] == 0).all()
    assert (y[10:] * X[10:, 2] > 0).all()  # e_3 classifies the second part strictly


def test_relative_errors_rowwise():
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert np.allclose(section.relative_errors(w, np.array([1.0, 0.0])), [0.0, np.sqrt(2)])


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_sizes_are_named(bad):
    with pytest.raises(ValueError, match="n"):
        section.overlapping_data(bad, seed=0)


def test_anisotropic_data_is_separated_by_e1_with_the_variance_along_e2():
    X, y = section.anisotropic_data(200, seed=3)
    X2, y2 = section.anisotropic_data(200, seed=3)
    assert X.shape == (200, 2) and np.array_equal(X, X2) and np.array_equal(y, y2)
    margins = y * X[:, 0]
    assert margins.min() >= 0.1 and margins.max() <= 0.5
    eigvals, eigvecs = np.linalg.eigh(X.T @ X / len(y))
    assert abs(eigvecs[1, -1]) > 0.99  # the top eigenvector is (nearly) e_2


def test_symmetric_xor_is_closed_under_negation_and_off_the_axes():
    X, y = section.symmetric_xor(30, spread=30.0, seed=2)
    assert X.shape == (60, 2) and y.shape == (60,)
    assert np.array_equal(X[30:], -X[:30]) and np.array_equal(y[30:], y[:30])
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
    assert np.array_equal(y, np.sign(X[:, 0] * X[:, 1]))
    # within 30 degrees of a diagonal: |x_1|, |x_2| >= sin(15 deg)
    assert np.abs(X).min() >= np.sin(np.deg2rad(15.0)) - 1e-12


def test_xor_construction_has_the_closed_form_margin():
    net = section.xor_construction()
    delta = np.deg2rad(np.linspace(-44.0, 44.0, 23))
    for k in range(4):
        theta = np.deg2rad(45.0 + 90.0 * k) + delta
        X = torch.from_numpy(np.column_stack([np.cos(theta), np.sin(theta)]))
        y = (-1.0) ** k
        q = y * net(X)[:, 0].detach().numpy()
        assert np.allclose(q, np.cos(delta) - np.sin(np.abs(delta)), atol=1e-12)
    X, y = section.symmetric_xor(50, spread=40.0, seed=1)
    assert (torch.from_numpy(y) * net(torch.from_numpy(X))[:, 0]).min() > 0


def test_no_random_width3_network_separates_symmetric_xor():
    """The proposition's lower bound, probed by 20,000 random bias-free width-3 networks at once."""
    X, y = section.symmetric_xor(20, seed=0)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(20_000, 3, 2))
    a = rng.normal(size=(20_000, 3))
    out = np.einsum("kj,kij->ki", a, np.maximum(np.einsum("kjd,id->kij", W, X), 0.0))
    assert ((y * out).min(axis=1) <= 0).all()


def test_width_sweep_is_fit_with_the_exp_loss():
    X, y = section.symmetric_xor(10, seed=5)
    runs = section.width_sweep(X, y, [3, 6], inits=2, lr=0.5, steps=40, record_at=[20], seed=11)
    assert list(runs.widths) == [3, 3, 6, 6] and list(runs.step) == [0, 20, 40]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for k, m in enumerate(runs.widths):
        net = models.mlp([2, int(m), 1], bias=False, seed=11 + k, dtype=torch.float64)
        sq0 = sum(p.detach().pow(2).sum().item() for p in net.parameters())
        assert runs.sq_norm[0, k] == pytest.approx(sq0, rel=1e-12)
        train.fit(net, Xt, yt, loss="exp", lr=0.5, steps=40, progress=False)
        q = (yt * net(Xt)[:, 0]).detach()
        sq = sum(p.detach().pow(2).sum().item() for p in net.parameters())
        assert runs.min_margin[-1, k] == pytest.approx(q.min().item(), rel=1e-9, abs=1e-12)
        assert runs.loss[-1, k] == pytest.approx(torch.exp(-q).mean().item(), rel=1e-9)
        assert runs.sq_norm[-1, k] == pytest.approx(sq, rel=1e-9)
    assert np.array_equal(runs.normalized_margin, runs.min_margin / runs.sq_norm)


def test_angles_to_matches_angle_between():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 3))
    W[0] = [2.0, 1e-9, 0.0]  # a tiny angle to e_1
    v = np.array([3.0, 0.0, 0.0])
    expected = [implicit_bias.angle_between(w, v) for w in W]
    assert np.allclose(section.angles_to(W, v), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kwargs, name", [({"widths": []}, "widths"), ({"inits": 0}, "inits"),
                                          ({"lr": 0.0}, "lr"), ({"widths": [0]}, "width")])
def test_width_sweep_names_bad_arguments(kwargs, name):
    X, y = section.symmetric_xor(4, seed=0)
    args = {"widths": [2], "inits": 1, "lr": 0.1, "steps": 3, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=name):
        section.width_sweep(X, y, **args)


def test_symmetric_xor_rejects_a_spread_that_reaches_the_axes():
    with pytest.raises(ValueError, match="spread"):
        section.symmetric_xor(4, spread=45.0, seed=0)
