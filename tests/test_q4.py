"""Question 4 (suspicious activity as triage): unit tests on tiny inline logs where the right answer is
known (one per detector, and the normal behaviour each must leave alone), the ranking and the published
columns, the plain-words answer, the charts, and a golden test on the demo snapshot."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re

import numpy as np
import polars as pl
import pytest

from analysis.config import load_config
from analysis.prepare import all_views
from analysis.questions import q4
from analysis.sources.snapshot import Snapshot

CAMPUS = "10.0.0.1"
COHORTS = pl.DataFrame(
    {
        "id": [1, 10, 11, 12],
        "name": ["Staff", "Ada", "Zion", "Old"],
        "slack": ["#staff", "#ada", "#zion", "#old"],
        "start_date": [
            dt.date(2014, 2, 4),
            dt.date(2019, 1, 7),
            dt.date(2019, 1, 7),
            dt.date(2014, 6, 2),
        ],
        "end_date": [
            dt.date(2014, 2, 4),
            dt.date(2019, 6, 7),
            dt.date(2019, 6, 7),
            dt.date(2014, 11, 28),
        ],
        "created_at": [None] * 4,
        "updated_at": [None] * 4,
        "deleted_at": [None] * 4,
        "program_id": [2, 3, 2, 2],
    }
)
LESSONS = [f"javascript-i/lesson-{i}" for i in range(40)] + [
    f"java-ii/topic-{i}" for i in range(40)
]
CURRICULUM = [f"{m}-module/{i:02d}-lesson" for m in range(1, 30) for i in range(30)]  # 870 pages
JARGON = re.compile(r"\bz\b|%b|\bCV\b|Bollinger|IP\(s\)|\bMAD\b|quantile", re.IGNORECASE)


def _rows(timestamps, user, cohort, ip, paths=None) -> dict:
    paths = paths or [LESSONS[i % len(LESSONS)] for i in range(len(timestamps))]
    return {
        "timestamp": list(timestamps),
        "path": list(paths),
        "user_id": [user] * len(timestamps),
        "cohort_id": [cohort] * len(timestamps),
        "ip": [ip] * len(timestamps),
    }


def _background(seed: int = 1, students: int = 30, days: int = 60) -> list[dict]:
    """Students reading ~6 pages a day in bursts minutes apart, mostly from campus and one home IP."""
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
    schema = {
        "timestamp": pl.Datetime("us"),
        "path": pl.String,
        "user_id": pl.Int64,
        "cohort_id": pl.Int64,
        "ip": pl.String,
    }
    frame = pl.concat([pl.DataFrame(part, schema=schema) for part in parts]).sort("timestamp")
    return Snapshot.from_frames(logs=frame, cohorts=COHORTS)


def _burst(user: int, ip: str, at: dt.datetime, pages: int = 200, every: float = 0.9) -> dict:
    stamps = [at + dt.timedelta(seconds=round(i * every)) for i in range(pages)]
    return _rows(stamps, user, 11, ip, CURRICULUM[:pages])


def _crawler(user: int, ip: str, at: dt.datetime, hours: float = 4.0, seed: int = 5) -> dict:
    """A page every 20-40 s (uniform), for hours, walking the curriculum in order, no cohort."""
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(20, 40, int(hours * 3600 / 30)).cumsum()
    stamps = [at + dt.timedelta(seconds=float(g)) for g in gaps]
    return _rows(
        stamps, user, None, ip, [CURRICULUM[i % len(CURRICULUM)] for i in range(len(gaps))]
    )


def _evening(user: int, ip: str, day: dt.datetime, pages: int = 150, seed: int = 9) -> dict:
    """A human cramming evening: reading gaps vary widely (exponential, mean ~80 s)."""
    rng = np.random.default_rng(seed)
    gaps = (rng.exponential(80, pages) + 4).cumsum()
    stamps = [day.replace(hour=17) + dt.timedelta(seconds=float(g)) for g in gaps]
    paths = [LESSONS[int(i)] for i in rng.integers(0, len(LESSONS), pages)]
    return _rows(stamps, user, 10, ip, paths)


@pytest.fixture(scope="module")
def cfg():
    return load_config(environ={})


@pytest.fixture(scope="module")
def quiet(cfg):
    return q4.answer(_snapshot(_background()), cfg)


def _kind(result: q4.Q4Result, kind: str) -> pl.DataFrame:
    return result.incidents.filter(pl.col("kind") == kind)


def _user(result: q4.Q4Result, user: int) -> pl.DataFrame:
    return result.incidents.filter(pl.col("user_id") == user)


def test_normal_reading_raises_nothing(quiet):
    assert quiet.incidents.height == 0
    assert quiet.answer.startswith("Nothing needs action")
    assert CAMPUS in quiet.campus_ips


def test_fast_burst_is_automated_fetching_ranked_first(cfg):
    at = dt.datetime(2019, 2, 14, 2, 14)
    result = q4.answer(_snapshot([*_background(), _burst(105, "203.0.113.9", at)]), cfg)
    scraping = _kind(result, "scraping")
    assert scraping.height == 1
    row = scraping.row(0, named=True)
    assert (row["tier"], row["user_id"], row["ip"], row["views"]) == (
        "high",
        105,
        "203.0.113.9",
        200,
    )
    assert row["start"] == at and row["rank"] == 1
    assert "faster than anyone reads" in row["evidence"]
    assert _kind(result, "heavy_day").height == 0  # the burst's day is reported once, as scraping
    assert result.scrape_timeline["views"].sum() == 200


def test_slow_regular_crawler_is_automated_fetching(cfg):
    """A page every ~30 s for four hours, in curriculum order: far below 30 pages a minute."""
    at = dt.datetime(2019, 2, 20, 1, 0)
    result = q4.answer(_snapshot([*_background(), _crawler(950, "203.0.113.200", at)]), cfg)
    scraping = _kind(result, "scraping")
    assert scraping["user_id"].to_list() == [950]
    row = scraping.row(0, named=True)
    assert row["tier"] == "high" and row["ip"] == "203.0.113.200" and row["views"] == 480
    assert "in order" in row["evidence"] or "even pace" in row["evidence"]
    assert _user(result, 950).filter(pl.col("kind") == "heavy_day").height == 0


def test_bursty_human_evening_is_a_heavy_day_not_scraping(cfg):
    day = dt.datetime(2019, 2, 21)
    result = q4.answer(_snapshot([*_background(), _evening(120, "198.51.100.21", day)]), cfg)
    assert _kind(result, "scraping").height == 0
    heavy = _kind(result, "heavy_day")
    assert heavy["user_id"].to_list() == [120]
    row = heavy.row(0, named=True)
    assert row["tier"] == "medium" and row["start"].date() == day.date()
    assert row["views"] >= 150
    assert "times their usual" in row["evidence"]
    series = result.heavy_day_series
    assert series.filter(pl.col("flagged"))["views"][0] == row["views"]


def test_heavy_day_needs_the_population_bar(cfg):
    """60 pages is ten times this reader's usual day but an ordinary day for the school."""
    day = dt.datetime(2019, 2, 21)
    result = q4.answer(
        _snapshot([*_background(), _evening(120, "198.51.100.21", day, pages=60)]), cfg
    )
    assert _kind(result, "heavy_day").height == 0


