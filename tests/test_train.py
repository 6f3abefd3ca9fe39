"""dltheory.train against independent computations: the closed forms and loops of
dltheory.linear, NumPy's lstsq, hand-written SGD and Adam loops, plain torch.optim loops,
autograd Jacobians, the hard-margin SVM by scipy's SLSQP, the Gibbs distribution of a
Gaussian target, and bounds.* on the final model; plus checkpoint resumption bit for bit
(optimizer, scheduler and callback state included), divergence and bad input."""

import functools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.optimize import minimize
from torch import nn

from dltheory import bounds, linear, losses, models, ntk, train
from dltheory.params import as_function

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


def gd_lr(X: torch.Tensor) -> float:
    """1 / largest eigenvalue of X^T X / n: a stable GD step for the square loss."""
    return X.shape[0] / torch.linalg.matrix_norm(X, ord=2).item() ** 2


def batches(n: int, batch: int, steps: int, seed: int):
    """The batches fit draws: consecutive slices of a fresh torch.randperm each epoch, from a seeded generator."""
    generator, t = torch.Generator().manual_seed(seed), 0
    while t < steps:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch):
            if t == steps:
                return
            yield order[start : start + batch]
            t += 1


class StopAt(train.Callback):
    """Interrupt a run after update ``step``, as a user's Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, info: train.StepInfo) -> None:
        if info.step == self.step:
            raise KeyboardInterrupt(f"interrupted after step {info.step}")


# --------------------------------------------------------------------------- gd


def test_gd_matches_linear_gradient_descent_step_for_step_and_reaches_min_norm(wide):
    lr = gd_lr(wide.X)
    reference = linear.gradient_descent(wide.X, wide.Y, torch.zeros(2, 30, dtype=F64), steps=20, lr=lr,
                                        record_every=1)
    model = linear_model(30, 2)
    seen = []
    history = train.fit(model, wide.X, wide.Y, loss="square", lr=lr, steps=20, record_every=1,
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
    train.fit(model, wide.X, wide.Y, loss="square", lr=lr, steps=400)
    torch.testing.assert_close(model.weight.detach(), linear.min_norm_solution(wide.X, wide.Y), rtol=1e-8, atol=1e-10)
    assert model.weight.grad is None  # fit leaves no gradients behind


def test_weight_decay_reaches_ridge_solution(wide):
    lam = 0.05
    model = linear_model(30, 2)
    lr = 1.0 / (1.0 / gd_lr(wide.X) + lam)
    history = train.fit(model, wide.X, wide.Y, loss="square", lr=lr, steps=600, weight_decay=lam)
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
        history = train.fit(model, X, y, loss="square", optimizer=optimizer, lr=lr, steps=5)
        assert torch.equal(model[2].weight, frozen)
        assert history["loss"][-1] < history["loss"][0]


# --------------------------------------------------------------------------- torch.optim


def test_sgd_preset_is_torch_optim_sgd_bit_for_bit(binary):
    """fit(optimizer="sgd") and a plain torch.optim.SGD loop on the same batches give identical parameters."""
    X, y = binary
    model, reference = models.mlp([5, 16, 1], seed=0, dtype=F64), models.mlp([5, 16, 1], seed=0, dtype=F64)
    train.fit(model, X, y, loss="logistic", optimizer="sgd", lr=0.2, steps=17, batch_size=5, seed=3,
              weight_decay=0.01)
    opt = torch.optim.SGD(reference.parameters(), lr=0.2, weight_decay=0.01)
    for idx in batches(23, 5, 17, seed=3):
        opt.zero_grad()
        losses.logistic(reference(X[idx]), y[idx]).backward()
        opt.step()
    assert_same_weights(model, reference)


def test_sgd_matches_a_hand_written_loop(wide):
    lr, batch, steps, seed = 0.3, 5, 8, 11  # n = 12: batches of 5, 5, 2 per epoch
    model = linear_model(30, 2)
    train.fit(model, wide.X, wide.Y, loss="square", optimizer="sgd", lr=lr, steps=steps, batch_size=batch, seed=seed)
    W = torch.zeros(2, 30, dtype=F64)
    for idx in batches(12, batch, steps, seed):
        Xb, Yb = wide.X[idx], wide.Y[idx]
        W = W - lr * (Xb @ W.T - Yb).T @ Xb / len(idx)
    torch.testing.assert_close(model.weight.detach(), W, rtol=1e-13, atol=1e-15)


def test_sgd_deterministic_per_seed_and_converges_on_interpolation(wide):
    def run(seed, steps=30):
        model = linear_model(30, 2)
        train.fit(model, wide.X, wide.Y, loss="square", optimizer="sgd", lr=0.5, steps=steps, batch_size=4, seed=seed)
        return model

    assert_same_weights(run(0), run(0))
    assert not torch.equal(run(0).weight, run(1).weight)
    model = run(0, steps=1800)
    torch.testing.assert_close(model.weight.detach(), linear.min_norm_solution(wide.X, wide.Y), rtol=1e-6, atol=1e-8)


def test_adam_is_the_documented_update_on_mini_batches_with_weight_decay(wide):
    """Adam's formula (Kingma & Ba; L2 decay in the gradient) in NumPy, on a linear model: same batches."""
    lr, batch, steps, seed, wd, (b1, b2), eps = 0.05, 5, 9, 4, 0.1, (0.8, 0.99), 1e-6
    model = linear_model(30, 2)
    adam = functools.partial(torch.optim.Adam, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    train.fit(model, wide.X, wide.Y, loss="square", optimizer=adam, steps=steps, batch_size=batch, seed=seed)
    X, Y = wide.X.numpy(), wide.Y.numpy()
    W, m, v = np.zeros((2, 30)), np.zeros((2, 30)), np.zeros((2, 30))
    for t, idx in enumerate(batches(12, batch, steps, seed), start=1):
        idx = idx.numpy()
        g = (X[idx] @ W.T - Y[idx]).T @ X[idx] / len(idx) + wd * W
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        W = W - lr / (1 - b1**t) * m / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(model.weight.detach().numpy(), W, rtol=1e-12, atol=1e-14)


def test_momentum_optimizer_instance_and_a_scheduler_equal_a_plain_loop(binary):
    """Any torch.optim optimizer and lr_scheduler work: fit is the loop a user would write."""
    X, y = binary
    model, reference = models.mlp([5, 16, 1], seed=0, dtype=F64), models.mlp([5, 16, 1], seed=0, dtype=F64)
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, nesterov=True)
    seen_lr = []
    history = train.fit(model, X, y, loss="logistic", optimizer=opt, steps=20, batch_size=7, seed=1,
                        scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=6, gamma=0.5),
                        callbacks=[lambda info: seen_lr.append(info.optimizer.param_groups[0]["lr"])])
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.3, momentum=0.9, nesterov=True)
    ref_sched = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=6, gamma=0.5)
    expected_lr = []
    for idx in batches(23, 7, 20, seed=1):
        ref_opt.zero_grad()
        losses.logistic(reference(X[idx]), y[idx]).backward()
        ref_opt.step()
        ref_sched.step()
        expected_lr.append(ref_opt.param_groups[0]["lr"])
    assert_same_weights(model, reference)
    assert seen_lr == expected_lr and seen_lr[-1] == 0.3 * 0.5**3
    assert history["loss"][-1] < history["loss"][0]


