"""Operations on a data set once drawn: label corruption, input randomisation, train/test splits, scaling,
class selection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from .._checks import (check_bool, check_int, check_probability, check_real, check_seed, check_tensor,
                       check_Xy)

__all__ = ["corrupt_labels", "randomize_inputs", "INPUT_RANDOMIZATIONS", "split", "standardize",
           "select_classes"]


def corrupt_labels(
    y: Tensor,
    fraction: float,
    *,
    num_classes: int | None = None,
    seed: int = 0,
    exclude_true: bool = False,
    return_mask: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Replace a fraction of the labels by random ones (Zhang et al. 2017, "partially corrupted labels").

    Exactly :math:`m = \\operatorname{round}(\\text{fraction} \\cdot n)` examples,
    chosen uniformly at random without replacement, get a new label:

    - class indices (int): a label drawn uniformly from :math:`\\{0, \\dots, K-1\\}`
      (:math:`K` = ``num_classes``, default ``y.max() + 1``), as in Zhang et al.,
      so a new label equals the old one with probability :math:`1/K` and about
      :math:`m (1 - 1/K)` labels end up wrong; ``fraction=1`` gives their fully
      random labels. With ``exclude_true=True`` the new label is uniform over the
      :math:`K - 1` *other* classes, so exactly :math:`m` labels are wrong.
    - :math:`\\pm 1` labels (floating point): the sign of the chosen labels is
      flipped, so exactly :math:`m` labels are wrong (``exclude_true`` is implied).
      For Zhang et al.'s uniform replacement on two classes pass 0/1 integer
      labels with ``num_classes=2``.

    Deterministic for ``seed``; ``y`` itself is not modified.

    Parameters
    ----------
    y
        ``(n,)`` labels, at least one.
    fraction
        In :math:`[0, 1]`.

    Returns
    -------
    The new labels (same dtype and device as ``y``), and with ``return_mask=True``
    also the boolean mask of the :math:`m` chosen examples.
    """
    y = check_tensor(y, "y", ndim=1)
    fraction = check_probability(fraction, "fraction", open=False)
    num_classes = check_int(num_classes, "num_classes", min=1, allow_none=True)
    exclude_true, return_mask = check_bool(exclude_true, "exclude_true"), check_bool(return_mask, "return_mask")
    g = torch.Generator().manual_seed(check_seed(seed))
    n = len(y)
    m = round(fraction * n)
    chosen = torch.randperm(n, generator=g)[:m]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[chosen] = True
    new = y.clone()
    if y.is_floating_point():
        if not ((y == 1) | (y == -1)).all():
            raise ValueError("floating-point labels must all be +1 or -1; class labels must be integer tensors")
        if num_classes not in (None, 2):
            raise ValueError(f"±1 labels have 2 classes, got num_classes={num_classes}")
        new[chosen.to(y.device)] = -y[chosen.to(y.device)]
    else:
        if y.dtype == torch.bool or int(y.min()) < 0:
            raise ValueError("class labels must be non-negative integers")
        K = int(y.max()) + 1 if num_classes is None else num_classes
        if int(y.max()) >= K:
            raise ValueError(f"labels go up to {int(y.max())} but num_classes={K}")
        if exclude_true:
            if K < 2:
                raise ValueError("exclude_true needs at least 2 classes")
            shift = torch.randint(1, K, (m,), generator=g)
            labels = (y[chosen.to(y.device)].cpu() + shift) % K
        else:
            labels = torch.randint(0, K, (m,), generator=g)
        new[chosen.to(y.device)] = labels.to(device=y.device, dtype=y.dtype)
    return (new, mask.to(y.device)) if return_mask else new


INPUT_RANDOMIZATIONS = ("shuffled_pixels", "random_pixels", "gaussian")


