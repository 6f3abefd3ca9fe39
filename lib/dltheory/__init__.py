"""dltheory: the library of the executable companion book to a course on deep learning theory.

The core (stable, tested against independent computations; every chapter reuses it)
------------------------------------------------------------------------------------
config         device, seed and scale of every experiment
claims         the claim checks that end every experiment
losses         the losses of the book, by name; log L for normalised gradient descent
params         a model as a function of one flat parameter vector
models         MLPs (standard and NTK parametrisation), residual MLPs, local, tree and small convolutional
               networks, budgets, and dense_layers, the one walker over a network's dense layers
data           seeded generators, scikit-learn and real data, label corruption
train          fit(): a thin loop over torch.optim; SGLD, Gram-Gauss-Newton; History; checkpoints;
               train_mlp_classifier, the protocol chapters 1, 2, 4 and 5 share; callbacks that record
               per-step gradient norms (GradientNorms) and parameter snapshots
curvature      Hessian-vector products, dense Hessians, Lanczos, Hutchinson, SLQ, Gauss-Newton,
               and the same for a plain function of a vector
ntk            per-example Jacobians, empirical and infinite-width neural tangent kernels; the linearised
               model and kernel regression (ridgeless, or gradient flow for a time t)
linear         linear least squares: closed forms and the gradient dynamics that reach them
bounds         margins, norms, and the generalisation bounds built on them; the lecture's covering-number
               and mu^L Rademacher capacities; SGLD's PAC-Bayes term and stability bounds (Mou et al.,
               Hardt et al.)
homogeneity    layer scaling, f = rho f~, Euler's identity, rescaling symmetries
implicit_bias  max-margin directions, regularisation paths; Soudry's residual limit, non- and partially
               separable data, loss tails; Lyu-Li smoothed margin and KKT residual
weight_normalization  W_k = rho_k V_k: the direction dynamics on the sphere, the multiplier algorithm
hinge_sgd      hinge-loss SGD on a leaky-ReLU net with a fixed outer layer: update counts and bounds
activation_patterns  ReLU activation patterns: flips, weight movement, the frozen-pattern pseudo-gradient
weight_sharing the patch model of Shalev-Shwartz, Shamir, Shammah in closed form, tied and untied
boosting       AdaBoost on decision stumps and its normalised margins
batchnorm      probes of the loss along the gradient, distribution shift, gradient ICS
subgradients   one-sided forward mode, the Kakade-Lee and randomised gradients at ReLU kinks
saddles        strict saddles: the toy saddle, escape times, rank-k approximation in closed form
landscape      teacher-student population loss (arc-cosine kernel); quadratic nets and their convex twin
lazy           per-unit displacement and the relative change of the empirical NTK
infinite_width the infinite-width margin of a two-layer ReLU net, an LP bracketed by a certificate
balancedness   layer norms of a deep net, the balanced-layers identity, conserved differences
depth          depth separation in 1-D: the tent-map network, exact piece counting, the L1 floor
scattering     FFT wavelet scattering on a tight frame (1-D, 2-D): energy identity, deformations, pooling
discriminants  Fisher's LDA, within- and between-class scatter, the contraction ratio tr S_W / tr S_B
double_descent random-features min-norm regression; Hastie et al.'s ridgeless risk (limit and finite n)
topology       reduced-rank optima of bottleneck linear nets, quadratic-activation ensembles, Bezier
               curves between minima and their loss barriers
langevin       vectorised Langevin chains, exact Gibbs masses by quadrature, Laplace's mass of a well
universality   sup and L1 errors on a grid over a box, superlevel sets and whether they reach the boundary
gram           Du et al.'s Gram matrices: H-infinity in closed form, lambda_0, the first-layer Gram, the
               linear-rate envelope, the spread of finite-width kernels
gauss_newton   the minimum-norm Gauss-Newton step (lstsq oracle), the quadratic constant R_{t+1}/R_t^2,
               a multiply-add cost model for GD, SGD, Adam and Gram-Gauss-Newton
stats          time to fit, chance and relabelling intervals

Teaching aids (the core never imports them)
-------------------------------------------
plotting       the house style and deterministic figures
widgets        interactive explorers whose logic is a plain function
homework       checkers for the exercise cells, one module per section
sections       the glue of one notebook each (its sweep protocol, its explorer panel)"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dltheory")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.2.0"

from .claims import claim
from .config import banner, by_scale, device, scale, seed, seed_all

__all__ = ["__version__", "claim", "banner", "by_scale", "device", "scale", "seed", "seed_all"]
