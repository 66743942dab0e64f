"""Question 2: is there a cohort that referred to a lesson far more than the other cohorts?

Only reading while enrolled counts (a cohort's alumni reading years later is question 6's), and only
cohorts whose enrolled window lies mostly inside the data are compared (a cohort seen for its last
month only has read its last lessons only). For every (cohort, lesson) pair of a program the cohort's
views of the lesson per student are compared with those of the program's other cohorts that read the
lesson at all (a lesson added or renamed for later cohorts is not over-used by them). A cohort that
reads everything more is partly a busier cohort: the ratio is divided by the square root of the
cohort's general activity (its other reading per student against the peers'), and the lesson must also
take a larger share of the cohort's own reading than of the peers'. The comparison leaves out the
cohort's heaviest reader of the lesson (one student re-opening a page dozens of times is not a cohort
over-using it), and a case needs the lower end of the ratio's confidence interval above
`q2.min_ratio_low`, so a cohort at 3.1x is found whether its estimate lands a little above or below 3.
Views of one page by one student are not independent, so the interval is widened by the program's
over-dispersion (how much more cohorts' counts scatter than independent views would).

Only lessons of the program's own track are compared (lessons whose home track, `prepare.lesson_homes`,
is the program's track, plus shared lessons): a web-dev cohort reading data-science lessons is
cross-program access (question 5), not a cohort over-using one of its own lessons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import cast

import polars as pl

from analysis.config import Config
from analysis.prepare import (
    Prepared,
    as_text,
    keep_own_track,
    lesson_counts,
    lesson_home_table,
    lesson_titles,
    prepare,
)
from analysis.results import QuestionResult, Words, data_fields
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 2
SHORT_TITLE = "A cohort's outlier lesson"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 5
TITLE = "Is there a cohort that referred to a lesson far more than other cohorts?"
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts): the simulator injected "
    "known over-use cases, which this test is checked against."
)

CASES_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "cohort_id": pl.Int64(),
    "cohort": pl.String(),
    "lesson": pl.String(),
    "lesson_title": pl.String(),
    "views": pl.Int64(),  # the cohort's views of the lesson while enrolled
    "students": pl.Int64(),  # the cohort's students with a lesson view while enrolled
    "rate": pl.Float64(),  # views per student
    "peer_views": pl.Int64(),
    "peer_students": pl.Int64(),
    "peer_cohorts": pl.Int64(),  # other cohorts of the program that read the lesson
    "peer_rate": pl.Float64(),
    "rate_ratio": pl.Float64(),  # rate / peer_rate
    "activity": pl.Float64(),  # the cohort's other reading per student / the peers'
    "top_student_views": pl.Int64(),  # views by the cohort's heaviest reader of the lesson
    # views per student leaving that reader out (loo views / (students - 1))
    "rate_without_top": pl.Float64(),
    "activity_factor": pl.Float64(),  # sqrt(activity): the allowance for a busier cohort
    # rate_without_top / activity_factor: the cohort's rate as compared with peer_rate
    "adjusted_rate": pl.Float64(),
    # over-use ratio = adjusted_rate / peer_rate (see _ratios): the number the answer shows
    "ratio_without_top": pl.Float64(),
    "ci_low": pl.Float64(),  # confidence interval of ratio_without_top (over-dispersion widened)
    "ci_high": pl.Float64(),
    "share_low": pl.Float64(),  # lower bound of the lesson's share of the cohort's reading vs peers
}
SUMMARY_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "cohorts": pl.UInt32(),  # cohorts compared
    "tests": pl.UInt32(),
    "flagged": pl.UInt32(),
    "dispersion": pl.Float64(),
}
EXCLUDED_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "cohort_id": pl.Int64(),
    "cohort": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "window_in_data": pl.Float64(),
}


@dataclass(frozen=True, kw_only=True)
class Q2Data:
    """The numbers of question 2 (computed by `compute`, told by `words`)."""

    cases: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CASES_SCHEMA))
    flagged: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CASES_SCHEMA))
    by_program: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SUMMARY_SCHEMA))
    not_compared: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EXCLUDED_SCHEMA))
    tests_run: int = 0
    cohorts_compared: int = 0  # sum of by_program's cohorts
    other_track_views: int = 0  # enrolled views of other-track lessons, left out of the comparison
    z: float = 1.645  # the one-sided normal quantile of q2.confidence
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q2Result(QuestionResult, Q2Data):
    def tables(self) -> dict[str, pl.DataFrame]:
        """The strongest cases with the quantities their ratio is made of: views per student
        (heaviest reader left out) / the allowance for a busier cohort / the other cohorts' views per
        student = the times shown (each rounded once, as in the text)."""
        cases = self.cases.head(15).select(
            pl.col("program").alias("Program"),
            pl.col("cohort").alias("Cohort"),
            pl.col("lesson_title").alias("Lesson"),
            pl.col("students").alias("Students"),
            pl.col("rate_without_top")
            .round(1)
            .alias("Views per student (heaviest reader left out)"),
            pl.col("activity_factor").round(2).alias("Allowance for a busier cohort"),
            pl.col("adjusted_rate").round(1).alias("Views per student, allowance made"),
            pl.col("peer_rate").round(1).alias("Other cohorts, views per student"),
            pl.col("ratio_without_top").round(1).alias("Times the other cohorts"),
            (
                pl.col("ci_low").round(1).cast(pl.String)
                + pl.lit(" to ")
                + pl.col("ci_high").round(1).cast(pl.String).fill_null("no limit")
            ).alias("Likely range"),
            pl.col("lesson").alias("Path"),
        )
        summary = self.by_program.select(
            pl.col("program").alias("Program"),
            pl.col("cohorts").alias("Cohorts compared"),
            pl.col("tests").alias("Cohort-lesson pairs"),
            pl.col("flagged").alias("Cases found"),
        )
        return {"Strongest cases": cases, "Pairs compared per program": summary}

    def headline(self) -> str:
        if self.cases.is_empty():
            return self.answer
        top = self.cases.row(0, named=True)
        return (
            f"{top['cohort']} read {top['lesson_title']} {_times(top['ratio_without_top'])} as much "
            f"as other {top['program']} cohorts"
        )


def _times(ratio: float | None) -> str:
    return "far more than" if ratio is None else f"{ratio:.1f} times"


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q2Data:
    """Find (cohort, lesson) pairs read far more per student while enrolled than the program's other
    cohorts read them."""
    prepared = prepared or prepare(snapshot, config)
    q2 = config.q2
    # students' lesson views while enrolled: per (cohort, lesson) the views, the heaviest reader's
    # views and the readers, per cohort its readers. Program and track are per cohort and are
    # attached from the small cohorts table afterwards; the lesson homes need only enrolled views
    # per lesson and track, which the pair counts hold.
    pairs_raw, students = _reader_counts(prepared)
    pairs_raw = as_text(pairs_raw)  # lesson: Categorical in the prepared views
    cohorts = _compared_cohorts(prepared, q2.min_window_in_data)
    homes = lesson_home_table(_lesson_track(pairs_raw, cohorts), config)
    labelled = pairs_raw.join(
        cohorts.select("cohort_id", "cohort", "program", "track", "compared"),
        on="cohort_id",
        how="inner",
    )
    own = keep_own_track(labelled, homes)
    other_track_views = (
        int(cast(int, labelled["views"].sum()) - cast(int, own["views"].sum()))
        if labelled.height
        else 0
    )
    counts = (
        own.filter(pl.col("compared"))
        .join(students, on="cohort_id", how="inner")
        .filter(pl.col("students") >= q2.min_students)
        .with_columns(
            # the cohort's own-track views while enrolled (its general activity)
            pl.col("views").sum().over("cohort_id").alias("cohort_views"),
        )
    )
    tested = _ratios(counts).filter((pl.col("views") + pl.col("peer_views")) >= q2.min_views)
    dispersion = _dispersion(tested, q2.min_views)
    z = NormalDist().inv_cdf(q2.confidence)
    tested = (
        tested.join(dispersion, on="program", how="left")
        .with_columns(pl.col("dispersion").fill_null(1.0))
        .with_columns(
            (
                pl.col("dispersion")
                * (1 / pl.col("loo_views") + 1 / pl.col("peer_views").clip(lower_bound=1))
            )
            .sqrt()
            .alias("_se")
        )
        .with_columns(
            (pl.col("ratio_without_top") * (-z * pl.col("_se")).exp()).alias("ci_low"),
            (pl.col("ratio_without_top") * (z * pl.col("_se")).exp()).alias("ci_high"),
            # the lesson's share of the cohort's own reading against the peers' (lower bound)
            (
                pl.col("ratio_without_top") / pl.col("activity").sqrt() * (-z * pl.col("_se")).exp()
            ).alias("share_low"),
        )
    )
    flagged = (
        tested.filter(
            (pl.col("loo_views") >= q2.min_views)
            & (pl.col("ci_low") >= q2.min_ratio_low)
            & (pl.col("share_low") >= q2.min_share_ratio_low)
        )
        .sort(
            ["program", "ci_low", "cohort_id", "lesson"],
            descending=[False, True, False, False],
        )
        .select(CASES_SCHEMA.keys())
        .cast(CASES_SCHEMA)
    )
    cases = (
        flagged.with_columns(pl.int_range(pl.len()).over("program").alias("_n"))
        .filter(pl.col("_n") < q2.max_cases_per_program)
        .drop("_n")
        .sort(["ci_low", "program"], descending=[True, False])
    )
    compared = cohorts.filter(pl.col("compared"))
    by_program = (
        compared.group_by("program")
        .agg(pl.len().cast(pl.UInt32).alias("cohorts"))
        .join(
            tested.group_by("program").agg(pl.len().cast(pl.UInt32).alias("tests")),
            on="program",
            how="left",
        )
        .join(
            flagged.group_by("program").agg(pl.len().cast(pl.UInt32).alias("flagged")),
            on="program",
            how="left",
        )
        .join(dispersion, on="program", how="left")
        .with_columns(pl.col("tests", "flagged").fill_null(0))
        .sort("program")
        .select(SUMMARY_SCHEMA.keys())
        .cast(SUMMARY_SCHEMA)
    )
    not_compared = (
        cohorts.filter(~pl.col("compared") & (pl.col("window_in_data") > 0))
        .select(EXCLUDED_SCHEMA.keys())
        .cast(EXCLUDED_SCHEMA)
        .sort("start_date", "cohort_id")
    )
    return Q2Data(
        cases=cases,
        flagged=flagged,
        by_program=by_program,
        not_compared=not_compared,
        tests_run=tested.height,
        cohorts_compared=int(by_program["cohorts"].sum()),
        other_track_views=other_track_views,
        z=z,
        simulated=prepared.simulated,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q2Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    q2 = config.q2
    data = compute(snapshot, config, prepared)
    return Q2Result(
        number=2,
        title=TITLE,
        parameters={
            "min_views": q2.min_views,
            "min_ratio_low": q2.min_ratio_low,
            "min_share_ratio_low": q2.min_share_ratio_low,
            "confidence": q2.confidence,
            "min_students": q2.min_students,
            "min_window_in_data": q2.min_window_in_data,
            "max_cases_per_program": q2.max_cases_per_program,
            "lesson_home_min_share": config.q5.lesson_home_min_share,
            "lesson_home_overrides": dict(config.q5.lesson_home_overrides),
        },
        **words(data, config).text(),
        **data_fields(data),
    )


def words(data: Q2Data, config: Config) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    answer_text, supporting = _sentences(data)
    caveats = [
        "Lessons are compared within their own program only: a lesson's program is inferred from "
        f"whose enrolled students read it; {data.other_track_views:,} enrolled views of the other "
        "program's lessons are left out (question 5 covers them), shared lessons stay in.",
        "Only reading while enrolled counts: students' views before or after their course are left "
        "out (question 6 covers graduates).",
        "Curriculum changes (a lesson added or renamed for later cohorts) can still make a cohort "
        "stand out: check the dates before acting on a case.",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    return Words(
        answer=answer_text,
        supporting=supporting,
        method=_method(config, data.tests_run, data.z),
        caveats=caveats,
    )


def _reader_counts(prepared: Prepared) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Students' views of named lessons while enrolled, per (cohort, lesson): views, the heaviest
    reader's views (`top_student_views`), readers and the lesson's title; per cohort: its readers
    (`students`). A null user is one reader. From prepare's counts of the students' lesson views
    (`lesson_counts`, shared with questions 1, 3, 5 and 7), not from the views."""
    counts = lesson_counts(prepared)
    pairs = (
        counts.cohort_lessons.lazy()
        .filter(pl.col("enrolled_views") > 0)
        .join(lesson_titles(prepared), on="lesson", how="left")
        .select(
            "cohort_id",
            "lesson",
            pl.col("enrolled_views").alias("views"),
            pl.col("top_enrolled_views").alias("top_student_views"),
            pl.col("enrolled_readers").alias("readers"),
            "lesson_title",
        )
        .collect()
    )
    return pairs, counts.enrolled_students


