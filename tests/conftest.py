"""Shared fixtures. Tiers (markers): unit tests on tiny inline frames (no marker), golden answers on the
simulated demo snapshot (`slow`), integration (`mysql`, `browser`, `render`)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import polars as pl
import pytest

from analysis.config import PROJECT_ROOT, Config, load_config
from analysis.schema import COHORT_SCHEMA

REFERENCE_COHORTS = PROJECT_ROOT / "data" / "reference" / "cohorts.csv"
DEMO_DIR = PROJECT_ROOT / "data" / "demo"


def night_owl_config(sleep_gap_hours: float, around_clock_hours: float) -> Config:
    """The default configuration with the around-the-clock rule's gap and length set, and half of
    the stretch's hours read (the automation tests of night owls)."""
    q4 = dataclasses.replace(
        Config().q4,
        sleep_gap_hours=sleep_gap_hours,
        around_clock_hours=around_clock_hours,
        around_clock_hour_share=0.5,
    )
    return dataclasses.replace(Config(), q4=q4)


def require(condition: bool, reason: str) -> None:
    """Integration prerequisites: skip on a developer machine, fail in CI (CI must not go green by skipping)."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: integration tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def reference_cohorts() -> pl.DataFrame:
    """The real cohorts table (53 rows), typed."""
    frame = pl.read_csv(REFERENCE_COHORTS, null_values="NULL", try_parse_dates=True)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in COHORT_SCHEMA.items())


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The project's configuration with data and outputs redirected into a temporary directory."""
    base = load_config(environ={})
    return base.replace(
        paths=type(base.paths)(
            data_dir=tmp_path / "data", site_dir=tmp_path / "_site", build_dir=tmp_path / "_build"
        )
    )


@pytest.fixture(scope="session")
def demo_snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo dataset imported once per test session (golden-answer tier)."""
    from analysis.sources.ingest import import_files

    logs = DEMO_DIR / "logs.txt.gz"
    if not logs.exists():
        pytest.fail(f"embedded demo dataset missing: {logs} (run `make demo-data`)")
    target = tmp_path_factory.mktemp("demo") / "snapshot"
    import_files(logs, DEMO_DIR / "cohorts.csv", target, progress=False)
    return target


@pytest.fixture(scope="session")
def demo_snapshot(demo_snapshot_dir: Path):
    from analysis.sources.snapshot import load_snapshot

    return load_snapshot(demo_snapshot_dir)


@pytest.fixture(scope="session")
def demo_config() -> Config:
    return load_config(environ={})


@pytest.fixture(scope="session")
def demo_labels() -> pl.DataFrame:
    from analysis.schema import LABEL_SCHEMA

    return pl.read_csv(DEMO_DIR / "labels.csv", schema_overrides=LABEL_SCHEMA, try_parse_dates=True)
