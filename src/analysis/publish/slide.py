"""The one-slide summary: slide.pptx (python-pptx, a native chart), slide.png (LibreOffice) and slide.html.

slide.qmd is the source of the slide's content: its cells call the named functions below (`action_title`,
`bullets`, `chart_data`, `footer`, `notes`) and hand the parts to `show()`, which displays a preview and
emits them as one `SlideContent` (JSON, mime type SLIDE_MIME) in the executed notebook. render.py reads
that object back (`content_from_notebook`) and `render_slide` builds every format from it:

- slide.pptx: one 16:9 slide drawn with python-pptx (pandoc's pptx writer cannot make a native chart or fix
  font sizes): title, at most MAX_BULLETS bullets, a bar chart the viewer can edit (incidents by kind,
  stacked by risk tier), a footer with the data period and the simulated-data notice, the details in the
  speaker notes. Each text box has one fixed size (>= MIN_PT, the largest that fits), autofit is off and
  word wrap on, and every shape lies inside the slide.
- slide.png: the pptx itself as LibreOffice draws it (soffice --convert-to pdf, then pdftoppm at 96 dpi:
  1280 x 720), only when asked (`render --slide-png`: the publishing workflow does; starting LibreOffice
  costs about 1.5 s). Asked without LibreOffice or poppler, the build notes which file it could not make.
- slide.html: the same content as a responsive page (the chart as HTML bars: no script, no image).

All text is plain (not Markdown) and masked for public builds before it enters the content object.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, cast

import polars as pl

from analysis.config import Config
from analysis.errors import TargetError
from analysis.publish import privacy
from analysis.publish.common import TEMPLATES

SLIDE_MIME = "application/vnd.curriculum-insights.slide+json"
MAX_BULLETS = 4
MAX_WORDS = 15  # per bullet
MAX_TITLE_WORDS = 14
ISO_DATE = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")
CLAUSE_BREAK = re.compile(r"[;:,](?=\s)|\s—\s")
MIN_CLAUSE_WORDS = 4  # a clipped bullet keeps at least this many words, else it is cut at the limit
MIN_PT = 16  # smallest text on the slide (footer, bullets)
# After the lead bullet, the questions whose headlines fill the slide, most important first.
BULLET_QUESTIONS = (3, 5, 6, 1, 2, 8, 7)
TIERS = ("high", "medium", "low")
TIER_LABELS = {"high": "High risk", "medium": "Medium risk", "low": "Low risk"}
TIER_COLOURS = {"high": "#b02a37", "medium": "#e08e0b", "low": "#6c757d", "": "#2780e3"}

# Slide geometry (inches; 16:9 = 13.333 x 7.5).
SLIDE_W, SLIDE_H = 13.333, 7.5
MARGIN = 0.5
TITLE_BOX = (MARGIN, 0.3, SLIDE_W - 2 * MARGIN, 1.25)
BULLET_BOX = (MARGIN, 1.7, 5.6, 4.85)
CHART_BOX = (6.4, 1.6, SLIDE_W - MARGIN - 6.4, 5.0)
FOOTER_BOX = (MARGIN, 6.75, SLIDE_W - 2 * MARGIN, 0.5)
TITLE_PT, BULLET_PT, FOOTER_PT, CHART_PT = 28, 20, 16, 14
CHAR_EM = 0.55  # average Arial character width (bold, digits) in em, for the fit estimate
LINE_EM = 1.2  # line height in em
BULLET_GAP_IN = 0.12  # space after each bullet


@dataclass(frozen=True)
class ChartData:
    """A small category chart: one value per (series, category); bounded (<= 8 categories)."""

    title: str
    categories: list[str]
    series: list[tuple[str, list[float]]]  # (name, values in category order)
    colours: list[str] = field(default_factory=list)  # one hex colour per series
    unit: str = ""  # what the values count, for the axis and the text alternative
    stacked: bool = False  # series stacked in one bar per category (else side by side)

    def description(self) -> str:
        """A text alternative: the title, then every value."""
        parts = []
        for name, values in self.series:
            pairs = ", ".join(
                f"{c} {_num(v)}" for c, v in zip(self.categories, values, strict=True) if v
            )
            parts.append(f"{name}: {pairs}" if len(self.series) > 1 else pairs)
        return f"{self.title}. " + "; ".join(p for p in parts if p) + "."


@dataclass(frozen=True)
class SlideContent:
    title: str
    bullets: list[str]
    chart: ChartData | None
    footer: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlideContent:
        chart = data.get("chart")
        return cls(
            title=str(data["title"]),
            bullets=[str(b) for b in data.get("bullets", [])],
            chart=ChartData(
                title=str(chart["title"]),
                categories=[str(c) for c in chart["categories"]],
                series=[(str(n), [float(v) for v in vs]) for n, vs in chart["series"]],
                colours=[str(c) for c in chart.get("colours", [])],
                unit=str(chart.get("unit", "")),
                stacked=bool(chart.get("stacked", False)),
            )
            if chart
            else None,
            footer=str(data.get("footer", "")),
            notes=[str(n) for n in data.get("notes", [])],
        )


# --- words ----------------------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def _plural(count: int, nouns: tuple[str, str]) -> str:
    return f"{count:,} {nouns[0] if count == 1 else nouns[1]}"


def _q4_words(name: str) -> dict[str, Any]:
    """Question 4's own reader words for its kinds (KIND_NOUNS, KIND_LABELS), when it has them."""
    from analysis.questions import q4

    value = getattr(q4, name, None)
    return dict(value) if isinstance(value, dict) else {}


