"""Shared groundwork every question builds on: lessons, people and time, each defined in one place.

Lessons. A raw path is classified into a `page_kind`:
  - `empty`: the path is missing;
  - `navigation`: after stripping slashes, query and fragment it is one of `lessons.non_lesson_paths`
    (`/`, `toc`, `search/search_index.json`, `index.html`), an index or toc page inside a folder, or a
    root folder (ROOT_FOLDERS: `content`) or a module folder directly inside it, which list lessons;
  - `probe`: it contains one of `lessons.probe_patterns` (`wp-login`, `.env`, `../`, `<script` ...);
  - `asset`: its last segment ends in one of `lessons.asset_extensions` (images, json, css ...);
  - `lesson`: everything else.
Lessons are normalised: lower-cased, numbered prefixes stripped from every segment
(`1-fundamentals/1.1-intro-to-data-science` -> `fundamentals/intro-to-data-science`), then the alias table
`[lessons.aliases]` applied (a key with a `/` renames that exact lesson; a key without renames a whole
module); a root folder is dropped (`content/php_ii/objects` -> `php_ii/objects`). `module` is the first
segment of the lesson; `lesson_title` its reader's title (`lesson_title()`: `java-iii/user-input` ->
`Java III > User input`), computed here once per distinct path: pages, charts and sentences show the
title, tables keep the path beside it.

People. `role` comes from the row's cohort_id: `no_cohort` (null), `unknown_cohort` (id absent from the
cohorts table), `staff` (`people.staff_cohort_names`), `placeholder` (`people.placeholder_cohort_names`),
otherwise `student`. Only students enter student rankings. `program` is the program label for students
and placeholders, and the role's name otherwise.

Time. Every student view is classified by the enrollment window of the cohort on that row: `before`
(date < start_date), `active` (start_date <= date <= end_date) or `alumni` (date > end_date). A user who
appears under several cohorts (a re-take or a transfer) is judged row by row against the cohort the row
names, so each enrollment keeps its own window; `enrollments()` lists them per user.

Lesson homes. Lessons carry no program, and a module may hold lessons of both tracks (e.g. an SQL
module with a web-dev and a data-science lesson), so each *lesson* gets a home track from the data
(`lesson_homes()`): the track whose own enrolled students read it. Each track's enrolled views of a
lesson are divided by all enrolled lesson views of that track (so a small program weighs as much as a
big one), and the home is the track holding at least `q5.lesson_home_min_share` of those rates. A
lesson with fewer than `q5.lesson_home_min_views` enrolled views takes its module's home (the same
rule on the module's views); `[q5.lesson_home_overrides]` names a module's or a lesson's home
outright. A lesson read by both tracks without such a majority (shared material) has no home.
Question 5 counts a student reading the other track's lessons as cross-program access; questions 2
and 7 rank a program only on its own track's lessons and shared ones (`keep_own_track()`), so
cross-program reading is never mistaken for a cohort over-using, or a program neglecting, one of its
own lessons.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, cast

import polars as pl

from analysis.automation import Automated, episode_rows, find_automated
from analysis.config import Config
from analysis.errors import ConfigError
from analysis.schema import ColumnTypes, time_units
from analysis.sources.snapshot import Snapshot

LESSON_HOMES_SCHEMA: ColumnTypes = {
    "lesson": pl.String(),
    "module": pl.String(),
    "home": pl.String(),  # null: no clear home (shared material)
    "share": pl.Float64(),  # the leading track's share of the per-track reading rates
    "views": pl.Int64(),  # student views of the lesson, any window
    "enrolled_views": pl.Int64(),  # ... by students of its cohort while enrolled: the evidence
    "basis": pl.String(),  # "lesson", "module" (too few enrolled views of its own) or "override"
}
PAGE_KINDS = ("lesson", "navigation", "asset", "probe", "empty")
ROLES = ("student", "staff", "placeholder", "no_cohort", "unknown_cohort")
WINDOWS = ("before", "active", "alumni")

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

_NUMBERED_PREFIX = r"(^|/)\d+(?:\.\d+)*[-_]"

# Root folders that hold modules, not lessons (the real log's PHP curriculum lives under `content/`,
# e.g. `content/php_ii/objects`): the root itself and a module folder directly inside it only list
# lessons (navigation), and the root is dropped from the lessons under it (`php_ii/objects`, module
# `php_ii`), so no report names "content" as a lesson or a topic.
ROOT_FOLDERS: tuple[str, ...] = ("content",)
# Words a lesson title keeps in a fixed spelling (matched as whole words, any case).
TITLE_WORDS: dict[str, str] = {
    "api": "API", "apis": "APIs", "css": "CSS", "html": "HTML", "php": "PHP", "js": "JS",
    "sql": "SQL", "mysql": "MySQL", "json": "JSON", "http": "HTTP", "ajax": "AJAX", "ui": "UI",
    "ux": "UX", "dom": "DOM", "jsp": "JSP", "mvc": "MVC", "oop": "OOP", "crud": "CRUD", "url": "URL",
    "jdbc": "JDBC", "ide": "IDE", "cli": "CLI", "ds": "DS", "ml": "ML", "nlp": "NLP", "aws": "AWS",
    "javascript": "JavaScript", "jquery": "jQuery", "github": "GitHub", "dbscan": "DBSCAN",
    "i": "I", "ii": "II", "iii": "III", "iv": "IV", "vi": "VI",
}  # fmt: skip


@dataclass
class LessonTrack:
    """`lesson_track_counts(prepared)`, collected once (a few thousand rows): question 5 computes it
    and stores it here, question 7 reuses it. `views` is None until a question has computed it."""

    views: pl.DataFrame | None = None


@dataclass
class Aggregates:
    """Aggregates of `Prepared.views` that several questions read, each computed (and kept here) by
    the first one that asks: `user_ip_days` by `user_ip_days()`, `addresses` by
    `user_addresses()`, `lesson_counts` by `lesson_counts()`. None until then."""

    user_ip_days: pl.LazyFrame | None = None  # over rows held in memory
    addresses: pl.DataFrame | None = None
    lesson_counts: LessonCounts | None = None
    # held while one is computed: questions answered at once (report.answer_all) compute each once
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)


@dataclass
class StoredRows:
    """The stored columns of materialized views (report.materialize) and the function that adds the
    looked-up ones: `chosen_views` filters `rows` before labelling them. Set by prepare (the kept
    rows of the log, with their window, which materialize takes as they are) or by materialize;
    None when neither holds the rows in memory."""

    rows: pl.DataFrame | None = None
    label: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None


@dataclass(frozen=True)
class Prepared:
    views: pl.LazyFrame  # one row per page view, with the columns documented in prepare()
    cohorts: pl.DataFrame  # cohorts with program label, track and role
    data_start: dt.datetime
    data_end: dt.datetime
    simulated: bool
    # Shared intermediates computed once per prepared view and reused by every question that asks
    # (e.g. campus_ips). Not an init field: `dataclasses.replace(prepared, views=...)` starts empty, so
    # a question working on other views never sees results computed from these.
    shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    # Lesson views per track, computed by the first question that needs them (same lifetime as
    # `shared`: a `dataclasses.replace` starts empty).
    lesson_track: LessonTrack = field(
        default_factory=LessonTrack, init=False, repr=False, compare=False
    )
    # Shared aggregates of the views (same lifetime as `shared`).
    aggregates: Aggregates = field(
        default_factory=Aggregates, init=False, repr=False, compare=False
    )
    # The materialized views' stored rows (same lifetime as `shared`: `dataclasses.replace`
    # starts empty, so a question working on other views never reads these rows).
    stored: StoredRows = field(default_factory=StoredRows, init=False, repr=False, compare=False)
    # The one list of automated actors (analysis.automation), found once: `views` holds every row
    # except those of its high-tier episodes, which `set_aside` holds (same columns); question 4
    # reads both (`all_views`), every other question only `views`.
    automated: Automated = field(default_factory=Automated)
    set_aside: pl.LazyFrame | None = None
    # One row per distinct cohort id of the log (null included) with the cohort's columns as the
    # views carry them (`_cohort_lookup`, collected once): report.materialize looks the labels up here
    # instead of scanning the views for them. None: not known (materialize finds them in the views).
    cohort_labels: pl.DataFrame | None = None
    # One row per distinct path of the log (null included) with the path's columns as the views
    # carry them (PATH_COLUMNS, Categorical): the views and report.materialize look them up here.
    # None: not known (materialize finds them in the views).
    path_labels: pl.DataFrame | None = None


def clean_path(path: pl.Expr) -> pl.Expr:
    """Path without query, fragment, surrounding slashes or whitespace, lower-cased."""
    return (
        path.str.strip_chars().str.replace(r"[?#].*$", "").str.strip_chars("/").str.to_lowercase()
    )


def page_kind(path: pl.Expr, config: Config) -> pl.Expr:
    lessons = config.lessons
    cleaned = clean_path(path)
    extension = cleaned.str.extract(r"\.([a-z0-9]{1,6})$", 1)
    # One Aho-Corasick pass instead of a lower-cased copy per pattern (20x faster on 900k rows).
    patterns = [pattern.lower() for pattern in lessons.probe_patterns]
    probe = (
        path.str.contains_any(patterns, ascii_case_insensitive=True) if patterns else pl.lit(False)
    )
    return (
        pl.when(path.is_null())
        .then(pl.lit("empty"))
        .when(probe)
        .then(pl.lit("probe"))
        .when(
            cleaned.is_in([p.strip("/").lower() for p in lessons.non_lesson_paths])
            | (cleaned == "")
            | _is_root_listing(cleaned)
        )
        .then(pl.lit("navigation"))
        .when(extension.is_in(list(lessons.asset_extensions)))
        .then(pl.lit("asset"))
        .otherwise(pl.lit("lesson"))
    )


def _is_root_listing(cleaned: pl.Expr) -> pl.Expr:
    """Pages that only list lessons: a root folder (ROOT_FOLDERS), a module folder directly inside
    one, and an index or table-of-contents page inside any folder (`appendix/index.html`)."""
    index_page = cleaned.str.contains(r"/(?:index\.html?|toc)$")
    if not ROOT_FOLDERS:
        return index_page
    roots = "|".join(_escape(root) for root in ROOT_FOLDERS)
    return index_page | cleaned.str.contains(rf"^(?:{roots})(?:/[^/]+)?$")


def lesson_name(path: pl.Expr, config: Config) -> pl.Expr:
    """Normalised lesson for a raw path (apply only where page_kind == 'lesson')."""
    lesson = clean_path(path).str.replace_all(r"/{2,}", "/")
    if ROOT_FOLDERS:
        roots = "|".join(_escape(root) for root in ROOT_FOLDERS)
        lesson = lesson.str.replace(rf"^(?:{roots})/", "")
    if config.lessons.strip_numbered_prefixes:
        lesson = lesson.str.replace_all(_NUMBERED_PREFIX, "${1}")
    exact = {k.strip("/"): v.strip("/") for k, v in config.lessons.aliases.items() if "/" in k}
    modules = {
        k.strip("/"): v.strip("/") for k, v in config.lessons.aliases.items() if "/" not in k
    }
    for old, new in modules.items():
        lesson = lesson.str.replace(rf"^{_escape(old)}(/|$)", f"{new}${{1}}")
    if exact:
        lesson = lesson.replace(exact)
    return lesson


def lesson_title(lesson: pl.Expr) -> pl.Expr:
    """A reader's title for a normalised lesson: 'java-iii/user-input' -> 'Java III > User input'.

    The module (first segment) in title case, the rest in sentence case, joined by ' > '; '.html' and
    '.md' endings dropped, '-' and '_' read as spaces, TITLE_WORDS kept in their spelling (SQL, PHP,
    JavaScript, roman numerals)."""
    parts = lesson.str.replace(r"\.(?:html?|md)$", "").str.replace_all(r"[-_]+", " ").str.split("/")
    module = parts.list.first().str.to_titlecase()
    rest = parts.list.slice(1).list.eval(
        pl.concat_str(pl.element().str.slice(0, 1).str.to_uppercase(), pl.element().str.slice(1))
    )
    title = pl.concat_list(module, rest).list.join(" > ")
    return _spell_title_words(title)


def _spell_title_words(title: pl.Expr) -> pl.Expr:
    """`title` with every whole word that is a TITLE_WORDS key (in any case) in its spelling.

    The title is cut into runs of word and of other characters (`\\w`, as `\\b` sees them) and each
    word run looked up lower-cased: one pass instead of a case-insensitive `\\bword\\b` regex per key,
    whose 37 compilations cost about 10 ms a call at any scale. The result is the same: a key
    matches a whole word run, and a spelling is its key's word (same letters), so no replacement
    makes a new match for another key."""
    word = pl.element().str.to_lowercase()
    return (
        title.str.extract_all(r"\w+|\W+")
        .list.eval(
            pl.when(word.is_in(list(TITLE_WORDS)))
            .then(word.replace(TITLE_WORDS))
            .otherwise(pl.element())
        )
        .list.join("")
    )


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() and c not in "-_/" else c for c in text)


def cohort_table(cohorts: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Cohorts with role, program label and curriculum track."""
    people = config.people
    role = (
        pl.when(pl.col("name").is_in(list(people.staff_cohort_names)))
        .then(pl.lit("staff"))
        .when(pl.col("name").is_in(list(people.placeholder_cohort_names)))
        .then(pl.lit("placeholder"))
        .otherwise(pl.lit("student"))
    )
    labels = {int(k): v for k, v in config.programs.labels.items()}
    tracks = {int(k): v for k, v in config.programs.track.items()}
    program_label = pl.col("program_id").replace_strict(
        labels, default=None, return_dtype=pl.String
    )
    return cohorts.select(
        pl.col("id").alias("cohort_id"),
        pl.col("name").alias("cohort_name"),
        pl.col("start_date"),
        pl.col("end_date"),
        pl.col("program_id"),
        role.alias("role"),
        pl.when(role == "staff")
        .then(pl.lit("Staff"))
        .otherwise(
            program_label.fill_null(pl.lit("Program ") + pl.col("program_id").cast(pl.String))
        )
        .alias("program"),
        pl.when(role == "staff")
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(
            pl.col("program_id").replace_strict(tracks, default=None, return_dtype=pl.String)
        )
        .alias("track"),
    )


