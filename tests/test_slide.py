"""The one-slide summary: content from the report (lead finding, bullets, chart data), slide.pptx read back
(one 16:9 slide, shapes inside, <= 4 bullets of <= 15 words, a native chart, text >= 16 pt), slide.png as
LibreOffice renders the pptx (no text runs into the footer) and slide.html with the same content."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from conftest import require
from pptx import Presentation
from pptx.enum.text import MSO_AUTO_SIZE
from pptx.util import Emu, Pt
from render_support import SECRET_IP, demo_build, hostile_build

from analysis.publish import slide, summary

# --- content (unit, tiny inline results) ------------------------------------------------------------------


def _result(number: int, headline: str, **fields):
    return SimpleNamespace(
        number=number,
        title=f"Question {number}",
        answer=f"Answer {number}: {headline}.",
        headline=lambda: headline,
        **fields,
    )


def _incidents(tiers: list[tuple[str, str]]) -> pl.DataFrame:
    start = dt.datetime(2020, 3, 1, 2, 0)
    return pl.DataFrame(
        {
            "rank": list(range(1, len(tiers) + 1)),
            "tier": [t for t, _ in tiers],
            "kind": [k for _, k in tiers],
            "user_id": list(range(100, 100 + len(tiers))),
            "ip": [SECRET_IP] * len(tiers),
            "start": [start] * len(tiers),
            "end": [start + dt.timedelta(minutes=5)] * len(tiers),
            "views": [300] * len(tiers),
            "evidence": [
                f"user {100 + i} fetched 300 pages from {SECRET_IP}" for i in range(len(tiers))
            ],
        }
    )


TIERED = [
    ("high", "scraping"),
    ("high", "scraping"),
    ("high", "account_sharing"),
    ("medium", "heavy_day"),
    ("medium", "scraping"),
    *[("low", "unknown_user")] * 5,
]


def _report(results: dict, simulated: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        results=results,
        dataset={
            "first_seen": "2018-01-26T09:00:00",
            "last_seen": "2021-04-21T17:00:00",
            "simulated": simulated,
            "source": "test",
        },
    )


def _q4(incidents: pl.DataFrame):
    """A real Q4Result over `incidents` (its per-tier and per-kind counts made here, as q4 defines them)."""
    from analysis.questions import q4

    per_kind = incidents.group_by("tier", "kind").agg(
        pl.len().cast(pl.Int64).alias("incidents"),
        pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
        pl.col("views").sum().cast(pl.Int64).alias("views"),
    )
    grid = pl.DataFrame(
        {"tier": [t for t in q4.TIERS for _ in q4.KINDS], "kind": [*q4.KINDS] * len(q4.TIERS)}
    )
    summary_frame = (
        grid.join(per_kind, on=["tier", "kind"], how="left", maintain_order="left")
        .with_columns(pl.col("incidents", "users", "views").fill_null(0))
        .cast(q4.SUMMARY_SCHEMA)
    )
    tiers = (
        summary_frame.group_by("tier", maintain_order=True)
        .agg(pl.col("incidents", "users", "views").sum())
        .cast(q4.TIER_SCHEMA)
    )
    return q4.Q4Result(
        number=4,
        title="Question 4",
        answer="Answer 4.",
        supporting=[],
        method="",
        incidents=incidents,
        tiers=tiers,
        summary=summary_frame,
        total_incidents=incidents.height,
    )


def _report_results(incidents: pl.DataFrame | None) -> dict:
    results = {
        1: _result(1, "javascript-i is a top 5 lesson in all 28 Java web dev cohorts"),
        3: _result(3, "21 of 702 students hardly use the curriculum; 8 look like drop-outs"),
        5: _result(
            5,
            "Cross-program access dropped on 2019-06-01, but 1,881 views by 193 students "
            "continued, and most of them kept reading the other track for two more years",
        ),
        6: _result(6, "694 of 706 graduates kept reading after graduating"),
    }
    if incidents is not None:
        results[4] = _q4(incidents)
    return results


def _content(config, results: dict, simulated: bool = True) -> slide.SlideContent:
    return slide.content(summary.summarise(_report(results, simulated), config))


def test_high_risk_incidents_lead_the_title_bullet_and_chart(config) -> None:
    """The chart shows the high tier only (a longer medium or low bar cannot dwarf it); every tier's
    count is text, high first."""
    content = _content(config, _report_results(_incidents(TIERED)))
    assert (
        content.title
        == "Act on 3 incidents now: 2 cases of automated fetching and 1 shared account"
    )
    assert content.bullets[0] == "Incidents by tier: 3 High, 2 Medium and 5 Low"
    assert content.numbers == [("High tier", "3"), ("Medium tier", "2"), ("Low tier", "5")]
    assert content.question == 4
    chart = content.chart
    assert chart is not None and not chart.stacked
    assert chart.title == "High tier: incidents by kind"
    assert chart.categories == ["Automated fetching", "Shared account"]
    assert chart.series == [("High tier", [2.0, 1.0])]


def test_without_high_risk_the_medium_tier_is_charted(config) -> None:
    content = _content(config, _report_results(_incidents([t for t in TIERED if t[0] != "high"])))
    assert content.chart is not None and content.chart.title == "Medium tier: incidents by kind"
    assert content.bullets[0] == "Incidents by tier: 2 Medium and 5 Low"
    assert content.numbers[0] == ("High tier", "0")


def test_bullets_are_few_short_and_dates_readable(config) -> None:
    content = _content(config, _report_results(_incidents(TIERED)))
    assert len(content.bullets) == slide.MAX_BULLETS
    assert all(len(b.split()) <= slide.MAX_WORDS for b in content.bullets), content.bullets
    assert content.bullets[1].startswith("21 of 702 students")  # Q3 follows the lead
    cross = content.bullets[2]
    assert "1 Jun 2019" in cross and "2019-06-01" not in cross
    assert cross.endswith("continued")  # cut at the clause break, not mid-phrase
    assert content.footer == (
        "Data from 26 Jan 2018 to 21 Apr 2021 · Simulated data: it shows the method, not real students"
    )


def test_public_slide_masks_ips_in_the_notes(config) -> None:
    content = _content(config, _report_results(_incidents(TIERED)))
    notes = "\n".join(content.notes)
    assert SECRET_IP not in notes and "198.51.100.x" in notes
    assert "user 100 fetched 300 pages" in notes  # the High tier's evidence is in the notes
    assert "Full report: the website in the _site folder" in notes  # no URL configured


def test_without_incidents_graduates_lead(config) -> None:
    from analysis.questions import q6

    results = _report_results(None)
    results[6] = q6.Q6Result(
        number=6,
        title="Question 6",
        answer="Answer 6.",
        supporting=[],
        method="",
        programs=pl.DataFrame(
            {
                "program": ["Java web dev", "Data science"],
                "graduates": [600, 100],
                "alumni_readers": [594, 90],
            }
        ),
        graduates=700,
        alumni_readers=684,
    )
    content = _content(config, results, simulated=False)
    assert content.title == "98% of graduates keep using the curriculum after graduating"
    assert content.bullets[0] == "684 of 700 graduates came back after graduating"
    assert content.chart is not None and content.chart.categories == [
        "Java web dev",
        "Data science",
    ]
    assert "Simulated" not in content.footer


def test_slide_and_email_share_one_summary_without_an_import_cycle() -> None:
    """slide.py and email.py both import summary.py; neither imports the other; summary imports neither."""
    import ast
    import inspect

    from analysis.publish import email as email_module

    def imports(module) -> set[str]:
        tree = ast.parse(inspect.getsource(module))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        return names

    slide_imports, email_imports = imports(slide), imports(email_module)
    summary_imports = imports(summary)
    assert (
        "analysis.publish.summary" in slide_imports and "analysis.publish.summary" in email_imports
    )
    assert not any(name.startswith("analysis.publish.email") for name in slide_imports)
    assert not any(name.startswith("analysis.publish.slide") for name in email_imports)
    assert not any(
        name.startswith(("analysis.publish.slide", "analysis.publish.email"))
        for name in summary_imports
    )


def test_clip_words_cuts_at_a_clause_then_at_the_limit() -> None:
    assert slide.clip_words("one two three.", 15) == "one two three"
    long = "a b c d e f g h i j k l m n o p q r s t"
    assert slide.clip_words(long, 15) == "a b c d e f g h i j k l m n o…"
    clause = "alpha beta gamma delta epsilon zeta eta theta; iota kappa lambda mu nu xi omicron pi"
    assert slide.clip_words(clause, 15) == "alpha beta gamma delta epsilon zeta eta theta"


def test_content_survives_the_notebook_round_trip(config) -> None:
    content = _content(config, _report_results(_incidents(TIERED)))
    notebook = SimpleNamespace(
        cells=[{"outputs": [{"data": {slide.SLIDE_MIME: content.to_json()}}]}]
    )
    assert slide.content_from_notebook(notebook) == content


# --- pptx read back -----------------------------------------------------------------------------------------


def _check_pptx(path: Path) -> Presentation:
    """One 16:9 slide; every shape inside; <= 4 bullets of <= 15 words; a native chart; runs >= 16 pt."""
    presentation = Presentation(str(path))
    assert len(presentation.slides) == 1
    width, height = presentation.slide_width, presentation.slide_height
    assert abs(width / height - 16 / 9) < 0.01
    shapes = list(presentation.slides[0].shapes)
    for shape in shapes:
        assert shape.left >= 0 and shape.top >= 0, shape.name
        assert shape.left + shape.width <= width and shape.top + shape.height <= height, shape.name
    names = {shape.name: shape for shape in shapes}
    assert {"Title", "Bullets", "Footer", "Chart"} <= set(names)
    bullets = [p.text for p in names["Bullets"].text_frame.paragraphs if p.text.strip()]
    assert 1 <= len(bullets) <= 4
    assert all(len(b.split()) <= 15 for b in bullets), bullets
    chart = names["Chart"]
    assert chart.has_chart and chart.shape_type == 3  # a graphicFrame holding a chart part
    assert chart.chart.plots[0].categories and len(chart.chart.series) >= 1
    with zipfile.ZipFile(path) as archive:
        assert any(re.fullmatch(r"ppt/charts/chart\d+\.xml", n) for n in archive.namelist())
        assert not any(n.startswith("ppt/media/") for n in archive.namelist())  # no picture
    for shape in shapes:
        if not shape.has_text_frame:
            continue
        frame = shape.text_frame
        assert frame.word_wrap is True and frame.auto_size == MSO_AUTO_SIZE.NONE, shape.name
        for paragraph in frame.paragraphs:
            for run in paragraph.runs:
                assert run.font.size is not None and run.font.size >= Pt(16), (shape.name, run.text)
    notes = presentation.slides[0].notes_slide.notes_text_frame.text
    assert "The answers:" in notes
    return presentation


def test_built_pptx_reads_back(config, tmp_path: Path) -> None:
    content = _content(config, _report_results(_incidents(TIERED)))
    path = slide.build_pptx(content, tmp_path / "slide.pptx")
    presentation = _check_pptx(path)
    shapes = {s.name: s for s in presentation.slides[0].shapes}
    assert shapes["Title"].text_frame.text == content.title
    # the title is the layout's title placeholder: the slide's title for PowerPoint and Google Slides
    title = presentation.slides[0].shapes.title
    assert title is not None and title.is_placeholder and title.text_frame.text == content.title
    assert shapes["Footer"].text_frame.text == content.footer
    series = shapes["Chart"].chart.plots[0].series
    assert [s.name for s in series] == ["High tier"]
    assert list(series[0].values) == [2.0, 1.0]
    assert shapes["Chart"].chart.chart_type == 57  # XL_CHART_TYPE.BAR_CLUSTERED


def test_without_libreoffice_the_png_is_named_as_missing(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(slide.shutil, "which", lambda name: None)
    note = slide.pptx_to_png(
        tmp_path / "slide.pptx", tmp_path / "slide.png", tmp_path / "slide.pdf"
    )
    assert note is not None and "slide.png" in note and "LibreOffice" in note
    assert not (tmp_path / "slide.png").exists()


# --- the rendered slide (hostile snapshot; demo snapshot) ----------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    return hostile_build(tmp_path_factory.mktemp("hostile-public"))


@pytest.mark.render
def test_rendered_pptx_reads_back(built) -> None:
    config, _, _ = built
    presentation = _check_pptx(config.paths.site_dir / "slide.pptx")
    text = "\n".join(s.text_frame.text for s in presentation.slides[0].shapes if s.has_text_frame)
    assert "Simulated data" in text
    notes = presentation.slides[0].notes_slide.notes_text_frame.text
    assert SECRET_IP not in notes and SECRET_IP not in text


def _pdf_lines(pdf: Path) -> tuple[float, float, list[tuple[str, float, float, float, float]]]:
    """Page size and every text line (text, xMin, yMin, xMax, yMax) in PDF points, via pdftotext."""
    out = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', out)
    assert page, out[:500]
    lines = []
    for body in re.findall(r"<line[^>]*>(.*?)</line>", out, re.S):
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
            body,
        )
        if words:
            lines.append(
                (
                    " ".join(w[4] for w in words),
                    min(float(w[0]) for w in words),
                    min(float(w[1]) for w in words),
                    max(float(w[2]) for w in words),
                    max(float(w[3]) for w in words),
                )
            )
    return float(page.group(1)), float(page.group(2)), lines


def _squash(text: str) -> str:
    import html

    return re.sub(r"[\s•]", "", html.unescape(text))


def _require_libreoffice() -> None:
    require(
        bool(shutil.which("soffice") and shutil.which("pdftoppm") and shutil.which("pdftotext")),
        "LibreOffice (soffice) and poppler-utils are needed to render the pptx",
    )


def _check_rendered(config) -> None:
    """slide.png is LibreOffice's 1280 x 720 rendering; in its PDF no text passes the footer or the page."""
    _require_libreoffice()
    png = (config.paths.site_dir / "slide.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 720)
    presentation = Presentation(str(config.paths.site_dir / "slide.pptx"))
    shapes = {s.name: s for s in presentation.slides[0].shapes}
    emu_pt = Emu(Pt(1))
    width, height, lines = _pdf_lines(config.paths.build_dir / "slide.pdf")
    for text, x0, y0, x1, y1 in lines:
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, text  # nothing off the slide

    def owner(line) -> str | None:
        """The shape a drawn line belongs to: its text contains the line, its columns hold it, and of
        those the one starting nearest above it (so text overflowing its box still counts as its own)."""
        text, x0, y0, x1, _ = line
        fits = [
            shape
            for shape in shapes.values()
            if _squash(text)
            and _squash(text) in _squash(_shape_text(shape))
            and shape.left / emu_pt - 2 <= x0
            and x1 <= (shape.left + shape.width) / emu_pt + 2
        ]
        above = [shape for shape in fits if shape.top / emu_pt - 2 <= y0]
        best = max(above or fits, key=lambda shape: shape.top, default=None)
        return best.name if best is not None else None

    owned: dict[str | None, list] = {}
    for line in lines:
        if _squash(line[0]):  # bullet glyphs alone are not text
            owned.setdefault(owner(line), []).append(line)
    assert None not in owned, owned.get(None)  # every drawn line is text of one shape
    footer_top = min(line[2] for line in owned["Footer"])
    for name in ("Title", "Bullets", "Footer"):
        shape = shapes[name]
        mine = owned.get(name, [])
        drawn = _squash(" ".join(line[0] for line in mine))
        assert drawn == _squash(shape.text_frame.text), name  # every word drawn, once
        bottom = max(line[4] for line in mine)
        assert bottom <= (shape.top + shape.height) / emu_pt + 2, (name, "runs out of its box")
        if name != "Footer":
            assert bottom < footer_top, (name, bottom, footer_top)  # text ends above the footer
    # the chart is drawn natively: its category labels are text in the PDF, inside the chart's frame
    chart = shapes["Chart"]
    drawn = _squash(" ".join(line[0] for line in owned.get("Chart", [])))
    for category in chart.chart.plots[0].categories:
        assert _squash(category) in drawn, category


def _shape_text(shape) -> str:
    if shape.has_text_frame:
        return shape.text_frame.text
    if getattr(shape, "has_chart", False):
        chart = shape.chart
        parts = [chart.chart_title.text_frame.text if chart.has_title else ""]
        parts += [str(c) for c in chart.plots[0].categories]
        parts += [s.name for s in chart.series]
        parts += [f"{v:,.0f}" for s in chart.series for v in s.values]
        return " ".join(parts)
    return ""


@pytest.mark.render
def test_libreoffice_renders_the_pptx_without_clipping(built) -> None:
    config, _, summary = built
    _require_libreoffice()
    assert not any("slide.png" in note for note in summary.notes), summary.notes
    _check_rendered(config)


WORST_WORDS = [
    *("Cross-program", "enrollment", "1,881", "graduates", "continued", "reading,", "incidents"),
    *(
        "flagged",
        "shared",
        "accounts",
        "automated",
        "downloads",
        "outside",
        "networks",
        "everywhere",
    ),
]


@pytest.mark.render
def test_the_longest_allowed_content_still_fits(tmp_path: Path) -> None:
    """A 14-word title and 4 bullets of 15 long words: the fixed sizes chosen still fit above the footer."""
    _require_libreoffice()
    title = " ".join((WORST_WORDS * 2)[:14])
    bullets = [" ".join((WORST_WORDS * 2)[i : i + 15]) for i in range(4)]
    content = slide.SlideContent(
        title=title,
        bullets=bullets,
        chart=slide.ChartData(
            "High- and medium-risk incidents by kind",
            ["Automated fetching", "Shared account", "Heavy day", "Unknown account"],
            [("High risk", [4.0, 3.0, 0.0, 0.0]), ("Medium risk", [0.0, 0.0, 7.0, 1.0])],
            ["#b02a37", "#e08e0b"],
            stacked=True,
        ),
        footer="Data from 26 Jan 2018 to 21 Apr 2021 · Simulated data: it shows the method, not real students",
        notes=["The answers:"],
    )
    site, build = tmp_path / "_site", tmp_path / "_build"
    path = slide.build_pptx(content, site / "slide.pptx")
    _check_pptx(path)
    assert slide.pptx_to_png(path, site / "slide.png", build / "slide.pdf") is None
    _check_rendered(SimpleNamespace(paths=SimpleNamespace(site_dir=site, build_dir=build)))


@pytest.mark.render
@pytest.mark.slow
def test_demo_slide_renders_without_clipping(tmp_path_factory, demo_snapshot_dir) -> None:
    config, _, _ = demo_build(tmp_path_factory.mktemp("demo-render"), demo_snapshot_dir)
    _check_pptx(config.paths.site_dir / "slide.pptx")
    _check_rendered(config)


@pytest.mark.render
def test_slide_html_carries_the_same_content(built) -> None:
    config, _, _ = built
    page = (config.paths.site_dir / "slide.html").read_text(encoding="utf-8")
    presentation = Presentation(str(config.paths.site_dir / "slide.pptx"))
    shapes = {s.name: s for s in presentation.slides[0].shapes}
    import html

    plain = html.unescape(re.sub(r"<[^>]+>", " ", page))
    squashed = _squash(plain)
    for name in ("Title", "Bullets", "Footer"):
        for paragraph in shapes[name].text_frame.paragraphs:
            assert _squash(paragraph.text) in squashed, paragraph.text
    for category in shapes["Chart"].chart.plots[0].categories:
        assert html.escape(category) in page
    assert page.count('class="slide level1"') == 1  # one reveal.js slide (pandoc's revealjs writer)
    assert '<meta name="viewport"' in page and "<img" not in page
    assert 'href="slide.pptx"' in page
    # reveal.js and its notes plugin from the site's own assets (copied from node_modules): no CDN
    scripts = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert "assets/reveal.js/reveal.js" in scripts and "assets/reveal.js/plugin/notes.js" in scripts
    assert not [s for s in scripts if "//" in s and not s.startswith("data:")], scripts
    for local in scripts:
        if not local.startswith("data:"):
            assert (config.paths.site_dir / local).is_file(), local
    assert '<aside class="notes">' in page  # the speaker notes (press S)


@pytest.mark.parametrize("stacked", [True, False])
def test_chart_html_and_png_show_every_value(stacked: bool) -> None:
    import json

    import vl_convert as vlc

    chart = slide.ChartData(
        title="Incidents by kind",
        categories=["Automated fetching", "Heavy day <b>"],
        series=[("High risk", [4.0, 0.0]), ("Medium risk", [1.0, 7.0])],
        colours=["#b02a37", "#e08e0b"],
        stacked=stacked,
    )
    fragment = slide.chart_bars_html(chart)
    assert "Heavy day &lt;b&gt;" in fragment and "<b>" not in fragment
    assert (
        'aria-label="Incidents by kind. High risk: Automated fetching 4; Medium risk:' in fragment
    )
    if stacked:  # one bar per kind, its total beside it, a segment per non-zero value
        assert fragment.count('class="segment"') == 3
        assert (
            '<span class="value">5</span>' in fragment
            and '<span class="value">7</span>' in fragment
        )
    else:
        assert fragment.count('<span class="value">') == 4
    png = vlc.vegalite_to_png(json.dumps(slide.chart_altair(chart).to_dict()), scale=2)
    assert struct.unpack(">II", png[16:24])[0] >= 2 * 560


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_slide_html_fits_a_phone_and_is_accessible(built, width: int) -> None:
    """slide.html in Chromium: reveal.js loads from the site (no request leaves 127.0.0.1, no console
    error), no horizontal overflow, no broken image, zero axe-core violations, the chart's bars drawn;
    on a phone the title is in the first screen at a readable size (the slide reflows, not shrinks)."""
    import test_browser as tb

    executable = shutil.which("chromium")
    require(bool(executable), "chromium is needed for the browser tier")
    require(tb.AXE.exists(), f"{tb.AXE} missing (npm ci installs axe-core)")
    config, _, _ = built
    with tb.serve(config.paths.site_dir) as base, tb.chromium(executable) as browser:
        page, response, errors, foreign = tb.open_page(browser, base + "slide.html", width)
        try:
            assert response is not None and response.status == 200
            scroll, inner = tb.overflow(page)
            assert scroll <= inner, (width, scroll, inner)
            assert not errors and not foreign, (errors, foreign)
            assert page.locator("img").count() == 0
            bars = page.locator(".bars .bar")
            assert bars.count() >= 1 and bars.first.bounding_box()["width"] > 0
            assert page.evaluate("() => typeof Reveal !== 'undefined' && Reveal.isReady()")
            title = page.locator("section.slide h1").bounding_box()
            assert title is not None and title["y"] >= 0 and title["y"] + title["height"] <= 900
            size = page.eval_on_selector(
                "section.slide li",
                "e => parseFloat(getComputedStyle(e).fontSize)"
                " * e.getBoundingClientRect().width / e.offsetWidth",
            )
            assert size >= 14, size  # rendered px, after reveal.js's scaling
            assert tb.axe_violations(page) == []
        finally:
            page.close()
