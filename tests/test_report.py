"""The report: registry, findings.json contract (schema), atomic write, loading, the terminal summary."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import numpy as np
import polars as pl
import pytest

from analysis.config import Config, load_config
from analysis.errors import InputError, TargetError
from analysis.prepare import CATEGORICAL_COLUMNS, as_text, prepare
from analysis.questions import NUMBERS, QUESTIONS, REGISTRY, TITLES
from analysis.report import (
    SCHEMA_PATH,
    UNUSED_COLUMNS,
    Report,
    compute_report,
    findings_schema,
    load_findings,
    materialize,
    validate_findings,
    write_findings,
)
from analysis.results import QuestionResult
from analysis.schema import INCIDENT_KINDS, SchemaKeywordError, schema_errors
from analysis.sources.snapshot import Snapshot

# --- a hand-made report with the contract's structured items -----------------------------------------


@dataclass(frozen=True)
class _Q3(QuestionResult):
    students: pl.DataFrame = field(default_factory=pl.DataFrame)


@dataclass(frozen=True)
class _Q4(QuestionResult):
    incidents: pl.DataFrame = field(default_factory=pl.DataFrame)


@dataclass(frozen=True)
class _Q5(QuestionResult):
    cutoff: dt.date | None = None


def _base(number: int) -> dict:
    return {
        "number": number,
        "title": f"Question {number}?",
        "answer": f"Answer {number}.",
        "supporting": ["One.", "Two."],
        "method": "Counted.",
        "parameters": {"threshold": 3},
        "caveats": [],
    }


def _incidents(kind: str = "scraping") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rank": [1, 2],
            "tier": ["high", "high"],
            "kind": [kind, "shared_ip"],
            "user_id": [7, None],
            "ip": ["203.0.113.9", "198.51.100.20"],
            "start": [dt.datetime(2019, 3, 1, 2), dt.datetime(2019, 1, 1)],
            "end": [dt.datetime(2019, 3, 1, 2, 1), dt.datetime(2019, 12, 31)],
            "views": [170, 5000],
            "score": [9.5, None],
            "evidence": ["170 pages in 60 s", "41 users"],
        },
        schema_overrides={"user_id": pl.Int64, "score": pl.Float64},
    )


def _report(
    config: Config, *, incidents: pl.DataFrame | None = None, drop_students: bool = False
) -> Report:
    results: dict[int, QuestionResult] = {n: QuestionResult(**_base(n)) for n in NUMBERS}
    if not drop_students:
        results[3] = _Q3(**_base(3), students=pl.DataFrame({"user_id": [11, 12], "views": [3, 1]}))
    results[4] = _Q4(**_base(4), incidents=_incidents() if incidents is None else incidents)
    results[5] = _Q5(**_base(5), cutoff=dt.date(2019, 6, 15))
    return Report(
        dataset={
            "source": "test",
            "simulated": True,
            "rows": 10,
            "users": 2,
            "ips": 2,
            "first_seen": "2019-01-01T00:00:00",
            "last_seen": "2019-12-31T00:00:00",
            "quarantined_rows": 0,
        },
        results=results,
        config=config,
        timings={"prepare": 0.1, **{f"q{n}": 0.01 for n in NUMBERS}},
    )


def test_registry_maps_all_eight_questions_lazily() -> None:
    assert list(QUESTIONS) == list(REGISTRY) == list(NUMBERS) == sorted(TITLES)
    assert len(QUESTIONS) == 8
    assert all(TITLES[n] for n in NUMBERS)
    assert QUESTIONS[5].__name__ == "analysis.questions.q5"
    assert callable(QUESTIONS[8].answer)
    with pytest.raises(KeyError):
        QUESTIONS[9]


def test_schema_is_valid_and_matches_the_incident_kinds() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["incident"]["properties"]["kind"]["enum"] == list(INCIDENT_KINDS)
    assert findings_schema()["properties"]["questions"]["required"] == [str(n) for n in NUMBERS]


def test_findings_round_trip(config: Config, tmp_path: Path) -> None:
    path = write_findings(_report(config), tmp_path / "out")
    assert path == tmp_path / "out" / "findings.json"
    document = load_findings(path)
    assert document == load_findings(path.parent)  # a directory works too
    assert document["schema_version"] == 1
    assert document["dataset"]["simulated"] is True
    assert sorted(document["questions"]) == [str(n) for n in NUMBERS]
    assert document["questions"]["3"]["students"][0]["user_id"] == 11
    incident = document["questions"]["4"]["incidents"][0]
    assert incident["ip"] == "203.0.113.9"  # full IPs in findings.json
    assert incident["start"] == "2019-03-01T02:00:00"
    assert document["questions"]["5"]["cutoff"] == "2019-06-15"
    assert [p.name for p in path.parent.iterdir()] == ["findings.json"]  # no temp file left


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"incidents": _incidents("teleport")}, "questions/4/incidents/0/kind"),
        ({"drop_students": True}, "questions/3"),
    ],
)
def test_contract_breaks_are_refused_before_writing(
    config: Config, tmp_path: Path, change: dict, where: str
) -> None:
    good = write_findings(_report(config), tmp_path)
    before = good.read_bytes()
    with pytest.raises(ValueError, match=where):
        write_findings(_report(config, **change), tmp_path)
    assert good.read_bytes() == before  # the previous findings survive


def test_cutoff_must_be_a_date_or_null(config: Config) -> None:
    document = _report(config).to_json()
    document["questions"]["5"]["cutoff"] = None
    validate_findings(document)
    document["questions"]["5"]["cutoff"] = "June 2019"
    with pytest.raises(ValueError, match="questions/5/cutoff"):
        validate_findings(document)


def _break(document: dict, where: str, value: object) -> dict:
    """A copy of `document` with the member at `where` (slash-separated; a number indexes a list) set
    to `value`, or removed when `value` is _DROP."""
    copy = json.loads(json.dumps(document))
    *parents, last = where.split("/")
    holder = copy
    for part in parents:
        holder = holder[int(part)] if isinstance(holder, list) else holder[part]
    if value is _DROP:
        del holder[last]
    else:
        holder[last] = value
    return copy


_DROP = object()


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("questions/4/incidents/0/kind", "teleport"),
        ("questions/4/incidents/0/tier", None),
        ("questions/4/incidents/0/rank", 0),
        ("questions/4/incidents/0/user_id", 1.5),
        ("questions/3/students", _DROP),
        ("questions/3/students", "none"),
        ("questions/5/cutoff", "June 2019"),
        ("questions/5/cutoff", "2019-02-30"),
        ("questions/5/cutoff", 20190615),
        ("questions/9", {}),
        ("questions", []),
        ("schema_version", True),
        ("schema_version", 1.0),
        ("dataset/rows", -1),
        ("dataset/rows", 3.0),
        ("dataset/users", True),
        ("dataset/quarantine_reasons", {"bad date": "two"}),
        ("timings/q1", "fast"),
        ("questions/1/number", 2),
        ("questions/1/number", 9),
        ("questions/1/answer", ""),
        ("questions/1/supporting", ["One.", 2]),
        ("questions/8/findings", [{"title": "x"}]),
        ("generated_at", 7),
        ("dataset", _DROP),
    ],
)
def test_schema_check_finds_what_jsonschema_finds(
    config: Config, where: str, value: object
) -> None:
    """analysis.schema.schema_errors (what write_findings runs) and jsonschema's Draft 2020-12
    validator agree on every place a broken document breaks the contract."""
    document = _break(_report(config).to_json(), where, value)
    validator = jsonschema.Draft202012Validator(
        findings_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    expected = sorted((tuple(e.absolute_path) for e in validator.iter_errors(document)), key=list)
    found = sorted((path for path, _ in schema_errors(document, findings_schema())), key=list)
    assert found == expected
    if expected:
        with pytest.raises(ValueError, match="breaks its schema at"):
            validate_findings(document)


def test_schema_check_refuses_keywords_it_does_not_know() -> None:
    assert list(schema_errors("a", {"type": "string", "description": "d"})) == []
    with pytest.raises(SchemaKeywordError, match="pattern"):
        list(schema_errors("a", {"type": "string", "pattern": "^b"}))


def test_unwritable_target_is_a_target_error(config: Config, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TargetError, match="cannot write"):
        write_findings(_report(config), blocker)
    if os.geteuid() != 0:  # root ignores permissions
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(TargetError):
            write_findings(_report(config), locked)


def test_load_findings_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no findings"):
        load_findings(tmp_path / "missing.json")
    bad = tmp_path / "findings.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        load_findings(bad)
    bad.write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(InputError, match="schema"):
        load_findings(bad)


def test_describe_flags_simulated_data_and_lists_every_answer(config: Config) -> None:
    lines = _report(config).describe().splitlines()
    assert lines[0].startswith("Dataset: SIMULATED data from test: 10 rows")
    assert len(lines) == 9
    assert lines[5].startswith(f"Q5 {TITLES[5]}: Answer 5.")
    real = dataclasses.replace(
        _report(config), dataset={**_report(config).dataset, "simulated": False}
    )
    assert "real data" in real.describe().splitlines()[0]


def _tiny_snapshot() -> Snapshot:
    cohorts = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["Web", "Data", "Staff"],
            "slack": ["#w", "#d", "#s"],
            "start_date": [dt.date(2019, 1, 7), dt.date(2019, 1, 7), dt.date(2014, 2, 4)],
            "end_date": [dt.date(2019, 5, 31), dt.date(2019, 5, 31), dt.date(2014, 2, 4)],
            "created_at": [None] * 3,
            "updated_at": [None] * 3,
            "deleted_at": [None] * 3,
            "program_id": [2, 3, 2],
        }
    )
    start = dt.datetime(2019, 1, 1, 9)
    paths = ["javascript-i", "html-css", "java-i", "python/intro", "sql/mysql-overview", "/", "toc"]
    rows = [
        (
            start + dt.timedelta(hours=7 * i),
            paths[i % len(paths)],
            1 + i % 12,
            [1, 2, 3, None][i % 4],
            f"198.51.100.{i % 9}",
        )
        for i in range(1500)
    ]
    logs = pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )
    return Snapshot.from_frames(logs=logs, cohorts=cohorts, simulated=True)


def test_all_eight_questions_run_on_a_tiny_snapshot(config: Config, tmp_path: Path) -> None:
    """Needs all eight question modules (q1-q8 are written by several helpers): fails until they exist."""
    report = compute_report(config, progress=False, snapshot=_tiny_snapshot())
    assert sorted(report.results) == list(NUMBERS)
    for number, result in report.results.items():
        assert result.number == number
        assert result.answer.strip()
    write_findings(report, tmp_path)
    assert set(report.timings) == {"prepare", *(f"q{n}" for n in NUMBERS)}


def test_materialize_keeps_every_row_in_compact_columns(config: Config) -> None:
    """The collected views (the peak of analyze) hold labels as Categorical, with the same values."""
    prepared = prepare(_tiny_snapshot(), config)
    plain = prepared.views.collect()
    compact = materialize(prepared).views.collect()
    assert set(compact.columns) == set(plain.columns) - set(UNUSED_COLUMNS)
    assert {"program_id", "days_before_start"} <= set(UNUSED_COLUMNS)
    for name in CATEGORICAL_COLUMNS:
        assert compact.schema[name] == pl.Categorical, name
    # the same rows (the views carry no row order: every question aggregates or sorts)
    columns = compact.columns
    restored = as_text(compact).sort(columns, nulls_last=True)
    assert restored.equals(as_text(plain.select(columns)).sort(columns, nulls_last=True))
    # comparisons with text, as the questions write them, still work on the labels
    students = compact.filter((pl.col("role") == "student") & pl.col("page_kind").is_in(["lesson"]))
    assert (
        students.height
        == plain.filter((pl.col("role") == "student") & (pl.col("page_kind") == "lesson")).height
    )


def test_answers_do_not_depend_on_the_order_of_the_views(config: Config) -> None:
    """prepare() keeps no row order (its joins are unordered): every question must aggregate or sort."""
    snapshot = _tiny_snapshot()
    prepared = materialize(prepare(snapshot, config))
    rows = prepared.views.collect()
    for seed in (1, 2):
        shuffled = dataclasses.replace(
            prepared, views=rows.sample(fraction=1.0, shuffle=True, seed=seed).lazy()
        )
        for number, module in QUESTIONS.items():
            expected = module.answer(snapshot, config, prepared).to_json()
            assert module.answer(snapshot, config, shuffled).to_json() == expected, number


@pytest.mark.slow
def test_demo_report(demo_snapshot, tmp_path: Path) -> None:
    config = load_config(environ={})
    report = compute_report(config, progress=False, snapshot=demo_snapshot)
    assert sorted(report.results) == list(NUMBERS)
    assert all(result.answer.strip() for result in report.results.values())
    assert report.simulated
    path = write_findings(report, tmp_path)
    document = load_findings(path)
    assert document["dataset"]["rows"] == demo_snapshot.manifest.rows
    incidents = document["questions"]["4"]["incidents"]
    assert incidents
    ips = [i["ip"] for i in incidents if i["ip"]]
    assert ips and all(ipaddress.ip_address(ip) for ip in ips)  # full, unmasked addresses
    assert document["questions"]["5"]["cutoff"] is not None
    assert sum(report.timings.values()) < 30
    # the file's text is the standard library's indented JSON of the report's document, in its
    # order (written by orjson, much faster)
    expected = {"run_id": document["run_id"], **report.to_json()}
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(expected, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def test_findings_hold_no_nan_or_infinity() -> None:
    """to_jsonable turns every non-finite float into null, numpy's too (findings.json is written
    without a check of its own for them)."""
    from analysis.results import to_jsonable

    values = [math.nan, math.inf, np.float32("nan"), np.float64("-inf"), np.float32(1.5), 2]
    assert to_jsonable(values) == [None, None, None, None, 1.5, 2]


# --- the report cache: `render` reuses the analysis while nothing it depends on changed ----------------


def _write_tiny(config: Config) -> None:
    from analysis.sources.snapshot import write_snapshot

    tiny = _tiny_snapshot()
    write_snapshot(
        config.paths.snapshot_dir,
        tiny.logs.collect(),
        tiny.cohorts,
        None,
        source="test",
        simulated=True,
    )


def test_report_cache_is_reused_only_while_snapshot_settings_and_code_match(
    config: Config,
) -> None:
    from analysis.report import REPORT_CACHE_NAME, cached_report, report_for
    from analysis.sources.snapshot import read_manifest

    _write_tiny(config)
    first, reused = report_for(config, progress=False)
    assert not reused
    again, reused = report_for(config, progress=False)
    assert reused and again.generated_at == first.generated_at
    assert [r.answer for r in again.results.values()] == [r.answer for r in first.results.values()]

    manifest = read_manifest(config.paths.snapshot_dir)
    other = config.replace(q1=dataclasses.replace(config.q1, top_k=config.q1.top_k + 1))
    assert cached_report(other, manifest) is None  # an analysis setting changed
    moved = config.replace(
        privacy=dataclasses.replace(config.privacy, mode="internal"),
        paths=dataclasses.replace(config.paths, site_dir=config.paths.site_dir / "elsewhere"),
    )
    assert cached_report(moved, manifest) is not None  # rendering choices do not change answers
    changed = dataclasses.replace(manifest, logs_digest=manifest.logs_digest + "0")
    assert cached_report(config, changed) is None  # other data

    (config.paths.build_dir / REPORT_CACHE_NAME).write_bytes(b"not a pickle")
    recomputed, reused = report_for(config, progress=False)
    assert not reused and recomputed.generated_at  # a damaged cache is recomputed, not an error


def test_report_cache_is_private_and_holds_no_database_url(config: Config) -> None:
    from analysis.report import REPORT_CACHE_NAME, save_report
    from analysis.sources.snapshot import read_manifest

    _write_tiny(config)
    secret = "s3cr3t-Pa55word"
    with_url = config.replace(
        db_url=f"mysql+pymysql://reader:{secret}@db.internal:3306/curriculum_logs"
    )
    report = compute_report(with_url, progress=False, snapshot=_tiny_snapshot())
    path = save_report(report, read_manifest(config.paths.snapshot_dir), config.paths.build_dir)
    assert path.name == REPORT_CACHE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    data = path.read_bytes()
    assert secret.encode() not in data and b"db.internal" not in data


def test_documents_are_built_once_given_as_copies_and_not_pickled(config: Config) -> None:
    """Report.memo_json builds a document once per report (to_json, history.public_findings), hands
    out a new copy at every call, and leaves the kept text out of the pickle."""
    import pickle

    from analysis import history

    report = _report(config)
    calls: list[int] = []

    def build() -> dict[str, object]:
        calls.append(1)
        return {"a": [1, 2]}

    first = report.memo_json("x", build)
    first["a"].append(3)  # a caller's change does not reach the next caller
    assert report.memo_json("x", build) == {"a": [1, 2]} and len(calls) == 1
    public = history.public_findings(report)
    assert public == history.public_findings(report) and public is not history.public_findings(
        report
    )
    assert report.to_json() == report.to_json()
    state = pickle.loads(pickle.dumps(report)).__dict__
    assert not [key for key in state if key.startswith("_memo_")]


def test_label_lookups_give_what_a_join_gives() -> None:
    """Look-ups by a Categorical's code, by an integer's offset and by value (a key too spread out
    to index) give each row the labels a left join on the key gives, the null key's too."""
    from analysis.prepare import LOOKUP_MAX_SPAN, label_lookups

    table = pl.DataFrame(
        {
            "path": ["a", "b", None, "d"],
            "cohort_id": [3, 7, None, 5],
            "far_id": [1, LOOKUP_MAX_SPAN + 5, None, 9],
            "kind": ["lesson", None, "empty", "asset"],
            "start": [dt.date(2020, 1, 1), dt.date(2021, 1, 1), None, dt.date(2022, 1, 1)],
        }
    ).with_columns(pl.col("path", "kind").cast(pl.Categorical))
    rows = pl.DataFrame({"i": range(6), "path": ["d", None, "a", "b", "a", None]}).with_columns(
        pl.col("path").cast(pl.Categorical)
    )
    rows = rows.join(
        table.select("path", "cohort_id", "far_id"), on="path", nulls_equal=True, how="left"
    ).sort("i")
    for key in ("path", "cohort_id", "far_id"):
        labels = table.select(key, "kind", "start")
        got = rows.lazy().with_columns(label_lookups(labels, key, ["kind", "start"])).collect()
        joined = rows.join(labels, on=key, how="left", nulls_equal=True).sort("i")
        assert got.schema["kind"] == pl.Categorical, key
        assert as_text(got).equals(as_text(joined.select(got.columns))), key


