"""dltheory._checks: the one set of input checks, and its contract across the public API.

The contract is that of ``sklearn.utils.check_scalar``: a value of the wrong type is a
``TypeError``, a value of the right type out of range a ``ValueError``, and both read
``"<name> must be <what>, got <value>"``. The last tests make the same mistakes at
every public call site that takes the argument and require the same exception and the
same words everywhere.
"""

import fractions
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import config, curvature, data, linear, models, ntk, train
from dltheory._checks import (
    as_tensor,
    check_bool,
    check_choice,
    check_class_indices,
    check_device,
    check_dtype,
    check_int,
    check_interval,
    check_module,
    check_probability,
    check_real,
    check_seed,
    check_sign_labels,
    check_tensor,
    check_X,
    check_Xy,
    named_parameters,
    probe,
)

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def message(value) -> str:
    """The full-match pattern for one exact message."""
    return "^" + re.escape(value) + "$"


# --------------------------------------------------------------------------- check_int


@pytest.mark.parametrize("value", [0, 3, 10**30, np.int64(3), np.int8(-2), np.uint64(7)])
def test_check_int_accepts_python_and_numpy_integers(value):
    got = check_int(value, "n")
    assert type(got) is int and got == int(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, 2.5, np.float64(2.0), "2", None, [2],
                                   torch.tensor(2), np.array(2), 1 + 0j])
def test_check_int_refuses_other_types_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^n must be a positive integer, got "):
        check_int(value, "n", min=1)


@pytest.mark.parametrize(
    "value, bounds, expected",
    [
        (0, dict(min=1), "n must be a positive integer, got 0"),
        (-1, dict(min=0), "n must be a non-negative integer, got -1"),
        (1, dict(min=2), "n must be an integer >= 2, got 1"),
        (7, dict(max=6), "n must be an integer <= 6, got 7"),
        (7, dict(min=1, max=6), "n must be an integer in [1, 6], got 7"),
        (0, dict(min=1, max=6), "n must be an integer in [1, 6], got 0"),
        (np.int64(-3), dict(min=0), "n must be a non-negative integer, got np.int64(-3)"),
        (0, dict(min=1, allow_none=True), "n must be a positive integer or None, got 0"),
        (0, dict(min=1, kind="a count of examples"), "n must be a count of examples, got 0"),
    ],
)
def test_check_int_out_of_range_is_a_value_error_with_the_range(value, bounds, expected):
    with pytest.raises(ValueError, match=message(expected)):
        check_int(value, "n", **bounds)


def test_check_int_bounds_are_inclusive_and_none_only_when_allowed():
    assert check_int(1, "n", min=1, max=1) == 1
    assert check_int(None, "n", min=1, allow_none=True) is None
    assert check_int(-(10**20), "n") == -(10**20)  # no bounds: any integer
    with pytest.raises(TypeError, match=message("n must be a positive integer, got None")):
        check_int(None, "n", min=1)
    with pytest.raises(TypeError, match=message("n must be a positive integer or None, got 2.5")):
        check_int(2.5, "n", min=1, allow_none=True)
    # tensors and arrays are named by their shape, not printed in full
    with pytest.raises(TypeError, match=message("n must be an integer, got a tensor of shape (3,)")):
        check_int(torch.arange(3), "n")
    with pytest.raises(TypeError, match=message("n must be an integer, got an array of shape (2, 2)")):
        check_int(np.zeros((2, 2)), "n")


# --------------------------------------------------------------------------- check_real


@pytest.mark.parametrize("value", [0.5, 2, np.float32(0.5), np.float64(0.25), np.int64(3), fractions.Fraction(1, 4)])
def test_check_real_accepts_numbers_and_returns_a_float(value):
    got = check_real(value, "x")
    assert type(got) is float and got == float(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "0.5", None, 1j, torch.tensor(0.5), np.array(0.5), [0.5]])
def test_check_real_refuses_other_types_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^x must be a positive number, got "):
        check_real(value, "x", min=0.0, min_open=True)


