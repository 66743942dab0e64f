"""The `curriculum-insights` command (also `python -m analysis`).

Every subcommand has --help. Errors a user can fix are printed as one line `error: ...` with a
documented exit code (see analysis.errors); anything else is a bug and prints a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import gc
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from analysis.config import Config, check_data_dir, load_config
from analysis.errors import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_TARGET,
    EXIT_USAGE,
    ConfigError,
    InputError,
    UserError,
    os_reason,
)

EXIT_CODES_HELP = """exit codes:
  0  success
  1  internal error (a bug; a traceback is printed)
  2  bad command line or configuration (incl. two sources at once, unknown track, bad IP or address)
  3  input file missing, unreadable or empty; snapshot damaged or without manifest (rebuild it)
  4  database unreachable, credentials refused or tables missing
  5  quality targets missed (evaluate) or output could not be written (disk full, read-only)
  6  another run holds the snapshot or output lock (only with --no-wait; else this run waits)
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="configuration file (default: curriculum-insights.toml)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the snapshot lives (default: ./data, or CURRICULUM_DATA_DIR)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="if another run is writing the same snapshot or outputs, fail at once (exit 6) "
        "instead of waiting for it",
    )


def _add_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "source (default: the existing snapshot, else the embedded demo data)"
    )
    group.add_argument("--logs", type=Path, help="space-separated log file (.gz accepted)")
    group.add_argument("--cohorts", type=Path, help="cohorts CSV (with --logs)")
    group.add_argument("--db-url", help="SQLAlchemy URL of the MySQL source (or CURRICULUM_DB_URL)")
    group.add_argument(
        "--demo", action="store_true", help="rebuild the snapshot from the embedded demo data"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curriculum-insights",
        description="Curriculum access logs -> answers to leadership's questions (site, slide, email).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, handler: Callable[[argparse.Namespace, Config], int]):
        command = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(command)
        command.set_defaults(handler=handler)
        return command

    simulate = add(
        "simulate",
        "Write a simulated log, the real cohorts table and ground-truth labels.",
        _simulate,
    )
    simulate.add_argument(
        "--seed", type=int, default=20210421, help="random seed (same seed, same bytes)"
    )
    simulate.add_argument(
        "--scale", type=float, default=1.0, help="volume multiplier (1 = about 900k rows)"
    )
    simulate.add_argument("--out", type=Path, help="output directory")
    simulate.add_argument(
        "--no-gzip", action="store_true", help="write logs.txt instead of logs.txt.gz"
    )
    simulate.add_argument(
        "--scenario", default="demo", help="named scenario (default: demo; see --list-scenarios)"
    )
    simulate.add_argument(
        "--list-scenarios", action="store_true", help="print the named scenarios and exit"
    )

    importer = add(
        "import", "Build the snapshot from an exported log file and a cohorts CSV.", _import
    )
    importer.add_argument(
        "--logs", type=Path, required=True, help="space-separated log file (.gz accepted)"
    )
    importer.add_argument(
        "--cohorts", type=Path, required=True, help="cohorts CSV (literal NULLs, quoted timestamps)"
    )
    importer.add_argument(
        "--simulated",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="flag the data as simulated (default: detected from simulation.json beside the log)",
    )

    acquire = add(
        "acquire",
        "Refresh the snapshot from the MySQL database (incremental by default).",
        _acquire,
    )
    acquire.add_argument(
        "--db-url", help="SQLAlchemy URL, e.g. mysql+pymysql://user:pw@host:3306/curriculum_logs"
    )
    acquire.add_argument(
        "--full", action="store_true", help="re-read everything instead of only new rows"
    )
    acquire.add_argument(
        "--chunk-size", type=int, default=50_000, help="rows fetched per round trip"
    )

    analyze = add(
        "analyze", "Answer the questions and write findings.json (no rendering).", _analyze
    )
    _add_source(analyze)
    analyze.add_argument(
        "--out", type=Path, default=None, help="output directory (default: _build)"
    )

    evaluate = add(
        "evaluate", "Score the detectors against the simulator's ground-truth labels.", _evaluate
    )
    _add_source(evaluate)
    evaluate.add_argument("--labels", type=Path, help="labels.csv (default: beside the demo log)")
    evaluate.add_argument(
        "--scenario",
        nargs="+",
        metavar="NAME",
        help="simulate these scenarios into a temporary folder, analyze and score them",
    )
    evaluate.add_argument(
        "--all-scenarios", action="store_true", help="score every scenario; one table"
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[20210421],
        help="seed(s) of the simulated scenarios (several: one row per scenario and seed)",
    )
    evaluate.add_argument(
        "--scale",
        type=float,
        default=None,
        help="volume of the simulated scenarios (default 0.2; the demo scenario at 1)",
    )
    evaluate.add_argument(
        "--keep",
        type=Path,
        help="keep each scenario's simulated data and snapshot in DIR/NAME (default: a temporary folder)",
    )

    render = add("render", "Render the site, the slide and the email from the snapshot.", _render)
    _add_render_options(render)

    build = add("build", "The main job: snapshot + analyze + render.", _build)
    _add_source(build)
    _add_render_options(build)

    summary = add(
        "summary", "Print what the snapshot holds (after checking its checksums).", _summary
    )
    summary.add_argument(
        "--verify",
        action="store_true",
        help="also decode every Parquet file and check its row count against the manifest",
    )

    history = add(
        "history",
        "List the stored reports (data end, build time, incidents per tier, settings digest).",
        _history,
    )
    history.add_argument(
        "--prune",
        action="store_true",
        help="delete all but the [history] keep newest reports, then list what is left",
    )
    return parser


def _add_render_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--privacy",
        choices=("public", "internal"),
        help="public masks IPs everywhere (default); internal shows them",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "quarto", "pandoc"),
        default="auto",
        help="auto uses quarto when it is on PATH, else the jupytext/nbclient/pandoc chain",
    )
    parser.add_argument("--site-dir", type=Path, help="output directory (default: _site)")
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="neither read nor add to the report history (no 'since the last report' section)",
    )
    parser.add_argument(
        "--compare-to",
        metavar="DATE",
        help="compare with the stored report whose data ends on DATE (YYYY-MM-DD; default: the "
        "latest one ending earlier; see `history`)",
    )
    parser.add_argument(
        "--slide-png",
        action="store_true",
        help="also draw slide.png with LibreOffice (soffice and pdftoppm; adds about 1.5 s)",
    )


