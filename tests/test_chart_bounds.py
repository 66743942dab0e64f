"""Every chart aggregates or bins: its data stays bounded however many students, rows or IPs there are.

A chart that draws one point per student breaks Altair's 5,000-row limit (MaxRowsError) once a school
has more students than that, so `build` fails at 10x; here a log with 6,000 students (more than the
limit) goes through all eight questions and every chart of every question must serialise with at most
CHART_MAX_ROWS rows of inline data per dataset.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from altair import MaxRowsError

from analysis.charts import charts_for
from analysis.config import Config
from analysis.report import compute_report
from analysis.sources.snapshot import Snapshot

STUDENTS = 6_000  # more than Altair's default 5,000-row limit
CHART_MAX_ROWS = 1_000  # an aggregated chart of this log needs far fewer rows than students
LESSONS = [f"module-{m}/lesson-{n}" for m in range(6) for n in range(5)]


def _many_students(cohorts: pl.DataFrame) -> Snapshot:
    rng = np.random.default_rng(12)
    students = cohorts.filter(pl.col("program_id").is_in([1, 2, 3]) & (pl.col("name") != "Staff"))
    cohort_of = rng.choice(students["id"].to_numpy(), STUDENTS)
    starts = dict(zip(students["id"].to_list(), students["start_date"].to_list(), strict=True))
    per_user = 6
    users = np.repeat(np.arange(1, STUDENTS + 1), per_user)
    cohort_ids = np.repeat(cohort_of, per_user)
    day = rng.integers(0, 60, users.size)
    base = np.array([np.datetime64(starts[c], "ms") for c in cohort_ids.tolist()])
    seconds = day * 86_400 + rng.integers(9 * 3600, 17 * 3600, users.size)
    logs = pl.DataFrame(
        {
            "timestamp": base + (seconds * 1000).astype("timedelta64[ms]"),
            "path": rng.choice(LESSONS, users.size),
            "user_id": users,
            "cohort_id": cohort_ids,
            "ip": [f"10.{u // 65536}.{(u // 256) % 256}.{u % 256}" for u in users.tolist()],
        }
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("us")))
    return Snapshot.from_frames(logs=logs, cohorts=cohorts, simulated=True)


def _inline_rows(spec: dict) -> list[int]:
    sizes = [len(values) for values in spec.get("datasets", {}).values()]
    data = spec.get("data")
    if isinstance(data, dict) and isinstance(data.get("values"), list):
        sizes.append(len(data["values"]))
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key, []):
            sizes += _inline_rows(sub)
    if isinstance(spec.get("spec"), dict):
        sizes += _inline_rows(spec["spec"])
    return sizes


@pytest.mark.slow
def test_every_chart_is_bounded_with_more_students_than_altairs_limit(
    config: Config, reference_cohorts: pl.DataFrame
) -> None:
    report = compute_report(config, progress=False, snapshot=_many_students(reference_cohorts))
    assert report.dataset["users"] == STUDENTS
    too_big = {}
    for number, result in sorted(report.results.items()):
        for index, chart in enumerate(charts_for(result), start=1):
            try:
                spec = chart.to_dict()
            except MaxRowsError:  # more than 5,000 rows: not aggregated
                too_big[f"q{number} chart {index}"] = "over Altair's 5,000-row limit"
                continue
            largest = max(_inline_rows(spec), default=0)
            if largest > CHART_MAX_ROWS:
                too_big[f"q{number} chart {index}"] = largest
    assert not too_big, f"charts with more than {CHART_MAX_ROWS} data rows: {too_big}"


def test_the_log_has_more_students_than_the_limit(reference_cohorts: pl.DataFrame) -> None:
    snapshot = _many_students(reference_cohorts)
    users = snapshot.logs.select(pl.col("user_id").n_unique()).collect().item()
    assert users > 5_000
    first = snapshot.logs.select(pl.col("timestamp").min()).collect().item()
    assert first >= dt.datetime(2014, 1, 1)


def _color_domains(spec: dict) -> list[list[str]]:
    found = []
    color = spec.get("encoding", {}).get("color", {})
    if isinstance(color, dict) and color.get("field") == "program":
        found.append(list(color.get("scale", {}).get("domain", [])))
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key, []):
            found += _color_domains(sub)
    if isinstance(spec.get("spec"), dict):
        found += _color_domains(spec["spec"])
    return found


@pytest.mark.slow
def test_program_legends_list_only_the_programs_a_chart_shows(demo_snapshot, demo_config) -> None:
    """A legend names what the chart draws: no Staff, No cohort or Front end on a chart without them."""
    report = compute_report(demo_config, progress=False, snapshot=demo_snapshot)
    for number, result in sorted(report.results.items()):
        for index, chart in enumerate(charts_for(result), start=1):
            spec = chart.to_dict()
            shown = {
                row["program"]
                for values in spec.get("datasets", {}).values()
                for row in values
                if isinstance(row, dict) and row.get("program") is not None
            }
            for domain in _color_domains(spec):
                extra = set(domain) - shown
                assert not extra, f"q{number} chart {index}: legend lists {sorted(extra)} not drawn"
