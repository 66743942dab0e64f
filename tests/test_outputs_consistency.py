"""One truth across the outputs (issue 17, item 1): the demo and a second scenario are rendered, then
read back as a reader sees them (each question page's answer, the summary page, slide.pptx, slide.html
and email.eml), and for every question the same quantity must have the same value everywhere:

- every number of each answer, as the email's answers list and the slide's notes show it, equals the
  number on that question's page (and on the summary page's list of answers);
- the slide's title, bullets and key numbers appear word for word on the summary page and in the email;
- the chart data in the pptx equals the numbers shown as text (the slide.html bars, the chart line of
  the notes, the email image's alt text, the summary page's key chart);
- one term for one thing: the words the glossary replaced do not come back in any output.

Render tier: the second scenario is simulated at a small scale into a temporary folder and imported
(as tests/test_consistency.py does).
"""

from __future__ import annotations

import datetime as dt
import email
import html
import json
import re
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from render_support import configured, demo_build

from analysis.config import PROJECT_ROOT
from analysis.publish.summary import readable_dates
from analysis.sources.snapshot import Snapshot

pytestmark = pytest.mark.render

# data science starts years after web development (a different lead, fewer rows)
SCENARIO = "late_ds"
EARLIER_DAYS = 75  # the scenario is rendered twice: first without its last EARLIER_DAYS days
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?%?")


def numbers_in(text: str) -> list[str]:
    """The number tokens of a text, in order ('1,412', '9.5', '89%'); digits inside words are not."""
    return [m.group(0).rstrip(",") for m in NUMBER.finditer(text)]