def _lesson_track(pairs: pl.DataFrame, cohorts: pl.DataFrame) -> pl.DataFrame:
    """`prepare.lesson_track_counts` from the enrolled pair counts (enrolled views are the evidence)."""
    return (
        pairs.join(cohorts.select("cohort_id", "track"), on="cohort_id", how="inner")
        .with_columns(pl.col("lesson").str.split("/").list.first().alias("module"))
        .filter(pl.col("track").is_not_null() & (pl.col("module") != ""))
        .group_by("lesson", "module", "track")
        .agg(pl.col("views").sum().cast(pl.Int64).alias("views"))
        .with_columns(pl.col("views").alias("enrolled_views"))
    )


def _compared_cohorts(prepared: Prepared, min_share: float) -> pl.DataFrame:
    """Student cohorts with program, track and whether enough of their window lies in the data."""
    start = prepared.data_start.date()
    end = prepared.data_end.date()
    length = (pl.col("end_date") - pl.col("start_date")).dt.total_days() + 1
    inside = (
        (
            pl.min_horizontal(pl.col("end_date"), pl.lit(end))
            - pl.max_horizontal(pl.col("start_date"), pl.lit(start))
        ).dt.total_days()
        + 1
    ).clip(lower_bound=0)
    return (
        prepared.cohorts.filter(pl.col("role") == "student")
        .select(
            "cohort_id",
            pl.col("cohort_name").alias("cohort"),
            pl.col("program").cast(pl.String),
            pl.col("track").cast(pl.String),
            "start_date",
            "end_date",
            pl.when(length > 0).then(inside / length).otherwise(0.0).alias("window_in_data"),
        )
        .with_columns((pl.col("window_in_data") >= min_share).alias("compared"))
    )


