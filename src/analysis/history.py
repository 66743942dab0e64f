"""The history of published reports: one masked findings document per publishing build.

Every build that publishes (render, after the site is swapped in) writes `<data_dir>/history/
report-<data end>-<build time>-<pid>.json.gz`: the public copy of its findings.json (every IP address
masked by analysis.publish.privacy, as the site shows them; no path of the build machine), with the data's
last day, the build time and the analysis settings (flattened, with their digest). Entries are written
atomically (a hidden temporary file renamed into place) under the history folder's lock, so a crash
leaves no half entry and two concurrent builds each add their own. Retention keeps the `[history] keep`
newest entries. A file that cannot be read as an entry (corrupt, truncated, foreign) is skipped with one
warning line, never a crash.

analysis.changes compares two of these documents; it reads only the JSON, so it works across versions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.config import Config
from analysis.errors import ConfigError, TargetError

FORMAT = "curriculum-insights-history"
FORMAT_VERSION = 1
FOLDER = "history"
SUFFIX = ".json.gz"
_NAME = re.compile(r"report-(\d{4}-\d\d-\d\d)-(\d{8}T\d{6}Z)-\d+(?:-\d+)?\.json\.gz")
_NOT_AN_ENTRY = "not a history entry (unexpected file name)"
# Sections of the configuration that do not change the answers (see report.analysis_key).
_NOT_ANALYSIS = ("paths", "site", "privacy", "history", "acquire", "db_url", "source_file")

Warn = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Entry:
    """One stored report: when its data ends, when it was built, its settings and its findings."""

    path: Path
    data_end: dt.date
    built_at: str  # ISO timestamp (UTC) of the build
    settings_digest: str
    settings: dict[str, Any]
    findings: dict[str, Any]  # the masked findings.json document

    @property
    def built_date(self) -> str:
        return self.built_at[:10]


def history_dir(config: Config) -> Path:
    return config.paths.data_dir / FOLDER


# --- what an entry holds --------------------------------------------------------------------------------


def analysis_settings(config: Config) -> dict[str, Any]:
    """Every setting the answers depend on, flattened to "section.name" -> JSON value, as published:
    addresses among them (the campus IPs) masked like the site shows them."""
    from analysis.publish.privacy import mask_value
    from analysis.results import to_jsonable

    flat: dict[str, Any] = {}
    for section in dataclasses.fields(config):
        if section.name in _NOT_ANALYSIS:
            continue
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for item in dataclasses.fields(value):
            flat[f"{section.name}.{item.name}"] = to_jsonable(getattr(value, item.name))
    return mask_value(json.loads(json.dumps(flat, sort_keys=True, default=str)))


def settings_digest(settings: dict[str, Any]) -> str:
    """A short digest of the analysis settings (same settings, same digest)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def public_findings(report: Any) -> dict[str, Any]:
    """The findings document as published: every address masked, no path of the build machine
    (masked once per report: the history entry and the comparison with the last report both read
    it)."""
    from analysis.publish.privacy import mask_value, strip_paths

    def build() -> dict[str, Any]:
        document = mask_value(report.to_json())
        dataset = document.get("dataset") or {}
        for key, value in list(dataset.items()):
            if isinstance(value, str):
                dataset[key] = strip_paths(value)
        return document

    return report.memo_json("public", build)


def data_end(findings: dict[str, Any]) -> dt.date | None:
    """The last day of the data a findings document describes (None when it does not say)."""
    last = (findings.get("dataset") or {}).get("last_seen")
    try:
        return dt.date.fromisoformat(str(last)[:10])
    except ValueError:
        return None


def parse_date(text: str, where: str = "--compare-to") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {text!r}") from exc


# --- writing --------------------------------------------------------------------------------------------


def _stamp(built_at: str) -> str:
    moment = dt.datetime.fromisoformat(built_at.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def entry_document(findings: dict[str, Any], config: Config, built_at: str) -> dict[str, Any]:
    settings = analysis_settings(config)
    end = data_end(findings)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "data_end": end.isoformat() if end else None,
        "built_at": built_at,
        "settings_digest": settings_digest(settings),
        "settings": settings,
        "findings": findings,
    }


