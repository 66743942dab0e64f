"""What the slide, the email and the summary page share: one `Summary`, computed once from the report.

`summarise(report, config)` is pure: it asks the questions in LEAD_QUESTIONS, in order, for their lead
(each question module's own `lead(result) -> Lead | None`, so question-specific choices stay with the
question) and takes the first one; the bullets are the lead's bullet then the headlines of
BULLET_QUESTIONS; the footer gives the data period and the simulated-data notice; the notes hold the
lead's evidence and every answer. The slide (pptx, revealjs), the email and the summary page only lay it
out. All text is plain (not Markdown), masked for public builds, dates readable, and clipped to the
slide's limits here, so every output shows the same words.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any, cast
from urllib.parse import urlparse

from analysis.config import Config
from analysis.publish import privacy
from analysis.questions import slide_bullets
from analysis.results import ChartData, Lead

__all__ = ["ChartData", "Lead", "Summary", "summarise"]

# The questions whose lead() may lead, most important first (the first that has one wins).
LEAD_QUESTIONS = (4, 6)
# After the lead bullet, the questions whose headlines fill the slide, most important first.
BULLET_QUESTIONS = slide_bullets()  # from the registry: the modules' SLIDE_RANK
MAX_BULLETS = 4
MAX_WORDS = 15  # per bullet
MAX_TITLE_WORDS = 14
ISO_DATE = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])")
CLAUSE_BREAK = re.compile(r"[;:,](?=\s)|\s—\s")
MIN_CLAUSE_WORDS = 4  # a clipped bullet keeps at least this many words, else it is cut at the limit
SIMULATED_FOOTER = "Simulated data: it shows the method, not real students"
# Reserved example/test names (RFC 2606, RFC 6761): never a real site or mailbox.
PLACEHOLDER_HOST = re.compile(
    r"(^|\.)(example\.(com|net|org)|example|invalid|test|localhost|local)$", re.I
)


@dataclass(frozen=True)
class Summary:
    """The shared content: the lead finding, the slide's bullets, its chart, footer and notes, the key
    numbers (the lead's counts, shown as text beside the chart), every answer, and where the report is."""

    question: int  # the question that leads (0: none)
    question_title: str  # its short title ("Suspicious activity")
    title: str  # the lead finding as a sentence (<= MAX_TITLE_WORDS words)
    bullets: list[str]  # <= MAX_BULLETS of <= MAX_WORDS words; the lead's first
    chart: ChartData | None
    footer: str
    notes: list[str]
    numbers: list[tuple[str, str]] = field(
        default_factory=list
    )  # (label, value), the lead's counts
    answers: list[tuple[int, str, str]] = field(default_factory=list)  # (number, title, answer)
    site_url: str = ""  # the published site, "" when none is configured
    simulated: bool = False
    # What changed since the previous report (analysis.changes.headline_changes): new items first; the
    # email opens with them, the slide gives the first one a bullet and all of them in its notes.
    news: list[str] = field(default_factory=list)
    news_bullet: str = ""  # the bullet that says what is new ("" when none)


# --- words ----------------------------------------------------------------------------------------------


def clip_words(text: str, limit: int) -> str:
    """At most `limit` words: cut at the latest clause break (; : — ,) that fits, else after `limit` words."""
    words = " ".join(str(text).split()).rstrip(" .")
    if len(words.split()) <= limit:
        return words
    heads = [words[: m.start()] for m in CLAUSE_BREAK.finditer(words)]
    fitting = [h for h in heads if MIN_CLAUSE_WORDS <= len(h.split()) <= limit]
    if fitting:
        return max(fitting, key=len).rstrip(" .,;:")
    return " ".join(words.split()[:limit]).rstrip(" .,;:") + "…"


def readable_dates(text: str) -> str:
    """ISO dates as people write them (2019-06-01 -> 1 Jun 2019): no line break inside a date."""

    def human(match: re.Match[str]) -> str:
        try:
            date = dt.date.fromisoformat(match.group(0))
        except ValueError:
            return match.group(0)
        return f"{date.day} {date:%b %Y}"

    return ISO_DATE.sub(human, text)


def _day(value: Any) -> str:
    try:
        date = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)[:10]
    return f"{date.day} {date:%b %Y}"