def _ratios(counts: pl.DataFrame) -> pl.DataFrame:
    """Per (cohort, lesson): views per student against the peers' (the program's other compared
    cohorts that read the lesson), the cohort's general activity against theirs, and the over-use
    ratio without the cohort's heaviest reader of the lesson."""
    return (
        counts.with_columns(
            _peer_sum("views").alias("peer_views"),
            _peer_sum("cohort_views").alias("peer_cohort_views"),
            _peer_sum("students").alias("peer_students"),
            _peer_sum(pl.lit(1)).alias("peer_cohorts"),
        )
        .filter((pl.col("peer_cohorts") >= 1) & (pl.col("peer_views") > 0))
        .with_columns(
            (pl.col("views") / pl.col("students")).alias("rate"),
            (pl.col("peer_views") / pl.col("peer_students")).alias("peer_rate"),
            (pl.col("views") - pl.col("top_student_views")).alias("loo_views"),
            # views of the cohort's other own-track lessons per student, against the peers'
            (
                ((pl.col("cohort_views") - pl.col("views")) / pl.col("students"))
                / (
                    (pl.col("peer_cohort_views") - pl.col("peer_views")).clip(lower_bound=1)
                    / pl.col("peer_students")
                )
            )
            .clip(lower_bound=1e-9)
            .alias("activity"),
        )
        .with_columns(
            (pl.col("rate") / pl.col("peer_rate")).alias("rate_ratio"),
            pl.when(pl.col("students") > 1)
            .then(pl.col("loo_views") / (pl.col("students") - 1))
            .otherwise(0.0)
            .alias("rate_without_top"),
            pl.col("activity").sqrt().alias("activity_factor"),
        )
        .with_columns(
            (pl.col("rate_without_top") / pl.col("activity_factor")).alias("adjusted_rate"),
        )
        .with_columns(
            (pl.col("adjusted_rate") / pl.col("peer_rate")).alias("ratio_without_top"),
        )
    )


