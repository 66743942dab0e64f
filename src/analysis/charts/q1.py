"""Charts for question 1: consistency against raw volume, and each top lesson's share per cohort."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import WIDTH, finish, program_color
from analysis.questions.q1 import Q1Result

TOP_LESSONS = 8


def _empty(title: str, message: str) -> alt.TopLevelMixin:
    chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=14).encode(text="text:N")
    return finish(chart, title, message)


def chart_consistency(result: Q1Result) -> alt.TopLevelMixin:
    """Per program, the most consistent lessons: share of cohorts with the lesson in their top k."""
    k = result.top_k
    data = result.ranking.filter(pl.col("rank") <= TOP_LESSONS).select(
        "program",
        "rank",
        "lesson",
        "cohorts_top_k",
        "cohorts",
        (pl.col("consistency") * 100).round(1).alias("consistency_pct"),
        (pl.col("median_share") * 100).round(2).alias("median_share_pct"),
        "views",
        "volume_rank",
        pl.format("{} views", pl.col("views")).alias("views_label"),
    )
    if data.is_empty():
        return _empty("No lesson could be ranked", result.answer)
    lead = result.leaders.sort("cohorts", descending=True).row(0, named=True)
    title = (
        f"{lead['lesson']} is in the top {k} of {lead['cohorts_top_k']} of {lead['cohorts']} "
        f"{lead['program']} cohorts"
    )
    tooltip = [
        alt.Tooltip("lesson:N", title="Lesson"),
        alt.Tooltip("cohorts_top_k:Q", title=f"Cohorts with it in top {k}"),
        alt.Tooltip("cohorts:Q", title="Cohorts"),
        alt.Tooltip("median_share_pct:Q", title="Median share of a cohort's views (%)"),
        alt.Tooltip("views:Q", title="Student views (raw)", format=","),
        alt.Tooltip("volume_rank:Q", title="Rank by raw views"),
    ]
    base = alt.Chart(data).encode(
        y=alt.Y(
            "lesson:N", sort=alt.EncodingSortField("rank", op="min", order="ascending"), title=None
        ),
        tooltip=tooltip,
    )
    bars = base.mark_bar().encode(
        x=alt.X(
            "consistency_pct:Q",
            title=f"Cohorts with the lesson in their top {k} (%)",
            scale=alt.Scale(domain=[0, 100]),
        ),
        color=program_color().legend(None),
    )
    labels = base.mark_text(align="left", dx=4, fontSize=10, color="#444").encode(
        x="consistency_pct:Q",
        text=alt.Text("views_label:N"),
    )
    chart = (
        alt.layer(bars, labels)
        .properties(width=WIDTH - 160, height=alt.Step(16))
        .facet(
            row=alt.Row("program:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
        )
        .resolve_scale(y="independent")
    )
    description = (
        f"Bar chart per program of the {TOP_LESSONS} most consistent lessons: the share of cohorts in "
        f"which each lesson is among the top {k}, labelled with its raw student views. "
        + " ".join(
            f"{r['program']}: {r['lesson']} in {r['cohorts_top_k']} of {r['cohorts']} cohorts, "
            f"most viewed overall {r['volume_leader']}."
            for r in result.leaders.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


def chart_cohort_heatmap(result: Q1Result) -> alt.TopLevelMixin:
    """Lesson x cohort heatmap of each top lesson's share of the cohort's lesson views."""
    data = result.cohort_shares.join(
        result.ranking.select("program", "lesson", "rank"), on=["program", "lesson"], how="left"
    ).select(
        "program",
        "cohort",
        pl.col("start_date").cast(pl.String).alias("start"),
        "lesson",
        "rank",
        (pl.col("share") * 100).round(2).alias("share_pct"),
        "views",
        "cohort_rank",
    )
    if data.is_empty():
        return _empty("No cohort shares to show", result.answer)
    panels = []
    for program in sorted(data["program"].unique().to_list()):
        subset = data.filter(pl.col("program") == program).sort("start", "cohort")
        panels.append(
            alt.Chart(subset)
            .mark_rect()
            .encode(
                x=alt.X(
                    "cohort:N",
                    sort=subset["cohort"].unique(maintain_order=True).to_list(),
                    title=f"{program} cohorts (by start date)",
                ),
                y=alt.Y(
                    "lesson:N",
                    sort=alt.EncodingSortField("rank", op="min", order="ascending"),
                    title=None,
                ),
                color=alt.Color(
                    "share_pct:Q",
                    title="Share (%)",
                    scale=alt.Scale(scheme="blues"),
                ),
                tooltip=[
                    alt.Tooltip("cohort:N", title="Cohort"),
                    alt.Tooltip("start:N", title="Start"),
                    alt.Tooltip("lesson:N", title="Lesson"),
                    alt.Tooltip("share_pct:Q", title="Share (%)"),
                    alt.Tooltip("views:Q", title="Views", format=","),
                    alt.Tooltip("cohort_rank:Q", title="Rank in cohort"),
                ],
            )
            .properties(width=alt.Step(14), height=alt.Step(16))
        )
    chart = alt.vconcat(*panels).resolve_scale(color="independent")
    lead = (
        result.leaders.sort("cohorts", descending=True).row(0, named=True)
        if not result.leaders.is_empty()
        else None
    )
    title = (
        f"{lead['lesson']} takes a median {lead['median_share'] * 100:.1f}% of a {lead['program']} "
        "cohort's lesson views"
        if lead
        else "Share of each cohort's lesson views"
    )
    description = (
        "Heatmap per program: rows are the most consistent lessons, columns the cohorts in start order, "
        "colour the lesson's share of that cohort's lesson views."
    )
    return finish(chart, title, description)


CHARTS = [chart_consistency, chart_cohort_heatmap]
