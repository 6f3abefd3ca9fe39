"""dltheory.train.fit against independent computations: the closed forms and loops of
dltheory.linear, NumPy's lstsq, a hand-written SGD loop, autograd Jacobians, the
hard-margin SVM by scipy's SLSQP, and bounds.* on the final model; plus checkpoint
resumption bit for bit, divergence and bad input."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.optimize import minimize
from torch import nn

from dltheory import bounds, linear, losses, models, ntk, train
from dltheory.functional import as_function

F64 = torch.float64


# --------------------------------------------------------------------------- helpers


pytestmark = pytest.mark.usefixtures("one_thread")


def linear_model(d: int, k: int = 1, W0: torch.Tensor | None = None, dtype=F64) -> nn.Linear:
    model = nn.Linear(d, k, bias=False, dtype=dtype)
    with torch.no_grad():
        model.weight.copy_(torch.zeros(k, d, dtype=dtype) if W0 is None else W0)
    return model


def flat(model: nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.fixture
def wide():
    return linear.LinearTeacher.sample(n=12, d=30, k=2, n_test=5, seed=3)


@pytest.fixture
def binary():
    """A small binary problem for an MLP: labels in {-1, +1}."""
    g = torch.Generator().manual_seed(7)
    X = torch.randn(23, 5, generator=g, dtype=F64)
    y = torch.sign(X[:, 0] * X[:, 1] + 0.3 * X[:, 2])
    y[y == 0] = 1
    return X, y


def separable(n: int = 60, d: int = 5, margin: float = 0.3, seed: int = 0):
    """Linearly separable data made by hand: keep the points at least `margin` from a random hyperplane."""
    g = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d, generator=g, dtype=F64)
    X = torch.randn(8 * n, d, generator=g, dtype=F64)
    keep = (X @ w_star).abs() / w_star.norm() >= margin
    X = X[keep][:n]
    return X, torch.sign(X @ w_star)


def svm_direction(X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Hard-margin SVM without bias: min ||w||^2 / 2 s.t. y_i <w, x_i> >= 1.

    SLSQP finds the support vectors S; the KKT system w = A_S^T a, A_S w = 1 then gives w
    exactly, and the multipliers a >= 0 and feasibility certify it."""
    Xn, yn = X.numpy(), y.numpy()
    A = yn[:, None] * Xn
    res = minimize(lambda w: 0.5 * w @ w, np.zeros(Xn.shape[1]), jac=lambda w: w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: A @ w - 1, "jac": lambda w: A}],
                   options={"ftol": 1e-12, "maxiter": 1000})
    assert res.success
    S = A[A @ res.x < 1 + 1e-5]
    a = np.linalg.solve(S @ S.T, np.ones(len(S)))
    w = S.T @ a
    assert (a > 0).all() and (A @ w).min() > 1 - 1e-10
    return w / np.linalg.norm(w)


def angle_degrees(w: torch.Tensor, u: np.ndarray) -> float:
    w = w.detach().reshape(-1).numpy()
    return math.degrees(math.acos(np.clip(w @ u / np.linalg.norm(w), -1.0, 1.0)))


# --------------------------------------------------------------------------- gd


def test_gd_matches_linear_gradient_descent_step_for_step_and_reaches_min_norm(wide):
    lr = linear._default_lr(wide.X)
    reference = linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=F64), steps=20, lr=lr,
                                        record_every=1)
    model = linear_model(30, 2)
    seen = []
    history = train.fit(model, wide.X, wide.Y, loss="square", lr=lr, steps=20, record_every=1, progress=False,
                        metrics={"probe": lambda m: seen.append(m.weight.detach().clone()) or 0.0})
    assert history["step"].tolist() == list(range(21))
    for W_ref, W in zip(reference.weights, seen, strict=True):
        torch.testing.assert_close(W, W_ref, rtol=1e-13, atol=1e-15)
    # the recorded loss is linear.least_squares_loss, the same (1/2n)||XW^T - Y||^2
    for W, value in zip(seen, history["loss"]):
        assert value == pytest.approx(linear.least_squares_loss(W, wide.X, wide.Y).item(), rel=1e-12)
    # regression targets: no accuracy, no margins
    assert np.isnan(history["train_accuracy"]).all()
    assert "margin_min" not in history.columns
    train.fit(model, wide.X, wide.Y, loss="square", lr=lr, steps=400, progress=False)
    torch.testing.assert_close(model.weight.detach(), linear.min_norm_solution(wide.X, wide.Y), rtol=1e-8, atol=1e-10)


