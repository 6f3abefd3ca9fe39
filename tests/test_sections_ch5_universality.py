"""The glue of the universality notebook: the masked ensemble, the bump fits, the sweep.

References: ``models.mlp`` networks built and trained one at a time with
``train.fit``, and ``universality`` called directly on them.
"""

import numpy as np
import pytest
import torch

from dltheory import models, train, universality
from dltheory.sections import ch5_universality as section

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("depth", [1, 3])
def test_members_are_the_seeded_mlps_at_initialisation(depth):
    widths, seeds = [2, 5, 3], [4, 4, 9]
    ens = section.MaskedMLPEnsemble(2, widths, seeds, depth)
    X = torch.randn(30, 2, dtype=torch.float64)
    out = ens(X)
    assert out.shape == (3, 30)
    for k, (m, s) in enumerate(zip(widths, seeds)):
        reference = models.mlp([2] + [m] * depth + [1], init="he", seed=s, dtype=torch.float64)
        torch.testing.assert_close(out[k], reference(X)[:, 0], rtol=1e-12, atol=1e-12)
        member = ens.member(k)
        torch.testing.assert_close(member(X)[:, 0], reference(X)[:, 0], rtol=1e-12, atol=1e-12)
        assert [p.shape for p in member.parameters()] == [p.shape for p in reference.parameters()]


def test_training_the_ensemble_trains_each_member_as_if_alone():
    widths, seeds, depth, steps = [2, 4], [1, 2], 2, 40
    X, y = section.bump_data(9)
    ens = section.MaskedMLPEnsemble(2, widths, seeds, depth)
    train.fit_ensemble(ens, X, y, loss="square", optimizer="adam", lr=0.01, steps=steps)
    for k, (m, s) in enumerate(zip(widths, seeds)):
        net = models.mlp([2] + [m] * depth + [1], init="he", seed=s, dtype=torch.float64)
        train.fit(net, X, y[:, None], loss="square", optimizer="adam", lr=0.01, steps=steps, progress=False)
        torch.testing.assert_close(ens.member(k)(X), net(X), rtol=1e-8, atol=1e-10)
    # the masked entries never move
    for layer, W in enumerate(ens.weights):
        assert (W.detach() * (1 - getattr(ens, f"mask{layer}"))).abs().max() == 0


def test_fit_bump_measures_each_member_with_the_library():
    out = section.fit_bump([2, 6], [3, 3], 2, points=9, eval_points=21, large_points=31, steps=30)
    model = out["model"]
    Xe, fe = section.bump_data(21)
    for k in range(2):
        net = model.member(k)
        with torch.no_grad():
            F = net(Xe)[:, 0]
        errors = universality.grid_errors(F, fe, d=2, half_width=section.BOX)
        assert out["sup"][k] == pytest.approx(errors["sup"], rel=1e-12)
        assert out["l1"][k] == pytest.approx(errors["l1"], rel=1e-12)
        assert out["center"][k] == pytest.approx(net(torch.zeros(1, 2, dtype=torch.float64)).item(), rel=1e-12)
        if np.isnan(out["level"][k]):
            assert F.max() - F.min() < 1e-9
            continue
        assert out["level"][k] == pytest.approx(section.level(F.numpy()))
        large = section.grid_values(net, section.LARGE_BOX, 31)
        comps = universality.superlevel_components(large, out["level"][k])
        assert (out["components"][k], out["bounded"][k]) == (comps.count, comps.bounded)


def test_depth_sweep_orders_members_width_major():
    out = section.depth_sweep([2, 3], [1, 2], [5, 6, 7], points=7, eval_points=11, large_points=15, steps=5)
    assert out["sup"].shape == out["bounded"].shape == (2, 2, 3)
    assert len(out["models"]) == 2
    assert out["models"][1].widths == [2, 2, 2, 3, 3, 3] and out["models"][1].seeds == [5, 6, 7] * 2
    single = section.fit_bump([3], [6], 2, points=7, eval_points=11, large_points=15, steps=5)
    assert out["sup"][1, 1, 1] == pytest.approx(single["sup"][0], rel=1e-10)


def test_level_and_grid_values():
    assert section.level(np.array([-1.0, 0.2, 3.0])) == 1.0
    net = models.mlp([2, 3, 1], seed=0, dtype=torch.float64)
    v = section.grid_values(net, 2.0, 5)
    X = universality.box_grid(2, 2.0, 5)
    np.testing.assert_allclose(v, net(X).detach().numpy().reshape(5, 5))
    assert v[0, 4] == pytest.approx(net(torch.tensor([[-2.0, 2.0]], dtype=torch.float64)).item())


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="equal length"):
        section.MaskedMLPEnsemble(2, [2, 3], [1], 2)
    with pytest.raises(ValueError, match="at least one"):
        section.depth_sweep([], [2], [1], points=5, eval_points=5, large_points=5, steps=1)