def test_a_heavy_tailed_readers_big_days_are_their_normal(cfg):
    """User 125 reads a lognormal number of pages a day (usual ~20, a few days over 100): those big
    days are within their own spread on a log scale, so none is a heavy day; a light reader's evening
    of 150 still is."""
    rng = np.random.default_rng(4)
    stamps = []
    for d in range(50):
        n = int(min(250, max(3, rng.lognormal(np.log(20), 0.9))))
        start = dt.datetime(2019, 1, 8, 10) + dt.timedelta(days=d)
        stamps += [
            start + dt.timedelta(seconds=float(g)) for g in (rng.exponential(60, n) + 5).cumsum()
        ]
    heavy_tailed = _rows(stamps, 125, 11, "198.51.100.26")
    assert max(np.unique([t.date() for t in stamps], return_counts=True)[1]) >= 100
    evening = _evening(120, "198.51.100.21", dt.datetime(2019, 2, 21))
    result = q4.answer(_snapshot([*_background(), heavy_tailed, evening]), cfg)
    assert _kind(result, "heavy_day")["user_id"].to_list() == [120]
    assert _kind(result, "scraping").height == 0


def test_staff_on_many_networks_are_judged_against_staff(cfg):
    """Staff review pages each evening from ten outside networks each (many for a student, whose
    peers use one home network; ordinary among staff, who all work like that)."""
    rng = np.random.default_rng(8)
    parts = _background()
    for member in (901, 904, 905):
        networks = [f"203.0.{member - 880}.{k}" for k in range(1, 11)]
        for d in range(25):
            day = dt.datetime(2019, 1, 8, 21) + dt.timedelta(days=d)
            gaps = (rng.exponential(60, 40) + 5).cumsum()
            stamps = [day + dt.timedelta(seconds=float(g)) for g in gaps]
            paths = [LESSONS[int(i)] for i in rng.integers(0, len(LESSONS), 40)]
            parts.append(_rows(stamps, member, 1, networks[int(rng.integers(0, 10))], paths))
    result = q4.answer(_snapshot(parts), cfg)
    staff = result.incidents.filter(pl.col("user_id").is_in([901, 904, 905]))
    assert staff.height == 0, staff.select("kind", "evidence").to_dicts()


def test_alumni_reading_daily_is_no_incident(cfg):
    """A student of a cohort that ended in June reads every day in July: routine, not an incident."""
    start = dt.datetime(2019, 6, 20, 19, 0)
    stamps = [start + dt.timedelta(days=d, minutes=3 * i) for d in range(30) for i in range(5)]
    result = q4.answer(_snapshot([*_background(), _rows(stamps, 104, 10, "198.51.100.5")]), cfg)
    assert _user(result, 104).height == 0


def test_campus_ip_is_never_named_as_a_scraper(cfg):
    at = dt.datetime(2019, 2, 14, 11, 0)
    result = q4.answer(_snapshot([*_background(), _burst(105, CAMPUS, at)]), cfg)
    scraping = _kind(result, "scraping")
    assert scraping["user_id"].to_list() == [105]  # the account still fetched automatically ...
    assert scraping["ip"].is_null().all()  # ... but the classroom network is not blamed
    assert "a campus network" in scraping["evidence"][0]
    assert CAMPUS not in result.incidents["ip"].drop_nulls().to_list()


def _one_account_two_places() -> list[dict]:
    """Account 121 (cohort 11) read by two people at the same times, each from their own network,
    every evening for three weeks: a shared account."""
    owner, friend = [], []
    for d in range(21):
        day = dt.datetime(2019, 2, 4, 20, 0) + dt.timedelta(days=d)
        owner += [day + dt.timedelta(minutes=4 * i) for i in range(6)]
        friend += [day + dt.timedelta(minutes=2 + 4 * i) for i in range(5)]
    return [_rows(owner, 121, 11, "198.51.100.22"), _rows(friend, 121, 11, "203.0.113.50")]


def test_account_shared_for_three_weeks_is_found(cfg):
    """A second person reads user 121's account from another network at the same times, 3 weeks."""
    parts = _background()
    parts += _one_account_two_places()
    result = q4.answer(_snapshot(parts), cfg)
    shared = _kind(result, "account_sharing")
    assert shared["user_id"].to_list() == [121]
    row = shared.row(0, named=True)
    assert row["tier"] == "high" and "at the same time" in row["evidence"]
    assert row["start"].date() <= dt.date(2019, 2, 8) and row["end"].date() >= dt.date(2019, 2, 20)


def test_campus_pool_alternating_per_request_is_one_network(cfg):
    """A load-balanced campus NAT hands every request either of two addresses: two campus
    addresses within one slot are one network, not two people."""
    parts = _background()
    for part in parts:
        part["ip"] = [
            ("10.0.0.2" if i % 2 else CAMPUS) if ip == CAMPUS else ip
            for i, ip in enumerate(part["ip"])
        ]
    result = q4.answer(_snapshot(parts), cfg)
    assert _kind(result, "account_sharing").height == 0
    assert {CAMPUS, "10.0.0.2"} <= set(result.campus_ips)


def _evenings(user: int, ips: list[str], hour: int, days: int, seed: int) -> dict:
    """One reader's evenings for `days` days from 4 February 2019: ~18 views each, 1-4 minutes
    apart, each request through one of `ips` drawn at random (a load-balanced NAT when two)."""
    rng = np.random.default_rng(seed)
    stamps, chosen = [], []
    for d in range(days):
        t = dt.datetime(2019, 2, 4, hour, 0) + dt.timedelta(days=d, minutes=int(rng.integers(0, 5)))
        for _ in range(18):
            t += dt.timedelta(seconds=int(rng.integers(60, 240)))
            stamps.append(t)
            chosen.append(ips[int(rng.integers(0, len(ips)))])
    rows = _rows(stamps, user, 11, ips[0])
    rows["ip"] = chosen
    return rows


def test_address_pool_alternating_per_request_is_one_network(cfg):
    """User 140 reads from home every morning for two months and, for three weeks, every evening
    through an outside NAT pool that hands each request either of two addresses in different /16
    blocks: one network, not two people."""
    home = _evenings(140, ["198.51.100.140"], 9, 60, seed=3)
    pool = _evenings(140, ["192.0.2.10", "100.64.7.9"], 20, 21, seed=4)
    parts = [*_background(), home, pool]
    assert _kind(q4.answer(_snapshot(parts), cfg), "account_sharing").height == 0
    # the pool is what keeps it quiet: judged address by address, two networks at once
    unpooled = dataclasses.replace(cfg, q4=dataclasses.replace(cfg.q4, pool_switch_share=1.0))
    shared = _kind(q4.answer(_snapshot(parts), unpooled), "account_sharing")
    assert shared["user_id"].to_list() == [140]


