"""The glue of book/3-sgd-overparametrization/strict-saddles.ipynb: the toy's random starts and escape
sweep, the explorer panel, the saddle table, random starts and the saddle escape of the rank-k
approximation, against dltheory.saddles and plain computations."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dltheory import saddles as sd
from dltheory.sections import ch3_strict_saddles as section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_toy_starts_are_seeded_and_in_the_box():
    a = section.toy_starts(500, seed=3)
    assert a.shape == (500, 2) and a.abs().max() <= 2 and torch.equal(a, section.toy_starts(500, seed=3))
    assert not torch.equal(a, section.toy_starts(500, seed=4))


def test_toy_experiment_reaches_the_minima_and_the_manifold_reaches_the_saddle():
    result = section.toy_experiment(300, lr=0.1, steps=400, n_manifold=20, seed=1)
    assert result.fraction_at_minimum == 1.0
    assert result.manifold_distance < 1e-15 and np.all(result.manifold_finals[:, 1] == 0)
    assert np.all(np.sign(result.finals[:, 1]) == np.sign(result.starts[:, 1]))  # the basin is the half-plane
    short = section.toy_experiment(300, lr=0.1, steps=5, seed=1)
    assert short.fraction_at_minimum < 0.1


@pytest.fixture(scope="module")
def sweep():
    return section.escape_sweep([0.1, 0.5], n=60, seed=2)


def test_escape_sweep_measures_the_escape_times_and_their_slope(sweep):
    assert sweep.times.shape == (2, 60) and np.all(np.diff(sweep.y0) >= 0)
    assert sweep.y0.min() >= 1e-14 and sweep.y0.max() <= 1e-2
    direct = sd.escape_time(torch.tensor(sweep.y0), lr=0.5, threshold=0.5).numpy()
    assert np.array_equal(sweep.times[1], direct)
    assert np.allclose(sweep.predicted_slopes, [1 / math.log(1.1), 1 / math.log(1.5)])
    assert np.abs(sweep.relative_errors).max() < 0.01
    assert sweep.index(0.5) == 1
    with pytest.raises(ValueError, match="not in the sweep"):
        sweep.index(0.2)


def test_escape_panel_draws_one_start_and_reports_its_numbers(sweep):
    panel = section.escape_panel(sweep, 0.1, 1e-6)
    assert isinstance(panel.figure, plt.Figure) and len(panel.figure.axes) == 2
    steps = int(sd.escape_time(torch.tensor([1e-6]), lr=0.1, threshold=0.5)[0])
    assert panel.values["escape_steps"] == steps
    assert abs(panel.values["predicted"] - steps) < 3  # the fitted constant c puts the line through the points
    assert panel.values["slope"] == pytest.approx(sweep.slopes[0])
    plt.close(panel.figure)


def test_escape_explorer_precomputes_every_view(sweep):
    box = section.escape_explorer(sweep, lrs=(0.1, 0.5), y0s=(1e-3, 1e-9))
    assert "4 views" in repr(box)
    with pytest.raises(ValueError, match="not in the sweep"):
        section.escape_explorer(sweep, lrs=(0.3,), y0s=(1e-3,))


def test_saddle_table_matches_the_closed_form_at_every_critical_point():
    lam, V = sd.rank_k_target(5, seed=0)
    table = section.saddle_table(lam, V, 2, seed=0)
    assert len(table.subsets) == 1 + 5 + 10 and table.subsets[table.minimum] == (0, 1)
    assert np.allclose(table.lanczos, table.closed_form, atol=1e-9)
    assert table.lanczos[table.saddles].max() < 0 and table.gradient_norms.max() < 1e-13
    assert table.values[table.minimum] == pytest.approx(sd.eckart_young_value(lam, 2))


def test_random_starts_reach_the_eckart_young_value():
    lam, V = sd.rank_k_target(5, seed=1)
    result = section.random_starts(lam, V, 2, n_starts=6, lr=0.5, steps=2000, seed=0)
    assert result.steps[0] == 0 and result.steps[-1] == 2000 and result.losses.shape == (len(result.steps), 6)
    assert np.abs(result.final_excess).max() < 1e-10
    assert result.eckart_young == pytest.approx(sd.eckart_young_value(lam, 2))


def test_saddle_escape_plain_stays_perturbed_leaves():
    lam, _ = sd.rank_k_target(5, seed=2)
    S = section.swapped_saddle(2)
    assert S == (0, 2) and section.swapped_saddle(3) == (0, 1, 3)
    result = section.saddle_escape(lam, 2, S, lr=0.5, steps=1500, seed=0)
    plain = result.excess("plain")
    assert np.all(plain == plain[0]) and plain[0] == pytest.approx(
        (sd.critical_value(lam, S) - sd.eckart_young_value(lam, 2)) / sd.eckart_young_value(lam, 2))
    assert abs(result.excess("perturbed")[-1]) < 1e-10
    assert result.perturbations[0] == 1 and result.lambda_min == pytest.approx((lam[2] - lam[1]).item())
