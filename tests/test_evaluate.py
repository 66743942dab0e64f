"""evaluate: scoring the published incident list on tiny inline frames (rank targets, kind-matched
credit, actor and time matching, tiers, campus, questions 2, 3 and 5), the labels reader, and
`run_evaluation` on a tiny snapshot. The scenarios themselves are scored in test_scenarios.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from analysis.config import load_config
from analysis.errors import InputError
from analysis.scenarios import evaluate as ev
from analysis.schema import LABEL_SCHEMA
from analysis.sources.snapshot import Snapshot

T0 = dt.datetime(2019, 2, 14, 2, 14)
DAY = dt.timedelta(days=1)


def _labels(rows: list[dict]) -> pl.DataFrame:
    full = [{name: row.get(name) for name in LABEL_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=LABEL_SCHEMA)


def _incidents(rows: list[dict], filler: int = 0) -> pl.DataFrame:
    """Published incidents in order (rank = position); `filler` unlabelled low ones after them."""
    rows = rows + [
        {"kind": "heavy_day", "user_id": 1000 + i, "tier": "low", "start": T0}
        for i in range(filler)
    ]
    return pl.DataFrame(
        [
            {
                "rank": i + 1,
                "tier": row.get("tier", "high"),
                "kind": row["kind"],
                "user_id": row.get("user_id"),
                "ip": row.get("ip"),
                "start": row.get("start", T0),
                "end": row.get("end", row.get("start", T0)),
                "views": 10,
                "evidence": "e",
            }
            for i, row in enumerate(rows)
        ],
        schema={
            "rank": pl.Int64, "tier": pl.String, "kind": pl.String, "user_id": pl.Int64,
            "ip": pl.String, "start": pl.Datetime("us"), "end": pl.Datetime("us"),
            "views": pl.Int64, "evidence": pl.String,
        },
    )  # fmt: skip


SCRAPE = {"kind": "scraping", "user_id": 5, "ip": "203.0.113.9", "start": T0, "end": T0}


def _score(labels: list[dict], incidents: pl.DataFrame, simulation: dict | None = None, **kw):
    return ev.score(
        _labels(labels),
        {"campus_ips": ["97.105.19.58"], **(simulation or {})},
        q4=SimpleNamespace(incidents=incidents),
        **kw,
    )


def _target(evaluation: ev.Evaluation, name: str) -> ev.Target:
    target = evaluation.target(name)
    assert target is not None
    return target


def test_a_found_label_in_the_top_10_meets_the_rank_targets():
    evaluation = _score([SCRAPE], _incidents([{"kind": "scraping", "user_id": 5}], filler=40))
    assert [_target(evaluation, n).passed for n in ("top25", "top10", "recall")] == [True] * 3
    scraping = next(k for k in evaluation.kinds if k.kind == "scraping")
    assert scraping.ranks == [1] and scraping.recall == 1.0
    assert evaluation.total_incidents == 41
    assert evaluation.precision_top10 == pytest.approx(0.1)


def test_a_label_at_rank_30_is_a_miss_though_recalled():
    rows = [{"kind": "heavy_day", "user_id": 900 + i, "tier": "low"} for i in range(29)]
    evaluation = _score([SCRAPE], _incidents([*rows, {"kind": "scraping", "user_id": 5}]))
    assert not _target(evaluation, "top25").passed
    assert not _target(evaluation, "top10").passed
    assert _target(evaluation, "recall").passed  # found, only too far down
    assert evaluation.exit_code() == 5
    assert any("rank 30" in m for m in evaluation.missed)


def test_scraping_at_rank_12_misses_only_the_top_10():
    rows = [{"kind": "heavy_day", "user_id": 900 + i, "tier": "low"} for i in range(11)]
    evaluation = _score([SCRAPE], _incidents([*rows, {"kind": "scraping", "user_id": 5}]))
    assert _target(evaluation, "top25").passed and not _target(evaluation, "top10").passed


def test_the_wrong_kind_is_not_credited():
    evaluation = _score([SCRAPE], _incidents([{"kind": "heavy_day", "user_id": 5}]))
    assert not _target(evaluation, "recall").passed
    assert next(k for k in evaluation.kinds if k.kind == "scraping").ranks == [None]
    label = {"kind": "shared_ip", "ip": "198.51.100.7", "start": T0, "end": T0 + 6 * DAY}
    alumnus = _incidents([{"kind": "stale_account", "user_id": 8, "ip": "198.51.100.7"}])
    assert not _target(_score([label], alumnus), "recall").passed
    shared = _incidents([{"kind": "shared_ip", "ip": "198.51.100.7", "start": T0 + 2 * DAY}])
    assert _target(_score([label], shared), "recall").passed


def test_actor_matching_user_then_ip():
    other_user_same_ip = _incidents([{"kind": "scraping", "user_id": 6, "ip": "203.0.113.9"}])
    assert not _target(_score([SCRAPE], other_user_same_ip), "recall").passed
    ip_level = _incidents([{"kind": "scraping", "user_id": None, "ip": "203.0.113.9"}])
    assert _target(_score([SCRAPE], ip_level), "recall").passed


def test_time_must_overlap_within_a_day():
    near = _incidents([{"kind": "scraping", "user_id": 5, "start": T0 + dt.timedelta(hours=20)}])
    far = _incidents([{"kind": "scraping", "user_id": 5, "start": T0 + 3 * DAY}])
    assert _target(_score([SCRAPE], near), "recall").passed
    assert not _target(_score([SCRAPE], far), "recall").passed


def test_old_kind_names_are_read_as_the_label_vocabulary():
    label = {"kind": "probe", "user_id": 9, "ip": "45.1.2.3", "start": T0, "end": T0}
    evaluation = _score([label], _incidents([{"kind": "probing", "ip": "45.1.2.3"}]))
    assert _target(evaluation, "top10").passed


def test_precision_counts_true_positives_of_the_top():
    labels = [SCRAPE, {"kind": "heavy_day", "user_id": 7, "start": T0, "end": T0}]
    incidents = _incidents(
        [{"kind": "scraping", "user_id": 5}, {"kind": "heavy_day", "user_id": 7}], filler=8
    )
    evaluation = _score(labels, incidents)
    assert evaluation.precision_top10 == pytest.approx(0.2)
    assert evaluation.precision_top25 == pytest.approx(0.2)  # ten shown


def test_tiers_limit_the_high_and_medium_incidents():
    many = [{"kind": "heavy_day", "user_id": 900 + i, "tier": "high"} for i in range(16)]
    assert not _target(_score([], _incidents(many)), "high").passed
    assert _target(_score([], _incidents(many[:15])), "high").passed
    medium = [{"kind": "heavy_day", "user_id": 900 + i, "tier": "medium"} for i in range(26)]
    assert not _target(_score([], _incidents(medium)), "medium").passed
    assert _target(_score([], _incidents(medium[:25])), "medium").passed
    untiered = _incidents(many[:3]).drop("tier")
    assert _target(_score([], untiered), "high").value == "no tier"
    assert not _target(_score([], untiered), "high").passed


def test_scattered_probes_must_be_one_grouped_incident():
    label = {"kind": "probe", "start": T0, "end": T0 + 9 * DAY, "shape": "scattered"}
    grouped = _incidents([{"kind": "probe", "tier": "medium", "start": T0, "end": T0 + 9 * DAY}])
    evaluation = _score([label], grouped)
    assert _target(evaluation, "scatter").passed and _target(evaluation, "recall").passed
    one_each = _incidents(
        [{"kind": "probe", "ip": f"45.1.2.{i}", "start": T0 + i * DAY} for i in range(5)]
    )
    evaluation = _score([label], one_each)
    assert not _target(evaluation, "scatter").passed
    assert not _target(evaluation, "recall").passed  # no incident names the whole group


def test_shared_accounts_nobody_injected_are_limited():
    share = {"kind": "account_sharing", "user_id": 7, "start": T0, "end": T0 + 20 * DAY}
    found = [{"kind": "account_sharing", "user_id": 7, "start": T0 + DAY}]
    campus_students = [
        {"kind": "account_sharing", "user_id": 100 + i, "start": T0} for i in range(4)
    ]
    assert _target(_score([share], _incidents(found + campus_students[:3])), "sharing_fp").passed
    assert not _target(_score([share], _incidents(found + campus_students)), "sharing_fp").passed


def test_a_campus_scraper_fails():
    campus = _incidents([{"kind": "scraping", "user_id": 5, "ip": "97.105.19.58"}])
    assert not _target(_score([], campus), "campus").passed
    assert _target(_score([], _incidents([])), "campus").passed


def test_question_5_date_error():
    simulation = {"cross_program_cutoff": "2019-05-29"}
    late = _score([], _incidents([]), simulation, q5=SimpleNamespace(cutoff=dt.date(2019, 6, 20)))
    assert not _target(late, "q5").passed and _target(late, "q5").value.startswith("22 days")
    close = _score([], _incidents([]), simulation, q5=SimpleNamespace(cutoff=dt.date(2019, 6, 5)))
    assert _target(close, "q5").passed
    none = _score([], _incidents([]), simulation, q5=SimpleNamespace(cutoff=None))
    assert not _target(none, "q5").passed


def _cases(rows: list[tuple[int, str, str]]) -> SimpleNamespace:
    return SimpleNamespace(
        cases=pl.DataFrame(rows, schema=["cohort_id", "lesson", "program"], orient="row")
    )


def test_question_2_labelled_case_and_unlabelled_per_program():
    label = [{"kind": "cohort_overuse", "cohort_id": 25, "lesson": "java-ii/exceptions"}]
    found = _cases([(25, "java-ii/exceptions", "Java"), (26, "mysql/tables", "Java")])
    assert _target(_score(label, _incidents([]), q2=found), "q2").passed
    crowded = _cases(
        [(25, "java-ii/exceptions", "Java")] + [(30 + i, "html-css", "Java") for i in range(3)]
    )
    assert not _target(_score(label, _incidents([]), q2=crowded), "q2").passed
    spread = _cases(
        [
            (25, "java-ii/exceptions", "Java"),
            (30, "a", "Java"),
            (31, "b", "Java"),
            (40, "c", "Data science"),
            (41, "d", "Data science"),
        ]
    )
    assert _target(_score(label, _incidents([]), q2=spread), "q2").passed
    missed = _cases([(26, "java-ii/exceptions", "Java")])
    assert not _target(_score(label, _incidents([]), q2=missed), "q2").passed


def _students(flags: dict[int, tuple[bool, bool]]) -> SimpleNamespace:
    return SimpleNamespace(
        students=pl.DataFrame(
            {
                "user_id": list(flags),
                "low_usage": [low for low, _ in flags.values()],
                "likely_dropout": [drop for _, drop in flags.values()],
            }
        )
    )


def test_question_3_flags_at_most_three_times_and_all_but_one():
    labels = [{"kind": "dropout", "user_id": u} for u in (1, 2)] + [
        {"kind": "low_usage", "user_id": 3}
    ]
    ok = _students({1: (False, True), 2: (True, True), 10: (True, False), 11: (True, False)})
    assert _target(_score(labels, _incidents([]), q3=ok), "q3").passed  # 2 of 3, 4 <= 9 flagged
    too_many = _students({1: (False, True), 2: (False, True), 3: (True, False)} | {
        100 + i: (True, False) for i in range(7)
    })  # fmt: skip
    assert not _target(_score(labels, _incidents([]), q3=too_many), "q3").passed
    one_found = _students({1: (False, True), 50: (False, False)})
    assert not _target(_score(labels, _incidents([]), q3=one_found), "q3").passed


def test_describe_and_table():
    evaluation = _score([SCRAPE], _incidents([{"kind": "scraping", "user_id": 5}]))
    text = evaluation.describe()
    assert "[PASS] top10" in text and "scraping" in text
    table = ev.ScenarioTable(rows=[("demo", evaluation)], seeds=(1,), scale=0.2)
    lines = table.describe().splitlines()
    assert lines[2].split() == ["scenario", *ev.TARGET_NAMES]
    assert lines[3].startswith("demo") and "met" in lines[3]
    assert table.exit_code() == 0


def test_read_labels_accepts_files_without_shape(tmp_path: Path):
    path = tmp_path / "labels.csv"
    _labels([SCRAPE]).drop("shape").write_csv(path)
    frame = ev.read_labels(path)
    assert frame.schema == pl.Schema(LABEL_SCHEMA)
    assert frame["start"].to_list() == [T0]
    pl.DataFrame({"kind": ["scraping"]}).write_csv(path)
    with pytest.raises(InputError, match="lack columns"):
        ev.read_labels(path)
    with pytest.raises(InputError, match="labels file not found"):
        ev.read_labels(tmp_path / "nope.csv")


COHORTS = pl.DataFrame(
    {
        "id": [10],
        "name": ["Bayes"],
        "slack": ["#bayes"],
        "start_date": [dt.date(2019, 1, 7)],
        "end_date": [dt.date(2019, 6, 7)],
        "created_at": [None],
        "updated_at": [None],
        "deleted_at": [None],
        "program_id": [3],
    }
)


def _tiny_snapshot() -> Snapshot:
    stamps, users, ips, paths = [], [], [], []
    for u in range(20, 26):  # quiet readers, one page a day
        for d in range(30):
            stamps.append(dt.datetime(2019, 1, 8, 10) + dt.timedelta(days=d, minutes=u))
            users.append(u)
            ips.append(f"198.51.100.{u}")
            paths.append(f"classification/lesson-{d % 7}")
    for i in range(200):  # user 5 fetches a page a second
        stamps.append(T0 + dt.timedelta(seconds=i))
        users.append(5)
        ips.append("203.0.113.9")
        paths.append(f"module/page-{i}")
    logs = pl.DataFrame(
        {"timestamp": stamps, "path": paths, "user_id": users, "cohort_id": [10] * len(stamps),
         "ip": ips}
    ).sort("timestamp")  # fmt: skip
    return Snapshot.from_frames(logs=logs, cohorts=COHORTS, simulated=True)


def test_run_evaluation_reads_labels_beside_simulation(tmp_path: Path):
    from analysis.sources.snapshot import write_snapshot

    snapshot = _tiny_snapshot()
    config = load_config(environ={"CURRICULUM_DATA_DIR": str(tmp_path / "data")})
    write_snapshot(
        config.paths.snapshot_dir, snapshot.logs.collect(), snapshot.cohorts, snapshot.quarantine,
        source="test", simulated=True,
    )  # fmt: skip
    labels_dir = tmp_path / "sim"
    labels_dir.mkdir()
    _labels([SCRAPE]).write_csv(labels_dir / "labels.csv")
    (labels_dir / "simulation.json").write_text(json.dumps({"campus_ips": ["10.0.0.1"]}))
    evaluation = ev.run_evaluation(config, labels_dir / "labels.csv", progress=False)
    assert _target(evaluation, "recall").passed, evaluation.describe()
    assert _target(evaluation, "top10").passed, evaluation.describe()
    rows = snapshot.logs.collect().height
    (labels_dir / "simulation.json").write_text(json.dumps({"rows": rows + 1}))
    with pytest.raises(InputError, match="the labels belong to other data"):
        ev.run_evaluation(config, labels_dir / "labels.csv", progress=False)


def test_cli_rejects_an_unknown_scenario(capsys):
    from analysis.cli import main

    assert main(["evaluate", "--scenario", "nope", "-q"]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err


def test_table_rows_name_the_seed_when_there_are_several():
    evaluation = _score([SCRAPE], _incidents([]))
    table = ev.ScenarioTable(
        rows=[("late_ds@1", evaluation), ("late_ds@2", evaluation)], seeds=(1, 2), scale=None
    )
    text = table.describe()
    assert "seed 1, 2, scale the demo at 1, others 0.2" in text
    assert "late_ds@2" in text and "MISSED" in text
    assert table.exit_code() == 5
