"""Activation patterns of ReLU networks, and how little training changes them when the net is wide.

A ReLU unit :math:`r` of a hidden layer is *on* for input :math:`x` when its
pre-activation is positive, :math:`z_r(x) = \\langle w_r, x\\rangle + b_r > 0`.
For :math:`n` inputs and :math:`m` units the **activation pattern** is the
:math:`n \\times m` Boolean matrix :math:`P_{ir} = 1[z_r(x_i) > 0]`. The
analyses of wide networks trained from random initialisation
(Li & Liang 2018; Du, Zhai, Poczos & Singh 2019; Allen-Zhu, Li & Song 2019)
rest on one observation: when the width :math:`m` is large, training moves
every weight vector by a small fraction of its length, so few patterns change,
and the network behaves as if its patterns were frozen at initialisation.
This module measures that:

=================================  ====================================================================
:func:`pre_activations`            the inputs :math:`z` of every activation of a dense chain
:func:`activation_patterns`        the patterns :math:`1[z > 0]`, one ``(n, m_k)`` matrix per activation
:func:`flip_fraction`              the fraction of (unit, example) pairs whose pattern changed
                                   (or of units, or of examples, with at least one change)
:func:`relative_movement`          :math:`\\lVert\\theta - \\theta_0\\rVert / \\lVert\\theta_0\\rVert`
:func:`pseudo_gradient`            the gradient with every activation's derivative taken at
                                   :math:`\\theta_0` (Li & Liang's pseudo-gradient)
:func:`true_gradient`              the ordinary gradient
:func:`pseudo_gradient_cosine`     the cosine between the two
=================================  ====================================================================

The networks are dense chains, as read by :func:`dltheory.models.dense_layers`:
``nn.Linear`` or :class:`~dltheory.models.NTKLinear` layers with element-wise
activations between them, e.g. :func:`dltheory.models.two_layer` or
:func:`dltheory.models.mlp`. Patterns use the strict inequality :math:`z > 0`,
as PyTorch's derivative of the ReLU does (it is 0 at 0); Li & Liang write
:math:`\\ge 0`, which differs only on a set of measure zero.

References
----------
Y. Li and Y. Liang, *Learning overparameterized neural networks via stochastic
gradient descent on structured data*, NeurIPS 2018 (the pseudo-gradient and
the coupling argument). S. S. Du, X. Zhai, B. Poczos and A. Singh, *Gradient
descent provably optimizes over-parameterized neural networks*, ICLR 2019
(the fraction of flipped patterns in the NTK analysis).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import losses as _losses
from ._checks import check_choice, check_module, check_tensor, check_Xy, check_X
from .models.dense import ELEMENTWISE, _chain, _linear_type, dense_layers

__all__ = [
    "pre_activations",
    "activation_patterns",
    "flip_fraction",
    "relative_movement",
    "pseudo_gradient",
    "true_gradient",
    "pseudo_gradient_cosine",
    "FLIP_COUNTS",
]

#: What :func:`flip_fraction` counts: (unit, example) pairs, units, or examples.
FLIP_COUNTS = ("pairs", "units", "examples")


# --------------------------------------------------------------------------- walking the chain


def _steps(model: nn.Module) -> list[tuple[str, nn.Module, bool]]:
    """The chain's modules in forward order, each flagged as a gated activation or not.

    Validates the model with :func:`~dltheory.models.dense_layers` first, so that
    every module is a dense layer, an element-wise activation or ``nn.Flatten``.
    """
    dense_layers(check_module(model))
    return [(name, module, isinstance(module, ELEMENTWISE) and not isinstance(module, nn.Identity))
            for name, module in _chain(model)]


class _FrozenGate(torch.autograd.Function):
    """Returns ``value`` (an activation's output), back-propagates ``grad * gate`` to ``z``."""

    @staticmethod
    def forward(ctx, z, value, gate):  # noqa: ARG004 (z only receives the gradient)
        ctx.save_for_backward(gate)
        return value.view_as(value)

    @staticmethod
    def backward(ctx, grad):
        (gate,) = ctx.saved_tensors
        return grad * gate, None, None


def _forward(model: nn.Module, X: torch.Tensor, gates: list[torch.Tensor] | None = None
             ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Outputs and the pre-activations of every gated activation.

    With ``gates``, activation :math:`k` returns its usual value
    :math:`\\sigma(z)` but back-propagates through the fixed derivative
    ``gates[k]`` instead of :math:`\\sigma'(z)`.
    """
    z, pre = X, []
    for _, module, gated in _steps(model):
        if gated:
            pre.append(z)
            if gates is None:
                z = module(z)
            else:
                z = _FrozenGate.apply(z, module(z.detach()), gates[len(pre) - 1])
        else:
            z = module(z)
    return z, pre


def _derivatives(model: nn.Module, X: torch.Tensor) -> list[torch.Tensor]:
    """Each activation's derivative :math:`\\sigma'(z)` at the model's own pre-activations (no graph kept)."""
    derivatives = []
    with torch.no_grad():
        _, pre = _forward(model, X)
    acts = [module for _, module, gated in _steps(model) if gated]
    for act, z in zip(acts, pre):
        z = z.detach().requires_grad_(True)
        with torch.enable_grad():
            (d,) = torch.autograd.grad(act(z).sum(), z)
        derivatives.append(d.detach())
    return derivatives


def _same_architecture(model: nn.Module, initial: nn.Module) -> None:
    a, b = _steps(model), _steps(initial)
    shapes_a = [(type(m).__name__, tuple(p.shape for p in m.parameters())) for _, m, _ in a]
    shapes_b = [(type(m).__name__, tuple(p.shape for p in m.parameters())) for _, m, _ in b]
    if shapes_a != shapes_b:
        raise ValueError("initial must be the same architecture as model (the same layers, activations and "
                         f"parameter shapes), got {shapes_b} and {shapes_a}")
    for (_, m, _), (_, m0, _) in zip(a, b):
        if _linear_type(m) is not None and getattr(m, "weight_scale", 1.0) != getattr(m0, "weight_scale", 1.0):
            raise ValueError("initial and model scale their weights differently (NTKLinear.weight_scale)")


# --------------------------------------------------------------------------- patterns


def pre_activations(model: nn.Module, X) -> tuple[torch.Tensor, ...]:
    """The inputs :math:`z^{(k)}(x_i)` of every activation of a dense chain, without gradients.

    Parameters
    ----------
    model
        A dense chain (:func:`~dltheory.models.dense_layers`): linear layers
        with element-wise activations between them. ``nn.Identity`` is not an
        activation here.
    X
        Inputs of shape ``(n, d)``.

    Returns
    -------
    tuple of Tensor
        One ``(n, m_k)`` tensor per activation, in forward order (one for a
        two-layer network).
    """
    X = check_X(X, like=check_module(model), ndim=2)
    with torch.no_grad():
        _, pre = _forward(model, X)
    return tuple(z.detach() for z in pre)


def activation_patterns(model: nn.Module, X) -> tuple[torch.Tensor, ...]:
    """The activation patterns :math:`P^{(k)}_{ir} = 1[z^{(k)}_r(x_i) > 0]` of a dense chain.

    Returns one Boolean ``(n, m_k)`` tensor per activation (see
    :func:`pre_activations`): row :math:`i` is the pattern of example
    :math:`x_i`, column :math:`r` that of unit :math:`r`.
    """
    return tuple(z > 0 for z in pre_activations(model, X))


def _as_patterns(p, name: str) -> tuple[torch.Tensor, ...]:
    items = (p,) if isinstance(p, torch.Tensor) else tuple(p) if isinstance(p, Sequence) else None
    if not items or not all(isinstance(t, torch.Tensor) for t in items):
        raise TypeError(f"{name} must be a Boolean tensor (n, m) or a sequence of them, as activation_patterns "
                        f"returns, got {type(p).__name__}")
    for t in items:
        if t.dtype != torch.bool:
            raise TypeError(f"{name} must hold Boolean patterns (z > 0), got dtype {t.dtype}")
        if t.ndim != 2 or t.numel() == 0:
            raise ValueError(f"{name} must be (n examples, m units) patterns, got shape {tuple(t.shape)}")
    return items


def flip_fraction(before, after, *, over: str = "pairs") -> float:
    """The fraction of activation patterns that changed between two weight settings.

    With patterns :math:`P^0, P \\in \\{0,1\\}^{n\\times m}` (one pair per hidden
    layer, pooled over the layers):

    * ``over="pairs"`` (default): the fraction of (unit, example) pairs that flipped,
      :math:`\\frac{1}{nm}\\sum_{i,r} 1[P_{ir} \\ne P^0_{ir}]`. This is the
      quantity of the coupling arguments: the true and the pseudo-gradient differ
      only through these pairs.
    * ``"units"``: the fraction of units that flipped on *at least one* example,
      :math:`\\frac1m\\sum_r \\max_i 1[P_{ir} \\ne P^0_{ir}]`, which is much larger
      (a unit whose hyperplane moves slightly still changes side on the
      examples closest to it).
    * ``"examples"``: the fraction of examples on which at least one unit flipped.

    Parameters
    ----------
    before, after
        What :func:`activation_patterns` returns for the same inputs under the
        two settings: a Boolean ``(n, m)`` tensor or a sequence of them.

    Returns
    -------
    float in ``[0, 1]``.
    """
    over = check_choice(over, "over", FLIP_COUNTS)
    before, after = _as_patterns(before, "before"), _as_patterns(after, "after")
    if [t.shape for t in before] != [t.shape for t in after]:
        raise ValueError(f"before and after must be patterns of the same shapes, got "
                         f"{[tuple(t.shape) for t in before]} and {[tuple(t.shape) for t in after]}")
    changed = [(a != b.to(a.device)) for a, b in zip(after, before)]
    if over == "pairs":
        return float(sum(c.sum().item() for c in changed) / sum(c.numel() for c in changed))
    if over == "units":
        return float(sum(c.any(dim=0).sum().item() for c in changed) / sum(c.shape[1] for c in changed))
    if len({c.shape[0] for c in changed}) != 1:
        raise ValueError("over='examples' needs the same examples in every layer's patterns")
    return float(torch.stack([c.any(dim=1) for c in changed]).any(dim=0).double().mean().item())


# --------------------------------------------------------------------------- movement


def _trainable(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    return named


def relative_movement(initial, current) -> float:
    """:math:`\\lVert \\theta - \\theta_0\\rVert_2 / \\lVert \\theta_0\\rVert_2`, the relative distance travelled.

    Parameters
    ----------
    initial, current
        Two models of the same architecture (the trainable parameters of
        ``current``, matched by name in ``initial``, are stacked into one
        vector), or two tensors (e.g. hidden weight matrices), or two sequences
        of tensors of matching shapes.

    Returns
    -------
    float
        For a matrix :math:`W` this is :math:`\\lVert W - W_0\\rVert_F/\\lVert W_0\\rVert_F`.
        In the NTK parametrisation the stored parameters are the standard-normal
        ones; the effective weights differ by a constant factor per layer, so
        the ratio for one layer is the same either way.

    Raises
    ------
    ValueError
        Shapes differ, or :math:`\\theta_0 = 0` (the ratio is undefined).
    """
    if isinstance(initial, nn.Module) or isinstance(current, nn.Module):
        check_module(initial, "initial"), check_module(current, "current")
        params0 = dict(initial.named_parameters())
        pairs = []
        for name, p in _trainable(current):
            if name not in params0 or params0[name].shape != p.shape:
                raise ValueError(f"initial has no parameter {name!r} of shape {tuple(p.shape)}: "
                                 "the two models must have the same architecture")
            pairs.append((params0[name], p))
    else:
        a = (initial,) if isinstance(initial, torch.Tensor) else tuple(initial)
        b = (current,) if isinstance(current, torch.Tensor) else tuple(current)
        if len(a) != len(b):
            raise ValueError(f"initial has {len(a)} tensors but current has {len(b)}")
        pairs = [(check_tensor(x, "initial"), check_tensor(y, "current")) for x, y in zip(a, b)]
        for x, y in pairs:
            if x.shape != y.shape:
                raise ValueError(f"initial and current must have the same shapes, got {tuple(x.shape)} "
                                 f"and {tuple(y.shape)}")
    with torch.no_grad():
        moved = sum(float((y.double() - x.double().to(y.device)).pow(2).sum()) for x, y in pairs)
        size = sum(float(x.double().pow(2).sum()) for x, _ in pairs)
    if size == 0:
        raise ValueError("the initial parameters are zero, so the relative movement is undefined; "
                         "report the absolute distance instead")
    return (moved / size) ** 0.5


# --------------------------------------------------------------------------- gradients


def pseudo_gradient(model: nn.Module, initial: nn.Module, X, y, *, loss="ce") -> tuple[torch.Tensor, ...]:
    """The gradient of the training loss with every activation pattern frozen at ``initial``.

    For a two-layer network :math:`f_a(x) = \\sum_r V_{ar}\\,\\sigma(\\langle w_r, x\\rangle)`
    with :math:`V` fixed and the softmax cross-entropy
    :math:`L(W) = \\frac1n \\sum_s -\\log o_{y_s}(x_s; W)`, the gradient is

    .. math::  \\frac{\\partial L}{\\partial w_r} = \\frac1n \\sum_s
               \\Bigl(\\sum_{a} (o_a(x_s; W) - 1[a = y_s])\\, V_{ar}\\Bigr)
               \\,\\sigma'(\\langle w_r, x_s\\rangle)\\, x_s ,

    and Li & Liang's *pseudo-gradient* replaces :math:`\\sigma'(\\langle w_r, x_s\\rangle)`
    by its value at initialisation, :math:`1[\\langle w_r^{(0)}, x_s\\rangle > 0]`
    for the ReLU, while the softmax outputs :math:`o(x_s; W)` stay those of the
    current weights. (Since :math:`\\sum_a o_a = 1`, the bracket equals
    :math:`\\sum_{a \\ne y_s} (V_{ar} - V_{y_s r})\\, o_a`, the form in the paper.)

    It is computed generically, for any dense chain: each activation returns its
    usual value but back-propagates through the derivative taken at ``initial``'s
    pre-activations (computed by autograd, so any element-wise activation works). In a deeper chain this freezes every layer's pattern. Where
    no pattern has flipped, the pseudo-gradient *is* the gradient.

    Parameters
    ----------
    model, initial
        The current network and the same architecture at initialisation (e.g.
        ``copy.deepcopy(model)`` taken before training).
    X, y
        Inputs ``(n, d)`` and targets (class indices for ``"ce"``).
    loss
        A name of :mod:`dltheory.losses` or a callable ``loss(outputs, targets)``
        (a mean over examples).

    Returns
    -------
    tuple of Tensor
        One gradient per trainable parameter of ``model``, in
        ``named_parameters`` order (a frozen outer layer has none).
    """
    return _gradient(model, initial, X, y, loss)


def true_gradient(model: nn.Module, X, y, *, loss="ce") -> tuple[torch.Tensor, ...]:
    """The gradient of the training loss with respect to the trainable parameters (plain autograd).

    At ``initial = model`` it equals :func:`pseudo_gradient` (the library's
    tests check that, and both against a closed form).
    """
    return _gradient(model, None, X, y, loss)


def _gradient(model: nn.Module, initial: nn.Module | None, X, y, loss) -> tuple[torch.Tensor, ...]:
    check_module(model)
    if initial is not None:
        check_module(initial, "initial")
        _same_architecture(model, initial)
    X, y = check_Xy(X, y, like=model, X_ndim=2)
    fn = _losses.resolve(loss)
    gates = None if initial is None else _derivatives(initial, X)
    named = _trainable(model)
    with torch.enable_grad():
        outputs, _ = _forward(model, X, gates)
        _losses.check_targets(loss, outputs, y)
        value = fn(outputs, y)
        grads = torch.autograd.grad(value, [p for _, p in named])
    return tuple(g.detach() for g in grads)


def pseudo_gradient_cosine(model: nn.Module, initial: nn.Module, X, y, *, loss="ce") -> float:
    """:math:`\\cos(\\nabla L, \\tilde\\nabla L)`: how well the pseudo-gradient points along the gradient.

    Both are flattened over all trainable parameters (:func:`true_gradient`,
    :func:`pseudo_gradient`). It is 1 at initialisation and whenever no pattern
    has flipped; Li & Liang's coupling lemma says it stays close to 1 throughout
    training when the network is wide. Raises ``ValueError`` if either gradient
    is zero (the cosine is undefined).
    """
    g = torch.cat([t.reshape(-1) for t in true_gradient(model, X, y, loss=loss)]).double()
    p = torch.cat([t.reshape(-1) for t in pseudo_gradient(model, initial, X, y, loss=loss)]).double()
    norms = g.norm() * p.norm()
    if norms == 0:
        raise ValueError("the gradient or the pseudo-gradient is zero, so their cosine is undefined")
    return float(g @ p / norms)
