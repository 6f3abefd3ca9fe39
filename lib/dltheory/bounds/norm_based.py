"""Norm-based complexities and the margin bounds built on them.

* :func:`spectral_complexity`, :func:`bartlett_bound`: Bartlett, Foster,
  Telgarsky 2017, eq. (1.2) and Theorem 1.1.
* :func:`frobenius_bound`: Golowich, Rakhlin, Shamir 2018, Theorem 1, inside
  the margin bound of Mohri, Rostamizadeh, Talwalkar 2018.
* :func:`path_norm`: Neyshabur, Tomioka, Srebro 2015.

Biases are folded into the weights (:mod:`dltheory.bounds.folding`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_probability, check_real, is_real
from .folding import bound_layers, check_bound_data, check_margin, fold, fold_inputs, folded_weights, last_bias
from .margins import margins

__all__ = ["spectral_complexity", "bartlett_bound", "frobenius_bound", "path_norm"]


def _margin_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor, gamma: float) -> float:
    """:math:`\\hat R_\\gamma`: the fraction of training points with margin :math:`\\le \\gamma`."""
    return (margins(model, X, y) <= gamma).double().mean().item()


def rademacher_margin_terms(model: nn.Module, X: torch.Tensor, y: torch.Tensor, gamma: float, delta: float,
                            rademacher: float, num_outputs: int) -> dict[str, float]:
    r"""The margin bound built on a Rademacher bound of the network class (Mohri et al. 2018, Thm 9.2).

    .. math::  P(\text{error}) \le \hat R_\gamma + \frac{c_k}{\gamma}\,\mathfrak R_n
               + 3\sqrt{\frac{\ln(2/\delta)}{2n}},

    with :math:`c_k = 2` for one output and labels :math:`\pm 1`, :math:`4k`
    for :math:`k` classes, and :math:`\hat R_\gamma` the fraction of margins
    at most :math:`\gamma`. Returns ``margin_loss``, ``rademacher``,
    ``complexity`` (:math:`c_k\mathfrak R_n/\gamma`), ``confidence`` and ``bound``.
    """
    n = X.shape[0]
    lipschitz = 2.0 / gamma if num_outputs == 1 else 4.0 * num_outputs / gamma
    complexity = lipschitz * rademacher
    confidence = 3.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
    margin_loss = _margin_loss(model, X, y, gamma)
    return {"margin_loss": margin_loss, "rademacher": rademacher, "complexity": complexity,
            "confidence": confidence, "bound": margin_loss + complexity + confidence}


def spectral_complexity(model: nn.Module, reference: nn.Module | None = None) -> float:
    """Spectral complexity of Bartlett, Foster, Telgarsky 2017, eq. (1.2).

    .. math::

        R_A = \\Big(\\prod_{i=1}^L \\rho_i \\lVert A_i\\rVert_\\sigma\\Big)
              \\Big(\\sum_{i=1}^L \\frac{\\lVert A_i^\\top - M_i^\\top\\rVert_{2,1}^{2/3}}
              {\\lVert A_i\\rVert_\\sigma^{2/3}}\\Big)^{3/2}

    with :math:`\\rho_i = 1` (ReLU and the identity are 1-Lipschitz),
    :math:`\\lVert\\cdot\\rVert_\\sigma` the spectral norm and
    :math:`\\lVert B\\rVert_{2,1}` the sum of the Euclidean norms of the columns
    of :math:`B`; for a weight of shape (out, in),
    :math:`\\lVert A^\\top - M^\\top\\rVert_{2,1}` is the sum of the row norms of
    :math:`A - M`. It is evaluated as
    :math:`\\big(\\sum_i (b_i \\prod_{j\\ne i} s_j)^{2/3}\\big)^{3/2}`, the same
    number, which stays defined when a layer is zero.

    Parameters
    ----------
    model
        A fully connected ReLU/identity network (biases folded, see the module notes).
    reference
        The reference matrices :math:`M_i`: ``None`` for :math:`M_i = 0`, or a model
        of the same architecture (e.g. the initialisation) whose folded matrices
        are the :math:`M_i`. Its biases are folded in the same places as the
        model's (a missing bias counts as zero).
    """
    layers = bound_layers(model)
    last = last_bias(layers)
    A = fold(layers, last)
    if reference is None:
        M = [torch.zeros_like(a) for a in A]
    else:
        ref_layers = bound_layers(reference)
        shapes = [tuple(layer.weight.shape) for layer in layers]
        ref_shapes = [tuple(layer.weight.shape) for layer in ref_layers]
        if shapes != ref_shapes:
            raise ValueError(f"reference has weight shapes {ref_shapes} but the model has {shapes}")
        if last_bias(ref_layers) > last:
            raise ValueError("reference has a bias in a layer after the model's last bias; the folded shapes differ")
        M = fold(ref_layers, last)
    s = [torch.linalg.matrix_norm(a, ord=2).item() for a in A]
    b = [torch.linalg.vector_norm(a - m, dim=1).sum().item() for a, m in zip(A, M)]
    total = 0.0
    for i in range(len(A)):
        term = b[i]
        for j, sj in enumerate(s):
            if j != i:
                term *= sj
        total += term ** (2.0 / 3.0)
    return total**1.5


def bartlett_bound(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    gamma: float,
    delta: float = 0.05,
    reference: nn.Module | None = None,
) -> dict[str, float]:
    """The spectrally-normalised margin bound of Bartlett, Foster, Telgarsky 2017 (Theorem 1.1).

    Theorem 1.1 states, up to logarithmic factors and constants,
    :math:`\\Pr[\\arg\\max_j f(x)_j \\ne y] \\le \\hat R_\\gamma(f) +
    \\tilde O\\big(\\frac{\\lVert X\\rVert_2 R_A}{\\gamma n}\\ln W +
    \\sqrt{\\ln(1/\\delta)/n}\\big)`. We write the constants out by following
    their proof for one margin :math:`\\gamma` and one set of norm budgets
    (their Theorem 3.4):

    .. math::

        \\Pr[\\text{error}] \\le \\hat R_\\gamma(f)
        + \\underbrace{\\frac{8}{n^{3/2}} + \\frac{36\\, c\\, \\lVert X\\rVert_2 R_A
          \\sqrt{\\ln(2W^2)}\\, \\ln n}{\\gamma n}}_{\\text{complexity}}
        + \\underbrace{3\\sqrt{\\frac{\\ln(2/\\delta)}{2n}}}_{\\text{confidence}}

    Derivation, step by step:

    1. Margin bound (their Lemma 3.1, with the constants of Mohri, Rostamizadeh,
       Talwalkar 2018, Theorem 3.3, for the empirical Rademacher complexity):
       error :math:`\\le \\hat R_\\gamma + 2\\hat{\\mathfrak R}(F_\\gamma) + 3\\sqrt{\\ln(2/\\delta)/(2n)}`,
       :math:`F_\\gamma` the ramp loss of width :math:`\\gamma` composed with the margin.
    2. Covering (their Theorem 3.3): :math:`\\ln N(\\{F_A(X)\\}, \\epsilon, \\lVert\\cdot\\rVert_2)
       \\le \\lVert X\\rVert_2^2 \\ln(2W^2) R_A^2 / \\epsilon^2`. The ramp is
       :math:`1/\\gamma`-Lipschitz and the margin operator :math:`c`-Lipschitz in
       :math:`\\ell_2`, with :math:`c = 2` for :math:`k \\ge 2` outputs
       (:math:`f_y - \\max_{j\\ne y} f_j`) and :math:`c = 1` for one output
       (:math:`y f`), so :math:`\\ln N(F_\\gamma, \\epsilon) \\le r^2/\\epsilon^2`,
       :math:`r = c \\lVert X\\rVert_2 R_A \\sqrt{\\ln(2W^2)}/\\gamma`.
    3. Dudley's entropy integral (in the form of their appendix):
       :math:`\\hat{\\mathfrak R} \\le \\inf_\\alpha \\frac{4\\alpha}{\\sqrt n} +
       \\frac{12}{n}\\int_\\alpha^{\\sqrt n} \\frac{r}{\\epsilon}\\,d\\epsilon`; with
       :math:`\\alpha = 1/n` the integral is :math:`\\tfrac32 r\\ln n`, so
       :math:`2\\hat{\\mathfrak R} \\le 8/n^{3/2} + 36\\, r \\ln n / n`.

    This has the structure of their Theorem 3.4 (a :math:`n^{-3/2}` term, a
    constant times :math:`\\lVert X\\rVert_2 R_A \\ln n` times a logarithm of the
    width over :math:`\\gamma n`, and a :math:`3\\sqrt{\\ln(\\cdot/\\delta)/(2n)}`
    term); we keep the :math:`\\sqrt{\\ln(2W^2)}` that the covering bound gives
    instead of simplifying it, and the :math:`\\ln(2/\\delta)` of Mohri et al.
    (larger than :math:`\\ln(1/\\delta)`, so conservative). The margin operator is
    2-Lipschitz because :math:`|M(v,y) - M(v',y)| \\le |v_y - v'_y| +
    |\\max_{j\\ne y} v_j - \\max_{j\\ne y} v'_j| \\le 2\\lVert v - v'\\rVert_\\infty`.

    Caveats, stated rather than hidden: the bound holds for a margin and norm
    budgets fixed before seeing the data. Evaluating it at the trained
    network's own norms, as here (and as in the empirical studies), skips the
    union bound over a grid of margins and norms that makes Theorem 1.1 uniform;
    that union bound adds logarithmic terms in the norms and in
    :math:`1/\\gamma` under the square root of the confidence term.

    Parameters
    ----------
    model
        Fully connected ReLU/identity network; one output with labels in
        {-1, +1}, or ``k`` outputs with class indices. Biases are folded (module notes).
    X, y
        The training set, ``X`` of shape (n, d).
    gamma
        The margin :math:`\\gamma > 0`.
    delta
        Failure probability in (0, 1).
    reference
        Reference network for :func:`spectral_complexity` (``None``: :math:`M_i = 0`).

    Returns
    -------
    dict
        ``margin_loss`` (:math:`\\hat R_\\gamma`, the fraction of margins
        :math:`\\le\\gamma`), ``complexity``, ``confidence``, ``bound`` (their
        sum; above 1 it is vacuous), and the ingredients ``spectral_complexity``
        (:math:`R_A`), ``data_norm`` (:math:`\\lVert X\\rVert_2`, the Frobenius
        norm of the folded data matrix), ``width`` (:math:`W`, the largest
        dimension of any folded weight matrix: the widest layer, input and
        output included, as in their Theorem 3.3), ``lipschitz_margin`` (:math:`c`),
        ``n``, ``gamma``, ``delta``.
    """
    layers, X, y = check_bound_data(model, X, y)
    gamma = check_margin(gamma)
    delta = check_probability(delta, "delta")
    n = X.shape[0]
    mats = fold(layers, last_bias(layers))
    width = max(max(a.shape) for a in mats)
    data_norm = torch.linalg.matrix_norm(fold_inputs(model, X)).item()
    r_a = spectral_complexity(model, reference)
    margin_loss = _margin_loss(model, X, y, gamma)
    c = 1.0 if layers.out_features == 1 else 2.0
    complexity = (8.0 / n**1.5
                  + 36.0 * c * data_norm * r_a * math.sqrt(math.log(2.0 * width**2)) * math.log(n) / (gamma * n))
    confidence = 3.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
    return {
        "margin_loss": margin_loss,
        "complexity": complexity,
        "confidence": confidence,
        "bound": margin_loss + complexity + confidence,
        "spectral_complexity": r_a,
        "data_norm": data_norm,
        "width": width,
        "lipschitz_margin": c,
        "n": n,
        "gamma": gamma,
        "delta": delta,
    }


def frobenius_bound(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    gamma: float,
    delta: float = 0.05,
) -> dict[str, float]:
    """The size-independent margin bound of Golowich, Rakhlin, Shamir 2018 (Theorem 1).

    Their Theorem 1: for depth-:math:`L` real-valued networks with 1-Lipschitz,
    positively homogeneous elementwise activations (ReLU, identity) and
    :math:`\\lVert W_j\\rVert_F \\le M_F(j)`, the empirical Rademacher complexity on
    :math:`x_1, \\dots, x_n` is at most

    .. math::

        \\hat{\\mathfrak R}_n \\le \\frac{(\\sqrt{2 L \\ln 2} + 1)\\, \\prod_{j} M_F(j)\\,
        \\sqrt{\\textstyle\\sum_i \\lVert x_i\\rVert^2}}{n}
        \\;\\le\\; \\frac{B(\\sqrt{2 L\\ln 2} + 1)\\prod_j M_F(j)}{\\sqrt n},
        \\qquad B = \\max_i \\lVert x_i\\rVert .

    We use the first, data-dependent form with :math:`M_F(j)` the trained
    network's Frobenius norms (folded biases included). It enters the margin
    bound of Mohri, Rostamizadeh, Talwalkar, *Foundations of Machine Learning*
    (2nd ed., 2018), with probability :math:`\\ge 1-\\delta`:

    * one output, labels :math:`\\pm 1` (Theorem 5.8, data-dependent form):
      :math:`\\Pr[y f(x) \\le 0] \\le \\hat R_\\gamma + \\frac{2}{\\gamma}\\hat{\\mathfrak R}_n
      + 3\\sqrt{\\ln(2/\\delta)/(2n)}`;
    * :math:`k \\ge 2` outputs (Theorem 9.2, data-dependent form): the factor
      :math:`2/\\gamma` becomes :math:`4k/\\gamma` and :math:`\\hat{\\mathfrak R}_n`
      is that of the scalar networks :math:`x \\mapsto f(x)_j`, whose last
      layer is one row of :math:`W_L`, of norm :math:`\\le \\lVert W_L\\rVert_F`.

    :math:`\\hat R_\\gamma` is the fraction of training margins :math:`\\le\\gamma`.
    As for :func:`bartlett_bound`, evaluating at the trained network's norms
    skips the union bound over norm budgets.

    Returns
    -------
    dict
        ``margin_loss``, ``rademacher`` (the bound on :math:`\\hat{\\mathfrak R}_n`),
        ``complexity`` (``rademacher`` times :math:`2/\\gamma` or :math:`4k/\\gamma`),
        ``confidence``, ``bound``, and ``frobenius_product``
        (:math:`\\prod_j \\lVert \\tilde W_j\\rVert_F`), ``depth`` (:math:`L`),
        ``data_norm`` (:math:`\\sqrt{\\sum_i\\lVert\\tilde x_i\\rVert^2}`),
        ``max_input_norm`` (:math:`B`), ``rademacher_worst_case`` (the
        :math:`B/\\sqrt n` form), ``n``, ``gamma``, ``delta``.
    """
    layers, X, y = check_bound_data(model, X, y)
    gamma = check_margin(gamma)
    delta = check_probability(delta, "delta")
    n = X.shape[0]
    mats = fold(layers, last_bias(layers))
    depth = len(mats)
    product = 1.0
    for a in mats:
        product *= torch.linalg.matrix_norm(a).item()
    Xf = fold_inputs(model, X)
    data_norm = torch.linalg.matrix_norm(Xf).item()
    max_input_norm = torch.linalg.vector_norm(Xf, dim=1).max().item()
    factor = math.sqrt(2.0 * depth * math.log(2.0)) + 1.0
    rademacher = factor * product * data_norm / n
    return {
        **rademacher_margin_terms(model, X, y, gamma, delta, rademacher, layers.out_features),
        "frobenius_product": product,
        "depth": depth,
        "data_norm": data_norm,
        "max_input_norm": max_input_norm,
        "rademacher_worst_case": factor * product * max_input_norm / math.sqrt(n),
        "n": n,
        "gamma": gamma,
        "delta": delta,
    }


def path_norm(model: nn.Module, p: float = 2) -> float:
    """The :math:`\\ell_p` path norm of Neyshabur, Tomioka, Srebro 2015.

    .. math::

        \\phi_p(f) = \\Big(\\sum_{\\text{paths } i_0 \\to i_1 \\to \\cdots \\to i_L}
        \\prod_{l=1}^L |A_l[i_l, i_{l-1}]|^p\\Big)^{1/p},

    summed over every path from an input unit to an output unit. It is computed
    in :math:`O(\\text{size})` by pushing the all-ones vector through the network
    with the entrywise powers :math:`|A_l|^p` and no activation:
    :math:`\\phi_p^p = \\mathbf 1^\\top |A_L|^p \\cdots |A_1|^p \\mathbf 1`. For
    :math:`p = \\infty` the sum becomes a maximum over paths of
    :math:`\\prod_l |A_l[i_l, i_{l-1}]|`, computed by max-product propagation.

    With several outputs the paths to all outputs are summed, i.e.
    :math:`\\phi_p = (\\sum_k \\phi_p(f_k)^p)^{1/p}` over the per-output path norms
    (for :math:`p = \\infty`, the maximum). Biases are folded (module notes): a
    bias is an edge from a constant unit, and the paths starting there count.
    For a bias-free ReLU network the path norm is invariant under the rescaling
    :math:`A_l \\to c A_l`, :math:`A_{l+1} \\to A_{l+1}/c`, and
    :math:`\\phi_2 \\le \\prod_l \\lVert A_l\\rVert_F`.

    Parameters
    ----------
    p
        :math:`p \\ge 1`, or ``float('inf')``.
    """
    if not (is_real(p) and p == math.inf):
        p = check_real(p, "p", min=1.0)
    mats = folded_weights(model)
    v = torch.ones(mats[0].shape[1], dtype=torch.float64)
    if math.isinf(p):
        for a in mats:
            v = (a.abs() * v[None, :]).max(dim=1).values
        return v.max().item()
    for a in mats:
        v = a.abs().pow(p) @ v
    return v.sum().item() ** (1.0 / p)