def test_weight_decay_reaches_ridge_solution(wide):
    lam = 0.05
    model = linear_model(30, 2)
    lr = 1.0 / (linear._default_lr(wide.X) ** -1 + lam)
    history = train.fit(model, wide.X, wide.Y, loss="square", lr=lr, steps=600, weight_decay=lam, progress=False)
    torch.testing.assert_close(model.weight.detach(), linear.ridge_solution(wide.X, wide.Y, lam),
                               rtol=1e-9, atol=1e-11)
    last = history.last
    assert last["objective"] == pytest.approx(
        linear.least_squares_loss(model.weight.detach(), wide.X, wide.Y, lam).item(), rel=1e-12)
    assert last["objective"] - last["loss"] == pytest.approx(0.5 * lam * model.weight.pow(2).sum().item(), rel=1e-10)


def test_trainable_parameters_only():
    """A frozen layer (requires_grad=False) is never changed, by gd or by ggn."""
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(8, 3, generator=g, dtype=F64), torch.randn(8, 1, generator=g, dtype=F64)
    for optimizer, lr in (("gd", 0.05), ("ggn", 1.0)):
        model = models.mlp([3, 64, 1], parametrization="ntk", seed=0, dtype=F64)
        model[2].weight.requires_grad_(False)
        frozen = model[2].weight.detach().clone()
        history = train.fit(model, X, y, loss="square", optimizer=optimizer, lr=lr, steps=5, progress=False)
        assert torch.equal(model[2].weight, frozen)
        assert history["loss"][-1] < history["loss"][0]


# --------------------------------------------------------------------------- sgd


def test_sgd_matches_a_hand_written_loop(wide):
    lr, batch, steps, seed = 0.3, 5, 8, 11  # n = 12: batches of 5, 5, 2 per epoch
    model = linear_model(30, 2)
    train.fit(model, wide.X, wide.Y, loss="square", optimizer="sgd", lr=lr, steps=steps, batch_size=batch,
              seed=seed, progress=False)
    generator = torch.Generator().manual_seed(seed)
    W, t = torch.zeros(2, 30, dtype=F64), 0
    while t < steps:
        order = torch.randperm(12, generator=generator)
        for start in range(0, 12, batch):
            if t == steps:
                break
            idx = order[start : start + batch]
            Xb, Yb = wide.X[idx], wide.Y[idx]
            W = W - lr * (Xb @ W.T - Yb).T @ Xb / len(idx)
            t += 1
    torch.testing.assert_close(model.weight.detach(), W, rtol=1e-13, atol=1e-15)


def test_sgd_deterministic_per_seed_and_converges_on_interpolation(wide):
    def run(seed, steps=30):
        model = linear_model(30, 2)
        train.fit(model, wide.X, wide.Y, loss="square", optimizer="sgd", lr=0.5, steps=steps, batch_size=4,
                  seed=seed, progress=False)
        return model

    assert_same_weights(run(0), run(0))
    assert not torch.equal(run(0).weight, run(1).weight)
    model = run(0, steps=1800)
    torch.testing.assert_close(model.weight.detach(), linear.min_norm_solution(wide.X, wide.Y), rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- adam


def test_adam_is_the_documented_update_on_mini_batches_with_weight_decay(wide):
    """The formula of the module docstring, in NumPy, on a linear model: same batches, same steps."""
    lr, batch, steps, seed, wd, (b1, b2), eps = 0.05, 5, 9, 4, 0.1, (0.8, 0.99), 1e-6
    model = linear_model(30, 2)
    train.fit(model, wide.X, wide.Y, loss="square", optimizer="adam", lr=lr, steps=steps, batch_size=batch,
              seed=seed, weight_decay=wd, adam_betas=(b1, b2), adam_eps=eps, progress=False)
    generator = torch.Generator().manual_seed(seed)
    X, Y = wide.X.numpy(), wide.Y.numpy()
    W, m, v, t = np.zeros((2, 30)), np.zeros((2, 30)), np.zeros((2, 30)), 0
    while t < steps:
        order = torch.randperm(12, generator=generator).numpy()
        for start in range(0, 12, batch):
            if t == steps:
                break
            idx = order[start : start + batch]
            g = (X[idx] @ W.T - Y[idx]).T @ X[idx] / len(idx) + wd * W
            t += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            W = W - lr / (1 - b1**t) * m / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(model.weight.detach().numpy(), W, rtol=1e-12, atol=1e-14)


def test_adam_full_batch_equals_torch_optim_adam(binary):
    X, y = binary
    model, reference = models.mlp([5, 16, 1], seed=0, dtype=F64), models.mlp([5, 16, 1], seed=0, dtype=F64)
    history = train.fit(model, X, y, loss="logistic", optimizer="adam", lr=0.01, steps=30, weight_decay=0.01,
                        progress=False)
    opt = torch.optim.Adam(reference.parameters(), lr=0.01, weight_decay=0.01, foreach=False)
    for _ in range(30):
        opt.zero_grad()
        losses.logistic(reference(X), y).backward()
        opt.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)
    assert history["loss"][-1] < history["loss"][0]


