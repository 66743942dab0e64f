"""Question 5: lesson home tracks, cross-program views, the estimated shut-off and its interval."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from analysis.charts import charts_for
from analysis.config import PROJECT_ROOT, Config, load_config
from analysis.errors import ConfigError
from analysis.questions import q5
from analysis.sources.snapshot import Snapshot

WEB, DATA, STAFF = 1, 2, 3
CUT = dt.date(2019, 6, 15)


def _cohorts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [WEB, DATA, STAFF],
            "name": ["Web", "Data", "Staff"],
            "slack": ["#w", "#d", "#s"],
            "start_date": [dt.date(2018, 12, 1), dt.date(2018, 12, 1), dt.date(2014, 2, 4)],
            "end_date": [dt.date(2020, 1, 31), dt.date(2020, 1, 31), dt.date(2014, 2, 4)],
            "created_at": [None] * 3,
            "updated_at": [None] * 3,
            "deleted_at": [None] * 3,
            "program_id": [2, 3, 2],
        }
    )


def _logs(
    cut: dt.date | None = CUT, *, earlier: dt.date | None = None, then: int = 0
) -> pl.DataFrame:
    """A year of reading: 20 own-track views a day per track; data-science students read 3 web-dev
    pages a day (`then` from `earlier` on) until `cut`, web-dev students 1 data-science page a day; after
    the cut one data-science student (23) keeps opening javascript-i on the 1st of each month."""
    rows: list[tuple] = []
    day = dt.date(2019, 1, 1)
    while day <= dt.date(2019, 12, 31):
        t = dt.datetime.combine(day, dt.time(10))
        for i in range(20):
            rows.append((t + dt.timedelta(minutes=i), f"javascript-i/p{i % 3}", 10 + i % 4, WEB))
            rows.append((t + dt.timedelta(minutes=i), f"python/p{i % 3}", 20 + i % 4, DATA))
        rows.append((t, "python/p0", 5, STAFF))  # staff read anything: never cross-program
        if cut is None or day < cut:
            crossing = then if earlier is not None and day >= earlier else 3
            for i in range(crossing):
                rows.append((t + dt.timedelta(hours=1, minutes=i), "javascript-i/p1", 20 + i, DATA))
            rows.append((t + dt.timedelta(hours=2), "python/p2", 10, WEB))
        elif day.day == 1:
            rows.append((t + dt.timedelta(hours=1), "javascript-i/p2", 23, DATA))
        day += dt.timedelta(days=1)
    frame = pl.DataFrame(rows, schema=["timestamp", "path", "user_id", "cohort_id"], orient="row")
    return frame.with_columns(pl.lit("198.51.100.7").alias("ip"))


def _answer(logs: pl.DataFrame, config: Config | None = None, **kw) -> q5.Q5Result:
    snapshot = Snapshot.from_frames(logs=logs, cohorts=_cohorts(), **kw)
    return q5.answer(snapshot, config or load_config(environ={}))


@pytest.fixture(scope="module")
def result() -> q5.Q5Result:
    return _answer(_logs())


def _homes(result: q5.Q5Result) -> dict[str, str | None]:
    return dict(zip(result.homes["lesson"], result.homes["home"], strict=True))


def test_home_tracks_come_from_the_readers(result: q5.Q5Result) -> None:
    homes = _homes(result)
    assert {k for k, v in homes.items() if v == "web_dev"} == {
        f"javascript-i/p{i}" for i in range(3)
    }
    assert {k for k, v in homes.items() if v == "data_science"} == {
        f"python/p{i}" for i in range(3)
    }
    assert result.lessons_without_home == 0
    assert set(result.homes["basis"]) == {"lesson"}


def test_cutoff_is_found_on_the_day_the_rate_drops(result: q5.Q5Result) -> None:
    assert result.cutoff == CUT
    assert result.cutoff_low <= CUT <= result.cutoff_high
    assert (result.cutoff_high - result.cutoff_low).days <= 14
    assert result.rate_after < 0.1 * result.rate_before
    assert result.earlier_drop is None
    assert result.answer.startswith(
        f"Yes, mostly: students' reading days on the other program's lessons fell by "
        f"{result.drop_pct}%"
    )
    assert "around 15 June 2019, 14 days after the policy date" in result.answer


def test_access_after_the_cutoff_is_listed(result: q5.Q5Result) -> None:
    after = result.after_cutoff
    assert after.height == 1
    row = after.row(0, named=True)
    assert (row["user_id"], row["program"], row["module"], row["views"]) == (
        23,
        "Data science",
        "javascript-i",
        6,  # July..December, the 1st of each month
    )
    assert row["first"].date() == dt.date(2019, 7, 1)
    assert result.after_lessons.row(0, named=True)["lesson"] == "javascript-i/p2"
    assert "but 1 student kept reading them" in result.answer
    assert result.headline() == (
        "Cross-program access dropped on 15 June 2019, but 6 views by 1 student continued"
    )


def test_each_direction_gets_its_own_cutoff(result: q5.Q5Result) -> None:
    table = {r["direction"]: r for r in result.directions.iter_rows(named=True)}
    assert set(table) == {"web_dev->data_science", "data_science->web_dev"}
    web = table["web_dev->data_science"]
    data = table["data_science->web_dev"]
    assert web["cutoff"] == CUT and data["cutoff"] == CUT
    assert web["views"] == (CUT - dt.date(2019, 1, 1)).days  # one view a day before the cut
    assert data["views"] == 3 * (CUT - dt.date(2019, 1, 1)).days + 6
    assert web["views_after"] == 0 and data["views_after"] == 6
    # one of the four web-dev students who read that day read across
    assert web["rate_before"] == pytest.approx(1 / 4)
    # data-science students' reading falls from 3 in 23 views a day to a trickle: the larger signal
    assert data["signal"] and not web["signal"]
    assert result.signal_direction == "data_science->web_dev"
    assert any(
        s.startswith("Data-science students reading web-development lessons carry")
        for s in result.supporting
    )


def test_monthly_counts_both_directions(result: q5.Q5Result) -> None:
    jan = result.monthly.filter(pl.col("month") == dt.date(2019, 1, 1))
    counts = dict(zip(jan["direction"], jan["views"], strict=True))
    assert counts == {"data_science->web_dev": 93, "web_dev->data_science": 31}
    assert result.monthly.height == 24  # 12 months x 2 directions, zeros included
    dec = result.monthly.filter(
        (pl.col("month") == dt.date(2019, 12, 1)) & (pl.col("direction") == "web_dev->data_science")
    )
    assert dec["views"].item() == 0
    # the chart's measure is the text's: reading days on the other track over the track's reading
    # days, plotted only while both programs had students enrolled (never a zero before a program)
    inside = result.monthly.filter(pl.col("rate").is_not_null())
    assert (inside["rate"] == inside["reading_days"] / inside["exposure"]).all()
    outside = result.monthly.filter(
        (pl.col("month").dt.month_end() < result.search_from) | (pl.col("month") > result.search_to)
    )
    assert outside["rate"].null_count() == outside.height


def test_earlier_drop_before_the_main_one() -> None:
    result = _answer(_logs(earlier=dt.date(2019, 3, 1), then=1))
    assert result.cutoff == CUT
    assert result.earlier_drop is not None
    assert abs((result.earlier_drop - dt.date(2019, 3, 1)).days) <= 3
    assert result.earlier_drop_description.startswith("Yes")


def test_no_drop_means_no_cutoff() -> None:
    result = _answer(_logs(cut=None))
    assert result.cutoff is None
    assert result.reference_date == result.policy_date == dt.date(2019, 6, 1)
    assert result.answer.startswith("No clear shut-off")
    # after the policy date every cross view still counts as continued access
    assert result.after_cutoff["views"].sum() > 0
    assert json.loads(json.dumps(result.to_json()))["cutoff"] is None


def test_a_small_drop_is_not_a_shut_off() -> None:
    """4 -> 3 cross views a day is a quarter less: below min_drop (half), so no cutoff."""
    logs = _logs(cut=None, earlier=CUT, then=2)
    result = _answer(logs)
    assert result.cutoff is None


def test_overrides_win_and_bad_tracks_are_named() -> None:
    base = load_config(environ={})
    config = base.replace(
        q5=dataclasses.replace(base.q5, lesson_home_overrides={"javascript-i": "data_science"})
    )
    result = _answer(_logs(), config)
    homes = _homes(result)
    assert homes["javascript-i/p0"] == "data_science"
    assert set(result.homes.filter(pl.col("module") == "javascript-i")["basis"]) == {"override"}
    lesson = base.replace(
        q5=dataclasses.replace(base.q5, lesson_home_overrides={"python/p2": "web_dev"})
    )
    homes = _homes(_answer(_logs(), lesson))
    assert (homes["python/p2"], homes["python/p1"]) == ("web_dev", "data_science")
    bad = base.replace(q5=dataclasses.replace(base.q5, lesson_home_overrides={"x": "nursing"}))
    with pytest.raises(ConfigError, match="nursing"):
        _answer(_logs(), bad)


def test_lessons_without_a_clear_home_are_excluded() -> None:
    logs = _logs()
    shared = pl.DataFrame(
        {
            "timestamp": [dt.datetime(2019, 2, 1, 12, m) for m in range(20)],
            "path": ["sql/intro"] * 20,
            "user_id": [10] * 10 + [20] * 10,
            "cohort_id": [WEB] * 10 + [DATA] * 10,
            "ip": ["198.51.100.7"] * 20,
        }
    )
    result = _answer(pl.concat([logs, shared.cast(logs.schema)]))
    assert result.lessons_without_home == 1
    assert _homes(result)["sql/intro"] is None
    assert result.views_without_home == 20
    assert result.cutoff == CUT


def test_empty_and_simulated_inputs() -> None:
    empty = _logs().head(0)
    result = _answer(empty)
    assert result.cutoff is None
    assert "No student opened a lesson" in result.answer
    assert result.tables()  # still renders
    simulated = _answer(_logs(), simulated=True)
    assert any("simulated" in c for c in simulated.caveats)


def test_a_single_track_has_nothing_to_cross() -> None:
    base = load_config(environ={})
    one = dataclasses.replace(base.programs, track={2: "web_dev", 3: "web_dev"})
    result = _answer(_logs(), base.replace(programs=one))
    assert result.cutoff is None
    assert "Only one program track" in result.answer


def test_change_point_on_a_plain_series() -> None:
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(100)]
    counts = np.array([10] * 60 + [1] * 40)
    exposure = np.full(100, 100)
    point = q5.change_point(
        days,
        counts,
        exposure,
        min_drop=0.5,
        min_llr=10,
        min_segment_days=7,
        reps=50,
        interval=0.9,
        seed=1,
    )
    assert point.date == days[60]
    assert point.rate_before == pytest.approx(0.1)
    assert point.rate_after == pytest.approx(0.01)
    flat = q5.change_point(
        days,
        np.full(100, 10),
        exposure,
        min_drop=0.5,
        min_llr=10,
        min_segment_days=7,
        reps=50,
        interval=0.9,
        seed=1,
    )
    assert flat.date is None


def test_split_scores_match_the_plain_formulas() -> None:
    """`_scored_splits` (masked, in-place arithmetic) gives exactly the values of the plain
    where(...) formulas, zeros in counts and exposure included."""
    counts = np.array([[[0.0, 3.0, 0.0, 5.0, 2.0, 0.0], [1.0, 0.0, 4.0, 0.0, 0.0, 2.0]]])
    exposure = np.array([[[0.0, 9.0, 4.0, 0.0, 8.0, 3.0], [5.0, 0.0, 6.0, 7.0, 0.0, 4.0]]])
    allowed = np.array([True, True, False, True, True])

    def segment_ll(c: np.ndarray, n: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((c > 0) & (n > 0), c * np.log(c / n), 0.0) - c

    cc, nn = np.cumsum(counts, axis=-1), np.cumsum(exposure, axis=-1)
    c1, n1, c2, n2 = (
        cc[..., :-1],
        nn[..., :-1],
        cc[..., -1:] - cc[..., :-1],
        nn[..., -1:] - nn[..., :-1],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(n1 > 0, c1 / n1, 0.0)
        r2 = np.where(n2 > 0, c2 / n2, 0.0)
    falls = (n1 > 0) & (n2 > 0) & (r2 < r1)
    llr_d = segment_ll(c1, n1) + segment_ll(c2, n2) - segment_ll(cc[..., -1:], nn[..., -1:])
    llr = np.where(falls, llr_d, 0.0).sum(axis=0)
    plain = np.where(allowed[None, :] & falls.any(axis=0), llr, -np.inf)
    scored, parts = q5._scored_splits(counts, exposure, allowed)
    assert np.array_equal(scored, plain)
    assert np.array_equal(parts["r1"], r1) and np.array_equal(parts["falls"], falls)
    assert np.isfinite(scored).any()  # the example has a falling split to score


def test_tables_are_compact(result: q5.Q5Result) -> None:
    tables = result.tables()
    assert len(tables) == 3
    for frame in tables.values():
        assert frame.height <= 15
    assert "Direction" in next(iter(tables.values())).columns


def test_every_chart_builds(result: q5.Q5Result) -> None:
    for chart in charts_for(result):
        spec = chart.to_dict()
        assert spec["description"]
        assert "2019-06-15" in json.dumps(spec)
    empty = _answer(_logs().head(0))
    for chart in charts_for(empty):
        assert chart.to_dict()["title"]


@pytest.mark.slow
def test_demo_cutoff_matches_the_simulated_one(demo_snapshot, demo_config, demo_labels) -> None:
    """Ground truth: simulation.json's cross_program_cutoff; cross_program labels follow it."""
    simulation = json.loads((PROJECT_ROOT / "data" / "demo" / "simulation.json").read_text())
    result = q5.answer(demo_snapshot, demo_config)
    truth = simulation.get("cross_program_cutoff")
    assert truth, "simulation.json should state the simulated cutoff"
    true_cut = dt.date.fromisoformat(str(truth)[:10])
    assert result.cutoff is not None
    assert abs((result.cutoff - true_cut).days) <= 14
    assert result.cutoff_low <= result.cutoff <= result.cutoff_high
    labelled = demo_labels.filter(pl.col("kind") == "cross_program")["user_id"].drop_nulls()
    if labelled.len():
        found = set(result.after_cutoff["user_id"].to_list())
        assert len(found & set(labelled.to_list())) >= 0.5 * labelled.n_unique()
    # The chart plots the text's measure (reading days), and nothing for the months before the
    # data-science program had students (issue 17: no zeros before the program existed).
    before = result.monthly.filter(pl.col("month").dt.month_end() < result.search_from)
    assert before.height > 0 and before["rate"].null_count() == before.height
    signal = result.directions.filter(pl.col("signal")).row(0, named=True)
    assert f"on {signal['rate_before'] * 100:.1f}% of their reading days before" in " ".join(
        result.supporting
    )


