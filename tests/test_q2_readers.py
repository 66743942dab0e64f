"""Question 2's reader counts by one sorted integer key per view (`_reader_counts`) against the plain
list of readers per (cohort, lesson) (`_reader_counts_by_list`): the same rows and values."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from analysis.config import Config, load_config
from analysis.prepare import Prepared, prepare, student_lesson_views
from analysis.questions import q2
from analysis.schema import LOG_SCHEMA
from analysis.sources.snapshot import Snapshot


def _enrolled(prepared: Prepared) -> pl.LazyFrame:
    return student_lesson_views(prepared).filter(
        (pl.col("window") == "active") & pl.col("lesson").is_not_null() & (pl.col("lesson") != "")
    )


def _same(prepared: Prepared) -> None:
    enrolled = _enrolled(prepared)
    assert q2._reader_key(prepared, enrolled) is not None  # the fast path runs
    fast = q2._reader_counts(prepared, enrolled)
    plain = q2._reader_counts_by_list(enrolled)
    for got, expected, keys in zip(
        fast, plain, (["cohort_id", "lesson"], ["cohort_id"]), strict=True
    ):
        assert_frame_equal(got.sort(keys), expected.sort(keys))


def _tiny() -> Prepared:
    cohorts = pl.DataFrame(
        {
            "id": [3, 9],
            "name": ["C3", "C9"],
            "slack": ["#x", "#y"],
            "start_date": [dt.date(2019, 1, 1)] * 2,
            "end_date": [dt.date(2019, 6, 1)] * 2,
            "created_at": [None] * 2,
            "updated_at": [None] * 2,
            "deleted_at": [None] * 2,
            "program_id": [2, 2],
        }
    )
    at = dt.datetime(2019, 3, 1, 9)
    # (cohort, user, path, views): user 5 in both cohorts, a null user twice, a non-lesson page
    counts = [
        (3, 5, "/java-i/arrays", 4),
        (3, 5, "/java-i/loops", 1),
        (3, 7, "/java-i/arrays", 2),
        (3, None, "/java-i/arrays", 3),
        (9, 5, "/java-i/arrays", 1),
        (9, 1_000_000, "/spring/intro", 6),
        (9, 8, "/", 2),
    ]
    rows = [
        (at, path, user, cohort, "203.0.113.5")
        for cohort, user, path, n in counts
        for _ in range(n)
    ]
    logs = pl.DataFrame(
        rows,
        schema=LOG_SCHEMA,
        orient="row",
    )
    return prepare(Snapshot.from_frames(logs, cohorts), load_config(environ={}))


def test_packed_reader_counts_match_the_reader_lists() -> None:
    prepared = _tiny()
    _same(prepared)
    pairs, students = q2._reader_counts(prepared, _enrolled(prepared))
    arrays = pairs.filter((pl.col("cohort_id") == 3) & (pl.col("lesson") == "java-i/arrays"))
    # users 5, 7 and the null user: 9 views, the heaviest reader 4, three readers
    assert arrays.select("views", "top_student_views", "readers").row(0) == (9, 4, 3)
    assert dict(students.iter_rows()) == {3: 3, 9: 2}


def test_packed_reader_counts_match_on_the_demo(
    demo_snapshot: Snapshot, demo_config: Config
) -> None:
    _same(prepare(demo_snapshot, demo_config))
