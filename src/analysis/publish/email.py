"""The email: email.html (CSS inlined, cid: images, no script) and email.eml with the slide attached."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from analysis.config import Config
from analysis.errors import TargetError
from analysis.publish.common import TEMPLATES, pandoc
from analysis.publish.pages import KEY_CHART, Page, chart_description, escape_html, raw_html

PPTX_TYPE = ("application", "vnd.openxmlformats-officedocument.presentationml.presentation")


def render_email(
    markdown: str,
    meta: dict[str, Any],
    build_dir: Path,
    pptx: Path,
    config: Config,
    simulated: bool,
) -> list[Path]:
    """email.html (CSS inlined, cid: images, no script) and email.eml (text + HTML + PNGs + slide.pptx)."""
    import css_inline

    subject = str(meta.get("title", config.site.title)) + (" (simulated data)" if simulated else "")
    fragment = pandoc(markdown, "html", [], where="email.qmd")
    css = (TEMPLATES / "email.css").read_text(encoding="utf-8")
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title><style>{css}</style></head>"
        f"<body><h1>{html.escape(subject)}</h1>{fragment}</body></html>"
    )
    inlined = css_inline.inline(document)
    if re.search(r"<script\b", inlined, re.I):
        raise TargetError("email.qmd: the email body contains a <script> element (not allowed)")
    html_out = build_dir / "email.html"
    html_out.write_text(inlined, encoding="utf-8")

    text = pandoc(markdown, "plain", ["--wrap=auto", "--columns=78"], where="email.qmd")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.site.email_from
    message["To"] = config.site.email_to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="curriculum-insights.local")
    message.set_content(text)
    message.add_alternative(inlined, subtype="html")
    html_part = message.get_payload()[1]
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
    return [html_out, eml_out]


# --- what email.qmd displays ---


def answers(page: Page) -> str:
    lines = []
    for number in sorted(page.report.results):
        result = page.report.results[number]
        lines.append(f"{number}. **{page.text(result.title)}** {page.text(result.answer)}")
    return "\n".join(lines) + "\n"


def chart(page: Page) -> str:
    """The key chart as an inline image (cid:) with alt text; the PNG goes beside email.html."""
    number, index = KEY_CHART
    charts = page.charts(number)
    if not charts:
        return ""
    cid = f"q{number}-chart-{index + 1}"
    page.png(charts[index], page.config.paths.build_dir / "email" / f"{cid}.png", scale=1.5)
    description = chart_description(page.spec(charts[index]))
    return raw_html(
        f'<img src="cid:{cid}" alt="{escape_html(description)}" width="560" '
        'style="max-width:100%;height:auto">'
    )


def site_link(page: Page) -> str:
    url = page.config.site.base_url
    return f"<{url}>" if re.fullmatch(r"https?://[^\s<>\"']+", url) else page.text(url)
