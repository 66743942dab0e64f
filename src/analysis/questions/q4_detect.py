"""Question 4's detectors: each one lazy polars query over the same thin frame of views (a part that
is read twice collected once), each returning incidents in the columns of `INCIDENT_COLUMNS` (one row
per actor and episode).

- `probe` and `scraping` format the one list of automated actors found in the shared preparation
  (`analysis.automation`, `Prepared.automated`): probes per address and episode (a sweeping or
  persistent address is high; the one-off probes of all other addresses are ONE medium incident),
  automated fetching per account and episode (by pace, evenness, order, or around the clock).
- `account_sharing`: one account used by several people within a short window: on at least
  `share_min_days` days of a `share_window_days` window it is on two networks within one
  `share_slot_minutes` slot (one person is in one place at a time), on days when it used an address
  that is episodic for it (used on `share_min_days` days, within two windows and half the account's
  time only: a second person's network, not the owner's home); or, within windows twice as long, it
  is seen on far more outside addresses than its peers (staff against staff), or on at least as many
  as nearly all its peers (their `share_networks_quantile`) and a new one nearly every day
  (`share_network_ratio`). Networks, not addresses: every campus address is one network, an IPv4
  address stands for its /24 block (`network`), and the addresses one account alternates between
  request by request within a session are one network (`pooled_views`).
- `shared_ip`: an outside (non-campus) address used by at least `shared_ip_window_users` distinct
  people within a `shared_ip_window_days` window (two grids offset by half a window); high when that
  window holds `shared_ip_spike_share` of the address's people, low when it is shared all along.
- `heavy_day`: a day far above the person's own ordinary day IN THE SAME PHASE (enrolled, alumni,
  staff; robust z of log daily views) and above the population's `heavy_pop_quantile` (staff against
  staff); one person's heavy days close together are one episode; habitual heavy reading is no
  incident; the most abnormal episodes are medium, the others low; days of automated fetching are
  left out.
- `stale_account`: a student whose cohort ended more than `stale_years` before the log begins and who
  reads on `stale_min_days` days, or `stale_min_views` pages, within one `share_window_days` window;
  ranked with the medium tier's most abnormal.
- `unknown_user`: an account never seen with a known cohort (and not staff): medium when it names a
  cohort id absent from the cohorts table, is in two places at once on `share_min_days` days, or its
  busiest week is above `unknown_week_quantile` of all accounts' busiest weeks, low otherwise.

Campus addresses (configured, or detected: a large share of all views from many people, or many people
week after week) are shared by whole classrooms: never a scraping or shared address.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import polars as pl

from analysis import glossary
from analysis.automation import page_views
from analysis.config import Config
from analysis.schema import INCIDENT_KINDS, INCIDENT_TIERS, ColumnTypes

TIERS: tuple[str, ...] = INCIDENT_TIERS
TIER_LABELS: dict[str, str] = glossary.TIER_NAMES  # the glossary's one name per tier

# Incident kinds (contract with evaluate: the names), in their order of precedence.
KINDS: tuple[str, ...] = INCIDENT_KINDS
KIND_LABELS: dict[str, str] = glossary.KIND_NAMES  # the glossary's one name per kind

INCIDENT_SCHEMA: ColumnTypes = {
    "rank": pl.Int64(),
    "tier": pl.String(),
    "kind": pl.String(),
    "user_id": pl.Int64(),
    "ip": pl.String(),
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
    "views": pl.Int64(),
    "score": pl.Float64(),
    "severity": pl.Float64(),
    "evidence": pl.String(),
    # how long the episode lasted, in words ("6 minutes"): the one source of that number for the
    # evidence, the tables and the chart titles
    "duration": pl.String(),
}
INCIDENT_COLUMNS = tuple(INCIDENT_SCHEMA)


# --- small helpers ---------------------------------------------------------------------------------------


def _grade(value: pl.Expr, low: float, high: float) -> pl.Expr:
    """0 at `low` rising to 1 at `high` (log scale), clipped: a severity within a tier."""
    low = max(low, 1e-9)
    span = math.log(max(high, low * 1.0001) / low)
    return ((value.cast(pl.Float64).clip(lower_bound=low) / low).log() / span).clip(0.0, 1.0)


def _int(expr: pl.Expr) -> pl.Expr:
    return expr.round(0).cast(pl.Int64).cast(pl.String)


def _day(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%d")


def _when(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%d %H:%M")


def _duration(seconds: pl.Expr) -> pl.Expr:
    """'1 second', '0.8 seconds', '40 seconds', '12 minutes' or '3.5 hours'."""
    return (
        pl.when(seconds.round(1) == 1.0)
        .then(pl.lit("1 second"))
        .when(seconds < 10)
        .then(pl.format("{} seconds", seconds.round(1).cast(pl.String)))
        .when(seconds < 120)
        .then(pl.format("{} seconds", _int(seconds)))
        .when(seconds < 5400)
        .then(pl.format("{} minutes", _int(seconds / 60)))
        .otherwise(pl.format("{} hours", (seconds / 3600).round(1).cast(pl.String)))
    )


def finish(frame: pl.LazyFrame, kind: str) -> pl.LazyFrame:
    """Conform one detector's output to the incident columns (rank is set when all are ranked)."""
    return frame.select(
        pl.lit(0, dtype=pl.Int64).alias("rank"),
        pl.col("tier").cast(pl.String).alias("tier"),
        pl.lit(kind).alias("kind"),
        pl.col("user_id").cast(pl.Int64).alias("user_id"),
        pl.col("ip").cast(pl.String).alias("ip"),
        pl.col("start").cast(pl.Datetime("us")).alias("start"),
        pl.col("end").cast(pl.Datetime("us")).alias("end"),
        pl.col("views").cast(pl.Int64).alias("views"),
        pl.col("score").cast(pl.Float64).alias("score"),
        pl.col("severity").cast(pl.Float64).alias("severity"),
        pl.col("evidence").cast(pl.String).alias("evidence"),
        episode_duration().alias("duration"),
    )


def episode_duration() -> pl.Expr:
    """An incident's span (end - start) in words: the same text wherever it is shown."""
    return _duration((pl.col("end") - pl.col("start")).dt.total_seconds().cast(pl.Float64))


def empty_incidents() -> pl.DataFrame:
    return pl.DataFrame(schema=INCIDENT_SCHEMA)


# --- the shared frames: every detector reads these, none re-scans the views -------------------------------


class Pooled(NamedTuple):
    """`pooled_views`: known users' page views (lazy, over the views in place: each reader keeps its
    own few rows first, then looks up their networks with `on_networks`), each address's network
    key (`networks`: integer keys in the order of the names), the names of the keys, the pool of
    each pooled view (`pools`: user, time, network key, pool) and the (user, slot) pairs with
    views from two networks (`two_places`)."""

    views: pl.LazyFrame
    networks: pl.DataFrame
    names: pl.DataFrame
    pools: pl.DataFrame
    two_places: pl.DataFrame


