"""Charts for question 4: incidents by kind and severity, the top scraping burst, the top heavy day."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, HEIGHT, WIDTH, finish
from analysis.questions.q4 import KIND_LABELS, Q4Result
from analysis.schema import INCIDENT_KINDS

_GREY = "#7f7f7f"


def _empty(message: str, description: str) -> alt.TopLevelMixin:
    """A blank chart that says why it is blank (keeps pages uniform when a kind has no incident)."""
    chart = (
        alt.Chart(alt.Data(values=[{"text": message}]))
        .mark_text(size=14, color=_GREY)
        .encode(text="text:N")
        .properties(width=WIDTH, height=80)
    )
    return finish(chart, message, description)


def chart_incidents(result: Q4Result) -> alt.TopLevelMixin:
    """One dot per incident shown: kind by severity, the most severe highlighted."""
    if result.incidents.height == 0:
        return _empty("No suspicious incidents met the thresholds", "No incidents to plot.")
    data = result.incidents.select(
        pl.col("rank"),
        pl.col("kind"),
        pl.col("kind").replace_strict(KIND_LABELS, default=pl.col("kind")).alias("kind_label"),
        pl.col("user_id"),
        pl.col("views"),
        pl.col("score"),
        pl.col("severity").round(3),
        pl.col("start").dt.strftime("%Y-%m-%d %H:%M").alias("start"),
        pl.col("evidence"),
        (pl.col("rank") == 1).alias("top"),
    )
    counts = result.summary.filter(pl.col("incidents") > 0)
    top = result.incidents.row(0, named=True)
    order = [KIND_LABELS[k] for k in INCIDENT_KINDS]
    chart = (
        alt.Chart(data)
        .mark_circle(opacity=0.75)
        .encode(
            x=alt.X("severity:Q", title="Severity (0-1, comparable across kinds)"),
            y=alt.Y("kind_label:N", title=None, sort=order),
            size=alt.Size("views:Q", title="Views", scale=alt.Scale(type="sqrt")),
            color=alt.condition("datum.top", alt.value(ACCENT), alt.value(_GREY)),
            tooltip=[
                alt.Tooltip("rank:Q", title="Rank"),
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("user_id:Q", title="User"),
                alt.Tooltip("start:N", title="From"),
                alt.Tooltip("views:Q", title="Views", format=","),
                alt.Tooltip("score:Q", title="Score (kind's unit)"),
                alt.Tooltip("evidence:N", title="Evidence"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    kinds_text = ", ".join(
        f"{row['incidents']} {row['kind'].replace('_', ' ')}"
        for row in counts.iter_rows(named=True)
    )
    title = (
        f"{result.total_incidents:,} incidents; the most severe is "
        f"{top['kind'].replace('_', ' ')} ({top['views']:,} views)"
    )
    description = (
        f"Dot plot of the {result.incidents.height} most severe of {result.total_incidents} "
        f"incidents by kind and severity, dot size the views involved. Incidents by kind (all): "
        f"{kinds_text}. The top incident, highlighted: {top['evidence']}."
    )
    return finish(chart, title, description)


def chart_scrape_timeline(result: Q4Result) -> alt.TopLevelMixin:
    """Pages per second during the top scraping burst: a machine shows a flat, dense band."""
    timeline = result.scrape_timeline
    scraping = result.incidents.filter(pl.col("kind") == "scraping")
    if timeline.height == 0 or scraping.height == 0:
        return _empty("No scraping burst detected", "No scraping burst to plot.")
    top = scraping.row(0, named=True)
    start = timeline["second"].min()
    data = timeline.select(
        ((pl.col("second") - pl.lit(start)).dt.total_seconds()).alias("seconds"),
        pl.col("second").dt.strftime("%H:%M:%S").alias("time"),
        pl.col("views"),
    )
    seconds = int(data["seconds"].max() or 0) + 1
    chart = (
        alt.Chart(data)
        .mark_bar(color=ACCENT, width=2)
        .encode(
            x=alt.X(
                "seconds:Q",
                title=f"Seconds since {start:%Y-%m-%d %H:%M:%S}",
                scale=alt.Scale(nice=False, domainMin=0),
            ),
            y=alt.Y("views:Q", title="Pages per second"),
            tooltip=[
                alt.Tooltip("time:N", title="Time"),
                alt.Tooltip("views:Q", title="Pages"),
            ],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    who = f"User {top['user_id']}"
    title = f"{who} fetched {top['views']:,} pages in {seconds:,} seconds at {start:%H:%M}"
    description = (
        f"Bar chart of pages per second during the most severe scraping burst: {top['evidence']}. "
        f"{data.height} of {seconds} seconds had at least one request, at most "
        f"{int(data['views'].max())} per second."
    )
    return finish(chart, title, description)


def chart_heavy_day(result: Q4Result) -> alt.TopLevelMixin:
    """Daily views of the top heavy-day user with their own Bollinger band; the flagged day in red."""
    series = result.heavy_day_series
    if series.height == 0:
        return _empty("No abnormally heavy day detected", "No heavy day to plot.")
    user = int(series["user_id"][0])
    flagged = series.filter(pl.col("flagged"))
    day = flagged["date"][0] if flagged.height else None
    views = int(flagged["views"][0]) if flagged.height else 0
    typical = series.filter(~pl.col("flagged"))["views"].median()
    data = series.with_columns(pl.col("date").cast(pl.String).alias("day"))
    base = alt.Chart(data).encode(x=alt.X("day:T", title="Date"))
    band = base.mark_area(opacity=0.2, color=_GREY).encode(
        y=alt.Y("lower:Q", title="Views per day"), y2="upper:Q"
    )
    mean = base.mark_line(color=_GREY, strokeDash=[4, 3]).encode(y="mean:Q")
    points = base.mark_circle(size=40).encode(
        y="views:Q",
        color=alt.condition("datum.flagged", alt.value(ACCENT), alt.value("#1f77b4")),
        tooltip=[
            alt.Tooltip("day:N", title="Date"),
            alt.Tooltip("views:Q", title="Views"),
            alt.Tooltip("mean:Q", title="Own mean", format=".1f"),
            alt.Tooltip("upper:Q", title="Upper band", format=".1f"),
        ],
    )
    chart = alt.layer(band, mean, points).properties(width=WIDTH, height=HEIGHT)
    typical_text = f"{typical:.0f}" if typical is not None else "no"
    title = f"User {user} viewed {views:,} pages on {day}, against a typical {typical_text} a day"
    description = (
        f"Daily views of user {user} over {series.height} active days with the band of their own "
        f"previous days (mean +- k standard deviations); the flagged day {day} with {views:,} views "
        f"is above the band; the median of the other days is {typical_text}."
    )
    return finish(chart, title, description)


CHARTS = [chart_incidents, chart_scrape_timeline, chart_heavy_day]
