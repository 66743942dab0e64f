"""Chart for question 2: the flagged cohorts' reading of a lesson against their peers'."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import WIDTH, finish, program_color
from analysis.questions.q2 import Q2Result

PEER_COLOR = "#9e9e9e"


def chart_cases(result: Q2Result) -> alt.TopLevelMixin:
    """Dumbbell: views per student of the flagged cohort (program colour) vs the other cohorts (grey)."""
    cases = result.cases
    if cases.is_empty():
        message = result.answer
        chart = (
            alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13).encode(text="text:N")
        )
        return finish(chart, "No cohort stands out on any lesson", message)
    data = cases.select(
        pl.format("{} · {}", pl.col("cohort"), pl.col("lesson_title")).alias("case"),
        "program",
        "cohort",
        "lesson",
        "lesson_title",
        pl.col("rate_without_top").round(1),
        pl.col("activity_factor").round(2),
        pl.col("adjusted_rate").round(1),
        pl.col("peer_rate").round(1),
        pl.col("ratio_without_top").round(1).alias("ratio"),
        "views",
        "students",
    )
    order = data["case"].to_list()
    tooltip = [
        alt.Tooltip("cohort:N", title="Cohort"),
        alt.Tooltip("program:N", title="Program"),
        alt.Tooltip("lesson_title:N", title="Lesson"),
        alt.Tooltip("lesson:N", title="Path"),
        alt.Tooltip("views:Q", title="Views while enrolled", format=","),
        alt.Tooltip("students:Q", title="Students"),
        alt.Tooltip("rate_without_top:Q", title="Views per student (heaviest reader left out)"),
        alt.Tooltip("activity_factor:Q", title="Allowance for a busier cohort"),
        alt.Tooltip("adjusted_rate:Q", title="Views per student, allowance made"),
        alt.Tooltip("peer_rate:Q", title="Other cohorts, views per student"),
        alt.Tooltip("ratio:Q", title="Times the other cohorts"),
    ]
    base = alt.Chart(data).encode(y=alt.Y("case:N", sort=order, title=None), tooltip=tooltip)
    # the cohort's dot is its rate with the allowance made, so the gap is the ratio the text shows
    rule = base.mark_rule(color=PEER_COLOR, strokeWidth=2).encode(
        x=alt.X(
            "peer_rate:Q", title="Views of the lesson per student while enrolled (allowance made)"
        ),
        x2=alt.X2("adjusted_rate:Q"),
    )
    peers = base.mark_point(filled=True, size=70, color=PEER_COLOR).encode(x=alt.X("peer_rate:Q"))
    cohort = base.mark_point(filled=True, size=110).encode(
        x=alt.X("adjusted_rate:Q"),
        color=program_color(data["program"].unique(maintain_order=True).to_list()),
    )
    chart = alt.layer(rule, peers, cohort).properties(width=WIDTH - 200, height=alt.Step(22))
    top = cases.row(0, named=True)
    ratio = top["ratio_without_top"]
    how = f"{ratio:.1f}x as much as other cohorts" if ratio is not None else "far more than others"
    title = f"{top['cohort']} read {top['lesson_title']} {how}"
    description = (
        "Dot plot of the strongest over-use cases: for each cohort and lesson, the cohort's views per "
        "student while enrolled, heaviest reader left out and allowing for how much the cohort reads "
        "overall (coloured dot), against the other cohorts of its program (grey dot). "
        + " ".join(
            f"{r['cohort']} on {r['lesson_title']}: {r['adjusted_rate']:.1f} vs "
            f"{r['peer_rate'] or 0:.1f}, {r['ratio_without_top']:.1f} times."
            for r in cases.iter_rows(named=True)
        )
    )
    return finish(chart, title, description)


CHARTS = [chart_cases]
