"""analysis.publish.tables and analysis.publish.site: tables that say what they cut and link their full data,
values formatted by kind, the navbar, pager and dates, CSV downloads (masked), no machine path, the search index."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from pathlib import Path

import polars as pl
import pytest
from render_support import SECRET_IP, hostile_build

from analysis.config import PROJECT_ROOT
from analysis.publish import site, tables


def _csv_of(fragment: str) -> str:
    data = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]*)"', fragment).group(1)
    return base64.b64decode(data).decode("utf-8")


def test_a_cut_table_says_so_and_keeps_every_row() -> None:
    frame = pl.DataFrame({"Lesson": [f"lesson-{i}" for i in range(27)], "Views": list(range(27))})
    out = tables.table_html(frame, max_rows=15)
    assert "15 of 27 rows shown." in out
    assert "Show all 27 rows" in out and 'type="checkbox"' in out
    assert out.count("<tr>") == 1 + 15 and out.count('<tr class="more">') == 12  # header + shown
    csv = _csv_of(out).strip().splitlines()
    assert csv[0] == "Lesson,Views" and len(csv) == 28 and csv[-1] == "lesson-26,26"
    assert "Download all 27 rows (CSV)" in out


def test_a_short_table_has_no_toggle_but_its_csv() -> None:
    out = tables.table_html(pl.DataFrame({"Views": [1, 2]}))
    assert "2 rows." in out and "checkbox" not in out and "more" not in out
    assert tables.table_html(pl.DataFrame({"Views": [1]}), download=False).count("table-csv") == 0


def test_years_ids_and_dates_are_formatted_as_such() -> None:
    frame = pl.DataFrame(
        {
            "Year": [2018],
            "User": [1023],
            "Cohort id": [1024],
            "Users": [12345],
            "First access": [dt.date(2019, 1, 2)],
            "When": [dt.datetime(2019, 1, 2, 3, 4, 5)],
            "Share": [0.12345],
        }
    )
    out = tables.table_html(frame)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", out)
    assert cells == ["2018", "1023", "1024", "12,345", "2019-01-02", "2019-01-02 03:04", "0.123"]
    assert 'data-sort="0.12345"' in out  # the rounded value sorts by its full value
    assert out.count('data-type="num"') == 5 and out.count('data-type="date"') == 2


def test_values_do_not_wrap_but_prose_columns_may() -> None:
    frame = pl.DataFrame({"Kind": ["scraping"], "Evidence": ["a long sentence " * 5]})
    out = tables.table_html(frame)
    assert '<th scope="col" data-type="text">Kind</th>' in out
    assert '<th scope="col" data-type="text" class="wrap">Evidence</th>' in out


def test_every_value_is_escaped_in_the_page_and_quoted_in_the_csv() -> None:
    hostile = '"><img src=x onerror=alert(1)>'
    frame = pl.DataFrame({"<b>x</b>": [hostile], "Path": ["=HYPERLINK(1)"]})
    out = tables.table_html(frame, caption="<i>c</i>")
    assert "<img" not in out and "<b>" not in out and "<i>" not in out
    assert html.escape(hostile) in out
    csv = _csv_of(out)
    assert "'=HYPERLINK(1)" in csv  # a spreadsheet shows it instead of running it
    assert '"""><img' in csv  # CSV-quoted, intact


def test_downloads_become_files_in_the_site_masked_and_linked_relatively(tmp_path: Path) -> None:
    frame = pl.DataFrame({"IP": [SECRET_IP, "10.0.0.1"], "Views": [3, 4]})
    page = (
        '<section id="evidence" class="level2"><h2>Evidence</h2>'
        + tables.table_html(frame)
        + tables.table_html(frame)
        + "</section>"
    )
    out = site.write_downloads(page, "questions/q4.html", tmp_path, public=True)
    assert "data:text/csv" not in out
    links = re.findall(r'href="([^"]+\.csv)"', out)
    assert links == ["../downloads/q4-evidence.csv", "../downloads/q4-evidence-2.csv"]
    text = (tmp_path / "downloads" / "q4-evidence.csv").read_text()
    assert SECRET_IP not in text and "198.51.100.x" in text and "10.0.0.x" in text


def test_table_boxes_get_unique_names_from_their_headings() -> None:
    frame = pl.DataFrame({"Views": [1]})
    page = (
        "<h3>By program</h3>"
        + tables.table_html(frame)
        + tables.table_html(frame)
        + tables.table_html(frame, caption="Thresholds")
    )
    labels = re.findall(r'role="region" tabindex="0" aria-label="([^"]*)"', site.label_tables(page))
    assert labels == ["By program", "By program (table 2)", "Thresholds"]


