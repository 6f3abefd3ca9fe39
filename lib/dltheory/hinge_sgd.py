"""Hinge-loss SGD on a two-layer leaky-ReLU network with a fixed outer layer (Brutzkus et al. 2018).

The network has :math:`m` hidden units and a fixed outer vector :math:`a`,

.. math::  N_W(x) = \\sum_{j=1}^m a_j\\, \\sigma(\\langle w_j, x\\rangle), \\qquad
           \\sigma(z) = \\max(z, \\alpha z), \\quad 0 < \\alpha \\le 1,

and only the hidden layer :math:`W` (rows :math:`w_j`) is trained, on the hinge
loss :math:`L_S(W) = \\frac1n \\sum_i \\max(0, 1 - y_i N_W(x_i))`. Brutzkus,
Globerson, Malach and Shalev-Shwartz (ICLR 2018) take :math:`m = 2k` units,
:math:`a = v(1, \\dots, 1, -1, \\dots, -1)` (``models.two_layer(...,
outer="fixed_sign", outer_scale=v)``), data in the unit ball labelled by a
vector :math:`w^*` with :math:`y\\langle w^*, x\\rangle \\ge 1`, and SGD that
looks at one example at a time: where :math:`y N_W(x) < 1` it makes the
*non-zero update*

.. math::  w_j \\leftarrow w_j + \\eta\\, y\\, a_j\\, \\sigma'(\\langle w_j, x\\rangle)\\, x ,

and elsewhere nothing (:math:`\\sigma'(0) = \\alpha`, PyTorch's convention).

* **Update count** (:func:`update_bound`). The perceptron argument: on every
  non-zero update :math:`F(W) = \\sum_j \\operatorname{sign}(a_j)\\langle w_j,
  w^*\\rangle` grows by at least :math:`2k\\eta v\\alpha`, while
  :math:`\\lVert W\\rVert_F^2` grows by at most :math:`2\\eta + 2k\\eta^2v^2`
  (because :math:`\\sigma'(z) z = \\sigma(z)`, the cross term is
  :math:`2\\eta y N_W(x) < 2\\eta`); Cauchy-Schwarz gives
  :math:`F(W) \\le \\sqrt{2k}\\lVert w^*\\rVert \\lVert W\\rVert_F`. From
  :math:`W_0 = 0` this caps the number of non-zero updates at
  :math:`(\\lVert w^*\\rVert^2/\\alpha^2)(1 + 1/(k\\eta v^2))`, whatever the width.
* **No bad critical points** (:func:`gradient_lower_bound`). Along
  :math:`\\Delta = (\\operatorname{sign}(a_j) w^*)_j` the directional derivative of
  :math:`L_S` is at most :math:`-(A/n)\\alpha\\lVert a\\rVert_1`, with :math:`A`
  the number of examples with :math:`y_i N_W(x_i) < 1`, so at every
  differentiable point :math:`\\lVert\\nabla L_S\\rVert \\ge
  (A/n)\\alpha\\lVert a\\rVert_1/(\\sqrt m\\lVert w^*\\rVert)`, which is
  :math:`(A/n)\\sqrt{2k}\\,\\alpha v/\\lVert w^*\\rVert` for Brutzkus' :math:`a`.
  A point with positive loss has :math:`A \\ge 1`, hence a non-zero gradient.
* **Not convex** (:func:`nonconvexity_witness`): a pair of points whose
  midpoint has a larger loss than the average of theirs.

Everything runs in NumPy float64. SGD is sequential, but an example that
triggers no update leaves :math:`W` unchanged, so :func:`hinge_sgd` scans the
epoch's order in vectorised blocks for the next example with
:math:`y N_W(x) < 1` and gives exactly the updates of the one-at-a-time loop.

=============================  =================================================================
:func:`network_parts`          :math:`(W, a, \\alpha)` of a ``models.two_layer`` leaky-ReLU network
:func:`network_output`         :math:`N_W(x_i)` for one :math:`W` or a stack of them
:func:`hinge_loss`             :math:`L_S(W)`
:func:`hinge_loss_grad`        :math:`\\nabla_W L_S` (the gradient PyTorch's autograd computes)
:func:`hinge_sgd`              single-example SGD until an epoch without update; counts updates
:func:`replay_updates`         SGD on the sequence of update examples: the compression scheme
:func:`update_bound`           the perceptron-style bound on the number of non-zero updates
:func:`gradient_lower_bound`   :math:`(A/n)\\alpha\\lVert a\\rVert_1/(\\sqrt m\\lVert w^*\\rVert)`
:func:`nonconvexity_witness`   a pair :math:`W_1, W_2` with :math:`L(\\frac{W_1+W_2}2) > \\frac{L(W_1)+L(W_2)}2`
=============================  =================================================================
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits
from torch import nn

from ._checks import check_int, check_real, check_seed, check_sign_labels, check_tensor
from .models import dense_layers

__all__ = [
    "network_parts", "network_output", "hinge_loss", "hinge_loss_grad", "HingeSGDRun", "hinge_sgd",
    "replay_updates", "update_bound", "gradient_lower_bound", "nonconvexity_witness",
]

_BLOCK_MAX = 1024  # longest block of examples scanned at once for the next update
_CHUNK_ELEMENTS = 2**22  # stacked weights are processed so that one chunk holds about this many pre-activations


# --------------------------------------------------------------------------- inputs


def _one_blas_thread(fn):
    """Run ``fn`` with one BLAS thread: its products are small and sequential, and on a shared
    machine OpenBLAS threads that spin waiting for busy cores made SGD ten times slower; one thread
    also makes the sums' order, hence the round-off, the same on every machine."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper


