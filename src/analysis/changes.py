"""What changed since the previous report: computed once, here, from two findings documents.

`compare(current, previous, ...)` reads only the JSON documents (the current report's masked findings and
a history entry's), so it works across versions of the code and tolerates missing keys. It returns a
typed `Changes`: per question the items that are new, still there ("continuing") or gone, the numbers
that moved, and one sentence; the headline numbers of the data; whether the method (the analysis
settings) changed and which settings; and the trend of each question's headline number across the
history. The pages, the slide and the email format these fields (`bullets`, `headline_changes`,
`slide_note`), they never recompute them.

Matching, question by question:
- Q4: incidents by kind, actor (the account, else the masked address) and overlapping episode; a matched
  incident is continuing (with activity after the previous report's data when its episode goes on), its
  tier change is noted.
- Q3: students (user, cohort) flagged as hardly using the curriculum or as likely drop-outs.
- Q2: cases (cohort, lesson). Q8: findings by title.
- Q1 / Q6 / Q7: the lessons of the top (Q1 leaders, Q6 alumni favourites) and bottom (Q7) lists, per
  program: entered or left.
- Q5: cross-program views in the months since the previous report against as many months before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from analysis.glossary import KIND_NAMES

NEW, CONTINUING, GONE = "new", "continuing", "gone"
TIER_ORDER = {"high": 0, "medium": 1, "low": 2}
QUESTION_NAMES = {
    1: "Most consistent lessons",
    2: "A cohort's outlier lesson",
    3: "Students who hardly use it",
    4: "Suspicious activity",
    5: "Cross-program access",
    6: "What graduates keep reading",
    7: "Least-accessed lessons",
    8: "What else to know",
}
TREND_SCHEMA = {"data_end": pl.Date, "question": pl.Int64, "series": pl.String, "value": pl.Float64}


@dataclass(frozen=True)
class Item:
    """One thing a question lists (an incident, a student, a case, a lesson), compared."""

    key: tuple[Any, ...]  # what it is matched on
    label: str  # plain words, e.g. "automated fetching by user 877 (from 2021-02-01)"
    status: str  # NEW, CONTINUING or GONE
    tier: str | None = None  # question 4
    previous_tier: str | None = None
    active_since: bool = False  # question 4: activity after the previous report's data ended

    @property
    def tier_changed(self) -> bool:
        return self.status == CONTINUING and self.tier != self.previous_tier


@dataclass(frozen=True)
class Number:
    label: str
    current: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


@dataclass(frozen=True)
class QuestionChange:
    number: int
    sentence: str  # the change in one plain sentence
    items: tuple[Item, ...] = ()
    numbers: tuple[Number, ...] = ()

    def with_status(self, status: str) -> list[Item]:
        return [item for item in self.items if item.status == status]

    @property
    def new(self) -> list[Item]:
        return self.with_status(NEW)

    @property
    def continuing(self) -> list[Item]:
        return self.with_status(CONTINUING)

    @property
    def gone(self) -> list[Item]:
        return self.with_status(GONE)


@dataclass(frozen=True)
class Changes:
    data_end: dt.date | None
    previous_end: dt.date | None  # None: the first report
    previous_built: str | None  # the day the previous report was built
    method_changed: bool = False
    changed_settings: tuple[str, ...] = ()
    headline: tuple[Number, ...] = ()
    questions: dict[int, QuestionChange] = field(default_factory=dict)
    trends: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TREND_SCHEMA))
    # no earlier data to compare with, but a report of this same data was built that day
    same_data_built: str | None = None

    @property
    def first_report(self) -> bool:
        return self.previous_end is None

    @property
    def since(self) -> str:
        """How the previous report is named: the day its data ends."""
        return self.previous_end.isoformat() if self.previous_end else ""

    def question(self, number: int) -> QuestionChange:
        return self.questions.get(number) or QuestionChange(number, "")


# --- reading the documents, tolerant of missing keys ----------------------------------------------------


def _q(document: dict[str, Any] | None, number: int) -> dict[str, Any]:
    questions = (document or {}).get("questions") or {}
    value = questions.get(str(number)) or questions.get(number) or {}
    return value if isinstance(value, dict) else {}


def _rows(document: dict[str, Any] | None, number: int, key: str) -> list[dict[str, Any]]:
    value = _q(document, number).get(key)
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _when(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def data_end(document: dict[str, Any] | None) -> dt.date | None:
    return _day(((document or {}).get("dataset") or {}).get("last_seen"))


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


# --- question 4: incidents ------------------------------------------------------------------------------


def _actor(row: dict[str, Any]) -> str:
    if row.get("user_id") is not None:
        return f"user {row['user_id']}"
    return f"address {row.get('ip') or '?'}"


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    a0, a1, b0, b1 = (
        _when(a.get("start")),
        _when(a.get("end")),
        _when(b.get("start")),
        _when(b.get("end")),
    )
    if None in (a0, a1, b0, b1):
        return a.get("start") == b.get("start")
    return bool(a0 <= b1 and b0 <= a1)  # type: ignore[operator]


def _incident_label(row: dict[str, Any]) -> str:
    kind = str(row.get("kind") or "incident")
    name = KIND_NAMES.get(kind, kind.replace("_", " ")).lower()  # the glossary's kind name
    # "automated fetching by user 7", but "shared account: user 7" (an account is not done by anyone)
    who = (
        f": {_actor(row)}"
        if name.endswith("account") or "network" in name
        else f" by {_actor(row)}"
    )
    start = str(row.get("start") or "")[:10]
    return f"{name}{who}" + (f" (from {start})" if start else "")


def _incidents(current: dict[str, Any], previous: dict[str, Any], prev_end: dt.date) -> list[Item]:
    now, before = _rows(current, 4, "incidents"), _rows(previous, 4, "incidents")
    used: set[int] = set()
    after = dt.datetime.combine(prev_end + dt.timedelta(days=1), dt.time())
    by_actor: dict[tuple[Any, str], list[int]] = {}  # (kind, actor) -> previous incidents
    for i, old in enumerate(before):
        by_actor.setdefault((old.get("kind"), _actor(old)), []).append(i)
    items: list[Item] = []
    for row in now:
        candidates = by_actor.get((row.get("kind"), _actor(row)), [])
        match = next(
            (i for i in candidates if i not in used and _overlaps(before[i], row)),
            None,
        )
        key = (row.get("kind"), _actor(row), str(row.get("start")))
        if match is None:
            items.append(Item(key, _incident_label(row), NEW, tier=row.get("tier")))
            continue
        used.add(match)
        end = _when(row.get("end"))
        items.append(
            Item(
                key,
                _incident_label(row),
                CONTINUING,
                tier=row.get("tier"),
                previous_tier=before[match].get("tier"),
                active_since=bool(end and end >= after),
            )
        )
    for i, old in enumerate(before):
        if i not in used:
            key = (old.get("kind"), _actor(old), str(old.get("start")))
            items.append(Item(key, _incident_label(old), GONE, previous_tier=old.get("tier")))
    return sorted(items, key=lambda it: TIER_ORDER.get(str(it.tier or it.previous_tier), 3))


def _q4(current: dict[str, Any], previous: dict[str, Any], prev_end: dt.date) -> QuestionChange:
    items = _incidents(current, previous, prev_end)
    change = QuestionChange(4, "", tuple(items), _tier_numbers(current, previous))
    new = change.new
    high_new = [i for i in new if i.tier == "high"]
    parts = []
    if new:
        lead = f"{_count(len(new), 'new incident', 'new incidents')}"
        if high_new:
            lead += f" ({len(high_new):,} needing action now)"
        parts.append(lead)
    else:
        parts.append("no new incident")
    parts.append(f"{len(change.continuing):,} continuing")
    raised = [i for i in change.continuing if i.tier_changed]
    if raised:
        parts.append(f"{_count(len(raised), 'tier change', 'tier changes')}")
    if change.gone:
        parts.append(f"{len(change.gone):,} no longer reported")
    sentence = f"Since the report of {prev_end.isoformat()}: " + ", ".join(parts) + "."
    return QuestionChange(4, sentence, change.items, change.numbers)


def _tier_numbers(current: dict[str, Any], previous: dict[str, Any]) -> tuple[Number, ...]:
    def per_tier(document: dict[str, Any]) -> dict[str, float | None]:
        return {
            str(r.get("tier")): _number(r.get("incidents")) for r in _rows(document, 4, "tiers")
        }

    now, before = per_tier(current), per_tier(previous)
    return tuple(
        Number(f"{tier.capitalize()}-tier incidents", now.get(tier), before.get(tier))
        for tier in ("high", "medium", "low")
        if tier in now or tier in before
    )


# --- keyed lists: questions 1, 2, 3, 6, 7, 8 ------------------------------------------------------------


def _keyed(
    now: list[dict[str, Any]],
    before: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], tuple[Any, ...]],
    label: Callable[[dict[str, Any]], str],
) -> tuple[Item, ...]:
    old = {key(row): row for row in before}
    seen: set[tuple[Any, ...]] = set()
    items = []
    for row in now:
        k = key(row)
        if k in seen:
            continue
        seen.add(k)
        items.append(Item(k, label(row), CONTINUING if k in old else NEW))
    items += [Item(k, label(row), GONE) for k, row in old.items() if k not in seen]
    return tuple(items)


def _flagged(row: dict[str, Any]) -> bool:
    return bool(row.get("low_usage") or row.get("likely_dropout"))


def _student_label(row: dict[str, Any]) -> str:
    what = "likely drop-out" if row.get("likely_dropout") else "hardly uses the curriculum"
    cohort = row.get("cohort") or row.get("cohort_id")
    return f"user {row.get('user_id')} ({cohort}): {what}"


def _list_sentence(
    prev_end: dt.date, change: tuple[Item, ...], new_words: tuple[str, str], gone_words: str
) -> str:
    new = [i for i in change if i.status == NEW]
    gone = [i for i in change if i.status == GONE]
    if not new and not gone:
        return f"Since the report of {prev_end.isoformat()}: no change in this list."
    parts = []
    if new:
        parts.append(_count(len(new), *new_words))
    if gone:
        parts.append(f"{len(gone):,} {gone_words}")
    return f"Since the report of {prev_end.isoformat()}: " + "; ".join(parts) + "."


def _program_lesson(field_name: str) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    return lambda r: (r.get("program"), r.get(field_name))


def _lesson_label(field_name: str) -> Callable[[dict[str, Any]], str]:
    """A lesson or topic as readers see it: its title ("Java III > User input") where the findings have
    one (`<field>_title`), else its path (findings of older code); matching stays on the path."""
    return lambda r: f"{r.get(f'{field_name}_title') or r.get(field_name)} ({r.get('program')})"


def _simple(
    number: int,
    current: dict[str, Any],
    previous: dict[str, Any],
    prev_end: dt.date,
) -> QuestionChange:
    numbers: tuple[Number, ...]
    if number == 1:
        items = _keyed(
            _rows(current, 1, "leaders"),
            _rows(previous, 1, "leaders"),
            _program_lesson("lesson"),
            _lesson_label("lesson"),
        )
        words: tuple[tuple[str, str], str] = (
            ("lesson entered the leaders", "lessons entered the leaders"),
            "left them",
        )
        numbers = (_num(current, previous, 1, "Cohorts ranked", _q1_cohorts),)
    elif number == 2:
        items = _keyed(
            _rows(current, 2, "cases"),
            _rows(previous, 2, "cases"),
            lambda r: (r.get("cohort"), r.get("lesson")),
            lambda r: f"{r.get('cohort')} ({r.get('program')}) reading {r.get('lesson')}",
        )
        words = (("new case", "new cases"), "no longer a case")
        numbers = (_num(current, previous, 2, "Cases", lambda q: len(q.get("cases") or [])),)
    elif number == 3:
        items = _keyed(
            [r for r in _rows(current, 3, "students") if _flagged(r)],
            [r for r in _rows(previous, 3, "students") if _flagged(r)],
            lambda r: (r.get("user_id"), r.get("cohort_id")),
            _student_label,
        )
        words = (("student newly flagged", "students newly flagged"), "no longer flagged")
        numbers = (
            _num(
                current, previous, 3, "Students who hardly use it", lambda q: q.get("low_students")
            ),
            _num(current, previous, 3, "Likely drop-outs", lambda q: q.get("likely_dropouts")),
        )
    elif number == 6:
        items = _keyed(
            _rows(current, 6, "top_lessons"),
            _rows(previous, 6, "top_lessons"),
            _program_lesson("topic"),
            _lesson_label("topic"),
        )
        words = (("lesson entered the favourites", "lessons entered the favourites"), "left them")
        numbers = (
            _num(
                current, previous, 6, "Graduates who came back", lambda q: q.get("alumni_readers")
            ),
        )
    elif number == 7:
        items = _keyed(
            _rows(current, 7, "least_accessed"),
            _rows(previous, 7, "least_accessed"),
            _program_lesson("lesson"),
            _lesson_label("lesson"),
        )
        words = (("lesson entered the least read", "lessons entered the least read"), "left them")
        numbers = (_num(current, previous, 7, "Rarely read lessons", _q7_rare),)
    else:
        items = _keyed(
            _rows(current, 8, "findings"),
            _rows(previous, 8, "findings"),
            lambda r: (r.get("title"),),
            lambda r: str(r.get("summary") or r.get("title")),
        )
        words = (("new finding", "new findings"), "no longer reported")
        numbers = (_num(current, previous, 8, "Findings", lambda q: len(q.get("findings") or [])),)
    sentence = _list_sentence(prev_end, items, *words)
    return QuestionChange(number, sentence, items, numbers)


def _q1_cohorts(question: dict[str, Any]) -> float | None:
    seen: dict[Any, Any] = {}
    for row in question.get("leaders") or []:
        if isinstance(row, dict):
            seen[row.get("program")] = row.get("cohorts")
    values = [_number(v) for v in seen.values()]
    return sum(v for v in values if v is not None) if seen else None


def _q7_rare(question: dict[str, Any]) -> float | None:
    rows = [r for r in question.get("lesson_views") or [] if isinstance(r, dict)]
    if not rows:
        return None
    return float(sum(_number(r.get("lessons")) or 0 for r in rows if r.get("bin") == 0))


def _num(
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    number: int,
    label: str,
    read: Callable[[dict[str, Any]], Any],
) -> Number:
    def value(document: dict[str, Any] | None) -> float | None:
        question = _q(document, number)
        return _number(read(question)) if question else None

    return Number(label, value(current), value(previous))


# --- question 5: cross-program views by period ----------------------------------------------------------


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _months_back(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


def cross_program_periods(
    current: dict[str, Any], prev_end: dt.date, end: dt.date | None
) -> tuple[float | None, float | None, int]:
    """(views in the months since the previous report, views in as many months before, months)."""
    rows = _rows(current, 5, "monthly")
    if not rows or end is None:
        return None, None, 0
    first_new = _month(prev_end + dt.timedelta(days=1))
    months = max(1, (end.year - first_new.year) * 12 + end.month - first_new.month + 1)
    earliest = _months_back(first_new, months)
    new = before = 0.0
    for row in rows:
        month = _day(row.get("month"))
        views = _number(row.get("views")) or 0.0
        if month is None:
            continue
        if month >= first_new:
            new += views
        elif month >= earliest:
            before += views
    return new, before, months


def _q5(
    current: dict[str, Any], previous: dict[str, Any], prev_end: dt.date, end: dt.date | None
) -> QuestionChange:
    new, before, months = cross_program_periods(current, prev_end, end)
    numbers = (
        Number("Cross-program views in the new period", new, before),
        _num(
            current,
            previous,
            5,
            "Students reading the other program",
            lambda q: q.get("cross_users"),
        ),
    )
    if new is None:
        sentence = f"Since the report of {prev_end.isoformat()}: no monthly figures to compare."
    else:
        span = _count(months, "month", "months")
        trend = (
            "more than"
            if new > (before or 0)
            else "fewer than"
            if new < (before or 0)
            else "as many as"
        )
        sentence = (
            f"Since the report of {prev_end.isoformat()}: {_fmt(new)} cross-program views in the "
            f"{span} since, {trend} the {_fmt(before)} in the {span} before."
        )
    return QuestionChange(5, sentence, (), numbers)


# --- the whole comparison -------------------------------------------------------------------------------


def _headline(current: dict[str, Any], previous: dict[str, Any] | None) -> tuple[Number, ...]:
    def dataset(document: dict[str, Any] | None, key: str) -> float | None:
        return _number(((document or {}).get("dataset") or {}).get(key))

    out = [
        Number(label, dataset(current, key), dataset(previous, key))
        for key, label in (("rows", "Log rows"), ("users", "Users"), ("cohorts", "Cohorts"))
    ]
    out.append(_num(current, previous, 3, "Students judged", lambda q: q.get("eligible_students")))
    return tuple(out)


def changed_settings(now: dict[str, Any], before: dict[str, Any] | None) -> tuple[str, ...]:
    if not before:
        return ()
    return tuple(sorted(k for k in set(now) | set(before) if now.get(k) != before.get(k)))


def recent_cross_views(document: dict[str, Any], months: int = 3) -> float | None:
    """Cross-program views in the last `months` calendar months of the data (the current one too)."""
    end = data_end(document)
    rows = _rows(document, 5, "monthly")
    if end is None or not rows:
        return None
    earliest = _months_back(_month(end), months - 1)
    return float(
        sum(
            _number(row.get("views")) or 0.0
            for row in rows
            if (month := _day(row.get("month"))) is not None and earliest <= month <= end
        )
    )


def trend_points(document: dict[str, Any]) -> list[tuple[int, str, float | None]]:
    """Each question's headline number(s) in one findings document: (question, series, value)."""
    points: list[tuple[int, str, float | None]] = []
    tiers = {str(r.get("tier")): _number(r.get("incidents")) for r in _rows(document, 4, "tiers")}
    for tier in ("high", "medium"):  # the low tier is for the record: it would dwarf the others
        if tier in tiers:
            points.append((4, f"{tier.capitalize()} tier", tiers[tier]))
    q = {n: _q(document, n) for n in range(1, 9)}
    if q[1]:
        points.append((1, "Cohorts ranked", _q1_cohorts(q[1])))
    if q[2]:
        points.append((2, "Cases", float(len(q[2].get("cases") or []))))
    if q[3]:
        points.append((3, "Hardly use it", _number(q[3].get("low_students"))))
        points.append((3, "Likely drop-outs", _number(q[3].get("likely_dropouts"))))
    if q[5]:
        points.append((5, "Cross-program views, last 3 months", recent_cross_views(document)))
    if q[6]:
        points.append((6, "Graduates who came back", _number(q[6].get("alumni_readers"))))
    if q[7]:
        points.append((7, "Rarely read lessons", _q7_rare(q[7])))
    if q[8]:
        points.append((8, "Findings", float(len(q[8].get("findings") or []))))
    return points


