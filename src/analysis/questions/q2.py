"""Question 2: is there a cohort that referred to a lesson far more than the other cohorts?

For every (cohort, lesson) pair of a program the cohort's views per student are compared with the other
cohorts of the same program pooled, with the conditional binomial test for two Poisson rates: given the
k1 + k2 views of the lesson, the cohort's count k1 is Binomial(k1 + k2, n1 / (n1 + n2)) when both groups
read the lesson at the same rate per student (n = students). Thousands of pairs are tested, so the
Benjamini-Hochberg procedure controls the false discovery rate; a case also needs a volume floor and a
large effect (rate ratio), so a statistically clear but tiny difference is not reported. Views of one
page by one student are not independent (a student may reopen a page dozens of times), so a case must
also hold without the cohort's heaviest reader of the lesson: one student's re-reading is not a cohort
over-using a lesson.

Only lessons of the program's own track are compared (modules whose home track, `prepare.module_homes`,
is the program's track, plus shared modules with no clear home): a web-dev cohort reading data-science
lessons is cross-program access (question 5), not a cohort over-using one of its own lessons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analysis.config import Config
from analysis.prepare import (
    Prepared,
    home_table,
    keep_own_track,
    prepare,
    student_lesson_views,
)
from analysis.results import QuestionResult
from analysis.sources.snapshot import Snapshot

TITLE = "Is there a cohort that referred to a lesson far more than other cohorts?"
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts): the simulator injected "
    "known over-use cases, which this test is checked against."
)

CASES_SCHEMA = {
    "program": pl.String(),
    "cohort_id": pl.Int64(),
    "cohort": pl.String(),
    "lesson": pl.String(),
    "views": pl.Int64(),
    "students": pl.Int64(),
    "rate": pl.Float64(),
    "peer_views": pl.Int64(),
    "peer_students": pl.Int64(),
    "peer_rate": pl.Float64(),
    "rate_ratio": pl.Float64(),
    "top_student_views": pl.Int64(),  # views by the cohort's heaviest reader of the lesson
    "ratio_without_top": pl.Float64(),  # rate ratio leaving that student out (null: unbounded)
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "p_value": pl.Float64(),
    "q_value": pl.Float64(),
}
SUMMARY_SCHEMA = {
    "program": pl.String(),
    "cohorts": pl.UInt32(),
    "tests": pl.UInt32(),
    "flagged": pl.UInt32(),
}


@dataclass(frozen=True)
class Q2Result(QuestionResult):
    cases: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CASES_SCHEMA))
    flagged: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CASES_SCHEMA))
    by_program: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SUMMARY_SCHEMA))
    tests_run: int = 0
    other_track_views: int = 0  # student views of other-track lessons, left out of the comparison

    def tables(self) -> dict[str, pl.DataFrame]:
        cases = self.cases.head(15).select(
            pl.col("program").alias("Program"),
            pl.col("cohort").alias("Cohort"),
            pl.col("lesson").alias("Lesson"),
            pl.col("views").alias("Views"),
            pl.col("students").alias("Students"),
            pl.col("rate").round(1).alias("Views per student"),
            pl.col("peer_rate").round(2).alias("Other cohorts, views per student"),
            pl.col("rate_ratio").round(1).alias("Rate ratio"),
            pl.col("ratio_without_top").round(1).alias("Rate ratio without the top reader"),
            (
                pl.col("ci_low").round(1).cast(pl.String)
                + pl.lit("-")
                + pl.col("ci_high").round(1).cast(pl.String).fill_null("inf")
            ).alias("95% CI"),
            pl.col("q_value").alias("q-value"),
        )
        summary = self.by_program.select(
            pl.col("program").alias("Program"),
            pl.col("cohorts").alias("Cohorts"),
            pl.col("tests").alias("Pairs tested"),
            pl.col("flagged").alias("Cases found"),
        )
        return {"Strongest cases": cases, "Tests per program": summary}

    def headline(self) -> str:
        if self.cases.is_empty():
            return self.answer
        top = self.cases.sort("rate_ratio", descending=True).row(0, named=True)
        return (
            f"{top['cohort']} read {top['lesson']} {top['rate_ratio']:.1f}x as often per student as "
            f"other {top['program']} cohorts"
        )


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH adjusted p-values (q-values), vectorised: q_(i) = min_{j>=i} p_(j) m / j, capped at 1."""
    m = p_values.size
    if m == 0:
        return p_values.astype(float)
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    q_values = np.empty(m, dtype=float)
    q_values[order] = adjusted
    return q_values


