"""The sparse parity on the hypercube."""

import pytest
import torch

from dltheory import data


def test_sparse_parity_values_and_labels():
    X, y = data.sparse_parity(500, 10, seed=3, dtype=torch.float64)
    assert X.shape == (500, 10) and y.shape == (500,)
    assert set(X.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(y, X[:, 0] * X[:, 1])
    assert abs(y.mean().item()) < 0.15
    # the label is uncorrelated with each single coordinate (in expectation)
    assert (X * y[:, None]).mean(dim=0).abs().max() < 0.2
    X3, y3 = data.sparse_parity(50, 10, k=3, seed=3)
    assert torch.equal(y3, X3[:, :3].prod(dim=1))
    assert torch.equal(data.sparse_parity(50, 10, seed=3)[0], data.sparse_parity(50, 10, seed=3)[0])


def test_sparse_parity_bad_inputs():
    with pytest.raises(ValueError, match="k"):
        data.sparse_parity(10, 3, k=4)
    with pytest.raises(TypeError, match="n"):
        data.sparse_parity(1.5, 3)
