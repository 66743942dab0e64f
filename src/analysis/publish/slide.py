"""The one-slide summary: slide.pptx (python-pptx, a native chart), slide.png (LibreOffice) and slide.html
(a reveal.js slide written by pandoc's revealjs writer).

slide.qmd is the source: its cell computes the shared summary (`summary.summarise`, the same object the
email and the summary page lay out), turns it into a `SlideContent` (`content`) and hands it to `show()`,
which displays a preview and emits the content as JSON (mime type SLIDE_MIME) in the executed notebook.
render.py reads that object back (`content_from_notebook`) and `render_slide` builds every format from it:

- slide.pptx: one 16:9 slide drawn with python-pptx (pandoc's pptx writer cannot make a native chart or fix
  font sizes): the title in the layout's title placeholder (so PowerPoint, Keynote and Google Slides
  know it as the slide's title), at most MAX_BULLETS bullets, a bar chart the viewer can edit, a footer
  with the data period and the simulated-data notice, the details in the speaker notes. Each text box has
  one fixed size (>= MIN_PT, the largest that fits), autofit is off and word wrap on, and every shape lies
  inside the slide.
- slide.png: the pptx itself as LibreOffice draws it (soffice --convert-to pdf, then pdftoppm at 96 dpi:
  1280 x 720), only when asked (`render --slide-png`: the publishing workflow does; starting LibreOffice
  costs about 1.5 s). Asked without LibreOffice or poppler, the build notes which file it could not make.
- slide.html: the same content as a reveal.js slide (pandoc's revealjs writer with templates/
  slide-revealjs.html; reveal.js from the site's assets/, copied from node_modules: no CDN); the chart is
  HTML bars (no image), the notes are the speaker notes (press S); on a phone the slide reflows instead
  of shrinking.

All text is plain (not Markdown) and masked for public builds before it enters the content object.
"""

from __future__ import annotations

import dataclasses
import html
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.config import Config
from analysis.errors import TargetError
from analysis.publish.common import TEMPLATES, PandocJob, pandoc_many
from analysis.publish.summary import (
    MAX_BULLETS,
    MAX_TITLE_WORDS,
    MAX_WORDS,
    ChartData,
    Summary,
    chart_altair,
    clip_words,
    readable_dates,
)

__all__ = [
    "MAX_BULLETS",
    "MAX_TITLE_WORDS",
    "MAX_WORDS",
    "ChartData",
    "SlideContent",
    "build_html",
    "build_pptx",
    "chart_altair",
    "clip_words",
    "content",
    "html_job",
    "readable_dates",
    "render_slide",
]

SLIDE_MIME = "application/vnd.curriculum-insights.slide+json"
MIN_PT = 16  # smallest text on the slide (footer, bullets)

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
TITLE_ONLY_LAYOUT = (
    5  # python-pptx's default template: "Title Only" (a title placeholder, nothing else)
)


@dataclass(frozen=True)
class SlideContent:
    title: str
    bullets: list[str]
    chart: ChartData | None
    footer: str
    notes: list[str] = field(default_factory=list)
    numbers: list[tuple[str, str]] = field(default_factory=list)  # the lead's counts, as text
    question: int = 0  # the question the title comes from (its page is linked)

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
            numbers=[(str(k), str(v)) for k, v in data.get("numbers", [])],
            question=int(data.get("question", 0)),
        )


def content(summary: Summary) -> SlideContent:
    """The slide's part of the shared summary (it lays it out; it decides nothing)."""
    return SlideContent(
        title=summary.title,
        bullets=list(summary.bullets[:MAX_BULLETS]),
        chart=summary.chart,
        footer=summary.footer,
        notes=list(summary.notes),
        numbers=list(summary.numbers),
        question=summary.question,
    )


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


# --- the notebook ---------------------------------------------------------------------------------------


