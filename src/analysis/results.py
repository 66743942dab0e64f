"""Typed results of the eight questions, and their JSON form (findings.json).

Every question module returns a subclass of QuestionResult. The base carries what every page, the slide
and the email need (a one-sentence plain answer of at most 30 words, 3-5 supporting sentences, the
method, parameters, caveats); subclasses add typed fields (DataFrames, dates, numbers). `to_json()`
turns any field into JSON: frames become lists of records, dates ISO strings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass(frozen=True)
class QuestionResult:
    number: int
    title: str
    answer: str  # one plain sentence (<= 30 words, no statistics), generated from the numbers
    supporting: list[str]  # 3-5 sentences, generated from the numbers
    method: str  # how it was computed, in plain English, with the thresholds
    parameters: dict[str, Any] = field(default_factory=dict)  # the config values used
    caveats: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def tables(self) -> dict[str, pl.DataFrame]:
        """Compact tables for the page, title -> frame: readable column names, at most ~15 rows.

        Pages, the email and the slide show these as they are (after IP masking in public builds)."""
        return {}

    def headline(self) -> str:
        """The number-bearing phrase for the slide and the index (defaults to the answer)."""
        return self.answer


@dataclass(frozen=True)
class Words:
    """What a question's `words()` makes of its computed data: the text a reader sees. Every number in
    it is formatted from one field of the data, never recomputed."""

    answer: str
    supporting: list[str]
    method: str
    caveats: list[str] = field(default_factory=list)

    def text(self) -> dict[str, Any]:
        """The QuestionResult text fields, as keyword arguments."""
        return {
            "answer": self.answer,
            "supporting": self.supporting,
            "method": self.method,
            "caveats": self.caveats,
        }


def data_fields(data: Any) -> dict[str, Any]:
    """The fields of a question's computed data (a dataclass), as keyword arguments for its result."""
    return {f.name: getattr(data, f.name) for f in dataclasses.fields(data)}


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c' (for generated sentences)."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def to_jsonable(value: Any) -> Any:
    """JSON-safe form of result fields (frames as records, dates ISO, NaN as null)."""
    if isinstance(value, pl.DataFrame):
        return frame_records(value)
    if isinstance(value, pl.LazyFrame):
        return to_jsonable(value.collect())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return to_jsonable(value.item())  # numpy scalars (a float32 NaN too)
    return value


# --- what a question hands the summary (slide, email, summary page) -------------------------------------


@dataclass(frozen=True)
class ChartData:
    """A small category chart: one value per (series, category); bounded (<= 8 categories)."""

    title: str
    categories: list[str]
    series: list[tuple[str, list[float]]]  # (name, values in category order)
    colours: list[str] = field(default_factory=list)  # one hex colour per series
    unit: str = ""  # what the values count, for the axis and the text alternative
    stacked: bool = False  # series stacked in one bar per category (else side by side)

    def description(self) -> str:
        """A text alternative: the title, then every value."""
        parts = []
        for name, values in self.series:
            pairs = ", ".join(
                f"{c} {_chart_num(v)}" for c, v in zip(self.categories, values, strict=True) if v
            )
            parts.append(f"{name}: {pairs}" if len(self.series) > 1 else pairs)
        return f"{self.title}. " + "; ".join(p for p in parts if p) + "."


def _chart_num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


@dataclass(frozen=True)
class Lead:
    """A question's claim to lead the slide, the email and the summary page (its `lead(result)`).

    Plain text from the result's fields (the summary masks, shortens and dates it): a title stating the
    finding, the bullet supporting the chart, the chart, details for the speaker notes, and the counts
    a reader should see as text beside the chart (label, value)."""

    question: int
    title: str
    bullet: str
    chart: ChartData | None
    details: list[str] = field(default_factory=list)
    numbers: list[tuple[str, str]] = field(default_factory=list)


_PLAIN_TYPES = (pl.String, pl.Boolean, pl.Categorical, pl.Enum)


def frame_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """`frame`'s rows as `to_jsonable` makes them (dates and times ISO, NaN and infinities null,
    durations in seconds), converted column by column in polars: a tenth of the time of converting
    every value in Python (0.13 s for the findings at 10x). A frame with a column of another type
    (a time zone, nanoseconds, a list of dates, a struct) is converted value by value."""
    exprs = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, _PLAIN_TYPES) or dtype.is_integer():
            continue
        if isinstance(dtype, pl.List) and (
            isinstance(dtype.inner, _PLAIN_TYPES) or dtype.inner.is_integer()
        ):
            continue
        if dtype.is_float():
            exprs.append(pl.when(column.is_finite()).then(column).alias(name))
        elif dtype == pl.Date:
            exprs.append(column.dt.to_string("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is None and dtype.time_unit != "ns":
            # datetime.isoformat: microseconds only when there are some
            exprs.append(
                pl.when(column.dt.microsecond() == 0)
                .then(column.dt.to_string("%Y-%m-%dT%H:%M:%S"))
                .otherwise(column.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f"))
                .alias(name)
            )
        elif isinstance(dtype, pl.Duration) and dtype.time_unit != "ns":
            exprs.append((column.dt.total_microseconds() / 1_000_000).alias(name))
        else:
            return [to_jsonable(row) for row in frame.to_dicts()]
    return frame.with_columns(exprs).to_dicts() if exprs else frame.to_dicts()