def test_adam_trains_a_small_regression():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(64, 2, generator=g, dtype=F64) * 2 - 1
    y = torch.sin(3 * X[:, 0]) * X[:, 1]
    model = models.mlp([2, 32, 1], seed=0, dtype=F64)
    history = train.fit(model, X, y, loss="square", optimizer="adam", lr=0.01, steps=400)
    assert history["loss"][-1] < 0.05 * history["loss"][0]


# --------------------------------------------------------------------------- callbacks


class CountChanges(train.Callback):
    """Counts the updates that changed the parameters, and adds the count as a column (a stateful callback)."""

    def __init__(self) -> None:
        self.count, self.steps, self.before = 0, [], None

    def on_step(self, info: train.StepInfo) -> None:
        self.steps.append(info.step)
        now = torch.nn.utils.parameters_to_vector(info.model.parameters()).detach().clone()
        if self.before is not None and not torch.equal(now, self.before):
            self.count += 1
        self.before = now

    def on_record(self, info: train.StepInfo, row: dict) -> None:
        row["changes"] = self.count

    def state_dict(self) -> dict:
        return {"count": self.count, "before": self.before}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.before = state["count"], state["before"]


def test_callbacks_see_each_update_its_batch_loss_and_gradient(binary):
    X, y = binary
    model = models.mlp([5, 8, 1], seed=0, dtype=F64)
    seen = []

    def look(info: train.StepInfo) -> None:
        grads = [p.grad.clone() for p in info.model.parameters()]
        seen.append((info.step, info.inputs.shape[0], info.loss.item(), grads))

    counter = CountChanges()
    history = train.fit(model, X, y, loss="logistic", optimizer="sgd", lr=0.1, steps=9, batch_size=10,
                        record_every=4, callbacks=[look, counter])
    assert [s for s, *_ in seen] == list(range(1, 10)) == counter.steps
    assert [b for _, b, *_ in seen] == [10, 10, 3] * 3
    # the loss and gradient of update 1 are those of the first batch at the initial weights
    first = models.mlp([5, 8, 1], seed=0, dtype=F64)
    idx = next(batches(23, 10, 1, seed=0))
    value = losses.logistic(first(X[idx]), y[idx])
    value.backward()
    assert seen[0][2] == value.item()
    for g, p in zip(seen[0][3], first.parameters(), strict=True):
        assert torch.equal(g, p.grad)
    assert history["changes"].tolist() == [0, 3, 7, 8]  # the first update has nothing to compare with


def test_record_at_log_spaced_steps(binary):
    X, y = binary
    steps = train.log_spaced_steps(300, per_decade=4)
    assert steps == [1, 2, 4, 7, 13, 24, 45, 84, 159, 300]
    model, reference = models.mlp([5, 8, 1], seed=0, dtype=F64), models.mlp([5, 8, 1], seed=0, dtype=F64)
    history = train.fit(model, X, y, loss="exp", optimizer="normalized_gd", lr=0.5, steps=300, record_at=steps)
    assert history["step"].tolist() == [0, *steps]
    train.fit(reference, X, y, loss="exp", optimizer="normalized_gd", lr=0.5, steps=300)
    assert_same_weights(model, reference)  # where it records does not change where it goes


