"""What the .qmd pages display: Markdown and raw-HTML blocks built from the report, never typed numbers.

Each page has one hidden setup cell `from analysis.publish import pages; page = pages.page(N)` and cells that
emit `pages.md(page.something())`. The report is loaded once per kernel: from the pickle render() writes
before executing the pages (`config.paths.report_cache`, set through CURRICULUM_REPORT), else computed.

Everything from the data (paths, ids, IPs) is untrusted: sentences are Markdown-escaped (every ASCII
punctuation character backslash-escaped, so `**x**`, `[a](javascript:..)`, `<script>`, `$x$` stay
text), tables and charts are HTML built with html.escape inside ```{=html} raw blocks, and chart specs are
JSON with `</` written `<\\/` so a value cannot close the <script>. Public builds mask IPs first
(analysis.publish.privacy).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analysis.config import Config, load_config
from analysis.publish import privacy

PAGE_KEYS = ("index", "methods", "slide", "email")
NAV_TITLES = {n: f"Q{n}" for n in range(1, 9)}
# The chart the summary page and the slide show: question, index in its CHARTS list.
KEY_CHART = (1, 0)
VEGA_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|$~^@:&\"'=%/;,?])")

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


def write_cache(report: Any, config: Config, path: Path) -> Path:
    """Pickle the report and the config the pages must use (render calls this)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"report": report, "config": config}))
    return path


def load_bundle() -> tuple[Any, Config]:
    """(report, config) for this kernel: the render cache when there is one, else computed."""
    if "bundle" not in _STATE:
        config = load_config()
        cache = config.paths.report_cache
        if cache is not None and cache.exists():
            data = pickle.loads(cache.read_bytes())
            _STATE["bundle"] = (data["report"], data["config"])
        else:
            from analysis.report import compute_report

            _STATE["bundle"] = (compute_report(config, progress=False), config)
    return _STATE["bundle"]


def use(report: Any, config: Config) -> None:
    """Set the report for this process (tests, or a caller that already has it)."""
    _STATE["bundle"] = (report, config)


def page(key: int | str) -> Page:
    """The page object for question N (1..8) or 'index', 'methods', 'slide', 'email'."""
    report, config = load_bundle()
    if isinstance(key, int) and not 1 <= key <= 8 or isinstance(key, str) and key not in PAGE_KEYS:
        raise ValueError(f"unknown page {key!r}: 1..8 or one of {', '.join(PAGE_KEYS)}")
    root = "../" if isinstance(key, int) else ""
    return Page(key=key, report=report, config=config, root=root)


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
        return ", ".join(fmt(v) for v in value)
    return str(value)