def path_table(logs: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """page_kind, lesson and module of every distinct path (null included)."""
    return (
        logs.select(pl.col("path").unique().cast(pl.String))
        .with_columns(page_kind(pl.col("path"), config).alias("page_kind"))
        .with_columns(
            pl.when(pl.col("page_kind") == "lesson")
            .then(lesson_name(pl.col("path"), config))
            .alias("lesson"),
        )
        .with_columns(
            pl.col("lesson").str.split("/").list.first().alias("module"),
            lesson_title(pl.col("lesson")).alias("lesson_title"),
        )
    )


# Text labels of the prepared views stored as pl.Categorical: 4 bytes a row instead of a string each
# (the collected views are the memory peak of `analyze`). Equality, is_in, group_by, sorting (lexical)
# and .first() work as on String; joins with String frames and string functions do not, so a question
# casts such a column to String after aggregating.
CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "path",
    "ip",
    "page_kind",
    "lesson",
    "lesson_title",
    "module",
    "cohort_name",
    "role",
    "program",
    "track",
    "window",
)


# Columns of the views that are functions of the row's path (`path_table`, a few thousand rows).
PATH_COLUMNS: tuple[str, ...] = ("page_kind", "lesson", "lesson_title", "module")


def _path_lookup(paths: pl.DataFrame) -> pl.LazyFrame:
    """`path_table` (collected) with Categorical columns, keyed by the views' Categorical path."""
    return paths.lazy().select(
        pl.col(name).cast(pl.Categorical) for name in ("path", *PATH_COLUMNS)
    )


# The largest table of values `label_lookups` indexes by an integer key (above: a look-up by value).
LOOKUP_MAX_SPAN = 1 << 20


