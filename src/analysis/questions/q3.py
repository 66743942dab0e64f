"""Question 3: are there students who, while enrolled, hardly access the curriculum? What do we know?

"Hardly" is judged against the student's own cohort, not an absolute bar: cohorts differ in length,
program and era. For every enrollment (user, cohort) whose enrolled window overlaps the data by at least
`q3.min_enrolled_days`, lesson views while enrolled are normalised per enrolled week observed, and compared
with cohort peers on a log scale with robust statistics (median and MAD), so a few heavy readers do not
hide the light ones. For each flagged student the profile says what the log knows: first and last access,
active days, lessons, IPs, a likely drop-out, or a possible second account of the same person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import cast

import polars as pl

from analysis.config import Config
from analysis.glossary import SAME_PERSON, SECOND_ACCOUNT
from analysis.prepare import (
    Prepared,
    campus_ips,
    chosen_views,
    lesson_counts,
    prepare,
    student_rows,
    user_addresses,
    user_ip_days,
)
from analysis.results import QuestionResult, Words, data_fields
from analysis.schema import ColumnTypes
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 3
SHORT_TITLE = "Students who hardly use it"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 1
TITLE = (
    "Are there students who, when active, hardly access the curriculum? What do we know about them?"
)
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts, with injected drop-outs and "
    "duplicate identities): user ids and counts illustrate the method, not real students."
)
MAD_SCALE = 1.4826  # MAD -> standard deviation under normality
MEAN_AD_SCALE = 1.2533  # mean absolute deviation -> standard deviation (fallback when MAD is 0)

# Readable names of the patterns, in the order a page lists them.
PATTERNS: dict[str, str] = {
    "no_views": "No lesson views while enrolled",
    "dropout": "Likely drop-out",
    "light": "Light reader",
    "seldom": "Seldom active (reads when present)",
    "same_person": SECOND_ACCOUNT,
}

STUDENT_SCHEMA: ColumnTypes = {
    "user_id": pl.Int64(),
    "cohort_id": pl.Int64(),
    "cohort": pl.String(),
    "program": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "first_access": pl.Datetime("us"),
    "last_access": pl.Datetime("us"),
    "enrolled_days": pl.Int64(),
    "views": pl.UInt32(),
    "active_days": pl.UInt32(),
    "lessons": pl.UInt32(),
    "ips": pl.UInt32(),
    "views_per_week": pl.Float64(),
    "cohort_median_per_week": pl.Float64(),
    "robust_z": pl.Float64(),
    "share_of_median": pl.Float64(),  # views per week / the cohort's median
    "peer_group": pl.String(),
    "low_usage": pl.Boolean(),
    "likely_dropout": pl.Boolean(),
    "continued_elsewhere": pl.Boolean(),
    "possible_same_person": pl.List(pl.Int64()),
    "pattern": pl.String(),
}
# Judged students binned by their weekly lesson views as a share of their cohort's median (log
# bins: bounded whatever the number of students).
SHARE_BINS: list[tuple[float, str]] = [
    (0.05, "under 5%"),
    (0.1, "5-10%"),
    (0.2, "10-20%"),
    (0.5, "20-50%"),
    (1.0, "50-100%"),
    (2.0, "100-200%"),
    (5.0, "200-500%"),
    (float("inf"), "over 500%"),
]
DISTRIBUTION_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "bin": pl.UInt32(),  # index into SHARE_BINS
    "share_bin": pl.String(),
    "low_usage": pl.Boolean(),
    "students": pl.UInt32(),
}
PROGRAM_SCHEMA: ColumnTypes = {
    "program": pl.String(),
    "students": pl.UInt32(),
    "low_usage": pl.UInt32(),
    "share_low": pl.Float64(),
    "likely_dropouts": pl.UInt32(),
    "same_person_pairs": pl.UInt32(),  # pairs of accounts of the program's cohorts (PAIR_SCHEMA rows)
    "median_views_per_week": pl.Float64(),
}
# One row per pair of accounts that may be one person: the earlier account first.
PAIR_SCHEMA: ColumnTypes = {
    "cohort_id": pl.Int64(),
    "cohort": pl.String(),
    "program": pl.String(),
    "user_id": pl.Int64(),
    "other_user_id": pl.Int64(),
    "last_access": pl.Datetime("us"),  # the earlier account's last view
    "other_first_access": pl.Datetime("us"),  # the later account's first view
}
TABLE_ROWS = 15  # rows of a page table
EXCLUDED_SCHEMA: ColumnTypes = {
    "cohort_id": pl.Int64(),
    "cohort": pl.String(),
    "program": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "students": pl.UInt32(),
    "enrolled_days_in_data": pl.Int64(),
    "reason": pl.String(),
}


@dataclass(frozen=True, kw_only=True)
class Q3Data:
    """The numbers of question 3 (computed by `compute`, told by `words`)."""

    # Flagged students (low usage, or half of a possible duplicate identity), lowest share first.
    students: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STUDENT_SCHEMA))
    # Judged students per program, share-of-median bin and low-usage flag (the chart's data).
    distribution: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=DISTRIBUTION_SCHEMA)
    )
    by_program: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROGRAM_SCHEMA))
    pairs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PAIR_SCHEMA))
    too_recent: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EXCLUDED_SCHEMA))
    before_data: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EXCLUDED_SCHEMA))
    eligible_students: int = 0
    low_students: int = 0  # rows of `students` with low_usage
    likely_dropouts: int = 0
    hard_stops: int = 0  # likely drop-outs whose last view is within dropout_days of the start
    faded: int = 0  # likely drop-outs who faded to a trickle
    no_view_students: int = 0  # judged students with no lesson view while enrolled
    same_person_pairs: int = 0  # rows of `pairs`
    # the low-usage students' median lesson views per enrolled week, and their cohorts' (rounded)
    typical_views_per_week: float = 0.0
    cohort_typical_views_per_week: float = 0.0
    threshold_z: float = -2.5
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q3Result(QuestionResult, Q3Data):
    def tables(self) -> dict[str, pl.DataFrame]:
        low = self.students.filter(pl.col("low_usage"))
        flagged = low.head(TABLE_ROWS).select(
            pl.col("user_id").alias("User"),
            pl.col("cohort").alias("Cohort"),
            pl.col("program").alias("Program"),
            pl.col("pattern").alias("Pattern"),
            pl.col("views").alias("Lesson views enrolled"),
            pl.col("views_per_week").round(1).alias("Per week"),
            pl.col("cohort_median_per_week").round(1).alias("Cohort median per week"),
            (pl.col("share_of_median") * 100).round(0).alias("Share of the cohort median (%)"),
            pl.col("active_days").alias("Active days"),
            pl.col("first_access").dt.date().alias("First access"),
            pl.col("last_access").dt.date().alias("Last access"),
            pl.col("ips").alias("IPs"),
        )
        pairs = self.pairs.head(TABLE_ROWS).select(
            pl.col("cohort").alias("Cohort"),
            pl.col("program").alias("Program"),
            pl.col("user_id").alias("Earlier account"),
            pl.col("last_access").dt.date().alias("Its last access"),
            pl.col("other_user_id").alias("Later account"),
            pl.col("other_first_access").dt.date().alias("Its first access"),
        )
        programs = self.by_program.select(
            pl.col("program").alias("Program"),
            pl.col("students").alias("Students judged"),
            pl.col("low_usage").alias("Low usage"),
            (pl.col("share_low") * 100).round(1).alias("Low usage (%)"),
            pl.col("likely_dropouts").alias("Likely drop-outs"),
            pl.col("same_person_pairs").alias(f"Pairs of accounts that {SAME_PERSON}"),
            pl.col("median_views_per_week").round(1).alias("Median lesson views per week"),
        )
        excluded = (
            pl.concat([self.too_recent, self.before_data])
            .head(TABLE_ROWS)
            .select(
                pl.col("cohort").alias("Cohort"),
                pl.col("program").alias("Program"),
                pl.col("start_date").alias("Start"),
                pl.col("end_date").alias("End"),
                pl.col("students").alias("Students seen"),
                pl.col("enrolled_days_in_data").alias("Enrolled days in data"),
                pl.col("reason").alias("Why not judged"),
            )
        )
        shown = (
            f" (first {TABLE_ROWS} of {self.low_students})"
            if self.low_students > TABLE_ROWS
            else ""
        )
        tables = {f"Students who hardly use the curriculum{shown}": flagged}
        if not pairs.is_empty():
            tables[f"Pairs of accounts that {SAME_PERSON}"] = pairs
        tables["By program"] = programs
        if not excluded.is_empty():
            tables["Cohorts not judged"] = excluded
        return tables

    def headline(self) -> str:
        if not self.eligible_students:
            return "No enrollment overlaps the data long enough to judge usage"
        return (
            f"{self.low_students} of {self.eligible_students:,} students hardly use the curriculum; "
            f"{self.likely_dropouts} "
            f"{'looks like a drop-out' if self.likely_dropouts == 1 else 'look like drop-outs'}"
        )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q3Data:
    """Flag students far below their cohort peers and profile them from the log."""
    prepared = prepared or prepare(snapshot, config)
    q3 = config.q3
    data_start = prepared.data_start.date()
    data_end = prepared.data_end.date()

    # each student's addresses per cohort, with first and last view: the spans of the enrollments
    # and the personal addresses come from these rows (prepare.user_addresses, shared with other
    # questions)
    addresses = (
        user_addresses(prepared)
        .lazy()
        .filter(student_rows(prepared))
        .select(
            "user_id",
            "cohort_id",
            "ip",
            pl.col("first").alias("first_access"),
            pl.col("last").alias("last_access"),
        )
    )
    enrollments, user_ips = pl.collect_all(
        [
            _enrollments(prepared, addresses, data_start, data_end, config),
            _user_ips(prepared, addresses, config),
        ]
    )
    eligible = enrollments.filter(pl.col("status") == "eligible")
    too_recent = _excluded(enrollments, "too_recent")
    before_data = _excluded(enrollments, "before_data")

    same_person = _same_person(prepared, user_ips, config)
    judged = _judge(eligible, same_person, config, data_end)
    flagged = (
        judged.filter(pl.col("low_usage") | (pl.col("possible_same_person").list.len() > 0))
        .sort(
            ["low_usage", "share_of_median", "user_id"],
            descending=[True, False, False],
            nulls_last=True,
        )
        .select(STUDENT_SCHEMA.keys())
        .cast(STUDENT_SCHEMA)
    )
    pairs = _pairs(flagged)
    by_program = (
        judged.group_by("program")
        .agg(
            pl.len().alias("students"),
            pl.col("low_usage").sum().alias("low_usage"),
            pl.col("low_usage").mean().alias("share_low"),
            pl.col("likely_dropout").sum().alias("likely_dropouts"),
            pl.col("views_per_week").median().alias("median_views_per_week"),
        )
        .join(
            pairs.group_by("program").agg(pl.len().alias("same_person_pairs")),
            on="program",
            how="left",
        )
        .with_columns(pl.col("same_person_pairs").fill_null(0))
        .sort("program")
        .select(PROGRAM_SCHEMA.keys())
        .cast(PROGRAM_SCHEMA)
    )
    low_rows = flagged.filter(pl.col("low_usage"))
    drops = flagged.filter(pl.col("likely_dropout"))
    stopped = (drops["last_access"].dt.date() - drops["start_date"]).dt.total_days()
    hard = int((stopped <= q3.dropout_days).sum())
    return Q3Data(
        students=flagged,
        distribution=_binned(judged),
        by_program=by_program,
        pairs=pairs,
        too_recent=too_recent,
        before_data=before_data,
        eligible_students=judged.height,
        low_students=low_rows.height,
        likely_dropouts=drops.height,
        hard_stops=hard,
        faded=drops.height - hard,
        no_view_students=int((judged["views"] == 0).sum()) if judged.height else 0,
        same_person_pairs=pairs.height,
        typical_views_per_week=round(cast(float, low_rows["views_per_week"].median() or 0.0)),
        cohort_typical_views_per_week=round(
            cast(float, low_rows["cohort_median_per_week"].median() or 0.0)
        ),
        threshold_z=-q3.low_z,
        simulated=prepared.simulated,
    )


def _pairs(flagged: pl.DataFrame) -> pl.DataFrame:
    """One row per pair of accounts that may be one person (PAIR_SCHEMA), the earlier account first."""
    spans = flagged.select("user_id", "cohort_id", "first_access", "last_access")
    return (
        flagged.select(
            "cohort_id", "cohort", "program", "user_id", pl.col("possible_same_person").alias("o")
        )
        .explode("o")
        .drop_nulls("o")
        .join(
            spans.rename({"user_id": "o", "first_access": "o_first", "last_access": "o_last"}),
            on=["o", "cohort_id"],
            how="left",
        )
        .join(spans.drop("first_access"), on=["user_id", "cohort_id"], how="left")
        # keep each pair once: the account whose last view comes first, then the lower id
        .filter(
            (pl.col("last_access") < pl.col("o_last"))
            | ((pl.col("last_access") == pl.col("o_last")) & (pl.col("user_id") < pl.col("o")))
        )
        .select(
            "cohort_id",
            "cohort",
            "program",
            "user_id",
            pl.col("o").alias("other_user_id"),
            "last_access",
            pl.col("o_first").alias("other_first_access"),
        )
        .sort("cohort_id", "user_id", "other_user_id")
        .cast(PAIR_SCHEMA)
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q3Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    q3 = config.q3
    data = compute(snapshot, config, prepared)
    return Q3Result(
        number=3,
        title=TITLE,
        parameters={
            "min_enrolled_days": q3.min_enrolled_days,
            "low_z": q3.low_z,
            "low_share_of_median": q3.low_share_of_median,
            "trickle_max_share_of_median": q3.trickle_max_share_of_median,
            "max_views_per_active_day": q3.max_views_per_active_day,
            "dropout_days": q3.dropout_days,
            "dropout_cohort_factor": q3.dropout_cohort_factor,
            "dropout_max_rate_ratio": q3.dropout_max_rate_ratio,
            "bulk_quantile": q3.bulk_quantile,
            "min_peers": q3.min_peers,
            "same_person_max_ip_users": q3.same_person_max_ip_users,
        },
        **words(data, config).text(),
        **data_fields(data),
    )


def words(data: Q3Data, config: Config) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    answer_text, supporting = _sentences(data, config)
    caveats = [
        "Only students who appear in the log under their cohort can be judged: an enrolled student "
        "who never opened the curriculum has no rows and is invisible here.",
        "Low usage of the curriculum site is not low engagement: students may learn from class, "
        "notes or other material.",
        f"Two accounts that {SAME_PERSON} are a lead to check, not proof: it rests on a shared "
        "non-campus IP and on the second account starting after the first one stopped.",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    return Words(answer=answer_text, supporting=supporting, method=_method(config), caveats=caveats)


def _binned(judged: pl.DataFrame) -> pl.DataFrame:
    """Students per program, share-of-median bin and low-usage flag."""
    edges = [edge for edge, _ in SHARE_BINS[:-1]]
    labels = {i: label for i, (_, label) in enumerate(SHARE_BINS)}
    index = pl.sum_horizontal(
        [(pl.col("share_of_median").fill_null(0.0) >= edge).cast(pl.UInt32) for edge in edges]
    )
    return (
        judged.group_by("program", index.alias("bin"), "low_usage")
        .agg(pl.len().alias("students"))
        .with_columns(
            pl.col("bin").replace_strict(labels, return_dtype=pl.String).alias("share_bin")
        )
        .sort("program", "bin", "low_usage")
        .select(DISTRIBUTION_SCHEMA.keys())
        .cast(DISTRIBUTION_SCHEMA)
    )


def _enrollments(
    prepared: Prepared,
    addresses: pl.LazyFrame,
    data_start: dt.date,
    data_end: dt.date,
    config: Config,
) -> pl.LazyFrame:
    """One row per (student, cohort): activity while enrolled, first/last access, eligibility.
    `addresses`: one row per (student, cohort, ip) with its first and last access."""
    q3 = config.q3
    min_days = q3.min_enrolled_days
    observed_start = pl.max_horizontal(pl.col("start_date"), pl.lit(data_start))
    observed_end = pl.min_horizontal(pl.col("end_date"), pl.lit(data_end))
    keys = ["user_id", "cohort_id"]
    # three narrow aggregations joined beat one wide aggregation with filtered n_unique per group
    spans = addresses.group_by(keys).agg(
        pl.col("first_access").min(),
        pl.col("last_access").max(),
        pl.len().alias("ips"),
    )
    days, lessons = _activity(prepared, config)
    cohorts = prepared.cohorts.lazy().select(
        "cohort_id", pl.col("cohort_name").alias("cohort"), "program", "start_date", "end_date"
    )
    return (
        spans.join(days, on=keys, how="left")
        .join(lessons, on=keys, how="left")
        .join(cohorts, on="cohort_id", how="left")
        .with_columns(
            pl.col("active_days", "views", "lessons", "early_days", "late_active_days").fill_null(0)
        )
        .with_columns(
            ((observed_end - observed_start).dt.total_days() + 1)
            .clip(lower_bound=0)
            # a cohort wholly outside the data has no observed days
            .alias("enrolled_days"),
            # enrolled days after the first dropout_days, inside the data (for the trickle test)
            ((observed_end - pl.col("start_date")).dt.total_days() - q3.dropout_days).alias(
                "late_days"
            ),
            (pl.col("start_date") >= pl.lit(data_start)).alias("start_observed"),
        )
        .with_columns(
            pl.when(pl.col("start_date") > pl.lit(data_end - dt.timedelta(days=min_days)))
            .then(pl.lit("too_recent"))
            .when(pl.col("enrolled_days") < min_days)
            .then(pl.lit("before_data"))
            .otherwise(pl.lit("eligible"))
            .alias("status"),
            # the user was seen later under another student cohort (re-take or transfer)
            (pl.col("last_access").max().over("user_id") > pl.col("last_access")).alias(
                "continued_elsewhere"
            ),
        )
    )


def _activity(prepared: Prepared, config: Config) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Per (student, cohort) while enrolled: active days in and after the first `dropout_days`
    (a date lies wholly in one or the other; days, which long sessions do not inflate the way they
    inflate views: `_active_days`, collected), and lesson views and distinct lessons
    (`_lesson_activity`, prepare's table in memory)."""
    return _active_days(prepared, config).collect().lazy(), _lesson_activity(prepared)