def test_chosen_views_are_the_filtered_views(config: Config) -> None:
    """Materialized views choose rows before labelling them: the same rows as filtering the
    labelled views, for a predicate on stored columns and for one on a looked-up label."""
    from analysis.prepare import chosen_views, paths_where, student_lesson_views, student_rows

    prepared = materialize(prepare(_tiny_snapshot(), config))
    assert prepared.stored.rows is not None
    columns = prepared.views.collect_schema().names()
    lessons = pl.col("page_kind") == "lesson"
    for predicate, plain in (
        (student_rows(prepared) & paths_where(prepared, lessons), student_rows(prepared) & lessons),
        (pl.col("program") == "Data science", pl.col("program") == "Data science"),
    ):
        got = as_text(chosen_views(prepared, predicate).collect()).sort(columns, nulls_last=True)
        expected = as_text(prepared.views.filter(plain).collect()).sort(columns, nulls_last=True)
        assert got.height > 0
        assert got.equals(expected)
    plain_lessons = prepared.views.filter(student_rows(prepared) & lessons).collect()
    assert student_lesson_views(prepared).collect().height == plain_lessons.height > 0


def test_narrow_integers_keeps_every_value() -> None:
    """Integer columns are stored in the narrowest signed type holding their values, nulls kept;
    a column already narrow, or needing its width, is left alone."""
    from analysis.prepare import narrow_integers

    frame = pl.DataFrame(
        {
            "user_id": pl.Series([1, 70_000, 5], dtype=pl.Int64),
            "cohort_id": pl.Series([1, None, 200], dtype=pl.Int64),
            "tiny": pl.Series([-3, 4, 0], dtype=pl.Int64),
            "wide": pl.Series([0, 1 << 40, 2], dtype=pl.Int64),
            "small": pl.Series([0, 1, 2], dtype=pl.Int8),
            "name": ["a", "b", "c"],
        }
    )
    narrowed = frame.with_columns(narrow_integers(frame))
    assert [narrowed.schema[name] for name in ("user_id", "cohort_id", "tiny", "wide")] == [
        pl.Int32,
        pl.Int16,
        pl.Int8,
        pl.Int64,
    ]
    assert narrowed.schema["small"] == pl.Int8
    assert narrowed.cast(dict(frame.schema)).equals(frame)


