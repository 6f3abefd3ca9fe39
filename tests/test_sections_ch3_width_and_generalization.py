"""Glue of the width-and-generalisation section: pooling, training to a fit, the sweep and its read-outs."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dltheory.bounds import path_norm  # noqa: E402
from dltheory.models import mlp  # noqa: E402
from dltheory.sections import ch3_width_and_generalization as section  # noqa: E402
from dltheory.train import fit  # noqa: E402


def test_pool_images_averages_blocks():
    X = torch.rand(3, 784, generator=torch.Generator().manual_seed(0))
    pooled = section.pool_images(X, 2)
    blocks = X.numpy().reshape(3, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(3, 196)
    np.testing.assert_allclose(pooled.numpy(), blocks, rtol=1e-6)
    assert torch.equal(section.pool_images(X, 1), X)
    assert section.pool_images(X, 7).shape == (3, 16)


def test_pool_images_refuses_bad_input():
    with pytest.raises(ValueError, match="divide 28"):
        section.pool_images(torch.zeros(2, 784), 3)
    with pytest.raises(ValueError, match="784"):
        section.pool_images(torch.zeros(2, 100), 2)
    with pytest.raises(ValueError):
        section.pool_images(torch.full((2, 784), float("nan")), 2)


def test_load_digits_is_pooled_and_centred():
    X_train, y_train, X_test, y_test = section.load_digits(50, 20, pool=2, source="shipped")
    assert X_train.shape == (50, 196) and X_test.shape == (20, 196)
    assert X_train.mean(0).abs().max() < 1e-6
    assert y_train.dtype == torch.int64 and len(y_test) == 20


def blobs(n=60, d=5, K=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(K, d, generator=g)
    y = torch.arange(n) % K
    return centres[y] + 0.3 * torch.randn(n, d, generator=g), y


def test_train_to_fit_stops_at_zero_training_error():
    X, y = blobs()
    run = section.train_to_fit(X, y, 32, lr=0.1, batch_size=10, check_every=2, max_epochs=40, seed=1)
    assert run["fitted"] and run["train_error"] == 0.0
    assert run["epochs"] % 2 == 0 and run["epochs"] < 40
    assert (run["model"](X).argmax(1) == y).all()
    longer = section.train_to_fit(X, y, 32, lr=0.1, batch_size=10, check_every=2, max_epochs=80, seed=1)
    assert longer["epochs"] == run["epochs"]  # the budget does not change an early stop
    for a, b in zip(run["model"].parameters(), longer["model"].parameters()):
        assert torch.equal(a, b)


def test_an_unfitted_run_is_one_fit_call_over_the_whole_budget():
    X, y = blobs(seed=3)
    run = section.train_to_fit(X, y, 8, lr=0.05, batch_size=20, check_every=3, max_epochs=3, seed=5)
    model = mlp([5, 8, 3], seed=5)
    fit(model, X, y, loss="ce", optimizer="sgd", lr=0.05, batch_size=20, steps=9, seed=5, progress=False)
    for a, b in zip(run["model"].parameters(), model.parameters()):
        assert torch.equal(a, b)
    assert run["epochs"] == 3 and not run["fitted"]


def test_train_to_fit_refuses_bad_input():
    X, y = blobs()
    with pytest.raises(ValueError, match="max_epochs"):
        section.train_to_fit(X, y, 4, lr=0.1, batch_size=10, check_every=5, max_epochs=2)
    with pytest.raises(ValueError, match="width"):
        section.train_to_fit(X, y, 0, lr=0.1, batch_size=10, check_every=1, max_epochs=2)
    with pytest.raises(ValueError, match="examples"):
        section.train_to_fit(X, y[:-1], 4, lr=0.1, batch_size=10, check_every=1, max_epochs=2)


def test_width_sweep_records_what_it_says():
    X, y = blobs()
    Xt, yt = blobs(seed=9)
    sweep = section.width_sweep(X, y, Xt, yt, [2, 16], [0, 1], lr=0.1, batch_size=10, check_every=2,
                                max_epochs=6, weight_decay=1e-3)
    assert sweep.test_error.shape == (2, 2) and sweep.seeds == (0, 1) and sweep.n_train == 60
    np.testing.assert_array_equal(sweep.parameters, [(5 + 1) * w + (w + 1) * 3 for w in (2, 16)])
    # rerun one cell by hand: the same model, errors and norms
    run = section.train_to_fit(X, y, 16, lr=0.1, batch_size=10, check_every=2, max_epochs=6, seed=1,
                               weight_decay=1e-3)
    model = run["model"]
    with torch.no_grad():
        test_error = (model(Xt).argmax(1) != yt).double().mean().item()
    assert sweep.test_error[1, 1] == test_error and sweep.train_error[1, 1] == run["train_error"]
    assert sweep.path_norm[1, 1] == pytest.approx(path_norm(model))
    frob = np.prod([torch.linalg.matrix_norm(m.weight.double()).item() for m in model if hasattr(m, "weight")])
    assert sweep.frobenius_product[1, 1] == pytest.approx(frob)
    assert sweep.index(16) == 1
    with pytest.raises(ValueError, match="not in the sweep"):
        sweep.index(3)
    with pytest.raises(ValueError, match="increase"):
        section.width_sweep(X, y, Xt, yt, [16, 2], [0], lr=0.1, batch_size=10, check_every=1, max_epochs=1)


def fake(train_error):
    train_error = np.asarray(train_error, dtype=float)
    S, W = train_error.shape
    widths = 2 ** np.arange(2, 2 + W)
    ones = np.ones((S, W))
    return section.WidthSweep(widths=widths, seeds=tuple(range(S)), parameters=widths * 10, train_error=train_error,
                              test_error=0.1 * ones, epochs=ones, loss=ones, path_norm=ones,
                              frobenius_product=ones, n_train=100, weight_decay=0.0)


def test_smallest_interpolating_width():
    assert section.smallest_interpolating_width(fake([[0.1, 0, 0.02, 0, 0], [0, 0, 0, 0, 0]])) == 32
    assert section.smallest_interpolating_width(fake([[0, 0, 0], [0, 0, 0]])) == 4
    assert section.smallest_interpolating_width(fake([[0.2, 0.1, 0], [0, 0, 0.01]])) is None


def test_panel_and_explorer():
    sweep = fake([[0.1, 0, 0], [0.05, 0, 0]])
    panel = section.width_panel(sweep, 8)
    assert panel.values["H"] == 8 and panel.values["test error"] == 0.1
    matplotlib.pyplot.close(panel.figure)
    box = section.width_explorer(sweep)
    assert "3 views" in box.summary
