"""Every notebook starts with the Colab setup cell of _config.yml and asks Colab for a GPU."""

import re
import sys

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

from .conftest import ROOT, notebooks

sys.path.insert(0, str(ROOT / "tools"))
import setup_cells  # noqa: E402

NOTEBOOKS = notebooks()


def test_there_are_notebooks():
    assert NOTEBOOKS, "the book has no notebooks"


def test_install_spec_is_read_from_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, ref = config["repository"]["url"], config["colab_install"]["ref"]
    assert setup_cells.install_spec() == f"dltheory @ git+{url}@{ref}"
    assert url.startswith("https://github.com/"), "the Colab button only works for GitHub repositories"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_setup_cell_and_colab_metadata(path):
    nb = nbformat.read(path, as_version=4)
    assert setup_cells.problems(nb) == []
    first = setup_cells.first_code_cell(nb).source
    # IPython joins the continued line: Colab runs `%pip install --quiet "<spec>"`.
    python = TransformerManager().transform_cell(first)
    magic = re.search(r"run_line_magic\('pip', '(.*?)'\)", python).group(1)
    assert magic.split() == ["install", "--quiet", *f'"{setup_cells.install_spec()}"'.split()]
    assert 'if "google.colab" in sys.modules:' in first


def test_a_stale_url_is_caught_and_rewritten():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert setup_cells.problems(nb, spec="dltheory @ git+https://github.com/someone/else@main")
    assert setup_cells.rewrite(nb, spec="dltheory @ git+https://github.com/someone/else@v9")
    assert setup_cells.problems(nb, spec="dltheory @ git+https://github.com/someone/else@v9") == []
    assert not setup_cells.rewrite(nb, spec="dltheory @ git+https://github.com/someone/else@v9")
