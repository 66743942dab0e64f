"""One typed configuration object; the only module that reads environment variables.

Defaults live in the dataclasses below; `curriculum-insights.toml` at the project root (or the file named
by CURRICULUM_CONFIG / --config) overrides them key by key. Unknown keys are an error that names the key,
so a typo in a threshold never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
        "xmlrpc", "cgi-bin", "../", "<script", "etc/passwd",
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
    min_views: int = 30
    alpha: float = 0.01
    min_rate_ratio: float = 3.0
    max_cases_per_program: int = 5


@dataclass(frozen=True)
class Q3Config:
    min_enrolled_days: int = 28
    low_quantile_mad: float = 2.5
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
        0.25  # low user whose later weekly rate <= this x first weeks' rate
    )
    bulk_quantile: float = (
        0.05  # an account's bulk of activity: this to 1-this quantile of view times
    )


@dataclass(frozen=True)
class Q4Config:
    scrape_window_seconds: int = 60
    scrape_min_pages: int = 30
    scrape_min_distinct: int = 20
    heavy_day_min_views: int = 150
    bollinger_window: int = 14
    bollinger_k: float = 3.0
    robust_z: float = 6.0
    shared_ip_min_users: int = 25
    many_ips_min: int = 30
    after_graduation_days: int = 365
    before_start_days: int = 14
    campus_ip_min_share: float = 0.02
    campus_ips: tuple[str, ...] = ()
    max_incidents: int = 200
    scrape_max_cv: float = (
        1.0  # gaps' coefficient of variation at most this (machine-regular timing)
    )
    bollinger_min_days: int = 5  # prior active days needed before a user's own bands are trusted
    new_ip_min_views: int = (
        20  # views on the first day from an IP a long-known user never used before
    )
    new_ip_night_end_hour: int = 6  # "at night" = first view before this hour
    new_ip_max: int = 10  # new_ip is a weak signal: keep only the largest few


@dataclass(frozen=True)
class Q5Config:
    policy_date: dt.date = dt.date(2019, 6, 1)
    lesson_home_min_share: float = 0.8
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
    # Pickled Report + Config written by render before executing the pages (CURRICULUM_REPORT, set by
    # render for the page kernels only); None: pages compute the report themselves.
    report_cache: Path | None = None

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshot"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def reference_dir(self) -> Path:
        return self.data_dir / "reference"


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
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc
    if isinstance(target, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(str(v) for v in value)
    if isinstance(target, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        # Tables extend the defaults key by key (a file naming one program keeps the others).
        sample_key = next(iter(target), None)
        if isinstance(sample_key, int):
            try:
                return {**target, **{int(k): str(v) for k, v in value.items()}}
            except ValueError as exc:
                raise ConfigError(f"{where}: keys must be program ids (numbers)") from exc
        return {**target, **{str(k): str(v) for k, v in value.items()}}
    if isinstance(target, Path):
        return Path(str(value))
    if isinstance(target, str):
        return str(value)
    return value


def _merge(section: Any, overrides: dict[str, Any], where: str) -> Any:
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
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: invalid TOML: {exc}") from exc
        if "programs" in raw:
            raw["programs"] = _programs_from_toml(raw["programs"], f"{config_path}: [programs]")
        lessons = raw.get("lessons", {})
        if isinstance(lessons.get("aliases"), dict):
            lessons["aliases"] = dict(lessons["aliases"])
        config = _merge(config, raw, str(config_path))
        config = dataclasses.replace(config, source_file=config_path)
    paths = config.paths
    if env.get("CURRICULUM_DATA_DIR"):
        paths = dataclasses.replace(paths, data_dir=Path(env["CURRICULUM_DATA_DIR"]))
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
