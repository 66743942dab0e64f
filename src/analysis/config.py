"""One typed configuration object; the only module that reads environment variables.

Each setting is declared once, below, as a dataclass field made by `setting()`: its default, allowed
range, unit, the label a reader sees on the pages and a one-line help. Everything else is derived from
that declaration: the range checks (`validate`), the settings tables of the pages (`describe`), and the
commented `curriculum-insights.toml` (`default_toml`, `make config-file`; a test checks the shipped file
equals it).

`curriculum-insights.toml` at the project root (or the file named by CURRICULUM_CONFIG / --config)
overrides the defaults key by key. Unknown keys are an error that names the key, so a typo in a threshold
never silently falls back to a default.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import inspect
import ipaddress
import json
import math
import os
import re
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "curriculum-insights.toml"


# --- ranges and the declaration of one setting ---------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """Allowed interval of a numeric setting; `open_low`/`open_high` exclude the bound itself."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.open_high and value == self.high))
        )

    def describe(self) -> str:
        low = "" if self.low is None else f"{'>' if self.open_low else '>='} {self.low:g}"
        high = "" if self.high is None else f"{'<' if self.open_high else '<='} {self.high:g}"
        return " and ".join(part for part in (low, high) if part)


AT_LEAST_ONE = Range(1)
POSITIVE = Range(0, open_low=True)
SHARE = Range(0, 1)  # a share or quantile: 0..1
PROBABILITY = Range(0, 1, open_low=True, open_high=True)
OPEN_SHARE = Range(0, 1, open_low=True)  # a share that must not be 0
DEFAULT_RANGE = Range(0)  # every number is finite and >= 0 unless its declaration says otherwise


@dataclass(frozen=True)
class Setting:
    """What one setting means. The default is the dataclass field's; the rest is its metadata.

    `range` applies to numbers (None: DEFAULT_RANGE); `unit` is what one counts in ("days", "share",
    "id" for identifiers such as a seed, printed without thousands separators); `label` is the reader's
    name on the pages; `help` one line for the configuration file. `note` is an optional paragraph
    written before the setting in curriculum-insights.toml (a rule several settings share). `ship`,
    when not None, is the value the shipped file sets instead of the default (project-specific data
    such as path aliases). `in_file=False` settings are documented in the file but not written
    (their defaults depend on where the project is installed).
    """

    key: str  # "section.name", filled in when SETTINGS is built
    default: Any
    range: Range | None
    unit: str
    label: str
    help: str
    note: str = ""
    ship: Any = None
    in_file: bool = True
    # A table whose entries sit directly in its section ([programs] 1 = "...").
    flatten: bool = False

    @property
    def section(self) -> str:
        return self.key.split(".")[0]

    @property
    def name(self) -> str:
        return self.key.split(".")[-1]

    @property
    def numeric(self) -> bool:
        return isinstance(self.default, int | float) and not isinstance(self.default, bool)

    @property
    def allowed(self) -> Range:
        return self.range or DEFAULT_RANGE

    @property
    def identifier(self) -> bool:
        return self.unit == "id"


_META = "setting"


def setting(
    default: Any,
    *,
    label: str,
    help: str,
    range: Range | None = None,
    unit: str = "",
    note: str = "",
    ship: Any = None,
    in_file: bool = True,
    flatten: bool = False,
) -> Any:
    """A dataclass field that declares one setting (see `Setting`); mutable defaults are copied."""
    meta = {
        _META: Setting(
            "", default, range, unit, label, help, note, ship, in_file=in_file, flatten=flatten
        )
    }
    if isinstance(default, dict | list | set):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


# --- the settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramsConfig:
    """The programs: their names and curriculum tracks."""

    labels: dict[int, str] = setting(
        {1: "PHP web dev", 2: "Java web dev", 3: "Data science", 4: "Front end"},
        label="Program names",
        help="program_id -> label shown everywhere",
        flatten=True,
    )
    track: dict[int, str] = setting(
        {1: "web_dev", 2: "web_dev", 3: "data_science", 4: "web_dev"},
        label="Curriculum track of each program",
        help="program_id -> curriculum track used for cross-program analysis (question 5)",
    )


@dataclass(frozen=True)
class PeopleConfig:
    """Cohorts that are not students."""

    staff_cohort_names: tuple[str, ...] = setting(
        ("Staff",), label="Staff cohorts", help="cohort names whose members are staff"
    )
    placeholder_cohort_names: tuple[str, ...] = setting(
        ("Placeholder for students in transition",),
        label="Placeholder cohorts",
        help="cohort names that hold students between cohorts (not a real cohort)",
    )


@dataclass(frozen=True)
class LessonsConfig:
    """Which paths are lessons, and how renamed lessons are matched."""

    non_lesson_paths: tuple[str, ...] = setting(
        ("", "/", "toc", "search/search_index.json", "index.html"),
        label="Paths that are not lessons",
        help="paths that are navigation, not lessons (exact match after stripping slashes)",
    )
    asset_extensions: tuple[str, ...] = setting(
        ("jpg", "jpeg", "png", "svg", "gif", "ico", "css", "js", "json", "xml", "txt", "map",
         "woff", "woff2", "pdf", "csv", "ipynb", "zip"),
        label="File types that are not lessons",
        help="file extensions of assets (images, styles, downloads), not lessons",
    )  # fmt: skip
    probe_patterns: tuple[str, ...] = setting(
        ("wp-login", "wp-admin", "wp-content", ".env", ".git", "phpmyadmin", "admin.php",
         "xmlrpc", "cgi-bin", "../", "<script", "etc/passwd", "server-status", "actuator/",
         "solr/admin", ".aws/", ".bak", "phpunit", ".htaccess", ".ssh/"),
        label="Path fragments of attack probes",
        help="a path containing one of these is an attack probe, not a lesson",
    )  # fmt: skip
    strip_numbered_prefixes: bool = setting(
        True,
        label="Strip numbered folder prefixes",
        help="renamed data-science folders: numbered prefixes are stripped "
        "(1-fundamentals/1.1-intro -> fundamentals/intro)",
    )
    aliases: dict[str, str] = setting(
        {},
        label="Renamed lessons",
        help="old module or lesson path -> canonical one (applied after prefix stripping)",
        ship={
            "python/intro-to-python": "python/introduction-to-python",
            "storytelling/tableau": "storytelling/intro-to-tableau",
        },
    )


