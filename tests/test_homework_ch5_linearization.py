"""The checker of the linearised-prediction exercise: right answers pass, typical mistakes are named."""

import pytest
import torch

from dltheory import homework, ntk


def right(K_train, K_test, y, f0_train, f0_test):
    return f0_test + K_test @ torch.linalg.solve(K_train, y - f0_train)


def test_right_answers_pass_including_the_library_and_numpy():
    assert homework.check_linearized_prediction(right).passed
    assert homework.check_linearized_prediction(lambda *a: right(*a).numpy()).passed
    library = homework.check_linearized_prediction(
        lambda K, Kt, y, f0, f0t: ntk.kernel_regression(K, Kt, y, f0_train=f0, f0_test=f0t))
    assert library.passed, str(library)
    assert str(homework.check_linearized_prediction(right)).startswith("Correct.")


solve = torch.linalg.solve
WRONG = {
    "f0_test is missing": lambda K, Kt, y, f0, f0t: Kt @ solve(K, y - f0),
    "the residual is y, not y - f0_train": lambda K, Kt, y, f0, f0t: f0t + Kt @ solve(K, y),
    "plain kernel regression": lambda K, Kt, y, f0, f0t: Kt @ solve(K, y),
    "the residual f0_train - y": lambda K, Kt, y, f0, f0t: f0t + Kt @ solve(K, f0 - y),
    "K_train times the residual": lambda K, Kt, y, f0, f0t: f0t + Kt @ (y - f0),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_linearized_prediction(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_transposed_test_kernel_is_explained():
    text = str(homework.check_linearized_prediction(lambda K, Kt, y, f0, f0t: f0t + Kt.T @ solve(K, y - f0)))
    assert not text.startswith("Correct") and "raised RuntimeError" in text


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch5_linearization import _cases, _mistakes, _reference

    for case in _cases():
        ref = _reference(*case)
        values = list(_mistakes(*case).values())
        for i, v in enumerate(values):
            assert not torch.allclose(v, ref, rtol=1e-3)
            for w in values[i + 1:]:
                assert not torch.allclose(v, w, rtol=1e-3)


def test_the_exercise_by_hand():
    K = torch.tensor([[2.0, 1, 0], [1, 2, 1], [0, 1, 2]], dtype=torch.float64)
    y = torch.tensor([1.0, 0, -1], dtype=torch.float64)
    pred = ntk.kernel_regression(K, torch.tensor([[1.0, 1, 0]], dtype=torch.float64), y)
    assert pred.item() == pytest.approx(0.5)
    alpha = ntk.kernel_weights(K, y)
    assert float(alpha @ K @ alpha) == pytest.approx(1.0)