def test_two_people_interleaving_at_the_same_hours_for_weeks_share_an_account(cfg):
    """User 141 reads from home every morning for two months and every evening for four weeks,
    while a second person in another city reads the same account at the same evening hours from
    their own address: the requests interleave request by request, but each person keeps their own
    address (the owner's home is theirs alone in the mornings): a shared account, not a pool."""
    mornings = _evenings(141, ["198.51.100.141"], 9, 60, seed=3)
    owner = _evenings(141, ["198.51.100.141"], 20, 28, seed=6)
    friend = _evenings(141, ["203.0.113.50"], 20, 28, seed=7)
    parts = [*_background(), mornings, owner, friend]
    shared = _kind(q4.answer(_snapshot(parts), cfg), "account_sharing")
    assert shared["user_id"].to_list() == [141]
    assert "at the same time" in shared["evidence"][0]
    # the evenings alone would look like a pool: it is the owner's own mornings that tell
    everyone = dataclasses.replace(cfg, q4=dataclasses.replace(cfg.q4, pool_together_share=0.01))
    assert _kind(q4.answer(_snapshot(parts), everyone), "account_sharing").height == 0


def test_heavy_days_of_one_person_are_one_episode_judged_in_their_phase(cfg):
    """Three cramming evenings of one enrolled student within a fortnight are one incident, shown by
    its heaviest day, with the pages of all three (and that day's ordinary reading)."""
    days = [dt.datetime(2019, 2, d) for d in (5, 12, 18)]
    evenings = [_evening(120, "198.51.100.21", day, seed=10 + i) for i, day in enumerate(days)]
    result = q4.answer(_snapshot([*_background(), *evenings]), cfg)
    heavy = _kind(result, "heavy_day")
    assert heavy["user_id"].to_list() == [120]
    row = heavy.row(0, named=True)
    assert 450 <= row["views"] < 500 and "heaviest of 3 heavy days" in row["evidence"]
    assert "enrolled" in row["evidence"]


def test_many_students_on_one_outside_ip_in_a_week_is_found(cfg):
    parts = _background()
    for k, user in enumerate(range(100, 111)):  # 11 students, evenings of one week
        stamps = [
            dt.datetime(2019, 2, 11 + (k % 5), 19, 0) + dt.timedelta(minutes=5 * i)
            for i in range(4)
        ]
        parts.append(_rows(stamps, user, 11 if user % 2 else 10, "192.0.2.50"))
    result = q4.answer(_snapshot(parts), cfg)
    shared = _kind(result, "shared_ip")
    assert shared["ip"].to_list() == ["192.0.2.50"]
    row = shared.row(0, named=True)
    assert row["tier"] == "high" and row["user_id"] is None and row["score"] == 11.0
    assert CAMPUS not in shared["ip"].to_list()


def test_attack_probes_always_surface_first(cfg):
    """A sweep (12 attack paths within seconds from one address) leads the list."""
    t0 = dt.datetime(2019, 3, 5, 3, 0)
    paths = ["wp-login.php", ".env", "../../etc/passwd", "xmlrpc.php"] * 3
    probe = _rows([t0 + dt.timedelta(seconds=2 * i) for i in range(12)], 903, None, "203.0.113.66")
    probe["path"] = paths
    at = dt.datetime(2019, 2, 14, 2, 14)
    result = q4.answer(_snapshot([*_background(), probe, _burst(105, "203.0.113.9", at)]), cfg)
    first = result.incidents.row(0, named=True)
    assert (first["kind"], first["tier"], first["ip"], first["views"]) == (
        "probe",
        "high",
        "203.0.113.66",
        12,
    )
    assert result.incidents["kind"][1] == "scraping"


def _one_off_probes(addresses: int, start: dt.datetime) -> list[dict]:
    """Routine scanning: each address (one account each) asks once or twice for wp-login.php."""
    parts = []
    for k in range(addresses):
        at = start + dt.timedelta(hours=7 * k)
        rows = _rows([at] * (1 + k % 2), 2000 + k, None, f"203.0.113.{k + 1}")
        rows["path"] = ["wp-login.php"] * len(rows["timestamp"])
        parts.append(rows)
    return parts


def test_one_off_probes_from_many_addresses_are_one_medium_incident(cfg):
    parts = _one_off_probes(34, dt.datetime(2019, 2, 1, 0, 0))
    result = q4.answer(_snapshot([*_background(), *parts]), cfg)
    probes = _kind(result, "probe")
    assert probes.height == 1
    row = probes.row(0, named=True)
    assert (row["tier"], row["user_id"], row["ip"], row["views"]) == ("medium", None, None, 51)
    assert row["evidence"].startswith("34 addresses") and "wp-login.php" in row["evidence"]
    assert result.count("high") == 0


def test_probes_that_persist_over_two_days_stay_high(cfg):
    t0 = dt.datetime(2019, 3, 5, 3, 0)
    stamps = [t0 + dt.timedelta(hours=9 * i) for i in range(6)]  # six requests over two days
    probe = _rows(stamps, 904, None, "203.0.113.77")
    probe["path"] = ["wp-login.php"] * 6
    parts = _one_off_probes(5, dt.datetime(2019, 2, 1, 0, 0))
    result = q4.answer(_snapshot([*_background(), probe, *parts]), cfg)
    probes = _kind(result, "probe").sort("tier")
    assert probes["tier"].to_list() == ["high", "medium"]
    assert probes.row(0, named=True)["ip"] == "203.0.113.77"


def test_round_the_clock_crawler_is_automated_fetching(cfg):
    """A search-engine crawler: a page every 10-20 minutes, day and night, for four days (slow,
    uneven, random order: only the missing sleep gives it away)."""
    rng = np.random.default_rng(3)
    gaps = rng.uniform(600, 1200, 380).cumsum()
    at = dt.datetime(2019, 2, 10, 5, 0)
    stamps = [at + dt.timedelta(seconds=float(g)) for g in gaps]
    paths = [CURRICULUM[int(i)] for i in rng.integers(0, len(CURRICULUM), len(stamps))]
    crawler = _rows(stamps, 950, None, "66.249.66.1", paths)
    result = q4.answer(_snapshot([*_background(), crawler]), cfg)
    scraping = _kind(result, "scraping")
    assert scraping["user_id"].to_list() == [950]
    assert "around the clock" in scraping["evidence"][0]
    assert _kind(result, "heavy_day").filter(pl.col("user_id") == 950).height == 0


