"""One question = one registry line = one module, one chart module, one page, one test file (issue 15).

`layout_problems` compares a project tree with the question registry (`analysis.questions.REGISTRY`):
the question modules, chart modules, pages and test files present, `_quarto.yml`'s render list and
navbar, the findings schema's question keys, the site's page list and navigation, the slide's bullets.
The project passes it; a throwaway ninth question shows what adding one takes.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from analysis import questions as registry
from analysis.questions import FEED_KINDS, NUMBERS, REGISTRY, Question

ROOT = Path(__file__).resolve().parent.parent
QUESTION_FILE = re.compile(r"^q(\d+)\.(?:py|qmd)$")
TEST_FILE = re.compile(r"^test_q(\d+)\.py$")
QUESTION_PAGE = re.compile(r"^questions/q(\d+)\.qmd$")
# Words that would hard-code how many questions there are.
COUNT_WORDS = re.compile(r"\b(seven|eight|nine|ten)\b", re.IGNORECASE)


def _numbers_in(folder: Path, pattern: re.Pattern[str]) -> list[int]:
    if not folder.is_dir():
        return []
    found = (pattern.match(path.name) for path in folder.iterdir())
    return sorted(int(match.group(1)) for match in found if match)


def _quarto_pages(config: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """(render list, navbar (text, href) pairs) of a parsed _quarto.yml."""
    render = [str(p) for p in config["project"]["render"]]
    navbar = [
        (str(item.get("text", "")), str(item["href"]))
        for item in config["website"]["navbar"]["left"]
        if "href" in item
    ]
    return render, navbar


def layout_problems(root: Path, numbers: list[int]) -> list[str]:
    """What in the tree at `root` disagrees with the registered question `numbers` (empty: none)."""
    problems = []
    files = {
        "question module src/analysis/questions/qN.py": _numbers_in(
            root / "src" / "analysis" / "questions", QUESTION_FILE
        ),
        "chart module src/analysis/charts/qN.py": _numbers_in(
            root / "src" / "analysis" / "charts", QUESTION_FILE
        ),
        "page questions/qN.qmd": _numbers_in(root / "questions", QUESTION_FILE),
        "test file tests/test_qN.py": _numbers_in(root / "tests", TEST_FILE),
    }
    for what, found in files.items():
        if found != numbers:
            problems.append(f"{what}: found {found}, registered {numbers}")

    config = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))
    render, navbar = _quarto_pages(config)
    pages = [f"questions/q{n}.qmd" for n in numbers]
    if [p for p in render if QUESTION_PAGE.match(p)] != pages:
        problems.append(f"_quarto.yml project.render: question pages must be {pages}")
    if render != ["index.qmd", *pages, "methods.qmd"]:
        problems.append("_quarto.yml project.render: index.qmd, the question pages, methods.qmd")
    expected_nav = [(f"Q{n}", f"questions/q{n}.qmd") for n in numbers]
    if [item for item in navbar if QUESTION_PAGE.match(item[1])] != expected_nav:
        problems.append(f"_quarto.yml website.navbar.left: question entries must be {expected_nav}")
    hrefs = [href for _, href in navbar]
    if hrefs != ["index.qmd", *pages, "methods.qmd"]:
        problems.append("_quarto.yml navbar: Summary, the questions in order, Methods")

    schema = json.loads((root / "schemas" / "findings.schema.json").read_text(encoding="utf-8"))
    keys = schema["properties"]["questions"]
    if (
        keys["required"] != [str(n) for n in numbers]
        or list(keys["properties"]) != keys["required"]
    ):
        problems.append(
            f"schemas/findings.schema.json questions: keys must be {numbers} as strings"
        )

    for page in ("index.qmd",):
        words = COUNT_WORDS.findall((root / page).read_text(encoding="utf-8"))
        if words:
            problems.append(f"{page} names how many questions there are: {words}")
    return problems


# --- the project -----------------------------------------------------------------------------------------


def test_modules_charts_pages_tests_quarto_and_schema_match_the_registry() -> None:
    assert layout_problems(ROOT, list(NUMBERS)) == []


def test_the_registry_has_one_line_per_question_in_order() -> None:
    assert list(REGISTRY) == sorted(REGISTRY) == list(NUMBERS)
    assert all(name == f"analysis.questions.q{n}" for n, name in REGISTRY.items())


@pytest.mark.parametrize("number", NUMBERS)
def test_each_module_declares_itself(number: int) -> None:
    question = registry.question(number)
    assert number == question.module.NUMBER
    assert question.title.endswith("?") and len(question.short_title.split()) <= 5
    assert set(question.feeds) <= set(FEED_KINDS) and "page" in question.feeds
    assert "email" in question.feeds


def test_site_slide_and_navigation_follow_the_registry() -> None:
    from analysis.publish import site, summary

    pages = [f"questions/q{n}.qmd" for n in NUMBERS]
    assert site.SITE_PAGES == site.site_pages() == ("index.qmd", *pages, "methods.qmd")
    nav = site.navigation()
    assert [href for href, _, _ in nav[1:-1]] == [f"questions/q{n}.html" for n in NUMBERS]
    assert [full for _, _, full in nav[1:-1]] == [registry.TITLES[n] for n in NUMBERS]
    assert registry.slide_bullets() == summary.BULLET_QUESTIONS
    leads = [q.number for q in registry.questions() if "slide lead" in q.feeds]
    assert sorted([*summary.BULLET_QUESTIONS, *leads]) == list(NUMBERS)  # each on the slide once


def test_a_module_that_disagrees_with_its_registry_line_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(REGISTRY, 9, "analysis.questions.q8")  # q8 says NUMBER = 8
    with pytest.raises(ValueError, match="NUMBER is 8, registered as 9"):
        registry.question(9)


# --- a throwaway ninth question ---------------------------------------------------------------------------

NINTH_MODULE = '''
"""Question 9 (a test fixture): how many views are there?"""

from analysis.results import QuestionResult

NUMBER = 9
SHORT_TITLE = "How many views"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 0
TITLE = "How many views are there?"


def answer(snapshot, config, prepared=None):
    return QuestionResult(9, TITLE, f"{snapshot.manifest.rows} views.", [], "Counted.")
'''
NINTH_CHARTS = '''
"""Charts of question 9 (a test fixture)."""
'''
NINTH_PAGE = """---
title: "How many views are there?"
---
"""
NINTH_TEST = '''
"""Tests of question 9 (a test fixture)."""
'''


@pytest.fixture
def ninth_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the project's layout with question 9's four files, and its one registry line."""
    root = tmp_path / "project"
    for folder in ("src/analysis/questions", "src/analysis/charts", "questions", "tests"):
        (root / folder).mkdir(parents=True)
        for path in (ROOT / folder).iterdir():
            if path.is_file():
                shutil.copy(path, root / folder / path.name)
    (root / "schemas").mkdir()
    for name in ("_quarto.yml", "index.qmd", "schemas/findings.schema.json"):
        shutil.copy(ROOT / name, root / name)
    # The four files of question 9 ...
    package = tmp_path / "fixture_questions"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for path, text in (
        (root / "src/analysis/questions/q9.py", NINTH_MODULE),
        (package / "q9.py", NINTH_MODULE),
        (root / "src/analysis/charts/q9.py", NINTH_CHARTS),
        (root / "questions/q9.qmd", NINTH_PAGE),
        (root / "tests/test_q9.py", NINTH_TEST),
    ):
        path.write_text(textwrap.dedent(text).lstrip())
    # ... and its registry line.
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(REGISTRY, 9, "fixture_questions.q9")
    yield root
    sys.modules.pop("fixture_questions.q9", None)
    sys.modules.pop("fixture_questions", None)


