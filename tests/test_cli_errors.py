"""Every bad input gets one readable line and its documented exit code, never a traceback (issue 11)."""

from __future__ import annotations

import dataclasses
import errno
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cli import main
from analysis.config import PROJECT_ROOT as ROOT
from analysis.config import Config
from analysis.sources.snapshot import read_manifest

REFERENCE_COHORTS = ROOT / "data" / "reference" / "cohorts.csv"
DOCUMENTED = {0, 2, 3, 4, 5, 6}
GOOD_LOG = "2018-01-26 09:55:03 / 1 8 97.105.19.61\n2018-01-26 09:55:04 / 2 8 97.105.19.61\n"


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err: str) -> None:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err


def _import_args(tmp_path: Path, log: Path, *extra: str) -> list[str]:
    return ["import", "--logs", str(log), "--cohorts", str(REFERENCE_COHORTS), "-q", *extra]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "in.log"
    path.write_text(GOOD_LOG)
    return path


def _polars_io_error(code: int) -> Exception:
    """How polars reports a failed Parquet write (checked against /dev/full below)."""
    return pl.exceptions.ComputeError(
        f"parquet: File out of specification: underlying IO error: {os.strerror(code)} "
        f"(os error {code})"
    )


def test_polars_reports_a_full_disk_as_the_test_simulates_it() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with pytest.raises(pl.exceptions.ComputeError, match=r"\(os error 28\)"):
        pl.DataFrame({"a": list(range(100_000))}).write_parquet("/dev/full")


@pytest.mark.parametrize(
    ("code", "words", "polars"),
    [
        (errno.ENOSPC, "the disk is full", True),
        (errno.ENOSPC, "the disk is full", False),
        (errno.EROFS, "the file system is read-only", True),
        (errno.EROFS, "the file system is read-only", False),
        (errno.EACCES, "permission denied", False),
    ],
)
def test_disk_full_read_only_or_denied_during_import(
    tmp_path, log, capsys, monkeypatch, code, words, polars
):
    data = tmp_path / "data"
    assert _run(capsys, *_import_args(tmp_path, log, "--data-dir", str(data)))[0] == 0
    before = read_manifest(data / "snapshot")

    def fail(self, path, *args, **kwargs):
        raise _polars_io_error(code) if polars else OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fail)
    exit_code, _, err = _run(capsys, *_import_args(tmp_path, log, "--data-dir", str(data)))
    assert exit_code == 5 and words in err and "the previous snapshot was not changed" in err
    _one_line(err)
    assert read_manifest(data / "snapshot") == before
    assert sorted(p.name for p in data.iterdir()) == [".snapshot.lock", "snapshot"]


def test_data_dir_naming_a_file_or_impossible_path(tmp_path, log, capsys, monkeypatch) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for data_dir in (a_file, a_file / "sub", Path("/dev/null/data")):
        code, _, err = _run(capsys, *_import_args(tmp_path, log, "--data-dir", str(data_dir)))
        assert code == 2 and "--data-dir" in err
        _one_line(err)
    monkeypatch.setenv("CURRICULUM_DATA_DIR", str(a_file))
    code, _, err = _run(capsys, "summary")
    assert code == 2 and "CURRICULUM_DATA_DIR" in err
    _one_line(err)


def test_data_dir_that_cannot_be_created_is_one_line(tmp_path, log, capsys) -> None:
    code, _, err = _run(capsys, *_import_args(tmp_path, log, "--data-dir", "/proc/no-such/data"))
    assert code == 5 and "/proc/no-such" in err
    _one_line(err)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "is a directory"),
        (b'[site]\ntitle = "Caf\xe9"\n', "not valid UTF-8"),
        (b"q1 = 5\n", "q1: expected a table"),
        (b"[q4]\nshared_ip_window_users = 0\n", "q4.shared_ip_window_users must be >= 2"),
        (b"[q1]\ntop_k = -1\n", "q1.top_k must be >= 1"),
        (b"[q5]\nbootstrap_reps = 0\n", "q5.bootstrap_reps must be >= 1"),
        (b"[q2]\nconfidence = nan\n", "q2.confidence must be > 0 and < 1"),
        (b"[q4]\nscrape_window_seconds = -5\n", "q4.scrape_window_seconds must be >= 1"),
    ],
)
def test_bad_config_files_exit_2_naming_the_fault(tmp_path, capsys, content, fragment) -> None:
    config = tmp_path / "conf"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    code, _, err = _run(capsys, "summary", "--config", str(config), "--data-dir", str(tmp_path))
    assert code == 2 and fragment in err
    _one_line(err)


