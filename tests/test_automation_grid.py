"""analysis.automation on integer keys (`grid`: network_hours_on, session_rows_on, sessions_on)
against the plain group-bys and joins on user, IP and day: the same hours, sessions and episodes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import night_owl_config
from polars.testing import assert_frame_equal

from analysis import automation
from analysis.automation import (
    around_the_clock,
    days_from_hours,
    find_automated,
    grid,
    network_hours,
    network_hours_on,
    session_rows,
    session_rows_on,
    sessions,
    sessions_on,
)
from analysis.config import Config

START = dt.datetime(2020, 3, 2, 23, 0, 0)


def _frame() -> pl.DataFrame:
    """A scraper (a page every 2 seconds, across midnight, from two addresses), a reader, an
    account reading around the clock, a probing address and rows that are not page views."""
    rows: list[tuple[dt.datetime, str, int | None, str | None, str]] = []
    for i in range(120):  # user 1: 120 pages in 4 minutes, over midnight
        at = START + dt.timedelta(minutes=58, seconds=2 * i)
        rows.append((at, f"/java-i/lesson-{i % 40:02d}", 1, f"10.0.0.{1 + i % 2}", "lesson"))
    for i in range(30):  # user 2: a person, a page every few minutes, two views at once
        at = START + dt.timedelta(minutes=5 * i + (i % 3))
        rows.append((at, f"/java-i/lesson-{i % 7}", 2, "10.0.0.7", "lesson"))
    rows.append((START, "/java-i/lesson-1", 2, "10.0.0.7", "navigation"))
    for i in range(70):  # user 3: a view every 40 minutes for 46 hours
        at = START + dt.timedelta(minutes=40 * i)
        rows.append((at, f"/java-i/lesson-{i % 25}", 3, "10.0.0.3", "lesson"))
    for i in range(40):  # an address probing attack paths
        rows.append((START + dt.timedelta(hours=i), "/wp-login.php", None, "10.9.9.9", "probe"))
    rows.append((START, "/java-i/lesson-1", None, "10.0.0.8", "lesson"))  # no user
    rows.append((START, "/java-i/lesson-1", 4, None, "lesson"))  # no address
    return pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "ip", "page_kind"], orient="row"
    ).with_columns(pl.col("path", "ip").cast(pl.Categorical))


def test_hours_and_session_rows_on_the_grid_are_the_plain_ones() -> None:
    frame = _frame()
    on = grid(frame)
    assert on is not None
    lazy = frame.lazy().with_row_index("idx")
    dated = lazy.with_columns(pl.col("timestamp").dt.date().alias("date"))
    plain_hours = network_hours(dated).collect()
    hours = network_hours_on(lazy, on).collect()
    keys = ["user_id", "hour", "views"]
    assert_frame_equal(hours.select(keys).sort(keys), plain_hours.select(keys).sort(keys))
    days = days_from_hours(plain_hours.lazy())
    plain_rows = session_rows(dated, days, Config()).collect()
    rows = session_rows_on(lazy, hours, on, Config())
    assert rows.height > 0
    # sorted by pair and time alike (two views at once may come in either order in the plain sort)
    order = ["sid", "timestamp", "idx"]
    assert_frame_equal(rows.sort(order), plain_rows.drop("ip").sort(order))
    assert_frame_equal(
        sessions_on(rows, frame["ip"]).sort("sid"),
        sessions(plain_rows.lazy()).collect().sort("sid"),
        check_column_order=False,
    )


def test_find_automated_on_the_grid_finds_the_plain_episodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = find_automated(_frame().lazy(), Config())
    monkeypatch.setattr(automation, "grid", lambda frame: None)
    plain = find_automated(_frame().lazy(), Config())
    assert fast.scraping["user_id"].to_list() == [1, 3]  # a scraper, an account around the clock
    assert fast.probes["ip"].to_list() == ["10.9.9.9"]
    for name in ("scraping", "probes", "episodes"):
        assert_frame_equal(getattr(fast, name), getattr(plain, name))


def test_no_grid_for_string_addresses_or_no_page_views() -> None:
    frame = _frame()
    assert grid(frame.with_columns(pl.col("ip").cast(pl.String))) is None
    assert grid(frame.filter(pl.col("page_kind") == "probe")) is None


def _owls(minutes: int, hours: float) -> pl.DataFrame:
    """One account per start time of the day (every 90 minutes), each reading every `minutes`
    minutes for just over `hours` hours."""
    rows = []
    for user in range(17):
        start = START.replace(hour=0) + dt.timedelta(minutes=90 * user)
        for i in range(int(hours * 60 // minutes) + 2):
            at = start + dt.timedelta(minutes=minutes * i)
            rows.append((at, f"/java-i/lesson-{i % 25}", user + 1, f"10.0.1.{user}", "lesson"))
    return pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "ip", "page_kind"], orient="row"
    ).with_columns(pl.col("path", "ip").cast(pl.Categorical))


@pytest.mark.parametrize("sleep_gap_hours", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("around_clock_hours", [27.0, 36.0])
@pytest.mark.parametrize("minutes", [50, 110])
def test_night_owls_on_the_grid_are_the_plain_ones(
    sleep_gap_hours: float, around_clock_hours: float, minutes: int
) -> None:
    config = night_owl_config(sleep_gap_hours, around_clock_hours)
    frame = _owls(minutes, around_clock_hours)
    on = grid(frame)
    assert on is not None
    lazy = frame.lazy()
    hours = network_hours_on(lazy, on)
    fast = around_the_clock(lazy, config, hours, on).collect().sort("user_id", "start")
    plain = around_the_clock(lazy, config).collect().sort("user_id", "start")
    assert_frame_equal(fast, plain)
    assert plain.height > 0 or minutes / 60 > sleep_gap_hours
