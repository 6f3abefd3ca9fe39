"""The glue of random-labels.ipynb against independent computations, and the facts its prose relies on."""

import itertools
import math

import numpy as np
import pytest
import torch

from dltheory import models, train
from dltheory.sections import ch1_random_labels as rl
from dltheory.train import History


def test_at_loss_reads_the_first_record_at_or_below_the_loss():
    h = History([{"step": 0, "loss": 2.0, "x": 1.0}, {"step": 10, "loss": 0.5, "x": 2.0},
                 {"step": 20, "loss": 0.05, "x": 3.0}, {"step": 30, "loss": 0.01, "x": 4.0}])
    assert rl.at_loss(h, 0.5, "x") == 2.0
    assert rl.at_loss(h, 0.1, "x") == 3.0
    assert rl.at_loss(h, 5.0, "x") == 1.0
    assert math.isnan(rl.at_loss(h, 0.001, "x"))
    with pytest.raises(ValueError):
        rl.at_loss(h, -1.0, "x")


@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_relabeling_std_equals_brute_force_over_all_renamings(K):
    rng = np.random.default_rng(K)
    N = rng.integers(0, 30, size=(K, K))
    n = N.sum()
    accs = [sum(N[s[j], j] for j in range(K)) / n for s in itertools.permutations(range(K))]
    assert np.isclose(np.mean(accs), 1 / K)
    assert np.isclose(rl.relabeling_std(N), np.std(accs), rtol=1e-9, atol=1e-12)


def tiny(seed=0, n=60, d=12, K=3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, K, (n,), generator=g)
    return X, y


def test_a_randomization_run_is_bias_free_and_its_margins_are_the_models():
    X, y = tiny()
    run = rl.randomization_run(X[:40], y[:40], X[40:], y[40:], widths=[12, 64, 3], lr=0.5, batch_size=10,
                               steps=200, record_every=20, seed=1)
    model, h = run["model"], run["history"]
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        out = model(X[:40]).double().numpy()
    labels = y[:40].numpy()
    true = out[np.arange(40), labels]
    others = out.copy()
    others[np.arange(40), labels] = -np.inf
    margins = true - others.max(1)
    weights = [m.weight.detach().double().numpy() for m in model.modules() if isinstance(m, torch.nn.Linear)]
    rho = np.prod([np.linalg.norm(W) for W in weights])
    last = h.rows[-1]
    assert np.isclose(last["margin_median"], np.median(margins), rtol=1e-5, atol=1e-6)
    assert np.isclose(last["rho"], rho, rtol=1e-5)
    assert np.isclose(last["normalized_margin_median"], np.median(margins) / rho, rtol=1e-5)
    # without biases the network is 2-homogeneous: f = rho f~, f~ with layers W_k / ||W_k||_F
    x = X[:5].double().numpy()
    normalised = np.maximum(x @ (weights[0] / np.linalg.norm(weights[0])).T, 0) @ (
        weights[1] / np.linalg.norm(weights[1])).T
    assert np.allclose(rho * normalised, out[:5], rtol=1e-4, atol=1e-5)
    assert run["fit"] == h["step"][np.argmax(h["train_accuracy"] >= 1.0)]
    assert run["test_accuracy"] == pytest.approx((run["predicted"] == y[40:]).double().mean().item())


def test_a_fixed_pixel_permutation_is_invisible_to_an_mlp():
    # The prose: "shuffled pixels" change nothing for a fully connected network. Training on X[:, perm]
    # from the first-layer weights with permuted columns is the same run, step for step.
    X, y = tiny(2)
    perm = torch.randperm(X.shape[1], generator=torch.Generator().manual_seed(0))
    a = models.mlp([12, 32, 3], bias=False, seed=3)
    b = models.mlp([12, 32, 3], bias=False, seed=3)
    with torch.no_grad():
        b[0].weight.copy_(a[0].weight[:, perm])
    kw = dict(loss="ce", optimizer="sgd", lr=0.3, steps=50, batch_size=12, seed=4, record_every=10)
    ha, hb = train.fit(a, X, y, **kw), train.fit(b, X[:, perm], y, **kw)
    assert np.allclose(ha["loss"], hb["loss"], rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        assert torch.allclose(a(X), b(X[:, perm]), atol=1e-5)
