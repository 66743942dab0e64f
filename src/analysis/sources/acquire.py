"""Refresh the snapshot from the production MySQL database (`curriculum_logs`: tables `logs`, `cohorts`).

Rows are streamed with a server-side cursor in chunks and validated exactly like the exported log file
(`analysis.sources.ingest.validate_fields`), so import and acquire of the same rows give the same snapshot digest.

Incremental refresh: rows at or after the snapshot's last second are fetched; the rows of that boundary
second are compared with the snapshot's as a multiset and only the surplus is kept, so rows that arrived
in the same second as the last refresh are neither lost nor duplicated. The new rows go into one new
Parquet part (older parts are hard-linked); a failure half-way leaves the previous snapshot untouched.

Reconciliation: after every incremental refresh each day's content digest (row count and the sum of a
per-row hash of every column, `digest_sql`; the same integers computed by polars) is compared between the
database and the snapshot plus its quarantine. Days that differ are re-read: rows only the database has
are added (rows that arrived late, dated before the snapshot's last second; rows with a NULL or
`0000-00-00` date, which go to the quarantine); if the snapshot holds rows the database no longer has
(deleted or edited there), those days' rows are replaced and the snapshot rewritten; more than
MAX_DAYS_REREAD days: the whole table is re-read. The report names each day and why.

The whole refresh holds the data directory's exclusive lock (`analysis.sources.locking`), so two refreshes
at once run one after the other and store each row once. Connect and read timeouts (`[acquire]` in the
configuration) turn a stalled server into one error line instead of a hang.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import ipaddress
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from analysis.sources.locking import locked
from analysis.sources.snapshot import read_manifest, scan_logs, verify_snapshot, write_snapshot

DEFAULT_DATABASE = "curriculum_logs"
LOGS_TABLE = "logs"
COHORTS_TABLE = "cohorts"
CONNECT_TIMEOUT_SECONDS = 10.0  # defaults of [acquire] connect/read_timeout_seconds
READ_TIMEOUT_SECONDS = 300.0
MAX_DAYS_REREAD = 200  # more differing days than this: re-read the whole table instead
# URL query options passed on to PyMySQL; anything else is refused by name before connecting.
URL_OPTIONS = frozenset(
    {
        "charset",
        "ssl_ca",
        "ssl_cert",
        "ssl_key",
        "ssl_check_hostname",
        "ssl_verify_cert",
        "ssl_verify_identity",
        "unix_socket",
    }
)
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
    """Parse and check the URL; plain `mysql://` gets the PyMySQL driver, a missing database
    `curriculum_logs`. Every fault is a ConfigError that never shows the URL (it may hold the password)."""
    where = "database URL (--db-url / CURRICULUM_DB_URL)"
    try:
        url = make_url(db_url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"{where} is not a valid URL like mysql://user:password@host:3306/db"
        ) from exc
    except ValueError as exc:
        raise ConfigError(f"{where}: the port is not a number") from exc
    backend = url.get_backend_name()
    if backend not in ("mysql", "mariadb"):
        raise ConfigError(
            f"{where}: only MySQL/MariaDB is supported (mysql:// or mysql+pymysql://), "
            f"not {backend}://"
        )
    if url.drivername in ("mysql", "mariadb"):
        url = url.set(drivername="mysql+pymysql")
    driver = url.get_driver_name()
    if driver != "pymysql":
        raise ConfigError(f"{where}: driver '{driver}' is not supported; use mysql+pymysql://")
    if db_url.count("@") > 1 or "@" in f"{url.host}{url.username}{url.database}":
        raise ConfigError(
            f"{where} holds more than one '@': percent-encode an '@' in the password as %40 "
            "(the URL is not shown because it holds the password)"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"{where}: port {url.port} is out of range (1-65535)")
    unknown = sorted(set(url.query) - URL_OPTIONS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(URL_OPTIONS))})"
        )
    charset = url.query.get("charset")
    if charset is not None:
        import pymysql.charset

        if not isinstance(charset, str) or pymysql.charset.charset_by_name(charset) is None:
            raise ConfigError(f"{where}: unknown charset {charset!r} (e.g. utf8mb4)")
    if not url.database:
        url = url.set(database=DEFAULT_DATABASE)
    return url


def _where(url: URL) -> str:
    return f"{url.host or 'localhost'}:{url.port or 3306}"


def _dbapi_message(exc: BaseException, url: URL) -> tuple[int | None, str]:
    """(MySQL error code, one-line message) of a driver error, with any password masked."""
    orig = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    message = str(args[1]) if len(args) > 1 else str(orig)
    message = " ".join(message.split())
    return code, mask_secret(message, url)


def mask_secret(text: str, url: URL) -> str:
    """`text` with the URL's password replaced by *** in every spelling (plain, percent-encoded)."""
    from urllib.parse import quote, quote_plus

    secret = str(url.password or "")
    if secret:
        for form in sorted(
            {secret, quote(secret, safe=""), quote_plus(secret)}, key=len, reverse=True
        ):
            text = text.replace(form, "***")
    return text


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
    if code in (2003, 2005, 2006, 2013) or (code is None and "connect" in message.lower()):
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


