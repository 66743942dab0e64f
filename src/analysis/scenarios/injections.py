"""Irregularities injected into a scenario, each in a named shape, with its ground-truth label: the
demo's own events (`inject_demo_events`), every other scenario's (`inject_events`, one injector per
kind and shape in `INJECTORS`), and the cohort over-use sized on the base log (`add_overuse`).

Written from what the behaviour is (a crawler fetching a page every half minute for hours, a study
group on one cafe network for a week ...), not from the detectors: no threshold of the analysis is
read here. Each function adds rows to `pop.injected` and one label to `pop.labels` (day indices are
relative to the log's first day; `@N` in a detail is replaced by user N's id when labels are written).

Shapes by kind:
- scraping: `burst` (150-300 pages about a second apart at night, a student account, a new address),
  `slow_crawler` (a page every 20-40 s at its own steady pace, +-15 %, for hours, sweeping the
  curriculum in order, an account with no cohort, one data-centre address).
- probe: `sweep` (dozens of attack paths within minutes from one address), `slow` (a few attack paths a
  day for weeks from a student account on one outside address, between ordinary pages).
  `jitter_crawler` (a drawn pace of 8-90 s, each gap +-50 %, random page order, for hours),
  `around_clock` (a search-engine crawler: a page every 10-20 minutes day and night for 3-5 days).
- probe (more): `scattered` (30-45 addresses asking once or twice each over ten days: routine
  scanning, one label), `two_days` (one address, an attack path every 30-90 minutes for two days).
- heavy_day: `day` (a working day of reading at human pace), `evening` (a cramming evening),
  `light_cram` (a cramming evening by the lightest of a dozen readers).
- account_sharing (more): `two_cities` (a second person on their own address reads within a quarter
  of an hour of the owner, on most working days for five to eight weeks).
- account_sharing: `two_people` (a second person on other networks reads the same account for a few
  weeks, at the same times as its owner); `many_ips` is made in the population (population.py).
- shared_ip: `study_group` (8-15 students on one outside address in the evenings of one week),
  `hotspot` (8-15 students of several cohorts on one outside address by day for one week).
- stale_account: `daily` (an alumnus of years ago reading nearly every weekday for months),
  `weekly` (long sessions two or three times a week for most of a year).
- unknown_user: `ghost_id` (an account in no cohort reading day and night for a week from hosting
  addresses), `bad_cohort_id` (rows carrying a cohort id the cohorts table does not hold).
- cohort_overuse: `spread` (a cohort reads one lesson 3.2-4x as often per student as the other
  cohorts of its program while enrolled, all term), `concentrated` (the same excess within three
  weeks, by most of the cohort). The factor is measured on the base log before the rows are added
  (`add_overuse`), so the label states the realized one.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import numpy as np

from analysis.scenarios.calendar import Calendar, epoch
from analysis.scenarios.curriculum import DS_MODULES, WEB_MODULES, Curriculum, normalise_lesson
from analysis.scenarios.population import (
    NON_STUDENT_COHORTS,
    SPECIAL_SHAPES,
    Population,
    Roster,
    injected_rows,
    make_label,
    scaled,
)

PROBE_PATHS = (
    "wp-login.php", "wp-admin/", "wp-admin/setup-config.php", "wp-content/plugins/", "xmlrpc.php",
    ".env", "api/.env", "app/.env", ".git/config", ".git/HEAD", "../../etc/passwd",
    "../../../../etc/passwd", "phpmyadmin/", "phpmyadmin/index.php", "admin.php", "cgi-bin/test.cgi",
    "cgi-bin/luci", "<script>alert(1)</script>", "config.php.bak", "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "server-status", "actuator/env", "solr/admin/info/system", ".aws/credentials",
)  # fmt: skip
HOSTING_OCTETS = (45, 185, 193, 194, 195)  # addresses of data centres, not homes

FRONT_END_COHORT = 10  # one user, one day, 5 rows (a test program)
HANDLED_IN_POPULATION = set(SPECIAL_SHAPES)  # made with the student (population.py)


class _Ctx:
    """What the injectors share: the population, calendar, curriculum and the students to pick."""

    def __init__(
        self,
        rng: np.random.Generator,
        pop: Population,
        cal: Calendar,
        cur: Curriculum,
        roster: Roster,
    ) -> None:
        info, regular = roster.info, roster.regular
        self.rng, self.pop, self.cal, self.cur, self.info = rng, pop, cal, cur, info
        self.base = epoch(cal.day0)
        self.plan_users = roster.plan_users
        # students whose whole term lies well inside the log
        self.students = [
            (u, cid)
            for u, cid in regular
            if max(cal.day(info[cid]["start_date"]), 0) + 45
            < min(cal.day(info[cid]["end_date"]), cal.n_days - 2)
        ]
        self.used: set[int] = set()
        self.cohort_of = {u: cid for u, cid in regular}

    def term(self, cid: int) -> tuple[int, int]:
        s = self.cal.day(self.info[cid]["start_date"])
        e = self.cal.day(self.info[cid]["end_date"])
        return max(s, 0), min(e, self.cal.n_days - 2)

    def student(self) -> tuple[int, int]:
        """A student not used by another injection (then any)."""
        order = self.rng.permutation(len(self.students))
        for i in order:
            u, cid = self.students[int(i)]
            if u not in self.used:
                self.used.add(u)
                return u, cid
        return self.students[int(order[0])]

    def weekday_in(self, lo: int, hi: int) -> int:
        day = int(self.rng.integers(lo, max(lo + 1, hi)))
        while self.cal.weekday[day] >= 5 and day > 0:
            day -= 1
        return day

    def ip(self, first_octets: tuple[int, ...] | None = None) -> int:
        if first_octets is None:
            return self.pop.new_ips(self.rng, 1)[0]
        value = (int(self.rng.choice(first_octets)) << 24) | int(self.rng.integers(1 << 8, 1 << 24))
        self.pop.ips.append(value)
        return len(self.pop.ips) - 1

    def own_lessons(self, cid: int | None, n: int) -> np.ndarray:
        """n lesson path ids from a few modules of the cohort's own program (web dev if none)."""
        ds = cid is not None and self.info[cid]["program_id"] == 3
        own = [j for j, m in enumerate(self.cur.modules) if (m in DS_MODULES) == ds]
        j = self.rng.choice(self.rng.choice(own, 3, replace=False), n)
        idx = np.searchsorted(self.cur.lesson_cdf, j + self.rng.random(n), side="right")
        return self.cur.lesson_old[np.minimum(idx, len(self.cur.lesson_old) - 1)]

    def daily_rows(self, u: int) -> float:
        """The student's expected views on a working day while enrolled."""
        seg = self.pop.seg
        best = 0.0
        for k, user in enumerate(seg["user"]):
            if user == u and seg["cohort"][k] >= 0:
                mass = self.cal.mass(seg["a"][k], seg["b"][k])
                if mass > 0:
                    best = max(best, seg["rows"][k] / mass)
        return best

    def sessions(self, days: np.ndarray, hours: tuple[int, int], mean_len: float) -> np.ndarray:
        """Timestamps of one human session per entry of `days` (pages ~55 s apart)."""
        rng = self.rng
        start = self.base + days * 86400 + rng.integers(hours[0] * 3600, hours[1] * 3600, len(days))
        length = rng.geometric(1.0 / mean_len, len(days))
        first = np.repeat(start, length)
        gaps = rng.exponential(55.0, int(length.sum())) + 3.0
        ends = np.cumsum(length)
        csum = np.cumsum(gaps)
        offset = csum - np.repeat(csum[ends - length], length)
        return (first + offset).astype(np.int64)

    def add(self, ts, pids, user, cohort, ip) -> None:
        self.pop.injected.append(injected_rows(np.asarray(ts), np.asarray(pids), user, cohort, ip))

    def label(self, kind: str, shape: str, **kw: Any) -> None:
        self.pop.labels.append(make_label(kind, self.cal, shape=shape, **kw))