def _configure(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if getattr(args, "data_dir", None):
        check_data_dir(args.data_dir, "--data-dir")
        config = config.replace(paths=_replace(config.paths, data_dir=args.data_dir))
    if getattr(args, "db_url", None):
        config = config.replace(db_url=args.db_url)
    if getattr(args, "privacy", None):
        config = config.replace(privacy=_replace(config.privacy, mode=args.privacy))
    if getattr(args, "site_dir", None):
        config = config.replace(paths=_replace(config.paths, site_dir=args.site_dir))
    if getattr(args, "compare_to", None):
        if getattr(args, "no_history", False):
            raise ConfigError("--compare-to needs the history: leave out --no-history")
        config = config.replace(history=_replace(config.history, compare_to=args.compare_to))
    if getattr(args, "no_history", False):
        config = config.replace(history=_replace(config.history, enabled=False))
    if config.history.enabled and config.history.compare_to and args.handler in (_build, _render):
        from analysis.history import load_history, parse_date, previous_entry

        # a date no stored report ends on is a command-line error, said before anything is built
        where = "--compare-to" if getattr(args, "compare_to", None) else "[history] compare_to"
        previous_entry(load_history(config), None, parse_date(config.history.compare_to, where))
    return config


def _replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


# --- handlers -----------------------------------------------------------------------------------------


def _simulate(args: argparse.Namespace, config: Config) -> int:
    from analysis.scenarios.library import get_scenario, list_scenarios
    from analysis.scenarios.simulate import simulate

    if args.list_scenarios:
        print(list_scenarios())
        return EXIT_OK
    if args.out is None:
        raise ConfigError("--out is required (the folder the simulated data goes to)")
    if not math.isfinite(args.scale) or args.scale <= 0:
        raise ConfigError(f"--scale must be a positive number, got {args.scale}")
    summary = simulate(
        seed=args.seed,
        scale=args.scale,
        out=args.out,
        reference_dir=config.paths.reference_dir,
        gzip_logs=not args.no_gzip,
        progress=not args.quiet,
        scenario=get_scenario(args.scenario),
    )
    print(summary.describe())
    return EXIT_OK


@contextlib.contextmanager
def _data_lock(args: argparse.Namespace, config: Config, *, exclusive: bool) -> Iterator[None]:
    """The snapshot's lock: exclusive for writers, shared for readers (see analysis.sources.locking).
    A reader first repairs what a killed writer left (briefly exclusive), then reads under a shared lock."""
    from analysis.sources.locking import locked
    from analysis.sources.snapshot import needs_recovery, recover

    target, wait = config.paths.snapshot_dir, not args.no_wait
    if not exclusive and needs_recovery(target):
        with locked(target, wait=wait):
            for note in recover(target):
                print(f"note: {note}", file=sys.stderr)
    with locked(target, exclusive=exclusive, wait=wait):
        yield


def _outputs_lock(args: argparse.Namespace, *folders: Path):
    """Exclusive locks on the output folders, always taken in the same order (no deadlock)."""
    from analysis.sources.locking import locked

    stack = contextlib.ExitStack()
    for folder in sorted({Path(f).absolute() for f in folders}):
        stack.enter_context(locked(folder, wait=not args.no_wait))
    return stack


def _import(args: argparse.Namespace, config: Config) -> int:
    from analysis.sources.ingest import import_files

    with _data_lock(args, config, exclusive=True):
        report = import_files(
            args.logs,
            args.cohorts,
            config.paths.snapshot_dir,
            simulated=args.simulated,
            progress=not args.quiet,
        )
    print(report.describe())
    return EXIT_OK


def _acquire(args: argparse.Namespace, config: Config) -> int:
    from analysis.sources.acquire import acquire

    if not config.db_url:
        raise ConfigError("no database URL: pass --db-url or set CURRICULUM_DB_URL")
    if args.chunk_size < 1:
        raise ConfigError(f"--chunk-size must be positive, got {args.chunk_size}")
    with _data_lock(args, config, exclusive=True):
        report = acquire(
            config.db_url,
            config.paths.snapshot_dir,
            full=args.full,
            chunk_size=args.chunk_size,
            progress=not args.quiet,
            connect_timeout=config.acquire.connect_timeout_seconds,
            read_timeout=config.acquire.read_timeout_seconds,
        )
    print(report.describe())
    return EXIT_OK


def _snapshot_step(args: argparse.Namespace, config: Config) -> Callable[[], Any] | None:
    """What would bring the snapshot up to date from the source the arguments name, or None.
    (The importers are imported only when a step needs them: an analyze of the existing snapshot
    does not load them.)"""
    from analysis.sources.snapshot import REBUILD_HINT, holds_snapshot_data, needs_recovery

    quiet = args.quiet
    _one_source(args)

    def demo_step() -> Any:
        from analysis.sources.ingest import import_demo

        return import_demo(config, progress=not quiet)

    if getattr(args, "logs", None) or getattr(args, "cohorts", None):
        from analysis.sources.ingest import import_files

        if not (args.logs and args.cohorts):
            raise ConfigError("--logs and --cohorts go together")
        return lambda: import_files(
            args.logs, args.cohorts, config.paths.snapshot_dir, progress=not quiet
        )
    if getattr(args, "db_url", None) or (config.db_url and not getattr(args, "demo", False)):
        from analysis.sources.acquire import acquire

        return lambda: acquire(
            cast(str, config.db_url),
            config.paths.snapshot_dir,
            progress=not quiet,
            connect_timeout=config.acquire.connect_timeout_seconds,
            read_timeout=config.acquire.read_timeout_seconds,
        )
    if getattr(args, "demo", False):
        return demo_step
    target = config.paths.snapshot_dir
    if not (target / "manifest.json").exists():
        if holds_snapshot_data(target) and not needs_recovery(target):
            # never replace data the user imported with the demo: a snapshot whose manifest is gone
            raise InputError(
                f"{target} holds a snapshot without its manifest.json; it was not replaced by the "
                f"demo data: {REBUILD_HINT} (or pass --demo)"
            )
        if not needs_recovery(target):
            return demo_step
    return None


def _one_source(args: argparse.Namespace) -> None:
    """--logs/--cohorts, --db-url and --demo name different sources: at most one of them (exit 2)."""
    given = [
        name
        for name, present in (
            ("--logs/--cohorts", getattr(args, "logs", None) or getattr(args, "cohorts", None)),
            ("--db-url", getattr(args, "db_url", None)),
            ("--demo", getattr(args, "demo", False)),
        )
        if present
    ]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} name different sources: pass one of them")