def test_a_ninth_question_needs_its_files_and_a_registry_line(ninth_question: Path) -> None:
    from analysis.publish import site

    numbers = [*NUMBERS, 9]
    assert list(registry.numbers()) == list(registry.QUESTIONS) == numbers
    ninth = registry.question(9)
    assert isinstance(ninth, Question) and ninth.page == "questions/q9.qmd"
    assert registry.TITLES[9] == "How many views"
    assert registry.slide_bullets()[0] == 9  # SLIDE_RANK 0: first bullet
    assert site.site_pages()[-2:] == ("questions/q9.qmd", "methods.qmd")
    assert ("questions/q9.html", "Q9", "How many views") in site.navigation()

    # Files and code follow from the registry; the two files Quarto and JSON-Schema tools read
    # directly are checked against it, and the check says exactly what to add to them.
    problems = layout_problems(ninth_question, numbers)
    assert len(problems) == 5, problems
    assert all(p.startswith(("_quarto.yml", "schemas/findings.schema.json")) for p in problems)


@pytest.mark.slow
def test_the_report_answers_a_registered_ninth_question(
    ninth_question: Path, demo_snapshot
) -> None:
    from analysis.config import load_config
    from analysis.report import compute_report

    report = compute_report(load_config(environ={}), progress=False, snapshot=demo_snapshot)
    assert sorted(report.results) == [*NUMBERS, 9]
    assert report.results[9].answer == f"{demo_snapshot.manifest.rows} views."


def test_the_layout_check_notices_a_missing_page(ninth_question: Path) -> None:
    (ninth_question / "questions/q9.qmd").unlink()
    problems = layout_problems(ninth_question, [*NUMBERS, 9])
    assert any(p.startswith("page questions/qN.qmd: found [1, 2") for p in problems), problems


# --- published text ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_no_published_text_keeps_a_placeholder(demo_snapshot, demo_config) -> None:
    """A `{name}` left in a sentence is a string that lost its f prefix (q4's method printed
    `{q4.heavy_min_days}`): no answer, supporting sentence, method or caveat holds a brace."""
    from analysis.report import compute_report

    report = compute_report(demo_config, progress=False, snapshot=demo_snapshot)
    assert sorted(report.results) == list(NUMBERS)
    for number, result in report.results.items():
        texts = {"answer": [result.answer], "supporting": result.supporting}
        texts |= {"method": [result.method], "caveats": result.caveats}
        for field, values in texts.items():
            for text in values:
                assert "{" not in text and "}" not in text, (number, field, text)