# --------------------------------------------------------------------------- ggn


def test_one_ggn_step_on_a_linear_model_solves_least_squares(wide):
    X, y = wide.X, wide.Y[:, :1]
    model = linear_model(30, 1)
    train.fit(model, X, y, loss="square", optimizer=train.GramGaussNewton(model, lam=1.0, damping=0.0), steps=1)
    expected = np.linalg.lstsq(X.numpy(), y.numpy(), rcond=None)[0].T  # minimum-norm solution
    np.testing.assert_allclose(model.weight.detach().numpy(), expected, rtol=1e-9, atol=1e-12)
    # from anywhere, one step lands on the nearest interpolant: the GD limit
    W0 = torch.randn(1, 30, generator=torch.Generator().manual_seed(2), dtype=F64)
    model = linear_model(30, 1, W0)
    train.fit(model, X, y, loss="square", optimizer=train.GramGaussNewton(model, damping=0.0), steps=1)
    torch.testing.assert_close(model.weight.detach(), linear.gd_limit(X, y, W0), rtol=1e-9, atol=1e-12)
    # the default damping (1e-6 of the mean eigenvalue) is the same step to about six digits
    model = linear_model(30, 1)
    train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=1)
    np.testing.assert_allclose(model.weight.detach().numpy(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_ggn_step_is_the_formula_with_an_autograd_jacobian(activation):
    """tanh and an NTK-parametrised ReLU net (the structured kernel) against the materialised Jacobian."""
    g = torch.Generator().manual_seed(4)
    X, y = torch.randn(6, 3, generator=g, dtype=F64), torch.randn(6, 2, generator=g, dtype=F64)
    model = models.mlp([3, 7, 2], activation=activation, seed=1, dtype=F64,
                       **({"parametrization": "ntk", "bias_var": 0.1} if activation == "relu" else {}))
    w0 = flat(model)
    f = as_function(model)
    J = torch.autograd.functional.jacobian(lambda w: f(w, X).reshape(-1), w0)  # (12, P), example-major
    r = f(w0, X).reshape(-1) - y.reshape(-1)
    lam, alpha, lr = 2.0, 0.3, 0.5
    expected = w0 - lr * J.T @ torch.linalg.solve(lam * J @ J.T + alpha * torch.eye(12, dtype=F64), r)
    step = train.GramGaussNewton(model, lr=lr, lam=lam, damping=alpha)
    value = step.step(X, y)
    torch.testing.assert_close(flat(model), expected, rtol=1e-12, atol=1e-14)
    assert value.item() == pytest.approx(0.5 * r.pow(2).sum().item() / 6, rel=1e-14)


def test_ggn_trains_a_wide_net_in_a_few_steps_where_gd_does_not():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 5, generator=g, dtype=F64)
    y = torch.sin(X.sum(1, keepdim=True))
    model = models.mlp([5, 512, 1], parametrization="ntk", seed=0, dtype=F64)
    J = ntk.jacobian(model, X).reshape(20, -1)
    lr_gd = 1.0 / torch.linalg.eigvalsh(J @ J.T / 20)[-1].item()  # a stable GD step
    ggn = train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=10)
    assert ggn["loss"][-1] < 1e-8
    gd_model = models.mlp([5, 512, 1], parametrization="ntk", seed=0, dtype=F64)
    gd = train.fit(gd_model, X, y, loss="square", optimizer="gd", lr=lr_gd, steps=10)
    assert gd["loss"][-1] > 1e-2
    # mini-batch GGN still makes progress
    mb_model = models.mlp([5, 512, 1], parametrization="ntk", seed=0, dtype=F64)
    mb = train.fit(mb_model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=20, batch_size=5)
    assert mb["loss"][-1] < 0.1 * mb["loss"][0]


def test_singular_ggn_system_raises_naming_the_step(wide):
    X = torch.cat([wide.X, wide.X])  # repeated examples: J J^T is singular
    y = torch.cat([wide.Y[:, :1], wide.Y[:, :1]])
    model = linear_model(30, 1)
    with pytest.raises(FloatingPointError, match=r"step 1: ggn: the Gram matrix is singular"):
        train.fit(model, X, y, loss="square", optimizer=train.GramGaussNewton(model, damping=0.0), steps=1)


# --------------------------------------------------------------------------- sgld


