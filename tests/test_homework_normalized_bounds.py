"""The checker of the normalised cross-entropy exercise: right answers pass, a stub gets its hint,
typical mistakes get their own explanation, never a traceback."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dltheory import homework


def by_hand(weights, X, y):
    """A right answer written with NumPy, as a student might."""
    h = X.numpy()
    Vs = [W.numpy() / np.sqrt((W.numpy() ** 2).sum()) for W in weights]
    for V in Vs[:-1]:
        h = np.maximum(h @ V.T, 0.0)
    out = h @ Vs[-1].T
    lse = np.log(np.exp(out).sum(axis=1))
    return float(np.mean(lse - out[np.arange(len(y)), y.numpy()]))


def through_rho(weights, X, y):
    """Another right answer: f~ = f / rho for a bias-free ReLU network."""
    h = X
    for W in weights[:-1]:
        h = torch.relu(h @ W.T)
    rho = math.prod(torch.linalg.matrix_norm(W).item() for W in weights)
    return F.cross_entropy(h @ weights[-1].T / rho, y)


def forward(matrices, X, relu_hidden=True, relu_last=False):
    h = X
    for i, V in enumerate(matrices):
        h = h @ V.T
        last = i == len(matrices) - 1
        if (relu_hidden and not last) or (relu_last and last):
            h = torch.relu(h)
    return h


def normalise(weights):
    return [W / torch.linalg.matrix_norm(W) for W in weights]


def check(fn):
    feedback = homework.check_normalized_cross_entropy(fn)
    assert "Traceback" not in str(feedback)
    return feedback


def test_right_answers_pass():
    for fn in (by_hand, through_rho, lambda W, X, y: F.cross_entropy(forward(normalise(W), X), y).item()):
        feedback = check(fn)
        assert feedback.passed and str(feedback).startswith("Correct.")


def test_stub_gets_the_hint():
    def stub(weights, X, y):
        raise NotImplementedError

    feedback = check(stub)
    assert not feedback.passed and "not implemented yet" in str(feedback) and "matrix_norm" in str(feedback)


@pytest.mark.parametrize("mistake, words", [
    (lambda W, X, y: F.cross_entropy(forward(W, X), y), "loss of f itself"),
    (lambda W, X, y: F.cross_entropy(forward([w / torch.linalg.matrix_norm(w, ord=2) for w in W], X), y),
     "spectral"),
    (lambda W, X, y: F.cross_entropy(forward([w / math.sqrt(sum((v**2).sum().item() for v in W)) for w in W], X), y),
     "its own Frobenius norm"),
    (lambda W, X, y: F.cross_entropy(forward(list(W[:-1]) + normalise(W)[-1:], X), y), "not only the last"),
    (lambda W, X, y: F.cross_entropy(forward(normalise(W), X, relu_hidden=False), y), "ReLU between"),
    (lambda W, X, y: F.cross_entropy(forward(normalise(W), X, relu_last=True), y), "no ReLU on the outputs"),
    (lambda W, X, y: F.cross_entropy(forward(normalise(W), X), y, reduction="sum"), "not their sum"),
    (lambda W, X, y: F.cross_entropy(forward(normalise(W), X), y) / math.log(2), "natural logarithm"),
    (lambda W, X, y: math.log(W[-1].shape[0]) - F.cross_entropy(forward(normalise(W), X), y).item(), "ln K minus"),
    (lambda W, X, y: F.cross_entropy(forward(normalise(W), X), y, reduction="none"), "one number"),
])
def test_typical_mistakes_are_explained(mistake, words):
    feedback = check(mistake)
    assert not feedback.passed and words in str(feedback), str(feedback)


def test_missing_return_crash_and_transposed_layers_are_explained():
    def no_return(weights, X, y):
        F.cross_entropy(forward(normalise(weights), X), y)

    assert "forget to `return`" in str(check(no_return))

    def transposed(weights, X, y):  # h @ V instead of h @ V.T: the shapes do not fit
        h = X
        for V in normalise(weights):
            h = h @ V
        return F.cross_entropy(h, y)

    feedback = check(transposed)
    assert not feedback.passed and "raised" in str(feedback)
