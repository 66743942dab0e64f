"""Question 5: access across programs (web dev <-> data science) should have been shut off in 2019.
Is there evidence it was, and did it happen earlier?

Lessons carry no program and a module may hold lessons of both, so each *lesson* gets a home track
from the data: the track whose own enrolled students read it (`prepare.lesson_homes`, shared with
questions 2 and 7). Lessons without a clear home (shared material) are left out and counted. A
cross-program view is a student of one track reading a lesson whose home is the other track.

The shut-off date is estimated, not assumed, and only over the days on which both programs had
students enrolled (the cohorts table: a program that started years after the other cannot show a
change before it existed). Each direction (web dev reading data science, data science reading web
dev) is a daily series of students reading the other track's lessons that day (reading days, so one
long session weighs as one day) with its source track's students reading any lesson as exposure; one
change day common to the directions is searched on every day, each direction keeping its own rates
and allowed only to fall (a one-sided two-segment Poisson split, maximum likelihood). Resampling days
(weighted bootstrap, order kept) gives its interval. Each direction is also searched alone, which says
which one carries the signal, and a second search before the change point answers "earlier?".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import polars as pl

from analysis.config import Config
from analysis.glossary import TRACK_NAMES
from analysis.prepare import (
    LESSON_HOMES_SCHEMA,
    Prepared,
    as_text,
    lesson_home_table,
    lesson_title,
    lesson_track_counts,
    paths_where,
    prepare,
    track_lesson_views,
    tracked_cohorts,
)
from analysis.results import QuestionResult, Words, data_fields
from analysis.schema import ColumnTypes, time_units
from analysis.sources.snapshot import Snapshot

# Registry (analysis.questions.REGISTRY): number, navigation title, what the answer feeds.
NUMBER = 5
SHORT_TITLE = "Cross-program access"
FEEDS = ("page", "slide bullet", "email")
SLIDE_RANK = 2
TITLE = "Did cross-program access (web dev <-> data science) stop in 2019, or earlier?"
TOP_LESSONS = 10
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts): the dates and numbers "
    "illustrate the method, not the real curriculum's history."
)

# The same measure as the shut-off search and the text: reading days (a student reading that day).
MONTHLY_SCHEMA: ColumnTypes = {
    "month": pl.Date(),
    "direction": pl.String(),
    "views": pl.Int64(),
    "users": pl.Int64(),
    "reading_days": pl.Int64(),  # days a source-track student read an other-track lesson
    "exposure": pl.Int64(),  # days a source-track student read any lesson, that month
    # reading_days / exposure; null where the month lies outside the days both programs had
    # students enrolled (nothing to compare: not a zero) or the source track read nothing
    "rate": pl.Float64(),
    "rate_pct": pl.Float64(),  # rate in percent, rounded to 1 decimal: as shown
}
AFTER_SCHEMA: ColumnTypes = {
    "user_id": pl.Int64(),
    "program": pl.String(),
    "module": pl.String(),
    "module_title": pl.String(),
    "views": pl.Int64(),
    "first": pl.Datetime("us"),
    "last": pl.Datetime("us"),
}
LESSONS_SCHEMA: ColumnTypes = {
    "lesson": pl.String(),
    "lesson_title": pl.String(),
    "home": pl.String(),
    "views": pl.Int64(),
    "users": pl.Int64(),
}
DIRECTIONS_SCHEMA: ColumnTypes = {
    "direction": pl.String(),
    "views": pl.Int64(),
    "users": pl.Int64(),
    "cutoff": pl.Date(),
    "cutoff_low": pl.Date(),
    "cutoff_high": pl.Date(),
    "rate_before": pl.Float64(),
    "rate_after": pl.Float64(),
    "log_likelihood_ratio": pl.Float64(),
    "views_after": pl.Int64(),
    "signal": pl.Boolean(),  # the direction that carries the change (largest significant drop)
}


@dataclass(frozen=True)
class ChangePoint:
    """A single change in level of one or more daily rates: where, how big, how sure."""

    date: dt.date | None  # first day of the new level; None when no significant drop
    low: dt.date | None  # bootstrap interval of `date`
    high: dt.date | None
    rate_before: float | None  # pooled over the directions: share of reading days
    rate_after: float | None
    log_likelihood_ratio: float
    candidate: dt.date | None = None  # the best drop split even when not significant
    remaining: float | None = None  # views after / views expected at the rates before


@dataclass(frozen=True, kw_only=True)
class Q5Data:
    """The numbers of question 5 (computed by `compute`, told by `words`)."""

    cutoff: dt.date | None = None
    cutoff_low: dt.date | None = None
    cutoff_high: dt.date | None = None
    candidate: dt.date | None = None  # the largest fall, even when not a shut-off
    rate_before: float | None = None  # pooled share of reading days, before and after the cutoff
    rate_after: float | None = None
    drop_pct: int | None = None  # 1 - rate_after / rate_before, in whole percent: as shown
    policy_date: dt.date | None = None
    reference_date: dt.date | None = None  # cutoff, or the policy date when there is no cutoff
    search_from: dt.date | None = None  # first and last day both programs had students enrolled
    search_to: dt.date | None = None
    signal_direction: str | None = None
    monthly: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MONTHLY_SCHEMA))
    directions: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DIRECTIONS_SCHEMA))
    after_cutoff: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=AFTER_SCHEMA))
    after_lessons: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LESSONS_SCHEMA))
    homes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LESSON_HOMES_SCHEMA))
    lessons_without_home: int = 0
    views_without_home: int = 0
    cross_views: int = 0
    cross_users: int = 0
    views_after: int = 0  # cross-program views since reference_date (sum of after_cutoff)
    users_after: int = 0  # ... by this many students
    earlier_drop: dt.date | None = None
    tracks: list[str] = field(default_factory=list)
    simulated: bool = False


@dataclass(frozen=True, kw_only=True)
class Q5Result(QuestionResult, Q5Data):
    earlier_drop_description: str = ""  # the "earlier?" answer in words

    def tables(self) -> dict[str, pl.DataFrame]:
        labels = {d: direction_label(d) for d in self.directions["direction"].to_list()}
        directions = self.directions.select(
            pl.col("direction").replace_strict(labels, return_dtype=pl.String).alias("Direction"),
            pl.col("views").alias("Cross-program views"),
            pl.col("users").alias("Students"),
            pl.col("cutoff").alias("Estimated shut-off"),
            (
                pl.col("cutoff_low").cast(pl.String)
                + pl.lit(" to ")
                + pl.col("cutoff_high").cast(pl.String)
            ).alias(f"Likely range ({self.parameters.get('interval', 0.9):.0%})"),
            (pl.col("rate_before") * 100).round(1).alias("Share of their reading days before (%)"),
            (pl.col("rate_after") * 100).round(1).alias("After (%)"),
            pl.col("views_after").alias("Views after the shut-off"),
            pl.when(pl.col("signal"))
            .then(pl.lit("yes"))
            .otherwise(pl.lit(""))
            .alias("Carries the change"),
        )
        after = self.after_cutoff.head(15).select(
            pl.col("user_id").alias("User"),
            pl.col("program").alias("Program"),
            pl.col("module_title").alias("Other-program topic"),
            pl.col("views").alias("Views"),
            pl.col("first").dt.date().alias("First"),
            pl.col("last").dt.date().alias("Last"),
        )
        lessons = self.after_lessons.head(15).select(
            pl.col("lesson_title").alias("Lesson"),
            pl.col("home")
            .replace_strict(
                {t: track_label(t) for t in self.after_lessons["home"].unique().to_list()},
                return_dtype=pl.String,
            )
            .alias("Lesson of"),
            pl.col("views").alias("Views"),
            pl.col("users").alias("Students"),
            pl.col("lesson").alias("Path"),
        )
        since = self.reference_date.isoformat() if self.reference_date else "the cutoff"
        return {
            "Cross-program views by direction": directions,
            f"Students still reading the other program since {since}": after,
            f"Other-program lessons read since {since}": lessons,
        }

    def headline(self) -> str:
        if self.cross_views == 0:
            return "No student read the other program's lessons"
        if self.cutoff is None:
            return f"No clear shut-off: {self.cross_views:,} views of the other program's lessons"
        return (
            f"Cross-program access dropped on {_day(self.cutoff)}, but "
            f"{self.views_after:,} views by {_plural(self.users_after, 'student', True)} continued"
        )


# --- change point ---------------------------------------------------------------------------------


def _segment_ll(c: np.ndarray, n: np.ndarray, rate: np.ndarray | None = None) -> np.ndarray:
    """Poisson log-likelihood (up to a constant) of one segment with a common rate c/n. `rate`: c/n
    where n > 0 (0 elsewhere) when the caller has it. The log is taken only where c > 0 and n > 0
    and the arrays are updated in place: the same values as `where(c > 0 & n > 0, c * log(c/n), 0) - c`
    with fewer temporaries (the bootstrap scores 200 resamples of every day: a fixed cost at any scale)."""
    shape = np.broadcast_shapes(c.shape, n.shape)
    if rate is None:
        rate = np.divide(c, n, out=np.zeros(shape), where=n > 0)
    ll = np.log(rate, out=np.zeros(shape), where=(c > 0) & (n > 0))
    ll *= c
    ll -= c
    return ll


def _scored_splits(
    counts: np.ndarray, exposure: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The log-likelihood ratio of every split per resample, -inf where the split is not allowed
    or no direction falls (see `_best_drops`), and the sums and rates it is made of."""
    cc = np.cumsum(counts, axis=-1)
    nn = np.cumsum(exposure, axis=-1)
    c_total, n_total = cc[..., -1:], nn[..., -1:]
    c1, n1 = cc[..., :-1], nn[..., :-1]  # segment one = days [0, k) for k = 1..D-1
    c2, n2 = c_total - c1, n_total - n1
    before, after = n1 > 0, n2 > 0
    # the rates, 0 where a segment has no exposure
    r1 = np.divide(c1, n1, out=np.zeros(c1.shape), where=before)
    r2 = np.divide(c2, n2, out=np.zeros(c2.shape), where=after)
    falls = before & after & (r2 < r1)
    llr_d = _segment_ll(c1, n1, r1)
    llr_d += _segment_ll(c2, n2, r2)
    llr_d -= _segment_ll(c_total, n_total)
    np.copyto(llr_d, 0.0, where=~falls)
    llr = llr_d.sum(axis=0)
    ok = allowed[None, :] & falls.any(axis=0)
    parts = {"c1": c1, "n1": n1, "c2": c2, "n2": n2, "r1": r1, "falls": falls}
    return np.where(ok, llr, -np.inf), parts