def write_entry(
    report: Any, config: Config, built_at: str | None = None, warn: Warn | None = None
) -> Path:
    """Add this report's masked findings to the history (atomically), then apply retention."""
    from analysis.sources.locking import locked

    built_at = built_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    findings = public_findings(report)
    end = data_end(findings)
    if end is None:
        raise TargetError("the report names no last day of data: not added to the history")
    folder = history_dir(config)
    stem = f"report-{end.isoformat()}-{_stamp(built_at)}-{os.getpid()}"
    data = json.dumps(
        entry_document(findings, config, built_at), ensure_ascii=False, allow_nan=False
    )
    target = folder / f"{stem}{SUFFIX}"
    tmp = folder / f".{stem}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder, quiet=True):
            count = 1
            while target.exists():  # this process already kept a report this second
                count += 1
                target = folder / f"{stem}-{count}{SUFFIX}"
            with tmp.open("wb") as handle:
                handle.write(gzip.compress(data.encode("utf-8"), mtime=0))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
            prune(config, warn=warn)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TargetError(
            f"cannot write the history entry {target}: {exc.strerror or exc}"
        ) from exc
    return target


# --- reading --------------------------------------------------------------------------------------------


def read_entry(path: Path) -> Entry:
    """One entry; ValueError (with the reason) when the file is not one."""
    match = _NAME.fullmatch(path.name)
    if match is None:
        raise ValueError(_NOT_AN_ENTRY)
    try:
        document = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a history entry of this tool")
    findings = document.get("findings")
    if not isinstance(findings, dict) or not isinstance(findings.get("questions"), dict):
        raise ValueError("holds no findings")
    try:
        end = dt.date.fromisoformat(str(document.get("data_end")))
    except ValueError as exc:
        raise ValueError("names no last day of data") from exc
    settings = document.get("settings")
    return Entry(
        path=path,
        data_end=end,
        built_at=str(document.get("built_at") or ""),
        settings_digest=str(document.get("settings_digest") or ""),
        settings=settings if isinstance(settings, dict) else {},
        findings=findings,
    )


def _candidates(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TargetError(f"cannot read the history {folder}: {exc.strerror or exc}") from exc


def _entry_files(config: Config, warn: Warn) -> list[tuple[str, str, Path]]:
    """(data end, build stamp, path) of every file named like an entry, by name alone; folders and
    other names skipped, warned."""
    files: list[tuple[str, str, Path]] = []
    for path in _candidates(history_dir(config)):
        match = _NAME.fullmatch(path.name)
        if path.is_dir():
            warn(f"history: skipped {path.name} (a folder, not a report)")
        elif match is None:
            warn(f"history: skipped {path.name}: {_NOT_AN_ENTRY}")
        else:
            files.append((match[1], match[2], path))
    return files


def _by_age(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.data_end, e.built_at, e.path.name))


def load_history(config: Config, warn: Warn | None = None) -> list[Entry]:
    """Every readable entry, oldest first (by data end, then build time); the others skipped, warned."""
    warn = warn or _stderr
    entries: list[Entry] = []
    for _, _, path in _entry_files(config, warn):
        try:
            entries.append(read_entry(path))
        except ValueError as exc:
            warn(f"history: skipped {path.name}: {exc}")
    return _by_age(entries)


def load_latest(config: Config, warn: Warn | None = None) -> list[Entry]:
    """The latest readable build of each data end, oldest first: all that the comparison reads (the
    previous report, the trend's one point per data end, the day the same data was last built). The
    builds are told apart by their file names (data end and build time are in them) and read newest
    first, so a render reads one entry per data end rather than the whole history (a year of
    rebuilds); an unreadable one is warned about and the next older build of that day read instead."""
    warn = warn or _stderr
    days: dict[str, list[tuple[str, str, Path]]] = {}
    for end, stamp, path in _entry_files(config, warn):
        days.setdefault(end, []).append((stamp, path.name, path))
    entries: list[Entry] = []
    for builds in days.values():
        for _, _, path in sorted(builds, reverse=True):  # newest build first (load_history's order)
            try:
                entries.append(read_entry(path))
                break
            except ValueError as exc:
                warn(f"history: skipped {path.name}: {exc}")
    return _by_age(entries)


def previous_entry(
    entries: Iterable[Entry], end: dt.date | None, compare_to: dt.date | None = None
) -> Entry | None:
    """The report to compare with: the latest built one whose data ends on `compare_to` when given,
    else the latest whose data ends before `end`."""
    entries = list(entries)
    if compare_to is not None:
        chosen = [e for e in entries if e.data_end == compare_to]
        if not chosen:
            known = ", ".join(sorted({e.data_end.isoformat() for e in entries})) or "none"
            raise ConfigError(
                f"--compare-to {compare_to}: no stored report has data ending that day "
                f"(stored: {known})"
            )
        return max(chosen, key=lambda e: (e.built_at, e.path.name))
    earlier = [e for e in entries if end is None or e.data_end < end]
    return max(earlier, key=lambda e: (e.data_end, e.built_at, e.path.name)) if earlier else None


