"""What every chart shares: one colour per program, a readable theme, offline PNG/SVG export."""

from __future__ import annotations

from pathlib import Path

import altair as alt

# One colour per program everywhere (site, slide, email). Non-student groups are greys.
PROGRAM_COLORS: dict[str, str] = {
    "Java web dev": "#1f77b4",
    "PHP web dev": "#9467bd",
    "Data science": "#ff7f0e",
    "Front end": "#2ca02c",
    "Staff": "#7f7f7f",
    "No cohort": "#bcbd22",
    "Unknown cohort": "#c7c7c7",
}
TRACK_COLORS: dict[str, str] = {"web_dev": "#1f77b4", "data_science": "#ff7f0e"}
ACCENT = "#d62728"  # highlights: the flagged cohort, the change point, an incident
WIDTH = 560
HEIGHT = 300


def program_color(field: str = "program", title: str = "Program") -> alt.Color:
    """Colour encoding that keeps each program's colour fixed whatever subset a chart shows."""
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(PROGRAM_COLORS), range=list(PROGRAM_COLORS.values())),
    )


def track_color(field: str = "track", title: str = "Track") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(TRACK_COLORS), range=list(TRACK_COLORS.values())),
    )


def finish(chart: alt.TopLevelMixin, title: str, description: str) -> alt.TopLevelMixin:
    """Title that states the finding; `description` is the text alternative (aria) for screen readers."""
    return (
        chart.properties(
            title=alt.TitleParams(title, anchor="start", fontSize=14),
            description=description,
        )
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=12)
    )


def save_png(chart: alt.TopLevelMixin, path: Path, scale: float = 2.0) -> Path:
    """Offline export through vl-convert (no browser, no network)."""
    import vl_convert as vlc

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(vlc.vegalite_to_png(chart.to_json(), scale=scale))
    return path


def save_svg(chart: alt.TopLevelMixin, path: Path) -> Path:
    import vl_convert as vlc

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(vlc.vegalite_to_svg(chart.to_json()))
    return path
