"""The report history and "what changed since the last report" (issue 19).

Unit tests compare small findings documents built here (the comparison reads only JSON); the storage
tests write entries from a stub report; the render tests build a small log twice: up to 30 September
2019, then to the end of 2019 with three additions (a new scraper, a new shared account, a student of a
new cohort dropping out after a week), and check that the second report names exactly those as new.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import gzip
import html
import multiprocessing
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from render_support import LESSONS, _cohorts, configured

from analysis import changes as ch
from analysis import history
from analysis.cli import main
from analysis.config import Config, load_config
from analysis.publish import privacy

# --- small findings documents ---------------------------------------------------------------------------


def incident(
    kind: str, tier: str, start: str, end: str, user: int | None = None, ip: str = ""
) -> dict:
    return {
        "tier": tier,
        "kind": kind,
        "user_id": user,
        "ip": ip or None,
        "start": start,
        "end": end,
    }


def document(last_seen: str, incidents: list[dict], students: list[dict] | None = None) -> dict:
    tiers: dict[str, int] = {}
    for row in incidents:
        tiers[row["tier"]] = tiers.get(row["tier"], 0) + 1
    return {
        "schema_version": 1,
        "dataset": {"last_seen": last_seen, "rows": 1000, "users": 50, "cohorts": 4},
        "questions": {
            "4": {
                "incidents": incidents,
                "tiers": [{"tier": t, "incidents": n} for t, n in tiers.items()],
            },
            "3": {
                "students": students or [],
                "low_students": sum(1 for s in students or [] if s.get("low_usage")),
            },
            "2": {"cases": [{"cohort": "Europa", "lesson": "spring", "program": "Java web dev"}]},
            "5": {
                "cross_views": 40,
                "monthly": [
                    {"month": "2021-01-01", "views": 10},
                    {"month": "2021-02-01", "views": 5},
                    {"month": "2021-03-01", "views": 20},
                ],
            },
        },
    }


OLD_SCRAPER = incident(
    "scraping", "high", "2021-01-10T03:00:00", "2021-01-10T03:05:00", 7, "203.0.113.x"
)
SHARING = incident("account_sharing", "medium", "2021-01-20T00:00:00", "2021-02-10T00:00:00", 8)
GONE = incident("heavy_day", "medium", "2021-02-01T00:00:00", "2021-02-01T23:00:00", 9)
PREVIOUS = document("2021-02-14T18:00:00", [OLD_SCRAPER, SHARING, GONE])


def current_document() -> dict:
    sharing_later = dict(SHARING, end="2021-03-05T00:00:00", tier="high")  # went on, now high
    new_scraper = incident(
        "scraping", "high", "2021-03-01T02:00:00", "2021-03-01T02:04:00", None, "198.51.100.x"
    )
    same_actor_new_episode = dict(
        OLD_SCRAPER, start="2021-03-03T03:00:00", end="2021-03-03T03:04:00"
    )
    students = [{"user_id": 12, "cohort_id": 3, "cohort": "Hopper", "likely_dropout": True}]
    return document(
        "2021-03-10T12:00:00",
        [OLD_SCRAPER, sharing_later, new_scraper, same_actor_new_episode],
        students,
    )


def test_incidents_matched_by_kind_actor_and_overlapping_episode() -> None:
    result = ch.compare(current_document(), PREVIOUS)
    q4 = result.question(4)
    assert {i.label for i in q4.new} == {
        "automated fetching by address 198.51.100.x (from 2021-03-01)",
        "automated fetching by user 7 (from 2021-03-03)",  # same actor, a new episode: new
    }
    continuing = {i.label: i for i in q4.continuing}
    assert set(continuing) == {
        "automated fetching by user 7 (from 2021-01-10)",
        "shared account: user 8 (from 2021-01-20)",
    }
    sharing = continuing["shared account: user 8 (from 2021-01-20)"]
    assert sharing.tier_changed and sharing.previous_tier == "medium" and sharing.tier == "high"
    assert sharing.active_since  # its episode goes on after the previous report's data
    assert not continuing["automated fetching by user 7 (from 2021-01-10)"].active_since
    assert [i.label for i in q4.gone] == ["heavy day by user 9 (from 2021-02-01)"]
    assert q4.sentence == (
        "Since the report of 2021-02-14: 2 new incidents (2 needing action now), 2 continuing, "
        "1 tier change, 1 no longer reported."
    )
    assert result.question(3).new[0].label == "user 12 (Hopper): likely drop-out"
    assert not result.question(2).new and not result.question(2).gone


def test_headline_numbers_and_cross_program_periods() -> None:
    result = ch.compare(current_document(), PREVIOUS)
    rows = {n.label: n for n in result.headline}
    assert rows["Log rows"].change == 0 and rows["Cohorts"].current == 4
    q5 = result.question(5)
    # new period: February (the month after the previous data end's day) and March; before: Dec-Jan
    assert (q5.numbers[0].current, q5.numbers[0].previous) == (25.0, 10.0)
    assert "25 cross-program views in the 2 months since, more than the 10" in q5.sentence


def test_lessons_are_named_by_their_titles_and_matched_by_their_paths() -> None:
    """Q7's list: a lesson is matched by its path (findings of older code have no title) and shown by its
    title where the findings have one."""
    old = {"program": "Java web dev", "lesson": "java-iii/user-input", "views": 5}
    titled = {**old, "lesson_title": "Java III > User input"}
    extra = {"program": "Java web dev", "lesson": "spring/intro", "views": 5}

    def with_q7(base: dict, rows: list[dict]) -> dict:
        return {**base, "questions": {**base["questions"], "7": {"least_accessed": rows}}}

    result = ch.compare(
        with_q7(current_document(), [titled, {**extra, "lesson_title": "Spring > Intro"}]),
        with_q7(PREVIOUS, [old]),
    )
    q7 = result.question(7)
    assert [i.label for i in q7.new] == ["Spring > Intro (Java web dev)"]
    assert [i.label for i in q7.continuing] == ["Java III > User input (Java web dev)"]
    untitled = ch.compare(with_q7(current_document(), [extra]), with_q7(PREVIOUS, []))
    assert [i.label for i in untitled.question(7).new] == ["spring/intro (Java web dev)"]


def test_method_change_names_the_settings() -> None:
    result = ch.compare(
        current_document(),
        PREVIOUS,
        current_settings={"q4.scrape_min_pages": 40, "q1.top_k": 5},
        previous_settings={"q4.scrape_min_pages": 30, "q1.top_k": 5},
    )
    assert result.method_changed and result.changed_settings == ("q4.scrape_min_pages",)
    assert any(
        "method changed" in line and "q4.scrape_min_pages" in line for line in ch.bullets(result)
    )
    same = ch.compare(
        current_document(), PREVIOUS, current_settings={"a": 1}, previous_settings={"a": 1}
    )
    assert not same.method_changed


def test_first_report_and_missing_keys() -> None:
    first = ch.compare(current_document(), None)
    assert first.first_report and not first.questions
    assert ch.headline_changes(first) == [
        "This is the first report: there is no earlier report to compare with."
    ]
    again = ch.compare(current_document(), None, same_data_built="2021-03-11")
    assert again.first_report and ch.slide_note(again) == (
        "No new data since the report built on 2021-03-11: it covered the same data (up to "
        "2021-03-10), so nothing is new."
    )
    assert "first report" in ch.slide_note(first)
    # documents of another version: keys missing or of the wrong type never crash
    bare = ch.compare(
        {"dataset": {"last_seen": "2021-03-01"}},
        {"dataset": {"last_seen": "2021-02-01"}, "questions": {"4": {"incidents": "?"}}},
    )
    assert not bare.first_report and bare.question(4).items == ()
    assert ch.bullets(bare) == [
        "Nothing new needs action: no new incident, case or flagged student."
    ]
    assert ch.headline_changes(None) == [] and ch.slide_note(None) == ""


def test_headline_changes_put_new_items_first() -> None:
    result = ch.compare(current_document(), PREVIOUS)
    lines = ch.headline_changes(result)
    assert 1 <= len(lines) <= 3
    assert lines[0].startswith("New, needs action now: automated fetching by address 198.51.100.x")
    assert lines[1].startswith("Newly flagged students: user 12")
    note = ch.slide_note(result)
    assert note.startswith("Since the report of 2021-02-14: New, needs action now")
    assert "continue" in note
    # the slide's bullet: counts, each a clause (clipped at a clause, never inside an item)
    assert ch.news_bullet(result) == (
        "New since 2021-02-14: 2 incidents in the High tier, 1 flagged student"
    )
    nothing = ch.compare(PREVIOUS, document("2021-02-01T00:00:00", [OLD_SCRAPER, SHARING, GONE]))
    assert ch.news_bullet(nothing) == "Nothing new needs action since the 2021-02-01 report"
    assert ch.news_bullet(ch.compare(PREVIOUS, None)) == "" and ch.news_bullet(None) == ""


def test_trends_one_point_per_report() -> None:
    frame = ch.trends(
        [(dt.date(2021, 2, 14), PREVIOUS), (dt.date(2021, 3, 10), current_document())]
    )
    high = frame.filter((pl.col("question") == 4) & (pl.col("series") == "High tier"))
    assert high.get_column("value").to_list() == [1.0, 4.0]
    from analysis.charts.history import chart_trend, chart_trend_row

    result = ch.compare(
        current_document(), PREVIOUS,
        history=[(dt.date(2021, 2, 14), PREVIOUS), (dt.date(2021, 3, 10), current_document())],
    )  # fmt: skip
    spec = chart_trend(result, 4).to_dict()
    assert spec["title"]["text"] == "High tier: 4, up from 1"
    assert chart_trend_row(result).to_dict()["description"].startswith("Each question's headline")
    assert (
        "No earlier report" in chart_trend(ch.compare(PREVIOUS, None), 4).to_dict()["description"]
    )


def test_pages_show_new_rows_first_and_count_the_quiet_ones(config: Config) -> None:
    from analysis.publish import pages

    quiet = [
        incident(
            "unknown_user", "low", f"2021-01-{d:02d}T00:00:00", f"2021-01-{d:02d}T01:00:00", 100 + d
        )
        for d in range(1, 13)
    ]
    previous = document("2021-02-14T18:00:00", quiet)
    current = document(
        "2021-03-10T00:00:00",
        [
            *quiet,
            incident(
                "scraping",
                "high",
                "2021-03-01T02:00:00",
                "2021-03-01T02:04:00",
                None,
                "203.0.113.45",
            ),
        ],
    )
    report = StubReport(current)
    pages.use(report, config)
    pages._STATE["changes"] = (report, ch.compare(history.public_findings(report), previous))
    pages.start(4)
    text = pages.question_changes().data
    assert "## What changed since the last report" in text
    assert text.count('<tr class="is-new">') == 1 and 'class="not-new"' not in text
    assert "badge-new" in text and "203.0.113.x" in text and "203.0.113.45" not in text
    assert "12 earlier incidents continue unchanged" in text
    pages.start("index")
    summary = pages.since_last_report().data
    assert "## Since the report of 2021-02-14" in summary
    assert "New, needs action now: automated fetching by address 203.0.113.x" in summary.replace(
        "\\", ""
    )
    pages._STATE["changes"] = (report, None)  # --no-history: nothing at all
    assert pages.since_last_report().data == "" and pages.question_changes(4).data == ""


# --- storage --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class StubReport:
    findings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return copy.deepcopy(self.findings)

    def memo_json(self, name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return build()  # Report keeps the document; a stub builds it at every call


def _stub(last_seen: str, ip: str = "203.0.113.45") -> StubReport:
    doc = document(
        last_seen,
        [incident("scraping", "high", "2021-01-10T03:00:00", "2021-01-10T03:05:00", 7, ip)],
    )
    doc["dataset"]["source_detail"] = "logs /home/someone/secret/logs.txt.gz"
    return StubReport(doc)


def test_entries_are_masked_listed_and_pruned(config: Config, capsys) -> None:
    for day, built in (
        ("2021-01-31", "2021-02-01T05:00:00+00:00"),
        ("2021-02-07", "2021-02-08T05:00:00+00:00"),
        ("2021-02-14", "2021-02-15T05:00:00+00:00"),
    ):
        history.write_entry(_stub(day + "T10:00:00"), config, built_at=built)
    folder = history.history_dir(config)
    raw = b"".join(gzip.decompress(p.read_bytes()) for p in folder.glob("*.json.gz"))
    assert b"203.0.113.45" not in raw and b"203.0.113.x" in raw  # masked as the site shows it
    assert b"/home/someone" not in raw and b"logs.txt.gz" in raw
    campus = config.replace(q4=dataclasses.replace(config.q4, campus_ips=("97.105.19.61",)))
    assert history.analysis_settings(campus)["q4.campus_ips"] == ["97.105.19.x"]  # settings too
    entries = history.load_history(config)
    assert [e.data_end.isoformat() for e in entries] == ["2021-01-31", "2021-02-07", "2021-02-14"]
    assert entries[0].settings_digest == history.settings_digest(history.analysis_settings(config))
    assert history.previous_entry(entries, dt.date(2021, 2, 14)).data_end == dt.date(2021, 2, 7)
    assert history.previous_entry(
        entries, dt.date(2021, 2, 14), dt.date(2021, 1, 31)
    ).data_end == dt.date(2021, 1, 31)
    with pytest.raises(history.ConfigError, match="no stored report has data ending"):
        history.previous_entry(entries, None, dt.date(2020, 1, 1))
    listing = history.describe_history(config)
    assert "3 stored report(s)" in listing and re.search(
        r"2021-02-14\s+2021-02-15 05:00:00\s+1\s+-\s+-", listing
    )
    small = config.replace(history=dataclasses.replace(config.history, keep=2))
    removed = history.prune(small)
    assert [p.name[7:17] for p in removed] == ["2021-01-31"]
    assert len(history.load_history(config)) == 2
    # retention is applied when a report is added, too
    history.write_entry(_stub("2021-02-21T10:00:00"), small)
    assert [e.data_end.isoformat() for e in history.load_history(small)] == [
        "2021-02-14",
        "2021-02-21",
    ]


def test_corrupt_and_foreign_files_are_skipped_with_one_warning(config: Config) -> None:
    history.write_entry(_stub("2021-02-14T10:00:00"), config)
    folder = history.history_dir(config)
    good = next(folder.glob("*.json.gz"))
    (folder / "report-2021-02-21-20210222T050000Z-1.json.gz").write_bytes(
        good.read_bytes()[:40]
    )  # truncated
    (folder / "report-2021-02-28-20210301T050000Z-1.json.gz").write_bytes(
        gzip.compress(b'{"format": "x"}')
    )
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    (folder / ".report-2021-03-07-x.json.gz.tmp").write_bytes(
        b"partial"
    )  # a killed writer's: ignored
    warnings: list[str] = []
    entries = history.load_history(config, warn=warnings.append)
    assert [e.path for e in entries] == [good]
    assert len(warnings) == 3 and all(
        "\n" not in w and w.startswith("history: skipped ") for w in warnings
    )
    assert any("report-2021-02-21" in w and "unreadable" in w for w in warnings)
    # keeping a report lists the folder by file names and reads no entry: it names the foreign
    # file; the damaged entries are named by what reads them (above, and the comparison of a render)
    notes = history.record(_stub("2021-02-21T10:00:00"), config)
    assert [n for n in notes if n.startswith("history: skipped ")] == [
        "history: skipped notes.txt: not a history entry (unexpected file name)"
    ]
    assert notes[-1].startswith("history: kept as report-2021-02-21-")


def test_pruning_orders_by_file_name_and_reads_no_entry(config: Config, monkeypatch) -> None:
    """Retention deletes the oldest entry files by name (data end, then build time), damaged ones
    included, without decompressing any entry (a render must not read a year of history)."""
    for day, built in (
        ("2021-01-31", "2021-02-01T05:00:00+00:00"),
        ("2021-02-07", "2021-02-08T05:00:00+00:00"),
        ("2021-02-07", "2021-02-09T05:00:00+00:00"),  # the same data built again, later
    ):
        history.write_entry(_stub(day + "T10:00:00"), config, built_at=built)
    folder = history.history_dir(config)
    (folder / "report-2021-01-24-20210125T050000Z-1.json.gz").write_bytes(b"not gzip")

    def unread(path: Path) -> None:
        raise AssertionError(f"prune read {path.name}")

    monkeypatch.setattr(history, "read_entry", unread)
    small = config.replace(history=dataclasses.replace(config.history, keep=2))
    removed = history.prune(small)
    assert [p.name[7:34] for p in removed] == [
        "2021-01-24-20210125T050000Z",
        "2021-01-31-20210201T050000Z",
    ]
    kept = sorted(p.name[7:34] for p in folder.glob("*.json.gz"))
    assert kept == ["2021-02-07-20210208T050000Z", "2021-02-07-20210209T050000Z"]


def test_the_comparison_reads_the_latest_readable_build_of_each_day(config: Config) -> None:
    """load_latest (what changes_for reads): one entry per data end, the newest build that can be
    read, chosen by file name; a damaged newest build is warned about and the one before it used. The
    same entries as picking the newest per data end from the whole history."""
    for day, built in (
        ("2021-02-07", "2021-02-08T05:00:00+00:00"),
        ("2021-02-14", "2021-02-15T05:00:00+00:00"),
        ("2021-02-14", "2021-02-16T05:00:00+00:00"),
        ("2021-02-21", "2021-02-22T05:00:00+00:00"),
    ):
        history.write_entry(_stub(day + "T10:00:00"), config, built_at=built)
    folder = history.history_dir(config)
    newest = folder / "report-2021-02-21-20210223T050000Z-1.json.gz"
    newest.write_bytes(b"damaged")  # a newer build of 2021-02-21 that cannot be read
    warnings: list[str] = []
    latest = history.load_latest(config, warn=warnings.append)
    assert [(e.data_end.isoformat(), e.built_at[:10]) for e in latest] == [
        ("2021-02-07", "2021-02-08"),
        ("2021-02-14", "2021-02-16"),
        ("2021-02-21", "2021-02-22"),
    ]
    assert len(warnings) == 1 and newest.name in warnings[0] and "unreadable" in warnings[0]
    everything = history.load_history(config, warn=lambda _: None)
    newest_per_day = {e.data_end: e for e in everything}  # sorted oldest build first: last wins
    assert [e.path for e in latest] == [e.path for e in newest_per_day.values()]


def test_a_failed_write_leaves_no_entry(config: Config, monkeypatch) -> None:
    history.write_entry(_stub("2021-02-14T10:00:00"), config)

    def crash(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history.os, "replace", crash)
    notes = history.record(_stub("2021-02-21T10:00:00"), config)
    assert notes and notes[0].startswith("history: not kept (cannot write the history entry")
    folder = history.history_dir(config)
    assert [p.name[7:17] for p in folder.iterdir() if not p.name.startswith(".")] == ["2021-02-14"]
    assert not list(folder.glob(".*.tmp"))


def _write_one(args: tuple[Path, str]) -> str:
    data_dir, day = args
    base = load_config(environ={})
    config = base.replace(paths=dataclasses.replace(base.paths, data_dir=data_dir))
    return history.write_entry(_stub(day + "T10:00:00"), config).name


def test_concurrent_builds_each_add_their_entry(config: Config) -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        names = pool.map(_write_one, [(config.paths.data_dir, "2021-02-14")] * 4)
    assert len(set(names)) == 4
    assert len(history.load_history(config)) == 4


def test_no_history_reads_and_writes_nothing(config: Config) -> None:
    off = config.replace(history=dataclasses.replace(config.history, enabled=False))
    assert history.record(_stub("2021-02-14T10:00:00"), off) == []
    assert history.changes_for(_stub("2021-02-14T10:00:00"), off) is None
    assert not history.history_dir(config).exists()


def test_cli_history_lists_prunes_and_checks_dates(config: Config, tmp_path: Path, capsys) -> None:
    data = config.paths.data_dir
    assert main(["history", "--data-dir", str(data)]) == 0
    assert "no stored report" in capsys.readouterr().out
    for day in ("2021-02-07", "2021-02-14"):
        history.write_entry(_stub(day + "T10:00:00"), config)
    toml = tmp_path / "keep1.toml"
    toml.write_text("[history]\nkeep = 1\n", encoding="utf-8")
    assert main(["history", "--data-dir", str(data), "--config", str(toml), "--prune"]) == 0
    out = capsys.readouterr().out
    assert "pruned 1 report(s)" in out and "1 stored report(s)" in out and "2021-02-14" in out
    assert main(["build", "--data-dir", str(data), "--compare-to", "14 Feb"]) == 2
    assert "--compare-to: expected a date YYYY-MM-DD" in capsys.readouterr().err
    assert main(["render", "--no-history", "--compare-to", "2021-02-14"]) == 2
    assert main(["build", "--data-dir", str(data), "--compare-to", "2020-01-06"]) == 2
    err = capsys.readouterr().err
    assert (
        "--compare-to 2020-01-06: no stored report has data ending that day (stored: 2021-02-14)"
        in err
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("[history]\nkeep = 0\n", encoding="utf-8")
    assert main(["history", "--config", str(bad)]) == 2


# --- two real builds ------------------------------------------------------------------------------------

CUT = dt.datetime(2019, 10, 1)
END = dt.date(2019, 12, 31)
NEW_SCRAPER_IP = "203.0.113.45"
OLD_SCRAPER_IP = "198.51.100.77"


def _all_cohorts() -> pl.DataFrame:
    base = _cohorts()
    hopper = pl.DataFrame(
        [(7, "Hopper", "#x", dt.date(2019, 9, 9), dt.date(2020, 2, 20), None, None, None, 3)],
        schema=base.schema,
        orient="row",
    )
    return pl.concat([base, hopper])


def _log(additions: bool) -> pl.DataFrame:
    """Six cohorts of eight students reading on weekdays; one scraper in April 2019. With the additions
    (all after the cut): a scraper (user 33), a shared account (user 30 from 40 networks), and a student
    of the new cohort Hopper (user 41) who stops after the first week."""
    rng = random.Random(5)
    rows = []
    user = 0
    for cid, start, end, program in (
        _all_cohorts().select("id", "start_date", "end_date", "program_id").iter_rows()
    ):
        if cid == 6:  # staff
            continue
        pool = LESSONS[7:] if program == 3 else LESSONS[:7]
        for seat in range(8):
            user += 1
            ip = f"10.{cid}.{user}.{rng.randint(2, 250)}"
            last = start + dt.timedelta(days=6) if additions and cid == 7 and seat == 0 else END
            for k in range((min(end, last) - start).days + 1):
                day = start + dt.timedelta(days=k)
                if day.weekday() >= 5 or day < dt.date(2018, 1, 1):
                    continue
                for _ in range(rng.randint(2, 8)):
                    moment = dt.datetime.combine(
                        day, dt.time(rng.randint(8, 20), rng.randint(0, 59), rng.randint(0, 59))
                    )
                    rows.append((moment, rng.choice(pool), user, cid, ip))
    for k in range(120):
        rows.append(
            (
                dt.datetime(2019, 4, 2, 3) + dt.timedelta(seconds=k),
                f"{LESSONS[k % 7]}/page-{k}",
                3,
                1,
                OLD_SCRAPER_IP,
            )
        )
    if additions:
        for k in range(200):
            rows.append(
                (
                    dt.datetime(2019, 11, 5, 2) + dt.timedelta(seconds=k),
                    f"{LESSONS[k % 7]}/part-{k}",
                    33,
                    5,
                    NEW_SCRAPER_IP,
                )
            )
        for k in range(40):
            moment = dt.datetime(2019, 10, 14, 21) + dt.timedelta(hours=20 * k)
            rows.append((moment, LESSONS[k % 7], 30, 4, f"{100 + k}.{20 + k}.7.{k + 1}"))
    frame = pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )
    return frame if additions else frame.filter(pl.col("timestamp") < CUT)


def _report(config: Config, additions: bool):
    from render_support import report_for

    from analysis.sources.snapshot import Snapshot

    snapshot = Snapshot.from_frames(
        _log(additions), _all_cohorts(), source="test: history", simulated=True
    )
    return report_for(snapshot, config)


def test_the_second_report_names_exactly_the_additions(tmp_path: Path) -> None:
    """The comparison of the two real reports (no rendering): the unit of the render test below."""
    config = configured(tmp_path)
    first = _report(config, additions=False)
    assert history.changes_for(first, config).same_data_built is None  # no history: the first
    history.write_entry(first, config)
    again = history.changes_for(first, config)  # the same data built again: nothing is new
    assert (
        again.first_report and again.same_data_built == dt.datetime.now(dt.UTC).date().isoformat()
    )
    result = history.changes_for(_report(config, additions=True), config)
    assert result.previous_end == dt.date(2019, 9, 30)
    q4 = result.question(4)
    assert {i.label for i in q4.new} == {
        "automated fetching by user 33 (from 2019-11-05)",
        "shared account: user 30 (from 2019-10-03)",
    }
    assert [i.label for i in q4.continuing] == ["automated fetching by user 3 (from 2019-04-02)"]
    assert not q4.gone
    assert [i.label for i in result.question(3).new] == ["user 41 (Hopper): likely drop-out"]
    assert ch.headline_changes(result)[:2] == [
        "New, needs action now: automated fetching by user 33 (from 2019-11-05); shared account: user 30 (from 2019-10-03).",
        "Newly flagged students: user 41 (Hopper): likely drop-out.",
    ]


def _flat(html_text: str) -> str:
    """Visible text: tags dropped, entities decoded, whitespace collapsed (pandoc's `\\` escapes too)."""
    flat = re.sub(r"<(script|style)\b.*?</\1>", " ", html_text, flags=re.S)
    flat = html.unescape(re.sub(r"<[^>]+>", " ", flat))
    return " ".join(flat.replace("\\", "").split())


def _text(path: Path) -> str:
    return _flat(path.read_text(encoding="utf-8"))


def _section(page: str, heading: str) -> str:
    """The HTML of the section under the h2 whose text starts with `heading` ("" when none)."""
    for match in re.finditer(r"<h2\b[^>]*>(.*?)</h2>(.*?)(?=<h2\b|$)", page, flags=re.S):
        if _flat(match.group(1)).startswith(heading):
            return match.group(2)
    return ""


def _headings(page: str) -> list[str]:
    return [_flat(h) for h in re.findall(r"<h2\b[^>]*>(.*?)</h2>", page, flags=re.S)]


def _slide(site: Path) -> tuple[list[str], str, str, str]:
    """The pptx's paragraphs and notes, the revealjs slide's visible text and its speaker notes."""
    from pptx import Presentation

    shown = Presentation(str(site / "slide.pptx")).slides[0]
    paragraphs = [
        " ".join(p.text.split())
        for shape in shown.shapes
        if shape.has_text_frame
        for p in shape.text_frame.paragraphs
    ]
    notes = shown.notes_slide.notes_text_frame.text
    page = (site / "slide.html").read_text(encoding="utf-8")
    asides = re.findall(r'<aside class="notes">(.*?)</aside>', page, flags=re.S)
    visible = re.sub(r'<aside class="notes">.*?</aside>', " ", page, flags=re.S)
    return paragraphs, notes, _flat(visible), _flat(asides[0]) if asides else ""


GREETING = "here is what matters most in how the curriculum is used:"


def _email(build: Path) -> tuple[str, str]:
    """The email's text and HTML parts, as one line each, from the greeting on."""
    import email
    from email import policy

    message = email.message_from_bytes((build / "email.eml").read_bytes(), policy=policy.default)
    parts = []
    for kind in ("plain", "html"):
        body = message.get_body(preferencelist=(kind,))
        assert body is not None, kind
        text = (
            " ".join(body.get_content().split()) if kind == "plain" else _flat(body.get_content())
        )
        assert GREETING in text, kind
        parts.append(text.split(GREETING, 1)[1].strip())
    return parts[0], parts[1]


FIRST = "This is the first report: there is no earlier report to compare with."


@pytest.mark.render
def test_two_builds_show_what_is_new_and_keep_the_history(tmp_path: Path, monkeypatch) -> None:
    """Two builds (the log cut at 30 September, then to the end of 2019 with the three additions): the
    published files (site, slide.pptx, slide.html, email.eml) say "first report", then lead with exactly
    the additions; a failed build, `--no-history` and a corrupt entry leave the history as it was."""
    from analysis.errors import TargetError
    from analysis.publish import slide
    from analysis.publish.render import render

    config = configured(tmp_path)
    site, build = config.paths.site_dir, config.paths.build_dir
    folder = history.history_dir(config)

    # --- the first report: every output says so plainly, no empty section
    render(config, engine="pandoc", progress=False, report=_report(config, additions=False))
    index = (site / "index.html").read_text(encoding="utf-8")
    assert _flat(_section(index, "Since the last report")) == FIRST
    assert "Since the report of" not in _flat(index)
    for number in range(1, 9):
        page = (site / "questions" / f"q{number}.html").read_text(encoding="utf-8")
        assert _flat(_section(page, "Since the last report")) == FIRST, number
        assert "is-new" not in page and "What changed since the last report" not in page, number
    paragraphs, notes, shown, spoken = _slide(site)
    assert notes.startswith(FIRST) and spoken.startswith(FIRST)
    assert not any(p.startswith(("New since", "Nothing new")) for p in paragraphs)
    assert "New since" not in shown
    for text in _email(build):
        assert text.startswith(FIRST) and "What is new since the last report" not in text
    entries = history.load_history(config)
    assert [e.data_end for e in entries] == [dt.date(2019, 9, 30)]

    # --- the second report, with a corrupt file in the history: skipped with one line, not a crash
    (folder / "report-2019-06-30-20190701T050000Z-1.json.gz").write_bytes(b"not gzip")
    report = _report(config, additions=True)
    expected = history.changes_for(report, config, warn=lambda _: None)
    built = render(config, engine="pandoc", progress=False, report=report)
    skipped = [n for n in built.notes if n.startswith("history: skipped")]
    assert len(skipped) == 1 and "report-2019-06-30" in skipped[0] and "\n" not in skipped[0]

    index = (site / "index.html").read_text(encoding="utf-8")
    assert _headings(index)[0] == "Since the report of 2019-09-30"  # the summary opens with it
    assert [_flat(li) for li in re.findall(r"<li>(.*?)</li>", _section(index, "Since"), re.S)][
        :3
    ] == [
        "New, needs action now: automated fetching by user 33 (from 2019-11-05); shared account: "
        "user 30 (from 2019-10-03).",
        "Newly flagged students: user 41 (Hopper): likely drop-out.",
        "1 earlier incident continues.",
    ]
    # every question page: its change in one sentence, its new rows (and only those) marked
    for number in range(1, 9):
        page = (site / "questions" / f"q{number}.html").read_text(encoding="utf-8")
        section = _section(page, "What changed since the last report")
        sentence = _flat(re.search(r"<p>(.*?)</p>", section, re.S).group(1))
        change = expected.question(number)
        assert sentence == change.sentence, number
        assert sentence.startswith("Since the report of 2019-09-30: ") and sentence.endswith(".")
        assert sentence.count(". ") == 0, sentence  # one sentence
        new_rows = [_flat(r) for r in re.findall(r'<tr class="is-new">(.*?)</tr>', section, re.S)]
        assert new_rows == [f"new {privacy.mask_text(i.label)}" + _tier(i) for i in change.new]
        assert section.count('class="badge-new"') == len(change.new), number
        if change.new:
            assert 'class="only-new"' in section and "Show only new rows" in section  # the filter
    assert {i.label for i in expected.question(4).new} == {
        "automated fetching by user 33 (from 2019-11-05)",
        "shared account: user 30 (from 2019-10-03)",
    }
    assert [i.label for i in expected.question(3).new] == ["user 41 (Hopper): likely drop-out"]
    q4 = (site / "questions" / "q4.html").read_text(encoding="utf-8")
    assert re.search(r'<tr class="not-new">.*?continuing.*?user 3 \(from 2019-04-02\)', q4)

    # the slide: one bullet says what is new, the notes open with what changed
    bullet = "New since 30 Sep 2019: 2 incidents in the High tier, 1 flagged student"
    paragraphs, notes, shown, spoken = _slide(site)
    assert bullet in paragraphs and len(bullet.split()) <= 15
    lead = "Since the report of 2019-09-30: New, needs action now: automated fetching by user 33"
    assert notes.startswith(lead) and spoken.startswith(lead)
    assert bullet in shown
    # the email: the first lines after the greeting are the new items (text and HTML alike)
    for text in _email(build):
        assert text.startswith(
            "What is new since the last report - New, needs action now: automated fetching by "
            "user 33 (from 2019-11-05); shared account: user 30 (from 2019-10-03). - Newly flagged "
            "students: user 41 (Hopper): likely drop-out. - 1 earlier incident continues."
        ) or text.startswith(
            "What is new since the last report New, needs action now: automated fetching by "
            "user 33 (from 2019-11-05); shared account: user 30 (from 2019-10-03). Newly flagged "
            "students: user 41 (Hopper): likely drop-out. 1 earlier incident continues."
        ), text[:400]
        assert bullet not in text  # the items are listed once, not again as the slide's bullet

    entries = history.load_history(config, warn=lambda _: None)
    assert [e.data_end for e in entries] == [dt.date(2019, 9, 30), dt.date(2019, 12, 31)]
    raw = b"".join(gzip.decompress(e.path.read_bytes()) for e in entries)
    for address in (NEW_SCRAPER_IP, OLD_SCRAPER_IP, "100.20.7.1"):
        assert address.encode() not in raw, address
    assert not re.search(rb"\b10\.\d+\.\d+\.\d+\b", raw)  # every student address masked too

    def listing() -> list[tuple[str, int]]:
        return sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())

    before = listing()

    # a build that fails after the site is staged keeps the history as it was
    def broken(*args: Any, **kwargs: Any):
        raise TargetError("LibreOffice crashed")

    monkeypatch.setattr(slide, "render_slide", broken)
    with pytest.raises(TargetError):
        render(config, engine="pandoc", progress=False, report=_report(config, additions=True))
    assert listing() == before
    monkeypatch.undo()

    # --no-history: the history is neither read nor written, and no output has a section on it
    def forbidden(*args: Any, **kwargs: Any):
        raise AssertionError("the history was used with --no-history")

    for name in ("load_history", "read_entry", "write_entry", "prune"):
        monkeypatch.setattr(history, name, forbidden)
    off = config.replace(history=dataclasses.replace(config.history, enabled=False))
    render(off, engine="pandoc", progress=False, report=_report(config, additions=True))
    monkeypatch.undo()
    assert listing() == before
    assert "Since the" not in _text(site / "index.html")
    for number in range(1, 9):
        assert "since the last report" not in _text(site / "questions" / f"q{number}.html").lower()
    paragraphs, notes, shown, spoken = _slide(site)
    assert not notes.startswith(("Since", FIRST)) and not spoken.startswith(("Since", FIRST))
    assert not any(p.startswith("New since") for p in paragraphs)
    for text in _email(build):
        assert "What is new since" not in text and FIRST not in text


