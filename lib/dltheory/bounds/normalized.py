"""Layer-wise normalised networks and a Rademacher bound for their cross-entropy.

Chapter 1's section "Normalisation makes the training loss predictive of the test
loss" (deck 1, "The magic of layer-wise normalization"; Liao, Miranda, Hidary,
Poggio 2018).
A bias-free ReLU network :math:`f(x) = W_L \\sigma(W_{L-1} \\cdots \\sigma(W_1 x))`
factors as :math:`f = \\rho \\tilde f` with :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`
and :math:`\\tilde f` the network with layers :math:`V_k = W_k/\\lVert W_k\\rVert_F`
(:func:`dltheory.homogeneity.normalized_network`). The classification error depends
on :math:`\\tilde f` alone; the cross-entropy depends on :math:`\\rho` as well.

The bound
---------
Let :math:`\\mathcal F_1` be the class of depth-:math:`L` bias-free ReLU networks
:math:`\\mathbb R^d \\to \\mathbb R^K` with :math:`\\lVert V_k\\rVert_F \\le 1` for
every layer, :math:`\\ell(z, y) = \\ln\\sum_j e^{z_j} - z_y` the cross-entropy and
:math:`S = ((x_1, y_1), \\dots, (x_n, y_n))` a sample. Three steps bound the
empirical Rademacher complexity of the loss class
:math:`\\mathcal G = \\{(x, y) \\mapsto \\ell(f(x), y) : f \\in \\mathcal F_1\\}`:

1. *Vector contraction* (Maurer 2016, Corollary 1). :math:`\\ell(\\cdot, y)` is
   :math:`\\sqrt 2`-Lipschitz in :math:`\\ell_2`: its gradient
   :math:`\\operatorname{softmax}(z) - e_y` has squared norm
   :math:`(1-p_y)^2 + \\sum_{j\\ne y} p_j^2 \\le 2(1-p_y)^2 \\le 2`. Hence
   :math:`n\\hat{\\mathfrak R}_S(\\mathcal G) \\le \\sqrt2 \\cdot \\sqrt2\\;
   \\mathbb E \\sup_{f} \\sum_{i,k} \\varepsilon_{ik} f_k(x_i)` with independent
   Rademacher signs :math:`\\varepsilon_{ik}`.
2. *Last layer.* Write :math:`f = V_L \\phi` with :math:`\\phi` the last hidden
   layer. The supremum over :math:`\\lVert V_L\\rVert_F \\le 1` of
   :math:`\\sum_k \\langle v_k, u_k\\rangle`, :math:`u_k = \\sum_i \\varepsilon_{ik}\\phi(x_i)`,
   is :math:`(\\sum_k \\lVert u_k\\rVert^2)^{1/2}`; moving the supremum over
   :math:`\\phi` inside the sum and using Jensen's inequality gives at most
   :math:`(\\sum_k \\mathbb E \\sup_\\phi \\lVert u_k\\rVert^2)^{1/2}`.
3. *Peeling* (Golowich, Rakhlin, Shamir 2018, Lemma 1, with the convex
   non-decreasing :math:`g(t) = \\max(t, 0)^2`): each ReLU layer with
   :math:`\\lVert V\\rVert_F \\le 1` at most doubles
   :math:`\\mathbb E\\sup\\lVert\\sum_i \\varepsilon_i \\phi(x_i)\\rVert^2`, so after
   :math:`L-1` layers it is at most :math:`2^{L-1}\\,\\mathbb E\\lVert\\sum_i
   \\varepsilon_i x_i\\rVert^2 = 2^{L-1}\\sum_i \\lVert x_i\\rVert^2`.

Together (:func:`rademacher_complexity_bound`):

.. math::  \\hat{\\mathfrak R}_S(\\mathcal G) \\le
           \\frac{2^{(L+1)/2}\\sqrt K\\,\\sqrt{\\sum_i \\lVert x_i\\rVert^2}}{n}.

The loss is bounded on :math:`\\mathcal F_1`: ReLU is 1-Lipschitz with
:math:`\\sigma(0) = 0` and :math:`\\lVert V\\rVert_2 \\le \\lVert V\\rVert_F`, so
:math:`\\lVert f(x)\\rVert_2 \\le \\lVert x\\rVert_2 \\le B` on inputs of norm at
most :math:`B`, and :func:`cross_entropy_range` gives an interval of length
:math:`M` that holds every value. The two-sided form of the Rademacher
generalisation bound (Bartlett and Mendelson 2002; Mohri, Rostamizadeh,
Talwalkar 2018, Theorem 3.3, applied to :math:`(\\ell - a)/M` and
:math:`(b - \\ell)/M` with :math:`\\delta/2` each) then says that with
probability at least :math:`1-\\delta` over an i.i.d. sample, for every
:math:`f \\in \\mathcal F_1` at once,

.. math::  \\bigl|\\mathbb E\\,\\ell(f(x), y) - \\tfrac1n\\textstyle\\sum_i \\ell(f(x_i), y_i)\\bigr|
           \\le 2\\hat{\\mathfrak R}_S(\\mathcal G) + 3M\\sqrt{\\frac{\\ln(4/\\delta)}{2n}}

(:func:`cross_entropy_bound`).

==================================  ==============================================================
:func:`normalized_losses`           cross-entropy and error of :math:`f` and of :math:`\\tilde f`
:func:`cross_entropy_range`         the values the cross-entropy can take when :math:`\\lVert z\\rVert_2 \\le r`
:func:`rademacher_complexity_bound` :math:`2^{(L+1)/2}\\sqrt K \\lVert X\\rVert_F / n`
:func:`cross_entropy_bound`         the generalisation bound above, term by term
==================================  ==============================================================
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from ..config import float64_device
from .._checks import as_tensor, check_class_indices, check_int, check_probability, check_real, check_X
from ..homogeneity import normalized_network
from ..models import DenseLayers
from .folding import bound_layers

__all__ = [
    "normalized_losses",
    "cross_entropy_range",
    "rademacher_complexity_bound",
    "cross_entropy_bound",
]


def _check_network(model: nn.Module) -> DenseLayers:
    """The layers of a bias-free network the bound holds for (:func:`~dltheory.bounds.folding.bound_layers`)."""
    layers = bound_layers(model)
    if not layers.bias_free:
        raise ValueError("the network has biases: f = rho * f~ needs a bias-free network (build it with bias=False)")
    return layers


def _check_inputs(layers: DenseLayers, X) -> torch.Tensor:
    X = check_X(X, ndim=2)
    if X.shape[1] != layers.in_features:
        raise ValueError(f"X has {X.shape[1]} features but the first layer takes {layers.in_features}")
    if not X.is_floating_point():
        raise ValueError("X must hold floating-point numbers")
    return X.to(dtype=torch.float64)


def _check_labels(y, n: int, num_classes: int) -> torch.Tensor:
    y = as_tensor(y, "y")
    if len(y) != n:
        raise ValueError(f"X has {n} examples but y has {len(y)}")
    return check_class_indices(y, num_classes, "the cross-entropy").to(dtype=torch.int64)


def normalized_losses(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> dict:
    """Cross-entropy and classification error of :math:`f` and of :math:`\\tilde f = f/\\rho`.

    :math:`\\tilde f` is :func:`dltheory.homogeneity.normalized_network`: every layer
    divided by its Frobenius norm :math:`\\rho_k`, so that for a bias-free ReLU
    network :math:`f = \\rho\\tilde f` with :math:`\\rho = \\prod_k \\rho_k`. The
    losses are means over the examples,
    :math:`\\frac1n\\sum_i \\bigl(\\ln\\sum_j e^{g_j(x_i)} - g_{y_i}(x_i)\\bigr)` for
    :math:`g = f` and :math:`g = \\tilde f`; the error counts
    :math:`\\arg\\max_j g_j(x_i) \\ne y_i`. Everything is evaluated in float64 on
    a copy of the network, on the model's device (the CPU for MPS, which has no
    float64); the network itself is left untouched.

    Parameters
    ----------
    model
        A bias-free fully connected network (a dense chain of ``nn.Linear`` or
        ``NTKLinear`` layers with ReLU, LeakyReLU or identity activations), ``K`` outputs.
    X, y
        Inputs ``(n, d)`` and integer class indices ``(n,)`` in ``[0, K)``.

    Returns
    -------
    dict
        ``loss`` and ``error`` of :math:`f`, ``normalized_loss`` and
        ``normalized_error`` of :math:`\\tilde f` (the two errors are equal),
        ``rho`` (:math:`\\rho`), ``rhos`` (the :math:`\\rho_k`),
        ``max_normalized_output`` (:math:`\\max_i \\lVert\\tilde f(x_i)\\rVert_2`,
        at most :math:`\\max_i\\lVert x_i\\rVert_2`), ``num_classes``, ``n``.

    Raises
    ------
    ValueError
        Biases, an unsupported layer, a zero layer, or inputs and labels of the
        wrong shape, type or range.
    """
    layers = _check_network(model)
    device = float64_device(next(model.parameters()).device)
    X64 = _check_inputs(layers, X).to(device)
    num_classes = layers.out_features
    y64 = _check_labels(y, X64.shape[0], num_classes).to(device)
    f = copy.deepcopy(model).to(device, torch.float64)
    f_tilde, rhos = normalized_network(f)
    with torch.no_grad():
        out, out_tilde = f(X64), f_tilde(X64)
    return {
        "loss": F.cross_entropy(out, y64).item(),
        "normalized_loss": F.cross_entropy(out_tilde, y64).item(),
        "error": (out.argmax(1) != y64).double().mean().item(),
        "normalized_error": (out_tilde.argmax(1) != y64).double().mean().item(),
        "rho": math.prod(rhos),
        "rhos": rhos,
        "max_normalized_output": torch.linalg.vector_norm(out_tilde, dim=1).max().item(),
        "num_classes": num_classes,
        "n": X64.shape[0],
    }


def cross_entropy_range(radius: float, num_classes: int) -> tuple[float, float]:
    """An interval :math:`[a, b]` that holds :math:`\\ell(z, y)` whenever :math:`\\lVert z\\rVert_2 \\le r`.

    .. math::  a = \\ln\\bigl(1 + (K-1)\\,e^{-r\\sqrt{K/(K-1)}}\\bigr), \\qquad
               b = \\ln K + \\sqrt 2\\, r .

    The lower end is the minimum, attained at :math:`z_y = r\\sqrt{(K-1)/K}` and
    :math:`z_j = -r/\\sqrt{K(K-1)}` for :math:`j \\ne y`: for fixed :math:`z_y`
    and fixed :math:`\\sum_{j\\ne y} z_j^2 = s^2`, Jensen's inequality makes
    :math:`\\sum_{j\\ne y} e^{z_j}` smallest when the :math:`z_j` are equal, to
    :math:`-s/\\sqrt{K-1}`, and Cauchy-Schwarz gives
    :math:`\\max (z_y + s/\\sqrt{K-1}) = r\\sqrt{K/(K-1)}` on the ball. The upper
    end is a bound, not the maximum: :math:`\\ell(z, y) \\le \\ln K + \\max_j z_j - z_y`
    and :math:`z_j - z_y \\le \\sqrt 2\\,(z_j^2 + z_y^2)^{1/2} \\le \\sqrt 2\\, r`.
    At :math:`r = 0` both ends are :math:`\\ln K`.
    """
    r = check_real(radius, "radius", min=0.0)
    K = check_int(num_classes, "num_classes", min=2)
    low = math.log1p((K - 1) * math.exp(-r * math.sqrt(K / (K - 1))))
    return low, math.log(K) + math.sqrt(2.0) * r


def rademacher_complexity_bound(X: torch.Tensor, *, depth: int, num_classes: int) -> float:
    """Bound on the empirical Rademacher complexity of the cross-entropy on :math:`\\mathcal F_1`.

    .. math::  \\hat{\\mathfrak R}_S(\\ell\\circ\\mathcal F_1) \\le
               \\frac{2^{(L+1)/2}\\sqrt K\\,\\lVert X\\rVert_F}{n},

    for depth-:math:`L` bias-free ReLU networks with :math:`K` outputs and every
    layer of Frobenius norm at most 1, on the sample ``X`` of :math:`n` rows
    (Maurer 2016's vector contraction, then Golowich, Rakhlin, Shamir 2018's
    peeling lemma with :math:`g(t) = \\max(t,0)^2`; derivation in the module
    notes). The labels do not enter.
    """
    X = check_X(X, ndim=2)
    L = check_int(depth, "depth", min=1)
    K = check_int(num_classes, "num_classes", min=2)
    data_norm = torch.linalg.matrix_norm(X.to("cpu", torch.float64)).item()
    return 2.0 ** ((L + 1) / 2) * math.sqrt(K) * data_norm / X.shape[0]


def cross_entropy_bound(model: nn.Module, X: torch.Tensor, *, input_bound: float, delta: float = 0.05) -> dict:
    """The two-sided Rademacher bound on the generalisation gap of the cross-entropy over :math:`\\mathcal F_1`.

    With probability at least :math:`1-\\delta` over an i.i.d. training sample of
    size :math:`n`, every :math:`f \\in \\mathcal F_1` (the model's architecture
    with every layer of Frobenius norm at most 1, in particular the model's
    normalised network :math:`\\tilde f`) satisfies

    .. math::  |\\mathbb E\\,\\ell - \\hat{\\mathbb E}_S\\,\\ell| \\le
               \\underbrace{2\\hat{\\mathfrak R}_S}_{\\text{complexity}} +
               \\underbrace{3M\\sqrt{\\ln(4/\\delta)/(2n)}}_{\\text{confidence}},

    with :math:`\\hat{\\mathfrak R}_S` from :func:`rademacher_complexity_bound`
    and :math:`M = b - a` the length of :func:`cross_entropy_range` at radius
    :math:`B` = ``input_bound``. (Bartlett and Mendelson 2002; Mohri,
    Rostamizadeh, Talwalkar 2018, Theorem 3.3 for :math:`[0,1]`-valued classes,
    rescaled and applied to both tails; derivation in the module notes.) The
    bound holds for a class fixed before the data are seen; it needs every input
    the distribution can produce to have norm at most :math:`B`, which the data
    pipeline must guarantee (for example by rescaling every input to length
    :math:`B`). For :math:`m` bounds to hold together, pass :math:`\\delta/m`.

    Parameters
    ----------
    model
        A bias-free ReLU network (only its depth :math:`L` and its number of outputs :math:`K` are used).
    X
        The training inputs, ``(n, d)``.
    input_bound
        :math:`B`, a bound on :math:`\\lVert x\\rVert_2` over the whole input distribution.
    delta
        The failure probability, in (0, 1).

    Returns
    -------
    dict
        ``bound`` (complexity + confidence), ``complexity``, ``confidence``,
        ``rademacher`` (:math:`\\hat{\\mathfrak R}_S`), ``loss_range`` (:math:`(a, b)`),
        ``range_width`` (:math:`M`), ``depth``, ``num_classes``, ``n``,
        ``input_bound``, ``delta``.

    Raises
    ------
    ValueError
        An unsupported network, bad ``X``, ``delta`` outside (0, 1), or a training
        input longer than ``input_bound`` (the stated bound is then false).
    """
    layers = _check_network(model)
    X64 = _check_inputs(layers, X)
    B = check_real(input_bound, "input_bound", min=0.0, min_open=True)
    delta = check_probability(delta, "delta")
    longest = torch.linalg.vector_norm(X64, dim=1).max().item()
    if longest > B * (1 + 1e-6):  # float32 inputs scaled to length B: rounding
        raise ValueError(f"a training input has norm {longest:.6g} > input_bound = {B:.6g}: "
                         "input_bound must bound the norm of every input")
    n, L, K = X64.shape[0], len(layers), layers.out_features
    rademacher = rademacher_complexity_bound(X64, depth=L, num_classes=K)
    low, high = cross_entropy_range(B, K)
    width = high - low
    complexity = 2.0 * rademacher
    confidence = 3.0 * width * math.sqrt(math.log(4.0 / delta) / (2.0 * n))
    return {
        "bound": complexity + confidence,
        "complexity": complexity,
        "confidence": confidence,
        "rademacher": rademacher,
        "loss_range": (low, high),
        "range_width": width,
        "depth": L,
        "num_classes": K,
        "n": n,
        "input_bound": B,
        "delta": float(delta),
    }
