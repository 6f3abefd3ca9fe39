"""Margins, norms and the generalisation bounds built from them.

Margins (Bartlett, Foster, Telgarsky 2017, sec. 1): for binary labels
:math:`y \\in \\{\\pm 1\\}` and one output, :math:`\\gamma_i = y_i f(x_i)`; for
:math:`k` classes, :math:`\\gamma_i = f(x_i)_{y_i} - \\max_{j \\ne y_i} f(x_i)_j`.
A bias-free ReLU network is positively homogeneous of degree :math:`L` in its
weights, :math:`f(x; \\alpha W_1, \\dots, \\alpha W_L) = \\alpha^L f(x; W)`, so
:math:`f = \\rho \\tilde f` with :math:`\\rho = \\prod_k \\lVert W_k \\rVert_F` and
:math:`\\tilde f` the network with every layer normalised to unit Frobenius norm
(deck 1, "Homogeneity properties of ReLU networks"); the normalised margin is
:math:`\\gamma_i / \\rho`.

The bounds
----------
* :func:`spectral_complexity`, :func:`bartlett_bound`: Bartlett, Foster,
  Telgarsky 2017, eq. (1.2) and Theorem 1.1.
* :func:`frobenius_bound`: Golowich, Rakhlin, Shamir 2018, Theorem 1, inside
  the margin bound of Mohri, Rostamizadeh, Talwalkar 2018.
* :func:`path_norm`: Neyshabur, Tomioka, Srebro 2015.
* :func:`pac_bayes_bound`: Dziugaite and Roy 2017 (Langford-Seeger / Maurer form),
  with :func:`kl_inverse` and :func:`isotropic_gaussian_kl`.
* :func:`vc_bound`: Vapnik's VC bound with the VC dimension of Bartlett, Harvey,
  Liaw, Mehrabian 2019, for contrast.

Which networks
--------------
The norm-based bounds (spectral, Frobenius, path norm, VC) are stated for
fully connected networks :math:`x \\mapsto A_L \\sigma(A_{L-1} \\cdots \\sigma(A_1 x))`.
They accept an ``nn.Sequential`` (nested ones too) or a single ``nn.Linear``
made of ``nn.Linear`` layers (an :class:`~dltheory.models.NTKLinear` counts
with its effective matrix ``weight_scale * weight`` and bias
``bias_scale * bias``), ``nn.ReLU`` and ``nn.Identity`` activations (both
1-Lipschitz, positively homogeneous, :math:`\\sigma(0) = 0`), and ``nn.Flatten``
(a no-op on the ``(n, d)`` inputs these functions take). Anything else is a
``ValueError``; convolutions in particular are refused, because the bounds here
are for dense weight matrices (a convolution would have to enter as its dense
Toeplitz operator, whose norms depend on the input size).

**Biases are folded, not refused.** A layer :math:`x \\mapsto A x + b` is the
bias-free layer :math:`\\tilde A = [A \\; b]` acting on :math:`(x, 1)`. The
input is augmented with a constant coordinate 1, every layer before the last
layer with a bias carries it on through a fixed extra row
:math:`(0, \\dots, 0, 1)` (ReLU and the identity leave 1 unchanged), and a layer
without a bias gets a zero column. The folded network computes exactly the
same function, has no biases, and the bounds are applied to it, so that

* :math:`\\lVert \\tilde A_i\\rVert_F^2 = \\lVert A_i\\rVert_F^2 + \\lVert b_i\\rVert^2`
  (+1 for the carrying row),
* :math:`\\lVert \\tilde A_i\\rVert_\\sigma \\ge \\max(\\lVert [A_i\\; b_i]\\rVert_\\sigma, 1)`
  where a carrying row is present,
* :math:`\\lVert (\\tilde A_i - \\tilde M_i)^\\top\\rVert_{2,1} = \\sum_r
  \\sqrt{\\lVert a_r - m_r\\rVert^2 + (b_r - c_r)^2}` (the carrying row adds 0),
* the data enter as :math:`\\tilde x_i = (x_i, 1)`:
  :math:`\\lVert \\tilde X\\rVert_F^2 = \\lVert X\\rVert_F^2 + n` and
  :math:`\\max_i \\lVert \\tilde x_i\\rVert = \\max_i \\sqrt{\\lVert x_i\\rVert^2 + 1}`,
* the path norm counts the paths that start at a bias, as in Neyshabur et al.

A bias-free model is left untouched. :func:`folded_weights` and
:func:`fold_inputs` expose the folded matrices and data.

Note that :func:`layer_weights`, :func:`layer_norms` and
:func:`normalized_margins` (the quantities that training records) do *not*
fold: they use the weight matrices alone, whatever the model.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call

__all__ = [
    "margins",
    "normalized_margins",
    "layer_weights",
    "layer_norms",
    "folded_weights",
    "fold_inputs",
    "spectral_complexity",
    "bartlett_bound",
    "frobenius_bound",
    "path_norm",
    "binary_kl",
    "kl_inverse",
    "isotropic_gaussian_kl",
    "pac_bayes_bound",
    "vc_dimension",
    "vc_bound",
]


# ---------------------------------------------------------------------------
# margins and layer norms (recorded during training)
# ---------------------------------------------------------------------------


def layer_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weight matrices of the model's ``nn.Linear`` layers (``NTKLinear`` included), in order.

    For an :class:`~dltheory.models.NTKLinear` the effective matrix
    ``weight_scale * weight`` is returned, the one that multiplies the input.
    Biases are not included and other layer types are skipped; the bounds of
    this module check the architecture and fold the biases instead (see
    :func:`folded_weights`).
    """
    weights = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            scale = getattr(module, "weight_scale", 1.0)
            weights.append(scale * module.weight)
    if not weights:
        raise ValueError(f"{type(model).__name__} has no linear layers to measure")
    return weights


