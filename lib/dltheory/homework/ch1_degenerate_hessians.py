"""Checker of chapter 1's exercise on counting the Hessian's null space from the Jacobian.

At a point of zero square loss the Hessian is :math:`J^\\top J / n`, so its number of
zero eigenvalues is :math:`P - \\operatorname{rank} J`, with :math:`J` the
:math:`(n d') \\times P` Jacobian of all outputs. The exercise asks for that number
from the per-example Jacobian of :func:`dltheory.ntk.jacobian`, of shape
``(n, d', P)``, without forming the :math:`P \\times P` Hessian.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import models, ntk
from .core import Feedback, _to_numpy, check_function

__all__ = ["check_hessian_null_space_dimension"]

#: A Hessian eigenvalue (a squared singular value of J) at most this fraction of the
#: largest counts as zero; the test cases have no eigenvalue between 1e-30 and 1e-4.
RTOL = 1e-9
#: The factor of the rescaled test case: an absolute tolerance miscounts it.
_TINY = 1e-9


def reference_null_space_dimension(J: torch.Tensor, rtol: float = RTOL) -> int:
    """:math:`P - \\operatorname{rank} J` with the rank counted relative to the largest singular value."""
    J2 = J.reshape(-1, J.shape[-1])
    P = J2.shape[1]
    s = torch.linalg.svdvals(J2)
    if s.numel() == 0 or s[0] == 0:
        return P
    return P - int((s.square() > rtol * s[0].square()).sum())


def _jacobian_cases() -> list[tuple[torch.Tensor]]:
    """Jacobians of small bias-free ReLU networks, each with a lesson.

    1. wide, full row rank: ``(n, d', P) = (4, 2, 30)``, rank 8, answer 22;
    2. narrow (:math:`P = 10 < n d' = 24`): rank 8 because each of the 2 hidden
       units has a rescaling symmetry, answer 2;
    3. the wide network with its first example repeated: rank still 8, answer 22,
       while :math:`P - n d' = 20`;
    4. case 1 multiplied by 1e-9: the rank does not change, answer 22.
    """
    g = torch.Generator().manual_seed(100)
    wide = models.mlp([3, 6, 2], bias=False, seed=0, dtype=torch.float64)
    X = torch.randn(4, 3, generator=g, dtype=torch.float64)
    narrow = models.mlp([3, 2, 2], bias=False, seed=0, dtype=torch.float64)
    X_narrow = torch.randn(12, 3, generator=g, dtype=torch.float64)
    J_wide = ntk.jacobian(wide, X)
    return [
        (J_wide,),
        (ntk.jacobian(narrow, X_narrow),),
        (ntk.jacobian(wide, torch.cat([X, X[:1]])),),
        (_TINY * J_wide,),
    ]


def _as_number(answer) -> float | None:
    value = _to_numpy(answer)
    if value is None or value.size != 1 or value.dtype.kind not in "biuf":
        return None
    return float(value.reshape(()))


def _diagnose(answer, J: torch.Tensor) -> str | None:
    """Name the typical mistakes that give this wrong count (several when they coincide)."""
    x = _as_number(answer)
    if x is None:
        return None
    if x != round(x):
        return f"A dimension is a whole number, but your function returned {x:g}."
    a = int(round(x))
    n, k, P = J.shape
    J2 = J.reshape(n * k, P)
    rank = P - reference_null_space_dimension(J)
    if a < 0:
        return (f"Your function returned {a}, but a dimension cannot be negative. When P < n d' "
                "the bound P - n d' is negative; count P - rank(J) instead.")
    if torch.linalg.matrix_norm(J2) < 1e-6:
        return (f"This test case is a Jacobian times {_TINY:g}, which has the same rank. Your count "
                "changed, so your tolerance is absolute: compare with rtol times the largest "
                "singular value (or eigenvalue).")
    one_output = P - reference_null_space_dimension(J[:, :1, :])
    reshape = ("J has d' rows per example, one per output: reshape it to (n * d', P) before "
               "taking the rank.")
    candidates = [
        (rank, f"You returned the rank of J ({rank}). The Hessian J^T J / n is P x P with P = {P}: "
               "its null space has dimension P - rank(J)."),
        (min(n * k, P) - rank if n * k < P else None,
         f"You counted the zero singular values of J (or zero eigenvalues of the {n * k} x {n * k} "
         f"Gram matrix J J^T). J^T J is {P} x {P}: besides those, P - n d' = {P - n * k} more "
         "eigenvalues are zero."),
        (max(P - n * k, 0), f"P - n d' = {P - n * k} (or 0 when that is negative) is only a lower "
                            "bound: J can have rank below min(n d', P), because of repeated examples "
                            "or symmetries. Count P - rank(J)."),
        (P - int((torch.linalg.svdvals(J2) > 0).sum()),
         "Singular values that vanish in exact arithmetic come out as round-off (about 1e-16 times "
         "the largest), not as 0: count only those above rtol times the largest."),
        (P - n, reshape),
        (P - one_output, reshape),
    ]
    messages = []
    for value, message in candidates:
        if value == a and message not in messages:
            messages.append(message)
    context = f"Here J has shape (n, d', P) = {(n, k, P)} and your function returned {a}."
    if len(messages) > 1:
        return context + " Possibly: " + " Or: ".join(messages)
    return " ".join([context, *messages])


def check_hessian_null_space_dimension(fn: Callable[..., int]) -> Feedback:
    """Check ``hessian_null_space_dimension(J, rtol=1e-9) -> int``.

    ``J`` is a per-example Jacobian of shape ``(n, d', P)``, as returned by
    :func:`dltheory.ntk.jacobian`. The answer is the number of zero eigenvalues
    of :math:`J^\\top J`, that is :math:`P - \\operatorname{rank} J`. The four
    test cases are described in :func:`_jacobian_cases`.
    """
    feedback = check_function(
        fn,
        reference_null_space_dimension,
        _jacobian_cases(),
        name="hessian_null_space_dimension",
        hint=("reshape J to (n * d', P), compute its singular values (torch.linalg.svdvals), "
              "count those that are not negligible, and subtract that rank from P."),
        diagnose=_diagnose,
    )
    if feedback.passed or not feedback.details:
        return feedback
    # A count is right or wrong: drop the generic notes on relative errors and constant factors.
    generic = ("relative error", "times the reference", "opposite sign")
    details = tuple(d for d in feedback.details if not d.startswith(generic) and "times the reference" not in d)
    return Feedback(False, feedback.message, details or feedback.details)