_INTEGER_BITS: dict[pl.DataType, int] = {
    pl.Int8(): 8, pl.Int16(): 16, pl.Int32(): 32, pl.Int64(): 64,
    pl.UInt8(): 8, pl.UInt16(): 16, pl.UInt32(): 32, pl.UInt64(): 64,
}  # fmt: skip


def narrow_integers(frame: pl.DataFrame) -> list[pl.Expr]:
    """Each integer column of `frame` cast to the narrowest signed type that holds its values (user
    and cohort ids: 8 bytes a row -> 4 or 2; about 450 MB less at 50x in the stored views)."""
    columns = [name for name, dtype in frame.schema.items() if dtype.is_integer()]
    if not columns or frame.is_empty():
        return []
    bounds = frame.select(
        *(pl.col(name).min().alias(f"{name}:min") for name in columns),
        *(pl.col(name).max().alias(f"{name}:max") for name in columns),
    ).row(0, named=True)
    narrowed = []
    for name in columns:
        low, high = bounds[f"{name}:min"], bounds[f"{name}:max"]
        if low is None:
            continue
        for dtype, bits in ((pl.Int8, 8), (pl.Int16, 16), (pl.Int32, 32)):
            if -(1 << (bits - 1)) <= low and high < 1 << (bits - 1):
                if _INTEGER_BITS.get(frame.schema[name], 128) > bits:
                    narrowed.append(pl.col(name).cast(dtype))
                break
    return narrowed


def label_lookups(table: pl.DataFrame, key: str, columns: Sequence[str]) -> list[pl.Expr]:
    """`columns` of `table` (one row per distinct value of `key`, null included, covering every key
    of the rows it is used on) for each row's `key`, as expressions instead of a join: the views
    keep their own columns in memory (a join copies every one) and a plan computes only the labels
    it reads. The key's number (a Categorical's code, an integer's offset from the smallest key)
    indexes a table of the values: a gather, a tenth of the CPU of a look-up by value on 9M rows
    (`replace_strict`, used for other keys). A gather of a table blocks predicate pushdown: filter
    the rows before adding these columns where the filter does not read them."""
    column = pl.col(key)
    dtype = table.schema[key]
    known = table.filter(column.is_not_null())
    if known.is_empty() or not (dtype == pl.Categorical or dtype.is_integer()):
        return _replace_lookups(table, key, columns)
    number = column.to_physical() if dtype == pl.Categorical else column
    first = 0 if dtype == pl.Categorical else known.get_column(key).min()
    known = known.with_columns((number.cast(pl.Int64) - first).alias("_number"))
    span = int(known.get_column("_number").max()) + 1  # type: ignore[arg-type]
    if span > LOOKUP_MAX_SPAN:
        return _replace_lookups(table, key, columns)
    # row i holds the labels of number i (null where no key of `table` has that number)
    by_number = pl.DataFrame({"_number": pl.int_range(span, eager=True, dtype=pl.Int64)}).join(
        known, on="_number", how="left", maintain_order="left"
    )
    unnamed = table.filter(column.is_null())
    index = number if dtype == pl.Categorical else number - first
    exprs = []
    for name in columns:
        value = pl.lit(by_number.get_column(name)).gather(index)
        missing = unnamed.get_column(name)[0] if unnamed.height else None
        if missing is not None:  # the null key's label (the empty path's page kind, "no_cohort")
            value = (
                pl.when(column.is_null())
                .then(pl.lit(missing, dtype=table.schema[name]))
                .otherwise(value)
            )
        exprs.append(value.alias(name))
    return exprs


def _replace_lookups(table: pl.DataFrame, key: str, columns: Sequence[str]) -> list[pl.Expr]:
    """`label_lookups` by value."""
    keys = table.get_column(key)
    return [
        pl.col(key)
        .replace_strict(keys, table.get_column(name), default=None, return_dtype=table.schema[name])
        .alias(name)
        for name in columns
    ]


def _cohort_lookup(logs: pl.LazyFrame, cohorts: pl.DataFrame) -> pl.LazyFrame:
    """One row per distinct cohort id of the log (null included): the cohort's columns, and role and
    program with the `no_cohort` and `unknown_cohort` rules applied."""
    return (
        logs.select(pl.col("cohort_id").unique())
        .join(cohorts.lazy(), on="cohort_id", how="left")
        .with_columns(
            pl.when(pl.col("cohort_id").is_null())
            .then(pl.lit("no_cohort"))
            .when(pl.col("role").is_null())
            .then(pl.lit("unknown_cohort"))
            .otherwise(pl.col("role"))
            .alias("role"),
        )
        .with_columns(
            pl.when(pl.col("role") == "no_cohort")
            .then(pl.lit("No cohort"))
            .when(pl.col("role") == "unknown_cohort")
            .then(pl.lit("Unknown cohort"))
            .otherwise(pl.col("program"))
            .alias("program"),
        )
        .with_columns(
            pl.col(name).cast(pl.Categorical)
            for name in ("cohort_name", "role", "program", "track")
        )
    )


