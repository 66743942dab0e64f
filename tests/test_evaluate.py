"""evaluate: label matching (same user or IP, time within a day), precision/recall per kind, targets and
exit code on tiny inline data; on the demo snapshot and two more simulated seeds the targets are met."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from analysis.config import load_config
from analysis.errors import InputError
from analysis.questions.q4 import INCIDENT_SCHEMA
from analysis.scenarios import evaluate as ev
from analysis.schema import LABEL_SCHEMA
from analysis.sources.snapshot import Snapshot

T0 = dt.datetime(2019, 2, 14, 2, 14)


def _labels(rows: list[dict]) -> pl.DataFrame:
    full = [{name: row.get(name) for name in LABEL_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=LABEL_SCHEMA)


def _incidents(rows: list[dict]) -> pl.DataFrame:
    defaults = {"rank": 0, "views": 1, "score": 1.0, "severity": 0.5, "evidence": "e"}
    full = [{name: {**defaults, **row}.get(name) for name in INCIDENT_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=INCIDENT_SCHEMA)


def test_label_recalled_by_same_user_within_a_day():
    labels = _labels(
        [
            {"kind": "scraping", "user_id": 5, "ip": "203.0.113.9", "start": T0, "end": T0},
            {"kind": "scraping", "user_id": 6, "start": T0, "end": T0},
            {"kind": "scraping", "user_id": 7, "start": T0, "end": T0},
            {"kind": "scraping", "ip": "192.0.2.1", "start": T0, "end": T0},
        ]
    )
    incidents = _incidents(
        [
            {"kind": "scraping", "user_id": 5, "start": T0 + dt.timedelta(hours=20), "end": T0},
            {"kind": "scraping", "user_id": 6, "start": T0 + dt.timedelta(days=3)},  # too late
            {"kind": "heavy_day", "user_id": 7, "start": T0},  # wrong kind for a scraping label
            {"kind": "scraping", "user_id": 8, "ip": "192.0.2.1", "start": T0},  # by IP
        ]
    )
    matched = ev.match_labels(labels, incidents, "scraping")
    assert matched["recalled"].to_list() == [True, False, False, True]


def test_heavy_day_label_is_found_by_a_scraping_burst_that_day():
    labels = _labels([{"kind": "heavy_day", "user_id": 9, "start": T0, "end": T0}])
    incidents = _incidents([{"kind": "scraping", "user_id": 9, "start": T0}])
    assert ev.match_labels(labels, incidents, "heavy_day")["recalled"].to_list() == [True]


def test_labels_without_times_match_on_identity():
    labels = _labels(
        [{"kind": "unknown_user", "user_id": 900}, {"kind": "unknown_user", "user_id": 901}]
    )
    incidents = _incidents([{"kind": "unknown_identity", "user_id": 900, "start": T0}])
    assert ev.match_labels(labels, incidents, "unknown_user")["recalled"].to_list() == [True, False]


def test_precision_counts_only_labelled_kinds():
    labels = _labels(
        [
            {"kind": "scraping", "user_id": 5, "start": T0, "end": T0},
            {"kind": "out_of_enrollment", "user_id": 11, "start": T0, "end": T0},
        ]
    )
    incidents = _incidents(
        [
            {"kind": "scraping", "user_id": 5, "start": T0},
            {"kind": "out_of_enrollment", "user_id": 11, "start": T0},
            {"kind": "out_of_enrollment", "user_id": 12, "start": T0},  # false positive
            {"kind": "shared_ip", "ip": "192.0.2.7", "start": T0},  # no ground truth: ignored
            {"kind": "probing", "ip": "192.0.2.8", "start": T0},
        ]
    )
    scores, true_total, scored_total = ev.score_incidents(labels, incidents)
    assert (true_total, scored_total) == (2, 3)
    by_kind = {score.kind: score for score in scores}
    assert by_kind["scraping"].recall == 1.0 and by_kind["scraping"].precision == 1.0
    assert by_kind["out_of_enrollment"].precision == 0.5
    assert by_kind["account_sharing"].recall is None


COHORTS = pl.DataFrame(
    {
        "id": [10],
        "name": ["Ada"],
        "slack": ["#ada"],
        "start_date": [dt.date(2019, 1, 7)],
        "end_date": [dt.date(2019, 6, 7)],
        "created_at": [None],
        "updated_at": [None],
        "deleted_at": [None],
        "program_id": [3],
    }
)


def _tiny_snapshot(campus_scraper: bool = False) -> Snapshot:
    """A scraper (user 5), an alumnus two years late (user 6) and quiet readers."""
    stamps, users, ips, paths = [], [], [], []
    for u in range(20, 26):  # quiet readers, one page a day
        for d in range(30):
            stamps.append(dt.datetime(2019, 1, 8, 10) + dt.timedelta(days=d, minutes=u))
            users.append(u)
            ips.append(f"198.51.100.{u}")
            paths.append(f"classification/lesson-{d % 7}")
    scraper_ip = "10.0.0.1" if campus_scraper else "203.0.113.9"
    for i in range(200):
        stamps.append(T0 + dt.timedelta(seconds=i))
        users.append(5)
        ips.append(scraper_ip)
        paths.append(f"module/page-{i}")
    stamps.append(dt.datetime(2021, 6, 10, 20))
    users.append(6)
    ips.append("198.51.100.99")
    paths.append("classification/overview")
    logs = pl.DataFrame(
        {
            "timestamp": stamps,
            "path": paths,
            "user_id": users,
            "cohort_id": [10] * len(stamps),
            "ip": ips,
        }
    ).sort("timestamp")
    return Snapshot.from_frames(logs=logs, cohorts=COHORTS, simulated=True)


TINY_LABELS = [
    {"kind": "scraping", "user_id": 5, "ip": "203.0.113.9", "start": T0, "end": T0},
    {
        "kind": "out_of_enrollment",
        "user_id": 6,
        "cohort_id": 10,
        "start": dt.datetime(2021, 6, 10, 20),
        "end": dt.datetime(2021, 6, 10, 20),
    },
    {"kind": "heavy_day", "user_id": 5, "start": T0, "end": T0},
]


def _no_other_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny data has no cohort peers or cross-program reading: score question 4 alone."""
    monkeypatch.setattr(ev, "_question", lambda number: None)


