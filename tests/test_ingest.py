"""Importing the exported log file and the cohorts CSV: parser quirks, quarantine, errors, properties."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import ipaddress
import json
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from analysis.cli import main
from analysis.config import PROJECT_ROOT
from analysis.errors import InputError
from analysis.schema import LOG_SCHEMA
from analysis.sources.ingest import (
    describe_snapshot,
    detect_simulated,
    import_demo,
    import_files,
    read_cohorts_file,
    read_log_file,
)
from analysis.sources.snapshot import load_snapshot, read_manifest

REFERENCE_COHORTS = PROJECT_ROOT / "data" / "reference" / "cohorts.csv"

T = dt.datetime


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _logs(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LOG_SCHEMA, orient="row")


QUIRKS = (
    "2018-01-26 09:55:03 / 1 8 97.105.19.61\n"
    "2018-01-26 16:46:16 / 48  97.105.19.61\n"  # empty cohort_id (two spaces)
    "2018-01-26 16:46:17 java-ii 48 NULL 97.105.19.61\n"
    "2018-01-26 16:46:18 java-ii 48 \\N 97.105.19.61\r\n"  # CRLF line end
    "2018-01-26 16:46:19 toc 48 nan 2001:db8::1\n"
    "2018-01-26 16:46:20  1 8 1.2.3.4\n"  # empty path field: 6 fields, path null
    "2018-01-26 16:46:21 spring 2 8.0 10.0.0.255\n"  # pandas float export of an id
)


def test_parser_quirks(tmp_path: Path) -> None:
    logs, quarantine, lines = read_log_file(_write(tmp_path / "a.txt", QUIRKS), progress=False)
    expected = _logs(
        [
            (T(2018, 1, 26, 9, 55, 3), "/", 1, 8, "97.105.19.61"),
            (T(2018, 1, 26, 16, 46, 16), "/", 48, None, "97.105.19.61"),
            (T(2018, 1, 26, 16, 46, 17), "java-ii", 48, None, "97.105.19.61"),
            (T(2018, 1, 26, 16, 46, 18), "java-ii", 48, None, "97.105.19.61"),
            (T(2018, 1, 26, 16, 46, 19), "toc", 48, None, "2001:db8::1"),
            (T(2018, 1, 26, 16, 46, 20), None, 1, 8, "1.2.3.4"),
            (T(2018, 1, 26, 16, 46, 21), "spring", 2, 8, "10.0.0.255"),
        ]
    )
    assert_frame_equal(logs, expected)
    assert quarantine.height == 0
    assert lines == 7


BAD = (
    "2018-01-26 09:55:03 / 1 8 97.105.19.61\n"  # 1 ok
    "\n"  # 2 blank in the middle: quarantined
    "2018-01-26 09:55:03 / 1 8 97.105.19.61 extra\n"  # 3
    "2018-02-30 09:55:03 / 1 8 97.105.19.61\n"  # 4 no such day
    "2018-01-26 25:00:00 / 1 8 97.105.19.61\n"  # 5
    "2018-01-26 09:55:03 / abc 8 97.105.19.61\n"  # 6
    "2018-01-26 09:55:03 / 1 eight 97.105.19.61\n"  # 7
    "2018-01-26 09:55:03 / 1 8 256.1.2.3\n"  # 8
    "2018-01-26 09:55:03 / 1 8 1.2.3\n"  # 9
    "2018-01-26 09:55:03 /  8 1.2.3.4\n"  # 10 empty user_id
    "2018-01-26 09:55:04 / 2 8 97.105.19.61\n"  # 11 ok
    "\n   \n\n"  # 12-14 trailing blank lines: counted and reported as blank too
)


def test_quarantine_has_line_numbers_and_reasons(tmp_path: Path) -> None:
    logs, quarantine, lines = read_log_file(_write(tmp_path / "bad.log", BAD), progress=False)
    assert logs["user_id"].to_list() == [1, 2]
    assert lines == 14
    assert quarantine.select("line", "reason").rows() == [
        (2, "blank line"),
        (3, "expected 6 fields, got 7"),
        (4, "bad date"),
        (5, "bad date"),
        (6, "non-numeric user_id"),
        (7, "non-numeric cohort_id"),
        (8, "invalid ip"),
        (9, "invalid ip"),
        (10, "missing user_id"),
        (12, "blank line"),
        (13, "blank line"),
        (14, "blank line"),
    ]
    assert logs.height + quarantine.height == lines  # every line is either imported or reported
    assert set(quarantine["source"]) == {"bad.log"}
    assert quarantine["key"].null_count() == quarantine.height
    assert quarantine.filter(pl.col("line") == 3)["raw"].item().endswith("extra")


def test_chunk_boundaries_do_not_change_the_result(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.log", BAD * 3)
    whole = read_log_file(path, progress=False)
    tiny = read_log_file(path, progress=False, chunk_bytes=17)
    assert_frame_equal(whole[0], tiny[0])
    assert_frame_equal(whole[1], tiny[1])
    assert whole[2] == tiny[2] == 42
    assert whole[1]["line"].max() == 42  # blank lines are counted wherever they are


def test_unit_separator_byte_in_a_line_takes_the_exact_path(tmp_path: Path) -> None:
    text = "2018-01-26 09:55:03 / 1 8 1.2.3.4\nweird\x1fline\n2018-01-26 09:55:04 / 1 8 1.2.3.4\n"
    logs, quarantine, _ = read_log_file(_write(tmp_path / "u.txt", text), progress=False)
    assert logs.height == 2
    assert quarantine.rows() == [("u.txt", 2, None, "weird\x1fline", "expected 6 fields, got 1")]


def test_gzip_is_detected_by_magic_bytes(tmp_path: Path) -> None:
    plain = read_log_file(_write(tmp_path / "a.txt", QUIRKS), progress=False)
    disguised = tmp_path / "export.txt"  # gzip content without a .gz name
    disguised.write_bytes(gzip.compress(QUIRKS.encode()))
    zipped = read_log_file(disguised, progress=False)
    assert_frame_equal(plain[0], zipped[0])
    assert plain[2] == zipped[2]


@pytest.mark.parametrize(
    "content",
    [
        b"\x1f\x8b" + b"garbage that is not deflate" * 3,
        gzip.compress(QUIRKS.encode() * 50)[:-40],  # truncated
    ],
    ids=["garbage", "truncated"],
)
def test_corrupt_gzip_is_an_input_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"broken\.txt\.gz"):
        read_log_file(path, progress=False)


def test_empty_log_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.txt", "\n\nnot a log line\n")
    with pytest.raises(InputError, match=r"empty\.txt: no valid log rows"):
        read_log_file(path, progress=False)


def test_cli_missing_file_exits_3_naming_it(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.txt.gz"
    code = main(
        [
            "import", "--logs", str(missing), "--cohorts", str(REFERENCE_COHORTS),
            "--data-dir", str(tmp_path / "data"), "-q",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("error: ") and str(missing) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "data" / "snapshot").exists()


def test_cli_import_writes_the_snapshot(tmp_path: Path, capsys) -> None:
    logs = _write(tmp_path / "a.txt", BAD)
    code = main(
        [
            "import", "--logs", str(logs), "--cohorts", str(REFERENCE_COHORTS),
            "--data-dir", str(tmp_path / "data"), "-q",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "imported 2" in out and "quarantined 12 (of them 4 blank)" in out
    assert "bad date (2)" in out
    manifest = read_manifest(tmp_path / "data" / "snapshot")
    assert (manifest.rows, manifest.quarantined_rows, manifest.cohorts) == (2, 12, 53)
    assert manifest.source == "file" and manifest.simulated is False


def test_reference_cohorts_load_exactly(reference_cohorts: pl.DataFrame) -> None:
    cohorts, quarantine = read_cohorts_file(REFERENCE_COHORTS)
    assert quarantine.height == 0
    assert cohorts.height == 53
    assert_frame_equal(cohorts, reference_cohorts.sort("id"))
    staff = cohorts.filter(pl.col("name") == "Staff").row(0, named=True)
    assert (staff["id"], staff["slack"], staff["program_id"]) == (28, "#", 2)
    assert cohorts["deleted_at"].null_count() == 53


def test_bad_cohort_rows_are_quarantined(tmp_path: Path) -> None:
    header = "id,name,slack,start_date,end_date,created_at,updated_at,deleted_at,program_id\n"
    path = _write(
        tmp_path / "cohorts.csv",
        header
        + '1,Arches,#arches,2014-02-04,2014-04-22,"2016-06-14 19:52:26",NULL,NULL,1\n'
        + "x,Bad,#,2014-02-04,2014-04-22,NULL,NULL,NULL,1\n"
        + "2,Late,#,2014-02-31,2014-04-22,NULL,NULL,NULL,1\n"
        + "1,Again,#,2014-02-04,2014-04-22,NULL,NULL,NULL,1\n"
        + "3,Prog,#,2014-02-04,2014-04-22,NULL,NULL,NULL,two\n",
    )
    cohorts, quarantine = read_cohorts_file(path)
    assert cohorts["id"].to_list() == [1]
    assert cohorts["created_at"].to_list() == [T(2016, 6, 14, 19, 52, 26)]
    assert quarantine.select("source", "line", "reason").rows() == [
        ("cohorts.csv", 3, "non-numeric id"),
        ("cohorts.csv", 4, "bad start_date"),
        ("cohorts.csv", 5, "duplicate id"),
        ("cohorts.csv", 6, "bad program_id"),
    ]


def test_cohorts_missing_columns_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", "id,name\n1,Arches\n")
    with pytest.raises(InputError, match=r"c\.csv: cohorts CSV lacks columns slack"):
        read_cohorts_file(path)


def test_simulated_flag_from_simulation_json(tmp_path: Path) -> None:
    logs = _write(tmp_path / "logs.txt", QUIRKS)
    assert detect_simulated(logs) == (False, "")
    (tmp_path / "simulation.json").write_text(json.dumps({"simulated": True, "seed": 7}))
    report = import_files(logs, REFERENCE_COHORTS, tmp_path / "snap", progress=False)
    assert report.simulated and report.manifest.simulated
    assert "seed 7" in report.manifest.source_detail
    assert report.describe().startswith("SIMULATED DATA")
    assert "SIMULATED DATA" in describe_snapshot(tmp_path / "snap")
    forced = import_files(
        logs, REFERENCE_COHORTS, tmp_path / "snap", simulated=False, progress=False
    )
    assert not forced.manifest.simulated
    assert "SIMULATED" not in forced.describe()


def test_import_report_and_snapshot(tmp_path: Path) -> None:
    report = import_files(
        _write(tmp_path / "bad.log", BAD), REFERENCE_COHORTS, tmp_path / "snap", progress=False
    )
    text = report.describe()
    assert "read 14 lines" in text and "imported 2" in text and "quarantined 12" in text
    assert "bad.log:2 ''" in text  # first quarantined lines are shown with their line numbers
    assert "2018-01-26T09:55:03 .. 2018-01-26T09:55:04" in text
    snapshot = load_snapshot(tmp_path / "snap", verify=True)
    assert snapshot.logs.collect().height == 2
    assert snapshot.quarantine.height == 12
    assert snapshot.cohorts.height == 53
    summary = describe_snapshot(tmp_path / "snap")
    assert "rows: 2;" in summary and "quarantined rows: 12" in summary


# --- property: malformed input never crashes, nothing is lost, valid rows round-trip -----------------

_moments = st.datetimes(min_value=T(2000, 1, 1), max_value=T(2030, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
_paths = st.one_of(
    st.just(""),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./%?=#", min_size=1, max_size=30),
)
_ips = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n).compressed),
)
_valid = st.tuples(
    _moments,
    _paths,
    st.integers(0, 10**15),
    st.one_of(st.integers(0, 10**6), st.none()),
    st.sampled_from(["", "NULL", "\\N", "nan"]),
    _ips,
)
_noise_text = st.text(alphabet=st.sampled_from(list("abcXYZ019:-. /\té€")), max_size=60).filter(
    lambda line: len(line.split(" ")) != 6
)


def _render(row: tuple) -> str:
    moment, path, user, cohort, null_token, ip = row
    cohort_text = null_token if cohort is None else str(cohort)
    return f"{moment:%Y-%m-%d %H:%M:%S} {path} {user} {cohort_text} {ip}"


_broken = st.tuples(_valid, st.sampled_from(["date", "user", "cohort", "ip", "extra"])).map(
    lambda pair: {
        "date": lambda r: "2019-02-29" + _render(r)[10:],
        "user": lambda r: _render((r[0], r[1], "u" + str(r[2]), *r[3:])),
        "cohort": lambda r: _render((*r[:3], "c" + str(r[3]), *r[4:])),
        "ip": lambda r: _render((*r[:5], "300.1.1.1")),
        "extra": lambda r: _render(r) + " x",
    }[pair[1]](pair[0])
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            _valid.map(lambda row: ("valid", row)),
            _noise_text.map(lambda text: ("noise", text)),
            _broken.map(lambda text: ("noise", text)),
        ),
        max_size=40,
    ),
    st.integers(0, 3),
    st.booleans(),
)
def test_property_malformed_input(items: list, trailing_blanks: int, zipped: bool) -> None:
    lines = [_render(value) if kind == "valid" else value for kind, value in items]
    valid_rows = [value for kind, value in items if kind == "valid"]
    pieces = lines + [""] * trailing_blanks
    # every line counts, blank ones included; the file's last line break adds no line
    counted = len(pieces) - (1 if pieces and pieces[-1] == "" else 0)
    text = "\n".join(lines + [""] * trailing_blanks)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prop.log"
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data) if zipped else data)
        if not valid_rows:
            with pytest.raises(InputError):
                read_log_file(path, progress=False, chunk_bytes=64)
            return
        logs, quarantine, _ = read_log_file(path, progress=False, chunk_bytes=64)
    assert logs.height + quarantine.height == counted
    expected = _logs(
        [(m, p or None, u, c, ip) for m, p, u, c, _token, ip in valid_rows],
    )
    assert_frame_equal(logs, expected)
    assert quarantine["line"].is_sorted() and quarantine["reason"].null_count() == 0


def test_import_demo_reads_the_demo_dir_as_simulated(config, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    config = config.replace(paths=dataclasses.replace(config.paths, demo_dir=demo))
    demo.mkdir(parents=True)
    (demo / "logs.txt.gz").write_bytes(gzip.compress(QUIRKS.encode()))
    (demo / "cohorts.csv").write_bytes(REFERENCE_COHORTS.read_bytes())
    report = import_demo(config, progress=False)
    manifest = read_manifest(config.paths.snapshot_dir)
    assert (manifest.source, manifest.simulated, manifest.rows) == ("demo", True, 7)
    assert report.describe().startswith("SIMULATED DATA")


@pytest.mark.slow
def test_demo_dataset_imports_cleanly(demo_snapshot_dir: Path) -> None:
    """Golden: the embedded demo log agrees with what the simulator says it wrote."""
    manifest = read_manifest(demo_snapshot_dir)
    simulation = json.loads((REFERENCE_COHORTS.parents[1] / "demo" / "simulation.json").read_text())
    assert manifest.simulated and f"seed {simulation['seed']}" in manifest.source_detail
    assert manifest.quarantined_rows == 0
    assert (manifest.rows, manifest.users, manifest.ips, manifest.cohorts) == (
        simulation["rows"], simulation["users"], simulation["ips"], 53,
    )  # fmt: skip
    assert manifest.first_seen == simulation["data_start"].replace(" ", "T")
    assert manifest.last_seen == simulation["data_end"].replace(" ", "T")


def test_import_writes_one_part_per_chunk_with_the_same_rows_and_digest(tmp_path: Path) -> None:
    """Chunked parts bound import memory; the snapshot's rows, digest and quarantine do not change."""
    lines = [
        f"2018-01-26 09:{m:02d}:{s:02d} lesson-{m % 7} {m} {s % 3} 10.0.0.{m}"
        for m in range(40)
        for s in range(0, 60, 7)
    ]
    log = _write(tmp_path / "many.log", "\n".join([*lines, "not a row"]) + "\n")
    whole = import_files(log, REFERENCE_COHORTS, tmp_path / "one", progress=False)
    chunked = import_files(
        log, REFERENCE_COHORTS, tmp_path / "many", progress=False, chunk_bytes=2000
    )
    parts = sorted((tmp_path / "many" / "logs").glob("part-*.parquet"))
    assert len(list((tmp_path / "one" / "logs").glob("*.parquet"))) == 1
    assert len(parts) > 5  # 360 lines of about 40 bytes in 2,000-byte chunks
    assert chunked.manifest.logs_digest == whole.manifest.logs_digest
    assert chunked.manifest.rows == whole.manifest.rows == len(lines) == chunked.rows_imported
    assert (chunked.manifest.users, chunked.manifest.ips) == (
        whole.manifest.users,
        whole.manifest.ips,
    )
    assert chunked.quarantined == whole.quarantined == 1
    a = load_snapshot(tmp_path / "one", verify=True)
    b = load_snapshot(tmp_path / "many", verify=True)
    key = list(LOG_SCHEMA)
    assert_frame_equal(a.logs.collect().sort(key), b.logs.collect().sort(key))
    assert a.quarantine["line"].to_list() == b.quarantine["line"].to_list() == [len(lines) + 1]
    for part in parts:  # every part is sorted by time on its own
        assert pl.read_parquet(part)["timestamp"].is_sorted()


