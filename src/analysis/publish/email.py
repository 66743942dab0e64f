"""The email: email.html (table layout <= 600 px, CSS inlined, cid: images, no script) and email.eml.

email.qmd is the source: it leads with the slide's finding and bullets (the top findings first), then the
slide's chart as a large-font PNG, the eight answers, and where the full report lives. The link goes to
the configured site (`[site] base_url` or CURRICULUM_SITE_URL); without one (or with a placeholder domain
such as example.org) the build notes it and the email says the report is in the build's site folder and
the slide is attached. To/From come from `[site] email_to` / `email_from`; without them the .eml has no
such header and the build says so.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from analysis.config import Config
from analysis.errors import TargetError
from analysis.publish import slide
from analysis.publish.common import TEMPLATES, PandocJob, pandoc_many
from analysis.publish.pages import Page, escape_html, raw_html

PPTX_TYPE = ("application", "vnd.openxmlformats-officedocument.presentationml.presentation")
CHART_CID = "slide-chart"
CHART_WIDTH = 560  # px shown in the email (the PNG holds twice as many pixels)
EMAIL_WIDTH = 600  # px, the layout table
# Reserved example/test names (RFC 2606, RFC 6761): never a real site or mailbox.
PLACEHOLDER_HOST = re.compile(
    r"(^|\.)(example\.(com|net|org)|example|invalid|test|localhost|local)$", re.I
)


def is_placeholder_host(host: str) -> bool:
    return bool(PLACEHOLDER_HOST.search(host.strip().rstrip(".")))


def site_url(config: Config) -> str:
    """The configured public URL of the site, or "" (none, not http(s), or a placeholder domain)."""
    url = config.site.base_url.strip()
    if not re.fullmatch(r"https?://[^\s<>\"']+", url):
        return ""
    host = urlparse(url).hostname or ""
    return "" if not host or is_placeholder_host(host) else url


def _address(value: str) -> str:
    """A usable address header value, or "" (empty, malformed, or at a placeholder domain)."""
    _, address = parseaddr(value)
    if "@" not in address:
        return ""
    return "" if is_placeholder_host(address.rsplit("@", 1)[1]) else value.strip()


def setup_notes(config: Config) -> list[str]:
    """What the build tells the user about the email's link and headers."""
    notes = []
    url = config.site.base_url.strip()
    if not site_url(config):
        reason = (
            f"[site] base_url {url!r} is not a usable public URL"
            if url
            else "no site URL configured ([site] base_url or CURRICULUM_SITE_URL)"
        )
        notes.append(
            f"{reason}: the email has no link; it says the report is in the "
            f"{slide.report_folder(config)} folder and the slide is attached"
        )
    for header, key in (("To", "email_to"), ("From", "email_from")):
        if not _address(getattr(config.site, key)):
            notes.append(f"email.eml has no {header}: header (set [site] {key})")
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


def render_email(
    markdown: str,
    meta: dict[str, Any],
    build_dir: Path,
    pptx: Path,
    config: Config,
    simulated: bool,
) -> tuple[list[Path], list[str]]:
    """email.html and email.eml (text + HTML + PNGs + slide.pptx); notes for the render summary."""
    import css_inline

    subject = str(meta.get("title", config.site.title)) + (" (simulated data)" if simulated else "")
    fragment, text = pandoc_many(  # the HTML fragment and the plain text, one pandoc run
        [PandocJob(markdown, "html"), PandocJob(markdown, "plain", columns=78)], where="email.qmd"
    )
    inlined = css_inline.inline(_document(subject, fragment))
    if re.search(r"<script\b", inlined, re.I):
        raise TargetError("email.qmd: the email body contains a <script> element (not allowed)")
    html_out = build_dir / "email.html"
    html_out.write_text(inlined, encoding="utf-8")

    message = EmailMessage()
    message["Subject"] = subject
    for header, key in (("From", "email_from"), ("To", "email_to")):
        value = _address(getattr(config.site, key))
        if value:
            message[header] = value
    message["Date"] = formatdate(localtime=True)
    url = site_url(config)
    if url:
        message["Message-ID"] = make_msgid(domain=urlparse(url).hostname)
    message.set_content(text)
    message.add_alternative(inlined, subtype="html")
    payload: Any = message.get_payload()  # [text, html] after add_alternative
    html_part = payload[1]
    for cid in dict.fromkeys(re.findall(r'src="cid:([A-Za-z0-9._-]+)"', inlined)):
        image = build_dir / "email" / f"{cid}.png"
        if not image.exists():
            raise TargetError(f"email.qmd: image cid:{cid} has no file {image}")
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


# --- what email.qmd displays ---


def top_findings(page: Page) -> str:
    """The slide's action title and bullets: what matters most, first."""
    lines = [f"**{page.text(slide.action_title(page))}**", ""]
    lines += [f"- {page.text(bullet)}" for bullet in slide.bullets(page)]
    return "\n".join(lines) + "\n"


def answers(page: Page) -> str:
    lines = []
    for number in sorted(page.report.results):
        result = page.report.results[number]
        lines.append(f"{number}. **{page.text(result.title)}** {page.text(result.answer)}")
    return "\n".join(lines) + "\n"


def chart(page: Page) -> str:
    """The slide's chart as a large-font PNG (cid:), CHART_WIDTH px wide in the email, with alt text."""
    data = slide.chart_data(page)
    if data is None:
        return ""
    image = page.config.paths.build_dir / "email" / f"{CHART_CID}.png"
    page.png(slide.chart_altair(data, width=CHART_WIDTH), image, scale=2)
    return raw_html(
        f'<img src="cid:{CHART_CID}" alt="{escape_html(data.description())}" '
        f'width="{CHART_WIDTH}" class="chart">'
    )


def site_link(page: Page) -> str:
    """Where the full report is: the configured site, else the build's site folder and the attachment."""
    url = site_url(page.config)
    if url:
        return (
            "The full report, with charts, tables, methods and caveats for each answer, is at "
            f"<{url}>.\n"
        )
    folder = page.text(slide.report_folder(page.config))
    return (
        "The full report, with charts, tables, methods and caveats for each answer, is not online "
        f"yet: it is in the {folder} folder of the build (open index.html there).\n"
    )