def test_tiny_evaluation_meets_targets(monkeypatch):
    _no_other_questions(monkeypatch)
    config = load_config(environ={})
    evaluation = ev.evaluate(
        _tiny_snapshot(), config, _labels(TINY_LABELS), {"campus_ips": ["10.0.0.1"]}
    )
    assert evaluation.passed and evaluation.exit_code() == 0
    assert evaluation.precision == 1.0
    text = evaluation.describe()
    assert "[PASS] recall scraping: 1/1 = 100%" in text
    assert "shared_ip" in text  # the unscored kinds are named
    assert "question 5 is not available" in text


def test_missed_label_fails_with_exit_code_5(monkeypatch):
    _no_other_questions(monkeypatch)
    config = load_config(environ={})
    labels = _labels(TINY_LABELS + [{"kind": "scraping", "user_id": 77, "start": T0, "end": T0}])
    evaluation = ev.evaluate(_tiny_snapshot(), config, labels, {"campus_ips": ["10.0.0.1"]})
    assert not evaluation.passed and evaluation.exit_code() == 5
    assert "[FAIL] recall scraping: 1/2 = 50%" in evaluation.describe()
    assert "missed scraping: user 77" in evaluation.describe()


def test_campus_scraper_ip_is_not_reported(monkeypatch):
    _no_other_questions(monkeypatch)
    config = load_config(environ={})
    config = config.replace(q4=dataclasses.replace(config.q4, campus_ips=("10.0.0.1",)))
    evaluation = ev.evaluate(
        _tiny_snapshot(campus_scraper=True),
        config,
        _labels(TINY_LABELS),
        {"campus_ips": ["10.0.0.1"]},
    )
    campus = next(t for t in evaluation.targets if t.name.startswith("campus"))
    assert campus.passed and campus.value.startswith("0 scraping incidents")


def test_cutoff_error_is_scored(monkeypatch):
    from types import SimpleNamespace

    fake_q5 = SimpleNamespace(answer=lambda s, c, p: SimpleNamespace(cutoff=dt.date(2019, 6, 20)))
    monkeypatch.setattr(ev, "_question", lambda number: fake_q5 if number == 5 else None)
    config = load_config(environ={})
    evaluation = ev.evaluate(
        _tiny_snapshot(),
        config,
        _labels(TINY_LABELS),
        {"campus_ips": ["10.0.0.1"], "cross_program_cutoff": "2019-05-29"},
    )
    cutoff = next(t for t in evaluation.targets if t.name.startswith("question 5"))
    assert not cutoff.passed and cutoff.value.startswith("22 days")
    assert evaluation.exit_code() == 5


