"""dltheory.sections, the glue of one notebook each, against independent computations: NumPy for
the normalised MSE, dltheory.train.fit run by hand for the deep-vs-shallow protocol, counts by
hand for the zero-eigenvalue condition, the SVM and the regularised minimiser for the margins explorer, and
the minimum-norm solution for the min-norm explorer."""

import functools
import math

import ipywidgets
import numpy as np
import pytest
import torch
from torch import nn

from dltheory import data, implicit_bias, linear, models, train, widgets
from dltheory.sections import ch1_deep_vs_shallow, ch1_degenerate_hessians, ch1_margins, ch1_min_norm

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- ch1_deep_vs_shallow


@pytest.fixture(scope="module")
def tree_problem():
    X, y = data.binary_tree(200, depth=2, seed=0, dtype=F64)
    Xt, yt = data.binary_tree(100, depth=2, seed=1, dtype=F64)
    return (X, y), (Xt, yt)


def test_normalized_mse_against_numpy():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(50, 3, generator=g, dtype=F64), torch.randn(50, generator=g, dtype=F64)
    model = nn.Linear(3, 1, dtype=F64)
    f = model(X).detach().numpy().reshape(-1)
    expected = np.sum((f - y.numpy()) ** 2) / np.sum((y.numpy() - y.numpy().mean()) ** 2)
    assert ch1_deep_vs_shallow.normalized_mse(model, X, y) == pytest.approx(expected, rel=1e-12)
    assert ch1_deep_vs_shallow.normalized_mse(model, X.numpy(), y.numpy()) == pytest.approx(expected, rel=1e-12)
    mean_model = nn.Linear(3, 1, dtype=F64)
    with torch.no_grad():
        mean_model.weight.zero_()
        mean_model.bias.fill_(y.mean())
    assert ch1_deep_vs_shallow.normalized_mse(mean_model, X, y) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match="X has 50 examples but y has 49"):
        ch1_deep_vs_shallow.normalized_mse(model, X, y[:-1])
    with pytest.raises(ValueError, match="targets are all equal"):
        ch1_deep_vs_shallow.normalized_mse(model, X, torch.ones(50, dtype=F64))
    with pytest.raises(ValueError, match="one number for each"):
        ch1_deep_vs_shallow.normalized_mse(model, X, torch.ones(50, 2, dtype=F64))


def test_normalized_mse_refuses_what_is_not_a_model():
    X, y = torch.randn(5, 3, dtype=F64), torch.randn(5, dtype=F64)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
        ch1_deep_vs_shallow.normalized_mse("net", X, y)


def test_normalized_mse_runs_the_model_in_evaluation_mode():
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(30, 3, generator=g, dtype=F64), torch.randn(30, generator=g, dtype=F64)
    model = nn.Sequential(nn.Linear(3, 8, dtype=F64), nn.Dropout(0.5), nn.Linear(8, 1, dtype=F64)).train()
    first = ch1_deep_vs_shallow.normalized_mse(model, X, y)
    assert ch1_deep_vs_shallow.normalized_mse(model, X, y) == first  # no dropout noise
    assert model.training
    f = model.eval()(X).detach().numpy().reshape(-1)
    expected = np.sum((f - y.numpy()) ** 2) / np.sum((y.numpy() - y.numpy().mean()) ** 2)
    assert first == pytest.approx(expected, rel=1e-12)


def test_train_and_score_keeps_the_best_step_size_by_training_loss(tree_problem):
    train_data, test_data = tree_problem
    lrs, steps = [1e-3, 1e-2, 3e-2], 150
    model = models.build("tree_local", 4, width=8, seed=0, dtype=F64)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = ch1_deep_vs_shallow.train_and_score(model, train_data, test_data, lrs=lrs, steps=steps)
    # the same runs by hand, each from the same start
    final = {}
    for lr in lrs:
        twin = models.build("tree_local", 4, width=8, seed=0, dtype=F64)
        twin.load_state_dict(start)
        adam = functools.partial(torch.optim.Adam, lr=lr, fused=True)  # the section's Adam (fused)
        history = train.fit(twin, *train_data, loss="square", optimizer=adam, steps=steps,
                            record_every=steps, progress=False)
        final[lr] = (history["loss"][-1], twin)
    best = min(lrs, key=lambda lr: final[lr][0])
    assert result["lr"] == best
    for p, q in zip(model.parameters(), final[best][1].parameters()):
        assert torch.equal(p, q)
    assert result["parameters"] == models.tree_parameter_count(2, 8)
    assert result["train_error"] == pytest.approx(ch1_deep_vs_shallow.normalized_mse(model, *train_data))
    assert result["test_error"] == pytest.approx(ch1_deep_vs_shallow.normalized_mse(model, *test_data))
    # half the square loss is the normalised MSE times half the variance (population convention)
    y = train_data[1]
    variance = ((y - y.mean()) ** 2).mean().item()
    assert final[best][0] == pytest.approx(0.5 * variance * result["train_error"], rel=1e-9)
    assert result["train_error"] < 0.5


