"""The checker of the reduced-rank exercise: right answers pass, typical mistakes are named."""

import numpy as np
import pytest
import torch

from dltheory import homework, topology


def right(X, Y, k):
    B_hat = np.linalg.solve(X.T @ X, X.T @ Y).T
    V = np.linalg.svd(X @ B_hat.T)[2][:k].T
    return V @ V.T @ B_hat


def test_right_answers_pass():
    assert homework.check_reduced_rank_solution(right).passed
    assert homework.check_reduced_rank_solution(lambda X, Y, k: topology.reduced_rank_regression(X, Y, k).B).passed
    assert homework.check_reduced_rank_solution(lambda X, Y, k: torch.tensor(right(X, Y, k))).passed
    assert str(homework.check_reduced_rank_solution(right)).startswith("Correct.")


def ols(X, Y):
    return np.linalg.lstsq(X, Y, rcond=None)[0].T


def truncate(A, k):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


WRONG = {
    "the truncated SVD of the least-squares coefficients": lambda X, Y, k: truncate(ols(X, Y), k),
    "the truncated SVD of the targets": lambda X, Y, k: ols(X, truncate(Y, k)),
    "rank k + 1": lambda X, Y, k: right(X, Y, k + 1),
    "the ordinary least-squares solution itself": lambda X, Y, k: ols(X, Y),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_reduced_rank_solution(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_transposed_answer_is_caught():
    feedback = homework.check_reduced_rank_solution(lambda X, Y, k: right(X, Y, k).T)
    assert not feedback.passed