def test_adam_trains_a_small_regression():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(64, 2, generator=g, dtype=F64) * 2 - 1
    y = torch.sin(3 * X[:, 0]) * X[:, 1]
    model = models.mlp([2, 32, 1], seed=0, dtype=F64)
    history = train.fit(model, X, y, loss="square", optimizer="adam", lr=0.01, steps=400, progress=False)
    assert history["loss"][-1] < 0.05 * history["loss"][0]


# --------------------------------------------------------------------------- ggn


def test_one_ggn_step_on_a_linear_model_solves_least_squares(wide):
    X, y = wide.X, wide.Y[:, :1]
    model = linear_model(30, 1)
    train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=1, ggn_lambda=1.0, ggn_alpha=0.0,
              progress=False)
    expected = np.linalg.lstsq(X.numpy(), y.numpy(), rcond=None)[0].T  # minimum-norm solution
    np.testing.assert_allclose(model.weight.detach().numpy(), expected, rtol=1e-9, atol=1e-12)
    # from anywhere, one step lands on the nearest interpolant: the GD limit
    W0 = torch.randn(1, 30, generator=torch.Generator().manual_seed(2), dtype=F64)
    model = linear_model(30, 1, W0)
    train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=1, ggn_alpha=0.0, progress=False)
    torch.testing.assert_close(model.weight.detach(), linear.gd_limit(X, y, W0), rtol=1e-9, atol=1e-12)
    # the default damping (1e-6 of the mean eigenvalue) is the same step to about six digits
    model = linear_model(30, 1)
    train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=1, progress=False)
    np.testing.assert_allclose(model.weight.detach().numpy(), expected, rtol=1e-4, atol=1e-6)


def test_ggn_step_is_the_formula_with_an_autograd_jacobian():
    g = torch.Generator().manual_seed(4)
    X, y = torch.randn(6, 3, generator=g, dtype=F64), torch.randn(6, 2, generator=g, dtype=F64)
    model = models.mlp([3, 7, 2], activation="tanh", seed=1, dtype=F64)
    w0 = flat(model)
    f = as_function(model)
    J = torch.autograd.functional.jacobian(lambda w: f(w, X).reshape(-1), w0)  # (12, P), example-major
    r = f(w0, X).reshape(-1) - y.reshape(-1)
    lam, alpha, lr = 2.0, 0.3, 0.5
    expected = w0 - lr * J.T @ torch.linalg.solve(lam * J @ J.T + alpha * torch.eye(12, dtype=F64), r)
    train.fit(model, X, y, loss="square", optimizer="ggn", lr=lr, steps=1, ggn_lambda=lam, ggn_alpha=alpha,
              progress=False)
    torch.testing.assert_close(flat(model), expected, rtol=1e-12, atol=1e-14)


def test_ggn_trains_a_wide_net_in_a_few_steps_where_gd_does_not():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 5, generator=g, dtype=F64)
    y = torch.sin(X.sum(1, keepdim=True))
    model = models.mlp([5, 512, 1], parametrization="ntk", seed=0, dtype=F64)
    J = ntk.jacobian(model, X).reshape(20, -1)
    lr_gd = 1.0 / torch.linalg.eigvalsh(J @ J.T / 20)[-1].item()  # a stable GD step
    ggn = train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=10, progress=False)
    assert ggn["loss"][-1] < 1e-8
    gd_model = models.mlp([5, 512, 1], parametrization="ntk", seed=0, dtype=F64)
    gd = train.fit(gd_model, X, y, loss="square", optimizer="gd", lr=lr_gd, steps=10, progress=False)
    assert gd["loss"][-1] > 1e-2
    # mini-batch GGN still makes progress
    mb_model = models.mlp([5, 512, 1], parametrization="ntk", seed=0, dtype=F64)
    mb = train.fit(mb_model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=20, batch_size=5, progress=False)
    assert mb["loss"][-1] < 0.1 * mb["loss"][0]


