"""Charts for question 3: where the flagged students sit in their program's distribution, and their
timelines against the cohort window."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, WIDTH, finish, program_color
from analysis.questions.q3 import Q3Result

TIMELINE_ROWS = 15


def _empty(title: str, message: str) -> alt.TopLevelMixin:
    chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13).encode(text="text:N")
    return finish(chart, title, message)


def chart_distribution(result: Q3Result) -> alt.TopLevelMixin:
    """Every judged student's lesson views per enrolled week, one row per program, low users in red."""
    data = result.distribution.with_columns(
        pl.when(pl.col("low_usage"))
        .then(pl.lit("Low usage"))
        .otherwise(pl.lit("Within range"))
        .alias("status"),
        pl.col("views_per_week").round(2),
        pl.col("robust_z").round(2),
    )
    if data.is_empty():
        return _empty("No student could be judged", result.answer)
    tooltip = [
        alt.Tooltip("user_id:N", title="User"),
        alt.Tooltip("cohort:N", title="Cohort"),
        alt.Tooltip("program:N", title="Program"),
        alt.Tooltip("views:Q", title="Lesson views enrolled", format=","),
        alt.Tooltip("views_per_week:Q", title="Per enrolled week"),
        alt.Tooltip("robust_z:Q", title="Robust z vs cohort"),
        alt.Tooltip("status:N", title="Status"),
    ]
    base = (
        alt.Chart(data)
        .transform_calculate(jitter="random()")
        .encode(
            x=alt.X(
                "views_per_week:Q",
                title="Lesson views per enrolled week (symlog scale)",
                scale=alt.Scale(type="symlog"),
            ),
            y=alt.Y("program:N", title=None),
            yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-0.3, 1.3])),
            tooltip=tooltip,
        )
    )
    normal = (
        base.transform_filter(alt.datum.status == "Within range")
        .mark_circle(size=28, opacity=0.45)
        .encode(color=program_color())
    )
    low = base.transform_filter(alt.datum.status == "Low usage").mark_point(
        size=60, shape="triangle-down", color=ACCENT, filled=True, opacity=0.9
    )
    chart = alt.layer(normal, low).properties(width=WIDTH, height=alt.Step(70))
    title = (
        f"{result.low_students} of {result.eligible_students} students read far less than their "
        "cohort (red)"
    )
    description = (
        "Strip chart per program of lesson views per enrolled week for every judged student; students "
        f"with robust z at most {result.threshold_z:g} against their cohort, or with no lesson view "
        "while enrolled, are red triangles. "
        + " ".join(
            f"{r['program']}: {r['low_usage']} of {r['students']} low, median "
            f"{r['median_views_per_week']:.1f} views per week."
            for r in result.by_program.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_timelines(result: Q3Result) -> alt.TopLevelMixin:
    """Flagged students' first-to-last access (coloured by program) over their cohort window (grey)."""
    flagged = result.students.head(TIMELINE_ROWS)
    if flagged.is_empty():
        return _empty("No student was flagged", result.answer)
    data = flagged.select(
        (
            pl.col("user_id").cast(pl.String)
            + pl.lit(" (")
            + pl.col("cohort").fill_null("?")
            + pl.lit(")")
        ).alias("student"),
        pl.int_range(pl.len()).alias("order"),
        "program",
        "pattern",
        "views",
        pl.col("start_date").cast(pl.Datetime("us")).alias("start"),
        pl.col("end_date").cast(pl.Datetime("us")).alias("end"),
        "first_access",
        "last_access",
    )
    y = alt.Y("student:N", sort=alt.EncodingSortField("order", op="min"), title=None)
    tooltip = [
        alt.Tooltip("student:N", title="User (cohort)"),
        alt.Tooltip("pattern:N", title="Pattern"),
        alt.Tooltip("views:Q", title="Lesson views enrolled"),
        alt.Tooltip("start:T", title="Cohort start", format="%Y-%m-%d"),
        alt.Tooltip("end:T", title="Cohort end", format="%Y-%m-%d"),
        alt.Tooltip("first_access:T", title="First access", format="%Y-%m-%d"),
        alt.Tooltip("last_access:T", title="Last access", format="%Y-%m-%d"),
    ]
    window = (
        alt.Chart(data)
        .mark_bar(color="#dddddd", height=12)
        .encode(x=alt.X("start:T", title=None), x2="end:T", y=y, tooltip=tooltip)
    )
    access = (
        alt.Chart(data)
        .mark_bar(height=5)
        .encode(x="first_access:T", x2="last_access:T", y=y, color=program_color(), tooltip=tooltip)
    )
    last = (
        alt.Chart(data)
        .mark_point(filled=True, size=40, shape="diamond")
        .encode(x="last_access:T", y=y, color=program_color(), tooltip=tooltip)
    )
    chart = alt.layer(window, access, last).properties(width=WIDTH, height=alt.Step(20))
    counts = flagged.group_by("pattern").len().sort("len", "pattern", descending=[True, False])
    top = counts.row(0, named=True) if counts.height else {"pattern": "", "len": 0}
    title = (
        f"Flagged students' access vs their cohort window: {top['len']} of {flagged.height} shown "
        f"are '{top['pattern'].lower()}'"
    )
    description = (
        "Timeline chart: for each of the first flagged students, a grey bar spans the cohort's start "
        "to end date and a coloured bar spans the student's first to last access (a diamond marks "
        "the last access). "
        + "; ".join(
            f"user {r['user_id']} ({r['cohort']}): {r['pattern'].lower()}, "
            f"{r['first_access']:%Y-%m-%d} to {r['last_access']:%Y-%m-%d}"
            for r in flagged.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


CHARTS = [chart_distribution, chart_timelines]
