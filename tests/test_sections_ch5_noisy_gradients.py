"""The glue of the noisy-gradients notebook: SGLD chains on a quadratic, the PAC-Bayes run, the SGD divergence."""

import numpy as np
import pytest
import torch

from dltheory import bounds
from dltheory.sections import ch5_noisy_gradients as section


def test_quadratic_chains_reports_the_exact_and_gibbs_variances():
    out = section.quadratic_chains(2.0, 0.5, [0.05, 0.2], chains=4000, time=4.0, seed=0)
    np.testing.assert_allclose(out["eta_h"], [0.1, 0.4])
    np.testing.assert_allclose(out["exact"], [0.5 / (2 * 0.95), 0.5 / (2 * 0.8)])
    np.testing.assert_allclose(out["gibbs"], [0.25, 0.25])
    np.testing.assert_allclose(out["rel_error"], out["variance"] / out["exact"] - 1)
    np.testing.assert_allclose(out["bias"], out["variance"] / 0.25 - 1)
    assert np.abs(out["rel_error"]).max() < 0.05  # 4000 chains: a few per cent at most
    with pytest.raises(ValueError, match="eta \\* h < 2"):
        section.quadratic_chains(2.0, 0.5, [1.0], chains=10, time=1.0, seed=0)


def test_quadratic_chains_at_zero_temperature_contract_to_zero_like_gradient_descent():
    out = section.quadratic_chains(1.0, 1e-12, [0.5], chains=10, time=5.0, seed=0)
    assert out["variance"][0] < 1e-10


def test_digits_task_is_a_centred_disjoint_split():
    X, y, Xt, yt = section.digits_task(100, 40, seed=3)
    assert X.shape == (100, 64) and Xt.shape == (40, 64) and y.shape == (100,) and yt.shape == (40,)
    torch.testing.assert_close(X.mean(dim=0), torch.zeros(64), atol=1e-5, rtol=0)
    X2, *_ = section.digits_task(100, 40, seed=3)
    torch.testing.assert_close(X, X2)


def test_pac_bayes_run_term_is_the_running_sum_at_the_record_points():
    X, y, Xt, yt = section.digits_task(48, 32, seed=0)
    r = section.pac_bayes_run(X, y, Xt, yt, width=8, lr=0.1, temperature=1e-6, weight_decay=0.05,
                              batch_size=16, steps=12, record_at=[3, 7], seed=1)
    assert list(r["step"]) == [0, 3, 7, 12] and r["grad_sq"].shape == (12,)
    np.testing.assert_allclose(r["etas"], 0.1)
    running = bounds.sgld_pac_bayes_term(r["etas"], r["grad_sq"], 0.05, cumulative=True)
    np.testing.assert_allclose(r["term"], [0.0, running[2], running[6], running[11]])
    np.testing.assert_allclose(r["gap"], r["test_loss"] - r["train_loss"])
    np.testing.assert_allclose(r["error_gap"], r["train_accuracy"] - r["test_accuracy"])


def test_divergence_is_zero_for_identical_samples_and_at_the_start():
    X, y, Xt, yt = section.digits_task(32, 2, seed=0)
    same = section.divergence_run(X, y, X[:2], y[:2], width=4, lrs=[0.1], swaps=[0, 1], batch_size=8,
                                  at=[4, 8], seed=2)
    assert list(same["steps"]) == [0, 4, 8] and same["divergence"].shape == (1, 2, 3)
    np.testing.assert_array_equal(same["divergence"], 0.0)
    other = section.divergence_run(X, y, Xt, yt, width=4, lrs=[0.05, 0.1], swaps=[0, 1], batch_size=8,
                                   at=[4, 8], seed=2)
    assert np.all(other["divergence"][:, :, 0] == 0) and np.all(other["divergence"][:, :, -1] > 0)
    with pytest.raises(ValueError, match="one new example per swap"):
        section.divergence_run(X, y, Xt[:1], yt[:1], width=4, lrs=[0.1], swaps=[0, 1], batch_size=8, at=[4],
                               seed=2)
