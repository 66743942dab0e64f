"""The one list of automated actors: machine-made views, found once for the whole report.

`find_automated(views, config)` runs in the shared preparation (`prepare.prepare`), before any
question; question 4 reports the episodes, and the views of high-tier episodes are set aside from
the student populations of every other question (`Prepared.views` holds the rest,
`Prepared.automated.views` the set-aside rows), for those episodes only, not for the rest of an
account's history.

- Automated fetching, by the pace of a session: the views of busy user-IP-days are cut into
  sessions at gaps over `q4.session_gap_seconds`; a session is machine-made when it covers at least
  `q4.scrape_min_distinct` pages and either holds `q4.scrape_min_pages` views within
  `q4.scrape_window_seconds` (no person reads that fast) or, over at least `q4.slow_min_pages` views,
  its timing is even (the spread of its gaps, (90th - 10th percentile) / median, at most
  `q4.scrape_max_spread`; people read in bursts) or it walks the pages in order
  (`q4.sweep_min_share` of steps go to the next page in path order) at a fairly even pace.
- Automated fetching, around the clock: an account's views with no gap over `q4.sleep_gap_hours`
  for at least `q4.around_clock_hours` hours, in at least `q4.around_clock_hour_share` of those
  hours (nobody reads without sleeping for days), whatever the pace.
- Machine sessions and stretches of one user less than `q4.episode_gap_hours` apart are one episode.
- Attack probes: requests for attack paths (page_kind "probe") per address; requests less than
  `q4.probe_episode_days` apart are one episode. An episode is high tier when the address sweeps (at
  least `q4.probe_sweep_requests` requests) or persists (probes on at least `q4.probe_persist_days`
  days); the other episodes are one-off probes (routine internet scanning), grouped by question 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from analysis.config import Config
from analysis.schema import ColumnTypes, time_units

# the columns `find_automated` reads (the day of a view is told from its timestamp)
AUTOMATION_COLUMNS = ("timestamp", "path", "user_id", "ip", "page_kind")

SCRAPE_SCHEMA: ColumnTypes = {
    "user_id": pl.Int64(),
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
    "views": pl.Int64(),
    "distinct": pl.Int64(),
    "ips": pl.List(pl.String()),
    "fast": pl.Boolean(),
    "ordered": pl.Boolean(),
    "around_clock": pl.Boolean(),
}
PROBE_SCHEMA: ColumnTypes = {
    "ip": pl.String(),
    "user_id": pl.Int64(),  # null unless one account made every request
    "users": pl.Int64(),
    "views": pl.Int64(),
    "paths": pl.Int64(),
    "example": pl.String(),
    "days": pl.Int64(),
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
    "tier": pl.String(),  # "high": a sweep or a persistent address; "medium": a one-off probe
}
EPISODE_SCHEMA: ColumnTypes = {
    "kind": pl.String(),  # "scraping" or "probe"
    "user_id": pl.Int64(),  # the actor: an account (scraping, a probe by one account) ...
    "ip": pl.String(),  # ... or an address (a probe)
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
}


@dataclass(frozen=True)
class Automated:
    """Automated actors of the whole log (see the module docstring)."""

    scraping: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SCRAPE_SCHEMA))
    probes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBE_SCHEMA))
    # the high-tier episodes whose views are set aside from the other questions' populations
    episodes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EPISODE_SCHEMA))
    views_set_aside: int = 0  # every row of those episodes
    student_views_set_aside: int = 0  # ... of which rows of students' lesson views


def page_views(base: pl.LazyFrame) -> pl.LazyFrame:
    """Known users' page views on a known IP (lessons and navigation: no probes, assets or empty
    rows), the rows every timing and network test reads."""
    return base.filter(
        pl.col("user_id").is_not_null()
        & pl.col("ip").is_not_null()
        & pl.col("page_kind").is_in(["lesson", "navigation"])
    )


def network_days(base: pl.LazyFrame) -> pl.LazyFrame:
    """One row per user, IP and day of `page_views`: views, first and last view."""
    return (
        page_views(base)
        .group_by("user_id", "ip", "date")
        .agg(
            pl.len().alias("views"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
        )
    )


def network_hours(base: pl.LazyFrame) -> pl.LazyFrame:
    """One row per user, IP and clock hour of `page_views`: views, first and last view. The one
    group-by over every view that `network_days` and `around_the_clock` both aggregate further
    (`days_from_hours`; `around_the_clock(..., hours)`)."""
    return (
        page_views(base)
        .group_by("user_id", "ip", pl.col("timestamp").dt.truncate("1h").alias("hour"))
        .agg(
            pl.len().alias("views"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
        )
    )


def days_from_hours(hours: pl.LazyFrame) -> pl.LazyFrame:
    """`network_days` from `network_hours` (the same rows and values)."""
    return hours.group_by("user_id", "ip", pl.col("hour").dt.date().alias("date")).agg(
        pl.col("views").sum(),
        pl.col("start").min(),
        pl.col("end").max(),
    )


def session_rows(base: pl.LazyFrame, days: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """The page views of user-IP-days busy enough to hold a machine session (at least
    min(`scrape_min_pages`, `slow_min_pages`) views; the day before and after too, for sessions
    across midnight), sorted by user, IP (by code) and time, with the gap to the previous view of
    the same user and IP and a session id `sid`. `idx` is the row's position in `base`."""
    q4 = config.q4
    limit = q4.session_gap_seconds
    busy = days.filter(pl.col("views") >= min(q4.scrape_min_pages, q4.slow_min_pages)).select(
        "user_id", "ip", "date"
    )
    keys = pl.concat(
        [busy.with_columns(pl.col("date") + pl.duration(days=shift)) for shift in (-1, 0, 1)]
    ).unique()
    new_pair = (pl.col("user_id") != pl.col("user_id").shift(1)) | (
        pl.col("ip") != pl.col("ip").shift(1)
    )
    rows = (
        page_views(base)
        .select("idx", "user_id", "ip", "date", "timestamp")
        .join(keys, on=["user_id", "ip", "date"], how="semi")
        .drop("date")
        # the address by its physical code: only rows of one user and address need to be adjacent
        # (a Categorical address sorts by its text, twice as slow)
        .sort("user_id", pl.col("ip").to_physical(), "timestamp")
    )
    return _cut_sessions(rows, new_pair, limit)


