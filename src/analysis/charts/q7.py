"""Charts for question 7: the least accessed real lessons per program, and the one-hit long tail."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, WIDTH, finish, program_color
from analysis.questions.q7 import Q7Result


def _empty(title: str, message: str) -> alt.TopLevelMixin:
    chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13).encode(text="text:N")
    return finish(chart, title, message)


def chart_least_accessed(result: Q7Result) -> alt.TopLevelMixin:
    """Bars of student views for the bottom lessons of each program (above the volume floor)."""
    data = result.least_accessed
    if data.is_empty():
        return _empty("No lesson clears the volume floor", result.answer)
    tooltip = [
        alt.Tooltip("program:N", title="Program"),
        alt.Tooltip("lesson:N", title="Lesson"),
        alt.Tooltip("views:Q", title="Student views", format=","),
        alt.Tooltip("users:Q", title="Students"),
        alt.Tooltip("cohorts:Q", title="Cohorts"),
    ]
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("views:Q", title="Student views"),
            y=alt.Y("lesson:N", sort=alt.EncodingSortField("rank", op="min"), title=None),
            color=program_color().legend(None),
            tooltip=tooltip,
        )
        .properties(width=WIDTH - 200, height=alt.Step(16))
        .facet(
            row=alt.Row("program:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
        )
        .resolve_scale(x="independent", y="independent")
    )
    bottoms = data.filter(pl.col("rank") == 1).sort("program")
    title = (
        "Least accessed: "
        + "; ".join(
            f"{r['lesson']} ({r['views']} views, {r['program']})"
            for r in bottoms.head(2).iter_rows(named=True)
        )
        + ("; ..." if bottoms.height > 2 else "")
    )
    description = (
        f"Bar chart per program of the lessons with the fewest student views among lessons with at "
        f"least {result.min_views} views. "
        + " ".join(
            f"{r['program']}: {r['lesson']} {r['views']} views by {r['users']} students."
            for r in bottoms.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_long_tail(result: Q7Result) -> alt.TopLevelMixin:
    """What the paths hit exactly once are: one bar per kind."""
    data = result.long_tail.select(
        "label", "paths", (pl.col("share") * 100).round(1).alias("share_pct"), "examples"
    )
    if data.is_empty():
        return _empty("No path was hit only once", result.headline())
    chart = (
        alt.Chart(data)
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("paths:Q", title="Paths hit exactly once"),
            y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=340)),
            tooltip=[
                alt.Tooltip("label:N", title="Kind"),
                alt.Tooltip("paths:Q", title="Paths", format=","),
                alt.Tooltip("share_pct:Q", title="Share of one-hit paths (%)"),
                alt.Tooltip("examples:N", title="Examples"),
            ],
        )
        .properties(width=WIDTH - 240, height=alt.Step(22))
    )
    title = (
        f"{result.single_hit_share * 100:.0f}% of paths ({result.single_hit_paths:,} of "
        f"{result.distinct_paths:,}) were hit only once"
    )
    description = "Bar chart of the paths hit exactly once in the whole log, by kind: " + "; ".join(
        f"{r['label']} {r['paths']}" for r in data.iter_rows(named=True)
    )
    return finish(chart, title, description)


CHARTS = [chart_least_accessed, chart_long_tail]
