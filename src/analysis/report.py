"""The report: the snapshot prepared once, the eight questions answered, and findings.json.

findings.json is a public contract (issue 3), documented by schemas/findings.schema.json and validated
against it before every write: a question module that breaks the contract fails the build instead of
publishing a malformed file. It always holds full IP addresses; it goes to `_build/`, never to `_site/`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import pickle
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from analysis.config import PROJECT_ROOT, Config
from analysis.errors import InputError, TargetError
from analysis.prepare import (
    PATH_COLUMNS,
    TIME_COLUMNS,
    Prepared,
    label_lookups,
    labels_by_cohort,
    labels_by_path,
    narrow_integers,
    prepare,
    time_columns,
)
from analysis.progress import step
from analysis.questions import QUESTIONS, TITLES
from analysis.results import QuestionResult, to_jsonable
from analysis.schema import schema_errors
from analysis.sources.snapshot import Manifest, Snapshot, load_snapshot

SCHEMA_VERSION = 1
SCHEMA_PATH = PROJECT_ROOT / "schemas" / "findings.schema.json"
FINDINGS_NAME = "findings.json"
# The last computed report, reused by `render` while the snapshot, the configuration and the analysis code
# are unchanged (see analysis_key). Private to the build folder: mode 0600, no database URL inside.
REPORT_CACHE_NAME = "report-cache.pickle"
# What the answers depend on, besides the data and the configuration: the analysis code itself.
_ANALYSIS_CODE = ("config.py", "prepare.py", "report.py", "results.py", "schema.py", "questions")


_MEMO = "_memo_"  # prefix of the documents Report.memo_json keeps on the instance, as JSON (bytes)


@dataclass(frozen=True)
class Report:
    """Everything the pages, the slide, the email and findings.json are built from."""

    dataset: dict[
        str, Any
    ]  # the snapshot manifest's description of the data (+ quarantine reasons)
    results: dict[int, QuestionResult]  # question number -> typed result
    config: Config  # the configuration the answers were computed with
    timings: dict[str, float] = field(default_factory=dict)  # "prepare", "q1".."q8" -> seconds
    generated_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    )

    @property
    def simulated(self) -> bool:
        return bool(self.dataset.get("simulated"))

    def to_json(self) -> dict[str, Any]:
        """The findings.json document (see schemas/findings.schema.json), a new one at every call.

        It is built from the results once per report and kept as JSON text: a render asks for it three
        times (findings.json, the history entry, the comparison with the last report), and parsing the
        text is several times faster than converting the results' tables again."""
        return self.memo_json(
            "findings",
            lambda: {
                "schema_version": SCHEMA_VERSION,
                "generated_at": self.generated_at,
                "dataset": to_jsonable(self.dataset),
                "timings": {k: round(v, 3) for k, v in self.timings.items()},
                "questions": {
                    str(number): result.to_json() for number, result in sorted(self.results.items())
                },
            },
        )

    def memo_json(self, name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The document `build()` makes, built once per report and kept as JSON (orjson) under `name`;
        a new copy at every call, so callers may change it."""
        key = _MEMO + name
        text = self.__dict__.get(key)
        if text is not None:
            return orjson.loads(text)
        document = build()
        # frozen dataclass: set directly; not a field, so neither compared nor shown
        object.__setattr__(self, key, orjson.dumps(document))
        return document

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the kept documents (the report cache and the pages' bundle stay small)."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith(_MEMO)}

    def describe(self) -> str:
        """One dataset line (with the SIMULATED flag) and one line per answer, for the terminal."""
        data = self.dataset
        flag = "SIMULATED data" if self.simulated else "real data"
        first = str(data.get("first_seen") or "-")[:10]
        last = str(data.get("last_seen") or "-")[:10]
        lines = [
            f"Dataset: {flag} from {data.get('source', '?')}: {data.get('rows', 0):,} rows, "
            f"{data.get('users', 0):,} users, {data.get('ips', 0):,} IPs, {first} to {last}, "
            f"{data.get('quarantined_rows', 0):,} quarantined rows"
        ]
        for number, result in sorted(self.results.items()):
            seconds = self.timings.get(f"q{number}")
            timing = f" [{seconds:.2f}s]" if seconds is not None else ""
            lines.append(f"Q{number} {TITLES.get(number, result.title)}: {result.answer}{timing}")
        return "\n".join(lines)


def dataset_description(snapshot: Snapshot) -> dict[str, Any]:
    """The manifest's fields (without per-file checksums) plus quarantined rows by reason."""
    manifest = snapshot.manifest.to_json()
    manifest.pop("files", None)
    reasons = (
        snapshot.quarantine.group_by("reason")
        .agg(pl.len().alias("rows"))
        .sort(["rows", "reason"], descending=[True, False])
    )
    manifest["quarantine_reasons"] = {
        str(reason): int(rows) for reason, rows in reasons.iter_rows()
    }
    return manifest


# Columns of the prepared views no question reads (program_id is in `prepared.cohorts`; question 6
# derives days_after_end from date and end_date on the alumni rows only): 16 bytes a row less.
UNUSED_COLUMNS: tuple[str, ...] = ("program_id", "days_after_end", "days_before_start")
# Columns that are functions of the row's cohort id: materialize keeps them once per cohort (about 60
# rows) and looks them up (replace_strict, inside with_columns) only in the plans of the questions that
# read them, instead of storing them on every row.
COHORT_COLUMNS: tuple[str, ...] = (
    "cohort_name",
    "program",
    "track",
    "role",
    "start_date",
    "end_date",
)


def materialize(prepared: Prepared) -> Prepared:
    """Collect the prepared views once, so the eight questions do not each re-parse every path.

    The collected frame is held through all eight questions (with question 4's sessions on top it sets
    the peak of `analyze`), so it stores only what is not a cheap function of another column: the
    cohort's labels (COHORT_COLUMNS) and the path's (prepare.PATH_COLUMNS) are kept as small tables
    (about 60 cohorts, a few thousand paths) and looked up from cohort_id and path
    (prepare.label_lookups), and date, hour and weekday recomputed from the timestamp
    (prepare.TIME_COLUMNS), lazily: all are expressions of a `with_columns`, so a question's plan
    computes only the ones it reads; integer ids are stored in the narrowest type that holds them
    (`narrow_integers`) and read back as the views' type. About 28 bytes a row instead of 79 (about
    2.2 GB less at 50x); the values are the same. Labels that are not functions of their key
    (prepare changed?) are stored on every row. The views carry no row order (every question aggregates or sorts). The stored rows
    and the function that labels them are kept in `stored`, so `prepare.chosen_views` can choose
    rows before their labels are looked up (a look-up blocks predicate pushdown). When prepare
    already holds the stored columns in memory (`prepared.stored.rows`: its kept rows with their
    window), they are taken as they are instead of collected again from the views.
    """
    views = prepared.views.drop(UNUSED_COLUMNS)
    schema = views.collect_schema()
    order = schema.names()
    derived = set(TIME_COLUMNS)
    lookups: list[pl.Expr] = []
    for key, columns, labels in (
        ("cohort_id", COHORT_COLUMNS, labels_by_cohort),
        ("path", PATH_COLUMNS, labels_by_path),
    ):
        present = [name for name in columns if name in order]
        if not present:
            continue
        # prepare's lookup (no second pass over the views) when it has one
        table = labels(prepared, *present).collect()
        if table.get_column(key).n_unique() == table.height:
            derived.update(present)
            lookups += label_lookups(table, key, present)
    stored = [name for name in order if name not in derived]
    handed = prepared.stored.rows
    if handed is not None and set(stored) <= set(handed.columns):
        # prepare's kept rows, in memory with their window: taken as they are (no second collect
        # of every row, 0.25 s of CPU at 10x)
        rows = handed[stored]  # (a `select` would copy the columns into one chunk: 0.1 s at 10x)
    else:
        rows = views.select(stored).collect()
    rows = rows.with_columns(narrow_integers(rows))
    # the narrowed integers read back as the views' types (a cast: 20 ms per 9M rows)
    widened = [
        pl.col(name).cast(schema[name]) for name in stored if rows.schema[name] != schema[name]
    ]

    def label(chosen: pl.LazyFrame) -> pl.LazyFrame:
        return chosen.with_columns(*widened, *time_columns(), *lookups).select(order)

    materialized = dataclasses.replace(prepared, views=label(rows.lazy()))
    materialized.stored.rows, materialized.stored.label = rows, label
    return materialized


def compute_report(
    config: Config, progress: bool = True, snapshot: Snapshot | None = None
) -> Report:
    """Load the snapshot (unless given), prepare it once and answer every question with it."""
    snapshot = snapshot if snapshot is not None else load_snapshot(config.paths.snapshot_dir)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if answered_at_once(snapshot):
        preload_questions()
    step("preparing the data (lessons, people, time)", enabled=progress)
    prepared = materialize(prepare(snapshot, config))
    timings["prepare"] = time.perf_counter() - started
    results = answer_all(snapshot, config, prepared, progress, timings)
    total = time.perf_counter() - started  # not the sum of the timings: two may run at once
    step(f"answered {len(results)} questions in {total:.1f}s", enabled=progress)
    return Report(
        dataset=dataset_description(snapshot), results=results, config=config, timings=timings
    )


def preload_questions() -> threading.Thread:
    """Import the question modules (and numpy, which question 5 imports) in a background thread while
    the data is prepared: preparing waits on polars (which releases the GIL) with one core idle at 1x,
    so the imports (about 0.1 s) are taken off the command's path instead of delaying the first
    questions. Only on logs whose questions run two at a time (`CONCURRENT_MAX_VIEWS`): on larger
    ones the gain is nil and numpy would be held through the peak of question 4. Nothing is executed
    but imports; a module that fails here is imported again, and the error raised, by the question
    that needs it."""

    def load() -> None:
        for number in (*CONCURRENT_ORDER, *QUESTIONS):
            with contextlib.suppress(Exception):
                QUESTIONS[number]

    thread = threading.Thread(target=load, name="preload-questions", daemon=True)
    thread.start()
    return thread


# Questions are answered two at a time on logs of up to this many views: there their many small steps
# leave one of two cores idle (at 1x, 0.9M views, the eight took 0.64 s instead of 0.80). On larger
# logs polars keeps both cores busy on its own (no gain at 9M views) and two questions at once would
# add their memory peaks (1.1 GB more at 45M views), so they are answered one after the other.
CONCURRENT_MAX_VIEWS = 2_000_000
# When two run at once, the longest start first.
CONCURRENT_ORDER = (4, 2, 5, 7, 3, 8, 6, 1)


def answered_at_once(snapshot: Snapshot) -> bool:
    """True when the questions are answered two at a time: a log of up to `CONCURRENT_MAX_VIEWS`
    rows (the snapshot's, set-aside automated views included)."""
    return snapshot.manifest.rows <= CONCURRENT_MAX_VIEWS


def answer_all(
    snapshot: Snapshot,
    config: Config,
    prepared: Prepared,
    progress: bool = True,
    timings: dict[str, float] | None = None,
) -> dict[int, QuestionResult]:
    """Every question's answer, by number, on the same prepared views; each one's seconds in
    `timings` (`q1` ...). Two at a time on small logs (`CONCURRENT_MAX_VIEWS`): the questions are
    pure and the aggregates they share are computed once (prepare's `Aggregates` lock)."""
    seconds: dict[int, float] = {}

    def answer(number: int) -> QuestionResult:
        step(f"question {number}: {TITLES[number]}", enabled=progress)
        started = time.perf_counter()
        result = QUESTIONS[number].answer(snapshot, config, prepared)
        seconds[number] = time.perf_counter() - started
        return result

    if not answered_at_once(snapshot):
        results = {number: answer(number) for number in QUESTIONS}
    else:
        first = [number for number in CONCURRENT_ORDER if number in QUESTIONS]
        order = first + [number for number in QUESTIONS if number not in first]
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="question") as pool:
            futures = {number: pool.submit(answer, number) for number in order}
            results = {number: futures[number].result() for number in sorted(QUESTIONS)}
    if timings is not None:
        timings.update({f"q{number}": seconds[number] for number in sorted(seconds)})
    return results


