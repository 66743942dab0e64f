"""Score the detectors against the simulator's ground truth (labels.csv + simulation.json).

Only meaningful on simulated data: the simulator writes what it injected, and this module checks that
the report finds it. A label is *recalled* when a detection of a mapped kind names the same user (or, for
labels without a user, the same IP) and overlaps the label's time span within a day. Overall precision is
measured on question 4's incidents of the kinds that have labels plus the detections of questions 2
(cohort over-use) and 3 (drop-outs, duplicate identities); kinds without ground truth (shared_ip, probing,
new_ip) cannot be scored and are left out of precision (the report says so).

Targets (any miss -> exit code 5): recall >= 0.9 for scraping, heavy_day and out_of_enrollment; overall
precision >= 0.8; question 5's cutoff within 14 days of the simulated one; campus IPs never a scraping IP.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis.config import Config
from analysis.errors import InputError
from analysis.prepare import Prepared, prepare
from analysis.progress import step
from analysis.schema import LABEL_SCHEMA
from analysis.sources.snapshot import Snapshot, load_snapshot

EXIT_TARGETS_MISSED = 5
RECALL_TARGET = 0.9
RECALL_TARGET_KINDS = ("scraping", "heavy_day", "out_of_enrollment")
PRECISION_TARGET = 0.8
CUTOFF_TOLERANCE_DAYS = 14
MATCH_SLACK = dt.timedelta(days=1)

# label kind -> question 4 incident kinds that count as finding it
INCIDENT_MAP: dict[str, tuple[str, ...]] = {
    "scraping": ("scraping",),
    "heavy_day": ("heavy_day", "scraping"),
    "account_sharing": ("many_ips",),
    "out_of_enrollment": ("out_of_enrollment",),
    "unknown_user": ("unknown_identity",),
}
# incident kinds with no ground truth: reported, never scored
UNSCORED_KINDS = ("shared_ip", "probing", "new_ip")
# label kinds scored from other questions
OTHER_QUESTIONS: dict[str, str] = {
    "cohort_overuse": "question 2 cases",
    "dropout": "question 3 likely drop-outs",
    "duplicate_identity": "question 3 possible same person",
    "cross_program": "question 5 cutoff",
}


@dataclass(frozen=True)
class KindScore:
    kind: str  # label kind
    detected_by: str  # which detections count
    labels: int
    found: int  # labels recalled
    detections: int | None  # detections of the mapped kinds (None: precision not measurable)
    true_detections: int | None  # of which match some label
    missed: list[str] = field(default_factory=list)  # short descriptions of missed labels

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def precision(self) -> float | None:
        if not self.detections or self.true_detections is None:
            return None
        return self.true_detections / self.detections


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
    precision: float | None
    precision_incidents: int
    unscored: dict[str, int]  # incident kind -> count (no ground truth)
    cutoff: dt.date | None
    true_cutoff: dt.date | None
    campus_ips: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(target.passed for target in self.targets)

    def exit_code(self) -> int:
        return 0 if self.passed else EXIT_TARGETS_MISSED

    def describe(self) -> str:
        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.0%}"

        lines = [f"Evaluation against {self.labels_path}", ""]
        header = f"{'label kind':<20} {'detected by':<38} {'labels':>6} {'found':>6} {'recall':>7} {'precision':>9}"
        lines += [header, "-" * len(header)]
        for score in self.kinds:
            lines.append(
                f"{score.kind:<20} {score.detected_by:<38} {score.labels:>6} {score.found:>6} "
                f"{pct(score.recall):>7} {pct(score.precision):>9}"
            )
        lines.append("")
        lines.append(
            f"Overall precision over {self.precision_incidents} detections of labelled kinds "
            f"(questions 2, 3 and 4): {pct(self.precision)} (not scored, no ground truth: "
            + ", ".join(f"{kind} {count}" for kind, count in self.unscored.items())
            + ")"
        )
        for score in self.kinds:
            for missed in score.missed[:5]:
                lines.append(f"  missed {score.kind}: {missed}")
        lines += ["", "Targets:"]
        for target in self.targets:
            mark = "PASS" if target.passed else "FAIL"
            lines.append(f"  [{mark}] {target.name}: {target.value} (target {target.goal})")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append("")
        lines.append(
            "All targets met." if self.passed else "Some targets were missed (exit code 5)."
        )
        return "\n".join(lines)


# --- matching ------------------------------------------------------------------------------------------


def read_labels(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise InputError(
            f"labels file not found: {path} (evaluate needs simulated data: "
            "`curriculum-insights simulate` writes labels.csv)"
        )
    try:
        frame = pl.read_csv(path, schema_overrides=LABEL_SCHEMA, try_parse_dates=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"{path}: unreadable labels ({exc})") from exc
    missing = [name for name in LABEL_SCHEMA if name not in frame.columns]
    if missing:
        raise InputError(f"{path}: labels lack columns {missing}")
    return frame.select(pl.col(name).cast(dtype) for name, dtype in LABEL_SCHEMA.items())


def _pairs(labels: pl.DataFrame, detections: pl.DataFrame) -> pl.DataFrame:
    """(label_id, detection_id) pairs naming the same user (or IP for user-less labels) whose time spans
    overlap within a day. `labels` has label_id, user_id, ip, start, end; `detections` detection_id,
    user_id, ip, start, end (nullable times match any time)."""
    det = detections.select(
        "detection_id",
        "user_id",
        "ip",
        pl.col("start").alias("d_start"),
        pl.col("end").alias("d_end"),
    )
    lab = labels.select(
        "label_id", "user_id", "ip", pl.col("start").alias("l_start"), pl.col("end").alias("l_end")
    )
    by_user = lab.filter(pl.col("user_id").is_not_null()).join(
        det.drop("ip").filter(pl.col("user_id").is_not_null()), on="user_id", how="inner"
    )
    by_ip = (
        lab.filter(pl.col("user_id").is_null() & pl.col("ip").is_not_null())
        .drop("user_id")
        .join(det.drop("user_id").filter(pl.col("ip").is_not_null()), on="ip", how="inner")
    )
    columns = ["label_id", "detection_id", "l_start", "l_end", "d_start", "d_end"]
    both = pl.concat([by_user.select(columns), by_ip.select(columns)])
    label_start = pl.coalesce("l_start", "l_end")
    label_end = pl.coalesce("l_end", "l_start")
    overlap = (
        label_start.is_null()
        | pl.col("d_start").is_null()
        | (
            (pl.col("d_start") <= label_end + MATCH_SLACK)
            & (pl.coalesce("d_end", "d_start") >= label_start - MATCH_SLACK)
        )
    )
    return both.filter(overlap).select("label_id", "detection_id").unique().sort("label_id")


def _with_ids(labels: pl.DataFrame, detections: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    return labels.with_row_index("label_id"), detections.with_row_index("detection_id")


def match_labels(labels: pl.DataFrame, incidents: pl.DataFrame, label_kind: str) -> pl.DataFrame:
    """Labels of one kind with a `recalled` column: matched by an incident of a mapped kind."""
    labels = labels.filter(pl.col("kind") == label_kind)
    incidents = incidents.filter(pl.col("kind").is_in(list(INCIDENT_MAP[label_kind])))
    labels, incidents = _with_ids(labels, incidents)
    hit = _pairs(labels, incidents)["label_id"].unique()
    return labels.with_columns(pl.col("label_id").is_in(hit.implode()).alias("recalled"))


def _describe_label(row: dict[str, Any]) -> str:
    parts = [f"user {row['user_id']}" if row["user_id"] is not None else None]
    parts.append(f"ip {row['ip']}" if row["ip"] else None)
    parts.append(f"cohort {row['cohort_id']}" if row["cohort_id"] is not None else None)
    parts.append(f"lesson {row['lesson']}" if row["lesson"] else None)
    parts.append(f"from {row['start']:%Y-%m-%d %H:%M}" if row["start"] else None)
    return ", ".join(p for p in parts if p)


def score_incidents(
    labels: pl.DataFrame, incidents: pl.DataFrame
) -> tuple[list[KindScore], int, int]:
    """Per label kind recall and precision for question 4; plus overall (true, total) detections."""
    scores = []
    for label_kind, kinds in INCIDENT_MAP.items():
        matched = match_labels(labels, incidents, label_kind)
        own = incidents.filter(pl.col("kind") == kinds[0])
        own_labels = labels.filter(
            pl.col("kind").is_in([k for k, v in INCIDENT_MAP.items() if kinds[0] in v])
        )
        lab, det = _with_ids(own_labels, own)
        true = _pairs(lab, det)["detection_id"].n_unique()
        scores.append(
            KindScore(
                kind=label_kind,
                detected_by="q4 " + " or ".join(kinds),
                labels=matched.height,
                found=int(matched["recalled"].sum()),
                detections=own.height,
                true_detections=true,
                missed=[
                    _describe_label(row)
                    for row in matched.filter(~pl.col("recalled")).iter_rows(named=True)
                ],
            )
        )
    # Overall precision: every incident of a kind some label maps to, matched against all labels.
    scored_kinds = sorted({k for kinds in INCIDENT_MAP.values() for k in kinds})
    scored = incidents.filter(pl.col("kind").is_in(scored_kinds))
    true_total = 0
    for kind in scored_kinds:
        own = scored.filter(pl.col("kind") == kind)
        own_labels = labels.filter(
            pl.col("kind").is_in([k for k, v in INCIDENT_MAP.items() if kind in v])
        )
        lab, det = _with_ids(own_labels, own)
        true_total += _pairs(lab, det)["detection_id"].n_unique()
    return scores, true_total, scored.height


def _simple_score(
    kind: str, detected_by: str, labels: pl.DataFrame, hits: pl.Series, detections: int | None,
    true_detections: int | None,
) -> KindScore:  # fmt: skip
    recalled = labels.filter(pl.col("kind") == kind).with_row_index("label_id")
    recalled = recalled.with_columns(pl.col("label_id").is_in(hits.implode()).alias("recalled"))
    return KindScore(
        kind=kind,
        detected_by=detected_by,
        labels=recalled.height,
        found=int(recalled["recalled"].sum()),
        detections=detections,
        true_detections=true_detections,
        missed=[
            _describe_label(row)
            for row in recalled.filter(~pl.col("recalled")).iter_rows(named=True)
        ],
    )


def _question(number: int) -> Any | None:
    try:
        return importlib.import_module(f"analysis.questions.q{number}")
    except ModuleNotFoundError as exc:
        if exc.name != f"analysis.questions.q{number}":
            raise
        return None


def _score_q2(labels: pl.DataFrame, result: Any) -> KindScore:
    cases = getattr(result, "flagged", None)
    if cases is None or "cohort_id" not in getattr(cases, "columns", []):
        cases = result.cases
    found = cases.select("cohort_id", "lesson").unique()
    own = labels.filter(pl.col("kind") == "cohort_overuse").with_row_index("label_id")
    hits = own.join(found, on=["cohort_id", "lesson"], how="inner")["label_id"]
    true = found.join(own.select("cohort_id", "lesson"), on=["cohort_id", "lesson"], how="semi")
    return _simple_score(
        "cohort_overuse", OTHER_QUESTIONS["cohort_overuse"], labels, hits, found.height, true.height
    )


def _q3_students(result: Any) -> pl.DataFrame:
    students = getattr(result, "students", None)
    return students if isinstance(students, pl.DataFrame) else pl.DataFrame()


def _score_q3_dropout(labels: pl.DataFrame, result: Any) -> KindScore:
    students = _q3_students(result)
    column = next(
        (c for c in ("likely_dropout", "dropout", "is_dropout") if c in students.columns), None
    )
    flagged = (
        students.filter(pl.col(column))["user_id"].unique()
        if column
        else pl.Series("user_id", [], dtype=pl.Int64)
    )
    own = labels.filter(pl.col("kind") == "dropout").with_row_index("label_id")
    hits = own.filter(pl.col("user_id").is_in(flagged.implode()))["label_id"]
    true = flagged.is_in(own["user_id"].implode()).sum()
    return _simple_score(
        "dropout", OTHER_QUESTIONS["dropout"], labels, hits, flagged.len(), int(true)
    )


def _score_q3_duplicates(labels: pl.DataFrame, result: Any) -> KindScore:
    students = _q3_students(result)
    if "possible_same_person" in students.columns:
        pairs = (
            students.select("user_id", pl.col("possible_same_person").alias("other"))
            .explode("other")
            .drop_nulls()
            .with_columns(pl.col("other").cast(pl.Int64))
        )
    else:
        pairs = pl.DataFrame(schema={"user_id": pl.Int64, "other": pl.Int64})
    named = pl.concat([pairs["user_id"], pairs["other"]]).unique()
    own = labels.filter(pl.col("kind") == "duplicate_identity").with_row_index("label_id")
    hits = own.filter(pl.col("user_id").is_in(named.implode()))["label_id"]
    true = pairs.filter(
        pl.col("user_id").is_in(own["user_id"].implode())
        | pl.col("other").is_in(own["user_id"].implode())
    ).height
    return _simple_score(
        "duplicate_identity",
        OTHER_QUESTIONS["duplicate_identity"],
        labels,
        hits,
        pairs.height,
        true,
    )


# --- the run -------------------------------------------------------------------------------------------


def _read_simulation(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: unreadable simulation.json ({exc})") from exc


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
    """Score every detector on an already loaded snapshot (the CLI path goes through run_evaluation)."""
    from analysis.questions import q4

    prepared = prepared or prepare(snapshot, config)
    notes: list[str] = []
    step("question 4 detectors", enabled=progress)
    incidents = q4.detect_all(snapshot, config, prepared)
    shown = min(incidents.height, config.q4.max_incidents)
    if incidents.height > shown:
        notes.append(
            f"scored on all {incidents.height} incidents; the report lists the {shown} most severe"
        )
    kinds, true_total, scored_total = score_incidents(labels, incidents)
    q4_kinds = len(kinds)

    q2 = _question(2)
    if q2 is not None:
        step("question 2 cohort overuse", enabled=progress)
        kinds.append(_score_q2(labels, q2.answer(snapshot, config, prepared)))
    else:
        notes.append("question 2 is not available: cohort_overuse not scored")
    q3 = _question(3)
    if q3 is not None:
        step("question 3 low usage", enabled=progress)
        q3_result = q3.answer(snapshot, config, prepared)
        kinds.append(_score_q3_dropout(labels, q3_result))
        kinds.append(_score_q3_duplicates(labels, q3_result))
    else:
        notes.append("question 3 is not available: dropout and duplicate_identity not scored")

    targets: list[Target] = []
    by_kind = {score.kind: score for score in kinds}
    for kind in RECALL_TARGET_KINDS:
        score = by_kind[kind]
        targets.append(
            Target(
                name=f"recall {kind}",
                value=f"{score.found}/{score.labels}"
                + (f" = {score.recall:.0%}" if score.recall is not None else ""),
                goal=f">= {RECALL_TARGET:.0%}",
                passed=score.recall is not None and score.recall >= RECALL_TARGET,
            )
        )
    # Overall precision: question 4's incidents of labelled kinds plus questions 2 and 3's detections.
    for score in kinds[q4_kinds:]:
        if score.detections and score.true_detections is not None:
            true_total += score.true_detections
            scored_total += score.detections
    precision = true_total / scored_total if scored_total else None
    targets.append(
        Target(
            name="precision overall (labelled kinds of questions 2, 3 and 4)",
            value=f"{true_total}/{scored_total}"
            + (f" = {precision:.0%}" if precision is not None else ""),
            goal=f">= {PRECISION_TARGET:.0%}",
            passed=precision is not None and precision >= PRECISION_TARGET,
        )
    )

    true_cutoff = simulation.get("cross_program_cutoff")
    true_cutoff_date = dt.date.fromisoformat(str(true_cutoff)[:10]) if true_cutoff else None
    cutoff: dt.date | None = None
    q5 = _question(5)
    if q5 is None:
        notes.append("question 5 is not available: the shut-off date is not scored")
    elif true_cutoff_date is None:
        notes.append("simulation.json has no cross_program_cutoff: the shut-off date is not scored")
    else:
        step("question 5 cross-program cutoff", enabled=progress)
        cutoff = q5.answer(snapshot, config, prepared).cutoff
        error = abs((cutoff - true_cutoff_date).days) if cutoff is not None else None
        targets.append(
            Target(
                name="question 5 shut-off date error",
                value=(
                    f"{error} day{'' if error == 1 else 's'} ({cutoff} vs simulated {true_cutoff_date})"
                    if error is not None
                    else f"no cutoff found (simulated {true_cutoff_date})"
                ),
                goal=f"<= {CUTOFF_TOLERANCE_DAYS} days",
                passed=error is not None and error <= CUTOFF_TOLERANCE_DAYS,
            )
        )
        by_kind_cross = labels.filter(pl.col("kind") == "cross_program").height
        if by_kind_cross:
            notes.append(f"{by_kind_cross} cross_program labels are judged through the cutoff date")

    campus = [str(ip) for ip in simulation.get("campus_ips", [])]
    if campus:
        scrapers = incidents.filter(
            (pl.col("kind") == "scraping") & pl.col("ip").is_in(campus)
        ).height
        targets.append(
            Target(
                name="campus IPs never flagged as a scraping IP",
                value=f"{scrapers} scraping incidents on {len(campus)} campus IPs",
                goal="0",
                passed=scrapers == 0,
            )
        )
    else:
        notes.append("simulation.json lists no campus IPs: the campus check is skipped")

    unscored = {kind: incidents.filter(pl.col("kind") == kind).height for kind in UNSCORED_KINDS}
    return Evaluation(
        labels_path=labels_path,
        kinds=kinds,
        targets=targets,
        precision=precision,
        precision_incidents=scored_total,
        unscored=unscored,
        cutoff=cutoff,
        true_cutoff=true_cutoff_date,
        campus_ips=campus,
        notes=notes,
    )


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