def _cut_sessions(rows: pl.LazyFrame, new_pair: pl.Expr, limit: float) -> pl.LazyFrame:
    """`rows` sorted by user, IP and time, with the gap to the previous view of the same user and
    IP (`new_pair` true on the first row of a user and IP) and the session id `sid` (a new session
    at every gap over `limit` seconds); the gap is null where a session starts."""
    return (
        rows.with_columns(
            pl.when(new_pair.fill_null(True))
            .then(None)
            .otherwise(pl.col("timestamp").diff().dt.total_milliseconds() / 1000.0)
            .alias("gap")
        )
        .with_columns(
            (pl.col("gap").is_null() | (pl.col("gap") > limit))
            .cast(pl.UInt32)
            .cum_sum()
            # a running count never falls: marked sorted, the group-bys per session split the rows
            # at the changes instead of hashing them (half the time)
            .set_sorted()
            .alias("sid"),
        )
        .with_columns(
            pl.when(pl.col("gap") > limit).then(None).otherwise(pl.col("gap")).alias("gap")
        )
    )


@dataclass(frozen=True)
class Grid:
    """Integer keys of page views for the in-memory frame of `find_automated`: a user and address
    pair as one number, (user - u0) x `ips` + the address's Categorical code, which orders the pairs
    as sorting by user then code does, and the pair's clock hour or day (`hour_key`, `day_key`),
    counted from the midnight before the first view (`origin`, in the timestamp's unit). Grouping
    and joining on one Int64 instead of three columns (user, IP, hour or day) is about half the
    CPU of `network_hours` and `session_rows`. Built by `grid`."""

    user0: int
    ips: int  # address codes 0 .. ips - 1
    hours: int  # hour slots per pair
    days: int  # day slots per pair: day number + 1, a free slot before the first day and after the last
    origin: int
    hour: int  # one hour in the timestamp's unit
    user_type: pl.DataType
    time_type: pl.DataType

    def pair(self) -> pl.Expr:
        return (pl.col("user_id").cast(pl.Int64) - self.user0) * self.ips + pl.col(
            "ip"
        ).to_physical().cast(pl.Int64)

    def _hour_number(self) -> pl.Expr:
        return (pl.col("timestamp").to_physical() - self.origin) // self.hour

    def hour_key(self) -> pl.Expr:
        return self.pair() * self.hours + self._hour_number()

    def day_key(self) -> pl.Expr:
        return self.pair() * self.days + self._hour_number() // 24 + 1


