"""The networks of the book, and the one walker that reads their dense layers.

===============================  ==============================================================
:func:`mlp`, :class:`NTKLinear`  multilayer perceptrons in standard or NTK parametrisation
:func:`two_layer`                two-layer networks with a fixed or trained outer layer
:class:`LocallyConnected2d`      a convolution's shape with its own filter at every location
:class:`TreeNetwork`             a deep network with the structure of a binary tree
:func:`build`, :func:`free_width`  the architectures of a comparison at an equal parameter budget
:func:`dense_layers`             the dense layers of a feed-forward network with their effective weights
counts                           :func:`count_parameters`, :func:`mlp_parameter_count`,
                                 :func:`tree_parameter_count`, :func:`width_for_budget`
===============================  ==============================================================

Every constructor that takes a ``seed`` draws its initial weights on the CPU
from that seed, without touching the global generators, and then moves them to
``device``: the same seed gives the same network on every device.
"""

from .budget import ARCHITECTURES, build, free_width
from .dense import HOMOGENEOUS, DenseLayer, DenseLayers, dense_layers
from .local import LocallyConnected2d, TreeNetwork, tree_parameter_count
from .mlp import ACTIVATIONS, NTKLinear, count_parameters, mlp, mlp_parameter_count, width_for_budget
from .two_layer import OUTER_LAYERS, two_layer

__all__ = [
    "ACTIVATIONS", "NTKLinear", "mlp", "count_parameters", "mlp_parameter_count", "width_for_budget",
    "OUTER_LAYERS", "two_layer",
    "LocallyConnected2d", "TreeNetwork", "tree_parameter_count",
    "ARCHITECTURES", "build", "free_width",
    "HOMOGENEOUS", "DenseLayer", "DenseLayers", "dense_layers",
]
