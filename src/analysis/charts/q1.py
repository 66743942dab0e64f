"""Charts for question 1: the lessons every cohort puts in its top k, and the leader's rank cohort by
cohort."""

from __future__ import annotations

from typing import cast

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, axis_title, empty, finish, grouped_bars, program_color
from analysis.questions.q1 import Q1Result

TOP_LESSONS = 5  # lessons per program in the key chart


def _cohorts_phrase(row: dict) -> str:
    """'every one of the 28 Java web dev cohorts' or '26 of 28 Java web dev cohorts'."""
    if row["cohorts_top_k"] == row["cohorts"]:
        return f"all {row['cohorts']} {row['program']} cohorts"
    return f"{row['cohorts_top_k']} of {row['cohorts']} {row['program']} cohorts"


def chart_top_lessons(result: Q1Result) -> alt.TopLevelMixin:
    """Per program (biggest first), the most consistent lessons: share of cohorts with it in their top k."""
    k = result.top_k
    order = result.leaders["program"].to_list()  # biggest program first: the title's program
    if result.ranking.is_empty() or not order:
        return empty("No lesson could be ranked", result.answer)
    data = grouped_bars(
        result.ranking.filter(pl.col("rank") <= TOP_LESSONS), order, "lesson_title", "rank"
    ).select(
        "program",
        "rank",
        "lesson",
        "lesson_title",
        "bar",
        "cohorts_top_k",
        "cohorts",
        "consistency_pct",
        "median_share_pct",
        "views",
        pl.format("{} of {}", pl.col("cohorts_top_k"), pl.col("cohorts")).alias("label"),
    )
    programs = list(dict.fromkeys(data["program"].to_list()))
    lead = result.leaders.row(0, named=True)
    title = f"{lead['lesson_title']} is top {k} in {_cohorts_phrase(lead)}"
    tooltip = [
        alt.Tooltip("program:N", title="Program"),
        alt.Tooltip("lesson_title:N", title="Lesson"),
        alt.Tooltip("lesson:N", title="Path"),
        alt.Tooltip("label:N", title=f"Cohorts with it in their top {k}"),
        alt.Tooltip("median_share_pct:Q", title="Median share of a cohort's lesson views (%)"),
        alt.Tooltip("views:Q", title="Student views", format=","),
    ]
    base = alt.Chart(data).encode(
        y=alt.Y("bar:N", sort=data["bar"].to_list(), title=None),
        tooltip=tooltip,
    )
    bars = base.mark_bar().encode(
        x=alt.X(
            "consistency_pct:Q",
            title=axis_title(f"Cohorts with the lesson in their top {k} (%)"),
            scale=alt.Scale(domain=[0, 100]),
            axis=alt.Axis(values=[0, 25, 50, 75, 100]),
        ),
        color=program_color(programs),
    )
    labels = base.mark_text(align="right", dx=-4, fontSize=10, color="white").encode(
        x=alt.X("consistency_pct:Q"), text=alt.Text("label:N")
    )
    chart = alt.layer(bars, labels).properties(height=alt.Step(20))
    description = (
        f"Bar chart: for each program, the {TOP_LESSONS} lessons that most cohorts put in their top "
        f"{k}. "
        + " ".join(
            f"{r['program']}: {r['lesson_title']} is in the top {k} of {r['cohorts_top_k']} of "
            f"{r['cohorts']} cohorts."
            for r in result.leaders.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_leader_by_cohort(result: Q1Result) -> alt.TopLevelMixin:
    """Each program's most consistent lesson: its rank inside every cohort, cohorts by start date."""
    k = result.top_k
    if result.leaders.is_empty():
        return empty("No lesson could be ranked", result.answer)
    leaders = result.leaders.select("program", "lesson")
    data = (
        result.cohort_shares.join(leaders, on=["program", "lesson"], how="semi")
        .select(
            "program",
            "lesson",
            "lesson_title",
            "cohort",
            "start_date",
            "cohort_rank",
            (pl.col("share") * 100).round(1).alias("share_pct"),
            "views",
        )
        .sort("program", "start_date")
    )
    if data.is_empty():
        return empty("No cohort shares to show", result.answer)
    programs = result.leaders["program"].to_list()
    worst = int(cast(int, data["cohort_rank"].max()))
    rank_scale = alt.Scale(domain=[1, max(worst, k + 1)], reverse=True, nice=False, zero=False)
    points = (
        alt.Chart(data)
        .mark_point(filled=True, size=60, opacity=0.85)
        .encode(
            x=alt.X("start_date:T", title="Cohort start", axis=alt.Axis(format="%Y", tickCount=4)),
            y=alt.Y(
                "cohort_rank:Q",
                title=axis_title("Rank in the cohort (1 = most viewed)"),
                scale=rank_scale,
                axis=alt.Axis(tickMinStep=1, format="d"),
            ),
            color=program_color(programs),
            shape=alt.Shape("program:N", title="Program", scale=alt.Scale(domain=programs)),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("lesson_title:N", title="Lesson"),
                alt.Tooltip("lesson:N", title="Path"),
                alt.Tooltip("cohort:N", title="Cohort"),
                alt.Tooltip("start_date:T", title="Start", format="%Y-%m-%d"),
                alt.Tooltip("cohort_rank:Q", title="Rank in the cohort"),
                alt.Tooltip("share_pct:Q", title="Share of the cohort's lesson views (%)"),
            ],
        )
    )
    limit = alt.Chart(alt.Data(values=[{"rank": k + 0.5, "text": f"top {k} above this line"}]))
    line = limit.mark_rule(color=ACCENT, strokeDash=[4, 3]).encode(
        y=alt.Y("rank:Q", scale=rank_scale)
    )
    label = limit.mark_text(
        align="left", baseline="top", dx=4, dy=3, color=ACCENT, fontSize=11
    ).encode(y=alt.Y("rank:Q", scale=rank_scale), x=alt.XValue(0), text=alt.Text("text:N"))
    chart = alt.layer(points, line, label).properties(height=220)
    lead = result.leaders.row(0, named=True)
    title = (
        f"{lead['lesson_title']} stays top {k} in every {lead['program']} cohort"
        if lead["cohorts_top_k"] == lead["cohorts"]
        else f"{lead['lesson_title']} is top {k} in {_cohorts_phrase(lead)}"
    )
    description = (
        f"Dot chart, one dot per cohort in start order: the rank of each program's most consistent "
        f"lesson inside that cohort; the dashed line marks the top {k}. "
        + " ".join(
            f"{r['program']}: {r['lesson_title']}, best rank {cast(int, g['cohort_rank'].min())}, worst "
            f"{cast(int, g['cohort_rank'].max())} over {g.height} cohorts."
            for r in result.leaders.iter_rows(named=True)
            for g in [data.filter(pl.col("program") == r["program"])]
            if g.height
        )
    )
    return finish(chart, title, description)


CHARTS = [chart_top_lessons, chart_leader_by_cohort]
