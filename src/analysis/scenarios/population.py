"""The simulated people: users, their addresses and activity segments (cohort plan, staff, graduates,
no-cohort bursts), the special students made here (drop-outs, light readers, second accounts, shared
accounts, early birds) with their labels, and the address changes applied to everyone (a shared phone or
VPN pool, home addresses the ISP re-assigns).

Public API: `Population`, `Roster`, `build_population`, `assign_shared_pool`, `reassign_homes`,
`read_cohorts`, `make_label`, `injected_rows`, `scaled` and the cohort plan constants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import InputError
from analysis.scenarios.calendar import Calendar, Piece, epoch, pieces_mass, spread
from analysis.scenarios.curriculum import (
    P_DS,
    P_DS_ALUM,
    P_JAVA,
    P_JAVA_ALUM,
    P_PHP,
    P_STAFF,
)
from analysis.scenarios.library import DEMO, Scenario

ALUMNI_LIMIT_DAYS = 365  # normal alumni reading stays within this; beyond is out_of_enrollment
EARLY_DAYS = 14  # normal prework starts at most this many days before the start date

# Rows and users per cohort at scale 1. Program totals match the real log: PHP 30,548, data science
# 103,412 (the five largest DS cohorts; Ada has no rows), Java 713,365 incl. Staff 84,031; front end 5.
# Java cohorts not pinned by the published top list are rescaled so Java adds up.
COHORT_PLAN: dict[int, tuple[int, int]] = {
    1: (900, 4), 2: (700, 3), 6: (1500, 5), 7: (1800, 6), 8: (3000, 8), 11: (2500, 7),
    12: (3000, 8), 13: (3500, 9), 14: (4000, 10), 17: (4148, 10), 19: (5500, 12),
    34: (26538, 24), 55: (21582, 22), 59: (32015, 26), 133: (14715, 22), 137: (8562, 20),
    28: (84031, 45),
    24: (35636, 28), 29: (38096, 27), 33: (40730, 28), 53: (36902, 26), 62: (37109, 26),
    15: (2500, 8), 16: (3000, 9), 20: (6000, 14), 18: (4500, 11), 21: (14000, 20), 22: (25000, 26),
    23: (30000, 28), 25: (29000, 27), 26: (31000, 28), 27: (33000, 29), 31: (30000, 28),
    32: (33000, 29), 51: (32000, 28), 52: (30000, 27), 56: (28000, 26), 57: (26000, 25),
    58: (27000, 26), 61: (22000, 24), 132: (21000, 25), 134: (19000, 26), 135: (14000, 24),
    136: (3000, 6), 138: (3500, 24), 139: (1200, 22),
}  # fmt: skip
PINNED_JAVA = (28, 24, 29, 33, 53, 62)
JAVA_TOTAL = 713_365
STAFF_COHORT = 28
PLACEHOLDER_COHORT = 136  # students in transition: not a class
NON_STUDENT_COHORTS = ("Staff", "Placeholder for students in transition")
NO_COHORT_ROWS = 52_000  # rows of users who never have a cohort (plus a few students' first days)
NO_COHORT_BURSTS = (
    (dt.date(2019, 2, 1), dt.date(2019, 8, 31), 36, 6),  # start, end, users, profile (web)
    (dt.date(2020, 7, 1), dt.date(2020, 12, 31), 34, 7),  # mixed web / data science
)
LATE_ASSIGNED = (31, 32, 59, 61)  # cohorts where a few students' first two weeks carry no cohort id
IP_FIRST_OCTETS = np.array(
    [24, 47, 66, 67, 68, 70, 71, 72, 75, 76, 98, 99, 104, 107, 108, 136, 162, 173, 174, 184, 187,
     189, 201, 206, 207, 208, 209]
)  # fmt: skip
# special students made in the population: (kind, shape) of a scenario event -> behaviour
SPECIAL_SHAPES = {("dropout", "stops_early"): "dropout", ("dropout", "trickle"): "trickle",
                  ("low_usage", "light_reader"): "low", ("account_sharing", "many_ips"): "share"}  # fmt: skip


@dataclass
class Population:
    """Users (index = position), their IPs and activity segments; labels known at setup."""

    keys: list[float] = field(
        default_factory=list
    )  # sort key for user ids (account creation order)
    home: list[list[int]] = field(default_factory=list)  # IP table indices
    roam: list[list[int]] = field(default_factory=list)
    roam_p: list[float] = field(default_factory=list)
    null_until: list[int] = field(
        default_factory=list
    )  # rows before this epoch second: no cohort id
    never_cohort: list[bool] = field(default_factory=list)
    ips: list[int] = field(default_factory=list)  # IP table as uint32 (first two: campus)
    seg: dict[str, list[Any]] = field(
        default_factory=lambda: {
            k: []
            for k in ("user", "cohort", "a", "b", "rows", "profile", "campus", "track", "lenf")
        }
    )
    labels: list[dict[str, Any]] = field(default_factory=list)
    injected: list[dict[str, np.ndarray]] = field(default_factory=list)
    sc: Scenario = DEMO
    pool: list[int] = field(default_factory=list)  # per user: shared phone/VPN address (-1 none)
    home_base: list[int] = field(default_factory=list)  # home addresses per ISP period
    overuse: list[dict[str, Any]] = field(default_factory=list)  # planned over-use (injections)

    def new_ips(self, rng: np.random.Generator, n: int) -> list[int]:
        octet = rng.choice(IP_FIRST_OCTETS, n)
        rest = rng.integers(1 << 8, 1 << 24, n)
        start = len(self.ips)
        self.ips.extend(((octet << 24) | rest).tolist())
        return list(range(start, start + n))

    def add_user(
        self, rng: np.random.Generator, key: float, *, home: list[int] | None = None
    ) -> int:
        self.keys.append(key)
        n_home = int(rng.choice([1, 2, 3], p=list(self.sc.home_ips_p)))
        self.home.append(home if home is not None else self.new_ips(rng, n_home))
        self.roam.append(self.new_ips(rng, int(rng.poisson(self.sc.roam_mean))))
        self.roam_p.append(self.sc.roam_p)
        self.null_until.append(0)
        self.never_cohort.append(False)
        self.pool.append(-1)
        return len(self.keys) - 1

    def add_segment(
        self,
        user: int,
        cohort: int | None,
        a: int,
        b: int,
        rows: float,
        profile: int,
        campus: bool,
        track: int,
        lenf: float = 1.0,
    ) -> None:
        for key, value in zip(
            ("user", "cohort", "a", "b", "rows", "profile", "campus", "track", "lenf"),
            (user, -1 if cohort is None else cohort, a, b, rows, profile, campus, track, lenf),
            strict=True,
        ):
            self.seg[key].append(value)


@dataclass
class Roster:
    """Whom the injections may pick: the cohorts table's rows by id, the regular students
    (user, cohort) and, per cohort, its students who read the whole window (over-use readers)."""

    info: dict[int, dict[str, Any]]
    regular: list[tuple[int, int]] = field(default_factory=list)
    plan_users: dict[int, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Cohort:
    """One cohort of the plan as its users are made: days, track and reading profiles."""

    cid: int
    s: int  # start day index
    e: int  # end day index
    track: int  # 0 web, 1 data science, -1 not students
    p_act: int  # profile while enrolled
    p_alum: int  # profile after graduation


def scaled(n: float, scale: float) -> int:
    """A count at this scale (at least one)."""
    return max(1, round(n * scale))


def read_cohorts(reference_dir: Path) -> pl.DataFrame:
    path = reference_dir / "cohorts.csv"
    if not path.is_file():
        raise InputError(f"{path}: reference cohorts table not found")
    return pl.read_csv(path, null_values="NULL", try_parse_dates=True).select(
        pl.col("id").cast(pl.Int64),
        pl.col("name"),
        pl.col("start_date").cast(pl.Date),
        pl.col("end_date").cast(pl.Date),
        pl.col("program_id").cast(pl.Int64),
    )


def make_label(
    kind: str,
    cal: Calendar,
    *,
    user: int | None = None,
    cohort: int | None = None,
    a: int | None = None,
    b: int | None = None,
    ts: tuple[int, int] | None = None,
    ip: int | None = None,
    lesson: str | None = None,
    detail: str = "",
    shape: str | None = None,
) -> dict[str, Any]:
    """A label with day indices (a inclusive, b exclusive) or epoch seconds (ts)."""
    base = epoch(cal.day0)
    if ts is None and a is not None and b is not None:
        ts = (base + max(a, 0) * 86400, base + min(b, cal.n_days) * 86400 - 1)
    return {
        "kind": kind, "user": user, "ip": ip, "cohort_id": cohort, "lesson": lesson,
        "start": None if ts is None else ts[0], "end": None if ts is None else ts[1],
        "detail": detail, "shape": shape,
    }  # fmt: skip


def injected_rows(
    ts: np.ndarray, pids: np.ndarray, user: int, cohort: int | None, ip: int
) -> dict[str, np.ndarray]:
    """Rows added outside the session model (internal columns, as the generated ones)."""
    n = len(ts)
    return {
        "ts": ts.astype(np.int64),
        "pid": pids.astype(np.int64),
        "uidx": np.full(n, user, dtype=np.int64),
        "cohort": np.full(n, -1 if cohort is None else cohort, dtype=np.int64),
        "ipid": np.full(n, ip, dtype=np.int64),
        "cross": np.zeros(n, dtype=bool),
        "lesson": np.zeros(n, dtype=bool),
    }


def build_population(
    rng: np.random.Generator,
    scale: float,
    cohorts: pl.DataFrame,
    cal: Calendar,
    sc: Scenario = DEMO,
) -> tuple[Population, Roster]:
    """Every user with segments: cohort plan, staff, special students (drop-outs, second accounts,
    shared accounts, early birds), no-cohort bursts. The injections come after (`injections`)."""
    pop = Population(sc=sc)
    pop.ips.extend(
        [int.from_bytes(bytes(int(x) for x in ip.split(".")), "big") for ip in sc.campus_ips]
    )
    roster = Roster({row["id"]: row for row in cohorts.iter_rows(named=True)})
    info = roster.info
    other_java = sum(v[0] for k, v in COHORT_PLAN.items() if info[k]["program_id"] == 2) - sum(
        COHORT_PLAN[k][0] for k in PINNED_JAVA
    )
    java_factor = (JAVA_TOTAL - sum(COHORT_PLAN[k][0] for k in PINNED_JAVA)) / other_java
    specials = _special_slots(rng, scale, cal, sc, info)
    for cid in sorted(COHORT_PLAN):
        _cohort_users(rng, scale, pop, roster, cal, cid, java_factor, specials)
    _no_cohort_users(rng, scale, pop, cal)
    return pop, roster


def _special_slots(
    rng: np.random.Generator,
    scale: float,
    cal: Calendar,
    sc: Scenario,
    info: dict[int, dict[str, Any]],
) -> dict[tuple[int, int], str]:
    """Which students (cohort, position in the cohort) get which special behaviour."""
    if sc.demo_events:
        special_counts = [("dropout", scaled(8, scale)), ("dup", scaled(3, scale)),
                          ("share", scaled(3, scale)), ("early", scaled(4, scale))]  # fmt: skip
    else:  # fixed numbers at every scale: the injected cases stay few and findable
        special_counts = [
            (SPECIAL_SHAPES[k, s], n) for k, s, n in sc.events if (k, s) in SPECIAL_SHAPES
        ]
    active_cohorts = [
        cid
        for cid, row in info.items()
        if cid in COHORT_PLAN
        and row["program_id"] in (2, 3)
        and cid not in (STAFF_COHORT, PLACEHOLDER_COHORT)
        and cal.day(row["start_date"]) >= 30
        and cal.day(row["end_date"]) < cal.n_days - 30
    ]
    specials: dict[tuple[int, int], str] = {}
    for kind, n in special_counts:
        for _ in range(n):
            for _attempt in range(1 if sc.demo_events else 20):  # scenarios: a free slot
                cid = int(rng.choice(active_cohorts))
                n_slots = scaled(COHORT_PLAN[cid][1] * sc.users_factor, scale)
                slot = int(rng.integers(2, n_slots)) if n_slots > 2 else n_slots - 1
                if (cid, slot) not in specials:
                    break
            specials.setdefault((cid, slot), kind)
    return specials


def _cohort_users(
    rng: np.random.Generator,
    scale: float,
    pop: Population,
    roster: Roster,
    cal: Calendar,
    cid: int,
    java_factor: float,
    specials: dict[tuple[int, int], str],
) -> None:
    """The users of one cohort of the plan: staff, graduates of long ago, students."""
    sc = pop.sc
    row = roster.info[cid]
    rows_c: float
    users_c: float
    rows_c, users_c = COHORT_PLAN[cid]
    program = row["program_id"]
    if program == 2 and cid not in PINNED_JAVA:
        rows_c = rows_c * java_factor
    s, e = cal.day(row["start_date"]), cal.day(row["end_date"])
    if not sc.demo_events and s >= 0 and row["start_date"] < DEMO.data_start.date():
        rows_c, users_c = max(rows_c, 25_000.0), max(users_c, 20)  # enrolled inside this log
    n_users = scaled(users_c * sc.users_factor, scale)
    rows_c = rows_c * scale * sc.users_factor**0.5
    activity = rng.lognormal(0.0, sc.activity_sigma, n_users)
    activity = np.minimum(activity, sc.activity_cap)
    share = activity / activity.sum()
    track = -1 if cid == PLACEHOLDER_COHORT else (1 if program == 3 else 0)  # placeholders
    p_act, p_alum = (P_DS, P_DS_ALUM) if program == 3 else (P_JAVA, P_JAVA_ALUM)
    if program == 1:
        p_act = p_alum = P_PHP
    cohort = _Cohort(cid, s, e, track, p_act, p_alum)
    old = e + ALUMNI_LIMIT_DAYS < 120
    for k in range(n_users):
        key = float(s) + rng.random() * 5
        rows_u = rows_c * share[k]
        if cid == STAFF_COHORT:  # staff: a span of the whole range, campus machines too
            _staff_user(rng, pop, cal, cid, rows_u)
            continue
        if cid == 8 and k == 0:
            key = -1e9  # user 1 (the real first row)
        if old:
            length = int(cal.n_days * rng.uniform(0.3, 1.0))
            a = int(rng.integers(0, cal.n_days - length + 1))
            u = pop.add_user(rng, key)
            pop.add_segment(u, cid, a, a + length, rows_u, p_alum, False, track)
            continue
        _student(rng, pop, roster, cal, cohort, k, key, rows_u, specials.get((cid, k)))


def _staff_user(
    rng: np.random.Generator, pop: Population, cal: Calendar, cid: int, rows_u: float
) -> None:
    sc = pop.sc
    length = int(cal.n_days * rng.uniform(0.4, 1.0))
    a = int(rng.integers(0, cal.n_days - length + 1))
    u = pop.add_user(rng, key=rng.uniform(-1500, cal.n_days))
    if sc.staff_roam:
        pop.roam[u] = pop.new_ips(rng, sc.staff_roam)
        pop.roam_p[u] = sc.staff_roam_p
    pop.add_segment(
        u, cid, a, a + length, rows_u * sc.staff_rows_factor, P_STAFF, True, -1,
        lenf=sc.staff_session_factor,
    )  # fmt: skip


def _student(
    rng: np.random.Generator,
    pop: Population,
    roster: Roster,
    cal: Calendar,
    c: _Cohort,
    k: int,
    key: float,
    rows_u: float,
    kind: str | None,
) -> None:
    """A student of the cohort: prework, enrollment and graduate reading, or a special behaviour."""
    sc = pop.sc
    s, e, cid, p_act, p_alum = c.s, c.e, c.cid, c.p_act, c.p_alum
    u = pop.add_user(rng, key)
    campus = cid != PLACEHOLDER_COHORT
    alum = sc.alumni_factor
    pieces: list[Piece] = [
        (s - EARLY_DAYS, s, 0.15, p_act),
        (s, e + 1, 1.0, p_act),
        (e + 1, e + 61, 0.22 * alum, p_alum),
        (e + 61, e + 181, 0.10 * alum, p_alum),
        (e + 181, e + ALUMNI_LIMIT_DAYS + 1, 0.04 * alum, p_alum),
    ]
    if rng.random() < sc.p_late_alumni and cid not in (PLACEHOLDER_COHORT,):
        pieces.append((e + ALUMNI_LIMIT_DAYS + 30, e + 1100, 0.03 * alum, p_alum))
    if alum != 1.0:  # more reading after graduation, the same while enrolled
        rows_u = (
            rows_u
            * pieces_mass(pieces, cal)
            / pieces_mass([(a, b, i / alum if p == p_alum else i, p) for a, b, i, p in pieces], cal)
        )
    if kind == "dup":
        u, pieces = _second_account(rng, pop, cal, c, u, rows_u, pieces, campus)
    elif kind is not None:
        pieces, rows_u = _special(rng, pop, cal, c, u, kind, rows_u, pieces)
    for a, b, r, p in spread(rows_u, pieces, cal):
        # on campus in class and during the first weeks after graduation (career services)
        on_campus = campus and (p == p_act or a == e + 1)
        pop.add_segment(u, cid, a, b, r, p, on_campus, c.track)
    if cid in LATE_ASSIGNED and k in (0, 1):
        pop.null_until[u] = epoch(cal.day0) + (s + 14) * 86400
    if kind is None and cid != PLACEHOLDER_COHORT:
        roster.regular.append((u, cid))
        roster.plan_users.setdefault(cid, []).append(u)  # over-use readers: whole-window students


def _special(
    rng: np.random.Generator,
    pop: Population,
    cal: Calendar,
    c: _Cohort,
    u: int,
    kind: str,
    rows_u: float,
    pieces: list[Piece],
) -> tuple[list[Piece], float]:
    """A drop-out, a trickle, a light reader, a shared account or an early bird: its pieces, rows
    and label."""
    s, e, cid, p_act = c.s, c.e, c.cid, c.p_act
    if kind == "dropout":
        stop = s + int(rng.integers(3, 11))
        pieces = [(s, stop, 1.0, p_act)]
        rows_u = max(rows_u * 0.04, 15.0)
        pop.labels.append(
            make_label("dropout", cal, user=u, cohort=cid, a=s, b=stop, detail="stops early",
                       shape="stops_early")
        )  # fmt: skip
    elif kind == "trickle":  # reads for two or three weeks, then a visit now and then
        stop = s + int(rng.integers(12, 20))
        pieces = [(s, stop, 1.0, p_act), (stop, e + 1, 0.015, p_act)]
        rows_u = rows_u * ((stop - s) / max(e - s, 1) + 0.015)
        pop.labels.append(
            make_label("dropout", cal, user=u, cohort=cid, a=s, b=stop,
                       detail="stops after a few weeks, then a visit now and then",
                       shape="trickle")
        )  # fmt: skip
    elif kind == "low":  # enrolled throughout but reads a small fraction of the cohort
        pieces = pieces[1:2]
        rows_u = rows_u * 0.06
        pop.labels.append(
            make_label("low_usage", cal, user=u, cohort=cid, a=s, b=e + 1,
                       detail="reads about a twentieth of a typical classmate",
                       shape="light_reader")
        )  # fmt: skip
    elif kind == "share":
        pop.roam[u] = pop.new_ips(rng, int(rng.integers(50, 71)))
        pop.roam_p[u] = 0.85
        pop.labels.append(
            make_label("account_sharing", cal, user=u, cohort=cid, a=s, b=e + 1,
                       detail="one account used from dozens of IPs", shape="many_ips")
        )  # fmt: skip
    elif kind == "early":
        pieces.append((s - int(rng.integers(60, 120)), s - 30, 0.5, p_act))
    return pieces, rows_u


def _second_account(
    rng: np.random.Generator,
    pop: Population,
    cal: Calendar,
    c: _Cohort,
    u: int,
    rows_u: float,
    pieces: list[Piece],
    campus: bool,
) -> tuple[int, list[Piece]]:
    """The student opens a second account part way through the term: the first account's segments
    are added here; the twin and the pieces it goes on reading are returned."""
    s, e, cid, p_act = c.s, c.e, c.cid, c.p_act
    split = s + int((e - s) * rng.uniform(0.35, 0.6))
    first = spread(rows_u * 0.45, [(s - EARLY_DAYS, s, 0.15, p_act), (s, split, 1.0, p_act)], cal)
    for a, b, r, p in first:
        pop.add_segment(u, cid, a, b, r, p, campus, c.track)
    twin = pop.add_user(rng, key=float(split), home=list(pop.home[u]))
    pieces = [*pieces[2:5], (split, e + 1, 1.0, p_act)]
    for who, other in ((u, twin), (twin, u)):
        pop.labels.append(
            make_label(
                "duplicate_identity", cal, user=who, cohort=cid,
                a=s if who == u else split, b=split if who == u else e + 1,
                detail=f"same person as user @{other}", shape="second_account",
            )
        )  # fmt: skip
    return twin, pieces


def _no_cohort_users(
    rng: np.random.Generator, scale: float, pop: Population, cal: Calendar
) -> None:
    """Users who never have a cohort (two bursts); all are unknown users."""
    n_noc = sum(scaled(n, scale) for _, _, n, _ in NO_COHORT_BURSTS)
    for start, end, n, profile in NO_COHORT_BURSTS:
        a0, b0 = cal.day(start), cal.day(end) + 1
        for _ in range(scaled(n, scale)):
            length = int(rng.integers(30, 121))
            a = int(rng.integers(a0, max(a0 + 1, b0 - length)))
            u = pop.add_user(rng, key=float(a))
            pop.never_cohort[u] = True
            rows_u = NO_COHORT_ROWS * scale / n_noc * rng.lognormal(0, 0.4)
            pop.add_segment(u, None, a, min(a + length, b0), rows_u, profile, True, -1)


def assign_shared_pool(pop: Population, seed: int, scale: float) -> None:
    """Phone carriers and VPN exits: a few addresses, each shared by a few people (own stream)."""
    sc = pop.sc
    if sc.shared_pool and sc.shared_pool_p > 0:
        pool_rng = np.random.default_rng([seed, 5])
        pool = pop.new_ips(pool_rng, max(3, round(sc.shared_pool * scale)))
        pop.pool = [int(pool_rng.choice(pool)) for _ in pop.keys]


def reassign_homes(pop: Population, cal: Calendar, seed: int) -> None:
    """Record each user's home addresses per period; with `home_reassign_days`, the ISP hands each
    home a new address every few months (own stream)."""
    pop.home_base = [len(h) for h in pop.home]
    if pop.sc.home_reassign_days > 0:
        isp_rng = np.random.default_rng([seed, 7])
        periods = cal.n_days // pop.sc.home_reassign_days + 1
        pop.home = [h + pop.new_ips(isp_rng, len(h) * (periods - 1)) for h in pop.home]
