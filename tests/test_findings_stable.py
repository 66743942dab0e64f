"""Golden: the demo's findings.json is the same as before issue 20's memory work (report.materialize keeping
path, cohort and time columns lazy; the streaming engine collecting the views).

tests/data/findings-demo.json.gz is the demo's findings.json (first taken at commit 5e702dc, the merged
answers of issues 16 and 17 before issue 20's memory work, which was first checked against 1b278b7, the
code before all of them; since then only its wording has changed), with the fields that change from run
to run left out: generated_at and timings, and the dataset's built_at and source_detail (it names the
folder the demo was imported from).
A change that is meant to change a finding replaces the file (and says so in its commit).

Numbers are compared exactly except floats, which may differ in their last bits (relative 1e-12): question
5's lesson-home shares sum per-track rates in the order the rows arrive, and the views keep no row order,
so even the code of 1b278b7 run twice on the same snapshot differs there in the 16th digit.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from analysis.config import load_config
from analysis.report import compute_report
from analysis.report import findings_differences as differences
from analysis.report import stable_findings as stable

BEFORE = Path(__file__).parent / "data" / "findings-demo.json.gz"


def test_differences_allow_only_last_bits_of_floats() -> None:
    assert differences({"a": [1, 0.1 + 0.2, "x"]}, {"a": [1, 0.3, "x"]}) == []
    assert differences({"a": 0.3}, {"a": 0.3001}) == ["/a: 0.3 != 0.3001"]
    assert differences({"a": 1}, {"a": 1.0}) == ["/a: 1 != 1.0"]  # an int is not a float
    assert differences({"a": [1, 2]}, {"a": [1]}) == ["/a: 2 items != 1"]
    assert differences({"a": "x"}, {"a": "y", "b": 1}) == ["/b: only on one side", "/a: 'x' != 'y'"]


def test_stable_leaves_out_only_the_volatile_fields() -> None:
    document = {
        "generated_at": "x",
        "timings": {"q1": 1.0},
        "dataset": {"built_at": "y", "source_detail": "z", "rows": 3},
        "questions": {"1": {"answer": "a"}},
    }
    assert stable(document) == {"dataset": {"rows": 3}, "questions": {"1": {"answer": "a"}}}
    assert document["dataset"]["built_at"] == "y"  # the input is not modified


@pytest.mark.slow
def test_demo_findings_are_the_same_as_before(demo_snapshot) -> None:
    before = json.loads(gzip.decompress(BEFORE.read_bytes()))
    report = compute_report(load_config(environ={}), progress=False, snapshot=demo_snapshot)
    now = stable(report.to_json())
    # `build --demo` records source "demo"; the test fixture imports the same files as "file".
    assert (before["dataset"].pop("source"), now["dataset"].pop("source")) == ("demo", "file")
    found = differences(before, now)
    assert not found, f"{len(found)} differences, first: {found[:5]}"


def test_materialize_gives_the_same_rows_when_labels_are_not_functions_of_the_cohort() -> None:
    """materialize stores a cohort's labels once per cohort id; if they ever vary within a cohort id
    it keeps them per row instead (the same rows either way)."""
    import datetime as dt

    import polars as pl

    from analysis.prepare import Prepared
    from analysis.report import COHORT_COLUMNS, UNUSED_COLUMNS, materialize

    stamp = dt.datetime(2020, 1, 6, 9, 30)
    columns = {
        "timestamp": [stamp, stamp, stamp],
        "path": ["a", "b", "a"],
        "user_id": [1, 2, 3],
        "cohort_id": [7, 7, None],
        "ip": ["1.1.1.1"] * 3,
        "window": ["active", "active", None],
        **{name: [None, None, None] for name in UNUSED_COLUMNS},
        **{name: ["x", "x", None] for name in COHORT_COLUMNS},
    }
    frame = pl.DataFrame(columns).with_columns(
        pl.col("timestamp").dt.date().alias("date"),
        pl.col("timestamp").dt.hour().alias("hour"),
        pl.col("timestamp").dt.weekday().alias("weekday"),
    )
    for cohort_name in (["x", "x", None], ["x", "y", None]):  # a function of the id, then not
        views = frame.with_columns(pl.Series("cohort_name", cohort_name))
        prepared = Prepared(views.lazy(), pl.DataFrame(), stamp, stamp, simulated=True)
        got = materialize(prepared).views.collect()
        expected = views.drop(UNUSED_COLUMNS)
        assert got.columns == expected.columns
        assert got.sort("user_id").equals(expected.sort("user_id")), cohort_name


def test_two_questions_at_once_give_the_same_answers(demo_snapshot, monkeypatch) -> None:
    """The demo (under CONCURRENT_MAX_VIEWS) is answered two questions at a time; one after the
    other gives the same findings, and the shared per user, address and day rows are computed once
    however the questions interleave."""
    from analysis import prepare as prepare_module
    from analysis import report as report_module
    from analysis.prepare import prepare
    from analysis.report import answer_all, materialize
    from analysis.results import to_jsonable

    config = load_config(environ={})
    calls: list[int] = []
    grouped = prepare_module.group_user_ip_days

    def counted(*args, **kwargs):
        calls.append(1)
        return grouped(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "group_user_ip_days", counted)
    prepared = materialize(prepare(demo_snapshot, config))
    assert report_module.answered_at_once(demo_snapshot)  # two at a time
    at_once = answer_all(demo_snapshot, config, prepared, progress=False)
    assert len(calls) == 1
    monkeypatch.setattr(report_module, "CONCURRENT_MAX_VIEWS", 0)  # one after the other
    prepared = materialize(prepare(demo_snapshot, config))
    one_by_one = answer_all(demo_snapshot, config, prepared, progress=False)
    for number in sorted(one_by_one):
        found = differences(
            to_jsonable(one_by_one[number].to_json()), to_jsonable(at_once[number].to_json())
        )
        assert not found, f"question {number}: {found[:5]}"
