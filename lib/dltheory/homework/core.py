"""The machinery of the exercise checkers (see :mod:`dltheory.homework`).

:func:`compare` explains how an answer differs from the reference,
:func:`check_function` calls a student's function on test cases and never lets
its exception escape, and :class:`Feedback` is what both return.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


__all__ = ["Feedback", "compare", "check_function", "named_mistake", "student_line", "relu_network"]


@dataclass(frozen=True)
class Feedback:
    """The result of a check: ``passed`` and a message for the student."""

    passed: bool
    message: str
    details: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        head = ("Correct. " if self.passed else "Not yet. ") + self.message
        return "\n".join([head, *("  - " + d for d in self.details)])

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.passed


def relu_network(weights: Sequence[torch.Tensor]) -> nn.Sequential:
    """The bias-free ReLU network :math:`x \\mapsto W_L\\sigma(\\cdots\\sigma(W_1x))` with these layers.

    The reference networks of checkers that ask for a quantity of a list of
    weight matrices (a capacity, a spectral complexity).
    """
    layers: list[nn.Module] = []
    for A in weights:
        layer = nn.Linear(A.shape[1], A.shape[0], bias=False, dtype=A.dtype)
        with torch.no_grad():
            layer.weight.copy_(A)
        layers += [layer, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _to_numpy(x) -> np.ndarray | None:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (np.ndarray, float, int, np.floating, np.integer)):
        return np.asarray(x)
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            return None
    return None


def _as_reference_shape(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A one-element array counts as the number it holds when a number is expected."""
    return value.reshape(()) if shape == () and value.size == 1 else value


def compare(answer, reference, *, name: str = "your answer", rtol: float = 1e-6, atol: float = 1e-9) -> Feedback:
    """Compare an array-like answer with the reference and explain any difference.

    Checks, in order: that the answer is given at all (not ``None`` or ``...``), is
    a real number/array/tensor, has a dtype that can hold the answer, its shape
    (recognising a transpose; a one-element tensor or array counts as a number), NaN/inf, closeness within ``rtol``/``atol``, and
    for a wrong answer whether it is the reference up to sign or a constant factor.
    """
    if answer is None:
        return Feedback(False, f"{name} is None: did the function forget to `return` its result?")
    if answer is Ellipsis:
        return Feedback(False, f"{name} is still `...`: replace it with your answer.")
    ans, ref = _to_numpy(answer), _to_numpy(reference)
    if ans is None:
        return Feedback(False, f"{name} should be a tensor or an array, got {type(answer).__name__}.")
    if ref is None:
        raise TypeError(f"reference must be array-like, got {type(reference).__name__}")
    if ans.dtype.kind not in "biuf":
        return Feedback(False, f"{name} has dtype {ans.dtype}; a number or a real array is expected.")
    ans = _as_reference_shape(ans, ref.shape)
    if ans.dtype.kind in "biu" and ref.dtype.kind == "f" and not np.allclose(ref, np.round(ref)):
        return Feedback(False, f"{name} has an integer dtype ({ans.dtype}) but the answer is not integral: "
                               "did an integer division or a cast to int drop the fractional part?")
    if ans.shape != ref.shape:
        if ans.ndim == 2 and ans.T.shape == ref.shape:
            return Feedback(False, f"{name} has shape {ans.shape} but {ref.shape} is expected: it looks transposed.")
        return Feedback(False, f"{name} has shape {ans.shape} but {ref.shape} is expected.")
    if not np.isfinite(ans).all():
        return Feedback(False, f"{name} contains NaN or inf: is a matrix you invert singular?")
    ans64, ref64 = ans.astype(np.float64), ref.astype(np.float64)
    if np.allclose(ans64, ref64, rtol=rtol, atol=atol):
        return Feedback(True, f"{name} matches the reference (rtol={rtol:g}).")
    scale = np.linalg.norm(ref64)
    error = np.linalg.norm(ans64 - ref64) / (scale if scale > 0 else 1.0)
    details = [f"relative error {error:.2g} (tolerance {rtol:g})"]
    if np.allclose(-ans64, ref64, rtol=rtol, atol=atol):
        details.append("it is the reference with the opposite sign")
    elif scale > 0 and np.linalg.norm(ans64) > 0:
        factor = float(np.vdot(ans64, ref64) / np.vdot(ref64, ref64))
        if np.allclose(ans64, factor * ref64, rtol=1e-4, atol=atol):
            details.append(f"it is {factor:.4g} times the reference: a constant factor (1/n? 2?) is off")
    return Feedback(False, f"{name} differs from the reference.", tuple(details))