def test_sgld_at_zero_temperature_is_sgd(binary):
    X, y = binary
    runs = []
    for optimizer in ("sgd", functools.partial(train.SGLD, lr=0.2, temperature=0.0)):
        model = models.mlp([5, 16, 1], seed=3, dtype=F64)
        h = train.fit(model, X, y, loss="logistic", optimizer=optimizer, steps=25, batch_size=6, seed=5,
                      **({"lr": 0.2} if optimizer == "sgd" else {}))
        runs.append((model, h))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_sgld_noise_has_variance_two_lr_temperature():
    P = 20_000
    X, y = torch.zeros(3, P, dtype=F64), torch.zeros(3, 1, dtype=F64)

    def zero_loss(out, target):  # a loss with zero gradient: the update is the noise alone
        return 0.0 * out.sum()

    lr, temperature = 0.01, 0.5
    sgld = functools.partial(train.SGLD, lr=lr, temperature=temperature, seed=7)

    def one_step(optimizer) -> np.ndarray:
        model = nn.Linear(P, 1, bias=False, dtype=F64)
        with torch.no_grad():
            model.weight.copy_(torch.linspace(-1, 1, P, dtype=F64))
        w0 = flat(model)
        train.fit(model, X, y, loss=zero_loss, optimizer=optimizer, steps=1)
        return (flat(model) - w0).numpy()

    step = one_step(sgld)
    scale = math.sqrt(2 * lr * temperature)
    assert abs(step.mean()) < 5 * scale / math.sqrt(P)
    assert step.var() == pytest.approx(2 * lr * temperature, rel=5 * math.sqrt(2 / P))
    assert stats.kstest(step / scale, "norm").pvalue > 1e-3
    # the noise is the seed's, drawn in the parameters' dtype on their device
    expected = scale * torch.randn(1, P, generator=torch.Generator().manual_seed(7), dtype=F64)
    np.testing.assert_allclose(step, expected.numpy().reshape(-1), rtol=1e-12, atol=1e-15)
    assert np.array_equal(one_step(sgld), step)
    other = one_step(functools.partial(train.SGLD, lr=lr, temperature=temperature, seed=8))
    assert abs(np.corrcoef(step, other)[0, 1]) < 0.05


def test_sgld_samples_the_gibbs_distribution_of_a_gaussian_target():
    """U(w) = a/2 |w - mu|^2 at temperature T: the chain is Gaussian with mean mu and variance
    T / (a (1 - lr a / 2)), the Gibbs variance T / a up to the discretisation factor. Checked on
    4000 independent chains (the coordinates of one parameter) within Monte Carlo error."""
    chains, a, mu, T, lr = 4000, 2.0, 1.5, 0.3, 0.05
    w = nn.Parameter(torch.zeros(chains, dtype=F64))
    opt = train.SGLD([w], lr=lr, temperature=T, seed=0)
    assert isinstance(opt, torch.optim.Optimizer)  # usable in any PyTorch loop, as here
    for _ in range(400):  # burn-in: (1 - lr a)^400 ~ 1e-18
        opt.zero_grad()
        (0.5 * a * (w - mu).pow(2).sum()).backward()
        opt.step()
    samples = []
    for t in range(400):
        opt.zero_grad()
        (0.5 * a * (w - mu).pow(2).sum()).backward()
        opt.step()
        if t % 20 == 0:  # autocorrelation (1 - lr a)^20 = 0.12: nearly independent draws
            samples.append(w.detach().clone())
    S = torch.stack(samples).numpy()
    var = T / (a * (1 - lr * a / 2))
    m = S.size / 2  # 20 nearly independent draws of 4000 independent chains; halved to be safe
    assert abs(S.mean() - mu) < 5 * math.sqrt(var / m)
    assert S.var() == pytest.approx(var, rel=5 * math.sqrt(2 / m))
    assert S.var() != pytest.approx(T / a, rel=5 * math.sqrt(2 / m))  # the discretisation bias is seen


def test_sgld_state_dict_resumes_the_noise():
    w = nn.Parameter(torch.zeros(50))  # float32: the noise follows the parameter's dtype
    opt = train.SGLD([w], lr=0.1, temperature=1.0, seed=3)

    def steps(optimizer, k):
        for _ in range(k):
            optimizer.zero_grad()
            w.sum().mul(0.0).backward()
            optimizer.step()
        return w.detach().clone()

    steps(opt, 3)
    state = {k: v for k, v in opt.state_dict().items()}
    saved_w = w.detach().clone()
    after = steps(opt, 4)
    with torch.no_grad():
        w.copy_(saved_w)
    again = train.SGLD([w], lr=0.1, temperature=1.0, seed=99)
    again.load_state_dict(state)
    assert torch.equal(steps(again, 4), after) and w.dtype == torch.float32


# --------------------------------------------------------------------------- normalized gd


