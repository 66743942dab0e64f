"""Refresh the snapshot from the production MySQL database (`curriculum_logs`: tables `logs`, `cohorts`).

Rows are streamed with a server-side cursor in chunks and validated exactly like the exported log file
(`analysis.sources.ingest.validate_fields`), so import and acquire of the same rows give the same snapshot digest.

Incremental refresh: rows at or after the snapshot's last second are fetched; the rows of that boundary
second are compared with the snapshot's as a multiset and only the surplus is kept, so rows that arrived
in the same second as the last refresh are neither lost nor duplicated. The new rows go into one new
Parquet part (older parts are hard-linked); a failure half-way leaves the previous snapshot untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from analysis.errors import ConfigError, SourceError
from analysis.progress import Progress
from analysis.schema import COHORT_SCHEMA, LOG_SCHEMA, QUARANTINE_SCHEMA
from analysis.sources.ingest import (
    FIELD_NAMES,
    ImportReport,
    summarize_quarantine,
    validate_cohorts,
    validate_fields,
)
from analysis.sources.snapshot import read_manifest, write_snapshot

DEFAULT_DATABASE = "curriculum_logs"
LOGS_TABLE = "logs"
COHORTS_TABLE = "cohorts"
CONNECT_TIMEOUT_SECONDS = 10
# The source tables as production has them (columns acquire reads); tests and the benchmark create
# scratch databases with exactly these.
LOGS_DDL = (
    "CREATE TABLE logs (date DATE, time TIME, path VARCHAR(255), user_id INT, "
    "cohort_id INT NULL, ip VARCHAR(64), KEY (date, time))"
)
COHORTS_DDL = (
    "CREATE TABLE cohorts (id INT PRIMARY KEY, name VARCHAR(100), slack VARCHAR(50), "
    "start_date DATE, end_date DATE, created_at TIMESTAMP NULL, updated_at TIMESTAMP NULL, "
    "deleted_at TIMESTAMP NULL, program_id INT)"
)


@dataclass(frozen=True)
class AcquireReport(ImportReport):
    """What a refresh from MySQL did (same fields and describe() as an import)."""


def normalize_url(db_url: str) -> URL:
    """Parse the URL; plain `mysql://` gets the PyMySQL driver, a missing database `curriculum_logs`."""
    try:
        url = make_url(db_url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            "database URL is not a valid SQLAlchemy URL (--db-url / CURRICULUM_DB_URL)"
        ) from exc
    if url.drivername in ("mysql", "mariadb"):
        url = url.set(drivername="mysql+pymysql")
    if not url.database:
        url = url.set(database=DEFAULT_DATABASE)
    return url


def _where(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 3306}"


def _dbapi_message(exc: BaseException, url: URL) -> tuple[int | None, str]:
    """(MySQL error code, one-line message) of a driver error, with any password masked."""
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    message = str(args[1]) if len(args) > 1 else str(orig)
    message = " ".join(message.split())
    if url.password:
        message = message.replace(str(url.password), "***")
    return code, message


def _source_error(exc: BaseException, url: URL, context: str) -> SourceError:
    """Turn a driver error into a one-line SourceError naming host and port, never the password."""
    code, message = _dbapi_message(exc, url)
    where = _where(url)
    if code in (1045, 1044, 1698):
        return SourceError(
            f"access denied to database '{url.database}' at {where} for user '{url.username}' "
            f"(check the user and password in the database URL): {message}"
        )
    if code == 1049:
        return SourceError(f"database '{url.database}' does not exist on the server at {where}")
    if code in (2003, 2005, 2006, 2013) or code is None and "connect" in message.lower():
        return SourceError(f"cannot reach the MySQL server at {where} while {context}: {message}")
    return SourceError(f"MySQL error at {where} ({url.database}) while {context}: {message}")


_DRIVER_ERRORS: tuple[type[BaseException], ...] = (sa.exc.DBAPIError, sa.exc.InterfaceError)
try:  # the driver's own errors can surface outside SQLAlchemy's wrapping (e.g. while streaming)
    import pymysql

    _DRIVER_ERRORS = (*_DRIVER_ERRORS, pymysql.err.Error)
except ImportError:  # pragma: no cover - pymysql is a dependency
    pass


def _check_tables(conn: sa.Connection, url: URL) -> None:
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    missing = [name for name in (LOGS_TABLE, COHORTS_TABLE) if name not in tables]
    if missing:
        raise SourceError(
            f"database '{url.database}' at {_where(url)} lacks table(s) {', '.join(missing)}"
        )
    for table, needed in ((LOGS_TABLE, FIELD_NAMES), (COHORTS_TABLE, tuple(COHORT_SCHEMA))):
        columns = {column["name"] for column in inspector.get_columns(table)}
        lacking = [name for name in needed if name not in columns]
        if lacking:
            raise SourceError(
                f"table '{table}' in database '{url.database}' at {_where(url)} lacks column(s) "
                f"{', '.join(lacking)}"
            )


def _text_select(columns: tuple[str, ...], table: str) -> str:
    """Every column as text, so the database and file paths share one validation."""
    listed = ", ".join(f"CAST(`{name}` AS CHAR) AS `{name}`" for name in columns)
    return f"SELECT {listed} FROM `{table}`"


def _strings(rows: list, columns: tuple[str, ...]) -> pl.DataFrame:
    """Column-wise frame of text values from fetched rows (transposed in C by zip)."""
    schema = {name: pl.String for name in columns}
    if not rows:
        return pl.DataFrame(schema=schema)
    values = list(zip(*rows, strict=True))
    return pl.DataFrame({name: list(values[i]) for i, name in enumerate(columns)}, schema=schema)


def _read_cohorts(conn: sa.Connection) -> tuple[pl.DataFrame, pl.DataFrame]:
    columns = tuple(COHORT_SCHEMA)
    rows = conn.execute(sa.text(_text_select(columns, COHORTS_TABLE))).fetchall()
    return validate_cohorts(
        _strings(rows, columns), source=COHORTS_TABLE, first_line=None, key_prefix="cohorts row"
    )


def _log_fields(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the locator columns validate_fields expects to a chunk of text fields from `logs`."""
    shown = [pl.col(name).fill_null("NULL") for name in FIELD_NAMES]
    return frame.with_columns(
        pl.lit(None, dtype=pl.Int64).alias("line"),
        pl.format("logs row at {} {} user {} ip {}", shown[0], shown[1], shown[3], shown[5]).alias(
            "key"
        ),
        pl.concat_str(shown, separator=" ").alias("raw"),
        pl.lit(None, dtype=pl.UInt32).alias("nfields"),
    )


