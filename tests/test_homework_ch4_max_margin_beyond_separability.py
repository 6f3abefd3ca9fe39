"""The checker of the w-tilde exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import data, homework, implicit_bias
from dltheory.homework.ch4_max_margin_beyond_separability import _cases, _mistakes


def right(Z, w_hat, lr, n):
    alpha = torch.linalg.lstsq(Z.T, w_hat[:, None]).solution[:, 0]
    return torch.linalg.pinv(Z) @ torch.log(lr / (n * alpha))


def by_numpy(Z, w_hat, lr, n):
    alpha = np.linalg.pinv(Z.numpy().T) @ w_hat.numpy()
    return np.linalg.pinv(Z.numpy()) @ np.log(lr / (n * alpha))


def test_right_answers_pass():
    assert homework.check_w_tilde(right).passed
    assert homework.check_w_tilde(by_numpy).passed


def test_the_reference_is_the_library_on_real_data():
    X, y, _ = data.separable(40, 3, margin=0.1, seed=0, dtype=torch.float64)
    limit = implicit_bias.residual_limit(X, y, 0.7)
    Z = (y[:, None] * X)[limit.support]
    w_hat = implicit_bias.max_margin_direction(X, y)
    assert torch.allclose(right(Z, w_hat, 0.7, 40), limit.w_tilde, rtol=1e-8)


@pytest.mark.parametrize("index", range(3))
def test_each_typical_mistake_is_named(index):
    text, _ = list(_mistakes(*_cases()[0]).items())[index]

    def wrong(Z, w_hat, lr, n):
        return list(_mistakes(Z, w_hat, lr, n).values())[index]

    feedback = homework.check_w_tilde(wrong)
    assert not feedback.passed
    assert text[:40] in str(feedback)