@pytest.mark.parametrize(
    "value, bounds, expected",
    [
        (0.0, dict(min=0.0, min_open=True), "x must be a positive number, got 0.0"),
        (-0.1, dict(min=0.0), "x must be a non-negative number, got -0.1"),
        (0.5, dict(min=0.5, min_open=True), "x must be a number > 0.5, got 0.5"),
        (-0.5, dict(min=-0.25), "x must be a number >= -0.25, got -0.5"),
        (2.0, dict(max=1.0), "x must be a number <= 1, got 2.0"),
        (1.0, dict(max=1.0, max_open=True), "x must be a number < 1, got 1.0"),
        (3, dict(min=0, max=2), "x must be a number in [0, 2], got 3"),
        (1.0, dict(min=0.0, max=1.0, min_open=True, max_open=True), "x must be a number in (0, 1), got 1.0"),
        (1.0, dict(min=0.0, max=1.0, max_open=True), "x must be a number in [0, 1), got 1.0"),
        (np.float32(-1.0), dict(min=0.0, min_open=True), "x must be a positive number, got np.float32(-1.0)"),
        (-1.0, dict(min=0.0, allow_none=True), "x must be a non-negative number or None, got -1.0"),
    ],
)
def test_check_real_out_of_range_is_a_value_error_with_the_range(value, bounds, expected):
    with pytest.raises(ValueError, match=message(expected)):
        check_real(value, "x", **bounds)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")])
def test_check_real_refuses_nan_and_inf_even_without_bounds(value):
    with pytest.raises(ValueError, match=r"^x must be a finite number, got "):
        check_real(value, "x")


def test_check_real_bounds_open_and_closed():
    assert check_real(0.0, "x", min=0.0) == 0.0
    assert check_real(1.0, "x", max=1.0) == 1.0
    assert check_real(1e-300, "x", min=0.0, min_open=True) == 1e-300
    assert check_real(None, "x", allow_none=True) is None


def test_check_probability_open_and_closed():
    for p in (1e-12, 0.5, np.float32(0.9)):
        assert check_probability(p, "delta") == pytest.approx(float(p))
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=message(f"delta must be a number in (0, 1), got {p!r}")):
            check_probability(p, "delta")
    assert check_probability(0.0, "q", open=False) == 0.0 and check_probability(1, "q", open=False) == 1.0
    with pytest.raises(ValueError, match=message("q must be a number in [0, 1], got 1.5")):
        check_probability(1.5, "q", open=False)
    with pytest.raises(TypeError, match=message("delta must be a number in (0, 1), got True")):
        check_probability(True, "delta")


def test_check_interval_takes_an_increasing_pair_of_reals():
    assert check_interval((0, 1)) == (0.0, 1.0) and check_interval([-2.5, np.float64(3)]) == (-2.5, 3.0)
    with pytest.raises(TypeError, match=message("interval must be a pair (a, b), got 1.0")):
        check_interval(1.0)
    with pytest.raises(TypeError, match=message("span must be a pair (a, b), got (0, 1, 2)")):
        check_interval((0, 1, 2), "span")
    with pytest.raises(ValueError, match=message("interval must be (a, b) with a < b, got (1, 1)")):
        check_interval((1, 1))
    with pytest.raises(ValueError, match="interval\\[1\\]"):
        check_interval((0, math.inf))


# --------------------------------------------------------------------------- bool, choice, seed


def test_check_bool_takes_only_true_and_false():
    assert check_bool(True, "flag") is True and check_bool(np.bool_(False), "flag") is False
    for value in (0, 1, 1.0, "True", None, torch.tensor(True)):
        with pytest.raises(TypeError, match=r"^flag must be True or False, got "):
            check_bool(value, "flag")


def test_check_choice_lists_the_choices():
    assert check_choice("relu", "activation", ["relu", "tanh"]) == "relu"
    assert check_choice("b", "mode", {"a": 1, "b": 2}) == "b"  # a mapping's keys
    with pytest.raises(ValueError, match=message("unknown activation 'gelu'; choose one of ['relu', 'tanh']")):
        check_choice("gelu", "activation", ("relu", "tanh"))
    with pytest.raises(ValueError, match=message("unknown mode 'c'; choose one of ['a', 'b']")):
        check_choice("c", "mode", {"a": 1, "b": 2})
    for odd in ([], {}, None, 3):  # unhashable or of another type: still the same ValueError
        with pytest.raises(ValueError, match=r"^unknown activation .*; choose one of \['relu'\]$"):
            check_choice(odd, "activation", ["relu"])


@pytest.mark.parametrize("value", [0, 1, 2**63 - 1, np.int64(5), np.uint64(5)])
def test_check_seed_accepts_every_torch_seed(value):
    assert check_seed(value) == int(value)
    torch.Generator().manual_seed(check_seed(value))  # every accepted seed is one torch takes