def _strings(rows: Sequence[Any], columns: tuple[str, ...]) -> pl.DataFrame:
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
    verify_snapshot(snapshot_dir, manifest)  # a damaged part: exit 3, rebuild with --full
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
    wait: bool = True,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> AcquireReport:
    """Refresh the snapshot from MySQL; incremental unless `full` or the snapshot came from elsewhere.

    Holds the data directory's exclusive lock throughout (waits for another writer, or with
    `wait=False` raises LockedError). `on_chunk(rows_fetched_so_far)` is called after every chunk
    (tests use it to kill the connection).
    """
    snapshot_dir = Path(snapshot_dir)
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be positive, got {chunk_size}")
    url = normalize_url(db_url)
    engine = sa.create_engine(
        url,
        connect_args={
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "write_timeout": read_timeout,
        },
        poolclass=sa.NullPool,
    )
    try:
        with locked(snapshot_dir, wait=wait):
            return _Refresh(engine, url, snapshot_dir, chunk_size, progress, on_chunk).run(full)
    finally:
        engine.dispose()


def _driver_error(exc: BaseException, url: URL, context: str, fetched: int = 0) -> SourceError:
    if fetched:
        context = f"{context} ({fetched:,} rows read)"
    error = _source_error(exc, url, context)
    return SourceError(f"{error}; the snapshot was not changed")


_FAULTS: tuple[type[BaseException], ...] = (*_DRIVER_ERRORS, OSError)


def _day_of(raw: pl.Expr) -> pl.Expr:
    """The date text of a database row's `raw` (first field; "NULL" means no date)."""
    day = raw.str.split(" ").list.first()
    return pl.when(day == "NULL").then(None).otherwise(day).alias("day")


def _seconds_of(clock: pl.Expr) -> pl.Expr:
    """Seconds of a TIME text like MySQL's TIME_TO_SEC ("-01:00:00" -> -3600); null if not a time."""
    parts = clock.str.extract_groups(r"^(-?)(\d+):(\d{2}):(\d{2})")
    seconds = (
        parts.struct.field("2").cast(pl.Int64) * 3600
        + parts.struct.field("3").cast(pl.Int64) * 60
        + parts.struct.field("4").cast(pl.Int64)
    )
    return pl.when(parts.struct.field("1") == "-").then(-seconds).otherwise(seconds)


