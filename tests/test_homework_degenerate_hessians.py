"""The checker of the exercise on the Hessian's null space: right answers pass, the stub
gets a hint, and each typical mistake gets its own diagnosis."""

import torch

from dltheory import homework
from dltheory.homework.ch1_degenerate_hessians import RTOL, _jacobian_cases, reference_null_space_dimension


def by_svd(J, rtol=1e-9):
    J2 = J.reshape(-1, J.shape[-1])
    s = torch.linalg.svdvals(J2)
    return J2.shape[1] - int((s.square() > rtol * s[0].square()).sum())


def by_gram(J, rtol=1e-9):
    J2 = J.reshape(-1, J.shape[-1])
    ev = torch.linalg.eigvalsh(J2 @ J2.T)
    return J2.shape[1] - int((ev > rtol * ev.max()).sum())


def test_the_cases_have_a_clear_gap_and_the_documented_answers():
    answers = []
    for (J,) in _jacobian_cases():
        s = torch.linalg.svdvals(J.reshape(-1, J.shape[-1]))
        ratio = s.square() / s[0].square()
        assert ((ratio < 1e-30) | (ratio > 1e-4)).all()  # no eigenvalue near the threshold RTOL
        answers.append(reference_null_space_dimension(J))
    assert answers == [22, 2, 22, 22]
    assert 1e-30 < RTOL < 1e-4


def test_right_answers_pass():
    for answer in (by_svd, by_gram, lambda J: int(J.shape[-1] - torch.linalg.matrix_rank(J.reshape(-1, J.shape[-1])))):
        feedback = homework.check_hessian_null_space_dimension(answer)
        assert feedback.passed, str(feedback)


def test_stub_gets_the_hint_not_a_traceback():
    def stub(J, rtol=1e-9):
        raise NotImplementedError

    feedback = homework.check_hessian_null_space_dimension(stub)
    assert not feedback.passed
    assert "not implemented yet" in str(feedback) and "svdvals" in str(feedback)
    assert "Traceback" not in str(feedback)


def rank_only(J, rtol=1e-9):
    return J.shape[-1] - by_svd(J, rtol)


def small_singular_values(J, rtol=1e-9):
    s = torch.linalg.svdvals(J.reshape(-1, J.shape[-1]))
    return int((s.square() <= rtol * s[0].square()).sum())


def bound(J, rtol=1e-9):
    n, k, P = J.shape
    return P - n * k


def clipped_bound(J, rtol=1e-9):
    n, k, P = J.shape
    return max(P - n * k, 0)


def no_tolerance(J, rtol=1e-9):
    return J.shape[-1] - int((torch.linalg.svdvals(J.reshape(-1, J.shape[-1])) > 0).sum())


def first_output_only(J, rtol=1e-9):
    return by_svd(J[:, :1, :], rtol)


def absolute_tolerance(J, rtol=1e-9):
    return J.shape[-1] - int((torch.linalg.svdvals(J.reshape(-1, J.shape[-1])) > 1e-6).sum())


def test_typical_mistakes_are_named():
    expected = {
        rank_only: "rank of J",
        small_singular_values: "zero singular values of J",
        bound: "cannot be negative",
        clipped_bound: "lower bound",
        no_tolerance: "round-off",
        first_output_only: "one per output",
        absolute_tolerance: "absolute",
    }
    for fn, phrase in expected.items():
        feedback = homework.check_hessian_null_space_dimension(fn)
        assert not feedback.passed, fn.__name__
        assert phrase in str(feedback), (fn.__name__, str(feedback))


def test_crash_and_wrong_type_are_explained():
    feedback = homework.check_hessian_null_space_dimension(lambda J, rtol=1e-9: J @ J)
    assert not feedback.passed and "raised RuntimeError" in str(feedback)
    feedback = homework.check_hessian_null_space_dimension(lambda J, rtol=1e-9: None)
    assert "forget to `return`" in str(feedback)


def test_a_fractional_count_is_named():
    feedback = homework.check_hessian_null_space_dimension(lambda J, rtol=1e-9: 22.5)
    assert not feedback.passed and "whole number" in str(feedback)
    assert "times the reference" not in str(feedback)
