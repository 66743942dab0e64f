"""One typed configuration object; the only module that reads environment variables.

Defaults live in the dataclasses below; `curriculum-insights.toml` at the project root (or the file named
by CURRICULUM_CONFIG / --config) overrides them key by key. Unknown keys are an error that names the key,
so a typo in a threshold never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "curriculum-insights.toml"


@dataclass(frozen=True)
class ProgramsConfig:
    labels: dict[int, str] = field(
        default_factory=lambda: {
            1: "PHP web dev",
            2: "Java web dev",
            3: "Data science",
            4: "Front end",
        }
    )
    track: dict[int, str] = field(
        default_factory=lambda: {1: "web_dev", 2: "web_dev", 3: "data_science", 4: "web_dev"}
    )


@dataclass(frozen=True)
class PeopleConfig:
    staff_cohort_names: tuple[str, ...] = ("Staff",)
    placeholder_cohort_names: tuple[str, ...] = ("Placeholder for students in transition",)


@dataclass(frozen=True)
class LessonsConfig:
    non_lesson_paths: tuple[str, ...] = ("", "/", "toc", "search/search_index.json", "index.html")
    asset_extensions: tuple[str, ...] = (
        "jpg", "jpeg", "png", "svg", "gif", "ico", "css", "js", "json", "xml", "txt", "map",
        "woff", "woff2", "pdf", "csv", "ipynb", "zip",
    )  # fmt: skip
    probe_patterns: tuple[str, ...] = (
        "wp-login", "wp-admin", "wp-content", ".env", ".git", "phpmyadmin", "admin.php",
        "xmlrpc", "cgi-bin", "../", "<script", "etc/passwd", "server-status", "actuator/",
        "solr/admin", ".aws/", ".bak", "phpunit", ".htaccess", ".ssh/",
    )  # fmt: skip
    strip_numbered_prefixes: bool = True
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TimeConfig:
    min_active_days_for_low_usage: int = 28


@dataclass(frozen=True)
class Q1Config:
    top_k: int = 5
    min_cohorts: int = 3


@dataclass(frozen=True)
class Q2Config:
    min_views: int = 20  # views of a lesson by a cohort (without its heaviest reader) for a case
    min_ratio_low: float = 1.45  # a case: the lower confidence bound of the ratio is at least this
    min_share_ratio_low: float = 1.0  # ... and of the lesson's share of the cohort's reading
    confidence: float = 0.95  # one-sided confidence of that bound
    min_students: int = 3  # cohorts with fewer students reading while enrolled are not compared
    min_window_in_data: float = 0.8  # share of a cohort's enrolled window inside the data
    max_cases_per_program: int = 5


@dataclass(frozen=True)
class Q3Config:
    min_enrolled_days: int = 28
    low_z: float = 3.0  # low: robust z of log1p(views per week) at most -this ...
    low_share_of_median: float = 0.2  # ... and at most this share of the cohort's median
    near_zero_share_of_median: float = 0.05  # at most this share of the median: low whatever z
    trickle_max_share_of_median: float = 0.5  # a fading drop-out reads at most this share overall
    dropout_min_early_share: float = 0.5  # ... after starting with this share of a typical start
    max_views_per_active_day: float = 10
    dropout_days: int = 21
    dropout_cohort_factor: float = (
        3.0  # drop-out only if the cohort ran this many times dropout_days
    )
    min_peers: int = 5  # cohorts with fewer eligible students are compared with their whole program
    same_person_max_ip_users: int = (
        3  # an IP shared by more users (NAT, cafe) is no identity evidence
    )
    dropout_max_rate_ratio: float = (
        0.25  # a fade: later share of active days <= this x the first weeks' share
    )
    bulk_quantile: float = (
        0.05  # an account's bulk of activity: this to 1-this quantile of view times
    )


@dataclass(frozen=True)
class Q4Config:
    # sessions: one user's views on one network, cut where the gap exceeds this
    session_gap_seconds: int = 600
    # automated fetching, fast: this many views within this many seconds (no person reads that fast)
    scrape_window_seconds: int = 60
    scrape_min_pages: int = 30
    scrape_min_distinct: int = 20  # every automated session covers at least this many pages
    # automated fetching, any pace: over at least slow_min_pages views, gaps this even
    # ((90th - 10th percentile) / median at most scrape_max_spread; people read in bursts) ...
    slow_min_pages: int = 60
    scrape_max_spread: float = 1.0
    # ... or this share of steps going to the next page in path order (a sweep), with gaps at most
    # twice as uneven
    sweep_min_share: float = 0.8
    episode_gap_hours: int = 6  # machine sessions this close together form one episode
    probe_episode_days: int = 7  # attack probes from one IP this close together form one episode
    # an IP's probe episode is high tier when it sweeps (this many requests) or persists (probes on
    # this many days); the others are one-off probes (routine scanning), one grouped medium incident
    probe_sweep_requests: int = 10
    probe_persist_days: int = 2
    # automated fetching around the clock: an account's views with no gap over sleep_gap_hours for
    # at least around_clock_hours, with views in at least around_clock_hour_share of those hours
    sleep_gap_hours: float = 2.0
    around_clock_hours: float = 36.0
    around_clock_hour_share: float = 0.75
    # heavy day: at least the population's heavy_pop_quantile of daily views (staff against staff) and
    # heavy_day_min_views, and heavy_own_z robust deviations above the person's own usual day (log
    # scale; one deviation is at least a factor heavy_own_floor); with fewer than heavy_min_days
    # active days only the population bar applies
    heavy_day_min_views: int = 100
    heavy_pop_quantile: float = 0.995
    heavy_own_z: float = 2.5
    heavy_own_times: float = 15.0  # ... or at least this many times the person's usual day
    heavy_own_floor: float = 2.0
    heavy_min_days: int = 5
    # one person's heavy days of one phase (enrolled, alumni, staff) this close together are one
    # episode; heavy on more than heavy_habit_share of their days in a phase is their normal: no incident
    heavy_episode_days: int = 28
    heavy_habit_share: float = 0.1
    heavy_medium_max: int = (
        15  # the most abnormal heavy-day episodes in the medium tier; others low
    )
    # shared account: within windows of share_window_days, two IPs in one share_slot_minutes slot
    # (one used by the account on share_min_days days within two windows and half its time only) on
    # share_min_days days; or, within windows twice as long, more outside networks than
    # share_networks_factor x the peers' share_networks_quantile (and at least share_min_networks)
    share_window_days: int = 28
    share_slot_minutes: int = 10
    share_min_days: int = 4
    share_networks_quantile: float = 0.99
    share_networks_factor: float = 2.0
    share_min_networks: int = 8
    share_network_ratio: float = 0.75  # ... or a new network for this share of its sessions
    # shared outside network: this many people on one non-campus IP within shared_ip_window_days;
    # high when that window holds at least shared_ip_spike_share of the IP's people, else medium
    shared_ip_window_days: int = 14
    shared_ip_window_users: int = 8
    shared_ip_spike_share: float = 0.5
    # old account in use: cohort ended over stale_years before the log begins, and the account reads
    # on stale_min_days days, or stale_min_views pages, within one share_window_days window
    stale_years: float = 1.0
    stale_min_days: int = 12
    stale_min_views: int = 150
    # unknown account: medium (not low) when it names a missing cohort, is on two IPs at the same time
    # (one share_slot_minutes slot) on share_min_days days, or its busiest week is above this quantile
    # of every account's busiest week
    unknown_week_quantile: float = 0.99
    # campus NAT: configured campus_ips; an IP with campus_ip_min_share of all views from
    # shared_ip_min_users people; or one used by campus_weekly_users people in campus_min_weeks weeks
    campus_ip_min_share: float = 0.02
    shared_ip_min_users: int = 25
    campus_weekly_users: int = 10
    campus_min_weeks: int = 8
    campus_ips: tuple[str, ...] = ()


@dataclass(frozen=True)
class Q5Config:
    policy_date: dt.date = dt.date(2019, 6, 1)
    lesson_home_min_share: float = (
        0.8  # a lesson's home track holds this share of the reading rates
    )
    lesson_home_min_views: int = 20  # fewer enrolled views: the lesson takes its module's home
    lesson_home_overrides: dict[str, str] = field(default_factory=dict)
    min_drop: float = 0.5  # a change point is a shut-off only if the rate falls by this share
    min_log_likelihood_ratio: float = 10.0  # ...and beats "no change" by this log-likelihood
    min_segment_days: int = 14  # days with views needed on each side of a change point
    bootstrap_reps: int = 200  # resamples of days for the change point's interval
    interval: float = 0.9  # coverage of that interval
    seed: int = 2019  # numpy seed of the bootstrap (same data, same interval)


@dataclass(frozen=True)
class Q6Config:
    top_n: int = 10
    min_days_after_end: int = 1
    min_alumni: int = 5  # programs with fewer returning graduates are not charted or named


@dataclass(frozen=True)
class Q7Config:
    min_views: int = 5
    bottom_n: int = 10


@dataclass(frozen=True)
class Q8Config:
    top_n: int = 5
    campus_share_floor: float = 0.05  # campus -> remote: first month staying below this share
    stub_program_max_share: float = 0.001  # at most this share of student views: a stub program
    burst_min_share: float = 0.2  # no-cohort bursts: months with this share of the peak month


@dataclass(frozen=True)
class AcquireConfig:
    connect_timeout_seconds: float = 10.0  # give up connecting to MySQL after this long
    read_timeout_seconds: float = 300.0  # a server silent this long mid-query is treated as gone


@dataclass(frozen=True)
class SiteConfig:
    # Public URL of the published site (the email links to it; CURRICULUM_SITE_URL overrides). Empty:
    # the build notes it and the email says the report is in the site folder. Placeholder domains
    # (example.org, .test, .invalid, ...) count as empty.
    base_url: str = ""
    title: str = "Curriculum insights"
    # Headers of the ready-to-send email (_build/email.eml), e.g. "Name <name@school.edu>"; empty: the
    # .eml has no such header and the build says so.
    email_from: str = ""
    email_to: str = ""


@dataclass(frozen=True)
class PrivacyConfig:
    mode: str = "public"  # "public" masks IPs in everything published; "internal" shows them


@dataclass(frozen=True)
class PathsConfig:
    data_dir: Path = PROJECT_ROOT / "data"
    site_dir: Path = PROJECT_ROOT / "_site"
    build_dir: Path = PROJECT_ROOT / "_build"
    # The embedded demo and the real reference tables ship with the project: --data-dir moves the
    # snapshot, not them.
    demo_dir: Path = PROJECT_ROOT / "data" / "demo"
    reference_dir: Path = PROJECT_ROOT / "data" / "reference"
    # Pickled Report + Config written by render before executing the pages (CURRICULUM_REPORT, set by
    # render for the page kernels only); None: pages compute the report themselves.
    report_cache: Path | None = None

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
    site: SiteConfig = field(default_factory=SiteConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    db_url: str | None = None
    source_file: Path | None = None

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def program_label(self, program_id: int | None) -> str:
        if program_id is None:
            return "No cohort"
        return self.programs.labels.get(program_id, f"Program {program_id}")


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
# Every number must be finite and >= 0 (DEFAULT_RANGE); these settings are stricter. Keys are
# "section.field"; a test checks each names an existing setting. One line per setting merges easily.
RANGES: dict[str, Range] = {
    "time.min_active_days_for_low_usage": AT_LEAST_ONE,
    "q1.top_k": AT_LEAST_ONE,
    "q1.min_cohorts": AT_LEAST_ONE,
    "q2.min_views": AT_LEAST_ONE,
    "q2.min_ratio_low": POSITIVE,
    "q2.min_share_ratio_low": POSITIVE,
    "q2.confidence": PROBABILITY,
    "q2.min_students": AT_LEAST_ONE,
    "q2.min_window_in_data": SHARE,
    "q2.max_cases_per_program": AT_LEAST_ONE,
    "q3.min_enrolled_days": AT_LEAST_ONE,
    "q3.low_z": POSITIVE,
    "q3.low_share_of_median": Range(0, 1, open_low=True),
    "q3.near_zero_share_of_median": SHARE,
    "q3.trickle_max_share_of_median": Range(0, 1, open_low=True),
    "q3.dropout_min_early_share": SHARE,
    "q3.max_views_per_active_day": POSITIVE,
    "q3.dropout_days": AT_LEAST_ONE,
    "q3.dropout_cohort_factor": POSITIVE,
    "q3.min_peers": AT_LEAST_ONE,
    "q3.same_person_max_ip_users": AT_LEAST_ONE,
    "q3.dropout_max_rate_ratio": Range(0, 1, open_low=True),
    "q3.bulk_quantile": Range(0, 0.5, open_high=True),
    "q4.session_gap_seconds": AT_LEAST_ONE,
    "q4.scrape_window_seconds": AT_LEAST_ONE,
    "q4.scrape_min_pages": Range(2),
    "q4.scrape_min_distinct": AT_LEAST_ONE,
    "q4.slow_min_pages": Range(3),
    "q4.scrape_max_spread": POSITIVE,
    "q4.sweep_min_share": SHARE,
    "q4.episode_gap_hours": POSITIVE,
    "q4.probe_episode_days": POSITIVE,
    "q4.probe_sweep_requests": Range(2),
    "q4.probe_persist_days": Range(2),
    "q4.sleep_gap_hours": POSITIVE,
    "q4.around_clock_hours": POSITIVE,
    "q4.around_clock_hour_share": SHARE,
    "q4.heavy_day_min_views": AT_LEAST_ONE,
    "q4.heavy_pop_quantile": SHARE,
    "q4.heavy_own_z": POSITIVE,
    "q4.heavy_own_times": Range(1, open_low=True),
    "q4.heavy_own_floor": Range(1, open_low=True),
    "q4.heavy_min_days": AT_LEAST_ONE,
    "q4.heavy_episode_days": AT_LEAST_ONE,
    "q4.heavy_habit_share": SHARE,
    "q4.heavy_medium_max": AT_LEAST_ONE,
    "q4.share_window_days": AT_LEAST_ONE,
    "q4.share_slot_minutes": AT_LEAST_ONE,
    "q4.share_min_days": AT_LEAST_ONE,
    "q4.share_networks_quantile": SHARE,
    "q4.share_networks_factor": POSITIVE,
    "q4.share_min_networks": Range(2),
    "q4.share_network_ratio": Range(0, 1, open_low=True),
    "q4.shared_ip_window_days": AT_LEAST_ONE,
    "q4.shared_ip_window_users": Range(2),
    "q4.shared_ip_spike_share": SHARE,
    "q4.stale_years": POSITIVE,
    "q4.stale_min_days": AT_LEAST_ONE,
    "q4.stale_min_views": AT_LEAST_ONE,
    "q4.unknown_week_quantile": SHARE,
    "q4.campus_ip_min_share": SHARE,
    "q4.shared_ip_min_users": Range(2),
    "q4.campus_weekly_users": Range(2),
    "q4.campus_min_weeks": AT_LEAST_ONE,
    "q5.lesson_home_min_share": Range(0, 1, open_low=True),
    "q5.lesson_home_min_views": AT_LEAST_ONE,
    "q5.min_drop": Range(0, 1, open_low=True),
    "q5.min_segment_days": AT_LEAST_ONE,
    "q5.bootstrap_reps": AT_LEAST_ONE,
    "q5.interval": PROBABILITY,
    "q6.top_n": AT_LEAST_ONE,
    "q7.bottom_n": AT_LEAST_ONE,
    "q8.top_n": AT_LEAST_ONE,
    "q8.campus_share_floor": SHARE,
    "q8.stub_program_max_share": SHARE,
    "q8.burst_min_share": SHARE,
    "acquire.connect_timeout_seconds": POSITIVE,
    "acquire.read_timeout_seconds": POSITIVE,
}
DEFAULT_RANGE = Range(0)


def validate(config: Config, where: str = "configuration") -> None:
    """Every numeric setting finite and in range (RANGES, else >= 0); the first fault is named."""
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for item in dataclasses.fields(value):
            number = getattr(value, item.name)
            if isinstance(number, bool) or not isinstance(number, int | float):
                continue
            key = f"{section.name}.{item.name}"
            allowed = RANGES.get(key, DEFAULT_RANGE)
            if not math.isfinite(number) or not allowed.admits(number):
                raise ConfigError(f"{where}: {key} must be {allowed.describe()}, got {number!r}")


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
