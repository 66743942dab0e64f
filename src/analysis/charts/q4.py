"""Charts for question 4: incidents per tier and kind, when the urgent ones happened, the top automated
download minute by minute, and the top heavy day against the person's usual day. Every chart is built
from aggregates (counts per kind, one mark per incident of the high tier, per-minute or per-day bins),
so its size is bounded whatever the log size."""

from __future__ import annotations

from typing import Any, cast

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, HEIGHT, WIDTH, finish
from analysis.questions.q4 import KIND_LABELS, KINDS, TIER_LABELS, TIERS, Q4Result

_GREY = "#7f7f7f"
TIER_COLOURS = {"high": ACCENT, "medium": "#ff7f0e", "low": "#bdbdbd"}


def _empty(message: str, description: str) -> alt.TopLevelMixin:
    """A blank chart that says why it is blank."""
    chart = (
        alt.Chart(alt.Data(values=[{"text": message}]))
        .mark_text(size=14, color=_GREY)
        .encode(text="text:N")
        .properties(width=WIDTH, height=80)
    )
    return finish(chart, message, description)


def _ticks(top: int) -> list[int]:
    """0, 1, 2, 5, 10, 20, 50 ... up to `top`: readable ticks on a symlog axis."""
    ticks, step = [0], 1
    while step <= max(top, 1):
        ticks += [v for v in (step, 2 * step, 5 * step) if v <= max(top, 1)]
        step *= 10
    return ticks


def chart_tiers(result: Q4Result) -> alt.TopLevelMixin:
    """Incidents per kind, coloured by tier (only kinds and tiers that occur)."""
    data = result.summary.filter(pl.col("incidents") > 0).select(
        pl.col("kind").replace_strict(KIND_LABELS, default=pl.col("kind")).alias("kind"),
        pl.col("tier").replace_strict(TIER_LABELS, default=pl.col("tier")).alias("tier"),
        pl.col("incidents"),
    )
    if data.height == 0:
        return _empty("No suspicious incidents", "No incidents to plot.")
    tiers = [TIER_LABELS[t] for t in TIERS if TIER_LABELS[t] in set(data["tier"])]
    kinds = [KIND_LABELS[k] for k in KINDS if KIND_LABELS[k] in set(data["kind"])]
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("kind:N", title=None, sort=kinds),
            # one bar per tier (side by side, not stacked) on a symlog scale: one High incident
            # stays visible beside dozens of Low ones
            yOffset=alt.YOffset("tier:N", sort=tiers),
            x=alt.X(
                "incidents:Q",
                title="Incidents",
                stack=None,
                scale=alt.Scale(type="symlog"),
                axis=alt.Axis(values=_ticks(int(cast(int, data["incidents"].max())))),
            ),
            color=alt.Color(
                "tier:N",
                title="Tier",
                sort=tiers,
                scale=alt.Scale(
                    domain=tiers,
                    range=[TIER_COLOURS[t] for t in TIERS if TIER_LABELS[t] in tiers],
                ),
            ),
            tooltip=[
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("tier:N", title="Tier"),
                alt.Tooltip("incidents:Q", title="Incidents"),
            ],
        )
        .properties(width=WIDTH, height=max(80, 24 * len(kinds) * len(tiers)))
    )
    high, medium = result.count("high"), result.count("medium")
    title = f"{high:,} in the High tier need action now; {medium:,} more are worth a look"
    text = "; ".join(
        f"{row['kind']} ({row['tier'].lower()}): {row['incidents']}"
        for row in data.iter_rows(named=True)
    )
    return finish(
        chart,
        title,
        f"Bar chart of incidents per kind, coloured by tier, on a scale that keeps small counts "
        f"visible. {text}.",
    )