def plain(fragment: str) -> str:
    """HTML fragment -> the text a reader sees, whitespace collapsed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def squash(text: str) -> str:
    return " ".join(text.split())


def first(pattern: str, text: str, what: str) -> str:
    found = re.search(pattern, text, re.S)
    assert found, f"not found: {what}"
    return found.group(1)


# --- what a reader sees, read back from the files --------------------------------------------------


@dataclass
class Outputs:
    name: str
    report: Any
    page_answers: dict[int, str]  # question -> the answer in bold on its page
    index: dict[str, Any]  # the summary page: title, bullets, numbers, answers, chart, text
    pptx: dict[str, Any]  # title, bullets, chart (categories, values), notes
    reveal: dict[str, Any]  # slide.html: title, bullets, numbers, bars, notes
    mail: dict[str, Any]  # email.eml: title, bullets, numbers, answers (HTML and plain), alt
    texts: dict[str, str] = field(default_factory=dict)  # output -> its whole visible text


def read_page_answer(path: Path) -> str:
    page = path.read_text(encoding="utf-8")
    return plain(first(r'<div class="answer">\s*<p><strong>(.*?)</strong>', page, f"{path}"))


def read_index(path: Path) -> dict[str, Any]:
    page = path.read_text(encoding="utf-8")
    lead = first(r'<div class="answer lead-finding">(.*?)</div>', page, "lead finding")
    numbers = re.findall(
        r'<div class="stat-value">(.*?)</div><div class="stat-label">(.*?)</div>',
        first(r'<div class="stats key-numbers">(.*?)</div></div></div>', page, "key numbers")
        + "</div></div>",
    )
    answers = {
        int(n): plain(text)
        for n, text in re.findall(
            r'<li><a href="questions/q(\d)\.html">.*?</a>\s*:\s*(.*?)</li>', page, re.S
        )
    }
    start = page.index('id="fig-key"')
    call = re.compile(r'vegaEmbed\("#chart-[\w-]+", ').search(page, start)
    assert call, "key chart"
    spec, _ = json.JSONDecoder().raw_decode(page, call.end())
    return {
        "title": plain(first(r"<strong>(.*?)</strong>", lead, "lead title")),
        "bullets": [plain(b) for b in re.findall(r"<li>(.*?)</li>", lead, re.S)],
        "numbers": [(plain(label), plain(value)) for value, label in numbers],
        "answers": answers,
        "chart": spec,
        "text": plain(page),
    }


def read_pptx(path: Path) -> dict[str, Any]:
    from pptx import Presentation

    slide = Presentation(str(path)).slides[0]
    shapes = {shape.name: shape for shape in slide.shapes}
    chart = next(shape.chart for shape in slide.shapes if shape.has_chart)
    plot = chart.plots[0]
    notes = slide.notes_slide.notes_text_frame.text.splitlines()
    return {
        "title": squash(slide.shapes.title.text_frame.text),
        "bullets": [squash(p.text) for p in shapes["Bullets"].text_frame.paragraphs if p.text],
        "categories": [str(c) for c in plot.categories],
        "series": [(s.name, [float(v) for v in s.values]) for s in plot.series],
        "notes": [squash(line) for line in notes],
        "text": " ".join(squash(s.text_frame.text) for s in slide.shapes if s.has_text_frame),
    }


def read_reveal(path: Path) -> dict[str, Any]:
    page = path.read_text(encoding="utf-8")
    bars = re.findall(
        r'<div class="category">(.*?)</div>(.*?)</div></div>(?=<div class="group">|</div></figure>)',
        page,
        re.S,
    )
    return {
        "title": plain(first(r"<h1>(.*?)</h1>", page, "slide title")),
        "bullets": [
            plain(b)
            for b in re.findall(
                r"<li>(.*?)</li>", first(r'<div class="bullets">(.*?)</div>', page, "bullets"), re.S
            )
        ],
        "numbers": [
            (plain(label), plain(value))
            for value, label in re.findall(r"<li><strong>(.*?)</strong>(.*?)</li>", page)
        ],
        "bars": [
            (plain(category), [plain(v) for v in re.findall(r'class="value">(.*?)<', rows)])
            for category, rows in bars
        ],
        "notes": [
            plain(p)
            for p in re.findall(
                r"<p>(.*?)</p>", first(r'<aside class="notes">(.*?)</aside>', page, "notes"), re.S
            )
        ],
        "text": plain(page),
    }


def read_email(path: Path) -> dict[str, Any]:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_maintype() == "text"
    }
    page, text = parts["text/html"], parts["text/plain"]
    lead = re.search(
        r"<p[^>]*><strong[^>]*>((?:(?!What is new)[^<])*)</strong></p>\s*<ul[^>]*>(.*?)</ul>",
        page,
        re.S,
    )
    assert lead, "email: the lead finding and its bullets"
    counts = re.search(r'<div class="key-numbers"[^>]*>(.*?)</div>', page, re.S)
    answers_html = first(r'id="the-answers"[^>]*>.*?<ol[^>]*>(.*?)</ol>', page, "email answers")
    items = re.findall(r"<li[^>]*><strong[^>]*>(.*?)</strong>(.*?)</li>", answers_html, re.S)
    # the plain text's numbered list: "N.  Title answer", wrapped
    listed = first(r"\nThe answers\n+(.*?)\n\n(?!\s*\d+\.\s)", "\n" + text, "plain answers")
    plain_items = {
        int(n): squash(body)
        for n, body in re.findall(r"(?ms)^(\d+)\.\s+(.*?)(?=^\d+\.\s|\Z)", listed + "\n")
    }
    return {
        "title": plain(lead.group(1)),
        "bullets": [plain(b) for b in re.findall(r"<li[^>]*>(.*?)</li>", lead.group(2), re.S)],
        "numbers": [
            (plain(label).strip(" ·"), plain(value))
            for value, label in re.findall(
                r"<strong[^>]*>(.*?)</strong>([^<]*)", counts.group(1) if counts else ""
            )
        ],
        "answers": [(plain(title), plain(answer)) for title, answer in items],
        "plain_answers": plain_items,
        "alt": html.unescape(first(r'<img[^>]*\balt="([^"]*)"', page, "chart image")),
        "text": plain(page) + " " + squash(text),
    }


EMBED = re.compile(r'vegaEmbed\("#chart-[\w-]+", ')
CHART_WORDS = ("title", "text", "subtitle", "description")


def chart_words(spec: Any) -> list[str]:
    """The words a chart shows (titles, subtitles, axis and legend titles, its description)."""
    found: list[str] = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in CHART_WORDS and isinstance(value, str):
                found.append(value)
            elif key in CHART_WORDS and isinstance(value, list):
                found += [str(v) for v in value if isinstance(v, str)]
            elif key not in ("data", "datasets", "values"):
                found += chart_words(value)
    elif isinstance(spec, list):
        for item in spec:
            found += chart_words(item)
    return found


def visible_text(page: str) -> str:
    """A page's text and its charts' words."""
    words = []
    for call in EMBED.finditer(page):
        spec, _ = json.JSONDecoder().raw_decode(page, call.end())
        words += chart_words(spec)
    return " ".join([plain(page), *words])


def published_texts(config: Any) -> dict[str, str]:
    """Every output's visible text (pages with their charts, slide.html, email), by file name."""
    texts = {}
    for path in sorted(config.paths.site_dir.rglob("*.html")):
        texts[str(path.relative_to(config.paths.site_dir))] = visible_text(path.read_text("utf-8"))
    texts["email.html"] = plain((config.paths.build_dir / "email.html").read_text("utf-8"))
    return texts