def test_navbar_marks_the_current_page_and_links_the_slide() -> None:
    out = site.navbar_html("questions/q3.html", "../", "Curriculum insights")
    assert out.count('aria-current="page"') == 1
    assert '<a href="../questions/q3.html" aria-current="page"' in out
    assert 'href="../slide.html"' in out and 'action="../search.html"' in out
    assert "<details" in out and "<summary>Menu</summary>" in out  # the phone menu needs no script
    assert "<script" not in out


def test_pager_follows_the_reading_order() -> None:
    assert 'rel="prev" href="../questions/q2.html"' in site.pager_html("questions/q3.html", "../")
    assert 'rel="next" href="../questions/q4.html"' in site.pager_html("questions/q3.html", "../")
    first = site.pager_html("index.html", "")
    assert 'rel="prev"' not in first and 'href="questions/q1.html"' in first
    last = site.pager_html("methods.html", "")
    assert 'rel="next"' not in last and 'href="questions/q8.html"' in last
    assert site.pager_html("search.html", "") == ""


def test_dates_line() -> None:
    built = dt.date(2026, 12, 1)
    assert (
        site.dates_line({"last_seen": "2021-04-21T16:44:39"}, built)
        == "Data through 2021-04-21, built 2026-12-01."
    )
    assert site.dates_line({}, built) == "Built 2026-12-01."


def test_machine_paths_are_removed(config) -> None:
    pairs = site.machine_paths(config)
    text = f"logs {config.paths.data_dir}/demo/logs.txt.gz, code {PROJECT_ROOT}/src/x.py"
    clean = site.scrub_paths(text, pairs)
    assert clean == "logs demo/logs.txt.gz, code src/x.py"
    inside = f"lesson content{PROJECT_ROOT}/x and ~{Path.home()}/y"  # not where a path starts
    assert site.scrub_paths(inside, pairs) == inside
    assert all(path != "/" for path, _ in pairs)


def test_after_quarto_pages_get_the_table_assets_the_slide_box_and_the_dates(
    tmp_path: Path, config
) -> None:
    (tmp_path / "questions").mkdir()
    quarto_page = (
        "<html><head><title>x</title></head><body><header id='nav'></header><main>"
        '<header id="title-block-header" class="quarto-title-block"><h1>Title</h1></header>'
        "<p>text</p></main><footer>Made by curriculum-insights. "
        '<span class="data-dates"></span></footer></body></html>'
    )
    for page in ("index.html", "questions/q1.html"):
        (tmp_path / page).write_text(quarto_page, encoding="utf-8")
    dataset = {"last_seen": "2021-04-21T10:00:00"}
    site.finish_site(tmp_path, config, dataset=dataset, engine="quarto")
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    q1 = (tmp_path / "questions" / "q1.html").read_text(encoding="utf-8")
    assert '<script src="assets/tables.js" defer></script>' in index
    assert '<script src="../assets/tables.js" defer></script>' in q1
    assert index.index("</header>" + site.slide_box("")) > index.index("title-block-header")
    assert "slide-box" not in q1
    assert '<span class="data-dates">Data through 2021-04-21, built ' in q1
    assert not (tmp_path / site.SEARCH_PAGE).exists()  # Quarto has its own search


def test_search_documents_are_the_pages_sections(tmp_path: Path) -> None:
    (tmp_path / "questions").mkdir()
    (tmp_path / "questions" / "q1.html").write_text(
        "<header><nav><a>Summary</a></nav></header><main><h1>Question 1</h1><p>intro</p>"
        '<section id="answer" class="level2"><h2>Answer</h2><p>javascript-i leads</p>'
        "<script>var x = 'hidden';</script></section>"
        '<section id="caveats" class="level2"><h2>Caveats</h2><ul><li>few</li><li>cohorts</li></ul>'
        "</section></main><footer>built</footer>"
    )
    docs = site.search_documents(tmp_path, ["questions/q1.html"])
    assert [(d["href"], d["section"], d["text"]) for d in docs] == [
        ("questions/q1.html", "", "intro"),
        ("questions/q1.html#answer", "Answer", "javascript-i leads"),
        ("questions/q1.html#caveats", "Caveats", "few cohorts"),
    ]
    assert all(d["title"] == "Question 1" for d in docs)


# --- the whole site (render tier) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory):
    return hostile_build(tmp_path_factory.mktemp("site-public"))


@pytest.mark.render
def test_no_path_of_the_build_machine_anywhere(public) -> None:
    config, _, _ = public
    roots = {str(PROJECT_ROOT), str(config.paths.site_dir.parent), str(Path.home()) + "/"}
    for path in config.paths.site_dir.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".csv", ".js", ".json", ".css", ".xml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for root in roots:
                assert root not in text, (path, root)


