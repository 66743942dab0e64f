"""What the .qmd pages display: small helpers the cells call, built from the report, never typed numbers.

Each page is its own Quarto document: a hidden setup cell imports the question's modules
(`from analysis.charts import q1 as charts`, `from analysis.questions import q1`), opens the page and
takes its result, then every cell displays one block, for example

    page = pages.start(1)                                   # question 1 (assets one folder up)
    r = page.result()
    pages.answer(r)                                         # the answer block
    pages.chart(charts.chart_top_lessons(r))                # one chart   (#| label: fig-...)
    pages.table(q1.table_leaders(r))                        # one table   (#| label: tbl-...)
    pages.method(r)                                         # method and settings
    pages.caveats(r)

Captions and cross-reference labels come from the cells' `#| fig-cap:` / `#| tbl-cap:` options (Quarto, or
publish/render.py without Quarto). The report is loaded once per kernel: from the pickle render() writes
before executing the pages (`config.paths.report_cache`, set through CURRICULUM_REPORT), else computed.

Everything from the data (paths, ids, IPs) is untrusted: sentences are Markdown-escaped (every ASCII
punctuation character backslash-escaped, so `**x**`, `[a](javascript:..)`, `<script>`, `$x$` stay
text), tables and charts are HTML built with html.escape inside ```{=html} raw blocks, and chart specs are
JSON with `</` written `<\\/` so a value cannot close the <script>. Public builds mask IPs first
(analysis.publish.privacy).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import json
import os
import pickle
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis import config as settings
from analysis.config import Config, load_config
from analysis.publish import privacy
from analysis.publish.privacy import strip_paths
from analysis.publish.tables import table_html

PAGE_KEYS = ("index", "methods", "slide", "email")
VEGA_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
EXPORT_WIDTH = 560  # px: charts sized to their container get this width as PNG (slide, email)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|$~^@:&\"'=%/;,?])")

# Readable names of the snapshot manifest's fields (Methods page); fields not listed are not shown.
MANIFEST_LABELS: dict[str, str] = {
    "source": "Source",
    "source_detail": "Source details",
    "rows": "Log rows",
    "users": "Users",
    "ips": "IP addresses",
    "cohorts": "Cohorts",
    "first_seen": "First view",
    "last_seen": "Last view",
    "quarantined_rows": "Quarantined rows",
    "built_at": "Snapshot built",
    "logs_digest": "Checksum of the logs",
}

_STATE: dict[str, Any] = {}


# --- escaping -------------------------------------------------------------------------------------------


def escape_md(text: Any) -> str:
    """Text from the data -> pandoc Markdown that shows it literally (one line)."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def escape_html(value: Any) -> str:
    """Text for HTML content or a quoted attribute; backticks and newlines too (raw-block fences)."""
    flat = " ".join(str(value).split())
    return html.escape(flat, quote=True).replace("`", "&#96;")


