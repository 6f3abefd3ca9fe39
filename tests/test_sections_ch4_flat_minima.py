"""The glue of the flat-minima notebook: chains, mass comparisons, slopes, batch sharpness and the explorer."""

import numpy as np
import pytest
import torch

from dltheory import curvature, langevin, models, train
from dltheory.sections import ch4_flat_minima as section


def test_run_chains_starts_every_chain_at_the_point_and_records_the_second_half():
    V = langevin.sharp_flat_potential(4.0)
    path = section.run_chains(V, 0.5, start=[-1.0], chains=6, steps=400, step=0.002, seed=0)
    assert path.samples.shape == (4, 6, 1) and list(path.steps) == [250, 300, 350, 400]
    same = langevin.euler_maruyama(V.grad, np.full((6, 1), -1.0), step=0.002, temperature=0.5, steps=400, seed=0)
    np.testing.assert_array_equal(path.final, same.final)
    with pytest.raises(ValueError, match="steps"):
        section.run_chains(V, 0.5, start=[-1.0], chains=6, steps=10, step=0.002, seed=0)


def test_compare_masses_reads_fractions_quadrature_and_laplace():
    V = langevin.sharp_flat_potential(4.0)
    fake = langevin.LangevinPath(np.zeros((4, 1)), np.array([[[-1.0], [1.0], [1.2], [0.9]]]), np.array([1]))
    out = section.compare_masses(V, fake, 0.5)
    np.testing.assert_allclose(out["sampled"], [0.25, 0.75])
    np.testing.assert_allclose(out["exact"], langevin.gibbs_masses(V, 0.5))
    np.testing.assert_allclose(out["laplace"], [1 / 3, 2 / 3])
    assert out["ratio_sampled"] == pytest.approx(3.0) and out["ratio_laplace"] == pytest.approx(2.0)


def test_temperature_sweep_and_quadrature_slope():
    V = langevin.ring_potential(2.0, curvature=2.0)
    sweep = section.temperature_sweep(V, [0.3, 0.5], start=[0.0, 0.0], chains=50, steps=200, step=0.025,
                                      seeds=[1, 2])
    assert sweep["ratio_sampled"].shape == (2,) and list(sweep["temperatures"]) == [0.3, 0.5]
    np.testing.assert_allclose(sweep["ratio_exact"],
                               [m[1] / m[0] for m in (langevin.gibbs_masses(V, T) for T in (0.3, 0.5))])
    with pytest.raises(ValueError, match="one seed per temperature"):
        section.temperature_sweep(V, [0.3, 0.5], start=[0.0, 0.0], chains=5, steps=200, step=0.025, seeds=[1])
    assert section.quadrature_slope(V, [1e-3, 1e-2]) == pytest.approx(-0.5, abs=1e-6)  # circle: k = 1


def test_batch_sharpness_matches_a_run_by_hand():
    X, y = section.digits_subset(40)
    assert X.shape == (40, 64) and torch.allclose(X.mean(dim=0), torch.zeros(64, dtype=X.dtype), atol=1e-12)
    out = section.batch_sharpness(X, y, width=8, batch_sizes=[10, None], seeds=[3], lr=0.5, target_loss=1.0,
                                  max_steps=30)
    for key in ("sharpness", "loss", "steps"):
        assert out[key].shape == (1, 2)
    net = models.mlp([64, 8, 10], seed=3, dtype=X.dtype)
    h = train.fit(net, X, y, loss="ce", optimizer="gd", lr=0.5, steps=30, seed=3, record_every=5,
                  stop_when=lambda row: row["loss"] <= 1.0, progress=False)
    assert out["steps"][0, 1] == h["step"][-1] and out["loss"][0, 1] == pytest.approx(h["loss"][-1])
    H = curvature.hessian(net, "ce", X, y)
    assert out["sharpness"][0, 1] == pytest.approx(torch.linalg.eigvalsh(H)[-1].item(), rel=1e-4)


def test_mass_panel_and_explorer():
    import matplotlib.pyplot as plt

    V = langevin.sharp_flat_potential(4.0)
    panel = section.mass_panel(V, 0.2)
    np.testing.assert_allclose([panel.values["sharp"], panel.values["flat"]], langevin.gibbs_masses(V, 0.2))
    assert panel.values["T"] == 0.2
    plt.close(panel.figure)
    box = section.temperature_explorer(V, [0.1, 1.0])
    assert repr(box).startswith("static explorer over T: 2 views")
