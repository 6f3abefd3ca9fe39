"""The glue of book/3-sgd-overparametrization/overparametrized-landscapes.ipynb: the ReLU sweep and
its certificates, the quadratic sweep, and the explorer panel, against dltheory.landscape directly."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dltheory import landscape as ls
from dltheory.sections import ch3_overparametrized_landscapes as section

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def relu():
    return section.relu_sweep(4, (4, 6), seeds=6, steps=300, refine_steps=200, seed=0)


def test_step_size_caps_wide_students():
    assert section.step_size(10, 0.2) == 0.2 and section.step_size(20, 0.2) == 0.2
    assert section.step_size(100, 0.2) == pytest.approx(1 / (1 + 100 / (2 * math.pi)))
    with pytest.raises(ValueError):
        section.step_size(0, 0.2)


def test_relu_sweep_records_what_gradient_descent_gives(relu):
    assert relu.ks == [4, 6] and relu.final.shape == relu.stuck.shape == (2, 6)
    assert relu.losses.shape == (2, 6, len(relu.steps)) and relu.steps[-1] == 300
    np.testing.assert_allclose(relu.losses[:, :, -1], relu.final)
    # the first row of a width is the library's run from the same start
    W0 = ls.student_init(6, 4, 4, seed=4, dtype=torch.float32)
    run = ls.gradient_descent(W0, ls.orthonormal_teacher(4, dtype=torch.float32), lr=0.2, steps=300)
    np.testing.assert_allclose(relu.final[0], run.loss.double().numpy(), rtol=1e-6)
    assert np.array_equal(relu.stuck, relu.final > section.STUCK)
    # refined values exist exactly for the stuck runs
    assert np.array_equal(~np.isnan(relu.refined_loss), relu.stuck)
    assert np.array_equal(relu.certified_fraction, relu.certified.mean(axis=1))
    assert not (relu.certified & ~relu.stuck).any()


def test_certification_finds_a_known_spurious_minimum_and_rejects_a_saddle():
    """A start from a spurious minimum found once (k = k0 = 10) is certified; the teacher's own point is not stuck."""
    result = section.relu_sweep(10, (10,), seeds=64, steps=2000, refine_steps=500, seed=0)
    cert = result.certified[0]
    assert cert.any()
    assert (result.refined_lambda_min[0, cert] > 0).all() and (result.refined_grad[0, cert] <= 1e-5).all()
    assert (result.refined_loss[0, cert] > section.STUCK).all()
    lo, hi = result.stuck_interval()[0]
    assert lo <= result.stuck_fraction[0] <= hi


def test_k_panel_and_explorer(relu):
    panel = section.k_panel(relu, 4)
    assert panel.values["k"] == 4
    assert panel.values["stuck_fraction"] == pytest.approx(relu.stuck_fraction[0])
    assert panel.values["median_final_loss"] == pytest.approx(np.median(relu.final[0]))
    plt.close(panel.figure)
    with pytest.raises(ValueError, match="not in the sweep"):
        section.k_panel(relu, 5)
    assert section.k_explorer(relu) is not None
    plt.close("all")


def test_quadratic_sweep_against_the_convex_problem():
    q = section.quadratic_sweep(16, 6, 1e-2, (1, 2, 3, 4, 5, 6), seeds=2, seed=1)
    assert q.excess.shape == q.own_gap.shape == (6, 2)
    assert q.pataki == ls.pataki_rank(16) == 5 and q.du_lee_width == 6
    assert 1 <= q.rank <= q.pataki
    K = np.array(q.ks)
    assert (q.excess[K >= q.rank] <= 1e-6).all()  # from the rank of the optimum on, every start succeeds
    assert (q.excess[K < q.rank] > 1e-5).all()  # below it, none can
    assert (q.excess >= -1e-9).all()  # the lower bound is a lower bound
    # the excess is measured against the certified lower bound of the library's convex solver
    X, y = ls.quadratic_data(16, 6, seed=1)
    assert q.optimum.value == pytest.approx(ls.solve_convex(X, y, 1e-2).value, rel=1e-12)
    with pytest.raises(ValueError):
        section.quadratic_sweep(16, 6, 1e-2, (0,), seeds=1)
