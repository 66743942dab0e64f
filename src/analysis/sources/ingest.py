"""Import an exported log file and a cohorts CSV into the snapshot.

The log is parsed vectorised, in chunks of a few million lines streamed from the (optionally gzipped)
file, so memory stays bounded by the parsed rows rather than the text. Bad rows never abort an import:
they go to the quarantine table with their line number and the reason. The same field validation
(`validate_fields`) is used by the MySQL reader in `analysis.sources.acquire`, so a file and a database holding
the same rows produce the same snapshot.
"""

from __future__ import annotations

import codecs
import gzip
import io
import ipaddress
import json
import re
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import InputError
from analysis.progress import Progress
from analysis.schema import COHORT_SCHEMA, LOG_SCHEMA, QUARANTINE_SCHEMA
from analysis.sources.snapshot import Manifest, read_manifest, verify_snapshot, write_snapshot

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 128 << 20  # about 2.5 million log lines per parsing chunk
FIELD_NAMES: tuple[str, ...] = ("date", "time", "path", "user_id", "cohort_id", "ip")
NULL_TOKENS: tuple[str, ...] = ("", "null", "\\n", "nan", "none")
_SEPARATOR = (
    "\x1f"  # a byte that never occurs in a log line: each line is read as one string column
)

# year 0001-9999 (year 0000 has no datetime in Python: it would break every reader downstream)
_DATE_RE = r"^([1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])-\d{2}-\d{2}$"
_TIME_RE = r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"  # seconds 0-59: a leap second `:60` is quarantined
_ID_RE = r"^\d{1,19}(\.0+)?$"  # "8.0" is how pandas exports an integer column holding NaN
INVALID_UTF8 = "invalid UTF-8"
MAX_IP_LENGTH = 64
BLANK_LINE = "blank line"


# --- reports --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What an import or refresh did, for the command line."""

    source: str  # "file", "demo" or "mysql"
    source_detail: str
    target: Path
    manifest: Manifest
    lines_read: int  # log lines (file) or rows fetched (database)
    rows_imported: int  # valid rows added by this run
    new_rows: int  # rows the snapshot did not hold before
    quarantined: int  # rows rejected by this run (log and cohorts)
    reasons: list[tuple[str, int]] = field(default_factory=list)  # top reasons, most frequent first
    examples: list[str] = field(default_factory=list)  # first quarantined rows, readable
    cohorts: int = 0
    elapsed: float = 0.0
    mode: str = "full"  # "full" or "incremental"
    blank_lines: int = 0  # of the quarantined lines, how many were blank
    notes: tuple[str, ...] = ()  # what else the run did (reconciliation, recovery), one line each

    @property
    def simulated(self) -> bool:
        return self.manifest.simulated

    def describe(self) -> str:
        m = self.manifest
        lines = []
        if m.simulated:
            lines.append("SIMULATED DATA: not the real log (see the source detail below)")
        lines.append(f"source: {self.source} ({self.mode}) - {self.source_detail}")
        unit = "rows" if self.source == "mysql" else "lines"
        lines.append(
            f"read {self.lines_read:,} {unit} in {self.elapsed:.1f}s: imported {self.rows_imported:,}, "
            f"new {self.new_rows:,}, quarantined {self.quarantined:,}"
            + (f" (of them {self.blank_lines:,} blank)" if self.blank_lines else "")
        )
        lines.extend(self.notes)
        if self.reasons:
            top = ", ".join(f"{reason} ({count:,})" for reason, count in self.reasons)
            lines.append(f"quarantine reasons: {top}")
        lines.extend(f"  quarantined: {example}" for example in self.examples)
        lines.append(
            f"snapshot: {m.rows:,} rows, {m.users:,} users, {m.ips:,} IPs, {m.cohorts} cohorts, "
            f"{m.quarantined_rows:,} quarantined in all"
        )
        lines.append(f"time range: {m.first_seen} .. {m.last_seen}")
        lines.append(f"snapshot path: {self.target}")
        return "\n".join(lines)