def _kind_nouns(kind: str) -> tuple[str, str]:
    """(singular, plural) for a Q4 kind: question 4's nouns, else the code in words."""
    nouns = _q4_words("KIND_NOUNS").get(kind)
    if nouns and len(nouns) == 2:
        return str(nouns[0]), str(nouns[1])
    label = str(kind).replace("_", " ")
    return label, label


def _kind_label(kind: str) -> str:
    """The chart's category label: question 4's label, else the capitalised plural noun."""
    label = _q4_words("KIND_LABELS").get(kind)
    if label:
        return str(label)
    plural = _kind_nouns(kind)[1]
    return plural[:1].upper() + plural[1:]


def clip_words(text: str, limit: int) -> str:
    """At most `limit` words: cut at the latest clause break (; : — ,) that fits, else after `limit` words."""
    words = " ".join(str(text).split()).rstrip(" .")
    if len(words.split()) <= limit:
        return words
    heads = [words[: m.start()] for m in CLAUSE_BREAK.finditer(words)]
    fitting = [h for h in heads if MIN_CLAUSE_WORDS <= len(h.split()) <= limit]
    if fitting:
        return max(fitting, key=len).rstrip(" .,;:")
    return " ".join(words.split()[:limit]).rstrip(" .,;:") + "…"


def readable_dates(text: str) -> str:
    """ISO dates as people write them (2019-06-01 -> 1 Jun 2019): no line break inside a date."""

    def human(match: re.Match[str]) -> str:
        try:
            date = dt.date.fromisoformat(match.group(0))
        except ValueError:
            return match.group(0)
        return f"{date.day} {date:%b %Y}"

    return ISO_DATE.sub(human, text)


def report_folder(config: Config) -> str:
    """The site folder's name as the user knows it (the pages run while render writes to `.NAME.partial`)."""
    name = config.paths.site_dir.name
    if name.startswith(".") and name.endswith(".partial"):
        name = name[1 : -len(".partial")]
    return name


def _public_text(page: Any, text: Any) -> str:
    raw = " ".join(str(text).split())
    return privacy.mask_text(raw) if page.public else raw


def _slide_text(page: Any, text: Any, limit: int) -> str:
    """A title or bullet: masked, dates readable, at most `limit` words."""
    return clip_words(readable_dates(_public_text(page, text)), limit)


def _results(page: Any) -> dict[int, Any]:
    return dict(getattr(page.report, "results", {}) or {})


def _headline(result: Any) -> str:
    try:
        text = result.headline()
    except Exception:  # a result object mid-rewrite: its plain answer still reads
        text = getattr(result, "answer", "")
    return str(text or getattr(result, "answer", "") or "")


# --- the lead finding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lead:
    question: int
    title: str
    bullet: str
    chart: ChartData | None
    details: list[str]


