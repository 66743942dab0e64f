"""Shared by the deliverables: the templates folder, node_modules, and one pandoc call."""

from __future__ import annotations

from pathlib import Path

from analysis.config import PROJECT_ROOT
from analysis.errors import TargetError

TEMPLATES = Path(__file__).resolve().parent / "templates"
NODE_MODULES = PROJECT_ROOT / "node_modules"


def pandoc(
    text: str,
    to: str,
    extra: list[str],
    outputfile: Path | None = None,
    where: str = "",
    source_format: str = "markdown",
) -> str:
    import pypandoc

    try:
        return pypandoc.convert_text(
            text,
            to,
            format=source_format,
            extra_args=extra,
            outputfile=str(outputfile) if outputfile else None,
        )
    except (RuntimeError, OSError) as exc:
        raise TargetError(f"{where}: pandoc failed ({to}): {exc}") from exc