@dataclass(frozen=True)
class TimeConfig:
    """Time windows shared by the questions."""

    min_active_days_for_low_usage: int = setting(
        28,
        range=AT_LEAST_ONE,
        unit="days",
        label="Fewest active days for judging low usage",
        help="days of data needed before low usage is judged",
    )


@dataclass(frozen=True)
class Q1Config:
    """Question 1: the lessons most read consistently across cohorts."""

    top_k: int = setting(
        5,
        range=AT_LEAST_ONE,
        unit="places",
        label="Places that count as a cohort's top lessons",
        help="a lesson in a cohort's top this many counts for that cohort",
    )
    min_cohorts: int = setting(
        3,
        range=AT_LEAST_ONE,
        unit="cohorts",
        label="Fewest cohorts for a program to be ranked",
        help="programs with fewer cohorts are not ranked",
    )


@dataclass(frozen=True)
class Q2Config:
    """Question 2: a cohort that read one lesson far more than the program's other cohorts.

    A cohort's views of a lesson per student while enrolled are compared with the program's other
    cohorts that read it, leaving out the cohort's heaviest reader of the lesson and discounting half
    of the cohort's general activity (divided by the square root of its other reading per student vs
    theirs).
    """

    min_views: int = setting(
        20,
        range=AT_LEAST_ONE,
        unit="views",
        label="Fewest views of a lesson by a cohort for a case",
        help="views of the lesson by the cohort (without its heaviest reader) needed for a case",
    )
    min_ratio_low: float = setting(
        1.45,
        range=POSITIVE,
        unit="ratio",
        label="Smallest lower bound of the ratio to the other cohorts",
        help="a case: the lower confidence bound of that ratio is at least this (no hard edge)",
    )
    min_share_ratio_low: float = setting(
        1.0,
        range=POSITIVE,
        unit="ratio",
        label="Smallest lower bound of the lesson's share against the other cohorts",
        help="... and the lesson's share of the cohort's own reading exceeds the peers' "
        "(lower bound)",
    )
    confidence: float = setting(
        0.95,
        range=PROBABILITY,
        unit="probability",
        label="Confidence of the lower bound",
        help="one-sided confidence of that bound (widened by the program's over-dispersion)",
    )
    min_students: int = setting(
        3,
        range=AT_LEAST_ONE,
        unit="students",
        label="Fewest students for a cohort to be compared",
        help="cohorts with fewer students reading while enrolled are not compared",
    )
    min_window_in_data: float = setting(
        0.8,
        range=SHARE,
        unit="share",
        label="Smallest share of the cohort's window inside the data",
        help="cohorts with less of their enrolled window inside the data are not compared",
    )
    max_cases_per_program: int = setting(
        5,
        range=AT_LEAST_ONE,
        unit="cases",
        label="Most cases listed per program",
        help="strongest cases shown per program",
    )


@dataclass(frozen=True)
class Q3Config:
    """Question 3: students who hardly use the curriculum while enrolled."""

    min_enrolled_days: int = setting(
        28,
        range=AT_LEAST_ONE,
        unit="days",
        label="Fewest enrolled days for a student to be judged",
        help='enrolled days inside the data needed to judge a student (else "too recent")',
    )
    low_z: float = setting(
        3.0,
        range=POSITIVE,
        unit="robust z",
        label="Robust deviations below the cohort for low usage",
        help="low: robust z of log1p(lesson views per enrolled week) at most -this ...",
        note="low usage: abnormal against the cohort on a log scale AND a small share of the "
        "cohort's median, so the ordinary low tail of a tight cohort (z alone) or of a skewed one "
        "(share alone) is not flagged",
    )
    low_share_of_median: float = setting(
        0.2,
        range=OPEN_SHARE,
        unit="share",
        label="Largest share of the cohort's median for low usage",
        help="... and lesson views per week at most this share of the cohort's median",
    )
    near_zero_share_of_median: float = setting(
        0.05,
        range=SHARE,
        unit="share",
        label="Largest share of the cohort's median for near-zero usage",
        help="near-zero users: at most this share of the median, whatever z",
    )
    trickle_max_share_of_median: float = setting(
        0.5,
        range=OPEN_SHARE,
        unit="share",
        label="Fading drop-out: largest share of the cohort's median read in all",
        help="a fading drop-out reads at most this share of the cohort's median in all",
    )
    dropout_min_early_share: float = setting(
        0.5,
        range=SHARE,
        unit="share",
        label="Fading drop-out: smallest share of a typical start",
        help="... after first days with at least this share of the cohort's median active days",
    )
    max_views_per_active_day: float = setting(
        10,
        range=POSITIVE,
        unit="views",
        label="Most lesson views per active day for a low user",
        help='flagged students above this per active day are "seldom active", not light readers',
    )
    dropout_days: int = setting(
        21,
        range=AT_LEAST_ONE,
        unit="days",
        label="Days of silence that make a drop-out",
        help="likely drop-out: last access within this many days of the start",
    )
    dropout_cohort_factor: float = setting(
        3.0,
        range=POSITIVE,
        unit="times",
        label="Cohort length, in drop-out windows, needed to call a drop-out",
        help="... while the cohort ran at least this many times dropout_days (and the user did not "
        "continue under another cohort or account)",
    )
    min_peers: int = setting(
        5,
        range=AT_LEAST_ONE,
        unit="students",
        label="Fewest cohort peers to compare with",
        help="cohorts with fewer eligible students are compared with their whole program instead",
    )
    same_person_max_ip_users: int = setting(
        3,
        range=AT_LEAST_ONE,
        unit="users",
        label="Most users on an IP for accounts to look like one person",
        help="possible same person: another account of the cohort that starts after this one stops "
        "and shares a non-campus IP used by at most this many accounts (NAT, cafe: no evidence)",
    )
    dropout_max_rate_ratio: float = setting(
        0.25,
        range=OPEN_SHARE,
        unit="ratio",
        label="Fading drop-out: largest ratio of later to early active days",
        help="a fade: the share of active days after the first dropout_days at most this x the "
        "share in those first days",
    )
    bulk_quantile: float = setting(
        0.05,
        range=Range(0, 0.5, open_high=True),
        unit="quantile",
        label="Quantile trimmed from each end of an account's activity",
        help="an account's bulk of activity runs from this to 1 - this quantile of its view times "
        "(a few stray visits do not make two successive accounts look simultaneous)",
    )