def trends(history: Iterable[tuple[dt.date, dict[str, Any]]]) -> pl.DataFrame:
    """One row per (report, question, series) with a value: the trend charts' data."""
    rows = [
        {"data_end": end, "question": number, "series": series, "value": value}
        for end, document in history
        for number, series, value in trend_points(document)
        if value is not None
    ]
    return pl.DataFrame(rows, schema=TREND_SCHEMA).sort(["question", "series", "data_end"])


def compare(
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    *,
    current_settings: dict[str, Any] | None = None,
    previous_settings: dict[str, Any] | None = None,
    previous_built: str | None = None,
    history: Iterable[tuple[dt.date, dict[str, Any]]] = (),
    same_data_built: str | None = None,
) -> Changes:
    """The comparison of two findings documents (previous None: the first report, or with
    `same_data_built`, a rebuild of data already reported)."""
    end = data_end(current)
    trend = trends(history)
    prev_end = data_end(previous) if previous is not None else None
    if previous is None or prev_end is None:
        return Changes(
            end,
            None,
            None,
            headline=_headline(current, None),
            trends=trend,
            same_data_built=same_data_built,
        )
    settings = changed_settings(current_settings or {}, previous_settings)
    questions = {
        number: _simple(number, current, previous, prev_end) for number in (1, 2, 3, 6, 7, 8)
    }
    questions[4] = _q4(current, previous, prev_end)
    questions[5] = _q5(current, previous, prev_end, end)
    return Changes(
        data_end=end,
        previous_end=prev_end,
        previous_built=previous_built,
        method_changed=bool(settings),
        changed_settings=settings,
        headline=_headline(current, previous),
        questions=dict(sorted(questions.items())),
        trends=trend,
    )