def test_a_failed_chunked_import_leaves_the_old_snapshot(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.log", "2018-01-26 09:55:03 / 1 8 97.105.19.61\n")
    import_files(good, REFERENCE_COHORTS, tmp_path / "snap", progress=False)
    before = read_manifest(tmp_path / "snap")
    bad = _write(tmp_path / "bad.log", "garbage line\n" * 50)
    with pytest.raises(InputError, match="no valid log rows"):
        import_files(bad, REFERENCE_COHORTS, tmp_path / "snap", progress=False, chunk_bytes=64)
    assert read_manifest(tmp_path / "snap") == before
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []  # no staging left behind


# --- stricter parsing (issue 11, item 4) ------------------------------------------------------------


def test_seconds_beyond_59_are_quarantined_not_rolled_over(tmp_path: Path) -> None:
    text = (
        "2018-01-26 10:30:60 / 1 8 1.2.3.4\n"  # would become 10:31:00
        "2018-01-26 23:59:60 / 1 8 1.2.3.4\n"  # would become the next day
        "2018-01-26 10:60:00 / 1 8 1.2.3.4\n"
        "2018-01-26 10:30:59 / 1 8 1.2.3.4\n"
        "0000-01-01 10:30:59 / 1 8 1.2.3.4\n"  # no year 0 in Python's datetime
    )
    logs, quarantine, _ = read_log_file(_write(tmp_path / "s.log", text), progress=False)
    assert logs["timestamp"].to_list() == [T(2018, 1, 26, 10, 30, 59)]
    assert quarantine.select("line", "reason").rows() == [
        (1, "bad date"),
        (2, "bad date"),
        (3, "bad date"),
        (5, "bad date"),
    ]


def test_ips_are_judged_by_ipaddress_and_stored_canonically(tmp_path: Path) -> None:
    ips = {
        "2001:DB8:0:0:0:0:0:7": "2001:db8::7",
        "2001:db8::7": "2001:db8::7",
        "::ffff:1.2.3.4": str(ipaddress.ip_address("::ffff:1.2.3.4")),
        "FE80::1": "fe80::1",
        "1.2.3.4": "1.2.3.4",
    }
    rejected = [
        "1::2::3",
        "12345::1",
        "::ffff:1.2.3",
        "1.2.3.04",
        "1:2:3:4:5:6:7:8:9",
        "1.2.3.4/24",
    ]
    lines = [f"2018-01-26 10:00:{i:02d} / 1 8 {ip}" for i, ip in enumerate([*ips, *rejected])]
    logs, quarantine, _ = read_log_file(
        _write(tmp_path / "ip.log", "\n".join(lines)), progress=False
    )
    assert logs["ip"].to_list() == list(ips.values())
    assert quarantine["reason"].to_list() == ["invalid ip"] * len(rejected)
    for ip in logs["ip"]:
        assert str(ipaddress.ip_address(ip)) == ip


def test_invalid_utf8_is_quarantined_with_its_bytes_kept(tmp_path: Path) -> None:
    path = tmp_path / "u.log"
    path.write_bytes(
        b"2018-01-26 10:00:00 /caf\xc3\xa9 1 8 1.2.3.4\n"  # valid UTF-8: kept
        b"2018-01-26 10:00:01 /caf\xe9 1 8 1.2.3.4\n"  # latin-1 byte: quarantined
        b"2018-01-26 10:00:02 /ok 1 8 1.2.3.4\n"
    )
    for chunk_bytes in (1 << 20, 16):
        logs, quarantine, lines = read_log_file(path, progress=False, chunk_bytes=chunk_bytes)
        assert logs["path"].to_list() == ["/café", "/ok"]
        assert quarantine.select("line", "reason").rows() == [(2, "invalid UTF-8")]
        raw = quarantine["raw"].item()
        assert "\\xe9" in raw and "\ufffd" not in raw  # the byte itself, escaped, not replaced
        assert logs.height + quarantine.height == lines == 3


def test_ids_cover_the_whole_int64_range(tmp_path: Path) -> None:
    top = 2**63 - 1
    text = (
        f"2018-01-26 10:00:00 / {top} {top} 1.2.3.4\n"
        f"2018-01-26 10:00:01 / {top + 1} 8 1.2.3.4\n"
        f"2018-01-26 10:00:02 / 1 {top + 1} 1.2.3.4\n"
    )
    logs, quarantine, _ = read_log_file(_write(tmp_path / "i.log", text), progress=False)
    assert logs.select("user_id", "cohort_id").rows() == [(top, top)]
    assert quarantine["reason"].to_list() == ["user_id out of range", "cohort_id out of range"]


def test_blank_lines_are_counted_and_reported(tmp_path: Path) -> None:
    text = "2018-01-26 10:00:00 / 1 8 1.2.3.4\n\n\r\n2018-01-26 10:00:01 / 1 8 1.2.3.4\n\n"
    report = import_files(
        _write(tmp_path / "b.log", text), REFERENCE_COHORTS, tmp_path / "s", progress=False
    )
    assert (report.lines_read, report.rows_imported, report.quarantined, report.blank_lines) == (
        5,
        2,
        3,
        3,
    )
    assert "(of them 3 blank)" in report.describe()


COHORT_HEADER = "id,name,slack,start_date,end_date,created_at,updated_at,deleted_at,program_id\n"


def test_cohort_rows_with_wrong_field_count_or_reversed_dates_are_quarantined(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cohorts.csv"
    path.write_text(
        COHORT_HEADER
        + '1,Arches,#arches,2014-02-04,2014-04-22,"2016-06-14 19:52:26","2016-06-14 19:52:26",NULL,1\n'
        + "2,Badlands,#badlands\n"  # 3 fields
        + '3,"Big, Bend",#bb,2014-06-04,2014-03-01,NULL,NULL,NULL,1\n'  # ends before it starts
        + "4,Zion,#zion,2014-06-04,2014-08-01,NULL,NULL,NULL,1,extra\n"  # 10 fields
    )
    cohorts, quarantine = read_cohorts_file(path)
    assert cohorts["id"].to_list() == [1]
    assert quarantine.select("line", "reason").rows() == [
        (3, "expected 9 fields, got 3"),
        (4, "end_date before start_date"),
        (5, "expected 9 fields, got 10"),
    ]
    log = _write(tmp_path / "l.log", "2018-01-26 10:00:00 / 1 3 1.2.3.4\n")
    text = import_files(log, path, tmp_path / "s", progress=False).describe()
    assert "end_date before start_date (1)" in text  # reported, not silently dropped