def chart_high_timeline(result: Q4Result) -> alt.TopLevelMixin:
    """When each high-tier incident happened (one dot per incident, sized by pages)."""
    high = result.incidents.filter(pl.col("tier") == "high")
    if high.height == 0:
        return _empty("No incident needs action now", "No high-tier incident to plot.")
    data = high.select(
        pl.col("rank"),
        pl.col("kind").replace_strict(KIND_LABELS, default=pl.col("kind")).alias("kind"),
        pl.col("start").dt.strftime("%Y-%m-%d").alias("day"),
        pl.col("views"),
        pl.col("evidence"),
    )
    kinds = [KIND_LABELS[k] for k in KINDS if KIND_LABELS[k] in set(data["kind"])]
    chart = (
        alt.Chart(data)
        .mark_circle(color=ACCENT, opacity=0.8)
        .encode(
            x=alt.X("day:T", title="Date"),
            y=alt.Y("kind:N", title=None, sort=kinds),
            # three round sizes in the legend (no empty "0" dot): a row that fits a phone
            size=alt.Size(
                "views:Q",
                title="Pages",
                scale=alt.Scale(type="sqrt"),
                legend=alt.Legend(
                    orient="bottom",
                    direction="horizontal",
                    values=[v for v in _ticks(int(cast(int, data["views"].max()))) if v][-3:],
                ),
            ),
            tooltip=[
                alt.Tooltip("rank:Q", title="Rank"),
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("day:N", title="From"),
                alt.Tooltip("views:Q", title="Pages", format=","),
                alt.Tooltip("evidence:N", title="Evidence"),
            ],
        )
        .properties(width=WIDTH, height=max(80, 40 * len(kinds)))
    )
    first, last, count = result.high_first, result.high_last, result.count("high")
    span = (
        f"in {first:%Y}"
        if first is None or last is None or first.year == last.year
        else f"between {first:%Y} and {last:%Y}"
    )
    title = f"{count:,} urgent {'incident' if count == 1 else 'incidents'} {span}"
    description = (
        f"Timeline of the {count:,} high-tier incidents by kind, dot size the pages involved, "
        f"from {first} to {last}. First: {data['evidence'][0]}."
    )
    return finish(chart, title, description)


def chart_scrape_timeline(result: Q4Result) -> alt.TopLevelMixin:
    """Pages per minute during the first automated fetching: a machine keeps a steady pace."""
    timeline = result.scrape_timeline
    scraping = result.incidents.filter(pl.col("kind") == "scraping")
    if timeline.height == 0 or scraping.height == 0:
        return _empty("No automated fetching detected", "No automated fetching to plot.")
    top = scraping.row(0, named=True)
    start: Any = timeline["minute"].min()
    data = timeline.select(
        ((pl.col("minute") - pl.lit(start)).dt.total_minutes()).alias("minutes"),
        pl.col("minute").dt.strftime("%H:%M").alias("time"),
        pl.col("views"),
    )
    chart = (
        alt.Chart(data)
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X(
                "minutes:Q",
                title=f"Minutes since {start:%Y-%m-%d %H:%M}",
                scale=alt.Scale(nice=False, domainMin=0),
            ),
            y=alt.Y("views:Q", title="Pages per minute"),
            tooltip=[alt.Tooltip("time:N", title="Time"), alt.Tooltip("views:Q", title="Pages")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    title = f"User {top['user_id']} fetched {top['views']:,} pages in {top['duration']}"
    description = (
        f"Bar chart of pages per minute during the first automated fetching: {top['evidence']}. "
        f"At most {int(cast(int, data['views'].max()))} pages in one minute."
    )
    return finish(chart, title, description)


def chart_heavy_day(result: Q4Result) -> alt.TopLevelMixin:
    """Daily pages of the first heavy-day reader, their usual day and the flagged day in red."""
    series = result.heavy_day_series
    if series.height == 0:
        return _empty("No unusually heavy day", "No heavy day to plot.")
    user, day, views, usual = (
        result.heavy_user,
        result.heavy_day,
        result.heavy_views,
        result.heavy_usual,
    )
    data = series.with_columns(pl.col("date").cast(pl.String).alias("day"))
    base = alt.Chart(data).encode(x=alt.X("day:T", title="Date"))
    points = base.mark_circle(size=40).encode(
        y=alt.Y("views:Q", title="Pages per day"),
        color=alt.condition("datum.flagged", alt.value(ACCENT), alt.value("#1f77b4")),
        tooltip=[alt.Tooltip("day:N", title="Date"), alt.Tooltip("views:Q", title="Pages")],
    )
    typical = base.mark_line(color=_GREY, strokeDash=[4, 3]).encode(y=alt.Y("usual:Q"))
    chart = alt.layer(typical, points).properties(width=WIDTH, height=HEIGHT)
    title = f"User {user} read {views:,} pages on {day}, against a usual {usual:,} a day"
    description = (
        f"Daily pages of user {user} over {series.height} active days; the dashed line is their "
        f"usual day ({usual:,} pages); the flagged day {day} with {views:,} pages in red."
    )
    return finish(chart, title, description)


CHARTS = [chart_tiers, chart_high_timeline, chart_scrape_timeline, chart_heavy_day]
