"""The scenario library: its make-up (fast), determinism, labels that describe rows really written, and
the targets of issue 9 met by the one configuration on every scenario (slow).

The targets (see analysis.scenarios.evaluate): every labelled incident in the top 25 of the published
question-4 list, scraping and probes in the top 10; at most 25 high-tier incidents; kind-matched recall
>= 0.9; no campus NAT address called a scraper; question 5 within 14 days; the labelled question-2
case reported with at most 2 unlabelled cases per program; question 3 flags at most 3x the labelled
students and finds all but one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from analysis.config import PROJECT_ROOT, load_config
from analysis.scenarios import evaluate as ev
from analysis.scenarios.injections import INJECTORS, PROBE_PATHS, SHAPES
from analysis.scenarios.library import DEMO, SCENARIOS, Scenario, get_scenario
from analysis.scenarios.simulate import simulate
from analysis.schema import LABEL_KINDS, LABEL_SCHEMA, Q4_LABEL_KINDS

REFERENCE = PROJECT_ROOT / "data" / "reference"
FILES = ("logs.txt.gz", "cohorts.csv", "labels.csv", "simulation.json")
VARIANTS = [name for name in SCENARIOS if name != "demo"]
BASE_KNOBS = [
    f.name for f in dataclasses.fields(Scenario) if f.name not in ("name", "description", "events")
]
IRREGULARITIES = (
    "scraping", "probe", "heavy_day", "account_sharing", "shared_ip", "stale_account",
    "cohort_overuse", "dropout", "unknown_user",
)  # fmt: skip


def _digest(directory: Path) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILES}


# --- make-up of the library (no simulation) ---------------------------------------------------------


def test_at_least_five_variants_each_with_other_base_behaviour():
    assert len(VARIANTS) >= 5
    for name in VARIANTS:
        scenario = SCENARIOS[name]
        changed = [k for k in BASE_KNOBS if getattr(scenario, k) != getattr(DEMO, k)]
        assert len([k for k in changed if k != "demo_events"]) >= 2, name
        assert not scenario.demo_events and scenario.events, name


def test_base_behaviours_of_the_issue_are_covered():
    def varied(*knobs: str) -> bool:
        return any(getattr(SCENARIOS[n], k) != getattr(DEMO, k) for n in VARIANTS for k in knobs)

    assert varied("activity_sigma", "session_sigma")  # tail of daily page counts
    assert varied("campus_ips", "shared_pool", "roam_mean", "home_ips_p")  # networks
    assert varied("users_factor")  # cohort sizes
    assert varied("merged_modules")  # a module holding lessons of both programs
    assert varied("web_renames", "rename_shift_days")  # renames
    assert varied("staff_session_factor", "staff_roam", "staff_rows_factor")  # staff habits
    assert varied("cutoff_base", "p_cross_before")  # cross-program reading
    late = [n for n in VARIANTS if SCENARIOS[n].data_start.year <= 2016]
    assert late  # data science (from 2019 in the cohorts table) starts years after web dev


def test_every_irregularity_in_at_least_two_shapes():
    shapes: dict[str, set[str]] = {}
    for name in VARIANTS:
        for kind, shape, n in SCENARIOS[name].events:
            assert kind in LABEL_KINDS and (kind, shape) in SHAPES and n >= 1, (name, kind, shape)
            shapes.setdefault(kind, set()).add(shape)
    for kind in IRREGULARITIES:
        assert len(shapes.get(kind, ())) >= 2, kind
    assert {"burst", "slow_crawler", "jitter_crawler", "around_clock"} <= shapes["scraping"]
    assert {"scattered", "two_days"} <= shapes["probe"]
    assert {"light_cram"} <= shapes["heavy_day"] and {"two_cities"} <= shapes["account_sharing"]


def test_network_and_reader_variants_of_issue_16():
    """A campus NAT pool alternating per request with a second campus, home addresses the ISP
    re-assigns, phones on a carrier address shared by many, and habitual heavy readers (a long
    lognormal tail, graduates who read heavily)."""
    pool = SCENARIOS["campus_pool"]
    assert pool.campus_alternate and len(pool.campus_ips) >= 3 and pool.shared_pool_p >= 0.2
    assert 0 < pool.home_reassign_days <= 180  # home addresses re-assigned every few months
    habitual = SCENARIOS["habitual_heavy"]
    assert habitual.activity_sigma > 1.0 and habitual.alumni_factor > 1.0


@pytest.mark.parametrize("name", VARIANTS)
def test_few_question_4_incidents_per_scenario(name: str):
    n = sum(count for kind, _, count in SCENARIOS[name].events if kind in Q4_LABEL_KINDS)
    assert 8 <= n <= 15


def test_unknown_scenario_is_a_configuration_error():
    from analysis.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown scenario"):
        get_scenario("nope")
    assert set(INJECTORS) <= set(SHAPES)


def test_list_scenarios_command(capsys):
    from analysis.cli import main

    assert main(["simulate", "--list-scenarios"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SCENARIOS)


def test_one_variant_is_deterministic(tmp_path: Path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        simulate(seed=seed, scale=0.02, out=out, reference_dir=REFERENCE, progress=False,
                 scenario="heavy_tail")  # fmt: skip
    assert _digest(a) == _digest(b)
    assert _digest(a)["logs.txt.gz"] != _digest(c)["logs.txt.gz"]


# --- every scenario simulated (slow) ----------------------------------------------------------------

SCALE = 0.2


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scenarios")
    out = {}
    for name in SCENARIOS:
        out[name] = root / name
        simulate(seed=20210421, scale=SCALE, out=out[name], reference_dir=REFERENCE,
                 progress=False, scenario=name)  # fmt: skip
    return out


def _log(directory: Path) -> pl.DataFrame:
    frame = pl.read_csv(
        gzip.decompress((directory / "logs.txt.gz").read_bytes()),
        separator=" ", has_header=False, quote_char=None,
        new_columns=["date", "time", "path", "user_id", "cohort_id", "ip"],
        schema_overrides={"path": pl.String, "cohort_id": pl.Int64, "user_id": pl.Int64},
    )  # fmt: skip
    return frame.with_columns(
        (pl.col("date") + " " + pl.col("time")).str.to_datetime("%Y-%m-%d %H:%M:%S").alias("ts")
    ).drop("date", "time")


def _labels(directory: Path) -> pl.DataFrame:
    return ev.read_labels(directory / "labels.csv")


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_same_seed_same_bytes(name: str, simulated: dict[str, Path], tmp_path: Path):
    simulate(seed=20210421, scale=SCALE, out=tmp_path, reference_dir=REFERENCE, progress=False,
             scenario=name)  # fmt: skip
    assert _digest(tmp_path) == _digest(simulated[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_labels_describe_rows_really_written(name: str, simulated: dict[str, Path]):
    directory = simulated[name]
    log, labels = _log(directory), _labels(directory)
    meta = json.loads((directory / "simulation.json").read_text())
    cohorts = pl.read_csv(directory / "cohorts.csv", null_values="NULL")
    known = set(cohorts["id"].to_list())
    start = dt.datetime.fromisoformat(meta["data_start"])
    assert meta["scenario"] == name and labels.columns == list(LABEL_SCHEMA)
    assert labels["shape"].null_count() == 0
    assert labels.filter(pl.col("kind").is_in(list(Q4_LABEL_KINDS))).height >= 8

    def rows(label: dict, by: str = "user_id") -> pl.DataFrame:
        return log.filter(
            (pl.col(by) == label[by]) & pl.col("ts").is_between(label["start"], label["end"])
        )

    for label in labels.iter_rows(named=True):
        kind, shape = label["kind"], label["shape"]
        if kind == "scraping":
            mine = rows(label).filter(pl.col("ip") == label["ip"]).sort("ts")
            gaps = mine["ts"].diff().dt.total_seconds().drop_nulls()
            assert mine.height >= 150 and label["ip"] not in meta["campus_ips"]
            if shape == "slow_crawler":
                assert 20 <= gaps.mean() <= 40 and gaps.std() < 0.15 * gaps.mean()
                assert (mine["ts"].max() - mine["ts"].min()) >= dt.timedelta(hours=3)
                assert mine["cohort_id"].null_count() == mine.height
            elif shape == "jitter_crawler":  # a drawn pace of 8-90 s, +-50 %
                assert 6 <= gaps.mean() <= 95 and gaps.max() <= 1.6 * gaps.mean()
            elif shape == "around_clock":  # every hour of three days and nights or more
                assert (mine["ts"].max() - mine["ts"].min()) >= dt.timedelta(days=3)
                assert gaps.max() <= 1300
            else:
                assert gaps.mean() <= 3
        elif kind == "probe" and shape == "scattered":  # dozens of addresses, once or twice each
            mine = log.filter(
                pl.col("ts").is_between(label["start"], label["end"])
                & pl.col("path").is_in(list(PROBE_PATHS))
            )
            per_ip = mine.group_by("ip").len()
            assert per_ip.height >= 30 and per_ip["len"].max() <= 2
        elif kind == "probe":
            mine = rows(label).filter(pl.col("ip") == label["ip"])
            assert mine["path"].is_in(list(PROBE_PATHS)).sum() >= 20
        elif kind == "shared_ip":
            users = rows(label, "ip")["user_id"].n_unique()
            assert 8 <= users <= 15
        elif kind == "heavy_day":
            mine = log.filter(pl.col("user_id") == label["user_id"])
            daily = mine.group_by(pl.col("ts").dt.date()).len()
            that = daily.filter(pl.col("ts") == label["start"].date())["len"].item()
            assert that >= 150 and that >= 5 * daily["len"].median()
        elif kind == "account_sharing":
            assert rows(label)["ip"].n_unique() >= 3
        elif kind == "stale_account":
            cohort = cohorts.filter(pl.col("id") == label["cohort_id"]).row(0, named=True)
            assert cohort["name"] != "Staff" and cohort["program_id"] in (1, 2, 3)  # a real class
            ended = dt.date.fromisoformat(cohort["end_date"])
            assert start.date() - ended >= dt.timedelta(days=540)
            assert rows(label).height >= 200
        elif kind == "unknown_user":
            mine = log.filter(pl.col("user_id") == label["user_id"])
            assert mine["cohort_id"].drop_nulls().is_in(list(known)).sum() == 0
            assert mine.height >= 100
        elif kind == "dropout":
            mine = log.filter(pl.col("user_id") == label["user_id"])
            later = mine.filter(pl.col("ts") > label["end"] + dt.timedelta(days=1))
            assert later.height <= (0.3 if shape == "trickle" else 0.05) * mine.height
    for label in labels.filter(pl.col("kind") == "cohort_overuse").iter_rows(named=True):
        assert 3.0 <= _overuse_ratio(log, cohorts, label) <= 4.1  # a modest 3-4x, as labelled
    for kind in ("dropout", "low_usage"):
        for label in labels.filter(pl.col("kind") == kind).iter_rows(named=True):
            assert label["user_id"] is not None and label["cohort_id"] in known


def _overuse_ratio(log: pl.DataFrame, cohorts: pl.DataFrame, label: dict) -> float:
    """Views of the label's lesson per student while enrolled, against the other cohorts of the
    program (students = accounts with a row of the cohort between its start and end dates)."""
    terms = cohorts.select(
        pl.col("id").alias("cohort_id"), "program_id",
        pl.col("start_date").str.to_date(), pl.col("end_date").str.to_date(),
    )  # fmt: skip
    program = terms.filter(pl.col("cohort_id") == label["cohort_id"])["program_id"].item()
    lesson = pl.col("path").str.replace_all(r"(^|/)\d+(?:\.\d+)*[-_]", "$1")
    enrolled = (
        log.join(terms, on="cohort_id")
        .filter(pl.col("program_id") == program)
        .filter(pl.col("ts").dt.date().is_between(pl.col("start_date"), pl.col("end_date")))
        .group_by(pl.col("cohort_id") == label["cohort_id"])
        .agg(
            (lesson == label["lesson"]).sum().alias("views"),
            pl.struct("cohort_id", "user_id").n_unique().alias("students"),
        )
        .with_columns((pl.col("views") / pl.col("students")).alias("rate"))
    )
    own = enrolled.filter(pl.col("cohort_id"))["rate"].item()
    return own / enrolled.filter(~pl.col("cohort_id"))["rate"].item()


@pytest.mark.slow
def test_the_demo_scenario_at_small_scale_keeps_the_demo_labels(simulated: dict[str, Path]):
    kinds = set(_labels(simulated["demo"])["kind"])
    assert kinds == {"scraping", "account_sharing", "heavy_day", "cohort_overuse", "dropout",
                     "duplicate_identity"}  # fmt: skip


@pytest.fixture(scope="module")
def evaluations(simulated: dict[str, Path]) -> dict[str, ev.Evaluation]:
    from analysis.sources.ingest import import_files
    from analysis.sources.snapshot import load_snapshot

    config = load_config(environ={})
    out = {}
    for name, directory in simulated.items():
        snapshot_dir = directory / "snapshot"
        import_files(directory / "logs.txt.gz", directory / "cohorts.csv", snapshot_dir,
                     simulated=True, progress=False)  # fmt: skip
        out[name] = ev.evaluate(
            load_snapshot(snapshot_dir), config, _labels(directory),
            json.loads((directory / "simulation.json").read_text()),
        )  # fmt: skip
    return out


# Targets missed at the default seed by questions this branch does not own, said out loud (strict:
# the test fails as soon as the target is met, so the entry must then go).
KNOWN_MISSES: dict[tuple[str, str], str] = {}


@pytest.mark.slow
@pytest.mark.parametrize("target", ev.TARGET_NAMES)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_targets(
    name: str, target: str, evaluations: dict[str, ev.Evaluation], request: pytest.FixtureRequest
):
    """Issue 9's and issue 16's targets, with the one configuration of curriculum-insights.toml."""
    if (name, target) in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_MISSES[name, target], strict=True))
    evaluation = evaluations[name]
    result = evaluation.target(target)
    assert result is not None
    assert result.passed, f"{name} {target}: {result.value}\n{evaluation.describe()}"
