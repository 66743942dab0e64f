"""Every named scenario's findings, before and after a change: the check behind "same findings" (issue 20).

A speed change must not change a single finding, on any scenario (tests/test_findings_stable.py checks
the demo alone, in the test run). This script writes the findings of every scenario of the library
(scenarios/library.py, seed 11, 1x) as stable JSON, one file each, and compares two such folders:

    python bench/same_findings.py OUT_BEFORE            # on the code before the change
    python bench/same_findings.py OUT_AFTER             # on the code after it
    python bench/same_findings.py --compare OUT_BEFORE OUT_AFTER

Each scenario is simulated and imported once into bench/out/scenarios/NAME/ (gitignored, reused by later
runs). Fields that differ between two runs on the same data (generated_at, timings, built_at,
source_detail) are left out; numbers are compared exactly, floats to a relative 1e-12 (the same rule as
the test). `--compare` prints one line per scenario and exits 1 when any differs, 2 when BEFORE
holds no findings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / "out" / "scenarios"
SEED = 11


def write_findings(out: Path, names: list[str]) -> None:
    from analysis.config import load_config
    from analysis.report import compute_report, stable_findings
    from analysis.scenarios.library import SCENARIOS
    from analysis.scenarios.simulate import simulate
    from analysis.sources.ingest import import_files
    from analysis.sources.snapshot import load_snapshot

    config = load_config(environ={})
    out.mkdir(parents=True, exist_ok=True)
    for name in names or sorted(SCENARIOS):
        work = CACHE / name
        snapshot = work / "snapshot"
        if not (snapshot / "manifest.json").exists():
            simulate(seed=SEED, scale=1, out=work, reference_dir=config.paths.reference_dir,
                     progress=False, scenario=name)  # fmt: skip
            import_files(work / "logs.txt.gz", work / "cohorts.csv", snapshot, simulated=True,
                         progress=False)  # fmt: skip
        started = time.perf_counter()
        report = compute_report(config, progress=False, snapshot=load_snapshot(snapshot))
        (out / f"{name}.json").write_text(
            json.dumps(stable_findings(report.to_json()), sort_keys=True)
        )
        print(f"{name}: answered in {time.perf_counter() - started:.1f} s", flush=True)


def compare(before: Path, after: Path) -> int:
    from analysis.report import findings_differences  # the golden test's rule

    files = sorted(before.glob("*.json"))
    if not files:  # nothing compared is no match
        print(
            f"error: no findings in {before} (write them first: python bench/same_findings.py DIR)"
        )
        return 2
    changed = 0
    for path in files:
        other = after / path.name
        if not other.exists():
            print(f"{path.stem}: missing in {after}")
            changed += 1
            continue
        found = findings_differences(json.loads(path.read_text()), json.loads(other.read_text()))
        verdict = f"{len(found)} differences, first {found[:3]}" if found else "same"
        print(f"{path.stem}: {verdict}")
        changed += bool(found)
    return 1 if changed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="folder for this code's findings")
    parser.add_argument("names", nargs="*", help="scenarios (default: all)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.out is None:
        parser.error("give a folder for the findings, or --compare BEFORE AFTER")
    from analysis.scenarios.library import SCENARIOS

    unknown = sorted(set(args.names) - set(SCENARIOS))
    if unknown:
        parser.error(
            f"unknown scenario {', '.join(unknown)} (known: {', '.join(sorted(SCENARIOS))})"
        )
    write_findings(args.out, args.names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
