"""The glue of the global-convergence notebook: the Gram, rate and depth protocols."""

import numpy as np
import pytest
import torch

from dltheory import data, gram, ntk, stats, train
from dltheory.sections import ch5_global_convergence as section


def test_gram_deviation_by_hand_and_falls_with_width():
    X, _ = data.teacher_signs(10, 4, seed=0, dtype=torch.float64)
    out = section.gram_deviation(X, [16, 4096], [1, 2])
    assert out.shape == (2, 2)
    W = gram.du_network(4, 16, seed=2, dtype=torch.float64)[0].weight.detach()
    H_inf = gram.du_gram(X)
    assert out[1, 0] == pytest.approx(float((gram.first_layer_gram(W, X) - H_inf).norm() / H_inf.norm()))
    assert np.all(out[:, 1] < out[:, 0])


def test_residual_curves_match_a_fit_by_hand():
    X, y = data.teacher_signs(12, 4, seed=0, dtype=torch.float64)
    curves = section.residual_curves(X, y, [32], [5], lr=3.0, steps=20)
    assert curves.shape == (1, 1, 21) and curves[0, 0, 0] == 1.0
    net = gram.du_network(4, 32, seed=5, dtype=torch.float64)
    history = train.fit(net, X, y, loss="square", optimizer="gd", lr=3.0, steps=20, record_every=1, progress=False)
    np.testing.assert_allclose(curves[0, 0], history["loss"] / history["loss"][0], rtol=1e-10)


def test_worst_envelope_ratio_skips_step_zero():
    env = np.array([1.0, 0.5, 0.25])
    assert section.worst_envelope_ratio(np.array([[1.0, 0.25, 0.25]]), env) == 1.0
    assert section.worst_envelope_ratio(np.array([[1.0, 0.1, 0.05]]), env) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="steps"):
        section.worst_envelope_ratio(np.ones((1, 3)), np.ones(4))


def test_depth_sweep_small_and_consistent():
    X, _ = data.teacher_signs(6, 3, seed=0, dtype=torch.float64)
    out = section.depth_sweep(X, [1, 2], 16, [1, 2, 3])
    for key in (*section.ARCHITECTURES, "plain_vs_limit", "limit_lambda_min"):
        assert out[key].shape == (2,) and np.all(out[key] > 0)
    limit = ntk.relu_ntk(X, depth=2)
    eig = torch.linalg.eigvalsh(limit)
    assert out["limit_lambda_min"][1] == pytest.approx(float(eig[0] / eig.mean()))


def test_depth_growth_reads_the_loglog_fit():
    depths = [4, 8, 16, 32, 64]
    assert section.depth_growth(depths, np.sqrt(depths), lo=4, hi=64) == pytest.approx(4.0)
    values = [1.0, 1.2, 0.9, 1.1, 1.0]
    assert section.depth_growth(depths, values, lo=4, hi=64) == pytest.approx(
        16 ** stats.loglog_slope(depths, values))
