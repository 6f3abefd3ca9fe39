"""The checker of the update-bound exercise: right answers pass, a stub gets its hint, each typical
mistake is named, never a traceback."""

import math

import numpy as np
import pytest

from dltheory import homework

pytestmark = pytest.mark.usefixtures("one_thread")


def right(w, alpha, eta, k, v):
    return (w / alpha) ** 2 * (1 + 1 / (k * eta * v * v))


def through_the_quadratic(w, alpha, eta, k, v):
    """Another right answer: the root of (aM)^2 = b^2 c M."""
    a, b, c = 2 * k * eta * v * alpha, math.sqrt(2 * k) * w, 2 * eta + 2 * k * eta**2 * v**2
    return b * b * c / (a * a)


def check(fn):
    feedback = homework.check_update_bound(fn)
    assert "Traceback" not in str(feedback)
    return feedback


def test_right_answers_pass():
    for fn in (right, through_the_quadratic, lambda *args: np.float32(right(*args)).item() * 0 + right(*args),
               lambda *args: np.array(right(*args))):
        feedback = check(fn)
        assert feedback.passed and str(feedback).startswith("Correct."), str(feedback)


def test_stub_gets_the_hint():
    def stub(w, alpha, eta, k, v):
        raise NotImplementedError("Exercise ex-update-bound: write this function")

    feedback = check(stub)
    assert not feedback.passed and "not implemented yet" in str(feedback) and "2 k eta v alpha" in str(feedback)


WRONG = {
    "alone": lambda w, al, e, k, v: w**2 / al**2,
    "where its square belongs": lambda w, al, e, k, v: w / al**2 * (1 + 1 / (k * e * v**2)),
    "with alpha where alpha^2": lambda w, al, e, k, v: w**2 / al * (1 + 1 / (k * e * v**2)),
    "for v = 1/sqrt(k) only": lambda w, al, e, k, v: w**2 / al**2 * (1 + 1 / e),
    "without the k": lambda w, al, e, k, v: w**2 / al**2 * (1 + 1 / (e * v**2)),
    "where its inverse belongs": lambda w, al, e, k, v: w**2 / al**2 * (1 + k * e * v**2),
    "without the 1": lambda w, al, e, k, v: w**2 / (al**2 * k * e * v**2),
    "half the bound": lambda *args: right(*args) / 2,
    "twice the bound": lambda *args: 2 * right(*args),
    "rounded down": lambda *args: math.floor(right(*args)),
    "rounded up": lambda *args: math.ceil(right(*args)),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = check(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)


def test_an_unrecognised_wrong_answer_fails_with_the_error_and_a_crash_is_explained():
    assert "relative error" in str(check(lambda *args: right(*args) + 0.3))
    text = str(check(lambda w, alpha, eta, k, v: w / 0 if k else 0))
    assert "raised ZeroDivisionError" in text


def test_the_first_case_tells_every_mistake_apart():
    from dltheory.homework.ch2_linear_separators import CASES, _mistakes, _reference

    values = dict(_mistakes(*CASES[0]), right=_reference(*CASES[0]))
    names = list(values)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.isclose(values[a], values[b], rtol=1e-6), (a, b)


# --------------------------------------------------------------------------- sgd_step_both


def step(W, a, x, y, alpha, eta):
    z = W @ x
    s, ds = np.maximum(z, alpha * z), np.where(z > 0, 1.0, alpha)
    if y * (a @ s) < 1:
        return W + eta * y * np.outer(a * ds, x), a + eta * y * s
    return W, a


def step_torch(W, a, x, y, alpha, eta):
    """A right answer with autograd, returning tensors."""
    import torch

    W, a = torch.tensor(W, requires_grad=True), torch.tensor(a, requires_grad=True)
    loss = torch.relu(1 - y * (a @ torch.nn.functional.leaky_relu(W @ torch.tensor(x), alpha)))
    if loss.item() == 0:
        return W.detach(), a.detach()
    loss.backward()
    return (W - eta * W.grad).detach(), (a - eta * a.grad).detach()


def check_step(fn):
    feedback = homework.check_sgd_step_both(fn)
    assert "Traceback" not in str(feedback)
    return feedback


def test_step_right_answers_pass():
    for fn in (step, step_torch, lambda *args: list(step(*args))):
        feedback = check_step(fn)
        assert feedback.passed and str(feedback).startswith("Correct."), str(feedback)


def test_step_stub_none_and_wrong_type():
    def stub(W, a, x, y, alpha, eta):
        raise NotImplementedError

    assert "not implemented yet" in str(check_step(stub)) and "Hint" in str(check_step(stub))
    assert "forget to `return`" in str(check_step(lambda *args: None))
    assert "should return a pair" in str(check_step(lambda W, a, *rest: W))
    assert "raised IndexError" in str(check_step(lambda W, a, *rest: (W[99], a)))


def _variant(kind):
    def fn(W, a, x, y, alpha, eta):
        z = W @ x
        s, ds = np.maximum(z, alpha * z), np.where(z > 0, 1.0, alpha)
        if kind != "always" and y * (a @ s) >= 1:
            return W, a
        dW, da = eta * y * np.outer(a * ds, x), eta * y * s
        if kind == "new a":
            a2 = a + da
            return W + eta * y * np.outer(a2 * ds, x), a2
        if kind == "new W":
            W2 = W + dW
            z2 = W2 @ x
            return W2, a + eta * y * np.maximum(z2, alpha * z2)
        return {
            "no slope": (W + eta * y * np.outer(a, x), a + da),
            "slope in a": (W + dW, a + eta * y * ds),
            "a fixed": (W + dW, a),
            "ascent": (W - dW, a - da),
            "no y": (W + dW * y, a + da * y),
            "always": (W + dW, a + da),
        }[kind]

    return fn


@pytest.mark.parametrize("kind, words", [
    ("new a", "already updated a"), ("new W", "a updated with the already updated W"),
    ("no slope", "sigma'(z) left out"), ("slope in a", "where sigma(z) belongs"), ("a fixed", "a left unchanged"),
    ("ascent", "gradient ascent"), ("no y", "label y left out"), ("always", "although y N(x) >= 1"),
])
def test_step_typical_mistakes_are_named(kind, words):
    feedback = check_step(_variant(kind))
    assert not feedback.passed and words in str(feedback), str(feedback)
