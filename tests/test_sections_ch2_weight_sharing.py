"""The glue of book/2-provable-learning/weight-sharing.ipynb: the sweep over k, its explorer panel,
and the curvature measurements, against the closed forms of dltheory.weight_sharing."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dltheory import weight_sharing as ws
from dltheory import widgets
from dltheory.sections import ch2_weight_sharing as section

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small():
    return section.sweep([2, 3, 8], d=3, steps=400, band_samples=25, seed=1)


def test_c_k_makes_the_tied_model_strongly_convex():
    for k in (1, 2, 10, 40):
        assert section.c_k(k) ** 2 == pytest.approx(2 * k)
        assert ws.strong_convexity(section.c_k(k), k) > 0.5 * k
    with pytest.raises(ValueError):
        section.c_k(0)


def test_random_direction_has_the_norm_and_depends_on_the_seed():
    u = section.random_direction(5, 2.0, seed=3)
    assert u.norm().item() == pytest.approx(2.0)
    assert torch.equal(u, section.random_direction(5, 2.0, seed=3))
    assert not torch.equal(u, section.random_direction(5, 2.0, seed=4))


def test_sweep_measures_what_the_closed_forms_give(small):
    assert small.ks == [2, 3, 8] and small.band_gradients.shape == (3, 25)
    assert small.u0_norm == pytest.approx(2.0)
    assert (small.band_gradients.max(axis=1) <= small.bound).all()
    assert small.worst == pytest.approx([ws.population_gradient(*_worst(small.u0, k), section.c_k(k))[1:].norm().item()
                                         for k in small.ks])
    assert small.steps[0] == 0 and small.steps[-1] == 400
    assert small.untied_losses.shape == small.tied_losses.shape == (3, len(small.steps))
    # the recorded losses are those of the closed form at the start
    U = ws.shared_target(small.u0, 8)
    assert small.untied_losses[2, 0] > small.untied_losses[2, -1] > 0.49  # k = 8 stalls
    assert small.untied_losses[0, -1] < 1e-10  # k = 2 crosses the thin band
    assert small.tied_error.max() < 1e-10 and (small.tied_losses[:, -1] < 1e-20).all()
    assert small.untied_w1_error.max() < 1e-3
    assert small.lr_tied == pytest.approx([1 / ws.smoothness(section.c_k(k), k, tied=True) for k in small.ks])
    assert U.shape == (8, 3)


def _worst(u0, k):
    U = ws.shared_target(u0, k)
    W = U.clone()
    W[1:] /= 2
    return W, U


def test_padding_runs_each_k_as_if_alone(small):
    """The batched, zero-padded run over k equals a run of k = 3 on its own."""
    g = torch.Generator().manual_seed(2)
    W0 = 0.5 / math.sqrt(3) * torch.randn(3, 8, 3, generator=g, dtype=torch.float64)
    alone = ws.gradient_descent(W0[1, :3], ws.shared_target(small.u0, 3), section.c_k(3),
                                lr=small.lr_untied[1], steps=400)
    assert alone.losses[-1].item() == pytest.approx(small.untied_losses[1, -1], rel=1e-9, abs=1e-15)


def test_sweep_rejects_bad_grids():
    with pytest.raises(ValueError, match="increasing"):
        section.sweep([3, 2], steps=1)
    with pytest.raises(ValueError):
        section.sweep([1, 2], steps=1)


def test_k_panel_draws_the_band_and_both_descents(small):
    panel = section.k_panel(small, 8)
    assert isinstance(panel, widgets.Panel) and len(panel.figure.axes) == 2
    assert panel.values["k"] == 8
    assert panel.values["untied_loss"] == pytest.approx(small.untied_losses[2, -1])
    assert panel.values["tied_loss"] == pytest.approx(small.tied_losses[2, -1])
    assert panel.values["band_gradient"] == pytest.approx(np.median(small.band_gradients[2]))
    plt.close(panel.figure)
    with pytest.raises(ValueError, match="not in the sweep"):
        section.k_panel(small, 5)


def test_k_explorer_embeds_one_view_per_k(small):
    box = section.k_explorer(small, grid=(2, 8))
    assert "2 views" in repr(box)
    slider, stack = box.children
    assert len(stack.children) == 2
    with pytest.raises(ValueError, match="not in the sweep"):
        section.k_explorer(small, grid=(2, 4))


def test_curvature_scan_finds_kappa_at_three():
    t_sq = [1.0, 3.0, 8.0]
    scan = section.curvature_scan(t_sq)
    assert scan[1] == pytest.approx(ws.KAPPA, rel=1e-12)
    assert scan.max() <= ws.KAPPA + 1e-12 and scan[0] < ws.KAPPA and scan[2] < ws.KAPPA


def test_tied_eigenvalues_respect_the_guarantee_and_untied_ones_go_negative():
    u0 = section.random_direction(4, 2.0, seed=0)
    lam = section.tied_min_eigenvalues([2, 6], u0, 300, seed=1)
    assert lam.shape == (2, 300)
    for k, row in zip((2, 6), lam):
        assert row.min() >= ws.strong_convexity(section.c_k(k), k) - 1e-12
    untied = section.untied_min_eigenvalues([2], u0, 100, seed=2)
    assert untied.min() < -1e-3
