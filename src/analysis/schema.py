"""Column contracts shared by every edge of the pipeline (parsers, MySQL reader, simulator, snapshot),
and the check of JSON documents against their JSON Schema (findings.json: schema_errors)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, TypeAlias

import polars as pl

# A table's column types, name -> dtype. Keys are typed Any only because polars' cast() also accepts
# selectors as keys (and dict keys are invariant): a dict[str, ...] would not type-check there.
ColumnTypes: TypeAlias = dict[Any, pl.DataType]

# One page view. `line` is the 1-based line in the source file, or the row's position in the MySQL read
# order; it makes quarantine reports traceable and keeps the original order stable.
LOG_SCHEMA: ColumnTypes = {
    "timestamp": pl.Datetime("us"),
    "path": pl.String(),  # nullable: the real log has one row with no path
    "user_id": pl.Int64(),
    "cohort_id": pl.Int64(),  # nullable: 5.9 % of real rows have none
    "ip": pl.String(),  # validated IPv4 or IPv6 text
}

COHORT_SCHEMA: ColumnTypes = {
    "id": pl.Int64(),
    "name": pl.String(),
    "slack": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "created_at": pl.Datetime("us"),
    "updated_at": pl.Datetime("us"),
    "deleted_at": pl.Datetime("us"),
    "program_id": pl.Int64(),
}

# Rows that failed parsing or validation: kept, counted, reported; never silently dropped.
QUARANTINE_SCHEMA: ColumnTypes = {
    "source": pl.String(),  # file name or table name
    "line": pl.Int64(),  # 1-based line number in the file (null for database rows)
    "key": pl.String(),  # database key or other locator (null for file rows)
    "raw": pl.String(),  # the raw text of the row
    "reason": pl.String(),  # why it was rejected, e.g. "bad date", "non-numeric user_id"
}

# Ground truth written by the simulator beside each scenario's log (labels.csv). Only injected
# irregularities are labelled; base behaviour (routine alumni reading, staff, routine no-cohort users,
# campus NAT) never is. kind vocabulary (LABEL_KINDS): a contract with questions 2-4 and evaluate.py.
LABEL_SCHEMA: ColumnTypes = {
    "kind": pl.String(),
    "user_id": pl.Int64(),  # null when the behaviour is tied to an IP only
    "ip": pl.String(),  # null when not tied to one IP
    "cohort_id": pl.Int64(),  # for cohort-level behaviours (cohort_overuse), else null
    "lesson": pl.String(),  # for lesson-level behaviours (cohort_overuse), else null
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
    "detail": pl.String(),  # free text, e.g. "same person as user 812" for duplicate_identity
    "shape": pl.String(),  # which form of the behaviour, e.g. burst or slow_crawler for scraping
}

# Question 4 incidents (scored on the published list) first, then questions 2 and 3.
Q4_LABEL_KINDS: tuple[str, ...] = (
    "scraping",  # automated fetching at any pace (shape: burst, slow_crawler)
    "probe",  # requests for attack paths (wp-login.php, .env, ../../etc/passwd ...)
    "account_sharing",  # one user_id used by several people (start/end: the shared period)
    "shared_ip",  # one outside IP used by many students within a week (ip, no user_id)
    "heavy_day",  # a person's abnormally heavy day (shape: day, evening)
    "stale_account",  # an alumnus whose cohort ended years before the log begins, in sustained use
    "unknown_user",  # an injected actor whose user_id is in no cohort (or whose cohort is unknown)
)
LABEL_KINDS: tuple[str, ...] = (
    *Q4_LABEL_KINDS,
    "cohort_overuse",  # a cohort referring to one lesson far more than its peers (question 2)
    "dropout",  # a student who stops within weeks of starting (question 3)
    "low_usage",  # a student enrolled throughout who reads a small fraction (question 3)
    "duplicate_identity",  # one person holding two user_ids (question 3)
)

# Incident kinds produced by question 4 (documented in schemas/findings.schema.json).
INCIDENT_KINDS: tuple[str, ...] = (
    "probe",  # requests for attack paths (high)
    "scraping",  # automated fetching at any pace (high)
    "account_sharing",  # one account used by several people within weeks (high)
    "shared_ip",  # one outside IP used by many people within days (high; low when shared all along)
    "heavy_day",  # a person's abnormally heavy day (medium)
    "stale_account",  # an account of a cohort that ended years before the log, in sustained use (medium)
    "unknown_user",  # an account in no known cohort (medium or low)
)
INCIDENT_TIERS: tuple[str, ...] = ("high", "medium", "low")


def empty_frame(schema: ColumnTypes) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# --- JSON documents: the part of JSON Schema (2020-12) that schemas/*.schema.json use ------------------
# Checked here without a JSON Schema library: `analyze` validates every findings.json it writes, and
# importing jsonschema (with referencing and attrs) cost about 0.1 s of a 1 s process. Only the keywords
# below are understood; a schema using any other one is refused (SchemaKeywordError), never half-checked.
# tests/test_report.py checks that jsonschema's Draft202012Validator finds the same errors.

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
JsonPath: TypeAlias = tuple[str | int, ...]


class SchemaKeywordError(ValueError):
    """The schema uses a keyword schema_errors does not check."""


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False  # true and false are not numbers in JSON Schema
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float)
    raise SchemaKeywordError(f"unknown type {name!r}")


def _equal(one: Any, two: Any) -> bool:
    """JSON equality: true is not 1, false is not 0 (at any depth)."""
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(map(_equal, one, two))
    return bool(one == two)


def _is_format(value: Any, name: str) -> bool:
    """`date` is checked (YYYY-MM-DD, a real day); other formats are annotations, as in jsonschema
    without its optional format packages (date-time needs rfc3339-validator)."""
    if name != "date" or not isinstance(value, str):
        return True
    try:
        return _DATE.fullmatch(value) is not None and bool(dt.date.fromisoformat(value))
    except ValueError:
        return False


def schema_errors(
    value: Any, schema: Any, root: dict[str, Any] | None = None, path: JsonPath = ()
) -> Iterator[tuple[JsonPath, str]]:
    """(path in the document, message) for every place `value` breaks `schema` (`root` resolves
    `$ref`s of the form #/$defs/NAME; default: `schema` itself)."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return
    if schema is False:
        yield path, "nothing is allowed here"
        return
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            if not rule.startswith("#/$defs/"):
                raise SchemaKeywordError(f"$ref {rule!r}: only #/$defs/NAME is understood")
            yield from schema_errors(
                value, root["$defs"][rule.removeprefix("#/$defs/")], root, path
            )
        elif keyword == "allOf":
            for part in rule:
                yield from schema_errors(value, part, root, path)
        elif keyword == "type":
            names = [rule] if isinstance(rule, str) else rule
            if not any(_is_type(value, name) for name in names):
                yield path, f"{value!r} is not of type {', '.join(map(repr, names))}"
        elif keyword == "const":
            if not _equal(value, rule):
                yield path, f"{rule!r} was expected"
        elif keyword == "enum":
            if not any(_equal(value, option) for option in rule):
                yield path, f"{value!r} is not one of {rule!r}"
        elif keyword == "format":
            if not _is_format(value, rule):
                yield path, f"{value!r} is not a {rule!r}"
        elif keyword in ("minimum", "maximum", "minLength"):
            yield from _bound(value, keyword, rule, path)
        elif keyword in ("properties", "required", "additionalProperties", "items"):
            yield from _children(value, schema, keyword, root, path)
        else:
            raise SchemaKeywordError(f"JSON Schema keyword {keyword!r} is not checked here")


def _bound(value: Any, keyword: str, rule: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if keyword == "minLength":
        if isinstance(value, str) and len(value) < rule:
            yield path, f"{value!r} is too short"
    elif _is_type(value, "number"):
        if keyword == "minimum" and value < rule:
            yield path, f"{value!r} is less than the minimum of {rule!r}"
        if keyword == "maximum" and value > rule:
            yield path, f"{value!r} is greater than the maximum of {rule!r}"


def _children(
    value: Any, schema: dict[str, Any], keyword: str, root: dict[str, Any], path: JsonPath
) -> Iterator[tuple[JsonPath, str]]:
    """The keywords about an object's members and an array's items."""
    if keyword == "items":
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from schema_errors(item, schema["items"], root, (*path, index))
        return
    if not isinstance(value, dict):
        return
    properties = schema.get("properties", {})
    if keyword == "properties":
        for name, sub in properties.items():
            if name in value:
                yield from schema_errors(value[name], sub, root, (*path, name))
    elif keyword == "required":
        for name in schema["required"]:
            if name not in value:
                yield path, f"{name!r} is a required property"
    else:  # additionalProperties: members not named in properties
        extra = [name for name in value if name not in properties]
        rule = schema["additionalProperties"]
        if rule is False and extra:
            yield path, f"Additional properties are not allowed ({', '.join(map(repr, extra))})"
        elif rule is not False:
            for name in extra:
                yield from schema_errors(value[name], rule, root, (*path, name))


def time_units(stamp: pl.Datetime, seconds: int) -> int:
    """`seconds` in the units of `stamp`'s integer (its time unit): an hour or a day as the divisor
    of `to_physical()`, for keys computed on the timestamp's integer instead of a truncated date."""
    return seconds * {"ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[stamp.time_unit]
