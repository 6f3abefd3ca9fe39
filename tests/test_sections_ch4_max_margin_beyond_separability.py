"""The data of the max-margin-beyond-separability notebook: shapes, seeds, the promised structure."""

import numpy as np
import pytest
import torch

from dltheory import implicit_bias
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
