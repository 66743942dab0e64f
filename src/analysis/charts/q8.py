"""Charts for question 8: monthly views by program with the campus-IP share, and the weekly rhythm
(weekday x hour heatmap)."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, HEIGHT, axis_title, finish, program_color
from analysis.questions.q8 import WEEKDAYS, Q8Result


def _numbers(result: Q8Result, kind: str) -> dict:
    """The numbers of the fact of this kind (empty when the question found none)."""
    return next((f.numbers for f in result.facts if f.kind == kind), {})


def chart_monthly(result: Q8Result) -> alt.TopLevelMixin:
    """Stacked monthly views per program, with the share of views from campus IPs as a line."""
    campus = result.campus.with_columns((pl.col("campus_share") * 100).round(1).alias("campus_pct"))
    totals = result.monthly.group_by("program").agg(pl.col("views").sum())
    programs = totals.sort("views", descending=True)["program"].to_list()
    bars = (
        alt.Chart(result.monthly)
        .mark_bar()
        .encode(
            x=alt.X("month:T", title=None, axis=alt.Axis(format="%Y", tickCount="year")),
            y=alt.Y("views:Q", title="Views", stack="zero"),
            color=program_color(programs),
            tooltip=[
                alt.Tooltip("month:T", title="Month", format="%b %Y"),
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("views:Q", title="Views", format=","),
            ],
        )
    )
    line = (
        alt.Chart(campus)
        .mark_line(color=ACCENT, point=alt.OverlayMarkDef(color=ACCENT))
        .encode(
            x=alt.X("month:T"),
            y=alt.Y(
                "campus_pct:Q",
                title=axis_title("From the campus network (%)"),
                scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(titleColor=ACCENT),
            ),
            tooltip=[
                alt.Tooltip("month:T", title="Month", format="%b %Y"),
                alt.Tooltip("campus_pct:Q", title="From campus IPs (%)"),
                alt.Tooltip("campus_views:Q", title="Campus views", format=","),
            ],
        )
    )
    chart = alt.layer(bars, line).resolve_scale(y="independent").properties(height=HEIGHT)
    below = result.campus_below_month
    campus_fact = _numbers(result, "campus")
    if below is not None and campus_fact:
        title = (
            f"Views from the campus network fell below {campus_fact['floor_pct']:g}% in "
            f"{below.strftime('%B %Y')}"
        )
    elif result.monthly.height:
        peak = (
            result.monthly.group_by("month")
            .agg(pl.col("views").sum())
            .sort(["views", "month"], descending=[True, False])
            .row(0, named=True)
        )
        title = f"Busiest month: {peak['month'].strftime('%B %Y')} with {peak['views']:,} views"
    else:
        title = "No views to chart"
    description = (
        "Stacked bars of page views per month by program, with a red line for the share of views from "
        f"the shared campus network. {title}."
    )
    return finish(chart, title, description)


def chart_weekday_hour(result: Q8Result) -> alt.TopLevelMixin:
    """Heatmap of views by weekday and hour of day."""
    data = result.weekday_hour
    chart = (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X(
                "hour:O",
                title="Hour of the day",
                axis=alt.Axis(labelExpr="datum.value % 3 == 0 ? datum.value : ''", labelAngle=0),
            ),
            y=alt.Y("day:N", title=None, sort=list(WEEKDAYS)),
            color=alt.Color("views:Q", title="Views", scale=alt.Scale(scheme="blues")),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("hour:O", title="Hour"),
                alt.Tooltip("views:Q", title="Views", format=","),
            ],
        )
        .properties(height=7 * 24)
    )
    weekly = _numbers(result, "weekly")
    if weekly:  # the weekly-rhythm finding's numbers: the busiest day and hour overall
        title = f"Busiest on {weekly['day']}s; the busiest hour is {weekly['hour']}:00"
    else:
        title = "No views to chart"
    description = (
        "Heatmap of page views by weekday (rows) and hour of day (columns); darker is busier. "
        + title
        + "."
    )
    return finish(chart, title, description)


CHARTS = [chart_monthly, chart_weekday_hour]
