"""Shared fixtures. Figures in the unit tests are drawn off-screen (in this process
only: nothing is exported to notebook kernels)."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def notebooks() -> list[Path]:
    """Every notebook of the book."""
    return sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