@dataclass(frozen=True)
class Q4Config:
    """Question 4: suspicious activity, triaged into ranked incidents."""

    session_gap_seconds: int = setting(
        600,
        range=AT_LEAST_ONE,
        unit="seconds",
        label="Gap that ends a session (seconds)",
        help="sessions: one user's views on one network, cut where the gap exceeds this",
    )
    scrape_window_seconds: int = setting(
        60,
        range=AT_LEAST_ONE,
        unit="seconds",
        label="Scraping window (seconds)",
        help="automated fetching, fast: scrape_min_pages views within this many seconds "
        "(no person reads that fast)",
    )
    scrape_min_pages: int = setting(
        30,
        range=Range(2),
        unit="views",
        label="Pages in the window that make a scraping burst",
        help="... this many views within scrape_window_seconds",
    )
    scrape_min_distinct: int = setting(
        20,
        range=AT_LEAST_ONE,
        unit="pages",
        label="Distinct pages in the window that make a scraping burst",
        help="every automated session covers at least this many pages",
    )
    slow_min_pages: int = setting(
        60,
        range=Range(3),
        unit="views",
        label="Fewest views for automated fetching at any pace",
        help="automated fetching at any pace: over at least this many views, gaps even ...",
    )
    scrape_max_spread: float = setting(
        1.0,
        range=POSITIVE,
        unit="ratio",
        label="Most uneven gaps for automated fetching",
        help="... (90th - 10th percentile gap) / median gap at most this (people read in bursts)",
    )
    sweep_min_share: float = setting(
        0.8,
        range=SHARE,
        unit="share",
        label="Share of steps to the next page that makes a sweep",
        help="... or this share of the steps going to the next page in path order (a sweep), with "
        "gaps at most twice as uneven",
    )
    episode_gap_hours: int = setting(
        6,
        range=POSITIVE,
        unit="hours",
        label="Gap between machine sessions of one episode (hours)",
        help="machine sessions this close together form one episode",
    )
    probe_episode_days: int = setting(
        7,
        range=POSITIVE,
        unit="days",
        label="Gap between attack probes of one episode (days)",
        help="attack probes from one IP this close together form one episode",
    )
    probe_sweep_requests: int = setting(
        10,
        range=Range(2),
        unit="requests",
        label="Probe requests from one address that make a sweep",
        help="an address's probe episode is High when it sweeps (this many requests) or persists; "
        "the others are one-off probes (routine scanning), one grouped Medium incident",
    )
    probe_persist_days: int = setting(
        2,
        range=Range(2),
        unit="days",
        label="Days of probes that make an address persistent",
        help="... or persists: probes on this many days",
    )
    sleep_gap_hours: float = setting(
        2.0,
        range=POSITIVE,
        unit="hours",
        label="Longest pause (hours) of an account read around the clock",
        help="automated fetching around the clock: an account's views with no gap over this long ...",
    )
    around_clock_hours: float = setting(
        36.0,
        range=POSITIVE,
        unit="hours",
        label="Hours without sleep that make automated fetching",
        help="... for at least this many hours ...",
    )
    around_clock_hour_share: float = setting(
        0.75,
        range=SHARE,
        unit="share",
        label="Share of those hours with views",
        help="... with views in at least this share of those hours",
    )
    heavy_day_min_views: int = setting(
        100,
        range=AT_LEAST_ONE,
        unit="views",
        label="Fewest views for an abnormally heavy day",
        help="a heavy day has at least this many views",
        note="heavy day: at least the population's heavy_pop_quantile of daily views (staff "
        "against staff) and heavy_day_min_views, and heavy_own_z robust deviations above the "
        "person's own usual day (log scale; one deviation is at least a factor heavy_own_floor); "
        "with fewer than heavy_min_days active days only the population bar applies",
    )
    heavy_pop_quantile: float = setting(
        0.995,
        range=SHARE,
        unit="quantile",
        label="Population quantile of daily views for a heavy day",
        help="... and at least this quantile of everyone's daily views (staff against staff)",
    )
    heavy_own_z: float = setting(
        2.5,
        range=POSITIVE,
        unit="robust z",
        label="Robust deviations above the person's usual day",
        help="... and this many robust deviations above the person's own usual day (log scale)",
    )
    heavy_own_times: float = setting(
        15.0,
        range=Range(1, open_low=True),
        unit="times",
        label="Times the person's usual day",
        help="... or at least this many times the person's usual day",
    )
    heavy_own_floor: float = setting(
        2.0,
        range=Range(1, open_low=True),
        unit="times",
        label="Smallest factor of one deviation",
        help="one robust deviation is at least this factor",
    )
    heavy_min_days: int = setting(
        5,
        range=AT_LEAST_ONE,
        unit="days",
        label="Fewest active days for a person's usual day",
        help="with fewer active days only the population bar applies",
    )
    heavy_episode_days: int = setting(
        28,
        range=AT_LEAST_ONE,
        unit="days",
        label="Days between heavy days of one episode",
        help="one person's heavy days of one phase (enrolled, alumni, staff) this close together are "
        "one episode",
    )
    heavy_habit_share: float = setting(
        0.1,
        range=SHARE,
        unit="share",
        label="Share of heavy days that is a person's normal",
        help="heavy on more than this share of their days in a phase is that person's normal: no "
        "incident",
    )
    heavy_medium_max: int = setting(
        15,
        range=AT_LEAST_ONE,
        unit="episodes",
        label="Most heavy-day episodes in the medium tier",
        help="the most abnormal heavy-day episodes in the Medium tier; the others Low",
    )
    share_window_days: int = setting(
        28,
        range=AT_LEAST_ONE,
        unit="days",
        label="Window for a shared account (days)",
        help="shared account: evidence is counted within windows of this many days",
        note="shared account: within windows of share_window_days, two IPs within one "
        "share_slot_minutes slot (one of them used by the account on share_min_days days within "
        "two windows and half its time only) on share_min_days days; or, within windows twice as "
        "long, more outside networks than share_networks_factor x the peers' "
        "share_networks_quantile (and at least share_min_networks)",
    )
    share_slot_minutes: int = setting(
        10,
        range=AT_LEAST_ONE,
        unit="minutes",
        label="Slot in which two IPs count as the same time (minutes)",
        help="two IPs in one slot this long count as used at the same time",
    )
    share_min_days: int = setting(
        4,
        range=AT_LEAST_ONE,
        unit="days",
        label="Days with two IPs at once for a shared account",
        help="days with two IPs at the same time needed for a shared account",
    )
    share_networks_quantile: float = setting(
        0.99,
        range=SHARE,
        unit="quantile",
        label="Peers' quantile of outside networks",
        help="the peers' quantile of outside networks per window that is compared",
    )
    share_networks_factor: float = setting(
        2.0,
        range=POSITIVE,
        unit="times",
        label="Times the peers' outside networks for a shared account",
        help="more outside networks than this x the peers' quantile",
    )
    share_min_networks: int = setting(
        8,
        range=Range(2),
        unit="networks",
        label="Fewest outside networks for a shared account",
        help="... and at least this many outside networks",
    )
    share_network_ratio: float = setting(
        0.75,
        range=OPEN_SHARE,
        unit="share",
        label="Share of sessions on a new network for a shared account",
        help="... or at least share_min_networks, a new one for this share of its sessions",
    )
    pool_switch_share: float = setting(
        0.3,
        range=OPEN_SHARE,
        unit="share",
        label="Share of requests switching address in an address pool",
        help="one account's session whose addresses (each seen twice) switch on at least this "
        "share of consecutive requests is on one network (a NAT pool), for the shared-account rules",
    )
    pool_together_share: float = setting(
        0.75,
        range=OPEN_SHARE,
        unit="share",
        label="Share of sessions in which a pool address has a partner",
        help="... and only addresses the account uses with another outside address in at least "
        "this share of its sessions of four views or more (not someone's own address)",
    )
    shared_ip_window_days: int = setting(
        14,
        range=AT_LEAST_ONE,
        unit="days",
        label="Window for a shared outside network (days)",
        help="shared outside network: shared_ip_window_users people on one non-campus IP within "
        "this many days",
    )
    shared_ip_window_users: int = setting(
        8,
        range=Range(2),
        unit="users",
        label="People on one outside IP that make a shared network",
        help="... this many people on one non-campus IP within shared_ip_window_days",
    )
    shared_ip_spike_share: float = setting(
        0.5,
        range=SHARE,
        unit="share",
        label="Share of the IP's people in one window for high concern",
        help="high when that window holds at least this share of the IP's people, else medium",
    )
    stale_years: float = setting(
        1.0,
        range=POSITIVE,
        unit="years",
        label="Years since the cohort ended for an old account",
        help="old account in use: the cohort ended over this many years before the log begins ...",
    )
    stale_min_days: int = setting(
        12,
        range=AT_LEAST_ONE,
        unit="days",
        label="Days of reading for an old account in use",
        help="... and the account reads on this many days within one share_window_days window",
    )
    stale_min_views: int = setting(
        150,
        range=AT_LEAST_ONE,
        unit="views",
        label="Views for an old account in use",
        help="... or this many pages within one share_window_days window",
    )
    unknown_week_quantile: float = setting(
        0.99,
        range=SHARE,
        unit="quantile",
        label="Quantile of busiest weeks for an unknown account",
        help="unknown account: medium (not low) when it names a missing cohort, is on two IPs at "
        "once on share_min_days days, or its busiest week is above this quantile of all accounts'",
    )
    campus_ip_min_share: float = setting(
        0.02,
        range=SHARE,
        unit="share",
        label="Share of all views that makes an IP the campus",
        help="an IP with this share of all views from shared_ip_min_users people",
        note="campus NAT (never a scraper or a shared outside network): campus_ips; any IP with "
        "campus_ip_min_share of all views from shared_ip_min_users people; any IP used by "
        "campus_weekly_users people in each of campus_min_weeks weeks",
    )
    shared_ip_min_users: int = setting(
        25,
        range=Range(2),
        unit="users",
        label="Users on one IP that make it a shared (campus) address",
        help="... from at least this many people",
    )
    campus_weekly_users: int = setting(
        10,
        range=Range(2),
        unit="users",
        label="People a week on one IP that make it the campus",
        help="an IP used by this many people in each of campus_min_weeks weeks",
    )
    campus_min_weeks: int = setting(
        8,
        range=AT_LEAST_ONE,
        unit="weeks",
        label="Weeks of classroom use that make an IP the campus",
        help="... in this many weeks",
    )
    campus_ips: tuple[str, ...] = setting(
        (), label="Campus IP addresses", help="IP addresses known to be the campus"
    )


