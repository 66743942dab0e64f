"""The publish workflow's structure (and actionlint when it is installed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from analysis.config import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "publish.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_triggers(workflow: dict) -> None:
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert "workflow_dispatch" in triggers
    assert triggers["schedule"][0]["cron"].count(" ") == 4


def test_permissions_for_pages(workflow: dict) -> None:
    assert workflow["permissions"]["pages"] == "write"
    assert workflow["permissions"]["id-token"] == "write"


def test_steps_in_order(workflow: dict) -> None:
    steps = _steps(workflow)
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "") for step in steps]

    def index(predicate) -> int:
        return next(i for i, step in enumerate(steps) if predicate(step))

    checkout = index(lambda s: s.get("uses", "").startswith("actions/checkout"))
    install = index(lambda s: "make install" in s.get("run", ""))
    acquire = index(lambda s: "acquire" in s.get("run", ""))
    quarto = index(lambda s: s.get("uses", "").startswith("quarto-dev/quarto-actions/setup@v2"))
    build = index(lambda s: "--engine quarto" in s.get("run", ""))
    upload = index(lambda s: s.get("uses", "").startswith("actions/upload-pages-artifact"))
    deploy = index(lambda s: s.get("uses", "").startswith("actions/deploy-pages"))
    assert checkout < install < acquire < build < upload < deploy and quarto < build
    assert any(u.startswith("actions/setup-python") for u in uses)
    assert steps[acquire]["env"]["CURRICULUM_DB_URL"] == "${{ secrets.CURRICULUM_DB_URL }}"
    assert not any("CURRICULUM_DB_URL=" in run for run in runs)  # never inline credentials
    assert steps[upload]["with"]["path"] == "_site"


def test_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if not actionlint:
        pytest.skip("actionlint not installed")
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