def _lesson_activity(prepared: Prepared) -> pl.LazyFrame:
    """Per (student, cohort): lesson views while enrolled (`views`, unnamed lessons included) and
    the distinct lessons read (`lessons`, a null lesson not counted). From prepare's counts of the
    students' lesson views (`lesson_counts`, shared with questions 1, 2, 5 and 7), not from the
    views."""
    return lesson_counts(prepared).enrollments.lazy()


def _active_days(prepared: Prepared, config: Config) -> pl.LazyFrame:
    """Per (student, cohort) while enrolled: the distinct days with a view, those in the first
    `dropout_days` after the cohort's start (`early_days`) and those after (`late_active_days`).
    From prepare's per user, address and day rows (`user_ip_days`, kept views only; the window is
    a function of the cohort and the day), not from the views."""
    keys = ["user_id", "cohort_id"]
    early = pl.col("date") <= pl.col("start_date") + pl.duration(days=config.q3.dropout_days)
    return (
        user_ip_days(prepared)
        .filter(pl.col("kept") & student_rows(prepared) & (pl.col("window") == "active"))
        .select(*keys, "date")
        .unique()
        .join(prepared.cohorts.lazy().select("cohort_id", "start_date"), on="cohort_id", how="left")
        .group_by(keys)
        .agg(
            pl.len().cast(pl.UInt32).alias("active_days"),
            early.sum().cast(pl.UInt32).alias("early_days"),
        )
        .with_columns((pl.col("active_days") - pl.col("early_days")).alias("late_active_days"))
        .select(*keys, "active_days", "early_days", "late_active_days")
    )