# --- the report cache: compute once, render many times ------------------------------------------------


@cache
def _code_fingerprint() -> str:
    """sha256 over the analysis modules' source: a changed question module invalidates the cache."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _ANALYSIS_CODE:
        path = package / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(package).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def analysis_key(manifest: Manifest, config: Config) -> str:
    """What a report is a function of: the snapshot's content, the analysis settings and the code.

    Output folders, the site, privacy and history settings and the database URL do not change the
    answers, so they are left out (rendering to another folder, in internal mode or with --no-history
    reuses the same analysis)."""
    base = type(config)()
    settings = dataclasses.replace(
        config,
        paths=base.paths,
        site=base.site,
        privacy=base.privacy,
        history=base.history,
        db_url=None,
    )
    digest = hashlib.sha256()
    for part in (
        manifest.logs_digest,
        json.dumps(manifest.files, sort_keys=True),
        repr(settings),
        _code_fingerprint(),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def save_report(report: Report, manifest: Manifest, build_dir: Path) -> Path:
    """Pickle the report beside findings.json (atomically, mode 0600, without the database URL)."""
    target = Path(build_dir) / REPORT_CACHE_NAME
    clean = dataclasses.replace(report, config=dataclasses.replace(report.config, db_url=None))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(analysis_key(manifest, report.config), handle)
            pickle.dump(clean, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TargetError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def cached_report(config: Config, manifest: Manifest) -> Report | None:
    """The saved report when it was computed from this snapshot, settings and code; else None."""
    path = config.paths.build_dir / REPORT_CACHE_NAME
    try:
        with path.open("rb") as handle:
            if pickle.load(handle) != analysis_key(manifest, config):
                return None
            report = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError):
        return None  # missing, truncated or from another version of the code: recompute
    if not isinstance(report, Report):
        return None
    return dataclasses.replace(report, config=config)


def report_for(config: Config, progress: bool = True) -> tuple[Report, bool]:
    """(report, reused): the cached report when it still matches the snapshot, else a new one (saved)."""
    snapshot = load_snapshot(config.paths.snapshot_dir)
    report = cached_report(config, snapshot.manifest)
    if report is not None:
        step(
            f"reusing the analysis of {report.generated_at} (snapshot, settings and code unchanged)",
            enabled=progress,
        )
        return report, True
    step("no saved analysis matches the snapshot and settings: analysing", enabled=progress)
    report = compute_report(config, progress=progress, snapshot=snapshot)
    save_report(report, snapshot.manifest, config.paths.build_dir)
    return report, False


@cache
def findings_schema() -> dict[str, Any]:
    """The JSON Schema of findings.json (schemas/findings.schema.json)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_findings(document: dict[str, Any]) -> None:
    """Raise ValueError naming the first field that breaks the findings.json contract (checked by
    analysis.schema.schema_errors: no JSON Schema library to import on the way out of `analyze`)."""
    errors = sorted(schema_errors(document, findings_schema()), key=lambda error: list(error[0]))
    _raise_first(errors)


