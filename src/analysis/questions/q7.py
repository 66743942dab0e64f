"""Question 7: which lessons are least accessed?

Naively the least accessed "lessons" are the thousands of paths hit once: typos, renamed pages, images,
attack probes. Those are the long tail, characterised separately over the whole log (every role). The
lesson ranking only considers real lessons: normalised lesson pages with at least `q7.min_views` student
views, per program, and only lessons of the program's own track (lessons whose home track,
`prepare.lesson_homes`, is the program's track, plus shared lessons with no clear home): a data-science
program's least-read lesson is not a web-dev lesson a few of its students opened.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import cast

import polars as pl

from analysis.config import Config
from analysis.glossary import TRACK_ADJECTIVES
from analysis.prepare import (
    Prepared,
    as_text,
    keep_own_track,
    labels_by_path,
    lesson_counts,
    lesson_home_table,
    lesson_track_counts,
    prepare,
)
from analysis.results import QuestionResult, Words, data_fields, join_words
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 7
SHORT_TITLE = "Least-accessed lessons"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 7
TITLE = "Which lessons are least accessed?"
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts, including the share of "
    "paths hit only once): lesson names and counts illustrate the method."
)
EXAMPLES_PER_KIND = 3
EXAMPLE_MAX_CHARS = 60

# Long-tail categories, in display order, with their readable labels.
TAIL_KINDS: dict[str, str] = {
    "lesson_variant": "Variant spelling of a known lesson",
    "renamed_or_typo_page": "Unknown page in a known module (renamed page or typo)",
    "unknown_module": "Unknown module (typo or stray path)",
    "navigation_variant": "Navigation page variant",
    "asset": "Asset (image, file)",
    "probe": "Attack probe",
    "empty": "Missing path",
}

LEAST_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "rank": pl.UInt32(),
    "lesson": pl.String(),
    "lesson_title": pl.String(),
    "views": pl.UInt32(),
    "users": pl.UInt32(),
    "cohorts": pl.UInt32(),
}
ELIGIBLE_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "lessons": pl.UInt32(),
    "below_floor": pl.UInt32(),
    "median_views": pl.Float64(),
    "other_track": pl.UInt32(),  # lessons of the other track's modules, left out of the ranking
    "least_views": pl.UInt32(),  # the fewest views of a ranked lesson (null: none ranked)
    "tied_least": pl.UInt32(),  # ranked lessons with exactly least_views views
    "rare_lessons": pl.UInt32(),  # ranked lessons in the first views bin (floor to the next edge)
}
# Lessons per program by how many student views they got (the chart of a bounded size).
VIEW_BIN_EDGES = (10, 20, 50, 100, 500)  # plus the volume floor below the first
VIEWS_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "bin": pl.Int64(),
    "label": pl.String(),
    "lessons": pl.UInt32(),
}
TAIL_SCHEMA: ColumnTypes = {
    "kind": pl.String(),
    "label": pl.String(),
    "paths": pl.UInt32(),
    "share": pl.Float64(),
    "examples": pl.String(),
}


@dataclass(frozen=True, kw_only=True)
class Q7Data:
    """The numbers of question 7 (computed by `compute`, told by `words`)."""

    least_accessed: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LEAST_SCHEMA))
    eligible: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ELIGIBLE_SCHEMA))
    long_tail: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TAIL_SCHEMA))
    lesson_views: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VIEWS_SCHEMA))
    distinct_paths: int = 0
    single_hit_paths: int = 0
    single_hit_share: float = 0.0
    single_hit_pct: int = 0  # single_hit_share in whole percent: as shown
    ranked_lessons: int = 0  # program-lesson pairs at or above the floor (sum of lesson_views)
    rare_lessons: int = 0  # ... in the first views bin
    rare_label: str = ""  # that bin's label, e.g. '5-9'
    min_views: int = 5
    bottom_n: int = 10
    other_track_pairs: int = 0  # program-lesson pairs of the other track, left out
    # When every ranked program's fewest views are shared by several lessons at one value: that
    # value and how many lessons tie at it, over all programs (else None and 0).
    common_least_views: int | None = None
    tied_lessons: int = 0
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q7Result(QuestionResult, Q7Data):
    def tables(self) -> dict[str, pl.DataFrame]:
        """The long tail first, then one table per ranked program (its `bottom_n` least read lessons:
        as many as the method says are listed), so a page can show them with `pages.tables(r, 1)`."""
        tables = {"The long tail: paths hit once": table_long_tail(self)}
        tables.update(
            (f"Least accessed lessons: {program}", table_least(self, program))
            for program in self.eligible.filter(pl.col("lessons") > 0)["program"].to_list()
        )
        return tables

    def headline(self) -> str:
        return (
            f"{self.single_hit_paths:,} of {self.distinct_paths:,} paths "
            f"({self.single_hit_pct}%) were hit exactly once"
        )


def table_least(result: Q7Data, program: str) -> pl.DataFrame:
    """The `bottom_n` least accessed lessons of one program (among lessons above the volume floor),
    as many rows as the method says are listed."""
    return result.least_accessed.filter(pl.col("program") == program).select(
        pl.col("rank").alias("Rank (1 = least)"),
        pl.col("lesson_title").alias("Lesson"),
        pl.col("views").alias("Student views"),
        pl.col("users").alias("Students"),
        pl.col("cohorts").alias("Cohorts"),
        pl.col("lesson").alias("Path"),
    )


def table_long_tail(result: Q7Result) -> pl.DataFrame:
    return result.long_tail.select(
        pl.col("label").alias("Kind of path hit once"),
        pl.col("paths").alias("Paths"),
        (pl.col("share") * 100).round(1).alias("Share of one-hit paths (%)"),
        pl.col("examples").alias("Examples"),
    )


def _bin_edges(min_views: int) -> list[int]:
    return [min_views, *(e for e in VIEW_BIN_EDGES if e > min_views)]


def _bin_labels(min_views: int) -> list[str]:
    """'5-9', '10-19', ..., '500+' from the volume floor up."""
    edges = _bin_edges(min_views)
    return [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)] + [f"{edges[-1]}+"]


def _view_bins(real: pl.DataFrame, min_views: int) -> pl.DataFrame:
    """Lessons per program and views bin: floor-9, 10-19, 20-49, 50-99, 100-499, 500 or more."""
    edges = _bin_edges(min_views)
    labels = _bin_labels(min_views)
    index = pl.lit(0, dtype=pl.Int64)
    for i, edge in enumerate(edges[1:], start=1):
        index = pl.when(pl.col("views") >= edge).then(pl.lit(i, dtype=pl.Int64)).otherwise(index)
    return (
        real.with_columns(index.alias("bin"))
        .group_by("program", "bin")
        .agg(pl.len().alias("lessons"))
        .with_columns(
            pl.col("bin")
            .replace_strict(dict(enumerate(labels)), return_dtype=pl.String)
            .alias("label")
        )
        .sort("program", "bin")
        .select(VIEWS_SCHEMA.keys())
        .cast(VIEWS_SCHEMA)
    )


def _lesson_readers(prepared: Prepared, students: pl.DataFrame) -> pl.LazyFrame:
    """Students' views of named lessons per (program, lesson): `views`, distinct readers (`users`,
    a null user one), the cohorts that read it (`cohorts`) and its `track` (constant within a
    program and lesson). From prepare's counts of the students' lesson views (`lesson_counts`,
    shared with questions 1, 2, 3 and 5: views per cohort and lesson, readers per program and
    lesson), not from the views."""
    counts = lesson_counts(prepared)
    return (
        counts.cohort_lessons.lazy()
        .join(students.lazy().select("cohort_id", "program", "track"), on="cohort_id")
        .group_by("program", "lesson")
        .agg(
            pl.col("views").sum().cast(pl.UInt32),
            pl.len().cast(pl.UInt32).alias("cohorts"),
            pl.col("track").first(),
        )
        .join(counts.program_readers.lazy(), on=["program", "lesson"])
        .select("program", "lesson", "views", "users", "cohorts", "track")
    )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q7Data:
    """Bottom lessons per program above a volume floor, and what the one-hit long tail is made of."""
    prepared = prepared or prepare(snapshot, config)
    q7 = config.q7

    # One scan of the views for all aggregates (collect_all shares the common sub-plan). Students'
    # lesson views are chosen by cohort id and counted per (cohort, lesson) with their readers, so
    # program and track (per cohort) are joined from the cohorts table, and module and title (per
    # lesson) from the paths, instead of being looked up on every row. Track is constant within a
    # (program, lesson) group and only carried for the home-track filter. The lesson homes' views
    # per track come from question 5 when it ran on these views.
    students = prepared.cohorts.filter(pl.col("role") == "student")
    lesson_track = prepared.lesson_track.views
    plans = [
        _lesson_readers(prepared, students),
        # every raw path of every role: the long tail (the path's labels joined to its row)
        prepared.views.group_by("path")
        .agg(pl.len().alias("hits"))
        .join(
            labels_by_path(prepared, "page_kind", "lesson", "module", "lesson_title"),
            on="path",
            how="left",
            nulls_equal=True,
        ),
    ]
    if lesson_track is None:
        plans.append(lesson_track_counts(prepared))
    all_lessons, per_path, *computed = pl.collect_all(plans)
    if computed:
        lesson_track = prepared.lesson_track.views = computed[0]
    all_lessons, per_path = as_text(all_lessons), as_text(per_path)  # Categorical -> String
    all_lessons = all_lessons.join(
        per_path.select("lesson", "module", "lesson_title").unique(),
        on="lesson",
        how="left",
    )
    per_lesson = keep_own_track(
        all_lessons, lesson_home_table(cast(pl.DataFrame, lesson_track), config)
    )
    other_track = (
        all_lessons.join(
            per_lesson.select("program", "lesson"), on=["program", "lesson"], how="anti"
        )
        .group_by("program")
        .agg(pl.len().alias("other_track"))
    )
    real = per_lesson.filter(pl.col("views") >= q7.min_views)
    least = (
        real.sort(["program", "views", "users", "lesson"], descending=[False, False, False, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("program").cast(pl.UInt32).alias("rank"))
        .filter(pl.col("rank") <= q7.bottom_n)
        .select(LEAST_SCHEMA.keys())
        .cast(LEAST_SCHEMA)
    )
    lesson_views = _view_bins(real, q7.min_views)
    rare = lesson_views.filter(pl.col("bin") == 0)
    eligible = (
        per_lesson.group_by("program")
        .agg(
            (pl.col("views") >= q7.min_views).sum().alias("lessons"),
            (pl.col("views") < q7.min_views).sum().alias("below_floor"),
            pl.col("views").filter(pl.col("views") >= q7.min_views).median().alias("median_views"),
            pl.col("views").filter(pl.col("views") >= q7.min_views).min().alias("least_views"),
        )
        .join(
            real.group_by("program").agg(
                (pl.col("views") == pl.col("views").min()).sum().alias("tied_least")
            ),
            on="program",
            how="left",
        )
        .join(other_track, on="program", how="left")
        .join(
            rare.select("program", pl.col("lessons").alias("rare_lessons")),
            on="program",
            how="left",
        )
        .with_columns(pl.col("other_track", "tied_least", "rare_lessons").fill_null(0))
        .sort("program")
        .select(ELIGIBLE_SCHEMA.keys())
        .cast(ELIGIBLE_SCHEMA)
    )

    tail, distinct_paths = _long_tail(per_path, q7.min_views)
    single = int(tail["paths"].sum()) if not tail.is_empty() else 0
    share = single / distinct_paths if distinct_paths else 0.0
    ranked = eligible.filter(pl.col("lessons") > 0)
    all_tied = (
        ranked.height > 0
        and bool((ranked["tied_least"] > 1).all())
        and ranked["least_views"].n_unique() == 1
    )
    return Q7Data(
        least_accessed=least,
        eligible=eligible,
        long_tail=tail,
        lesson_views=lesson_views,
        distinct_paths=distinct_paths,
        single_hit_paths=single,
        single_hit_share=share,
        single_hit_pct=round(share * 100),
        ranked_lessons=int(lesson_views["lessons"].sum()),
        rare_lessons=int(rare["lessons"].sum()),
        rare_label=rare["label"][0] if rare.height else _bin_labels(q7.min_views)[0],
        min_views=q7.min_views,
        bottom_n=q7.bottom_n,
        other_track_pairs=int(eligible["other_track"].sum()),
        common_least_views=int(ranked["least_views"][0]) if all_tied else None,
        tied_lessons=int(ranked["tied_least"].sum()) if all_tied else 0,
        simulated=prepared.simulated,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q7Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    data = compute(snapshot, config, prepared)
    return Q7Result(
        number=7,
        title=TITLE,
        parameters={
            "min_views": data.min_views,
            "bottom_n": data.bottom_n,
            "lesson_home_min_share": config.q5.lesson_home_min_share,
            "lesson_home_overrides": dict(config.q5.lesson_home_overrides),
        },
        **words(data, config).text(),
        **data_fields(data),
    )


def words(data: Q7Data, config: Config) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    answer_text, supporting = _sentences(data)
    home_share = config.q5.lesson_home_min_share
    min_views, bottom_n = data.min_views, data.bottom_n
    caveats = [
        "Each program is ranked on its own track's lessons: a lesson's home track is inferred from "
        "whose enrolled students read it; the other track's lessons "
        f"({data.other_track_pairs:,} program-lesson pairs) are left out, while shared "
        "lessons read by both stay in.",
        f"A lesson needs at least {min_views} student views to be ranked; below that, paths are "
        "mostly typos, renamed pages and stray links rather than lessons nobody reads.",
        "Lessons are normalised (case, slashes, numbered prefixes, aliases), so a renamed page whose "
        "old and new names normalise alike is counted once.",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    method = (
        "Students' views of lesson pages are counted per program and normalised lesson, with the "
        "distinct students and cohorts who opened them. Only lessons of the program's own track "
        "are ranked: lessons whose home track (the track whose own enrolled students read it, "
        f"holding at least {home_share:.0%} of the per-track reading rates, or "
        "[q5.lesson_home_overrides]; see question 5) is the program's track, plus shared lessons "
        "with no such majority. Lessons with fewer than "
        f"{min_views} student views are left out of the ranking; the {bottom_n} lessons with "
        "the fewest views per program are listed, one table per program (ties broken by fewer "
        "students, then by path); when several lessons share the fewest views, the text says how "
        "many tie rather than naming one as the least read. The long tail "
        "uses every view of every role: a raw path hit exactly once in the whole log is classified "
        "as an asset, a probe, a navigation variant, a missing path, a variant spelling of a lesson "
        f"that has at least {min_views} views, an unknown page inside a known module (renamed "
        "page or typo) or a page of an unknown module. The answer and the first chart group the "
        f"ranked lessons by their student views ({', '.join(_bin_labels(min_views))}); the "
        "first group holds the rarely read lessons."
    )
    return Words(answer=answer_text, supporting=supporting, method=method, caveats=caveats)


def _long_tail(per_path: pl.DataFrame, min_views: int) -> tuple[pl.DataFrame, int]:
    """Raw paths hit exactly once (all roles), classified; and the number of distinct raw paths.

    `per_path`: one row per raw path with its hits, page_kind, lesson and module (and title)."""
    known_lessons = (
        per_path.filter(pl.col("page_kind") == "lesson")
        .group_by("lesson")
        .agg(pl.col("hits").sum().alias("lesson_views"))
        .filter(pl.col("lesson_views") >= min_views)
        .select("lesson")
    )
    known_modules = (
        known_lessons.select(pl.col("lesson").str.split("/").list.first().alias("module"))
        .unique()
        .with_columns(pl.lit(True).alias("known_module"))
    )
    distinct_paths = per_path.height
    singles = (
        per_path.lazy()
        .filter(pl.col("hits") == 1)
        .join(
            known_lessons.lazy().with_columns(pl.lit(True).alias("known_lesson")),
            on="lesson",
            how="left",
        )
        .join(known_modules.lazy(), on="module", how="left")
        .with_columns(
            pl.when(pl.col("page_kind") == "navigation")
            .then(pl.lit("navigation_variant"))
            .when(pl.col("page_kind") != "lesson")
            .then(pl.col("page_kind"))
            .when(pl.col("known_lesson").fill_null(False))
            .then(pl.lit("lesson_variant"))
            .when(pl.col("known_module").fill_null(False))
            .then(pl.lit("renamed_or_typo_page"))
            .otherwise(pl.lit("unknown_module"))
            .alias("kind"),
            pl.col("path").fill_null("(missing)").str.slice(0, EXAMPLE_MAX_CHARS).alias("example"),
        )
        .sort("path", nulls_last=True)
        .group_by("kind")
        .agg(
            pl.len().cast(pl.UInt32).alias("paths"),
            pl.col("example").head(EXAMPLES_PER_KIND).str.join(", ").alias("examples"),
        )
        .with_columns(
            (pl.col("paths") / pl.col("paths").sum()).alias("share"),
            pl.col("kind").replace_strict(TAIL_KINDS, default=None).alias("label"),
            pl.col("kind")
            .replace_strict({k: i for i, k in enumerate(TAIL_KINDS)}, default=len(TAIL_KINDS))
            .alias("_order"),
        )
        .sort("_order")
        .select(TAIL_SCHEMA.keys())
        .collect()
        .cast(TAIL_SCHEMA)
    )
    return singles, distinct_paths


def _least(row: dict, least: pl.DataFrame) -> str:
    """A program's least read lesson, or how many lessons tie at its fewest views."""
    if row["tied_least"] > 1:
        return f"{row['tied_least']} lessons tie at the minimum of {row['least_views']} views"
    bottom = least.filter((pl.col("program") == row["program"]) & (pl.col("rank") == 1))
    return f"the least read is {bottom['lesson_title'][0]}" if bottom.height else ""