# --- content digest per day (reconciliation) --------------------------------------------------------------
#
# Every row gets a number r in [0, P) from five field codes (all non-negative, 0 for NULL):
#   time     TIME_TO_SEC + 3,100,000 (TIME spans +-838:59:59)
#   path     CRC32 of its UTF-8 bytes (CRC32 of "" is 0, like NULL; in a quarantined row's raw text
#            "NULL" counts as NULL, so a row rejected for another reason whose path or IP is the text
#            "NULL", or whose IP holds a space (the raw text is split at spaces), makes its day differ
#            at every refresh: re-read, nothing changes, the note says so)
#   user id, cohort id   sign(x) * (|x| mod P) + P (MySQL's MOD keeps the dividend's sign)
#   IP       CRC32 of the packed address (4 or 16 bytes), so its spelling does not matter (import keeps
#            the canonical form); text that is not an address: CRC32 of the text
# chained as r = ((r + k) * (code_k + M)) mod P, k = 1..4, starting from the time's code: the products
# make r depend on how the values sit together in a row, so two rows swapping a value change the sum.
# A day's digest is its row count and the sum of r: exact integers (every product < 2^63), independent
# of order. MariaDB/MySQL computes it in one grouped query (digest_sql); the snapshot side computes the
# same numbers with polars, CRC32 running once per distinct path and IP (zlib), never per row.
DIGEST_P = 1_000_000_007  # a prime below 2^30
DIGEST_M = 1_000_003
TIME_OFFSET = 3_100_000


UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8", "ascii"})  # their bytes are UTF-8 already


def _sql_text_crc(column: str, utf8: bool) -> str:
    """CRC32 of the column's UTF-8 bytes (CRC32('') = 0, like NULL); CONVERT only when the column's
    character set is not UTF-8 already (it costs about a quarter of the query)."""
    text = f"`{column}`" if utf8 else f"CONVERT(`{column}` USING utf8mb4)"
    return f"CRC32({text})"


def _sql_row_hash(utf8: frozenset[str] = frozenset({"path", "ip"})) -> str:
    codes = [
        f"COALESCE(TIME_TO_SEC(`time`) + {TIME_OFFSET}, 0)",
        f"COALESCE({_sql_text_crc('path', 'path' in utf8)}, 0)",
        f"COALESCE(MOD(`user_id`, {DIGEST_P}) + {DIGEST_P}, 0)",
        f"COALESCE(MOD(`cohort_id`, {DIGEST_P}) + {DIGEST_P}, 0)",
        f"COALESCE(CRC32(INET6_ATON(`ip`)), {_sql_text_crc('ip', 'ip' in utf8)}, 0)",
    ]
    acc = codes[0]
    for step, code in enumerate(codes[1:], start=1):
        acc = f"MOD(({acc} + {step}) * ({code} + {DIGEST_M}), {DIGEST_P})"
    return acc


def digest_sql(utf8: frozenset[str] = frozenset()) -> str:
    """The per-day digest query; `utf8` names the text columns stored in a UTF-8 character set."""
    return (
        f"SELECT CAST(`date` AS CHAR) AS day, COUNT(*) AS n, "
        f"CAST(SUM({_sql_row_hash(utf8)}) AS SIGNED) AS s FROM `{LOGS_TABLE}` GROUP BY `date`"
    )


def _utf8_columns(conn: sa.Connection) -> frozenset[str]:
    """Text columns of `logs` whose character set is UTF-8 (or ASCII)."""
    rows = conn.execute(
        sa.text(
            "SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"
        ),
        {"table": LOGS_TABLE},
    ).fetchall()
    return frozenset(
        str(name) for name, charset in rows if str(charset or "").lower() in UTF8_CHARSETS
    )


def _text_crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _ip_crc(text: str) -> int:
    if "%" not in text:  # MySQL's INET6_ATON refuses scoped IPv6
        with contextlib.suppress(ValueError):
            return zlib.crc32(ipaddress.ip_address(text).packed)
    return _text_crc(text)


def _crc_code(column: str, values: list[str | None], crc: Callable[[str], int]) -> pl.Expr:
    """The CRC code of a text column, computed once per distinct value (`values`) and mapped back."""
    distinct = [value for value in values if value is not None]
    codes = pl.Series([crc(value) for value in distinct], dtype=pl.Int64)
    return (
        pl.col(column)
        .replace_strict(pl.Series(distinct, dtype=pl.String), codes, default=0)
        .cast(pl.Int64)
        .fill_null(0)
    )