def test_normalized_gd_finds_the_svm_direction_much_faster_than_gd():
    X, y = separable()
    u = svm_direction(X, y)
    angles = {}
    for optimizer in ("normalized_gd", "gd"):
        model = linear_model(5)
        train.fit(model, X, y, loss="exp", optimizer=optimizer, lr=1.0, steps=1000)
        angles[optimizer] = angle_degrees(model.weight, u)
    assert angles["normalized_gd"] < 1.0
    assert angles["gd"] > 10 * angles["normalized_gd"]
    model = linear_model(5)
    train.fit(model, X, y, loss="logistic", optimizer="normalized_gd", lr=1.0, steps=1000)
    assert angle_degrees(model.weight, u) < 1.0


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_normalized_gd_step_is_gradient_over_loss(loss):
    X, y = separable(n=20, seed=2)
    W0 = 0.3 * torch.randn(1, 5, generator=torch.Generator().manual_seed(0), dtype=F64)
    W = W0.clone().requires_grad_(True)
    L = losses.LOSSES[loss](X @ W.T, y)
    (grad,) = torch.autograd.grad(L, W)
    model = linear_model(5, W0=W0)
    train.fit(model, X, y, loss=loss, optimizer="normalized_gd", lr=0.7, steps=1)
    torch.testing.assert_close(model.weight.detach(), W0 - 0.7 * grad / L.detach(), rtol=1e-12, atol=1e-14)
    # with weight decay: grad F / F for F = L + wd/2 ||w||^2
    wd = 0.1
    F_ = L.detach() + 0.5 * wd * W0.pow(2).sum()
    model = linear_model(5, W0=W0)
    train.fit(model, X, y, loss=loss, optimizer="normalized_gd", lr=0.7, steps=1, weight_decay=wd)
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
    history = train.fit(model, X, y, loss=loss, optimizer="normalized_gd", lr=1.0, steps=20)
    assert (history["loss"] == 0.0).all()  # reported honestly as the float it is
    assert history["margin_min"].min() > 100
    after = flat(model)
    assert torch.isfinite(after).all()
    move = (after - before).norm().item()
    assert 1.0 < move <= 20 * X.norm(dim=1).max().item() * (1 + 1e-5)
    # plain gd: the gradient underflows to (nearly) zero, which is not an error
    model = linear_model(5, W0=W0.to(dtype), dtype=dtype)
    train.fit(model, X, y, loss=loss, optimizer="gd", lr=1.0, steps=3)
    assert torch.isfinite(flat(model)).all()


# --------------------------------------------------------------------------- History


def test_history_columns_and_values(binary):
    X, y = binary
    Xe, ye = X[:7] + 0.1, y[:7]
    model = models.mlp([5, 16, 8, 1], bias=False, seed=0, dtype=F64)
    w0 = flat(model)

    def weight_sum(m):
        return flat(m).sum().item()

    history = train.fit(model, X, y, loss="logistic", lr=0.1, steps=23, record_every=5, eval_data=(Xe, ye),
                        metrics=[weight_sum, lambda m: 1.5])
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
    h = train.fit(model, X, labels, loss="ce", lr=0.5, steps=50)
    with torch.no_grad():
        acc = (model(X).argmax(1) == labels).double().mean().item()
    assert h.last["train_accuracy"] == acc and h["train_accuracy"][-1] > h["train_accuracy"][0]
    assert h.last["margin_min"] == bounds.margins(model, X, labels).min().item()
    onehot = torch.nn.functional.one_hot(labels, 3).to(F64)
    model = models.mlp([4, 16, 3], seed=0, dtype=F64)
    h = train.fit(model, X, onehot, loss="square", lr=0.5, steps=50)
    with torch.no_grad():
        acc = (model(X).argmax(1) == labels).double().mean().item()
    assert h.last["train_accuracy"] == acc
    assert h.last["margin_min"] == bounds.margins(model, X, labels).min().item()
    # ties are errors, as a zero margin is: a zero model classifies nothing correctly
    for target, loss in ((labels, "ce"), (torch.sign(X[:, 0]), "logistic")):
        k = 3 if loss == "ce" else 1
        h = train.fit(linear_model(4, k), X, target, loss=loss, lr=0.1, steps=1)
        assert h["train_accuracy"][0] == 0.0 and h["margin_min"][0] == 0.0


def test_integer_labels_of_any_dtype_train_with_cross_entropy():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, generator=g, dtype=F64)
    labels = X[:, :3].argmax(dim=1)
    runs = []
    for dtype in (torch.int64, torch.int32, torch.uint8):
        model = models.mlp([4, 8, 3], seed=0, dtype=F64)
        runs.append((model, train.fit(model, X, labels.to(dtype), loss="ce", lr=0.5, steps=5)))
    for model, history in runs[1:]:
        assert_same_weights(model, runs[0][0])
        assert history == runs[0][1]


def test_default_record_points_and_steps_zero(wide):
    h = train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", lr=0.1, steps=1000)
    assert len(h) == 101 and h["step"][-1] == 1000
    h = train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", lr=0.1, steps=7, record_every=3)
    assert h["step"].tolist() == [0, 3, 6, 7]
    model = linear_model(30, 2)
    h = train.fit(model, wide.X, wide.Y, loss="square", lr=0.1, steps=0)
    assert h["step"].tolist() == [0] and torch.equal(model.weight, torch.zeros(2, 30, dtype=F64))


def test_recording_does_not_change_the_trajectory(binary):
    X, y = binary
    finals = []
    for every in (1, None):
        model = models.mlp([5, 16, 1], seed=0, dtype=F64)
        train.fit(model, X, y, loss="logistic", optimizer="sgld", lr=0.1, steps=30, batch_size=4,
                  record_every=every, metrics={"norm": lambda m: flat(m).norm().item()}, eval_data=(X, y))
        finals.append(model)
    assert_same_weights(*finals)


