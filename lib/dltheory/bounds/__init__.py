"""Margins, norms and the generalisation bounds built from them.

Margins (Bartlett, Foster, Telgarsky 2017, sec. 1): for binary labels
:math:`y \\in \\{\\pm 1\\}` and one output, :math:`\\gamma_i = y_i f(x_i)`; for
:math:`k` classes, :math:`\\gamma_i = f(x_i)_{y_i} - \\max_{j \\ne y_i} f(x_i)_j`.
A bias-free ReLU network is positively homogeneous of degree :math:`L` in its
weights, :math:`f(x; \\alpha W_1, \\dots, \\alpha W_L) = \\alpha^L f(x; W)`, so
:math:`f = \\rho \\tilde f` with :math:`\\rho = \\prod_k \\lVert W_k \\rVert_F` and
:math:`\\tilde f` the network with every layer normalised to unit Frobenius norm
(:func:`dltheory.homogeneity.normalized_network`); the normalised margin is
:math:`\\gamma_i / \\rho`.

=====================  =========================================================================
module                 what it holds
=====================  =========================================================================
``margins``            :func:`margins`, :func:`output_margins`, :func:`normalized_margins`,
                       :func:`layer_weights`, :func:`layer_norms`, and :func:`margin_distribution`,
                       the one definition of the (spectrally or Frobenius) normalised margins
``capacity``           :func:`covering_number_bound`, :func:`rademacher_norm_bound` (Neyshabur,
                       Tomioka, Srebro 2015): the lecture's classical capacity table (deck 5)
``compression``        :func:`compression_bound`: the realisable sample-compression bound
                       (Littlestone and Warmuth 1986)
``folding``            :func:`folded_weights`, :func:`fold_inputs`: biases as weights of a constant unit
``norm_based``         :func:`spectral_complexity`, :func:`bartlett_bound` (Bartlett, Foster,
                       Telgarsky 2017), :func:`frobenius_bound` (Golowich, Rakhlin, Shamir 2018),
                       :func:`path_norm` (Neyshabur, Tomioka, Srebro 2015)
``normalized``         :func:`normalized_losses`, :func:`cross_entropy_range`,
                       :func:`rademacher_complexity_bound`, :func:`cross_entropy_bound`: the
                       cross-entropy of layer-normalised networks (Liao et al. 2018)
``pac_bayes``          :func:`pac_bayes_bound` (Dziugaite and Roy 2017), :func:`binary_kl`,
                       :func:`kl_inverse`, :func:`isotropic_gaussian_kl`
``stability``          :func:`sgld_pac_bayes_term`, :func:`sgld_stability_bound` (Mou, Wang, Zhai,
                       Zheng 2018), :func:`hardt_stability_bound` (Hardt, Recht, Singer 2016)
``vc``                 :func:`vc_dimension`, :func:`vc_bound` (Vapnik; Bartlett et al. 2019), for contrast
=====================  =========================================================================

Which networks: every function that reads layers does so through
:func:`dltheory.models.dense_layers`, so they all accept the same networks: an
``nn.Linear`` or an ``nn.Sequential`` (nested ones too) of ``nn.Linear`` /
:class:`~dltheory.models.NTKLinear` layers (with their *effective* matrices,
``weight_scale * weight``) and ``nn.Flatten``. The norm-based bounds further
need 1-Lipschitz, positively homogeneous activations with
:math:`\\sigma(0) = 0`: ReLU, the identity and LeakyReLU with slope in
:math:`[-1, 1]`. Convolutions are refused: the bounds are for dense weight
matrices, and a convolution would enter as its Toeplitz operator, whose norms
depend on the input size.

Data may be tensors or arrays; the margins are computed by the model in
evaluation mode (:func:`dltheory._checks.probe`), the norms in float64.
"""

from .capacity import covering_number_bound, max_unit_l1_norm, rademacher_norm_bound
from .compression import compression_bound
from .folding import fold_inputs, folded_weights
from .margins import (NORMALIZATIONS, layer_norms, layer_weights, margin_distribution, margins, normalized_margins,
                      output_margins)
from .norm_based import bartlett_bound, frobenius_bound, path_norm, spectral_complexity
from .normalized import cross_entropy_bound, cross_entropy_range, normalized_losses, rademacher_complexity_bound
from .pac_bayes import binary_kl, isotropic_gaussian_kl, kl_inverse, pac_bayes_bound
from .stability import hardt_stability_bound, sgld_k0, sgld_pac_bayes_term, sgld_stability_bound
from .vc import vc_bound, vc_dimension

__all__ = [
    "margins", "output_margins", "normalized_margins", "layer_weights", "layer_norms",
    "margin_distribution", "NORMALIZATIONS",
    "folded_weights", "fold_inputs",
    "spectral_complexity", "bartlett_bound", "frobenius_bound", "path_norm",
    "normalized_losses", "cross_entropy_range", "rademacher_complexity_bound", "cross_entropy_bound",
    "binary_kl", "kl_inverse", "isotropic_gaussian_kl", "pac_bayes_bound",
    "vc_dimension", "vc_bound",
    "covering_number_bound", "rademacher_norm_bound", "max_unit_l1_norm",
    "compression_bound",
    "sgld_pac_bayes_term", "sgld_stability_bound", "sgld_k0", "hardt_stability_bound",
]