@dataclass(frozen=True)
class Q5Config:
    """Question 5: reading across programs after the 2019 shut-off."""

    policy_date: dt.date = setting(
        dt.date(2019, 6, 1),
        unit="date",
        label="Date cross-program access should have stopped",
        help="the date of the policy (YYYY-MM-DD)",
    )
    lesson_home_min_share: float = setting(
        0.8,
        range=OPEN_SHARE,
        unit="share",
        label="Share of a module's views that makes it a track's own",
        help="the leading track's share of the reading rates needed for a home (below: shared)",
        note="A lesson's home track is the track whose own enrolled students read it: each "
        "track's enrolled views of the lesson per enrolled lesson view of that track, and the "
        "leading track's share of those rates must be at least lesson_home_min_share (below: "
        "shared material, no home).",
    )
    lesson_home_min_views: int = setting(
        20,
        range=AT_LEAST_ONE,
        unit="views",
        label="Fewest enrolled views for a lesson's own home",
        help="a lesson with fewer enrolled views takes its module's home (same rule)",
    )
    lesson_home_overrides: dict[str, str] = setting(
        {},
        label="Modules assigned to a track by hand",
        help='"module" or "module/lesson" = "data_science" | "web_dev"',
    )
    min_drop: float = setting(
        0.5,
        range=OPEN_SHARE,
        unit="share",
        label="Smallest relative drop reported as a change",
        help="a shut-off needs the cross-program rate to fall by at least this (0.5 = halved)",
    )
    min_log_likelihood_ratio: float = setting(
        10.0,
        unit="log-likelihood ratio",
        label="Evidence needed for a change point (log-likelihood ratio)",
        help='... and the two-level split to beat "no change" by this Poisson log-likelihood ratio',
    )
    min_segment_days: int = setting(
        14,
        range=AT_LEAST_ONE,
        unit="days",
        label="Fewest days on each side of a change",
        help="days with student lesson views needed on each side of the change point",
    )
    bootstrap_reps: int = setting(
        200,
        range=AT_LEAST_ONE,
        unit="resamples",
        label="Resamples for the interval",
        help="resamples of days for the change point's interval",
    )
    interval: float = setting(
        0.9,
        range=PROBABILITY,
        unit="probability",
        label="Coverage of the interval",
        help="coverage of that interval (0.9 = 5th to 95th percentile)",
    )
    seed: int = setting(
        2019,
        unit="id",
        label="Random seed",
        help="numpy seed of the bootstrap: same data, same interval",
    )


