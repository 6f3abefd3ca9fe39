"""The checker of the arc-cosine kernel exercise: right answers pass, stubs get a hint, and each
typical mistake is named."""

import math

import numpy as np
import pytest
import torch

from dltheory import homework
from dltheory.homework.ch3_overparametrized_landscapes import _cases, _mistakes, _reference


def right(w, v):
    nw, nv = w.norm(), v.norm()
    c = torch.clamp(w @ v / (nw * nv), -1, 1)
    t = torch.arccos(c)
    return nw * nv * (torch.sin(t) + (math.pi - t) * c) / (2 * math.pi)


def test_right_answers_pass_as_tensor_float_and_array():
    assert homework.check_relu_correlation(right).passed
    assert homework.check_relu_correlation(lambda w, v: float(right(w, v))).passed
    assert homework.check_relu_correlation(lambda w, v: right(w, v).numpy()).passed
    assert str(homework.check_relu_correlation(right)).startswith("Correct.")


def test_a_monte_carlo_answer_is_not_accurate_enough_but_close():
    def mc(w, v):
        x = torch.randn(20_000, w.shape[0], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        return (torch.relu(x @ w) * torch.relu(x @ v)).mean()

    feedback = homework.check_relu_correlation(mc)
    assert not feedback.passed and "relative error" in str(feedback)


def parts(w, v):
    nw, nv = w.norm(), v.norm()
    c = torch.clamp(w @ v / (nw * nv), -1, 1)
    return nw, nv, c, torch.arccos(c)


WRONG = {
    "1/(2 pi) is 1/pi": lambda w, v: 2 * right(w, v),
    "theta and pi - theta are swapped": lambda w, v: (lambda nw, nv, c, t: nw * nv * (torch.sin(t) + t * c)
                                                       / (2 * math.pi))(*parts(w, v)),
    "the norms are missing": lambda w, v: right(w, v) / (w.norm() * v.norm()),
    "sin and cos are swapped": lambda w, v: (lambda nw, nv, c, t: nw * nv * (c + (math.pi - t) * torch.sin(t))
                                              / (2 * math.pi))(*parts(w, v)),
    "zeroth-order arc-cosine kernel": lambda w, v: (math.pi - parts(w, v)[3]) / (2 * math.pi),
    "the sin theta term is missing": lambda w, v: (math.pi - parts(w, v)[3]) * (w @ v) / (2 * math.pi),
    "w.v/4": lambda w, v: w @ v / 4,
    "the two factors are correlated": lambda w, v: w.norm() * v.norm() / (2 * math.pi),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_relu_correlation(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_crash_and_a_wrong_shape_are_explained():
    text = str(homework.check_relu_correlation(lambda w, v: w @ v.reshape(1, -1)))
    assert "raised RuntimeError" in text
    assert "shape" in str(homework.check_relu_correlation(lambda w, v: torch.stack([right(w, v)] * 2)))


def test_the_test_cases_tell_the_mistakes_apart():
    rows = []
    for case in _cases():
        row = {text: float(v) for text, v in _mistakes(*case).items()}
        row["right"] = float(_reference(*case))
        rows.append(row)
    names = list(rows[0])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not all(np.isclose(r[a], r[b], rtol=1e-6, atol=1e-12) for r in rows), (a, b)
