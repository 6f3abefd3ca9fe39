"""Checkers of chapter 2's exercises on Brutzkus et al.'s network: the bound on the number of non-zero SGD
updates, and one SGD step that trains the outer layer too (the lecture's open question)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..hinge_sgd import update_bound
from .core import Feedback, check_function

__all__ = ["check_update_bound", "check_sgd_step_both"]

HINT = ("on a non-zero update F = sum_j sign(a_j) <w_j, w*> grows by at least 2 k eta v alpha and ||W||_F^2 by at "
        "most 2 eta + 2 k eta^2 v^2; with F <= sqrt(2k) ||w*|| ||W||_F and W_0 = 0, solve for M.")

# (||w*||, alpha, eta, k, v): the first case tells every typical mistake apart (v is not 1/sqrt(k), eta is not 1)
CASES = [(3.0, 0.3, 0.25, 7, 0.4), (10.0, 0.2, 2.0, 50, 0.05), (1.7, 0.9, 0.6, 3, 1.3)]


def _reference(w_star_norm: float, alpha: float, eta: float, k: int, v: float) -> float:
    return update_bound(w_star_norm, alpha=alpha, eta=eta, k=k, v=v)


def _mistakes(w: float, alpha: float, eta: float, k: int, v: float) -> dict[str, float]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    right = _reference(w, alpha, eta, k, v)
    return {
        "||w*||^2 / alpha^2 alone, the 1/eta term forgotten: the cross term 2 <W, Delta> = 2 eta y N(x) < 2 eta "
        "of every update gives the 1 / (k eta v^2); together (||w*||^2 / alpha^2)(1 + 1/(k eta v^2))":
            w**2 / alpha**2,
        "the bound with ||w*|| where its square belongs: Cauchy-Schwarz bounds F by sqrt(2k) ||w*|| ||W||_F, and "
        "squaring the inequality squares ||w*||": w / alpha**2 * (1 + 1 / (k * eta * v**2)),
        "the bound with alpha where alpha^2 belongs: F grows linearly in alpha, and squaring the inequality "
        "squares it": w**2 / alpha * (1 + 1 / (k * eta * v**2)),
        "(||w*||^2 / alpha^2)(1 + 1/eta), the form for v = 1/sqrt(k) only: keep k and v, the second term is "
        "1 / (k eta v^2)": w**2 / alpha**2 * (1 + 1 / eta),
        "1 / (eta v^2) without the k: the k units of each sign each add eta^2 v^2 to ||Delta||^2 and 2 eta v "
        "alpha to F": w**2 / alpha**2 * (1 + 1 / (eta * v**2)),
        "k eta v^2 where its inverse belongs: the term is 1 / (k eta v^2), large for small steps":
            w**2 / alpha**2 * (1 + k * eta * v**2),
        "the bound without the 1: the squared step ||Delta||^2 <= 2 k eta^2 v^2 adds to ||W||^2 on every "
        "update and gives the 1": w**2 / (alpha**2 * k * eta * v**2),
        "half the bound: both 2 <W, Delta> < 2 eta and ||Delta||^2 <= 2 k eta^2 v^2 carry a factor 2": right / 2,
        "twice the bound: F gains 2 k eta v alpha per update (k units of each sign), not k eta v alpha": 2 * right,
        "the bound rounded down: return it unrounded (M is at most its floor, but the bound itself is the "
        "real number)": float(np.floor(right)),
        "the bound rounded up: return it unrounded": float(np.ceil(right)),
    }


def check_update_bound(fn: Callable[[float, float, float, int, float], float]) -> Feedback:
    """Check an implementation of ``update_bound(w_star_norm, alpha, eta, k, v)``.

    The answer is Brutzkus et al.'s bound from :math:`W_0 = 0` with inputs in the
    unit ball, :math:`M \\le (\\lVert w^*\\rVert^2/\\alpha^2)(1 + 1/(k\\eta v^2))`
    (reference :func:`dltheory.hinge_sgd.update_bound`). The test cases take
    :math:`v \\ne 1/\\sqrt k` and :math:`\\eta \\ne 1`, so that the typical slips
    (the :math:`1/\\eta` term forgotten, :math:`\\lVert w^*\\rVert` or :math:`\\alpha`
    unsquared, :math:`k` or :math:`v` dropped, a factor 2, rounding) give
    different numbers and are named.
    """
    return check_function(fn, _reference, CASES, name="update_bound", hint=HINT, rtol=1e-9,
                          mistakes=_mistakes)


# --------------------------------------------------------------------------- both layers trained

STEP_HINT = ("if y * N(x) < 1, with z = W @ x and N(x) = a @ sigma(z): W + eta * y * outer(a * sigma'(z), x) and "
             "a + eta * y * sigma(z), both from the values before the step; otherwise (W, a) unchanged.")


def _step_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float, float]]:
    """(W, a, x, y, alpha, eta): updates with mixed unit signs, and one example with margin above 1."""
    rng = np.random.default_rng(2018)
    cases = []
    for m, d, y, scale in [(6, 4, 1.0, 0.5), (8, 3, -1.0, 0.7), (4, 5, 1.0, 6.0)]:
        W = rng.standard_normal((m, d)) * scale
        a = rng.standard_normal(m) * 0.8
        x = rng.standard_normal(d)
        x /= 1.2 * np.linalg.norm(x)
        cases.append((W, a, x, y, 0.3, 0.7))
    W, a, x, _, alpha, eta = cases[2]
    z = W @ x
    cases[2] = (W, a, x, float(np.sign(a @ np.maximum(z, alpha * z))), alpha, eta)  # y N(x) > 1: no update
    return cases


def _step_reference(W, a, x, y, alpha, eta) -> tuple[np.ndarray, np.ndarray]:
    """One SGD step on max(0, 1 - y N(x)) for W and a, by PyTorch's autograd."""
    import torch

    W_t = torch.tensor(W, requires_grad=True)
    a_t = torch.tensor(a, requires_grad=True)
    out = a_t @ torch.nn.functional.leaky_relu(W_t @ torch.tensor(x), alpha)
    loss = torch.relu(1 - y * out)
    loss.backward()
    return (W - eta * W_t.grad.numpy(), a - eta * a_t.grad.numpy())