def _tied_list(row: dict, least: pl.DataFrame) -> str:
    """': A, B and 3 more' after a tie (the listed lessons at the minimum)."""
    tied = least.filter(
        (pl.col("program") == row["program"]) & (pl.col("views") == row["least_views"])
    )["lesson_title"].to_list()
    if row["tied_least"] <= 1 or not tied:
        return ""
    shown = tied[:3]
    more = row["tied_least"] - len(shown)
    return ": " + (f"{', '.join(shown)} and {more:,} more" if more else join_words(shown))


def _sentences(data: Q7Data) -> tuple[str, list[str]]:
    tail_text = (
        f"{data.single_hit_pct}% of all paths ({data.single_hit_paths:,} of "
        f"{data.distinct_paths:,}) were requested only once: mostly typos, renamed pages and stray "
        "links, not lessons"
        if data.distinct_paths
        else "the log holds no paths"
    )
    least = data.least_accessed
    if least.is_empty():
        return (
            f"No lesson has {data.min_views} or more student views, so none can be ranked.",
            [f"{tail_text[0].upper()}{tail_text[1:]}."],
        )
    ranked = data.eligible.filter(pl.col("lessons") > 0)
    examples = []
    for r in ranked.head(2).iter_rows(named=True):
        if r["tied_least"] > 1:
            examples.append(f"{r['tied_least']} {r['program']} lessons at {r['least_views']} views")
        else:
            first = least.filter((pl.col("program") == r["program"]) & (pl.col("rank") == 1))
            examples.append(f"{first['lesson_title'][0]} ({r['program']})")
    least_text = (
        f"{data.tied_lessons:,} tie at the minimum of {data.common_least_views} views"
        if data.common_least_views is not None
        else f"the least read include {join_words(examples)}"
    )
    answer_text = (
        f"{data.rare_lessons:,} of {data.ranked_lessons:,} lessons were opened only "
        f"{data.rare_label.replace('-', ' to ')} times by students; {least_text}."
    )
    supporting: list[str] = []
    for r in ranked.head(3).iter_rows(named=True):
        least_text = _least(r, least)
        supporting.append(
            f"{r['program']}: {r['rare_lessons']:,} of {r['lessons']:,} lessons this rarely read"
            + (f"; {least_text}{_tied_list(r, least)}" if least_text else "")
            + "."
        )
    supporting.append(f"{tail_text[0].upper()}{tail_text[1:]}.")
    if data.other_track_pairs:
        supporting.append(
            "Each program is judged on its own track's lessons: a "
            f"{TRACK_ADJECTIVES['web_dev']} lesson a few {TRACK_ADJECTIVES['data_science']} "
            f"students opened does not count as a neglected {TRACK_ADJECTIVES['data_science']} "
            "lesson."
        )
    return answer_text, supporting[:5]