def test_run_evaluation_reads_labels_beside_simulation(tmp_path: Path, monkeypatch):
    _no_other_questions(monkeypatch)
    from analysis.sources.snapshot import write_snapshot

    snapshot = _tiny_snapshot()
    config = load_config(environ={"CURRICULUM_DATA_DIR": str(tmp_path / "data")})
    write_snapshot(
        config.paths.snapshot_dir,
        snapshot.logs.collect(),
        snapshot.cohorts,
        snapshot.quarantine,
        source="test",
        simulated=True,
    )
    labels_dir = tmp_path / "sim"
    labels_dir.mkdir()
    _labels(TINY_LABELS).write_csv(labels_dir / "labels.csv")
    (labels_dir / "simulation.json").write_text(json.dumps({"campus_ips": ["10.0.0.1"]}))
    evaluation = ev.run_evaluation(config, labels_dir / "labels.csv", progress=False)
    assert evaluation.passed
    with pytest.raises(InputError, match="labels file not found"):
        ev.run_evaluation(config, tmp_path / "nope.csv", progress=False)
    rows = snapshot.logs.collect().height
    (labels_dir / "simulation.json").write_text(json.dumps({"rows": rows + 1}))
    with pytest.raises(InputError, match="the labels belong to other data"):
        ev.run_evaluation(config, labels_dir / "labels.csv", progress=False)


@pytest.mark.slow
def test_demo_snapshot_meets_targets(demo_snapshot, demo_config, demo_labels):
    from analysis.config import PROJECT_ROOT

    simulation = json.loads((PROJECT_ROOT / "data/demo/simulation.json").read_text())
    evaluation = ev.evaluate(demo_snapshot, demo_config, demo_labels, simulation)
    assert evaluation.passed, evaluation.describe()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 1234])
def test_other_seeds_meet_targets(seed: int, tmp_path: Path):
    """Not tuned to the demo seed: two more seeds at scale 0.3 also meet every target."""
    from analysis.config import PROJECT_ROOT
    from analysis.scenarios.simulate import simulate
    from analysis.sources.ingest import import_files

    config = load_config(environ={"CURRICULUM_DATA_DIR": str(tmp_path / "data")})
    out = tmp_path / "sim"
    simulate(
        seed=seed,
        scale=0.3,
        out=out,
        reference_dir=PROJECT_ROOT / "data" / "reference",
        progress=False,
    )
    import_files(
        out / "logs.txt.gz", out / "cohorts.csv", config.paths.snapshot_dir, progress=False
    )
    evaluation = ev.run_evaluation(config, out / "labels.csv", progress=False)
    assert evaluation.passed, evaluation.describe()


def test_other_questions_are_scored_from_their_results():
    from types import SimpleNamespace

    labels = _labels(
        [
            {"kind": "cohort_overuse", "cohort_id": 25, "lesson": "java-ii/exceptions"},
            {"kind": "cohort_overuse", "cohort_id": 33, "lesson": "java-iii/deployment"},
            {"kind": "dropout", "user_id": 221, "cohort_id": 23},
            {"kind": "duplicate_identity", "user_id": 285, "detail": "same person as user 343"},
            {"kind": "duplicate_identity", "user_id": 343, "detail": "same person as user 285"},
        ]
    )
    q2 = SimpleNamespace(
        flagged=pl.DataFrame({"cohort_id": [25, 40], "lesson": ["java-ii/exceptions", "html-css"]})
    )
    score = ev._score_q2(labels, q2)
    assert (score.labels, score.found, score.detections, score.true_detections) == (2, 1, 2, 1)
    q3 = SimpleNamespace(
        students=pl.DataFrame(
            {
                "user_id": [221, 300, 285],
                "likely_dropout": [True, True, False],
                "possible_same_person": [[], [], [343]],
            },
            schema_overrides={"possible_same_person": pl.List(pl.Int64)},
        )
    )
    dropout = ev._score_q3_dropout(labels, q3)
    assert (dropout.found, dropout.detections, dropout.true_detections) == (1, 2, 1)
    duplicates = ev._score_q3_duplicates(labels, q3)
    assert (duplicates.labels, duplicates.found, duplicates.precision) == (2, 2, 1.0)