def summarize_quarantine(quarantine: pl.DataFrame, *, top: int = 5) -> tuple[list, list[str]]:
    """Top reasons with counts and the first few rejected rows, as text for reports."""
    if quarantine.height == 0:
        return [], []
    reasons = (
        quarantine.group_by("reason")
        .agg(pl.len().alias("count"))
        .sort(["count", "reason"], descending=[True, False])
        .head(top)
    )
    examples = [
        f"{row['source']}:{row['line'] if row['line'] is not None else row['key']} "
        f"{row['raw'][:80]!r} ({row['reason']})"
        for row in quarantine.head(3).iter_rows(named=True)
    ]
    return [(r, int(c)) for r, c in reasons.iter_rows()], examples


def describe_snapshot(target: Path, *, deep: bool = False) -> str:
    """What the snapshot holds (the `summary` command), after checking every file's checksum (and with
    `deep`, decoding every file and checking its row count) against the manifest."""
    target = Path(target)
    m = read_manifest(target)
    verify_snapshot(target, m, deep=deep)
    lines = []
    if m.simulated:
        lines.append("SIMULATED DATA: not the real log")
    lines.append(f"snapshot: {target}")
    lines.append(f"source: {m.source} - {m.source_detail}")
    lines.append(f"rows: {m.rows:,}; users: {m.users:,}; IPs: {m.ips:,}; cohorts: {m.cohorts}")
    lines.append(f"time range: {m.first_seen} .. {m.last_seen}")
    lines.append(f"quarantined rows: {m.quarantined_rows:,}")
    quarantine_path = target / "quarantine.parquet"
    if m.quarantined_rows and quarantine_path.exists():
        reasons, _ = summarize_quarantine(pl.read_parquet(quarantine_path))
        lines.append("  " + ", ".join(f"{reason} ({count:,})" for reason, count in reasons))
    lines.append(f"log parts: {sum(1 for f in m.files if f.startswith('logs/'))}")
    lines.append(f"digest: {m.logs_digest}; built {m.built_at}")
    return "\n".join(lines)


# --- validation shared with acquire ---------------------------------------------------------------------


def _is_null_token(column: str) -> pl.Expr:
    return pl.col(column).is_null() | pl.col(column).str.to_lowercase().is_in(NULL_TOKENS)


def _as_id(column: str) -> pl.Expr:
    """Digits (optionally with a `.0` suffix) to Int64 (the full range, up to 2^63-1); else null."""
    return (
        pl.when(pl.col(column).str.contains(_ID_RE))
        .then(pl.col(column).str.replace(r"\.0+$", "").cast(pl.Int64, strict=False))
        .otherwise(None)
    )


def _id_reason(column: str) -> pl.Expr:
    """ "non-numeric X", or "X out of range" for digits beyond Int64."""
    return (
        pl.when(pl.col(column).str.contains(_ID_RE))
        .then(pl.lit(f"{column} out of range"))
        .otherwise(pl.lit(f"non-numeric {column}"))
    )


def _canonical_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def canonical_ips(ips: pl.Series) -> pl.DataFrame:
    """Distinct raw IP texts -> `ip_canonical` (ipaddress's canonical form, null when not an address).

    Python's `ipaddress` is the judge (every IPv4 and IPv6 form it accepts, nothing else); it runs once
    per distinct value, which the caller joins back to its rows.
    """
    distinct = (
        ips.to_frame("ip")
        .lazy()
        .filter(pl.col("ip").str.len_chars() <= MAX_IP_LENGTH)
        .unique()
        .collect()["ip"]
    )
    canonical = [_canonical_ip(text) for text in distinct.to_list()]  # once per distinct value
    return pl.DataFrame(
        {"ip": distinct, "ip_canonical": pl.Series(canonical, dtype=pl.String)},
        schema={"ip": pl.String, "ip_canonical": pl.String},
    )