def _id_code(column: str) -> pl.Expr:
    """MySQL's MOD(x, P) + P (the remainder keeps the sign of x); 0 for NULL."""
    value = pl.col(column).cast(pl.Int64)
    return ((value.abs() % DIGEST_P) * value.sign() + DIGEST_P).fill_null(0)


def _day_digests(fields: pl.LazyFrame) -> pl.DataFrame:
    """Per day: rows and the sum of r (see digest_sql) of `fields` (day, seconds, path, user_id,
    cohort_id, ip: day/path/ip text, the others integers or null)."""
    distinct = fields.select(pl.col("path").unique().implode(), pl.col("ip").unique().implode())
    paths, ips = distinct.collect().row(0)
    codes = [
        (pl.col("seconds").cast(pl.Int64) + TIME_OFFSET).fill_null(0),
        _crc_code("path", paths, _text_crc),
        _id_code("user_id"),
        _id_code("cohort_id"),
        _crc_code("ip", ips, _ip_crc),
    ]
    acc = codes[0]
    for step, code in enumerate(codes[1:], start=1):
        acc = ((acc + step) * (code + DIGEST_M)) % DIGEST_P
    return (
        fields.select(pl.col("day"), acc.alias("r"))
        .group_by("day")
        .agg(pl.len().cast(pl.Int64).alias("rows"), pl.col("r").sum().cast(pl.Int64).alias("s"))
        .collect()
    )


def _not_null_text(text: pl.Expr) -> pl.Expr:
    return pl.when(text == "NULL").then(None).otherwise(text)


