"""The snapshot: typed Parquet tables plus a manifest, written atomically.

Layout of a snapshot directory (default `data/snapshot/`):

    manifest.json          source, simulated flag, counts, time range, checksums, build time
    logs/part-NNNNN.parquet  page views (LOG_SCHEMA; path and ip stored as Categorical); each refresh
                           adds one part, older parts are untouched
    cohorts.parquet        the cohorts table (COHORT_SCHEMA)
    quarantine.parquet     rejected rows with line/key and reason (QUARANTINE_SCHEMA)

Writing never modifies the live directory: a new directory is assembled beside it (existing log parts are
hard-linked, not copied) and swapped in with two renames, so a refresh that fails half-way leaves the
previous snapshot exactly as it was. Writers hold the data directory's exclusive lock
(`analysis.sources.locking`). Each manifest carries a `generation` (the previous one's plus one): after a
crash between the two renames, recovery restores the newest complete state by generation (then mtime),
never by name, and removes every stale `snapshot.tmp-PID` / `snapshot.old-PID` folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis.errors import InputError, TargetError, os_reason
from analysis.schema import COHORT_SCHEMA, LOG_SCHEMA, QUARANTINE_SCHEMA
from analysis.sources.locking import holds, locked

MANIFEST_VERSION = 1
LOG_ROW_GROUP_SIZE = 256_000


@dataclass(frozen=True)
class Manifest:
    source: str  # "demo", "file", "mysql" or "test"
    simulated: bool
    source_detail: str = ""  # file names or the database URL with the password masked
    rows: int = 0
    users: int = 0
    ips: int = 0
    cohorts: int = 0
    first_seen: str | None = None  # ISO timestamps
    last_seen: str | None = None
    quarantined_rows: int = 0
    logs_digest: str = ""  # order-independent digest of the log rows: equal data, equal digest
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    built_at: str = ""
    version: int = MANIFEST_VERSION
    generation: int = 0  # previous snapshot's generation + 1: recovery keeps the highest

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Snapshot:
    """What every question reads. `logs` is lazy so questions compose queries without loading twice;
    read from a snapshot folder its path and ip are Categorical (`scan_logs`)."""

    logs: pl.LazyFrame
    cohorts: pl.DataFrame
    quarantine: pl.DataFrame
    manifest: Manifest

    @classmethod
    def from_frames(
        cls,
        logs: pl.DataFrame,
        cohorts: pl.DataFrame,
        quarantine: pl.DataFrame | None = None,
        *,
        source: str = "test",
        simulated: bool = False,
        source_detail: str = "",
    ) -> Snapshot:
        """Build an in-memory snapshot (tests, and the writer before it hits disk)."""
        logs = conform(logs, LOG_SCHEMA)
        cohorts = conform(cohorts, COHORT_SCHEMA)
        quarantine = conform(
            quarantine if quarantine is not None else pl.DataFrame(schema=QUARANTINE_SCHEMA),
            QUARANTINE_SCHEMA,
        )
        manifest = describe(logs, cohorts, quarantine, source, simulated, source_detail)
        return cls(logs.lazy(), cohorts, quarantine, manifest)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast the contract's columns, in order; missing columns are a programming error."""
    missing = [name for name in schema if name not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def logs_digest(logs: pl.DataFrame) -> str:
    """Order-independent content digest: import and acquire of the same rows must agree on it.

    It is the row count and two wrapping 64-bit sums of per-row hashes (a multiset hash), so the digest of
    a snapshot grown by a refresh is computed from the old digest and the new rows alone.
    """
    import numpy as np  # here: `analyze` does not load numpy for this (question 5 loads it later)

    rows = logs.select(LOG_SCHEMA.keys())
    sums = [int(np.sum(rows.hash_rows(seed=seed).to_numpy(), dtype=np.uint64)) for seed in (0, 1)]
    return f"{rows.height:x}-{sums[0]:016x}-{sums[1]:016x}"


def combine_digests(first: str, second: str) -> str:
    """Digest of the union of two row multisets (see logs_digest)."""
    a, b = ([int(part, 16) for part in digest.split("-")] for digest in (first, second))
    mask = (1 << 64) - 1
    return f"{a[0] + b[0]:x}-{(a[1] + b[1]) & mask:016x}-{(a[2] + b[2]) & mask:016x}"


def describe(
    logs: pl.DataFrame | pl.LazyFrame,
    cohorts: pl.DataFrame,
    quarantine: pl.DataFrame,
    source: str,
    simulated: bool,
    source_detail: str = "",
    digest: str | None = None,
) -> Manifest:
    stats = (
        logs.lazy()
        .select(
            pl.len().alias("rows"),
            pl.col("user_id").n_unique().alias("users"),
            pl.col("ip").n_unique().alias("ips"),
            pl.col("timestamp").min().alias("first_seen"),
            pl.col("timestamp").max().alias("last_seen"),
        )
        .collect()
        .row(0, named=True)
    )
    return Manifest(
        source=source,
        simulated=simulated,
        source_detail=source_detail,
        rows=int(stats["rows"]),
        users=int(stats["users"]),
        ips=int(stats["ips"]),
        cohorts=cohorts.height,
        first_seen=stats["first_seen"].isoformat() if stats["first_seen"] else None,
        last_seen=stats["last_seen"].isoformat() if stats["last_seen"] else None,
        quarantined_rows=quarantine.height,
        logs_digest=digest if digest is not None else logs_digest(logs.lazy().collect()),
        built_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks (snapshot parts, published outputs)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _swap_in(new_dir: Path, target: Path) -> None:
    """Replace `target` by `new_dir` with renames only; the old snapshot survives until the last step."""
    old_dir = target.with_name(f"{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old_dir)
    try:
        new_dir.rename(target)
    except OSError:
        if old_dir.exists():
            old_dir.rename(target)
        raise
    shutil.rmtree(old_dir, ignore_errors=True)


def write_snapshot(
    target: Path,
    logs: pl.DataFrame | Iterable[pl.DataFrame],
    cohorts: pl.DataFrame,
    quarantine: pl.DataFrame | Callable[[], pl.DataFrame] | None,
    *,
    source: str,
    simulated: bool,
    source_detail: str = "",
    base: Path | None = None,
) -> Manifest:
    """Write a snapshot atomically.

    `logs` is one frame, or an iterable of frames (an import's parsed chunks): each non-empty frame
    becomes its own log part, sorted by timestamp, and is hashed alone (digests combine), so memory is
    bounded by one chunk however large the log. `quarantine` is read after `logs` is consumed, so a
    chunk reader can fill it as it goes (pass a callable returning the frame; None means empty).

    With `base` (an existing snapshot), `logs` and `quarantine` hold only the new rows: the base's log
    parts are hard-linked into the new snapshot (their checksums carried over from the base manifest,
    not re-read) and the new rows are added as new parts, so a refresh does not rewrite history. The
    manifest always describes the whole snapshot.
    """
    target = Path(target)
    try:
        with locked(target):
            for note in recover(target):
                print(f"note: {note}", file=sys.stderr)
            return _write_snapshot(
                target, logs, cohorts, quarantine, source, simulated, source_detail, base
            )
    except OSError as exc:
        raise TargetError(f"cannot write the snapshot at {target}: {_os_reason(exc)}") from exc
    except pl.exceptions.PolarsError as exc:  # Parquet writes report I/O faults as ComputeError
        found = re.search(r"\(os error (\d+)\)", str(exc))
        if found is None:
            raise
        fault = OSError(int(found.group(1)), os.strerror(int(found.group(1))))
        raise TargetError(f"cannot write the snapshot at {target}: {_os_reason(fault)}") from exc


def _os_reason(exc: OSError) -> str:
    """One line for a failed write: what went wrong, where, and that nothing changed."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{os_reason(exc)}{where}; the previous snapshot was not changed"


def _generation(folder: Path) -> int:
    try:
        return int(json.loads((folder / "manifest.json").read_text()).get("generation", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return -1


def _write_snapshot(
    target: Path,
    logs: pl.DataFrame | Iterable[pl.DataFrame],
    cohorts: pl.DataFrame,
    quarantine: pl.DataFrame | Callable[[], pl.DataFrame] | None,
    source: str,
    simulated: bool,
    source_detail: str,
    base: Path | None,
) -> Manifest:
    frames = [logs] if isinstance(logs, pl.DataFrame) else logs
    cohorts = conform(cohorts, COHORT_SCHEMA)
    generation = max(_generation(target), _generation(base) if base else -1, 0) + 1
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "logs").mkdir(parents=True)
    try:
        next_part = 0
        files: dict[str, str] = {}
        digest: str | None = None
        if base is not None:
            base_manifest = read_manifest(base)
            for part in sorted((base / "logs").glob("part-*.parquet")):
                os.link(part, staging / "logs" / part.name)
                next_part = max(next_part, int(part.stem.split("-")[1]) + 1)
                relative = f"logs/{part.name}"
                known = base_manifest.files.get(relative)
                files[relative] = known if known else file_sha256(part)
            digest = base_manifest.logs_digest
        for frame in frames:
            frame = conform(frame, LOG_SCHEMA)
            if frame.height == 0:
                continue
            _write_part(staging, next_part, frame, files)
            next_part += 1
            chunk_digest = logs_digest(frame)
            digest = chunk_digest if digest is None else combine_digests(digest, chunk_digest)
        if next_part == 0:  # an empty snapshot still has one (empty) part, so scans find the schema
            _write_part(staging, 0, pl.DataFrame(schema=LOG_SCHEMA), files)
            digest = logs_digest(pl.DataFrame(schema=LOG_SCHEMA))
        if callable(quarantine):
            quarantine = quarantine()
        if quarantine is None:
            quarantine = pl.DataFrame(schema=QUARANTINE_SCHEMA)
        quarantine = conform(quarantine, QUARANTINE_SCHEMA)
        if base is not None:
            old_quarantine = pl.read_parquet(base / "quarantine.parquet")
            quarantine = pl.concat([old_quarantine, quarantine])
        cohorts.write_parquet(staging / "cohorts.parquet")
        quarantine.write_parquet(staging / "quarantine.parquet")
        for name in ("cohorts.parquet", "quarantine.parquet"):
            files[name] = file_sha256(staging / name)
        # Counts come from a lazy scan of three columns of the parts (new and linked).
        all_logs = scan_logs(staging).select("timestamp", "user_id", "ip")
        manifest = describe(
            all_logs, cohorts, quarantine, source, simulated, source_detail, digest=digest
        )
        manifest = Manifest(
            **{**manifest.to_json(), "files": dict(sorted(files.items())), "generation": generation}
        )
        (staging / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


# Log columns a part stores as Categorical (Parquet dictionary columns): reading them back costs a
# third less CPU than text cast to Categorical, and `prepare` reads them as Categorical anyway.
LABEL_COLUMNS: tuple[str, ...] = ("path", "ip")


def _write_part(staging: Path, index: int, frame: pl.DataFrame, files: dict[str, str]) -> None:
    """Write one log part sorted by timestamp (path and ip as Categorical, LABEL_COLUMNS) and record
    its checksum in `files`."""
    path = staging / "logs" / _part_name(index)
    frame.sort("timestamp", maintain_order=True).with_columns(
        pl.col(LABEL_COLUMNS).cast(pl.Categorical)
    ).write_parquet(path, row_group_size=LOG_ROW_GROUP_SIZE, statistics=True)
    files[f"logs/{path.name}"] = file_sha256(path)


def scan_logs(folder: Path, *, labels: bool = False) -> pl.LazyFrame:
    """The log parts of the snapshot folder `folder` (LOG_SCHEMA): path and ip as text, or as
    Categorical with `labels`, whatever the parts store (parts written before LABEL_COLUMNS store
    text, and a refresh adds a part beside them; one scan of parts of both kinds fails)."""
    parts = sorted((Path(folder) / "logs").glob("*.parquet"))
    wanted = pl.Categorical() if labels else pl.String()
    kinds: dict[bool, list[Path]] = {}
    for part in parts:
        stored = pl.read_parquet_schema(part).get("path")
        kinds.setdefault(stored == wanted, []).append(part)
    if len(kinds) < 2:  # one kind (or no part: the scan says so)
        same = next(iter(kinds)) if kinds else True
        scan = pl.scan_parquet(Path(folder) / "logs" / "*.parquet")
        return scan if same else scan.with_columns(pl.col(LABEL_COLUMNS).cast(wanted))
    return pl.concat(
        [
            pl.scan_parquet(kinds[True]),
            pl.scan_parquet(kinds[False]).with_columns(pl.col(LABEL_COLUMNS).cast(wanted)),
        ]
    )


def _leftovers(target: Path) -> tuple[list[Path], list[Path]]:
    """(staging folders `NAME.tmp-PID`, displaced snapshots `NAME.old-PID`) beside `target`."""
    parent = target.parent
    if not parent.is_dir():
        return [], []
    return (
        [p for p in parent.glob(f"{target.name}.tmp-*") if p.is_dir()],
        [p for p in parent.glob(f"{target.name}.old-*") if p.is_dir()],
    )


def _newest(folders: list[Path]) -> Path:
    """The newest state: highest manifest generation, then the manifest's mtime (never the name)."""

    def age(folder: Path) -> tuple[int, float]:
        try:
            mtime = (folder / "manifest.json").stat().st_mtime
        except OSError:
            mtime = 0.0
        return _generation(folder), mtime

    return max(folders, key=age)


def recover(target: Path) -> list[str]:
    """Repair what a killed writer left; call with the data lock held. Returns what was done.

    A kill between the two renames of _swap_in leaves no `target`, only `NAME.old-PID` (the previous
    state) and maybe a complete `NAME.tmp-PID` (manifest written last): the newest of them comes back.
    Every other leftover is stale (its writer would hold the lock) and is removed.
    """
    target = Path(target)
    staging, displaced = _leftovers(target)
    done: list[str] = []
    if not (target / "manifest.json").exists():
        complete = [p for p in staging + displaced if (p / "manifest.json").exists()]
        if complete:
            chosen = _newest(complete)
            if target.exists():
                shutil.rmtree(target)
            chosen.rename(target)
            done.append(f"restored the snapshot from {chosen.name} (interrupted swap)")
    for leftover in staging + displaced:
        if leftover.exists():
            shutil.rmtree(leftover, ignore_errors=True)
            done.append(f"removed the stale {leftover.name}")
    return done


def needs_recovery(target: Path) -> bool:
    """No complete snapshot at `target` but a killed writer's folders beside it."""
    return not (Path(target) / "manifest.json").exists() and any(_leftovers(Path(target)))


def _recover(target: Path) -> None:
    """A reader finding no snapshot but a writer's leftovers repairs them under the exclusive lock."""
    if not needs_recovery(target):
        return
    state = holds(target)
    if state is None:
        with locked(target):
            recover(target)
    elif state:
        recover(target)


def read_manifest(target: Path) -> Manifest:
    _recover(target)
    manifest_path = target / "manifest.json"
    if not manifest_path.exists():
        if holds_snapshot_data(target):
            raise InputError(
                f"{target} holds a snapshot without its manifest.json, so it cannot be checked: "
                f"{REBUILD_HINT}"
            )
        raise InputError(
            f"no snapshot at {target} (run `curriculum-insights import`, `acquire` or `build` first)"
        )
    try:
        data = json.loads(manifest_path.read_text())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return Manifest.from_json(data)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{manifest_path}: unreadable manifest ({exc}); {REBUILD_HINT}") from exc


REBUILD_HINT = (
    "rebuild it with `curriculum-insights import --logs FILE --cohorts FILE` "
    "or `curriculum-insights acquire --full`"
)


def holds_snapshot_data(target: Path) -> bool:
    """Something of a snapshot (log parts, tables, a manifest) is in `target`."""
    target = Path(target)
    return any(
        (target / name).exists()
        for name in ("manifest.json", "logs", "cohorts.parquet", "quarantine.parquet")
    )


def _damaged(path: Path, target: Path, what: str) -> InputError:
    return InputError(f"{path}: {what}; the snapshot at {target} is damaged: {REBUILD_HINT}")


def verify_snapshot(target: Path, manifest: Manifest, *, deep: bool = False) -> None:
    """Check the files against the manifest: the same files (no log part missing or extra), each with
    its recorded sha256 (about 1 ms per 1 MB). `deep` also decodes every file and checks the row counts.
    A fault is an InputError (exit 3) naming the file."""
    target = Path(target)
    manifest_path = target / "manifest.json"
    if not manifest.files:
        raise _damaged(manifest_path, target, "the manifest lists no files")
    on_disk = {f"logs/{part.name}" for part in (target / "logs").glob("*.parquet")}
    extra = sorted(on_disk - set(manifest.files))
    if extra:
        raise _damaged(target / extra[0], target, f"a log part {manifest_path} does not list")
    # the files hashed two at a time (hashlib releases the GIL: half the wait on a 2-core machine),
    # their faults reported in the manifest's order
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify") as pool:
        digests = {
            relative: pool.submit(file_sha256, target / relative) for relative in manifest.files
        }
        for relative, expected in manifest.files.items():
            path = target / relative
            try:
                actual = digests[relative].result()
            except FileNotFoundError:
                raise _damaged(path, target, f"missing (listed in {manifest_path})") from None
            except OSError as exc:
                raise _damaged(path, target, f"unreadable ({os_reason(exc)})") from exc
            if actual != expected:
                raise _damaged(path, target, f"checksum does not match {manifest_path}")
    if not deep:
        return
    counts = {"logs": 0}
    for relative in sorted(manifest.files):
        path = target / relative
        try:
            rows = pl.read_parquet(path).height
        except (pl.exceptions.PolarsError, OSError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _damaged(path, target, f"not a readable Parquet file ({message})") from exc
        key = "logs" if relative.startswith("logs/") else relative
        counts[key] = counts.get(key, 0) + rows
    expected_counts = {
        "logs": manifest.rows,
        "cohorts.parquet": manifest.cohorts,
        "quarantine.parquet": manifest.quarantined_rows,
    }
    for key, rows in expected_counts.items():
        if counts.get(key, 0) != rows:
            path = target / ("logs" if key == "logs" else key)
            raise _damaged(
                path, target, f"holds {counts.get(key, 0):,} rows, the manifest says {rows:,}"
            )


def load_snapshot(target: Path, *, verify: bool = True) -> Snapshot:
    """Open a snapshot lazily, after checking every file's checksum against the manifest (see
    verify_snapshot; `verify=False` skips it, for a snapshot this process just wrote)."""
    target = Path(target)
    manifest = read_manifest(target)
    if verify:
        verify_snapshot(target, manifest)
    logs = scan_logs(target, labels=True)
    return Snapshot(
        logs=logs,
        cohorts=_read_table(target, "cohorts.parquet"),
        quarantine=_read_table(target, "quarantine.parquet"),
        manifest=manifest,
    )


def _read_table(target: Path, name: str) -> pl.DataFrame:
    path = target / name
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _damaged(path, target, f"not a readable Parquet file ({message})") from exc
