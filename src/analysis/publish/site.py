"""The website: one HTML page per .qmd (pandoc + templates/site.html), its assets, or `quarto render`.

Every page gets the same chrome, built here: a navbar (the current page marked with aria-current, a "Menu"
disclosure on phones that needs no JavaScript, the slide, a search box), previous/next links, and a footer
"Data through DATE, built DATE". After the pages, `finish_site` turns each table's embedded CSV into a file
under downloads/, removes the build machine's paths from everything published, and writes the search index
(the pages' own text, section by section) that search.html queries offline with MiniSearch.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import html
import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from analysis.config import PROJECT_ROOT, Config
from analysis.errors import TargetError
from analysis.publish import privacy
from analysis.publish.common import NODE_MODULES, TEMPLATES, PandocJob


def site_pages() -> tuple[str, ...]:
    """The site's .qmd pages in reading order: the summary, one per registered question, methods."""
    from analysis.questions import numbers

    return ("index.qmd", *(f"questions/q{n}.qmd" for n in numbers()), "methods.qmd")


SITE_PAGES = site_pages()
VEGA_ASSETS = {
    "vega.min.js": "vega/build/vega.min.js",
    "vega-lite.min.js": "vega-lite/build/vega-lite.min.js",
    "vega-embed.min.js": "vega-embed/build/vega-embed.min.js",
    "minisearch.js": "minisearch/dist/umd/index.js",
}
OWN_ASSETS = (
    "site.css",
    "tables.css",
    "tables.js",
    "search.js",
    "slide.css",
)  # ours, from templates/
SEARCH_PAGE = "search.html"
SEARCH_INDEX = "assets/search-index.js"
DOWNLOADS = "downloads"
SECTION_TEXT_LIMIT = 4000  # characters of one section kept in the search index
SLIDE_LINKS = (
    ("slide.html", "the slide", ""),
    ("slide.pptx", "PowerPoint (.pptx)", " download"),
    ("slide.png", "picture (.png)", ""),
)
_CSV_LINK = re.compile(
    r'<a class="table-csv" download="([\w.-]+)" href="data:text/csv;charset=utf-8;base64,'
    r'([A-Za-z0-9+/=]*)">'
)
_SECTION_ID = re.compile(r'<(?:section|h[1-6])\b[^>]*\bid="([\w-]+)"')
_DATES_SLOT = '<span class="data-dates"></span>'  # in _quarto.yml's page-footer
_TABLE_REGION = re.compile(
    r'<div class="table-wrap" role="region" tabindex="0" aria-label="([^"]*)">'
)
_HEADING = re.compile(r"<h[2-4]\b[^>]*>(.*?)</h[2-4]>", re.S)


# --- navigation -----------------------------------------------------------------------------------------


def navigation() -> list[tuple[str, str, str]]:
    """(href from the site root, navbar text, full title) in reading order."""
    from analysis.questions import TITLES

    return [
        ("index.html", "Summary", "Summary"),
        *((f"questions/q{n}.html", f"Q{n}", TITLES[n]) for n in sorted(TITLES)),
        ("methods.html", "Methods & data", "Methods and data"),
    ]


def navbar_html(current: str, root: str, title: str) -> str:
    """The site's navbar; on phones its links fold into a <details> "Menu" (no JavaScript needed)."""
    items = []
    for href, short, full in navigation():
        here = ' aria-current="page"' if href == current else ""
        # The question's title shows beside "Qn" in the phone menu (hidden in the wide navbar).
        long = f'<span class="long">: {html.escape(full)}</span>' if href.startswith("q") else ""
        items.append(
            f'<li><a href="{root}{href}"{here} title="{html.escape(full)}">'
            f"{html.escape(short)}{long}</a></li>"
        )
    items.append(f'<li><a href="{root}slide.html">Slide</a></li>')
    search = (
        f'<form class="nav-search" role="search" aria-label="Site search" action="{root}{SEARCH_PAGE}"'
        ' method="get"><label for="nav-q" class="visually-hidden">Search the report</label>'
        '<input id="nav-q" name="q" type="search" placeholder="Search" autocomplete="off">'
        '<button type="submit">Search</button></form>'
    )
    return (
        '<header class="navbar"><nav aria-label="Site">'
        f'<a class="brand" href="{root}index.html">{html.escape(title)}</a>'
        '<details class="menu"><summary>Menu</summary>'
        f"<ul>{''.join(items)}</ul>{search}</details></nav></header>"
    )


