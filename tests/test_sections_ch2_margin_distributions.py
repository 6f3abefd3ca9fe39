"""The glue of book/2-provable-learning/margin-distributions.ipynb: Zhang et al.'s table as the paper has it,
the boosting run against margins recomputed by the library, its explorer panel, and the training of one
network per labelling against train.fit's own SGD preset."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dltheory import boosting, models, train
from dltheory.sections import ch2_margin_distributions as section


def test_zhang_table_1_has_the_papers_rows_and_the_decks_picks():
    table = section.ZHANG_TABLE_1
    assert len(table) == 19
    names = [row[0] for row in table]
    assert names.count("Inception") == 5 and names.count("Inception w/o BatchNorm") == 3
    assert names.count("Alexnet") == 5 and names.count("MLP 3x512") == 3 and names.count("MLP 1x512") == 3
    rows = {(r[0], r[2], r[3], r[4]): (r[1], r[5], r[6]) for r in table}
    # the deck's rows: Inception 89, "Inception v2" 83 (= Inception w/o BatchNorm, weight decay), Alexnet 81,
    # MLP 3 52
    assert rows["Inception", "yes", "yes", "true"] == (1_649_402, 100.0, 89.05)
    assert rows["Inception w/o BatchNorm", "no", "yes", "true"] == (1_649_402, 100.0, 83.00)
    assert rows["Alexnet", "yes", "yes", "true"] == (1_387_786, 99.90, 81.22)
    assert rows["MLP 3x512", "no", "no", "true"] == (1_735_178, 100.0, 52.39)
    random = [r for r in table if r[4] == "random"]
    assert len(random) == 5 and all(r[2] == r[3] == "no" and 9.7 < r[6] < 10.7 for r in random)
    # MLP 3x512 on 28 x 28 x 3 crops, with biases: the parameter count checks the row
    assert models.mlp_parameter_count([28 * 28 * 3, 512, 512, 512, 10]) == 1_735_178
    assert models.mlp_parameter_count([28 * 28 * 3, 512, 10]) == 1_209_866


def test_results_table_puts_the_papers_rows_above_ours():
    text = section.results_table([("MLP 1x256, bias-free", 203_264, "true", 100.0, 87.65),
                                  ("MLP 1x256, bias-free", 203_264, "random", 100.0, 7.4)], "MNIST-2000")
    lines = text.splitlines()
    assert len(lines) == 2 + 19 + 1 + 2
    assert "Inception w/o BatchNorm" in text and "89.05" in text and "10.61" in text
    assert lines[-1].startswith("MLP 1x256, bias-free") and "MNIST-2000" in lines[-1] and "203,264" in lines[-1]
    assert lines[-1].split()[-2:] == ["100.00", "7.40"]


def test_round_grid():
    assert section.round_grid(2000) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    assert section.round_grid(10) == [1, 2, 5, 10]
    assert section.round_grid(1) == [1]
    assert section.round_grid(30) == [1, 2, 5, 10, 20, 30]


@pytest.fixture(scope="module")
def run():
    return section.boosting_run(n=120, n_test=500, rounds=150, seed=3)


def test_boosting_run_against_the_library(run):
    model, X, y = run["model"], run["X"], run["y"]
    T = run["rounds"]
    assert T == len(model.estimators_) and run["margins"].shape == (T, 120)
    np.testing.assert_allclose(run["margins"][-1], boosting.adaboost_margins(model, X, y))
    T0 = run["zero_error_round"]
    assert T0 is not None and run["margins"][T0 - 1].min() > 0 >= run["margins"][T0 - 2].min()
    np.testing.assert_array_equal(run["train_error"], (run["margins"] <= 0).mean(axis=1))
    # the test set is drawn again from its seed
    X_test, y_test = boosting.stump_majority(500, run["target"], seed=3 + 2)
    k = list(run["test_rounds"]).index(T0)
    assert run["test_error"][k] == np.mean(boosting.staged_adaboost_margins(model, X_test, y_test, [T0])[0] <= 0)
    assert run["test_error"][-1] == np.mean(model.predict(X_test) != y_test)
    assert set(section.round_grid(T)) <= set(run["test_rounds"]) and list(run["test_rounds"]) == sorted(
        run["test_rounds"])


def test_boosting_panel_reads_the_run(run):
    T0 = run["zero_error_round"]
    panel = section.boosting_panel(run, T0)
    plt.close(panel.figure)
    assert panel.values["train_error"] == 0.0 and panel.values["rounds"] == T0
    assert panel.values["min_margin"] == pytest.approx(run["margins"][T0 - 1].min())
    assert panel.values["median_margin"] == pytest.approx(np.median(run["margins"][T0 - 1]))
    k = list(run["test_rounds"]).index(T0)
    assert panel.values["test_error"] == run["test_error"][k]
    with pytest.raises(ValueError, match="between 1 and 150"):
        section.boosting_panel(run, 151)


def test_boosting_explorer_embeds_a_view_per_round(run):
    box = section.boosting_explorer(run, grid=(1, 10, 150))
    slider, stack = box.children
    assert [label for label, _ in slider.options] == ["1", "10", "150"]
    assert len(stack.children) == 3 and "3 views" in box.summary


def test_train_labelling_is_train_fits_sgd_and_keeps_the_initialisation():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(50, 8, generator=g), torch.randint(0, 3, (50,), generator=g)
    run = section.train_labelling(X[:40], y[:40], X[40:], y[40:], widths=[8, 16, 3], lr=0.3, momentum=0.0,
                                  batch_size=10, steps=60, seed=4)
    reference = models.mlp([8, 16, 3], bias=False, seed=4)
    for a, b in zip(run["init"].parameters(), reference.parameters()):
        assert torch.equal(a, b)
    train.fit(reference, X[:40], y[:40], loss="ce", optimizer="sgd", lr=0.3, steps=60, batch_size=10, seed=4)
    for a, b in zip(run["model"].parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert all(m.bias is None for m in run["model"].modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        expected = (run["model"](X[40:]).argmax(1) == y[40:]).double().mean().item()
    assert run["test_accuracy"] == expected
    assert run["train_accuracy"] == run["history"]["train_accuracy"][-1]
    with pytest.raises(ValueError, match="momentum"):
        section.train_labelling(X, y, X, y, widths=[8, 4, 3], lr=0.1, momentum=1.0, batch_size=10, steps=1, seed=0)
