"""Charts for question 6: the topics alumni return to per program, and how long after graduation."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import WIDTH, finish, program_color
from analysis.questions.q6 import BIN_DAYS, Q6Result


def _empty(title: str, message: str) -> alt.TopLevelMixin:
    chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13).encode(text="text:N")
    return finish(chart, title, message)


def chart_top_modules(result: Q6Result) -> alt.TopLevelMixin:
    """Alumni views of the top modules, one panel per program."""
    data = result.top_modules.filter(pl.col("rank") <= result.top_n).with_columns(
        pl.col("median_days").round(0), pl.col("p90_days").round(0)
    )
    if data.is_empty():
        return _empty("No alumni lesson views", result.answer)
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("views:Q", title="Alumni lesson views"),
            y=alt.Y("topic:N", sort=alt.EncodingSortField("rank", op="min"), title=None),
            color=program_color().legend(None),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("topic:N", title="Module"),
                alt.Tooltip("views:Q", title="Alumni views", format=","),
                alt.Tooltip("alumni:Q", title="Distinct alumni"),
                alt.Tooltip("median_days:Q", title="Median days after graduation"),
                alt.Tooltip("p90_days:Q", title="90th percentile days"),
            ],
        )
        .properties(width=WIDTH - 200, height=alt.Step(16))
        .facet(
            row=alt.Row("program:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
        )
        .resolve_scale(x="independent", y="independent")
    )
    leaders = data.filter(pl.col("rank") == 1).sort("views", descending=True)
    title = "After graduation alumni return most to " + "; ".join(
        f"{r['topic']} ({r['program']})" for r in leaders.iter_rows(named=True)
    )
    description = (
        f"Bar chart per program of alumni lesson views of the top {result.top_n} modules "
        "(each program has its own scale). "
        + " ".join(
            f"{r['program']}: {r['topic']} leads with {r['views']} views by {r['alumni']} alumni."
            for r in leaders.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_days_after(result: Q6Result) -> alt.TopLevelMixin:
    """Histogram of alumni views by days after graduation (30-day bins), stacked by program."""
    data = result.days_histogram
    if data.is_empty():
        return _empty("No alumni lesson views", result.answer)
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("days_from:Q", bin="binned", title="Days after graduation"),
            x2="days_to:Q",
            y=alt.Y("views:Q", title="Alumni lesson views", stack="zero"),
            color=program_color(),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("days_from:Q", title="From day"),
                alt.Tooltip("days_to:Q", title="To day"),
                alt.Tooltip("views:Q", title="Alumni views", format=","),
                alt.Tooltip("alumni:Q", title="Distinct alumni"),
            ],
        )
        .properties(width=WIDTH, height=260)
    )
    first_bin = data.filter(pl.col("days_from") == 0)["views"].sum()
    share = first_bin / result.alumni_views if result.alumni_views else 0.0
    title = (
        f"{share * 100:.0f}% of alumni views come in the first {BIN_DAYS} days after graduation; "
        f"they continue for up to {int(data['days_to'].max()):,} days"
    )
    description = (
        f"Stacked histogram of alumni lesson views by days after graduation in {BIN_DAYS}-day bins, "
        "coloured by program. "
        + " ".join(
            f"{r['program']}: {r['views']} views by {r['alumni_readers']} alumni, median "
            f"{r['median_days'] or 0:.0f} days after graduation."
            for r in result.programs.filter(pl.col("views") > 0).iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


CHARTS = [chart_top_modules, chart_days_after]
