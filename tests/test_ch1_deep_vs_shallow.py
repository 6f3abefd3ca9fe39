"""The deep-vs-shallow section: node-specific constituents of the binary-tree target against a
NumPy evaluation of the tree, the dimension sweep and its tables against runs by hand, the
log-log slope and the size-for-accuracy reading against closed forms, and the locality of the
tree's first level (the check the notebook used to make as a claim)."""

import functools
import math

import numpy as np
import pytest
import torch

from dltheory import data, models, stats, train
from dltheory.data.compositional import node_phases
from dltheory.sections import ch1_deep_vs_shallow as section

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


def numpy_tree(X, phases):
    """The target node by node in NumPy: h_{l,j}(a, b) = sin(pi/2 (a + b) + pi/4 ab(a - b) + phi_{l,j})."""
    v = np.asarray(X, dtype=float)
    for level in range(len(phases)):
        nxt = np.empty((v.shape[0], v.shape[1] // 2))
        for j in range(v.shape[1] // 2):
            a, b = v[:, 2 * j], v[:, 2 * j + 1]
            phi = 0.0 if phases is None else float(phases[level][j])
            nxt[:, j] = np.sin(np.pi / 2 * (a + b) + np.pi / 4 * a * b * (a - b) + phi)
        v = nxt
    return v[:, 0]


def test_node_phases_shapes_range_and_seed():
    phases = node_phases(4, seed=7)
    assert [tuple(p.shape) for p in phases] == [(8,), (4,), (2,), (1,)]
    assert all(p.dtype == F64 and (p >= 0).all() and (p < 2 * math.pi).all() for p in phases)
    again = node_phases(4, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(phases, again))
    assert not torch.equal(node_phases(4, seed=8)[0], phases[0])


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_phased_target_against_numpy(depth):
    X = torch.rand(50, 2**depth, dtype=F64, generator=torch.Generator().manual_seed(depth)) * 2 - 1
    phases = node_phases(depth, seed=depth)
    y = data.binary_tree_target(X, phases=phases)
    np.testing.assert_allclose(y.numpy(), numpy_tree(X.numpy(), [p.numpy() for p in phases]), rtol=0, atol=1e-12)
    # zero phases are the shared constituent
    zeros = [torch.zeros_like(p) for p in phases]
    torch.testing.assert_close(data.binary_tree_target(X, phases=zeros), data.binary_tree_target(X))
    np.testing.assert_allclose(data.binary_tree_target(X).numpy(), numpy_tree(X.numpy(), [np.zeros(p.shape) for p in phases]),
                               atol=1e-12)


def test_phased_target_bad_input():
    X = torch.rand(5, 8, dtype=F64)
    with pytest.raises(ValueError, match="phases need"):
        data.binary_tree_target(X, constituent="tanh", phases=node_phases(3, seed=0))
    with pytest.raises(ValueError, match="one tensor per level"):
        data.binary_tree_target(X, phases=node_phases(2, seed=0))
    # a callable of three arguments is accepted
    y = data.binary_tree_target(X, constituent=lambda a, b, phi: torch.cos(a - b + phi), phases=node_phases(3, seed=0))
    assert y.shape == (5,)


def test_binary_tree_phase_seed_is_shared_by_training_and_test_sets():
    X, y = data.binary_tree(40, depth=3, seed=1, phase_seed=9, dtype=F64)
    Xt, yt = data.binary_tree(40, depth=3, seed=2, phase_seed=9, dtype=F64)
    phases = [p.numpy() for p in node_phases(3, seed=9)]
    np.testing.assert_allclose(y.numpy(), numpy_tree(X.numpy(), phases), atol=1e-12)
    np.testing.assert_allclose(yt.numpy(), numpy_tree(Xt.numpy(), phases), atol=1e-12)
    # same inputs as without phases, different targets
    X0, y0 = data.binary_tree(40, depth=3, seed=1, dtype=F64)
    assert torch.equal(X, X0) and not torch.allclose(y, y0)


def test_first_level_of_a_deep_tree_is_block_diagonal():
    """Locality, as the figure of the notebook shows it: unit of node j sees x_{2j}, x_{2j+1} only."""
    m, d = 5, 16
    tree = models.build("tree_local", d, width=m, channels=2, seed=0, dtype=F64)
    x = torch.rand(1, d, dtype=F64)
    J = torch.autograd.functional.jacobian(lambda v: tree.levels[0][0](v[:, None, None, :]).reshape(-1), x)
    J = J.reshape(m, d // 2, d).permute(1, 0, 2)  # (node, unit, input)
    for j in range(d // 2):
        outside = [k for k in range(d) if k // 2 != j]
        assert J[j][:, outside].abs().max() == 0
        assert (J[j][:, [2 * j, 2 * j + 1]].abs() > 0).all()  # a dense 2-column block


def test_train_and_score_minibatch_cosine_is_fit_by_hand():
    train_data = data.binary_tree(120, depth=2, seed=0, dtype=F64)
    test_data = data.binary_tree(60, depth=2, seed=1, dtype=F64)
    model = models.build("tree_local", 4, width=6, seed=2, dtype=F64)
    twin = models.build("tree_local", 4, width=6, seed=2, dtype=F64)
    result = section.train_and_score(model, train_data, test_data, lrs=[1e-2], steps=40, batch_size=32,
                                     cosine=True, seed=5)
    adam = functools.partial(torch.optim.Adam, lr=1e-2, fused=True)
    train.fit(twin, *train_data, loss="square", optimizer=adam, steps=40, batch_size=32, seed=5,
              scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 40), progress=False)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
    assert result["test_error"] == pytest.approx(section.normalized_mse(twin, *test_data), rel=1e-12)
    # the fused kernel is Adam: the preset's implementation gives the same weights up to rounding
    preset = models.build("tree_local", 4, width=6, seed=2, dtype=F64)
    train.fit(preset, *train_data, loss="square", optimizer="adam", lr=1e-2, steps=40, batch_size=32, seed=5,
              scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 40), progress=False)
    for p, q in zip(model.parameters(), preset.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def test_train_and_score_falls_back_to_unfused_adam(monkeypatch):
    """On a torch without a fused Adam for the parameters' device the default implementation runs."""
    class NoFusedAdam(torch.optim.Adam):
        def __init__(self, params, fused=None, **kw):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be CUDA tensors")
            super().__init__(params, **kw)

    train_data = data.binary_tree(80, depth=2, seed=0, dtype=F64)
    model = models.build("shallow", 4, width=5, seed=2, dtype=F64)
    twin = models.build("shallow", 4, width=5, seed=2, dtype=F64)
    train.fit(twin, *train_data, loss="square", optimizer="adam", lr=1e-2, steps=20, progress=False)
    monkeypatch.setattr(torch.optim, "Adam", NoFusedAdam)
    section.train_and_score(model, train_data, train_data, lrs=[1e-2], steps=20)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)


def test_dimension_sweep_rows_and_table():
    kw = dict(n_train=64, n_test=32, lrs=[1e-2], steps=5, batch_size=16, cosine=True, channels=2)
    rows = section.dimension_sweep(["shallow", "tree_local"], [2, 4], [3, 6], [10, 13], progress=False, **kw)
    assert len(rows) == 2 * 2 * 2 * 2
    for r in rows:
        depth = r["inputs"].bit_length() - 1
        assert r["budget"] in [models.tree_parameter_count(depth, m, 2) for m in (3, 6)]
        assert r["width"] == models.free_width(r["architecture"], r["inputs"], r["budget"], channels=2)
    # one row by hand: the data of seed s and s + 1, the network initialised under s
    r = next(r for r in rows if r["inputs"] == 4 and r["seed"] == 13 and r["architecture"] == "tree_local")
    train_data = data.binary_tree(64, depth=2, seed=13)
    test_data = data.binary_tree(32, depth=2, seed=14)
    net = models.build("tree_local", 4, width=r["width"], channels=2, seed=13)
    again = section.train_and_score(net, train_data, test_data, lrs=[1e-2], steps=5, batch_size=16, cosine=True,
                                    seed=13)
    assert again["test_error"] == pytest.approx(r["test_error"], rel=1e-12)
    # d = 2: the tree is the shallow network, and both get the same numbers
    two = {(r["architecture"], r["budget"], r["seed"]): r for r in rows if r["inputs"] == 2}
    for (arch, b, s), row in two.items():
        if arch == "shallow":
            assert row["parameters"] == two["tree_local", b, s]["parameters"]
    table = section.tabulate(rows)
    assert set(table) == {(a, d) for a in ("shallow", "tree_local") for d in (2, 4)}
    cell = table["tree_local", 4]
    budgets = sorted({row["budget"] for row in rows if row["inputs"] == 4})
    assert cell.shape == (2, 2) and cell[budgets.index(r["budget"]), 1] == r["test_error"]  # seeds in order
    with pytest.raises(ValueError, match="every budget"):
        section.tabulate(rows[:-1])
    with pytest.raises(ValueError, match="powers of two"):
        section.dimension_sweep(["shallow"], [6], [3], [0], progress=False, **kw)


def test_loglog_slope_and_parameters_for_on_power_laws():
    P = np.array([100.0, 300.0, 1000.0, 3000.0])
    e = 2.0 * P**-0.4
    assert stats.loglog_slope(P, e) == pytest.approx(-0.4, rel=1e-12)
    # P at which 2 P^-0.4 = 0.1: (20)^(1/0.4)
    assert section.parameters_for(0.1, P, e) == pytest.approx(20 ** 2.5, rel=1e-10)
    # noisy: the least-squares line of numpy
    g = np.random.default_rng(0)
    noisy = e * np.exp(0.1 * g.standard_normal(4))
    assert stats.loglog_slope(P, noisy) == pytest.approx(np.polyfit(np.log(P), np.log(noisy), 1)[0])
    # a flat or rising fit never reaches a smaller error
    assert section.parameters_for(0.1, P, 0.5 + 0 * P) == math.inf
    assert section.parameters_for(0.9, P, 0.5 + 0 * P) == pytest.approx(P.min())
    with pytest.raises(ValueError):
        stats.loglog_slope([1.0], [1.0])
    with pytest.raises(ValueError):
        stats.loglog_slope([1.0, 2.0], [1.0, -1.0])