def validate_fields(fields: pl.DataFrame, *, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split parsed rows into valid log rows (LOG_SCHEMA) and quarantine rows (QUARANTINE_SCHEMA).

    `fields` holds the six text fields (`date`, `time`, `path`, `user_id`, `cohort_id`, `ip`, nullable
    strings) plus `nfields` (field count, UInt32 or null when not applicable), `line` (Int64, null for
    database rows), `key` (String, null for file rows), `raw` (the row as text) and optionally
    `invalid_utf8` (the line's bytes were not UTF-8; `raw` then shows them as `\\xNN` escapes).
    """
    if "invalid_utf8" not in fields.columns:
        fields = fields.with_columns(pl.lit(False).alias("invalid_utf8"))
    timestamp = (
        pl.when(
            pl.col("date").str.contains(_DATE_RE).fill_null(False)
            & pl.col("time").str.contains(_TIME_RE).fill_null(False)
        )
        .then(
            pl.concat_str([pl.col("date"), pl.col("time")], separator=" ").str.strptime(
                pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False
            )
        )
        .otherwise(None)
    )
    checked = (
        fields.join(canonical_ips(fields["ip"]), on="ip", how="left", maintain_order="left")
        .with_columns(
            timestamp.alias("timestamp"),
            _as_id("user_id").alias("user_id_int"),
            pl.when(_is_null_token("cohort_id"))
            .then(pl.lit(None, dtype=pl.Int64))
            .otherwise(_as_id("cohort_id"))
            .alias("cohort_id_int"),
        )
        .with_columns(
            pl.when(pl.col("raw").str.strip_chars().fill_null("") == "")
            .then(pl.lit(BLANK_LINE))
            .when(pl.col("invalid_utf8"))
            .then(pl.lit(INVALID_UTF8))
            .when(pl.col("nfields").is_not_null() & (pl.col("nfields") != len(FIELD_NAMES)))
            .then(pl.format("expected 6 fields, got {}", pl.col("nfields")))
            .when(pl.col("timestamp").is_null())
            .then(pl.lit("bad date"))
            .when(pl.col("user_id").is_null() | (pl.col("user_id") == ""))
            .then(pl.lit("missing user_id"))
            .when(pl.col("user_id_int").is_null())
            .then(_id_reason("user_id"))
            .when(~_is_null_token("cohort_id") & pl.col("cohort_id_int").is_null())
            .then(_id_reason("cohort_id"))
            .when(pl.col("ip_canonical").is_null())
            .then(pl.lit("invalid ip"))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias("reason")
        )
    )
    logs = checked.filter(pl.col("reason").is_null()).select(
        pl.col("timestamp"),
        pl.when(pl.col("path") == "").then(None).otherwise(pl.col("path")).alias("path"),
        pl.col("user_id_int").alias("user_id"),
        pl.col("cohort_id_int").alias("cohort_id"),
        pl.col("ip_canonical").alias("ip"),
    )
    quarantine = checked.filter(pl.col("reason").is_not_null()).select(
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.col("line").cast(pl.Int64),
        pl.col("key").cast(pl.String),
        pl.col("raw").cast(pl.String),
        pl.col("reason"),
    )
    return logs, quarantine


# --- the log file ---------------------------------------------------------------------------------------


_bad_bytes = threading.local()  # byte offsets of invalid UTF-8 seen by the decoder (per thread)


def _escape_invalid(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: keep the raw bytes as `\\xNN` text and note where they were."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _bad_bytes.offsets.append(error.start)
    return "".join(f"\\x{byte:02x}" for byte in error.object[error.start : error.end]), error.end


codecs.register_error("curriculum-insights-escape", _escape_invalid)


def _decode_lines(chunk: bytes) -> tuple[bytes, np.ndarray]:
    """(`chunk` as valid UTF-8, indexes of its lines that were not): invalid bytes become `\\xNN`."""
    try:
        chunk.decode("utf-8")
        return chunk, np.empty(0, dtype=np.int64)
    except UnicodeDecodeError:
        pass
    _bad_bytes.offsets = []
    text = chunk.decode("utf-8", errors="curriculum-insights-escape")
    offsets = np.asarray(_bad_bytes.offsets, dtype=np.int64)
    newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == ord("\n"))
    return text.encode("utf-8"), np.unique(np.searchsorted(newlines, offsets))


def _lines_frame(chunk: bytes) -> pl.DataFrame:
    """Column `raw` (one row per line of `chunk`, which holds whole lines, no final newline) and
    `invalid_utf8` (the line held bytes that are not UTF-8; `raw` keeps them as `\\xNN` escapes)."""
    chunk, invalid = _decode_lines(chunk)
    if _SEPARATOR.encode() in chunk:
        frame = pl.DataFrame({"raw": chunk.decode("utf-8").split("\n")}, schema={"raw": pl.String})
    else:
        frame = pl.read_csv(
            io.BytesIO(chunk + b"\n"),
            has_header=False,
            separator=_SEPARATOR,
            quote_char=None,
            new_columns=["raw"],
            schema={"raw": pl.String},
            encoding="utf8",
            raise_if_empty=False,
        )
        expected = chunk.count(b"\n") + 1
        if (
            frame.height != expected
        ):  # the fast reader disagreed on line breaks: take the exact path
            lines = chunk.decode("utf-8").split("\n")
            frame = pl.DataFrame({"raw": lines}, schema={"raw": pl.String})
    mask = np.zeros(frame.height, dtype=bool)
    mask[invalid[invalid < frame.height]] = True
    return frame.select(pl.col("raw").fill_null(""), pl.Series("invalid_utf8", mask))


def parse_lines(
    lines: pl.DataFrame, *, first_line: int, source: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a frame of raw log lines (column `raw`) numbered from `first_line`."""
    if "invalid_utf8" not in lines.columns:
        lines = lines.with_columns(pl.lit(False).alias("invalid_utf8"))
    parts = lines.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_line).alias("line"),
        pl.col("raw").str.strip_suffix("\r").alias("raw"),
        pl.col("invalid_utf8"),
    ).with_columns(pl.col("raw").str.split(" ").alias("fields"))
    fields = parts.select(
        pl.col("line"),
        pl.lit(None, dtype=pl.String).alias("key"),
        pl.col("raw"),
        pl.col("invalid_utf8"),
        pl.col("fields").list.len().alias("nfields"),
        *[
            pl.col("fields").list.get(index, null_on_oob=True).alias(name)
            for index, name in enumerate(FIELD_NAMES)
        ],
    )
    return validate_fields(fields, source=source)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _chunks(path: Path, chunk_bytes: int, progress: Progress) -> Iterator[bytes]:
    """Whole-line chunks of the (decompressed) file, without their final newline."""
    with path.open("rb") as raw:
        handle = gzip.GzipFile(fileobj=raw, mode="rb") if _is_gzip(path) else raw
        rest = b""
        reported = 0
        while True:
            block = handle.read(chunk_bytes)
            position = raw.tell()
            progress.advance(position - reported)
            reported = position
            if not block:
                break
            data = rest + block if rest else block
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1 :]
            yield data[:cut]
        if rest:
            yield rest


