"""What every chart shares: one colour per program, container sizing, titles that wrap, PNG/SVG export.

Every chart is a single view or a layer (Vega-Lite sizes only those to their container): `finish()` sets
`width: "container"` and autosize fit-x, so the chart fills the page column from 320 px phones to
desktops; axis labels are limited, legends sit below the plot. Publishing wraps long titles into lines
(`wrap_titles()`, applied by the pages), and for PNG (slide, email) `fixed_width()` gives the spec a width
in pixels, since there is no container there.

Colours: `program_color(programs)` is THE program -> colour scale; every chart that colours by program
uses it, with the programs the chart shows, so the legend lists only those and a program keeps its
colour everywhere (site, slide, email).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from analysis.glossary import TRACK_NAMES

# One colour per program everywhere (site, slide, email). Non-student groups are greys.
PROGRAM_COLORS: dict[str, str] = {
    "Java web dev": "#1f77b4",
    "PHP web dev": "#9467bd",
    "Data science": "#e8710a",
    "Front end": "#2ca02c",
    "Staff": "#7f7f7f",
    "No cohort": "#bcbd22",
    "Unknown cohort": "#c7c7c7",
}
# Colours for programs a configuration adds, in order of first use (stable for a given label).
EXTRA_COLORS = ("#17becf", "#8c564b", "#e377c2", "#393b79", "#637939", "#843c39")
TRACK_COLORS: dict[str, str] = {"web_dev": "#1f77b4", "data_science": "#e8710a"}
# What readers see for the tracks' codes.
TRACK_LABELS: dict[str, str] = {k: v.capitalize() for k, v in TRACK_NAMES.items()}  # glossary
ACCENT = "#d62728"  # highlights: the flagged cohort, the change point, an incident
MUTED = "#555555"  # secondary marks and text (contrast >= 7:1 on white)
WIDTH = 560  # px, for charts exported as images (slide, email) and old fixed-width specs
HEIGHT = 300
TITLE_CHARS = 38  # a title line this long fits a 320 px phone (about 285 px at 14 px bold)
WIDE_PLOT = 480  # px of plot width from which titles take lines of 2 * TITLE_CHARS
LABEL_LIMIT = 130  # px: longer axis labels end in an ellipsis (the tooltip has the full text)
# degrees: level category labels turn this much on a plot narrower than WIDE_PLOT
PHONE_LABEL_ANGLE = -40
AXIS_TITLE_CHARS = 30  # an axis title line this long fits a 320 px phone's narrowest plot (12 px)


def program_palette(programs: Iterable[str]) -> dict[str, str]:
    """program -> colour for the given programs (known ones keep theirs; others get stable extras)."""
    palette: dict[str, str] = {}
    extra = 0
    for program in dict.fromkeys(str(p) for p in programs):
        if program in PROGRAM_COLORS:
            palette[program] = PROGRAM_COLORS[program]
        else:
            palette[program] = EXTRA_COLORS[extra % len(EXTRA_COLORS)]
            extra += 1
    return palette


def program_color(
    programs: Iterable[str] | None = None,
    field: str = "program",
    title: str = "Program",
    legend: bool = True,
) -> alt.Color:
    """The shared program -> colour encoding. Pass the programs the chart shows (the legend lists only
    those); without them every known program is in the domain."""
    palette = program_palette(PROGRAM_COLORS if programs is None else programs)
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(palette), range=list(palette.values())),
        legend=alt.Legend(orient="bottom", direction="vertical") if legend else None,
    )


def grouped_bars(
    frame: pl.DataFrame, programs: Sequence[str], label: str, rank: str
) -> pl.DataFrame:
    """Rows of a bar chart grouped by program (in `programs` order, then by `rank`), with a `bar`
    column: `label` made unique per program (zero-width spaces), so the same lesson leading in two
    programs gets two bars that read the same."""
    order = {p: i for i, p in enumerate(programs)}
    return (
        frame.with_columns(
            pl.col("program")
            .replace_strict(order, default=len(order), return_dtype=pl.Int64)
            .alias("program_order")
        )
        .sort("program_order", rank)
        .with_columns(
            (
                pl.col(label) + pl.lit("\u200b").repeat_by(pl.col("program_order")).list.join("")
            ).alias("bar")
        )
    )


def track_label(track: str) -> str:
    return TRACK_LABELS.get(track, str(track).replace("_", " ").capitalize())


def track_color(field: str = "track", title: str = "Track") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(TRACK_COLORS), range=list(TRACK_COLORS.values())),
    )


def wrap_title(text: str, width: int = TITLE_CHARS) -> list[str] | str:
    """A title as lines short enough for a phone (a list of lines when it needs more than one)."""
    lines = textwrap.wrap(" ".join(str(text).split()), width=width, break_long_words=True)
    return lines[0] if len(lines) == 1 else lines or str(text)


def axis_title(text: str, width: int = 30) -> list[str] | str:
    """An axis title in lines that fit under a phone-width plot."""
    return wrap_title(text, width)


def finish(chart: alt.TopLevelMixin, title: str, description: str) -> alt.TopLevelMixin:
    """Container width, a wrapped title that states the finding, and `description`: the text
    alternative (aria) stating the finding for screen readers."""
    properties: dict[str, Any] = {
        "title": alt.TitleParams(title, anchor="start", fontSize=14, offset=8),
        "description": description,
    }
    if isinstance(chart, alt.Chart | alt.LayerChart):  # facets and concats cannot fit a container
        properties["width"] = "container"
        properties["autosize"] = alt.AutoSizeParams(type="fit-x", contains="padding", resize=True)
    return (
        chart.properties(**properties)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=12, labelLimit=LABEL_LIMIT)
        .configure_legend(
            orient="bottom", labelLimit=LABEL_LIMIT, titleFontSize=12, labelFontSize=11
        )
    )


def empty(title: str, message: str) -> alt.TopLevelMixin:
    """A chart that says there is nothing to show (same sizing as the others)."""
    chart = (
        alt.Chart(alt.Data(values=[{"text": message}]))
        .mark_text(size=13, color=MUTED)
        .encode(text="text:N")
        .properties(height=60)
    )
    return finish(chart, title, message)


def wrap_titles(spec: dict[str, Any], width: int = TITLE_CHARS) -> dict[str, Any]:
    """The spec with a title that fits its chart: lines of at most `width` characters on a phone,
    of twice that on wider screens (a Vega expression on the chart's width; what a page publishes), and
    level category labels that turn when the plot is narrow (`angle_band_labels`), axis titles in
    lines that fit a phone and the end labels of continuous x axes kept inside the plot
    (`fit_axis_text`)."""
    return fit_axis_text(angle_band_labels(_wrap_title(spec, width)))


def fit_axis_text(spec: dict[str, Any], width: int = AXIS_TITLE_CHARS) -> dict[str, Any]:
    """Axis titles longer than `width` characters in lines (a title wider than a phone's plot would be
    cut at the chart's edge), and continuous x axes' first and last labels flush with the axis ends
    (never half past the chart's edge)."""
    if spec.get("width") != "container":
        return spec

    def wrap_axis_titles(encoding: dict[str, Any]) -> dict[str, Any]:
        fixed = dict(encoding)
        for channel in ("x", "y"):
            field = encoding.get(channel)
            title = field.get("title") if isinstance(field, dict) else None
            if isinstance(field, dict) and isinstance(title, str) and len(title) > width:
                fixed[channel] = {**field, "title": wrap_title(title, width)}
        return fixed

    out = _map_encodings(spec, wrap_axis_titles)
    config = dict(out.get("config") or {})
    config["axisX"] = {"labelFlush": True, **(config.get("axisX") or {})}
    out["config"] = config
    return out


def angle_band_labels(spec: dict[str, Any]) -> dict[str, Any]:
    """Category (band) x-axis labels a chart draws level (labelAngle 0) are turned by PHONE_LABEL_ANGLE
    when the plot is narrower than WIDE_PLOT, so neighbouring labels never overlap on a phone (a Vega
    expression on the chart's width: only container-sized charts have one)."""
    if spec.get("width") != "container":
        return spec
    narrow = f"width < {WIDE_PLOT}"
    turned = {
        "labelAngle": {"expr": f"{narrow} ? {PHONE_LABEL_ANGLE} : 0"},
        "labelAlign": {"expr": f"{narrow} ? 'right' : 'center'"},
        "labelBaseline": {"expr": f"{narrow} ? 'middle' : 'top'"},
    }

    def turn_level_labels(encoding: dict[str, Any]) -> dict[str, Any]:
        x = encoding.get("x")
        axis = x.get("axis") if isinstance(x, dict) else None
        if (
            isinstance(x, dict)
            and isinstance(axis, dict)
            and x.get("type") in ("ordinal", "nominal")
            and axis.get("labelAngle") == 0
        ):
            return {**encoding, "x": {**x, "axis": {**axis, **turned}}}
        return encoding

    return _map_encodings(spec, turn_level_labels)


def _map_encodings(
    spec: dict[str, Any], fix: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """A copy of a Vega-Lite spec with `fix` applied to every view's encoding (layers and concats too)."""

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: visit(value) for key, value in node.items()}
        if isinstance(out.get("encoding"), dict):
            out["encoding"] = fix(out["encoding"])
        return out

    return dict(visit(spec))


def _wrap_title(spec: dict[str, Any], width: int) -> dict[str, Any]:
    title = spec.get("title")
    params = title if isinstance(title, dict) else {"text": title, "anchor": "start"}
    text = params.get("text")
    if not isinstance(text, str):
        return spec
    narrow, wide = wrap_title(text, width), wrap_title(text, 2 * width)
    if narrow == wide or spec.get("width") != "container":  # only sized views have a width signal
        return {**spec, "title": {**params, "text": narrow}}
    expr = f"width < {WIDE_PLOT} ? {json.dumps(narrow)} : {json.dumps(wide)}"
    return {**spec, "title": {**params, "text": {"expr": expr}}}


def fixed_width(spec: dict[str, Any], width: int = WIDTH) -> dict[str, Any]:
    """The spec with every `width: "container"` replaced by `width` pixels (no container in a PNG)."""
    if isinstance(spec, dict):
        return {
            key: width if key == "width" and value == "container" else fixed_width(value, width)
            for key, value in spec.items()
        }
    if isinstance(spec, list):
        return [fixed_width(item, width) for item in spec]
    return spec


def save_png(chart: alt.TopLevelMixin, path: Path, scale: float = 2.0) -> Path:
    """Offline export through vl-convert (no browser, no network)."""
    import vl_convert as vlc

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(vlc.vegalite_to_png(json.dumps(fixed_width(chart.to_dict())), scale=scale))
    return path


def save_svg(chart: alt.TopLevelMixin, path: Path) -> Path:
    import vl_convert as vlc

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(vlc.vegalite_to_svg(json.dumps(fixed_width(chart.to_dict()))))
    return path