def _q4_lead(page: Any) -> Lead | None:
    """Suspicious activity leads when Q4 found incidents: high-risk ones first (tiers), else by kind."""
    result = _results(page).get(4)
    incidents = getattr(result, "incidents", None)
    if not isinstance(incidents, pl.DataFrame) or incidents.is_empty():
        return None
    if "kind" not in incidents.columns:
        return None
    tiered = "tier" in incidents.columns and bool(
        set(incidents["tier"].cast(pl.String).unique().to_list()) & set(TIERS)
    )
    frame = incidents.select(
        pl.col("kind").cast(pl.String).alias("kind"),
        (pl.col("tier").cast(pl.String) if tiered else pl.lit("")).alias("tier"),
    )
    counts = frame.group_by("kind", "tier").agg(pl.len().alias("n"))
    summary = getattr(result, "summary", None)
    if (
        not tiered
        and isinstance(summary, pl.DataFrame)
        and {"kind", "incidents"} <= set(summary.columns)
        and summary["incidents"].sum()
    ):  # counts per kind before the incidents list was cut to its most severe
        counts = summary.select(
            pl.col("kind").cast(pl.String).alias("kind"),
            pl.lit("").alias("tier"),
            pl.col("incidents").cast(pl.Int64).alias("n"),
        ).filter(pl.col("n") > 0)
    by_tier = dict(counts.group_by("tier").agg(pl.col("n").sum()).iter_rows())
    total = int(getattr(result, "total_incidents", 0) or 0) or incidents.height
    present = [t for t in TIERS if by_tier.get(t)] if tiered else [""]
    # the chart shows the tiers that need attention (high, medium) when there are any
    shown = [t for t in present if t in ("high", "medium")] or present
    # categories: kinds, by high count, then medium, then total (at most 6 on the slide)
    wide = (
        counts.filter(pl.col("tier").is_in(shown))
        .group_by("kind")
        .agg(
            *[pl.col("n").filter(pl.col("tier") == t).sum().alias(t or "all") for t in shown],
            pl.col("n").sum().alias("total"),
        )
        .sort([*(t or "all" for t in shown), "total", "kind"], descending=True)
        .head(6)
    )
    kinds = wide["kind"].to_list()
    series = [
        (TIER_LABELS.get(t, "Incidents"), [float(v) for v in wide[t or "all"].to_list()])
        for t in shown
    ]
    colours = [TIER_COLOURS[t] for t in shown]
    high = int(by_tier.get("high", 0))
    if tiered and high:
        top = (
            counts.filter(pl.col("tier") == "high")
            .sort(["n", "kind"], descending=[True, False])
            .head(2)
        )
        parts = [_plural(int(n), _kind_nouns(k)) for k, _, n in top.iter_rows()]
        verb = "needs" if high == 1 else "need"
        noun = "incident" if high == 1 else "incidents"
        title = f"{high:,} high-risk {noun} {verb} review: {', '.join(parts)}"
        pick = incidents.filter(pl.col("tier").cast(pl.String) == "high")
    else:
        top = counts.sort(["n", "kind"], descending=[True, False]).head(2)
        parts = [_plural(int(n), _kind_nouns(k)) for k, _, n in top.iter_rows()]
        first = incidents.sort("rank").row(0, named=True) if "rank" in incidents.columns else None
        lead_kind = _kind_nouns(str(first["kind"]))[1] if first else parts[0]
        title = f"{total:,} suspicious incidents flagged; the most severe are {lead_kind}"
        pick = incidents
    if tiered:
        flagged = [t for t in shown if t != "low"]
        bullet = " and ".join(f"{int(by_tier[t]):,} {t}-risk" for t in flagged)
        shown_total = sum(int(by_tier[t]) for t in flagged)
        bullet += " incident" if shown_total == 1 else " incidents"
        low = int(by_tier.get("low", 0))
        if flagged and low:
            bullet += f"; {low:,} more {'is' if low == 1 else 'are'} low risk"
        if not flagged:
            bullet = (
                f"{low:,} low-risk {'incident' if low == 1 else 'incidents'}, none high or medium"
            )
        risk = f"{shown[0]}- and {shown[1]}-risk" if len(shown) == 2 else f"{shown[0]}-risk"
        chart_title = f"{risk.capitalize()} incidents by kind"
    else:
        bullet = f"Most common: {' and '.join(parts)}"
        chart_title = "Incidents by kind"
    if "rank" in pick.columns:
        pick = pick.sort("rank")
    details = [
        _public_text(page, text)
        for text in (pick["evidence"].head(5).to_list() if "evidence" in pick.columns else [])
        if text
    ]
    chart = ChartData(
        title=chart_title,
        categories=[_kind_label(k) for k in kinds],
        series=series,
        colours=colours,
        unit="incidents",
        stacked=tiered and len(series) > 1,
    )
    return Lead(
        question=4,
        title=_slide_text(page, title, MAX_TITLE_WORDS),
        bullet=_slide_text(page, bullet, MAX_WORDS),
        chart=chart,
        details=details,
    )