class LogFileReader:
    """Parse a log file chunk by chunk: iterate for the valid rows of each chunk (LOG_SCHEMA); once
    exhausted, `quarantine()` and `lines_read` describe the whole file. An import hands the chunks
    straight to `write_snapshot`, so memory is bounded by one chunk, not by the log."""

    def __init__(
        self, path: Path, *, progress: bool = True, chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: log file not found")
        self.progress = progress
        self.chunk_bytes = chunk_bytes
        self.lines_read = 0
        self.rows = 0
        self._quarantine: list[pl.DataFrame] = []
        self._done = False

    def __iter__(self) -> Iterator[pl.DataFrame]:
        path = self.path
        next_line = 1
        try:
            total_bytes = max(1, path.stat().st_size)
            with Progress(
                f"reading {path.name}", total_bytes, unit="bytes", enabled=self.progress
            ) as bar:
                for chunk in _chunks(path, self.chunk_bytes, bar):
                    lines = _lines_frame(chunk)
                    del chunk
                    valid, rejected = parse_lines(lines, first_line=next_line, source=path.name)
                    next_line += lines.height
                    self.lines_read = next_line - 1
                    self.rows += valid.height
                    self._quarantine.append(rejected)
                    del lines
                    yield valid
        except (OSError, EOFError, zlib.error) as exc:
            kind = (
                "corrupt or truncated gzip"
                if isinstance(exc, EOFError | zlib.error)
                else "unreadable"
            )
            if isinstance(exc, gzip.BadGzipFile):
                kind = "corrupt gzip"
            raise InputError(f"{path}: {kind} ({exc})") from exc
        self._done = True
        if self.rows == 0:
            raise InputError(
                f"{path}: no valid log rows ({self.lines_read:,} lines, "
                f"{self.quarantine().height:,} rejected; "
                "expected `date time path user_id cohort_id ip`)"
            )

    def quarantine(self) -> pl.DataFrame:
        """Rejected lines of the whole file, blank lines included (valid + quarantined == lines read)."""
        if not self._quarantine:
            return pl.DataFrame(schema=QUARANTINE_SCHEMA)
        return pl.concat(self._quarantine)


def read_log_file(
    path: Path, *, progress: bool = True, chunk_bytes: int = CHUNK_BYTES
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Parse a log file into (valid rows, quarantine, lines read). Raises InputError if unreadable.

    Holds every row in memory; an import streams the chunks instead (LogFileReader)."""
    reader = LogFileReader(path, progress=progress, chunk_bytes=chunk_bytes)
    logs = list(reader)
    all_logs = pl.concat(logs) if logs else pl.DataFrame(schema=LOG_SCHEMA)
    return all_logs, reader.quarantine(), reader.lines_read


# --- the cohorts table ----------------------------------------------------------------------------------


def validate_cohorts(
    raw: pl.DataFrame, *, source: str, first_line: int | None = 2, key_prefix: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Type a cohorts table read as text (all COHORT_SCHEMA columns, strings) and quarantine bad rows.

    `first_line` numbers rows for a CSV (header on line 1); `key_prefix` names database rows instead.
    An optional `_nfields` column (fields on the CSV line) quarantines rows with the wrong count; a
    cohort ending before it starts is quarantined too (and so reported), never silently kept.
    """
    names = list(COHORT_SCHEMA)
    nfields = raw["_nfields"] if "_nfields" in raw.columns else None
    invalid = raw["_invalid_utf8"] if "_invalid_utf8" in raw.columns else None
    raw_line = raw["_raw_line"] if "_raw_line" in raw.columns else None
    text = raw.select(
        pl.when(_is_null_token(name))
        .then(None)
        .otherwise(pl.col(name).str.strip_chars())
        .alias(name)
        for name in names
    )

    def date(column: str) -> pl.Expr:
        return pl.col(column).str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)

    def stamp(column: str) -> pl.Expr:
        return pl.coalesce(
            pl.col(column).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False),
            pl.col(column).str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False),
            pl.col(column).str.strptime(pl.Datetime("us"), "%Y-%m-%d", strict=False),
        )

    typed = text.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + (first_line or 0)).alias("_line"),
        pl.concat_str([pl.col(name).fill_null("NULL") for name in names], separator=",").alias(
            "_raw"
        ),
        _as_id("id").alias("_id"),
        _as_id("program_id").alias("_program_id"),
        date("start_date").alias("_start_date"),
        date("end_date").alias("_end_date"),
        *[stamp(name).alias(f"_{name}") for name in ("created_at", "updated_at", "deleted_at")],
    ).with_columns(
        pl.int_range(pl.len()).over("_id").alias("_occurrence"),
        (
            pl.Series("_nfields", nfields, dtype=pl.Int64)
            if nfields is not None
            else pl.lit(None, dtype=pl.Int64).alias("_nfields")
        ),
        (
            pl.Series("_invalid_utf8", invalid, dtype=pl.Boolean)
            if invalid is not None
            else pl.lit(False).alias("_invalid_utf8")
        ),
        (
            pl.Series("_raw_line", raw_line, dtype=pl.String)
            if raw_line is not None
            else pl.lit(None, dtype=pl.String).alias("_raw_line")
        ),
    )
    reason: Any = pl.when(
        pl.col("_nfields").is_not_null() & (pl.col("_nfields") != len(names))
    ).then(pl.format(f"expected {len(names)} fields, got {{}}", pl.col("_nfields")))
    reason = reason.when(pl.col("_invalid_utf8")).then(pl.lit(INVALID_UTF8))
    reason = reason.when(pl.col("_id").is_null()).then(pl.lit("non-numeric id"))
    reason = reason.when(pl.col("_occurrence") > 0).then(pl.lit("duplicate id"))
    for name in ("program_id", "start_date", "end_date", "created_at", "updated_at", "deleted_at"):
        reason = reason.when(pl.col(name).is_not_null() & pl.col(f"_{name}").is_null()).then(
            pl.lit(f"bad {name}")
        )
    reason = reason.when(pl.col("_end_date") < pl.col("_start_date")).then(
        pl.lit("end_date before start_date")
    )
    checked = typed.with_columns(reason.otherwise(pl.lit(None, dtype=pl.String)).alias("_reason"))
    cohorts = checked.filter(pl.col("_reason").is_null()).select(
        pl.col("_id").alias("id"),
        pl.col("name"),
        pl.col("slack"),
        *[pl.col(f"_{name}").alias(name) for name in names[3:]],
    )
    quarantine = checked.filter(pl.col("_reason").is_not_null()).select(
        pl.lit(source, dtype=pl.String).alias("source"),
        (pl.col("_line") if first_line is not None else pl.lit(None, dtype=pl.Int64)).alias("line"),
        (
            pl.format(f"{key_prefix} id {{}}", pl.col("id").fill_null("NULL"))
            if key_prefix
            else pl.lit(None, dtype=pl.String)
        ).alias("key"),
        pl.coalesce(pl.col("_raw_line"), pl.col("_raw")).alias("raw"),
        pl.col("_reason").alias("reason"),
    )
    return cohorts.sort("id"), quarantine


