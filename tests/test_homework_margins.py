"""The checker of the normalised-margin exercise: right answers pass, stubs get a hint,
and each typical mistake is named."""

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import homework


def layers(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def right(model, X, y):
    rho = 1.0
    for layer in layers(model):
        rho = rho * torch.linalg.matrix_norm(layer.weight)
    return (y * model(X).reshape(-1)).min() / rho


def test_right_answers_pass_as_tensor_float_and_one_element_array():
    assert homework.check_normalized_margin(right).passed
    assert homework.check_normalized_margin(lambda m, X, y: right(m, X, y).item()).passed
    assert homework.check_normalized_margin(lambda m, X, y: right(m, X, y).reshape(1).detach().numpy()).passed
    feedback = homework.check_normalized_margin(right)
    assert str(feedback).startswith("Correct.")


def product(values):
    out = 1.0
    for v in values:
        out = out * v
    return out


def frob(model):
    return [torch.linalg.matrix_norm(layer.weight) for layer in layers(model)]


def margins(model, X, y):
    return y * model(X).reshape(-1)


WRONG = {
    "take the min over examples": lambda m, X, y: margins(m, X, y) / product(frob(m)),
    "not the average": lambda m, X, y: margins(m, X, y).mean() / product(frob(m)),
    "not the max": lambda m, X, y: margins(m, X, y).max() / product(frob(m)),
    "rho is their product": lambda m, X, y: margins(m, X, y).min() / sum(frob(m)),
    "spectral norms": lambda m, X, y: margins(m, X, y).min()
    / product(torch.linalg.matrix_norm(layer.weight, ord=2) for layer in layers(m)),
    "not their squares": lambda m, X, y: margins(m, X, y).min() / product(f**2 for f in frob(m)),
    "the norms of all layers": lambda m, X, y: margins(m, X, y).min() / frob(m)[-1],
    "the unnormalised margin": lambda m, X, y: margins(m, X, y).min(),
    "without the labels": lambda m, X, y: m(X).min() / product(frob(m)),
    "keep the sign": lambda m, X, y: margins(m, X, y).abs().min() / product(frob(m)),
    "a sign error": lambda m, X, y: (-margins(m, X, y)).max() / product(frob(m)),
    "labels' sign is flipped": lambda m, X, y: (-margins(m, X, y)).min() / product(frob(m)),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_normalized_margin(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)  # the specific diagnosis replaces the generic one


def test_a_missing_return_and_a_crash_are_explained():
    def no_return(model, X, y):
        right(model, X, y)

    assert "forget to `return`" in str(homework.check_normalized_margin(no_return))

    def crash(model, X, y):
        return model(X.T)

    text = str(homework.check_normalized_margin(crash))
    assert "raised RuntimeError" in text and "model(X.T)" in text


def test_an_unrecognised_wrong_answer_still_fails_with_the_error():
    feedback = homework.check_normalized_margin(lambda m, X, y: right(m, X, y) + 0.1)
    assert not feedback.passed and "relative error" in str(feedback)


def test_the_test_cases_tell_the_mistakes_apart():
    """No two mistakes (nor a mistake and the right answer) give the same number on every case."""
    from dltheory.homework.ch1_margins import _cases, _mistakes, _reference

    cases = _cases()
    values = []
    for case in cases:
        row = {text: np.asarray(v, dtype=float) for text, v in _mistakes(*case).items()}
        row["right"] = np.asarray(_reference(*case))
        values.append(row)
    names = list(values[0])
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            same = all(
                v[a].shape == v[b].shape and np.allclose(v[a], v[b], rtol=1e-6, atol=1e-12) for v in values
            )
            assert not same, (a, b)
