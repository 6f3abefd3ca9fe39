"""The data of the book: seeded synthetic generators, small real data sets, label corruption.

Every function returns torch tensors on ``device`` (default ``"cpu"``) with inputs
in ``dtype`` (default ``torch.float32``). Labels are float :math:`\\pm 1` (in
``dtype``) for binary problems and ``int64`` class indices otherwise; scalar
regression targets have shape ``(n,)`` (the losses of :mod:`dltheory.losses`
reshape them to the model's ``(n, 1)`` outputs). Inputs are always matrices
``(n, d)``, one-dimensional ones included (``(n, 1)``), except images, which keep
their ``(n, channels, height, width)`` layout unless ``flatten=True``.

Randomness comes from a local generator seeded with ``seed`` (never the global
one): the same seed gives the same tensors, on every device, since sampling
happens on the CPU in float64 before the cast and the move.

==========================  ===========================================================
synthetic                   what it is
==========================  ===========================================================
:func:`separable`           linearly separable through the origin with margin (Soudry et al. 2018)
:func:`teacher`             labels of a random teacher MLP
:func:`teacher_signs`       balanced labels :math:`\\pm 1`: a teacher split at its median (Du et al.'s setting)
:func:`binary_tree`         the 8-input hierarchically compositional function (Poggio et al. 2017)
:func:`clustered`           k classes, each l well-separated small clusters (Li & Liang 2018)
:func:`square_wave`         a 1-d square wave on an interval (deck 2, weight tying)
:func:`sawtooth`            the tent map iterated k times (Telgarsky 2016)
:func:`two_clusters`        two Gaussian blobs with labels :math:`\\pm 1`
:func:`sparse_parity`       the hypercube with the parity of a few coordinates (Wei et al. 2019)
:func:`matrix_sensing`      Gaussian measurements of a low-rank PSD matrix (Gunasekar et al. 2017)
==========================  ===========================================================

Real data: :func:`digits` and :func:`diabetes` (scikit-learn's bundled copies),
:func:`mnist1d` (generated offline by the ``mnist1d`` package), :func:`mnist`
(torchvision when it can download, else the subset shipped as package data in
``dltheory/data/files/``) and
:func:`cifar10` (torchvision only). Helpers: :func:`corrupt_labels` and
:func:`randomize_inputs` (Zhang et al. 2017), :func:`split` (returns ``X_train, y_train, X_test, y_test``, unlike
scikit-learn's ``train_test_split``), :func:`standardize`, :func:`select_classes`.

Where downloads go: ``root`` if given, else ``$DLT_DATA_DIR``, else
``~/.cache/dltheory``.

Modules: :mod:`~dltheory.data.synthetic` (the first seven generators above),
:mod:`~dltheory.data.compositional` (the binary tree), :mod:`~dltheory.data.real`
(the real data), :mod:`~dltheory.data.labels` (the helpers),
:mod:`~dltheory.data.boolean` (parities) and :mod:`~dltheory.data.sensing` (matrix
sensing); every name is
re-exported here, so ``dltheory.data.<name>`` is the public path.
"""

from .boolean import sparse_parity
from .compositional import CONSTITUENTS, binary_tree, binary_tree_levels, binary_tree_target, node_phases
from .labels import INPUT_RANDOMIZATIONS, corrupt_labels, randomize_inputs, select_classes, split, standardize
from .real import DataFallbackWarning, cifar10, diabetes, digits, mnist, mnist1d, shipped_mnist_path
from .sensing import matrix_sensing
from .synthetic import (clustered, sawtooth, separable, square_wave, square_wave_target, teacher, teacher_signs,
                        tent_map, two_clusters)

__all__ = [
    "separable", "teacher", "teacher_signs", "clustered", "two_clusters", "square_wave", "square_wave_target",
    "sawtooth", "tent_map",
    "binary_tree", "binary_tree_target", "binary_tree_levels", "node_phases", "CONSTITUENTS",
    "digits", "diabetes", "mnist1d", "mnist", "cifar10", "shipped_mnist_path", "DataFallbackWarning",
    "corrupt_labels", "randomize_inputs", "INPUT_RANDOMIZATIONS", "split", "standardize", "select_classes",
    "sparse_parity", "matrix_sensing",
]
