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
from analysis.prepare import Prepared, campus_ips, prepare
from analysis.results import QuestionResult, join_words
from analysis.schema import ColumnTypes
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
class Finding:
    """One thing worth knowing: a short title, a number-bearing summary and sentence, the key value."""

    title: str
    summary: str  # short phrase with the number, for the one-sentence answer and the slide
    text: str  # one or two sentences, generated from the numbers
    value: float | int | str | None
    category: str  # "data quality", "trend", "seasonality", "campus", "quarantine"


@dataclass(frozen=True)
class Q8Result(QuestionResult):
    findings: list[Finding] = field(default_factory=list)
    monthly: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MONTHLY_SCHEMA))
    campus: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CAMPUS_SCHEMA))
    weekday_hour: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=WEEKDAY_HOUR_SCHEMA)
    )
    yearly: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=YEARLY_SCHEMA))
    campus_ips: list[str] = field(default_factory=list)
    campus_below_month: dt.date | None = None  # first month after which campus share stays < floor

    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Other findings": table_findings(self),
            "Views and active students per year": table_yearly(self),
        }

    def headline(self) -> str:
        return "; ".join(f.summary for f in self.findings[:3]) if self.findings else self.answer


def _pct(value: float) -> str:
    if value == 0:
        return "0%"
    return f"{value * 100:.1f}%" if abs(value) >= 0.001 else f"{value * 100:.2f}%"


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


def _round_pct(value: float) -> str:
    """A share as people say it: whole percents, one decimal below 1%."""
    if value == 0:
        return "0%"
    if abs(value) >= 0.01:
        return f"{value * 100:.0f}%"
    return f"{value * 100:.1g}%"