def test_train_and_score_survives_a_diverging_step_size(tree_problem):
    train_data, test_data = tree_problem
    model = models.build("shallow", 4, width=8, seed=0, dtype=F64)
    result = ch1_deep_vs_shallow.train_and_score(model, train_data, test_data, lrs=[1e300, 1e-2], steps=30)
    assert result["lr"] == 1e-2 and math.isfinite(result["test_error"])
    with pytest.raises(FloatingPointError, match="diverged for every step size"):
        ch1_deep_vs_shallow.train_and_score(model, train_data, test_data, lrs=[1e300], steps=30)
    with pytest.raises(ValueError, match="at least one step size"):
        ch1_deep_vs_shallow.train_and_score(model, train_data, test_data, lrs=[], steps=30)


def test_sweep_rows(tree_problem):
    train_data, test_data = tree_problem
    rows = ch1_deep_vs_shallow.sweep(["shallow", "tree_conv"], [40, 80], train_data, test_data, lrs=[1e-2],
                                     steps=20, progress=False)
    assert [(r["architecture"], r["budget"]) for r in rows] == [("shallow", 40), ("tree_conv", 40),
                                                               ("shallow", 80), ("tree_conv", 80)]
    for r in rows:
        assert r["width"] == models.free_width(r["architecture"], 4, r["budget"])
        assert set(r) == {"architecture", "budget", "width", "parameters", "lr", "train_error", "test_error"}
    # each row is train_and_score of the network built at that width under the sweep's seed
    again = ch1_deep_vs_shallow.train_and_score(models.build("tree_conv", 4, width=rows[3]["width"], seed=0,
                                                             dtype=F64),
                                                train_data, test_data, lrs=[1e-2], steps=20)
    assert {k: rows[3][k] for k in again} == again


# --------------------------------------------------------------------------- ch1_degenerate_hessians


def test_zero_eigenvalue_condition_by_hand():
    rows = ch1_degenerate_hessians.zero_eigenvalue_condition([8, 32, 32, 2], n=50)
    assert [tuple(r) for r in rows] == [(1, 256, 100, True), (2, 1024, 100, True), (3, 64, 100, False)]
    assert isinstance(rows[0], ch1_degenerate_hessians.ZeroEigenvalueLayer) and rows[0].weights == 256
    # a bottleneck narrower than the output lowers the bound of every layer before it
    rows = ch1_degenerate_hessians.zero_eigenvalue_condition([4, 3, 1, 5], n=10)
    assert [r.bound for r in rows] == [10, 10, 50]
    assert [r.holds for r in rows] == [True, False, False]
    assert not any(r.holds for r in ch1_degenerate_hessians.zero_eigenvalue_condition([8, 8, 2], n=50))


@pytest.mark.parametrize("widths, n, error, message", [
    ([8], 3, ValueError, "widths must list at least an input and an output size"),
    ([8, 0, 2], 3, ValueError, r"widths\[1\] must be a positive integer, got 0"),
    ([8, 4, 2], 0, ValueError, "n must be a positive integer, got 0"),
    ([8, 2.5, 2], 3, TypeError, r"widths\[1\] must be a positive integer, got 2.5"),
    ([8, True, 2], 3, TypeError, r"widths\[1\] must be a positive integer, got True"),
    ([8, 4, 2], 2.0, TypeError, "n must be a positive integer, got 2.0"),
    ("842", 3, TypeError, "widths must be a sequence of positive integers, got str"),
])
def test_zero_eigenvalue_condition_rejects_bad_input(widths, n, error, message):
    with pytest.raises(error, match=message):
        ch1_degenerate_hessians.zero_eigenvalue_condition(widths, n)


