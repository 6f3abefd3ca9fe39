"""Implicit bias on separable data: the max-margin direction and the regularisation path.

On linearly separable data the exponential and logistic losses have no finite
minimiser. Gradient descent on a linear model :math:`f(x) = \\langle w, x\\rangle`
drives :math:`\\lVert w_t\\rVert` to infinity like :math:`\\log t`, and its
direction to that of the hard-margin SVM (Soudry, Hoffer, Nacson, Gunasekar,
Srebro 2018, Theorem 3):

.. math::  w_t = \\hat w \\log t + r_t, \\qquad
           \\hat w = \\arg\\min_w \\lVert w\\rVert^2 \\ \\text{s.t.}\\ y_i \\langle w, x_i\\rangle \\ge 1 ,

with :math:`r_t` bounded for almost every data set. The minimisers of the
ridge-regularised loss trace the same path as :math:`\\lambda \\to 0` (Rosset,
Zhu, Hastie 2004). :func:`exp_loss_gd` runs that gradient descent from many
starts at once, optionally with a ridge term switched on late.

=================================== ==============================================================
:func:`max_margin_direction`        the bias-free hard-margin SVM :math:`\\hat w` (scikit-learn, then KKT)
:func:`regularized_minimizer`       the minimiser of the exponential loss plus :math:`\\frac\\lambda2\\lVert w\\rVert^2`
:func:`angle_between`               the angle between two vectors, accurate for tiny angles
:func:`exp_loss_gd`                 gradient descent on the exponential (logistic, polynomial) loss from several starts
:func:`exp_loss_hessian`            the Hessian of the exponential loss (plus ridge), in closed form
:func:`smoothed_margin`             Lyu and Li's smoothed normalised margin of a homogeneous model
:func:`kkt_residual`                how far a homogeneous model is from a KKT point of the max-margin problem
:func:`margin_loss`                 the losses :math:`\\ell`, :math:`-\\ell'`, :math:`\\ell''`: exp, logistic, polynomial tail
:func:`residual_limit`              the limit :math:`\\tilde w` of the residual :math:`w_t - \\hat w\\log t` (SVM dual)
:func:`polynomial_tail_direction`   the limit direction for a polynomially tailed loss
:func:`separable_subset`            the maximal separable subset of the examples (one LP)
:func:`margin_loss_minimizer`       the finite risk minimiser on non-separable data (scipy)
:func:`nonseparable_decomposition`  Ji and Telgarsky's split: offset in S, max-margin direction in its complement
=================================== ==============================================================

For homogeneous networks (:math:`f(c\\theta; x) = c^L f(\\theta; x)`, e.g.
bias-free ReLU networks of depth :math:`L`), Lyu and Li (2020) prove that
after the training loss falls below :math:`\\ell(0)` gradient flow and
gradient descent increase a smoothed normalised margin and converge in
direction to a KKT point of :math:`\\min \\frac12\\lVert\\theta\\rVert^2` s.t.
:math:`y_i f(\\theta; x_i) \\ge 1`; :func:`smoothed_margin` and
:func:`kkt_residual` measure both.

Beyond that picture: the residual :math:`r_t` has a limit on the span of the
support vectors that the SVM's dual variables determine
(:func:`residual_limit`); with a polynomially tailed loss the direction is
another one (:func:`polynomial_tail_direction`); on data that no direction
separates the risk has a finite minimiser (:func:`margin_loss_minimizer`), and
on partially separable data gradient descent converges on one subspace and
diverges along a max-margin direction on its complement (Ji and Telgarsky
2019; :func:`nonseparable_decomposition`).

The implementation is split into ``_separable`` (the separable case and
homogeneous networks), ``_losses`` and ``_nonseparable``; import from here.
"""

from ._losses import margin_loss
from ._nonseparable import (NonseparableDecomposition, ResidualLimit, margin_loss_minimizer,
                            nonseparable_decomposition, polynomial_tail_direction, residual_limit,
                            separable_subset)
from ._separable import (KKTResidual, angle_between, exp_loss_gd, exp_loss_hessian, kkt_residual,
                         max_margin_direction, regularized_minimizer, smoothed_margin)

__all__ = ["max_margin_direction", "regularized_minimizer", "angle_between", "exp_loss_gd",
           "exp_loss_hessian", "smoothed_margin", "KKTResidual", "kkt_residual", "margin_loss",
           "residual_limit", "ResidualLimit", "polynomial_tail_direction", "separable_subset",
           "margin_loss_minimizer", "nonseparable_decomposition", "NonseparableDecomposition"]
