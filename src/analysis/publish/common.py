"""Shared by the deliverables: the templates folder, node_modules, and pandoc (one call, or many
documents converted by one pandoc process)."""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from analysis.config import PROJECT_ROOT
from analysis.errors import TargetError

TEMPLATES = Path(__file__).resolve().parent / "templates"
NODE_MODULES = PROJECT_ROOT / "node_modules"
PANDOC_MANY = TEMPLATES / "pandoc_many.lua"  # run by `pandoc lua`: converts a JSON list of jobs


@functools.cache
def pandoc_binary() -> str:
    """The pandoc of pypandoc-binary (or one on PATH): pypandoc itself runs pandoc three times a
    conversion (two to list its formats), so render calls the binary directly."""
    import pypandoc

    try:
        return str(pypandoc.get_pandoc_path())
    except OSError as exc:
        raise TargetError(f"pandoc not found: {exc} (run `make install`)") from exc


def _run_pandoc(args: list[str], text: str, to: str, where: str) -> str:
    try:
        result = subprocess.run(
            [pandoc_binary(), *args],
            input=text.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=300,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise TargetError(f"{where}: pandoc failed ({to}): {exc}") from exc
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", "replace").strip()
        raise TargetError(f"{where}: pandoc failed ({to}): {error}")
    return result.stdout.decode("utf-8")


def pandoc(
    text: str,
    to: str,
    extra: list[str],
    outputfile: Path | None = None,
    where: str = "",
    source_format: str = "markdown",
) -> str:
    """One document converted by one pandoc process (`extra`: pandoc's command-line options)."""
    args = ["--from", source_format, "--to", to, *extra]
    if outputfile is not None:
        args += ["--output", str(outputfile)]
    return _run_pandoc(args, text, to, where)


@dataclass(frozen=True)
class PandocJob:
    """One document of a pandoc_many batch: what `pandoc -f markdown -t TO [--standalone
    --template=T] [-V k=v ...] [--toc --toc-depth=2] [--section-divs] [--columns=N]` would make."""

    text: str
    to: str = "html"
    template: Path | None = None  # a template makes the output standalone
    variables: dict[str, str] = field(default_factory=dict)
    toc: bool = False
    section_divs: bool = False
    columns: int | None = None  # plain text: wrap at this width (--wrap=auto --columns=N)
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
        }


def pandoc_many(jobs: list[PandocJob], where: str = "") -> list[str]:
    """Every job converted by one `pandoc lua` process (pandoc's own reader, writer and templates,
    options as on the command line), in order: one process start instead of one per document."""
    if not jobs:
        return []
    payload = json.dumps([job.to_json() for job in jobs], ensure_ascii=False)
    names = where or ", ".join(dict.fromkeys(job.where for job in jobs if job.where))
    out = _run_pandoc(["lua", str(PANDOC_MANY)], payload, "batch", names)
    try:
        results = json.loads(out)
    except json.JSONDecodeError as exc:
        raise TargetError(f"{names}: pandoc returned no readable batch ({exc})") from exc
    if not isinstance(results, list) or len(results) != len(jobs):
        raise TargetError(f"{names}: pandoc converted {len(results)} of {len(jobs)} documents")
    # As the pandoc command line, which ends every text output with a newline.
    return [str(result) if str(result).endswith("\n") else f"{result}\n" for result in results]