def _peer_sum(column: str | pl.Expr) -> pl.Expr:
    """Sum over the program's other cohorts that read the lesson, by at least two students (one
    stray visit from an older cohort does not make it a peer of a lesson it never had)."""
    value = pl.col(column) if isinstance(column, str) else column
    counted = pl.when(pl.col("readers") >= 2).then(value).otherwise(0)
    return counted.sum().over("program", "lesson") - counted


def _dispersion(tested: pl.DataFrame, min_views: int) -> pl.DataFrame:
    """Per program, how much more the cohorts' counts of a lesson scatter than independent views
    would (Pearson chi-square per degree of freedom, median over lessons with at least `min_views`
    views and 3 reading cohorts; at least 1)."""
    expected = (
        pl.col("views").sum().over("program", "lesson")
        * pl.col("cohort_views")
        / pl.col("cohort_views").sum().over("program", "lesson")
    )
    return (
        tested.with_columns(expected.alias("_e"))
        .group_by("program", "lesson")
        .agg(
            ((pl.col("views") - pl.col("_e")) ** 2 / pl.col("_e")).sum().alias("_chi2"),
            pl.len().alias("_cohorts"),
            pl.col("views").sum().alias("_views"),
        )
        .filter((pl.col("_cohorts") >= 3) & (pl.col("_views") >= min_views))
        .group_by("program")
        .agg((pl.col("_chi2") / (pl.col("_cohorts") - 1)).median().alias("dispersion"))
        .with_columns(pl.col("dispersion").clip(lower_bound=1.0))
    )