def read_outputs(name: str, config: Any, report: Any) -> Outputs:
    site = config.paths.site_dir
    outputs = Outputs(
        name=name,
        report=report,
        page_answers={
            n: read_page_answer(site / "questions" / f"q{n}.html") for n in report.results
        },
        index=read_index(site / "index.html"),
        pptx=read_pptx(site / "slide.pptx"),
        reveal=read_reveal(site / "slide.html"),
        mail=read_email(config.paths.build_dir / "email.eml"),
        texts=published_texts(config),
    )
    outputs.texts["slide.pptx"] = outputs.pptx["text"] + " " + " ".join(outputs.pptx["notes"])
    return outputs


_BUILDS: dict[str, Any] = {}


def scenario_build(root: Path, name: str):
    """Simulate `name` at a small scale, import it, answer and render it twice (pandoc engine): once
    without its last EARLIER_DAYS days, then all of it. Once per session."""
    if name not in _BUILDS:
        _BUILDS[name] = _scenario_build(root, name)
    return _BUILDS[name]


def _scenario_build(root: Path, name: str):
    from analysis.publish.render import render
    from analysis.report import compute_report
    from analysis.scenarios.simulate import simulate
    from analysis.sources.ingest import import_files
    from analysis.sources.snapshot import load_snapshot

    source = root / "source"
    simulate(
        seed=20210421,
        scale=0.2,
        out=source,
        reference_dir=PROJECT_ROOT / "data" / "reference",
        progress=False,
        scenario=name,
    )
    target = root / "snapshot"
    import_files(source / "logs.txt.gz", source / "cohorts.csv", target, progress=False)
    config = configured(root)
    snapshot = load_snapshot(target)
    # a first report on the data up to EARLIER_DAYS before its end, so that the second shows what is
    # new since then (its bullet on the slide and in the email, the summary page's "Since the report")
    logs = snapshot.logs.collect()
    cut = logs.get_column("timestamp").max() - dt.timedelta(days=EARLIER_DAYS)  # type: ignore[operator]
    earlier = Snapshot.from_frames(
        logs.filter(pl.col("timestamp") < cut), snapshot.cohorts, source="test", simulated=True
    )
    render(
        config,
        engine="pandoc",
        progress=False,
        report=compute_report(config, progress=False, snapshot=earlier),
    )
    report = compute_report(config, progress=False, snapshot=snapshot)
    render(config, engine="pandoc", progress=False, report=report)
    return config, report


@pytest.fixture(scope="module", params=["demo", SCENARIO])
def outputs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    name = request.param
    if name == "demo":
        snapshot_dir = request.getfixturevalue("demo_snapshot_dir")
        config, report, _ = demo_build(tmp_path_factory.mktemp("demo-build"), snapshot_dir)
    else:
        config, report = scenario_build(tmp_path_factory.mktemp(name), name)
    return read_outputs(name, config, report)


# --- every answer: the same numbers on its page, the summary page, the email and the slide's notes ---


def note_answers(notes: list[str], report: Any) -> dict[int, str]:
    """The notes' "Qn. Title answer" lines, without "Qn. Title"."""
    found = {}
    for line in notes:
        match = re.match(r"Q(\d)\. (.*)", line)
        if match:
            number = int(match.group(1))
            title = squash(report.results[number].title)
            body = match.group(2)
            assert body.startswith(title), (line, title)
            found[number] = body[len(title) :].lstrip(" :")
    return found