def table_html(frame: pl.DataFrame, caption: str | None = None, max_rows: int = 15) -> str:
    """An escaped HTML table (header row with scope=col)."""
    head = "".join(f'<th scope="col">{escape_html(name)}</th>' for name in frame.columns)
    numeric = [dtype.is_numeric() for dtype in frame.dtypes]
    rows = []
    for record in frame.head(max_rows).iter_rows():
        cells = "".join(
            f'<td class="num">{escape_html(fmt(v))}</td>'
            if is_num
            else f"<td>{escape_html(fmt(v))}</td>"
            for v, is_num in zip(record, numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{escape_html(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table class="table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def chart_description(spec: dict[str, Any]) -> str:
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(map(str, title))
    return str(spec.get("description") or title or "Chart")


@dataclass
class Page:
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
        spec = chart.to_dict()
        return privacy.mask_value(spec) if self.public else spec

    # -- data --
    @property
    def dataset(self) -> dict[str, Any]:
        return dict(getattr(self.report, "dataset", {}) or {})

    @property
    def simulated(self) -> bool:
        return bool(self.dataset.get("simulated", False))

    def result(self, number: int | None = None) -> Any:
        number = number if number is not None else self.key
        return self.report.results[int(number)]

    def charts(self, number: int | None = None) -> list[Any]:
        from analysis.charts import charts_for
        from analysis.results import QuestionResult

        result = self.result(number)
        if type(result) is QuestionResult:  # a bare result (no typed fields) has no charts
            return []
        return charts_for(result)

    # -- blocks shared by every page --
    def notice(self) -> str:
        """The simulated-data notice (empty for real data)."""
        if not self.simulated:
            return ""
        source = self.dataset.get("source", "simulation")
        return (
            '\n::: {.callout-warning .notice role="note"}\n'
            f"**Simulated data.** The numbers below come from a simulated log (source: "
            f"{self.text(source)}), calibrated to facts published about the real log. They illustrate the "
            "method; they are not findings about real students.\n:::\n"
        )

    # -- question pages --
    def answer(self, number: int | None = None) -> str:
        result = self.result(number)
        lines = [f"**{self.text(result.answer)}**", ""]
        lines += [f"- {self.text(sentence)}" for sentence in result.supporting]
        return "\n".join(lines) + "\n"

    def evidence(self, number: int | None = None) -> str:
        """Every chart of the question, then its compact tables."""
        result = self.result(number)
        parts = [self.chart_html(chart) for chart in self.charts(number)]
        parts += [self.table(frame, title) for title, frame in result.tables().items()]
        return "\n".join(parts)

    def table(self, frame: pl.DataFrame, title: str) -> str:
        return f"\n### {self.text(title)}\n" + raw_html(table_html(self.frame(frame)))

    def method(self, number: int | None = None) -> str:
        result = self.result(number)
        out = [self.text(result.method), ""]
        if result.parameters:
            frame = pl.DataFrame(
                {
                    "Setting": [str(k) for k in result.parameters],
                    "Value": [fmt(v) for v in result.parameters.values()],
                }
            )
            out.append(raw_html(table_html(frame, caption="Thresholds (curriculum-insights.toml)")))
        return "\n".join(out) + "\n"

    def caveats(self, number: int | None = None) -> str:
        result = self.result(number)
        if not result.caveats:
            return "No caveats beyond those on the Methods page.\n"
        return "\n".join(f"- {self.text(c)}" for c in result.caveats) + "\n"

    # -- charts --
    def chart_html(self, chart: Any) -> str:
        """A vega-embed chart with its spec inline, scripts from the site's assets/, a text alternative."""
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
            f'{scripts}<figure class="chart"><div id="{ident}" class="vega-chart" role="img" '
            f'aria-label="{escape_html(description)}"></div>'
            f"<figcaption>{escape_html(description)}</figcaption></figure>"
            f'<script>vegaEmbed("#{ident}", {script_json(spec)}, {script_json(options)})'
            ".catch(function (e) { console.error(e); });</script>"
        )
        return raw_html(fragment)

    def png(self, chart: Any, path: Path, scale: float = 2.0) -> Path:
        """The chart as PNG (slide, email), from the masked spec, offline via vl-convert."""
        import vl_convert as vlc

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(vlc.vegalite_to_png(json.dumps(self.spec(chart)), scale=scale))
        self._images.append(path)
        return path

    # -- summary page --
    def headline_numbers(self) -> str:
        data = self.dataset
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
        return raw_html(f'<div class="stats">{cells}</div>')

    def answers_list(self, link_prefix: str = "questions/") -> str:
        """The eight answers, one line each, linking to their pages."""
        lines = []
        for number in sorted(self.report.results):
            result = self.report.results[number]
            lines.append(
                f"{number}. [{self.text(result.title)}]({link_prefix}q{number}.html): "
                f"{self.text(result.answer)}"
            )
        return "\n".join(lines) + "\n"

    def key_chart(self) -> str:
        number, index = KEY_CHART
        charts = self.charts(number)
        return self.chart_html(charts[index]) if charts else ""

    # -- methods page --
    def sources(self) -> str:
        data = self.dataset
        scalars = {
            k: v for k, v in data.items() if not isinstance(v, dict | list) and k != "simulated"
        }
        frame = pl.DataFrame(
            {"Item": [str(k) for k in scalars], "Value": [fmt(v) for v in scalars.values()]}
        )
        out = [raw_html(table_html(self.frame(frame), caption="Snapshot manifest"))]
        for key, value in data.items():
            if isinstance(value, dict) and value:
                sub = pl.DataFrame(
                    {"Item": [str(k) for k in value], "Value": [fmt(v) for v in value.values()]}
                )
                out.append(self.table(sub, key.replace("_", " ").capitalize()))
        return "\n".join(out)

    def definitions(self) -> str:
        c = self.config
        staff = ", ".join(c.people.staff_cohort_names)
        return "\n".join(
            [
                f"- **Lesson**: a page path that is not navigation ({self.text(', '.join(repr(p) for p in c.lessons.non_lesson_paths))}), "
                f"not an asset (extensions {self.text(', '.join(c.lessons.asset_extensions))}) and not a probe "
                "for known vulnerable paths; numbered folder prefixes are "
                f"{'stripped' if c.lessons.strip_numbered_prefixes else 'kept'} and "
                f"{len(c.lessons.aliases)} renamed paths are mapped to one name.",
                "- **Student**: a user whose cohort belongs to a program and is not the staff or "
                "placeholder cohort; **active** = between the cohort's start and end dates; "
                "**alumni** = after the end date; **before** = before the start date.",
                f"- **Staff**: users of the cohort(s) {self.text(staff)}.",
                "- **Programs**: "
                + self.text(", ".join(f"{k} = {v}" for k, v in sorted(c.programs.labels.items())))
                + ".",
                f"- **Privacy**: this build is {'public: IP addresses are masked to their network (a.b.c.x)' if self.public else 'internal: IP addresses are shown in full'}.",
            ]
        )

    def parameters(self) -> str:
        """Every question's thresholds in one place."""
        out = []
        for number in sorted(self.report.results):
            result = self.report.results[number]
            if not result.parameters:
                continue
            frame = pl.DataFrame(
                {
                    "Setting": [f"q{number}.{k}" for k in result.parameters],
                    "Value": [fmt(v) for v in result.parameters.values()],
                }
            )
            out.append(self.table(frame, f"Question {number}"))
        return "\n".join(out)
