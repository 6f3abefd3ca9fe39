"""dltheory.saddles against independent computations: autograd for gradients and Hessians, dense
eigh of the autograd Hessian for the closed-form spectrum at every kind of critical point, NumPy's
SVD for the Eckart-Young value, and plain Python loops for gradient descent and escape times."""

import math

import numpy as np
import pytest
import torch

from dltheory import saddles as sd

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def toy(p):
    return 0.5 * p[0] ** 2 + 0.25 * p[1] ** 4 - 0.5 * p[1] ** 2


def test_toy_derivatives_match_autograd():
    g = torch.Generator().manual_seed(0)
    P = 2 * torch.rand(20, 2, generator=g, dtype=F64) - 1
    assert torch.allclose(sd.toy_value(P), torch.stack([toy(p) for p in P]))
    for p in P[:5]:
        assert torch.allclose(sd.toy_gradient(p), torch.autograd.functional.jacobian(toy, p))
        assert torch.allclose(sd.toy_hessian(p), torch.autograd.functional.hessian(toy, p))


def test_toy_critical_points():
    assert torch.equal(sd.toy_gradient(torch.tensor(sd.TOY_SADDLE)), torch.zeros(2, dtype=torch.float32))
    assert torch.equal(sd.toy_hessian(torch.tensor(sd.TOY_SADDLE, dtype=F64)), torch.diag(torch.tensor([1.0, -1.0],
                                                                                                       dtype=F64)))
    for m in sd.TOY_MINIMA:
        p = torch.tensor(m, dtype=F64)
        assert torch.equal(sd.toy_gradient(p), torch.zeros(2, dtype=F64))
        assert torch.equal(sd.toy_hessian(p), torch.diag(torch.tensor([1.0, 2.0], dtype=F64)))
        assert sd.toy_value(p).item() == -0.25


def test_toy_gd_is_gradient_descent_and_the_stable_manifold_leads_to_the_saddle():
    starts = torch.tensor([[1.5, 0.3], [-0.4, -1.7], [0.8, 0.0]], dtype=F64)
    final = sd.toy_gd(starts, lr=0.2, steps=30)
    for s, f in zip(starts, final):
        p = s.clone()
        for _ in range(30):
            p = p - 0.2 * torch.autograd.functional.jacobian(toy, p)
        assert torch.allclose(f, p, atol=1e-14)
    far = sd.toy_gd(starts, lr=0.2, steps=400)
    assert torch.allclose(far[:2], torch.tensor([[0.0, 1.0], [0.0, -1.0]], dtype=F64), atol=1e-12)
    assert far[2, 1].item() == 0.0 and abs(far[2, 0].item()) < 1e-30
    traj = sd.toy_trajectory(starts, lr=0.2, steps=30)
    assert traj.shape == (31, 3, 2) and torch.equal(traj[-1], final) and torch.equal(traj[0], starts)


def test_escape_time_counts_the_steps_of_a_plain_loop():
    y0 = [1e-3, -2e-7, 0.3, 0.6, 0.0]
    times = sd.escape_time(torch.tensor(y0, dtype=F64), lr=0.1, threshold=0.5, max_steps=500)
    for y, t in zip(y0, times.tolist()):
        steps, v = 0, y
        while abs(v) < 0.5 and steps < 500:
            v = v * (1 + 0.1 - 0.1 * v * v)
            steps += 1
        assert t == (steps if abs(v) >= 0.5 else -1)
    assert times[-1].item() == -1 and times[3].item() == 0


def test_escape_time_has_the_predicted_slope():
    y0 = torch.logspace(-15, -3, 40, dtype=F64)
    for lr in (0.01, 0.1, 0.5):
        t = sd.escape_time(y0, lr=lr).numpy()
        slope = np.polyfit(np.log(1 / y0.numpy()), t, 1)[0]
        assert slope == pytest.approx(1 / math.log1p(lr), rel=0.01)
    pred = sd.predicted_escape_time(torch.tensor([1e-4, -1e-4], dtype=F64), lr=0.1, c=0.5)
    assert pred[0].item() == pytest.approx(math.log(5000) / math.log(1.1)) and pred[0] == pred[1]


def target(d=6, seed=0, rotate=True):
    lam, V = sd.rank_k_target(d, seed=seed, rotate=rotate)
    return lam, V, V @ torch.diag(lam) @ V.T


def test_rank_k_target_is_psd_with_distinct_gaps_and_orthogonal_V():
    lam, V, M = target(10)
    assert torch.allclose(V.T @ V, torch.eye(10, dtype=F64), atol=1e-12)
    assert (lam[:-1] - lam[1:]).min() >= 0.4 / 10 - 1e-12 and lam.min() > 0
    assert torch.allclose(torch.linalg.eigvalsh(M).flip(0), lam, atol=1e-12)
    assert torch.equal(sd.rank_k_target(4, seed=1, rotate=False)[1], torch.eye(4, dtype=F64))


