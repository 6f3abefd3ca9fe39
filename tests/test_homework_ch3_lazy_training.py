"""The checker of the unit-gradient exercise: right answers pass, stubs get a hint, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import homework


def right(W, a, X, y):
    Z = X @ W.T
    r = torch.relu(Z) @ a - y
    return ((r[:, None] * (Z > 0) * a).T @ X) / X.shape[0]


def test_right_answers_pass_as_tensor_and_array():
    assert homework.check_unit_gradients(right).passed
    assert homework.check_unit_gradients(lambda W, a, X, y: right(W, a, X, y).numpy()).passed
    # with >= in the indicator (ties have probability zero) and written as a loop over units
    def loop(W, a, X, y):
        u = torch.relu(X @ W.T) @ a
        return torch.stack([((u - y) * a[r] * (X @ W[r] >= 0)) @ X / len(y) for r in range(W.shape[0])])
    assert homework.check_unit_gradients(loop).passed
    assert str(homework.check_unit_gradients(right)).startswith("Correct.")


def parts(W, a, X, y):
    Z = X @ W.T
    return Z, torch.relu(Z) @ a - y, (Z > 0).double(), X.shape[0]


WRONG = {
    "in place of its derivative": lambda W, a, X, y: (
        lambda Z, r, D, n: ((r[:, None] * torch.relu(Z) * a).T @ X) / n)(*parts(W, a, X, y)),
    "no indicator": lambda W, a, X, y: (lambda Z, r, D, n: ((r[:, None] * a).T @ X) / n)(*parts(W, a, X, y)),
    "the residual y_i - u_i": lambda W, a, X, y: -right(W, a, X, y),
    "a sum over the examples": lambda W, a, X, y: right(W, a, X, y) * X.shape[0],
    "no factor 1/2": lambda W, a, X, y: 2 * right(W, a, X, y),
    "the outer weight a_r is missing": lambda W, a, X, y: right(W, a, X, y) / a[:, None],
    "the outer weights' gradient": lambda W, a, X, y: (
        lambda Z, r, D, n: (r[:, None] * torch.relu(Z)).mean(0))(*parts(W, a, X, y)),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_unit_gradients(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_transposed_product_is_explained():
    text = str(homework.check_unit_gradients(lambda W, a, X, y: torch.relu(W @ X) @ a))
    assert "raised RuntimeError" in text and "W @ X" in text


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch3_lazy_training import _cases, _mistakes, _reference

    for case in _cases():
        values = {k: np.asarray(v, dtype=float) for k, v in _mistakes(*case).items()}
        values["right"] = _reference(*case).numpy()
        assert np.abs(values["right"]).max() > 1e-3
        names = list(values)
        for i, p in enumerate(names):
            for q in names[i + 1:]:
                same = values[p].shape == values[q].shape and np.allclose(values[p], values[q], rtol=1e-6)
                assert not same, (p, q)