def _tier(item: ch.Item) -> str:
    if item.tier is None and item.previous_tier is None:
        return ""
    return f" {item.tier or item.previous_tier}"


# --- the demo log cut at an earlier date, then in full with additions (golden tier) ---------------------

DEMO_CUT = dt.datetime(2021, 3, 1)


@pytest.mark.slow
def test_demo_cut_then_full_with_additions(demo_snapshot, demo_labels, tmp_path: Path) -> None:
    """Report 1: the demo up to 28 February 2021. Report 2: the whole demo (to 21 April) plus a new
    scraper, a new shared account and a student who drops out. New since report 1: exactly those, and
    what the demo's own labels put after the cut; every earlier incident continues."""
    from analysis.report import compute_report
    from analysis.sources.snapshot import Snapshot

    config = configured(tmp_path)
    logs, cohorts = demo_snapshot.logs, demo_snapshot.cohorts
    logs = logs.collect() if isinstance(logs, pl.LazyFrame) else logs
    cohorts = cohorts.collect() if isinstance(cohorts, pl.LazyFrame) else cohorts

    def readers(name: str) -> list[int]:
        cohort = cohorts.filter(pl.col("name") == name).get_column("id")[0]
        ranked = logs.filter(pl.col("cohort_id") == cohort).group_by("user_id").len()
        return ranked.sort(["len", "user_id"], descending=True).get_column("user_id").to_list()

    neptune = int(cohorts.filter(pl.col("name") == "Neptune").get_column("id")[0])
    sharer, _, dropout = readers("Neptune")[:3]  # three of the cohort's busiest readers
    scraper = readers("Europa")[0]
    scraper_cohort = int(cohorts.filter(pl.col("name") == "Europa").get_column("id")[0])
    extra = [
        (
            dt.datetime(2021, 4, 10, 2) + dt.timedelta(seconds=k),
            f"javascript-i/page-{k}",
            scraper,
            scraper_cohort,
            NEW_SCRAPER_IP,
        )
        for k in range(250)
    ] + [
        (
            dt.datetime(2021, 3, 25, 21) + dt.timedelta(hours=20 * k),
            "javascript-i",
            sharer,
            neptune,
            f"{100 + k}.{20 + k}.7.{k + 1}",
        )
        for k in range(40)
    ]
    stops = (pl.col("user_id") == dropout) & (pl.col("timestamp") >= dt.datetime(2021, 3, 22))
    full = pl.concat([logs.filter(~stops), pl.DataFrame(extra, schema=logs.schema, orient="row")])

    def report(frame: pl.DataFrame):
        snapshot = Snapshot.from_frames(
            frame.sort("timestamp"), cohorts, source="demo", simulated=True
        )
        return compute_report(config, progress=False, snapshot=snapshot)

    history.write_entry(report(logs.filter(pl.col("timestamp") < DEMO_CUT)), config)
    result = history.changes_for(report(full), config)
    assert result.previous_end == dt.date(2021, 2, 28)

    labelled = demo_labels.filter(pl.col("start") >= DEMO_CUT)
    assert labelled.select("kind", "user_id").rows() == [("scraping", 853)]
    q4 = result.question(4)
    assert {i.label for i in q4.new} == {
        f"automated fetching by user {scraper} (from 2021-04-10)",
        f"shared account: user {sharer} (from 2021-03-18)",
        "automated fetching by user 853 (from 2021-03-15)",  # the demo's own, after the cut
    }
    # every incident of the first report continues (none gone), whatever question 4 counts today
    earlier = history.load_history(config)[0].findings["questions"]["4"]["incidents"]
    assert len(earlier) > 50 and len(q4.continuing) == len(earlier) and not q4.gone
    q3_new = {i.key[0]: i.label for i in result.question(3).new}
    assert q3_new[dropout].endswith("likely drop-out")
    # the others newly flagged are students of cohorts too young to be judged in the first report
    young = set(
        cohorts.filter(pl.col("start_date") > dt.date(2021, 2, 1)).get_column("name").to_list()
    )
    for user, label in q3_new.items():
        assert user == dropout or label.split("(")[1].split(")")[0] in young, label
    lines = ch.headline_changes(result)
    assert lines[0].startswith("New, needs action now: automated fetching by user")
    assert f"shared account: user {sharer}" in lines[0]
