"""The glue of book/3-sgd-overparametrization/implicit-bias.ipynb: its hand-written gradient descents
against dltheory.train.fit and torch.autograd on the library models, its data and its explorer panel."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dltheory import data, implicit_bias, linear, models, train, widgets
from dltheory.sections import ch3_implicit_bias as section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_xor_data():
    X, y = section.xor_data(50, 3, seed=0)
    torch.testing.assert_close(X.norm(dim=1), torch.ones(50, dtype=torch.float64))
    assert torch.equal(y, torch.sign(X[:, 0] * X[:, 1]))
    assert torch.equal(section.xor_data(50, 3, seed=0)[0], X)


def test_homogeneous_gd_is_fit_with_the_exp_loss():
    X, y = section.xor_data(20, 2, seed=1)
    steps = 40
    run = section.homogeneous_gd(X, y, 8, lr=0.5, steps=steps, record_at=[steps], seed=4)
    net = models.mlp([2, 8, 1], bias=False, seed=4, dtype=torch.float64)
    train.fit(net, X, y, loss="exp", lr=0.5, steps=steps, progress=False)
    for p, q in zip(run.snapshots[steps].parameters(), net.parameters()):
        torch.testing.assert_close(p, q, atol=1e-12, rtol=1e-10)


def test_homogeneous_gd_records_the_smoothed_margin():
    X, y = section.xor_data(20, 2, seed=0)
    run = section.homogeneous_gd(X, y, 20, lr=0.5, steps=800, record_at=[800], seed=0)
    assert run.separated is not None and len(run.gamma) == 801 - run.separated
    net = run.snapshots[800]
    q = (y * net(X).detach().reshape(-1)).numpy()
    rho = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).norm().item()
    assert run.gamma[-1] == pytest.approx(implicit_bias.smoothed_margin(q, rho, 2), rel=1e-10)
    assert run.normalized_margin[-1] == pytest.approx(q.min() / rho**2, rel=1e-10)
    assert (run.gamma <= run.normalized_margin + 1e-15).all()  # a lower bound
    assert np.diff(run.gamma).min() >= 0  # Lyu-Li: non-decreasing after separation
    assert list(run.steps()[[0, -1]]) == [run.separated, 800]


def test_sensing_gd_is_autograd_on_the_factorization():
    d, n = 6, 15
    A, y, M = data.matrix_sensing(d, 1, n, seed=0, dtype=torch.float64)
    runs = section.sensing_gd(A, y, M, [0.1, 0.5], lr=0.1, steps=30, seed=2)
    for s, scale in enumerate((0.1, 0.5)):
        net = models.SymmetricFactorization(d, init_scale=scale, seed=2, dtype=torch.float64)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(30):
            opt.zero_grad()
            loss = (net(A)[:, 0] - y).square().mean() / 2
            loss.backward()
            opt.step()
        torch.testing.assert_close(runs.matrices[s], net.matrix(), atol=1e-12, rtol=1e-10)
        err = (torch.linalg.matrix_norm(net.matrix() - M) / torch.linalg.matrix_norm(M)).item()
        assert runs.errors[s] == pytest.approx(err)
        assert runs.nuclear_norms[s] == pytest.approx(torch.linalg.matrix_norm(net.matrix(), ord="nuc").item())


def test_small_init_recovers_a_low_rank_matrix():
    A, y, M = data.matrix_sensing(10, 1, 50, seed=0, dtype=torch.float64)
    runs = section.sensing_gd(A, y, M, [1e-3], lr=0.2, steps=600, seed=0)
    minnorm = linear.min_norm_solution(A.reshape(50, -1), y[:, None]).reshape(10, 10)
    assert runs.errors[0] < 0.05 < torch.linalg.matrix_norm(minnorm - M).item()


def test_fourier_data():
    X, y, beta = section.fourier_data(30, 16, seed=3)
    assert models.fourier_concentration(beta, 2) == pytest.approx(1.0)
    assert torch.equal(y, torch.sign(X @ beta))
    assert X.shape == (30, 16)


@pytest.mark.parametrize("kind, depth", [("conv", 1), ("conv", 2), ("conv", 3), ("fc", 2), ("fc", 3)])
def test_linear_net_gd_is_fit_with_the_exp_loss(kind, depth):
    X, y, _ = section.fourier_data(10, 8, seed=0)
    make = models.CircularConvLinear if kind == "conv" else models.FullyConnectedLinear
    ours = make(8, depth, init_scale=0.7, seed=1, dtype=torch.float64)
    ref = make(8, depth, init_scale=0.7, seed=1, dtype=torch.float64)
    beta = section.linear_net_gd(ours, X, y, lr=0.05, steps=25)
    train.fit(ref, X, y, loss="exp", lr=0.05, steps=25, progress=False)
    torch.testing.assert_close(beta, ref.predictor(), atol=1e-12, rtol=1e-10)
    for p, q in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=1e-12, rtol=1e-10)
    with pytest.raises(TypeError):
        section.linear_net_gd(torch.nn.Linear(8, 1), X, y, lr=0.1, steps=1)


def test_scale_panel_and_explorer():
    A, y, M = data.matrix_sensing(6, 1, 12, seed=0, dtype=torch.float64)
    runs = section.sensing_gd(A, y, M, [1e-2, 1e-1], lr=0.1, steps=20, seed=0)
    minnorm = linear.min_norm_solution(A.reshape(12, -1), y[:, None]).reshape(6, 6)
    panel = section.scale_panel(runs, M, minnorm, 0.1)
    assert panel.values["alpha"] == pytest.approx(0.1)
    assert panel.values["error"] == pytest.approx(runs.errors[1])
    assert panel.values["min_norm_error"] == pytest.approx(torch.linalg.matrix_norm(minnorm - M).item())
    plt.close(panel.figure)
    box = section.scale_explorer(runs, M, minnorm)
    assert "2 views" in box.summary
    assert isinstance(box.children[-1], widgets.__dict__.get("Stack", object)) or len(box.children) == 2
