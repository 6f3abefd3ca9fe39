"""The one walker over a feed-forward network's dense layers.

Margins, norms, the generalisation bounds, homogeneity and the rescaling
symmetries all read a network as a chain

.. math::  f(x) = W_L\\, \\sigma_{L-1}\\bigl(W_{L-1} \\cdots \\sigma_1(W_1 x + b_1) \\cdots\\bigr) + b_L ,

and all of them need the same facts about it: the matrices :math:`W_k` that
really multiply each layer's input (``weight_scale * weight`` for an
:class:`~dltheory.models.NTKLinear`, the reparametrised weight of a layer under
``torch.nn.utils.parametrizations.weight_norm``), the biases, and which
activations sit between the layers. :func:`dense_layers` reads them once, with
one set of rules, and says whether the network is bias-free and positively
homogeneous, :math:`\\sigma(cz) = c\\,\\sigma(z)` for :math:`c > 0`, which is what
:math:`f(\\dots, \\alpha W_k, \\dots) = \\alpha f` needs.

What counts as a feed-forward network: an ``nn.Linear``, or an ``nn.Sequential``
(nested ones are read in order) of

* linear layers: ``nn.Linear``, :class:`~dltheory.models.NTKLinear`, and either
  of them under a ``torch.nn.utils.parametrize`` parametrisation;
* element-wise activations (:data:`ELEMENTWISE`), after a linear layer;
* ``nn.Flatten`` (it only reshapes).

Anything else is a ``ValueError`` that names the module: a convolution (whose
dense operator, a Toeplitz matrix, depends on the input size), a normalisation
layer, dropout, or a subclass of ``nn.Linear`` whose forward pass is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from .._checks import check_bool, check_choice, check_module
from .mlp import NTKLinear

__all__ = ["HOMOGENEOUS", "ELEMENTWISE", "DenseLayer", "DenseLayers", "dense_layers"]

#: Activations with :math:`\sigma(cz) = c\,\sigma(z)` for every :math:`c > 0`.
HOMOGENEOUS = (nn.ReLU, nn.LeakyReLU, nn.Identity)
#: Element-wise activations a dense chain may hold.
ELEMENTWISE = (*HOMOGENEOUS, nn.Tanh, nn.Softplus, nn.Sigmoid, nn.GELU, nn.ELU, nn.SiLU, nn.Hardtanh)
_LINEAR_TYPES = (nn.Linear, NTKLinear)


def _linear_type(module: nn.Module) -> type | None:
    """``nn.Linear`` or ``NTKLinear`` for those layers (parametrised or not, without pre-hooks), else None."""
    cls = type(module)
    if parametrize.is_parametrized(module):
        cls = cls.__bases__[0]  # parametrize makes a subclass ParametrizedX(X)
    return cls if cls in _LINEAR_TYPES and not module._forward_pre_hooks else None


@dataclass(frozen=True)
class DenseLayer:
    """One dense layer :math:`x \\mapsto W x + b` of a feed-forward network.

    Attributes
    ----------
    index
        Position in forward order, from 1.
    name
        The module's qualified name in the model (``""`` for a lone ``nn.Linear``).
    module
        The ``nn.Linear`` (or subclass) itself.
    activations
        The activation modules applied to the layer's output before the next
        layer (empty for the last layer, or a layer followed directly by another).
    """

    index: int
    name: str
    module: nn.Linear
    activations: tuple[nn.Module, ...]

    @property
    def weight_scale(self) -> float:
        """The factor the forward pass puts in front of ``module.weight`` (1, or NTKLinear's)."""
        return float(getattr(self.module, "weight_scale", 1.0))

    @property
    def bias_scale(self) -> float:
        """The factor in front of ``module.bias`` (1, or NTKLinear's)."""
        return float(getattr(self.module, "bias_scale", 1.0))

    @property
    def parametrized(self) -> bool:
        """Whether the weight is computed by a ``torch.nn.utils.parametrize`` parametrisation."""
        return parametrize.is_parametrized(self.module)

    @property
    def weight(self) -> torch.Tensor:
        """The effective matrix :math:`W` (``(out, in)``), differentiable in the parameters."""
        scale = self.weight_scale
        return self.module.weight if scale == 1.0 else scale * self.module.weight

    @property
    def bias(self) -> torch.Tensor | None:
        """The effective bias :math:`b`, or ``None``."""
        if self.module.bias is None:
            return None
        scale = self.bias_scale
        return self.module.bias if scale == 1.0 else scale * self.module.bias

    def parameter_name(self, which: str = "weight") -> str:
        """The qualified name of the raw parameter ``which`` (``"weight"`` or ``"bias"``) in the model.

        Raises ``ValueError`` for a parametrised weight, which is computed, not stored,
        and for the bias of a layer without one.
        """
        check_choice(which, "parameter", ("weight", "bias"))
        if which == "bias" and self.module.bias is None:
            raise ValueError(f"layer {self.index} ({self.name or type(self.module).__name__}) has no bias")
        if which == "weight" and self.parametrized:
            raise ValueError(f"layer {self.index} ({self.name or type(self.module).__name__}) has a parametrised "
                             "weight: it is computed from other parameters, not stored as one")
        return f"{self.name}.{which}" if self.name else which

    @property
    def in_features(self) -> int:
        return self.module.in_features

    @property
    def out_features(self) -> int:
        return self.module.out_features


@dataclass(frozen=True)
class DenseLayers:
    """The dense layers of a feed-forward network, in forward order, and what they add up to.

    Iterates, indexes and has a length like the tuple ``layers``.

    Attributes
    ----------
    layers
        The :class:`DenseLayer` objects, first to last.
    bias_free
        No layer has a bias.
    homogeneous
        Every activation is positively homogeneous (:data:`HOMOGENEOUS`). With
        ``bias_free`` too, :math:`f(\\dots, \\alpha W_k, \\dots) = \\alpha f` for every
        layer :math:`k` and :math:`\\alpha > 0`, so :math:`f = \\rho\\tilde f` with
        :math:`\\rho = \\prod_k\\lVert W_k\\rVert_F`.
    """

    layers: tuple[DenseLayer, ...]
    bias_free: bool
    homogeneous: bool

    def __iter__(self) -> Iterator[DenseLayer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    @property
    def weights(self) -> list[torch.Tensor]:
        """The effective matrices :math:`W_1, \\dots, W_L`."""
        return [layer.weight for layer in self.layers]

    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def out_features(self) -> int:
        return self.layers[-1].out_features


def _chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules of the chain in forward order, a module used twice listed twice."""
    if isinstance(model, nn.Linear):
        return [("", model)]
    if not isinstance(model, nn.Sequential):
        if isinstance(model, nn.modules.conv._ConvNd):
            raise ValueError(_refusal(type(model).__name__, model))
        raise ValueError(
            f"{type(model).__name__} is not an nn.Sequential: dense_layers reads feed-forward chains "
            "(nn.Linear layers and element-wise activations in an nn.Sequential, nested ones too)"
        )
    items: list[tuple[str, nn.Module]] = []

    def walk(seq: nn.Sequential, prefix: str) -> None:
        for key, module in zip(seq._modules, seq):  # as forward runs them; named_children() drops repeats
            name = f"{prefix}{key}"
            if isinstance(module, nn.Sequential):
                walk(module, name + ".")
            else:
                items.append((name, module))

    walk(model, "")
    return items


def _refusal(name: str, module: nn.Module) -> str:
    what = f"{type(module).__name__} ({name})"
    if isinstance(module, nn.modules.conv._ConvNd):
        return (f"{what} is a convolution: the dense layers' quantities need weight matrices, and a "
                "convolution would enter as its Toeplitz operator, which depends on the input size")
    if isinstance(module, nn.Linear) and module._forward_pre_hooks:
        return (f"{what} has a forward pre-hook (the deprecated torch.nn.utils.weight_norm is one), which may "
                "recompute its weight, so its effective weight is unknown; use "
                "torch.nn.utils.parametrizations.weight_norm")
    if isinstance(module, nn.Linear):
        return (f"{what} subclasses nn.Linear with a forward pass of its own, so its effective weight "
                "is unknown; use nn.Linear or NTKLinear")
    return (f"unsupported module {what}: a dense chain holds nn.Linear/NTKLinear layers, element-wise "
            "activations and nn.Flatten")


def dense_layers(model: nn.Module, *, homogeneous: bool = False, bias_free: bool = False) -> DenseLayers:
    """The dense layers of a feed-forward network, in forward order, with their effective weights.

    Parameters
    ----------
    model
        An ``nn.Linear`` or an ``nn.Sequential`` chain (see the module notes).
    homogeneous
        Require positively homogeneous activations (ReLU, LeakyReLU, Identity);
        otherwise ``ValueError`` naming the first other one.
    bias_free
        Require a network without biases; otherwise ``ValueError``.

    Returns
    -------
    DenseLayers
        The layers (effective weights and biases, activations that follow each)
        and whether the network is bias-free and homogeneous.

    Raises
    ------
    TypeError
        ``model`` is not an ``nn.Module``.
    ValueError
        The model is not such a chain, has no linear layer, has an activation
        before its first linear layer, has consecutive layers whose sizes do not
        match, or breaks a requirement.
    """
    check_module(model)
    homogeneous, bias_free = check_bool(homogeneous, "homogeneous"), check_bool(bias_free, "bias_free")
    found: list[tuple[int, str, nn.Linear, list[nn.Module]]] = []
    for name, module in _chain(model):
        if _linear_type(module) is not None:
            if any(module is seen for _, _, seen, _ in found):
                raise ValueError(f"{type(module).__name__} ({name}) is used twice: dense_layers needs distinct "
                                 "layers (a weight shared between layers is not one dense layer per step)")
            found.append((len(found) + 1, name, module, []))
        elif isinstance(module, ELEMENTWISE):
            if not found:
                raise ValueError(f"{type(module).__name__} ({name}) comes before the first linear layer; "
                                 "a dense chain starts with a linear layer")
            found[-1][3].append(module)
        elif not isinstance(module, nn.Flatten):
            raise ValueError(_refusal(name, module))
    if not found:
        raise ValueError(f"{type(model).__name__} has no linear layers")
    layers = tuple(DenseLayer(i, name, module, tuple(acts)) for i, name, module, acts in found)
    for a, b in zip(layers[:-1], layers[1:]):
        if b.in_features != a.out_features:
            raise ValueError(f"linear layer {b.index} takes {b.in_features} inputs but layer {a.index} "
                             f"gives {a.out_features} outputs")
    others = [act for layer in layers for act in layer.activations if not isinstance(act, HOMOGENEOUS)]
    if homogeneous and others:
        raise ValueError(f"{type(others[0]).__name__} is not positively homogeneous: this needs "
                         "sigma(c z) = c sigma(z) for c > 0 (ReLU, LeakyReLU, Identity)")
    has_bias = [layer.index for layer in layers if layer.module.bias is not None]
    if bias_free and has_bias:
        raise ValueError(f"the network has biases (layer {has_bias[0]}), so it is not positively homogeneous "
                         "in its weights; build it with bias=False")
    return DenseLayers(layers, bias_free=not has_bias, homogeneous=not others)
