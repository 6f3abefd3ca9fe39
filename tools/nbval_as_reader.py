"""Run nbval on the notebooks as a reader runs them: from an empty folder, against the installed wheel.

``python tools/nbval_as_reader.py NOTEBOOK...`` (what ``make test`` runs; extra pytest
arguments after ``--``, e.g. ``-- -n 2 --dist loadfile`` to run two notebooks at a time)

1. The wheel is built from a copy of the files git would commit (what
   ``pip install git+...`` installs in Colab) and installed, without
   dependencies, into a temporary folder; the notebooks' kernels import
   ``dltheory`` from there (``PYTHONPATH``), not from the source tree.
2. The notebooks are copied into another temporary folder, outside the
   repository, and run there: a notebook that read a file of the repository by
   a relative path, or a library function that found its data beside the source
   tree, fails.
3. nbval re-executes each copy and compares its text outputs with the stored
   ones (with ``tests/nbval_sanitize.cfg``), and ``tests/nbval_figures.py``
   compares its figures.

The dependencies come from the environment running this script (the pinned
reproduction environment of ``make``), so only where ``dltheory`` itself comes
from differs from a plain nbval run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_copy(destination: Path) -> Path:
    """The files git would commit (tracked, or untracked but not ignored), copied to ``destination``."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def install_wheel(work: Path) -> Path:
    """Build the wheel from a clean copy of the sources and install it into ``work/site``."""
    source, wheels, site = work / "source", work / "wheels", work / "site"
    tracked_copy(source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels),
                    str(source)], check=True)
    (wheel,) = wheels.glob("dltheory-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target",
                    str(site), str(wheel)], check=True)
    return site


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, pytest_args = parser.parse_args(argv[:split]), argv[split + 1:]
    with tempfile.TemporaryDirectory(prefix="dltheory-notebooks-") as tmp:
        work = Path(tmp)
        site = install_wheel(work)
        copies = []
        for notebook in args.notebooks:
            relative = notebook.resolve().relative_to(ROOT)
            copy = work / "reader" / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notebook, copy)
            copies.append(str(copy.relative_to(work / "reader")))
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # a backend would hide the figures
        env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT / "tests")])  # the wheel; the figure plugin
        check = ("import dltheory, sys; p = dltheory.__file__; "
                 f"sys.exit(0 if p.startswith({str(site)!r}) else 'dltheory comes from ' + p)")
        subprocess.run([sys.executable, "-c", check], env=env, cwd=work / "reader", check=True)
        command = [sys.executable, "-m", "pytest", "--nbval", *copies, "--nbval-current-env",
                   "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "-p", "nbval_figures",
                   "-p", "no:cacheprovider", "--rootdir", str(work / "reader"), *pytest_args]
        print(f"nbval in {work / 'reader'}, dltheory from {site}", flush=True)
        return subprocess.run(command, env=env, cwd=work / "reader").returncode


if __name__ == "__main__":
    sys.exit(main())
