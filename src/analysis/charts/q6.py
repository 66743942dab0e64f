"""Charts for question 6: the topics most graduates return to per program, and how long after graduation."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import axis_title, empty, finish, grouped_bars, program_color
from analysis.questions.q6 import BIN_DAYS, Q6Result

TOPICS_PER_PROGRAM = 5


def chart_top_modules(result: Q6Result) -> alt.TopLevelMixin:
    """The topics most alumni return to, per program with enough returning graduates."""
    programs = result.charted_programs()
    top = result.top_modules.filter(
        pl.col("program").is_in(programs) & (pl.col("rank_by_alumni") <= TOPICS_PER_PROGRAM)
    ).join(result.programs.select("program", "alumni_readers"), on="program", how="left")
    data = grouped_bars(top, programs, "topic_title", "rank_by_alumni").with_columns(
        (pl.col("alumni") / pl.col("alumni_readers") * 100).round(0).alias("reach_pct"),
        pl.col("median_days").round(0),
    )
    if data.is_empty():
        return empty("Too few graduates came back to chart", result.answer)
    lead = data.row(0, named=True)
    title = f"{lead['program']} graduates return most to {lead['topic_title']}"
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "reach_pct:Q",
                title=axis_title("Returning graduates who opened the topic (%)"),
                scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(values=[0, 25, 50, 75, 100]),
            ),
            y=alt.Y("bar:N", sort=data["bar"].to_list(), title=None),
            color=program_color(programs),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("topic_title:N", title="Topic"),
                alt.Tooltip("topic:N", title="Folder"),
                alt.Tooltip("alumni:Q", title="Graduates who opened it", format=","),
                alt.Tooltip("alumni_readers:Q", title="Returning graduates", format=","),
                alt.Tooltip("views:Q", title="Graduates' views", format=","),
                alt.Tooltip("median_days:Q", title="Median days after graduation"),
            ],
        )
        .properties(height=alt.Step(20))
    )
    leaders = data.filter(pl.col("rank_by_alumni") == 1)
    description = (
        f"Bar chart: for each program, the {TOPICS_PER_PROGRAM} topics the most graduates came back "
        "to, as a share of the program's returning graduates. "
        + " ".join(
            f"{r['program']}: {r['topic_title']}, opened by {r['alumni']} of the {r['alumni_readers']} "
            "returning graduates."
            for r in leaders.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_days_after(result: Q6Result) -> alt.TopLevelMixin:
    """Alumni views by quarter after graduation (the 30-day bins summed by three), stacked by program."""
    programs = result.charted_programs()
    data = (
        result.days_histogram.filter(pl.col("program").is_in(programs))
        .with_columns((pl.col("days_from") // (BIN_DAYS * 3)).cast(pl.Int64).alias("quarter"))
        .group_by("program", "quarter")
        .agg(pl.col("views").sum().alias("views"))
        .with_columns(
            (pl.col("quarter") / 4).alias("years_from"),
            ((pl.col("quarter") + 1) / 4).alias("years_to"),
            pl.format("{} to {} months", pl.col("quarter") * 3, pl.col("quarter") * 3 + 3).alias(
                "period"
            ),
        )
        .sort("program", "quarter")
    )
    if data.is_empty():
        return empty("Too few graduates came back to chart", result.answer)
    title = (
        f"{result.first_year_pct}% of graduates' reading happens in the first year after graduation"
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "years_from:Q",
                bin="binned",
                title="Years after graduation",
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            x2=alt.X2("years_to:Q"),
            y=alt.Y("views:Q", title="Graduates' lesson views", stack="zero"),
            color=program_color(programs),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("period:N", title="After graduation"),
                alt.Tooltip("views:Q", title="Graduates' views", format=","),
            ],
        )
        .properties(height=240)
    )
    description = (
        f"Stacked bar chart of graduates' lesson views by quarter after graduation, per program: {title}. "
        + " ".join(
            f"{r['program']}: {r['views']:,} views by {r['alumni_readers']} graduates, half of them "
            f"within {r['median_days'] or 0:.0f} days."
            for r in result.programs.filter(pl.col("program").is_in(programs)).iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


CHARTS = [chart_top_modules, chart_days_after]