def test_rank_k_loss_and_gradient_match_numpy_and_autograd():
    lam, V, M = target()
    g = torch.Generator().manual_seed(3)
    U = torch.randn(6, 2, generator=g, dtype=F64)
    Un, Mn = U.numpy(), M.numpy()
    assert sd.rank_k_loss(U, M).item() == pytest.approx(0.25 * np.linalg.norm(Un @ Un.T - Mn) ** 2, rel=1e-12)
    ref = torch.autograd.functional.jacobian(lambda u: sd.rank_k_loss(u, M), U)
    assert torch.allclose(sd.rank_k_gradient(U, M), ref, atol=1e-12)
    batch = torch.stack([U, 2 * U])
    assert torch.allclose(sd.rank_k_loss(batch, M), torch.stack([sd.rank_k_loss(U, M), sd.rank_k_loss(2 * U, M)]))


def test_critical_subsets_are_all_subsets_up_to_size_r():
    subsets = sd.critical_subsets(6, 3)
    assert len(subsets) == sum(math.comb(6, s) for s in range(4)) and subsets[0] == ()
    assert len(set(subsets)) == len(subsets)


@pytest.mark.parametrize("d,r", [(5, 1), (5, 2), (6, 3)])
def test_the_closed_form_spectrum_matches_the_dense_autograd_hessian_at_every_critical_point(d, r):
    lam, V, M = target(d, seed=d + r)
    Q, _ = torch.linalg.qr(torch.randn(r, r, generator=torch.Generator().manual_seed(1), dtype=F64))
    f = lambda theta: sd.rank_k_loss(theta.reshape(d, r), M)  # noqa: E731
    for S in sd.critical_subsets(d, r):
        U = sd.rank_k_critical_point(lam, V, S, r, Q=Q)
        assert torch.linalg.vector_norm(sd.rank_k_gradient(U, M)).item() < 1e-13
        assert sd.rank_k_loss(U, M).item() == pytest.approx(sd.critical_value(lam, S), abs=1e-13)
        ref = torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, U.flatten()))
        assert torch.allclose(sd.rank_k_hessian_spectrum(lam, S, r), ref, atol=1e-12), S
        expected = (min([lam[i].item() for i in S] + [math.inf]) - max(lam[j].item() for j in range(d) if j not in S)
                    if len(S) == r else -max(lam[j].item() for j in range(d) if j not in S))
        if S != tuple(range(r)):
            assert sd.rank_k_min_eigenvalue(lam, S, r) == pytest.approx(expected, abs=1e-14) and expected < 0
        else:
            assert sd.rank_k_min_eigenvalue(lam, S, r) >= -1e-15


def test_eckart_young_value_matches_the_truncated_svd():
    lam, V, M = target(7)
    for r in (1, 3, 6):
        u, s, vt = np.linalg.svd(M.numpy())
        best = (u[:, :r] * s[:r]) @ vt[:r]
        assert sd.eckart_young_value(lam, r) == pytest.approx(0.25 * np.linalg.norm(best - M.numpy()) ** 2, rel=1e-10)
        assert sd.eckart_young_value(lam, r) == pytest.approx(sd.critical_value(lam, range(r)))


def test_rank_k_gd_is_gradient_descent_and_reaches_the_eckart_young_value():
    lam, V, M = target(6)
    U0 = 0.1 * torch.randn(4, 6, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    U, losses = sd.rank_k_gd(U0, M, lr=0.3, steps=5, record=[0, 5])
    for b in range(4):
        u = U0[b].clone()
        for _ in range(5):
            u = u - 0.3 * torch.autograd.functional.jacobian(lambda w: sd.rank_k_loss(w, M), u)
        assert torch.allclose(U[b], u, atol=1e-13)
    assert torch.allclose(losses[0], sd.rank_k_loss(U0, M)) and sorted(losses) == [0, 5]
    U, losses = sd.rank_k_gd(U0, M, lr=0.5, steps=3000, record=[3000])
    assert torch.allclose(losses[3000], torch.full((4,), sd.eckart_young_value(lam, 2), dtype=F64), rtol=1e-10)
    with pytest.raises(FloatingPointError, match="smaller step"):
        sd.rank_k_gd(10 * U0, M, lr=5.0, steps=50)


def test_bad_inputs_are_named():
    lam, V, M = target(4)
    with pytest.raises(ValueError, match="shape"):
        sd.toy_value(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="lr"):
        sd.toy_gd(torch.zeros(1, 2), lr=1.5, steps=1)
    with pytest.raises(ValueError, match="stable manifold"):
        sd.predicted_escape_time(torch.tensor([0.0]), lr=0.1)
    with pytest.raises(ValueError, match="NaN"):
        sd.escape_time(torch.tensor([math.nan]), lr=0.1)
    with pytest.raises(ValueError, match="distinct"):
        sd.rank_k_critical_point(torch.tensor([1.0, 2.0]), torch.eye(2), (0,), 1)
    with pytest.raises(ValueError, match="at most r"):
        sd.rank_k_critical_point(lam, V, (0, 1, 2), 2)
    with pytest.raises(ValueError, match="at most r"):
        sd.rank_k_hessian_spectrum(lam, (1, 1), 2)
    with pytest.raises(ValueError, match="square"):
        sd.rank_k_loss(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="rows"):
        sd.rank_k_loss(torch.zeros(3, 2), M)
    with pytest.raises(ValueError, match="positive"):
        sd.eckart_young_value(torch.tensor([1.0, -1.0]), 1)
