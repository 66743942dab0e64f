"""Charts for question 3: where the flagged students sit in their program's distribution, and their
timelines against the cohort window."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, HEIGHT, WIDTH, finish, program_color
from analysis.questions.q3 import SHARE_BINS, Q3Result

TIMELINE_ROWS = 15


def _empty(title: str, message: str) -> alt.TopLevelMixin:
    chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13).encode(text="text:N")
    return finish(chart, title, message)


def chart_distribution(result: Q3Result) -> alt.TopLevelMixin:
    """Judged students by weekly lesson views as a share of their cohort's median (log bins), the
    ones who hardly use the curriculum in red: one bar per bin, so the data stays bounded."""
    if result.distribution.is_empty():
        return _empty("No student could be judged", result.answer)
    data = (
        result.distribution.group_by("bin", "share_bin", "low_usage")
        .agg(pl.col("students").sum())
        .with_columns(
            pl.when(pl.col("low_usage"))
            .then(pl.lit("Hardly uses the curriculum"))
            .otherwise(pl.lit("Within the usual range"))
            .alias("status")
        )
        .sort("bin", "low_usage")
    )
    order = [label for _, label in SHARE_BINS]
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "share_bin:O",
                sort=order,
                scale=alt.Scale(domain=order),
                title="Weekly lesson views, share of the cohort's typical student",
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("students:Q", title="Students", stack=True),
            color=alt.Color(
                "status:N",
                title=None,
                scale=alt.Scale(
                    domain=["Hardly uses the curriculum", "Within the usual range"],
                    range=[ACCENT, "#9e9e9e"],
                ),
                # whole labels, one a line: cut to fit a phone they lost their meaning
                legend=alt.Legend(orient="top", direction="vertical", labelLimit=0),
            ),
            order=alt.Order("low_usage:N"),
            tooltip=[
                alt.Tooltip("share_bin:N", title="Share of the cohort's typical student"),
                alt.Tooltip("status:N", title="Status"),
                alt.Tooltip("students:Q", title="Students", format=","),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    title = (
        f"{result.low_students} of {result.eligible_students:,} students read far less than "
        "their classmates"
    )
    description = (
        "Bar chart of judged students by their lesson views per enrolled week as a share of their "
        "cohort's median, in bins from under 5% to over 500%; students flagged as hardly using the "
        "curriculum are red. "
        + " ".join(
            f"{r['share_bin']}: {r['students']} {r['status'].lower()}."
            for r in data.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_timelines(result: Q3Result) -> alt.TopLevelMixin:
    """The students who hardly use the curriculum: first-to-last access (coloured by program) over
    their cohort window (grey). The same students, in the same order, as the page's table."""
    flagged = result.students.filter(pl.col("low_usage")).head(TIMELINE_ROWS)
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
    color = program_color(data["program"].unique(maintain_order=True).to_list())
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
        .encode(x=alt.X("start:T", title=None), x2=alt.X2("end:T"), y=y, tooltip=tooltip)
    )
    access = (
        alt.Chart(data)
        .mark_bar(height=5)
        .encode(
            x=alt.X("first_access:T"), x2=alt.X2("last_access:T"), y=y, color=color, tooltip=tooltip
        )
    )
    last = (
        alt.Chart(data)
        .mark_point(filled=True, size=40, shape="diamond")
        .encode(x=alt.X("last_access:T"), y=y, color=color, tooltip=tooltip)
    )
    chart = alt.layer(window, access, last).properties(width=WIDTH, height=alt.Step(20))
    dropouts = result.likely_dropouts
    title = (
        f"{dropouts} of the {result.low_students} students who hardly use it "
        f"{'looks like a drop-out' if dropouts == 1 else 'look like drop-outs'}"
        if dropouts
        else f"The {result.low_students} students who hardly use it, against their cohort window"
    )
    description = (
        f"Timeline chart: for each of the {flagged.height} students shown (of "
        f"{result.low_students} who hardly use the curriculum), a grey bar spans the cohort's start "
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
