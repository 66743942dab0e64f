"""Sessions and rows: each period's sessions drawn per activity segment (Poisson on the day-weight mass
of the overlap), placed on days and hours, given an address (campus NAT, home, roaming, shared pool) and
a module, and expanded into rows (session length, gaps between pages, lesson, index and image pages).
Rows are internal columns (path, user and address ids); `writer` turns them into text.

Public API: `Frame`, `build_frame`, `month_rows`, `enrolled_reading`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

import numpy as np
import polars as pl

from analysis.scenarios.calendar import REMOTE_FROM, Calendar, epoch, months
from analysis.scenarios.curriculum import NAV, P_DS, P_IMAGE, P_JAVA, Curriculum
from analysis.scenarios.library import DEMO, Scenario
from analysis.scenarios.population import NON_STUDENT_COHORTS, STAFF_COHORT, Population

MEAN_SESSION = 6.0
GAP_SECONDS = 55.0
CAMPUS_HOURS = (7, 19)  # class hours on campus (students stay for projects)
P_SWITCH = 0.12  # a row leaves the session's module

WEEKDAY_HOURS = np.array(
    [0.3, 0.15, 0.1, 0.08, 0.1, 0.2, 0.6, 1.6, 4.5, 8.0, 7.6, 6.2, 4.2, 5.6, 6.0, 5.4, 4.4, 3.0,
     2.2, 2.5, 2.8, 2.5, 1.6, 0.8]
)  # fmt: skip
WEEKEND_HOURS = np.array(
    [0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 2.5, 3.0, 3.2, 3.0, 3.0, 3.0, 2.8, 2.6, 2.5,
     2.4, 2.6, 2.8, 2.4, 1.6, 0.9]
)  # fmt: skip


@dataclass
class Frame:
    """Arrays shared by a month's generation (internal columns, not yet strings)."""

    seg: dict[str, np.ndarray]
    seg_mass: np.ndarray
    sessions: np.ndarray  # expected sessions per segment over its whole span
    home_off: np.ndarray
    home_n: np.ndarray
    home_flat: np.ndarray
    roam_off: np.ndarray
    roam_n: np.ndarray
    roam_flat: np.ndarray
    roam_p: np.ndarray
    null_until: np.ndarray
    pool: np.ndarray  # per user: shared phone/VPN address or -1
    home_base: np.ndarray | None = None  # per user: home addresses per ISP period (None: home_n)
    sc: Scenario = DEMO


@dataclass
class _Sessions:
    """One period's sessions: segment, day, hour, start second, user and cohort of each."""

    seg: np.ndarray
    day: np.ndarray
    weekend: np.ndarray
    hours: np.ndarray
    start: np.ndarray
    user: np.ndarray
    cohort: np.ndarray

    @property
    def n(self) -> int:
        return len(self.seg)