@dataclass(frozen=True)
class Q6Config:
    """Question 6: what graduates keep reading."""

    top_n: int = setting(
        10,
        range=AT_LEAST_ONE,
        unit="lessons",
        label="Items listed per program",
        help="topics listed per program",
    )
    min_days_after_end: int = setting(
        1,
        unit="days",
        label="Days after the cohort's end before a view counts as a graduate's",
        help="views this many days after the cohort's end count as alumni use",
    )
    min_alumni: int = setting(
        5,
        unit="students",
        label="Fewest returning graduates for a program to be charted",
        help="a program with fewer returning graduates is reported but not charted or named in "
        "the answer (one or two readers show no pattern)",
    )


@dataclass(frozen=True)
class Q7Config:
    """Question 7: the least-read lessons."""

    min_views: int = setting(
        5,
        unit="views",
        label="Fewest views for a lesson to count",
        help="lessons with fewer student views form the rarely read group",
    )
    bottom_n: int = setting(
        10,
        range=AT_LEAST_ONE,
        unit="lessons",
        label="Least accessed lessons listed per program",
        help="least accessed lessons listed per program",
    )


@dataclass(frozen=True)
class Q8Config:
    """Question 8: anything else leadership should know."""

    top_n: int = setting(
        5, range=AT_LEAST_ONE, unit="items", label="Items listed per program", help="items listed"
    )
    campus_share_floor: float = setting(
        0.05,
        range=SHARE,
        unit="share",
        label="Campus share below which teaching counts as remote",
        help="campus -> remote: the month the campus-IP share of views stays below this",
    )
    stub_program_max_share: float = setting(
        0.001,
        range=SHARE,
        unit="share",
        label="Largest share of student views for a stub program",
        help="a program with at most this share of cohort views is a stub (test program)",
    )
    burst_min_share: float = setting(
        0.2,
        range=SHARE,
        unit="share",
        label="Share of the busiest month that makes a burst of rows without a cohort",
        help="no-cohort bursts: months with at least this share of the busiest month's rows",
    )


@dataclass(frozen=True)
class AcquireConfig:
    """Reading the MySQL source."""

    connect_timeout_seconds: float = setting(
        10.0,
        range=POSITIVE,
        unit="seconds",
        label="Connection timeout (seconds)",
        help="give up connecting to MySQL after this long (exit 4)",
    )
    read_timeout_seconds: float = setting(
        300.0,
        range=POSITIVE,
        unit="seconds",
        label="Read timeout (seconds)",
        help="a server silent this long mid-query counts as gone (exit 4)",
    )