def pooled_views(
    base: pl.LazyFrame, uid: pl.LazyFrame, config: Config, campus: list[str], roles: pl.DataFrame
) -> Pooled:
    """Known users' page views and what gives each one the network it counts on for the
    shared-account rules (`on_networks`: the address's network, or the pool's id when the view is
    in an address pool). An address pool is the addresses ONE account alternates between request
    by request within one session (views less than `session_gap_seconds` apart): a session
    switching network on at least `pool_switch_share` of its consecutive requests, each of those
    addresses seen at least twice in it (a load-balanced NAT hands one person either address per
    request); and only addresses the account uses together with another outside address in at
    least `pool_together_share` of its sessions of four views or more (campus addresses are one
    network already). Two people who share an account each keep their own address through their
    own sessions: however much those sessions overlap, each also reads alone on other days, so
    their addresses are no pool.

    Networks are integer keys numbered in the order of their names (`names`: key -> name), so
    sorting, grouping and the pool's id (the smallest name) work on integers; the addresses are
    read from `uid` (`user_ip_days`: every address of `base`, a tenth of the rows). Only the
    three columns that define sessions (user, time, network) are sorted, once (`session_order`:
    as one integer when they fit); a session starts where the user changes or the gap is long, so
    each session's length and switches are differences between consecutive session starts (of
    the row number and of the running count of switches), without grouping every view; only the
    views of sessions that switch network are read again. In the same order the views of one
    user's `share_slot_minutes` slot are consecutive, so the slots with two networks
    (`two_places`, before pooling) are found by comparing each view with the one before it."""
    q4 = config.q4
    # the network of each distinct address, looked up (not a regex on every row: 9M rows at 10x);
    # the addresses of `user_ip_days` are those of every view (a tenth of the rows to read)
    networks = (
        uid.select(pl.col("ip").unique())
        .with_columns(network(pl.col("ip"), campus).alias("name"))
        .with_columns(pl.col("name").rank("dense").cast(pl.UInt32).alias("net"))
        .collect()
    )
    net = _net(networks)
    campus_net = networks.filter(pl.col("name") == "campus").get_column("net").implode()
    # no known cohort, by cohort id (`roles`): no role looked up for every view
    unidentified = roles.filter(pl.col("role").is_in(["no_cohort", "unknown_cohort"]))
    views = page_views(base).select(
        "user_id",
        "timestamp",
        "date",
        "ip",
        "kept",
        pl.col("cohort_id")
        .is_in(unidentified.get_column("cohort_id").implode(), nulls_equal=True)
        .alias("unidentified"),
    )
    # the bounds of the users, days and networks from `uid` and `networks` (every view's): no
    # pass over the views to find them
    users_days = uid.select(
        pl.col("user_id").min().alias("u0"),
        pl.col("user_id").max().alias("u1"),
        pl.col("date").min().alias("d0"),
        pl.col("date").max().alias("d1"),
    ).collect()
    u0, u1, d0, d1 = users_days.row(0)
    bounds = Bounds((u0, u1), (d0, d1), networks.get_column("net").max())  # type: ignore[arg-type]
    order = session_order(
        views.select("user_id", "timestamp", net),
        q4.share_slot_minutes,
        q4.session_gap_seconds,
        bounds,
    )
    user, ts, net_key = order.user_id, order.timestamp, order.net
    # one pass over the sorted views keeps the rows anything below reads (a sixth of them): a
    # session's first view (the user changes or the gap is long) and a view on another network
    # than the one before it (a switch within a session, or a second network in the user's slot:
    # `two_places`); the views themselves are not copied with flags and read three times (at 10x
    # 0.3 s of CPU and 125 MB less)
    marked = (
        order.frame.lazy()
        .with_columns(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
            order.new.alias("new"),
            (net_key != net_key.shift()).fill_null(False).alias("changed"),
            order.same_slot.alias("same_slot"),
        )
        .filter(pl.col("new") | pl.col("changed"))
        .with_columns(
            pl.col("new").cum_sum().alias("sid"),
            (pl.col("changed") & ~pl.col("new")).alias("switch"),
        )
        .collect()
    )
    # a campus address is one network (read on the few rows that need it)
    outside = (~net_key.is_in(campus_net)).alias("outside")
    two_places = (
        marked.lazy()
        .filter(pl.col("changed") & pl.col("same_slot"))
        .select(user.alias("user_id"), order.slot.alias("slot"))
        .unique()
        .collect()
    )
    # one row per session, read at its first view: its views and switches run to the next start
    # (every switch is a marked row, so the running count of switches is that of all views)
    sessions = (
        marked.lazy()
        .with_columns(pl.col("switch").cum_sum().alias("sw"))
        .filter(pl.col("new"))
        .select(
            "sid",
            user.alias("user_id"),
            net_key.alias("net"),
            outside,
            "row",
            (pl.col("row").shift(-1).fill_null(order.frame.height) - pl.col("row"))
            .cast(pl.UInt32)
            .alias("n"),
            (pl.col("sw").shift(-1).fill_null(marked.get_column("switch").sum()) - pl.col("sw"))
            .cast(pl.UInt32)
            .alias("switches"),
        )
        .collect()
    )
    del marked
    # the views of sessions that switch network (few): the only ones grouped or joined again,
    # gathered by row number (each session is its rows from its first to the next session's)
    switching = sessions.filter(pl.col("switches") > 0)
    rows = switching.select(
        "sid", pl.int_ranges("row", pl.col("row") + pl.col("n"), dtype=pl.UInt32).alias("row")
    ).explode("row")
    ordered = (
        pl.concat([order.frame[rows.get_column("row")], rows.select("sid")], how="horizontal")
        .lazy()
        .select("sid", outside, user.alias("user_id"), ts.alias("timestamp"), net_key.alias("net"))
        .collect()
        .lazy()
    )
    sessions = sessions.drop("row")
    del order  # the sorted views (9M at 10x) are not held while the pools are found
    # views per session and outside network, with the session's number of outside networks: a
    # session that never switches is on one network, so its row is the session itself; only the
    # views of switching sessions are grouped again
    outside = pl.col("outside")
    columns = ("sid", "user_id", "net", "seen", "n", "switches", "outside")
    per_net = (
        pl.concat(
            [
                sessions.lazy()
                .filter((pl.col("switches") == 0) & outside)
                .with_columns(
                    pl.col("n").alias("seen"), pl.lit(1, dtype=pl.UInt32).alias("outside")
                )
                .select(columns),
                ordered.filter(outside)
                .group_by("sid", "net")
                .agg(pl.len().alias("seen"))
                .with_columns(pl.len().over("sid").cast(pl.UInt32).alias("outside"))
                .join(switching.lazy().select("sid", "user_id", "n", "switches"), on="sid")
                .select(columns),
            ]
        )
        .collect()
        .lazy()
    )
    # a pool's address is used with another outside address in nearly all of the account's sessions
    # long enough to show a pool (four views, the address seen twice); an address someone also uses
    # on their own (their home) is not one
    pool_addresses = (
        per_net.filter((pl.col("n") >= 4) & (pl.col("seen") >= 2))
        .group_by("user_id", "net")
        .agg((pl.col("outside") >= 2).mean().alias("together"))
        .filter(pl.col("together") >= q4.pool_together_share)
        .select("user_id", "net")
    )
    members = (
        per_net.join(pool_addresses, on=["user_id", "net"], how="semi")
        .filter(
            (pl.col("seen") >= 2) & (pl.col("switches") >= q4.pool_switch_share * (pl.col("n") - 1))
        )
        .with_columns(
            pl.col("net").min().over("sid").alias("pool"),
            pl.len().over("sid").alias("members"),
        )
        .filter(pl.col("members") >= 2)
        .select("sid", "net", "pool")
    )
    # the pool of a view is a function of its user, time and network (one session holds them all)
    pools = (
        ordered.join(members, on=["sid", "net"])
        .select("user_id", "timestamp", "net", "pool")
        .unique()
        .collect()
    )
    names = networks.select(pl.col("net").alias("key"), "name").unique()
    return Pooled(views, networks.select("ip", "net"), names, pools, two_places)


def _net(networks: pl.DataFrame) -> pl.Expr:
    """The network key of each view's address (`networks`: ip -> net, every address of the views):
    a Categorical address's code indexes a table of the keys (a tenth of the CPU of a lookup by
    name on 9M rows), any other address is looked up by name."""
    known = networks.filter(pl.col("ip").is_not_null())
    if known["ip"].dtype != pl.Categorical or known.is_empty():
        return pl.col("ip").replace_strict(known["ip"], known["net"], default=None).alias("net")
    codes = known["ip"].to_physical()
    size = known.select(pl.col("ip").to_physical().max()).item() + 1
    table = (
        pl.Series("net", dtype=pl.UInt32).extend_constant(None, size).scatter(codes, known["net"])
    )
    return pl.lit(table).gather(pl.col("ip").to_physical()).alias("net")


def on_networks(pooled: Pooled, views: pl.LazyFrame) -> pl.LazyFrame:
    """Some rows of `pooled.views` with the network each one counts on (`network`: the pool's key
    when the view is in an address pool, else its address's network key; `pool`: null when the
    view is in no pool)."""
    return (
        views.with_columns(_net(pooled.networks))
        .join(pooled.pools.lazy(), on=["user_id", "timestamp", "net"], how="left")
        .with_columns(pl.coalesce("pool", "net").alias("network"))
        .drop("net")
    )


