"""Leadership's questions, one module each: `answer(snapshot, config, prepared=None) -> QnResult`.

REGISTRY below is the one list of questions: number -> module, one line each. Each module declares,
at its top, what the site, slide and email need to know about it:

    NUMBER = 3                                   # its number (the registry's key)
    TITLE = "Are there students who ...?"        # the full question
    SHORT_TITLE = "Students who hardly use it"   # navigation: site menu, slide, email, progress
    FEEDS = ("page", "slide bullet", "email")    # where its answer goes (FEED_KINDS)
    SLIDE_RANK = 1                               # with "slide bullet": its place among the bullets

Everything else is derived from the registry: the site's page list and navigation, the slide's bullet
order, the tests' parametrisation; `_quarto.yml`, the findings schema's question keys and the files of
each question (`questions/qN.py`, `charts/qN.py`, `questions/qN.qmd`, `tests/test_qN.py`) are checked
against it by tests/test_layout.py. Adding a question: its four files and one line in REGISTRY.

Modules are imported on first access, so importing this package is cheap, never circular (charts
import question modules, question modules import nothing from here), and one broken question module
fails only where it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType

# The questions, in reading order: number -> module. One line per question.
REGISTRY: dict[int, str] = {
    1: "analysis.questions.q1",
    2: "analysis.questions.q2",
    3: "analysis.questions.q3",
    4: "analysis.questions.q4",
    5: "analysis.questions.q5",
    6: "analysis.questions.q6",
    7: "analysis.questions.q7",
    8: "analysis.questions.q8",
}
# What a question's answer can feed: its own page, the slide's lead finding or one of its bullets, the
# email's list of answers.
FEED_KINDS = ("page", "slide lead", "slide bullet", "email")


@dataclass(frozen=True)
class Question:
    """One registered question, as its module declares it."""

    number: int
    module: ModuleType
    title: str
    short_title: str
    feeds: tuple[str, ...]
    slide_rank: int | None

    @property
    def page(self) -> str:
        """Its page, from the project root."""
        return f"questions/q{self.number}.qmd"

    @property
    def chart_module(self) -> str:
        return f"analysis.charts.q{self.number}"

    @property
    def test_file(self) -> str:
        return f"tests/test_q{self.number}.py"


def numbers() -> tuple[int, ...]:
    """The registered question numbers, in order."""
    return tuple(sorted(REGISTRY))


def question(number: int) -> Question:
    """The registered question `number`, read from its module's constants (KeyError: not registered;
    ValueError: the module's declaration does not match the registry)."""
    module = importlib.import_module(REGISTRY[number])
    declared = getattr(module, "NUMBER", None)
    if declared != number:
        raise ValueError(f"{module.__name__}.NUMBER is {declared!r}, registered as {number}")
    feeds = tuple(getattr(module, "FEEDS", ()))
    unknown = sorted(set(feeds) - set(FEED_KINDS))
    if unknown:
        raise ValueError(f"{module.__name__}.FEEDS: unknown {unknown} (known: {FEED_KINDS})")
    rank = getattr(module, "SLIDE_RANK", None)
    if ("slide bullet" in feeds) != (rank is not None):
        raise ValueError(f"{module.__name__}: SLIDE_RANK goes with 'slide bullet' in FEEDS")
    return Question(number, module, module.TITLE, module.SHORT_TITLE, feeds, rank)


def questions() -> list[Question]:
    """Every registered question, in order (imports their modules)."""
    return [question(n) for n in numbers()]


def slide_bullets() -> tuple[int, ...]:
    """The questions whose headlines fill the slide after its lead, most important first."""
    ranked = [q for q in questions() if q.slide_rank is not None]
    return tuple(q.number for q in sorted(ranked, key=lambda q: (q.slide_rank, q.number)))


class _LazyModules(Mapping[int, ModuleType]):
    """number -> analysis.questions.qN, imported when first looked up."""

    def __getitem__(self, number: int) -> ModuleType:
        return importlib.import_module(REGISTRY[number])

    def __iter__(self) -> Iterator[int]:
        return iter(numbers())

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return f"QUESTIONS({', '.join(f'{n}: {REGISTRY[n]}' for n in numbers())})"


class _LazyTitles(Mapping[int, str]):
    """number -> the module's SHORT_TITLE (navigation: site menu, slide, email, progress)."""

    def __getitem__(self, number: int) -> str:
        return question(number).short_title

    def __iter__(self) -> Iterator[int]:
        return iter(numbers())

    def __len__(self) -> int:
        return len(REGISTRY)


QUESTIONS: Mapping[int, ModuleType] = _LazyModules()
TITLES: Mapping[int, str] = _LazyTitles()  # derived alias of the modules' SHORT_TITLE
NUMBERS: tuple[int, ...] = numbers()  # derived alias, fixed at import (numbers() is live)

__all__ = [
    "FEED_KINDS",
    "NUMBERS",
    "QUESTIONS",
    "REGISTRY",
    "TITLES",
    "Question",
    "numbers",
    "question",
    "questions",
    "slide_bullets",
]
