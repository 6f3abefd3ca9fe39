"""Real data sets: scikit-learn's bundled copies, MNIST-1D generated offline, MNIST and CIFAR-10.

MNIST and CIFAR-10 come through ``torchvision.datasets`` (imported lazily, only
here: it is there in Colab-like environments); for MNIST a subset shipped with
the library as package data stands in when torchvision cannot deliver.
Downloads go to ``root`` if given, else ``$DLT_DATA_DIR``, else ``~/.cache/dltheory``.
"""

from __future__ import annotations

import os
import random
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._checks import check_bool, check_choice, check_device, check_dtype, check_int, check_probability
from ._sampling import Device

__all__ = ["digits", "diabetes", "mnist1d", "mnist", "cifar10", "shipped_mnist_path", "DataFallbackWarning"]


class DataFallbackWarning(UserWarning):
    """Warned when :func:`mnist` uses the shipped subset because torchvision could not deliver."""


def _labels(y: Any, device: torch.device) -> Tensor:
    """Class labels as an int64 tensor on ``device``."""
    return torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)


# --------------------------------------------------------------------------- scikit-learn data


def digits(
    *, flatten: bool = True, device: Device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled handwritten digits: 1797 images of 8 x 8 pixels, 10 classes.

    The pixels (integers 0..16) are divided by 16, so inputs lie in :math:`[0, 1]`.
    Returns ``X`` of shape ``(1797, 64)`` (``flatten=False``: ``(1797, 1, 8, 8)``) and
    int64 labels ``(1797,)``. No download: the data ship with scikit-learn.
    """
    from sklearn.datasets import load_digits

    flatten = check_bool(flatten, "flatten")
    dtype, device = check_dtype(dtype), check_device(device)
    bunch = load_digits()
    X = torch.from_numpy(bunch.data / 16.0)
    if not flatten:
        X = X.reshape(-1, 1, 8, 8)
    return X.to(device=device, dtype=dtype), _labels(bunch.target, device)


def diabetes(
    *, standardize_target: bool = False, device: Device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """scikit-learn's bundled diabetes regression data: 442 patients, 10 features.

    Each feature (from the raw, unscaled data) is standardised to mean 0 and
    variance 1 over the 442 examples: :math:`(x - \\bar x)/s` with the population
    standard deviation :math:`s`. The target (disease progression after one year,
    25..346) is returned as is, or standardised the same way with
    ``standardize_target=True``. Returns ``(442, 10)`` and ``(442,)``.
    """
    from sklearn.datasets import load_diabetes

    standardize_target = check_bool(standardize_target, "standardize_target")
    dtype, device = check_dtype(dtype), check_device(device)
    bunch = load_diabetes(scaled=False)
    X = torch.from_numpy(np.asarray(bunch.data, dtype=np.float64))
    y = torch.from_numpy(np.asarray(bunch.target, dtype=np.float64))
    X = (X - X.mean(0)) / X.std(0, correction=0)
    if standardize_target:
        y = (y - y.mean()) / y.std(correction=0)
    return X.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


# --------------------------------------------------------------------------- MNIST-1D


def _import_mnist1d() -> Any:
    try:
        from mnist1d import data as mnist1d_data
    except ImportError as err:
        raise ImportError(
            "dltheory.data.mnist1d needs the package 'mnist1d' (pip install mnist1d); "
            "it generates MNIST-1D locally, without a download"
        ) from err
    return mnist1d_data


def mnist1d(
    *,
    n: int = 5000,
    seed: int = 42,
    train_fraction: float = 0.8,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MNIST-1D (Greydanus 2020): 10 classes of one-dimensional signals of length 40.

    Generated locally by the ``mnist1d`` package's ``make_dataset`` with its
    default arguments except ``num_samples = n``, ``seed`` and ``train_split =
    train_fraction``: each of the ten 12-point digit templates is padded,
    sheared, scaled, translated, smoothed, noised (correlated and i.i.d.) and
    resampled to 40 points; the whole data set is then centred and scaled to
    unit standard deviation. ``n=5000, seed=42`` (the defaults) are the package's
    standard configuration (4000 training, 1000 test signals); the package's
    *download* path (a pickle from GitHub) is never used, so nothing touches the
    network, and the result is a fresh generation, which can differ in the last
    digits from that pickle. About a second for 5000 signals.

    ``make_dataset`` seeds NumPy's and Python's global generators; their states
    are saved before and restored after, so the caller's random streams are untouched.

    Parameters
    ----------
    n
        Total number of signals, a multiple of 10 (``n / 10`` per class).
    seed
        An integer in :math:`[0, 2^{32})` (NumPy's legacy seeding takes no more).
    train_fraction
        The first ``int(n * train_fraction)`` (shuffled) signals form the training set.

    Returns
    -------
    X_train, y_train, X_test, y_test
        ``(n_train, 40)`` inputs, int64 labels, and the same for the test set.
    """
    n = check_int(n, "n", min=10, kind="a positive multiple of 10")
    if n % 10:
        raise ValueError(f"n must be a positive multiple of 10 (the same number of signals per class), got {n}")
    seed = check_int(seed, "seed", min=0, max=2**32 - 1, kind="an integer in [0, 2**32)")
    train_fraction = check_probability(train_fraction, "train_fraction")
    if not 1 <= int(n * train_fraction) < n:
        raise ValueError(f"train_fraction must leave at least one training and one test signal, got {train_fraction}")
    dtype, device = check_dtype(dtype), check_device(device)
    module = _import_mnist1d()
    args = module.get_dataset_args(as_dict=False)
    args.num_samples, args.seed, args.train_split = n, seed, train_fraction
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = module.make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)

    def inputs(x: Any) -> Tensor:
        return torch.from_numpy(np.asarray(x, dtype=np.float64)).to(device=device, dtype=dtype)

    return inputs(data["x"]), _labels(data["y"], device), inputs(data["x_test"]), _labels(data["y_test"], device)