def read_cohorts_file(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cohorts CSV as exported (literal NULLs, quoted timestamps) -> typed cohorts + quarantine."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: cohorts file not found")
    try:
        raw = pl.read_csv(
            path,
            infer_schema=False,
            quote_char='"',
            encoding="utf8-lossy",
            raise_if_empty=True,
            truncate_ragged_lines=True,
        )
        data = path.read_bytes()
        counts = _csv_field_counts(data)
    except (pl.exceptions.PolarsError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: unreadable cohorts CSV ({message})") from exc
    missing = [name for name in COHORT_SCHEMA if name not in raw.columns]
    if missing:
        raise InputError(f"{path}: cohorts CSV lacks columns {', '.join(missing)}")
    if len(raw.columns) != len(COHORT_SCHEMA):
        raise InputError(
            f"{path}: cohorts CSV has {len(raw.columns)} columns, expected {len(COHORT_SCHEMA)} "
            f"({', '.join(COHORT_SCHEMA)})"
        )
    if raw.height == 0:
        raise InputError(f"{path}: the cohorts CSV has a header but no rows (no cohorts)")
    selected = raw.select(list(COHORT_SCHEMA))
    if counts.len() == raw.height:  # one physical line per row (no line breaks inside quotes)
        selected = selected.with_columns(counts.alias("_nfields"))
    invalid, shown = _invalid_utf8_lines(data)
    if invalid:
        if counts.len() == raw.height:
            flags = pl.Series("_invalid_utf8", [i in invalid for i in range(raw.height)])
            lines = pl.Series("_raw_line", [shown.get(i) for i in range(raw.height)], pl.String)
        else:  # rows span lines: the decoder's replacement character marks the damaged rows
            flags = raw.select(
                pl.any_horizontal(pl.all().str.contains("\ufffd", literal=True).fill_null(False))
            ).to_series()
            lines = pl.Series("_raw_line", [None] * raw.height, pl.String)
        selected = selected.with_columns(flags.alias("_invalid_utf8"), lines)
    cohorts, quarantine = validate_cohorts(selected, source=path.name)
    if cohorts.height == 0:
        reasons = ", ".join(f"{r} ({n})" for r, n in summarize_quarantine(quarantine)[0])
        raise InputError(f"{path}: no valid cohorts ({raw.height} rows rejected: {reasons})")
    return cohorts, quarantine


def _invalid_utf8_lines(data: bytes) -> tuple[set[int], dict[int, str]]:
    """Data lines (0-based, blank lines and the header skipped, as _csv_field_counts counts them) that
    are not valid UTF-8, and each one's text with the bad bytes shown as \\xNN escapes."""
    try:
        data.decode("utf-8")
        return set(), {}
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="surrogateescape")
    lines = [line for line in text.splitlines() if line.strip() != ""][1:]
    bad = re.compile("[\udc80-\udcff]")
    invalid = {i for i, line in enumerate(lines) if bad.search(line)}
    shown = {
        i: lines[i].encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        for i in invalid
    }
    return invalid, shown