def test_a_module_holding_lessons_of_both_programs() -> None:
    """`fundamentals` is mostly data science, but web-dev students read their own fundamentals/git
    every day: with lesson homes that is their own lesson, not reading across programs."""
    logs = _logs()
    day, rows = dt.date(2019, 1, 1), []
    while day <= dt.date(2019, 12, 31):
        t = dt.datetime.combine(day, dt.time(15))
        rows += [
            (t + dt.timedelta(minutes=i), "fundamentals/intro", 20 + i % 4, DATA) for i in range(20)
        ]
        rows += [(t + dt.timedelta(minutes=i), "fundamentals/git", 10 + i, WEB) for i in range(2)]
        day += dt.timedelta(days=1)
    extra = pl.DataFrame(rows, schema=["timestamp", "path", "user_id", "cohort_id"], orient="row")
    extra = extra.with_columns(pl.lit("198.51.100.7").alias("ip")).cast(logs.schema)
    result = _answer(pl.concat([logs, extra]))
    homes = _homes(result)
    assert homes["fundamentals/git"] == "web_dev"
    assert homes["fundamentals/intro"] == "data_science"
    table = {r["direction"]: r for r in result.directions.iter_rows(named=True)}
    # web-dev students' cross reading is still the one python page a day before the cut
    assert table["web_dev->data_science"]["views"] == (CUT - dt.date(2019, 1, 1)).days
    assert result.cutoff == CUT


