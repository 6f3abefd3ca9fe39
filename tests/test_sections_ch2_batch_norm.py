"""The glue of the batch-norm section: its networks (the digits MLP and the VGG of the full scale, which the
quick notebook never builds, so it is exercised here), its final loss, the sweep and the matched probes."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import data
from dltheory.models.normalization import NoisyBatchNorm
from dltheory.sections import ch2_batch_norm as section

pytestmark = pytest.mark.usefixtures("one_thread")


def weights(model):
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("label, kind", [("plain", None), ("BN", nn.BatchNorm2d), ("noisy BN", NoisyBatchNorm)])
def test_the_vgg_of_the_full_scale(label, kind):
    model = section.network("vgg11", label, seed=3)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [c for c in section.VGG11 if c != "M"]
    norms = [m for m in model if kind is not None and isinstance(m, kind)]
    assert len(norms) == (0 if kind is None else len(convs))
    if kind is nn.BatchNorm2d:
        assert all(not m.track_running_stats for m in norms)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    for w in weights(model):  # He-normal: variance 2 / fan-in
        fan_in = w[0].numel()
        assert w.var().item() == pytest.approx(2 / fan_in, rel=0.25 if w.numel() < 20_000 else 0.05)


def test_every_version_starts_from_the_same_weights():
    for arch in section.ARCHITECTURES:
        nets = [section.network(arch, label, seed=5) for label in section.NORMS]
        for ws in zip(*(weights(net) for net in nets)):
            assert all(torch.equal(w, ws[0]) for w in ws)


def test_network_and_vgg_bad_input():
    with pytest.raises(ValueError, match="unknown arch"):
        section.network("resnet", "plain", seed=0)
    with pytest.raises(ValueError, match="unknown label"):
        section.network("mlp8x100", "layer norm", seed=0)
    with pytest.raises(ValueError, match="not divisible"):
        section.vgg(section.VGG11, image_size=24)


def test_training_sets(monkeypatch):
    X, y = section.training_set("digits", n=1792)
    assert X.shape == (1792, 64) and y.shape == (1792,) and X.max() <= 1
    calls = {}

    def fake_cifar10(**kwargs):
        calls.update(kwargs)
        return torch.rand(kwargs["n_train"], 3, 32, 32), torch.zeros(kwargs["n_train"], dtype=torch.long), None, None

    monkeypatch.setattr(data, "cifar10", fake_cifar10)
    X, y = section.training_set("cifar10", n=20)
    assert X.shape == (20, 3, 32, 32) and calls["n_train"] == 20 and calls["n_test"] == 1


# ---------------------------------------------------------------- final loss and schedule


def test_final_loss_is_the_mean_of_the_batch_losses_with_batch_statistics():
    X, y = section.training_set("digits", n=300)
    model = section.network("mlp8x100", "noisy BN", seed=0)
    model(X[:50])  # a draw of noise, which the final loss must not use
    model.eval()  # batch statistics of each batch, no noise
    with torch.no_grad():
        expected = sum(nn.functional.cross_entropy(model(X[s:s + 128]), y[s:s + 128], reduction="sum").item()
                       for s in range(0, 300, 128)) / 300
    model.train()
    assert section.final_loss(model, X, y, 128) == pytest.approx(expected, rel=1e-6)
    assert model.training
    plain = section.network("mlp8x100", "plain", seed=0)
    full = nn.functional.cross_entropy(plain(X), y).item()
    assert section.final_loss(plain, X, y, 128) == pytest.approx(full, rel=1e-5)  # no batch dependence


def test_linear_decay_falls_from_the_peak_to_zero():
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=2.0)
    sched = section.linear_decay(4)(opt)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([2.0, 1.5, 1.0, 0.5])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)


# ---------------------------------------------------------------- sweep and probes


def test_a_small_sweep():
    X, y = section.training_set("digits", n=256)
    sweep = section.lr_sweep("mlp8x100", X, y, {"plain": [0.05, 1e4], "BN": [0.05]}, [0, 1], steps=16,
                             batch_size=64, probe=X[:64], monitor={"plain": [0.05], "BN": [0.05]},
                             shift_every=4, threshold=2.2)
    assert sweep.loss["plain"].shape == (2, 2) and sweep.loss["BN"].shape == (1, 2)
    assert np.all(np.isinf(sweep.loss["plain"][1])) and np.all(np.isnan(sweep.shift["plain"][1]))
    assert np.all(np.isfinite(sweep.loss["plain"][0])) and np.all(sweep.shift["plain"][0] > 0)
    assert sweep.largest_lr("plain") == 0.05
    assert np.array_equal(sweep.at("BN", 0.05), sweep.loss["BN"][0])
    steps, values = sweep.traces[("BN", 0.05)][0]
    assert steps.tolist() == [4, 8, 12, 16] and values.shape == (4,)
    with pytest.raises(ValueError, match="was not run at lr=0.2"):
        sweep.at("BN", 0.2)
    figure = section.sweep_figure(sweep, traces=[("plain", 0.05), ("BN", 0.05)])
    assert len(figure.axes) == 2


def test_matched_probes_start_from_the_same_point():
    X, y = section.training_set("digits", n=256)
    etas = np.array([0.1, 1.0])
    trajectories = section.matched_probes("mlp8x100", ["plain", "BN"], X, y, lr=0.1, steps=4, every=2,
                                          step_sizes=etas, probe=(X[:64], y[:64]), seed=7, batch_size=64)
    for tr in trajectories.values():
        assert tr.steps == [0, 2, 4] and len(tr.probes) == 3 and len(tr.ics) == 3
        assert len(tr.ics[0].layers) == 8  # the eight linear layers
    ratio = section.median_ratio(trajectories["plain"].values("loss_range"), trajectories["BN"].values("loss_range"))
    assert ratio > 0
    small = trajectories["plain"].values("beta", max_step=0.5)
    p = trajectories["plain"].probes[0]
    assert small[0] == pytest.approx(p.gradient_changes[0] / (0.1 * p.gradient_norm))
    with pytest.raises(ValueError, match="no probed step size is at most"):
        trajectories["plain"].values("loss_range", max_step=0.01)
    figure = section.landscape_figure(trajectories)
    assert len(figure.axes) == 3


def test_the_vgg_runs_through_the_same_sweep_and_probes():
    """The full scale's code path on a few CIFAR-shaped random images."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(16, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (16,), generator=g)
    sweep = section.lr_sweep("vgg11", X, y, {"noisy BN": [0.01]}, [0], steps=2, batch_size=8, probe=X[:8],
                             monitor={"noisy BN": [0.01]}, shift_every=2)
    assert np.isfinite(sweep.loss["noisy BN"]).all() and np.isfinite(sweep.shift["noisy BN"]).all()
    trajectories = section.matched_probes("vgg11", ["BN"], X, y, lr=0.01, steps=1, every=1, step_sizes=[0.1],
                                          probe=(X[:8], y[:8]), seed=0, batch_size=8)
    assert len(trajectories["BN"].ics[0].layers) == 9  # eight convolutions and the classifier


def test_median_ratio_and_signal_spread():
    assert section.median_ratio([1.0, 4.0, math.inf], [1.0, 2.0, 1.0]) == 2.0
    with pytest.raises(ValueError, match="matched"):
        section.median_ratio([1.0], [1.0, 2.0])
    X, _ = section.training_set("digits", n=256)
    spread = section.signal_spread("mlp8x100", X, seed=0)
    assert spread["torch"].shape == spread["he"].shape == (7,)
    assert spread["torch"][-1] < 0.01 < 0.1 < spread["he"][-1]
