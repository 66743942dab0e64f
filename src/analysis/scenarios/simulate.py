"""Simulated logs with ground truth: the demo (faithful to the real log's published facts) and scenarios.

The real 900,223-row log is not available, so `data/demo/` is generated here. Calibration targets come
from the real cohorts table (copied byte for byte) and the facts measured on the real log (data volume,
users, IPs, paths, program and cohort volumes, campus NAT IPs that vanish when teaching went remote,
navigation paths, lesson popularity shaped like `lesson_hits_by_cohort.csv`, renamed data-science paths,
weekday/hour rhythm, alumni reading). Irregular behaviours are injected and written to `labels.csv` so the
detectors can be scored (`curriculum-insights evaluate`).

Model. Every user has activity *segments* (user, cohort on the rows, day span, expected sessions,
reading profile, campus eligibility): the enrollment window, prework days before it, alumni pieces with a
decaying rate after it, staff spans, no-cohort bursts. Half-month by half-month (bounded memory: scale
50 writes 45M rows), each segment's sessions are drawn (Poisson on the day-weight mass of the overlap),
placed on days by inverse CDF of the weekday/holiday weights and on hours by the hour profile, and
expanded into rows (geometric session length, exponential gaps). Paths come from the session's module (per-profile module weights) and a
Zipf-like lesson choice. Everything is vectorised per period; loops run over users, cohorts and periods.
Each period has its own random stream (seed, period), so the same seed and scale give the same bytes.

The parts, each a module of this package with a public API: `library` (the scenarios' knobs),
`calendar` (days, weights, periods), `curriculum` (paths and reading profiles), `population` (users,
addresses, segments, the special students), `injections` (injected events and their labels),
`sessions` (sessions expanded into rows), `writer` (the files). This module runs them in order;
`evaluate` scores the analysis on the result.

Scenarios. Every knob of the base behaviour and the list of injected events come from a
`scenarios.library.Scenario`; the defaults are the demo's and draw exactly what the demo always drew
(new behaviour is guarded by its knob or uses its own random stream), so data/demo is reproduced byte
for byte.

Ground truth. Only injected behaviours are labelled, and they are known up front (made in
`population` and `injections`). Base behaviour -- routine alumni reading, staff, the routine no-cohort
users, campus NAT -- is never labelled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from analysis.errors import TargetError
from analysis.scenarios.calendar import REMOTE_FROM, Calendar, build_calendar, epoch
from analysis.scenarios.curriculum import Curriculum, build_curriculum
from analysis.scenarios.injections import add_overuse, inject_demo_events, inject_events
from analysis.scenarios.library import DEMO, Scenario, get_scenario
from analysis.scenarios.population import (
    Population,
    assign_shared_pool,
    build_population,
    injected_rows,
    read_cohorts,
    reassign_homes,
)
from analysis.scenarios.sessions import build_frame, enrolled_reading
from analysis.scenarios.writer import (
    LogInputs,
    ip_strings,
    label_counts,
    labels_frame,
    write_log,
    write_side_files,
)
from analysis.schema import LABEL_KINDS

GENERATOR_VERSION = "1.0"

# the demo's values (scenarios.library holds every scenario's)
DATA_START = DEMO.data_start
DATA_END = DEMO.data_end
FIRST_ROW = ("/", 1, 8, "97.105.19.61")  # the real log's first row (README example)
CAMPUS_IPS = DEMO.campus_ips  # main NAT, older NAT
CUTOFF_BASE = DEMO.cutoff_base  # cross-program shut-off, jittered by the seed
DS_ONLINE = DEMO.ds_online  # data-science curriculum published (cross reading possible)


@dataclass(frozen=True)
class SimulationSummary:
    """What was written (counts at the end of the run) and where."""

    out: Path
    seed: int
    scale: float
    rows: int
    users: int
    ips: int
    paths: int
    cohorts: int
    start: dt.datetime
    end: dt.datetime
    no_cohort_rows: int
    campus_rows: int
    labels: dict[str, int] = field(default_factory=dict)
    cross_program_cutoff: dt.date | None = None
    logs_file: str = "logs.txt.gz"

    def describe(self) -> str:
        lines = [
            f"Simulated log written to {self.out} (seed {self.seed}, scale {self.scale:g})",
            f"  {self.logs_file}: {self.rows:,} rows from {self.start} to {self.end}",
            f"  users {self.users:,}, IPs {self.ips:,}, distinct paths {self.paths:,}, "
            f"cohort ids {self.cohorts}",
            f"  rows without cohort {self.no_cohort_rows:,} "
            f"({self.no_cohort_rows / max(self.rows, 1):.1%}), campus IP rows {self.campus_rows:,} "
            f"({self.campus_rows / max(self.rows, 1):.1%}, none from {REMOTE_FROM})",
            f"  cross-program reading shut off on {self.cross_program_cutoff} (a residue continues)",
            "  labels.csv: "
            + ", ".join(f"{kind} {self.labels.get(kind, 0)}" for kind in LABEL_KINDS),
            "  cohorts.csv: byte copy of the real cohorts table; simulation.json: parameters",
        ]
        return "\n".join(lines)


def simulate(
    seed: int,
    scale: float,
    out: Path,
    reference_dir: Path,
    gzip_logs: bool = True,
    progress: bool = True,
    scenario: str | Scenario = "demo",
) -> SimulationSummary:
    """Write logs.txt(.gz), cohorts.csv, labels.csv and simulation.json into `out`; same seed and
    scale, same bytes."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TargetError(f"{out}: cannot create output directory ({exc})") from exc
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    cohorts = read_cohorts(Path(reference_dir))
    setup = np.random.default_rng([seed, 0])
    cutoff = sc.cutoff_base + dt.timedelta(days=int(setup.integers(-5, 6)))
    cal = build_calendar(sc)
    cur = build_curriculum(Path(reference_dir), cal.day0, sc)
    pop = _people(setup, seed, scale, cohorts, cal, cur, sc)
    uid, inputs = _log_inputs(seed, scale, pop, cal, cur, cohorts, cal.day(cutoff))

    logs_name = "logs.txt.gz" if gzip_logs else "logs.txt"
    totals = write_log(out / logs_name, inputs, gzip_logs, progress)
    labels = labels_frame(pop, uid, inputs.ips)
    counts = label_counts(labels)
    meta = {
        "simulated": True,
        "seed": seed,
        "scale": scale,
        "rows": totals.rows,
        "users": len(totals.users),
        "ips": len(totals.ips),
        "paths": len(totals.paths),
        "generator_version": GENERATOR_VERSION,
        "cross_program_cutoff": cutoff.isoformat(),
        "scenario": sc.name,
        "campus_ips": list(sc.campus_ips),
        "remote_from": REMOTE_FROM.isoformat(),
        "data_start": sc.data_start.isoformat(sep=" "),
        "data_end": sc.data_end.isoformat(sep=" "),
        "logs_file": logs_name,
        "labels": counts,
    }
    write_side_files(out, Path(reference_dir), labels, meta)
    return SimulationSummary(
        out=out, seed=seed, scale=scale, rows=totals.rows, users=len(totals.users),
        ips=len(totals.ips), paths=len(totals.paths), cohorts=len(totals.cohorts),
        start=sc.data_start, end=sc.data_end, no_cohort_rows=totals.no_cohort,
        campus_rows=totals.campus, labels=counts, cross_program_cutoff=cutoff, logs_file=logs_name,
    )  # fmt: skip