def grid(frame: pl.DataFrame) -> Grid | None:
    """The `Grid` of `frame`'s page views (user, Categorical ip, timestamp without time zone); None
    when the types differ, there is no page view or the keys do not fit in 63 bits."""
    schema = frame.schema
    stamp = schema["timestamp"]
    if (
        schema["ip"] != pl.Categorical
        or not schema["user_id"].is_integer()
        or not isinstance(stamp, pl.Datetime)
        or stamp.time_zone is not None
    ):
        return None
    hour = time_units(stamp, 3600)
    bounds = (
        page_views(frame.lazy())
        .select(
            pl.col("user_id").min().alias("user0"),
            pl.col("user_id").max().alias("user1"),
            pl.col("ip").to_physical().max().alias("ip1"),
            pl.col("timestamp").to_physical().min().alias("first"),
            pl.col("timestamp").to_physical().max().alias("last"),
        )
        .collect()
        .row(0, named=True)
    )
    if any(value is None for value in bounds.values()):
        return None
    origin = bounds["first"] // (24 * hour) * 24 * hour
    hours = (bounds["last"] - origin) // hour + 1
    days = hours // 24 + 3
    pairs = (bounds["user1"] - bounds["user0"] + 1) * (bounds["ip1"] + 1)
    if pairs * max(hours, days * 24) >= 1 << 63:
        return None
    return Grid(
        user0=bounds["user0"],
        ips=bounds["ip1"] + 1,
        hours=hours,
        days=days,
        origin=origin,
        hour=hour,
        user_type=schema["user_id"],
        time_type=stamp,
    )


