"""Plain words for readers, on the demo snapshot: every answer is one short sentence a board member reads
at a glance (at most 30 words, no statistical jargon), backed by 3-5 supporting bullets; statistics and
thresholds stay in the method; codes get human labels; years are not printed as counts."""

from __future__ import annotations

import re

import polars as pl
import pytest

from analysis.publish.pages import fmt

pytestmark = pytest.mark.slow

MAX_WORDS = 30
# Statistical jargon and notation a reader should not meet in an answer (they belong in the method).
JARGON = {
    "z score": re.compile(r"\bz\b|z-score", re.I),
    "q-value": re.compile(r"\bq\s*[=<>]|q-value", re.I),
    "p-value": re.compile(r"\bp\s*[=<>]|p-value", re.I),
    "%b": re.compile(r"%b\b"),
    "CV": re.compile(r"\bCV\b"),
    "MAD": re.compile(r"\bMAD\b"),
    "plural marker (s)": re.compile(r"\w\(s\)"),
    "robust": re.compile(r"\brobust\b", re.I),
    "gap variation": re.compile(r"gap variation", re.I),
    "band": re.compile(r"\bbands?\b", re.I),
    "Bollinger": re.compile(r"bollinger", re.I),
    "likelihood": re.compile(r"likelihood", re.I),
    "standard deviation": re.compile(r"standard deviation|\bsigma\b|\bstd\b", re.I),
    "interval": re.compile(r"\binterval\b", re.I),
    "percentile or quantile": re.compile(r"percentile|quantile", re.I),
    "median": re.compile(r"\bmedian\b", re.I),
    "scientific notation": re.compile(r"\d(?:\.\d+)?e[-+]?\d", re.I),
    "over-precise number": re.compile(r"\d\.\d\d"),
}
# Supporting bullets may say "median"; they must still avoid notation and test statistics.
BULLET_JARGON = {
    k: JARGON[k]
    for k in (
        "z score",
        "q-value",
        "p-value",
        "%b",
        "CV",
        "MAD",
        "plural marker (s)",
        "gap variation",
        "Bollinger",
        "likelihood",
        "scientific notation",
    )
}
CODE_WORD = re.compile(r"^[a-z]+(?:_[a-z]+)+$")  # snake_case: a code, not a word
QUESTIONS = (1, 2, 3, 4, 5, 6, 7, 8)
PARAMS = [pytest.param(n, id=f"q{n}") for n in QUESTIONS]


@pytest.fixture(scope="module")
def report(demo_snapshot, demo_config):
    from analysis.report import compute_report

    return compute_report(demo_config, progress=False, snapshot=demo_snapshot)


def jargon(text: str, rules: dict[str, re.Pattern[str]] = JARGON) -> list[str]:
    return [name for name, pattern in rules.items() if pattern.search(text)]


def codes(text: str) -> list[str]:
    """snake_case words outside paths (a path such as content/php_ii/objects is data, not a code)."""
    words = [w.strip(".,;:()'\"") for w in text.split()]
    return [w for w in words if "/" not in w and CODE_WORD.match(w)]


def test_the_checks_catch_what_they_are_for() -> None:
    assert jargon("robust z <= -2.5 and %b 9.89, gap variation 0.44") == [
        "z score",
        "%b",
        "robust",
        "gap variation",
        "over-precise number",
    ]
    assert jargon("q = 1.1e-214 from 1 IP(s)") == [
        "q-value",
        "plural marker (s)",
        "scientific notation",
    ]
    assert jargon("javascript-i draws every Java web dev cohort, 98% of 706 graduates") == []
    assert codes("6 heavy_day incidents in data_science (see content/php_ii/objects)") == [
        "heavy_day",
        "data_science",
    ]


@pytest.mark.parametrize("number", PARAMS)
def test_answer_is_one_short_plain_sentence(report, number: int) -> None:
    result = report.results[number]
    answer = result.answer
    assert len(answer.split()) <= MAX_WORDS, (len(answer.split()), answer)
    assert jargon(answer) == [], answer
    assert codes(answer) == [], answer
    assert "`" not in answer
    assert answer.rstrip().endswith((".", "?", "!")) and answer.count(". ") == 0, answer


@pytest.mark.parametrize("number", PARAMS)
def test_three_to_five_plain_supporting_bullets(report, number: int) -> None:
    result = report.results[number]
    assert 3 <= len(result.supporting) <= 5, result.supporting
    for bullet in result.supporting:
        assert jargon(bullet, BULLET_JARGON) == [], bullet
        assert codes(bullet) == [], bullet
        assert "`" not in bullet


@pytest.mark.parametrize("number", PARAMS)
def test_no_raw_backticks_or_codes_anywhere_readers_look(report, number: int) -> None:
    result = report.results[number]
    for text in [result.method, *result.caveats]:
        assert "`" not in text, text
    for title, frame in result.tables().items():
        assert "`" not in title and not codes(title), title
        for column in frame.columns:
            assert not CODE_WORD.match(column), (title, column)
            if "year" in column.lower():  # a year is a label, never "2,018"
                shown = [fmt(v) for v in frame[column].to_list()]
                assert not any(re.fullmatch(r"\d,\d{3}", s) for s in shown), (title, shown)
        labels = [c for c in frame.columns if c.lower() in ("kind", "track", "program", "area")]
        for column in labels:
            values = frame[column].cast(pl.String).to_list()
            assert not [v for v in values if v and CODE_WORD.match(v)], (title, column, values)


# A lesson path as the log writes it (java-iii/user-input, content/php_ii/objects): readers see titles.
RAW_PATH = re.compile(r"(?<![\w/])[a-z0-9_.-]*[a-z][a-z0-9_.-]*/[a-z0-9_./-]+")
LESSON_QUESTIONS = [pytest.param(n, id=f"q{n}") for n in (1, 2, 5, 6, 7)]


@pytest.mark.parametrize("number", LESSON_QUESTIONS)
def test_lessons_are_named_by_title_not_path(report, number: int) -> None:
    """Answers and supporting sentences name lessons by their titles ("Java III > User input"); the
    PHP curriculum's root folder `content` is never a lesson or a topic (issue 17)."""
    result = report.results[number]
    for text in [result.answer, *result.supporting]:
        assert not RAW_PATH.findall(text), text
        assert not re.search(r"\bcontent\b", text, re.I), text


def test_the_path_check_can_fail() -> None:
    assert RAW_PATH.findall("Europa read java-iii/user-input 8.6 times")
    assert not RAW_PATH.findall("Europa read Java III > User input 8.6 times; 1/2 of them")