@pytest.mark.render
def test_every_table_links_its_csv_and_the_csvs_are_masked(public) -> None:
    config, _, _ = public
    site_dir = config.paths.site_dir
    linked = 0
    for page in site_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "data:text/csv" not in text
        assert text.count('class="table-block"') == len(re.findall(r'class="table-csv"', text))
        for href in re.findall(r'class="table-csv" download="[^"]+" href="([^"]+)"', text):
            assert (page.parent / href).resolve().is_file(), (page, href)
            linked += 1
    assert linked >= 8
    csvs = list((site_dir / "downloads").glob("*.csv"))
    assert len(csvs) == linked
    assert not any(SECRET_IP in path.read_text(encoding="utf-8") for path in csvs)


@pytest.mark.render
def test_every_page_has_dates_navbar_and_search(public) -> None:
    config, _, _ = public
    site_dir = config.paths.site_dir
    for name in ["index.html", "methods.html", "search.html", "questions/q5.html"]:
        text = (site_dir / name).read_text(encoding="utf-8")
        assert re.search(r"Built \d{4}-\d\d-\d\d|Data through \d{4}-\d\d-\d\d, built", text), name
        assert ('aria-current="page"' in text) == (name != "search.html")
        assert 'role="search"' in text
    index = (site_dir / site.SEARCH_INDEX).read_text(encoding="utf-8")
    assert "questions/q4.html#" in index and SECRET_IP not in index
    for name in ("minisearch.js", "search.js", "tables.js"):
        assert (site_dir / "assets" / name).stat().st_size > 500


@pytest.mark.render
def test_the_summary_page_leads_with_the_slide_s_finding_and_chart(public) -> None:
    """Emphasis follows importance: the summary page's first block is the slide's title, its key chart is
    the slide's chart (the same ChartData), and both come before the list of answers."""
    import html
    import json

    from pptx import Presentation

    config, _, _ = public
    page = (config.paths.site_dir / "index.html").read_text(encoding="utf-8")
    slide = Presentation(str(config.paths.site_dir / "slide.pptx")).slides[0]
    title = slide.shapes.title.text_frame.text
    chart = next(s for s in slide.shapes if s.has_chart).chart
    lead = re.search(r'<div class="answer lead-finding">\s*<p><strong>(.*?)</strong>', page, re.S)
    assert lead and " ".join(html.unescape(lead.group(1)).split()) == title
    key = re.search(r'<div id="fig-key".*?vegaEmbed\("#[\w-]+", (\{.*?\}), \{', page, re.S)
    assert key, "no key chart"
    spec = json.loads(key.group(1).replace("<\\/", "</"))
    values = {row["category"] for row in spec["data"]["values"]} if "data" in spec else set()
    if not values:  # altair moves inline data to datasets
        values = {row["category"] for rows in spec["datasets"].values() for row in rows}
    assert values == set(chart.plots[0].categories)
    assert json.dumps(spec["title"]).count(chart.chart_title.text_frame.text.split()[0]) >= 1
    assert page.index("lead-finding") < page.index('id="fig-key"') < page.index('id="the-answers"')


def test_published_chart_specs_turn_level_labels_and_wrap_long_axis_titles() -> None:
    """What a page publishes (charts.base.wrap_titles): level category labels turn on a narrow plot, a
    long axis title comes in lines, continuous x axes keep their end labels inside; images untouched."""
    import altair as alt
    import polars as pl

    from analysis.charts.base import AXIS_TITLE_CHARS, finish, wrap_titles

    data = pl.DataFrame({"bin": ["under 5%", "5-10%"], "n": [3, 4]})
    long_title = "Weekly lesson views, share of the cohort's typical student"
    chart = finish(
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("bin:O", title=long_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("n:Q", title="Students"),
        ),
        "A title",
        "A description",
    )
    spec = wrap_titles(chart.to_dict())
    axis = spec["encoding"]["x"]["axis"]
    assert axis["labelAngle"] == {"expr": "width < 480 ? -40 : 0"}
    assert axis["labelAlign"]["expr"].startswith("width < 480")
    lines = spec["encoding"]["x"]["title"]
    assert isinstance(lines, list) and len(lines) > 1
    assert all(len(line) <= AXIS_TITLE_CHARS for line in lines) and " ".join(lines) == long_title
    assert spec["encoding"]["y"]["title"] == "Students"
    assert spec["config"]["axisX"]["labelFlush"] is True
    fixed = chart.properties(width=560).to_dict()  # a PNG's fixed width: no width signal, unchanged
    assert wrap_titles(fixed)["encoding"]["x"]["axis"] == {"labelAngle": 0}
