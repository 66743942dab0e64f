"""Question 3: students far below their cohort peers, drop-outs and possible second accounts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import polars as pl
import pytest

from analysis.charts.q3 import CHARTS
from analysis.config import load_config
from analysis.questions import q3
from analysis.sources.snapshot import Snapshot

START = dt.date(2019, 1, 7)
END = dt.date(2019, 6, 1)
DATA_START = dt.datetime(2019, 1, 1, 8)
DATA_END = dt.datetime(2019, 6, 20, 17)


def _cohorts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, 3, 9],
            "name": ["Ada", "Bayes", "Kings", "Staff"],
            "slack": ["#x"] * 4,
            "start_date": [START, dt.date(2019, 6, 10), dt.date(2018, 1, 1), dt.date(2014, 2, 4)],
            "end_date": [END, dt.date(2019, 11, 1), dt.date(2018, 6, 1), dt.date(2014, 2, 4)],
            "created_at": [None] * 4,
            "updated_at": [None] * 4,
            "deleted_at": [None] * 4,
            "program_id": [2, 3, 1, 2],
        }
    )


def _spread(
    user: int,
    cohort: int | None,
    views: int,
    first: dt.date,
    last: dt.date,
    ip: str,
    path: str = "java-i",
) -> list[tuple]:
    """`views` rows spread evenly from `first` to `last`."""
    span = (last - first).days
    return [
        (
            dt.datetime.combine(
                first + dt.timedelta(days=span * i // max(views - 1, 1)), dt.time(10)
            )
            + dt.timedelta(minutes=i % 50),
            path if i % 3 or path == "toc" else f"{path}/lesson-{i % 4}",
            user,
            cohort,
            ip,
        )
        for i in range(views)
    ]


def _logs() -> pl.DataFrame:
    rows: list[tuple] = []
    # six ordinary students of Ada: 90..110 lesson views over the whole window, own home IP
    for user, views in zip(range(1, 7), (90, 95, 100, 105, 110, 100), strict=True):
        rows += _spread(user, 1, views, START, END, f"198.51.100.{user}")
    # everyone also reads from a busy shared IP (the classroom): never identity evidence
    for user in range(1, 8):
        rows += _spread(user, 1, 5, START, END, "203.0.113.1")
    rows += _spread(7, 1, 6, START, END, "198.51.100.7")  # light reader all along
    rows += _spread(8, 1, 25, START, START + dt.timedelta(days=9), "198.51.100.8")  # drop-out
    # one person, two ids: 10 stops on day 30, 11 starts on day 40 from the same home IP
    rows += _spread(10, 1, 40, START, START + dt.timedelta(days=30), "192.0.2.10")
    rows += _spread(11, 1, 70, START + dt.timedelta(days=40), END, "192.0.2.10")
    # 12 only opens navigation pages while enrolled
    rows += _spread(12, 1, 30, START, END, "198.51.100.12", path="toc")
    rows += _spread(20, 2, 30, dt.date(2019, 6, 10), dt.date(2019, 6, 20), "198.51.100.20")
    rows += _spread(30, 3, 10, dt.date(2019, 1, 2), dt.date(2019, 3, 1), "198.51.100.30")
    rows += _spread(40, 9, 50, START, END, "198.51.100.40")  # staff: never judged
    rows += [
        (DATA_START, "/", 99, None, "198.51.100.99"),
        (DATA_END, "/", 99, None, "198.51.100.99"),
    ]
    return pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )


@pytest.fixture(scope="module")
def result() -> q3.Q3Result:
    return q3.answer(Snapshot.from_frames(_logs(), _cohorts()), load_config(environ={}))


def _student(result: q3.Q3Result, user: int) -> dict:
    rows = result.students.filter(pl.col("user_id") == user)
    assert rows.height == 1, f"user {user} not flagged"
    return rows.row(0, named=True)


def test_only_eligible_students_are_judged(result: q3.Q3Result) -> None:
    assert result.eligible_students == 11
    assert result.distribution["students"].sum() == 11  # binned: bounded whatever the students
    assert result.too_recent["cohort"].to_list() == ["Bayes"]
    assert result.before_data["cohort"].to_list() == ["Kings"]
    assert result.by_program["program"].to_list() == ["Java web dev"]


def test_low_users_flagged_and_ordinary_ones_not(result: q3.Q3Result) -> None:
    low = set(result.students.filter(pl.col("low_usage"))["user_id"].to_list())
    assert {7, 8, 12} <= low
    assert low.isdisjoint({1, 2, 3, 4, 5, 6, 11})
    assert result.low_students == len(low)
    low_rows = result.students.filter(pl.col("low_usage"))
    shares = low_rows["share_of_median"].to_list()
    assert shares == sorted(shares)  # lowest first
    light = low_rows.filter(~pl.col("likely_dropout") & (pl.col("views") > 0))
    assert all(v <= -3.0 for v in light["robust_z"])
    assert all(v <= 0.2 for v in light["share_of_median"])


def test_profile_of_a_light_reader(result: q3.Q3Result) -> None:
    light = _student(result, 7)
    assert light["views"] == 6 + 5  # own IP and classroom IP, all while enrolled
    assert light["enrolled_days"] == (END - START).days + 1
    assert light["views_per_week"] == pytest.approx(11 / (light["enrolled_days"] / 7))
    assert light["ips"] == 2
    assert light["pattern"] == "Light reader"
    assert not light["likely_dropout"]
    assert light["first_access"].date() == START


def test_dropout_and_no_views(result: q3.Q3Result) -> None:
    drop = _student(result, 8)
    assert drop["likely_dropout"] and drop["pattern"] == "Likely drop-out"
    assert drop["last_access"].date() == START + dt.timedelta(days=9)
    assert drop["active_days"] == 10
    nav = _student(result, 12)
    assert nav["views"] == 0 and nav["lessons"] == 0
    assert nav["low_usage"] and nav["pattern"] == "No lesson views while enrolled"
    assert result.likely_dropouts == 1


def test_possible_same_person_pairs_both_ways_but_not_via_shared_ip(result: q3.Q3Result) -> None:
    assert _student(result, 10)["possible_same_person"] == [11]
    assert _student(result, 11)["possible_same_person"] == [10]
    assert not _student(result, 10)["likely_dropout"]  # continued under another id
    others = result.students.filter(~pl.col("user_id").is_in([10, 11]))
    assert others["possible_same_person"].list.len().sum() == 0
    assert result.same_person_pairs == 1


def test_sentences_carry_the_numbers(result: q3.Q3Result) -> None:
    assert result.answer.startswith(f"Yes: {result.low_students} of 11 students")
    assert "1 looks like a drop-out" in result.answer
    assert "1 pair of accounts" in result.answer
    assert len(result.answer.split()) <= 30
    assert 3 <= len(result.supporting) <= 5
    text = " ".join([result.answer, *result.supporting]).lower()
    assert not [w for w in ("robust", " z ", "mad", "quantile", "median") if w in text]
    assert result.parameters["low_z"] == 3.0
    json.dumps(result.to_json())
    tables = result.tables()
    assert all(t.height <= 15 for t in tables.values())
    assert "User" in tables["Students who hardly use the curriculum"].columns
    # one field for each number: the answer's counts are the tables' rows and the chart's title
    assert tables["Students who hardly use the curriculum"].height == result.low_students
    assert tables["Pairs of accounts that may be one person"].height == result.same_person_pairs
    assert tables["By program"]["Pairs of accounts that may be one person"].sum() == 1
    assert "shared account" not in " ".join([result.answer, *result.supporting]).lower()
    title = CHARTS[1](result).to_dict()["title"]["text"]
    assert f"of the {result.low_students} students" in title


def _second_cohort_logs() -> pl.DataFrame:
    """Cohort 2 given Ada's dates: six ordinary students, a drop-out who fades to a trickle, and a
    second account with two stray early visits (under the 5 % bulk quantile)."""
    day = dt.timedelta(days=1)
    rows: list[tuple] = []
    for user in range(51, 57):
        rows += _spread(user, 2, 100, START, END, f"198.51.100.{user}")
    rows += _spread(60, 2, 30, START, START + 10 * day, "198.51.100.60")
    rows += _spread(60, 2, 3, START + 40 * day, END, "198.51.100.60")
    rows += _spread(61, 2, 60, START, START + 30 * day, "192.0.2.61")
    rows += _spread(62, 2, 80, START + 35 * day, END, "192.0.2.61")
    rows += _spread(62, 2, 2, START + 5 * day, START + 6 * day, "192.0.2.61")
    rows += [(DATA_START, "/", 99, None, "198.51.100.99"), (DATA_END, "/", 99, None, "x")]
    logs = pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )
    return logs.with_columns(pl.col("ip").replace("x", "198.51.100.99"))


def _ada_dates() -> pl.DataFrame:
    return _cohorts().with_columns(
        pl.when(pl.col("id") == 2)
        .then(pl.lit(START))
        .otherwise(pl.col("start_date"))
        .alias("start_date"),
        pl.when(pl.col("id") == 2)
        .then(pl.lit(END))
        .otherwise(pl.col("end_date"))
        .alias("end_date"),
    )


def test_trickle_dropout_and_stray_visits_of_a_second_account() -> None:
    res = q3.answer(
        Snapshot.from_frames(_second_cohort_logs(), _ada_dates()), load_config(environ={})
    )
    trickle = _student(res, 60)
    assert trickle["low_usage"] and trickle["likely_dropout"]
    assert trickle["last_access"].date() > START + dt.timedelta(days=21)  # not a hard stop
    assert _student(res, 61)["possible_same_person"] == [62]
    assert not _student(res, 61)["likely_dropout"]
    assert any("0 stopped within 21 days" in s and "1 faded" in s for s in res.supporting)
    base = load_config(environ={})
    no_bulk = base.replace(q3=dataclasses.replace(base.q3, bulk_quantile=0.0))
    strict = q3.answer(Snapshot.from_frames(_second_cohort_logs(), _ada_dates()), no_bulk)
    assert strict.same_person_pairs == 0  # the stray visits overlap the first account's activity
    no_trickle = base.replace(q3=dataclasses.replace(base.q3, dropout_max_rate_ratio=0.0))
    plain = q3.answer(Snapshot.from_frames(_second_cohort_logs(), _ada_dates()), no_trickle)
    # without the fade, a third of the cohort's median is not hardly using the curriculum
    assert 60 not in plain.students["user_id"].to_list()


def test_cohort_with_too_few_peers_uses_program() -> None:
    logs = pl.concat([_logs().filter(pl.col("user_id").is_in([1, 2, 3, 7]))])
    res = q3.answer(Snapshot.from_frames(logs, _cohorts()), load_config(environ={}))
    assert res.eligible_students == 4
    assert set(res.students.filter(pl.col("low_usage"))["user_id"].to_list()) == {7}
    assert res.students["peer_group"].to_list() == ["program"]


def test_threshold_comes_from_config() -> None:
    base = load_config(environ={})
    strict = base.replace(q3=dataclasses.replace(base.q3, low_z=100.0))
    res = q3.answer(Snapshot.from_frames(_logs(), _cohorts()), strict)
    low = set(res.students.filter(pl.col("low_usage"))["user_id"].to_list())
    assert low == {8, 12}  # only the drop-out and the zero-view student remain
    assert res.parameters["low_z"] == 100.0


def test_empty_input_answers_without_error() -> None:
    logs = _logs().filter(pl.col("cohort_id").is_null() | (pl.col("cohort_id") == 9))
    res = q3.answer(Snapshot.from_frames(logs, _cohorts()), load_config(environ={}))
    assert res.students.is_empty() and res.eligible_students == 0
    assert res.answer.startswith("Cannot tell yet")
    for build in CHARTS:
        build(res).to_dict()


def test_every_chart_builds(result: q3.Q3Result) -> None:
    for build in CHARTS:
        spec = build(result).to_dict()
        assert spec.get("description")


def _cohort_of(views: list[int], cohort: int = 1) -> list[tuple]:
    """Students 100.. of `cohort` reading `views[i]` lesson pages over Ada's whole window."""
    rows: list[tuple] = []
    for i, n in enumerate(views):
        rows += _spread(100 + i, cohort, n, START, END, f"198.51.{100 + i}.1")
    return rows