# --- sentences: the summary page, the slide and the email ----------------------------------------------


def _labels(items: list[Item], limit: int = 3) -> str:
    names = [item.label for item in items[:limit]]
    more = len(items) - len(names)
    text = "; ".join(names)
    return text + (f" and {more:,} more" if more > 0 else "")


def bullets(changes: Changes, limit: int = 5) -> list[str]:
    """Three to five plain bullets, what is new and needs action first (the summary page)."""
    if changes.first_report:
        return []
    out: list[str] = []
    q4 = changes.question(4)
    high = [i for i in q4.new if i.tier == "high"]
    other = [i for i in q4.new if i.tier != "high"]
    if high:
        out.append(f"New, needs action now: {_labels(high)}.")
    if other:
        out.append(f"New, worth a look: {_labels(other)}.")
    q3 = changes.question(3)
    if q3.new:
        out.append(f"Newly flagged students: {_labels(q3.new)}.")
    q2 = changes.question(2)
    if q2.new:
        out.append(f"New outlier readings: {_labels(q2.new)}.")
    if q4.continuing:
        active = [i for i in q4.continuing if i.active_since]
        out.append(
            f"{_count(len(q4.continuing), 'earlier incident continues', 'earlier incidents continue')}"
            + (f", {len(active):,} with new activity" if active else "")
            + (
                f", {len(tiers):,} changed tier"
                if (tiers := [i for i in q4.continuing if i.tier_changed])
                else ""
            )
            + (f"; {len(q4.gone):,} no longer reported" if q4.gone else "")
            + "."
        )
    q5 = changes.question(5)
    if q5.numbers and (q5.numbers[0].current or q5.numbers[0].previous):
        out.append(q5.sentence.split(": ", 1)[-1])
    if changes.method_changed:
        out.append(
            "The method changed since then (settings: "
            + ", ".join(changes.changed_settings[:4])
            + (" ..." if len(changes.changed_settings) > 4 else "")
            + "): some differences come from that."
        )
    moved = [n for n in changes.headline if n.change]
    if len(out) < 3 and moved:
        out.append(
            "The data grew: "
            + ", ".join(
                f"{n.label.lower()} {_fmt(n.current)} ({_signed(n.change)})" for n in moved[:3]
            )
            + "."
        )
    if not out:
        out.append("Nothing new needs action: no new incident, case or flagged student.")
    return out[:limit]