def test_old_account_in_sustained_use_and_unknown_accounts(cfg):
    parts = _background()
    t0 = dt.datetime(2019, 2, 4, 18, 0)
    stale = [t0 + dt.timedelta(days=d, minutes=5 * i) for d in range(20) for i in range(4)]
    parts.append(_rows(stale, 130, 12, "198.51.100.40"))  # cohort ended 2014
    parts.append(_rows([t0 + dt.timedelta(minutes=i) for i in range(6)], 900, None, "203.0.113.7"))
    parts.append(_rows([t0 + dt.timedelta(minutes=i) for i in range(3)], 902, 999, "203.0.113.8"))
    staff = _rows([t0 + dt.timedelta(minutes=i) for i in range(5)], 901, 1, "203.0.113.78")
    parts += [staff, _rows([t0 + dt.timedelta(hours=3)], 901, None, "203.0.113.78")]
    result = q4.answer(_snapshot(parts), cfg)
    old = _kind(result, "stale_account")
    assert old["user_id"].to_list() == [130] and old["tier"][0] == "medium"
    assert "years before" in old["evidence"][0]
    unknown = _kind(result, "unknown_user").sort("user_id")
    assert unknown["user_id"].to_list() == [900, 902]  # staff (901) are never unknown
    tiers = dict(zip(unknown["user_id"], unknown["tier"], strict=True))
    assert tiers == {900: "low", 902: "medium"}
    assert "does not exist" in unknown.filter(pl.col("user_id") == 902)["evidence"][0]


def test_incidents_are_tiered_ranked_complete_and_typed(cfg):
    parts = [
        *_background(),
        _burst(105, "203.0.113.9", dt.datetime(2019, 2, 14, 2, 14)),
        _crawler(950, "203.0.113.200", dt.datetime(2019, 2, 20, 1, 0)),
        _evening(120, "198.51.100.21", dt.datetime(2019, 2, 21)),
        _rows([dt.datetime(2019, 3, 1, 10)], 900, None, "203.0.113.7"),
    ]
    result = q4.answer(_snapshot(parts), cfg)
    incidents = result.incidents
    assert dict(incidents.schema) == q4.INCIDENT_SCHEMA
    assert incidents["rank"].to_list() == list(range(1, incidents.height + 1))
    order = {t: i for i, t in enumerate(q4.TIERS)}
    assert incidents["tier"].replace_strict(order).is_sorted()
    assert set(incidents["kind"]) <= set(q4.KINDS)
    assert result.total_incidents == incidents.height == result.tiers["incidents"].sum()
    assert result.count("high") == 2 and result.count("medium") >= 1
    payload = result.to_json()
    assert len(payload["incidents"]) == incidents.height  # never truncated
    tables = result.tables()
    assert "Incidents by tier and kind" in tables
    labels = set(tables["Incidents by tier and kind"]["Kind"])
    assert labels <= set(q4.KIND_LABELS.values()) and "Automated fetching" in labels
    assert {"High tier", "Medium tier", "Low tier"} <= set(tables)
    assert tables["High tier"].height == 2 and tables["High tier"]["Rank"].to_list() == [1, 2]


def test_answer_is_short_plain_and_supported(cfg):
    parts = [
        *_background(),
        _burst(105, "203.0.113.9", dt.datetime(2019, 2, 14, 2, 14)),
        _evening(120, "198.51.100.21", dt.datetime(2019, 2, 21)),
    ]
    result = q4.answer(_snapshot(parts), cfg)
    assert len(result.answer.split()) <= 30
    assert not JARGON.search(result.answer), result.answer
    assert 3 <= len(result.supporting) <= 5
    assert result.answer.startswith(
        "1 incident in the High tier needs action now: 1 case of automated fetching; 1 more is"
    )
    assert "automated fetching" in result.answer
    assert "quantile" in result.method  # the statistics live in the method
    assert result.headline() == "Act on 1 incident now: 1 case of automated fetching."


def test_method_and_caveats_hold_no_unformatted_placeholder(cfg):
    """The method is generated from the settings the code reads: no literal `{...}` survives, and
    the settings' values appear in it."""
    result = q4.answer(_snapshot(_background()), cfg)
    for text in [result.method, *result.caveats, result.answer, *result.supporting]:
        assert "{" not in text and "}" not in text, text
    q = cfg.q4
    for value in (q.heavy_min_days, q.heavy_medium_max, q.probe_sweep_requests):
        assert f" {value} " in result.method


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


def test_every_chart_builds(cfg, quiet):
    from analysis.charts import q4 as charts

    parts = [
        *_background(),
        _burst(105, "203.0.113.9", dt.datetime(2019, 2, 14, 2, 14)),
        _evening(120, "198.51.100.21", dt.datetime(2019, 2, 21)),
    ]
    for result in (q4.answer(_snapshot(parts), cfg), quiet):
        for builder in charts.CHARTS:
            spec = builder(result).to_dict()
            assert spec["description"]
            assert "url" not in str(spec.get("data", {}))


@pytest.mark.slow
def test_demo_snapshot_finds_labelled_incidents(demo_snapshot, demo_config, demo_labels):
    """On the demo: every labelled case of automated fetching is in the high tier and the top 10; heavy days
    are found; no campus IP is named as a scraper."""
    result = q4.answer(demo_snapshot, demo_config)
    incidents = result.incidents
    scrapes = demo_labels.filter(pl.col("kind") == "scraping")
    assert scrapes.height
    found = incidents.filter(
        (pl.col("kind") == "scraping") & pl.col("user_id").is_in(scrapes["user_id"].to_list())
    )
    assert found.height == scrapes.height and found["rank"].max() <= 10
    heavy = demo_labels.filter(pl.col("kind") == "heavy_day")["user_id"].to_list()
    got = set(incidents.filter(pl.col("kind") == "heavy_day")["user_id"])
    assert len(got & set(heavy)) >= 0.9 * len(heavy)
    scraping_ips = set(incidents.filter(pl.col("kind") == "scraping")["ip"].drop_nulls())
    assert not scraping_ips & set(result.campus_ips)
    assert result.count("high") <= 15 and result.count("medium") <= 25


@pytest.mark.slow
def test_demo_automated_accounts_are_set_aside_from_question_5(demo_snapshot, demo_config):
    """One list of automated actors for the whole report: on the demo, question 5's list of people
    still crossing over holds no account during a high-tier automated episode, the views set aside
    are counted on question 4's result, and every other page says so in its caveats."""
    from analysis.prepare import prepare
    from analysis.publish.pages import set_aside_note
    from analysis.questions import q5

    prepared = prepare(demo_snapshot, demo_config)
    episodes = prepared.automated.episodes
    assert episodes.filter(pl.col("kind") == "scraping").height >= 1
    after = q5.answer(demo_snapshot, demo_config, prepared).after_cutoff
    clash = after.join(
        episodes.filter(pl.col("user_id").is_not_null()), on="user_id", how="inner"
    ).filter((pl.col("first") <= pl.col("end")) & (pl.col("last") >= pl.col("start")))
    assert clash.height == 0, clash
    unfiltered = q5.answer(
        demo_snapshot, demo_config, dataclasses.replace(prepared, views=all_views(prepared))
    ).after_cutoff
    assert unfiltered["user_id"].is_in(episodes["user_id"].drop_nulls().implode()).any()
    result = q4.answer(demo_snapshot, demo_config, prepared)
    assert result.set_aside_views == prepared.automated.views_set_aside > 0
    assert result.set_aside_episodes == episodes.height
    report = type("R", (), {"results": {4: result}})()
    note = set_aside_note(report, 5)
    assert note is not None and f"{result.set_aside_views:,} page views" in note
    assert set_aside_note(report, 4) is None


