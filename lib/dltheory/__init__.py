"""dltheory: the library of the executable companion book to a course on deep learning theory.

Modules
-------
config      device, seed and scale of every experiment
claims      the claim checks that end every experiment
linear      linear least squares: closed forms and the gradient dynamics that reach them
models      MLPs (standard and NTK parametrisation), locally connected layers, binary-tree networks
losses      the losses of the book, by name
functional  a model as a function of one flat parameter vector
curvature   Hessian-vector products, dense Hessians, Lanczos, Hutchinson, SLQ, Gauss-Newton
ntk         per-example Jacobians, empirical and infinite-width neural tangent kernels
train       fit(): GD, SGD, Adam, Gram-Gauss-Newton, SGLD, normalised GD; History; checkpoints
data        seeded generators, bundled and shipped real data, label corruption
bounds      margins, norms, spectral complexity and the generalisation bounds built on them
plotting    the house style and deterministic figures
homework    checkers for the exercise cells
widgets     interactive explorers whose logic is a plain function

Section helpers (the experiments of one section each, chapter 1)
-----------------------------------------------------------------
compositional  deep vs shallow networks on a binary-tree target, at equal parameter counts
degeneracy     Takeuchi's condition, Jacobian ranks and the rescaling symmetries of ReLU networks
margins        max-margin directions, homogeneity and normalised networks
randomization  time to fit, chance intervals and the relabelling distribution
normalization  normalised losses and a Rademacher bound for networks with unit Frobenius layers"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dltheory")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

from .claims import claim
from .config import banner, by_scale, device, scale, seed_all

__all__ = ["__version__", "claim", "banner", "by_scale", "device", "scale", "seed_all"]