def _people(
    setup: np.random.Generator,
    seed: int,
    scale: float,
    cohorts: pl.DataFrame,
    cal: Calendar,
    cur: Curriculum,
    sc: Scenario,
) -> Population:
    """The population with its injected events, in the order that fixes the random streams: the
    setup stream (population, the demo's events), then the shared pool (seed, 5), the scenario's
    events (seed, 6) and the ISP re-assignments (seed, 7)."""
    pop, roster = build_population(setup, scale, cohorts, cal, sc)
    inject_demo_events(setup, scale, pop, cal, cur, roster)
    assign_shared_pool(pop, seed, scale)
    if sc.events:
        inject_events(np.random.default_rng([seed, 6]), pop, cal, cur, roster)
    reassign_homes(pop, cal, seed)
    return pop


def _log_inputs(
    seed: int,
    scale: float,
    pop: Population,
    cal: Calendar,
    cur: Curriculum,
    cohorts: pl.DataFrame,
    cutoff_day: int,
) -> tuple[np.ndarray, LogInputs]:
    """User ids, the log's first and last rows, the over-use rows, and what the writer needs."""
    sc = pop.sc
    # user ids follow account creation order; user 1 is the real first row's user
    keys = np.array(pop.keys)
    first_user = int(np.argmin(keys))
    uid = np.empty(len(keys), dtype=np.int64)
    uid[np.argsort(keys, kind="stable")] = np.arange(1, len(keys) + 1)
    start_epoch = (
        epoch(cal.day0) + (sc.data_start - dt.datetime.combine(cal.day0, dt.time())).seconds
    )
    end_epoch = (
        epoch(sc.data_end.date())
        + (sc.data_end - dt.datetime.combine(sc.data_end.date(), dt.time())).seconds
    )
    seg_cohort = np.array(pop.seg["cohort"])
    last_user = int(np.array(pop.seg["user"])[np.flatnonzero(seg_cohort == 139)[0]])
    pop.injected.append(injected_rows(np.array([start_epoch]), np.array([0]), first_user, 8, 1))
    pop.injected.append(
        injected_rows(
            np.array([end_epoch]), np.array([cur.bare_old[cur.modules.index("java-i")]]),
            last_user, 139, pop.home[last_user][0],
        )
    )  # fmt: skip
    frame = build_frame(pop, cal)
    if pop.overuse:  # sized on the base log's reading, so the realized factor is the planned one
        counts = enrolled_reading(seed, pop, frame, cal, cur, cohorts, cutoff_day)
        add_overuse(np.random.default_rng([seed, 7]), pop, cal, *counts)
    injected = pl.DataFrame(
        {k: np.concatenate([block[k] for block in pop.injected]) for k in pop.injected[0]}
    )
    return uid, LogInputs(
        seed=seed, scale=scale, frame=frame, cal=cal, cur=cur, injected=injected, uid=uid,
        paths=pl.Series("path", cur.paths, dtype=pl.String),
        ips=pl.Series("ip", ip_strings(np.array(pop.ips, dtype=np.int64)), dtype=pl.String),
        start_epoch=start_epoch, end_epoch=end_epoch, cutoff_day=cutoff_day,
        n_campus_ips=len(sc.campus_ips),
    )  # fmt: skip