def named_mistake(answer, mistakes: Mapping[str, object], *, rtol: float = 1e-6, atol: float = 1e-12) -> str | None:
    """``"it looks like <text>."`` for the first typical mistake whose value the answer matches, else ``None``.

    ``mistakes`` maps the explanation of each typical wrong answer to what that
    wrong answer computes (an array, tensor or number of the reference's shape).
    """
    value = _to_numpy(answer)
    if value is None or value.dtype.kind not in "biuf":
        return None
    value = value.astype(np.float64)
    for text, wrong in mistakes.items():
        wrong = _to_numpy(wrong)
        candidate = _as_reference_shape(value, wrong.shape)
        if candidate.shape == wrong.shape and np.allclose(candidate, wrong, rtol=rtol, atol=atol):
            return "it looks like " + text + "."
    return None


def student_line(err: BaseException, fn: Callable) -> str:
    """Where ``err`` was raised in the student's own code ``fn`` (not a line inside torch or NumPy).

    A checker's wrapper around ``fn`` must be made with ``functools.wraps``, so
    that the student's function is found behind it (``inspect.unwrap``).
    """
    frames = traceback.extract_tb(err.__traceback__)
    own = getattr(getattr(inspect.unwrap(fn), "__code__", None), "co_filename", None)
    mine = [f for f in frames if f.filename == own] or frames
    where = mine[-1]
    code = (where.line or "").strip()
    return f"line {where.lineno}: `{code}`" if code else f"line {where.lineno}"


def _describe(args: Sequence) -> str:
    parts = []
    for a in args:
        parts.append(f"tensor of shape {tuple(a.shape)}" if isinstance(a, torch.Tensor) else repr(a))
    return ", ".join(parts)


def check_function(
    fn: Callable,
    reference: Callable,
    cases: Sequence[Sequence],
    *,
    name: str | None = None,
    hint: str = "",
    rtol: float = 1e-6,
    diagnose: Callable[..., str | None] | None = None,
    mistakes: Callable[..., Mapping[str, object]] | None = None,
) -> Feedback:
    """Call ``fn`` and ``reference`` on every argument tuple in ``cases`` and compare.

    Parameters
    ----------
    hint
        Shown when ``fn`` is still a stub (raises ``NotImplementedError``).
    diagnose
        ``diagnose(answer, *args) -> str | None``: an exercise-specific
        explanation of a wrong answer, added to the feedback.
    mistakes
        ``mistakes(*args) -> {explanation: wrong value}``: the typical wrong
        answers (:func:`named_mistake`); one the answer matches is named and
        replaces the generic guess of a constant factor.
    """
    name = name or getattr(fn, "__name__", "your function")
    for i, args in enumerate(cases, start=1):
        try:
            answer = fn(*args)
        except NotImplementedError:
            return Feedback(False, f"{name} is not implemented yet." + (f" Hint: {hint}" if hint else ""))
        except Exception as err:  # the student's code failed: explain, don't re-raise
            return Feedback(
                False,
                f"{name} raised {type(err).__name__}: {err} ({student_line(err, fn)}) "
                f"on test case {i} with arguments ({_describe(args)}).",
            )
        feedback = compare(answer, reference(*args), name=f"the result of {name} on test case {i}", rtol=rtol)
        if not feedback.passed and (answer is None or answer is Ellipsis):
            return feedback  # nothing to diagnose: compare says what is missing
        if not feedback.passed:
            details = feedback.details
            named = named_mistake(answer, mistakes(*args)) if mistakes is not None else None
            if named:  # the specific diagnosis replaces the generic guess of a constant factor
                details = tuple(d for d in details if "times the reference" not in d) + (named,)
            extra = diagnose(answer, *args) if diagnose is not None else None
            return Feedback(False, feedback.message, details + ((extra,) if extra else ()))
    return Feedback(True, f"{name} agrees with the reference on all {len(cases)} test cases.")
