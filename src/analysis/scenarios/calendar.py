"""The log's calendar: day indices from its first day, weekday and holiday weights, the half-month
periods that generation and writing proceed by, and how a user's rows are spread over pieces of time.

Public API: `Calendar`, `build_calendar`, `epoch`, `months`, `pieces_mass`, `spread`, `REMOTE_FROM`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np

from analysis.scenarios.library import DEMO, Scenario

REMOTE_FROM = dt.date(2020, 3, 16)  # campus closed: no campus rows from this day on

# A piece of a user's activity: (first day, day after the last, intensity or rows, reading profile).
Piece = tuple[int, int, float, int]


@dataclass
class Calendar:
    day0: dt.date
    n_days: int
    weights: np.ndarray
    cum: np.ndarray  # cum[d] = weight of days before d
    weekday: np.ndarray

    def mass(self, a: int, b: int) -> float:
        lo, hi = max(a, 0), min(b, self.n_days)
        return float(self.cum[hi] - self.cum[lo]) if hi > lo else 0.0

    def day(self, date: dt.date) -> int:
        return (date - self.day0).days


def epoch(day: dt.date) -> int:
    """Epoch seconds of midnight UTC on `day`."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def build_calendar(sc: Scenario = DEMO) -> Calendar:
    day0 = sc.data_start.date()
    n = (sc.data_end.date() - day0).days + 1
    dates = [day0 + dt.timedelta(days=i) for i in range(n)]
    weekday = np.array([d.weekday() for d in dates])
    w = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.22, 0.3))
    holiday = np.array(
        [(d.month == 12 and d.day >= 21) or (d.month == 1 and d.day <= 1) for d in dates]
    )
    w = np.where(holiday, w * 0.25, w)
    return Calendar(day0, n, w, np.concatenate([[0.0], np.cumsum(w)]), weekday)


def pieces_mass(pieces: list[Piece], cal: Calendar) -> float:
    return sum(cal.mass(a, b) * intensity for a, b, intensity, _ in pieces)


def spread(rows: float, pieces: list[Piece], cal: Calendar) -> list[Piece]:
    """Split a user's rows over pieces (a, b, intensity, profile) in proportion to intensity x mass."""
    masses = [cal.mass(a, b) * inten for a, b, inten, _ in pieces]
    total = sum(masses)
    if total <= 0:
        return []
    return [
        (a, b, rows * m / total, profile)
        for (a, b, _, profile), m in zip(pieces, masses, strict=True)
        if m > 0
    ]


def months(cal: Calendar) -> list[tuple[int, int]]:
    """Half-month periods (1st-15th, 16th-end) as day-index spans: the unit of generation and writing,
    fixed by the calendar alone so the bytes do not depend on memory settings."""
    spans, d = [], cal.day0
    while cal.day(d) < cal.n_days:
        nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        mid = dt.date(d.year, d.month, 16)
        cuts = [cal.day(d)] + ([cal.day(mid)] if d < mid else []) + [cal.day(nxt)]
        for lo, hi in itertools.pairwise(cuts):
            if lo < cal.n_days:
                spans.append((lo, min(hi, cal.n_days)))
        d = nxt
    return spans
