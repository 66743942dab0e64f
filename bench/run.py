"""Benchmarks: simulate logs at several scales, time every stage, compare with a pandas notebook.

    .venv/bin/python bench/run.py                       # 1x, 10x and 50x (about an hour on 2 cores)
    .venv/bin/python bench/run.py --scales 1            # quick try (a few minutes)
    .venv/bin/python bench/run.py --scales 10 --stages refresh --keep

Every stage runs as its own process (the `curriculum-insights` CLI, or the pandas baseline) and is
measured from outside: wall time, peak RSS of the process tree (`os.wait4` ru_maxrss: the largest single
process, plus a sampled sum over the tree) and bytes read through read() (/proc/self/io `rchar`, written
by a thin wrapper when the CLI exits). Results are printed as a table while the run goes, then written to
bench/results/results.json and rendered to bench/results/results.md (format: bench/README.md).

Interpreter: the stages run with the Python running this script when it is a venv's (sys.prefix !=
sys.base_prefix: `/tmp/bench-venv/bin/python bench/run.py` runs every stage, DuckDB's included, with
that venv, which must hold the bench lock and the project), else with the project's .venv. The stages
run with Python's bytecode cache on (PYTHONDONTWRITEBYTECODE is dropped for them) and the project's
modules are compiled before the first timing, as an installed command finds them.

Stages per scale (scratch data under bench/out/scale-N/, deleted unless --keep). simulate and import run
once; the timed stages run in interleaved rounds (--rounds, default 5 at 1x and 10x, 3 at 50x: each round
runs every timed stage once, so a noisy minute hits all of them alike). Every ratio is computed per round
(the two stages of the same round) and reported as median [min-max]; a target is met only when its worst
round meets it. questions and refresh run once at the end. Each run's results replace the previous ones
(results.json holds one run):
  simulate  `curriculum-insights simulate --scale N` (not part of any target)
  import    text log -> Parquet snapshot
  analyze   the eight questions -> findings.json (and the saved report render reuses)     [timed]
  render    `curriculum-insights render` alone: must reuse the saved analysis              [timed]
  build     analyze + render; its log must show exactly one analysis                      [timed]
  floor     bench/core_aggregations.py --engine polars: the core aggregations, one scan   [timed]
  duckdb    bench/core_aggregations.py --engine duckdb: the same aggregations in DuckDB,  [timed]
            each result returned as an Arrow table (as polars' collect returns frames)
  goaccess  GoAccess (Debian `goaccess`, installed when missing) on the same text log ->   [timed]
            one HTML report; the stage fails unless GoAccess parsed every line of the log
  fromlog   `curriculum-insights build --logs ... --cohorts ...`: text log -> site,       [timed]
            slide, email (its own scratch folders): the peer of GoAccess's log -> HTML report
  baseline  bench/baseline_pandas.py (current pandas) on the same text log (1x by default) [timed]
  core      bench/core_polars.py: the baseline's cells in polars on the snapshot           [timed]
  questions diagnostic: prepare + each question timed in one process (scales <= 10 by default)
  refresh   (10x by default) one new day of rows put in a scratch MariaDB database, then
            `curriculum-insights acquire` incrementally onto the 10x snapshot; checks old parts are
            hard-linked (same inode, same mtime), not rewritten
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def stage_python() -> Path:
    """The interpreter every stage runs with: the one running this script when it is a virtual
    environment's (`sys.prefix != sys.base_prefix`, e.g. /tmp/bench-venv holding the bench lock and
    the project), else the project's .venv (else this interpreter)."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.executable)
    return VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)


PYTHON = stage_python()
RESULTS_DIR = BENCH / "results"
ALL_STAGES = (
    "simulate",
    "import",
    "analyze",
    "render",
    "build",
    "floor",
    "duckdb",
    "questions",
    "refresh",
    "baseline",
    "core",
    "goaccess",
    "fromlog",
)
# Stages timed in interleaved rounds (each round runs every one of them once, so a noisy minute of the
# machine hits all of them alike); the others prepare data or diagnose and run once per scale.
TIMED_STAGES = (
    "analyze",
    "render",
    "build",
    "floor",
    "duckdb",
    "baseline",
    "core",
    "goaccess",
    "fromlog",
)
DEFAULT_ROUNDS = {1.0: 5, 10.0: 5, 50.0: 3}  # issue 20: at least 5 rounds at 1x and 10x, 3 at 50x
DEFAULT_DB_URL = "mysql+pymysql://root@127.0.0.1:3306/bench_curriculum_logs"
REAL_ROWS = 900_223

# Targets (issues 12 and 20): ratios of the two stages within each round of one run; a target is met only
# when the worst round meets it.
TARGET_RATIO_1X = 10.0  # pandas baseline / analyze at 1x, at least
TARGET_DUCKDB = {
    1.0: 2.0,
    10.0: 1.5,
    50.0: 1.5,
}  # analyze / DuckDB core aggregations (Arrow), at most
TARGET_FLOOR = {10.0: 6.0, 50.0: 6.0}  # analyze / polars floor, at most
TARGET_GOACCESS = {1.0: 1.0, 10.0: 0.5}  # build from the text log / GoAccess's HTML report, at most
TARGET_RENDER_S = {1.0: 3.0}  # render alone, seconds, every round
TARGET_RENDER_GROWTH = 1.3  # render at the largest scale / render at 1x, at most
# GoAccess reads the log as: date, time, path, user id, cohort id, IP (ids skipped). %U needs a path, so a
# line with an empty path is counted as a failed request (parsed, not valid); the stage checks GoAccess
# parsed every line of the log and reports how many it failed.
GOACCESS_FORMAT = ("%d %t %U %^ %^ %h", "%Y-%m-%d", "%H:%M:%S")
SUPERLINEAR_EXPONENT = (
    1.15  # log-log slope above this between the two largest scales: worse than linear
)

# Rough seconds per million rows on 2 cores, for the up-front estimate (updated from measured runs).
ESTIMATE_S_PER_MROWS = {
    "simulate": 6.0,
    "import": 4.0,
    "analyze": 4.0,
    "render": 1.0,
    "build": 5.0,
    "floor": 0.5,
    "duckdb": 1.0,
    "questions": 4.0,
    "baseline": 30.0,
    "core": 0.5,
    "goaccess": 4.0,
    "fromlog": 7.0,
}


# --- measuring one process --------------------------------------------------------------------------------