def _edges() -> list[tuple]:
    return [
        (DATA_START, "/", 99, None, "198.51.100.99"),
        (DATA_END, "/", 99, None, "198.51.100.99"),
    ]


def _judge(rows: list[tuple]) -> q3.Q3Result:
    logs = pl.DataFrame(
        rows + _edges(), schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )
    return q3.answer(Snapshot.from_frames(logs, _cohorts()), load_config(environ={}))


def test_the_ordinary_low_tail_is_not_flagged() -> None:
    """A tight cohort (most read 95-105 pages, a few 45-60: far out in z, but half the median) and a
    skewed one (10 to 1,000 pages, evenly spread on a log scale: far below the median, but ordinary for
    that cohort) have nobody who hardly uses the curriculum."""
    tight = [100 + (i % 11) - 5 for i in range(26)] + [45, 50, 60]
    res = _judge(_cohort_of(tight))
    assert res.eligible_students == len(tight)
    assert res.low_students == 0, res.students
    skewed = [round(10 * 100 ** (i / 29)) for i in range(30)]
    res = _judge(_cohort_of(skewed))
    assert res.low_students == 0, res.students
    assert res.answer.startswith("No: none of the 30 students")


def test_drop_outs_and_near_zero_users_are_flagged_in_a_skewed_cohort() -> None:
    skewed = [round(10 * 100 ** (i / 29)) for i in range(30)]
    rows = _cohort_of(skewed)
    rows += _spread(8, 1, 40, START, START + dt.timedelta(days=12), "198.51.100.8")  # stops
    rows += _spread(9, 1, 2, START, END, "198.51.100.9")  # two pages in five months
    res = _judge(rows)
    low = res.students.filter(pl.col("low_usage"))
    assert set(low["user_id"].to_list()) == {8, 9}
    assert low.filter(pl.col("user_id") == 8)["likely_dropout"].item()
    assert not low.filter(pl.col("user_id") == 9)["likely_dropout"].item()