def pager_html(current: str, root: str) -> str:
    """Previous / next links in reading order (summary, the questions, methods)."""
    order = navigation()
    hrefs = [href for href, _, _ in order]
    if current not in hrefs:
        return ""
    index = hrefs.index(current)
    links = []
    for step, rel, arrow in ((-1, "prev", "Previous"), (1, "next", "Next")):
        if 0 <= index + step < len(order):
            href, short, full = order[index + step]
            name = f"{short}: {full}" if href.startswith("q") else full
            links.append(
                f'<a class="{rel}" rel="{rel}" href="{root}{href}">'
                f'<span class="pager-dir">{arrow}</span> {html.escape(name)}</a>'
            )
    return f'<nav class="pager" aria-label="Previous and next page">{"".join(links)}</nav>'


def slide_box(root: str, png: bool = True) -> str:
    """The summary page's links to the slide (slide.png only when the render makes it)."""
    links = " · ".join(
        f'<a href="{root}{href}"{extra}>{html.escape(text)}</a>'
        for href, text, extra in SLIDE_LINKS
        if png or href != "slide.png"
    )
    return f'<p class="slide-box"><strong>One-slide summary for the board:</strong> {links}</p>'


def dates_line(dataset: dict[str, Any], built: dt.date | None = None) -> str:
    """'Data through 2021-04-21, built 2026-12-01.' (the snapshot's last row, today's date)."""
    built = built or dt.datetime.now(dt.UTC).date()
    last = str(dataset.get("last_seen") or "")[:10]
    return f"Data through {last}, built {built}." if last else f"Built {built}."


# --- the summary page (index.qmd): the shared summary, laid out for the web ---------------------------


def _index_summary():
    from analysis.publish import pages, summary

    page = pages.current()
    return page, summary.summarise(page.report, page.config, pages.changes_result())


def lead_finding():
    """What matters most, first on the summary page: the lead finding (the slide's title), the slide's
    bullets, its counts (the key numbers, most serious first) and a link to its question's page."""
    from analysis.publish.pages import escape_html, md, raw_html

    page, shared = _index_summary()
    lines = [f"**{page.text(shared.title)}**", ""]
    # the slide's bullets, word for word; what is new has its own section above ("Since the report
    # of ..."), so its bullet is not repeated here
    lines += [f"- {page.text(bullet)}" for bullet in shared.bullets if bullet != shared.news_bullet]
    out = "\n::: {.answer .lead-finding}\n" + "\n".join(lines) + "\n:::\n"
    if shared.numbers:
        cells = "".join(
            f'<div class="stat"><div class="stat-value">{escape_html(value)}</div>'
            f'<div class="stat-label">{escape_html(label)}</div></div>'
            for label, value in shared.numbers
        )
        out += raw_html(f'<div class="stats key-numbers">{cells}</div>')
    if shared.question:
        out += (
            f"\nThe details are on [question {shared.question}: {page.text(shared.question_title)}]"
            f"(questions/q{shared.question}.html).\n"
        )
    return md(out)


def key_chart():
    """The key chart: the lead finding's chart, the one the slide and the email show."""
    from analysis.publish import pages, summary

    _, shared = _index_summary()
    if shared.chart is None:  # no output: no empty figure
        return None
    return pages.chart(summary.chart_altair(shared.chart, width="container", font=13))


# --- pages ----------------------------------------------------------------------------------------------


