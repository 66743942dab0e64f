"""Charts for question 6: the topics most graduates return to per program, and how long after graduation."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import axis_title, empty, finish, program_color
from analysis.questions.q6 import BIN_DAYS, Q6Result

TOPICS_PER_PROGRAM = 5
MONTHS_SHOWN = 24  # histogram months after graduation; later views are summed into the last bar


def chart_top_modules(result: Q6Result) -> alt.TopLevelMixin:
    """The topics most alumni return to, per program with enough returning graduates."""
    programs = result.charted_programs()
    data = (
        result.top_modules.filter(
            pl.col("program").is_in(programs) & (pl.col("rank_by_alumni") <= TOPICS_PER_PROGRAM)
        )
        .with_columns(
            pl.col("program")
            .replace_strict({p: i for i, p in enumerate(programs)}, default=len(programs))
            .cast(pl.Int64)
            .alias("program_order")
        )
        .sort("program_order", "rank_by_alumni")
        .with_columns(
            # a topic can lead in two programs: zero-width spaces keep the bars apart
            (
                pl.col("topic") + pl.lit("\u200b").repeat_by(pl.col("program_order")).list.join("")
            ).alias("bar"),
            pl.col("median_days").round(0),
        )
    )
    if data.is_empty():
        return empty("Too few graduates came back to chart", result.answer)
    lead = data.row(0, named=True)
    title = f"{lead['program']} graduates return most to {lead['topic']}"
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("alumni:Q", title=axis_title("Graduates who came back to the topic")),
            y=alt.Y("bar:N", sort=data["bar"].to_list(), title=None),
            color=program_color(programs),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("topic:N", title="Topic"),
                alt.Tooltip("alumni:Q", title="Graduates", format=","),
                alt.Tooltip("views:Q", title="Alumni views", format=","),
                alt.Tooltip("median_days:Q", title="Median days after graduation"),
            ],
        )
        .properties(height=alt.Step(20))
    )
    leaders = data.filter(pl.col("rank_by_alumni") == 1)
    description = (
        f"Bar chart: for each program, the {TOPICS_PER_PROGRAM} topics the most graduates came back "
        "to. "
        + " ".join(
            f"{r['program']}: {r['topic']}, opened by {r['alumni']} graduates after graduating."
            for r in leaders.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_days_after(result: Q6Result) -> alt.TopLevelMixin:
    """Alumni views by month after graduation (30-day bins), stacked by program."""
    programs = result.charted_programs()
    data = (
        result.days_histogram.filter(pl.col("program").is_in(programs))
        .with_columns(
            (pl.col("days_from") // BIN_DAYS + 1)
            .clip(upper_bound=MONTHS_SHOWN)
            .cast(pl.Int64)
            .alias("month")
        )
        .group_by("program", "month")
        .agg(pl.col("views").sum().alias("views"))
        .sort("program", "month")
    )
    if data.is_empty():
        return empty("Too few graduates came back to chart", result.answer)
    total = int(data["views"].sum())
    first = int(data.filter(pl.col("month") == 1)["views"].sum())
    share = first / total if total else 0.0
    title = f"{share * 100:.0f}% of alumni reading happens in the first month after graduation"
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "month:O",
                title=axis_title(f"Month after graduation ({MONTHS_SHOWN}: that month and later)"),
                axis=alt.Axis(labelExpr="datum.value % 3 == 1 ? datum.value : ''", labelAngle=0),
            ),
            y=alt.Y("sum(views):Q", title="Alumni lesson views", stack="zero"),
            color=program_color(programs),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("month:O", title="Month after graduation"),
                alt.Tooltip("sum(views):Q", title="Alumni views", format=","),
            ],
        )
        .properties(height=240)
    )
    description = (
        f"Stacked bar chart of alumni lesson views by month after graduation, per program: {title}. "
        + " ".join(
            f"{r['program']}: {r['views']:,} views by {r['alumni_readers']} graduates, half of them "
            f"within {r['median_days'] or 0:.0f} days."
            for r in result.programs.filter(pl.col("program").is_in(programs)).iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


CHARTS = [chart_top_modules, chart_days_after]