@dataclass(frozen=True)
class HistoryConfig:
    """The history of published reports (what changed since the last one)."""

    enabled: bool = setting(
        True,
        label="Keep a history of reports",
        help="every publishing build keeps its masked findings in <data_dir>/history and the pages "
        "say what changed since the previous report; false (or `build --no-history`): neither read "
        "nor written",
    )
    keep: int = setting(
        52,
        range=AT_LEAST_ONE,
        unit="reports",
        label="Reports kept in the history",
        help="newest reports kept (a year of weekly reports); older ones are pruned",
    )
    compare_to: str = setting(
        "",
        label="Report to compare with (data end)",
        help="compare with the report whose data ends on this day (YYYY-MM-DD; `--compare-to`); "
        "empty: the latest report whose data ends before this one's",
    )


@dataclass(frozen=True)
class SiteConfig:
    """The published site and the email."""

    base_url: str = setting(
        "",
        label="Public address of the site",
        help="public URL of the published site, linked from the email (CURRICULUM_SITE_URL "
        "overrides); empty: the build notes it and the email says the report is in the _site "
        "folder (placeholder domains such as example.org, .test, .invalid count as empty)",
    )
    title: str = setting("Curriculum insights", label="Site title", help="title of the site")
    email_from: str = setting(
        "",
        label="Email sender",
        help='From header of the ready-to-send email (_build/email.eml), e.g. "Name '
        '<name@school.edu>"; empty: no such header and the build says so',
    )
    email_to: str = setting(
        "",
        label="Email recipients",
        help="To header of the ready-to-send email; empty: no such header and the build says so",
    )


@dataclass(frozen=True)
class PrivacyConfig:
    """What published outputs may show (CURRICULUM_PRIVACY overrides)."""

    mode: str = setting(
        "public",
        label="Privacy mode",
        help='"public" masks IPs in everything published; "internal" shows them',
    )


@dataclass(frozen=True)
class PathsConfig:
    """Where data and outputs live (defaults: folders of the project)."""

    data_dir: Path = setting(
        PROJECT_ROOT / "data",
        label="Data folder",
        help="where the snapshot lives (CURRICULUM_DATA_DIR, --data-dir)",
        in_file=False,
    )
    site_dir: Path = setting(
        PROJECT_ROOT / "_site", label="Site folder", help="the published site", in_file=False
    )
    build_dir: Path = setting(
        PROJECT_ROOT / "_build",
        label="Build folder",
        help="findings, slide, email and other build outputs",
        in_file=False,
    )
    demo_dir: Path = setting(
        PROJECT_ROOT / "data" / "demo",
        label="Demo data folder",
        help="the embedded demo dataset (ships with the project: --data-dir does not move it)",
        in_file=False,
    )
    reference_dir: Path = setting(
        PROJECT_ROOT / "data" / "reference",
        label="Reference data folder",
        help="the real reference tables (ship with the project: --data-dir does not move them)",
        in_file=False,
    )
    report_cache: Path | None = setting(
        None,
        label="Report cache",
        help="pickled report + config written by render for the page kernels "
        "(CURRICULUM_REPORT, set by render only); unset: pages compute the report",
        in_file=False,
    )

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshot"


