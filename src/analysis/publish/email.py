"""The email: email.eml (ready to send) and email.html (the same message, standalone).

email.qmd is the source: it lays out the shared summary (publish/summary.py, the same lead finding,
bullets and chart as the slide and the summary page), then the answers and where the full report is. The
link goes to the configured site (`[site] base_url` or CURRICULUM_SITE_URL); without one (or with a
placeholder domain such as example.org) the build notes it and the email says plainly that the report is
not online yet and the slide is attached. From and To come from `[site] email_from` / `email_to`; the
Message-ID is made on the sender's domain (else the site's). A missing header is named in the build's
notes. The .eml's HTML shows the chart as a cid: image (a related part); email.html points at the same
PNG copied beside it (_build/slide-chart.png), so it shows its chart when opened alone.
"""

from __future__ import annotations

import html
import re
import shutil
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from analysis.config import Config
from analysis.errors import TargetError
from analysis.publish import summary
from analysis.publish.common import TEMPLATES, PandocJob
from analysis.publish.pages import Page, escape_html, raw_html
from analysis.publish.summary import is_placeholder_host, site_url

__all__ = [
    "is_placeholder_host",
    "message_id_domain",
    "pandoc_jobs",
    "render_email",
    "setup_notes",
    "site_url",
]

PPTX_TYPE = ("application", "vnd.openxmlformats-officedocument.presentationml.presentation")
CHART_CID = "slide-chart"
CHART_WIDTH = 560  # px shown in the email (the PNG holds twice as many pixels)
EMAIL_WIDTH = 600  # px, the layout table
MESSAGE_ID_FALLBACK = "curriculum-insights"  # Message-ID domain when neither sender nor site is set
_CID_SRC = re.compile(r'src="cid:([A-Za-z0-9._-]+)"')


def message_id_domain(config: Config) -> str:
    """The Message-ID's right-hand side: the sender's domain, else the site's host, else a fixed name
    (never the build machine's host name)."""
    sender = summary.address(config.site.email_from)
    if sender:
        return parseaddr(sender)[1].rsplit("@", 1)[1].lower()
    url = site_url(config)
    return (urlparse(url).hostname or MESSAGE_ID_FALLBACK) if url else MESSAGE_ID_FALLBACK


def setup_notes(config: Config) -> list[str]:
    """What the build tells the user about the email's link and headers (what to set to send it)."""
    notes = []
    url = config.site.base_url.strip()
    if not site_url(config):
        reason = (
            f"[site] base_url {url!r} is not a usable public URL"
            if url
            else "no site URL configured ([site] base_url or CURRICULUM_SITE_URL)"
        )
        notes.append(
            f"{reason}: the email has no link to the report; it says the report is not online yet "
            "and the slide is attached"
        )
    for header, key in (("To", "email_to"), ("From", "email_from")):
        if not summary.address(getattr(config.site, key)):
            notes.append(
                f"email.eml has no {header}: header (set [site] {key}, e.g. "
                f'"Name <name@school.edu>"): add it in your mail program before sending'
            )
    return notes


def _document(subject: str, fragment: str) -> str:
    css = (TEMPLATES / "email.css").read_text(encoding="utf-8")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(subject)}</title><style>{css}</style></head>"
        '<body class="body"><table role="presentation" class="outer" width="100%" '
        'cellpadding="0" cellspacing="0"><tr><td align="center">'
        f'<table role="presentation" class="inner" width="{EMAIL_WIDTH}" cellpadding="0" '
        f'cellspacing="0" style="width:100%;max-width:{EMAIL_WIDTH}px"><tr><td class="content">'
        f"<h1>{html.escape(subject)}</h1>{fragment}"
        "</td></tr></table></td></tr></table></body></html>"
    )


def pandoc_jobs(markdown: str) -> list[PandocJob]:
    """The pandoc jobs that make the email's HTML fragment and its plain text."""
    return [
        PandocJob(markdown, "html", where="email.qmd"),
        PandocJob(markdown, "plain", columns=78, where="email.qmd"),
    ]