def network_hours_on(base: pl.LazyFrame, on: Grid) -> pl.LazyFrame:
    """`network_hours` grouped on `on.hour_key()` (`_key`), with user_id, hour and views: no ip
    (the address stays in the key), and no first and last view, which only the few night owls of
    `around_the_clock` need (read from their views there; a third of the CPU of this group-by)."""
    key = pl.col("_key")
    return (
        page_views(base)
        .group_by(on.hour_key().alias("_key"))
        .agg(pl.len().alias("views"))
        .with_columns(
            (key // on.hours // on.ips + on.user0).cast(on.user_type).alias("user_id"),
            (key % on.hours * on.hour + on.origin).cast(on.time_type).alias("hour"),
        )
    )


def session_rows_on(
    base: pl.LazyFrame, hours: pl.DataFrame, on: Grid, config: Config
) -> pl.DataFrame:
    """`session_rows` from `network_hours_on` rows, without the address (a Categorical column costs
    more to reorder than the other four together; `sessions_on` reads it per session): the busy
    user-IP-days (and the day before and after) as `on.day_key()` numbers, the views of those days
    in the base's order sorted by pair and time, ties in that order."""
    q4 = config.q4
    key = pl.col("_key")
    busy = (
        hours.lazy()
        .group_by(key // on.hours * on.days + key % on.hours // 24 + 1)
        .agg(pl.col("views").sum())
        .filter(pl.col("views") >= min(q4.scrape_min_pages, q4.slow_min_pages))
        .select("_key")
    )
    keys = pl.concat([busy.select(key + shift) for shift in (-1, 0, 1)]).unique().collect()
    rows = (
        page_views(base)
        .select("idx", "user_id", "timestamp", on.day_key().alias("_key"))
        .filter(key.is_in(keys["_key"].implode()))
        .select("idx", "user_id", "timestamp", (key // on.days).alias("_pair"))
        .collect()
        # by time, then by pair keeping that order: two sorts on one column each, half the CPU of
        # one sort on both (kept eager: the optimizer would merge them)
        .sort("timestamp", maintain_order=True)
        .sort("_pair", maintain_order=True)
    )
    new_pair = pl.col("_pair") != pl.col("_pair").shift(1)
    return _cut_sessions(rows.lazy(), new_pair, q4.session_gap_seconds).drop("_pair").collect()


def sessions_on(rows: pl.DataFrame, ips: pl.Series) -> pl.DataFrame:
    """`sessions` of `session_rows_on` rows: the address of a session (one user and address) read
    from `ips`, the base's ip column, at the session's first row."""
    table = rows.group_by("sid").agg(
        pl.col("user_id").first(),
        pl.col("idx").first().alias("_first"),
        pl.col("timestamp").min().alias("start"),
        pl.col("timestamp").max().alias("end"),
        pl.len().alias("views"),
    )
    return table.select(
        "sid", "user_id", ips.gather(table["_first"]).alias("ip"), "start", "end", "views"
    )


def sessions(rows: pl.LazyFrame) -> pl.LazyFrame:
    """One row per session: user, IP, start, end, views."""
    return rows.group_by("sid").agg(
        pl.col("user_id").first(),
        pl.col("ip").first(),
        pl.col("timestamp").min().alias("start"),
        pl.col("timestamp").max().alias("end"),
        pl.len().alias("views"),
    )


def automated_sessions(
    rows: pl.DataFrame, paths: pl.Series, session_table: pl.LazyFrame, config: Config
) -> pl.LazyFrame:
    """Sessions whose pace, evenness or order is a machine's (see the module docstring). `rows` is
    `session_rows` collected, `paths` the path column of the base frame."""
    q4 = config.q4
    k = q4.scrape_min_pages
    candidates = (
        session_table.filter(pl.col("views") >= min(k, q4.slow_min_pages)).select("sid").collect()
    )
    # `rows` are sorted by user, IP and time, so by session and time: the candidates' rows are kept
    # in that order (a filter), not sorted again
    picked = rows.filter(pl.col("sid").is_in(candidates["sid"].implode()))
    # a page by its Categorical code (one code per text), numbered in the order of the texts: only
    # the distinct pages are read as text
    picked = picked.with_columns(paths.to_physical().gather(picked["idx"]).alias("path"))
    pages = picked.group_by("path").agg(pl.col("idx").first())
    order = (
        pages.with_columns(paths.gather(pages["idx"]).cast(pl.String).alias("_text"))
        .sort("_text")
        .with_row_index("path_order")
        .select("path", pl.col("path_order").cast(pl.Int64))
    )
    same_k = pl.col("sid").shift(-(k - 1)) == pl.col("sid")
    stats = (
        picked.lazy()
        .join(order.lazy(), on="path", how="left", maintain_order="left")
        .with_columns(
            pl.when(same_k)
            .then((pl.col("timestamp").shift(-(k - 1)) - pl.col("timestamp")).dt.total_seconds())
            .alias("span_k"),
            pl.when(pl.col("sid").shift(1) == pl.col("sid"))
            .then(pl.col("path_order") - pl.col("path_order").shift(1))
            .alias("step"),
        )
        .group_by("sid")
        .agg(
            pl.len().alias("views"),
            pl.col("path").n_unique().alias("distinct"),
            pl.col("gap").median().alias("gap_median"),
            pl.col("gap").quantile(0.1).alias("gap_q10"),
            pl.col("gap").quantile(0.9).alias("gap_q90"),
            pl.col("span_k").min().alias("fastest_k"),
            (pl.col("step") > 0).mean().alias("ascending"),
        )
        .with_columns(
            (
                (pl.col("gap_q90") - pl.col("gap_q10")) / pl.col("gap_median").clip(lower_bound=1.0)
            ).alias("spread"),
        )
    )
    enough = pl.col("distinct") >= q4.scrape_min_distinct
    long = pl.col("views") >= q4.slow_min_pages
    fast = pl.col("fastest_k").is_not_null() & (pl.col("fastest_k") <= q4.scrape_window_seconds)
    even = long & (pl.col("spread") <= q4.scrape_max_spread)
    ordered = (
        long
        & (pl.col("ascending") >= q4.sweep_min_share)
        & (pl.col("spread") <= 2 * q4.scrape_max_spread)
    )
    return (
        stats.filter(enough & (fast | even | ordered))
        .with_columns(fast.alias("fast"), ordered.alias("ordered"))
        .join(session_table.select("sid", "user_id", "ip", "start", "end"), on="sid", how="inner")
        .select(
            "user_id",
            pl.col("ip").cast(pl.String),
            "start",
            "end",
            "views",
            "distinct",
            "fast",
            "ordered",
            pl.lit(False).alias("around_clock"),
        )
    )


def around_the_clock(
    base: pl.LazyFrame, config: Config, hours: pl.LazyFrame | None = None, on: Grid | None = None
) -> pl.LazyFrame:
    """Stretches of one account's page views with no gap over `sleep_gap_hours`, lasting at least
    `around_clock_hours` and with views in at least `around_clock_hour_share` of their hours.

    With `sleep_gap_hours` of at least one hour, no gap inside a clock hour can end a stretch, so the
    stretches are cut on one row per account and hour (first and last view, views) instead of
    sorting every view; the address of the first view and the pages are read for the few stretches
    that pass. The same stretches and values as `around_the_clock_by_row`, which shorter
    sleep gaps use. `hours` is `network_hours(base)` when the caller has it, or
    `network_hours_on(base, on)`."""
    q4 = config.q4
    if q4.sleep_gap_hours < 1:
        return around_the_clock_by_row(base, config)
    sleep = q4.sleep_gap_hours * 3600
    views = page_views(base).select("user_id", "ip", "path", "timestamp")
    new_user = (pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True)
    gap = (pl.col("start") - pl.col("end").shift(1)).dt.total_seconds().fill_null(0)
    hours = hours if hours is not None else network_hours(base)
    if on is not None:
        # `network_hours_on` rows hold no first and last view: the night owls' hours are grouped
        # from their own views (a few accounts), chosen by their user ids alone (not by their
        # hours first: a join over every hour, 0.02 s at 10x)
        users = _owl_users(hours, config, on)
        owls = (
            (users if users is not None else hours)
            .select(pl.col("user_id").unique())
            .collect()["user_id"]
        )
        owl_hours = (
            base.filter(pl.col("user_id").is_in(owls.implode()))
            .pipe(page_views)
            .group_by("user_id", pl.col("timestamp").dt.truncate("1h").alias("hour"))
            .agg(
                pl.col("timestamp").min().alias("start"),
                pl.col("timestamp").max().alias("end"),
                pl.len().alias("views"),
            )
        )
    else:
        owl_hours = _night_owls(hours, config)
    stretches = (
        owl_hours.group_by("user_id", "hour")
        .agg(pl.col("start").min(), pl.col("end").max(), pl.col("views").sum())
        .sort("user_id", "hour")
        .with_columns((new_user | (gap > sleep)).cast(pl.UInt32).cum_sum().alias("stretch"))
        .group_by("stretch")
        .agg(
            pl.col("user_id").first(),
            pl.col("start").min(),
            pl.col("end").max(),
            pl.col("views").sum(),
            pl.len().alias("busy_hours"),
        )
        .with_columns(_hours())
        .filter(_around_clock_bars(config))
        .collect()
    )
    # the views of the stretches' accounts (a few) chosen before the join: joined as they are, the
    # page views of every account would be gathered into one frame (about 800 MB at 50x)
    distinct = (
        views.filter(pl.col("user_id").is_in(stretches["user_id"].implode()))
        .join(stretches.lazy().select("stretch", "user_id", "start", "end"), on="user_id")
        .filter(pl.col("timestamp").is_between(pl.col("start"), pl.col("end")))
        .group_by("stretch")
        .agg(
            pl.col("ip").sort_by("timestamp").first(),
            pl.col("path").n_unique().alias("distinct"),
        )
    )
    return stretches.lazy().join(distinct, on="stretch", how="left").select(_AROUND_CLOCK_COLUMNS)


def _night_owls(hours: pl.LazyFrame, config: Config, on: Grid | None = None) -> pl.LazyFrame:
    """`hours` of the accounts that could hold an around-the-clock stretch: one lasting
    `around_clock_hours` (H) from `start` covers the first H - 24 hours of the day after its start
    (from the next midnight D), and with no gap over `sleep_gap_hours` every window of
    L = floor(sleep_gap_hours) + 1 clock hours in there holds a view. So the account has a day with
    views in each of its first m = min((H - 24) // L, 24 // L) blocks of L hours (00:00-03:00,
    03:00-06:00, ... with the defaults); only a few accounts do, and only theirs are sorted into
    stretches. All of `hours` when m < 1. With `on`, `hours` are `network_hours_on` rows, and the
    blocks are counted on integers read from their keys (hour number h from the grid's midnight: day
    h // 24, clock h % 24; one number per user, day and block) instead of dates and clock hours."""
    owls = _owl_users(hours, config, on)
    return hours if owls is None else hours.join(owls.unique(), on="user_id", how="semi")


def _owl_users(hours: pl.LazyFrame, config: Config, on: Grid | None = None) -> pl.LazyFrame | None:
    """The user ids (a user once a day it qualifies) of the accounts of `_night_owls`; None when
    every account could hold a stretch (m < 1)."""
    q4 = config.q4
    block = int(q4.sleep_gap_hours) + 1
    blocks = min(int((q4.around_clock_hours - 24) // block), 24 // block)
    if blocks < 1:
        return None
    if on is None:
        clock = pl.col("hour").dt.hour()
        owls = (
            hours.filter(clock < blocks * block)
            .group_by("user_id", pl.col("hour").dt.date().alias("date"))
            .agg((clock // block).n_unique().alias("blocks"))
            .filter(pl.col("blocks") == blocks)
            .select("user_id")
        )
    else:
        hour = pl.col("_key") % on.hours
        user = pl.col("_key") // on.hours // on.ips
        day_block = (user * on.days + hour // 24) * 24 + hour % 24 // block
        user_day = pl.col("_block") // 24
        owls = (
            hours.filter(hour % 24 < blocks * block)
            .select(day_block.unique().alias("_block"))
            .group_by(user_day.alias("_user_day"))
            .len()
            .filter(pl.col("len") == blocks)
            .select((pl.col("_user_day") // on.days + on.user0).cast(on.user_type).alias("user_id"))
        )
    return owls


def around_the_clock_by_row(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """`around_the_clock` over every view sorted by account and time (any `sleep_gap_hours`)."""
    sleep = config.q4.sleep_gap_hours * 3600
    new_user = (pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True)
    gap = (pl.col("timestamp") - pl.col("timestamp").shift(1)).dt.total_seconds().fill_null(0)
    return (
        page_views(base)
        .select("user_id", "ip", "path", "timestamp")
        .sort("user_id", "timestamp")
        .with_columns((new_user | (gap > sleep)).cast(pl.UInt32).cum_sum().alias("stretch"))
        .group_by("stretch")
        .agg(
            pl.col("user_id").first(),
            pl.col("ip").first(),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
            pl.len().alias("views"),
            pl.col("path").n_unique().alias("distinct"),
            pl.col("timestamp").dt.truncate("1h").n_unique().alias("busy_hours"),
        )
        .with_columns(_hours())
        .filter(_around_clock_bars(config))
        .select(_AROUND_CLOCK_COLUMNS)
    )


def _hours() -> pl.Expr:
    return ((pl.col("end") - pl.col("start")).dt.total_seconds() / 3600).alias("hours")


def _around_clock_bars(config: Config) -> pl.Expr:
    q4 = config.q4
    return (pl.col("hours") >= q4.around_clock_hours) & (
        pl.col("busy_hours") >= q4.around_clock_hour_share * (pl.col("hours") + 1)
    )


_AROUND_CLOCK_COLUMNS = (
    pl.col("user_id"),
    pl.col("ip").cast(pl.String),
    pl.col("start"),
    pl.col("end"),
    pl.col("views"),
    pl.col("distinct"),
    pl.lit(False).alias("fast"),
    pl.lit(False).alias("ordered"),
    pl.lit(True).alias("around_clock"),
)


def scrape_episodes(machine: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """Machine sessions and stretches of one user less than `episode_gap_hours` apart: one episode."""
    gap = config.q4.episode_gap_hours * 3600
    new = (pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True) | (
        (pl.col("start") - pl.col("end").cum_max().shift(1)).dt.total_seconds().fill_null(0) > gap
    )
    return (
        machine.sort("user_id", "start")
        .with_columns(new.cast(pl.UInt32).cum_sum().alias("episode"))
        .group_by("episode")
        .agg(
            pl.col("user_id").first(),
            pl.col("start").min(),
            pl.col("end").max(),
            pl.col("views").sum(),
            pl.col("distinct").max(),
            pl.col("ip").unique().sort().alias("ips"),
            pl.col("fast").any(),
            pl.col("ordered").any(),
            pl.col("around_clock").any(),
        )
        .drop("episode")
    )


def probe_episodes(base: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """Requests for attack paths, one row per IP and episode (`probe_episode_days` apart), tiered."""
    q4 = config.q4
    gap = q4.probe_episode_days * 86400
    rows = (
        base.filter(pl.col("page_kind") == "probe")
        .select("ip", "user_id", "timestamp", "path")
        .with_columns(pl.col("ip", "path").cast(pl.String))
        .sort("ip", "timestamp", nulls_last=True)
        .with_columns(
            (
                (pl.col("ip") != pl.col("ip").shift(1)).fill_null(True)
                | (
                    (pl.col("timestamp") - pl.col("timestamp").shift(1))
                    .dt.total_seconds()
                    .fill_null(0)
                    > gap
                )
            )
            .cast(pl.UInt32)
            .cum_sum()
            .alias("episode")
        )
    )
    high = (pl.col("views") >= q4.probe_sweep_requests) | (pl.col("days") >= q4.probe_persist_days)
    return (
        rows.group_by("episode")
        .agg(
            pl.col("ip").first(),
            pl.col("user_id").drop_nulls().n_unique().alias("users"),
            pl.col("user_id").drop_nulls().first().alias("user_id"),
            pl.len().alias("views"),
            pl.col("path").n_unique().alias("paths"),
            pl.col("path").mode().sort().first().alias("example"),
            pl.col("timestamp").dt.date().n_unique().alias("days"),
            pl.col("timestamp").min().alias("start"),
            pl.col("timestamp").max().alias("end"),
        )
        .with_columns(
            pl.when(pl.col("users") == 1).then(pl.col("user_id")).otherwise(None).alias("user_id"),
            pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")).alias("tier"),
        )
        .sort("start", "ip")
    )


def episode_rows(rows: pl.LazyFrame, episodes: pl.DataFrame) -> pl.LazyFrame:
    """`row` of every row of `rows` (columns row, timestamp, user_id, ip) inside one of `episodes`
    (EPISODE_SCHEMA): the actor's rows between the episode's first and last request (an account's
    rows when it names one, else the address's), each once. Found by joining the few episodes on
    their actor, not by testing every row against every episode."""
    by_user = episodes.filter(pl.col("user_id").is_not_null()).select("user_id", "start", "end")
    by_ip = episodes.filter(pl.col("user_id").is_null() & pl.col("ip").is_not_null()).select(
        pl.col("ip").cast(pl.Categorical), "start", "end"
    )
    within = pl.col("timestamp").is_between(pl.col("start"), pl.col("end"))
    # the actors' rows chosen before the join (a test per row: a fifth of the CPU of probing the
    # join's table with every row, 0.07 s less at 10x)
    return pl.concat(
        [
            rows.select("row", "user_id", "timestamp")
            .filter(pl.col("user_id").is_in(by_user.get_column("user_id").implode()))
            .join(by_user.lazy(), on="user_id")
            .filter(within)
            .select("row"),
            rows.select("row", pl.col("ip").cast(pl.Categorical), "timestamp")
            .filter(pl.col("ip").is_in(by_ip.get_column("ip").implode()))
            .join(by_ip.lazy(), on="ip")
            .filter(within)
            .select("row"),
        ]
    ).unique()


def find_automated(base: pl.LazyFrame, config: Config) -> Automated:
    """Every automated episode of `base` (columns AUTOMATION_COLUMNS at least; see the module
    docstring), and the high-tier ones as actor and time window."""
    # the in-memory engine passes the base's own columns through (the streaming engine copies every
    # one): a third less time and about 180 MB less at 10x
    frame = base.select(AUTOMATION_COLUMNS).collect(engine="in-memory")
    lazy = frame.lazy()
    # the row numbers only in the one plan that reads them (a column of every row in each plan)
    indexed = lazy.with_row_index("idx")
    on = grid(frame)
    if on is None:  # keys that do not fit one integer: grouped and joined on their columns
        lazy = lazy.with_columns(pl.col("timestamp").dt.date().alias("date"))
        hours = network_hours(lazy).collect()
        days = days_from_hours(hours.lazy()).collect()
        indexed = indexed.with_columns(pl.col("timestamp").dt.date().alias("date"))
        rows = session_rows(indexed, days.lazy(), config).collect()
        table = sessions(rows.lazy())
    else:
        hours = network_hours_on(lazy, on).collect()
        rows = session_rows_on(indexed, hours, on, config)
        table = sessions_on(rows, frame["ip"]).lazy()
    paced = automated_sessions(rows, frame["path"], table, config)
    machine = pl.concat(
        [paced, around_the_clock(lazy, config, hours.lazy(), on)], how="vertical_relaxed"
    )
    scraping, probes = pl.collect_all(
        [scrape_episodes(machine, config), probe_episodes(lazy, config)]
    )
    scraping = scraping.select(SCRAPE_SCHEMA.keys()).cast(SCRAPE_SCHEMA)
    probes = probes.select(PROBE_SCHEMA.keys()).cast(PROBE_SCHEMA)
    episodes = pl.concat(
        [
            scraping.select(
                pl.lit("scraping").alias("kind"),
                "user_id",
                pl.lit(None, dtype=pl.String).alias("ip"),
                "start",
                "end",
            ),
            probes.filter(pl.col("tier") == "high").select(
                pl.lit("probe").alias("kind"), "user_id", "ip", "start", "end"
            ),
        ]
    ).cast(EPISODE_SCHEMA)
    return Automated(scraping=scraping, probes=probes, episodes=episodes)