def _session_views(
    rng: np.random.Generator, start: dt.datetime, seconds: np.ndarray, fraction: bool
) -> pl.DataFrame:
    """Views for session_order: one at each of `seconds` after `start`, by random users (3 to 19)
    on random networks (0 to 8); with `fraction`, each a quarter of a millisecond later."""
    n = len(seconds)
    frame = pl.DataFrame(
        {
            "user_id": rng.integers(3, 20, n),
            "timestamp": [start + dt.timedelta(seconds=int(s)) for s in seconds],
            "net": rng.integers(0, 9, n),
        },
        schema={"user_id": pl.Int64, "timestamp": pl.Datetime("us"), "net": pl.UInt32},
    )
    if fraction:
        frame = frame.with_columns(pl.col("timestamp") + pl.duration(microseconds=250))
    return frame


def _order_columns(order, *names: str) -> pl.DataFrame:
    """The named expressions of a `SessionOrder` read over its frame, as columns of those names."""
    return order.frame.select(getattr(order, name).alias(name) for name in names)


@pytest.mark.parametrize("fraction", [False, True])
def test_session_order_reads_steps_and_slots(fraction):
    """session_order sorts on one integer key when it can (whole seconds) and on the three columns
    otherwise (a fraction of a second): its expressions over its frame give each row's user, time
    and network in the order and types of a plain sort, and the seconds since the row before and
    the 10-minute slot as the plain computation on the sorted columns does."""
    from analysis.questions.q4_detect import session_order

    rng = np.random.default_rng(11)
    start = dt.datetime(2020, 1, 6, 0, 3, 7)
    frame = _session_views(rng, start, rng.integers(0, 10**5, 3000), fraction)
    order = session_order(frame.lazy(), 10)
    got = _order_columns(order, "user_id", "timestamp", "net", "step", "slot", "slot_number")
    columns = ["user_id", "timestamp", "net"]
    assert got.select(columns).equals(frame.sort(columns))
    assert got.select(columns).schema == frame.schema
    ts = pl.col("timestamp")
    plain = frame.sort("user_id", "timestamp", "net").with_columns(
        (ts - ts.shift()).dt.total_seconds().alias("step"), ts.dt.truncate("10m").alias("slot")
    )
    same_user = pl.col("user_id") == pl.col("user_id").shift()
    # the step is read where the user is the same as on the row before
    assert (
        got.drop("slot_number")
        .with_columns(pl.when(same_user).then("step"))
        .equals(plain.with_columns(pl.when(same_user).then("step")))
    )
    assert got["slot"].n_unique() > 100
    # the slot's number is the same exactly where the slot is
    assert (
        got.select(pl.col("slot_number").rank("dense"))
        .to_series()
        .equals(got.select(pl.col("slot").rank("dense")).to_series())
    )


def test_two_places_as_plain_grouping(cfg):
    """pooled_views finds the (user, slot) pairs with views from two networks from the rows that
    change network in the sorted views: the same pairs as counting networks per user and slot."""
    from analysis.questions.q4_detect import network, pooled_views

    rng = np.random.default_rng(5)
    n = 4000
    start = dt.datetime(2021, 3, 1, 8, 0, 0)
    ips = ["10.0.0.1", "10.0.0.7", "10.0.1.2", "172.16.4.4", "192.168.9.9"]
    views = pl.DataFrame(
        {
            "user_id": rng.integers(1, 12, n),
            "timestamp": [
                start + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 4 * 10**5, n)
            ],
            "ip": rng.choice(ips, n).tolist(),
            "cohort_id": rng.integers(1, 3, n),
            "page_kind": rng.choice(["lesson", "navigation", "probe"], n).tolist(),
            "kept": rng.random(n) > 0.1,
        },
        schema_overrides={"timestamp": pl.Datetime("us")},
    ).with_columns(pl.col("timestamp").dt.date().alias("date"), pl.col("ip").cast(pl.Categorical))
    roles = pl.DataFrame({"cohort_id": [1, 2], "role": ["student", "no_cohort"]})
    config = cfg
    campus = ["172.16.4.4"]
    pooled = pooled_views(views.lazy(), views.lazy(), config, campus, roles)
    slot = pl.col("timestamp").dt.truncate(f"{config.q4.share_slot_minutes}m").alias("slot")
    plain = (
        views.filter(pl.col("page_kind").is_in(["lesson", "navigation"]))
        .with_columns(network(pl.col("ip"), campus).alias("name"))
        .group_by("user_id", slot)
        .agg(pl.col("name").n_unique().alias("networks"))
        .filter(pl.col("networks") >= 2)
        .select("user_id", "slot")
        .sort("user_id", "slot")
    )
    got = pooled.two_places.sort("user_id", "slot")
    assert got.height > 50
    assert got.equals(plain)


def test_network_keys_by_code_or_by_name():
    """_net reads a Categorical address's key from a table indexed by its code, any other address's
    by name: the same keys (null for a null address)."""
    from analysis.questions.q4_detect import _net

    ips = pl.DataFrame({"ip": ["10.0.0.1", None, "10.0.1.9", "10.0.0.1", "192.168.3.4"]})
    networks = ips.unique().with_columns(pl.col("ip").rank("dense").cast(pl.UInt32).alias("net"))
    by_name = ips.select(_net(networks))
    categorical = ips.with_columns(pl.col("ip").cast(pl.Categorical))
    by_code = categorical.select(_net(networks.with_columns(pl.col("ip").cast(pl.Categorical))))
    assert by_code.equals(by_name)
    assert by_name["net"].to_list() == [1, None, 2, 1, 3]


