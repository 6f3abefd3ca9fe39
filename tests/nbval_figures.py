"""A pytest plugin that makes nbval compare figures too.

nbval compares text outputs but skips ``image/png`` (a corrupted figure would
pass). With ``-p tests.nbval_figures`` every cell that nbval compares also has
its PNG outputs compared, in order, with the re-executed ones by
``matplotlib.testing.compare.compare_images``: a figure fails when the RMS of
the pixel difference exceeds ``--nbval-figure-tol`` (on the 0-255 scale), when
its size changes, or when the number of figures in the cell changes.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import pytest
from matplotlib.testing.compare import compare_images
from matplotlib.testing.exceptions import ImageComparisonFailure
from nbval.plugin import IPyNbCell

DEFAULT_TOLERANCE = 2.0


def pytest_addoption(parser):
    parser.addoption(
        "--nbval-figure-tol",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"RMS tolerance (0-255 scale) of the figure comparison (default {DEFAULT_TOLERANCE})",
    )


def pngs(outputs) -> list[bytes]:
    """The PNG images among a cell's outputs, in order."""
    return [base64.b64decode(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]


def figure_differences(reference: list[bytes], test: list[bytes], tol: float) -> list[str]:
    """Why the figures differ (empty if they match within ``tol``)."""
    if len(reference) != len(test):
        return [f"the cell drew {len(test)} figure(s) where the stored notebook has {len(reference)}"]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (ref, new) in enumerate(zip(reference, test), start=1):
            expected, actual = Path(tmp, f"expected-{i}.png"), Path(tmp, f"actual-{i}.png")
            expected.write_bytes(ref)
            actual.write_bytes(new)
            try:
                result = compare_images(str(expected), str(actual), tol=tol, in_decorator=True)
            except ImageComparisonFailure as err:  # e.g. the size changed
                problems.append(f"figure {i}: {err}")
                continue
            if result is not None:
                problems.append(f"figure {i} differs from the stored one: RMS {result['rms']:.2f} > tolerance {tol}")
    return problems


_compare_text = IPyNbCell.compare_outputs


def compare_outputs_and_figures(self, test, ref, skip_compare=None):
    """nbval's text comparison, then the figure comparison."""
    if not _compare_text(self, test, ref, skip_compare):
        return False
    problems = figure_differences(pngs(ref), pngs(test), self.config.getoption("nbval_figure_tol"))
    if problems:
        self.comparison_traceback.extend(problems)
        return False
    return True


@pytest.hookimpl
def pytest_configure(config):
    IPyNbCell.compare_outputs = compare_outputs_and_figures
