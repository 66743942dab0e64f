"""Question 4: suspicious activity — users or machines that shouldn't have access, scraping, odd IPs.

Eight detectors, each one lazy query over the same thin frame of views (collected once):

- scraping: per user and IP, views are split into bursts wherever the gap exceeds
  `q4.scrape_window_seconds`; a burst is scraping when its busiest `scrape_window_seconds` window holds at
  least `scrape_min_pages` views, it touches at least `scrape_min_distinct` distinct paths and its timing
  is machine-regular (coefficient of variation of the gaps <= `scrape_max_cv`, waived at twice the page
  rate). Campus IPs are shared by whole classrooms, so they are never reported as the scraping IP.
- heavy_day: a user's daily views above the upper Bollinger band of their own previous
  `bollinger_window` active days (%b > 1, k = `bollinger_k`) and, against the population (staff against
  staff), a robust z of log views >= `robust_z` or at least `heavy_day_min_views` views. Days already
  explained by a scraping burst are reported once, as scraping.
- shared_ip: non-campus IPs used by >= `shared_ip_min_users` users.
- many_ips: users seen on >= `many_ips_min` distinct IPs.
- new_ip (weak, at most `new_ip_max`): a long-known user's first day on a never-seen IP, starting at
  night, with >= `new_ip_min_views` views.
- out_of_enrollment: students reading > `after_graduation_days` after their cohort ended or
  > `before_start_days` before it started (one incident per user and cohort).
- unknown_identity: users never seen with a known cohort (no cohort id or an id absent from the cohorts
  table); staff are never unknown.
- probing: requests for attack paths (wp-login, .env ...), per IP.

Every incident has a `score` in its kind's own unit and a `severity` in [0, 1]: the kind's weight times
how far the score exceeds the kind's threshold (log scale), which ranks incidents across kinds.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analysis.config import Config
from analysis.prepare import Prepared, campus_ips, prepare
from analysis.results import QuestionResult
from analysis.schema import INCIDENT_KINDS
from analysis.sources.snapshot import Snapshot

TITLE = "Suspicious activity: users or machines that should not have access, web scraping, suspicious IPs?"

INCIDENT_SCHEMA: dict[str, pl.DataType] = {
    "rank": pl.Int64(),
    "kind": pl.String(),
    "user_id": pl.Int64(),
    "ip": pl.String(),
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
    "views": pl.Int64(),
    "score": pl.Float64(),
    "severity": pl.Float64(),
    "evidence": pl.String(),
}

# How much each kind weighs when incidents of different kinds are ranked together.
KIND_WEIGHTS: dict[str, float] = {
    "scraping": 1.0,
    "heavy_day": 0.8,
    "many_ips": 0.8,
    "unknown_identity": 0.6,
    "out_of_enrollment": 0.6,
    "shared_ip": 0.5,
    "probing": 0.4,
    "new_ip": 0.2,
}

# kind -> (singular, plural) noun phrases for generated sentences and chart axes
KIND_NOUNS: dict[str, tuple[str, str]] = {
    "scraping": ("scraping burst", "scraping bursts"),
    "heavy_day": ("abnormally heavy day", "abnormally heavy days"),
    "shared_ip": ("IP shared by many users", "IPs shared by many users"),
    "many_ips": ("user on many IPs", "users on many IPs"),
    "new_ip": ("night burst from a new IP", "night bursts from a new IP"),
    "out_of_enrollment": (
        "student reading outside their enrollment",
        "students reading outside their enrollment",
    ),
    "unknown_identity": ("user with no known cohort", "users with no known cohort"),
    "probing": ("IP probing for attack paths", "IPs probing for attack paths"),
}
KIND_LABELS: dict[str, str] = {kind: nouns[1] for kind, nouns in KIND_NOUNS.items()}

SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts), so these incidents are "
    "injected test cases, not real people."
)


@dataclass(frozen=True)
class Q4Result(QuestionResult):
    incidents: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=INCIDENT_SCHEMA))
    summary: pl.DataFrame = field(
        default_factory=pl.DataFrame
    )  # kind, incidents, users, ips, views
    campus_ips: list[str] = field(default_factory=list)
    total_incidents: int = 0  # before truncation to max_incidents
    scrape_timeline: pl.DataFrame = field(
        default_factory=pl.DataFrame
    )  # top burst, views per second
    heavy_day_series: pl.DataFrame = field(
        default_factory=pl.DataFrame
    )  # top heavy user, with bands

    def tables(self) -> dict[str, pl.DataFrame]:
        out: dict[str, pl.DataFrame] = {}
        if self.summary.height:
            out["Incidents by kind"] = self.summary.select(
                pl.col("kind").alias("Kind"),
                pl.col("incidents").alias("Incidents"),
                pl.col("users").alias("Users"),
                pl.col("views").alias("Views"),
            )
        if self.incidents.height:
            out["Most severe incidents"] = self.incidents.head(15).select(
                pl.col("rank").alias("Rank"),
                pl.col("kind").alias("Kind"),
                pl.col("user_id").alias("User"),
                pl.col("ip").alias("IP"),
                pl.col("start").dt.strftime("%Y-%m-%d %H:%M").alias("From"),
                pl.col("views").alias("Views"),
                pl.col("evidence").alias("Evidence"),
            )
        return out

    def headline(self) -> str:
        """Counts per kind without the evidence sentence (slide, index)."""
        if self.total_incidents == 0 or self.summary.height == 0:
            return self.answer
        parts = [
            _plural(row["incidents"], *KIND_NOUNS[row["kind"]])
            for row in self.summary.iter_rows(named=True)
            if row["incidents"] and row["kind"] in KIND_NOUNS
        ]
        return f"{_plural(self.total_incidents, 'suspicious incident')}: {', '.join(parts)}."


# --- formatting helpers (vectorised) -------------------------------------------------------------------


def _num(expr: pl.Expr, decimals: int = 1) -> pl.Expr:
    """A float as text with a fixed number of decimals."""
    return expr.cast(pl.Float64).round(decimals).cast(pl.String)


def _ts(expr: pl.Expr, fmt: str = "%Y-%m-%d %H:%M") -> pl.Expr:
    return expr.dt.strftime(fmt)


def _severity(kind: str, score: pl.Expr, threshold: float, span: float = 10.0) -> pl.Expr:
    """weight * (0.5 .. 1): 0.5 at the threshold, 1 at `span` times the threshold and beyond."""
    ratio = (score / max(threshold, 1e-9)).clip(lower_bound=1.0)
    grade = (ratio.log(10) / math.log10(span)).clip(upper_bound=1.0)
    return (KIND_WEIGHTS[kind] * (0.5 + 0.5 * grade)).alias("severity")


def _finish(frame: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    """Conform one detector's output to the incident columns."""
    return frame.select(
        pl.lit(0, dtype=pl.Int64).alias("rank"),
        pl.lit(kind).alias("kind"),
        pl.col("user_id").cast(pl.Int64).alias("user_id"),
        pl.col("ip").cast(pl.String).alias("ip"),
        pl.col("start").cast(pl.Datetime("us")).alias("start"),
        pl.col("end").cast(pl.Datetime("us")).alias("end"),
        pl.col("views").cast(pl.Int64).alias("views"),
        pl.col("score").cast(pl.Float64).alias("score"),
        pl.col("severity").cast(pl.Float64).alias("severity"),
        pl.col("evidence").cast(pl.String).alias("evidence"),
    )


