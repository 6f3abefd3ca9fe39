"""Neural tangent kernels: empirical (finite width), infinite-width ReLU, and linearised models.

The empirical NTK of a model :math:`f(\\cdot;\\theta)` with :math:`k` outputs per
example is the Gram matrix of its parameter Jacobians,

.. math::

    \\Theta(x, x')_{ab} = \\Big\\langle \\frac{\\partial f_a(x)}{\\partial\\theta},
                                       \\frac{\\partial f_b(x')}{\\partial\\theta} \\Big\\rangle ,

with :math:`\\theta` all of the model's parameters (or its trainable ones),
flattened in ``parameters_to_vector(model.parameters())`` order (:mod:`dltheory.params`).
:func:`jacobian` computes the per-example Jacobians, :func:`empirical_ntk` the
kernel. For multilayer perceptrons the kernel never forms a Jacobian: it is a
sum over layers of products of small Gram matrices (the "structured" method of
Novak, Sohl-Dickstein, Schoenholz 2022, *Fast finite width neural tangent
kernel*), which is what makes an NTK of thousands of examples cheap.

As every width grows, the NTK of an MLP in NTK parametrisation
(:func:`dltheory.models.mlp` with ``parametrization="ntk"``) converges to a
deterministic kernel (Jacot, Gabriel, Hongler 2018); :func:`relu_nngp` and
:func:`relu_ntk` compute the ReLU limits by the layer recursion of
neural-tangents (Novak et al. 2020, ``stax.Dense``/``stax.Relu`` with
``parameterization='ntk'``) and the arc-cosine kernels of Cho & Saul (2009).

:func:`linearize` replaces a network by its first-order Taylor model around its
current parameters, :math:`f(\\theta_0, x) + J(\\theta_0, x)(\\theta - \\theta_0)`,
a model :func:`dltheory.train.fit` trains like any other, and
:func:`kernel_regression` gives in closed form what gradient flow with a fixed
kernel predicts, at any time and at :math:`t = \\infty` (Lee et al. 2019,
*Wide neural networks of any depth evolve as linear models under gradient
descent*).

Modules: :mod:`~dltheory.ntk._kernels` (Jacobians, empirical and infinite-width
kernels), :mod:`~dltheory.ntk._linearize` (the Taylor model, kernel regression).
"""

from ._kernels import empirical_ntk, jacobian, relu_nngp, relu_ntk
from ._linearize import Linearized, kernel_regression, kernel_weights, linearize

__all__ = ["jacobian", "empirical_ntk", "relu_nngp", "relu_ntk", "Linearized", "linearize", "kernel_weights",
           "kernel_regression"]
