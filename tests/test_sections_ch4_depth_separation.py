"""The glue of the depth-separation notebook: random networks, batched shallow fits, deep fits, the explorer.

References: ``models.mlp`` networks built one at a time, ``train.fit`` run by
hand, a fine-grid trapezoid for the L1 errors, and ``depth`` called directly.
"""

import numpy as np
import pytest
import torch

from dltheory import data, depth, models, train
from dltheory.sections import ch4_depth_separation as section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_random_network_is_an_ntk_mlp_with_he_weights_and_random_biases():
    net = section.random_network(4, 3, seed=5)
    again = section.random_network(4, 3, seed=5)
    x = torch.linspace(0, 1, 33, dtype=torch.float64)[:, None]
    assert torch.equal(net(x), again(x))
    assert [m.out_features for m in net if hasattr(m, "out_features")] == [4, 4, 4, 1]
    big = section.random_network(2000, 1, seed=0)
    w = (big[0].weight * big[0].weight_scale).detach()
    assert w.var().item() == pytest.approx(2.0, rel=0.1)  # He: 2 / fan-in, fan-in 1
    b = (big[0].bias * big[0].bias_scale).detach()
    assert b.var().item() == pytest.approx(section.BIAS_VAR, rel=0.1)


def test_random_pieces_are_the_exact_counts_of_those_networks():
    out = section.random_pieces(3, [1, 2, 5], [7, 8])
    assert out["pieces"].shape == (2, 3)
    for i, s in enumerate([7, 8]):
        for j, L in enumerate([1, 2, 5]):
            assert out["pieces"][i, j] == depth.count_pieces(section.random_network(3, L, seed=s))
    np.testing.assert_array_equal(out["neurons"], [3, 6, 15])
    np.testing.assert_array_equal(out["bound"], [6.0, 36.0, 6.0**5])
    assert (out["pieces"] <= out["bound"]).all()


def test_shallow_ensemble_members_are_the_seeded_mlps_and_forward_matches_them():
    ens = section.ShallowEnsemble(5, [3, 4, 9])
    x = torch.rand(40, 1, dtype=torch.float64)
    out = ens(x)
    assert out.shape == (3, 40)
    for s, seed in enumerate([3, 4, 9]):
        reference = models.mlp([1, 5, 1], seed=seed, dtype=torch.float64)
        torch.testing.assert_close(out[s], reference(x)[:, 0])
        torch.testing.assert_close(ens.member(s)(x)[:, 0], reference(x)[:, 0])


def test_shallow_fits_match_members_trained_one_at_a_time():
    k, n, steps = 3, 64, 60
    out = section.shallow_fits(k, [2, 5], [1, 2], n=n, steps=steps, lr=0.02)
    assert out["l1"].shape == out["pieces"].shape == (2, 2)
    np.testing.assert_allclose(out["bound"], [depth.l1_lower_bound(k, 3), depth.l1_lower_bound(k, 6)])
    X, y = data.sawtooth(n, iterations=k, grid=True, dtype=torch.float64)
    for i, seed in enumerate([1, 2]):
        net = models.mlp([1, 5, 1], seed=seed, dtype=torch.float64)
        train.fit(net, X, y, loss="square", optimizer="adam", lr=0.02, steps=steps, progress=False)
        # the L1 error by a fine trapezoid, independently of depth.l1_distance
        grid = torch.linspace(0, 1, 2**16 + 1, dtype=torch.float64)
        diff = (net(grid[:, None])[:, 0] - data.tent_map(grid, k)).abs().detach().numpy()
        assert out["l1"][i, 1] == pytest.approx(np.trapezoid(diff, grid.numpy()), rel=1e-5)
        assert out["pieces"][i, 1] == depth.count_pieces(net)


def test_deep_fits_train_pair_networks_and_measure_them_exactly():
    out = section.deep_fits(3, [4, 5], n=64, steps=30, lr=0.02, tied=True)
    net = models.PairNetwork(3, tied=True, seeds=[4, 5], dtype=torch.float64)
    X, y = section.tent_data(3, 64)
    train.fit_ensemble(net, X, y, loss="square", optimizer="adam", lr=0.02, steps=30)
    for s in range(2):
        f = depth.piecewise_linear(net.member(s))
        assert out["l1"][s] == pytest.approx(depth.l1_distance(f, depth.tent_function(3)), rel=1e-12)
        assert out["pieces"][s] == f.pieces


def test_pieces_panel_and_explorer():
    import matplotlib.pyplot as plt

    panel = section.pieces_panel(5, seed=3)
    assert panel.values["construction pieces"] == 32
    assert panel.values["random pieces"] == depth.count_pieces(section.random_network(2, 5, seed=3))
    assert panel.values["shallow units for a zero floor"] == 16
    plt.close(panel.figure)
    box = section.pieces_explorer([1, 2, 3], seed=0)
    assert "3 views" in box.summary


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="at least one depth"):
        section.random_pieces(2, [], [0])
    with pytest.raises(ValueError, match="at least one width"):
        section.shallow_fits(3, [], [0], n=16, steps=1)
    with pytest.raises(ValueError, match="at least one member"):
        section.ShallowEnsemble(2, [])
    with pytest.raises(ValueError, match="k"):
        section.pieces_panel(0)
