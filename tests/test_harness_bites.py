"""The notebook harness must fail when a stored number or a stored figure changes.

We corrupt a copy of a real section (one digit of a claim's printed value; a black
box over a figure), run nbval with the figure plugin on it, and expect exactly
those two cells to fail, each for its own reason.
"""

import base64
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import nbformat
import pytest
from PIL import Image, ImageDraw

from .conftest import ROOT

SECTION = ROOT / "book" / "1-three-questions" / "min-norm.ipynb"


def corrupt_number(nb) -> int:
    """Change the last digit of the first printed claim value; return the code cell index."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        for out in cell.outputs:
            text = out.get("text", "")
            if out.get("output_type") == "stream" and "[PASS]" in text:
                head, _, tail = text.partition(" = ")
                value, rest = tail.split(" ", 1)
                digit = value.rstrip("e-+0123456789")[-1:] or value[0]
                altered = value.replace(digit, str((int(digit) + 1) % 10) if digit.isdigit() else "9", 1)
                assert altered != value
                out["text"] = f"{head} = {altered} {rest}"
                return i
    raise AssertionError("no claim output to corrupt")


def corrupt_figure(nb) -> int:
    """Paint a black box over the first stored figure; return the code cell index."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        for out in cell.outputs:
            if "image/png" in out.get("data", {}):
                image = Image.open(io.BytesIO(base64.b64decode(out["data"]["image/png"]))).convert("RGB")
                w, h = image.size
                ImageDraw.Draw(image).rectangle([w // 4, h // 4, w // 2, h // 2], fill="black")
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                out["data"]["image/png"] = base64.b64encode(buffer.getvalue()).decode()
                return i
    raise AssertionError("no figure to corrupt")


def run_nbval(path, report):
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(DLT_SCALE="quick", DLT_DEVICE="cpu")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(path), "--nbval-current-env", "-p", "tests.nbval_figures",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", "--rootdir", str(path.parent)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )


def failures(report):
    cases = ET.parse(report).getroot().iter("testcase")
    return {c.get("name"): "".join(f.text or "" for f in c.iter("failure")) for c in cases if c.find("failure") is not None}


@pytest.mark.notebooks
def test_altered_number_and_figure_both_fail(tmp_path):
    nb = nbformat.read(SECTION, as_version=4)
    number_cell, figure_cell = corrupt_number(nb), corrupt_figure(nb)
    assert number_cell != figure_cell
    altered = tmp_path / SECTION.name
    nbformat.write(nb, altered)

    result = run_nbval(altered, tmp_path / "report.xml")
    failed = failures(tmp_path / "report.xml")
    assert result.returncode == 1, result.stdout[-3000:]
    assert set(failed) == {f"Cell {number_cell}", f"Cell {figure_cell}"}, result.stdout[-3000:]
    assert "Cell outputs differ" in failed[f"Cell {number_cell}"]
    assert "differs from the stored one: RMS" in failed[f"Cell {figure_cell}"]