# --------------------------------------------------------------------------- sgld


def test_sgld_at_zero_temperature_is_sgd(binary):
    X, y = binary
    runs = []
    for optimizer, options in (("sgd", {}), ("sgld", {"temperature": 0.0})):
        model = models.mlp([5, 16, 1], seed=3, dtype=F64)
        h = train.fit(model, X, y, loss="logistic", optimizer=optimizer, lr=0.2, steps=25, batch_size=6, seed=5,
                      progress=False, **options)
        runs.append((model, h))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_sgld_noise_has_variance_two_lr_temperature():
    P = 20_000
    X, y = torch.zeros(3, P, dtype=F64), torch.zeros(3, 1, dtype=F64)

    def zero_loss(out, target):  # a loss with zero gradient: the update is the noise alone
        return 0.0 * out.sum()

    lr, temperature = 0.01, 0.5
    model = nn.Linear(P, 1, bias=False, dtype=F64)
    w0 = flat(model)
    train.fit(model, X, y, loss=zero_loss, optimizer="sgld", lr=lr, steps=1, temperature=temperature,
              progress=False)
    step = (flat(model) - w0).numpy()
    scale = math.sqrt(2 * lr * temperature)
    assert abs(step.mean()) < 5 * scale / math.sqrt(P)
    assert step.var() == pytest.approx(2 * lr * temperature, rel=5 * math.sqrt(2 / P))
    assert stats.kstest(step / scale, "norm").pvalue > 1e-3
    # and the noise is the seed's: the same again, different for another seed
    again = nn.Linear(P, 1, bias=False, dtype=F64)
    with torch.no_grad():
        again.weight.copy_(w0.reshape(1, P))
    train.fit(again, X, y, loss=zero_loss, optimizer="sgld", lr=lr, steps=1, temperature=temperature,
              progress=False)
    assert torch.equal(flat(again), flat(model))
    other = nn.Linear(P, 1, bias=False, dtype=F64)
    with torch.no_grad():
        other.weight.copy_(w0.reshape(1, P))
    train.fit(other, X, y, loss=zero_loss, optimizer="sgld", lr=lr, steps=1, temperature=temperature, seed=1,
              progress=False)
    other_step = (flat(other) - w0).numpy()
    assert abs(np.corrcoef(step, other_step)[0, 1]) < 0.05


# --------------------------------------------------------------------------- normalized gd


