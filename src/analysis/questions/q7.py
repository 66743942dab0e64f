"""Question 7: which lessons are least accessed?

Naively the least accessed "lessons" are the thousands of paths hit once: typos, renamed pages, images,
attack probes. Those are the long tail, characterised separately over the whole log (every role). The
lesson ranking only considers real lessons: normalised lesson pages with at least `q7.min_views` student
views, per program, and only lessons of the program's own track (lessons whose home track,
`prepare.lesson_homes`, is the program's track, plus shared lessons with no clear home): a data-science
program's least-read lesson is not a web-dev lesson a few of its students opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import polars as pl

from analysis.config import Config
from analysis.prepare import (
    Prepared,
    as_text,
    keep_own_track,
    lesson_home_table,
    lesson_track_views,
    prepare,
    student_lesson_views,
    track_lesson_views,
)
from analysis.results import QuestionResult, join_words
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

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


@dataclass(frozen=True)
class Q7Result(QuestionResult):
    least_accessed: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LEAST_SCHEMA))
    eligible: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ELIGIBLE_SCHEMA))
    long_tail: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TAIL_SCHEMA))
    lesson_views: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VIEWS_SCHEMA))
    distinct_paths: int = 0
    single_hit_paths: int = 0
    single_hit_share: float = 0.0
    min_views: int = 5

    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Least accessed lessons": table_least(self),
            "The long tail: paths hit once": table_long_tail(self),
        }

    def headline(self) -> str:
        return (
            f"{self.single_hit_paths:,} of {self.distinct_paths:,} paths "
            f"({self.single_hit_share * 100:.0f}%) were hit exactly once"
        )


def table_least(result: Q7Result) -> pl.DataFrame:
    """The five least accessed lessons of each program (among lessons above the volume floor)."""
    return result.least_accessed.filter(pl.col("rank") <= 5).select(
        pl.col("program").alias("Program"),
        pl.col("rank").alias("Rank (1 = least)"),
        pl.col("lesson").alias("Lesson"),
        pl.col("views").alias("Student views"),
        pl.col("users").alias("Students"),
        pl.col("cohorts").alias("Cohorts"),
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
    return [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]


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


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q7Result:
    """Bottom lessons per program above a volume floor, and what the one-hit long tail is made of."""
    prepared = prepared or prepare(snapshot, config)
    q7 = config.q7

    # One scan of the views for all aggregates (collect_all shares the common sub-plan); track and
    # module are constant within a (program, lesson) group and only carried for the home-track filter.
    # The lesson homes' views per track come from question 5 when it ran on these views.
    lesson_track = prepared.lesson_track.views
    plans = [
        student_lesson_views(prepared)
        .filter(pl.col("lesson").is_not_null() & (pl.col("lesson") != ""))
        .group_by("program", "lesson")
        .agg(
            pl.len().cast(pl.UInt32).alias("views"),
            pl.col("user_id").n_unique().cast(pl.UInt32).alias("users"),
            pl.col("cohort_id").n_unique().cast(pl.UInt32).alias("cohorts"),
            pl.col("track").first().alias("track"),
            pl.col("module").first().alias("module"),
        ),
        # every raw path of every role: the long tail
        prepared.views.group_by("path").agg(
            pl.len().alias("hits"),
            pl.col("page_kind").first().alias("page_kind"),
            pl.col("lesson").first().alias("lesson"),
            pl.col("module").first().alias("module"),
        ),
    ]
    if lesson_track is None:
        plans.append(lesson_track_views(track_lesson_views(prepared)))
    all_lessons, per_path, *computed = pl.collect_all(plans)
    if computed:
        lesson_track = prepared.lesson_track.views = computed[0]
    all_lessons, per_path = as_text(all_lessons), as_text(per_path)  # Categorical labels -> String
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
    eligible = (
        per_lesson.group_by("program")
        .agg(
            (pl.col("views") >= q7.min_views).sum().alias("lessons"),
            (pl.col("views") < q7.min_views).sum().alias("below_floor"),
            pl.col("views").filter(pl.col("views") >= q7.min_views).median().alias("median_views"),
        )
        .join(other_track, on="program", how="left")
        .with_columns(pl.col("other_track").fill_null(0))
        .sort("program")
        .cast(ELIGIBLE_SCHEMA)
    )

    tail, distinct_paths = _long_tail(per_path, q7.min_views)
    single = int(tail["paths"].sum()) if not tail.is_empty() else 0
    share = single / distinct_paths if distinct_paths else 0.0

    lesson_views = _view_bins(real, q7.min_views)
    answer_text, supporting = _sentences(
        least, eligible, lesson_views, tail, distinct_paths, single, share, q7.min_views
    )
    home_share = config.q5.lesson_home_min_share
    caveats = [
        "Each program is ranked on its own track's lessons: a lesson's home track is inferred from "
        "whose enrolled students read it; the other track's lessons "
        f"({int(eligible['other_track'].sum()):,} program-lesson pairs) are left out, while shared "
        "lessons read by both stay in.",
        f"A lesson needs at least {q7.min_views} student views to be ranked; below that, paths are "
        "mostly typos, renamed pages and stray links rather than lessons nobody reads.",
        "Lessons are normalised (case, slashes, numbered prefixes, aliases), so a renamed page whose "
        "old and new names normalise alike is counted once.",
    ]
    if prepared.simulated:
        caveats.append(SIMULATED_CAVEAT)
    return Q7Result(
        number=7,
        title=TITLE,
        answer=answer_text,
        supporting=supporting,
        method=(
            "Students' views of lesson pages are counted per program and normalised lesson, with the "
            "distinct students and cohorts who opened them. Only lessons of the program's own track "
            "are ranked: lessons whose home track (the track whose own enrolled students read it, "
            f"holding at least {home_share:.0%} of the per-track reading rates, or "
            "[q5.lesson_home_overrides]; see question 5) is the program's track, plus shared lessons "
            "with no such majority. Lessons with fewer than "
            f"{q7.min_views} student views are left out of the ranking; the {q7.bottom_n} lessons with "
            "the fewest views per program are listed (ties broken by fewer students). The long tail "
            "uses every view of every role: a raw path hit exactly once in the whole log is classified "
            "as an asset, a probe, a navigation variant, a missing path, a variant spelling of a lesson "
            f"that has at least {q7.min_views} views, an unknown page inside a known module (renamed "
            "page or typo) or a page of an unknown module. The answer and the first chart group the "
            f"ranked lessons by their student views ({', '.join(_bin_labels(q7.min_views))}); the "
            "first group holds the rarely read lessons."
        ),
        parameters={
            "min_views": q7.min_views,
            "bottom_n": q7.bottom_n,
            "lesson_home_min_share": home_share,
            "lesson_home_overrides": dict(config.q5.lesson_home_overrides),
        },
        caveats=caveats,
        least_accessed=least,
        eligible=eligible,
        long_tail=tail,
        lesson_views=lesson_views,
        distinct_paths=distinct_paths,
        single_hit_paths=single,
        single_hit_share=share,
        min_views=q7.min_views,
    )


def _long_tail(per_path: pl.DataFrame, min_views: int) -> tuple[pl.DataFrame, int]:
    """Raw paths hit exactly once (all roles), classified; and the number of distinct raw paths.

    `per_path`: one row per raw path with its hits, page_kind, lesson and module."""
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


def _sentences(
    least: pl.DataFrame,
    eligible: pl.DataFrame,
    lesson_views: pl.DataFrame,
    tail: pl.DataFrame,
    distinct_paths: int,
    single: int,
    share: float,
    min_views: int,
) -> tuple[str, list[str]]:
    tail_text = (
        f"{share * 100:.0f}% of all paths ({single:,} of {distinct_paths:,}) were requested only "
        "once: mostly typos, renamed pages and stray links, not lessons"
        if distinct_paths
        else "the log holds no paths"
    )
    if least.is_empty():
        return (
            f"No lesson has {min_views} or more student views, so none can be ranked.",
            [f"{tail_text[0].upper()}{tail_text[1:]}."],
        )
    rare = lesson_views.filter(pl.col("bin") == 0)
    rare_label = rare["label"][0] if rare.height else f"{min_views}"
    few, total = int(rare["lessons"].sum()), int(lesson_views["lessons"].sum())
    bottoms = least.filter(pl.col("rank") == 1).sort("program")
    examples = [f"{r['lesson']} ({r['program']})" for r in bottoms.head(2).iter_rows(named=True)]
    answer_text = (
        f"{few:,} of {total:,} lessons were opened only {rare_label.replace('-', ' to ')} times by "
        f"students; the least read include {join_words(examples)}."
    )
    supporting: list[str] = []
    for r in eligible.filter(pl.col("lessons") > 0).head(3).iter_rows(named=True):
        bottom = bottoms.filter(pl.col("program") == r["program"])
        rare_here = int(rare.filter(pl.col("program") == r["program"])["lessons"].sum())
        supporting.append(
            f"{r['program']}: {rare_here:,} of {r['lessons']:,} lessons this rarely read"
            + (f"; the least read is {bottom['lesson'][0]}" if bottom.height else "")
            + "."
        )
    supporting.append(f"{tail_text[0].upper()}{tail_text[1:]}.")
    left_out = int(eligible["other_track"].sum())
    if left_out:
        supporting.append(
            "Each program is judged on its own track's lessons: a web-development lesson a few "
            "data-science students opened does not count as a neglected data-science lesson."
        )
    return answer_text, supporting[:5]
