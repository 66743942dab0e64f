"""The shared per student, lesson and window counts (`prepare.student_lesson_counts`, one sorted
packed key per view) against the plain group-by of the students' lesson views, and the counts the
questions read from them against the plain computations on the views."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.config import Config, load_config
from analysis.prepare import (
    LESSON_COUNT_COLUMNS,
    Prepared,
    group_lesson_counts,
    lesson_track_counts,
    prepare,
    student_lesson_counts,
    student_lesson_views,
    track_lesson_views,
    tracked_cohorts,
)
from analysis.questions import q1, q2, q3, q7
from analysis.report import materialize
from analysis.schema import LOG_SCHEMA
from analysis.sources.snapshot import Snapshot

KEYS = list(LESSON_COUNT_COLUMNS[:-1])


def _sorted(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    # Categorical columns compared as text (their codes sort in the order they were first seen)
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String)).sort(keys, nulls_last=True)


def _tiny() -> Prepared:
    """Two student cohorts and a staff one; a user in two cohorts, a null user, a lesson-kind page
    named "" (`/1-`) and one whose module is "" (`/1-/x`), two paths of one lesson, views
    before, while and after the enrollment, and a non-lesson page."""
    cohorts = pl.DataFrame(
        {
            "id": [3, 9, 4],
            "name": ["C3", "C9", "Staff"],
            "slack": ["#x", "#y", "#z"],
            "start_date": [dt.date(2019, 1, 1), dt.date(2019, 2, 1), dt.date(2019, 1, 1)],
            "end_date": [dt.date(2019, 6, 1), dt.date(2019, 6, 1), dt.date(2019, 6, 1)],
            "created_at": [None] * 3,
            "updated_at": [None] * 3,
            "deleted_at": [None] * 3,
            "program_id": [2, 1, 2],
        }
    )
    # (cohort, user, path, day, views)
    counts = [
        (3, 5, "/java-i/arrays", dt.date(2019, 3, 1), 4),
        (3, 5, "/java-i/arrays", dt.date(2018, 12, 1), 2),  # before
        (3, 5, "/java-i/arrays", dt.date(2019, 8, 1), 3),  # alumni
        (3, 5, "/java-i/loops", dt.date(2019, 3, 2), 1),
        (3, 7, "/1-java-i/arrays", dt.date(2019, 3, 1), 2),  # the same lesson, another path
        (3, None, "/java-i/arrays", dt.date(2019, 3, 1), 3),
        (3, None, "/java-i/arrays", dt.date(2019, 9, 1), 1),
        (3, 7, None, dt.date(2019, 3, 1), 2),  # no path: not a lesson view
        (3, 7, "/1-", dt.date(2019, 3, 1), 2),  # lesson ""
        (3, 7, "/1-/x", dt.date(2019, 3, 1), 1),  # module ""
        (9, 5, "/java-i/arrays", dt.date(2019, 3, 1), 1),
        (9, 1_000_000, "/spring/intro", dt.date(2019, 7, 1), 6),
        (9, 1_000_000, "/spring/intro", dt.date(2019, 1, 5), 1),
        (9, 8, "/", dt.date(2019, 3, 1), 2),  # navigation
        (4, 8, "/java-i/arrays", dt.date(2019, 3, 1), 5),  # staff
    ]
    rows = [
        (dt.datetime.combine(day, dt.time(9)), path, user, cohort, "203.0.113.5")
        for cohort, user, path, day, n in counts
        for _ in range(n)
    ]
    logs = pl.DataFrame(rows, schema=LOG_SCHEMA, orient="row")
    return prepare(Snapshot.from_frames(logs, cohorts), load_config(environ={}))


def _with_null_lesson(prepared: Prepared) -> Prepared:
    """`prepared` with every other view's lesson nulled (a lesson view without a name)."""
    views = (
        prepared.views.with_row_index("_n")
        .with_columns(
            # the lesson's labels with it
            pl.when(pl.col("_n") % 2 == 0).then(pl.col(name)).alias(name)
            for name in ("lesson", "lesson_title", "module")
        )
        .drop("_n")
    )
    return dataclasses.replace(prepared, views=views.collect().lazy(), path_labels=None)


