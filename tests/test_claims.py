import math

import numpy as np
import pytest
import torch

from dltheory.claims import ClaimFailed, claim, format_bound, format_value, relative_error


def test_passing_claim_prints_one_readable_line(capsys):
    assert claim("GD converges", "relative error", 3.14e-9, at_most=1e-6) is None
    assert capsys.readouterr().out == "[PASS] GD converges: relative error = 3.1e-09 <= 1e-06\n"


def test_failing_claim_raises_with_explanation(capsys):
    with pytest.raises(ClaimFailed, match=r"relative error = 0\.5 <= 0\.1\. the step is too large"):
        claim("GD converges", "relative error", 0.5, at_most=0.1, why="the step is too large")
    assert capsys.readouterr().out.startswith("[FAIL] GD converges")


def test_claim_is_an_assertion():
    assert issubclass(ClaimFailed, AssertionError)


@pytest.mark.parametrize(
    "kwargs, value, holds",
    [
        (dict(at_least=1.0), 1.0, True),
        (dict(at_least=1.0), 0.999, False),
        (dict(at_least=0, at_most=1), 0.5, True),
        (dict(at_least=0, at_most=1), 1.5, False),
        (dict(close_to=160, tol=0), 160, True),
        (dict(close_to=160, tol=0), 159, False),
        (dict(close_to=1.0, tol=0.05), 0.96, True),
    ],
)
def test_requirements(kwargs, value, holds):
    if holds:
        claim("s", "q", value, **kwargs)
    else:
        with pytest.raises(ClaimFailed):
            claim("s", "q", value, **kwargs)


def test_nan_never_passes():
    with pytest.raises(ClaimFailed):
        claim("s", "q", float("nan"), at_most=1.0)
    with pytest.raises(ClaimFailed):
        claim("s", "q", math.nan, at_least=-math.inf)


def test_accepts_scalar_tensors_and_arrays(capsys):
    claim("s", "q", torch.tensor(0.25), at_most=1)
    claim("s", "q", np.array([0.25]), at_most=1)
    assert capsys.readouterr().out.count("q = 0.25") == 2


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (torch.ones(2), dict(at_most=1), "scalar"),
        (True, dict(at_most=1), "bool"),
        ("x", dict(at_most=1), "number"),
        (1.0, dict(), "requirement"),
        (1.0, dict(close_to=1.0), "tol"),
        (1.0, dict(at_most=1.0, tol=0.1), "close_to"),
        (1.0, dict(at_least=2, at_most=1), "empty range"),
        (1.0, dict(close_to=1.0, tol=-1), "non-negative"),
    ],
)
def test_malformed_claims_are_value_errors(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        claim("s", "q", value, **kwargs)


@pytest.mark.parametrize(
    "x, text",
    [(0.0, "0"), (1.0, "1"), (4000.0, "4000"), (123.456, "123"), (0.5, "0.5"), (3.14159e-9, "3.1e-09"), (2e-13, "<1e-12"),
     (-2e-13, ">-1e-12"), (12345.6, "1.2e+04"), (math.inf, "inf")],
)
def test_format_value(x, text):
    assert format_value(x) == text


def test_relative_error_against_numpy():
    a, b = torch.tensor([[1.0, 2.0]]), np.array([[1.0, 2.5]])
    assert relative_error(a, b) == pytest.approx(0.5 / np.linalg.norm(b))
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(a, b.T)
    with pytest.raises(ValueError, match="zero"):
        relative_error(a, np.zeros((1, 2)))


@pytest.mark.parametrize(
    "x, near, text",
    [
        (0.9996, (1.0,), "0.9996"),  # never "1 <= 1"
        (1.0004, (1.0,), "1.0004"),
        (0.985, (0.99,), "0.985"),  # a failing value must not print as the bound
        (0.989, (0.99,), "0.989"),
        (0.97, (0.99,), "0.97"),  # far from the bound: the usual two digits
        (16.5, (3.0,), "16.5"),
        (1.0 - 1e-9, (1.0,), "1"),  # beyond six digits the difference is round-off
        (2.0, (2.0,), "2"),
    ],
)
def test_values_near_their_bound_print_with_enough_digits(x, near, text):
    assert format_value(x, near=near) == text


@pytest.mark.parametrize("b, text", [(0.999, "0.999"), (0.2, "0.2"), (3.0, "3"), (1e-12, "1e-12"),
                                     (2.0 ** 1.5, "2.83"), (1 / 3, "0.33")])
def test_thresholds_print_as_written(b, text):
    assert format_bound(b) == text


def test_the_verdict_tells_a_value_from_its_threshold(capsys):
    claim("a ratio near one", "ratio", 0.9993, at_least=0.999)
    assert "ratio = 0.9993 >= 0.999" in capsys.readouterr().out
    with pytest.raises(ClaimFailed):
        claim("a ratio near one", "ratio", 0.9986, at_least=0.999)
    assert "ratio = 0.9986 >= 0.999" in capsys.readouterr().out
