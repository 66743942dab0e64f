"""The built site in a real browser (Debian chromium via Playwright, no `playwright install`).

Every page at 1280 and 390 px: no console errors, no request leaves 127.0.0.1, no horizontal overflow, every
chart drawn with marks, zero axe-core violations (node_modules/axe-core, injected, offline), headings in order;
no chart label drawn over another (SVG text boxes), no table cell cut, wide tables say they scroll and keep
their first column in view, and on a 390 px phone the first answer is in the first screen.
Also: navbar links resolve, the current page is marked, the phone menu folds, search finds a known word and
links to its page, tables sort and show all their rows.

Run as a script it writes the screenshots `make screenshots` promises:
    python tests/test_browser.py --site _site --out _build/screenshots
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from analysis.questions import NUMBERS

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PAGES = [
    "index.html",
    *(f"questions/q{n}.html" for n in NUMBERS),
    "methods.html",
    "search.html",
]
WIDTHS = (1280, 390)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser

# Marks drawn in each chart: elements of vega mark groups that are not axes, legends or titles.
CHART_MARKS = """els => els.map(e => {
  const svg = e.querySelector('svg');
  if (!svg) return -1;
  return [...svg.querySelectorAll('.role-mark > *')]
    .filter(m => !m.closest('.role-axis, .role-legend, .role-title')).length;
})"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(site_dir: Path) -> Iterator[str]:
    """The site on 127.0.0.1 (a random port): its base URL."""
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium(executable: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def open_page(browser, url: str, width: int = 1280):
    """A page at `width` px: (page, response, console errors, requests that left 127.0.0.1)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def check(request) -> None:
        if urlparse(request.url).hostname not in ("127.0.0.1", None) and not request.url.startswith(
            "data:"
        ):
            foreign.append(request.url)

    page.on("request", check)
    response = page.goto(url, wait_until="networkidle")
    wait_for_charts(page)
    return page, response, errors, foreign


def wait_for_charts(page) -> int:
    count = page.locator(".vega-chart").count()
    if count:
        page.wait_for_function(
            "n => document.querySelectorAll('.vega-chart svg, .vega-chart canvas').length >= n",
            arg=count,
            timeout=15_000,
        )
    return count


def axe_violations(page) -> list[str]:
    """axe-core's violations (every rule it runs by default), one readable line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:5])
        for v in result["violations"]
    ]


