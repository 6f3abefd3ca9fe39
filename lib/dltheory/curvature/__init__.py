"""Curvature of the training loss: Hessian- and Gauss-Newton-vector products, and the
spectrum they reveal, without ever forming a matrix unless asked to.

Everything is a function of the flat parameter vector :math:`\\theta` (the order of
``parameters_to_vector(model.parameters())``, see :mod:`dltheory.params`) and of
the training loss on all of ``X`` at once,

.. math::  L(\\theta) = \\ell\\bigl(f(X; \\theta), y\\bigr),

where ``loss`` is a name of :mod:`dltheory.losses` (a mean over examples) or any
callable ``loss(outputs, targets) -> scalar``. :math:`P` is the number of parameters.

* :func:`hvp`, :func:`hessian`: :math:`Hv` by reverse-over-reverse differentiation
  (Pearlmutter 1994), and the dense :math:`H` from :math:`P` forward-over-reverse
  products, vmapped in chunks.
* :func:`gnvp`, :func:`gauss_newton`: the generalised Gauss-Newton matrix
  :math:`G = J^\\top H_\\ell J` (Schraudolph 2002), the part of :math:`H` that ignores
  the curvature of the network.
* :func:`linear_operator`: :math:`H` or :math:`G` as a SciPy ``LinearOperator``,
  for ``scipy.sparse.linalg`` (``eigsh``, ``cg``, ...).
* :func:`lanczos`, :func:`top_eigenvalues`: extreme eigenpairs by Lanczos with full
  reorthogonalisation, of any symmetric operator or matrix, and of the Hessian.
* :func:`hessian_trace`: Hutchinson's estimator of :math:`\\operatorname{tr} H`.
* :func:`slq_quadrature`, :func:`spectral_density`: the eigenvalue density by
  stochastic Lanczos quadrature (Ghorbani, Krishnan, Xiao 2019).
* :func:`function_hessian`, :func:`function_hvp`, :func:`function_eigenpairs`
  (:mod:`~dltheory.curvature.functions`): the same for a plain function of a vector
  :math:`f(\\theta)`, and :class:`FunctionModel`, which makes such a function a model
  that :func:`dltheory.train.fit` can train.

The tests check every routine against independent computations: autograd's dense
Hessian, finite differences, ``torch.linalg.eigvalsh``, exact traces and, for the
products, the linear operators of curvlinops (Dangel et al.). curvlinops is a
test oracle rather than a dependency: it requires backpack-for-pytorch, which
pulls in torchvision and a CUDA build of torch, and the book needs only the few
products written here.

The inputs are validated once, outside the ``torch.func`` transforms, by the
shared checks of :mod:`dltheory._checks` (a wrong type is a ``TypeError``, a
value out of range a ``ValueError``): ``X`` and ``y``, tensors or array-likes,
must have the same number of examples, ``X`` (and a floating ``y``) must be
finite, the model must have parameters, the loss must return a scalar and, for a
named loss, the targets must fit it (:func:`dltheory.losses.check_targets`). ``X``
and ``y`` are moved to the model's device, and floating ones cast to its dtype;
results are on the model's device and in its dtype.

The model is evaluated by ``torch.func.functional_call`` on its parameters and
clones of its buffers, in the mode it is in, and is never modified: a batch
norm in training mode gives the curvature of the loss normalised by the batch
statistics of ``X``, and its running statistics stay as they were. The model
should be deterministic (no dropout in training mode): a random loss has no
Hessian. The long loops (dense builds, Lanczos, Hutchinson, SLQ) show a progress
bar when asked to (``progress=``; by default at full scale only).
"""

from .eigenpairs import Eigenpairs, lanczos, top_eigenvalues
from .functions import (DUMMY_X, DUMMY_Y, FunctionModel, function_eigenpairs, function_gradient, function_hessian,
                        function_hvp, function_value)
from .products import gauss_newton, gnvp, hessian, hvp, linear_operator
from .spectrum import Quadrature, SpectralDensity, TraceEstimate, hessian_trace, slq_quadrature, spectral_density

__all__ = [
    "hvp",
    "hessian",
    "gnvp",
    "gauss_newton",
    "linear_operator",
    "lanczos",
    "top_eigenvalues",
    "hessian_trace",
    "slq_quadrature",
    "spectral_density",
    "Eigenpairs",
    "TraceEstimate",
    "Quadrature",
    "SpectralDensity",
    "function_gradient",
    "function_hvp",
    "function_hessian",
    "function_eigenpairs",
    "FunctionModel",
    "function_value",
    "DUMMY_X",
    "DUMMY_Y",
]
