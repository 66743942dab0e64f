"""Publish one run's outputs together: findings.json, the report cache, the email and the site (with the
slide) appear as one run or not at all.

A run writes everything into staging folders first: the site into `.<site>.partial/` beside the site
folder (see render.py), the build outputs (findings.json, report-cache.pickle, email.html, email.eml,
email/, slide.pdf) into `<build>/.publish-stage/`. Each staged side gets a `run.json` naming the run id
and the sha256 of every file in it; findings.json carries the run id too. Then `publish`:

1. writes the journal `<build>/.publish.json` (run id, staging folders) atomically: the commit point;
2. moves each staged build output over the old one (os.replace; folders by rename), then swaps the site
   in with two renames;
3. removes the journal.

A crash before step 1 leaves the previous run's outputs untouched (the stale staging folders are removed
by the next run). A crash after it leaves a journal: the next run that writes outputs (`build`, `render`,
`analyze`) first finishes the publish (`recover`, roll forward: every step is idempotent), so outputs of
two runs are never left behind once any later run has started. Until then, `check_outputs` (and
`summary`) say which parts differ. All of this runs under the exclusive locks of the site and build folders.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from analysis.errors import InputError
from analysis.report import new_run_id
from analysis.sources.snapshot import file_sha256

__all__ = ["check_outputs", "new_run_id", "publish", "recover", "run_ids"]

JOURNAL_NAME = ".publish.json"
BUILD_STAGE_NAME = ".publish-stage"
RUN_FILE = "run.json"


def site_stage(site_dir: Path) -> Path:
    return Path(site_dir).with_name(f".{Path(site_dir).name}.partial")


def _site_old(site_dir: Path) -> Path:
    return Path(site_dir).with_name(f".{Path(site_dir).name}.old")


def open_build_stage(build_dir: Path) -> Path:
    """An empty staging folder for this run's build outputs (call after `recover`)."""
    stage = Path(build_dir) / BUILD_STAGE_NAME
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    return stage


def _files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != RUN_FILE
    }


def _write_json(path: Path, document: dict[str, Any], mode: int = 0o644) -> None:
    """Write atomically and durably: temp file, fsync, rename, fsync of the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stamp(folder: Path, run_id: str, part: str) -> None:
    """Write `run.json` into a staged folder: the run id and every file's sha256."""
    _write_json(
        Path(folder) / RUN_FILE,
        {"run_id": run_id, "part": part, "files": _files(Path(folder))},
    )


def publish(
    run_id: str, site_staging: Path, site_dir: Path, build_stage: Path, build_dir: Path
) -> None:
    """Stamp both staged sides with `run_id`, commit (journal), then move them into place."""
    stamp(site_staging, run_id, "site")
    stamp(build_stage, run_id, "build")
    journal = {
        "run_id": run_id,
        "site_stage": str(Path(site_staging).absolute()),
        "site_dir": str(Path(site_dir).absolute()),
        "build_stage": BUILD_STAGE_NAME,
    }
    _write_json(Path(build_dir) / JOURNAL_NAME, journal)
    _finish(Path(build_dir), journal)


def _finish(build_dir: Path, journal: dict[str, Any]) -> None:
    """Move every staged output into place; safe to repeat after a crash at any point."""
    stage = build_dir / str(journal["build_stage"])
    if stage.is_dir():
        for source in sorted(stage.iterdir(), key=lambda p: (p.name == RUN_FILE, p.name)):
            target = build_dir / source.name
            if source.is_dir():
                if target.exists():
                    shutil.rmtree(target)
                source.rename(target)
            else:
                os.replace(source, target)
    site_staging, site_dir = Path(journal["site_stage"]), Path(journal["site_dir"])
    old = _site_old(site_dir)
    if site_staging.is_dir():
        if site_dir.exists():
            if old.exists():
                shutil.rmtree(old)
            site_dir.rename(old)
        site_staging.rename(site_dir)
    if old.exists():
        shutil.rmtree(old)
    shutil.rmtree(stage, ignore_errors=True)
    (build_dir / JOURNAL_NAME).unlink(missing_ok=True)
    _fsync_dir(build_dir)


def recover(site_dir: Path, build_dir: Path) -> list[str]:
    """Finish a publish a crash interrupted (journal present), else drop stale staging. Call with the
    output locks held, before writing anything. Returns what was done."""
    build_dir = Path(build_dir)
    path = build_dir / JOURNAL_NAME
    done: list[str] = []
    if path.exists():
        try:
            journal = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(journal, dict) or "run_id" not in journal:
                raise ValueError("not a publish journal")
        except (OSError, ValueError) as exc:  # a torn journal cannot be: it is written by rename
            path.unlink(missing_ok=True)
            done.append(f"removed an unreadable publish journal ({exc})")
        else:
            _finish(build_dir, journal)
            done.append(
                f"finished publishing run {journal['run_id']} (a previous run was interrupted)"
            )
    stale = build_dir / BUILD_STAGE_NAME
    if stale.exists():
        shutil.rmtree(stale, ignore_errors=True)
        done.append(f"removed the unpublished {stale.name} of an interrupted run")
    for note in done:
        print(f"note: {note}", file=sys.stderr)
    return done


def run_ids(site_dir: Path, build_dir: Path) -> dict[str, str | None]:
    """The run id each published output belongs to (None: missing or changed since it was published).

    Keys: findings (findings.json), site (the pages), slide (slide.*), email (email.html and .eml)."""
    site_run = _read_run(Path(site_dir))
    build_run = _read_run(Path(build_dir))
    result: dict[str, str | None] = {}
    try:
        findings = json.loads((Path(build_dir) / "findings.json").read_text(encoding="utf-8"))
        result["findings"] = findings.get("run_id") if isinstance(findings, dict) else None
    except (OSError, ValueError):
        result["findings"] = None

    def intact(run: dict[str, Any] | None, folder: Path, names: list[str]) -> str | None:
        if run is None or not names:
            return None
        files = run.get("files", {})
        for name in names:
            path = folder / name
            if name not in files or not path.is_file() or file_sha256(path) != files[name]:
                return None
        return str(run.get("run_id"))

    site_files = sorted((site_run or {}).get("files", {}))
    result["site"] = intact(
        site_run, Path(site_dir), [n for n in site_files if n.endswith(".html")]
    )
    result["slide"] = intact(
        site_run, Path(site_dir), [n for n in site_files if n.startswith("slide.")]
    )
    result["email"] = intact(build_run, Path(build_dir), ["email.html", "email.eml"])
    return result


def _read_run(folder: Path) -> dict[str, Any] | None:
    try:
        run = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) else None


def check_outputs(site_dir: Path, build_dir: Path) -> str:
    """The run id shared by findings.json, the site, the slide and the email; InputError naming the
    parts that differ (outputs of two runs) or are missing."""
    ids = run_ids(site_dir, build_dir)
    distinct = {value for value in ids.values()}
    if len(distinct) == 1 and None not in distinct:
        return str(distinct.pop())
    shown = ", ".join(f"{part}: {value or 'missing or changed'}" for part, value in ids.items())
    raise InputError(
        f"the outputs in {site_dir} and {build_dir} are not from one run ({shown}); "
        "run `curriculum-insights build` (or `render`) again"
    )
