"""The library as Colab installs it: a wheel, in a folder of its own, far from the repository.

The wheel is built from the source tree (``pip wheel``, as ``pip install git+...``
builds it), installed into an empty folder, and imported from there with the
repository out of reach and every socket refused: each data set the library
reads at run time must come from the installed package itself."""

import subprocess
import sys
import textwrap
import zipfile

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import nbval_as_reader  # noqa: E402

PACKAGE_DATA = ["dltheory/data/files/mnist_subset.npz", "dltheory/data/files/README.md",
                "dltheory/data/files/LICENSE-MNIST.txt"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a copy of the files git would commit (as in a fresh clone: no stale build/)."""
    source = nbval_as_reader.tracked_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source)],
                   check=True, capture_output=True, text=True)
    (path,) = out.glob("dltheory-*.whl")
    return path


def test_the_wheel_carries_the_data_with_their_notes(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in PACKAGE_DATA:
        assert name in names, f"{name} is not in the wheel"
    assert not [n for n in names if n.startswith(("tests/", "book/", "tools/"))]


def test_every_shipped_data_set_loads_from_the_installed_wheel_offline(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, text=True)
    work = tmp_path / "empty"
    work.mkdir()
    code = textwrap.dedent(f"""
        import socket, sys, warnings
        def refuse(*args, **kwargs):
            raise OSError("the network is off in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        sys.path = [p for p in sys.path if p not in ({str(ROOT)!r}, {str(ROOT / "lib")!r}, "")]  # the source tree
        sys.path.insert(0, {str(site)!r})
        import dltheory
        from dltheory import data
        assert dltheory.__file__.startswith({str(site)!r}), dltheory.__file__
        assert str(data.shipped_mnist_path()).startswith({str(site)!r})
        X, y, X_test, y_test = data.mnist(source="shipped")
        assert X.shape == (10000, 1, 28, 28) and X_test.shape == (2000, 1, 28, 28)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            auto = data.mnist(n_train=100, n_test=10, source="auto")  # no torchvision or network here
        assert any(issubclass(w.category, data.DataFallbackWarning) for w in caught)
        assert auto[0].shape == (100, 1, 28, 28)
        assert data.mnist1d(n=100)[0].shape == (80, 40)
        assert data.digits()[0].shape == (1797, 64) and data.diabetes()[0].shape == (442, 10)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DLT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
