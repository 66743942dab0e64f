"""The curriculum the simulated people read: module and lesson paths (web dev and data science, with
the data-science renames), navigation and image paths, lesson popularity, and the reading profiles
(module weights per kind of reader) calibrated on the real `lesson_hits_by_cohort.csv`.

Public API: `Curriculum`, `build_curriculum`, `normalise_lesson`, the path tables (`WEB_MODULES`,
`DS_MODULES`, `DS_RENAMED`, `NAV`) and the profile indices `P_*`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from analysis.scenarios.library import DEMO, Scenario

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
# Profiles: rows of the module-weight matrix.
P_JAVA, P_JAVA_ALUM, P_PHP, P_DS, P_DS_ALUM, P_STAFF, P_NOC_WEB, P_NOC_MIX = range(8)
NEVER = 10**6  # rename day of a module that keeps its name

# A lesson-like page: (old spelling, new spelling, popularity weight)
Entry = tuple[str, str, float]


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


def normalise_lesson(path: str) -> str:
    """Same normalisation as prepare.lesson_name (numbered prefixes stripped, lower case)."""
    return re.sub(r"(^|/)\d+(?:\.\d+)*[-_]", r"\1", path.strip("/").lower())


def module_weights(reference_dir: Path) -> dict[str, dict[str, float]]:
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


def _renaming(module: str, home: str, day0: dt.date, sc: Scenario) -> tuple[bool, int, int]:
    """Whether the module gets a numbered spelling, its number and the day index it happens."""
    ds = module in DS_MODULES
    number = DS_MODULES[module][0] if ds else 0
    if ds and module in DS_RENAMED and home == module:
        return True, number, (DS_RENAMED[module] - day0).days + sc.rename_shift_days
    if module in sc.web_renames:
        return True, list(WEB_MODULES).index(module) + 1, (sc.web_renames[module] - day0).days
    return False, number, NEVER


def _entries(module: str, lessons: list[str], number: int, renamed: bool) -> list[Entry]:
    """The module's lessons, then the sub-pages of its first eight lessons."""
    names: list[Entry] = []
    for rank, lesson in enumerate(lessons):
        numbered = f"{number}.{rank + 1}-" if module == "fundamentals" else f"{rank + 1}-"
        prefix = numbered if renamed else ""
        boost = FIRST_LESSON_BOOST.get(module, 1.0) if rank == 0 else 1.0
        names.append((lesson, prefix + lesson, boost / (rank + 3.0) ** 0.6))
    subs = []
    for rank, lesson in enumerate(lessons[:8]):
        for k, sub in enumerate(SUBPAGES[: 7 - rank // 2]):
            new = names[rank][1]
            subs.append((f"{lesson}/{sub}", f"{new}/{sub}", 0.05 / (rank + 1) / (k + 1)))
    return names + subs


def _profiles(weights: dict[str, dict[str, float]], modules: list[str]) -> np.ndarray:
    """Cumulative module weights per reading profile, row p offset by p (flattened)."""
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
    return profiles_cdf.ravel()


def build_curriculum(reference_dir: Path, day0: dt.date, sc: Scenario = DEMO) -> Curriculum:
    weights = module_weights(reference_dir)
    modules = list(WEB_MODULES) + list(DS_MODULES)
    paths: list[str] = [p for p, _ in NAV]
    bare_old: list[int] = []
    bare_new: list[int] = []
    rename_day: list[int] = []
    cdf_parts: list[np.ndarray] = []
    old_parts: list[int] = []
    new_parts: list[int] = []
    core: list[int] = []
    image_ids = []
    for j, module in enumerate(modules):
        lessons = DS_MODULES[module][1] if module in DS_MODULES else WEB_MODULES[module]
        home = sc.merged_modules.get(module, module)  # a DS module may live inside a web module
        renamed, number, day = _renaming(module, home, day0, sc)
        rename_day.append(day)
        new_module = f"{number}-{module}" if renamed else module
        bare_old.append(len(paths))
        paths.append(home)
        if renamed:
            bare_new.append(len(paths))
            paths.append(new_module)
        else:
            bare_new.append(bare_old[-1])
        entries = _entries(module, lessons, number, renamed)
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
        core.extend(old_parts[-len(entries) :][: len(lessons)])
        imgs = []
        for name in ("diagram.png", "screenshot.jpg", "logo.svg"):
            imgs.append(len(paths))
            paths.append(f"{home}/images/{name}")
        image_ids.append(imgs)
    cdf = np.concatenate(cdf_parts)
    cdf[np.cumsum([len(p) for p in cdf_parts]) - 1] = np.arange(1, len(modules) + 1)  # exact ends
    return Curriculum(
        modules=modules,
        profiles=_profiles(weights, modules),
        paths=paths,
        nav_ids=np.arange(len(NAV)),
        bare_old=np.array(bare_old),
        bare_new=np.array(bare_new),
        lesson_cdf=cdf,
        lesson_old=np.array(old_parts),
        lesson_new=np.array(new_parts),
        rename_day=np.array(rename_day),
        image_ids=np.array(image_ids),
        is_ds=np.array([m in DS_MODULES for m in modules]),
        bare_p=np.array(
            [P_BARE * (BARE_DS if m in DS_MODULES else BARE_BOOST.get(m, 1.0)) for m in modules]
        ),
        all_lessons=core,
    )
