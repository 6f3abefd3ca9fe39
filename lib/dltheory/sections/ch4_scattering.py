"""The glue of ``book/4-mathematical-theories/scattering.ipynb``: scattering, invariance and discriminants.

* :func:`mnist_images`: MNIST images (``(n, H, W)``), optionally averaged down by 2;
* :func:`linear_accuracies`: test accuracy of logistic regression and of Fisher's
  LDA (scikit-learn) on given features;
* :func:`translation_sensitivity`: :math:`\\lVert Sx - S T_c x\\rVert / \\lVert x\\rVert` against
  the averaging scale :math:`2^J`, with the raw pixels' :math:`\\lVert x - T_c x\\rVert / \\lVert x\\rVert`;
* :func:`deformation_distances`: the same for :math:`x_\\tau` at growing :math:`\\sup\\lvert\\nabla\\tau\\rvert`;
* :func:`pooling_sensitivity`: relative translation sensitivity of each layer of
  a Wiatowski-Bölcskei network (:func:`dltheory.scattering.pooled_features`);
* :func:`train_cnn` and :func:`layer_ratios`: a small CNN and the
  :math:`\\operatorname{tr} S_W / \\operatorname{tr} S_B` of its layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .. import data, discriminants, models, scattering, train
from .._checks import check_int, check_seed

__all__ = ["mnist_images", "linear_accuracies", "translation_sensitivity", "deformation_distances",
           "pooling_sensitivity", "train_cnn", "layer_ratios", "relative_distance"]


def mnist_images(n_train: int, n_test: int, *, down: int = 1, source: str = "shipped",
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    """The first ``n_train`` / ``n_test`` MNIST images as ``(n, H, W)``, averaged over ``down x down`` blocks.

    ``down=2`` gives 14 x 14 images (the quick scale). Labels are int64.
    """
    down = check_int(down, "down", min=1)
    X_train, y_train, X_test, y_test = data.mnist(n_train=n_train, n_test=n_test, source=source, dtype=dtype)
    if down > 1:
        X_train, X_test = (torch.nn.functional.avg_pool2d(X, down) for X in (X_train, X_test))
    return X_train[:, 0], y_train, X_test[:, 0], y_test


def linear_accuracies(F_train, y_train, F_test, y_test, *, C: float = 1.0,
                      max_iter: int = 200) -> dict[str, float]:
    """Test accuracies of two linear classifiers trained on the features ``F_train``.

    ``"logistic"``: standardised features, multinomial logistic regression with
    inverse penalty ``C`` (``sklearn.linear_model.LogisticRegression``, L-BFGS).
    ``"lda"``: Fisher's linear discriminant analysis with Ledoit-Wolf shrinkage of
    :math:`\\Sigma_W` (``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")``),
    needed when there are about as many features as examples.
    """
    import warnings

    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def arr(a):
        return (a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)).reshape(len(a), -1)

    A, b, P, q = arr(F_train), arr(y_train).ravel(), arr(F_test), arr(y_test).ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        logistic = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter)).fit(A, b)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(A, b)
    return {"logistic": float(logistic.score(P, q)), "lda": float(lda.score(P, q))}


def relative_distance(A: torch.Tensor, B: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean over rows of :math:`\\lVert a_i - b_i\\rVert / \\lVert r_i\\rVert` (each row flattened)."""
    return float(((A - B).flatten(1).norm(dim=1) / reference.flatten(1).norm(dim=1)).mean())


def _S(X: torch.Tensor, bank: scattering.FilterBank, order: int) -> torch.Tensor:
    return torch.cat([s.flatten(1) for s in scattering.scattering(X, bank, order, "decreasing")], dim=1)


def translation_sensitivity(X: torch.Tensor, Js: Sequence[int], *, L: int = 4, shift: int = 1,
                            order: int = 2) -> dict[str, np.ndarray | float]:
    """:math:`\\lVert Sx - S T_c x\\rVert/\\lVert x\\rVert` (mean over images) for each :math:`J`, :math:`c` = ``shift`` columns.

    :math:`T_c` is a circular shift along the last axis; :math:`S` the scattering
    of orders 0 to ``order`` (frequency-decreasing paths), not subsampled.
    Returns ``J``, ``scattering`` (one value per :math:`J`) and ``pixels``
    (:math:`\\lVert x - T_c x\\rVert/\\lVert x\\rVert`).
    """
    shifted = torch.roll(X, shift, dims=-1)
    values = []
    for J in Js:
        bank = scattering.filter_bank(tuple(X.shape[-2:]), J, L, dtype=X.dtype)
        values.append(relative_distance(_S(X, bank, order), _S(shifted, bank, order), X))
    return {"J": np.asarray(Js), "scattering": np.asarray(values), "pixels": relative_distance(X, shifted, X)}


def deformation_distances(X: torch.Tensor, tau: torch.Tensor, amplitudes: Sequence[float], *, J: int, L: int = 4,
                          order: int = 2) -> dict[str, np.ndarray]:
    """Scattering and pixel distances between ``X`` and ``deform(X, s * tau)`` for each amplitude :math:`s`.

    With ``tau`` from :func:`dltheory.scattering.smooth_displacement`
    (:math:`\\sup\\lvert\\nabla\\tau\\rvert = 1`), :math:`s = \\sup\\lvert\\nabla(s\\tau)\\rvert`.
    Returns ``amplitude``, ``scattering`` and ``pixels`` (means over images of
    the distance divided by :math:`\\lVert x\\rVert`).
    """
    bank = scattering.filter_bank(tuple(X.shape[-2:]), J, L, dtype=X.dtype)
    Sx = _S(X, bank, order)
    scat, pix = [], []
    for s in amplitudes:
        Y = scattering.deform(X, float(s) * tau)
        scat.append(relative_distance(Sx, _S(Y, bank, order), X))
        pix.append(relative_distance(X, Y, X))
    return {"amplitude": np.asarray(amplitudes, dtype=float), "scattering": np.asarray(scat),
            "pixels": np.asarray(pix)}


def pooling_sensitivity(X: torch.Tensor, layers: int, *, pool: int, shift: int, L: int = 4) -> np.ndarray:
    """Relative translation sensitivity :math:`\\lVert\\Phi^n(T_t x) - \\Phi^n(x)\\rVert / \\lVert\\Phi^n(x)\\rVert` for :math:`n < ` ``layers``.

    Every layer uses :func:`dltheory.scattering.filter_bank` with :math:`J = 1`
    and ``L`` orientations on its own grid; the grid shrinks by ``pool`` per
    layer. :math:`T_t` shifts the images by ``shift`` pixels along both axes.
    Means over images.
    """
    layers = check_int(layers, "layers", min=1)
    size = tuple(X.shape[-2:])
    banks = [scattering.filter_bank(tuple(n // pool**k for n in size), 1, L, dtype=X.dtype) for k in range(layers)]
    F = scattering.pooled_features(X, banks, pool=pool)
    G = scattering.pooled_features(torch.roll(X, (shift, shift), dims=(-2, -1)), banks, pool=pool)
    return np.asarray([relative_distance(f, g, f) for f, g in zip(F, G)])


def train_cnn(X: torch.Tensor, y: torch.Tensor, *, channels: Sequence[int] = (8, 16), steps: int,
              seed: int, lr: float = 3e-3, batch_size: int = 100) -> torch.nn.Module:
    """A :func:`dltheory.models.small_cnn` (3 x 3 convolutions, ReLU, 2 x 2 max pooling) trained with Adam on cross-entropy."""
    seed = check_seed(seed)
    net = models.small_cnn(1, tuple(X.shape[-2:]), channels, int(y.max()) + 1, seed=seed, dtype=X.dtype)
    train.fit(net, X[:, None], y, loss="ce", optimizer="adam", lr=lr, steps=steps, batch_size=batch_size,
              seed=seed, record_every=steps, progress=False)
    return net


def layer_ratios(net: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """:math:`\\operatorname{tr} S_W / \\operatorname{tr} S_B` (:func:`dltheory.discriminants.contraction_ratio`) of every representation.

    ``input``, one entry per convolutional block (``block 1``, ...; after ReLU
    and pooling) and ``logits``.
    """
    with torch.no_grad():
        feats = net.features(X[:, None])
        logits = net(X[:, None])
    reps = {"input": X, **{f"block {b + 1}": f for b, f in enumerate(feats)}, "logits": logits}
    return {name: discriminants.contraction_ratio(r, y) for name, r in reps.items()}