def site_page_job(
    markdown: str,
    meta: dict[str, Any],
    target: Path,
    root: str,
    config: Config,
    simulated: bool,
    toc: bool,
    question: str = "",
    dataset: dict[str, Any] | None = None,
    site_dir: Path | None = None,
    slide_png: bool = True,
) -> PandocJob:
    """The pandoc job that makes one page of the site (templates/site.html around the Markdown)."""
    import yaml

    front: dict[str, str] = {k: str(meta[k]) for k in ("title", "subtitle") if k in meta}
    title = front.get("title", config.site.title)
    pagetitle = (
        config.site.title if title == config.site.title else f"{title} – {config.site.title}"
    )
    front["pagetitle"] = pagetitle
    document = f"---\n{yaml.safe_dump(front, allow_unicode=True)}---\n\n{markdown}"
    current = target.name
    if site_dir is not None:
        current = target.relative_to(site_dir).as_posix()
    elif root:
        current = f"{target.parent.name}/{target.name}"
    variables = {
        "root": root,
        "sitetitle": html.escape(config.site.title),
        "navbar": navbar_html(current, root, config.site.title),
        "pager": pager_html(current, root),
        "dates": html.escape(dates_line(dataset or {})),
    }
    if current == "index.html":
        variables["slidebox"] = slide_box(root, png=slide_png)
    if simulated:
        variables["simulated"] = "true"
    if question:  # template variables are inserted verbatim: escape them
        variables["question"] = html.escape(question)
    return PandocJob(
        text=document,
        template=TEMPLATES / "site.html",
        variables=variables,
        toc=toc,
        section_divs=True,
        where=target.name,
    )


def search_page_job(
    site_dir: Path, config: Config, simulated: bool, dataset: dict[str, Any]
) -> PandocJob:
    """The pandoc job that makes search.html: a form and the results list (filled by assets/search.js
    from the index)."""
    body = (
        '<form class="search-page" role="search" aria-label="Search the report" '
        f'action="{SEARCH_PAGE}" method="get"><label for="search-q">Words to find</label> '
        '<input id="search-q" name="q" type="search" autocomplete="off"> '
        '<button type="submit">Search</button></form>'
        '<p id="search-status" role="status">Search runs in your browser and needs JavaScript; '
        "without it, use the links above.</p>"
        '<ol id="search-results" class="search-results"></ol>'
        '<script src="assets/minisearch.js"></script>'
        f'<script src="{SEARCH_INDEX}"></script><script src="assets/search.js"></script>'
    )
    markdown = f"\n```{{=html}}\n{body}\n```\n"
    return site_page_job(
        markdown,
        {"title": "Search"},
        site_dir / SEARCH_PAGE,
        "",
        config,
        simulated,
        toc=False,
        dataset=dataset,
        site_dir=site_dir,
    )


# --- after the pages: downloads, paths, search index ----------------------------------------------------


def machine_paths(config: Config) -> list[tuple[str, str]]:
    """(absolute path of the build machine, what to show instead), longest first."""
    pairs: dict[str, str] = {}
    for path, shown in (
        (config.paths.data_dir, ""),
        (config.paths.site_dir, ""),
        (config.paths.build_dir, ""),
        (PROJECT_ROOT, ""),
        (Path.cwd(), ""),
        (Path(tempfile.gettempdir()), ""),
        (Path.home(), "~/"),
    ):
        for variant in {str(path), str(Path(path).resolve())}:
            if len(variant) > 1:  # never "/"
                pairs[variant.rstrip("/") + "/"] = shown
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def scrub_paths(text: str, pairs: list[tuple[str, str]]) -> str:
    """Each absolute machine path made relative; only where a path starts (not inside a lesson path)."""
    if not pairs:
        return text
    shown = dict(pairs)
    pattern = "|".join(re.escape(path) for path, _ in pairs)  # longest first: alternation order
    return re.sub(rf"(?<![\w.~/-])(?:{pattern})", lambda m: shown[m.group(0)], text)


