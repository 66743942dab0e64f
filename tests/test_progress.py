"""Progress output: a summary line when a step finishes, none when it fails (the error speaks)."""

from __future__ import annotations

import io

import pytest

from analysis.progress import Progress


def test_finished_step_prints_its_total() -> None:
    stream = io.StringIO()
    with Progress("importing", 100, stream=stream) as bar:
        bar.advance(40)
        bar.advance(60)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("importing: 100/100 rows (100%")


def test_failed_step_prints_no_closing_line() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress("importing", 100, stream=stream) as bar:
        bar.advance(5)
        raise RuntimeError("server gone")
    assert "importing: 5/100" in stream.getvalue()  # the 0 % decile line was printed ...
    assert (
        "100%" not in stream.getvalue() and stream.getvalue().count("\n") == 1
    )  # ... and nothing after


def test_disabled_progress_is_silent() -> None:
    stream = io.StringIO()
    with Progress("importing", 10, stream=stream, enabled=False) as bar:
        bar.advance(10)
    assert stream.getvalue() == ""