def prune(config: Config, warn: Warn | None = None) -> list[Path]:
    """Delete all but the `[history] keep` newest entry files (and temporary files of killed runs).

    Entries are ordered by their file names (data end, then build time: the order of
    `load_history`), so pruning reads no entry: a render does not decompress the whole history (a
    year of weekly reports, about 0.35 s) to delete nothing. A damaged entry is warned about by
    whatever reads it (the comparison, `history`) and ages out like the others."""
    warn = warn or _stderr
    folder = history_dir(config)
    files = sorted(_entry_files(config, warn), key=lambda f: (f[0], f[1], f[2].name))
    doomed = [path for _, _, path in files[: max(0, len(files) - config.history.keep)]]
    try:
        stale = [p for p in folder.glob(".report-*.tmp") if _older_than(p, hours=6)]
    except OSError:
        stale = []
    for path in doomed + stale:
        path.unlink(missing_ok=True)
    return doomed


def _older_than(path: Path, hours: float) -> bool:
    try:
        age = dt.datetime.now().timestamp() - path.stat().st_mtime
    except OSError:
        return False
    return age > hours * 3600


# --- the comparison the pages show ----------------------------------------------------------------------


def changes_for(report: Any, config: Config, warn: Warn | None = None) -> Any:
    """The comparison of this report with the previous one in the history (analysis.changes.Changes),
    with the trends across the history; None when the history is off (`--no-history`)."""
    from analysis import changes

    if not config.history.enabled:
        return None
    current = public_findings(report)
    compare_to = (
        parse_date(config.history.compare_to, "[history] compare_to")
        if config.history.compare_to
        else None
    )
    end = data_end(current)
    entries = load_latest(config, warn=warn)  # the latest build of each data end is all it reads
    previous = previous_entry(entries, end, compare_to)
    settings = analysis_settings(config)
    # the trend: one point per data end (the latest build of it), up to this report
    latest: dict[dt.date, Entry] = {}
    for entry in entries:
        if end is None or entry.data_end < end:
            latest[entry.data_end] = entry
    series = [(e.data_end, e.findings) for e in sorted(latest.values(), key=lambda e: e.data_end)]
    same = [e for e in entries if e.data_end == end] if previous is None else []
    return changes.compare(
        current,
        previous.findings if previous else None,
        current_settings=settings,
        previous_settings=previous.settings if previous else None,
        previous_built=previous.built_date if previous else None,
        history=[*series, (end, current)] if end else series,
        same_data_built=max(e.built_at for e in same)[:10] if same else None,
    )


def record(report: Any, config: Config) -> list[str]:
    """Keep a published report in the history (render calls this after the site is in place); the
    build's notes. A history that cannot be written is a note, not a failed build: the site is out."""
    if not config.history.enabled:
        return []
    notes: list[str] = []  # files skipped while applying retention, one line each
    try:
        path = write_entry(report, config, warn=notes.append)
    except TargetError as exc:
        return [*notes, f"history: not kept ({exc})"]
    return [*notes, f"history: kept as {path.name} (see `curriculum-insights history`)"]


def describe_history(config: Config) -> str:
    """The stored reports as a table for the terminal (`curriculum-insights history`)."""
    entries = load_history(config)
    folder = history_dir(config)
    if not entries:
        return f"no stored report in {folder}"
    lines = [
        f"{len(entries)} stored report(s) in {folder} (keeping the {config.history.keep} newest):",
        f"{'data end':<11} {'built (UTC)':<20} {'high':>5} {'medium':>7} {'low':>5}  settings",
    ]
    for entry in reversed(entries):
        tiers = {
            str(row.get("tier")): row.get("incidents")
            for row in ((entry.findings.get("questions") or {}).get("4") or {}).get("tiers") or []
            if isinstance(row, dict)
        }
        cells = [str(tiers.get(t, "-")) for t in ("high", "medium", "low")]
        lines.append(
            f"{entry.data_end.isoformat():<11} {entry.built_at[:19].replace('T', ' '):<20} "
            f"{cells[0]:>5} {cells[1]:>7} {cells[2]:>5}  {entry.settings_digest or '-'}"
        )
    return "\n".join(lines)