def _sentences(data: Q2Data) -> tuple[str, list[str]]:
    cases, flagged, by_program, not_compared = (
        data.cases,
        data.flagged,
        data.by_program,
        data.not_compared,
    )
    scope = "Only reading while enrolled counts, not graduates' reading"
    scope += (
        f"; {not_compared.height} cohort{'s' if not_compared.height != 1 else ''} enrolled "
        "only partly inside the data were not compared."
        if not_compared.height
        else "."
    )
    if data.tests_run == 0:
        return (
            "No cohort and lesson had enough reading while enrolled to compare cohorts.",
            [
                "Comparing cohorts needs a program with at least two cohorts enrolled inside the "
                "data, and lessons they read.",
                scope,
            ],
        )
    compared = data.cohorts_compared
    pairs = f"{data.tests_run:,} cohort-lesson pairs were compared across {compared} cohorts"
    if flagged.is_empty():
        return (
            f"No: none of the {compared} cohorts read any lesson far more than the other cohorts "
            "of its program did.",
            [
                f"{pairs}, each against the same program's other cohorts.",
                "Every difference was small, or came from one student re-reading a page.",
                scope,
            ],
        )
    top = cases.row(0, named=True)
    others = flagged.height - 1
    answer_text = (
        f"Yes: {top['cohort']} ({top['program']}) read {top['lesson_title']} about "
        f"{_times(top['ratio_without_top'])} as much as other cohorts did"
        + (
            f"; {others} smaller case{'s' if others != 1 else ''} too."
            if others
            else ", the only clear case."
        )
    )
    supporting = [
        f"Leaving out its heaviest reader, {top['cohort']} opened it {top['rate_without_top']:.1f} "
        f"times per student while enrolled ({top['adjusted_rate']:.1f} allowing for how much it "
        f"reads overall); other {top['program']} cohorts {top['peer_rate']:.1f} times."
    ]
    for row in cases.slice(1, 2).iter_rows(named=True):
        supporting.append(
            f"{row['cohort']} ({row['program']}) read {row['lesson_title']} about "
            f"{_times(row['ratio_without_top'])} as much as its peers."
        )
    supporting.append(
        f"{pairs}; "
        + ", ".join(
            f"{r['program']}: {r['flagged']} case{'s' if r['flagged'] != 1 else ''}"
            for r in by_program.iter_rows(named=True)
        )
        + "."
    )
    supporting.append(scope)
    return answer_text, supporting[:5]


def _method(config: Config, tests: int, z: float) -> str:
    q2 = config.q2
    return (
        "Only students' lesson views while enrolled (cohort start to end date) count, and only of "
        "lessons of the program's own track (lessons whose home track is the program's, or shared "
        "ones; see question 5): other-track lessons are cross-program reading, graduates' reading is "
        "question 6. Cohorts are compared when at least "
        f"{q2.min_window_in_data:.0%} of their enrolled window lies inside the data and they have at "
        f"least {q2.min_students} students with a lesson view. For each cohort and lesson, the "
        "cohort's views per student, leaving out its heaviest reader of the lesson, are divided by "
        "the views per student of the program's other compared cohorts in which at least two "
        "students read the lesson (peers pooled), and by the square root of the cohort's general activity a (its views of its other "
        "own-track lessons per student over the peers'): half of a busier cohort's excess is put down "
        f"to its being busier. The {q2.confidence:.0%} one-sided lower bound of that ratio is ratio x "
        f"exp(-{z:.2f} x sqrt(phi x (1/k1 + 1/k2))), k1 and k2 the cohort's (without that reader) "
        "and peers' views of the lesson and phi the program's over-dispersion (median over lessons of "
        "the Pearson chi-square per degree of freedom of cohorts' counts, at least 1). A case needs "
        f"that lower bound at least {q2.min_ratio_low:g}, the same bound divided once more by sqrt(a) "
        "(the lesson's share of the cohort's own reading against the peers') at least "
        f"{q2.min_share_ratio_low:g}, and at least {q2.min_views} views without the heaviest reader. "
        f"Pairs are compared when the lesson has at least {q2.min_views} views in the program "
        f"({tests:,} pairs). The {q2.max_cases_per_program} strongest cases per program (largest "
        "lower bound) are shown."
    )