def _q6_lead(page: Any) -> Lead | None:
    """Without incidents: graduates who keep reading, per program."""
    result = _results(page).get(6)
    programs = getattr(result, "programs", None)
    need = {"program", "graduates", "alumni_readers"}
    if not isinstance(programs, pl.DataFrame) or programs.is_empty():
        return None
    if not need <= set(programs.columns):
        return None
    frame = programs.sort("graduates", descending=True).head(6)
    readers = int(getattr(result, "alumni_readers", 0) or frame["alumni_readers"].sum())
    graduates = int(getattr(result, "graduates", 0) or frame["graduates"].sum())
    share = round(100 * readers / graduates) if graduates else 0
    chart = ChartData(
        title="Graduates who kept reading, by program",
        categories=[str(p) for p in frame["program"].to_list()],
        series=[
            ("Graduates", [float(v) for v in frame["graduates"].to_list()]),
            ("Kept reading", [float(v) for v in frame["alumni_readers"].to_list()]),
        ],
        colours=["#6c757d", "#2780e3"],
        unit="graduates",
    )
    title = f"{share}% of graduates keep using the curriculum after graduating"
    bullet = f"{readers:,} of {graduates:,} graduates came back after graduating"
    return Lead(
        6,
        _slide_text(page, title, MAX_TITLE_WORDS),
        _slide_text(page, bullet, MAX_WORDS),
        chart,
        [_public_text(page, getattr(result, "answer", ""))],
    )


def lead(page: Any) -> Lead:
    """The single most important finding: Q4's incidents when there are any, else Q6, else Q1's answer."""
    for build in (_q4_lead, _q6_lead):
        found = build(page)
        if found is not None:
            return found
    results = _results(page)
    number = min(results) if results else 0
    text = _headline(results[number]) if results else "No findings: the log is empty"
    return Lead(number, _slide_text(page, text, MAX_TITLE_WORDS), "", None, [])


# --- what slide.qmd calls --------------------------------------------------------------------------------


def action_title(page: Any) -> str:
    """The slide's title: the lead finding as a sentence."""
    return lead(page).title


def bullets(page: Any) -> list[str]:
    """At most MAX_BULLETS bullets of at most MAX_WORDS words: the lead's, then other headlines."""
    found = lead(page)
    out = [found.bullet] if found.bullet else []
    results = _results(page)
    for number in BULLET_QUESTIONS:
        if len(out) >= MAX_BULLETS:
            break
        if number == found.question or number not in results:
            continue
        text = _slide_text(page, _headline(results[number]), MAX_WORDS)
        if text and text not in out:
            out.append(text)
    return out


def chart_data(page: Any) -> ChartData | None:
    """The chart supporting the lead bullet (native in the pptx, HTML bars in slide.html)."""
    return lead(page).chart


def _period(page: Any) -> str:
    data = page.dataset
    first, last = data.get("first_seen"), data.get("last_seen")
    if not first or not last:
        return ""

    def day(value: Any) -> str:
        try:
            date = dt.date.fromisoformat(str(value)[:10])
            return f"{date.day} {date:%b %Y}"
        except ValueError:
            return str(value)[:10]

    return f"Data from {day(first)} to {day(last)}"


def footer(page: Any) -> str:
    """The data period and, for simulated data, the notice."""
    parts = [_period(page)]
    if page.simulated:
        parts.append("Simulated data: it shows the method, not real students")
    return " · ".join(p for p in parts if p)


