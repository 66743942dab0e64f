"""Acquire from MySQL/MariaDB (integration tier, marker `mysql`): every test uses its own scratch database
on 127.0.0.1:3306 (root, no password) and drops it afterwards."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from conftest import REFERENCE_COHORTS, require
from polars.testing import assert_frame_equal

from analysis.cli import main
from analysis.errors import SourceError
from analysis.sources.acquire import (
    COHORTS_DDL,
    LOGS_DDL,
    _source_error,
    acquire,
    multiset_surplus,
    normalize_url,
)
from analysis.sources.ingest import import_files
from analysis.sources.snapshot import load_snapshot

mysql = pytest.mark.mysql

HOST, PORT = "127.0.0.1", 3306
SERVER = f"mysql+pymysql://root@{HOST}:{PORT}"

# One inline set for both the file and the tables. The last second holds duplicates (boundary case).
ROWS: list[tuple] = [
    ("2018-01-26", "09:55:03", "/", 1, 8, "97.105.19.61"),
    ("2018-01-26", "09:55:03", "/", 1, 8, "97.105.19.61"),
    ("2018-01-26", "16:46:16", "/", 48, None, "97.105.19.61"),
    ("2018-01-26", "16:46:17", None, 48, None, "97.105.19.61"),
    ("2018-01-27", "08:00:00", "javascript-i", 11, 22, "2001:db8::1"),
    ("2018-01-27", "08:00:01", "java-ii", 12, 22, "300.1.1.1"),  # invalid ip: quarantined
    ("2018-02-01", "10:00:00", "spring", 11, 22, "10.0.0.1"),
    ("2018-02-01", "10:00:00", "spring", 11, 22, "10.0.0.1"),
    ("2018-02-01", "10:00:00", "mysql", 12, 22, "10.0.0.2"),
]


def _server_up() -> bool:
    try:
        import pymysql

        pymysql.connect(host=HOST, port=PORT, user="root", password="", connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A fresh database with `logs` and `cohorts` (the real 53 cohorts); dropped afterwards."""
    require(_server_up(), f"MariaDB/MySQL not reachable on {HOST}:{PORT} (root, no password)")
    import sqlalchemy as sa

    name = f"ci_acquire_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{SERVER}/", poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    engine = sa.create_engine(f"{SERVER}/{name}", poolclass=sa.NullPool)
    cohorts = pl.read_csv(REFERENCE_COHORTS, null_values="NULL", infer_schema=False)
    with engine.begin() as conn:
        conn.execute(sa.text(LOGS_DDL))
        conn.execute(sa.text(COHORTS_DDL))
        conn.execute(
            sa.text(
                "INSERT INTO cohorts VALUES (:id, :name, :slack, :start_date, :end_date, "
                ":created_at, :updated_at, :deleted_at, :program_id)"
            ),
            cohorts.to_dicts(),
        )
    try:
        yield name, engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def _insert(engine, rows: list[tuple]) -> None:
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO logs VALUES (:d, :t, :p, :u, :c, :ip)"),
            [dict(zip(("d", "t", "p", "u", "c", "ip"), row, strict=True)) for row in rows],
        )