def write_downloads(page_html: str, page: str, site_dir: Path, public: bool) -> str:
    """Each table's embedded CSV (a data: link) -> downloads/<page>-<section>.csv, linked relatively."""
    stem = Path(page).stem
    root = "../" * page.count("/")
    used: set[str] = set()
    out, last = [], 0
    for match in _CSV_LINK.finditer(page_html):
        try:
            text = base64.b64decode(match.group(2), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TargetError(f"{page}: a table's CSV could not be decoded: {exc}") from exc
        if public:
            text = privacy.mask_text(text)
        sections = _SECTION_ID.findall(page_html, 0, match.start())
        base = f"{stem}-{sections[-1] if sections else match.group(1).removesuffix('.csv')}"
        name, n = f"{base}.csv", 1
        while name in used:
            n += 1
            name = f"{base}-{n}.csv"
        used.add(name)
        target = site_dir / DOWNLOADS / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        out += [
            page_html[last : match.start()],
            f'<a class="table-csv" download="{name}" href="{root}{DOWNLOADS}/{name}">',
        ]
        last = match.end()
    out.append(page_html[last:])
    return "".join(out)


def label_tables(page_html: str) -> str:
    """Each table's scroll box gets a unique accessible name: its caption, else its section's heading."""
    seen: dict[str, int] = {}
    out, last = [], 0
    for match in _TABLE_REGION.finditer(page_html):
        label = html.unescape(match.group(1))
        if label == "Table":
            headings = _HEADING.findall(page_html, 0, match.start())
            if headings:
                label = " ".join(html.unescape(re.sub(r"<[^>]+>", "", headings[-1])).split())
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} (table {seen[label]})"
        out += [
            page_html[last : match.start()],
            match.group(0).replace(
                f'aria-label="{match.group(1)}"', f'aria-label="{html.escape(label, quote=True)}"'
            ),
        ]
        last = match.end()
    out.append(page_html[last:])
    return "".join(out)