def _best_days(scored: np.ndarray) -> np.ndarray:
    """The best split per resample of `_scored_splits` (-1: none)."""
    best = np.argmax(scored, axis=1)
    found = np.isfinite(scored[np.arange(scored.shape[0]), best])
    return np.where(found, best + 1, -1)


def _best_drops(
    counts: np.ndarray, exposure: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best common drop day per resample. counts, exposure: (directions, resamples, days).

    At split k (segment two starts on day k) each direction keeps its own rate before and after; a
    direction whose rate would rise contributes nothing (one-sided: rates can only fall), so the
    split's log-likelihood ratio is the sum of the falling directions' ratios. Among allowed splits
    where the views after fall short of those the rates before predict, the best is kept. Returns
    k (-1: none), llr, pooled rate before, pooled rate after and remaining = views after / expected."""
    scored, parts = _scored_splits(counts, exposure, allowed)
    c1, n1, c2, n2, r1, falls = (parts[name] for name in ("c1", "n1", "c2", "n2", "r1", "falls"))
    # how much of the falling directions' reading remains (a direction holding steady does not
    # dilute another's shut-off; it only adds nothing to the likelihood ratio)
    expected = np.where(falls, r1 * n2, 0.0).sum(axis=0)
    observed = np.where(falls, c2, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        remaining = np.where(expected > 0, observed / expected, np.nan)
        pooled_before = c1.sum(axis=0) / n1.sum(axis=0)
        pooled_after = c2.sum(axis=0) / n2.sum(axis=0)
    k = _best_days(scored)
    rows = np.arange(scored.shape[0])
    best = np.maximum(k - 1, 0)
    return (
        k,
        np.where(k >= 0, scored[rows, best], 0.0),
        pooled_before[rows, best],
        pooled_after[rows, best],
        remaining[rows, best],
    )


def change_point(
    days: list[dt.date],
    counts: np.ndarray,
    exposure: np.ndarray,
    *,
    min_drop: float,
    min_llr: float,
    min_segment_days: int,
    reps: int,
    interval: float,
    seed: int,
) -> ChangePoint:
    """Single drop in the level of counts/exposure, searched on every day, with a bootstrap interval.

    `counts` and `exposure` are one series (days,) or several (directions, days) sharing the change
    day. Significant when the falling directions' views after are at most (1 - min_drop) of those
    their rates before predict and the split beats constant rates by at least `min_llr` (natural-log likelihood ratio)."""
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    exposure = np.atleast_2d(np.asarray(exposure, dtype=float))
    none = ChangePoint(None, None, None, None, None, 0.0)
    if len(days) < 2 or counts.sum() <= 0:
        return none
    active = exposure.sum(axis=0) > 0
    active_before = np.cumsum(active)[:-1]  # days with views in [0, k)
    allowed = (active_before >= min_segment_days) & (
        active.sum() - active_before >= min_segment_days
    )
    if not allowed.any():
        return none
    k, llr, r1, r2, remaining = _best_drops(counts[:, None, :], exposure[:, None, :], allowed)
    if k[0] < 0:
        return none
    candidate = days[int(k[0])]
    significant = remaining[0] <= 1 - min_drop and llr[0] >= min_llr
    point: dict[str, Any] = {
        "rate_before": float(r1[0]),
        "rate_after": float(r2[0]),
        "log_likelihood_ratio": float(llr[0]),
        "candidate": candidate,
        "remaining": float(remaining[0]),
    }
    if not significant:
        return ChangePoint(None, None, None, **point)
    # Weighted bootstrap: each day gets the number of times it was drawn (days with views only), so
    # time order is kept and the split is re-estimated on every resample.
    rng = np.random.default_rng(seed)
    active_idx = np.flatnonzero(active)
    draws = rng.integers(0, active_idx.size, size=(reps, active_idx.size))
    weights = np.zeros((reps, counts.shape[1]))
    # the times each day is drawn, every resample in one bincount (resample r's draws offset by r
    # times the days)
    offsets = np.arange(reps)[:, None] * active_idx.size
    drawn = np.bincount((draws + offsets).ravel(), minlength=reps * active_idx.size)
    weights[:, active_idx] = drawn.reshape(reps, active_idx.size)
    # only the best day of each resample is read
    scored = _scored_splits(weights * counts[:, None, :], weights * exposure[:, None, :], allowed)[
        0
    ]
    kb = _best_days(scored)
    kb = kb[kb >= 0]
    low = high = candidate
    if kb.size:
        tail = (1 - interval) / 2
        lo_k, hi_k = np.quantile(kb, [tail, 1 - tail], method="nearest")
        low, high = days[int(lo_k)], days[int(hi_k)]
        low, high = min(low, candidate), max(high, candidate)
    return ChangePoint(candidate, low, high, **point)


def enrolled_days(cohorts: pl.DataFrame, first: dt.date, last: dt.date) -> pl.DataFrame:
    """Per track, the days in [first, last] on which at least one of its student cohorts was
    enrolled (cohorts table: start to end date). Columns: track, date."""
    students = cohorts.filter(
        (pl.col("role") == "student")
        & pl.col("track").is_not_null()
        & pl.col("start_date").is_not_null()
        & pl.col("end_date").is_not_null()
        & (pl.col("end_date") >= pl.lit(first))
        & (pl.col("start_date") <= pl.lit(last))
    )
    return (
        students.select(
            "track",
            pl.date_ranges(
                pl.max_horizontal("start_date", pl.lit(first)),
                pl.min_horizontal("end_date", pl.lit(last)),
            ).alias("date"),
        )
        .explode("date")
        .unique()
        .sort("track", "date")
    )


# --- the question ---------------------------------------------------------------------------------


def _direction(source: pl.Expr, target: pl.Expr) -> pl.Expr:
    return source + pl.lit("->") + target


def _daily_readers(views: pl.LazyFrame, of_track: dict[str, pl.Expr]) -> pl.LazyFrame:
    """Per date and reader's track (its number in `of_track`, `_named_tracks` names it): views
    (`exposure`) and distinct readers. The track is grouped as a number, not a text per view, and
    the date, when the timestamp has no time zone, as the timestamp's integer divided by a day (no
    date per view): a quarter less CPU than grouping on date and track name."""
    track = (
        pl.coalesce(
            pl.when(cond).then(pl.lit(number, dtype=pl.UInt32))
            for number, cond in enumerate(of_track.values())
        )
        if of_track
        else pl.lit(None, dtype=pl.UInt32)
    )
    stamp = views.collect_schema()["timestamp"]
    naive = isinstance(stamp, pl.Datetime) and stamp.time_zone is None
    day = (
        (pl.col("timestamp").to_physical() // time_units(cast(pl.Datetime, stamp), 86_400))
        if naive
        else pl.col("date")
    )
    return (
        views.group_by(day.alias("date"), track.alias("track"))
        .agg(
            pl.len().cast(pl.Int64).alias("exposure"),
            pl.col("user_id").n_unique().cast(pl.Int64).alias("readers"),
        )
        .with_columns(
            # days since 1970 are a Date's integer
            pl.col("date").cast(pl.Int32).cast(pl.Date) if naive else pl.col("date")
        )
    )


def _named_tracks(daily: pl.DataFrame, tracks: list[str]) -> pl.DataFrame:
    """`_daily_readers` with the track's name for its number."""
    return daily.with_columns(
        pl.col("track").replace_strict(
            list(range(len(tracks))), tracks, default=None, return_dtype=pl.String
        )
    )