def _signed(value: float | None) -> str:
    if value is None:
        return "n/a"
    return ("+" if value > 0 else "") + _fmt(value)


def no_comparison(changes: Changes) -> str:
    """What to say when there is no earlier report to compare with (empty when there is one)."""
    if not changes.first_report:
        return ""
    if changes.same_data_built:
        end = f" (up to {changes.data_end.isoformat()})" if changes.data_end else ""
        return (
            f"No new data since the report built on {changes.same_data_built}: it covered the same "
            f"data{end}, so nothing is new."
        )
    return "This is the first report: there is no earlier report to compare with."


def headline_changes(changes: Changes | None) -> list[str]:
    """At most three plain bullets for the slide and the email, new items first."""
    if changes is None:
        return []
    if changes.first_report:
        return [no_comparison(changes)]
    return bullets(changes, limit=3)


def news_bullet(changes: Changes | None) -> str:
    """The slide's one bullet on what is new: counts, most urgent first, each part a clause of its own
    (the slide clips at a clause, never inside an item; its notes name the items). "" for the first
    report or without a comparison (the notes say so)."""
    if changes is None or changes.first_report:
        return ""
    q4, q3, q2 = changes.question(4), changes.question(3), changes.question(2)
    high = sum(1 for item in q4.new if item.tier == "high")
    parts = [
        _count(high, "incident in the High tier", "incidents in the High tier") if high else "",
        _count(len(q4.new) - high, "incident worth a look", "incidents worth a look")
        if len(q4.new) > high
        else "",
        _count(len(q3.new), "flagged student", "flagged students") if q3.new else "",
        _count(len(q2.new), "outlier reading", "outlier readings") if q2.new else "",
    ]
    found = [part for part in parts if part]
    if not found:
        return f"Nothing new needs action since the {changes.since} report"
    return f"New since {changes.since}: " + ", ".join(found)


def slide_note(changes: Changes | None) -> str:
    """The slide's speaker note on what changed (one paragraph)."""
    if changes is None:
        return ""
    if changes.first_report:
        return no_comparison(changes)
    lines = [f"Since the report of {changes.since}:", *bullets(changes, limit=5)]
    return " ".join(lines)
