"""Question 3's activity per enrollment (`_activity`: active days from prepare's per user, address
and day rows, lesson views from its per student, lesson and window counts) against the plain
group-bys of the views: the same rows and values."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from analysis.config import Config, load_config
from analysis.prepare import Prepared, prepare, student_lesson_views
from analysis.questions import q3
from analysis.schema import LOG_SCHEMA
from analysis.sources.snapshot import Snapshot


def _same(prepared: Prepared, config: Config) -> list[pl.DataFrame]:
    fast = pl.collect_all(q3._activity(prepared, config))
    keys = ["user_id", "cohort_id"]
    # the lesson views and lessons (from prepare's per student, lesson and window counts) against
    # the views themselves
    lessons = (
        student_lesson_views(prepared)
        .filter(pl.col("window") == "active")
        .group_by(keys)
        .agg(
            pl.len().cast(pl.UInt32).alias("views"),
            pl.col("lesson").drop_nulls().n_unique().cast(pl.UInt32).alias("lessons"),
        )
        .collect()
    )
    # the active days (from prepare's per user, address and day rows) against the views themselves
    early = pl.col("date") <= pl.col("start_date") + pl.duration(days=config.q3.dropout_days)
    days = (
        prepared.views.filter((pl.col("role") == "student") & (pl.col("window") == "active"))
        .select(*keys, "date", "start_date")
        .unique()
        .group_by(keys)
        .agg(
            pl.len().cast(pl.UInt32).alias("active_days"),
            early.sum().cast(pl.UInt32).alias("early_days"),
        )
        .with_columns((pl.col("active_days") - pl.col("early_days")).alias("late_active_days"))
        .collect()
    )
    for got, expected in zip(fast, [days, lessons], strict=True):
        assert_frame_equal(got.sort(keys), expected.sort(keys))
    return fast


def test_packed_activity_matches_the_group_by() -> None:
    cohorts = pl.DataFrame(
        {
            "id": [3, 9],
            "name": ["C3", "C9"],
            "slack": ["#x", "#y"],
            "start_date": [dt.date(2019, 1, 1), dt.date(2019, 2, 1)],
            "end_date": [dt.date(2019, 6, 1)] * 2,
            "created_at": [None] * 2,
            "updated_at": [None] * 2,
            "deleted_at": [None] * 2,
            "program_id": [2, 2],
        }
    )
    # (cohort, user, path, day, hour): user 5 in both cohorts, a null user, a view before midnight
    # and after it, days early (within dropout_days of the start) and late, a non-lesson page
    rows = [
        (3, 5, "/java-i/arrays", dt.date(2019, 1, 2), 9),
        (3, 5, "/java-i/arrays", dt.date(2019, 1, 2), 23),
        (3, 5, "/java-i/loops", dt.date(2019, 1, 3), 0),
        (3, 5, "/", dt.date(2019, 4, 3), 10),
        (3, None, "/java-i/arrays", dt.date(2019, 3, 1), 9),
        (9, 5, "/java-i/arrays", dt.date(2019, 3, 1), 9),
        (9, 1_000_000, "/spring/intro", dt.date(2019, 2, 2), 9),
        (9, 1_000_000, "/spring/intro", dt.date(2019, 5, 30), 9),
        (None, 8, "/", dt.date(2019, 6, 30), 9),
    ]
    logs = pl.DataFrame(
        [
            (dt.datetime.combine(day, dt.time(hour)), path, user, cohort, "203.0.113.5")
            for cohort, user, path, day, hour in rows
        ],
        schema=LOG_SCHEMA,
        orient="row",
    )
    config = load_config(environ={})
    days, lessons = _same(prepare(Snapshot.from_frames(logs, cohorts), config), config)
    five = days.filter((pl.col("user_id") == 5) & (pl.col("cohort_id") == 3))
    assert five.select("active_days", "early_days", "late_active_days").row(0) == (3, 2, 1)
    five = lessons.filter((pl.col("user_id") == 5) & (pl.col("cohort_id") == 3))
    assert five.select("views", "lessons").row(0) == (3, 2)


def test_packed_activity_matches_on_the_demo(demo_snapshot: Snapshot, demo_config: Config) -> None:
    _same(prepare(demo_snapshot, demo_config), demo_config)
