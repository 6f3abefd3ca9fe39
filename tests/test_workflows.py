"""The GitHub workflows: valid against GitHub's workflow schema (vendored by check-jsonschema, so
the check runs offline), and saying what the README promises: `make test` on every push and pull
request, the built book published to Pages from main only, and a weekly Colab-like run of every
notebook from the installed wheel in an empty folder."""

import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def validate(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True)


def load(name: str) -> dict:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_the_workflows_are_valid_against_the_schema():
    assert [p.name for p in WORKFLOWS] == ["book.yml", "colab-like.yml"]
    result = validate(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validation_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: broken\non: push\njobs:\n  test:\n    steps:\n      - run: make test\n")  # no runs-on
    assert validate(broken).returncode != 0


def test_every_push_is_tested_and_main_is_published():
    workflow = load("book.yml")
    assert workflow["on"]["push"]["branches"] == ["main"] and "pull_request" in workflow["on"]
    test, publish = workflow["jobs"]["test"], workflow["jobs"]["publish"]
    assert "make test" in runs(test)
    assert test["env"]["TORCH_INDEX"].startswith("https://download.pytorch.org/whl/cpu")
    assert test["timeout-minutes"] <= 90
    pages = next(s for s in test["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert pages["with"]["path"] == "_build/html"
    assert "refs/heads/main" in pages["if"] and "refs/heads/main" in publish["if"]
    assert publish["needs"] == "test" and "actions/deploy-pages" in uses(publish)
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}


def test_the_colab_like_run_uses_the_wheel_from_an_empty_folder():
    workflow = load("colab-like.yml")
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["notebooks"]
    install, notebooks = job["steps"][2], job["steps"][3]
    assert "ipywidgets<8" in install["run"] and "pip install dist/dltheory-*.whl" in install["run"]
    assert "-e ." not in install["run"]  # the wheel, as Colab installs it, not the source tree
    assert notebooks["working-directory"] == "${{ runner.temp }}"
    assert "tools/seed_sweep.py" in notebooks["run"] and "book/*/*.ipynb" in notebooks["run"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_major_version(path):
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        for action in (step["uses"] for step in job.get("steps", []) if "uses" in step):
            assert "@v" in action, f"{path.name}: {action} is not pinned to a release"
