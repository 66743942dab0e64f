"""Shared by the deliverables: the templates folder, node_modules, and pandoc (documents converted by one
pandoc process: a batch, or a stream fed while the caller works)."""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from analysis.config import PROJECT_ROOT
from analysis.errors import TargetError

TEMPLATES = Path(__file__).resolve().parent / "templates"
NODE_MODULES = PROJECT_ROOT / "node_modules"
PANDOC_MANY = TEMPLATES / "pandoc_many.lua"  # run by `pandoc lua`: converts JSON jobs, one a line
PANDOC_TIMEOUT = 300  # seconds pandoc may take for one document


@functools.cache
def pandoc_binary() -> str:
    """The pandoc of pypandoc-binary (or one on PATH): pypandoc itself runs pandoc three times a
    conversion (two to list its formats), so render calls the binary directly."""
    import pypandoc

    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as exc:
        raise TargetError(f"pandoc not found: {exc} (run `make install`)") from exc


@dataclass(frozen=True)
class PandocJob:
    """One document of a pandoc_many batch: what `pandoc -f markdown -t TO [--standalone
    --template=T] [-V k=v ...] [-M k=v ...] [--toc --toc-depth=2] [--section-divs] [--columns=N]
    [--slide-level=N]` would make."""

    text: str
    to: str = "html"
    template: Path | None = None  # a template makes the output standalone
    variables: dict[str, str] = field(default_factory=dict)
    toc: bool = False
    section_divs: bool = False
    columns: int | None = None  # plain text: wrap at this width (--wrap=auto --columns=N)
    metadata: dict[str, str] = field(default_factory=dict)  # -M key=value (text values)
    slide_level: int | None = None  # slide shows: the heading level that starts a slide
    where: str = ""  # the page, for error messages

    def to_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "to": self.to,
            "template": self.template.read_text(encoding="utf-8") if self.template else None,
            "variables": self.variables,
            "toc": self.toc,
            "section_divs": self.section_divs,
            "columns": self.columns,
            "metadata": self.metadata,
            "slide_level": self.slide_level,
        }


class PandocStream:
    """One `pandoc lua` process converting documents while the caller goes on (one process start for
    a whole batch, as pandoc_many). `add(job)` returns at once with a future of the document; a worker
    thread hands pandoc one job at a time (a JSON line) and reads each document back (a JSON line), so
    the conversions run in pandoc, outside the GIL, beside the caller's Python. `get(future)` waits
    for one document. Leaving the `with` block ends pandoc's input and waits for it."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        self._command = [pandoc_binary(), "lua", str(PANDOC_MANY)]
        self._jobs: queue.SimpleQueue[tuple[PandocJob, Future[str]] | None] = queue.SimpleQueue()
        self._process: subprocess.Popen[bytes] | None = None
        self._worker = threading.Thread(target=self._convert, name="pandoc", daemon=True)
        self._worker.start()

    def __enter__(self) -> PandocStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._jobs.put(None)
        self._worker.join()

    def add(self, job: PandocJob) -> Future[str]:
        """Queue one job; its document (as the pandoc command line writes it) comes in the future."""
        future: Future[str] = Future()
        self._jobs.put((job, future))
        return future

    def get(self, future: Future[str]) -> str:
        """The document of an added job, once pandoc has written it (TargetError when pandoc failed or
        took longer than PANDOC_TIMEOUT)."""
        try:
            return future.result(timeout=PANDOC_TIMEOUT)
        except FutureTimeout as exc:
            if self._process is not None:
                self._process.kill()
            raise TargetError(
                f"{self.where}: pandoc failed (batch): no answer in {PANDOC_TIMEOUT} s"
            ) from exc

    def _convert(self) -> None:
        """The worker: pandoc started, then each job written to it and its document read back, in
        order; after a failure every later job fails the same way. pandoc's error output goes to a
        temporary file (a pipe nobody reads could fill up)."""
        failure: TargetError | None = None
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    self._command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                )
            except OSError as exc:
                process = None
                failure = TargetError(f"{self.where}: pandoc failed (batch): {exc}")
            self._process = process
            while (item := self._jobs.get()) is not None:
                job, future = item
                if process is not None and failure is None:
                    try:
                        document = self._one(process, job)
                    except (OSError, ValueError):
                        failure = self._failure(process, errors, job)
                    else:
                        future.set_result(document)
                        continue
                assert failure is not None  # set when there is no process or it failed
                future.set_exception(failure)
            if process is not None:
                _close_input(process)
                process.wait()

    @staticmethod
    def _one(process: subprocess.Popen[bytes], job: PandocJob) -> str:
        """One job through pandoc (OSError: it is gone; ValueError: it answered no document)."""
        stdin, stdout = process.stdin, process.stdout
        assert stdin is not None and stdout is not None  # both are pipes
        stdin.write(json.dumps(job.to_json(), ensure_ascii=False).encode() + b"\n")
        stdin.flush()
        document = str(json.loads(stdout.readline()))
        # As the pandoc command line, which ends every text output with a newline.
        return document if document.endswith("\n") else f"{document}\n"

    def _failure(
        self, process: subprocess.Popen[bytes], errors: IO[bytes], job: PandocJob
    ) -> TargetError:
        """Why pandoc gave no document for `job` (once it has exited: its error output)."""
        _close_input(process)
        try:
            process.wait(timeout=PANDOC_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.seek(0)
        error = errors.read().decode("utf-8", "replace").strip() or "no document returned"
        return TargetError(f"{job.where or self.where}: pandoc failed ({job.to}): {error}")


def _close_input(process: subprocess.Popen[bytes]) -> None:
    """End a process's input (it may have closed its end already)."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


def pandoc_many(jobs: list[PandocJob], where: str = "") -> list[str]:
    """Every job converted by one `pandoc lua` process (pandoc's own reader, writer and templates,
    options as on the command line), in order: one process start instead of one per document."""
    if not jobs:
        return []
    names = where or ", ".join(dict.fromkeys(job.where for job in jobs if job.where))
    with PandocStream(names) as stream:
        futures = [stream.add(job) for job in jobs]
        return [stream.get(future) for future in futures]