def test_follows_the_model_dtype_and_accepts_arrays(binary):
    X, y = binary
    model = models.mlp([5, 8, 1], seed=0)  # float32
    h = train.fit(model, X.numpy(), y.numpy(), loss="logistic", lr=0.1, steps=5)
    assert model[0].weight.dtype == torch.float32 and np.isfinite(h["loss"]).all()
    reference = models.mlp([5, 8, 1], seed=0)
    train.fit(reference, X.float(), y.float(), loss="logistic", lr=0.1, steps=5)
    assert_same_weights(model, reference)


def test_checking_the_targets_leaves_batch_norm_statistics_alone(binary):
    """The shape probe and the records run the model in eval mode: a BatchNorm's running statistics
    move only with the training steps."""
    X, y = binary
    model = nn.Sequential(nn.Linear(5, 8, dtype=F64), nn.BatchNorm1d(8, dtype=F64), nn.ReLU(),
                          nn.Linear(8, 1, dtype=F64))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = train.fit(model, X, y, loss="logistic", lr=0.1, steps=0, eval_data=(X[:4], y[:4]))
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model.training and "rho" not in history.columns  # not a dense chain: no layer norms
    train.fit(model, X, y, loss="logistic", lr=0.1, steps=3, record_every=1)
    assert int(model[1].num_batches_tracked) == 3  # one update of the statistics per step, no more


# --------------------------------------------------------------------------- divergence


@pytest.mark.parametrize("optimizer", ["gd", "sgd"])
def test_huge_step_raises_naming_the_steps(wide, optimizer):
    kwargs = {"batch_size": 4} if optimizer == "sgd" else {}
    with pytest.raises(FloatingPointError,
                       match=rf"{optimizer} diverged between step \d+ and step \d+ with lr=1e\+06"):
        train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", optimizer=optimizer, lr=1e6, steps=500,
                  **kwargs)
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+ with lr=1e\+06"):
        train.fit(linear_model(30, 2), wide.X, wide.Y, loss="square", optimizer=optimizer, lr=1e6, steps=500,
                  record_every=1, **kwargs)


# --------------------------------------------------------------------------- checkpoints


RUNS = {
    "gd": {"optimizer": "gd", "lr": 0.1},
    "sgd": {"optimizer": "sgd", "lr": 0.1, "batch_size": 5},
    "sgld": {"optimizer": "sgld", "lr": 0.1, "batch_size": 5},
    "adam": {"optimizer": "adam", "lr": 0.1, "batch_size": 5},
    "adam_full": {"optimizer": "adam", "lr": 0.1},
    "ggn": {"optimizer": "ggn", "lr": 0.5, "batch_size": 5, "loss": "square"},
    "momentum+schedule+callback": {
        "optimizer": functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), "batch_size": 5,
        "scheduler": functools.partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.97),
        "callbacks": [CountChanges()]},
    "sgld+schedule": {"optimizer": functools.partial(train.SGLD, lr=0.1, temperature=1e-2, seed=4), "batch_size": 5,
                      "scheduler": functools.partial(torch.optim.lr_scheduler.StepLR, step_size=7, gamma=0.5)},
}


def _run(binary, which, callbacks=(), **kwargs):
    X, y = binary
    model = models.mlp([5, 16, 1], seed=0, dtype=F64)
    options = dict(RUNS[which])
    options.setdefault("loss", "logistic")
    options["callbacks"] = [*(type(cb)() for cb in options.get("callbacks", ())), *callbacks]
    history = train.fit(model, X, y, steps=40, record_every=3, seed=2, **options, **kwargs)
    return model, history


