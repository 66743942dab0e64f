"""Score what the reader sees against a scenario's ground truth (labels.csv + simulation.json).

Question 4 is scored on its PUBLISHED list (`Q4Result.incidents`, every incident in published order,
`rank` 1 = first shown). A label is found by an incident of the SAME kind whose actor matches (the
label's user_id; an IP-level incident, or a label without a user, matches on the IP) and whose span
overlaps the label's span widened by one day; the label's rank is the best rank among its matches.
An incident is a true positive when it matches some label of its kind.

Targets (issue 9; any miss -> exit code 5), the columns of `evaluate --all-scenarios`:
- top25: every labelled question-4 incident ranks in the top 25; top10: scraping and probes in the top 10;
- high: at most 15 incidents of tier high; medium: at most 25 of tier medium; recall: kind-matched
  recall >= 0.9 over the whole list;
- campus: no campus NAT address called a scraper; sharing_fp: at most 3 shared-account incidents that
  match no label; scatter: a scattered-probes label (dozens of addresses) is covered by exactly one
  probe incident (a label naming neither user nor address is found by an incident naming neither);
- q5: question 5's date within 14 days of the simulated shut-off;
- q2: the labelled over-use case is reported, with at most 2 unlabelled cases per program;
- q3: flagged students (low usage or likely drop-out) at most 3x the labelled ones, all but one found.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import polars as pl

from analysis.config import Config
from analysis.errors import InputError
from analysis.prepare import Prepared, prepare
from analysis.progress import step
from analysis.schema import LABEL_SCHEMA, Q4_LABEL_KINDS
from analysis.sources.snapshot import Snapshot, load_snapshot

EXIT_TARGETS_MISSED = 5
MATCH_SLACK = dt.timedelta(days=1)
TOP_ALL = 25  # every labelled incident within this rank
TOP_FIRST = 10  # scraping and probes within this rank
TOP_FIRST_KINDS = ("scraping", "probe")
MAX_HIGH = 15
MAX_MEDIUM = 25
MAX_UNLABELLED_SHARING = 3  # shared-account incidents that match no label
RECALL_TARGET = 0.9
CUTOFF_TOLERANCE_DAYS = 14
MAX_UNLABELLED_Q2 = 2  # per program
Q3_MAX_FACTOR = 3.0
Q3_MAX_MISSED = 1
Q3_LABEL_KINDS = ("dropout", "low_usage")
DEFAULT_SCALE = 0.2
# incident kind names before issue 9 -> the label vocabulary (so older detectors can be scored)
KIND_ALIASES = {
    "probing": "probe",
    "many_ips": "account_sharing",
    "unknown_identity": "unknown_user",
}
TARGET_NAMES = (
    "top25",
    "top10",
    "high",
    "medium",
    "recall",
    "campus",
    "sharing_fp",
    "scatter",
    "q5",
    "q2",
    "q3",
)


@dataclass(frozen=True)
class KindScore:
    kind: str
    labels: int
    found: int  # labels matched anywhere in the list
    ranks: list[int | None]  # per label, best matching rank (None: not found)
    incidents: int  # incidents of this kind in the list
    true_top10: int
    in_top10: int
    true_top25: int
    in_top25: int

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    goal: str
    passed: bool


@dataclass(frozen=True)
class Evaluation:
    labels_path: str
    kinds: list[KindScore]
    targets: list[Target]
    total_incidents: int
    high_incidents: int | None
    precision_top10: float | None
    precision_top25: float | None
    cutoff: dt.date | None
    true_cutoff: dt.date | None
    scenario: str = ""
    notes: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(target.passed for target in self.targets)

    def exit_code(self) -> int:
        return 0 if self.passed else EXIT_TARGETS_MISSED

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)

    def describe(self) -> str:
        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.0%}"

        lines = [f"Evaluation against {self.labels_path}", ""]
        header = (
            f"{'kind':<16} {'labels':>6} {'found':>6} {'recall':>7} {'ranks':<24} "
            f"{'P@10':>5} {'P@25':>5} {'incidents':>9}"
        )
        lines += [header, "-" * len(header)]
        for s in self.kinds:
            ranks = ",".join("-" if r is None else str(r) for r in s.ranks) or "-"
            p10 = s.true_top10 / s.in_top10 if s.in_top10 else None
            p25 = s.true_top25 / s.in_top25 if s.in_top25 else None
            lines.append(
                f"{s.kind:<16} {s.labels:>6} {s.found:>6} {pct(s.recall):>7} {ranks:<24} "
                f"{pct(p10):>5} {pct(p25):>5} {s.incidents:>9}"
            )
        lines.append("")
        lines.append(
            f"Published incidents {self.total_incidents}, tier high "
            f"{'-' if self.high_incidents is None else self.high_incidents}; precision of the top 10 "
            f"{pct(self.precision_top10)}, of the top 25 {pct(self.precision_top25)}"
        )
        lines += [f"  missed: {m}" for m in self.missed[:12]]
        lines += ["", "Targets:"]
        for t in self.targets:
            lines.append(
                f"  [{'PASS' if t.passed else 'FAIL'}] {t.name}: {t.value} (target {t.goal})"
            )
        lines += [f"  note: {note}" for note in self.notes]
        lines.append("")
        lines.append(
            "All targets met." if self.passed else "Some targets were missed (exit code 5)."
        )
        return "\n".join(lines)


# --- reading -------------------------------------------------------------------------------------------


def read_labels(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise InputError(
            f"labels file not found: {path} (evaluate needs simulated data: "
            "`curriculum-insights simulate` writes labels.csv)"
        )
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{path}: unreadable labels ({exc})") from exc
    missing = [name for name in LABEL_SCHEMA if name not in frame.columns and name != "shape"]
    if missing:
        raise InputError(f"{path}: labels lack columns {missing}")
    try:
        return frame.select(
            (
                pl.col(name).str.to_datetime(strict=True).cast(dtype)
                if dtype == pl.Datetime("us")
                else pl.col(name).cast(dtype)
            )
            if name in frame.columns
            else pl.lit(None, dtype).alias(name)
            for name, dtype in LABEL_SCHEMA.items()
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: unreadable labels ({exc})") from exc


def _read_simulation(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: unreadable simulation.json ({exc})") from exc


# --- question 4: the published list --------------------------------------------------------------------


def published(incidents: pl.DataFrame) -> pl.DataFrame:
    """The incident list in published order with the label vocabulary's kind names."""
    frame = incidents
    if "rank" not in frame.columns:
        frame = frame.with_row_index("rank", offset=1)
    return (
        frame.with_columns(
            pl.col("kind").replace(KIND_ALIASES).alias("kind"),
            pl.col("rank").cast(pl.Int64),
            pl.col("user_id").cast(pl.Int64),
            pl.col("ip").cast(pl.String),
        )
        .sort("rank")
        .with_columns(pl.col("rank").rank("ordinal").cast(pl.Int64).alias("position"))
    )