def test_user_ip_days_one_key_or_five():
    """user_ip_days groups on one integer key when the address is Categorical and on the five
    columns otherwise: the same rows either way, nulls in every key included."""
    from analysis.prepare import _day_key, cohort_roles
    from analysis.prepare import group_user_ip_days as user_ip_days

    rng = np.random.default_rng(7)
    n = 4000
    start = dt.datetime(2020, 1, 6)

    def some_null(values: list[object]) -> list[object]:
        return [None if rng.random() < 0.05 else value for value in values]

    frame = pl.DataFrame(
        {
            "timestamp": [start + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 10**7, n)],
            "user_id": some_null(rng.integers(3, 60, n).tolist()),
            "cohort_id": some_null(rng.integers(1, 9, n).tolist()),
            "ip": some_null([f"10.0.{a}.{b}" for a, b in rng.integers(0, 4, (n, 2)).tolist()]),
            "page_kind": some_null(
                rng.choice(
                    ["lesson", "navigation", "asset", "probe"], n, p=[0.7, 0.1, 0.1, 0.1]
                ).tolist()
            ),
            "window": rng.choice(["active", "alumni"], n).tolist(),
            "kept": (rng.random(n) < 0.9).tolist(),
        },
        schema_overrides={"user_id": pl.Int64, "cohort_id": pl.Int64},
    ).with_columns(  # role and end date are functions of the cohort id, as prepare makes them
        pl.col("timestamp").dt.date().alias("date"),
        pl.when(pl.col("cohort_id").is_null())
        .then(pl.lit("no_cohort"))
        .when(pl.col("cohort_id") == 8)
        .then(pl.lit("staff"))
        .otherwise(pl.lit("student"))
        .cast(pl.Categorical)
        .alias("role"),
        (pl.lit(dt.date(2019, 6, 1)) + pl.duration(days=pl.col("cohort_id"))).alias("end_date"),
        pl.col("page_kind", "window").cast(pl.Categorical),
    )
    roles = cohort_roles(frame.lazy())
    categorical = frame.lazy().with_columns(pl.col("ip").cast(pl.Categorical))
    assert _day_key(categorical) is not None and _day_key(frame.lazy()) is None
    one_key = user_ip_days(categorical, roles).collect()
    five = user_ip_days(frame.lazy(), roles).collect()
    assert (
        one_key.with_columns(pl.col("ip").cast(pl.String))
        .sort(pl.all())
        .equals(five.sort(pl.all()))
    )
    assert five.height > 100 and five["user_id"].null_count() and five["ip"].null_count()
    # the same as one grouping with every aggregation filtered to its kind of row
    nonprobe = pl.col("page_kind") != "probe"
    page = pl.col("page_kind").is_in(["lesson", "navigation"])
    ts = pl.col("timestamp")
    plain = (
        frame.group_by("user_id", "ip", "date", "cohort_id", "kept")
        .agg(
            pl.col("window").first(),
            pl.len().alias("rows"),
            nonprobe.sum().alias("nonprobe"),
            page.sum().alias("pages"),
            ts.min().alias("first"),
            ts.max().alias("last"),
            ts.filter(nonprobe).min().alias("np_first"),
            ts.filter(nonprobe).max().alias("np_last"),
            ts.filter(page).min().alias("pg_first"),
            ts.filter(page).max().alias("pg_last"),
        )
        .join(roles, on="cohort_id", how="left", nulls_equal=True)
        .select(five.columns)
    )
    assert plain.sort(pl.all()).equals(five.sort(pl.all()))


def test_a_categoricals_min_is_its_smallest_name():
    """daily_views takes the day's phase as the min of a Categorical: that must be the lexically
    smallest name whatever order the categories were first seen in (as polars does since 1.32)."""
    frame = pl.DataFrame(
        {"g": [1, 1, 1, 2], "c": ["zeta-window", "alpha-window", "mid-window", None]},
        schema={"g": pl.Int64, "c": pl.Categorical},
    )
    got = frame.group_by("g").agg(pl.col("c").drop_nulls().min().cast(pl.String)).sort("g")
    assert got["c"].to_list() == ["alpha-window", None]


def test_user_key_groups_as_the_two_columns():
    """user_key packs a user and a Date or Categorical into one integer: grouping on it and
    reading the user and date back gives the groups of the two columns; partitioning on it
    separates the same (user, phase) pairs; a users' range over 30 bits gets None."""
    from analysis.questions.q4_detect import user_key

    rng = np.random.default_rng(3)
    n = 2000
    frame = pl.DataFrame(
        {
            "user_id": rng.integers(-5, 40, n),
            "date": [
                dt.date(1960, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 9e4, n)
            ],
            "phase": rng.choice(["active", "alumni", "staff", "before"], n).tolist(),
            "views": rng.integers(1, 50, n),
        },
        schema_overrides={"user_id": pl.Int64, "phase": pl.Categorical},
    )
    day = user_key(frame, "date")
    assert day is not None
    packed = (
        frame.group_by(day.key).agg(pl.col("views").sum()).select(day.user_id, day.value, "views")
    )
    plain = frame.group_by("user_id", "date").agg(pl.col("views").sum())
    assert packed.sort(pl.all()).equals(plain.sort(pl.all()))
    phase = user_key(frame, "phase")
    assert phase is not None
    partition = frame.select(pl.col("views").sum().over(phase.key).alias("total"))
    assert partition.equals(
        frame.select(pl.col("views").sum().over("user_id", "phase").alias("total"))
    )
    wide = frame.with_columns(
        pl.when(pl.col("user_id") == 0).then(1 << 40).otherwise("user_id").alias("user_id")
    )
    assert user_key(wide, "date") is None


def _daily_rows(
    rng: np.random.Generator, users: np.ndarray, days: int, nonprobe: np.ndarray
) -> pl.DataFrame:
    """Rows like `user_ip_days` for daily_views: each user's day (one of `days` from 2021-01-01),
    its `nonprobe` views, a random window and role."""
    n = len(users)
    return pl.DataFrame(
        {
            "user_id": users,
            "date": [
                dt.date(2021, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, days, n)
            ],
            "nonprobe": nonprobe,
            "window": rng.choice(["active", "alumni", None], n).tolist(),
            "role": rng.choice(["student", "staff"], n).tolist(),
        },
        schema_overrides={
            "user_id": pl.Int64,
            "nonprobe": pl.UInt32,
            "window": pl.Categorical,
            "role": pl.Categorical,
        },
    )


def test_daily_views_packed_or_plain(demo_config):
    """daily_views groups and partitions on `user_key` when the user ids span 30 bits or less, on
    the plain columns otherwise: the same days, phases and flags either way."""
    from analysis.questions.q4_detect import daily_views

    rng = np.random.default_rng(9)
    n = 3000
    uid = _daily_rows(
        rng, rng.integers(1, 30, n), 90, rng.integers(0, 20, n) + 3000 * (rng.random(n) < 0.01)
    )
    groups = uid.group_by("user_id").agg(pl.lit("students").alias("group"))
    shift = pl.col("user_id") + (1 << 40) * (pl.col("user_id") % 2)
    packed = daily_views(uid.lazy(), groups.lazy(), demo_config).collect()
    plain = (
        daily_views(uid.lazy().with_columns(shift), groups.lazy().with_columns(shift), demo_config)
        .collect()
        .with_columns(pl.col("user_id") % (1 << 40))
    )
    assert plain.sort("user_id", "date").equals(packed.sort("user_id", "date"))
    assert packed["heavy"].any() and packed.height > 1000