@pytest.mark.parametrize("scale", ["nan", "inf", "-1", "0"])
def test_simulate_scale_must_be_a_positive_number(tmp_path, capsys, scale) -> None:
    code, _, err = _run(capsys, "simulate", "--scale", scale, "--out", str(tmp_path / "o"))
    assert code == 2 and "--scale must be a positive number" in err
    _one_line(err)
    assert not (tmp_path / "o").exists()


def test_every_help_documents_the_lock_exit_code(capsys) -> None:
    commands = [
        "simulate",
        "import",
        "acquire",
        "analyze",
        "evaluate",
        "render",
        "build",
        "summary",
    ]
    for command in commands:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "6  another run holds" in out and "--no-wait" in out, command
    readme = (ROOT / "README.md").read_text()
    assert "| 6 | another run holds" in readme


# --- properties: arbitrary bytes as a log file, arbitrary TOML ---------------------------------------


def _lines_in(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


_log_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.one_of(
            st.just(b"2018-01-26 09:55:03 / 1 8 97.105.19.61"),
            st.just(b""),
            st.just(b"2018-01-26 10:30:60 / 1 8 1.2.3.4"),
            st.just(b"2018-01-26 09:55:03 /caf\xe9 1 8 ::1"),
            st.binary(max_size=60),
            st.text(max_size=40).map(str.encode),
        ),
        max_size=20,
    ).map(b"\n".join),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_log_bytes)
def test_property_arbitrary_bytes_as_a_log_file(data: bytes, capsys) -> None:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "log.txt"
        log.write_bytes(data)
        code, _, err = _run(capsys, *_import_args(Path(folder), log, "--data-dir", folder))
        assert code in DOCUMENTED and "Traceback" not in err
        if code == 0:
            manifest = read_manifest(Path(folder) / "snapshot")
            quarantine = pl.read_parquet(Path(folder) / "snapshot" / "quarantine.parquet")
            from_log = quarantine.filter(pl.col("source") == log.name).height
            assert manifest.rows + from_log == _lines_in(data)
        else:
            _one_line(err)


def _toml_value():
    scalars = st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(
            lambda x: (
                "nan"
                if x != x
                else ("inf" if x == float("inf") else "-inf" if x == -float("inf") else repr(x))
            )
        ),
        st.booleans().map(lambda b: "true" if b else "false"),
        st.text(max_size=8).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
        st.just("2019-06-01"),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        max_leaves=4,
    )


_SECTIONS = {
    f.name: f for f in dataclasses.fields(Config) if f.name not in ("db_url", "source_file")
}


@st.composite
def _toml_document(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        section = draw(st.sampled_from([*_SECTIONS, "nonsense"]))
        default = getattr(Config(), section, None)
        keys = (
            [f.name for f in dataclasses.fields(default)]
            if dataclasses.is_dataclass(default)
            else []
        )
        if draw(st.booleans()) or not keys:
            lines.append(f"{section} = {draw(_toml_value())}")
            continue
        lines.append(f"[{section}]")
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from([*keys, "typo_key"]))
            lines.append(f"{key} = {draw(_toml_value())}")
    text = "\n".join(lines).encode()
    return draw(st.one_of(st.just(text), st.binary(max_size=80), st.just(text + b"\xff")))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_toml_document())