def _array(x, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    t = check_tensor(x, name)
    if t.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, got shape {tuple(t.shape)}")
    return t.cpu().numpy().astype(np.float64, copy=True)


def _data(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = _array(X, "X", 2), _array(y, "y", 1)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}")
    check_sign_labels(y, "the hinge loss")
    return X, y


def _weights(W, a, d: int) -> tuple[np.ndarray, np.ndarray]:
    W, a = _array(W, "W", (2, 3)), _array(a, "a", 1)
    if W.shape[-1] != d:
        raise ValueError(f"W has rows of length {W.shape[-1]} but the inputs have d = {d} features")
    if W.shape[-2] != a.shape[0]:
        raise ValueError(f"W has {W.shape[-2]} hidden units but a has {a.shape[0]} outer weights")
    return W, a


def _alpha(alpha) -> float:
    return check_real(alpha, "alpha", min=0.0, max=1.0)


def _sgd_inputs(X, y, W0, a, alpha, eta) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The checked inputs of an SGD run: data, one starting matrix (a private copy), slope and step."""
    X, y = _data(X, y)
    W, a = _weights(W0, a, X.shape[1])
    if W.ndim != 2:
        raise ValueError(f"W0 must be one weight matrix (m, d), got shape {W.shape}")
    return X, y, W, a, _alpha(alpha), check_real(eta, "eta", min=0.0, min_open=True)


def _sigma(z: np.ndarray, alpha: float) -> np.ndarray:
    return np.maximum(z, alpha * z)  # max(z, alpha z) is the leaky ReLU for alpha <= 1


def _slope(z: np.ndarray, alpha: float) -> np.ndarray:
    """:math:`\\sigma'(z)`, with :math:`\\sigma'(0) = \\alpha` as in PyTorch's LeakyReLU backward."""
    return np.where(z > 0, 1.0, alpha)


# --------------------------------------------------------------------------- the network


def network_parts(model: nn.Module) -> tuple[np.ndarray, np.ndarray, float]:
    """The hidden weights :math:`W`, outer vector :math:`a` and slope :math:`\\alpha` of a two-layer network.

    ``model`` is a bias-free ``nn.Sequential(Linear(d, m), LeakyReLU(alpha),
    Linear(m, 1))`` such as ``models.two_layer(d, 2 * k,
    activation="leaky_relu", negative_slope=alpha, outer="fixed_sign",
    outer_scale=v)`` (a ReLU counts as slope 0). Returns float64 copies
    ``W`` ``(m, d)`` and ``a`` ``(m,)`` and ``alpha``.
    """
    layers = dense_layers(model, bias_free=True)
    if len(layers) != 2 or layers.out_features != 1:
        raise ValueError(f"a two-layer network with one output is needed, got {len(layers)} layers "
                         f"and {layers.out_features} outputs")
    acts = layers[0].activations
    if len(acts) != 1 or not isinstance(acts[0], (nn.LeakyReLU, nn.ReLU)):
        raise ValueError(f"the hidden layer must be followed by one LeakyReLU (or ReLU), got {acts}")
    alpha = float(acts[0].negative_slope) if isinstance(acts[0], nn.LeakyReLU) else 0.0
    W = layers[0].weight.detach().cpu().double().numpy().copy()
    a = layers[1].weight.detach().cpu().double().numpy().reshape(-1).copy()
    return W, a, _alpha(alpha)


def _outputs(W: np.ndarray, a: np.ndarray, X: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    Z = X @ np.swapaxes(W, -1, -2)  # (..., n, m)
    return Z, _sigma(Z, alpha) @ a


@_one_blas_thread
def network_output(W, a, X, alpha: float) -> np.ndarray:
    """:math:`N_W(x_i) = \\sum_j a_j \\sigma(\\langle w_j, x_i\\rangle)` for every row of ``X``.

    ``W`` is ``(m, d)``, or ``(T, m, d)`` for ``T`` weight matrices at once
    (the result is then ``(T, n)``).
    """
    X = _array(X, "X", 2)
    W, a = _weights(W, a, X.shape[1])
    return _outputs(W, a, X, _alpha(alpha))[1]


def _step(W: np.ndarray, n: int) -> int:
    """How many stacked weight matrices to process at once (bounded memory)."""
    return max(1, _CHUNK_ELEMENTS // max(1, n * W.shape[-2]))


def _loss_grad(W, a, X, y, alpha, with_grad: bool):
    if W.ndim == 3 and W.shape[0] > _step(W, len(y)):
        step = _step(W, len(y))
        parts = [_loss_grad(W[s:s + step], a, X, y, alpha, with_grad) for s in range(0, W.shape[0], step)]
        return tuple(None if parts[0][i] is None else np.concatenate([p[i] for p in parts]) for i in range(3))
    Z, N = _outputs(W, a, X, alpha)
    active = y * N < 1  # the examples with positive hinge loss
    loss = np.where(active, 1 - y * N, 0.0).mean(axis=-1)
    if not with_grad:
        return loss, None, active
    coef = (active * y)[..., None] * _slope(Z, alpha) * a  # (..., n, m)
    grad = -np.swapaxes(coef, -1, -2) @ X / X.shape[0]
    return loss, grad, active


@_one_blas_thread
def hinge_loss(W, a, X, y, alpha: float):
    """:math:`L_S(W) = \\frac1n\\sum_i \\max(0, 1 - y_i N_W(x_i))`: a float, or ``(T,)`` for stacked ``W``."""
    X, y = _data(X, y)
    W, a = _weights(W, a, X.shape[1])
    loss = _loss_grad(W, a, X, y, _alpha(alpha), False)[0]
    return float(loss) if W.ndim == 2 else loss


@_one_blas_thread
def hinge_loss_grad(W, a, X, y, alpha: float, *, return_active: bool = False):
    """The gradient of :func:`hinge_loss` with respect to :math:`W`.

    .. math::  \\nabla_{w_j} L_S = -\\frac1n \\sum_{i:\\, y_i N_W(x_i) < 1}
               y_i\\, a_j\\, \\sigma'(\\langle w_j, x_i\\rangle)\\, x_i ,

    the gradient wherever :math:`L_S` is differentiable, and at the kinks the
    one PyTorch's autograd returns for ``relu(1 - y * model(X))`` with a
    ``LeakyReLU`` (:math:`\\sigma'(0) = \\alpha`, nothing from an example with
    margin exactly 1). ``W`` is ``(m, d)`` or ``(T, m, d)``.

    Returns
    -------
    loss, grad
        :math:`L_S` (float or ``(T,)``) and the gradient (``W``'s shape).
        With ``return_active=True`` also :math:`A`, the number of examples with
        :math:`y_i N_W(x_i) < 1` (int or ``(T,)``).
    """
    X, y = _data(X, y)
    W, a = _weights(W, a, X.shape[1])
    loss, grad, active = _loss_grad(W, a, X, y, _alpha(alpha), True)
    count = active.sum(axis=-1)
    if W.ndim == 2:
        loss, count = float(loss), int(count)
    return (loss, grad, count) if return_active else (loss, grad)


# --------------------------------------------------------------------------- SGD


@dataclass(frozen=True)
class HingeSGDRun:
    """The outcome of :func:`hinge_sgd`.

    Attributes
    ----------
    W
        The final hidden weights ``(m, d)``.
    updates
        :math:`M`, the number of non-zero updates.
    epochs
        Passes over the data, the last one (if ``converged``) without any update.
    converged
        Whether an epoch passed without an update: then every example has
        :math:`y_i N_W(x_i) \\ge 1` and the training hinge loss is exactly 0.
    update_examples
        The index of the example of each non-zero update, in order (length
        :math:`M`, with repeats): :func:`replay_updates` rebuilds ``W`` from
        these examples alone.
    updates_per_epoch
        The number of non-zero updates in each epoch.
    """

    W: np.ndarray
    updates: int
    epochs: int
    converged: bool
    update_examples: np.ndarray
    updates_per_epoch: np.ndarray


def _update(W: np.ndarray, a: np.ndarray, x: np.ndarray, y: float, z: np.ndarray, alpha: float, eta: float) -> None:
    """The non-zero SGD update on one example, in place: :math:`w_j \\mathrel{+}= \\eta y a_j \\sigma'(z_j) x`."""
    W += (eta * y * a * _slope(z, alpha))[:, None] * x[None, :]


@_one_blas_thread
def hinge_sgd(X, y, W0, a, *, alpha: float, eta: float, seed: int = 0, max_epochs: int = 10_000) -> HingeSGDRun:
    """Single-example SGD on the hinge loss of :math:`N_W`, until an epoch without update.

    Each epoch visits the examples in a fresh random order (NumPy's
    ``default_rng(seed)``, one ``permutation(n)`` per epoch). On an example
    with :math:`y N_W(x) < 1` it updates every hidden unit,
    :math:`w_j \\leftarrow w_j + \\eta y a_j \\sigma'(\\langle w_j, x\\rangle) x`
    (the step :math:`-\\eta\\nabla_W \\max(0, 1 - yN_W(x))`), and otherwise
    leaves :math:`W` alone. Brutzkus et al. (2018) bound the number of such
    non-zero updates independently of the width (:func:`update_bound`).

    The result is exactly that of the one-example-at-a-time loop: since an
    example without update does not change :math:`W`, the order is scanned in
    blocks for the first example with :math:`y N_W(x) < 1`.

    Parameters
    ----------
    X, y
        ``(n, d)`` inputs and ``(n,)`` labels in :math:`\\{\\pm 1\\}`.
    W0, a
        The initial hidden weights ``(m, d)`` and the fixed outer vector ``(m,)``
        (:func:`network_parts` reads both from a ``models.two_layer`` network).
    alpha, eta
        The leaky slope :math:`\\alpha \\in [0, 1]` and the step :math:`\\eta > 0`.
    seed
        Seeds the order of the examples.
    max_epochs
        Stop after this many epochs even if updates continue (``converged`` is then False).
    """
    X, y, W, a, alpha, eta = _sgd_inputs(X, y, W0, a, alpha, eta)
    max_epochs = check_int(max_epochs, "max_epochs", min=1)
    rng = np.random.default_rng(check_seed(seed))
    n = len(y)
    examples: list[int] = []
    per_epoch: list[int] = []
    converged = False
    for _ in range(max_epochs):
        order = rng.permutation(n)
        start, block, count = 0, 1, 0
        while start < n:
            idx = order[start:start + block]
            Z, N = _outputs(W, a, X[idx], alpha)
            hits = np.flatnonzero(y[idx] * N < 1)
            if hits.size == 0:
                start += len(idx)
                block = min(2 * block, _BLOCK_MAX)
                continue
            j = int(hits[0])
            i = int(idx[j])
            _update(W, a, X[i], y[i], Z[j], alpha, eta)
            examples.append(i)
            count += 1
            start += j + 1
            block = max(1, block // 2)
        per_epoch.append(count)
        if count == 0:
            converged = True
            break
    return HingeSGDRun(W, len(examples), len(per_epoch), converged, np.asarray(examples, dtype=np.int64),
                       np.asarray(per_epoch, dtype=np.int64))


@_one_blas_thread
def replay_updates(W0, a, X, y, *, alpha: float, eta: float) -> np.ndarray:
    """SGD's rule applied once to each example of ``(X, y)`` in the given order: the decompression map.

    For the examples of :attr:`HingeSGDRun.update_examples` (with their
    repeats, in order) this returns the final weights of :func:`hinge_sgd`:
    every one of them triggered an update at the same :math:`W`, and the
    examples in between changed nothing. SGD's output is thus determined by the
    initialisation and a sequence of :math:`M` training examples, a sample
    compression scheme of size :math:`M` (Brutzkus et al. 2018, sec. 5;
    :func:`dltheory.bounds.compression_bound`).
    """
    X, y, W, a, alpha, eta = _sgd_inputs(X, y, W0, a, alpha, eta)
    for x, label in zip(X, y):
        z = W @ x
        if label * (_sigma(z, alpha) @ a) < 1:
            _update(W, a, x, label, z, alpha, eta)
    return W


# --------------------------------------------------------------------------- the theorems


def update_bound(w_star_norm: float, *, alpha: float, eta: float, k: int, v: float | None = None,
                 init_norm: float = 0.0, input_norm: float = 1.0) -> float:
    """The perceptron-style bound on the number of non-zero updates of :func:`hinge_sgd`.

    For :math:`2k` units with outer weights :math:`\\pm v`, inputs with
    :math:`\\lVert x\\rVert \\le` ``input_norm`` :math:`= X` and a vector
    :math:`w^*` with :math:`y_i\\langle w^*, x_i\\rangle \\ge 1` on every example,
    let :math:`F(W) = \\sum_{j \\le k}\\langle w_j, w^*\\rangle - \\sum_{j > k}
    \\langle w_j, w^*\\rangle`. A non-zero update raises :math:`F` by at least
    :math:`a = 2k\\eta v\\alpha` and :math:`\\lVert W\\rVert_F^2` by at most
    :math:`c = 2\\eta + 2k\\eta^2v^2X^2`, and
    :math:`|F(W)| \\le b\\lVert W\\rVert_F` with :math:`b = \\sqrt{2k}\\lVert w^*\\rVert`.
    After :math:`M` updates from :math:`W_0` with :math:`\\lVert W_0\\rVert_F = R_0`,

    .. math::  aM - bR_0 \\le F(W_M) \\le b\\sqrt{R_0^2 + cM}
               \\quad\\Longrightarrow\\quad
               M \\le \\frac{b^2 c + 2abR_0}{a^2},

    the larger root of the quadratic obtained by squaring (for :math:`aM > bR_0`).
    With :math:`W_0 = 0` and :math:`X = 1` this is

    .. math::  M \\le \\frac{\\lVert w^*\\rVert^2}{\\alpha^2}\\Big(1 + \\frac{1}{k\\eta v^2}\\Big),

    which for :math:`v = 1/\\sqrt k` is :math:`(\\lVert w^*\\rVert^2/\\alpha^2)(1 + 1/\\eta)`,
    free of the width: the explicit form of Brutzkus et al.'s (2018)
    :math:`\\lVert w^*\\rVert^2/\\alpha^2 + O(\\lVert w^*\\rVert^2/\\eta)`.

    Parameters
    ----------
    w_star_norm
        :math:`\\lVert w^*\\rVert` (the hard-margin SVM scaled to margin 1 gives the smallest).
    alpha, eta, k
        Leaky slope :math:`\\alpha \\in (0, 1]`, step :math:`\\eta`, half the number of units.
    v
        The outer weight's magnitude; default :math:`1/\\sqrt k`.
    init_norm
        :math:`\\lVert W_0\\rVert_F` (:math:`\\approx R\\sqrt{2k}` for rows of norm :math:`R`).
    input_norm
        :math:`\\max_i\\lVert x_i\\rVert` (the theorem assumes 1).
    """
    w_star_norm = check_real(w_star_norm, "w_star_norm", min=0.0, min_open=True)
    alpha = check_real(alpha, "alpha", min=0.0, max=1.0, min_open=True)
    eta = check_real(eta, "eta", min=0.0, min_open=True)
    k = check_int(k, "k", min=1)
    v = check_real(1 / math.sqrt(k) if v is None else v, "v", min=0.0, min_open=True)
    init_norm = check_real(init_norm, "init_norm", min=0.0)
    input_norm = check_real(input_norm, "input_norm", min=0.0, min_open=True)
    a = 2 * k * eta * v * alpha
    b = math.sqrt(2 * k) * w_star_norm
    c = 2 * eta + 2 * k * eta**2 * v**2 * input_norm**2
    return (b * b * c + 2 * a * b * init_norm) / (a * a)


@_one_blas_thread
def gradient_lower_bound(W, a, X, y, w_star, *, alpha: float):
    """The lower bound on :math:`\\lVert\\nabla L_S(W)\\rVert_F` that rules out bad critical points.

    With :math:`\\Delta_j = \\operatorname{sign}(a_j)\\, w^*` and
    :math:`y_i\\langle w^*, x_i\\rangle \\ge 1` for every example,

    .. math::  \\langle \\nabla L_S(W), \\Delta\\rangle
               = -\\frac1n \\sum_{i \\in A}\\sum_j |a_j|\\,\\sigma'(\\langle w_j, x_i\\rangle)\\,
                 y_i\\langle w^*, x_i\\rangle \\le -\\frac{|A|}{n}\\,\\alpha\\lVert a\\rVert_1 ,

    where :math:`A = \\{i : y_i N_W(x_i) < 1\\}`, and :math:`\\lVert\\Delta\\rVert_F =
    \\sqrt m\\lVert w^*\\rVert`, so by Cauchy-Schwarz

    .. math::  \\lVert\\nabla L_S(W)\\rVert_F \\ge \\frac{|A|}{n}\\,
               \\frac{\\alpha\\lVert a\\rVert_1}{\\sqrt m\\,\\lVert w^*\\rVert}
               = \\frac{|A|}{n}\\,\\frac{\\sqrt{2k}\\,\\alpha v}{\\lVert w^*\\rVert}
               \\quad (a = \\pm v,\\ m = 2k)

    at every point where :math:`L_S` is differentiable (and for the gradient of
    :func:`hinge_loss_grad` everywhere). A point with :math:`L_S(W) > 0` has
    :math:`|A| \\ge 1`, so it is not a critical point: every critical point is a
    global minimum (Brutzkus et al. 2018).

    ``W`` is ``(m, d)`` or ``(T, m, d)``; returns a float or ``(T,)``.
    Raises ``ValueError`` if :math:`\\min_i y_i\\langle w^*, x_i\\rangle < 1`.
    """
    X, y = _data(X, y)
    W, a = _weights(W, a, X.shape[1])
    w_star = _array(w_star, "w_star", 1)
    if w_star.shape[0] != X.shape[1]:
        raise ValueError(f"w_star has {w_star.shape[0]} entries but the inputs have d = {X.shape[1]} features")
    worst = float((y * (X @ w_star)).min())
    if worst < 1 - 1e-9:
        raise ValueError(f"w_star must satisfy y_i <w_star, x_i> >= 1 on every example; the smallest is {worst:.3g} "
                         "(scale the SVM solution to functional margin 1)")
    alpha = _alpha(alpha)
    count = _loss_grad(W, a, X, y, alpha, False)[2].sum(axis=-1)
    bound = count / len(y) * alpha * np.abs(a).sum() / (math.sqrt(len(a)) * np.linalg.norm(w_star))
    return float(bound) if W.ndim == 2 else bound


@_one_blas_thread
def nonconvexity_witness(a, X, y, *, alpha: float, scale: float = 1.0, trials: int = 1000, seed: int = 0):
    """Search for two points whose midpoint has a loss above the average of theirs: :math:`L_S` is not convex.

    A convex function satisfies :math:`L(\\tfrac{W_1 + W_2}{2}) \\le
    \\tfrac12(L(W_1) + L(W_2))` for every pair. The search draws ``trials``
    pairs of hidden-weight matrices with i.i.d. :math:`N(0, s^2/d)` entries
    (rows of norm about :math:`s =` ``scale``) and keeps the pair with the
    largest gap :math:`L(\\tfrac{W_1 + W_2}{2}) - \\tfrac12(L(W_1) + L(W_2))`. A
    positive gap, far above round-off, is a witness of non-convexity.

    Returns
    -------
    W1, W2, gap
        The two ``(m, d)`` matrices and their gap.
    """
    X, y = _data(X, y)
    a = _array(a, "a", 1)
    alpha = _alpha(alpha)
    scale = check_real(scale, "scale", min=0.0, min_open=True)
    trials = check_int(trials, "trials", min=1)
    rng = np.random.default_rng(check_seed(seed))
    shape = (trials, len(a), X.shape[1])
    W1 = rng.standard_normal(shape) * (scale / math.sqrt(X.shape[1]))
    W2 = rng.standard_normal(shape) * (scale / math.sqrt(X.shape[1]))
    losses = [_loss_grad(W, a, X, y, alpha, False)[0] for W in (W1, W2, (W1 + W2) / 2)]
    gaps = losses[2] - (losses[0] + losses[1]) / 2
    best = int(np.argmax(gaps))
    return W1[best], W2[best], float(gaps[best])