def _write_file(path: Path, rows: list[tuple]) -> Path:
    lines = [f"{d} {t} {p or ''} {u} {'' if c is None else c} {ip}" for d, t, p, u, c, ip in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _url(name: str) -> str:
    return f"{SERVER}/{name}"


def _fingerprint(snapshot: Path) -> dict[str, str]:
    return {
        str(path.relative_to(snapshot)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(snapshot.rglob("*"))
        if path.is_file()
    }


def _sorted_logs(snapshot: Path) -> pl.DataFrame:
    return load_snapshot(snapshot).logs.collect().sort(pl.all(), nulls_last=True)


@mysql
def test_acquire_and_import_of_the_same_rows_are_identical(scratch, tmp_path: Path) -> None:
    name, engine = scratch
    _insert(engine, ROWS)
    from_db = acquire(_url(name), tmp_path / "db", progress=False)
    from_file = import_files(
        _write_file(tmp_path / "logs.txt", ROWS), REFERENCE_COHORTS, tmp_path / "file",
        progress=False,
    )  # fmt: skip
    db, file = from_db.manifest, from_file.manifest
    assert db.logs_digest == file.logs_digest
    assert (db.rows, db.users, db.ips, db.cohorts) == (file.rows, file.users, file.ips, 53)
    assert (db.first_seen, db.last_seen) == (file.first_seen, file.last_seen)
    assert db.rows == 8 and db.quarantined_rows == file.quarantined_rows == 1
    assert (db.source, file.source) == ("mysql", "file")
    assert_frame_equal(_sorted_logs(tmp_path / "db"), _sorted_logs(tmp_path / "file"))
    assert_frame_equal(
        load_snapshot(tmp_path / "db").cohorts, load_snapshot(tmp_path / "file").cohorts
    )
    quarantined = load_snapshot(tmp_path / "db").quarantine.row(0, named=True)
    assert quarantined["reason"] == "invalid ip" and quarantined["line"] is None
    assert "2018-01-27 08:00:01" in quarantined["key"] and "300.1.1.1" in quarantined["key"]
    assert from_db.mode == "full" and "read 9 rows" in from_db.describe()


@mysql
def test_incremental_refresh_keeps_boundary_second_rows_once(scratch, tmp_path: Path) -> None:
    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    first = acquire(_url(name), target, progress=False, chunk_size=2)
    assert first.manifest.last_seen == "2018-02-01T10:00:00"
    inode = os.stat(target / "logs" / "part-00000.parquet").st_ino
    later = [
        ("2018-02-01", "10:00:00", "spring", 11, 22, "10.0.0.1"),  # a third copy in the last second
        ("2018-02-01", "10:00:00", "html-css", 13, 22, "10.0.0.3"),  # new row, same second
        # before last_seen: not in the incremental window, found by reconciliation
        ("2018-02-01", "09:59:59", "late-arrival", 13, 22, "10.0.0.3"),
        ("2018-02-02", "11:00:00", "jquery", 12, 22, "10.0.0.2"),
    ]
    _insert(engine, later)
    refresh = acquire(_url(name), target, progress=False, chunk_size=2)
    assert refresh.mode == "incremental"
    # the boundary second (3 old + 2 new rows) and one later row, then the day that differed re-read
    assert refresh.lines_read == 3 + 3 + 6
    assert refresh.new_rows == 4
    assert "1 day(s) differed from the database (2018-02-01: 1 more rows in the database)" in (
        refresh.describe()
    )
    assert "1 late rows added" in refresh.describe()
    assert refresh.quarantined == 0  # the invalid row is not re-quarantined
    assert sorted((target / "logs").glob("*.parquet")) == [
        target / "logs" / "part-00000.parquet",
        target / "logs" / "part-00001.parquet",
    ]
    assert os.stat(target / "logs" / "part-00000.parquet").st_ino == inode  # hard-linked history
    # Same content as a full read of everything, the row inserted behind last_seen included.
    full = acquire(_url(name), tmp_path / "full", full=True, progress=False)
    assert full.mode == "full"
    assert full.manifest.rows == refresh.manifest.rows
    assert full.manifest.logs_digest == refresh.manifest.logs_digest
    assert_frame_equal(_sorted_logs(target), _sorted_logs(tmp_path / "full"))
    # Nothing new: no rows added, digest unchanged, and the report says the two agree.
    again = acquire(_url(name), target, progress=False)
    assert again.new_rows == 0
    assert "the snapshot and its quarantine match the database" in again.describe()
    assert again.manifest.logs_digest == refresh.manifest.logs_digest
    assert again.manifest.quarantined_rows == 1


@mysql
def test_snapshot_from_another_source_forces_a_full_read(scratch, tmp_path: Path) -> None:
    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    import_files(
        _write_file(tmp_path / "logs.txt", ROWS[:3]), REFERENCE_COHORTS, target, progress=False
    )
    report = acquire(_url(name), target, progress=False)
    assert report.mode == "full"
    assert report.manifest.rows == 8 and report.manifest.source == "mysql"


@mysql
def test_server_dying_mid_read_leaves_the_snapshot_intact(scratch, tmp_path: Path) -> None:
    import sqlalchemy as sa

    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    before = _fingerprint(target)
    manifest_text = (target / "manifest.json").read_text()
    bulk = [("2019-03-01", f"{h:02d}:{m:02d}:{s:02d}", f"lesson-{h}-{m}", 100 + s % 7, 22, "10.1.1.1")
            for h in range(24) for m in range(60) for s in range(60)]  # fmt: skip
    _insert(engine, bulk * 2)  # ~170k rows: more than the socket buffers hold
    admin = sa.create_engine(f"{SERVER}/", poolclass=sa.NullPool)
    killed: list[int] = []

    def kill_reader(fetched: int) -> None:
        if killed:
            return
        with admin.begin() as conn:
            ids = conn.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = :db AND info LIKE 'SELECT CAST(%' AND id <> CONNECTION_ID()"
                ),
                {"db": name},
            ).scalars()
            for connection_id in ids:
                conn.execute(sa.text(f"KILL {int(connection_id)}"))
                killed.append(connection_id)

    with pytest.raises(SourceError) as caught:
        acquire(_url(name), target, progress=False, chunk_size=500, on_chunk=kill_reader)
    admin.dispose()
    assert killed, "the reading connection was not found in the process list"
    message = str(caught.value)
    assert f"{HOST}:{PORT}" in message and "snapshot was not changed" in message
    assert _fingerprint(target) == before
    assert (target / "manifest.json").read_text() == manifest_text
    assert not list(tmp_path.glob("snap.tmp-*"))


