"""The identities behind book/1-three-questions/degenerate-hessians.ipynb, moved out of the notebook.

At a zero-loss point of a bias-free ReLU network under the square loss the
Hessian is the Gauss-Newton matrix J^T J / n (tested in test_curvature.py). The
tests below check the counts and the penalty algebra the notebook relies on,
each against an independent computation: SVDs of the Jacobian by NumPy, the
layer-wise rank bound counted by hand, autograd Hessians of the penalised loss.
The zero-loss point is made exact by labelling the data with the network itself.
"""

import numpy as np
import pytest
import torch

from dltheory import curvature, homogeneity, losses, models, ntk, params
from dltheory.sections import ch1_degenerate_hessians as section

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_thread")

WIDTHS = [4, 12, 10, 2]  # P = 48 + 120 + 20 = 188 > n d' = 2 n
N = 15


@pytest.fixture(scope="module")
def at_zero_loss():
    """A wide bias-free ReLU net at an exact zero-loss point, with its Hessian and Jacobian."""
    X = torch.randn(N, WIDTHS[0], dtype=F64, generator=torch.Generator().manual_seed(0))
    net = models.mlp(WIDTHS, bias=False, seed=1, dtype=F64)
    with torch.no_grad():
        Y = net(X)  # labels from the net itself: the loss is exactly zero
    H = curvature.hessian(net, "square", X, Y)
    J = ntk.jacobian(net, X).reshape(N * WIDTHS[-1], -1)
    return net, X, Y, H, J


def _rank(A, rtol=1e-9):
    s2 = np.linalg.svd(A.numpy(), compute_uv=False) ** 2
    return int((s2 > rtol * s2[0]).sum())


def test_the_zero_count_is_p_minus_rank_j_and_at_least_p_minus_n_d(at_zero_loss):
    net, X, Y, H, J = at_zero_loss
    P = J.shape[1]
    eig = torch.linalg.eigvalsh(H)
    zeros = section.near_zero_count(eig, 1e-9)
    assert losses.square(net(X), Y).item() == 0.0
    assert zeros == P - _rank(J)
    assert zeros >= P - N * WIDTHS[-1]
    # the zeros are round-off, and a gap separates them from the rest
    ratios = np.sort(np.abs(eig.numpy())) / eig.max().item()
    assert ratios[zeros - 1] < 1e-12 and ratios[zeros] > 1e-8


def test_each_layers_columns_obey_the_rank_bound(at_zero_loss):
    net, X, _, _, J = at_zero_loss
    where = params.slices(net)
    rows = section.zero_eigenvalue_condition(WIDTHS, N)
    for row, layer in zip(rows, models.dense_layers(net)):
        cols = J[:, where[layer.parameter_name()]]
        assert cols.shape[1] == row.weights
        assert _rank(cols) <= row.bound
    # by hand: 48 > 15*2 and 120 > 15*2 hold, 20 > 15*2 fails; a layer where it holds has zero directions
    assert [r.holds for r in rows] == [True, True, False]
    assert _rank(J[:, where[models.dense_layers(net)[1].parameter_name()]]) < rows[1].weights


def test_rescaling_directions_are_in_the_null_space(at_zero_loss):
    net, _, _, H, J = at_zero_loss
    V = homogeneity.rescaling_directions(net)
    assert V.shape[1] == sum(WIDTHS[1:-1])
    assert torch.linalg.matrix_norm(J @ V) < 1e-12 * torch.linalg.matrix_norm(J) * torch.linalg.matrix_norm(V)
    assert torch.linalg.matrix_norm(H @ V) < 1e-12 * torch.linalg.matrix_norm(H) * torch.linalg.matrix_norm(V)


def test_a_penalty_centred_at_the_minimum_shifts_the_hessian_by_lambda(at_zero_loss):
    net, X, Y, H, _ = at_zero_loss
    theta = params.flat_parameters(net)
    f = params.as_function(net)
    lam = 1e-2 * torch.linalg.eigvalsh(H).max().item()

    def penalised(w, centre):
        return losses.square(f(w, X), Y) + 0.5 * lam * (w - centre).square().sum()

    H_pen = torch.func.jacrev(torch.func.grad(penalised))(theta, theta)
    P = theta.numel()
    torch.testing.assert_close(H_pen, H + lam * torch.eye(P, dtype=F64), rtol=1e-10, atol=1e-12)
    eig = torch.linalg.eigvalsh(H_pen)
    assert eig.min().item() == pytest.approx(lam, rel=1e-9)  # the zero eigenvalues, lifted to lambda
    assert torch.func.grad(penalised)(theta, theta).norm().item() < 1e-14  # w* stays critical
    # weight decay (centred at 0) does not keep w* critical: its gradient there is lambda w*
    torch.testing.assert_close(torch.func.grad(penalised)(theta, torch.zeros_like(theta)), lam * theta)


def test_slq_puts_at_least_the_zero_fraction_near_zero(at_zero_loss):
    net, X, Y, H, J = at_zero_loss
    eig = torch.linalg.eigvalsh(H).numpy()
    sigma = 0.01 * (eig.max() - eig.min())
    density = curvature.spectral_density(net, "square", X, Y, lanczos_steps=60, probes=10, sigma=sigma, seed=0)
    grid, phi = density.grid.numpy(), density.density.numpy()
    near = np.abs(grid) <= 3 * sigma
    mass = np.trapezoid(phi[near], grid[near])
    P = J.shape[1]
    zero_fraction = (P - _rank(J)) / P
    assert mass >= 0.99 * zero_fraction  # a Gaussian keeps 99.7% of its mass within 3 sigma
    exact = np.exp(-0.5 * ((grid[:, None] - eig[None, :]) / sigma) ** 2).mean(axis=1) / (sigma * np.sqrt(2 * np.pi))
    assert abs(mass - np.trapezoid(exact[near], grid[near])) < 0.05
