"""Question 8: each generated finding on a two-year log built to show it, plus edge cases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import polars as pl
import pytest

from analysis.charts import charts_for
from analysis.config import Config, load_config
from analysis.questions import q8
from analysis.sources.snapshot import Snapshot

WEB, DATA, FRONT, STAFF = 1, 2, 3, 4
CAMPUS = "10.0.0.1"
SHARED_HOME = "203.0.113.50"
REMOTE_FROM = dt.date(2020, 4, 1)


def _cohorts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [WEB, DATA, FRONT, STAFF],
            "name": ["Web", "Data", "Front", "Staff"],
            "slack": ["#w", "#d", "#f", "#s"],
            "start_date": [dt.date(2019, 1, 1)] * 3 + [dt.date(2014, 2, 4)],
            "end_date": [dt.date(2020, 12, 31)] * 3 + [dt.date(2014, 2, 4)],
            "created_at": [None] * 4,
            "updated_at": [None] * 4,
            "deleted_at": [None] * 4,
            "program_id": [2, 3, 4, 2],
        }
    )


def _logs() -> pl.DataFrame:
    """2019: 10 web-dev views a weekday at 10:00 (2 on weekend days and over Dec 24 - Jan 1), doubled
    in 2020; +3 on Tuesdays at 14:00; from the campus IP until March 2020, then from home. Also: a
    staff account (1 view a day), a no-cohort user in Feb-Mar 2019, 5 front-end views on one day,
    user 10 once under the data-science cohort, and users 30 -> 31 taking turns on one home IP."""
    rows: list[tuple] = []
    day = dt.date(2019, 1, 1)
    while day <= dt.date(2020, 12, 31):
        t = dt.datetime.combine(day, dt.time(10))
        holiday = (day.month == 12 and day.day >= 24) or (day.month == 1 and day.day == 1)
        n = 2 if day.weekday() >= 5 or holiday else 10
        n *= 2 if day.year == 2020 else 1
        ip = CAMPUS if day < REMOTE_FROM else "198.51.100.1"
        for i in range(n):
            rows.append(
                (t + dt.timedelta(minutes=i), f"javascript-i/p{i % 3}", 10 + i % 2, WEB, ip)
            )
        if day.weekday() == 1:
            for i in range(3):
                rows.append((t + dt.timedelta(hours=4, minutes=i), "html-css", 11, WEB, ip))
        rows.append((t + dt.timedelta(hours=1), "toc", 5, STAFF, "192.0.2.5"))
        if dt.date(2019, 2, 1) <= day <= dt.date(2019, 3, 31):
            rows.append((t + dt.timedelta(hours=2), "/", 99, None, "192.0.2.99"))
        if dt.date(2019, 1, 1) <= day <= dt.date(2019, 3, 31):
            rows.append((t + dt.timedelta(hours=3), "python/intro", 30, DATA, SHARED_HOME))
        if dt.date(2019, 4, 10) <= day <= dt.date(2019, 6, 30):
            rows.append((t + dt.timedelta(hours=3), "python/intro", 31, DATA, SHARED_HOME))
        day += dt.timedelta(days=1)
    rows += [
        (dt.datetime(2019, 5, 5, 12, i), "index.html", 40, FRONT, "192.0.2.40") for i in range(5)
    ]
    rows.append((dt.datetime(2019, 5, 6, 9), "python/intro", 10, DATA, CAMPUS))
    return pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )


def _quarantine() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["logs.txt"] * 3,
            "line": [4, 9, 12],
            "key": [None] * 3,
            "raw": ["x", "y", "z"],
            "reason": ["bad date", "bad date", "invalid ip"],
        }
    )


def _config() -> Config:
    base = load_config(environ={})
    return base.replace(q4=dataclasses.replace(base.q4, campus_ips=(CAMPUS,)))


@pytest.fixture(scope="module")
def result() -> q8.Q8Result:
    snapshot = Snapshot.from_frames(
        logs=_logs(), cohorts=_cohorts(), quarantine=_quarantine(), simulated=True
    )
    return q8.answer(snapshot, _config())


def _finding(result: q8.Q8Result, title: str) -> q8.Finding:
    matches = [f for f in result.findings if f.title == title]
    assert matches, f"no finding {title!r} in {[f.title for f in result.findings]}"
    return matches[0]


def test_rows_without_cohort_and_their_burst(result: q8.Q8Result) -> None:
    finding = _finding(result, "Rows without a cohort")
    assert finding.value == 28 + 31  # Feb + Mar 2019, one row a day
    assert "from 1 user between 2019-02-01 and 2019-03-31" in finding.text
    assert "Feb 2019-Mar 2019" in finding.text


def test_staff_share(result: q8.Q8Result) -> None:
    finding = _finding(result, "Staff volume")
    total = _logs().height
    assert finding.value == pytest.approx(731 / total)  # one view a day, 2019-2020
    assert "1 staff account made 731 views" in finding.text
    # one rounding of one number: the summary (answer) and the sentence (table) show the same share
    shown = f"{finding.numbers['pct']:g}%"
    assert shown == f"{round(731 / total * 100, 1):g}%"
    assert f"staff make {shown}" in finding.summary and f"({shown} of all)" in finding.text


def test_front_end_is_a_stub(result: q8.Q8Result) -> None:
    finding = _finding(result, "Stub programs")
    assert finding.value == 1
    assert "Front end: 5 views by 1 student on 1 day" in finding.text


def test_users_in_several_cohorts(result: q8.Q8Result) -> None:
    assert _finding(result, "Users in several cohorts").value == 1  # user 10


def test_duplicate_identity_pair(result: q8.Q8Result) -> None:
    finding = _finding(result, "Possible duplicate identities")
    assert finding.value == 1
    assert "users 30 and 31, 10 days apart" in finding.text


def test_growth_doubles(result: q8.Q8Result) -> None:
    finding = _finding(result, "Year-over-year trend")
    yearly = {r["year"]: r for r in result.yearly.iter_rows(named=True)}
    assert yearly[2019]["full_year"] and yearly[2020]["full_year"]
    expected = yearly[2020]["views_per_day"] / yearly[2019]["views_per_day"] - 1
    assert finding.value == pytest.approx(expected)
    assert 0.6 < finding.value < 1.0  # web-dev views double; the fixed extras dilute it
    assert finding.text.startswith("Views per day grew")
    # one year's change is said as such, not as a yearly rate (issue 17)
    assert finding.summary == f"views per day grew {finding.numbers['pct']:g}% from 2019 to 2020"
    assert "a year" not in finding.summary


def test_weekly_rhythm_and_holiday_dip(result: q8.Q8Result) -> None:
    rhythm = _finding(result, "Weekly rhythm")
    assert rhythm.value == 10
    assert "peaks on Tuesdays" in rhythm.text
    dip = _finding(result, "Winter-holiday dip")
    assert dip.value < -0.5
    assert result.weekday_hour.height == 7 * 24  # zeros included


def test_campus_share_falls_below_the_floor_when_remote(result: q8.Q8Result) -> None:
    assert result.campus_below_month == REMOTE_FROM
    finding = _finding(result, "Campus to remote")
    assert finding.value == "2020-04-01"
    assert "fell below 5% in Apr 2020" in finding.text
    march = result.campus.filter(pl.col("month") == dt.date(2020, 3, 1))["campus_share"].item()
    assert march > 0.8


def test_quarantine_by_reason(result: q8.Q8Result) -> None:
    finding = _finding(result, "Quarantined rows")
    assert finding.value == 3
    assert "bad date 2, invalid ip 1" in finding.text


def test_answer_lists_top_n_and_is_serialisable(result: q8.Q8Result) -> None:
    first = [f.summary for f in result.findings[: q8.ANSWER_FINDINGS]]
    assert result.answer == f"Also worth knowing: {first[0]}, {first[1]} and {first[2]}."
    assert 3 <= len(result.supporting) <= 5
    assert any("simulated" in c for c in result.caveats)
    document = json.loads(json.dumps(result.to_json()))
    assert document["findings"][0]["title"] == "Rows without a cohort"
    tables = result.tables()
    assert all(frame.height <= 15 for frame in tables.values())


def test_without_campus_ips_or_rows() -> None:
    logs = _logs().filter(pl.col("timestamp") < dt.datetime(2019, 1, 10))
    result = q8.answer(Snapshot.from_frames(logs=logs, cohorts=_cohorts()), load_config(environ={}))
    assert _finding(result, "Campus to remote").value is None
    assert result.campus_below_month is None
    empty = q8.answer(
        Snapshot.from_frames(logs=logs.head(0), cohorts=_cohorts(), quarantine=_quarantine()),
        load_config(environ={}),
    )
    assert empty.answer.startswith("The snapshot holds no page views")
    assert [f.title for f in empty.findings] == ["Quarantined rows"]
    for chart in charts_for(empty):
        assert chart.to_dict()["title"]


def test_every_chart_builds(result: q8.Q8Result) -> None:
    charts = charts_for(result)
    assert len(charts) == 2
    monthly, heatmap = (chart.to_dict() for chart in charts)
    assert "April 2020" in json.dumps(monthly["title"])
    # the heatmap's title says what the weekly-rhythm finding says (busiest day, busiest hour)
    rhythm = _finding(result, "Weekly rhythm")
    day = rhythm.summary.removeprefix("busiest on ").split("s at ")[0]
    assert heatmap["title"]["text"] == f"Busiest on {day}s; the busiest hour is {rhythm.value}:00"
    assert "Tuesday" in heatmap["title"]["text"]  # Tuesday's extras at 14:00 lift the day
    for spec in (monthly, heatmap):
        assert spec["description"]
        assert "url" not in json.dumps(spec.get("data", {}))


@pytest.mark.slow
def test_demo_findings(demo_snapshot, demo_config) -> None:
    """The demo data is calibrated to the real log: no-cohort rows about 6%, campus IPs fading in 2020."""
    result = q8.answer(demo_snapshot, demo_config)
    no_cohort = _finding(result, "Rows without a cohort")
    assert 0.02 < no_cohort.value / demo_snapshot.manifest.rows < 0.12
    assert _finding(result, "Stub programs").value >= 1  # front end
    below = result.campus_below_month
    assert below is not None and dt.date(2020, 1, 1) <= below <= dt.date(2020, 12, 1)
    assert _finding(result, "Year-over-year trend").value > 0


def test_views_per_hour_from_sorted_runs_match_the_plain_group_by() -> None:
    """`views_per_hour`: on stored timestamps in order, the hour as the timestamp's integer divided
    by an hour, grouped as sorted runs; out of order, the plain group-by on the truncated timestamp.
    Both give the plain group-by's counts."""
    from polars.testing import assert_frame_equal

    from analysis.prepare import prepare
    from analysis.report import materialize

    logs = _logs().sort("timestamp")
    for frame, in_order in ((logs, True), (logs.reverse(), False)):
        snapshot = Snapshot.from_frames(logs=frame, cohorts=_cohorts())
        prepared = materialize(prepare(snapshot, _config()))
        assert prepared.stored.rows is not None
        assert prepared.stored.rows.get_column("timestamp").is_sorted() == in_order
        got = q8.views_per_hour(prepared).collect().sort("slot")
        plain = (
            prepared.views.group_by(pl.col("timestamp").dt.truncate("1h").alias("slot"))
            .agg(pl.len().cast(pl.Int64).alias("views"))
            .collect()
            .sort("slot")
        )
        assert_frame_equal(got, plain)
        # a weekday of 2019: 10 web-dev views at 10:00, the staff account's one at 11:00
        at = {row[0]: row[1] for row in got.iter_rows()}
        assert at[dt.datetime(2019, 1, 2, 10)] == 10
        assert at[dt.datetime(2019, 1, 2, 11)] == 1