def _crawl_order(c: _Ctx, day: int) -> np.ndarray:
    """Every core lesson in curriculum order, in the spelling current on `day`."""
    cur = c.cur
    old = np.array(cur.all_lessons)
    pos = np.searchsorted(cur.lesson_old, old)
    module = np.ceil(cur.lesson_cdf[pos]).astype(np.int64) - 1
    return np.where(day >= cur.rename_day[module], cur.lesson_new[pos], old)


def scraping_burst(c: _Ctx) -> None:
    u, cid = c.student()
    s, e = c.term(cid)
    day = c.weekday_in(s + 20, e)
    n = int(c.rng.integers(150, 301))
    start = c.base + day * 86400 + int(c.rng.integers(3600, 4 * 3600))
    ts = start + np.cumsum(c.rng.uniform(0.6, 1.6, n)).astype(np.int64)
    order = _crawl_order(c, day)
    first = int(c.rng.integers(0, len(order)))
    ip = c.ip()
    c.add(ts, order[(first + np.arange(n)) % len(order)], u, cid, ip)
    c.label("scraping", "burst", user=u, cohort=cid, ip=ip, ts=(int(ts[0]), int(ts[-1])),
            detail=f"{n} pages in {int(ts[-1] - ts[0])} s")  # fmt: skip


def scraping_slow_crawler(c: _Ctx) -> None:
    day = int(c.rng.integers(60, c.cal.n_days - 60))
    u = c.pop.add_user(c.rng, key=float(day))
    ip = c.ip(HOSTING_OCTETS)
    order = _crawl_order(c, day)
    hours = float(c.rng.uniform(3.0, 7.0))
    period = float(c.rng.uniform(20.0, 40.0))  # its own pace, kept within a few seconds
    gaps = period * c.rng.uniform(0.85, 1.15, int(hours * 3600 / period))
    start = c.base + day * 86400 + int(c.rng.integers(0, 20 * 3600))
    ts = start + np.cumsum(gaps).astype(np.int64)
    c.add(ts, order[np.arange(len(ts)) % len(order)], u, None, ip)
    c.label("scraping", "slow_crawler", user=u, ip=ip, ts=(int(ts[0]), int(ts[-1])),
            detail=f"{len(ts)} pages {gaps.mean():.0f} s apart over {hours:.1f} hours, in order")  # fmt: skip


