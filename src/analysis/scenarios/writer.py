"""Writing a simulation: the log half-month by half-month (generated rows plus the injected ones, typos,
ids and paths turned into the export's text, gzip without a timestamp so the same seed gives the same
bytes), labels.csv from the population's labels, the cohorts table and simulation.json.

Public API: `LogInputs`, `LogTotals`, `write_log`, `labels_frame`, `write_side_files`, `ip_strings`.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analysis.errors import TargetError
from analysis.progress import Progress
from analysis.scenarios.calendar import Calendar, epoch, months
from analysis.scenarios.curriculum import Curriculum
from analysis.scenarios.population import Population
from analysis.scenarios.sessions import Frame, month_rows
from analysis.schema import LABEL_KINDS, LABEL_SCHEMA

TYPO_RATE = 540 / 900_000


@dataclass(frozen=True)
class LogInputs:
    """Everything the log's text is made from."""

    seed: int
    scale: float
    frame: Frame
    cal: Calendar
    cur: Curriculum
    injected: pl.DataFrame  # rows added outside the session model (internal columns)
    uid: np.ndarray  # user id per user index
    paths: pl.Series  # path text per path id
    ips: pl.Series  # address text per address id
    start_epoch: int  # the log's first and last second
    end_epoch: int
    cutoff_day: int
    n_campus_ips: int


@dataclass
class LogTotals:
    """Counts over the rows written."""

    rows: int = 0
    no_cohort: int = 0
    campus: int = 0
    users: set[int] = field(default_factory=set)
    ips: set[int] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    cohorts: set[int] = field(default_factory=set)

    def add(self, chunk: pl.DataFrame, n_campus_ips: int) -> None:
        self.rows += chunk.height
        self.no_cohort += chunk["cohort"].null_count()
        self.campus += int((chunk["ipid"] < n_campus_ips).sum())
        self.users.update(chunk["user_id"].unique().to_list())
        self.ips.update(chunk["ipid"].unique().to_list())
        self.paths.update(chunk["path"].drop_nulls().unique().to_list())
        self.cohorts.update(chunk["cohort"].drop_nulls().unique().to_list())


def ip_strings(values: np.ndarray) -> list[str]:
    return [f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}" for v in values.tolist()]


def gzip_level(scale: float) -> int:
    """Level 6 keeps the embedded demo small; benchmark volumes favour speed (zlib dominates)."""
    return 6 if scale <= 2 else 1


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_log(target: Path, inputs: LogInputs, gzip_logs: bool, progress: bool) -> LogTotals:
    """Write the log (gzip or plain text) through a temporary file; count what was written."""
    tmp = target.with_name(target.name + ".tmp")
    totals = LogTotals()
    carry = inputs.injected.clear()
    spans = months(inputs.cal)
    try:
        with (
            tmp.open("wb") as raw,
            Progress("simulating", len(spans), unit="half-months", enabled=progress) as bar,
        ):
            sink: Any = (
                gzip.GzipFile(
                    filename="",
                    mode="wb",
                    fileobj=raw,
                    mtime=0,
                    compresslevel=gzip_level(inputs.scale),
                )
                if gzip_logs
                else raw
            )
            for m, (da, db) in enumerate(spans):
                chunk, carry = _month_chunk(inputs, m, da, db, carry, m == len(spans) - 1)
                sink.write(_text(chunk, inputs.ips))
                totals.add(chunk, inputs.n_campus_ips)
                bar.advance(1)
            if gzip_logs:
                sink.close()
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TargetError(f"{target}: cannot write the simulated log ({exc})") from exc
    return totals


