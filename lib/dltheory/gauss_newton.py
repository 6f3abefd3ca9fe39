"""Gauss-Newton in the Gram form: the minimum-norm step, the quadratic constant, a cost model.

:class:`dltheory.train.GramGaussNewton` is the optimizer (Cai et al. 2019).
This module holds what one needs to *check* it and to compare it with
first-order methods:

* :func:`min_norm_step`: the minimum-norm solution of the Gauss-Newton
  equations :math:`J^\\top J\\,\\Delta w = -J^\\top r` by
  ``numpy.linalg.lstsq``, an oracle independent of the Gram-matrix solve;
* :func:`quadratic_constants`: :math:`K_t = R_{t+1}/R_t^2` along a run, over
  the steps that stay above round-off;
* :func:`step_flops` and :func:`cumulative_flops`: a deterministic count of
  multiply-adds per step for GD, SGD, Adam and GGN, so that methods can be
  compared on a cost axis that does not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._checks import check_choice, check_int, check_real

__all__ = ["METHODS", "ADAM_ELEMENTWISE", "min_norm_step", "quadratic_constants", "step_flops",
           "cumulative_flops"]

#: The methods :func:`step_flops` knows.
METHODS = ("gd", "sgd", "adam", "ggn")
#: Adam's element-wise work per parameter and step (two moment updates, the
#: bias corrections, a square root and a division), in multiply-adds.
ADAM_ELEMENTWISE = 8


def min_norm_step(J, r) -> np.ndarray:
    """The minimum-norm Gauss-Newton step :math:`\\Delta w = -J^+ r`, by ``numpy.linalg.lstsq``.

    Among all solutions of the Gauss-Newton equations
    :math:`J^\\top J\\,\\Delta w = -J^\\top r` (the normal equations of
    :math:`\\min_{\\Delta w}\\lVert r + J\\Delta w\\rVert`), the one of least
    Euclidean norm is :math:`-J^+ r`, with :math:`J^+` the Moore-Penrose
    pseudo-inverse. When :math:`J` (``n x P``, :math:`P \\ge n`) has full row
    rank, :math:`J^+ = J^\\top(JJ^\\top)^{-1}`, which is the step of
    Gram-Gauss-Newton with :math:`\\lambda = 1, \\alpha = 0` (Cai et al. 2019,
    their "key observation"; chapter 1's minimum-norm section proves the
    minimum-norm property). ``lstsq`` computes it through an SVD of :math:`J`,
    without forming :math:`JJ^\\top`, so it is an independent check of
    :class:`dltheory.train.GramGaussNewton`.

    Parameters
    ----------
    J : array-like of shape (n, P) or (n, k, P)
        The Jacobian of the outputs with respect to the parameters, as
        :func:`dltheory.ntk.jacobian` returns it (the output axis is merged
        into the rows, example-major).
    r : array-like of shape (n,) or (n, k)
        The residuals :math:`f(w) - y`.

    Returns
    -------
    ndarray of shape (P,), in float64.
    """
    J = np.asarray(J, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64).reshape(-1)
    if J.ndim == 3:
        J = J.reshape(-1, J.shape[-1])
    if J.ndim != 2 or J.shape[0] != r.size:
        raise ValueError(f"J must have shape (n, P) or (n, k, P) with n*k = r.size = {r.size}, "
                         f"got {J.shape}")
    step, *_ = np.linalg.lstsq(J, -r, rcond=None)
    return step


def quadratic_constants(losses: Sequence[float], floor: float = 1e-24) -> np.ndarray:
    """:math:`K_t = R_{t+1}/R_t^2` for every step whose result :math:`R_{t+1}` is above ``floor``.

    A method converges quadratically when :math:`R_{t+1} \\le K R_t^2` with a
    constant :math:`K`; the theorem of Cai et al. (2019) gives
    :math:`K = Cn/m` for a width-:math:`m` network. Once :math:`R` reaches
    round-off (about :math:`10^{-30}` for a sum of squares of order one in
    float64) the ratio measures rounding, not the method, so those steps are
    left out.

    Parameters
    ----------
    losses : sequence of float, length T + 1
        :math:`R_0, R_1, \\dots, R_T`, all positive.
    floor : float
        Keep :math:`K_t` only where :math:`R_{t+1} > ` ``floor``.

    Returns
    -------
    ndarray of the kept :math:`K_t`, in the order of the steps (may be empty).
    """
    R = np.asarray(losses, dtype=np.float64)
    floor = check_real(floor, "floor", min=0.0)
    if R.ndim != 1 or R.size < 2:
        raise ValueError(f"losses must be a 1-d sequence of at least two values, got shape {R.shape}")
    if not np.all(np.isfinite(R)) or (R <= 0).any():
        raise ValueError("losses must be finite and positive")
    keep = R[1:] > floor
    return (R[1:] / R[:-1] ** 2)[keep]


def step_flops(method: str, batch: int, params: int) -> float:
    """Multiply-adds of one step on a batch of ``b`` examples for a network of ``P`` parameters.

    A deterministic model, to leading order, of a dense network (one forward
    pass costs about :math:`P` multiply-adds per example, a backward pass
    :math:`2P`):

    ============  =======================================================
    ``"gd"``      :math:`3bP` (forward and backward, :math:`b = n`)
    ``"sgd"``     :math:`3bP`
    ``"adam"``    :math:`3bP + 8P` (:data:`ADAM_ELEMENTWISE` per parameter)
    ``"ggn"``     :math:`3bP + b^2P + b^3/3 + bP`: the forward pass and the
                  :math:`b` rows of :math:`J` (as SGD's forward and
                  backward), the Gram matrix :math:`JJ^\\top`
                  (:math:`b^2` inner products of length :math:`P`), its
                  Cholesky solve (:math:`b^3/3`) and :math:`J^\\top c`
                  (:math:`bP`)
    ============  =======================================================

    This is the estimate :math:`O(b^2P + b^3)` of Cai et al. (2019) with its
    constants written out. GGN costs :math:`1 + b/3 + O(1/b)` times an SGD
    step on the same batch: "nearly the cost of SGD" holds for the Jacobian,
    while the Gram matrix makes the ratio grow in proportion to :math:`b`.
    The library computes the Gram matrix more cheaply for MLPs (layer by
    layer, :func:`dltheory.ntk.empirical_ntk`), so this is the cost of the
    method as the paper states it, not of our implementation.
    """
    method = check_choice(method, "method", METHODS)
    b = float(check_int(batch, "batch", min=1))
    P = float(check_int(params, "params", min=1))
    if method in ("gd", "sgd"):
        return 3 * b * P
    if method == "adam":
        return 3 * b * P + ADAM_ELEMENTWISE * P
    return 3 * b * P + b * b * P + b**3 / 3 + b * P


def cumulative_flops(method: str, batch: int, params: int, steps: int, n: int | None = None) -> np.ndarray:
    """:math:`(0, c_1, c_1 + c_2, \\dots)`: the cost after 0, 1, ..., ``steps`` steps.

    With ``n`` given, the last batch of every epoch holds the
    :math:`n - b\\lfloor (n-1)/b\\rfloor` examples that remain (the sampler of
    :func:`dltheory.train.fit` draws consecutive slices of a permutation);
    without it every batch has ``batch`` examples.
    """
    steps = check_int(steps, "steps", min=0)
    batch = check_int(batch, "batch", min=1)
    if n is None:
        sizes = [batch] * steps
    else:
        n = check_int(n, "n", min=batch)
        per_epoch = -(-n // batch)
        epoch = [batch] * (per_epoch - 1) + [n - batch * (per_epoch - 1)]
        sizes = [epoch[t % per_epoch] for t in range(steps)]
    costs = [step_flops(method, b, params) for b in sizes]
    return np.concatenate([[0.0], np.cumsum(costs)])