def randomize_inputs(X: Tensor, kind: str, *, seed: int = 0) -> Tensor:
    """Replace the inputs by randomised ones (Zhang et al. 2017, Section 2, "shuffled pixels", "random
    pixels", "Gaussian").

    Each example :math:`x_i` is flattened to its :math:`d` features (pixels) and

    - ``"shuffled_pixels"``: one permutation :math:`\\pi` of :math:`\\{1, \\dots, d\\}`,
      drawn once, is applied to every example, :math:`x'_{i,j} = x_{i,\\pi(j)}`.
      It depends only on :math:`d` and ``seed``, so calls with the same seed (a
      training and a test set) share it;
    - ``"random_pixels"``: every example gets its own independent permutation
      :math:`\\pi_i`, :math:`x'_{i,j} = x_{i,\\pi_i(j)}` (each example keeps its
      multiset of pixel values, its histogram, and loses all spatial structure);
    - ``"gaussian"``: every entry is drawn independently from
      :math:`\\mathcal N(\\mu, s^2)`, where :math:`\\mu` and :math:`s^2` are the mean and
      the (population) variance of all the entries of ``X``.

    For the per-example kinds, randomise a training and a test set in one call
    (concatenated) so that they get independent draws. Sampling happens on the
    CPU with a local generator seeded with ``seed`` (float64 for ``"gaussian"``);
    the result has ``X``'s shape, dtype and device, and ``X`` is not modified.
    """
    X = check_tensor(X, "X")
    if kind not in INPUT_RANDOMIZATIONS:
        raise ValueError(f"kind must be one of {INPUT_RANDOMIZATIONS}, got {kind!r}")
    if X.ndim < 2 or X.shape[0] == 0 or X[0].numel() == 0:
        raise ValueError(f"X must hold at least one example with at least one feature, got shape {tuple(X.shape)}")
    g = torch.Generator().manual_seed(check_seed(seed))
    flat = X.reshape(X.shape[0], -1)
    n, d = flat.shape
    if kind == "shuffled_pixels":
        out = flat[:, torch.randperm(d, generator=g).to(X.device)]
    elif kind == "random_pixels":
        order = torch.argsort(torch.rand(n, d, generator=g, dtype=torch.float64), dim=1)
        out = torch.gather(flat, 1, order.to(X.device))
    else:
        values = flat.detach().to("cpu", torch.float64)
        mean, std = values.mean(), values.std(correction=0)
        out = mean + std * torch.randn(n, d, generator=g, dtype=torch.float64)
        out = out.to(device=X.device, dtype=X.dtype if X.is_floating_point() else torch.float32)
    return out.reshape(X.shape).clone()