def overflow(page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def take_screenshots(site_dir: Path, out: Path, browser, base: str) -> list[Path]:
    """Every page (and slide.html) at 1280 and 390 px, full length; the rendered pptx PNG beside them."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    names = [p for p in PAGES if (site_dir / p).exists()]
    if (site_dir / "slide.html").exists():
        names.append("slide.html")
    for name in names:
        for width in WIDTHS:
            page, _, _, _ = open_page(browser, base + name, width)
            try:
                target = out / f"{Path(name).stem}-{width}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
            finally:
                page.close()
    if (site_dir / "slide.png").exists():
        written.append(Path(shutil.copy2(site_dir / "slide.png", out / "slide-pptx.png")))
    return written


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The demo build when the demo data exists (else the small hostile build), served on 127.0.0.1."""
    from conftest import DEMO_DIR
    from render_support import demo_build, hostile_build

    root = tmp_path_factory.mktemp("browser-site")
    if (DEMO_DIR / "logs.txt.gz").exists():
        snapshot_dir = request.getfixturevalue("demo_snapshot_dir")
        config, _, _ = demo_build(root, snapshot_dir)
    else:
        config, _, _ = hostile_build(root)
    with serve(config.paths.site_dir) as base:
        yield config, base


@pytest.fixture(scope="module")
def browser():
    from conftest import require

    executable = shutil.which("chromium")
    require(bool(executable), "chromium is not installed (apt-get install chromium)")
    require(AXE.exists(), f"{AXE} missing (npm ci installs axe-core)")
    pytest.importorskip("playwright.sync_api")
    with chromium(executable) as instance:
        yield instance


# --- every page, both widths ----------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_works_offline_fits_and_is_accessible(site, browser, name: str, width: int) -> None:
    _, base = site
    page, response, errors, foreign = open_page(browser, base + name, width)
    try:
        assert response is not None and response.status == 200
        marks = page.eval_on_selector_all(".vega-chart", CHART_MARKS)
        assert all(n > 0 for n in marks), f"charts without marks: {marks}"
        sizes = page.eval_on_selector_all(
            ".vega-chart",
            "els => els.map(e => { const g = e.querySelector('svg, canvas');"
            " if (!g) return [0, 0]; const r = g.getBoundingClientRect(); return [r.width, r.height]; })",
        )
        assert all(0 < w <= width and h > 0 for w, h in sizes), sizes
        labels = page.eval_on_selector_all(
            ".vega-chart", "els => els.map(e => e.getAttribute('aria-label') || '')"
        )
        assert all(label.strip() for label in labels)
        # every chart is a captioned figure (the cell's fig-cap, as Quarto writes its floats)
        assert page.locator("figure:has(.vega-chart) > figcaption").count() == len(marks)
        scroll_width, inner = overflow(page)
        assert scroll_width <= inner, f"{name} at {width}px: page is {scroll_width}px wide"
        levels = page.eval_on_selector_all(
            "main h1, main h2, main h3, main h4", "els => els.map(e => +e.tagName[1])"
        )
        assert levels and levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
        assert not errors, errors
        assert not foreign, foreign
        violations = axe_violations(page)
        assert not violations, "\n".join(violations)
    finally:
        page.close()


# --- phone first: the answer in the first screen, readable chart labels, tables that show they scroll ---

PHONE_HEIGHT = 844  # px: a 390 x 844 phone (iPhone 12-15)
# Every drawn text of every chart: [chart index, text, corners] with the four corners of the text's own box
# on the screen (rotated labels stay rotated boxes); hidden labels are left out (vega hides overlapping
# labels with opacity 0).
CHART_TEXTS = """els => els.flatMap((e, chart) => [...e.querySelectorAll('svg text')].filter(t => {
  if (!t.textContent.trim()) return false;
  for (let n = t; n && n.tagName !== 'svg'; n = n.parentElement) {
    const style = getComputedStyle(n);
    if (style.display === 'none' || style.visibility === 'hidden' || +style.opacity === 0
        || n.getAttribute('opacity') === '0' || n.getAttribute('fill-opacity') === '0') return false;
  }
  const r = t.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
}).map(t => {
  const b = t.getBBox(), m = t.getScreenCTM();
  const corners = [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
    .map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  return [chart, t.textContent.trim(), corners];
}))"""
# Chart and axis titles and axis labels that run outside their chart's drawing (cut at the edge).
# (Legends are left out: a row of legend entries wider than a phone is the charts' own to fix.)
CUT_TEXTS = """els => els.flatMap((e, chart) => {
  const svg = e.querySelector('svg');
  if (!svg) return [];
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')]
    .filter(t => t.textContent.trim() && !t.closest('.role-legend')).map(t => {
    const r = t.getBoundingClientRect();
    return [chart, t.textContent.trim(), r.left - box.left, box.right - r.right];
  }).filter(([, , left, right]) => left < -2 || right < -2)
    .map(([c, text]) => 'chart ' + (c + 1) + ': ' + JSON.stringify(text) + ' runs past the chart');
})"""
# The same for legend entries (a size legend's "400" running off a phone: issue 17).
CUT_LEGENDS = CUT_TEXTS.replace("!t.closest('.role-legend')", "t.closest('.role-legend')")
# Table cells whose content does not fit them, and scroll boxes that hide columns without scrolling.
CLIPPED_CELLS = """() => {
  const out = [];
  for (const cell of document.querySelectorAll('table.table th, table.table td')) {
    if (!cell.offsetParent) continue;
    if (cell.scrollWidth > cell.clientWidth + 1) out.push('cell: ' + cell.textContent.trim().slice(0, 40));
  }
  for (const box of document.querySelectorAll('.table-wrap')) {
    const x = getComputedStyle(box).overflowX;
    if (box.scrollWidth > box.clientWidth + 1 && !['auto', 'scroll'].includes(x))
      out.push('box hides columns: ' + box.getAttribute('aria-label'));
  }
  return out;
}"""


def _overlap(a: list[list[float]], b: list[list[float]]) -> float:
    """How deep two convex quadrilaterals overlap (px, separating-axis test): <= 0 when they do not."""
    depth = float("inf")
    for polygon in (a, b):
        for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
            nx, ny = y0 - y1, x1 - x0
            norm = (nx * nx + ny * ny) ** 0.5
            if not norm:
                continue
            pa = [(x * nx + y * ny) / norm for x, y in a]
            pb = [(x * nx + y * ny) / norm for x, y in b]
            depth = min(depth, min(max(pa), max(pb)) - max(min(pa), min(pb)))
    return depth


def _box(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


def overlapping_labels(texts: list[list], tolerance: float = 1.0) -> list[str]:
    """Pairs of chart texts of one chart whose boxes overlap by more than `tolerance` px."""
    found = []
    for i, (chart, text, corners) in enumerate(texts):
        for other, other_text, other_corners in texts[i + 1 :]:
            if other == chart and _overlap(corners, other_corners) > tolerance:
                found.append(f"chart {chart + 1}: {text!r} overlaps {other_text!r}")
    return found


def test_overlap_check_finds_overlapping_boxes() -> None:
    """The check can fail: two labels drawn on top of each other are found, neighbours are not, and
    turned labels whose upright bounding boxes overlap but whose own boxes do not are fine."""
    texts = [
        [0, "Java", _box(0, 0, 40, 12)],
        [0, "PHP", _box(30, 2, 60, 14)],
        [0, "Data", _box(61, 0, 90, 12)],
    ]
    assert overlapping_labels(texts) == ["chart 1: 'Java' overlaps 'PHP'"]
    assert overlapping_labels([[0, "a", _box(0, 0, 10, 10)], [1, "b", _box(0, 0, 10, 10)]]) == []
    turned = [  # two 40 x 10 labels turned 45 degrees, 20 px apart along the axis
        [0, "under 5%", [[0, 28], [28, 0], [35, 7], [7, 35]]],
        [0, "5-10%", [[20, 28], [48, 0], [55, 7], [27, 35]]],
    ]
    assert overlapping_labels(turned) == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_reads_on_a_phone_and_a_laptop(site, browser, name: str, width: int) -> None:
    """No chart label drawn over another; no table cell cut; a table wider than its box says it scrolls
    and keeps its first column in view; at 390 px the first answer is in the first screen."""
    _, base = site
    page, _, _, _ = open_page(browser, base + name, width)
    try:
        texts = page.eval_on_selector_all(".vega-chart", CHART_TEXTS)
        assert not overlapping_labels(texts), overlapping_labels(texts)
        assert page.eval_on_selector_all(".vega-chart", CUT_TEXTS) == []
        assert page.evaluate(CLIPPED_CELLS) == []
        for box in page.locator(".table-wrap").all():
            if not box.evaluate("b => b.scrollWidth > b.clientWidth + 1"):
                continue
            block = box.locator("xpath=..")
            assert block.locator(".table-scroll-hint").is_visible(), box.get_attribute("aria-label")
            first = box.locator("tbody tr:not(.more) td").first
            if "wrap" in (first.get_attribute("class") or ""):
                continue
            left = box.bounding_box()["x"]
            box.evaluate("b => { b.scrollLeft = 200; }")
            assert abs(first.bounding_box()["x"] - left) <= 1.5, "first column scrolled away"
            box.evaluate("b => { b.scrollLeft = 0; }")
        answer = page.locator("main .answer").first
        if width == 390 and answer.count():
            lead = answer.locator("p, li").first.bounding_box()
            assert lead is not None, name
            bottom = lead["y"] + lead["height"]
            assert lead["y"] >= 0 and bottom <= PHONE_HEIGHT, (
                f"{name}: the answer ends at {bottom}px"
            )
    finally:
        page.close()


@pytest.mark.parametrize("name", PAGES)
def test_chart_legends_fit_on_a_phone(site, browser, name: str) -> None:
    """At 390 px every legend entry of every chart is drawn inside its chart."""
    assert CUT_LEGENDS != CUT_TEXTS  # the check looks at the legends
    _, base = site
    page, _, _, _ = open_page(browser, base + name, 390)
    try:
        assert page.eval_on_selector_all(".vega-chart", CUT_LEGENDS) == []
    finally:
        page.close()


# --- navigation -----------------------------------------------------------------------------------------


def test_navbar_links_resolve_and_mark_the_current_page(site, browser) -> None:
    _, base = site
    page, _, _, _ = open_page(browser, base + "questions/q3.html")
    try:
        links = page.eval_on_selector_all("header nav a", "els => els.map(a => a.href)")
        assert len(links) >= 12  # brand, summary, Q1..Q8, methods, slide
        assert any(link.endswith("/slide.html") for link in links)
        for link in links:
            response = page.request.get(link)
            assert response.status == 200, link
        current = page.eval_on_selector_all(
            "header nav a[aria-current='page']", "els => els.map(a => a.href)"
        )
        assert current == [base + "questions/q3.html"]
        pager = page.eval_on_selector_all(".pager a", "els => els.map(a => [a.rel, a.href])")
        assert pager == [["prev", base + "questions/q2.html"], ["next", base + "questions/q4.html"]]
    finally:
        page.close()


def test_summary_links_the_slide_in_three_forms(site, browser) -> None:
    _, base = site
    page, _, _, _ = open_page(browser, base + "index.html")
    try:
        links = page.eval_on_selector_all("main .slide-box a", "els => els.map(a => a.href)")
        assert [link.rsplit("/", 1)[1] for link in links] == [
            "slide.html",
            "slide.pptx",
            "slide.png",
        ]
        for link in links:
            assert page.request.get(link).status == 200, link
    finally:
        page.close()


def test_phone_menu_folds_and_opens(site, browser) -> None:
    _, base = site
    page, _, _, _ = open_page(browser, base + "questions/q1.html", width=390)
    try:
        q2 = page.locator("header nav a[href$='q2.html']")
        assert not q2.is_visible()
        nav_height = page.eval_on_selector("header", "e => e.getBoundingClientRect().height")
        assert nav_height < 80, nav_height  # one row: title and the Menu button
        page.locator("header summary").click()
        assert q2.is_visible()
        assert (
            "Cohort" in q2.inner_text() or "outlier" in q2.inner_text()
        )  # the full title on phones
    finally:
        page.close()
    wide, _, _, _ = open_page(browser, base + "questions/q1.html", width=1280)
    try:
        assert wide.locator("header nav a[href$='q2.html']").is_visible()
        assert not wide.locator("header summary").is_visible()
        height = wide.eval_on_selector("header", "e => e.getBoundingClientRect().height")
        assert height < 70, height  # one row on a laptop
    finally:
        wide.close()


# --- search ---------------------------------------------------------------------------------------------


def test_search_finds_a_known_word_and_links_to_its_page(site, browser) -> None:
    _, base = site
    page, _, errors, _ = open_page(browser, base + "questions/q1.html", width=390)
    try:
        page.locator("header summary").click()
        page.fill("#nav-q", "graduates keep reading")
        page.press("#nav-q", "Enter")
        page.wait_for_url("**/search.html?q=*")
        page.wait_for_selector("#search-results li a")
        hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(a => a.href)")
        assert hrefs[0].startswith(base + "questions/q6.html"), hrefs[:3]
        page.locator("#search-results li a").first.click()
        page.wait_for_url("**/questions/q6.html*")
        assert "Question 6" in page.locator("h1").inner_text()
        page.goto(base + "search.html?q=zzqxnotaword")
        assert "Nothing matches" in page.locator("#search-status").inner_text()
        assert not errors, errors
    finally:
        page.close()


# --- tables ---------------------------------------------------------------------------------------------


def test_tables_sort_show_all_rows_and_link_their_csv(site, browser) -> None:
    _, base = site
    page, _, errors, _ = open_page(browser, base + "questions/q4.html")
    try:
        block = page.locator(".table-block").filter(has=page.locator("td")).first
        csv = block.locator("a.table-csv")
        response = page.request.get(csv.evaluate("a => a.href"))
        assert response.status == 200 and response.headers["content-type"].startswith("text/csv")
        rows = len(response.text().strip().splitlines()) - 1
        assert f"{rows:,} rows" in block.locator(".table-note").inner_text()
        button = block.locator("th button.sort").last
        header = block.locator("th").last
        button.click()
        assert header.get_attribute("aria-sort") == "ascending"
        button.click()
        assert header.get_attribute("aria-sort") == "descending"
        cut = page.locator(".table-block").filter(has=page.locator(".table-all")).first
        if cut.count():
            hidden = cut.locator("tbody tr.more").count()
            assert hidden > 0 and not cut.locator("tbody tr.more").first.is_visible()
            cut.locator(".table-all input").check()
            assert cut.locator("tbody tr.more").first.is_visible()
        assert not errors, errors
    finally:
        page.close()


def test_a_cut_table_shows_the_rest_without_javascript_and_sorts_with_it(
    site, browser, tmp_path: Path
) -> None:
    """15 of 27 rows shown; the "Show all" box reveals the rest (CSS only); sorting keeps 15 visible."""
    import polars as pl

    from analysis.publish.tables import table_html

    config, _ = site
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("tables.css", "tables.js"):
        shutil.copy2(Path(config.paths.site_dir) / "assets" / name, assets / name)
    frame = pl.DataFrame({"Lesson": [f"l{i:02d}" for i in range(27)], "Views": list(range(27))})
    (tmp_path / "t.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><title>t</title>'
        '<link rel="stylesheet" href="assets/tables.css"></head><body><main><h1>t</h1>'
        f"{table_html(frame)}</main></body></html>",
        encoding="utf-8",
    )
    visible = "() => [...document.querySelectorAll('tbody tr')].filter(r => r.offsetParent).length"
    first = "() => document.querySelector('tbody tr:not(.more) td').textContent"
    with serve(tmp_path) as base:
        for javascript in (False, True):
            context = browser.new_context(java_script_enabled=javascript)
            page = context.new_page()
            try:
                page.goto(base + "t.html")
                if javascript:
                    page.add_script_tag(path=str(assets / "tables.js"))
                assert "15 of 27 rows shown" in page.locator(".table-note").inner_text()
                assert page.evaluate(visible) == 15
                if javascript:
                    page.locator("th button.sort").last.click()
                    page.locator("th button.sort").last.click()  # descending
                    assert page.evaluate(visible) == 15 and page.evaluate(first) == "l26"
                page.locator(".table-all input").check()
                assert page.evaluate(visible) == 27
            finally:
                context.close()


def test_the_demo_site_publishes_no_path_of_the_build_machine(site) -> None:
    """The demo build reads its log from a temporary folder: that path must not reach any published file."""
    config, _ = site
    site_dir = Path(config.paths.site_dir)
    roots = {
        str(ROOT),
        str(site_dir.parent),
        str(Path(config.paths.data_dir)),
        str(Path.home()) + "/",
    }
    for path in site_dir.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".csv", ".js", ".json", ".css"):
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [root for root in roots if root in text], path


def test_screenshots_of_every_page_at_both_widths(site, browser) -> None:
    config, base = site
    out = Path(config.paths.build_dir) / "screenshots"
    written = take_screenshots(Path(config.paths.site_dir), out, browser, base)
    expected = {f"{Path(p).stem}-{w}.png" for p in [*PAGES, "slide.html"] for w in WIDTHS}
    assert expected <= {p.name for p in written}
    assert all(p.stat().st_size > 5_000 for p in written)
    page, response, errors, foreign = open_page(browser, base + "slide.html")
    try:
        assert response is not None and response.status == 200
        assert page.locator("section.slide").count() == 1
        assert not errors, errors
        assert not foreign, foreign
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="screenshots of every page at 1280 and 390 px")
    parser.add_argument("--site", type=Path, default=ROOT / "_site")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    args = parser.parse_args(argv)
    executable = shutil.which("chromium")
    if not executable:
        print("error: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 3
    if not (args.site / "index.html").exists():
        print(f"error: no site in {args.site} (run `make build` first)", file=sys.stderr)
        return 3
    with serve(args.site) as base, chromium(executable) as browser:
        for path in take_screenshots(args.site, args.out, browser, base):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