class SessionOrder(NamedTuple):
    """Views sorted by user, time and network (`session_order`): `frame` holds them, and the other
    fields are expressions over `frame` that read back the `user_id`, `timestamp` and `net` of
    each row, the seconds since the row before (`step`, as `dt.total_seconds` of the difference;
    meaningless where the user changes), the start of the row's slot (`slot`) and its number
    (`slot_number`: an integer, the same for the views of one slot; cheaper to compare with the row
    before than the start's datetime), whether a session starts at the row (`new`: the first row,
    another user than the row before, or more than `gap_seconds` after it) and whether the row is
    in the user's slot of the row before (`same_slot`)."""

    frame: pl.DataFrame
    user_id: pl.Expr
    timestamp: pl.Expr
    net: pl.Expr
    step: pl.Expr
    slot: pl.Expr
    slot_number: pl.Expr
    new: pl.Expr
    same_slot: pl.Expr


class Bounds(NamedTuple):
    """Bounds of the views' user ids, days and network keys (`session_order`): the smallest and
    largest of each (the days as Dates)."""

    users: tuple[int, int]
    days: tuple[object, object]
    nets: int


def session_order(
    views: pl.LazyFrame, slot_minutes: int = 10, gap_seconds: int = 0, bounds: Bounds | None = None
) -> SessionOrder:
    """`views` (`user_id`, `timestamp`, `net` an integer) sorted by user, time and network, with
    slots of `slot_minutes` and sessions cut at gaps over `gap_seconds`.

    When every timestamp is a whole second (as the log writes them) and the user id's offset, the
    user's clock and the network fit in one 63-bit integer, `frame` is only that integer (`key`),
    computed straight from `views` and sorted, and the columns, steps and slots are integer
    arithmetic on it where they are needed (a fifth of the time of a three-column sort at 10x, a
    third of the memory of the three columns); otherwise `frame` is the three columns, sorted.
    The user's clock is the user's offset times a span `M` plus the seconds since `start`, a slot's
    start at or before the first view; `M` is a whole number of slots and longer than the log and a
    gap together: so a session starts exactly where the clock moves on by more than `gap_seconds`
    (a change of user always does), and the clock's slot number is the same exactly for one
    user's slot (each one comparison of a row with the row before: at 10x 0.1 s of CPU less than
    reading user, time and slot back and comparing them).

    `bounds` (of the user ids, days and network keys, e.g. from `user_ip_days`, which holds every
    view's) spare a pass over the views to find them; they are checked as the key is computed (a
    view out of them, a fraction of a second or a null gives a null key, and the three columns are
    sorted instead)."""
    ts = pl.col("timestamp")
    user, net = pl.col("user_id"), pl.col("net")
    schema = views.collect_schema()
    slot = 60 * slot_minutes

    def fallback() -> SessionOrder:
        frame = views.select("user_id", "timestamp", "net").collect()
        step = (ts - ts.shift()).dt.total_seconds()
        slot_number = ts.dt.epoch("us") // (60_000_000 * slot_minutes)
        first = (user != user.shift()).fill_null(True)
        return SessionOrder(
            frame.sort("user_id", "timestamp", "net"),
            user,
            ts,
            net,
            step,
            ts.dt.truncate(f"{slot_minutes}m"),
            slot_number,
            (first | (step > gap_seconds)).fill_null(True),
            (~first & (slot_number == slot_number.shift())).fill_null(False),
        )

    if bounds is None:
        found = (
            views.select(
                user.min().alias("u0"),
                user.max().alias("u1"),
                ts.min().dt.date().alias("d0"),
                ts.max().dt.date().alias("d1"),
                net.max().cast(pl.Int64).alias("nets"),
            )
            .collect()
            .row(0)
        )
        bounds = Bounds((found[0], found[1]), (found[2], found[3]), found[4])
    (u0, u1), (d0, d1), nets = bounds
    if None in (u0, u1, d0, d1, nets):
        return fallback()
    first_second = pl.select(pl.lit(d0).cast(pl.Datetime("us")).dt.epoch("s")).item()
    start = first_second // slot * slot
    end = pl.select(pl.lit(d1).cast(pl.Datetime("us")).dt.epoch("s")).item() + 86_400
    span = -(-(end - start + gap_seconds + 1) // slot) * slot  # M: whole slots
    net_bits = int(nets + 1).bit_length()
    if (u1 - u0 + 1) * span * (1 << net_bits) >= 1 << 63:
        return fallback()
    # the seconds from the microseconds, read once for the key and its check (a third less CPU
    # than reading both from the timestamp)
    micros = ts.dt.epoch("us")
    seconds = micros // 1_000_000
    packed = ((user.cast(pl.Int64) - u0) * span + seconds - start) * (1 << net_bits) + net.cast(
        pl.Int64
    )
    valid = (
        user.is_between(u0, u1)
        & seconds.is_between(first_second, end - 1)
        & (micros % 1_000_000 == 0)
        & (net <= nets)
    )
    key = views.select(pl.when(valid).then(packed).alias("key")).collect().get_column("key")
    if key.null_count() or key.is_empty():
        return fallback()
    # one thread: as fast as two on this key, at half the CPU
    key = key.sort(multithreaded=False)
    clock = pl.col("key") // (1 << net_bits)
    epoch = clock % span + start
    return SessionOrder(
        key.to_frame(),
        (clock // span + u0).cast(schema["user_id"]),
        pl.from_epoch(epoch, time_unit="s").cast(schema["timestamp"]),
        (pl.col("key") % (1 << net_bits)).cast(schema["net"]),
        clock - clock.shift(),
        pl.from_epoch(epoch // slot * slot, time_unit="s").cast(schema["timestamp"]),
        epoch // slot,
        (clock.diff() > gap_seconds).fill_null(True),
        (clock // slot == (clock // slot).shift()).fill_null(False),
    )


def _name(key: str, names: pl.DataFrame) -> pl.Expr:
    """The name of the network key in column `key` (`pooled_views`' names)."""
    return pl.col(key).replace_strict(names["key"], names["name"], default=None).alias(key)


def network_slots(pooled: Pooled, config: Config) -> pl.LazyFrame:
    """Known users' page views per `share_slot_minutes` slot and network (`pooled_views`): who was
    in two places at once. `kept` and `unidentified` (no known cohort) as in the views. Only the
    slots with views from two networks before pooling (`two_places`) are kept, whole: the
    detectors count networks per slot over some of its views, and a slot on one network counts
    one whatever is kept."""
    columns = ("user_id", "slot", "network", "kept", "unidentified", "views", "date")
    two_places = pooled.two_places
    slots = (
        pooled.views.filter(pl.col("user_id").is_in(two_places.get_column("user_id").implode()))
        .with_columns(
            pl.col("timestamp").dt.truncate(f"{config.q4.share_slot_minutes}m").alias("slot")
        )
        .join(two_places.lazy(), on=["user_id", "slot"], how="semi")
        .pipe(lambda views: on_networks(pooled, views))
        .group_by("user_id", "slot", "network", "kept", "unidentified")
        .agg(pl.len().alias("views"))
    )
    return slots.with_columns(
        _name("network", pooled.names), pl.col("slot").dt.date().alias("date")
    ).select(columns)


def pool_days(pooled: Pooled) -> pl.LazyFrame:
    """One row per user, address and day on which the address was in one of the user's address
    pools (`pooled_views`), with the pool's id: the "many networks" rule counts a pool once."""
    days = (
        on_networks(
            pooled,
            pooled.views.filter(
                pl.col("user_id").is_in(pooled.pools.get_column("user_id").implode())
            ),
        )
        .filter(pl.col("pool").is_not_null())
        .group_by("user_id", "ip", "date")
        .agg(pl.col("pool").min())
    )
    return days.select(
        "user_id", "ip", "date", pl.format("pool {}", _name("pool", pooled.names)).alias("address")
    )


def days_of_pages(uid: pl.LazyFrame) -> pl.LazyFrame:
    """`network_days` from the user-IP-day frame: known users' lesson and navigation views per
    address and day, with the first and last.

    `uid` has one row per user, address, day, cohort id and `kept`: a user with one cohort id
    (null counting as one) and no view set aside has one row per address and day already, so
    only the rows of the other users (a few in a thousand) are grouped; the others are read as
    they are (at 10x 0.1 s of CPU less than grouping all 1.1M rows, which merges only 600)."""
    rows = uid.filter(
        pl.col("user_id").is_not_null() & pl.col("ip").is_not_null() & (pl.col("pages") > 0)
    )
    several = (
        uid.group_by("user_id")
        .agg(((pl.col("cohort_id").n_unique() > 1) | ~pl.col("kept").all()).alias("several"))
        .filter(pl.col("several"))
        .collect()
        .get_column("user_id")
        .implode()
    )
    split = pl.col("user_id").is_in(several)
    grouped = (
        rows.filter(split)
        .group_by("user_id", "ip", "date")
        .agg(
            pl.col("pages").sum().alias("views"),
            pl.col("pg_first").min().alias("start"),
            pl.col("pg_last").max().alias("end"),
        )
    )
    single = rows.filter(~split).select(
        "user_id",
        "ip",
        "date",
        pl.col("pages").alias("views"),
        pl.col("pg_first").alias("start"),
        pl.col("pg_last").alias("end"),
    )
    return pl.concat([single, grouped.cast(single.collect_schema())])


# --- campus ------------------------------------------------------------------------------------------------


def campus_addresses(uid: pl.LazyFrame, config: Config, detected: list[str]) -> list[str]:
    """Configured and share-detected campus IPs (prepare.campus_ips), plus addresses used by at least
    `campus_weekly_users` people in each of at least `campus_min_weeks` weeks (a classroom's NAT).
    `uid` is `user_ip_days`."""
    q4 = config.q4
    weekly = (
        uid.filter(pl.col("user_id").is_not_null() & pl.col("ip").is_not_null())
        # such an address has at least one row per person and week it counts: the addresses with
        # fewer rows in all (most, holding half the rows) are not counted week by week
        .filter(pl.len().over("ip") >= q4.campus_weekly_users * q4.campus_min_weeks)
        .group_by("ip", pl.col("date").dt.truncate("1w").alias("week"))
        .agg(pl.col("user_id").n_unique().alias("users"))
        .filter(pl.col("users") >= q4.campus_weekly_users)
        .group_by("ip")
        .agg(pl.len().alias("weeks"))
        .filter(pl.col("weeks") >= q4.campus_min_weeks)
        .sort("weeks", "ip", descending=[True, False])
        .collect()
    )
    extra = [str(ip) for ip in weekly["ip"].to_list() if str(ip) not in detected]
    return list(detected) + extra


def network(ip: pl.Expr, campus: list[str]) -> pl.Expr:
    """The network an address belongs to when judging who is where: every campus address is one
    network ("campus"), and an IPv4 address is its /24 block (a NAT or carrier pool hands one person
    neighbouring addresses request by request); other addresses are themselves."""
    text = ip.cast(pl.String)
    return (
        pl.when(text.is_in(campus))
        .then(pl.lit("campus"))
        .otherwise(text.str.replace(r"^(\d+\.\d+\.\d+)\.\d+$", "${1}"))
    )


# --- automated fetching and attack probes (found once in analysis.automation) ------------------------------


def scraping(episodes: pl.LazyFrame, config: Config, campus: list[str]) -> pl.LazyFrame:
    """Automated fetching episodes (`Prepared.automated.scraping`) as incidents; the IP is withheld
    when it is a campus one. The pace is the episode's duration over its pages less one."""
    q4 = config.q4
    seconds = (pl.col("end") - pl.col("start")).dt.total_seconds().cast(pl.Float64)
    pace = seconds / (pl.col("views") - 1).clip(lower_bound=1)
    one_ip = pl.col("ips").list.len() == 1
    ip = pl.col("ips").list.first()
    on_campus = one_ip & ip.is_in(campus)
    where = (
        pl.when(on_campus)
        .then(pl.lit("a campus network"))
        .when(one_ip)
        .then(ip)
        .otherwise(pl.format("{} networks", pl.col("ips").list.len()))
    )
    how = (
        pl.when(pl.col("fast"))
        .then(pl.lit("far faster than anyone reads"))
        .when(pl.col("around_clock"))
        .then(pl.lit("around the clock without a pause for sleep"))
        .when(pl.col("ordered"))
        .then(pl.lit("walking the pages in order at an even pace"))
        .otherwise(pl.lit("at a machine's even pace"))
    )
    return finish(
        episodes.with_columns(
            pl.lit("high").alias("tier"),
            pl.when(one_ip & ~on_campus).then(ip).otherwise(None).alias("ip"),
            (pl.col("views") / (seconds / 60).clip(lower_bound=1.0)).alias("score"),
            (
                0.5
                + 0.25 * _grade(pl.col("views"), q4.scrape_min_pages, 30 * q4.scrape_min_pages)
                + 0.25 * (pl.col("fast") | pl.col("around_clock")).cast(pl.Float64)
            ).alias("severity"),
            pl.format(
                "user {} fetched {} pages ({} different) in {} from {}, starting {}: one every {}, {}",
                pl.col("user_id"),
                pl.col("views"),
                pl.col("distinct"),
                episode_duration(),
                where,
                _when(pl.col("start")),
                _duration(pace),
                how,
            ).alias("evidence"),
        ),
        "scraping",
    )


def probes(episodes: pl.LazyFrame) -> pl.LazyFrame:
    """Probe episodes (`Prepared.automated.probes`): one high incident per sweeping or persistent
    address and episode; the one-off probes (routine scanning) of all other addresses in one
    medium incident (how many addresses, which targets, when)."""
    high = episodes.filter(pl.col("tier") == "high")
    single = finish(
        high.with_columns(
            pl.col("views").cast(pl.Float64).alias("score"),
            (0.5 + 0.5 * _grade(pl.col("views"), 1, 100)).alias("severity"),
            pl.format(
                "{} asked for {} known attack addresses ({} different, such as {}) on {} {} "
                "between {} and {}{}",
                pl.col("ip").fill_null("an unknown address"),
                pl.col("views"),
                pl.col("paths"),
                pl.col("example").str.slice(0, 60),
                pl.col("days"),
                pl.when(pl.col("days") == 1).then(pl.lit("day")).otherwise(pl.lit("days")),
                _when(pl.col("start")),
                _when(pl.col("end")),
                pl.when(pl.col("users") == 1)
                .then(pl.format(", signed in as user {}", pl.col("user_id")))
                .when(pl.col("users") > 1)
                .then(pl.format(", signed in as {} users", pl.col("users")))
                .otherwise(pl.lit("")),
            ).alias("evidence"),
        ),
        "probe",
    )
    one_off = episodes.filter(pl.col("tier") != "high")
    targets = (
        one_off.group_by("example")
        .agg(pl.len().alias("n"))
        .sort(["n", "example"], descending=[True, False])
        .head(3)
        .select(pl.col("example").str.slice(0, 40).str.join(", ").alias("targets"))
    )
    grouped = (
        one_off.select(
            pl.len().alias("addresses"),
            pl.col("views").sum().alias("views"),
            pl.col("start").min().alias("start"),
            pl.col("end").max().alias("end"),
        )
        .join(targets, how="cross")
        .filter(pl.col("addresses") > 0)
    )
    group = finish(
        grouped.with_columns(
            pl.lit("medium").alias("tier"),
            pl.lit(None, dtype=pl.Int64).alias("user_id"),
            pl.lit(None, dtype=pl.String).alias("ip"),
            pl.col("addresses").cast(pl.Float64).alias("score"),
            _grade(pl.col("addresses"), 1, 100).alias("severity"),
            pl.format(
                "{} addresses each asked for known attack addresses once or a few times ({} "
                "requests in all, such as {}) between {} and {}: routine internet scanning",
                pl.col("addresses"),
                pl.col("views"),
                pl.col("targets"),
                _day(pl.col("start")),
                _day(pl.col("end")),
            ).alias("evidence"),
        ),
        "probe",
    )
    return pl.concat([single, group])


# --- daily volumes: heavy days -----------------------------------------------------------------------------


def user_groups(uid: pl.LazyFrame) -> pl.LazyFrame:
    """user_id -> group ("staff" when any view names a staff cohort, else "students")."""
    return (
        uid.filter(pl.col("user_id").is_not_null())
        .group_by("user_id")
        .agg((pl.col("role") == "staff").any().alias("staff"))
        .with_columns(
            pl.when(pl.col("staff"))
            .then(pl.lit("staff"))
            .otherwise(pl.lit("students"))
            .alias("group")
        )
        .select("user_id", "group")
    )


def daily_views(uid: pl.LazyFrame, groups: pl.LazyFrame, config: Config) -> pl.LazyFrame:
    """Per user and day: views, the day's phase (a student's enrollment window that day: enrolled,
    alumni or before; else the role), the population's heavy-day bar for their group, the person's
    usual day IN THAT PHASE (median and spread of log views over their active days of the phase)
    and the `heavy` flag.

    A heavy day reaches the bar, so the person's statistics (`log_views`, `own_*`, `usual`) are
    computed for the users with a day at the bar only (at 10x 135 of 10,000 users, 14,000 of 930,000
    days: 0.2 s of CPU less than the medians of every user's days); they are null on the other
    users' days, none of which is heavy. Each person's partition is whole either way, so the
    values are those of every user's."""
    q4 = config.q4
    rows = uid.filter(pl.col("user_id").is_not_null() & (pl.col("nonprobe") > 0))
    # grouped on one integer per user and day when it fits (`user_key`), else on the two columns
    day = user_key(rows, "date")
    counts = (
        (rows.group_by(day.key) if day else rows.group_by("user_id", "date"))
        .agg(
            pl.col("nonprobe").sum().cast(pl.UInt32).alias("views"),
            # the smallest name (a Categorical's min is lexical, nulls skipped); plain aggregations
            # (the fast path), the phase made once per day below: a Categorical while it is grouped
            # and joined on, text in the result
            pl.col("window").min(),
            pl.col("role").min(),
        )
        .select(
            *([day.user_id, day.value] if day else ["user_id", "date"]),
            "views",
            pl.coalesce(
                pl.col("window"), pl.col("role"), pl.lit("unknown", dtype=pl.Categorical)
            ).alias("phase"),
        )
        .join(groups, on="user_id", how="left")
        .with_columns(
            pl.col("views").quantile(q4.heavy_pop_quantile).over("group").alias("pop_bar")
        )
        .with_columns(
            pl.max_horizontal(pl.col("pop_bar"), pl.lit(float(q4.heavy_day_min_views))).alias("bar")
        )
        .collect()  # read three times below: computed once
    )
    reaching = pl.col("user_id").is_in(
        counts.filter(pl.col("views") >= pl.col("bar")).get_column("user_id").unique().implode()
    )
    candidates = counts.filter(reaching).with_columns(
        pl.col("views").cast(pl.Float64).log().alias("log_views")
    )
    # one user's days of one phase as one partition (`user_key` when it fits, else a struct): the
    # median, the count of days, then the median distance from that median, per partition (no
    # table of them joined back)
    person_phase = user_key(candidates, "phase")
    person = pl.col("_key")
    floor = math.log(q4.heavy_own_floor)
    judged = (
        candidates.lazy()
        .with_columns(
            person_phase.key if person_phase else pl.struct("user_id", "phase").alias("_key")
        )
        .with_columns(
            pl.col("log_views").median().over(person).alias("own_median"),
            pl.len().over(person).alias("own_days"),
        )
        .with_columns(
            (pl.col("log_views") - pl.col("own_median"))
            .abs()
            .median()
            .over(person)
            .alias("own_mad"),
        )
        .drop("_key")
        .with_columns(
            (
                (pl.col("log_views") - pl.col("own_median"))
                / (1.4826 * pl.col("own_mad")).clip(lower_bound=floor)
            ).alias("own_z"),
            pl.col("own_median").exp().alias("usual"),
        )
        .with_columns(
            (
                (pl.col("views") >= pl.col("bar"))
                & (
                    (pl.col("own_days") < q4.heavy_min_days)
                    | (pl.col("own_z") >= q4.heavy_own_z)
                    | (pl.col("views") >= q4.heavy_own_times * pl.col("usual"))
                )
            ).alias("heavy"),
        )
        .select(DAILY_COLUMNS)
    )
    schema = judged.collect_schema()
    others = (
        counts.lazy()
        .filter(~reaching)
        .with_columns(
            pl.lit(False).alias("heavy"),
            *(
                pl.lit(None, dtype=schema[name]).alias(name)
                for name in ("log_views", "own_median", "own_days", "own_mad", "own_z", "usual")
            ),
        )
    )
    return pl.concat([judged, others.select(DAILY_COLUMNS)]).with_columns(
        pl.col("phase").cast(pl.String)
    )


# The columns of `daily_views`, in order.
DAILY_COLUMNS = (
    "user_id", "date", "views", "phase", "group", "log_views", "own_median", "own_days", "own_mad",
    "pop_bar", "own_z", "usual", "bar", "heavy",
)  # fmt: skip


class UserKey(NamedTuple):
    """One Int64 per user and value of another column (`user_key`): `key`, and the user id and the
    column read back from it (`user_id`, `value`: expressions over a column named `_key`)."""

    key: pl.Expr
    user_id: pl.Expr
    value: pl.Expr


def user_key(frame: pl.LazyFrame | pl.DataFrame, column: str) -> UserKey | None:
    """The user id (never null) and a 32-bit `column` of `frame` (a Date, an Int32 or a
    Categorical) as one Int64: the user's offset from the smallest id times 2^32 plus the column's
    physical value (a date's day number or an Int32 shifted to be positive, a Categorical's code).
    Grouping or partitioning on it costs about two thirds of the CPU of the two columns. None when
    the users' range needs more than 30 bits. The value reads back as the column's type for a
    Date or an Int32 (a Categorical is only grouped on)."""
    user = pl.col("user_id")
    schema = frame.collect_schema()
    low, high = (
        frame.lazy().select(user.min().alias("low"), user.max().alias("high")).collect().row(0)
    )
    if low is None or high - low >= 1 << 30:
        return None
    shift = 1 << 31 if schema[column] in (pl.Date, pl.Int32) else 0
    physical = pl.col(column).to_physical().cast(pl.Int64) + shift
    key = pl.col("_key")
    return UserKey(
        ((user - low).cast(pl.Int64) * (1 << 32) + physical).alias("_key"),
        (key // (1 << 32) + low).cast(schema["user_id"]).alias("user_id"),
        (key % (1 << 32) - shift).cast(pl.Int32).cast(schema[column]).alias(column),
    )


def per_window(frame: pl.DataFrame, column: str, *aggs: pl.Expr) -> pl.LazyFrame:
    """`frame` grouped by user and a window number (`column`, an Int32 of `_windows`; one integer
    by `user_key` when it fits, else the two columns), with `aggs`: user_id, window, then the
    aggregations."""
    key = user_key(frame, column)
    if key is None:
        return frame.lazy().group_by("user_id", pl.col(column).alias("window")).agg(*aggs)
    return (
        frame.lazy()
        .group_by(key.key)
        .agg(*aggs)
        .select(key.user_id, key.value.alias("window"), pl.exclude("_key"))
    )


PHASE_WORDS = {
    "active": "enrolled",
    "alumni": "after graduating",
    "before": "before their course",
    "staff": "as staff",
}


def heavy_days(
    uid: pl.LazyFrame, daily: pl.LazyFrame, auto_days: pl.LazyFrame, config: Config
) -> pl.LazyFrame:
    """Heavy days as episodes: one person's heavy days of one phase less than `heavy_episode_days`
    apart are one incident, shown by its most abnormal day; a person heavy on more than
    `heavy_habit_share` of their days in that phase reads that way habitually: no incident. The
    `heavy_medium_max` most abnormal episodes (times their usual day, and above the population
    bar) are medium; the others low (for the record)."""
    q4 = config.q4
    habitual = (
        daily.group_by("user_id", "phase")
        .agg(pl.col("heavy").mean().alias("heavy_share"), pl.col("heavy").sum().alias("heavy_n"))
        .filter((pl.col("heavy_share") > q4.heavy_habit_share) & (pl.col("heavy_n") >= 2))
    )
    flagged = (
        daily.filter(pl.col("heavy"))
        .join(auto_days, on=["user_id", "date"], how="anti")
        .join(habitual, on=["user_id", "phase"], how="anti")
        .sort("user_id", "phase", "date")
        .with_columns(
            (
                (pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True)
                | (pl.col("phase") != pl.col("phase").shift(1)).fill_null(True)
                | (
                    (pl.col("date") - pl.col("date").shift(1)).dt.total_days().fill_null(0)
                    > q4.heavy_episode_days
                )
            )
            .cast(pl.UInt32)
            .cum_sum()
            .alias("episode")
        )
        .with_columns(
            (pl.col("views") / pl.col("usual").clip(lower_bound=1.0)).alias("times"),
        )
    )
    episodes = flagged.group_by("episode").agg(
        pl.all().sort_by("times", descending=True).first(),
        pl.len().alias("heavy_days"),
        pl.col("date").min().alias("first_day"),
        pl.col("date").max().alias("last_day"),
        pl.col("views").sum().alias("episode_views"),
    )
    details = (
        uid.join(episodes.select("user_id", "date"), on=["user_id", "date"], how="semi")
        .filter(pl.col("nonprobe") > 0)
        .group_by("user_id", "date")
        .agg(
            pl.col("np_first").min().alias("day_start"),
            pl.col("np_last").max().alias("day_end"),
            pl.col("ip").cast(pl.String).min().alias("ip"),
            pl.col("ip").n_unique().alias("ips"),
        )
    )
    hours = (pl.col("day_end") - pl.col("day_start")).dt.total_seconds() / 3600
    busier = (
        pl.when(pl.col("group") == "staff")
        .then(pl.lit("busier than nearly any staff member's day"))
        .otherwise(pl.lit("busier than nearly any student's day"))
    )
    phase = pl.col("phase").replace_strict(PHASE_WORDS, default=pl.col("phase"))
    more = (
        pl.when(pl.col("heavy_days") > 1)
        .then(
            pl.format(
                " (the heaviest of {} heavy days between {} and {})",
                pl.col("heavy_days"),
                _day(pl.col("first_day")),
                _day(pl.col("last_day")),
            )
        )
        .otherwise(pl.lit(""))
    )
    start = pl.col("first_day").cast(pl.Datetime("us"))
    end = pl.col("last_day").cast(pl.Datetime("us")) + pl.duration(hours=23, minutes=59)
    severity = 0.25 * _grade(pl.col("views") / pl.col("bar"), 1.0, 5.0) + 0.75 * _grade(
        pl.col("times"), 3.0, 60.0
    )
    most_abnormal = (
        pl.struct(severity.alias("s"), pl.col("views").alias("v"))
        .rank("ordinal", descending=True)
        .cast(pl.Int64)
        <= q4.heavy_medium_max
    )
    return finish(
        episodes.join(details, on=["user_id", "date"], how="left").with_columns(
            pl.when(most_abnormal).then(pl.lit("medium")).otherwise(pl.lit("low")).alias("tier"),
            pl.when(pl.col("ips") == 1).then(pl.col("ip")).otherwise(None).alias("ip"),
            pl.when(pl.col("heavy_days") > 1)
            .then(start)
            .otherwise(pl.col("day_start"))
            .alias("start"),
            pl.when(pl.col("heavy_days") > 1).then(end).otherwise(pl.col("day_end")).alias("end"),
            pl.when(pl.col("heavy_days") > 1)
            .then(pl.col("episode_views"))
            .otherwise(pl.col("views"))
            .alias("views"),
            pl.col("own_z").alias("score"),
            severity.alias("severity"),
            pl.format(
                "user {} read {} pages on {} within {} hours{}; {}",
                pl.col("user_id"),
                pl.col("views"),
                _day(pl.col("day_start")),
                hours.round(1).cast(pl.String),
                more,
                pl.when(pl.col("own_days") < q4.heavy_min_days)
                .then(pl.format("too few days to know their usual day, but {}", busier))
                .otherwise(
                    pl.format(
                        "about {} times their usual {} a day {}, and {}",
                        _int(pl.col("times")),
                        _int(pl.col("usual")),
                        phase,
                        busier,
                    )
                ),
            ).alias("evidence"),
        ),
        "heavy_day",
    )


# --- sharing: accounts and addresses -------------------------------------------------------------------


def _windows(days: int, column: str = "date") -> list[pl.Expr]:
    """Two staggered window numbers of `days` days: any stretch of half a window lies inside one."""
    epoch = pl.col(column).cast(pl.Int32)
    half = max(days // 2, 1)
    return [(epoch // days).alias("w0"), ((epoch + half) // days).alias("w1")]


def account_sharing(
    slots: pl.LazyFrame,
    days_table: pl.LazyFrame,
    groups: pl.LazyFrame,
    config: Config,
    campus: list[str],
    pools: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Accounts used from two networks at the same time on many days of a window, or from far more
    outside networks than their peers within one window (staff against staff). `slots` is
    `network_slots`, `days_table` `network_days`, `pools` `pool_days` (an address pool counts as
    one outside network)."""
    q4 = config.q4
    days = q4.share_window_days
    # A network is episodic for an account when the account used it on share_min_days days within at
    # most two windows and at most half of the account's own time in the log: a second person's
    # network, not the owner's home.
    span = (pl.col("last_use") - pl.col("first_use")).dt.total_days()
    # an account and address as one integer when they fit (`user_key`), else the two columns
    pair = user_key(days_table, "ip")
    on = ["_key"] if pair else ["user_id", "ip"]
    keyed = days_table.with_columns(pair.key) if pair else days_table
    account_span = (
        (pl.col("last_use").max() - pl.col("first_use").min())
        .over(pair.user_id if pair else "user_id")
        .dt.total_days()
    )
    lifetime = (
        keyed.group_by(on)
        .agg(
            pl.col("date").min().alias("first_use"),
            pl.col("date").max().alias("last_use"),
            pl.len().alias("days_used"),
        )
        .with_columns(
            (
                (span <= 2 * days)
                & (span <= 0.5 * account_span)
                & (pl.col("days_used") >= q4.share_min_days)
            ).alias("episodic")
        )
        .filter(pl.col("episodic"))
        .select(on)
    )
    # In use from two networks at the same time: two IPs within one slot of share_slot_minutes, one
    # of them episodic for the account (only the days of episodic networks are looked at).
    episodic_days = keyed.join(lifetime, on=on, how="semi").select("user_id", "date").unique()
    overlaps = (
        slots.join(episodic_days, on=["user_id", "date"], how="semi")
        .group_by("user_id", "slot")
        .agg(pl.col("network").n_unique().alias("ips"))
        .filter(pl.col("ips") >= 2)
        .select("user_id", pl.col("slot").dt.date().alias("date"))
        .unique()
        .with_columns(_windows(days))
    )
    overlap_windows = pl.concat(
        [
            overlaps.group_by("user_id", pl.col(w).alias("window"))
            .agg(
                pl.len().alias("overlap_days"),
                pl.col("date").min().alias("first"),
                pl.col("date").max().alias("last"),
            )
            .with_columns(pl.lit(w).alias("grid"))
            for w in ("w0", "w1")
        ]
    ).filter(pl.col("overlap_days") >= q4.share_min_days)
    outside = days_table.filter(~pl.col("ip").is_in(campus)).select("user_id", "ip", "date")
    if pools is not None:  # the addresses of one pool are one network
        # only the rows of accounts with a pool (a few) change: the others are one row per
        # address and day already
        pooled = pl.col("user_id").is_in(
            pools.select(pl.col("user_id").unique()).collect().get_column("user_id").implode()
        )
        outside = pl.concat(
            [
                outside.filter(~pooled),
                outside.filter(pooled)
                .join(pools, on=["user_id", "ip", "date"], how="left")
                # the pool's name as a Categorical like the address: no text for every row
                .select(
                    "user_id",
                    pl.coalesce(pl.col("address").cast(pl.Categorical), "ip").alias("ip"),
                    "date",
                )
                .unique(),
            ]
        )
    # computed once, read by both grids
    outside_days = outside.with_columns(_windows(2 * days)).collect()
    network_windows = pl.concat(
        [
            per_window(
                outside_days,
                w,
                pl.col("ip").n_unique().alias("networks"),
                pl.len().alias("sessions"),  # network-days: one per network and day
                pl.col("date").min().alias("first"),
                pl.col("date").max().alias("last"),
            ).with_columns(pl.lit(w).alias("grid"))
            for w in ("w0", "w1")
        ]
    ).join(groups, on="user_id", how="left")
    # far more networks than peers, or as many as nearly all peers at most and a new network for
    # nearly every session
    many_rule = (
        pl.col("networks")
        >= pl.max_horizontal(
            q4.share_networks_factor * pl.col("peer_bar"), pl.lit(q4.share_min_networks)
        )
    ) | (
        (pl.col("networks") >= pl.max_horizontal(pl.col("peer_bar"), pl.lit(q4.share_min_networks)))
        & (pl.col("networks") >= q4.share_network_ratio * pl.col("sessions"))
    )
    # ties between windows go to the earliest one (the rows carry no order)
    many = (
        network_windows.with_columns(
            pl.col("networks").quantile(q4.share_networks_quantile).over("group").alias("peer_bar")
        )
        .filter(many_rule)
        .group_by("user_id")
        .agg(
            pl.col("networks").max().alias("networks"),
            pl.col("sessions")
            .sort_by(["networks", "first"], descending=[True, False])
            .first()
            .alias("n_sessions"),
            pl.col("peer_bar").first().alias("peer_bar"),
            pl.col("first")
            .sort_by(["networks", "first"], descending=[True, False])
            .first()
            .alias("n_first"),
            pl.col("last")
            .sort_by(["networks", "first"], descending=[True, False])
            .first()
            .alias("n_last"),
        )
    )
    overlapping = overlap_windows.group_by("user_id").agg(
        pl.col("overlap_days").max().alias("overlap_days"),
        pl.col("first")
        .sort_by(["overlap_days", "first"], descending=[True, False])
        .first()
        .alias("o_first"),
        pl.col("last")
        .sort_by(["overlap_days", "first"], descending=[True, False])
        .first()
        .alias("o_last"),
    )
    # read twice below (the views of each flagged account, and the incident): computed once
    flagged = overlapping.join(many, on="user_id", how="full", coalesce=True).collect().lazy()
    first = pl.min_horizontal("o_first", "n_first")
    last = pl.max_horizontal("o_last", "n_last")
    views = (
        days_table.join(flagged.select("user_id", first.alias("a"), last.alias("b")), on="user_id")
        .filter(pl.col("date").is_between(pl.col("a"), pl.col("b")))
        .group_by("user_id")
        .agg(
            pl.col("views").sum().alias("views"),
            pl.col("start").min().alias("start"),
            pl.col("end").max().alias("end"),
            pl.col("ip").n_unique().alias("ips"),
        )
    )
    reason = pl.concat_str(
        pl.when(pl.col("overlap_days").is_not_null()).then(
            pl.format(
                "on {} days it was in use from two networks at the same time",
                pl.col("overlap_days"),
            )
        ),
        pl.when(pl.col("networks").is_not_null()).then(
            pl.format(
                "it was used from {} outside networks within {} days{}, where nearly all peers use "
                "{} at most",
                pl.col("networks"),
                pl.lit(2 * days),
                pl.when(pl.col("networks") >= q4.share_network_ratio * pl.col("n_sessions"))
                .then(pl.lit(" (a new one on most days it was used)"))
                .otherwise(pl.lit("")),
                _int(pl.col("peer_bar")),
            )
        ),
        separator="; ",
        ignore_nulls=True,
    )
    return finish(
        flagged.join(views, on="user_id", how="inner").with_columns(
            pl.lit("high").alias("tier"),
            pl.lit(None, dtype=pl.String).alias("ip"),
            pl.col("overlap_days").fill_null(0).cast(pl.Float64).alias("score"),
            (
                0.5 * _grade(pl.col("overlap_days").fill_null(1), q4.share_min_days, 30)
                + 0.5
                * _grade(
                    pl.col("networks").fill_null(1) / pl.col("peer_bar").fill_null(1).clip(1),
                    q4.share_networks_factor,
                    10 * q4.share_networks_factor,
                )
            ).alias("severity"),
            pl.format(
                "account of user {} between {} and {}: {}",
                pl.col("user_id"),
                _day(pl.col("start")),
                _day(pl.col("end")),
                reason,
            ).alias("evidence"),
        ),
        "account_sharing",
    )


def shared_ips(uid: pl.LazyFrame, config: Config, campus: list[str]) -> pl.LazyFrame:
    """Outside addresses used by many people within one short window; a spike (most of the address's
    people in that window) is high, a network shared all along (a VPN, a phone carrier) low."""
    q4 = config.q4
    days = q4.shared_ip_window_days
    rows = uid.filter(
        pl.col("user_id").is_not_null() & pl.col("ip").is_not_null() & ~pl.col("ip").is_in(campus)
    )
    # the windows aggregate the user-IP-day rows directly (distinct people, views, first and last)
    visits = rows.select(
        "ip",
        "user_id",
        pl.col("rows").alias("views"),
        "first",
        "last",
        (pl.col("role") == "student").alias("student"),
        *_windows(days),
    )
    lifetime = visits.group_by("ip").agg(pl.col("user_id").n_unique().alias("lifetime_users"))
    # a window holds at most the address's people in all: only addresses with enough are windowed
    crowded = visits.join(
        lifetime.filter(pl.col("lifetime_users") >= q4.shared_ip_window_users), on="ip", how="semi"
    )
    windows = pl.concat(
        [
            crowded.group_by("ip", pl.col(w).alias("window")).agg(
                pl.col("user_id").n_unique().alias("users"),
                pl.col("user_id").filter(pl.col("student")).n_unique().alias("students"),
                pl.col("views").sum().alias("views"),
                pl.col("first").min().alias("start"),
                pl.col("last").max().alias("end"),
            )
            for w in ("w0", "w1")
        ]
    ).filter(pl.col("users") >= q4.shared_ip_window_users)
    best = (
        # ties broken on every column that differs between two windows of one address (a sort
        # without a full order picks by thread timing)
        windows.sort("users", "start", "end", descending=[True, False, False])
        .group_by("ip")
        .agg(pl.all().first(), pl.len().alias("flagged_windows"))
        .join(lifetime, on="ip")
    )
    spike = pl.col("users") >= q4.shared_ip_spike_share * pl.col("lifetime_users")
    return finish(
        best.with_columns(
            pl.when(spike).then(pl.lit("high")).otherwise(pl.lit("low")).alias("tier"),
            pl.lit(None, dtype=pl.Int64).alias("user_id"),
            pl.col("ip").cast(pl.String),
            pl.col("users").cast(pl.Float64).alias("score"),
            _grade(pl.col("users"), q4.shared_ip_window_users, 5 * q4.shared_ip_window_users).alias(
                "severity"
            ),
            pl.format(
                "{} people ({} of them students) used outside network {} between {} and {}{}",
                pl.col("users"),
                pl.col("students"),
                pl.col("ip").cast(pl.String),
                _day(pl.col("start")),
                _day(pl.col("end")),
                pl.when(spike)
                .then(pl.format("; it had {} users in all", pl.col("lifetime_users")))
                .otherwise(
                    pl.format(
                        "; shared all along ({} users in all), like a library or a private network",
                        pl.col("lifetime_users"),
                    )
                ),
            ).alias("evidence"),
        ),
        "shared_ip",
    )


# --- identities ------------------------------------------------------------------------------------------


def stale_accounts(uid: pl.LazyFrame, config: Config, data_start: object) -> pl.LazyFrame:
    """Students of a cohort that ended more than `stale_years` before the log begins, in sustained use:
    within one `share_window_days` window, active on `stale_min_days` days or reading
    `stale_min_views` pages."""
    q4 = config.q4
    days = q4.share_window_days
    cutoff = pl.lit(data_start).cast(pl.Datetime("us")).dt.date() - pl.duration(
        days=round(365.25 * q4.stale_years)
    )
    rows = uid.filter((pl.col("role") == "student") & pl.col("end_date").is_not_null()).filter(
        pl.col("end_date") < cutoff
    )
    active = (
        rows.group_by("user_id", "cohort_id", "date")
        .agg(pl.col("rows").sum().cast(pl.UInt32).alias("views"))
        .with_columns(_windows(days))
    )
    windows = pl.concat(
        [
            active.group_by("user_id", "cohort_id", pl.col(w).alias("window")).agg(
                pl.len().alias("days"), pl.col("views").sum().alias("window_views")
            )
            for w in ("w0", "w1")
        ]
    ).filter((pl.col("days") >= q4.stale_min_days) | (pl.col("window_views") >= q4.stale_min_views))
    sustained = windows.group_by("user_id", "cohort_id").agg(
        pl.col("days").max().alias("best_days"),
        pl.col("window_views").max().alias("best_views"),
    )
    totals = rows.group_by("user_id", "cohort_id").agg(
        pl.col("rows").sum().cast(pl.UInt32).alias("views"),
        pl.col("date").n_unique().alias("active_days"),
        pl.col("first").min().alias("start"),
        pl.col("last").max().alias("end"),
        pl.col("end_date").min().alias("end_date"),
        pl.col("ip").cast(pl.String).min().alias("ip"),
        pl.col("ip").n_unique().alias("ips"),
    )
    years = (pl.col("start").dt.date() - pl.col("end_date")).dt.total_days() / 365.25
    return finish(
        sustained.join(totals, on=["user_id", "cohort_id"]).with_columns(
            pl.lit("medium").alias("tier"),
            pl.when(pl.col("ips") == 1).then(pl.col("ip")).otherwise(None).alias("ip"),
            pl.col("best_days").cast(pl.Float64).alias("score"),
            (  # an account years past its course is among the medium tier's most abnormal
                0.75
                + 0.125 * _grade(pl.col("best_days"), q4.stale_min_days, days)
                + 0.125 * _grade(pl.col("best_views"), q4.stale_min_views, 10 * q4.stale_min_views)
            ).alias("severity"),
            pl.format(
                "user {} finished their course {} years before they read here, yet read {} pages "
                "on {} days between {} and {}, up to {} pages on {} days within {} days",
                pl.col("user_id"),
                years.round(1).cast(pl.String),
                pl.col("views"),
                pl.col("active_days"),
                _day(pl.col("start")),
                _day(pl.col("end")),
                pl.col("best_views"),
                pl.col("best_days"),
                pl.lit(days),
            ).alias("evidence"),
        ),
        "stale_account",
    )


def unknown_users(
    uid: pl.LazyFrame, slots: pl.LazyFrame, daily: pl.LazyFrame, config: Config
) -> pl.LazyFrame:
    """Accounts never seen with a known cohort (not staff): medium when they name a cohort id absent
    from the cohorts table, or when their busiest week is above `unknown_week_quantile` of all
    accounts' busiest weeks; low otherwise. `uid` is `user_ip_days`, `slots` `network_slots` and
    `daily` `daily_views`; only views outside automated episodes count (`kept`): an account seen
    only in automated episodes is reported as automated fetching only."""
    q4 = config.q4
    unidentified = pl.col("role").is_in(["no_cohort", "unknown_cohort"])
    known_users = uid.filter(pl.col("user_id").is_not_null() & pl.col("kept"))
    weekly = daily.select("user_id", "views", *_windows(7)).collect()
    busiest = (
        pl.concat(
            [per_window(weekly, w, pl.col("views").sum().alias("week")) for w in ("w0", "w1")]
        )
        .group_by("user_id")
        .agg(pl.col("week").max().alias("busiest_week"))
        .collect()  # read twice (the bar, each account's own): computed once
        .lazy()
    )
    bar = busiest.select(pl.col("busiest_week").quantile(q4.unknown_week_quantile).alias("bar"))
    roles = (
        known_users.group_by("user_id")
        .agg(
            (pl.col("role") == "staff").any().alias("is_staff"),
            pl.col("role").is_in(["student", "placeholder"]).any().alias("known"),
            pl.col("rows").filter(pl.col("role") == "unknown_cohort").sum().alias("bad_views"),
        )
        .filter(~pl.col("is_staff") & (~pl.col("known") | (pl.col("bad_views") > 0)))
    )
    # days on which the account was on two IPs within one share_slot_minutes slot
    concurrent = (
        slots.filter(pl.col("kept") & pl.col("unidentified"))
        .join(roles, on="user_id", how="semi")
        .group_by("user_id", "slot")
        .agg(pl.col("network").n_unique().alias("ips"))
        .filter(pl.col("ips") >= 2)
        .group_by("user_id")
        .agg(pl.col("slot").dt.date().n_unique().alias("two_network_days"))
    )
    users = (
        known_users.filter(unidentified)
        .join(roles, on="user_id", how="semi")
        .group_by("user_id")
        .agg(
            pl.col("rows").sum().cast(pl.UInt32).alias("views"),
            pl.col("first").min().alias("start"),
            pl.col("last").max().alias("end"),
            pl.col("date").n_unique().alias("days"),
            pl.col("ip").n_unique().alias("ips"),
            pl.col("ip").cast(pl.String).min().alias("ip"),
            pl.col("cohort_id").filter(pl.col("role") == "unknown_cohort").min().alias("bad_id"),
        )
        .join(roles, on="user_id", how="inner")
        .join(concurrent, on="user_id", how="left")
        .join(busiest, on="user_id", how="left")
        .join(bar, how="cross")
    )
    intense = pl.col("busiest_week") >= pl.col("bar")
    crowd = pl.col("two_network_days").fill_null(0) >= q4.share_min_days
    medium = (pl.col("bad_views") > 0) | intense | crowd
    return finish(
        users.with_columns(
            pl.when(medium).then(pl.lit("medium")).otherwise(pl.lit("low")).alias("tier"),
            pl.when(pl.col("ips") == 1).then(pl.col("ip")).otherwise(None).alias("ip"),
            pl.col("views").cast(pl.Float64).alias("score"),
            (  # a missing cohort; in use from two networks at once on most of its days; busy
                0.5 * (pl.col("bad_views") > 0).cast(pl.Float64)
                + 0.5
                * pl.max_horizontal(
                    pl.when(crowd)
                    .then(pl.col("two_network_days").fill_null(0) / pl.col("days"))
                    .otherwise(0.0),
                    _grade(pl.col("busiest_week") / pl.col("bar").clip(lower_bound=1), 1, 10),
                )
            ).alias("severity"),
            pl.format(
                "user {} {}: {} pages on {} {} between {} and {}{}{}",
                pl.col("user_id"),
                pl.when(pl.col("bad_views") > 0)
                .then(pl.format("names cohort {}, which does not exist", pl.col("bad_id")))
                .otherwise(pl.lit("belongs to no cohort and is not staff")),
                pl.col("views"),
                pl.col("days"),
                pl.when(pl.col("days") == 1).then(pl.lit("day")).otherwise(pl.lit("days")),
                _day(pl.col("start")),
                _day(pl.col("end")),
                pl.when(intense)
                .then(
                    pl.format(
                        ", up to {} in one week (more than nearly every account)",
                        pl.col("busiest_week"),
                    )
                )
                .otherwise(pl.lit("")),
                pl.when(crowd)
                .then(
                    pl.format(
                        "; on {} days it was in use from two networks at the same time",
                        pl.col("two_network_days"),
                    )
                )
                .otherwise(pl.lit("")),
            ).alias("evidence"),
        ),
        "unknown_user",
    )


# --- all together --------------------------------------------------------------------------------------


# Kinds that lead the high tier in this order; the other kinds of the high tier are interleaved.
LEADING_KINDS: tuple[str, ...] = ("probe", "scraping")


def rank(incidents: pl.DataFrame) -> pl.DataFrame:
    """Tier first (high, medium, low). Within the high tier, attack probes and automated fetching
    lead (by severity); the other kinds are interleaved, each kind's most severe first (the first of
    each kind, then the second of each kind ...), so no kind with many cases hides another. In the
    medium and low tiers each kind's most abnormal episode comes first, then the rest by how
    abnormal the episode is (severity), then by kind. Rank 1 is shown first."""
    tier_order = {t: i for i, t in enumerate(TIERS)}
    kind_order = {k: i for i, k in enumerate(KINDS)}
    high = pl.col("tier") == "high"
    return (
        incidents.sort(
            ["severity", "views", "start", "user_id", "ip"],
            descending=[True, True, False, False, False],
            nulls_last=True,
        )
        .with_columns(
            pl.col("tier").replace_strict(tier_order, return_dtype=pl.Int64).alias("_t"),
            pl.col("kind")
            .replace_strict(kind_order, default=99, return_dtype=pl.Int64)
            .alias("_k"),
            pl.int_range(pl.len()).over("tier", "kind").alias("_n"),
            pl.int_range(pl.len()).alias("_s"),
        )
        .with_columns(
            pl.when(high & pl.col("kind").is_in(list(LEADING_KINDS)))
            .then(pl.lit(0))
            .otherwise(pl.lit(1))
            .alias("_lead"),
        )
        .with_columns(
            pl.when(~high)
            .then(pl.col("_s"))
            .when(pl.col("_lead") == 0)
            .then(pl.col("_k"))
            .otherwise(pl.col("_n"))
            .alias("_a"),
            pl.when(~high)
            .then(pl.col("_k"))
            .when(pl.col("_lead") == 0)
            .then(pl.col("_n"))
            .otherwise(pl.col("_k"))
            .alias("_b"),
        )
        .with_columns((~high & (pl.col("_n") > 0)).alias("_later"))
        .sort(["_t", "_lead", "_later", "_a", "_b"], maintain_order=True)
        .drop("_t", "_k", "_n", "_s", "_lead", "_later", "_a", "_b")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"))
    )
