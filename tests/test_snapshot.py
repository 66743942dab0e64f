"""The snapshot writer: chunked parts, digests that do not depend on chunking, refresh by hard links."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from analysis.schema import COHORT_SCHEMA, LOG_SCHEMA, QUARANTINE_SCHEMA
from analysis.sources.snapshot import load_snapshot, logs_digest, read_manifest, write_snapshot

T = dt.datetime(2021, 3, 1, 9, 0, 0)


def _logs(n: int, start: int = 0) -> pl.DataFrame:
    rows = [
        (T + dt.timedelta(minutes=(i * 37) % 500), f"lesson-{i % 5}", i % 11, 1, f"10.0.0.{i % 7}")
        for i in range(start, start + n)
    ]
    return pl.DataFrame(rows, schema=LOG_SCHEMA, orient="row")


def _cohorts() -> pl.DataFrame:
    return pl.DataFrame(schema=COHORT_SCHEMA)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(target: Path, logs, **kwargs):
    return write_snapshot(target, logs, _cohorts(), None, source="test", simulated=False, **kwargs)


def test_chunks_become_parts_with_the_digest_of_the_whole(tmp_path: Path) -> None:
    whole = _logs(300)
    one = _write(tmp_path / "one", whole)
    many = _write(
        tmp_path / "many", iter([whole[:100], whole[100:100], whole[100:250], whole[250:]])
    )
    assert many.logs_digest == one.logs_digest == logs_digest(whole)
    assert (many.rows, many.users, many.ips) == (one.rows, one.users, one.ips) == (300, 11, 7)
    assert sorted(f for f in many.files if f.startswith("logs/")) == [
        "logs/part-00000.parquet",
        "logs/part-00001.parquet",
        "logs/part-00002.parquet",
    ]  # the empty chunk wrote nothing
    snapshot = load_snapshot(tmp_path / "many", verify=True)
    assert snapshot.logs.collect().sort(list(LOG_SCHEMA)).equals(whole.sort(list(LOG_SCHEMA)))


def test_an_empty_snapshot_still_has_one_part(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "s", iter([]))
    assert manifest.rows == 0 and manifest.logs_digest == logs_digest(
        pl.DataFrame(schema=LOG_SCHEMA)
    )
    assert load_snapshot(tmp_path / "s", verify=True).logs.collect().schema == pl.Schema(LOG_SCHEMA)


def test_quarantine_may_be_a_callable_read_after_the_chunks(tmp_path: Path) -> None:
    seen: list[int] = []

    def chunks():
        for start in (0, 50):
            seen.append(start)
            yield _logs(50, start)

    def quarantine() -> pl.DataFrame:
        assert seen == [0, 50]  # asked for only once every chunk is written
        return pl.DataFrame(
            [("f", 3, None, "x", "bad date")], schema=QUARANTINE_SCHEMA, orient="row"
        )

    manifest = write_snapshot(
        tmp_path / "s", chunks(), _cohorts(), quarantine, source="test", simulated=False
    )
    assert manifest.quarantined_rows == 1 and manifest.rows == 100


def test_refresh_links_old_parts_and_carries_their_checksums(tmp_path: Path) -> None:
    base = tmp_path / "base"
    first = _write(base, iter([_logs(100), _logs(100, 100)]))
    old_parts = {p.name: p.stat().st_ino for p in (base / "logs").glob("*.parquet")}
    # A checksum the writer could not have computed from the file: proof it was carried, not re-read.
    manifest_path = base / "manifest.json"
    text = manifest_path.read_text()
    real = first.files["logs/part-00000.parquet"]
    manifest_path.write_text(text.replace(real, "carried-over"))
    target = tmp_path / "new"
    refreshed = _write(target, _logs(20, 200), base=base)
    assert refreshed.files["logs/part-00000.parquet"] == "carried-over"
    assert refreshed.files["logs/part-00001.parquet"] == first.files["logs/part-00001.parquet"]
    assert refreshed.files["logs/part-00002.parquet"] == _sha(
        target / "logs" / "part-00002.parquet"
    )
    assert {p.name: p.stat().st_ino for p in (target / "logs").glob("*.parquet")} == {
        **old_parts,
        "part-00002.parquet": (target / "logs" / "part-00002.parquet").stat().st_ino,
    }
    assert refreshed.logs_digest == logs_digest(_logs(220))
    assert refreshed.rows == 220


def test_refresh_with_no_new_rows_adds_no_part(tmp_path: Path) -> None:
    base = tmp_path / "base"
    first = _write(base, _logs(30))
    again = _write(tmp_path / "new", _logs(0), base=base)
    assert again.logs_digest == first.logs_digest
    assert [f for f in again.files if f.startswith("logs/")] == ["logs/part-00000.parquet"]


def test_a_failing_chunk_source_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "s"
    before = _write(target, _logs(10))

    def chunks():
        yield _logs(10, 10)
        raise ValueError("reader broke")

    with pytest.raises(ValueError, match="reader broke"):
        _write(target, chunks())
    assert read_manifest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.lock", "s"]