def window_of(role: pl.Expr, date: pl.Expr, start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """`window` of a view from its date and its cohort's role, start and end date: before, active or
    alumni for a student's view, null for the others (Categorical)."""
    return (
        pl.when(role != "student")
        .then(pl.lit(None, dtype=pl.Categorical))
        .when(date < start)
        .then(pl.lit("before", dtype=pl.Categorical))
        .when(date <= end)
        .then(pl.lit("active", dtype=pl.Categorical))
        .otherwise(pl.lit("alumni", dtype=pl.Categorical))
        .alias("window")
    )


def window_lookup(
    cohort_labels: pl.DataFrame,
    timestamp: pl.DataType,
    first: dt.datetime | None,
    last: dt.datetime | None,
) -> pl.Expr | None:
    """`window` of a row of the log (`window_of` its labels) read from its cohort id and timestamp
    alone: computed once per cohort and day from `first` to `last` (the log's first and last view;
    `cohort_labels` covers its cohort ids) into a table, which each row indexes by (cohort number,
    day number), one gather instead of looking role, start and end date up and comparing them on
    every row (a tenth of the CPU: 0.17 s less at 10x). The same values as `window_of`. None when
    the timestamp has a time zone (its date is not a day count), there is no view or cohort id, or
    the table would exceed LOOKUP_MAX_SPAN."""
    if (
        not isinstance(timestamp, pl.Datetime)
        or timestamp.time_zone is not None
        or first is None
        or last is None
    ):
        return None
    known = cohort_labels.filter(pl.col("cohort_id").is_not_null())
    if known.is_empty():
        return None
    cohort0 = int(cast(int, known.get_column("cohort_id").min()))
    cohorts = int(cast(int, known.get_column("cohort_id").max())) - cohort0 + 1
    day0 = (first.date() - dt.date(1970, 1, 1)).days
    days = (last.date() - first.date()).days + 1
    if cohorts * days > LOOKUP_MAX_SPAN:
        return None
    number = pl.col("_number")
    # row i: cohort number i // days on day i % days (null where no cohort has that number)
    table = (
        pl.DataFrame({"_number": pl.int_range(cohorts * days, eager=True, dtype=pl.Int64)})
        .with_columns(
            (number // days + cohort0).cast(known.schema["cohort_id"]).alias("cohort_id"),
            (number % days + day0).cast(pl.Int32).cast(pl.Date).alias("date"),
        )
        .join(known, on="cohort_id", how="left", maintain_order="left")
        .select(window_of(pl.col("role"), pl.col("date"), pl.col("start_date"), pl.col("end_date")))
    )
    day = pl.col("timestamp").to_physical() // time_units(timestamp, 86_400) - day0
    cohort = pl.col("cohort_id").cast(pl.Int64) - cohort0
    return pl.lit(table.get_column("window")).gather(cohort * days + day).alias("window")


# Columns of the views that are functions of the row's timestamp (report.materialize keeps them lazy).
TIME_COLUMNS: tuple[str, ...] = ("date", "hour", "weekday")


def time_columns() -> list[pl.Expr]:
    """date, hour and weekday (1 = Monday) of the row's timestamp (TIME_COLUMNS)."""
    timestamp = pl.col("timestamp")
    return [
        timestamp.dt.date().alias("date"),
        timestamp.dt.hour().alias("hour"),
        timestamp.dt.weekday().alias("weekday"),
    ]


def prepare(snapshot: Snapshot, config: Config) -> Prepared:
    """Columns of `views`: timestamp, date, hour, weekday (1=Mon), path, user_id, cohort_id, ip,
    page_kind, lesson, lesson_title, module, cohort_name, program_id, program, track, role, start_date, end_date,
    window, days_after_end (alumni only) and days_before_start (before only)."""
    cohorts = cohort_table(snapshot.cohorts, config)
    # The log read once (path and ip as Categorical, 4 bytes a row each): every step below works on
    # these rows in memory instead of scanning the files again. The streaming engine casts each
    # batch as it is read (never the whole log as text: 30 % less peak at 10x). The cohort id is
    # held in the narrowest integer type that holds it (2 bytes instead of 8: 270 MB less at 50x
    # while the automated actors are searched; nothing there reads it) and read back as its own
    # type by the views.
    read = snapshot.logs.with_columns(pl.col("path", "ip").cast(pl.Categorical)).collect(
        engine="streaming"
    )
    log_schema = read.schema
    logs = read.with_columns(narrow_integers(read.select("cohort_id"))).lazy()
    del read
    # about 60 rows: collected once, looked up by the views (and kept for materialize)
    cohort_labels = (
        _cohort_lookup(logs, cohorts)
        .with_columns(pl.col("cohort_id").cast(log_schema["cohort_id"]))
        .collect()
    )
    # one row per distinct path (a few thousand): classified once, read by the views and by the
    # search for automated actors
    paths = path_table(logs, config).collect()
    path_labels = _path_lookup(paths).collect()
    # The regexes and the people rules run once per distinct path (about 2,000) and per distinct
    # cohort id, not once per row (bench/README.md); each row only looks its labels up.
    lookups = [
        *label_lookups(path_labels, "path", PATH_COLUMNS),
        *label_lookups(cohort_labels, "cohort_id", cohort_labels.columns[1:]),
    ]

    # the log's integer columns read back as the log's types (held narrower in memory)
    widen = [pl.col(name).cast(dtype) for name, dtype in log_schema.items() if dtype.is_integer()]
    order = [
        *log_schema.names(), *TIME_COLUMNS, *PATH_COLUMNS, *cohort_labels.columns[1:],
        "window", "days_after_end", "days_before_start",
    ]  # fmt: skip

    def label(rows: pl.LazyFrame) -> pl.LazyFrame:
        """The views' columns for rows of `logs` (their window too, unless they hold it)."""
        labelled = rows.with_columns(*widen, *time_columns()).with_columns(*lookups)
        if "window" not in rows.collect_schema().names():
            labelled = labelled.with_columns(
                window_of(pl.col("role"), pl.col("date"), pl.col("start_date"), pl.col("end_date"))
            )
        return labelled.with_columns(
            pl.when(pl.col("window") == "alumni")
            .then((pl.col("date") - pl.col("end_date")).dt.total_days())
            .alias("days_after_end"),
            pl.when(pl.col("window") == "before")
            .then((pl.col("start_date") - pl.col("date")).dt.total_days())
            .alias("days_before_start"),
        ).select(order)

    bounds = logs.select(
        pl.col("timestamp").min().alias("start"), pl.col("timestamp").max().alias("end")
    ).collect()
    start, end = bounds.row(0)
    window = window_lookup(cohort_labels, log_schema["timestamp"], start, end)
    views, set_aside, automated, kept = set_aside_automated(
        logs, label, config, path_labels, window
    )
    prepared = Prepared(
        views=views,
        cohorts=cohorts,
        data_start=start or dt.datetime(1970, 1, 1),
        data_end=end or dt.datetime(1970, 1, 1),
        simulated=snapshot.manifest.simulated,
        automated=automated,
        set_aside=set_aside,
        cohort_labels=cohort_labels,
        path_labels=path_labels,
    )
    # the kept rows in memory (their stored columns): report.materialize takes them as they are
    # instead of collecting the views again, and chosen_views chooses among them
    prepared.stored.rows, prepared.stored.label = kept, label if kept is not None else None
    return prepared


def set_aside_automated(
    logs: pl.LazyFrame,
    label: Callable[[pl.LazyFrame], pl.LazyFrame],
    config: Config,
    paths: pl.DataFrame | None = None,
    window: pl.Expr | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame | None, Automated, pl.DataFrame | None]:
    """The automated actors of the log (analysis.automation), found once on the raw rows with their
    page kinds, and the views (`label` of rows of `logs`) split into those kept and those of
    high-tier automated episodes (a few thousand rows: collected once here, so question 4 and the
    counts do not run the views' plan again for them). The rows are chosen before they are labelled
    (label_lookups block predicate pushdown): by their position in `logs` (an in-memory frame,
    numbered where it is read rather than holding a column of numbers through the search), as one
    flag a row that both filters read. `paths`
    is the path lookup of prepare (`Prepared.path_labels`), when the caller has it.

    With `window` (`window_lookup`: the window from stored columns only), the kept rows are
    collected with their window and the user id in its narrowest type (the stored rows of
    report.materialize, which takes them instead of collecting the views: one collect of the rows
    fewer, and no per-row look-up of role and dates; 0.2 s of CPU less at 10x) and returned last;
    without, the kept views are a plan on `logs` and None is returned last."""
    if paths is None:
        paths = _path_lookup(path_table(logs, config).collect()).collect()
    # page_kind looked up per row rather than joined: the rows keep the log's own columns (in
    # memory, not copied), which the search reads in place. The kind as an Enum of the five kinds
    # (one byte a row instead of a Categorical's four: 135 MB less at 50x in the search's frame)
    kinds = paths.select("path", pl.col("page_kind").cast(pl.Enum(PAGE_KINDS)))
    rows = logs.with_columns(pl.col("path", "ip").cast(pl.Categorical)).with_columns(
        *label_lookups(kinds, "path", ["page_kind"])
    )
    automated = find_automated(rows, config)
    kept_rows, set_aside = logs, None
    if not automated.episodes.is_empty():
        inside = episode_rows(logs.with_row_index("row"), automated.episodes).collect()["row"]
        # one flag a row, set at the episodes' rows: both filters read it instead of testing each
        # row's number against the episodes' rows (a hash probe a row, twice: 0.06 s at 10x)
        height = logs.select(pl.len()).collect().item()
        out = pl.lit(pl.repeat(False, height, eager=True).scatter(inside, True))
        labelled = label(logs.filter(out)).collect()
        students = labelled.filter(
            (pl.col("role") == "student") & (pl.col("page_kind") == "lesson")
        )
        automated = dataclasses.replace(
            automated,
            views_set_aside=labelled.height,
            student_views_set_aside=students.height,
        )
        kept_rows = logs.filter(~out)
        set_aside = labelled.lazy()
    if window is None:
        return label(kept_rows), set_aside, automated, None
    # the user id narrowed as the rows are gathered (not gathered wide and cast after: a transient
    # column of 360 MB at 50x)
    users = narrow_integers(logs.select("user_id").collect())
    kept = kept_rows.with_columns(*users, window).collect()
    return label(kept.lazy()), set_aside, automated, kept


def all_views(prepared: Prepared) -> pl.LazyFrame:
    """Every view, automated episodes included (question 4's population): `every_view` with every
    column and without its `kept` flag."""
    if prepared.set_aside is None:
        return prepared.views
    return every_view(prepared, prepared.views.collect_schema().names()).drop("kept")


def labels_by_cohort(prepared: Prepared, *columns: str) -> pl.LazyFrame:
    """cohort_id and `columns` (labels that are functions of the cohort id) for every cohort id of
    the views, null included (`_labels_by`)."""
    return _labels_by(prepared, prepared.cohort_labels, "cohort_id", columns)


def labels_by_path(prepared: Prepared, *columns: str) -> pl.LazyFrame:
    """path and `columns` (labels that are functions of the path, PATH_COLUMNS) for every path of
    the views, null included (`_labels_by`)."""
    return _labels_by(prepared, prepared.path_labels, "path", columns)


def _labels_by(
    prepared: Prepared, table: pl.DataFrame | None, key: str, columns: Sequence[str]
) -> pl.LazyFrame:
    """`key` and `columns` from prepare's lookup `table`, or read from the views when the Prepared
    was built without it."""
    if table is not None:
        return table.lazy().select(key, *columns)
    return prepared.views.select(key, *columns).unique()


def chosen_views(prepared: Prepared, predicate: pl.Expr) -> pl.LazyFrame:
    """`prepared.views.filter(predicate)`. On materialized views, when the predicate reads stored
    columns only, the rows are chosen first and only they are labelled (look-ups block predicate
    pushdown: the plain filter would look every row's labels up)."""
    stored = prepared.stored
    if stored.rows is None or stored.label is None:
        return prepared.views.filter(predicate)
    if not set(predicate.meta.root_names()) <= set(stored.rows.columns):
        return prepared.views.filter(predicate)
    return stored.label(stored.rows.lazy().filter(predicate))


def paths_where(prepared: Prepared, predicate: pl.Expr) -> pl.Expr:
    """True on a row whose path's labels (PATH_COLUMNS) meet `predicate`: the path looked up in
    prepare's path table (a few thousand rows), so the test reads the stored path column only;
    without that table, `predicate` itself."""
    if prepared.path_labels is None:
        return predicate
    chosen = prepared.path_labels.filter(predicate).get_column("path")
    return pl.col("path").is_in(chosen.implode(), nulls_equal=True)


def student_rows(prepared: Prepared) -> pl.Expr:
    """True on a student's row, chosen by cohort id from the cohorts table: the rows whose role is
    "student", without looking up a role on every row (0.2-0.5 s at 10x)."""
    ids = prepared.cohorts.filter(pl.col("role") == "student").get_column("cohort_id")
    return pl.col("cohort_id").is_in(ids.implode())


def student_lesson_views(
    prepared: Prepared, *, named: bool = False, also: pl.Expr | None = None
) -> pl.LazyFrame:
    """Students' lesson views: the population of every student ranking. `named`: only views of a
    lesson with a name (not null or empty); `also`: a further condition on stored columns (e.g. the
    window), applied before the rows are labelled (`chosen_views`)."""
    lesson = pl.col("page_kind") == "lesson"
    if named:
        lesson = lesson & named_lessons()
    chosen = student_rows(prepared) & paths_where(prepared, lesson)
    return chosen_views(prepared, chosen if also is None else chosen & also)


def named_lessons() -> pl.Expr:
    """True on a row whose lesson has a name (not null or empty): the lessons rankings name."""
    return pl.col("lesson").is_not_null() & (pl.col("lesson") != "")


def lesson_titles(prepared: Prepared) -> pl.LazyFrame:
    """lesson and lesson_title (a function of the lesson) of every lesson of the views, once each:
    joined to counts per lesson instead of carrying the title through a group-by."""
    return (
        labels_by_path(prepared, "lesson", "lesson_title")
        .select("lesson", "lesson_title")
        .filter(pl.col("lesson").is_not_null())
        .unique()
    )


def enrollments(prepared: Prepared) -> pl.LazyFrame:
    """One row per (user, cohort) seen in the log: who appears under several cohorts, and when.
    The cohort's labels are joined to the grouped rows (`labels_by_cohort`), not read per view."""
    labels = labels_by_cohort(
        prepared, "cohort_name", "program", "role", "start_date", "end_date"
    ).filter(pl.col("cohort_id").is_not_null())
    return (
        prepared.views.filter(pl.col("cohort_id").is_not_null())
        .group_by("user_id", "cohort_id")
        .agg(
            pl.col("timestamp").min().alias("first_seen"),
            pl.col("timestamp").max().alias("last_seen"),
            pl.len().alias("views"),
        )
        .join(labels, on="cohort_id", how="left")
        .select(
            "user_id",
            "cohort_id",
            "cohort_name",
            "program",
            "role",
            "start_date",
            "end_date",
            "first_seen",
            "last_seen",
            "views",
        )
        .with_columns(pl.col("cohort_id").n_unique().over("user_id").alias("cohorts_of_user"))
        .sort("user_id", "first_seen")
    )


# --- per user, address and day: the one pass most questions' counts come from ---------------------------

# The columns of the views `group_user_ip_days` reads (role and end date come from the cohort id).
DAY_COLUMNS = ("timestamp", "date", "user_id", "cohort_id", "ip", "page_kind", "window")


def every_view(prepared: Prepared, columns: Sequence[str]) -> pl.LazyFrame:
    """`columns` of every view, those of automated episodes set aside by the preparation included,
    and `kept` (False on those): question 4's population. Not collected: read in place."""
    parts = [prepared.views.select(columns).with_columns(pl.lit(True).alias("kept"))]
    if prepared.set_aside is not None:
        parts.append(prepared.set_aside.select(columns).with_columns(pl.lit(False).alias("kept")))
    return pl.concat(parts, how="vertical_relaxed")


def roles_by_cohort(prepared: Prepared) -> pl.DataFrame:
    """`cohort_roles` of every view's cohort id (set-aside views included), from prepare's lookup."""
    labels = [labels_by_cohort(prepared, "role", "end_date")]
    if prepared.set_aside is not None:
        labels.append(prepared.set_aside.select("cohort_id", "role", "end_date"))
    return cohort_roles(pl.concat(labels, how="vertical_relaxed"))


def user_ip_days(prepared: Prepared) -> pl.LazyFrame:
    """`group_user_ip_days` of every view (about an eighth of the rows), computed once per Prepared
    (kept in `prepared.aggregates`): question 4's detectors, the users' addresses
    (`user_addresses`), question 3's active days and question 8's daily and yearly counts read it
    instead of scanning the views again."""
    held = prepared.aggregates
    with held.lock:
        if held.user_ip_days is None:
            # held through the questions (about 5.7M rows at 50x): the ids in their narrowest type and
            # role and end date looked up from the cohort id as it is read (100 MB less at 50x)
            roles = roles_by_cohort(prepared)
            labelled = group_user_ip_days(every_view(prepared, DAY_COLUMNS), roles)
            schema = labelled.collect_schema()
            rows = labelled.drop("role", "end_date").collect()
            rows = rows.with_columns(narrow_integers(rows.select("user_id", "cohort_id")))
            held.user_ip_days = (
                rows.lazy()
                .with_columns(
                    pl.col("user_id").cast(schema["user_id"]),
                    pl.col("cohort_id").cast(schema["cohort_id"]),
                    *label_lookups(roles, "cohort_id", ["role", "end_date"]),
                )
                .select(UID_COLUMNS)
            )
    return held.user_ip_days


# The columns of `user_ip_days`, in order.
UID_COLUMNS = (
    "user_id", "ip", "date", "cohort_id", "role", "end_date", "window", "kept", "rows", "nonprobe",
    "pages", "first", "last", "np_first", "np_last", "pg_first", "pg_last",
)  # fmt: skip


def group_user_ip_days(base: pl.LazyFrame, roles: pl.DataFrame) -> pl.LazyFrame:
    """One row per user, address, day and cohort (with its role, end date and the student's window,
    and `kept`: False for views of an automated episode set aside by the preparation): all rows,
    rows other than probes (`nonprobe`), lesson and navigation rows (`pages`), and the first and last
    of each. `base` is `every_view(prepared, DAY_COLUMNS)`; `user_ip_days` keeps the result.

    Role and end date are functions of the cohort id: looked up in `roles` (one row per cohort id,
    null included) for each row of the result, not for every view (the prepared views compute them
    row by row). The window is a function of the cohort id and the date (prepare), so it is taken
    from each group rather than grouped on. Lesson and navigation rows are nearly all rows: every
    row is counted and their first and last taken (a plain min/max of a column that is null on the
    other rows); the other rows (a few in a thousand) are grouped apart and joined, and the first
    and last of all rows and of non-probes are the earlier and later of both. The five keys are
    grouped as one integer when they fit in one (`_day_key`), else as five columns. Together about
    half the CPU at 10x of one grouping on five columns with every aggregation; the same frame."""
    nonprobe = pl.col("page_kind") != "probe"
    page = pl.col("page_kind").is_in(["lesson", "navigation"])
    ts = pl.col("timestamp")
    key = _day_key(base)
    if key is None:
        rows, on, ip = base, ["user_id", "ip", "date", "cohort_id", "kept"], []
    else:
        rows, on, ip = base.with_columns(key[0]), ["_key"], [pl.col("ip").first()]
    every = (
        rows.with_columns(pl.when(page).then(ts).alias("_pg"))
        .group_by(on)
        .agg(
            *ip,
            pl.col("window").first(),
            pl.len().alias("rows"),
            page.sum().alias("pages"),
            pl.col("_pg").min().alias("pg_first"),
            pl.col("_pg").max().alias("pg_last"),
        )
    )
    other = (
        rows.filter(~page.fill_null(False))
        .with_columns(pl.when(nonprobe).then(ts).alias("_np"))
        .group_by(on)
        .agg(
            nonprobe.sum().alias("_nonprobe"),
            ts.min().alias("_first"),
            ts.max().alias("_last"),
            pl.col("_np").min().alias("_np_first"),
            pl.col("_np").max().alias("_np_last"),
        )
    )
    grouped = every.join(other, on=on, how="left", nulls_equal=True).with_columns(
        (pl.col("pages") + pl.col("_nonprobe").fill_null(0)).alias("nonprobe"),
        pl.min_horizontal("pg_first", "_first").alias("first"),
        pl.max_horizontal("pg_last", "_last").alias("last"),
        pl.min_horizontal("pg_first", "_np_first").alias("np_first"),
        pl.max_horizontal("pg_last", "_np_last").alias("np_last"),
    )
    if key is not None:
        grouped = grouped.with_columns(key[1])
    return grouped.with_columns(*label_lookups(roles, "cohort_id", ["role", "end_date"])).select(
        UID_COLUMNS
    )


def cohort_roles(labels: pl.LazyFrame) -> pl.DataFrame:
    """`labels` (cohort_id, role, end_date: labels that are functions of the cohort id) as one row
    per cohort id, null included: the `roles` of `group_user_ip_days` and question 4's `pooled_views`."""
    return labels.select("cohort_id", "role", "end_date").unique(subset="cohort_id").collect()


def _day_key(base: pl.LazyFrame) -> tuple[pl.Expr, list[pl.Expr]] | None:
    """The keys of `group_user_ip_days` as one Int64 (`_key`: user, cohort, day and address numbered
    from 1, 0 for null, and `kept`), and the user, cohort, day and kept read back from it; None when
    the address is not Categorical (its code is the address's number), a key is null on every row
    or the numbers do not fit in 63 bits."""
    schema = base.collect_schema()
    if schema["ip"] != pl.Categorical:
        return None
    user, cohort, date = pl.col("user_id"), pl.col("cohort_id"), pl.col("date")
    stats = (
        base.select(
            user.min().alias("u0"),
            (user.max() - user.min() + 2).alias("users"),
            cohort.min().alias("c0"),
            (cohort.max() - cohort.min() + 2).alias("cohorts"),
            date.min().alias("d0"),
            ((date.max() - date.min()).dt.total_days() + 2).alias("days"),
            (pl.col("ip").to_physical().max().cast(pl.Int64) + 2).alias("ips"),
        )
        .collect()
        .row(0, named=True)
    )
    if any(value is None for value in stats.values()):
        return None
    users, cohorts, days, ips = (int(stats[name]) for name in ("users", "cohorts", "days", "ips"))
    if 2 * users * cohorts * days * ips >= 1 << 63:
        return None
    number = [
        (user - stats["u0"] + 1).fill_null(0),
        (cohort - stats["c0"] + 1).fill_null(0),
        ((date - pl.lit(stats["d0"])).dt.total_days() + 1).fill_null(0),
        (pl.col("ip").to_physical().cast(pl.Int64) + 1).fill_null(0),
    ]
    packed = (
        ((number[0] * cohorts + number[1]) * days + number[2]) * ips + number[3]
    ) * 2 + pl.col("kept").cast(pl.Int64)
    key = pl.col("_key")
    u, c, d = (
        key // (2 * ips * days * cohorts),
        key // (2 * ips * days) % cohorts,
        key // (2 * ips) % days,
    )
    return packed.alias("_key"), [
        pl.when(u > 0).then(u + stats["u0"] - 1).cast(schema["user_id"]).alias("user_id"),
        pl.when(c > 0).then(c + stats["c0"] - 1).cast(schema["cohort_id"]).alias("cohort_id"),
        pl.when(d > 0)
        .then(pl.lit(stats["d0"]) + pl.duration(days=d - 1))
        .cast(schema["date"])
        .alias("date"),
        (key % 2 == 1).alias("kept"),
    ]


def user_addresses(prepared: Prepared) -> pl.DataFrame:
    """One row per (user_id, cohort_id, ip) of the views, nulls included (about 60,000 rows at 10x):
    `views`, and the `first` and `last` view's timestamp. Computed once per Prepared (kept in
    `prepared.aggregates`) from `user_ip_days` (its kept rows), not from the views: the campus
    addresses, question 3 (students' addresses, each address's users), question 6 (the graduates)
    and question 8 (views per user and cohort, students' addresses) aggregate these rows."""
    held = prepared.aggregates
    with held.lock:
        if held.addresses is None:
            held.addresses = (
                user_ip_days(prepared)
                .filter(pl.col("kept"))
                .group_by("user_id", "cohort_id", "ip")
                .agg(
                    pl.col("rows").sum().cast(pl.Int64).alias("views"),
                    pl.col("first").min().alias("first"),
                    pl.col("last").max().alias("last"),
                )
                .collect()
            )
    return held.addresses


class StudentNumbers(NamedTuple):
    """The ranges that number students' views in one packed integer key (`student_numbers`): a
    cohort's number is its id - `cohort0` (below `cohorts`), a user's its id - `user0` + 1 (0 for a
    null user, below `users`)."""

    cohort0: int
    cohorts: int
    user0: int
    users: int

    def cohort(self) -> pl.Expr:
        return pl.col("cohort_id").cast(pl.Int64) - self.cohort0

    def user(self) -> pl.Expr:
        return (pl.col("user_id").cast(pl.Int64) - self.user0 + 1).fill_null(0)


def student_numbers(prepared: Prepared) -> StudentNumbers | None:
    """`StudentNumbers` from the student cohorts of the cohorts table and the smallest and largest
    user id of the views (one column read, no labels: about 10 ms at 10x; not from a shared
    aggregate, so the lesson counts do not wait for `user_ip_days` when questions run at once);
    None without a student cohort."""
    ids = prepared.cohorts.filter(pl.col("role") == "student").get_column("cohort_id")
    cohort0, cohort1 = ids.min(), ids.max()
    if cohort0 is None or cohort1 is None:
        return None
    user = pl.col("user_id")
    low, high = prepared.views.select(user.min(), user.max().alias("high")).collect().row(0)
    known = low is not None
    user0 = int(low) if known else 0
    return StudentNumbers(
        cohort0=int(cast(int, cohort0)),
        cohorts=int(cast(int, cohort1)) - int(cast(int, cohort0)) + 1,
        user0=user0,
        users=int(high) - user0 + 2 if known else 1,
    )


# --- per student, lesson and window: the lesson views questions 1, 2, 3, 5 and 7 count ------------

# The columns of `student_lesson_counts`, in order.
LESSON_COUNT_COLUMNS = ("cohort_id", "user_id", "lesson", "window", "views")


@dataclass(frozen=True)
class LessonCounts:
    """What questions 1, 2, 3, 5 and 7 count of the students' lesson views, from one pass over them
    (`lesson_counts`): each a few thousand to tens of thousands of rows."""

    # per (cohort_id, lesson) of named lessons: views (any window), and while enrolled the views
    # (`enrolled_views`), the heaviest reader's views (`top_enrolled_views`) and the readers
    # (`enrolled_readers`; a null user is one); Int64
    cohort_lessons: pl.DataFrame
    # per cohort_id: its readers of a named lesson while enrolled (`students`, Int64)
    enrolled_students: pl.DataFrame
    # per (user_id, cohort_id) while enrolled: lesson views (`views`, unnamed lessons included) and
    # distinct lessons (`lessons`, a null lesson not counted); UInt32
    enrollments: pl.DataFrame
    # per (program, lesson) of named lessons: distinct readers (`users`, UInt32; a null user one)
    program_readers: pl.DataFrame


def lesson_counts(prepared: Prepared) -> LessonCounts:
    """`LessonCounts` of the students' lesson views, computed once per Prepared (kept in
    `prepared.aggregates`) from `student_lesson_counts`: question 1's views per cohort and lesson,
    question 2's readers while enrolled, question 3's lesson views per enrollment, the lesson homes'
    views per track (`lesson_track_counts`, questions 5 and 7) and question 7's readers per program
    instead of five scans of the views (at 10x about 0.6 s CPU less). Only these small tables are
    kept, not the per student, lesson and window rows (about 100 MB at 50x, which held through
    question 4 would raise the peak)."""
    held = prepared.aggregates
    with held.lock:
        if held.lesson_counts is None:
            # read back from the packed key once for the four aggregates (a third less CPU than once
            # for each; 240 MB at 50x while question 1 runs, below the later questions' peak)
            counts = student_lesson_counts(prepared).collect().lazy()
            named = counts.filter(named_lessons())
            active = pl.col("window") == "active"
            # a (cohort, lesson, user) has one enrolled row at most: per (cohort, lesson) the largest of
            # its enrolled views is the heaviest reader's, those above 0 its readers
            enrolled = pl.when(active).then(pl.col("views")).otherwise(0).cast(pl.Int64)
            programs = prepared.cohorts.filter(pl.col("role") == "student").select(
                "cohort_id", "program"
            )
            cohort_lessons, students, enrollments, readers = pl.collect_all(
                [
                    named.with_columns(enrolled.alias("_e"))
                    .group_by("cohort_id", "lesson")
                    .agg(
                        pl.col("views").sum().cast(pl.Int64),
                        pl.col("_e").sum().alias("enrolled_views"),
                        pl.col("_e").max().alias("top_enrolled_views"),
                        (pl.col("_e") > 0).sum().cast(pl.Int64).alias("enrolled_readers"),
                    ),
                    named.filter(active)
                    .group_by("cohort_id")
                    .agg(pl.col("user_id").n_unique().cast(pl.Int64).alias("students")),
                    counts.filter(active)
                    .group_by("user_id", "cohort_id")
                    .agg(
                        pl.col("views").sum().cast(pl.UInt32),
                        pl.col("lesson").is_not_null().sum().cast(pl.UInt32).alias("lessons"),
                    ),
                    named.join(programs.lazy(), on="cohort_id")
                    .group_by("program", "lesson")
                    .agg(pl.col("user_id").n_unique().cast(pl.UInt32).alias("users")),
                ]
            )
            held.lesson_counts = LessonCounts(cohort_lessons, students, enrollments, readers)
    return held.lesson_counts


def student_lesson_counts(prepared: Prepared) -> pl.LazyFrame:
    """Students' lesson views (`student_lesson_views`, unnamed lessons included) per (cohort, user,
    lesson, window): `views` (UInt32; a null user or lesson is one key). About a quarter of the
    rows of the students' lesson views (1.7M rows at 10x, 8.4M at 50x). Computed, not kept: read by
    `lesson_counts`. The same rows as `group_lesson_counts` of those views.

    Each view is reduced to one Int64 (cohort, lesson, user and window numbered, `_lesson_key`),
    sorted, and its runs collected (the key and its length: 12 bytes a row); cohort, user, lesson and
    window are read back from the key as the rows are read. Sorting one integer costs about half of
    a hash group-by on the four columns at 10x (1.7M groups). The plain group-by when the key does
    not fit."""
    views = student_lesson_views(prepared)
    schema = views.collect_schema()
    packed = _lesson_key(prepared, schema)
    if packed is None:
        return group_lesson_counts(views).collect().lazy()
    key, decode = packed
    runs = views.select(key.sort().rle().alias("_run")).unnest("_run").collect()
    return decode(runs.lazy()).select(*LESSON_COUNT_COLUMNS[:-1], pl.col("len").alias("views"))


def group_lesson_counts(views: pl.LazyFrame) -> pl.LazyFrame:
    """`student_lesson_counts` of `views` by a group-by on the four columns: any key types."""
    return views.group_by("cohort_id", "user_id", "lesson", "window").agg(
        pl.len().cast(pl.UInt32).alias("views")
    )


def _lesson_key(
    prepared: Prepared, schema: pl.Schema
) -> tuple[pl.Expr, Callable[[pl.LazyFrame], pl.LazyFrame]] | None:
    """(cohort, lesson, user, window) of a student's lesson view as one Int64: ((cohort number x L
    + lesson code + 1) x U + user number) x 4 + window (1 before, 2 active, 3 alumni; 0 for null,
    as is a null lesson), with the numbers of `student_numbers` and L the lesson codes of the
    path table; and the function that reads the four columns back from the key (`value` of its
    runs). None when the
    lesson or window is not Categorical, user or cohort id not integers, there is no student
    cohort or the key does not fit in 63 bits."""
    if (
        schema["lesson"] != pl.Categorical
        or schema["window"] != pl.Categorical
        or not schema["user_id"].is_integer()
        or not schema["cohort_id"].is_integer()
    ):
        return None
    numbers = student_numbers(prepared)
    if numbers is None:
        return None
    codes = (
        labels_by_path(prepared, "lesson")
        .select(pl.col("lesson").drop_nulls().unique())
        .with_columns(pl.col("lesson").to_physical().cast(pl.Int64).alias("_code"))
        .collect()
    )
    lessons = int(cast(int, codes.get_column("_code").max() or 0)) + 2
    users = numbers.users
    if numbers.cohorts * lessons * users * 4 >= 1 << 63:
        return None
    window = pl.col("window")
    lesson = (pl.col("lesson").to_physical().cast(pl.Int64) + 1).fill_null(0)
    key = ((numbers.cohort() * lessons + lesson) * users + numbers.user()) * 4 + (
        pl.when(window == "active")
        .then(2)
        .when(window == "alumni")
        .then(3)
        .when(window == "before")
        .then(1)
        .otherwise(0)
    )
    value = pl.col("value")
    user = value // 4 % users
    lesson_number = value // (4 * users) % lessons
    windows = pl.Series([None, *WINDOWS], dtype=pl.Categorical)
    labels = label_lookups(codes.select("_code", "lesson"), "_code", ["lesson"])

    def decode(runs: pl.LazyFrame) -> pl.LazyFrame:
        return runs.with_columns(
            pl.when(lesson_number > 0).then(lesson_number - 1).alias("_code")
        ).with_columns(
            (value // (4 * users * lessons) + numbers.cohort0)
            .cast(schema["cohort_id"])
            .alias("cohort_id"),
            pl.when(user > 0)
            .then(user + numbers.user0 - 1)
            .cast(schema["user_id"])
            .alias("user_id"),
            *labels,
            pl.lit(windows).gather(value % 4).alias("window"),
        )

    return key, decode


def campus_ips(prepared: Prepared, config: Config) -> list[str]:
    """Shared campus NAT addresses: configured ones, plus any IP carrying at least
    `q4.campus_ip_min_share` of all views from at least `q4.shared_ip_min_users` users."""
    q4 = config.q4
    key = f"campus_ips:{q4.campus_ip_min_share}:{q4.shared_ip_min_users}:{q4.campus_ips}"
    if key in prepared.shared:
        return list(prepared.shared[key])
    detected = (
        user_addresses(prepared)
        .lazy()
        .group_by("ip")
        .agg(pl.col("views").sum(), pl.col("user_id").n_unique().alias("users"))
        .with_columns((pl.col("views") / pl.col("views").sum()).alias("share"))
        .filter(
            (pl.col("share") >= q4.campus_ip_min_share)
            & (pl.col("users") >= q4.shared_ip_min_users)
        )
        .sort("views", descending=True)
        .collect()
    )
    ordered = list(q4.campus_ips) + [
        ip for ip in detected["ip"].to_list() if ip not in q4.campus_ips
    ]
    prepared.shared[key] = tuple(ordered)
    return ordered


def tracked_cohorts(prepared: Prepared) -> pl.DataFrame:
    """cohort_id and track (String) of the student cohorts whose program has a curriculum track."""
    return prepared.cohorts.filter(
        (pl.col("role") == "student") & pl.col("track").is_not_null()
    ).select("cohort_id", "track")


def track_lesson_views(prepared: Prepared, also: pl.Expr | None = None) -> pl.LazyFrame:
    """Student lesson views with a module and a curriculum track: the evidence for module homes.
    Chosen by cohort id (`tracked_cohorts`), without looking up a track on every row; `also`: a
    further condition on stored columns, applied before the rows are labelled (`chosen_views`)."""
    ids = tracked_cohorts(prepared).get_column("cohort_id").implode()
    lessons = paths_where(
        prepared,
        (pl.col("page_kind") == "lesson")
        & pl.col("module").is_not_null()
        & (pl.col("module") != ""),
    )
    chosen = pl.col("cohort_id").is_in(ids) & lessons
    return chosen_views(prepared, chosen if also is None else chosen & also)


def _checked_overrides(config: Config) -> dict[str, str]:
    """`[q5.lesson_home_overrides]`, each naming a configured track (else a ConfigError)."""
    tracks = sorted(set(config.programs.track.values()))
    overrides = dict(config.q5.lesson_home_overrides)
    for key, track in overrides.items():
        if track not in tracks:
            raise ConfigError(
                f"q5.lesson_home_overrides: {key!r} names track {track!r} "
                f"(known tracks: {', '.join(tracks)})"
            )
    return overrides


def lesson_track_counts(prepared: Prepared) -> pl.LazyFrame:
    """Students' lesson views per (lesson, module, track) of `track_lesson_views` (lessons with a
    module, cohorts with a track): all of them (`views`) and those by students of the row's cohort
    while enrolled (`enrolled_views`, the evidence for lesson homes). Summed from the views per
    cohort and lesson (`lesson_counts`: no scan of the views), the cohort's track
    (`tracked_cohorts`) joined to those rows; the module (the lesson's first segment) told from
    the lesson. Lazy."""
    return (
        lesson_counts(prepared)
        .cohort_lessons.lazy()
        .join(tracked_cohorts(prepared).lazy(), on="cohort_id", how="inner")
        .group_by("lesson", "track")
        .agg(pl.col("views").sum(), pl.col("enrolled_views").sum())
        .pipe(as_text)  # lesson is Categorical in the prepared views
        .with_columns(pl.col("lesson").str.split("/").list.first().alias("module"))
        .filter(pl.col("module").is_not_null() & (pl.col("module") != ""))
        .select("lesson", "module", "track", "views", "enrolled_views")
    )


def _leading_track(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Per `key`: the track with the highest reading rate (enrolled views / the track's enrolled
    lesson views), its share of the summed rates, and the views."""
    totals = frame.group_by("track").agg(pl.col("enrolled_views").sum().alias("_total"))
    return (
        frame.join(totals, on="track", how="left")
        .with_columns(
            pl.when(pl.col("_total") > 0)
            .then(pl.col("enrolled_views") / pl.col("_total"))
            .otherwise(0.0)
            .alias("_rate")
        )
        .group_by(key)
        .agg(
            pl.col("track")
            .sort_by(["_rate", "track"], descending=[True, False])
            .first()
            .alias("top"),
            pl.when(pl.col("_rate").sum() > 0)
            .then(pl.col("_rate").max() / pl.col("_rate").sum())
            .alias("share"),
            pl.col("views").sum().alias("views"),
            pl.col("enrolled_views").sum().alias("enrolled_views"),
        )
    )


def lesson_home_table(lesson_track: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Home track per lesson from its views per track (`lesson_track_counts`, collected).

    The home is the track with the highest reading rate when it holds at least
    `q5.lesson_home_min_share` of the summed rates; a lesson with fewer than `q5.lesson_home_min_views`
    enrolled views takes its module's home by the same rule; `[q5.lesson_home_overrides]` wins (a key
    with a `/` names a lesson, one without a module). Columns: LESSON_HOMES_SCHEMA, sorted by views
    (descending) then lesson."""
    q5 = config.q5
    overrides = _checked_overrides(config)
    lesson_over = {k.strip("/"): v for k, v in overrides.items() if "/" in k}
    module_over = {k.strip("/"): v for k, v in overrides.items() if "/" not in k}
    if lesson_track.is_empty():
        return pl.DataFrame(schema=LESSON_HOMES_SCHEMA)
    modules = _leading_track(lesson_track, "module").select(
        "module",
        pl.when(pl.col("share") >= q5.lesson_home_min_share)
        .then(pl.col("top"))
        .alias("module_home"),
        pl.col("share").alias("module_share"),
    )
    lessons = _leading_track(lesson_track, "lesson").join(
        lesson_track.group_by("lesson").agg(pl.col("module").first()), on="lesson", how="left"
    )
    thin = pl.col("enrolled_views") < q5.lesson_home_min_views
    lesson_key = pl.col("lesson").is_in(list(lesson_over))
    module_key = pl.col("module").is_in(list(module_over))
    return (
        lessons.join(modules, on="module", how="left")
        .with_columns(
            pl.when(lesson_key | module_key)
            .then(pl.lit("override"))
            .when(thin)
            .then(pl.lit("module"))
            .otherwise(pl.lit("lesson"))
            .alias("basis"),
        )
        .with_columns(
            pl.when(lesson_key)
            .then(
                pl.col("lesson").replace_strict(lesson_over, default=None, return_dtype=pl.String)
            )
            .when(module_key)
            .then(
                pl.col("module").replace_strict(module_over, default=None, return_dtype=pl.String)
            )
            .when(thin)
            .then(pl.col("module_home"))
            .when(pl.col("share") >= q5.lesson_home_min_share)
            .then(pl.col("top"))
            .alias("home"),
            pl.when(thin).then(pl.col("module_share")).otherwise(pl.col("share")).alias("share"),
        )
        .select(LESSON_HOMES_SCHEMA.keys())
        .cast(LESSON_HOMES_SCHEMA)
        .sort("views", "lesson", descending=[True, False])
    )


def lesson_homes(prepared: Prepared, config: Config) -> pl.DataFrame:
    """Home track of every lesson read by a student of a tracked program (LESSON_HOMES_SCHEMA).

    From the per student, lesson and window counts (`lesson_track_counts`)."""
    return lesson_home_table(lesson_track_counts(prepared).collect(), config)


def own_track(track: pl.Expr, home: pl.Expr) -> pl.Expr:
    """True where a lesson belongs to the reader's track: its home is that track, it has no clear
    home (shared material), or the reader's program has no track configured."""
    return home.is_null() | track.is_null() | (home == track)


def keep_own_track(frame: FrameT, homes: pl.DataFrame) -> FrameT:
    """Rows of `frame` (with `track` and `lesson` columns) whose lesson belongs to the row's own
    track (see `own_track`); `homes` is a `lesson_homes` table, and lessons missing from it count as
    having no home."""
    table = homes.select("lesson", pl.col("home").alias("_home"))
    joined = frame.join(
        table.lazy() if isinstance(frame, pl.LazyFrame) else table,
        on="lesson",
        how="left",
        maintain_order="left",
    )
    return joined.filter(own_track(pl.col("track"), pl.col("_home"))).drop("_home")


def as_text(frame: FrameT) -> FrameT:
    """`frame` with its Categorical columns (the labels of the prepared views, CATEGORICAL_COLUMNS) cast
    back to String: for aggregates that go on to string functions or joins with String tables."""
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
