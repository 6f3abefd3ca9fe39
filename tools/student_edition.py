"""Write the student edition of the book's notebooks: solutions out, stubs in.

``python tools/student_edition.py --out student NOTEBOOK...``  (``make student``)

For every notebook:

* a code cell tagged ``solution`` becomes a stub: each function keeps its
  signature and docstring and its body becomes ``raise NotImplementedError``
  with a pointer to the exercise; each top-level assignment ``name = ...``
  keeps its name with ``...`` as the value; anything else is dropped;
* the written solution, the markdown between ``{solution-start}`` and
  ``{solution-end}`` (both included) and any ``{solution}`` block, is removed;
* all outputs are cleared, so that no checker verdict gives an answer away.

The checkers of :mod:`dltheory.homework` answer a stub with a hint instead of
an error, so the student edition runs from top to bottom (``--execute`` checks
that it does).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

SOLUTION_TAG = "solution"
GATED_START = re.compile(r"^```\{solution-start\}\s*(\S+)?", re.M)
GATED_END = re.compile(r"^```\{solution-end\}", re.M)
SOLUTION_BLOCK = re.compile(r"^(`{3,})\{solution\}.*?^\1\s*$\n?", re.M | re.S)


def _signature(lines: list[str], start: int) -> str:
    """The ``def`` line(s) from ``start`` to the colon that ends the signature (no comments)."""
    header = []
    for line in lines[start:]:
        header.append(line)
        if line.split("#", 1)[0].rstrip().endswith(":"):
            break
    return "\n".join(header)


def stub_source(source: str, exercise: str) -> str:
    """The stub of a solution cell: signatures and docstrings kept, bodies raise."""
    tree = ast.parse(source)
    lines = source.splitlines()
    pieces = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            header = _signature(lines, node.lineno - 1)
            indent = " " * (node.body[0].col_offset)
            body = []
            docstring = ast.get_docstring(node, clean=False)
            if docstring is not None:
                first = node.body[0]
                body.append("\n".join(lines[first.lineno - 1 : first.end_lineno]))
            body.append(f'{indent}raise NotImplementedError("Exercise {exercise}: write this function")')
            pieces.append(header + "\n" + "\n".join(body))
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            names = " = ".join(t.id for t in node.targets)
            pieces.append(f"{names} = ...  # Exercise {exercise}: your answer")
    if not pieces:
        return f"# Exercise {exercise}: your code here"
    return "\n\n\n".join(pieces)


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with solutions replaced by stubs and all outputs cleared."""
    nb = nbformat.from_dict(nb)
    cells, inside, exercise = [], False, "?"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            start = GATED_START.search(cell.source)
            if start:
                inside, exercise = True, start.group(1) or "?"
            if inside:
                if GATED_END.search(cell.source):
                    inside = False
                continue
            cell.source = SOLUTION_BLOCK.sub("", cell.source)
            cells.append(cell)
            continue
        if cell.cell_type == "code":
            if SOLUTION_TAG in cell.metadata.get("tags", []):
                cell.source = stub_source(cell.source, exercise)
                cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != SOLUTION_TAG] + ["exercise"]
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    if inside:
        raise ValueError("a {solution-start} has no matching {solution-end}")
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run a copy of ``nb`` from ``folder``; raise if a cell fails. Returns the executed copy."""
    from nbclient import NotebookClient

    copy = nbformat.from_dict(nb)
    NotebookClient(copy, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return copy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("student"))
    parser.add_argument("--execute", action="store_true", help="run each student notebook to prove it executes")
    args = parser.parse_args()
    for path in args.notebooks:
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = student_notebook(nbformat.read(path, as_version=4))
        if args.execute:
            execute(nb, path.parent)
        nbformat.write(nb, target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
