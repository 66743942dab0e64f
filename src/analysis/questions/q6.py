"""Question 6: what topics do graduates keep referencing after graduation, per program?

A view counts as an alumni reference when a student opens a lesson at least `q6.min_days_after_end` days
after the end of the cohort named on that row. Lessons and their modules (topics) are ranked per program
both by views and by distinct alumni: views show what is used heavily, distinct alumni what is used
widely (one enthusiastic graduate cannot make a topic popular). Timing (median and 90th percentile of
days after graduation) says whether it is a short tail or lasting reference use, and the share of
graduates in the data who ever came back puts the numbers in proportion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import polars as pl

from analysis.config import Config
from analysis.prepare import (
    Prepared,
    as_text,
    labels_by_cohort,
    lesson_title,
    prepare,
    student_lesson_views,
    user_addresses,
)
from analysis.results import QuestionResult, Words, data_fields, join_words
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 6
SHORT_TITLE = "What graduates keep reading"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 3
TITLE = "What topics do graduates keep referencing after graduation (per program)?"
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts, with graduates reading at a "
    "lower rate after graduation): topics and numbers illustrate the method."
)
BIN_DAYS = 30  # histogram bins of days after graduation ("months")

TOP_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "rank": pl.UInt32(),
    "rank_by_alumni": pl.UInt32(),
    "topic": pl.String(),
    "topic_title": pl.String(),  # the lesson's (or module's) title; `topic` keeps the path
    "views": pl.UInt32(),
    "alumni": pl.UInt32(),
    "median_days": pl.Float64(),
    "p90_days": pl.Float64(),
}
PROGRAM_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "graduates": pl.UInt32(),
    "alumni_readers": pl.UInt32(),
    "share_readers": pl.Float64(),
    "views": pl.UInt32(),
    "lessons": pl.UInt32(),
    "median_days": pl.Float64(),
    "p90_days": pl.Float64(),
}
HISTOGRAM_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "days_from": pl.Int64(),
    "days_to": pl.Int64(),
    "views": pl.UInt32(),
    "alumni": pl.UInt32(),
}


@dataclass(frozen=True, kw_only=True)
class Q6Data:
    """The numbers of question 6 (computed by `compute`, told by `words`)."""

    # topic = lesson path; rows kept when in the top n by views or by distinct alumni, sorted by rank
    top_lessons: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TOP_SCHEMA))
    # topic = module (first path segment of the lesson)
    top_modules: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TOP_SCHEMA))
    programs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROGRAM_SCHEMA))
    days_histogram: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=HISTOGRAM_SCHEMA)
    )
    graduates: int = 0
    alumni_readers: int = 0
    alumni_views: int = 0
    top_n: int = 10
    min_days_after_end: int = 1
    min_alumni: int = 5
    share_pct: int = 0  # alumni_readers / graduates, in whole percent: as shown
    median_days: float | None = None  # over all alumni views
    p90_days: float | None = None
    # share of the charted programs' alumni views in the first year (quarters 0-3), whole percent
    first_year_pct: int | None = None
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q6Result(QuestionResult, Q6Data):
    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Graduates who came back": table_programs(self),
            "Top topics (modules) after graduation": table_modules(self),
            "Top lessons after graduation": table_lessons(self),
        }

    def charted_programs(self) -> list[str]:
        """Programs with at least `min_alumni` returning graduates (the others show no pattern)."""
        return (
            self.programs.filter(pl.col("alumni_readers") >= self.min_alumni)
            .sort("alumni_readers", descending=True)["program"]
            .to_list()
        )

    def headline(self) -> str:
        if not self.alumni_readers:
            return "No graduate read the curriculum after graduating"
        top = self.top_modules.filter(pl.col("rank_by_alumni") == 1).sort("alumni", descending=True)
        leader = top.row(0, named=True) if top.height else None
        tail = f"; {leader['topic_title']} leads ({leader['program']})" if leader else ""
        return (
            f"{self.alumni_readers} of {self.graduates} graduates kept reading after graduating"
            + tail
        )


def table_programs(result: Q6Data) -> pl.DataFrame:
    """Per program: graduates in the data, how many came back, how much and how long after."""
    return result.programs.select(
        pl.col("program").alias("Program"),
        pl.col("graduates").alias("Graduates in the data"),
        pl.col("alumni_readers").alias("Came back after graduating"),
        (pl.col("share_readers") * 100).round(0).alias("Share (%)"),
        pl.col("views").alias("Graduates' lesson views"),
        pl.col("median_days").round(0).alias("Median days after graduation"),
    )


def table_modules(result: Q6Data) -> pl.DataFrame:
    return _top_table(result.top_modules, "Topic (module)", "Folder")


def table_lessons(result: Q6Data) -> pl.DataFrame:
    return _top_table(result.top_lessons, "Lesson", "Path")


def _top_table(top: pl.DataFrame, topic_label: str, path_label: str) -> pl.DataFrame:
    """The five topics most alumni of each program returned to (modules or lessons)."""
    return (
        top.filter(pl.col("rank_by_alumni") <= 5)
        .sort("program", "rank_by_alumni")
        .select(
            pl.col("program").alias("Program"),
            pl.col("rank_by_alumni").alias("Rank"),
            pl.col("topic_title").alias(topic_label),
            pl.col("alumni").alias("Graduates"),
            pl.col("views").alias("Graduates' views"),
            pl.col("median_days").round(0).alias("Median days after graduation"),
            pl.col("topic").alias(path_label),
        )
    )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q6Data:
    """Top lessons and modules read by alumni per program, with timing and reach."""
    prepared = prepared or prepare(snapshot, config)
    q6 = config.q6
    data_end = prepared.data_end.date()

    # students' lesson views after their cohort's end, chosen by cohort id (no role looked up per
    # row); the cohort's program and end date joined from prepare's small per-cohort table (a
    # join on the alumni rows costs less than a lookup per row of each label); the labels stay
    # Categorical (cheaper keys) and the aggregates are cast to text
    alumni_query = (
        student_lesson_views(prepared, named=True, also=pl.col("window") == "alumni")
        .select("cohort_id", "date", "lesson", "module", "user_id")
        .join(labels_by_cohort(prepared, "program", "end_date"), on="cohort_id", how="inner")
        # derived here from the two dates (the collected views leave the column out: report.py)
        .with_columns((pl.col("date") - pl.col("end_date")).dt.total_days().alias("days_after_end"))
        .filter(pl.col("days_after_end") >= q6.min_days_after_end)
        .select("program", "lesson", "module", "user_id", "days_after_end")
    )
    # graduates in the data: students seen under a cohort that ended early enough to have alumni days
    # (the cohorts chosen in the cohorts table, their students found by cohort id among the users'
    # addresses, prepare.user_addresses: no scan of the views)
    graduated = prepared.cohorts.filter(
        (pl.col("role") == "student")
        & (pl.col("end_date") <= pl.lit(data_end) - pl.duration(days=q6.min_days_after_end))
    )
    graduate_query = (
        user_addresses(prepared)
        .lazy()
        .filter(pl.col("cohort_id").is_in(graduated["cohort_id"].implode()))
        .select("cohort_id", "user_id")
        .unique()
    )
    alumni, graduate_pairs = pl.collect_all([alumni_query, graduate_query])
    graduates = (
        graduate_pairs.join(graduated.select("cohort_id", "program"), on="cohort_id")
        .group_by("program")
        .agg(pl.col("user_id").n_unique().alias("graduates"))
    )
    total_graduates = graduate_pairs.select(pl.col("user_id").n_unique().alias("graduates"))

    # the aggregates of the alumni views, planned lazily and collected together (the streaming
    # engine, in parallel: faster than one eager group-by after another)
    rows = alumni.lazy()
    top_lessons, top_modules, per_program, histogram = pl.collect_all(
        [
            _top(rows, "lesson", q6.top_n),
            _top(rows, "module", q6.top_n),
            rows.group_by("program")
            .agg(
                pl.col("user_id").n_unique().alias("alumni_readers"),
                pl.len().alias("views"),
                pl.col("lesson").n_unique().alias("lessons"),
                pl.col("days_after_end").median().alias("median_days"),
                pl.col("days_after_end").quantile(0.9, interpolation="linear").alias("p90_days"),
            )
            .pipe(as_text),
            rows.with_columns(
                ((pl.col("days_after_end") // BIN_DAYS) * BIN_DAYS)
                .cast(pl.Int64)
                .alias("days_from")
            )
            .group_by("program", "days_from")
            .agg(pl.len().alias("views"), pl.col("user_id").n_unique().alias("alumni"))
            .pipe(as_text)
            .with_columns((pl.col("days_from") + BIN_DAYS).alias("days_to"))
            .sort("program", "days_from")
            .select(HISTOGRAM_SCHEMA.keys())
            .cast(HISTOGRAM_SCHEMA),
        ]
    )
    programs = (
        graduates.join(per_program, on="program", how="full", coalesce=True)
        .with_columns(
            pl.col("graduates", "alumni_readers", "views", "lessons").fill_null(0),
        )
        .with_columns(
            pl.when(pl.col("graduates") > 0)
            .then(pl.col("alumni_readers") / pl.col("graduates"))
            .otherwise(pl.lit(None))
            .alias("share_readers"),
        )
        .sort("program")
        .select(PROGRAM_SCHEMA.keys())
        .cast(PROGRAM_SCHEMA)
    )
    n_graduates = int(total_graduates["graduates"][0]) if total_graduates.height else 0
    readers = int(alumni["user_id"].n_unique()) if alumni.height else 0

    charted = programs.filter(pl.col("alumni_readers") >= q6.min_alumni)["program"].to_list()
    charted_views = alumni.filter(pl.col("program").is_in(charted))
    first_year = (
        round(
            100
            * charted_views.filter(pl.col("days_after_end") < 4 * 3 * BIN_DAYS).height
            / charted_views.height
        )
        if charted_views.height
        else None
    )
    return Q6Data(
        top_lessons=top_lessons,
        top_modules=top_modules,
        programs=programs,
        days_histogram=histogram,
        graduates=n_graduates,
        alumni_readers=readers,
        alumni_views=alumni.height,
        top_n=q6.top_n,
        min_days_after_end=q6.min_days_after_end,
        min_alumni=q6.min_alumni,
        share_pct=round(100 * readers / n_graduates) if n_graduates else 0,
        median_days=cast(float | None, alumni["days_after_end"].median()) if readers else None,
        p90_days=alumni["days_after_end"].quantile(0.9, interpolation="linear")
        if readers
        else None,
        first_year_pct=first_year,
        simulated=prepared.simulated,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q6Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    q6 = config.q6
    data = compute(snapshot, config, prepared)
    return Q6Result(
        number=6,
        title=TITLE,
        parameters={
            "top_n": q6.top_n,
            "min_days_after_end": q6.min_days_after_end,
            "min_alumni": q6.min_alumni,
        },
        **words(data).text(),
        **data_fields(data),
    )


def words(data: Q6Data) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    answer_text, supporting = _sentences(data)
    caveats = [
        "Graduates can only come back inside the data's time range: recent cohorts have had less time "
        "to return, so their share of readers is a lower bound.",
        "A graduate who later joined another cohort counts as a graduate only on rows that name the "
        "cohort they graduated from.",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    min_days, top_n = data.min_days_after_end, data.top_n
    method = (
        "Students' lesson views dated at least "
        f"{min_days} day{'s' if min_days != 1 else ''} after the end "
        "date of the cohort named on the row are graduates' views. Per program, lessons and modules "
        "(the first segment of the lesson path, i.e. the topic) are counted by views and by "
        f"distinct graduates; the top {top_n} by views are listed, plus any lesson or module in "
        f"the top {top_n} by distinct graduates. Timing is the median and 90th percentile of days "
        "after graduation over the graduates' views. Graduates in the data are students seen under a "
        "cohort whose end date lies at least that many days before the data ends. Programs with "
        f"fewer than {data.min_alumni} returning graduates are listed in the tables but neither "
        "charted nor named in the answer: so few readers show no pattern. The topic chart shows, "
        "per program, the share of its returning graduates who opened each topic."
    )
    return Words(answer=answer_text, supporting=supporting, method=method, caveats=caveats)


def _top(alumni: pl.LazyFrame, column: str, top_n: int) -> pl.LazyFrame:
    """Per program: topics in the top n by views or by distinct alumni, ranked by views."""
    return (
        alumni.group_by("program", column)
        .agg(
            pl.len().alias("views"),
            pl.col("user_id").n_unique().alias("alumni"),
            pl.col("days_after_end").median().alias("median_days"),
            pl.col("days_after_end").quantile(0.9, interpolation="linear").alias("p90_days"),
        )
        .pipe(as_text)  # program and topic are Categorical in the alumni views
        .rename({column: "topic"})
        .with_columns(lesson_title(pl.col("topic")).alias("topic_title"))
        .sort(["program", "views", "alumni", "topic"], descending=[False, True, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("program").alias("rank"))
        .sort(["program", "alumni", "views", "topic"], descending=[False, True, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("program").alias("rank_by_alumni"))
        .filter((pl.col("rank") <= top_n) | (pl.col("rank_by_alumni") <= top_n))
        .sort("program", "rank")
        .select(TOP_SCHEMA.keys())
        .cast(TOP_SCHEMA)
    )


def _graduates_share(pct: int) -> str:
    """'Almost all graduates (98%)', 'Most graduates (70%)', 'About half of the graduates (50%)'..."""
    if pct >= 90:
        return f"Almost all graduates ({pct}%)"
    if pct >= 60:
        return f"Most graduates ({pct}%)"
    if pct >= 40:
        return f"About half of the graduates ({pct}%)"
    return f"{pct}% of graduates"


def _months(days: float) -> str:
    if days < 45:
        return f"{days:.0f} days"
    months = round(days / 30.4)
    return f"{months} months" if months < 24 else f"{days / 365.25:.0f} years"


def _sentences(data: Q6Data) -> tuple[str, list[str]]:
    programs, graduates, readers = data.programs, data.graduates, data.alumni_readers
    min_days, min_alumni = data.min_days_after_end, data.min_alumni
    if not graduates:
        return (
            f"No cohort in the data ended at least {min_days} day{'s' if min_days != 1 else ''} "
            "before the data ends, so there are no graduates to follow.",
            ["Re-run once the snapshot covers a cohort's graduation."],
        )
    if not readers:
        return (
            f"None of the {graduates} graduates in the data opened a lesson after graduating.",
            ["Graduates do not come back to the curriculum in this data."],
        )
    charted = programs.filter(pl.col("alumni_readers") >= min_alumni).sort(
        "alumni_readers", descending=True
    )
    leaders = (
        data.top_modules.filter(pl.col("rank_by_alumni") == 1)
        .join(charted.select("program", "alumni_readers"), on="program")
        .sort("alumni_readers", descending=True)
    )
    favourites = [
        f"{r['topic_title']} ({r['program']})" for r in leaders.head(3).iter_rows(named=True)
    ]
    answer_text = (
        f"{_graduates_share(data.share_pct)} came back to the curriculum after graduating"
        + (f", most often to {join_words(favourites)}" if favourites else "")
        + "."
    )
    supporting = []
    for r in leaders.head(3).iter_rows(named=True):
        row = charted.filter(pl.col("program") == r["program"]).row(0, named=True)
        supporting.append(
            f"{r['program']}: {row['alumni_readers']:,} of {row['graduates']:,} graduates came back; "
            f"{r['alumni']:,} of them opened {r['topic_title']}."
        )
    supporting.append(
        f"Half of their visits come within {_months(cast(float, data.median_days))} of graduating; "
        f"one in ten comes more than {_months(cast(float, data.p90_days))} after."
    )
    few = programs.filter((pl.col("graduates") > 0) & (pl.col("alumni_readers") < min_alumni)).sort(
        "program"
    )
    if not few.is_empty():
        supporting.append(
            "Too few returning graduates to show a pattern: "
            + join_words(
                [
                    f"{r['program']} ({r['alumni_readers']} of {r['graduates']})"
                    for r in few.iter_rows(named=True)
                ]
            )
            + "."
        )
    return answer_text, supporting[:5]


# --- the lead of the slide, the email and the summary page (publish/summary.py asks) -------------------

from analysis.results import ChartData, Lead  # noqa: E402  (kept with lead(): appended section)


def lead(result: Q6Result) -> Lead | None:
    """Without incidents, graduates who keep reading lead: graduates and returning readers per program."""
    programs = result.programs
    if programs.is_empty() or not result.graduates:
        return None
    frame = programs.sort("graduates", descending=True).head(6)
    share = round(100 * result.alumni_readers / result.graduates)
    chart = ChartData(
        title="Graduates who kept reading, by program",
        categories=[str(p) for p in frame["program"].to_list()],
        series=[
            ("Graduates", [float(v) for v in frame["graduates"].to_list()]),
            ("Kept reading", [float(v) for v in frame["alumni_readers"].to_list()]),
        ],
        colours=["#6c757d", "#1a5ba6"],
        unit="graduates",
    )
    return Lead(
        question=6,
        title=f"{share}% of graduates keep using the curriculum after graduating",
        bullet=f"{result.alumni_readers:,} of {result.graduates:,} graduates came back after graduating",
        chart=chart,
        details=[result.answer],
        numbers=[
            ("Graduates", f"{result.graduates:,}"),
            ("Came back", f"{result.alumni_readers:,}"),
        ],
    )