def test_every_answer_has_the_same_numbers_everywhere(outputs: Outputs) -> None:
    report = outputs.report
    pages = outputs.page_answers
    assert set(pages) == set(report.results)
    shown = {
        "summary page": outputs.index["answers"],
        "email (HTML)": {n: a for n, (_, a) in enumerate(outputs.mail["answers"], 1)},
        "email (text)": {
            n: body[len(squash(report.results[n].title)) :]
            for n, body in outputs.mail["plain_answers"].items()
        },
        "slide.pptx notes": note_answers(outputs.pptx["notes"], report),
        "slide.html notes": note_answers(outputs.reveal["notes"], report),
    }
    for where, answers in shown.items():
        assert sorted(answers) == sorted(pages), (outputs.name, where, sorted(answers))
        for number, page_answer in pages.items():
            assert numbers_in(page_answer), (outputs.name, number, page_answer)  # says a number
            assert numbers_in(answers[number]) == numbers_in(page_answer), (
                outputs.name,
                where,
                number,
                answers[number],
                page_answer,
            )
    # where the text is not re-wrapped by a plain-text writer, the words are the same too
    for where in ("summary page", "email (HTML)", "slide.pptx notes", "slide.html notes"):
        for number, page_answer in pages.items():
            assert squash(shown[where][number]) == page_answer, (outputs.name, where, number)


def test_slide_title_bullets_and_key_numbers_are_the_same_everywhere(outputs: Outputs) -> None:
    pptx, reveal, index, mail = outputs.pptx, outputs.reveal, outputs.index, outputs.mail
    title = pptx["title"]
    assert title and reveal["title"] == title and index["title"] == title and mail["title"] == title
    assert pptx["bullets"] and reveal["bullets"] == pptx["bullets"]
    # the email lists what is new item by item above its bullets, so it leaves out the slide's one
    # bullet that counts those items (the bullet the summary page does not list either, below)
    assert all(b in pptx["bullets"] for b in mail["bullets"])
    assert len(pptx["bullets"]) - len(mail["bullets"]) <= 1
    # the summary page lists them all but the "what is new" bullet, which has its own section there
    on_page = index["bullets"]
    missing = [b for b in pptx["bullets"] if b not in on_page]
    assert len(missing) <= 1, (outputs.name, missing)
    for bullet in missing:  # the news bullet: the opening line of the page's "Since the report"
        assert "Since the report of" in index["text"], (outputs.name, bullet)
        assert bullet.rstrip("…") in readable_dates(index["text"]), (outputs.name, bullet)
    assert [b for b in on_page if b not in pptx["bullets"]] == [], outputs.name
    if (
        outputs.name != "demo"
    ):  # rendered twice: what is new is said on the slide, the page, the email
        assert "Since the report of" in index["text"], outputs.name
        assert len(missing) == 1 and missing[0] not in mail["bullets"], (outputs.name, missing)
        assert mail["bullets"] == [b for b in pptx["bullets"] if b != missing[0]], outputs.name
    # the key numbers: slide.html, summary page and email show the same (label, value) pairs
    assert reveal["numbers"] == index["numbers"] == mail["numbers"], outputs.name


def _chart_pairs(categories: list[str], series: list[tuple[str, list[float]]]) -> list[tuple]:
    return [(c, tuple(values[i] for _, values in series)) for i, c in enumerate(categories)]