# --- where the report is (config) -------------------------------------------------------------------------


def is_placeholder_host(host: str) -> bool:
    return bool(PLACEHOLDER_HOST.search(host.strip().rstrip(".")))


def site_url(config: Config) -> str:
    """The configured public URL of the site, or "" (none, not http(s), or a placeholder domain)."""
    url = config.site.base_url.strip()
    if not re.fullmatch(r"https?://[^\s<>\"']+", url):
        return ""
    host = urlparse(url).hostname or ""
    return "" if not host or is_placeholder_host(host) else url


def address(value: str) -> str:
    """A usable address header value, or "" (empty, malformed, or at a placeholder domain)."""
    _, mailbox = parseaddr(value)
    if "@" not in mailbox:
        return ""
    return "" if is_placeholder_host(mailbox.rsplit("@", 1)[1]) else value.strip()


def report_folder(config: Config) -> str:
    """The site folder's name as the user knows it (the pages run while render writes to `.NAME.partial`)."""
    name = config.paths.site_dir.name
    if name.startswith(".") and name.endswith(".partial"):
        name = name[1 : -len(".partial")]
    return name


# --- the summary ----------------------------------------------------------------------------------------


def _headline(result: Any) -> str:
    try:
        text = result.headline()
    except (AttributeError, TypeError):
        text = getattr(result, "answer", "")
    return str(text or getattr(result, "answer", "") or "")


def find_lead(results: dict[int, Any]) -> Lead:
    """The first lead a question in LEAD_QUESTIONS offers, else the first question's headline."""
    from analysis.questions import QUESTIONS

    for number in LEAD_QUESTIONS:
        if number not in results:
            continue
        ask = getattr(QUESTIONS[number], "lead", None)
        found = ask(results[number]) if ask is not None else None
        if found is not None:
            return cast(Lead, found)
    if not results:
        return Lead(0, "No findings: the log is empty", "", None)
    number = min(results)
    return Lead(number, _headline(results[number]), "", None)


def summarise(report: Any, config: Config, changes: Any = None) -> Summary:
    """The summary of `report` (results + dataset) as published under `config` (privacy, site URL);
    `changes` (analysis.changes.Changes, None without a history) adds what is new since the last report."""
    from analysis.changes import headline_changes, news_bullet, slide_note
    from analysis.questions import TITLES

    public = privacy.is_public(config.privacy.mode)

    def plain(text: Any) -> str:
        raw = " ".join(str(text).split())
        return privacy.mask_text(raw) if public else raw

    def short(text: Any, limit: int) -> str:
        return clip_words(readable_dates(plain(text)), limit)

    results: dict[int, Any] = dict(getattr(report, "results", {}) or {})
    dataset: dict[str, Any] = dict(getattr(report, "dataset", {}) or {})
    simulated = bool(dataset.get("simulated", False))
    found = find_lead(results)

    news = [plain(line) for line in headline_changes(changes) if line]
    bullets = [short(found.bullet, MAX_WORDS)] if found.bullet else []
    # one bullet says what is new (counts; the notes name the items): clipping the first news line
    # could cut an item in half ("...; shared account")
    new_bullet = short(news_bullet(changes), MAX_WORDS)
    if new_bullet:
        bullets.append(new_bullet)
    for number in BULLET_QUESTIONS:
        if len(bullets) >= MAX_BULLETS:
            break
        if number == found.question or number not in results:
            continue
        text = short(_headline(results[number]), MAX_WORDS)
        if text and text not in bullets:
            bullets.append(text)

    first, last = dataset.get("first_seen"), dataset.get("last_seen")
    period = f"Data from {_day(first)} to {_day(last)}" if first and last else ""
    footer = " · ".join(p for p in (period, SIMULATED_FOOTER if simulated else "") if p)

    url = site_url(config)
    answers = [
        (number, plain(getattr(results[number], "title", "")), plain(results[number].answer))
        for number in sorted(results)
    ]
    notes = []
    note = plain(slide_note(changes))
    if note:
        notes.append(note)
    details = [plain(d) for d in found.details if d]
    if details:
        notes.append("Behind the title:")
        notes += [f"- {d}" for d in details]
    if found.chart is not None:
        notes.append(f"Chart: {plain(found.chart.description())}")
    notes.append("The answers:")
    for number, title, answer in answers:
        sep = " " if title.endswith(("?", ".", ":")) else ": "
        notes.append(f"Q{number}. {title}{sep}{answer}")
    notes.append(
        f"Full report: {url}"
        if url
        else f"Full report: the website in the {report_folder(config)} folder (open index.html)"
    )
    if simulated:
        notes.append(
            "The data is simulated (calibrated to facts published about the real log): "
            "the numbers illustrate the method; they are not findings about real students."
        )
    chart = found.chart
    if chart is not None and public:
        chart = ChartData(
            title=plain(chart.title),
            categories=[plain(c) for c in chart.categories],
            series=chart.series,
            colours=chart.colours,
            unit=chart.unit,
            stacked=chart.stacked,
        )
    return Summary(
        question=found.question,
        question_title=TITLES.get(found.question, ""),
        title=short(found.title, MAX_TITLE_WORDS),
        bullets=bullets,
        chart=chart,
        footer=footer,
        notes=notes,
        numbers=[(plain(k), plain(v)) for k, v in found.numbers],
        answers=answers,
        site_url=url,
        simulated=simulated,
        news=news,
        news_bullet=new_bullet,
    )


