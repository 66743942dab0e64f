"""Question 4: suspicious activity — users or machines that should not have access, scraping, odd IPs.

Question 4 is a triage: one incident per actor and episode, each with a tier from what the behaviour
means, ranked tier first, then by kind within the tier, then by severity:

- high: attack probes, automated fetching (at any pace), shared accounts, and an outside address
  suddenly used by many people;
- medium: a heavy human day, an old account (cohort ended years before the log) in sustained use, an
  account naming a cohort that does not exist or reading like a regular user without one, and an
  outside address shared all along;
- low: other accounts without a cohort.

Routine reading after graduation is no incident (question 6 describes it): after leaving, only abnormal
use is (heavy days, machine-paced use, an old account in sustained use). The detectors are in
`q4_detect.py`; `Q4Result.incidents` holds every incident (never truncated).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analysis import glossary
from analysis.config import Config
from analysis.prepare import (
    DAY_COLUMNS,
    Prepared,
    all_views,
    campus_ips,
    every_view,
    prepare,
    roles_by_cohort,
    user_ip_days,
)
from analysis.questions import q4_detect as detect_
from analysis.questions.q4_detect import (
    INCIDENT_SCHEMA,
    KIND_LABELS,
    KINDS,
    TIER_LABELS,
    TIERS,
)
from analysis.results import QuestionResult, Words, data_fields
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 4
SHORT_TITLE = "Suspicious activity"
FEEDS = ("page", "slide lead", "email")
SLIDE_RANK = None  # not a bullet: the slide's lead finding
TITLE = "Suspicious activity: users or machines that should not have access, web scraping, suspicious IPs?"

__all__ = [
    "INCIDENT_SCHEMA",
    "KINDS",
    "KIND_LABELS",
    "TIERS",
    "TIER_LABELS",
    "Q4Data",
    "Q4Result",
    "answer",
    "compute",
    "detect",
    "detect_all",
    "words",
]

# kind -> (singular, plural) for sentences
KIND_NOUNS: dict[str, tuple[str, str]] = {
    "probe": ("attack probe", "attack probes"),
    "scraping": ("case of automated fetching", "cases of automated fetching"),
    "account_sharing": ("shared account", "shared accounts"),
    "shared_ip": ("outside network shared by many", "outside networks shared by many"),
    "heavy_day": ("unusually heavy day", "unusually heavy days"),
    "stale_account": ("old account in use", "old accounts in use"),
    "unknown_user": ("account without a cohort", "accounts without a cohort"),
}

SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts), so these incidents are "
    "injected test cases, not real people."
)

TIER_SCHEMA: ColumnTypes = {
    "tier": pl.String(),
    "incidents": pl.Int64(),
    "users": pl.Int64(),
    "views": pl.Int64(),
}
SUMMARY_SCHEMA: ColumnTypes = {
    "tier": pl.String(),
    "kind": pl.String(),
    "incidents": pl.Int64(),
    "users": pl.Int64(),
    "views": pl.Int64(),
}


@dataclass(frozen=True, kw_only=True)
class Q4Data:
    """The numbers of question 4 (computed by `compute`, told by `words` and the charts)."""

    incidents: pl.DataFrame = field(default_factory=detect_.empty_incidents)  # all, ranked
    tiers: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TIER_SCHEMA))
    summary: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SUMMARY_SCHEMA))
    campus_ips: list[str] = field(default_factory=list)
    total_incidents: int = 0  # = incidents.height (the list is never truncated)
    scrape_timeline: pl.DataFrame = field(default_factory=pl.DataFrame)  # top episode, per minute
    heavy_day_series: pl.DataFrame = field(default_factory=pl.DataFrame)  # top heavy user's days
    # the one list of automated actors (Prepared.automated): the views of its high-tier episodes
    # are set aside from the populations of questions 1-3 and 5-8 (publish.pages.set_aside_note)
    set_aside_episodes: int = 0
    set_aside_views: int = 0
    set_aside_student_views: int = 0  # ... of which students' lesson views
    # the first and last day a High incident began (the urgent incidents' timeline)
    high_first: dt.date | None = None
    high_last: dt.date | None = None
    # the first heavy day charted: its reader, day and pages, and their usual day in whole pages
    heavy_user: int | None = None
    heavy_day: dt.date | None = None
    heavy_views: int = 0
    heavy_usual: int = 0
    no_views: bool = False  # the snapshot holds no page view at all
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q4Result(QuestionResult, Q4Data):
    def count(self, tier: str) -> int:
        row = self.tiers.filter(pl.col("tier") == tier)
        return int(row["incidents"][0]) if row.height else 0

    def tables(self) -> dict[str, pl.DataFrame]:
        out: dict[str, pl.DataFrame] = {}
        if self.summary.height:
            out["Incidents by tier and kind"] = self.summary.filter(pl.col("incidents") > 0).select(
                pl.col("tier").replace_strict(TIER_LABELS, default=pl.col("tier")).alias("Tier"),
                pl.col("kind").replace_strict(KIND_LABELS, default=pl.col("kind")).alias("Kind"),
                pl.col("incidents").alias("Incidents"),
                pl.col("users").alias("Accounts"),
                pl.col("views").alias("Pages"),
            )
        for tier in TIERS:  # every tier's table, always present (empty when the tier is)
            rows = self.incidents.filter(pl.col("tier") == tier)
            out[f"{TIER_LABELS[tier]} tier"] = rows.select(
                pl.col("rank").alias("Rank"),
                pl.col("kind").replace_strict(KIND_LABELS, default=pl.col("kind")).alias("Kind"),
                pl.col("user_id").alias("User"),
                pl.col("ip").alias("Address"),
                pl.col("start").dt.strftime("%Y-%m-%d %H:%M").alias("From"),
                pl.col("end").dt.strftime("%Y-%m-%d %H:%M").alias("To"),
                pl.col("views").alias("Pages"),
                pl.col("evidence").alias("Evidence"),
            )
        return out

    def low_tier_text(self) -> str:
        """The Low tier folded to one sentence: its count by kind (the rows are in the table's CSV)."""
        low = self.count("low")
        if not low:
            return "No Low incident."
        return (
            f"{_plural(low, 'Low incident')}: {_kinds_text(self.summary, 'low')}. The first five are "
            "shown; the table's CSV holds every one."
        )

    def headline(self) -> str:
        """Counts per tier for the slide and the index."""
        return _headline(self.summary, self.tiers) if self.total_incidents else self.answer


# --- sentences ---------------------------------------------------------------------------------------------


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _kinds_text(summary: pl.DataFrame, tier: str) -> str:
    rows = summary.filter((pl.col("tier") == tier) & (pl.col("incidents") > 0))
    counts: dict[str, int] = {}
    for row in rows.iter_rows(named=True):
        counts[row["kind"]] = counts.get(row["kind"], 0) + row["incidents"]
    parts = [_plural(counts[k], *KIND_NOUNS[k]) for k in KINDS if k in counts]
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return parts[0] if parts else ""


def _count(tiers: pl.DataFrame, tier: str) -> int:
    row = tiers.filter(pl.col("tier") == tier)
    return int(row["incidents"][0]) if row.height else 0


def _headline(summary: pl.DataFrame, tiers: pl.DataFrame) -> str:
    high, medium = _count(tiers, "high"), _count(tiers, "medium")
    if high:
        # the slide's action title: short enough for its 14 words with two or three kinds
        return f"Act on {_plural(high, 'incident')} now: {_kinds_text(summary, 'high')}."
    if medium:
        return f"No urgent incident; {_plural(medium, 'incident')} to review."
    return "No urgent or notable incident."


def _answer(summary: pl.DataFrame, tiers: pl.DataFrame) -> str:
    high, medium = _count(tiers, "high"), _count(tiers, "medium")
    if high:
        verb = "needs" if high == 1 else "need"
        lead = (
            f"{_plural(high, 'incident')} in the High tier {verb} action now: "
            f"{_kinds_text(summary, 'high')}"
        )
        more = f"{medium:,} more {'is' if medium == 1 else 'are'} worth a look"
        return f"{lead}; {more}." if medium else f"{lead}."
    if medium:
        return (
            f"Nothing needs urgent action; {_plural(medium, 'incident')} "
            f"{'is' if medium == 1 else 'are'} worth a look: "
            f"{_kinds_text(summary, 'medium')}."
        )
    return "Nothing needs action: no automated fetching, attack probes or shared accounts."


def _summaries(incidents: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    per_kind = incidents.group_by("tier", "kind").agg(
        pl.len().cast(pl.Int64).alias("incidents"),
        pl.col("user_id").drop_nulls().n_unique().cast(pl.Int64).alias("users"),
        pl.col("views").sum().cast(pl.Int64).alias("views"),
    )
    grid = pl.DataFrame(
        {"tier": [t for t in TIERS for _ in KINDS], "kind": [k for _ in TIERS for k in KINDS]}
    )
    summary = (
        grid.join(per_kind, on=["tier", "kind"], how="left", maintain_order="left")
        .with_columns(pl.col("incidents", "users", "views").fill_null(0))
        .cast(SUMMARY_SCHEMA)
    )
    per_tier = incidents.group_by("tier").agg(
        pl.len().cast(pl.Int64).alias("incidents"),
        pl.col("user_id").drop_nulls().n_unique().cast(pl.Int64).alias("users"),
        pl.col("views").sum().cast(pl.Int64).alias("views"),
    )
    tiers = (
        pl.DataFrame({"tier": list(TIERS)})
        .join(per_tier, on="tier", how="left", maintain_order="left")
        .with_columns(pl.col("incidents", "users", "views").fill_null(0))
        .cast(TIER_SCHEMA)
    )
    return summary, tiers


def _supporting(incidents: pl.DataFrame, summary: pl.DataFrame, campus: list[str]) -> list[str]:
    out: list[str] = []
    for kind in ("probe", "scraping", "account_sharing", "shared_ip"):
        rows = incidents.filter((pl.col("kind") == kind) & (pl.col("tier") == "high"))
        if rows.height:
            first = rows.row(0, named=True)
            more = f" ({rows.height - 1:,} more like it)" if rows.height > 1 else ""
            out.append(f"{KIND_LABELS[kind]}: {first['evidence']}{more}.")
        if len(out) == 3:
            break
    medium = incidents.filter(pl.col("tier") == "medium")
    if medium.height:
        out.append(
            f"Worth a look: {_kinds_text(summary, 'medium')}; the first: "
            f"{medium.row(0, named=True)['evidence']}."
        )
    low = incidents.filter(pl.col("tier") == "low").height
    tail = f" For the record (Low tier): {_kinds_text(summary, 'low')}." if low else ""
    out.append(
        "Reading after graduation is normal and not counted; "
        f"{_plural(len(campus), 'classroom network')} shared by whole classes "
        f"{'was' if len(campus) == 1 else 'were'} never blamed.{tail}"
    )
    return out[:5]


def _method(config: Config) -> str:
    q4 = config.q4
    return (
        "Every incident is one actor (an account or an address) and one episode, with a tier from "
        "what the behaviour means (High, Medium, Low); within the High tier attack probes and "
        "automated fetching lead and the other kinds are interleaved (each kind's most severe "
        "first); the Medium and Low tiers are ranked by how abnormal the episode is, then by kind; "
        "the list is never truncated. "
        "One list of automated actors is found once for the whole report, before any question: "
        "the views of its High episodes (automated fetching, sweeping or persistent probes) are left "
        "out of every other question's population for those episodes only, and each page says how "
        "many. "
        "Attack probes: requests whose path contains one of [lessons] probe_patterns, per address; "
        f"requests less than {q4.probe_episode_days} days apart are one episode. An episode is High "
        f"when the address sweeps (at least {q4.probe_sweep_requests} requests) or persists (probes "
        f"on at least {q4.probe_persist_days} days); the one-off probes of all other addresses "
        "(routine internet scanning) are one Medium incident. "
        "Automated fetching, by pace: per account and address, views (lessons and navigation) cut "
        f"into sessions at gaps over {q4.session_gap_seconds} s; a session is automated when it "
        f"covers at least {q4.scrape_min_distinct} distinct paths and either holds "
        f"{q4.scrape_min_pages} views within {q4.scrape_window_seconds} s, or over at least "
        f"{q4.slow_min_pages} views has even timing (gap spread (90th - 10th percentile) / median "
        f"<= {q4.scrape_max_spread:g}; human reading gaps vary widely), or walks the paths in sorted "
        f"order (>= {q4.sweep_min_share:.0%} of steps) with spread <= "
        f"{2 * q4.scrape_max_spread:g}. Automated fetching, around the clock: an account's views "
        f"with no pause over {q4.sleep_gap_hours:g} hours for at least {q4.around_clock_hours:g} "
        f"hours, with views in at least {q4.around_clock_hour_share:.0%} of those hours, whatever "
        f"the pace. Automated sessions of an account less than {q4.episode_gap_hours} hours apart "
        "are one episode; its pace is its duration divided by its pages less one; a campus address "
        "is never named as the source. "
        "Networks: when judging who is where, every campus address is one network and an IPv4 "
        "address stands for its /24 block (a NAT or carrier pool hands one person neighbouring "
        "addresses request by request); so are the outside addresses one account alternates "
        f"between within a session (views less than {q4.session_gap_seconds} s apart, switching "
        f"on >= {q4.pool_switch_share:.0%} of consecutive requests, each address seen twice), "
        "when the account uses each of them with another outside address in >= "
        f"{q4.pool_together_share:.0%} of its sessions of four views or more (two people sharing "
        "an account each keep their own address, which one of them also uses alone). "
        f"Shared account: within windows of {q4.share_window_days} days (two grids offset by half a "
        f"window), two networks within one {q4.share_slot_minutes}-minute slot on >= "
        f"{q4.share_min_days} days, one of the addresses used by the account on >= "
        f"{q4.share_min_days} days within {2 * q4.share_window_days} days and half its time in the "
        f"log only; or, within windows of {2 * q4.share_window_days} days, more non-campus "
        f"addresses than {q4.share_networks_factor:g} x the {q4.share_networks_quantile:.0%} "
        "quantile of the same group's windows (students or staff) and at least "
        f"{q4.share_min_networks}, or at least that quantile and {q4.share_min_networks} "
        f"non-campus addresses making >= {q4.share_network_ratio:.0%} of its address-days (a new "
        "network nearly every day). "
        f"Shared outside network: a non-campus address used by >= {q4.shared_ip_window_users} "
        f"accounts within {q4.shared_ip_window_days} days; High when that window holds >= "
        f"{q4.shared_ip_spike_share:.0%} of the address's accounts, Low when shared all along. "
        "Heavy day: a person's ordinary day is measured on comparable days (enrolled against "
        "enrolled, after graduating against after graduating, staff against staff) on a log scale. "
        f"A day is heavy when it reaches the {q4.heavy_pop_quantile:.1%} quantile of all days of "
        f"the same group and at least {q4.heavy_day_min_views} views, and a robust z of log views "
        f"against the person's days of that phase (median, 1.4826 x MAD, floored at log "
        f"{q4.heavy_own_floor:g}) >= {q4.heavy_own_z:g} or at least {q4.heavy_own_times:g} times "
        f"their median day; with fewer than {q4.heavy_min_days} days in the phase the population "
        f"bar alone. One person's heavy days of one phase less than {q4.heavy_episode_days} days "
        "apart are one episode, shown by its most abnormal day; a person heavy on more than "
        f"{q4.heavy_habit_share:.0%} of their days in a phase reads that way habitually (no "
        f"incident); the {q4.heavy_medium_max} most abnormal episodes (times their ordinary day, "
        "then above the population bar) are Medium, the others Low; days of automated fetching are "
        "reported as automated fetching. "
        f"Old account in use: a student whose cohort ended more than {q4.stale_years:g} years "
        f"before the log begins, active on >= {q4.stale_min_days} days or reading >= "
        f"{q4.stale_min_views} pages within one {q4.share_window_days}-day window; ranked with the "
        "Medium tier's most abnormal. Unknown account: never seen with a known cohort and not "
        "staff; Medium when it names a cohort id absent from the cohorts table, is on two networks "
        f"within one {q4.share_slot_minutes}-minute slot on >= {q4.share_min_days} days, or its "
        f"busiest week is above the {q4.unknown_week_quantile:.0%} quantile of all accounts' "
        "busiest weeks, else Low; an account seen only in automated episodes is reported as "
        "automated fetching only. "
        f"Campus addresses: [q4] campus_ips, any address with >= {q4.campus_ip_min_share:.0%} of "
        f"all views from >= {q4.shared_ip_min_users} accounts, and any address used by >= "
        f"{q4.campus_weekly_users} accounts in each of >= {q4.campus_min_weeks} weeks. Routine "
        "reading after graduation is no incident."
    )


# --- detection -----------------------------------------------------------------------------------------


# `detect` computes the sessions beside the per user and day frames on logs of up to this many views:
# 0.05 s less at 9M views (their sort leaves one core idle), but 440 MB more at the peak at 45M, where
# they are computed first.
SESSIONS_BESIDE_MAX_VIEWS = 20_000_000


def detect(
    prepared: Prepared, config: Config, beside: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """All incidents (ranked), the daily frame of heavy-day users, and the campus IPs. Automated
    fetching and probes come from the one list of automated actors (`prepared.automated`); the other
    detectors read three frames computed once here from every view (those of automated episodes
    included, marked `kept` False): per user, address and day (`user_ip_days`), per user and day
    (`daily_views`) and per user, 10-minute slot and network where the account was on two
    networks (`network_slots`), all from the sessions of `pooled_views`. No detector re-scans the
    views. `beside`: the sessions are computed in a thread while the per user and day frames are
    (`SESSIONS_BESIDE_MAX_VIEWS`); the same frames either way."""
    # every view (automated episodes' included, `kept` False) read in place, not copied: the
    # sessions of `pooled_views` read it; the per user, address and day frame is prepare's
    base = every_view(prepared, DAY_COLUMNS)
    roles = roles_by_cohort(prepared)
    uid = user_ip_days(prepared)
    campus = detect_.campus_addresses(uid, config, campus_ips(prepared, config))
    automated = prepared.automated
    days = [detect_.days_of_pages(uid), detect_.user_groups(uid)]
    if beside:
        # the sessions (`pooled_views`: their one sort runs on one core) in a thread while the per
        # user and day frames, which read only `uid`, are computed
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="q4-sessions") as pool:
            sessions = pool.submit(detect_.pooled_views, base, uid, config, campus, roles)
            days_table, groups = pl.collect_all(days)
            daily = detect_.daily_views(uid, groups.lazy(), config).collect().lazy()
            pooled = sessions.result()
        slots, pools = pl.collect_all(
            [detect_.network_slots(pooled, config), detect_.pool_days(pooled)]
        )
    else:
        pooled = detect_.pooled_views(base, uid, config, campus, roles)
        days_table, groups, slots, pools = pl.collect_all(
            [*days, detect_.network_slots(pooled, config), detect_.pool_days(pooled)]
        )
        daily = detect_.daily_views(uid, groups.lazy(), config).collect().lazy()
    heavy = daily.filter(pl.col("heavy")).select(pl.col("user_id").unique()).collect()
    auto_days = (
        automated.scraping.lazy()
        .select(
            "user_id",
            pl.date_ranges(pl.col("start").dt.date(), pl.col("end").dt.date()).alias("date"),
        )
        .explode("date")
        .unique()
    )
    heavy_users = daily.filter(pl.col("user_id").is_in(heavy.get_column("user_id").implode()))
    parts = pl.collect_all(
        [
            detect_.probes(automated.probes.lazy()),
            detect_.scraping(automated.scraping.lazy(), config, campus),
            detect_.account_sharing(
                slots.lazy(), days_table.lazy(), groups.lazy(), config, campus, pools.lazy()
            ),
            detect_.shared_ips(uid, config, campus),
            # the heavy users' days hold every partition with a heavy day (a seventieth of the
            # days at 10x): whether a person reads heavily by habit is judged on those alone
            detect_.heavy_days(uid, heavy_users, auto_days, config),
            detect_.stale_accounts(uid, config, prepared.data_start),
            detect_.unknown_users(uid, slots.lazy(), daily, config),
            heavy_users,
        ]
    )
    incidents = detect_.rank(pl.concat(parts[:-1], how="vertical"))
    return incidents, parts[-1], campus


def detect_all(
    snapshot: Snapshot, config: Config, prepared: Prepared | None = None
) -> pl.DataFrame:
    """Every incident, ranked (the same list as `answer(...).incidents`)."""
    prepared = prepared or prepare(snapshot, config)
    return detect(prepared, config)[0]


def _scrape_timeline(base: pl.LazyFrame, top: dict[str, Any] | None) -> pl.DataFrame:
    """Pages per minute of the top automated episode (bounded: at most a few hundred minutes)."""
    schema: ColumnTypes = {"minute": pl.Datetime("us"), "views": pl.Int64()}
    if top is None:
        return pl.DataFrame(schema=schema)
    return (
        base.filter(
            (pl.col("user_id") == top["user_id"])
            & pl.col("timestamp").is_between(top["start"], top["end"])
            & pl.col("page_kind").is_in(["lesson", "navigation"])
        )
        .group_by(pl.col("timestamp").dt.truncate("1m").alias("minute"))
        .agg(pl.len().cast(pl.Int64).alias("views"))
        .sort("minute")
        .head(2000)
        .collect()
        .cast(schema)
    )


def _heavy_series(daily: pl.DataFrame, top: dict[str, Any] | None) -> pl.DataFrame:
    """The top heavy-day user's daily views, 60 active days either side of the day, with their usual
    day and the population bar."""
    schema: ColumnTypes = {
        "date": pl.Date(),
        "views": pl.Int64(),
        "usual": pl.Float64(),
        "bar": pl.Float64(),
        "flagged": pl.Boolean(),
        "user_id": pl.Int64(),
    }
    if top is None or daily.height == 0:
        return pl.DataFrame(schema=schema)
    day = top["start"].date()
    user = daily.filter(pl.col("user_id") == top["user_id"]).sort("date")
    position = user.with_row_index("i").filter(pl.col("date") == day)["i"]
    centre = int(position[0]) if position.len() else 0
    return (
        user.slice(max(0, centre - 60), 121)
        .select(
            pl.col("date"),
            pl.col("views").cast(pl.Int64),
            pl.col("usual"),
            pl.col("bar"),
            (pl.col("date") == day).alias("flagged"),
            pl.col("user_id").cast(pl.Int64),
        )
        .cast(schema)
    )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q4Data:
    """Triage suspicious activity into ranked incidents (see the module docstring)."""
    prepared = prepared or prepare(snapshot, config)
    beside = snapshot.manifest.rows <= SESSIONS_BESIDE_MAX_VIEWS
    incidents, daily, campus = detect(prepared, config, beside)
    summary, tiers = _summaries(incidents)
    high: list[dt.date] = sorted(incidents.filter(pl.col("tier") == "high")["start"].dt.date())
    top_scrape = incidents.filter(pl.col("kind") == "scraping").head(1)
    top_heavy = incidents.filter(pl.col("kind") == "heavy_day").head(1)
    series = _heavy_series(daily, top_heavy.row(0, named=True) if top_heavy.height else None)
    flagged = series.filter(pl.col("flagged"))
    return Q4Data(
        incidents=incidents,
        tiers=tiers,
        summary=summary,
        campus_ips=campus,
        total_incidents=incidents.height,
        scrape_timeline=_scrape_timeline(
            all_views(prepared), top_scrape.row(0, named=True) if top_scrape.height else None
        ),
        heavy_day_series=series,
        set_aside_episodes=prepared.automated.episodes.height,
        set_aside_views=prepared.automated.views_set_aside,
        set_aside_student_views=prepared.automated.student_views_set_aside,
        high_first=high[0] if high else None,
        high_last=high[-1] if high else None,
        heavy_user=int(series["user_id"][0]) if series.height else None,
        heavy_day=flagged["date"][0] if flagged.height else None,
        heavy_views=int(flagged["views"][0]) if flagged.height else 0,
        heavy_usual=round(float(series["usual"][0] or 0)) if series.height else 0,
        no_views=snapshot.manifest.rows == 0,
        simulated=prepared.simulated,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q4Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    data = compute(snapshot, config, prepared)
    parameters = {
        name: (list(value) if isinstance(value, tuple) else value)
        for name, value in vars(config.q4).items()
    }
    return Q4Result(
        number=NUMBER,
        title=TITLE,
        parameters=parameters,
        **words(data, config).text(),
        **data_fields(data),
    )


def words(data: Q4Data, config: Config) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    caveats = [
        "Incidents are leads for a security review, not proof: a shared network can be a household "
        "or a café, and a heavy day can be exam preparation.",
        "Classroom networks shared by whole classes are never reported as a scraper or a shared "
        "network; automated fetching from campus is reported against the account only.",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    campus = data.campus_ips
    if data.total_incidents == 0:
        sentence = (
            "There are no page views, so no suspicious activity could be assessed."
            if data.no_views
            else _answer(data.summary, data.tiers)
        )
        supporting = [
            "No automated fetching, attack probes, shared accounts, shared networks, heavy days or "
            "unknown accounts met the bars listed under Method.",
            "Reading after graduation is normal and not counted.",
            f"{_plural(len(campus), 'classroom network')} shared by whole classes "
            f"{'was' if len(campus) == 1 else 'were'} recognised.",
        ]
    else:
        sentence = _answer(data.summary, data.tiers)
        supporting = _supporting(data.incidents, data.summary, campus)
    return Words(answer=sentence, supporting=supporting, method=_method(config), caveats=caveats)


# --- the lead of the slide, the email and the summary page (publish/summary.py asks) -------------------

from analysis.results import ChartData, Lead  # noqa: E402  (kept with lead(): appended section)


def lead(result: Q4Result) -> Lead | None:
    """Suspicious activity leads when there is any incident. The chart shows the most serious tier
    present, by kind (so a longer medium or low bar can never dwarf the high one); every tier's count is
    given as text beside it, high first."""
    from analysis.questions.q4_detect import KIND_LABELS as kind_labels
    from analysis.questions.q4_detect import TIERS as tiers

    counts = {str(tier): int(n) for tier, n in result.tiers.select("tier", "incidents").iter_rows()}
    if not result.total_incidents or not any(counts.values()):
        return None
    top = next(tier for tier in tiers if counts.get(tier))
    colours = {"high": "#b02a37", "medium": "#9a5b00", "low": "#5c636a"}
    by_kind = (
        result.summary.filter((pl.col("tier") == top) & (pl.col("incidents") > 0))
        .with_columns(
            pl.col("kind")
            .replace_strict({k: i for i, k in enumerate(KINDS)}, default=len(KINDS))
            .alias("order")
        )
        .sort(["incidents", "order"], descending=[True, False])
        .head(6)
    )
    tier_word = glossary.tier_name(top)  # "High tier": the glossary's one name for a tier
    chart = ChartData(
        title=f"{tier_word}: incidents by kind",
        categories=[kind_labels.get(k, k) for k in by_kind["kind"].to_list()],
        series=[(tier_word, [float(v) for v in by_kind["incidents"]])],
        colours=[colours.get(top, "#1a5ba6")],
        unit="incidents",
    )
    present = [tier for tier in tiers if counts.get(tier)]
    parts = [f"{counts[tier]:,} {glossary.TIER_NAMES.get(tier, tier)}" for tier in present]
    words = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    bullet = f"Incidents by tier: {words}"  # "Incidents by tier: 7 High, 8 Medium and 68 Low"
    evidence = result.incidents.filter(pl.col("tier") == top).sort("rank")["evidence"].head(5)
    return Lead(
        question=4,
        title=result.headline(),
        bullet=bullet,
        chart=chart,
        details=[str(text) for text in evidence.to_list() if text],
        numbers=[(glossary.tier_name(tier), f"{counts.get(tier, 0):,}") for tier in tiers],
    )
