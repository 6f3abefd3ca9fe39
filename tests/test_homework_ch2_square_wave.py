"""The checker of the negatively tied layer: right answers pass, stubs get a hint, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import homework


def right(h, w, b):
    s = h @ w + b
    return torch.stack([torch.relu(s), torch.relu(-s)], dim=1)


def right_numpy(h, w, b):
    s = h.numpy() @ w.numpy() + float(b)
    return np.stack([np.maximum(s, 0), np.maximum(-s, 0)], axis=1)


def test_right_answers_pass():
    for fn in (right, right_numpy, lambda h, w, b: torch.relu(torch.outer(h @ w + b, torch.tensor([1.0, -1.0],
                                                                                                 dtype=h.dtype)))):
        feedback = homework.check_tied_layer(fn)
        assert feedback.passed, str(feedback)
        assert str(feedback).startswith("Correct.")


def test_stubs_get_the_hint_not_a_traceback():
    def stub(h, w, b):
        raise NotImplementedError("Exercise ex-tied-layer: write this function")

    text = str(homework.check_tied_layer(stub))
    assert "not implemented yet" in text and "Hint" in text and "torch.relu(-s)" in text
    assert "Traceback" not in text
    assert "still `...`" in str(homework.check_tied_layer(lambda h, w, b: ...))
    assert "forget to `return`" in str(homework.check_tied_layer(lambda h, w, b: None))


def relu(x):
    return torch.relu(x)


WRONG = {
    "positive tying": lambda h, w, b: torch.stack([relu(h @ w + b), relu(h @ w + b)], 1),
    "the bias was not negated": lambda h, w, b: torch.stack([relu(h @ w + b), relu(-h @ w + b)], 1),
    "the bias was forgotten": lambda h, w, b: torch.stack([relu(h @ w), relu(-h @ w)], 1),
    "the ReLU is missing": lambda h, w, b: torch.stack([h @ w + b, -(h @ w + b)], 1),
    "the two units are swapped": lambda h, w, b: torch.stack([relu(-(h @ w + b)), relu(h @ w + b)], 1),
    "the sum of the two units": lambda h, w, b: relu(h @ w + b) + relu(-(h @ w + b)),
    "the difference of the two units": lambda h, w, b: relu(h @ w + b) - relu(-(h @ w + b)),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_tied_layer(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_transposed_answer_and_a_crash_are_explained():
    assert "transposed" in str(homework.check_tied_layer(lambda h, w, b: right(h, w, b).T))
    text = str(homework.check_tied_layer(lambda h, w, b: w @ h))
    assert "raised RuntimeError" in text and "w @ h" in text


def test_the_test_cases_tell_the_mistakes_apart():
    """No two mistakes (nor a mistake and the right answer) agree on every case."""
    from dltheory.homework.ch2_square_wave import _cases, _mistakes, _reference

    rows = []
    for case in _cases():
        row = {text: v.numpy() for text, v in _mistakes(*case).items()}
        row["right"] = _reference(*case).numpy()
        rows.append(row)
    names = list(rows[0])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not all(r[a].shape == r[b].shape and np.allclose(r[a], r[b]) for r in rows), (a, b)
