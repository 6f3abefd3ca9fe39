"""Training: a thin loop over ``torch.optim`` optimizers, the optimizers ``torch.optim`` lacks, and the record.

:func:`fit` trains a model in place on a fixed training set ``(X, y)`` and
returns a :class:`History`: one row per record point with the training loss,
the accuracy, per-layer norms, margins, the distance travelled from the
initialisation and any metric the caller asks for. Long runs write checkpoints
and resume from them bit for bit.

==========================  ==============================================================
:func:`fit`                 the loop: presets or any ``torch.optim`` optimizer, schedulers,
                            callbacks (:class:`Callback`, :class:`StepInfo`), checkpoints
:data:`PRESETS`             ``gd``, ``sgd``, ``adam``, ``sgld``, ``ggn``, ``normalized_gd``
                            (:func:`make_optimizer`; updates in :mod:`dltheory.train.optim`)
:class:`SGLD`               stochastic gradient Langevin dynamics, a ``torch.optim.SGD``
:class:`PerturbedGD`        gradient descent with a random kick where the gradient is small
                            (Jin et al. 2017), to escape strict saddles
:class:`GramGaussNewton`    Gram-Gauss-Newton, a :class:`BatchOptimizer`
:class:`History`            the tidy record; :func:`log_spaced_steps` for ``record_at``
:class:`GradientNorms`      per-step :math:`\\lVert g_k\\rVert^2` and :math:`\\eta_k`; :class:`ParameterSnapshots`
:func:`fit_ensemble`        S seeds of one batched model trained at once, full batch
                            (:class:`EnsembleHistory`)
==========================  ==============================================================

:func:`train_mlp_classifier` is the protocol that chapters 1, 2 and 4 share: a
bias-free ReLU MLP trained by mini-batch SGD on the cross-entropy, with a copy
of its initialisation.

Normalised gradient descent (Nacson et al. 2019) is no optimizer of its own: it
is gradient descent on :math:`\\log L` (:func:`dltheory.losses.log_loss`),
which the ``normalized_gd`` preset sets up.

If the objective or a parameter stops being finite, :func:`fit` raises
``FloatingPointError`` naming the steps and the step size; it never returns a
diverged model silently.
"""

from .ensemble import ELEMENTWISE_OPTIMIZERS, EnsembleHistory, fit_ensemble
from .fit import Callback, StepInfo, fit
from .callbacks import GradientNorms, ParameterSnapshots
from .history import History, log_spaced_steps, record_points
from .protocols import train_mlp_classifier
from .optim import (DEFAULT_TEMPERATURE, GGN_RELATIVE_DAMPING, PRESETS, SGLD, BatchOptimizer, GramGaussNewton,
                    PerturbedGD, make_optimizer)

__all__ = [
    "fit", "Callback", "StepInfo", "GradientNorms", "ParameterSnapshots",
    "History", "log_spaced_steps", "record_points",
    "PRESETS", "make_optimizer", "SGLD", "PerturbedGD", "BatchOptimizer", "GramGaussNewton", "DEFAULT_TEMPERATURE",
    "GGN_RELATIVE_DAMPING", "fit_ensemble", "EnsembleHistory", "ELEMENTWISE_OPTIMIZERS",
    "train_mlp_classifier",
]
