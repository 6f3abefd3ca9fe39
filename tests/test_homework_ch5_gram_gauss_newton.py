"""The checker of the GGN-step exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import homework


def right(J, r, lam, alpha):
    G = J @ J.T
    return -J.T @ torch.linalg.solve(lam * G + alpha * torch.eye(G.shape[0], dtype=G.dtype), r)


def test_right_answers_pass_in_both_forms():
    assert homework.check_ggn_step(right).passed
    assert str(homework.check_ggn_step(right)).startswith("Correct.")
    # NumPy, and the P x P form (equal by the push-through identity)
    def numpy_form(J, r, lam, alpha):
        J, r = J.numpy(), r.numpy()
        return -np.linalg.solve(lam * J.T @ J + alpha * np.eye(J.shape[1]), J.T @ r)
    assert homework.check_ggn_step(numpy_form).passed


def solve(J, r, scale, shift):
    G = J @ J.T
    return J.T @ torch.linalg.solve(scale * G + shift * torch.eye(G.shape[0], dtype=G.dtype), r)


WRONG = {
    "carries a minus sign": lambda J, r, lam, alpha: solve(J, r, lam, alpha),
    "lam is missing": lambda J, r, lam, alpha: -solve(J, r, 1.0, alpha),
    "alpha is missing": lambda J, r, lam, alpha: -solve(J, r, lam, 0.0),
    "lam and alpha are swapped": lambda J, r, lam, alpha: -solve(J, r, alpha, lam),
    "the gradient step -J^T r": lambda J, r, lam, alpha: -J.T @ r,
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_ggn_step(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_transposed_product_is_explained():
    text = str(homework.check_ggn_step(lambda J, r, lam, alpha: -J @ torch.linalg.solve(lam * J.T @ J, r)))
    assert "raised" in text and "Traceback" not in text


def test_the_test_cases_tell_the_mistakes_apart():
    from dltheory.homework.ch5_gram_gauss_newton import _cases, _mistakes, _reference

    for case in _cases():
        values = {k: np.asarray(v, dtype=float) for k, v in _mistakes(*case).items()}
        values["right"] = _reference(*case).numpy()
        names = list(values)
        for i, p in enumerate(names):
            for q in names[i + 1:]:
                same = values[p].shape == values[q].shape and np.allclose(values[p], values[q], rtol=1e-6)
                assert not same, (p, q)
