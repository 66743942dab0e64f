"""The snapshot writer: chunked parts, digests that do not depend on chunking, refresh by hard links."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl
import pytest

from analysis.schema import COHORT_SCHEMA, LOG_SCHEMA, QUARANTINE_SCHEMA
from analysis.sources.snapshot import (
    LABEL_COLUMNS,
    load_snapshot,
    logs_digest,
    read_manifest,
    scan_logs,
    write_snapshot,
)

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
    labelled = {**LOG_SCHEMA, **{name: pl.Categorical() for name in LABEL_COLUMNS}}
    assert load_snapshot(tmp_path / "s", verify=True).logs.collect().schema == pl.Schema(labelled)
    assert scan_logs(tmp_path / "s").collect().schema == pl.Schema(LOG_SCHEMA)


def test_parts_of_both_storages_read_as_one_log(tmp_path: Path) -> None:
    """A part written before path and ip were stored as Categorical (text) beside a new one: the
    log reads as one, as text or as Categorical, with every row."""
    old = pl.DataFrame(
        {
            "timestamp": [dt.datetime(2020, 1, 1, 9)],
            "path": ["java-i/intro"],
            "user_id": [1],
            "cohort_id": [2],
            "ip": ["10.0.0.1"],
        },
        schema=LOG_SCHEMA,
    )
    new = old.with_columns(pl.col("path").replace({"java-i/intro": "sql/joins"}))
    folder = tmp_path / "s"
    (folder / "logs").mkdir(parents=True)
    old.write_parquet(folder / "logs" / "part-00000.parquet")
    new.with_columns(pl.col(LABEL_COLUMNS).cast(pl.Categorical)).write_parquet(
        folder / "logs" / "part-00001.parquet"
    )
    text = scan_logs(folder).collect()
    assert text.schema == pl.Schema(LOG_SCHEMA)
    assert text.sort("path").equals(pl.concat([old, new]).sort("path"))
    labelled = scan_logs(folder, labels=True).collect()
    assert labelled.schema["path"] == labelled.schema["ip"] == pl.Categorical
    assert labelled.get_column("path").cast(pl.String).sort().to_list() == [
        "java-i/intro",
        "sql/joins",
    ]


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


# --- a damaged or incomplete snapshot is refused, never analysed or replaced (issue 18) -------------------

REFERENCE_COHORTS = Path(__file__).resolve().parents[1] / "data" / "reference" / "cohorts.csv"
LOG_LINES = "".join(
    f"2018-01-{26 + i % 3} 09:{i % 60:02d}:03 lesson-{i % 4} {1 + i % 5} 8 97.105.19.{i % 9}\n"
    for i in range(200)
)


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """A data folder holding an imported (user) snapshot; returns the data folder."""
    from analysis.cli import main

    log = tmp_path / "in.log"
    log.write_text(LOG_LINES)
    data = tmp_path / "data"
    args = ["import", "--logs", str(log), "--cohorts", str(REFERENCE_COHORTS), "-q"]
    assert main([*args, "--data-dir", str(data)]) == 0
    return data


def _cli(capsys, *args: str) -> tuple[int, str]:
    from analysis.cli import main

    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == (code != 0)
    return code, err


def _state(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["analyze", "build", "evaluate"])
def test_a_snapshot_without_manifest_is_refused_not_replaced_by_the_demo(
    imported: Path, tmp_path: Path, capsys, command: str
) -> None:
    snapshot = imported / "snapshot"
    (snapshot / "manifest.json").unlink()
    before = _state(snapshot)
    extra = ["--out", str(tmp_path / "out")] if command == "analyze" else []
    if command == "build":
        extra = ["--site-dir", str(tmp_path / "site")]
    code, err = _cli(capsys, command, "-q", "--data-dir", str(imported), *extra)
    assert code == 3
    assert str(snapshot) in err and "without its manifest.json" in err
    assert "curriculum-insights import" in err and "acquire --full" in err
    assert _state(snapshot) == before  # the user's rows are still there, no demo written


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        "bytes overwritten",
        "truncated",
        "deleted",
        "extra part",
        "cohorts overwritten",
        "bad manifest",
    ],
)
@pytest.mark.parametrize("command", ["analyze", "summary", "render"])
def test_a_damaged_snapshot_is_exit_3_naming_the_file(
    imported: Path, tmp_path: Path, capsys, damage: str, command: str
) -> None:
    snapshot = imported / "snapshot"
    part = snapshot / "logs" / "part-00000.parquet"
    named = part
    if damage == "bytes overwritten":
        _corrupt(part)
    elif damage == "truncated":
        part.write_bytes(part.read_bytes()[:-100])
    elif damage == "deleted":
        part.unlink()
    elif damage == "extra part":
        named = snapshot / "logs" / "part-00007.parquet"
        named.write_bytes(part.read_bytes())
    elif damage == "cohorts overwritten":
        named = snapshot / "cohorts.parquet"
        _corrupt(named)
    else:
        named = snapshot / "manifest.json"
        named.write_text("[1, 2]")
    extra = {
        "analyze": ["--out", str(tmp_path / "out")],
        "render": ["--site-dir", str(tmp_path / "site"), "--engine", "pandoc"],
        "summary": [],
    }[command]
    code, err = _cli(capsys, command, "-q", "--data-dir", str(imported), *extra)
    assert code == 3, err
    assert str(named) in err
    assert "acquire --full" in err


def test_summary_verify_decodes_every_file_and_checks_row_counts(
    imported: Path, capsys, monkeypatch
) -> None:
    import json

    code, _ = _cli(capsys, "summary", "--verify", "--data-dir", str(imported))
    assert code == 0
    # A manifest whose counts disagree with its (intact) files: only the deep check can see it.
    path = imported / "snapshot" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["rows"] += 1
    path.write_text(json.dumps(manifest))
    assert _cli(capsys, "summary", "--data-dir", str(imported))[0] == 0
    code, err = _cli(capsys, "summary", "--verify", "--data-dir", str(imported))
    assert code == 3 and "holds 200 rows, the manifest says 201" in err