def _local_days(logs: pl.LazyFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    """The per-day digest (digest_sql) of valid rows plus quarantined database rows."""
    valid = logs.select(
        pl.col("timestamp").dt.date().alias("day"),  # grouped as dates, formatted per day after
        (pl.col("timestamp").dt.epoch("s") % 86_400).alias("seconds"),  # floor: 0..86399
        pl.col("path"),
        pl.col("user_id").cast(pl.Int64),
        pl.col("cohort_id").cast(pl.Int64),
        pl.col("ip"),
    )
    # A database row's raw text is its six fields joined by spaces ("NULL" for NULL): date, time, user,
    # cohort and IP hold no space, so the path is whatever lies between.
    tokens = pl.col("raw").str.split(" ")
    count = tokens.list.len()
    rejected = (
        quarantine.lazy()
        .filter(pl.col("source") == LOGS_TABLE)
        .select(
            _day_of(pl.col("raw")),
            _seconds_of(tokens.list.get(1, null_on_oob=True)).alias("seconds"),
            _not_null_text(tokens.list.slice(2, (count - 5).clip(0)).list.join(" ")).alias("path"),
            tokens.list.get(-3, null_on_oob=True).cast(pl.Int64, strict=False).alias("user_id"),
            tokens.list.get(-2, null_on_oob=True).cast(pl.Int64, strict=False).alias("cohort_id"),
            _not_null_text(tokens.list.get(-1, null_on_oob=True)).alias("ip"),
        )
    )
    days = [_day_digests(valid), _day_digests(rejected)]
    return (
        pl.concat([days[0].with_columns(pl.col("day").cast(pl.String)), days[1]])
        .group_by("day")
        .agg(pl.col("rows").sum(), pl.col("s").sum())
    )


class _Refresh:
    """One refresh under the lock: read (full or incremental), reconcile, write."""

    def __init__(self, engine, url, snapshot_dir, chunk_size, progress, on_chunk) -> None:
        self.engine, self.url, self.snapshot_dir = engine, url, snapshot_dir
        self.chunk_size, self.progress, self.on_chunk = chunk_size, progress, on_chunk
        self.where = _where(url)
        self.shown_url = url.render_as_string(hide_password=True)

    def _read_logs(
        self, conn: sa.Connection, condition: str, params: dict, total: int, label: str
    ) -> tuple[pl.DataFrame, pl.DataFrame, int]:
        """(valid rows, quarantined rows, rows fetched) of `logs` WHERE `condition`."""
        logs_parts: list[pl.DataFrame] = [pl.DataFrame(schema=LOG_SCHEMA)]
        quarantine_parts: list[pl.DataFrame] = [pl.DataFrame(schema=QUARANTINE_SCHEMA)]
        fetched = 0
        result = None
        try:
            result = conn.execution_options(stream_results=True, yield_per=self.chunk_size).execute(
                sa.text(_text_select(FIELD_NAMES, LOGS_TABLE) + condition), params
            )
            with Progress(label, int(total), enabled=self.progress) as bar:
                for rows in result.partitions(self.chunk_size):
                    valid, rejected = validate_fields(
                        _log_fields(_strings(rows, FIELD_NAMES)), source=LOGS_TABLE
                    )
                    logs_parts.append(valid)
                    quarantine_parts.append(rejected)
                    fetched += len(rows)
                    bar.advance(len(rows))
                    if self.on_chunk is not None:
                        self.on_chunk(fetched)
        except _FAULTS as exc:
            _quiet_close(result)
            raise _driver_error(exc, self.url, "reading logs", fetched) from exc
        return pl.concat(logs_parts), pl.concat(quarantine_parts), fetched

    def run(self, full: bool) -> AcquireReport:
        started = time.monotonic()
        url, where, snapshot_dir = self.url, self.where, self.snapshot_dir
        last_seen = _last_seen(snapshot_dir, url, full)
        condition, params = "", {}
        if last_seen is not None:
            condition = " WHERE `date` >= :day AND (`date` > :day OR `time` >= :clock)"
            params = {"day": last_seen.date().isoformat(), "clock": last_seen.strftime("%H:%M:%S")}
        context = "connecting"
        notes: list[str] = []
        replaced = False
        new_rows: int | None = None
        reported: pl.DataFrame | None = (
            None  # the rows newly quarantined, when the whole is rewritten
        )
        try:
            with self.engine.connect() as conn:
                context = "checking tables"
                _check_tables(conn, url)
                context = "counting rows"
                total = conn.execute(
                    sa.text(f"SELECT COUNT(*) FROM `{LOGS_TABLE}`{condition}"), params
                ).scalar_one()
                if last_seen is None and total == 0:
                    raise SourceError(
                        f"table '{LOGS_TABLE}' in '{url.database}' at {where} is empty"
                    )
                context = "reading cohorts"
                cohorts, cohort_quarantine = _read_cohorts(conn)
                if cohorts.height == 0:
                    raise SourceError(
                        f"table '{COHORTS_TABLE}' in '{url.database}' at {where} has no valid "
                        f"cohorts ({cohort_quarantine.height:,} rejected); the snapshot was not changed"
                    )
                context = "reading logs"
                logs, quarantine, fetched = self._read_logs(
                    conn, condition, params, total, f"reading logs from {where}"
                )
                quarantine = pl.concat([quarantine, cohort_quarantine])
                fetched_valid = logs.height
                if last_seen is not None:
                    logs, quarantine = self._new_rows(logs, quarantine, last_seen)
                    context = "reconciling with the snapshot"
                    reconciled = self._reconcile(conn, logs, quarantine)
                    if isinstance(reconciled, str):
                        conn.close()
                        report = self.run(full=True)
                        note = f"reconciled: {reconciled}; re-read the whole table"
                        return dataclasses.replace(report, notes=(note, *report.notes))
                    fetched += reconciled.reread
                    fetched_valid += reconciled.added
                    notes.append(reconciled.note)
                    if reconciled.replace_days is None:
                        logs = pl.concat([logs, reconciled.logs])
                        quarantine = pl.concat([quarantine, reconciled.quarantine])
                        new_rows = logs.height
                    else:
                        new_rows = logs.height + reconciled.added
                        reported = pl.concat([quarantine, reconciled.added_quarantine])
                        logs, quarantine = self._replace_days(logs, quarantine, reconciled)
                        replaced = True
        except _FAULTS as exc:
            raise _driver_error(exc, url, context) from exc
        if last_seen is None and logs.height == 0:
            raise SourceError(
                f"table '{LOGS_TABLE}' in '{url.database}' at {where} has no valid rows "
                f"({quarantine.height:,} rejected)"
            )
        base = snapshot_dir if last_seen is not None and not replaced else None
        simulated = read_manifest(snapshot_dir).simulated if last_seen is not None else False
        manifest = write_snapshot(
            snapshot_dir,
            logs,
            cohorts,
            quarantine,
            source="mysql",
            simulated=simulated,
            source_detail=self.shown_url,
            base=base,
        )
        if reported is None:
            reported = quarantine
        reasons, examples = summarize_quarantine(reported)
        return AcquireReport(
            source="mysql",
            source_detail=self.shown_url,
            target=snapshot_dir,
            manifest=manifest,
            lines_read=fetched,
            rows_imported=fetched_valid,
            new_rows=logs.height if new_rows is None else new_rows,
            quarantined=reported.height,
            reasons=reasons,
            examples=examples,
            cohorts=cohorts.height,
            elapsed=time.monotonic() - started,
            mode="incremental" if last_seen is not None else "full",
            blank_lines=0,
            notes=tuple(notes),
        )

    def _new_rows(
        self, logs: pl.DataFrame, quarantine: pl.DataFrame, last_seen: dt.datetime
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Drop what the snapshot already holds: the boundary second's rows as a multiset, and
        quarantined rows already in its quarantine."""
        snapshot_dir = self.snapshot_dir
        old_boundary = scan_logs(snapshot_dir).filter(pl.col("timestamp") == last_seen).collect()
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
        return logs, quarantine

    def _replace_days(
        self, new_logs: pl.DataFrame, new_quarantine: pl.DataFrame, reconciled: _Reconciled
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The whole snapshot (old rows + this refresh's) with the re-read days' rows replaced by the
        database's (rows edited or deleted there): written afresh, not on top of the old parts."""
        days = reconciled.replace_days
        assert days is not None
        old_logs = scan_logs(self.snapshot_dir).collect()
        all_logs = pl.concat([old_logs, new_logs])
        named = pl.Series("day", [day for day in days.to_list() if day is not None], pl.String)
        on_days = pl.col("timestamp").dt.strftime("%Y-%m-%d").is_in(named.implode())
        old_quarantine = pl.read_parquet(self.snapshot_dir / "quarantine.parquet")
        all_quarantine = pl.concat([old_quarantine, new_quarantine])
        return (
            pl.concat([all_logs.filter(~on_days), reconciled.logs]),
            pl.concat([all_quarantine.filter(~_quarantine_days(days)), reconciled.quarantine]),
        )

    def _reconcile(
        self, conn: sa.Connection, new_logs: pl.DataFrame, new_quarantine: pl.DataFrame
    ) -> _Reconciled | str:
        """Compare each day's content digest (digest_sql): database vs snapshot + quarantine + this
        refresh. Days that differ are re-read: rows only the database has are added; if the snapshot
        holds rows the database no longer has (deleted or edited there), those days' rows are replaced.
        Returns what to do, or why only a full re-read is right (too many days differ)."""
        old_logs = scan_logs(self.snapshot_dir)
        old_quarantine = pl.read_parquet(self.snapshot_dir / "quarantine.parquet")
        local_logs = pl.concat([old_logs, new_logs.lazy()])
        local_quarantine = pl.concat([old_quarantine, new_quarantine])
        rows = conn.execute(sa.text(digest_sql(_utf8_columns(conn)))).fetchall()
        database = pl.DataFrame(
            [tuple(row) for row in rows],
            schema={"day": pl.String, "rows": pl.Int64, "s": pl.Int64},
            orient="row",
        )
        local = _local_days(local_logs, local_quarantine)
        compared = database.join(local, on="day", how="full", coalesce=True, nulls_equal=True)
        differ = compared.filter(
            pl.any_horizontal(
                pl.col(name).fill_null(0) != pl.col(f"{name}_right").fill_null(0)
                for name in ("rows", "s")
            )
        ).sort("day", nulls_last=True)
        total = int(database["rows"].sum() or 0)
        if differ.height == 0:
            return _Reconciled(
                pl.DataFrame(schema=LOG_SCHEMA),
                pl.DataFrame(schema=QUARANTINE_SCHEMA),
                0,
                0,
                f"reconciled: the snapshot and its quarantine match the database, row by row "
                f"({total:,} rows over {database.height:,} days)",
            )
        if differ.height > MAX_DAYS_REREAD:
            return f"{differ.height:,} days differ from the database"
        days = differ["day"]
        named = [day for day in days.to_list() if day is not None]
        clauses = []
        params: dict[str, str] = {}
        if named:
            params = {f"d{i}": day for i, day in enumerate(named)}
            clauses.append(f"CAST(`date` AS CHAR) IN ({', '.join(':' + key for key in params)})")
        if days.null_count():
            clauses.append("`date` IS NULL")
        condition = " WHERE " + " OR ".join(clauses)
        logs, quarantine, reread = self._read_logs(
            conn, condition, params, int(differ["rows"].fill_null(0).sum()), "re-reading days"
        )
        on_days = pl.col("timestamp").dt.strftime("%Y-%m-%d").is_in(pl.Series(named).implode())
        local_day_logs = local_logs.filter(on_days).collect()
        local_day_quarantine = local_quarantine.filter(_quarantine_days(days))
        gone = (
            multiset_surplus(local_day_logs, logs, list(LOG_SCHEMA)).height
            + multiset_surplus(local_day_quarantine, quarantine, list(QUARANTINE_SCHEMA)).height
        )
        added = multiset_surplus(logs, local_day_logs, list(LOG_SCHEMA))
        added_quarantine = multiset_surplus(
            quarantine, local_day_quarantine, list(QUARANTINE_SCHEMA)
        )
        why = [
            f"{'no date' if day is None else day}: {_why(ours or 0, theirs or 0)}"
            for day, theirs, ours in differ.select("day", "rows", "rows_right").iter_rows()
        ]
        shown = "; ".join(why[:5]) + (f"; and {len(why) - 5} more" if len(why) > 5 else "")
        head = f"reconciled: {days.len()} day(s) differed from the database ({shown}); re-read them"
        if not gone:
            return _Reconciled(
                added,
                added_quarantine,
                reread,
                added.height,
                f"{head}: {added.height:,} late rows added, {added_quarantine.height:,} quarantined",
            )
        return _Reconciled(
            logs,
            quarantine,
            reread,
            added.height,
            f"{head}: {gone:,} rows changed or deleted in the database replaced, "
            f"{added.height:,} rows added, {added_quarantine.height:,} quarantined; "
            "the snapshot was rewritten",
            replace_days=days,
            added_quarantine=added_quarantine,
        )


@dataclass(frozen=True)
class _Reconciled:
    """What reconciliation found: rows to add (or, with `replace_days`, the re-read days' rows that
    replace the snapshot's), rows re-read, valid rows added, and the note for the report."""

    logs: pl.DataFrame
    quarantine: pl.DataFrame
    reread: int
    added: int
    note: str
    replace_days: pl.Series | None = None
    added_quarantine: pl.DataFrame = dataclasses.field(
        default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )


def _why(ours: int, theirs: int) -> str:
    if theirs > ours:
        return f"{theirs - ours:,} more rows in the database"
    if theirs < ours:
        return f"{ours - theirs:,} rows fewer in the database"
    return "same row count, different content"


def _quarantine_days(days: pl.Series) -> pl.Expr:
    """Quarantined database rows dated on `days` (a null day: rows without a date)."""
    day = _day_of(pl.col("raw"))
    on_days = day.is_in(days.drop_nulls().implode())
    if days.null_count():
        on_days = on_days | day.is_null()
    return (pl.col("source") == LOGS_TABLE) & on_days.fill_null(False)