def test_normalized_gd_finds_the_svm_direction_much_faster_than_gd():
    X, y = separable()
    u = svm_direction(X, y)
    angles = {}
    for optimizer in ("normalized_gd", "gd"):
        model = linear_model(5)
        train.fit(model, X, y, loss="exp", optimizer=optimizer, lr=1.0, steps=1000, progress=False)
        angles[optimizer] = angle_degrees(model.weight, u)
    assert angles["normalized_gd"] < 1.0
    assert angles["gd"] > 10 * angles["normalized_gd"]
    model = linear_model(5)
    train.fit(model, X, y, loss="logistic", optimizer="normalized_gd", lr=1.0, steps=1000, progress=False)
    assert angle_degrees(model.weight, u) < 1.0


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_normalized_gd_step_is_gradient_over_loss(loss):
    X, y = separable(n=20, seed=2)
    W0 = 0.3 * torch.randn(1, 5, generator=torch.Generator().manual_seed(0), dtype=F64)
    W = W0.clone().requires_grad_(True)
    L = losses.LOSSES[loss](X @ W.T, y)
    (grad,) = torch.autograd.grad(L, W)
    model = linear_model(5, W0=W0)
    train.fit(model, X, y, loss=loss, optimizer="normalized_gd", lr=0.7, steps=1, progress=False)
    torch.testing.assert_close(model.weight.detach(), W0 - 0.7 * grad / L.detach(), rtol=1e-12, atol=1e-14)
    # with weight decay: grad F / F for F = L + wd/2 ||w||^2
    wd = 0.1
    F_ = L.detach() + 0.5 * wd * W0.pow(2).sum()
    model = linear_model(5, W0=W0)
    train.fit(model, X, y, loss=loss, optimizer="normalized_gd", lr=0.7, steps=1, weight_decay=wd, progress=False)
    torch.testing.assert_close(model.weight.detach(), W0 - 0.7 * (grad + wd * W0) / F_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_huge_margins_stay_finite(loss, dtype):
    """Margins of ~3000: every loss underflows to 0, yet the normalised step is finite and of order lr."""
    X, y = separable(n=30, seed=1)
    u = svm_direction(X, y)
    W0 = torch.tensor(3000.0 * u).reshape(1, 5)  # margins >= 3000 * 0.3
    model = linear_model(5, W0=W0.to(dtype), dtype=dtype)
    before = flat(model)
    history = train.fit(model, X, y, loss=loss, optimizer="normalized_gd", lr=1.0, steps=20, progress=False)
    assert (history["loss"] == 0.0).all()  # reported honestly as the float it is
    assert history["margin_min"].min() > 100
    after = flat(model)
    assert torch.isfinite(after).all()
    move = (after - before).norm().item()
    assert 1.0 < move <= 20 * X.norm(dim=1).max().item() * (1 + 1e-5)
    # plain gd: the gradient underflows to (nearly) zero, which is not an error
    model = linear_model(5, W0=W0.to(dtype), dtype=dtype)
    train.fit(model, X, y, loss=loss, optimizer="gd", lr=1.0, steps=3, progress=False)
    assert torch.isfinite(flat(model)).all()


def test_log_logistic_is_accurate():
    m = torch.tensor([-40.0, -3.0, 0.0, 2.0, 19.9, 20.1, 35.0, 700.0, 1e5], dtype=F64)
    expected = [math.log(math.log1p(math.exp(-v))) if v < 700 else -v for v in m.tolist()]
    np.testing.assert_allclose(train._log_logistic(m).numpy(), expected, rtol=1e-13)


# --------------------------------------------------------------------------- History


def test_history_columns_and_values(binary):
    X, y = binary
    Xe, ye = X[:7] + 0.1, y[:7]
    model = models.mlp([5, 16, 8, 1], bias=False, seed=0, dtype=F64)
    w0 = flat(model)

    def weight_sum(m):
        return flat(m).sum().item()

    history = train.fit(model, X, y, loss="logistic", lr=0.1, steps=23, record_every=5, eval_data=(Xe, ye),
                        metrics=[weight_sum, lambda m: 1.5], progress=False)
    assert history["step"].tolist() == [0, 5, 10, 15, 20, 23]
    assert history["step"].dtype == np.int64
    expected = ["step", "loss", "train_accuracy", "frob_1", "spec_1", "frob_2", "spec_2", "frob_3", "spec_3",
                "rho", "rho_spectral", "margin_min", "normalized_margin_min", "distance_from_init",
                "eval_loss", "eval_accuracy", "weight_sum", "metric_1"]
    assert history.columns == expected
    assert len(history) == 6
    frame = history.to_frame()
    assert frame.shape == (6, len(expected)) and list(frame.columns) == expected
    last = history.last
    norms = bounds.layer_norms(model)
    for i in range(3):
        assert last[f"frob_{i + 1}"] == norms["frobenius"][i]
        assert last[f"spec_{i + 1}"] == norms["spectral"][i]
    assert last["rho"] == norms["rho"] and last["rho_spectral"] == norms["rho_spectral"]
    assert last["margin_min"] == bounds.margins(model, X, y).min().item()
    assert last["normalized_margin_min"] == pytest.approx(bounds.normalized_margins(model, X, y).min().item(),
                                                          rel=1e-14)
    assert last["distance_from_init"] == pytest.approx((flat(model) - w0).norm().item(), rel=1e-14)
    assert history["distance_from_init"][0] == 0.0
    with torch.no_grad():
        out, out_e = model(X), model(Xe)
    assert last["loss"] == pytest.approx(losses.logistic(out, y).item(), rel=1e-14)
    assert last["train_accuracy"] == (torch.sign(out.reshape(-1)) == y).double().mean().item()
    assert last["eval_loss"] == pytest.approx(losses.logistic(out_e, ye).item(), rel=1e-14)
    assert last["eval_accuracy"] == (torch.sign(out_e.reshape(-1)) == ye).double().mean().item()
    assert last["weight_sum"] == pytest.approx(flat(model).sum().item(), rel=1e-14)
    assert (history["metric_1"] == 1.5).all()
    assert train.History.from_json(history.to_json()) == history
    assert "6 records" in repr(history) and "steps 0..23" in repr(history)
    with pytest.raises(KeyError, match="no column 'nope'"):
        history["nope"]


def test_history_multiclass_and_one_hot():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, generator=g, dtype=F64)
    labels = X[:, :3].argmax(dim=1)
    model = models.mlp([4, 16, 3], seed=0, dtype=F64)
    h = train.fit(model, X, labels, loss="ce", lr=0.5, steps=50, progress=False)
    with torch.no_grad():
        acc = (model(X).argmax(1) == labels).double().mean().item()
    assert h.last["train_accuracy"] == acc and h["train_accuracy"][-1] > h["train_accuracy"][0]
    assert h.last["margin_min"] == bounds.margins(model, X, labels).min().item()
    onehot = torch.nn.functional.one_hot(labels, 3).to(F64)
    model = models.mlp([4, 16, 3], seed=0, dtype=F64)
    h = train.fit(model, X, onehot, loss="square", lr=0.5, steps=50, progress=False)
    with torch.no_grad():
        acc = (model(X).argmax(1) == labels).double().mean().item()
    assert h.last["train_accuracy"] == acc
    assert h.last["margin_min"] == bounds.margins(model, X, labels).min().item()
    # ties are errors, as a zero margin is: a zero model classifies nothing correctly
    for target, loss in ((labels, "ce"), (torch.sign(X[:, 0]), "logistic")):
        k = 3 if loss == "ce" else 1
        h = train.fit(linear_model(4, k), X, target, loss=loss, lr=0.1, steps=1, progress=False)
        assert h["train_accuracy"][0] == 0.0 and h["margin_min"][0] == 0.0