def script_json(value: Any) -> str:
    """JSON safe inside <script>: no `</`, no `<!--`, no line separators."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--").replace("`", "\\u0060")


def raw_html(fragment: str) -> str:
    """A pandoc raw HTML block: passed through untouched by Markdown parsing (also in Quarto)."""
    return f"\n```{{=html}}\n{fragment}\n```\n"


def md(text: str):
    """Display Markdown from a cell (what the page shows)."""
    from IPython.display import Markdown

    return Markdown(text)


# --- the report, once per kernel -----------------------------------------------------------------------


# `changes` not given: the pages compare the report with the history themselves
LATER: Any = object()


def write_cache(report: Any, config: Config, path: Path, changes: Any = LATER) -> Path:
    """Pickle the report and the config the pages must use (render calls this), and the comparison
    with the previous report when given (`history.changes_for`: render computes it once, from the
    same masked findings the history keeps, instead of each kernel masking the report again).

    Private to the build folder and secret-free: mode 0600 (written atomically), no database URL in it,
    and in a public build the report is masked first, so the page kernels never see a full address."""
    if privacy.is_public(config.privacy.mode):
        report = privacy.public_copy(report)
    bundle = {"report": privacy.without_secrets(report), "config": privacy.without_secrets(config)}
    if changes is not LATER:
        bundle["changes"] = changes
    data = pickle.dumps(bundle)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_bundle() -> tuple[Any, Config]:
    """(report, config) for this kernel: the render cache when there is one, else computed."""
    if "bundle" not in _STATE:
        config = load_config()
        cache = config.paths.report_cache
        if cache is not None and cache.exists():
            data = pickle.loads(cache.read_bytes())
            use(data["report"], data["config"], data.get("changes", LATER))
        else:
            from analysis.report import compute_report

            _STATE["bundle"] = (compute_report(config, progress=False), config)
    return _STATE["bundle"]


def use(report: Any, config: Config, changes: Any = LATER) -> None:
    """Set the report for this process (tests, or a caller that already has it), and the comparison
    with the previous report when it is known (`write_cache`)."""
    _STATE["bundle"] = (report, config)
    _STATE.pop("page", None)
    if changes is not LATER:
        _STATE["changes"] = (report, changes)


def page(key: int | str) -> Page:
    """The page context for a registered question's number or 'index', 'methods', 'slide', 'email'."""
    from analysis.questions import REGISTRY

    report, config = load_bundle()
    if (isinstance(key, int) and key not in REGISTRY) or (
        isinstance(key, str) and key not in PAGE_KEYS
    ):
        numbers = ", ".join(map(str, REGISTRY))
        raise ValueError(f"unknown page {key!r}: {numbers} or one of {', '.join(PAGE_KEYS)}")
    root = "../" if isinstance(key, int) else ""
    return Page(key=key, report=report, config=config, root=root)


def start(key: int | str) -> Page:
    """Open a page: the helpers below display into it (the first cell of every .qmd calls this)."""
    _STATE["page"] = page(key)
    return _STATE["page"]


def current() -> Page:
    if "page" not in _STATE:
        raise RuntimeError("no page is open: the first cell must call pages.start(...)")
    return _STATE["page"]


# --- formatting -----------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    """One cell or number as text: thousands separators for counts, 3 significant digits for ratios."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return ""
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) if value else "none"
    return str(value)