def test_daily_views_judges_the_users_at_the_bar_only(demo_config):
    """daily_views computes a person's usual day only for the users with a day at the population's
    bar: their statistics and every day's heavy flag are those of the plain computation over every
    user's days; the other users' statistics are null, none of their days heavy."""
    from analysis.questions.q4_detect import daily_views

    q = demo_config.q4
    rng = np.random.default_rng(21)
    n = 6000
    users = rng.integers(1, 200, n)
    # a few users (ids below 12) have spikes far above everyone's days
    spikes = 2000 * ((rng.random(n) < 0.05) & (users < 12))
    uid = _daily_rows(rng, users, 120, rng.integers(0, 30, n) + spikes)
    groups = uid.group_by("user_id").agg(
        pl.when(pl.col("user_id") % 5 == 0)
        .then(pl.lit("staff"))
        .otherwise(pl.lit("students"))
        .first()
        .alias("group")
    )
    got = daily_views(uid.lazy(), groups.lazy(), demo_config).collect().sort("user_id", "date")
    person = ["user_id", "phase"]
    plain = (
        uid.filter(pl.col("nonprobe") > 0)
        .group_by("user_id", "date")
        .agg(
            pl.col("nonprobe").sum().cast(pl.UInt32).alias("views"),
            pl.col("window").min(),
            pl.col("role").min(),
        )
        .with_columns(pl.coalesce("window", "role").cast(pl.String).alias("phase"))
        .join(groups, on="user_id", how="left")
        .with_columns(pl.col("views").cast(pl.Float64).log().alias("log_views"))
        .with_columns(
            pl.col("log_views").median().over(person).alias("own_median"),
            pl.len().over(person).alias("own_days"),
            pl.col("views").quantile(q.heavy_pop_quantile).over("group").alias("pop_bar"),
        )
        .with_columns(
            (pl.col("log_views") - pl.col("own_median"))
            .abs()
            .median()
            .over(person)
            .alias("own_mad"),
            pl.max_horizontal("pop_bar", pl.lit(float(q.heavy_day_min_views))).alias("bar"),
        )
        .with_columns(
            (
                (pl.col("log_views") - pl.col("own_median"))
                / (1.4826 * pl.col("own_mad")).clip(lower_bound=math.log(q.heavy_own_floor))
            ).alias("own_z"),
            pl.col("own_median").exp().alias("usual"),
        )
        .with_columns(
            (
                (pl.col("views") >= pl.col("bar"))
                & (
                    (pl.col("own_days") < q.heavy_min_days)
                    | (pl.col("own_z") >= q.heavy_own_z)
                    | (pl.col("views") >= q.heavy_own_times * pl.col("usual"))
                )
            ).alias("heavy")
        )
        .select(got.columns)
        .sort("user_id", "date")
    )
    assert got["heavy"].equals(plain["heavy"]) and got["heavy"].sum() > 3
    judged = pl.col("own_days").is_not_null()
    at_bar = pl.col("user_id").is_in(
        plain.filter(pl.col("views") >= pl.col("bar"))["user_id"].unique().implode()
    )
    assert got.select(judged.alias("j")).equals(plain.select(at_bar.alias("j")))
    assert got.filter(at_bar).equals(plain.filter(at_bar))
    assert 0 < got.filter(at_bar).height < got.height / 5
    statistics = ("log_views", "own_median", "own_days", "own_mad", "own_z", "usual")
    others = got.filter(~at_bar)
    assert others.drop(statistics).equals(plain.filter(~at_bar).drop(statistics))
    assert others.select(pl.col(statistics).null_count().sum()).row(0) == (others.height,) * 6


@pytest.mark.parametrize("case", ["found", "given", "out_of_bounds", "fraction"])
def test_session_order_starts_sessions_and_slots(case):
    """session_order's `new` (a session starts: another user, or more than the gap since the row
    before) and `same_slot` (the user's 10-minute slot of the row before) are those of the plain
    computation on the sorted columns: on the packed key with bounds found or given (one user's
    last view at the last second of the last day, the next user's first at midnight of the first),
    and on the three columns when a view is out of the given bounds or has a fraction of a
    second."""
    from analysis.questions.q4_detect import Bounds, session_order

    rng = np.random.default_rng(13)
    n = 3000
    day0, day1 = dt.date(2020, 1, 6), dt.date(2020, 1, 8)
    midnight = dt.datetime(2020, 1, 6)
    seconds = rng.integers(0, 3 * 86_400, n)
    seconds[:20] = 0  # midnight of the first day
    seconds[20:40] = 3 * 86_400 - 1  # the last second of the last day
    frame = _session_views(rng, midnight, seconds, case == "fraction")
    bounds = {
        "found": None,
        "given": Bounds((3, 19), (day0, day1), 8),
        "out_of_bounds": Bounds((3, 19), (day0, dt.date(2020, 1, 7)), 8),
        "fraction": Bounds((3, 19), (day0, day1), 8),
    }[case]
    gap = 300
    order = session_order(frame.lazy(), 10, gap, bounds)
    assert ("key" in order.frame.columns) == (case in ("found", "given"))
    got = _order_columns(order, "user_id", "timestamp", "net", "new", "same_slot")
    ts, user = pl.col("timestamp"), pl.col("user_id")
    slot = ts.dt.truncate("10m")
    same_user = user == user.shift()
    plain = frame.sort("user_id", "timestamp", "net").with_columns(
        (~same_user | ((ts - ts.shift()).dt.total_seconds() > gap)).fill_null(True).alias("new"),
        (same_user & (slot == slot.shift())).fill_null(False).alias("same_slot"),
    )
    assert got.equals(plain)
    assert 100 < got["new"].sum() < n - 100 and got["same_slot"].sum() > 100


@pytest.mark.parametrize("wide", [False, True])
def test_per_window_groups_by_user_and_window(wide):
    """per_window groups by user and window number on one packed integer (or on the two columns
    when the user ids span more than 30 bits): the groups of a plain two-column group-by."""
    from analysis.questions.q4_detect import _windows, per_window

    rng = np.random.default_rng(4)
    n = 2000
    frame = pl.DataFrame(
        {
            "user_id": rng.integers(1, 40, n) + ((1 << 40) if wide else 0),
            "date": [
                dt.date(1969, 6, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)
            ],
            "views": rng.integers(1, 9, n),
        },
        schema_overrides={"user_id": pl.Int64},
    ).with_columns(_windows(28))
    aggs = (pl.col("views").sum(), pl.col("date").min().alias("first"))
    for w in ("w0", "w1"):
        got = per_window(frame, w, *aggs).collect()
        plain = frame.group_by("user_id", pl.col(w).alias("window")).agg(*aggs)
        assert got.sort("user_id", "window").equals(plain.sort("user_id", "window"))


