"""DLT_SEED and tools/seed_sweep.py: every seed of a run shifts together, claims are logged at full
precision without stopping the run, and the sweep reports per claim the seeds it holds for."""

import json
import subprocess
import sys

import nbformat
import pytest

import dltheory
from dltheory import claims, config

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import seed_sweep  # noqa: E402


def test_seeds_shift_with_dlt_seed(monkeypatch):
    monkeypatch.delenv("DLT_SEED", raising=False)
    assert [dltheory.seed(k) for k in (0, 1, 7)] == [0, 1, 7]  # the stored outputs' seeds
    monkeypatch.setenv("DLT_SEED", "3")
    assert [dltheory.seed(k) for k in (0, 1, 7)] == [3000, 3001, 3007]
    assert config.run_seed() == 3
    with pytest.raises(ValueError, match=r"k must be an integer in \[0, 999\]"):
        dltheory.seed(1000)
    monkeypatch.setenv("DLT_SEED", "-1")
    with pytest.raises(ValueError, match="DLT_SEED must be a non-negative integer"):
        dltheory.seed()


def test_the_banner_names_a_seed_other_than_zero(monkeypatch, capsys):
    monkeypatch.delenv("DLT_SEED", raising=False)
    dltheory.banner()
    assert "DLT_SEED" not in capsys.readouterr().out
    monkeypatch.setenv("DLT_SEED", "4")
    dltheory.banner()
    assert capsys.readouterr().out.rstrip().endswith("| DLT_SEED=4")


def test_claims_are_logged_and_may_be_told_not_to_raise(monkeypatch, tmp_path, capsys):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("DLT_CLAIMS_LOG", str(log))
    dltheory.claim("a third is small", "value", 1 / 3, at_most=0.5)
    with pytest.raises(claims.ClaimFailed):
        dltheory.claim("two is small", "value", 2.0, at_most=0.5)
    monkeypatch.setenv("DLT_CLAIMS_RAISE", "0")
    dltheory.claim("three is small", "value", 3.0, at_most=0.5)  # printed, logged, not raised
    assert "[FAIL] three is small" in capsys.readouterr().out
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["holds"] for r in rows] == [True, False, False]
    assert rows[0]["value"] == 1 / 3  # full precision, not the printed 0.33
    assert rows[0]["requirement"] == "<= 0.5"


def test_parse_seeds():
    assert seed_sweep.parse_seeds("0-3") == [0, 1, 2, 3]
    assert seed_sweep.parse_seeds("5,0-1,5") == [0, 1, 5]


def test_the_sweep_reports_each_claim_per_seed(tmp_path):
    """A notebook whose second claim fails for seed 2 (and whose claims do not stop one another)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import dltheory\nrun = dltheory.seed() // 1000"),
        nbformat.v4.new_code_cell('dltheory.claim("always", "run", run, at_least=0)\n'
                                  'dltheory.claim("not for seed 2", "run", run, close_to=0.5, tol=1.4)'),
        nbformat.v4.new_code_cell('dltheory.claim("after a failure", "one", 1.0, at_least=1)'),
    ]
    notebook = tmp_path / "toy.ipynb"
    nbformat.write(nb, notebook)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "seed_sweep.py"), str(notebook), "--seeds", "0-2",
                             "--jobs", "2", "--markdown", str(tmp_path / "sweep.md")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # a claim held for 2 of 3 seeds
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["3/3", "0", "2"] and "always: run" in line for line in lines)
    assert any("2/3" in line and "not for seed 2: run (fails for seeds [2])" in line for line in lines)
    assert any("3/3" in line and "after a failure" in line for line in lines)
    assert "| 2/3 |" in (tmp_path / "sweep.md").read_text()
    loose = subprocess.run([sys.executable, str(ROOT / "tools" / "seed_sweep.py"), str(notebook), "--seeds", "0-2",
                            "--min-pass", "2"], capture_output=True, text=True, timeout=300)
    assert loose.returncode == 0, loose.stderr


LITERAL_SEED = __import__("re").compile(r"\bseed=\d|manual_seed\(\d|seed_all\(\d|default_rng\(\d|np\.random\.seed\(")


@pytest.mark.parametrize("path", sorted((ROOT / "book").rglob("*.ipynb")), ids=lambda p: p.name)
def test_every_seed_of_a_notebook_goes_through_dltheory_seed(path):
    """A seed written as a number would stay fixed under DLT_SEED, and a sweep would not sweep it."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "seed_all(dltheory.seed())" in code
    assert not LITERAL_SEED.findall(code), LITERAL_SEED.findall(code)
