import numpy as np
import torch

from dltheory import homework


def reference_answer(X, Y):
    return torch.linalg.solve(X @ X.T, Y).T @ X if X.shape[0] <= X.shape[1] else (torch.linalg.pinv(X) @ Y).T


def test_right_answer_passes():
    feedback = homework.check_min_norm_solution(lambda X, Y: (torch.linalg.pinv(X) @ Y).T)
    assert feedback.passed and bool(feedback)
    assert str(feedback).startswith("Correct.")


def test_transposed_answer_is_recognised():
    feedback = homework.check_min_norm_solution(lambda X, Y: torch.linalg.pinv(X) @ Y)
    assert not feedback.passed and "transposed" in str(feedback)


def test_interpolating_but_not_minimal_answer_is_explained():
    def with_null_component(X, Y):
        W = (torch.linalg.pinv(X) @ Y).T
        null = torch.eye(X.shape[1], dtype=X.dtype) - torch.linalg.pinv(X) @ X
        return W + torch.ones_like(W) @ null

    feedback = homework.check_min_norm_solution(with_null_component)
    assert not feedback.passed
    assert "not the minimum-norm fit" in str(feedback) and "null space" in str(feedback)


def test_scale_factor_is_named():
    feedback = homework.check_min_norm_solution(lambda X, Y: 2 * (torch.linalg.pinv(X) @ Y).T)
    assert "2 times the reference" in str(feedback)


def test_singular_inverse_gives_nan_hint():
    feedback = homework.compare(torch.tensor([[float("nan"), 1.0]]), torch.ones(1, 2))
    assert "NaN" in feedback.message and "singular" in feedback.message


def test_student_code_that_crashes_is_reported_with_its_line():
    def broken(X, Y):
        return X @ Y  # shapes do not match

    feedback = homework.check_min_norm_solution(broken)
    assert not feedback.passed
    assert "raised RuntimeError" in feedback.message and "return X @ Y" in feedback.message


def test_missing_return_and_wrong_type():
    assert "forget to `return`" in homework.compare(None, np.ones(2)).message
    assert "tensor or an array" in homework.compare("W", np.ones(2)).message


def test_sign_flip_is_named():
    feedback = homework.compare(-np.arange(1.0, 4.0), np.arange(1.0, 4.0))
    assert "opposite sign" in str(feedback)


def test_check_function_on_generic_functions():
    cases = [(np.arange(3.0),), (np.ones(2),)]
    assert homework.check_function(np.square, lambda x: x * x, cases).passed
    assert not homework.check_function(np.abs, lambda x: x * x, cases).passed


def test_unanswered_ellipsis_and_wrong_dtypes_are_explained():
    assert "still `...`" in homework.compare(..., np.ones(2)).message
    assert "integer dtype" in homework.compare(np.array([0, 1]), np.array([0.5, 1.5])).message
    assert homework.compare(np.array([1, 2]), np.array([1.0, 2.0])).passed  # an integral answer may be int
    assert "real array" in homework.compare(np.array(["a"]), np.ones(1)).message


def test_a_named_mistake_replaces_the_guess_of_a_constant_factor():
    reference = lambda x: 2 * x  # noqa: E731
    mistakes = lambda x: {"the factor 2 is missing": x}  # noqa: E731
    feedback = homework.core.check_function(lambda x: x, reference, [(torch.ones(3),)], mistakes=mistakes)
    assert "it looks like the factor 2 is missing." in feedback.details
    assert not any("times the reference" in d for d in feedback.details)
    assert homework.core.named_mistake(torch.zeros(3), mistakes(torch.ones(3))) is None
    assert homework.core.named_mistake("text", mistakes(torch.ones(3))) is None


def test_student_line_points_into_the_students_code_even_behind_a_wrapper():
    import functools

    from dltheory.homework.core import student_line

    def student(a):
        return a @ a  # the line to report

    @functools.wraps(student)
    def wrapped(a):
        return student(a)

    for fn in (student, wrapped):
        try:
            fn(torch.ones(2, 3))
        except RuntimeError as err:
            assert student_line(err, fn).endswith("`return a @ a  # the line to report`")
        else:
            raise AssertionError("the product should have failed")


def test_a_one_element_answer_counts_as_the_number_it_holds():
    assert homework.compare(torch.tensor([0.5]), 0.5).passed
    assert homework.compare(np.array([[0.5]]), 0.5).passed
    assert not homework.compare(torch.tensor([0.5, 0.5]), 0.5).passed
    assert not homework.compare(torch.tensor([0.5]), np.array([0.5, 0.5])).passed
    from dltheory.homework.core import named_mistake
    assert named_mistake(torch.tensor([2.0]), {"the double": 2.0}) == "it looks like the double."