def notes(page: Any) -> list[str]:
    """Speaker notes: the lead's details, then every question's answer, then where the report is."""
    found = lead(page)
    out = []
    if found.details:
        out.append("Behind the title:")
        out += [f"- {d}" for d in found.details]
    if found.chart is not None:
        out.append(f"Chart: {found.chart.description()}")
    out.append("The eight answers:")
    for number, result in sorted(_results(page).items()):
        title = _public_text(page, getattr(result, "title", ""))
        sep = " " if title.endswith(("?", ".", ":")) else ": "
        out.append(f"Q{number}. {title}{sep}{_public_text(page, getattr(result, 'answer', ''))}")
    from analysis.publish.email import site_url  # (email builds on the slide: imported here)

    url = site_url(page.config)
    out.append(
        f"Full report: {url}"
        if url
        else f"Full report: the {report_folder(page.config)} folder of the build (index.html)"
    )
    if page.simulated:
        out.append(
            "The data is simulated (calibrated to facts published about the real log): "
            "the numbers illustrate the method; they are not findings about real students."
        )
    return out


def show(content: SlideContent):
    """Display the slide's content in the notebook: a Markdown preview plus the content as JSON."""
    from IPython.display import display

    from analysis.publish.pages import escape_md

    lines = [f"## {escape_md(content.title)}", ""]
    lines += [f"- {escape_md(b)}" for b in content.bullets]
    if content.chart is not None:
        lines += ["", f"*{escape_md(content.chart.description())}*"]
    lines += ["", escape_md(content.footer)]
    display(
        {"text/markdown": "\n".join(lines) + "\n", SLIDE_MIME: content.to_json()},
        raw=True,
    )


def content_from_notebook(notebook: Any, where: str = "slide.qmd") -> SlideContent:
    """The SlideContent `show()` emitted in the executed slide.qmd (the last one wins)."""
    found = None
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if SLIDE_MIME in data:
                found = data[SLIDE_MIME]
    if found is None:
        raise TargetError(f"{where}: no cell called slide.show(...): the slide has no content")
    if isinstance(found, str):
        found = json.loads(found)
    try:
        return SlideContent.from_json(found)
    except (KeyError, TypeError, ValueError) as exc:
        raise TargetError(f"{where}: the slide content is incomplete ({exc})") from exc


# --- pptx -----------------------------------------------------------------------------------------------


def _hex(colour: str):
    from pptx.dml.color import RGBColor

    return RGBColor.from_string(colour.lstrip("#").upper())


def _text_box(slide: Any, box: tuple[float, float, float, float], name: str):
    from pptx.enum.text import MSO_AUTO_SIZE
    from pptx.util import Inches

    shape = slide.shapes.add_textbox(*(Inches(v) for v in box))
    shape.name = name
    frame = shape.text_frame
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE
    for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
        setattr(frame, side, Inches(0.05))
    return shape


def _run(paragraph: Any, text: str, size: int, bold: bool = False, colour: str = "#212529"):
    from pptx.util import Pt

    run = paragraph.add_run()
    run.text = text
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = "Arial"
    run.font.color.rgb = _hex(colour)
    return run


def _bullet(paragraph: Any, indent_emu: int) -> None:
    """A hanging bullet (•) on a text-box paragraph."""
    from pptx.oxml.ns import qn

    ppr = paragraph._p.get_or_add_pPr()
    ppr.set("marL", str(indent_emu))
    ppr.set("indent", str(-indent_emu))
    for tag in ("a:buNone", "a:buChar", "a:buFont"):
        for old in ppr.findall(qn(tag)):
            ppr.remove(old)
    font = ppr.makeelement(qn("a:buFont"), {"typeface": "Arial"})
    char = ppr.makeelement(qn("a:buChar"), {"char": "•"})
    ppr.append(font)
    ppr.append(char)


