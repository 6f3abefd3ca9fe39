"""dltheory.losses against hand computations in NumPy, at extreme margins, and the
target checks."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory import losses, models, train

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


@pytest.fixture
def binary():
    f = np.array([0.3, -1.2, 2.0, 0.0])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    return f, y


def test_square_by_hand():
    f = np.array([[0.5, -1.0], [2.0, 0.0], [1.5, 1.5]])
    y = np.array([[0.0, -1.0], [1.0, 1.0], [-0.5, 1.5]])
    # (1/n) sum_i 1/2 ||f_i - y_i||^2 = (1/3) * 1/2 * (0.25 + 0 + 1 + 1 + 4 + 0)
    assert losses.square(torch.tensor(f), torch.tensor(y)).item() == pytest.approx(6.25 / 6, rel=1e-15)
    # targets are reshaped to the outputs: one output per example as (n,) or (n, 1)
    out = torch.tensor([[1.0], [2.0]], dtype=F64)
    assert losses.square(out, torch.tensor([0.0, 0.0], dtype=F64)).item() == pytest.approx(1.25)


def test_binary_losses_by_hand(binary):
    f, y = binary
    m = y * f
    expected = {
        "logistic": np.mean(np.log1p(np.exp(-m))),
        "exp": np.mean(np.exp(-m)),
        "hinge": np.mean(np.maximum(0.0, 1.0 - m)),
    }
    for name, value in expected.items():
        for shape in ((4,), (4, 1)):  # one output per example, flat or as a column
            got = losses.LOSSES[name](torch.tensor(f).reshape(shape), torch.tensor(y))
            assert got.ndim == 0 and got.item() == pytest.approx(value, rel=1e-14), name
    assert expected["hinge"] == pytest.approx((0.7 + 2.2 + 3.0 + 1.0) / 4)


def test_cross_entropy_by_hand():
    f = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0]])
    y = np.array([1, 2, 0])
    log_softmax = f - np.log(np.exp(f).sum(axis=1, keepdims=True))
    expected = -np.mean(log_softmax[np.arange(3), y])
    assert losses.ce(torch.tensor(f), torch.tensor(y)).item() == pytest.approx(expected, rel=1e-14)
    assert losses.ce(torch.zeros(5, 4, dtype=F64), torch.tensor([0, 1, 2, 3, 0])).item() == pytest.approx(math.log(4))


def test_logistic_is_stable_at_extreme_margins():
    f = torch.tensor([1000.0, -1000.0, 0.0], dtype=F64, requires_grad=True)
    y = torch.ones(3, dtype=F64)
    per_example = [losses.logistic(f[i : i + 1], y[i : i + 1]) for i in range(3)]
    assert per_example[0].item() == pytest.approx(0.0, abs=1e-300)
    assert per_example[1].item() == pytest.approx(1000.0, rel=1e-15)
    assert per_example[2].item() == pytest.approx(math.log(2), rel=1e-15)
    total = losses.logistic(f, y)
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(f.grad).all()
    # d/df softplus(-f) / 3 = -sigmoid(-f) / 3
    torch.testing.assert_close(f.grad, torch.tensor([0.0, -1 / 3, -1 / 6], dtype=F64))
    for dtype in (torch.float32, F64):
        value = losses.logistic(torch.tensor([-1000.0, 1000.0], dtype=dtype), torch.tensor([1.0, 1.0]))
        assert torch.isfinite(value) and value.item() == pytest.approx(500.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=6), st.data())
def test_logistic_equals_log1p_exp(margins, data):
    f = np.array(margins)
    y = np.array(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(f), max_size=len(f))))
    got = losses.logistic(torch.tensor(f), torch.tensor(y)).item()
    # not to float64 precision: F.softplus returns x itself above its threshold x > 20,
    # dropping log1p(exp(-x)) < e^-20 = 2e-9
    assert got == pytest.approx(np.mean(np.log1p(np.exp(-y * f))), rel=1e-12, abs=3e-9)


def test_resolve():
    assert losses.resolve("ce") is losses.ce
    assert set(losses.LOSSES) == {"square", "logistic", "exp", "hinge", "ce"}

    def mine(outputs, targets):
        return outputs.sum()

    assert losses.resolve(mine) is mine
    with pytest.raises(ValueError, match=r"unknown loss 'mse'; use one of \['ce', 'exp', 'hinge', 'logistic', 'square'\]"):
        losses.resolve("mse")
    for bad in (3, None, ["ce"]):
        with pytest.raises(TypeError, match=r"^loss must be a name in \['ce', 'exp', 'hinge', 'logistic', 'square'\] "
                                            rf"or a callable\(outputs, targets\), got {type(bad).__name__}$"):
            losses.resolve(bad)


def test_name_of():
    for name, fn in losses.LOSSES.items():
        assert losses.name_of(name) == name and losses.name_of(fn) == name
    assert losses.name_of(lambda outputs, targets: outputs.sum()) is None
    assert losses.name_of(losses.log_loss("exp")) is None  # log L is not one of the losses


def test_name_of_an_unknown_name_is_none():
    assert losses.name_of("mse") is None


# --------------------------------------------------------------------------- class indices of any integer dtype


CE_OUTPUTS = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0], [0.3, -0.2, 0.9]])
CE_LABELS = [1, 2, 0, 2]


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8, torch.uint8])
def test_cross_entropy_takes_class_indices_of_any_integer_dtype(dtype):
    outputs = torch.tensor(CE_OUTPUTS, requires_grad=True)
    reference = losses.ce(outputs, torch.tensor(CE_LABELS, dtype=torch.int64))
    labels = torch.tensor(CE_LABELS, dtype=dtype)
    losses.check_targets("ce", outputs, labels)  # accepted
    value = losses.ce(outputs, labels)
    assert value.item() == reference.item()
    (g,) = torch.autograd.grad(value, outputs)
    (g64,) = torch.autograd.grad(reference, outputs)
    assert torch.equal(g, g64)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_check_targets_bounds_class_indices_of_any_integer_dtype(dtype):
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\]"):
        losses.check_targets("ce", torch.zeros(4, 3), torch.tensor([0, 1, 3, 2], dtype=dtype))
    if dtype.is_signed:
        with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\]"):
            losses.check_targets("ce", torch.zeros(4, 3), torch.tensor([0, -1, 1, 2], dtype=dtype))


def test_boolean_labels_are_not_class_indices():
    with pytest.raises(ValueError, match=r"^ce loss needs integer class indices of shape \(n,\)"):
        losses.check_targets("ce", torch.zeros(4, 2), torch.tensor([True, False, True, False]))


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8])
def test_fit_trains_with_narrow_integer_labels(dtype):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, dtype=F64, generator=g)
    y = X[:, :3].argmax(dim=1)

    def run(labels):
        model = models.mlp([4, 8, 3], seed=0, dtype=F64)
        return model, train.fit(model, X, labels, loss="ce", lr=0.5, steps=30, record_every=10, progress=False)

    model, history = run(y.to(dtype))
    reference_model, reference = run(y)
    assert history["loss"][-1] < 0.8 * history["loss"][0]  # it trained
    assert history["loss"].tolist() == reference["loss"].tolist()  # exactly as with int64 labels
    assert history["train_accuracy"].tolist() == reference["train_accuracy"].tolist()
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), reference_model.parameters(), strict=True))


# --------------------------------------------------------------------------- log L


def test_log_logistic_is_accurate():
    m = torch.tensor([-40.0, -3.0, 0.0, 2.0, 19.9, 20.1, 35.0, 700.0, 1e5], dtype=F64)
    expected = [math.log(math.log1p(math.exp(-v))) if v < 700 else -v for v in m.tolist()]
    np.testing.assert_allclose(losses.log_logistic(m).numpy(), expected, rtol=1e-13)


def test_log_logistic_is_accurate_just_below_minus_20():
    m = torch.tensor([-20.5, -21.0, -22.0, -25.0], dtype=F64)
    expected = [math.log(math.log1p(math.exp(-v))) for v in m.tolist()]
    np.testing.assert_allclose(losses.log_logistic(m).numpy(), expected, rtol=1e-14)


def test_log_logistic_has_finite_gradients_everywhere():
    m = torch.tensor([-1e3, -40.0, 0.0, 19.9, 20.0, 20.1, 40.0, 1e3, 1e5], dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(losses.log_logistic(m).sum(), m)
    assert torch.isfinite(g).all()
    # d/dm log log(1 + e^-m) = -sigmoid(-m) / log(1 + e^-m), which tends to -1 for large m
    small = m.detach()[:4]
    expected = -torch.sigmoid(-small) / torch.nn.functional.softplus(-small)
    torch.testing.assert_close(g[:4], expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g[-3:], -torch.ones(3, dtype=F64), rtol=1e-12, atol=0)


def random_margins(n, scale, seed):
    g = torch.Generator().manual_seed(seed)
    f = scale * torch.randn(n, dtype=F64, generator=g)
    y = torch.where(torch.rand(n, dtype=F64, generator=g) < 0.5, -1.0, 1.0).to(F64)
    return f, y


@pytest.mark.parametrize("name", ["exp", "logistic"])
@pytest.mark.parametrize("seed, scale", [(0, 0.5), (1, 3.0), (2, 6.0)])  # margins in about (-20, 20)
def test_log_loss_is_the_log_of_the_loss_where_it_is_finite(name, seed, scale):
    f, y = random_margins(40, scale, seed)
    L = losses.LOSSES[name](f, y)
    assert 0 < L.item() < math.inf
    log_L = losses.log_loss(name)(f, y)
    assert log_L.ndim == 0 and log_L.dtype == F64
    assert log_L.item() == pytest.approx(math.log(L.item()), rel=1e-12, abs=1e-12)
    for shape in ((40, 1),):  # one output per example as a column too
        assert losses.log_loss(name)(f.reshape(shape), y).item() == log_L.item()


@pytest.mark.parametrize("name", ["exp", "logistic"])
def test_log_loss_is_the_log_of_the_loss_on_a_grid_of_margins(name):
    """Margins from -35 to 35, across the switch points of both branches (+-20)."""
    m = torch.linspace(-35, 35, 141, dtype=F64)
    y = torch.where(torch.arange(141) % 2 == 0, 1.0, -1.0).to(F64)
    for chosen in (m[m < -15], m[(m > -21) & (m < -19)], m[m > 15], m):
        f = y[: len(chosen)] * chosen
        L = losses.LOSSES[name](f, y[: len(chosen)])
        fa = f.clone().requires_grad_(True)
        (grad_L,) = torch.autograd.grad(losses.LOSSES[name](fa, y[: len(chosen)]), fa)
        fb = f.clone().requires_grad_(True)
        log_L = losses.log_loss(name)(fb, y[: len(chosen)])
        (grad_log,) = torch.autograd.grad(log_L, fb)
        assert log_L.item() == pytest.approx(math.log(L.item()), rel=1e-13, abs=1e-13)
        torch.testing.assert_close(grad_log, grad_L / L.detach(), rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize("name", ["exp", "logistic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_loss_stays_finite_and_accurate_where_the_loss_underflows(name, seed):
    g = torch.Generator().manual_seed(seed)
    m = 1e3 * (1 + torch.rand(25, dtype=F64, generator=g))  # margins 1000 to 2000: e^-m underflows
    y = torch.where(torch.rand(25, dtype=F64, generator=g) < 0.5, -1.0, 1.0).to(F64)
    f = y * m
    assert losses.LOSSES[name](f, y).item() == 0.0  # the loss itself is lost
    m_min = m.min()
    # log((1/n) sum exp(-m)) = -m_min - log n + log sum exp(-(m - m_min)); log(1 + e^-m) = e^-m to rounding here
    closed = (-m_min - math.log(25) + torch.log(torch.exp(-(m - m_min)).sum())).item()
    value = losses.log_loss(name)(f, y)
    assert math.isfinite(value.item())
    assert value.item() == pytest.approx(closed, rel=1e-14)
    fr = f.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(losses.log_loss(name)(fr, y), fr)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # normalised gradient: -y_i softmax(-m)_i, which sums to one in absolute value
    torch.testing.assert_close(grad, -y * torch.softmax(-m, dim=0), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", ["exp", "logistic"])
@pytest.mark.parametrize("seed, scale", [(0, 0.5), (1, 4.0), (2, 6.0)])
def test_the_gradient_of_log_loss_is_the_normalised_gradient(name, seed, scale):
    f, y = random_margins(30, scale, seed)
    fa = f.clone().requires_grad_(True)
    fb = f.clone().requires_grad_(True)
    L = losses.LOSSES[name](fa, y)
    (grad_L,) = torch.autograd.grad(L, fa)
    (grad_log,) = torch.autograd.grad(losses.log_loss(name)(fb, y), fb)
    torch.testing.assert_close(grad_log, grad_L / L.detach(), rtol=1e-11, atol=1e-15)


def test_log_loss_names():
    assert losses.log_loss("exp").__name__ == "log_loss_exp"
    for bad in ("square", "hinge", "ce", "mse"):
        with pytest.raises(ValueError, match=rf"^unknown loss '{bad}'; choose one of \['exp', 'logistic'\]$"):
            losses.log_loss(bad)


def test_check_targets_accepts_good_targets():
    losses.check_targets("square", torch.zeros(4, 2), torch.ones(4, 2))
    losses.check_targets("logistic", torch.zeros(4, 1), torch.tensor([1, -1, 1, -1]))
    losses.check_targets("hinge", torch.zeros(4), torch.tensor([1.0, -1.0, 1.0, -1.0]))
    losses.check_targets("ce", torch.zeros(4, 3), torch.tensor([0, 1, 2, 2]))
    losses.check_targets(lambda o, t: o.sum(), torch.zeros(4, 3), torch.zeros(4, 7))  # callables: only the count


@pytest.mark.parametrize(
    "loss, outputs, targets, message",
    [
        ("square", torch.zeros(4, 2), torch.zeros(3, 2), "the model gives 4 outputs but there are 3 targets"),
        ("square", torch.zeros(4, 2), torch.zeros(4, 3), r"square loss: targets of shape \(4, 3\)"),
        ("square", torch.zeros(4, 2), torch.tensor([[0.0, 1], [1, float("nan")], [0, 0], [0, 0]]), "NaN or inf"),
        ("logistic", torch.zeros(4, 1), torch.tensor([0.0, 1.0, 1.0, 0.0]), r"\{-1, \+1\}.*2 \* y - 1"),
        ("exp", torch.zeros(4, 1), torch.tensor([0.5, 1.0, 1.0, -1.0]), r"^exp loss needs labels in \{-1, \+1\}"),
        ("hinge", torch.zeros(4, 2), torch.tensor([1.0, 1.0, 1.0, -1.0]), "one output per example"),
        ("logistic", torch.zeros(4), torch.ones(4, 2), r"^logistic loss needs one label per example, got targets "
                                                       r"of shape \(4, 2\)$"),
        ("exp", torch.zeros(2), torch.tensor([float("inf"), 1.0]), "NaN or inf"),
        ("ce", torch.zeros(4, 3), torch.tensor([0, 1, 3, 2]), r"class indices must lie in \[0, 2\]"),
        ("ce", torch.zeros(4, 3), torch.tensor([0, -1, 1, 2]), r"class indices must lie in \[0, 2\]"),
        ("ce", torch.zeros(4, 3), torch.tensor([0.0, 1.0, 1.0, 2.0]), "integer class indices"),
        ("ce", torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.int64), r"integer class indices of shape \(n,\)"),
        ("ce", torch.zeros(4), torch.tensor([0, 1, 1, 0]), r"outputs of shape \(n, classes\)"),
    ],
)
def test_check_targets_names_the_problem(loss, outputs, targets, message):
    with pytest.raises(ValueError, match=message):
        losses.check_targets(loss, outputs, targets)
