"""Classical capacity bounds of the lecture's table: covering numbers and a norm-based Rademacher bound.

Liwei Wang's lecture (deck 5, "Traditional learning theory fails") lists three
capacity measures of a network with :math:`|E|` edges and :math:`L` layers:
the VC dimension, :math:`O(|E| \\log |E|)` (:func:`dltheory.bounds.vc_dimension`
gives the ReLU version :math:`W L \\log_2 W`); the :math:`\\ell_\\infty` covering
number, :math:`\\log_2 N \\le O\\big((A L_\\phi)^{L(L+1)}/\\epsilon^{2L}\\big)`
(:func:`covering_number_bound`); and the Rademacher average of networks whose
layers have norm at most :math:`\\mu`, :math:`O(\\mu^L)`
(:func:`rademacher_norm_bound`). The two functions here evaluate the last two
with every constant written out, so that the book can show by how much they
exceed 1 for trained networks.

Networks and data as in the rest of :mod:`dltheory.bounds`: dense ReLU/identity
chains, biases folded into the weights (:mod:`dltheory.bounds.folding`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_int, check_probability, check_real
from .folding import check_bound_data, check_margin, fold_inputs, folded_weights
from .norm_based import rademacher_margin_terms

__all__ = ["covering_number_bound", "rademacher_norm_bound", "max_unit_l1_norm"]


def max_unit_l1_norm(model: nn.Module) -> float:
    """:math:`A = \\max_{\\text{units}} \\lVert w_{\\text{unit}}\\rVert_1`, the largest
    :math:`\\ell_1` norm of the incoming weights of any unit, over all layers.

    For a folded weight matrix :math:`\\tilde A_i` of shape (outputs, inputs) a unit's
    incoming weights are a row, so :math:`A = \\max_i \\max_r \\sum_c |\\tilde A_i[r, c]|
    = \\max_i \\lVert \\tilde A_i\\rVert_{\\infty\\to\\infty}`. A bias counts as the
    weight of a constant input (folded); the rows that only carry that constant
    have norm 1.
    """
    return max(a.abs().sum(dim=1).max().item() for a in folded_weights(model))


def covering_number_bound(
    model: nn.Module,
    n: int,
    *,
    gamma: float,
    output_bound: float | None = None,
    lipschitz: float = 1.0,
    delta: float = 0.05,
    margin_loss: float = 0.0,
) -> dict[str, float]:
    """The lecture's covering-number capacity, :math:`(A L_\\phi)^{L(L+1)}/\\epsilon^{2L}`, in a margin bound.

    The covering-number bounds for networks with bounded weights (Bartlett
    1998; Anthony and Bartlett 1999, ch. 14) control the :math:`\\ell_\\infty`
    covering number of the class of :math:`L`-layer networks in which every
    unit's incoming weights have :math:`\\ell_1` norm at most :math:`A` and the
    activation is :math:`L_\\phi`-Lipschitz; the lecture states the result as

    .. math::

        \\log_2 N_\\infty(\\epsilon, \\mathcal F, m) \\le
        O\\Big(\\frac{(A L_\\phi)^{L(L+1)}}{\\epsilon^{2L}}\\Big).

    The :math:`\\epsilon` there is measured in units of the range :math:`[-b, b]`
    of the outputs (:math:`b = 1` for the sigmoid networks of the textbook). A
    ReLU network has no fixed range, so we measure :math:`\\epsilon` in units of
    an output bound :math:`b` and evaluate the expression inside the :math:`O`
    with leading constant 1:

    .. math::

        C_{\\text{cov}} = (A L_\\phi)^{L(L+1)}\\Big(\\frac{b}{\\epsilon}\\Big)^{2L},
        \\qquad \\log_2 C_{\\text{cov}} = L(L+1)\\log_2(A L_\\phi) + 2L\\log_2\\frac{b}{\\epsilon},

    with :math:`A` = :func:`max_unit_l1_norm` of the trained network, :math:`L`
    its number of linear layers and :math:`b` = ``output_bound`` (default 1,
    the lecture's expression as printed). The textbook statement carries
    further factors (constants and the logarithm of the input dimension) that
    we set to 1, so this is an optimistic reading of the bound. It enters the margin bound of Anthony and
    Bartlett (1999, Theorem 10.4): with probability :math:`\\ge 1-\\delta`,

    .. math::

        \\Pr[\\text{error}] \\le \\hat R_\\gamma
        + \\sqrt{\\frac{8}{n}\\Big(\\ln N_\\infty(\\gamma/2, \\mathcal F, 2n) + \\ln\\frac{2}{\\delta}\\Big)},

    so we take :math:`\\epsilon = \\gamma/2` and
    :math:`\\ln N = \\ln 2 \\cdot \\log_2 C_{\\text{cov}}`. Caveats: the
    theorem is for bounded activations and real-valued outputs, and the class
    is fixed before the data are seen; evaluated at the trained network's own
    :math:`A` (as every bound of this module) it indicates the size of the
    classical bound, which is what the lecture's table is about. Everything is
    computed in logarithms, so astronomically large values stay finite.

    Parameters
    ----------
    model
        Fully connected ReLU/identity network (biases folded, see the module notes).
    n
        Number of training examples.
    gamma
        The margin :math:`\\gamma > 0`; the cover is taken at :math:`\\epsilon = \\gamma/2`.
    output_bound
        :math:`b > 0`, the scale of the outputs in which :math:`\\epsilon` is measured
        (``None``: 1). The book passes the largest absolute output on the training set.
    lipschitz
        :math:`L_\\phi > 0`, the activation's Lipschitz constant (1 for ReLU).
    delta
        Failure probability in (0, 1).
    margin_loss
        :math:`\\hat R_\\gamma \\in [0, 1]`, the fraction of training margins at most
        :math:`\\gamma` (default 0: the bound's complexity part alone).

    Returns
    -------
    dict
        ``A``, ``depth`` (:math:`L`), ``eps`` (:math:`\\gamma/2`), ``output_bound`` (:math:`b`), ``log2_covering``
        (:math:`\\log_2 C_{\\text{cov}}`), ``complexity`` (the square root above),
        ``bound`` (``margin_loss + complexity``), ``n``, ``gamma``, ``delta``,
        ``lipschitz``, ``margin_loss``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Linear(2, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = net.weight.copy_(torch.tensor([[3.0, -1.0]]))
    >>> r = covering_number_bound(net, 100, gamma=1.0)
    >>> r["A"], r["log2_covering"]  # L = 1: (4)^2 / (1/2)^2 = 64
    (4.0, 6.0)
    """
    n = check_int(n, "n", min=1)
    gamma = check_margin(gamma)
    lipschitz = check_real(lipschitz, "lipschitz", min=0.0, min_open=True)
    delta = check_probability(delta, "delta")
    margin_loss = check_real(margin_loss, "margin_loss", min=0.0, max=1.0)
    output_bound = 1.0 if output_bound is None else check_real(output_bound, "output_bound", min=0.0,
                                                                min_open=True)
    A = max_unit_l1_norm(model)
    depth = len(folded_weights(model))
    eps = gamma / 2.0
    if A == 0.0:
        log2_cov = -math.inf
    else:
        log2_cov = depth * (depth + 1) * math.log2(A * lipschitz) + 2 * depth * math.log2(output_bound / eps)
    ln_cov = max(log2_cov * math.log(2.0), 0.0)  # a covering number is at least 1
    complexity = math.sqrt(8.0 / n * (ln_cov + math.log(2.0 / delta)))
    return {
        "A": A,
        "depth": depth,
        "eps": eps,
        "output_bound": output_bound,
        "log2_covering": log2_cov,
        "complexity": complexity,
        "bound": margin_loss + complexity,
        "n": n,
        "gamma": gamma,
        "delta": delta,
        "lipschitz": lipschitz,
        "margin_loss": margin_loss,
    }


def rademacher_norm_bound(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    gamma: float,
    delta: float = 0.05,
) -> dict[str, float]:
    """The :math:`\\mu^L` Rademacher bound of Neyshabur, Tomioka, Srebro 2015, in a margin bound.

    For depth-:math:`L` ReLU networks whose layers have Frobenius norms
    :math:`\\lVert W_i\\rVert_F \\le \\mu_i` (their group norm with
    :math:`p = q = 2`, where the bound does not depend on the width), on inputs
    of Euclidean norm at most :math:`B = \\max_i \\lVert x_i\\rVert`, Theorem 1
    of Neyshabur, Tomioka, Srebro (2015) gives

    .. math::

        \\hat{\\mathfrak R}_n \\le \\frac{2^{L-1}\\sqrt{2}\\; \\prod_{i=1}^L \\mu_i \\; B}{\\sqrt n}
        = \\frac{2^{L - 1/2}\\, \\mu^L B}{\\sqrt n},
        \\qquad \\mu = \\Big(\\prod_i \\mu_i\\Big)^{1/L},

    the lecture's :math:`O(\\mu^L)`. The factor :math:`2^{L-1}` comes from peeling
    one ReLU layer at a time with the contraction lemma (a factor 2 per hidden
    layer), the :math:`\\sqrt 2 = \\sqrt{\\min(p^*, 4\\ln 2D)}` with :math:`p^* = 2`
    from the last, linear step. Golowich, Rakhlin, Shamir (2018) later replaced
    :math:`2^{L-1/2}` by :math:`\\sqrt{2L\\ln 2} + 1`
    (:func:`dltheory.bounds.frobenius_bound`); the two agree in everything
    else, so the ratio of the two bounds is the ratio of these factors.

    We use :math:`\\mu_i` = the trained network's Frobenius norms (folded
    biases included) and the margin bound of Mohri, Rostamizadeh, Talwalkar
    (2018), exactly as :func:`dltheory.bounds.frobenius_bound` does: with
    probability :math:`\\ge 1-\\delta`, error :math:`\\le \\hat R_\\gamma +
    \\frac{c}{\\gamma}\\hat{\\mathfrak R}_n + 3\\sqrt{\\ln(2/\\delta)/(2n)}`, with
    :math:`c = 2` for one output and labels :math:`\\pm1`, :math:`c = 4k` for
    :math:`k \\ge 2` outputs. Evaluating at the trained norms skips the union
    bound over norm budgets.

    Parameters
    ----------
    model
        Fully connected ReLU/identity network; one output with labels in
        {-1, +1}, or ``k`` outputs with class indices.
    X, y
        The training set, ``X`` of shape (n, d).
    gamma
        The margin :math:`\\gamma > 0`.
    delta
        Failure probability in (0, 1).

    Returns
    -------
    dict
        ``margin_loss``, ``rademacher`` (the bound on :math:`\\hat{\\mathfrak R}_n`),
        ``complexity`` (``rademacher`` times :math:`c/\\gamma`), ``confidence``,
        ``bound``, and ``mu`` (:math:`(\\prod_i\\mu_i)^{1/L}`),
        ``frobenius_product`` (:math:`\\prod_i \\mu_i = \\mu^L`), ``depth``,
        ``max_input_norm`` (:math:`B`), ``n``, ``gamma``, ``delta``.
    """
    layers, X, y = check_bound_data(model, X, y)
    gamma = check_margin(gamma)
    delta = check_probability(delta, "delta")
    n = X.shape[0]
    mats = folded_weights(model)
    depth = len(mats)
    log_product = 0.0
    for a in mats:
        norm = torch.linalg.matrix_norm(a).item()
        log_product += math.log(norm) if norm > 0 else -math.inf
    product = math.exp(log_product)
    max_input_norm = torch.linalg.vector_norm(fold_inputs(model, X), dim=1).max().item()
    rademacher = 2.0 ** (depth - 0.5) * product * max_input_norm / math.sqrt(n)
    return {
        **rademacher_margin_terms(model, X, y, gamma, delta, rademacher, layers.out_features),
        "mu": math.exp(log_product / depth),
        "frobenius_product": product,
        "depth": depth,
        "max_input_norm": max_input_norm,
        "n": n,
        "gamma": gamma,
        "delta": delta,
    }
