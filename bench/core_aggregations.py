"""The core aggregations every analysis needs, in two engines on the same Parquet snapshot.

These are the peers `analyze` is measured against (bench/run.py, issue 12): the least work any tool must do
to answer the eight questions from this log, in one scan of the log parts joined with the cohorts:

  1. views per cohort and path            (lesson popularity, cohort over-use, least-accessed lessons)
  2. views per user and day, with first/last time and distinct paths   (heavy days, low usage, drop-outs)
  3. views and distinct users per IP and day                           (shared IPs, campus networks)
  4. per user: distinct IPs, first and last view                       (many IPs, enrolment windows)
  5. views per month, program and "in enrolment / after it"            (cross-program, alumni, trends)

`--engine polars` is the floor: one lazy scan, the five group-bys collected together (`pl.collect_all`
shares the scan). `--engine duckdb` runs the same five queries in DuckDB over `read_parquet(...)`, each
result returned as an Arrow table (`to_arrow_table()`, DuckDB 2's name for `.arrow()`), as polars returns
its frames. Both write the row count of every result, so bench/run.py can check that the two engines did
the same work.

Usage: python bench/core_aggregations.py SNAPSHOT_DIR --engine polars|duckdb [--json OUT]
Timings are in-process (start-up excluded) and printed; the whole process is timed by bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

QUERIES = ("cohort_path", "user_day", "ip_day", "user", "month_program")


def run_polars(snapshot: Path) -> dict[str, int]:
    import polars as pl

    cohorts = pl.scan_parquet(snapshot / "cohorts.parquet").select(
        pl.col("id").alias("cohort_id"), "program_id", "start_date", "end_date"
    )
    views = (
        pl.scan_parquet(snapshot / "logs" / "*.parquet")
        .join(cohorts, on="cohort_id", how="left")
        .with_columns(
            pl.col("timestamp").dt.date().alias("day"),
            (pl.col("timestamp").dt.date() <= pl.col("end_date")).alias("enrolled"),
        )
    )
    plans = [
        views.group_by("cohort_id", "path").agg(pl.len().alias("views")),
        views.group_by("user_id", "day").agg(
            pl.len().alias("views"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
            pl.col("path").n_unique().alias("paths"),
        ),
        views.group_by("ip", "day").agg(
            pl.len().alias("views"), pl.col("user_id").n_unique().alias("users")
        ),
        views.group_by("user_id").agg(
            pl.col("ip").n_unique().alias("ips"),
            pl.col("timestamp").min().alias("first"),
            pl.col("timestamp").max().alias("last"),
        ),
        views.group_by(
            pl.col("timestamp").dt.truncate("1mo").alias("month"), "program_id", "enrolled"
        ).agg(pl.len().alias("views")),
    ]
    frames = pl.collect_all(plans)
    return {name: frame.height for name, frame in zip(QUERIES, frames, strict=True)}


def run_duckdb(snapshot: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    logs = str(snapshot / "logs" / "*.parquet").replace("'", "''")
    cohorts = str(snapshot / "cohorts.parquet").replace("'", "''")
    con.execute(
        f"""CREATE TEMP VIEW views AS
        SELECT l.*, c.program_id, CAST(l.timestamp AS DATE) AS day,
               CAST(l.timestamp AS DATE) <= c.end_date AS enrolled
        FROM read_parquet('{logs}') l LEFT JOIN read_parquet('{cohorts}') c ON l.cohort_id = c.id"""
    )
    sql = {
        "cohort_path": "SELECT cohort_id, path, count(*) FROM views GROUP BY ALL",
        "user_day": "SELECT user_id, day, count(*), min(timestamp), max(timestamp), "
        "count(DISTINCT path) FROM views GROUP BY ALL",
        "ip_day": "SELECT ip, day, count(*), count(DISTINCT user_id) FROM views GROUP BY ALL",
        "user": "SELECT user_id, count(DISTINCT ip), min(timestamp), max(timestamp) "
        "FROM views GROUP BY ALL",
        "month_program": "SELECT date_trunc('month', timestamp), program_id, enrolled, count(*) "
        "FROM views GROUP BY ALL",
    }
    # Materialise each result as polars' collect does: a columnar Arrow table of every row (not Python
    # tuples, which cost DuckDB about 20 % more; not just a count).
    return {name: con.sql(sql[name]).to_arrow_table().num_rows for name in QUERIES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--engine", choices=("polars", "duckdb"), required=True)
    parser.add_argument("--json", help="write the in-process time and result sizes here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sizes = (run_polars if args.engine == "polars" else run_duckdb)(args.snapshot)
    seconds = time.perf_counter() - started
    print(f"{args.engine}: core aggregations in {seconds:.2f} s: {sizes}")
    if args.json:
        Path(args.json).write_text(json.dumps({"total_s": seconds, "sizes": sizes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
