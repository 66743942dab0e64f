"""analysis.publish.pages: escaping of untrusted values, and every number on the site is the report's."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import polars as pl
import pypandoc
import pytest
from render_support import HOSTILE_PATHS, hostile_build

from analysis.publish import pages

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?%?")


def _to_html(markdown: str) -> str:
    return pypandoc.convert_text(markdown, "html", format="markdown")


@pytest.mark.parametrize("value", HOSTILE_PATHS)
def test_escaped_markdown_renders_as_the_literal_text(value: str) -> None:
    out = _to_html(pages.escape_md(value))
    assert "<script" not in out and "<img" not in out and "<a " not in out and "<strong" not in out
    assert html.unescape(re.sub(r"</?p>", "", out)).strip() == value


def test_table_html_escapes_cells_and_headers() -> None:
    frame = pl.DataFrame({"<b>x</b>": ['"><img src=x onerror=alert(1)>'], "n": [1234]})
    table = pages.table_html(frame)
    assert "<img" not in table and "<b>" not in table
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in table
    assert '<td class="num">1,234</td>' in table


def test_script_json_cannot_close_the_script() -> None:
    text = pages.script_json({"a": "</script><script>alert(1)</script><!--"})
    assert "</" not in text and "<!--" not in text


def test_fmt() -> None:
    assert pages.fmt(1234567) == "1,234,567"
    assert pages.fmt(0.1234) == "0.123"
    assert pages.fmt(None) == ""
    assert pages.fmt(True) == "yes"


@pytest.mark.render
def test_index_numbers_are_the_reports(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each answer line on the summary page carries exactly the numbers of findings' answer."""
    config, report, _ = hostile_build(tmp_path_factory.mktemp("hostile-public"))
    findings = report.to_json()
    index = (config.paths.site_dir / "index.html").read_text(encoding="utf-8")
    items = re.findall(r"<li>(.*?)</li>", index, re.S)
    answers = [i for i in items if 'href="questions/q' in i and "</a>:" in i]
    assert len(answers) == 8
    for number, item in enumerate(answers, start=1):
        shown = html.unescape(re.sub(r"<[^>]+>", "", item.split("</a>:", 1)[1]))
        expected = findings["questions"][str(number)]["answer"]
        # masking may change the last octet of an IP only (x); compare the numbers in order
        expected_numbers = NUMBER.findall(pages.privacy.mask_text(expected))
        assert expected_numbers, f"Q{number} answer has no number: {expected}"
        assert NUMBER.findall(shown) == expected_numbers


@pytest.mark.render
def test_headline_numbers_match_the_dataset(tmp_path_factory: pytest.TempPathFactory) -> None:
    config, report, _ = hostile_build(tmp_path_factory.mktemp("hostile-public"))
    index = (config.paths.site_dir / "index.html").read_text(encoding="utf-8")
    stats = dict(
        (label, value)
        for value, label in re.findall(
            r'<div class="stat-value">(.*?)</div><div class="stat-label">(.*?)</div>', index
        )
    )
    assert stats["Log rows"] == f"{report.dataset['rows']:,}"
    assert stats["Users"] == f"{report.dataset['users']:,}"
    assert stats["Period"].startswith(str(report.dataset["first_seen"])[:10])


def test_page_keys_are_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from render_support import configured

    monkeypatch.setattr(pages, "_STATE", {})
    pages.use(object(), configured(tmp_path))
    with pytest.raises(ValueError, match="unknown page"):
        pages.page(9)
    assert pages.page(3).root == "../"
    assert pages.page("index").root == ""


def test_pages_read_the_comparison_render_computed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """render computes the comparison with the previous report once and bundles it: a page kernel
    loading the bundle uses it and never compares again; without it, the page compares itself."""
    from render_support import configured

    from analysis import history

    def compare_again(*args: object, **kwargs: object) -> object:
        return "computed by the page"

    monkeypatch.setattr(history, "changes_for", compare_again)
    config = configured(tmp_path)
    report = {"stand-in": "report"}
    for given, expected in (("bundled comparison", "bundled comparison"), (pages.LATER, None)):
        monkeypatch.setattr(pages, "_STATE", {})
        cache = pages.write_cache(report, config, tmp_path / "bundle.pickle", given)
        kernel = config.replace(paths=dataclasses.replace(config.paths, report_cache=cache))
        monkeypatch.setattr(pages, "load_config", lambda kernel=kernel: kernel)
        pages.load_bundle()
        assert pages.changes_result() == (expected or "computed by the page")


# --- the helpers the .qmd cells call ---------------------------------------------------------------------


def _open_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dataset: dict, results: dict):
    from types import SimpleNamespace

    from render_support import configured

    monkeypatch.setattr(pages, "_STATE", {})
    pages.use(SimpleNamespace(dataset=dataset, results=results), configured(tmp_path))
    return pages.start(1 if 1 in results else "methods")


def _q1_result():
    from analysis.questions.q1 import Q1Result

    return Q1Result(
        number=1,
        title="Which lesson?",
        answer="**steady** leads from 203.0.113.77 today.",
        supporting=["one", "two", "<script>x</script>"],
        method="Counted per cohort.",
        parameters={"top_k": 5, "lesson_home_min_share": 0.8, "not_a_setting": 3},
        caveats=["A caveat."],
    )


