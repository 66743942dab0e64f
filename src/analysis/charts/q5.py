"""Charts for question 5: cross-program views per month by direction, with the estimated shut-off and
the policy date; and the other-track lessons still read after it."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts.base import ACCENT, HEIGHT, TRACK_COLORS, WIDTH, finish
from analysis.questions.q5 import Q5Result, direction_label, track_label


def chart_monthly(result: Q5Result) -> alt.TopLevelMixin:
    """Monthly share of each track's students' reading days spent on the other track's lessons (the
    measure of the text and the shut-off search), one line per direction, plotted only for the
    months both programs had students enrolled; rules at the cutoff and the policy date."""
    names = {d: direction_label(d) for d in result.monthly["direction"].unique().to_list()}
    monthly = result.monthly.filter(pl.col("rate_pct").is_not_null()).with_columns(
        pl.col("direction").replace_strict(names, return_dtype=pl.String).alias("label"),
        pl.col("direction").str.split("->").list.first().alias("source"),
    )
    labels = monthly.select("label", "source").unique().sort("label")
    colors = [TRACK_COLORS.get(s, "#7f7f7f") for s in labels["source"].to_list()]
    lines = (
        alt.Chart(monthly)
        .mark_line(point=True)
        .encode(
            x=alt.X("month:T", title="Month"),
            y=alt.Y("rate_pct:Q", title="Share of their reading days (%)"),
            color=alt.Color(
                "label:N",
                title="Students of -> reading",
                scale=alt.Scale(domain=labels["label"].to_list(), range=colors),
                # one entry a line under the plot: two long direction names side by side run past a
                # phone's chart
                legend=alt.Legend(orient="bottom", direction="vertical"),
            ),
            tooltip=[
                alt.Tooltip("month:T", title="Month", format="%b %Y"),
                alt.Tooltip("label:N", title="Direction"),
                alt.Tooltip("views:Q", title="Views", format=","),
                alt.Tooltip("users:Q", title="Students"),
                alt.Tooltip("reading_days:Q", title="Reading days on the other program's lessons"),
                alt.Tooltip("rate_pct:Q", title="% of their reading days"),
            ],
        )
    )
    marks = [{"date": result.policy_date, "what": "policy date"}] if result.policy_date else []
    if result.cutoff is not None:
        marks.append({"date": result.cutoff, "what": "estimated shut-off"})
    layers = [lines]
    if marks:
        rules = pl.DataFrame(marks, schema={"date": pl.Date(), "what": pl.String()})
        rule = (
            alt.Chart(rules)
            .mark_rule(strokeDash=[4, 3], strokeWidth=2)
            .encode(
                x=alt.X("date:T"),
                color=alt.ColorValue(ACCENT),
                opacity=alt.condition(
                    alt.datum.what == "estimated shut-off", alt.value(1.0), alt.value(0.5)
                ),
                tooltip=[
                    alt.Tooltip("what:N", title="Marker"),
                    alt.Tooltip("date:T", title="Date", format="%Y-%m-%d"),
                ],
            )
        )
        # The policy label sits low and the shut-off label high, so close dates do not overprint.
        texts = [
            alt.Chart(rules)
            .transform_filter(alt.datum.what == what)
            .mark_text(align="left", dx=4, baseline="top", color=ACCENT)
            .encode(x=alt.X("date:T"), y=alt.YValue(y), text=alt.Text("what:N"))
            for what, y in (("policy date", HEIGHT - 16), ("estimated shut-off", 2))
        ]
        layers += [rule, *texts]
    if result.cutoff is not None and result.cutoff_low is not None:
        band = pl.DataFrame(
            {"low": [result.cutoff_low], "high": [result.cutoff_high]},
            schema={"low": pl.Date(), "high": pl.Date()},
        )
        layers.insert(
            0,
            alt.Chart(band)
            .mark_rect(color=ACCENT, opacity=0.12)
            .encode(
                x=alt.X("low:T"),
                x2=alt.X2("high:T"),
                tooltip=[alt.Tooltip("low:T"), alt.Tooltip("high:T")],
            ),
        )
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
    if result.cutoff is not None:
        title = (
            f"Cross-program reading dropped on {result.cutoff.isoformat()}, "
            f"but {result.views_after:,} views followed"
        )
    elif result.cross_views:
        title = (
            f"No clear shut-off: {result.cross_views:,} cross-program views, no significant drop"
        )
    else:
        title = "No cross-program reading found"
    description = (
        "Line chart, one line per direction: the share of a track's students' reading days spent on "
        "the other track's lessons, per month, while both programs had students enrolled. "
        f"{result.answer} The policy date is {result.policy_date}."
    )
    return finish(chart, title, description)


def chart_after(result: Q5Result) -> alt.TopLevelMixin:
    """The other program's lessons read since the shut-off (or the policy date), as bars."""
    data = result.after_lessons.head(10).with_columns(
        pl.col("home")
        .replace_strict(
            {t: track_label(t) for t in result.after_lessons["home"].unique().to_list()},
            return_dtype=pl.String,
        )
        .alias("home")
    )
    since = result.reference_date.isoformat() if result.reference_date else "the cutoff"
    chart = (
        alt.Chart(data)
        .mark_bar(color=ACCENT)
        .encode(
            x=alt.X("views:Q", title=f"Student views since {since}"),
            y=alt.Y("lesson_title:N", sort="-x", title=None),
            tooltip=[
                alt.Tooltip("lesson_title:N", title="Lesson"),
                alt.Tooltip("lesson:N", title="Path"),
                alt.Tooltip("home:N", title="Lesson of"),
                alt.Tooltip("views:Q", title="Views", format=","),
                alt.Tooltip("users:Q", title="Students"),
            ],
        )
        .properties(width=WIDTH, height=max(60, 24 * max(data.height, 1)))
    )
    if data.height:
        top = data.row(0, named=True)
        title = f"{top['lesson_title']} is the other program's lesson most read since {since}"
    else:
        title = f"No lessons of the other program were read since {since}"
    description = (
        f"Bar chart of the {data.height} lessons of the other program most read by students since {since}: "
        + ", ".join(f"{r['lesson_title']} {r['views']} views" for r in data.iter_rows(named=True))
        + "."
    )
    return finish(chart, title, description)


CHARTS = [chart_monthly, chart_after]
