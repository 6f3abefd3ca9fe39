"""The checker of the closed-form gradient exercise (weight sharing): right answers pass, stubs get
a hint, and each typical mistake is named."""

import numpy as np
import pytest
import torch

from dltheory import homework
from dltheory.homework.ch2_weight_sharing import _cases, _mistakes, _reference


def sq(A):
    return A.pow(2).sum()


def right(W, U, c):
    alpha, beta, gamma = torch.exp(-2 * sq(W)), torch.exp(-sq(W - U) / 2), torch.exp(-sq(W + U) / 2)
    grad = -alpha * W + 0.5 * beta * (W - U) + 0.5 * gamma * (W + U)
    grad[0] += c**2 * (W[0] - U[0])
    return grad


def test_right_answers_pass_as_tensor_and_array():
    assert homework.check_population_gradient(right).passed
    assert homework.check_population_gradient(lambda W, U, c: right(W, U, c).numpy()).passed
    assert str(homework.check_population_gradient(right)).startswith("Correct.")


def test_an_autograd_answer_passes_too():
    from dltheory import weight_sharing as ws

    def by_autograd(W, U, c):
        Wr = W.clone().requires_grad_()
        return torch.autograd.grad(ws.population_loss(Wr, U, c), Wr)[0]

    assert homework.check_population_gradient(by_autograd).passed


def linear(W, U, factor):
    out = torch.zeros_like(W)
    out[0] = factor * (W[0] - U[0])
    return out


def parts(W, U):
    return torch.exp(-2 * sq(W)), torch.exp(-sq(W - U) / 2), torch.exp(-sq(W + U) / 2)


def cos_part(W, U):
    a, b, g = parts(W, U)
    return -a * W + 0.5 * b * (W - U) + 0.5 * g * (W + U)


WRONG = {
    "factor 1/2 is missing": lambda W, U, c: linear(W, U, c**2) - parts(W, U)[0] * W
    + parts(W, U)[1] * (W - U) + parts(W, U)[2] * (W + U),
    "without its factor 1/2": lambda W, U, c: 2 * right(W, U, c),
    "alpha term has the wrong sign": lambda W, U, c: right(W, U, c) + 2 * parts(W, U)[0] * W,
    "a sign error in the beta term": lambda W, U, c: right(W, U, c) - parts(W, U)[1] * (W - U),
    "gamma term (from cos(A + B)) is missing": lambda W, U, c: right(W, U, c) - 0.5 * parts(W, U)[2] * (W + U),
    "the alpha term is missing": lambda W, U, c: right(W, U, c) + parts(W, U)[0] * W,
    "instead of exp(-2||W||^2)": lambda W, U, c: right(W, U, c) + parts(W, U)[0] * W - torch.exp(-sq(W) / 2) * W,
    "exponent of beta and gamma is missing its 1/2": lambda W, U, c: linear(W, U, c**2) - parts(W, U)[0] * W
    + 0.5 * torch.exp(-sq(W - U)) * (W - U) + 0.5 * torch.exp(-sq(W + U)) * (W + U),
    "c instead of c^2": lambda W, U, c: linear(W, U, c) + cos_part(W, U),
    "the linear part c^2 (w_1 - u_0) is missing": lambda W, U, c: cos_part(W, U),
    "applied to every row": lambda W, U, c: c**2 * (W - U) + cos_part(W, U),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_population_gradient(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)
    assert "a constant factor" not in str(feedback)


def test_the_beta_term_with_u_minus_w_is_named_as_a_sign_error():
    def flipped(W, U, c):
        a, b, g = parts(W, U)
        return linear(W, U, c**2) - a * W + 0.5 * b * (U - W) + 0.5 * g * (W + U)

    assert "U - W in place of W - U" in str(homework.check_population_gradient(flipped))


def test_a_crash_and_a_wrong_shape_are_explained():
    def crash(W, U, c):
        return W @ U

    text = str(homework.check_population_gradient(crash))
    assert "raised RuntimeError" in text and "W @ U" in text
    assert "shape" in str(homework.check_population_gradient(lambda W, U, c: right(W, U, c).sum(0)))


def test_the_test_cases_tell_the_mistakes_apart():
    """No two mistakes (nor a mistake and the right answer) agree on every case."""
    rows = []
    for case in _cases():
        row = {text: np.asarray(v, dtype=float) for text, v in _mistakes(*case).items()}
        row["right"] = _reference(*case).numpy()
        rows.append(row)
    names = list(rows[0])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not all(np.allclose(r[a], r[b], rtol=1e-6, atol=1e-12) for r in rows), (a, b)