def match_pairs(labels: pl.DataFrame, incidents: pl.DataFrame) -> pl.DataFrame:
    """(label_id, rank) pairs: same kind, matching actor, spans overlapping within MATCH_SLACK.
    `labels` need label_id, kind, user_id, ip, start, end; `incidents` rank (the published position),
    kind, user_id, ip, start, end."""
    lab = labels.select(
        "label_id", "kind", pl.col("user_id").alias("l_user"), pl.col("ip").alias("l_ip"),
        pl.col("start").alias("l_start"), pl.col("end").alias("l_end"),
    )  # fmt: skip
    inc = incidents.select(
        "rank", "kind", pl.col("user_id").alias("i_user"), pl.col("ip").alias("i_ip"),
        pl.col("start").alias("i_start"), pl.col("end").alias("i_end"),
    )  # fmt: skip
    l_start = pl.coalesce("l_start", "l_end")
    l_end = pl.coalesce("l_end", "l_start")
    # a label of many actors (no user, no address: e.g. scattered probes) is found by a grouped
    # incident, which names neither
    grouped = (
        pl.col("l_user").is_null()
        & pl.col("l_ip").is_null()
        & pl.col("i_user").is_null()
        & pl.col("i_ip").is_null()
    )
    actor = (
        (pl.col("l_user").is_not_null() & (pl.col("l_user") == pl.col("i_user")))
        | (
            pl.col("l_ip").is_not_null()
            & (pl.col("l_ip") == pl.col("i_ip"))
            & (pl.col("l_user").is_null() | pl.col("i_user").is_null())
        )
        | grouped
    )
    overlap = (
        l_start.is_null()
        | pl.col("i_start").is_null()
        | (
            (pl.col("i_start") <= l_end + MATCH_SLACK)
            & (pl.coalesce("i_end", "i_start") >= l_start - MATCH_SLACK)
        )
    )
    return (
        lab.join(inc, on="kind", how="inner")
        .filter(actor.fill_null(False) & overlap.fill_null(False))
        .select("label_id", "rank")
        .unique()
        .sort("label_id", "rank")
    )