def test_default_record_points_and_steps_zero(wide):
    h = train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", lr=0.1, steps=1000, progress=False)
    assert len(h) == 101 and h["step"][-1] == 1000
    h = train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", lr=0.1, steps=7, record_every=3,
                  progress=False)
    assert h["step"].tolist() == [0, 3, 6, 7]
    model = linear_model(30, 2)
    h = train.fit(model, wide.X, wide.Y, loss="square", lr=0.1, steps=0, progress=False)
    assert h["step"].tolist() == [0] and torch.equal(model.weight, torch.zeros(2, 30, dtype=F64))


def test_recording_does_not_change_the_trajectory(binary):
    X, y = binary
    finals = []
    for every in (1, None):
        model = models.mlp([5, 16, 1], seed=0, dtype=F64)
        train.fit(model, X, y, loss="logistic", optimizer="sgld", lr=0.1, steps=30, batch_size=4,
                  temperature=1e-3, record_every=every, metrics={"norm": lambda m: flat(m).norm().item()},
                  eval_data=(X, y), progress=False)
        finals.append(model)
    assert_same_weights(*finals)


def test_follows_the_model_dtype_and_accepts_arrays(binary):
    X, y = binary
    model = models.mlp([5, 8, 1], seed=0)  # float32
    h = train.fit(model, X.numpy(), y.numpy(), loss="logistic", lr=0.1, steps=5, progress=False)
    assert model[0].weight.dtype == torch.float32 and np.isfinite(h["loss"]).all()
    model = models.mlp([5, 8, 1], seed=0)
    train.fit(model, X, y, loss="logistic", lr=0.1, steps=3, progress=True)  # the tqdm bar runs


# --------------------------------------------------------------------------- divergence


@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_huge_step_raises_naming_the_step(wide, optimizer):
    kwargs = {"batch_size": 4} if optimizer == "sgd" else {}
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+ .*lr=1e\+06"):
        train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", optimizer=optimizer, lr=1e6, steps=500,
                  progress=False, **kwargs)


# --------------------------------------------------------------------------- checkpoints