def test_near_zero_count():
    values = torch.tensor([-1e-17, 0.0, 3e-12, 1e-3, 2.0])
    assert ch1_degenerate_hessians.near_zero_count(values, 1e-9) == 3
    assert ch1_degenerate_hessians.near_zero_count(values, 0.0) == 1
    assert ch1_degenerate_hessians.near_zero_count(1e6 * values, 1e-9) == 3  # relative, not absolute
    assert ch1_degenerate_hessians.near_zero_count(values.numpy(), 1e-9) == 3
    with pytest.raises(ValueError, match="eigenvalues contains NaN or inf"):
        ch1_degenerate_hessians.near_zero_count(torch.tensor([float("nan")]), 1e-9)
    with pytest.raises(ValueError, match="eigenvalues must hold at least one"):
        ch1_degenerate_hessians.near_zero_count(torch.tensor([]), 1e-9)
    with pytest.raises(ValueError, match="rtol must be a non-negative number"):
        ch1_degenerate_hessians.near_zero_count(values, -1.0)
    with pytest.raises(TypeError, match="rtol must be a non-negative number, got '1e-9'"):
        ch1_degenerate_hessians.near_zero_count(values, "1e-9")


# --------------------------------------------------------------------------- ch1_margins


@pytest.fixture(scope="module")
def wide():
    X, y, _ = data.separable(12, 20, margin=0.1, seed=3, dtype=F64)
    return X, y


def test_regularization_panel_tends_to_the_svm_direction(wide):
    X, y = wide
    values = [ch1_margins.regularization_panel(X, y, lam).values for lam in (1e-1, 1e-3, 1e-5)]
    assert values[0]["angle"] > values[1]["angle"] > values[2]["angle"]
    assert values[0]["norm"] < values[1]["norm"] < values[2]["norm"]
    panel = ch1_margins.regularization_panel(X, y, 1e-3, lams=[1e-4, 1e-2])
    assert isinstance(panel, widgets.Panel) and len(panel.figure.axes) == 2
    w = implicit_bias.regularized_minimizer(X, y, 1e-3)
    assert panel.values["norm"] == pytest.approx(w.norm().item())
    assert panel.values["angle"] == pytest.approx(
        implicit_bias.angle_between(w, implicit_bias.max_margin_direction(X, y)))
    with pytest.raises(ValueError, match="lam must be a positive number"):
        ch1_margins.regularization_panel(X, y, -1.0)
    with pytest.raises(TypeError, match="lam must be a positive number"):
        ch1_margins.regularization_panel(X, y, "0.1")


def test_regularization_explorer_embeds_a_view_per_lambda(wide):
    box = ch1_margins.regularization_explorer(*wide, grid=(1e-4, 1e-2))
    slider, stack = box.children
    assert [label for label, _ in slider.options] == ["0.0001", "0.01"]
    assert len(stack.children) == 2
    assert ch1_margins.LAMBDA_GRID[0] == pytest.approx(1e-6) and ch1_margins.LAMBDA_GRID[-1] == pytest.approx(0.1)


# --------------------------------------------------------------------------- ch1_min_norm


@pytest.fixture(scope="module")
def teacher():
    return linear.LinearTeacher.sample(n=20, d=80, seed=0, n_test=200)


def test_init_scale_panel_from_zero_reaches_min_norm(teacher):
    panel = ch1_min_norm.init_scale_panel(teacher, 0.0, steps=200)
    assert panel.values["null_norm"] == 0.0
    assert panel.values["final_distance"] < 1e-8
    min_norm = linear.min_norm_solution(teacher.X, teacher.Y)
    assert panel.values["test_error"] == pytest.approx(teacher.test_error(min_norm))


def test_init_scale_panel_levels_off_at_the_null_space_norm(teacher):
    panel = ch1_min_norm.init_scale_panel(teacher, 2.0, steps=200)
    assert panel.values["final_distance"] == pytest.approx(panel.values["null_norm"], rel=1e-8)
    left, right = panel.figure.axes
    assert len(left.lines) == 2 and len(right.lines) == 3  # GD + level; curve + min-norm + marker


def test_init_scale_panel_test_error_grows_with_scale(teacher):
    errors = [ch1_min_norm.init_scale_panel(teacher, s).values["test_error"] for s in (0.0, 0.5, 2.0)]
    assert errors[0] < errors[1] < errors[2]


def test_init_scale_panel_rejects_a_bad_scale(teacher):
    with pytest.raises(ValueError, match="sigma must be a non-negative number, got -1.0"):
        ch1_min_norm.init_scale_panel(teacher, -1.0)
    with pytest.raises(TypeError, match="sigma must be a non-negative number, got True"):
        ch1_min_norm.init_scale_panel(teacher, True)


def test_init_scale_explorer_embeds_a_view_per_scale(teacher):
    box = ch1_min_norm.init_scale_explorer(teacher, grid=(0.0, 1.0, 3.0))
    slider, stack = box.children
    assert [label for label, _ in slider.options] == ["0", "1", "3"]
    assert len(stack.children) == 3
    assert ch1_min_norm.SIGMA_GRID[0] == pytest.approx(0.01) and ch1_min_norm.SIGMA_GRID[-1] == pytest.approx(10)
