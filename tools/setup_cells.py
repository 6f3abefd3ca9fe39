"""The Colab setup cell of every notebook, generated from ``_config.yml``.

``python tools/setup_cells.py --check NOTEBOOK...``  (exit 1 if any cell is stale)
``python tools/setup_cells.py --write NOTEBOOK...``  (rewrite the install block and metadata)

The first code cell of a notebook starts with the *install block*: in Colab it
installs the library from the repository at the ref pinned in ``_config.yml``
(``repository.url`` and ``colab_install.ref``); elsewhere it does nothing. What
follows the block (imports, ``seed_all``, the banner) belongs to the notebook.
The notebook metadata asks Colab for a GPU runtime.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BLOCK_START = "# Setup. In Colab: install the book's library, pinned in _config.yml."
BLOCK_END = "# End of the install block."
SETUP_TAG = "hide-input"  # the book shows the banner, with the code folded away
COLAB_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}


def install_spec(config_path: Path = ROOT / "_config.yml") -> str:
    """``dltheory @ git+<repository.url>@<colab_install.ref>`` from the book's configuration."""
    config = yaml.safe_load(config_path.read_text())
    url = config["repository"]["url"].rstrip("/")
    ref = config["colab_install"]["ref"]
    return f"dltheory @ git+{url}@{ref}"


def install_block(spec: str | None = None) -> str:
    """The exact text every setup cell starts with."""
    spec = spec or install_spec()
    return "\n".join(
        [
            BLOCK_START,
            "# Elsewhere: nothing to install.",
            "import sys",
            "",
            'if "google.colab" in sys.modules:',
            "    %pip install --quiet \\",  # two lines: the book's code column is narrow
            f'        "{spec}"',
            BLOCK_END,
        ]
    )


def first_code_cell(nb) -> nbformat.NotebookNode | None:
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def problems(nb, spec: str | None = None) -> list[str]:
    """What is wrong with a notebook's setup cell and Colab metadata (empty if nothing)."""
    found = []
    cell = first_code_cell(nb)
    block = install_block(spec)
    if cell is None:
        return ["no code cell"]
    if not cell.source.startswith(block):
        found.append("the first code cell does not start with the install block of _config.yml")
    rest = cell.source[len(block) :] if cell.source.startswith(block) else cell.source
    for call in ("seed_all(", "banner("):
        if call not in rest:
            found.append(f"the setup cell does not call {call[:-1]}")
    if nb.metadata.get("accelerator") != "GPU":
        found.append("notebook metadata does not ask Colab for a GPU (accelerator: GPU)")
    return found


def rewrite(nb, spec: str | None = None) -> bool:
    """Replace the install block (or insert it) and set the Colab metadata; True if changed."""
    cell = first_code_cell(nb)
    block = install_block(spec)
    before = (cell.source, dict(nb.metadata), list(cell.metadata.get("tags", [])))
    if BLOCK_END in cell.source:
        tail = cell.source.split(BLOCK_END, 1)[1]
        cell.source = block + tail
    else:
        cell.source = block + "\n\n" + cell.source
    nb.metadata.update(COLAB_METADATA)
    tags = cell.metadata.setdefault("tags", [])
    if SETUP_TAG not in tags:
        tags.append(SETUP_TAG)
    return before != (cell.source, dict(nb.metadata), list(cell.metadata.get("tags", [])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args()
    bad = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if args.write:
            if rewrite(nb):
                nbformat.write(nb, path)
                print(f"updated {path}")
        else:
            for problem in problems(nb):
                print(f"{path}: {problem}")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