def _student_views(prepared: Prepared, also: pl.Expr | None = None) -> pl.LazyFrame:
    """Students' views, chosen by cohort id (the role of every row would cost a lookup per row);
    `also`: a further condition on stored columns (the window), applied before the rows are
    labelled (`prepare.chosen_views`)."""
    students = student_rows(prepared)
    return chosen_views(prepared, students if also is None else students & also)


def _excluded(enrollments: pl.DataFrame, status: str) -> pl.DataFrame:
    reasons = {
        "too_recent": "started fewer than the minimum enrolled days before the data ends",
        "before_data": "enrolled window lies (mostly) before the data starts",
    }
    return (
        enrollments.filter(pl.col("status") == status)
        .group_by("cohort_id")
        .agg(
            pl.col("cohort").first(),
            pl.col("program").first(),
            pl.col("start_date").first(),
            pl.col("end_date").first(),
            pl.len().alias("students"),
            pl.col("enrolled_days").first().alias("enrolled_days_in_data"),
        )
        .with_columns(pl.lit(reasons[status]).alias("reason"))
        .sort("start_date", "cohort_id")
        .select(EXCLUDED_SCHEMA.keys())
        .cast(EXCLUDED_SCHEMA)
    )


def _user_ips(prepared: Prepared, addresses: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """(student, cohort, ip) for personal IPs: used by at most `same_person_max_ip_users` user_ids
    (any role) and not a campus IP, so a classroom NAT or a cafe is never identity evidence.
    `addresses`: one row per (student, cohort, ip)."""
    max_users = config.q3.same_person_max_ip_users
    campus = list(config.q4.campus_ips)
    if max_users >= config.q4.shared_ip_min_users:  # detected campus IPs could pass the user bar
        campus += campus_ips(prepared, config)
    personal = (
        user_addresses(prepared)
        .lazy()
        .group_by("ip")
        .agg(pl.col("user_id").n_unique().alias("ip_users"))
        .filter((pl.col("ip_users") <= max_users) & ~pl.col("ip").is_in(campus))
        .select("ip")
    )
    return addresses.join(personal, on="ip", how="semi").select("user_id", "cohort_id", "ip")


def _same_person(prepared: Prepared, user_ips: pl.DataFrame, config: Config) -> pl.DataFrame:
    """(user_id, cohort_id) -> other user_ids of the same cohort that share a personal IP and whose
    activity follows this one's without overlap (either direction)."""
    q3 = config.q3
    keys = ["user_id", "cohort_id"]
    # Only enrollments sharing a (cohort, personal IP) with another user can pair up, so the bulk of
    # activity (two quantiles of view times per group: sorting every student's views, the largest
    # memory cost of this question at scale) is computed for those few alone.
    shared = user_ips.filter(pl.col("user_id").n_unique().over("cohort_id", "ip") > 1)
    spans = (
        # their users' rows first (a cheap filter), then the exact enrollments
        _student_views(prepared)
        .filter(pl.col("user_id").is_in(shared["user_id"].unique().implode()))
        .join(shared.lazy().select(keys).unique(), on=keys, how="semi")
        .group_by(keys)
        .agg(
            pl.col("timestamp")
            .quantile(q3.bulk_quantile, interpolation="lower")
            .alias("bulk_from"),
            pl.col("timestamp")
            .quantile(1 - q3.bulk_quantile, interpolation="higher")
            .alias("bulk_to"),
        )
        .collect()
    )
    with_spans = shared.join(spans, on=keys, how="inner")
    earlier_later = (
        with_spans.join(with_spans, on=["cohort_id", "ip"], how="inner", suffix="_later")
        .filter(
            (pl.col("user_id") != pl.col("user_id_later"))
            & (pl.col("bulk_from_later") > pl.col("bulk_to"))
        )
        .select("cohort_id", "user_id", pl.col("user_id_later").alias("other"))
    )
    both_ways = pl.concat(
        [
            earlier_later,
            earlier_later.select(
                "cohort_id", pl.col("other").alias("user_id"), pl.col("user_id").alias("other")
            ),
        ]
    )
    return (
        both_ways.unique()
        .group_by("user_id", "cohort_id")
        .agg(pl.col("other").sort().alias("possible_same_person"))
    )


def _judge(
    eligible: pl.DataFrame, same_person: pl.DataFrame, config: Config, data_end: dt.date
) -> pl.DataFrame:
    """Robust z of log1p(views per enrolled week) against the cohort's median (the program's when the
    cohort is too small) on the program's spread, the share of that median, and the drop-out
    patterns."""
    q3 = config.q3
    x = pl.col("_x")

    # The centre is the cohort's median (the program's for a cohort with too few students); the
    # spread is the program's, from every student's distance to their own cohort's centre: a cohort
    # of six has a median but no trustworthy spread of its own.
    small = pl.len().over("cohort_id") < q3.min_peers
    median = pl.col("_median")
    distance = (x - median).abs()
    mad = distance.median().over("program") * MAD_SCALE
    mean_ad = distance.mean().over("program") * MEAN_AD_SCALE
    scale = pl.when(mad > 0).then(mad).when(mean_ad > 0).then(mean_ad)
    last_day = pl.col("last_access").dt.date()
    cohort_days = (pl.col("end_date") - pl.col("start_date")).dt.total_days()
    views_per_active_day = pl.col("views") / pl.col("active_days").cast(pl.Float64)
    share = pl.col("share_of_median")
    # a hard stop: nothing after the first dropout_days, while the data runs on well past them
    hard_stop = (last_day <= pl.col("start_date") + pl.duration(days=q3.dropout_days)) & (
        pl.col("start_date") + pl.duration(days=2 * q3.dropout_days) <= pl.lit(data_end)
    )
    # active days per day, in the first dropout_days and after them
    early_rate = pl.col("early_days") / (q3.dropout_days + 1)
    late_rate = pl.col("late_active_days") / pl.col("late_days")
    # a fade needs a stretch of data after the first weeks to be told from a slow month
    trickle = (
        pl.col("start_observed")
        & (pl.col("late_days") >= 2 * q3.dropout_days)
        # ... and the student started like a classmate, not with a stray visit
        & (pl.col("early_days") >= q3.dropout_min_early_share * pl.col("_early_median"))
        & (late_rate <= q3.dropout_max_rate_ratio * early_rate)
        & (share <= q3.trickle_max_share_of_median)
    )
    abnormal = ((pl.col("robust_z") <= -q3.low_z) & (share <= q3.low_share_of_median)) | (
        share <= q3.near_zero_share_of_median
    )
    return (
        eligible.lazy()
        .join(same_person.lazy(), on=["user_id", "cohort_id"], how="left")
        .with_columns(
            pl.col("possible_same_person").fill_null(pl.lit([], dtype=pl.List(pl.Int64))),
            (pl.col("views") / (pl.col("enrolled_days") / 7)).alias("views_per_week"),
        )
        .with_columns(
            pl.col("views_per_week").log1p().alias("_x"),
            pl.col("early_days").median().over("cohort_id").alias("_early_median"),
        )
        .with_columns(
            pl.when(small)
            .then(x.median().over("program"))
            .otherwise(x.median().over("cohort_id"))
            .alias("_median")
        )
        .with_columns(
            ((x - median) / scale).alias("robust_z"),
            (median.exp() - 1).alias("cohort_median_per_week"),
            pl.when(small).then(pl.lit("program")).otherwise(pl.lit("cohort")).alias("peer_group"),
        )
        .with_columns(
            pl.when(pl.col("cohort_median_per_week") > 0)
            .then(pl.col("views_per_week") / pl.col("cohort_median_per_week"))
            .alias("share_of_median"),
        )
        .with_columns(
            (
                (hard_stop | trickle.fill_null(False))
                & (cohort_days >= q3.dropout_cohort_factor * q3.dropout_days)
                & ~pl.col("continued_elsewhere")
                & (pl.col("possible_same_person").list.len() == 0)
            ).alias("likely_dropout"),
        )
        .with_columns(
            ((pl.col("views") == 0) | abnormal.fill_null(False) | pl.col("likely_dropout")).alias(
                "low_usage"
            ),
        )
        .with_columns(
            pl.when(pl.col("likely_dropout"))
            .then(pl.lit("dropout"))
            .when(pl.col("low_usage") & (pl.col("views") == 0))
            .then(pl.lit("no_views"))
            .when(pl.col("low_usage") & (views_per_active_day > q3.max_views_per_active_day))
            .then(pl.lit("seldom"))
            .when(pl.col("low_usage"))
            .then(pl.lit("light"))
            .when(pl.col("possible_same_person").list.len() > 0)
            .then(pl.lit("same_person"))
            .replace_strict(PATTERNS, default=None)
            .alias("pattern"),
        )
        .collect()
    )


def _sentences(data: Q3Data, config: Config) -> tuple[str, list[str]]:
    q3 = config.q3
    too_recent, before_data = data.too_recent.height, data.before_data.height
    excluded = (
        f"Not judged: {too_recent} cohort{'s' if too_recent != 1 else ''} started "
        f"too recently and {before_data} ran before the data (each needs "
        f"{q3.min_enrolled_days} enrolled days inside it)."
    )
    if not data.eligible_students:
        return (
            "Cannot tell yet: no student's enrollment overlaps the data long enough to judge.",
            [excluded, "Judge usage once the data covers at least a month of a cohort."],
        )
    pairs = data.same_person_pairs
    pair_text = (
        f"{pairs} pair{'s' if pairs != 1 else ''} of accounts {SAME_PERSON}"
        if pairs
        else "no two accounts look like one person's"
    )
    if not data.low_students:
        return (
            f"No: none of the {data.eligible_students:,} students read far less than their "
            f"classmates while enrolled; {pair_text}.",
            [
                "Every student's weekly reading was within the usual range of their cohort.",
                excluded,
                _pairs_sentence(pairs),
            ],
        )
    dropouts = data.likely_dropouts
    answer_text = (
        f"Yes: {data.low_students} of {data.eligible_students:,} students hardly used the "
        f"curriculum while enrolled; {dropouts} "
        f"{'looks like a drop-out' if dropouts == 1 else 'look like drop-outs'}, and {pair_text}."
    )
    zero = data.no_view_students
    supporting = [
        f"They opened about {data.typical_views_per_week:.0f} lessons a week, where their "
        f"classmates typically opened {data.cohort_typical_views_per_week:.0f}"
        + (f"; {zero} opened none at all." if zero else "."),
        "By program: "
        + "; ".join(
            f"{r['program']} {r['low_usage']} of {r['students']:,}"
            for r in data.by_program.iter_rows(named=True)
        )
        + ".",
    ]
    if dropouts:
        supporting.append(
            f"Of the likely drop-outs, {data.hard_stops} stopped within {q3.dropout_days} days of "
            f"the start and {data.faded} faded to a trickle; none reappears under another account."
        )
    supporting.append(_pairs_sentence(pairs))
    supporting.append(excluded)
    return answer_text, supporting[:5]


def _pairs_sentence(pairs: int) -> str:
    if not pairs:
        return "No two accounts of a cohort look like one person using both in turn."
    return (
        f"{pairs} pair{'s' if pairs != 1 else ''} of accounts in the same cohort share a home "
        f"connection and take over from each other: each pair {SAME_PERSON}."
    )


def _method(config: Config) -> str:
    q3 = config.q3
    return (
        "For every student enrollment (user, cohort) seen in the log, lesson views while enrolled "
        "(start to end date of that cohort) are divided by the enrolled weeks that fall inside the "
        f"data. Enrollments with fewer than {q3.min_enrolled_days} enrolled days inside the data are "
        "not judged (cohorts that started too recently, or whose window lies before the data starts). "
        "Each student is compared with the peers of the same cohort (with the whole program when the "
        f"cohort has fewer than {q3.min_peers} judged students). Weekly counts are skewed, so the "
        "comparison is on a log scale: robust z = (log1p(x) - cohort median) / (1.4826 x MAD), the "
        "MAD taken over the whole program of each student's distance to their own cohort's median "
        "(a small cohort has a centre but no trustworthy spread of its own; mean absolute deviation "
        "when the MAD is 0). A student is flagged for low usage when robust z <= "
        f"-{q3.low_z:g} and the weekly views are at most {q3.low_share_of_median:.0%} of the cohort's "
        "median (both: a tight cohort's ordinary low tail passes the first alone, a skewed cohort's "
        "the second alone), when they opened no lesson while enrolled, or when they are a likely "
        f"drop-out. Flagged students with more than {q3.max_views_per_active_day:g} views per active "
        "day are called seldom active rather than light readers. A likely drop-out's last access is "
        f"within {q3.dropout_days} days of the cohort start (the data running on at least "
        f"{2 * q3.dropout_days} days past it), or (a fade) their share of active days after those "
        f"days (at least {2 * q3.dropout_days} of them in the data) falls to at most "
        f"{q3.dropout_max_rate_ratio:g} times their share in them, after a start with at least "
        f"{q3.dropout_min_early_share:.0%} of the cohort's median active days in those first days, "
        f"while they read at most {q3.trickle_max_share_of_median:.0%} of the cohort's median "
        "overall (active days, not views: one long session does not hide a fade); the cohort ran at "
        f"least {q3.dropout_cohort_factor:g} times {q3.dropout_days} days, and the user never appears "
        "later under another cohort or account. A possible second account is another user_id of "
        "the same cohort whose activity follows this one's and that shares an IP with it; activity "
        f"is judged on its bulk (the {q3.bulk_quantile:g} to {1 - q3.bulk_quantile:g} quantiles of "
        "view times, so a few stray visits do not count); campus IPs and IPs used by more than "
        f"{q3.same_person_max_ip_users} user_ids are not evidence."
    )
