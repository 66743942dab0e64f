"""Question 5's readers per day and track (`_daily_readers`: the track as a number, the day from the
timestamp's integer) against the plain group-by on the date and the track's name."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from analysis.questions import q5


def _views() -> pl.LazyFrame:
    at = dt.datetime(2019, 3, 1, 23, 59, 59)
    rows = [
        (at, 1, 10),
        (at, 1, 10),  # one reader twice
        (at + dt.timedelta(seconds=1), 1, 10),  # the next day
        (at, 2, 10),
        (at, None, 10),  # a null user is one reader
        (at, 3, 20),
        (at, 1, 20),  # a reader in both tracks
        (dt.datetime(1969, 12, 31, 12), 4, 20),  # before 1970
    ]
    frame = pl.DataFrame(rows, schema=["timestamp", "user_id", "cohort_id"], orient="row")
    return frame.with_columns(pl.col("timestamp").dt.date().alias("date")).lazy()


def test_daily_readers_match_the_group_by_on_date_and_track_name() -> None:
    of_track = {
        "java": pl.col("cohort_id").is_in([10]),
        "ds": pl.col("cohort_id").is_in([20]),
    }
    name = pl.when(of_track["java"]).then(pl.lit("java")).when(of_track["ds"]).then(pl.lit("ds"))
    plain = (
        _views()
        .group_by("date", name.alias("track"))
        .agg(
            pl.len().cast(pl.Int64).alias("exposure"),
            pl.col("user_id").n_unique().cast(pl.Int64).alias("readers"),
        )
        .collect()
    )
    for views in (_views(), _views().with_columns(pl.col("timestamp").dt.replace_time_zone("UTC"))):
        fast = q5._named_tracks(q5._daily_readers(views, of_track).collect(), list(of_track))
        assert_frame_equal(fast.sort("date", "track"), plain.sort("date", "track"))
    day = plain.filter((pl.col("date") == dt.date(2019, 3, 1)) & (pl.col("track") == "java"))
    assert day.select("exposure", "readers").row(0) == (4, 3)
