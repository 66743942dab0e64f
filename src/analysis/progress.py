"""Progress output for long steps, on stderr so stdout stays clean for results.

On a terminal the line is redrawn in place; elsewhere (CI, logs) a line is printed at most every 10 %.
`CURRICULUM_QUIET`-style silencing is done by the CLI passing `enabled=False`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "rows",
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self._last_decile = -1
        self._last_draw = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.finish()
        elif self.enabled and self._tty:
            self.stream.write("\n")  # end the redrawn line; the error message follows on its own
            self.stream.flush()

    def advance(self, amount: int) -> None:
        self.done += amount
        if not self.enabled:
            return
        now = time.monotonic()
        if self._tty:
            if now - self._last_draw >= 0.2:
                self.stream.write("\r" + self._line())
                self.stream.flush()
                self._last_draw = now
        elif self.total:
            decile = min(10, int(10 * self.done / self.total))
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line() + "\n")
                self.stream.flush()

    def _line(self) -> str:
        elapsed = time.monotonic() - self.started
        if self.total:
            share = min(1.0, self.done / self.total)
            return f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({share:.0%}, {elapsed:.1f}s)"
        return f"{self.label}: {self.done:,} {self.unit} ({elapsed:.1f}s)"

    def finish(self) -> None:
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\r" + self._line() + "\n")
        elif not self.total or self._last_decile < 10:
            self.stream.write(self._line() + "\n")
        self.stream.flush()
        self._last_decile = 10


def step(message: str, *, enabled: bool = True) -> None:
    """One line announcing a step of a longer command."""
    if enabled:
        sys.stderr.write(f"-> {message}\n")
        sys.stderr.flush()
