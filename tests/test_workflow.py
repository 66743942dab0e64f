"""The publish workflow: its structure, its supply chain (pinned actions, least privilege, zizmor with zero
findings) and actionlint when it is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import require

from analysis.config import PROJECT_ROOT, load_config
from analysis.history import history_dir

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "publish.yml"
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}")
# zizmor is in the test lock (requirements/test.txt); it sits beside the interpreter running the tests.
ZIZMOR = Path(sys.executable).with_name("zizmor")


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_triggers(workflow: dict) -> None:
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert "workflow_dispatch" in triggers
    assert triggers["schedule"][0]["cron"].count(" ") == 4


def test_write_permissions_only_on_the_deploy_job(workflow: dict) -> None:
    assert workflow["permissions"] == {}  # nothing granted workflow-wide
    jobs = workflow["jobs"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    for name, job in jobs.items():
        if name != "deploy":
            assert set(job["permissions"].values()) <= {"read", "none"}, name


def test_every_action_is_pinned_to_a_full_commit(workflow: dict) -> None:
    uses = [step["uses"] for step in _steps(workflow) if "uses" in step]
    assert len(uses) >= 8
    for ref in uses:
        assert PINNED.fullmatch(ref), f"{ref}: not pinned to a 40-hex commit"
    # Each pin keeps the tag it was taken from as a comment, for the next update.
    for line in WORKFLOW.read_text(encoding="utf-8").splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40}\s+#\s+v\d+\.\d+\.\d+$", line), line


def test_checkout_keeps_no_credentials(workflow: dict) -> None:
    checkouts = [s for s in _steps(workflow) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_publishing_runner_installs_the_runtime_lock_only(workflow: dict) -> None:
    runs = " ".join(step.get("run", "") for step in _steps(workflow))
    assert "make install" in runs
    assert "pip install" not in runs and "make test" not in runs
    artifacts = [
        s for s in _steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    for (
        step
    ) in artifacts:  # findings.json holds full IPs: never an artifact of the public repository
        assert "findings.json" not in step["with"]["path"]


def test_steps_in_order(workflow: dict) -> None:
    steps = _steps(workflow)
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "") for step in steps]

    def index(predicate) -> int:
        return next(i for i, step in enumerate(steps) if predicate(step))

    checkout = index(lambda s: s.get("uses", "").startswith("actions/checkout"))
    install = index(lambda s: "make install" in s.get("run", ""))
    acquire = index(lambda s: "acquire" in s.get("run", ""))
    quarto = index(lambda s: s.get("uses", "").startswith("quarto-dev/quarto-actions/setup@"))
    build = index(lambda s: "--engine quarto" in s.get("run", ""))
    upload = index(lambda s: s.get("uses", "").startswith("actions/upload-pages-artifact"))
    deploy = index(lambda s: s.get("uses", "").startswith("actions/deploy-pages"))
    assert checkout < install < acquire < build < upload < deploy and quarto < build
    assert any(u.startswith("actions/setup-python") for u in uses)
    assert steps[acquire]["env"]["CURRICULUM_DB_URL"] == "${{ secrets.CURRICULUM_DB_URL }}"
    assert not any("CURRICULUM_DB_URL=" in run for run in runs)  # never inline credentials
    assert steps[upload]["with"]["path"] == "_site"


def test_history_is_kept_between_runs_like_the_snapshot(workflow: dict) -> None:
    """The report history (issue 19) is restored before the build and saved after it, with the snapshot:
    without it every scheduled report would be a first report."""
    steps = _steps(workflow)
    caches = {
        step["with"]["path"]: (index, step)
        for index, step in enumerate(steps)
        if step.get("uses", "").startswith("actions/cache@")
    }
    assert {"data/snapshot", "data/history"} <= set(caches)
    config = load_config(environ={})  # where a build in the runner's checkout keeps them
    assert history_dir(config) == PROJECT_ROOT / "data/history"
    assert config.paths.snapshot_dir == PROJECT_ROOT / "data/snapshot"
    build = next(i for i, s in enumerate(steps) if "curriculum-insights build" in s.get("run", ""))
    for path, (index, step) in caches.items():
        assert index < build, f"{path} must be restored before the build"
        # actions/cache (restore + save) saves in its post step: after the build, and only when the job
        # succeeded (no `if: always()`, no save-always), so a failed build adds no entry
        assert step["uses"].startswith("actions/cache@") and "if" not in step, path
        assert "save-always" not in step["with"], path
        # a key new for every run and re-run (an exact hit is not saved again), found by its prefix
        key, restore = step["with"]["key"], step["with"]["restore-keys"]
        assert key.endswith("${{ github.run_id }}-${{ github.run_attempt }}"), path
        assert key.startswith(restore) and "${{" not in restore, path
    run = steps[build]["run"]
    assert (
        "--no-history" not in run
        and "--data-dir" not in run
        and "CURRICULUM_DATA_DIR" not in str(steps[build].get("env", {}))
    )
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload")]
    for step in uploads:  # the history stays in the cache, it is not published as an artifact
        assert "history" not in str(step["with"]["path"])


KEEP = WORKFLOW.with_name("keep-history.yml")


def test_the_cache_is_touched_between_weekly_runs(workflow: dict) -> None:
    """GitHub removes a cache entry not accessed in over 7 days and publish.yml runs weekly: a daily
    restore of the same paths and prefixes (read only, never a save) keeps the history alive across a late
    or failed run."""
    keep = yaml.safe_load(KEEP.read_text(encoding="utf-8"))
    triggers = keep[True] if True in keep else keep["on"]
    day, month, weekday = triggers["schedule"][0]["cron"].split()[2:]
    assert (day, month, weekday) == ("*", "*", "*"), "at least daily"
    assert keep["permissions"] == {} and all(j["permissions"] == {} for j in keep["jobs"].values())
    restored = {
        step["with"]["path"]: step["with"]["restore-keys"]
        for step in _steps(keep)
        if "uses" in step
    }
    uses = [step["uses"] for step in _steps(keep) if "uses" in step]
    assert all(u.startswith("actions/cache/restore@") and PINNED.fullmatch(u) for u in uses), uses
    published = {
        step["with"]["path"]: step["with"]["restore-keys"]
        for step in _steps(workflow)
        if step.get("uses", "").startswith("actions/cache@")
    }
    assert restored == published


def test_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if not actionlint:
        pytest.skip("actionlint not installed")
    result = subprocess.run([actionlint, str(WORKFLOW), str(KEEP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _zizmor(*paths: Path) -> list[dict]:
    if not ZIZMOR.exists():
        require(False, f"zizmor missing beside {sys.executable} (it is in requirements/test.txt)")
    result = subprocess.run(
        [str(ZIZMOR), "--offline", "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr  # 1x: findings
    return json.loads(result.stdout)


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    findings = _zizmor(*sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml")))
    assert findings == [], [f["ident"] for f in findings]


def test_zizmor_would_catch_the_old_workflow(tmp_path: Path) -> None:
    """The check above can fail: the issue's workflow (tags, workflow-wide write, persisted token)."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: workflow_dispatch\npermissions:\n  pages: write\n  id-token: write\n"
        "jobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - uses: actions/upload-pages-artifact@v3\n"
        "        with:\n          path: .\n"
        "  deploy:\n    needs: build\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/deploy-pages@v4\n",
        encoding="utf-8",
    )
    idents = {finding["ident"] for finding in _zizmor(bad)}
    assert {"unpinned-uses", "artipacked", "excessive-permissions"} <= idents
