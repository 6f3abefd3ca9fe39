"""The checker of the direction-velocity exercise: right answers pass, stubs get a hint,
and each typical mistake is named."""

import numpy as np
import pytest
import torch

from dltheory import homework


def w_dot(w, X, y):
    return (torch.exp(-y * (X @ w)) * y) @ X / X.shape[0]


def right(w, X, y):
    u = w / w.norm()
    g = w_dot(w, X, y)
    return (g - (u @ g) * u) / w.norm()


def test_right_answers_pass_as_tensor_and_array():
    assert homework.check_direction_velocity(right).passed
    assert homework.check_direction_velocity(lambda w, X, y: right(w, X, y).numpy()).passed
    assert str(homework.check_direction_velocity(right)).startswith("Correct.")


def test_an_autograd_answer_passes_too():
    def by_autograd(w, X, y):
        w = w.clone().requires_grad_(True)
        loss = torch.exp(-y * (X @ w)).mean()
        (g,) = torch.autograd.grad(loss, w)
        J = torch.autograd.functional.jacobian(lambda v: v / v.norm(), w.detach())
        return J @ (-g)

    assert homework.check_direction_velocity(by_autograd).passed


def project(w, g):
    u = w / w.norm()
    return g - (u @ g) * u


WRONG = {
    "without the projection": lambda w, X, y: w_dot(w, X, y) / w.norm(),
    "without the factor 1/||w||": lambda w, X, y: project(w, w_dot(w, X, y)),
    "the velocity of w itself": lambda w, X, y: w_dot(w, X, y),
    "||w||^2 instead of ||w||": lambda w, X, y: project(w, w_dot(w, X, y)) / w.norm() ** 2,
    "built from w instead of the unit vector": lambda w, X, y: (w_dot(w, X, y) - (w @ w_dot(w, X, y)) * w)
    / w.norm(),
    "the sum over examples": lambda w, X, y: X.shape[0] * right(w, X, y),
    "the labels are missing": lambda w, X, y: project(w, torch.exp(-y * (X @ w)) @ X / X.shape[0]) / w.norm(),
    "the weights e^{-y_i <w, x_i>} are missing": lambda w, X, y: project(w, y @ X / X.shape[0]) / w.norm(),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_direction_velocity(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)


def test_a_sign_error_a_missing_return_and_a_crash_are_explained():
    assert "opposite sign" in str(homework.check_direction_velocity(lambda w, X, y: -right(w, X, y)))

    def no_return(w, X, y):
        right(w, X, y)

    assert "forget to `return`" in str(homework.check_direction_velocity(no_return))

    def crash(w, X, y):
        return X.T @ w

    text = str(homework.check_direction_velocity(crash))
    assert "raised RuntimeError" in text and "X.T @ w" in text


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch1_deep_exponential_loss import _cases, _mistakes, _reference

    rows = []
    for case in _cases():
        row = {k: v.numpy() for k, v in _mistakes(*case).items()}
        row["right"] = _reference(*case).numpy()
        rows.append(row)
    names = list(rows[0])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not all(np.allclose(r[a], r[b], rtol=1e-6, atol=1e-12) for r in rows), (a, b)
