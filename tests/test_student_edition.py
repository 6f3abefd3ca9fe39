"""The student edition: solutions out, stubs in, and it still runs from top to bottom."""

import ast
import sys
import textwrap

import nbformat
import pytest

from .conftest import ROOT, notebooks

sys.path.insert(0, str(ROOT / "tools"))
import student_edition  # noqa: E402

SECTION = ROOT / "book" / "1-three-questions" / "min-norm.ipynb"


def test_stub_keeps_signature_and_docstring():
    source = textwrap.dedent('''
        import torch

        def solve(X, Y):  # the signature's comment stays
            """Return W."""
            # a hint that gives the answer away
            A = torch.linalg.solve(X @ X.T, Y)
            return A.T @ X

        answer = 42
        print(answer)
    ''')
    stub = student_edition.stub_source(source, "ex-1")
    assert 'def solve(X, Y):  # the signature\'s comment stays\n    """Return W."""\n    raise NotImplementedError("Exercise ex-1' in stub
    assert "gives the answer away" not in stub
    assert "answer = ...  # Exercise ex-1" in stub
    assert "torch.linalg.solve" not in stub and "42" not in stub and "print" not in stub
    compile(stub, "<stub>", "exec")


def test_stub_of_a_function_without_docstring_and_of_nothing_useful():
    assert "raise NotImplementedError" in student_edition.stub_source("def f(x):\n    return 2 * x\n", "e")
    assert student_edition.stub_source("print(1)\n", "e") == "# Exercise e: your code here"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_no_solution_survives(path):
    nb = nbformat.read(path, as_version=4)
    student = student_edition.student_notebook(nb)
    text = "\n".join(c.source for c in student.cells)
    assert "{solution" not in text
    assert not any("solution" in c.metadata.get("tags", []) for c in student.cells)
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    solutions = [c.source for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    for source in solutions:
        kept = _signature_and_docstring_lines(source)  # the stub keeps these on purpose
        body = [line for i, line in enumerate(source.splitlines(), 1) if line.strip() and i not in kept]
        assert not any(line in text for line in body), "solution code leaked into the student edition"


def _signature_and_docstring_lines(source: str) -> set[int]:
    """Line numbers (from 1) of every function's ``def`` lines and docstring."""
    kept = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kept.update(range(node.lineno, node.body[0].lineno))
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                kept.update(range(first.lineno, first.end_lineno + 1))
    return kept


def test_unbalanced_gated_solution_is_an_error():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("```{solution-start} ex\n```")])
    with pytest.raises(ValueError, match="solution-end"):
        student_edition.student_notebook(nb)


@pytest.mark.notebooks
def test_student_edition_of_the_section_runs_and_the_checker_gives_a_hint(monkeypatch):
    monkeypatch.setenv("DLT_SCALE", "quick")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    student = student_edition.student_notebook(nbformat.read(SECTION, as_version=4))
    executed = student_edition.execute(student, SECTION.parent)
    outputs = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in executed.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "min_norm_solution is not implemented yet" in outputs and "Hint" in outputs