def _run(binary, optimizer, **kwargs):
    X, y = binary
    model = models.mlp([5, 16, 1], seed=0, dtype=F64)
    options = {"gd": {}, "sgd": {"batch_size": 5}, "sgld": {"batch_size": 5, "temperature": 1e-3},
               "adam": {"batch_size": 5}, "adam_full": {}}[optimizer]
    optimizer = "adam" if optimizer == "adam_full" else optimizer
    history = train.fit(model, X, y, loss="logistic", optimizer=optimizer, lr=0.1, steps=40, record_every=3,
                        seed=2, progress=False, **options, **kwargs)
    return model, history


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "sgld", "adam", "adam_full"])
def test_interrupted_and_resumed_equals_uninterrupted(binary, tmp_path, optimizer):
    reference_model, reference = _run(binary, optimizer)
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        _run(binary, optimizer, checkpoint=path, checkpoint_every=5, _stop_after=17)
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 15 and not saved["finished"]
    if optimizer.startswith("adam"):  # the moment estimates travel with the checkpoint
        shapes = [tuple(p.shape) for p in reference_model.parameters()]
        assert [tuple(m.shape) for m in saved["optimizer_state"]["exp_avg"]] == shapes
        assert [tuple(v.shape) for v in saved["optimizer_state"]["exp_avg_sq"]] == shapes
        assert all(v.abs().sum() > 0 for v in saved["optimizer_state"]["exp_avg_sq"])
    else:
        assert saved["optimizer_state"] == {}
    model, history = _run(binary, optimizer, checkpoint=path, checkpoint_every=5)
    assert_same_weights(model, reference_model)
    assert history.to_json() == reference.to_json()
    assert torch.load(path, weights_only=True)["finished"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary file left behind


def test_interrupted_by_a_metric_resumes_bit_identically(binary, tmp_path):
    """A KeyboardInterrupt raised mid-run (here from a metric callback at step 9) loses only the steps
    since the last checkpoint (step 8)."""
    calls, armed = [], [False]

    def probe(model):
        calls.append(1)
        if armed[0] and len(calls) == 4:  # records at 0, 3, 6, then 9
            raise KeyboardInterrupt
        return 0.0

    reference_model, reference = _run(binary, "sgd", metrics=[probe])
    calls.clear()
    armed[0] = True
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        _run(binary, "sgd", checkpoint=path, checkpoint_every=4, metrics=[probe])
    assert torch.load(path, weights_only=True)["step"] == 8
    model, history = _run(binary, "sgd", checkpoint=path, checkpoint_every=4, metrics=[probe])
    assert_same_weights(model, reference_model)
    assert history == reference


def test_finished_checkpoint_returns_at_once(binary, tmp_path):
    path = tmp_path / "sub" / "run.pt"
    model, history = _run(binary, "sgd", checkpoint=path)
    fresh, resumed = _run(binary, "sgd", checkpoint=path)
    assert_same_weights(fresh, model)
    assert resumed == history
    # nothing was computed: a metric would have been called at every record
    X, y = binary
    calls = []
    counting = models.mlp([5, 16, 1], seed=0, dtype=F64)
    path2 = tmp_path / "count.pt"
    train.fit(counting, X, y, loss="logistic", lr=0.1, steps=10, metrics={"c": lambda m: calls.append(1) or 0.0},
              checkpoint=path2, progress=False)
    n_calls = len(calls)
    other = models.mlp([5, 16, 1], seed=9, dtype=F64)  # different weights: the checkpoint's are loaded
    train.fit(other, X, y, loss="logistic", lr=0.1, steps=10, metrics={"c": lambda m: calls.append(1) or 0.0},
              checkpoint=path2, progress=False)
    assert len(calls) == n_calls
    assert_same_weights(other, counting)


def test_checkpoint_of_another_run_is_refused(binary, tmp_path):
    path = tmp_path / "run.pt"
    _run(binary, "sgd", checkpoint=path)
    X, y = binary
    with pytest.raises(ValueError, match=r"different run.*lr: checkpoint has 0\.1, this call has 0\.2"):
        train.fit(models.mlp([5, 16, 1], seed=0, dtype=F64), X, y, loss="logistic", optimizer="sgd", lr=0.2,
                  steps=40, record_every=3, seed=2, batch_size=5, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="data: checkpoint has"):
        train.fit(models.mlp([5, 16, 1], seed=0, dtype=F64), X + 1, y, loss="logistic", optimizer="sgd", lr=0.1,
                  steps=40, record_every=3, seed=2, batch_size=5, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="optimizer: checkpoint has 'sgd', this call has 'gd'"):
        _run(binary, "gd", checkpoint=path)
    with pytest.raises(ValueError, match="parameters: checkpoint has"):
        train.fit(models.mlp([5, 8, 1], seed=0, dtype=F64), X, y, loss="logistic", optimizer="sgd", lr=0.1,
                  steps=40, record_every=3, seed=2, batch_size=5, checkpoint=path, progress=False)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        _run(binary, "gd", checkpoint=tmp_path / "junk.pt")


def test_checkpoint_write_is_atomic(binary, tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        _run(binary, "sgd", checkpoint=path, checkpoint_every=5, _stop_after=12)
    good = path.read_bytes()
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        _run(binary, "sgd", checkpoint=path, checkpoint_every=5)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == good  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "change, match",
    [
        ({"X": "short"}, "X has 22 examples but y has 23"),
        ({"X": "nan"}, "X contains NaN or inf"),
        ({"y": "nan_regression"}, "y contains NaN or inf"),
        ({"steps": -1}, "steps must be a non-negative integer"),
        ({"steps": 2.5}, "steps must be a non-negative integer"),
        ({"lr": 0.0}, "lr must be a positive"),
        ({"lr": -1.0}, "lr must be a positive"),
        ({"optimizer": "adamw"}, "unknown optimizer 'adamw'"),
        ({"adam_eps": 1e-8}, "option 'adam_eps' belongs to optimizer 'adam'"),
        ({"optimizer": "adam", "adam_betas": (0.9, 1.0)}, r"adam_betas must be a pair of numbers in \[0, 1\)"),
        ({"optimizer": "adam", "adam_betas": 0.9}, "adam_betas must be a pair"),
        ({"optimizer": "adam", "adam_eps": 0.0}, "adam_eps must be a positive number"),
        ({"optimizer": "sgd", "batch_size": 0}, r"batch_size must be an integer in \[1, n=23\]"),
        ({"optimizer": "sgd", "batch_size": 24}, r"batch_size must be an integer in \[1, n=23\]"),
        ({"optimizer": "sgd"}, "sgd needs a batch_size"),
        ({"batch_size": 5}, "gd is full batch"),
        ({"optimizer": "ggn"}, "ggn .* needs the square loss"),
        ({"optimizer": "normalized_gd", "loss": "hinge"}, "normalized_gd needs the 'exp' or 'logistic' loss"),
        ({"loss": "nope"}, "unknown loss 'nope'"),
        ({"temperature": 1.0}, "option 'temperature' belongs to optimizer 'sgld'"),
        ({"momentum": 0.9}, "unknown option 'momentum'"),
        ({"optimizer": "sgld", "temperature": -1.0}, "temperature must be a non-negative"),
        ({"optimizer": "ggn", "loss": "square", "y": "regression", "ggn_lambda": 0.0}, "ggn_lambda must be"),
        ({"optimizer": "ggn", "loss": "square", "y": "regression", "weight_decay": 0.1}, "does not take weight_decay"),
        ({"weight_decay": -0.1}, "weight_decay must be a non-negative"),
        ({"y": "zero_one"}, r"logistic loss needs one label in \{-1, \+1\}"),
        ({"checkpoint_every": 5}, "checkpoint_every was given without a checkpoint"),
        ({"record_every": 0}, "record_every must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"metrics": [1.0]}, "is not callable"),
        ({"metrics": {"loss": lambda m: 0.0}}, "clashes with a column"),
        ({"eval_data": (torch.zeros(3, 5),)}, r"eval_data must be a pair"),
        ({"X": "wrong_width"}, "the model cannot be applied to X"),
    ],
)
def test_bad_input(binary, change, match):
    X, y = binary
    kwargs = {"loss": "logistic", "optimizer": "gd", "lr": 0.1, "steps": 3, "progress": False}
    change = dict(change)
    what_x, what_y = change.pop("X", None), change.pop("y", None)
    if what_x == "short":
        X = X[:-1]
    elif what_x == "nan":
        X = X.clone()
        X[2, 1] = float("nan")
    elif what_x == "wrong_width":
        X = torch.zeros(23, 4, dtype=F64)
    if what_y == "nan_regression":
        y = torch.randn(23, 1, dtype=F64)
        y[0, 0] = float("inf")
        kwargs["loss"] = "square"
    elif what_y == "regression":
        y = torch.randn(23, 1, dtype=F64)
    elif what_y == "zero_one":
        y = (y + 1) / 2
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        train.fit(models.mlp([5, 8, 1], seed=0, dtype=F64), X, y, **kwargs)
