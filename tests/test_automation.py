"""analysis.automation: the around-the-clock stretches, cut per hour or per row, are the same."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from conftest import night_owl_config

from analysis.automation import (
    EPISODE_SCHEMA,
    around_the_clock,
    around_the_clock_by_row,
    days_from_hours,
    episode_rows,
    network_days,
    network_hours,
)
from analysis.config import Config

START = dt.datetime(2020, 3, 2, 8, 0, 0)


def _views(user: int, ip: str, times: list[dt.datetime], pages: int = 5) -> list[dict[str, object]]:
    return [
        {
            "user_id": user,
            "ip": ip,
            "path": f"java-i/lesson-{i % pages}",
            "page_kind": "lesson",
            "timestamp": t,
        }
        for i, t in enumerate(times)
    ]


def _frame() -> pl.LazyFrame:
    every_40_min = [START + dt.timedelta(minutes=40 * i) for i in range(60)]  # 39h20m, no gap
    # user 2: the same, but a gap of 2 hours and 1 second after 20 hours cuts it in two short ones
    split = [START + dt.timedelta(minutes=40 * i) for i in range(30)]
    split += [split[-1] + dt.timedelta(hours=2, seconds=1 + 40 * 60 * i) for i in range(30)]
    # user 3: a gap of exactly 2 hours does not cut (only gaps over sleep_gap_hours do)
    exact = [START + dt.timedelta(minutes=40 * i) for i in range(30)]
    exact += [exact[-1] + dt.timedelta(hours=2, minutes=40 * i) for i in range(30)]
    # user 4: 40 hours of views, but in too few of its hours (one view every 1h50m)
    sparse = [START + dt.timedelta(minutes=110 * i) for i in range(23)]
    rows = (
        _views(1, "10.0.0.1", every_40_min, pages=25)
        + _views(2, "10.0.0.2", split)
        + _views(3, "10.0.0.3", exact)
        + _views(4, "10.0.0.4", sparse)
    )
    # a probe row and a row without an address are not page views
    rows.append({**rows[0], "page_kind": "probe", "timestamp": START - dt.timedelta(hours=1)})
    rows.append({**rows[0], "ip": None, "timestamp": START - dt.timedelta(minutes=30)})
    return pl.DataFrame(rows).lazy()


def test_around_the_clock_known_stretches() -> None:
    found = around_the_clock(_frame(), Config()).collect().sort("user_id")
    assert found["user_id"].to_list() == [1, 3]
    first = found.row(0, named=True)
    assert first["ip"] == "10.0.0.1"
    assert first["start"] == START
    assert first["end"] == START + dt.timedelta(minutes=40 * 59)
    assert (first["views"], first["distinct"]) == (60, 25)
    assert first["around_clock"] and not first["fast"] and not first["ordered"]


@pytest.mark.parametrize("sleep_gap_hours", [1.0, 2.0, 3.0])
def test_around_the_clock_by_hour_equals_by_row(sleep_gap_hours: float) -> None:
    config = Config()
    config = dataclasses.replace(
        config, q4=dataclasses.replace(config.q4, sleep_gap_hours=sleep_gap_hours)
    )
    by_hour = around_the_clock(_frame(), config).collect().sort("user_id", "start")
    by_row = around_the_clock_by_row(_frame(), config).collect().sort("user_id", "start")
    assert by_hour.height > 0
    assert by_hour.equals(by_row)


def test_days_from_hours_equal_network_days() -> None:
    frame = _frame().with_columns(pl.col("timestamp").dt.date().alias("date"))
    keys = ["user_id", "ip", "date"]
    direct = network_days(frame).collect().sort(keys)
    via_hours = days_from_hours(network_hours(frame)).collect().sort(keys)
    assert direct.height == 11  # user 1 on two days, users 2-4 on three (probe, no-IP rows out)
    assert via_hours.select(direct.columns).equals(direct)


def _stretches_from_every_hour(minutes: int, hours: float) -> pl.LazyFrame:
    """One account per start time of the day (every half hour, and 23:59), each reading every
    `minutes` minutes for just over `hours` hours: around-the-clock stretches barely long enough,
    starting at any time of day."""
    rows: list[dict[str, object]] = []
    starts = [START.replace(hour=0) + dt.timedelta(minutes=30 * i) for i in range(48)]
    starts.append(START.replace(hour=23, minute=59))
    views = int(hours * 60 // minutes) + 2
    for user, start in enumerate(starts, 1):
        times = [start + dt.timedelta(minutes=minutes * i) for i in range(views)]
        rows += _views(user, f"10.0.1.{user}", times, pages=25)
    return pl.DataFrame(rows).lazy()


@pytest.mark.parametrize("sleep_gap_hours", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("around_clock_hours", [27.0, 30.0, 36.0, 39.5])
@pytest.mark.parametrize("minutes", [50, 110, 120])
def test_the_night_owl_filter_keeps_every_stretch(
    sleep_gap_hours: float, around_clock_hours: float, minutes: int
) -> None:
    """around_the_clock sorts only the accounts with a day read in every block of its first hours
    (`_night_owls`): it finds the same stretches as the row-by-row cut, wherever they start."""
    config = night_owl_config(sleep_gap_hours, around_clock_hours)
    frame = _stretches_from_every_hour(minutes, around_clock_hours)
    by_hour = around_the_clock(frame, config).collect().sort("user_id", "start")
    by_row = around_the_clock_by_row(frame, config).collect().sort("user_id", "start")
    assert by_hour.equals(by_row)
    assert by_row.height > 0 or minutes / 60 > sleep_gap_hours


def test_episode_rows_are_the_actors_rows_inside_each_episode_once() -> None:
    """An account's episode takes its rows between start and end (bounds included) whatever the
    address, an address's episode (no account) that address's rows; overlapping episodes of one
    actor name a row once."""
    at = [START + dt.timedelta(hours=h) for h in range(6)]
    rows = pl.DataFrame(
        {
            "timestamp": at * 3,
            "user_id": [1] * 6 + [2] * 6 + [None] * 6,
            "ip": ["10.0.0.1"] * 6 + ["10.0.0.9"] * 6 + ["10.0.0.9"] * 6,
        }
    ).with_row_index("row")
    episodes = pl.DataFrame(
        {
            "kind": ["scraping", "probe", "probe"],
            "user_id": [1, 1, None],
            "ip": [None, "10.0.0.1", "10.0.0.9"],
            "start": [at[1], at[2], at[4]],
            "end": [at[3], at[4], at[5]],
        },
        schema=EPISODE_SCHEMA,
    )
    found = episode_rows(rows.lazy().with_columns(pl.col("ip").cast(pl.Categorical)), episodes)
    # user 1 from hour 1 to 4 (two overlapping episodes); address 10.0.0.9 at hours 4 and 5,
    # for user 2 and for the rows without an account
    assert sorted(found.collect()["row"].to_list()) == [1, 2, 3, 4, 10, 11, 16, 17]