def test_frame_records_convert_as_value_by_value() -> None:
    """findings.json's tables converted column by column give what converting each value gives
    (ISO dates and times with microseconds only when there are some, NaN and infinities null,
    durations in seconds), and a column type it does not convert falls back to value by value."""
    from analysis.results import frame_records, to_jsonable

    frame = pl.DataFrame(
        {
            "s": ["a", None, "c"],
            "i": [1, None, -3],
            "u": pl.Series([1, 2, 3], dtype=pl.UInt32),
            "f": [1.5, float("nan"), float("inf")],
            "g": [None, -float("inf"), 0.1],
            "d": [dt.date(2020, 1, 6), None, dt.date(1999, 12, 31)],
            "t": [dt.datetime(2020, 1, 6, 9, 30), dt.datetime(2020, 1, 6, 9, 30, 0, 123), None],
            "ms": pl.Series(
                [dt.datetime(2020, 1, 6, 9, 30, 1, 5000), None, dt.datetime(2021, 2, 3)],
                dtype=pl.Datetime("ms"),
            ),
            "dur": [dt.timedelta(seconds=90, microseconds=5), None, dt.timedelta(days=-1)],
            "b": [True, None, False],
            "l": [[1, 2], None, []],
            "c": pl.Series(["x", "y", None], dtype=pl.Categorical),
        }
    )
    zoned = frame.with_columns(pl.col("t").dt.replace_time_zone("Europe/Paris"))
    for table in (frame, zoned):
        by_value = [{k: to_jsonable(v) for k, v in row.items()} for row in table.to_dicts()]
        assert frame_records(table) == by_value
        assert json.dumps(frame_records(table)) == json.dumps(by_value)
    assert frame_records(frame)[1]["t"] == "2020-01-06T09:30:00.000123"
    assert frame_records(frame)[1]["f"] is None