def _num(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def test_chart_data_equals_the_numbers_shown_as_text(outputs: Outputs) -> None:
    pptx = outputs.pptx
    expected = _chart_pairs(pptx["categories"], pptx["series"])
    assert expected and all(values for _, values in expected)
    # slide.html: its bars carry their values as text (one per series, or the stack's total)
    bars = [(c, tuple(_num(v) for v in values)) for c, values in outputs.reveal["bars"]]
    stacked = [(c, (sum(values),)) for c, values in expected]
    assert bars in (expected, stacked), (outputs.name, bars, expected)
    # the chart line of the notes and the email image's alt text: "Title. Category value, ..."
    notes_line = next(line for line in pptx["notes"] if line.startswith("Chart: "))
    description = notes_line.removeprefix("Chart: ")
    assert outputs.mail["alt"] == description, outputs.name
    assert description in " ".join(outputs.reveal["notes"]), outputs.name
    said = [float(n.replace(",", "")) for n in numbers_in(description.split(". ", 1)[1])]
    flat = [v for _, values in expected for v in values]
    assert sorted(said) == sorted(flat) or said == [sum(v) for _, v in expected], (
        outputs.name,
        said,
        flat,
    )
    # the summary page's key chart plots the same values
    plotted = sorted(
        (str(r["category"]), float(r["value"])) for r in chart_rows(outputs.index["chart"])
    )
    assert plotted == sorted((c, v) for c, values in expected for v in values), (
        outputs.name,
        plotted,
    )


def chart_rows(spec: Any) -> list[dict[str, Any]]:
    """The rows of a Vega-Lite spec's inline data (every layer's, once)."""
    found: list[dict[str, Any]] = []
    if isinstance(spec, dict):
        values = spec.get("values")
        if isinstance(values, list) and values and isinstance(values[0], dict):
            found += [row for row in values if row not in found]
        for key, value in spec.items():
            if key != "values":
                found += [row for row in chart_rows(value) if row not in found]
    elif isinstance(spec, list):
        for item in spec:
            found += [row for row in chart_rows(item) if row not in found]
    return found


# --- one term for one thing ------------------------------------------------------------------------

# words the glossary replaced -> the word every output uses instead
RETIRED_TERMS = {
    r"\bautomated downloads?\b": "automated fetching",
    r"\bhigh-risk\b": "High tier",
    r"\bhigh tier\b": "High tier",  # lower case: the tier's name is capitalised
    r"\b[Aa]lumni\b": "graduates",
    r"\b[Aa]ct now\b": "High tier",
    r"\bHigh-tier\b": "High tier",
    r"\bincidents? needs? action\b": "in the High tier",
}


def _drift(texts: dict[str, str], terms: dict[str, str]) -> list[tuple[str, str, str]]:
    found = []
    for where, text in texts.items():
        for pattern, instead in terms.items():
            for match in re.finditer(pattern, text):
                found.append((where, match.group(0), instead))
    return found


def test_one_term_for_one_thing(outputs: Outputs) -> None:
    assert _drift(outputs.texts, RETIRED_TERMS) == [], outputs.name
    # question 3's pairs of accounts are not question 4's shared accounts
    assert "shared account" not in outputs.page_answers[3].lower()
    assert "shared account" not in outputs.texts["questions/q3.html"].lower()


# --- a second report, read on a phone ------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_report(tmp_path_factory: pytest.TempPathFactory):
    """The scenario's site after its second report (shared with the `outputs` fixture)."""
    config, _ = scenario_build(tmp_path_factory.mktemp(SCENARIO), SCENARIO)
    return config.paths.site_dir


@pytest.mark.browser
def test_a_second_report_reads_on_a_phone(second_report: Path) -> None:
    """After a second report the summary page opens with what is new, yet at 390 px the first answer is
    still in the first screen, the row of trend panels gives way to a pointer (it shows at 1280 px), and
    no page (with its "What changed" table) is wider than the phone."""
    import shutil

    from conftest import require
    from test_browser import PAGES, PHONE_HEIGHT, chromium, open_page, overflow, serve

    executable = shutil.which("chromium")
    require(bool(executable), "chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    with serve(second_report) as base, chromium(str(executable)) as browser:
        for width in (390, 1280):
            page, _, errors, _ = open_page(browser, base + "index.html", width)
            try:
                assert not errors, errors
                assert page.get_by_text("Since the report of").first.is_visible()
                trends = page.locator(".trend-row")
                if trends.count():
                    assert trends.first.is_visible() == (width == 1280)
                    assert page.locator(".trend-row-note").first.is_visible() == (width == 390)
                lead = page.locator(".lead-finding p").first.bounding_box()
                assert lead is not None
                if width == 390:
                    bottom = lead["y"] + lead["height"]
                    assert bottom <= PHONE_HEIGHT, f"the first answer ends at {bottom}px"
            finally:
                page.close()
        for name in PAGES:
            page, _, _, _ = open_page(browser, base + name, 390)
            try:
                scroll, inner = overflow(page)
                assert scroll <= inner, f"{name}: {scroll}px wide on a {inner}px phone"
            finally:
                page.close()
