"""The checker of the conv-net predictor exercise: right answers pass, stubs get a hint, typical mistakes
are named."""

import numpy as np
import pytest
import torch

from dltheory import homework
from dltheory.homework.ch3_implicit_bias import _cases, _mistakes


def right(filters):
    return torch.fft.ifft(torch.fft.fft(filters, dim=1).prod(dim=0)).real


def by_matrices(filters):
    """The independent route: compose circulant correlation matrices."""
    L, d = filters.shape
    W = filters.numpy()
    M = np.eye(d)
    for w in W[:-1]:
        C = np.array([[w[(j - i) % d] for j in range(d)] for i in range(d)])
        M = C @ M
    return M.T @ W[-1]


def test_right_answers_pass():
    assert homework.check_conv_predictor(right).passed
    assert homework.check_conv_predictor(by_matrices).passed
    assert homework.check_conv_predictor(lambda f: right(f).numpy()).passed


@pytest.mark.parametrize("index", range(5))
def test_each_typical_mistake_is_named(index):
    text, _ = list(_mistakes(_cases()[0][0]).items())[index]

    def wrong(filters):
        return list(_mistakes(filters).values())[index]

    feedback = homework.check_conv_predictor(wrong)
    assert not feedback.passed
    assert text[:40] in str(feedback)


def test_the_mistakes_differ_from_the_answer_on_the_first_case():
    (filters,) = _cases()[0]
    for value in _mistakes(filters).values():
        assert not torch.allclose(value, right(filters))