def test_campus_addresses_skip_addresses_with_few_rows(demo_config):
    """campus_addresses leaves out, before counting people week by week, the addresses with fewer
    rows than campus_weekly_users x campus_min_weeks: the same addresses as counting them all,
    an address exactly at the bar included."""
    from analysis.questions.q4_detect import campus_addresses

    q4c = demo_config.q4
    users, weeks = q4c.campus_weekly_users, q4c.campus_min_weeks
    monday = dt.date(2021, 3, 1)
    rows = [  # exactly at the bar: `users` people in each of `weeks` weeks, one row each
        ("10.0.0.1", u, monday + dt.timedelta(weeks=w)) for u in range(users) for w in range(weeks)
    ]
    rows += [  # one person short in one week
        ("10.0.0.2", u, monday + dt.timedelta(weeks=w))
        for u in range(users)
        for w in range(weeks)
        if (u, w) != (0, 0)
    ]
    rows += [  # many rows from one person
        ("10.0.0.3", 7, monday + dt.timedelta(days=d)) for d in range(3 * users * weeks)
    ]
    uid = pl.DataFrame(
        rows, schema={"ip": pl.Categorical, "user_id": pl.Int64, "date": pl.Date}, orient="row"
    ).lazy()
    plain = (
        uid.group_by("ip", pl.col("date").dt.truncate("1w").alias("week"))
        .agg(pl.col("user_id").n_unique().alias("users"))
        .filter(pl.col("users") >= users)
        .group_by("ip")
        .agg(pl.len().alias("weeks"))
        .filter(pl.col("weeks") >= weeks)
        .collect()
    )
    assert campus_addresses(uid, demo_config, []) == ["10.0.0.1"]
    assert plain["ip"].cast(pl.String).to_list() == ["10.0.0.1"]


def test_packed_keys_and_plain_columns_find_the_same_incidents(cfg):
    """Every integer packing of question 4 (user_ip_days' key, the session order, user_key's
    groupings) is used only when the numbers fit; with user ids far apart (over 2^50) each falls
    back to the plain columns. Both must find the same incidents: the same log with its later
    users' ids moved up by 2^50 (an order-preserving change) gives the same list, ids aside."""
    home = _evenings(140, ["198.51.100.140"], 9, 60, seed=3)
    pool = _evenings(140, ["192.0.2.10", "100.64.7.9"], 20, 21, seed=4)
    parts = [
        *_background(),
        home,
        pool,
        *_one_account_two_places(),
        _evening(104, "198.51.100.5", dt.datetime(2019, 2, 20)),
        _burst(107, "198.51.100.8", dt.datetime(2019, 2, 11, 3, 0)),
        _crawler(160, "203.0.113.77", dt.datetime(2019, 2, 14, 1, 0)),
    ]
    far = 1 << 50
    moved = [
        {**part, "user_id": [u + far if u >= 120 else u for u in part["user_id"]]} for part in parts
    ]
    plain = q4.answer(_snapshot(parts), cfg).incidents
    wide = q4.answer(_snapshot(moved), cfg).incidents
    back = wide.with_columns(
        pl.when(pl.col("user_id") >= far).then(pl.col("user_id") - far).otherwise("user_id")
    )
    for user in range(120, 200):
        back = back.with_columns(
            pl.col("evidence").str.replace_all(str(user + far), str(user), literal=True)
        )
    assert set(plain["kind"]) >= {"account_sharing", "scraping", "heavy_day"}
    assert back.equals(plain)


def test_sessions_beside_the_daily_frames_or_first_give_the_same_frames(cfg):
    """`detect` computes the sessions in a thread beside the per user and day frames on smaller logs
    (`beside`) and before them on larger ones: the same incidents, daily frame and campus addresses
    either way, on a log with automated fetching, a shared account and heavy days."""
    parts = [
        *_background(),
        *_one_account_two_places(),
        _evening(104, "198.51.100.5", dt.datetime(2019, 2, 20)),
        _burst(107, "198.51.100.8", dt.datetime(2019, 2, 11, 3, 0)),
    ]
    snapshot = _snapshot(parts)
    first = q4.detect(q4.prepare(snapshot, cfg), cfg, beside=False)
    beside = q4.detect(q4.prepare(snapshot, cfg), cfg, beside=True)
    assert set(first[0]["kind"]) >= {"account_sharing", "scraping", "heavy_day"}
    daily = [frame.sort(frame.columns) for frame in (first[1], beside[1])]  # in no set order
    assert first[1].height and daily[0].equals(daily[1])
    assert first[0].equals(beside[0]) and first[2] == beside[2]


def test_days_of_pages_as_plain_grouping():
    """days_of_pages groups only the users with several cohort ids or set-aside views (the others
    have one row per address and day in `user_ip_days`): the same rows as grouping them all."""
    from analysis.questions.q4_detect import days_of_pages

    rng = np.random.default_rng(8)
    n = 3000
    first = dt.datetime(2022, 5, 2, 9, 0, 0)
    stamps = [first + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 10**6, n)]
    rows = pl.DataFrame(
        {
            "user_id": rng.integers(1, 40, n),
            "ip": rng.choice(["10.0.0.1", "10.0.0.2", "10.0.3.3"], n).tolist(),
            "cohort_id": rng.choice([1, 2, None], n).tolist(),
            "kept": rng.random(n) > 0.05,
            "timestamp": stamps,
            "pages": rng.integers(0, 4, n),
        },
        schema_overrides={"pages": pl.UInt32, "timestamp": pl.Datetime("us")},
    ).with_columns(
        pl.col("timestamp").dt.date().alias("date"),
        pl.col("ip").cast(pl.Categorical),
        pl.col("timestamp").alias("pg_first"),
        (pl.col("timestamp") + pl.duration(minutes=5)).alias("pg_last"),
    )
    # users 1-20 have one cohort id and no view set aside, 21-30 one cohort id and views set
    # aside, 31-39 several cohort ids and no view set aside
    user = pl.col("user_id")
    rows = rows.with_columns(
        pl.when(user <= 30).then(1).otherwise("cohort_id").alias("cohort_id"),
        (pl.col("kept") | (user <= 20) | (user > 30)).alias("kept"),
    )
    # one row per user, address, day, cohort id and kept, as in user_ip_days
    uid = rows.group_by("user_id", "ip", "date", "cohort_id", "kept").agg(
        pl.col("pages").sum(), pl.col("pg_first").min(), pl.col("pg_last").max()
    )
    plain = (
        uid.filter(pl.col("pages") > 0)
        .group_by("user_id", "ip", "date")
        .agg(
            pl.col("pages").sum().alias("views"),
            pl.col("pg_first").min().alias("start"),
            pl.col("pg_last").max().alias("end"),
        )
    )
    got = days_of_pages(uid.lazy()).collect()
    keys = ["user_id", "ip", "date"]
    assert got.schema == plain.schema
    assert got.height < uid.filter(pl.col("pages") > 0).height
    assert (
        got.with_columns(pl.col("ip").cast(pl.String))
        .sort(keys)
        .equals(plain.with_columns(pl.col("ip").cast(pl.String)).sort(keys))
    )