def show(content: SlideContent):
    """Display the slide in the notebook: its Markdown (what Quarto's revealjs format renders, the same
    text pandoc's revealjs writer gets here) plus the content as JSON (what the build draws from)."""
    from IPython.display import display

    display(
        {"text/markdown": slide_markdown(content, png=True), SLIDE_MIME: content.to_json()},
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


def _title_placeholder(slide: Any):
    """The layout's title placeholder, moved to TITLE_BOX, top-left aligned, no autofit, word wrap on."""
    from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE
    from pptx.util import Inches

    shape = slide.shapes.title
    if shape is None:
        raise TargetError("the pptx layout has no title placeholder")
    shape.left, shape.top, shape.width, shape.height = (Inches(v) for v in TITLE_BOX)
    shape.name = "Title"
    frame = shape.text_frame
    frame.clear()
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.NONE
    frame.vertical_anchor = MSO_ANCHOR.TOP
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
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Inches

    presentation = Presentation()
    presentation.slide_width = Inches(SLIDE_W)
    presentation.slide_height = Inches(SLIDE_H)
    # "Title Only": the title goes in the layout's title placeholder (the slide's title for PowerPoint,
    # Google Slides, screen readers and the outline), placed and styled like the other text boxes.
    slide = presentation.slides.add_slide(presentation.slide_layouts[TITLE_ONLY_LAYOUT])
    title = _title_placeholder(slide)
    title_pt = fitted_size([content.title], TITLE_BOX, (TITLE_PT, 24, 20))
    paragraph = title.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.LEFT
    _run(paragraph, content.title, title_pt, bold=True, colour="#1b2a41")

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


def slide_markdown(content: SlideContent, png: bool) -> str:
    """The slide as pandoc Markdown for the revealjs writer: one level-1 section (the slide), the bullets,
    the lead's counts and chart, the footer with the downloads, the speaker notes."""
    from analysis.publish.pages import escape_md, raw_html

    links = ["[slide.pptx](slide.pptx)"]
    if png:
        links.append("[slide.png](slide.png)")
    report = "[the full report](index.html)"
    if content.question:
        report += f", [question {content.question}](questions/q{content.question}.html)"
    links.append(report)
    lines = [f"# {escape_md(content.title)}", "", "::: bullets"]
    lines += [f"- {escape_md(bullet)}" for bullet in content.bullets[:MAX_BULLETS]]
    lines += [":::", ""]
    if content.chart is not None or content.numbers:
        lead = ""
        if content.numbers:
            lead += (
                '<ul class="numbers" aria-label="Counts">'
                + "".join(
                    f"<li><strong>{html.escape(value)}</strong>{html.escape(label)}</li>"
                    for label, value in content.numbers
                )
                + "</ul>"
            )
        if content.chart is not None:
            lead += chart_bars_html(content.chart)
        lines += [raw_html(f'<div class="lead">{lead}</div>'), ""]
    lines += ["::: slide-footer", f"{escape_md(content.footer)} · {' · '.join(links)}", ":::", ""]
    lines += ["::: notes"] + [f"{escape_md(note)}\n" for note in content.notes] + [":::", ""]
    return "\n".join(lines)


def html_job(content: SlideContent, config: Config, png: bool) -> PandocJob:
    """The pandoc job that makes slide.html: pandoc's revealjs writer with
    templates/slide-revealjs.html (reveal.js from assets/)."""
    return PandocJob(
        slide_markdown(content, png),
        "revealjs",
        template=TEMPLATES / "slide-revealjs.html",
        metadata={"pagetitle": f"{config.site.title}: summary slide"},
        slide_level=1,
        where="slide.qmd",
    )


def build_html(
    content: SlideContent, path: Path, config: Config, png: bool, converted: str | None = None
) -> Path:
    """slide.html: html_job's document (`converted`: that document when the caller had pandoc make it
    already)."""
    page = converted if converted is not None else pandoc_many([html_job(content, config, png)])[0]
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
    content: SlideContent,
    site_dir: Path,
    build_dir: Path,
    config: Config,
    png: bool = True,
    html: str | None = None,
) -> tuple[list[Path], list[str]]:
    """slide.pptx, slide.html and, when `png` (render --slide-png) and LibreOffice and poppler are
    installed, slide.png (LibreOffice takes about 1.5 s to start: only the publishing workflow asks).
    `html`: the document of html_job(content, config, png=False) when the caller had pandoc make it
    already (used when no slide.png is made)."""
    pptx = build_pptx(content, site_dir / "slide.pptx")
    png_path = site_dir / "slide.png"
    note = pptx_to_png(pptx, png_path, build_dir / "slide.pdf") if png else None
    made = png and note is None
    html_out = build_html(
        content, site_dir / "slide.html", config, png=made, converted=None if made else html
    )
    outputs = [html_out, pptx] + ([png_path] if made else [])
    return outputs, [note] if note else []