@dataclasses.dataclass
class Measurement:
    wall_s: float
    max_rss_mb: (
        float  # largest single process of the tree (wait4 ru_maxrss, reaped descendants included)
    )
    tree_peak_mb: float  # sampled sum of RSS over the tree (every 0.2 s)
    read_mb: (
        float | None
    )  # bytes through read() by the CLI process (rchar), None for non-CLI stages
    exit_code: int
    timed_out: bool = False


def _tree_rss(pid: int) -> int:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil ships with the venv
        return 0
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def stage_env() -> dict[str, str]:
    """The stages' environment: this one, with Python's bytecode cache on (PYTHONDONTWRITEBYTECODE
    removed), as an installed `curriculum-insights` runs; warm_bytecode fills it before any timing."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode() -> None:
    """Compile the project's modules once (src/analysis/**/__pycache__, git-ignored), so no timed
    stage pays for compiling them (a user's installed command finds them compiled after its first run)."""
    subprocess.run(
        [str(PYTHON), "-m", "compileall", "-q", str(ROOT / "src" / "analysis")],
        check=False,
        env=stage_env(),
        stdout=subprocess.DEVNULL,
    )


def measure(
    cmd: list[str], *, log_path: Path, label: str, timeout: float | None = None
) -> Measurement:
    """Run `cmd` in its own session; wall time, peak RSS (wait4) and a sampled tree RSS."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    io_file = log_path.with_suffix(".io.json")
    io_file.unlink(missing_ok=True)
    env = {**stage_env(), "BENCH_IO_FILE": str(io_file), "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True
        )
        done = threading.Event()
        peak = [0]
        timed_out = [False]

        def sample() -> None:
            last_note = time.perf_counter()
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                now = time.perf_counter()
                if now - last_note >= 30:
                    last_note = now
                    print(
                        f"     ... {label}: {now - started:.0f} s, tree RSS {peak[0] / 2**20:,.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
                if timeout is not None and now - started > timeout and not timed_out[0]:
                    timed_out[0] = True
                    os.killpg(proc.pid, signal.SIGKILL)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    read_mb = None
    if io_file.exists():
        io = json.loads(io_file.read_text())
        read_mb = round(io.get("rchar", 0) / 2**20, 1)
    return Measurement(
        wall_s=round(wall, 2),
        max_rss_mb=round(usage.ru_maxrss / 1024, 1),  # Linux reports kB
        tree_peak_mb=round(max(peak[0], usage.ru_maxrss * 1024) / 2**20, 1),
        read_mb=read_mb,
        exit_code=proc.returncode,
        timed_out=timed_out[0],
    )


def _child_main(argv: list[str]) -> int:
    """`run.py --child ARGS`: the CLI in this process, then /proc/self/io to $BENCH_IO_FILE."""
    from analysis.cli import main

    try:
        return main(argv)
    finally:
        target = os.environ.get("BENCH_IO_FILE")
        if target:
            try:
                fields = dict(
                    line.split(": ") for line in Path("/proc/self/io").read_text().splitlines()
                )
                Path(target).write_text(json.dumps({k: int(v) for k, v in fields.items()}))
            except OSError:
                pass


def cli(*args: str) -> list[str]:
    return [str(PYTHON), str(Path(__file__).resolve()), "--child", *args]


# --- per-scale scratch layout -----------------------------------------------------------------------------


@dataclasses.dataclass
class Scratch:
    scale: float
    root: Path

    @property
    def name(self) -> str:
        return f"{self.scale:g}x"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def snapshot(self) -> Path:
        return self.data / "snapshot"

    @property
    def sim(self) -> Path:
        return self.root / "sim"

    @property
    def logs(self) -> Path:
        return self.sim / "logs.txt"

    @property
    def cohorts(self) -> Path:
        return self.sim / "cohorts.csv"

    @property
    def config(self) -> Path:
        return self.root / "bench.toml"

    @property
    def logdir(self) -> Path:
        return self.root / "logs"

    @property
    def fromlog(self) -> Path:
        """The `fromlog` stage's own data, site and build folders (it re-imports the text log)."""
        return self.root / "fromlog"

    @property
    def fromlog_config(self) -> Path:
        return self.fromlog / "bench.toml"

    def prepare(self) -> None:
        """Scratch dirs, a link to the real reference data and a config pointing every path here
        (and one for the `fromlog` stage, pointing into fromlog/)."""
        base = (ROOT / "curriculum-insights.toml").read_text(encoding="utf-8")
        if "paths" in tomllib.loads(base):
            raise SystemExit(
                "curriculum-insights.toml has a [paths] table; bench/run.py adds its own"
            )
        for root, config in ((self.root, self.config), (self.fromlog, self.fromlog_config)):
            data = root / "data"
            data.mkdir(parents=True, exist_ok=True)
            reference = data / "reference"
            if not reference.exists():
                reference.symlink_to(ROOT / "data" / "reference")
            config.write_text(
                base
                + "\n# added by bench/run.py: every path in the scratch directory\n[paths]\n"
                + f'data_dir = "{data}"\nsite_dir = "{root / "site"}"\n'
                + f'build_dir = "{root / "build"}"\n',
                encoding="utf-8",
            )

    def log_lines(self) -> int:
        """Lines of the text log (counted once)."""
        marker = self.sim / "lines.json"
        size = self.logs.stat().st_size
        if marker.exists():
            known = json.loads(marker.read_text())
            if known.get("bytes") == size:
                return int(known["lines"])
        lines = 0
        with self.logs.open("rb") as handle:
            while chunk := handle.read(1 << 24):
                lines += chunk.count(b"\n")
        marker.write_text(json.dumps({"bytes": size, "lines": lines}))
        return lines

    def rows(self) -> int | None:
        manifest = self.snapshot / "manifest.json"
        if manifest.exists():
            return int(json.loads(manifest.read_text())["rows"])
        return None


# --- stages -----------------------------------------------------------------------------------------------


def _sim_ready(s: Scratch, seed: int) -> bool:
    marker = s.sim / "simulation.json"
    if not (s.logs.exists() and s.cohorts.exists() and marker.exists()):
        return False
    try:
        data = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return False
    return data.get("seed") == seed and float(data.get("scale", -1)) == s.scale


def stage_simulate(s: Scratch, args: argparse.Namespace) -> tuple[Measurement | None, str]:
    if _sim_ready(s, args.seed):
        return None, "reused the simulated log of an earlier --keep run"
    shutil.rmtree(s.sim, ignore_errors=True)
    cmd = cli(
        "simulate",
        "--config",
        str(s.config),
        "--seed",
        str(args.seed),
        "--scale",
        f"{s.scale:g}",
        "--out",
        str(s.sim),
        "--no-gzip",
        "-q",
    )
    m = measure(cmd, log_path=s.logdir / "simulate.log", label=f"{s.name} simulate")
    if m.exit_code != 0:
        return _compose(s, args, m)
    size = s.logs.stat().st_size / 2**20 if s.logs.exists() else 0
    return m, f"logs.txt {size:,.0f} MB"


PIECE_SCALE = 2.0  # composed logs are made of simulations at this scale (see _compose)


def _compose(s: Scratch, args: argparse.Namespace, first: Measurement) -> tuple[Measurement, str]:
    """Scale N as N/2 independent 2x simulations (seeds seed+1, seed+2, ...) concatenated.

    Used when `simulate --scale N` itself fails. Each piece's user ids get a distinct prefix
    (`9PPP<id>`), so the composed log has N/2 times the users and rows of a 2x log, like a school
    N/2 times larger; cohorts and the calendar are the real ones.
    """
    pieces = max(1, round(s.scale / PIECE_SCALE))
    shutil.rmtree(s.sim, ignore_errors=True)
    s.sim.mkdir(parents=True)
    wall, peak, tree, seed, made = first.wall_s, first.max_rss_mb, first.tree_peak_mb, args.seed, 0
    with s.logs.open("wb") as out:
        while made < pieces:
            seed += 1
            piece = s.root / "piece"
            shutil.rmtree(piece, ignore_errors=True)
            cmd = cli(
                "simulate", "--config", str(s.config), "--seed", str(seed),
                "--scale", f"{PIECE_SCALE:g}", "--out", str(piece), "--no-gzip", "-q",
            )  # fmt: skip
            m = measure(cmd, log_path=s.logdir / "simulate-piece.log", label=f"{s.name} piece")
            wall, peak, tree = wall + m.wall_s, max(peak, m.max_rss_mb), max(tree, m.tree_peak_mb)
            if m.exit_code != 0:
                if seed > args.seed + 3 * pieces:
                    return dataclasses.replace(m, wall_s=round(wall, 2)), "composing failed"
                continue
            started = time.perf_counter()
            subprocess.run(
                [
                    "sed",
                    "-E",
                    rf"s/^(\S+ \S+ [^ ]* )([0-9]+ )/\19{made:03d}\2/",
                    str(piece / "logs.txt"),
                ],
                stdout=out,
                check=True,
            )
            wall += time.perf_counter() - started
            if made == 0:
                shutil.copy(piece / "cohorts.csv", s.cohorts)
            made += 1
            shutil.rmtree(piece, ignore_errors=True)
    seeds = f"seeds {args.seed + 1}..{seed}"
    composed = {
        "simulated": True,
        "seed": args.seed,
        "scale": s.scale,
        "composed_of": f"{pieces} simulations at scale {PIECE_SCALE:g}, {seeds}",
    }
    (s.sim / "simulation.json").write_text(json.dumps(composed))
    size = s.logs.stat().st_size / 2**20
    note = (
        f"simulate --scale {s.scale:g} failed (exit {first.exit_code}); composed of {pieces} "
        f"x {PIECE_SCALE:g}x simulations, logs.txt {size:,.0f} MB"
    )
    return Measurement(round(wall, 2), peak, tree, None, 0), note


def stage_import(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
    cmd = cli(
        "import",
        "--config",
        str(s.config),
        "--logs",
        str(s.logs),
        "--cohorts",
        str(s.cohorts),
        "-q",
    )
    m = measure(cmd, log_path=s.logdir / "import.log", label=f"{s.name} import")
    return m, f"{s.rows() or 0:,} rows in the snapshot"


def stage_analyze(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
    out = s.root / "build"
    cmd = cli("analyze", "--config", str(s.config), "--out", str(out))
    m = measure(cmd, log_path=s.logdir / "analyze.log", label=f"{s.name} analyze")
    return m, "findings.json written" if (out / "findings.json").exists() else "no findings.json"


ANALYSIS_STEP = "preparing the data"  # compute_report's first progress line: one per analysis


def stage_build(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
    cmd = cli("build", "--config", str(s.config))
    log = s.logdir / "build.log"
    m = measure(cmd, log_path=log, label=f"{s.name} build")
    pages = len(list((s.root / "site").rglob("*.html"))) if (s.root / "site").exists() else 0
    analyses = log.read_text(errors="replace").count(ANALYSIS_STEP) if log.exists() else 0
    return m, f"analyze + render, {pages} HTML pages, analyses: {analyses}"


def stage_render(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
    """render alone, after analyze saved the report: it must reuse it, not analyse again."""
    cmd = cli("render", "--config", str(s.config))
    log = s.logdir / "render.log"
    m = measure(cmd, log_path=log, label=f"{s.name} render")
    text = log.read_text(errors="replace") if log.exists() else ""
    reused = "reusing the analysis" in text and ANALYSIS_STEP not in text
    return m, "reused the saved analysis" if reused else "analysed again (cache missed)"


def stage_fromlog(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
    """`build` from the text log (import + analyze + render), in its own folders: GoAccess's peer."""
    cmd = cli(
        "build",
        "--config",
        str(s.fromlog_config),
        "--logs",
        str(s.logs),
        "--cohorts",
        str(s.cohorts),
    )
    log = s.logdir / "fromlog.log"
    m = measure(cmd, log_path=log, label=f"{s.name} fromlog")
    pages = len(list((s.fromlog / "site").rglob("*.html"))) if (s.fromlog / "site").exists() else 0
    return m, f"text log -> snapshot, analysis, {pages} HTML pages, slide, email"


_GOACCESS: dict[str, str | None] = {}


def goaccess_binary() -> tuple[str | None, str]:
    """GoAccess, installed with apt-get (Debian `goaccess`) when missing and we are root; (path, note)."""
    if "path" not in _GOACCESS:
        note = ""
        if not shutil.which("goaccess") and os.geteuid() == 0 and shutil.which("apt-get"):
            print("  installing GoAccess: apt-get install -y goaccess", file=sys.stderr, flush=True)
            done = subprocess.run(
                ["apt-get", "install", "-y", "-q", "goaccess"],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            note = "installed by the bench; " if done.returncode == 0 else ""
        _GOACCESS["path"] = shutil.which("goaccess")
        _GOACCESS["note"] = note
    return _GOACCESS["path"], _GOACCESS["note"] or ""


_GOACCESS_COUNT = re.compile(r'"(total|valid|failed)_requests":\s*(\d+)')


def stage_goaccess(s: Scratch, args: argparse.Namespace) -> tuple[Measurement | None, str]:
    """GoAccess: the same text log -> one HTML report; fails unless it parsed every line of the log."""
    binary, installed = goaccess_binary()
    if binary is None:
        return None, "skipped: goaccess is not installed (Debian: apt-get install goaccess)"
    out = s.root / "goaccess" / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    log_format, date_format, time_format = GOACCESS_FORMAT
    cmd = [
        binary,
        str(s.logs),
        f"--log-format={log_format}",
        f"--date-format={date_format}",
        f"--time-format={time_format}",
        "--no-global-config",
        "--no-progress",
        "-o",
        str(out),
    ]
    m = measure(cmd, log_path=s.logdir / "goaccess.log", label=f"{s.name} goaccess")
    if m.exit_code != 0 or not out.exists():
        return m, f"{installed}failed (see the log)"
    counts: dict[str, int] = {}
    with out.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:  # the report's first "general" block holds the run's totals
            for kind, value in _GOACCESS_COUNT.findall(line):
                counts.setdefault(kind, int(value))
            if len(counts) == 3:
                break
    lines = s.log_lines()
    parsed = counts.get("total")
    note = (
        f"{installed}GoAccess {goaccess_version(binary)} parsed {parsed or 0:,} of {lines:,} lines "
        f"({counts.get('failed', 0):,} failed: lines with an empty path), "
        f"report {out.stat().st_size / 2**20:,.1f} MB"
    )
    if parsed != lines:
        return dataclasses.replace(m, exit_code=1), f"FAILED: {note}"
    return m, note


@functools.cache
def goaccess_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    first = (out.stdout or "").splitlines()[0] if out.stdout else ""
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", first)
    return match.group(1) if match else "?"


def _stage_core_aggregations(engine: str):
    def stage(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
        out = s.root / f"{engine}.json"
        out.unlink(missing_ok=True)
        cmd = [
            str(PYTHON),
            str(BENCH / "core_aggregations.py"),
            str(s.snapshot),
            "--engine",
            engine,
            "--json",
            str(out),
        ]
        m = measure(cmd, log_path=s.logdir / f"{engine}.log", label=f"{s.name} {engine}")
        if out.exists():
            data = json.loads(out.read_text())
            return m, f"in-process {data['total_s']:.2f} s; sizes {data['sizes']}"
        return m, "failed (see the log)"

    return stage


def stage_questions(s: Scratch, args: argparse.Namespace) -> tuple[Measurement, str]:
    out = s.root / "questions.json"
    out.unlink(missing_ok=True)
    cmd = [str(PYTHON), str(Path(__file__).resolve()), "--profile", str(s.config), str(out)]
    m = measure(cmd, log_path=s.logdir / "questions.log", label=f"{s.name} questions")
    if not out.exists():
        return m, "no timings (see the log)"
    timings = json.loads(out.read_text())
    s.root.joinpath("questions.last.json").write_text(json.dumps(timings))
    shown = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    return m, f"seconds: {shown}"


def _profile_main(config_path: str, out: str) -> int:
    """`run.py --profile CONFIG OUT`: prepare once, then each question, timed in one process."""
    from analysis.config import load_config
    from analysis.prepare import prepare
    from analysis.questions import QUESTIONS
    from analysis.sources.snapshot import load_snapshot

    config = load_config(Path(config_path))
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    snapshot = load_snapshot(config.paths.snapshot_dir)
    prepared = prepare(snapshot, config)
    try:  # compute_report collects the prepared views once; do the same
        from analysis.report import materialize

        prepared = materialize(prepared)
    except ImportError:
        pass
    timings["prepare"] = round(time.perf_counter() - clock, 2)
    for number in sorted(QUESTIONS):
        try:
            module = QUESTIONS[number]
        except ModuleNotFoundError:  # a question not written yet: profile the others
            print(f"q{number}: missing", flush=True)
            continue
        clock = time.perf_counter()
        module.answer(snapshot, config, prepared)
        timings[f"q{number}"] = round(time.perf_counter() - clock, 2)
        print(f"q{number}: {timings[f'q{number}']:.2f} s", flush=True)
    Path(out).write_text(json.dumps(timings))
    return 0


def _inodes(snapshot: Path) -> dict[str, tuple[int, int]]:
    return {
        part.name: (part.stat().st_ino, part.stat().st_mtime_ns)
        for part in sorted((snapshot / "logs").glob("part-*.parquet"))
    }


def _new_day_rows(s: Scratch, day: dt.date) -> list[tuple]:
    """The rows of the snapshot's last day, moved one day later: a plausible next day of traffic."""
    prefix = f"{day.isoformat()} ".encode()
    new_day = (day + dt.timedelta(days=1)).isoformat()
    found = subprocess.run(
        ["grep", "-a", "^" + prefix.decode(), str(s.logs)], capture_output=True, check=False
    ).stdout
    rows = []
    for raw in found.decode("utf-8", "replace").splitlines():
        fields = raw.split(" ")
        if len(fields) != 6:
            continue
        _, clock, path, user, cohort, ip = fields
        if not user.isdigit():
            continue
        rows.append(
            (
                new_day,
                clock,
                path or None,
                int(user),
                int(cohort) if cohort.isdigit() else None,
                ip,
            )
        )
    return rows


def _load_scratch_db(db_url: str, cohorts_csv: Path, rows: list[tuple]) -> None:
    import polars as pl
    import sqlalchemy as sa

    from analysis.sources.acquire import COHORTS_DDL, LOGS_DDL, normalize_url

    url = normalize_url(db_url)
    server = sa.create_engine(url.set(database="information_schema"), poolclass=sa.NullPool)
    with server.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{url.database}`"))
        conn.execute(sa.text(f"CREATE DATABASE `{url.database}`"))
    server.dispose()
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    cohorts = pl.read_csv(cohorts_csv, infer_schema=False)
    with engine.begin() as conn:
        conn.execute(sa.text(LOGS_DDL))
        conn.execute(sa.text(COHORTS_DDL))
        columns = cohorts.columns
        conn.execute(
            sa.text(
                f"INSERT INTO cohorts ({', '.join(columns)}) VALUES "
                f"({', '.join(':' + c for c in columns)})"
            ),
            [
                {k: (None if v in (None, "NULL") else v) for k, v in row.items()}
                for row in cohorts.iter_rows(named=True)
            ],
        )
        conn.exec_driver_sql(
            "INSERT INTO logs (date, time, path, user_id, cohort_id, ip) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            rows,
        )
    engine.dispose()


def stage_refresh(s: Scratch, args: argparse.Namespace) -> tuple[Measurement | None, str]:
    from analysis.sources.acquire import normalize_url

    manifest_path = s.snapshot / "manifest.json"
    if not manifest_path.exists():
        return None, "skipped: no snapshot (run the import stage first)"
    manifest = json.loads(manifest_path.read_text())
    last_day = dt.datetime.fromisoformat(manifest["last_seen"]).date()
    rows = _new_day_rows(s, last_day)
    try:
        _load_scratch_db(args.db_url, s.cohorts, rows)
    except Exception as exc:  # any database trouble means: skip this stage, say why
        first = str(exc).splitlines()[0][:160]
        return None, f"skipped: scratch MariaDB database unavailable ({first})"
    # The imported snapshot stands for one acquired earlier from this database (see bench/README.md).
    url = normalize_url(args.db_url)
    manifest["source"] = "mysql"
    manifest["source_detail"] = url.render_as_string(hide_password=True)
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    before = _inodes(s.snapshot)
    cmd = cli("acquire", "--config", str(s.config), "--db-url", args.db_url, "-q")
    m = measure(cmd, log_path=s.logdir / "refresh.log", label=f"{s.name} refresh")
    after = _inodes(s.snapshot)
    output = (s.logdir / "refresh.log").read_text()
    kept = [name for name, ident in before.items() if after.get(name) == ident]
    added = sorted(set(after) - set(before))
    new_rows = (s.rows() or 0) - int(manifest["rows"])
    incremental = "(incremental)" in output
    ok = (
        m.exit_code == 0
        and incremental
        and len(kept) == len(before)
        and len(added) == 1
        and new_rows == len(rows)
    )
    note = (
        f"{'OK' if ok else 'FAILED'}: {'incremental' if incremental else 'NOT incremental'}, "
        f"+{new_rows:,} rows (day {last_day + dt.timedelta(days=1)}, {len(rows):,} in the db); "
        f"{len(kept)}/{len(before)} old parts untouched (same inode+mtime), {len(added)} new part"
    )
    return m, note


def stage_baseline(s: Scratch, args: argparse.Namespace) -> tuple[Measurement | None, str]:
    out = s.root / "baseline.json"
    out.unlink(missing_ok=True)
    cmd = [
        str(PYTHON),
        str(BENCH / "baseline_pandas.py"),
        str(s.logs),
        str(s.cohorts),
        "--json",
        str(out),
    ]
    m = measure(
        cmd,
        log_path=s.logdir / "baseline.log",
        label=f"{s.name} baseline",
        timeout=args.baseline_timeout,
    )
    if m.timed_out:
        return m, f"stopped after {args.baseline_timeout:.0f} s (--baseline-timeout)"
    if out.exists():
        cells = json.loads(out.read_text())["cells"]
        slowest = max(cells, key=cells.get)
        return m, f"slowest cell: {slowest} {cells[slowest]:.1f} s"
    return m, "failed (see the log)"


def stage_core(s: Scratch, args: argparse.Namespace) -> tuple[Measurement | None, str]:
    """The notebook's cells in polars, from the snapshot (bench/core_polars.py)."""
    out = s.root / "core.json"
    out.unlink(missing_ok=True)
    cmd = [str(PYTHON), str(BENCH / "core_polars.py"), str(s.snapshot), "--json", str(out)]
    m = measure(cmd, log_path=s.logdir / "core.log", label=f"{s.name} core")
    if out.exists():
        data = json.loads(out.read_text())
        return m, f"in-process {data['total_s']:.2f} s (the pandas cells, in polars)"
    return m, "failed (see the log)"


STAGE_FUNCS = {
    "simulate": stage_simulate,
    "import": stage_import,
    "analyze": stage_analyze,
    "build": stage_build,
    "render": stage_render,
    "floor": _stage_core_aggregations("polars"),
    "duckdb": _stage_core_aggregations("duckdb"),
    "questions": stage_questions,
    "refresh": stage_refresh,
    "baseline": stage_baseline,
    "core": stage_core,
    "goaccess": stage_goaccess,
    "fromlog": stage_fromlog,
}


def wanted(stage: str, scale: float, args: argparse.Namespace) -> str | None:
    """None if the stage runs at this scale, else why not."""
    if stage not in args.stages:
        return "not requested"
    if (
        stage in ("build", "render", "fromlog")
        and args.build_scales
        and scale not in args.build_scales
    ):
        return "not in --build-scales"
    if stage == "refresh" and scale not in args.refresh_scales:
        return "refresh is measured at --refresh-scales"
    if stage in ("goaccess", "fromlog") and scale not in args.goaccess_scales:
        return "GoAccess and build-from-the-log are compared at --goaccess-scales"
    if stage == "baseline" and scale not in args.baseline_scales:
        return "pandas baseline skipped at this scale (see README)"
    if stage == "questions" and scale not in args.questions_scales:
        return "diagnostic run at --questions-scales"
    return None


# --- results ----------------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for module in ("polars", "pandas", "numpy", "pyarrow", "duckdb"):
        try:
            out = subprocess.run(
                [str(PYTHON), "-c", f"import {module}; print({module}.__version__)"],
                capture_output=True,
                text=True,
                check=False,
            )
            versions[module] = out.stdout.strip() or "missing"
        except OSError:
            versions[module] = "missing"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        **versions,
    }


def record(results: dict, entry: dict) -> None:
    """Add one measurement: a further round of this run joins its samples, else it replaces older runs.

    `by_round` keeps each round's wall time under its round number, so ratios pair the two stages of the
    same round."""
    key = str(entry.get("round", 0))
    for r in results["runs"]:
        if (r["scale"], r["stage"]) == (entry["scale"], entry["stage"]) and r.get(
            "run_id"
        ) == entry["run_id"]:
            r["samples"].append(entry["wall_s"])
            r.setdefault("by_round", {})[key] = entry["wall_s"]
            r.setdefault("failed_rounds", [])
            if entry["exit_code"] != 0:
                r["failed_rounds"].append(key)
            r["max_rss_mb"] = max(r["max_rss_mb"], entry["max_rss_mb"])
            r["tree_peak_mb"] = max(r.get("tree_peak_mb") or 0, entry.get("tree_peak_mb") or 0)
            r["exit_code"] = r["exit_code"] or entry["exit_code"]
            r["note"], r["read_mb"], r["rows"] = entry["note"], entry["read_mb"], entry["rows"]
            _summarise(r)
            return
    runs = [
        r
        for r in results["runs"]
        if not (r["scale"] == entry["scale"] and r["stage"] == entry["stage"])
    ]
    runs.append(
        {
            **entry,
            "samples": [entry["wall_s"]],
            "by_round": {key: entry["wall_s"]},
            "failed_rounds": [key] if entry["exit_code"] != 0 else [],
        }
    )
    _summarise(runs[-1])
    runs.sort(key=lambda r: (r["scale"], ALL_STAGES.index(r["stage"])))
    results["runs"] = runs


def _summarise(run: dict) -> None:
    """wall_s = the median of the rounds; spread = (min, max)."""
    samples = sorted(run["samples"])
    middle = len(samples) // 2
    median = samples[middle] if len(samples) % 2 else (samples[middle - 1] + samples[middle]) / 2
    run["wall_s"] = round(median, 2)
    run["spread"] = [samples[0], samples[-1]]
    run["rounds"] = len(samples)


def _get(results: dict, scale: float, stage: str) -> dict | None:
    for r in results["runs"]:
        if r["scale"] == scale and r["stage"] == stage and r.get("exit_code") == 0:
            return r
    return None


def growth(results: dict) -> list[dict]:
    """Per stage: seconds and MB per million rows at each scale, and the log-log slope between scales."""
    out = []
    for stage in ALL_STAGES:
        points = sorted(
            (r["rows"], r["wall_s"], r["max_rss_mb"], r["scale"])
            for r in results["runs"]
            if r["stage"] == stage and r.get("exit_code") == 0 and r.get("rows")
        )
        if len(points) < 2:
            continue
        slopes = []
        for (n1, t1, m1, s1), (n2, t2, m2, s2) in itertools.pairwise(points):
            slopes.append(
                {
                    "from": s1,
                    "to": s2,
                    "time_exponent": round(math.log(t2 / t1) / math.log(n2 / n1), 2),
                    "memory_exponent": round(math.log(m2 / m1) / math.log(n2 / n1), 2),
                }
            )
        last = slopes[-1]
        out.append(
            {
                "stage": stage,
                "points": [
                    {
                        "scale": s,
                        "rows": n,
                        "wall_s": t,
                        "max_rss_mb": m,
                        "s_per_mrows": t / n * 1e6,
                    }
                    for n, t, m, s in points
                ],
                "slopes": slopes,
                "superlinear": last["time_exponent"] > SUPERLINEAR_EXPONENT
                or last["memory_exponent"] > SUPERLINEAR_EXPONENT,
            }
        )
    return out


def round_ratios(top: dict, bottom: dict) -> list[float]:
    """top / bottom within each round both stages ran in (ratios of the same minute of the machine)."""
    a, b = top.get("by_round") or {}, bottom.get("by_round") or {}
    return [a[k] / max(b[k], 1e-9) for k in sorted(set(a) & set(b), key=int)]


def spread_text(values: list[float], digits: int = 2, unit: str = "") -> str:
    """'median [min-max] over N rounds' (`unit` after each number, e.g. " s")."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    rounds = f"{len(ordered)} round{'s' if len(ordered) != 1 else ''}"
    low, high = ordered[0], ordered[-1]
    return f"{median:.{digits}f}{unit} [{low:.{digits}f}-{high:.{digits}f}{unit}] over {rounds}"


def _ratio_target(
    out: list[dict], name: str, top: dict | None, bottom: dict | None, limit: float, at_most: bool
) -> None:
    """A ratio target: reported as median [min-max] of the per-round ratios, met only when the worst
    round meets it."""
    if not (top and bottom):
        return
    ratios = round_ratios(top, bottom)
    if not ratios:
        return
    worst = max(ratios) if at_most else min(ratios)
    out.append(
        {
            "target": name,
            "measured": f"{spread_text(ratios)}; worst round {worst:.2f}",
            "ratios": [round(r, 3) for r in ratios],
            "met": worst <= limit if at_most else worst >= limit,
        }
    )


def targets(results: dict) -> list[dict]:
    """Issues 12 and 20's targets: per-round ratios of one run, met only when the worst round meets it."""
    out: list[dict] = []
    scales = sorted({r["scale"] for r in results["runs"]})
    _ratio_target(
        out,
        f"pandas baseline / analyze at 1x >= {TARGET_RATIO_1X:g}",
        _get(results, 1.0, "baseline"),
        _get(results, 1.0, "analyze"),
        TARGET_RATIO_1X,
        at_most=False,
    )
    for scale in scales:
        analyze = _get(results, scale, "analyze")
        if scale in TARGET_DUCKDB:
            _ratio_target(
                out,
                f"analyze / DuckDB core (Arrow) at {scale:g}x <= {TARGET_DUCKDB[scale]:g}",
                analyze,
                _get(results, scale, "duckdb"),
                TARGET_DUCKDB[scale],
                at_most=True,
            )
        if scale in TARGET_FLOOR:
            _ratio_target(
                out,
                f"analyze / polars floor at {scale:g}x <= {TARGET_FLOOR[scale]:g}",
                analyze,
                _get(results, scale, "floor"),
                TARGET_FLOOR[scale],
                at_most=True,
            )
        if scale in TARGET_GOACCESS:
            _ratio_target(
                out,
                f"build from the text log / GoAccess (HTML report) at {scale:g}x "
                f"<= {TARGET_GOACCESS[scale]:g}",
                _get(results, scale, "fromlog"),
                _get(results, scale, "goaccess"),
                TARGET_GOACCESS[scale],
                at_most=True,
            )
        build, render = _get(results, scale, "build"), _get(results, scale, "render")
        if render and scale in TARGET_RENDER_S:
            samples = list((render.get("by_round") or {}).values()) or render["samples"]
            out.append(
                {
                    "target": f"render alone at {scale:g}x <= {TARGET_RENDER_S[scale]:g} s",
                    "measured": f"{spread_text(samples, unit=' s')}; worst round {max(samples):.2f} s",
                    "met": max(samples) <= TARGET_RENDER_S[scale],
                }
            )
        if build and render and analyze:
            once = "analyses: 1" in build["note"] and render["note"].startswith("reused")
            out.append(
                {
                    "target": f"build = analyze + render, no second analysis, at {scale:g}x",
                    "measured": f"build {build['wall_s']:.1f} s vs analyze {analyze['wall_s']:.1f} s "
                    f"+ render {render['wall_s']:.1f} s (medians); {build['note'].split(', ')[-1]}; "
                    f"render alone {render['note']}",
                    "met": once,
                }
            )
    duck50, an50 = _get(results, 50.0, "duckdb"), _get(results, 50.0, "analyze")
    if duck50 and an50:
        out.append(
            {
                "target": "peak memory of analyze at 50x <= DuckDB's (largest round of each)",
                "measured": f"analyze {an50['max_rss_mb'] / 1024:.1f} GB vs DuckDB "
                f"{duck50['max_rss_mb'] / 1024:.1f} GB",
                "met": an50["max_rss_mb"] <= duck50["max_rss_mb"],
            }
        )
    renders = [r for r in results["runs"] if r["stage"] == "render" and r.get("exit_code") == 0]
    first = _get(results, 1.0, "render")
    if first and len(renders) > 1:
        last = max(renders, key=lambda r: r["scale"])
        ratio = last["wall_s"] / max(first["wall_s"], 1e-9)
        out.append(
            {
                "target": f"render at {last['scale']:g}x / render at 1x <= {TARGET_RENDER_GROWTH:g} "
                "(medians: different scales run in different rounds)",
                "measured": f"{ratio:.2f} ({last['wall_s']:.2f} s vs {first['wall_s']:.2f} s)",
                "met": ratio <= TARGET_RENDER_GROWTH,
            }
        )
    for scale, cells in sorted(results.get("inprocess", {}).items(), key=lambda kv: float(kv[0])):
        if "baseline" not in cells or "core" not in cells:
            continue
        pandas_s, polars_s = cells["baseline"]["total_s"], cells["core"]["total_s"]
        out.append(
            {
                "target": f"the notebook's cells, pandas vs polars in-process, {float(scale):g}x "
                "(informative, last round)",
                "measured": f"{pandas_s / max(polars_s, 1e-9):.1f}x ({pandas_s:.2f} s vs "
                f"{polars_s:.2f} s)",
                "met": None,
            }
        )
    for r in (r for r in results["runs"] if r["stage"] == "refresh"):
        out.append(
            {
                "target": f"incremental refresh at {r['scale']:g}x rewrites nothing old",
                "measured": f"{r['wall_s']:.1f} s, read {r.get('read_mb') or 0:,.0f} MB; {r['note']}",
                "met": r.get("exit_code") == 0 and r["note"].startswith("OK"),
            }
        )
    return out


def _fmt_mb(mb: float | None) -> str:
    return "" if mb is None else f"{mb:,.0f}"


def render_markdown(results: dict) -> str:
    m = results.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `bench/run.py` on {results.get('updated', '?')}. Format: see bench/README.md.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB RAM, "
        f"{m.get('os', '?')}; Python {m.get('python', '?')}, polars {m.get('polars', '?')}, "
        f"pandas {m.get('pandas', '?')}, DuckDB {m.get('duckdb', '?')}; load average at the start "
        f"{m.get('load_average_at_start', '?')}.",
        "",
        f"Command: `bench/run.py {results.get('args', '')}`. This file holds this run only.",
        "",
        "## Stages",
        "",
        "Wall time is the median of the interleaved rounds, with the fastest and slowest round. "
        "Targets use the ratios of the two stages within each round (see Targets).",
        "",
        "| scale | rows | stage | rounds | median s | spread s | peak RSS MB | tree peak MB | read MB "
        "| exit | note |",
        "| ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results["runs"]:
        spread = r.get("spread") or [r["wall_s"], r["wall_s"]]
        lines.append(
            f"| {r['scale']:g}x | {r.get('rows') or 0:,} | {r['stage']} | {r.get('rounds', 1)} | "
            f"{r['wall_s']:.2f} | {spread[0]:.2f}-{spread[1]:.2f} | "
            f"{_fmt_mb(r['max_rss_mb'])} | {_fmt_mb(r.get('tree_peak_mb'))} | "
            f"{_fmt_mb(r.get('read_mb'))} | {r['exit_code']} | {r.get('note', '')} |"
        )
    lines += ["", "## Growth with rows", ""]
    lines += [
        "Seconds per million rows at each scale, and the log-log slope between consecutive scales "
        "(1.0 = linear; above 1.15 is flagged as worse than linear).",
        "",
        "| stage | scale | rows | wall s | s / M rows | peak RSS MB | time slope | memory slope |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for g in results.get("growth", []):
        slopes = {s["to"]: s for s in g["slopes"]}
        for p in g["points"]:
            slope = slopes.get(p["scale"])
            lines.append(
                f"| {g['stage']}{' (!)' if g['superlinear'] else ''} | {p['scale']:g}x | "
                f"{p['rows']:,} | {p['wall_s']:.1f} | {p['s_per_mrows']:.2f} | "
                f"{p['max_rss_mb']:,.0f} | {slope['time_exponent'] if slope else ''} | "
                f"{slope['memory_exponent'] if slope else ''} |"
            )
    questions = results.get("questions", {})
    if questions:
        lines += ["", "## Inside analyze (seconds per step, `questions` stage)", ""]
        steps = list(next(iter(questions.values())).keys())
        lines.append("| scale | " + " | ".join(steps) + " |")
        lines.append("| ---: | " + " | ".join("---:" for _ in steps) + " |")
        for scale, t in sorted(questions.items(), key=lambda kv: float(kv[0])):
            lines.append(
                f"| {float(scale):g}x | " + " | ".join(f"{t.get(k, 0):.2f}" for k in steps) + " |"
            )
    lines += ["", "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for t in results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "-"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines) + "\n"


def save(results: dict, results_dir: Path) -> None:
    results["updated"] = dt.datetime.now().replace(microsecond=0).isoformat()
    results["growth"] = growth(results)
    results["targets"] = targets(results)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (results_dir / "results.md").write_text(render_markdown(results))


# --- main -------------------------------------------------------------------------------------------------


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _rounds(text: str) -> dict[float, int]:
    rounds = {}
    for item in text.split(","):
        scale, _, count = item.partition("=")
        rounds[float(scale)] = int(count)
        if rounds[float(scale)] < 1:
            raise argparse.ArgumentTypeError(f"rounds must be at least 1: {item}")
    return rounds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time import/analyze/build/refresh at several scales against a pandas baseline.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument(
        "--scales", type=_floats, default=[1.0, 10.0, 50.0], help="e.g. 1,10,50 (default)"
    )
    parser.add_argument(
        "--stages",
        type=lambda t: [x for x in t.split(",") if x],
        default=list(ALL_STAGES),
        help=f"comma list of {','.join(ALL_STAGES)} (default: all)",
    )
    parser.add_argument("--keep", action="store_true", help="keep bench/out/ (reused next time)")
    parser.add_argument("--seed", type=int, default=20210421)
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out", help="scratch directory")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--build-scales",
        type=_floats,
        default=[],
        help="scales for build and render (default: every scale)",
    )
    parser.add_argument(
        "--rounds",
        type=_rounds,
        default=DEFAULT_ROUNDS,
        help="interleaved rounds per scale, e.g. 1=5,10=5,50=3 (default; other scales: 1); "
        "1=2,10=1 for a quick run",
    )
    parser.add_argument("--refresh-scales", type=_floats, default=[10.0])
    parser.add_argument(
        "--baseline-scales",
        type=_floats,
        default=[1.0],
        help="pandas baseline scales (default 1: its target is at 1x; 10x takes minutes a round)",
    )
    parser.add_argument("--questions-scales", type=_floats, default=[1.0, 10.0])
    parser.add_argument(
        "--goaccess-scales",
        type=_floats,
        default=[1.0, 10.0],
        help="scales of the goaccess and fromlog stages (default 1,10: the targets' scales)",
    )
    parser.add_argument(
        "--baseline-timeout",
        type=float,
        default=1200.0,
        help="seconds before the baseline is stopped",
    )
    parser.add_argument("--db-url", default=DEFAULT_DB_URL, help="scratch database for refresh")
    args = parser.parse_args(argv)
    unknown = set(args.stages) - set(ALL_STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    return args


def estimate(args: argparse.Namespace) -> float:
    total = 0.0
    for scale in args.scales:
        mrows = REAL_ROWS * scale / 1e6
        rounds = args.rounds.get(scale, 1)
        for stage, per in ESTIMATE_S_PER_MROWS.items():
            if wanted(stage, scale, args) is None:
                repeat = rounds if stage in TIMED_STAGES else 1
                total += (
                    repeat * per * mrows * (1.0 if stage != "baseline" else max(1.0, scale / 3))
                )
        if wanted("build", scale, args) is None:
            total += 30 * rounds
    return total


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        return _child_main(argv[1:])
    if argv[:1] == ["--profile"]:
        return _profile_main(argv[1], argv[2])
    args = parse_args(argv)
    results_path = args.results_dir / "results.json"
    # One run per results file: bench/README.md and results.md state only what this run measured.
    results: dict = {"format": 2, "runs": [], "args": " ".join(argv) or "(defaults)"}
    results["machine"] = machine()
    print(
        f"bench: scales {', '.join(f'{s:g}x' for s in args.scales)}; stages {', '.join(args.stages)}; "
        f"expected duration roughly {estimate(args) / 60:.0f} min on 2 cores "
        "(50x alone is about 45M rows).",
        flush=True,
    )
    header = f"{'scale':>6} {'rows':>12} {'stage':<10} {'wall s':>8} {'peak MB':>9} {'tree MB':>9} {'read MB':>9}  note"
    print(header)
    print("-" * len(header))
    warm_bytecode()
    failures = 0
    run_id = dt.datetime.now().isoformat()
    for scale in args.scales:
        s = Scratch(scale, args.out_dir / f"scale-{scale:g}")
        s.prepare()
        rounds = args.rounds.get(scale, 1)
        setup = [x for x in ("simulate", "import") if wanted(x, scale, args) is None]
        timed = [x for x in TIMED_STAGES if wanted(x, scale, args) is None]
        after = [x for x in ("questions", "refresh") if wanted(x, scale, args) is None]
        # simulate and import once; every timed stage once per round, interleaved; refresh last (it
        # grows the snapshot).
        plan = [(x, 0) for x in setup] + [(x, r) for r in range(rounds) for x in timed]
        plan += [(x, 0) for x in after]
        for stage, round_index in plan:
            label = f"{stage} round {round_index + 1}/{rounds}" if stage in timed else stage
            print(f"  -> {s.name} {label} ...", file=sys.stderr, flush=True)
            m, note = STAGE_FUNCS[stage](s, args)
            if m is None:
                print(f"{s.name:>6} {'':>12} {stage:<10} {'-':>8} {'':>9} {'':>9} {'':>9}  {note}")
                continue
            broken = False
            if m.exit_code != 0:
                failures += 1
                note = f"exit {m.exit_code} (log: {s.logdir / (stage + '.log')}) {note}"
                broken = stage in ("simulate", "import")
            rows = s.rows()
            entry = {
                "scale": scale,
                "stage": stage,
                "rows": rows,
                "run_id": run_id,
                "round": round_index + 1,
                **dataclasses.asdict(m),
                "note": note,
                "at": dt.datetime.now().replace(microsecond=0).isoformat(),
            }
            record(results, entry)
            cells = s.root / f"{stage}.json"
            if stage in ("baseline", "core") and m.exit_code == 0 and cells.exists():
                results.setdefault("inprocess", {}).setdefault(f"{scale:g}", {})[stage] = (
                    json.loads(cells.read_text())
                )
            if stage == "questions" and m.exit_code == 0:
                timings = s.root / "questions.last.json"
                if timings.exists():
                    results.setdefault("questions", {})[f"{scale:g}"] = json.loads(
                        timings.read_text()
                    )
            print(
                f"{s.name:>6} {rows or 0:>12,} {stage:<10} {m.wall_s:>8.1f} {m.max_rss_mb:>9,.0f} "
                f"{m.tree_peak_mb:>9,.0f} {_fmt_mb(m.read_mb):>9}  {note}",
                flush=True,
            )
            save(results, args.results_dir)
            if broken:
                print(
                    f"  {s.name}: {stage} failed, skipping the rest of this scale", file=sys.stderr
                )
                break
        if not args.keep:
            shutil.rmtree(s.root, ignore_errors=True)
    save(results, args.results_dir)
    print()
    for target in results["targets"]:
        met = {True: "met", False: "MISSED", None: "info"}[target["met"]]
        print(f"{met:>6}  {target['target']}: {target['measured']}")
    for g in results["growth"]:
        if g["superlinear"]:
            print(f"  worse than linear: {g['stage']} {g['slopes'][-1]}")
    print(f"\nresults: {results_path} and {args.results_dir / 'results.md'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