def test_distribution_chart_is_binned() -> None:
    rows = _cohort_of([100 + (i % 7) for i in range(60)])
    res = _judge(rows)
    assert res.distribution["students"].sum() == 60
    assert res.distribution.height <= len(q3.SHARE_BINS) * 2
    spec = CHARTS[0](res).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert len(values) <= len(q3.SHARE_BINS) * 2


@pytest.mark.slow
def test_golden_demo(demo_snapshot, demo_config, demo_labels) -> None:
    res = q3.answer(demo_snapshot, demo_config)
    dropouts = set(demo_labels.filter(pl.col("kind") == "dropout")["user_id"].to_list())
    assert dropouts, "demo labels hold no dropout"
    found = set(res.students.filter(pl.col("likely_dropout"))["user_id"].to_list())
    assert len(dropouts & found) >= len(dropouts) - 1
    assert res.low_students <= 3 * len(dropouts)
    # most likely drop-outs found are injected ones
    assert len(found & dropouts) / max(len(found), 1) >= 0.5
    dup_users = set(demo_labels.filter(pl.col("kind") == "duplicate_identity")["user_id"].to_list())
    assert dup_users
    pairs = res.students.select("user_id", "possible_same_person").explode("possible_same_person")
    named = set(pairs.drop_nulls()["user_id"].to_list())
    assert len(dup_users & named) / len(dup_users) >= 0.8
    assert res.students["user_id"].dtype == pl.Int64
    for build in CHARTS:
        build(res).to_dict()