def rate_test(
    k1: np.ndarray, k2: np.ndarray, n1: np.ndarray, n2: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-sided conditional binomial test that rate k1/n1 exceeds rate k2/n2, with the rate ratio.

    Returns (p_value, rate_ratio, ci_low, ci_high). p = P(X >= k1), X ~ Binomial(k1 + k2, n1 / (n1 + n2))
    (what scipy.stats.binomtest(..., alternative="greater") computes). The confidence interval is the
    exact Clopper-Pearson interval of the binomial proportion mapped to the ratio scale; its upper end is
    infinite (NaN here) when the peers never viewed the lesson.
    """
    # scipy.special, imported here: importing scipy.stats costs about 1 s more start-up
    # (bench/README.md). binom.sf(k - 1, n, p) = I_p(k, n - k + 1) (1 for k = 0) and
    # beta.ppf(q, a, b) = betaincinv(a, b, q): bit-identical to scipy.stats on a 200,000-case grid.
    from scipy import special

    k1, k2 = np.asarray(k1, dtype=float), np.asarray(k2, dtype=float)
    n1, n2 = np.asarray(n1, dtype=float), np.asarray(n2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_value = np.where(k1 > 0, special.betainc(k1, k2 + 1, n1 / (n1 + n2)), 1.0)
    tail = (1 - confidence) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(k2 > 0, (k1 / n1) / (k2 / n2), np.nan)
        low_p = np.where(k1 > 0, special.betaincinv(k1, k2 + 1, tail), 0.0)
        high_p = np.where(k2 > 0, special.betaincinv(k1 + 1, k2, 1 - tail), 1.0)
        to_ratio = n2 / n1
        ci_low = low_p / (1 - low_p) * to_ratio
        ci_high = np.where(high_p < 1, high_p / (1 - high_p) * to_ratio, np.nan)
    return p_value, ratio, ci_low, ci_high


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q2Result:
    """Find (cohort, lesson) pairs read far more per student than the program's other cohorts."""
    prepared = prepared or prepare(snapshot, config)
    q2 = config.q2
    views = student_lesson_views(prepared).filter(
        pl.col("lesson").is_not_null() & (pl.col("lesson") != "")
    )
    # Exposure: a cohort's students = its distinct users with any lesson view (own track or not). The
    # aggregates come from one scan of the views (collect_all shares the common sub-plan). The big
    # group-by keys are cohort_id, lesson and user_id only: program and track are per cohort and module
    # is per lesson, so they are attached afterwards from small tables (grouping by two more text keys
    # over every student view was the peak of `analyze` at 50x: bench/README.md).
    students_by_id, per_lesson, lesson_modules = pl.collect_all(
        [
            views.group_by("cohort_id").agg(pl.col("user_id").n_unique().alias("students")),
            views.group_by("cohort_id", "lesson", "user_id")
            .agg(pl.len().alias("views"))
            .group_by("cohort_id", "lesson")
            .agg(
                pl.col("views").sum().alias("views"),
                pl.col("views").max().alias("top_student_views"),
            ),
            views.group_by("lesson").agg(pl.col("module").first().alias("module")),
        ]
    )
    cohort_labels = prepared.cohorts.select(
        "cohort_id",
        pl.col("cohort_name").alias("cohort"),
        pl.col("program").cast(pl.String),
        pl.col("track").cast(pl.String),
    )
    students = students_by_id.join(cohort_labels, on="cohort_id", how="left").select(
        "program", "cohort_id", "cohort", "students"
    )
    all_counts = (
        per_lesson.with_columns(pl.col("lesson").cast(pl.String))
        .join(cohort_labels.drop("cohort"), on="cohort_id", how="left")
        .join(
            lesson_modules.with_columns(pl.col("lesson", "module").cast(pl.String)),
            on="lesson",
            how="left",
        )
        .select("program", "cohort_id", "lesson", "views", "top_student_views", "track", "module")
    )
    # Views per (module, track) of `track_lesson_views`: those rows are a subset of `views` (a module
    # implies a lesson), so the per-(cohort, lesson) counts hold them all.
    module_track = (
        all_counts.filter(
            pl.col("module").is_not_null()
            & (pl.col("module") != "")
            & pl.col("track").is_not_null()
        )
        .group_by("module", "track")
        .agg(pl.col("views").sum().cast(pl.Int64).alias("views"))
    )
    counts = keep_own_track(all_counts, home_table(module_track, config))
    other_track_views = int(all_counts["views"].sum() - counts["views"].sum())
    pairs = (
        counts.drop("track", "module")
        .join(students, on=["program", "cohort_id"])
        .join(
            students.group_by("program").agg(
                pl.col("students").sum().alias("program_students"),
                pl.len().alias("program_cohorts"),
            ),
            on="program",
        )
        .with_columns(
            (pl.col("views").sum().over("program", "lesson") - pl.col("views")).alias("peer_views"),
            (pl.col("program_students") - pl.col("students")).alias("peer_students"),
        )
        # Testable: the program has peers, and the lesson has enough views in the program in all
        # (a filter on the total k1 + k2, which the conditional test does not depend on).
        .filter(
            (pl.col("program_cohorts") >= 2)
            & ((pl.col("views") + pl.col("peer_views")) >= q2.min_views)
        )
        .sort("program", "cohort_id", "lesson")
    )
    p_value, ratio, ci_low, ci_high = rate_test(
        pairs["views"].to_numpy(),
        pairs["peer_views"].to_numpy(),
        pairs["students"].to_numpy(),
        pairs["peer_students"].to_numpy(),
    )
    q_value = benjamini_hochberg(p_value)
    tested = pairs.with_columns(
        (pl.col("views") / pl.col("students")).alias("rate"),
        (pl.col("peer_views") / pl.col("peer_students")).alias("peer_rate"),
        pl.Series("rate_ratio", ratio, dtype=pl.Float64).fill_nan(None),
        pl.Series("ci_low", ci_low, dtype=pl.Float64).fill_nan(None),
        pl.Series("ci_high", ci_high, dtype=pl.Float64).fill_nan(None),
        pl.Series("p_value", p_value, dtype=pl.Float64),
        pl.Series("q_value", q_value, dtype=pl.Float64),
    ).with_columns(_ratio_without_top().alias("_robust"))
    tested = tested.with_columns(
        pl.when(pl.col("_robust").is_infinite())
        .then(None)
        .otherwise(pl.col("_robust"))
        .alias("ratio_without_top")
    )
    flagged = (
        tested.filter(
            (pl.col("q_value") <= q2.alpha)
            & (pl.col("views") >= q2.min_views)
            # no peer views at all is the extreme case (ratio undefined, CI unbounded)
            & (pl.col("rate_ratio").fill_null(float("inf")) >= q2.min_rate_ratio)
            # ... and it is the cohort's, not one student's: it holds without the heaviest reader
            & (pl.col("_robust") >= q2.min_rate_ratio)
        )
        .with_columns(pl.col("rate_ratio").fill_null(float("inf")).alias("_order"))
        .sort(
            ["program", "_order", "q_value", "cohort_id", "lesson"],
            descending=[False, True, False, False, False],
        )
        .drop("_order")
        .select(CASES_SCHEMA.keys())
        .cast(CASES_SCHEMA)
    )
    cases = (
        flagged.with_columns(pl.int_range(pl.len()).over("program").alias("_n"))
        .filter(pl.col("_n") < q2.max_cases_per_program)
        .drop("_n")
        .sort(["program", "rate_ratio"], descending=[False, True], nulls_last=False)
    )
    by_program = (
        students.group_by("program")
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
        .with_columns(pl.col("tests", "flagged").fill_null(0))
        .sort("program")
        .cast(SUMMARY_SCHEMA)
    )
    answer_text, supporting = _sentences(cases, flagged, by_program, tested.height, q2.alpha)
    home_share = config.q5.lesson_home_min_share
    caveats = [
        "Lessons are compared within their own track only: a module's home track is inferred from who "
        f"reads it (at least {home_share:.0%} of its student views from one track); "
        f"{other_track_views:,} student views of the other track's modules are left out (question 5 "
        "covers them), while shared modules without such a majority stay in.",
        "Students are each cohort's distinct users with any lesson view; a cohort whose students "
        "simply use the site more will have higher rates on every lesson, which the rate-ratio floor "
        f"({q2.min_rate_ratio:g}x) guards against.",
        "Curriculum changes (a lesson added or renamed for later cohorts) also make a cohort stand "
        "out against peers that never had the lesson: check the dates before acting on a case.",
    ]
    if prepared.simulated:
        caveats.append(SIMULATED_CAVEAT)
    return Q2Result(
        number=2,
        title=TITLE,
        answer=answer_text,
        supporting=supporting,
        method=(
            "Only students' lesson views count, and only of lessons in the program's own track: modules "
            f"whose home track (the track making at least {home_share:.0%} of the module's student views, "
            "or [q5.lesson_home_overrides]) is the program's track, plus shared modules with no such "
            "majority; other-track modules are cross-program reading (question 5), not over-use. "
            "For every cohort and lesson of a program, the cohort's "
            "views per student are compared with the program's other cohorts pooled, with the "
            "conditional binomial test for two Poisson rates (one-sided: is the cohort higher?). Pairs "
            f"are tested when the lesson has at least {q2.min_views} views in the program. P-values are "
            f"adjusted with Benjamini-Hochberg across all {tested.height:,} tests; a case needs a "
            f"q-value <= {q2.alpha:g}, at least {q2.min_views} views by the cohort and a rate ratio of "
            f"at least {q2.min_rate_ratio:g} (95% CI: exact Clopper-Pearson), and the ratio must stay at "
            f"least {q2.min_rate_ratio:g} when the cohort's heaviest reader of the lesson is left out "
            "(views and students minus that one student), so one student re-opening a page dozens of "
            "times does not make a cohort stand out. The "
            f"{q2.max_cases_per_program} strongest cases per program (largest rate ratio) are shown."
        ),
        parameters={
            "min_views": q2.min_views,
            "alpha": q2.alpha,
            "min_rate_ratio": q2.min_rate_ratio,
            "max_cases_per_program": q2.max_cases_per_program,
            "lesson_home_min_share": home_share,
            "lesson_home_overrides": dict(config.q5.lesson_home_overrides),
        },
        caveats=caveats,
        cases=cases,
        flagged=flagged,
        by_program=by_program,
        tests_run=tested.height,
        other_track_views=other_track_views,
    )


def _ratio_without_top() -> pl.Expr:
    """Rate ratio of the cohort without its heaviest reader of the lesson against the peers: 0 for a
    one-student cohort (the case would be one student's), infinite when the peers never read it."""
    rest = (pl.col("views") - pl.col("top_student_views")) / (pl.col("students") - 1)
    return (
        pl.when(pl.col("students") <= 1)
        .then(pl.lit(0.0))
        .when(pl.col("peer_views") == 0)
        .then(pl.when(rest > 0).then(pl.lit(float("inf"))).otherwise(pl.lit(0.0)))
        .otherwise(rest / pl.col("peer_rate"))
    )


def _q_text(value: float) -> str:
    return "< 1e-300" if value < 1e-300 else f"= {value:.2g}"


def _ratio_text(value: float | None) -> str:
    return "with no views at all from other cohorts" if value is None else f"{value:.1f}x"


def _sentences(
    cases: pl.DataFrame,
    flagged: pl.DataFrame,
    by_program: pl.DataFrame,
    tests_run: int,
    alpha: float,
) -> tuple[str, list[str]]:
    if tests_run == 0:
        return (
            "No cohort and lesson had enough student views to compare cohorts.",
            ["Comparing cohorts needs a program with at least two cohorts and lessons with views."],
        )
    if flagged.is_empty():
        return (
            f"No: none of the {tests_run:,} cohort-lesson pairs tested stands out after correcting "
            f"for multiple testing (false discovery rate {alpha:g}).",
            [
                "Every cohort read every lesson within the range expected from the other cohorts "
                "of its program, or the difference was too small to matter."
            ],
        )
    top = flagged.sort("rate_ratio", descending=True, nulls_last=False).row(0, named=True)
    plural = "s stand" if flagged.height != 1 else " stands"
    if top["rate_ratio"] is None:
        how = f"{top['views']:,} times ({top['rate']:.1f} per student) while the other cohorts never did"
    else:
        how = (
            f"{top['rate_ratio']:.1f} times as often per student as the other {top['program']} "
            f"cohorts ({top['rate']:.1f} vs {top['peer_rate']:.2f} views per student)"
        )
    answer_text = (
        f"Yes: {flagged.height} cohort-lesson pair{plural} out; the strongest is {top['cohort']} "
        f"({top['program']}), which viewed {top['lesson']} {how}."
    )
    supporting = [
        f"{tests_run:,} cohort-lesson pairs were tested; "
        + ", ".join(
            f"{r['program']}: {r['flagged']} case{'s' if r['flagged'] != 1 else ''}"
            for r in by_program.iter_rows(named=True)
        )
        + "."
    ]
    for row in (
        cases.filter(
            ~((pl.col("cohort_id") == top["cohort_id"]) & (pl.col("lesson") == top["lesson"]))
        )
        .head(2)
        .iter_rows(named=True)
    ):
        supporting.append(
            f"{row['cohort']} ({row['program']}) viewed {row['lesson']} {row['views']:,} times, "
            f"{_ratio_text(row['rate_ratio'])} the per-student rate of the other cohorts "
            f"(q {_q_text(row['q_value'])})."
        )
    if top["ci_low"] is not None:
        high = "unbounded" if top["ci_high"] is None else f"{top['ci_high']:.1f}x"
        supporting.append(
            f"For the strongest case the 95% interval of the rate ratio is {top['ci_low']:.1f}x to "
            f"{high}."
        )
    return answer_text, supporting[:4]
