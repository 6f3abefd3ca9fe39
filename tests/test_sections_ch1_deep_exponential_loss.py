"""The glue of deep-exponential-loss.ipynb against independent computations: one uninterrupted
train.fit run and autograd's dense Hessian, a Gauss-Newton matrix assembled from per-example
gradients, and the function of the network before and after writing it as rho f~(V)."""

import math

import numpy as np
import pytest
import torch

from dltheory import data, losses, models, train
from dltheory.sections import ch1_deep_exponential_loss as section

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


def problem():
    X, y, _ = data.separable(8, 3, margin=0.2, seed=1, dtype=F64)
    return models.mlp([3, 4, 3, 1], bias=False, seed=2, dtype=F64), X, y


def test_spectra_along_training_match_one_run_and_autograd():
    net, X, y = problem()
    reference = models.mlp([3, 4, 3, 1], bias=False, seed=2, dtype=F64)
    out = section.spectra_along_training(net, X, y, lr=0.5, checkpoints=[3, 10])
    train.fit(reference, X, y, loss="exp", lr=0.5, steps=10, record_every=10)
    for a, b in zip(net.parameters(), reference.parameters()):
        assert torch.equal(a, b)
    params = [p.detach() for p in reference.parameters()]
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def f_of(theta, x):
        W = [t.reshape(s) for t, s in zip(torch.split(theta, sizes), shapes)]
        h = torch.relu(x @ W[0].T)
        h = torch.relu(h @ W[1].T)
        return (h @ W[2].T).reshape(-1)

    theta = torch.cat([p.reshape(-1) for p in params])
    H = torch.autograd.functional.hessian(lambda t: losses.exp(f_of(t, X), y), theta)
    J = torch.autograd.functional.jacobian(lambda t: f_of(t, X), theta)  # (n, P)
    weights = torch.exp(-y * f_of(theta, X)) / X.shape[0]
    G = J.T @ (weights[:, None] * J)
    assert out["step"] == [3, 10]
    assert np.allclose(out["eig_H"][-1], torch.linalg.eigvalsh(H).numpy(), atol=1e-12)
    assert np.allclose(out["eig_G"][-1], torch.linalg.eigvalsh(G).numpy(), atol=1e-12)
    assert out["rank_G"][-1] == torch.linalg.matrix_rank(G, rtol=1e-10).item() <= X.shape[0]
    assert out["loss"][-1] == pytest.approx(losses.exp(f_of(theta, X), y).item(), rel=1e-12)
    assert out["margin_min"][-1] == pytest.approx((y * f_of(theta, X)).min().item(), rel=1e-12)


def test_the_gauss_newton_part_has_rank_at_most_n_below_the_number_of_parameters():
    """The rank bound that is the lecture's 'rank one per example' (a per-example outer product)."""
    X, y, _ = data.separable(5, 3, margin=0.2, seed=4, dtype=F64)
    net = models.mlp([3, 6, 6, 1], bias=False, seed=4, dtype=F64)
    out = section.spectra_along_training(net, X, y, lr=0.5, checkpoints=[20])
    P = sum(p.numel() for p in net.parameters())
    assert out["rank_G"][0] <= 5 < P
    assert np.sum(np.abs(out["eig_G"][0]) > 1e-10 * out["eig_G"][0].max()) == out["rank_G"][0]


def test_spectra_along_training_checks_its_checkpoints():
    net, X, y = problem()
    for bad in ([], [0, 3], [5, 5], [5, 3]):
        with pytest.raises(ValueError):
            section.spectra_along_training(net, X, y, lr=0.5, checkpoints=bad)


@pytest.mark.parametrize("scale", [1.0, 1.2])
def test_on_sphere_keeps_the_function_and_sets_the_norms(scale):
    net, X, y = problem()
    model = section.on_sphere(net, scale)
    assert torch.allclose(model(X), net(X), rtol=1e-12)
    assert model.norms() == pytest.approx([scale] * 3, rel=1e-12)
    rhos = [torch.linalg.matrix_norm(m.weight).item() for m in net if hasattr(m, "weight")]
    assert model.rho.item() == pytest.approx(math.prod(rhos) / scale**3, rel=1e-12)