@pytest.mark.parametrize("value, error", [(-1, ValueError), (2**63, ValueError), (np.uint64(2**64 - 1), ValueError),
                                          ("a", TypeError), (1.0, TypeError), (True, TypeError), (None, TypeError)])
def test_check_seed_refuses(value, error):
    with pytest.raises(error, match=message(f"seed must be a non-negative integer below 2**63, got {value!r}")):
        check_seed(value)
    with pytest.raises(error, match=r"^noise_seed must be"):
        check_seed(value, "noise_seed")


# --------------------------------------------------------------------------- dtype, device, module


def test_check_dtype():
    assert check_dtype(torch.float64) is torch.float64 and check_dtype(torch.bfloat16) is torch.bfloat16
    for bad in (torch.int64, torch.bool, torch.complex64):
        with pytest.raises(ValueError, match=message("dtype must be a floating-point torch dtype such as "
                                                     f"torch.float32, got {bad}")):
            check_dtype(bad)
    for bad in ("float32", np.float32, float, None):
        with pytest.raises(TypeError, match=r"^dtype must be a floating-point torch dtype"):
            check_dtype(bad)


def test_check_device():
    assert check_device("cpu") == torch.device("cpu")
    assert check_device(torch.device("meta")) == torch.device("meta")
    assert check_device("cuda:1") == torch.device("cuda", 1)  # a name, whether or not the device exists
    for bad in ("gpu", "cuda:x", ""):
        with pytest.raises(ValueError, match=message(f"unknown device {bad!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'")):
            check_device(bad)
    for bad in (0, None, torch.float32):
        with pytest.raises(TypeError, match=r"^device must be a torch.device or a name such as 'cpu' or 'cuda'"):
            check_device(bad)


def test_check_module_and_named_parameters():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, bias=False))
    assert check_module(model) is model
    named = named_parameters(model)
    assert [name for name, _ in named] == ["0.weight", "0.bias", "2.weight"]
    flat = torch.cat([p.reshape(-1) for _, p in named])
    assert torch.equal(flat, nn.utils.parameters_to_vector(model.parameters()))  # the same order
    for bad in ([nn.Linear(2, 3)], "model", None):
        with pytest.raises(TypeError, match=message(f"model must be a torch.nn.Module, got {type(bad).__name__}")):
            named_parameters(bad)
    with pytest.raises(TypeError, match=message("net must be a torch.nn.Module, got int")):
        check_module(3, "net")
    for empty in (nn.ReLU(), nn.Sequential(), nn.BatchNorm1d(3, affine=False)):  # buffers are not parameters
        with pytest.raises(ValueError, match=f"^{type(empty).__name__} has no parameters"):
            named_parameters(empty)


# --------------------------------------------------------------------------- tensors and data


def test_as_tensor_converts_array_likes_and_detaches_tensors():
    x = torch.ones(2, 3, requires_grad=True)
    t = as_tensor(x, "X")
    assert not t.requires_grad and t.data_ptr() == x.data_ptr()  # detached, not copied
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert as_tensor(a, "X").dtype == torch.float32 and torch.equal(as_tensor(a, "X"), torch.from_numpy(a))
    assert as_tensor([[1.0, 2.0], [3.0, 4.0]], "X").shape == (2, 2)
    assert as_tensor(((1, 2), (3, 4)), "X").dtype == torch.int64
    assert as_tensor(2.5, "X").ndim == 0
    for bad in ("abc", ["a", "b"], [[1, 2], [3]], {"a": 1}, None, np.array([1, None], dtype=object)):
        with pytest.raises(TypeError, match=message(f"X must be a tensor or an array of numbers, got "
                                                    f"{type(bad).__name__}")):
            as_tensor(bad, "X")


