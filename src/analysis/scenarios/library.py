"""The scenario library: the demo and named variants that differ from it in base behaviour and in the
shapes of the irregularities they inject.

A `Scenario` is a set of knobs read by the simulator (`simulate.py`) and by the injector
(`inject.py`). The defaults are the demo's values, so `SCENARIOS["demo"]` reproduces the embedded demo
log byte for byte. The other scenarios were written from a description of plausible school logs, not
from the detectors: their numbers say what a person, a class or a machine does, never a threshold.

Base behaviour (unlabelled): the tail of daily page counts (`activity_sigma`, `session_sigma`), the
networks a person uses (home, phone carrier and VPN addresses shared by a few people, `campus_ips`),
cohort sizes (`users_factor`), a module holding lessons of both programs (`merged_modules`), lesson
renames (`rename_shift_days`, `web_renames`), staff habits (`staff_*`), cross-program reading and its
timing (`p_cross_*`, `cutoff_base`, `ds_online`, `data_start`).

Injected irregularities (labelled, see `inject.py`): `events` lists (kind, shape, how many). Every
irregularity appears in at least two shapes across the library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

# (kind, shape, count); kinds are the label vocabulary of analysis.schema.LABEL_KINDS
Event = tuple[str, str, int]


@dataclass(frozen=True)
class Scenario:
    name: str = "demo"
    description: str = "the embedded demo: calibrated to the real log's published facts"
    # time range of the log (the demo's is the real log's)
    data_start: dt.datetime = dt.datetime(2018, 1, 26, 9, 55, 3)
    data_end: dt.datetime = dt.datetime(2021, 4, 21, 16, 44, 39)
    # the demo's own injected events (scraping bursts, heavy days, dozens-of-IPs accounts, drop-outs,
    # second accounts, strong over-use); other scenarios switch them off and use `events`
    demo_events: bool = True
    # per-student activity: lognormal sigma of the share of the cohort's rows, and its cap
    activity_sigma: float = 0.55
    activity_cap: float = 3.0
    # session length: None = geometric (demo); else lognormal with this sigma (heavier tail), or a
    # negative value = 1 + Poisson (lighter tail than geometric)
    session_sigma: float | None = None
    # networks
    campus_ips: tuple[str, ...] = ("97.105.19.58", "97.105.19.61")
    p_campus: float = 0.97
    campus_alternate: bool = (
        False  # the campus NAT pool of two hands out either address per request
    )
    home_ips_p: tuple[float, float, float] = (0.4, 0.4, 0.2)  # chance of 1, 2, 3 home addresses
    home_reassign_days: int = 0  # the ISP re-assigns home addresses this often (0 = never)
    roam_mean: float = 5.0  # other addresses a person is seen on (cafes, friends)
    roam_p: float = 0.1  # share of sessions on them
    shared_pool: int = 0  # phone-carrier / VPN exit addresses shared by several people (0 = none)
    shared_pool_p: float = 0.0  # share of a person's sessions through one of them
    # cohorts
    users_factor: float = 1.0  # students per cohort x this (rows per cohort x sqrt of it)
    alumni_factor: float = 1.0  # reading in the year after graduation x this (enrolled unchanged)
    p_late_alumni: float = 0.12  # chance a graduate still reads one to three years later
    # curriculum
    merged_modules: dict[str, str] = field(
        default_factory=dict
    )  # DS module -> web module it lives in
    rename_shift_days: int = 0  # data-science renames happen this many days later
    web_renames: dict[str, dt.date] = field(
        default_factory=dict
    )  # web module -> numbered from date
    # staff habits
    staff_rows_factor: float = 1.0
    staff_session_factor: float = 1.0  # longer sessions: staff review many pages at once
    staff_roam: int = 0  # extra addresses per staff member (0 = like students)
    staff_roam_p: float = 0.1
    staff_night_p: float = 0.0  # share of staff sessions in the evening or at night (20:00-02:00)
    # cross-program reading
    cutoff_base: dt.date = dt.date(2019, 5, 29)
    ds_online: dt.date = dt.date(2018, 9, 1)
    p_cross_before: float = 0.025
    p_cross_after: float = 0.003
    p_cross_ds: float = 0.02  # data-science students reading web dev before the cutoff
    # injected irregularities (besides the demo's own when demo_events)
    events: tuple[Event, ...] = ()

    def describe(self) -> str:
        return f"{self.name:<16} {self.description}"


DEMO = Scenario()

SCENARIOS: dict[str, Scenario] = {
    "demo": DEMO,
    "heavy_tail": dataclasses.replace(
        DEMO,
        name="heavy_tail",
        description="heavy-tailed daily page counts, phone and VPN addresses shared by a few people",
        demo_events=False,
        activity_sigma=1.0,
        activity_cap=8.0,
        session_sigma=1.1,
        shared_pool=60,
        shared_pool_p=0.12,
        events=(
            ("scraping", "burst", 1),
            ("scraping", "slow_crawler", 1),
            ("probe", "sweep", 2),
            ("heavy_day", "evening", 2),
            ("account_sharing", "two_people", 1),
            ("shared_ip", "study_group", 1),
            ("stale_account", "daily", 1),
            ("unknown_user", "ghost_id", 1),
            ("cohort_overuse", "spread", 1),
            ("dropout", "stops_early", 3),
        ),
    ),
    "many_networks": dataclasses.replace(
        DEMO,
        name="many_networks",
        description="three campus NAT addresses, people on home, phone, VPN and cafe networks",
        demo_events=False,
        campus_ips=("97.105.19.58", "97.105.19.61", "97.105.19.62"),
        p_campus=0.9,
        home_ips_p=(0.2, 0.4, 0.4),
        roam_mean=12.0,
        roam_p=0.25,
        shared_pool=80,
        shared_pool_p=0.15,
        session_sigma=-1.0,
        events=(
            ("scraping", "slow_crawler", 1),
            ("scraping", "burst", 1),
            ("probe", "slow", 1),
            ("heavy_day", "day", 2),
            ("account_sharing", "many_ips", 1),
            ("shared_ip", "hotspot", 1),
            ("stale_account", "weekly", 1),
            ("unknown_user", "bad_cohort_id", 1),
            ("cohort_overuse", "concentrated", 1),
            ("dropout", "trickle", 2),
            ("low_usage", "light_reader", 1),
        ),
    ),
    "big_cohorts": dataclasses.replace(
        DEMO,
        name="big_cohorts",
        description="cohorts twice as large, staff who review many pages at night from many places",
        demo_events=False,
        users_factor=2.0,
        activity_sigma=0.4,
        staff_rows_factor=1.4,
        staff_session_factor=3.0,
        staff_roam=25,
        staff_roam_p=0.4,
        staff_night_p=0.35,
        events=(
            ("scraping", "burst", 2),
            ("probe", "sweep", 1),
            ("heavy_day", "day", 1),
            ("heavy_day", "evening", 1),
            ("account_sharing", "two_people", 2),
            ("shared_ip", "hotspot", 1),
            ("stale_account", "daily", 1),
            ("unknown_user", "bad_cohort_id", 1),
            ("cohort_overuse", "spread", 1),
            ("dropout", "stops_early", 2),
            ("dropout", "trickle", 1),
        ),
    ),
    "shared_module": dataclasses.replace(
        DEMO,
        name="shared_module",
        description="a module holding lessons of both programs, renamed lessons, later cutoff",
        demo_events=False,
        merged_modules={"python": "appendix", "stats": "mysql"},
        rename_shift_days=60,
        web_renames={"javascript-i": dt.date(2019, 9, 3), "spring": dt.date(2020, 2, 3)},
        cutoff_base=dt.date(2019, 11, 12),
        p_cross_before=0.04,
        p_cross_ds=0.03,
        events=(
            ("scraping", "slow_crawler", 1),
            ("probe", "sweep", 1),
            ("probe", "slow", 1),
            ("heavy_day", "evening", 2),
            ("account_sharing", "two_people", 1),
            ("shared_ip", "study_group", 1),
            ("stale_account", "weekly", 1),
            ("unknown_user", "ghost_id", 1),
            ("cohort_overuse", "concentrated", 1),
            ("dropout", "stops_early", 2),
            ("low_usage", "light_reader", 1),
        ),
    ),
    "late_ds": dataclasses.replace(
        DEMO,
        name="late_ds",
        description="the log starts in 2016: years of web dev alone before data science (2019)",
        demo_events=False,
        data_start=dt.datetime(2016, 2, 1, 8, 12, 40),
        ds_online=dt.date(2019, 2, 4),
        cutoff_base=dt.date(2020, 5, 4),
        p_cross_before=0.03,
        events=(
            ("scraping", "burst", 1),
            ("scraping", "slow_crawler", 1),
            ("probe", "sweep", 1),
            ("heavy_day", "day", 1),
            ("heavy_day", "evening", 1),
            ("account_sharing", "many_ips", 1),
            ("shared_ip", "study_group", 1),
            ("stale_account", "daily", 1),
            ("unknown_user", "ghost_id", 1),
            ("cohort_overuse", "spread", 1),
            ("dropout", "trickle", 2),
        ),
    ),
    "small_cohorts": dataclasses.replace(
        DEMO,
        name="small_cohorts",
        description="small cohorts, light tail, few networks, fewer staff views",
        demo_events=False,
        users_factor=0.6,
        activity_sigma=0.3,
        session_sigma=-1.0,
        home_ips_p=(0.7, 0.25, 0.05),
        roam_mean=2.0,
        roam_p=0.05,
        staff_rows_factor=0.6,
        events=(
            ("scraping", "burst", 1),
            ("scraping", "slow_crawler", 1),
            ("probe", "slow", 1),
            ("probe", "sweep", 1),
            ("heavy_day", "day", 2),
            ("account_sharing", "many_ips", 1),
            ("shared_ip", "hotspot", 1),
            ("stale_account", "weekly", 1),
            ("unknown_user", "bad_cohort_id", 1),
            ("cohort_overuse", "spread", 1),
            ("dropout", "stops_early", 2),
        ),
    ),
    "alumni_heavy": dataclasses.replace(
        DEMO,
        name="alumni_heavy",
        description="graduates read much more and for years; a later cutoff, a larger residue",
        demo_events=False,
        alumni_factor=2.5,
        p_late_alumni=0.35,
        cutoff_base=dt.date(2019, 12, 9),
        p_cross_after=0.006,
        events=(
            ("scraping", "burst", 1),
            ("scraping", "slow_crawler", 1),
            ("probe", "sweep", 1),
            ("heavy_day", "day", 1),
            ("heavy_day", "evening", 1),
            ("account_sharing", "two_people", 1),
            ("shared_ip", "hotspot", 1),
            ("stale_account", "daily", 1),
            ("unknown_user", "ghost_id", 1),
            ("cohort_overuse", "concentrated", 1),
            ("dropout", "trickle", 1),
            ("dropout", "stops_early", 1),
        ),
    ),
    "campus_pool": dataclasses.replace(
        DEMO,
        name="campus_pool",
        description="a campus NAT pool alternating per request, a second campus, home addresses the "
        "ISP re-assigns every four months, phones on a carrier address shared by many",
        demo_events=False,
        campus_ips=("97.105.19.58", "97.105.19.61", "64.71.3.10"),
        campus_alternate=True,
        home_reassign_days=120,
        shared_pool=10,
        shared_pool_p=0.3,
        events=(
            ("scraping", "burst", 1),
            ("probe", "sweep", 1),
            ("probe", "two_days", 1),
            ("heavy_day", "evening", 1),
            ("account_sharing", "two_cities", 1),
            ("shared_ip", "hotspot", 1),
            ("stale_account", "daily", 1),
            ("unknown_user", "ghost_id", 1),
            ("cohort_overuse", "spread", 1),
            ("dropout", "stops_early", 2),
        ),
    ),
    "habitual_heavy": dataclasses.replace(
        DEMO,
        name="habitual_heavy",
        description="habitual heavy readers (a long lognormal tail of daily rates), graduates who "
        "read heavily, light readers cramming",
        demo_events=False,
        activity_sigma=1.1,
        activity_cap=20.0,
        alumni_factor=3.0,
        p_late_alumni=0.3,
        cutoff_base=dt.date(2019, 9, 16),
        events=(
            ("scraping", "jitter_crawler", 1),
            ("probe", "two_days", 1),
            ("heavy_day", "light_cram", 2),
            ("heavy_day", "evening", 1),
            ("account_sharing", "two_people", 1),
            ("shared_ip", "study_group", 1),
            ("stale_account", "weekly", 1),
            ("unknown_user", "bad_cohort_id", 1),
            ("cohort_overuse", "concentrated", 1),
            ("dropout", "trickle", 2),
        ),
    ),
    "web_noise": dataclasses.replace(
        DEMO,
        name="web_noise",
        description="the public web's noise: a round-the-clock crawler, a jittery crawler, scattered "
        "one-off probes, slow probes; people on more networks",
        demo_events=False,
        roam_mean=8.0,
        shared_pool=30,
        shared_pool_p=0.1,
        events=(
            ("scraping", "around_clock", 1),
            ("scraping", "jitter_crawler", 1),
            ("probe", "scattered", 1),
            ("probe", "two_days", 1),
            ("probe", "sweep", 1),
            ("heavy_day", "day", 1),
            ("account_sharing", "two_cities", 1),
            ("shared_ip", "hotspot", 1),
            ("stale_account", "daily", 1),
            ("unknown_user", "ghost_id", 1),
            ("cohort_overuse", "spread", 1),
            ("dropout", "stops_early", 2),
            ("low_usage", "light_reader", 1),
        ),
    ),
}


def get_scenario(name: str) -> Scenario:
    from analysis.errors import ConfigError

    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None


def list_scenarios() -> str:
    return "\n".join(scenario.describe() for scenario in SCENARIOS.values())


KIND_WORDS = {
    "scraping": "automated fetching",
    "probe": "attack probes",
    "account_sharing": "a shared account",
    "shared_ip": "one outside address used by many students",
    "heavy_day": "a heavy day",
    "stale_account": "an alumnus of years ago",
    "unknown_user": "an unknown account",
    "cohort_overuse": "a cohort over-using a lesson",
    "dropout": "drop-outs",
    "low_usage": "a light reader",
}


def methods_markdown() -> str:
    """The scenario list for the Methods page (names, what differs, the shapes injected)."""
    lines = []
    for scenario in SCENARIOS.values():
        shapes = ", ".join(
            f"{KIND_WORDS.get(kind, kind)} ({shape.replace('_', ' ')})"
            for kind, shape, _ in scenario.events
        )
        lines.append(
            f"- **{scenario.name}**: {scenario.description}"
            + (f"; injects {shapes}" if shapes else "")
        )
    return "\n".join(lines)
