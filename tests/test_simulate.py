"""The simulator: byte-for-byte determinism, the export format, the side files, and calibration of the
embedded demo dataset (data/demo, seed 20210421, scale 1) against the real log's published facts.

Calibration tolerances (real value -> accepted range), stated here because they are the contract:
- rows: 900,223 +- 5 %; users: 981 +- 10 %; IPs: 5,531 +- 15 %; distinct paths: 2,313 +- 20 %, of which
  10-30 % hit exactly once;
- time range: exactly 2018-01-26 09:55:03 .. 2021-04-21 16:44:39; 47 cohort ids; exactly 1 empty path;
- rows without cohort: 4-8 % of all rows, from 60-90 users;
- rows by program among rows with a cohort: Java 84.2 % +- 3 points, data science 12.2 % +- 2 points,
  PHP 3.6 % +- 1 point, front end exactly 5 rows by one user on one day; Staff 84,031 +- 10 %;
- the two campus IPs: 30-45 % of all rows together, none on or after `remote_from`;
- navigation paths within a factor of 2 of `/` 50,313, `search/search_index.json` 19,519, `toc` 18,297,
  `index.html` 1,011; image paths present;
- weekday peak hour 9 or 10; both spellings of renamed data-science lessons present;
- cross-program reading (web-dev students on data-science modules) after the cutoff below 30 % of the
  rate before it, but not zero.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from analysis.config import PROJECT_ROOT, load_config
from analysis.errors import InputError
from analysis.prepare import lesson_name
from analysis.scenarios.curriculum import DS_MODULES, normalise_lesson
from analysis.scenarios.simulate import (
    CAMPUS_IPS,
    CUTOFF_BASE,
    DATA_END,
    DATA_START,
    DS_ONLINE,
    SimulationSummary,
    simulate,
)
from analysis.schema import LABEL_KINDS, LABEL_SCHEMA

REFERENCE = PROJECT_ROOT / "data" / "reference"
DEMO = PROJECT_ROOT / "data" / "demo"
FILES = ("logs.txt.gz", "cohorts.csv", "labels.csv", "simulation.json")
LOG_COLUMNS = ["date", "time", "path", "user_id", "cohort_id", "ip"]


def _digest(directory: Path) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILES}


def read_log(path: Path) -> pl.DataFrame:
    """The export format read back with polars: six space-separated fields, empty = null."""
    frame = pl.read_csv(
        path,
        separator=" ",
        has_header=False,
        new_columns=LOG_COLUMNS,
        quote_char=None,
        schema_overrides={"path": pl.String, "cohort_id": pl.Int64, "user_id": pl.Int64},
    )
    return frame.with_columns(
        (pl.col("date") + " " + pl.col("time"))
        .str.to_datetime("%Y-%m-%d %H:%M:%S")
        .alias("timestamp")
    ).drop("date", "time")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("sim") / "a"
    summary = simulate(seed=7, scale=0.02, out=out, reference_dir=REFERENCE, progress=False)
    return out, summary


# --- fast: determinism, format, side files --------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(small, tmp_path: Path) -> None:
    out, _ = small
    again = tmp_path / "again"
    other = tmp_path / "other"
    simulate(seed=7, scale=0.02, out=again, reference_dir=REFERENCE, progress=False)
    simulate(seed=8, scale=0.02, out=other, reference_dir=REFERENCE, progress=False)
    assert _digest(out) == _digest(again)
    assert _digest(out)["logs.txt.gz"] != _digest(other)["logs.txt.gz"]
    assert _digest(out)["labels.csv"] != _digest(other)["labels.csv"]


def test_gzip_is_deterministic_and_nameless(small) -> None:
    out, _ = small
    header = (out / "logs.txt.gz").read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b"
    assert header[3] & 0x08 == 0  # no FNAME field
    assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0


def test_plain_text_option_has_the_same_lines(small, tmp_path: Path) -> None:
    out, _ = small
    plain = tmp_path / "plain"
    summary = simulate(
        seed=7, scale=0.02, out=plain, reference_dir=REFERENCE, gzip_logs=False, progress=False
    )
    assert summary.logs_file == "logs.txt"
    assert (plain / "logs.txt").read_bytes() == gzip.decompress((out / "logs.txt.gz").read_bytes())


def test_export_format(small) -> None:
    out, summary = small
    text = gzip.decompress((out / "logs.txt.gz").read_bytes()).decode()
    lines = text.splitlines()
    assert text.endswith("\n")
    assert len(lines) == summary.rows
    assert lines[0] == "2018-01-26 09:55:03 / 1 8 97.105.19.61"
    assert all(len(line.split(" ")) == 6 for line in lines)
    assert any("  " in line for line in lines)  # missing cohort (or path) = empty field
    stamps = [line[:19] for line in lines]
    assert stamps == sorted(stamps)
    assert stamps[-1] == DATA_END.strftime("%Y-%m-%d %H:%M:%S")
    frame = read_log(out / "logs.txt.gz")
    assert frame.height == summary.rows
    assert frame["user_id"].null_count() == 0
    assert frame["cohort_id"].null_count() > 0


def test_side_files(small) -> None:
    out, summary = small
    assert (out / "cohorts.csv").read_bytes() == (REFERENCE / "cohorts.csv").read_bytes()
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["simulated"] is True
    assert meta["seed"] == 7 and meta["scale"] == 0.02
    assert meta["rows"] == summary.rows
    assert meta["campus_ips"] == list(CAMPUS_IPS)
    cutoff = dt.date.fromisoformat(meta["cross_program_cutoff"])
    assert abs((cutoff - CUTOFF_BASE).days) <= 7
    assert dt.date.fromisoformat(meta["remote_from"]).year == 2020
    labels = pl.read_csv(out / "labels.csv", schema_overrides=LABEL_SCHEMA, try_parse_dates=True)
    assert labels.columns == list(LABEL_SCHEMA)
    assert set(labels["kind"]) <= set(LABEL_KINDS)
    assert labels.schema["start"] == pl.Datetime("us")


def test_describe_reports_the_numbers(small) -> None:
    _, summary = small
    text = summary.describe()
    assert f"{summary.rows:,} rows" in text
    assert f"users {summary.users:,}" in text
    assert "labels.csv" in text


def test_the_importer_accepts_every_row(small, tmp_path: Path) -> None:
    from analysis.sources.ingest import import_files

    out, summary = small
    report = import_files(
        out / "logs.txt.gz", out / "cohorts.csv", tmp_path / "snapshot", progress=False
    )
    text = report.describe()
    assert f"imported {summary.rows:,}" in text
    assert "quarantined 0" in text


def test_missing_reference_table_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cohorts"):
        simulate(seed=1, scale=0.02, out=tmp_path / "x", reference_dir=tmp_path, progress=False)


@pytest.mark.parametrize(
    "path",
    [
        "1-fundamentals/1.1-intro-to-data-science",
        "6-regression/1-overview",
        "3-sql/1-mysql-overview",
        "classification/overview",
        "javascript-i/bom-and-dom/dom-events",
    ],
)
def test_label_lessons_use_the_pipeline_normalisation(path: str) -> None:
    config = load_config(environ={})
    expected = pl.select(lesson_name(pl.lit(path), config)).item()
    assert normalise_lesson(path) == expected


# --- calibration of the embedded demo dataset --------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    logs = DEMO / "logs.txt.gz"
    if not logs.exists():
        pytest.fail(f"embedded demo dataset missing: {logs} (run `make demo-data`)")
    return read_log(logs)


@pytest.fixture(scope="module")
def demo_meta() -> dict:
    return json.loads((DEMO / "simulation.json").read_text())


def _within(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance * target


def test_demo_volume(demo: pl.DataFrame) -> None:
    assert _within(demo.height, 900_223, 0.05)
    assert _within(demo["user_id"].n_unique(), 981, 0.10)
    assert _within(demo["ip"].n_unique(), 5_531, 0.15)
    paths = demo.group_by("path").len()
    assert _within(paths.height, 2_313, 0.20)
    once = paths.filter(pl.col("len") == 1).height / paths.height
    assert 0.10 <= once <= 0.30
    assert demo["path"].null_count() == 1
    assert demo["cohort_id"].drop_nulls().n_unique() == 47
    assert demo["timestamp"].min() == DATA_START
    assert demo["timestamp"].max() == DATA_END


def test_demo_no_cohort_rows(demo: pl.DataFrame) -> None:
    missing = demo.filter(pl.col("cohort_id").is_null())
    assert 0.04 <= missing.height / demo.height <= 0.08
    assert 60 <= missing["user_id"].n_unique() <= 90
    months = missing.group_by(pl.col("timestamp").dt.strftime("%Y-%m").alias("m")).len()
    busy = set(months.filter(pl.col("len") >= 0.2 * pl.col("len").max())["m"])
    assert busy <= {f"2019-{m:02d}" for m in range(1, 10)} | {f"2020-{m:02d}" for m in range(6, 13)}


def test_demo_programs(demo: pl.DataFrame, reference_cohorts: pl.DataFrame) -> None:
    rows = demo.filter(pl.col("cohort_id").is_not_null()).join(
        reference_cohorts.select(pl.col("id").alias("cohort_id"), "program_id", "name"),
        on="cohort_id",
        how="left",
    )
    shares = dict(
        rows.group_by("program_id").len().with_columns(pl.col("len") / rows.height).rows()
    )
    assert abs(shares[2] - 713_365 / 847_330) <= 0.03
    assert abs(shares[3] - 103_412 / 847_330) <= 0.02
    assert abs(shares[1] - 30_548 / 847_330) <= 0.01
    front = rows.filter(pl.col("program_id") == 4)
    assert front.height == 5
    assert front["user_id"].n_unique() == 1
    assert front["timestamp"].dt.date().n_unique() == 1
    assert _within(rows.filter(pl.col("name") == "Staff").height, 84_031, 0.10)


def test_demo_campus_ips(demo: pl.DataFrame, demo_meta: dict) -> None:
    campus = demo.filter(pl.col("ip").is_in(demo_meta["campus_ips"]))
    assert 0.30 <= campus.height / demo.height <= 0.45
    remote = dt.datetime.fromisoformat(demo_meta["remote_from"])
    assert campus.filter(pl.col("timestamp") >= remote).height == 0
    top = demo.group_by("ip").len().sort("len", descending=True).head(2)
    assert set(top["ip"]) == set(demo_meta["campus_ips"])


def test_demo_navigation_paths(demo: pl.DataFrame) -> None:
    counts = dict(demo.group_by("path").len().rows())
    real = {"/": 50_313, "search/search_index.json": 19_519, "toc": 18_297, "index.html": 1_011}
    for path, target in real.items():
        assert target / 2 <= counts.get(path, 0) <= target * 2, path
    images = demo.filter(pl.col("path").str.contains(r"\.(jpg|svg|png)$"))
    assert images["path"].n_unique() >= 10


def test_demo_rhythm_and_renames(demo: pl.DataFrame) -> None:
    weekday = demo.filter(pl.col("timestamp").dt.weekday() <= 5)
    peak = weekday.group_by(pl.col("timestamp").dt.hour().alias("h")).len().sort("len").tail(1)
    assert peak["h"].item() in (9, 10)
    paths = set(demo["path"].drop_nulls().unique())
    assert "fundamentals/intro-to-data-science" in paths
    assert "1-fundamentals/1.1-intro-to-data-science" in paths
    assert "sql/mysql-overview" in paths and "3-sql/1-mysql-overview" in paths
    years = dict(demo.group_by(pl.col("timestamp").dt.year().alias("y")).len().rows())
    assert years[2018] < years[2019] < years[2020]


def test_demo_cross_program_drops_but_continues(
    demo: pl.DataFrame, demo_meta: dict, reference_cohorts: pl.DataFrame
) -> None:
    web = reference_cohorts.filter(
        pl.col("program_id").is_in([1, 2]) & ~pl.col("name").is_in(["Staff"])
    )["id"]
    module = pl.col("path").str.split("/").list.first().str.replace(r"^\d+-", "")
    students = demo.filter(pl.col("cohort_id").is_in(web.implode())).with_columns(
        module.is_in(list(DS_MODULES)).alias("ds")
    )
    cutoff = dt.datetime.fromisoformat(demo_meta["cross_program_cutoff"])
    online = dt.datetime.combine(DS_ONLINE, dt.time())
    before = students.filter(pl.col("timestamp").is_between(online, cutoff, closed="left"))
    after = students.filter(pl.col("timestamp") >= cutoff)
    rate_before = before["ds"].mean()
    rate_after = after["ds"].mean()
    assert rate_after < 0.3 * rate_before
    assert after["ds"].sum() > 0


def test_demo_labels(demo: pl.DataFrame, demo_labels: pl.DataFrame, demo_meta: dict) -> None:
    """Only the demo's injected behaviours are labelled (routine alumni reading and the routine
    no-cohort users are base behaviour), and each label describes rows that are really there."""
    kinds = dict(demo_labels.group_by("kind").len().rows())
    assert kinds == {
        "scraping": 4, "account_sharing": 3, "heavy_day": 6, "cohort_overuse": 3, "dropout": 8,
        "duplicate_identity": 6,
    }  # fmt: skip
    assert demo_meta["scenario"] == "demo"
    for label in demo_labels.filter(pl.col("kind") == "scraping").iter_rows(named=True):
        burst = demo.filter(
            (pl.col("user_id") == label["user_id"])
            & (pl.col("ip") == label["ip"])
            & pl.col("timestamp").is_between(label["start"], label["end"])
        )
        assert 150 <= burst.height <= 300
        assert burst["path"].n_unique() >= 100
        assert label["ip"] not in demo_meta["campus_ips"]
        assert label["start"].hour < 6
    for label in demo_labels.filter(pl.col("kind") == "account_sharing").iter_rows(named=True):
        assert demo.filter(pl.col("user_id") == label["user_id"])["ip"].n_unique() >= 30
    for label in demo_labels.filter(pl.col("kind") == "heavy_day").iter_rows(named=True):
        day = demo.filter(
            (pl.col("user_id") == label["user_id"])
            & (pl.col("timestamp").dt.date() == label["start"].date())
        )
        assert day.height >= 200
    for label in demo_labels.filter(pl.col("kind") == "dropout").iter_rows(named=True):
        last = demo.filter(pl.col("user_id") == label["user_id"])["timestamp"].max()
        assert last <= label["start"] + dt.timedelta(days=21)
    pairs = demo_labels.filter(pl.col("kind") == "duplicate_identity")
    for label in pairs.iter_rows(named=True):
        other = int(label["detail"].rsplit(" ", 1)[1])
        mine = set(demo.filter(pl.col("user_id") == label["user_id"])["ip"])
        theirs = set(demo.filter(pl.col("user_id") == other)["ip"])
        assert mine & theirs - set(demo_meta["campus_ips"])


@pytest.mark.slow
def test_the_demo_scenario_rewrites_the_embedded_demo(tmp_path: Path) -> None:
    """`simulate` with the default scenario writes data/demo byte for byte (logs, labels, metadata)."""
    simulate(seed=20210421, scale=1.0, out=tmp_path, reference_dir=REFERENCE, progress=False)
    assert _digest(tmp_path) == _digest(DEMO)
