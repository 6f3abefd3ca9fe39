"""Glue of the square-wave section: data, seeds, the dead-layer count, the exact tests, the figures."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy import stats as sps

from dltheory import data, models
from dltheory.sections import ch2_square_wave as section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_training_set_is_the_five_piece_wave_on_centred_inputs():
    X, y = section.training_set(128, seed=3)
    again, _ = section.training_set(128, seed=3)
    assert X.shape == (128, 1) and y.shape == (128,) and X.dtype == torch.float32
    assert torch.equal(X, again) and X.min() >= -1 and X.max() <= 1
    x = X[:, 0].double()
    expected = torch.where((x.abs() < 0.25) | (x.abs() > 0.75), 1.0, -1.0)
    assert torch.equal(y.double(), expected)
    x_data, _ = data.square_wave(128, interval=(-1.0, 1.0), seed=3)
    assert torch.equal(X, x_data)


def test_member_seeds_of_two_variants_are_disjoint():
    a, b = section.member_seeds(1, 1024), section.member_seeds(2, 1024)
    assert len(set(a) | set(b)) == 2048
    with pytest.raises(ValueError):
        section.member_seeds(1, 5000)


def test_compare_matches_scipy_and_floors_the_ratio():
    out = section.compare(40, 3, 256)
    table = [[40, 216], [3, 253]]
    assert out["fisher"] == pytest.approx(sps.fisher_exact(table, alternative="greater").pvalue)
    assert out["boschloo"] <= out["fisher"]  # Boschloo's test is the more powerful one
    assert out["ratio"] == pytest.approx(40 / 3) and out["difference"] == pytest.approx(37 / 256)
    assert section.compare(40, 0, 256)["ratio"] == 40
    low, high = out["interval_tied"]
    assert low < 40 / 256 < high
    assert section.compare(10, 10, 256)["fisher"] > 0.5


def test_a_dead_layer_is_found_and_a_tied_layer_never_dies():
    X, _ = section.training_set(64, seed=0)
    net = models.PairNetwork(3, tied=False, seeds=range(20))
    before = section.collapsed(net, X)
    alive = int(np.flatnonzero(~before)[0])  # random untied networks are often dead from the start
    with torch.no_grad():
        net.biases[1][alive] = -10.0  # both units of layer 2 negative everywhere
    after = section.collapsed(net, X)
    assert after[alive] and np.array_equal(np.delete(after, alive), np.delete(before, alive))
    tied = models.PairNetwork(3, tied=True, seeds=range(64))
    with torch.no_grad():
        tied.biases[1].fill_(-10.0)
    assert not section.collapsed(tied, X).any()
    assert not section.collapsed(models.square_wave_network(2), X.double()).any()


def test_the_hand_built_network_is_perfect_on_the_grid():
    grid = torch.linspace(-1, 1, 4096, dtype=torch.float64)[:, None]
    labels = models.square_wave_labels(grid[:, 0], 2)
    assert section.grid_accuracy(models.square_wave_network(2), grid, labels).tolist() == [1.0]


def test_the_protocol_and_its_figures_run_small():
    X, y = section.training_set(32, seed=0)
    runs = section.train_variants(X, y, depth=3, count=6, steps=60, lr=0.01, bases=(1, 2), record_every=20)
    assert set(runs) == {"tied", "untied"}
    assert runs["tied"][0].tied and not runs["untied"][0].tied
    assert runs["tied"][0].seeds == section.member_seeds(1, 6)
    assert list(runs["tied"][1].step) == [0, 20, 40, 60]
    compared = section.compare(int(runs["tied"][1].fitted().sum()), int(runs["untied"][1].fitted().sum()), 6)
    examples = section.examples(runs, X)
    assert [title for title, _, _ in examples] == ["tied, fits", "tied, fails", "untied, fails"]
    grid = torch.linspace(-1, 1, 101)[:, None]
    for fig in (section.draw_runs(runs, compared), section.draw_inside(examples, grid),
                section.draw_layers(models.square_wave_network(2), grid.double(), X=X, y=y)):
        assert fig.axes and all(ax.get_xlabel() or ax.get_title() for ax in fig.axes)
        plt.close(fig)
    assert np.isfinite(runs["untied"][1].final_loss).all()
