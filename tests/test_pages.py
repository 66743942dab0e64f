"""analysis.publish.pages: escaping of untrusted values, and every number on the site is the report's."""

from __future__ import annotations

import html
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