def scraping_jitter_crawler(c: _Ctx) -> None:
    """A crawler at its own drawn pace (8-90 s), each gap jittered by +-50 %, in random page order."""
    day = int(c.rng.integers(60, c.cal.n_days - 60))
    u = c.pop.add_user(c.rng, key=float(day) + 0.25)
    ip = c.ip(HOSTING_OCTETS)
    order = _crawl_order(c, day)
    period = float(c.rng.uniform(8.0, 90.0))
    hours = max(float(c.rng.uniform(2.5, 6.0)), 170 * period / 3600)  # at least ~170 pages
    gaps = period * c.rng.uniform(0.5, 1.5, max(int(hours * 3600 / period), 2))
    start = c.base + day * 86400 + int(c.rng.integers(0, 18 * 3600))
    ts = start + np.cumsum(gaps).astype(np.int64)
    c.add(ts, order[c.rng.integers(0, len(order), len(ts))], u, None, ip)
    c.label("scraping", "jitter_crawler", user=u, ip=ip, ts=(int(ts[0]), int(ts[-1])),
            detail=f"{len(ts)} pages about {period:.0f} s apart (+-50 %) over {hours:.1f} hours, "
            "random order")  # fmt: skip


def scraping_around_clock(c: _Ctx) -> None:
    """A search-engine crawler: a page every 10-20 minutes, day and night, for three to five days."""
    day = int(c.rng.integers(60, c.cal.n_days - 60))
    u = c.pop.add_user(c.rng, key=float(day) + 0.5)
    ip = c.ip(HOSTING_OCTETS)
    order = _crawl_order(c, day)
    days = int(c.rng.integers(3, 6))
    gaps = c.rng.uniform(600.0, 1200.0, int(days * 86400 / 900))
    start = c.base + day * 86400 + int(c.rng.integers(0, 86400))
    ts = start + np.cumsum(gaps).astype(np.int64)
    c.add(ts, order[c.rng.integers(0, len(order), len(ts))], u, None, ip)
    c.label("scraping", "around_clock", user=u, ip=ip, ts=(int(ts[0]), int(ts[-1])),
            detail=f"{len(ts)} pages over {days} days and nights, one every 10-20 minutes")  # fmt: skip


def probe_scattered(c: _Ctx) -> None:
    """Routine internet scanning: 30-45 addresses (one account each) ask once or twice for an
    attack path, scattered over ten days."""
    day = int(c.rng.integers(30, c.cal.n_days - 30))
    n = int(c.rng.integers(30, 46))
    first, last = None, None
    for k in range(n):
        u = c.pop.add_user(c.rng, key=float(day) + 0.01 * (k + 1))
        ip = c.ip(HOSTING_OCTETS)
        m = int(c.rng.integers(1, 3))
        paths = c.rng.choice(np.array([0, 4, 5, 8]), m)  # wp-login, xmlrpc, .env, .git/config
        at = c.base + int(c.rng.integers(day * 86400, (day + 10) * 86400))
        ts = at + np.arange(m, dtype=np.int64) * int(c.rng.integers(1, 5))
        c.add(ts, np.array([_path_id(c, PROBE_PATHS[int(i)]) for i in paths]), u, None, ip)
        first = int(ts[0]) if first is None else min(first, int(ts[0]))
        last = int(ts[-1]) if last is None else max(last, int(ts[-1]))
    c.label("probe", "scattered", ts=(int(first or 0), int(last or 0)),
            detail=f"{n} addresses asked for an attack path once or twice each")  # fmt: skip


def probe_two_days(c: _Ctx) -> None:
    """Probes low and slow: one address asks for an attack path every 30-90 minutes for two days."""
    day = int(c.rng.integers(30, c.cal.n_days - 30))
    u = c.pop.add_user(c.rng, key=float(day) + 0.75)
    ip = c.ip(HOSTING_OCTETS)
    gaps = c.rng.uniform(1800.0, 5400.0, 48)
    ts = c.base + day * 86400 + int(c.rng.integers(0, 86400)) + np.cumsum(gaps).astype(np.int64)
    ts = ts[ts < ts[0] + 2 * 86400]
    pids = np.array(
        [_path_id(c, PROBE_PATHS[int(i)]) for i in c.rng.choice(len(PROBE_PATHS), len(ts))]
    )
    c.add(ts, pids, u, None, ip)
    c.label("probe", "two_days", user=u, ip=ip, ts=(int(ts[0]), int(ts[-1])),
            detail=f"{len(ts)} attack paths over two days, one every 30-90 minutes")  # fmt: skip


def probe_sweep(c: _Ctx) -> None:
    day = int(c.rng.integers(30, c.cal.n_days - 30))
    u = c.pop.add_user(c.rng, key=float(day))
    ip = c.ip(HOSTING_OCTETS)
    n = int(c.rng.integers(25, 61))
    paths = c.rng.choice(len(PROBE_PATHS), n)
    pids = np.array([_path_id(c, PROBE_PATHS[int(k)]) for k in paths])
    start = c.base + day * 86400 + int(c.rng.integers(0, 86400 - 3600))
    ts = start + np.cumsum(c.rng.uniform(0.5, 4.0, n)).astype(np.int64)
    c.add(ts, pids, u, None, ip)
    c.label("probe", "sweep", user=u, ip=ip, ts=(int(ts[0]), int(ts[-1])),
            detail=f"{n} attack paths in {int(ts[-1] - ts[0])} s")  # fmt: skip