def _csv_field_counts(data: bytes) -> pl.Series:
    """Fields on each non-blank data line of a CSV (header excluded): commas outside quotes + 1."""
    lines = pl.Series("line", data.decode("utf-8", errors="replace").splitlines(), pl.String)
    return (
        lines.to_frame()
        .filter(pl.col("line").str.strip_chars() != "")
        .select(
            (pl.col("line").str.replace_all(r'"[^"]*"', "").str.count_matches(",") + 1)
            .cast(pl.Int64)
            .alias("_nfields")
        )
        .slice(1)["_nfields"]
    )


# --- entry points ---------------------------------------------------------------------------------------


def detect_simulated(logs: Path) -> tuple[bool, str]:
    """(simulated?, note) from `simulation.json` beside the log file, written by the simulator."""
    marker = Path(logs).parent / "simulation.json"
    if not marker.is_file():
        return False, ""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False, ""
    if not isinstance(data, dict) or not data.get("simulated", True):
        return False, ""
    seed = data.get("seed")
    return True, f"simulated (seed {seed})" if seed is not None else "simulated"


def _import(
    logs: Path,
    cohorts: Path,
    target: Path,
    *,
    source: str,
    simulated: bool | None,
    progress: bool,
    chunk_bytes: int = CHUNK_BYTES,
) -> ImportReport:
    started = time.monotonic()
    logs, cohorts, target = Path(logs), Path(cohorts), Path(target)
    if not logs.is_file():
        raise InputError(f"{logs}: log file not found")
    cohort_frame, cohort_quarantine = read_cohorts_file(cohorts)
    reader = LogFileReader(logs, progress=progress, chunk_bytes=chunk_bytes)
    detected, note = detect_simulated(logs)
    if simulated is None:
        simulated = detected
    detail = f"logs {logs}, cohorts {cohorts}"
    if simulated:
        detail += f"; {note or 'simulated'}"
    quarantined: list[pl.DataFrame] = []

    def all_quarantine() -> pl.DataFrame:  # called by write_snapshot once the log is consumed
        quarantined.append(pl.concat([reader.quarantine(), cohort_quarantine]))
        return quarantined[0]

    # Each parsed chunk becomes its own Parquet part: memory is bounded by a chunk, not the log.
    manifest = write_snapshot(
        target,
        reader,
        cohort_frame,
        all_quarantine,
        source=source,
        simulated=simulated,
        source_detail=detail,
    )
    quarantine = quarantined[0]
    lines_read = reader.lines_read
    reasons, examples = summarize_quarantine(quarantine)
    return ImportReport(
        source=source,
        source_detail=detail,
        target=target,
        manifest=manifest,
        lines_read=lines_read,
        rows_imported=reader.rows,
        new_rows=reader.rows,
        quarantined=quarantine.height,
        reasons=reasons,
        examples=examples,
        cohorts=cohort_frame.height,
        elapsed=time.monotonic() - started,
        blank_lines=quarantine.filter(pl.col("reason") == BLANK_LINE).height,
    )


def import_files(
    logs: Path,
    cohorts: Path,
    target: Path,
    *,
    simulated: bool | None = None,
    progress: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> ImportReport:
    """Rebuild the snapshot at `target` from an exported log file (.gz or text) and a cohorts CSV.

    `simulated=None` detects the flag from `simulation.json` beside the log file. Each chunk of about
    `chunk_bytes` of text becomes one Parquet part of the snapshot.
    """
    return _import(
        logs,
        cohorts,
        target,
        source="file",
        simulated=simulated,
        progress=progress,
        chunk_bytes=chunk_bytes,
    )


def import_demo(config, progress: bool = True) -> ImportReport:
    """Rebuild the snapshot from the embedded (simulated) demo dataset."""
    demo = config.paths.demo_dir
    return _import(
        demo / "logs.txt.gz",
        demo / "cohorts.csv",
        config.paths.snapshot_dir,
        source="demo",
        simulated=True,
        progress=progress,
    )
