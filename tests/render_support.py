"""Shared by the publishing tests (render, pages, slide, email, browser): a small hostile snapshot and
one cached render of it, and one cached render of the demo snapshot.

Kept out of conftest.py (shared with every helper); imported by tests/test_render.py and friends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import random
from pathlib import Path
from typing import Any

import polars as pl

from analysis.config import Config, load_config
from analysis.sources.snapshot import Snapshot

# Untrusted values that must come out escaped in every output.
HOSTILE_PATHS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "**bold**",
    "[link](javascript:alert(1))",
    "$x$",
    "{.class}",
    "`code`</script><script>alert(2)</script>",
]
LESSONS = [
    "javascript-i",
    "javascript-i/functions",
    "java-ii",
    "html-css",
    "spring",
    "mysql",
    "jquery",
    "classification/overview",
    "python/introduction-to-python",
    "sql/mysql-overview",
    "fundamentals/intro",
    "storytelling/intro-to-tableau",
]
SECRET_IP = "198.51.100.77"  # must never appear in a public build

_CACHE: dict[str, Any] = {}


def _cohorts() -> pl.DataFrame:
    rows = [
        (1, "Andromeda", dt.date(2018, 1, 8), dt.date(2018, 6, 1), 2),
        (2, "Betelgeuse", dt.date(2018, 8, 6), dt.date(2019, 1, 10), 2),
        (3, "Curie", dt.date(2018, 9, 3), dt.date(2019, 2, 15), 3),
        (4, "Darden", dt.date(2019, 7, 1), dt.date(2019, 12, 10), 3),
        (5, "Europa", dt.date(2019, 3, 4), dt.date(2019, 8, 20), 2),
        (6, "Staff", dt.date(2014, 2, 4), dt.date(2014, 2, 4), 2),
    ]
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "slack": ["#x"] * len(rows),
            "start_date": [r[2] for r in rows],
            "end_date": [r[3] for r in rows],
            "created_at": [None] * len(rows),
            "updated_at": [None] * len(rows),
            "deleted_at": [None] * len(rows),
            "program_id": [r[4] for r in rows],
        }
    )


def hostile_snapshot(seed: int = 7) -> Snapshot:
    """~6,000 views over two years: five cohorts, staff, no-cohort users, hostile paths, one scraper."""
    rng = random.Random(seed)
    cohorts = _cohorts()
    rows = []
    user = 0
    for cohort_id, start, end, program in zip(
        cohorts["id"],
        cohorts["start_date"],
        cohorts["end_date"],
        cohorts["program_id"],
        strict=True,
    ):
        ds = program == 3
        pool = LESSONS[7:] if ds else LESSONS[:7]
        first = max(start, dt.date(2018, 1, 1))
        span = max((end - first).days, 30)
        for _ in range(6):
            user += 1
            ip = f"10.{cohort_id}.{user}.{rng.randint(1, 250)}"
            for _ in range(140):
                day = first + dt.timedelta(days=rng.randrange(span + 60))
                moment = dt.datetime.combine(day, dt.time(rng.randint(8, 20), rng.randint(0, 59)))
                path = rng.choice(pool) if rng.random() > 0.05 else rng.choice(LESSONS)
                rows.append((moment, path, user, int(cohort_id), ip))
    # hostile paths, read by one student from a "secret" IP; those that are attack probes ("<script")
    # by another student, so the probe episode (whose views are set aside from every question but
    # question 4) does not take the hostile lesson paths out of the pages
    for i, path in enumerate(HOSTILE_PATHS):
        user = 9 if "<script" in path else 8
        for k in range(40):
            rows.append((dt.datetime(2018, 10, 1 + k % 20, 10, i), path, user, 2, SECRET_IP))
    # a scraper: 80 distinct pages in 80 seconds at night
    for k in range(80):
        rows.append(
            (
                dt.datetime(2019, 4, 2, 3, 0) + dt.timedelta(seconds=k),
                f"{LESSONS[k % 7]}/page-{k}",
                3,
                1,
                SECRET_IP,
            )
        )
    # no-cohort users
    for k in range(200):
        rows.append(
            (
                dt.datetime(2019, 2, 1, 12) + dt.timedelta(hours=k),
                rng.choice(LESSONS),
                900 + k % 3,
                None,
                "192.0.2.10",
            )
        )
    logs = pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )
    return Snapshot.from_frames(logs, cohorts, source="test: hostile paths", simulated=True)


def report_for(snapshot: Snapshot, config: Config, lenient: bool = False):
    """compute_report on an in-memory snapshot; a question module not written yet gets a stub."""
    from analysis import report as report_module
    from analysis.prepare import prepare
    from analysis.questions import REGISTRY
    from analysis.results import QuestionResult

    prepared = report_module.materialize(prepare(snapshot, config))
    results = {}
    for number, name in REGISTRY.items():
        if importlib.util.find_spec(name) is None:
            results[number] = QuestionResult(
                number, f"Question {number}", f"Question {number} is not answered yet.", [], "-"
            )
            continue
        module = importlib.import_module(name)
        try:
            results[number] = module.answer(snapshot, config, prepared)
        except Exception as exc:  # lenient: develop the pages while a question module is unfinished
            if not lenient:
                raise
            results[number] = QuestionResult(number, module.TITLE, f"failed: {exc}", [], "-")
    return report_module.Report(
        dataset=report_module.dataset_description(snapshot), results=results, config=config
    )


def configured(root: Path, privacy: str = "public") -> Config:
    base = load_config(environ={})
    return base.replace(
        paths=dataclasses.replace(
            base.paths, data_dir=root / "data", site_dir=root / "_site", build_dir=root / "_build"
        ),
        privacy=dataclasses.replace(base.privacy, mode=privacy),
    )


def hostile_build(root: Path, privacy: str = "public"):
    """Render site, slide and email (slide.png too) of the hostile snapshot once per (session, privacy)."""
    key = f"hostile-{privacy}"
    if key not in _CACHE:
        from analysis.publish.render import render

        config = configured(root, privacy)
        report = report_for(hostile_snapshot(), config)
        summary = render(config, engine="pandoc", progress=False, report=report, slide_png=True)
        _CACHE[key] = (config, report, summary)
    return _CACHE[key]


def demo_build(root: Path, snapshot_dir: Path):
    """Render the demo snapshot (slide.png too) once per session (browser, slide, email, pages tests)."""
    if "demo" not in _CACHE:
        from analysis.publish.render import render
        from analysis.report import compute_report, write_findings
        from analysis.sources.snapshot import load_snapshot

        config = configured(root)
        report = compute_report(config, progress=False, snapshot=load_snapshot(snapshot_dir))
        write_findings(report, config.paths.build_dir)
        summary = render(config, engine="pandoc", progress=False, report=report, slide_png=True)
        _CACHE["demo"] = (config, report, summary)
    return _CACHE["demo"]