# --------------------------------------------------------------------------- MNIST and CIFAR-10

_SOURCES = ("auto", "shipped", "torchvision")
SHIPPED_TRAIN, SHIPPED_TEST = 10_000, 2_000
_CIFAR_HELP = (
    "CIFAR-10 has no offline copy: no PyPI package carries its images, and the book does not ship them. "
    "Run this notebook in Colab (or anywhere with internet and torchvision), "
    "or use dltheory.data.mnist (which falls back to a shipped subset) or dltheory.data.mnist1d "
    "(generated locally) instead."
)


def shipped_mnist_path() -> Path:
    """Where the shipped MNIST subset lives: ``dltheory/data/files/mnist_subset.npz``.

    The file is package data (read through ``importlib.resources``), so every
    installed copy of the library has it, an editable one, a wheel in Colab or
    one installed into a folder. ``$DLT_MNIST_SUBSET`` overrides the path.
    """
    override = os.environ.get("DLT_MNIST_SUBSET", "").strip()
    if override:
        return Path(override)
    return Path(str(resources.files("dltheory.data") / "files" / "mnist_subset.npz"))


def _default_root(root: str | os.PathLike | None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get("DLT_DATA_DIR", "").strip()
    return Path(env) if env else Path.home() / ".cache" / "dltheory"


def _import_torchvision() -> Any:
    """Import torchvision lazily: it is only there in Colab-like environments (and then it works)."""
    import torchvision

    return torchvision


class _TooFew(ValueError):
    """More images asked for than the source has (a request error, never a reason to fall back)."""


def _take(images: np.ndarray, labels: np.ndarray, n: int | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    if n is not None and n > len(labels):
        raise _TooFew(f"asked for {n} {what} images but the source has {len(labels)}")
    return images[:n], labels[:n]


def _images(x: np.ndarray, flatten: bool, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Bytes to ``dtype`` in [0, 1]; moved as bytes and converted on ``device`` (no float64 copy of CIFAR-10)."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device).to(dtype).div_(255)
    return t.flatten(1) if flatten else t


def _mnist_shipped(n_train: int | None, n_test: int | None) -> tuple[np.ndarray, ...]:
    path = shipped_mnist_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped MNIST subset {path} is missing: it is package data of dltheory "
            "(dltheory/data/files/), so this installation is incomplete; reinstall dltheory, set "
            "DLT_MNIST_SUBSET to the file, or use source='torchvision' with internet"
        )
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    for n, key, total in ((n_train, "train", SHIPPED_TRAIN), (n_test, "test", SHIPPED_TEST)):
        if n is not None and n > len(arrays[f"y_{key}"]):
            raise ValueError(
                f"the shipped MNIST subset has {len(arrays[f'y_{key}'])} {key} images, asked for n_{key}={n}; "
                f"ask for at most {total}, or use source='torchvision' (needs internet) for more"
            )
    x_tr, y_tr = _take(arrays["x_train"], arrays["y_train"], n_train, "training")
    x_te, y_te = _take(arrays["x_test"], arrays["y_test"], n_test, "test")
    return x_tr[:, None], y_tr, x_te[:, None], y_te


def _torchvision_splits(dataset: str, root: Path, n_train: int | None, n_test: int | None) -> tuple[np.ndarray, ...]:
    """The first images of both splits of ``torchvision.datasets.<dataset>``, as NCHW bytes and int64 labels."""
    tv = _import_torchvision()
    out: list[np.ndarray] = []
    for train, n, what in ((True, n_train, "training"), (False, n_test, "test")):
        ds = getattr(tv.datasets, dataset)(root=str(root), train=train, download=True)
        x = np.asarray(ds.data, dtype=np.uint8)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # MNIST: NHW; CIFAR-10: NHWC
        out += _take(x, np.asarray(ds.targets, dtype=np.int64), n, what)
    return tuple(out)


def _tensors(arrays: tuple[np.ndarray, ...], flatten: bool, device: torch.device,
             dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)`` arrays as images in [0, 1] and int64 labels on ``device``."""
    x_tr, y_tr, x_te, y_te = arrays
    return (_images(x_tr, flatten, device, dtype), _labels(y_tr, device),
            _images(x_te, flatten, device, dtype), _labels(y_te, device))


def mnist(
    *,
    n_train: int | None = SHIPPED_TRAIN,
    n_test: int | None = SHIPPED_TEST,
    source: str = "auto",
    flatten: bool = False,
    root: str | os.PathLike | None = None,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MNIST (LeCun, Cortes, Burges): the first ``n_train`` training and ``n_test`` test images.

    Pixels are scaled to :math:`[0, 1]` (byte / 255). "First" means in MNIST's
    own order, so both sources give identical tensors whenever the shipped subset
    is large enough (``n_train <= 10000``, ``n_test <= 2000``, the defaults).
    ``None`` asks for the whole split of the source.

    Parameters
    ----------
    source
        ``"torchvision"``: ``torchvision.datasets.MNIST`` (imported only here),
        downloading into ``root`` if needed; any failure raises a ``RuntimeError``.
        ``"shipped"``: only the subset shipped with the library,
        ``dltheory/data/files/mnist_subset.npz`` (10,000 training and 2,000 test
        images; see the ``README.md`` beside it). ``"auto"``:
        torchvision, and when it cannot be imported or cannot download, the
        shipped subset with a :class:`DataFallbackWarning` that says why; if the
        subset is too small for the request, a ``RuntimeError`` instead (never a
        silently smaller data set).
    flatten
        Return ``(n, 784)`` instead of ``(n, 1, 28, 28)``.
    root
        Download folder (default ``$DLT_DATA_DIR`` or ``~/.cache/dltheory``).

    Returns
    -------
    X_train, y_train, X_test, y_test
        Images in ``dtype``, int64 labels 0..9.
    """
    source = check_choice(source, "source", _SOURCES)
    n_train = check_int(n_train, "n_train", min=1, allow_none=True)
    n_test = check_int(n_test, "n_test", min=1, allow_none=True)
    flatten = check_bool(flatten, "flatten")
    dtype, device = check_dtype(dtype), check_device(device)
    if source == "shipped":
        arrays = _mnist_shipped(n_train, n_test)
    else:
        try:
            arrays = _torchvision_splits("MNIST", _default_root(root), n_train, n_test)
        except _TooFew:
            raise
        except Exception as err:  # no torchvision, no network, a broken download, ...
            reason = f"{type(err).__name__}: {err}"
            if source == "torchvision":
                raise RuntimeError(
                    f"could not load MNIST through torchvision ({reason}); it needs torchvision and internet "
                    "(e.g. Colab). Offline, use source='shipped' or source='auto' for the subset shipped with the library"
                ) from err
            too_big = (n_train is None or n_train > SHIPPED_TRAIN) or (n_test is None or n_test > SHIPPED_TEST)
            if too_big:
                raise RuntimeError(
                    f"could not load MNIST through torchvision ({reason}), and the shipped subset "
                    f"({SHIPPED_TRAIN} training, {SHIPPED_TEST} test images) is smaller than asked "
                    f"(n_train={n_train}, n_test={n_test}); ask for at most that, or run with internet (e.g. Colab)"
                ) from err
            warnings.warn(
                f"MNIST through torchvision is unavailable ({reason}); using instead the first {n_train} training "
                f"and {n_test} test images of the MNIST subset shipped with the book ({shipped_mnist_path().name}), "
                "the same images torchvision would have given",
                DataFallbackWarning,
                stacklevel=2,
            )
            arrays = _mnist_shipped(n_train, n_test)
    return _tensors(arrays, flatten, device, dtype)


def cifar10(
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    source: str = "auto",
    flatten: bool = False,
    root: str | os.PathLike | None = None,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """CIFAR-10 (Krizhevsky 2009) through ``torchvision.datasets.CIFAR10``: the first images of each split.

    Pixels are scaled to :math:`[0, 1]` (byte / 255) and laid out ``(n, 3, 32, 32)``
    (``flatten=True``: ``(n, 3072)``); labels are int64 0..9. ``None`` (default)
    means the whole split (50,000 training, 10,000 test images).

    There is no offline copy, so ``source`` is ``"auto"`` or ``"torchvision"``
    (the same thing here): without torchvision or internet this raises a
    ``RuntimeError`` that suggests running in Colab, or :func:`mnist` /
    :func:`mnist1d` instead. ``source="shipped"`` is a ``ValueError``.
    """
    if check_choice(source, "source", _SOURCES) == "shipped":
        raise ValueError("there is no shipped copy of CIFAR-10; " + _CIFAR_HELP)
    n_train = check_int(n_train, "n_train", min=1, allow_none=True)
    n_test = check_int(n_test, "n_test", min=1, allow_none=True)
    flatten = check_bool(flatten, "flatten")
    dtype, device = check_dtype(dtype), check_device(device)
    try:
        arrays = _torchvision_splits("CIFAR10", _default_root(root), n_train, n_test)
    except _TooFew:
        raise
    except Exception as err:
        raise RuntimeError(f"could not load CIFAR-10 through torchvision ({type(err).__name__}: {err}). "
                           + _CIFAR_HELP) from err
    return _tensors(arrays, flatten, device, dtype)
