"""The pandas baseline: the core aggregations written the way an analysis notebook does them.

This is deliberately *not* optimised: it is what the product replaces (the notebooks the analysts
published for this log). It reads the exported text log with `pandas.read_csv`, parses the timestamps,
joins the cohorts table, then runs the usual cells:

  1. page views per path per program (value_counts after the cohorts join);
  2. views per cohort and top-level lesson folder (groupby on a `str.split` column);
  3. what alumni keep reading (rows after the cohort's end date, value_counts per program);
  4. the Bollinger-band anomaly loop: per user, daily page counts (resample), EWM mean/std, %b, the
     days with %b > 1 concatenated into one frame -- a Python loop over users, as in the notebooks;
  5. users per IP and IPs per user (groupby nunique);
  6. least-accessed paths (value_counts tail).

Usage: python bench/baseline_pandas.py LOG_FILE COHORTS_CSV [--json OUT]
Prints one line per cell with its wall time (stderr) and a summary (stdout); bench/run.py times the
whole process (wall time and peak RSS) as a subprocess, like every product stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd

COLUMNS = ["date", "time", "path", "user_id", "cohort_id", "ip"]
SPAN = 30  # days, the notebooks' usual EWM span
WEIGHT = 3.5  # band width in standard deviations


def compute_pct_b(pages: pd.Series, span: int, weight: float, user) -> pd.DataFrame:
    midband = pages.ewm(span=span).mean()
    stdev = pages.ewm(span=span).std()
    ub = midband + stdev * weight
    lb = midband - stdev * weight
    bb = pd.concat([ub, lb], axis=1)
    my_df = pd.concat([pages, midband, bb], axis=1)
    my_df.columns = ["pages", "midband", "ub", "lb"]
    my_df["pct_b"] = (my_df["pages"] - my_df["lb"]) / (my_df["ub"] - my_df["lb"])
    my_df["user_id"] = user
    return my_df


def find_anomalies(df: pd.DataFrame, user, span: int, weight: float) -> pd.DataFrame:
    pages = df[df["user_id"] == user]["path"].resample("d").count()
    my_df = compute_pct_b(pages, span, weight, user)
    return my_df[my_df.pct_b > 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs")
    parser.add_argument("cohorts")
    parser.add_argument("--json", help="write cell timings and result sizes here")
    args = parser.parse_args(argv)

    timings: dict[str, float] = {}
    sizes: dict[str, int] = {}
    clock = time.perf_counter()

    def cell(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        print(f"  baseline {name}: {timings[name]:.2f} s", file=sys.stderr, flush=True)
        clock = now

    # cell: load
    df = pd.read_csv(args.logs, sep=" ", header=None, names=COLUMNS)
    df["timestamp"] = pd.to_datetime(df["date"] + " " + df["time"])
    cohorts = pd.read_csv(args.cohorts, na_values="NULL")
    cohorts["start_date"] = pd.to_datetime(cohorts["start_date"])
    cohorts["end_date"] = pd.to_datetime(cohorts["end_date"])
    df = df.merge(
        cohorts[["id", "name", "start_date", "end_date", "program_id"]],
        left_on="cohort_id",
        right_on="id",
        how="left",
    )
    df = df.set_index("timestamp").sort_index()
    sizes["rows"] = len(df)
    cell("read_csv + to_datetime + merge")

    # cell: most viewed paths per program
    by_program = df.groupby("program_id")["path"].value_counts()
    sizes["program_paths"] = len(by_program)
    cell("value_counts per program")

    # cell: lessons per cohort
    df["lesson"] = df["path"].str.split("/").str[0]
    by_cohort = df.groupby(["name", "lesson"]).size().unstack(fill_value=0)
    sizes["cohort_lesson_cells"] = int(by_cohort.size)
    cell("groupby cohort x lesson")

    # cell: what alumni read
    alumni = df[df.index > df["end_date"]]
    alumni_paths = alumni.groupby("program_id")["path"].value_counts()
    sizes["alumni_rows"] = len(alumni)
    sizes["alumni_paths"] = len(alumni_paths)
    cell("alumni value_counts")

    # cell: Bollinger bands per user (the loop)
    anomalies = pd.DataFrame()
    for u in df["user_id"].unique():
        one = find_anomalies(df, u, SPAN, WEIGHT)
        anomalies = pd.concat([anomalies, one], axis=0)
    sizes["users"] = int(df["user_id"].nunique())
    sizes["bollinger_anomalies"] = len(anomalies)
    cell("bollinger loop per user")

    # cell: shared IPs and roaming users
    users_per_ip = df.groupby("ip")["user_id"].nunique().sort_values(ascending=False)
    ips_per_user = df.groupby("user_id")["ip"].nunique().sort_values(ascending=False)
    sizes["ips"] = len(users_per_ip)
    sizes["max_users_per_ip"] = int(users_per_ip.iloc[0])
    sizes["max_ips_per_user"] = int(ips_per_user.iloc[0])
    cell("users per ip")

    # cell: least accessed
    least = df["path"].value_counts().tail(20)
    sizes["least_listed"] = len(least)
    cell("least accessed")

    total = round(sum(timings.values()), 3)
    print(json.dumps({"total_s": total, "sizes": sizes}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"cells": timings, "total_s": total, "sizes": sizes}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