def test_check_tensor_shapes_and_finiteness():
    assert check_tensor([[1.0, 2.0]], "X", ndim=2).shape == (1, 2)
    with pytest.raises(ValueError, match=message("X must be a matrix (n examples x d features), got shape (3,)")):
        check_tensor(torch.zeros(3), "X", ndim=2)
    with pytest.raises(ValueError, match=message("y must be a vector (n,), got shape (2, 3)")):
        check_tensor(torch.zeros(2, 3), "y", ndim=1)
    with pytest.raises(ValueError, match=message("X must be a 3-d tensor, got shape (2, 3)")):
        check_tensor(torch.zeros(2, 3), "X", ndim=3)
    for empty in (torch.zeros(0, 3), [], torch.tensor(1.0)):
        with pytest.raises(ValueError, match=r"^X must hold at least one example along its first dimension"):
            check_tensor(empty, "X")
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.zeros(3, 2, dtype=F64)
        x[1, 1] = bad
        with pytest.raises(ValueError, match=message("X contains NaN or inf")):
            check_tensor(x, "X")
        with pytest.raises(ValueError, match=message("X contains NaN or inf")):
            check_tensor(x.numpy(), "X")  # arrays are checked after conversion
        assert torch.equal(check_tensor(x, "X", finite=False).isnan(), x.isnan())
    with pytest.raises(ValueError, match="NaN or inf"):
        check_tensor(torch.tensor([1 + 1j, complex("nan")]), "X")
    assert check_tensor(torch.tensor([0, 1, 2]), "y").dtype == torch.int64  # integers have no NaN


def test_check_Xy_places_data_like_the_model():
    model = nn.Linear(3, 1).to(F64)
    X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    Xt, yt = check_Xy(X, [0, 1, 1, 0], like=model)
    assert Xt.dtype == F64 and yt.dtype == torch.int64  # floats take the model's dtype, labels stay integers
    torch.testing.assert_close(Xt, torch.from_numpy(X).double())
    _, yf = check_Xy(X, [0.5, 1.0, 1.5, 2.0], like=model)
    assert yf.dtype == F64
    # a module with buffers only says where to go too
    Xb, _ = check_Xy(X, [0, 1, 1, 0], like=nn.BatchNorm1d(3, affine=False).to(torch.float16))
    assert Xb.dtype == torch.float16
    # a reference tensor: device and dtype ("meta" stands for another device)
    ref = torch.zeros(1, dtype=torch.bfloat16, device="meta")
    Xm, ym = check_Xy(X, np.array([0, 1, 1, 0]), like=ref)
    assert (Xm.device.type, Xm.dtype) == ("meta", torch.bfloat16)
    assert (ym.device.type, ym.dtype) == ("meta", torch.int64)
    Xn, yn = check_Xy(X, [0, 1, 1, 0])  # no reference: left as they are
    assert Xn.dtype == torch.float32 and yn.dtype == torch.int64
    with pytest.raises(ValueError, match="ReLU has no parameters or buffers"):
        check_Xy(X, [0, 1, 1, 0], like=nn.ReLU())


def test_check_Xy_refuses_bad_data_by_name():
    X, y = torch.zeros(3, 2), torch.zeros(3)
    with pytest.raises(ValueError, match=message("X has 3 examples but y has 2")):
        check_Xy(X, y[:2])
    with pytest.raises(ValueError, match=message("X_eval has 3 examples but y_eval has 4")):
        check_Xy(X, torch.zeros(4), names=("X_eval", "y_eval"))
    with pytest.raises(ValueError, match=r"^X must be a matrix"):
        check_Xy(torch.zeros(3, 2, 1), y, X_ndim=2)
    bad = y.clone()
    bad[0] = float("nan")
    with pytest.raises(ValueError, match=message("y contains NaN or inf")):
        check_Xy(X, bad)
    with pytest.raises(ValueError, match=message("X contains NaN or inf")):
        check_Xy(X / 0, y)
    with pytest.raises(TypeError, match=message("y must be a tensor or an array of numbers, got str")):
        check_Xy(X, "labels")
    with pytest.raises(ValueError, match=r"^X must hold at least one example"):
        check_Xy(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"^y must hold at least one example"):
        check_Xy(X, y[:0])


def test_check_X():
    model = nn.Linear(2, 1).to(F64)
    assert check_X([[1.0, 2.0]], like=model).dtype == F64
    assert check_X(torch.ones(3, 2), like=torch.zeros(1, device="meta")).device.type == "meta"
    with pytest.raises(ValueError, match=r"^X_test must be a matrix"):
        check_X(torch.ones(3), ndim=2, name="X_test")
    with pytest.raises(ValueError, match=message("X contains NaN or inf")):
        check_X(torch.tensor([[float("nan")]]))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8])
