"""The glue of ``book/4-mathematical-theories/locality-on-images.ipynb``: locality and sharing on images.

The notebook trains a fully connected, a locally connected and a convolutional
network (:func:`dltheory.models.image_network`) at nearly the same number of
parameters on the same images, and repeats the two local ones on images whose
pixels have been shuffled by one fixed permutation. This module holds:

* :func:`prepare`: average pooling to a smaller image and standardisation with
  the training set's statistics;
* :func:`scramble`: one fixed permutation of the pixel positions, applied to
  every image (and every channel) alike;
* :func:`compare`: the experiment, one :func:`dltheory.train.fit` per
  (architecture, seed), returning test and training errors;
* :func:`describe` and :func:`table`: one line per network, and the table of
  errors the notebook prints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import models, train
from .._checks import check_choice, check_int, check_real, check_seed

__all__ = ["prepare", "scramble", "compare", "error_rate", "describe", "table", "NAMES"]

#: How the notebook names the architectures.
NAMES = {"fc": "fully connected", "local": "locally connected", "conv": "convolutional"}


def prepare(X_train: torch.Tensor, X_test: torch.Tensor, pool: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool images ``(n, C, H, W)`` by ``pool`` and standardise each channel.

    Both sets are divided into non-overlapping ``pool x pool`` blocks and
    averaged (``F.avg_pool2d``; 28x28 MNIST becomes 14x14 with ``pool=2``), then
    centred and scaled by the mean and standard deviation of each channel over
    the *training* images, so the test set is transformed exactly like it.
    """
    pool = check_int(pool, "pool", min=1)
    for name, X in (("X_train", X_train), ("X_test", X_test)):
        if not isinstance(X, torch.Tensor) or X.ndim != 4:
            raise ValueError(f"{name} must be images of shape (n, C, H, W), got "
                             f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    if pool > 1:
        X_train, X_test = F.avg_pool2d(X_train, pool), F.avg_pool2d(X_test, pool)
    mean = X_train.mean(dim=(0, 2, 3), keepdim=True)
    std = X_train.std(dim=(0, 2, 3), keepdim=True)
    return (X_train - mean) / std, (X_test - mean) / std


def scramble(X: torch.Tensor, seed: int) -> torch.Tensor:
    """The images ``(n, C, H, W)`` with their pixel positions permuted by one permutation drawn from ``seed``.

    The same permutation of the :math:`HW` positions is applied to every image
    and every channel, so the data lose their spatial neighbourhoods but no
    information: a fully connected network sees the same problem up to a
    relabelling of its inputs (its first layer's columns permuted), while the
    windows of a local network now gather unrelated pixels.
    """
    if not isinstance(X, torch.Tensor) or X.ndim != 4:
        raise ValueError(f"scramble expects images of shape (n, C, H, W), got "
                         f"{tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__}")
    n, c, h, w = X.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(check_seed(seed)))
    return X.reshape(n, c, h * w)[:, :, perm.to(X.device)].reshape(n, c, h, w)


@torch.no_grad()
def error_rate(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """The fraction of ``X`` that ``model`` misclassifies (arg-max of the logits), in batches."""
    model.eval()
    wrong = sum(int((model(X[i:i + batch_size]).argmax(dim=1) != y[i:i + batch_size]).sum())
                for i in range(0, len(y), batch_size))
    return wrong / len(y)


def compare(X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor, y_test: torch.Tensor,
            architectures: Sequence[str], seeds: Sequence[int], *, budget: int, steps: int, lr: float,
            batch_size: int, blocks: int = 2, kernel_size: int = 5) -> dict[str, dict[str, np.ndarray | int]]:
    """Train every architecture of :data:`dltheory.models.IMAGE_ARCHITECTURES` listed, from every seed.

    Each network is :func:`dltheory.models.image_network` ``(architecture, C, (H, W),
    10, budget, blocks=blocks, kernel_size=kernel_size)``, initialised under the
    seed, and trained by :func:`dltheory.train.fit` with Adam (``lr``) on the
    cross-entropy, in mini-batches of ``batch_size`` shuffled under the same
    seed, for ``steps`` updates.

    Returns
    -------
    dict
        ``{architecture: {"test": errors, "train": errors, "params": count}}``,
        the errors arrays of length ``len(seeds)``.
    """
    steps, batch_size = check_int(steps, "steps", min=1), check_int(batch_size, "batch_size", min=1)
    lr = check_real(lr, "lr", min=0.0)
    num_classes = int(y_train.max()) + 1
    _, c, h, w = X_train.shape
    results: dict[str, dict] = {}
    for architecture in architectures:
        check_choice(architecture, "architecture", models.IMAGE_ARCHITECTURES)
        test, train_err, count = [], [], 0
        for seed in seeds:
            net = models.image_network(architecture, c, (h, w), num_classes, budget, blocks=blocks,
                                       kernel_size=kernel_size, seed=check_seed(seed), device=X_train.device)
            train.fit(net, X_train, y_train, loss="ce", optimizer="adam", lr=lr, steps=steps,
                      batch_size=batch_size, seed=seed, record_every=steps, progress=False)
            test.append(error_rate(net, X_test, y_test))
            train_err.append(error_rate(net, X_train, y_train))
            count = models.count_parameters(net)
        results[architecture] = {"test": np.array(test), "train": np.array(train_err), "params": count}
    return results


def describe(model: torch.nn.Module) -> str:
    """The layer widths of a network of :func:`dltheory.models.image_network`, and its parameter count.

    ``"196-72-72-10, 20,170 parameters"`` for a fully connected network,
    ``"channels 2-4, 5x5 windows, 20,558 parameters"`` for a :class:`~dltheory.models.SmallCNN`.
    """
    count = f"{models.count_parameters(model):,} parameters"
    if isinstance(model, models.SmallCNN):
        kh, kw = model.kernel_size
        return f"channels {'-'.join(map(str, model.channels))}, {kh}x{kw} windows, {count}"
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    if not weights or any(w.ndim != 2 for w in weights):
        raise ValueError("describe expects a network of dltheory.models.image_network")
    widths = [weights[0].shape[1], *(w.shape[0] for w in weights)]
    return f"{'-'.join(map(str, widths))}, {count}"


def table(natural: dict[str, dict], scrambled: dict[str, dict]) -> str:
    """Test and training errors (means over seeds) on natural and scrambled images, one row per architecture."""
    lines = ["                    test error          training error",
             "                    natural  scrambled  natural  scrambled"]
    for arch in natural:
        nat, scr = natural[arch], scrambled[arch]
        lines.append(f"{NAMES.get(arch, arch):18s}  {nat['test'].mean():.3f}    {scr['test'].mean():.3f}"
                     f"      {nat['train'].mean():.3f}    {scr['train'].mean():.3f}")
    return "\n".join(lines)