class _PageText(HTMLParser):
    """The text of <main>, cut at each level-2 section: [(section id, heading, text)]."""

    SKIP = frozenset({"script", "style", "svg", "nav", "button", "noscript", "form"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[list[str]] = [["", "", ""]]
        self._in_main = 0
        self._skip = 0
        self._heading = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "main":
            self._in_main += 1
        if not self._in_main:
            return
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "section" and "level2" in (attributes.get("class") or "").split():
            self.sections.append([attributes.get("id") or "", "", ""])
        elif tag in ("h1", "h2"):
            self._heading = tag
        elif tag in ("p", "li", "td", "th", "div", "h3", "h4", "br", "tr"):
            self.sections[-1][2] += " "

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self._in_main -= 1
        elif self._in_main and tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag == self._heading:
            self._heading = ""

    def handle_data(self, data: str) -> None:
        if not self._in_main or self._skip:
            return
        if self._heading == "h1":
            self.title += data
        elif self._heading == "h2":
            self.sections[-1][1] += data
        else:
            self.sections[-1][2] += data


def search_documents(site_dir: Path, pages: list[str]) -> list[dict[str, str]]:
    """One document per page section: page title, section heading, href with #anchor, text."""
    docs: list[dict[str, str]] = []
    for page in pages:
        parser = _PageText()
        parser.feed((site_dir / page).read_text(encoding="utf-8"))
        title = " ".join(parser.title.split())
        for ident, heading, text in parser.sections:
            text = " ".join(text.split())
            if not text and not heading:
                continue
            docs.append(
                {
                    "id": str(len(docs)),
                    "href": f"{page}#{ident}" if ident else page,
                    "title": title,
                    "section": " ".join(heading.split()),
                    "text": text[:SECTION_TEXT_LIMIT],
                }
            )
    return docs


def write_search_index(site_dir: Path, pages: list[str], public: bool) -> Path:
    docs = search_documents(site_dir, pages)
    text = json.dumps({"docs": docs}, ensure_ascii=True, separators=(",", ":")).replace(
        "</", "<\\/"
    )
    if public:
        text = privacy.mask_text(text)
    target = site_dir / SEARCH_INDEX
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        "/* curriculum-insights search index, built with the site */\n"
        f"window.SITE_SEARCH = {text};\n",
        encoding="utf-8",
    )
    return target


def quarto_extras(page_html: str, page: str) -> str:
    """What Quarto's own template lacks: our table styles and sorting, the slide box on the summary."""
    root = "../" * page.count("/")
    if "assets/tables.js" not in page_html:
        head = (
            f'<link rel="stylesheet" href="{root}assets/tables.css">\n'
            f'<script src="{root}assets/tables.js" defer></script>\n</head>'
        )
        page_html = page_html.replace("</head>", head, 1)
    if page == "index.html" and 'class="slide-box"' not in page_html:
        page_html = re.sub(
            r'(<header id="title-block-header"[^>]*>.*?</header>)',
            lambda m: m.group(1) + slide_box(""),
            page_html,
            count=1,
            flags=re.S,
        )
    return page_html


def finish_site(
    site_dir: Path,
    config: Config,
    *,
    dataset: dict[str, Any] | None = None,
    engine: str = "pandoc",
    search_html: str | None = None,
) -> None:
    """After every page: CSV downloads, no machine path anywhere; the search page (pandoc engine: Quarto
    has its own search; `search_html`: the document pandoc made of search_page_job, required with the
    pandoc engine) or, after Quarto, the table assets and the slide box its template lacks."""
    public = privacy.is_public(config.privacy.mode)
    dates = html.escape(dates_line(dataset or {}))
    pairs = sorted(
        [*machine_paths(config), (str(site_dir).rstrip("/") + "/", "")], key=lambda p: -len(p[0])
    )
    pages = sorted(
        path.relative_to(site_dir).as_posix()
        for path in site_dir.rglob("*.html")
        if "assets" not in path.relative_to(site_dir).parts
    )
    for page in pages:
        path = site_dir / page
        text = path.read_text(encoding="utf-8")
        new = scrub_paths(label_tables(write_downloads(text, page, site_dir, public)), pairs)
        if engine == "quarto":
            new = quarto_extras(new, page).replace(
                _DATES_SLOT, _DATES_SLOT.replace("><", f">{dates}<")
            )
        if new != text:
            path.write_text(new, encoding="utf-8")
    for csv in (site_dir / DOWNLOADS).glob("*.csv"):
        csv.write_text(scrub_paths(csv.read_text(encoding="utf-8"), pairs), encoding="utf-8")
    if engine != "quarto":
        indexed = [p for p in pages if p not in (SEARCH_PAGE, "slide.html")]
        write_search_index(site_dir, indexed, public)
        if search_html is None:  # a caller's mistake, not the data's
            raise ValueError("finish_site: the pandoc engine's search page was not given")
        (site_dir / SEARCH_PAGE).write_text(search_html, encoding="utf-8")


# --- assets ---------------------------------------------------------------------------------------------


def copy_assets(site_dir: Path) -> list[Path]:
    """vega, vega-lite, vega-embed, minisearch and reveal.js from node_modules, plus our CSS and JS."""
    assets = site_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, source in VEGA_ASSETS.items():
        origin = NODE_MODULES / source
        if not origin.exists():
            raise TargetError(
                f"JavaScript asset missing: {origin} (run `make install`, it runs `npm ci`)"
            )
        text = origin.read_text(encoding="utf-8")
        # No source map is copied: drop the comment pointing at it (a browser would request it).
        text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)
        target = assets / name
        target.write_text(text, encoding="utf-8")
        copied.append(target)
    reveal = NODE_MODULES / "reveal.js" / "dist"
    if not reveal.exists():
        raise TargetError(f"reveal.js missing: {reveal} (run `make install`, it runs `npm ci`)")
    shutil.copytree(
        reveal,
        assets / "reveal.js",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("*.d.ts", "*.mjs", "*.map", "utils"),
    )
    copied += [Path(shutil.copy2(TEMPLATES / name, assets / name)) for name in OWN_ASSETS]
    return copied


def quarto_site(site_dir: Path, env: dict[str, str]) -> None:
    """`quarto render` of the website into site_dir (the assets are copied into it afterwards)."""
    command = ["quarto", "render", "--output-dir", str(site_dir)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise TargetError(f"quarto render failed (exit {result.returncode}):\n{tail}")
