"""Question 1: which lesson attracts the most traffic *consistently* across cohorts, per program?

Raw totals favour whichever cohorts happened to be large or recent, so the ranking is built per cohort:
in every cohort each lesson gets its share of that cohort's lesson views and its rank; a lesson is
consistent when it is in the cohort's top k in most of the program's cohorts. Raw volume is kept beside
it, and the page says when the raw-volume leader is a different lesson.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from analysis.config import Config
from analysis.prepare import (
    Prepared,
    as_text,
    lesson_counts,
    lesson_titles,
    prepare,
)
from analysis.results import QuestionResult, Words, data_fields, join_words
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 1
SHORT_TITLE = "Most consistent lessons"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 4
TITLE = "Which lesson attracts the most traffic consistently across cohorts?"
RANKING_SIZE = 10  # lessons kept per program in `ranking`
HEATMAP_LESSONS = 8  # lessons per program in `cohort_shares` (the heatmap)
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts): the lessons and numbers "
    "illustrate the method, not the real curriculum's usage."
)

LEADER_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "lesson": pl.String(),
    "lesson_title": pl.String(),
    "cohorts_top_k": pl.UInt32(),
    "cohorts": pl.UInt32(),
    "consistency": pl.Float64(),
    "median_share": pl.Float64(),
    "median_share_pct": pl.Float64(),  # median_share in percent, rounded to 1 decimal: as shown
    "views": pl.UInt32(),
    "volume_leader": pl.String(),
    "volume_leader_title": pl.String(),
    "volume_leader_views": pl.UInt32(),
    "leader_differs": pl.Boolean(),
    "graduates_only": pl.Boolean(),  # every cohort of the program ended before the log begins
}
RANKING_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "rank": pl.UInt32(),
    "lesson": pl.String(),
    "lesson_title": pl.String(),
    "cohorts_top_k": pl.UInt32(),
    "cohorts": pl.UInt32(),
    "consistency": pl.Float64(),
    "consistency_pct": pl.Float64(),  # rounded to a whole percent: as shown
    "median_share": pl.Float64(),
    "median_share_pct": pl.Float64(),  # rounded to 1 decimal: as shown
    "views": pl.UInt32(),
    "volume_rank": pl.UInt32(),
}
SHARES_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "cohort": pl.String(),
    "start_date": pl.Date(),
    "lesson": pl.String(),
    "lesson_title": pl.String(),
    "share": pl.Float64(),
    "views": pl.UInt32(),
    "cohort_rank": pl.UInt32(),
}


@dataclass(frozen=True, kw_only=True)
class Q1Data:
    """The numbers of question 1 (computed by `compute`, told by `words`)."""

    leaders: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LEADER_SCHEMA))
    ranking: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RANKING_SCHEMA))
    cohort_shares: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SHARES_SCHEMA))
    programs_skipped: list[str] = field(default_factory=list)  # fewer than min_cohorts cohorts
    top_k: int = 5
    min_cohorts: int = 3
    lesson_views: int = 0  # students' lesson views counted (0: nothing to rank)
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q1Result(QuestionResult, Q1Data):
    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Most consistent lesson per program": table_leaders(self),
            "Top lessons by consistency": table_ranking(self),
        }

    def headline(self) -> str:
        if self.leaders.is_empty():
            return self.answer
        row = self.leaders.row(0, named=True)  # the biggest program, as in the answer
        return f"{row['lesson_title']} is top {self.top_k} in {_cohorts(row)} of {row['program']}"


def table_leaders(result: Q1Data) -> pl.DataFrame:
    """One row per ranked program: its most consistent lesson beside its most viewed one."""
    k = result.top_k
    return result.leaders.select(
        pl.col("program").alias("Program"),
        pl.col("lesson_title").alias("Most consistent lesson"),
        pl.format("{} of {}", pl.col("cohorts_top_k"), pl.col("cohorts")).alias(
            f"Cohorts with it in their top {k}"
        ),
        pl.col("median_share_pct").alias("Median share of a cohort's lesson views (%)"),
        pl.col("views").alias("Student views"),
        pl.col("volume_leader_title").alias("Most viewed lesson"),
        pl.when(pl.col("graduates_only"))
        .then(pl.lit("graduates only"))
        .otherwise(pl.lit("students and graduates"))
        .alias("Seen as"),
        pl.col("lesson").alias("Path"),
    )


def table_ranking(result: Q1Data) -> pl.DataFrame:
    """The five most consistent lessons of every ranked program, biggest program first."""
    k = result.top_k
    order = result.leaders["program"].to_list()
    return (
        result.ranking.filter(pl.col("rank") <= 5)
        .with_columns(
            pl.col("program")
            .replace_strict(
                {p: i for i, p in enumerate(order)}, default=len(order), return_dtype=pl.Int64
            )
            .alias("_order")
        )
        .sort("_order", "rank")
        .select(
            pl.col("program").alias("Program"),
            pl.col("rank").alias("Rank"),
            pl.col("lesson_title").alias("Lesson"),
            pl.col("consistency_pct").alias(f"Cohorts with it in their top {k} (%)"),
            pl.col("median_share_pct").alias("Median share (%)"),
            pl.col("views").alias("Student views"),
            pl.col("volume_rank").alias("Rank by views"),
            pl.col("lesson").alias("Path"),
        )
    )


def _cohort_lesson_views(prepared: Prepared) -> pl.LazyFrame:
    """Students' views of named lessons per (cohort, lesson), with the lesson's title: from
    prepare's counts of the students' lesson views (`lesson_counts`, shared with questions 2, 3, 5
    and 7), not from the views; the title (a function of the lesson) joined to those rows."""
    return (
        lesson_counts(prepared)
        .cohort_lessons.lazy()
        .join(lesson_titles(prepared), on="lesson", how="left")
        .select("cohort_id", "lesson", "lesson_title", pl.col("views").cast(pl.UInt32))
    )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q1Data:
    """Per program, rank lessons by how many cohorts put them in their top k, then by median share."""
    prepared = prepared or prepare(snapshot, config)
    top_k, min_cohorts = config.q1.top_k, config.q1.min_cohorts

    # One row per (program, cohort, lesson) with the lesson's share and rank inside the cohort.
    students = prepared.cohorts.filter(pl.col("role") == "student")
    per_cohort = (
        _cohort_lesson_views(prepared)
        # program, name and dates are per cohort: looked up in the cohorts table, not per row
        .join(
            students.lazy().select("cohort_id", "program", "cohort_name", "start_date", "end_date"),
            on="cohort_id",
            how="left",
        )
        .with_columns(
            (pl.col("views") / pl.col("views").sum().over("cohort_id")).alias("share"),
            pl.col("views")
            .rank("min", descending=True)
            .over("cohort_id")
            .cast(pl.UInt32)
            .alias("cohort_rank"),
        )
        .collect()
    )
    per_cohort = as_text(per_cohort)
    cohorts_per_program = per_cohort.group_by("program").agg(
        pl.col("cohort_id").n_unique().cast(pl.UInt32).alias("cohorts"),
        # a program whose every cohort ended before the log begins is seen only as graduates
        (pl.col("end_date").max() < pl.lit(prepared.data_start.date())).alias("graduates_only"),
    )
    eligible = cohorts_per_program.filter(pl.col("cohorts") >= min_cohorts)
    skipped = sorted(
        cohorts_per_program.filter(pl.col("cohorts") < min_cohorts)["program"].to_list()
    )

    # Every (program, cohort, lesson) cell, with 0 share where a cohort never opened the lesson, so the
    # median share over the program's cohorts is not inflated by the cohorts that skipped it.
    cohort_keys = per_cohort.lazy().select("program", "cohort_id").unique()
    lesson_keys = per_cohort.lazy().select("program", "lesson").unique()
    grid = (
        cohort_keys.join(lesson_keys, on="program")
        .join(
            per_cohort.lazy().select("cohort_id", "lesson", "share", "cohort_rank"),
            on=["cohort_id", "lesson"],
            how="left",
        )
        .with_columns(pl.col("share").fill_null(0.0))
    )
    ranked = (
        grid.group_by("program", "lesson")
        .agg(
            (pl.col("cohort_rank") <= top_k).sum().cast(pl.UInt32).alias("cohorts_top_k"),
            pl.len().cast(pl.UInt32).alias("cohorts"),
            pl.col("share").median().alias("median_share"),
        )
        .join(
            per_cohort.lazy()
            .group_by("program", "lesson")
            .agg(pl.col("views").sum().alias("views"), pl.col("lesson_title").first()),
            on=["program", "lesson"],
        )
        .join(eligible.lazy().select("program"), on="program", how="semi")
        .with_columns((pl.col("cohorts_top_k") / pl.col("cohorts")).alias("consistency"))
        .with_columns(
            (pl.col("consistency") * 100).round(0).alias("consistency_pct"),
            (pl.col("median_share") * 100).round(1).alias("median_share_pct"),
        )
        .sort(
            ["program", "consistency", "median_share", "views", "lesson"],
            descending=[False, True, True, True, False],
        )
        .with_columns(
            pl.int_range(1, pl.len() + 1).over("program").cast(pl.UInt32).alias("rank"),
            pl.col("views")
            .rank("min", descending=True)
            .over("program")
            .cast(pl.UInt32)
            .alias("volume_rank"),
        )
        .collect()
    )
    ranking = (
        ranked.filter(pl.col("rank") <= RANKING_SIZE)
        .select(RANKING_SCHEMA.keys())
        .cast(RANKING_SCHEMA)
    )
    volume_leaders = (
        ranked.sort(["program", "views", "lesson"], descending=[False, True, False])
        .group_by("program", maintain_order=True)
        .first()
        .select(
            "program",
            pl.col("lesson").alias("volume_leader"),
            pl.col("lesson_title").alias("volume_leader_title"),
            pl.col("views").alias("volume_leader_views"),
        )
    )
    leaders = (
        ranked.filter(pl.col("rank") == 1)
        .join(volume_leaders, on="program", maintain_order="left")
        .join(cohorts_per_program.select("program", "graduates_only"), on="program", how="left")
        .with_columns((pl.col("lesson") != pl.col("volume_leader")).alias("leader_differs"))
        .sort(["views", "program"], descending=[True, False])  # biggest program first
        .select(LEADER_SCHEMA.keys())
        .cast(LEADER_SCHEMA)
    )
    top_lessons = ranked.filter(pl.col("rank") <= HEATMAP_LESSONS).select("program", "lesson")
    cohort_shares = (
        per_cohort.join(top_lessons, on=["program", "lesson"], how="semi")
        .select(
            "program",
            pl.col("cohort_name").alias("cohort"),
            "start_date",
            "lesson",
            "lesson_title",
            "share",
            "views",
            "cohort_rank",
        )
        .sort("program", "start_date", "cohort", "lesson")
        .cast(SHARES_SCHEMA)
    )

    return Q1Data(
        leaders=leaders,
        ranking=ranking,
        cohort_shares=cohort_shares,
        programs_skipped=skipped,
        top_k=top_k,
        min_cohorts=min_cohorts,
        lesson_views=int(per_cohort["views"].sum()) if per_cohort.height else 0,
        simulated=prepared.simulated,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q1Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    data = compute(snapshot, config, prepared)
    return Q1Result(
        number=1,
        title=TITLE,
        parameters={"top_k": data.top_k, "min_cohorts": data.min_cohorts},
        **words(data).text(),
        **data_fields(data),
    )


def words(data: Q1Data) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    answer_text, supporting = _sentences(data)
    caveats = [
        "Only students' views of lesson pages count (staff, accounts without a cohort, navigation "
        "pages, assets and probes are excluded); renamed data-science folders are merged by "
        "stripping their numbered prefixes.",
        "A bare module page (for example javascript-i) and the pages inside it are separate lessons: the "
        "module's landing page collects the visits of everyone starting that unit.",
    ]
    caveats.extend(
        f"Every {row['program']} cohort ended before the log begins: its reading is graduates' "
        "reading, not students' while enrolled."
        for row in data.leaders.filter(pl.col("graduates_only")).iter_rows(named=True)
    )
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    k, min_cohorts = data.top_k, data.min_cohorts
    method = (
        "Students' lesson views are counted per cohort and lesson. Inside each cohort every lesson "
        "gets its share of the cohort's lesson views and its rank (ties share the better rank). "
        f"For programs with at least {min_cohorts} cohorts having data, a lesson's consistency is the "
        f"fraction of the program's cohorts in which it ranks in the top {k}; lessons are ranked "
        "by consistency, then by their median share across all the program's cohorts (0 where a "
        "cohort never opened it), then by raw views. The raw-volume leader (most student views "
        "overall) is reported beside it. Lessons are named by a title made from their path (the "
        "path stays in the tables); root folders and the module folders inside them, which only list "
        "lessons, are not lessons."
    )
    return Words(answer=answer_text, supporting=supporting, method=method, caveats=caveats)


MAX_ANSWER_WORDS = 30  # a board member's answer (tests/test_plain_words.py)


def _sentences(data: Q1Data) -> tuple[str, list[str]]:
    leaders, ranking, skipped, top_k = (
        data.leaders,
        data.ranking,
        data.programs_skipped,
        data.top_k,
    )
    if leaders.is_empty():
        if not data.lesson_views:
            return "No student lesson views were found, so no lesson can be ranked.", [
                "The snapshot holds no views of lesson pages by students of a cohort."
            ]
        return (
            "No program has enough cohorts with lesson views to judge consistency.",
            [f"Programs with too few cohorts: {', '.join(skipped)}."],
        )
    rows = list(leaders.iter_rows(named=True))
    lead = rows[0]
    answer_text = (
        f"{lead['lesson_title']} is top {top_k} in {_cohorts(lead).replace(' cohorts', '')} "
        f"{lead['program']} cohorts"
    )
    # the other programs' leaders while the sentence stays short (<= 30 words)
    others = [f"{r['lesson_title']} leads {r['program']}" for r in rows[1:3]]
    while others and len(f"{answer_text}; {join_words(others)}.".split()) > MAX_ANSWER_WORDS:
        others.pop()
    answer_text += f"; {join_words(others)}." if others else "."
    supporting = [
        f"{r['program']}: {r['lesson_title']} is top {top_k} in {_cohorts(r)} and takes about "
        f"{r['median_share_pct']:.1f}% of a cohort's lesson views"
        + (
            " (graduates only: every cohort ended before the log begins)."
            if r["graduates_only"]
            else "."
        )
        for r in rows[:3]
    ]
    differs = leaders.filter(pl.col("leader_differs"))
    if differs.is_empty():
        supporting.append(
            "In every ranked program the most consistent lesson is also the most viewed."
        )
    for row in differs.head(1).iter_rows(named=True):
        supporting.append(
            f"In {row['program']}, {row['volume_leader_title']} has more views "
            f"({row['volume_leader_views']:,} against {row['views']:,}) but fewer cohorts put it "
            "near the top: a few heavy cohorts drive it."
        )
    runners = ranking.filter(
        (pl.col("program") == lead["program"]) & pl.col("rank").is_between(2, 4)
    )["lesson_title"].to_list()
    if runners:
        supporting.append(f"Next in {lead['program']}: {join_words(runners)}.")
    if skipped:
        supporting.append(f"Not ranked, too few cohorts to compare: {join_words(skipped)}.")
    return answer_text, supporting[:5]


def _cohorts(row: dict) -> str:
    """'all 28 cohorts' or '26 of 28 cohorts'."""
    if row["cohorts_top_k"] == row["cohorts"]:
        return f"all {row['cohorts']} cohorts"
    return f"{row['cohorts_top_k']} of {row['cohorts']} cohorts"
