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

Scenarios. Every knob of the base behaviour and the list of injected events come from a
`scenarios.library.Scenario`; the defaults are the demo's and draw exactly what the demo always drew
(new behaviour is guarded by its knob or uses its own random stream), so data/demo is reproduced byte
for byte.

Ground truth. Only injected behaviours are labelled, and they are known up front (the demo's own in
`_population`/`_inject`, the other scenarios' in `scenarios.inject`). Base behaviour -- routine alumni
reading, staff, the routine no-cohort users, campus NAT -- is never labelled.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from analysis.errors import InputError, TargetError
from analysis.progress import Progress
from analysis.scenarios.library import DEMO, Scenario, get_scenario
from analysis.schema import LABEL_KINDS, LABEL_SCHEMA

GENERATOR_VERSION = "1.0"

# the demo's values (scenarios.library holds every scenario's)
DATA_START = DEMO.data_start
DATA_END = DEMO.data_end
FIRST_ROW = ("/", 1, 8, "97.105.19.61")  # the real log's first row (README example)
CAMPUS_IPS = DEMO.campus_ips  # main NAT, older NAT
REMOTE_FROM = dt.date(2020, 3, 16)  # campus closed: no campus rows from this day on
CUTOFF_BASE = DEMO.cutoff_base  # cross-program shut-off, jittered by the seed
DS_ONLINE = DEMO.ds_online  # data-science curriculum published (cross reading possible)
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
NON_STUDENT_COHORTS = ("Staff", "Placeholder for students in transition")
FRONT_END_COHORT = 10  # one user, one day, 5 rows (a test program)
NO_COHORT_ROWS = 52_000  # rows of users who never have a cohort (plus a few students' first days)
NO_COHORT_BURSTS = (
    (dt.date(2019, 2, 1), dt.date(2019, 8, 31), 36, 6),  # start, end, users, profile (web)
    (dt.date(2020, 7, 1), dt.date(2020, 12, 31), 34, 7),  # mixed web / data science
)
LATE_ASSIGNED = (31, 32, 59, 61)  # cohorts where a few students' first two weeks carry no cohort id

MEAN_SESSION = 6.0
GAP_SECONDS = 55.0
CAMPUS_HOURS = (7, 19)  # class hours on campus (students stay for projects)
NAV = (("/", 0.056), ("search/search_index.json", 0.0217), ("toc", 0.0203), ("index.html", 0.0011))
P_IMAGE = 0.004
P_BARE = 0.14  # a module's index page (share of lesson-like rows, times BARE_BOOST)
BARE_BOOST = {"javascript-i": 1.6, "java-iii": 2.9, "html-css": 1.95, "java-ii": 2.3, "spring": 1.1,
              "jquery": 2.45, "mysql": 1.15, "java-i": 1.5, "javascript-ii": 1.75, "appendix": 0.5}  # fmt: skip
FIRST_LESSON_BOOST = {
    "classification": 1.8,
    "sql": 1.7,
    "regression": 1.6,
}  # the real DS top lessons
BARE_DS = 0.45  # data-science students open module index pages less
P_SWITCH = 0.12  # a row leaves the session's module
TYPO_RATE = 540 / 900_000

WEEKDAY_HOURS = np.array(
    [0.3, 0.15, 0.1, 0.08, 0.1, 0.2, 0.6, 1.6, 4.5, 8.0, 7.6, 6.2, 4.2, 5.6, 6.0, 5.4, 4.4, 3.0,
     2.2, 2.5, 2.8, 2.5, 1.6, 0.8]
)  # fmt: skip
WEEKEND_HOURS = np.array(
    [0.5, 0.3, 0.2, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 2.5, 3.0, 3.2, 3.0, 3.0, 3.0, 2.8, 2.6, 2.5,
     2.4, 2.6, 2.8, 2.4, 1.6, 0.9]
)  # fmt: skip

WEB_MODULES: dict[str, list[str]] = {
    "html-css": ["introduction", "elements", "forms", "css-i", "css-ii", "bootstrap", "flexbox",
                 "media-queries", "css-ii/bootstrap-grid-system", "css-i/selectors"],
    "javascript-i": ["introduction", "javascript-with-html", "primitive-types", "operators",
                     "conditionals", "loops", "functions", "arrays", "objects", "bom-and-dom/bom",
                     "bom-and-dom/dom-selection", "bom-and-dom/dom-events", "math-object"],
    "javascript-ii": ["es6", "map-filter-reduce", "promises", "npm", "ajax", "modules"],
    "jquery": ["essential-methods", "selectors", "events", "effects", "ajax-api", "keyboard-events",
               "mouse-events", "attributes-and-css"],
    "java-i": ["introduction-to-java", "syntax-types-and-variables", "console-io",
               "control-statements-and-loops", "methods", "arrays", "strings", "intellij"],
    "java-ii": ["object-oriented-programming", "inheritance-and-polymorphism",
                "abstract-classes-and-interfaces", "exceptions-and-error-handling", "collections",
                "file-io", "arrays", "static"],
    "java-iii": ["servlets", "jsp-and-jstl", "mvc", "user-input", "sessions-and-cookies",
                 "deployment-and-dependencies", "intellij", "maven"],
    "spring": ["setup", "fundamentals/controllers", "fundamentals/views", "fundamentals/repositories",
               "fundamentals/relationships", "fundamentals/services", "fundamentals/security",
               "fundamentals/form-model-binding", "extra-features/file-upload",
               "extra-features/error-pages", "extra-features/json-response"],
    "mysql": ["introduction", "users", "databases", "tables", "basic-statements", "clauses",
              "functions", "indexes", "relationships", "subqueries", "database-design"],
    "appendix": ["cli-via-ssh", "git/cli", "git/branching", "code-standards/html-css",
                 "code-standards/javascript", "postwork", "interview-questions", "extra-challenges",
                 "further-reading/javascript/hoisting", "open-source", "professional-development"],
    "content": ["php_i/intro-to-php", "php_i/arrays", "php_ii/objects", "laravel/intro",
                "laravel/eloquent", "laravel/migrations", "laravel/controllers", "mysql/intro",
                "javascript_i/functions", "html-css/forms"],
    "capstones": ["workbook", "guidelines", "project-ideas", "presentations"],
    "slides": ["javascript-i", "java-i", "spring", "mysql", "html-css"],
    "examples": ["javascript/defuse-the-bomb", "javascript/calculator", "css/grids", "html/forms"],
    "web-design": ["ui/color", "ui/typography", "ux/personas", "ux/wireframes"],
    "prework": ["intro", "versioning/github", "cli/intro", "databases"],
}  # fmt: skip
# Data-science modules: (number, lessons). Renamed to numbered paths on the date in DS_RENAMED.
DS_MODULES: dict[str, tuple[int, list[str]]] = {
    "fundamentals": (1, ["intro-to-data-science", "data-science-pipeline", "environment-setup",
                         "ai-ml-ds", "project-planning", "modern-data-scientist",
                         "data-science-tools", "course-overview"]),
    "storytelling": (2, ["intro-to-tableau", "visual-perception", "tableau-public", "dashboards"]),
    "sql": (3, ["mysql-overview", "databases", "basic-statements", "clauses", "functions", "joins",
                "subqueries", "temp-tables", "case-statements"]),
    "python": (4, ["introduction-to-python", "data-types-and-variables", "control-structures",
                   "functions", "imports", "list-comprehensions", "intro-to-numpy", "intro-to-pandas",
                   "dataframes", "matplotlib", "seaborn"]),
    "stats": (5, ["overview", "simulation", "probability-distributions", "hypothesis-testing",
                  "compare-means", "correlation", "chi-square"]),
    "regression": (6, ["overview", "acquire-and-prep", "scaling", "explore", "feature-engineering",
                       "modeling", "evaluate"]),
    "classification": (7, ["overview", "acquire", "prep", "explore", "logistic-regression",
                           "decision-trees", "random-forests", "knn", "evaluation"]),
    "clustering": (8, ["overview", "acquire", "explore", "kmeans", "dbscan"]),
    "timeseries": (9, ["overview", "working-with-time-series-data", "acquire", "prep", "explore",
                       "modeling"]),
    "anomaly-detection": (10, ["overview", "time-series-anomalies", "discrete-probabilistic",
                               "continuous-probabilistic", "clustering-anomalies"]),
    "nlp": (11, ["overview", "acquire", "prep", "explore", "model"]),
    "distributed-ml": (12, ["overview", "spark-api", "acquire", "wrangle", "explore", "ml"]),
    "advanced-topics": (13, ["overview", "intro-to-deep-learning", "docker", "ml-in-production"]),
}  # fmt: skip
DS_RENAMED: dict[str, dt.date] = {
    "fundamentals": dt.date(2019, 8, 15),
    "storytelling": dt.date(2019, 8, 15),
    "sql": dt.date(2020, 1, 20),
    "python": dt.date(2019, 8, 15),
    "stats": dt.date(2019, 8, 15),
    "regression": dt.date(2020, 1, 20),
    "clustering": dt.date(2020, 6, 1),
    "timeseries": dt.date(2020, 6, 1),
    "anomaly-detection": dt.date(2020, 6, 1),
    "nlp": dt.date(2020, 6, 1),
    "distributed-ml": dt.date(2020, 6, 1),
    "advanced-topics": dt.date(2020, 6, 1),
}  # classification keeps its plain name (the real top lesson is `classification/overview`)
SUBPAGES = (
    "exercises",
    "examples",
    "review",
    "bonus",
    "solutions",
    "walkthrough",
    "part-2",
    "notes",
)
EXTRA_DS_WEIGHTS = {"classification": 1700.0, "sql": 1000.0, "nlp": 300.0, "capstones": 0.0}
ALUMNI_BOOST = {"javascript-i": 2.2, "mysql": 2.6, "spring": 2.4, "sql": 3.0, "classification": 2.4}
IP_FIRST_OCTETS = np.array(
    [24, 47, 66, 67, 68, 70, 71, 72, 75, 76, 98, 99, 104, 107, 108, 136, 162, 173, 174, 184, 187,
     189, 201, 206, 207, 208, 209]
)  # fmt: skip

# Profiles: rows of the module-weight matrix.
P_JAVA, P_JAVA_ALUM, P_PHP, P_DS, P_DS_ALUM, P_STAFF, P_NOC_WEB, P_NOC_MIX = range(8)


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


# --- small helpers ------------------------------------------------------------------------------------


def _epoch(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _ip_strings(values: np.ndarray) -> list[str]:
    return [f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}" for v in values.tolist()]


def _normalise_lesson(path: str) -> str:
    """Same normalisation as prepare.lesson_name (numbered prefixes stripped, lower case)."""
    return re.sub(r"(^|/)\d+(?:\.\d+)*[-_]", r"\1", path.strip("/").lower())


def _read_cohorts(reference_dir: Path) -> pl.DataFrame:
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


def _module_weights(reference_dir: Path) -> dict[str, dict[str, float]]:
    """Hits per top-level module by program (Java, PHP, Data) from the real aggregate."""
    path = reference_dir / "lesson_hits_by_cohort.csv"
    out: dict[str, dict[str, float]] = {"Java": {}, "PHP": {}, "Data": {}}
    if not path.is_file():
        return out
    hits = pl.read_csv(path)
    for suffix in out:
        cols = [c for c in hits.columns if c.endswith(f"-{suffix}")]
        rows = hits.select("lesson", pl.sum_horizontal(cols).alias("n")).rows()
        out[suffix] = {str(k): float(v) for k, v in rows if v and k != "empty"}
    return out


# --- curriculum -------------------------------------------------------------------------------------


@dataclass
class Curriculum:
    modules: list[str]
    profiles: np.ndarray  # (profiles, modules) cumulative, offset by profile index
    paths: list[str]  # every path string; ids index this list
    nav_ids: np.ndarray
    bare_old: np.ndarray  # per module
    bare_new: np.ndarray
    lesson_cdf: np.ndarray  # concatenated, module j occupies [j, j+1)
    lesson_old: np.ndarray
    lesson_new: np.ndarray
    rename_day: np.ndarray  # per module, day index from which new spellings are used (big = never)
    image_ids: np.ndarray  # (modules, 3)
    is_ds: np.ndarray  # per module
    bare_p: np.ndarray  # per module: chance a lesson-like row is the module's index page
    all_lessons: list[int] = field(
        default_factory=list
    )  # old-spelling core lesson ids (scraper walk)
    extra_ids: dict[str, int] = field(default_factory=dict)  # injected paths (attack probes)


def _curriculum(reference_dir: Path, day0: dt.date, sc: Scenario = DEMO) -> Curriculum:
    weights = _module_weights(reference_dir)
    modules = list(WEB_MODULES) + list(DS_MODULES)
    paths: list[str] = [p for p, _ in NAV]
    nav_ids = np.arange(len(NAV))
    bare_old, bare_new, rename_day, is_ds = [], [], [], []
    cdf_parts, old_parts, new_parts = [], [], []
    core: list[int] = []
    image_ids = []
    never = 10**6
    for j, module in enumerate(modules):
        ds = module in DS_MODULES
        number, lessons = DS_MODULES[module] if ds else (0, WEB_MODULES[module])
        home = sc.merged_modules.get(module, module)  # a DS module may live inside a web module
        renamed = ds and module in DS_RENAMED and home == module
        if renamed:
            rename_day.append((DS_RENAMED[module] - day0).days + sc.rename_shift_days)
        elif module in sc.web_renames:
            renamed, number = True, list(WEB_MODULES).index(module) + 1
            rename_day.append((sc.web_renames[module] - day0).days)
        else:
            rename_day.append(never)
        new_module = f"{number}-{module}" if renamed else module
        is_ds.append(ds)
        bare_old.append(len(paths))
        paths.append(home)
        if renamed:
            bare_new.append(len(paths))
            paths.append(new_module)
        else:
            bare_new.append(bare_old[-1])
        names: list[tuple[str, str, float]] = []
        for rank, lesson in enumerate(lessons):
            prefix = (
                f"{number}.{rank + 1}-" if module == "fundamentals" else f"{rank + 1}-"
            ) * bool(renamed)
            boost = FIRST_LESSON_BOOST.get(module, 1.0) if rank == 0 else 1.0
            names.append((lesson, prefix + lesson, boost / (rank + 3.0) ** 0.6))
        subs = []
        for rank, lesson in enumerate(lessons[:8]):
            for k, sub in enumerate(SUBPAGES[: 7 - rank // 2]):
                new = names[rank][1]
                subs.append((f"{lesson}/{sub}", f"{new}/{sub}", 0.05 / (rank + 1) / (k + 1)))
        entries = names + subs
        w = np.array([e[2] for e in entries])
        cdf_parts.append(j + np.cumsum(w) / w.sum())
        for old, new, _ in entries:
            old_id = len(paths)
            paths.append(f"{home}/{old}")
            if renamed:
                paths.append(f"{new_module}/{new}")
                new_parts.append(old_id + 1)
            else:
                new_parts.append(old_id)
            old_parts.append(old_id)
        core.extend(old_parts[-len(entries) : -len(subs) or None])
        imgs = []
        for name in ("diagram.png", "screenshot.jpg", "logo.svg"):
            imgs.append(len(paths))
            paths.append(f"{home}/images/{name}")
        image_ids.append(imgs)
    cdf = np.concatenate(cdf_parts)
    cdf[np.cumsum([len(p) for p in cdf_parts]) - 1] = np.arange(1, len(modules) + 1)  # exact ends

    java = dict(weights["Java"]) or {m: 1.0 for m in WEB_MODULES}
    php = dict(weights["PHP"]) or {m: 1.0 for m in WEB_MODULES}
    data = {**(weights["Data"] or {m: 1.0 for m in DS_MODULES}), **EXTRA_DS_WEIGHTS}

    def vector(source: dict[str, float], allowed: set[str], boost: bool = False) -> np.ndarray:
        v = np.array(
            [source.get(m, 0.0) if m in allowed else 0.0 for m in modules], dtype=np.float64
        )
        if boost:
            v *= np.array([ALUMNI_BOOST.get(m, 1.0) for m in modules])
        return v / v.sum()

    web, dsm = set(WEB_MODULES), set(DS_MODULES)
    web_read = {k: v for k, v in java.items() if k in web}
    web_read.setdefault("prework", 150.0)
    profiles = np.stack(
        [
            vector(web_read, web),
            vector(web_read, web, boost=True),
            vector(php, web, boost=True),
            vector(data, dsm),
            vector(data, dsm, boost=True),
            0.7 * vector(web_read, web) + 0.3 * vector(data, dsm),
            vector(web_read, web),
            0.6 * vector(web_read, web) + 0.4 * vector(data, dsm),
        ]
    )
    profiles_cdf = np.cumsum(profiles, axis=1)
    profiles_cdf = profiles_cdf / profiles_cdf[:, -1:] + np.arange(len(profiles))[:, None]
    return Curriculum(
        modules=modules,
        profiles=profiles_cdf.ravel(),
        paths=paths,
        nav_ids=nav_ids,
        bare_old=np.array(bare_old),
        bare_new=np.array(bare_new),
        lesson_cdf=cdf,
        lesson_old=np.array(old_parts),
        lesson_new=np.array(new_parts),
        rename_day=np.array(rename_day),
        image_ids=np.array(image_ids),
        is_ds=np.array(is_ds),
        bare_p=np.array(
            [P_BARE * (BARE_DS if m in DS_MODULES else BARE_BOOST.get(m, 1.0)) for m in modules]
        ),
        all_lessons=core,
    )


# --- population -------------------------------------------------------------------------------------


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
    overuse: list[dict[str, Any]] = field(default_factory=list)  # planned over-use (inject.py)

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


def _calendar(sc: Scenario = DEMO) -> Calendar:
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


def _mass(pieces: list[tuple[int, int, float, int]], cal: Calendar) -> float:
    return sum(cal.mass(a, b) * intensity for a, b, intensity, _ in pieces)


def _spread(rows: float, pieces: list[tuple[int, int, float, int]], cal: Calendar) -> list[tuple]:
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


def _population(
    rng: np.random.Generator,
    scale: float,
    cohorts: pl.DataFrame,
    cal: Calendar,
    cur: Curriculum,
    sc: Scenario = DEMO,
    seed: int = 0,
) -> Population:
    """Every user with segments: cohort plan, staff, no-cohort bursts, special students (drop-outs,
    second accounts, shared accounts, early birds), then the injected day-level events."""
    pop = Population(sc=sc)
    pop.ips.extend(
        [int.from_bytes(bytes(int(x) for x in ip.split(".")), "big") for ip in sc.campus_ips]
    )
    info = {row["id"]: row for row in cohorts.iter_rows(named=True)}

    def count(n: float) -> int:
        return max(1, round(n * scale))

    other_java = sum(v[0] for k, v in COHORT_PLAN.items() if info[k]["program_id"] == 2) - sum(
        COHORT_PLAN[k][0] for k in PINNED_JAVA
    )
    java_factor = (JAVA_TOTAL - sum(COHORT_PLAN[k][0] for k in PINNED_JAVA)) / other_java

    # --- which students get which special behaviour
    regular: list[tuple[int, int]] = []  # (user, cohort) eligible for injected day-level events
    plan_users: dict[int, list[int]] = {}
    if sc.demo_events:
        special_counts = [("dropout", count(8)), ("dup", count(3)), ("share", count(3)),
                          ("early", count(4))]  # fmt: skip
    else:  # fixed numbers at every scale: the injected cases stay few and findable
        shapes = {("dropout", "stops_early"): "dropout", ("dropout", "trickle"): "trickle",
                  ("low_usage", "light_reader"): "low", ("account_sharing", "many_ips"): "share"}  # fmt: skip
        special_counts = [(shapes[k, s], n) for k, s, n in sc.events if (k, s) in shapes]

    def cohort_users(cid: int) -> int:
        return count(COHORT_PLAN[cid][1] * sc.users_factor)

    active_cohorts = [
        cid
        for cid, row in info.items()
        if cid in COHORT_PLAN
        and row["program_id"] in (2, 3)
        and cid not in (28, 136)
        and cal.day(row["start_date"]) >= 30
        and cal.day(row["end_date"]) < cal.n_days - 30
    ]
    specials: dict[tuple[int, int], str] = {}
    kind: str | None
    for kind, n in special_counts:
        for _ in range(n):
            for _attempt in range(1 if sc.demo_events else 20):  # scenarios: a free slot
                cid = int(rng.choice(active_cohorts))
                n_slots = cohort_users(cid)
                slot = int(rng.integers(2, n_slots)) if n_slots > 2 else n_slots - 1
                if (cid, slot) not in specials:
                    break
            specials.setdefault((cid, slot), kind)

    rows_c: float
    users_c: float
    for cid in sorted(COHORT_PLAN):
        row = info[cid]
        rows_c, users_c = COHORT_PLAN[cid]
        program = row["program_id"]
        if program == 2 and cid not in PINNED_JAVA:
            rows_c = rows_c * java_factor
        s, e = cal.day(row["start_date"]), cal.day(row["end_date"])
        if not sc.demo_events and s >= 0 and row["start_date"] < DATA_START.date():
            rows_c, users_c = max(rows_c, 25_000.0), max(users_c, 20)  # enrolled inside this log
        n_users = count(users_c * sc.users_factor)
        rows_c = rows_c * scale * sc.users_factor**0.5
        activity = rng.lognormal(0.0, sc.activity_sigma, n_users)
        activity = np.minimum(activity, sc.activity_cap)
        share = activity / activity.sum()
        track = -1 if cid == 136 else (1 if program == 3 else 0)  # placeholders: not students
        p_act, p_alum = (P_DS, P_DS_ALUM) if program == 3 else (P_JAVA, P_JAVA_ALUM)
        if program == 1:
            p_act = p_alum = P_PHP
        old = e + ALUMNI_LIMIT_DAYS < 120
        for k in range(n_users):
            key = float(s) + rng.random() * 5
            rows_u = rows_c * share[k]
            if cid == 28:  # staff: a span of the whole range, campus machines too
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
                continue
            if cid == 8 and k == 0:
                key = -1e9  # user 1 (the real first row)
            if old:
                length = int(cal.n_days * rng.uniform(0.3, 1.0))
                a = int(rng.integers(0, cal.n_days - length + 1))
                u = pop.add_user(rng, key)
                pop.add_segment(u, cid, a, a + length, rows_u, p_alum, False, track)
                continue
            kind = specials.get((cid, k))
            u = pop.add_user(rng, key)
            campus = cid != 136
            alum = sc.alumni_factor
            pieces = [
                (s - EARLY_DAYS, s, 0.15, p_act),
                (s, e + 1, 1.0, p_act),
                (e + 1, e + 61, 0.22 * alum, p_alum),
                (e + 61, e + 181, 0.10 * alum, p_alum),
                (e + 181, e + ALUMNI_LIMIT_DAYS + 1, 0.04 * alum, p_alum),
            ]
            if rng.random() < sc.p_late_alumni and cid not in (136,):
                pieces.append((e + ALUMNI_LIMIT_DAYS + 30, e + 1100, 0.03 * alum, p_alum))
            if alum != 1.0:  # more reading after graduation, the same while enrolled
                rows_u = (
                    rows_u
                    * _mass(pieces, cal)
                    / _mass(
                        [(a, b, i / alum if p == p_alum else i, p) for a, b, i, p in pieces], cal
                    )
                )
            if kind == "dropout":
                stop = s + int(rng.integers(3, 11))
                pieces = [(s, stop, 1.0, p_act)]
                rows_u = max(rows_u * 0.04, 15.0)
                pop.labels.append(
                    _label("dropout", cal, user=u, cohort=cid, a=s, b=stop, detail="stops early",
                           shape="stops_early")
                )  # fmt: skip
            elif kind == "trickle":  # reads for two or three weeks, then a visit now and then
                stop = s + int(rng.integers(12, 20))
                pieces = [(s, stop, 1.0, p_act), (stop, e + 1, 0.015, p_act)]
                rows_u = rows_u * ((stop - s) / max(e - s, 1) + 0.015)
                pop.labels.append(
                    _label("dropout", cal, user=u, cohort=cid, a=s, b=stop,
                           detail="stops after a few weeks, then a visit now and then",
                           shape="trickle")
                )  # fmt: skip
            elif kind == "low":  # enrolled throughout but reads a small fraction of the cohort
                pieces = pieces[1:2]
                rows_u = rows_u * 0.06
                pop.labels.append(
                    _label("low_usage", cal, user=u, cohort=cid, a=s, b=e + 1,
                           detail="reads about a twentieth of a typical classmate",
                           shape="light_reader")
                )  # fmt: skip
            elif kind == "dup":
                split = s + int((e - s) * rng.uniform(0.35, 0.6))
                first = _spread(
                    rows_u * 0.45, [(s - EARLY_DAYS, s, 0.15, p_act), (s, split, 1.0, p_act)], cal
                )
                for a, b, r, p in first:
                    pop.add_segment(u, cid, a, b, r, p, campus, track)
                twin = pop.add_user(rng, key=float(split), home=list(pop.home[u]))
                pieces = [*pieces[2:5], (split, e + 1, 1.0, p_act)]
                for who, other in ((u, twin), (twin, u)):
                    pop.labels.append(
                        _label(
                            "duplicate_identity", cal, user=who, cohort=cid,
                            a=s if who == u else split, b=split if who == u else e + 1,
                            detail=f"same person as user @{other}", shape="second_account",
                        )
                    )  # fmt: skip
                u = twin
            elif kind == "share":
                pop.roam[u] = pop.new_ips(rng, int(rng.integers(50, 71)))
                pop.roam_p[u] = 0.85
                pop.labels.append(
                    _label("account_sharing", cal, user=u, cohort=cid, a=s, b=e + 1,
                           detail="one account used from dozens of IPs", shape="many_ips")
                )  # fmt: skip
            elif kind == "early":
                pieces.append((s - int(rng.integers(60, 120)), s - 30, 0.5, p_act))
            for a, b, r, p in _spread(rows_u, pieces, cal):
                # on campus in class and during the first weeks after graduation (career services)
                on_campus = campus and (p == p_act or a == e + 1)
                pop.add_segment(u, cid, a, b, r, p, on_campus, track)
            if cid in LATE_ASSIGNED and k in (0, 1):
                pop.null_until[u] = _epoch(cal.day0) + (s + 14) * 86400
            if kind is None and cid != 136:
                regular.append((u, cid))
                plan_users.setdefault(cid, []).append(u)  # over-use readers: whole-window students

    # --- users who never have a cohort (two bursts); all are unknown users
    n_noc = sum(count(n) for _, _, n, _ in NO_COHORT_BURSTS)
    for start, end, n, profile in NO_COHORT_BURSTS:
        a0, b0 = cal.day(start), cal.day(end) + 1
        for _ in range(count(n)):
            length = int(rng.integers(30, 121))
            a = int(rng.integers(a0, max(a0 + 1, b0 - length)))
            u = pop.add_user(rng, key=float(a))
            pop.never_cohort[u] = True
            rows_u = NO_COHORT_ROWS * scale / n_noc * rng.lognormal(0, 0.4)
            pop.add_segment(u, None, a, min(a + length, b0), rows_u, profile, True, -1)

    _inject(rng, scale, pop, cal, cur, info, regular, plan_users, count)
    if sc.shared_pool and sc.shared_pool_p > 0:  # phone carriers and VPN exits: a few people each
        pool_rng = np.random.default_rng([seed, 5])
        pool = pop.new_ips(pool_rng, max(3, round(sc.shared_pool * scale)))
        pop.pool = [int(pool_rng.choice(pool)) for _ in pop.keys]
    if sc.events:
        from analysis.scenarios.inject import inject_events

        inject_events(np.random.default_rng([seed, 6]), pop, cal, cur, info, regular, plan_users)
    pop.home_base = [len(h) for h in pop.home]
    if sc.home_reassign_days > 0:  # the ISP hands each home a new address every few months
        isp_rng = np.random.default_rng([seed, 7])
        periods = cal.n_days // sc.home_reassign_days + 1
        pop.home = [h + pop.new_ips(isp_rng, len(h) * (periods - 1)) for h in pop.home]
    return pop


def _label(
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
    base = _epoch(cal.day0)
    if ts is None and a is not None and b is not None:
        ts = (base + max(a, 0) * 86400, base + min(b, cal.n_days) * 86400 - 1)
    return {
        "kind": kind, "user": user, "ip": ip, "cohort_id": cohort, "lesson": lesson,
        "start": None if ts is None else ts[0], "end": None if ts is None else ts[1],
        "detail": detail, "shape": shape,
    }  # fmt: skip


def _injected_rows(
    ts: np.ndarray, pids: np.ndarray, user: int, cohort: int | None, ip: int
) -> dict[str, np.ndarray]:
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


def _inject(
    rng: np.random.Generator,
    scale: float,
    pop: Population,
    cal: Calendar,
    cur: Curriculum,
    info: dict[int, dict[str, Any]],
    regular: list[tuple[int, int]],
    plan_users: dict[int, list[int]],
    count: Any,
) -> None:
    base = _epoch(cal.day0)
    lessons = np.array(cur.all_lessons)
    regular = [
        (u, cid)
        for u, cid in regular
        if max(cal.day(info[cid]["start_date"]), 0) + 45
        < min(cal.day(info[cid]["end_date"]), cal.n_days - 2)
    ]
    order = rng.permutation(len(regular))
    picks = itertools.cycle(order.tolist())

    def window(cid: int, after: int) -> int:
        s, e = cal.day(info[cid]["start_date"]), cal.day(info[cid]["end_date"])
        lo, hi = max(s + after, 1), min(e, cal.n_days - 2)
        day = int(rng.integers(lo, max(lo + 1, hi)))
        while cal.weekday[day] >= 5:
            day -= 1
        return day

    demo = pop.sc.demo_events  # other scenarios inject their own events (inject.py)
    for _ in range(count(4) if demo else 0):  # scraping: ~150-300 pages in minutes, at night
        u, cid = regular[next(picks)]
        day = window(cid, 20)
        n = int(rng.integers(150, 301))
        start = base + day * 86400 + int(rng.integers(3600, 4 * 3600))
        ts = start + np.cumsum(rng.uniform(0.6, 1.6, n)).astype(np.int64)
        first = int(rng.integers(0, len(lessons)))
        pids = lessons[(first + np.arange(n)) % len(lessons)]
        ip = pop.new_ips(rng, 1)[0]
        pop.injected.append(_injected_rows(ts, pids, u, cid, ip))
        pop.labels.append(
            _label("scraping", cal, user=u, cohort=cid, ts=(int(ts[0]), int(ts[-1])), ip=ip,
                   detail=f"{n} pages in {int(ts[-1] - ts[0])} s", shape="burst")
        )  # fmt: skip
    j: Any  # lesson indices here, one index further down
    for _ in range(count(6) if demo else 0):  # heavy day: 200+ pages in a working day
        u, cid = regular[next(picks)]
        day = window(cid, 30)
        n = int(rng.integers(200, 321))
        start = base + day * 86400 + 8 * 3600 + int(rng.integers(0, 3600))
        ts = start + np.cumsum(rng.exponential(70.0, n) + 4).astype(np.int64)
        own = [
            j
            for j, m in enumerate(cur.modules)
            if (m in DS_MODULES) == (info[cid]["program_id"] == 3)
        ]
        j = rng.choice(rng.choice(own, 3, replace=False), n)
        idx = np.searchsorted(cur.lesson_cdf, j + rng.random(n), side="right")
        pids = cur.lesson_old[np.minimum(idx, len(cur.lesson_old) - 1)]
        pop.injected.append(_injected_rows(ts, pids, u, cid, pop.home[u][0]))
        pop.labels.append(
            _label("heavy_day", cal, user=u, cohort=cid, a=day, b=day + 1, detail=f"{n} pages",
                   shape="day")
        )  # fmt: skip
    # cohort over-use: one cohort reads one lesson far more than its peers
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
    # cohorts do not multiply with the scale (their students do): three cases at every scale
    n_over = 3 if demo else 0
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
        lesson = _normalise_lesson(cur.paths[pid])
        s, e = cal.day(info[cid]["start_date"]), cal.day(info[cid]["end_date"])
        s, e = max(s, 0), min(e, cal.n_days - 1)
        for u in plan_users[cid]:
            n = int(rng.poisson(30))
            if n == 0:
                continue
            days = rng.integers(s, e + 1, n)
            ts = base + days * 86400 + rng.integers(9 * 3600, 20 * 3600, n)
            pop.injected.append(
                _injected_rows(np.sort(ts), np.full(n, pid), u, cid, pop.home[u][0])
            )
        pop.labels.append(
            _label("cohort_overuse", cal, cohort=cid, lesson=lesson, a=s, b=e + 1,
                   detail=f"cohort {info[cid]['name']} reads {lesson} far more than its peers",
                   shape="strong")
        )  # fmt: skip
    # front end: one user, one day, five rows (a test program)
    u = pop.add_user(rng, key=float(cal.day(dt.date(2019, 2, 12))))
    day = cal.day(dt.date(2019, 2, 12))
    ts = base + day * 86400 + 14 * 3600 + np.cumsum(rng.integers(20, 90, 5))
    pids = np.array([cur.bare_old[0], *cur.lesson_old[:4]])
    pop.injected.append(_injected_rows(ts, pids, u, FRONT_END_COHORT, pop.home[u][0]))
    # one row with no path (real log has one)
    for _ in range(count(1)):
        u, cid = regular[next(picks)]
        day = window(cid, 5)
        ts = np.array([base + day * 86400 + 11 * 3600 + int(rng.integers(0, 3600))])
        pop.injected.append(_injected_rows(ts, np.array([-1]), u, cid, pop.home[u][0]))


# --- generation ------------------------------------------------------------------------------------


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


def _flat(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.array([len(x) for x in lists], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    flat = np.array([i for x in lists for i in x] or [0], dtype=np.int64)
    return off, n, flat


def _frame(pop: Population, cal: Calendar) -> Frame:
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


def _month_rows(
    rng: np.random.Generator,
    f: Frame,
    cal: Calendar,
    cur: Curriculum,
    da: int,
    db: int,
    cutoff_day: int,
) -> dict[str, np.ndarray]:
    """All sessions starting on days [da, db) expanded into rows (internal columns)."""
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
        night = (seg["cohort"][s_seg] == 28) & (rng.random(n_s) < sc.staff_night_p)
        hours = np.where(night, rng.choice(np.array([20, 21, 22, 23, 0, 1]), n_s), hours)
    start = _epoch(cal.day0) + day * 86400 + hours * 3600 + rng.integers(0, 3600, n_s)
    user = seg["user"][s_seg]
    cohort = seg["cohort"][s_seg]
    # IPs: campus NAT in class hours before remote teaching, else home or roaming addresses
    remote_day = cal.day(REMOTE_FROM)
    campus = (
        seg["campus"][s_seg]
        & ~weekend
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
    # reading profile: cross-program sessions read the other track's modules
    track = seg["track"][s_seg]
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
    profile = np.where(cross, np.where(track == 0, P_DS, P_JAVA), seg["profile"][s_seg])
    n_mod = len(cur.modules)
    s_module = (
        np.searchsorted(cur.profiles, profile + rng.random(n_s), side="right") - profile * n_mod
    )
    s_module = np.clip(s_module, 0, n_mod - 1)
    # rows
    if sc.session_sigma is None:
        length = rng.geometric(1.0 / MEAN_SESSION, n_s)
    elif sc.session_sigma > 0:  # heavier tail than geometric, same mean
        mu = np.log(MEAN_SESSION) - sc.session_sigma**2 / 2
        length = np.maximum(1, np.round(rng.lognormal(mu, sc.session_sigma, n_s))).astype(np.int64)
    else:  # lighter tail
        length = 1 + rng.poisson(MEAN_SESSION - 1, n_s)
    if sc.staff_session_factor != 1.0:
        length = np.ceil(length * seg["lenf"][s_seg]).astype(np.int64)
    r_s = np.repeat(np.arange(n_s), length)
    n_r = len(r_s)
    gaps = rng.exponential(GAP_SECONDS, n_r) + 2.0
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    gaps[first] = 0.0
    csum = np.cumsum(gaps)
    offsets = csum - csum[first][np.repeat(np.arange(n_s), length)]
    ts = start[r_s] + offsets.astype(np.int64)
    r_profile = profile[r_s]
    switch = rng.random(n_r) < P_SWITCH
    redraw = (
        np.searchsorted(cur.profiles, r_profile + rng.random(n_r), side="right") - r_profile * n_mod
    )
    module = np.where(switch, np.clip(redraw, 0, n_mod - 1), s_module[r_s])
    r_day = day[r_s]
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
    if sc.campus_alternate:  # a load-balanced NAT pool: a campus request leaves by either address
        r_ip = np.where(r_ip < 2, rng.integers(0, 2, n_r), r_ip)
    return {
        "ts": ts.astype(np.int64),
        "pid": pid.astype(np.int64),
        "uidx": user[r_s].astype(np.int64),
        "cohort": cohort[r_s].astype(np.int64),
        "ipid": r_ip.astype(np.int64),
        "cross": cross[r_s],
        "lesson": kind > len(NAV) + 1,
    }


def _months(cal: Calendar) -> list[tuple[int, int]]:
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


# --- the run ---------------------------------------------------------------------------------------


def _enrolled_reading(
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
    base = _epoch(cal.day0)
    parts = [
        _month_rows(np.random.default_rng([seed, 1, m]), frame, cal, cur, da, db, cutoff_day)
        for m, (da, db) in enumerate(_months(cal))
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


def _gzip_level(scale: float) -> int:
    """Level 6 keeps the embedded demo small; benchmark volumes favour speed (zlib dominates)."""
    return 6 if scale <= 2 else 1


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


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
    cohorts = _read_cohorts(Path(reference_dir))
    setup = np.random.default_rng([seed, 0])
    cutoff = sc.cutoff_base + dt.timedelta(days=int(setup.integers(-5, 6)))
    cal = _calendar(sc)
    cur = _curriculum(Path(reference_dir), cal.day0, sc)
    pop = _population(setup, scale, cohorts, cal, cur, sc, seed)

    # user ids follow account creation order; user 1 is the real first row's user
    keys = np.array(pop.keys)
    first_user = int(np.argmin(keys))
    uid = np.empty(len(keys), dtype=np.int64)
    uid[np.argsort(keys, kind="stable")] = np.arange(1, len(keys) + 1)
    start_epoch = (
        _epoch(cal.day0) + (sc.data_start - dt.datetime.combine(cal.day0, dt.time())).seconds
    )
    end_epoch = (
        _epoch(sc.data_end.date())
        + (sc.data_end - dt.datetime.combine(sc.data_end.date(), dt.time())).seconds
    )
    seg_cohort = np.array(pop.seg["cohort"])
    last_user = int(np.array(pop.seg["user"])[np.flatnonzero(seg_cohort == 139)[0]])
    pop.injected.append(_injected_rows(np.array([start_epoch]), np.array([0]), first_user, 8, 1))
    pop.injected.append(
        _injected_rows(
            np.array([end_epoch]), np.array([cur.bare_old[cur.modules.index("java-i")]]),
            last_user, 139, pop.home[last_user][0],
        )
    )  # fmt: skip
    frame = _frame(pop, cal)
    cutoff_day = cal.day(cutoff)
    if pop.overuse:  # sized on the base log's reading, so the realized factor is the planned one
        from analysis.scenarios.inject import add_overuse

        counts = _enrolled_reading(seed, pop, frame, cal, cur, cohorts, cutoff_day)
        add_overuse(np.random.default_rng([seed, 7]), pop, cal, *counts)
    injected = pl.DataFrame(
        {k: np.concatenate([block[k] for block in pop.injected]) for k in pop.injected[0]}
    )
    paths = pl.Series("path", cur.paths, dtype=pl.String)
    ips = pl.Series("ip", _ip_strings(np.array(pop.ips, dtype=np.int64)), dtype=pl.String)

    logs_name = "logs.txt.gz" if gzip_logs else "logs.txt"
    target = out / logs_name
    tmp = target.with_name(target.name + ".tmp")
    rows = no_cohort = campus = 0
    users: set[int] = set()
    ip_seen: set[int] = set()
    path_seen: set[str] = set()
    cohort_seen: set[int] = set()
    carry = injected.clear()
    months = _months(cal)
    try:
        with (
            tmp.open("wb") as raw,
            Progress("simulating", len(months), unit="half-months", enabled=progress) as bar,
        ):
            sink: Any = (
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=_gzip_level(scale)
                )
                if gzip_logs
                else raw
            )
            for m, (da, db) in enumerate(months):
                rng = np.random.default_rng([seed, 1, m])
                lo_ep, hi_ep = _epoch(cal.day0) + da * 86400, _epoch(cal.day0) + db * 86400
                generated = pl.DataFrame(_month_rows(rng, frame, cal, cur, da, db, cutoff_day))
                chunk = pl.concat(
                    [
                        carry,
                        generated,
                        injected.filter((pl.col("ts") >= lo_ep) & (pl.col("ts") < hi_ep)),
                    ]
                )
                last = m == len(months) - 1
                carry = chunk.filter(pl.col("ts") >= hi_ep) if not last else chunk.clear()
                chunk = chunk.filter(
                    (pl.col("ts") < hi_ep)
                    & (pl.col("ts") >= start_epoch)
                    & (pl.col("ts") <= end_epoch)
                )
                typo = rng.random(chunk.height) < TYPO_RATE / 0.7
                chunk = chunk.with_columns(
                    pl.Series("typo", typo) & pl.col("lesson"),
                    pl.when(pl.col("ts") < pl.lit(frame.null_until).gather(pl.col("uidx")))
                    .then(None)
                    .when(pl.col("cohort") >= 0)
                    .then(pl.col("cohort"))
                    .alias("cohort"),
                    pl.lit(pl.Series(uid)).gather(pl.col("uidx")).alias("user_id"),
                    pl.when(pl.col("pid") >= 0)
                    .then(pl.lit(paths).gather(pl.col("pid").clip(0)))
                    .alias("path"),
                )
                cut = (pl.col("path").str.len_chars() - 2).cast(pl.Float64) * pl.lit(
                    pl.Series(rng.random(chunk.height))
                )
                cut = cut.floor().cast(pl.Int64) + 1
                chunk = chunk.with_columns(
                    pl.when(pl.col("typo"))
                    .then(pl.col("path").str.slice(0, cut) + pl.col("path").str.slice(cut + 1))
                    .otherwise(pl.col("path"))
                    .alias("path")
                ).sort("ts", "user_id", "path", "ipid", nulls_last=False)
                lines = chunk.select(
                    pl.concat_str(
                        pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"),
                        pl.col("path").fill_null(""),
                        pl.col("user_id").cast(pl.String),
                        pl.col("cohort").cast(pl.String).fill_null(""),
                        pl.lit(ips).gather(pl.col("ipid")),
                        separator=" ",
                    ).alias("line")
                )
                buffer = io.BytesIO()
                lines.write_csv(buffer, include_header=False, quote_style="never")
                sink.write(buffer.getvalue())
                # running totals and label evidence
                rows += chunk.height
                no_cohort += chunk["cohort"].null_count()
                campus += int((chunk["ipid"] < len(sc.campus_ips)).sum())
                users.update(chunk["user_id"].unique().to_list())
                ip_seen.update(chunk["ipid"].unique().to_list())
                path_seen.update(chunk["path"].drop_nulls().unique().to_list())
                cohort_seen.update(chunk["cohort"].drop_nulls().unique().to_list())
                bar.advance(1)
            if gzip_logs:
                sink.close()
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TargetError(f"{target}: cannot write the simulated log ({exc})") from exc

    labels = _labels_frame(pop, uid, ips)
    try:
        shutil.copyfile(Path(reference_dir) / "cohorts.csv", out / "cohorts.csv")
        buffer = io.BytesIO()
        labels.write_csv(buffer, datetime_format="%Y-%m-%dT%H:%M:%S")
        _write_atomic(out / "labels.csv", buffer.getvalue())
        label_counts = {k: labels.filter(pl.col("kind") == k).height for k in LABEL_KINDS}
        meta = {
            "simulated": True,
            "seed": seed,
            "scale": scale,
            "rows": rows,
            "users": len(users),
            "ips": len(ip_seen),
            "paths": len(path_seen),
            "generator_version": GENERATOR_VERSION,
            "cross_program_cutoff": cutoff.isoformat(),
            "scenario": sc.name,
            "campus_ips": list(sc.campus_ips),
            "remote_from": REMOTE_FROM.isoformat(),
            "data_start": sc.data_start.isoformat(sep=" "),
            "data_end": sc.data_end.isoformat(sep=" "),
            "logs_file": logs_name,
            "labels": label_counts,
        }
        _write_atomic(out / "simulation.json", (json.dumps(meta, indent=2) + "\n").encode())
    except OSError as exc:
        raise TargetError(f"{out}: cannot write simulation outputs ({exc})") from exc
    return SimulationSummary(
        out=out, seed=seed, scale=scale, rows=rows, users=len(users), ips=len(ip_seen),
        paths=len(path_seen), cohorts=len(cohort_seen), start=sc.data_start, end=sc.data_end,
        no_cohort_rows=no_cohort, campus_rows=campus, labels=label_counts,
        cross_program_cutoff=cutoff, logs_file=logs_name,
    )  # fmt: skip


def _labels_frame(pop: Population, uid: np.ndarray, ips: pl.Series) -> pl.DataFrame:
    """The injected behaviours, known up front (base behaviour such as routine alumni reading, staff,
    the routine no-cohort users and campus NAT is never labelled)."""
    records = []
    for lab in pop.labels:
        detail = re.sub(r"@(\d+)", lambda m: str(uid[int(m.group(1))]), lab["detail"])
        records.append(
            {
                "kind": lab["kind"],
                "user_id": None if lab["user"] is None else int(uid[lab["user"]]),
                "ip": None if lab["ip"] is None else ips[lab["ip"]],
                "cohort_id": lab["cohort_id"],
                "lesson": lab["lesson"],
                "start": lab["start"],
                "end": lab["end"],
                "detail": detail,
                "shape": lab.get("shape"),
            }
        )
    schema = {**LABEL_SCHEMA, "start": pl.Int64(), "end": pl.Int64()}
    frame = (
        pl.DataFrame(records, schema=schema, orient="row")
        if records
        else pl.DataFrame(schema=schema)
    )
    kinds = {k: i for i, k in enumerate(LABEL_KINDS)}
    return (
        frame.with_columns(
            pl.from_epoch("start", time_unit="s").cast(pl.Datetime("us")),
            pl.from_epoch("end", time_unit="s").cast(pl.Datetime("us")),
            pl.col("kind").replace_strict(kinds, return_dtype=pl.Int64).alias("_order"),
        )
        .sort("_order", "start", "user_id", "cohort_id", nulls_last=True)
        .drop("_order")
        .select(list(LABEL_SCHEMA))
    )