# --- the command's fixed costs (issue 20) ----------------------------------------------------------------


def test_question_modules_preload_in_the_background_and_a_broken_one_is_left_to_its_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """compute_report imports the question modules while the data is prepared; a module that fails
    to import there raises nothing in the thread (its question raises when it is answered)."""
    import sys
    import threading

    from analysis.report import preload_questions

    raised: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: raised.append(hook.exc_value))
    monkeypatch.setitem(REGISTRY, 9, "analysis.questions.no_such_question")
    for name in REGISTRY.values():
        monkeypatch.delitem(sys.modules, name, raising=False)
    thread = preload_questions()
    thread.join(timeout=60)
    assert not thread.is_alive() and not raised
    assert all(name in sys.modules for number, name in REGISTRY.items() if number != 9)
    with pytest.raises(ModuleNotFoundError):
        QUESTIONS[9]


def test_the_command_pauses_the_collector_while_loading_and_leaves_it_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """cli._loading_modules: no collection while modules load, what they made frozen after (later
    collections skip it); main unfreezes it again, and sets OPENBLAS_NUM_THREADS unless the user
    did (numpy's idle BLAS threads spin otherwise)."""
    import gc

    from analysis import cli

    gc.unfreeze()
    with cli._loading_modules():
        assert not gc.isenabled()
        made = [[] for _ in range(100)]
    assert gc.isenabled() and gc.get_freeze_count() >= len(made)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    missing = ["analyze", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path)]
    assert cli.main(missing) != 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    cli.main(missing)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
