"""The glue of book/1-three-questions/normalized-bounds.ipynb, and the identity the notebook used to check.

The arrays, line fits and test-loss rise are checked against hand computations
(NumPy least squares, explicit indexing); the identity "f and f~ predict the same
class" (f = rho f~ for a bias-free ReLU network) is checked on trained and rescaled
networks, train and test inputs, by comparing argmaxes directly.
"""

import math

import numpy as np
import pytest
import torch

from dltheory import bounds, data, homogeneity, models, train
from dltheory.sections import ch1_normalized_bounds as section
from dltheory.train import History

pytestmark = pytest.mark.usefixtures("one_thread")

LEVELS = [0.0, 0.5, 1.0]


@pytest.fixture(scope="module")
def family():
    g = torch.Generator().manual_seed(0)
    X, X_test = torch.randn(60, 6, generator=g), torch.randn(40, 6, generator=g)
    y, y_test = torch.randint(0, 3, (60,), generator=g), torch.randint(0, 3, (40,), generator=g)
    out = {}
    for r in range(2):
        for p in LEVELS:
            y_tr = data.corrupt_labels(y, p, num_classes=3, seed=10 * r)
            y_te = data.corrupt_labels(y_test, p, num_classes=3, seed=10 * r + 1)
            model = models.mlp([6, 16, 16, 3], bias=False, seed=10 * r)
            history = train.fit(model, X, y_tr, loss="ce", optimizer="sgd", lr=0.2, steps=60,
                                batch_size=20, seed=r, record_every=10, eval_data=(X_test, y_te))
            out[r, p] = section.summarise(model, history, X, y_tr, X_test, y_te)
    return out, X, X_test


def test_summaries_are_the_normalised_losses(family):
    fam, X, X_test = family
    s = fam[1, 0.5]
    assert s["train"] == bounds.normalized_losses(s["model"], X, s["train_labels"])
    assert s["test"] == bounds.normalized_losses(s["model"], X_test, s["test_labels"])
    assert "eval_loss" in s["history"]


def test_family_arrays_index_runs_by_levels(family):
    fam, _, _ = family
    arrays = section.family_arrays(fam, LEVELS, 2)
    assert set(arrays) == {"train_ce", "test_ce", "norm_train", "norm_test", "train_error", "test_error", "rho"}
    for r in range(2):
        for j, p in enumerate(LEVELS):
            assert arrays["norm_test"][r, j] == fam[r, p]["test"]["normalized_loss"]
            assert arrays["train_ce"][r, j] == fam[r, p]["train"]["loss"]
            assert arrays["rho"][r, j] == fam[r, p]["train"]["rho"]
            assert arrays["test_error"][r, j] == fam[r, p]["test"]["error"]
    assert arrays["train_ce"].shape == (2, 3)


def test_f_and_f_tilde_predict_the_same_class(family):
    """The identity the notebook no longer checks: scaling the outputs by rho > 0 keeps the argmax."""
    fam, X, X_test = family
    for s in fam.values():
        for model in (s["model"], homogeneity.scale_layers(s["model"], [7.0, 0.1, 30.0])):
            f_tilde, rhos = homogeneity.normalized_network(model)
            for inputs in (X, X_test):
                with torch.no_grad():
                    out, out_tilde = model(inputs), f_tilde(inputs)
                assert torch.equal(out.argmax(1), out_tilde.argmax(1))
                torch.testing.assert_close(out, math.prod(rhos) * out_tilde, rtol=1e-4, atol=1e-5)


def test_line_fits_against_numpy_least_squares():
    rng = np.random.default_rng(0)
    levels = [0.0, 0.2, 0.5, 0.8, 1.0]
    a = rng.uniform(1, 20, size=(3, 5))
    b = 0.9 * a + 0.03 * a**2 - 2 + rng.normal(0, 0.1, size=(3, 5))
    fits = section.line_fits(a, b, levels)
    for r in range(3):
        slope, intercept = np.polyfit(a[r], b[r], 1)
        slope_noisy, _ = np.polyfit(a[r, 1:], b[r, 1:], 1)
        assert fits["slope"][r] == pytest.approx(slope, rel=1e-10)
        assert fits["intercept"][r] == pytest.approx(intercept, rel=1e-10, abs=1e-10)
        assert fits["slope_noisy"][r] == pytest.approx(slope_noisy, rel=1e-10)
        residual = b[r] - (intercept + slope * a[r])
        np.testing.assert_allclose(fits["residual"][r], residual, atol=1e-10)
        r2 = 1 - (residual**2).sum() / ((b[r] - b[r].mean()) ** 2).sum()
        assert fits["r2"][r] == pytest.approx(r2, rel=1e-10)
    # a single run (1-D arrays) works too; exactly linear data give R^2 = 1 and no residual
    exact = section.line_fits(a[0], 2 * a[0] + 1, levels)
    assert exact["slope"] == pytest.approx([2.0]) and exact["r2"] == pytest.approx([1.0])
    assert exact["slope_noisy"] == pytest.approx([2.0])
    np.testing.assert_allclose(exact["residual"], 0.0, atol=1e-10)


def test_test_loss_rise_reads_the_minimum_and_the_end():
    rows = []
    losses = [2.3, 0.6, 0.4, 0.45, 0.52]
    accuracy = [0.1, 0.8, 0.87, 0.875, 0.872]
    normalized = [2.30, 2.28, 2.27, 2.269, 2.268]
    for step, (l, acc, n) in enumerate(zip(losses, accuracy, normalized)):
        rows.append({"step": step, "eval_loss": l, "eval_accuracy": acc, "normalized_test_loss": n})
    out = section.test_loss_rise(History(rows), ln_k=math.log(10))
    assert out["best"] == 2
    assert out["rise"] == pytest.approx(0.52 / 0.4)
    assert out["error_change"] == pytest.approx((1 - 0.872) - (1 - 0.87))
    below = math.log(10) - np.array(normalized)
    assert out["normalized_drift"] == pytest.approx(abs(below[-1] - below[2]) / below[-1])
    np.testing.assert_allclose(out["error"], 1 - np.array(accuracy))
    assert "normalized_drift" not in section.test_loss_rise(History(rows))
