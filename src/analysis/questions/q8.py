"""Question 8: anything else leadership should know?

Not one analysis but a short list of generated findings, each a title, a sentence built from computed
numbers and its key value: data quality (rows without a cohort, staff volume, stub programs, users in
several cohorts, possible duplicate identities, quarantined rows), trends (year-over-year growth),
seasonality (weekday/hour peak, winter-holiday dip) and the campus-to-remote shift (share of views from
the shared campus IPs per month). Nothing here imports another question: each number is computed simply
and on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

import polars as pl

from analysis.config import Config
from analysis.prepare import (
    Prepared,
    campus_ips,
    labels_by_cohort,
    prepare,
    student_rows,
    user_addresses,
    user_ip_days,
)
from analysis.results import QuestionResult, Words, data_fields, join_words
from analysis.schema import ColumnTypes, time_units
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 8
SHORT_TITLE = "What else to know"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 6
TITLE = "Anything else leadership should know?"
# Readers' names of the values fixed in this module's code that `parameters` reports (settings in
# config.py carry their own labels).
SETTING_LABELS = {
    "duplicate_max_ip_users": "Most users on an IP for a possible duplicate identity",
    "duplicate_max_gap_days": "Most days between two accounts of one person",
}
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts): the findings illustrate what "
    "the checks detect, not the real curriculum's history."
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DUPLICATE_MAX_IP_USERS = 3  # an IP shared by at most this many users is "private" (a home, a phone)
DUPLICATE_MAX_GAP_DAYS = (
    60  # the second account starts within this many days of the first one's end
)
FULL_YEAR_DAYS = 360
ANSWER_FINDINGS = 3  # findings named in the one-sentence answer (the rest are in the list)
HOLIDAY_MIN_DIP = 0.1  # a holiday fall smaller than this is reported as "no marked dip"  # a calendar year with at least this many covered days counts as full

MONTHLY_SCHEMA: ColumnTypes = {"month": pl.Date(), "program": pl.String(), "views": pl.Int64()}
CAMPUS_SCHEMA: ColumnTypes = {
    "month": pl.Date(),
    "views": pl.Int64(),
    "campus_views": pl.Int64(),
    "campus_share": pl.Float64(),
}
WEEKDAY_HOUR_SCHEMA: ColumnTypes = {
    "weekday": pl.Int8(),
    "day": pl.String(),
    "hour": pl.Int8(),
    "views": pl.Int64(),
}
YEARLY_SCHEMA: ColumnTypes = {
    "year": pl.Int32(),
    "views": pl.Int64(),
    "students": pl.Int64(),
    "days": pl.Int64(),
    "views_per_day": pl.Float64(),
    "full_year": pl.Boolean(),
}


@dataclass(frozen=True)
class Fact:
    """One thing worth knowing, as numbers: what `compute` finds, before any word is written."""

    kind: str  # a key of _WORDS
    category: str  # "data quality", "trend", "seasonality", "campus", "quarantine"
    numbers: dict[str, Any]  # every number its words show, each rounded once (shares: _pct1)
    value: float | int | str | None = None  # the key value (unrounded)


@dataclass(frozen=True)
class Finding:
    """One thing worth knowing: a short title, a number-bearing summary and sentence, the key value."""

    title: str
    summary: str  # short phrase with the number, for the one-sentence answer and the slide
    text: str  # one or two sentences, formatted from `numbers`
    value: float | int | str | None
    category: str  # "data quality", "trend", "seasonality", "campus", "quarantine"
    numbers: dict[str, Any] = field(default_factory=dict)  # the fact's numbers, as shown


@dataclass(frozen=True, kw_only=True)
class Q8Data:
    """The numbers of question 8 (computed by `compute`, told by `words`)."""

    facts: list[Fact] = field(default_factory=list)
    monthly: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MONTHLY_SCHEMA))
    campus: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CAMPUS_SCHEMA))
    weekday_hour: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=WEEKDAY_HOUR_SCHEMA)
    )
    yearly: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=YEARLY_SCHEMA))
    campus_ips: list[str] = field(default_factory=list)
    campus_below_month: dt.date | None = None  # first month after which campus share stays < floor
    total_views: int = 0
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q8Result(QuestionResult, Q8Data):
    findings: list[Finding] = field(default_factory=list)  # the facts in words, in order

    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Other findings": table_findings(self),
            "Views and active students per year": table_yearly(self),
        }

    def headline(self) -> str:
        return "; ".join(f.summary for f in self.findings[:3]) if self.findings else self.answer


def table_findings(result: Q8Result) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Area": [f.category.capitalize() for f in result.findings],
            "Finding": [f.title for f in result.findings],
            "What the data shows": [f.text for f in result.findings],
        },
        schema={"Area": pl.String(), "Finding": pl.String(), "What the data shows": pl.String()},
    )


def table_yearly(result: Q8Result) -> pl.DataFrame:
    return result.yearly.select(
        pl.col("year").cast(pl.String).alias("Year"),
        pl.col("views").alias("Views"),
        pl.col("students").alias("Active students"),
        pl.col("days").alias("Days covered"),
        pl.col("views_per_day").round(0).alias("Views per day"),
    )


def _month(value: dt.date) -> str:
    return value.strftime("%b %Y")


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:] + ("" if phrase.endswith(".") else ".")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def views_per_hour(prepared: Prepared) -> pl.LazyFrame:
    """Views per hour of the log: `slot` (the timestamp truncated to the hour) and `views` (Int64).
    When the materialized views' stored timestamps are in order, without nulls or time zone (the
    log is written in time order), the hours are the timestamp's integer divided by an hour, in
    order too, and grouped as sorted runs: at 10x 0.035 s of CPU instead of 0.08 for a hash
    group-by of every view (the order is checked first: 3 ms); else that group-by."""
    stamp = prepared.views.collect_schema()["timestamp"]
    rows = prepared.stored.rows
    if (
        rows is not None
        and isinstance(stamp, pl.Datetime)
        and stamp.time_zone is None
        and rows.schema.get("timestamp") == stamp
    ):
        stamps = rows.get_column("timestamp")
        if stamps.null_count() == 0 and stamps.is_sorted():
            hour = time_units(stamp, 3600)
            return (
                rows.lazy()
                # selected first: a sorted key given to `group_by` as an expression is hashed
                .select((pl.col("timestamp").to_physical() // hour).set_sorted().alias("slot"))
                .group_by("slot")
                .agg(pl.len().cast(pl.Int64).alias("views"))
                .with_columns((pl.col("slot") * hour).cast(stamp))
            )
    return prepared.views.group_by(pl.col("timestamp").dt.truncate("1h").alias("slot")).agg(
        pl.len().cast(pl.Int64).alias("views")
    )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q8Data:
    """Compute each fact from a handful of aggregates collected together."""
    prepared = prepared or prepare(snapshot, config)
    q8 = config.q8
    campus = campus_ips(prepared, config)
    addresses = user_addresses(prepared).lazy()  # one row per (user, cohort, ip)
    # one row per (user, address, day, cohort) of the kept views (prepare.user_ip_days)
    days = user_ip_days(prepared).filter(pl.col("kept"))
    # Counts come from prepare's shared aggregates, not from the views: per (day, cohort) and the
    # students' first and last days per year from the rows per user, address and day, per (cohort,
    # user) from the users' addresses; months and years are derived from the few thousand day rows
    # afterwards. Program and role are per cohort: the labels are joined to those few rows, instead
    # of being looked up on every row. Only the views per hour of the week scan the views
    # (`views_per_hour`).
    (
        day_cohort,
        user_cohort,
        labels,
        student_years,
        weekday_hour,
        user_ips,
    ) = pl.collect_all(
        [
            days.group_by("date", "cohort_id").agg(
                pl.col("rows").sum().cast(pl.Int64).alias("views"),
                pl.col("rows")
                .filter(pl.col("ip").is_in(campus))
                .sum()
                .cast(pl.Int64)
                .alias("campus_views"),
            ),
            addresses.group_by("cohort_id", "user_id").agg(pl.col("views").sum()),
            labels_by_cohort(prepared, "program", "role"),
            days.filter(student_rows(prepared))
            .group_by("user_id", pl.col("date").dt.year().alias("year"))
            .agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last")),
            # per hour of the log first (a truncated timestamp is cheaper than two derived keys)
            views_per_hour(prepared)
            .group_by(
                pl.col("slot").dt.weekday().alias("weekday"), pl.col("slot").dt.hour().alias("hour")
            )
            .agg(pl.col("views").sum()),
            addresses.filter(student_rows(prepared) & ~pl.col("ip").is_in(campus))
            .select("user_id", "ip")
            .unique(),
        ]
    )
    day_cohort = day_cohort.join(labels, on="cohort_id", how="left", nulls_equal=True)
    user_cohort = user_cohort.join(labels, on="cohort_id", how="left", nulls_equal=True)
    day_program = day_cohort.group_by("date", "program").agg(
        pl.col("views").sum(), pl.col("campus_views").sum()
    )
    role_totals = user_cohort.group_by("role").agg(
        pl.col("views").sum(), pl.col("user_id").n_unique().cast(pl.Int64).alias("users")
    )
    no_cohort = day_cohort.filter(pl.col("role") == "no_cohort").select(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
    )
    programs = (
        user_cohort.filter(pl.col("role") == "student")
        .group_by("program")
        .agg(
            pl.col("views").sum(),
            pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
            pl.col("cohort_id").n_unique().cast(pl.Int64).alias("cohorts"),
        )
        .join(
            day_cohort.filter(pl.col("role") == "student")
            .group_by("program")
            .agg(pl.col("date").n_unique().cast(pl.Int64).alias("days")),
            on="program",
            how="left",
        )
        .select("program", "views", "users", "days", "cohorts")
    )
    multi_cohort = (
        user_cohort.filter(pl.col("cohort_id").is_not_null())
        .group_by("user_id")
        .agg(
            pl.col("cohort_id").n_unique().alias("cohorts"),
            (pl.col("role") == "staff").any().alias("staff"),
            (pl.col("role") == "placeholder").any().alias("placeholder"),
        )
        .filter(pl.col("cohorts") > 1)
    )
    day_program = day_program.with_columns(pl.col("date").dt.truncate("1mo").alias("month"))
    by_month_program = day_program.group_by("month", "program").agg(pl.col("views").sum())
    daily = day_program.group_by("date").agg(pl.col("views").sum())
    campus_monthly = day_program.group_by("month").agg(
        pl.col("views").sum(), pl.col("campus_views").sum()
    )
    yearly_raw = (
        daily.group_by(pl.col("date").dt.year().alias("year"))
        .agg(
            pl.col("views").sum(),
            pl.col("date").min().alias("first"),
            pl.col("date").max().alias("last"),
        )
        .join(
            student_years.group_by("year").agg(pl.len().cast(pl.Int64).alias("students")),
            on="year",
            how="left",
        )
        .with_columns(pl.col("students").fill_null(0))
    )
    spans = student_years.group_by("user_id").agg(
        pl.col("first").min().alias("first"), pl.col("last").max().alias("last")
    )
    total = int(role_totals["views"].sum())
    quarantine_fact = _quarantine(snapshot.quarantine, total, q8.top_n)
    if total == 0:
        return Q8Data(
            facts=[quarantine_fact] if quarantine_fact else [],
            campus_ips=campus,
            simulated=prepared.simulated,
        )

    monthly = by_month_program.sort("month", "program").cast(MONTHLY_SCHEMA)
    campus_frame = (
        campus_monthly.with_columns(
            (pl.col("campus_views") / pl.col("views")).alias("campus_share")
        )
        .sort("month")
        .cast(CAMPUS_SCHEMA)
    )
    grid = pl.DataFrame({"weekday": range(1, 8)}, schema={"weekday": pl.Int8()}).join(
        pl.DataFrame({"hour": range(24)}, schema={"hour": pl.Int8()}), how="cross"
    )  # every slot, so quiet hours show as zero rather than missing
    weekday_hour = (
        grid.join(
            weekday_hour.cast({"weekday": pl.Int8(), "hour": pl.Int8()}),
            on=["weekday", "hour"],
            how="left",
        )
        .with_columns(pl.col("views").fill_null(0))
        .with_columns(
            pl.col("weekday")
            .replace_strict(dict(enumerate(WEEKDAYS, start=1)), return_dtype=pl.String)
            .alias("day")
        )
        .sort("weekday", "hour")
        .select(WEEKDAY_HOUR_SCHEMA.keys())
        .cast(WEEKDAY_HOUR_SCHEMA)
    )
    data_start, data_end = prepared.data_start.date(), prepared.data_end.date()
    yearly = (
        yearly_raw.with_columns(
            (
                pl.min_horizontal(pl.date(pl.col("year"), 12, 31), pl.lit(data_end))
                - pl.max_horizontal(pl.date(pl.col("year"), 1, 1), pl.lit(data_start))
            )
            .dt.total_days()
            .add(1)
            .alias("days")
        )
        .with_columns(
            (pl.col("views") / pl.col("days")).alias("views_per_day"),
            (pl.col("days") >= FULL_YEAR_DAYS).alias("full_year"),
        )
        .sort("year")
        .select(YEARLY_SCHEMA.keys())
        .cast(YEARLY_SCHEMA)
    )

    candidates: list[Fact | None] = [
        _no_cohort(role_totals, no_cohort, monthly, total, q8.burst_min_share),
        _staff(role_totals, total),
        _stubs(programs, q8.stub_program_max_share, q8.top_n),
        _several_cohorts(multi_cohort),
        _duplicates(spans, user_ips),
        _growth(yearly),
        _weekly_peak(weekday_hour, total),
        _holiday_dip(daily),
        _campus_shift(campus_frame, campus, q8.campus_share_floor),
        quarantine_fact,
    ]
    return Q8Data(
        facts=[f for f in candidates if f is not None],
        monthly=monthly,
        campus=campus_frame,
        weekday_hour=weekday_hour,
        yearly=yearly,
        campus_ips=campus,
        campus_below_month=_campus_below(campus_frame, q8.campus_share_floor),
        total_views=total,
        simulated=prepared.simulated,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q8Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    q8 = config.q8
    data = compute(snapshot, config, prepared)
    parameters: dict[str, Any] = {
        "top_n": q8.top_n,
        "campus_share_floor": q8.campus_share_floor,
        "stub_program_max_share": q8.stub_program_max_share,
        "burst_min_share": q8.burst_min_share,
        "campus_ips": data.campus_ips,
        "duplicate_max_ip_users": DUPLICATE_MAX_IP_USERS,
        "duplicate_max_gap_days": DUPLICATE_MAX_GAP_DAYS,
    }
    return Q8Result(
        number=8,
        title=TITLE,
        parameters=parameters,
        findings=[finding(f) for f in data.facts],
        **words(data, config).text(),
        **data_fields(data),
    )


def words(data: Q8Data, config: Config) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s facts."""
    findings = [finding(f) for f in data.facts]
    caveats = [
        "These are screening checks with simple, documented rules; each is a lead to follow up, not a "
        "verdict (for example, a 'possible duplicate identity' may be two roommates).",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    if data.total_views == 0:
        quarantined = findings[0] if findings else None
        return Words(
            answer="The snapshot holds no page views, so there is nothing else to report"
            + (f" beyond {quarantined.summary}." if quarantined else "."),
            supporting=[f.text for f in findings] or ["No rows were loaded."],
            method=_method(config),
            caveats=caveats,
        )
    lead = [f.summary for f in findings[:ANSWER_FINDINGS]]
    answer_text = (
        f"Also worth knowing: {join_words(lead)}."
        if lead
        else "Nothing else stands out in the data."
    )
    # the other findings in a few words each (their details are in the findings table)
    supporting = [_sentence(f.summary) for f in findings[ANSWER_FINDINGS : ANSWER_FINDINGS + 5]]
    supporting += [f.text for f in findings[: max(0, 3 - len(supporting))]]
    return Words(answer=answer_text, supporting=supporting, method=_method(config), caveats=caveats)


# --- the findings: numbers first (facts), then words -------------------------------------------


def _pct1(value: float) -> float:
    """A share in percent, rounded once (to 1 decimal; 2 below 0.1%): the number every sentence and
    table shows for it."""
    return round(value * 100, 1) if value == 0 or abs(value) >= 0.001 else round(value * 100, 2)


def _p(pct: float) -> str:
    """A percent rounded by _pct1, as text."""
    return f"{pct:g}%"


def _role(role_totals: pl.DataFrame, role: str) -> tuple[int, int]:
    row = role_totals.filter(pl.col("role") == role)
    return (int(row["views"][0]), int(row["users"][0])) if row.height else (0, 0)


def _runs(months: pl.DataFrame) -> list[tuple[dt.date, dt.date]]:
    """Contiguous runs of the months in `months["month"]` (sorted), as (first, last)."""
    if months.is_empty():
        return []
    runs = (
        months.sort("month")
        .with_columns((pl.col("month").dt.year() * 12 + pl.col("month").dt.month()).alias("index"))
        .with_columns((pl.col("index").diff().fill_null(1) != 1).cum_sum().alias("run"))
        .group_by("run")
        .agg(pl.col("month").min().alias("first"), pl.col("month").max().alias("last"))
        .sort("first")
    )
    return list(zip(runs["first"].to_list(), runs["last"].to_list(), strict=True))


def _no_cohort(
    role_totals: pl.DataFrame,
    no_cohort: pl.DataFrame,
    monthly: pl.DataFrame,
    total: int,
    burst_min_share: float,
) -> Fact | None:
    rows, users = _role(role_totals, "no_cohort")
    if rows == 0:
        return None
    per_month = monthly.filter(pl.col("program") == "No cohort")
    bursts = _runs(
        per_month.filter(pl.col("views") >= burst_min_share * pl.col("views").max()).select("month")
    )
    return Fact(
        "no_cohort",
        "data quality",
        {
            "rows": rows,
            "pct": _pct1(rows / total),
            "users": users,
            "first": no_cohort["first"][0],
            "last": no_cohort["last"][0],
            "bursts": bursts[:3],
        },
        value=rows,
    )


def _staff(role_totals: pl.DataFrame, total: int) -> Fact | None:
    rows, users = _role(role_totals, "staff")
    if rows == 0:
        return None
    return Fact(
        "staff",
        "data quality",
        {"rows": rows, "users": users, "pct": _pct1(rows / total)},
        value=rows / total,
    )


def _stubs(programs: pl.DataFrame, max_share: float, top_n: int) -> Fact | None:
    student_total = int(programs["views"].sum())
    if student_total == 0:
        return None
    stubs = (
        programs.filter(pl.col("views") <= max_share * student_total)
        .sort("views", "program")
        .head(top_n)
    )
    if stubs.is_empty():
        return None
    return Fact(
        "stubs",
        "data quality",
        {
            "programs": stubs.select("program", "views", "users", "days").to_dicts(),
            "max_pct": _pct1(max_share),
        },
        value=stubs.height,
    )


def _several_cohorts(multi: pl.DataFrame) -> Fact | None:
    if multi.is_empty():
        return None
    return Fact(
        "several_cohorts",
        "data quality",
        {
            "users": multi.height,
            "staff": int(multi["staff"].sum()),
            "placeholder": int(multi["placeholder"].sum()),
        },
        value=multi.height,
    )


def _duplicates(spans: pl.DataFrame, user_ips: pl.DataFrame) -> Fact | None:
    """Pairs of student accounts that share a private IP and follow each other without overlapping."""
    private = user_ips.filter(pl.len().over("ip") <= DUPLICATE_MAX_IP_USERS)
    pairs = (
        private.join(private, on="ip", suffix="_b")
        .filter(pl.col("user_id") < pl.col("user_id_b"))
        .select("user_id", "user_id_b")
        .unique()
        .join(spans, on="user_id")
        .join(spans, left_on="user_id_b", right_on="user_id", suffix="_b")
        .with_columns(
            pl.when(pl.col("last") < pl.col("first_b"))
            .then((pl.col("first_b") - pl.col("last")).dt.total_days())
            .when(pl.col("last_b") < pl.col("first"))
            .then((pl.col("first") - pl.col("last_b")).dt.total_days())
            .alias("gap_days")
        )
        .filter(pl.col("gap_days").is_between(0, DUPLICATE_MAX_GAP_DAYS))
        .sort("user_id", "user_id_b")
    )
    if pairs.is_empty():
        return None
    example = pairs.row(0, named=True)
    return Fact(
        "duplicates",
        "data quality",
        {
            "pairs": pairs.height,
            "user_a": example["user_id"],
            "user_b": example["user_id_b"],
            "gap_days": example["gap_days"],
        },
        value=pairs.height,
    )


def _growth(yearly: pl.DataFrame) -> Fact | None:
    full = yearly.filter(pl.col("full_year"))
    use = full if full.height >= 2 else yearly
    if use.height < 2:
        return None
    first, last = use.row(0, named=True), use.row(use.height - 1, named=True)
    span = last["year"] - first["year"]
    per_year = (last["views_per_day"] / first["views_per_day"]) ** (1 / span) - 1
    return Fact(
        "growth",
        "trend",
        {
            "first_year": first["year"],
            "last_year": last["year"],
            "years": span,
            "first_per_day": round(first["views_per_day"]),
            "last_per_day": round(last["views_per_day"]),
            "pct": _pct1(abs(per_year)),
            "grew": per_year >= 0,
            "first_students": first["students"],
            "last_students": last["students"],
            "full_years": full.height >= 2,
        },
        value=per_year,
    )


def _weekly_peak(weekday_hour: pl.DataFrame, total: int) -> Fact | None:
    if weekday_hour.is_empty():
        return None
    days = weekday_hour.group_by("weekday", "day").agg(pl.col("views").sum()).sort("weekday")
    hours = weekday_hour.group_by("hour").agg(pl.col("views").sum()).sort("hour")
    peak_day = days.sort(["views", "weekday"], descending=[True, False]).row(0, named=True)
    peak_hour = hours.sort(["views", "hour"], descending=[True, False]).row(0, named=True)
    weekend = int(days.filter(pl.col("weekday") >= 6)["views"].sum())
    return Fact(
        "weekly",
        "seasonality",
        {
            "day": peak_day["day"],
            "day_pct": _pct1(peak_day["views"] / total),
            "hour": peak_hour["hour"],
            "hour_pct": _pct1(peak_hour["views"] / total),
            "weekend_pct": _pct1(weekend / total),
        },
        value=peak_hour["hour"],
    )


def _holiday_dip(daily: pl.DataFrame) -> Fact | None:
    """Mean daily views Dec 24 - Jan 1 against the rest of December and January."""
    month, day = pl.col("date").dt.month(), pl.col("date").dt.day()
    holiday = ((month == 12) & (day >= 24)) | ((month == 1) & (day == 1))
    season = daily.filter((month == 12) | (month == 1)).with_columns(holiday.alias("holiday"))
    means = season.group_by("holiday").agg(
        pl.col("views").mean().alias("mean"), pl.len().alias("days")
    )
    if means.height < 2:
        return None
    inside = means.filter(pl.col("holiday"))["mean"][0]
    outside = means.filter(~pl.col("holiday"))["mean"][0]
    if not outside:
        return None
    change = inside / outside - 1
    return Fact(
        "holiday",
        "seasonality",
        {
            "inside": round(inside),
            "outside": round(outside),
            "pct": _pct1(abs(change)),
            "fell": change < 0,
            "marked": change <= -HOLIDAY_MIN_DIP,
        },
        value=change,
    )


def _campus_below(campus: pl.DataFrame, floor: float) -> dt.date | None:
    """First month from which the campus share stays below `floor` to the end (after being above)."""
    if campus.is_empty() or cast(float, campus["campus_share"].max()) < floor:
        return None
    above = campus.filter(pl.col("campus_share") >= floor)["month"].max()
    later = campus.filter(pl.col("month") > above)
    return later["month"][0] if later.height else None


def _campus_shift(campus: pl.DataFrame, ips: list[str], floor: float) -> Fact:
    if not ips:
        return Fact("campus", "campus", {"ips": 0}, value=None)
    overall = int(campus["campus_views"].sum()) / max(int(campus["views"].sum()), 1)
    below = _campus_below(campus, floor)
    peak = campus.sort(["campus_share", "month"], descending=[True, False]).row(0, named=True)
    return Fact(
        "campus",
        "campus",
        {
            "ips": len(ips),
            "pct": _pct1(overall),
            "peak_pct": _pct1(peak["campus_share"]),
            "peak_month": peak["month"],
            "floor_pct": _pct1(floor),
            "below": below,
        },
        value=below.isoformat() if below else None,
    )


def _quarantine(quarantine: pl.DataFrame, total: int, top_n: int) -> Fact | None:
    if quarantine.is_empty():
        return None
    reasons = (
        quarantine.group_by("reason")
        .agg(pl.len().alias("rows"))
        .sort(["rows", "reason"], descending=[True, False])
        .head(top_n)
    )
    return Fact(
        "quarantine",
        "quarantine",
        {
            "rows": quarantine.height,
            "pct": _pct1(quarantine.height / (total + quarantine.height)),
            "reasons": reasons.to_dicts(),
        },
        value=quarantine.height,
    )


def finding(fact: Fact) -> Finding:
    """One fact in words: title, summary phrase and sentence, every number formatted from the fact."""
    n = fact.numbers
    title, summary, text = _WORDS[fact.kind](n)
    return Finding(
        title=title,
        summary=summary,
        text=text,
        value=fact.value,
        category=fact.category,
        numbers=dict(n),
    )


def _no_cohort_words(n: dict[str, Any]) -> tuple[str, str, str]:
    described = " and ".join(
        _month(a) if a == b else f"{_month(a)}-{_month(b)}" for a, b in n["bursts"]
    )
    return (
        "Rows without a cohort",
        f"{_p(n['pct'])} of rows have no cohort",
        f"{_plural(n['rows'], 'row')} ({_p(n['pct'])} of all) carry no cohort id; they come from "
        f"{_plural(n['users'], 'user')} between {n['first'].isoformat()} and "
        f"{n['last'].isoformat()}, concentrated in {described}. Nobody can tell from the log whose "
        "they are, so they are outside every student ranking.",
    )


def _staff_words(n: dict[str, Any]) -> tuple[str, str, str]:
    return (
        "Staff volume",
        f"staff make {_p(n['pct'])} of all views",
        f"{_plural(n['users'], 'staff account')} made {_plural(n['rows'], 'view')} ({_p(n['pct'])} "
        "of all); raw totals that include them overstate student use, so every student ranking "
        "leaves them out.",
    )


def _stubs_words(n: dict[str, Any]) -> tuple[str, str, str]:
    programs = n["programs"]
    listed = "; ".join(
        f"{r['program']}: {_plural(r['views'], 'view')} by {_plural(r['users'], 'student')} on "
        f"{_plural(r['days'], 'day')}"
        for r in programs
    )
    names = [r["program"] for r in programs]
    return (
        "Stub programs",
        f"{names[0]} is almost unused"
        if len(names) == 1
        else f"{len(names)} programs are almost unused ({join_words(names)})",
        f"{listed}. At most {_p(n['max_pct'])} of student views each, they look like test or "
        "abandoned programs and are too small to rank.",
    )


def _several_cohorts_words(n: dict[str, Any]) -> tuple[str, str, str]:
    users = n["users"]
    appear = f"{_plural(users, 'user')} {_verb(users, 'appears', 'appear')}"
    return (
        "Users in several cohorts",
        f"{appear} under several cohorts",
        f"{appear} under more than one cohort id ({n['staff']} of them also as staff, "
        f"{n['placeholder']} through the transition placeholder): re-takes, transfers or reused "
        "accounts. Each row is judged against the cohort it names.",
    )


def _duplicates_words(n: dict[str, Any]) -> tuple[str, str, str]:
    # Not question 3's "pairs of accounts that may be one person" (one cohort, judged while
    # enrolled) nor question 4's "shared account": a different rule gets a different name.
    pairs = n["pairs"]
    return (
        "Possible duplicate identities",
        f"{_plural(pairs, 'possible duplicate identity', 'possible duplicate identities')} "
        "(two user ids, one home connection)",
        f"{_plural(pairs, 'pair')} of student accounts {_verb(pairs, 'shares', 'share')} a private "
        f"IP (used by at most {DUPLICATE_MAX_IP_USERS} users) and follow each other within "
        f"{DUPLICATE_MAX_GAP_DAYS} days without ever overlapping (e.g. users {n['user_a']} and "
        f"{n['user_b']}, {n['gap_days']} days apart): likely one person with two user ids.",
    )


def _growth_words(n: dict[str, Any]) -> tuple[str, str, str]:
    direction = "grew" if n["grew"] else "fell"
    # one year's change is said as such; over several years, as a yearly (compound) rate
    rate = (
        f"{_p(n['pct'])} from {n['first_year']} to {n['last_year']}"
        if n["years"] == 1
        else f"{_p(n['pct'])} a year from {n['first_year']} to {n['last_year']}"
    )
    students = (
        f"; active students went from {n['first_students']:,} to {n['last_students']:,}"
        if n["full_years"]
        else " (partial years, so student counts are not compared)"
    )
    return (
        "Year-over-year trend",
        f"views per day {direction} {rate}",
        f"Views per day {direction} from {n['first_per_day']:,} in {n['first_year']} to "
        f"{n['last_per_day']:,} in {n['last_year']} ("
        + (
            f"{'+' if n['grew'] else '-'}{_p(n['pct'])})"
            if n["years"] == 1
            else f"{'+' if n['grew'] else '-'}{_p(n['pct'])} a year, compounded)"
        )
        + f"{students}.",
    )


def _weekly_words(n: dict[str, Any]) -> tuple[str, str, str]:
    return (
        "Weekly rhythm",
        f"busiest on {n['day']}s at {n['hour']}:00",
        f"Use peaks on {n['day']}s ({_p(n['day_pct'])} of views) and at "
        f"{n['hour']}:00-{n['hour'] + 1}:00 ({_p(n['hour_pct'])}); weekends carry "
        f"{_p(n['weekend_pct'])}.",
    )


def _holiday_words(n: dict[str, Any]) -> tuple[str, str, str]:
    sign = "-" if n["fell"] else "+"
    return (
        "Winter-holiday dip",
        f"views fall {_p(n['pct'])} over the winter holidays"
        if n["marked"]
        else f"no marked winter-holiday dip ({sign}{_p(n['pct'])})",
        f"Between December 24 and January 1 the site averages {n['inside']:,} views a day against "
        f"{n['outside']:,} on the other days of December and January ({sign}{_p(n['pct'])}).",
    )


def _campus_words(n: dict[str, Any]) -> tuple[str, str, str]:
    if not n["ips"]:
        return (
            "Campus to remote",
            "no shared campus IP detected",
            "No IP carries enough views from enough users to be a shared campus address, so the "
            "campus-to-remote shift cannot be dated.",
        )
    below = n["below"]
    when = (
        f"it fell below {_p(n['floor_pct'])} in {_month(below)} and stayed there"
        if below
        else f"it never stayed below {_p(n['floor_pct'])}"
    )
    return (
        "Campus to remote",
        f"campus IPs fell below {_p(n['floor_pct'])} of views in {_month(below)}"
        if below
        else f"campus IPs still carry {_p(n['pct'])} of views",
        f"{_plural(n['ips'], 'shared campus IP')} {_verb(n['ips'], 'carries', 'carry')} "
        f"{_p(n['pct'])} of all views, up to {_p(n['peak_pct'])} in {_month(n['peak_month'])}; "
        f"{when}, the move to remote teaching.",
    )


def _quarantine_words(n: dict[str, Any]) -> tuple[str, str, str]:
    listed = ", ".join(f"{r['reason']} {r['rows']:,}" for r in n["reasons"])
    return (
        "Quarantined rows",
        f"{_plural(n['rows'], 'source row')} quarantined",
        f"{_plural(n['rows'], 'source row')} ({_p(n['pct'])}) could not be read and were set aside, "
        f"not dropped silently (by reason: {listed}).",
    )


_WORDS = {
    "no_cohort": _no_cohort_words,
    "staff": _staff_words,
    "stubs": _stubs_words,
    "several_cohorts": _several_cohorts_words,
    "duplicates": _duplicates_words,
    "growth": _growth_words,
    "weekly": _weekly_words,
    "holiday": _holiday_words,
    "campus": _campus_words,
    "quarantine": _quarantine_words,
}


def _method(config: Config) -> str:
    q8 = config.q8
    return (
        "Each finding is computed directly from the snapshot. Rows without a cohort: bursts are runs of "
        f"months holding at least {q8.burst_min_share:.0%} of the busiest month's such rows. Staff: the "
        "cohorts named in [people] staff_cohort_names. Stub programs: programs with at most "
        f"{_p(_pct1(q8.stub_program_max_share))} of student views. Several cohorts: users seen under more "
        "than one cohort id. Possible duplicate identities: pairs of student accounts sharing a "
        f"non-campus IP used by at most {DUPLICATE_MAX_IP_USERS} users, whose active periods do not "
        f"overlap and are at most {DUPLICATE_MAX_GAP_DAYS} days apart. Trend: views per covered day "
        f"per calendar year (full years, at least {FULL_YEAR_DAYS} covered days, when two exist), as a "
        "compound yearly rate. Seasonality: views by weekday and hour; the holiday dip compares "
        "December 24 - January 1 with the other days of December and January. Campus to remote: "
        "monthly share of views from the shared campus IPs (configured in [q4] campus_ips or detected "
        f"as IPs with at least {config.q4.campus_ip_min_share:.0%} of all views from at least "
        f"{config.q4.shared_ip_min_users} users); the shift month is the first month from which the "
        f"share stays below {q8.campus_share_floor:.0%}. Quarantine: rows rejected at import, by reason."
    )