def _with_occurrence(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Number equal rows 0, 1, 2... so multisets can be compared with joins."""
    if frame.height == 0:
        return frame.with_columns(pl.lit(0, dtype=pl.Int64).alias("_occurrence"))
    return frame.with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over(columns).alias("_occurrence")
    )


def multiset_surplus(new: pl.DataFrame, old: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Rows of `new` beyond those already in `old`, counting duplicates (multiset difference)."""
    kept = _with_occurrence(new, columns).join(
        _with_occurrence(old.select(columns), columns),
        on=[*columns, "_occurrence"],
        how="anti",
        nulls_equal=True,
        maintain_order="left",
    )
    return kept.drop("_occurrence")


def _quiet_close(result: sa.CursorResult | None) -> None:
    """Close a stream after an error. If the server went away, stop PyMySQL from draining the dead
    socket at close (it would print "Exception ignored" tracebacks after our one-line error)."""
    if result is None:
        return
    cursor = getattr(result, "cursor", None)
    pending = getattr(cursor, "_result", None)
    dead = getattr(getattr(cursor, "connection", None), "_rfile", True) is None
    if dead and pending is not None and hasattr(pending, "unbuffered_active"):
        pending.unbuffered_active = False
    with contextlib.suppress(Exception):
        result.close()


def _last_seen(snapshot_dir: Path, url: URL, full: bool) -> dt.datetime | None:
    """The boundary second for an incremental refresh, or None for a full read."""
    if full or not (snapshot_dir / "manifest.json").exists():
        return None
    manifest = read_manifest(snapshot_dir)
    same_source = manifest.source == "mysql" and manifest.source_detail == url.render_as_string(
        hide_password=True
    )
    if not same_source or not manifest.last_seen:
        return None
    return dt.datetime.fromisoformat(manifest.last_seen)


def acquire(
    db_url: str,
    snapshot_dir: Path,
    *,
    full: bool = False,
    chunk_size: int = 50_000,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> AcquireReport:
    """Refresh the snapshot from MySQL; incremental unless `full` or the snapshot came from elsewhere.

    `on_chunk(rows_fetched_so_far)` is called after every chunk (tests use it to kill the connection).
    """
    started = time.monotonic()
    snapshot_dir = Path(snapshot_dir)
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be positive, got {chunk_size}")
    url = normalize_url(db_url)
    shown_url = url.render_as_string(hide_password=True)
    where = _where(url)
    last_seen = _last_seen(snapshot_dir, url, full)
    mode = "incremental" if last_seen is not None else "full"
    engine = sa.create_engine(
        url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}, poolclass=sa.NullPool
    )
    condition, params = "", {}
    if last_seen is not None:
        condition = " WHERE `date` >= :day AND (`date` > :day OR `time` >= :clock)"
        params = {"day": last_seen.date().isoformat(), "clock": last_seen.strftime("%H:%M:%S")}
    logs_parts: list[pl.DataFrame] = []
    quarantine_parts: list[pl.DataFrame] = []
    fetched = 0
    context = "connecting"
    result = None
    try:
        with engine.connect() as conn:
            context = "checking tables"
            _check_tables(conn, url)
            context = "counting rows"
            total = conn.execute(
                sa.text(f"SELECT COUNT(*) FROM `{LOGS_TABLE}`{condition}"), params
            ).scalar_one()
            if last_seen is None and total == 0:
                raise SourceError(f"table '{LOGS_TABLE}' in '{url.database}' at {where} is empty")
            context = "reading cohorts"
            cohorts, cohort_quarantine = _read_cohorts(conn)
            context = "reading logs"
            result = conn.execution_options(stream_results=True, yield_per=chunk_size).execute(
                sa.text(_text_select(FIELD_NAMES, LOGS_TABLE) + condition), params
            )
            label = f"reading logs from {where}"
            with Progress(label, int(total), enabled=progress) as bar:
                for rows in result.partitions(chunk_size):
                    valid, rejected = validate_fields(
                        _log_fields(_strings(rows, FIELD_NAMES)), source=LOGS_TABLE
                    )
                    logs_parts.append(valid)
                    quarantine_parts.append(rejected)
                    fetched += len(rows)
                    bar.advance(len(rows))
                    if on_chunk is not None:
                        on_chunk(fetched)
    except _DRIVER_ERRORS as exc:
        _quiet_close(result)
        if fetched:
            context = f"{context} ({fetched:,} rows read)"
        error = _source_error(exc, url, context)
        raise SourceError(f"{error}; the snapshot was not changed") from exc
    finally:
        engine.dispose()
    logs = pl.concat(logs_parts) if logs_parts else pl.DataFrame(schema=LOG_SCHEMA)
    quarantine = pl.concat(
        [*(quarantine_parts or [pl.DataFrame(schema=QUARANTINE_SCHEMA)]), cohort_quarantine]
    )
    if last_seen is None and logs.height == 0:
        raise SourceError(
            f"table '{LOGS_TABLE}' in '{url.database}' at {where} has no valid rows "
            f"({quarantine.height:,} rejected)"
        )
    fetched_valid = logs.height
    base = None
    simulated = False
    if last_seen is not None:
        base = snapshot_dir
        simulated = read_manifest(snapshot_dir).simulated
        old_boundary = (
            pl.scan_parquet(snapshot_dir / "logs" / "*.parquet")
            .filter(pl.col("timestamp") == last_seen)
            .collect()
        )
        logs = pl.concat(
            [
                logs.filter(pl.col("timestamp") > last_seen),
                multiset_surplus(
                    logs.filter(pl.col("timestamp") == last_seen), old_boundary, list(LOG_SCHEMA)
                ),
            ]
        )
        old_quarantine = pl.read_parquet(snapshot_dir / "quarantine.parquet")
        quarantine = multiset_surplus(quarantine, old_quarantine, list(QUARANTINE_SCHEMA))
    manifest = write_snapshot(
        snapshot_dir,
        logs,
        cohorts,
        quarantine,
        source="mysql",
        simulated=simulated,
        source_detail=shown_url,
        base=base,
    )
    reasons, examples = summarize_quarantine(quarantine)
    return AcquireReport(
        source="mysql",
        source_detail=shown_url,
        target=snapshot_dir,
        manifest=manifest,
        lines_read=fetched,
        rows_imported=fetched_valid,
        new_rows=logs.height,
        quarantined=quarantine.height,
        reasons=reasons,
        examples=examples,
        cohorts=cohorts.height,
        elapsed=time.monotonic() - started,
        mode=mode,
    )