def _month_chunk(
    inputs: LogInputs, m: int, da: int, db: int, carry: pl.DataFrame, last: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of one period (generated, injected, and those carried over from the last period), with
    typos, cohort ids, user ids and paths, sorted; and the rows carried into the next period."""
    rng = np.random.default_rng([inputs.seed, 1, m])
    base = epoch(inputs.cal.day0)
    lo_ep, hi_ep = base + da * 86400, base + db * 86400
    generated = pl.DataFrame(
        month_rows(rng, inputs.frame, inputs.cal, inputs.cur, da, db, inputs.cutoff_day)
    )
    chunk = pl.concat(
        [
            carry,
            generated,
            inputs.injected.filter((pl.col("ts") >= lo_ep) & (pl.col("ts") < hi_ep)),
        ]
    )
    carry = chunk.filter(pl.col("ts") >= hi_ep) if not last else chunk.clear()
    chunk = chunk.filter(
        (pl.col("ts") < hi_ep)
        & (pl.col("ts") >= inputs.start_epoch)
        & (pl.col("ts") <= inputs.end_epoch)
    )
    typo = rng.random(chunk.height) < TYPO_RATE / 0.7
    chunk = chunk.with_columns(
        pl.Series("typo", typo) & pl.col("lesson"),
        pl.when(pl.col("ts") < pl.lit(inputs.frame.null_until).gather(pl.col("uidx")))
        .then(None)
        .when(pl.col("cohort") >= 0)
        .then(pl.col("cohort"))
        .alias("cohort"),
        pl.lit(pl.Series(inputs.uid)).gather(pl.col("uidx")).alias("user_id"),
        pl.when(pl.col("pid") >= 0)
        .then(pl.lit(inputs.paths).gather(pl.col("pid").clip(0)))
        .alias("path"),
    )
    cut = (pl.col("path").str.len_chars() - 2).cast(pl.Float64) * pl.lit(
        pl.Series(rng.random(chunk.height))
    )
    cut = cut.floor().cast(pl.Int64) + 1
    chunk = chunk.with_columns(
        pl.when(pl.col("typo"))
        .then(pl.col("path").str.slice(0, cut) + pl.col("path").str.slice(cut + 1))
        .otherwise(pl.col("path"))
        .alias("path")
    ).sort("ts", "user_id", "path", "ipid", nulls_last=False)
    return chunk, carry


def _text(chunk: pl.DataFrame, ips: pl.Series) -> bytes:
    """The export's lines: date, time, path, user id, cohort id, address (space-separated)."""
    lines = chunk.select(
        pl.concat_str(
            pl.from_epoch("ts", time_unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"),
            pl.col("path").fill_null(""),
            pl.col("user_id").cast(pl.String),
            pl.col("cohort").cast(pl.String).fill_null(""),
            pl.lit(ips).gather(pl.col("ipid")),
            separator=" ",
        ).alias("line")
    )
    buffer = io.BytesIO()
    lines.write_csv(buffer, include_header=False, quote_style="never")
    return buffer.getvalue()


def labels_frame(pop: Population, uid: np.ndarray, ips: pl.Series) -> pl.DataFrame:
    """The injected behaviours, known up front (base behaviour such as routine alumni reading, staff,
    the routine no-cohort users and campus NAT is never labelled)."""
    records = []
    for lab in pop.labels:
        detail = re.sub(r"@(\d+)", lambda m: str(uid[int(m.group(1))]), lab["detail"])
        records.append(
            {
                "kind": lab["kind"],
                "user_id": None if lab["user"] is None else int(uid[lab["user"]]),
                "ip": None if lab["ip"] is None else ips[lab["ip"]],
                "cohort_id": lab["cohort_id"],
                "lesson": lab["lesson"],
                "start": lab["start"],
                "end": lab["end"],
                "detail": detail,
                "shape": lab.get("shape"),
            }
        )
    schema = {**LABEL_SCHEMA, "start": pl.Int64(), "end": pl.Int64()}
    frame = (
        pl.DataFrame(records, schema=schema, orient="row")
        if records
        else pl.DataFrame(schema=schema)
    )
    kinds = {k: i for i, k in enumerate(LABEL_KINDS)}
    return (
        frame.with_columns(
            pl.from_epoch("start", time_unit="s").cast(pl.Datetime("us")),
            pl.from_epoch("end", time_unit="s").cast(pl.Datetime("us")),
            pl.col("kind").replace_strict(kinds, return_dtype=pl.Int64).alias("_order"),
        )
        .sort("_order", "start", "user_id", "cohort_id", nulls_last=True)
        .drop("_order")
        .select(list(LABEL_SCHEMA))
    )


def label_counts(labels: pl.DataFrame) -> dict[str, int]:
    return {k: labels.filter(pl.col("kind") == k).height for k in LABEL_KINDS}


def write_side_files(
    out: Path, reference_dir: Path, labels: pl.DataFrame, meta: dict[str, Any]
) -> None:
    """cohorts.csv (a byte copy of the reference table), labels.csv and simulation.json."""
    try:
        shutil.copyfile(reference_dir / "cohorts.csv", out / "cohorts.csv")
        buffer = io.BytesIO()
        labels.write_csv(buffer, datetime_format="%Y-%m-%dT%H:%M:%S")
        write_atomic(out / "labels.csv", buffer.getvalue())
        write_atomic(out / "simulation.json", (json.dumps(meta, indent=2) + "\n").encode())
    except OSError as exc:
        raise TargetError(f"{out}: cannot write simulation outputs ({exc})") from exc
