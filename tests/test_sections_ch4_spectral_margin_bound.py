"""The glue of chapter 4's spectral-margin-bound section against hand computations, NumPy and the
library's own bounds.bartlett_bound called directly."""

import numpy as np
import pytest
import torch

from dltheory import bounds, train
from dltheory.sections import ch2_margin_distributions
from dltheory.sections import ch4_spectral_margin_bound as section

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    centers = 3 * torch.randn(3, 8, generator=g)
    y = torch.arange(60) % 3
    X = centers[y] + torch.randn(60, 8, generator=g)
    return X[:45], y[:45], X[45:], y[45:]


@pytest.fixture(scope="module")
def run(problem):
    X, y, Xt, yt = problem
    return section.training_run(X, y, Xt, yt, widths=[8, 16, 3], lr=0.2, momentum=0.0, batch_size=15, steps=120,
                                seed=3)


def test_record_steps_are_log_spaced_and_even():
    steps = section.record_steps(1600)
    assert steps[0] == 0 and steps[-1] == 1600
    assert {200 * k for k in range(9)} <= set(steps)
    assert set(train.log_spaced_steps(1600, 3)) <= set(steps)
    assert steps == sorted(set(steps))
    with pytest.raises(ValueError):
        section.record_steps(0)


def test_training_run_is_chapter_2s_network_and_records_R_A_and_the_median_margin(problem, run):
    X, y, Xt, yt = problem
    ch2 = ch2_margin_distributions.train_labelling(X, y, Xt, yt, widths=[8, 16, 3], lr=0.2, momentum=0.0,
                                                   batch_size=15, steps=120, seed=3)
    for a, b in zip(run["model"].parameters(), ch2["model"].parameters()):
        assert torch.equal(a, b)
    h = run["history"]
    assert list(h["step"]) == section.record_steps(120)
    assert h["R_A"][-1] == pytest.approx(bounds.spectral_complexity(run["model"]), rel=1e-9)
    assert h["margin_median"][-1] == pytest.approx(bounds.margins(run["model"], X, y).double().median().item(),
                                                   rel=1e-6)
    assert h["R_A"][0] == pytest.approx(bounds.spectral_complexity(run["init"]), rel=1e-9)
    fitted = [s for s, a in zip(h["step"], h["train_accuracy"]) if a == 1.0]
    assert run["fitted"] == fitted[0] and torch.equal(run["labels"], y)


def test_margin_term_by_hand_and_elementwise():
    assert section.margin_term(3.0, 10.0, 2.0, 5) == pytest.approx(3.0)
    np.testing.assert_allclose(section.margin_term(2.0, [1.0, 4.0], [0.5, 2.0], 4), [1.0, 1.0])
    with pytest.raises(ValueError):
        section.margin_term(1.0, 1.0, 1.0, 0)


def test_last_half_change_by_hand():
    history = {"step": [0, 10, 40, 50, 60, 100], "v": [1.0, 2.0, 4.0, 5.0, 6.0, 5.5]}
    assert section.last_half_change(history, "v") == pytest.approx(5.5 / 5.0 - 1)
    history = {"step": [0, 49, 51, 100], "v": [1.0, 2.0, 3.0, 3.0]}
    assert section.last_half_change(history, "v") == pytest.approx(0.5)


def test_bound_over_margins_is_bartlett_bound_at_the_quantiles(problem, run):
    X, y, _, _ = problem
    result = section.bound_over_margins(run["model"], X, y, quantiles=(0.1, 0.5, 0.9))
    m = bounds.margins(run["model"], X, y).double()
    for row in result["rows"]:
        gamma = torch.quantile(m, row["quantile"]).item()
        direct = bounds.bartlett_bound(run["model"], X, y, gamma=gamma)
        assert row["bound"] == direct["bound"] and row["gamma"] == gamma
    assert result["best"]["bound"] == min(row["bound"] for row in result["rows"])
    table = section.bound_table({"a": result["best"], "b": result["rows"][0]})
    assert "spectral complexity R_A" in table and "bound on the test error" in table
    assert f"{result['best']['spectral_complexity']:.1f}" in table


def test_bound_over_margins_refuses_a_network_with_no_positive_margin(problem, run):
    X, y, _, _ = problem
    with pytest.raises(ValueError, match="positive"):
        section.bound_over_margins(run["init"], X, (y + 1) % 3, quantiles=(0.01,))