def _flat(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.array([len(x) for x in lists], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    flat = np.array([i for x in lists for i in x] or [0], dtype=np.int64)
    return off, n, flat


def build_frame(pop: Population, cal: Calendar) -> Frame:
    seg = {k: np.array(v) for k, v in pop.seg.items()}
    mass = np.array([cal.mass(int(a), int(b)) for a, b in zip(seg["a"], seg["b"], strict=True)])
    seg["a"] = np.clip(seg["a"], 0, cal.n_days)
    seg["b"] = np.clip(seg["b"], 0, cal.n_days)
    home = _flat(pop.home)
    roam = _flat(pop.roam)
    return Frame(
        seg=seg,
        seg_mass=mass,
        sessions=seg["rows"] / MEAN_SESSION / seg["lenf"],
        home_off=home[0],
        home_n=home[1],
        home_flat=home[2],
        roam_off=roam[0],
        roam_n=roam[1],
        roam_flat=roam[2],
        roam_p=np.array(pop.roam_p),
        null_until=np.array(pop.null_until, dtype=np.int64),
        pool=np.array(pop.pool, dtype=np.int64),
        home_base=np.array(pop.home_base or [len(h) for h in pop.home], dtype=np.int64),
        sc=pop.sc,
    )


def month_rows(
    rng: np.random.Generator,
    f: Frame,
    cal: Calendar,
    cur: Curriculum,
    da: int,
    db: int,
    cutoff_day: int,
) -> dict[str, np.ndarray]:
    """All sessions starting on days [da, db) expanded into rows (internal columns). The draws come
    in a fixed order from one stream: sessions, addresses, modules, lengths, rows."""
    ses = _sessions(rng, f, cal, da, db)
    ip = _addresses(rng, f, cal, ses)
    cross, profile, s_module = _modules(rng, f, cal, cur, ses, cutoff_day)
    length = _lengths(rng, f, ses)
    return _rows(rng, f, cur, ses, ip, cross, profile, s_module, length)


def _sessions(rng: np.random.Generator, f: Frame, cal: Calendar, da: int, db: int) -> _Sessions:
    """Sessions per segment (Poisson on the day-weight mass of the overlap), on days by inverse CDF
    of the day weights, on hours by the weekday or weekend profile."""
    seg, sc = f.seg, f.sc
    lo, hi = np.maximum(seg["a"], da), np.minimum(seg["b"], db)
    valid = (hi > lo) & (f.seg_mass > 0)
    m_lo = np.where(valid, cal.cum[np.where(valid, lo, 0)], 0.0)
    m_hi = np.where(valid, cal.cum[np.where(valid, hi, 0)], 0.0)
    expected = np.where(valid, f.sessions * (m_hi - m_lo) / np.where(valid, f.seg_mass, 1.0), 0.0)
    counts = rng.poisson(expected)
    s_seg = np.repeat(np.arange(len(counts)), counts)
    n_s = len(s_seg)
    u = m_lo[s_seg] + rng.random(n_s) * (m_hi[s_seg] - m_lo[s_seg])
    day = np.clip(np.searchsorted(cal.cum, u, side="right") - 1, lo[s_seg], hi[s_seg] - 1)
    weekend = cal.weekday[day] >= 5
    hours = np.where(
        weekend,
        np.searchsorted(np.cumsum(WEEKEND_HOURS) / WEEKEND_HOURS.sum(), rng.random(n_s)),
        np.searchsorted(np.cumsum(WEEKDAY_HOURS) / WEEKDAY_HOURS.sum(), rng.random(n_s)),
    )
    hours = np.minimum(hours, 23)
    if sc.staff_night_p > 0:  # staff who review pages in the evening and at night
        night = (seg["cohort"][s_seg] == STAFF_COHORT) & (rng.random(n_s) < sc.staff_night_p)
        hours = np.where(night, rng.choice(np.array([20, 21, 22, 23, 0, 1]), n_s), hours)
    start = epoch(cal.day0) + day * 86400 + hours * 3600 + rng.integers(0, 3600, n_s)
    return _Sessions(
        seg=s_seg,
        day=day,
        weekend=weekend,
        hours=hours,
        start=start,
        user=seg["user"][s_seg],
        cohort=seg["cohort"][s_seg],
    )


def _addresses(rng: np.random.Generator, f: Frame, cal: Calendar, ses: _Sessions) -> np.ndarray:
    """Each session's address: campus NAT in class hours before remote teaching, else home or
    roaming addresses, or a shared phone/VPN address."""
    sc, n_s, user, day, hours = f.sc, ses.n, ses.user, ses.day, ses.hours
    remote_day = cal.day(REMOTE_FROM)
    campus = (
        f.seg["campus"][ses.seg]
        & ~ses.weekend
        & (hours >= CAMPUS_HOURS[0])
        & (hours < CAMPUS_HOURS[1])
        & (day < remote_day)
        & (rng.random(n_s) < sc.p_campus)
    )
    older_nat = np.where(day < cal.day(dt.date(2018, 6, 1)), 0.85, 0.09)
    campus_ip = np.where(rng.random(n_s) < older_nat, 1, 0)
    if len(sc.campus_ips) > 2:  # further NAT addresses (another building) take a share of the main
        campus_ip = np.where(
            (campus_ip == 0) & (rng.random(n_s) < 0.4),
            rng.integers(2, len(sc.campus_ips), n_s),
            campus_ip,
        )
    roam = (rng.random(n_s) < f.roam_p[user]) & (f.roam_n[user] > 0)
    base_n = f.home_n[user] if f.home_base is None else f.home_base[user]
    home_pick = (rng.random(n_s) ** 2 * base_n).astype(np.int64)
    if sc.home_reassign_days > 0:  # this period's block of the user's home addresses
        home_pick = home_pick + (day // sc.home_reassign_days) * base_n
    roam_pick = (rng.random(n_s) * np.maximum(f.roam_n[user], 1)).astype(np.int64)
    ip = np.where(
        campus,
        campus_ip,
        np.where(
            roam,
            f.roam_flat[np.minimum(f.roam_off[user] + roam_pick, len(f.roam_flat) - 1)],
            f.home_flat[f.home_off[user] + home_pick],
        ),
    )
    if sc.shared_pool_p > 0:  # phone carrier or VPN exit shared by a few people
        pooled = ~campus & (f.pool[user] >= 0) & (rng.random(n_s) < sc.shared_pool_p)
        ip = np.where(pooled, f.pool[user], ip)
    return ip


def _modules(
    rng: np.random.Generator,
    f: Frame,
    cal: Calendar,
    cur: Curriculum,
    ses: _Sessions,
    cutoff_day: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each session's reading profile and module: cross-program sessions read the other track's
    modules (less after the cutoff)."""
    sc, n_s, day = f.sc, ses.n, ses.day
    track = f.seg["track"][ses.seg]
    p_cross = np.where(
        day >= cutoff_day,
        np.where(track == 0, sc.p_cross_after, sc.p_cross_after / 2),
        np.where(
            (track == 0) & (day >= cal.day(sc.ds_online)),
            sc.p_cross_before,
            np.where(track == 1, sc.p_cross_ds, 0.0),
        ),
    )
    cross = (track >= 0) & (rng.random(n_s) < p_cross)
    profile = np.where(cross, np.where(track == 0, P_DS, P_JAVA), f.seg["profile"][ses.seg])
    n_mod = len(cur.modules)
    s_module = (
        np.searchsorted(cur.profiles, profile + rng.random(n_s), side="right") - profile * n_mod
    )
    s_module = np.clip(s_module, 0, n_mod - 1)
    return cross, profile, s_module


def _lengths(rng: np.random.Generator, f: Frame, ses: _Sessions) -> np.ndarray:
    """Pages per session: geometric by default, a heavier (lognormal) or lighter tail by scenario."""
    sc, n_s = f.sc, ses.n
    if sc.session_sigma is None:
        length = rng.geometric(1.0 / MEAN_SESSION, n_s)
    elif sc.session_sigma > 0:  # heavier tail than geometric, same mean
        mu = np.log(MEAN_SESSION) - sc.session_sigma**2 / 2
        length = np.maximum(1, np.round(rng.lognormal(mu, sc.session_sigma, n_s))).astype(np.int64)
    else:  # lighter tail
        length = 1 + rng.poisson(MEAN_SESSION - 1, n_s)
    if sc.staff_session_factor != 1.0:
        length = np.ceil(length * f.seg["lenf"][ses.seg]).astype(np.int64)
    return cast(np.ndarray, length)


def _rows(
    rng: np.random.Generator,
    f: Frame,
    cur: Curriculum,
    ses: _Sessions,
    ip: np.ndarray,
    cross: np.ndarray,
    profile: np.ndarray,
    s_module: np.ndarray,
    length: np.ndarray,
) -> dict[str, np.ndarray]:
    """Sessions expanded into rows: times (exponential gaps), module (a row may switch), and the page:
    navigation, image, the module's index page or a lesson in the spelling of its day."""
    n_s, n_mod = ses.n, len(cur.modules)
    r_s = np.repeat(np.arange(n_s), length)
    n_r = len(r_s)
    gaps = rng.exponential(GAP_SECONDS, n_r) + 2.0
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    gaps[first] = 0.0
    csum = np.cumsum(gaps)
    offsets = csum - csum[first][np.repeat(np.arange(n_s), length)]
    ts = ses.start[r_s] + offsets.astype(np.int64)
    r_profile = profile[r_s]
    switch = rng.random(n_r) < P_SWITCH
    redraw = (
        np.searchsorted(cur.profiles, r_profile + rng.random(n_r), side="right") - r_profile * n_mod
    )
    module = np.where(switch, np.clip(redraw, 0, n_mod - 1), s_module[r_s])
    r_day = ses.day[r_s]
    renamed = r_day >= cur.rename_day[module]
    l_idx = np.searchsorted(cur.lesson_cdf, module + rng.random(n_r), side="right")
    l_idx = np.minimum(l_idx, len(cur.lesson_old) - 1)
    lesson = np.where(renamed, cur.lesson_new[l_idx], cur.lesson_old[l_idx])
    bare = np.where(renamed, cur.bare_new[module], cur.bare_old[module])
    image = cur.image_ids[module, rng.integers(0, 3, n_r)]
    nav_p = np.array([p for _, p in NAV])
    cuts = np.cumsum(np.concatenate([nav_p, [P_IMAGE]]))
    kind = np.searchsorted(cuts, rng.random(n_r), side="right")
    is_bare = (kind > len(NAV)) & (rng.random(n_r) < cur.bare_p[module])
    kind = np.where(is_bare, len(NAV) + 1, np.where(kind > len(NAV), len(NAV) + 2, kind))
    pid = np.where(
        kind < len(NAV),
        np.minimum(kind, len(NAV) - 1),
        np.where(kind == len(NAV), image, np.where(kind == len(NAV) + 1, bare, lesson)),
    )
    r_ip = ip[r_s]
    if f.sc.campus_alternate:  # a load-balanced NAT pool: a campus request leaves by either address
        r_ip = np.where(r_ip < 2, rng.integers(0, 2, n_r), r_ip)
    return {
        "ts": ts.astype(np.int64),
        "pid": pid.astype(np.int64),
        "uidx": ses.user[r_s].astype(np.int64),
        "cohort": ses.cohort[r_s].astype(np.int64),
        "ipid": r_ip.astype(np.int64),
        "cross": cross[r_s],
        "lesson": kind > len(NAV) + 1,
    }


def enrolled_reading(
    seed: int,
    pop: Population,
    frame: Frame,
    cal: Calendar,
    cur: Curriculum,
    cohorts: pl.DataFrame,
    cutoff_day: int,
) -> tuple[dict[tuple[int, int], int], dict[int, int], dict[int, int]]:
    """A dry run of the generation (the same random streams, nothing written): per cohort, views of
    the planned over-use lessons and readers while enrolled (rows carrying the cohort id between its
    start and end dates), and each cohort's program."""
    pids = sorted({pid for plan in pop.overuse for pid in plan["pids"]})
    size = int(cast(int, cohorts["id"].max())) + 1
    first = np.full(size, 1 << 30, dtype=np.int64)
    last = np.full(size, -1, dtype=np.int64)
    program_of = {}
    for row in cohorts.iter_rows(named=True):
        if row["name"] not in NON_STUDENT_COHORTS:
            first[row["id"]], last[row["id"]] = cal.day(row["start_date"]), cal.day(row["end_date"])
        program_of[row["id"]] = row["program_id"]
    base = epoch(cal.day0)
    parts = [
        month_rows(np.random.default_rng([seed, 1, m]), frame, cal, cur, da, db, cutoff_day)
        for m, (da, db) in enumerate(months(cal))
    ]
    parts += pop.injected
    ts = np.concatenate([p["ts"] for p in parts])
    pid = np.concatenate([p["pid"] for p in parts])
    uidx = np.concatenate([p["uidx"] for p in parts])
    cohort = np.concatenate([p["cohort"] for p in parts])
    known = (cohort >= 0) & (cohort < size)
    c = np.where(known, cohort, 0)
    day = (ts - base) // 86400
    enrolled = known & (day >= first[c]) & (day <= last[c]) & (ts >= frame.null_until[uidx])
    pairs = np.unique(c[enrolled] * (1 << 32) + uidx[enrolled])
    students = dict(zip(*np.unique(pairs >> 32, return_counts=True), strict=True))
    views: dict[tuple[int, int], int] = {}
    for p_id in pids:
        hit = enrolled & (pid == p_id)
        for k, n in zip(*np.unique(c[hit], return_counts=True), strict=True):
            views[int(k), p_id] = int(n)
    return views, {int(k): int(n) for k, n in students.items()}, program_of