def test_check_class_indices_takes_any_integer_dtype(dtype):
    y = torch.tensor([0, 2, 1, 2], dtype=dtype)
    assert check_class_indices(y, 3, "ce loss") is y
    with pytest.raises(ValueError, match=message("ce loss: class indices must lie in [0, 1]")):
        check_class_indices(y, 2, "ce loss")
    top = torch.tensor([0, 127 if dtype == torch.int8 else 255], dtype=dtype)  # the dtype's largest index in use
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\]"):
        check_class_indices(top, 3, "ce loss")
    if dtype.is_signed:
        with pytest.raises(ValueError, match=message("a 3-output model: class indices must lie in [0, 2]")):
            check_class_indices(torch.tensor([0, -1], dtype=dtype), 3, "a 3-output model")


@pytest.mark.parametrize("y, shown", [(torch.tensor([True, False]), "torch.bool of shape (2,)"),
                                      (torch.tensor([0.0, 1.0]), "torch.float32 of shape (2,)"),
                                      (torch.zeros(2, 3, dtype=torch.int64), "torch.int64 of shape (2, 3)")])
def test_check_class_indices_refuses_what_is_not_indices(y, shown):
    with pytest.raises(ValueError, match=message(f"ce loss needs integer class indices of shape (n,), got {shown}")):
        check_class_indices(y, 3, "ce loss")


def test_check_sign_labels():
    for y in (torch.tensor([1.0, -1.0, 1.0]), torch.tensor([-1, 1], dtype=torch.int8), torch.tensor([1, 1])):
        assert check_sign_labels(y, "logistic loss") is y
    for y in (torch.tensor([0.0, 1.0]), torch.tensor([1, 2]), torch.tensor([0.5, -1.0]), torch.tensor([True, False])):
        with pytest.raises(ValueError, match=message("logistic loss needs labels in {-1, +1} (for 0/1 labels "
                                                     "use 2 * y - 1)")):
            check_sign_labels(y, "logistic loss")


# --------------------------------------------------------------------------- probe


