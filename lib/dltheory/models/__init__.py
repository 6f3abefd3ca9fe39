"""The networks of the book, and the one walker that reads their dense layers.

===============================  ==============================================================
:func:`mlp`, :class:`NTKLinear`  multilayer perceptrons in standard or NTK parametrisation, with
                                 He initialisation and (noisy) batch normalisation as options
:class:`NoisyBatchNorm`          batch normalisation followed by a random per-step shift and scale
:func:`two_layer`                two-layer networks with a fixed or trained outer layer; the
                                 quadratic activation :class:`Square` is ``activation="square"``
:func:`residual_mlp`             ReLU residual networks in NTK parametrisation with branches scaled
                                 :math:`1/L` (raw weights :math:`1/(L\\sqrt m)`; Du et al. 2019)
:class:`CircularConvLinear`      linear networks of circular convolutions, a fully connected
                                 :class:`FullyConnectedLinear` baseline, and their Fourier
                                 concentration (:func:`fourier_concentration`)
:class:`SymmetricFactorization`  the matrix :math:`UU^\\top` as a model (matrix sensing)
:class:`PairNetwork`             S width-2 ReLU networks (negatively tied or not) as one batched model;
                                 :func:`square_wave_network`, the hand-built square wave
:class:`LocallyConnected2d`      a convolution's shape with its own filter at every location
:class:`TreeNetwork`             a deep network with the structure of a binary tree
:class:`SmallCNN`                convolution (or locally connected), ReLU and pooling blocks with a
                                 linear readout; ``features`` returns every block's output
:func:`image_network`            fully connected, locally connected or convolutional networks on
                                 images at an equal parameter budget
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
from .conv import (IMAGE_ARCHITECTURES, SmallCNN, cnn_parameter_count, image_free_width, image_network,
                   image_parameter_count, small_cnn)
from .dense import HOMOGENEOUS, DenseLayer, DenseLayers, dense_layers
from .linear_nets import CircularConvLinear, FullyConnectedLinear, SymmetricFactorization, fourier_concentration
from .local import LocallyConnected2d, TreeNetwork, tree_parameter_count
from .mlp import ACTIVATIONS, INITS, NORMS, NTKLinear, Square, count_parameters, mlp, mlp_parameter_count, width_for_budget
from .normalization import NoisyBatchNorm, frozen_noise
from .tied import PairNetwork, square_wave_labels, square_wave_network
from .two_layer import OUTER_LAYERS, two_layer
from .residual import ResidualMLP, residual_mlp

__all__ = [
    "ACTIVATIONS", "NORMS", "INITS", "NTKLinear", "Square", "mlp", "count_parameters", "mlp_parameter_count",
    "width_for_budget", "NoisyBatchNorm", "frozen_noise",
    "OUTER_LAYERS", "two_layer",
    "ResidualMLP", "residual_mlp",
    "PairNetwork", "square_wave_network", "square_wave_labels",
    "LocallyConnected2d", "TreeNetwork", "tree_parameter_count",
    "ARCHITECTURES", "build", "free_width",
    "SmallCNN", "small_cnn", "cnn_parameter_count", "IMAGE_ARCHITECTURES", "image_network", "image_free_width",
    "image_parameter_count",
    "HOMOGENEOUS", "DenseLayer", "DenseLayers", "dense_layers",
    "CircularConvLinear", "FullyConnectedLinear", "SymmetricFactorization", "fourier_concentration",
]
