"""Question 1: the consistent leader per program, on tiny frames where it differs from the volume leader."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import polars as pl
import pytest

from analysis.charts.q1 import CHARTS
from analysis.config import Config, load_config
from analysis.questions import q1
from analysis.sources.snapshot import Snapshot


def _cohorts(ids: list[int], program_id: int = 2, names: list[str] | None = None) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame(
        {
            "id": ids,
            "name": names or [f"C{i}" for i in ids],
            "slack": ["#x"] * n,
            "start_date": [dt.date(2019, 1, 1) + dt.timedelta(days=30 * i) for i in range(n)],
            "end_date": [dt.date(2019, 6, 1) + dt.timedelta(days=30 * i) for i in range(n)],
            "created_at": [None] * n,
            "updated_at": [None] * n,
            "deleted_at": [None] * n,
            "program_id": [program_id] * n,
        }
    )


def _logs(counts: list[tuple[int | None, int, str, int]]) -> pl.DataFrame:
    """(cohort_id, user_id, path, views) -> one row per view."""
    rows = [
        (dt.datetime(2019, 5, 1, 9), path, user, cohort, "203.0.113.5")
        for cohort, user, path, n in counts
        for _ in range(n)
    ]
    return pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )


def _config(top_k: int = 1, min_cohorts: int = 3) -> Config:
    base = load_config(environ={})
    return base.replace(q1=dataclasses.replace(base.q1, top_k=top_k, min_cohorts=min_cohorts))


# Cohort 1 hammers `big`; cohorts 2 and 3 both put `steady` first. Staff and no-cohort views of `big`
# must not count.
COUNTS = [
    (1, 1, "big", 100),
    (1, 1, "steady", 10),
    (1, 1, "other", 5),
    (2, 2, "steady", 10),
    (2, 2, "other", 5),
    (2, 2, "big", 1),
    (3, 3, "steady", 10),
    (3, 3, "other", 6),
    (9, 50, "big", 500),  # Staff
    (None, 60, "big", 500),  # no cohort
    (1, 1, "toc", 300),  # navigation, not a lesson
]


@pytest.fixture
def result() -> q1.Q1Result:
    cohorts = pl.concat([_cohorts([1, 2, 3]), _cohorts([9], names=["Staff"])])
    return q1.answer(Snapshot.from_frames(_logs(COUNTS), cohorts), _config(top_k=1))


def test_consistent_leader_beats_volume_leader(result: q1.Q1Result) -> None:
    leader = result.leaders.row(0, named=True)
    assert leader["program"] == "Java web dev"
    assert leader["lesson"] == "steady"
    assert (leader["cohorts_top_k"], leader["cohorts"]) == (2, 3)
    assert leader["views"] == 30
    assert leader["median_share"] == pytest.approx(10 / 16)
    assert leader["volume_leader"] == "big"
    assert leader["volume_leader_views"] == 101  # staff and no-cohort views excluded
    assert leader["leader_differs"] is True
    assert leader["lesson_title"] == "Steady" and leader["volume_leader_title"] == "Big"
    assert "Steady" in result.answer and "2 of 3" in result.answer
    assert any("Big" in s and "more views" in s for s in result.supporting)


def test_ranking_orders_by_consistency_then_median_share(result: q1.Q1Result) -> None:
    ranking = result.ranking.filter(pl.col("program") == "Java web dev")
    assert ranking["lesson"].to_list() == ["steady", "big", "other"]
    # `big` is absent from cohort 3: its median share counts that cohort as 0.
    big = ranking.filter(pl.col("lesson") == "big").row(0, named=True)
    assert big["median_share"] == pytest.approx(1 / 16)
    assert big["volume_rank"] == 1
    assert "toc" not in ranking["lesson"].to_list()


def test_top_k_ties_share_the_better_rank() -> None:
    counts = [(c, c, lesson, 5) for c in (1, 2, 3) for lesson in ("a", "b")]
    res = q1.answer(Snapshot.from_frames(_logs(counts), _cohorts([1, 2, 3])), _config(top_k=1))
    ranking = res.ranking.sort("lesson")
    assert ranking["cohorts_top_k"].to_list() == [3, 3]
    assert res.leaders["lesson"].item() == "a"  # full tie: alphabetical, deterministic


def test_program_with_too_few_cohorts_is_skipped() -> None:
    cohorts = pl.concat([_cohorts([1, 2, 3]), _cohorts([4], program_id=3, names=["Ada"])])
    counts = [(c, c, "x", 3) for c in (1, 2, 3)] + [(4, 9, "fundamentals/intro", 50)]
    res = q1.answer(Snapshot.from_frames(_logs(counts), cohorts), _config())
    assert res.leaders["program"].to_list() == ["Java web dev"]
    assert res.programs_skipped == ["Data science"]
    assert any("Data science" in s for s in res.supporting)


def test_empty_input_answers_without_error() -> None:
    res = q1.answer(Snapshot.from_frames(_logs([(1, 1, "toc", 3)]), _cohorts([1])), _config())
    assert res.leaders.is_empty()
    assert "No student lesson views" in res.answer
    json.dumps(res.to_json())
    for builder in CHARTS:
        builder(res).to_dict()


def test_result_serialises_and_tables_are_compact(result: q1.Q1Result) -> None:
    data = json.loads(json.dumps(result.to_json()))
    assert data["number"] == 1 and data["leaders"][0]["lesson"] == "steady"
    assert data["parameters"] == {"top_k": 1, "min_cohorts": 3}
    for table in result.tables().values():
        assert 0 < table.height <= 15
    assert "Steady" in result.headline()
    # tables show the lesson's title and keep its path in a column of its own
    leaders = result.tables()["Most consistent lesson per program"].row(0, named=True)
    assert (leaders["Most consistent lesson"], leaders["Path"]) == ("Steady", "steady")


def test_every_chart_builds(result: q1.Q1Result) -> None:
    for builder in CHARTS:
        spec = builder(result).to_dict()
        assert spec["description"]
        title = spec["title"]["text"]
        assert "Steady" in (" ".join(title) if isinstance(title, list) else title)
        assert spec["width"] == "container"  # fits its column at any width
        assert "url" not in json.dumps(spec.get("data", {}))


@pytest.mark.slow
def test_golden_demo(demo_snapshot: Snapshot, demo_config: Config) -> None:
    res = q1.answer(demo_snapshot, demo_config)
    leaders = {r["program"]: r for r in res.leaders.iter_rows(named=True)}
    assert {"Java web dev", "Data science"} <= set(leaders)
    java = leaders["Java web dev"]
    # Calibrated to the real log: javascript-i dominates web development in most cohorts.
    assert java["lesson"] == "javascript-i"
    assert java["consistency"] >= 0.5
    assert res.ranking.filter(pl.col("program") == "Java web dev").height == q1.RANKING_SIZE
    assert "simulated" in " ".join(res.caveats)
    for builder in CHARTS:
        builder(res).to_dict()
    # PHP's cohorts all ended before the log begins: seen only as graduates, and said so
    php = leaders["PHP web dev"]
    assert php["graduates_only"] and not java["graduates_only"]
    assert any("graduates only" in s for s in res.supporting if s.startswith("PHP web dev"))
    # module roots and index pages are not lessons
    assert not {"content", "toc", ""} & set(res.ranking["lesson"].to_list())
    assert not any(lesson.startswith("content/") for lesson in res.ranking["lesson"].to_list())


def test_a_program_seen_only_as_graduates_is_said_so() -> None:
    """Cohorts that all ended before the first view: their reading is graduates', and the page says so."""
    cohorts = _cohorts([1, 2, 3]).with_columns(
        pl.lit(dt.date(2017, 1, 1)).alias("start_date"),
        pl.lit(dt.date(2017, 6, 1)).alias("end_date"),
    )
    res = q1.answer(Snapshot.from_frames(_logs(COUNTS), cohorts), _config())
    assert res.leaders["graduates_only"].to_list() == [True]
    assert any("graduates only" in s for s in res.supporting)
    assert any("graduates' reading" in c for c in res.caveats)


def test_agreeing_leaders_read_as_one_sentence() -> None:
    ds = [(c, c, "fundamentals/intro", 4) for c in (4, 5, 6)] + [
        (c, c, "fundamentals/stats", 1) for c in (4, 5, 6)
    ]
    java = [(c, c, lesson, n) for c in (1, 2, 3) for lesson, n in (("steady", 10), ("other", 2))]
    cohorts = pl.concat([_cohorts([1, 2, 3]), _cohorts([4, 5, 6], program_id=3)])
    res = q1.answer(Snapshot.from_frames(_logs(java + ds), cohorts), _config())
    assert "In every ranked program the most consistent lesson is also the most viewed." in (
        res.supporting
    )
    # Java's leader differs from its volume leader (COUNTS): the bullet says which has more views.
    cohorts = pl.concat([cohorts, _cohorts([9], names=["Staff"])])
    res = q1.answer(Snapshot.from_frames(_logs(COUNTS + ds), cohorts), _config())
    assert any(
        s.startswith("In Java web dev, Big has more views (101 against 30)") for s in res.supporting
    )
    assert not any("every ranked program" in s for s in res.supporting)
