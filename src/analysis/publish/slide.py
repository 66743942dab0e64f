"""The one-slide summary: revealjs HTML, pptx, and a PNG of it."""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path

from analysis.config import Config
from analysis.errors import TargetError
from analysis.publish.common import TEMPLATES, pandoc
from analysis.publish.pages import KEY_CHART, Page, chart_description

# The questions whose headlines make the slide's points, most important first.
SLIDE_QUESTIONS = (1, 4, 5, 3, 6)


def render_slide(markdown: str, site_dir: Path, config: Config) -> list[Path]:
    """revealjs HTML, pptx (same Markdown; the chart is a PNG in both) and a PNG of the slide."""
    title = html.escape(config.site.title)
    html_out = site_dir / "slide.html"
    pandoc(
        markdown,
        "revealjs",
        [
            "--standalone",
            f"--template={TEMPLATES / 'slide.html'}",
            "-V",
            "revealjs-url=assets/reveal.js",
            "--metadata",
            f"pagetitle={title}",
            "--slide-level=2",
        ],
        outputfile=html_out,
        where="slide.qmd",
        source_format="markdown-implicit_figures",  # the chart's alt text is not a caption
    )
    pptx_out = site_dir / "slide.pptx"
    pandoc(
        markdown,
        "pptx",
        ["--slide-level=2", f"--resource-path={site_dir}"],
        outputfile=pptx_out,
        where="slide.qmd",
        source_format="markdown-implicit_figures",
    )
    return [html_out, pptx_out]


def screenshot(html_file: Path, png: Path, size: tuple[int, int] = (1280, 720)) -> bool:
    """Headless Chromium screenshot of a local page; False when chromium is not installed."""
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if not browser:
        return False
    with tempfile.TemporaryDirectory(prefix="ci-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}",
            html_file.resolve().as_uri(),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (subprocess.SubprocessError, OSError) as exc:
            raise TargetError(f"slide screenshot with {browser} failed: {exc}") from exc
    if not png.exists():
        raise TargetError(f"slide screenshot: {browser} wrote no {png}")
    return True


# --- what slide.qmd displays ---


def points(page: Page) -> str:
    points = []
    for number in SLIDE_QUESTIONS:
        if number in page.report.results:
            points.append(f"- {page.text(page.report.results[number].headline())}")
    if page.simulated:
        points.append("- *Simulated data: illustrates the method.*")
    return "\n".join(points) + "\n"


def chart(page: Page) -> str:
    """The key chart as PNG beside the slide (revealjs and pptx both use it)."""
    number, index = KEY_CHART
    charts = page.charts(number)
    if not charts:
        return ""
    path = page.png(charts[index], page.config.paths.site_dir / "slide-chart.png", scale=1.5)
    description = chart_description(page.spec(charts[index]))
    return f"![{page.text(description)}]({path.name}){{width=100%}}\n"
