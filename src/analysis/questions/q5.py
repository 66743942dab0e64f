"""Question 5: access across programs (web dev <-> data science) should have been shut off in 2019.
Is there evidence it was, and did it happen earlier?

Lessons carry no program, so each lesson module gets a *home track* from the data: the track whose
students make at least `q5.lesson_home_min_share` of the module's student views (or the track named in
`q5.lesson_home_overrides`; `prepare.module_homes`, shared with questions 2 and 7). Modules without a
clear home are left out and counted. A cross-program view is a student of one track reading a module
whose home is the other track.

The shut-off date is estimated, not assumed: on the daily series of cross-program views with all student
lesson views as exposure, a single change point in level is searched on every day (two-segment Poisson
split, maximum likelihood). Resampling days (weighted bootstrap, order kept) gives its interval. A second
search before the change point answers "earlier?".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from analysis.config import Config
from analysis.prepare import (
    HOMES_SCHEMA,
    Prepared,
    home_table,
    module_track_views,
    prepare,
    track_lesson_views,
)
from analysis.results import QuestionResult
from analysis.sources.snapshot import Snapshot

TITLE = "Did cross-program access (web dev <-> data science) stop in 2019, or earlier?"
TOP_LESSONS = 10
SIMULATED_CAVEAT = (
    "The data is simulated (calibrated to the real log's published facts): the dates and numbers "
    "illustrate the method, not the real curriculum's history."
)
TRACK_NAMES = {"web_dev": "web development", "data_science": "data science"}

MONTHLY_SCHEMA = {
    "month": pl.Date(),
    "direction": pl.String(),
    "views": pl.Int64(),
    "users": pl.Int64(),
    "exposure": pl.Int64(),  # lesson views by students of the direction's source track that month
    "rate": pl.Float64(),  # views / exposure
}
AFTER_SCHEMA = {
    "user_id": pl.Int64(),
    "program": pl.String(),
    "module": pl.String(),
    "views": pl.Int64(),
    "first": pl.Datetime("us"),
    "last": pl.Datetime("us"),
}
LESSONS_SCHEMA = {
    "lesson": pl.String(),
    "home": pl.String(),
    "views": pl.Int64(),
    "users": pl.Int64(),
}
DIRECTIONS_SCHEMA = {
    "direction": pl.String(),
    "views": pl.Int64(),
    "users": pl.Int64(),
    "cutoff": pl.Date(),
    "cutoff_low": pl.Date(),
    "cutoff_high": pl.Date(),
    "rate_before": pl.Float64(),
    "rate_after": pl.Float64(),
    "views_after": pl.Int64(),
}


@dataclass(frozen=True)
class ChangePoint:
    """A single change in level of a daily rate: where, how big, how sure."""

    date: dt.date | None  # first day of the new level; None when no significant drop
    low: dt.date | None  # bootstrap interval of `date`
    high: dt.date | None
    rate_before: float | None
    rate_after: float | None
    log_likelihood_ratio: float
    candidate: dt.date | None = None  # the best drop split even when not significant


@dataclass(frozen=True)
class Q5Result(QuestionResult):
    cutoff: dt.date | None = None
    cutoff_low: dt.date | None = None
    cutoff_high: dt.date | None = None
    rate_before: float | None = None
    rate_after: float | None = None
    policy_date: dt.date | None = None
    reference_date: dt.date | None = None  # cutoff, or the policy date when there is no cutoff
    monthly: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=MONTHLY_SCHEMA))
    directions: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DIRECTIONS_SCHEMA))
    after_cutoff: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=AFTER_SCHEMA))
    after_lessons: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LESSONS_SCHEMA))
    homes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HOMES_SCHEMA))
    modules_without_home: list[str] = field(default_factory=list)
    views_without_home: int = 0
    cross_views: int = 0
    cross_users: int = 0
    earlier_drop: dt.date | None = None
    earlier_drop_description: str = ""

    def tables(self) -> dict[str, pl.DataFrame]:
        directions = self.directions.select(
            pl.col("direction")
            .replace_strict({d: direction_label(d) for d in self.directions["direction"].to_list()})
            .alias("Direction"),
            pl.col("views").alias("Cross-program views"),
            pl.col("users").alias("Students"),
            pl.col("cutoff").alias("Estimated shut-off"),
            (
                pl.col("cutoff_low").cast(pl.String)
                + pl.lit(" to ")
                + pl.col("cutoff_high").cast(pl.String)
            ).alias(f"{self.parameters.get('interval', 0.9):.0%} interval"),
            (pl.col("rate_before") * 100).round(2).alias("Rate before (% of lesson views)"),
            (pl.col("rate_after") * 100).round(2).alias("Rate after (%)"),
            pl.col("views_after").alias("Views after the shut-off"),
        )
        after = self.after_cutoff.head(15).select(
            pl.col("user_id").alias("User"),
            pl.col("program").alias("Program"),
            pl.col("module").alias("Other-track module"),
            pl.col("views").alias("Views"),
            pl.col("first").dt.date().alias("First"),
            pl.col("last").dt.date().alias("Last"),
        )
        lessons = self.after_lessons.head(15).select(
            pl.col("lesson").alias("Lesson"),
            pl.col("home").alias("Home track"),
            pl.col("views").alias("Views"),
            pl.col("users").alias("Students"),
        )
        since = self.reference_date.isoformat() if self.reference_date else "the cutoff"
        return {
            "Cross-program views by direction": directions,
            f"Students still reading the other track since {since}": after,
            f"Other-track lessons read since {since}": lessons,
        }

    def headline(self) -> str:
        if self.cross_views == 0:
            return "No student read the other track's lessons"
        if self.cutoff is None:
            return f"No clear shut-off: {self.cross_views:,} cross-program views with no significant drop"
        views_after = int(self.after_cutoff["views"].sum()) if self.after_cutoff.height else 0
        return (
            f"Cross-program access dropped on {self.cutoff.isoformat()}, but {views_after:,} views "
            f"by {_plural(self.after_cutoff['user_id'].n_unique(), 'student', True)} continued"
        )


# --- change point ---------------------------------------------------------------------------------


def _segment_ll(c: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Poisson log-likelihood (up to a constant) of one segment with a common rate c/n."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.where((c > 0) & (n > 0), c * np.log(c / n), 0.0) - c
    return ll


def _best_drops(
    counts: np.ndarray, exposure: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each row (a resample), the split index k (first day of segment two) that maximises the
    two-segment likelihood among splits where the rate drops. Returns k, llr, rate1, rate2 (k = -1: none)."""
    cc = np.cumsum(counts, axis=1)
    nn = np.cumsum(exposure, axis=1)
    c_total, n_total = cc[:, -1:], nn[:, -1:]
    c1, n1 = cc[:, :-1], nn[:, :-1]  # segment one = days [0, k) for k = 1..D-1
    c2, n2 = c_total - c1, n_total - n1
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(n1 > 0, c1 / n1, np.nan)
        r2 = np.where(n2 > 0, c2 / n2, np.nan)
    llr = _segment_ll(c1, n1) + _segment_ll(c2, n2) - _segment_ll(c_total, n_total)
    ok = allowed[None, :] & (r2 < r1) & (n1 > 0) & (n2 > 0)
    scored = np.where(ok, llr, -np.inf)
    best = np.argmax(scored, axis=1)
    rows = np.arange(counts.shape[0])
    found = np.isfinite(scored[rows, best])
    return (
        np.where(found, best + 1, -1),
        np.where(found, scored[rows, best], 0.0),
        r1[rows, best],
        r2[rows, best],
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

    Significant when the rate after is at most (1 - min_drop) of the rate before and the split beats a
    constant rate by at least `min_llr` (natural-log likelihood ratio)."""
    counts = np.asarray(counts, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    none = ChangePoint(None, None, None, None, None, 0.0)
    if len(days) < 2 or counts.sum() <= 0:
        return none
    active = exposure > 0
    active_before = np.cumsum(active)[:-1]  # days with views in [0, k)
    allowed = (active_before >= min_segment_days) & (
        active.sum() - active_before >= min_segment_days
    )
    if not allowed.any():
        return none
    k, llr, r1, r2 = _best_drops(counts[None, :], exposure[None, :], allowed)
    if k[0] < 0:
        return none
    candidate = days[int(k[0])]
    significant = r2[0] <= (1 - min_drop) * r1[0] and llr[0] >= min_llr
    if not significant:
        return ChangePoint(None, None, None, float(r1[0]), float(r2[0]), float(llr[0]), candidate)
    # Weighted bootstrap: each day gets the number of times it was drawn (days with views only), so
    # time order is kept and the split is re-estimated on every resample.
    rng = np.random.default_rng(seed)
    active_idx = np.flatnonzero(active)
    draws = rng.integers(0, active_idx.size, size=(reps, active_idx.size))
    weights = np.zeros((reps, counts.size))
    for rep in range(reps):  # reps (200) rows of bincount, not data rows
        weights[rep, active_idx] = np.bincount(draws[rep], minlength=active_idx.size)
    kb, _, _, _ = _best_drops(weights * counts, weights * exposure, allowed)
    kb = kb[kb >= 0]
    low = high = candidate
    if kb.size:
        tail = (1 - interval) / 2
        lo_k, hi_k = np.quantile(kb, [tail, 1 - tail], method="nearest")
        low, high = days[int(lo_k)], days[int(hi_k)]
        low, high = min(low, candidate), max(high, candidate)
    return ChangePoint(candidate, low, high, float(r1[0]), float(r2[0]), float(llr[0]), candidate)


# --- the question ---------------------------------------------------------------------------------


def _direction(source: pl.Expr, target: pl.Expr) -> pl.Expr:
    return source + pl.lit("->") + target


def answer(snapshot: Snapshot, config: Config, prepared: Prepared | None = None) -> Q5Result:
    """Home track per module, cross-program views per day and month, and the estimated shut-off."""
    prepared = prepared or prepare(snapshot, config)
    q5 = config.q5
    tracks = sorted(set(config.programs.track.values()))
    directions = [f"{a}->{b}" for a in tracks for b in tracks if a != b]
    sv = track_lesson_views(prepared).select(
        "timestamp", "date", "user_id", "program", "track", "module", "lesson"
    )
    module_track, daily_track = pl.collect_all(
        [
            module_track_views(sv),
            sv.group_by("date", "track").agg(pl.len().cast(pl.Int64).alias("exposure")),
        ]
    )
    homes = home_table(module_track, config)  # shared with questions 2 and 7 (prepare.py)
    homed = homes.filter(pl.col("home").is_not_null())
    without = homes.filter(pl.col("home").is_null())
    cross = (
        sv.join(homed.lazy().select("module", "home"), on="module", how="inner")
        .filter(pl.col("track") != pl.col("home"))
        .with_columns(_direction(pl.col("track"), pl.col("home")).alias("direction"))
        .collect()
    )
    parameters: dict[str, Any] = {
        "policy_date": q5.policy_date,
        "lesson_home_min_share": q5.lesson_home_min_share,
        "lesson_home_overrides": dict(q5.lesson_home_overrides),
        "min_drop": q5.min_drop,
        "min_log_likelihood_ratio": q5.min_log_likelihood_ratio,
        "min_segment_days": q5.min_segment_days,
        "bootstrap_reps": q5.bootstrap_reps,
        "interval": q5.interval,
        "seed": q5.seed,
    }
    caveats = [
        "A module's home track is inferred from who reads it; modules read by both tracks without a "
        f"{q5.lesson_home_min_share:.0%} majority are left out, so shared material (e.g. SQL or "
        "command-line basics) never counts as cross-program.",
        "Only students are counted (staff and accounts without a cohort are excluded); a student's track "
        "comes from the cohort named on the row, in any window (before, during or after the course).",
        "The logs record page views, not permissions: views after the shut-off show the material was "
        "still reachable (or cached, or opened from saved links), not who was allowed.",
    ]
    if prepared.simulated:
        caveats.append(SIMULATED_CAVEAT)
    method = _method(q5)
    base = {
        "number": 5,
        "title": TITLE,
        "method": method,
        "parameters": parameters,
        "policy_date": q5.policy_date,
        "homes": homes.cast(HOMES_SCHEMA),
        "modules_without_home": without["module"].to_list(),
        "views_without_home": int(without["views"].sum()),
    }
    if len(directions) == 0:
        return Q5Result(
            answer="Only one curriculum track is configured ([programs.track]), so there is no other "
            "program to cross into.",
            supporting=[f"Tracks configured: {', '.join(tracks) or 'none'}."],
            caveats=caveats,
            reference_date=q5.policy_date,
            **base,
        )
    if daily_track.is_empty():
        return Q5Result(
            answer="No student lesson views were found, so cross-program access cannot be measured.",
            supporting=["The snapshot holds no views of lesson pages by students of a cohort."],
            caveats=caveats,
            reference_date=q5.policy_date,
            **base,
        )

    # Daily series over every calendar day from the first to the last student lesson view.
    first_day, last_day = daily_track["date"].min(), daily_track["date"].max()
    calendar = pl.DataFrame({"date": pl.date_range(first_day, last_day, "1d", eager=True)})
    exposure_wide = daily_track.pivot(on="track", index="date", values="exposure")
    cross_daily = (
        cross.group_by("date", "direction")
        .agg(pl.len().cast(pl.Int64).alias("views"))
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
    days = series["date"].to_list()
    search = {
        "min_drop": q5.min_drop,
        "min_llr": q5.min_log_likelihood_ratio,
        "min_segment_days": q5.min_segment_days,
        "reps": q5.bootstrap_reps,
        "interval": q5.interval,
        "seed": q5.seed,
    }
    total_cross = series.select(pl.sum_horizontal(directions)).to_series().to_numpy()
    total_exposure = series.select(pl.sum_horizontal(tracks)).to_series().to_numpy()
    main = change_point(days, total_cross, total_exposure, **search)
    per_direction = {
        d: change_point(days, series[d].to_numpy(), series[d.split("->")[0]].to_numpy(), **search)
        for d in directions
    }

    # "Earlier?": a second drop before the main one.
    earlier: ChangePoint | None = None
    if main.date is not None:
        cut = days.index(main.date)
        earlier = change_point(days[:cut], total_cross[:cut], total_exposure[:cut], **search)

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
        .cast(AFTER_SCHEMA)
    )
    after_lessons = (
        after.group_by("lesson", "home")
        .agg(
            pl.len().cast(pl.Int64).alias("views"),
            pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
        )
        .sort(["views", "lesson"], descending=[True, False])
        .head(TOP_LESSONS)
        .cast(LESSONS_SCHEMA)
    )
    monthly = _monthly(cross, daily_track, first_day, last_day, directions)
    direction_table = _direction_table(cross, per_direction, directions)

    answer_text, supporting, earlier_text = _sentences(
        main,
        earlier,
        per_direction,
        cross,
        after_cutoff,
        after_lessons,
        reference,
        q5.policy_date,
        base,
    )
    return Q5Result(
        answer=answer_text,
        supporting=supporting,
        caveats=caveats,
        cutoff=main.date,
        cutoff_low=main.low,
        cutoff_high=main.high,
        rate_before=main.rate_before,
        rate_after=main.rate_after,
        reference_date=reference,
        monthly=monthly,
        directions=direction_table,
        after_cutoff=after_cutoff,
        after_lessons=after_lessons,
        cross_views=cross.height,
        cross_users=cross["user_id"].n_unique() if cross.height else 0,
        earlier_drop=earlier.date if earlier else None,
        earlier_drop_description=earlier_text,
        **base,
    )


def _monthly(
    cross: pl.DataFrame,
    daily_track: pl.DataFrame,
    first_day: dt.date,
    last_day: dt.date,
    directions: list[str],
) -> pl.DataFrame:
    months = pl.date_range(first_day.replace(day=1), last_day.replace(day=1), "1mo", eager=True)
    grid = pl.DataFrame({"month": months}).join(
        pl.DataFrame({"direction": directions}), how="cross"
    )
    counts = cross.group_by(pl.col("date").dt.truncate("1mo").alias("month"), "direction").agg(
        pl.len().cast(pl.Int64).alias("views"),
        pl.col("user_id").n_unique().cast(pl.Int64).alias("users"),
    )
    exposure = daily_track.group_by(
        pl.col("date").dt.truncate("1mo").alias("month"), pl.col("track").alias("source")
    ).agg(pl.col("exposure").sum())
    return (
        grid.with_columns(pl.col("direction").str.split("->").list.first().alias("source"))
        .join(counts, on=["month", "direction"], how="left")
        .join(exposure, on=["month", "source"], how="left")
        .with_columns(pl.col("views", "users", "exposure").fill_null(0))
        .with_columns(
            pl.when(pl.col("exposure") > 0)
            .then(pl.col("views") / pl.col("exposure"))
            .otherwise(0.0)
            .alias("rate")
        )
        .sort("month", "direction")
        .select(MONTHLY_SCHEMA.keys())
        .cast(MONTHLY_SCHEMA)
    )


def _direction_table(
    cross: pl.DataFrame, per_direction: dict[str, ChangePoint], directions: list[str]
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


def direction_label(direction: str) -> str:
    """`web_dev->data_science` -> `Web development -> data science` (pages and charts)."""
    src, _, dst = direction.partition("->")
    return f"{TRACK_NAMES.get(src, src).capitalize()} -> {TRACK_NAMES.get(dst, dst)}"


def _pct(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.1f}%" if value >= 0.001 else f"{value * 100:.2f}%"


def _days_between(a: dt.date, b: dt.date) -> str:
    delta = (a - b).days
    if delta == 0:
        return "on the policy date"
    return f"{abs(delta)} days {'after' if delta > 0 else 'before'} the policy date"


def _sentences(
    main: ChangePoint,
    earlier: ChangePoint | None,
    per_direction: dict[str, ChangePoint],
    cross: pl.DataFrame,
    after_cutoff: pl.DataFrame,
    after_lessons: pl.DataFrame,
    reference: dt.date,
    policy: dt.date,
    base: dict[str, Any],
) -> tuple[str, list[str], str]:
    users_after = after_cutoff["user_id"].n_unique() if after_cutoff.height else 0
    views_after = int(after_cutoff["views"].sum()) if after_cutoff.height else 0
    if cross.height == 0:
        answer_text = (
            "No student read a module whose home is the other track, so there is no cross-program "
            "access to shut off."
        )
        return (
            answer_text,
            [
                f"{base['homes'].height} modules were given a home track; "
                f"{len(base['modules_without_home'])} had no clear home and were left out."
            ],
            "No earlier drop: there is no cross-program access at all.",
        )
    supporting: list[str] = []
    if main.date is None:
        answer_text = (
            f"There is no evidence of a shut-off: {cross.height:,} cross-program views by "
            f"{_plural(cross['user_id'].n_unique(), 'student', True)} show no significant drop in rate, and "
            f"{views_after:,} of them came after the policy date ({policy.isoformat()})."
        )
        if main.candidate is not None:
            supporting.append(
                f"The largest fall in level is on {main.candidate.isoformat()} (from "
                f"{_pct(main.rate_before)} to {_pct(main.rate_after)} of student lesson views), too small "
                "or too uncertain to count as a shut-off."
            )
        earlier_text = "No shut-off was found, so there is no earlier one either."
    else:
        answer_text = (
            f"Cross-program access fell on {main.date.isoformat()} ({base['parameters']['interval']:.0%} interval "
            f"{main.low.isoformat()} to {main.high.isoformat()}; {_days_between(main.date, policy)}), "
            f"from {_pct(main.rate_before)} to {_pct(main.rate_after)} of student lesson views, but it did "
            f"not stop: {views_after:,} views by {users_after} {_plural(users_after, 'student')} "
            "followed."
        )
        if earlier is not None and earlier.date is not None:
            earlier_text = (
                f"Yes: an earlier drop on {earlier.date.isoformat()} ({_days_between(earlier.date, policy)}) "
                f"took the rate from {_pct(earlier.rate_before)} to {_pct(earlier.rate_after)} before the "
                f"main one on {main.date.isoformat()}."
            )
        elif main.date < policy:
            earlier_text = (
                f"The shut-off itself came earlier than the policy: {main.date.isoformat()} is "
                f"{_days_between(main.date, policy)}; no significant drop precedes it."
            )
        else:
            earlier_text = (
                f"No: no significant drop precedes {main.date.isoformat()}; before it the rate held at "
                f"about {_pct(main.rate_before)} of student lesson views."
            )
        supporting.append(earlier_text)
    for d, point in per_direction.items():
        src, dst = (TRACK_NAMES.get(t, t) for t in d.split("->"))
        n = int((cross["direction"] == d).sum())
        if point.date is not None:
            supporting.append(
                f"{src.capitalize()} students reading {dst} modules: {n:,} views, dropping on "
                f"{point.date.isoformat()} ({_pct(point.rate_before)} -> {_pct(point.rate_after)} of their "
                "lesson views)."
            )
        else:
            supporting.append(
                f"{src.capitalize()} students reading {dst} modules: {n:,} views with no significant drop."
            )
    if after_lessons.height:
        top = after_lessons.head(3)
        listed = ", ".join(f"{r['lesson']} ({r['views']:,})" for r in top.iter_rows(named=True))
        supporting.append(f"Most-read other-track lessons since {reference.isoformat()}: {listed}.")
    return answer_text, supporting[:4], earlier_text


def _method(q5: Any) -> str:
    return (
        "Each lesson module (first path segment after normalisation) gets a home track: the track whose "
        f"students make at least {q5.lesson_home_min_share:.0%} of the module's student lesson views, "
        "unless [q5.lesson_home_overrides] names one; other modules are excluded and counted. A "
        "cross-program view is a student (any window) of one track reading a module whose home is the "
        "other track. On the daily series of cross-program views, with all student lesson views of the "
        "same days as exposure, a single change point is searched on every day: the two-segment Poisson "
        "model (one rate before, one after) with the highest likelihood among splits where the rate "
        f"falls, each side holding at least {q5.min_segment_days} days with views. It counts as a "
        f"shut-off when the rate falls by at least {q5.min_drop:.0%} and the split beats a constant "
        f"rate by a log-likelihood ratio of at least {q5.min_log_likelihood_ratio:g}. Its "
        f"{q5.interval:.0%} interval comes from {q5.bootstrap_reps} bootstrap resamples of days (each "
        f"day weighted by how often it is drawn, order kept; seed {q5.seed}). The same search runs per "
        "direction (exposure: the source track's lesson views) and, for 'earlier?', again on the days "
        f"before the shut-off. The policy date ({q5.policy_date.isoformat()}) is only compared, never "
        "assumed."
    )
