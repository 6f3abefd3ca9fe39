"""data.matrix_sensing and the minimum-Frobenius-norm interpolant (numpy's lstsq as the oracle)."""

import numpy as np
import pytest
import torch

from dltheory import data, linear


def test_measurements_of_a_low_rank_psd_matrix():
    A, y, M = data.matrix_sensing(6, 2, 30, seed=1, dtype=torch.float64)
    assert A.shape == (30, 6, 6) and y.shape == (30,) and M.shape == (6, 6)
    torch.testing.assert_close(A, A.transpose(1, 2))
    eig = torch.linalg.eigvalsh(M)
    assert eig[:-2].abs().max() < 1e-12 and eig[-2] > 0  # PSD of rank 2
    assert torch.linalg.matrix_norm(M).item() == pytest.approx(1.0)
    np.testing.assert_allclose(y.numpy(), [np.trace(a @ M.numpy()) for a in A.numpy()], atol=1e-12)
    A2, y2, M2 = data.matrix_sensing(6, 2, 30, seed=1, dtype=torch.float64)
    assert torch.equal(A, A2) and torch.equal(M, M2)
    assert data.matrix_sensing(6, 2, 30, seed=1)[0].dtype == torch.float32


def test_min_norm_interpolant_is_lstsq_and_projects_m_star():
    d, n = 8, 20
    A, y, M = data.matrix_sensing(d, 1, n, seed=0, dtype=torch.float64)
    flat = A.reshape(n, -1)
    X = linear.min_norm_solution(flat, y[:, None]).reshape(d, d)
    ref = np.linalg.lstsq(flat.numpy(), y.numpy(), rcond=None)[0].reshape(d, d)
    np.testing.assert_allclose(X.numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(X.numpy(), X.numpy().T, atol=1e-12)  # symmetric, since every A_i is
    # it is the orthogonal projection of M* onto span{A_i}: the error is orthogonal to every A_i
    np.testing.assert_allclose(flat.numpy() @ (X - M).reshape(-1).numpy(), 0, atol=1e-10)
    # and it keeps only part of M*'s norm: n = 20 of d(d+1)/2 = 36 dimensions
    assert 0.3 < torch.linalg.matrix_norm(X - M).item() < 0.95


def test_bad_inputs():
    with pytest.raises(ValueError, match="r"):
        data.matrix_sensing(4, 5, 10)
    with pytest.raises(TypeError):
        data.matrix_sensing(4, 1, 10.0)
