"""dltheory.margins against independent computations: the hard-margin SVM by scipy's SLSQP,
scipy's BFGS for the regularised minimiser, autograd gradients for Euler's identity,
explicit rescaling for homogeneity, and one uninterrupted fit for the segmented one."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from torch import nn

from dltheory import data, margins, models, train, widgets

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def wide():
    X, y, _ = data.separable(12, 20, margin=0.1, seed=3, dtype=F64)
    return X, y


@pytest.fixture(scope="module")
def tall():
    X, y, _ = data.separable(40, 3, margin=0.2, seed=4, dtype=F64)
    return X, y


def slsqp_svm(X, y):
    A = (y[:, None] * X).numpy()
    res = minimize(lambda w: 0.5 * w @ w, np.zeros(A.shape[1]), jac=lambda w: w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: A @ w - 1, "jac": lambda w: A}],
                   options={"ftol": 1e-14, "maxiter": 2000})
    assert res.success
    return res.x


@pytest.mark.parametrize("which", ["wide", "tall"])
def test_max_margin_direction_matches_slsqp_and_is_scaled_to_margin_one(which, request):
    X, y = request.getfixturevalue(which)
    w = margins.max_margin_direction(X, y)
    assert w.dtype == F64 and w.shape == (X.shape[1],)
    assert (y * (X @ w)).min().item() == pytest.approx(1.0, abs=1e-12)
    reference = slsqp_svm(X, y)
    assert np.linalg.norm(w.numpy() - reference) / np.linalg.norm(reference) < 1e-6


def test_max_margin_direction_refuses_non_separable_data():
    X = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=F64)
    y = torch.tensor([1.0, 1.0, -1.0], dtype=F64)
    with pytest.raises(ValueError, match="not linearly separable"):
        margins.max_margin_direction(X, y)
    with pytest.raises(ValueError, match="labels"):
        margins.max_margin_direction(X, torch.tensor([0.0, 1.0, 1.0]))


def test_angle_between_known_angles_and_tiny_ones():
    assert margins.angle_between([1.0, 0.0], [0.0, 2.0]) == pytest.approx(90.0)
    assert margins.angle_between([1.0, 0.0], [-3.0, 0.0]) == pytest.approx(180.0)
    assert margins.angle_between(torch.tensor([[1.0, 1.0]]), np.array([1.0, 1.0])) == pytest.approx(0.0, abs=1e-12)
    tiny = 1e-10
    assert margins.angle_between([1.0, 0.0], [math.cos(tiny), math.sin(tiny)]) == pytest.approx(
        math.degrees(tiny), rel=1e-6)
    assert math.isnan(margins.angle_between([0.0, 0.0], [1.0, 0.0]))
    with pytest.raises(ValueError, match="sizes"):
        margins.angle_between([1.0, 0.0], [1.0, 0.0, 0.0])


def test_log_spaced_steps():
    assert margins.log_spaced_steps(1000, 1) == [1, 10, 100, 1000]
    steps = margins.log_spaced_steps(1000, 10)
    assert steps[0] == 1 and steps[-1] == 1000 and steps == sorted(set(steps))
    assert {10, 100, 1000} <= set(steps) and len(steps) <= 31
    assert margins.log_spaced_steps(50, 2)[-1] == 50
    with pytest.raises(ValueError):
        margins.log_spaced_steps(0)


def linear_model(d):
    model = nn.Linear(d, 1, bias=False, dtype=F64)
    with torch.no_grad():
        model.weight.zero_()
    return model


@pytest.mark.parametrize("optimizer", ["gd", "normalized_gd"])
def test_fit_log_spaced_equals_one_uninterrupted_run(wide, optimizer):
    X, y = wide
    one, segmented = linear_model(20), linear_model(20)
    history = train.fit(one, X, y, loss="exp", optimizer=optimizer, lr=0.5, steps=100, record_every=1,
                        progress=False)
    log = margins.fit_log_spaced(segmented, X, y, loss="exp", optimizer=optimizer, lr=0.5, steps=100,
                                 per_decade=5)
    torch.testing.assert_close(segmented.weight, one.weight, rtol=1e-12, atol=1e-14)
    assert log["step"].tolist() == [0] + margins.log_spaced_steps(100, 5)
    at = log["step"]
    for column in ("loss", "frob_1", "margin_min", "distance_from_init"):
        np.testing.assert_allclose(log[column], history[column][at], rtol=1e-10, atol=1e-14)


def test_fit_log_spaced_refuses_what_it_sets_and_stateful_optimizers(wide):
    X, y = wide
    with pytest.raises(ValueError, match="record_every"):
        margins.fit_log_spaced(linear_model(20), X, y, loss="exp", lr=1.0, steps=10, record_every=2)
    with pytest.raises(ValueError, match="full-batch"):
        margins.fit_log_spaced(linear_model(20), X, y, loss="exp", lr=1.0, steps=10, optimizer="sgd")


@pytest.fixture(scope="module")
def net():
    return models.mlp([4, 7, 6, 1], bias=False, seed=0, dtype=F64)


@pytest.fixture(scope="module")
def inputs():
    return torch.randn(9, 4, generator=torch.Generator().manual_seed(0), dtype=F64)


def test_scale_layers_is_homogeneous_layer_by_layer_and_jointly(net, inputs):
    f = net(inputs).detach()
    for k in range(3):
        factors = [1.0, 1.0, 1.0]
        factors[k] = 2.5
        torch.testing.assert_close(margins.scale_layers(net, factors)(inputs).detach(), 2.5 * f)
    torch.testing.assert_close(margins.scale_layers(net, [0.3, 0.3, 0.3])(inputs).detach(), 0.3**3 * f)
    assert net[0].weight.abs().sum() > 0  # the original is untouched
    with pytest.raises(ValueError, match="3 linear layers"):
        margins.scale_layers(net, [1.0, 2.0])


def test_normalized_network_has_unit_layers_and_factorises_f(net, inputs):
    normalized, rhos = margins.normalized_network(net)
    for layer, rho, original in zip([m for m in normalized if isinstance(m, nn.Linear)], rhos,
                                    [m for m in net if isinstance(m, nn.Linear)]):
        assert torch.linalg.matrix_norm(layer.weight).item() == pytest.approx(1.0)
        assert rho == pytest.approx(torch.linalg.matrix_norm(original.weight).item())
    torch.testing.assert_close(math.prod(rhos) * normalized(inputs).detach(), net(inputs).detach())


def test_normalized_network_refuses_biases():
    with pytest.raises(ValueError, match="biases"):
        margins.normalized_network(models.mlp([3, 4, 1], bias=True, seed=0))


def test_euler_sums_match_autograd_and_equal_f_for_relu(net, inputs):
    sums = margins.euler_sums(net, inputs)
    assert sums.shape == (3, 9)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for n in range(3):
        out = net(inputs[n : n + 1]).sum()
        grads = torch.autograd.grad(out, [layer.weight for layer in linears])
        for k, (layer, g) in enumerate(zip(linears, grads)):
            assert sums[k, n].item() == pytest.approx((layer.weight * g).sum().item(), rel=1e-12, abs=1e-14)
    torch.testing.assert_close(sums, net(inputs).detach().reshape(1, -1).expand(3, -1))


def test_euler_sums_fail_for_a_non_homogeneous_activation(inputs):
    tanh_net = models.mlp([4, 7, 1], activation="tanh", bias=False, seed=0, dtype=F64)
    sums = margins.euler_sums(tanh_net, inputs)
    f = tanh_net(inputs).detach().reshape(-1)
    assert not torch.allclose(sums[0], f)  # tanh is not positively homogeneous
    torch.testing.assert_close(sums[1], f)  # the last layer is linear in its own weights


@pytest.mark.parametrize("lam", [1e-1, 1e-3, 1e-5])
def test_regularized_minimizer_matches_bfgs_and_fit(wide, lam):
    X, y = wide
    w = margins.regularized_minimizer(X, y, lam)
    A = (y[:, None] * X).numpy()

    def F(v):
        e = np.exp(-A @ v)
        return e.mean() + 0.5 * lam * v @ v, -(A.T @ e) / len(e) + lam * v

    res = minimize(F, np.zeros(A.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    assert np.linalg.norm(w.numpy() - res.x) / np.linalg.norm(res.x) < 1e-5
    if lam >= 1e-3:  # gradient descent with weight decay converges to the same point
        model = linear_model(20)
        lr = 1.0 / torch.linalg.eigvalsh(X.T @ X / X.shape[0]).max().item()
        train.fit(model, X, y, loss="exp", lr=lr, weight_decay=lam, steps=int(60 / (lr * lam)), progress=False)
        torch.testing.assert_close(model.weight.detach().reshape(-1), w, rtol=1e-7, atol=1e-9)


def test_regularized_minimizer_refuses_bad_lambda(wide):
    with pytest.raises(ValueError, match="positive"):
        margins.regularized_minimizer(*wide, 0.0)


def test_regularization_panel_tends_to_the_svm_direction(wide):
    X, y = wide
    values = [margins.regularization_panel(X, y, lam).values for lam in (1e-1, 1e-3, 1e-5)]
    assert values[0]["angle"] > values[1]["angle"] > values[2]["angle"]
    assert values[0]["norm"] < values[1]["norm"] < values[2]["norm"]
    panel = margins.regularization_panel(X, y, 1e-3, lams=[1e-4, 1e-2])
    assert isinstance(panel, widgets.Panel) and len(panel.figure.axes) == 2
    w = margins.regularized_minimizer(X, y, 1e-3)
    assert panel.values["norm"] == pytest.approx(w.norm().item())
    with pytest.raises(ValueError):
        margins.regularization_panel(X, y, -1.0)


def test_regularization_explorer_builds_a_slider(wide):
    import ipywidgets

    box = margins.regularization_explorer(*wide)
    assert isinstance(box, ipywidgets.VBox)
    assert isinstance(box.children[0], ipywidgets.FloatLogSlider)


def test_normalized_network_refuses_activations_that_are_not_homogeneous():
    with pytest.raises(ValueError, match="Tanh is not positively homogeneous"):
        margins.normalized_network(models.mlp([3, 4, 1], activation="tanh", bias=False, seed=0))


def test_normalized_network_measures_the_effective_ntk_weights(inputs):
    net = models.mlp([inputs.shape[1], 7, 5, 1], bias=False, parametrization="ntk", seed=3, dtype=F64)
    normalized, rhos = margins.normalized_network(net)
    for layer, rho, original in zip(normalized[::2], rhos, net[::2]):
        effective = original.weight_scale * original.weight.detach()
        assert rho == pytest.approx(torch.linalg.matrix_norm(effective).item())
        assert torch.linalg.matrix_norm(layer.weight_scale * layer.weight).item() == pytest.approx(1.0)
    torch.testing.assert_close(math.prod(rhos) * normalized(inputs).detach(), net(inputs).detach())
