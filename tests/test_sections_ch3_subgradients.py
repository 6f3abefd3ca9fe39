"""The glue of the subgradients notebook: probes, descents, jump table and cost table against
closed forms and independent computations."""

import numpy as np
import pytest
import torch

from dltheory import subgradients as sg
from dltheory.sections import ch3_subgradients as section

pytestmark = pytest.mark.usefixtures("one_thread")


def test_kink_probes_shapes_references_and_the_failure_of_torch():
    p = section.kink_probes(4, 5, seed=3)
    for name in ("difference", "one_sided", "torch_jvp", "torch_reverse", "limiting", "limiting_vs_nearby",
                 "kinks", "net"):
        assert getattr(p, name).shape == (20,)
    assert np.abs(p.one_sided - p.difference).max() < 1e-6
    assert np.abs(p.limiting - p.difference).max() < 1e-6
    assert p.limiting_vs_nearby.max() < 1e-6
    # PyTorch is right wherever no unit sits at its kink
    assert not p.wrong("torch_jvp")[p.kinks == 0].any()
    assert (p.kinks > 0).any()
    assert sorted(set(p.net.tolist())) == [0, 1, 2, 3]


def test_kink_probes_are_seeded():
    a, b = section.kink_probes(2, 3, seed=9), section.kink_probes(2, 3, seed=9)
    assert np.array_equal(a.difference, b.difference) and np.array_equal(a.kinks, b.kinks)


def test_kink_counting_against_a_hand_example():
    layers = [(torch.tensor([[1.0, -1.0], [1.0, 0.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)),
              (torch.tensor([[1.0, 1.0]], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64))]
    assert section._kinks(layers, torch.tensor([1.0, 1.0], dtype=torch.float64)) == 1


def test_toy_is_the_identity_and_the_loss_is_a_square():
    w = torch.linspace(-2, 2, 9, dtype=torch.float64)
    assert torch.equal(section.toy(w), w)
    assert torch.equal(section.toy(w, torch.relu), w)
    assert torch.allclose(section.toy_loss(0.7)(w), (w - 0.7) ** 2)


def test_kink_descents_closed_form():
    paths = section.kink_descents(1.3, lr=0.1, steps=30, seed=1)
    assert set(paths) == set(sg.ORACLES)
    assert np.all(paths["autograd"] == 0)
    expected = 1.3 * (1 - 0.8 ** np.arange(31))
    assert np.allclose(paths["limiting"], expected, atol=1e-12)
    assert np.allclose(paths["randomized"], expected, atol=1e-6)


def test_jump_table_and_chord_closed_forms():
    lams = [0.0, 1.0, 100.0]
    J = section.jump_table(lams, h=1e-7)
    assert np.array_equal(J["forward"], [-2.0, -2.0, -2.0])
    # by hand: jump by differences = -2 + h (1 + lambda)
    assert np.allclose(J["difference"], [-2 + 1e-7 * (1 + lam) for lam in lams], atol=1e-8)
    # chord: min over s of -2 s + (1 + lambda) s^2 is -1/(1 + lambda), attained at s = 1/(1 + lambda)
    assert np.allclose(J["chord"], [-1.0 / (1 + lam) for lam in lams], rtol=0.05)
    assert (J["chord"] < 0).all()


def test_weakly_convex_test_is_positive_for_a_convex_quadratic_region():
    # at x = 2 and x = -2 the function is a convex quadratic on [x - 1, x + 1]: no negative
    # second difference (the smallest steps round to 0)
    assert section.weakly_convex_test(0.0, x=2.0) >= -1e-12
    assert section.weakly_convex_test(3.0, x=-2.0) >= -1e-12
    assert section.weakly_convex_test(3.0, x=0.0) < -0.1


def test_cost_table_reports_ratios():
    costs = section.cost_table(width=16, depth=1, batch=8, repeats=1)
    assert costs["function"] == 1.0 and len(costs) == 4
    assert all(v > 0 for v in costs.values())


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_nets"):
        section.kink_probes(0, 3)
    with pytest.raises(ValueError, match="lam"):
        section.jump_table([-1.0])
    with pytest.raises(TypeError, match="target"):
        section.kink_descents("one")