def layer_norms(model: nn.Module) -> dict[str, list[float]]:
    """Per-layer Frobenius and spectral norms of :func:`layer_weights`, and their products.

    Returns ``{"frobenius": [floats], "spectral": [floats], "rho": float,
    "rho_spectral": float}`` with ``rho`` the product of the Frobenius norms and
    ``rho_spectral`` that of the spectral norms (largest singular values).
    """
    with torch.no_grad():
        weights = layer_weights(model)
        frobenius = [torch.linalg.matrix_norm(W).item() for W in weights]
        spectral = [torch.linalg.matrix_norm(W, ord=2).item() for W in weights]
    rho = rho_spectral = 1.0
    for f, s in zip(frobenius, spectral):
        rho *= f
        rho_spectral *= s
    return {"frobenius": frobenius, "spectral": spectral, "rho": rho, "rho_spectral": rho_spectral}


def _output_margins(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Margins from a batch of outputs (the body of :func:`margins`)."""
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] == 1:
        labels = y.reshape(-1)
        if not ((labels == 1) | (labels == -1)).all():
            raise ValueError("a one-output model needs labels in {-1, +1} (for 0/1 labels use 2 * y - 1)")
        return labels.to(out.dtype) * out[:, 0]
    if y.dtype not in (torch.int64, torch.int32) or y.ndim != 1:
        raise ValueError(f"a {out.shape[1]}-output model needs integer class indices of shape (n,)")
    if y.min() < 0 or y.max() >= out.shape[1]:
        raise ValueError(f"class indices must lie in [0, {out.shape[1] - 1}]")
    index = y.long().unsqueeze(1)
    correct = out.gather(1, index).squeeze(1)
    others = out.scatter(1, index, float("-inf")).max(dim=1).values
    return correct - others


def margins(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example margins: :math:`y f(x)` (binary, one output) or :math:`f_y - \\max_{j\\ne y} f_j`.

    ``y`` holds labels in {-1, +1} for a one-output model, class indices for a
    ``k``-output model. Evaluated without gradients. A margin :math:`\\le 0`
    is a training error (ties count as errors).
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    with torch.no_grad():
        out = model(X)
    return _output_margins(out, y)


def normalized_margins(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`margins` divided by :math:`\\rho = \\prod_k \\lVert W_k\\rVert_F`.

    For a bias-free ReLU network these are the margins of the normalised network
    :math:`\\tilde f`, which do not change when a layer is rescaled. With
    biases the network is not homogeneous and they do change; biases do not
    enter :math:`\\rho`.
    """
    return margins(model, X, y) / layer_norms(model)["rho"]


# ---------------------------------------------------------------------------
# architecture checks and bias folding
# ---------------------------------------------------------------------------

_SUPPORTED = "nn.Linear (NTKLinear included), nn.ReLU, nn.Identity, nn.Flatten inside an nn.Sequential"


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a supported fully connected network, in order; ``ValueError`` otherwise."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    for sub in model.modules():
        if isinstance(sub, nn.modules.conv._ConvNd):
            raise ValueError(
                f"{type(sub).__name__} found: the bounds here are for fully connected layers (dense weight "
                "matrices); a convolution would have to enter as its dense Toeplitz operator, which this "
                f"module does not build. Supported: {_SUPPORTED}"
            )
    if isinstance(model, nn.Linear):
        return [model]
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"{type(model).__name__} is not an nn.Sequential: the bounds need the layers in forward order "
            f"({_SUPPORTED})"
        )
    layers: list[nn.Linear] = []

    def walk(seq: nn.Sequential) -> None:
        for module in seq:
            if isinstance(module, nn.Sequential):
                walk(module)
            elif isinstance(module, nn.Linear):
                layers.append(module)
            elif isinstance(module, (nn.ReLU, nn.Identity, nn.Flatten)):
                continue
            else:
                raise ValueError(
                    f"unsupported layer {type(module).__name__}: these bounds are for "
                    f"fully connected ReLU/identity networks ({_SUPPORTED})"
                )

    walk(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no linear layers to measure")
    for i, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
        if b.in_features != a.out_features:
            raise ValueError(f"linear layer {i + 1} has {b.in_features} inputs but layer {i} has {a.out_features} outputs")
    return layers


def _effective(layer: nn.Linear) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Effective weight matrix and bias of a layer, detached, in float64 on the CPU."""
    weight = getattr(layer, "weight_scale", 1.0) * layer.weight
    bias = None if layer.bias is None else getattr(layer, "bias_scale", 1.0) * layer.bias
    weight = weight.detach().to("cpu", torch.float64)
    bias = None if bias is None else bias.detach().to("cpu", torch.float64)
    return weight, bias


def _last_bias(layers: list[nn.Linear]) -> int:
    """Index of the last layer with a bias, -1 if none."""
    return max((i for i, layer in enumerate(layers) if layer.bias is not None), default=-1)


def _fold(layers: list[nn.Linear], last: int) -> list[torch.Tensor]:
    mats = []
    for i, layer in enumerate(layers):
        weight, bias = _effective(layer)
        if i > last:
            mats.append(weight)
            continue
        column = torch.zeros(weight.shape[0], dtype=torch.float64) if bias is None else bias
        folded = torch.cat([weight, column[:, None]], dim=1)
        if i < last:
            carry = torch.zeros(1, folded.shape[1], dtype=torch.float64)
            carry[0, -1] = 1.0
            folded = torch.cat([folded, carry], dim=0)
        mats.append(folded)
    return mats


def folded_weights(model: nn.Module) -> list[torch.Tensor]:
    """The bias-free matrices :math:`\\tilde A_1, \\dots, \\tilde A_L` of the folded network (float64, CPU).

    For a bias-free model these are the effective weight matrices. Otherwise
    layer :math:`i` up to the last layer with a bias becomes
    :math:`\\tilde A_i = [A_i \\; b_i]` (a zero column where the layer has no
    bias) and, before that last layer, gains the row :math:`(0,\\dots,0,1)`
    that carries the constant input coordinate; the network
    :math:`x \\mapsto \\tilde A_L \\sigma(\\cdots \\sigma(\\tilde A_1 (x, 1)))`
    is the original one. Raises ``ValueError`` for unsupported architectures.
    """
    layers = _linear_layers(model)
    return _fold(layers, _last_bias(layers))


def fold_inputs(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``X`` as the folded network sees it: ``(x, 1)`` rows if the model has biases (float64, CPU)."""
    layers = _linear_layers(model)
    X = X.detach().to("cpu", torch.float64)
    if _last_bias(layers) < 0:
        return X
    return torch.cat([X, torch.ones(X.shape[0], 1, dtype=torch.float64)], dim=1)


def _check_data(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[nn.Linear]:
    layers = _linear_layers(model)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise ValueError("X and y must be torch tensors")
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (n examples x d features), got shape {tuple(X.shape)}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError("X has no examples")
    if X.shape[1] != layers[0].in_features:
        raise ValueError(f"X has {X.shape[1]} features but the first layer takes {layers[0].in_features}")
    if not torch.isfinite(X).all():
        raise ValueError("X contains NaN or inf")
    return layers


def _check_gamma(gamma: float) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not math.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma (the margin) must be a positive finite number, got {gamma!r}")
    return float(gamma)


def _check_delta(delta: float, name: str = "delta") -> float:
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < 1:
        raise ValueError(f"{name} (the failure probability) must lie in (0, 1), got {delta!r}")
    return float(delta)


def _margin_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor, gamma: float) -> float:
    """:math:`\\hat R_\\gamma`: the fraction of training points with margin :math:`\\le \\gamma`."""
    return (margins(model, X, y) <= gamma).double().mean().item()


# ---------------------------------------------------------------------------
# spectral complexity and the Bartlett-Foster-Telgarsky bound
# ---------------------------------------------------------------------------


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
    layers = _linear_layers(model)
    last = _last_bias(layers)
    A = _fold(layers, last)
    if reference is None:
        M = [torch.zeros_like(a) for a in A]
    else:
        ref_layers = _linear_layers(reference)
        shapes = [tuple(layer.weight.shape) for layer in layers]
        ref_shapes = [tuple(layer.weight.shape) for layer in ref_layers]
        if shapes != ref_shapes:
            raise ValueError(f"reference has weight shapes {ref_shapes} but the model has {shapes}")
        if _last_bias(ref_layers) > last:
            raise ValueError("reference has a bias in a layer after the model's last bias; the folded shapes differ")
        M = _fold(ref_layers, last)
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
    layers = _check_data(model, X, y)
    gamma = _check_gamma(gamma)
    delta = _check_delta(delta)
    n = X.shape[0]
    mats = _fold(layers, _last_bias(layers))
    width = max(max(a.shape) for a in mats)
    data_norm = torch.linalg.matrix_norm(fold_inputs(model, X)).item()
    r_a = spectral_complexity(model, reference)
    margin_loss = _margin_loss(model, X, y, gamma)
    c = 1.0 if layers[-1].out_features == 1 else 2.0
    complexity = 8.0 / n**1.5 + 36.0 * c * data_norm * r_a * math.sqrt(math.log(2.0 * width**2)) * math.log(n) / (gamma * n)
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


# ---------------------------------------------------------------------------
# Golowich-Rakhlin-Shamir Frobenius-product bound
# ---------------------------------------------------------------------------


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
    layers = _check_data(model, X, y)
    gamma = _check_gamma(gamma)
    delta = _check_delta(delta)
    n = X.shape[0]
    mats = _fold(layers, _last_bias(layers))
    depth = len(mats)
    product = 1.0
    for a in mats:
        product *= torch.linalg.matrix_norm(a).item()
    Xf = fold_inputs(model, X)
    data_norm = torch.linalg.matrix_norm(Xf).item()
    max_input_norm = torch.linalg.vector_norm(Xf, dim=1).max().item()
    factor = math.sqrt(2.0 * depth * math.log(2.0)) + 1.0
    rademacher = factor * product * data_norm / n
    k = layers[-1].out_features
    lipschitz = 2.0 / gamma if k == 1 else 4.0 * k / gamma
    complexity = lipschitz * rademacher
    confidence = 3.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
    margin_loss = _margin_loss(model, X, y, gamma)
    return {
        "margin_loss": margin_loss,
        "rademacher": rademacher,
        "complexity": complexity,
        "confidence": confidence,
        "bound": margin_loss + complexity + confidence,
        "frobenius_product": product,
        "depth": depth,
        "data_norm": data_norm,
        "max_input_norm": max_input_norm,
        "rademacher_worst_case": factor * product * max_input_norm / math.sqrt(n),
        "n": n,
        "gamma": gamma,
        "delta": delta,
    }


# ---------------------------------------------------------------------------
# path norm
# ---------------------------------------------------------------------------


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
    if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or p < 1:
        raise ValueError(f"p must be a number >= 1 (or inf), got {p!r}")
    mats = folded_weights(model)
    v = torch.ones(mats[0].shape[1], dtype=torch.float64)
    if math.isinf(p):
        for a in mats:
            v = (a.abs() * v[None, :]).max(dim=1).values
        return v.max().item()
    for a in mats:
        v = a.abs().pow(p) @ v
    return v.sum().item() ** (1.0 / p)


# ---------------------------------------------------------------------------
# PAC-Bayes
# ---------------------------------------------------------------------------


def binary_kl(q: float, p: float) -> float:
    """:math:`\\mathrm{kl}(q\\Vert p) = q\\ln\\frac qp + (1-q)\\ln\\frac{1-q}{1-p}`, the KL divergence of Bernoulli laws.

    Uses :math:`0 \\ln 0 = 0`; infinite when :math:`p \\in \\{0, 1\\}` differs from :math:`q`.
    """
    for name, value in (("q", q), ("p", p)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    out = 0.0
    if q > 0:
        out += math.inf if p == 0 else q * math.log(q / p)
    if q < 1:
        out += math.inf if p == 1 else (1 - q) * math.log((1 - q) / (1 - p))
    return out


def kl_inverse(q: float, c: float, *, tol: float = 1e-12) -> float:
    """:math:`\\mathrm{kl}^{-1}(q, c) = \\max\\{p \\in [q, 1] : \\mathrm{kl}(q\\Vert p) \\le c\\}`, by bisection.

    The upper inverse of the binary KL divergence (:func:`binary_kl`), which
    turns the Langford-Seeger / Maurer PAC-Bayes inequality
    :math:`\\mathrm{kl}(\\hat e\\Vert e) \\le c` into the bound :math:`e \\le
    \\mathrm{kl}^{-1}(\\hat e, c)`. Since :math:`\\mathrm{kl}(q\\Vert\\cdot)` increases on
    :math:`[q, 1]`, bisection converges; the returned value is the upper end of
    the final bracket (width :math:`\\le` ``tol``), so it never undershoots.
    Pinsker's inequality gives :math:`\\mathrm{kl}^{-1}(q, c) \\le q + \\sqrt{c/2}`.
    """
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be a probability in [0, 1], got {q!r}")
    if isinstance(c, bool) or not isinstance(c, (int, float)) or math.isnan(c) or c < 0:
        raise ValueError(f"c must be a non-negative number, got {c!r}")
    q, c = float(q), float(c)
    if q == 1.0 or c == math.inf:
        return 1.0
    if c == 0.0:
        return q
    if q == 0.0:
        return -math.expm1(-c)  # kl(0 || p) = -ln(1 - p)
    lo, hi = q, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if binary_kl(q, mid) > c:
            hi = mid
        else:
            lo = mid
    return hi


def isotropic_gaussian_kl(mean_q: torch.Tensor, mean_p: torch.Tensor, sigma_q: float, sigma_p: float) -> float:
    """:math:`\\mathrm{KL}(N(\\mu_q, \\sigma_q^2 I) \\Vert N(\\mu_p, \\sigma_p^2 I))` in closed form.

    .. math::

        \\frac12\\Big[\\frac{d\\,\\sigma_q^2 + \\lVert\\mu_q - \\mu_p\\rVert^2}{\\sigma_p^2}
        - d + 2d\\ln\\frac{\\sigma_p}{\\sigma_q}\\Big],

    :math:`d` the dimension.
    """
    if mean_q.shape != mean_p.shape:
        raise ValueError(f"means have different shapes {tuple(mean_q.shape)} and {tuple(mean_p.shape)}")
    sq_dist = (mean_q.detach().double() - mean_p.detach().double()).pow(2).sum().item()
    return _iso_kl(sq_dist, mean_q.numel(), float(sigma_q), float(sigma_p))


def _iso_kl(sq_dist: float, d: int, sigma_q: float, sigma_p: float) -> float:
    if not (sigma_q > 0 and sigma_p > 0):
        raise ValueError(f"standard deviations must be positive, got sigma_q={sigma_q}, sigma_p={sigma_p}")
    ratio = (sigma_q / sigma_p) ** 2
    return 0.5 * (d * ratio + sq_dist / sigma_p**2 - d - d * math.log(ratio))


def _as_sigmas(sigma, name: str) -> list[float]:
    if isinstance(sigma, numbers.Real) or isinstance(sigma, (str, bytes)):
        values = [sigma]
    else:
        try:
            values = list(sigma)
        except TypeError:
            values = [sigma]
    if not values:
        raise ValueError(f"{name} must be a positive number or a non-empty sequence of them")
    for s in values:
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s <= 0:
            raise ValueError(f"{name} must be positive and finite, got {s!r}")
    return [float(s) for s in values]


def pac_bayes_bound(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    sigma: float | Sequence[float],
    prior: nn.Module | None = None,
    prior_sigma: float | None = None,
    samples: int = 1000,
    delta: float = 0.05,
    mc_delta: float = 0.01,
    loss: str = "01",
    seed: int = 0,
) -> dict:
    """A PAC-Bayes bound on the error of a Gaussian-perturbed network (Dziugaite and Roy 2017).

    Posterior :math:`Q = N(w, \\sigma^2 I)` around the trained parameters
    :math:`w` (all of ``model.parameters()``, biases included, in the
    parametrisation the optimiser sees: for ``NTKLinear`` the raw standard-normal
    ``weight``); prior :math:`P = N(w_0, \\sigma_P^2 I)` with :math:`w_0` the
    parameters of ``prior`` (Dziugaite and Roy used the random initialisation,
    which is chosen before the data are seen, as a prior must be) or the zero
    vector when ``prior`` is ``None``, and :math:`\\sigma_P` = ``prior_sigma``
    (default: :math:`\\sigma`). Then :math:`\\mathrm{KL}(Q\\Vert P)` is
    :func:`isotropic_gaussian_kl`.

    With probability :math:`\\ge 1 - \\delta - \\delta'`:

    1. *Sample convergence* (Langford and Caruana 2002; Dziugaite and Roy,
       sec. 3): the training error :math:`\\hat e(Q)` of the stochastic network
       is estimated by :math:`\\hat e_m`, the mean training 0-1 error of
       ``samples`` = :math:`m` seeded draws :math:`w + \\sigma\\xi`; then
       :math:`\\hat e(Q) \\le \\bar e = \\mathrm{kl}^{-1}(\\hat e_m, \\ln(2/\\delta')/m)`.
    2. *PAC-Bayes* (Langford-Seeger in the form of Maurer 2004, valid for
       :math:`n \\ge 8`): :math:`\\mathrm{kl}(\\hat e(Q)\\Vert e(Q)) \\le
       (\\mathrm{KL}(Q\\Vert P) + \\ln(2\\sqrt n/\\delta))/n`, hence

       .. math::  e(Q) \\le \\mathrm{kl}^{-1}\\Big(\\bar e,\\;
                  \\frac{\\mathrm{KL}(Q\\Vert P) + \\ln(2\\sqrt n/\\delta)}{n}\\Big).

       For :math:`n < 8` the always-valid :math:`\\ln((n+1)/\\delta)` replaces
       :math:`\\ln(2\\sqrt n/\\delta)`.

    A 0-1 error counts a margin :math:`\\le 0` (ties are errors). The bound is on
    the stochastic classifier :math:`Q`, not on the trained network itself.

    **Grid over sigma.** If ``sigma`` is a sequence of :math:`K` values (fixed
    before seeing the data), the bound is computed for each with
    :math:`\\delta/K` and :math:`\\delta'/K` (a union bound), so the smallest of
    them holds with probability :math:`\\ge 1-\\delta-\\delta'`; that one is
    returned, the others under ``"grid"``. A fixed ``prior_sigma`` applies to
    every grid value; by default each uses :math:`\\sigma_P = \\sigma`.

    Parameters
    ----------
    model
        Any network whose outputs are one score (labels in {-1, +1}) or class scores
        (integer labels); the architecture is not restricted here.
    sigma
        Posterior standard deviation, or a grid of them.
    prior
        Model with the same parameter names and shapes (the prior mean), or ``None``.
    samples
        Number :math:`m` of Monte Carlo draws of the weights.
    delta, mc_delta
        Failure probabilities of the PAC-Bayes step and the sample-convergence step.
    loss
        ``"01"``: the 0-1 loss (the only one implemented).
    seed
        Seeds a private generator: the same seed gives the same bound; the global
        generator is not touched. Every grid value uses the same draws of :math:`\\xi`.

    Returns
    -------
    dict
        ``bound``, ``kl`` (:math:`\\mathrm{KL}(Q\\Vert P)`), ``empirical_error``
        (:math:`\\hat e_m`), ``empirical_error_bound`` (:math:`\\bar e`),
        ``train_error`` (of the unperturbed network), ``sigma``, ``prior_sigma``,
        ``num_params``, ``n``, ``samples``, ``delta``, ``mc_delta``, and
        ``grid`` (one dict per sigma value).
    """
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    n = X.shape[0]
    if n == 0:
        raise ValueError("X has no examples")
    sigmas = _as_sigmas(sigma, "sigma")
    prior_sigmas = None if prior_sigma is None else _as_sigmas(prior_sigma, "prior_sigma")
    if prior_sigmas is not None and len(prior_sigmas) != 1:
        raise ValueError("prior_sigma must be one positive number")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    delta = _check_delta(delta)
    mc_delta = _check_delta(mc_delta, "mc_delta")
    if delta + mc_delta >= 1:
        raise ValueError(f"delta + mc_delta must be below 1, got {delta} + {mc_delta}")
    if loss != "01":
        raise ValueError(f"loss must be '01' (the 0-1 loss), got {loss!r}")
    named = {name: p.detach() for name, p in model.named_parameters()}
    if not named:
        raise ValueError(f"{type(model).__name__} has no parameters to perturb")
    if prior is None:
        prior_named = {name: torch.zeros_like(p) for name, p in named.items()}
    else:
        prior_named = {name: p.detach() for name, p in prior.named_parameters()}
        mine = {k: tuple(v.shape) for k, v in named.items()}
        theirs = {k: tuple(v.shape) for k, v in prior_named.items()}
        if mine != theirs:
            raise ValueError(f"prior must have the model's parameter names and shapes: {theirs} vs {mine}")
    d = sum(p.numel() for p in named.values())
    sq_dist = sum((named[k].double() - prior_named[k].double().to(named[k].device)).pow(2).sum().item() for k in named)
    K = len(sigmas)
    log_term = math.log(2.0 * math.sqrt(n) * K / delta) if n >= 8 else math.log((n + 1) * K / delta)
    mc_c = math.log(2.0 * K / mc_delta) / samples

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            train_error = (_output_margins(model(X), y) <= 0).double().mean().item()
            grid = []
            for s in sigmas:
                sp = s if prior_sigmas is None else prior_sigmas[0]
                kl = _iso_kl(sq_dist, d, s, sp)
                generators: dict[torch.device, torch.Generator] = {}
                errors = 0.0
                for _ in range(samples):
                    perturbed = {}
                    for name, p in named.items():
                        gen = generators.get(p.device)
                        if gen is None:
                            gen = generators[p.device] = torch.Generator(device=p.device).manual_seed(seed)
                        noise = torch.randn(p.shape, generator=gen, device=p.device, dtype=p.dtype)
                        perturbed[name] = p + s * noise
                    out = functional_call(model, perturbed, (X,))
                    errors += (_output_margins(out, y) <= 0).double().mean().item()
                e_mc = min(max(errors / samples, 0.0), 1.0)
                e_bar = kl_inverse(e_mc, mc_c)
                grid.append({
                    "bound": kl_inverse(e_bar, (kl + log_term) / n),
                    "kl": kl,
                    "empirical_error": e_mc,
                    "empirical_error_bound": e_bar,
                    "sigma": s,
                    "prior_sigma": sp,
                })
    finally:
        model.train(was_training)
    best = min(grid, key=lambda g: g["bound"])
    return {
        **best,
        "train_error": train_error,
        "num_params": d,
        "n": n,
        "samples": samples,
        "delta": delta,
        "mc_delta": mc_delta,
        "grid": grid,
    }


# ---------------------------------------------------------------------------
# VC dimension, for contrast
# ---------------------------------------------------------------------------


def vc_dimension(model: nn.Module, *, constant: float = 1.0) -> float:
    """The parameter-counting estimate :math:`C\\, W L \\log_2 W` of the VC dimension.

    Bartlett, Harvey, Liaw, Mehrabian 2019 prove that ReLU (piecewise linear)
    networks with :math:`W` parameters (weights and biases) in :math:`L` layers
    have VC dimension :math:`O(W L \\log W)`, and that :math:`\\Omega(W L \\log(W/L))`
    is attained. Their explicit upper bound carries constants and the number of
    units inside the logarithm; we take its order with :math:`C` = ``constant``
    (default 1), which is an estimate of the right size, not a certified upper
    bound. :math:`L` counts the linear layers; :math:`\\log_2 W` is taken as at
    least 1.
    """
    if isinstance(constant, bool) or not isinstance(constant, (int, float)) or not math.isfinite(constant) or constant <= 0:
        raise ValueError(f"constant must be a positive number, got {constant!r}")
    layers = _linear_layers(model)
    num_params = sum(p.numel() for layer in layers for p in layer.parameters())
    return constant * num_params * len(layers) * max(math.log2(num_params), 1.0)


def vc_bound(model: nn.Module, n: int, *, delta: float = 0.05, constant: float = 1.0) -> float:
    """Vapnik's VC generalisation gap for the network's class, with :math:`h` = :func:`vc_dimension`.

    With probability :math:`\\ge 1-\\delta`, every classifier of a class of VC
    dimension :math:`h` satisfies (Vapnik 1998, *Statistical Learning Theory*)

    .. math::

        \\Pr[\\text{error}] - \\hat R_0 \\le \\sqrt{\\frac{\\ln \\Pi(2n) + \\ln(4/\\delta)}{n}},
        \\qquad \\ln\\Pi(2n) \\le h\\Big(\\ln\\frac{2n}{h} + 1\\Big) \\ \\text{if } 2n \\ge h,

    the familiar :math:`\\sqrt{(h(\\ln(2n/h)+1) + \\ln(4/\\delta))/n}`, with Sauer's
    lemma bounding the growth function :math:`\\Pi`. Since also
    :math:`\\Pi(2n) \\le 2^{2n}`, we use :math:`\\min(h(\\ln(2n/h)+1), 2n\\ln 2)` when
    :math:`2n \\ge h` and :math:`2n \\ln 2` otherwise (then the gap exceeds
    :math:`\\sqrt{2\\ln 2} > 1`). Returns the gap; for overparametrised networks
    (:math:`W \\gg n`) it is vacuous, which is the point of the contrast.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the number of training examples) must be a positive integer, got {n!r}")
    delta = _check_delta(delta)
    h = vc_dimension(model, constant=constant)
    m = 2 * n
    log_growth = m * math.log(2.0)
    if m >= h:
        log_growth = min(log_growth, h * (math.log(m / h) + 1.0))
    return math.sqrt((log_growth + math.log(4.0 / delta)) / n)