def _step_mistakes(W, a, x, y, alpha, eta) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    z = W @ x
    s, ds = np.maximum(z, alpha * z), np.where(z > 0, 1.0, alpha)
    dW, da = eta * y * np.outer(a * ds, x), eta * y * s
    right_W, right_a = W + dW, a + da
    a_new = right_a
    W_with_new_a = W + eta * y * np.outer(a_new * ds, x)
    active = y * (a @ s) < 1
    keep = (lambda pair: pair) if active else (lambda pair: (W, a))
    return {
        "the update of W computed with the already updated a: both gradients are taken at the point "
        "before the step": keep((W_with_new_a, right_a)),
        "a updated with the already updated W: both gradients are taken at the point before the step":
            keep((right_W, a + eta * y * np.maximum(right_W @ x, alpha * (right_W @ x)))),
        "sigma'(z) left out of the update of W: each row moves by eta y a_j sigma'(<w_j, x>) x":
            keep((W + eta * y * np.outer(a, x), right_a)),
        "sigma'(z) in the update of a where sigma(z) belongs: dN/da_j = sigma(<w_j, x>)":
            keep((right_W, a + eta * y * ds)),
        "a left unchanged: in this exercise the outer layer is trained too": keep((right_W, a)),
        "a step of the wrong sign (gradient ascent, or the label y left out where y = -1): the step is minus eta "
        "times the gradient of max(0, 1 - y N), which carries the factor -y": keep((W - dW, a - da)),
        "an update although y N(x) >= 1: the hinge loss is then zero and so is its gradient": (right_W, right_a),
    }


def _as_pair(answer):
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return None
    return answer


def check_sgd_step_both(fn: Callable) -> Feedback:
    """Check ``sgd_step_both(W, a, x, y, alpha, eta) -> (W_new, a_new)``, one SGD step on both layers.

    The reference is one step of size ``eta`` along minus the gradient of
    :math:`\\max(0, 1 - yN(x))`, :math:`N(x) = \\sum_j a_j\\sigma(\\langle w_j, x\\rangle)`,
    in :math:`W` and :math:`a` together, computed by PyTorch's autograd. The
    third test case has :math:`yN(x) > 1`, where nothing may change.
    """
    from .core import _to_numpy, compare, named_mistake

    name = "sgd_step_both"
    for i, case in enumerate(_step_cases(), start=1):
        args = tuple(np.copy(v) if isinstance(v, np.ndarray) else v for v in case)
        try:
            answer = fn(*args)
        except NotImplementedError:
            return Feedback(False, f"{name} is not implemented yet. Hint: {STEP_HINT}")
        except Exception as err:  # the student's code failed: explain, don't re-raise
            return Feedback(False, f"{name} raised {type(err).__name__}: {err} on test case {i}.")
        if answer is None or answer is Ellipsis:
            return compare(answer, 0.0, name=f"the result of {name} on test case {i}")
        pair = _as_pair(answer)
        if pair is None:
            return Feedback(False, f"{name} should return a pair (W_new, a_new), got {type(answer).__name__}.")
        reference = _step_reference(*case)
        for part, got, want in zip(("W_new", "a_new"), pair, reference):
            feedback = compare(got, want, name=f"{part} on test case {i}", rtol=1e-9)
            if not feedback.passed:
                mistakes = {text: wrong[0 if part == "W_new" else 1] for text, wrong in _step_mistakes(*case).items()}
                named = named_mistake(_to_numpy(got), mistakes) if _to_numpy(got) is not None else None
                details = tuple(d for d in feedback.details if not named or "times the reference" not in d)
                return Feedback(False, feedback.message, details + ((named,) if named else ()))
    return Feedback(True, f"{name} agrees with autograd on all {len(_step_cases())} test cases "
                          "(two updates and one example with margin above 1).")