@pytest.mark.parametrize("which", list(RUNS))
def test_interrupted_and_resumed_equals_uninterrupted(binary, tmp_path, which):
    reference_model, reference = _run(binary, which)
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        _run(binary, which, callbacks=[StopAt(17)], checkpoint=path, checkpoint_every=5)
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 15 and not saved["finished"]
    if which.startswith("adam"):  # the moment estimates travel with the checkpoint
        shapes = [tuple(p.shape) for p in reference_model.parameters()]
        state = saved["states"]["optimizer"]["state"]
        assert [tuple(state[i]["exp_avg"].shape) for i in range(len(shapes))] == shapes
        assert all(state[i]["exp_avg_sq"].abs().sum() > 0 for i in range(len(shapes)))
    if "sgld" in which:
        assert saved["states"]["optimizer"]["noise"]  # the noise generator's state
    model, history = _run(binary, which, callbacks=[StopAt(10**6)], checkpoint=path, checkpoint_every=5)
    assert_same_weights(model, reference_model)
    assert history.to_json() == reference.to_json()
    assert torch.load(path, weights_only=True)["finished"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary file left behind


def test_interrupted_by_a_metric_resumes_bit_identically(binary, tmp_path):
    """A KeyboardInterrupt raised mid-run (here from a metric at step 9) loses only the steps
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
              checkpoint=path2)
    n_calls = len(calls)
    other = models.mlp([5, 16, 1], seed=9, dtype=F64)  # different weights: the checkpoint's are loaded
    train.fit(other, X, y, loss="logistic", lr=0.1, steps=10, metrics={"c": lambda m: calls.append(1) or 0.0},
              checkpoint=path2)
    assert len(calls) == n_calls
    assert_same_weights(other, counting)


def test_checkpoint_of_another_run_is_refused(binary, tmp_path):
    path = tmp_path / "run.pt"
    _run(binary, "sgd", checkpoint=path)
    X, y = binary

    def again(**change):
        options = {"loss": "logistic", "optimizer": "sgd", "lr": 0.1, "steps": 40, "record_every": 3, "seed": 2,
                   "batch_size": 5, "checkpoint": path, **change}
        model = options.pop("model", models.mlp([5, 16, 1], seed=0, dtype=F64))
        train.fit(model, options.pop("X", X), y, **options)

    with pytest.raises(ValueError, match=r"different run.*optimizer\.groups\.0\.lr: checkpoint has 0\.1, "
                                         r"this call has 0\.2"):
        again(lr=0.2)
    with pytest.raises(ValueError, match="data: checkpoint has"):
        again(X=X + 1)
    with pytest.raises(ValueError, match="preset: checkpoint has 'sgd', this call has 'gd'"):
        again(optimizer="gd", batch_size=None)
    with pytest.raises(ValueError, match="optimizer.groups.0.momentum: checkpoint has 0, this call has 0.9"):
        again(optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), lr=None)
    with pytest.raises(ValueError, match=r"scheduler: checkpoint has None, this call has \{'class': "
                                         r"'torch.optim.lr_scheduler.StepLR'"):
        again(scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=5))
    with pytest.raises(ValueError, match="parameters: checkpoint has"):
        again(model=models.mlp([5, 8, 1], seed=0, dtype=F64))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        _run(binary, "gd", checkpoint=tmp_path / "junk.pt")
    torch.save({"format": "dltheory.train.fit/1"}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="not a checkpoint of this version"):
        _run(binary, "gd", checkpoint=tmp_path / "old.pt")


def test_checkpoint_write_is_atomic(binary, tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        _run(binary, "sgd", callbacks=[StopAt(12)], checkpoint=path, checkpoint_every=5)
    good = path.read_bytes()
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        _run(binary, "sgd", callbacks=[StopAt(17)], checkpoint=path, checkpoint_every=5)  # resumes at 10, saves at 15
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == good  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


# --------------------------------------------------------------------------- bad input


class NotAnOptimizer:
    pass


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"X": "short"}, ValueError, "X has 22 examples but y has 23"),
        ({"X": "nan"}, ValueError, "X contains NaN or inf"),
        ({"y": "nan_regression"}, ValueError, "y contains NaN or inf"),
        ({"X": "strings"}, TypeError, "X must be a tensor or an array of numbers"),
        ({"steps": -1}, ValueError, "steps must be a non-negative integer, got -1"),
        ({"steps": 2.5}, TypeError, "steps must be a non-negative integer, got 2.5"),
        ({"steps": True}, TypeError, "steps must be a non-negative integer, got True"),
        ({"lr": 0.0}, ValueError, "lr must be a positive number, got 0.0"),
        ({"lr": -1.0}, ValueError, "lr must be a positive number, got -1.0"),
        ({"lr": "0.1"}, TypeError, "lr must be a positive number, got '0.1'"),
        ({"lr": None}, ValueError, "the preset 'gd' needs a step size"),
        ({"optimizer": "adamw"}, ValueError, r"unknown optimizer 'adamw'; choose one of \['gd', 'sgd'"),
        ({"optimizer": 3}, TypeError, "optimizer must be one of"),
        ({"optimizer": lambda params: NotAnOptimizer()}, TypeError, "factory returned a NotAnOptimizer"),
        ({"optimizer": functools.partial(torch.optim.SGD, lr=0.1)}, ValueError, "lr and weight_decay go with a preset"),
        ({"optimizer": "foreign"}, ValueError, "tensors that are not parameters of the model"),
        ({"optimizer": "sgd", "batch_size": 0}, ValueError, r"batch_size must be an integer in \[1, 23\] or None"),
        ({"optimizer": "sgd", "batch_size": 24}, ValueError, r"batch_size must be an integer in \[1, 23\] or None"),
        ({"optimizer": "sgd"}, ValueError, "sgd needs a batch_size"),
        ({"batch_size": 5}, ValueError, "gd is full batch"),
        ({"optimizer": "ggn"}, ValueError, "ggn .* needs the square loss"),
        ({"optimizer": "ggn", "loss": "square", "y": "regression", "weight_decay": 0.1}, ValueError,
         "does not take weight_decay"),
        ({"optimizer": "ggn", "loss": "square", "y": "regression", "scheduler": "step"}, ValueError,
         "a learning-rate scheduler needs a torch.optim.Optimizer"),
        ({"optimizer": "normalized_gd", "loss": "hinge"}, ValueError, "normalized_gd needs the 'exp' or 'logistic'"),
        ({"loss": "nope"}, ValueError, "unknown loss 'nope'"),
        ({"loss": 3}, TypeError, "loss must be a name"),
        ({"optimizer": "sgld", "batch_size": 5, "weight_decay": -0.1}, ValueError,
         "weight_decay must be a non-negative number"),
        ({"y": "zero_one"}, ValueError, r"logistic loss needs labels in \{-1, \+1\} \(for 0/1 labels use 2 \* y - 1\)"),
        ({"checkpoint_every": 5}, ValueError, "checkpoint_every was given without a checkpoint"),
        ({"record_every": 0}, ValueError, "record_every must be a positive integer or None, got 0"),
        ({"record_every": 2, "record_at": [1]}, ValueError, "give record_every or record_at, not both"),
        ({"record_at": [4]}, ValueError, r"a step of record_at must be an integer in \[0, 3\], got 4"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer below 2\\*\\*63, got -1"),
        ({"seed": "a"}, TypeError, "seed must be a non-negative integer below 2\\*\\*63, got 'a'"),
        ({"metrics": [1.0]}, TypeError, "is not callable"),
        ({"metrics": {"loss": lambda m: 0.0}}, ValueError, "clashes with a column"),
        ({"callbacks": [1]}, TypeError, "a callback must be a dltheory.train.Callback"),
        ({"scheduler": 0.5}, TypeError, "scheduler must be a torch.optim.lr_scheduler.LRScheduler"),
        ({"scheduler": "foreign"}, ValueError, "the scheduler does not drive this run's optimizer"),
        ({"eval_data": (torch.zeros(3, 5),)}, ValueError, r"eval_data must be a pair"),
        ({"X": "wrong_width"}, ValueError, "the model cannot be applied to X"),
    ],
)
def test_bad_input(binary, change, error, match):
    X, y = binary
    model = models.mlp([5, 8, 1], seed=0, dtype=F64)
    kwargs = {"loss": "logistic", "optimizer": "gd", "lr": 0.1, "steps": 3}
    change = dict(change)
    what_x, what_y = change.pop("X", None), change.pop("y", None)
    if what_x == "short":
        X = X[:-1]
    elif what_x == "nan":
        X = X.clone()
        X[2, 1] = float("nan")
    elif what_x == "wrong_width":
        X = torch.zeros(23, 4, dtype=F64)
    elif what_x == "strings":
        X = {"not": "data"}
    if what_y == "nan_regression":
        y = torch.randn(23, 1, dtype=F64)
        y[0, 0] = float("inf")
        kwargs["loss"] = "square"
    elif what_y == "regression":
        y = torch.randn(23, 1, dtype=F64)
    elif what_y == "zero_one":
        y = (y + 1) / 2
    if change.get("optimizer") == "foreign":
        change["optimizer"], change["lr"] = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), None
    if change.get("scheduler") == "step":
        change["scheduler"] = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2)
    elif change.get("scheduler") == "foreign":
        other = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
        change["scheduler"] = torch.optim.lr_scheduler.StepLR(other, step_size=2)
    if callable(change.get("optimizer")) and not isinstance(change["optimizer"], functools.partial):
        change["lr"] = None
    kwargs.update(change)
    with pytest.raises(error, match=match):
        train.fit(model, X, y, **kwargs)



class LossBelow:
    """A stopping rule: the recorded training loss is below ``level``."""

    def __init__(self, level: float) -> None:
        self.level = level

    def __call__(self, row) -> bool:
        return row["loss"] < self.level


def test_stop_when_ends_the_run_at_the_first_record_where_it_holds(binary):
    X, y = binary
    _, full = _run(binary, "sgd")
    losses = list(full["loss"])
    level = losses[5] * (1 + 1e-9)  # first met at the sixth record, step 15, if the loss keeps falling
    first = next(i for i, value in enumerate(losses) if value < level)
    assert 0 < first < len(losses) - 1
    stopped_model, stopped = _run(binary, "sgd", stop_when=LossBelow(level))
    assert list(stopped["step"]) == list(full["step"])[: first + 1]
    assert list(stopped["loss"]) == losses[: first + 1]
    # the model is that of a run of exactly that many steps
    model = models.mlp([5, 16, 1], seed=0, dtype=F64)
    train.fit(model, X, y, loss="logistic", steps=int(stopped["step"][-1]), seed=2, **RUNS["sgd"])
    assert_same_weights(stopped_model, model)


def test_stop_when_true_at_initialisation_trains_nothing(binary):
    model, history = _run(binary, "sgd", stop_when=lambda row: True)
    assert list(history["step"]) == [0]
    assert_same_weights(model, models.mlp([5, 16, 1], seed=0, dtype=F64))


def test_stopped_run_checkpoint_is_finished_and_returns_at_once(binary, tmp_path):
    _, full = _run(binary, "sgd")
    rule = LossBelow(full["loss"][5] * (1 + 1e-9))
    path = tmp_path / "run.pt"
    model, history = _run(binary, "sgd", stop_when=rule, checkpoint=path)
    saved = torch.load(path, weights_only=True)
    assert saved["finished"] and saved["step"] == int(history["step"][-1]) < 40
    again, resumed = _run(binary, "sgd", stop_when=rule, checkpoint=path)
    assert resumed == history
    assert_same_weights(again, model)
    with pytest.raises(ValueError, match="stop_when"):  # without the rule it is another run
        _run(binary, "sgd", checkpoint=path)


def test_stop_when_must_be_callable(binary):
    with pytest.raises(TypeError, match="stop_when must be a function"):
        _run(binary, "sgd", stop_when=0.5)