@mysql
@pytest.mark.filterwarnings("ignore:Previous unbuffered result:UserWarning")
def test_error_raised_during_a_chunk_leaves_the_snapshot_intact(scratch, tmp_path: Path) -> None:
    import pymysql

    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    before = _fingerprint(target)
    _insert(engine, [("2019-01-01", "00:00:00", "x", 1, 1, "1.1.1.1")] * 10)

    def server_gone(fetched: int) -> None:
        raise pymysql.err.OperationalError(2013, "Lost connection to server during query")

    with pytest.raises(SourceError, match=r"cannot reach the MySQL server at 127\.0\.0\.1:3306"):
        acquire(_url(name), target, progress=False, chunk_size=2, on_chunk=server_gone)
    assert _fingerprint(target) == before


@mysql
def test_wrong_password_is_never_shown(scratch, tmp_path: Path, capsys) -> None:
    name, _ = scratch
    secret = "Sup3r-s3cret-pw"
    url = f"mysql+pymysql://root:{secret}@{HOST}:{PORT}/{name}"
    with pytest.raises(SourceError) as caught:
        acquire(url, tmp_path / "snap", progress=False)
    assert secret not in str(caught.value)
    assert "access denied" in str(caught.value) and f"{HOST}:{PORT}" in str(caught.value)
    code = main(["acquire", "--db-url", url, "--data-dir", str(tmp_path / "data"), "-q"])
    captured = capsys.readouterr()
    assert code == 4
    assert secret not in captured.err + captured.out
    assert captured.err.startswith("error: ")