def probe_slow(c: _Ctx) -> None:
    u, cid = c.student()
    s, e = c.term(cid)
    first = int(c.rng.integers(s, max(s + 1, e - 25)))
    ip = c.ip()
    days = first + np.sort(c.rng.choice(21, int(c.rng.integers(10, 16)), replace=False))
    ts_all, pids_all = [], []
    for day in days.tolist():
        k = int(c.rng.integers(2, 6))
        ts = (
            c.base
            + day * 86400
            + int(c.rng.integers(0, 86000))
            + np.cumsum(c.rng.integers(5, 90, k + 3))
        )
        attack = [_path_id(c, PROBE_PATHS[int(i)]) for i in c.rng.choice(len(PROBE_PATHS), k)]
        ts_all.append(ts)
        pids_all.append(np.concatenate([attack, c.own_lessons(cid, 3)]))
    ts = np.concatenate(ts_all)
    c.add(ts, np.concatenate(pids_all), u, cid, ip)
    c.label("probe", "slow", user=u, cohort=cid, ip=ip, ts=(int(ts.min()), int(ts.max())),
            detail=f"attack paths on {len(days)} days between ordinary pages")  # fmt: skip


def _path_id(c: _Ctx, path: str) -> int:
    """The id of a path outside the curriculum (added to the path table once)."""
    if path not in c.cur.extra_ids:
        c.cur.extra_ids[path] = len(c.cur.paths)
        c.cur.paths.append(path)
    return c.cur.extra_ids[path]


def _light_student(c: _Ctx) -> tuple[int, int]:
    """The lightest reader of a dozen unused students (by their expected working-day views)."""
    picks = [c.student() for _ in range(12)]
    return min(picks, key=lambda pick: c.daily_rows(pick[0]))


def heavy_day(c: _Ctx, shape: str) -> None:
    u, cid = _light_student(c) if shape == "light_cram" else c.student()
    s, e = c.term(cid)
    day = c.weekday_in(s + 30, e)
    usual = c.daily_rows(u)
    if shape in ("evening", "light_cram"):  # cramming from late afternoon to late evening
        n = int(max(int(c.rng.integers(150, 261)), 10 * usual))
        start = c.base + day * 86400 + 17 * 3600 + int(c.rng.integers(0, 5400))
        gaps = c.rng.exponential(max(20.0, 5.5 * 3600 / n), n) + 4
    else:  # a working day of reading
        n = int(max(int(c.rng.integers(200, 321)), 10 * usual))
        start = c.base + day * 86400 + 8 * 3600 + int(c.rng.integers(0, 3600))
        gaps = c.rng.exponential(max(20.0, 11 * 3600 / n), n) + 4
    ts = np.minimum(start + np.cumsum(gaps).astype(np.int64), c.base + day * 86400 + 86399)
    c.add(ts, c.own_lessons(cid, n), u, cid, c.pop.home[u][0])
    c.label("heavy_day", shape, user=u, cohort=cid, a=day, b=day + 1,
            detail=f"{n} pages (usually about {usual:.0f} a working day)")  # fmt: skip


def account_two_people(c: _Ctx) -> None:
    u, cid = c.student()
    s, e = c.term(cid)
    length = int(c.rng.integers(18, 29))
    a = int(c.rng.integers(s + 10, max(s + 11, e - length)))
    other = [c.ip(), c.ip()]
    days = np.arange(a, a + length)
    days = days[(c.cal.weekday[days] < 5) | (c.rng.random(len(days)) < 0.4)]
    days = days[c.rng.random(len(days)) < 0.85]
    per_day = max(1, round(c.daily_rows(u) / 8))
    days = np.repeat(days, c.rng.integers(1, per_day + 2, len(days)))
    ts = c.sessions(days, (8, 23), 8.0)
    ip = np.where(c.rng.random(len(ts)) < 0.7, other[0], other[1])
    for which in (0, 1):
        mask = ip == other[which]
        c.add(ts[mask], c.own_lessons(cid, int(mask.sum())), u, cid, other[which])
    c.label("account_sharing", "two_people", user=u, cohort=cid, a=a, b=a + length,
            detail=f"a second person on two other networks for {length} days")  # fmt: skip