def _month(value: dt.date) -> str:
    return value.strftime("%b %Y")


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:] + ("" if phrase.endswith(".") else ".")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q8Result:
    """Compute each finding from a handful of aggregates collected together."""
    prepared = prepared or prepare(snapshot, config)
    q8 = config.q8
    campus = campus_ips(prepared, config)
    views = prepared.views
    students = views.filter(pl.col("role") == "student")
    # The per-row aggregates are grouped by day first (months and years are derived from the few
    # thousand day rows afterwards, not truncated on every row); the students' first and last days and
    # their count per year share one group-by per (student, year).
    (
        day_program,
        role_totals,
        no_cohort,
        programs,
        multi_cohort,
        student_years,
        weekday_hour,
        user_ips,
    ) = pl.collect_all(
        [
            views.group_by("date", "program").agg(
                pl.len().cast(pl.Int64).alias("views"),
                pl.col("ip").is_in(campus).sum().cast(pl.Int64).alias("campus_views"),
            ),
            views.group_by("role").agg(
                pl.len().cast(pl.Int64).alias("views"),
                pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
            ),
            views.filter(pl.col("role") == "no_cohort").select(
                pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
                pl.col("date").min().alias("first"),
                pl.col("date").max().alias("last"),
            ),
            students.group_by("program").agg(
                pl.len().cast(pl.Int64).alias("views"),
                pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
                pl.col("date").n_unique().cast(pl.Int64).alias("days"),
                pl.col("cohort_id").n_unique().cast(pl.Int64).alias("cohorts"),
            ),
            views.filter(pl.col("cohort_id").is_not_null())
            .group_by("user_id")
            .agg(
                pl.col("cohort_id").n_unique().alias("cohorts"),
                (pl.col("role") == "staff").any().alias("staff"),
                (pl.col("role") == "placeholder").any().alias("placeholder"),
            )
            .filter(pl.col("cohorts") > 1),
            students.group_by("user_id", pl.col("date").dt.year().alias("year")).agg(
                pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
            ),
            views.group_by("weekday", "hour").agg(pl.len().cast(pl.Int64).alias("views")),
            views.filter((pl.col("role") == "student") & ~pl.col("ip").is_in(campus))
            .select("user_id", "ip")
            .unique(),
        ]
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
    caveats = [
        "These are screening checks with simple, documented rules; each is a lead to follow up, not a "
        "verdict (for example, a 'possible duplicate identity' may be two roommates).",
    ]
    if prepared.simulated:
        caveats.append(SIMULATED_CAVEAT)
    parameters: dict[str, Any] = {
        "top_n": q8.top_n,
        "campus_share_floor": q8.campus_share_floor,
        "stub_program_max_share": q8.stub_program_max_share,
        "burst_min_share": q8.burst_min_share,
        "campus_ips": campus,
        "duplicate_max_ip_users": DUPLICATE_MAX_IP_USERS,
        "duplicate_max_gap_days": DUPLICATE_MAX_GAP_DAYS,
    }
    base: dict[str, Any] = {
        "number": 8,
        "title": TITLE,
        "method": _method(config),
        "parameters": parameters,
        "caveats": caveats,
        "campus_ips": campus,
    }
    quarantine_finding = _quarantine(snapshot.quarantine, total, q8.top_n)
    if total == 0:
        findings = [quarantine_finding] if quarantine_finding else []
        return Q8Result(
            answer="The snapshot holds no page views, so there is nothing else to report"
            + (f" beyond {quarantine_finding.summary}." if quarantine_finding else "."),
            supporting=[f.text for f in findings] or ["No rows were loaded."],
            findings=findings,
            **base,
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

    candidates: list[Finding | None] = [
        _no_cohort(role_totals, no_cohort, monthly, total, q8.burst_min_share),
        _staff(role_totals, total),
        _stubs(programs, q8.stub_program_max_share, q8.top_n),
        _several_cohorts(multi_cohort),
        _duplicates(spans, user_ips),
        _growth(yearly),
        _weekly_peak(weekday_hour, total),
        _holiday_dip(daily),
        _campus_shift(campus_frame, campus, q8.campus_share_floor),
        quarantine_finding,
    ]
    findings = [f for f in candidates if f is not None]
    below = _campus_below(campus_frame, q8.campus_share_floor)
    lead = [f.summary for f in findings[:ANSWER_FINDINGS]]
    answer_text = (
        f"Also worth knowing: {join_words(lead)}."
        if lead
        else "Nothing else stands out in the data."
    )
    # the other findings in a few words each (their details are in the findings table)
    supporting = [_sentence(f.summary) for f in findings[ANSWER_FINDINGS : ANSWER_FINDINGS + 5]]
    supporting += [f.text for f in findings[: max(0, 3 - len(supporting))]]
    return Q8Result(
        answer=answer_text,
        supporting=supporting,
        findings=findings,
        monthly=monthly,
        campus=campus_frame,
        weekday_hour=weekday_hour,
        yearly=yearly,
        campus_below_month=below,
        **base,
    )


# --- the findings ---------------------------------------------------------------------------------


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
) -> Finding | None:
    rows, users = _role(role_totals, "no_cohort")
    if rows == 0:
        return None
    per_month = monthly.filter(pl.col("program") == "No cohort")
    bursts = _runs(
        per_month.filter(pl.col("views") >= burst_min_share * pl.col("views").max()).select("month")
    )
    described = " and ".join(
        _month(a) if a == b else f"{_month(a)}-{_month(b)}" for a, b in bursts[:3]
    )
    first, last = no_cohort["first"][0], no_cohort["last"][0]
    return Finding(
        title="Rows without a cohort",
        summary=f"{_round_pct(rows / total)} of rows have no cohort",
        text=(
            f"{_plural(rows, 'row')} ({_pct(rows / total)} of all) carry no cohort id; they come from "
            f"{_plural(users, 'user')} between {first.isoformat()} and {last.isoformat()}, concentrated in "
            f"{described}. Nobody can tell from the log whose they are, so they are outside every student "
            "ranking."
        ),
        value=rows,
        category="data quality",
    )


def _staff(role_totals: pl.DataFrame, total: int) -> Finding | None:
    rows, users = _role(role_totals, "staff")
    if rows == 0:
        return None
    return Finding(
        title="Staff volume",
        summary=f"staff make {_round_pct(rows / total)} of all views",
        text=(
            f"{_plural(users, 'staff account')} made {_plural(rows, 'view')} ({_pct(rows / total)} of "
            "all); raw "
            "totals that include them overstate student use, so every student ranking leaves them out."
        ),
        value=rows / total,
        category="data quality",
    )


def _stubs(programs: pl.DataFrame, max_share: float, top_n: int) -> Finding | None:
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
    listed = "; ".join(
        f"{r['program']}: {_plural(r['views'], 'view')} by {_plural(r['users'], 'student')} on "
        f"{_plural(r['days'], 'day')}"
        for r in stubs.iter_rows(named=True)
    )
    return Finding(
        title="Stub programs",
        summary=f"{stubs['program'][0]} is almost unused"
        if stubs.height == 1
        else f"{stubs.height} programs are almost unused ({join_words(stubs['program'].to_list())})",
        text=(
            f"{listed}. At most {_pct(max_share)} of student views each, they look like test or "
            "abandoned programs and are too small to rank."
        ),
        value=stubs.height,
        category="data quality",
    )


def _several_cohorts(multi: pl.DataFrame) -> Finding | None:
    if multi.is_empty():
        return None
    staff = int(multi["staff"].sum())
    placeholder = int(multi["placeholder"].sum())
    return Finding(
        title="Users in several cohorts",
        summary=f"{_plural(multi.height, 'user')} {_verb(multi.height, 'appears', 'appear')} under "
        "several cohorts",
        text=(
            f"{_plural(multi.height, 'user')} {_verb(multi.height, 'appears', 'appear')} under more "
            f"than one cohort id ({staff} of them "
            f"also as staff, {placeholder} through the transition placeholder): re-takes, transfers or "
            "reused accounts. Each row is judged against the cohort it names."
        ),
        value=multi.height,
        category="data quality",
    )


def _duplicates(spans: pl.DataFrame, user_ips: pl.DataFrame) -> Finding | None:
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
    return Finding(
        title="Possible duplicate identities",
        summary=f"{_plural(pairs.height, 'pair')} of accounts may be one person",
        text=(
            f"{_plural(pairs.height, 'pair')} of student accounts {_verb(pairs.height, 'shares', 'share')} "
            f"a private IP (used by at most "
            f"{DUPLICATE_MAX_IP_USERS} users) and follow each other within {DUPLICATE_MAX_GAP_DAYS} days "
            f"without ever overlapping (e.g. users {example['user_id']} and {example['user_id_b']}, "
            f"{example['gap_days']} days apart): likely one person with two user ids."
        ),
        value=pairs.height,
        category="data quality",
    )


def _growth(yearly: pl.DataFrame) -> Finding | None:
    full = yearly.filter(pl.col("full_year"))
    use = full if full.height >= 2 else yearly
    if use.height < 2:
        return None
    first, last = use.row(0, named=True), use.row(use.height - 1, named=True)
    span = last["year"] - first["year"]
    per_year = (last["views_per_day"] / first["views_per_day"]) ** (1 / span) - 1
    students = (
        f"; active students went from {first['students']:,} to {last['students']:,}"
        if full.height >= 2
        else " (partial years, so student counts are not compared)"
    )
    direction = "grew" if per_year >= 0 else "fell"
    return Finding(
        title="Year-over-year trend",
        summary=f"views per day {direction} {_round_pct(abs(per_year))} a year",
        text=(
            f"Views per day {direction} from {first['views_per_day']:,.0f} in {first['year']} to "
            f"{last['views_per_day']:,.0f} in {last['year']} ({'+' if per_year >= 0 else '-'}"
            f"{_pct(abs(per_year))} a year){students}."
        ),
        value=per_year,
        category="trend",
    )


def _weekly_peak(weekday_hour: pl.DataFrame, total: int) -> Finding | None:
    if weekday_hour.is_empty():
        return None
    days = weekday_hour.group_by("weekday", "day").agg(pl.col("views").sum()).sort("weekday")
    hours = weekday_hour.group_by("hour").agg(pl.col("views").sum()).sort("hour")
    peak_day = days.sort(["views", "weekday"], descending=[True, False]).row(0, named=True)
    peak_hour = hours.sort(["views", "hour"], descending=[True, False]).row(0, named=True)
    weekend = int(days.filter(pl.col("weekday") >= 6)["views"].sum())
    return Finding(
        title="Weekly rhythm",
        summary=f"busiest on {peak_day['day']}s at {peak_hour['hour']}:00",
        text=(
            f"Use peaks on {peak_day['day']}s ({_pct(peak_day['views'] / total)} of views) and at "
            f"{peak_hour['hour']}:00-{peak_hour['hour'] + 1}:00 ({_pct(peak_hour['views'] / total)}); "
            f"weekends carry {_pct(weekend / total)}."
        ),
        value=peak_hour["hour"],
        category="seasonality",
    )


def _holiday_dip(daily: pl.DataFrame) -> Finding | None:
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
    return Finding(
        title="Winter-holiday dip",
        summary=f"views fall {_round_pct(-change)} over the winter holidays"
        if change <= -HOLIDAY_MIN_DIP
        else f"no marked winter-holiday dip ({'+' if change >= 0 else '-'}{_round_pct(abs(change))})",
        text=(
            f"Between December 24 and January 1 the site averages {inside:,.0f} views a day against "
            f"{outside:,.0f} on the other days of December and January ({'+' if change >= 0 else '-'}"
            f"{_pct(abs(change))})."
        ),
        value=change,
        category="seasonality",
    )


def _campus_below(campus: pl.DataFrame, floor: float) -> dt.date | None:
    """First month from which the campus share stays below `floor` to the end (after being above)."""
    if campus.is_empty() or cast(float, campus["campus_share"].max()) < floor:
        return None
    above = campus.filter(pl.col("campus_share") >= floor)["month"].max()
    later = campus.filter(pl.col("month") > above)
    return later["month"][0] if later.height else None


def _campus_shift(campus: pl.DataFrame, ips: list[str], floor: float) -> Finding | None:
    if not ips:
        return Finding(
            title="Campus to remote",
            summary="no shared campus IP detected",
            text="No IP carries enough views from enough users to be a shared campus address, so the "
            "campus-to-remote shift cannot be dated.",
            value=None,
            category="campus",
        )
    overall = int(campus["campus_views"].sum()) / max(int(campus["views"].sum()), 1)
    below = _campus_below(campus, floor)
    peak = campus.sort(["campus_share", "month"], descending=[True, False]).row(0, named=True)
    when = (
        f"it fell below {_pct(floor)} in {_month(below)} and stayed there"
        if below
        else f"it never stayed below {_pct(floor)}"
    )
    return Finding(
        title="Campus to remote",
        summary=(
            f"campus IPs fell below {_round_pct(floor)} of views in {_month(below)}"
            if below
            else f"campus IPs still carry {_round_pct(overall)} of views"
        ),
        text=(
            f"{_plural(len(ips), 'shared campus IP')} {_verb(len(ips), 'carries', 'carry')} "
            f"{_pct(overall)} of all views, up to "
            f"{_pct(peak['campus_share'])} in {_month(peak['month'])}; {when}, the move to remote "
            "teaching."
        ),
        value=below.isoformat() if below else None,
        category="campus",
    )


def _quarantine(quarantine: pl.DataFrame, total: int, top_n: int) -> Finding | None:
    if quarantine.is_empty():
        return None
    reasons = (
        quarantine.group_by("reason")
        .agg(pl.len().alias("rows"))
        .sort(["rows", "reason"], descending=[True, False])
        .head(top_n)
    )
    listed = ", ".join(f"{r['reason']} {r['rows']:,}" for r in reasons.iter_rows(named=True))
    share = quarantine.height / (total + quarantine.height)
    return Finding(
        title="Quarantined rows",
        summary=f"{_plural(quarantine.height, 'source row')} quarantined",
        text=(
            f"{_plural(quarantine.height, 'source row')} ({_pct(share)}) could not be read and were set aside, "
            f"not dropped silently (by reason: {listed})."
        ),
        value=quarantine.height,
        category="quarantine",
    )


def _method(config: Config) -> str:
    q8 = config.q8
    return (
        "Each finding is computed directly from the snapshot. Rows without a cohort: bursts are runs of "
        f"months holding at least {q8.burst_min_share:.0%} of the busiest month's such rows. Staff: the "
        "cohorts named in [people] staff_cohort_names. Stub programs: programs with at most "
        f"{_pct(q8.stub_program_max_share)} of student views. Several cohorts: users seen under more "
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