# --- the lead chart as a picture or a web chart (email PNG, summary page) -------------------------------


def chart_altair(chart: ChartData, width: int | str = 560, font: int = 20) -> Any:
    """The lead chart as Altair: horizontal bars, the values as labels, `font` px text, `width` px wide
    (the email's PNG: large fonts), or "container" (the summary page: the site's chart styling)."""
    import altair as alt

    rows = [
        {"category": category, "series": name, "value": values[index], "order": index}
        for name, values in chart.series
        for index, category in enumerate(chart.categories)
    ]
    names = [name for name, _ in chart.series]
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=names, range=cast(Any, chart.colours or None)),
        legend=alt.Legend(orient="bottom", labelFontSize=font, symbolSize=15 * font)
        if len(names) > 1
        else None,
    )
    y = alt.Y(
        "category:N",
        sort=chart.categories,
        title=None,
        axis=alt.Axis(labelLimit=13 * font, labelFontSize=font),
    )
    x = alt.X(
        "value:Q", title=chart.unit.capitalize() or None, axis=None, stack=chart.stacked or None
    )
    # channel objects, not shorthand strings (see analysis/charts/__init__.py)
    tooltip = [alt.Tooltip(field) for field in ("category:N", "series:N", "value:Q")]
    source = alt.Chart(alt.Data(values=rows))
    if chart.stacked:  # one bar per category, the total as its label
        bars = (
            source.mark_bar()
            .encode(
                y=y,
                x=x,
                color=colour,
                order=alt.Order("series_order:Q"),
                tooltip=tooltip,
            )
            .transform_calculate(series_order=f"indexof({json.dumps(names)}, datum.series)")
        )
        labels = (
            source.transform_aggregate(total="sum(value)", groupby=["category"])
            .mark_text(align="left", dx=4, fontSize=font)
            .encode(y=y, x=alt.X("total:Q", axis=None), text=alt.Text("total:Q"))
        )
    else:
        base = source.encode(y=y, yOffset=alt.YOffset("series:N", sort=names), x=x)
        bars = base.mark_bar().encode(color=colour, tooltip=tooltip)
        labels = base.mark_text(align="left", dx=4, fontSize=font).encode(text=alt.Text("value:Q"))
    if width == "container":  # the summary page: the site's chart styling, fitted to the column
        from analysis.charts.base import finish

        return finish(bars + labels, chart.title, chart.description())
    return (
        (bars + labels)
        .properties(
            width=width,
            height=alt.Step(int(1.8 * font)),
            title=alt.Title(chart.title, fontSize=int(1.1 * font), anchor="start"),
            description=chart.description(),
            autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
        )
        .configure_view(stroke=None)
    )
