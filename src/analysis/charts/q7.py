"""Charts for question 7: how many views lessons get per program, and what the one-hit long tail is."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, axis_title, empty, finish, program_color
from analysis.questions.q7 import Q7Result

# Short names of the long tail's kinds for the chart's axis (the table has the full ones).
SHORT_KINDS: dict[str, str] = {
    "lesson_variant": "Spelling variant of a lesson",
    "renamed_or_typo_page": "Unknown page, known module",
    "unknown_module": "Unknown module",
    "navigation_variant": "Navigation variant",
    "asset": "Image or file",
    "probe": "Attack probe",
    "empty": "Missing path",
}


def chart_lesson_views(result: Q7Result) -> alt.TopLevelMixin:
    """Lessons per program by how many student views they got (bins), rarely read lessons first."""
    data = result.lesson_views
    if data.is_empty():
        return empty("No lesson clears the volume floor", result.answer)
    programs = (
        data.group_by("program")
        .agg(pl.col("lessons").sum())
        .sort("lessons", descending=True)["program"]
        .to_list()
    )
    labels = data.sort("bin")["label"].unique(maintain_order=True).to_list()
    rare = data.filter(pl.col("bin") == 0)
    title = (
        f"{result.rare_lessons:,} of {result.ranked_lessons:,} lessons were opened only "
        f"{result.rare_label.replace('-', ' to ')} times"
        if result.rare_lessons
        else f"Every ranked lesson was opened more than {result.rare_label.replace('-', ' to ')} times"
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "label:N",
                sort=labels,
                title=axis_title("Student views of the lesson"),
                axis=alt.Axis(labelAngle=0),
            ),
            xOffset=alt.XOffset("program:N", sort=programs),
            y=alt.Y("lessons:Q", title="Lessons"),
            color=program_color(programs),
            tooltip=[
                alt.Tooltip("program:N", title="Program"),
                alt.Tooltip("label:N", title="Student views"),
                alt.Tooltip("lessons:Q", title="Lessons", format=","),
            ],
        )
        .properties(height=240)
    )
    description = (
        "Grouped bar chart of lessons per program by how many student views they received. "
        + " ".join(
            f"{p}: {int(rare.filter(pl.col('program') == p)['lessons'].sum())} of "
            f"{int(data.filter(pl.col('program') == p)['lessons'].sum())} lessons opened only "
            f"{labels[0].replace('-', ' to ')} times."
            for p in programs
        )
    )
    return finish(chart, title, description)


def chart_long_tail(result: Q7Result) -> alt.TopLevelMixin:
    """What the paths hit exactly once are: one bar per kind."""
    data = result.long_tail.select(
        "kind",
        pl.col("kind").replace_strict(SHORT_KINDS, default=pl.col("label")).alias("short"),
        "label",
        "paths",
        (pl.col("share") * 100).round(1).alias("share_pct"),
    )
    if data.is_empty():
        return empty("No path was hit only once", result.headline())
    chart = (
        alt.Chart(data)
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("paths:Q", title="Paths requested only once"),
            y=alt.Y("short:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("label:N", title="Kind"),
                alt.Tooltip("paths:Q", title="Paths", format=","),
                alt.Tooltip("share_pct:Q", title="Share of one-hit paths (%)"),
            ],
        )
        .properties(height=alt.Step(24))
    )
    top = data.sort("paths", descending=True).row(0, named=True)
    title = (
        f"{result.single_hit_pct}% of paths were requested only once; the largest "
        f"group: {top['short'].lower()}"
    )
    description = (
        f"Bar chart of the {result.single_hit_paths:,} paths (of {result.distinct_paths:,}) requested "
        "exactly once in the whole log, by kind: "
        + "; ".join(f"{r['label']} {r['paths']:,}" for r in data.iter_rows(named=True))
        + "."
    )
    return finish(chart, title, description)


CHARTS = [chart_lesson_views, chart_long_tail]