def validate_findings_file(document: dict[str, Any]) -> None:
    """validate_findings for a document read from disk, by jsonschema's complete Draft 2020-12
    validator (a file from elsewhere may use anything JSON allows, not only what we write)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        findings_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [
        (tuple(error.absolute_path), error.message) for error in validator.iter_errors(document)
    ]
    _raise_first(sorted(errors, key=lambda error: list(error[0])))


def _raise_first(errors: list[tuple[tuple[str | int, ...], str]]) -> None:
    if errors:
        path, message = errors[0]
        where = "/".join(str(part) for part in path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValueError(f"findings.json breaks its schema at {where}: {message}{more}")


def new_run_id() -> str:
    """A run id: UTC time (sortable, readable) and a random suffix (unique)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{uuid.uuid4().hex[:8]}"


def write_findings(report: Report, out_dir: Path, run_id: str | None = None) -> Path:
    """Validate, then write out_dir/findings.json atomically (temp file + rename), mode 0600: it holds
    full IP addresses, like the report caches. `run_id` names the run that published it with the site,
    slide and email (publish/outputs.py); a new one is made when not given."""
    document = {"run_id": run_id or new_run_id(), **report.to_json()}
    validate_findings(document)  # a broken contract is a bug: it must not reach the file
    # orjson: the same text as json.dumps(indent=2, ensure_ascii=False), a twentieth of the time
    # (0.06 s at 10x); to_jsonable leaves no NaN or infinity to write
    text = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    target = Path(out_dir) / FINDINGS_NAME
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb",
            dir=target.parent,
            prefix=".findings-",
            suffix=".tmp",
            delete=False,
        ) as handle:
            tmp_name = handle.name
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)  # full IP addresses: private, like the report caches
        os.replace(tmp_name, target)
    except OSError as exc:
        if tmp_name and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise TargetError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def load_findings(path: Path) -> dict[str, Any]:
    """Read and validate a findings.json (a file, or a directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / FINDINGS_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no findings (run `curriculum-insights analyze` first)") from exc
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable findings ({exc})") from exc
    try:
        validate_findings_file(document)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from exc
    return document


# findings.json is the report's serialised form; loading it gives the JSON document, not typed results.
load_report = load_findings

# --- two findings documents compared (tests/test_findings_stable.py, bench/same_findings.py) --------

VOLATILE = ("generated_at", "timings")
VOLATILE_DATASET = ("built_at", "source_detail")


# floats may differ in their last bits between two runs (sums in the order the rows arrive)
FLOAT_TOLERANCE = 1e-12


def findings_differences(before: Any, now: Any, where: str = "") -> list[str]:
    """Where two JSON values differ: exactly, except floats (relative FLOAT_TOLERANCE)."""
    if isinstance(before, float) and isinstance(now, float):
        same = math.isclose(before, now, rel_tol=FLOAT_TOLERANCE, abs_tol=0.0)
        return [] if same else [f"{where}: {before!r} != {now!r}"]
    if type(before) is not type(now):
        return [f"{where}: {before!r} != {now!r}"]
    if isinstance(before, dict):
        found = [f"{where}/{k}: only on one side" for k in sorted(set(before) ^ set(now))]
        for key in sorted(set(before) & set(now)):
            found += findings_differences(before[key], now[key], f"{where}/{key}")
        return found
    if isinstance(before, list):
        if len(before) != len(now):
            return [f"{where}: {len(before)} items != {len(now)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(before, now, strict=True))
            for d in findings_differences(a, b, f"{where}[{i}]")
        ]
    return [] if before == now else [f"{where}: {before!r} != {now!r}"]


def stable_findings(document: dict[str, Any]) -> dict[str, Any]:
    """findings.json without the fields that differ between two runs on the same data."""
    document = json.loads(json.dumps(document))  # a deep copy, as JSON types
    for key in VOLATILE:
        document.pop(key, None)
    for key in VOLATILE_DATASET:
        document["dataset"].pop(key, None)
    return document