def _add_chart(slide: Any, chart: ChartData) -> None:
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION, XL_TICK_LABEL_POSITION
    from pptx.util import Inches, Pt

    data = CategoryChartData()
    data.categories = chart.categories
    for name, values in chart.series:
        data.add_series(name, values)
    kind = XL_CHART_TYPE.BAR_STACKED if chart.stacked else XL_CHART_TYPE.BAR_CLUSTERED
    frame = slide.shapes.add_chart(kind, *(Inches(v) for v in CHART_BOX), data)
    frame.name = "Chart"
    native = frame.chart
    native.font.size = Pt(CHART_PT)
    native.font.name = "Arial"
    native.has_title = True
    native.chart_title.text_frame.text = chart.title
    for paragraph in native.chart_title.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(MIN_PT)
            run.font.bold = True
    native.has_legend = len(chart.series) > 1
    if native.has_legend:
        native.legend.position = XL_LEGEND_POSITION.BOTTOM
        native.legend.include_in_layout = False
        native.legend.font.size = Pt(CHART_PT)
    categories = native.category_axis
    categories.reverse_order = True  # the first category on top
    categories.tick_labels.font.size = Pt(CHART_PT)
    categories.has_major_gridlines = False
    values = native.value_axis
    values.has_major_gridlines = False
    values.tick_label_position = XL_TICK_LABEL_POSITION.NONE
    values.visible = False
    plot = native.plots[0]
    plot.gap_width = 60
    plot.overlap = 100 if chart.stacked else 0
    plot.has_data_labels = True
    labels = plot.data_labels
    labels.font.size = Pt(CHART_PT)
    labels.number_format = "#,##0;-#,##0;;"  # zero: no label
    labels.number_format_is_linked = False
    labels.show_value = True
    if chart.stacked:  # labels sit inside the segments
        labels.font.color.rgb = _hex("#ffffff")
        labels.font.bold = True
    for series, colour in zip(plot.series, chart.colours, strict=False):
        series.format.fill.solid()
        series.format.fill.fore_color.rgb = _hex(colour)


def _lines(text: str, width_in: float, size: int) -> int:
    """Lines a paragraph wraps to at `size` pt in a box `width_in` wide (word by word, Arial)."""
    per_line = max(1, int(width_in * 72 / (size * CHAR_EM)))
    lines, used = 1, 0
    for word in text.split():
        need = len(word) + (1 if used else 0)
        if used and used + need > per_line:
            lines, used = lines + 1, len(word)
        else:
            used += need
    return lines


def fitted_size(
    paragraphs: list[str],
    box: tuple[float, float, float, float],
    sizes: tuple[int, ...],
    gap_in=0.0,
) -> int:
    """The largest of `sizes` (pt) at which the paragraphs fit the box's height; else the smallest.

    One fixed size for every run (no autofit: LibreOffice and PowerPoint would shrink differently)."""
    _, _, width, height = box
    inner_w, inner_h = width - 0.1 - 0.3, height - 0.1  # text-box margins, bullet indent
    for size in sizes:
        lines = sum(_lines(p, inner_w, size) for p in paragraphs)
        if lines * size * LINE_EM / 72 + gap_in * len(paragraphs) <= inner_h:
            return size
    return sizes[-1]