@mysql
def test_password_is_masked_in_the_manifest(scratch, tmp_path: Path) -> None:
    import sqlalchemy as sa

    name, engine = scratch
    _insert(engine, ROWS)
    user, secret = f"u{uuid.uuid4().hex[:8]}", "An0ther-s3cret"
    admin = sa.create_engine(f"{SERVER}/", poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'"))
        conn.execute(sa.text(f"GRANT SELECT ON `{name}`.* TO '{user}'@'%'"))
    try:
        report = acquire(
            f"mysql+pymysql://{user}:{secret}@{HOST}:{PORT}/{name}", tmp_path / "s", progress=False
        )
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        admin.dispose()
    assert report.manifest.rows == 8
    assert secret not in (tmp_path / "s" / "manifest.json").read_text()
    assert secret not in report.describe()
    assert f"{user}:***@{HOST}:{PORT}/{name}" in report.manifest.source_detail


@mysql
def test_unreachable_server_names_host_and_port(tmp_path: Path, capsys) -> None:
    with pytest.raises(SourceError, match=r"cannot reach the MySQL server at 127\.0\.0\.1:1\b"):
        acquire("mysql+pymysql://root@127.0.0.1:1/curriculum_logs", tmp_path / "s", progress=False)
    code = main(
        ["acquire", "--db-url", "mysql://root@127.0.0.1:1/x", "--data-dir", str(tmp_path), "-q"]
    )
    assert code == 4 and "127.0.0.1:1" in capsys.readouterr().err


@mysql
def test_missing_database_and_tables_are_named(scratch, tmp_path: Path) -> None:
    import sqlalchemy as sa

    name, engine = scratch
    with pytest.raises(SourceError, match=r"database 'no_such_db_x' does not exist"):
        acquire(f"{SERVER}/no_such_db_x", tmp_path / "s", progress=False)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE cohorts"))
    with pytest.raises(
        SourceError, match=rf"database '{name}' at 127\.0\.0\.1:3306 lacks .*cohorts"
    ):
        acquire(_url(name), tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists()


@mysql
def test_empty_logs_table_is_a_source_error(scratch, tmp_path: Path) -> None:
    name, _ = scratch
    with pytest.raises(SourceError, match=r"table 'logs' .* is empty"):
        acquire(_url(name), tmp_path / "s", progress=False)


@mysql
def test_an_empty_cohorts_table_is_refused_and_the_snapshot_kept(scratch, tmp_path: Path) -> None:
    import sqlalchemy as sa

    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    before = _fingerprint(target)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM cohorts"))
    with pytest.raises(SourceError, match=r"table 'cohorts' .* has no valid cohorts"):
        acquire(_url(name), target, progress=False)
    assert _fingerprint(target) == before


def test_normalize_url_and_error_messages_hide_the_password() -> None:
    """Unit checks (no server needed): driver default, default database, masked messages."""
    import pymysql

    url = normalize_url("mysql://reader:hunter2-pw@db.example.org:3307")
    assert url.drivername == "mysql+pymysql" and url.database == "curriculum_logs"
    assert url.render_as_string(hide_password=True).startswith("mysql+pymysql://reader:***@")
    echoed = pymysql.err.OperationalError(2003, "Can't connect (password hunter2-pw)")
    message = str(_source_error(echoed, url, "connecting"))
    assert "hunter2-pw" not in message and "db.example.org:3307" in message
    denied = _source_error(pymysql.err.OperationalError(1045, "Access denied"), url, "connecting")
    assert "access denied" in str(denied) and "hunter2-pw" not in str(denied)


def test_multiset_surplus_counts_duplicates() -> None:
    """Unit check of the boundary-second rule (no server needed)."""
    second = dt.datetime(2020, 1, 1)
    old = pl.DataFrame({"t": [second] * 3, "p": ["a", "a", None]})
    new = pl.DataFrame({"t": [second] * 6, "p": ["a", None, "a", "a", None, "b"]})
    surplus = multiset_surplus(new, old, ["t", "p"])
    assert sorted(surplus["p"].fill_null("-").to_list()) == ["-", "a", "b"]


# --- reconciliation, timeouts, URLs, one writer at a time (issue 11) ---------------------------------


def _insert_raw(engine, values_sql: str) -> None:
    """Insert rows the strict SQL mode would refuse (zero dates)."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("SET SESSION sql_mode = ''"))
        conn.execute(sa.text(f"INSERT INTO logs VALUES {values_sql}"))


@mysql
def test_null_and_zero_dates_are_quarantined_on_the_incremental_path(scratch, tmp_path) -> None:
    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    _insert_raw(
        engine,
        "(NULL, '10:00:00', 'no-date', 5, 8, '1.2.3.4'), "
        "('0000-00-00', '10:00:01', 'zero-date', 5, 8, '1.2.3.4'), "
        "('2018-01-26', NULL, 'no-time', 5, 8, '1.2.3.4')",
    )
    refresh = acquire(_url(name), target, progress=False)
    quarantine = load_snapshot(target).quarantine
    raws = quarantine["raw"].to_list()
    assert any(raw.startswith("NULL 10:00:00 no-date") for raw in raws)
    assert any(raw.startswith("0000-00-00 10:00:01 zero-date") for raw in raws)
    assert any(raw.startswith("2018-01-26 NULL no-time") for raw in raws)
    assert refresh.quarantined == 3 and "differed from the database" in refresh.describe()
    full = acquire(_url(name), tmp_path / "full", full=True, progress=False)
    assert full.manifest.quarantined_rows == refresh.manifest.quarantined_rows == 4
    again = acquire(_url(name), target, progress=False)  # nothing to add the second time
    assert again.quarantined == 0 and again.new_rows == 0
    assert "match the database" in again.describe()


@mysql
def test_rows_deleted_in_the_database_replace_their_day(scratch, tmp_path: Path) -> None:
    import sqlalchemy as sa

    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM logs WHERE user_id = 48"))
    refresh = acquire(_url(name), target, progress=False)
    assert refresh.mode == "incremental" and refresh.manifest.rows == 6
    assert "2018-01-26: 2 rows fewer in the database" in refresh.describe()
    assert "2 rows changed or deleted in the database replaced" in refresh.describe()
    _assert_same_as_a_full_read(name, target, tmp_path)


def _assert_same_as_a_full_read(name: str, target: Path, tmp_path: Path) -> None:
    full_dir = tmp_path / f"full-{uuid.uuid4().hex[:6]}"
    full = acquire(_url(name), full_dir, full=True, progress=False)
    assert load_snapshot(target).manifest.logs_digest == full.manifest.logs_digest
    assert_frame_equal(_sorted_logs(target), _sorted_logs(full_dir))
    assert_frame_equal(
        load_snapshot(target).quarantine.sort(pl.all()),
        load_snapshot(full_dir).quarantine.sort(pl.all()),
    )
    again = acquire(_url(name), target, progress=False)
    assert "match the database, row by row" in again.describe()


@mysql
@pytest.mark.parametrize("charset", ["utf8mb4", "latin1"])
def test_non_ascii_paths_and_ip_spellings_match_row_by_row(scratch, tmp_path, charset) -> None:
    """The digest codes a path by its UTF-8 bytes whatever the column's character set, and an IP by
    its address, so rows stored in another spelling than the snapshot's still match."""
    import sqlalchemy as sa

    name, engine = scratch
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE logs MODIFY path VARCHAR(255) CHARACTER SET {charset}"))
    rows = [
        *ROWS,
        ("2018-01-28", "08:00:00", "café/résumé", 11, 22, "2001:DB8::1"),
        ("2018-01-28", "08:00:01", "", 11, 22, "::ffff:10.0.0.1"),
        ("2018-01-28", "08:00:02", "a path with spaces", 11, 22, "not-an-ip"),
    ]
    _insert(engine, rows)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    again = acquire(_url(name), target, progress=False)
    assert "match the database, row by row" in again.describe(), again.describe()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE logs SET path = 'café/résumé-2' WHERE path = 'café/résumé'"))
    edited = acquire(_url(name), target, progress=False)
    assert "2018-01-28: same row count, different content" in edited.describe()
    _assert_same_as_a_full_read(name, target, tmp_path)


# Edits in the database that keep each day's row count and summed seconds (issue 18): the per-day
# content digest must see every one, re-read the day and end equal to a full read.
EDITS = {
    "path": ["UPDATE logs SET path = 'edited' WHERE user_id = 48 AND time = '16:46:16'"],
    "ip": ["UPDATE logs SET ip = '97.105.19.62' WHERE user_id = 48 AND time = '16:46:16'"],
    "user id": ["UPDATE logs SET user_id = 49 WHERE user_id = 48 AND time = '16:46:16'"],
    "cohort id": ["UPDATE logs SET cohort_id = 9 WHERE user_id = 48 AND time = '16:46:16'"],
    "delete + insert in the same second": [
        "DELETE FROM logs WHERE user_id = 48 AND time = '16:46:16'",
        "INSERT INTO logs VALUES ('2018-01-26', '16:46:16', 'other', 50, 8, '10.9.9.9')",
    ],
    "times shifted +10 s and -10 s": [
        "UPDATE logs SET time = '16:46:26' WHERE user_id = 48 AND time = '16:46:16'",
        "UPDATE logs SET time = '16:46:07' WHERE user_id = 48 AND time = '16:46:17'",
    ],
    "two rows swap their paths": [
        "UPDATE logs SET path = 'javascript-i' WHERE user_id = 12 AND path = 'java-ii'",
        "UPDATE logs SET path = 'java-ii' WHERE user_id = 11 AND path = 'javascript-i'",
    ],
    "an invalid ip fixed": ["UPDATE logs SET ip = '10.0.0.9' WHERE ip = '300.1.1.1'"],
}


@mysql
@pytest.mark.parametrize("edit", list(EDITS))
def test_edits_that_keep_counts_are_seen_and_their_day_re_read(scratch, tmp_path, edit) -> None:
    import sqlalchemy as sa

    name, engine = scratch
    _insert(engine, ROWS)
    target = tmp_path / "snap"
    acquire(_url(name), target, progress=False)
    with engine.begin() as conn:
        for statement in EDITS[edit]:
            assert conn.execute(sa.text(statement)).rowcount == 1
    refresh = acquire(_url(name), target, progress=False)
    described = refresh.describe()
    assert "match the database" not in described
    assert "1 day(s) differed from the database" in described
    assert "same row count, different content" in described
    assert "the snapshot was rewritten" in described
    # only rows newly quarantined are counted: the invalid-IP row whose path was swapped is one
    assert refresh.quarantined == (1 if edit == "two rows swap their paths" else 0)
    _assert_same_as_a_full_read(name, target, tmp_path)


@mysql
def test_two_concurrent_incremental_acquires_store_each_row_once(scratch, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from analysis.sources.locking import locked

    name, engine = scratch
    _insert(engine, ROWS)
    data = tmp_path / "data"
    acquire(_url(name), data / "snapshot", progress=False)
    bulk = [("2019-03-01", f"{h:02d}:{m:02d}:00", f"l-{h}", 100 + m % 7, 22, "10.1.1.1")
            for h in range(24) for m in range(60)]  # fmt: skip
    _insert(engine, bulk)
    env = dict(os.environ)
    command = [sys.executable, "-m", "analysis", "acquire", "--db-url", _url(name), "--data-dir",
               str(data), "-q"]  # fmt: skip
    logs = [tmp_path / f"err-{i}.txt" for i in range(2)]
    with locked(data / "snapshot"):  # both start while a third writer holds the lock
        runs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"), env=env)
                for log in logs]  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            "waiting for another run holding" in log.read_text() for log in logs
        ):
            time.sleep(0.2)
    codes = [run.wait(timeout=120) for run in runs]
    errors = [log.read_text() for log in logs]
    assert codes == [0, 0], errors
    assert all("waiting for another run holding" in err for err in errors)
    manifest = load_snapshot(data / "snapshot").manifest
    assert manifest.rows == 8 + len(bulk)  # every row once
    full = acquire(_url(name), tmp_path / "full", full=True, progress=False)
    assert manifest.logs_digest == full.manifest.logs_digest


def hold_lock(folder: Path):
    """Hold `folder`'s exclusive lock from another thread (a lock is re-entrant within one thread)."""
    import contextlib
    import threading

    from analysis.sources.locking import locked

    @contextlib.contextmanager
    def holding():
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:
            with locked(folder):
                taken.set()
                release.wait(60)

        thread = threading.Thread(target=hold, daemon=True)
        thread.start()
        taken.wait(10)
        try:
            yield
        finally:
            release.set()
            thread.join(10)

    return holding()


@mysql
def test_no_wait_fails_at_once_with_exit_6_while_another_run_writes(scratch, tmp_path, capsys):
    name, engine = scratch
    _insert(engine, ROWS)
    data = tmp_path / "data"
    with hold_lock(data / "snapshot"):
        args = ["acquire", "--db-url", _url(name), "--data-dir", str(data), "-q", "--no-wait"]
        code = main(args)
    err = capsys.readouterr().err
    assert code == 6
    assert err.startswith("error: another run holds") and str(data / ".snapshot.lock") in err
    assert f"(pid {os.getpid()})" in err


def test_a_stalled_server_gives_one_line_and_exit_4_not_a_hang(tmp_path: Path, capsys) -> None:
    """A fake server on 127.0.0.1 accepts connections and never answers."""
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: [accepted.append(server.accept()[0]) for _ in range(4)],
                     daemon=True).start()  # fmt: skip
    config = tmp_path / "c.toml"
    config.write_text("[acquire]\nconnect_timeout_seconds = 1\nread_timeout_seconds = 1\n")
    started = time.monotonic()
    code = main(["acquire", "--db-url", f"mysql://root@127.0.0.1:{port}/x", "--config",
                 str(config), "--data-dir", str(tmp_path / "d"), "-q"])  # fmt: skip
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    server.close()
    assert code == 4 and elapsed < 15
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "Traceback" not in err


