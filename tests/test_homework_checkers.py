"""What every exercise checker owes a student whose function is not written yet.

Each ``homework.check_*`` is called with the three unfinished functions a
student hands in: one that raises ``NotImplementedError`` (the stub cell), one
that returns ``None`` (a forgotten ``return``) and one that returns ``...``. The
feedback must say so in words, with the exercise's hint for the stub, and never
as a traceback. The per-exercise tests check right answers and named mistakes.
"""

import pytest

from dltheory import homework

CHECKERS = sorted(name for name in homework.__all__ if name.startswith("check_") and name != "check_function")


def test_every_exercise_checker_is_covered():
    assert len(CHECKERS) >= 21


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: write this function")


@pytest.mark.parametrize("name", CHECKERS)
def test_a_stub_gets_the_hint_not_a_traceback(name):
    feedback = getattr(homework, name)(stub)
    assert not feedback.passed
    text = str(feedback)
    assert "not implemented yet" in text and "Hint" in text and "Traceback" not in text, text


@pytest.mark.parametrize("name", CHECKERS)
def test_a_missing_return_is_named(name):
    feedback = getattr(homework, name)(lambda *args, **kwargs: None)
    assert not feedback.passed and "forget to `return`" in str(feedback), str(feedback)


@pytest.mark.parametrize("name", CHECKERS)
def test_an_ellipsis_is_named(name):
    feedback = getattr(homework, name)(lambda *args, **kwargs: ...)
    assert not feedback.passed and "still `...`" in str(feedback), str(feedback)