def split(
    X: Tensor, y: Tensor, *, test_fraction: float = 0.2, seed: int = 0, stratify: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A seeded random split into ``(X_train, y_train, X_test, y_test)`` (note the order).

    The order is that of the library's loaders (:func:`dltheory.data.mnist`,
    :func:`dltheory.data.mnist1d`), *not* that of scikit-learn's
    ``train_test_split``, which returns ``X_train, X_test, y_train, y_test``; the
    function is named ``split`` rather than ``train_test_split`` so that the two
    are not confused.

    The test set has exactly :math:`\\operatorname{round}(\\text{test\\_fraction} \\cdot n)`
    examples (at least one of each set must remain). With ``stratify=True`` (class
    labels), every class contributes its share: the per-class quotas are the
    floors of ``test_fraction * count`` topped up, by largest remainder, to the
    same total. Both parts keep the original order of the examples.

    Parameters
    ----------
    X, y
        Inputs ``(n, ...)`` and targets ``(n, ...)``, finite; tensors or arrays.
    test_fraction
        In :math:`(0, 1)`.
    """
    X, y = check_Xy(X, y)
    test_fraction = check_probability(test_fraction, "test_fraction")
    stratify = check_bool(stratify, "stratify")
    n = X.shape[0]
    n_test = round(test_fraction * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"test_fraction must leave at least one example in each part, got {test_fraction} "
                         f"({n_test} of {n} examples for testing)")
    g = torch.Generator().manual_seed(check_seed(seed))
    if not stratify:
        test_idx = torch.randperm(n, generator=g)[:n_test]
    else:
        labels = y.cpu()
        if labels.ndim != 1:
            raise ValueError("stratify needs one label per example")
        classes, counts = torch.unique(labels, return_counts=True)
        share = counts.double() * test_fraction
        quota = share.floor().long()
        order = torch.argsort(share - quota, descending=True, stable=True)
        quota[order[: n_test - int(quota.sum())]] += 1
        parts = []
        for c, q in zip(classes, quota):
            members = torch.nonzero(labels == c).squeeze(1)
            parts.append(members[torch.randperm(len(members), generator=g)[: int(q)]])
        test_idx = torch.cat(parts)
    is_test = torch.zeros(n, dtype=torch.bool)
    is_test[test_idx] = True
    train_idx = torch.nonzero(~is_test).squeeze(1).to(X.device)
    test_idx = torch.nonzero(is_test).squeeze(1).to(X.device)
    return X[train_idx], y[train_idx.to(y.device)], X[test_idx], y[test_idx.to(y.device)]


def standardize(X_train: Tensor, X_test: Tensor | None = None, *, eps: float = 1e-8) -> tuple[Tensor, Tensor | None]:
    """Centre and scale every feature with the *training* statistics: :math:`(x - \\mu)/\\sigma`.

    :math:`\\mu, \\sigma` are the per-feature mean and population standard
    deviation over the training examples (dimension 0; images are standardised
    per pixel). Features with :math:`\\sigma \\le` ``eps`` (constant, e.g. MNIST's
    border pixels) are only centred. Returns ``(X_train, X_test)``, the second
    ``None`` when not given.
    """
    X_train = check_tensor(X_train, "X_train")
    if X_test is not None:
        X_test = check_tensor(X_test, "X_test")
        if X_test.shape[1:] != X_train.shape[1:]:
            raise ValueError(f"X_test's feature shape {tuple(X_test.shape[1:])} differs from X_train's "
                             f"{tuple(X_train.shape[1:])}")
    eps = check_real(eps, "eps", min=0)
    mean = X_train.mean(0)
    std = X_train.std(0, correction=0)
    std = torch.where(std > eps, std, torch.ones_like(std))
    return (X_train - mean) / std, None if X_test is None else (X_test - mean) / std


def select_classes(
    X: Tensor, y: Tensor, classes: Sequence[int], *, binary: bool = False
) -> tuple[Tensor, Tensor]:
    """Keep the examples of the listed classes and relabel them.

    Labels become ``0 .. len(classes)-1`` in the order listed (int64); with
    ``binary=True`` (exactly two classes) ``classes[0]`` becomes :math:`-1` and
    ``classes[1]`` :math:`+1`, in ``X``'s floating dtype. E.g. ``select_classes(X,
    y, (3, 8), binary=True)`` gives MNIST's 3-versus-8 problem with :math:`\\pm1` labels.
    """
    X, y = check_Xy(X, y)
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise TypeError(f"classes must be a sequence of integer labels, got {classes!r}")
    classes = [check_int(c, f"classes[{i}]") for i, c in enumerate(classes)]
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct and non-empty, got {classes}")
    if check_bool(binary, "binary") and len(classes) != 2:
        raise ValueError(f"binary=True needs exactly two classes, got {classes}")
    new = torch.full_like(y, -1, dtype=torch.int64)
    for i, c in enumerate(classes):
        new[y == c] = i
    keep = new >= 0
    if not keep.any():
        raise ValueError(f"no example has a label in {classes}")
    labels = new[keep]
    if binary:
        dtype = X.dtype if X.is_floating_point() else torch.float32
        labels = (2 * labels - 1).to(dtype)
    return X[keep], labels
