"""Question 4 (suspicious activity): unit tests on tiny inline logs with known incidents, a golden test on
the demo snapshot against the simulator's labels, and every chart builds."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from analysis.config import load_config
from analysis.questions import q4
from analysis.schema import INCIDENT_KINDS
from analysis.sources.snapshot import Snapshot

CAMPUS = "10.0.0.1"
COHORTS = pl.DataFrame(
    {
        "id": [1, 10, 11],
        "name": ["Staff", "Ada", "Zion"],
        "slack": ["#staff", "#ada", "#zion"],
        "start_date": [dt.date(2014, 2, 4), dt.date(2019, 1, 7), dt.date(2019, 1, 7)],
        "end_date": [dt.date(2014, 2, 4), dt.date(2019, 6, 7), dt.date(2019, 6, 7)],
        "created_at": [None, None, None],
        "updated_at": [None, None, None],
        "deleted_at": [None, None, None],
        "program_id": [2, 3, 2],
    }
)
LESSONS = [f"javascript-i/lesson-{i}" for i in range(40)] + [
    f"java-ii/topic-{i}" for i in range(40)
]


def _rows(timestamps: list[dt.datetime], user: int, cohort: int | None, ip: str, paths=None):
    paths = paths or [LESSONS[i % len(LESSONS)] for i in range(len(timestamps))]
    return {
        "timestamp": timestamps,
        "path": list(paths),
        "user_id": [user] * len(timestamps),
        "cohort_id": [cohort] * len(timestamps),
        "ip": [ip] * len(timestamps),
    }


def _background(seed: int = 1, students: int = 30, days: int = 60) -> list[dict]:
    """Students reading ~6 pages a day, minutes apart, mostly from campus and one home IP each."""
    rng = np.random.default_rng(seed)
    parts = []
    start = dt.datetime(2019, 1, 8, 9, 0)
    for user in range(100, 100 + students):
        stamps, ips = [], []
        for day in range(days):
            if rng.random() < 0.3:
                continue
            t = start + dt.timedelta(days=day, minutes=int(rng.integers(0, 240)))
            for _ in range(int(rng.integers(3, 10))):
                t += dt.timedelta(seconds=int(rng.exponential(240)) + 20)
                stamps.append(t)
                ips.append(CAMPUS if rng.random() < 0.6 else f"198.51.100.{user - 99}")
        paths = [LESSONS[int(i)] for i in rng.integers(0, len(LESSONS), len(stamps))]
        rows = _rows(stamps, user, 11 if user % 2 else 10, CAMPUS, paths)
        rows["ip"] = ips
        parts.append(rows)
    return parts


def _snapshot(parts: list[dict]) -> Snapshot:
    frame = pl.concat(
        [
            pl.DataFrame(
                part,
                schema={
                    "timestamp": pl.Datetime("us"),
                    "path": pl.String,
                    "user_id": pl.Int64,
                    "cohort_id": pl.Int64,
                    "ip": pl.String,
                },
            )
            for part in parts
        ]
    ).sort("timestamp")
    return Snapshot.from_frames(logs=frame, cohorts=COHORTS)


def _scrape(user: int, ip: str, at: dt.datetime, pages: int = 200, every: float = 0.9) -> dict:
    stamps = [at + dt.timedelta(seconds=round(i * every)) for i in range(pages)]
    paths = [f"{LESSONS[i % len(LESSONS)]}/page-{i}" for i in range(pages)]
    return _rows(stamps, user, 11, ip, paths)


@pytest.fixture(scope="module")
def cfg():
    return load_config(environ={})


def _kind(result: q4.Q4Result, kind: str) -> pl.DataFrame:
    return result.incidents.filter(pl.col("kind") == kind)


def test_scraping_burst_is_flagged_with_evidence(cfg):
    at = dt.datetime(2019, 2, 14, 2, 14)
    result = q4.answer(_snapshot(_background() + [_scrape(105, "203.0.113.9", at)]), cfg)
    scraping = _kind(result, "scraping")
    assert scraping.height == 1
    row = scraping.row(0, named=True)
    assert (row["user_id"], row["ip"], row["views"]) == (105, "203.0.113.9", 200)
    assert row["start"] == at
    assert (
        "fetched 200 pages (200 distinct) in 3.0 minutes from 203.0.113.9 at 2019-02-14 02:14"
        in (row["evidence"])
    )
    assert result.incidents["rank"][0] == 1 and result.incidents["kind"][0] == "scraping"
    assert result.scrape_timeline["views"].sum() == 200
    assert "scraping" in result.answer


def test_normal_reading_is_not_scraping_nor_heavy(cfg):
    result = q4.answer(_snapshot(_background()), cfg)
    assert _kind(result, "scraping").height == 0
    assert _kind(result, "heavy_day").height == 0
    assert result.summary.filter(pl.col("kind") == "scraping")["incidents"][0] == 0


def test_slow_irregular_session_is_not_scraping(cfg):
    """40 distinct pages with gaps of 5-55 s (a fast human): never 30 pages within a minute."""
    rng = np.random.default_rng(3)
    gaps = rng.integers(5, 56, 40).cumsum()
    stamps = [dt.datetime(2019, 2, 1, 10) + dt.timedelta(seconds=int(g)) for g in gaps]
    result = q4.answer(_snapshot(_background() + [_rows(stamps, 107, 11, "198.51.100.8")]), cfg)
    assert _kind(result, "scraping").height == 0


def test_campus_ip_is_never_a_scraping_or_shared_ip(cfg):
    at = dt.datetime(2019, 2, 14, 11, 0)
    result = q4.answer(_snapshot(_background() + [_scrape(105, CAMPUS, at)]), cfg)
    assert CAMPUS in result.campus_ips
    scraping = _kind(result, "scraping")
    assert scraping.height == 1  # the user still scraped ...
    assert scraping["user_id"][0] == 105
    assert scraping["ip"].is_null().all()  # ... but the campus IP is not reported as the scraper
    assert "a campus IP" in scraping["evidence"][0]
    assert CAMPUS not in _kind(result, "shared_ip")["ip"].to_list()
    assert CAMPUS not in result.incidents["ip"].drop_nulls().to_list()


def test_shared_non_campus_ip_is_flagged(cfg):
    config = cfg.replace(q4=dataclasses.replace(cfg.q4, shared_ip_min_users=5))
    base = _background()
    shared = [
        _rows([dt.datetime(2019, 3, 1, 12) + dt.timedelta(minutes=u)], 100 + u, 11, "192.0.2.50")
        for u in range(6)
    ]
    result = q4.answer(_snapshot(base + shared), config)
    flagged = _kind(result, "shared_ip")
    assert "192.0.2.50" in flagged["ip"].to_list()
    assert CAMPUS not in flagged["ip"].to_list()
    assert flagged.filter(pl.col("ip") == "192.0.2.50")["score"][0] == 6.0


def test_alumni_view_two_years_after_end_is_out_of_enrollment(cfg):
    late = dt.datetime(2021, 6, 10, 20, 0)
    alumni = _rows([late, late + dt.timedelta(minutes=3)], 104, 10, "198.51.100.5")
    result = q4.answer(_snapshot(_background() + [alumni]), cfg)
    flagged = _kind(result, "out_of_enrollment")
    assert flagged.height == 1
    row = flagged.row(0, named=True)
    assert (row["user_id"], row["views"], row["start"]) == (104, 2, late)
    assert "up to 734 days after the cohort ended" in row["evidence"]


def test_reading_a_week_before_start_is_allowed(cfg):
    early = dt.datetime(2019, 1, 1, 9, 0)  # 6 days before start, within before_start_days
    result = q4.answer(_snapshot(_background() + [_rows([early], 104, 10, "198.51.100.5")]), cfg)
    assert _kind(result, "out_of_enrollment").height == 0


def test_heavy_day_against_own_history(cfg):
    """User 120 reads ~6 pages a day, then 300 pages spread over a working day (not a burst)."""
    day = dt.datetime(2019, 2, 20, 8, 0)
    stamps = [day + dt.timedelta(seconds=100 * i) for i in range(300)]
    heavy = _rows(stamps, 120, 10, "198.51.100.21")
    result = q4.answer(_snapshot(_background() + [heavy]), cfg)
    flagged = _kind(result, "heavy_day")
    assert flagged["user_id"].to_list() == [120]
    row = flagged.row(0, named=True)
    assert row["start"].date() == day.date()
    assert row["views"] >= 300
    assert _kind(result, "scraping").height == 0
    series = result.heavy_day_series
    assert series.filter(pl.col("flagged"))["views"][0] == row["views"]
    assert (series.filter(~pl.col("flagged"))["views"] < series["upper"].max()).all()


def test_heavy_day_needs_volume_or_population_outlier(cfg):
    """100 views is far above this user's own band but below heavy_day_min_views: robust z of log views
    is (log 101 - log ~7) / log 2 (the MAD floor) = about 3.8, so it is flagged at robust_z 3, not 6."""
    day = dt.datetime(2019, 2, 20, 8, 0)
    stamps = [day + dt.timedelta(seconds=200 * i) for i in range(100)]
    snapshot = _snapshot(_background() + [_rows(stamps, 120, 10, "198.51.100.21")])
    assert _kind(q4.answer(snapshot, cfg), "heavy_day").height == 0
    loose = cfg.replace(q4=dataclasses.replace(cfg.q4, robust_z=3.0))
    flagged = _kind(q4.answer(snapshot, loose), "heavy_day")
    assert flagged["user_id"].to_list() == [120]
    assert "robust z 3." in flagged["evidence"][0]


def test_scraping_day_is_reported_once_as_scraping(cfg):
    at = dt.datetime(2019, 2, 14, 2, 14)
    result = q4.answer(_snapshot(_background() + [_scrape(105, "203.0.113.9", at, 400)]), cfg)
    assert _kind(result, "scraping").height == 1
    assert _kind(result, "heavy_day").height == 0


def test_many_ips_unknown_identity_and_probing(cfg):
    base = _background()
    t0 = dt.datetime(2019, 3, 5, 10)
    roaming = _rows([t0 + dt.timedelta(hours=i) for i in range(35)], 150, 11, "0.0.0.0")
    roaming["ip"] = [f"192.0.2.{i + 1}" for i in range(35)]
    nobody = _rows([t0 + dt.timedelta(minutes=i) for i in range(12)], 900, None, "203.0.113.77")
    staff = _rows([t0 + dt.timedelta(minutes=i) for i in range(5)], 901, 1, "203.0.113.78")
    staff_no_cohort = _rows([t0 + dt.timedelta(hours=3)], 901, None, "203.0.113.78")
    ghost_cohort = _rows([t0], 902, 999, "203.0.113.79")
    probe = _rows(
        [t0, t0 + dt.timedelta(seconds=1)], 903, None, "203.0.113.66", ["wp-login.php", ".env"]
    )
    result = q4.answer(
        _snapshot(base + [roaming, nobody, staff, staff_no_cohort, ghost_cohort, probe]), cfg
    )
    many = _kind(result, "many_ips")
    assert many["user_id"].to_list() == [150] and many["score"][0] == 35.0
    unknown = _kind(result, "unknown_identity").sort("user_id")
    assert unknown["user_id"].to_list() == [900, 902, 903]
    assert unknown.filter(pl.col("user_id") == 900)["views"][0] == 12
    assert (
        "absent from the cohorts table" in unknown.filter(pl.col("user_id") == 902)["evidence"][0]
    )
    probing = _kind(result, "probing")
    assert probing["ip"].to_list() == ["203.0.113.66"] and probing["views"][0] == 2


def test_incidents_are_ranked_bounded_and_typed(cfg):
    config = cfg.replace(q4=dataclasses.replace(cfg.q4, max_incidents=3))
    late = dt.datetime(2021, 6, 10, 20, 0)
    parts = _background() + [
        _scrape(105, "203.0.113.9", dt.datetime(2019, 2, 14, 2, 14)),
        _rows([late], 104, 10, "198.51.100.5"),
        _rows([late], 106, 10, "198.51.100.7"),
        _rows([late], 108, 10, "198.51.100.9"),
    ]
    result = q4.answer(_snapshot(parts), config)
    assert result.incidents.height == 3
    assert result.total_incidents == 4
    assert result.incidents["severity"].is_sorted(descending=True)
    assert result.incidents["rank"].to_list() == [1, 2, 3]
    assert set(result.incidents["kind"]) <= set(INCIDENT_KINDS)
    assert dict(result.incidents.schema) == q4.INCIDENT_SCHEMA
    assert result.summary["kind"].to_list() == list(INCIDENT_KINDS)
    assert result.summary["incidents"].sum() == 4
    assert any("the 3 most severe of 4" in c for c in result.caveats)
    payload = result.to_json()
    assert payload["number"] == 4 and len(payload["incidents"]) == 3
    assert set(result.tables()) == {"Incidents by kind", "Most severe incidents"}


def test_empty_snapshot_answers_without_error(cfg):
    empty = Snapshot.from_frames(
        logs=pl.DataFrame(
            schema={
                "timestamp": pl.Datetime("us"),
                "path": pl.String,
                "user_id": pl.Int64,
                "cohort_id": pl.Int64,
                "ip": pl.String,
            }
        ),
        cohorts=COHORTS,
    )
    result = q4.answer(empty, cfg)
    assert result.incidents.height == 0
    assert "no page views" in result.answer
    assert result.summary["incidents"].sum() == 0


def test_quiet_data_says_nothing_stood_out(cfg):
    result = q4.answer(_snapshot(_background(students=5)), cfg)
    assert result.total_incidents == 0
    assert result.answer.startswith("No suspicious activity")


def test_simulated_caveat(cfg):
    snapshot = _snapshot(_background(students=5))
    snapshot = dataclasses.replace(
        snapshot, manifest=dataclasses.replace(snapshot.manifest, simulated=True)
    )
    assert any("simulated" in c for c in q4.answer(snapshot, cfg).caveats)


def test_every_chart_builds(cfg):
    from analysis.charts import q4 as charts

    day = dt.datetime(2019, 2, 20, 8, 0)
    heavy = _rows(
        [day + dt.timedelta(seconds=100 * i) for i in range(300)], 120, 10, "198.51.100.2"
    )
    scrape = _scrape(105, "203.0.113.9", dt.datetime(2019, 2, 14, 2, 14))
    for parts in (_background() + [heavy, scrape], _background(students=5)):
        result = q4.answer(_snapshot(parts), cfg)
        for builder in charts.CHARTS:
            spec = builder(result).to_dict()
            assert spec["description"]
            assert "url" not in str(spec.get("data", {}))


@pytest.mark.slow
def test_demo_snapshot_finds_labelled_incidents(demo_snapshot, demo_config, demo_labels):
    """Recall >= 0.9 for scraping and heavy days on the demo labels (same user, time within a day);
    campus IPs are never a scraping IP."""
    from analysis.scenarios.evaluate import match_labels

    result = q4.answer(demo_snapshot, demo_config)
    full = q4.detect_all(demo_snapshot, demo_config)
    for kind in ("scraping", "heavy_day"):
        labels = demo_labels.filter(pl.col("kind") == kind)
        assert labels.height, f"demo labels hold no {kind}"
        matched = match_labels(labels, full, kind)
        assert matched["recalled"].mean() >= 0.9, (kind, matched.filter(~pl.col("recalled")))
    scraping_ips = set(_kind(result, "scraping")["ip"].drop_nulls())
    assert not scraping_ips & set(result.campus_ips)
    assert len(result.campus_ips) >= 2


def test_night_burst_from_new_ip_is_a_weak_new_ip_incident(cfg):
    """User 103 (known since January) reads 25 pages from a never-seen IP starting at 03:10."""
    night = dt.datetime(2019, 2, 25, 3, 10)
    stamps = [night + dt.timedelta(minutes=2 * i) for i in range(25)]
    result = q4.answer(_snapshot(_background() + [_rows(stamps, 103, 11, "192.0.2.200")]), cfg)
    flagged = _kind(result, "new_ip")
    assert flagged["user_id"].to_list() == [103] and flagged["views"][0] == 25
    assert flagged["ip"][0] == "192.0.2.200" and flagged["start"][0] == night
    assert flagged["severity"][0] <= q4.KIND_WEIGHTS["new_ip"]


def test_headline_counts_kinds_without_evidence(cfg):
    late = _rows([dt.datetime(2021, 6, 10, 20, 0)], 104, 10, "198.51.100.5")
    scrape = _scrape(105, "203.0.113.9", dt.datetime(2019, 2, 14, 2, 14))
    result = q4.answer(_snapshot(_background() + [late, scrape]), cfg)
    assert result.headline() == (
        "2 suspicious incidents: 1 scraping burst, 1 student reading outside their enrollment."
    )