def _same_counts(prepared: Prepared) -> pl.DataFrame:
    got = student_lesson_counts(prepared).collect()
    plain = group_lesson_counts(student_lesson_views(prepared)).collect()
    assert got.columns == list(LESSON_COUNT_COLUMNS)
    assert got.schema == plain.select(LESSON_COUNT_COLUMNS).schema
    assert_frame_equal(_sorted(got, KEYS), _sorted(plain.select(LESSON_COUNT_COLUMNS), KEYS))
    return got


def test_packed_counts_match_the_group_by() -> None:
    prepared = _tiny()
    got = _sorted(_same_counts(prepared), KEYS)
    counts = {
        (row["cohort_id"], row["user_id"], row["lesson"], row["window"]): row["views"]
        for row in got.iter_rows(named=True)
    }
    assert counts[(3, 5, "java-i/arrays", "active")] == 4
    assert counts[(3, 5, "java-i/arrays", "before")] == 2
    assert counts[(3, 5, "java-i/arrays", "alumni")] == 3
    assert counts[(3, 7, "java-i/arrays", "active")] == 2
    assert counts[(3, None, "java-i/arrays", "active")] == 3
    assert counts[(3, None, "java-i/arrays", "alumni")] == 1
    assert counts[(9, 1_000_000, "spring/intro", "alumni")] == 6
    assert counts[(9, 1_000_000, "spring/intro", "before")] == 1
    assert not any(cohort == 4 for cohort, *_ in counts)  # staff
    assert counts[(3, 7, "", "active")] == 2
    assert counts[(3, 7, "/x", "active")] == 1
    assert sum(counts.values()) == 4 + 2 + 3 + 1 + 2 + 2 + 1 + 3 + 1 + 1 + 6 + 1


def test_packed_counts_with_null_lessons_match_the_group_by() -> None:
    prepared = _with_null_lesson(materialize(_tiny()))
    got = _same_counts(prepared)
    assert got.get_column("lesson").null_count() > 0
    assert got.get_column("user_id").null_count() > 0


def test_counts_on_plain_views_match_the_group_by(
    demo_snapshot: Snapshot, demo_config: Config
) -> None:
    """The packed key on the demo (materialized, as analyze runs) and the group-by fallback (views
    whose lesson is text) give the same rows."""
    prepared = materialize(prepare(demo_snapshot, demo_config))
    packed = _same_counts(prepared)
    text = dataclasses.replace(
        prepared,
        views=prepared.views.with_columns(pl.col("lesson").cast(pl.String)),
        path_labels=None,
    )
    grouped = student_lesson_counts(text).collect()
    assert_frame_equal(
        _sorted(grouped, KEYS),
        _sorted(packed.with_columns(pl.col("lesson").cast(pl.String)), KEYS),
    )


# --- what the questions read from the counts, against the plain computations on the views ---------


def _named(views: pl.LazyFrame) -> pl.LazyFrame:
    return views.filter(pl.col("lesson").is_not_null() & (pl.col("lesson") != ""))


