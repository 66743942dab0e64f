"""The eight questions, one module each: `answer(snapshot, config, prepared=None) -> QnResult`.

`QUESTIONS[n]` is the module of question n. Modules are imported on first access, so importing this
package is cheap, never circular (charts import question modules, question modules import nothing from
here), and one broken question module fails only where it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

NUMBERS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)

# Short titles for navigation (site menu, slide, email); each module's TITLE is the full question.
TITLES: dict[int, str] = {
    1: "Most consistent lessons",
    2: "A cohort's outlier lesson",
    3: "Students who hardly use it",
    4: "Suspicious activity",
    5: "Cross-program access",
    6: "What graduates keep reading",
    7: "Least-accessed lessons",
    8: "What else to know",
}


class _LazyModules(Mapping[int, ModuleType]):
    """number -> analysis.questions.qN, imported when first looked up."""

    def __getitem__(self, number: int) -> ModuleType:
        if number not in NUMBERS:
            raise KeyError(number)
        return importlib.import_module(f"{__name__}.q{number}")

    def __iter__(self) -> Iterator[int]:
        return iter(NUMBERS)

    def __len__(self) -> int:
        return len(NUMBERS)

    def __repr__(self) -> str:
        return f"QUESTIONS({', '.join(f'{n}: q{n}' for n in NUMBERS)})"


QUESTIONS: Mapping[int, ModuleType] = _LazyModules()

__all__ = ["NUMBERS", "QUESTIONS", "TITLES"]
