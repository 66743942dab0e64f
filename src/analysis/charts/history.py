"""Trend charts: each question's headline number across the stored reports (analysis.changes.Changes).

Pure functions of the comparison's `trends` frame (one row per report, question and series): a small line
chart per question for its page, and a compact row of them for the summary page.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.changes import QUESTION_NAMES, Changes
from analysis.charts.base import ACCENT, MUTED, finish

SERIES_COLOURS = {"High tier": ACCENT, "Medium tier": "#ff7f0e", "Low tier": "#9e9e9e"}
OTHER_COLOURS = (MUTED, "#1f77b4", "#9467bd")  # series that are not tiers (e.g. Q3's two)
SMALL_HEIGHT = 120


def _trend_title(frame: pl.DataFrame, name: str) -> str:
    """The finding: the last value of the first series against the one before."""
    first = frame.get_column("series")[0]
    values = frame.filter(pl.col("series") == first).sort("data_end").get_column("value").to_list()
    if len(values) < 2:
        return f"{first}: {values[-1]:,.0f} in this first report" if values else name
    last, before = values[-1], values[-2]
    word = (
        "up from" if last > before else "down from" if last < before else "as in the last report:"
    )
    return f"{first}: {last:,.0f}, {word} {before:,.0f}"


def _line(frame: pl.DataFrame, height: int = SMALL_HEIGHT) -> alt.Chart:
    order = list(SERIES_COLOURS)
    series = sorted(
        frame.get_column("series").unique().to_list(),
        key=lambda s: (order.index(s) if s in order else len(order), s),
    )
    others = iter(OTHER_COLOURS)
    colours = [SERIES_COLOURS.get(s) or next(others, MUTED) for s in series]
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "data_end:T", title="Data up to", axis=alt.Axis(format="%d %b %Y", tickCount=4)
            ),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format=",.0f", tickMinStep=1)),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=series, range=colours),
                legend=alt.Legend(orient="top") if len(series) > 1 else None,
            ),
            tooltip=[
                alt.Tooltip("data_end:T", title="Data up to", format="%Y-%m-%d"),
                alt.Tooltip("series:N", title="Measure"),
                alt.Tooltip("value:Q", title="Value", format=",.0f"),
            ],
        )
        .properties(height=height)
    )


def chart_trend(changes: Changes, number: int) -> alt.TopLevelMixin:
    """Question `number`'s headline number(s) in every stored report, this one last."""
    frame = changes.trends.filter(pl.col("question") == number)
    name = QUESTION_NAMES.get(number, f"Question {number}")
    if frame.is_empty():
        message = "No earlier report to draw a trend from."
        chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13, color=MUTED)
        return finish(chart.encode(text="text:N").properties(height=40), name, message)
    title = _trend_title(frame, name)
    reports = frame.get_column("data_end").n_unique()
    description = f"{name}: its headline number in {reports} report(s). {title}."
    return finish(_line(frame), title, description)


def chart_trend_row(changes: Changes) -> alt.TopLevelMixin:
    """The summary's compact row: one small trend per question (those with numbers)."""
    frame = changes.trends
    numbers = sorted(frame.get_column("question").unique().to_list())
    if not numbers:
        message = "No earlier report to draw a trend from."
        chart = alt.Chart(alt.Data(values=[{"text": message}])).mark_text(size=13, color=MUTED)
        return finish(chart.encode(text="text:N").properties(height=40), "Trends", message)
    panels = [
        _line(frame.filter(pl.col("question") == n), height=70).properties(
            width=150, title=alt.TitleParams(f"Q{n} {QUESTION_NAMES.get(n, '')}", fontSize=11)
        )
        for n in numbers
    ]
    reports = frame.get_column("data_end").n_unique()
    title = f"Each question's headline number across {reports} report(s)"
    chart = alt.concat(*panels, columns=4).resolve_scale(color="independent")
    return finish(chart, title, title + ".")