# --- detectors -----------------------------------------------------------------------------------------


def scraping_bursts(base: pl.LazyFrame, config: Config, campus: list[str]) -> pl.LazyFrame:
    """Per user+IP bursts (split by gaps > window) with their peak rate, distinct pages and regularity."""
    q4 = config.q4
    window = q4.scrape_window_seconds
    k = q4.scrape_min_pages
    # Cheap prefilter: k views within `window` seconds put at least k/2 of them into one aligned
    # `window`-second bucket, so only user+IP pairs with such a bucket need the per-row analysis.
    known = base.filter(pl.col("user_id").is_not_null()).select(
        "user_id", "ip", "timestamp", "path"
    )
    candidates = (
        known.group_by(
            "user_id", "ip", (pl.col("timestamp").dt.epoch("s") // window).alias("bucket")
        )
        .agg(pl.len().alias("n"))
        .filter(pl.col("n") >= math.ceil(k / 2))
        .select("user_id", "ip")
        .unique()
    )
    rows = (
        known.join(candidates, on=["user_id", "ip"], how="semi", nulls_equal=True)
        .sort("user_id", "ip", "timestamp")
        .with_columns(
            (pl.col("timestamp").diff().dt.total_milliseconds() / 1000.0)
            .over("user_id", "ip")
            .alias("gap")
        )
        .with_columns(
            (pl.col("gap").is_null() | (pl.col("gap") > window))
            .cast(pl.Int64)
            .cum_sum()
            .over("user_id", "ip")
            .alias("burst")
        )
        # Within a burst the first gap (from the previous burst) is not part of its rhythm.
        .with_columns(
            pl.when(pl.col("gap") > window).then(None).otherwise(pl.col("gap")).alias("gap")
        )
    )
    # Span of each run of k consecutive views: the burst's fastest run shows its peak pace.
    bursts = (
        rows.with_columns(
            (
                pl.col("timestamp").shift(-(k - 1)).over("user_id", "ip", "burst")
                - pl.col("timestamp")
            )
            .dt.total_milliseconds()
            .alias("span_k_ms"),
        )
        .group_by("user_id", "ip", "burst")
        .agg(
            pl.len().alias("views"),
            pl.col("path").n_unique().alias("distinct"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.col("gap").mean().alias("gap_mean"),
            pl.col("gap").std().alias("gap_std"),
            pl.col("span_k_ms").min().alias("fastest_k_ms"),
        )
        .filter(
            (pl.col("views") >= k)
            & (pl.col("distinct") >= q4.scrape_min_distinct)
            & (pl.col("fastest_k_ms") <= window * 1000)
        )
    )
    return bursts.with_columns(
        pl.when(pl.col("gap_mean") > 0)
        .then(pl.col("gap_std").fill_null(0.0) / pl.col("gap_mean"))
        .otherwise(0.0)
        .alias("gap_cv"),
        # Peak rate: views per window if the fastest run of k views kept its pace.
        (k * window * 1000 / pl.col("fastest_k_ms").clip(lower_bound=1000)).alias("peak_rate"),
        ((pl.col("end") - pl.col("start")).dt.total_milliseconds() / 1000.0).alias("seconds"),
        pl.col("ip").is_in(campus).alias("campus"),
    ).filter((pl.col("gap_cv") <= q4.scrape_max_cv) | (pl.col("peak_rate") >= 2 * k))


def _scraping(bursts: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    q4 = config.q4
    window_text = f"{q4.scrape_window_seconds} s"
    return _finish(
        bursts.with_columns(
            pl.col("peak_rate").round(1).alias("score"),
            pl.when(pl.col("campus"))
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(pl.col("ip"))
            .alias("ip"),
            pl.format(
                "user {} fetched {} pages ({} distinct) in {} minutes from {} at {}, one every {} s "
                "(gap variation {}), peak pace {} pages per {}",
                pl.col("user_id"),
                pl.col("views"),
                pl.col("distinct"),
                _num(pl.col("seconds") / 60.0),
                pl.when(pl.col("campus")).then(pl.lit("a campus IP")).otherwise(pl.col("ip")),
                _ts(pl.col("start"), "%Y-%m-%d %H:%M"),
                _num(pl.col("gap_mean")),
                _num(pl.col("gap_cv"), 2),
                pl.col("peak_rate").round(0).cast(pl.Int64),
                pl.lit(window_text),
            ).alias("evidence"),
        ).with_columns(_severity("scraping", pl.col("score"), q4.scrape_min_pages)),
        "scraping",
    )


def daily_views(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """Per user and day: views, the population robust z (staff against staff) and, for users with a
    candidate day, their own Bollinger bands, %b and the `heavy` flag."""
    q4 = config.q4
    w = q4.bollinger_window
    history = pl.col("views").shift(1)
    counts = (
        base.filter(pl.col("user_id").is_not_null())
        .group_by("user_id", "date")
        .agg(
            pl.len().alias("views"),
            (pl.col("role") == "staff").any().alias("staff"),
        )
        .with_columns(pl.col("views").cast(pl.Float64).log1p().alias("log_views"))
        .with_columns(pl.col("log_views").median().over("staff").alias("pop_median"))
        .with_columns(
            (pl.col("log_views") - pl.col("pop_median"))
            .abs()
            .median()
            .over("staff")
            .alias("pop_mad"),
        )
        .with_columns(
            # MAD floor: one robust sd is at least a doubling, so a quiet population with near-equal
            # days does not turn every busy day into an "outlier".
            (
                (pl.col("log_views") - pl.col("pop_median"))
                / (1.4826 * pl.col("pop_mad")).clip(lower_bound=math.log(2))
            ).alias("robust_z"),
        )
        .with_columns(
            (
                (pl.col("robust_z") >= q4.robust_z) | (pl.col("views") >= q4.heavy_day_min_views)
            ).alias("population_outlier")
        )
    )
    # Only users with a population outlier day can have a heavy day: bands for them alone.
    return (
        counts.filter(pl.col("population_outlier").any().over("user_id"))
        .sort("user_id", "date")
        .with_columns(
            history.rolling_mean(w, min_samples=q4.bollinger_min_days)
            .over("user_id")
            .alias("mean"),
            history.rolling_std(w, min_samples=q4.bollinger_min_days).over("user_id").alias("std"),
        )
        .with_columns(
            # Floor the spread: a user with a flat history would otherwise make any change "abnormal".
            pl.max_horizontal(pl.col("std"), pl.col("mean").sqrt(), pl.lit(1.0)).alias("sd"),
        )
        .with_columns(
            (pl.col("mean") + q4.bollinger_k * pl.col("sd")).alias("upper"),
            (pl.col("mean") - q4.bollinger_k * pl.col("sd")).alias("lower"),
        )
        .with_columns(
            ((pl.col("views") - pl.col("lower")) / (pl.col("upper") - pl.col("lower"))).alias(
                "pct_b"
            ),
        )
        .with_columns(
            (
                ((pl.col("pct_b") > 1) | pl.col("pct_b").is_null()) & pl.col("population_outlier")
            ).alias("heavy")
        )
    )


def _day_details(base: pl.LazyFrame, days: pl.LazyFrame) -> pl.LazyFrame:
    """First/last view and IPs of the given user-days (only for the few flagged days)."""
    return (
        base.join(days.select("user_id", "date"), on=["user_id", "date"], how="semi")
        .group_by("user_id", "date")
        .agg(
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.col("ip").n_unique().alias("ips"),
            pl.col("ip").first().alias("ip"),
        )
    )


def _heavy_day(
    base: pl.LazyFrame, daily: pl.LazyFrame, bursts: pl.LazyFrame, config: Config
) -> pl.LazyFrame:
    q4 = config.q4
    scraped_days = bursts.select(
        pl.col("user_id"), pl.col("start").dt.date().alias("date")
    ).unique()
    group = pl.when(pl.col("staff")).then(pl.lit("staff")).otherwise(pl.lit("all users"))
    flagged = daily.filter(pl.col("heavy")).join(scraped_days, on=["user_id", "date"], how="anti")
    return _finish(
        flagged.join(_day_details(base, flagged), on=["user_id", "date"], how="left")
        .with_columns(
            pl.col("views").cast(pl.Float64).alias("score"),
            pl.when(pl.col("ips") == 1).then(pl.col("ip")).otherwise(None).alias("ip"),
            pl.format(
                "user {} viewed {} pages on {} from {} IP(s), {} their usual {} a day "
                "(upper band {}, %b {}); robust z {} against {}",
                pl.col("user_id"),
                pl.col("views"),
                _ts(pl.col("start"), "%Y-%m-%d"),
                pl.col("ips"),
                pl.when(pl.col("mean").is_null())
                .then(pl.lit("no history for"))
                .otherwise(pl.lit("against")),
                _num(pl.col("mean")).fill_null("-"),
                _num(pl.col("upper")).fill_null("-"),
                _num(pl.col("pct_b"), 2).fill_null("-"),
                _num(pl.col("robust_z")),
                group,
            ).alias("evidence"),
        )
        .with_columns(_severity("heavy_day", pl.col("score"), q4.heavy_day_min_views)),
        "heavy_day",
    )


def _shared_ip(base: pl.LazyFrame, config: Config, campus: list[str]) -> pl.LazyFrame:
    q4 = config.q4
    return _finish(
        base.filter(pl.col("ip").is_not_null() & ~pl.col("ip").is_in(campus))
        .group_by("ip")
        .agg(
            pl.col("user_id").n_unique().alias("users"),
            pl.len().alias("views"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.col("cohort_id").drop_nulls().n_unique().alias("cohorts"),
        )
        .filter(pl.col("users") >= q4.shared_ip_min_users)
        .with_columns(
            pl.lit(None, dtype=pl.Int64).alias("user_id"),
            pl.col("users").cast(pl.Float64).alias("score"),
            pl.format(
                "IP {} was used by {} users from {} cohorts ({} views) between {} and {}; "
                "it is not a campus IP",
                pl.col("ip"),
                pl.col("users"),
                pl.col("cohorts"),
                pl.col("views"),
                _ts(pl.col("start"), "%Y-%m-%d"),
                _ts(pl.col("end"), "%Y-%m-%d"),
            ).alias("evidence"),
        )
        .with_columns(_severity("shared_ip", pl.col("score"), q4.shared_ip_min_users)),
        "shared_ip",
    )


def _many_ips(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    q4 = config.q4
    users = (
        base.filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg(
            pl.col("ip").n_unique().alias("ips"),
            pl.len().alias("views"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
        )
        .filter(pl.col("ips") >= q4.many_ips_min)
    )
    per_day = (
        base.join(users.select("user_id"), on="user_id", how="semi")
        .group_by("user_id", "date")
        .agg(pl.col("ip").n_unique().alias("day_ips"))
        .group_by("user_id")
        .agg(pl.col("day_ips").max().alias("max_day_ips"))
    )
    return _finish(
        users.join(per_day, on="user_id", how="left")
        .with_columns(
            pl.lit(None, dtype=pl.String).alias("ip"),
            pl.col("ips").cast(pl.Float64).alias("score"),
            pl.format(
                "user {} used {} distinct IPs ({} views) between {} and {}, up to {} IPs on one day",
                pl.col("user_id"),
                pl.col("ips"),
                pl.col("views"),
                _ts(pl.col("start"), "%Y-%m-%d"),
                _ts(pl.col("end"), "%Y-%m-%d"),
                pl.col("max_day_ips"),
            ).alias("evidence"),
        )
        .with_columns(_severity("many_ips", pl.col("score"), q4.many_ips_min)),
        "many_ips",
    )


def _new_ip(
    base: pl.LazyFrame, bursts: pl.LazyFrame, config: Config, campus: list[str]
) -> pl.LazyFrame:
    """Night-time first days on a new IP; days already reported as scraping are left out."""
    q4 = config.q4
    scraped_days = bursts.select(
        pl.col("user_id"), pl.col("start").dt.date().alias("date")
    ).unique()
    known = base.filter(pl.col("user_id").is_not_null())
    user_first = known.group_by("user_id").agg(pl.col("date").min().alias("user_first"))
    # First the (user, IP) pairs whose very first view came at night (few), then their first day.
    night_pairs = (
        known.filter(pl.col("ip").is_not_null() & ~pl.col("ip").is_in(campus))
        .group_by("user_id", "ip")
        .agg(pl.col("timestamp").min().alias("start"))
        .filter(pl.col("start").dt.hour() < q4.new_ip_night_end_hour)
        .with_columns(pl.col("start").dt.date().alias("date"))
    )
    first_day = (
        known.join(night_pairs, on=["user_id", "ip", "date"], how="inner")
        .group_by("user_id", "ip", "date")
        .agg(
            pl.len().alias("views"),
            pl.col("start").first().alias("start"),
            pl.col("timestamp").max().alias("end"),
        )
        .filter(pl.col("views") >= q4.new_ip_min_views)
        .join(user_first, on="user_id", how="inner")
        .join(scraped_days, on=["user_id", "date"], how="anti")
        .filter(
            ((pl.col("date") - pl.col("user_first")).dt.total_days() >= 30)
            & (pl.col("start").dt.hour() < q4.new_ip_night_end_hour)
            & (pl.col("views") >= q4.new_ip_min_views)
        )
        .sort("views", "user_id", "ip", descending=[True, False, False])
        .head(q4.new_ip_max)
    )
    return _finish(
        first_day.with_columns(
            pl.col("views").cast(pl.Float64).alias("score"),
            pl.format(
                "user {} (known since {}) appeared on never-seen IP {} at {} with {} views that day",
                pl.col("user_id"),
                _ts(pl.col("user_first").cast(pl.Datetime("us")), "%Y-%m-%d"),
                pl.col("ip"),
                _ts(pl.col("start")),
                pl.col("views"),
            ).alias("evidence"),
        ).with_columns(_severity("new_ip", pl.col("score"), q4.new_ip_min_views)),
        "new_ip",
    )


def _out_of_enrollment(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    q4 = config.q4
    after = pl.col("days_after_end") > q4.after_graduation_days
    before = pl.col("days_before_start") > q4.before_start_days
    return _finish(
        base.filter(
            (pl.col("role") == "student") & (after.fill_null(False) | before.fill_null(False))
        )
        .group_by("user_id", "cohort_id")
        .agg(
            pl.len().alias("views"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.col("cohort_name").first().alias("cohort_name"),
            after.sum().alias("after_views"),
            before.sum().alias("before_views"),
            pl.col("days_after_end").max().alias("max_after"),
            pl.col("days_before_start").max().alias("max_before"),
            pl.col("ip").first().alias("ip"),
            pl.col("ip").n_unique().alias("ips"),
        )
        .with_columns(
            pl.when(pl.col("ips") == 1).then(pl.col("ip")).otherwise(None).alias("ip"),
            pl.col("views").cast(pl.Float64).alias("score"),
            pl.format(
                "student {} of cohort {} ({}) viewed {} pages between {} and {}: {}",
                pl.col("user_id"),
                pl.col("cohort_name"),
                pl.col("cohort_id"),
                pl.col("views"),
                _ts(pl.col("start"), "%Y-%m-%d"),
                _ts(pl.col("end"), "%Y-%m-%d"),
                pl.concat_str(
                    pl.when(pl.col("after_views") > 0).then(
                        pl.format(
                            "{} up to {} days after the cohort ended",
                            pl.col("after_views"),
                            pl.col("max_after"),
                        )
                    ),
                    pl.when(pl.col("before_views") > 0).then(
                        pl.format(
                            "{} up to {} days before it started",
                            pl.col("before_views"),
                            pl.col("max_before"),
                        )
                    ),
                    separator="; ",
                    ignore_nulls=True,
                ),
            ).alias("evidence"),
        )
        .with_columns(_severity("out_of_enrollment", pl.col("score"), 1.0, span=100.0)),
        "out_of_enrollment",
    )


def _unknown_identity(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    unidentified = pl.col("role").is_in(["no_cohort", "unknown_cohort"])
    return _finish(
        base.filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg(
            (pl.col("role") == "staff").any().alias("is_staff"),
            pl.col("role").is_in(["student", "placeholder"]).any().alias("known"),
            (pl.col("role") == "unknown_cohort").sum().alias("unknown_views"),
            unidentified.sum().alias("views"),
            pl.col("timestamp").filter(unidentified).min().alias("start"),
            pl.col("timestamp").filter(unidentified).max().alias("end"),
            pl.col("date").filter(unidentified).n_unique().alias("days"),
            pl.col("ip").filter(unidentified).n_unique().alias("ips"),
            pl.col("ip").filter(unidentified).first().alias("ip"),
            pl.col("cohort_id").filter(pl.col("role") == "unknown_cohort").first().alias("bad_id"),
        )
        .filter(
            ~pl.col("is_staff")
            & (pl.col("views") > 0)
            & (~pl.col("known") | (pl.col("unknown_views") > 0))
        )
        .with_columns(
            pl.when(pl.col("ips") == 1).then(pl.col("ip")).otherwise(None).alias("ip"),
            pl.col("views").cast(pl.Float64).alias("score"),
            pl.format(
                "user {} {}: {} views on {} days from {} IPs between {} and {}",
                pl.col("user_id"),
                pl.when(pl.col("unknown_views") > 0)
                .then(
                    pl.format("names cohort id {}, absent from the cohorts table", pl.col("bad_id"))
                )
                .otherwise(pl.lit("has no cohort and is not staff")),
                pl.col("views"),
                pl.col("days"),
                pl.col("ips"),
                _ts(pl.col("start"), "%Y-%m-%d"),
                _ts(pl.col("end"), "%Y-%m-%d"),
            ).alias("evidence"),
        )
        .with_columns(_severity("unknown_identity", pl.col("score"), 1.0, span=1000.0)),
        "unknown_identity",
    )


def _probing(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    return _finish(
        base.filter(pl.col("page_kind") == "probe")
        .group_by("ip")
        .agg(
            pl.len().alias("views"),
            pl.col("path").n_unique().alias("paths"),
            pl.col("user_id").n_unique().alias("users"),
            pl.col("user_id").drop_nulls().first().alias("user_id"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
        )
        .with_columns(
            pl.when(pl.col("users") == 1).then(pl.col("user_id")).otherwise(None).alias("user_id"),
            pl.col("views").cast(pl.Float64).alias("score"),
            pl.format(
                "IP {} requested {} attack paths ({} distinct, e.g. wp-login or .env) as {} users "
                "between {} and {}",
                pl.col("ip"),
                pl.col("views"),
                pl.col("paths"),
                pl.col("users"),
                _ts(pl.col("start")),
                _ts(pl.col("end")),
            ).alias("evidence"),
        )
        .with_columns(_severity("probing", pl.col("score"), 1.0, span=100.0)),
        "probing",
    )


# --- the answer ----------------------------------------------------------------------------------------

_BASE_COLUMNS = (
    "timestamp",
    "date",
    "path",
    "user_id",
    "cohort_id",
    "ip",
    "page_kind",
    "role",
    "cohort_name",
    "days_after_end",
    "days_before_start",
)


def detect(prepared: Prepared, config: Config) -> tuple[pl.DataFrame, pl.DataFrame, list[str], Any]:
    """All incidents (untruncated, ranked), the daily frame of heavy-day users, campus IPs, bursts."""
    base = prepared.views.select(_BASE_COLUMNS).collect().lazy()
    # Same rule as prepare.campus_ips, run on the collected columns instead of re-reading the log.
    campus = campus_ips(dataclasses.replace(prepared, views=base), config)
    bursts_lazy = scraping_bursts(base, config, campus)
    daily_lazy = daily_views(base, config)
    bursts, daily_heavy_users = pl.collect_all(
        [
            bursts_lazy,
            daily_lazy.filter(pl.col("heavy").any().over("user_id")),
        ]
    )
    parts = pl.collect_all(
        [
            _scraping(bursts.lazy(), config),
            _heavy_day(base, daily_heavy_users.lazy(), bursts.lazy(), config),
            _shared_ip(base, config, campus),
            _many_ips(base, config),
            _new_ip(base, bursts.lazy(), config, campus),
            _out_of_enrollment(base, config),
            _unknown_identity(base, config),
            _probing(base, config),
        ]
    )
    incidents = (
        pl.concat(parts, how="vertical")
        .sort(
            ["severity", "score", "kind", "user_id", "ip", "start"],
            descending=[True, True, False, False, False, False],
            nulls_last=True,
        )
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"))
    )
    return incidents, daily_heavy_users, campus, bursts


def detect_all(
    snapshot: Snapshot, config: Config, prepared: Prepared | None = None
) -> pl.DataFrame:
    """Every incident, ranked, without the max_incidents bound (for evaluation against labels)."""
    prepared = prepared or prepare(snapshot, config)
    return detect(prepared, config)[0]


def _summary(incidents: pl.DataFrame) -> pl.DataFrame:
    counts = incidents.group_by("kind").agg(
        pl.len().alias("incidents"),
        pl.col("user_id").n_unique().alias("users"),
        pl.col("ip").drop_nulls().n_unique().alias("ips"),
        pl.col("views").sum().alias("views"),
    )
    return (
        pl.DataFrame({"kind": list(INCIDENT_KINDS)})
        .join(counts, on="kind", how="left", maintain_order="left")
        .with_columns(pl.col("incidents", "users", "ips", "views").fill_null(0).cast(pl.Int64))
    )


def _scrape_timeline(base: pl.LazyFrame, top: dict[str, Any] | None) -> pl.DataFrame:
    """Views per second of the top scraping burst (small: a few hundred seconds)."""
    if top is None:
        return pl.DataFrame(schema={"second": pl.Datetime("us"), "views": pl.Int64()})
    ip_filter = pl.col("ip") == top["ip"] if top["ip"] is not None else pl.lit(True)
    return (
        base.filter(
            (pl.col("user_id") == top["user_id"])
            & ip_filter
            & pl.col("timestamp").is_between(top["start"], top["end"])
        )
        .group_by(pl.col("timestamp").dt.truncate("1s").alias("second"))
        .agg(pl.len().cast(pl.Int64).alias("views"))
        .sort("second")
        .collect()
    )


def _heavy_series(daily: pl.DataFrame, top: dict[str, Any] | None) -> pl.DataFrame:
    """The top heavy-day user's daily views with their bands, 60 active days either side of the day."""
    schema = {
        "date": pl.Date(),
        "views": pl.Int64(),
        "mean": pl.Float64(),
        "upper": pl.Float64(),
        "lower": pl.Float64(),
        "flagged": pl.Boolean(),
        "user_id": pl.Int64(),
    }
    if top is None or daily.height == 0:
        return pl.DataFrame(schema=schema)
    day = top["start"].date()
    user = daily.filter(pl.col("user_id") == top["user_id"]).sort("date")
    position = user.with_row_index("i").filter(pl.col("date") == day)["i"]
    centre = int(position[0]) if position.len() else 0
    return user.slice(max(0, centre - 60), 121).select(
        pl.col("date"),
        pl.col("views").cast(pl.Int64),
        pl.col("mean"),
        pl.col("upper"),
        pl.col("lower").clip(lower_bound=0.0),
        (pl.col("date") == day).alias("flagged"),
        pl.col("user_id").cast(pl.Int64),
    )


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q4Result:
    """Rank suspicious incidents of eight kinds (see the module docstring for each detector)."""
    prepared = prepared or prepare(snapshot, config)
    q4 = config.q4
    parameters = {
        name: (list(value) if isinstance(value, tuple) else value)
        for name, value in vars(q4).items()
    }
    caveats = [
        "Incidents are leads for a security review, not proof: a shared IP can be a household or a "
        "café, and a heavy day can be exam preparation.",
        "Campus IPs (shared classroom NAT addresses) are never reported as a scraping or shared IP; a "
        "scraping burst from campus is reported against the user only.",
    ]
    if prepared.simulated:
        caveats.append(SIMULATED_CAVEAT)
    method = (
        f"Scraping: per user and IP, views split into bursts at gaps over "
        f"{q4.scrape_window_seconds} s; a burst is scraping when some {q4.scrape_min_pages} of its "
        f"views fall within {q4.scrape_window_seconds} s, it covers at least {q4.scrape_min_distinct} "
        f"distinct paths and its gaps are regular (coefficient of variation <= {q4.scrape_max_cv}, "
        f"waived at twice that rate). Heavy day: daily views above the user's own Bollinger band "
        f"(mean + {q4.bollinger_k} sd of the previous {q4.bollinger_window} active days, %b > 1; "
        f"with fewer than {q4.bollinger_min_days} prior days only the volume test applies) and either a "
        f"robust z of log views >= {q4.robust_z} against all users (staff against staff) or at least "
        f"{q4.heavy_day_min_views} views; days explained by a scraping burst are reported as scraping. "
        f"Shared IP: a non-campus IP used by >= {q4.shared_ip_min_users} users. Many IPs: a user on "
        f">= {q4.many_ips_min} IPs. New IP: at most {q4.new_ip_max} night-time first days (before "
        f"{q4.new_ip_night_end_hour}:00, >= {q4.new_ip_min_views} views) on a never-seen IP by a user "
        f"known for 30+ days. Out of enrollment: student views more than {q4.after_graduation_days} "
        f"days after the cohort ended or more than {q4.before_start_days} days before it started. "
        f"Unknown identity: users never seen with a known cohort (staff excluded). Probing: requests "
        f"for attack paths, per IP. Campus IPs: configured ones plus any IP with >= "
        f"{q4.campus_ip_min_share:.0%} of all views from >= {q4.shared_ip_min_users} users. Severity = "
        f"kind weight x (0.5 at the kind's threshold rising to 1 at ten times it, log scale); the "
        f"list keeps the {q4.max_incidents} most severe."
    )
    incidents, daily, campus, _ = detect(prepared, config)
    total = incidents.height
    summary = _summary(incidents)
    shown = incidents.head(q4.max_incidents)
    if total == 0:
        no_views = prepared.data_start == prepared.data_end and snapshot.manifest.rows == 0
        sentence = (
            "There are no page views in the snapshot, so no suspicious activity could be assessed."
            if no_views
            else "No suspicious activity met the thresholds: no scraping bursts, heavy days, shared "
            "IPs, many-IP users, out-of-enrollment reading, unknown identities or probes."
        )
        return Q4Result(
            number=4,
            title=TITLE,
            answer=sentence,
            supporting=[
                f"{_plural(len(campus), 'campus IP')} "
                f"{_verb(len(campus), 'was', 'were')} recognised and excluded from IP-level flags.",
                "Every detector ran with the thresholds listed under Method.",
            ],
            method=method,
            parameters=parameters,
            caveats=caveats,
            incidents=shown,
            summary=summary,
            campus_ips=campus,
            total_incidents=0,
            scrape_timeline=_scrape_timeline(pl.LazyFrame(), None),
            heavy_day_series=_heavy_series(daily, None),
        )

    counts = {row["kind"]: row for row in summary.iter_rows(named=True)}
    parts = [
        _plural(counts[kind]["incidents"], *KIND_NOUNS[kind])
        for kind in INCIDENT_KINDS
        if counts[kind]["incidents"]
    ]
    top = shown.row(0, named=True)
    sentence = (
        f"{_plural(total, 'incident')} {_verb(total, 'stands', 'stand')} out — "
        f"{', '.join(parts)}; the most severe is "
        f"{top['kind'].replace('_', ' ')}: {top['evidence']}."
    )
    top_scrape = incidents.filter(pl.col("kind") == "scraping").head(1)
    top_heavy = incidents.filter(pl.col("kind") == "heavy_day").head(1)
    scrape_row = top_scrape.row(0, named=True) if top_scrape.height else None
    heavy_row = top_heavy.row(0, named=True) if top_heavy.height else None
    supporting: list[str] = []
    if scrape_row is not None:
        scrape_users = counts["scraping"]["users"]
        supporting.append(
            f"{_plural(counts['scraping']['incidents'], 'scraping burst')} by "
            f"{_plural(scrape_users, 'user')} fetched {counts['scraping']['views']:,} pages in all; the "
            f"fastest: {scrape_row['evidence']}."
        )
    if heavy_row is not None:
        supporting.append(
            f"{_plural(counts['heavy_day']['incidents'], 'day')} by "
            f"{_plural(counts['heavy_day']['users'], 'user')} "
            f"{_verb(counts['heavy_day']['incidents'], 'was', 'were')} far above the user's own "
            "history; "
            f"the largest: {heavy_row['evidence']}."
        )
    access = counts["out_of_enrollment"]["incidents"] + counts["unknown_identity"]["incidents"]
    if access:
        supporting.append(
            f"Access by people who arguably should not have it: "
            f"{_plural(counts['out_of_enrollment']['users'], 'student')} reading outside their "
            f"enrollment ({_plural(counts['out_of_enrollment']['views'], 'view')}) and "
            f"{_plural(counts['unknown_identity']['users'], 'user')} with no known cohort "
            f"({_plural(counts['unknown_identity']['views'], 'view')})."
        )
    supporting.append(
        f"{_plural(counts['shared_ip']['incidents'], 'non-campus IP')} shared by "
        f"{q4.shared_ip_min_users}+ users, {_plural(counts['many_ips']['incidents'], 'user')} on "
        f"{q4.many_ips_min}+ IPs and {_plural(counts['probing']['incidents'], 'IP')} probing for attack "
        f"paths; {_plural(len(campus), 'campus IP')} "
        f"({', '.join(campus) if campus else 'none'}) {_verb(len(campus), 'is', 'are')} excluded "
        "from IP-level flags."
    )
    if total > shown.height:
        caveats.append(
            f"The incident list shows the {shown.height:,} most severe of {total:,}; the counts by kind "
            "cover all of them."
        )
    return Q4Result(
        number=4,
        title=TITLE,
        answer=sentence,
        supporting=supporting[:4],
        method=method,
        parameters=parameters,
        caveats=caveats,
        incidents=shown,
        summary=summary,
        campus_ips=campus,
        total_incidents=total,
        scrape_timeline=_scrape_timeline(prepared.views, scrape_row),
        heavy_day_series=_heavy_series(daily, heavy_row),
    )
