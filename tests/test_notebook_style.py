"""The code of every notebook fits the book's code column, and its prose maths is whole.

The rendered book shows about 76 characters of a code cell; a wider line
scrolls sideways and hides its end, often the threshold of a ``claim``.
A markdown cell with an unpaired ``$`` renders the rest of the paragraph as
garbled maths; that is what a shell heredoc leaves when it expands ``$k``.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))
COLUMN = 76


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_column(path):
    nb = nbformat.read(path, as_version=4)
    wide = [
        f"cell {i}: {line!r} ({len(line)} characters)"
        for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
        for line in cell.source.splitlines() if len(line) > COLUMN
    ]
    assert not wide, f"{path.name}: code wider than {COLUMN} characters:\n" + "\n".join(wide)


_NOT_INLINE_MATHS = re.compile(r"\$\$.*?\$\$|```.*?```|`[^`\n]*`|\\\$", re.S)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_inline_maths_is_paired(path):
    nb = nbformat.read(path, as_version=4)
    unpaired = [
        f"cell {i}" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
        for paragraph in _NOT_INLINE_MATHS.sub("", cell.source).split("\n\n") if paragraph.count("$") % 2
    ]
    assert not unpaired, f"{path.name}: a paragraph with an unpaired $ in " + ", ".join(unpaired)


WIDGET_STATE_BUDGET = 500_000  # bytes of embedded widget state (an explorer's views) per notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_embedded_explorer_views_keep_the_page_light(path):
    import json

    nb = nbformat.read(path, as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    size = len(json.dumps(state))
    assert size <= WIDGET_STATE_BUDGET, (
        f"{path.name} embeds {size:,} bytes of widget state: fewer grid values or smaller views (widgets.png_bytes)")