def compute(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q5Data:
    """Home track per lesson, cross-program views per day and month, and the estimated shut-off."""
    prepared = prepared or prepare(snapshot, config)
    q5 = config.q5
    tracks = sorted(set(config.programs.track.values()))
    directions = [f"{a}->{b}" for a in tracks for b in tracks if a != b]
    # `track_lesson_views`: the rows chosen by cohort id (the student cohorts of a track); a
    # cohort's track and program are joined to grouped or filtered rows, not looked up on every view
    tracked = tracked_cohorts(prepared)
    # per track, "the row's cohort is one of its student cohorts": the reader's track per day is told
    # from these conditions (cheaper than a per-row lookup or a group-by per reader and cohort), and so
    # are the cross-program views below
    of_track = {
        track: pl.col("cohort_id").is_in(cohorts["cohort_id"].implode())
        for (track,), cohorts in tracked.group_by("track")
    }
    # the lesson homes' views per track from prepare's per student, lesson and window counts
    # (shared with questions 1, 2, 3 and 7), the readers per day from the views
    lesson_track = lesson_track_counts(prepared).collect()
    daily_track = _daily_readers(track_lesson_views(prepared), of_track).collect()
    daily_track = _named_tracks(daily_track, list(of_track))
    prepared.lesson_track.views = lesson_track  # reused by question 7
    homes = lesson_home_table(lesson_track, config)  # shared with questions 2 and 7 (prepare.py)
    homed = homes.filter(pl.col("home").is_not_null())
    without = homes.filter(pl.col("home").is_null())
    # the views of a lesson homed in another track than the reader's: per track, its cohorts' views
    # of the other tracks' lessons (a filter on cohort ids and lessons, then the reader's program
    # and track and the lesson's home joined to the few rows left, instead of a join of every view)
    # (the lessons told by their paths, so the rows are chosen before they are labelled)
    elsewhere = [
        cond
        & paths_where(
            prepared,
            pl.col("lesson").is_in(homed.filter(pl.col("home") != track)["lesson"].implode()),
        )
        for track, cond in of_track.items()
    ]
    readers = prepared.cohorts.lazy().select("cohort_id", "program", "track")
    cross = (
        track_lesson_views(
            prepared, also=pl.any_horizontal(elsewhere) if elsewhere else pl.lit(False)
        )
        .select("timestamp", "date", "user_id", "cohort_id", "module", "lesson", "lesson_title")
        .pipe(as_text)
        .join(readers, on="cohort_id")
        .join(homed.lazy().select("lesson", "home"), on="lesson")
        .with_columns(_direction(pl.col("track"), pl.col("home")).alias("direction"))
        .collect()
    )
    base: dict[str, Any] = {
        "policy_date": q5.policy_date,
        "homes": homes,
        "lessons_without_home": without.height,
        "views_without_home": int(without["views"].sum()),
        "tracks": tracks,
        "simulated": prepared.simulated,
    }
    if len(directions) == 0 or daily_track.is_empty():
        return Q5Data(reference_date=q5.policy_date, **base)

    # Daily series over every calendar day from the first to the last student lesson view.
    first_day = cast(dt.date, daily_track["date"].min())
    last_day = cast(dt.date, daily_track["date"].max())
    calendar = pl.DataFrame({"date": pl.date_range(first_day, last_day, "1d", eager=True)})
    exposure_wide = daily_track.pivot(on="track", index="date", values="readers")
    cross_daily = (
        cross.group_by("date", "direction")
        .agg(pl.col("user_id").n_unique().cast(pl.Int64).alias("views"))
        .pivot(on="direction", index="date", values="views")
        if cross.height
        else pl.DataFrame(schema={"date": pl.Date()})
    )
    series = (
        calendar.join(exposure_wide, on="date", how="left")
        .join(cross_daily, on="date", how="left")
        .with_columns(
            [
                pl.lit(0, dtype=pl.Int64).alias(c)
                for c in tracks + directions
                if c not in exposure_wide.columns and c not in cross_daily.columns
            ]
        )
        .fill_null(0)
        .sort("date")
    )
    # The search runs only over the days on which both programs of a direction had students enrolled.
    enrolled = enrolled_days(prepared.cohorts, first_day, last_day)
    covered = (
        enrolled.group_by("date")
        .agg(pl.col("track").n_unique().alias("tracks"))
        .filter(pl.col("tracks") >= 2)["date"]
    )
    search_from = cast(dt.date | None, covered.min() if covered.len() else None)
    search_to = cast(dt.date | None, covered.max() if covered.len() else None)
    window = (
        series.filter(pl.col("date").is_between(search_from, search_to))
        if search_from is not None
        else series.head(0)
    )
    days = window["date"].to_list()
    search: dict[str, Any] = {
        "min_drop": q5.min_drop,
        "min_llr": q5.min_log_likelihood_ratio,
        "min_segment_days": q5.min_segment_days,
        "reps": q5.bootstrap_reps,
        "interval": q5.interval,
        "seed": q5.seed,
    }
    counts = window.select(directions).to_numpy().T  # (directions, days)
    exposure = window.select([d.split("->")[0] for d in directions]).to_numpy().T
    main = change_point(days, counts, exposure, **search)
    per_direction = {
        d: change_point(days, counts[i], exposure[i], **search) for i, d in enumerate(directions)
    }
    significant = {d: p for d, p in per_direction.items() if p.date is not None}
    signal = (
        max(significant, key=lambda d: significant[d].log_likelihood_ratio) if significant else None
    )

    # "Earlier?": a second drop before the main one.
    earlier: ChangePoint | None = None
    if main.date is not None:
        cut = days.index(main.date)
        earlier = change_point(days[:cut], counts[:, :cut], exposure[:, :cut], **search)

    reference = main.date or q5.policy_date
    after = cross.filter(pl.col("date") >= reference)
    after_cutoff = (
        after.group_by("user_id", "program", "module")
        .agg(
            pl.len().cast(pl.Int64).alias("views"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        )
        .sort(["views", "user_id", "module"], descending=[True, False, False])
        .with_columns(lesson_title(pl.col("module")).alias("module_title"))
        .select(AFTER_SCHEMA.keys())
        .cast(AFTER_SCHEMA)
    )
    after_lessons = (
        after.group_by("lesson", "home")
        .agg(
            pl.len().cast(pl.Int64).alias("views"),
            pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
            pl.col("lesson_title").first(),
        )
        .sort(["views", "lesson"], descending=[True, False])
        .head(TOP_LESSONS)
        .select(LESSONS_SCHEMA.keys())
        .cast(LESSONS_SCHEMA)
    )
    direction_table = _direction_table(cross, per_direction, directions, signal)

    monthly = _monthly(
        cross, daily_track, first_day, last_day, directions, (search_from, search_to)
    )
    drop = (
        1 - cast(float, main.rate_after) / main.rate_before
        if main.date is not None and main.rate_before
        else (1.0 if main.date is not None else None)
    )
    return Q5Data(
        cutoff=main.date,
        cutoff_low=main.low,
        cutoff_high=main.high,
        candidate=main.candidate,
        rate_before=main.rate_before,
        rate_after=main.rate_after,
        drop_pct=round(drop * 100) if drop is not None else None,
        reference_date=reference,
        search_from=search_from,
        search_to=search_to,
        signal_direction=signal,
        monthly=monthly,
        directions=direction_table,
        after_cutoff=after_cutoff,
        after_lessons=after_lessons,
        cross_views=cross.height,
        cross_users=cross["user_id"].n_unique() if cross.height else 0,
        views_after=int(after_cutoff["views"].sum()) if after_cutoff.height else 0,
        users_after=after_cutoff["user_id"].n_unique() if after_cutoff.height else 0,
        earlier_drop=earlier.date if earlier else None,
        **base,
    )


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q5Result:
    """The question's numbers (`compute`) told in words (`words`)."""
    q5 = config.q5
    data = compute(snapshot, config, prepared)
    parameters: dict[str, Any] = {
        "policy_date": q5.policy_date,
        "lesson_home_min_share": q5.lesson_home_min_share,
        "lesson_home_min_views": q5.lesson_home_min_views,
        "lesson_home_overrides": dict(q5.lesson_home_overrides),
        "min_drop": q5.min_drop,
        "min_log_likelihood_ratio": q5.min_log_likelihood_ratio,
        "min_segment_days": q5.min_segment_days,
        "bootstrap_reps": q5.bootstrap_reps,
        "interval": q5.interval,
        "seed": q5.seed,
    }
    return Q5Result(
        number=5,
        title=TITLE,
        parameters=parameters,
        earlier_drop_description=earlier_words(data),
        **words(data, config).text(),
        **data_fields(data),
    )


def words(data: Q5Data, config: Config) -> Words:
    """The answer, supporting sentences, method and caveats, formatted from `data`'s fields."""
    caveats = [
        "A lesson's program is inferred from who reads it while enrolled; lessons read by both "
        "programs alike (shared material such as SQL or command-line basics) are left out, so they "
        "never count as reading across programs.",
        "Only students are counted (staff and accounts without a cohort are excluded), before, during "
        "and after their course; a student's program comes from the cohort named on the row.",
        "The logs record page views, not permissions: views after the shut-off show the material was "
        "still reachable (or cached, or opened from saved links), not who was allowed.",
    ]
    if data.simulated:
        caveats.append(SIMULATED_CAVEAT)
    answer_text, supporting = _sentences(data)
    return Words(
        answer=answer_text, supporting=supporting, method=_method(config.q5), caveats=caveats
    )


def _monthly(
    cross: pl.DataFrame,
    daily_track: pl.DataFrame,
    first_day: dt.date,
    last_day: dt.date,
    directions: list[str],
    span: tuple[dt.date | None, dt.date | None],
) -> pl.DataFrame:
    """Per month and direction: cross-program views and reading days, the source track's reading
    days, and their ratio (the measure of the shut-off search), null for months outside `span` (the
    days both programs had students enrolled: before a program existed there is nothing to compare)."""
    start, end = span
    inside = (
        (pl.col("month") <= pl.lit(end)) & (pl.col("month").dt.month_end() >= pl.lit(start))
        if start is not None and end is not None
        else pl.lit(False)
    )
    months = pl.date_range(first_day.replace(day=1), last_day.replace(day=1), "1mo", eager=True)
    grid = pl.DataFrame({"month": months}).join(
        pl.DataFrame({"direction": directions}), how="cross"
    )
    counts = cross.group_by(pl.col("date").dt.truncate("1mo").alias("month"), "direction").agg(
        pl.len().cast(pl.Int64).alias("views"),
        pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
        pl.struct("user_id", "date").n_unique().cast(pl.Int64).alias("reading_days"),
    )
    exposure = daily_track.group_by(
        pl.col("date").dt.truncate("1mo").alias("month"), pl.col("track").alias("source")
    ).agg(pl.col("readers").sum().alias("exposure"))
    return (
        grid.with_columns(pl.col("direction").str.split("->").list.first().alias("source"))
        .join(counts, on=["month", "direction"], how="left")
        .join(exposure, on=["month", "source"], how="left")
        .with_columns(pl.col("views", "users", "reading_days", "exposure").fill_null(0))
        .with_columns(
            pl.when((pl.col("exposure") > 0) & inside)
            .then(pl.col("reading_days") / pl.col("exposure"))
            .alias("rate")
        )
        .with_columns((pl.col("rate") * 100).round(1).alias("rate_pct"))
        .sort("month", "direction")
        .select(MONTHLY_SCHEMA.keys())
        .cast(MONTHLY_SCHEMA)
    )


def _direction_table(
    cross: pl.DataFrame,
    per_direction: dict[str, ChangePoint],
    directions: list[str],
    signal: str | None,
) -> pl.DataFrame:
    totals = cross.group_by("direction").agg(
        pl.len().cast(pl.Int64).alias("views"),
        pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
    )
    points = pl.DataFrame(
        {
            "direction": directions,
            "cutoff": [per_direction[d].date for d in directions],
            "cutoff_low": [per_direction[d].low for d in directions],
            "cutoff_high": [per_direction[d].high for d in directions],
            "rate_before": [per_direction[d].rate_before for d in directions],
            "rate_after": [per_direction[d].rate_after for d in directions],
            "log_likelihood_ratio": [per_direction[d].log_likelihood_ratio for d in directions],
            "signal": [d == signal for d in directions],
        },
        schema={
            k: v for k, v in DIRECTIONS_SCHEMA.items() if k not in ("views", "users", "views_after")
        },
    )
    after = (
        points.select("direction", "cutoff")
        .join(cross.select("direction", "date"), on="direction", how="inner")
        .filter(pl.col("cutoff").is_not_null() & (pl.col("date") >= pl.col("cutoff")))
        .group_by("direction")
        .agg(pl.len().cast(pl.Int64).alias("views_after"))
    )
    return (
        points.join(totals, on="direction", how="left")
        .join(after, on="direction", how="left")
        .with_columns(pl.col("views", "users").fill_null(0))
        .with_columns(
            pl.when(pl.col("cutoff").is_not_null())
            .then(pl.col("views_after").fill_null(0))
            .alias("views_after")
        )
        .sort("direction")
        .select(DIRECTIONS_SCHEMA.keys())
        .cast(DIRECTIONS_SCHEMA)
    )


def _plural(n: int, word: str, with_number: bool = False) -> str:
    text = word if n == 1 else f"{word}s"
    return f"{n:,} {text}" if with_number else text


def track_label(track: str | None) -> str:
    """`data_science` -> `Data science` (tables, charts)."""
    if track is None:
        return "Shared"
    return TRACK_NAMES.get(track, track.replace("_", " ")).capitalize()


def direction_label(direction: str) -> str:
    """`web_dev->data_science` -> `Web development -> data science` (pages and charts)."""
    src, _, dst = direction.partition("->")
    return f"{TRACK_NAMES.get(src, src).capitalize()} -> {TRACK_NAMES.get(dst, dst)}"


def _direction_words(direction: str) -> str:
    """`web_dev->data_science` -> `web-development students reading data-science lessons`."""
    src, _, dst = (TRACK_NAMES.get(t, t) for t in direction.partition("->"))
    return f"{src.replace(' ', '-')} students reading {dst.replace(' ', '-')} lessons"


def _day(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


def _span(low: dt.date, high: dt.date) -> str:
    """`29 May and 1 June 2019`; the year once when both ends share it."""
    if low == high:
        return f"on {_day(low)}"
    first = f"{low.day} {low:%B}" if low.year == high.year else _day(low)
    return f"between {first} and {_day(high)}"


def _pct(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}%" if value >= 0.001 else f"{value * 100:.2f}%"


def _versus_policy(day: dt.date, policy: dt.date) -> str:
    delta = (day - policy).days
    if abs(delta) <= 3:
        return "right at the policy date"
    days = abs(delta)
    amount = f"{days} days" if days < 60 else f"about {round(days / 30.4)} months"
    return f"{amount} {'after' if delta > 0 else 'before'} the policy date"


def earlier_words(data: Q5Data) -> str:
    """The answer to "did it happen earlier?", from `data`'s fields."""
    policy = cast(dt.date, data.policy_date)
    if data.cross_views == 0:
        return "No earlier drop: there is no reading across programs at all."
    if data.search_from is None:
        return ""
    if data.cutoff is None:
        return "No shut-off was found, so there is no earlier one either."
    if data.earlier_drop is not None:
        return (
            f"Yes, earlier too: a first drop around {_day(data.earlier_drop)} "
            f"({_versus_policy(data.earlier_drop, policy)}) came before the main one."
        )
    if data.cutoff < policy:
        return (
            f"Earlier than planned: the fall itself came {_versus_policy(data.cutoff, policy)}; "
            "no earlier drop precedes it."
        )
    return (
        f"Not earlier: before {_day(data.cutoff)} the reading held steady at about "
        f"{_pct(data.rate_before)} of students' reading days."
    )


def _sentences(data: Q5Data) -> tuple[str, list[str]]:
    policy = cast(dt.date, data.policy_date)
    if len(data.tracks) < 2:
        return (
            "Only one program track is configured, so there is no other program to cross into.",
            [f"Tracks configured ([programs.track]): {', '.join(data.tracks) or 'none'}."],
        )
    if data.homes.is_empty():
        return (
            "No student opened a lesson, so reading across programs cannot be measured.",
            ["The snapshot holds no views of lesson pages by students of a cohort."],
        )
    users_after, views_after = data.users_after, data.views_after
    if data.cross_views == 0:
        return (
            "No: no student read the other program's lessons, so there was nothing to shut off.",
            [
                f"{data.homes.height:,} lessons were matched to a program; "
                f"{data.lessons_without_home:,} are shared by both and were left out."
            ],
        )
    supporting: list[str] = []
    start, end = data.search_from, data.search_to
    if start is None:
        answer_text = (
            "Cannot tell: the two programs never had students enrolled at the same time in this "
            "data, so there is no period to compare."
        )
        return (
            answer_text,
            [f"{data.cross_views:,} views of the other program's lessons were found."],
        )
    earlier_text = earlier_words(data)
    if data.cutoff is None:
        answer_text = (
            f"No clear shut-off: students kept reading the other program's lessons, "
            f"{views_after:,} views by {_plural(users_after, 'student', True)} since the policy "
            f"date ({_day(policy)})."
        )
        if data.candidate is not None:
            supporting.append(
                f"The largest fall is around {_day(data.candidate)}, too small or too uncertain to "
                "count as a shut-off."
            )
    else:
        answer_text = (
            f"Yes, mostly: students' reading days on the other program's lessons fell by "
            f"{data.drop_pct}% around {_day(data.cutoff)}, {_versus_policy(data.cutoff, policy)}, "
            f"but {_plural(users_after, 'student', True)} kept reading them."
        )
        supporting.append(
            "The fall most likely happened "
            f"{_span(cast(dt.date, data.cutoff_low), cast(dt.date, data.cutoff_high))}."
        )
        if data.rate_before is not None and data.rate_after is not None:
            supporting.append(
                f"Both directions together: on {_pct(data.rate_before)} of students' reading days "
                f"before, {_pct(data.rate_after)} after (the {data.drop_pct}% fall)."
            )
    window = (
        f"compared from {_day(start)} to {_day(cast(dt.date, end))}, while both programs had "
        "students enrolled"
    )
    if data.cutoff is not None:
        supporting[0] = supporting[0].rstrip(".") + f" ({window})."
    else:
        supporting.append(f"Reading was {window}.")
    rows = sorted(data.directions.iter_rows(named=True), key=lambda r: not r["signal"])
    for r in rows:
        words = _direction_words(r["direction"]).capitalize()
        if r["signal"]:
            supporting.append(
                f"{words} carry the change: on {_pct(r['rate_before'])} of their reading days "
                f"before, {_pct(r['rate_after'])} after ({r['views']:,} views in all)."
            )
        elif r["cutoff"] is not None:
            supporting.append(
                f"{words} also fell, around {_day(r['cutoff'])} ({r['views']:,} views in all)."
            )
        else:
            supporting.append(f"{words}: {r['views']:,} views, with no clear change on their own.")
    if data.cutoff is not None:
        supporting.append(earlier_text)
    if data.after_lessons.height and data.cutoff is not None:
        top = data.after_lessons.head(3)
        listed = ", ".join(
            f"{r['lesson_title']} ({r['views']:,})" for r in top.iter_rows(named=True)
        )
        supporting.append(f"Most-read since then: {listed}; {views_after:,} views in all.")
    return answer_text, supporting[:5]


def _method(q5: Any) -> str:
    return (
        "Each lesson (path after normalisation) gets a home track from who reads it while enrolled: "
        "per track, its enrolled students' views of the lesson divided by all their enrolled lesson "
        "views (so a small program weighs as much as a large one); the leading track is the home when "
        f"it holds at least {q5.lesson_home_min_share:.0%} of those rates. A lesson with fewer than "
        f"{q5.lesson_home_min_views} enrolled views takes its module's home by the same rule; "
        "[q5.lesson_home_overrides] names a module's or lesson's home outright; lessons without a "
        "home (shared) are excluded and counted. A cross-program view is a student (any window) of "
        "one track reading a lesson whose home is the other track. The search runs only over the days "
        "on which both tracks had a student cohort enrolled (cohorts table). Each direction is a daily "
        "series of reading days: the students of its source track who read a lesson of the other "
        "track that day, with the source track's students who read any lesson that day as exposure "
        "(one long session counts once, so a few heavy sessions do not move the estimate). One "
        "change day common to the directions is searched on every day: each direction has its own "
        "Poisson rate before and after and may only fall (a direction that would rise keeps one rate), "
        "the log-likelihood ratios of the falling directions are summed, and each side needs at least "
        f"{q5.min_segment_days} days with views. It counts as a shut-off when the falling directions' "
        f"views after are at most {1 - q5.min_drop:.0%} of those their rates before predict and the log-likelihood ratio "
        f"is at least {q5.min_log_likelihood_ratio:g}. Its {q5.interval:.0%} interval comes from "
        f"{q5.bootstrap_reps} bootstrap resamples of days (each day weighted by how often it is drawn, "
        f"order kept; seed {q5.seed}). The same search runs per direction; the significant direction "
        "with the largest log-likelihood ratio carries the signal. For 'earlier?' it runs again on "
        f"the days before the shut-off. The policy date ({q5.policy_date.isoformat()}) is only "
        "compared, never assumed."
    )
