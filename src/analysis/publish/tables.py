"""The site's tables as HTML: every row kept, a CSV of the full data beside it, sortable, values formatted by kind.

A table shows its first `max_rows` rows; when there are more it says so ("15 of 27 rows shown") and offers
the rest twice: a "Show all" checkbox (pure CSS, works without JavaScript) and the CSV download. The CSV is
embedded as a `data:` link; `analysis.publish.site` turns each one into a file under `_site/downloads/` and
rewrites the link (pages stay self-contained when this module is used on its own).

Sorting is `assets/tables.js` (ours, copied by site.py): it turns the header cells into buttons and sorts the
rows by their `data-sort` keys; without JavaScript the table is a plain table.

Every value is escaped (html.escape, backticks and newlines too): the values come from the log. The caller
masks IPs before (analysis.publish.privacy.mask_frame); the CSV is made from the same, masked, frame.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from typing import Any

import polars as pl

MAX_SHOWN = 15  # rows shown before "Show all"
MAX_IN_PAGE = 500  # rows beyond this are only in the CSV (keeps a page small whatever the data)
WRAP_AFTER = (
    48  # a text column whose longest value is longer may wrap (prose); shorter values never do
)
# Columns whose integers are years or identifiers: printed as is (no thousands separator).
_YEAR = re.compile(r"\byears?\b", re.I)
_ID = re.compile(r"(^|[\s_])(id|ids|user|user id|cohort id|uid)$|_id$", re.I)
_CSV_FORMULA = r"^[=+@\t\r]"  # text a spreadsheet would run as a formula


def escape(value: Any) -> str:
    """Text for HTML content or a quoted attribute (one line; backticks too, for raw-block fences)."""
    flat = " ".join(str(value).split())
    return html.escape(flat, quote=True).replace("`", "&#96;")


def slug(text: Any) -> str:
    words = re.findall(r"[a-z0-9]+", str(text).lower())
    return "-".join(words)[:60].strip("-") or "table"


def column_kind(name: str, dtype: pl.DataType) -> str:
    """date, year, id, num or text: decides formatting, alignment and sorting."""
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return "date"
    if dtype.is_integer() and _YEAR.search(name):
        return "year"
    if dtype.is_integer() and _ID.search(name.strip()):
        return "id"
    if dtype.is_numeric():
        return "num"
    return "text"


def format_value(value: Any, kind: str) -> str:
    """One cell for a reader: counts with thousands separators, years and ids bare, dates ISO."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if kind in ("year", "id"):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v, "text") for v in value)
    return str(value)


def _sort_attr(value: Any, text: str) -> str:
    """data-sort for tables.js, only where the shown text does not sort right (rounded numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return ""
    key = repr(value)
    return "" if text.replace(",", "") == key else f' data-sort="{escape(key)}"'


def csv_text(frame: pl.DataFrame) -> str:
    """The full frame as CSV: list columns joined, text that a spreadsheet would run as a formula quoted."""
    flat = frame.with_columns(
        pl.col(name).cast(pl.List(pl.String)).list.join(", ").alias(name)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.List)
    )
    safe = flat.with_columns(
        pl.when(pl.col(name).str.contains(_CSV_FORMULA))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in flat.schema.items()
        if dtype == pl.String
    )
    return safe.write_csv()


def csv_link(frame: pl.DataFrame, name: str, label: str) -> str:
    """A download link carrying the CSV (site.py turns it into a file in the site)."""
    data = base64.b64encode(csv_text(frame).encode("utf-8")).decode("ascii")
    return (
        f'<a class="table-csv" download="{escape(slug(name))}.csv" '
        f'href="data:text/csv;charset=utf-8;base64,{data}">{escape(label)}</a>'
    )


def _class_attr(names: str) -> str:
    names = names.strip()
    return f' class="{names}"' if names else ""


def table_html(
    frame: pl.DataFrame,
    caption: str | None = None,
    max_rows: int = MAX_SHOWN,
    *,
    name: str | None = None,
    download: bool = True,
) -> str:
    """An escaped, sortable HTML table of every row of `frame` (the first `max_rows` visible)."""
    total = frame.height
    kinds = [column_kind(c, t) for c, t in frame.schema.items()]
    in_page = frame.head(MAX_IN_PAGE)
    shown = [[format_value(v, k) for v, k in zip(r, kinds, strict=True)] for r in in_page.rows()]
    wrap = [
        kind == "text" and max((len(row[i]) for row in shown), default=0) > WRAP_AFTER
        for i, kind in enumerate(kinds)
    ]
    numeric = [kind in ("num", "year", "id") for kind in kinds]
    classes = [
        _class_attr(("num" if num else "") + (" wrap" if wraps else ""))
        for num, wraps in zip(numeric, wrap, strict=True)
    ]
    head = "".join(
        f'<th scope="col" data-type="{"num" if num else kind}"{cls}>{escape(col)}</th>'
        for col, kind, num, cls in zip(frame.columns, kinds, numeric, classes, strict=True)
    )
    body = []
    for index, (raw, cells) in enumerate(zip(in_page.rows(), shown, strict=True)):
        tds = "".join(
            f"<td{cls}{_sort_attr(value, text)}>{escape(text)}</td>"
            for value, text, cls in zip(raw, cells, classes, strict=True)
        )
        body.append(f'<tr class="more">{tds}</tr>' if index >= max_rows else f"<tr>{tds}</tr>")
    label = caption or name or "Table"
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    notes = []
    if total > max_rows:
        notes.append(f"{max_rows:,} of {total:,} rows shown.")
        if total > min(max_rows, MAX_IN_PAGE):
            in_page_rows = min(total, MAX_IN_PAGE)
            what = (
                f"Show all {total:,} rows"
                if in_page_rows == total
                else f"Show the first {in_page_rows:,} rows"
            )
            notes.append(f'<label class="table-all"><input type="checkbox"> {escape(what)}</label>')
    else:
        notes.append(f"{total:,} row{'s' if total != 1 else ''}.")
    if download:
        notes.append(
            csv_link(frame, name or caption or "table", f"Download all {total:,} rows (CSV)")
        )
    return (
        '<div class="table-block">'
        f'<p class="table-note">{" ".join(notes)}</p>'
        f'<div class="table-wrap" role="region" tabindex="0" aria-label="{escape(label)}">'
        f'<table class="table sortable">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></div>"
    )
