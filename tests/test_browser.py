"""The built site in a real browser (Debian chromium via Playwright, no `playwright install`):
no console errors, no request leaves 127.0.0.1, every chart draws, navbar links resolve, headings in
order, charts have text alternatives. Screenshots go to _build/screenshots/."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import DEMO_DIR, require
from render_support import demo_build, hostile_build

pytestmark = pytest.mark.browser

PAGES = ["index.html", *(f"questions/q{n}.html" for n in range(1, 9)), "methods.html"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The demo build when the demo data exists (else the small hostile build), served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("browser-site")
    if (DEMO_DIR / "logs.txt.gz").exists():
        snapshot_dir = request.getfixturevalue("demo_snapshot_dir")
        config, _, _ = demo_build(root, snapshot_dir)
    else:
        config, _, _ = hostile_build(root)
    handler = functools.partial(QuietHandler, directory=str(config.paths.site_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield config, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    require(bool(executable), "chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
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
    return page, response, errors, foreign


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_offline_without_errors(site, browser, name: str) -> None:
    _, base = site
    page, response, errors, foreign = _open(browser, base + name)
    try:
        assert response is not None and response.status == 200
        charts = page.locator(".vega-chart")
        count = charts.count()
        if count:
            page.wait_for_function(
                "n => document.querySelectorAll('.vega-chart svg, .vega-chart canvas').length >= n",
                arg=count,
                timeout=15_000,
            )
        sizes = page.eval_on_selector_all(
            ".vega-chart",
            "els => els.map(e => { const g = e.querySelector('svg, canvas');"
            " if (!g) return [0, 0]; const r = g.getBoundingClientRect(); return [r.width, r.height]; })",
        )
        assert all(w > 0 and h > 0 for w, h in sizes), sizes
        labels = page.eval_on_selector_all(
            ".vega-chart", "els => els.map(e => e.getAttribute('aria-label') || '')"
        )
        assert all(label.strip() for label in labels)
        # every chart is a captioned figure (the cell's fig-cap, as Quarto writes its floats)
        assert page.locator("figure:has(.vega-chart) > figcaption").count() == count
        levels = page.eval_on_selector_all(
            "main h1, main h2, main h3, main h4", "els => els.map(e => +e.tagName[1])"
        )
        assert levels and levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels
        assert not errors, errors
        assert not foreign, foreign
    finally:
        page.close()


def test_navbar_links_resolve(site, browser) -> None:
    _, base = site
    page, _, _, _ = _open(browser, base + "questions/q1.html")
    try:
        links = page.eval_on_selector_all("header nav a", "els => els.map(a => a.href)")
        assert len(links) >= 11
        for link in links:
            response = page.request.get(link)
            assert response.status == 200, link
    finally:
        page.close()


def test_screenshots(site, browser) -> None:
    config, base = site
    out = Path(config.paths.build_dir) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "slide.html"):
        page, response, errors, foreign = _open(browser, base + name)
        try:
            assert response is not None and response.status == 200
            if name == "slide.html":
                assert page.locator("section.slide").count() == 1
            target = out / name.replace(".html", ".png")
            page.screenshot(path=str(target), full_page=name == "index.html")
            assert target.stat().st_size > 10_000
            assert not errors, errors
            assert not foreign, foreign
        finally:
            page.close()
