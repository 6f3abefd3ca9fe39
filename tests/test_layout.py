"""The library's layout rules (DESIGN.md, "The library"): the core never imports the teaching
aids or matplotlib, section glue is named after its notebook and homework mirrors it, no module
grows past about 600 lines, every subpackage exports what it lists, and validation and
layer walking each live in one place."""

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "dltheory"
BOOK = Path(__file__).resolve().parents[1] / "book"
TEACHING = ("sections", "homework", "widgets", "plotting")
FORBIDDEN_IN_CORE = ("matplotlib", "seaborn", "ipywidgets", "IPython")
MAX_LINES = 600


def modules() -> list[Path]:
    return sorted(p for p in LIB.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> str:
    parts = ["dltheory", *path.relative_to(LIB).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_core(path: Path) -> bool:
    top = path.relative_to(LIB).parts[0].removesuffix(".py")
    return top not in TEACHING


def imported(path: Path) -> set[str]:
    """Absolute names of every module the file imports (relative imports resolved)."""
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return names


CORE = [p for p in modules() if is_core(p)]


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(LIB)))
def test_the_core_never_imports_teaching_aids_or_matplotlib(path):
    bad = sorted(name for name in imported(path)
                 if name.split(".")[0] in FORBIDDEN_IN_CORE
                 or any(name == f"dltheory.{t}" or name.startswith(f"dltheory.{t}.") for t in TEACHING))
    assert not bad, f"{path.relative_to(LIB)} imports {bad}"


def test_importing_the_whole_core_loads_no_plotting_library():
    names = sorted({dotted(p) for p in CORE})
    code = ("import sys\n" + "".join(f"import {name}\n" for name in names)
            + f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IN_CORE!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_the_import_rule_is_checked_on_real_imports():
    """The scanner sees relative imports: sections import the core and widgets, the core does not."""
    assert "dltheory.widgets.Panel" in imported(LIB / "sections" / "ch1_margins.py")
    assert "dltheory.models.dense_layers" in imported(LIB / "bounds" / "margins.py")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(LIB)))
def test_no_module_is_longer_than_about_600_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(LIB)} has {lines} lines: split it into a subpackage"


def notebook_modules() -> set[str]:
    """``ch<k>_<slug>`` for every notebook ``book/<k>-*/<slug>.ipynb``."""
    return {f"ch{nb.parent.name.split('-')[0]}_{nb.stem.replace('-', '_')}" for nb in BOOK.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in nb.parts}


@pytest.mark.parametrize("package", ["sections", "homework"])
def test_section_glue_and_homework_are_named_after_their_notebook(package):
    names = {p.stem for p in (LIB / package).glob("*.py")} - {"__init__", "core"}
    assert names, package
    assert names <= notebook_modules(), f"{sorted(names - notebook_modules())} name no notebook"


def test_every_notebook_with_glue_imports_its_own_section():
    for path in (LIB / "sections").glob("ch*.py"):
        chapter, slug = path.stem.split("_", 1)
        notebook = next(BOOK.glob(f"{chapter[2:]}-*/{slug.replace('_', '-')}.ipynb"))
        assert f"from dltheory.sections import {path.stem}" in notebook.read_text(), notebook


@pytest.mark.parametrize("path", [p for p in modules() if p.name == "__init__.py"],
                         ids=lambda p: str(p.relative_to(LIB)))
def test_every_exported_name_exists(path):
    module = importlib.import_module(dotted(path))
    for name in getattr(module, "__all__", []):
        assert hasattr(module, name), f"{dotted(path)}.__all__ lists {name!r}, which it lacks"


WALKER = re.compile(r"isinstance\([^)]*\bnn\.Linear\b|\.modules\(\)[^\n]*nn\.Linear")
VALIDATOR = re.compile(r"def (_positive_int|_check_count|_is_int|_finite|_check_level|_check_delta|_check_gamma"
                       r"|_check_chunk_size|_check_positive|_as_tensor)\b")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(LIB)))
def test_layers_are_walked_and_scalars_checked_in_one_place(path):
    text = path.read_text()
    rel = path.relative_to(LIB).as_posix()
    if rel not in ("models/dense.py", "ntk/_kernels.py"):  # ntk/_kernels.py: its own, stricter fast-path detector
        assert not WALKER.search(text), f"{rel} walks nn.Linear layers itself; use models.dense_layers"
    assert not VALIDATOR.search(text), f"{rel} defines a private validator; use dltheory._checks"


def test_every_explorer_of_a_section_works_in_the_static_book():
    """Sections build explorers with widgets.static_explorer; the kernel-only explorer leaves a dead slider online."""
    for path in (LIB / "sections").glob("ch*.py"):
        source = path.read_text()
        assert not re.search(r"\bexplorer\(", source), f"{path.name} calls the kernel-only widgets.explorer"