SECRET = "p@ss-W0rd/with:odd#chars"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://root:pw@127.0.0.1:notaport/db", "the port is not a number"),
        ("postgresql://root:pw@127.0.0.1/db", "only MySQL/MariaDB is supported"),
        ("sqlite:///tmp/x.db", "not sqlite://"),
        ("mysql+nodriver://root:pw@127.0.0.1/db", "driver 'nodriver' is not supported"),
        ("mysql://root:pw@127.0.0.1/db?charset=klingon", "unknown charset 'klingon'"),
        ("mysql://root:pw@127.0.0.1/db?frobnicate=1", "unknown option(s) frobnicate"),
        ("mysql://root:pw@127.0.0.1:99999/db", "port 99999 is out of range"),
        ("not a url", "is not a valid URL"),
        (f"mysql://root:{SECRET}@127.0.0.1:3306/db", "percent-encode an '@'"),
    ],
)
def test_bad_database_urls_are_one_line_and_exit_2(tmp_path, capsys, url, fragment) -> None:
    code = main(["acquire", "--db-url", url, "--data-dir", str(tmp_path), "-q"])
    captured = capsys.readouterr()
    assert code == 2 and fragment in captured.err
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out
    if SECRET in url:  # the password never shows, in any form or part
        shown = captured.err + captured.out
        pieces = {SECRET[i : i + 3] for i in range(len(SECRET) - 2)}
        assert not [piece for piece in pieces if piece in shown]


def test_password_is_masked_in_every_spelling() -> None:
    from analysis.sources.acquire import mask_secret

    url = normalize_url("mysql://u:a%2Fb%20c@h/db")
    assert url.password == "a/b c"
    assert mask_secret("x a/b c y a%2Fb%20c z a%2Fb+c", url) == "x *** y *** z ***"


@mysql
def test_disk_full_during_a_full_acquire_is_one_line_and_exit_5(
    scratch, tmp_path, capsys, monkeypatch
):
    name, engine = scratch
    _insert(engine, ROWS)
    data = tmp_path / "data"
    acquire(_url(name), data / "snapshot", progress=False)
    before = _fingerprint(data / "snapshot")

    def full_disk(self, path, *args, **kwargs):  # as polars reports it (see test_cli_errors)
        raise pl.exceptions.ComputeError(
            "parquet: underlying IO error: No space left on device (os error 28)"
        )

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full_disk)
    code = main(["acquire", "--full", "--db-url", _url(name), "--data-dir", str(data), "-q"])
    err = capsys.readouterr().err
    assert code == 5 and "the disk is full" in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert _fingerprint(data / "snapshot") == before
