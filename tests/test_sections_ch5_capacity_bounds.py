"""The glue of the capacity-bounds notebook: data, the per-network evaluation, the width sweep, slopes, tables."""

import math
import warnings

import numpy as np
import pytest
import torch

from dltheory import bounds, data, train
from dltheory.sections import ch5_capacity_bounds as section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_digits_split_is_seeded_centred_and_complete():
    X, y, Xt, yt = section.load_data("digits", 300, None, seed=4)
    assert X.shape == (300, 64) and Xt.shape == (1797 - 300, 64) and y.shape == (300,)
    torch.testing.assert_close(X.mean(0), torch.zeros(64), atol=1e-6, rtol=0)
    X2, y2, Xt2, yt2 = section.load_data("digits", 300, 100, seed=4)
    assert torch.equal(X, X2) and torch.equal(y, y2) and torch.equal(Xt[:100], Xt2) and len(yt2) == 100
    X3, *_ = section.load_data("digits", 300, None, seed=5)
    assert not torch.equal(X, X3)
    # together the two sets are all the digits, each once: the label counts add up
    _, labels = data.digits()
    assert torch.equal(torch.bincount(torch.cat([y, yt]), minlength=10), torch.bincount(labels, minlength=10))


def test_mnist_split_is_flat_and_centred():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X, y, Xt, yt = section.load_data("mnist", 50, 20, seed=0)
    assert X.shape == (50, 784) and Xt.shape == (20, 784)
    torch.testing.assert_close(X.mean(0), torch.zeros(784), atol=1e-6, rtol=0)


def test_load_data_rejects_bad_requests():
    with pytest.raises(ValueError, match="dataset"):
        section.load_data("cifar", 10, 10, seed=0)
    with pytest.raises(ValueError, match="no test example"):
        section.load_data("digits", 1797, None, seed=0)


@pytest.fixture(scope="module")
def small_run():
    X, y, Xt, yt = section.load_data("digits", 200, 100, seed=0)
    run = train.train_mlp_classifier(X, y, widths=[64, 16, 10], lr=0.5, batch_size=50, steps=200, seed=0)
    return run, X, y, Xt, yt


def test_evaluate_matches_the_library_bounds(small_run):
    run, X, y, Xt, yt = small_run
    row = section.evaluate(run, X, y, Xt, yt, quantile=0.2)
    model = run["model"]
    with torch.no_grad():
        train_error = (model(X).argmax(1) != y).double().mean().item()
        test_error = (model(Xt).argmax(1) != yt).double().mean().item()
    assert row["gap"] == pytest.approx(test_error - train_error)
    assert row["params"] == 64 * 16 + 16 * 10
    gamma = torch.quantile(bounds.margins(model, X, y).double(), 0.2).item()
    assert row["gamma"] == pytest.approx(gamma) and gamma > 0
    assert row["rademacher_bound"] == pytest.approx(bounds.rademacher_norm_bound(model, X, y, gamma=gamma)["bound"])
    assert row["bartlett_bound"] == pytest.approx(
        bounds.bartlett_bound(model, X, y, gamma=gamma, reference=run["init"])["bound"])
    assert row["R_A_init"] == pytest.approx(bounds.spectral_complexity(model, run["init"]))
    assert row["vc_bound"] == pytest.approx(bounds.vc_bound(model, 200))
    # the covering entry at the network's own depth is what covering_at_depth gives
    log2_c, cover = section.covering_at_depth(row["covering_A"], row["covering_b_over_eps"], 2, 200,
                                              margin_loss=row["margin_loss"])
    assert log2_c == pytest.approx(row["covering_log2"]) and cover == pytest.approx(row["covering_bound"])
    with torch.no_grad():
        b = model(X).abs().max().item()
    assert row["covering_b_over_eps"] == pytest.approx(b / (gamma / 2))


def test_evaluate_gives_nan_bounds_when_the_margin_is_not_positive(small_run):
    run, X, y, Xt, yt = small_run
    y_bad = (y + 1) % 10  # every training label wrong: negative margins
    row = section.evaluate(run, X, y_bad, Xt, yt)
    assert row["gamma"] <= 0 and math.isnan(row["rademacher_bound"]) and math.isnan(row["covering_log2"])
    assert row["train_error"] > 0.5


def test_covering_at_depth_grows_like_L_squared():
    logs = [section.covering_at_depth(8.0, 4.0, L, 100)[0] for L in range(1, 6)]
    assert logs == pytest.approx([L * (L + 1) * 3 + 2 * L * 2 for L in range(1, 6)])
    with pytest.raises(ValueError, match="depth"):
        section.covering_at_depth(8.0, 4.0, 0, 100)


def test_width_sweep_rows_and_shared_initialisation():
    X, y, Xt, yt = section.load_data("digits", 100, 50, seed=1)
    y_random = data.corrupt_labels(y, 1.0, num_classes=10, seed=2)
    sweep = section.width_sweep(X, {"true": y, "random": y_random}, Xt, yt, hidden_widths=[4, 8],
                                lr=0.1, batch_size=50, steps=4, seed=3)
    assert list(sweep) == ["true", "random"]
    assert [r["width"] for r in sweep["true"]] == [4, 8] and [r["params"] for r in sweep["random"]] == [296, 592]
    assert all(r["R_A_init"] > 0 and r["R_A"] > r["R_A_init"] for rows in sweep.values() for r in rows)


def test_loglog_slope_recovers_a_power_law():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert section.loglog_slope(x, 3 * x**0.25) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="positive"):
        section.loglog_slope(x, -x)
    with pytest.raises(ValueError, match="same length"):
        section.loglog_slope(x, x[:2])


def test_bound_table_has_one_line_per_width():
    row = {"width": 8, "params": 100, "vc_dimension": 5000.0, "covering_log2": 30.0, "vc_bound": 1.18,
           "covering_bound": 0.5, "rademacher_bound": 300.0, "frobenius_bound": 200.0,
           "bartlett_bound": 2e4, "gap": 0.02}
    text = section.bound_table([row, {**row, "width": 16}], 1000)
    lines = text.splitlines()
    assert len(lines) == 3 and "VCdim/n" in lines[0] and "gap" in lines[0]
    assert lines[1].split()[:3] == ["8", "100", "5"]
