"""The glue of the locality-on-images notebook: preparation, scrambling, the comparison and its table."""

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import models
from dltheory.sections import ch4_locality_on_images as section


def images(n=12, c=2, h=6, w=4, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_prepare_pools_and_standardises_with_the_training_statistics():
    X_train, X_test = images(seed=1), images(n=5, seed=2)
    A, B = section.prepare(X_train, X_test, pool=2)
    assert A.shape == (12, 2, 3, 2) and B.shape == (5, 2, 3, 2)
    pooled = X_train.numpy().reshape(12, 2, 3, 2, 2, 2).mean(axis=(3, 5))
    pooled_test = X_test.numpy().reshape(5, 2, 3, 2, 2, 2).mean(axis=(3, 5))
    mean = pooled.mean(axis=(0, 2, 3), keepdims=True)
    std = pooled.std(axis=(0, 2, 3), keepdims=True, ddof=1)
    np.testing.assert_allclose(A.numpy(), (pooled - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(B.numpy(), (pooled_test - mean) / std, rtol=1e-12)
    with pytest.raises(ValueError, match="images of shape"):
        section.prepare(X_train.reshape(12, -1), X_test, 1)


def test_scramble_is_one_permutation_of_the_positions_for_every_image_and_channel():
    X = images()
    Y = section.scramble(X, 7)
    flat_x, flat_y = X.reshape(12, 2, -1).numpy(), Y.reshape(12, 2, -1).numpy()
    # the same permutation everywhere: find it from an image of distinct values
    index = torch.arange(24, dtype=torch.float64).reshape(1, 1, 6, 4).expand(1, 2, 6, 4)
    perm = section.scramble(index, 7)[0, 0].reshape(-1).long().numpy()
    assert sorted(perm.tolist()) == list(range(24)) and not np.array_equal(perm, np.arange(24))
    np.testing.assert_array_equal(flat_y, flat_x[:, :, perm])
    assert torch.equal(section.scramble(X, 7), Y)
    assert not torch.equal(section.scramble(X, 8), Y)
    with pytest.raises(ValueError, match="images of shape"):
        section.scramble(X[0], 7)


def test_a_fully_connected_network_on_scrambled_images_is_one_with_permuted_columns():
    X = images(n=5, c=1, h=4, w=4)
    net = models.image_network("fc", 1, 4, 3, width=6, blocks=2, seed=0, dtype=torch.float64)
    index = torch.arange(16, dtype=torch.float64).reshape(1, 1, 4, 4)
    perm = section.scramble(index, 3).reshape(-1).long()
    twin = models.image_network("fc", 1, 4, 3, width=6, blocks=2, seed=0, dtype=torch.float64)
    first = next(m for m in twin if isinstance(m, nn.Linear))
    with torch.no_grad():
        first.weight.copy_(next(m for m in net if isinstance(m, nn.Linear)).weight[:, perm])
    torch.testing.assert_close(twin(section.scramble(X, 3)), net(X))


def test_error_rate_counts_wrong_arg_maxes_in_batches():
    X = torch.randn(25, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (25,), generator=torch.Generator().manual_seed(1))
    model = nn.Linear(3, 3)
    expected = float((model(X).argmax(1) != y).float().mean())
    assert section.error_rate(model, X, y, batch_size=7) == pytest.approx(expected)


def test_compare_trains_every_architecture_and_is_reproducible():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 1, 8, 8, generator=g)
    y = (X[:, 0, :4].sum(dim=(1, 2)) > 0).long()
    kw = dict(budget=800, steps=5, lr=1e-2, batch_size=10, kernel_size=3)
    first = section.compare(X[:30], y[:30], X[30:], y[30:], models.IMAGE_ARCHITECTURES, [1, 2], **kw)
    again = section.compare(X[:30], y[:30], X[30:], y[30:], models.IMAGE_ARCHITECTURES, [1, 2], **kw)
    for arch in models.IMAGE_ARCHITECTURES:
        assert first[arch]["test"].shape == first[arch]["train"].shape == (2,)
        assert np.all((0 <= first[arch]["test"]) & (first[arch]["test"] <= 1))
        np.testing.assert_array_equal(first[arch]["test"], again[arch]["test"])
        width = models.image_free_width(arch, 1, 8, 2, 800, kernel_size=3)
        assert first[arch]["params"] == models.image_parameter_count(arch, 1, 8, 2, width, kernel_size=3)
    with pytest.raises(ValueError):
        section.compare(X, y, X, y, ["mlp"], [0], **kw)


def test_describe_and_table():
    assert section.describe(models.image_network("fc", 1, 14, 10, width=72)) == "196-72-72-10, 20,170 parameters"
    assert section.describe(models.image_network("local", 1, 14, 10, width=2)) == (
        "channels 2-4, 5x5 windows, 20,558 parameters")
    run = {a: {"test": np.array([0.1, 0.2]), "train": np.array([0.0, 0.02])} for a in ("fc", "conv")}
    text = section.table(run, run)
    assert "fully connected     0.150    0.150      0.010    0.010" in text
    assert text.splitlines()[-1].startswith("convolutional")