def test_change_is_searched_only_while_both_programs_have_students() -> None:
    """Web dev runs from 2016, data science starts in 2019. Web-dev students read the (future)
    data-science lessons heavily in 2017 and then a little until the cut: the big fall of 2017 lies
    before data science had any student, so the shut-off found is the one of June 2019."""
    cohorts = _cohorts().with_columns(
        pl.when(pl.col("id") == WEB)
        .then(pl.lit(dt.date(2016, 6, 1)))
        .when(pl.col("id") == DATA)
        .then(pl.lit(dt.date(2019, 1, 7)))
        .otherwise(pl.col("start_date"))
        .alias("start_date")
    )
    rows: list[tuple] = []
    day = dt.date(2017, 1, 1)
    while day <= dt.date(2019, 12, 31):
        t = dt.datetime.combine(day, dt.time(10))
        rows += [
            (t + dt.timedelta(minutes=i), f"javascript-i/p{i % 3}", 10 + i % 4, WEB)
            for i in range(20)
        ]
        crossing = 10 if day < dt.date(2017, 9, 1) else (1 if day < CUT else 0)
        rows += [
            (t + dt.timedelta(hours=1, minutes=i), f"python/p{i % 3}", 10 + i % 4, WEB)
            for i in range(crossing)
        ]
        if day >= dt.date(2019, 1, 7):
            rows += [
                (t + dt.timedelta(minutes=i), f"python/p{i % 3}", 20 + i % 4, DATA)
                for i in range(20)
            ]
            rows += [
                (t + dt.timedelta(hours=2, minutes=i), "javascript-i/p0", 20 + i, DATA)
                for i in range(2 if day < CUT else 0)
            ]
        day += dt.timedelta(days=1)
    logs = pl.DataFrame(rows, schema=["timestamp", "path", "user_id", "cohort_id"], orient="row")
    logs = logs.with_columns(pl.lit("198.51.100.7").alias("ip"))
    result = q5.answer(Snapshot.from_frames(logs=logs, cohorts=cohorts), load_config(environ={}))
    assert result.search_from == dt.date(2019, 1, 7)
    assert result.cutoff is not None and abs((result.cutoff - CUT).days) <= 3
    assert result.cutoff_low <= CUT <= result.cutoff_high
    assert "7 January 2019" in " ".join(result.supporting)


def test_answers_are_short_and_plain(result: q5.Q5Result) -> None:
    others = [
        _answer(_logs(cut=None)),
        _answer(_logs().head(0)),
        _answer(_logs(earlier=dt.date(2019, 3, 1), then=1)),
    ]
    for res in [result, *others]:
        assert len(res.answer.split()) <= 30, res.answer
        assert 1 <= len(res.supporting) <= 5
        text = " ".join([res.answer, *res.supporting]).lower()
        for word in (
            "log-likelihood",
            "bootstrap",
            "poisson",
            "p-value",
            "q-value",
            "robust",
            " z ",
            "mad",
        ):
            assert word not in text, (word, text)