def test_helpers_need_an_open_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "_STATE", {})
    with pytest.raises(RuntimeError, match=r"pages\.start"):
        pages.answer(_q1_result())


def test_answer_block_is_escaped_and_masked(monkeypatch, tmp_path: Path) -> None:
    _open_page(monkeypatch, tmp_path, {}, {1: _q1_result()})
    out = _to_html(pages.answer(_q1_result()).data)
    assert "<strong>" in out and "**steady**" in html.unescape(out)  # bold block, literal stars
    assert "203.0.113.x" in out and "203.0.113.77" not in out
    assert "<script" not in out and out.count("<li>") == 3


def test_method_lists_readable_settings_and_where_they_live(monkeypatch, tmp_path: Path) -> None:
    _open_page(monkeypatch, tmp_path, {}, {1: _q1_result()})
    out = pages.method(_q1_result()).data
    assert "Places that count as a cohort&#x27;s top lessons" in out or "top lessons" in out
    assert "[q1] top_k" in out
    assert "[q5] lesson_home_min_share" in out  # a setting another section owns names that section
    assert "fixed in the code" in out  # not a configuration key: not sent to the toml
    assert "Not a setting" in out


def test_table_shows_every_row_and_finds_tables_by_title_or_position(monkeypatch, tmp_path) -> None:
    from analysis.questions.q1 import Q1Result

    frame = pl.DataFrame({"Lesson": [f"l{i}" for i in range(27)], "Views": list(range(27))})

    class WithTables(Q1Result):
        def tables(self):
            return {"All lessons": frame}

    result = WithTables(
        **{
            f: getattr(_q1_result(), f)
            for f in ("number", "title", "answer", "supporting", "method")
        }
    )
    _open_page(monkeypatch, tmp_path, {}, {1: result})
    by_title = pages.table(result, "All lessons").data
    assert by_title == pages.table(result, 0).data == pages.table(frame).data
    assert by_title.count("<tr>") == 28  # header + 27 rows: nothing cut silently
    with pytest.raises(KeyError, match="All lessons"):
        pages.table(result, "Missing")


def test_chart_fits_its_container_and_has_a_text_alternative(monkeypatch, tmp_path) -> None:
    import altair as alt

    from analysis.charts.base import finish

    _open_page(monkeypatch, tmp_path, {}, {1: _q1_result()})
    chart = finish(
        alt.Chart(pl.DataFrame({"x": [1]})).mark_bar().encode(x="x:Q"),
        "A title long enough that it has to wrap on a phone screen of 320 pixels",
        "Bar chart: one bar of length 1.",
    )
    out = pages.chart(chart).data
    assert 'aria-label="Bar chart: one bar of length 1."' in out and 'role="img"' in out
    assert '"width":"container"' in out
    title = json.loads(out.split("vegaEmbed(", 1)[1].split(", ", 1)[1].rsplit(", {", 1)[0])["title"]
    # narrow charts get lines of at most 38 characters, wide ones of at most 76
    narrow, wide = title["text"]["expr"].removeprefix("width < 480 ? ").split(" : ")
    assert all(len(line) <= 38 for line in json.loads(narrow)) and len(json.loads(narrow)) == 2
    assert json.loads(wide) == chart.to_dict()["title"]["text"]
    assert out.count('<script src="../assets/') == 3  # the first chart loads vega
    assert pages.chart(chart).data.count("<script src=") == 0  # later charts do not


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "logs /work/main/data/demo/logs.txt.gz, cohorts /tmp/x/cohorts.csv",
            "logs logs.txt.gz, cohorts cohorts.csv",
        ),
        (r"logs C:\Users\me\logs.txt", "logs logs.txt"),
        (
            "logs data/demo/logs.txt.gz; mysql://db:3306/curriculum_logs",
            "logs data/demo/logs.txt.gz; mysql://db:3306/curriculum_logs",
        ),
        ("2018-01-26 to 2021-04-21", "2018-01-26 to 2021-04-21"),
    ],
)
def test_strip_paths(text: str, shown: str) -> None:
    assert pages.strip_paths(text) == shown


def test_methods_page_shows_no_path_of_the_build_machine(monkeypatch, tmp_path: Path) -> None:
    dataset = {
        "source": "file",
        "source_detail": f"logs {tmp_path}/data/logs.txt.gz, cohorts /home/ci/cohorts.csv",
        "rows": 12,
        "first_seen": "2018-01-26T09:55:03",
        "snapshot_dir": str(tmp_path / "snapshot"),  # not a field readers get
        "quarantine_reasons": {"bad date": 2},
    }
    _open_page(monkeypatch, tmp_path, dataset, {})
    out = pages.sources().data + pages.quarantine().data + pages.definitions().data
    assert str(tmp_path) not in out and "/home/" not in out and "snapshot" not in out
    assert "logs.txt.gz" in out and "cohorts.csv" in out
    assert "2018-01-26 09:55" in out and "bad date" in out


def test_identifier_settings_print_without_thousands_separators() -> None:
    """A seed or a year is an identifier: "2019", never "2,019"; amounts keep their separators."""
    assert pages.fmt_setting("seed", 2019) == "2019"
    assert pages.fmt_setting("first_year", 2018) == "2018"
    assert pages.fmt_setting("heavy_day_min_views", 15000) == "15,000"
    assert pages.fmt_setting("seed", True) == "yes"