def account_two_cities(c: _Ctx) -> None:
    """Two people in two cities read one account at the same hours for five to eight weeks: on most
    working days the owner reads from home while the other reads from their own address within a
    quarter of an hour of them."""
    u, cid = c.student()
    s, e = c.term(cid)
    length = int(c.rng.integers(35, 57))
    a = int(c.rng.integers(s, max(s + 1, e - length)))
    other = c.ip()
    days = np.arange(a, a + length)
    days = days[(c.cal.weekday[days] < 5) & (c.rng.random(len(days)) < 0.7)]
    theirs = c.sessions(days, (9, 21), 8.0)
    firsts = np.unique(theirs // 86400, return_index=True)[1]
    owner = theirs[firsts] + c.rng.integers(-900, 900, len(firsts))
    owner = np.sort(owner[:, None] + np.arange(5)[None, :] * 60).ravel()
    c.add(theirs, c.own_lessons(cid, len(theirs)), u, cid, other)
    c.add(owner, c.own_lessons(cid, len(owner)), u, cid, c.pop.home[u][0])
    c.label("account_sharing", "two_cities", user=u, cohort=cid, a=a, b=a + length,
            detail=f"a second person in another city at the same hours for {length} days")  # fmt: skip


def shared_ip(c: _Ctx, shape: str) -> None:
    rng = c.rng
    terms = np.array([c.term(cid) for _, cid in c.students])
    mondays = np.flatnonzero(c.cal.weekday[: c.cal.n_days - 14] == 0)
    mondays = mondays[mondays >= 60]
    # students enrolled for the whole week, per Monday
    active_n = (
        (terms[None, :, 0] + 7 <= mondays[:, None]) & (mondays[:, None] + 7 <= terms[None, :, 1])
    ).sum(1)
    good = mondays[active_n >= 10]
    day = int(rng.choice(good)) if len(good) else int(mondays[int(np.argmax(active_n))])
    active = [
        (u, cid) for u, cid in c.students if c.term(cid)[0] + 7 <= day and day + 7 <= c.term(cid)[1]
    ]
    k = min(len(active), int(rng.integers(9, 16)))
    chosen = [active[int(i)] for i in rng.choice(len(active), k, replace=False)]
    ip = c.ip()
    for u, cid in chosen:
        n = int(rng.integers(2, 6))
        if shape == "study_group":  # evenings and the weekend
            days = day + rng.choice([0, 1, 2, 3, 4, 5, 6], n)
            ts = c.sessions(days, (18, 22), 7.0)
        else:  # hotspot by day
            days = day + rng.choice([0, 1, 2, 3, 4], n)
            ts = c.sessions(days, (9, 17), 5.0)
        c.add(ts, c.own_lessons(cid, len(ts)), u, cid, ip)
    c.label("shared_ip", shape, ip=ip, a=day, b=day + 7,
            detail=f"{k} students on one outside address for a week: "
            + " ".join(f"@{u}" for u, _ in chosen))  # fmt: skip


def stale_account(c: _Ctx, shape: str) -> None:
    rng = c.rng
    day0 = c.cal.day0
    students = [  # real classes of the three programs (not Staff, placeholders or the stub program)
        cid
        for cid, row in c.info.items()
        if row["program_id"] in (1, 2, 3) and row["name"] not in NON_STUDENT_COHORTS
    ]
    by_end = sorted(students, key=lambda cid: c.info[cid]["end_date"])
    gap = {cid: (day0 - c.info[cid]["end_date"]).days for cid in by_end}
    # ended at least two years before the log begins (a year and a half when the log starts early)
    old = [cid for cid in by_end if gap[cid] > 730] or [cid for cid in by_end if gap[cid] > 548]
    old = old or by_end[:1]
    cid = int(old[int(rng.integers(0, min(3, len(old))))])
    if shape == "daily":
        length = int(rng.integers(60, 121))
        a = int(rng.integers(30, c.cal.n_days - length - 30))
        days = np.arange(a, a + length)
        days = days[(c.cal.weekday[days] < 5) & (rng.random(len(days)) < 0.85)]
        days = np.repeat(days, rng.integers(1, 3, len(days)))
        ts = c.sessions(days, (7, 22), 7.0)
    else:
        length = int(rng.integers(180, 301))
        a = int(rng.integers(30, c.cal.n_days - length - 30))
        days = np.sort(rng.choice(np.arange(a, a + length), int(length / 7 * 2.5), replace=False))
        ts = c.sessions(days, (18, 23), 20.0)
    u = c.pop.add_user(rng, key=float(-3000 + cid))
    web = c.info[cid]["program_id"] != 3
    c.add(ts, c.own_lessons(None if web else cid, len(ts)), u, cid, c.pop.home[u][0])
    ended = c.info[cid]["end_date"]
    c.label("stale_account", shape, user=u, cohort=cid, ts=(int(ts.min()), int(ts.max())),
            detail=f"cohort ended {ended}, {len(ts)} pages over {length} days")  # fmt: skip


def unknown_user(c: _Ctx, shape: str) -> None:
    rng = c.rng
    if shape == "ghost_id":  # day and night for a week from hosting addresses
        a = int(rng.integers(30, c.cal.n_days - 30))
        u = c.pop.add_user(rng, key=float(c.cal.n_days + 10_000))
        ips = [c.ip(HOSTING_OCTETS), c.ip(HOSTING_OCTETS)]
        days = np.repeat(np.arange(a, a + 7), rng.integers(6, 12, 7))
        ts = c.sessions(days, (0, 24), 8.0)
        ip = np.where(rng.random(len(ts)) < 0.6, ips[0], ips[1])
        for which in ips:
            mask = ip == which
            c.add(ts[mask], c.own_lessons(None, int(mask.sum())), u, None, which)
        cohort, detail = None, f"no cohort, {len(ts)} pages in a week at all hours"
    else:  # a cohort id the cohorts table does not hold
        cohort = max(c.info) + int(rng.integers(1, 40))
        a = int(rng.integers(30, c.cal.n_days - 60))
        u = c.pop.add_user(rng, key=float(a))
        days = np.arange(a, a + 35)
        days = days[(c.cal.weekday[days] < 5) & (rng.random(35) < 0.8)]
        days = np.repeat(days, rng.integers(1, 4, len(days)))
        ts = c.sessions(days, (8, 22), 8.0)
        c.add(ts, c.own_lessons(None, len(ts)), u, cohort, c.pop.home[u][0])
        detail = f"rows carry cohort id {cohort}, which the cohorts table does not hold"
    c.label("unknown_user", shape, user=u, cohort=cohort, ts=(int(ts.min()), int(ts.max())),
            detail=detail)  # fmt: skip


def cohort_overuse(c: _Ctx, shape: str) -> None:
    """Choose the cohort, the lesson, the factor and the readers; the rows are added by
    `add_overuse` once the base reading is known, so the realized factor is the intended one."""
    rng, info, cal = c.rng, c.info, c.cal
    inside = [
        cid
        for cid in c.plan_users
        if cal.day(info[cid]["start_date"]) >= 0
        and cal.day(info[cid]["end_date"]) < cal.n_days - 1
        and info[cid]["program_id"] in (2, 3)
    ]
    # a cohort with enough students that its excess is a cohort's, not one reader's
    candidates = [cid for cid in inside if len(c.plan_users[cid]) >= 4] or sorted(
        inside, key=lambda cid: -len(c.plan_users[cid])
    )[:5]
    cid = int(rng.choice(candidates))
    ds = info[cid]["program_id"] == 3
    web = ("javascript-ii", "jquery", "mysql", "java-ii", "java-iii")
    module = str(rng.choice(list(DS_MODULES) if ds else web))
    j = c.cur.modules.index(module)
    entry = int(np.searchsorted(c.cur.lesson_cdf, j, side="right")) + int(rng.integers(2, 6))
    pids = {int(c.cur.lesson_old[entry]), int(c.cur.lesson_new[entry])}
    s, e = c.term(cid)
    readers = list(c.plan_users[cid])
    if shape == "concentrated":  # within three weeks, by most of the cohort
        lo = int(rng.integers(s + 14, max(s + 15, e - 35)))
        hi = lo + 21
        keep = rng.choice(len(readers), max(3, int(0.7 * len(readers))), replace=False)
        readers = [readers[int(i)] for i in sorted(keep)]
    else:
        lo, hi = s, e + 1
    c.pop.overuse.append(
        {"cohort": cid, "program": info[cid]["program_id"], "pids": sorted(pids),
         "lesson": normalise_lesson(c.cur.paths[int(c.cur.lesson_old[entry])]),
         "factor": float(rng.uniform(3.2, 4.0)), "shape": shape, "readers": readers,
         "lo": lo, "hi": hi, "term": (s, e), "name": info[cid]["name"]}
    )  # fmt: skip


def add_overuse(rng, pop, cal, enrolled_views, students, program_of) -> None:
    """Rows and labels of the planned over-use cases. `enrolled_views[cohort, pid]` and
    `students[cohort]` are the base log's lesson views and readers of each cohort while enrolled."""
    base = epoch(cal.day0)
    for plan in pop.overuse:
        cid = plan["cohort"]
        own = sum(enrolled_views.get((cid, pid), 0) for pid in plan["pids"])
        peers = [
            k
            for k, n in students.items()
            if k != cid and n and program_of.get(k) == plan["program"]
        ]
        peer_views = sum(enrolled_views.get((k, pid), 0) for k in peers for pid in plan["pids"])
        peer_rate = peer_views / max(sum(students[k] for k in peers), 1)
        n_own = max(students.get(cid, 0), 1)
        extra = max(round(plan["factor"] * peer_rate * n_own - own), 0)
        per_reader = rng.multinomial(extra, np.full(len(plan["readers"]), 1 / len(plan["readers"])))
        for u, n in zip(plan["readers"], per_reader.tolist(), strict=True):
            if n:
                days = rng.integers(plan["lo"], plan["hi"], n)
                ts = np.sort(base + days * 86400 + rng.integers(9 * 3600, 21 * 3600, n))
                pid = np.full(n, plan["pids"][0])
                pop.injected.append(injected_rows(ts, pid, u, cid, pop.home[u][0]))
        ratio = (own + extra) / n_own / peer_rate if peer_rate else float("inf")
        s, e = plan["term"]
        pop.labels.append(
            make_label(
                "cohort_overuse", cal, cohort=cid, lesson=plan["lesson"], a=s, b=e + 1,
                shape=plan["shape"],
                detail=f"cohort {plan['name']} reads {plan['lesson']} {ratio:.1f}x as often as the "
                f"other cohorts of its program while enrolled ({(own + extra) / n_own:.1f} views "
                f"per student, others {peer_rate:.1f})",
            )
        )  # fmt: skip


INJECTORS = {
    ("scraping", "burst"): scraping_burst,
    ("scraping", "slow_crawler"): scraping_slow_crawler,
    ("scraping", "jitter_crawler"): scraping_jitter_crawler,
    ("scraping", "around_clock"): scraping_around_clock,
    ("probe", "scattered"): probe_scattered,
    ("probe", "two_days"): probe_two_days,
    ("heavy_day", "light_cram"): lambda c: heavy_day(c, "light_cram"),
    ("account_sharing", "two_cities"): account_two_cities,
    ("probe", "sweep"): probe_sweep,
    ("probe", "slow"): probe_slow,
    ("heavy_day", "day"): lambda c: heavy_day(c, "day"),
    ("heavy_day", "evening"): lambda c: heavy_day(c, "evening"),
    ("account_sharing", "two_people"): account_two_people,
    ("shared_ip", "study_group"): lambda c: shared_ip(c, "study_group"),
    ("shared_ip", "hotspot"): lambda c: shared_ip(c, "hotspot"),
    ("stale_account", "daily"): lambda c: stale_account(c, "daily"),
    ("stale_account", "weekly"): lambda c: stale_account(c, "weekly"),
    ("unknown_user", "ghost_id"): lambda c: unknown_user(c, "ghost_id"),
    ("unknown_user", "bad_cohort_id"): lambda c: unknown_user(c, "bad_cohort_id"),
    ("cohort_overuse", "spread"): lambda c: cohort_overuse(c, "spread"),
    ("cohort_overuse", "concentrated"): lambda c: cohort_overuse(c, "concentrated"),
}
SHAPES: tuple[tuple[str, str], ...] = (*INJECTORS, *sorted(HANDLED_IN_POPULATION))


def inject_events(
    rng: np.random.Generator, pop: Population, cal: Calendar, cur: Curriculum, roster: Roster
) -> None:
    """Add every event of the scenario (`pop.sc.events`) not already made in the population."""
    c = _Ctx(rng, pop, cal, cur, roster)
    for kind, shape, n in pop.sc.events:
        if (kind, shape) in HANDLED_IN_POPULATION:
            continue
        injector = INJECTORS[kind, shape]
        for _ in range(n):
            injector(c)


# --- the demo's own events ---------------------------------------------------------------------------


class _Demo:
    """What the demo's events share: the setup stream, the students in a fixed shuffled order."""

    def __init__(
        self,
        rng: np.random.Generator,
        pop: Population,
        cal: Calendar,
        cur: Curriculum,
        roster: Roster,
    ) -> None:
        info = roster.info
        self.rng, self.pop, self.cal, self.cur, self.roster = rng, pop, cal, cur, roster
        self.base = epoch(cal.day0)
        self.lessons = np.array(cur.all_lessons)
        self.regular = [
            (u, cid)
            for u, cid in roster.regular
            if max(cal.day(info[cid]["start_date"]), 0) + 45
            < min(cal.day(info[cid]["end_date"]), cal.n_days - 2)
        ]
        order = rng.permutation(len(self.regular))
        self.picks = itertools.cycle(order.tolist())

    def student(self) -> tuple[int, int]:
        return self.regular[next(self.picks)]

    def window(self, cid: int, after: int) -> int:
        """A weekday of the cohort's term, at least `after` days into it."""
        info, cal = self.roster.info, self.cal
        s, e = cal.day(info[cid]["start_date"]), cal.day(info[cid]["end_date"])
        lo, hi = max(s + after, 1), min(e, cal.n_days - 2)
        day = int(self.rng.integers(lo, max(lo + 1, hi)))
        while cal.weekday[day] >= 5:
            day -= 1
        return day


def inject_demo_events(
    rng: np.random.Generator,
    scale: float,
    pop: Population,
    cal: Calendar,
    cur: Curriculum,
    roster: Roster,
) -> None:
    """The demo's injected events on the setup stream (other scenarios inject theirs with
    `inject_events`): scraping, heavy days and cohort over-use only in the demo; in every scenario
    the front-end test user and the row with no path."""
    d = _Demo(rng, pop, cal, cur, roster)
    demo = pop.sc.demo_events
    for _ in range(scaled(4, scale) if demo else 0):
        _demo_scraping(d)
    for _ in range(scaled(6, scale) if demo else 0):
        _demo_heavy_day(d)
    # cohorts do not multiply with the scale (their students do): three cases at every scale
    _demo_overuse(d, 3 if demo else 0)
    _front_end_user(d)
    for _ in range(scaled(1, scale)):  # one row with no path (real log has one)
        u, cid = d.student()
        day = d.window(cid, 5)
        ts = np.array([d.base + day * 86400 + 11 * 3600 + int(rng.integers(0, 3600))])
        pop.injected.append(injected_rows(ts, np.array([-1]), u, cid, pop.home[u][0]))


def _demo_scraping(d: _Demo) -> None:
    """Scraping: ~150-300 pages in minutes, at night."""
    rng, pop = d.rng, d.pop
    u, cid = d.student()
    day = d.window(cid, 20)
    n = int(rng.integers(150, 301))
    start = d.base + day * 86400 + int(rng.integers(3600, 4 * 3600))
    ts = start + np.cumsum(rng.uniform(0.6, 1.6, n)).astype(np.int64)
    first = int(rng.integers(0, len(d.lessons)))
    pids = d.lessons[(first + np.arange(n)) % len(d.lessons)]
    ip = pop.new_ips(rng, 1)[0]
    pop.injected.append(injected_rows(ts, pids, u, cid, ip))
    pop.labels.append(
        make_label("scraping", d.cal, user=u, cohort=cid, ts=(int(ts[0]), int(ts[-1])), ip=ip,
                   detail=f"{n} pages in {int(ts[-1] - ts[0])} s", shape="burst")
    )  # fmt: skip


def _demo_heavy_day(d: _Demo) -> None:
    """A heavy day: 200+ pages in a working day."""
    rng, pop, cur, info = d.rng, d.pop, d.cur, d.roster.info
    u, cid = d.student()
    day = d.window(cid, 30)
    n = int(rng.integers(200, 321))
    start = d.base + day * 86400 + 8 * 3600 + int(rng.integers(0, 3600))
    ts = start + np.cumsum(rng.exponential(70.0, n) + 4).astype(np.int64)
    own = [
        j for j, m in enumerate(cur.modules) if (m in DS_MODULES) == (info[cid]["program_id"] == 3)
    ]
    j = rng.choice(rng.choice(own, 3, replace=False), n)
    idx = np.searchsorted(cur.lesson_cdf, j + rng.random(n), side="right")
    pids = cur.lesson_old[np.minimum(idx, len(cur.lesson_old) - 1)]
    pop.injected.append(injected_rows(ts, pids, u, cid, pop.home[u][0]))
    pop.labels.append(
        make_label("heavy_day", d.cal, user=u, cohort=cid, a=day, b=day + 1, detail=f"{n} pages",
                   shape="day")
    )  # fmt: skip


def _demo_overuse(d: _Demo, n_over: int) -> None:
    """Cohort over-use: one cohort reads one lesson far more than its peers, `n_over` times."""
    rng, pop, cal, cur = d.rng, d.pop, d.cal, d.cur
    info, plan_users = d.roster.info, d.roster.plan_users
    chosen: list[int] = []
    big = min(3, max(len(v) for v in plan_users.values()))
    inside = [  # whole enrollment window inside the data: the over-use is visible against peers
        c
        for c in plan_users
        if len(plan_users[c]) >= big
        and cal.day(info[c]["start_date"]) >= 0
        and cal.day(info[c]["end_date"]) < cal.n_days - 1
    ] or list(plan_users)
    java = [c for c in inside if info[c]["program_id"] == 2]
    ds = [c for c in inside if info[c]["program_id"] == 3]
    for i in range(n_over):
        pool = ds if (i % 3 == 2 and ds) else java
        pool = [c for c in pool if c not in chosen] or pool
        cid = int(rng.choice(pool))
        chosen.append(cid)
        module = (
            "classification"
            if info[cid]["program_id"] == 3
            else str(rng.choice(["java-ii", "javascript-ii", "jquery", "mysql", "java-iii"]))
        )
        j = cur.modules.index(module)
        lesson_list = DS_MODULES[module][1] if module in DS_MODULES else WEB_MODULES[module]
        rank = int(rng.integers(3, min(8, len(lesson_list))))
        offset = int(np.searchsorted(cur.lesson_cdf, j, side="right"))
        pid = int(cur.lesson_old[offset + rank])
        lesson = normalise_lesson(cur.paths[pid])
        s, e = cal.day(info[cid]["start_date"]), cal.day(info[cid]["end_date"])
        s, e = max(s, 0), min(e, cal.n_days - 1)
        for u in plan_users[cid]:
            n = int(rng.poisson(30))
            if n == 0:
                continue
            days = rng.integers(s, e + 1, n)
            ts = d.base + days * 86400 + rng.integers(9 * 3600, 20 * 3600, n)
            pop.injected.append(injected_rows(np.sort(ts), np.full(n, pid), u, cid, pop.home[u][0]))
        pop.labels.append(
            make_label("cohort_overuse", cal, cohort=cid, lesson=lesson, a=s, b=e + 1,
                       detail=f"cohort {info[cid]['name']} reads {lesson} far more than its peers",
                       shape="strong")
        )  # fmt: skip


def _front_end_user(d: _Demo) -> None:
    """Front end: one user, one day, five rows (a test program)."""
    rng, pop, cal, cur = d.rng, d.pop, d.cal, d.cur
    u = pop.add_user(rng, key=float(cal.day(dt.date(2019, 2, 12))))
    day = cal.day(dt.date(2019, 2, 12))
    ts = d.base + day * 86400 + 14 * 3600 + np.cumsum(rng.integers(20, 90, 5))
    pids = np.array([cur.bare_old[0], *cur.lesson_old[:4]])
    pop.injected.append(injected_rows(ts, pids, u, FRONT_END_COHORT, pop.home[u][0]))