def _report_from_source(args: argparse.Namespace, config: Config):
    """Refresh the snapshot if asked, then compute the report, under one hold of the data lock (a
    writer's exclusive one when it refreshes): the report describes the data this run printed.
    Returns (report, the manifest of the snapshot it was computed from)."""
    step = _snapshot_step(args, config)
    with _data_lock(args, config, exclusive=step is not None):
        if step is not None:
            print(step().describe())
        return _compute(config, quiet=args.quiet)


@contextlib.contextmanager
def _loading_modules() -> Iterator[None]:
    """The cyclic garbage collector paused while a command's modules load, and what they made frozen
    after (gc.freeze: later collections do not walk it again). Loading polars and the analysis
    (about 200,000 objects, all kept) made the collector walk them over and over for nothing: about
    60 ms of `analyze` at 1x, the GIL held meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _analyze(args: argparse.Namespace, config: Config) -> int:
    with _loading_modules():
        from analysis.report import save_report, write_findings

    report, manifest = _report_from_source(args, config)
    out_dir = args.out or config.paths.build_dir
    with _outputs_lock(args, out_dir):
        if Path(out_dir).absolute() == Path(config.paths.build_dir).absolute():
            # the publishing code loads only here: an analyze into another folder does not need it
            from analysis.publish.outputs import recover

            recover(config.paths.site_dir, out_dir)  # a pending publish must not overwrite this
        out = write_findings(report, out_dir)
        save_report(report, manifest, out_dir)  # `render` reuses it (from the build folder)
    print(report.describe())
    print(f"findings: {out}")
    return EXIT_OK


def _evaluate(args: argparse.Namespace, config: Config) -> int:
    from analysis.scenarios.evaluate import run_evaluation, run_scenarios
    from analysis.scenarios.library import SCENARIOS, get_scenario

    if args.scenario and args.all_scenarios:
        raise ConfigError("--scenario and --all-scenarios exclude each other: pass one of them")
    if not (args.scenario or args.all_scenarios):
        for flag, value in (("--scale", args.scale), ("--keep", args.keep)):
            if value is not None:
                raise ConfigError(
                    f"{flag} applies to simulated scenarios: add --scenario or --all-scenarios"
                )
    if args.scenario or args.all_scenarios:
        sources = [
            flag
            for flag, value in (
                ("--logs", args.logs),
                ("--cohorts", args.cohorts),
                ("--db-url", args.db_url),
                ("--demo", args.demo),
                ("--labels", args.labels),
            )
            if value
        ]
        if sources:
            raise ConfigError(
                f"{', '.join(sources)} cannot be combined with --scenario/--all-scenarios "
                "(each scenario is simulated with its own data and labels)"
            )
        if args.scale is not None and (not math.isfinite(args.scale) or args.scale <= 0):
            raise ConfigError(f"--scale must be a positive number, got {args.scale}")
        names = (
            list(SCENARIOS)
            if args.all_scenarios
            else [get_scenario(name).name for name in args.scenario]
        )
        table = run_scenarios(
            config, names, seeds=tuple(args.seed), scale=args.scale, progress=not args.quiet,
            workdir=args.keep,
        )  # fmt: skip
        if len(table.rows) == 1:  # one scenario: the details first
            print(table.rows[0][1].describe() + "\n")
        print(table.describe())
        return table.exit_code()
    step = _snapshot_step(args, config)
    with _data_lock(args, config, exclusive=step is not None):
        if step is not None:
            print(step().describe())
        evaluation = run_evaluation(config, labels_path=args.labels, progress=not args.quiet)
    print(evaluation.describe())
    return evaluation.exit_code()


def _render(args: argparse.Namespace, config: Config) -> int:
    from analysis.publish.render import render

    # the snapshot read under a shared lock (reused or new analysis), the outputs written under theirs
    with (
        _data_lock(args, config, exclusive=False),
        _outputs_lock(args, config.paths.site_dir, config.paths.build_dir),
    ):
        summary = render(
            config, engine=args.engine, progress=not args.quiet, slide_png=args.slide_png
        )
    print(summary.describe())
    return EXIT_OK


def _compute(config: Config, quiet: bool):
    """The report and the manifest of the snapshot it answers (saved with it for a later `render`)."""
    from analysis.report import compute_report
    from analysis.sources.snapshot import load_snapshot

    snapshot = load_snapshot(config.paths.snapshot_dir)
    return compute_report(config, progress=not quiet, snapshot=snapshot), snapshot.manifest


def _build(args: argparse.Namespace, config: Config) -> int:
    from analysis.publish.render import preload, render

    preload()  # render's imports load while the snapshot is refreshed and analysed
    report, manifest = _report_from_source(args, config)
    with _outputs_lock(args, config.paths.site_dir, config.paths.build_dir):
        # findings.json and the report cache are published with the site, slide and email (one run)
        summary = render(
            config,
            engine=args.engine,
            progress=not args.quiet,
            report=report,
            manifest=manifest,
            slide_png=args.slide_png,
        )
    print(report.describe())
    print(summary.describe())
    return EXIT_OK


def _summary(args: argparse.Namespace, config: Config) -> int:
    from analysis.sources.ingest import describe_snapshot

    with _data_lock(args, config, exclusive=False):
        print(describe_snapshot(config.paths.snapshot_dir, deep=args.verify))
        if args.verify:
            print("verified: every file matches its checksum and its row count in the manifest")
    print(_outputs_line(config))
    return EXIT_OK


def _history(args: argparse.Namespace, config: Config) -> int:
    from analysis.history import describe_history, history_dir, prune
    from analysis.sources.locking import locked

    if args.prune:
        with locked(history_dir(config), wait=not args.no_wait):
            removed = prune(config)
        print(f"pruned {len(removed)} report(s); keeping the {config.history.keep} newest")
    print(describe_history(config))
    return EXIT_OK


def _outputs_line(config: Config) -> str:
    """Which run the published outputs come from (publish/outputs.py), in one line."""
    from analysis.publish.outputs import check_outputs

    site_dir, build_dir = config.paths.site_dir, config.paths.build_dir
    if not (build_dir / "findings.json").exists():
        return f"outputs: none in {build_dir}"
    try:
        return f"outputs: findings.json, site, slide and email of run {check_outputs(site_dir, build_dir)}"
    except UserError as error:
        return f"outputs: {error}"


def main(argv: Sequence[str] | None = None) -> int:
    # When the process exits, the interpreter's last garbage collection is skipped: after a render
    # (about 1,500 modules loaded) it walks every object for about 0.3 s, and the operating system
    # frees the memory anyway. Files and locks are closed by their `with` blocks, not by it.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    # numpy's OpenBLAS starts worker threads when numpy loads, which spin for about 0.1 s of CPU
    # (two cores) waiting for work that never comes: the commands use numpy for element-wise arrays
    # only (question 5's bootstrap, the snapshot digest, the simulator), never a BLAS routine. Set
    # before numpy loads (question 5 loads it); a value the user set wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        config = _configure(args)
        return args.handler(args, config)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a file system fault no stage turned into a UserError: still one line
        print(f"error: {_os_message(error)}", file=sys.stderr)
        return EXIT_INPUT if error.errno in (errno.ENOENT, errno.ENOTDIR) else EXIT_TARGET
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        gc.unfreeze()  # what _loading_modules froze: a caller in the same process collects it again


def _os_message(error: OSError) -> str:
    reason = os_reason(error)
    return f"{reason}: {error.filename}" if error.filename else reason


if __name__ == "__main__":
    raise SystemExit(main())