class ModeSpy(nn.Module):
    """Records the mode it ran in and counts its calls in a buffer, in place."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2, dtype=F64)
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        self.calls.add_(1)
        return self.lin(x)


def bn_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2)).to(F64)
    with torch.no_grad():  # running statistics away from their initial values
        model(3 * torch.randn(32, 3, dtype=F64) + 1)
    return model


@pytest.mark.parametrize("training", [True, False])
def test_probe_runs_in_eval_mode_and_restores_the_mode(training):
    spy = ModeSpy().train(training)
    X = torch.randn(4, 3, dtype=F64)
    out = probe(spy, X)
    assert spy.seen == [False]  # evaluation mode inside
    assert spy.training is training and spy.lin.training is training  # restored, submodules too
    assert int(spy.calls) == 0  # the in-place update went to a copy of the buffer
    torch.testing.assert_close(out, spy.lin(X))
    assert not out.requires_grad and spy.lin.weight.grad is None


def test_probe_leaves_batch_norm_statistics_alone_and_uses_them():
    model = bn_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X = torch.randn(6, 3, dtype=F64)
    out = probe(model, X)
    after = model.state_dict()
    for key in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        assert torch.equal(after[key], before[key]), key
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert model.training and model[1].training and model[3].training
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(out, model(X))  # running statistics, dropout off
    # the same probe twice gives the same numbers: no dropout noise, no updated statistics
    model.train()
    assert torch.equal(probe(model, X), out)


def test_probe_turns_a_shape_error_into_a_value_error_and_restores_the_mode():
    spy = ModeSpy().train()
    with pytest.raises(ValueError, match=r"^the model cannot be applied to X_eval of shape \(5, 7\): "):
        probe(spy, torch.randn(5, 7, dtype=F64), "X_eval")
    assert spy.training


class Summed(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def forward(self, x):
        return self.lin(x).sum()


class Pair(Summed):
    def forward(self, x):
        return self.lin(x), self.lin(x)


def test_probe_needs_one_output_row_per_example():
    X = torch.randn(4, 3)
    with pytest.raises(ValueError, match=message("the model must return one output row per example; on X of "
                                                 "shape (4, 3) it returned ()")):
        probe(Summed(), X)
    with pytest.raises(ValueError, match=r"it returned tuple$"):
        probe(Pair(), X)
    assert probe(nn.Linear(3, 2), X).shape == (4, 2)
    assert probe(nn.Sequential(nn.Linear(3, 1), nn.Flatten(0)), X).shape == (4,)  # one number per example


# --------------------------------------------------------------------------- one mistake, one message everywhere


X3 = torch.randn(6, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
Y1 = X3 @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=F64)
W0 = torch.zeros(1, 3, dtype=F64)


def small_model():
    return models.mlp([3, 4, 1], seed=0, dtype=F64)


def fit(**kwargs):
    args = dict(loss="square", lr=0.1, steps=1, progress=False)
    args.update(kwargs)
    return train.fit(small_model(), X3, Y1.reshape(-1), **args)


def sgld(**kwargs):
    args = dict(lr=0.1)
    args.update(kwargs)
    return train.SGLD(small_model().parameters(), **args)


STEPS_SITES = {
    "train.fit": lambda v: fit(steps=v),
    "linear.gradient_descent": lambda v: linear.gradient_descent(X3, Y1, W0, steps=v),
    "train.record_points": lambda v: train.record_points(v),
}
EPOCHS_SITES = {
    "linear.stochastic_gradient_descent": lambda v: linear.stochastic_gradient_descent(X3, Y1, W0, epochs=v,
                                                                                      batch_size=2),
}
SEED_SITES = {
    "train.fit": lambda v: fit(seed=v),
    "train.SGLD": lambda v: sgld(seed=v),
    "train.make_optimizer": lambda v: train.make_optimizer("sgld", small_model(), lr=0.1, seed=v),
    "linear.stochastic_gradient_descent": lambda v: linear.stochastic_gradient_descent(X3, Y1, W0, epochs=1,
                                                                                      batch_size=2, seed=v),
    "linear.LinearTeacher.sample": lambda v: linear.LinearTeacher.sample(4, 3, seed=v),
    "models.mlp": lambda v: models.mlp([3, 4, 1], seed=v),
    "models.TreeNetwork": lambda v: models.TreeNetwork(2, 3, seed=v),
    "data.separable": lambda v: data.separable(10, 3, seed=v),
    "data.corrupt_labels": lambda v: data.corrupt_labels(torch.tensor([0, 1, 0, 1]), 0.5, seed=v),
    "curvature.hessian_trace": lambda v: curvature.hessian_trace(small_model(), "square", X3, Y1, samples=2, seed=v),
    "config.seed_all": lambda v: config.seed_all(v),
}
LR_SITES = {
    "train.fit": lambda v: fit(lr=v),
    "train.fit(sgld)": lambda v: fit(lr=v, optimizer="sgld"),
    "train.SGLD": lambda v: sgld(lr=v),
    "train.make_optimizer": lambda v: train.make_optimizer("adam", small_model(), lr=v),
    "train.GramGaussNewton": lambda v: train.GramGaussNewton(small_model(), lr=v),
    "linear.gradient_descent": lambda v: linear.gradient_descent(X3, Y1, W0, steps=1, lr=v),
    "linear.stochastic_gradient_descent": lambda v: linear.stochastic_gradient_descent(X3, Y1, W0, epochs=1,
                                                                                      batch_size=2, lr=v),
}
WIDTHS_SITES = {
    "models.mlp": lambda v: models.mlp(v),
    "models.mlp_parameter_count": lambda v: models.mlp_parameter_count(v),
}
CHUNK_SITES = {
    "ntk.jacobian": lambda v: ntk.jacobian(small_model(), X3, chunk_size=v),
    "ntk.empirical_ntk": lambda v: ntk.empirical_ntk(small_model(), X3, chunk_size=v),
}

# (argument, bad value, exception, pattern of "<name> must be <what>, got <value>", call sites)
MISTAKES = [
    ("steps", True, TypeError, r"steps must be a non-negative integer, got True", STEPS_SITES),
    ("steps", -1, ValueError, r"steps must be a non-negative integer, got -1", STEPS_SITES),
    ("steps", 2.5, TypeError, r"steps must be a non-negative integer, got 2\.5", STEPS_SITES),
    ("epochs", -1, ValueError, r"epochs must be a non-negative integer, got -1", EPOCHS_SITES),
    ("epochs", True, TypeError, r"epochs must be a non-negative integer, got True", EPOCHS_SITES),
    ("seed", -1, ValueError, r"seed must be a non-negative integer below 2\*\*63, got -1", SEED_SITES),
    ("seed", "a", TypeError, r"seed must be a non-negative integer below 2\*\*63, got 'a'", SEED_SITES),
    ("seed", 1.0, TypeError, r"seed must be a non-negative integer below 2\*\*63, got 1\.0", SEED_SITES),
    ("lr", -0.1, ValueError, r"lr must be a positive number, got -0\.1", LR_SITES),
    ("lr", 0.0, ValueError, r"lr must be a positive number, got 0\.0", LR_SITES),
    ("lr", float("nan"), ValueError, r"lr must be a positive number, got nan", LR_SITES),
    ("lr", True, TypeError, r"lr must be a positive number, got True", LR_SITES),
    ("lr", "0.1", TypeError, r"lr must be a positive number, got '0\.1'", LR_SITES),
    ("widths", [2, 0, 1], ValueError, r"widths\[1\] must be a positive integer, got 0", WIDTHS_SITES),
    ("widths", [2, 2.5, 1], TypeError, r"widths\[1\] must be a positive integer, got 2\.5", WIDTHS_SITES),
    ("widths", [2, True, 1], TypeError, r"widths\[1\] must be a positive integer, got True", WIDTHS_SITES),
    ("chunk_size", 0, ValueError, r"chunk_size must be a positive integer or None, got 0", CHUNK_SITES),
    ("chunk_size", 1.5, TypeError, r"chunk_size must be a positive integer or None, got 1\.5", CHUNK_SITES),
    ("chunk_size", True, TypeError, r"chunk_size must be a positive integer or None, got True", CHUNK_SITES),
]
CASES = [
    pytest.param(call, value, error, pattern, id=f"{arg}={value!r}-{site}")
    for arg, value, error, pattern, sites in MISTAKES
    for site, call in sites.items()
]


@pytest.mark.parametrize("call, value, error, pattern", CASES)
def test_the_same_mistake_gets_the_same_exception_and_message_everywhere(call, value, error, pattern):
    with pytest.raises(Exception) as info:
        call(value)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert re.fullmatch(pattern, str(info.value)), str(info.value)


@pytest.mark.parametrize("arg, value, sites", [pytest.param(arg, value, sites, id=f"{arg}={value!r}")
                                               for arg, value, _, _, sites in MISTAKES if len(sites) > 1])
def test_one_mistake_reads_the_same_at_every_call_site(arg, value, sites):
    """Word for word, not only the same pattern."""
    messages = {}
    for name, call in sites.items():
        with pytest.raises((TypeError, ValueError)) as info:
            call(value)
        messages[name] = (type(info.value).__name__, str(info.value))
    assert len(set(messages.values())) == 1, messages


NEGATIVE_STEPS = {
    "linear.gradient_descent(lr=-1)": lambda: linear.gradient_descent(X3, Y1, W0, steps=1, lr=-1),
    "linear.gradient_descent(steps=-1)": lambda: linear.gradient_descent(X3, Y1, W0, steps=-1),
    "linear.stochastic_gradient_descent(epochs=-1)": lambda: linear.stochastic_gradient_descent(
        X3, Y1, W0, epochs=-1, batch_size=2),
    "linear.stochastic_gradient_descent(lr=-1)": lambda: linear.stochastic_gradient_descent(
        X3, Y1, W0, epochs=1, batch_size=2, lr=-1),
    "train.fit(lr=-1)": lambda: fit(lr=-1),
    "train.fit(steps=-1)": lambda: fit(steps=-1),
    "train.SGLD(lr=-1)": lambda: sgld(lr=-1),
    "train.SGLD(temperature=-1)": lambda: sgld(temperature=-1.0),
    **{f"train.fit(optimizer={name!r}, lr=-1)": (lambda name: lambda: fit(
        optimizer=name, lr=-1, loss="exp" if name == "normalized_gd" else "square",
        batch_size=2 if name == "sgd" else None))(name)
       for name in train.PRESETS},
}


@pytest.mark.parametrize("call", NEGATIVE_STEPS.values(), ids=NEGATIVE_STEPS.keys())
def test_negative_step_sizes_and_epochs_are_refused_everywhere(call):
    with pytest.raises(ValueError, match=r"^(lr|steps|epochs|temperature) must be a (positive|non-negative) "):
        call()


@pytest.mark.parametrize("group", [{"lr": -1.0}, {"temperature": -1.0}])
def test_sgld_refuses_negative_values_in_a_parameter_group(group):
    with pytest.raises(ValueError, match=r"^(lr|temperature) must be a (positive|non-negative) number"):
        train.SGLD([{"params": list(small_model().parameters()), **group}], lr=0.1)