def chart_description(spec: dict[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    if not isinstance(title, str):  # an expression (a title that wraps with the chart's width)
        title = None
    return str(spec.get("description") or title or "Chart")


def setting_label(key: str, number: int | None = None) -> str:
    """A setting's readable name, from its declaration in config.py (`q{number}` first, then any
    section); a value fixed in a question's code takes the module's SETTING_LABELS; else the key in
    words."""
    try:
        return settings.describe(key, f"q{number}" if number is not None else None).label
    except KeyError:
        pass
    if number is not None:
        from analysis.questions import QUESTIONS

        labels = getattr(QUESTIONS[number], "SETTING_LABELS", {})
        if key in labels:
            return str(labels[key])
    return key.replace("_", " ").capitalize()


@dataclass
class Page:
    """One page being displayed: the report, the config, privacy, and where the site's assets are."""

    key: int | str
    report: Any
    config: Config
    root: str = ""
    _chart_count: int = 0
    _images: list[Path] = field(default_factory=list)

    # -- privacy --
    @property
    def public(self) -> bool:
        return privacy.is_public(self.config.privacy.mode)

    def text(self, value: Any) -> str:
        """Masked (public builds) and Markdown-escaped."""
        raw = str(value)
        return escape_md(privacy.mask_text(raw) if self.public else raw)

    def frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        return privacy.mask_frame(frame) if self.public else frame

    def spec(self, chart: Any) -> dict[str, Any]:
        """The chart as published: masked (public builds), its title wrapped to fit a phone."""
        from analysis.charts.base import wrap_titles

        # Not validated against the Vega-Lite schema here (0.6 s a render): every chart's spec is
        # validated by its tests (tests/test_qN.py, tests/test_chart_bounds.py); the spec is the same.
        spec = wrap_titles(chart.to_dict(validate=False))
        return privacy.mask_value(spec) if self.public else spec

    # -- data --
    @property
    def dataset(self) -> dict[str, Any]:
        return dict(getattr(self.report, "dataset", {}) or {})

    @property
    def simulated(self) -> bool:
        return bool(self.dataset.get("simulated", False))

    def result(self, number: int | str | None = None) -> Any:
        number = number if number is not None else self.key
        return self.report.results[int(number)]

    def notice(self) -> str:
        """The simulated-data notice (empty for real data)."""
        if not self.simulated:
            return ""
        return (
            '\n::: {.callout-warning .notice role="note"}\n'
            "**Simulated data.** The numbers below come from a simulated log, calibrated to facts "
            "published about the real log. They illustrate the method; they are not findings about "
            "real students.\n:::\n"
        )

    # -- charts --
    def chart_html(self, chart: Any) -> str:
        """A vega-embed chart with its spec inline, scripts from the site's assets/, a text alternative.

        The caption (figure number and text) comes from the cell's `#| fig-cap:`; the chart's own title
        states the finding and its description is the text alternative read by screen readers."""
        spec = self.spec(chart)
        self._chart_count += 1
        ident = f"chart-{self.key}-{self._chart_count}"
        description = chart_description(spec)
        scripts = ""
        if self._chart_count == 1:
            scripts = "".join(
                f'<script src="{self.root}assets/{name}"></script>' for name in VEGA_SCRIPTS
            )
        options = {"actions": False, "renderer": "svg"}
        fragment = (
            f'{scripts}<div id="{ident}" class="vega-chart" style="width:100%" role="img" '
            f'aria-label="{escape_html(description)}"></div>'
            f'<script>vegaEmbed("#{ident}", {script_json(spec)}, {script_json(options)})'
            ".catch(function (e) { console.error(e); });</script>"
        )
        return raw_html(fragment)

    def png(self, chart: Any, path: Path, scale: float = 2.0) -> Path:
        """The chart as PNG (slide, email), from the masked spec, offline via vl-convert."""
        import vl_convert as vlc

        from analysis.charts.base import fixed_width

        path.parent.mkdir(parents=True, exist_ok=True)
        spec = fixed_width(self.spec(chart), EXPORT_WIDTH)
        path.write_bytes(vlc.vegalite_to_png(json.dumps(spec), scale=scale))
        self._images.append(path)
        return path


@functools.cache
def start_png_engine() -> threading.Thread:
    """Start vl-convert's engine in a background thread, once per process: its first conversion starts
    a JavaScript runtime and loads Vega (about 0.6 s, outside the GIL), so render starts it first and
    it runs beside the pages' Python; Page.png then pays only for its own drawing. A failure here is
    ignored: png() meets it again and reports it."""

    def start() -> None:
        import vl_convert as vlc

        with contextlib.suppress(Exception):
            vlc.vegalite_to_svg(json.dumps({"mark": "point"}))

    thread = threading.Thread(target=start, name="png-engine", daemon=True)
    thread.start()
    return thread


# --- blocks every question page uses --------------------------------------------------------------------


def notice():
    """The simulated-data notice (nothing for real data)."""
    return md(current().notice())


def answer(result: Any):
    """The answer in bold (one plain sentence), then its supporting bullets."""
    ctx = current()
    lines = [f"**{ctx.text(result.answer)}**", ""]
    lines += [f"- {ctx.text(sentence)}" for sentence in result.supporting]
    return md("\n::: {.answer}\n" + "\n".join(lines) + "\n:::\n")


def chart(chart_object: Any):
    """One chart (masked in public builds), sized to its container."""
    return md(current().chart_html(chart_object))


def table(source: Any, key: str | int | None = None, shown: int | None = None):
    """One table: a DataFrame, or `key` (title or position) of a result's tables(); `shown` folds a
    long one to its first rows (the others behind "Show all", and all of them in the CSV)."""
    ctx = current()
    frame = source
    if not isinstance(source, pl.DataFrame):
        tables = source.tables()
        if isinstance(key, str) and key not in tables:
            raise KeyError(f"question {source.number} has no table {key!r}: {', '.join(tables)}")
        frame = list(tables.values())[key] if isinstance(key, int) else tables[key]
    rows = max(frame.height, 1) if shown is None else max(shown, 1)
    return md(raw_html(table_html(ctx.frame(frame), max_rows=rows)))


def tables(result: Any, start: int = 0):
    """A result's tables from position `start` on, each under its own heading (for tables whose number
    and titles depend on the data)."""
    ctx = current()
    out = []
    for title, frame in list(result.tables().items())[start:]:
        out.append(f"\n### {ctx.text(title)}\n")
        out.append(raw_html(table_html(ctx.frame(frame), max_rows=max(frame.height, 1))))
    return md("\n".join(out))


def config_key(config: Config, number: int, key: str) -> str:
    """Where a question's setting lives in curriculum-insights.toml ('[q7] min_views'), or that it is
    fixed in the code."""
    try:
        declared = settings.describe(key, f"q{number}")
    except KeyError:
        return "fixed in the code"
    return f"[{declared.section}] {declared.name}"


# Values fixed in the code whose whole numbers are identifiers (declared settings say so by their unit).
_IDENTIFIER_SETTINGS = ("seed", "year", "_id")


def fmt_setting(key: str, value: Any, number: int | None = None) -> str:
    """A setting's value as text: like fmt(), but identifiers (a seed, a year, an id: unit "id" in the
    declaration) print bare, "2019", not "2,019"."""
    try:
        identifier = settings.describe(key, f"q{number}" if number is not None else None).identifier
    except KeyError:
        identifier = key.endswith(_IDENTIFIER_SETTINGS)
    if isinstance(value, int) and not isinstance(value, bool) and identifier:
        return str(value)
    return fmt(value)


def settings_frame(parameters: dict[str, Any], number: int) -> pl.DataFrame:
    """Question `number`'s settings as a readable table: name, value, and where to change it."""
    config = current().config
    return pl.DataFrame(
        {
            "Setting": [setting_label(str(k), number) for k in parameters],
            "Value": [fmt_setting(str(k), v, number) for k, v in parameters.items()],
            "Where to change it": [config_key(config, number, str(k)) for k in parameters],
        },
        schema={"Setting": pl.String, "Value": pl.String, "Where to change it": pl.String},
    )


def method(result: Any):
    """How the answer was computed (statistics and thresholds live here), then its settings."""
    ctx = current()
    out = [ctx.text(result.method), ""]
    if result.parameters:
        frame = settings_frame(result.parameters, result.number)
        out.append(raw_html(table_html(ctx.frame(frame), max_rows=frame.height)))
    return md("\n".join(out) + "\n")


def set_aside_note(report: Any, number: int) -> str | None:
    """The sentence saying how many views of automated actors question `number` left out, and why,
    from question 4's typed fields (one list of automated actors for the whole report); None when
    nothing was set aside or the question is question 4 itself (it reports them)."""
    q4 = getattr(report, "results", {}).get(4)
    views = int(getattr(q4, "set_aside_views", 0) or 0)
    if number == 4 or q4 is None or views == 0:
        return None
    episodes = int(getattr(q4, "set_aside_episodes", 0) or 0)
    students = int(getattr(q4, "set_aside_student_views", 0) or 0)
    return (
        f"{views:,} page views ({students:,} of them students' lesson views) made during "
        f"{episodes:,} episodes of automated fetching or attack probes (question 4's High tier) "
        "are left out of this answer: machines are not students."
    )


def caveats(result: Any):
    ctx = current()
    notes = list(result.caveats)
    note = set_aside_note(ctx.report, int(getattr(result, "number", 0) or 0))
    if note:
        notes.append(note)
    if not notes:
        return md("No caveats beyond those on the Methods page.\n")
    return md("\n".join(f"- {ctx.text(c)}" for c in notes) + "\n")


# --- the summary page -----------------------------------------------------------------------------------


def headline_numbers():
    data = current().dataset
    items = []
    first, last = data.get("first_seen"), data.get("last_seen")
    if first and last:
        items.append(("Period", f"{str(first)[:10]} to {str(last)[:10]}"))
    for key, label in (
        ("rows", "Log rows"),
        ("students", "Students"),
        ("users", "Users"),
        ("cohorts", "Cohorts"),
        ("ips", "IP addresses"),
        ("quarantined_rows", "Quarantined rows"),
    ):
        if data.get(key) is not None:
            items.append((label, fmt(data[key])))
    cells = "".join(
        f'<div class="stat"><div class="stat-value">{escape_html(v)}</div>'
        f'<div class="stat-label">{escape_html(k)}</div></div>'
        for k, v in items
    )
    return md(raw_html(f'<div class="stats">{cells}</div>'))


def answers_list(link_prefix: str = "questions/"):
    """The answers, one line each, linking to their pages."""
    ctx = current()
    lines = []
    for number in sorted(ctx.report.results):
        result = ctx.report.results[number]
        lines.append(
            f"{number}. [{ctx.text(result.title)}]({link_prefix}q{number}.html): "
            f"{ctx.text(result.answer)}"
        )
    return md("\n".join(lines) + "\n")


# --- the Methods page -----------------------------------------------------------------------------------


def sources():
    """What the snapshot holds, with readable names; no path of the build machine."""
    ctx = current()
    data = ctx.dataset
    rows = [
        (label, strip_paths(fmt(_manifest_value(data[key]))))
        for key, label in MANIFEST_LABELS.items()
        if data.get(key) not in (None, "")
    ]
    frame = pl.DataFrame(
        {"Item": [r[0] for r in rows], "Value": [r[1] for r in rows]},
        schema={"Item": pl.String, "Value": pl.String},
    )
    return md(raw_html(table_html(ctx.frame(frame), max_rows=frame.height)))


def quarantine():
    """Rows set aside at import, by reason (a sentence when there are none)."""
    ctx = current()
    reasons = ctx.dataset.get("quarantine_reasons") or {}
    if not reasons:
        return md("No row was quarantined: every source row could be read.\n")
    frame = pl.DataFrame(
        {"Reason": [str(k) for k in reasons], "Rows": [int(v) for v in reasons.values()]}
    )
    return md(raw_html(table_html(ctx.frame(frame), max_rows=frame.height)))


def _manifest_value(value: Any) -> Any:
    """ISO timestamps as dates and times a reader knows."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?.*", value):
        return value[:16].replace("T", " ")
    return value


def definitions():
    ctx = current()
    c = ctx.config
    staff = ", ".join(c.people.staff_cohort_names)
    from analysis.charts.base import track_label

    navigation = ", ".join(p if p else "(empty)" for p in c.lessons.non_lesson_paths)
    return md(
        "\n".join(
            [
                f"- **Lesson**: a page path that is not navigation ({ctx.text(navigation)}), "
                f"not an asset (extensions {ctx.text(', '.join(c.lessons.asset_extensions))}) and "
                "not a probe for known vulnerable paths; numbered folder prefixes are "
                f"{'stripped' if c.lessons.strip_numbered_prefixes else 'kept'} and "
                f"{len(c.lessons.aliases)} renamed paths are mapped to one name.",
                "- **Student**: a user whose cohort belongs to a program and is not the staff or "
                "placeholder cohort; **active** = between the cohort's start and end dates; "
                "**graduate** = a student after the end date; **before** = before the start date.",
                f"- **Staff**: users of the cohort(s) {ctx.text(staff)}.",
                "- **Programs**: "
                + ctx.text(
                    "; ".join(
                        f"{label} ({track_label(c.programs.track.get(pid, ''))})"
                        for pid, label in sorted(c.programs.labels.items())
                    )
                )
                + ".",
                "- **Privacy**: this build is "
                + (
                    "public: IP addresses are masked to their network (a.b.c.x)."
                    if ctx.public
                    else "internal: IP addresses are shown in full."
                ),
            ]
        )
    )


def all_parameters():
    """Every question's settings, question by question, with readable names."""
    ctx = current()
    out = []
    for number in sorted(ctx.report.results):
        result = ctx.report.results[number]
        if not result.parameters:
            continue
        frame = settings_frame(result.parameters, number)
        out.append(f"\n### Question {number}: {ctx.text(result.title)}\n")
        out.append(raw_html(table_html(ctx.frame(frame), max_rows=frame.height)))
    return md("\n".join(out))


# --- what changed since the last report (issue 19: analysis.history, analysis.changes) ------------------

_CHANGES_STYLE = (
    "<style>.badge-new{background:#b71c1c;color:#fff;border-radius:3px;padding:0 .45em;"
    "font-size:.8em;font-weight:600}.badge-old{color:#555;font-size:.85em}"
    ".only-new:checked~table tr.not-new{display:none}.changes-table td{padding:.2em .6em}"
    # a phone: long labels (lesson paths) wrap inside the column instead of widening the page
    ".changes{max-width:100%;overflow-x:auto}.changes-table{width:100%}"
    "table.table.changes-table td{white-space:normal;overflow-wrap:anywhere}"
    "table.table.changes-table td:first-child"
    "{white-space:nowrap;width:1%}</style>"
)
_STATUS_WORDS = {"new": "new", "continuing": "continuing", "gone": "no longer reported"}
# question -> (continuing, gone) in the question's own words
_QUESTION_STATUS = {
    1: ("still listed", "left the list"),
    2: ("still a case", "no longer a case"),
    3: ("still flagged", "no longer flagged"),
    6: ("still listed", "left the list"),
    7: ("still listed", "left the list"),
}


def changes_result() -> Any:
    """The comparison with the previous report (analysis.changes.Changes), computed once per kernel;
    None when the history is off (`--no-history`)."""
    report, config = load_bundle()
    cached = _STATE.get("changes")
    if cached is None or cached[0] is not report:
        from analysis.history import changes_for

        _STATE["changes"] = (report, changes_for(report, config))
    return _STATE["changes"][1]


def _changes_table(number: int, items: list[Any]) -> str:
    """The compared rows, each marked new / continuing / gone, with a "show only new" filter."""
    ctx = current()
    with_tier = number == 4
    head = "<th>Status</th><th>What</th>" + ("<th>Tier</th>" if with_tier else "")
    words = dict(_STATUS_WORDS)
    if number in _QUESTION_STATUS:
        words["continuing"], words["gone"] = _QUESTION_STATUS[number]
    rows = []
    for item in items:
        text = privacy.mask_text(item.label) if ctx.public else item.label
        status = (
            '<span class="badge-new">new</span>'
            if item.status == "new"
            else f'<span class="badge-old">{escape_html(words.get(item.status, item.status))}</span>'
        )
        tier = ""
        if with_tier:
            tier_text = str(item.tier or item.previous_tier or "")
            if item.tier_changed and item.previous_tier:
                tier_text = f"{item.tier} (was {item.previous_tier})"
            tier = f"<td>{escape_html(tier_text)}</td>"
        css = "is-new" if item.status == "new" else "not-new"
        rows.append(f'<tr class="{css}"><td>{status}</td><td>{escape_html(text)}</td>{tier}</tr>')
    ident = f"only-new-{ctx.key}-{number}"
    return (
        f'{_CHANGES_STYLE}<div class="changes"><input type="checkbox" class="only-new" id="{ident}">'
        f' <label for="{ident}">Show only new rows</label>'
        f'<table class="table changes-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def question_changes(number: int | None = None):
    """A question page's change since the last report: one sentence, its rows marked new (with a
    filter), and the trend of its headline number. Nothing with `--no-history`."""
    from analysis.changes import no_comparison
    from analysis.charts.history import chart_trend

    ctx = current()
    number = int(number if number is not None else ctx.key)
    changes = changes_result()
    if changes is None:
        return md("")
    if changes.first_report:
        return md(f"\n## Since the last report\n\n{ctx.text(no_comparison(changes))}\n")
    change = changes.question(number)
    out = ["\n## What changed since the last report\n", ctx.text(change.sentence) + "\n"]
    if changes.method_changed:
        out.append(
            ctx.text(
                "The method changed since then (settings: "
                + ", ".join(changes.changed_settings)
                + "), so some differences come from that."
            )
            + "\n"
        )
    # every new and gone row; continuing ones in full when few, else those that moved (new activity,
    # another tier) and a count of the rest
    continuing = change.continuing
    quiet = [i for i in continuing if not (i.active_since or i.tier_changed)]
    if len(continuing) > 10:
        continuing = [i for i in continuing if i.active_since or i.tier_changed]
    else:
        quiet = []
    items = change.new + continuing + change.gone
    if items:
        out.append(raw_html(_changes_table(number, items)))
    if quiet:
        one, many = ("incident", "incidents") if number == 4 else ("row", "rows")
        out.append(
            f"{len(quiet):,} earlier {one + ' continues' if len(quiet) == 1 else many + ' continue'} "
            "unchanged (listed in the tables below).\n"
        )
    if not changes.trends.filter(pl.col("question") == number).is_empty():
        out.append(ctx.chart_html(chart_trend(changes, number)))
    return md("\n".join(out) + "\n")


# bullets of "Since the report of ..." shown before the fold (the rest in a <details>)
SINCE_SHOWN = 2


def since_last_report():
    """The summary page's opening: "Since the report of DATE" and 3-5 plain bullets (new and needing
    action first; the first SINCE_SHOWN shown, the others folded), then a compact row of trends (hidden
    on phones, which get a pointer to the question pages); a plain sentence for the first report;
    nothing with `--no-history`."""
    from analysis.changes import bullets, news_bullet, no_comparison
    from analysis.charts.history import chart_trend_row

    ctx = current()
    changes = changes_result()
    if changes is None:
        return md("")
    if changes.first_report:
        return md(f"\n## Since the last report\n\n{ctx.text(no_comparison(changes))}\n")
    out = [f"\n## Since the report of {changes.since}\n"]
    lead = news_bullet(changes)  # the slide's bullet on what is new, word for word
    if lead:
        out += [ctx.text(lead if lead.endswith(".") else f"{lead}."), ""]
    lines = [f"- {ctx.text(line)}" for line in bullets(changes)]
    out += lines[:SINCE_SHOWN]
    out.append("")
    if lines[
        SINCE_SHOWN:
    ]:  # the rest folded, so that on a phone the first answer is in the first screen
        rest = len(lines) - SINCE_SHOWN
        out.append(
            raw_html(
                f'<details class="more-changes"><summary>{rest} more '
                f"{'change' if rest == 1 else 'changes'}</summary>"
            )
        )
        out += ["", *lines[SINCE_SHOWN:], "", raw_html("</details>")]
    if changes.trends.get_column("data_end").n_unique() > 1:
        # eight small panels: unreadable on a phone, where each question's page shows its own trend
        out.append(raw_html('<div class="trend-row">'))
        out.append(ctx.chart_html(chart_trend_row(changes)))
        out.append(raw_html("</div>"))
        out.append(
            raw_html(
                '<p class="trend-row-note">The trend of each answer\'s headline number is on its '
                "question's page (and here on a wider screen).</p>"
            )
        )
    return md("\n".join(out) + "\n")