def match_labels(labels: pl.DataFrame, incidents: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Labels of one kind with a `recalled` column: matched anywhere in `incidents` (any order)."""
    own = labels.filter(pl.col("kind") == kind).with_row_index("label_id")
    found = match_pairs(own, published(incidents))["label_id"]
    return own.with_columns(pl.col("label_id").is_in(found.implode()).alias("recalled"))


def score_incidents(labels: pl.DataFrame, incidents: pl.DataFrame) -> list[KindScore]:
    """Per label kind of question 4: recall, rank of each label, precision within the top 10/25."""
    inc = published(incidents).with_columns(pl.col("position").alias("rank"))
    lab = labels.filter(pl.col("kind").is_in(list(Q4_LABEL_KINDS))).with_row_index("label_id")
    pairs = match_pairs(lab, inc)
    best = pairs.group_by("label_id").agg(pl.col("rank").min().alias("best"))
    true_ranks = set(pairs["rank"].to_list())
    lab = lab.join(best, on="label_id", how="left").sort("label_id")
    scores = []
    for kind in Q4_LABEL_KINDS:
        own = lab.filter(pl.col("kind") == kind)
        mine = inc.filter(pl.col("kind") == kind)
        top10 = mine.filter(pl.col("rank") <= TOP_FIRST)["rank"].to_list()
        top25 = mine.filter(pl.col("rank") <= TOP_ALL)["rank"].to_list()
        scores.append(
            KindScore(
                kind=kind,
                labels=own.height,
                found=int(own["best"].is_not_null().sum()),
                ranks=own["best"].to_list(),
                incidents=mine.height,
                true_top10=sum(r in true_ranks for r in top10),
                in_top10=len(top10),
                true_top25=sum(r in true_ranks for r in top25),
                in_top25=len(top25),
            )
        )
    return scores


def _describe_label(row: dict[str, Any]) -> str:
    parts = [row["kind"] + (f" ({row['shape']})" if row.get("shape") else "")]
    parts.append(f"user {row['user_id']}" if row["user_id"] is not None else None)
    parts.append(f"ip {row['ip']}" if row["ip"] else None)
    parts.append(f"cohort {row['cohort_id']}" if row["cohort_id"] is not None else None)
    parts.append(f"lesson {row['lesson']}" if row["lesson"] else None)
    parts.append(f"from {row['start']:%Y-%m-%d %H:%M}" if row["start"] else None)
    return ", ".join(p for p in parts if p)


# --- the score -----------------------------------------------------------------------------------------


def _frame(result: Any, name: str) -> pl.DataFrame | None:
    value = getattr(result, name, None) if result is not None else None
    return value if isinstance(value, pl.DataFrame) else None


def score(
    labels: pl.DataFrame,
    simulation: dict[str, Any],
    *,
    q4: Any,
    q2: Any = None,
    q3: Any = None,
    q5: Any = None,
    labels_path: str = "labels",
) -> Evaluation:
    """Every target from the questions' results (pure: no I/O)."""
    notes: list[str] = []
    missed: list[str] = []
    incidents = published(cast(pl.DataFrame, _frame(q4, "incidents")))
    kinds = score_incidents(labels, incidents)
    q4_labels = labels.filter(pl.col("kind").is_in(list(Q4_LABEL_KINDS)))
    top25, top10, recall = _ranking_targets(q4_labels, kinds, missed)
    high, tiers = _tier_targets(incidents)
    targets = [
        top25,
        top10,
        *tiers,
        recall,
        *_noise_targets(q4_labels, incidents, simulation, notes),
    ]
    true_ranks = set(
        match_pairs(
            q4_labels.with_row_index("label_id"),
            incidents.with_columns(pl.col("position").alias("rank")),
        )["rank"].to_list()
    )

    def precision(k: int) -> float | None:
        shown = min(k, incidents.height)
        return sum(r <= k for r in true_ranks) / shown if shown else None

    cutoff, true_date, q5_target = _q5_target(q5, simulation, notes)
    targets += [q5_target, _q2_target(labels, q2, missed), _q3_target(labels, q3, missed)]
    return Evaluation(
        labels_path=labels_path,
        kinds=kinds,
        targets=targets,
        total_incidents=incidents.height,
        high_incidents=high,
        precision_top10=precision(TOP_FIRST),
        precision_top25=precision(TOP_ALL),
        cutoff=cutoff,
        true_cutoff=true_date,
        scenario=str(simulation.get("scenario", "")),
        notes=notes,
        missed=missed,
    )


def _ranking_targets(
    q4_labels: pl.DataFrame, kinds: list[KindScore], missed: list[str]
) -> tuple[Target, Target, Target]:
    """Question 4: every label in the top 25, scraping and probes in the top 10, recall; the labels
    not in the top 25 go to `missed`."""
    ranks = {s.kind: s.ranks for s in kinds}
    ordered = pl.concat(
        [q4_labels.filter(pl.col("kind") == kind) for kind in Q4_LABEL_KINDS]
    ).with_columns(pl.Series("best", [r for k in Q4_LABEL_KINDS for r in ranks[k]], pl.Int64))
    for row in ordered.iter_rows(named=True):
        if row["best"] is None or row["best"] > TOP_ALL:
            where = "not listed" if row["best"] is None else f"rank {row['best']}"
            missed.append(f"{_describe_label(row)}: {where}")
    n = ordered.height
    in25 = ordered.filter(pl.col("best") <= TOP_ALL).height
    first = ordered.filter(pl.col("kind").is_in(list(TOP_FIRST_KINDS)))
    in10 = first.filter(pl.col("best") <= TOP_FIRST).height
    found = sum(s.found for s in kinds)
    recall = found / n if n else None
    return (
        Target("top25", f"{in25}/{n}", f"all in the top {TOP_ALL}", in25 == n),
        Target("top10", f"{in10}/{first.height}", f"scraping, probes in the top {TOP_FIRST}",
               in10 == first.height),
        Target("recall", f"{found}/{n}", f">= {RECALL_TARGET:.0%}",
               recall is None or recall >= RECALL_TARGET),
    )  # fmt: skip


def _tier_targets(incidents: pl.DataFrame) -> tuple[int | None, list[Target]]:
    """Question 4: how many incidents are high and medium (None without tiers), and their targets."""
    tiered = "tier" in incidents.columns
    high = incidents.filter(pl.col("tier") == "high").height if tiered else None
    medium = incidents.filter(pl.col("tier") == "medium").height if tiered else None
    return high, [
        Target("high", "no tier" if high is None else str(high), f"<= {MAX_HIGH}",
               high is not None and high <= MAX_HIGH),
        Target("medium", "no tier" if medium is None else str(medium), f"<= {MAX_MEDIUM}",
               medium is not None and medium <= MAX_MEDIUM),
    ]  # fmt: skip


def _noise_targets(
    q4_labels: pl.DataFrame, incidents: pl.DataFrame, simulation: dict[str, Any], notes: list[str]
) -> list[Target]:
    """Question 4 on what nobody injected: no campus scrapers, few unlabelled shared accounts, one
    incident per scattered-probe label."""
    campus = [str(ip) for ip in simulation.get("campus_ips", [])]
    scrapers = incidents.filter((pl.col("kind") == "scraping") & pl.col("ip").is_in(campus)).height
    if not campus:
        notes.append("simulation.json lists no campus IPs: the campus check is empty")
    # shared accounts nobody injected (e.g. every campus student when the campus NAT alternates
    # addresses): at most MAX_UNLABELLED_SHARING
    sharing = incidents.filter(pl.col("kind") == "account_sharing").with_row_index("_i")
    sharing_hits = match_pairs(
        q4_labels.with_row_index("label_id"),
        sharing.with_columns(pl.col("_i").cast(pl.Int64).alias("rank")),
    )["rank"].n_unique()
    unlabelled = sharing.height - sharing_hits
    # scattered one-off probes from many addresses: ONE incident over the label's span
    scattered = q4_labels.filter((pl.col("kind") == "probe") & (pl.col("shape") == "scattered"))
    grouped = [
        incidents.filter(
            (pl.col("kind") == "probe")
            & (pl.col("start") <= row["end"] + MATCH_SLACK)
            & (pl.col("end") >= row["start"] - MATCH_SLACK)
        ).height
        for row in scattered.iter_rows(named=True)
    ]
    return [
        Target("campus", f"{scrapers} campus scrapers", "0", scrapers == 0),
        Target("sharing_fp", f"{unlabelled} unlabelled", f"<= {MAX_UNLABELLED_SHARING}",
               unlabelled <= MAX_UNLABELLED_SHARING),
        Target("scatter", ",".join(str(g) for g in grouped) or "none", "1 per scattered label",
               all(g == 1 for g in grouped)),
    ]  # fmt: skip


def _q5_target(
    q5: Any, simulation: dict[str, Any], notes: list[str]
) -> tuple[dt.date | None, dt.date | None, Target]:
    """Question 5's date against the simulated shut-off: (its date, the true one, the target)."""
    true_cutoff = simulation.get("cross_program_cutoff")
    true_date = dt.date.fromisoformat(str(true_cutoff)[:10]) if true_cutoff else None
    cutoff = getattr(q5, "cutoff", None) if q5 is not None else None
    if true_date is None or q5 is None:
        notes.append("no simulated shut-off date or no question 5 result: q5 not scored")
        return (
            cutoff,
            true_date,
            Target("q5", "not scored", f"<= {CUTOFF_TOLERANCE_DAYS} days", True),
        )
    error = abs((cutoff - true_date).days) if cutoff is not None else None
    return (
        cutoff,
        true_date,
        Target(
            "q5",
            f"{error} days ({cutoff} vs {true_date})" if error is not None else "no date",
            f"<= {CUTOFF_TOLERANCE_DAYS} days",
            error is not None and error <= CUTOFF_TOLERANCE_DAYS,
        ),
    )


def _q2_target(labels: pl.DataFrame, q2: Any, missed: list[str]) -> Target:
    """Question 2: the labelled over-use cases reported, few other cases per program."""
    own = labels.filter(pl.col("kind") == "cohort_overuse").select("cohort_id", "lesson")
    cases = _frame(q2, "cases")
    if cases is None:
        return Target("q2", "no result", "labelled case, <= 2 others/program", not own.height)
    hit = own.join(cases, on=["cohort_id", "lesson"], how="semi").height
    others = cases.join(own, on=["cohort_id", "lesson"], how="anti")
    by_program = cast(
        int,
        (others.group_by("program").len()["len"].max() if "program" in others.columns else 0) or 0,
    )
    for row in own.join(cases, on=["cohort_id", "lesson"], how="anti").iter_rows(named=True):
        missed.append(
            f"cohort_overuse cohort {row['cohort_id']} lesson {row['lesson']}: not reported"
        )
    return Target(
        "q2",
        f"{hit}/{own.height} found, {by_program} other max/program",
        f"all found, <= {MAX_UNLABELLED_Q2} others/program",
        hit == own.height and by_program <= MAX_UNLABELLED_Q2,
    )


def _q3_target(labels: pl.DataFrame, q3: Any, missed: list[str]) -> Target:
    """Question 3: the labelled drop-outs and light readers flagged, not many more flagged."""
    students = _frame(q3, "students")
    wanted = labels.filter(pl.col("kind").is_in(list(Q3_LABEL_KINDS)))["user_id"].unique()
    if students is None:
        return Target("q3", "no result", "flags <= 3x labelled, all but one", not wanted.len())
    flag_cols = [c for c in ("low_usage", "likely_dropout") if c in students.columns]
    flagged = (students.filter(pl.any_horizontal(flag_cols)) if flag_cols else students)[
        "user_id"
    ].unique()
    hit = int(wanted.is_in(flagged.implode()).sum())
    ok = flagged.len() <= Q3_MAX_FACTOR * wanted.len() and hit >= wanted.len() - Q3_MAX_MISSED
    for user in wanted.filter(~wanted.is_in(flagged.implode())).to_list():
        missed.append(f"q3 user {user}: not flagged")
    return Target(
        "q3",
        f"{hit}/{wanted.len()} found, {flagged.len()} flagged",
        f"<= {Q3_MAX_FACTOR:g}x labelled, all but {Q3_MAX_MISSED} found",
        ok,
    )


def _answer(number: int, snapshot: Snapshot, config: Config, prepared: Prepared) -> Any:
    import importlib

    module = importlib.import_module(f"analysis.questions.q{number}")
    return module.answer(snapshot, config, prepared)


def evaluate(
    snapshot: Snapshot,
    config: Config,
    labels: pl.DataFrame,
    simulation: dict[str, Any],
    *,
    labels_path: str = "labels",
    prepared: Prepared | None = None,
    progress: bool = False,
) -> Evaluation:
    """Answer questions 2-5 on a loaded snapshot and score them."""
    prepared = prepared or prepare(snapshot, config)
    results = {}
    for number in (4, 2, 3, 5):
        step(f"question {number}", enabled=progress)
        results[number] = _answer(number, snapshot, config, prepared)
    return score(
        labels, simulation, q4=results[4], q2=results[2], q3=results[3], q5=results[5],
        labels_path=labels_path,
    )  # fmt: skip


def run_evaluation(
    config: Config, labels_path: Path | None = None, progress: bool = True
) -> Evaluation:
    """Evaluate the snapshot at config.paths.snapshot_dir against labels (default: the demo's)."""
    path = Path(labels_path) if labels_path else config.paths.demo_dir / "labels.csv"
    labels = read_labels(path)
    simulation = _read_simulation(path.parent / "simulation.json")
    step(f"loading snapshot {config.paths.snapshot_dir}", enabled=progress)
    snapshot = load_snapshot(config.paths.snapshot_dir)
    if not snapshot.manifest.simulated:
        step("warning: the snapshot is not flagged as simulated", enabled=progress)
    expected_rows = simulation.get("rows")
    if expected_rows is not None and snapshot.manifest.rows != expected_rows:
        raise InputError(
            f"{config.paths.snapshot_dir} holds {snapshot.manifest.rows:,} rows but "
            f"{path.parent / 'simulation.json'} describes {expected_rows:,}: the labels belong to other "
            "data (rebuild the snapshot from it, e.g. `curriculum-insights evaluate --demo`)"
        )
    return evaluate(snapshot, config, labels, simulation, labels_path=str(path), progress=progress)


# --- scenarios -----------------------------------------------------------------------------------------


def evaluate_scenario(
    config: Config, name: str, *, seed: int, scale: float, workdir: Path, progress: bool = False
) -> Evaluation:
    """Simulate one scenario into `workdir` (a new folder), import it, answer with `config`, score."""
    from analysis.scenarios.simulate import simulate
    from analysis.sources.ingest import import_files

    out = workdir
    step(f"{name}: simulating (seed {seed}, scale {scale:g})", enabled=progress)
    simulate(seed=seed, scale=scale, out=out, reference_dir=config.paths.reference_dir,
             progress=False, scenario=name)  # fmt: skip
    snapshot_dir = out / "snapshot"
    step(f"{name}: importing", enabled=progress)
    import_files(out / "logs.txt.gz", out / "cohorts.csv", snapshot_dir, simulated=True,
                 progress=False)  # fmt: skip
    snapshot = load_snapshot(snapshot_dir)
    step(f"{name}: answering and scoring", enabled=progress)
    return evaluate(
        snapshot, config, read_labels(out / "labels.csv"), _read_simulation(out / "simulation.json"),
        labels_path=str(out / "labels.csv"),
    )  # fmt: skip


@dataclass(frozen=True)
class ScenarioTable:
    rows: list[tuple[str, Evaluation]]
    seeds: tuple[int, ...]
    scale: float | None

    @property
    def passed(self) -> bool:
        return all(evaluation.passed for _, evaluation in self.rows)

    def exit_code(self) -> int:
        return 0 if self.passed else EXIT_TARGETS_MISSED

    def describe(self) -> str:
        width = 16
        first = max([14, *(len(name) + 1 for name, _ in self.rows)])
        scale = "the demo at 1, others 0.2" if self.scale is None else f"{self.scale:g}"
        seeds = ", ".join(str(seed) for seed in self.seeds)
        lines = [
            f"Targets per scenario (seed {seeds}, scale {scale}); cell = value, met/MISSED",
            "",
        ]
        lines.append(f"{'scenario':<{first}} " + " ".join(f"{n:<{width}}" for n in TARGET_NAMES))
        for name, ev in self.rows:
            cells = []
            for target in TARGET_NAMES:
                t = ev.target(target)
                text = "-" if t is None else f"{_short(t)} {'met' if t.passed else 'MISSED'}"
                cells.append(f"{text:<{width}}")
            lines.append(f"{name:<{first}} " + " ".join(cells))
        lines.append("")
        for name, ev in self.rows:
            for m in ev.missed[:8]:
                lines.append(f"  {name}: missed {m}")
        met = sum(ev.passed for _, ev in self.rows)
        lines += textwrap.wrap(LEGEND, 100)
        lines.append("")
        lines.append(
            f"{met}/{len(self.rows)} scenarios meet every target."
            + ("" if self.passed else " (exit code 5)")
        )
        return "\n".join(lines)


def _short(t: Target) -> str:
    """A table cell's value (see LEGEND)."""
    value = t.value
    if t.name == "q5":
        return value.split(" ", 1)[0] + "d" if value[0].isdigit() else "none"
    if t.name == "high":
        return "untiered" if value == "no tier" else value
    if t.name in ("q2", "q3") and "found" in value:
        found, rest = value.split(" found, ", 1)
        return (
            f"{found} +{rest.split(' ')[0]}" if t.name == "q2" else f"{found} f{rest.split(' ')[0]}"
        )
    return value.split(" ")[0]


LEGEND = (
    "top25: labelled incidents in the top 25 / labelled; top10: scraping and probes in the top 10; "
    "high, medium: incidents of that tier; recall: found anywhere in the list / labelled; campus: "
    "campus addresses called scrapers; sharing_fp: shared-account incidents matching no label; "
    "scatter: probe incidents over each scattered-probes label; q5: date error; q2: labelled cases "
    "found / labelled +most unlabelled cases in one program; q3: labelled students found / "
    "labelled, f = students flagged"
)


def targets_markdown() -> str:
    """The targets, for the Methods page (from the constants above, never retyped)."""
    return "\n".join(
        [
            f"- every labelled incident in the top {TOP_ALL} of the published list (heavy days "
            f"and old accounts in use included), scraping and probes in the top {TOP_FIRST};",
            f"- at most {MAX_HIGH} incidents of tier high and {MAX_MEDIUM} of tier medium, and "
            f"recall of at least {RECALL_TARGET:.0%} with the kind matched;",
            "- no campus network address called a scraper, and at most "
            f"{MAX_UNLABELLED_SHARING} shared-account incidents that match no label (a campus NAT "
            "pool alternating addresses must not make every student a shared account);",
            "- scattered one-off probes from dozens of addresses: exactly one incident;",
            f"- the question-5 date within {CUTOFF_TOLERANCE_DAYS} days of the simulated one;",
            f"- the labelled question-2 case reported, with at most {MAX_UNLABELLED_Q2} other cases "
            "per program;",
            f"- question 3 flags at most {Q3_MAX_FACTOR:g} times the labelled students and finds all "
            f"but {Q3_MAX_MISSED}.",
        ]
    )


def run_scenarios(
    config: Config,
    names: list[str],
    *,
    seeds: tuple[int, ...] = (20210421,),
    scale: float | None = None,
    progress: bool = True,
    workdir: Path | None = None,
) -> ScenarioTable:
    """Score every named scenario at every seed (rows `name`, or `name@seed` with several seeds);
    the data goes to temporary folders, or to `workdir`/name[-seed] to keep."""
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="ci-scenarios-")) if workdir is None else Path(workdir)
    try:
        for seed in seeds:
            for name in names:
                row = name if len(seeds) == 1 else f"{name}@{seed}"
                folder = tmp / (name if len(seeds) == 1 else f"{name}-{seed}")
                this_scale = (
                    scale if scale is not None else (1.0 if name == "demo" else DEFAULT_SCALE)
                )
                rows.append(
                    (row, evaluate_scenario(config, name, seed=seed, scale=this_scale,
                                            workdir=folder, progress=progress))
                )  # fmt: skip
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return ScenarioTable(rows=rows, seeds=tuple(seeds), scale=scale)


__all__ = [
    "Evaluation",
    "KindScore",
    "ScenarioTable",
    "evaluate",
    "read_labels",
    "run_evaluation",
    "run_scenarios",
    "score",
    "score_incidents",
]