def test_property_arbitrary_toml(document: bytes, capsys) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "c.toml"
        config.write_bytes(document)
        code, _, err = _run(capsys, "summary", "--config", str(config), "--data-dir", folder)
        assert code in DOCUMENTED and "Traceback" not in err
        assert code in (2, 3)  # a bad file is a configuration error; a good one finds no snapshot
        _one_line(err)


# --- sources that exclude each other, and empty or undecodable cohort files (issue 18) -------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["analyze", "--logs", "L", "--cohorts", "C", "--db-url", "mysql://x@h/db"], "--db-url"),
        (["build", "--logs", "L", "--cohorts", "C", "--demo"], "--demo"),
        (["analyze", "--db-url", "mysql://x@h/db", "--demo"], "different sources"),
        (["evaluate", "--demo", "--db-url", "mysql://x@h/db"], "different sources"),
        (["evaluate", "--scenario", "demo", "--all-scenarios"], "exclude each other"),
        (["evaluate", "--scenario", "demo", "--logs", "L"], "cannot be combined"),
        (["evaluate", "--all-scenarios", "--labels", "x.csv"], "cannot be combined"),
        (["evaluate", "--scale", "2"], "add --scenario"),
    ],
)
def test_sources_that_exclude_each_other_are_exit_2(tmp_path, capsys, args, fragment) -> None:
    code, _, err = _run(capsys, *args, "-q", "--data-dir", str(tmp_path / "d"))
    assert code == 2, err
    _one_line(err)
    assert fragment in err
    assert not (tmp_path / "d" / "snapshot").exists()  # nothing was read or written


def test_a_cohorts_file_with_only_a_header_is_exit_3(tmp_path, log, capsys) -> None:
    cohorts = tmp_path / "cohorts.csv"
    cohorts.write_bytes(REFERENCE_COHORTS.read_bytes().splitlines(keepends=True)[0])
    args = ["import", "--logs", str(log), "--cohorts", str(cohorts), "-q"]
    code, _, err = _run(capsys, *args, "--data-dir", str(tmp_path / "d"))
    assert code == 3
    _one_line(err)
    assert str(cohorts) in err and "no rows" in err


def test_a_cohorts_file_whose_rows_are_all_rejected_is_exit_3(tmp_path, log, capsys) -> None:
    cohorts = tmp_path / "cohorts.csv"
    header = REFERENCE_COHORTS.read_bytes().splitlines(keepends=True)[0]
    cohorts.write_bytes(header + b"x,Arches,#a,2014-02-04,2014-04-22,NULL,NULL,NULL,1\n")
    args = ["import", "--logs", str(log), "--cohorts", str(cohorts), "-q"]
    code, _, err = _run(capsys, *args, "--data-dir", str(tmp_path / "d"))
    assert code == 3
    _one_line(err)
    assert "no valid cohorts" in err and "non-numeric id (1)" in err


def test_invalid_utf8_in_a_cohort_row_is_quarantined_not_replaced(tmp_path, log, capsys) -> None:
    lines = REFERENCE_COHORTS.read_bytes().splitlines(keepends=True)
    cohorts = tmp_path / "cohorts.csv"
    cohorts.write_bytes(
        b"".join([lines[0], lines[1].replace(b"Arches", b"Arch\xffes"), *lines[2:]])
    )
    args = ["import", "--logs", str(log), "--cohorts", str(cohorts), "-q"]
    code, _, err = _run(capsys, *args, "--data-dir", str(tmp_path / "d"))
    assert code == 0, err
    snapshot = tmp_path / "d" / "snapshot"
    from analysis.sources.snapshot import load_snapshot

    loaded = load_snapshot(snapshot)
    assert loaded.cohorts.height == len(lines) - 2
    assert 1 not in loaded.cohorts["id"].to_list()
    assert "\ufffd" not in "".join(loaded.cohorts["name"].to_list())
    row = loaded.quarantine.filter(pl.col("reason") == "invalid UTF-8").row(0, named=True)
    assert row["line"] == 2 and "Arch\\xffes" in row["raw"]
