"""requirements.txt (the design card's name for the install list) is the runtime lock: pip reads
requirements/runtime.txt through it, hashes and all, so `pip install -r requirements.txt` installs exactly
what the build needs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+")


def _lines(path: Path) -> list[str]:
    """Requirement lines without comments, continuation lines joined."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line:
            out.append(" ".join(line.split()))
    return out


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]).lower()


def test_requirements_txt_is_the_runtime_lock() -> None:
    assert _lines(ROOT / "requirements.txt") == ["-r requirements/runtime.txt"]


def test_the_runtime_lock_pins_and_hashes_every_package_the_project_declares() -> None:
    lock = _lines(ROOT / "requirements" / "runtime.txt")
    assert lock
    pinned = {}
    for line in lock:
        match = _PIN.match(line)
        assert match, f"not pinned: {line}"
        assert "--hash=sha256:" in line, f"no hash: {line}"
        pinned[_name(match.group(1))] = line
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(d) for d in project["dependencies"]}
    assert declared <= set(pinned), sorted(declared - set(pinned))
