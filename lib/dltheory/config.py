"""Where and how big: the device, the seed and the scale of every experiment.

Three environment variables steer a run without touching a notebook:

``DLT_DEVICE``
    ``cpu``, ``cuda``, ``cuda:1``, ``mps``; overrides the automatic choice
    (cuda > mps > cpu). Asking for a device that is not there is an error,
    never a silent fallback.
``DLT_SCALE``
    ``quick`` (minutes on two CPU cores; the stored outputs of the book) or
    ``full`` (the paper-size experiment, meant for one GPU). Default: ``full``
    when CUDA is available, ``quick`` otherwise.
``DLT_SEED``
    a non-negative integer, default 0: which run of the experiment this is.
    Every seed a notebook uses comes from :func:`seed`, which shifts it by
    ``DLT_SEED``, so ``DLT_SEED=3`` reruns a notebook with new data, new
    initialisations and new shuffling (``tools/seed_sweep.py`` runs many).
``DLT_PROGRESS``
    ``1`` or ``0``: show or hide the progress bars of long loops everywhere.
    Default: shown at full scale only (:mod:`dltheory._progress`).
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from typing import Literal, TypeVar

import numpy as np
import torch

from ._checks import check_int, check_seed

__all__ = ["device", "float64_device", "seed", "run_seed", "seed_all", "scale", "by_scale", "in_colab", "banner", "limit_cpu_threads",
           "Scale", "SEED_STRIDE"]

Scale = Literal["quick", "full"]
T = TypeVar("T")

_SCALES = ("quick", "full")

COLAB_NO_GPU = (
    "This Colab runtime has no GPU: the notebook runs at quick scale on the CPU. "
    "For the paper-size experiments choose Runtime > Change runtime type > "
    "Hardware accelerator: GPU, then run the notebook again."
)


def in_colab() -> bool:
    """True inside a Google Colab kernel."""
    return "google.colab" in sys.modules


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def device(name: str | None = None) -> torch.device:
    """The device experiments run on.

    Parameters
    ----------
    name
        An explicit choice (``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"``). When
        omitted, ``DLT_DEVICE`` decides, and without it the best available
        device: CUDA, then Apple's MPS, then the CPU.

    Raises
    ------
    ValueError
        ``name``/``DLT_DEVICE`` is not a device torch knows.
    RuntimeError
        The requested accelerator is not available on this machine.
    """
    requested = name if name is not None else os.environ.get("DLT_DEVICE", "").strip()
    if requested:
        try:
            dev = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(
                f"unknown device {requested!r} (from {'argument' if name else 'DLT_DEVICE'}); "
                "use 'cpu', 'cuda', 'cuda:N' or 'mps'"
            ) from err
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError(
                    f"device {requested!r} requested but CUDA is not available here; "
                    "unset DLT_DEVICE to run on the CPU"
                )
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise RuntimeError(
                    f"device {requested!r} requested but only {torch.cuda.device_count()} "
                    "CUDA device(s) exist"
                )
        elif dev.type == "mps" and not _mps_available():
            raise RuntimeError(f"device {requested!r} requested but MPS is not available here")
        elif dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"unsupported device type {dev.type!r}; use 'cpu', 'cuda' or 'mps'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    if in_colab():
        warnings.warn(COLAB_NO_GPU, RuntimeWarning, stacklevel=2)
    return torch.device("cpu")


#: Seeds ``k < SEED_STRIDE`` of different runs never coincide: run ``r`` uses ``k + SEED_STRIDE * r``.
SEED_STRIDE = 1000


def run_seed() -> int:
    """``DLT_SEED``: which run of an experiment this is (0 unless set)."""
    value = os.environ.get("DLT_SEED", "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise ValueError(f"DLT_SEED must be a non-negative integer, got {value!r}")
    return int(value)


def seed(k: int = 0) -> int:
    """The ``k``-th seed of this run: ``k + SEED_STRIDE * DLT_SEED``.

    A notebook takes every seed from here (``data.binary_tree(n, seed=seed(1))``,
    ``seed_all(seed())``), so that with ``DLT_SEED`` unset it uses ``k`` itself (the
    stored outputs) and with ``DLT_SEED=r`` a fresh, reproducible set of seeds.
    """
    k = check_int(k, "k", min=0, max=SEED_STRIDE - 1)
    return k + SEED_STRIDE * run_seed()


def float64_device(dev: torch.device | str) -> torch.device:
    """Where float64 work on ``dev``'s data can run: ``dev`` itself, or the CPU for Apple's MPS, which has
    no float64."""
    dev = torch.device(dev)
    return torch.device("cpu") if dev.type == "mps" else dev


def seed_all(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch (every device), and return a torch generator.

    With ``deterministic=True`` torch is asked for deterministic kernels (with a
    warning, not an error, where an operation has none), and cuDNN's autotuner is
    switched off, so that a seeded run repeats bit for bit on the same machine.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs this workspace setting before its first call to be deterministic.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)


def scale() -> Scale:
    """``"quick"`` or ``"full"``: ``DLT_SCALE`` if set, else full exactly when CUDA is available."""
    value = os.environ.get("DLT_SCALE", "").strip().lower()
    if value:
        if value not in _SCALES:
            raise ValueError(f"DLT_SCALE must be 'quick' or 'full', got {value!r}")
        return value  # type: ignore[return-value]
    return "full" if torch.cuda.is_available() else "quick"


def by_scale(*, quick: T, full: T) -> T:
    """Pick a size by the current :func:`scale`: ``n = by_scale(quick=200, full=50_000)``."""
    return quick if scale() == "quick" else full


def banner(dev: torch.device | None = None) -> None:
    """Print one line saying where and at which scale this notebook runs.

    In a Colab runtime without a GPU it also says how to switch one on.
    """
    from . import __version__

    dev = device() if dev is None else dev
    where = dev.type if dev.type != "cuda" else f"cuda ({torch.cuda.get_device_name(dev)})"
    line = f"dltheory {__version__} | device: {where} | scale: {scale()}"
    if scale() == "quick":
        line += " (DLT_SCALE=full for paper scale)"
    if run_seed():
        line += f" | DLT_SEED={run_seed()}"
    print(line)
    if in_colab() and dev.type == "cpu":
        print("WARNING: " + COLAB_NO_GPU)


def limit_cpu_threads(dev: torch.device, threads: int = 1) -> None:
    """On the CPU, run torch's kernels on ``threads`` threads; on an accelerator, do nothing.

    For the small problems of quick scale, one thread is as fast as several on a
    quiet machine and far faster on a shared one, where OpenMP threads spin while
    waiting for busy cores (seen: 100x slower small matrix products on two shared
    cores).
    """
    threads = check_int(threads, "threads", min=1)
    if torch.device(dev).type == "cpu":
        torch.set_num_threads(threads)