def _reader_counts_by_list(enrolled: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`q2._reader_counts` by a list of readers (one user id per view) per (cohort, lesson)."""
    readers = pl.col("_readers")
    pairs_raw, students = pl.collect_all(
        [
            enrolled.group_by("cohort_id", "lesson")
            .agg(
                pl.len().cast(pl.Int64).alias("views"),
                pl.col("user_id").alias("_readers"),
                pl.col("lesson_title").first(),
            )
            .select(
                "cohort_id",
                "lesson",
                "views",
                readers.list.eval(pl.element().unique_counts().max())
                .list.first()
                .cast(pl.Int64)
                .alias("top_student_views"),
                readers.list.n_unique().cast(pl.Int64).alias("readers"),
                "lesson_title",
            ),
            enrolled.group_by("cohort_id").agg(
                pl.col("user_id").n_unique().cast(pl.Int64).alias("students")
            ),
        ]
    )
    return pairs_raw, students


def _questions_match(prepared: Prepared, config: Config) -> None:
    views = student_lesson_views(prepared)
    # question 1: views per cohort and lesson
    got = q1._cohort_lesson_views(prepared).collect()
    plain = (
        _named(views)
        .group_by("cohort_id", "lesson", "lesson_title")
        .agg(pl.len().cast(pl.UInt32).alias("views"))
        .collect()
    )
    assert_frame_equal(
        _sorted(got, ["cohort_id", "lesson"]), _sorted(plain, ["cohort_id", "lesson"])
    )
    # question 2: readers while enrolled, by a list of readers per cohort and lesson
    enrolled = _named(views).filter(pl.col("window") == "active")
    plain_pairs, plain_students = _reader_counts_by_list(enrolled)
    pairs, students = q2._reader_counts(prepared)
    assert_frame_equal(
        _sorted(pairs, ["cohort_id", "lesson"]), _sorted(plain_pairs, ["cohort_id", "lesson"])
    )
    assert_frame_equal(students.sort("cohort_id"), plain_students.sort("cohort_id"))
    # question 3: lesson views and distinct lessons per enrollment while enrolled
    keys = ["user_id", "cohort_id"]
    got = q3._lesson_activity(prepared).collect()
    plain = (
        views.filter(pl.col("window") == "active")
        .group_by(keys)
        .agg(
            pl.len().cast(pl.UInt32).alias("views"),
            pl.col("lesson").drop_nulls().n_unique().cast(pl.UInt32).alias("lessons"),
        )
        .collect()
    )
    assert_frame_equal(_sorted(got, keys), _sorted(plain, keys))
    # the lesson homes' views per track (question 5)
    keys = ["lesson", "track"]
    got = lesson_track_counts(prepared).collect()
    plain = (
        track_lesson_views(prepared)
        .join(tracked_cohorts(prepared).lazy(), on="cohort_id")
        .group_by(pl.col("lesson").cast(pl.String), "track")
        .agg(
            pl.len().cast(pl.Int64).alias("views"),
            (pl.col("window") == "active").sum().cast(pl.Int64).alias("enrolled_views"),
        )
        .select(
            "lesson",
            pl.col("lesson").str.split("/").list.first().alias("module"),
            "track",
            "views",
            "enrolled_views",
        )
        .collect()
    )
    assert_frame_equal(_sorted(got, keys), _sorted(plain, keys))
    # question 7: views, readers and cohorts per program and lesson
    students_table = prepared.cohorts.filter(pl.col("role") == "student")
    keys = ["program", "lesson"]
    got = q7._lesson_readers(prepared, students_table).collect()
    triples = (
        _named(views)
        .group_by("cohort_id", "lesson", "user_id")
        .agg(pl.len().cast(pl.UInt32).alias("views"))
        .join(students_table.lazy().select("cohort_id", "program", "track"), on="cohort_id")
    )
    plain = (
        triples.group_by("program", "lesson")
        .agg(
            pl.col("views").sum().cast(pl.UInt32).alias("views"),
            pl.col("user_id").n_unique().cast(pl.UInt32).alias("users"),
            pl.col("cohort_id").n_unique().cast(pl.UInt32).alias("cohorts"),
            pl.col("track").first(),
        )
        .collect()
    )
    assert_frame_equal(_sorted(got, keys), _sorted(plain, keys))


def test_questions_counts_match_on_tiny_data() -> None:
    prepared = materialize(_tiny())
    _questions_match(prepared, load_config(environ={}))
    _questions_match(_with_null_lesson(prepared), load_config(environ={}))


@pytest.mark.parametrize("materialized", [False, True])
def test_questions_counts_match_on_the_demo(
    demo_snapshot: Snapshot, demo_config: Config, materialized: bool
) -> None:
    prepared = prepare(demo_snapshot, demo_config)
    _questions_match(materialize(prepared) if materialized else prepared, demo_config)


def test_question_2_readers_on_tiny_data() -> None:
    prepared = _tiny()
    pairs, students = q2._reader_counts(prepared)
    arrays = pairs.filter((pl.col("cohort_id") == 3) & (pl.col("lesson") == "java-i/arrays"))
    # while enrolled: users 5 (4 views), 7 (2, by another path) and the null user (3)
    assert arrays.select("views", "top_student_views", "readers").row(0) == (9, 4, 3)
    # cohort 3: users 5, 7 (the lessons "/x" and java-i/arrays) and the null user; cohort 9:
    # user 5 (user 1,000,000 read before and after the enrollment only)
    assert dict(students.iter_rows()) == {3: 3, 9: 1}