def render_email(
    converted: list[str],
    meta: dict[str, Any],
    build_dir: Path,
    pptx: Path,
    config: Config,
    simulated: bool,
) -> tuple[list[Path], list[str]]:
    """email.html and email.eml (text + HTML + PNGs + slide.pptx); notes for the render summary.
    `converted`: the documents pandoc made of `pandoc_jobs(email markdown)` (the HTML fragment and
    the plain text; render has its one pandoc process make them beside the pages)."""
    import css_inline

    subject = str(meta.get("title", config.site.title)) + (" (simulated data)" if simulated else "")
    fragment, text = converted
    inlined = css_inline.inline(_document(subject, fragment))
    if re.search(r"<script\b", inlined, re.I):
        raise TargetError("email.qmd: the email body contains a <script> element (not allowed)")
    images = {
        cid: build_dir / "email" / f"{cid}.png" for cid in dict.fromkeys(_CID_SRC.findall(inlined))
    }
    for cid, image in images.items():
        if not image.exists():
            raise TargetError(f"email.qmd: image cid:{cid} has no file {image}")
    html_out = build_dir / "email.html"
    html_out.write_text(standalone(inlined, images, build_dir), encoding="utf-8")

    message = EmailMessage()
    message["Subject"] = subject
    for header, key in (("From", "email_from"), ("To", "email_to")):
        value = summary.address(getattr(config.site, key))
        if value:
            message[header] = value
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(
        idstring="curriculum-insights", domain=message_id_domain(config)
    )
    message.set_content(text)
    message.add_alternative(inlined, subtype="html")
    payload: Any = message.get_payload()  # [text, html] after add_alternative
    html_part = payload[1]
    for cid, image in images.items():
        html_part.add_related(
            image.read_bytes(),
            "image",
            "png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=f"{cid}.png",
        )
    message.add_attachment(pptx.read_bytes(), *PPTX_TYPE, filename="slide.pptx")
    eml_out = build_dir / "email.eml"
    eml_out.write_bytes(bytes(message))
    return [html_out, eml_out], setup_notes(config)


def standalone(page: str, images: dict[str, Path], folder: Path) -> str:
    """The HTML with each cid: image pointing at a PNG copied beside it (email.html opened alone, from
    its folder, shows its chart; the .eml keeps cid:)."""

    def beside(match: re.Match[str]) -> str:
        image = images.get(match.group(1))
        if image is None:
            return match.group(0)
        shutil.copy2(image, folder / image.name)
        return f'src="{image.name}"'

    return _CID_SRC.sub(beside, page)


# --- what email.qmd displays ---


def _summary(page: Page) -> summary.Summary:
    from analysis.publish.pages import changes_result

    return summary.summarise(page.report, page.config, changes_result())


def top_findings(page: Page) -> str:
    """What is new since the last report first, then the summary's lead finding, bullets and key
    numbers (the slide's): what matters most."""
    shared = _summary(page)
    lines = [f"- {page.text(line)}" for line in shared.news]
    if lines and not shared.news_bullet:  # the first report (or the same data again): say so
        lines = [page.text(" ".join(shared.news)), ""]
    elif lines:
        lines = ["**What is new since the last report**", "", *lines, ""]
    lines += [f"**{page.text(shared.title)}**", ""]
    # the slide's bullets, less the one on what is new (its items are listed just above)
    lines += [f"- {page.text(b)}" for b in shared.bullets if b and b != shared.news_bullet]
    if shared.numbers:  # the lead's counts, as the slide and the summary page show them
        counts = " · ".join(
            f"**{page.text(value)}** {page.text(label)}" for label, value in shared.numbers
        )
        lines += ["", "::: key-numbers", counts, ":::"]
    return "\n".join(lines) + "\n"


def answers(page: Page) -> str:
    lines = [
        f"{number}. **{page.text(title)}** {page.text(answer)}"
        for number, title, answer in _summary(page).answers
    ]
    return "\n".join(lines) + "\n"


def chart(page: Page) -> str:
    """The summary's chart as a large-font PNG (cid:), CHART_WIDTH px wide in the email, with alt text."""
    data = _summary(page).chart
    if data is None:
        return ""
    image = page.config.paths.build_dir / "email" / f"{CHART_CID}.png"
    page.png(summary.chart_altair(data, width=CHART_WIDTH), image, scale=2)
    return raw_html(
        f'<img src="cid:{CHART_CID}" alt="{escape_html(data.description())}" '
        f'width="{CHART_WIDTH}" class="chart">'
    )


def site_link(page: Page) -> str:
    """Where the full report is: the configured site's address, else plainly that it is not online yet."""
    url = site_url(page.config)
    if url:
        return (
            "The full report, with charts, tables, methods and caveats for each answer, is at "
            f"<{url}>.\n"
        )
    return (
        "The full report, with charts, tables, methods and caveats for each answer, has not been "
        "put online yet, so this email has no link to it.\n"
    )
