"""One writer at a time: the data and output locks, crash recovery of the snapshot and the site swap."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import polars as pl
import pytest

from analysis.errors import LockedError
from analysis.schema import LOG_SCHEMA
from analysis.sources.locking import holds, lock_path, locked, repair_swap
from analysis.sources.snapshot import load_snapshot, read_manifest, write_snapshot


def _logs(n: int, start: int = 0) -> pl.DataFrame:
    import datetime as dt

    return pl.DataFrame(
        {
            "timestamp": [
                dt.datetime(2020, 1, 1) + dt.timedelta(seconds=start + i) for i in range(n)
            ],
            "path": [f"lesson-{i}" for i in range(n)],
            "user_id": list(range(start, start + n)),
            "cohort_id": [1] * n,
            "ip": ["10.0.0.1"] * n,
        },
        schema=LOG_SCHEMA,
    )


def _cohorts() -> pl.DataFrame:
    from analysis.schema import COHORT_SCHEMA

    return pl.DataFrame(schema=COHORT_SCHEMA)


def _write(target: Path, logs: pl.DataFrame, base: Path | None = None):
    return write_snapshot(target, logs, _cohorts(), None, source="test", simulated=False, base=base)


@contextlib.contextmanager
def held_elsewhere(folder: Path, *, exclusive: bool = True):
    """Hold `folder`'s lock from another thread (locks are re-entrant within one thread)."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with locked(folder, exclusive=exclusive):
            taken.set()
            release.wait(60)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def test_a_second_writer_fails_at_once_without_wait_and_names_the_holder(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    with held_elsewhere(target), pytest.raises(LockedError) as caught, locked(target, wait=False):
        pass
    message = str(caught.value)
    assert str(lock_path(target)) in message and f"(pid {os.getpid()})" in message
    assert caught.value.exit_code == 6
    with locked(target, wait=False):  # released: free again
        assert holds(target) is True
    assert holds(target) is None


def test_a_waiting_writer_says_so_and_proceeds_when_released(tmp_path: Path, capsys) -> None:
    target = tmp_path / "snapshot"
    order: list[str] = []
    with held_elsewhere(target):
        thread = threading.Thread(target=lambda: order.append(_write(target, _logs(3)).source))
        thread.start()
        thread.join(1.0)
        assert thread.is_alive() and order == []  # waiting, not writing
        order.append("released")
    thread.join(30)
    assert order == ["released", "test"]
    assert f"waiting for another run holding {lock_path(target)}" in capsys.readouterr().err


def test_readers_share_the_lock_and_keep_writers_out(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    _write(target, _logs(3))
    with held_elsewhere(target, exclusive=False):
        with locked(target, exclusive=False, wait=False):  # a second reader is fine
            pass
        # a writer would swap the snapshot under the reader
        with pytest.raises(LockedError), locked(target, wait=False):
            pass


def test_two_writers_racing_both_succeed_one_after_the_other(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    _write(target, _logs(2))
    errors: list[BaseException] = []

    def refresh(start: int) -> None:
        try:
            for round_ in range(3):
                _write(target, _logs(5, start + 10 * round_), base=target)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=refresh, args=(1000 * (i + 1),)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    snapshot = load_snapshot(target, verify=True)
    assert snapshot.manifest.rows == 2 + 2 * 3 * 5 == snapshot.logs.collect().height
    assert snapshot.manifest.generation == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == [".snapshot.lock", "snapshot"]


def _fake_state(folder: Path, rows: int, generation: int) -> None:
    """A complete snapshot folder of `rows` rows with the given generation."""
    _write(folder, _logs(rows))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["generation"] = generation
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_recovery_restores_the_newest_state_by_generation_never_by_name(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    # Two crashes between the renames: names sort as text ("old-99999" > "old-100"), ages do not.
    _fake_state(tmp_path / "snapshot.old-99999", 1, generation=1)
    _fake_state(tmp_path / "snapshot.old-100", 2, generation=2)
    assert read_manifest(target).rows == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["snapshot"]


def test_recovery_prefers_a_complete_staging_folder_when_the_swap_was_cut(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    _fake_state(tmp_path / "snapshot.old-7", 1, generation=4)
    _fake_state(tmp_path / "snapshot.tmp-7", 3, generation=5)  # manifest written: complete
    (tmp_path / "snapshot.tmp-8" / "logs").mkdir(parents=True)  # incomplete: no manifest
    assert read_manifest(target).rows == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["snapshot"]


def test_stale_staging_folders_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    _write(target, _logs(2))
    for name in ("snapshot.tmp-123", "snapshot.old-456"):
        (tmp_path / name / "logs").mkdir(parents=True)
    _write(target, _logs(1, 50), base=target)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["snapshot"]
    assert read_manifest(target).rows == 3


KILL_BETWEEN_RENAMES = """
import os, sys
from pathlib import Path
import polars as pl
sys.path.insert(0, {tests!r})
from test_locking import _write, _logs
renames = []
original = Path.rename
def rename(self, target):
    renames.append(self)
    if len(renames) == 2:  # the second rename of the swap: the process dies here
        os._exit(137)
    return original(self, target)
Path.rename = rename
_write(Path({target!r}), _logs(4, 100), base=Path({target!r}))
"""


def test_a_writer_killed_between_the_renames_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    _write(target, _logs(2))
    script = KILL_BETWEEN_RENAMES.format(tests=str(Path(__file__).parent), target=str(target))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, check=False)
    assert killed.returncode == 137
    assert not target.exists()  # the kill left the old state aside and the new one staged
    assert read_manifest(target).rows == 6  # the newest complete state comes back
    assert load_snapshot(target, verify=True).logs.collect().height == 6
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["snapshot"]


def test_an_interrupted_site_swap_is_repaired_by_the_next_run(tmp_path: Path, config) -> None:
    from analysis.publish.render import _holding_outputs, _swap

    site = config.paths.site_dir
    old = site.with_name(f".{site.name}.old")
    old.mkdir(parents=True)
    (old / "index.html").write_text("previous site")  # killed between the renames: no _site
    seen = _holding_outputs(lambda cfg: (cfg.paths.site_dir / "index.html").read_text())(config)
    assert seen == "previous site" and not old.exists()
    # _swap itself repairs first, then swaps
    site.rename(old)
    staging = tmp_path / ".partial"
    staging.mkdir()
    (staging / "index.html").write_text("new site")
    _swap(staging, site)
    assert (site / "index.html").read_text() == "new site" and not old.exists()
    assert repair_swap(site, old) is False


def _small_log(path: Path, users: int) -> int:
    """A small valid log (cohorts of the reference table); returns its row count."""
    import datetime as dt

    lines = [
        f"{dt.datetime(2019, 3, 1) + dt.timedelta(hours=i):%Y-%m-%d %H:%M:%S} "
        f"javascript-i/lesson-{i % 9} {100 + i % users} {[22, 23, 59][i % 3]} 10.0.{i % users}.1"
        for i in range(40 * users)
    ]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


@pytest.mark.render
@pytest.mark.slow
def test_two_concurrent_builds_both_succeed_and_the_site_is_one_runs(tmp_path: Path) -> None:
    from analysis.config import PROJECT_ROOT
    from analysis.publish.site import SITE_PAGES

    cohorts = PROJECT_ROOT / "data" / "reference" / "cohorts.csv"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[paths]\nsite_dir = "{tmp_path / "_site"}"\nbuild_dir = "{tmp_path / "_build"}"\n'
    )
    rows = {}
    runs = []
    for name, users in (("a", 5), ("b", 7)):
        log = tmp_path / f"{name}.log"
        rows[name] = _small_log(log, users)
        command = [sys.executable, "-m", "analysis", "build", "--logs", str(log), "--cohorts",
                   str(cohorts), "--config", str(config), "--data-dir", str(tmp_path / "data"),
                   "--engine", "pandoc", "-q"]  # fmt: skip
        runs.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = [run.communicate(timeout=900) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    site = tmp_path / "_site"
    for source in SITE_PAGES:
        assert (site / source.replace(".qmd", ".html")).is_file(), source
    assert (site / "slide.html").is_file()
    findings = json.loads((tmp_path / "_build" / "findings.json").read_text())
    assert findings["dataset"]["rows"] in rows.values()
    manifest = read_manifest(tmp_path / "data" / "snapshot")
    assert (
        findings["dataset"]["logs_digest"] == manifest.logs_digest
    )  # outputs from the last writer
    assert not [p for p in tmp_path.iterdir() if p.name.endswith((".partial", ".old"))]


def test_a_reader_of_a_folder_where_no_lock_file_can_be_created_still_reads(
    tmp_path: Path, monkeypatch
) -> None:
    import errno

    target = tmp_path / "snapshot"
    _write(target, _logs(2))
    lock_path(target).unlink()
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with locked(target, exclusive=False):
        assert read_manifest(target).rows == 2
    with pytest.raises(Exception, match="cannot create the lock file"), locked(target):
        pass


# --- one run's outputs together (issue 18) ----------------------------------------------------------------


class Killed(BaseException):
    """Stands for kill -9: no handler of the code under test runs."""


def _stage_run(config, run: str) -> tuple[Path, Path]:
    """Staged outputs of run `run` (site with slide, build with findings and email), as render leaves them."""
    from analysis.publish import outputs

    site_stage = outputs.site_stage(config.paths.site_dir)
    site_stage.mkdir(parents=True)
    for name in ("index.html", "questions/q1.html", "slide.html", "slide.pptx", "slide.png"):
        (site_stage / name).parent.mkdir(parents=True, exist_ok=True)
        (site_stage / name).write_text(f"{name} of {run}")
    config.paths.build_dir.mkdir(parents=True, exist_ok=True)
    build_stage = outputs.open_build_stage(config.paths.build_dir)
    (build_stage / "findings.json").write_text(json.dumps({"run_id": run}))
    for name in ("email.html", "email.eml", "report-cache.pickle", "email/chart.png"):
        (build_stage / name).parent.mkdir(parents=True, exist_ok=True)
        (build_stage / name).write_text(f"{name} of {run}")
    return site_stage, build_stage


def _publish(config, run: str) -> None:
    from analysis.publish import outputs

    site_stage, build_stage = _stage_run(config, run)
    outputs.publish(run, site_stage, config.paths.site_dir, build_stage, config.paths.build_dir)


def _published_contents(config) -> set[str]:
    """Which run each published file's content comes from."""
    runs = set()
    for folder in (config.paths.site_dir, config.paths.build_dir):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".html", ".eml", ".pptx", ".png", ".pickle"):
                runs.add(path.read_text().rsplit(" of ", 1)[1])
    runs.add(json.loads((config.paths.build_dir / "findings.json").read_text())["run_id"])
    return runs


def test_a_publish_killed_at_each_step_leaves_one_run_once_the_next_run_starts(
    config, monkeypatch
) -> None:
    """Kill the publish at every rename (the output steps), then start the next run: findings.json,
    the site, the slide and the email carry one run id: the old run's before the journal is written,
    the new run's after."""
    from analysis.publish import outputs

    real_replace, real_rename = os.replace, Path.rename
    step = 0
    while True:
        step += 1
        for folder in (config.paths.site_dir, config.paths.build_dir):
            shutil.rmtree(folder, ignore_errors=True)
        for leftover in config.paths.site_dir.parent.glob(".*site*"):
            shutil.rmtree(leftover, ignore_errors=True)
        _publish(config, "old")
        assert outputs.check_outputs(config.paths.site_dir, config.paths.build_dir) == "old"
        calls = 0

        def dying(real, kill_at: int = step):
            def call(*args, **kwargs):
                nonlocal calls
                calls += 1
                if calls == kill_at:
                    raise Killed
                return real(*args, **kwargs)

            return call

        monkeypatch.setattr(os, "replace", dying(real_replace))
        monkeypatch.setattr(Path, "rename", dying(real_rename))
        try:
            _publish(config, "new")
            finished = True
        except Killed:
            finished = False
        monkeypatch.setattr(os, "replace", real_replace)
        monkeypatch.setattr(Path, "rename", real_rename)
        committed = (config.paths.build_dir / outputs.JOURNAL_NAME).exists()
        outputs.recover(config.paths.site_dir, config.paths.build_dir)  # the next run starts
        expected = "new" if finished or committed else "old"
        assert outputs.check_outputs(config.paths.site_dir, config.paths.build_dir) == expected
        assert _published_contents(config) == {expected}, step
        assert not (config.paths.build_dir / outputs.BUILD_STAGE_NAME).exists()
        if finished:
            break
    assert step > 8  # every rename of the publish was a kill point


def test_check_outputs_names_parts_of_another_run(config) -> None:
    from analysis.errors import InputError
    from analysis.publish import outputs

    _publish(config, "old")
    (config.paths.build_dir / "email.eml").write_text("edited by hand")
    with pytest.raises(InputError, match=r"email: missing or changed"):
        outputs.check_outputs(config.paths.site_dir, config.paths.build_dir)


def test_findings_json_with_full_addresses_is_private_and_carries_a_run_id(
    tmp_path: Path, capsys
) -> None:
    import stat

    from conftest import REFERENCE_COHORTS

    from analysis.cli import main

    log = tmp_path / "in.log"
    _small_log(log, users=6)
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["--data-dir", str(data), "-q"]
    assert main(["import", "--logs", str(log), "--cohorts", str(REFERENCE_COHORTS), *args]) == 0
    assert main(["analyze", "--out", str(out), *args]) == 0
    path = out / "findings.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", json.loads(path.read_text())["run_id"])


@pytest.mark.render
def test_a_real_build_killed_while_publishing_then_one_run_id_everywhere(tmp_path: Path) -> None:
    """`build` killed with os._exit at an output step of its publish (before the commit, in the middle
    of the moves); the next `render` leaves findings.json, the site, the slide and the email of one run."""
    from analysis.config import PROJECT_ROOT
    from analysis.publish.outputs import check_outputs, run_ids

    cohorts = PROJECT_ROOT / "data" / "reference" / "cohorts.csv"
    site, build = tmp_path / "_site", tmp_path / "_build"
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nsite_dir = "{site}"\nbuild_dir = "{build}"\n')
    common = [
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        "--engine",
        "pandoc",
        "-q",
    ]
    log = tmp_path / "a.log"
    _small_log(log, 5)
    build_args = ["build", "--logs", str(log), "--cohorts", str(cohorts), *common]
    first = subprocess.run(
        [sys.executable, "-m", "analysis", *build_args], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    old = check_outputs(site, build)
    script = """
        import os, sys
        from pathlib import Path
        from analysis.publish import outputs
        from analysis.cli import main
        kill_at, calls, real_publish = int(sys.argv[1]), [0], outputs.publish
        real_replace, real_rename = os.replace, Path.rename
        def dying(real):
            def call(*args, **kwargs):
                calls[0] += 1
                if calls[0] == kill_at:
                    os._exit(137)
                return real(*args, **kwargs)
            return call
        def publish(*args, **kwargs):
            os.replace, Path.rename = dying(real_replace), dying(real_rename)
            return real_publish(*args, **kwargs)
        outputs.publish = publish
        sys.exit(main(sys.argv[2:]))
    """
    # publish: 1-2 stamp run.json, 3 the journal (commit), 4.. moves (email/, email.eml, email.html, ...)
    for kill_at, committed in ((1, False), (7, True)):
        killed = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), str(kill_at), *build_args],
            capture_output=True, text=True,
        )  # fmt: skip
        assert killed.returncode == 137, killed.stderr
        ids = run_ids(site, build)
        if committed:
            assert set(ids.values()) != {old}  # the email moved, findings.json not yet
        else:
            assert check_outputs(site, build) == old  # nothing of the killed run was published
        nxt = subprocess.run(
            [sys.executable, "-m", "analysis", "render", *common], capture_output=True, text=True
        )
        assert nxt.returncode == 0, nxt.stderr
        assert ("finished publishing run" in nxt.stderr) is committed
        now = check_outputs(site, build)  # findings, site, slide and email: one run
        assert now != old
        old = now
        assert not list(build.glob(".publish*"))
        assert not [p for p in tmp_path.iterdir() if p.name.endswith((".partial", ".old"))]
