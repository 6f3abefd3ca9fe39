"""The checker of the loss-range exercise: right answers pass, stubs get a hint, the model must be left as it
was, and each typical mistake is named."""

import numpy as np
import pytest
import torch

from dltheory import homework


def probe(model, loss_fn, X, y, step_sizes, *, sign=-1.0, restore="each", direction="gradient",
          include_start=False, grad="autograd"):
    """The probe, with switches for the typical mistakes."""
    params = list(model.parameters())
    if grad == "autograd":
        g = torch.autograd.grad(loss_fn(model(X), y), params)
    else:  # backward() on top of whatever .grad holds
        loss_fn(model(X), y).backward()
        g = [p.grad.clone() for p in params]
    if direction == "unit":
        norm = torch.sqrt(sum(t.pow(2).sum() for t in g))
        g = [t / norm for t in g]
    start = [p.detach().clone() for p in params]
    values = []
    with torch.no_grad():
        if include_start:
            values.append(loss_fn(model(X), y).item())
        for eta in step_sizes:
            for p, p0, gp in zip(params, start, g):
                if restore == "never":
                    p.add_(sign * eta * gp)
                else:
                    p.copy_(p0 + sign * eta * gp)
            values.append(loss_fn(model(X), y).item())
        if restore == "each":
            for p, p0 in zip(params, start):
                p.copy_(p0)
    return max(values) - min(values)


def right(model, loss_fn, X, y, step_sizes):
    return probe(model, loss_fn, X, y, step_sizes)


def test_right_answers_pass_as_float_tensor_and_array():
    feedback = homework.check_loss_range(right)
    assert feedback.passed and str(feedback).startswith("Correct.")
    assert homework.check_loss_range(lambda *a: torch.tensor(right(*a))).passed
    assert homework.check_loss_range(lambda *a: np.array([right(*a)])).passed


def test_a_zeroed_backward_pass_is_right_too():
    def zeroed(model, loss_fn, X, y, step_sizes):
        model.zero_grad()
        return probe(model, loss_fn, X, y, step_sizes, grad="backward")

    assert homework.check_loss_range(zeroed).passed


WRONG = {
    "a probe along +g": lambda *a: probe(*a, sign=1.0),
    "steps that pile up": lambda *a: probe(*a, restore="never"),
    "the unit vector": lambda *a: probe(*a, direction="unit"),
    "left over from before": lambda *a: probe(*a, grad="backward"),
    "includes L(theta) itself": lambda *a: probe(*a, include_start=True),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_loss_range(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)


def test_weights_left_changed_are_caught_even_with_the_right_number():
    def no_final_restore(model, loss_fn, X, y, step_sizes):
        return probe(model, loss_fn, X, y, step_sizes, restore="between")

    text = str(homework.check_loss_range(no_final_restore))
    assert "right number" in text and "leaves the model's parameters changed" in text
    piled = str(homework.check_loss_range(WRONG["steps that pile up"]))
    assert "restore them after probing" in piled


def test_other_wrong_forms_are_named():
    def largest_change(model, loss_fn, X, y, step_sizes):
        params = list(model.parameters())
        L0 = loss_fn(model(X), y)
        g = torch.autograd.grad(L0, params)
        start = [p.detach().clone() for p in params]
        out = []
        with torch.no_grad():
            for eta in step_sizes:
                for p, p0, gp in zip(params, start, g):
                    p.copy_(p0 - eta * gp)
                out.append(abs(loss_fn(model(X), y).item() - L0.item()))
            for p, p0 in zip(params, start):
                p.copy_(p0)
        return max(out)

    assert "not the range max - min" in str(homework.check_loss_range(largest_change))


def test_a_missing_return_and_a_crash_are_explained():
    assert "forget to `return`" in str(homework.check_loss_range(lambda *a: None))

    def crash(model, loss_fn, X, y, step_sizes):
        return model(X[:, :2]).sum().item()

    text = str(homework.check_loss_range(crash))
    assert "raised RuntimeError" in text and "test case 1" in text and "Traceback" not in text