def build_pptx(content: SlideContent, path: Path) -> Path:
    """One 16:9 slide: title, bullets, native chart, footer, speaker notes."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    presentation.slide_width = Inches(SLIDE_W)
    presentation.slide_height = Inches(SLIDE_H)
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])  # blank

    title = _text_box(slide, TITLE_BOX, "Title")
    title_pt = fitted_size([content.title], TITLE_BOX, (TITLE_PT, 24, 20))
    _run(title.text_frame.paragraphs[0], content.title, title_pt, bold=True, colour="#1b2a41")

    left, top, width, height = BULLET_BOX
    if content.chart is None:  # the bullets take the whole width
        width = SLIDE_W - 2 * MARGIN
    body = _text_box(slide, (left, top, width, height), "Bullets")
    bullet_pt = fitted_size(
        content.bullets[:MAX_BULLETS],
        (left, top, width, height),
        (BULLET_PT, 18, MIN_PT),
        BULLET_GAP_IN,
    )
    for index, text in enumerate(content.bullets[:MAX_BULLETS]):
        paragraph = body.text_frame.paragraphs[0] if index == 0 else body.text_frame.add_paragraph()
        _bullet(paragraph, int(Inches(0.3)))
        paragraph.space_after = Inches(BULLET_GAP_IN)
        _run(paragraph, text, bullet_pt, bold=index == 0)

    if content.chart is not None:
        _add_chart(slide, content.chart)

    foot = _text_box(slide, FOOTER_BOX, "Footer")
    _run(foot.text_frame.paragraphs[0], content.footer, FOOTER_PT, colour="#495057")

    notes = slide.notes_slide.notes_text_frame
    notes.text = "\n".join(content.notes)
    path.parent.mkdir(parents=True, exist_ok=True)
    presentation.save(str(path))
    return path


# --- png (LibreOffice) ------------------------------------------------------------------------------------


def pptx_to_png(pptx: Path, png: Path, pdf: Path) -> str | None:
    """pptx -> PDF (LibreOffice headless) -> PNG (pdftoppm, 96 dpi); a note when a tool is missing."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        return (
            f"LibreOffice (soffice) not found: {png.name} (the rendered slide) was not made "
            "(install Debian libreoffice-impress)"
        )
    pdftoppm = shutil.which("pdftoppm")
    if not pdftoppm:
        return f"pdftoppm not found: {png.name} was not made (install Debian poppler-utils)"
    with tempfile.TemporaryDirectory(prefix="ci-soffice-") as scratch:
        work = Path(scratch)
        profile = (work / "profile").as_uri()  # own profile: parallel builds do not share a lock
        command = [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(work),
            str(pptx),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=180)
        except (subprocess.SubprocessError, OSError) as exc:
            raise TargetError(f"{pptx.name} -> PDF with LibreOffice failed: {exc}") from exc
        made = work / f"{pptx.stem}.pdf"
        if not made.exists():
            raise TargetError(f"LibreOffice wrote no PDF for {pptx.name}")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(made, pdf)
        prefix = work / "page"
        try:
            subprocess.run(
                [pdftoppm, "-png", "-r", "96", "-singlefile", str(pdf), str(prefix)],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            raise TargetError(f"{pdf.name} -> PNG with pdftoppm failed: {exc}") from exc
        shutil.copy2(prefix.with_suffix(".png"), png)
    return None


# --- html -----------------------------------------------------------------------------------------------


def chart_bars_html(chart: ChartData) -> str:
    """The chart as HTML bars (widths in %): scales to any width, no script, no image."""
    peak = max((v for _, values in chart.series for v in values), default=0) or 1
    legend = ""
    if len(chart.series) > 1:
        legend = (
            '<ul class="legend">'
            + "".join(
                f'<li><span class="swatch" style="background:{html.escape(colour)}"></span>'
                f"{html.escape(name)}</li>"
                for (name, _), colour in zip(chart.series, chart.colours, strict=False)
            )
            + "</ul>"
        )
    if chart.stacked:
        totals = [
            sum(values[i] for _, values in chart.series) for i in range(len(chart.categories))
        ]
        peak = max(totals, default=0) or 1

    def span(share: float) -> str:  # the bar's share of the row, less room for the value label
        return f"width:calc((100% - 4em) * {share:.4f})"

    groups = []
    for index, category in enumerate(chart.categories):
        parts = [
            (name, values[index], colour)
            for (name, values), colour in zip(chart.series, chart.colours, strict=False)
        ]
        if chart.stacked:  # one bar of segments, the total beside it
            total = sum(value for _, value, _ in parts)
            segments = "".join(
                f'<span class="segment" style="width:{100 * value / total:.1f}%;'
                f'background:{html.escape(colour)}" title="{html.escape(name)}: {_num(value)}">'
                "</span>"
                for name, value, colour in parts
                if value
            )
            rows = [
                f'<div class="bar-row"><span class="bar" style="{span(total / peak)}">{segments}'
                f'</span><span class="value">{html.escape(_num(total))}</span></div>'
            ]
        else:
            rows = [
                f'<div class="bar-row"><span class="bar" style="{span(value / peak)};'
                f'background:{html.escape(colour)}" title="{html.escape(name)}"></span>'
                f'<span class="value">{html.escape(_num(value))}</span></div>'
                for name, value, colour in parts
            ]
        groups.append(
            f'<div class="group"><div class="category">{html.escape(category)}</div>'
            f"{''.join(rows)}</div>"
        )
    return (
        f'<figure class="chart"><figcaption>{html.escape(chart.title)}</figcaption>{legend}'
        f'<div class="bars" role="img" aria-label="{html.escape(chart.description())}">'
        f"{''.join(groups)}</div></figure>"
    )


def build_html(content: SlideContent, path: Path, config: Config, png: bool) -> Path:
    template = Template((TEMPLATES / "slide.html").read_text(encoding="utf-8"))
    downloads = ['<a href="slide.pptx">slide.pptx</a>']
    if png:
        downloads.append('<a href="slide.png">slide.png</a>')
    downloads.append('<a href="index.html">the full report</a>')
    page = template.substitute(
        pagetitle=html.escape(f"{config.site.title}: summary slide"),
        title=html.escape(content.title),
        bullets="".join(f"<li>{html.escape(b)}</li>" for b in content.bullets),
        chart=chart_bars_html(content.chart) if content.chart else "",
        footer=html.escape(content.footer),
        notes="".join(f"<p>{html.escape(n)}</p>" for n in content.notes),
        downloads=" · ".join(downloads),
    )
    path.write_text(page, encoding="utf-8")
    return path


# --- the whole slide --------------------------------------------------------------------------------------


def png_tools_missing() -> str | None:
    """Why slide.png cannot be made here (LibreOffice or poppler missing), or None."""
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        return (
            "LibreOffice (soffice) not found: slide.png (the rendered slide) was not made "
            "(install Debian libreoffice-impress)"
        )
    if not shutil.which("pdftoppm"):
        return "pdftoppm not found: slide.png was not made (install Debian poppler-utils)"
    return None


def render_slide(
    content: SlideContent, site_dir: Path, build_dir: Path, config: Config, png: bool = True
) -> tuple[list[Path], list[str]]:
    """slide.pptx, slide.html and, when `png` (render --slide-png) and LibreOffice and poppler are
    installed, slide.png (LibreOffice takes about 1.5 s to start: only the publishing workflow asks)."""
    pptx = build_pptx(content, site_dir / "slide.pptx")
    png_path = site_dir / "slide.png"
    note = pptx_to_png(pptx, png_path, build_dir / "slide.pdf") if png else None
    made = png and note is None
    html_out = build_html(content, site_dir / "slide.html", config, png=made)
    outputs = [html_out, pptx] + ([png_path] if made else [])
    return outputs, [note] if note else []


def chart_altair(chart: ChartData, width: int = 560):
    """The slide's chart for a PNG (email): grouped horizontal bars, large fonts, fitted to `width` px."""
    import altair as alt

    rows = [
        {"category": category, "series": name, "value": values[index], "order": index}
        for name, values in chart.series
        for index, category in enumerate(chart.categories)
    ]
    names = [name for name, _ in chart.series]
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=names, range=cast(Any, chart.colours or None)),
        legend=alt.Legend(orient="bottom", labelFontSize=20, symbolSize=300)
        if len(names) > 1
        else None,
    )
    y = alt.Y("category:N", sort=chart.categories, title=None, axis=alt.Axis(labelLimit=260))
    x = alt.X(
        "value:Q", title=chart.unit.capitalize() or None, axis=None, stack=chart.stacked or None
    )
    source = alt.Chart(alt.Data(values=rows))
    if chart.stacked:  # one bar per category, the total as its label
        bars = (
            source.mark_bar()
            .encode(
                y=y,
                x=x,
                color=colour,
                order="series_order:Q",
                tooltip=["category:N", "series:N", "value:Q"],
            )
            .transform_calculate(series_order=f"indexof({json.dumps(names)}, datum.series)")
        )
        labels = (
            source.transform_aggregate(total="sum(value)", groupby=["category"])
            .mark_text(align="left", dx=4, fontSize=20)
            .encode(y=y, x=alt.X("total:Q", axis=None), text=alt.Text("total:Q"))
        )
    else:
        base = source.encode(y=y, yOffset=alt.YOffset("series:N", sort=names), x=x)
        bars = base.mark_bar().encode(color=colour, tooltip=["category:N", "series:N", "value:Q"])
        labels = base.mark_text(align="left", dx=4, fontSize=20).encode(text=alt.Text("value:Q"))
    return (
        (bars + labels)
        .properties(
            width=width,
            height=alt.Step(36),
            title=alt.Title(chart.title, fontSize=22, anchor="start"),
            description=chart.description(),
            autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
        )
        .configure_axis(labelFontSize=20)
        .configure_view(stroke=None)
    )
