"""The pandas baseline's cells, in polars, from the snapshot: the like-for-like half of the ratio.

`analyze` answers eight questions with far more work than the notebook (lesson normalisation, robust
statistics, eight incident detectors, a change point...) and pays Python and library start-up, so
"pandas notebook / analyze" compares different jobs. This script runs exactly the notebook's cells
(bench/baseline_pandas.py), written in polars expressions, on the Parquet snapshot that `import` wrote:

  1. load: scan the log parts, join the cohorts (the notebook: read_csv + to_datetime + merge);
  2. page views per path per program;
  3. views per cohort x top-level lesson folder, as a cohort x folder matrix (pivot);
  4. alumni rows (after the cohort's end date) per program and path;
  5. Bollinger bands per user: daily counts over each user's first..last day (zero days included, as
     pandas' resample does), EWM mean/std (span 30, pandas' defaults: adjust, unbiased std), %b > 1;
  6. users per IP and IPs per user;
  7. the 20 least-accessed paths.

Usage: python bench/core_polars.py SNAPSHOT_DIR [--json OUT]. Cell timings are in-process (start-up not
included). The result sizes are printed beside the pandas baseline's `sizes` by bench/run.py: they agree
to within about 2 % (pandas' read_csv turns path texts such as "null" or "NaN" into missing values, and
its daily resample counts only non-missing paths), so both did the same work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl

SPAN = 30  # as baseline_pandas.SPAN
WEIGHT = 3.5  # as baseline_pandas.WEIGHT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--json", help="write cell timings and result sizes here")
    args = parser.parse_args(argv)

    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    clock = time.perf_counter()

    def cell(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        print(f"  polars {name}: {timings[name]:.2f} s", file=sys.stderr, flush=True)
        clock = now

    cohorts = pl.read_parquet(args.snapshot / "cohorts.parquet").select(
        pl.col("id").alias("cohort_id"),
        "name",
        pl.col("start_date").cast(pl.Datetime("us")),
        pl.col("end_date").cast(pl.Datetime("us")),
        "program_id",
    )
    df = (
        pl.scan_parquet(args.snapshot / "logs" / "*.parquet")
        .join(cohorts.lazy(), on="cohort_id", how="left")
        .collect()
    )
    sizes["rows"] = df.height
    cell("read_csv + to_datetime + merge")

    # pandas' groupby drops rows whose key is missing (no cohort), value_counts drops missing paths
    sizes["program_paths"] = (
        df.drop_nulls(["program_id", "path"]).group_by("program_id", "path").len().height
    )
    cell("value_counts per program")

    by_cohort = (
        df.group_by("name", pl.col("path").str.split("/").list.first().alias("lesson"))
        .len()
        .pivot(on="lesson", index="name", values="len")
    )
    # pandas drops NaN keys in groupby (rows without a cohort, paths that are null)
    by_cohort = by_cohort.filter(pl.col("name").is_not_null()).select(pl.exclude("null"))
    sizes["cohort_lesson_cells"] = by_cohort.height * (by_cohort.width - 1)
    cell("groupby cohort x lesson")

    alumni = df.filter(pl.col("timestamp") > pl.col("end_date"))
    sizes["alumni_rows"] = alumni.height
    sizes["alumni_paths"] = (
        alumni.filter(pl.col("path").is_not_null()).group_by("program_id", "path").len().height
    )
    cell("alumni value_counts")

    pages = pl.col("pages")
    mid = pages.ewm_mean(span=SPAN).over("user_id")
    std = pages.ewm_std(span=SPAN).over("user_id")
    daily = (
        df.lazy()
        .group_by("user_id", pl.col("timestamp").dt.date().alias("day"))
        # pandas counts non-null paths per day
        .agg(pl.col("path").count().cast(pl.Float64).alias("pages"))
        .sort("user_id", "day")
        .collect()
        .upsample("day", every="1d", group_by="user_id")
        .with_columns(pl.col("user_id").forward_fill(), pl.col("pages").fill_null(0.0))
    )
    anomalies = daily.with_columns(
        ((pages - (mid - WEIGHT * std)) / (2 * WEIGHT * std)).alias("pct_b")
    ).filter(pl.col("pct_b") > 1)
    sizes["users"] = df["user_id"].n_unique()
    sizes["bollinger_anomalies"] = anomalies.height
    cell("bollinger loop per user")

    users_per_ip = df.group_by("ip").agg(pl.col("user_id").n_unique().alias("n"))
    ips_per_user = df.group_by("user_id").agg(pl.col("ip").n_unique().alias("n"))
    sizes["ips"] = users_per_ip.height
    sizes["max_users_per_ip"] = int(users_per_ip["n"].max())
    sizes["max_ips_per_user"] = int(ips_per_user["n"].max())
    cell("users per ip")

    least = df.group_by("path").len().drop_nulls("path").sort("len").head(20)
    sizes["least_listed"] = least.height
    cell("least accessed")

    total = round(sum(timings.values()), 3)
    print(json.dumps({"total_s": total, "sizes": sizes}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"cells": timings, "total_s": total, "sizes": sizes}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