@dataclass(frozen=True)
class Config:
    programs: ProgramsConfig = field(default_factory=ProgramsConfig)
    people: PeopleConfig = field(default_factory=PeopleConfig)
    lessons: LessonsConfig = field(default_factory=LessonsConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    q1: Q1Config = field(default_factory=Q1Config)
    q2: Q2Config = field(default_factory=Q2Config)
    q3: Q3Config = field(default_factory=Q3Config)
    q4: Q4Config = field(default_factory=Q4Config)
    q5: Q5Config = field(default_factory=Q5Config)
    q6: Q6Config = field(default_factory=Q6Config)
    q7: Q7Config = field(default_factory=Q7Config)
    q8: Q8Config = field(default_factory=Q8Config)
    acquire: AcquireConfig = field(default_factory=AcquireConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    db_url: str | None = None  # CURRICULUM_DB_URL only
    source_file: Path | None = None  # the file the settings came from (set by load_config)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def program_label(self, program_id: int | None) -> str:
        if program_id is None:
            return "No cohort"
        return self.programs.labels.get(program_id, f"Program {program_id}")


# --- reading the declarations ----------------------------------------------------------------------------


def _sections() -> Iterator[tuple[str, type]]:
    """(name, dataclass) of every section of Config, in declaration order."""
    for section in dataclasses.fields(Config):
        factory = section.default_factory
        if isinstance(factory, type) and dataclasses.is_dataclass(factory):
            yield section.name, factory


def _declarations() -> dict[str, Setting]:
    found: dict[str, Setting] = {}
    for section, cls in _sections():
        for item in dataclasses.fields(cls):
            declared = item.metadata.get(_META)
            if not isinstance(declared, Setting):
                raise TypeError(f"{section}.{item.name} is not declared with setting()")
            found[f"{section}.{item.name}"] = dataclasses.replace(
                declared, key=f"{section}.{item.name}"
            )
    return found


SETTINGS: dict[str, Setting] = _declarations()  # "section.name" -> its declaration, in file order
# Range rules stricter than DEFAULT_RANGE (derived from the declarations; kept for callers and tests).
RANGES: dict[str, Range] = {key: s.range for key, s in SETTINGS.items() if s.range is not None}


def describe(key: str, section: str | None = None) -> Setting:
    """The declaration of a setting: `describe("q4.share_min_days").label`. A bare name
    ("share_min_days") is looked up in `section` first, then in every section in order; KeyError
    when no section has it."""
    if key in SETTINGS:
        return SETTINGS[key]
    if "." not in key:
        if section is not None and f"{section}.{key}" in SETTINGS:
            return SETTINGS[f"{section}.{key}"]
        for declared in SETTINGS.values():
            if declared.name == key:
                return declared
    raise KeyError(key)


# --- the commented configuration file, generated from the declarations -----------------------------------

FILE_HEADER = """\
# curriculum-insights configuration: every threshold, label and alias the analysis uses.
# Generated from the declarations in src/analysis/config.py (`make config-file`); a test checks this file
# equals that output, so change a default, range or help there and regenerate.
# Values here override those defaults; missing keys keep the defaults.
# Environment variables (read only in src/analysis/config.py):
#   CURRICULUM_DB_URL    SQLAlchemy URL of the MySQL source (e.g. mysql+pymysql://user:pw@host:3306/curriculum_logs)
#   CURRICULUM_DATA_DIR  where the snapshot lives (default: ./data)
#   CURRICULUM_SITE_URL  public base URL of the published site (used in the email)
#   CURRICULUM_PRIVACY   public (default: IPs masked) or internal (full IPs)
#   CURRICULUM_CONFIG    path to another file like this one
#   CURRICULUM_REPORT    (internal) pickled report the page kernels read; set by `render`, not by users
"""
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_WIDTH = 100


def _comment(text: str, indent: str = "") -> list[str]:
    """`text` as comment lines; a bracketed tail ("[days, >= 1]") is never split."""
    head, bracket, tail = text.partition(" [")
    glued = head + (bracket + tail.replace(" ", "\0") if bracket else "")
    lines = textwrap.wrap(
        glued,
        _WIDTH - 2,
        initial_indent=f"# {indent}",
        subsequent_indent=f"# {indent}    " if indent else "# ",
        break_on_hyphens=False,
    )
    return [line.replace("\0", " ") for line in lines]


def _toml_key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.match(text) else json.dumps(text, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date | Path | str):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _help_line(declared: Setting) -> list[str]:
    facts = [declared.unit] if declared.unit else []
    if declared.numeric:
        facts.append(declared.allowed.describe())
    extra = f" [{', '.join(facts)}]" if facts else ""
    return _comment(declared.help + extra)


def default_toml() -> str:
    """The commented curriculum-insights.toml, from the declarations (the shipped file equals it)."""
    lines = [FILE_HEADER.rstrip("\n")]
    for section, cls in _sections():
        declared = [s for s in SETTINGS.values() if s.section == section]
        doc = inspect.cleandoc(cls.__doc__ or "")
        if not any(s.in_file for s in declared):
            lines += ["", *_comment(f"[{section}] can be set here too. {doc}")]
            lines += [line for s in declared for line in _comment(f"{s.name}: {s.help}", "  ")]
            continue
        lines += [
            "",
            f"[{section}]",
            *(line for par in doc.split("\n\n") for line in _comment(par)),
        ]
        tables: list[Setting] = []
        for s in declared:
            value = s.default if s.ship is None else s.ship
            if isinstance(value, dict) and not s.flatten:
                tables.append(s)
                continue
            if s.note:
                lines += ["", *_comment(s.note)]
            lines += _help_line(s)
            if isinstance(value, dict):
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
            else:
                lines.append(f"{s.name} = {_toml_value(value)}")
        for s in tables:
            value = s.default if s.ship is None else s.ship
            lines += ["", f"[{section}.{s.name}]", *_comment(s.note), *_help_line(s)]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def _coerce(value: Any, target: Any, where: str) -> Any:
    """Convert a TOML value to the type of the default it replaces."""
    if isinstance(target, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(target, int) and not isinstance(target, bool):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if isinstance(target, float):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(target, dt.date):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc
    if isinstance(target, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    if isinstance(target, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        if not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: every value must be a string, got {value!r}")
        # Tables extend the defaults key by key (a file naming one program keeps the others).
        sample_key = next(iter(target), None)
        if isinstance(sample_key, int):
            try:
                return {**target, **{int(k): v for k, v in value.items()}}
            except ValueError as exc:
                raise ConfigError(f"{where}: keys must be program ids (numbers)") from exc
        return {**target, **{str(k): v for k, v in value.items()}}
    if isinstance(target, Path | str) or target is None:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return Path(value) if isinstance(target, Path) else value
    return value


def _merge(section: Any, overrides: Any, where: str) -> Any:
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {overrides!r}")
    known = {f.name: f for f in dataclasses.fields(section)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(
                f"{where}: unknown setting '{key}' (known: {', '.join(sorted(known))})"
            )
        current = getattr(section, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge(current, value, f"{where}.{key}")
        else:
            changes[key] = _coerce(value, current, f"{where}.{key}")
    return dataclasses.replace(section, **changes)


# --- ranges, checked once when the configuration loads ---------------------------------------------------


def validate(config: Config, where: str = "configuration") -> None:
    """Every numeric setting finite and in its declared range (else >= 0); the first fault is named."""
    for section, _ in _sections():
        value = getattr(config, section)
        for item in dataclasses.fields(value):
            number = getattr(value, item.name)
            if isinstance(number, bool) or not isinstance(number, int | float):
                continue
            key = f"{section}.{item.name}"
            allowed = SETTINGS[key].allowed
            if not math.isfinite(number) or not allowed.admits(number):
                raise ConfigError(f"{where}: {key} must be {allowed.describe()}, got {number!r}")


# --- settings checked beyond their type (issue 18): each fault is a ConfigError naming the setting --------

# The curriculum tracks question 5 compares (questions/q5.py TRACK_NAMES; a test keeps them equal).
TRACKS: tuple[str, ...] = ("web_dev", "data_science")
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def check_tracks(config: Config, where: str) -> None:
    """[programs.track] and [q5] lesson_home_overrides name known tracks only."""
    known = ", ".join(TRACKS)
    for program, track in config.programs.track.items():
        if track not in TRACKS:
            raise ConfigError(
                f"{where}: programs.track.{program} = {track!r} is not a track (known: {known})"
            )
    for lesson, track in config.q5.lesson_home_overrides.items():
        if track not in TRACKS:
            raise ConfigError(
                f"{where}: q5.lesson_home_overrides.{lesson!r} = {track!r} is not a track "
                f"(known: {known})"
            )


def check_campus_ips(config: Config, where: str) -> Config:
    """[q4] campus_ips parsed as IP addresses; kept in canonical form (as the snapshot stores them)."""
    canonical = []
    for text in config.q4.campus_ips:
        try:
            canonical.append(str(ipaddress.ip_address(text.strip())))
        except ValueError:
            raise ConfigError(
                f"{where}: q4.campus_ips holds {text!r}, which is not an IP address "
                '(e.g. "97.105.19.61" or "2001:db8::1")'
            ) from None
    return config.replace(q4=dataclasses.replace(config.q4, campus_ips=tuple(canonical)))


def check_email_addresses(config: Config, where: str) -> None:
    """[site] email_from / email_to: empty, or one line of plausible addresses ("Name <a@b.org>";
    email_to may list several, comma-separated). A header that would be dropped is refused here."""
    from email.utils import getaddresses

    for key in ("email_from", "email_to"):
        value = getattr(config.site, key)
        if not value.strip():
            continue
        setting = f"{where}: site.{key}"
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ConfigError(f"{setting} must be one line without control characters")
        addresses = getaddresses([value], strict=True) if _strict_getaddresses() else None
        if addresses is None:
            addresses = getaddresses([value])
        if key == "email_from" and len(addresses) != 1:
            raise ConfigError(f"{setting} must be one address, got {value!r}")
        for _, address in addresses:
            if not _EMAIL_ADDRESS.match(address):
                raise ConfigError(
                    f'{setting}: {value!r} is not a plausible address like "Name <name@school.edu>"'
                )


def _strict_getaddresses() -> bool:
    import inspect
    from email.utils import getaddresses

    return "strict" in inspect.signature(getaddresses).parameters


def check_data_dir(data_dir: Path, origin: str) -> None:
    """The data directory must be a directory, or creatable (no file on the way)."""
    path = Path(data_dir)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{origin}: {path} is not a directory")
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{origin}: {path} cannot be created ({parent} is a file)")
            return


def _programs_from_toml(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """[programs] mixes `1 = "label"` keys with a [programs.track] table."""
    labels = {k: v for k, v in raw.items() if k != "track"}
    result: dict[str, Any] = {}
    if labels:
        result["labels"] = labels
    if "track" in raw:
        result["track"] = raw["track"]
    return result


def load_config(
    path: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Defaults <- config file <- environment. CLI flags are applied by the caller with replace()."""
    env = dict(os.environ if environ is None else environ)
    config_path = path or (Path(env["CURRICULUM_CONFIG"]) if env.get("CURRICULUM_CONFIG") else None)
    config = Config()
    if config_path is None and DEFAULT_CONFIG_FILE.exists():
        config_path = DEFAULT_CONFIG_FILE
    if config_path is not None:
        if not config_path.exists():
            raise ConfigError(f"config file not found: {config_path}")
        if config_path.is_dir():
            raise ConfigError(f"config file {config_path} is a directory, not a TOML file")
        try:
            raw = tomllib.loads(config_path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{config_path}: not valid UTF-8 text (byte {exc.start}: {exc.reason})"
            ) from exc
        except OSError as exc:
            raise ConfigError(f"config file {config_path}: cannot read ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: invalid TOML: {exc}") from exc
        if "programs" in raw:
            if not isinstance(raw["programs"], dict):
                raise ConfigError(
                    f"{config_path}.programs: expected a table of settings, got {raw['programs']!r}"
                )
            raw["programs"] = _programs_from_toml(raw["programs"], f"{config_path}: [programs]")
        config = _merge(config, raw, str(config_path))
        config = dataclasses.replace(config, source_file=config_path)
    validate(config, str(config_path or "defaults"))
    if config.paths.data_dir != PathsConfig().data_dir:
        check_data_dir(config.paths.data_dir, f"{config_path}: paths.data_dir")
    paths = config.paths
    if env.get("CURRICULUM_DATA_DIR"):
        paths = dataclasses.replace(paths, data_dir=Path(env["CURRICULUM_DATA_DIR"]))
        check_data_dir(paths.data_dir, "CURRICULUM_DATA_DIR")
    if env.get("CURRICULUM_REPORT"):
        paths = dataclasses.replace(paths, report_cache=Path(env["CURRICULUM_REPORT"]))
    site = config.site
    if env.get("CURRICULUM_SITE_URL"):
        site = dataclasses.replace(site, base_url=env["CURRICULUM_SITE_URL"])
    privacy = config.privacy
    if env.get("CURRICULUM_PRIVACY"):
        privacy = dataclasses.replace(privacy, mode=env["CURRICULUM_PRIVACY"])
    where = str(config_path or "defaults")
    check_tracks(config, where)
    check_email_addresses(config, where)
    config = check_campus_ips(config, where)
    if privacy.mode not in ("public", "internal"):
        raise ConfigError(
            f"privacy mode must be 'public' or 'internal', got {privacy.mode!r} "
            "(CURRICULUM_PRIVACY or [privacy] mode)"
        )
    return dataclasses.replace(
        config,
        paths=paths,
        site=site,
        privacy=privacy,
        db_url=env.get("CURRICULUM_DB_URL") or config.db_url,
    )


if (
    __name__ == "__main__"
):  # `python -m analysis.config > curriculum-insights.toml` (make config-file)
    print(default_toml(), end="")
